/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem metadata codec: what lib/vmem_format.c promises to its two users,
 * the kernel module and vmemctl.
 *
 * Every function here is pure: it reads and writes only the buffers it is
 * given, never sleeps, takes no lock and allocates nothing, so it can run
 * in any context and in plain userspace tests. The one exception is
 * vmem_meta_check()'s callbacks: they are the caller's code, run in the
 * caller's context and may do what it allows (the module's @yield calls
 * cond_resched(), so the module's check may sleep there).
 */
#ifndef _VMEM_META_H
#define _VMEM_META_H

#include "format.h"

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#endif

/**
 * struct vmem_geom - pool geometry in host byte order
 * @version: layout version, 1 or 2
 * @bucket_pages: pages per bucket
 * @nr_buckets: data buckets
 * @map_sectors: sectors of bucket map in use
 * @meta_sectors: sectors from 0 to the end of the map in use: one copy
 *	of the metadata, the in-memory image
 * @map_max: map sectors each copy reserves (version 1: @map_sectors)
 * @copy_b: first sector of copy B (version 1: 0, there is none)
 * @data_start: page number of bucket 0
 */
struct vmem_geom {
	u32 version;
	u32 bucket_pages;
	u64 nr_buckets;
	u64 map_sectors;
	u64 meta_sectors;
	u64 map_max;
	u64 copy_b;
	u64 data_start;
};

/* Every kind of damage or refusal the codec can name */
enum vmem_fault {
	VMEM_OK = 0,
	VMEM_F_MAGIC,		/* superblock magic wrong */
	VMEM_F_CSUM,		/* checksum mismatch */
	VMEM_F_VERSION,		/* layout version newer than this code */
	VMEM_F_INCOMPAT,	/* unknown incompatible feature */
	VMEM_F_RO_COMPAT,	/* unknown feature, refused read-write */
	VMEM_F_BUCKET_SIZE,	/* bucket size not a power of two in range */
	VMEM_F_GEOMETRY,	/* counts disagree with each other */
	VMEM_F_TOO_SMALL,	/* device smaller than the pool */
	VMEM_F_RESERVED,	/* a reserved field is not zero */
	VMEM_F_BLK_MAGIC,	/* metadata sector of the wrong kind */
	VMEM_F_BLK_INDEX,	/* metadata sector in the wrong place */
	VMEM_F_POOL_ID,		/* metadata sector from another pool */
	VMEM_F_DEV_FLAGS,	/* device record flags unknown or inconsistent */
	VMEM_F_DEV_SIZE,	/* device capacity zero or too large */
	VMEM_F_OWNER,		/* bucket owned by a device that does not exist */
	VMEM_F_VBUCKET,		/* bucket beyond its device's capacity */
	VMEM_F_DOUBLE,		/* two buckets hold one virtual bucket */
	VMEM_F_DELETING,	/* device deletion was interrupted */
	VMEM_F_NR
};

/**
 * vmem_fault_str() - one-line description of a fault, never NULL
 * @f: the fault
 */
const char *vmem_fault_str(enum vmem_fault f);

/**
 * vmem_crc32c() - CRC-32C (Castagnoli), no pre/post inversion
 * @crc: seed (running value)
 * @buf: data
 * @len: bytes
 */
u32 vmem_crc32c(u32 crc, const void *buf, size_t len);

/**
 * vmem_sector_csum() - the checksum a metadata sector must carry
 * @sector: 512 bytes; covers bytes 4..511
 */
u32 vmem_sector_csum(const void *sector);

/**
 * vmem_geom_layout() - lay out a new pool on a device
 * @dev_bytes: size of the backing device
 * @bucket_pages: pages per bucket
 * @max_bytes: version 2: the size the pool may grow to (its map reserves
 *	room for that many buckets); 0 for VMEM_DEFAULT_GROWTH times
 *	@dev_bytes. Less than @dev_bytes makes a pool that small.
 * @version: 1 or 2 (VMEM_VERSION)
 * @g: result
 *
 * Return: VMEM_OK, VMEM_F_BUCKET_SIZE, VMEM_F_VERSION for a version this
 * code cannot write, or VMEM_F_TOO_SMALL when not even one bucket fits.
 */
