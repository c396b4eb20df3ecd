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

# --- stable writes
check "format the scratch disk" sh -c "$VMEMCTL format /dev/vda >/dev/null"
echo 1 >/sys/block/vda/queue/stable_writes
check "attach" "$VMEMCTL" attach /dev/vda
check "create vmem0" sh -c "$VMEMCTL create --id 0 64M >/dev/null"
check "stable writes of the backing disk propagate" \
	test "$(cat /sys/block/vmem0/queue/stable_writes)" = 1
check "detach" "$VMEMCTL" detach
echo 0 >/sys/block/vda/queue/stable_writes

rmmod vmem
t_summary
