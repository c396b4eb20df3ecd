#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench/burst.sh - what the capped disk's "first write into
# reused buckets, 128k" row measures (BENCHMARKS.md, issue 11). A
# diagnostic beside `make bench`, not a test: it prints times, it checks
# nothing.
#
#   scripts/vm/run --out OUT --disk IMG:1G,write-mbps=125 scripts/bench/burst.sh
#
# The bench writes right after the discard, with about 0.3 s between
# them (its hook and marker job), so the background zeroer has started
# on the freed buckets when the writer comes. This does the same with
# fio alone: a pool formatted --no-zero and filled to its last bucket,
# vmem1 N MiB; three times each for N = 64 and 256: the overwrite of
# vmem1, then one fio job whose prerun discards vmem1 and waits 0.3 s
# and which then writes it (128k sequential, QD32, direct). A sampler
# records, every 3 ms, zeroed_buckets and provision_stat while it runs.
# Per run it prints both rates, their ratio, the buckets the zeroer had
# armed when the writer provisioned its first and the most armed at
# once, and how many of the writer's buckets went unzeroed. The
# samples go to OUT/burst-timeline.txt, in ms from the fio start.
# Output: stdout and OUT/burst.txt.
# shellcheck disable=SC1091 # the guest's copy of the repository
. "$VMEM_REPO/scripts/bench/diag.sh" burst
tl=${VMEM_OUT:-/tmp}/burst-timeline.txt
: >"$tl"
# sampler: "ms zeroed_buckets provision_stat" whenever they change,
# until /tmp/burst.stop exists
sampler() {
	python3 -c '
import os, time
c = "/sys/class/misc/vmem-control/"
last = None
while not os.path.exists("/tmp/burst.stop"):
    z = open(c + "zeroed_buckets").read().strip()
    p = open(c + "provision_stat").read().strip()
    if (z, p) != last:
        print(time.time_ns() // 1000000, z, p, flush=True)
        last = (z, p)
    time.sleep(0.003)
'
}
# w N [PRERUN]: 128k sequential QD32 over the first N MiB of vmem1,
# after PRERUN; MiB/s in R
w() {
	local -a opt=(--name=w --filename=/dev/vmem1 --rw=write --bs=128k
		--iodepth=32 --ioengine=libaio --direct=1 --size="$1M"
		--output-format=json --output=/tmp/burst.json)

	[[ ${2:-} ]] && opt+=(--exec_prerun="$2")
	fio "${opt[@]}" >/dev/null 2>&1 || die "fio"
	R=$(jq '.jobs[0].write.bw / 1024 | floor' /tmp/burst.json) ||
		die "fio's output"
}

"$VMEMCTL" format --force --no-zero /dev/vda >/dev/null || die "format"
load_vmem write_buffer=0 || die "insmod"
"$VMEMCTL" attach /dev/vda || die "attach"
for n in 64 256; do
	for d in 0 1; do
		[[ -e /dev/vmem$d ]] || continue
		"$VMEMCTL" delete $d || die "delete vmem$d"
	done
	"$VMEMCTL" create --id 1 "${n}M" >/dev/null || die "create vmem1"
	"$VMEMCTL" create --id 0 4G >/dev/null || die "create vmem0"
	dd if=/dev/zero of=/dev/vmem1 bs=1M count="$n" oflag=direct \
		status=none ||
		die "fill vmem1"
	# vmem0 is larger than what is left: ENOSPC, the pool full
	dd if=/dev/zero of=/dev/vmem0 bs=1M oflag=direct status=none \
		2>/dev/null
	for rep in 1 2 3; do
		w "$n"
		o=$R
		rm -f /tmp/burst.stop
		sampler >/tmp/burst.s &
		sp=$!
		t0=$(($(date +%s%N) / 1000000))
		u0=$(unzeroed)
		w "$n" "sh -c 'blkdiscard /dev/vmem1; sleep 0.3'"
		f=$R
		u1=$(unzeroed)
		touch /tmp/burst.stop
		wait "$sp"
		read -r p0 _ </sys/class/misc/vmem-control/provision_stat
		# armed when the writer provisioned its first bucket; most
		read -r a m <<<"$(awk -v p=$((p0 - n)) '
			$3 > p && !s { s = 1; a = $2 }
			$2 > m { m = $2 }
			END { print a + 0, m + 0 }' /tmp/burst.s)"
		awk -v t0="$t0" -v h="N $n rep $rep" \
			'BEGIN { print h } { $1 -= t0; print }' \
			/tmp/burst.s >>"$tl"
		say "N $n MiB rep $rep: overwrite $o MiB/s; discard, 0.3 s," \
			"first write $f MiB/s ($(ratio "$f" "$o")x);" \
			"armed at its first bucket $a, most $m;" \
			"$((u1 - u0)) of $n unzeroed"
	done
done
