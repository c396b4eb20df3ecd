#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shell tests of vmemctl on sparse image files.
#
#   vmemctl_test.sh VMEMCTL IMGTOOL FAKECTL FAILMALLOC
#
# IMGTOOL crafts devices and damage in images; FAKECTL is an LD_PRELOAD
# fake of /dev/vmem-control for the online commands; FAILMALLOC one that
# fails malloc() of one size.
#
# Prints exactly "PASS: <name>" or "FAIL: <name>" per test (the reasons
# of a failure go to stderr) and exits non-zero if any test failed.
set -u

V=$(realpath "$1")
IMGTOOL=$(realpath "$2")
FAKECTL=$(realpath "$3")
FAILMALLOC=$(realpath "$4")
T=$(mktemp -d /tmp/vmemctl-test.XXXXXX)
trap 'rm -rf "$T"' EXIT

failed=0
why=()

# run CMD...: sets $rc, $out (stdout) and $err (stderr)
run() {
	out=$("$@" 2>"$T/stderr")
	rc=$?
	err=$(cat "$T/stderr")
}

# Record a failed expectation; the test goes on
bad() {
	why+=("$*")
}

# want_rc N CMD...: run CMD, expect exit code N
want_rc() {
	local want=$1
	shift
	run "$@"
	if [ "$rc" != "$want" ]; then
		bad "'$*' exited $rc, wanted $want; stdout: $out; stderr: $err"
		return 1
	fi
}

# has TEXT STRING: STRING contains TEXT
has() {
	case "$2" in
	*"$1"*) return 0 ;;
	esac
	bad "wanted '$1' in: $2"
	return 1
}

# eq GOT WANT
eq() {
	[ "$1" = "$2" ] || bad "got '$1', wanted '$2'"
}

# match REGEX STRING: a line of STRING matches REGEX
match() {
	printf '%s\n' "$2" | grep -Eq "$1" || bad "no line matching '$1' in: $2"
}

# lacks TEXT STRING
lacks() {
	case "$2" in
	*"$1"*) bad "did not want '$1' in: $2"; return 1 ;;
	esac
}

