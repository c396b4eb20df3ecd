#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: backing-disk faults. vmem sits on a device-mapper device over each
# pool disk; faults are injected by swapping its table (suspend, load,
# resume) for dm-error segments over chosen areas (page 0, the device
# table, the bucket map, the data buckets) or for dm-flakey (writes fail
# or are dropped, up/down intervals), then swapped back to dm-linear.
#
# Disks: /dev/vda a pool formatted --no-zero (every provisioning zeroes
# its bucket), and optionally /dev/vdb a pool formatted with its data
# area zeroed (buckets handed out without zeroing).
# Args: ROUNDS FLAKEY_SECONDS WRITE_BUFFER_A [WRITE_BUFFER_B]: the write
# buffer setting for the suite on /dev/vda, and for one on /dev/vdb if
# given; each suite runs ROUNDS times, on a freshly formatted pool.
#
# Every faulty I/O must fail with EIO within 60 s (else: a hang), leave
# memory and disk agreeing on what is provisioned, and the pool must work
# again once the fault is gone; a failed metadata write turns the pool
# read-only until it is detached and attached again; the pool must check
# clean offline at the end; the console must show no oops, warning or
# hang report.
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
rounds=$1 flakey_s=$2
cd /tmp || exit 2
FAULTS=0
modprobe dm-flakey
# shellcheck disable=SC2119 # no module parameters
load_vmem || { fail "faults: insmod"; exit 1; }

# table NAME TABLE: load TABLE (lines) into dm device "pool" (one fault
# injected when it is not the plain linear table)
table() {
	# shellcheck disable=SC2015 # the failure branch only reports
	dmsetup suspend pool && dmsetup load pool <<<"$2" &&
		dmsetup resume pool ||
		{ fail "faults: dmsetup table swap ($1)"; return 1; }
	[ "$1" = linear ] || FAULTS=$((FAULTS + 1))
}

linear() { table linear "0 $SZ linear $DISK 0"; }

# segments NAME START LEN [flakey]: dm-error over [START, START+LEN) (or,
# with "flakey", dm-flakey failing only the writes there), linear elsewhere
segments() {
	local s=$2 l=$3 t=
	[ "$s" -gt 0 ] && t="0 $s linear $DISK 0"$'\n'
	if [ "${4:-}" = flakey ]; then
		t+="$s $l flakey $DISK $s 0 3600 1 error_writes"
	else
		t+="$s $l error"
	fi
	[ $((s + l)) -lt "$SZ" ] &&
		t+=$'\n'"$((s + l)) $((SZ - s - l)) linear $DISK $((s + l))"
	table "$1" "$t"
}

flakey() { table flakey "0 $SZ flakey $DISK 0 $*"; }

# ok NAME CMD...: CMD succeeds within 60 s
ok() {
	local name=$1 rc
	shift
	timeout 60 bash -c '"$@"' run "$@"
	rc=$?
	if [ $rc = 0 ]; then pass "$name"; else fail "$name (exit $rc)"; fi
}

used_mem() { cat "/sys/block/vmem$1/vmem/used_buckets"; }
# read_only 0|1 NAME: the pool's read-only state is as given
read_only() {
	check "$2" test "$(cat /sys/class/misc/vmem-control/read_only)" = "$1"
}
# recover NAME: the fault gone, detach (the read-only pool writes
# nothing), check offline, attach again: read-write
recover() {
	linear
	ok "$1: detach" "$VMEMCTL" detach
	check "$1: ... the pool checks clean" "$VMEMCTL" check /dev/mapper/pool
	ok "$1: ... attach" "$VMEMCTL" attach /dev/mapper/pool
	echo "$wb" >/sys/class/misc/vmem-control/write_buffer
	read_only 0 "$1: ... read-write again"
}
pool_used() { cat /sys/class/misc/vmem-control/used_buckets; }
# listed N: "vmemctl list" shows device N
listed() { "$VMEMCTL" list | awk -v id="$1" '$1 == id { f = 1 } END { exit !f }'; }
# Buckets device N holds according to the disk (the BUCKETS column)
used_disk() {
	"$VMEMCTL" dump /dev/mapper/pool | awk -v id="$1" '$1 == id { print $4 }'
}
bucket_io() {	# bucket_io DEV VBUCKET read|cat|write|zero [FILE]
	case $3 in
	read) dd if="$1" of=/dev/null bs=1M skip="$2" count=1 iflag=direct status=none ;;
	cat) dd if="$1" bs=1M skip="$2" count=1 iflag=direct status=none ;;
	write) dd if="${4:-/tmp/pat}" of="$1" bs=1M seek="$2" count=1 oflag=direct status=none ;;
	zero) cmp -s -n 1048576 -i $(($2 << 20)) "$1" /dev/zero ;;
	esac
}

