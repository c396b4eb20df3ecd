#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench/fresh.sh - what a first write into armed buckets costs
# against its overwrite (BENCHMARKS.md, issue 11, the `fresh` group),
# with and without a timed commit inside the run. A diagnostic beside
# `make bench`, not a test: it prints numbers, it checks nothing.
#
#   scripts/vm/run --out OUT --disk IMG:2G scripts/bench/fresh.sh
#
# A pool formatted --zero over the whole disk, the write buffer off.
# Five times, for each of the bench's two first-write workloads (4k
# random QD32 x 4 jobs on 4 slices, 128k sequential QD32; 64 MiB, every
# block once) and for commit_interval_ms 1000 (the default) and 60000
# (no timed commit inside a run of a few seconds), interleaved: a new
# vmem1 of 64 MiB once the pool has settled (every free bucket zeroed
# or format-zeroed, as the bench's "new" hook waits), its first write,
# then the overwrite; IOPS of each, their ratio, and the commits that
# wrote the map during each run (commit_stat).
# Output: stdout and OUT/fresh.txt.
# shellcheck disable=SC1091 # the guest's copy of the repository
. "$VMEM_REPO/scripts/bench/diag.sh" fresh
commits() { local c; read -r c _ <$ctl/commit_stat; echo "$c"; }

"$VMEMCTL" format --force --zero /dev/vda >/dev/null || die "format"
load_vmem write_buffer=0 || die "insmod"
"$VMEMCTL" attach /dev/vda || die "attach"
say "fresh: $(cat $ctl/total_buckets) buckets, $(cat $ctl/zeroed_buckets) zeroed"

for rep in 1 2 3 4 5; do
	for wl in 4k 128k; do
		for ci in 1000 60000; do
			echo "$ci" >$ctl/commit_interval_ms
			new_vmem1
			c0=$(commits)
			fio_wl "$wl" /dev/vmem1
			f=$R
			c1=$(commits)
			fio_wl "$wl" /dev/vmem1
			ov=$R
			c2=$(commits)
			say "rep $rep $wl commit_interval_ms $ci: first $f IOPS" \
				"($((c1 - c0)) commits), overwrite $ov IOPS" \
				"($((c2 - c1)) commits), first/overwrite" \
				"$(ratio "$f" "$ov")"
		done
	done
done
echo 1000 >$ctl/commit_interval_ms
say "fresh: commit_stat $(cat $ctl/commit_stat)"
