# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Helpers for the install suite's guest scripts: each check prints one
# "PASS: name" or "FAIL: name" line. R names the root (Debian 12 or 13).
# shellcheck disable=SC2034 # for the scripts that source this
R=debian$(cut -d . -f 1 /etc/debian_version)
FAILED=0
check() {
	local name=$1
	shift
	if "$@"; then
		echo "PASS: $name"
	else
		echo "FAIL: $name"
		FAILED=1
	fi
}
summary() { exit $FAILED; }
