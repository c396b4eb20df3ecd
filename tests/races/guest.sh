#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of tests/races/run. Args: VMEM_KO RACER CYCLES ITERS [trace]
# The pool is /dev/ram0 (brd, sized by run on the kernel command line):
# 64 KiB buckets, so few that a freed bucket is the only free one.
# brd completes a bio in the context that submits it, so the write
# buffer's completions run in a kworker that may sleep in the exit hook.
set -u
# shellcheck source=tests/system/lib.sh
. "$VMEM_REPO/tests/system/lib.sh"
VMEM_KO=$1 racer=$2 cycles=$3 iters=$4
[ "${5:-}" != trace ] || export RACER_TRACE=1
enter_us=100000 exit_us=500000
pat='Oops|BUG:|WARNING:|Call Trace|blocked for more than|KASAN|circular locking|unreferenced object'
cd /tmp || exit 2

# kernel_reports MARK: the kernel's reports logged after line MARK
kernel_reports() { dmesg | tail -n +"$(($1 + 1))" | grep -E "$pat"; }

# give_up WHAT: a scenario's setup failed; the rest cannot run
give_up() {
	fail "races: $1"
	t_summary
	exit 1
}

# scenario NAME MARK RACER_STATUS WHAT: one verdict from the data (the
# racer's status; WHAT says what it found) and the kernel log since MARK
scenario() {
	local name=$1 mark=$2 st=$3 what=$4 n
	n=$(kernel_reports "$mark" | grep -c 'BUG: KASAN')
	if kernel_reports "$mark" >/dev/null; then
		fail "races: $name: kernel report ($n KASAN reports; $what)"
		kernel_reports "$mark" | head -n 4 | sed 's/^/    /'
	elif [ "$st" != 0 ]; then
		fail "races: $name ($what; racer exit $st)"
	else
		pass "races: $name ($what)"
	fi
}

# shellcheck disable=SC2119 # no module parameters
load_vmem || { fail "races: insmod $VMEM_KO"; exit 1; }
if [ ! -w /sys/module/vmem/parameters/hook_io_enter_us ]; then
	fail "races: $VMEM_KO has no test hooks (not built for the debug kernel?)"
	exit 1
fi
if ! "$VMEMCTL" format --bucket-size 64K --no-zero /dev/ram0 >/dev/null ||
	! "$VMEMCTL" attach /dev/ram0 ||
	! "$VMEMCTL" create --id 1 8M >/dev/null ||
	! "$VMEMCTL" create --id 2 256M >/dev/null; then
	fail "races: set up a pool on /dev/ram0"
	exit 1
fi
"$VMEMCTL" status

# a. A write to vmem1 enters the in-flight accounting before a drain of
# vmem1 and looks its bucket up after it; the next drain frees that
# bucket and vmem2 gets it while the write still waits in the write
# buffer (up to 100 ms). The drain must wait for it (racer.c).
"$VMEMCTL" write-buffer on --delay-us 100000 >/dev/null
echo "races: discard drain race: $cycles cycles, hook_io_enter_us=$enter_us"
mark=$(dmesg | wc -l)
"$racer" drain 1 2 "$cycles" "$enter_us" | tee /tmp/drain.out
st=${PIPESTATUS[0]}
scenario "discard drain race: no device reads or holds another's data" "$mark" \
	"$st" "$(sed -n 's/^racer: drain: \([0-9]*\) cycles.*, failed \([0-9]*\);.*/\2 of \1 cycles failed/p' /tmp/drain.out)"
if ! "$VMEMCTL" delete 1 || ! "$VMEMCTL" delete 2; then
	fail "races: delete the drain race's devices"
fi

