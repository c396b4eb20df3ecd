#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench/zeroing.sh - the fresh group's first writes against
# dm-thin with and without zeroing, on a disk that offers WRITE ZEROES,
# on one that does not, and on one with capped writes (BENCHMARKS.md,
# issue 11: the ">= 2x dm-thin with zeroing" targets). A diagnostic
# beside `make bench`, not a test: it prints numbers, it checks nothing.
#
#   scripts/vm/run --out OUT --disk IMG:2G scripts/bench/zeroing.sh
#   scripts/vm/run --no-write-zeroes --out OUT --disk IMG:2G \
#           scripts/bench/zeroing.sh
#   scripts/vm/run --out OUT --disk IMG:2G,write-mbps=125 \
#           scripts/bench/zeroing.sh    (writes capped, as the bench's vdb)
#
# Partitions of /dev/vda: a vmem pool formatted --zero (512 MiB, the
# write buffer off), two dm-thin pools with 1 MiB blocks (192 MiB of
# data each, zeroing on and skip_block_zeroing) and 64 MiB of raw disk.
# Five times, for each of the bench's two first-write workloads
# (diag.sh's fio_wl), the targets in an order rotated per repetition: a
# new 64 MiB device (vmem1 once the pool has settled; a new thin
# volume, deleted after, so its blocks are provisioned and zeroed
# again), its first write, then the overwrite; raw is written twice.
# Per repetition the IOPS, vmem's first write over thin's first writes
# and over its own overwrite, and the writes and flushes vmem's first
# write sent to /dev/vda (/proc/diskstats: data, map sectors, commits'
# flushes); then the medians of the ratios.
# Output: stdout and OUT/zeroing.txt.
# shellcheck disable=SC1091 # the guest's copy of the repository
. "$VMEM_REPO/scripts/bench/diag.sh" zeroing
declare -A first over
declare -a ratios

# io: writes and flushes /dev/vda has completed, as "W F"
io() { awk '$3 == "vda" { print $8, $19 }' /proc/diskstats; }

# part N START_MB MB: /dev/vdaN
part() {
	addpart /dev/vda "$1" $(($2 * 2048)) $(($3 * 2048)) || die "addpart $1"
	within 10 test -b "/dev/vda$1" || die "/dev/vda$1 did not appear"
}
# pool NAME DATA META FEATURES: a thin pool with 1 MiB blocks
pool() {
	local len

	dd if=/dev/zero of="$3" bs=64k count=16 oflag=direct status=none ||
		die "clear $3"
	len=$(($(blockdev --getsz "$2") / 2048 * 2048))
	dmsetup create "z-$1" --table "0 $len thin-pool $3 $2 2048 64 $4" ||
		die "thin-pool $1"
}
# target T WORKLOAD: T's first write and overwrite into first[T], over[T]
target() {
	local dev w0 f0 w1 f1

	case $1 in
	vmem)
		new_vmem1
		dev=/dev/vmem1
		;;
	raw) dev=/dev/vda6 ;;
	*)
		dmsetup message "z-$1" 0 "create_thin 1" || die "create_thin $1"
		dmsetup create "z-$1-1" --table "0 131072 thin /dev/mapper/z-$1 1" ||
			die "thin $1"
		dev=/dev/mapper/z-$1-1
		;;
	esac
	read -r w0 f0 <<<"$(io)"
	fio_wl "$2" "$dev"
	first[$1]=$R
	read -r w1 f1 <<<"$(io)"
	[[ $1 != vmem ]] || sent="$((w1 - w0)) writes, $((f1 - f0)) flushes"
	fio_wl "$2" "$dev"
	over[$1]=$R
	case $1 in
	thin*)
		dmsetup remove "z-$1-1" || die "remove thin $1"
		dmsetup message "z-$1" 0 "delete 1" || die "delete_thin $1"
		;;
	esac
}
# median: the median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

modprobe dm-thin-pool || die "modprobe dm-thin-pool"
say "zeroing: /dev/vda write_zeroes_max_bytes" \
	"$(cat /sys/block/vda/queue/write_zeroes_max_bytes)"
part 1 1 512
part 2 513 192
part 3 705 16
part 4 721 192
part 5 913 16
part 6 929 64
pool thin-1M /dev/vda2 /dev/vda3 ""
pool thin-1M-nz /dev/vda4 /dev/vda5 "1 skip_block_zeroing"
"$VMEMCTL" format --force --zero /dev/vda1 >/dev/null || die "format"
load_vmem write_buffer=0 || die "insmod"
"$VMEMCTL" attach /dev/vda1 || die "attach"
say "zeroing: vmem pool $(cat $ctl/total_buckets) buckets," \
	"$(cat $ctl/zeroed_buckets) zeroed"

targets=(vmem thin-1M thin-1M-nz raw)
for rep in 1 2 3 4 5; do
	for wl in 4k 128k; do
		for ((i = 0; i < 4; i++)); do
			target "${targets[(i + rep) % 4]}" "$wl"
		done
		rz=$(ratio "${first[vmem]}" "${first[thin-1M]}")
		rn=$(ratio "${first[vmem]}" "${first[thin-1M-nz]}")
		ro=$(ratio "${first[vmem]}" "${over[vmem]}")
		ratios+=("$wl $rz $rn $ro")
		say "rep $rep $wl: first/overwrite IOPS vmem" \
			"${first[vmem]}/${over[vmem]}, thin-1M" \
			"${first[thin-1M]}/${over[thin-1M]}, thin-1M-nz" \
			"${first[thin-1M-nz]}/${over[thin-1M-nz]}, raw" \
			"${first[raw]}/${over[raw]}; vmem first / thin-1M first" \
			"$rz, / thin-1M-nz first $rn, / vmem overwrite $ro;" \
			"vmem's first write sent $sent"
	done
done
for wl in 4k 128k; do
	m=()
	for c in 2 3 4; do
		m+=("$(printf '%s\n' "${ratios[@]}" | awk -v w="$wl" -v c="$c" \
			'$1 == w { print $c }' | median)")
	done
	say "median $wl: vmem first / thin-1M first ${m[0]}," \
		"/ thin-1M-nz first ${m[1]}, / vmem overwrite ${m[2]}"
done
