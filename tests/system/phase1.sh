#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test, first boot. Disks: /dev/vda a formatted 1 GiB pool,
# /dev/vdb all zeros, /dev/vdc an ext4 filesystem. Leaves checksums in
# $VMEM_OUT for phase2.sh (the reboot).
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp

# --- loading and attaching: refuse what is not a pool, write nothing
load_vmem || { fail "insmod without backing"; exit 1; }
pass "insmod without backing loads idle"
check "the control device is mode 0660" \
	test "$(stat -c %a /dev/vmem-control)" = 660
check "idle: status says not attached" \
	sh -c "$VMEMCTL status | grep -qi 'not attached'"
sum_b=$(md5sum </dev/vdb) sum_c=$(md5sum </dev/vdc)
refuse "attach a missing path" "No such file|cannot open" \
	"$VMEMCTL" attach /dev/nonexistent
refuse "attach an all-zero disk" "page 0 is all zeros" \
	"$VMEMCTL" attach /dev/vdb
refuse "attach an ext4 disk" "holds other data" "$VMEMCTL" attach /dev/vdc
check "refused attaches wrote nothing" \
	test "$sum_b$sum_c" = "$(md5sum </dev/vdb)$(md5sum </dev/vdc)"
rmmod vmem
refuse "insmod backing=ext4 disk fails" "holds other data" \
	insmod "$VMEM_KO" backing=/dev/vdc
refuse "insmod backing=missing path fails" "cannot open" \
	insmod "$VMEM_KO" backing=/dev/nope
check "insmod backing=/dev/vda" insmod "$VMEM_KO" backing=/dev/vda
check "status shows the pool" \
	sh -c "$VMEMCTL status | grep -q vda"

# --- three filesystems on one pool
check "create vmem0 (ext4)" sh -c "$VMEMCTL create --id 0 256M | grep -qx /dev/vmem0"
check "create vmem1 (xfs)" sh -c "$VMEMCTL create --id 1 512M | grep -qx /dev/vmem1"
check "create vmem2 (btrfs)" sh -c "$VMEMCTL create --id 2 256M | grep -qx /dev/vmem2"
check "4096-byte logical blocks" \
	test "$(blockdev --getss /dev/vmem0)" = 4096
check "mkfs.ext4" mkfs.ext4 -q -F /dev/vmem0
check "mkfs.xfs" mkfs.xfs -q -f /dev/vmem1
check "mkfs.btrfs" mkfs.btrfs -q -f /dev/vmem2
mkdir -p /mnt/0 /mnt/1 /mnt/2
for i in 0 1 2; do
	check "mount vmem$i" mount /dev/vmem$i /mnt/$i
	for f in a b c; do
		head -c $((1 + RANDOM * 97)) /dev/urandom >/mnt/$i/$f
	done
