// SPDX-License-Identifier: GPL-2.0
/*
 * vmem I/O fast path.
 *
 * ->submit_bio splits a read or write bio at bucket boundaries (and
 * nowhere else: the backing device splits the clone to its own limits),
 * so each bio lies in one bucket. A bucket that is provisioned is a
 * lock-free xarray lookup away:
 * the bio is cloned (sharing its pages, no data copy), the clone pointed
 * at the backing device and submitted. A read of an unprovisioned bucket
 * completes at once with zeros and no backing I/O. Everything else (a
 * write that needs a bucket, discard, write-zeroes) goes to the pool's
 * worker, which may sleep.
 *
 * In-flight accounting: a bucket that is being freed must see no more
 * I/O before it is handed out again. Each remapped bio charges one of
 * two per-device counters, chosen by the device's epoch, from before its
 * lookup until its completion. vmem_drain() erases nothing itself: the
 * caller removes the bucket from the lookup, then vmem_drain() flips the
 * epoch and waits for the old counter to reach zero. A bio that looked
 * the bucket up before the erase either charged the old counter (and is
 * waited for) or sees the erase (full barriers on both sides: the store
 * buffering pattern). The same wait ends a device's life.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "bucket.h"
#include "debug.h"
#include "vmem.h"

unsigned int vmem_io_enter(struct vmem_dev *dev)
{
	unsigned int epoch = READ_ONCE(dev->epoch) & 1;

	vmem_hook(VMEM_HOOK_IO_ENTER);
	atomic_inc(&dev->inflight[epoch]);
	/* Order the charge before the lookup; pairs with vmem_drain() */
	smp_mb__after_atomic();
	return epoch;
}

void vmem_io_exit(struct vmem_dev *dev, unsigned int epoch)
{
	if (!atomic_dec_and_test(&dev->inflight[epoch]))
		return;
	vmem_hook(VMEM_HOOK_IO_EXIT);
	if (wq_has_sleeper(&dev->drain_wq))
		wake_up(&dev->drain_wq);
}

/**
 * vmem_drain() - wait for every bio that may have seen an old mapping
 * @dev: the device
 *
 * Callers are serialized (pool->meta_lock or vmem_ctl_mutex with the
 * device already gone from the block layer) and may sleep.
 */
void vmem_drain(struct vmem_dev *dev)
{
	unsigned int old = READ_ONCE(dev->epoch) & 1;

	/* Order the caller's xa_erase() before the flip and the wait */
	smp_mb();
	WRITE_ONCE(dev->epoch, old + 1);
	/* Pairs with vmem_io_enter(): see the top of this file */
	smp_mb();
	wait_event(dev->drain_wq, !atomic_read(&dev->inflight[old]));
}

static void vmem_clone_endio(struct bio *clone)
{
	struct vmem_io *io = container_of(clone, struct vmem_io, clone);
	struct vmem_dev *dev = io->dev;
	unsigned int epoch = io->epoch;
	struct bio *orig = io->orig;

	orig->bi_status = clone->bi_status;
	bio_end_io_acct(orig, io->start);
	bio_put(clone);
	bio_endio(orig);
	/* Last: once this drops, the device may be freed */
	vmem_io_exit(dev, epoch);
}

/**
 * vmem_clone_submit() - send a bio to the backing device through a clone
 * @dev: the device
 * @bio: the original bio
 * @phys: backing sector (ignored for an empty flush)
 * @epoch: what vmem_io_enter() returned; released when the bio completes
 * @start: what bio_start_io_acct() returned
 */
void vmem_clone_submit(struct vmem_dev *dev, struct bio *bio, u64 phys,
		       unsigned int epoch, unsigned long start)
{
	struct vmem_pool *pool = dev->pool;
	struct vmem_io *io;
	struct bio *clone;

	clone = bio_alloc_clone(pool->bdev, bio, GFP_NOIO, &pool->bs);
	if (unlikely(!clone)) {
		bio_end_io_acct(bio, start);
		vmem_io_exit(dev, epoch);
		bio_io_error(bio);
		return;
	}
	io = container_of(clone, struct vmem_io, clone);
	io->dev = dev;
	io->orig = bio;
	io->epoch = epoch;
	io->start = start;
	if (bio_sectors(bio))
		clone->bi_iter.bi_sector = phys;
	clone->bi_end_io = vmem_clone_endio;
	submit_bio_noacct(clone);
}

static u64 vmem_bio_phys(struct vmem_dev *dev, struct bio *bio, u64 pb)
{
	return dev->pool->data_start + (pb << dev->bucket_shift) +
	       (bio->bi_iter.bi_sector & (dev->pool->bucket_sectors - 1));
}

/**
 * vmem_remap_submit() - send a bio to its bucket on the backing device
 * @dev: the device
 * @bio: a bio within one bucket, or an empty flush
 * @pb: the physical bucket (ignored for an empty flush)
 * @epoch: what vmem_io_enter() returned; released when the bio completes
 */
void vmem_remap_submit(struct vmem_dev *dev, struct bio *bio, u64 pb,
		       unsigned int epoch)
{
	vmem_clone_submit(dev, bio, vmem_bio_phys(dev, bio, pb), epoch,
			  bio_start_io_acct(bio));
}

void vmem_submit_bio(struct bio *bio)
{
	struct vmem_dev *dev = bio->bi_bdev->bd_disk->private_data;
	struct vmem_pool *pool = dev->pool;
	unsigned int epoch;
	u64 left;
	s64 pb;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		/*
		 * No bio_split_to_limits(): the backing device splits its
		 * clones to its own limits. Ours are stacked from it, so on a
		 * bio-based disk (brd's 255-sector default) that would cut a
		 * 128 KiB bio into 255 + 1 sectors for nothing. Only bucket
		 * boundaries matter here, and they are split below.
		 */
		break;
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		bio = bio_split_to_limits(bio);
		if (bio)
			vmem_pool_defer(pool, bio);
		return;
	default:
		bio->bi_status = BLK_STS_NOTSUPP;
		bio_endio(bio);
		return;
	}

	if (unlikely(!bio_sectors(bio))) {
		/* An empty flush: metadata is always durable already */
		if (READ_ONCE(pool->wb.enabled))
			vmem_wb_kick(pool);
		vmem_remap_submit(dev, bio, 0, vmem_io_enter(dev));
		return;
	}

	/* Cut at the bucket's end; the rest comes back here as a new bio */
	left = vmem_bucket_left(bio->bi_iter.bi_sector, dev->bucket_shift);
	if (unlikely(bio_sectors(bio) > left)) {
		struct bio *split = bio_split(bio, left, GFP_NOIO, &fs_bio_set);

		bio_chain(split, bio);
		submit_bio_noacct(bio);
		bio = split;
	}

	epoch = vmem_io_enter(dev);
	pb = vmem_map_lookup(&pool->map, dev->id,
			     bio->bi_iter.bi_sector >> dev->bucket_shift);
	if (likely(pb >= 0)) {
		if (op_is_write(bio_op(bio)) && READ_ONCE(pool->wb.enabled)) {
			if (bio->bi_opf & (REQ_PREFLUSH | REQ_FUA))
				vmem_wb_kick(pool);
			else if (vmem_wb_add(dev, bio, vmem_bio_phys(dev, bio, pb),
					     epoch))
				return;
		}
		vmem_remap_submit(dev, bio, pb, epoch);
		return;
	}
	vmem_io_exit(dev, epoch);

	if (bio_data_dir(bio) == READ) {
		zero_fill_bio(bio);
		bio_endio(bio);
		return;
	}
	vmem_pool_defer(pool, bio);
}