# Run test function $1 in a directory of its own and print its verdict
t() {
	why=()
	mkdir "$T/$1" && cd "$T/$1" || exit 2
	"$1"
	cd "$T" && rm -rf "${T:?}/$1"
	if [ ${#why[@]} -eq 0 ]; then
		echo "PASS: $1"
	else
		echo "FAIL: $1"
		printf '  %s\n' "${why[@]}" >&2
		failed=$((failed + 1))
	fi
}

# A fresh sparse image of SIZE, formatted with vmemctl (extra args first)
new_pool() {
	local img=$1 size=$2
	shift 2
	rm -f "$img"
	truncate -s "$size" "$img"
	want_rc 0 "$V" format "$@" "$img"
}

sector_off() {
	echo $(($1 * 512 + $2))
}

# ---- help and usage ----

vmemctl_help() {
	local c
	want_rc 0 "$V" --help
	for c in format dump check repair upgrade grow attach detach create resize \
		 budget delete list status scrub help; do
		has "vmemctl $c" "$out"
	done
	for c in format dump check repair upgrade grow attach detach create resize \
		 budget delete list status scrub; do
		want_rc 0 "$V" help "$c" && has "usage: vmemctl $c" "$out"
		want_rc 0 "$V" "$c" --help && has "usage: vmemctl $c" "$out"
	done
	want_rc 0 "$V" help format && has "--bucket-size" "$out" &&
		has "--force" "$out" && has "--max-size" "$out" &&
		has "--layout-version" "$out"
	want_rc 0 "$V" help repair && has "--dry-run" "$out" &&
		has "--drop-unreadable" "$out"
	want_rc 0 "$V" help upgrade && has "--dry-run" "$out"
	want_rc 2 "$V" help nosuch && has "unknown command" "$err"
	want_rc 2 "$V" nosuch && has "unknown command 'nosuch'" "$err"
	want_rc 2 "$V"
}

# ---- format ----

vmemctl_format_check_sparse_10g() {
	local kib
	new_pool p.img 10G || return
	has "buckets:         10239" "$out"
	has "bucket size:     1M" "$out"
	has "map sectors:     166" "$out"
	has "data start:      1M" "$out"
	has "layout:          version 2, metadata copies at sectors 0 and 1024" "$out"
	has "max size:        40G (room for 40982 buckets)" "$out"
	has "usable capacity:" "$out"
	has "size:            10G (10737418240 bytes)" "$out"
	want_rc 0 "$V" check p.img && has "clean" "$out"
	kib=$(du -k p.img | cut -f1)
	[ "$kib" -le 2048 ] || bad "image not sparse: $kib KiB used"
	[ "$(stat -c %s p.img)" = 10737418240 ] || bad "image size changed"
}

vmemctl_format_bucket_sizes() {
	local b n
	for b in 64K 128K 1M 8M 256M 1G; do
		new_pool p.img 10G --bucket-size "$b" || continue
		want_rc 0 "$V" check p.img
		run "$V" dump --json p.img
		n=$(printf '%s' "$out" | jq .superblock.bucket_bytes)
		[ "$n" = "$(numfmt --from=iec "$b")" ] ||
			bad "bucket $b: dump says $n bytes"
	done
	new_pool p.img 10G --bucket-size=2M && has "bucket size:     2M" "$out"
	new_pool p.img 10G -b 4194304 && has "bucket size:     4M" "$out"
	# 1 GiB of buckets needs a little more than 1 GiB
	truncate -s 1G q.img
	want_rc 1 "$V" format -b 1G q.img && has "too small" "$err"
}

vmemctl_format_bad_bucket_sizes() {
	local b
	truncate -s 10G p.img
	for b in 3M 32K 2G 0 96K abc 1X 1.5M -1M ""; do
		want_rc 2 "$V" format --bucket-size "$b" p.img &&
			has "power of two from 64K to 1G" "$err"
	done
	want_rc 2 "$V" format p.img --bucket-size
	has "needs an argument" "$err"
	[ "$(du -k p.img | cut -f1)" = 0 ] || bad "image written"
}

vmemctl_format_usage_errors() {
	truncate -s 1G p.img
	want_rc 2 "$V" format && has "no TARGET" "$err"
	want_rc 2 "$V" format p.img p.img && has "too many arguments" "$err"
	want_rc 2 "$V" format --bogus p.img && has "unknown option" "$err"
	want_rc 2 "$V" format nonexistent.img &&
		has "vmemctl: format: nonexistent.img: No such file" "$err"
	mkdir -p d
	want_rc 2 "$V" format d && has "not a block device or a regular" "$err"
	want_rc 2 "$V" format /dev/null
}

# format zeroes the data area of an image (a punched hole) and marks
# every bucket known-zero; --no-zero does neither
vmemctl_format_zeroes() {
	truncate -s 256M z.img
	dd if=/dev/urandom of=z.img bs=1M seek=8 count=4 conv=notrunc status=none
	want_rc 0 "$V" format --force z.img
	has "data area:       zeroed (hole punched)" "$out"
	eq "$(cmp -s -i 8M -n 4M z.img /dev/zero && echo zero)" zero
	want_rc 0 "$V" dump z.img
	has "255 free (255 known zero)" "$out"
	want_rc 0 "$V" format --force --no-zero z.img
	has "not zeroed (--no-zero)" "$out"
	want_rc 0 "$V" dump z.img
	has "(0 known zero)" "$out"
	want_rc 0 "$V" check z.img
	# What the large-pool system test does: mark the first and last
	want_rc 0 "$IMGTOOL" zeroed z.img 0
	want_rc 0 "$IMGTOOL" zeroed z.img 254
	want_rc 0 "$V" dump z.img
	has "255 free (2 known zero)" "$out"
	want_rc 0 "$V" check z.img
}

vmemctl_format_too_small() {
	truncate -s 1M small.img
	want_rc 1 "$V" format small.img && has "too small" "$err"
	truncate -s 2M small2.img
	want_rc 0 "$V" format small2.img && has "buckets:         1" "$out"
	want_rc 0 "$V" check small2.img
	truncate -s 0 empty.img
	want_rc 1 "$V" format empty.img && has "too small" "$err"
}

vmemctl_format_refuses_pool() {
	local u1 u2
	new_pool p.img 10G || return
	u1=$(printf '%s' "$out" | sed -n 's/.*uuid: *//p')
	want_rc 1 "$V" format p.img &&
		has "holds a vmem pool with 0 devices" "$err" &&
		has "use --force" "$err"
	"$IMGTOOL" dev p.img 0 16 0 1
	"$IMGTOOL" dev p.img 9 32 0 1
	"$IMGTOOL" map p.img 3 1 0
	want_rc 1 "$V" format p.img && has "vmem pool with 2 devices" "$err" &&
		has "1 of 10239 buckets in use" "$err"
	want_rc 0 "$V" format --force p.img && has "overwriting" "$err"
	u2=$(printf '%s' "$out" | sed -n 's/.*uuid: *//p')
	if [ -z "$u1" ] || [ "$u1" = "$u2" ]; then
		bad "uuid not renewed: $u1 $u2"
	fi
	want_rc 0 "$V" check p.img && has "0 devices" "$out"
	# A damaged pool is named too: one copy of the superblock...
	"$IMGTOOL" flip p.img 100
	want_rc 1 "$V" format p.img && has "a vmem pool with 0 devices" "$err" &&
		has "damaged" "$err"
	# ... or both
	"$IMGTOOL" flip p.img $((1024 * 512 + 100))
	want_rc 1 "$V" format p.img && has "damaged vmem pool" "$err"
	# Its first 64 KiB zeroed (copy A gone), copy B whole: named too
	want_rc 0 "$V" format --force p.img
	dd if=/dev/zero of=p.img bs=64k count=1 conv=notrunc status=none
	want_rc 1 "$V" format p.img &&
		has "a vmem pool whose first 64 KiB are zeros (copy B of its superblock at sector 1024)" "$err"
	want_rc 0 "$V" format --force p.img
}

vmemctl_format_refuses_ext4() {
	local sum
	truncate -s 64M fs.img
	mkfs.ext4 -q -F fs.img || { bad "mkfs.ext4 failed"; return; }
	sum=$(md5sum < fs.img)
	want_rc 1 "$V" format fs.img &&
		has "holds an ext2/ext3/ext4 filesystem; use --force" "$err"
	[ "$sum" = "$(md5sum < fs.img)" ] || bad "refused format wrote"
	want_rc 0 "$V" format --force fs.img
	want_rc 0 "$V" check fs.img
}

vmemctl_format_refuses_xfs() {
	truncate -s 512M fs.img
	mkfs.xfs -q -f fs.img || { bad "mkfs.xfs failed"; return; }
	want_rc 1 "$V" format fs.img && has "an XFS filesystem" "$err"
	want_rc 0 "$V" format -f fs.img
}

vmemctl_format_refuses_btrfs() {
	truncate -s 256M fs.img
	mkfs.btrfs -q -f fs.img >/dev/null || { bad "mkfs.btrfs failed"; return; }
	want_rc 1 "$V" format fs.img && has "a btrfs filesystem" "$err"
	want_rc 0 "$V" format -f fs.img
	want_rc 0 "$V" check fs.img
}

vmemctl_format_refuses_unknown() {
	truncate -s 64M u.img
	printf 'hello' | dd of=u.img bs=1 seek=65535 conv=notrunc status=none
	want_rc 1 "$V" format u.img && has "unknown data" "$err"
	want_rc 0 "$V" format --force u.img
}

# ---- check ----

vmemctl_check_flip_superblock() {
	new_pool p.img 10G || return
	"$IMGTOOL" flip p.img 300
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: copy A of superblock 0 (sector 0): checksum mismatch; copy B is good" "$out" &&
		has "1 fault found (damaged copies only" "$out"
	"$IMGTOOL" flip p.img $((1024 * 512 + 300))
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: p.img: superblock: checksum mismatch" "$err"
	# Version 1: one copy
	new_pool p.img 10G --layout-version 1 || return
	"$IMGTOOL" flip p.img 300
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: p.img: superblock: checksum mismatch" "$err"
}

vmemctl_check_flip_devtable() {
	new_pool p.img 10G || return
	"$IMGTOOL" flip p.img "$(sector_off 3 100)"
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: copy A of devtable 2 (sector 3): checksum mismatch; copy B is good" "$out" &&
		has "1 fault found" "$out"
	"$IMGTOOL" flip p.img "$(sector_off 1027 100)"
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: devtable 2 (sectors 3 and 1027): both copies damaged (copy A: checksum mismatch; copy B: checksum mismatch)" "$out" &&
		has "1 fault found" "$out"
	new_pool p.img 10G --layout-version 1 || return
	"$IMGTOOL" flip p.img "$(sector_off 3 100)"
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: devtable 2: checksum mismatch" "$out" &&
		has "1 fault found" "$out"
}

vmemctl_check_flip_map() {
	new_pool p.img 10G || return
	"$IMGTOOL" flip p.img "$(sector_off 1039 77)"
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: copy B of mapsector 5 (sector 1039): checksum mismatch; copy A is good" "$out"
	new_pool p.img 10G --layout-version 1 || return
	"$IMGTOOL" flip p.img "$(sector_off 15 77)"
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: mapsector 5: checksum mismatch" "$out"
	# The last map sector, in its unused tail: one fault
	new_pool p.img 10G --layout-version 1 || return
	"$IMGTOOL" flip p.img "$(sector_off 175 500)"
	want_rc 1 "$V" check p.img &&
		has "mapsector 165: checksum mismatch" "$out" &&
		has "1 fault found" "$out"
}

# A copy B older than its copy A (a crash between their writes) is the
# normal state after a crash: noted, not a fault
vmemctl_check_copy_b_older() {
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 0 160 0 1
	IMGTOOL_COPY=A "$IMGTOOL" map p.img 70 1 3
	want_rc 0 "$V" check p.img &&
		has "note: copy B of mapsector 1 (sector 1035) is older than copy A (a crash between their writes)" "$out" &&
		lacks "vmemctl: check: note" "$out" &&
		has "clean: 10239 buckets of 1024 KiB, 1 used" "$out" &&
		has "(1 copy B older than copy A: attach rewrites it)" "$out"
	want_rc 0 "$V" dump --json p.img &&
		eq "$(printf '%s' "$out" | jq -c '[.copies.count, .copies.b_older, .copies.a_damaged, .faults, .map.used]')" \
		   '[2,1,0,0,1]'
	want_rc 0 "$V" repair p.img &&
		has "restore copy B from copy A" "$out" &&
		has "wrote map sector 1, copy B (sector 1035 of p.img): restored from copy A" "$out"
	want_rc 0 "$V" check p.img && lacks "note" "$out"
}

# A torn superblock A (half old, half new), or a sector 0 wiped: copy B's
vmemctl_check_superblock_copies() {
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 3 160 0 1
	"$IMGTOOL" map p.img 17 5 0
	dd if=/dev/zero of=p.img bs=1 seek=40 count=40 conv=notrunc status=none
	want_rc 1 "$V" check p.img &&
		has "copy A of superblock 0 (sector 0): checksum mismatch; copy B is good" "$out"
	want_rc 0 "$V" dump --json p.img &&
		eq "$(printf '%s' "$out" | jq -c '[.copies.superblock_at, .devices[0].id]')" '[1024,3]'
	# A zero sector 0 names no pool: not a pool for attach and check,
	# restored only when asked
	dd if=/dev/zero of=p.img bs=512 count=1 conv=notrunc status=none
	want_rc 1 "$V" check p.img && has "not a vmem pool" "$err" &&
		has "'vmemctl repair --superblock-from-copy' restores it" "$err"
	want_rc 1 "$V" repair p.img && has "refusing to touch it" "$err"
	# A dry run plans the rest (bucket 17's map entry, made above) as if
	# sector 0 were restored
	want_rc 0 "$V" repair -S -n p.img &&
		has "superblock 0: names no pool: would restore it from copy B at sector 1024" "$out" &&
		has "copy A of superblock 0 (sector 0): bad magic: not a vmem pool; copy B is good: restore copy A from copy B" "$out" &&
		has "bucket 17: " "$out" &&
		has "2 changes planned (dry run: nothing written)" "$out"
	want_rc 1 "$V" check p.img && has "not a vmem pool" "$err"
	want_rc 0 "$V" repair --superblock-from-copy p.img &&
		has "wrote superblock 0, copy A (sector 0 of p.img): restored from copy B" "$out"
	want_rc 0 "$V" check p.img
	want_rc 0 "$V" dump --json p.img &&
		eq "$(printf '%s' "$out" | jq -c '[.copies.superblock_at, .devices[0].id]')" '[0,3]'
	# The magic flipped: the uuid still names the pool
	"$IMGTOOL" flip p.img 9
	want_rc 1 "$V" check p.img &&
		has "copy A of superblock 0 (sector 0): bad magic: not a vmem pool; copy B is good" "$out"
	# Another format over the start: refused, copy B or not
	dd if=/dev/urandom of=p.img bs=64k count=1 conv=notrunc status=none
	want_rc 1 "$V" check p.img && has "not a vmem pool" "$err"
	want_rc 1 "$V" repair p.img && has "refusing to touch it" "$err"
}

vmemctl_check_bad_owner() {
	new_pool p.img 10G || return
	"$IMGTOOL" map p.img 17 5 0
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: bucket 17: bucket owned by a device that does not exist" "$out"
}

vmemctl_check_faults() {
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 1 32 0 1		# 2 buckets
	"$IMGTOOL" dev p.img 2 16 0 3		# deleting
	"$IMGTOOL" map p.img 100 2 1
	"$IMGTOOL" map p.img 200 2 1		# vbucket 1 twice
	"$IMGTOOL" map p.img 300 2 2		# beyond capacity
	want_rc 1 "$V" check p.img &&
		has "device 1: virtual bucket mapped twice" "$out" &&
		has "bucket 300: bucket mapped beyond its device's capacity" \
			"$out" &&
		has "device 2: device deletion was interrupted" "$out" &&
		has "3 faults found" "$out"
}

vmemctl_check_clean_with_devices() {
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 0 160 4 1
	"$IMGTOOL" dev p.img 254 16 0 1
	"$IMGTOOL" map p.img 0 1 9
	"$IMGTOOL" map p.img 10238 255 0
	want_rc 0 "$V" check p.img &&
		has "2 used, 10237 free, 2 devices" "$out"
}

# A feature flag the module does not know for writing: it refuses the
# pool (it attaches read-write only), so check calls it a fault
vmemctl_check_ro_compat() {
	new_pool p.img 10G || return
	"$IMGTOOL" rocompat p.img 0x80000000
	want_rc 1 "$V" check p.img &&
		has "vmemctl: check: superblock 0: unknown feature flag, refused read-write (the module attaches a pool read-write only)" "$out" &&
		has "1 fault found" "$out" && lacks "damaged copies only" "$out"
	want_rc 1 "$V" repair -n p.img && has "NOT safe to repair" "$out"
	"$IMGTOOL" rocompat p.img 0
	want_rc 0 "$V" check p.img
}

# --superblock-from-copy checks copy B's superblock as repair checks
# sector 0's before it writes it
vmemctl_repair_sb_from_copy_ro_compat() {
	new_pool p.img 10G || return
	"$IMGTOOL" rocompat p.img 0x80000000
	dd if=/dev/zero of=p.img bs=512 count=1 conv=notrunc status=none
	want_rc 1 "$V" repair -S p.img &&
		has "unknown feature flag, refused read-write: NOT safe to repair" "$out" &&
		has "nothing written" "$out"
	eq "$(head -c 512 p.img | tr -d '\0' | wc -c)" 0
}

# Out of memory for the duplicate-mapping check (a huge map's scratch, 8
# bytes a bucket): not checked is not clean
vmemctl_check_no_dup_memory() {
	new_pool p.img 10G || return
	run env LD_PRELOAD="$FAILMALLOC" FAILMALLOC_SIZE=$((10239 * 8)) \
		ASAN_OPTIONS=verify_asan_link_order=0 "$V" check p.img
	eq "$rc" 2
	has "no memory for the duplicate-mapping check" "$err" &&
		has "p.img: no fault found, but not fully checked" "$out" &&
		lacks "clean" "$out"
	want_rc 0 "$V" check p.img && has "clean" "$out"
}

vmemctl_check_not_vmem() {
	truncate -s 1G z.img
	want_rc 1 "$V" check z.img && has "not a vmem pool" "$err" &&
		has "not formatted" "$err"
	truncate -s 64M fs.img
	mkfs.ext4 -q -F fs.img
	want_rc 1 "$V" check fs.img &&
		has "not a vmem pool: it holds an ext2/ext3/ext4 filesystem" \
			"$err"
	head -c 100 /dev/urandom > tiny.img
	want_rc 1 "$V" check tiny.img &&
		has "not a vmem pool: it holds unknown data" "$err"
	want_rc 2 "$V" check nonexistent.img && has "No such file" "$err"
	want_rc 2 "$V" check /dev/null
	want_rc 2 "$V" check
	want_rc 2 "$V" check z.img z.img
	want_rc 2 "$V" check -x z.img
}

vmemctl_check_truncated() {
	new_pool p.img 10G || return
	truncate -s 4M p.img
	want_rc 1 "$V" check p.img &&
		has "superblock: backing device smaller than the pool" "$err"
	truncate -s 1000 p.img
	want_rc 1 "$V" check p.img
}

# ---- repair ----

# meta_sum IMG: checksum of the metadata area (the first MiB: all that
# repair may write in a 10G pool), far cheaper than of the whole image
meta_sum() {
	head -c 1M "$1" | md5sum
}

# Damage with one safe fix each: an interrupted deletion (device 2, one
# bucket left), a bucket of a device that does not exist, one mapped
# beyond its device's end, a free entry with stray fields
repairable_pool() {
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 1 32 0 1		# 2 buckets
	"$IMGTOOL" dev p.img 2 16 0 3		# deleting
	"$IMGTOOL" map p.img 100 2 0
	"$IMGTOOL" map p.img 101 2 1
	"$IMGTOOL" map p.img 200 3 0		# vmem2's
	"$IMGTOOL" map p.img 400 9 0		# vmem8 does not exist
	"$IMGTOOL" map p.img 500 2 5		# beyond vmem1's end
	"$IMGTOOL" map p.img 700 0 4		# free, stray vbucket
}

vmemctl_repair_dry_run() {
	local sum
	repairable_pool || return
	sum=$(meta_sum p.img)
	want_rc 0 "$V" repair --dry-run p.img &&
		has "bucket 400: would free it: vmem8 vbucket 0" "$out" &&
		has "bucket 500: would free it: vmem1 vbucket 5" "$out" &&
		has "bucket 700: would zero the stray fields of a free entry" \
			"$out" &&
		has "bucket 200: would free it: vmem2 vbucket 0 (interrupted deletion)" \
			"$out" &&
		has "vmem2: would clear its record (deletion finished)" "$out" &&
		has "5 changes planned (dry run: nothing written)" "$out"
	eq "$(meta_sum p.img)" "$sum"
	want_rc 0 "$V" repair -n p.img
	eq "$(meta_sum p.img)" "$sum"
	want_rc 1 "$V" check p.img && has "4 faults found" "$out"
}

vmemctl_repair_fixes() {
	repairable_pool || return
	want_rc 0 "$V" repair p.img &&
		has "device 2: device deletion was interrupted: finish the deletion of vmem2" \
			"$out" &&
		has "bucket 400: will free it" "$out" &&
		has "wrote device-table sector 0, copy A (sector 1 of p.img)" "$out" &&
		has "p.img: repaired: 5 changes; the pool is clean" "$out"
	# the freed entries come after the deleting device's, its record
	# last, copy A then copy B of each
	eq "$(printf '%s\n' "$out" | grep '^wrote' | tail -n 2 | tr '\n' '|')" \
		"wrote device-table sector 0, copy A (sector 1 of p.img)|wrote device-table sector 0, copy B (sector 1025 of p.img)|"
	eq "$(printf '%s\n' "$out" | grep -c '^wrote map sector .*, copy A')" 4
	eq "$(printf '%s\n' "$out" | grep -c '^wrote map sector .*, copy B')" 4
	want_rc 0 "$V" check p.img &&
		has "2 used, 10237 free, 1 device" "$out"
	want_rc 0 "$V" dump --json p.img &&
		eq "$(printf '%s' "$out" | jq -c '[.devices[].id]')" '[1]'
	want_rc 0 "$V" repair p.img &&
		has "p.img: clean; nothing to repair" "$out"
}

vmemctl_repair_clean() {
	local sum
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 0 160 4 1
	"$IMGTOOL" map p.img 0 1 9
	sum=$(meta_sum p.img)
	want_rc 0 "$V" repair p.img && has "clean; nothing to repair" "$out"
	eq "$(meta_sum p.img)" "$sum"
}

# Anything without one safe fix: refused, and nothing is written even
# when other faults could be fixed
vmemctl_repair_refuses() {
	local sum
	repairable_pool || return
	"$IMGTOOL" map p.img 300 2 1		# vmem1 vbucket 1 twice
	sum=$(meta_sum p.img)
	want_rc 1 "$V" repair p.img &&
		has "device 1: virtual bucket mapped twice: NOT safe to repair" \
			"$out" &&
		has "p.img: 1 of 5 faults not safe to repair; nothing written" \
			"$out"
	lacks "wrote" "$out"
	eq "$(meta_sum p.img)" "$sum"

	# Version 2: damaged in both copies; version 1: in its one copy
	local v b
	for v in 2 1; do
		b=0
		[ $v = 2 ] && b=1024
		new_pool p.img 10G --layout-version $v || return
		"$IMGTOOL" flip p.img 300
		[ $v = 2 ] && "$IMGTOOL" flip p.img $((b * 512 + 300))
		sum=$(meta_sum p.img)
		want_rc 1 "$V" repair p.img &&
			has "superblock 0: checksum mismatch: NOT safe to repair" "$out"
		eq "$(meta_sum p.img)" "$sum"

		new_pool p.img 10G --layout-version $v || return
		"$IMGTOOL" flip p.img "$(sector_off 3 100)"
		[ $v = 2 ] && "$IMGTOOL" flip p.img "$(sector_off $((b + 3)) 100)"
		sum=$(meta_sum p.img)
		want_rc 1 "$V" repair p.img &&
			has "devtable 2" "$out" && has "NOT safe to repair" "$out"
		eq "$(meta_sum p.img)" "$sum"

		new_pool p.img 10G --layout-version $v || return
		"$IMGTOOL" map p.img 100 2 0
		"$IMGTOOL" dev p.img 1 32 0 1
		"$IMGTOOL" flip p.img "$(sector_off 15 77)"
		[ $v = 2 ] && "$IMGTOOL" flip p.img "$(sector_off $((b + 15)) 77)"
		sum=$(meta_sum p.img)
		want_rc 1 "$V" repair p.img &&
			has "mapsector 5" "$out" && has "NOT safe to repair" "$out"
		[ $v = 2 ] && has "--drop-unreadable" "$out"
		eq "$(meta_sum p.img)" "$sum"
	done
}

# Version 2: every damaged copy is restored from the other; copies A are
# written first, then copies B; the entry fixes after, to both copies
vmemctl_repair_copies() {
	local sum
	repairable_pool || return
	"$IMGTOOL" flip p.img 300				# superblock A
	"$IMGTOOL" flip p.img "$(sector_off 1026 40)"		# devtable 1, B
	"$IMGTOOL" flip p.img "$(sector_off 20 40)"		# mapsector 10, A
	IMGTOOL_COPY=B "$IMGTOOL" map p.img 1000 2 1		# B differs: older
	want_rc 1 "$V" check p.img && has "7 faults found" "$out"
	sum=$(meta_sum p.img)
	want_rc 0 "$V" repair -n p.img &&
		has "copy A of superblock 0 (sector 0): checksum mismatch; copy B is good: restore copy A from copy B" "$out" &&
		has "copy B of devtable 1 (sector 1026): checksum mismatch; copy A is good: restore copy B from copy A" "$out" &&
		has "copy A of mapsector 10 (sector 20): checksum mismatch; copy B is good: restore copy A from copy B" "$out" &&
		has "copy B of mapsector 16 (sector 1050) is older than copy A (a crash between their writes): restore copy B from copy A" "$out" &&
		has "9 changes planned" "$out"
	eq "$(meta_sum p.img)" "$sum"
	want_rc 0 "$V" repair p.img &&
		has "p.img: repaired: 9 changes; the pool is clean" "$out"
	eq "$(printf '%s\n' "$out" | grep '^wrote' | head -n 4 | tr '\n' '|')" \
		"wrote superblock 0, copy A (sector 0 of p.img): restored from copy B|wrote map sector 10, copy A (sector 20 of p.img): restored from copy B|wrote device-table sector 1, copy B (sector 1026 of p.img): restored from copy A|wrote map sector 16, copy B (sector 1050 of p.img): restored from copy A|"
	want_rc 0 "$V" check p.img && lacks "copy" "$out"
}

# A map sector lost in both copies: only --drop-unreadable, and it says so
vmemctl_repair_drop_unreadable() {
	local sum
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 0 1600 0 1
	"$IMGTOOL" dev p.img 1 1600 0 1
	"$IMGTOOL" map p.img 130 1 7
	"$IMGTOOL" map p.img 131 2 7
	"$IMGTOOL" map p.img 500 1 8
	"$IMGTOOL" flip p.img "$(sector_off 12 77)"
	"$IMGTOOL" flip p.img "$(sector_off 1036 300)"
	want_rc 1 "$V" check p.img &&
		has "mapsector 2 (sectors 12 and 1036): both copies damaged" "$out"
	sum=$(meta_sum p.img)
	want_rc 1 "$V" repair p.img &&
		has "NOT safe to repair: its map entries are lost ('vmemctl repair --drop-unreadable' frees its buckets" "$out"
	eq "$(meta_sum p.img)" "$sum"
	want_rc 0 "$V" repair --drop-unreadable --dry-run p.img &&
		has "drop it: would rewrite it empty; its buckets 124..185 become free" "$out"
	eq "$(meta_sum p.img)" "$sum"
	want_rc 0 "$V" repair --drop-unreadable p.img &&
		has "wrote map sector 2, copy A (sector 12 of p.img)" "$out" &&
		has "wrote map sector 2, copy B (sector 1036 of p.img)" "$out"
	want_rc 0 "$V" check p.img && has "1 used" "$out"
	want_rc 0 "$V" dump --json p.img &&
		eq "$(printf '%s' "$out" | jq -c '[.devices[].used_buckets]')" '[1,0]'
}

# Killed before each of its writes, repair leaves a pool that a second
# repair finishes (and that check accepts, or names only copies)
vmemctl_repair_killed() {
	local k n
	command -v strace >/dev/null || { echo "(no strace: skipped)" >&2; return; }
	repairable_pool || return
	"$IMGTOOL" flip p.img 300
	"$IMGTOOL" flip p.img "$(sector_off 1026 40)"
	cp p.img base.img
	run "$V" repair -n p.img
	n=$(printf '%s\n' "$out" | grep -c ' restore \| free it\| zero it\| clear its')
	[ "$n" -ge 5 ] || bad "only $n changes planned"
	for k in $(seq 1 14); do
		cp base.img p.img
		(strace -f -o /dev/null -e inject=pwrite64:signal=SIGKILL:when=$k \
			"$V" repair p.img >/dev/null 2>&1; true) 2>/dev/null
		want_rc 0 "$V" repair p.img
		want_rc 0 "$V" check p.img
	done
}

# A repair that restores a copy and also changes that sector (an
# interrupted deletion whose copy B is older), its writes each torn in
# turn (stopped before it, its sector then damaged): every sector keeps
# one valid copy, and repair finishes the job
vmemctl_repair_torn() {
	local k offs off
	command -v strace >/dev/null || { bad "no strace"; return; }
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 1 32 0 1
	"$IMGTOOL" map p.img 100 2 0
	"$IMGTOOL" map p.img 101 2 1
	IMGTOOL_COPY=A "$IMGTOOL" dev p.img 1 32 0 3	# deleting, in copy A
	cp p.img base.img
	strace -f -s 0 -e trace=pwrite64 -o trace "$V" repair p.img \
		>/dev/null 2>&1
	offs=$(sed -n 's/.*pwrite64(.*, \([0-9]*\)) *= .*/\1/p' trace)
	[ "$(wc -w <<<"$offs")" -ge 4 ] || { bad "writes: $offs"; return; }
	k=0
	for off in $offs; do
		k=$((k + 1))
		cp base.img p.img
		(strace -f -o /dev/null -e inject=pwrite64:signal=SIGKILL:when=$k \
			"$V" repair p.img >/dev/null 2>&1; true) 2>/dev/null
		"$IMGTOOL" flip p.img $((off + 40))
		run "$V" check p.img
		case "$out" in
		*"both copies damaged"*)
			bad "write $k (at $off) torn: a sector lost in both copies" ;;
		esac
		want_rc 0 "$V" repair p.img
		want_rc 0 "$V" check p.img
	done
}

vmemctl_repair_not_vmem() {
	local sum
	truncate -s 1G z.img
	want_rc 1 "$V" repair z.img && has "not a vmem pool" "$err"
	truncate -s 64M fs.img
	mkfs.ext4 -q -F fs.img
	sum=$(md5sum <fs.img)
	want_rc 1 "$V" repair fs.img &&
		has "it holds an ext2/ext3/ext4 filesystem; refusing to touch it" \
			"$err"
	eq "$(md5sum <fs.img)" "$sum"
	want_rc 2 "$V" repair nonexistent.img && has "No such file" "$err"
	want_rc 2 "$V" repair
	want_rc 2 "$V" repair z.img z.img
	want_rc 2 "$V" repair -x z.img && has "unknown option '-x'" "$err"
	# inside a cluster: named itself, not by the argument before it
	want_rc 2 "$V" repair -xn z.img && has "unknown option '-x'" "$err"
	want_rc 2 "$V" repair --bogus z.img &&
		has "unknown option '--bogus'" "$err"
	want_rc 2 "$V" repair --dry-run -xn z.img &&
		has "unknown option '-x'" "$err"
}

# ---- upgrade ----

# A version 1 pool with devices, mapped buckets and data where they are
v1_pool() {
	new_pool p.img 10G --layout-version 1 || return
	"$IMGTOOL" dev p.img 0 160 4 1
	"$IMGTOOL" dev p.img 9 32 0 3		# an interrupted deletion
	"$IMGTOOL" map p.img 0 1 9
	"$IMGTOOL" map p.img 200 10 1
	"$IMGTOOL" map p.img 10238 1 0
	printf 'bucket zero' | dd of=p.img bs=1 seek=$((1 << 20)) conv=notrunc status=none
}

vmemctl_upgrade() {
	local j1 j2
	v1_pool || return
	want_rc 0 "$V" dump --json p.img || return
	j1=$(printf '%s' "$out" | jq -c '[.devices, .map, .superblock.data_start_bytes, .superblock.nr_buckets, .superblock.uuid]')
	eq "$(printf '%s' "$out" | jq -c '[.superblock.version, .copies.count]')" '[1,1]'
	want_rc 0 "$V" upgrade --dry-run p.img &&
		has "copy B at sectors 1024..2047, map room for 62868 buckets; data area unchanged" "$out" &&
		has "dry run: nothing written" "$out"
	want_rc 1 "$V" check p.img &&	# still version 1
		has "deletion was interrupted" "$out"
	want_rc 0 "$V" upgrade p.img &&
		has "wrote copy B: device table and map (sectors 1025..1199)" "$out" &&
		has "wrote copy B: superblock (version 2) (sectors 1024..1024)" "$out" &&
		has "wrote copy A: superblock (version 2) (sectors 0..0)" "$out" &&
		has "p.img: upgraded to layout version 2" "$out"
	want_rc 1 "$V" check p.img && has "device 9: device deletion was interrupted" "$out"
	lacks "copy" "$out"
	want_rc 0 "$V" dump --json p.img || return
	j2=$(printf '%s' "$out" | jq -c '[.devices, .map, .superblock.data_start_bytes, .superblock.nr_buckets, .superblock.uuid]')
	eq "$j2" "$j1"
	eq "$(printf '%s' "$out" | jq -c '[.superblock.version, .copies.count, .superblock.copy_b_sector, .superblock.max_buckets]')" '[2,2,1024,62868]'
	eq "$(dd if=p.img bs=1 skip=$((1 << 20)) count=11 status=none)" "bucket zero"
	want_rc 0 "$V" upgrade p.img && has "already layout version 2" "$out"
	want_rc 0 "$V" repair p.img
	want_rc 0 "$V" check p.img
}

vmemctl_upgrade_refuses() {
	local sum
	# A map of more than 1014 sectors leaves no room before the data
	new_pool p.img 100G --layout-version 1 --bucket-size 64K || return
	sum=$(meta_sum p.img)
	want_rc 1 "$V" upgrade p.img &&
		has "leaves no room for a second copy before the data area" "$err"
	eq "$(meta_sum p.img)" "$sum"
	# Damage: repair first
	v1_pool || return
	"$IMGTOOL" map p.img 300 40 0
	sum=$(meta_sum p.img)
	want_rc 1 "$V" upgrade p.img && has "repair the pool first" "$err"
	eq "$(meta_sum p.img)" "$sum"
	truncate -s 1G z.img
	want_rc 1 "$V" upgrade z.img && has "not a vmem pool" "$err"
	want_rc 2 "$V" upgrade
	want_rc 2 "$V" upgrade -x p.img
}

# Killed before each of its writes, or with superblock A torn: the pool
# checks as version 1 or as version 2, devices and map the same
vmemctl_upgrade_killed() {
	local k j1 j
	command -v strace >/dev/null || { echo "(no strace: skipped)" >&2; return; }
	v1_pool || return
	"$IMGTOOL" dev p.img 9 0 0 0		# no deletion pending: clean
	"$IMGTOOL" map p.img 200 0 0
	cp p.img base.img
	j1=$(run "$V" dump --json p.img; printf '%s' "$out" | jq -c '[.devices, .map]')
	for k in 1 2 3 4; do
		cp base.img p.img
		(strace -f -o /dev/null -e inject=pwrite64:signal=SIGKILL:when=$k \
			"$V" upgrade p.img >/dev/null 2>&1; true) 2>/dev/null
		want_rc 0 "$V" check p.img
		run "$V" dump --json p.img
		j=$(printf '%s' "$out" | jq -c '[.superblock.version, (.devices | length)]')
		case $k in
		1|2|3) eq "$j" "[1,1]" ;;
		*) eq "$j" "[2,1]" ;;
		esac
		eq "$(printf '%s' "$out" | jq -c '[.devices, .map]')" "$j1"
		want_rc 0 "$V" upgrade p.img
		want_rc 0 "$V" check p.img
	done
	# Superblock A torn: the start of the version 2 one over the version
	# 1 one (its fields sit in its first 112 bytes: a tear past them
	# leaves one whole superblock or the other)
	cp base.img p.img
	(strace -f -o /dev/null -e inject=pwrite64:signal=SIGKILL:when=3 \
		"$V" upgrade p.img >/dev/null 2>&1; true) 2>/dev/null
	dd if=p.img of=p.img bs=64 skip=$((1024 * 8)) count=1 conv=notrunc status=none
	want_rc 1 "$V" check p.img &&
		has "copy A of superblock 0 (sector 0): checksum mismatch; copy B is good" "$out"
	run "$V" dump --json p.img
	eq "$(printf '%s' "$out" | jq -c '[.superblock.version, .copies.superblock_at]')" "[2,1024]"
	eq "$(printf '%s' "$out" | jq -c '[.devices, .map]')" "$j1"
	want_rc 0 "$V" repair p.img
	want_rc 0 "$V" check p.img
}

