# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Guest, first boot of an installed root (scripts/roots/boot, no init):
# the module DKMS built loads over a pool; a device gets a filesystem for
# the second boot (g_activate.sh). /dev/vda holds pool A (vmemctl format).
. "$VMEM_REPO/tests/install/glib.sh"
kver=$(uname -r)
ko=$(modinfo -n vmem 2>/dev/null)
check "$R: modinfo: vmem is the DKMS build for $kver ($ko)" \
	test "${ko#/lib/modules/$kver/updates/dkms/vmem.ko}" != "$ko"
check "$R: modprobe vmem backing=/dev/vda" modprobe vmem backing=/dev/vda
check "$R: vmemctl status: attached" sh -c 'vmemctl status | grep -q vda'
check "$R: vmemctl create 64M" sh -c 'test "$(vmemctl create 64M)" = /dev/vmem0'
check "$R: mkfs.ext4 and a file on vmem0" sh -c '
	mkfs.ext4 -q /dev/vmem0 && mount /dev/vmem0 /mnt &&
	echo hello >/mnt/hello && umount /mnt'
uuid=$(vmemctl probe --export /dev/vda | sed -n 's/^VMEM_POOL_UUID=//p')
check "$R: vmem0's pool_uuid is the one probe prints ($uuid)" \
	test "$(cat /sys/block/vmem0/vmem/pool_uuid)" = "$uuid"
check "$R: vmem0 is a holder of vda" test -e /sys/block/vda/holders/vmem0
check "$R: rmmod vmem" rmmod vmem
check "$R: the holder link went with it" test ! -e /sys/block/vda/holders/vmem0
summary
