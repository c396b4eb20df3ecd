#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test: first writes into a dirty bucket are written to it, and
# only what they do not cover is zeroed (issue 11); they never expose
# what it held; a discard in a full pool commits its frees at once.
# Disks: /dev/vda, 256 MiB. The write buffer is off: these are first
# writes, which it never takes, and its flushes would only add noise.
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp || exit 2
ctl=/sys/class/misc/vmem-control
load_vmem write_buffer=0 || { fail "cover: insmod"; exit 1; }

# pattern BYTE_OCTAL BYTES: that many bytes of one value on stdout
pattern() { tr '\0' "\\$1" </dev/zero | head -c "$2"; }
# holds OFFSET BYTES: vmem0 holds the new data (0x5a) there
holds() { pattern 132 "$2" | cmp -s -i "$1:0" -n "$2" /dev/vmem0 -; }

# Old data everywhere (0xa5), then a pool over it that zeroes nothing
pattern 245 $((256 << 20)) | dd of=/dev/vda bs=1M oflag=direct status=none
check "cover: format over old data, without zeroing" \
	sh -c "$VMEMCTL format --force --no-zero /dev/vda >/dev/null"
SZ=$(blockdev --getsz /dev/vda)
data_start_bytes=0
eval "$("$VMEMCTL" dump --json /dev/vda | tr ',{}' '[\n*]' |
	sed -n 's/^ *"\(data_start_bytes\)": \([0-9]*\)$/\1=\2/p')"
DS=$((data_start_bytes / 512))
check "cover: dm-linear over the pool" \
	dmsetup create cv --table "0 $SZ linear /dev/vda 0"
check "cover: attach" "$VMEMCTL" attach /dev/mapper/cv
check "cover: create vmem0" sh -c "$VMEMCTL create --id 0 128M >/dev/null"

# --- one write covers a bucket: no zeroing
u0=$(unzeroed)
check "cover: four 1 MiB first writes" sh -c \
	"pattern() { tr '\\0' '\\132' </dev/zero | head -c \$1; }
	 pattern $((4 << 20)) | dd of=/dev/vmem0 bs=1M iflag=fullblock oflag=direct status=none"
u1=$(unzeroed)
check "cover: they took four buckets without zeroing ($u0 -> $u1)" \
	test $((u1 - u0)) = 4
check "cover: they read back" holds 0 $((4 << 20))

# --- a partial first write: the rest of its bucket is zeroed
check "cover: a 4 KiB first write" sh -c \
	"printf y | dd of=/dev/vmem0 bs=4096 seek=$((5 * 256 + 1)) conv=sync oflag=direct status=none"
check "cover: ... is not counted" test "$(unzeroed)" = "$u1"
check "cover: ... the rest of its bucket reads zeros" sh -c \
	"cmp -s -i $((5 << 20)) -n 4096 /dev/vmem0 /dev/zero &&
	 cmp -s -i $(((5 << 20) + 8192)) -n $(((1 << 20) - 8192)) /dev/vmem0 /dev/zero"

# table TABLE: swap the table of dm device cv under the pool
table() { dmsetup suspend cv && dmsetup load cv <<<"$1" && dmsetup resume cv; }

# --- eight 128 KiB first writes into one bucket, sent one by one: each
# goes to the bucket before it is assigned, and none ends until all have
# landed; a read of the bucket meanwhile returns zeros, then the bucket
# is assigned without zeroing. With cv suspended (dm queues every bio)
# all eight stay in flight until the test lets them land.
# held N: the pool holds N first writes (held_writes)
held() { test "$(cat $ctl/held_writes 2>/dev/null)" = "$1"; }
# zeros_direct OFFSET BYTES: vmem0 reads zeros there, bypassing the cache
zeros_direct() {
	dd if=/dev/vmem0 iflag=direct,skip_bytes,count_bytes skip="$1" \
		count="$2" bs=64k status=none | cmp -s -n "$2" - /dev/zero
}
u0=$(unzeroed)
check "cover: backing I/O held (cv suspended)" dmsetup suspend cv
fio --name=held --filename=/dev/vmem0 --rw=write --bs=128k --iodepth=8 \
	--ioengine=libaio --direct=1 --offset=8M --size=1M \
	--buffer_pattern=0x5a --output=/dev/null &
fpid=$!
check "cover: eight 128 KiB first writes into one bucket are all sent" \
	within 60 held 8
check "cover: ... a read of their bucket meanwhile returns zeros" \
	zeros_direct $((8 << 20)) $((1 << 20))
check "cover: backing I/O resumed" dmsetup resume cv
wait "$fpid"
check "cover: ... the writes ended" test $? = 0
check "cover: ... their bucket went unzeroed" test $(($(unzeroed) - u0)) = 1
check "cover: ... none is held any more" within 10 held 0
check "cover: ... they read back" holds $((8 << 20)) $((1 << 20))

# --- 128 KiB sequential first writes at QD32 (eight per bucket) while
# readers read what they write: what they see is zeros (not yet
# written) or the new data, never a byte of the old 0xa5. Each backing
# write 20 ms late (dm-delay) widens the window in which a bucket given
# out before its writes landed would show its old data.
modprobe dm-delay
check "cover: backing writes 20 ms late" \
	table "0 $SZ delay /dev/vda 0 0 /dev/vda 0 20"
u0=$(unzeroed)
fio --name=seq --filename=/dev/vmem0 --rw=write --bs=128k --iodepth=32 \
	--ioengine=libaio --direct=1 --offset=16M --size=96M \
	--buffer_pattern=0x5a --output=/dev/null &
