#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test of the write buffer. Disks: /dev/vda a formatted pool,
# /dev/vdb scratch for the dm-log-writes log.
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp
wb=/sys/class/misc/vmem-control
state=$VMEM_OUT/logwrites.json

load_vmem write_buffer=1 || { fail "insmod write_buffer=1"; exit 1; }
check "write buffer on at load" test "$(cat $wb/write_buffer)" = 1
check "attach" "$VMEMCTL" attach /dev/vda
check "create vmem0" sh -c "$VMEMCTL create --id 0 128M >/dev/null"
total=$(cat $wb/total_buckets)
check "format zeroed every bucket" test "$(cat $wb/zeroed_buckets)" = "$total"
check "partial write into a format-zeroed bucket (over old data)" \
	sh -c "printf x | dd of=/dev/vmem0 bs=4096 seek=3 conv=sync oflag=direct status=none"
check "it took one zeroed bucket" \
	test "$(cat $wb/zeroed_buckets)" = "$((total - 1))"
check "the rest of that bucket reads zeros" \
	sh -c "cmp -s -n 12288 /dev/vmem0 /dev/zero &&
	       cmp -s -i 16384 -n 1032192 /dev/vmem0 /dev/zero"
check "the whole device reads zeros but for that block" \
	sh -c "cmp -s -i 1048576 -n $((127 << 20)) /dev/vmem0 /dev/zero"
# Provision first: the buffer batches writes to provisioned buckets
dd if=/dev/zero of=/dev/vmem0 bs=1M count=128 oflag=direct status=none
check "fio verify, 16 jobs of 4k random writes, buffer on" \
	fio --name=wb --filename=/dev/vmem0 --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=4k --size=4M --numjobs=16 \
		--offset_increment=8M --iodepth=8 --verify=crc32c \
		--verify_fatal=1 --output=/dev/null
check "fio verify, 16 jobs of sequential 8k writes, buffer on" \
	fio --name=wbseq --filename=/dev/vmem0 --direct=1 --ioengine=libaio \
		--rw=write --bs=8k --size=4M --numjobs=16 \
		--offset_increment=8M --iodepth=16 --verify=crc32c \
		--verify_fatal=1 --output=/dev/null
check "fio verify_backlog, 4 jobs: reads right behind buffered writes" \
	fio --name=backlog --filename=/dev/vmem0 --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=4k --size=4M --numjobs=4 \
		--offset_increment=8M --iodepth=8 --verify=crc32c \
		--verify_backlog=16 --verify_fatal=1 --output=/dev/null
read -r cycles merged records direct waits errors _ _ <$wb/write_buffer_stat
check "the buffer merged writes ($records writes in $merged merged writes, $cycles buffers)" \
	test "$merged" -gt 0 -a "$records" -gt "$merged"
check "reads waited for buffered data ($waits)" test "$waits" -gt 0
check "no buffered write failed" test "$errors" = 0
check "a volatile write cache is advertised" \
	test "$(cat /sys/block/vmem0/queue/write_cache)" = "write back"
# An fsync after each small write: the flush finds a few records in the
# open buffer and writes them out itself (REQ_PREFLUSH | REQ_FUA)
read -r _ _ _ _ _ _ self0 _ <$wb/write_buffer_stat
check "fio verify, 4k writes with fsync after each, buffer on" \
	fio --name=fsync1 --filename=/dev/vmem0 --direct=1 --ioengine=psync \
		--rw=write --bs=4k --size=2M --fsync=1 --verify=crc32c \
		--verify_fatal=1 --output=/dev/null
read -r _ _ _ _ _ _ self1 _ <$wb/write_buffer_stat
check "flushes wrote the buffer out themselves ($((self1 - self0)) of 512)" \
	test "$((self1 - self0))" -gt 0
check "vmemctl write-buffer off" "$VMEMCTL" write-buffer off
check "buffer reads off" test "$(cat $wb/write_buffer)" = 0
refuse "write_buffer rejects junk" "expected auto, 0 or 1" \
	sh -c "echo maybe >$wb/write_buffer"
refuse "write_buffer_delay_us rejects 0" "expected 1..100000|Invalid" \
	sh -c "echo 0 >$wb/write_buffer_delay_us"
check "detach" "$VMEMCTL" detach