# ---- grow ----

# A 2 GiB pool with a device, two mapped buckets (one the last) and data
grow_pool() {
	new_pool p.img 2G || return
	"$IMGTOOL" dev p.img 0 160 0 1
	"$IMGTOOL" map p.img 5 1 1
	"$IMGTOOL" map p.img 2046 1 2
	printf 'bucket five' | dd of=p.img bs=1 seek=$((6 << 20)) conv=notrunc status=none
}

grow_view() {
	run "$V" dump --json p.img
	printf '%s' "$out" | jq -c '[.devices, .map.used, .superblock.nr_buckets, .map.zeroed]'
}

vmemctl_grow_offline() {
	local sum
	grow_pool || return
	eq "$(grow_view)" '[[{"id":0,"capacity_bytes":10485760,"budget_buckets":0,"budget_bytes":0,"used_buckets":2,"used_bytes":2097152,"deleting":false}],2,2047,2045]'
	truncate -s 6G p.img
	sum=$(meta_sum p.img)
	want_rc 0 "$V" grow --offline --dry-run p.img &&
		has "p.img: 2047 to 6143 buckets (2G to 6G of data), map sectors 34 to 100" "$out" &&
		has "dry run: nothing written" "$out"
	eq "$(meta_sum p.img)" "$sum"
	want_rc 0 "$V" grow --offline p.img &&
		has "wrote copy A: new map sectors (sectors 44..109)" "$out" &&
		has "wrote copy B: new map sectors (sectors 1068..1133)" "$out" &&
		has "wrote copy A: superblock (sectors 0..0)" "$out" &&
		has "wrote copy B: superblock (sectors 1024..1024)" "$out" &&
		has "p.img: grown to 6143 buckets" "$out"
	want_rc 0 "$V" check p.img && has "clean: 6143 buckets" "$out" &&
		has "2 used" "$out"
	# The new buckets are free and not marked zero: zeroed on first use
	eq "$(grow_view)" '[[{"id":0,"capacity_bytes":10485760,"budget_buckets":0,"budget_bytes":0,"used_buckets":2,"used_bytes":2097152,"deleting":false}],2,6143,2045]'
	eq "$(dd if=p.img bs=1 skip=$((6 << 20)) count=11 status=none)" "bucket five"
	want_rc 0 "$V" grow --offline p.img &&
		has "the pool already spans 6442450944 bytes; nothing to add" "$out"
	# Up to the map's room (4 times 2G by default), not beyond
	truncate -s 20G p.img
	want_rc 0 "$V" grow --offline p.img && has "grown to 8246 buckets" "$out"
	want_rc 0 "$V" grow --offline p.img && has "the map's room is full" "$out"
	want_rc 0 "$V" check p.img && has "clean: 8246 buckets" "$out"
}

