#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: a failing metadata write puts the pool read-only (issue 11,
# "Proof", third bullet), and a 128 KiB write reaches brd as one bio
# (issue 11, item 8).
#
# Disks: /dev/vda a formatted pool (1 MiB buckets). vmem attaches a dm
# device over it whose table is swapped (dmsetup suspend / load /
# resume) for dm-error over the metadata area and back to dm-linear, as
# tests/reliability/g_faults.sh does.
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
cd /tmp || exit 2
ctl=/sys/class/misc/vmem-control
DISK=/dev/vda
SZ=$(blockdev --getsz $DISK)
# Writes reach the disk as they are sent: no write buffer (auto would
# turn it on over this dm device, which has a write cache)
load_vmem write_buffer=0 || { fail "faults: insmod"; exit 1; }

table() {
	dmsetup suspend pool && dmsetup load pool <<<"$1" && dmsetup resume pool
}
linear() { table "0 $SZ linear $DISK 0"; }
# errors START LEN: dm-error over [START, START+LEN), linear elsewhere
errors() {
	table "0 $1 linear $DISK 0
$1 $2 error
$(($1 + $2)) $((SZ - $1 - $2)) linear $DISK $(($1 + $2))"
}

# ok NAME CMD...: CMD succeeds within 60 s
ok() {
	local name=$1 rc
	shift
	timeout 60 bash -c '"$@"' run "$@"
	rc=$?
	if [ $rc = 0 ]; then pass "$name"; else fail "$name (exit $rc)"; fi
}

# bucket IO DEV VBUCKET [FILE]: one 1 MiB bucket, O_DIRECT
wr() { dd if="${3:-/tmp/pat}" of="$1" bs=1M seek="$2" count=1 oflag=direct status=none; }
# write and fsync
wrs() { dd if="${3:-/tmp/pat}" of="$1" bs=1M seek="$2" count=1 oflag=direct conv=fsync status=none; }
same() { dd if="$1" bs=1M skip="$2" count=1 iflag=direct status=none | cmp -s - "${3:-/tmp/pat}"; }
zero() { cmp -s -n 1048576 -i $(($2 << 20)) "$1" /dev/zero; }
flush() { python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$1"; }
ro() { test "$(cat $ctl/read_only 2>/dev/null)" = "$1"; }
export -f wr wrs same zero flush
head -c 1M /dev/urandom >/tmp/pat
head -c 1M /dev/urandom >/tmp/pat2

map_sectors=0
eval "$("$VMEMCTL" dump --json $DISK | tr ',{}' '[\n*]' |
	sed -n 's/^ *"\(map_sectors\)": \([0-9]*\)$/\1=\2/p')"
META_END=$((10 + map_sectors))
echo "0 $SZ linear $DISK 0" | dmsetup create pool ||
	{ fail "faults: dm-linear over the pool"; exit 1; }

# --- a failing map commit: the pool goes read-only
t="readonly (map write fails)"
check "$t: attach" "$VMEMCTL" attach /dev/mapper/pool
check "$t: pool is writable after attach (read_only reads 0)" ro 0
"$VMEMCTL" create --id 0 64M >/dev/null
check "$t: write two buckets and fsync" bash -c "wrs /dev/vmem0 0 && wrs /dev/vmem0 1 /tmp/pat2"
mark=$(dmesg | wc -l)
errors 1 $((META_END - 1))
# The first write into a new bucket needs a metadata write before the
# fsync returns: one of the two fails
eio "$t: first write into a new bucket + fsync fails with EIO" wrs /dev/vmem0 5
check "$t: the pool reads read-only in sysfs (read_only reads 1)" ro 1
check "$t: the kernel log says read-only" \
	sh -c "dmesg | tail -n +$((mark + 1)) | grep -q 'read-only'"
eio "$t: overwrite of a provisioned bucket fails with EIO" wr /dev/vmem0 0 /tmp/pat2
eio "$t: first write into another new bucket fails with EIO" wr /dev/vmem0 9
eio "$t: a flush fails with EIO" flush /dev/vmem0
eio "$t: a discard of a whole bucket fails with EIO" \
	blkdiscard -o $((1 << 20)) -l $((1 << 20)) /dev/vmem0
