#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: pool grow (issue 15), over dm-linear standing in for an LV.
#
#   phase_grow.sh grow     first boot
#   phase_grow.sh reboot   second boot, same disks
#   phase_grow.sh replay   an online grow logged by dm-log-writes (own
#                          disks; see that part below)
#
# Disks: /dev/vda (2 GiB) under dm-linear "lv", holding old data from
# 512 MiB on (the host wrote it: a grown LV's new space is not known to
# be zero); /dev/vdb (5 GiB) under dm-linear "tlv"; at the second boot
# /dev/vdc.. the images of offline grows killed at each write
# ($VMEM_OUT/crash.txt).
#
# grow: a 512 MiB pool on lv; ext4 on vmem0 (3 GiB); vmem1 (8 GiB)
# written raw until the pool is full (ENOSPC); lv extended to 1.5 GiB;
# autogrow off:
# "vmemctl grow --auto" leaves the pool; "vmemctl grow" while ext4 is
# being written; the usage uevent drops to 0; the write that failed with
# ENOSPC succeeds; a 4 KiB write into a new bucket reads zeros around it;
# 384 MiB more of ext4 files in the new space; every file verified, fsck
# clean, detach, vmemctl check clean, attach again at the new size.
#
# reboot: lv at 1.5 GiB attaches at the new size with its files; then on
# tlv: autogrow driven by the dm device's resize uevent (off: nothing;
# on: the pool grows), and the threshold recipe (docs/recipes): the
# pool-usage uevents run vmem-autoextend, which extends tlv and runs
# vmemctl grow, while fio fills a device; no write fails, fio verifies.
set -u
. "$VMEM_REPO/tests/system/lib.sh"
export DM_DISABLE_UDEV=1
ctl=/sys/class/misc/vmem-control
GIB=2097152			# sectors
mode=${1:-grow}

# lv NAME DISK MIB: dm-linear NAME over the first MIB MiB of DISK
lv() {
	local t="0 $(($3 * 2048)) linear $2 0"

	if dmsetup info "$1" >/dev/null 2>&1; then
		dmsetup suspend "$1" && dmsetup load "$1" <<<"$t" &&
			dmsetup resume "$1"
	else
		dmsetup create "$1" <<<"$t"
	fi
}
total() { cat $ctl/total_buckets; }
mark() { dmesg | wc -l; }
klog_since() { dmesg | tail -n +"$(($1 + 1))" | grep -Eq -- "$2"; }

mkdir -p /mnt/fs
# Process substitution needs /dev/fd, which only udev would create here
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
load_vmem || { fail "grow: insmod"; exit 1; }

# Every file of the filesystem holds what $VMEM_OUT/sums says
verify_files() {
	local f want ok=0 n=0

	while read -r want f; do
		n=$((n + 1))
		[ "$(md5sum </mnt/fs/"$f")" = "$want  -" ] || ok=1
	done <"$VMEM_OUT/sums"
	[ "$n" = 28 ] && [ "$ok" = 0 ]
}

