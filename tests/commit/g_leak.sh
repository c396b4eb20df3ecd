#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: first writes racing device-table writes on a backing device with
# 4 KiB logical blocks, logged by dm-log-writes (issue 11, "Proof", first
# bullet). The host replays the log (tests/reliability/replay.py) and
# checks every flush/FUA point for foreign data.
#
# Disks: /dev/vda a pool of 64 KiB buckets (368 of them: every map entry
# is in map sectors 10..15) formatted --no-zero over random data;
# /dev/vdb the log. Args: SECONDS (how long the race runs).
#
# Stack: vmem -> dm-log-writes -> loop (-b 4096) -> /dev/vda. Every
# metadata write is then rounded up to 4 KiB blocks (meta_io.c): a write
# of any of sectors 8..15 writes table sectors 8 and 9 (devices 217..254)
# and map sectors 10..15 from the in-memory copy. Two racer.py processes
# set the budgets of vmem220 and vmem250 in a loop (each call a table
# write) while fio writes one 4 KiB block into each bucket of vmem0 (each
# write a provisioning, 32 in flight); vmem0 is deleted and created again
# while time is left, so its buckets are freed (they hold its data) and
# reused.
# A map entry that reaches the disk before its bucket was zeroed shows up
# on the host as "bucket N given to vmem0 ... holding foreign data".
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
secs=$1
cd /tmp || exit 2
nbuckets=368

modprobe loop
modprobe dm-log-writes
# The commit path alone: no write buffer (auto would turn it on here)
load_vmem write_buffer=0 || { fail "leak: insmod"; exit 1; }
loop=$(losetup -b 4096 --direct-io=on -f --show /dev/vda) ||
	{ fail "leak: loop device with 4 KiB logical blocks"; exit 1; }
check "leak: backing device has 4 KiB logical blocks" \
	test "$(blockdev --getss "$loop")" = 4096
check "leak: dm-log-writes between vmem and its disk" \
	dmsetup create lw --table "0 $(blockdev --getsz "$loop") log-writes $loop /dev/vdb"
check "leak: attach over dm-log-writes" "$VMEMCTL" attach /dev/mapper/lw
check "leak: create vmem220 and vmem250 (records in table sectors 8 and 9) and vmem0" \
	sh -c "$VMEMCTL create --id 220 1M >/dev/null &&
	       $VMEMCTL create --id 250 1M >/dev/null &&
	       $VMEMCTL create --id 0 $((nbuckets * 64))K >/dev/null"
dmsetup message lw 0 mark start

rm -f /tmp/stop
python3 "$VMEM_REPO/tests/commit/racer.py" 220 /tmp/stop >/tmp/racer1.out 2>&1 &
racer1=$!
python3 "$VMEM_REPO/tests/commit/racer.py" 250 /tmp/stop >/tmp/racer2.out 2>&1 &
racer2=$!
t0=$SECONDS
rounds=0 bad=0
while :; do
	# one 4 KiB write at the start of every bucket
	if ! fio --name=first --filename=/dev/vmem0 --rw=write:60k --bs=4k \
		--size=$((nbuckets * 64))k --direct=1 --ioengine=libaio \
		--iodepth=32 --buffer_pattern=0x5a5a5a5a \
		--output=/tmp/fio.out >/dev/null 2>&1; then
		bad=$((bad + 1))
		tail -n 5 /tmp/fio.out >&2
	fi
	rounds=$((rounds + 1))
	[ $((SECONDS - t0)) -lt "$secs" ] || break
	if ! "$VMEMCTL" delete 0 ||
		! "$VMEMCTL" create --id 0 $((nbuckets * 64))K >/dev/null; then
		bad=$((bad + 1))
		break
	fi
done
touch /tmp/stop
wait "$racer1"
rc=$?
wait "$racer2" || rc=$?
cat /tmp/racer1.out /tmp/racer2.out
echo "leak: $rounds rounds of $nbuckets first writes in $((SECONDS - t0)) s"
check "leak: the racer's table writes all succeeded" test $rc = 0
check "leak: every first write succeeded ($rounds rounds)" test $bad = 0
dmsetup message lw 0 mark end
check "leak: detach" "$VMEMCTL" detach
check "leak: remove dm-log-writes (log complete)" dmsetup remove lw
losetup -d "$loop"
check "leak: vmemctl check clean after detach" "$VMEMCTL" check /dev/vda
check "leak: no kernel warning" no_kernel_trouble
t_summary
