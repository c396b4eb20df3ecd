/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem on-disk format, layout versions 1 and 2: the contract with users'
 * data.
 *
 * This header is shared by the kernel module and the userspace tools;
 * lib/vmem_format.c holds the only encode/decode/validate code, compiled
 * into both, so the two agree by construction.
 *
 * Units: a page is 64 KiB; a bucket is a power-of-two number of pages,
 * chosen at format time; a metadata sector is 512 bytes.
 *
 * Layout of version 1 (offsets in 512-byte sectors):
 *
 *   sector 0         superblock (struct vmem_sb)
 *   sectors 1..9     device table: 9 sectors, each a struct vmem_blk_hdr
 *                    and 31 struct vmem_dev_rec; slot i of the table is
 *                    device i (/dev/vmem<i>), slots 255..278 stay zero
 *   sectors 10..     bucket map: map_sectors sectors, each a
 *                    struct vmem_blk_hdr and 62 struct vmem_map_entry;
 *                    entry i of the map describes physical bucket i
 *   ...              zero padding up to data_start (a page number,
 *                    aligned to VMEM_DATA_ALIGN_PAGES)
 *   data_start ...   nr_buckets data buckets, bucket_pages pages each
 *
 *   +------+--------------+-------------------------+-----+----------+--
 *   | sb   | dev table x9 | map sector x map_sectors| pad | bucket 0 | ..
 *   +------+--------------+-------------------------+-----+----------+--
 *   0      1              10                              data_start
 *
 * Page 0 (128 sectors) holds the superblock, the device table and the
 * first 118 map sectors (7316 buckets); a larger pool continues its map
 * in the following pages, and the superblock says where data starts.
 *
 * Layout of version 2: every metadata sector exists twice. Copy A is
 * version 1's metadata, at version 1's offsets, followed by room for the
 * map to grow; copy B is the same, byte for byte, at sector copy_b:
 *
 *   0                    copy A: superblock, device table, map_sectors
 *                        map sectors, then map_max - map_sectors sectors
 *                        kept free for the map to grow (issue 15)
 *   copy_b               copy B: the same 10 + map_max sectors
 *   data_start ...       the data buckets
 *
 *   +--------+----------+----+--------+----------+------+----------+--
 *   | A: sb, | A: map   | .. | B: sb, | B: map   | pad  | bucket 0 | ..
 *   | devt   | (+ room) |    | devt   | (+ room) |      |          |
 *   +--------+----------+----+--------+----------+------+----------+--
 *   0        10              copy_b   copy_b+10         data_start
 *
 * The map reserves map_max sectors per copy: room for max_buckets =
 * 62 * map_max buckets, set by "vmemctl format --max-size" (default
 * VMEM_DEFAULT_GROWTH times the device), so a pool can later grow up to
 * that size by adding buckets at its end without moving either copy.
 * Placement, chosen by format: copy_b is the smallest power of two (in
 * sectors) that is at least VMEM_COPY_B_MIN and at least copy A's extent
 * 10 + map_max, and data_start the first 1 MiB boundary after copy B.
 * So the two copies of a sector are at least 512 KiB apart (one failing
 * area of the disk does not take both), and a pool whose map with its
 * room fits 1014 sectors (62868 buckets) keeps version 1's data_start of
 * 1 MiB. "vmemctl upgrade" converts a version 1 pool in place: copy A
 * is already where it belongs, copy B goes into version 1's zero padding
 * at sector 1024, which fits when 10 + map_sectors <= 1024; the map's
 * room is then what that padding leaves (map_max 1014).
 *
 * Every metadata sector carries its own crc32c (Castagnoli, over bytes
 * 4..511, seed ~0, final xor ~0), so:
 *
 * Update rule: every metadata write is of whole sectors (whole logical
 * blocks of the backing device on a 4 KiB-block disk), each built from
 * an in-memory image that holds committed state only, and the disk
 * writes a sector atomically, so each sector on disk is always either
 * old or new and valid on its own:
 *  - map changes (a bucket given to a device or freed, zero marks
 *    cleared or set) are committed in groups: the changed map sectors
 *    are written, then the backing device is flushed, before the next
 *    REQ_PREFLUSH or REQ_FUA bio of any device completes, and at the
 *    latest commit_interval_ms after the change (drivers/vmem/commit.c);
 *  - creating, resizing, re-budgeting or deleting a device writes the one
 *    device-table sector holding its record, with REQ_FUA; the superblock
 *    changes only at format and at attach (its generation), though a
 *    write of a neighbouring sector on a 4 KiB-block disk rewrites it
 *    unchanged.
 *
 * Version 2 adds the order of the two copies (the copy rule):
 *  - copy A of a sector is written first and is durable (flushed, or
 *    written with REQ_FUA) before copy B of it is written;
 *  - copy B is durable before copy A of that sector, or of any sector
 *    that shares a logical or physical block with it, is written again.
 * A commit writes copy A of its sectors and flushes: that is all a flush
 * of a user waits for. Copy B is written after the commit has ended its
 * bios, and flushed, from the image; a commit that comes first writes
 * those copies B itself, before it takes its own changes into the image
 * (so copy B only ever receives committed state), and flushes once
 * before writing its copies A. A device-table or superblock write is
 * copy A with REQ_FUA, then copy B with REQ_FUA, after writing (and
 * flushing) the copies B still owed; on a 4 KiB-block disk one of those
 * may carry the new record to copy B a moment before copy A gets it,
 * which is safe: copy A, old and durable, is what a reader takes until
 * it is rewritten. Whatever is
 * interrupted, each sector has one copy that is complete and valid and
 * holds its last durable state: copy B while copy A is written, copy A
 * while copy B is; a torn write (half old, half new: the checksum fails)
 * or a 512e drive's torn read-modify-write of a whole 4 KiB block loses
 * only the copy being written.
 *
 * Reading rule (attach, check, repair), per sector: copy A if it is
 * valid, else copy B if it is valid, else the sector is lost and attach
 * refuses the pool, naming it. Copy A valid and different from copy B is
 * the normal state after a crash between the two writes: by the copy
 * rule copy A is then the newer one, so no sequence number is needed
 * (the headers have no room for one; a lost write, a disk acknowledging
 * a write it never made, is the one failure this does not catch). The
 * superblock of copy B is found through the superblock of copy A. When
 * that is damaged but keeps its magic (a torn or decayed write), its
 * copy_b and data_start, which no write after format changes (upgrade
 * writes data_start the same), still hold but for one damaged field:
 * copy B's is read at copy_b only, when that is a probe place below;
 * otherwise (version 1, or copy_b damaged) the probe below reads no
 * place from data_start on. When sector 0 cannot be read or holds no
 * magic but the pool's uuid, copy B's is looked for by reading sector
 * VMEM_COPY_B_MIN << k for k = 0, 1, ... up to the end of the device:
 * the first valid version 2 superblock whose copy_b is where it was
 * found is copy B's, unless copy A's device table and first map sector
 * (sectors 1..10) can be read and none carries its pool id. Every place
 * before copy B is copy A's metadata or zeroed by format, but the
 * devices' data lies after it and may hold anything, a superblock
 * carrying the pool's uuid (which is no secret) included: so the probe
 * ends at the first superblock (the magic), valid or not, at the first
 * place that cannot be read, and at the first that holds neither zeros
 * nor a device-table or map sector. A sector 0 that names no
 * pool (zeros, another format's data) is not taken for a damaged
 * superblock: that would be a guess ("vmemctl repair
 * --superblock-from-copy" restores it when asked).
 * Attach rewrites every copy that is damaged or older than the other
 * from the chosen one before its first other write (copies A first,
 * flushed, then copies B), logs each and counts them in sysfs
 * (copy_rewrites); when a copy cannot be rewritten, the pool attaches
 * read-only, as any failed metadata write leaves it. A scrub (sysfs "scrub",
 * vmemctl scrub) compares both copies of every sector on disk with the
 * in-memory image and rewrites those that differ; "vmemctl repair"
 * restores a damaged copy from the good one offline.
 *
 * Known limits of the copies, each needing a second fault on top of a
 * crash: on a 512e drive whose 4 KiB read-modify-write tears, one block
 * holding a damaged copy A of sector x and a damaged copy B of another
 * sector y cannot be rewritten crash-safely (a tear of either block's
 * rewrite loses x or y in both copies; attach logs such blocks); and a
 * bucket freed by a commit is handed out again once copy A of its map
 * sector is durable, so if that copy A is then damaged before copy B is
 * written, the reader takes copy B's older entry, which still names the
 * old owner.
 *
 * Crash consistency: a crash at any point leaves every metadata sector
 * either old or new, each one valid on its own (in version 2: at least
 * one of its copies), and any mix of them is a valid pool that attaches.
 *  - A map entry gives a device only a bucket whose zeroes are durable:
 *    one zeroed and flushed before the commit that writes the entry, or
 *    a format-zeroed one; or one its device's writes and the module's
 *    zeroes covered whole between them, written and flushed before that
 *    commit. So a mapped bucket never exposes foreign data.
 *  - Data may reach a bucket before the commit of its map entry; a crash
 *    in between leaves the bucket free and not marked zero, so before
 *    its next assignment it is zeroed wherever that assignment's first
 *    writes did not write.
 *  - A free bucket marked VMEM_ENTRY_ZEROED was zeroed by format (or by
 *    the module, and flushed) before the mark was written, and the mark
 *    is cleared on disk, by a commit of its own, before any data can
 *    reach the bucket. The module clears marks ahead of need, a map
 *    sector at a time, and sets them again on a clean detach.
 *  - A bucket is unmapped durably, and every bio that could reach it has
 *    completed, before it can be handed out again.
 *  - A virtual bucket is never mapped twice on disk: when one is freed
 *    and written again, the new mapping waits for the commit of the free.
 *  - Deleting a device first sets VMEM_DEV_DELETING in its record, then
 *    frees its map entries, then clears the record; a crash in between
 *    leaves a record marked deleting, whose remaining buckets attach
 *    finishes freeing.
 *  - A map entry whose owner is not an existing device, or whose virtual
 *    bucket is beyond its device's capacity, is damage: attach refuses
 *    the pool and "vmemctl check" names it.
 *  - Format writes everything but copy A's superblock, syncs, then
 *    writes it: until then sector 0 is zero and the disk holds no pool.
 *  - Upgrade (version 1 to 2) writes copy B whole, superblock B (version
 *    2) last, syncs, then writes superblock A (version 2) and syncs.
 *    Before that write the pool is version 1 (copy B sits in padding
 *    version 1 ignores); a torn superblock A is found damaged, and copy
 *    B's superblock, a valid version 2 one, makes the pool version 2.
 *  - Grow (version 2 only; "vmemctl grow", offline or through the
 *    module): buckets are added at the end of the data area, into the
 *    room the map reserves (map_max), so nothing moves. The new
 *    buckets' map entries are free and not marked zero (space a disk
 *    or an LV gained is not known to read as zeros), so each is zeroed
 *    before its first use. Order, each step durable before the next:
 *    1. the map sectors the new buckets need beyond the last one in
 *       use (free entries, sealed): copy A, flush, copy B, flush; they
 *       lie in the room, which no pool of the old size reads, and on a
 *       4 KiB-block disk the sectors in use that share their blocks are
 *       rewritten unchanged, by the copy rule. New buckets that fit the
 *       last map sector in use need no write: its entries past
 *       nr_buckets are zero already, which is what free and unmarked is;
 *    2. the superblock with the new nr_buckets, map_sectors and
 *       pool_pages: copy A with REQ_FUA, then copy B with REQ_FUA.
 *    A crash before 2 leaves the old size (the new map sectors unread);
 *    during 2 copy A is torn (copy B, old, is taken: old size) or new
 *    (the new size, copy B older, rewritten at attach); after it, the
 *    new size. The module adds the buckets to its free sets only after
 *    step 2, so no data reaches a new bucket before the pool has it.
 *    Version 1 pools have no room and cannot grow (upgrade them first);
 *    a pool whose copy B follows its data area (none is formatted so)
 *    cannot either, and a grow never writes past the device's end.
 *
 * An all-zero page 0 is an empty disk (format it); anything else that is
 * not a valid superblock (nor a damaged one whose copy B is found) is
 * foreign and refused.
 */
#ifndef _VMEM_FORMAT_H
#define _VMEM_FORMAT_H

#include <linux/types.h>

/*
 * Every field is naturally aligned and the size checks at the end prove
 * there is no padding, so userspace builds need no packing attribute.
 */
#ifndef __KERNEL__
#define __packed
#endif

#define VMEM_PAGE_SHIFT		16
#define VMEM_PAGE_SIZE		(1U << VMEM_PAGE_SHIFT)
#define VMEM_SECTOR_SHIFT	9
#define VMEM_SECTOR_SIZE	(1U << VMEM_SECTOR_SHIFT)
#define VMEM_SECTORS_PER_PAGE	(VMEM_PAGE_SIZE / VMEM_SECTOR_SIZE)

/* "VMEMPOOL" read as a little-endian 64-bit number */
#define VMEM_MAGIC		0x4c4f4f504d454d56ULL
/* The newest layout version this code reads and writes; it reads 1 too */
#define VMEM_VERSION		2
#define VMEM_VERSION_MIN	1

/* Per-sector magics of the device table and the map */
#define VMEM_DEVT_MAGIC		0x54564544U	/* "DEVT" */
#define VMEM_MAP_MAGIC		0x2050414dU	/* "MAP " */

#define VMEM_MAX_DEVICES	255
#define VMEM_DEVT_START		1
#define VMEM_DEVS_PER_SECTOR	31
#define VMEM_DEVT_SECTORS	9
#define VMEM_MAP_START		(VMEM_DEVT_START + VMEM_DEVT_SECTORS)
#define VMEM_ENTRIES_PER_SECTOR	62

/* Bucket sizes: powers of two from 64 KiB to 1 GiB */
#define VMEM_MIN_BUCKET_PAGES	1U
#define VMEM_MAX_BUCKET_PAGES	16384U
/*
 * Default bucket: 1 MiB (16 pages). A first write zeroes at most 1 MiB
 * (ic-stable-structures' 8 MiB is costly to zero; dm-thin suggests
 * 512 KiB-class blocks), the map costs 8 bytes per MiB (8 MiB of map for
 * 1 TiB), and 1 MiB matches the alignment partitioning tools and RAID
 * stripes use, so ordinary I/O (at most 1 MiB per bio) rarely splits.
 */
#define VMEM_DEFAULT_BUCKET_PAGES 16U
/* Data starts on a 1 MiB boundary */
#define VMEM_DATA_ALIGN_PAGES	16U
/* A virtual bucket index must fit the map entry's 32-bit field */
#define VMEM_MAX_VBUCKETS	0xffffffffULL
#define VMEM_MAX_BUCKETS	0xffffffffULL

/*
 * Version 2: copy B starts at a power of two of sectors at least this
 * large (512 KiB), so the copies of a sector are at least that far apart
 */
#define VMEM_COPY_B_MIN		1024ULL
/*
 * Version 2: the map reserves room for a pool this many times the size
 * of its device unless format is told otherwise (--max-size). It costs
 * 16 bytes of metadata per bucket of room (8 per copy): 0.005% of the
 * room with 1 MiB buckets, 0.08% with 64 KiB ones.
 */
#define VMEM_DEFAULT_GROWTH	4U
/* The largest map: one entry per bucket of the largest pool */
#define VMEM_MAX_MAP_SECTORS \
	((VMEM_MAX_BUCKETS + VMEM_ENTRIES_PER_SECTOR - 1) / \
	 VMEM_ENTRIES_PER_SECTOR)

/* Feature flags: none defined in versions 1 and 2; an unknown bit is refused */
#define VMEM_INCOMPAT_SUPPORTED	0U
#define VMEM_RO_COMPAT_SUPPORTED	0U

/**
 * struct vmem_sb - the superblock, sector 0
 * @csum: crc32c of bytes 4..511
 * @magic: VMEM_MAGIC
 * @version: layout version, 1 or 2
 * @incompat: features a reader must know to use the pool at all
 * @ro_compat: features a reader must know to write the pool
 * @compat: features a reader may ignore
 * @bucket_pages: pages per bucket (power of two)
 * @nr_buckets: data buckets in the pool
 * @map_sectors: sectors of bucket map, DIV_ROUND_UP(nr_buckets, 62)
 * @data_start: page number of data bucket 0
 * @pool_pages: size of the backing device at format time, in pages
 * @generation: incremented each time the pool is attached read-write
 * @format_time: seconds since the epoch at format time
 * @uuid: random pool identity
 * @copy_b: version 2: first sector of copy B; version 1: zero
 * @map_max: version 2: map sectors each copy reserves (the map in use
 *	and its room to grow); version 1: zero
 * @reserved: zero
 */
struct vmem_sb {
	__le32 csum;
	__le32 version;
	__le64 magic;
	__le32 incompat;
	__le32 ro_compat;
	__le32 compat;
	__le32 bucket_pages;
	__le64 nr_buckets;
	__le64 map_sectors;
	__le64 data_start;
	__le64 pool_pages;
	__le64 generation;
	__le64 format_time;
	__u8 uuid[16];
	__le64 copy_b;
	__le64 map_max;
	__u8 reserved[400];
} __packed;

/**
 * struct vmem_blk_hdr - head of every device-table and map sector
 * @csum: crc32c of bytes 4..511 of the sector
 * @magic: VMEM_DEVT_MAGIC or VMEM_MAP_MAGIC
 * @index: the sector's index within its table (0-based)
 * @pool_id: first four bytes of the pool's uuid, to catch stale sectors
 */
struct vmem_blk_hdr {
	__le32 csum;
	__le32 magic;
	__le32 index;
	__le32 pool_id;
} __packed;

/* Device record flags */
#define VMEM_DEV_EXISTS		(1U << 0)
#define VMEM_DEV_DELETING	(1U << 1)
#define VMEM_DEV_FLAGS_KNOWN	(VMEM_DEV_EXISTS | VMEM_DEV_DELETING)

/**
 * struct vmem_dev_rec - one virtual device
 * @capacity_pages: virtual capacity in pages (> 0 when the device exists)
 * @budget_buckets: most buckets the device may hold; 0 means no budget
 * @flags: VMEM_DEV_*; a free slot is all zero
 */
struct vmem_dev_rec {
	__le64 capacity_pages;
	__le32 budget_buckets;
	__le32 flags;
} __packed;

/* Map entry owner: 0 is a free bucket, N + 1 is device N */
#define VMEM_OWNER_FREE		0

/*
 * Map entry flags. VMEM_ENTRY_ZEROED marks a free bucket that reads as
 * zeros on disk: format sets it when it zeroed the data area, the module
 * when it detaches with buckets it knows are durably zero. It is cleared
 * on disk before data can reach the bucket (see the crash rules above),
 * so provisioning such a bucket needs no zeroing. A freed bucket is
 * dirty until zeroed.
 */
#define VMEM_ENTRY_ZEROED	(1U << 0)
#define VMEM_ENTRY_FLAGS_KNOWN	VMEM_ENTRY_ZEROED

/**
 * struct vmem_map_entry - one physical bucket
 * @vbucket: which bucket of the owning device this one holds
 * @owner: VMEM_OWNER_FREE, or the owning device id plus one
 * @flags: VMEM_ENTRY_*; only a free entry may carry any
 * @reserved: zero
 *
 * A free entry is zero but for its flags.
 */
struct vmem_map_entry {
	__le32 vbucket;
	__u8 owner;
	__u8 flags;
	__u8 reserved[2];
} __packed;

struct vmem_devt_sector {
	struct vmem_blk_hdr hdr;
	struct vmem_dev_rec dev[VMEM_DEVS_PER_SECTOR];
} __packed;

struct vmem_map_sector {
	struct vmem_blk_hdr hdr;
	struct vmem_map_entry entry[VMEM_ENTRIES_PER_SECTOR];
} __packed;

/* Each metadata structure fills exactly one sector */
_Static_assert(sizeof(struct vmem_sb) == VMEM_SECTOR_SIZE, "vmem_sb size");
_Static_assert(sizeof(struct vmem_devt_sector) == VMEM_SECTOR_SIZE,
	       "vmem_devt_sector size");
_Static_assert(sizeof(struct vmem_map_sector) == VMEM_SECTOR_SIZE,
	       "vmem_map_sector size");
_Static_assert(VMEM_DEVS_PER_SECTOR * VMEM_DEVT_SECTORS >= VMEM_MAX_DEVICES,
	       "device table too small");

#endif /* _VMEM_FORMAT_H */
