#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Replay a dm-log-writes log of a layout version 2 pool, tearing the
metadata writes in flight at every flush and FUA point (issue 13).

  copies_replay.py LOG BASE --vmemctl PATH [--seed N]

LOG is the log of a dm-log-writes target between vmem and a pool's disk,
BASE the disk before. dm-log-writes logs a FUA write when it completes
and a plain write at the next flush after it completed, so at a FUA entry
the FUA write may be torn, and at a FLUSH entry every plain write logged
since the last FLUSH may be (a crash just before that point). At every
such point each metadata sector (below the data area) those writes
touched is, at random, left new, put back old, or torn (half new, half
old), and then:

  - before the tearing, "vmemctl check" must find the image as logged
    clean, or with interrupted deletions only: a completed metadata
    write never leaves a damaged copy (a copy B written from an image
    sector whose checksum was not yet updated did);
  - after it, "vmemctl check" must accept it: clean, or faults that
    are all damaged copies whose other copy is good (attach takes that
    one and rewrites the damaged one) or interrupted deletions;
  - no point may have copy A and copy B of one sector in flight together
    (the copy rule of include/vmem/format.h: copy B is written only once
    copy A is durable, and is durable before copy A is written again),
    which is what makes every tear recoverable.

Prints PASS:/FAIL: lines; exit 1 on failure.
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reliability"))
import replay  # noqa: E402
import vmemimg as V  # noqa: E402


def check_ok(vmemctl, path, strict=False):
    """Would attach take this image? (see the top of this file); strict:
    with no damaged copy"""
    r = subprocess.run([vmemctl, "check", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode == 0:
        return True, ""
    faults = [ln for ln in r.stdout.splitlines()
              if ln.startswith("vmemctl: check: ")]
    ok = r.returncode == 1 and faults and all(
        (not strict and
         re.search(r"^vmemctl: check: copy [AB] of .* is good$", f)) or
        f.endswith("device deletion was interrupted") for f in faults)
    return ok, " / ".join(r.stdout.splitlines()[:3])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("base")
    p.add_argument("--vmemctl", required=True)
    p.add_argument("--seed", type=int, default=13)
    a = p.parse_args()
    rng = random.Random(a.seed)
    sb = V.read_sb(a.base)
    if sb.version < 2:
        print("FAIL: copies replay: %s is not of layout version 2" % a.base)
        return 1
    meta_end = sb.data_start * V.SECTORS_PER_PAGE
    copy_b = sb.copy_b
    extent = V.MAP_START + sb.map_max
    scratch = os.path.join(os.path.dirname(os.path.abspath(a.log)),
                           "copies-scratch.img")
    subprocess.run(["cp", "--sparse=always", a.base, scratch], check=True)
    fd = os.open(scratch, os.O_RDWR)
    log = open(a.log, "rb")
    pending = {}            # sector -> content before this flush epoch
    points = tears = 0
    failures = []

    def image_sector(s):
        """(copy, image sector) of a metadata sector, or None"""
        if s < extent:
            return "A", s
        if copy_b <= s < copy_b + extent:
            return "B", s - copy_b
        return None

    def point(torn, what):
        nonlocal points, tears
        points += 1
        # The copy rule: never both copies of a sector in flight
        seen = {}
        for s in torn:
            c = image_sector(s)
            if c is None:
                continue
            if c[1] in seen and seen[c[1]] != c[0]:
                failures.append("%s: copy A and copy B of image sector %d "
                                "in flight together" % (what, c[1]))
            seen[c[1]] = c[0]
        ok, out = check_ok(a.vmemctl, scratch, strict=True)
        if not ok:
            failures.append("%s: before tearing, vmemctl check: %s" %
                            (what, out))
        new = {}
        for s, old in torn.items():
            cur = os.pread(fd, V.SECTOR, s * V.SECTOR)
            new[s] = cur
            how = rng.choice(("new", "old", "torn", "torn"))
            if how == "old":
                data = old
            elif how == "torn":
                data = cur[:V.SECTOR // 2] + old[V.SECTOR // 2:] \
                    if rng.random() < 0.5 else \
                    old[:V.SECTOR // 2] + cur[V.SECTOR // 2:]
            else:
                continue
            if data != cur:
                tears += 1
            os.pwrite(fd, data, s * V.SECTOR)
        ok, out = check_ok(a.vmemctl, scratch)
        if not ok:
            failures.append("%s: vmemctl check: %s" % (what, out))
            if len(failures) <= 2:
                shutil.copy(scratch, scratch + ".fail-%d" % points)
        for s, data in new.items():
            os.pwrite(fd, data, s * V.SECTOR)

    for i, sector, nsec, flags, name, off in replay.log_entries(a.log):
        if flags & replay.MARK:
            continue
        what = "entry %d (%s%s, sectors %d..%d)" % (
            i, "FLUSH" if flags & replay.FLUSH else "",
            "FUA" if flags & replay.FUA else "", sector,
            sector + max(nsec, 1) - 1)
        mine = {}
        if nsec and not flags & replay.DISCARD:
            for s in range(sector, min(sector + nsec, meta_end)):
                old = os.pread(fd, V.SECTOR, s * V.SECTOR)
                if flags & replay.FUA:
                    mine[s] = old
                elif s not in pending:
                    pending[s] = old
            log.seek(off)
            os.pwrite(fd, log.read(nsec * V.SECTOR), sector * V.SECTOR)
        elif nsec and flags & replay.DISCARD:
            replay.punch(fd, sector * V.SECTOR, nsec * V.SECTOR)
        if flags & replay.FUA and mine:
            point(mine, what)
        if flags & replay.FLUSH:
            point(pending, what)
            pending = {}
    os.close(fd)
    for f in failures[:10]:
        print("  " + f, file=sys.stderr)
    ok = points > 0 and not failures
    print("%s: copies replay: at all %d flush/FUA points, with the metadata "
          "writes in flight there torn at random (%d sectors torn or put "
          "back), vmemctl check takes the pool, and finds no damaged copy "
          "before the tearing; no two copies of a sector ever in flight "
          "together" % ("PASS" if ok else "FAIL", points,
                                        tears))
    os.unlink(scratch)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
