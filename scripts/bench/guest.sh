#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench/guest.sh - the guest side of scripts/bench/run (read that
# first). Runs inside one QEMU guest boot: builds the same targets on a
# memory-backed disk (brd), on a virtio disk (sparse file) and, for the
# first-write groups, on a second virtio disk with capped writes, runs
# fio on them interleaved and repeated, times pool attach, and leaves
# fio's JSON and a few text files in $VMEM_OUT. Parsing happens on the
# host.
#
# Usage: guest.sh [--quick] [--reps N] [--extra N] [--runtime S] [--ramp S]
#                 [--no-virtio] [--attach-mb MB] [--wb-only]
# --wb-only: only the write buffer's on/off grid, once on brd and REPS
# times on virtio
# --reps N full repetitions, then --extra N more of the headline subset
# (the workloads and targets the performance targets are about). On
# virtio the fill and fresh groups run REPS + EXTRA times in full: their
# first writes there spread 0.56-1.69x of overwrite from run to run
# (docs/bench/fresh-0985045); a fresh repetition costs about 35 s, a
# fill one (256 MiB) about 70 s.
#        guest.sh hook free|freewait|new|delprep|delete|wb ...  (called
#        by fio between or beside measured jobs, internal)
# With $VMEM_OUT/bin/vmem-old.ko and vmemctl-old (scripts/bench/run
# --old), each disk also gets the issue-16 before/after: that module
# and the current one loaded in turn (insmod, fio, rmmod), rounds
# interleaved, on two pools of their own.
#
# Disks: brd (/dev/ram0), the virtio disk /dev/vda and, in full runs, a
# second virtio disk /dev/vdb with writes capped by QEMU (the first-write
# groups only; see "capped virtio" below).
#
# Layout of each backing disk (partitions added with addpart, so every
# target lives on the same disk; sizes in MiB, G = grid working set,
# F = first-write area: 64 on brd and vdb, 256 on vda, where fresh and
# del use 64 of it):
#   1 raw           G+F   fio straight on the partition
#   2 dm-linear     G+F   linear table over the whole partition
#   3 thin 1M data  G+F+64  pool "1M", zeroing on: thin 0 (G, grid), 1 (F)
#   4 thin 1M data  F+64    pool "1M-nz", skip_block_zeroing: thin 1 (F)
#   5 thin 512K     F+64    pool "512K", zeroing on: thin 1 (F)
#   6 thin 512K     F+64    pool "512K-nz", skip_block_zeroing: thin 1 (F)
#   7..10 thin metadata, 16 each (same disk, one partition per pool)
#   11 vmem pool, formatted --no-zero and filled to the last bucket:
#      vmem1 (first-write area F, written once at setup), vmem2..254
#      (brd: 255 test, 2 MiB each), vmem0 (grid, the "one device" of
#      the 255 test) takes every other bucket. A discard of vmem1 thus
#      frees the only free buckets: its next first write reuses them.
#   12 format-zeroed pool: first writes into a new vmem1 ("fresh"), the
#      delete beside first writes (a DEL_MB vmem2), and on virtio the
#      attach-time test (--attach-mb)
#   13, 14 issue 16's before/after: a pool of the old module's format
#      (13) and one of the current module (14), vmem0 of SRCU_G each
set -uo pipefail

BIN=/tmp/bench
CTL=/sys/class/misc/vmem-control

# ------------------------------------------------------------- helpers
# (also used by the hooks: no fork or exec in the polling loops, which
# cost ~0.1 s each under TCG)

