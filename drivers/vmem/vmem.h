/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem private header: the pool, its devices, and the calls between the
 * module's files.
 *
 * Files and their jobs:
 *   main.c    module init/exit, module parameters
 *   ctl.c     /dev/vmem-control ioctls and the pool's sysfs attributes
 *   pool.c    the attached pool: attach/detach, device create, resize,
 *             budget and delete, pool-usage events
 *   commit.c  the group commit: when and how map changes reach the disk,
 *             and the ordering proof of the whole write path
 *   prov.c    the worker that gives buckets to writes, discard and
 *             write-zeroes
 *   zero.c    zeroing buckets, in the foreground and the background
 *   meta_io.c reading and writing metadata sectors, both copies
 *   grow.c    adding buckets when the backing device grew
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
 * Lock order: vmem_ctl_mutex -> disk->open_mutex -> pool->cm.mutex (the
 * commit lock) -> pool->meta_lock -> pool->defer_lock, pool->cm.lock.
 * The I/O fast path takes none of the mutexes.
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
#include "commit.h"
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
 * @flags: VMEM_DEV_F_*, atomic bit operations
 * @provs: the worker's entries (struct vmem_prov) for this device;
 *	written by the worker, read by vmem_prov_quiesce()
 * @prov_last: under pool->meta_lock: the virtual bucket last provisioned
 */
struct vmem_dev {
	struct vmem_pool *pool;
	u32 id;
	struct gendisk *disk;
	unsigned int bucket_shift;
	bool dead;
	unsigned long flags;
	unsigned int provs;
	u64 prov_last;
};

/* A buffered write failed: the next REQ_PREFLUSH fails with EIO (wbuf.c) */
#define VMEM_DEV_F_WB_ERROR	0

/**
 * vmem_dev_take_wb_error() - take a lost buffered write for a flush
 * @dev: the device
 *
 * Only a flush asks, and the error is its own: the next flush succeeds
 * again unless another buffered write of @dev fails meanwhile.
 * Return: true if a buffered write of @dev failed since the last flush
 * that took one.
 */
static inline bool vmem_dev_take_wb_error(struct vmem_dev *dev)
{
	return test_and_clear_bit(VMEM_DEV_F_WB_ERROR, &dev->flags);
}

#define VMEM_PROV_BATCH		32

/**
 * struct vmem_prov - a dirty bucket the worker took for a device's
 * virtual bucket and has not assigned yet (prov.c). The worker's alone,
 * but for @inflight and @err, which completions change.
 * @dev: device it goes to
 * @vb: virtual bucket
 * @pb: physical bucket taken for it (busy until assigned)
 * @used: the entry is in use
 * @inflight: writes of @sent on their way to @pb
 * @err: a write of @sent failed
 * @nsent: bios in @sent
 * @start: when the first of @sent was sent (I/O accounting)
 * @sent: plain writes sent to @pb; they end once it is assigned, or
 *	are sent again when it had to be zeroed whole
 * @bios: writes that wait for the assignment to be sent
 */
struct vmem_prov {
	struct vmem_dev *dev;
	u64 vb;
	u64 pb;
	bool used;
	atomic_t inflight;
	int err;
	unsigned int nsent;
	unsigned long start;
	struct bio_list sent;
	struct bio_list bios;
};

struct vmem_extent;

/**
 * struct vmem_prov_batch - the buckets the worker readies
 * @n: entries in use; the worker's, changed under pool->meta_lock
 * @held: writes in the entries' @sent lists (sysfs held_writes)
 * @wait: woken when an entry's writes have all ended, and when entries
 *	are freed
 * @gaps: room for the gaps of every entry (vmem_prov_ready()); the
 *	worker's
 * @p: the entries
 */
struct vmem_prov_batch {
	unsigned int n;
	atomic_t held;
	wait_queue_head_t wait;
	struct vmem_extent *gaps;
	struct vmem_prov p[VMEM_PROV_BATCH];
};

