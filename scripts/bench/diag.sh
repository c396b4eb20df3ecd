# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# scripts/bench/diag.sh - what the bench's guest-side diagnostics
# (reuse.sh, fresh.sh, zeroing.sh) share. Source it with the
# diagnostic's name:
#
#   . "$VMEM_REPO/scripts/bench/diag.sh" NAME
#
# It sources tests/system/lib.sh (load_vmem, VMEMCTL, within, unzeroed),
# moves to /tmp, sets ctl (the control device's sysfs directory), and
# defines say (a line to stdout and to OUT/NAME.txt, emptied here), die
# (say it, prefixed with NAME, and exit 1), settled, new_vmem1, fio_wl
# and ratio (below).
set -u
# shellcheck disable=SC1091 # the guest's copy of the repository
. "$VMEM_REPO/tests/system/lib.sh"
cd /tmp || exit 2
diag_name=$1
ctl=/sys/class/misc/vmem-control
out=${VMEM_OUT:-/tmp}/$diag_name.txt
: >"$out"
say() { echo "$*" | tee -a "$out"; }
die() { say "$diag_name: $*"; exit 1; }
# settled: every free bucket is armed or format-zeroed (the bench's
# "new" hook waits for the same before it creates a fresh device)
settled() {
	local f z
	read -r f <$ctl/free_buckets
	read -r z <$ctl/zeroed_buckets
	((f == z))
}
# new_vmem1: delete vmem1 if there is one, wait (120 s at most) until
# the pool has settled, then create a vmem1 of 64 MiB
new_vmem1() {
	"$VMEMCTL" delete 1 2>/dev/null
	within 120 settled || die "pool not settled in 120 s"
	"$VMEMCTL" create --id 1 64M >/dev/null || die "create vmem1"
}
# fio_wl WORKLOAD DEV: one of the bench's two first-write workloads
# over the first 64 MiB of DEV (4k: random QD32 x 4 jobs on 4 slices of
# 16 MiB; 128k: sequential QD32), every block once; write IOPS in R
fio_wl() {
	local j
	local -a o=(--filename="$2" --ioengine=libaio --direct=1
		--group_reporting --output-format=json)

	case $1 in
	4k) o+=(--rw=randwrite --bs=4k --iodepth=32 --numjobs=4
		--size=16M --offset_increment=16M) ;;
	128k) o+=(--rw=write --bs=128k --iodepth=32 --size=64M) ;;
	*) die "workload $1" ;;
	esac
	j=$(fio --name=w "${o[@]}" 2>/dev/null) || die "fio $1 on $2"
	R=$(jq '.jobs[0].write.iops | floor' <<<"$j") || die "fio's output"
}
# ratio A B: A / B to two places
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
