#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Corrupt page 0: build a corpus of damaged pool images and check that
vmemctl check names each fault and vmemctl repair fixes exactly the
classes that are safe to fix (and writes nothing otherwise).

The pools are of layout version 2 (two copies of every metadata sector,
include/vmem/format.h) unless named v1-: the classic damage is done to
both copies (so it is damage that attach must refuse, or repair fix, as
in version 1), and the copy- cases damage one copy only: check names the
copy, repair restores it from the other, and attach takes the good copy
(its log says so) and rewrites the damaged one.

  corpus.py WORK --vmemctl PATH [--flips N] [--seed N]

Host part (this script): per image, one PASS/FAIL line: check's verdict
names the expected fault; repair either leaves a pool that checks clean
(fixable classes; and then a crash after any of its writes, simulated by
killing it with strace at its k-th pwrite, leaves a pool that a second
repair still fixes) or refuses and leaves the image byte for byte as it
was. The images, the repaired images and WORK/corpus.disk (all of them
back to back, for the guest) are described in WORK/manifest.txt, one
line per image: NAME START_SECTOR SECTORS EXPECT LOG_REGEX, where EXPECT
is "attach" or "refuse" (attach must agree with vmemctl check: a pool
attaches exactly when check finds it clean or finds only an interrupted
deletion).
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmemimg as V  # noqa: E402

IMG = 8 << 20                 # bytes per image
SLOT = 8 << 20                # bytes per image in corpus.disk


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


