#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Flush ordering under vmem's write buffer, checked with dm-log-writes.

  logwrites_check.py write DEV STATE LW DELAY   run the workload on DEV (a
        vmem device over log-writes target LW; DELAY: the buffer's
        write_buffer_delay_us, raised for the second part)
  logwrites_check.py verify LOGDEV STATE   parse the log, check ordering

The workload: writer threads issue O_DIRECT 4 KiB writes, each block
tagged with a unique number, while one thread calls fsync() (one
REQ_PREFLUSH) now and then, records which writes had been acknowledged
before that call began, and once it returned puts a mark "fsync-K" in
the log. dm-log-writes logs what is durable, in order: a completed
write when a flush that came after it completes, a FUA write when it
completes, a mark when it is made. So each write acknowledged before
fsync K must be in the log before mark fsync-K (after the "start"
mark): the flush contract, whether the flush or FUA writes made it
durable. Prints PASS:/FAIL: lines.
"""
import json
import mmap
import os
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "reliability"))
import lwmark  # noqa: E402

BLOCK = 4096
TAG = b"VMEMLOG:%010d:"
MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK = 1, 2, 4, 8


def tag_block(buf, n):
    """Fill the block buffer buf with write n's tag"""
    tag = TAG % n
    buf.seek(0)
    buf.write(tag * (BLOCK // len(tag)) + b"\0" * (BLOCK % len(tag)))


def mark(lw, k):
    """Log mark fsync-K in log-writes target lw, once fsync K returned"""
    lwmark.mark(lw, f"fsync-{k}")


def workload(fd, lw, acked, fsyncs, first, writers, per_writer,
             fsync_every):
    """Writers write blocks first.. on, a syncer fsyncs every fsync_every
    acknowledged writes (0: each writer fsyncs after each of its
    writes); appends to acked and fsyncs"""
    cond = threading.Condition()
    done = threading.Event()
    a0, f0 = len(acked), len(fsyncs)

    def writer(w):
        buf = mmap.mmap(-1, BLOCK)
        for i in range(per_writer):
            n = first + w * per_writer + i
            tag_block(buf, n)
            # At most two fsync intervals ahead of the syncer: writes
            # keep overlapping the fsyncs, and there are many fsyncs
            with cond:
                cond.wait_for(lambda: len(acked) - a0 <
                              (len(fsyncs) - f0 + 2) * fsync_every)
            os.pwrite(fd, buf, n * BLOCK)
            with cond:
                acked.append(n)
                cond.notify_all()

    def sync(before):
        os.fsync(fd)
        mark(lw, len(fsyncs))
        with cond:
            fsyncs.append(before)
            cond.notify_all()

    def syncer():
        while True:
            with cond:
                cond.wait_for(lambda: done.is_set() or len(acked) - a0 >=
                              (len(fsyncs) - f0 + 1) * fsync_every)
                before = list(acked)
            if done.is_set():
                break
            sync(before)
        sync(before)

    def own(w):
        """write, then fsync that write, per_writer times"""
        buf = mmap.mmap(-1, BLOCK)
        for i in range(per_writer):
            n = first + w * per_writer + i
            tag_block(buf, n)
            os.pwrite(fd, buf, n * BLOCK)
            with cond:
                acked.append(n)
                k = len(fsyncs)
                fsyncs.append(list(acked))
            os.fsync(fd)
            mark(lw, k)

    if not fsync_every:
        ts = [threading.Thread(target=own, args=(w,)) for w in range(writers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return first + writers * per_writer
    ts = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    s = threading.Thread(target=syncer)
    s.start()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with cond:
        done.set()
        cond.notify_all()
    s.join()
    return first + writers * per_writer


def write(dev, state, lw, delay_file):
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    acked = []
    fsyncs = []
    # Eight writers, an fsync every 40 writes: the flusher writes the
    # buffer. Then one writer with an fsync after each write, the
    # buffer's timer far off: the flush finds one record and writes it
    # itself (REQ_PREFLUSH | REQ_FUA). Then four writers, each with an
    # fsync after each of its writes: flushes that arrive while another
    # writes the buffer out flush on their own and wait for it
    n = workload(fd, lw, acked, fsyncs, 0, 8, 300, 40)
    with open(delay_file, "w") as f:
        f.write("100000")
    n = workload(fd, lw, acked, fsyncs, n, 1, 300, 1)
    n = workload(fd, lw, acked, fsyncs, n, 4, 75, 0)
    os.close(fd)
    with open(state, "w") as f:
        json.dump({"fsyncs": fsyncs, "writes": n}, f)
    print(f"PASS: logwrites workload ({n} writes, {len(fsyncs)} fsyncs)")
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
    marks = {}
    for flags, data in entries(logdev):
        if flags & MARK:
            started = started or data == b"start"
            if started and data.startswith(b"fsync-"):
                marks[int(data[6:])] = set(seen)
            continue
        if not started:
            continue
        if data:
            for off in range(0, len(data), BLOCK):
                chunk = data[off:off + 25]
                if chunk.startswith(b"VMEMLOG:"):
                    seen.add(int(chunk[8:18]))
    ok = True
    if len(marks) != len(st["fsyncs"]):
        print(f"FAIL: logwrites: {len(marks)} fsync marks for "
              f"{len(st['fsyncs'])} fsyncs")
        return 1
    late = 0
    for k, before in enumerate(st["fsyncs"]):
        missing = set(before) - marks[k]
        if missing:
            ok = False
            late += len(missing)
    if ok:
        print(f"PASS: logwrites: every write acknowledged before each of "
              f"{len(st['fsyncs'])} fsyncs is logged before its mark")
    else:
        print(f"FAIL: logwrites: {late} acknowledged writes not durable "
              f"when their fsync returned")
    if len(seen) == st["writes"]:
        print(f"PASS: logwrites: all {st['writes']} writes in the log")
    else:
        print(f"FAIL: logwrites: {len(seen)} of {st['writes']} writes "
              f"in the log")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    cmd, dev, state = sys.argv[1:4]
    sys.exit(write(dev, state, *sys.argv[4:6]) if cmd == "write"
             else verify(dev, state))
