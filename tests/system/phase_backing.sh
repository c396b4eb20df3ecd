#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test: what vmem takes from its backing device and what it
# refuses. Disks: /dev/vda, 256 MiB of zeros.
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp || exit 2
load_vmem || { fail "insmod"; exit 1; }

# --- a zoned disk is refused before anything is read or written
if modprobe null_blk nr_devices=1 zoned=1 zone_size=64 gb=1 2>/dev/null &&
   [ "$(cat /sys/block/nullb0/queue/zoned)" != none ]; then
	refuse "attach a zoned disk" "zoned block devices are not supported" \
		"$VMEMCTL" attach /dev/nullb0
	rmmod null_blk
else
	fail "null_blk with zoned=1 for the zoned-disk check"
fi

# --- stable writes and the write cache
check "format the scratch disk" sh -c "$VMEMCTL format /dev/vda >/dev/null"
echo 1 >/sys/block/vda/queue/stable_writes
check "attach" "$VMEMCTL" attach /dev/vda
check "create vmem0" sh -c "$VMEMCTL create --id 0 64M >/dev/null"
check "stable writes of the backing disk propagate" \
	test "$(cat /sys/block/vmem0/queue/stable_writes)" = 1
check "a volatile write cache with FUA is advertised" \
	test "$(cat /sys/block/vmem0/queue/write_cache)" = "write back" -a \
	"$(cat /sys/block/vmem0/queue/fua)" = 1
check "detach" "$VMEMCTL" detach
echo 0 >/sys/block/vda/queue/stable_writes

