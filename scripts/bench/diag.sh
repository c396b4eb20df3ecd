# SPDX-License-Identifier: GPL-2.0
# scripts/bench/diag.sh - what the bench's guest-side diagnostics
# (reuse.sh, fresh.sh) share. Source it with the diagnostic's name:
#
#   . "$VMEM_REPO/scripts/bench/diag.sh" NAME
#
# It sources tests/system/lib.sh (load_vmem, VMEMCTL, within, unzeroed),
# moves to /tmp, sets ctl (the control device's sysfs directory), and
# defines say (a line to stdout and to OUT/NAME.txt, emptied here) and
# die (say it, prefixed with NAME, and exit 1).
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