done
sync
(cd /mnt && sha256sum 0/* 1/* 2/*) >"$VMEM_OUT/sums"
check "files checksummed" test -s "$VMEM_OUT/sums"

# --- every bad input the kernel must refuse (raw ioctls)
python3 "$VMEM_REPO/tests/system/ioctl_bad.py" 0 || T_FAILED=1
refuse "delete a mounted device" "is open|busy" "$VMEMCTL" delete 0
refuse "rmmod while mounted" "in use|busy" rmmod vmem
for i in 0 1 2; do umount /mnt/$i; done

# --- fio verify across bucket boundaries (768 KiB blocks, 1 MiB buckets)
check "create vmem3 (fio)" sh -c "$VMEMCTL create --id 3 64M >/dev/null"
check "fio verify=crc32c straddling buckets" \
	fio --name=straddle --filename=/dev/vmem3 --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=768k --offset=256k --size=48M --iodepth=8 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --output=/dev/null
check "fio verify=crc32c 4k random, 4 jobs" \
	fio --name=small --filename=/dev/vmem3 --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=4k --size=16M --numjobs=4 --offset_increment=16M \
		--iodepth=16 --verify=crc32c --verify_fatal=1 --output=/dev/null

# --- never-written ranges read zeros, also after reuse of a bucket
check "create vmem4" sh -c "$VMEMCTL create --id 4 32M >/dev/null"
check "fresh device reads zeros" is_zero /dev/vmem4
fill /dev/vmem4 377
check "delete vmem4" "$VMEMCTL" delete 4
check "create vmem5 over the freed buckets" \
	sh -c "$VMEMCTL create --id 5 32M >/dev/null"
check "reused buckets read zeros" is_zero /dev/vmem5
fill /dev/vmem5 252
used=$(cat /sys/block/vmem5/vmem/used_buckets)
check "discard of whole buckets frees them" \
	sh -c "blkdiscard /dev/vmem5 && test \$(cat /sys/block/vmem5/vmem/used_buckets) = 0 && test $used = 32"
check "discarded range reads zeros" is_zero /dev/vmem5
fill /dev/vmem5 252
check "a bucket discarded in two halves stays allocated (as in dm-thin)" \
	sh -c "blkdiscard -o 0 -l 524288 /dev/vmem5 &&
	       blkdiscard -o 524288 -l 524288 /dev/vmem5 &&
	       test \$(cat /sys/block/vmem5/vmem/used_buckets) = 32"
check "... and a discard of the whole bucket frees it" \
	sh -c "blkdiscard /dev/vmem5 && test \$(cat /sys/block/vmem5/vmem/used_buckets) = 0"
check "create vmem6 over discarded buckets" \
	sh -c "$VMEMCTL create --id 6 32M >/dev/null"
check "buckets reused after discard read zeros" is_zero /dev/vmem6
check "partial write leaves the rest of its bucket zero" \
	sh -c "printf x | dd of=/dev/vmem6 bs=4096 seek=3 conv=sync oflag=direct status=none &&
	       cmp -s -n 12288 /dev/vmem6 /dev/zero &&
	       cmp -s -i 16384 -n 1032192 /dev/vmem6 /dev/zero"
fill /dev/vmem6 145
check "write-zeroes on a written range" blkdiscard -z /dev/vmem6
check "after write-zeroes the device reads zeros" is_zero /dev/vmem6
"$VMEMCTL" delete 5 >/dev/null; "$VMEMCTL" delete 6 >/dev/null

# --- a discard of more than 4 GiB: the kernel cuts it into pieces at a
# multiple of the discard granularity, each freeing only the buckets it
# covers whole; and a device whose size is not whole buckets. A 4 KiB
# block at the end of buckets 4095 and 8191 (where the pieces were cut
# with a 4 KiB granularity) and in the last, 64 KiB bucket: one discard
# of the device frees them all
big=$(((9 << 30) + (64 << 10)))
check "create vmem8, 9 GiB and 64 KiB (thin)" \
	sh -c "$VMEMCTL create --id 8 $big >/dev/null"
check "its discard granularity is the bucket size" \
	test "$(cat /sys/block/vmem8/queue/discard_granularity)" = 1048576
for blk in 255 $((4095 * 256 + 255)) $((8191 * 256 + 255)) $((big / 4096 - 1)); do
	printf x | dd of=/dev/vmem8 bs=4096 seek=$blk conv=sync,notrunc \
		oflag=direct status=none
done
check "four buckets written" \
	test "$(cat /sys/block/vmem8/vmem/used_buckets)" = 4
check "a discard of all 9 GiB frees all four" \
	sh -c "blkdiscard /dev/vmem8 &&
	       test \$(cat /sys/block/vmem8/vmem/used_buckets) = 0"
check "delete vmem8" "$VMEMCTL" delete 8

# --- budgets
check "create vmem7 with a 4M budget" \
	sh -c "$VMEMCTL create --id 7 --budget 4M 64M >/dev/null"
refuse "write past the budget fails with ENOSPC" "No space left" \
	dd if=/dev/urandom of=/dev/vmem7 bs=1M count=8 oflag=direct status=none
check "budget held at 4 buckets" \
	test "$(cat /sys/block/vmem7/vmem/used_buckets)" = 4
check "raise the budget" "$VMEMCTL" budget 7 none
check "write succeeds once the budget allows" \
	dd if=/dev/urandom of=/dev/vmem7 bs=1M count=8 oflag=direct status=none

# --- pool full: ENOSPC at once, others unaffected, space comes back
check "create vmem8 larger than the pool" \
	sh -c "$VMEMCTL create --id 8 2G >/dev/null"
refuse "filling the pool fails with ENOSPC" "No space left" \
	python3 "$VMEM_REPO/tests/system/uevents.py" /tmp/usage -- \
	dd if=/dev/zero of=/dev/vmem8 bs=1M oflag=direct status=none
check "kernel logged the full pool" klog_has "vmem8: pool full"
check "uevents said the pool crossed 80, 90 and 100 percent ($(tr '\n' ' ' </tmp/usage))" \
	test "$(tr '\n' ' ' </tmp/usage)" = "80 90 100 "
check "provisioned ranges of other devices still work" \
	dd if=/dev/urandom of=/dev/vmem7 bs=1M count=8 oflag=direct status=none
# vmem7 holds buckets 0..7 only: bucket 32 needs a new bucket
check "a new bucket on another device fails too" \
	sh -c "! dd if=/dev/zero of=/dev/vmem7 bs=1M seek=32 count=1 oflag=direct status=none 2>/dev/null"
check "delete the filler" \
	python3 "$VMEM_REPO/tests/system/uevents.py" /tmp/usage -- \
	"$VMEMCTL" delete 8
check "a uevent said the pool went back below 80 percent" \
	test "$(tail -n 1 /tmp/usage)" = 0
check "writes succeed again after delete" \
	dd if=/dev/zero of=/dev/vmem7 bs=1M seek=32 count=1 oflag=direct status=none

# --- all 255 devices
ok=1
for id in $(seq 0 254); do
	[ -b /dev/vmem$id ] && continue
	"$VMEMCTL" create --id $id 1M >/dev/null || { ok=0; break; }
done
check "255 devices created" test $ok = 1
# One process for all of them: program starts are slow under emulation
check "each written and read back" python3 -c '
import mmap, os
buf = mmap.mmap(-1, 4096)
for i in range(9, 255):
    buf.seek(0)
    buf.write(b"vmem%03d" % i + bytes(4089))
    fd = os.open("/dev/vmem%d" % i, os.O_WRONLY | os.O_DIRECT)
    os.pwrite(fd, buf, 0)
    os.close(fd)
for i in range(9, 255):
    fd = os.open("/dev/vmem%d" % i, os.O_RDONLY | os.O_DIRECT)
    os.preadv(fd, [buf], 0)
    os.close(fd)
    assert buf[:7] == b"vmem%03d" % i, i
'
check "vmemctl list shows 255 rows" \
	test "$("$VMEMCTL" list | tail -n +2 | wc -l)" = 255
refuse "create with all ids in use" "in use|No space" "$VMEMCTL" create 1M

# --- reload: rmmod/insmod keeps devices and bytes
check "rmmod with no users" rmmod vmem
check "vmemctl check clean after detach" "$VMEMCTL" check /dev/vda
check "insmod again" insmod "$VMEM_KO" backing=/dev/vda
for i in 0 1 2; do check "mount vmem$i after reload" mount /dev/vmem$i /mnt/$i; done
check "checksums after reload" sh -c "cd /mnt && sha256sum -c --quiet $VMEM_OUT/sums"
check "budget kept across reload" \
	test "$(cat /sys/block/vmem7/vmem/budget_bytes)" = 0
for i in 0 1 2; do umount /mnt/$i; done
rmmod vmem
check "vmemctl check clean at the end" "$VMEMCTL" check /dev/vda
t_summary