# b. The device is deleted while its last completion sleeps in the exit
# hook; the old code then touches the freed device
"$VMEMCTL" write-buffer on --delay-us 10000 >/dev/null
echo "races: delete vs I/O: $iters deletes, hook_io_exit_us=$exit_us"
mark=$(dmesg | wc -l)
"$racer" uaf 3 "$iters" "$exit_us" | tee /tmp/uaf.out
st=${PIPESTATUS[0]}
scenario "delete vs I/O: no use-after-free" "$mark" "$st" \
	"$(sed -n 's/^racer: uaf: \([0-9]*\) of \([0-9]*\) deletes succeeded.*/\1 of \2 deletes succeeded/p' /tmp/uaf.out)"

# c. The write buffer opens its next cycle while the flusher, having
# just written the one before, looks at that buffer: the flusher must
# not take the buffer's last cycle (sealed, written) for the new one,
# call the new one done and never write it (its data lost, and switching
# the buffer off then waits forever for its in-flight read sides). The
# hook holds the opening between its two steps; fio verifies every block.
"$VMEMCTL" write-buffer off >/dev/null
if ! "$VMEMCTL" create --id 4 1M >/dev/null ||
	! dd if=/dev/zero of=/dev/vmem4 bs=64k count=16 oflag=direct status=none; then
	give_up "set up vmem4"
fi
"$VMEMCTL" write-buffer on --mb 1 --delay-us 1000 >/dev/null
echo 2000 >/sys/module/vmem/parameters/hook_wb_open_us
echo "races: write buffer cycles: 30 x 1 MiB verified, hook_wb_open_us=2000"
mark=$(dmesg | wc -l)
fio --name=cycles --filename=/dev/vmem4 --direct=1 --ioengine=libaio \
	--rw=write --bs=4k --size=1M --iodepth=16 --loops=30 \
	--verify=crc32c --verify_fatal=1 --output=/tmp/cycles.out >/dev/null 2>&1
st=$?
echo 0 >/sys/module/vmem/parameters/hook_wb_open_us
scenario "write buffer: no cycle skipped while the next one opens" "$mark" \
	"$st" "$(awk '{print $1 " cycles written, " $3 " records"}' \
		/sys/class/misc/vmem-control/write_buffer_stat)"
if [ "$st" != 0 ]; then
	# Switching off would wait for the lost cycle forever
	grep -m 3 -i 'verify\|bad' /tmp/cycles.out
	t_summary
	exit
fi
"$VMEMCTL" write-buffer off >/dev/null
check "races: delete vmem4" "$VMEMCTL" delete 4
check "races: detach" "$VMEMCTL" detach

# d. Module init registers the control device (the pool's uevents come
# from it) before it attaches backing=. An attach through the control
# device meanwhile would race init's; when init then fails, the module
# is freed under the pool that attach made. The hook holds init there;
# the open must be refused, with its log line, and nothing outlive the
# failed load (backing= names a blank disk).
if ! rmmod vmem ||
	! truncate -s 8M /tmp/blank.img /tmp/good.img ||
	! blank=$(losetup -f --show /tmp/blank.img) ||
	! good=$(losetup -f --show /tmp/good.img) ||
	! "$VMEMCTL" format --bucket-size 64K --max-size 64M --no-zero "$good" >/dev/null; then
	give_up "set up two loop disks"
fi
loading() {
	[ "$(cat /sys/module/vmem/initstate 2>/dev/null)" = coming ] &&
		[ -c /dev/vmem-control ]
}
echo "races: module init: attach while the load waits, hook_init_us=5000000"
mark=$(dmesg | wc -l)
insmod "$VMEM_KO" backing="$blank" hook_init_us=5000000 &
ipid=$!
ast=none
if within 60 loading; then
	"$VMEMCTL" attach "$good" >/tmp/attach.out 2>&1
	ast=$?
fi
wait "$ipid"
ist=$?
st=1
if [ "$ast" = none ]; then
	what="the load never showed its control device"
elif [ "$ast" = 0 ]; then
	what="an attach got in while the module loaded"
elif ! dmesg | tail -n +"$((mark + 1))" | grep -q 'still loading'; then
	what="the attach failed, but not at the refused open: $(head -c 200 /tmp/attach.out)"
