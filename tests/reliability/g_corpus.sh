#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: attach every image of the corrupt-page-0 corpus. Disk: /dev/vda,
# the images back to back; $VMEM_OUT/manifest.txt says where each one is
# (NAME START SECTORS EXPECT LOG_REGEX, see corpus.py). Each image gets a
# dm-linear device of exactly its size. A damaged image must be refused
# with a kernel log line (the host checks afterwards that nothing was
# written to it); an image check finds clean (or with only an interrupted
# deletion) must attach, and check clean after detaching.
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
cd /tmp || exit 2
man=$VMEM_OUT/manifest.txt
res=$VMEM_OUT/corpus-results.txt
: >"$res"
# shellcheck disable=SC2119 # no module parameters
load_vmem || { fail "corpus: insmod"; exit 1; }

spec=
while read -r name start len expect regex; do
	spec+="c-$name,,,,0 $len linear /dev/vda $start;"
done <"$man"
check "corpus: one dm-linear device per image" dmsetup create --concise "$spec"
dmesg -c >/dev/null
n=0
while read -r name start len expect regex; do
	n=$((n + 1))
	dev=/dev/mapper/c-$name
	if "$VMEMCTL" attach "$dev" 2>/tmp/err; then got=attach; else got=refuse; fi
	log=$(dmesg -c)
	echo "$name $got" >>"$res"
	t="corpus attach $name"
	vlog=
	while IFS= read -r l; do
		[[ $l == *"vmem: "* ]] && vlog=${l#*] }
	done <<<"$log"
	[ "$regex" = - ] && regex=.
	if [ "$expect" = refuse ]; then
		if [ $got = attach ]; then
			fail "$t: refused (it attached)"
			"$VMEMCTL" detach
		elif [ -z "$vlog" ]; then
			fail "$t: refused with a kernel log line (none)"
		elif ! [[ $log =~ $regex ]]; then
			fail "$t: refused with a log line matching '$regex' (got: $vlog)"
		else
			pass "$t: refused: $vlog"
		fi
	elif [ $got = refuse ]; then
		fail "$t: attaches ($(cat /tmp/err); $vlog)"
	elif ! [[ $log =~ $regex ]]; then
		fail "$t: attaches and logs '$regex'"
		"$VMEMCTL" detach
	elif ! "$VMEMCTL" detach; then
		fail "$t: attaches and detaches"
	elif ! "$VMEMCTL" check "$dev" >/dev/null; then
		fail "$t: attaches, detaches and checks clean"
	else
		pass "$t: attaches, detaches and checks clean"
	fi
done <"$man"
dmsetup remove_all
echo "corpus: $n images attached or refused"
t_summary