if [ "$mode" = grow ]; then
	lv lv /dev/vda 512 || { fail "grow: dm-linear"; exit 1; }
	check "grow: format a 512 MiB pool on dm-linear" \
		"$VMEMCTL" format --no-zero /dev/mapper/lv
	check "grow: attach" "$VMEMCTL" attach /dev/mapper/lv
	check "grow: 511 buckets" test "$(total)" = 511
	"$VMEMCTL" create --id 0 3G >/dev/null &&
		"$VMEMCTL" create --id 1 8G >/dev/null ||
		fail "grow: create vmem0 and vmem1"
	mkfs.ext4 -q -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
		/dev/vmem0 && mount /dev/vmem0 /mnt/fs ||
		fail "grow: ext4 on vmem0"
	head -c 16M /dev/urandom >/tmp/r
	head -c 16M /dev/urandom >/tmp/r2
	for i in 1 2 3 4; do cp /tmp/r /mnt/fs/f$i; done
	sync

	# vmem1 until the pool is full
	err=$(yes vmem1 | dd of=/dev/vmem1 bs=1M iflag=fullblock \
		oflag=direct 2>&1)
	full=$(sed -n 's/^\([0-9]*\)+0 records out.*/\1/p' <<<"$err")
	check "grow: a full pool fails vmem1's writes with ENOSPC" \
		grep -q "No space left on device" <<<"$err"
	check "grow: the pool is full ($(cat $ctl/used_buckets) of $(total))" \
		test "$(cat $ctl/used_buckets)" = 511
	refuse "grow: the same write fails again" "No space left" \
		dd if=/tmp/r of=/dev/vmem1 bs=1M seek="$full" count=16 \
		oflag=direct conv=notrunc status=none

	lv lv /dev/vda 1536
	check "grow: the LV is 1.5 GiB" \
		test "$(blockdev --getsize64 /dev/mapper/lv)" = $((1536 << 20))
	check "grow: autogrow is off by default" test "$(cat $ctl/autogrow)" = 0
	out=$("$VMEMCTL" grow --auto /dev/mapper/lv)
	check "grow: with autogrow off, grow --auto leaves the pool ($out)" \
		test "$(total)" = 511

	# Grow while ext4 is written (in place: no new space needed)
	(for r in 1 2 3; do
		for i in 1 2 3 4; do
			dd if=/tmp/r2 of=/mnt/fs/f$i bs=1M conv=notrunc,fsync \
				status=none || exit 1
		done
	done) &
	wpid=$!
	m=$(mark)
	python3 "$VMEM_REPO/tests/system/uevents.py" /tmp/ev -- \
		"$VMEMCTL" grow >/tmp/grow.out 2>&1
	check "grow: vmemctl grow online ($(cat /tmp/grow.out))" \
		grep -q "pool grown from 511 to 1535 buckets" /tmp/grow.out
	wait $wpid
	check "grow: ext4 written during the grow" test $? = 0
	check "grow: 1535 buckets" test "$(total)" = 1535
	check "grow: the usage uevent drops back to 0 ($(tr '\n' ' ' </tmp/ev))" \
		test "$(tail -n 1 /tmp/ev)" = 0
	check "grow: the log says the pool grew" \
		klog_since "$m" "pool grown from 511 to 1535 buckets"
	check "grow: the log says usage dropped" \
		klog_since "$m" "pool below 80% full again"

	# A new bucket (the first: 511, where old data was) reads zeros
	# around a 4 KiB write; the host checks the disk afterwards
	head -c 4096 /dev/urandom >/tmp/p4k
	dd if=/tmp/p4k of=/dev/vmem1 bs=4096 seek=$((7 << 18)) oflag=direct \
		conv=notrunc,fsync status=none
	check "grow: a new bucket reads zeros where never written" \
		cmp <(dd if=/dev/vmem1 bs=1M skip=$((7 << 10)) count=1 \
			iflag=direct status=none) \
		<(cat /tmp/p4k; head -c $(((1 << 20) - 4096)) /dev/zero)
	cp /tmp/p4k "$VMEM_OUT/p4k"

	check "grow: the write that failed with ENOSPC succeeds" \
		dd if=/tmp/r of=/dev/vmem1 bs=1M seek="$full" count=16 \
		oflag=direct conv=notrunc status=none
	check "grow: and reads back" \
		cmp <(dd if=/dev/vmem1 bs=1M skip="$full" count=16 \
			iflag=direct status=none) /tmp/r

	# 384 MiB more in the filesystem: only the new space has it
	ok=0
	for i in $(seq 5 28); do cp /tmp/r /mnt/fs/f$i || ok=1; done
	sync
	check "grow: 384 MiB more of files in the new space" test $ok = 0
	r=$(md5sum </tmp/r | cut -d' ' -f1)
	r2=$(md5sum </tmp/r2 | cut -d' ' -f1)
	{
		for i in 1 2 3 4; do echo "$r2 f$i"; done
		for i in $(seq 5 28); do echo "$r f$i"; done
	} >"$VMEM_OUT/sums"
	check "grow: every file holds its data" verify_files
	umount /mnt/fs
	check "grow: fsck clean" fsck.ext4 -fn /dev/vmem0
	check "grow: detach" "$VMEMCTL" detach
	check "grow: vmemctl check clean at 1535 buckets" \
		grep -q "clean: 1535 buckets" <<<"$("$VMEMCTL" check /dev/mapper/lv)"
	check "grow: attach again" "$VMEMCTL" attach /dev/mapper/lv
	check "grow: reload keeps 1535 buckets" test "$(total)" = 1535
	mount /dev/vmem0 /mnt/fs && check "grow: files after reload" verify_files
	umount /mnt/fs
	check "grow: detach again" "$VMEMCTL" detach
	exit $T_FAILED
