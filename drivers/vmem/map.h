/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem in-memory bucket map.
 *
 * The map owns two views of the pool's metadata:
 *  - the committed image (@meta): the metadata area byte for byte as it
 *    is on disk, or is being written by the commit in progress. Nothing
 *    else ever enters it, so any write of any of its sectors (a commit,
 *    a device-table change, a round-up to the backing device's logical
 *    block) carries only committed state to the disk;
 *  - the live state: what lookups see and what the next commit will
 *    write. A change to a map entry goes into a pending copy of its
 *    sector (a "shadow"); vmem_map_seal() moves every shadow into the
 *    image when a commit starts, and returns which sectors changed.
 *
 * Buckets that belong to no device are in exactly one of these states:
 *  - armed: known to read as zeros, durably (format zeroed it and its
 *    mark is cleared on disk, or the module zeroed it and flushed), and
 *    not marked on disk: handed out with no I/O at all;
 *  - marked: free and marked VMEM_ENTRY_ZEROED on disk: zero, but its
 *    mark must be cleared durably (armed) before data may reach it;
 *  - dirty: free, contents unknown: zeroed before use; those freed since
 *    attach are also "to zero", for the background zeroer;
 *  - busy: taken by a caller (being zeroed, armed or freed) until the
 *    caller puts it back in a set or assigns it.
 * A bucket assigned to a device is "owned" from vmem_map_assign() (not
 * from its commit) until vmem_map_unmap(); it is then busy until the
 * commit that frees it on disk and the drain of its I/O are done.
 *
 * It does no I/O, which is what lets KUnit test every rule here.
 *
 * Locking: every function that changes the map must be called with the
 * caller's map lock held (pool->meta_lock: one writer at a time); the
 * image and the "committing" bitmap belong to the caller's commit lock
 * between vmem_map_seal() and vmem_map_sealed(). vmem_map_lookup()
 * takes no lock, may run in any context, and sees a bucket from
 * vmem_map_assign() until vmem_map_unmap().
 */
#ifndef _VMEM_MAP_H
#define _VMEM_MAP_H

#include <linux/atomic.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <vmem/meta.h>

/*
 * A device's xarray maps a virtual bucket to xa_mk_value(physical
 * bucket), or to xa_mk_value(physical bucket | VMEM_MAP_FREEING) from
 * vmem_map_unmap() until the free is committed: lookups see nothing,
 * and the virtual bucket cannot be assigned again before then (a crash
 * between two map sectors of one commit could otherwise leave it mapped
 * twice on disk).
 */
#define VMEM_MAP_FREEING	BIT_ULL(32)

/**
 * struct vmem_map_dev - one device slot of the map
 * @xa: virtual bucket -> physical bucket (see VMEM_MAP_FREEING)
 * @used: buckets the device owns; changed under the map lock (charged
 *	with vmem_budget_try_charge()), read without it (sysfs, ioctls)
 * @budget: most buckets the device may own, 0 for no budget
 * @capacity_pages: virtual capacity, 0 when the slot is free
 * @flags: VMEM_DEV_* as on disk
 */
struct vmem_map_dev {
	struct xarray xa;
	atomic64_t used;
	u32 budget;
	u64 capacity_pages;
	u32 flags;
};

/* The free-bucket sets (see the top of this file) */
enum vmem_set {
	VMEM_ARMED,
	VMEM_MARKED,
	VMEM_DIRTY,
	VMEM_TOZERO,	/* a subset of VMEM_DIRTY: freed since attach */
	VMEM_NR_SETS
};

/**
 * struct vmem_map_set - one set of free buckets
 * @bits: one bit per bucket
 * @nr: set bits
 * @hint: where the next search starts
 */
struct vmem_map_set {
	unsigned long *bits;
	u64 nr;
	u64 hint;
};

/**
 * struct vmem_map_copies - the image's copies on disk (format.h's copy
 * rule); written by meta_io.c, under the caller's commit lock
 * @a_stale: one bit per image sector: copy A on disk is damaged (found
 *	so at attach) and is rewritten from the image before any other
 *	write; NULL in version 1
 * @b_stale: one bit per image sector: copy B on disk does not hold the
 *	image's sector (damaged or older at attach, or written to copy A
 *	by a commit and not yet to copy B); written from the image, and
 *	flushed, before copy A of any sector is written again; NULL in
 *	version 1
 * @repairs: damaged or older copies found at attach and not yet rewritten
 * @work: writes @b_stale after a commit (meta_io.c)
 * @rewrites: damaged or older copies rewritten since attach (at attach
 *	and by scrubs), for sysfs
 * @scrubs: scrubs run since attach
 * @scrubbed: sectors the scrubs compared (each copy counts)
 * @unreadable: copies the scrubs could not read (and rewrote)
 */
