#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: the workload of the replay scenario, with dm-log-writes between
# vmem and its backing disk. Disks: /dev/vda a formatted pool, /dev/vdb
# the log. Args: NAME WRITE_BUFFER(0|1) STEPS SEED FILL_MB
#
# FILL_MB: first fill a device of that size and delete it, so that the
# workload soon runs out of never-used (or format-zeroed) buckets and
# reuses buckets that held another device's data.
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
name=$1 wb=$2 steps=$3 seed=$4 fill_mb=$5
cd /tmp || exit 2

load_vmem write_buffer="$wb" || { fail "$name: insmod"; exit 1; }
modprobe dm-log-writes
check "$name: dm-log-writes between vmem and its disk" \
	dmsetup create lw --table "0 $(blockdev --getsz /dev/vda) log-writes /dev/vda /dev/vdb"
check "$name: attach over dm-log-writes" "$VMEMCTL" attach /dev/mapper/lw
if [ "$fill_mb" -gt 0 ]; then
	filler() {
		"$VMEMCTL" create --id 5 "${fill_mb}M" >/dev/null &&
			fill /dev/vmem5 245 && "$VMEMCTL" delete 5
	}
	check "$name: fill ${fill_mb}M of the pool and delete it again" filler
fi
check "$name: create and mkfs ext4, xfs and a raw device" std_create
check "$name: mount with online discard" std_mount
sync
dmsetup message lw 0 mark fs-ready
python3 "$REL/workload.py" run --fs /mnt/0 /mnt/1 --raw /dev/vmem2 \
	--churn 3 4 --ledger /tmp/ledger --steps "$steps" --seed "$seed" \
	--vmemctl "$VMEMCTL" || fail "$name: workload"
# Buckets provisioned, commits, buckets whose first writes covered them
echo "$name: provision_stat $(cat /sys/class/misc/vmem-control/provision_stat)"
check "$name: unmount" std_umount
check "$name: detach" "$VMEMCTL" detach
dmsetup message lw 0 mark end
check "$name: remove dm-log-writes (log complete)" dmsetup remove lw
check "$name: no kernel warning during the workload" no_kernel_trouble
t_summary