# ms: milliseconds since the epoch into MS
ms() {
	local t=${EPOCHREALTIME/./}
	MS=$((10#$t / 1000))
}

# nap: sleep 20 ms on a FIFO nobody writes to (opened by nap_open)
NAPFD=
nap_open() {
	[[ -p $BIN/nap ]] || mkfifo "$BIN/nap" || return 1
	exec {NAPFD}<>"$BIN/nap"
}
nap() { read -r -t 0.02 -u "$NAPFD" _ || true; }

# settle TIMEOUT_S: wait until every bucket freed so far is committed,
# drained and zeroed (the pool's used count is its devices' sum, every
# free bucket zeroed): only for a format-zeroed pool, where no bucket is
# dirty otherwise. SETTLE_MS: how long it took; status 1 on timeout.
settle() {
	local t0 end used sum f z u d
	ms
	t0=$MS end=$((MS + $1 * 1000))
	while :; do
		read -r used <"$CTL/used_buckets"
		read -r f <"$CTL/free_buckets"
		read -r z <"$CTL/zeroed_buckets"
		sum=0
		for d in /sys/block/vmem*/vmem/used_buckets; do
			[[ -e $d ]] && read -r u <"$d" && sum=$((sum + u))
		done
		ms
		SETTLE_MS=$((MS - t0))
		((used == sum && z == f)) && return 0
		((MS > end)) && return 1
		nap
	done
}

hooklog() { printf '%(%T)T %s\n' -1 "$*" >>"$VMEM_OUT/hooks.log"; }

# ------------------------------------------------------------- hooks
# fio calls these through exec_prerun in marker jobs (one clone each), so
# they run strictly between two measured jobs; "delete" runs in a job
# beside a measured one.
if [[ ${1:-} == hook ]]; then
	# shellcheck source=/dev/null
	. "$BIN/targets.env"
	nap_open || echo "hook: no $BIN/nap" >&2
	case $2 in
	free)
		dev=${FILLDEV[$3]}
		blkdiscard "$dev" || echo "hook: blkdiscard $dev failed" >&2
		case $3 in
		vmem*)
			# builtins only: the first write is to follow the
			# discard at once, not after the zeroer has caught up
			read -r u </sys/block/vmem1/vmem/used_buckets
			read -r p <"$CTL/provision_stat"
			read -r z <"$CTL/zeroed_buckets"
			u="$u provision_stat $p zeroed_buckets $z"
			;;
		*) u=$(dmsetup status "${POOL[$3]}" | cut -d ' ' -f 6) ;;
		esac
		hooklog "free $3 $dev -> used $u"
		;;
	freewait)
		# free TARGET's area, then wait until the background zeroer
		# has zeroed every bucket the discard freed (the main pool is
		# formatted --no-zero: nothing else is ever zeroed there)
		read -r n </sys/block/vmem1/vmem/used_buckets
		read -r z0 <"$CTL/zeroed_buckets"
		blkdiscard "${FILLDEV[$3]}" || echo "hook: blkdiscard failed" >&2
		ms
		t0=$MS st=ok
		while read -r z <"$CTL/zeroed_buckets" && ((z < z0 + n)); do
			ms
			((MS - t0 > 60000)) && { st=timeout; break; }
			nap
		done
		ms
		read -r ci <"$CTL/commit_interval_ms"
		echo "zeroer $4 $5 $6 $n $((MS - t0)) $st commit_interval_ms=$ci" >>"$VMEM_OUT/zeroer.txt"
		hooklog "freewait $3: $n buckets zeroed in $((MS - t0)) ms ($st), zeroed_buckets $z0 -> $z"
		;;
	new)
		# a new vmem1 in the format-zeroed pool, once the old one's
		# buckets are zeroed again: its buckets are armed (format-zeroed
		# or zeroed in the background) and no zeroing runs beside the
		# measured job ($4: the group's area, MiB)
		"$BIN/vmemctl" delete 1 2>/dev/null
		settle 120 || echo "hook: pool not settled in 120 s" >&2
		"$BIN/vmemctl" create --id 1 "${4}M" >/dev/null ||
			echo "hook: create vmem1 failed" >&2
		hooklog "new vmem1 ${4}M after ${SETTLE_MS} ms: zeroed_buckets $(cat $CTL/zeroed_buckets 2>/dev/null) provision_stat $(cat $CTL/provision_stat 2>/dev/null)"
		;;
	delprep)
		# before a run of the delete test, with or without the delete
		# (the same state for both): vmem2 of DEL_MB with every
		# bucket provisioned, nothing being freed or zeroed, a new
		# vmem1 for the first writes ($4: the group's area, MiB)
		"$BIN/vmemctl" delete 1 2>/dev/null
		p=
		if [[ ! -e /sys/block/vmem2 ]]; then
			"$BIN/vmemctl" create --id 2 "${DEL_MB}M" >/dev/null ||
				echo "hook: create vmem2 failed" >&2
			read -r c0 <"$CTL/commit_stat"
			ms
			t0=$MS
			# one 4 KiB write into each 1 MiB bucket
			fio --name=big --filename=/dev/vmem2 --rw=write --bs=4k \
				--zonemode=strided --zonesize=4k --zonerange=1M \
				--size="${DEL_MB}M" --io_size="$((DEL_MB * 4))k" \
				--iodepth=32 --direct=1 --ioengine=libaio \
				--disk_util=0 --eta=never --output-format=terse \
				>/dev/null || echo "hook: provisioning vmem2 failed" >&2
			ms
			p="provisioned in $((MS - t0)) ms (commit_stat $c0 -> $(cat "$CTL/commit_stat")), "
		fi
		settle 300 || echo "hook: pool not settled in 300 s" >&2
		"$BIN/vmemctl" create --id 1 "${4}M" >/dev/null ||
			echo "hook: create vmem1 failed" >&2
		hooklog "delprep $3: vmem2 used $(cat /sys/block/vmem2/vmem/used_buckets), ${p}settled in ${SETTLE_MS} ms"
		;;
	delete)
		# beside the measured first writes: delete vmem2 a moment
		# after they started
		for _ in 1 2 3 4 5 6 7 8 9 10; do nap; done
		read -r n </sys/block/vmem2/vmem/used_buckets
		ms
		t0=$MS
		"$BIN/vmemctl" delete 2 || echo "hook: delete vmem2 failed" >&2
		ms
		echo "delete $3 $4 $5 $n $((MS - t0))" >>"$VMEM_OUT/delete.txt"
		hooklog "delete vmem2: $n buckets in $((MS - t0)) ms"
		;;
	wb)
		echo "$3" >"$CTL/write_buffer"
		hooklog "wb $3 stat $(cat "$CTL/write_buffer_stat")"
		;;
	esac
	exit 0
fi

QUICK=0 REPS=3 EXTRA=2 RUNTIME=2 RAMP=1 VIRTIO=1 ATTACH_MB=4096 WBONLY=0
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--wb-only) WBONLY=1 ;;
	--reps) REPS=$2; shift ;;
	--extra) EXTRA=$2; shift ;;
	--runtime) RUNTIME=$2; shift ;;
	--ramp) RAMP=$2; shift ;;
	--no-virtio) VIRTIO=0 ;;
	--attach-mb) ATTACH_MB=$2; shift ;;
	*) echo "guest.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

OUT=$VMEM_OUT
RAW=$OUT/raw
mkdir -p "$BIN/run" "$RAW"
cp "$OUT/bin/vmem.ko" "$OUT/bin/vmemctl" "$OUT/bin/guest.sh" "$BIN/" || exit 2
VMEMCTL=$BIN/vmemctl
OLD=0
if [[ -e $OUT/bin/vmem-old.ko ]]; then
	cp "$OUT/bin/vmem-old.ko" "$OUT/bin/vmemctl-old" "$BIN/" || exit 2
	OLD=1
fi
nap_open || exit 2
ulimit -n 16384
cd "$BIN/run" || exit 2