vmemctl_grow_size() {
	grow_pool || return
	truncate -s 6G p.img
	want_rc 0 "$V" grow --offline --size 3G p.img && has "grown to 3071 buckets" "$out"
	want_rc 1 "$V" grow --offline --size 2G p.img && has "a pool cannot shrink" "$err"
	want_rc 1 "$V" grow --offline --size 7G p.img && has "is beyond its end" "$err"
	want_rc 0 "$V" check p.img && has "clean: 3071 buckets" "$out"
	want_rc 0 "$V" grow --offline p.img && has "grown to 6143 buckets" "$out"
}

vmemctl_grow_refuses() {
	local sum
	# Version 1: no room
	new_pool p.img 2G --layout-version 1 || return
	truncate -s 4G p.img
	sum=$(meta_sum p.img)
	want_rc 1 "$V" grow --offline p.img &&
		has "layout version 1 keeps no room for the map to grow; run 'vmemctl upgrade' first" "$err"
	eq "$(meta_sum p.img)" "$sum"
	# Damage: repair first
	grow_pool || return
	"$IMGTOOL" map p.img 300 40 0
	truncate -s 4G p.img
	sum=$(meta_sum p.img)
	want_rc 1 "$V" grow --offline p.img && has "repair the pool first" "$err"
	eq "$(meta_sum p.img)" "$sum"
	# A damaged copy is damage too
	grow_pool || return
	"$IMGTOOL" flip p.img "$(sector_off 1035 40)"
	truncate -s 4G p.img
	want_rc 1 "$V" grow --offline p.img && has "repair the pool first" "$err"
	# So is a copy B older than copy A (a crash between their writes):
	# a torn write of copy A's block would roll the sector back
	grow_pool || return
	IMGTOOL_COPY=A "$IMGTOOL" map p.img 7 1 3
	truncate -s 4G p.img
	sum=$(meta_sum p.img)
	want_rc 1 "$V" grow --offline p.img &&
		has "1 sector whose copy B is older than copy A" "$err" &&
		has "run vmemctl repair first" "$err"
	eq "$(meta_sum p.img)" "$sum"
	want_rc 0 "$V" repair p.img
	want_rc 0 "$V" grow --offline p.img && has "grown to" "$out"
	truncate -s 1G z.img
	want_rc 1 "$V" grow --offline z.img && has "not a vmem pool" "$err"
	want_rc 2 "$V" grow --offline
	want_rc 2 "$V" grow --offline p.img p.img
	want_rc 2 "$V" grow --offline --auto p.img
	want_rc 2 "$V" grow --dry-run
	want_rc 2 "$V" grow p.img && has "a TARGET needs --offline" "$err"
	want_rc 2 "$V" grow --size 0 --offline p.img
	want_rc 2 "$V" grow -x
}

