#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: the two metadata copies of layout version 2 (issue 13).
#
# Disks: /dev/vda a version 2 pool (1 GiB, 1 MiB buckets), /dev/vdb a
# version 1 pool (512 MiB), /dev/vdc the upgrade-crash images back to back
# ($VMEM_OUT/upgrade.txt: NAME START SECTORS VERSION, one line each), and
# /dev/vdd a 256 MiB pool of 64 KiB buckets with /dev/vde the log of a
# dm-log-writes target under it (the host replays it, tearing the
# metadata writes in flight at every flush, tests/system/copies_replay.py).
#
# Bad sectors: scsi_debug's medium errors (reads of a range fail, writes
# succeed; Debian's kernel has no dm-dust, and 6.1's dm-flakey does not
# corrupt reads) over metadata sectors of copy A, then of copy B, of a
# pool formatted on it: it attaches with the good copy, rewrites the bad
# one each time, keeps its data. dm-error (reads and writes fail) over
# copy A: attach reads copy B but cannot rewrite copy A, so the pool
# attaches read-only having written nothing. Then torn, older and doubly
# damaged copies made by hand, a scrub of copies damaged behind the module's back, an
# upgrade of the version 1 pool, and attaches of every upgrade-crash
# image.
set -u
. "$VMEM_REPO/tests/system/lib.sh"
cd /tmp || exit 2
ctl=/sys/class/misc/vmem-control
modprobe dm-log-writes
load_vmem || { fail "copies: insmod"; exit 1; }

DISK=/dev/vda
SZ=$(blockdev --getsz $DISK)
B=$("$VMEMCTL" dump --json $DISK | python3 -c 'import json,sys; print(json.load(sys.stdin)["superblock"]["copy_b_sector"])')
check "copies: the pool is layout version 2, copy B at sector 1024" test "$B" = 1024

# table SEGMENTS: load dm device "cp" over $DISK with these segments
# ("START LEN error" lines, sorted), linear elsewhere
table() {
	local t='' at=0 s l k
	while read -r s l k; do
		[ -n "$s" ] || continue
		[ "$s" -gt "$at" ] && t+="$at $((s - at)) linear $DISK $at"$'\n'
		case $k in
		error) t+="$s $l error"$'\n' ;;
		esac
		at=$((s + l))
	done <<<"$1"
	[ "$at" -lt "$SZ" ] && t+="$at $((SZ - at)) linear $DISK $at"
	if dmsetup info cp >/dev/null 2>&1; then
		dmsetup suspend cp && dmsetup load cp <<<"$t" && dmsetup resume cp
	else
		dmsetup create cp <<<"$t"
	fi
}
linear() { table ""; }

# klog_since MARK PATTERN: the kernel log after line MARK holds PATTERN
klog_since() { dmesg | tail -n +"$(($1 + 1))" | grep -Eq -- "$2"; }
mark() { dmesg | wc -l; }
rewrites() { cat $ctl/copy_rewrites; }
sum0() { [ -b /dev/vmem0 ] && head -c 8M /dev/vmem0 | md5sum; }

# --- a pool with data; both copies written, checked clean
linear || { fail "copies: dm-linear over the pool"; exit 1; }
check "copies: attach" "$VMEMCTL" attach /dev/mapper/cp
check "copies: meta_copies says 2" test "$(cat $ctl/meta_copies)" = 2
"$VMEMCTL" create --id 0 128M >/dev/null
"$VMEMCTL" create --id 1 80M >/dev/null
head -c 8M /dev/urandom >/tmp/d0
dd if=/tmp/d0 of=/dev/vmem0 bs=1M oflag=direct conv=fsync,nocreat status=none
dd if=/dev/urandom of=/dev/vmem1 bs=1M count=72 oflag=direct conv=fsync,nocreat status=none
want=$(md5sum </tmp/d0)
check "copies: detach" "$VMEMCTL" detach
check "copies: both copies checked clean" "$VMEMCTL" check /dev/mapper/cp
used=$("$VMEMCTL" dump --json /dev/mapper/cp | python3 -c 'import json,sys; print(json.load(sys.stdin)["map"]["used"])')