class Corpus:
    def __init__(self, a):
        self.a = a
        self.dir = os.path.join(a.work, "img")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.rng = random.Random(a.seed)
        self.base = os.path.join(self.dir, "base.img")
        self.make_base()
        self.entries = []       # (name, path, expect, regex)
        self.passed = self.failed = 0
        self.crash_points = 0
        self.fixed = self.refused = 0

    def vmemctl(self, *args):
        return sh(self.a.vmemctl, *args)

    def make_base(self):
        self.base_v1 = os.path.join(self.dir, "base-v1.img")
        for path, opts in ((self.base, []),
                           (self.base_v1, ["--layout-version", "1"])):
            self.make_one(path, opts)

    def make_one(self, path, opts):
        with open(path, "wb") as f:
            f.truncate(IMG)
        r = self.vmemctl("format", "--bucket-size", "64K", *opts, path)
        if r.returncode:
            raise SystemExit("FAIL: corpus: format: " + r.stdout)
        im = V.Image(path)
        im.set_dev(0, 64, 0, V.DEV_EXISTS)
        im.set_dev(3, 32, 20, V.DEV_EXISTS)
        im.set_dev(40, 16, 0, V.DEV_EXISTS)
        for b in range(10):
            im.set_entry(b, 1, b)
        for b, vb in ((10, 7), (12, 0), (13, 31), (20, 3), (61, 9)):
            im.set_entry(b, 4, vb)
        im.set_entry(70, 41, 2)
        im.close()
        r = self.vmemctl("check", path)
        if r.returncode:
            raise SystemExit("FAIL: corpus: base image not clean: " +
                             r.stdout)

    def copy(self, name):
        path = os.path.join(self.dir, name + ".img")
        shutil.copy(self.base_v1 if name.startswith("v1-") else self.base,
                    path)
        return path

    def result(self, ok, name, what):
        print("%s: corpus %s: %s" % ("PASS" if ok else "FAIL", name, what))
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def attach_expect(self, path):
        """What the kernel must do, from what check says: attach a pool
        that is clean but for interrupted deletions and damaged copies
        (whose other copy is good), refuse anything else"""
        r = self.vmemctl("check", path)
        faults = [ln for ln in r.stdout.splitlines()
                  if ln.startswith("vmemctl: check: ")]
        if r.returncode == 0:
            sb = V.read_sb(path)
            return "refuse" if sb.ro_compat else "attach"
        if r.returncode == 1 and faults and all(
                f.endswith("deletion was interrupted") or
                re.search(r"^vmemctl: check: copy [AB] of .* is good$", f)
                for f in faults):
            return "refuse" if self.ro_compat(path) else "attach"
        return "refuse"

    def ro_compat(self, path):
        """An unknown read-only feature in the superblock attach takes"""
        sb = V.read_sb(path)
        if sb.magic == V.MAGIC and sb.csum == V.sector_csum(sb.raw):
            return sb.ro_compat
        with open(path, "rb") as f:
            f.seek(V.COPY_B_MIN * V.SECTOR)
            return V.Sb(f.read(V.SECTOR)).ro_compat

    def case(self, name, mutate, names, repair, regex=None):
        """names: text check must print; repair: 'fixed', 'refused' or
        'clean' (nothing to do)"""
        path = self.copy(name)
        mutate(path)
        r = self.vmemctl("check", path)
        out = r.stdout
        why = []
        if repair in ("clean", "refused-rw", "clean-copies"):
            if r.returncode != 0:
                why.append("check exit %d, wanted 0" % r.returncode)
        elif r.returncode != 1:
            why.append("check exit %d, wanted 1" % r.returncode)
        for n in names:
            if n not in out:
                why.append("check did not say '%s' (%s)" % (
                    n, " / ".join(out.splitlines()[:3])))
        expect = self.attach_expect(path)
        if regex is None:
            regex = "refus|not a vmem|too small|cannot" \
                if expect == "refuse" else ""
        self.entries.append((name, path, expect, regex))
        before = md5(path)
        fixed_path = os.path.join(self.dir, name + ".repaired.img")
        shutil.copy(path, fixed_path)
        rr = self.vmemctl("repair", fixed_path)
        after = self.vmemctl("check", fixed_path)
        if repair in ("fixed", "clean", "clean-copies"):
            if rr.returncode or after.returncode:
                why.append("repair exit %d, check after it exit %d: %s" % (
                    rr.returncode, after.returncode,
                    " / ".join(rr.stdout.splitlines()[-3:])))
            if repair in ("fixed", "clean-copies"):
                if "wrote " not in rr.stdout:
                    why.append("repair printed no change")
                self.entries.append((name + ".repaired", fixed_path,
                                     "attach", ""))
                why += self.crash_safety(path, rr.stdout.count("wrote "))
                self.fixed += 1
        else:
            if rr.returncode != 1 or md5(fixed_path) != before:
                why.append("repair exit %d%s, wanted a refusal writing "
                           "nothing" % (rr.returncode,
                                        "" if md5(fixed_path) == before
                                        else " and changed the image"))
            self.refused += 1
        for w in why:
            print("  " + w, file=sys.stderr)
        what = {"fixed": "check names it, repair fixes it",
                "refused": "check names it, repair refuses it",
                "refused-rw": "check (read-only) accepts it, repair "
                "refuses to write it",
                "clean": "check and repair find it clean",
                "clean-copies": "check notes it, repair restores the "
                "copy"}[repair]
        self.result(not why, name, "%s; attach must %s" % (what, expect))

    def crash_safety(self, path, writes):
        """Kill repair at each of its writes; the result must still be
        fixed by a second repair"""
        why = []
        for k in range(1, writes + 1):
            tmp = path + ".crash"
            shutil.copy(path, tmp)
            sh("strace", "-f", "-o", "/dev/null", "-e",
               "inject=pwrite64:signal=SIGKILL:when=%d" % k,
               self.a.vmemctl, "repair", tmp)
            r2 = self.vmemctl("repair", tmp)
            c = self.vmemctl("check", tmp)
            if r2.returncode or c.returncode:
                why.append("killed before write %d: second repair exit %d, "
                           "check exit %d" % (k, r2.returncode, c.returncode))
            self.crash_points += 1
            os.unlink(tmp)
        return why

    def build(self):
        bad = 0x12345678
        sec = V.SECTOR
        C = self.case

        def lost(kind, index, what):
            """check's words on a sector damaged in both copies"""
            a = index + (V.DEVT_START if kind == "devtable" else V.MAP_START)
            return ["%s %d (sectors %d and %d): both copies damaged "
                    "(copy A: %s" % (kind, index, a, a + V.COPY_B_MIN, what)]

        def sb(**kw):
            return lambda p: self.edit(p, lambda im: im.set_sb(**kw))

        def flip(off, mask=0x01, copy="both"):
            return lambda p: self.edit(p, lambda im: im.flip(off, mask,
                                                             copy))

        C("clean", lambda p: None, [], "clean")
        # --- superblock
        C("sb-csum-field", flip(1), ["superblock: checksum mismatch"],
          "refused", "superblock: checksum mismatch")
        C("sb-bitflip-geometry", flip(33, 0x10),
          ["superblock: checksum mismatch"], "refused")
        C("sb-bitflip-uuid", flip(85), ["superblock: checksum mismatch"],
          "refused")
        C("sb-magic", flip(8), ["not a vmem pool"], "refused",
          "holds other data")
        C("sb-version-3", sb(version=3),
          ["layout version newer than this software"], "refused",
          "layout version newer")
        C("sb-version-0", sb(version=0), ["geometry fields disagree"],
          "refused")
        C("sb-incompat", sb(incompat=1 << 7),
          ["unknown incompatible feature flag"], "refused",
          "unknown incompatible")
        C("sb-ro-compat", sb(ro_compat=1),
          ["unknown feature flag, refused read-write"], "refused",
          "refused read-write")
        C("sb-bucket-size-3", sb(bucket_pages=3),
          ["bucket size not a power of two"], "refused", "bucket size")
        C("sb-bucket-size-huge", sb(bucket_pages=1 << 20),
          ["bucket size not a power of two"], "refused", "bucket size")
        C("sb-nr-buckets-huge", sb(nr_buckets=1 << 40),
          ["geometry fields disagree"], "refused", "geometry")
        C("sb-nr-buckets-0", sb(nr_buckets=0),
          ["geometry fields disagree"], "refused", "geometry")
        C("sb-map-sectors", sb(map_sectors=1),
          ["geometry fields disagree"], "refused", "geometry")
        C("sb-data-start", sb(data_start=0),
          ["geometry fields disagree"], "refused", "geometry")
        C("sb-pool-bigger-than-disk", sb(pool_pages=1 << 30, nr_buckets=4000,
                                         map_sectors=65, map_max=70),
          ["backing device smaller than the pool"], "refused",
          "smaller than the pool")
        C("sb-reserved", lambda p: self.edit(
            p, lambda im: im.write_meta(0, V.sealed(
                im.read(0)[:200] + b"\1" + im.read(0)[201:]))),
          ["reserved field not zero"], "refused", "reserved")
        C("truncated-half", lambda p: os.truncate(p, IMG // 2),
          ["backing device smaller than the pool"], "refused",
          "smaller than the pool")
        C("truncated-to-32k", lambda p: os.truncate(p, 32768),
          ["backing device smaller than the pool"], "refused", "too small")
        C("all-zero", lambda p: os.truncate(p, 0) or os.truncate(p, IMG),
          ["not a vmem pool"], "refused", "all zeros")
        C("garbage-page0", lambda p: self.write_at(
            p, 0, random.Random(7).randbytes(65536)),
          ["not a vmem pool: it holds unknown data"], "refused",
          "holds other data")
        # --- device table
        C("devt-bitflip", flip(sec * 1 + 100), lost("devtable", 0, "checksum"),
          "refused")
        C("devt-csum-field", flip(sec * 2), lost("devtable", 1, "checksum"),
          "refused")
        C("devt-other-pool", lambda p: self.edit(
            p, lambda im: im.reseal_blk(1, V.DEVT_MAGIC, 0, bad)),
          lost("devtable", 0, "metadata sector from another pool"), "refused")
        C("devt-index", lambda p: self.edit(
            p, lambda im: im.reseal_blk(2, V.DEVT_MAGIC, 5)),
          lost("devtable", 1, "metadata sector index wrong"), "refused")
        C("devt-kind", lambda p: self.edit(
            p, lambda im: im.reseal_blk(1, V.MAP_MAGIC, 0)),
          lost("devtable", 0, "metadata sector of the wrong kind"), "refused")
        C("dev-flags-unknown", lambda p: self.edit(
            p, lambda im: im.set_dev(0, 64, 0, V.DEV_EXISTS | 8)),
          ["device 0: device record flags invalid"], "refused")
        C("dev-free-slot-budget", lambda p: self.edit(
            p, lambda im: im.set_dev(7, 0, 5, 0)),
          ["device 7: device record flags invalid"], "refused")
        C("dev-capacity-0", lambda p: self.edit(
            p, lambda im: im.set_dev(3, 0, 0, V.DEV_EXISTS)),
          ["device 3: device capacity zero or too large"], "refused")
        C("dev-capacity-huge", lambda p: self.edit(
            p, lambda im: im.set_dev(3, 1 << 40, 0, V.DEV_EXISTS)),
          ["device 3: device capacity zero or too large"], "refused")
        C("dev-slot-255", lambda p: self.edit(
            p, lambda im: self.raw_dev(im, 255, 64)),
          ["device 255: reserved field not zero"], "refused")
        # --- map sectors
        C("map-bitflip-entry", flip(sec * 10 + 16 + 8 * 3),
          lost("mapsector", 0, "checksum mismatch"), "refused")
        C("map-bitflip-plausible", flip(sec * 10 + 16 + 8 * 5, 0x02),
          lost("mapsector", 0, "checksum mismatch"), "refused")
        C("map-csum-field", flip(sec * 11 + 2),
          lost("mapsector", 1, "checksum mismatch"), "refused")
        C("map-other-pool", lambda p: self.edit(
            p, lambda im: im.reseal_blk(11, V.MAP_MAGIC, 1, bad)),
          lost("mapsector", 1, "metadata sector from another pool"), "refused")
        C("map-index", lambda p: self.edit(
            p, lambda im: im.reseal_blk(10, V.MAP_MAGIC, 1)),
          lost("mapsector", 0, "metadata sector index wrong"), "refused")
        # --- map entries
        C("entry-owner-missing", lambda p: self.edit(
            p, lambda im: im.set_entry(30, 6, 0)),
          ["bucket 30: bucket owned by a device that does not exist"],
          "fixed")
        C("entry-owner-254", lambda p: self.edit(
            p, lambda im: im.set_entry(100, 255, 77)),
          ["bucket 100: bucket owned by a device that does not exist"],
          "fixed")
        C("entry-beyond-capacity", lambda p: self.edit(
            p, lambda im: im.set_entry(31, 41, 16)),
          ["bucket 31: bucket mapped beyond its device's capacity"],
          "fixed")
        C("entry-vbucket-huge", lambda p: self.edit(
            p, lambda im: im.set_entry(32, 1, 0xFFFFFFFF)),
          ["bucket 32: bucket mapped beyond its device's capacity"],
          "fixed")
        C("entry-free-stray-vbucket", lambda p: self.edit(
            p, lambda im: im.set_entry(33, 0, 5, V.ENTRY_ZEROED)),
          ["bucket 33: reserved field not zero"], "fixed")
        C("entry-free-unknown-flag", lambda p: self.edit(
            p, lambda im: im.set_entry(34, 0, 0, 0x80)),
          ["bucket 34: reserved field not zero"], "fixed")
        C("entry-past-last-bucket", lambda p: self.edit(
            p, lambda im: im.set_entry(120, 1, 3)),
          ["bucket 120: reserved field not zero"], "fixed")
        C("entry-owned-with-flags", lambda p: self.edit(
            p, lambda im: im.set_entry(2, 1, 2, V.ENTRY_ZEROED)),
          ["bucket 2: reserved field not zero"], "refused")
        C("entry-owned-reserved", lambda p: self.edit(
            p, lambda im: im.set_entry(3, 1, 3, 0, b"\0\7")),
          ["bucket 3: reserved field not zero"], "refused")
        C("entry-double", lambda p: self.edit(
            p, lambda im: im.set_entry(40, 1, 4)),
          ["device 0: virtual bucket mapped twice"], "refused")
        C("entry-double-across-sectors", lambda p: self.edit(
            p, lambda im: im.set_entry(90, 4, 31)),
          ["device 3: virtual bucket mapped twice"], "refused")
        self.copies(C, flip, sec)
        self.v1_cases(C, flip, sec)
        C("entry-double-and-orphan", lambda p: self.edit(
            p, lambda im: (im.set_entry(41, 1, 5), im.set_entry(42, 9, 0))),
          ["virtual bucket mapped twice", "does not exist"], "refused")
        C("deleting", lambda p: self.edit(
            p, lambda im: im.set_dev(3, 32, 20,
                                     V.DEV_EXISTS | V.DEV_DELETING)),
          ["device 3: device deletion was interrupted"], "fixed",
          "finishing the interrupted deletion")
        C("deleting-no-buckets-left", lambda p: self.edit(
            p, lambda im: (im.set_dev(3, 32, 20,
                                      V.DEV_EXISTS | V.DEV_DELETING),
                           [im.set_entry(b, 0, 0) for b in
                            (10, 12, 13, 20, 61)])),
          ["device 3: device deletion was interrupted"], "fixed")
        C("deleting-and-orphan", lambda p: self.edit(
            p, lambda im: (im.set_dev(40, 16, 0,
                                      V.DEV_EXISTS | V.DEV_DELETING),
                           im.set_entry(50, 200, 1))),
          ["deletion was interrupted", "does not exist"], "fixed")
        # --- foreign formats
        self.foreign("ext4", ["mkfs.ext4", "-q", "-F"], IMG,
                     "an ext2/ext3/ext4 filesystem")
        self.foreign("xfs", ["mkfs.xfs", "-q", "-f"], 320 << 20,
                     "an XFS filesystem")
        self.foreign("btrfs", ["mkfs.btrfs", "-q", "-f"], 256 << 20,
                     "a btrfs filesystem", "page 0 is all zeros")
        self.foreign("swap", ["mkswap", "-q"], IMG, "a swap area")
        C("luks-header", lambda p: self.write_at(
            p, 0, b"LUKS\xba\xbe\0\2" + bytes(65528)),
          ["a LUKS volume"], "refused", "holds other data")
        C("mbr", lambda p: self.write_at(p, 0, bytes(510) + b"\x55\xaa"),
          ["an MBR partition table"], "refused", "holds other data")
        # --- random bit flips over the metadata area: as they come (a
        # checksum catches them) and resealed (as if a buggy writer made
        # them: the semantic checks must catch them or find them valid)
        meta = V.read_sb(self.base).meta_sectors * V.SECTOR
        for i in range(self.a.flips):
            offs = [self.rng.randrange(meta) for _ in
                    range(self.rng.choice((1, 1, 2, 8)))]
            masks = [1 << self.rng.randrange(8) for _ in offs]
            reseal = i % 2 == 1
            self.random_flip("flip-%03d%s" % (i, "-resealed" if reseal
                                               else ""), offs, masks, reseal)

    def copies(self, C, flip, sec):
        """Version 2: one copy damaged (attach takes the other and
        rewrites it; repair restores it), or both (refused)"""
        good = "copy %s is good"
        for copy, other in (("A", "B"), ("B", "A")):
            b = 0 if copy == "A" else V.COPY_B_MIN
            ok = good % other
            log = "copy %s is damaged" % copy
            C("copy-%s-sb-bitflip" % copy, flip(33, 0x10, copy),
              ["copy %s of superblock 0 (sector %d): checksum mismatch; %s"
               % (copy, b, ok)], "fixed", log)
            C("copy-%s-devt-bitflip" % copy, flip(sec * 3 + 100, 1, copy),
              ["copy %s of devtable 2 (sector %d): checksum mismatch; %s"
               % (copy, b + 3, ok)], "fixed", log)
            C("copy-%s-map-bitflip" % copy, flip(sec * 10 + 30, 2, copy),
              ["copy %s of mapsector 0 (sector %d): checksum mismatch; %s"
               % (copy, b + 10, ok)], "fixed", log)
            C("copy-%s-map-zero" % copy, lambda p, b=b: self.write_at(
                p, (b + 11) * sec, bytes(sec)),
              ["copy %s of mapsector 1" % copy], "fixed", log)
            C("copy-%s-map-other-pool" % copy, lambda p, c=copy: self.edit(
                p, lambda im: im.reseal_blk(11, V.MAP_MAGIC, 1, 0x12345678,
                                            copy=c)),
              ["copy %s of mapsector 1" % copy,
               "metadata sector from another pool"], "fixed", log)
            C("copy-%s-devt-index" % copy, lambda p, c=copy: self.edit(
                p, lambda im: im.reseal_blk(2, V.DEVT_MAGIC, 5, copy=c)),
              ["copy %s of devtable 1" % copy, "index wrong"], "fixed",
              log)
        C("copy-A-sb-magic", flip(9, 0x20, "A"),
          ["copy A of superblock 0 (sector 0): bad magic"], "fixed",
          "using copy B's")
        C("copy-A-sb-torn", lambda p: self.edit(
            p, lambda im: im.write(0, im.read(0)[:40] + bytes(24) +
                                   im.read(0)[64:])),
          ["copy A of superblock 0 (sector 0): checksum mismatch"],
          "fixed", "using copy B's")
        # Copy B holds a change copy A lacks: copy A is newer by the copy
        # rule (a crash between their writes); only noted by check
        C("copy-B-older", lambda p: self.edit(
            p, lambda im: im.set_entry(80, 41, 5, copy="B")),
          ["note: copy B of mapsector 1 (sector 1035) is older than copy A"],
          "clean-copies", "copy B is older than copy A")
        C("copies-both-map", lambda p: self.edit(
            p, lambda im: (im.flip(sec * 10 + 40, 1, "A"),
                           im.flip(sec * 10 + 90, 4, "B"))),
          ["mapsector 0 (sectors 10 and 1034): both copies damaged"],
          "refused", "both copies damaged")
        C("copies-both-devt", lambda p: self.edit(
            p, lambda im: (im.flip(sec * 1 + 40, 1, "A"),
                           im.flip(sec * 1 + 90, 4, "B"))),
          ["devtable 0 (sectors 1 and 1025): both copies damaged"],
          "refused", "both copies damaged")
        # Sector 0 overwritten whole: it names no pool; refused as
        # another format's data, copy B notwithstanding
        C("copy-A-sb-zeroed", lambda p: self.write_at(p, 0, bytes(sec)),
          ["not a vmem pool", "--superblock-from-copy"], "refused",
          "holds other data")

    def v1_cases(self, C, flip, sec):
        """Layout version 1: one copy; damage is refused or fixed as
        before"""
        C("v1-clean", lambda p: None, [], "clean")
        C("v1-sb-bitflip", flip(33, 0x10), ["superblock: checksum mismatch"],
          "refused", "superblock: checksum mismatch")
        C("v1-devt-bitflip", flip(sec * 1 + 100),
          ["devtable 0: checksum"], "refused")
        C("v1-map-bitflip", flip(sec * 10 + 16 + 8 * 3),
          ["mapsector 0: checksum mismatch"], "refused")
        C("v1-entry-owner-missing", lambda p: self.edit(
            p, lambda im: im.set_entry(30, 6, 0)),
          ["bucket 30: bucket owned by a device that does not exist"],
          "fixed")
        C("v1-deleting", lambda p: self.edit(
            p, lambda im: im.set_dev(3, 32, 20,
                                     V.DEV_EXISTS | V.DEV_DELETING)),
          ["device 3: device deletion was interrupted"], "fixed",
          "finishing the interrupted deletion")

    def random_flip(self, name, offs, masks, reseal):
        path = self.copy(name)
        im = V.Image(path)
        # Half of them in copy A, half in copy B, a few in both
        copy = self.rng.choice(("A", "A", "B", "B", "both"))
        for o, m in zip(offs, masks):
            im.flip(o, m, copy)
        if reseal:
            for s in sorted(set(o // V.SECTOR for o in offs)):
                if s == 0:
                    im.write_meta(0, V.sealed(im.read_meta(
                        0, "B" if copy == "B" else "A")), copy)
                elif s < V.MAP_START:
                    im.reseal_blk(s, V.DEVT_MAGIC, s - V.DEVT_START,
                                  copy=copy)
                else:
                    im.reseal_blk(s, V.MAP_MAGIC, s - V.MAP_START,
                                  copy=copy)
        im.close()
        r = self.vmemctl("check", path)
        why = []
        faults = [ln for ln in r.stdout.splitlines()
                  if ln.startswith("vmemctl: check: ")]
        if r.returncode not in (0, 1):
            why.append("check exit %d" % r.returncode)
        if r.returncode == 1 and not faults and "not a vmem pool" not in \
                r.stdout and "superblock" not in r.stdout:
            why.append("check failed without naming a fault: " + r.stdout)
        before = md5(path)
        fixed = path + ".tmp"
        shutil.copy(path, fixed)
        rr = self.vmemctl("repair", fixed)
        c2 = self.vmemctl("check", fixed)
        if rr.returncode == 0 and c2.returncode != 0:
            why.append("repair succeeded but check still fails")
        if rr.returncode == 1 and md5(fixed) != before:
            why.append("refusing repair changed the image")
        if rr.returncode not in (0, 1):
            why.append("repair exit %d" % rr.returncode)
        if rr.returncode == 0 and r.returncode == 1:
            os.rename(fixed, path + ".repaired.img")
            self.entries.append((name + ".repaired", path + ".repaired.img",
                                 "attach", ""))
        else:
            os.unlink(fixed)
        # A flip that leaves a valid pool (check clean) must attach, and
        # then no refusal is logged
        expect = self.attach_expect(path)
        self.entries.append((name, path, expect,
                             "refus|not a vmem|too small"
                             if expect == "refuse" else ""))
        for w in why:
            print("  " + w, file=sys.stderr)
        verdict = "clean" if r.returncode == 0 else \
            "%d fault(s)" % max(1, len(faults))
        self.result(not why, name, "%d flipped bit(s) at %s: check says "
                    "%s, repair %s" % (len(offs), ",".join(map(str, offs)),
                                       verdict, "fixes" if rr.returncode == 0
                                       else "refuses"))

    def foreign(self, name, mkfs, size, what, regex="holds other data"):
        def mutate(p):
            tmp = p + ".fs"
            with open(tmp, "wb") as f:
                f.truncate(size)
            r = sh(*mkfs, tmp)
            if r.returncode:
                raise RuntimeError(r.stdout)
            with open(tmp, "rb") as f:
                data = f.read(IMG)
            os.unlink(tmp)
            with open(p, "wb") as f:
                f.write(data)
        self.case("foreign-" + name, mutate, ["it holds " + what],
                  "refused", regex)

    def edit(self, path, fn):
        im = V.Image(path)
        fn(im)
        im.close()

    def write_at(self, path, off, data):
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(data)

    def raw_dev(self, im, slot, cap):
        s = V.DEVT_START + slot // V.DEVS_PER_SECTOR
        sec = bytearray(im.read(s))
        struct.pack_into("<QII", sec, 16 + (slot % V.DEVS_PER_SECTOR) * 16,
                         cap, 0, V.DEV_EXISTS)
        im.write_meta(s, V.blk_seal(sec, V.DEVT_MAGIC, s - V.DEVT_START,
                                    im.sb.pool_id))

    def write_disk(self):
        disk = os.path.join(self.a.work, "corpus.disk")
        man = os.path.join(self.a.work, "manifest.txt")
        with open(disk, "wb") as d, open(man, "w") as m:
            for i, (name, path, expect, regex) in enumerate(self.entries):
                size = os.path.getsize(path)
                with open(path, "rb") as f:
                    data = f.read()
                d.seek(i * SLOT)
                # sparse: skip whole zero MiBs
                for off in range(0, len(data), 1 << 20):
                    chunk = data[off:off + (1 << 20)]
                    if chunk.count(0) != len(chunk):
                        d.seek(i * SLOT + off)
                        d.write(chunk)
                m.write("%s %d %d %s %s\n" % (
                    name, i * SLOT // 512, max(size // 512, 1), expect,
                    re.sub(r"\s", ".", regex) or "-"))
            d.truncate(len(self.entries) * SLOT)
        with open(os.path.join(self.a.work, "manifest.json"), "w") as f:
            json.dump([{"name": n, "path": p, "start": i * SLOT // 512,
                        "expect": e} for i, (n, p, e, _) in
                       enumerate(self.entries)], f, indent=1)
        print("corpus: %d images (%d fixable, %d refused, %d random flips), "
              "%d repair crash points; %d more repaired images for the guest"
              % (self.passed + self.failed, self.fixed, self.refused,
                 self.a.flips, self.crash_points,
                 sum(1 for e in self.entries if e[0].endswith(".repaired"))))


def verify(work):
    """After the guest: every image it refused is unchanged on its disk"""
    with open(os.path.join(work, "manifest.json")) as f:
        man = json.load(f)
    got = {}
    path = os.path.join(work, "out", "corpus-results.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 2:
                    got[w[0]] = w[1]
    bad = []
    refused = 0
    with open(os.path.join(work, "corpus.disk"), "rb") as d:
        for e in man:
            if e["name"] not in got:
                bad.append("%s: no result from the guest" % e["name"])
                continue
            if got[e["name"]] != "refuse":
                continue
            refused += 1
            with open(e["path"], "rb") as f:
                want = f.read()
            d.seek(e["start"] * 512)
            if d.read(len(want)) != want:
                bad.append("%s: refused, but its bytes changed" % e["name"])
    for b in bad[:10]:
        print("  " + b, file=sys.stderr)
    print("%s: corpus: all %d images the kernel refused are unchanged on "
          "disk (%d images attached or refused in all)" % (
              "FAIL" if bad else "PASS", refused, len(got)))
    return 1 if bad else 0


def main():
    if sys.argv[1:2] == ["verify"]:
        return verify(sys.argv[2])
    p = argparse.ArgumentParser()
    p.add_argument("work")
    p.add_argument("--vmemctl", required=True)
    p.add_argument("--flips", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Corpus(a)
    c.build()
    c.write_disk()
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
