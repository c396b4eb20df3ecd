#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Two orderings of vmem's metadata writes, read from a dm-log-writes log
(issue 11, item 8).

  logcheck.py zeroed LOG BASE [--start MARK]
  logcheck.py delete LOG BASE --id N [--start MARK]

BASE is the pool as it was before the log began; entries are read from
the first mark named MARK on (defaults: "zeroed-start", "delete-start").

zeroed: every bucket that format zeroed (VMEM_ENTRY_ZEROED in BASE), was
never touched before MARK and is given to a device after it must be
provisioned without a flush that only serves data: the map write that
assigns it carries no FLUSH (REQ_PREFLUSH); no FLUSH entry lies between
the metadata write before it and it that closes a group of entries
holding no metadata write (a commit's "flush the data first" step: dm
splits a PREFLUSH write into an empty flush and the write, so a map
write with REQ_PREFLUSH shows up that way; a flush of another commit,
which writes metadata, is not one); and when the bucket's first data
write is logged before that map write, no such flush lies between the
two. dm-log-writes logs a plain write at the next flush after it
completed and a FUA write when it completes, so "no FLUSH entry between
them" means they reached the disk in the same flush epoch.

delete: the device-table sector holding device N's record is written
exactly twice from MARK on: first with VMEM_DEV_DELETING set (and
VMEM_DEV_EXISTS, its capacity and budget unchanged), then cleared.

