#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A flush whose write-out fails in part, on a disk without FUA.

  wbuf_failed_run.py bucket DISK ID VB   print the first sector and the
        sectors of device ID's virtual bucket VB on pool disk DISK (its
        committed map, copy A)
  wbuf_failed_run.py write X Y LW        buffer write 1 to device Y and
        write 2 to device X (O_DIRECT, 4 KiB each, at 8 KiB), fsync X,
        which must fail with EIO (write 2's bucket fails its writes),
        then mark "fsync-x" in log-writes target LW
  wbuf_failed_run.py verify LOGDEV       write 1 is logged before the
        mark

Without FUA, a flush that writes the buffer out itself writes plainly
and flushes after. When one of its writes fails, that flush is not
sent; the writes that did not fail are in the disk's cache only, while
a younger flush may count on them (it was sent before they ended). So
they must be durable when the failed flush ends: write 1 is in the log
(dm-log-writes logs a write once it is durable) before the mark.
Prints PASS:/FAIL: lines; exit status 1 if any failed.
"""
import errno
import mmap
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reliability"))
import lwmark  # noqa: E402
import vmemimg as V  # noqa: E402
from logwrites_check import BLOCK, MARK, TAG, entries, tag_block  # noqa: E402

W1, W2 = 900000001, 900000002   # tags no other test writes


def bucket(disk, dev_id, vb):
    with open(disk, "rb") as f:
        sb = V.Sb(f.read(V.SECTOR))
        f.seek(0)
        meta = f.read((V.MAP_START + sb.map_sectors) * V.SECTOR)
    for b, (owner, v, _) in V.map_entries(meta, sb).items():
        if owner == dev_id + 1 and v == vb:
            print(sb.data_sector(b), sb.bucket_sectors)
            return 0
    print(f"FAIL: vmem{dev_id} has no bucket {vb} on {disk}")
    return 1


def write(x, y, lw):
    buf = mmap.mmap(-1, BLOCK)
    fy = os.open(y, os.O_WRONLY | os.O_DIRECT)
    fx = os.open(x, os.O_WRONLY | os.O_DIRECT)
    tag_block(buf, W1)
    os.pwrite(fy, buf, 2 * BLOCK)
    tag_block(buf, W2)
    os.pwrite(fx, buf, 2 * BLOCK)
    try:
        os.fsync(fx)
        got = 0
    except OSError as e:
        got = e.errno
    lwmark.mark(lw, "fsync-x")
    os.close(fx)
    os.close(fy)
    if got == errno.EIO:
        print(f"PASS: the fsync of {x}, whose write fails, fails with EIO")
        return 0
    print(f"FAIL: the fsync of {x}, whose write fails: got "
          f"{errno.errorcode.get(got, got)}, want EIO")
    return 1


def verify(logdev):
    tag = TAG % W1
    seen = False
    for flags, data in entries(logdev):
        if flags & MARK:
            if data != b"fsync-x":
                continue
            if seen:
                print("PASS: the buffered write that did not fail is "
                      "durable when the failed fsync returns")
                return 0
            print("FAIL: the buffered write that did not fail is not "
                  "durable when the failed fsync returns (not logged "
                  "before its mark)")
            return 1
        seen = seen or any(data[off:off + len(tag)] == tag
                           for off in range(0, len(data), BLOCK))
    print("FAIL: no mark fsync-x in the log")
    return 1


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "bucket":
        sys.exit(bucket(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    sys.exit(write(*sys.argv[2:5]) if cmd == "write"
             else verify(sys.argv[2]))
