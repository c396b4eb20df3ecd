# SPDX-License-Identifier: GPL-2.0
"""Read and craft vmem pool metadata in image files (layout versions 1
and 2).

The layout is include/vmem/format.h; this is an independent reading of it
for the reliability tests (corpus generator, log replayer), so a change of
the format that the C codec and these tests disagree on shows up as a test
failure rather than passing silently.

Version 2 keeps two copies of every metadata sector: copy A at version 1's
offsets, copy B, byte for byte the same, from sector Sb.copy_b. Whatever
reads "the metadata" here (Sb.meta_sectors, map_entries, dev_records, a
log replay tracking writes below MAP_START + map_sectors) reads copy A,
which by the copy rule holds the newest durable state; the Image helpers
write both copies unless told which.
"""
import os
import struct

SECTOR = 512
PAGE = 65536
SECTORS_PER_PAGE = PAGE // SECTOR
MAGIC = 0x4C4F4F504D454D56
VERSION = 2
COPY_B_MIN = 1024
DEVT_MAGIC = 0x54564544
MAP_MAGIC = 0x2050414D
MAX_DEVICES = 255
DEVT_START = 1
DEVS_PER_SECTOR = 31
DEVT_SECTORS = 9
MAP_START = DEVT_START + DEVT_SECTORS
ENTRIES_PER_SECTOR = 62
DATA_ALIGN_PAGES = 16
DEV_EXISTS = 1
DEV_DELETING = 2
ENTRY_ZEROED = 1

# struct vmem_sb: field name -> (offset, struct format)
SB_FIELDS = {
    "csum": (0, "<I"), "version": (4, "<I"), "magic": (8, "<Q"),
    "incompat": (16, "<I"), "ro_compat": (20, "<I"), "compat": (24, "<I"),
    "bucket_pages": (28, "<I"), "nr_buckets": (32, "<Q"),
    "map_sectors": (40, "<Q"), "data_start": (48, "<Q"),
    "pool_pages": (56, "<Q"), "generation": (64, "<Q"),
    "format_time": (72, "<Q"), "uuid": (80, "16s"),
    "copy_b": (96, "<Q"), "map_max": (104, "<Q"),
}
SB_RESERVED = 112


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


_T = _crc_table()


def crc32c(data, crc=0xFFFFFFFF):
    t = _T
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def sector_csum(sec):
    return crc32c(sec[4:SECTOR]) ^ 0xFFFFFFFF


def sealed(sec):
    """Return @sec (bytes) with its checksum field recomputed"""
    return struct.pack("<I", sector_csum(sec)) + bytes(sec[4:SECTOR])


def blk_seal(sec, magic, index, pool_id):
    sec = bytearray(sec)
    struct.pack_into("<III", sec, 4, magic, index, pool_id)
    return sealed(sec)


def blk_ok(sec, magic, index, pool_id):
    csum, m, i, p = struct.unpack_from("<IIII", sec, 0)
    return (csum == sector_csum(sec) and m == magic and i == index and
            p == pool_id)