Prints one PASS:/FAIL: line each; exit 1 on failure.
"""
import argparse
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reliability"))
import replay  # noqa: E402
import vmemimg  # noqa: E402

FLUSH, FUA, DISCARD, MARK = replay.FLUSH, replay.FUA, replay.DISCARD, \
    replay.MARK


def flag_str(flags):
    return "|".join(n for n, f in (("FLUSH", FLUSH), ("FUA", FUA))
                    if flags & f) or "plain"


class Log:
    def __init__(self, log, base):
        self.path = log
        self.sb = vmemimg.read_sb(base)
        with open(base, "rb") as f:
            self.meta = bytearray(f.read(self.sb.meta_sectors * 512))
        self.meta_end = self.sb.data_start * vmemimg.SECTORS_PER_PAGE
        self.f = open(log, "rb")

    def entries(self):
        return replay.log_entries(self.path)

    def data(self, off, nsec):
        self.f.seek(off)
        return self.f.read(nsec * 512)

    def buckets_of(self, sector, nsec):
        d0 = self.sb.data_sector(0)
        lo, hi = max(sector, d0), min(sector + nsec,
                                      self.sb.data_sector(self.sb.nr_buckets))
        if lo >= hi:
            return range(0)
        bs = self.sb.bucket_sectors
        return range((lo - d0) // bs, (hi - 1 - d0) // bs + 1)


def zeroed(a):
    lg = Log(a.log, a.base)
    sb = lg.sb
    state = vmemimg.map_entries(lg.meta, sb)
    candidates = {b for b, (owner, _vb, flags) in state.items()
                  if not owner and flags & vmemimg.ENTRY_ZEROED}
    started = False
    start = None            # entry index of the start mark
    first_data = {}         # bucket -> entry index of its first data write
    assigned = {}           # bucket -> (entry index, flags, lower bound)
    flushes = []            # (entry index, its group held a metadata write)
    group_meta = False
    last_meta = -1          # entry index of the last metadata write
    for i, sector, nsec, flags, name, off in lg.entries():
        if flags & MARK:
            if not started and name == a.start:
                started, start = True, i
            continue
        if flags & FLUSH:
            flushes.append((i, group_meta))
            group_meta = False
        if flags & DISCARD or not nsec:
            continue
        if sector < lg.meta_end:
            # a FUA write is durable on its own, not through the next flush
            group_meta = group_meta or not flags & FUA
            data = lg.data(off, nsec)
            lo, hi = sector, min(sector + nsec, sb.meta_sectors)
            if lo < hi:
                lg.meta[lo * 512:hi * 512] = data[:(hi - lo) * 512]
            ms = [s - vmemimg.MAP_START for s in range(lo, hi)
                  if s >= vmemimg.MAP_START]
            new = vmemimg.map_entries(lg.meta, sb, [m for m in ms
                                                    if m < sb.map_sectors])
            for b, (owner, vb, fl) in new.items():
                old = state.get(b, (0, 0, 0))
                state[b] = (owner, vb, fl)
                if owner and not old[0] and b not in assigned:
                    if not started:
                        candidates.discard(b)
                    else:
                        assigned[b] = (i, flags, max(start, last_meta))
            last_meta = i
        for b in lg.buckets_of(sector, nsec):
            if not started:
                candidates.discard(b)
            elif b not in first_data:
                first_data[b] = i
    checked = sorted(b for b in assigned if b in candidates)
    bad = []
    before = after = 0
    for b in checked:
        w, wflags, lo = assigned[b]
        d = first_data.get(b)
        if wflags & FLUSH:
            bad.append("bucket %d: its map write (entry %d) is %s" % (
                b, w, flag_str(wflags)))
        # dm splits a PREFLUSH write into an empty flush and the write:
        # no flush of data only since the last metadata write
        pre = [f for f, meta in flushes if lo < f < w and not meta]
        if pre:
            bad.append("bucket %d: a flush with no metadata in its group "
                       "(entry %d) right before its map write (entry %d)"
                       % (b, pre[-1], w))
        if d is None:
            continue
        if d > w:
            after += 1
            continue
        before += 1
        between = [f for f, meta in flushes if d < f < w and not meta]
        if between:
            bad.append("bucket %d: %d data-only flush(es) (entry %s) between "
                       "its data write (entry %d) and its map write (entry "
                       "%d)" % (b, len(between), between[0], d, w))
    for m in bad[:6]:
        print("  " + m, file=sys.stderr)
    ok = not bad and len(checked) >= a.min
    print("%s: zeroed: %d format-zeroed buckets provisioned with no flush "
          "before their map write (data logged before the map write for "
          "%d, after it for %d)%s" % (
              "PASS" if ok else "FAIL", len(checked), before, after,
              "" if ok else ": %s" % (bad[0] if bad else
                                      "fewer than %d checked" % a.min)))
    return 0 if ok else 1


def delete(a):
    lg = Log(a.log, a.base)
    sec = vmemimg.DEVT_START + a.id // vmemimg.DEVS_PER_SECTOR
    slot = a.id % vmemimg.DEVS_PER_SECTOR
    started = False
    writes = []
    for i, sector, nsec, flags, name, off in lg.entries():
        if flags & MARK:
            started = started or name == a.start
            continue
        if not started or flags & DISCARD or not nsec:
            continue
        if not sector <= sec < sector + nsec:
            continue
        data = lg.data(off, nsec)[(sec - sector) * 512:
                                  (sec - sector + 1) * 512]
        ok = vmemimg.blk_ok(data, vmemimg.DEVT_MAGIC, sec - vmemimg.DEVT_START,
                            lg.sb.pool_id)
        rec = struct.unpack_from("<QII", data, 16 + slot * 16)
        writes.append((i, flags, ok, rec))
    desc = ["entry %d (%s%s): capacity %d pages, budget %d, flags %#x" % (
        i, flag_str(fl), "" if ok else ", bad checksum", *rec)
        for i, fl, ok, rec in writes]
    good = (len(writes) == 2 and all(w[2] for w in writes) and
            writes[0][3][2] == vmemimg.DEV_EXISTS | vmemimg.DEV_DELETING and
            writes[0][3][0] > 0 and writes[1][3] == (0, 0, 0))
    for d in desc[:6] if not good else []:
        print("  " + d, file=sys.stderr)
    print("%s: delete: deleting vmem%d writes its device-table sector %d "
          "exactly twice, marked deleting then cleared (%d writes%s)" % (
              "PASS" if good else "FAIL", a.id, sec, len(writes),
              "" if good else ": " + "; ".join(desc[:4])))
    return 0 if good else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    z = sub.add_parser("zeroed")
    z.add_argument("log")
    z.add_argument("base")
    z.add_argument("--start", default="zeroed-start")
    z.add_argument("--min", type=int, default=1)
    d = sub.add_parser("delete")
    d.add_argument("log")
    d.add_argument("base")
    d.add_argument("--id", type=int, required=True)
    d.add_argument("--start", default="delete-start")
    a = p.parse_args()
    return zeroed(a) if a.cmd == "zeroed" else delete(a)


if __name__ == "__main__":
    sys.exit(main())
