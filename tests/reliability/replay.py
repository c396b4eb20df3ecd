#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Replay a dm-log-writes log of a vmem pool, checking every flush point.

  replay.py LOG BASE WORK --vmemctl PATH --name NAME [--samples N]
            [--repairs N]

LOG is the log device of a dm-log-writes target that sat between vmem
and its backing disk; BASE is a copy of the backing disk from before the
target was created. The entries are applied in order to WORK/scratch.img
(a sparse copy of BASE); at every entry carrying FLUSH or FUA the image is
what a disk honouring flushes may hold after a power cut there, and:

  - "vmemctl check" must find it clean, or find only interrupted
    deletions (attach finishes those; "vmemctl repair" is then run on a
    copy of the first few and must leave it clean);
  - no bucket may become mapped while any of its sectors still holds data
    of its previous owner or of the disk before formatting ("no foreign
    data"): per sector we track whether it was written since its bucket
    was last freed (or since formatting, unless it read as zero then);
  - no bucket may change owner without a durable free in between.

A sample of the marks (one before the filesystems exist, the others
spread evenly after that, the last, and the first with an interrupted
deletion) is kept as WORK/snap-MARK.img for the guest, which
attaches each one and checks the filesystems on it (--samples 0: none).

The log's sector size is the logical block size of the device it was
taken on (512 or 4096); entries are converted to 512-byte sectors here.
Subclasses can add checks of their own in entry_done(), which runs after
each entry was applied (tests/commit/contract.py does).

Log format (dm-log-writes): sector 0 holds {le64 magic, le64 version,
le64 nr_entries, le32 sectorsize}; then per entry one sector {le64 sector,
le64 nr_sectors, le64 flags, le64 data_len} followed by nr_sectors
sectors of data (none for a discard; a mark's name sits in its entry
sector after the header).
"""
import argparse
import ctypes
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmemimg  # noqa: E402

MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long,
                            ctypes.c_long]


def punch(fd, off, length):
    if _libc.fallocate(fd, 3, off, length):     # PUNCH_HOLE | KEEP_SIZE
        zero = bytes(1 << 20)
        while length:
            n = min(length, len(zero))
            os.pwrite(fd, zero[:n], off)
            off += n
            length -= n


def log_entries(path):
    """Yield (index, sector, nr_sectors, flags, mark_name, data_offset)"""
    with open(path, "rb") as f:
        magic, version, nr, ss = struct.unpack("<QQQI", f.read(28))
        if magic != MAGIC:
            raise SystemExit("FAIL: %s is not a dm-log-writes log" % path)
        pos = 1
        for i in range(nr):
            f.seek(pos * ss)
            hdr = f.read(ss)
            sector, nsec, flags, dlen = struct.unpack_from("<QQQQ", hdr)
            name = None
            if flags & MARK:
                name = hdr[32:32 + dlen].rstrip(b"\0").decode(
                    errors="replace")
            pos += 1
            data_off = pos * ss
            if nsec and not flags & (DISCARD | MARK):
                pos += nsec
            yield i, sector * ss // 512, nsec * ss // 512, flags, name, \
                data_off


class Replay:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.scratch = os.path.join(a.work, "scratch.img")
        subprocess.run(["cp", "--sparse=always", a.base, self.scratch],
                       check=True)
        self.fd = os.open(self.scratch, os.O_RDWR)
        self.log = open(a.log, "rb")
        self.sb = vmemimg.read_sb(self.scratch)
        sb = self.sb
        self.meta_end = sb.data_start * vmemimg.SECTORS_PER_PAGE
        self.data_end = sb.data_sector(sb.nr_buckets)
        self.bs = sb.bucket_sectors
        self.meta = bytearray(os.pread(self.fd, sb.meta_sectors * 512, 0))
        self.owner = vmemimg.map_entries(self.meta, sb)
        self.dirty_map = set()
        self.stale = {}     # bucket -> bytearray of per-sector stale flags
        self.init_stale()
        self.foreign_at_format = len(self.stale)
        self.marks = 0
        self.deleting_marks = 0
        self.failures = []
        self.provisioned = self.freed = self.reused = 0
        self.ever_freed = set()
        self.repairs = 0
        self.snaps = []
        self.fs_ready_at = None
        self.mark_names = []
        self.deleting_snap = False
        self.point = (0, 0, 0)

    def init_stale(self):
        """A free bucket's sector is stale if it does not read as zero"""
        sb = self.sb
        zero = bytes(self.bs * 512)
        for b in range(sb.nr_buckets):
            data = os.pread(self.fd, self.bs * 512, sb.data_sector(b) * 512)
            if data == zero or len(data) < len(zero):
                continue
            flags = bytearray(self.bs)
            for s in range(self.bs):
                if any(data[s * 512:(s + 1) * 512]):
                    flags[s] = 1
            if any(flags):
                self.stale[b] = flags

    def write(self, sector, nsec, data_off):
        self.log.seek(data_off)
        data = self.log.read(nsec * 512)
        os.pwrite(self.fd, data, sector * 512)
        end = sector + nsec
        if sector < self.meta_end:
            lo, hi = sector, min(end, len(self.meta) // 512)
            if lo < hi:
                self.meta[lo * 512:hi * 512] = data[:(hi - lo) * 512]
                for s in range(lo, hi):
                    if s >= vmemimg.MAP_START:
                        self.dirty_map.add(s - vmemimg.MAP_START)
        lo = max(sector, self.sb.data_sector(0))
        hi = min(end, self.data_end)
        while lo < hi:
            b = (lo - self.sb.data_sector(0)) // self.bs
            bstart = self.sb.data_sector(b)
            bend = min(hi, bstart + self.bs)
            st = self.stale.get(b)
            if st is not None:
                st[lo - bstart:bend - bstart] = bytes(bend - lo)
                if not any(st):
                    del self.stale[b]
            lo = bend

    def check_map(self, mark):
        sb = self.sb
        ms = sorted(m for m in self.dirty_map if m < sb.map_sectors)
        self.dirty_map.clear()
        for m in ms:
            if not vmemimg.blk_ok(self.meta[(vmemimg.MAP_START + m) * 512:
                                            (vmemimg.MAP_START + m + 1) * 512],
                                  vmemimg.MAP_MAGIC, m, sb.pool_id):
                continue        # vmemctl check reports it
            new = vmemimg.map_entries(self.meta, sb, [m])
            for b, (owner, vb, flags) in new.items():
                old = self.owner.get(b, (0, 0, 0))
                self.owner[b] = (owner, vb, flags)
                if old[:2] == (owner, vb):
                    continue
                if old[0] and owner:
                    self.fail(mark, "bucket %d moved from vmem%d vbucket %d "
                              "to vmem%d vbucket %d without a durable free"
                              % (b, old[0] - 1, old[1], owner - 1, vb))
                elif old[0]:
                    self.freed += 1
                    self.ever_freed.add(b)
                    self.stale[b] = bytearray(b"\1" * self.bs)
                elif owner:
                    self.provisioned += 1
                    if b in self.ever_freed:
                        self.reused += 1
                    st = self.stale.get(b)
                    if st is not None:
                        self.fail(mark, "bucket %d given to vmem%d vbucket %d"
                                  " with %d of %d sectors holding foreign "
                                  "data (at %s)" % (b, owner - 1, vb, sum(st),
                                                    self.bs,
                                                    self.point_str()))

    def point_str(self):
        """The entry of the current flush/FUA point, for messages"""
        sector, nsec, flags = self.point
        what = "|".join(n for n, f in (("FLUSH", FLUSH), ("FUA", FUA))
                        if flags & f)
        if not nsec:
            return "an empty " + what
        return "a %s write of sectors %d..%d" % (what, sector,
                                                 sector + nsec - 1)

    def fail(self, mark, msg):
        self.failures.append("mark %d: %s" % (mark, msg))

    def vmemctl_check(self, mark):
        r = subprocess.run([self.a.vmemctl, "check", self.scratch],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if r.returncode == 0:
            return "clean"
        faults = [ln for ln in r.stdout.splitlines()
                  if ln.startswith("vmemctl: check: ")]
        if r.returncode == 1 and faults and all(
                ln.endswith("device deletion was interrupted")
                for ln in faults):
            return "deleting"
        self.fail(mark, "vmemctl check exit %d: %s" % (
            r.returncode, "; ".join(r.stdout.splitlines()[:4])))
        if len([f for f in self.failures if "vmemctl check" in f]) <= 2:
            shutil.copy(self.scratch, os.path.join(self.work,
                                                   "fail-%d.img" % mark))
        return "damaged"

    def try_repair(self, mark):
        copy = os.path.join(self.work, "repair.img")
        subprocess.run(["cp", "--sparse=always", self.scratch, copy],
                       check=True)
        r = subprocess.run([self.a.vmemctl, "repair", copy],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        c = subprocess.run([self.a.vmemctl, "check", copy],
                           stdout=subprocess.DEVNULL)
        os.unlink(copy)
        if r.returncode or c.returncode:
            self.fail(mark, "repair of an interrupted deletion: exit %d, "
                      "check after it exit %d: %s" % (
                          r.returncode, c.returncode,
                          "; ".join(r.stdout.splitlines()[-3:])))
        self.repairs += 1

    def snapshot(self, mark, why):
        path = os.path.join(self.work, "snap-%06d.img" % mark)
        os.fsync(self.fd)
        subprocess.run(["cp", "--sparse=always", self.scratch, path],
                       check=True)
        self.snaps.append({"mark": mark, "path": path, "why": why,
                           "fs": self.fs_ready_at is not None})

    def plan_samples(self):
        """Mark numbers to keep: one while the filesystems are not made
        yet, the rest spread evenly after that, and the last"""
        total = fs_at = 0
        for e in log_entries(self.a.log):
            if e[3] & MARK and e[4] == self.a.fs_mark:
                fs_at = total
            elif e[3] & (FLUSH | FUA):
                total += 1
        if self.a.samples <= 0:
            return total, set()
        n = self.a.samples
        want = {total}
        if fs_at > 1 and n > 1:
            want.add(max(1, fs_at // 2))
            n -= 1
        span = total - fs_at
        for k in range(1, n):
            want.add(fs_at + max(1, span * k // n))
        return total, want

    def run(self):
        total, want = self.plan_samples()
        nent = 0
        for i, sector, nsec, flags, name, off in log_entries(self.a.log):
            nent += 1
            self.apply(sector, nsec, flags, name, off, want)
            self.entry_done(i, flags, name)
        return nent, total

    def apply(self, sector, nsec, flags, name, off, want):
        """Apply one log entry; at a flush/FUA point, check the image"""
        if flags & MARK:
            self.mark_names.append(name)
            if name == self.a.fs_mark:
                self.fs_ready_at = self.marks
            return
        if flags & DISCARD:
            punch(self.fd, sector * 512, nsec * 512)
        elif nsec:
            self.write(sector, nsec, off)
        if not flags & (FLUSH | FUA):
            return
        self.point = (sector, nsec, flags)
        self.marks += 1
        mark = self.marks
        self.check_map(mark)
        verdict = self.vmemctl_check(mark)
        if verdict == "deleting":
            self.deleting_marks += 1
            if self.repairs < self.a.repairs:
                self.try_repair(mark)
            if not self.deleting_snap and self.a.samples > 0:
                self.deleting_snap = True
                self.snapshot(mark, "interrupted deletion")
                return
        if mark in want:
            self.snapshot(mark, "sample")

    def entry_done(self, index, flags, name):
        """Called after each log entry was applied (and, at a flush/FUA
        point, checked): a hook for subclasses with checks of their own"""

    def report(self, nent, total):
        name = self.a.name
        for f in self.failures[:10]:
            print("  " + f, file=sys.stderr)
        checkfail = [f for f in self.failures if "vmemctl check" in f or
                     "repair" in f]
        mapfail = [f for f in self.failures if f not in checkfail]
        ok = total > 0 and self.marks == total
        print("%s: %s: vmemctl check clean at all %d flush/FUA marks of %d "
              "log entries (%d with an interrupted deletion; %d repaired "
              "on a copy)" % ("PASS" if ok and not checkfail else "FAIL",
                              name, self.marks, nent, self.deleting_marks,
                              self.repairs))
        print("%s: %s: no foreign data and no reuse without a durable free "
              "at any mark (%d buckets provisioned, %d freed, %d reused; "
              "%d held foreign data at format time)" %
              ("PASS" if ok and not mapfail and self.provisioned else "FAIL",
               name, self.provisioned, self.freed, self.reused,
               self.foreign_at_format))
        res = {"name": name, "entries": nent, "marks": self.marks,
               "deleting_marks": self.deleting_marks,
               "repairs": self.repairs, "provisioned": self.provisioned,
               "freed": self.freed, "reused": self.reused,
               "foreign_at_format": self.foreign_at_format,
               "failures": self.failures, "snaps": self.snaps,
               "log_marks": self.mark_names}
        with open(os.path.join(self.work, "replay.json"), "w") as f:
            json.dump(res, f, indent=1)
        return 1 if self.failures or not ok else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("base")
    p.add_argument("work")
    p.add_argument("--vmemctl", required=True)
    p.add_argument("--name", default="replay")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--repairs", type=int, default=3)
    p.add_argument("--fs-mark", default="fs-ready")
    a = p.parse_args()
    r = Replay(a)
    nent, total = r.run()
    return r.report(nent, total)


if __name__ == "__main__":
    sys.exit(main())
