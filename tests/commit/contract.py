#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The flush contract of vmem devices, proven by replaying a dm-log-writes
log (issue 11, "Proof", second bullet).

  contract.py run --dev DEV... --ledger FILE [--seed N] [--threads N]
                  [--steps N] [--bucket-kib N] [--region N] [--cap N]
                  [--lw NAME]
  contract.py check LOG BASE WORK LEDGER --vmemctl PATH [--name NAME]

run (guest; vmem sits on dm-log-writes target NAME, default "lw"):
writer threads issue O_DIRECT writes of 1..4 blocks of 4 KiB into buckets
they own (each thread has a region of --region buckets on one device and
keeps at most --cap of them written): into buckets never written, over
written blocks, and into buckets they discarded before (BLKDISCARD of the
whole bucket), which the pool hands out again; some writes carry
RWF_DSYNC through Linux AIO (a REQ_FUA bio and no flush after it):
first writes into a bucket, and overwrites of
blocks whose last write an fsync covered (dm-log-writes logs a FUA write
at its completion but a plain one at the next flush, so a FUA write over
an unflushed plain write of the same block would replay in the wrong
order). A syncer thread calls fsync() on one device or the
other now and then; after fsync K returns it logs the mark "fsync-K" in
the dm-log-writes log (lwmark.py: one ioctl, no dmsetup run), and after
each RWF_DSYNC write returns the writer logs "fua-K". Every event gets
a ticket from one counter when it is issued and another when it is
acknowledged, and goes to the ledger (JSON) at the end.

Every 4 KiB block written holds 128 copies of a 32-byte tag (magic,
device, block, version, run token), so each of its sectors says which
write put it there.