# Killed before each of its writes: the pool checks clean at its old size
# or its new one, devices and data the same, and a second grow finishes
vmemctl_grow_killed() {
	local k j1 n
	command -v strace >/dev/null || { echo "(no strace: skipped)" >&2; return; }
	grow_pool || return
	truncate -s 6G p.img
	cp p.img base.img
	j1=$(run "$V" dump --json p.img; printf '%s' "$out" | jq -c '[.devices, .map.used]')
	for k in 1 2 3 4 5; do
		cp base.img p.img
		(strace -f -o /dev/null -e inject=pwrite64:signal=SIGKILL:when=$k \
			"$V" grow --offline p.img >/dev/null 2>&1; true) 2>/dev/null
		want_rc 0 "$V" check p.img
		run "$V" dump --json p.img
		n=$(printf '%s' "$out" | jq -c '.superblock.nr_buckets')
		case $k in
		1|2|3) eq "$n" 2047 ;;
		*) eq "$n" 6143 ;;
		esac
		eq "$(printf '%s' "$out" | jq -c '[.devices, .map.used]')" "$j1"
		want_rc 0 "$V" grow --offline p.img
		want_rc 0 "$V" check p.img && has "clean: 6143 buckets" "$out"
	done
	# Superblock A torn: copy B's, the old size, is taken
	cp base.img p.img
	(strace -f -o /dev/null -e inject=pwrite64:signal=SIGKILL:when=4 \
		"$V" grow --offline p.img >/dev/null 2>&1; true) 2>/dev/null
	"$IMGTOOL" flip p.img 40
	run "$V" dump --json p.img
	eq "$(printf '%s' "$out" | jq -c '[.superblock.nr_buckets, .copies.superblock_at]')" "[2047,1024]"
	want_rc 0 "$V" repair p.img
	want_rc 0 "$V" check p.img && has "clean: 2047 buckets" "$out"
	want_rc 0 "$V" grow --offline p.img && has "grown to 6143 buckets" "$out"
}

