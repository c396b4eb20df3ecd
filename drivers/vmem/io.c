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
 * completes at once with zeros and no backing I/O. A write that needs a
 * bucket goes to the provisioning worker, discard and write-zeroes to
 * the range worker (prov.c). A flush, or a FUA write once its data is
 * written, waits for a commit when map changes are not yet committed
 * (commit.c); on a read-only pool every write fails with EIO.
 *
 * In-flight accounting: a bucket that is being freed must see no more
 * I/O before it is handed out again, and a device must see none before
 * it is freed. Every bio remapped to the backing device holds a read
 * side of the pool's SRCU (vmem_io_enter()) from before its lookup until
 * its completion (vmem_io_exit(), which may run in interrupt context and
 * touches only the pool, never the device). Whoever frees removes the
 * bucket from the lookup first (or, for a device, deletes its disk so no
 * bio can reach it), then calls vmem_drain(), i.e. synchronize_srcu(),
 * and only then reuses the bucket or frees the device. Why that is
 * enough: a bio that can still reach the old bucket did its lookup
 * before the removal, inside a read side that therefore began before
 * the grace period and is waited for; a read side that began after the
 * grace period started sees every store made before synchronize_srcu()
 * was called, the removal included (SRCU's memory-ordering guarantee).
 * There is no counter to reuse, so no number of drains can overtake a
 * slow bio, and the pool outlives every device, so a late completion
 * never touches freed memory.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "bucket.h"
#include "compat.h"
#include "debug.h"
#include "vmem.h"

/**
 * vmem_io_enter() - start a bio's in-flight read side, before its lookup
 * @pool: the pool
 *
 * Return: the cookie vmem_io_exit() needs.
 */
int vmem_io_enter(struct vmem_pool *pool)
{
	int idx = srcu_down_read(&pool->srcu);

	vmem_hook(VMEM_HOOK_IO_ENTER);
	return idx;
}

/**
 * vmem_io_exit() - end a bio's in-flight read side; any context
 * @pool: the pool
 * @idx: what vmem_io_enter() returned
 */
void vmem_io_exit(struct vmem_pool *pool, int idx)
{
	srcu_up_read(&pool->srcu, idx);
	vmem_hook(VMEM_HOOK_IO_EXIT);
}

/**
 * vmem_drain() - wait for every bio that may have seen an old mapping
 * @pool: the pool
 *
 * Called after a bucket left the lookup or a device lost its disk; may
 * sleep. See the top of this file.
 */
void vmem_drain(struct vmem_pool *pool)
{
	synchronize_srcu(&pool->srcu);
}

static void vmem_clone_endio(struct bio *clone)
{
	struct vmem_io *io = container_of(clone, struct vmem_io, clone);
	struct vmem_pool *pool = io->pool;
	struct bio *orig = io->orig;
	int idx = io->idx;

	/* Only an error: a flush may have failed already (wbuf.c) */
	if (clone->bi_status)
		orig->bi_status = clone->bi_status;
	bio_end_io_acct(orig, io->start);
	bio_put(clone);
	/* A FUA write is durable once its map entry is too (commit.c) */
	if (unlikely(orig->bi_opf & REQ_FUA) && !orig->bi_status &&
	    vmem_commit_needed(&pool->cm))
		vmem_commit_add_flush(pool, orig);
	else
		bio_endio(orig);
	/* Last: from here on the device may be freed, not the pool */
	vmem_io_exit(pool, idx);
}

/**
 * vmem_clone_submit() - send a bio to the backing device through a clone
 * @dev: the device
 * @bio: the original bio
 * @phys: backing sector (ignored for an empty flush)
 * @idx: what vmem_io_enter() returned; released when the bio completes
 * @start: what bio_start_io_acct() returned
 */
void vmem_clone_submit(struct vmem_dev *dev, struct bio *bio, u64 phys,
		       int idx, unsigned long start)
{
	struct vmem_pool *pool = dev->pool;
	struct vmem_io *io;
	struct bio *clone;

	clone = bio_alloc_clone(pool->bdev, bio, GFP_NOIO, &pool->bs);
	if (unlikely(!clone)) {
		bio_end_io_acct(bio, start);
		bio_io_error(bio);
		vmem_io_exit(pool, idx);
		return;
	}
	io = container_of(clone, struct vmem_io, clone);
	io->pool = pool;
	io->orig = bio;
	io->idx = idx;
	io->start = start;
	if (bio_sectors(bio))
		clone->bi_iter.bi_sector = phys;
	clone->bi_end_io = vmem_clone_endio;
	submit_bio_noacct(clone);
}

/**
 * vmem_remap_submit() - send a bio to its bucket on the backing device
 * @dev: the device
 * @bio: a bio within one bucket, or an empty flush
 * @pb: the physical bucket (ignored for an empty flush)
 * @idx: what vmem_io_enter() returned; released when the bio completes
 */
void vmem_remap_submit(struct vmem_dev *dev, struct bio *bio, u64 pb,
		       int idx)
{
	vmem_clone_submit(dev, bio, vmem_bio_phys(dev->pool, bio, pb), idx,
			  bio_start_io_acct(bio));
}

/**
 * vmem_io_flushed() - serve a REQ_PREFLUSH bio whose buffered writes are
 * on the backing device
 * @bio: the bio; task context
 *
 * A buffered write of its device that failed fails it with EIO (once;
 * the write buffer may have set its status so already);
 * an empty flush with no map change to commit, on a pool that is not
 * read-only, goes to the backing device (as in vmem_submit_flush());
 * otherwise a commit flushes the backing
 * device (committing the map if it changed) and then ends the bio, or
 * sends it on without the flag.
 */
void vmem_io_flushed(struct bio *bio)
{
	struct vmem_dev *dev = bio->bi_bdev->bd_disk->private_data;
	struct vmem_pool *pool = dev->pool;

	/* Failed already: the write buffer lost a write (wbuf.c) */
	if (bio->bi_status) {
		bio_endio(bio);
		return;
	}
	if (vmem_dev_take_wb_error(dev)) {
		bio_io_error(bio);
		return;
	}
	if (!bio_sectors(bio) && !vmem_commit_needed(&pool->cm) &&
	    !vmem_commit_ro(&pool->cm)) {
		vmem_remap_submit(dev, bio, 0, vmem_io_enter(pool));
		return;
	}
	if (bio_sectors(bio))
		vmem_commit_add_preflush(pool, bio);
	else
		vmem_commit_add_flush(pool, bio);
}

/*
 * A write with REQ_PREFLUSH. Buffered writes go to disk first; when map
 * changes wait for a commit, the commit is the flush, and the bio is
 * ended (empty) or sent without the flag (with data) once it is done.
 * Return: true if the bio was taken.
 */
static bool vmem_submit_flush(struct vmem_dev *dev, struct bio *bio)
{
	struct vmem_pool *pool = dev->pool;

	if (vmem_wb_flush(dev, bio))
		return true;
	if (vmem_commit_needed(&pool->cm) ||
	    test_bit(VMEM_DEV_F_WB_ERROR, &dev->flags)) {
		vmem_io_flushed(bio);
		return true;
	}
	if (bio_sectors(bio))
		return false;
	vmem_remap_submit(dev, bio, 0, vmem_io_enter(pool));
	return true;
}

/*
 * With the write buffer on (or still holding data): a plain write goes
 * into it; a read, a FUA write or a write with REQ_PREFLUSH waits for
 * buffered data of its blocks (vmem_wb_takes()).
 * Return: true if the bio was taken.
 */
static bool vmem_submit_wb(struct vmem_dev *dev, struct bio *bio, s64 pb,
			   int idx)
{
	u64 phys = vmem_bio_phys(dev->pool, bio, pb);

	if (vmem_wb_takes(bio->bi_opf))
		return vmem_wb_write(dev, bio, phys, idx);
	return vmem_wb_wait_hit(dev->pool, bio, phys, idx);
}

void vmem_submit_bio(struct bio *bio)
{
	struct vmem_dev *dev = bio->bi_bdev->bd_disk->private_data;
	struct vmem_pool *pool = dev->pool;
	u64 left;
	int idx;
	s64 pb;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		/*
		 * No bio_split_to_limits(): the backing device splits its
		 * clones to its own limits. Ours are stacked from it, so on a
		 * bio-based disk (brd's 255-sector default) that would cut a
		 * 128 KiB bio into 255 + 1 sectors for nothing. Only bucket
		 * boundaries matter here, and they are split below.
		 */
		break;
	case REQ_OP_WRITE:
		if (unlikely(vmem_commit_ro(&pool->cm))) {
			bio_io_error(bio);
			return;
		}
		if (unlikely(bio->bi_opf & REQ_PREFLUSH) &&
		    vmem_submit_flush(dev, bio))
			return;
		break;
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		bio = bio_split_to_limits(bio);
		if (bio)
			vmem_prov_defer_range(pool, bio);
		return;
	default:
		bio->bi_status = BLK_STS_NOTSUPP;
		bio_endio(bio);
		return;
	}

	/* Cut at the bucket's end; the rest comes back here as a new bio */
	left = vmem_bucket_left(bio->bi_iter.bi_sector, dev->bucket_shift);
	if (unlikely(bio_sectors(bio) > left)) {
		struct bio *split = bio_split(bio, left, GFP_NOIO,
					      &pool->split_bs);

		bio_chain(split, bio);
		submit_bio_noacct(bio);
		bio = split;
	}

	idx = vmem_io_enter(pool);
	pb = vmem_map_lookup(&pool->map, dev->id,
			     bio->bi_iter.bi_sector >> dev->bucket_shift);
	if (likely(pb >= 0)) {
		if (READ_ONCE(pool->wb.active) && vmem_submit_wb(dev, bio, pb, idx))
			return;
		vmem_remap_submit(dev, bio, pb, idx);
		return;
	}
	vmem_io_exit(pool, idx);

	if (bio_data_dir(bio) == READ) {
		zero_fill_bio(bio);
		bio_endio(bio);
		return;
	}
	vmem_prov_defer(pool, bio);
}
