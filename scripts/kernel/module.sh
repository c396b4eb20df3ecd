#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build vmem.ko for another kernel (our debug kernel) in a private copy of
# the module's sources, so the in-tree build for Debian's kernel is left
# alone, and print the module's path as the last stdout line.
#
#   KBUILD=$(bash scripts/kernel/build.sh | tail -n 1)
#   KO=$(bash scripts/kernel/module.sh [--rev REV] "$KBUILD" DIR | tail -n 1)
#
# DIR is emptied and gets Kbuild, drivers/vmem, include and lib: those of
# the working tree, or with --rev those of git revision REV (e.g. to run
# a test against the code before a fix while the tree holds the fix).
# Log: DIR/build.log; on failure its tail goes to stderr and the exit
# status is 1 (2 for a usage error).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rev=
if [ "${1:-}" = --rev ]; then
	rev=${2:?--rev needs a revision}
	shift 2
fi
if [ $# -ne 2 ] || [ ! -f "$1/Makefile" ]; then
	echo "usage: module.sh [--rev REV] KERNEL_BUILD_DIR DIR" >&2
	exit 2
fi
kbuild=$1 dir=$2
# A calling make's flags must not leak into the M= build
unset MAKEFLAGS MFLAGS MAKELEVEL KBUILD_OUTPUT KBUILD_EXTMOD

rm -rf "$dir"
mkdir -p "$dir" || exit 1
dir=$(cd "$dir" && pwd)
if [ -n "$rev" ]; then
	git -C "$repo" archive --format=tar "$rev" Kbuild drivers/vmem include lib |
		tar -x -C "$dir" || {
		echo "module.sh: cannot export $rev" >&2
		exit 1
	}
else
	mkdir -p "$dir/drivers"
	cp -r "$repo/Kbuild" "$repo/include" "$repo/lib" "$dir/" &&
		cp -r "$repo/drivers/vmem" "$dir/drivers/" || exit 1
	# Objects of the in-tree build (for Debian's kernel) must not be reused
	find "$dir" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' \
		-o -name '*.mod' -o -name '*.mod.c' -o -name modules.order \
		-o -name Module.symvers \) -delete
fi
if ! make -s -C "$kbuild" M="$dir" modules >"$dir/build.log" 2>&1 ||
	[ ! -f "$dir/drivers/vmem/vmem.ko" ]; then
	tail -n 20 "$dir/build.log" >&2
	exit 1
fi
echo "$dir/drivers/vmem/vmem.ko"
