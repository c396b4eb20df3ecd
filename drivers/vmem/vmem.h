/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem private header: the pool, its devices, and the calls between the
 * module's files.
 *
 * Files and their jobs:
 *   main.c    module init/exit, module parameters
 *   ctl.c     /dev/vmem-control ioctls and the pool's sysfs attributes
 *   pool.c    attach/detach, provisioning and freeing with their on-disk
 *             ordering, the deferred-bio worker
 *   meta_io.c reading and durably writing metadata sectors
 *   map.c     the in-memory map (no I/O; see map.h)
 *   dev.c     one gendisk per virtual device, per-disk sysfs attributes
 *   io.c      the submit_bio fast path and clone completion
 *   wbuf.c    the write buffer (batches writes to provisioned buckets)
 *   debug.c   test hooks that widen race windows (debug kernel only)
 *
 * Lifetimes: one pool at most is attached (vmem_pool, under
 * vmem_ctl_mutex). A device lives from create (or attach) to delete (or
 * detach); it is freed only after del_gendisk() and once every bio it
 * remapped has completed (vmem_drain(), see io.c). The pool outlives
 * its devices.
 *
 * Lock order: vmem_ctl_mutex -> disk->open_mutex -> pool->meta_lock.
 * The I/O fast path takes none of them.
 */
#ifndef _VMEM_H
#define _VMEM_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include "map.h"
#include "wbuf.h"

#define VMEM_MINORS		16
#define VMEM_LBS		4096

struct vmem_pool;

/**
 * struct vmem_dev - one /dev/vmemN
 * @pool: the pool it is carved from
 * @id: N
 * @disk: its gendisk
 * @bucket_shift: log2 of sectors per bucket (copied for the fast path)
 * @dead: set under disk->open_mutex when deletion starts; open refused
 */
struct vmem_dev {
	struct vmem_pool *pool;
	u32 id;
	struct gendisk *disk;
	unsigned int bucket_shift;
	bool dead;
};

#define VMEM_PROV_BATCH		32

/**
 * struct vmem_prov - one bucket being provisioned by the worker
 * @dev: device it goes to
 * @vb: virtual bucket
 * @pb: physical bucket reserved for it
 * @sector: metadata sector holding its map entry
 * @zeroed: format left it zeroed: no zeroing needed
 * @err: result of its commit
 * @bios: writes waiting for it
 */
struct vmem_prov {
	struct vmem_dev *dev;
	u64 vb;
	u64 pb;
	u64 sector;
	bool zeroed;
	int err;
	struct bio_list bios;
};

/**
 * struct vmem_prov_batch - reservations not yet committed; the worker's
 * alone, changed under pool->meta_lock
 * @n: entries in use
 * @p: the entries, in reservation order
 */
struct vmem_prov_batch {
	unsigned int n;
	struct vmem_prov p[VMEM_PROV_BATCH];
};

/**
 * struct vmem_pool - an attached backing device
 * @bdev: the backing device, opened exclusively
 * @map: in-memory map; changes under @meta_lock, lookups lock-free
 * @meta_lock: serializes every metadata change and its durable write
 * @devs: device objects by id; changed under vmem_ctl_mutex, read by the
 *	worker under @meta_lock (a device is removed from here under both)
 * @nr_devices: devices in @devs
 * @bucket_sectors: sectors per bucket
 * @data_start: first sector of bucket 0
 * @wq: ordered worker for deferred bios (provisioning, discard, zeroes)
 * @work: the worker's job
 * @defer_lock: protects @deferred
 * @deferred: bios waiting for the worker
 * @srcu: in-flight I/O: each bio remapped to @bdev holds a read side
 *	from before its lookup until its completion (io.c)
 * @bs: bioset for clones; front pad is struct vmem_io
 * @usage_level: last pool-usage threshold reported (0, 80, 90, 100)
 * @wb: write buffers (wbuf.c)
 * @batch: the worker's provisioning batch
 * @provisioned: buckets provisioned since attach
 * @commits: provisioning commits since attach (batches)
 */
struct vmem_pool {
	struct block_device *bdev;
	struct vmem_map map;
	struct mutex meta_lock;		/* see above */
	struct vmem_dev *devs[VMEM_MAX_DEVICES];
	unsigned int nr_devices;
	u64 bucket_sectors;
	u64 data_start;
	struct workqueue_struct *wq;
	struct work_struct work;
	spinlock_t defer_lock;		/* protects deferred */
	struct bio_list deferred;
	struct srcu_struct srcu;
	struct bio_set bs;
	unsigned int usage_level;
	struct vmem_wb wb;
	struct vmem_prov_batch batch;
	atomic64_t provisioned;
	atomic64_t commits;
};

/**
 * struct vmem_io - per-clone state, the front pad of every clone
 * @pool: the pool whose in-flight read side the bio holds
 * @orig: the original bio
 * @start: I/O accounting start time
 * @idx: the read side's cookie (vmem_io_enter())
 * @clone: the clone sent to the backing device; must be last
 */
struct vmem_io {
	struct vmem_pool *pool;
	struct bio *orig;
	unsigned long start;
	int idx;
	struct bio clone;
};

/* main.c / ctl.c */
extern bool vmem_wb_default;
extern unsigned int vmem_wb_delay_default;
extern struct mutex vmem_ctl_mutex;
extern struct vmem_pool *vmem_pool;	/* under vmem_ctl_mutex */
extern int vmem_major;
int vmem_ctl_init(void);
void vmem_ctl_exit(void);
void vmem_pool_uevent(unsigned int level);

/* pool.c */
int vmem_pool_attach(const char *path, struct vmem_pool **out);
int vmem_pool_detach(struct vmem_pool *pool);
void vmem_pool_defer(struct vmem_pool *pool, struct bio *bio);
int vmem_pool_create_dev(struct vmem_pool *pool, u32 id, u64 capacity_pages,
			 u32 budget);
int vmem_pool_delete_dev(struct vmem_pool *pool, u32 id);
int vmem_pool_resize_dev(struct vmem_pool *pool, u32 id, u64 capacity_pages);
int vmem_pool_budget_dev(struct vmem_pool *pool, u32 id, u32 budget);

/* meta_io.c */
int vmem_meta_read(struct block_device *bdev, void *buf, size_t bytes);
int vmem_meta_write_sector(struct vmem_pool *pool, u64 sector);
int vmem_meta_write(struct vmem_pool *pool, u64 first, u64 nr, bool flush);

/* dev.c */
struct vmem_dev *vmem_dev_add(struct vmem_pool *pool, u32 id);
int vmem_dev_claim(struct vmem_dev *dev);
void vmem_dev_unclaim(struct vmem_dev *dev);
void vmem_dev_remove(struct vmem_dev *dev);
void vmem_dev_set_capacity(struct vmem_dev *dev);

/* io.c */
void vmem_submit_bio(struct bio *bio);
void vmem_remap_submit(struct vmem_dev *dev, struct bio *bio, u64 pb,
		       int idx);
void vmem_clone_submit(struct vmem_dev *dev, struct bio *bio, u64 phys,
		       int idx, unsigned long start);
int vmem_io_enter(struct vmem_pool *pool);
void vmem_io_exit(struct vmem_pool *pool, int idx);
void vmem_drain(struct vmem_pool *pool);

static inline u64 vmem_dev_bucket_bytes(const struct vmem_pool *pool)
{
	return pool->bucket_sectors << SECTOR_SHIFT;
}

#endif /* _VMEM_H */