fi

# ---- replay: an online grow under dm-log-writes ----
# /dev/vda: a 1 GiB pool of 64 KiB buckets on a 2 GiB disk; /dev/vdb the
# log. Writes before, during (a writer) and after the grow, each flushed;
# the host replays the log tearing the metadata writes in flight at every
# flush and FUA point (copies_replay.py)
if [ "$mode" = replay ]; then
	modprobe dm-log-writes
	lw=$(blockdev --getsz /dev/vda)
	check "replay: dm-log-writes under the pool" \
		dmsetup create lw --table "0 $lw log-writes /dev/vda /dev/vdb"
	check "replay: attach" "$VMEMCTL" attach /dev/mapper/lw
	t0=$(total)
	"$VMEMCTL" create --id 0 3G >/dev/null || fail "replay: create"
	dmsetup message lw 0 mark start
	check "replay: writes before the grow" \
		fio --ioengine=psync --direct=1 --rw=write --bs=64k --fsync=1 \
		--size=8M --name=w0 --filename=/dev/vmem0 --output=/dev/null
	fio --ioengine=psync --direct=1 --rw=randwrite --bs=64k --fsync=4 \
		--offset=64M --size=64M --name=w1 --filename=/dev/vmem0 \
		--output=/dev/null &
	wpid=$!
	check "replay: grow online" "$VMEMCTL" grow
	wait $wpid
	check "replay: a writer during the grow" test $? = 0
	check "replay: grown ($t0 to $(total) buckets)" \
		test "$(total)" -gt $((t0 * 19 / 10))
	check "replay: writes into the new space" \
		fio --ioengine=psync --direct=1 --rw=write --bs=64k --fsync=1 \
		--offset=1500M --size=16M --name=w2 --filename=/dev/vmem0 \
		--output=/dev/null
	dmsetup message lw 0 mark end
	check "replay: detach" "$VMEMCTL" detach
	check "replay: remove dm-log-writes" dmsetup remove lw
	check "replay: the pool checks clean" "$VMEMCTL" check /dev/vda
	exit $T_FAILED
fi

# ---- reboot ----
lv lv /dev/vda 1536 || { fail "grow: dm-linear"; exit 1; }
check "grow: attach after reboot" "$VMEMCTL" attach /dev/mapper/lv
check "grow: reboot keeps 1535 buckets" test "$(total)" = 1535
mount /dev/vmem0 /mnt/fs && check "grow: files after reboot" verify_files
umount /mnt/fs
check "grow: fsck clean after reboot" fsck.ext4 -fn /dev/vmem0
check "grow: detach after reboot" "$VMEMCTL" detach
check "grow: vmemctl check clean after reboot" "$VMEMCTL" check /dev/mapper/lv

# Offline grows killed at each write ($VMEM_OUT/crash.txt): each
# attaches at the old size or the new one, with vmem0's data, and checks
# clean after detach (attach rewrote the older copy B of the superblock)
while read -r disk want name; do
	if ! "$VMEMCTL" attach "$disk"; then
		fail "crash $name: attach"
		continue
	fi
	check "crash $name: attaches at $want buckets ($(total))" \
		test "$(total)" = "$want"
	check "crash $name: vmem0's data" \
		test "$(head -c 18 /dev/vmem0)" = grow-crash-pattern
	check "crash $name: detach" "$VMEMCTL" detach
	check "crash $name: check clean" "$VMEMCTL" check "$disk"