def geom(bucket_pages, nr_buckets):
    """Version 1's layout of a pool of @nr_buckets buckets"""
    map_sectors = -(-nr_buckets // ENTRIES_PER_SECTOR)
    meta_sectors = MAP_START + map_sectors
    meta_pages = -(-meta_sectors // SECTORS_PER_PAGE)
    data_start = -(-meta_pages // DATA_ALIGN_PAGES) * DATA_ALIGN_PAGES
    return map_sectors, meta_sectors, data_start


class Sb:
    def __init__(self, raw):
        self.raw = bytes(raw[:SECTOR])
        for k, (off, fmt) in SB_FIELDS.items():
            setattr(self, k, struct.unpack_from(fmt, self.raw, off)[0])
        self.pool_id = struct.unpack_from("<I", self.raw, 80)[0]
        if self.magic == MAGIC and self.bucket_pages and self.nr_buckets:
            (self.map_sectors_calc, self.meta_sectors,
             self.data_start_calc) = geom(self.bucket_pages, self.nr_buckets)
        self.bucket_sectors = self.bucket_pages * SECTORS_PER_PAGE
        if self.version < 2:
            self.copy_b = 0

    def copies(self):
        """First sector of each copy of the metadata"""
        return [0, self.copy_b] if self.version >= 2 and self.copy_b \
            else [0]

    def data_sector(self, bucket):
        return (self.data_start + bucket * self.bucket_pages) * \
            SECTORS_PER_PAGE


def read_sb(path):
    with open(path, "rb") as f:
        return Sb(f.read(SECTOR))


def map_entries(meta, sb, sectors=None):
    """{bucket: (owner, vbucket, flags)} of owned entries, from the meta
    bytes; with @sectors, only buckets of those map sector indexes"""
    out = {}
    rng = sectors if sectors is not None else range(sb.map_sectors)
    for ms in rng:
        base = (MAP_START + ms) * SECTOR
        for slot in range(ENTRIES_PER_SECTOR):
            b = ms * ENTRIES_PER_SECTOR + slot
            if b >= sb.nr_buckets:
                break
            vb, owner, flags = struct.unpack_from(
                "<IBB", meta, base + 16 + slot * 8)
            out[b] = (owner, vb, flags)
    return out


def dev_records(meta):
    out = {}
    for i in range(MAX_DEVICES):
        s = DEVT_START + i // DEVS_PER_SECTOR
        off = s * SECTOR + 16 + (i % DEVS_PER_SECTOR) * 16
        cap, budget, flags = struct.unpack_from("<QII", meta, off)
        if cap or budget or flags:
            out[i] = (cap, budget, flags)
    return out


class Image:
    """Sector-level editing of an image file; every helper reseals what it
    changes unless told not to, and writes both copies of a version 2
    pool unless @copy says "A" or "B" (it reads the copy it changes)"""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR)
        self.sb = Sb(self.read(0))

    def close(self):
        os.close(self.fd)

    def read(self, sector, n=1):
        return os.pread(self.fd, SECTOR * n, sector * SECTOR)

    def write(self, sector, data):
        os.pwrite(self.fd, data, sector * SECTOR)

    def _at(self, copy):
        c = self.sb.copies()
        if copy == "A" or len(c) == 1:
            return c[:1]
        if copy == "B":
            return c[1:]
        return c

    def read_meta(self, sector, copy="A"):
        """Image sector @sector of copy @copy"""
        return self.read(self._at(copy)[0] + sector)

    def write_meta(self, sector, data, copy="both"):
        """Write image sector @sector to the copies @copy names"""
        for at in self._at(copy):
            self.write(at + sector, data)

    def set_sb(self, reseal=True, copy="both", **fields):
        sec = bytearray(self.read_meta(0, "B" if copy == "B" else "A"))
        for k, v in fields.items():
            off, fmt = SB_FIELDS[k]
            struct.pack_into(fmt, sec, off, v)
        if reseal:
            sec = sealed(sec)
        self.write_meta(0, bytes(sec), copy)
        if copy != "B":
            self.sb = Sb(bytes(sec))

    def set_dev(self, dev_id, cap, budget, flags, reseal=True, copy="both"):
        s = DEVT_START + dev_id // DEVS_PER_SECTOR
        sec = bytearray(self.read_meta(s, "B" if copy == "B" else "A"))
        struct.pack_into("<QII", sec, 16 + (dev_id % DEVS_PER_SECTOR) * 16,
                         cap, budget, flags)
        if reseal:
            sec = blk_seal(sec, DEVT_MAGIC, s - DEVT_START, self.sb.pool_id)
        self.write_meta(s, bytes(sec), copy)

    def set_entry(self, bucket, owner, vb, flags=0, reserved=b"\0\0",
                  reseal=True, copy="both"):
        ms = bucket // ENTRIES_PER_SECTOR
        sec = bytearray(self.read_meta(MAP_START + ms,
                                       "B" if copy == "B" else "A"))
        struct.pack_into("<IBB2s", sec,
                         16 + (bucket % ENTRIES_PER_SECTOR) * 8,
                         vb, owner, flags, reserved)
        if reseal:
            sec = blk_seal(sec, MAP_MAGIC, ms, self.sb.pool_id)
        self.write_meta(MAP_START + ms, bytes(sec), copy)

    def reseal_blk(self, sector, magic, index, pool_id=None, copy="both"):
        sec = self.read_meta(sector, "B" if copy == "B" else "A")
        self.write_meta(sector, blk_seal(sec, magic, index,
                                         self.sb.pool_id if pool_id is None
                                         else pool_id), copy)

    def flip(self, offset, mask=0xFF, copy="A"):
        """Flip bits at byte @offset of copy A's metadata (raw, no
        reseal); in the copies @copy names in version 2"""
        for at in self._at(copy):
            o = at * SECTOR + offset
            b = os.pread(self.fd, 1, o)[0]
            os.pwrite(self.fd, bytes([b ^ mask]), o)