# --- a backing disk that advertises write-zeroes and then fails it: a
# loop device over a file on vfat, whose fallocate() cannot punch holes
modprobe loop
modprobe vfat
mkdir -p /tmp/fat
check "vfat in a file" sh -c "mkfs.vfat -C /tmp/fat.img 200000 >/dev/null"
check "mount it" mount -t vfat -o loop /tmp/fat.img /tmp/fat
truncate -s 96M /tmp/fat/pool.img
loop=$(losetup -f --show /tmp/fat/pool.img)
check "its loop device advertises write-zeroes" \
	test "$(cat "/sys/block/${loop#/dev/}/queue/write_zeroes_max_bytes")" -gt 0
tr '\0' '\377' </dev/zero | dd of="$loop" bs=1M count=96 iflag=fullblock \
	status=none
check "format it over old data, without zeroing" \
	sh -c "$VMEMCTL format --force --no-zero $loop >/dev/null"
check "attach it" "$VMEMCTL" attach "$loop"
check "create vmem1" sh -c "$VMEMCTL create --id 1 32M >/dev/null"
m=$(dmesg | wc -l)
check "a first write succeeds though write-zeroes fails" \
	sh -c "printf y | dd of=/dev/vmem1 bs=4096 seek=1 conv=sync oflag=direct status=none"
klog=$(dmesg | tail -n +"$((m + 1))")
check "the fallback was logged" grep -q "zeroing them one at a time" <<<"$klog"
# Only the bucket's gaps, one at a time: its first write is not sent again
check "the gaps were zeroed, not the whole bucket" \
	sh -c '! grep -q "zeroing their buckets whole"' <<<"$klog"
check "the rest of that bucket reads zeros" \
	sh -c "cmp -s -n 4096 /dev/vmem1 /dev/zero &&
	       cmp -s -i 8192 -n $(((1 << 20) - 8192)) /dev/vmem1 /dev/zero"
check "detach" "$VMEMCTL" detach
losetup -d "$loop"
umount /tmp/fat

# zero_pages_after_failed_write_zeroes: on scsi_debug disk $SD ($SD_HCTL),
# every WRITE SAME failing, a first write into a dirty bucket
zero_pages_after_failed_write_zeroes() {
	local op m klog
	check "$t: it advertises write-zeroes" \
		test "$(cat "/sys/block/${SD#/dev/}/queue/write_zeroes_max_bytes")" -gt 0
	tr '\0' '\377' </dev/zero | dd of="$SD" bs=1M count=64 iflag=fullblock \
		oflag=direct status=none
	check "$t: format over old data, without zeroing" \
		sh -c "$VMEMCTL format --force --no-zero $SD >/dev/null"
	check "$t: attach" "$VMEMCTL" attach "$SD"
	check "$t: create vmem2" sh -c "$VMEMCTL create --id 2 32M >/dev/null"
	# WRITE SAME(10) and (16): CHECK CONDITION, HARDWARE ERROR, internal
	# target failure, every time
	for op in 0x41 0x93; do
		echo "2 1 $op 0 0 0x2 0x4 0x44 0x0" >"/sys/kernel/debug/scsi_debug/$SD_HCTL/error"
	done
	m=$(dmesg | wc -l)
	check "$t: a first write succeeds" \
		sh -c "printf y | dd of=/dev/vmem2 bs=4096 seek=1 conv=sync oflag=direct status=none"
	klog=$(dmesg | tail -n +"$((m + 1))")
	check "$t: ... write-zeroes failed, and zero pages were written" \
		grep -q "write-zeroes of sectors .* failed (-[0-9]*); writing zero pages" <<<"$klog"
	check "$t: ... the disk still advertises write-zeroes" \
		test "$(cat "/sys/block/${SD#/dev/}/queue/write_zeroes_max_bytes")" -gt 0
	check "$t: ... the rest of that bucket reads zeros" \
		sh -c "cmp -s -n 4096 /dev/vmem2 /dev/zero &&
		       cmp -s -i 8192 -n $(((1 << 20) - 8192)) /dev/vmem2 /dev/zero"
	check "$t: detach" "$VMEMCTL" detach
}

# resend_counted_once: on scsi_debug disk $SD ($SD_HCTL), the pool of
# zero_pages_after_failed_write_zeroes on it, the next WRITE(10) failing
# once: a first write into a dirty bucket fails there, so vmem zeroes
# the bucket whole and sends the write again. The user sees one write,
# and so do the device's statistics.
resend_counted_once() {
	local t="a first write failing once" m klog w0 s0 w1 s1
	check "$t: attach" "$VMEMCTL" attach "$SD"
	check "$t: create vmem3" sh -c "$VMEMCTL create --id 3 32M >/dev/null"
	read -r _ _ _ _ w0 _ s0 _ </sys/block/vmem3/stat
	echo "2 -1 0x2a 0 0 0x2 0x4 0x44 0x0" >"/sys/kernel/debug/scsi_debug/$SD_HCTL/error"
	m=$(dmesg | wc -l)
	check "$t: the write succeeds" \
		sh -c "printf y | dd of=/dev/vmem3 bs=4096 seek=1 conv=sync oflag=direct status=none"
	read -r _ _ _ _ w1 _ s1 _ </sys/block/vmem3/stat
	echo "- 2 0x2a" >"/sys/kernel/debug/scsi_debug/$SD_HCTL/error"
	klog=$(dmesg | tail -n +"$((m + 1))")
	check "$t: ... its first try failed, and it was sent again" \
		grep -q "vmem3: a write to new bucket [0-9]* failed (-[0-9]*): zeroing it, then writing again" <<<"$klog"
	check "$t: ... vmem3's statistics count one write of 8 sectors" \
		test "$((w1 - w0)) $((s1 - s0))" = "1 8"
	check "$t: ... it reads back, and the rest of its bucket reads zeros" \
		sh -c "cmp -s -n 4096 /dev/vmem3 /dev/zero &&
		       printf y | cmp -s -i 0:4096 -n 1 - /dev/vmem3 &&
		       cmp -s -i 4097 -n 4095 /dev/vmem3 /dev/zero &&
		       cmp -s -i 8192 -n $(((1 << 20) - 8192)) /dev/vmem3 /dev/zero"
	check "$t: detach" "$VMEMCTL" detach
}

# --- a 512e disk (4 KiB physical blocks) behind a device that starts
# off them (dm-linear at sector 63, as a first partition of an old
# partition table, and such a partition): its alignment_offset (512)
# cannot be expressed in vmem's own 4 KiB blocks, which start where
# buckets do. vmem reports 0 and says at attach that its buckets are
# off the disk's blocks; at sector 64 they are not, and it says nothing.

# aligned_on NAME DEV BACKING_ALIGNMENT: a pool on DEV, vmem4 on it
aligned_on() {
	local t="4 KiB physical blocks, $1" mm klog m
	mm=$(stat -L -c '%t %T' "$2")
	check "$t: the backing's alignment_offset is $3" test "$(cat \
		"/sys/dev/block/$((0x${mm% *})):$((0x${mm#* }))/alignment_offset")" = "$3"
	check "$t: format" sh -c "$VMEMCTL format --force $2 >/dev/null"
	m=$(dmesg | wc -l)
	check "$t: attach" "$VMEMCTL" attach "$2"
	check "$t: create vmem4" sh -c "$VMEMCTL create --id 4 32M >/dev/null"
	klog=$(dmesg | tail -n +"$((m + 1))")
	check "$t: the attach is in the log read" \
		grep -q "$2: attached" <<<"$klog"
	check "$t: vmem4's alignment_offset is 0" \
		test "$(cat /sys/block/vmem4/alignment_offset)" = 0
	check "$t: vmem4's physical blocks are 4 KiB" \
		test "$(cat /sys/block/vmem4/queue/physical_block_size)" = 4096
	if [ "$3" = 0 ]; then
		check "$t: attach says nothing of alignment" \
			sh -c '! grep -q "aligned"' <<<"$klog"
	else
		check "$t: attach says the buckets are off the backing's blocks" \
			grep -q "buckets are not aligned to the backing device's 4096-byte physical blocks (its alignment_offset is $3)" <<<"$klog"
	fi
	check "$t: detach" "$VMEMCTL" detach
}

# le32 N: N as 4 little-endian bytes, printf escapes
le32() {
	printf '\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) \
		$(($1 >> 24 & 255))
}

if scsi_debug dev_size_mb=64 physblk_exp=3 opts=0 &&
	n=$(blockdev --getsz "$SD") &&
	dmsetup create vmem_off --table "0 $((n - 63)) linear $SD 63" &&
	dmsetup create vmem_on --table "0 $((n - 64)) linear $SD 64"; then
	pass "4 KiB physical blocks: dm-linear at sectors 63 and 64 of scsi_debug disk $SD"
	aligned_on "dm-linear at sector 63" /dev/mapper/vmem_off 512
	aligned_on "dm-linear at sector 64" /dev/mapper/vmem_on 0
	check "4 KiB physical blocks: remove the dm devices" \
		dmsetup remove vmem_off vmem_on
	# One MBR partition from sector 63 (type 0x83) to the end
	dd if=/dev/zero of="$SD" bs=512 count=1 status=none
	printf "\\x83\\0\\0\\0$(le32 63)$(le32 $((n - 63)))" |
		dd of="$SD" bs=1 seek=450 conv=notrunc status=none
	printf '\x55\xaa' | dd of="$SD" bs=1 seek=510 conv=notrunc status=none
	if blockdev --rereadpt "$SD" && within 10 test -b "${SD}1"; then
		aligned_on "a partition at sector 63" "${SD}1" 512
	else
		fail "4 KiB physical blocks: a partition at sector 63 of $SD"
	fi
else
	fail "4 KiB physical blocks: dm-linear at sectors 63 and 64 of a scsi_debug disk"
fi
"$VMEMCTL" detach 2>/dev/null
dmsetup remove vmem_off vmem_on 2>/dev/null
rmmod scsi_debug

# --- a disk of 4 KiB sectors: a write-zeroes of more than 4 GiB, which
# the kernel cuts at the device's limit, in whole buckets (on 6.1 the
# limit was used as it was, 8388607 sectors, and a piece not of whole
# 4 KiB blocks reached the disk, which refused it; 6.12 cuts at whole
# blocks by itself, so this checks the change on 6.1 only)
t="4 KiB sectors, write-zeroes over 4 GiB"
if scsi_debug dev_size_mb=64 sector_size=4096 opts=0 &&
	test "$(blockdev --getss "$SD")" = 4096 &&
	"$VMEMCTL" format "$SD" >/dev/null && "$VMEMCTL" attach "$SD" &&
	"$VMEMCTL" create --id 3 5G >/dev/null; then
	pass "$t: a pool on scsi_debug, a 5 GiB device"
	for blk in $((4095 * 256 + 255)) $((4096 * 256)); do
		head -c 4096 /dev/urandom | dd of=/dev/vmem3 bs=4096 seek=$blk \
			conv=notrunc oflag=direct status=none
	done
	check "$t: blkdiscard -z of the whole device" blkdiscard -z /dev/vmem3
	check "$t: ... the blocks written read zeros" \
		sh -c "dd if=/dev/vmem3 bs=4096 skip=$((4095 * 256 + 255)) count=2 iflag=direct status=none |
		       cmp -s -n 8192 - /dev/zero"
	check "$t: detach" "$VMEMCTL" detach
else
	fail "$t: a pool on scsi_debug, a 5 GiB device"
	"$VMEMCTL" detach 2>/dev/null
fi
rmmod scsi_debug

# --- a disk that advertises write-zeroes and fails it with an error
# that leaves the advertisement in place (scsi_debug's error injection:
# every WRITE SAME ends in a hardware error). Since 6.10,
# blkdev_issue_zeroout() does not fall back to zero pages then; vmem
# writes them itself. Before 6.10 the kernel falls back by itself, and
# scsi_debug (before 6.7) has no error injection: not run there.
kv=$(uname -r | awk -F. '{print $1 * 1000 + $2}')
if [ "$kv" -lt 6010 ]; then
	echo "note: zero pages after a failed write-zeroes, and a first write failing once: not run on $(uname -r), whose blkdev_issue_zeroout() falls back by itself"
else
	t="write-zeroes failing, advertised"
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	if scsi_debug dev_size_mb=64 opts=0 &&
		test -w "/sys/kernel/debug/scsi_debug/$SD_HCTL/error"; then
		pass "$t: scsi_debug disk $SD ($SD_HCTL) with error injection"
		zero_pages_after_failed_write_zeroes
		resend_counted_once
	else
		fail "$t: scsi_debug disk with error injection"
	fi
	rmmod scsi_debug
fi
rmmod vmem
t_summary
