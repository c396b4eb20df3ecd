#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench/reuse.sh - where the time of a first write into just
# discarded buckets goes (BENCHMARKS.md, issue 11). A diagnostic beside
# `make bench`, not a test: it prints times, it checks nothing.
#
#   scripts/vm/run --out OUT --disk IMG:2G scripts/bench/reuse.sh
#
# First, for scale, the raw disk: three times, N = 64 and 256 MiB of
# 128k sequential writes at QD32 (fio, direct) to its second GiB, each
# followed by two bare flushes of it. Then a pool over it, formatted
# --no-zero and filled to its last bucket (vmem1 256 MiB, vmem0 the
# rest), the write buffer off. Three times, for the first N MiB of
# vmem1: the overwrite; a discard, then at once the first write, with
# how many of its buckets went unzeroed (provision_stat); the overwrite
# again; a discard, then a bare flush (fsync of vmem1: the commit that
# frees the buckets) and its time, then the first write; a discard,
# then the time until the background zeroer has readied all N buckets
# (zeroed_buckets, polled every 10 ms), then the first write.
# Output: stdout and OUT/reuse.txt.
# shellcheck disable=SC1091 # the guest's copy of the repository
. "$VMEM_REPO/scripts/bench/diag.sh" reuse
now_ns() { date +%s%N; }
# w N [DEV [OFFSET]]: 128k sequential QD32 over N MiB of DEV (vmem1)
# from OFFSET (0); fio's runtime in R, ms
w() {
	local j

	j=$(fio --name=w --filename="${2:-/dev/vmem1}" --offset="${3:-0}" \
		--rw=write --bs=128k --iodepth=32 --ioengine=libaio --direct=1 \
		--size="$1M" --output-format=json 2>/dev/null) ||
		die "fio on ${2:-/dev/vmem1}"
	R=$(jq '.jobs[0].write.runtime' <<<"$j") || die "fio's output"
}
# flush DEV: a bare flush of DEV (an fsync of the block device); its
# time in R, ms
flush() {
	local t0 t1

	t0=$(now_ns)
	dd if=/dev/zero of="$1" bs=4k count=0 conv=fsync,notrunc \
		status=none || die "flush $1"
	t1=$(now_ns)
	R=$(((t1 - t0) / 1000000))
}
# zeroed N: zeroed_buckets has reached N
zeroed() { local z; read -r z <$ctl/zeroed_buckets; ((z >= $1)); }
# ready N: wait until zeroed_buckets reaches N (60 s at most, polled
# every 10 ms); the wait in R, ms
ready() {
	local t0 t1

	t0=$(now_ns)
	WITHIN_STEP=0.01 within 60 zeroed "$1" ||
		die "zeroed_buckets $(cat $ctl/zeroed_buckets), not $1"
	t1=$(now_ns)
	R=$(((t1 - t0) / 1000000))
}
# discard N: discard the first N MiB of vmem1
discard() { blkdiscard -o 0 -l $(($1 << 20)) /dev/vmem1 || die "discard"; }

for rep in 1 2 3; do
	for n in 64 256; do
		w "$n" /dev/vda 1G
		o=$R
		flush /dev/vda
		f=$R
		flush /dev/vda
		say "raw rep $rep N $n MiB: write $o ms; flush $f ms," \
			"flush again $R ms"
	done
done

"$VMEMCTL" format --force --no-zero /dev/vda >/dev/null || die "format"
load_vmem write_buffer=0 || die "insmod"
"$VMEMCTL" attach /dev/vda || die "attach"
"$VMEMCTL" create --id 1 256M >/dev/null || die "create vmem1"
"$VMEMCTL" create --id 0 4G >/dev/null || die "create vmem0"
dd if=/dev/zero of=/dev/vmem1 bs=1M count=256 oflag=direct status=none ||
	die "fill vmem1"
# vmem0 is larger than what is left: it ends with ENOSPC, the pool full
dd if=/dev/zero of=/dev/vmem0 bs=1M oflag=direct status=none 2>/dev/null
say "reuse: provision_stat after the fill: $(cat $ctl/provision_stat)"

for rep in 1 2 3; do
	for n in 64 256; do
		w "$n"
		o=$R
		discard "$n"
		u0=$(unzeroed)
		w "$n"
		f=$R
		u1=$(unzeroed)
		w "$n"
		o2=$R
		discard "$n"
		flush /dev/vmem1
		fl=$R
		u2=$(unzeroed)
		z=$(cat $ctl/zeroed_buckets)
		w "$n"
		c=$R
		u3=$(unzeroed)
		z0=$(cat $ctl/zeroed_buckets)
		discard "$n"
		ready $((z0 + n))
		rd=$R
		w "$n"
		say "rep $rep N $n MiB: overwrite $o ms; discard, first write" \
			"$f ms ($((u1 - u0)) buckets unzeroed); overwrite $o2 ms;" \
			"discard, flush $fl ms (zeroed_buckets $z), first write" \
			"$c ms ($((u3 - u2)) unzeroed); discard, $n buckets" \
			"readied in $rd ms, first write $R ms"
	done
done
say "reuse: commit_stat $(cat $ctl/commit_stat)"