# format --max-size: the map's room; --layout-version 1: the old layout
vmemctl_format_max_size() {
	new_pool p.img 10G --max-size 100G || return
	has "max size:        100G (room for 102424 buckets)" "$out"
	has "layout:          version 2, metadata copies at sectors 0 and 2048" "$out"
	has "data start:      2M" "$out"
	want_rc 0 "$V" check p.img
	new_pool p.img 10G --max-size 10G || return
	has "room for 10292 buckets" "$out"
	new_pool p.img 10G --max-size 1G || return
	has "buckets:         1024" "$out"
	want_rc 0 "$V" check p.img
	want_rc 2 "$V" format --max-size 0 p.img
	# Below one bucket: the size asked for is wrong, not the target
	want_rc 2 "$V" format --force --max-size 512K p.img &&
		has "max size 524288 bytes: smaller than one bucket (1024 KiB)" "$err" &&
		lacks "too small" "$err"
	want_rc 2 "$V" format --force --max-size 1M --bucket-size 2M p.img &&
		has "smaller than one bucket (2048 KiB)" "$err"
	want_rc 0 "$V" check p.img
	want_rc 2 "$V" format --force --layout-version 1 --max-size 20G p.img &&
		has "needs layout version 2" "$err"
	want_rc 2 "$V" format --layout-version 3 p.img &&
		has "must be 1 or 2" "$err"
	new_pool p.img 10G --layout-version 1 || return
	has "layout:          version 1, one metadata copy" "$out"
	has "map sectors:     166" "$out"
	want_rc 0 "$V" dump --json p.img &&
		eq "$(printf '%s' "$out" | jq -c '[.superblock.version, .copies.count, .superblock.copy_b_sector]')" '[1,1,0]'
	# 64 KiB buckets: room for 4 times the device moves the data out
	new_pool p.img 10G --bucket-size 64K || return
	has "layout:          version 2, metadata copies at sectors 0 and 16384" "$out"
	want_rc 0 "$V" check p.img
}