enum vmem_fault vmem_geom_layout(u64 dev_bytes, u32 bucket_pages,
				 u64 max_bytes, u32 version,
				 struct vmem_geom *g);

/**
 * vmem_geom_compute() - lay out a new version 2 pool with the default room
 * @dev_bytes: size of the backing device
 * @bucket_pages: pages per bucket
 * @g: result
 *
 * vmem_geom_layout(@dev_bytes, @bucket_pages, 0, VMEM_VERSION, @g).
 */
enum vmem_fault vmem_geom_compute(u64 dev_bytes, u32 bucket_pages,
				  struct vmem_geom *g);

/**
 * vmem_geom_upgrade() - where copy B of a version 1 pool goes
 * @v1: geometry of a valid version 1 superblock
 * @g: result: the same pool in version 2
 *
 * Copy B goes into version 1's padding before the data area, at sector
 * VMEM_COPY_B_MIN; the map's room is what is left there. Nothing else
 * moves: the data area and the buckets stay where they are.
 *
 * Return: VMEM_OK, or VMEM_F_GEOMETRY when the padding is too small (a
 * map of more than 1014 sectors, 62868 buckets).
 */
enum vmem_fault vmem_geom_upgrade(const struct vmem_geom *v1,
				  struct vmem_geom *g);

/**
 * vmem_geom_from_sb() - read the geometry of a validated superblock
 * @sb: superblock that passed vmem_sb_validate()
 * @g: result
 */
void vmem_geom_from_sb(const struct vmem_sb *sb, struct vmem_geom *g);

enum vmem_page0_kind {
	VMEM_PAGE0_EMPTY,	/* all zero: never formatted */
	VMEM_PAGE0_VMEM,	/* carries the vmem magic (maybe damaged) */
	VMEM_PAGE0_FOREIGN,	/* anything else: refuse */
};

/**
 * vmem_page0_classify() - what does the start of a device hold?
 * @buf: the first @len bytes of the device
 * @len: at least VMEM_SECTOR_SIZE
 */
enum vmem_page0_kind vmem_page0_classify(const void *buf, size_t len);

/**
 * vmem_sb_init() - fill and seal a new superblock
 * @sb: output, fully overwritten
 * @g: geometry from vmem_geom_layout() (or vmem_geom_upgrade()): its
 *	version and, in version 2, copy B's place and the map's room
 * @pool_pages: backing device size in pages
 * @uuid: 16 random bytes
 * @now: seconds since the epoch
 */
void vmem_sb_init(struct vmem_sb *sb, const struct vmem_geom *g,
		  u64 pool_pages, const u8 *uuid, u64 now);

/**
 * vmem_meta_init() - build the whole metadata area of an empty pool
 * @meta: output, g->meta_sectors sectors, fully overwritten
 * @g: geometry from vmem_geom_layout()
 * @pool_pages: backing device size in pages
 * @uuid: 16 random bytes
 * @now: seconds since the epoch
 * @zeroed: the caller zeroed every data bucket on disk first; mark them
 *	all VMEM_ENTRY_ZEROED
 *
 * The caller writes @meta at sector 0, and in version 2 at sector
 * g->copy_b too (copy B), and zeroes the rest of the device up to
 * g->data_start pages (in version 2 it need not zero the map's room).
 */
void vmem_meta_init(void *meta, const struct vmem_geom *g, u64 pool_pages,
		    const u8 *uuid, u64 now, bool zeroed);

/** vmem_sb_seal() - recompute the superblock checksum after a change */
void vmem_sb_seal(struct vmem_sb *sb);

/**
 * vmem_sb_validate() - check a superblock
 * @sb: the superblock
 * @dev_bytes: size of the backing device, or 0 to skip the size check
 * @rw: the caller wants to write the pool
 *
 * Return: VMEM_OK or the first fault found.
 */
enum vmem_fault vmem_sb_validate(const struct vmem_sb *sb, u64 dev_bytes,
				 bool rw);