fpid=$!
python3 - "$fpid" <<'PY' >/tmp/cover-readers.txt
import mmap, os, random, sys
pid = int(sys.argv[1])
fd = os.open("/dev/vmem0", os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536)
reads = bad = 0
rnd = random.Random(11)
def alive():
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
while alive() or reads < 200:
    off = (16 << 20) + rnd.randrange(96 * 16) * 65536
    os.preadv(fd, [buf], off)
    reads += 1
    for s in range(0, 65536, 512):
        # zeros and new data may mix in a sector a write is landing on
        if b"\xa5" in buf[s:s + 512]:
            bad += 1
            if bad <= 5:
                print("old data at byte %d" % (off + s))
print("reads %d sectors-with-old-data %d" % (reads, bad))
PY
wait "$fpid"
check "cover: the 128 KiB writes ended" test $? = 0
check "cover: backing writes on time again" table "0 $SZ linear /dev/vda 0"
cat /tmp/cover-readers.txt
check "cover: readers racing them never saw old data" \
	grep -q ' sectors-with-old-data 0$' /tmp/cover-readers.txt
u1=$(unzeroed)
check "cover: their buckets went unzeroed ($((u1 - u0)) of 96)" \
	test $((u1 - u0)) -gt 0
check "cover: they read back" holds $((16 << 20)) $((96 << 20))

# --- a 1 MiB FUA first write waits for a commit after its data: it is
# not taken this way, its bucket is zeroed first
u0=$(unzeroed)
check "cover: a 1 MiB O_DSYNC (FUA) first write" sh -c \
	"pattern() { tr '\\0' '\\132' </dev/zero | head -c \$1; }
	 pattern $((1 << 20)) | dd of=/dev/vmem0 bs=1M seek=124 iflag=fullblock oflag=direct,dsync status=none"
check "cover: ... is not counted" test "$(unzeroed)" = "$u0"
check "cover: ... reads back" holds $((124 << 20)) $((1 << 20))

# --- the covering write fails: not acknowledged, the bucket not given
# out; once the disk works, the same write succeeds
used=$(cat /sys/block/vmem0/vmem/used_buckets)
check "cover: the data area fails every I/O" \
	table "0 $DS linear /dev/vda 0"$'\n'"$DS $((SZ - DS)) error"
check "cover: a 1 MiB first write onto failing data fails" sh -c \
	"! dd if=/dev/zero of=/dev/vmem0 bs=1M seek=120 count=1 oflag=direct status=none"
check "cover: ... and is logged" \
	klog_has "vmem0: a write to new bucket [0-9]+ failed"
check "cover: ... no bucket was given out" \
	test "$(cat /sys/block/vmem0/vmem/used_buckets)" = "$used"
check "cover: the data area works again" table "0 $SZ linear /dev/vda 0"
check "cover: ... it reads zeros" \
	cmp -s -i $((120 << 20)) -n $((1 << 20)) /dev/vmem0 /dev/zero
u0=$(unzeroed)
check "cover: ... the same write succeeds once the disk works" sh -c \
	"pattern() { tr '\\0' '\\132' </dev/zero | head -c \$1; }
	 pattern $((1 << 20)) | dd of=/dev/vmem0 bs=1M seek=120 iflag=fullblock oflag=direct status=none"
check "cover: ... unzeroed" test $(($(unzeroed) - u0)) = 1
check "cover: ... reads back" holds $((120 << 20)) $((1 << 20))

# --- a discard in a full pool starts the commit that frees its buckets
# at once: their space is wanted now. The interval at its longest (60 s)
# and everything committed: only the discard can start a commit early.
check "cover: detach for the full-pool test" "$VMEMCTL" detach
rmmod vmem
check "cover: insmod commit_interval_ms=60000" \
	load_vmem write_buffer=0 commit_interval_ms=60000
check "cover: attach again" "$VMEMCTL" attach /dev/mapper/cv
mb=$(($(cat $ctl/free_buckets) * $(cat $ctl/bucket_bytes) >> 20))
check "cover: vmem1 over the rest of the pool ($mb MiB)" \
	sh -c "$VMEMCTL create --id 1 ${mb}M >/dev/null"
check "cover: fill vmem1 and fsync: the pool is full and committed" \
	dd if=/dev/zero of=/dev/vmem1 bs=1M count="$mb" oflag=direct \
	conv=fsync status=none
check "cover: ... no bucket left" test "$(cat $ctl/free_buckets)" = 0
read -r c0 _ <$ctl/commit_stat
z0=$(cat $ctl/zeroed_buckets)
check "cover: discard 4 MiB of vmem1" \
	blkdiscard -o 0 -l $((4 << 20)) /dev/vmem1
committed() { local c; read -r c _ <$ctl/commit_stat; ((c > c0)); }
check "cover: ... its commit comes within 20 s, not after the interval" \
	within 20 committed
readied() { (($(cat $ctl/zeroed_buckets) >= z0 + 4)); }
check "cover: ... and the zeroer readies its 4 buckets" within 20 readied
check "cover: ... they read zeros in vmem1" \
	cmp -s -n $((4 << 20)) /dev/vmem1 /dev/zero
check "cover: detach" "$VMEMCTL" detach
dmsetup remove cv
rmmod vmem
check "cover: vmemctl check clean" "$VMEMCTL" check /dev/vda
t_summary