done <"$VMEM_OUT/crash.txt"

# autogrow, driven by the RESIZE=1 change uevent of the dm device resumed
# with a larger table (as the rule in udev/69-vmem.rules runs it)
lv tlv /dev/vdb 1024 || { fail "grow: dm-linear tlv"; exit 1; }
"$VMEMCTL" format --no-zero /dev/mapper/tlv >/dev/null ||
	fail "grow: format tlv"
check "autogrow: attach" "$VMEMCTL" attach /dev/mapper/tlv
t0=$(total)
coproc RUN { exec python3 "$VMEM_REPO/tests/system/udev_run.py" \
	--match RESIZE=1 \
	-- sh -c '"$0" grow --auto "/dev/$DEVNAME"' \
	"$VMEMCTL"; }
read -r -t 300 line <&"${RUN[0]}"
check "autogrow: listening ($line)" test "$line" = ready
lv tlv /dev/vdb 2048
read -r -t 300 line <&"${RUN[0]}"
check "autogrow: off: the resize event grows nothing ($line)" \
	test "$(total)" = "$t0"
echo 1 >$ctl/autogrow
lv tlv /dev/vdb 3072
read -r -t 300 line <&"${RUN[0]}"
check "autogrow: on: the resize event grows the pool ($t0 to $(total); $line)" \
	test "$(total)" -ge $((t0 * 3))
kill "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
echo 0 >$ctl/autogrow
check "autogrow: detach" "$VMEMCTL" detach
check "autogrow: check clean" "$VMEMCTL" check /dev/mapper/tlv

# The threshold recipe: a 2 GiB pool filled with 2.5 GiB at 48 MB/s, the
# LV extended by 1 GiB at 80%
lv tlv /dev/vdb 2048
"$VMEMCTL" format --force --no-zero /dev/mapper/tlv >/dev/null ||
	fail "recipe: format tlv"
check "recipe: attach" "$VMEMCTL" attach /dev/mapper/tlv
"$VMEMCTL" create --id 0 4G >/dev/null || fail "recipe: create"
cat >/tmp/autoextend.conf <<EOF
VMEM_EXTEND='n=\$((\$(blockdev --getsz /dev/mapper/tlv) + $GIB)); \
[ \$n -le \$(blockdev --getsz /dev/vdb) ] && \
dmsetup suspend tlv && echo "0 \$n linear /dev/vdb 0" | dmsetup load tlv && \
dmsetup resume tlv'
THRESHOLD=80
EOF
t0=$(total)
coproc RUN { VMEM_AUTOEXTEND_CONF=/tmp/autoextend.conf VMEMCTL=$VMEMCTL \
	exec python3 "$VMEM_REPO/tests/system/udev_run.py" \
	--match VMEM_POOL_USAGE="80|90|100" --log /tmp/runs \
	-- "$VMEM_REPO/docs/recipes/vmem-autoextend"; }
read -r -t 300 line <&"${RUN[0]}"
check "recipe: listening ($line)" test "$line" = ready
check "recipe: fio fills 2.5 GiB of a 2 GiB pool, no write failing, verified" \
	fio --name=fill --filename=/dev/vmem0 --rw=write --bs=1M \
	--size=2560M --direct=1 --ioengine=psync --rate=48m \
	--verify=crc32c --do_verify=1 --output=/tmp/fio.out
kill "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
check "recipe: the script ran and extended the pool ($(tr '\n' ';' </tmp/runs) $t0 to $(total) buckets)" \
	test "$(total)" -gt $((t0 * 3 / 2))
check "recipe: every run succeeded" bash -c '! grep -v "^ran 0 " /tmp/runs'
check "recipe: the log names the extends" klog_has "pool grown from"
check "recipe: detach" "$VMEMCTL" detach
check "recipe: check clean" "$VMEMCTL" check /dev/mapper/tlv
exit $T_FAILED