check (host): tests/reliability/replay.py applies the log to a copy of
the pool and checks every flush/FUA point (vmemctl check clean, no
foreign data, no reuse without a durable free); in addition, at the last
flush/FUA entry before mark fsync-K (a power cut right after fsync K's
flush reached the disk, or later), every block of the fsynced device
with an event acknowledged before fsync K was called must read back,
through the map decoded from the replayed image, as the last such event
left it (that write's tag, or zeros after a discard) or as a later event
did. At the last such entry before fua-K the write's own blocks must.
Prints PASS:/FAIL: lines.
"""
import argparse
import ctypes
import fcntl
import json
import mmap
import os
import random
import re
import struct
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reliability"))
import lwmark  # noqa: E402
import replay  # noqa: E402
import vmemimg  # noqa: E402

BLK = 4096
TAG = struct.Struct("<8sIIQQ")
MAGIC = b"VMEMCMT2"
BLKDISCARD = 0x1277


def block_data(dev, blk, ver, token):
    return TAG.pack(MAGIC, dev, blk, ver, token) * (BLK // TAG.size)


def decode(data, token):
    """What a 4 KiB block holds: ("zero",), ("v", dev, blk, ver), or
    ("junk", description)"""
    if not any(data):
        return ("zero",)
    magic, dev, blk, ver, tok = TAG.unpack_from(data, 0)
    if magic == MAGIC and tok == token and \
            data == block_data(dev, blk, ver, token):
        return ("v", dev, blk, ver)
    bad = [s for s in range(BLK // 512)
           if data[s * 512:(s + 1) * 512] !=
           (block_data(dev, blk, ver, token)[s * 512:(s + 1) * 512]
            if magic == MAGIC and tok == token else bytes(512))]
    return ("junk", "%s, %d of 8 sectors differ from its first tag" % (
        "tag %d/%d/%d" % (dev, blk, ver) if magic == MAGIC and tok == token
        else "no tag", len(bad)))


# ------------------------------------------------------------ guest side
class Aio:
    """One O_DIRECT write at a time through Linux AIO (io_submit), so that
    RWF_DSYNC makes it a REQ_FUA bio and nothing else: a synchronous
    pwritev2(RWF_DSYNC) on a block device is followed by an fsync (a
    flush), which would hide a FUA write that is not durable on its own"""
    SETUP, DESTROY, GETEVENTS, SUBMIT = 206, 207, 208, 209     # x86_64
    IOCB = struct.Struct("<QIiHhIQQqQII")
    PWRITE = 1

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.ctx = ctypes.c_ulong(0)
        self.call(self.SETUP, ctypes.c_long(4), ctypes.byref(self.ctx))

    def call(self, nr, *args):
        r = self.libc.syscall(ctypes.c_long(nr), *args)
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, "aio syscall %d: %s" % (nr, os.strerror(e)))
        return r

    def pwrite(self, fd, buf, n, off, rw_flags):
        addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        iocb = ctypes.create_string_buffer(self.IOCB.pack(
            0, 0, rw_flags, self.PWRITE, 0, fd, addr, n, off, 0, 0, 0))
        ptrs = (ctypes.c_void_p * 1)(ctypes.addressof(iocb))
        self.call(self.SUBMIT, self.ctx, ctypes.c_long(1), ptrs)
        ev = ctypes.create_string_buffer(32)
        while self.call(self.GETEVENTS, self.ctx, ctypes.c_long(1),
                        ctypes.c_long(1), ev, None) != 1:
            pass
        res = struct.unpack_from("<QQqq", ev.raw)[2]
        if res < 0:
            raise OSError(-res, "aio write: %s" % os.strerror(-res))
        if res != n:
            raise OSError(0, "aio write: %d of %d bytes" % (res, n))


class Run:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.token = self.rng.getrandbits(62)
        self.lock = threading.Lock()
        self.ticket = 0
        self.events = []        # (issue, ack, kind, dev, blocks, vers, mark)
        self.fsyncs = []        # (k, dev, call, ret)
        self.fds = [os.open(d, os.O_RDWR | os.O_DIRECT) for d in a.dev]
        self.bb = a.bucket_kib * 1024 // BLK     # blocks per bucket
        self.nfua = 0
        # per device: the call ticket of the last fsync that returned
        self.synced = [0] * len(self.fds)
        self.errors = []
        self.done = threading.Event()

    def tick(self):
        with self.lock:
            self.ticket += 1
            return self.ticket

    def mark(self, name):
        try:
            lwmark.mark(self.a.lw, name)
        except OSError as e:
            self.errors.append("mark %s: %s" % (name, e))

    def writer(self, t):
        a = self.a
        rng = random.Random(a.seed * 1000 + t)
        di = t % len(self.fds)
        fd = self.fds[di]
        first = (t // len(self.fds)) * a.region
        region = list(range(first, first + a.region))
        written = []            # buckets holding data, oldest first
        ver = {}
        buf = mmap.mmap(-1, 4 * BLK)
        counts = {"first": 0, "over": 0, "discard": 0, "reuse": 0, "fua": 0}
        discarded = set()
        try:
            self.steps(t, rng, di, fd, region, written, ver, buf, counts,
                       discarded)
        except OSError as e:
            self.errors.append("writer %d: %s" % (t, e))
        with self.lock:
            for k, v in counts.items():
                self.counts[k] = self.counts.get(k, 0) + v

    def steps(self, t, rng, di, fd, region, written, ver, buf, counts,
              discarded):
        a = self.a
        last_ack = {}
        aio = Aio()
        for _ in range(a.steps):
            r = rng.random()
            if r < 0.12 and written:
                b = written.pop(rng.randrange(len(written)))
                issue = self.tick()
                fcntl.ioctl(fd, BLKDISCARD, struct.pack(
                    "QQ", b * self.bb * BLK, self.bb * BLK))
                ack = self.tick()
                blocks = list(range(b * self.bb, (b + 1) * self.bb))
                self.events.append((issue, ack, "d", di, blocks, None, None))
                discarded.add(b)
                counts["discard"] += 1
                continue
            if (r < 0.6 or not written) and len(written) < a.cap:
                b = rng.choice([x for x in region if x not in written])
                written.append(b)
                counts["reuse" if b in discarded else "first"] += 1
                # dm-log-writes logs a FUA write when it completes and a
                # plain one at the next flush: a FUA write over blocks
                # whose plain write is not flushed yet would be replayed
                # before it. So RWF_DSYNC only into a new bucket or over
                # writes an fsync has covered.
                fua_ok = True
            else:
                b = rng.choice(written)
                counts["over"] += 1
                fua_ok = last_ack.get(b, 0) < self.synced[di]
            n = rng.randint(1, 4)
            off = rng.randrange(self.bb - n + 1)
            blocks = list(range(b * self.bb + off, b * self.bb + off + n))
            vers = []
            buf.seek(0)
            for blk in blocks:
                v = ver.get(blk, 0) + 1
                ver[blk] = v
                vers.append(v)
                buf.write(block_data(di, blk, v, self.token))
            fua = fua_ok and rng.random() < 0.06
            issue = self.tick()
            if fua:
                aio.pwrite(fd, buf, n * BLK, blocks[0] * BLK, os.RWF_DSYNC)
            else:
                os.pwrite(fd, memoryview(buf)[:n * BLK], blocks[0] * BLK)
            ack = self.tick()
            last_ack[b] = ack
            mark = None
            if fua:
                with self.lock:
                    self.nfua += 1
                    mark = "fua-%d" % self.nfua
                self.mark(mark)
                counts["fua"] += 1
            self.events.append((issue, ack, "w", di, blocks, vers, mark))

    def syncer(self):
        try:
            self.syncs()
        except OSError as e:
            self.errors.append("fsync: %s" % e)

    def syncs(self):
        rng = random.Random(self.a.seed + 7)
        k = 0
        while True:
            last = self.done.is_set()
            devs = range(len(self.fds)) if last else [k % len(self.fds)]
            for di in devs:
                k += 1
                call = self.tick()
                os.fsync(self.fds[di])
                ret = self.tick()
                self.synced[di] = call
                self.mark("fsync-%d" % k)
                self.fsyncs.append((k, di, call, ret))
            if last:
                return
            self.done.wait(rng.uniform(0.02, 0.12))

    def run(self):
        self.counts = {}
        t0 = time.time()
        ts = [threading.Thread(target=self.writer, args=(t,))
              for t in range(self.a.threads)]
        s = threading.Thread(target=self.syncer)
        for t in ts:
            t.start()
        s.start()
        for t in ts:
            t.join()
        self.done.set()
        s.join()
        for fd in self.fds:
            os.close(fd)
        with open(self.a.ledger, "w") as f:
            json.dump({"token": self.token, "bucket_blocks": self.bb,
                       "devs": self.a.ids, "events": self.events,
                       "fsyncs": self.fsyncs, "counts": self.counts}, f)
        c = self.counts
        print("contract: %d writes (%d into never-written buckets, %d into "
              "discarded ones, %d overwrites, %d with RWF_DSYNC), %d "
              "discards, %d fsyncs in %.0f s" % (
                  c["first"] + c["reuse"] + c["over"], c["first"],
                  c["reuse"], c["over"], c["fua"], c["discard"],
                  len(self.fsyncs), time.time() - t0))
        for e in self.errors[:5]:
            print("FAIL: contract: " + e)
        return 1 if self.errors else 0


# ------------------------------------------------------------ host side
class Contract(replay.Replay):
    """replay.Replay plus the flush-contract check at fsync/fua marks"""

    def __init__(self, a, ledger):
        super().__init__(a)
        self.led = ledger
        self.token = ledger["token"]
        self.bb = ledger["bucket_blocks"]
        self.ids = ledger["devs"]
        # per (dev index, block): its events in order, (issue, ack, value)
        # with value None for zeros (a discard) or the version written
        self.hist = {}
        marks = {}
        for issue, ack, kind, di, blocks, vers, mark in sorted(
                ledger["events"], key=lambda e: e[0]):
            for i, blk in enumerate(blocks):
                self.hist.setdefault((di, blk), []).append(
                    (issue, ack, None if kind == "d" else vers[i]))
            if mark:
                marks[mark] = (di, blocks, vers, issue)
        self.marks_due = {}       # log entry index -> [mark names]
        self.want = {}
        for k, di, call, ret in ledger["fsyncs"]:
            self.want["fsync-%d" % k] = ("fsync", di, call)
        for name, (di, blocks, vers, issue) in marks.items():
            self.want[name] = ("fua", di, blocks, vers, issue)
        last = None
        seen = set()
        for i, _s, _n, flags, name, _o in replay.log_entries(a.log):
            if flags & replay.MARK:
                if name in self.want:
                    seen.add(name)
                    self.marks_due.setdefault(last, []).append(name)
            elif flags & (replay.FLUSH | replay.FUA):
                last = i
        self.missing = sorted(set(self.want) - seen)
        self.checked = {"fsync": 0, "fua": 0}
        self.blocks_checked = 0
        self.cfail = []
        self.flushes = 0
        self.fua_at = {}        # 4 KiB block's sector -> flushes seen then
        self.ambiguous = set()
        self.nambiguous = 0

    def apply(self, sector, nsec, flags, name, off, want):
        """Note 4 KiB blocks where a plain write is logged after a FUA
        write of the same block with fewer than two flushes between:
        dm-log-writes logs the FUA write at its completion and the plain
        one at the next flush, so which of the two the disk holds is not
        known from the log (a module zeroing a bucket just before a FUA
        write into it would do this; the real disk keeps the later)"""
        if flags & replay.FLUSH:
            self.flushes += 1
        if nsec and not flags & (replay.MARK | replay.DISCARD) and \
                sector >= self.meta_end:
            for s in range(sector - sector % 8, sector + nsec, 8):
                if flags & replay.FUA:
                    self.fua_at[s] = self.flushes
                elif self.flushes - self.fua_at.get(s, -9) < 2:
                    self.ambiguous.add(s)
        super().apply(sector, nsec, flags, name, off, want)

    def entry_done(self, index, flags, name):
        for m in self.marks_due.pop(index, []):
            self.check_mark(m)

    def mapping(self):
        m = {}
        for pb, (owner, vb, _f) in vmemimg.map_entries(self.meta,
                                                       self.sb).items():
            if owner:
                m[(owner - 1, vb)] = pb
        return m

    def read_block(self, mapping, di, blk):
        bsz = self.bs * 512
        vb, off = divmod(blk * BLK, bsz)
        pb = mapping.get((self.ids[di], vb))
        if pb is None:
            return bytes(BLK), None
        return os.pread(self.fd, BLK, self.sb.data_sector(pb) * 512 +
                        off), (pb, self.sb.data_sector(pb) + off // 512)

    def check_block(self, mark, mapping, di, blk, call, only=None):
        """The block must hold the value of its last event acknowledged
        before @call (or with @only, that version) or of a later event"""
        h = self.hist[(di, blk)]
        idx = None
        for i, (issue, ack, val) in enumerate(h):
            if only is not None:
                if val == only:
                    idx = i
            elif ack < call:
                idx = i
        if idx is None:
            return
        ok_vals = {h[i][2] for i in range(idx, len(h))}
        data, where = self.read_block(mapping, di, blk)
        pb = where[0] if where else None
        got = decode(data, self.token)
        self.blocks_checked += 1
        if got == ("zero",) and None in ok_vals:
            return
        if got[0] == "v" and got[1:3] == (di, blk) and got[3] in ok_vals:
            return
        if where and where[1] in self.ambiguous and (
                got == ("zero",) or got[0] == "v" and got[1:3] == (di, blk)):
            self.nambiguous += 1
            return
        need = h[idx][2]
        self.cfail.append(
            "%s: vmem%d block %d (%s) reads %s, but %s was acknowledged "
            "before it" % (
                mark, self.ids[di], blk,
                "bucket %d" % pb if pb is not None else "unmapped",
                "zeros" if got == ("zero",) else
                "version %d" % got[3] if got[0] == "v" and
                got[1:3] == (di, blk) else
                "tag of vmem%d block %d" % (self.ids[got[1]], got[2])
                if got[0] == "v" else got[1],
                "a discard" if need is None else "version %d" % need))

    def check_mark(self, m):
        w = self.want[m]
        mapping = self.mapping()
        n = len(self.cfail)
        if w[0] == "fsync":
            _, di, call = w
            for (d, blk) in self.hist:
                if d == di:
                    self.check_block(m, mapping, d, blk, call)
        else:
            _, di, blocks, vers, issue = w
            for blk, v in zip(blocks, vers):
                self.check_block(m, mapping, di, blk, None, only=v)
        self.checked[w[0]] += 1
        return len(self.cfail) == n

    def contract_report(self):
        c = self.led["counts"]
        ok = not self.cfail and not self.missing and \
            self.checked["fsync"] == len(self.led["fsyncs"])
        for f in self.cfail[:8]:
            print("  " + f, file=sys.stderr)
        for m in self.missing[:4]:
            print("  mark %s is not in the log" % m, file=sys.stderr)
        print("%s: %s: every write acknowledged before fsync K reads back "
              "at the last flush/FUA point before mark fsync-K, through the "
              "replayed map (%d fsyncs, %d RWF_DSYNC writes, %d block "
              "checks; %d writes: %d into never-written buckets, %d into "
              "discarded ones, %d overwrites; %d discards)%s" % (
                  "PASS" if ok else "FAIL", self.a.name,
                  self.checked["fsync"], self.checked["fua"],
                  self.blocks_checked, c["first"] + c["reuse"] + c["over"],
                  c["first"], c["reuse"], c["over"], c["discard"],
                  "" if ok else ": %d blocks wrong, %d marks missing" % (
                      len(self.cfail), len(self.missing))))
        if self.nambiguous:
            print("contract: %d block checks accepted an older value where "
                  "the log cannot order a FUA write and a plain write of "
                  "the same block" % self.nambiguous)
        return 0 if ok else 1


def check(a):
    with open(a.ledger) as f:
        led = json.load(f)
    r = Contract(a, led)
    nent, total = r.run()
    rc = r.report(nent, total)
    rc |= r.contract_report()
    with open(os.path.join(a.work, "contract.json"), "w") as f:
        json.dump({"failures": r.cfail, "missing": r.missing,
                   "checked": r.checked, "blocks": r.blocks_checked,
                   "reused": r.reused}, f, indent=1)
    return rc


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("run")
    g.add_argument("--dev", nargs="+", required=True)
    g.add_argument("--ledger", required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--threads", type=int, default=4)
    g.add_argument("--steps", type=int, default=150)
    g.add_argument("--bucket-kib", type=int, default=64)
    g.add_argument("--region", type=int, default=48)
    g.add_argument("--cap", type=int, default=36)
    g.add_argument("--lw", default="lw")
    h = sub.add_parser("check")
    h.add_argument("log")
    h.add_argument("base")
    h.add_argument("work")
    h.add_argument("ledger")
    h.add_argument("--vmemctl", required=True)
    h.add_argument("--name", default="contract")
    a = p.parse_args()
    if a.cmd == "run":
        a.ids = [int(re.search(r"(\d+)$", d).group(1)) for d in a.dev]
        return Run(a).run()
    a.samples = 0
    a.repairs = 0
    a.fs_mark = "fs-ready"
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