elif [ "$ist" = 0 ]; then
	what="the load with a blank backing= succeeded"
elif [ -e /sys/module/vmem ] || ls /dev/vmem[0-9]* >/dev/null 2>&1; then
	what="the failed load left the module or a device behind"
else
	what="the open was refused and the load failed alone"
	st=0
fi
scenario "module init: no attach beside a loading module" "$mark" "$st" "$what"

# e. A device's pool_uuid is read while a grow swaps the map's image and
# frees the old one: the read must not use the freed image. The hook
# holds the read across the grow; run boots with init_on_free=1, so a
# read of the freed image finds zeros if it does not fault.
# shellcheck disable=SC2119 # no module parameters
if ! load_vmem || ! "$VMEMCTL" attach "$good" ||
	! "$VMEMCTL" create --id 5 1M >/dev/null ||
	! want=$(cat /sys/block/vmem5/vmem/pool_uuid) ||
	! truncate -s 16M /tmp/good.img || ! losetup -c "$good"; then
	give_up "set up vmem5 on a loop disk"
fi
echo "races: pool_uuid read across a grow, hook_uuid_show_us=5000000"
mark=$(dmesg | wc -l)
echo 5000000 >/sys/module/vmem/parameters/hook_uuid_show_us
cat /sys/block/vmem5/vmem/pool_uuid >/tmp/uuid.out 2>&1 &
rpid=$!
in_hook() { grep -q vmem_hook "/proc/$rpid/stack" 2>/dev/null; }
gst=none held=1
if within 30 in_hook; then
	"$VMEMCTL" grow >/tmp/grow.out 2>&1
	gst=$?
	in_hook
	held=$?
fi
wait "$rpid"
echo 0 >/sys/module/vmem/parameters/hook_uuid_show_us
got=$(cat /tmp/uuid.out)
st=1
if [ "$gst" = none ]; then
	what="the read never reached the hook"
elif [ "$gst" != 0 ]; then
	what="grow failed: $(head -c 200 /tmp/grow.out)"
elif [ "$held" != 0 ]; then
	what="the read left the hook before the grow ended"
elif [ "$got" != "$want" ]; then
	what="read '$got', the pool's uuid is '$want'"
else
	what="the read across the grow gave the pool's uuid"
	st=0
fi
scenario "pool_uuid read across a grow" "$mark" "$st" "$what"

# f. A write finds a bucket the worker has just put in the map, and its
# fsync's flush comes before the worker is done: that flush must still
# commit the assignment, or a power cut loses the fsynced write (the
# bucket free again on disk). The hook holds the worker there; with the
# commit interval at 60 s only that flush can commit.
ctl=/sys/class/misc/vmem-control
commits() { cut -d' ' -f1 "$ctl/commit_stat"; }
in_a_hook() { [ "$(cat /sys/module/vmem/parameters/hooks_waiting)" -gt 0 ]; }
echo 60000 >"$ctl/commit_interval_ms"
if ! dd if=/dev/zero of=/dev/vmem5 bs=4k count=1 oflag=direct conv=fsync status=none; then
	fail "races: provision and commit vmem5's first bucket"
fi
echo "races: a flush after a write into a bucket being assigned, hook_assign_us=5000000"
mark=$(dmesg | wc -l)
c0=$(commits)
echo 5000000 >/sys/module/vmem/parameters/hook_assign_us
dd if=/dev/zero of=/dev/vmem5 bs=4k count=1 seek=16 oflag=direct status=none &
apid=$!
st=1
if ! within 30 in_a_hook; then
	what="the first write never reached the hook"
elif ! dd if=/dev/zero of=/dev/vmem5 bs=4k count=1 seek=17 oflag=direct \
	conv=fsync status=none; then
	what="the second write or its fsync failed"
elif [ "$(commits)" = "$c0" ]; then
	what="the fsync ended with no commit of the bucket"
else
	what="the fsync ended after a commit"
	st=0