export -f bucket_io
head -c 1M /dev/urandom >/tmp/pat
head -c 1M /dev/urandom >/tmp/pat2

suite() {
	local tag=$1 wb=$2 u
	DISK=$3
	# shellcheck disable=SC2086 # $5: zero or one option
	[ "$4" = 1 ] || "$VMEMCTL" format --force $5 "$DISK" >/dev/null ||
		{ fail "$tag: format"; return; }
	SZ=$(blockdev --getsz "$DISK")
	local data_start_bytes=0 map_sectors=0
	eval "$("$VMEMCTL" dump --json "$DISK" | tr ',{}' '[\n*]' |
		sed -n 's/^ *"\(data_start_bytes\|map_sectors\)": \([0-9]*\)$/\1=\2/p')"
	DS=$((data_start_bytes / 512)) MS=$map_sectors
	echo "0 $SZ linear $DISK 0" | dmsetup create pool ||
		{ fail "$tag: dm-linear over the pool"; return; }

	# --- attach with page 0 unreadable, then with the superblock unwritable
	# (layout version 2: copy B is read, copy A cannot be rewritten)
	segments page0 0 128
	ok "$tag: attach with page 0 unreadable and unwritable attaches read-only" \
		"$VMEMCTL" attach /dev/mapper/pool
	check "$tag: ... and says so in the kernel log" \
		klog_has "cannot read page 0"
	check "$tag: ... having used copy B's superblock" \
		klog_has "using copy B's, at sector"
	read_only 1 "$tag: ... read_only is 1"
	ok "$tag: ... detach" "$VMEMCTL" detach
	flakey 0 3600 1 error_writes
	u=$(dmesg | grep -c "attaching read-only")
	ok "$tag: attach with writes failing attaches read-only" \
		"$VMEMCTL" attach /dev/mapper/pool
	read_only 1 "$tag: ... read_only is 1"
	check "$tag: ... and says so in the kernel log" \
		test "$(dmesg | grep -c "attaching read-only")" = $((u + 1))
	check "$tag: ... a create is refused" \
		sh -c "! $VMEMCTL create --id 0 64M"
	ok "$tag: ... detach" "$VMEMCTL" detach
	linear
	ok "$tag: attach once the fault is gone" \
		"$VMEMCTL" attach /dev/mapper/pool
	echo "$wb" >/sys/class/misc/vmem-control/write_buffer
	"$VMEMCTL" create --id 0 64M >/dev/null
	"$VMEMCTL" create --id 1 64M >/dev/null
	bucket_io /dev/vmem0 0 write && bucket_io /dev/vmem0 1 write

	# --- data reads and writes
	segments data "$DS" $((SZ - DS))
	eio "$tag: read of a provisioned bucket fails with EIO" \
		bucket_io /dev/vmem0 0 read
	ok "$tag: read of an unprovisioned bucket still returns zeros" \
		bucket_io /dev/vmem0 9 zero
	eio "$tag: overwrite of a provisioned bucket fails with EIO" \
		bucket_io /dev/vmem0 1 write /tmp/pat2
	u=$(used_mem 0)
	eio "$tag: first write to a bucket fails with EIO" \
		bucket_io /dev/vmem0 5 write
	linear
	sync /dev/vmem0
	check "$tag: ... and the bucket is provisioned on disk only if in memory" \
		test "$(used_disk 0)" = "$(used_mem 0)"
	ok "$tag: reads work again once the fault is gone" \
		bucket_io /dev/vmem0 0 read
	ok "$tag: writes work again once the fault is gone" \
		bucket_io /dev/vmem0 1 write

	# --- a failed metadata write turns the pool read-only (writes,
	# flushes, discards and changes fail; reads work) until it is
	# detached and attached again; what was flushed before is intact,
	# what was not may be lost, never replaced by foreign data
	sync /dev/vmem0
	segments map 10 "$MS"
	ok "$tag: a write needing a bucket is taken (its map entry waits for a commit)" \
		bucket_io /dev/vmem0 7 write
	eio "$tag: the flush that must commit it fails with EIO" sync /dev/vmem0
	read_only 1 "$tag: ... and the pool is read-only"
	check "$tag: ... says so in the kernel log" klog_has "pool is read-only"
	check "$tag: ... and in vmemctl status" \
		sh -c "$VMEMCTL status | grep -q 'state: *read-only'"
	eio "$tag: ... an overwrite fails with EIO" \
		bucket_io /dev/vmem0 1 write /tmp/pat2
	eio "$tag: ... a discard fails with EIO" \
		blkdiscard -o 0 -l 1048576 /dev/vmem0
	refuse "$tag: ... a create is refused" "Read-only file system" \
		"$VMEMCTL" create --id 5 16M
	check "$tag: ... reads of flushed data work" \
		test "$(bucket_io /dev/vmem0 0 cat | md5sum)" = "$(md5sum </tmp/pat)"
	linear
	eio "$tag: ... writes still fail once the fault is gone" \
		bucket_io /dev/vmem0 1 write /tmp/pat2
	recover "$tag: detach and attach again"
	check "$tag: ... flushed data intact" \
		test "$(head -c 2M /dev/vmem0 | md5sum)" = "$(cat /tmp/pat /tmp/pat | md5sum)"
	check "$tag: ... the unflushed bucket reads as zeros or as written" \
		bash -c "bucket_io /dev/vmem0 7 zero ||
		       test \"\$(bucket_io /dev/vmem0 7 cat | md5sum)\" = \"$(md5sum </tmp/pat)\""
	u=$(used_mem 0)
	ok "$tag: ... a discard of a whole bucket works" \
		blkdiscard -o 0 -l 1048576 /dev/vmem0
	check "$tag: ... and frees it" test "$(used_mem 0)" = $((u - 1))
	bucket_io /dev/vmem0 0 write

	# --- device table writes: a create or resize that cannot be written
	# fails with EIO, changes nothing on disk, and turns the pool
	# read-only
	segments devtable 1 9
	eio "$tag: create fails with EIO when the device table write fails" \
		"$VMEMCTL" create --id 5 16M
	check "$tag: ... and no vmem5 appears" test ! -e /dev/vmem5
	read_only 1 "$tag: ... and the pool is read-only"
	refuse "$tag: ... creating it again is refused as read-only, not as existing" \
		"Read-only file system" "$VMEMCTL" create --id 5 16M
	recover "$tag: ... detach and attach again"
	check "$tag: ... vmem5 is not on disk" \
		sh -c "! $VMEMCTL dump /dev/mapper/pool | awk '\$1 == 5' | grep -q ."
	ok "$tag: create works once the fault is gone" \
		"$VMEMCTL" create --id 5 16M
	segments devtable 1 9
	eio "$tag: resize fails with EIO when the device table write fails" \
		"$VMEMCTL" resize 1 128M
	check "$tag: ... and vmem1 keeps its size" \
		test "$(blockdev --getsize64 /dev/vmem1)" = $((64 << 20))
	recover "$tag: ... detach and attach again"
	check "$tag: ... its size on disk is unchanged" \
		sh -c "$VMEMCTL dump /dev/mapper/pool | awk '\$1 == 1 { exit \$2 != \"64M\" }'"
	ok "$tag: resize works once the fault is gone" \
		"$VMEMCTL" resize 1 128M

	# --- a delete whose first write (the device table) fails changes
	# nothing: the device stays, with its data and buckets, readable
	bucket_io /dev/vmem5 0 write && bucket_io /dev/vmem5 3 write
	sync /dev/vmem5
	u=$(used_mem 5)
	p=$(pool_used)
	segments devtable 1 9
	eio "$tag: delete fails with EIO when the device table write fails" \
		"$VMEMCTL" delete 5
	check "$tag: ... vmem5 is still there" test -b /dev/vmem5
	check "$tag: ... and listed" listed 5
	check "$tag: ... keeps its buckets" \
		test "$(used_mem 5)/$(pool_used)" = "$u/$p"
	check "$tag: ... opens, and its data is intact" \
		test "$(bucket_io /dev/vmem5 3 cat | md5sum)" = "$(md5sum </tmp/pat)"
	recover "$tag: ... detach and attach again"
	check "$tag: ... vmem5 and its data are still there" \
		test "$(bucket_io /dev/vmem5 3 cat | md5sum)" = "$(md5sum </tmp/pat)"
	u=$(used_mem 5)
	p=$(pool_used)
	ok "$tag: delete works once the fault is gone" "$VMEMCTL" delete 5
	check "$tag: ... vmem5 is gone" test ! -e /dev/vmem5
	check "$tag: ... and its $u buckets are free" test "$(pool_used)" = $((p - u))
	ok "$tag: ... and its id can be used again" \
		"$VMEMCTL" create --id 5 16M

	# --- a delete interrupted by a failed map write: the device is gone,
	# its record says "deleting", the pool is read-only; the next attach
	# finishes the deletion
	bucket_io /dev/vmem5 0 write && bucket_io /dev/vmem5 3 write
	sync /dev/vmem5
	segments map 10 "$MS"
	eio "$tag: delete fails with EIO when the map write fails" \
		"$VMEMCTL" delete 5
	read_only 1 "$tag: ... and the pool is read-only"
	check "$tag: ... vmem5 is not there any more" \
		sh -c "test ! -e /dev/vmem5 &&
		       ! $VMEMCTL list | awk '\$1 == 5' | grep -q ."
	# ... an attach while the map still cannot be written (but read)
	# attaches read-only: the deletion is left for later, the other
	# devices' data can be read; deleting vmem5 again is refused
	ok "$tag: ... detach" "$VMEMCTL" detach
	segments mapwrites 10 "$MS" flakey
	u=$(dmesg | grep -c "vmem5 was being deleted; left so on a read-only pool")
	ok "$tag: ... attach with map writes failing attaches read-only" \
		"$VMEMCTL" attach /dev/mapper/pool
	read_only 1 "$tag: ... and the pool is read-only"
	check "$tag: ... the deletion of vmem5 left for later, in the kernel log" \
		test "$(dmesg | grep -c "vmem5 was being deleted; left so on a read-only pool")" = $((u + 1))
	check "$tag: ... vmem0's flushed data reads back" \
		test "$(bucket_io /dev/vmem0 1 cat | md5sum)" = "$(md5sum </tmp/pat)"
	refuse "$tag: ... deleting vmem5 again is refused as read-only" \
		"Read-only file system" "$VMEMCTL" delete 5
	linear
	ok "$tag: ... detach" "$VMEMCTL" detach
	check "$tag: ... and the disk says the deletion was interrupted" \
		sh -c "$VMEMCTL check /dev/mapper/pool >/tmp/chk.out;
		       grep -q 'device 5: device deletion was interrupted' /tmp/chk.out"
	u=$(dmesg | grep -c "finishing the interrupted deletion of vmem5")
	ok "$tag: attach finishes the interrupted deletion" \
		"$VMEMCTL" attach /dev/mapper/pool
	check "$tag: ... says so in the kernel log" \
		test "$(dmesg | grep -c "finishing the interrupted deletion of vmem5")" = $((u + 1))
	check "$tag: ... and vmem5 is gone" test ! -e /dev/vmem5
	check "$tag: ... and off the disk" \
		sh -c "! $VMEMCTL dump /dev/mapper/pool | awk '\$1 == 5' | grep -q ."
	echo "$wb" >/sys/class/misc/vmem-control/write_buffer

	# --- intermittent faults under load: no hang, no oops, pool recovers
	for mode in "1 1" "1 1 1 error_writes" "1 1 1 drop_writes"; do
		flakey "$mode"
		timeout 120 fio --name=flakey --filename=/dev/vmem1 \
			--direct=1 --ioengine=libaio --rw=randrw --bs=64k \
			--size=96M --iodepth=8 --time_based --runtime="$flakey_s" \
			--continue_on_error=all --verify=0 \
			--output=/tmp/fio.out >/dev/null 2>&1
		rc=$?
		errs=$(sed -n 's/.*errors *: total=\([0-9]*\), first_error=\([0-9]*\).*/\1 \2/p' /tmp/fio.out)
		read -r nerr first <<<"${errs:-x x}"
		if [ $rc = 124 ]; then
			fail "$tag: fio under dm-flakey ($mode) ends (hung)"
		elif [ "$nerr" = 0 ] || [ "$first" = 5 ]; then
			EIOS=$((EIOS + nerr))
			pass "$tag: fio under dm-flakey ($mode): ends, errors are EIO ($nerr)"
		else
			fail "$tag: fio under dm-flakey ($mode): ends, errors are EIO ($errs)"
			tail -n 20 /tmp/fio.out >&2
		fi
		linear
	done
	# A metadata write may have failed under the flakey table
	if [ "$(cat /sys/class/misc/vmem-control/read_only)" = 1 ]; then
		echo "faults: the pool turned read-only under dm-flakey"
		recover "$tag: after dm-flakey, detach and attach again"
	fi
	if fio --name=after --filename=/dev/vmem1 --direct=1 \
		--ioengine=libaio --rw=write --bs=256k --size=32M --iodepth=4 \
		--verify=crc32c --verify_fatal=1 --output=/tmp/after.out; then
		pass "$tag: full write and verify after the faults"
	else
		fail "$tag: full write and verify after the faults"
		tail -n 20 /tmp/after.out >&2
	fi
	ok "$tag: detach" "$VMEMCTL" detach
	check "$tag: pool checks clean after all faults" \
		"$VMEMCTL" check /dev/mapper/pool
	ok "$tag: and attaches again" "$VMEMCTL" attach /dev/mapper/pool
	check "$tag: data written before the faults intact" \
		test "$(bucket_io /dev/vmem0 1 cat | md5sum)" = "$(md5sum </tmp/pat)"
	"$VMEMCTL" detach
	dmsetup remove pool
}

onoff() { if [ "$1" = 1 ]; then echo on; else echo off; fi; }
for r in $(seq "$rounds"); do
	rt=
	[ "$rounds" = 1 ] || rt=" round $r"
	suite "faults$rt (no-zero pool, write buffer $(onoff "$3"))" "$3" \
		/dev/vda "$r" --no-zero
	[ -z "${4:-}" ] ||
		suite "faults$rt (zeroed pool, write buffer $(onoff "$4"))" "$4" \
			/dev/vdb "$r" ""
done
check "faults: no oops, warning or hang report" no_kernel_trouble
echo "COUNT: faults injected $FAULTS, I/O errors returned $EIOS"
t_summary