ok "$t: reads of flushed data still work" bash -c "same /dev/vmem0 0 && same /dev/vmem0 1 /tmp/pat2"
ok "$t: a never-written bucket still reads zeros" zero /dev/vmem0 20
linear
eio "$t: writes still fail once the fault is gone (until re-attach)" wr /dev/vmem0 0 /tmp/pat2
check "$t: detach" "$VMEMCTL" detach
check "$t: vmemctl check clean after detach" "$VMEMCTL" check /dev/mapper/pool
check "$t: attach again" "$VMEMCTL" attach /dev/mapper/pool
check "$t: writable again (read_only reads 0)" ro 0
ok "$t: data flushed before the failure intact" \
	bash -c "same /dev/vmem0 0 && same /dev/vmem0 1 /tmp/pat2"
ok "$t: a first write + fsync works again" wrs /dev/vmem0 5
ok "$t: a discard works again" blkdiscard -o $((5 << 20)) -l $((1 << 20)) /dev/vmem0

# --- a failing device-table write (resize): read-only too
t="readonly (table write fails)"
mark=$(dmesg | wc -l)
errors 1 9
eio "$t: resize fails with EIO" "$VMEMCTL" resize 0 128M
check "$t: the pool reads read-only in sysfs" ro 1
check "$t: the kernel log says read-only" \
	sh -c "dmesg | tail -n +$((mark + 1)) | grep -q 'read-only'"
eio "$t: overwrite of a provisioned bucket fails with EIO" wr /dev/vmem0 0 /tmp/pat2
ok "$t: reads of flushed data still work" same /dev/vmem0 1 /tmp/pat2
linear
check "$t: detach" "$VMEMCTL" detach
check "$t: vmemctl check clean after detach" "$VMEMCTL" check /dev/mapper/pool
check "$t: attach again, writable" sh -c "$VMEMCTL attach /dev/mapper/pool && test \"\$(cat $ctl/read_only 2>/dev/null)\" = 0"
ok "$t: data flushed before the failure intact" \
	bash -c "same /dev/vmem0 0 && same /dev/vmem0 1 /tmp/pat2"
check "$t: detach at the end" "$VMEMCTL" detach
check "$t: vmemctl check clean at the end" "$VMEMCTL" check /dev/mapper/pool
dmsetup remove pool

# --- a 128 KiB write to a provisioned bucket reaches brd as one bio
t="one bio"
modprobe brd rd_nr=1 rd_size=65536 rd_max_part=0
check "$t: format brd" sh -c "$VMEMCTL format --force /dev/ram0 >/dev/null"
check "$t: attach brd" "$VMEMCTL" attach /dev/ram0
"$VMEMCTL" create --id 0 16M >/dev/null
check "$t: provision bucket 0 (1 MiB write)" wr /dev/vmem0 0
T=/sys/kernel/tracing
mountpoint -q $T || mount -t tracefs nodev $T
dev=$((($(stat -c %t /dev/ram0 | sed 's/^/0x/') << 20) | $(stat -c %T /dev/ram0 | sed 's/^/0x/')))
for ev in block_bio_queue block_split; do
	echo "dev == $dev" >$T/events/block/$ev/filter
	echo 1 >$T/events/block/$ev/enable
done
echo >$T/trace
dd if=/tmp/pat of=/dev/vmem0 bs=128K count=8 oflag=direct status=none
for ev in block_bio_queue block_split; do
	echo 0 >$T/events/block/$ev/enable
done
# Only the data area's bios: a commit or the copy B writes of layout
# version 2 may write metadata (below data_start) meanwhile
ds=$(("$($VMEMCTL dump --json /dev/ram0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["superblock"]["data_start_bytes"])')" / 512))
grep -E 'block_(bio_queue|split):' $T/trace |
	awk -v ds="$ds" '{ for (i = 1; i < NF; i++) if ($(i + 1) == "+" || $(i + 1) == "/") { if ($i + 0 >= ds) print; next } }' >/tmp/bios
sed 's/^/    /' /tmp/bios | head -n 12
nq=$(grep -c 'block_bio_queue:' /tmp/bios)
n256=$(grep -c 'block_bio_queue:.* W.* + 256 ' /tmp/bios)
ns=$(grep -c 'block_split:' /tmp/bios)
if [ "$nq" = 8 ] && [ "$n256" = 8 ] && [ "$ns" = 0 ]; then
	pass "$t: eight 128 KiB O_DIRECT writes reach brd as eight 256-sector bios"
else
	fail "$t: eight 128 KiB O_DIRECT writes reach brd as eight 256-sector bios ($nq bios queued to brd, $n256 of 256 sectors, $ns splits)"
fi
ok "$t: and read back" same /dev/vmem0 0
check "$t: detach" "$VMEMCTL" detach
check "faults: no kernel warning" no_kernel_trouble
t_summary