fi
wait "$apid"
echo 0 >/sys/module/vmem/parameters/hook_assign_us
scenario "flush after a write into a bucket being assigned commits it" "$mark" "$st" "$what"

# h. A discard first waits for the buffered writes older than it
# (vmem_wb_sync()). A write_buffer_mb change meanwhile writes everything
# out, frees the ring and starts a new one at cycle 4: the discard must
# go on, not wait until the new ring reaches the old one's cycle (on an
# idle pool, forever; every later discard, delete and detach waits
# behind it). The hook holds the discard between reading its cycle and
# waiting for it, across the resize; 20 fsyncs first move the old ring
# on, and the buffer's timer is long, so the new ring stays idle.
wbsync=/sys/module/vmem/parameters/hook_wb_sync_us
# advance N DEV: N cycles of the write buffer, a write and a flush each
advance() {
	local i
	for i in $(seq "$1"); do
		dd if=/dev/zero of="$2" bs=4k count=1 seek=$((16 + i % 8)) \
			oflag=direct conv=fsync status=none || return
	done
}
if ! "$VMEMCTL" write-buffer on --mb 2 --delay-us 100000 >/dev/null ||
	! advance 20 /dev/vmem5; then
	give_up "switch the write buffer on and write through it"
fi
cyc=$(cut -d' ' -f1 "$ctl/write_buffer_stat")
echo "races: a discard across a write buffer resize, $cyc cycles written, hook_wb_sync_us=5000000"
mark=$(dmesg | wc -l)
echo 5000000 >"$wbsync"
blkdiscard -o 0 -l 64K /dev/vmem5 2>/tmp/discard.err &
dpid=$!
st=1
if ! within 30 in_a_hook; then
	what="the discard never reached the hook"
	echo 0 >"$wbsync"
else
	# The hook read its delay on entry: the resize's own sync runs free
	echo 0 >"$wbsync"
	if ! echo 4 >"$ctl/write_buffer_mb"; then
		what="the resize failed"
	elif ! in_a_hook; then
		what="the discard left the hook before the resize ended"
	elif ! WITHIN_STEP=0.5 within 60 sh -c "! kill -0 $dpid 2>/dev/null"; then
		what="the discard still waits 60 s after the resize (the old ring was at cycle $cyc)"
		# Move the new ring past that cycle, so the rest can run:
		# through another device (the hung discard holds vmem5's
		# inode lock, which dd's seek on it waits for)
		"$VMEMCTL" create --id 9 1M >/dev/null &&
			advance "$((cyc + 8))" /dev/vmem9 &&
			"$VMEMCTL" delete 9
	elif ! wait "$dpid"; then
		what="the discard failed: $(head -c 80 /tmp/discard.err)"
	else
		what="the discard ended after the resize"
		st=0
	fi
fi
wait "$dpid" 2>/dev/null
scenario "a discard across a write buffer resize ends" "$mark" "$st" "$what"
check "races: switch the write buffer off" "$VMEMCTL" write-buffer off
check "races: delete vmem5" "$VMEMCTL" delete 5
check "races: detach the loop pool" "$VMEMCTL" detach

# meta_area NAME DEV IMAGE error|linear: load dm device NAME, over DEV
# (the loop device of pool image IMAGE), with the pool's metadata area
# failing (an error target up to the data area, linear after it) or not
meta_area() {
	local ds sz
	ds=$("$VMEMCTL" dump --json "$3" | tr ',{}' '[\n*]' |
		sed -n 's/^ *"data_start_bytes": \([0-9]*\)$/\1/p')
	ds=$((${ds:-0} / 512))
	sz=$(blockdev --getsz "$2")
	[ "$ds" -gt 0 ] && dmsetup suspend "$1" || return
	if [ "$4" = error ]; then
		printf '0 %s error\n%s %s linear %s %s\n' "$ds" "$ds" \
			"$((sz - ds))" "$2" "$ds"
	else
		echo "0 $sz linear $2 0"
	fi | dmsetup load "$1" && dmsetup resume "$1"
}

