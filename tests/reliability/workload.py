#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Provisioning-, fsync-, discard- and delete-heavy workload with a ledger.

  workload.py run --fs DIR... [--raw DEV] [--churn ID...] --ledger FILE
                  (--steps N | --seconds S) [--seed N] [--vmemctl PATH]
  workload.py verify --fs DIR... [--raw DEV] --ledger FILE

run: files of 4 KiB .. 3 MiB created, replaced (rename over), appended
to and deleted on each mounted filesystem, with fsync; 256 KiB O_DIRECT
writes and whole-bucket discards on a raw vmem device; FITRIM; and, with
--churn, devices created, written, resized and deleted through vmemctl.
Every durable step is recorded in the ledger only after its fsync
returned; a step that is under way is recorded first as pending, so after
a power cut either its old or its new state is acceptable. A discard is
recorded when it returned, but the devices have a volatile write cache:
it is durable only once a later fsync (a flush on any device of the
pool, which commits the pool's map) returned; until then its slots read
zeros or what they held before.

verify: every committed file, append and raw slot must read back as the
ledger says (old or new for a pending step). Prints PASS:/FAIL: lines.

The ledger lives outside the guest's disks ($VMEM_OUT, 9p, each write a
synchronous round trip to the host), so it survives the power cut.
Every 4 KiB block of generated data starts with its seed and block number,
so a misplaced block is caught as well as a wrong byte.
"""
import argparse
import fcntl
import mmap
import os
import random
import struct
import subprocess
import sys
import time
import zlib

BLK = 4096
SLOT = 256 * 1024          # raw write unit
BUCKET = 1024 * 1024       # raw discard unit (the default bucket size)
FITRIM = 0xC0185879
BLKDISCARD = 0x1277
MAX_FILES = 24             # per filesystem, then the oldest is deleted


def content(seed, size):
    base = random.Random(seed).randbytes(BLK)
    out = bytearray()
    for blk in range(-(-size // BLK)):
        out += b"%016x%016x" % (seed, blk) + base[32:]
    return bytes(out[:size])


class Ledger:
    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(self, *words):
        os.write(self.fd, (" ".join(str(w) for w in words) + "\n").encode())


def fsync_dir(d):
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, data, sync):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for off in range(0, len(data), 1 << 18):
            os.write(fd, data[off:off + (1 << 18)])
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


class Work:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.led = Ledger(a.ledger)
        self.files = {}
        for d in a.fs:
            names = os.listdir(d)
            for f in names:
                if f.startswith("t"):   # a replacement cut short
                    os.unlink(os.path.join(d, f))
            self.files[d] = sorted(f for f in names if f.startswith("f"))
        self.n = 0
        self.raw = None
        if a.raw:
            self.raw = os.open(a.raw, os.O_RDWR | os.O_DIRECT)
            self.raw_size = os.lseek(self.raw, 0, os.SEEK_END)
            self.buf = mmap.mmap(-1, SLOT)
        self.stats = {}

    def name(self):
        self.n += 1
        return "f%08x%06d" % (self.a.seed & 0xFFFFFFFF, self.n)

    def seed(self):
        return self.rng.getrandbits(48)

    def count(self, what):
        self.stats[what] = self.stats.get(what, 0) + 1

    def size(self):
        r = self.rng.random()
        if r < 0.4:
            return self.rng.randrange(1, 64) * BLK
        if r < 0.85:
            return self.rng.randrange(64 * 1024, 1536 * 1024)
        return self.rng.randrange(2, 4) * BUCKET

    def new_file(self, d):
        name, seed, size = self.name(), self.seed(), self.size()
        path = os.path.join(d, name)
        sync = self.rng.random() < 0.85
        write_file(path, content(seed, size), sync)
        self.files[d].append(name)
        if sync:
            fsync_dir(d)
            self.led.log("F", path, seed, size)
            self.count("fsynced files")

    def replace(self, d):
        if not self.files[d]:
            return self.new_file(d)
        name = self.rng.choice(self.files[d])
        path = os.path.join(d, name)
        tmp = os.path.join(d, "t" + name)
        seed, size = self.seed(), self.size()
        write_file(tmp, content(seed, size), True)
        self.led.log("P", path, seed, size)
        os.rename(tmp, path)
        fsync_dir(d)
        self.led.log("F", path, seed, size)
        self.count("replaced files")

    def delete(self, d):
        if not self.files[d]:
            return
        name = self.files[d].pop(self.rng.randrange(len(self.files[d])))
        path = os.path.join(d, name)
        self.led.log("D", path)
        os.unlink(path)
        if self.rng.random() < 0.5:
            fsync_dir(d)
        self.count("deleted files")

    def append(self, d):
        path = os.path.join(d, "append")
        seed = zlib.crc32(path.encode())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            cur = os.fstat(fd).st_size
            if cur > 8 * BUCKET:
                return
            add = self.rng.randrange(1, 16) * 512
            os.write(fd, content(seed, cur + add)[cur:])
            os.fsync(fd)
        finally:
            os.close(fd)
        self.led.log("A", path, seed, cur + add)
        self.count("fsynced appends")

    def raw_write(self):
        slot = self.rng.randrange(self.raw_size // SLOT)
        seed = self.seed()
        self.buf.seek(0)
        self.buf.write(content(seed, SLOT))
        self.led.log("RP", slot, seed)
        os.pwrite(self.raw, self.buf, slot * SLOT)
        os.fsync(self.raw)
        self.led.log("R", slot, seed)
        self.count("raw writes")

    def raw_discard(self):
        b = self.rng.randrange(self.raw_size // BUCKET)
        self.led.log("ZP", b)
        fcntl.ioctl(self.raw, BLKDISCARD, struct.pack("QQ", b * BUCKET,
                                                      BUCKET))
        self.led.log("Z", b)
        self.count("raw bucket discards")

    def trim(self, d):
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.ioctl(fd, FITRIM, struct.pack("QQQ", 0, 2 ** 64 - 1, 0))
        finally:
            os.close(fd)
        self.count("fstrims")

    def vmemctl(self, *args):
        return subprocess.run([self.a.vmemctl] + [str(x) for x in args],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode

    def churn(self):
        i = self.rng.choice(self.a.churn)
        dev = "/dev/vmem%d" % i
        if not os.path.exists(dev):
            if self.vmemctl("create", "--id", i, "8M") == 0:
                self.count("devices created")
            return
        r = self.rng.random()
        if r < 0.5:
            fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
            try:
                size = os.lseek(fd, 0, os.SEEK_END)
                self.buf.seek(0)
                self.buf.write(content(self.seed(), SLOT))
                for _ in range(self.rng.randrange(1, 5)):
                    os.pwrite(fd, self.buf,
                              self.rng.randrange(size // SLOT) * SLOT)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.count("churn device writes")
        elif r < 0.65:
            with open("/sys/block/vmem%d/size" % i) as f:
                cur = int(f.read()) * 512
            if cur < 32 * BUCKET and \
                    self.vmemctl("resize", i, cur + 4 * BUCKET) == 0:
                self.count("devices resized")
        else:
            if self.vmemctl("delete", i) == 0:
                self.count("devices deleted")

    def step(self):
        r = self.rng.random()
        d = self.rng.choice(self.a.fs) if self.a.fs else None
        if d and len(self.files[d]) > MAX_FILES:
            return self.delete(d)
        if d and r < 0.35:
            return self.new_file(d)
        if d and r < 0.45:
            return self.replace(d)
        if d and r < 0.58:
            return self.delete(d)
        if d and r < 0.70:
            return self.append(d)
        if self.raw is not None and r < 0.82:
            return self.raw_write()
        if self.raw is not None and r < 0.87:
            return self.raw_discard()
        if d and r < 0.92:
            return self.trim(d)
        if self.a.churn and self.raw is not None:
            return self.churn()
        if d:
            return self.new_file(d)
        return None

    def run(self):
        self.led.log("S", self.a.seed)
        end = time.monotonic() + (self.a.seconds or 1e9)
        steps = 0
        while time.monotonic() < end and \
                (not self.a.steps or steps < self.a.steps):
            self.step()
            steps += 1
        for d in self.a.fs:
            fsync_dir(d)
        print("workload: %d steps: %s" % (steps, ", ".join(
            "%d %s" % (v, k) for k, v in sorted(self.stats.items()))))
        return 0


def read_ledger(path):
    files, appends, slots = {}, {}, {}
    zpend = set()       # slots discarded, not yet behind a flush
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w or (line and not line.endswith("\n")):
                continue
            k = w[0]
            if k in ("F", "A", "R"):
                # an fsync returned: the discards before it are durable
                for s in zpend:
                    slots[s] = [0]
                zpend.clear()
            if k == "F":
                files[w[1]] = [(int(w[2]), int(w[3]))]
            elif k == "P":
                files.setdefault(w[1], [None]).append((int(w[2]), int(w[3])))
            elif k == "D":
                files.setdefault(w[1], [None]).append("absent")
            elif k == "A":
                appends[w[1]] = (int(w[2]), int(w[3]))
            elif k == "R":
                slots[int(w[1])] = [int(w[2])]
            elif k == "RP":
                slots.setdefault(int(w[1]), [0]).append(int(w[2]))
            elif k == "Z":
                # zeros (added by ZP) or the old data, until a flush
                for s in range(BUCKET // SLOT):
                    zpend.add(int(w[1]) * (BUCKET // SLOT) + s)
            elif k == "ZP":
                for s in range(BUCKET // SLOT):
                    slots.setdefault(int(w[1]) * (BUCKET // SLOT) + s,
                                     [0]).append(0)
    return files, appends, slots


def verify(a):
    files, appends, slots = read_ledger(a.ledger)
    bad = []
    nfiles = 0
    for path, alts in files.items():
        if not any(path.startswith(d + "/") for d in a.fs):
            continue
        try:
            with open(path, "rb") as f:
                got = f.read()
        except FileNotFoundError:
            got = None
        ok = False
        for alt in alts:
            if alt is None:             # never committed: anything goes
                ok = True
            elif alt == "absent":
                ok = ok or got is None
            elif got is not None and got == content(alt[0], alt[1]):
                ok = True
        if len(alts) == 1 and alts[0] is not None:
            nfiles += 1
        if not ok:
            bad.append("%s: %s, wanted one of %s" % (
                path, "missing" if got is None else "%d bytes differ" %
                len(got), alts))
    for path, (seed, length) in appends.items():
        if not any(path.startswith(d + "/") for d in a.fs):
            continue
        try:
            with open(path, "rb") as f:
                got = f.read(length)
        except FileNotFoundError:
            got = None if length else b""
        if got != content(seed, length):
            bad.append("%s: fsynced prefix of %d bytes differs" %
                       (path, length))
    nslots = 0
    if a.raw:
        fd = os.open(a.raw, os.O_RDONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, SLOT)
        zero = bytes(SLOT)
        try:
            for slot, alts in sorted(slots.items()):
                os.preadv(fd, [buf], slot * SLOT)
                got = bytes(buf)
                nslots += 1
                if not any(got == (zero if s == 0 else content(s, SLOT))
                           for s in alts):
                    bad.append("raw slot %d: not one of seeds %s" %
                               (slot, alts))
        finally:
            os.close(fd)
    for b in bad[:10]:
        print("  " + b, file=sys.stderr)
    tag = a.tag + ": " if a.tag else ""
    print("%s: %sfsynced data intact (%d files, %d appends, %d raw slots)"
          % ("FAIL" if bad else "PASS", tag, nfiles, len(appends), nslots))
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["run", "verify"])
    p.add_argument("--fs", nargs="*", default=[])
    p.add_argument("--raw")
    p.add_argument("--churn", nargs="*", type=int, default=[])
    p.add_argument("--ledger", required=True)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--vmemctl", default="vmemctl")
    p.add_argument("--tag", default="")
    a = p.parse_args()
    if a.cmd == "run":
        return Work(a).run()
    return verify(a)


if __name__ == "__main__":
    sys.exit(main())
