#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Device-table writes in a tight loop, for the leak test (g_leak.sh).

  racer.py ID STOPFILE

Sets the budget of device ID over and over (alternating two values), each
time straight through the VMEM_CTL_SET_BUDGET ioctl of /dev/vmem-control:
every call makes the module write the device-table sector holding ID's
record, durably, under the pool's metadata lock. Ids 217..254 live in
table sectors 8 and 9, which share a 4 KiB logical block with map sectors
10..15 (buckets 0..371). Runs until STOPFILE exists; prints how many
calls succeeded and how many failed.
"""
import fcntl
import os
import struct
import sys

MAGIC = 0xF3
DEV_FMT = "<IIQQQQII4Q"          # struct vmem_ctl_dev (include/uapi/linux/vmem.h)
SET_BUDGET = (3 << 30) | (struct.calcsize(DEV_FMT) << 16) | (MAGIC << 8) | 5
UNIT = 65536


def main():
    dev_id, stop = int(sys.argv[1]), sys.argv[2]
    fd = os.open("/dev/vmem-control", os.O_RDWR)
    ok = bad = 0
    while not os.path.exists(stop):
        for _ in range(8):
            budget = (64 + (ok + bad) % 2) * UNIT
            arg = bytearray(struct.pack(DEV_FMT, dev_id, 0, 0, budget,
                                        0, 0, 0, 0, 0, 0, 0, 0))
            try:
                fcntl.ioctl(fd, SET_BUDGET, arg)
                ok += 1
            except OSError:
                bad += 1
    os.close(fd)
    print("racer: %d device-table writes of device %d, %d failed"
          % (ok, dev_id, bad))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