T0=$(date +%s)
log() { echo "bench: +$(($(date +%s) - T0))s $*" | tee -a "$OUT/guest.log"; }
die() { log "FATAL: $*"; dmesg | tail -n 40 >"$OUT/dmesg.txt"; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ------------------------------------------------------------- meta
{
	echo "guest_kernel=$(uname -r)"
	echo "guest_cpus=$(nproc)"
	echo "guest_mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024))"
	echo "guest_cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "fio=$(fio --version)"
	echo "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	echo "quick=$QUICK reps=$REPS extra=$EXTRA runtime=$RUNTIME ramp=$RAMP"
	echo "old_module=$OLD"
	echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
} >"$OUT/meta-guest.txt"

# Every load sets write_buffer=0: the "vmem" target is the buffer off,
# "vmem-wb" switches it on (write_buffer=auto, the default, would turn
# it on over virtio for both). A module older than the parameter ignores
# it with a log line.
insmod "$BIN/vmem.ko" write_buffer=0 || die "insmod vmem.ko"
WB=0
if [[ -e $CTL/write_buffer ]]; then
	WB=1
	echo "write_buffer=present" >>"$OUT/meta-guest.txt"
else
	echo "write_buffer=absent" >>"$OUT/meta-guest.txt"
	log "no $CTL/write_buffer: the 'vmem-wb' target is skipped"
fi
echo "commit_interval_ms=$(cat /sys/module/vmem/parameters/commit_interval_ms 2>/dev/null || echo absent)" >>"$OUT/meta-guest.txt"
# auto (the default since write_buffer=auto): on over virtio, off over brd
echo "write_buffer_param=$(cat /sys/module/vmem/parameters/write_buffer 2>/dev/null || echo absent)" >>"$OUT/meta-guest.txt"
modprobe dm-thin-pool || die "modprobe dm-thin-pool"

# ------------------------------------------------------------- workloads
# name rw bs qd jobs
GRID_WL=(
	"randread-4k-qd1x1 randread 4k 1 1"
	"randread-4k-qd32x1 randread 4k 32 1"
	"randread-4k-qd1x4 randread 4k 1 4"
	"randread-4k-qd32x4 randread 4k 32 4"
	"randwrite-4k-qd1x1 randwrite 4k 1 1"
	"randwrite-4k-qd32x1 randwrite 4k 32 1"
	"randwrite-4k-qd1x4 randwrite 4k 1 4"
	"randwrite-4k-qd32x4 randwrite 4k 32 4"
	"read-128k-qd1x1 read 128k 1 1"
	"read-128k-qd32x1 read 128k 32 1"
	"read-128k-qd1x4 read 128k 1 4"
	"read-128k-qd32x4 read 128k 32 4"
	"write-128k-qd1x1 write 128k 1 1"
	"write-128k-qd32x1 write 128k 32 1"
	"write-128k-qd1x4 write 128k 1 4"
	"write-128k-qd32x4 write 128k 32 4"
)
SHORT_WL=(
	"randread-4k-qd32x4 randread 4k 32 4"
	"randwrite-4k-qd32x4 randwrite 4k 32 4"
	"read-128k-qd32x1 read 128k 32 1"
	"write-128k-qd32x1 write 128k 32 1"
)
FILL_WL=(
	"randwrite-4k-qd32x4 randwrite 4k 32 4"
	"write-128k-qd32x1 write 128k 32 1"
)
# First writes with fsync=1 (issue 11): one 4 KiB write into each 1 MiB
# bucket/block, so every write provisions and every fsync must commit;
# 1 writer, and 4 whose fsyncs may share a commit. Only F such writes
# fit in the area: too short a run for fio's millisecond runtime on brd,
# so latencies are measured (undoing the global gtod_reduce takes all
# three options) and the report rates the runs from the means.
FSYNC_OPTS="ioengine=psync fsync=1 per-mib gtod_reduce=0 disable_lat=0 disable_clat=0"
FSYNC_WL=(
	"fsync-4k-qd1x1 write 4k 1 1 $FSYNC_OPTS"
	"fsync-4k-qd1x4 write 4k 1 4 $FSYNC_OPTS"
)
# First writes beside a delete, with their latency
DEL_WL=("randwrite-4k-qd32x4 randwrite 4k 32 4")
# Issue 16's before/after: the hot path of a provisioned device
SRCU_WL=(
	"randwrite-4k-qd32x4 randwrite 4k 32 4"
	"randwrite-4k-qd1x1 randwrite 4k 1 1"
)
# Issue 5's write-buffer grid: 4k and 16k, random and sequential per job
# (each job its own slice), QD 1 and 32, 1/4/16 jobs; vmem vs vmem-wb
WB_WL=()
for bs in 4k 16k; do
	for rw in randwrite write; do
		for qd in 1 32; do
			for nj in 1 4 16; do
				WB_WL+=("wb${rw}-$bs-qd${qd}x$nj $rw $bs $qd $nj")
			done
		done
	done
done
# and an fsync after every write (issue 12: the buffer must not slow a
# writer that flushes each write), 1 and 4 jobs, sequential per job
for nj in 1 4; do
	WB_WL+=("wbfsync-4k-qd1x$nj write 4k 1 $nj ioengine=psync fsync=1")
done
MANY_WL=(
	"randwrite-4k-qd32x4 randwrite 4k 32 4"
	"randread-4k-qd32x4 randread 4k 32 4"
)

# ------------------------------------------------------------- fio jobs
JOB=
sec() {
	local name=$1
	shift
	{
		printf '[%s]\n' "$name"
		printf '%s\n' "$@" stonewall new_group
		echo
	} >>"$JOB"
}

job_begin() {
	JOB=$BIN/run/$1.fio
	cat >"$JOB" <<-EOF
		[global]
		ioengine=libaio
		direct=1
		thread
		group_reporting
		gtod_reduce=1
		randrepeat=0
		disk_util=0

	EOF
}

# job_run NAME: run the job file, keep its JSON as raw/NAME.json
job_run() {
	local t=$SECONDS
	fio --output-format=json --output="$RAW/$1.json" --eta=never "$JOB" \
		>>"$OUT/fio-stderr.log" 2>&1 || log "fio $1 exited $?"
	cp "$JOB" "$RAW/$1.fio"
	log "$1 done in $((SECONDS - t))s"
}

# wl_opts WORKLOAD-SPEC SIZE_MB [slice]: fio options for a workload over
# SIZE_MB from the section's offset. Sequential multi-job runs (and every
# multi-job run with "slice") give each job its own slice. Words after
# the fifth of the spec are more fio options, or "per-mib": one block
# at the start of each MiB of the job's area, once (strided zones).
wl_opts() {
	local _n rw bs qd nj more sz=$2 per=$2 o
	read -r _n rw bs qd nj more <<<"$1"
	echo "rw=$rw" "bs=$bs" "iodepth=$qd" "numjobs=$nj"
	if [[ $rw == rand* && ${3:-} != slice ]]; then
		echo "norandommap=1" "size=${sz}M"
	elif ((nj > 1)); then
		per=$((sz / nj))
		echo "size=${per}M" "offset_increment=${per}M"
	else
		echo "size=${sz}M"
	fi
	for o in $more; do
		case $o in
		# (without io_size fio goes round the zones until size is done)
		per-mib) echo "zonemode=strided" "zonesize=$bs" "zonerange=1M" \
			"io_size=$((per * ${bs%k}))k" ;;
		*) echo "$o" ;;
		esac
	done
}

