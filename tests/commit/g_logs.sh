#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest: workloads under dm-log-writes whose logs the host checks
# (contract.py check, logcheck.py zeroed / delete, replay.py).
#
# Disks: /dev/vda a pool of 64 KiB buckets (format zeroed its data area)
# and /dev/vdb its log, for the flush contract; /dev/vdc a second such
# pool and /dev/vdd its log, for the format-zeroed provisioning and the
# delete. Args: SEED STEPS [wb]: with "wb", only the flush contract, with
# the write buffer on (and no /dev/vdc, /dev/vdd).
set -u
. "$VMEM_REPO/tests/reliability/glib.sh"
seed=$1 steps=$2 wb=${3:-}
cd /tmp || exit 2
ctl=/sys/class/misc/vmem-control

modprobe dm-log-writes
# Buffer off unless "wb" switches it on below: dm-log-writes over virtio
# has a write cache, so write_buffer=auto would turn it on in both runs
load_vmem write_buffer=0 || { fail "logs: insmod"; exit 1; }

# lw NAME DISK LOG: dm-log-writes target NAME between DISK and LOG
lw() { dmsetup create "$1" --table "0 $(blockdev --getsz "$2") log-writes $2 $3"; }

# --- the flush contract: writers, discards and fsyncs on two devices
check "contract: dm-log-writes between vmem and its disk" lw lw /dev/vda /dev/vdb
check "contract: attach over dm-log-writes" "$VMEMCTL" attach /dev/mapper/lw
# The longest delay: only a flush may send buffered data out in time
[ -z "$wb" ] || check "contract: write buffer on, 100 ms delay" \
	"$VMEMCTL" write-buffer on --delay-us 100000
check "contract: create vmem0 and vmem1" \
	sh -c "$VMEMCTL create --id 0 8M >/dev/null && $VMEMCTL create --id 1 8M >/dev/null"
dmsetup message lw 0 mark start
if python3 "$VMEM_REPO/tests/commit/contract.py" run \
	--dev /dev/vmem0 /dev/vmem1 --ledger "$VMEM_OUT/contract.json" \
	--seed "$seed" --steps "$steps" --threads 4 --region 48 --cap 30; then
	pass "contract: workload ran (every write, discard and fsync succeeded)"
else
	fail "contract: workload ran (every write, discard and fsync succeeded)"
fi
dmsetup message lw 0 mark end
check "contract: detach" "$VMEMCTL" detach
check "contract: remove dm-log-writes (log complete)" dmsetup remove lw
check "contract: vmemctl check clean after detach" "$VMEMCTL" check /dev/vda
if [ -n "$wb" ]; then
	check "logs: no kernel warning" no_kernel_trouble
	t_summary
	exit
fi

# --- provisioning format-zeroed buckets, then a delete
check "zeroed: dm-log-writes between vmem and its disk" lw lw2 /dev/vdc /dev/vdd
check "zeroed: attach over dm-log-writes" "$VMEMCTL" attach /dev/mapper/lw2
check "zeroed: create vmem5 and vmem3" \
	sh -c "$VMEMCTL create --id 5 4M >/dev/null && $VMEMCTL create --id 3 4M >/dev/null"
check "delete: write three buckets of vmem3 and fsync" \
	dd if=/dev/urandom of=/dev/vmem3 bs=64k count=3 oflag=direct conv=fsync status=none
z0=$(cat $ctl/zeroed_buckets 2>/dev/null || echo "?")
dmsetup message lw2 0 mark zeroed-start
# One 4 KiB write into each of four new buckets, no flush: whatever
# commits them (today at once, with the new driver the commit timer)
python3 - <<-'EOF'
	import mmap, os
	fd = os.open("/dev/vmem5", os.O_WRONLY | os.O_DIRECT)
	buf = mmap.mmap(-1, 4096)
	buf.write(b"zeroed-bucket-data" * 200 + bytes(4096 - 3600))
	for b in range(4):
	    os.pwrite(fd, buf, b * 65536 + 8192)
	os.close(fd)
	EOF
sleep 3
dmsetup message lw2 0 mark zeroed-end
echo "logs: format-zeroed buckets before/after: $z0/$(cat $ctl/zeroed_buckets 2>/dev/null || echo "?")"
# shellcheck disable=SC2016 # expanded by the inner shell
check "zeroed: the four blocks read back" \
	sh -c 'for b in 0 1 2 3; do
		dd if=/dev/vmem5 bs=4k skip=$((b * 16 + 2)) count=1 iflag=direct status=none |
			grep -q zeroed-bucket-data || exit 1; done'
dmsetup message lw2 0 mark delete-start
check "delete: delete vmem3" "$VMEMCTL" delete 3
dmsetup message lw2 0 mark delete-end
check "zeroed: detach" "$VMEMCTL" detach
check "zeroed: remove dm-log-writes (log complete)" dmsetup remove lw2
check "zeroed: vmemctl check clean after detach" "$VMEMCTL" check /dev/vdc
check "logs: no kernel warning" no_kernel_trouble
t_summary
