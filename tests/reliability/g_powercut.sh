#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: one boot of the power-cut scenario. Disk: /dev/vda the pool.
# Args: N WRITE_BUFFER SEED DELAY_MS (cut|final)
#
# Boot 1 formats nothing (the host did): it creates the standard devices.
# Every later boot first checks what the previous power cut left: the
# pool checks clean (or with an interrupted deletion) offline, attaches,
# the filesystems mount (journal recovery), every fsynced file, append
# and raw write in the ledger reads back, and each filesystem fscks
# clean after unmounting. Then (cut) it starts the workload, waits for
# it to be under way (a bounded poll), waits DELAY_MS more and resets
# the machine with sysrq-b, a power cut as far as the disk is concerned.
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
n=$1 wb=$2 seed=$3 delay_ms=$4 what=$5
led=$VMEM_OUT/ledger
t="powercut $n"
cd /tmp || exit 2

# The write buffer's longest delay: only an fsync may send buffered data
# out before the cut
load_vmem write_buffer="$wb" write_buffer_delay_us=100000 ||
	{ fail "$t: insmod"; exit 1; }
if [ ! -e "$VMEM_OUT/devices-made" ]; then
	check "$t: attach the new pool" "$VMEMCTL" attach /dev/vda
	check "$t: create and mkfs the devices" std_create
	check "$t: mount" std_mount
	sync
	: >"$VMEM_OUT/devices-made"
else
	check "$t: vmemctl check after the cut clean (or an interrupted deletion)" \
		check_ok_or_deleting /dev/vda
	check "$t: pool attaches after the cut" "$VMEMCTL" attach /dev/vda
	# shellcheck disable=SC2119 # default mount options
	if std_mount; then
		pass "$t: filesystems mount after the cut"
		python3 "$REL/workload.py" verify --fs /mnt/0 /mnt/1 \
			--raw /dev/vmem2 --ledger "$led" --tag "$t" || T_FAILED=1
		std_umount
	else
		fail "$t: filesystems mount after the cut"
	fi
	for d in $STD_FS; do
		check "$t: vmem${d%%:*} ${d#*:} fsck clean after the cut" \
			fsck_dev "${d%%:*}" "${d#*:}"
	done
	check "$t: remount" std_mount
fi

if [ "$what" = final ]; then
	check "$t: unmount" std_umount
	check "$t: detach" "$VMEMCTL" detach
	check "$t: vmemctl check clean at the end" "$VMEMCTL" check /dev/vda
	check "$t: no kernel warning" no_kernel_trouble
	t_summary
	exit
fi

python3 "$REL/workload.py" run --fs /mnt/0 /mnt/1 --raw /dev/vmem2 \
	--churn 3 4 --ledger "$led" --seconds 600 --seed "$seed" \
	--vmemctl "$VMEMCTL" >/tmp/workload.out 2>&1 &
wpid=$!
for _ in $(seq 300); do
	grep -qx "S $seed" "$led" 2>/dev/null && break
	kill -0 $wpid 2>/dev/null || break
	sleep 0.1
done
check "$t: workload under way" grep -qx "S $seed" "$led"
echo 1 >/proc/sys/kernel/sysrq
# The random delay is the scenario: where in the workload the cut falls
sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
if kill -0 $wpid 2>/dev/null; then
	pass "$t: workload still running at the cut ($delay_ms ms in)"
else
	fail "$t: workload still running at the cut ($delay_ms ms in)"
	cat /tmp/workload.out >&2
fi
check "$t: no kernel warning before the cut" no_kernel_trouble
echo "powercut: cutting power now"
echo b >/proc/sysrq-trigger