# ---- dump ----

vmemctl_dump_json() {
	local j
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 0 16384 10 1	# 1 GiB, budget 10 buckets
	"$IMGTOOL" dev p.img 5 1 0 1		# 64 KiB
	"$IMGTOOL" map p.img 0 1 0
	"$IMGTOOL" map p.img 7 1 63
	"$IMGTOOL" map p.img 99 6 0
	want_rc 0 "$V" dump --json p.img || return
	printf '%s' "$out" | python3 -m json.tool >/dev/null ||
		bad "not JSON: $out"
	j=$(printf '%s' "$out" | jq -c '[(.devices | length),
		.devices[0].id, .devices[0].capacity_bytes,
		.devices[0].budget_bytes, .devices[0].used_buckets,
		.devices[1].id, .devices[1].used_bytes,
		.map.used, .map.free, .superblock.nr_buckets, .faults]')
	[ "$j" = "[2,0,1073741824,10485760,2,5,1048576,3,10236,10239,0]" ] ||
		bad "dump --json: $j"
	# A name JSON must escape
	cp p.img 'a"b\c.img'
	if want_rc 0 "$V" dump -j 'a"b\c.img' &&
	   [ "$(printf '%s' "$out" | jq -r .target)" != 'a"b\c.img' ]; then
		bad "target name not escaped: $out"
	fi
}

vmemctl_dump_text() {
	new_pool p.img 10G || return
	"$IMGTOOL" dev p.img 5 1 0 1
	"$IMGTOOL" map p.img 99 6 0
	want_rc 0 "$V" dump p.img || return
	has "devices: 1" "$out"
	has "map: 10239 buckets, 1 used, 10238 free" "$out"
	printf '%s\n' "$out" | grep -Eq '^ +5 +64K +- +1 +1M +-$' ||
		bad "no row for device 5: $out"
	# Damage: still dumped, with a count
	"$IMGTOOL" map p.img 98 9 0
	want_rc 0 "$V" dump p.img && has "faults: 1" "$out"
	"$IMGTOOL" flip p.img 64
	want_rc 0 "$V" dump p.img && has "faults: 2" "$out" &&
		has "copy state:   1 damaged in copy A, 0 in copy B, 0 in both" "$out"
	"$IMGTOOL" flip p.img $((1024 * 512 + 64))
	want_rc 1 "$V" dump p.img && has "superblock: checksum mismatch" "$err"
	truncate -s 1G z.img
	want_rc 1 "$V" dump z.img && has "not a vmem pool" "$err"
	want_rc 2 "$V" dump
	want_rc 2 "$V" dump --yaml p.img
}

# ---- online commands ----

# Without the module every online command fails cleanly
vmemctl_online_no_module() {
	local msg="vmem module not loaded (no /dev/vmem-control)"
	want_rc 2 "$V" list && has "vmemctl: list: $msg" "$err"
	want_rc 2 "$V" list --json && has "$msg" "$err"
	want_rc 2 "$V" status && has "vmemctl: status: $msg" "$err"
	want_rc 2 "$V" detach && has "$msg" "$err"
	want_rc 2 "$V" create 1G && has "vmemctl: create: $msg" "$err"
	want_rc 2 "$V" create --id 3 --budget 10M 1G && has "$msg" "$err"
	want_rc 2 "$V" resize 0 2G && has "$msg" "$err"
	want_rc 2 "$V" budget 0 none && has "$msg" "$err"
	want_rc 2 "$V" budget 0 1G && has "$msg" "$err"
	want_rc 2 "$V" delete 0 && has "$msg" "$err"
	want_rc 2 "$V" attach /dev/loop0
	[ -b /dev/loop0 ] && has "$msg" "$err"
	[ -z "$out" ] || bad "stdout not empty: $out"
}

# Bad input is refused before the module is asked
vmemctl_online_bad_args() {
	want_rc 2 "$V" create 1000 && has "multiple of 64K" "$err"
	want_rc 2 "$V" create 0 && has "multiple of 64K" "$err"
	want_rc 2 "$V" create 1.5G
	want_rc 2 "$V" create && has "no SIZE" "$err"
	want_rc 2 "$V" create 1G 2G && has "too many" "$err"
	want_rc 2 "$V" create --id 255 1G && has "0 to 254" "$err"
	want_rc 2 "$V" create --id -1 1G
	want_rc 2 "$V" create --id x 1G
	want_rc 2 "$V" create --budget 0 1G && has "'none'" "$err"
	want_rc 2 "$V" create --budget 1Q 1G
	want_rc 2 "$V" create --id
	want_rc 2 "$V" resize 1G && has "missing" "$err"
	want_rc 2 "$V" resize abc 1G && has "device id 'abc'" "$err"
	want_rc 2 "$V" resize 0 100K && has "multiple of 64K" "$err"
	want_rc 2 "$V" budget 0 lots && has "positive size or 'none'" "$err"
	want_rc 2 "$V" budget 255 none
	want_rc 2 "$V" delete 255
	want_rc 2 "$V" delete
	want_rc 2 "$V" delete 1 2
	want_rc 2 "$V" detach now
	want_rc 2 "$V" attach
	want_rc 2 "$V" attach /nonexistent/dev && has "No such file" "$err"
	truncate -s 10M f.img
	want_rc 2 "$V" attach f.img && has "not a block device" "$err" &&
		has "losetup" "$err"
	want_rc 2 "$V" list extra
	want_rc 2 "$V" list --bogus
	want_rc 2 "$V" status --bytes
}

# vmemctl with the fake control device preloaded
fake() {
	LD_PRELOAD=$FAKECTL FAKECTL_STATE=$PWD/state \
	ASAN_OPTIONS=verify_asan_link_order=0 "$V" "$@"
}

