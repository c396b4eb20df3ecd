#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Record the vmem pool-usage uevents (VMEM_POOL_USAGE=...) the kernel
sends while a command runs.

  uevents.py OUT -- CMD ARGS...

Listens on the kernel's uevent netlink socket (no udev in the guest),
runs CMD, waits for CMD to end, then reads what arrived until the
socket has been quiet for the event work to run (the events come from a
work item, not the I/O path), and writes one VMEM_POOL_USAGE value per
line to OUT. Exit status: CMD's.
"""
import select
import socket
import subprocess
import sys

NETLINK_KOBJECT_UEVENT = 15


def main():
    out, cmd = sys.argv[1], sys.argv[3:]
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                      NETLINK_KOBJECT_UEVENT)
    s.bind((0, 1))
    rc = subprocess.call(cmd)
    levels = []
    # The last event is queued by the time CMD's writes completed; let
    # the work item send it (bounded: the socket stays quiet for 2 s)
    while select.select([s], [], [], 2.0)[0]:
        for field in s.recv(65536).split(b"\0"):
            if field.startswith(b"VMEM_POOL_USAGE="):
                levels.append(field.split(b"=", 1)[1].decode())
    with open(out, "w") as f:
        f.write("".join(lv + "\n" for lv in levels))
    return rc


if __name__ == "__main__":
    sys.exit(main())