# g. A write parked until a commit arms marked buckets, and the pool
# turns read-only before that commit: nothing will arm or free buckets
# any more, so the write must fail with EIO, not wait forever. A writer
# uses up the armed buckets, one 4 KiB write per bucket, with the
# metadata area failing (nothing writes it meanwhile: the commit
# interval is 60 s); the hook holds the commit its park asks for; a
# create, whose device-table write fails, turns the pool read-only
# meanwhile. Last: a hung write keeps its device open.
if ! truncate -s 600M /tmp/big.img ||
	! "$VMEMCTL" format --bucket-size 4M --zero /tmp/big.img >/dev/null ||
	! big=$(losetup -f --show /tmp/big.img) ||
	! echo "0 $(blockdev --getsz "$big") linear $big 0" | dmsetup create vpl ||
	! "$VMEMCTL" attach /dev/mapper/vpl ||
	! echo 60000 >"$ctl/commit_interval_ms" ||
	! within 30 test "$(commits)" -gt 0 ||
	! "$VMEMCTL" create --id 6 1G >/dev/null; then
	give_up "set up a format-zeroed pool with armed buckets"
fi
# The create came after the commit that armed them: its device-table
# write wrote that commit's copy B first, so no copy work is left to
# fail once the metadata area does
if ! meta_area vpl "$big" /tmp/big.img error; then
	give_up "fail the pool's metadata area"
fi
echo "races: a write parked for arming, the pool read-only before its commit; hook_commit_us=5000000"
mark=$(dmesg | wc -l)
echo 5000000 >/sys/module/vmem/parameters/hook_commit_us
(
	i=0
	while [ $i -lt 149 ] && dd if=/dev/zero of=/dev/vmem6 bs=4k count=1 \
		seek=$((i * 1024)) oflag=direct status=none; do
		i=$((i + 1))
	done
	echo "$i" >/tmp/parked.n
) 2>/tmp/parked.err &
wpid=$!
st=1
if ! within 120 in_a_hook; then
	what="no commit reached the hook"
elif "$VMEMCTL" create --id 7 1M >/dev/null 2>&1; then
	what="a create succeeded with the metadata area failing"
elif [ "$(cat "$ctl/read_only")" != 1 ]; then
	what="the failed create left the pool read-write"
elif ! WITHIN_STEP=0.5 within 60 sh -c "! kill -0 $wpid 2>/dev/null"; then
	what="the parked write still waits 60 s after the pool turned read-only"
elif [ "$(cat /tmp/parked.n)" -ge 149 ]; then
	what="no write parked"
else
	what="the parked write failed after $(cat /tmp/parked.n) buckets: $(head -c 80 /tmp/parked.err)"
	st=0
fi
echo 0 >/sys/module/vmem/parameters/hook_commit_us
scenario "a parked write ends when the pool turns read-only" "$mark" "$st" "$what"
if [ "$st" = 0 ]; then
	check "races: detach the read-only pool" "$VMEMCTL" detach
fi