# sdebug START COUNT: a fresh 64 MiB scsi_debug disk whose sectors
# START..START+COUNT-1 will fail every read (once sdebug_bad is run; the
# pool is formatted before); its name in $SD
sdebug() {
	scsi_debug dev_size_mb=64 opts=0 \
		medium_error_start="$1" medium_error_count="$2"
}
sdebug_bad() { echo 2 >/sys/bus/pseudo/drivers/scsi_debug/opts; }

# bad_sectors TAG START COUNT WHAT: a pool on a disk whose metadata
# sectors START.. cannot be read: it attaches with the good copy, logs
# WHAT, rewrites them (the disk takes the writes), keeps its data
bad_sectors() {
	local tag=$1 n=$3 m
	if ! sdebug "$2" "$n"; then
		fail "$tag: scsi_debug disk, sectors $2..$(($2 + n - 1)) unreadable"
		return
	fi
	pass "$tag: scsi_debug disk, sectors $2..$(($2 + n - 1)) unreadable"
	check "$tag: format" sh -c "$VMEMCTL format $SD >/dev/null"
	sdebug_bad
	check "$tag: ... vmemctl check names the $n copies" sh -c \
		"$VMEMCTL check $SD | grep -c 'copy [AB] of .* is good' | grep -qx $n"
	m=$(mark)
	if ! "$VMEMCTL" attach "$SD"; then
		fail "$tag: attach"
		rmmod scsi_debug
		return
	fi
	pass "$tag: attach"
	check "$tag: ... the kernel log names them ($4)" klog_since "$m" "$4"
	check "$tag: ... and says it rewrote $n copies" \
		klog_since "$m" "rewrote $n damaged or older metadata copies"
	check "$tag: ... copy_rewrites says $n" test "$(rewrites)" = "$n"
	"$VMEMCTL" create --id 0 32M >/dev/null
	check "$tag: ... data written and flushed" \
		dd if=/tmp/d0 of=/dev/vmem0 bs=1M oflag=direct conv=fsync,nocreat status=none
	out=$("$VMEMCTL" scrub)
	check "$tag: ... a scrub finds them unreadable again, rewrites them ($out)" \
		grep -q "$n rewritten, $n unreadable blocks" <<<"$out"
	check "$tag: detach" "$VMEMCTL" detach
	m=$(mark)
	check "$tag: attach again (they still cannot be read)" "$VMEMCTL" attach "$SD"
	check "$tag: ... data intact" test "$(sum0)" = "$want"
	check "$tag: ... rewrote them again" test "$(rewrites)" = "$n"
	check "$tag: detach" "$VMEMCTL" detach
	rmmod scsi_debug
}

# --- copy A of the superblock, the device table and the map unreadable
bad_sectors "copies: copy A bad sectors" 0 3 "using copy B's|copy A is damaged"
bad_sectors "copies: copy A map bad sectors" 10 2 "copy A is damaged"
# --- copy B of the same
bad_sectors "copies: copy B bad sectors" 1024 3 "copy B is damaged"
bad_sectors "copies: copy B map bad sectors" 1034 2 "copy B is damaged"

# --- vmemctl repair rewrites copies whose sectors cannot be read: its
# writes go to the disk as whole logical blocks (O_DIRECT), not through
# a 4 KiB page that the kernel would read first, and fail to
t="copies: repair over unreadable sectors"
if sdebug 1034 2 && "$VMEMCTL" format "$SD" >/dev/null; then
	sdebug_bad
	out=$("$VMEMCTL" repair "$SD" 2>&1)
	check "$t: repair wrote copy B of map sector 0 ($(grep -m1 -E 'wrote map sector 0|write at' <<<"$out"))" \
		grep -q "wrote map sector 0, copy B (sector 1034 of $SD)" <<<"$out"
	check "$t: ... and of map sector 1" \
		grep -q "wrote map sector 1, copy B (sector 1035 of $SD)" <<<"$out"
	echo 0 >/sys/bus/pseudo/drivers/scsi_debug/opts
	check "$t: ... readable again, the pool checks clean" \
		"$VMEMCTL" check "$SD"
else
	fail "$t: scsi_debug disk, sectors 1034..1035 unreadable"
fi
rmmod scsi_debug

