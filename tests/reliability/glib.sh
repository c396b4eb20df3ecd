# SPDX-License-Identifier: GPL-2.0
# Guest-side helpers of the reliability tests, on top of
# tests/system/lib.sh (pass/fail/check/refuse, VMEMCTL, VMEM_KO).
# shellcheck shell=bash

. "$VMEM_REPO/tests/system/lib.sh"
export REL=$VMEM_REPO/tests/reliability
# A module built for another kernel (or a deliberately broken one, to see
# the tests fail) is passed in the results directory
[ -f "$VMEM_OUT/kmod/vmem.ko" ] && VMEM_KO=$VMEM_OUT/kmod/vmem.ko
export PYTHONDONTWRITEBYTECODE=1

# Filesystems of the standard layout: vmem0 ext4, vmem1 xfs, vmem2 raw
STD_FS="0:ext4 1:xfs"

# std_create: create and mkfs the standard devices on the attached pool
std_create() {
	"$VMEMCTL" create --id 0 128M >/dev/null &&
		"$VMEMCTL" create --id 1 320M >/dev/null &&
		"$VMEMCTL" create --id 2 32M >/dev/null &&
		mkfs.ext4 -q -F /dev/vmem0 &&
		mkfs.xfs -q -f /dev/vmem1
}

# std_mount [OPTS]: mount the standard filesystems on /mnt/N
std_mount() {
	local d
	for d in $STD_FS; do
		mkdir -p "/mnt/${d%%:*}"
		mount -o "discard${1:+,$1}" "/dev/vmem${d%%:*}" "/mnt/${d%%:*}" ||
			return 1
	done
}

std_umount() {
	local d rc=0
	for d in $STD_FS; do
		umount "/mnt/${d%%:*}" || rc=1
	done
	return $rc
}

# fsck_dev N TYPE: read-only check of the filesystem on /dev/vmemN; the
# caller mounted and unmounted it first so its journal is replayed
fsck_dev() {
	case $2 in
	ext4) e2fsck -fn "/dev/vmem$1" >/tmp/fsck.out 2>&1 ;;
	xfs) xfs_repair -n "/dev/vmem$1" >/tmp/fsck.out 2>&1 ;;
	*) return 2 ;;
	esac
	local rc=$?
	[ $rc = 0 ] || sed 's/^/    /' /tmp/fsck.out | tail -n 15 >&2
	return $rc
}

# fs_check_all TAG: mount (journal recovery), unmount and fsck each
# filesystem of the standard layout; one PASS/FAIL line per filesystem
fs_check_all() {
	local d n t ok
	for d in $STD_FS; do
		n=${d%%:*} t=${d#*:} ok=1
		mkdir -p "/mnt/$n"
		if ! mount "/dev/vmem$n" "/mnt/$n"; then
			ok=0
		else
			umount "/mnt/$n" || ok=0
		fi
		[ $ok = 1 ] && fsck_dev "$n" "$t" || ok=0
		if [ $ok = 1 ]; then
			pass "$1: vmem$n $t mounts, unmounts and fscks clean"
		else
			fail "$1: vmem$n $t mounts, unmounts and fscks clean"
		fi
	done
}

# check_ok_or_deleting DEV: vmemctl check finds DEV clean, or finds only
# interrupted deletions (which attach finishes)
check_ok_or_deleting() {
	local out rc
	out=$("$VMEMCTL" check "$1" 2>&1)
	rc=$?
	[ $rc = 0 ] && return 0
	if [ $rc = 1 ] && ! echo "$out" | grep '^vmemctl: check: ' |
		grep -vq 'device deletion was interrupted$' &&
		echo "$out" | grep -q 'deletion was interrupted'; then
		return 0
	fi
	echo "$out" | head -n 10 >&2
	return 1
}

# klog_since MARK: kernel log lines after line MARK (from dmesg | wc -l)
klog_since() { dmesg | tail -n +"$(($1 + 1))"; }

# no_kernel_trouble: no oops/warning/hang report in the kernel log; when
# there is one, its first lines go to stderr (the console) to say which
no_kernel_trouble() {
	local pat='Oops|BUG:|WARNING:|Call Trace|blocked for more than|KASAN|circular locking'
	dmesg | grep -Eq "$pat" || return 0
	dmesg | grep -E -B 3 -A 25 -m 3 "$pat" | head -n 80 | sed 's/^/    /' >&2
	return 1
}

# eio NAME CMD...: CMD fails with "Input/output error" within 60 s (a
# timeout is a hang); counts the EIOs in EIOS
EIOS=0
eio() {
	local name=$1 out rc
	shift
	out=$(timeout 60 bash -c '"$@"' run "$@" 2>&1)
	rc=$?
	if [ $rc = 124 ]; then
		fail "$name (hung for 60 s)"
	elif [ $rc != 0 ] && grep -q "Input/output error" <<<"$out"; then
		EIOS=$((EIOS + 1))
		pass "$name"
	else
		fail "$name (exit $rc${out:+: $(head -c 200 <<<"$out")})"
	fi
}
