#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test, second boot (a guest reboot after phase1.sh): every device,
# size, budget and byte is still there.
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp
check "attach after reboot" load_vmem backing=/dev/vda
check "255 devices after reboot" \
	test "$("$VMEMCTL" list | tail -n +2 | wc -l)" = 255
check "sizes kept" sh -c "test \$(blockdev --getsize64 /dev/vmem1) = $((512 << 20))"
mkdir -p /mnt/0 /mnt/1 /mnt/2
for i in 0 1 2; do check "mount vmem$i after reboot" mount /dev/vmem$i /mnt/$i; done
check "checksums after reboot" sh -c "cd /mnt && sha256sum -c --quiet $VMEM_OUT/sums"
check "device 200 bytes after reboot" \
	test "$(head -c 7 /dev/vmem200)" = vmem200
for i in 0 1 2; do umount /mnt/$i; done
check "rmmod" rmmod vmem
check "vmemctl check clean after reboot" "$VMEMCTL" check /dev/vda
t_summary
