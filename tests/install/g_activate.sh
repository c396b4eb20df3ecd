# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Guest, second boot of an installed root under systemd and udev
# (scripts/roots/boot --systemd). /dev/vda holds pool A, listed in
# /etc/vmem.conf, whose device 0 /etc/fstab mounts on /mnt/a by its
# /dev/disk/by-vmem link (nofail); /dev/vdb holds pool B, not listed.
# Nothing attaches a pool but the udev rule.
. "$VMEM_REPO/tests/install/glib.sh"
A=$1 B=$2
ctl=/sys/class/misc/vmem-control
# Waits for the end of boot: fstab mounts done or failed
systemctl is-system-running --wait >/dev/null
check "$R: pool A attached at boot from /dev/vda" \
	test "$(cat $ctl/attached 2>/dev/null)/$(cat $ctl/backing 2>/dev/null)" = 1/vda
check "$R: fstab mounted /dev/disk/by-vmem/A/0 on /mnt/a" \
	sh -c 'test "$(findmnt -n -o SOURCE /mnt/a)" = /dev/vmem0 &&
		test "$(cat /mnt/a/hello)" = hello'
check "$R: /dev/disk/by-vmem/$A/0 -> /dev/vmem0" \
	test "$(readlink -f "/dev/disk/by-vmem/$A/0")" = /dev/vmem0
tree=$(lsblk -nr -o NAME,PKNAME /dev/vda)
check "$R: lsblk shows vmem0 under vda" grep -qx 'vmem0 vda' <<<"$tree"
grep -qx 'vmem0 vda' <<<"$tree" || echo "lsblk /dev/vda: $tree" | tr '\n' ' '
check "$R: /dev/vmem-control is 0660 root:disk" \
	test "$(stat -c '%a %U:%G' /dev/vmem-control)" = "660 root:disk"
check "$R: udev imported vdb's pool uuid (B)" \
	sh -c "udevadm info -q property /dev/vdb | grep -qx 'VMEM_POOL_UUID=$B'"
check "$R: vdb's bucket size in udev" \
	sh -c "udevadm info -q property /dev/vdb | grep -qx 'VMEM_BUCKET_BYTES=1048576'"
umount /mnt/a
check "$R: detach pool A" vmemctl detach
udevadm trigger --settle --action=add /dev/vdb
check "$R: pool B, not listed, is left alone when its disk appears" \
	test "$(cat $ctl/attached)" = 0
udevadm trigger --settle --action=add /dev/vda
check "$R: pool A is attached again when its disk appears" \
	test "$(cat $ctl/attached)/$(cat $ctl/backing)" = 1/vda
udevadm settle
check "$R: and its device is back" test -b "/dev/disk/by-vmem/$A/0"
check "$R: detach pool A again" vmemctl detach
# A disk that appears later: a loop device over a new pool, listed
truncate -s 64M /tmp/c.img
vmemctl format /tmp/c.img >/dev/null
C=$(vmemctl probe --export /tmp/c.img | sed -n 's/^VMEM_POOL_UUID=//p')
echo "pool $C" >>/etc/vmem.conf
loop=$(losetup -f --show /tmp/c.img)
udevadm settle
check "$R: a listed pool on a new loop device is attached (${loop#/dev/})" \
	test "$(cat $ctl/attached)/$(cat $ctl/backing)" = "1/${loop#/dev/}"
# Detaching closes the device: that must not look like new content to
# udev (its inotify watch), or the pool would be attached again at once
vmemctl detach >/dev/null
udevadm settle
check "$R: a detached pool stays detached" test "$(cat $ctl/attached)" = 0
summary
