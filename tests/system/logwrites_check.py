#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Flush ordering under vmem's write buffer, checked with dm-log-writes.

  logwrites_check.py write DEV STATE   run the workload on DEV (a vmem
                                       device over a log-writes target)
  logwrites_check.py verify LOGDEV STATE   parse the log, check ordering

The workload: writer threads issue O_DIRECT 4 KiB writes, each block
tagged with a unique number, while one thread calls fsync() (one
REQ_PREFLUSH) now and then and records which writes had been
acknowledged before that call began. dm-log-writes logs a write when it
completes and logs every completed write before a flush's entry; so each
write acknowledged before fsync k must be in the log before the k-th flush
entry (after the "start" mark). Prints PASS:/FAIL: lines.
"""
import json
import mmap
import os
import struct
import sys
import threading

BLOCK = 4096
TAG = b"VMEMLOG:%010d:"
MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK = 1, 2, 4, 8


def write(dev, state, writers=8, per_writer=300, fsync_every=40):
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    lock = threading.Lock()
    acked = []
    fsyncs = []
    done = threading.Event()

    def writer(w):
        buf = mmap.mmap(-1, BLOCK)
        for i in range(per_writer):
            n = w * per_writer + i
            tag = TAG % n
            buf.seek(0)
            buf.write(tag * (BLOCK // len(tag)) +
                      b"\0" * (BLOCK % len(tag)))
            os.pwrite(fd, buf, n * BLOCK)
            with lock:
                acked.append(n)

    def syncer():
        while not done.is_set():
            with lock:
                before = list(acked)
            if len(before) >= (len(fsyncs) + 1) * fsync_every:
                os.fsync(fd)
                fsyncs.append(before)
        with lock:
            before = list(acked)
        os.fsync(fd)
        fsyncs.append(before)

    ts = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    s = threading.Thread(target=syncer)
    s.start()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    done.set()
    s.join()
    os.close(fd)
    with open(state, "w") as f:
        json.dump({"fsyncs": fsyncs, "writes": writers * per_writer}, f)
    print(f"PASS: logwrites workload ({writers * per_writer} writes, "
          f"{len(fsyncs)} fsyncs)")
    return 0


def entries(logdev):
    with open(logdev, "rb") as f:
        magic, version, nr, sectorsize = struct.unpack("<QQQI", f.read(28))
        if magic != MAGIC:
            raise SystemExit("FAIL: logwrites: no dm-log-writes log")
        pos = 1
        for _ in range(nr):
            f.seek(pos * sectorsize)
            sector, nr_sectors, flags, data_len = struct.unpack(
                "<QQQQ", f.read(32))
            pos += 1
            data = b""
            if flags & MARK:
                f.seek((pos - 1) * sectorsize + 32)
                data = f.read(data_len).rstrip(b"\0")
            elif nr_sectors and not flags & DISCARD:
                f.seek(pos * sectorsize)
                data = f.read(nr_sectors * sectorsize)
                pos += nr_sectors
            yield flags, data


def verify(logdev, state):
    with open(state) as f:
        st = json.load(f)
    started = False
    seen = set()
    flushes = []
    for flags, data in entries(logdev):
        if flags & MARK:
            started = started or data == b"start"
            continue
        if not started:
            continue
        if data:
            for off in range(0, len(data), BLOCK):
                chunk = data[off:off + 25]
                if chunk.startswith(b"VMEMLOG:"):
                    seen.add(int(chunk[8:18]))
        if flags & FLUSH:
            flushes.append(set(seen))
    ok = True
    if len(flushes) < len(st["fsyncs"]):
        print(f"FAIL: logwrites: {len(flushes)} flush entries for "
              f"{len(st['fsyncs'])} fsyncs")
        return 1
    late = 0
    for k, before in enumerate(st["fsyncs"]):
        missing = set(before) - flushes[k]
        if missing:
            ok = False
            late += len(missing)
    if ok:
        print(f"PASS: logwrites: every write acknowledged before each of "
              f"{len(st['fsyncs'])} flushes is logged before it")
    else:
        print(f"FAIL: logwrites: {late} acknowledged writes logged after "
              f"a later flush")
    if len(seen) == st["writes"]:
        print(f"PASS: logwrites: all {st['writes']} writes in the log")
    else:
        print(f"FAIL: logwrites: {len(seen)} of {st['writes']} writes "
              f"in the log")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    cmd, dev, state = sys.argv[1:4]
    sys.exit(write(dev, state) if cmd == "write" else verify(dev, state))