# i. A discard or write-zeroes past its read-only check when the pool
# turns read-only: a bucket it frees would never be freed on disk (no
# commit comes), and nothing may be written to a read-only pool, so it
# must fail with EIO and change nothing: the discarded bucket keeps its
# data, not zeros until the next attach brings the data back. The hook
# holds it in its write-buffer sync, between that check and the unmap
# or zeroing; a create, whose device-table write fails, turns the pool
# read-only meanwhile. Once with a discard of a whole bucket, once with
# a write-zeroes inside it (after a detach and an attach). Before the
# metadata area fails, a create writes the device table, and with it
# copy B of the last commit: no metadata write is left to fail before
# the create in the window does.
pat4m() { tr '\0' '\253' </dev/zero | head -c 4194304; }
# ended PID: PID has ended, or ends within 60 s
ended() { WITHIN_STEP=0.5 within 60 sh -c "! kill -0 $1 2>/dev/null"; }
# hold_ro CMD...: CMD (a discard or write-zeroes of vmem8) held in the
# hook while the pool turns read-only; sets st and what, and hung when
# CMD still runs at the end
hold_ro() {
	local pid
	echo 5000000 >"$wbsync"
	"$@" 2>/tmp/ro.err &
	pid=$!
	st=1 hung=
	if ! within 30 in_a_hook; then
		what="it never reached the hook"
		echo 0 >"$wbsync"
	else
		echo 0 >"$wbsync"
		if "$VMEMCTL" create --id 9 1M >/dev/null 2>&1; then
			what="a create succeeded with the metadata area failing"
		elif [ "$(cat "$ctl/read_only")" != 1 ]; then
			what="the failed create left the pool read-write"
		elif ! in_a_hook; then
			what="it left the hook before the pool turned read-only"
		elif ! ended "$pid"; then
			what="it still runs 60 s after the pool turned read-only"
		elif wait "$pid"; then
			what="it succeeded on a read-only pool"
		elif ! pat4m | cmp -s -n 4194304 - /dev/vmem8; then
			what="bucket 0 no longer reads its data"
		else
			what="it failed ($(head -c 60 /tmp/ro.err)); bucket 0 reads its data"
			st=0
		fi
	fi
	# Every way out above: at most 60 s more, then it is hung
	if ended "$pid"; then
		wait "$pid" 2>/dev/null
	else
		hung=1
	fi
}
if ! truncate -s 256M /tmp/ro.img ||
	! "$VMEMCTL" format --bucket-size 4M /tmp/ro.img >/dev/null ||
	! rl=$(losetup -f --show /tmp/ro.img) ||
	! echo "0 $(blockdev --getsz "$rl") linear $rl 0" | dmsetup create vro ||
	! "$VMEMCTL" attach /dev/mapper/vro ||
	! "$VMEMCTL" create --id 8 64M >/dev/null ||
	! "$VMEMCTL" write-buffer on --delay-us 100000 >/dev/null ||
	! pat4m | dd of=/dev/vmem8 bs=1M iflag=fullblock oflag=direct \
		conv=fsync status=none ||
	! "$VMEMCTL" create --id 10 1M >/dev/null ||
	! meta_area vro "$rl" /tmp/ro.img error; then
	give_up "set up a pool with a written bucket and the write buffer on"
fi
echo "races: a discard under way when the pool turns read-only; hook_wb_sync_us=5000000"
mark=$(dmesg | wc -l)
hold_ro blkdiscard -o 0 -l 4M /dev/vmem8
scenario "a discard under way when the pool turns read-only fails, frees nothing" \
	"$mark" "$st" "$what"
[ -z "$hung" ] || give_up "the discard is hung: the rest cannot run"
if ! "$VMEMCTL" detach || ! meta_area vro "$rl" /tmp/ro.img linear ||
	! "$VMEMCTL" attach /dev/mapper/vro ||
	! "$VMEMCTL" write-buffer on --delay-us 100000 >/dev/null ||
	! "$VMEMCTL" create --id 11 1M >/dev/null ||
	! meta_area vro "$rl" /tmp/ro.img error; then
	give_up "attach the pool again, the write buffer on"
fi
echo "races: a write-zeroes under way when the pool turns read-only; hook_wb_sync_us=5000000"
mark=$(dmesg | wc -l)
hold_ro blkdiscard -z -o 8192 -l 16384 /dev/vmem8
scenario "a write-zeroes under way when the pool turns read-only fails, zeroes nothing" \
	"$mark" "$st" "$what"
[ -z "$hung" ] || give_up "the write-zeroes is hung: the rest cannot run"
check "races: detach the read-only pool (discard, write-zeroes)" "$VMEMCTL" detach
dmsetup remove vro
losetup -d "$rl"
rm -f /tmp/ro.img
t_summary