/** vmem_pool_id() - the pool id every metadata sector carries */
u32 vmem_pool_id(const struct vmem_sb *sb);

/**
 * vmem_blk_seal() - stamp header and checksum on a table sector
 * @sector: 512 bytes
 * @magic: VMEM_DEVT_MAGIC or VMEM_MAP_MAGIC
 * @index: sector index within its table
 * @pool_id: vmem_pool_id() of the pool
 */
void vmem_blk_seal(void *sector, u32 magic, u32 index, u32 pool_id);

/** vmem_blk_validate() - check a table sector's header and checksum */
enum vmem_fault vmem_blk_validate(const void *sector, u32 magic, u32 index,
				  u32 pool_id);

/**
 * vmem_dev_validate() - check one device record
 * @r: the record
 * @bucket_pages: the pool's bucket size
 */
enum vmem_fault vmem_dev_validate(const struct vmem_dev_rec *r,
				  u32 bucket_pages);

/**
 * vmem_entry_validate() - check one map entry against the device table
 * @e: the entry
 * @devs: all VMEM_MAX_DEVICES decoded records
 * @bucket_pages: the pool's bucket size
 */
enum vmem_fault vmem_entry_validate(const struct vmem_map_entry *e,
				    const struct vmem_dev_rec *devs,
				    u32 bucket_pages);

/**
 * typedef vmem_report_fn - called once per fault found by vmem_meta_check()
 * @ctx: caller's cookie
 * @f: the fault
 * @what: "superblock", "devtable" (a device-table sector), "mapsector"
 *	(a map sector), "device" or "bucket"
 * @index: table sector index, device id or bucket number of the fault
 */
typedef void (*vmem_report_fn)(void *ctx, enum vmem_fault f,
			       const char *what, u64 index);

/**
 * typedef vmem_yield_fn - called by vmem_meta_check() between pieces of work
 * @ctx: the caller's cookie, as given to @report
 *
 * A chance to reschedule (the module calls cond_resched()) or to show
 * progress during a check of millions of buckets; nothing is held across
 * the call.
 */
typedef void (*vmem_yield_fn)(void *ctx);

/*
 * vmem_meta_check() calls @yield before every VMEM_CHECK_YIELD_SECTORS
 * map sectors it checks (32 KiB of map: 3968 buckets), and as often while
 * it sorts and compares the duplicate check's keys
 */
#define VMEM_CHECK_YIELD_SECTORS	64

/**
 * struct vmem_meta_view - what vmem_meta_check() decodes
 * @devs: the device records that validated (others read as free)
 * @used: buckets each device holds, counted from the map
 * @zeroed: free buckets marked VMEM_ENTRY_ZEROED
 */
struct vmem_meta_view {
	struct vmem_dev_rec devs[VMEM_MAX_DEVICES];
	u64 used[VMEM_MAX_DEVICES];
	u64 zeroed;
};

/**
 * vmem_meta_check() - verify every invariant of a whole metadata area
 * @meta: the first g->meta_sectors sectors of the device
 * @dev_bytes: size of the backing device, or 0 to skip the size check
 * @rw: the caller wants to write the pool
 * @view: output: decoded device table and per-device bucket counts
 * @scratch: nr_buckets u64 of scratch space (for the duplicate check), or
 *	NULL to skip that check
 * @report: called for every fault
 * @yield: called every VMEM_CHECK_YIELD_SECTORS map sectors, or NULL
 * @ctx: passed to @report and @yield
 *
 * The superblock must have been validated and @meta must hold all of the
 * metadata it describes. Reports every fault, not just the first.
 *
 * Return: number of faults found (0 is a clean pool).
 */
u64 vmem_meta_check(const void *meta, u64 dev_bytes, bool rw,
		    struct vmem_meta_view *view, u64 *scratch,
		    vmem_report_fn report, vmem_yield_fn yield, void *ctx);