# --- a 512e disk (512-byte sectors, 4 KiB physical blocks): copy A of
# map sector 0 and copy B of map sector 1 damaged. Both sit in image
# block 8..15; the drive rewrites a whole physical block for each of
# them, so a torn rewrite of one could lose the other in both copies:
# attach rewrites them and says so, naming the block
t="copies: 512e disk"
if scsi_debug dev_size_mb=64 opts=0 physblk_exp=3 &&
	test "$(blockdev --getss "$SD") $(blockdev --getpbsz "$SD")" = "512 4096" &&
	"$VMEMCTL" format "$SD" >/dev/null; then
	pass "$t: scsi_debug, 512-byte sectors in 4 KiB blocks, formatted"
	sb=$("$VMEMCTL" dump --json "$SD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["superblock"]["copy_b_sector"])')
	head -c 512 /dev/urandom | dd of="$SD" bs=512 seek=10 conv=notrunc,nocreat oflag=direct status=none
	head -c 512 /dev/urandom | dd of="$SD" bs=512 seek=$((sb + 11)) conv=notrunc,nocreat oflag=direct status=none
	m=$(mark)
	check "$t: copy A of map sector 0, copy B of map sector 1 damaged: attach" \
		"$VMEMCTL" attach "$SD"
	check "$t: ... rewrites both" \
		klog_since "$m" "rewrote 2 damaged or older metadata copies"
	check "$t: ... and logs their 4 KiB block as unsafe to rewrite" \
		klog_since "$m" "metadata block at sector 8 has sectors to rewrite in both copies"
	"$VMEMCTL" detach
	check "$t: ... check clean" "$VMEMCTL" check "$SD"
else
	fail "$t: scsi_debug, 512-byte sectors in 4 KiB blocks, formatted"
fi
rmmod scsi_debug
# --- copy A unreadable and unwritable: attach reads copy B, cannot
# rewrite copy A, so the pool attaches read-only, writing nothing else:
# its data can be read, writes fail
table "0 128 error"
m=$(mark)
check "copies: copy A unreadable and unwritable: attaches" \
	"$VMEMCTL" attach /dev/mapper/cp
check "copies: ... after using copy B's" klog_since "$m" "using copy B's, at sector 1024"
check "copies: ... read-only, and the log says so" \
	sh -c "test \"\$(cat $ctl/read_only)\" = 1 && dmesg | tail -n +$((m + 1)) | grep -q 'attaching read-only'"
check "copies: ... data readable and intact" test "$(sum0)" = "$want"
err=$(dd if=/tmp/d0 of=/dev/vmem0 bs=1M count=1 oflag=direct conv=fsync,nocreat status=none 2>&1)
check "copies: ... a write fails with EIO ($err)" grep -q "Input/output error" <<<"$err"
check "copies: ... detach" "$VMEMCTL" detach
linear
check "copies: ... nothing written: check clean" "$VMEMCTL" check /dev/mapper/cp
check "copies: ... attach once the fault is gone" "$VMEMCTL" attach /dev/mapper/cp
check "copies: ... read-write again" test "$(cat $ctl/read_only)" = 0
check "copies: ... data intact" test "$(sum0)" = "$want"
"$VMEMCTL" detach

# --- both copies of map sector 1 damaged: refused, the sector named
head -c 512 /dev/urandom | dd of=$DISK bs=512 seek=11 conv=notrunc,nocreat oflag=direct status=none
head -c 512 /dev/urandom | dd of=$DISK bs=512 seek=$((B + 11)) conv=notrunc,nocreat oflag=direct status=none
m=$(mark)
refuse "copies: both copies of map sector 1 damaged: attach refuses" \
	"Structure needs cleaning|refusing damaged pool" \
	"$VMEMCTL" attach /dev/mapper/cp
check "copies: ... naming the sector" \
	klog_since "$m" "mapsector 1 \\(sectors 11 and 1035\\): both copies damaged"
check "copies: ... vmemctl check names it too" sh -c \
	"$VMEMCTL check /dev/mapper/cp | grep -q 'mapsector 1 (sectors 11 and 1035): both copies damaged'"
check "copies: ... repair refuses without --drop-unreadable" sh -c \
	"! $VMEMCTL repair /dev/mapper/cp >/tmp/rep.out; grep -q 'drop-unreadable' /tmp/rep.out"
check "copies: ... repair --drop-unreadable drops it" \
	"$VMEMCTL" repair --drop-unreadable /dev/mapper/cp
check "copies: ... and the pool checks clean" "$VMEMCTL" check /dev/mapper/cp
check "copies: ... and attaches" "$VMEMCTL" attach /dev/mapper/cp
u=$(cat $ctl/used_buckets)
check "copies: ... with the buckets of map sector 1 free ($used -> $u)" \
	test "$u" -lt "$used" -a "$u" -ge $((used - 62))
check "copies: ... vmem0's data (map sector 0) intact" test "$(sum0)" = "$want"
"$VMEMCTL" detach

# --- a torn write of copy A of map sector 0 (half new, half garbage)
dd if=$DISK of=/tmp/torn bs=512 skip=10 count=1 iflag=direct status=none
head -c 256 /dev/urandom | dd of=/tmp/torn bs=256 seek=1 conv=notrunc status=none
dd if=/tmp/torn of=$DISK bs=512 seek=10 conv=notrunc,nocreat oflag=direct status=none
m=$(mark)
check "copies: torn copy A: attach" "$VMEMCTL" attach /dev/mapper/cp
check "copies: ... takes copy B and rewrites copy A" \
	klog_since "$m" "mapsector 0: copy A is damaged: checksum mismatch; rewriting it from copy B"
check "copies: ... data intact" test "$(sum0)" = "$want"
"$VMEMCTL" detach
check "copies: ... check clean" "$VMEMCTL" check /dev/mapper/cp

# --- copies B older than copies A (a crash between the two writes):
# the map of copy B as it was, then buckets given out, then it put back
ms=$("$VMEMCTL" dump --json /dev/mapper/cp | python3 -c 'import json,sys; print(json.load(sys.stdin)["superblock"]["map_sectors"])')
dd if=$DISK of=/tmp/oldb bs=512 skip=$((B + 10)) count="$ms" iflag=direct status=none
"$VMEMCTL" attach /dev/mapper/cp
dd if=/dev/urandom of=/tmp/d40 bs=1M count=2 status=none
dd if=/tmp/d40 of=/dev/vmem0 bs=1M seek=40 oflag=direct conv=fsync,nocreat status=none
"$VMEMCTL" detach
dd if=/tmp/oldb of=$DISK bs=512 seek=$((B + 10)) conv=notrunc,nocreat oflag=direct status=none
check "copies: copies B older: check notes them" sh -c \
	"$VMEMCTL check /dev/mapper/cp | grep -q 'note: copy B of mapsector .* is older than copy A'"
m=$(mark)
check "copies: ... attach" "$VMEMCTL" attach /dev/mapper/cp
check "copies: ... says copy B is older and rewrites it" \
	klog_since "$m" "mapsector [0-9]*: copy B is older than copy A; rewriting it from copy A"
check "copies: ... the newer mapping (copy A's) is the one read" \
	test "$(dd if=/dev/vmem0 bs=1M skip=40 count=2 iflag=direct 2>/dev/null | md5sum)" = \
	"$(md5sum </tmp/d40)"
"$VMEMCTL" detach
check "copies: ... check clean" "$VMEMCTL" check /dev/mapper/cp

# --- scrub: copies damaged behind the attached module's back
"$VMEMCTL" attach /dev/mapper/cp
r0=$(rewrites)
head -c 512 /dev/urandom | dd of=$DISK bs=512 seek=$((B + 2)) conv=notrunc,nocreat oflag=direct status=none
head -c 512 /dev/urandom | dd of=$DISK bs=512 seek=12 conv=notrunc,nocreat oflag=direct status=none
out=$("$VMEMCTL" scrub)
check "copies: scrub rewrites a damaged copy B and copy A ($out)" \
	grep -q "compared with memory (both copies), 2 rewritten" <<<"$out"
check "copies: ... counted in copy_rewrites" test "$(rewrites)" = $((r0 + 2))
out=$("$VMEMCTL" scrub)
check "copies: ... a second scrub finds nothing ($out)" grep -q ", 0 rewritten" <<<"$out"
check "copies: ... scrub_stat counts runs" test "$(cut -d' ' -f1 $ctl/scrub_stat)" = 2
"$VMEMCTL" detach
check "copies: ... check clean" "$VMEMCTL" check /dev/mapper/cp
dmsetup remove cp

# --- upgrade of a version 1 pool
check "upgrade: attach the version 1 pool" "$VMEMCTL" attach /dev/vdb
check "upgrade: ... meta_copies says 1" test "$(cat $ctl/meta_copies)" = 1
"$VMEMCTL" create --id 3 64M >/dev/null
dd if=/tmp/d0 of=/dev/vmem3 bs=1M oflag=direct conv=fsync,nocreat status=none
out=$("$VMEMCTL" scrub)
check "upgrade: ... a version 1 scrub compares its one copy ($out)" \
	grep -q "(one copy: layout version 1), 0 rewritten" <<<"$out"
"$VMEMCTL" detach
check "upgrade: vmemctl upgrade" "$VMEMCTL" upgrade /dev/vdb
check "upgrade: ... the pool checks clean" "$VMEMCTL" check /dev/vdb
check "upgrade: ... attaches" "$VMEMCTL" attach /dev/vdb
check "upgrade: ... as version 2" test "$(cat $ctl/meta_copies)" = 2
check "upgrade: ... with its data" \
	test "$(head -c 8M /dev/vmem3 | md5sum)" = "$want"
check "upgrade: ... and writes both copies" \
	dd if=/tmp/d0 of=/dev/vmem3 bs=1M count=2 seek=30 oflag=direct conv=fsync,nocreat status=none
"$VMEMCTL" detach
check "upgrade: ... which check clean" "$VMEMCTL" check /dev/vdb

# --- every upgrade-crash image attaches, as 1 or as 2, with its data
while read -r name start len version; do
	[ -n "$name" ] || continue
	dmsetup create "u-$name" --table "0 $len linear /dev/vdc $start"
	t="upgrade crash $name"
	if ! "$VMEMCTL" attach "/dev/mapper/u-$name"; then
		fail "$t: attaches"
		dmsetup remove "u-$name"
		continue
	fi
	check "$t: attaches as version $version" test "$(cat $ctl/meta_copies)" = "$version"
	check "$t: ... its data is there" sh -c \
		"dd if=/dev/vmem0 bs=64k count=1 status=none | grep -q upgrade-crash-pattern"
	"$VMEMCTL" detach
	check "$t: ... and checks clean" "$VMEMCTL" check "/dev/mapper/u-$name"
	dmsetup remove "u-$name"
done <"$VMEM_OUT/upgrade.txt"

# --- a workload under dm-log-writes, for the host's torn replay
lw=$(blockdev --getsz /dev/vdd)
check "replay: dm-log-writes under a version 2 pool" \
	dmsetup create lw --table "0 $lw log-writes /dev/vdd /dev/vde"
check "replay: attach" "$VMEMCTL" attach /dev/mapper/lw
dmsetup message lw 0 mark start
"$VMEMCTL" create --id 0 48M >/dev/null
"$VMEMCTL" create --id 1 32M >/dev/null
ok=0
for i in $(seq 1 40); do
	dd if=/dev/urandom of=/dev/vmem$((i % 2)) bs=64k count=$((1 + i % 3)) \
		seek=$(((i * 37) % 400)) oflag=direct conv=nocreat status=none || ok=1
	[ $((i % 3)) = 0 ] && { sync /dev/vmem0 /dev/vmem1 || ok=1; }
	[ $((i % 7)) = 0 ] && { blkdiscard -o $(((i * 37 % 400) << 16)) -l 65536 /dev/vmem$((i % 2)) || ok=1; }
	[ $((i % 11)) = 0 ] && { "$VMEMCTL" budget 1 $((20 + i))M || ok=1; }
	[ $i = 25 ] && { "$VMEMCTL" delete 1 && "$VMEMCTL" create --id 1 32M >/dev/null || ok=1; }
	[ $i = 30 ] && { "$VMEMCTL" scrub >/dev/null || ok=1; }
done
check "replay: workload ran" test $ok = 0
# Two writers into fresh buckets, a flush after every write, at once: a
# commit is asked for while the last one runs, before the copy work has
# written that one's copies B, so the commit writes them itself (step 0
# in drivers/vmem/commit.c), right where its own changes meet the image
check "replay: two writers, each write flushed" \
	fio --ioengine=psync --direct=1 --rw=write --bs=64k --fsync=1 \
	--offset=26M --size=4M --name=w0 --filename=/dev/vmem0 \
	--name=w1 --filename=/dev/vmem1 --output=/dev/null
dmsetup message lw 0 mark end
check "replay: detach" "$VMEMCTL" detach
check "replay: remove dm-log-writes" dmsetup remove lw
check "replay: the pool checks clean" "$VMEMCTL" check /dev/vdd
t_summary
