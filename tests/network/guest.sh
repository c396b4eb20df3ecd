#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of tests/network/run (issue 15, item 3): vmem between
# network block devices, on loopback only.
#
#   file on tmpfs -> nbd-server -> 127.0.0.1:10809 -> nbd-client /dev/nbd0
#   -> vmem pool -> vmem0 (ext4), vmem1 (raw) -> nvmet + nvmet-tcp on
#   127.0.0.1:4420 -> nvme connect -> /dev/nvmeXn1, /dev/nvmeXn2
#   vmem2 stays local (a writer straight on vmem)
#
# fio verify and an ext4 round trip over the NVMe namespaces; then the
# NBD connection is dropped twice under load, once by killing nbd-server
# and once by nbd-client -d: writers over NVMe and on vmem get EIO (every
# step bounded: no hang), the failed metadata write turns the pool
# read-only. With the server back, the client connects the export again
# as another /dev/nbdN (the read-only pool still holds the dead one:
# nbd refuses to reconnect a device in use), and detach plus attach on
# it give a pool that checks clean, with the data flushed before the
# drop intact and writes working again. The pool moves from nbd0 to nbd1
# in the first drop and back in the second.
set -u
# shellcheck source=tests/reliability/glib.sh
. "$VMEM_REPO/tests/reliability/glib.sh"
# shellcheck source=tests/network/lib.sh
. "$VMEM_REPO/tests/network/lib.sh"
cd /tmp || exit 2

ctl=/sys/class/misc/vmem-control
# Every step of I/O has a bound: a hang is a failure, not a stall (the
# rig's --timeout is the last resort)
T=60	# seconds for one command
TF=300	# for one fio job

# ok NAME CMD...: CMD (a program) succeeds within $T seconds
ok() {
	local name=$1 rc
	shift
	timeout $T "$@"
	rc=$?
	if [ $rc = 0 ]; then pass "$name"; else fail "$name (exit $rc)"; fi
}
used() { attr "/sys/block/vmem$1/vmem/used_buckets"; }
read_only() { [ "$(attr $ctl/read_only)" = "$1" ]; }
# dread DEV MIB [SKIP_MIB]: MIB MiB of DEV read with O_DIRECT
dread() {
	timeout $T dd if="$1" bs=1M count="$2" skip="${3:-0}" iflag=direct status=none
}
# fsck_clean: e2fsck finds the ext4 on namespace 1 clean
fsck_clean() {
	timeout $T e2fsck -fn "$ns1" >/tmp/fsck.out 2>&1 && return
	tail -n 5 /tmp/fsck.out >&2
	return 1
}
# sums_ok: mount the ext4 on namespace 1; its files match their sums
sums_ok() {
	timeout $T mount "$ns1" /mnt/net &&
		(cd /mnt/net && timeout $T sha256sum --quiet -c /tmp/sums)
}
# stop: nothing more can be checked; report and end the run
stop() {
	fail "$1"
	dmesg | tail -n 40 >&2
	exit 1
}

# phase NAME: how long the guest took so far
phase() { echo "network: $1 done at ${SECONDS} s of the script"; }

# ---------------------------------------------------------------- stack
lo_up() { net_up && net_loopback_only; }
check "network: lo up, 127.0.0.1 the only address" lo_up
check "network: Debian's nbd, nvmet, nvmet-tcp, nvme-tcp modules load" net_modules ||
	stop "network: cannot go on without the modules"
check "network: nbd-server serves a 1 GiB file on tmpfs at 127.0.0.1:$NBD_PORT" \
	nbd_serve 1G
nbd=$NBD_DEV	# the NBD device the pool is on
nbd_first() {
	nbd_attach "$nbd" && [ "$(blockdev --getsize64 "$nbd")" = $((1 << 30)) ] &&
		[ "$(blockdev --getss "$nbd")" = 4096 ]
}
check "network: nbd-client attaches it as $nbd (1 GiB, 4 KiB blocks)" nbd_first
ok "network: vmemctl format $nbd" "$VMEMCTL" format "$nbd"
# shellcheck disable=SC2119 # no module parameters
load_vmem || stop "network: insmod vmem.ko"
ok "network: vmemctl attach $nbd" "$VMEMCTL" attach "$nbd"
if ! { "$VMEMCTL" create --id 0 512M && "$VMEMCTL" create --id 1 256M &&
	"$VMEMCTL" create --id 2 128M; } >/dev/null; then
	stop "network: create vmem0, vmem1, vmem2"
fi
check "network: nvmet exports vmem0 and vmem1 over tcp on $NET_ADDR:$NVMET_PORT" \
	nvmet_export /dev/vmem0 /dev/vmem1