/**
 * vmem_sector_kind() - what metadata sector @sector of a copy holds
 * @sector: sector number within one copy (the image)
 * @index: out: its index in its table (0 for the superblock)
 *
 * Return: "superblock", "devtable" or "mapsector", as vmem_report_fn's
 * @what names them.
 */
const char *vmem_sector_kind(u64 sector, u64 *index);

/**
 * vmem_meta_sector_validate() - is one copy of one metadata sector valid?
 * @buf: the 512 bytes of the copy
 * @sector: its sector number within the copy, below g->meta_sectors
 * @g: geometry of the chosen superblock
 * @pool_id: vmem_pool_id() of the chosen superblock
 * @dev_bytes: size of the backing device, or 0 to skip the size check
 *
 * A superblock must pass vmem_sb_validate() (read-only) and describe the
 * pool @g and @pool_id describe; a table sector vmem_blk_validate(). The
 * records and entries inside are vmem_meta_check()'s business.
 *
 * Return: VMEM_OK or the first fault found.
 */
enum vmem_fault vmem_meta_sector_validate(const void *buf, u64 sector,
					  const struct vmem_geom *g,
					  u32 pool_id, u64 dev_bytes);

/* What the two copies of one metadata sector hold */
enum vmem_copies {
	VMEM_COPIES_SAME,	/* both valid, byte for byte the same */
	VMEM_COPIES_B_OLD,	/* both valid, they differ: A is newer */
	VMEM_COPIES_B_BAD,	/* A valid, B not */
	VMEM_COPIES_A_BAD,	/* B valid, A not */
	VMEM_COPIES_BOTH_BAD,	/* neither valid: the sector is lost */
};

/**
 * vmem_copies_pick() - which copy of a sector to believe (the reading rule)
 * @a: copy A of the sector
 * @b: copy B of the sector
 * @sector: its sector number within a copy
 * @g: geometry of the chosen superblock
 * @pool_id: vmem_pool_id() of the chosen superblock
 * @dev_bytes: size of the backing device, or 0
 * @fa: out: vmem_meta_sector_validate() of @a
 * @fb: out: vmem_meta_sector_validate() of @b
 */
enum vmem_copies vmem_copies_pick(const void *a, const void *b, u64 sector,
				  const struct vmem_geom *g, u32 pool_id,
				  u64 dev_bytes, enum vmem_fault *fa,
				  enum vmem_fault *fb);

/**
 * typedef vmem_copy_fn - called by vmem_copies_merge() for each sector
 *	whose copies are not the same
 * @ctx: the caller's cookie
 * @sector: the sector within a copy
 * @state: what vmem_copies_pick() said (never VMEM_COPIES_SAME)
 * @fa: the fault of copy A (VMEM_OK when valid)
 * @fb: the fault of copy B
 */
typedef void (*vmem_copy_fn)(void *ctx, u64 sector, enum vmem_copies state,
			     enum vmem_fault fa, enum vmem_fault fb);

/**
 * vmem_copies_merge() - apply the reading rule to a run of sectors
 * @a: copy A of sectors @first..@first + @n - 1; on return every sector
 *	whose copy A is damaged and copy B valid holds copy B
 * @b: copy B of the same sectors
 * @first: sector number (within a copy) of the first one
 * @n: how many; @first + @n <= g->meta_sectors
 * @g: geometry of the chosen superblock
 * @pool_id: vmem_pool_id() of the chosen superblock
 * @dev_bytes: size of the backing device, or 0
 * @fn: called for every sector whose copies differ or are damaged, or NULL
 * @ctx: passed to @fn
 *
 * The merged image is then what vmem_meta_check() verifies; a sector lost
 * in both copies keeps copy A's bytes and fails that check too.
 *
 * Return: how many sectors are lost (VMEM_COPIES_BOTH_BAD).
 */
u64 vmem_copies_merge(void *a, const void *b, u64 first, u64 n,
		      const struct vmem_geom *g, u32 pool_id, u64 dev_bytes,
		      vmem_copy_fn fn, void *ctx);

