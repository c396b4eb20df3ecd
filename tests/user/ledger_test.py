#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host test of the reliability workload's ledger model
(tests/reliability/workload.py read_ledger): what a power cut may leave.

A raw slot written and fsynced must read back as written; a discard that
returned is durable only behind a later fsync on the pool (the devices
have a volatile write cache), so until then the old data is as right as
zeros. The first case is the ledger of a real power cut (CI, 2026-11-30):
bucket 28 discarded last, no flush after it, slots 112-113 kept data.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "reliability"))
import workload  # noqa: E402

fails = 0


def check(name, ok):
    global fails
    print("%s: ledger: %s" % ("PASS" if ok else "FAIL", name))
    fails += 0 if ok else 1


def slots_of(text):
    with tempfile.NamedTemporaryFile("w", delete=False) as f:
        f.write(text)
    try:
        return workload.read_ledger(f.name)[2]
    finally:
        os.unlink(f.name)


s = slots_of("RP 112 7\nR 112 7\nRP 28 9\nR 28 9\nZP 28\nZ 28\n")
check("discard with no flush after it: old data or zeros",
      sorted(s[112]) == [0, 7])
check("... and a slot never written before: zeros only",
      set(s[113]) == {0})
check("a slot outside the bucket keeps its data", s[28] == [9])
s = slots_of("RP 112 7\nR 112 7\nZP 28\nZ 28\nF /mnt/0/x 5 4096\n")
check("discard behind a later fsync on any device: zeros only",
      s[112] == [0])
s = slots_of("RP 112 7\nR 112 7\nZP 28\nZ 28\nRP 112 8\nR 112 8\n")
check("a slot written and fsynced after the discard: its data only",
      s[112] == [8])
s = slots_of("RP 112 7\nR 112 7\nZP 28\n")
check("discard under way at the cut: old data or zeros",
      sorted(s[112]) == [0, 7])
sys.exit(1 if fails else 0)