struct vmem_map_copies {
	unsigned long *a_stale;
	unsigned long *b_stale;
	u64 repairs;
	struct work_struct work;
	atomic64_t rewrites;
	atomic64_t scrubs;
	atomic64_t scrubbed;
	atomic64_t unreadable;
};

/**
 * struct vmem_map - the whole in-memory map
 * @geom: pool geometry
 * @pool_id: id stamped on every metadata sector
 * @meta: the committed image (see above), @meta_bytes long (a whole
 *	number of 4 KiB blocks), vmalloc'ed: one copy of the metadata, the
 *	first @geom.meta_sectors sectors of copy A (and, in version 2, of
 *	copy B at @geom.copy_b) as they are, or will be, on disk
 * @meta_bytes: size of @meta
 * @copies: where the copies on disk lag the image
 * @shadow: map sector number -> 512-byte pending copy of that sector
 * @committing: one bit per map sector: changed by the commit in progress
 * @set: the free-bucket sets
 * @nr_owned: buckets assigned to devices
 * @dev: device slots
 */
struct vmem_map {
	struct vmem_geom geom;
	u32 pool_id;
	u8 *meta;
	size_t meta_bytes;
	struct vmem_map_copies copies;
	struct xarray shadow;
	unsigned long *committing;
	struct vmem_map_set set[VMEM_NR_SETS];
	u64 nr_owned;
	struct vmem_map_dev dev[VMEM_MAX_DEVICES];
};

/**
 * vmem_map_meta_bytes() - bytes of metadata to read for a superblock
 * @sb: a superblock that passed vmem_sb_validate()
 */
size_t vmem_map_meta_bytes(const struct vmem_sb *sb);

/**
 * vmem_map_load() - build a map from a metadata area read from disk
 * @m: map to fill (zeroed by the caller)
 * @meta: vmalloc'ed metadata of vmem_map_meta_bytes() bytes; the map
 *	takes ownership, also on failure
 * @meta_bytes: its size
 * @dev_bytes: size of the backing device
 * @report: called for each fault found, may be NULL
 * @ctx: passed to @report
 *
 * Devices whose deletion was interrupted (VMEM_DEV_DELETING) load with
 * their flag set so the caller can finish the deletion. Free buckets
 * load as marked (VMEM_ENTRY_ZEROED on disk) or dirty.
 *
 * Return: 0, -EUCLEAN when the metadata is damaged, -ENOMEM.
 */
int vmem_map_load(struct vmem_map *m, u8 *meta, size_t meta_bytes,
		  u64 dev_bytes, vmem_report_fn report, void *ctx);

/** vmem_map_destroy() - free everything the map holds */
void vmem_map_destroy(struct vmem_map *m);

/**
 * vmem_map_lookup() - physical bucket holding a virtual bucket
 * @m: the map
 * @id: device id
 * @vb: virtual bucket
 *
 * Lock-free. Return: the physical bucket, or -1 when unprovisioned.
 */
static inline s64 vmem_map_lookup(struct vmem_map *m, u32 id, u64 vb)
{
	void *e = xa_load(&m->dev[id].xa, vb);

	if (!e || (xa_to_value(e) & VMEM_MAP_FREEING))
		return -1;
	return xa_to_value(e);
}

/**
 * vmem_map_freeing() - is a free of this virtual bucket not committed yet?
 * @m: the map
 * @id: device id
 * @vb: virtual bucket
 */
static inline bool vmem_map_freeing(struct vmem_map *m, u32 id, u64 vb)
{
	void *e = xa_load(&m->dev[id].xa, vb);

	return e && (xa_to_value(e) & VMEM_MAP_FREEING);
}

/**
 * vmem_map_take() - take a free bucket out of a set; it is then busy
 * @m: the map
 * @s: VMEM_ARMED, VMEM_MARKED, VMEM_DIRTY or VMEM_TOZERO (which also
 *	takes it out of VMEM_DIRTY)
 *
 * Return: the bucket, or -1 when the set is empty.
 */