# A buffered write the backing disk fails: the next fsync fails with EIO,
# once; what an earlier fsync made durable is intact
sz=$(blockdev --getsz /dev/vda)
check "dm-linear under the pool" \
	dmsetup create wbp --table "0 $sz linear /dev/vda 0"
check "attach over it, buffer on" \
	sh -c "$VMEMCTL attach /dev/mapper/wbp && $VMEMCTL write-buffer on"
dd if=/dev/urandom of=/tmp/pat bs=1M count=1 status=none
check "a bucket written and fsynced" \
	dd if=/tmp/pat of=/dev/vmem0 bs=1M count=1 oflag=direct conv=fsync status=none
ds=$(("$("$VMEMCTL" dump --json /dev/vda | tr ',{}' '\n\n\n' |
	sed -n 's/^ *"data_start_bytes": \([0-9]*\)$/\1/p')" / 512))
printf '%s\n' "0 $ds linear /dev/vda 0" "$ds $((sz - ds)) error" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
check "a buffered overwrite completes" \
	dd if=/dev/zero of=/dev/vmem0 bs=4k count=1 oflag=direct status=none
refuse "the next fsync fails with EIO" "Input/output error" \
	dd if=/dev/zero of=/dev/vmem0 bs=4k count=0 conv=fsync status=none
check "the kernel log says the data is lost" klog_has "its data is lost"
echo "0 $sz linear /dev/vda 0" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
check "the fsync after it succeeds" \
	dd if=/dev/zero of=/dev/vmem0 bs=4k count=0 conv=fsync status=none
# The same failure when the flush writes the buffer out itself: a write
# and its fsync at once, the timer far off
check "write_buffer_delay_us 100000" sh -c "echo 100000 >$wb/write_buffer_delay_us"
printf '%s\n' "0 $ds linear /dev/vda 0" "$ds $((sz - ds)) error" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
read -r _ _ _ _ _ e0 self0 _ <$wb/write_buffer_stat
refuse "a write and its fsync: the fsync fails with EIO" "Input/output error" \
	dd if=/dev/zero of=/dev/vmem0 bs=4k count=1 oflag=direct conv=fsync status=none
read -r _ _ _ _ _ e1 self1 _ <$wb/write_buffer_stat
check "that flush wrote the buffer itself, and the write was lost ($((self1 - self0)), $((e1 - e0)))" \
	test "$((self1 - self0))" = 1 -a "$((e1 - e0))" = 1
echo "0 $sz linear /dev/vda 0" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
check "the fsync after that succeeds" \
	dd if=/dev/zero of=/dev/vmem0 bs=4k count=0 conv=fsync status=none
check "the data fsynced before the error reads back (but its first block)" \
	cmp -s -i 4096 -n $(((1 << 20) - 4096)) /tmp/pat /dev/vmem0
# Two writes to one block and one beside it, in one buffer: the older
# write of the block and its neighbour go out merged (wave 0), the newer
# one after them (wave 1). The merged write fails, on the neighbour's
# block only: the older write, retried alone, must go before wave 1, not
# over it. Where vmem0's block 1 is on the disk: found by its content.
bb=$(($(cat $wb/bucket_bytes) / 512))
tr '\0' '\347' </dev/zero | head -c 4096 >/tmp/mark
dd if=/tmp/mark of=/dev/vmem0 bs=4k seek=1 oflag=direct conv=fsync status=none
q=$(python3 - "$ds" "$bb" "$(cat $wb/total_buckets)" <<'PY'
import os, sys
ds, bb, n = map(int, sys.argv[1:])
want = open("/tmp/mark", "rb").read()
fd = os.open("/dev/mapper/wbp", os.O_RDONLY)
for pb in range(n):
    sector = ds + pb * bb + 8
    if os.pread(fd, 4096, sector * 512) == want:
        print(sector)
        break
PY
)
check "vmem0's block 1 found on the disk (sector ${q:-none})" test -n "$q"
q=${q:-$ds}
printf '%s\n' "0 $q linear /dev/vda 0" "$q 8 error" \
	"$((q + 8)) $((sz - q - 8)) linear /dev/vda $((q + 8))" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
xfs_io -d -c "pwrite -q -S 0xaa 0 4k" -c "pwrite -q -S 0xbb 4k 4k" \
	-c "pwrite -q -S 0xcc 0 4k" -c fsync /dev/vmem0 2>/tmp/waves.err
echo "0 $sz linear /dev/vda 0" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
tr '\0' '\314' </dev/zero | head -c 4096 >/tmp/newer
check "a failed merged write retried: the newer write of its block stays" \
	cmp -s -n 4096 /tmp/newer /dev/vmem0
check "... and the neighbour's loss was reported ($(head -c 60 /tmp/waves.err))" \
	grep -q "Input/output error" /tmp/waves.err
dd if=/dev/zero of=/dev/vmem0 bs=4k count=0 conv=fsync status=none
check "detach" "$VMEMCTL" detach
dmsetup remove wbp

# Four writers that each fsync after each write, every backing write
# 50 ms late: while one flush writes its buffer out, the others write
# theirs out behind it, and each fsync ends once its buffer and all
# before it are on disk
check "dm-delay under the pool (writes 50 ms late)" \
	sh -c "dmsetup create wbp --table '0 $sz linear /dev/vda 0' &&
	       dmsetup create wbd --table '0 $sz delay /dev/mapper/wbp 0 0 /dev/mapper/wbp 0 50'"
check "attach over it, buffer on, timer far off" \
	sh -c "$VMEMCTL attach /dev/mapper/wbd && $VMEMCTL write-buffer on --delay-us 100000"
read -r _ _ _ _ _ _ s0 _ p0 _ <$wb/write_buffer_stat
check "fio verify, 4 writers each fsyncing each 4k write, writes late" \
	fio --name=piped --filename=/dev/vmem0 --direct=1 --ioengine=psync \
		--rw=write --bs=4k --size=64k --numjobs=4 --offset_increment=1M \
		--fsync=1 --verify=crc32c --verify_fatal=1 --output=/dev/null
read -r _ _ _ _ _ _ s1 _ p1 _ <$wb/write_buffer_stat
# How the flushes overlapped is timing, not a check (CI once saw 2 flushes
# write their buffers, neither behind another's; earlier runs 19 of 22)
echo "piped: $((s1 - s0)) flushes wrote buffers out, $((p1 - p0)) behind another's"
# The same with every write lost, one writer per device: each fsync
# after a lost write fails, however the flushes overlapped
check "vmem1..vmem3, a bucket each written and fsynced" sh -c "
	for i in 1 2 3; do
		$VMEMCTL create --id \$i 64M >/dev/null &&
		dd if=/dev/zero of=/dev/vmem\$i bs=1M count=1 oflag=direct conv=fsync status=none || exit 1
	done"
printf '%s\n' "0 $ds linear /dev/vda 0" "$ds $((sz - ds)) error" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
check "4 writers on 4 devices, every write lost: no fsync after one succeeds" \
	python3 - <<'PY'
import errno, mmap, os, sys, threading
res = []
def writer(n):
    fd = os.open(f"/dev/vmem{n}", os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)
    for i in range(8):
        try:
            os.pwrite(fd, buf, 4096 * i)
        except OSError as e:
            res.append("write EIO" if e.errno == errno.EIO else str(e))
            continue
        try:
            os.fsync(fd)
            res.append("fsync ok")
        except OSError as e:
            res.append("fsync EIO" if e.errno == errno.EIO else str(e))
    os.close(fd)
ts = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("lost writes:", {r: res.count(r) for r in set(res)})
sys.exit(len(res) != 32 or any(r not in ("write EIO", "fsync EIO") for r in res))
PY
echo "0 $sz linear /dev/vda 0" |
	{ dmsetup suspend wbp && dmsetup load wbp && dmsetup resume wbp; }
check "then a write and fsync on each device succeeds" sh -c "
	for i in 0 1 2 3; do
		dd if=/dev/zero of=/dev/vmem\$i bs=4k count=1 oflag=direct conv=fsync status=none || exit 1
	done"
read -r _ _ _ _ _ _ s2 _ p2 _ <$wb/write_buffer_stat
echo "lost writes: $((s2 - s1)) flushes wrote buffers out, $((p2 - p1)) behind another's"
check "detach" "$VMEMCTL" detach
dmsetup remove wbd
dmsetup remove wbp

# Flush ordering: vmem (buffer on) over dm-log-writes over the pool disk;
# then the same through a loop device, which has a write cache but no
# FUA (dm-log-writes has FUA), so flushes that write the buffer out
# write it plainly and flush after it
logwrites() { # LABEL
	local label=$1 disk=/dev/mapper/lw loop= s0 s1
	check "dm-log-writes under the pool ($label)" \
		dmsetup create lw --table "0 $(blockdev --getsz /dev/vda) log-writes /dev/vda /dev/vdb"
	if [ "$label" = "no FUA" ]; then
		modprobe -q loop
		loop=$(losetup --find --show --direct-io=on /dev/mapper/lw)
		check "a loop device over it, write back cache, no FUA" test \
			"$(cat /sys/block/${loop#/dev/}/queue/write_cache)" = "write back" -a \
			"$(cat /sys/block/${loop#/dev/}/queue/fua)" = 0
		disk=$loop
	fi
	check "attach ($label)" "$VMEMCTL" attach "$disk"
	check "vmemctl write-buffer on --delay-us 500" \
		"$VMEMCTL" write-buffer on --delay-us 500
	check "delay set" test "$(cat $wb/write_buffer_delay_us)" = 500
	dd if=/dev/zero of=/dev/vmem0 bs=1M count=16 oflag=direct status=none
	read -r _ _ _ _ _ _ s0 _ <$wb/write_buffer_stat
	dmsetup message lw 0 mark start
	python3 "$VMEM_REPO/tests/system/logwrites_check.py" write /dev/vmem0 "$state" lw \
		$wb/write_buffer_delay_us | sed "s/^\(PASS\|FAIL\): /&($label) /"
	[ "${PIPESTATUS[0]}" = 0 ] || T_FAILED=1
	read -r _ _ _ _ _ _ s1 _ <$wb/write_buffer_stat
	check "($label) flushes wrote the buffer out themselves ($((s1 - s0)))" \
		test "$((s1 - s0))" -gt 0
	# Which ways its flushes went (not a check: that depends on timing)
	echo "logwrites ($label): write_buffer_stat $(cat $wb/write_buffer_stat)"
	check "detach ($label)" "$VMEMCTL" detach
	[ -n "$loop" ] && losetup -d "$loop"
	dmsetup remove lw
	python3 "$VMEM_REPO/tests/system/logwrites_check.py" verify /dev/vdb "$state" |
		sed "s/^\(PASS\|FAIL\): /&($label) /"
	[ "${PIPESTATUS[0]}" = 0 ] || T_FAILED=1
}
logwrites FUA
logwrites "no FUA"

# A flush that writes the buffer out itself, on a disk without FUA,
# whose write to one bucket fails: the other writes went plainly, and
# the flush that was to follow them is not sent. A younger flush may
# count on them (piped: sent before they ended), so they must be
# durable when the failed one ends. vmem over a loop device (no FUA)
# over dm device wfr (an error target over vmem0's bucket, swapped in)
# over dm-log-writes, which logs a write once it is durable.
failed_run() {
	local t="a flush whose write-out fails in part (no FUA)" loop sz at len s0 s1 out
	local py=$VMEM_REPO/tests/system/wbuf_failed_run.py
	sz=$(blockdev --getsz /dev/vda)
	if ! dmsetup create lw --table "0 $sz log-writes /dev/vda /dev/vdb" ||
		! dmsetup create wfr --table "0 $sz linear /dev/mapper/lw 0" ||
		! loop=$(losetup --find --show --direct-io=on /dev/mapper/wfr) ||
		! test "$(cat /sys/block/${loop#/dev/}/queue/write_cache)" = "write back" ||
		! test "$(cat /sys/block/${loop#/dev/}/queue/fua)" = 0 ||
		! "$VMEMCTL" attach "$loop" ||
		! "$VMEMCTL" create --id 9 16M >/dev/null ||
		! dd if=/dev/zero of=/dev/vmem0 bs=4k count=1 oflag=direct conv=fsync status=none ||
		! dd if=/dev/zero of=/dev/vmem9 bs=4k count=1 oflag=direct conv=fsync status=none ||
		! out=$(python3 "$py" bucket /dev/mapper/wfr 0 0) ||
		! read -r at len <<<"$out" || ! [[ $at =~ ^[0-9]+$ ]] ||
		! "$VMEMCTL" write-buffer on --delay-us 100000 >/dev/null; then
		fail "$t: set up vmem0 and vmem9 over a loop device (write back, no FUA) over dm-log-writes"
		"$VMEMCTL" detach 2>/dev/null
	else
		pass "$t: vmem0's bucket 0 at sectors $at+$len"
		printf '0 %s linear /dev/mapper/lw 0\n%s %s error\n%s %s linear /dev/mapper/lw %s\n' \
			"$at" "$at" "$len" "$((at + len))" "$((sz - at - len))" "$((at + len))" |
			dmsetup load wfr && dmsetup suspend wfr && dmsetup resume wfr
		read -r _ _ _ _ _ _ s0 _ <$wb/write_buffer_stat
		python3 "$py" write /dev/vmem0 /dev/vmem9 lw || T_FAILED=1
		read -r _ _ _ _ _ _ s1 _ <$wb/write_buffer_stat
		check "$t: ... the fsync wrote the buffer out itself" \
			test "$((s1 - s0))" = 1
		check "$t: ... vmem9's write reads back" \
			python3 -c "import sys; sys.path.insert(0, '$VMEM_REPO/tests/system')
from logwrites_check import TAG
d = open('/dev/vmem9', 'rb').read(12288)[8192:]
sys.exit(not d.startswith(TAG % 900000001))"
		echo "0 $sz linear /dev/mapper/lw 0" | dmsetup load wfr &&
			dmsetup suspend wfr && dmsetup resume wfr
		check "$t: detach" "$VMEMCTL" detach
	fi
	[ -n "${loop:-}" ] && losetup -d "$loop"
	dmsetup remove wfr
	dmsetup remove lw
	python3 "$py" verify /dev/vdb || T_FAILED=1
}
failed_run
rmmod vmem

# The default, write_buffer=auto: on over a disk with a volatile write
# cache (the virtio disk), off over one without (brd)
refuse "insmod write_buffer=maybe is refused" "expected auto, 0 or 1" \
	insmod "$VMEM_KO" write_buffer=maybe
load_vmem || { fail "insmod with the default write_buffer"; exit 1; }
check "the parameter reads auto" \
	test "$(cat /sys/module/vmem/parameters/write_buffer)" = auto
check "write_buffer reads auto with no pool" \
	test "$(cat $wb/write_buffer)" = auto
refuse "write_buffer=auto with no pool fails" "no pool attached" \
	sh -c "echo auto >$wb/write_buffer"
for a in commit_interval_ms write_buffer_delay_us write_buffer_mb; do
	refuse "$a with no pool fails, with a log line" "$a: no pool attached" \
		sh -c "echo 5 >$wb/$a"
done
check "/dev/vda has a volatile write cache" \
	test "$(cat /sys/block/vda/queue/write_cache)" = "write back"
mark=$(dmesg | wc -l)
check "attach /dev/vda (auto)" "$VMEMCTL" attach /dev/vda
check "auto: the buffer is on over /dev/vda" test "$(cat $wb/write_buffer)" = 1
check "auto: the attach says why" sh -c \
	"dmesg | tail -n +$((mark + 1)) | grep -q 'write buffer on (auto: the disk has a volatile write cache)'"
check "vmemctl write-buffer off" "$VMEMCTL" write-buffer off
check "echo auto >write_buffer turns it on again" sh -c \
	"echo auto >$wb/write_buffer && test \"\$(cat $wb/write_buffer)\" = 1"
check "vmemctl write-buffer off, then auto, turns it on" sh -c \
	"$VMEMCTL write-buffer off >/dev/null && $VMEMCTL write-buffer auto | grep -q '^write buffer: on,'"
check "detach (auto)" "$VMEMCTL" detach
modprobe brd rd_nr=1 rd_size=65536
check "brd has no volatile write cache" \
	test "$(cat /sys/block/ram0/queue/write_cache)" = "write through"
check "format /dev/ram0" sh -c "$VMEMCTL format /dev/ram0 >/dev/null"
mark=$(dmesg | wc -l)
check "attach /dev/ram0 (auto)" "$VMEMCTL" attach /dev/ram0
check "auto: the buffer is off over brd" test "$(cat $wb/write_buffer)" = 0
check "auto: the attach over brd says why" sh -c \
	"dmesg | tail -n +$((mark + 1)) | grep -q 'write buffer off (auto: the disk has no volatile write cache)'"
check "vmemctl write-buffer on, then auto, turns it off over brd" sh -c \
	"$VMEMCTL write-buffer on >/dev/null && $VMEMCTL write-buffer auto | grep -q '^write buffer: off,'"
check "detach /dev/ram0" "$VMEMCTL" detach
rmmod vmem
# write_buffer=1 and =0 set it whatever the disk
load_vmem write_buffer=1 || { fail "insmod write_buffer=1"; exit 1; }
check "write_buffer=1: attach /dev/ram0" "$VMEMCTL" attach /dev/ram0
check "write_buffer=1: the buffer is on over brd" test "$(cat $wb/write_buffer)" = 1
check "write_buffer=1: detach" "$VMEMCTL" detach
rmmod vmem
load_vmem write_buffer=0 || { fail "insmod write_buffer=0"; exit 1; }
check "write_buffer=0: attach /dev/vda" "$VMEMCTL" attach /dev/vda
check "write_buffer=0: the buffer is off over /dev/vda" test "$(cat $wb/write_buffer)" = 0
check "write_buffer=0: detach" "$VMEMCTL" detach
rmmod brd
rmmod vmem
check "vmemctl check clean" "$VMEMCTL" check /dev/vda

# A pool on dm-crypt with 4 KiB sectors, which fails every bio with a
# segment that is not whole sectors: buffered writes reach it in whole
# blocks (the records' data starts on a 4 KiB boundary there), an fsync succeeds,
# the data reads back. (Its zeros decrypt to noise: format --force.)
t="dm-crypt, 4 KiB sectors"
key=$(printf '%064x%064x' 1 2)
crypt_loop=
truncate -s 64M /tmp/crypt.img
if modprobe dm-crypt && crypt_loop=$(losetup -f --show /tmp/crypt.img) &&
	dmsetup create vcrypt --table "0 131072 crypt aes-xts-plain64 $key 0 $crypt_loop 0 1 sector_size:4096" &&
	test "$(blockdev --getss /dev/mapper/vcrypt)" = 4096 &&
	"$VMEMCTL" format --force /dev/mapper/vcrypt >/dev/null &&
	load_vmem write_buffer=1 && "$VMEMCTL" attach /dev/mapper/vcrypt &&
	"$VMEMCTL" create --id 0 16M >/dev/null; then
	pass "$t: a pool on it, the write buffer on"
	head -c 65536 /dev/urandom >/tmp/c64
	head -c 4096 /dev/urandom >/tmp/c4
	dd if=/tmp/c64 of=/dev/vmem0 bs=64k oflag=direct status=none
	read -r _ _ r0 _ _ _ s0 _ <$wb/write_buffer_stat
	check "$t: a buffered 4 KiB write into that bucket, fsynced" \
		dd if=/tmp/c4 of=/dev/vmem0 bs=4k seek=3 oflag=direct \
			conv=fsync,notrunc status=none
	read -r _ _ r1 _ _ e1 s1 _ <$wb/write_buffer_stat
	check "$t: ... the buffer wrote it out (records $r0 -> $r1, flushes that wrote it $s0 -> $s1), no error ($e1)" \
		test $((r1 + s1)) -gt $((r0 + s0)) -a "$e1" = 0
	dd if=/tmp/c4 of=/tmp/c64 bs=4k seek=3 conv=notrunc status=none
	check "$t: ... the bucket reads back as written" \
		sh -c "dd if=/dev/vmem0 bs=64k count=1 iflag=direct status=none |
		       cmp -s - /tmp/c64"
	check "$t: detach" "$VMEMCTL" detach
	check "$t: check clean" "$VMEMCTL" check /dev/mapper/vcrypt
	rmmod vmem
else
	fail "$t: a pool on it, the write buffer on"
	"$VMEMCTL" detach 2>/dev/null
	rmmod vmem 2>/dev/null
fi
dmsetup remove vcrypt 2>/dev/null
[ -n "$crypt_loop" ] && losetup -d "$crypt_loop"
rm -f /tmp/crypt.img
t_summary