/**
 * struct vmem_pool - an attached backing device
 * @bdev_file: the backing device, opened exclusively (holds the claim)
 * @bdev: its block device, file_bdev(@bdev_file)
 * @ctl_dev: the control device, which sends the pool's uevents
 * @uuid: the pool's uuid, copied at attach: @map's image is replaced,
 *	and the old one freed, by every grow
 * @map: in-memory map; changes under @meta_lock, lookups lock-free
 * @meta_lock: serializes every change of @map; never held across I/O
 * @devs: device objects by id; changed under vmem_ctl_mutex, read by the
 *	worker under @meta_lock (a device is removed from here under both)
 * @nr_devices: devices in @devs
 * @bucket_sectors: sectors per bucket
 * @data_start: first sector of bucket 0
 * @srcu: in-flight I/O: each bio remapped to @bdev holds a read side
 *	from before its lookup until its completion (io.c)
 * @bs: bioset for clones; front pad is struct vmem_io
 * @split_bs: bioset for splitting bios at bucket boundaries
 * @cover_bs: bioset of the worker's first writes into dirty buckets;
 *	front pad struct vmem_io (@pool and @idx only). Its own, as split
 *	bios it must end may hold @split_bs's reserve
 * @cm: the group commit (commit.h)
 * @wq: ordered worker for writes that need a bucket (prov.c)
 * @work: the worker's job
 * @defer_lock: protects @deferred, @parked and @ranges
 * @deferred: writes waiting for the worker
 * @parked: writes waiting until a commit or the zeroer frees space
 * @batch: the dirty buckets the worker readies
 * @zeroing: under @meta_lock: buckets the background zeroer holds
 * @bg_wq: runs @range_work and @zero_work
 * @range_work: serves discard and write-zeroes bios (prov.c)
 * @ranges: discard and write-zeroes bios waiting for @range_work
 * @zero_work: zeroes freed buckets in the background (zero.c)
 * @zero_batch: buckets the zeroer takes next; @zero_work's
 * @zero_seen: @streams when the zeroer last looked; @zero_work's
 * @stopping: detach has begun: the zeroer stops
 * @usage_work: reports pool-usage thresholds (a uevent, a log line)
 * @usage_level: last threshold reported (0, 80, 90, 100); @usage_work's
 * @wb: write buffers (wbuf.c)
 * @provisioned: buckets provisioned since attach
 * @unzeroed: of those, dirty buckets given out without zeroing, as
 *	their first writes covered them whole
 * @streams: provisionings of a device's next bucket after the one it
 *	provisioned last, for a write at its first sector (prov.c)
 */
struct vmem_pool {
	struct file *bdev_file;
	struct block_device *bdev;
	struct device *ctl_dev;
	u8 uuid[16];
	struct vmem_map map;
	struct mutex meta_lock;		/* see above */
	struct vmem_dev *devs[VMEM_MAX_DEVICES];
	unsigned int nr_devices;
	u64 bucket_sectors;
	u64 data_start;
	struct srcu_struct srcu;
	struct bio_set bs;
	struct bio_set split_bs;
	struct bio_set cover_bs;
	struct vmem_commit cm;
	struct workqueue_struct *wq;
	struct work_struct work;
	spinlock_t defer_lock;		/* see above */
	struct bio_list deferred;
	struct bio_list parked;
	struct vmem_prov_batch batch;
	u64 zeroing;
	struct workqueue_struct *bg_wq;
	struct work_struct range_work;
	struct bio_list ranges;
	struct delayed_work zero_work;
	unsigned int zero_batch;
	s64 zero_seen;
	bool stopping;
	struct work_struct usage_work;
	unsigned int usage_level;
	struct vmem_wb wb;
	atomic64_t provisioned;
	atomic64_t unzeroed;
	atomic64_t streams;
};

/**
 * struct vmem_io - per-clone state, the front pad of every clone
 * @pool: the pool whose in-flight read side the bio holds
 * @orig: the original bio (unset in @cover_bs clones)
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

/* main.c */
extern int vmem_wb_default;
extern unsigned int vmem_wb_delay_default;
extern unsigned int vmem_wb_mb_default;
extern unsigned int vmem_commit_interval_default;
extern bool vmem_autogrow;
extern int vmem_major;

/* ctl.c */
int vmem_ctl_init(void);
void vmem_ctl_open_up(void);
void vmem_ctl_exit(void);
struct device *vmem_ctl_device(void);

/* pool.c: the attached pool and its device lifecycle */
extern struct mutex vmem_ctl_mutex;
extern struct vmem_pool *vmem_pool;	/* under vmem_ctl_mutex */
int vmem_pool_attach(const char *path, struct device *ctl_dev,
		     struct vmem_pool **out);
int vmem_pool_detach(struct vmem_pool *pool);
int vmem_pool_create_dev(struct vmem_pool *pool, u32 id, u64 capacity_pages,
			 u32 budget);
