#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: check replayed snapshots of a pool, one per disk (/dev/vda...).
# Args: NAME SPEC...; SPEC is MARK:FS (FS 1 when the filesystems had been
# made by then, so they must mount and fsck clean; 0 before that).
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
name=$1
shift
cd /tmp || exit 2
# shellcheck disable=SC2119 # no module parameters
load_vmem || { fail "$name: insmod"; exit 1; }
letters=abcdefghijklmnopqrstuvwxyz
i=0
for spec in "$@"; do
	mark=${spec%%:*} fs=${spec#*:}
	dev=/dev/vd${letters:i:1}
	i=$((i + 1))
	t="$name mark $mark"
	check "$t: vmemctl check clean (or an interrupted deletion)" \
		check_ok_or_deleting "$dev"
	if ! "$VMEMCTL" attach "$dev"; then
		fail "$t: pool attaches"
		continue
	fi
	pass "$t: pool attaches"
	if [ "$fs" = 1 ]; then
		fs_check_all "$t"
	fi
	check "$t: detach" "$VMEMCTL" detach
	check "$t: vmemctl check clean after attach" "$VMEMCTL" check "$dev"
done
check "$name: no kernel warning" no_kernel_trouble
t_summary
