#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# System test of the write buffer's flush: a power cut right after fsync
# returns. Disk: /dev/vda a formatted pool. Arg: cut | check.
#
# cut: the buffer on with its longest delay (100 ms: only a flush sends
# buffered data out in time), 4 KiB writes of a pattern into provisioned
# space, fsync, and a reset (sysrq-b) at once, before the delay could
# write anything; check (the next boot): the pattern reads back.
set -u
. "$(dirname "$0")/lib.sh"
cd /tmp || exit 2
pat=$VMEM_OUT/wbcut.pat

if [ "$1" = cut ]; then
	load_vmem write_buffer=1 write_buffer_delay_us=100000 backing=/dev/vda ||
		{ fail "wbcut: insmod"; exit 1; }
	check "wbcut: create vmem0" sh -c "$VMEMCTL create --id 0 16M >/dev/null"
	check "wbcut: provision it (fsynced zeros)" \
		dd if=/dev/zero of=/dev/vmem0 bs=1M count=16 oflag=direct conv=fsync status=none
	head -c 1M /dev/urandom >"$pat"
	echo 1 >/proc/sys/kernel/sysrq
	echo "wbcut: writing, fsync, cut"
	# One process: no program start between fsync and the cut
	python3 - "$pat" <<-'PY'
		import mmap, os, sys
		data = open(sys.argv[1], "rb").read()
		buf = mmap.mmap(-1, len(data))
		buf.write(data)
		fd = os.open("/dev/vmem0", os.O_WRONLY | os.O_DIRECT)
		for off in range(0, len(data), 4096):
		    os.pwrite(fd, memoryview(buf)[off:off + 4096], (4 << 20) + off)
		with open("/sys/class/misc/vmem-control/write_buffer_stat") as f:
		    print("wbcut: buffer stat before fsync:", f.read().strip())
		os.fsync(fd)
		open("/proc/sysrq-trigger", "w").write("b")
		PY
	fail "wbcut: the guest did not reset"
	exit 1
fi

load_vmem backing=/dev/vda || { fail "wbcut: insmod after the cut"; exit 1; }
check "wbcut: the data fsynced right before the cut reads back" \
	cmp -s -i 0:$((4 << 20)) -n $((1 << 20)) "$pat" /dev/vmem0
check "wbcut: the rest reads the zeros fsynced before" \
	cmp -s -n $((4 << 20)) /dev/vmem0 /dev/zero
rmmod vmem
check "wbcut: vmemctl check clean" "$VMEMCTL" check /dev/vda
t_summary
