#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test: what vmem takes from its backing device and what it
# refuses. Disks: /dev/vda, 256 MiB of zeros.
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp || exit 2
load_vmem || { fail "insmod"; exit 1; }

# --- a zoned disk is refused before anything is read or written
if modprobe null_blk nr_devices=1 zoned=1 zone_size=64 gb=1 2>/dev/null &&
   [ "$(cat /sys/block/nullb0/queue/zoned)" != none ]; then
	refuse "attach a zoned disk" "zoned block devices are not supported" \
		"$VMEMCTL" attach /dev/nullb0
	rmmod null_blk
else
	fail "null_blk with zoned=1 for the zoned-disk check"
fi

# --- stable writes and the write cache
check "format the scratch disk" sh -c "$VMEMCTL format /dev/vda >/dev/null"
echo 1 >/sys/block/vda/queue/stable_writes
check "attach" "$VMEMCTL" attach /dev/vda
check "create vmem0" sh -c "$VMEMCTL create --id 0 64M >/dev/null"
check "stable writes of the backing disk propagate" \
	test "$(cat /sys/block/vmem0/queue/stable_writes)" = 1
check "a volatile write cache with FUA is advertised" \
	test "$(cat /sys/block/vmem0/queue/write_cache)" = "write back" -a \
	"$(cat /sys/block/vmem0/queue/fua)" = 1
check "detach" "$VMEMCTL" detach
echo 0 >/sys/block/vda/queue/stable_writes

# --- a backing disk that advertises write-zeroes and then fails it: a
# loop device over a file on vfat, whose fallocate() cannot punch holes
modprobe loop
modprobe vfat
mkdir -p /tmp/fat
check "vfat in a file" sh -c "mkfs.vfat -C /tmp/fat.img 200000 >/dev/null"
check "mount it" mount -t vfat -o loop /tmp/fat.img /tmp/fat
truncate -s 96M /tmp/fat/pool.img
loop=$(losetup -f --show /tmp/fat/pool.img)
check "its loop device advertises write-zeroes" \
	test "$(cat "/sys/block/${loop#/dev/}/queue/write_zeroes_max_bytes")" -gt 0
tr '\0' '\377' </dev/zero | dd of="$loop" bs=1M count=96 iflag=fullblock \
	status=none
check "format it over old data, without zeroing" \
	sh -c "$VMEMCTL format --force --no-zero $loop >/dev/null"
check "attach it" "$VMEMCTL" attach "$loop"
check "create vmem1" sh -c "$VMEMCTL create --id 1 32M >/dev/null"
m=$(dmesg | wc -l)
check "a first write succeeds though write-zeroes fails" \
	sh -c "printf y | dd of=/dev/vmem1 bs=4096 seek=1 conv=sync oflag=direct status=none"
klog=$(dmesg | tail -n +"$((m + 1))")
check "the fallback was logged" grep -q "zeroing them one at a time" <<<"$klog"
# Only the bucket's gaps, one at a time: its first write is not sent again
check "the gaps were zeroed, not the whole bucket" \
	sh -c '! grep -q "zeroing their buckets whole"' <<<"$klog"
check "the rest of that bucket reads zeros" \
	sh -c "cmp -s -n 4096 /dev/vmem1 /dev/zero &&
	       cmp -s -i 8192 -n $(((1 << 20) - 8192)) /dev/vmem1 /dev/zero"
check "detach" "$VMEMCTL" detach
losetup -d "$loop"
umount /tmp/fat
rmmod vmem
t_summary