check "network: nvme connect: namespaces 1 and 2 appear" nvme_up 2 ||
	stop "network: no NVMe namespaces"
ns1=$(nvme_ns 1) ns2=$(nvme_ns 2)
echo "network: vmem0 is $ns1, vmem1 is $ns2 ($(nvme_address))"
check "network: ... over tcp to $NET_ADDR:$NVMET_PORT" \
	grep -q "^tcp traddr=$NET_ADDR,trsvcid=$NVMET_PORT\b" <<<"$(nvme_address)"
check "network: ... with the sizes of vmem0 and vmem1" \
	test "$(blockdev --getsize64 "$ns1") $(blockdev --getsize64 "$ns2")" = \
	"$((512 << 20)) $((256 << 20))"

# ---------------------------------------------------------------- data
phase "stack up"
if timeout $TF fio --eta=never --name=raw --filename="$ns2" --direct=1 \
	--ioengine=libaio --rw=randwrite --bs=64k --size=16M --iodepth=8 \
	--verify=crc32c --verify_fatal=1 --output=/tmp/raw.out; then
	pass "network: fio verify over NVMe ($ns2, 16 MiB random 64 KiB writes)"
else
	fail "network: fio verify over NVMe ($ns2)"
	tail -n 20 /tmp/raw.out >&2
fi
check "network: ... vmem1 reads what the namespace reads" \
	test "$(dread "$ns2" 16 | md5sum)" = "$(dread /dev/vmem1 16 | md5sum)"
check "network: ... and provisioned 16 buckets for it" test "$(used 1)" = 16

mkdir -p /mnt/net
mkfs_mount() { timeout $T mkfs.ext4 -q -F "$ns1" && timeout $T mount "$ns1" /mnt/net; }
check "network: mkfs.ext4 and mount over NVMe ($ns1)" mkfs_mount
if timeout $TF fio --eta=never --name=fs --directory=/mnt/net --nrfiles=2 --size=8M \
	--direct=1 --ioengine=libaio --rw=randwrite --bs=16k --iodepth=8 \
	--verify=crc32c --verify_fatal=1 --output=/tmp/fs.out; then
	pass "network: fio verify on ext4 over NVMe (8 MiB in 2 files)"
else
	fail "network: fio verify on ext4 over NVMe"
	tail -n 20 /tmp/fs.out >&2
fi
fill_fs() {
	timeout $T head -c 8M /dev/urandom >/mnt/net/random &&
		timeout $T cp -r /usr/share/doc/fio /mnt/net/doc &&
		(cd /mnt/net && find random doc -type f -print0 |
			timeout $T xargs -0 sha256sum) >/tmp/sums &&
		timeout $T umount /mnt/net
}
check "network: files written to it, unmounted" fill_fs
check "network: ... read back after mount" sums_ok
timeout $T umount /mnt/net
check "network: ... and e2fsck finds it clean" fsck_clean

# Flushed before the drops: a pattern on vmem1 and the unmounted ext4
head -c 8M /dev/urandom >/tmp/pat
pattern() {
	timeout $T dd if=/tmp/pat of="$ns2" bs=1M oflag=direct status=none &&
		timeout $T sync "$ns2"
}
check "network: an 8 MiB pattern written over NVMe and flushed" pattern
phase "data over NVMe"

# ---------------------------------------------------------------- drops
# writer NAME DEV OFFSET: fio writing DEV sequentially from OFFSET (fresh
# buckets: provisioning and commits go on), until an error, bounded
writer() {
	timeout 120 fio --eta=never --name="$1" --filename="$2" --direct=1 \
		--ioengine=libaio --rw=write --bs=256k --iodepth=8 \
		--offset="$3" --size=64M --time_based --runtime=300 \
		>"/tmp/$1.out" 2>&1
	echo $? >"/tmp/$1.rc"
}
# got_eio TAG NAME SECS: writer NAME ended with EIO, not by the timeout
got_eio() {
	local rc
	rc=$(cat "/tmp/$2.rc")
	if [ "$rc" = 124 ]; then
		fail "$1 (hung: still writing after 120 s)"
	elif [ "$rc" != 0 ] && grep -q "Input/output error" "/tmp/$2.out"; then
		pass "$1, $3 s after the drop"
	else
		fail "$1 (exit $rc)"
		tail -n 5 "/tmp/$2.out" >&2
	fi
}

# provisioning N1 N2: vmem1 holds N1 buckets or more, vmem2 N2
provisioning() { [ "$(used 1)" -ge "$1" ] && [ "$(used 2)" -ge "$2" ]; }
nvme_off() { nvme_down && nvmet_enable 0; }
nvme_on() { nvmet_enable 1 && nvme_up 2; }