/**
 * vmem_copy_b_probe() - the k-th place copy B's superblock may be
 * @k: 0, 1, ...
 *
 * VMEM_COPY_B_MIN << @k, or 0 when that does not fit 64 bits. A reader
 * whose superblock A is damaged tries these in order up to the end of
 * the device; vmem_sb_is_copy_b() says whether the superblock found at
 * one is copy B's.
 */
static inline u64 vmem_copy_b_probe(unsigned int k)
{
	return k < 54 ? VMEM_COPY_B_MIN << k : 0;
}

/* Is @sector one of the vmem_copy_b_probe() places? */
static inline bool vmem_is_copy_b_probe(u64 sector)
{
	u64 k = sector / VMEM_COPY_B_MIN;	/* a power of 2: a shift */

	return !(sector & (VMEM_COPY_B_MIN - 1)) && k && !(k & (k - 1));
}

/**
 * vmem_sb_is_copy_b() - is @sb, read at sector @sector, a copy B superblock?
 * @sb: the sector read
 * @sector: where it was read
 * @dev_bytes: size of the backing device, or 0
 * @sb_a: what sector 0 holds (a damaged superblock A), or NULL if it
 *	cannot be read; without the magic, its uuid must match
 */
bool vmem_sb_is_copy_b(const struct vmem_sb *sb, u64 sector, u64 dev_bytes,
		       const struct vmem_sb *sb_a);

/**
 * typedef vmem_read_fn - read one sector for vmem_sb_choose()
 * @ctx: the caller's cookie
 * @sector: which
 * @buf: 512 bytes out
 *
 * Return: 0, or non-zero when it cannot be read.
 */
typedef int (*vmem_read_fn)(void *ctx, u64 sector, void *buf);

/**
 * vmem_sb_choose() - the superblock to use (format.h's reading rule)
 * @sb_a: sector 0 as read (copy A's superblock), or NULL when it cannot
 *	be read
 * @dev_bytes: size of the backing device
 * @rw: the caller wants to write the pool
 * @read: reads a sector where copy B's superblock may be
 * @ctx: passed to @read
 * @sb: out: the superblock
 * @at: out: where it is: 0, or copy B's sector
 *
 * Copy A's superblock when it is valid. When sector 0 cannot be read, or
 * is a damaged superblock of the pool (it fails its checksum, or lacks
 * the magic but still carries the uuid of the copy B found), the first
 * valid version 2 superblock found at a vmem_copy_b_probe() place that
 * says it is there (vmem_sb_is_copy_b()), checked with @rw, unless copy
 * A's device table and first map sector (sectors 1..10) can be read and
 * none names its pool. A damaged superblock A that keeps its magic
 * names the one place to read (its copy_b, when that is a probe place),
 * or else bounds the probe by its data_start. The probe ends at the
 * first superblock found, valid or not, at the first place that cannot
 * be read, and at the first that holds neither zeros nor metadata: the
 * places before copy B's are metadata or zeroed by format, those after
 * it may hold a device's data, so a later find is not trusted. A sector
 * 0 that names no
 * pool (zeros, another format's data) is not taken for a damaged one:
 * that would be a guess. A superblock A with a valid checksum and a fault
 * is refused as it is.
 *
 * Return: VMEM_OK; or, when no superblock can be used, copy A's fault
 * (VMEM_F_MAGIC for no magic, VMEM_F_CSUM when it cannot be read) with
 * *@at 0, or copy B's (with @rw) with *@at its sector: VMEM_F_POOL_ID
 * when copy A's table disowns it.
 */
enum vmem_fault vmem_sb_choose(const struct vmem_sb *sb_a, u64 dev_bytes,
			       bool rw, vmem_read_fn read, void *ctx,
			       struct vmem_sb *sb, u64 *at);

/* Disk sector of copy B of image sector @sector (version 2) */
static inline u64 vmem_copy_b_sector(const struct vmem_geom *g, u64 sector)
{
	return g->copy_b + sector;
}

/* Little helpers shared by both sides */
static inline bool vmem_is_pow2(u64 x)
{
	return x && !(x & (x - 1));
}