# Online commands against the fake control device
vmemctl_online_fake() {
	local hdr='^ID +DEVICE +SIZE +USED +BUCKETS +BUDGET$'
	want_rc 0 fake status && has "not attached" "$out"
	want_rc 0 fake status --json &&
		eq "$(printf '%s' "$out" | jq -c .)" '{"attached":false}'
	want_rc 0 fake list && match "$hdr" "$out"
	want_rc 1 fake create 1G &&
		has "vmemctl: create: new device: No such device (no pool attached)" "$err"
	want_rc 0 fake attach /dev/loop0
	want_rc 1 fake attach /dev/loop0 &&
		has "vmemctl: attach: /dev/loop0: Device or resource busy" "$err"
	want_rc 0 fake create 1G && eq "$out" /dev/vmem0
	want_rc 0 fake create --id 7 --budget 100M 10G && eq "$out" /dev/vmem7
	want_rc 1 fake create -i 7 1G &&
		has "vmemctl: create: vmem7: File exists" "$err"
	if want_rc 0 fake list; then
		eq "$(printf '%s\n' "$out" | wc -l)" 3
		match "$hdr" "$out"
		match '^ 0 /dev/vmem0 +1G +0B +0 +-$' "$out"
		match '^ 7 /dev/vmem7 +10G +3M +3 +100M$' "$out"
	fi
	want_rc 0 fake list --bytes &&
		match '^ 7 /dev/vmem7 10737418240 +3145728 +3 +104857600$' \
			"$out"
	want_rc 0 fake list --json &&
		eq "$(printf '%s' "$out" | jq -c '[(.devices | length),
			.devices[0].budget_bytes, .devices[1].id,
			.devices[1].budget_bytes, .devices[1].used_bytes,
			.devices[1].device]')" \
		   '[2,null,7,104857600,3145728,"/dev/vmem7"]'
	want_rc 0 fake resize 0 2G
	want_rc 1 fake resize 0 1G &&
		has "vmemctl: resize: vmem0: Invalid argument" "$err"
	want_rc 1 fake resize 3 1G &&
		has "vmemctl: resize: vmem3: No such file or directory" "$err"
	want_rc 0 fake budget 0 1G
	want_rc 0 fake list --json &&
		eq "$(printf '%s' "$out" | jq '.devices[0].budget_bytes')" \
		   1073741824
	want_rc 0 fake budget 0 none
	want_rc 0 fake delete 7
	want_rc 1 fake delete 7 && has "vmem7: No such file" "$err"
	if want_rc 0 fake status; then
		has "backing:     /dev/loop0 (7:0)" "$out"
		has "buckets:     10239 total, 0 used, 10239 free" "$out"
		has "devices:     1" "$out"
	fi
	want_rc 0 fake status --json &&
		eq "$(printf '%s' "$out" | jq -c '[.attached, .backing,
			.bucket_bytes, .total_buckets, .devices, .read_only]')" \
		   '[true,"/dev/loop0",1048576,10239,1,false]'
	want_rc 0 fake status && has "state:       read-write" "$out"
	FAKECTL_READ_ONLY=1 want_rc 0 fake status &&
		has "state:       read-only (a metadata write failed" "$out"
	FAKECTL_READ_ONLY=1 want_rc 0 fake status --json &&
		eq "$(printf '%s' "$out" | jq .read_only)" true
	# grow: the fake backing device has FAKECTL_DEV_BUCKETS buckets
	want_rc 0 fake grow && has "nothing to add: the pool already spans its backing device" "$out"
	FAKECTL_DEV_BUCKETS=20000 want_rc 0 fake grow --auto &&
		has "pool not grown (10239 buckets): autogrow is off" "$out"
	FAKECTL_DEV_BUCKETS=20000 want_rc 0 fake grow --auto /dev/loop1 &&
		eq "$out" ""
	FAKECTL_DEV_BUCKETS=20000 FAKECTL_AUTOGROW=1 \
		want_rc 0 fake grow --auto /dev/loop0 &&
		has "pool grown from 10239 to 20000 buckets (room for 40956)" "$out"
	FAKECTL_DEV_BUCKETS=30000 want_rc 0 fake grow --size 25000M &&
		has "pool grown from 20000 to 24999 buckets" "$out"
	FAKECTL_DEV_BUCKETS=30000 want_rc 1 fake grow --size 1G &&
		has "vmemctl: grow: pool: Invalid argument" "$err"
	FAKECTL_DEV_BUCKETS=99999 want_rc 0 fake grow &&
		has "to 40956 buckets" "$out"
	FAKECTL_DEV_BUCKETS=99999 want_rc 0 fake grow &&
		has "the map's room is full (40956 buckets)" "$out"
	want_rc 0 fake status && has "40956 total" "$out"
	FAKECTL_V1=1 want_rc 1 fake grow &&
		has "layout version 1 keeps no room" "$err"
	want_rc 0 fake detach
	want_rc 1 fake detach && has "no pool attached" "$err"
	want_rc 1 fake grow && has "no pool attached" "$err"
	want_rc 0 fake list && eq "$(printf '%s\n' "$out" | wc -l)" 1
}

# Offline commands on a real block device (a loop device over an image)
vmemctl_format_loop_device() {
	local dev
	truncate -s 1G img
	dev=$(losetup -f --show img) || { bad "losetup failed"; return; }
	want_rc 0 "$V" format "$dev" && has "buckets:         1023" "$out"
	want_rc 0 "$V" check "$dev" && has "clean" "$out"
	want_rc 0 "$V" dump --json "$dev" &&
		eq "$(printf '%s' "$out" | jq .target_bytes)" 1073741824
	want_rc 1 "$V" format "$dev" && has "vmem pool with 0 devices" "$err"
	# The file under it: read, but not written behind the device's back
	want_rc 0 "$V" check img
	want_rc 2 "$V" repair img && has "img: it backs $dev" "$err"
	want_rc 2 "$V" format --force img && has "it backs $dev" "$err"
	losetup -d "$dev"
	want_rc 0 "$V" check img
	want_rc 0 "$V" repair img
	# Set up from another mount namespace, through a path that does not
	# exist in this one (sysfs then names the file "/img")
	mkdir ns
	dev=$(unshare -m sh -c "mount --bind '$PWD' '$PWD/ns' && losetup -f --show '$PWD/ns/img'") ||
		{ bad "losetup in another mount namespace failed"; return; }
	want_rc 2 "$V" format --force img && has "img: it backs $dev" "$err"
	losetup -d "$dev"
	# Not root: the loop device cannot be opened, its sysfs path tells
	u=$(mktemp -d /tmp/vmemctl-user.XXXXXX) && chmod 755 "$u" &&
		truncate -s 1G "$u/img" && chown 65534:65534 "$u/img" &&
		dev=$(losetup -f --show "$u/img") ||
		{ bad "losetup of a file of nobody's failed"; rm -rf "$u"; return; }
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$V" format --force "$u/img"
	eq "$rc" 2
	has "$u/img: it backs $dev" "$err"
	losetup -d "$dev"
	rm -rf "$u"
}

# A device of 4 KiB blocks: restoring copy A of map sector 0 and copy B
# of map sector 1 rewrites the block of sectors 8-15 in both copies, as
# attach would; repair warns as attach does, only where blocks are larger
# than a sector
vmemctl_repair_loop_blocks() {
	local dev
	new_pool p.img 1G || return
	"$IMGTOOL" flip p.img "$(sector_off 10 100)"
	"$IMGTOOL" flip p.img "$(sector_off $(("$("$IMGTOOL" copyb p.img)" + 11)) 100)"
	want_rc 0 "$V" repair -n p.img && lacks "warning" "$err"
	dev=$(losetup -f --show --sector-size 4096 p.img) ||
		{ bad "losetup failed"; return; }
	want_rc 0 "$V" repair -n "$dev" &&
		has "$dev: warning: metadata block at sector 8 has sectors to restore in both copies" "$err" &&
		has "2 changes planned" "$out"
	want_rc 0 "$V" repair "$dev" && has "the pool is clean" "$out"
	want_rc 0 "$V" check "$dev"
	losetup -d "$dev"
}

for f in $(declare -F | awk '{ print $3 }' | grep '^vmemctl_'); do
	if [ "$f" = vmemctl_online_no_module ] && [ -e /dev/vmem-control ]; then
		echo "(skipped $f: the vmem module is loaded)" >&2
		continue
	fi
	if [ "$f" = vmemctl_online_fake ] && [ ! -b /dev/loop0 ]; then
		echo "(skipped $f: no /dev/loop0)" >&2
		continue
	fi
	if { [ "$f" = vmemctl_format_loop_device ] ||
	     [ "$f" = vmemctl_repair_loop_blocks ]; } &&
	   ! { [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ] &&
	       command -v losetup >/dev/null; }; then
		echo "(skipped $f: needs root and loop devices)" >&2
		continue
	fi
	t "$f"
done
[ "$failed" -eq 0 ]