# rotate N WORDS...: the words rotated left by N
rotate() {
	local n=$1
	shift
	local a=("$@") i
	n=$((n % ${#a[@]}))
	for ((i = 0; i < ${#a[@]}; i++)); do
		printf '%s ' "${a[$(((i + n) % ${#a[@]}))]}"
	done
}

# ------------------------------------------------------------- setup
declare -A GRIDDEV GRIDOFF FILLDEV FILLOFF POOL

# mkparts DEV PSEP SIZE_MB...: partitions 1.. at 1 MiB alignment
mkparts() {
	local dev=$1 psep=$2 start=2048 n=1 mb
	shift 2
	for mb in "$@"; do
		addpart "$dev" $n $start $((mb * 2048)) || die "addpart $dev $n"
		start=$((start + mb * 2048))
		n=$((n + 1))
	done
	for ((n = 1; n <= $#; n++)); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[[ -b $dev$psep$n ]] && break
			sleep 0.2
		done
		[[ -b $dev$psep$n ]] || die "$dev$psep$n did not appear"
	done
}

sectors() { blockdev --getsz "$1"; }

# fill_dev DEV [SIZE_MB]: write it sequentially (provisions thin/vmem)
fill_dev() {
	local sz=${2:+--size=$2M}
	# shellcheck disable=SC2086 # sz: no word or one
	fio --name=fill --filename="$1" --rw=write --bs=1M --iodepth=8 \
		--direct=1 --ioengine=libaio --zero_buffers $sz --disk_util=0 \
		--eta=never --output-format=terse >/dev/null 2>>"$OUT/fio-stderr.log" ||
		die "fill $1"
}

# thin_pool TAG NAME DATA META BLOCK_KB ZERO(0|1)
thin_pool() {
	local tag=$1 name=$2 data=$3 meta=$4 bs=$(($5 * 2)) len feat
	dd if=/dev/zero of="$meta" bs=64k count=16 oflag=direct status=none
	len=$(($(sectors "$data") / bs * bs))
	feat=""
	(($6)) || feat="1 skip_block_zeroing"
	dmsetup create "$tag-pool-$name" --table \
		"0 $len thin-pool $meta $data $bs 64 $feat" || die "thin-pool $name"
}

# thin_vol TAG POOLNAME ID NAME SIZE_MB
thin_vol() {
	dmsetup message "$1-pool-$2" 0 "create_thin $3" || die "create_thin $2/$3"
	dmsetup create "$1-$4" --table \
		"0 $(($5 * 2048)) thin /dev/mapper/$1-pool-$2 $3" || die "thin $4"
}

# setup_disk TAG DEV PSEP GRID_MB FILL_MB WITH255 P12_MB P13_MB:
# partitions, targets and the main vmem pool. The main pool is formatted
# --no-zero and filled to its last bucket (vmem0 takes what vmem1 and
# vmem2..254 leave), vmem1 written once: its discard frees the only free
# buckets of the pool, so its next first write reuses them, zeroed by
# the background zeroer or, if that has not got there yet, by the write
# that needs them. Partition 12 holds a format-zeroed pool for the
# "fresh" and "del" groups (and, on virtio, the attach-time test), 13
# and 14 (P13_MB each, none if 0) the pools of the old-module test.
setup_disk() {
	local tag=$1 dev=$2 ps=$3 g=$4 f=$5 many=$6 p12=$7 p13=$8 vm t id
	local -a sizes
	vm=$((g + f + 32))
	((many)) && vm=$((512 + f + 253 * 2 + 32))
	sizes=($((g + f)) $((g + f)) $((g + f + 64)) $((f + 64)) $((f + 64)) \
		$((f + 64)) 16 16 16 16 "$vm")
	sizes+=("$p12")
	((p13)) && sizes+=("$p13" "$p13")
	mkparts "$dev" "$ps" "${sizes[@]}"
	log "$tag: partitions on $dev: ${sizes[*]} MiB"
	local end_mb=0 s
	for s in "${sizes[@]:0:11}"; do end_mb=$((end_mb + s)); done
	fill_dev "$dev" $((end_mb + 1))
	log "$tag: prefilled $((end_mb + 1)) MiB of $dev"

	dmsetup create "$tag-lin" --table "0 $(sectors "$dev${ps}2") linear $dev${ps}2 0" ||
		die "dm-linear"
	thin_pool "$tag" 1M "$dev${ps}3" "$dev${ps}7" 1024 1
	thin_pool "$tag" 1M-nz "$dev${ps}4" "$dev${ps}8" 1024 0
	thin_pool "$tag" 512K "$dev${ps}5" "$dev${ps}9" 512 1
	thin_pool "$tag" 512K-nz "$dev${ps}6" "$dev${ps}10" 512 0
	thin_vol "$tag" 1M 0 t1M-grid "$g"
	for t in 1M 1M-nz 512K 512K-nz; do
		thin_vol "$tag" "$t" 1 "t$t-fill" "$f"
		POOL[thin-$t]=$tag-pool-$t
		FILLDEV[thin-$t]=/dev/mapper/$tag-t$t-fill
		FILLOFF[thin-$t]=0
	done
	fill_dev "/dev/mapper/$tag-t1M-grid"

	"$VMEMCTL" format --force --no-zero "$dev${ps}11" >"$OUT/$tag-format.txt" ||
		die "vmemctl format"
	"$VMEMCTL" attach "$dev${ps}11" || die "vmemctl attach"
	no_stale_nodes
	local bb rest
	bb=$(cat $CTL/bucket_bytes)
	((bb == 1048576)) || die "main pool: buckets of $bb bytes, not 1 MiB"
	"$VMEMCTL" create --id 1 "${f}M" >/dev/null || die "create vmem1"
	rest=$(($(cat $CTL/free_buckets) - f))
	if ((many)); then
		local t0 files=''
		t0=$(now_ms)
		for ((id = 2; id < 255; id++)); do
			"$VMEMCTL" create --id $id 2M >/dev/null || die "create vmem$id"
			files+=/dev/vmem$id:
		done
		log "$tag: created vmem2..254 in $(($(now_ms) - t0)) ms"
		fio --name=fill --filename="${files%:}" --rw=write --bs=1M \
			--iodepth=8 --direct=1 --ioengine=libaio --zero_buffers \
			--filesize=2M --size=506M --disk_util=0 --eta=never \
			--output-format=terse >/dev/null \
			2>>"$OUT/fio-stderr.log" || die "fill vmem2..254"
		rest=$((rest - 506))
		((rest >= 510)) || die "main pool: $rest MiB left for vmem0"
	fi
	((rest >= g)) || die "main pool: $rest MiB left for vmem0"
	"$VMEMCTL" create --id 0 "${rest}M" >/dev/null || die "create vmem0"
	[[ -b /dev/vmem0 && -b /dev/vmem1 ]] || die "no device node for vmem0/1"
	fill_dev /dev/vmem0
	fill_dev /dev/vmem1
	log "$tag: pool $(cat $CTL/used_buckets)/$(cat $CTL/total_buckets) buckets used, vmem0 $rest MiB"

	GRIDDEV=([raw]=$dev${ps}1 [dm-linear]=/dev/mapper/$tag-lin
		[thin-1M]=/dev/mapper/$tag-t1M-grid [vmem]=/dev/vmem0
		[vmem-wb]=/dev/vmem0)
	GRIDOFF=([raw]=0 [dm-linear]=0 [thin-1M]=0 [vmem]=0 [vmem-wb]=0)
	FILLDEV[raw]=$dev${ps}1
	FILLDEV[dm-linear]=/dev/mapper/$tag-lin
	FILLOFF[raw]=$g
	FILLOFF[dm-linear]=$g
	for t in vmem vmem-wb vmem-idle vmem-fresh; do
		FILLDEV[$t]=/dev/vmem1
		FILLOFF[$t]=0
	done
	{
		declare -p FILLDEV POOL
		echo "DEL_MB=$DEL_MB"
	} >"$BIN/targets.env"
}

teardown_disk() {
	local tag=$1 d
	for d in $(dmsetup ls | awk '{print $1}' | grep "^$tag-t"); do
		dmsetup remove "$d"
	done
	for d in $(dmsetup ls | awk '{print $1}' | grep "^$tag-"); do
		dmsetup remove "$d"
	done
}

# ------------------------------------------------------------- groups
wb_on_sec() { ((WB)) && sec "x.wb1.$1" filename="$2" rw=read bs=4k size=4k \
	numjobs=1 ioengine=psync "exec_prerun=bash $BIN/guest.sh hook wb 1"; }
wb_off_sec() { ((WB)) && sec "x.wb0.$1" filename="$2" rw=read bs=4k size=4k \
	numjobs=1 ioengine=psync "exec_prerun=bash $BIN/guest.sh hook wb 0"; }

# grid_group GROUP TAG REP SIZE_MB TARGETS WORKLOAD-SPECS...: time-based
# overwrite runs of every workload on every target (vmem-wb only writes),
# interleaved, into TAG-GROUP-rREP.json
grid_group() {
	local group=$1 tag=$2 rep=$3 g=$4 targets=$5 spec t name rw
	shift 5
	job_begin "$tag-$group-r$rep"
	for spec in "$@"; do
		read -r name rw _ <<<"$spec"
		# shellcheck disable=SC2086 # targets: one per word
		for t in $(rotate "$rep" $targets); do
			[[ $t == vmem-wb && ($WB == 0 || $rw == *read) ]] && continue
			[[ $t == vmem-wb ]] && wb_on_sec "$name" "${GRIDDEV[$t]}"
			# shellcheck disable=SC2046
			sec "$group.$name.$t.over" filename="${GRIDDEV[$t]}" \
				offset="${GRIDOFF[$t]}M" time_based=1 runtime="$RUNTIME" \
				ramp_time="$RAMP" $(wl_opts "$spec" "$g")
			[[ $t == vmem-wb ]] && wb_off_sec "$name" "${GRIDDEV[$t]}"
		done
	done
	job_run "$tag-$group-r$rep"
}

# grid TAG REP GRID_MB TARGETS WORKLOAD-SPECS...
grid() { grid_group grid "$@"; }

# wbgrid TAG REP SIZE_MB: the write buffer on vs off (issue 5), on the
# grid device (vmem0, fully provisioned)
wbgrid() {
	((WB)) || return 0
	grid_group wb "$1" "$2" "$3" "vmem vmem-wb" "${WB_WL[@]}"
}

# fill_secs GROUP SPEC TARGET SIZE_MB [HOOK MARKER_FILE [ARGS...]]: the
# first write and then the overwrite of TARGET's area, after a marker job
# on MARKER_FILE whose prerun runs "guest.sh hook HOOK TARGET ARGS..."
# (frees or replaces the area); without HOOK, the overwrite alone (raw,
# dm-linear)
fill_secs() {
	local group=$1 spec=$2 t=$3 f=$4 hook=${5:-} name p ph=over
	read -r name _ <<<"$spec"
	if [[ $hook ]]; then
		sec "x.$hook.$name.$t" filename="$6" rw=read bs=4k size=4k \
			numjobs=1 ioengine=psync \
			"exec_prerun=bash $BIN/guest.sh hook $hook $t ${*:7}"
		ph="first over"
	fi
	for p in $ph; do
		# shellcheck disable=SC2046
		sec "$group.$name.$t.$p" filename="${FILLDEV[$t]}" \
			offset="${FILLOFF[$t]}M" $(wl_opts "$spec" "$f" slice)
	done
}

# fill TAG REP FILL_MB TARGETS [WORKLOAD-SPECS...]: first write into
# unprovisioned space, then the same job again over the now-provisioned
# space. Size-based on purpose: a time-based run would turn into an
# overwrite run once every bucket is provisioned. raw and dm-linear have
# no first write: their "over" run is the reference. For vmem this is
# the first write into reused buckets (see setup_disk): "vmem" writes
# right after the discard, as a user would; "vmem-idle" after the
# background zeroer has zeroed what the discard freed (zeroer.txt says
# how long that took).
fill() {
	local tag=$1 rep=$2 f=$3 targets=$4 spec t name
	local -a wls=("${FILL_WL[@]}")
	shift 4
	(($#)) && wls=("$@")
	job_begin "$tag-fill-r$rep"
	for spec in "${wls[@]}"; do
		read -r name _ <<<"$spec"
		# shellcheck disable=SC2086 # targets: one per word
		for t in $(rotate "$rep" $targets); do
			[[ $t == vmem-wb && $WB == 0 ]] && continue
			[[ $t == vmem-wb ]] && wb_on_sec "$name" "${FILLDEV[$t]}"
			case $t in
			raw | dm-linear) fill_secs fill "$spec" "$t" "$f" ;;
			vmem-idle) fill_secs fill "$spec" "$t" "$f" freewait \
				"${FILLDEV[raw]}" "$tag" "$name" "$rep" ;;
			*) fill_secs fill "$spec" "$t" "$f" free "${FILLDEV[$t]}" ;;
			esac
			[[ $t == vmem-wb ]] && wb_off_sec "$name" "${FILLDEV[$t]}"
		done
	done
	job_run "$tag-fill-r$rep"
}

# fresh TAG REP FILL_MB: first write into a new pool: vmem-fresh (a new
# vmem1 in the format-zeroed pool each time, its buckets armed: zeroed
# by format or, after the first repetition, by the background zeroer),
# dm-thin with and without zeroing, raw's and dm-linear's overwrite as
# references; the headline workloads and the fsync=1 ones
fresh() {
	local tag=$1 rep=$2 f=$3 spec t
	# fio decides at parse time whether a path is a device: /dev/vmem1
	# must exist then (the hook replaces it), or fio creates a regular
	# file there, which O_DIRECT refuses and which hides the device node
	no_stale_nodes
	[[ -b /dev/vmem1 ]] || "$VMEMCTL" create --id 1 "${f}M" >/dev/null ||
		die "create vmem1 in the fresh pool"
	job_begin "$tag-fresh-r$rep"
	for spec in "${FILL_WL[@]}" "${FSYNC_WL[@]}"; do
		for t in $(rotate "$rep" raw dm-linear thin-1M thin-1M-nz vmem-fresh); do
			case $t in
			raw | dm-linear) fill_secs fresh "$spec" "$t" "$f" ;;
			thin-*) fill_secs fresh "$spec" "$t" "$f" free "${FILLDEV[$t]}" ;;
			# the marker must not open vmem1: the hook replaces it
			vmem-fresh) fill_secs fresh "$spec" "$t" "$f" new \
				"${FILLDEV[raw]}" "$f" ;;
			esac
		done
	done
	job_run "$tag-fresh-r$rep"
}

# del TAG REP FILL_MB: first writes into a new vmem1 (format-zeroed pool)
# with and without a delete of vmem2 (DEL_MB, every bucket provisioned)
# beside them, started 0.2 s after them; clat percentiles kept (the rest
# of the suite runs with gtod_reduce). delete.txt: each delete's time.
DEL_PCT="percentile_list=50:99:99.9"
del() {
	local tag=$1 rep=$2 f=$3 spec name c
	no_stale_nodes
	[[ -b /dev/vmem1 ]] || "$VMEMCTL" create --id 1 "${f}M" >/dev/null ||
		die "create vmem1 in the fresh pool"
	job_begin "$tag-del-r$rep"
	for spec in "${DEL_WL[@]}"; do
		read -r name _ <<<"$spec"
		for c in $(rotate "$rep" quiet delete); do
			sec "x.delprep.$name.$c" filename="${FILLDEV[raw]}" rw=read \
				bs=4k size=4k numjobs=1 ioengine=psync \
				"exec_prerun=bash $BIN/guest.sh hook delprep $c $f"
			# shellcheck disable=SC2046
			sec "del.$name.vmem-$c.first" filename=/dev/vmem1 \
				gtod_reduce=0 disable_clat=0 clat_percentiles=1 \
				"$DEL_PCT" $(wl_opts "$spec" "$f" slice)
			[[ $c == delete ]] || continue
			# beside the measured job: no stonewall
			{
				printf '[%s]\n' "x.delete.$name"
				printf '%s\n' filename="${FILLDEV[raw]}" rw=read bs=4k \
					size=4k numjobs=1 ioengine=psync \
					"exec_prerun=bash $BIN/guest.sh hook delete $tag $name $rep" \
					new_group
				echo
			} >>"$JOB"
		done
	done
	job_run "$tag-del-r$rep"
}

# srcu_pool KO VMEMCTL DEV: a pool on DEV made by that module and its
# vmemctl, vmem0 of SRCU_G MiB written once; the module unloaded after
srcu_pool() {
	insmod "$1" write_buffer=0 || die "insmod $1"
	"$2" format --force --no-zero "$3" >/dev/null || die "format $3"
	"$2" attach "$3" || die "attach $3"
	"$2" create --id 0 "${SRCU_G}M" >/dev/null || die "create vmem0 on $3"
	fill_dev /dev/vmem0
	rmmod vmem || die "rmmod after filling $3"
}

# srcu TAG DEV PSEP ROUNDS: issue 16's before/after. The old module
# (in-flight accounting by two flipping counters) and the current one
# (SRCU) each on a pool of its own (partitions 13, 14), loaded in turn
# with backing=; each load runs the SRCU_WL workloads on its vmem0 and on
# raw (the same SRCU_G MiB of partition 1), into TAG-srcu-rROUND-MOD.json.
# The order of the two modules rotates per round. Leaves the current
# module loaded with no pool.
srcu() {
	local tag=$1 dev=$2 ps=$3 rounds=$4 rep m ko part spec name t f
	((OLD)) || return 0
	"$VMEMCTL" detach 2>/dev/null
	rmmod vmem || die "rmmod before the old-module test"
	srcu_pool "$BIN/vmem-old.ko" "$BIN/vmemctl-old" "$dev${ps}13"
	srcu_pool "$BIN/vmem.ko" "$VMEMCTL" "$dev${ps}14"
	log "$tag: old-module test pools ready"
	for ((rep = 1; rep <= rounds; rep++)); do
		for m in $(rotate "$rep" old new); do
			ko=$BIN/vmem.ko part=$dev${ps}14
			[[ $m == old ]] && ko=$BIN/vmem-old.ko part=$dev${ps}13
			insmod "$ko" write_buffer=0 backing="$part" || die "insmod $ko backing=$part"
			[[ -b /dev/vmem0 ]] || die "no /dev/vmem0 on $part"
			job_begin "$tag-srcu-r$rep-$m"
			for spec in "${SRCU_WL[@]}"; do
				read -r name _ <<<"$spec"
				for t in $(rotate "$rep" raw vmem); do
					f=/dev/vmem0
					[[ $t == raw ]] && f=${FILLDEV[raw]}
					# shellcheck disable=SC2046
					sec "srcu.$name.$t-$m.over" filename="$f" \
						time_based=1 runtime="$RUNTIME" \
						ramp_time="$RAMP" $(wl_opts "$spec" "$SRCU_G")
				done
			done
			job_run "$tag-srcu-r$rep-$m"
			rmmod vmem || die "rmmod $ko"
		done
	done
	insmod "$BIN/vmem.ko" write_buffer=0 || die "insmod vmem.ko"
}

# no_stale_nodes: remove regular files fio left where a vmem node belongs
no_stale_nodes() {
	local n
	for n in /dev/vmem[0-9]*; do
		[[ -e $n && ! -b $n ]] && rm -f "$n" && log "removed stale file $n"
	done
	return 0
}

# fresh_pool TAG DEV: detach the main pool, format DEV zeroed, attach it
fresh_pool() {
	"$VMEMCTL" detach || die "detach before $2"
	"$VMEMCTL" format --force --zero "$2" >"$OUT/$1-fresh-format.txt" ||
		die "format --zero $2"
	"$VMEMCTL" attach "$2" || die "attach $2"
	log "$1: format-zeroed pool $2: $(cat $CTL/zeroed_buckets) zeroed buckets"
}

# many TAG REP: the same job on 255 devices at once (2 MiB of each, file
# chosen at random per I/O) and on one device (510 MiB of vmem0). The
# control does the same on raw brd disks (ram1..255 vs 510 MiB of ram1),
# to show what fio's many-file job and 255 block devices cost without vmem.
many() {
	local tag=$1 rep=$2 spec name files='' rfiles='' id v
	for ((id = 0; id < 255; id++)); do files+=/dev/vmem$id:; done
	for ((id = 1; id <= 255; id++)); do rfiles+=/dev/ram$id:; done
	job_begin "$tag-many-r$rep"
	for spec in "${MANY_WL[@]}"; do
		read -r name _ <<<"$spec"
		for v in $(rotate "$rep" one all255 raw-one raw-all255); do
			case $v in
			one | raw-one)
				f=/dev/vmem0
				[[ $v == raw-one ]] && f=/dev/ram1
				# shellcheck disable=SC2046
				sec "many.$name.$v.over" filename=$f time_based=1 \
					runtime="$RUNTIME" ramp_time="$RAMP" \
					$(wl_opts "$spec" 510)
				;;
			*)
				f=${files%:}
				[[ $v == raw-all255 ]] && f=${rfiles%:}
				# shellcheck disable=SC2046
				sec "many.$name.$v.over" filename="$f" \
					filesize=2M file_service_type=random time_based=1 \
					runtime="$RUNTIME" ramp_time="$RAMP" \
					$(wl_opts "$spec" 510 | sed 's/size=510M//')
				;;
			esac
		done
	done
	job_run "$tag-many-r$rep"
}

# pair TAG REP GRID_MB TARGETS: raw and one target at the same time, two
# jobs each, competing for the guest's CPUs. On brd the whole I/O runs in
# the submitting thread, so the IOPS ratio of the two halves is the
# inverse ratio of their CPU cost per I/O, and host load (which slows
# both halves alike) cancels out. A supplement to the sequential ratios.
PAIR_WL=(
	"randwrite-4k-qd32x2 randwrite 4k 32 2"
	"randread-4k-qd32x2 randread 4k 32 2"
	"write-128k-qd32x2 write 128k 32 2"
	"read-128k-qd32x2 read 128k 32 2"
)
pair() {
	local tag=$1 rep=$2 g=$3 targets=$4 spec t name rw
	job_begin "$tag-pair-r$rep"
	for spec in "${PAIR_WL[@]}"; do
		read -r name rw _ <<<"$spec"
		# shellcheck disable=SC2086 # targets: one per word
		for t in $(rotate "$rep" $targets); do
			[[ $t == vmem-wb && ($WB == 0 || $rw == *read) ]] && continue
			[[ $t == vmem-wb ]] && wb_on_sec "$name" "${GRIDDEV[$t]}"
			# shellcheck disable=SC2046
			sec "pair.$name.$t.raw" filename="${GRIDDEV[raw]}" time_based=1 \
				runtime="$RUNTIME" ramp_time="$RAMP" $(wl_opts "$spec" "$g")
			# the second half runs alongside the first: no stonewall
			# shellcheck disable=SC2046
			{
				printf '[%s]\n' "pair.$name.$t.tgt"
				printf '%s\n' filename="${GRIDDEV[$t]}" time_based=1 \
					runtime="$RUNTIME" ramp_time="$RAMP" \
					$(wl_opts "$spec" "$g") new_group
				echo
			} >>"$JOB"
			[[ $t == vmem-wb ]] && wb_off_sec "$name" "${GRIDDEV[$t]}"
		done
	done
	job_run "$tag-pair-r$rep"
}

# attach_times TAG DEV LABEL: detach, then time a plain vmemctl attach
# and a module load with backing= (3 times each)
attach_times() {
	local tag=$1 dev=$2 label=$3 i t0 t1 used
	used=$(cat $CTL/used_buckets)
	for i in 1 2 3; do
		"$VMEMCTL" detach || die "detach"
		t0=$(now_ms)
		"$VMEMCTL" attach "$dev" || die "attach $dev"
		t1=$(now_ms)
		echo "attach $tag $label vmemctl_attach $i $((t1 - t0)) used=$used devices=$(cat $CTL/devices)" >>"$OUT/attach.txt"
	done
	for i in 1 2 3; do
		"$VMEMCTL" detach || die "detach"
		rmmod vmem || die "rmmod"
		t0=$(now_ms)
		insmod "$BIN/vmem.ko" write_buffer=0 || die "insmod"
		t1=$(now_ms)
		rmmod vmem || die "rmmod"
		echo "attach $tag $label insmod_no_pool $i $((t1 - t0))" >>"$OUT/attach.txt"
		t0=$(now_ms)
		insmod "$BIN/vmem.ko" write_buffer=0 backing="$dev" || die "insmod backing=$dev"
		t1=$(now_ms)
		echo "attach $tag $label insmod_backing $i $((t1 - t0)) used=$used" >>"$OUT/attach.txt"
	done
	log "$tag: attach times for $label recorded"
}

# ------------------------------------------------------------- brd
G=256 F=64 SRCU_G=128 DEL_MB=512
GRID_TARGETS="raw dm-linear thin-1M vmem vmem-wb"
HEAD_FILL_TARGETS="raw thin-1M vmem vmem-idle"
if ((QUICK)); then
	FILL_TARGETS="raw thin-1M thin-1M-nz vmem vmem-idle vmem-wb"
	WLS=("${SHORT_WL[@]}")
else
	FILL_TARGETS="raw dm-linear thin-1M thin-1M-nz thin-512K thin-512K-nz vmem vmem-idle vmem-wb"
	WLS=("${GRID_WL[@]}")
fi

# partition 12: the fresh group's new vmem1s (their buckets come back
# through the zeroer, but format-zeroed ones are armed ahead of need),
# the delete test's vmem2 and vmem1
FRESH_MB=$((REPS * 2 * F + 96 + DEL_MB + F))
SRCU_MB=0
((OLD)) && SRCU_MB=$((SRCU_G + 32))
brd_mb=$((2 * (G + F) + (G + F + 64) + 3 * (F + 64) + 64 + 512 + F + 506 + 32 + FRESH_MB + 2 * SRCU_MB + 8))
# ram0 carries every target; ram1..255 (allocated lazily, 2 MiB used of
# each, 510 MiB of ram1) are the control of the 255-device test
modprobe brd rd_nr=256 rd_size=$((brd_mb * 1024)) max_part=31 || die "modprobe brd"
echo "brd_mb=$brd_mb" >>"$OUT/meta-guest.txt"
log "brd: /dev/ram0 $brd_mb MiB"
setup_disk brd /dev/ram0 p "$G" "$F" 1 "$FRESH_MB" "$SRCU_MB"
if ((WBONLY)); then
	# brd once (its targets are virtio's), virtio REPS times
	wbgrid brd 1 "$G"
	"$VMEMCTL" detach || die "detach brd pool"
	teardown_disk brd
	if ((VIRTIO)) && [[ -b /dev/vda ]]; then
		setup_disk vda /dev/vda "" 256 64 0 "$ATTACH_MB" 0
		for ((rep = 1; rep <= REPS; rep++)); do
			wbgrid vda "$rep" 256
		done
		teardown_disk vda
	fi
	dmesg >"$OUT/dmesg.txt"
	log "all done"
	exit 0
fi
fill_dev /dev/ram1 510
rfiles=
for ((id = 2; id <= 255; id++)); do rfiles+=/dev/ram$id:; done
fio --name=fill --filename="${rfiles%:}" --rw=write --bs=1M --iodepth=8 \
	--direct=1 --ioengine=libaio --zero_buffers --filesize=2M --size=508M \
	--disk_util=0 --eta=never --output-format=terse >/dev/null \
	2>>"$OUT/fio-stderr.log" || die "fill ram2..255"
log "brd: control disks ram1..255 filled"

for ((rep = 1; rep <= REPS + EXTRA; rep++)); do
	if ((rep <= REPS)); then
		grid brd "$rep" "$G" "$GRID_TARGETS" "${WLS[@]}"
		fill brd "$rep" "$F" "$FILL_TARGETS"
		((QUICK)) || pair brd "$rep" "$G" "dm-linear thin-1M vmem vmem-wb"
		((QUICK || rep > 2)) || wbgrid brd "$rep" "$G"
	else
		grid brd "$rep" "$G" "$GRID_TARGETS" "${SHORT_WL[@]}"
		fill brd "$rep" "$F" "$HEAD_FILL_TARGETS" "${FILL_WL[0]}"
	fi
	many brd "$rep"
done
dmesg >"$OUT/dmesg-brd.txt"
attach_times brd /dev/ram0p11 "pool-255-devices"
fresh_pool brd /dev/ram0p12
for ((rep = 1; rep <= REPS; rep++)); do
	fresh brd "$rep" "$F"
done
for ((rep = 1; rep <= REPS; rep++)); do
	del brd "$rep" "$F"
done
"$VMEMCTL" detach || die "detach brd pool"
srcu brd /dev/ram0 p $((REPS + EXTRA))
teardown_disk brd

# ------------------------------------------------------------- virtio
if ((VIRTIO)) && [[ -b /dev/vda ]]; then
	# fill's first writes over 256 MiB: over 64 MiB the reused-bucket
	# run lasts about 130 ms on this disk, shorter than the commit and
	# the zeroer it waits for (BENCHMARKS.md, issue 11); fresh and del
	# keep 64 MiB (VN)
	VG=256 VF=256 VN=64 DEL_MB=2048
	VWLS=("${SHORT_WL[@]}")
	VFILL_TARGETS="raw dm-linear thin-1M thin-1M-nz vmem vmem-idle"
	echo "virtio_write_zeroes_max_bytes=$(cat /sys/block/vda/queue/write_zeroes_max_bytes)" >>"$OUT/meta-guest.txt"
	echo "virtio_write_cache=$(cat /sys/block/vda/queue/write_cache)" >>"$OUT/meta-guest.txt"
	((ATTACH_MB >= 2 * DEL_MB)) || die "--attach-mb $ATTACH_MB: the delete test needs $((2 * DEL_MB))"
	setup_disk vda /dev/vda "" "$VG" "$VF" 0 "$ATTACH_MB" "$SRCU_MB"
	for ((rep = 1; rep <= REPS + EXTRA; rep++)); do
		((rep > REPS)) ||
			grid vda "$rep" "$VG" "raw dm-linear thin-1M vmem vmem-wb" "${VWLS[@]}"
		fill vda "$rep" "$VF" "$VFILL_TARGETS"
	done
	((QUICK)) || wbgrid vda 1 "$VG"
	dmesg >"$OUT/dmesg-vda.txt"

	# A format-zeroed pool: attach time empty, first writes into it, then
	# the attach time once every bucket is provisioned (one device over
	# the rest of the pool, one 4 KiB write into each bucket)
	fresh_pool vda /dev/vda12
	attach_times vda /dev/vda12 "empty-pool"
	for ((rep = 1; rep <= REPS + EXTRA; rep++)); do
		fresh vda "$rep" "$VN"
	done
	for ((rep = 1; rep <= REPS; rep++)); do
		del vda "$rep" "$VN"
	done
	[[ -e /sys/block/vmem2 ]] && { "$VMEMCTL" delete 2 || die "delete vmem2"; }
	settle 300 || log "vda: pool not settled after 300 s"
	nb=$(cat $CTL/free_buckets)
	"$VMEMCTL" create --id 0 "${nb}M" >/dev/null || die "create attach dev"
	t0=$(now_ms)
	fio --name=prov --filename=/dev/vmem0 --rw=write --bs=4k --zonemode=strided \
		--zonesize=4k --zonerange=1M --iodepth=1 --direct=1 --ioengine=psync \
		--size="${nb}M" --io_size="$((nb * 4))k" --disk_util=0 --eta=never \
		--output-format=json --output="$RAW/vda-provision-all.json" \
		2>>"$OUT/fio-stderr.log" || die "provision all"
	t1=$(now_ms)
	echo "provision vda all-buckets $nb $((t1 - t0)) used=$(cat $CTL/used_buckets)" >>"$OUT/attach.txt"
	log "vda: provisioned $(cat $CTL/used_buckets) buckets in $((t1 - t0)) ms"
	attach_times vda /dev/vda12 "full-pool"
	"$VMEMCTL" detach
	srcu vda /dev/vda "" "$REPS"
	teardown_disk vda
fi

# ------------------------------------------------------ capped virtio
# The first-write groups again on a second virtio disk whose writes
# QEMU caps (scripts/bench/run: --disk ...,write-mbps=N), a disk whose
# bandwidth is the limit: on /dev/vda, a file in the host's page cache,
# dm-thin's zeroing costs next to nothing (BENCHMARKS.md, issue 11's
# "2x dm-thin with zeroing"). Full runs only; no grid, no delete test.
if ((VIRTIO && !QUICK)) && [[ -b /dev/vdb ]]; then
	# fill's first writes over 256 MiB: QEMU's cap lets 12.5 MiB
	# through at once after an idle moment, a fifth of a 64 MiB job
	# and so a fifth of its time, spent by whichever job comes first
	# after the pause: over 64 MiB the reused-bucket row measured
	# that (docs/bench/reuse-burst/). fresh keeps 64 MiB (CN)
	CG=64 CF=256 CN=64
	# no dm-linear: on this disk it would only repeat raw's overwrite
	CFILL_TARGETS="raw thin-1M thin-1M-nz vmem vmem-idle"
	echo "virtio_capped_write_zeroes_max_bytes=$(cat /sys/block/vdb/queue/write_zeroes_max_bytes)" >>"$OUT/meta-guest.txt"
	"$VMEMCTL" detach 2>/dev/null
	setup_disk vdb /dev/vdb "" "$CG" "$CF" 0 512 0
	for ((rep = 1; rep <= REPS + EXTRA; rep++)); do
		fill vdb "$rep" "$CF" "$CFILL_TARGETS"
	done
	fresh_pool vdb /dev/vdb12
	for ((rep = 1; rep <= REPS + EXTRA; rep++)); do
		fresh vdb "$rep" "$CN"
	done
	"$VMEMCTL" detach || die "detach vdb pool"
	teardown_disk vdb
fi

dmesg >"$OUT/dmesg.txt"
if grep -Eq 'BUG|WARNING|Oops|hung task' "$OUT/dmesg.txt"; then
	log "kernel log has warnings: see dmesg.txt"
fi
log "all done"