/* Buckets a device of @capacity_pages spans; cannot overflow */
static inline u64 vmem_dev_buckets(u64 capacity_pages, u32 bucket_pages)
{
	return capacity_pages / bucket_pages +
	       !!(capacity_pages % bucket_pages);
}

static inline u64 vmem_map_sector_of(u64 bucket)
{
	return VMEM_MAP_START + bucket / VMEM_ENTRIES_PER_SECTOR;
}

static inline u32 vmem_map_slot_of(u64 bucket)
{
	return bucket % VMEM_ENTRIES_PER_SECTOR;
}

static inline u64 vmem_devt_sector_of(u32 id)
{
	return VMEM_DEVT_START + id / VMEM_DEVS_PER_SECTOR;
}

static inline u32 vmem_devt_slot_of(u32 id)
{
	return id % VMEM_DEVS_PER_SECTOR;
}

/* Map entry of physical bucket @bucket in metadata image @meta */
static inline struct vmem_map_entry *vmem_meta_entry(void *meta, u64 bucket)
{
	struct vmem_map_sector *s = (struct vmem_map_sector *)
		((u8 *)meta + vmem_map_sector_of(bucket) * VMEM_SECTOR_SIZE);

	return &s->entry[vmem_map_slot_of(bucket)];
}

/* Device record of device @id in metadata image @meta */
static inline struct vmem_dev_rec *vmem_meta_rec(void *meta, u32 id)
{
	struct vmem_devt_sector *s = (struct vmem_devt_sector *)
		((u8 *)meta + vmem_devt_sector_of(id) * VMEM_SECTOR_SIZE);

	return &s->dev[vmem_devt_slot_of(id)];
}

/* Reseal table sector @sector (device table or map) of image @meta */
static inline void vmem_meta_seal(void *meta, u64 sector, u32 pool_id)
{
	u8 *p = (u8 *)meta + sector * VMEM_SECTOR_SIZE;

	if (sector < VMEM_MAP_START)
		vmem_blk_seal(p, VMEM_DEVT_MAGIC, sector - VMEM_DEVT_START,
			      pool_id);
	else
		vmem_blk_seal(p, VMEM_MAP_MAGIC, sector - VMEM_MAP_START,
			      pool_id);
}

/* First 512-byte sector of physical bucket @bucket */
static inline u64 vmem_bucket_sector(const struct vmem_geom *g, u64 bucket)
{
	return (g->data_start + bucket * g->bucket_pages) *
		VMEM_SECTORS_PER_PAGE;
}

/**
 * vmem_geom_grow() - the geometry of a pool grown onto a larger device
 * @g: geometry of a validated superblock
 * @new_bytes: the bytes the pool may now use from the start of its
 *	device (the device's size, or less)
 * @out: result: @g with as many buckets as fit @new_bytes, the map's
 *	room (map_max * 62) and VMEM_MAX_BUCKETS; never fewer than @g's
 *
 * Return: VMEM_OK (@out may have as many buckets as @g: nothing to add),
 * VMEM_F_VERSION for a version 1 pool (its map has no room),
 * VMEM_F_GEOMETRY when copy B follows the data area (the data area cannot
 * grow over it), VMEM_F_TOO_SMALL when @new_bytes ends before the pool
 * as it is.
 */
enum vmem_fault vmem_geom_grow(const struct vmem_geom *g, u64 new_bytes,
			       struct vmem_geom *out);

/**
 * vmem_meta_grow() - extend an image to a grown geometry (format.h, Grow)
 * @meta: image of @old, with room for @new->meta_sectors sectors
 * @old: its geometry
 * @new: from vmem_geom_grow(@old, ...)
 * @pool_pages: the device's size in pages, for the superblock
 *
 * Writes the map sectors @new adds (free entries, not marked zero,
 * sealed) and the superblock's nr_buckets, map_sectors and pool_pages
 * (sealed); nothing else changes. The caller writes the new map sectors
 * (both copies) durably before the superblock.
 */
void vmem_meta_grow(void *meta, const struct vmem_geom *old,
		    const struct vmem_geom *new, u64 pool_pages);

#endif /* _VMEM_META_H */
