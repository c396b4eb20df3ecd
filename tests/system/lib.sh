# SPDX-License-Identifier: GPL-2.0
# Helpers for guest-side system tests. Source it; each check prints
# exactly one "PASS: name" or "FAIL: name" line.

VMEM_REPO=${VMEM_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VMEMCTL=$VMEM_REPO/tools/vmemctl
VMEM_KO=$VMEM_REPO/drivers/vmem/vmem.ko
# The runner may name another build (e.g. for the debug kernel)
if [ -n "${VMEM_OUT:-}" ] && [ -r "$VMEM_OUT/env" ]; then
	. "$VMEM_OUT/env"
fi
T_FAILED=0

# fio's progress meter would share a console line with the next result
fio() { command fio --eta=never "$@"; }

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; T_FAILED=1; }

# check NAME CMD...: pass when CMD succeeds
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# refuse NAME PATTERN CMD...: pass when CMD fails and its stderr or the
# kernel log since the call matches PATTERN (an extended regex)
refuse() {
	local name=$1 pat=$2 err mark
	shift 2
	mark=$(dmesg | wc -l)
	if err=$("$@" 2>&1 >/dev/null); then
		fail "$name (succeeded)"
		return
	fi
	if { echo "$err"; dmesg | tail -n +"$((mark + 1))"; } | grep -Eq -- "$pat"; then
		pass "$name"
	else
		fail "$name (no message matching '$pat'; got: $err)"
	fi
}

# klog_has PATTERN: the kernel log holds PATTERN
klog_has() { dmesg | grep -Eq -- "$1"; }

load_vmem() {
	modprobe -q btrfs 2>/dev/null; modprobe -q xfs 2>/dev/null
	insmod "$VMEM_KO" "$@"
}

# is_zero DEV: every byte of DEV reads as zero
is_zero() { cmp -s -n "$(blockdev --getsize64 "$1")" "$1" /dev/zero; }

# fill DEV BYTE_OCTAL: write the whole device with one byte value
fill() {
	tr '\0' "\\$2" </dev/zero |
		dd of="$1" bs=1M count=$(($(blockdev --getsize64 "$1") >> 20)) \
			iflag=fullblock oflag=direct status=none
}

# within SECONDS CMD...: CMD succeeds within SECONDS (tried every
# WITHIN_STEP seconds, 0.1 by default); a deadline on a condition, never
# a wait that stands in for one
within() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep "${WITHIN_STEP:-0.1}"
	done
}

# unzeroed: dirty buckets given out unzeroed because their first writes
# covered them (provision_stat's third field; 0 on a module without it)
unzeroed() {
	local c
	read -r _ _ c </sys/class/misc/vmem-control/provision_stat
	echo "${c:-0}"
}

# scsi_debug ARGS...: a fresh scsi_debug disk, loaded with ARGS (after
# sd_mod, without which it makes no disk); its path in $SD, its
# H:C:T:L in $SD_HCTL. Fails if it did not appear within 10 s.
scsi_debug() {
	local d=/sys/bus/pseudo/drivers/scsi_debug
	rmmod scsi_debug 2>/dev/null
	modprobe sd_mod && modprobe scsi_debug "$@" || return 1
	within 10 sh -c "ls $d/adapter*/host*/target*/*/block/ >/dev/null 2>&1" ||
		return 1
	SD=/dev/$(ls $d/adapter*/host*/target*/*/block/ | head -n 1)
	SD_HCTL=$(basename "$(ls -d $d/adapter*/host*/target*/[0-9]*:*)")
	within 10 test -b "$SD"
}

t_summary() { return $T_FAILED; }