# drop MODE OFF1 OFF2: the connection dropped under load: MODE "kill"
# kills nbd-server, "disconnect" runs nbd-client -d; the writers start
# at OFF1 on vmem1 (over NVMe) and OFF2 on vmem2
drop() {
	local m=$1 t="network: $1:" u1 u2 mark t0 p1 p2 how new
	case $m in
	kill) how="nbd-server killed" ;;
	*) how="nbd-client -d" ;;
	esac
	mark=$(dmesg | wc -l)
	u1=$(used 1) u2=$(used 2)
	writer nvme "$ns2" "$2" &
	p1=$!
	writer local /dev/vmem2 "$3" &
	p2=$!
	# Both writers are provisioning buckets: the drop comes under load
	wait_for 60 provisioning $((u1 + 4)) $((u2 + 2)) ||
		fail "$t the writers provision buckets before the drop"
	t0=$SECONDS
	if [ "$m" = kill ]; then
		check "$t nbd-server killed under load (SIGKILL)" nbd_kill
	else
		check "$t nbd-client -d under load" nbd_detach "$nbd"
	fi
	wait "$p1" "$p2"
	got_eio "$t fio over NVMe (vmem1) gets EIO" nvme $((SECONDS - t0))
	got_eio "$t fio on vmem2 gets EIO" local $((SECONDS - t0))
	check "$t a metadata write failed: the pool is read-only" \
		wait_for 60 read_only 1
	check "$t ... and the kernel log says so" \
		grep -q 'pool is read-only' <<<"$(klog_since "$mark")"
	eio "$t ... a write to vmem2 fails with EIO" \
		dd if=/tmp/pat of=/dev/vmem2 bs=1M count=1 oflag=direct status=none
	echo "network: $m: ($how) vmem1 +$(($(used 1) - u1)) buckets," \
		"vmem2 +$(($(used 2) - u2)) before the pool stopped"

	# Recovery: the server is back, the client connects the export as
	# another device while the read-only pool still holds the dead one;
	# the target lets go of vmem0 and vmem1, the pool detaches (it
	# writes nothing), checks clean and attaches on the new device
	if ! listening "$NBD_PORT"; then
		check "$t nbd-server started again" nbd_serve
	fi
	case $nbd in
	/dev/nbd0) new=/dev/nbd1 ;;
	*) new=/dev/nbd0 ;;
	esac
	check "$t nbd-client connects the export again as $new" nbd_attach "$new"
	check "$t nvme disconnect, namespaces disabled" nvme_off
	ok "$t vmemctl detach (the pool on $nbd)" "$VMEMCTL" detach
	ok "$t the pool checks clean" "$VMEMCTL" check "$new"
	ok "$t vmemctl attach $new" "$VMEMCTL" attach "$new"
	check "$t ... read-write" read_only 0
	if [ "$m" = kill ]; then
		check "$t nbd-client -d $nbd clears the dead connection" \
			nbd_detach "$nbd"
	fi
	nbd=$new
	check "$t NVMe namespaces back (nvmet enabled, nvme connect)" nvme_on
	ns1=$(nvme_ns 1) ns2=$(nvme_ns 2)
	check "$t the pattern flushed before the drop reads back over NVMe" \
		test "$(dread "$ns2" 8 | md5sum)" = "$(md5sum </tmp/pat)"
	check "$t the ext4 files flushed before the drop read back over NVMe" \
		sums_ok
	timeout $T umount /mnt/net
	check "$t ... and e2fsck finds it clean" fsck_clean
	if timeout $TF fio --eta=never --name=again --filename="$ns2" \
		--direct=1 --ioengine=libaio --rw=randwrite --bs=64k --offset=8M \
		--size=8M --iodepth=8 --verify=crc32c --verify_fatal=1 \
		--output=/tmp/again.out; then
		pass "$t fio verify over NVMe works again"
	else
		fail "$t fio verify over NVMe works again"
		tail -n 20 /tmp/again.out >&2
	fi
}

drop kill 16M 0
phase "drop by kill"
drop disconnect 128M 64M
phase "drop by disconnect"

# ---------------------------------------------------------------- teardown
unexport() { nvme_down && nvmet_unexport; }
check "network: teardown: nvme disconnect, nvmet subsystem and port removed" unexport
ok "network: teardown: vmemctl detach" "$VMEMCTL" detach
ok "network: teardown: the pool checks clean over NBD" "$VMEMCTL" check "$nbd"
nbd_off() { nbd_detach "$nbd" && rmmod vmem; }
check "network: teardown: nbd-client -d, rmmod vmem" nbd_off
# shellcheck disable=SC2046 # one pid per word
kill $(nbd_server_pids) 2>/dev/null
phase teardown
check "network: no oops, warning or hang report" no_kernel_trouble
t_summary