s64 vmem_map_take(struct vmem_map *m, enum vmem_set s);

/**
 * vmem_map_put() - put a busy bucket into a set
 * @m: the map
 * @pb: the bucket
 * @s: VMEM_ARMED or VMEM_DIRTY; VMEM_TOZERO for a dirty bucket the
 *	background zeroer should zero
 */
void vmem_map_put(struct vmem_map *m, u64 pb, enum vmem_set s);

/** vmem_map_nr() - buckets in a set */
static inline u64 vmem_map_nr(const struct vmem_map *m, enum vmem_set s)
{
	return m->set[s].nr;
}

/** vmem_map_reservable() - free buckets that can be taken now */
static inline u64 vmem_map_reservable(const struct vmem_map *m)
{
	return m->set[VMEM_ARMED].nr + m->set[VMEM_MARKED].nr +
	       m->set[VMEM_DIRTY].nr;
}

/** vmem_map_used() - buckets owned by devices */
static inline u64 vmem_map_used(const struct vmem_map *m)
{
	return m->nr_owned;
}

/** vmem_map_busy() - buckets neither owned nor in a free set */
static inline u64 vmem_map_busy(const struct vmem_map *m)
{
	return m->geom.nr_buckets - m->nr_owned - vmem_map_reservable(m);
}

/**
 * vmem_map_assign() - give a busy bucket to (@id, @vb) and publish it
 * @m: the map
 * @id: device id (must exist); its budget was charged by the caller
 * @vb: virtual bucket, unprovisioned and below the device's capacity
 * @pb: a busy bucket whose contents read as zeros
 *
 * The entry goes into a shadow sector, never into the image; lookups
 * see the bucket at once.
 *
 * Return: 0, or -ENOMEM (nothing changed; @pb stays busy).
 */
int vmem_map_assign(struct vmem_map *m, u32 id, u64 vb, u64 pb);

/**
 * vmem_map_unmap() - take a bucket away from a device
 * @m: the map
 * @id: device id
 * @vb: virtual bucket
 *
 * Lookups stop seeing the bucket at once; the entry reads free in a
 * shadow sector; the device's count drops. The bucket is busy, and the
 * virtual bucket "freeing", until vmem_map_release(), which the caller
 * calls once the free is committed and the bucket's I/O drained.
 *
 * Return: the physical bucket, -ENOENT if unprovisioned or already being
 * freed, -ENOMEM (nothing changed).
 */
s64 vmem_map_unmap(struct vmem_map *m, u32 id, u64 vb);

/**
 * vmem_map_release() - end the free vmem_map_unmap() started
 * @m: the map
 * @id: device id
 * @vb: virtual bucket
 * @pb: what vmem_map_unmap() returned; it becomes dirty and "to zero"
 */
void vmem_map_release(struct vmem_map *m, u32 id, u64 vb, u64 pb);

/**
 * vmem_map_arm() - start arming the marked buckets of one map sector
 * @m: the map
 * @pbs: out: the buckets, now busy, their marks cleared in a shadow
 * @max: room in @pbs, at least VMEM_ENTRIES_PER_SECTOR
 *
 * The caller puts them into VMEM_ARMED once the sector is committed.
 *
 * Return: how many (0 when no bucket is marked), or -ENOMEM.
 */
int vmem_map_arm(struct vmem_map *m, u64 *pbs, unsigned int max);

/**
 * vmem_map_remark() - mark every armed bucket zero again, for detach
 * @m: the map
 *
 * Armed buckets are durably zero, so a shadow may set their
 * VMEM_ENTRY_ZEROED mark again; they move to the marked set, and come
 * back marked at the next attach instead of dirty.
 *
 * Return: how many, or -ENOMEM (those not remarked stay armed).
 */
s64 vmem_map_remark(struct vmem_map *m);

/**
 * vmem_map_seal() - move every pending change into the image
 * @m: the map
 *
 * Sets a bit in @m->committing for each map sector that changed. The
 * caller writes those sectors (resealing them with vmem_map_reseal()
 * first), then calls vmem_map_sealed().
 *
 * Return: how many sectors changed.
 */
u64 vmem_map_seal(struct vmem_map *m);

