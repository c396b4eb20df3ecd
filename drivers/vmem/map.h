/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem in-memory bucket map.
 *
 * The map owns the in-memory copy of the pool's metadata area (superblock,
 * device table, bucket map, byte for byte as on disk) and what is derived
 * from it at load time: a free-bucket bitmap, per-device bucket counts and
 * a per-device xarray from virtual to physical bucket.
 *
 * It does no I/O. A change returns the number of the one metadata sector
 * it modified (already resealed in memory); the caller writes that sector
 * durably, then either keeps the change or reverts it. This split is what
 * lets KUnit test every rule here without a disk.
 *
 * Locking: every function that changes the map must be called with the
 * caller's metadata lock held (one writer at a time). vmem_map_lookup()
 * is the exception: it takes no lock, may run in any context, and sees
 * a bucket only once vmem_map_publish() has stored it.
 */
#ifndef _VMEM_MAP_H
#define _VMEM_MAP_H

#include <linux/atomic.h>
#include <linux/xarray.h>
#include <vmem/meta.h>

/**
 * struct vmem_map_dev - one device slot of the map
 * @xa: virtual bucket -> xa_mk_value(physical bucket); lookups lock-free
 * @used: buckets the device holds; charged lock-free against @budget
 * @budget: most buckets the device may hold, 0 for no budget
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

/**
 * struct vmem_map - the whole in-memory map
 * @geom: pool geometry
 * @pool_id: id stamped on every metadata sector
 * @meta: metadata area as on disk, @meta_bytes long (a whole number of
 *	4 KiB blocks), vmalloc'ed
 * @meta_bytes: size of @meta
 * @free: bitmap of physical buckets, bit set when the bucket is free
 * @nr_free: set bits in @free
 * @zeroed: bitmap of free buckets known to read as zeros on disk
 *	(VMEM_ENTRY_ZEROED); a subset of @free, preferred by reservations
 * @nr_zeroed: set bits in @zeroed
 * @hint: where the next free-bucket search starts
 * @dev: device slots
 */
struct vmem_map {
	struct vmem_geom geom;
	u32 pool_id;
	u8 *meta;
	size_t meta_bytes;
	unsigned long *free;
	u64 nr_free;
	unsigned long *zeroed;
	u64 nr_zeroed;
	u64 hint;
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
 * their flag set so the caller can finish the deletion.
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

	return e ? (s64)xa_to_value(e) : -1;
}

/**
 * vmem_map_reserve() - pick a free bucket for (@id, @vb) and record it
 * @m: the map
 * @id: device id (must exist)
 * @vb: virtual bucket, unprovisioned and below the device's capacity
 * @pb: out: the physical bucket
 * @zeroed: out: the bucket is known to read as zeros (no need to zero it)
 *
 * Charges the device's budget, takes the bucket out of the free set
 * (preferring a zeroed one) and writes the map entry in memory. The
 * lookup does not see the bucket until vmem_map_publish().
 *
 * Return: the metadata sector to write, or -ENOSPC (pool full),
 * -EDQUOT (device at its budget), -ENOMEM.
 */
s64 vmem_map_reserve(struct vmem_map *m, u32 id, u64 vb, u64 *pb,
		     bool *zeroed);

/** vmem_map_publish() - make a reserved bucket visible to lookups */
void vmem_map_publish(struct vmem_map *m, u32 id, u64 vb, u64 pb);

/**
 * vmem_map_unreserve() - undo vmem_map_reserve() after a failed write
 * @m: the map
 * @id: device id
 * @vb: virtual bucket
 * @pb: the bucket vmem_map_reserve() returned
 * @zeroed: what vmem_map_reserve() said of it
 */
void vmem_map_unreserve(struct vmem_map *m, u32 id, u64 vb, u64 pb,
			bool zeroed);

/**
 * vmem_map_unmap() - take a bucket away from a device
 * @m: the map
 * @id: device id
 * @vb: virtual bucket
 * @pb: out: the physical bucket it held
 *
 * Lookups stop seeing the bucket at once and the map entry reads free in
 * memory, but the bucket is not reusable until vmem_map_release(): the
 * caller first waits for I/O already remapped to it, then writes the
 * returned sector durably.
 *
 * Return: the metadata sector to write, or -ENOENT if unprovisioned.
 */
s64 vmem_map_unmap(struct vmem_map *m, u32 id, u64 vb, u64 *pb);

/** vmem_map_release() - a durably unmapped bucket becomes free */
void vmem_map_release(struct vmem_map *m, u32 id, u64 pb);

/** vmem_map_remap() - undo vmem_map_unmap() after a failed write */
void vmem_map_remap(struct vmem_map *m, u32 id, u64 vb, u64 pb);

/**
 * vmem_map_set_dev() - change a device record in memory
 * @m: the map
 * @id: device id
 * @capacity_pages: new capacity, 0 with @flags 0 to clear the slot
 * @budget: new budget in buckets, 0 for none
 * @flags: VMEM_DEV_*
 * @old: out, may be NULL: the record before, for a revert
 *
 * Return: the metadata sector to write.
 */
u64 vmem_map_set_dev(struct vmem_map *m, u32 id, u64 capacity_pages,
		     u32 budget, u32 flags, struct vmem_dev_rec *old);

/** vmem_map_restore_dev() - put back a record saved by vmem_map_set_dev() */
void vmem_map_restore_dev(struct vmem_map *m, u32 id,
			  const struct vmem_dev_rec *old);

/** vmem_map_used() - buckets owned by devices */
static inline u64 vmem_map_used(const struct vmem_map *m)
{
	return m->geom.nr_buckets - m->nr_free;
}

/**
 * vmem_budget_try_charge() - take one bucket from a budget, lock-free
 * @used: the device's bucket count
 * @budget: its budget, 0 for none
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

#endif /* _VMEM_MAP_H */
