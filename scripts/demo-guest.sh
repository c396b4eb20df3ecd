#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of scripts/demo. $1 is "first" or "second" boot.
set -euxo pipefail
vmemctl=$VMEM_REPO/tools/vmemctl
ko=$VMEM_REPO/drivers/vmem/vmem.ko
modprobe xfs
mkdir -p /mnt/a /mnt/b
if [ "$1" = first ]; then
	insmod "$ko"
	"$vmemctl" attach /dev/vda
	"$vmemctl" create 1G
	"$vmemctl" create --budget 256M 512M
	mkfs.ext4 -q /dev/vmem0
	mkfs.xfs -q /dev/vmem1
	mount /dev/vmem0 /mnt/a
	mount /dev/vmem1 /mnt/b
	cp -r /usr/share/doc/bash /mnt/a/
	head -c 50M /dev/urandom >/mnt/b/random
	(cd /mnt && sha256sum b/random a/bash/*) >"$VMEM_OUT/sums"
	"$vmemctl" list
	"$vmemctl" status
	umount /mnt/a /mnt/b
	rmmod vmem
	echo "module unloaded; loading it again"
fi
insmod "$ko" backing=/dev/vda
mount /dev/vmem0 /mnt/a
mount /dev/vmem1 /mnt/b
(cd /mnt && sha256sum -c "$VMEM_OUT/sums")
"$vmemctl" list
df -h /mnt/a /mnt/b
umount /mnt/a /mnt/b
rmmod vmem
echo "demo ($1 boot): files read back intact"