int vmem_pool_delete_dev(struct vmem_pool *pool, u32 id);
int vmem_pool_resize_dev(struct vmem_pool *pool, u32 id, u64 capacity_pages);
int vmem_pool_budget_dev(struct vmem_pool *pool, u32 id, u32 budget);
void vmem_pool_usage(struct vmem_pool *pool);

/* grow.c: adding buckets from a grown backing device */
struct vmem_ctl_grow;
int vmem_pool_grow(struct vmem_pool *pool, u64 size_bytes,
		   struct vmem_ctl_grow *g);

/* prov.c: provisioning, freeing, discard and write-zeroes */
void vmem_prov_init(struct vmem_pool *pool);
int vmem_prov_alloc(struct vmem_pool *pool);
void vmem_prov_free(struct vmem_pool *pool);
void vmem_prov_defer(struct vmem_pool *pool, struct bio *bio);
void vmem_prov_defer_range(struct vmem_pool *pool, struct bio *bio);
void vmem_prov_unpark(struct vmem_pool *pool);
int vmem_prov_free_dev(struct vmem_pool *pool, u32 id);
void vmem_prov_forget_dev(struct vmem_pool *pool, struct vmem_dev *dev);
void vmem_prov_quiesce(struct vmem_pool *pool, struct vmem_dev *dev);

/* zero.c: zeroing extents and buckets */
int vmem_zeroout(struct vmem_pool *pool, sector_t start, sector_t len,
		 unsigned int flags);
int vmem_zero_extents(struct vmem_pool *pool, const struct vmem_extent *e,
		      unsigned int n);
int vmem_zero_buckets(struct vmem_pool *pool, const u64 *pbs,
		      unsigned int n);
void vmem_zero_kick(struct vmem_pool *pool);
void vmem_zero_init(struct vmem_pool *pool);

/* meta_io.c: metadata I/O, both copies (include/vmem/format.h) */
int vmem_meta_read(struct block_device *bdev, void *buf, size_t bytes);
int vmem_meta_load(struct vmem_pool *pool, const char *path, u8 **meta,
		   size_t *meta_bytes, struct vmem_map_copies *copies);
void vmem_meta_copies_attach(struct vmem_pool *pool,
			     struct vmem_map_copies *copies);
void vmem_meta_copies_free(struct vmem_map_copies *copies);
bool vmem_meta_copies(struct vmem_pool *pool);
int vmem_meta_write(struct vmem_pool *pool, u64 first, u64 nr,
		    blk_opf_t flags);
int vmem_meta_write_b(struct vmem_pool *pool, u64 first, u64 nr,
		      blk_opf_t flags);
int vmem_meta_before_a(struct vmem_pool *pool, bool flush, bool *owed);
void vmem_meta_committed(struct vmem_pool *pool,
			 const unsigned long *map_bits);
int vmem_meta_scrub(struct vmem_pool *pool);
int vmem_meta_flush(struct vmem_pool *pool);

/* dev.c */
struct vmem_dev *vmem_dev_add(struct vmem_pool *pool, u32 id);
int vmem_dev_claim(struct vmem_dev *dev);
void vmem_dev_unclaim(struct vmem_dev *dev);
void vmem_dev_unplug(struct vmem_dev *dev);
void vmem_dev_free(struct vmem_dev *dev);
void vmem_dev_set_capacity(struct vmem_dev *dev);

/* io.c */
void vmem_submit_bio(struct bio *bio);
void vmem_remap_submit(struct vmem_dev *dev, struct bio *bio, u64 pb,
		       int idx);
void vmem_clone_submit(struct vmem_dev *dev, struct bio *bio, u64 phys,
		       int idx, unsigned long start);
int vmem_io_enter(struct vmem_pool *pool);
void vmem_io_exit(struct vmem_pool *pool, int idx);
void vmem_io_flushed(struct bio *bio);
void vmem_drain(struct vmem_pool *pool);

static inline u64 vmem_dev_bucket_bytes(const struct vmem_pool *pool)
{
	return pool->bucket_sectors << SECTOR_SHIFT;
}

/* The backing device's first sector of physical bucket @pb */
static inline u64 vmem_bucket_phys(const struct vmem_pool *pool, u64 pb)
{
	return pool->data_start + pb * pool->bucket_sectors;
}

/* Where @bio, within one bucket, lands when its bucket is @pb */
static inline u64 vmem_bio_phys(const struct vmem_pool *pool,
				const struct bio *bio, u64 pb)
{
	return vmem_bucket_phys(pool, pb) +
	       (bio->bi_iter.bi_sector & (pool->bucket_sectors - 1));
}

#endif /* _VMEM_H */
