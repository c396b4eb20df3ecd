#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test of large pools, in a 4 GiB guest. Disks, formatted by the
# runner with only their first and last bucket marked known-zero, so the
# module hands out exactly those two first:
#   /dev/vda  2.5 TiB, 64 KiB buckets: 41.9M buckets, above 2^25
#   /dev/vdb  16 TiB (less 1 MiB, ext4's largest file), 1 MiB buckets
# For each: attach (timed; kernel memory measured around it), a device
# spanning the data area, 4 KiB at the start of its first bucket and at
# the end of its last, read back with the zeros around them, detach,
# attach again, read back, detach. The patterns go to $VMEM_OUT, where
# the runner finds them in the first and last physical bucket.
# Besides PASS/FAIL lines, prints one "large: NAME key=value..." line of
# measures per pool.
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp || exit 1
ctl=/sys/class/misc/vmem-control

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# meminfo: "MemAvailable Slab VmallocUsed", in KiB
meminfo() {
	awk '$1 == "MemAvailable:" { a = $2 } $1 == "Slab:" { s = $2 }
	     $1 == "VmallocUsed:" { v = $2 } END { print a, s, v }' /proc/meminfo
}

# readback: both end buckets of /dev/vmem0 (of $nb buckets of $bucket
# bytes) hold the patterns and zeros
readback() {
	dd if=/dev/vmem0 bs="$bucket" count=1 iflag=direct status=none |
		cmp -s - "first.exp" &&
	dd if=/dev/vmem0 bs="$bucket" skip=$((nb - 1)) count=1 iflag=direct \
		status=none | cmp -s - "last.exp"
}

# pool NAME DISK
pool() {
	local name=$1 disk=$2 t0 t1 t2 a0 s0 v0 a1 s1 v1 attach reattach detach
	local size tib

	sync
	echo 3 >/proc/sys/vm/drop_caches
	read -r a0 s0 v0 <<<"$(meminfo)"
	t0=$(now)
	if ! "$VMEMCTL" attach "$disk"; then
		fail "large $name: attach $disk"
		dmesg | grep -E "vmem: .*$(basename "$disk")" | tail -n 3
		return
	fi
	t1=$(now)
	read -r a1 s1 v1 <<<"$(meminfo)"
	attach=$(secs "$t0" "$t1")
	pass "large $name: attach $disk ($attach s)"
	nb=$(cat $ctl/total_buckets)
	bucket=$(cat $ctl/bucket_bytes)
	size=$((nb * bucket))
	tib=$(blockdev --getsize64 "$disk" | awk '{ printf "%.4f", $1 / 2^40 }')
	check "large $name: only the first and last bucket are known zero" \
		test "$(cat $ctl/zeroed_buckets)" = 2

	check "large $name: create a device of the whole data area" \
		sh -c "$VMEMCTL create --id 0 $size >/dev/null"
	check "large $name: its size" \
		test "$(blockdev --getsize64 /dev/vmem0)" = "$size"
	head -c 4096 /dev/urandom >"$VMEM_OUT/large-$name-first.pat"
	head -c 4096 /dev/urandom >"$VMEM_OUT/large-$name-last.pat"
	head -c $((bucket - 4096)) /dev/zero >z
	cat "$VMEM_OUT/large-$name-first.pat" z >first.exp
	cat z "$VMEM_OUT/large-$name-last.pat" >last.exp
	rm -f z
	check "large $name: write 4 KiB at the start of the first bucket" \
		dd if="$VMEM_OUT/large-$name-first.pat" of=/dev/vmem0 bs=4096 \
			oflag=direct conv=notrunc status=none
	check "large $name: write 4 KiB at the end of the last bucket" \
		dd if="$VMEM_OUT/large-$name-last.pat" of=/dev/vmem0 bs=4096 \
			seek=$((size / 4096 - 1)) oflag=direct conv=notrunc \
			status=none
	check "large $name: two buckets used, none known zero left" \
		test "$(cat $ctl/used_buckets) $(cat $ctl/zeroed_buckets)" = "2 0"
	check "large $name: both ends read back" readback
	check "large $name: a bucket in the middle reads zeros" \
		sh -c "dd if=/dev/vmem0 bs=$bucket skip=$((nb / 2)) count=1 \
			iflag=direct status=none | cmp -s -n $bucket - /dev/zero"

	t0=$(now)
	check "large $name: detach" "$VMEMCTL" detach
	t1=$(now)
	detach=$(secs "$t0" "$t1")
	check "large $name: attach again" "$VMEMCTL" attach "$disk"
	t2=$(now)
	reattach=$(secs "$t1" "$t2")
	check "large $name: both ends read back after attaching again" readback
	check "large $name: still two buckets used" \
		test "$(cat $ctl/used_buckets)" = 2
	check "large $name: detach again" "$VMEMCTL" detach
	rm -f first.exp last.exp

	awk -v n="$name" -v tib="$tib" -v nb="$nb" -v bk="$bucket" \
		-v at="$attach" -v rat="$reattach" -v dt="$detach" \
		-v a="$((a0 - a1))" -v s="$((s1 - s0))" -v v="$((v1 - v0))" \
		'BEGIN {
			k = (s + v) / 1024
			printf "large: %s tib=%s buckets=%d bucket_kib=%d", n, tib, nb, bk / 1024
			printf " attach_s=%s reattach_s=%s detach_s=%s", at, rat, dt
			printf " vmalloc_mib=%.1f slab_mib=%.1f avail_drop_mib=%.1f", v / 1024, s / 1024, a / 1024
			printf " kernel_mib_per_tib=%.2f\n", k / tib
		}'
}

load_vmem || { fail "large: insmod"; exit 1; }
pool 64K /dev/vda
pool 1M /dev/vdb
check "large: rmmod" rmmod vmem
t_summary