/** vmem_map_reseal() - recompute the checksum of image sector @sector */
void vmem_map_reseal(struct vmem_map *m, u64 sector);

/** vmem_map_sealed() - forget the sectors the last seal reported */
void vmem_map_sealed(struct vmem_map *m);

/**
 * vmem_map_set_dev() - change a device record, in the image and in memory
 * @m: the map
 * @id: device id
 * @capacity_pages: new capacity, 0 with @flags 0 to clear the slot
 * @budget: new budget in buckets, 0 for none
 * @flags: VMEM_DEV_*
 *
 * Device records have no pending state: the caller writes the returned
 * sector at once, under its commit lock.
 *
 * Return: the metadata sector to write.
 */
u64 vmem_map_set_dev(struct vmem_map *m, u32 id, u64 capacity_pages,
		     u32 budget, u32 flags);

/**
 * vmem_budget_try_charge() - take one bucket from a budget
 * @used: the device's bucket count
 * @budget: its budget, 0 for none
 *
 * One compare-and-swap loop: the count never passes the budget, even
 * with callers that hold no common lock (the budget KUnit suite races
 * kthreads on it); the driver's callers hold the map lock.
 *
 * Return: true if charged; false if @used already reached @budget.
 */
static inline bool vmem_budget_try_charge(atomic64_t *used, u32 budget)
{
	s64 old = atomic64_read(used);

	do {
		if (budget && old >= budget)
			return false;
	} while (!atomic64_try_cmpxchg(used, &old, old + 1));
	return true;
}

/** vmem_budget_release() - give one bucket back to a budget */
static inline void vmem_budget_release(atomic64_t *used)
{
	atomic64_dec(used);
}

/**
 * struct vmem_map_growth - the buffers of a grown map (vmem_map_grow_*)
 * @geom: the grown geometry
 * @meta: the image, @meta_bytes long
 * @meta_bytes: its size
 * @committing: one bit per map sector
 * @a_stale: one bit per image sector
 * @b_stale: one bit per image sector
 * @bits: one bit per bucket, for each free-bucket set
 * @sb: the grown superblock, kept out of the image until it is written
 *
 * vmem_map_grow_alloc() allocates them, with no lock held;
 * vmem_map_grow_image() swaps them with the map's, so that afterwards
 * they are the old ones, which vmem_map_growth_free() frees.
 */
struct vmem_map_growth {
	struct vmem_geom geom;
	u8 *meta;
	size_t meta_bytes;
	unsigned long *committing;
	unsigned long *a_stale;
	unsigned long *b_stale;
	unsigned long *bits[VMEM_NR_SETS];
	struct vmem_sb sb;
};

/**
 * vmem_map_grow_alloc() - allocate the buffers of a grown map
 * @m: the map (layout version 2)
 * @g: from vmem_geom_grow(&@m->geom, ...), with more buckets
 * @gr: result; vmem_map_growth_free() it in any case
 *
 * Return: 0 or -ENOMEM.
 */
int vmem_map_grow_alloc(struct vmem_map *m, const struct vmem_geom *g,
			struct vmem_map_growth *gr);

/**
 * vmem_map_grow_image() - take the grown buffers, holding the old state
 * @m: the map; the caller holds its commit lock and its map lock
 * @gr: from vmem_map_grow_alloc(); gets the old buffers back
 * @pool_pages: the backing device's size in pages, for the superblock
 *
 * The image gains the new map sectors (free entries, not marked zero,
 * sealed), which the caller writes to both copies before the
 * superblock; @gr->sb receives the grown superblock. The geometry, the
 * image's superblock and the free sets stay as they were: the pool does
 * not grow before vmem_map_grow_buckets().
 */
void vmem_map_grow_image(struct vmem_map *m, struct vmem_map_growth *gr,
			 u64 pool_pages);

/**
 * vmem_map_grow_buckets() - grow the pool in memory, once the grown
 * superblock is durable
 * @m: the map; the caller holds its map lock
 * @g: the grown geometry
 *
 * The new buckets join the dirty set: they are zeroed before first use.
 */
void vmem_map_grow_buckets(struct vmem_map *m, const struct vmem_geom *g);

/** vmem_map_growth_free() - free what @gr holds */
void vmem_map_growth_free(struct vmem_map_growth *gr);

#endif /* _VMEM_MAP_H */
