#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench/profile.sh - guest side of `scripts/bench/run --profile`:
# where vmem spends its time, for the analysis in BENCHMARKS.md.
#
#  1. perf (cpu-clock sampling; TCG has no PMU) over 4k random overwrite
#     QD32x4 on raw, dm-linear, dm-thin, vmem and vmem with the write
#     buffer, and over a first write (fill) of vmem and dm-thin; brd.
#  2. Provisioning rate: one 4 KiB write into each 1 MiB bucket/block of
#     an unprovisioned device, so every write provisions; QD1 and QD32,
#     vmem vs dm-thin 1M with and without zeroing; on brd and virtio.
# Output: $VMEM_OUT/profile/*.txt
set -uo pipefail

BIN=/tmp/bench
CTL=/sys/class/misc/vmem-control
P=$VMEM_OUT/profile
mkdir -p "$BIN" "$P"
cp "$VMEM_OUT/bin/vmem.ko" "$VMEM_OUT/bin/vmemctl" "$BIN/" || exit 2
VMEMCTL=$BIN/vmemctl
cd "$BIN" || exit 2
log() { echo "profile: $*" | tee -a "$P/log.txt"; }
die() { log "FATAL: $*"; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
FIO=(fio --direct=1 --ioengine=libaio --disk_util=0 --eta=never
	--gtod_reduce=1 --thread --group_reporting --output-format=terse
	--terse-version=3)

insmod "$BIN/vmem.ko" write_buffer=0 || die insmod
modprobe dm-thin-pool || die dm-thin-pool
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid

# setup DEV PSEP TAG: p1 raw 256, p2 linear 256, p3/p4 thin 1M data
# (zero / no zero) 320, p5/p6 thin metadata 16, p7 vmem pool 400 (MiB)
setup() {
	local dev=$1 ps=$2 tag=$3 start=2048 n=1 mb len
	for mb in 256 256 320 320 16 16 400; do
		addpart "$dev" $n $start $((mb * 2048)) || die addpart
		start=$((start + mb * 2048))
		n=$((n + 1))
	done
	sleep 1
	"${FIO[@]}" --name=prefill --filename="$dev" --rw=write --bs=1M \
		--iodepth=8 --zero_buffers --size=$((start / 2048))M >/dev/null ||
		die prefill
	dmsetup create "$tag-lin" --table "0 $((256 * 2048)) linear $dev${ps}2 0"
	len=$((320 * 2048))
	dmsetup create "$tag-pool" --table "0 $len thin-pool $dev${ps}5 $dev${ps}3 2048 64"
	dmsetup create "$tag-poolnz" --table "0 $len thin-pool $dev${ps}6 $dev${ps}4 2048 64 1 skip_block_zeroing"
	dmsetup message "$tag-pool" 0 "create_thin 0"
	dmsetup message "$tag-poolnz" 0 "create_thin 0"
	dmsetup create "$tag-thin" --table "0 $((256 * 2048)) thin /dev/mapper/$tag-pool 0"
	dmsetup create "$tag-thinnz" --table "0 $((256 * 2048)) thin /dev/mapper/$tag-poolnz 0"
	"$VMEMCTL" format --force "$dev${ps}7" >/dev/null || die format
	"$VMEMCTL" attach "$dev${ps}7" || die attach
	"$VMEMCTL" create --id 0 256M >/dev/null || die create
}

# iops TERSE: total IOPS of a terse v3 line (read iops field 8, write 49)
iops() { awk -F';' '{print $8 + $49}'; }

# provision_rate TAG DEV NAME QD: every write provisions a new 1 MiB unit
provision_rate() {
	local tag=$1 dev=$2 name=$3 qd=$4 t0 t1 n=256 r
	blkdiscard "$dev"
	sleep 0.5
	t0=$(now_ms)
	r=$("${FIO[@]}" --name=prov --filename="$dev" --rw=write --bs=4k \
		--zonemode=strided --zonesize=4k --zonerange=1M --size=${n}M \
		--io_size=$((n * 4))k --iodepth="$qd" | iops)
	t1=$(now_ms)
	echo "$tag $name qd$qd: $n units in $((t1 - t0)) ms wall, fio ${r%.*} IOPS = units/s" |
		tee -a "$P/provision.txt"
}

# perf_run NAME FIO-ARGS...: profile one fio run system-wide
perf_run() {
	local name=$1 r
	shift
	r=$(perf record -F 999 -a -g -e cpu-clock -o "$BIN/perf.data" -- \
		"${FIO[@]}" "$@" 2>/dev/null | iops)
	{
		echo "# $name: fio $* -> ${r%.*} IOPS"
		echo "# top symbols, self time (all CPUs, idle included)"
		perf report -i "$BIN/perf.data" --no-children --sort sym --stdio \
			-g none --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$'
		echo "# block-layer and driver functions, with children"
		perf report -i "$BIN/perf.data" --children --sort sym --stdio \
			-g none 2>/dev/null | grep -v '^#' |
			grep -E 'vmem|dm_|thin|brd_|virtblk|submit_bio|bio_alloc|bio_split|blk_|kcopyd|zeroout|__blkdev|flush|io_schedule|aio_' |
			head -n 45
	} >"$P/perf-$name.txt"
	log "perf $name: ${r%.*} IOPS"
}

# ------------------------------------------------------------------ brd
modprobe brd rd_nr=1 rd_size=$((1700 * 1024)) max_part=15 || die brd
setup /dev/ram0 p b
"${FIO[@]}" --name=pf --filename=/dev/mapper/b-thin --rw=write --bs=1M --iodepth=8 >/dev/null
"${FIO[@]}" --name=pf --filename=/dev/vmem0 --rw=write --bs=1M --iodepth=8 >/dev/null

OW=(--name=ow --rw=randwrite --bs=4k --iodepth=32 --numjobs=4 --norandommap
	--randrepeat=0 --time_based --runtime=5 --ramp_time=1 --size=256M)
perf_run ow-raw --filename=/dev/ram0p1 "${OW[@]}"
perf_run ow-dm-linear --filename=/dev/mapper/b-lin "${OW[@]}"
perf_run ow-thin-1M --filename=/dev/mapper/b-thin "${OW[@]}"
perf_run ow-vmem --filename=/dev/vmem0 "${OW[@]}"
if [[ -e $CTL/write_buffer ]]; then
	s0=$(cat $CTL/write_buffer_stat)
	echo 1 >$CTL/write_buffer
	perf_run ow-vmem-wb --filename=/dev/vmem0 "${OW[@]}"
	echo 0 >$CTL/write_buffer
	echo "write_buffer_stat (flushes merged batched bypassed retries) before $s0 after $(cat $CTL/write_buffer_stat)" >>"$P/perf-ow-vmem-wb.txt"
	s0=$(cat $CTL/write_buffer_stat)
	echo 1 >$CTL/write_buffer
	perf_run seqw-vmem-wb --filename=/dev/vmem0 --name=sw --rw=write --bs=128k \
		--iodepth=32 --time_based --runtime=5 --ramp_time=1 --size=256M
	echo 0 >$CTL/write_buffer
	echo "write_buffer_stat before $s0 after $(cat $CTL/write_buffer_stat)" >>"$P/perf-seqw-vmem-wb.txt"
	perf_run seqw-vmem --filename=/dev/vmem0 --name=sw --rw=write --bs=128k \
		--iodepth=32 --time_based --runtime=5 --ramp_time=1 --size=256M
fi

FILL=(--name=fill --rw=randwrite --bs=4k --iodepth=32 --numjobs=4 --size=64M
	--offset_increment=64M --randrepeat=0)
blkdiscard /dev/vmem0
perf_run fill-vmem --filename=/dev/vmem0 "${FILL[@]}"
blkdiscard /dev/mapper/b-thin
perf_run fill-thin-1M --filename=/dev/mapper/b-thin "${FILL[@]}"
blkdiscard /dev/vmem0
perf_run fill128k-vmem --filename=/dev/vmem0 --name=fill --rw=write --bs=128k \
	--iodepth=32 --size=256M
blkdiscard /dev/mapper/b-thin
perf_run fill128k-thin-1M --filename=/dev/mapper/b-thin --name=fill --rw=write \
	--bs=128k --iodepth=32 --size=256M

for qd in 1 32; do
	provision_rate brd /dev/vmem0 vmem "$qd"
	provision_rate brd /dev/mapper/b-thin thin-1M "$qd"
	provision_rate brd /dev/mapper/b-thinnz thin-1M-nz "$qd"
done
"$VMEMCTL" detach
for d in b-thin b-thinnz b-pool b-poolnz b-lin; do dmsetup remove $d; done

# ------------------------------------------------------------------ virtio
if [[ -b /dev/vda ]]; then
	setup /dev/vda "" v
	for qd in 1 32; do
		provision_rate vda /dev/vmem0 vmem "$qd"
		provision_rate vda /dev/mapper/v-thin thin-1M "$qd"
		provision_rate vda /dev/mapper/v-thinnz thin-1M-nz "$qd"
	done
	# The same with the flush cost removed: a volatile-cache-free view of
	# the disk (write_cache "write through" makes the block layer drop
	# PREFLUSH/FUA before they reach virtio)
	echo "write through" >/sys/block/vda/queue/write_cache &&
		for qd in 1 32; do
			provision_rate vda-nocache /dev/vmem0 vmem "$qd"
			provision_rate vda-nocache /dev/mapper/v-thin thin-1M "$qd"
		done
	echo "write back" >/sys/block/vda/queue/write_cache
	"$VMEMCTL" detach
fi
dmesg >"$P/dmesg.txt"
log "done"
