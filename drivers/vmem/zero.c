// SPDX-License-Identifier: GPL-2.0
/*
 * vmem zeroing: making buckets read as zeros, in the foreground (the
 * worker zeroes what the first writes into a dirty bucket did not write)
 * and in the background (buckets freed since attach, so that a first
 * write into a reused bucket costs what one into a format-zeroed bucket
 * does).
 *
 * Zeroing uses the backing device's write-zeroes where it has one, and
 * writes of zero pages otherwise. Some devices advertise write-zeroes and
 * then fail it: a batch that fails is zeroed again extent by extent with
 * vmem_zeroout(), which writes zero pages when write-zeroes fails (as
 * blkdev_issue_zeroout() did by itself before 6.10; since, it does only
 * when the device stopped advertising write-zeroes).
 *
 * The background zeroer takes buckets "to zero" (freed since attach),
 * zeroes them, flushes the backing device, and puts them in the armed
 * set: durably zero and not marked on disk, so a crash only makes them
 * dirty again. It runs on the pool's unbound workqueue, a batch at a
 * time, and stops when the pool is detached or read-only. Buckets that
 * were dirty at attach (a pool formatted without zeroing, or a crash)
 * are left to the foreground: zeroing a whole large pool behind the
 * user's back would cost more than it saves.
 *
 * It yields to sequential writers: one that provisions a device's next
 * bucket after the one it provisioned last, at its first sector
 * (prov.c, @streams). Once the armed buckets are gone such a writer
 * takes dirty ones, and its first writes fill them with no zeroing when
 * its queue spans a bucket, so a bucket zeroed ahead of it may be
 * written twice, and on a disk whose bandwidth is the limit the zeroing
 * takes it from the writer. So a batch starts at one bucket and doubles
 * up to VMEM_ZERO_BATCH, and whenever a sequential writer provisioned a
 * bucket since the zeroer last looked, it waits VMEM_ZERO_PAUSE_MS and
 * starts again from one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/sched.h>
#include "bucket.h"
#include "vmem.h"

#define VMEM_ZERO_BATCH		8
#define VMEM_ZERO_PAUSE_MS	100
static_assert(VMEM_ZERO_BATCH <= VMEM_PROV_BATCH);

/* Write zero pages over @len sectors at @start, and wait */
static int vmem_zero_pages(struct vmem_pool *pool, sector_t start,
			   sector_t len)
{
	struct bio *bio = NULL;
	unsigned int bytes;
	int ret;

	while (len) {
		bio = blk_next_bio(bio, pool->bdev,
				   min_t(sector_t, BIO_MAX_VECS,
					 DIV_ROUND_UP(len, PAGE_SECTORS)),
				   REQ_OP_WRITE, GFP_NOIO);
		bio->bi_iter.bi_sector = start;
		while (len) {
			bytes = min_t(sector_t, len, PAGE_SECTORS) <<
				SECTOR_SHIFT;
			if (bio_add_page(bio, ZERO_PAGE(0), bytes, 0) != bytes)
				break;
			start += bytes >> SECTOR_SHIFT;
			len -= bytes >> SECTOR_SHIFT;
		}
		cond_resched();
	}
	if (!bio)
		return 0;
	ret = submit_bio_wait(bio);
	bio_put(bio);
	return ret;
}

/**
 * vmem_zeroout() - zero a range of the backing device and wait
 * @pool: the pool
 * @start: its first sector
 * @len: its length, in sectors
 * @flags: BLKDEV_ZERO_NOUNMAP or 0
 *
 * Write-zeroes where the device advertises it, else, or when it fails,
 * zero pages, written here: from 6.10 on blkdev_issue_zeroout() falls
 * back to them only when the device stopped advertising write-zeroes on
 * the error, and before it would write them a second time after a
 * failure of its own fallback. Return: 0 or an errno.
 */
int vmem_zeroout(struct vmem_pool *pool, sector_t start, sector_t len,
		 unsigned int flags)
{
	int ret;

	if (bdev_write_zeroes_sectors(pool->bdev)) {
		ret = blkdev_issue_zeroout(pool->bdev, start, len, GFP_NOIO,
					   flags | BLKDEV_ZERO_NOFALLBACK);
		if (!ret || ret == -EINVAL)
			return ret;
		pr_warn_ratelimited("%pg: write-zeroes of sectors %llu-%llu failed (%d); writing zero pages\n",
				    pool->bdev, (u64)start,
				    (u64)(start + len - 1), ret);
	}
	return vmem_zero_pages(pool, start, len);
}

/**
 * vmem_zero_extents() - zero extents of the backing device and wait
 * @pool: the pool
 * @e: the extents, in backing-device sectors (nobody else writes them)
 * @n: how many
 *
 * One chain of bios for all, waited for once; if that fails, they are
 * zeroed again one at a time with vmem_zeroout(), which writes zero
 * pages where the device has no working write-zeroes. The zeroes
 * are written, not yet durable. Return: 0 or an errno.
 */
int vmem_zero_extents(struct vmem_pool *pool, const struct vmem_extent *e,
		      unsigned int n)
{
	struct bio *bio = NULL;
	unsigned int i;
	int ret = 0, wret;

	for (i = 0; i < n && !ret; i++)
		ret = __blkdev_issue_zeroout(pool->bdev, e[i].start, e[i].len,
					     GFP_NOIO, &bio, 0);
	if (bio) {
		wret = submit_bio_wait(bio);
		bio_put(bio);
		ret = ret ?: wret;
	}
	if (!ret)
		return 0;
	pr_warn_ratelimited("%pg: zeroing %u extent(s) failed (%d); zeroing them one at a time\n",
			    pool->bdev, n, ret);
	for (i = 0; i < n; i++) {
		ret = vmem_zeroout(pool, e[i].start, e[i].len, 0);
		if (ret) {
			pr_err_ratelimited("%pg: cannot zero sectors %llu-%llu: %d\n",
					   pool->bdev, e[i].start,
					   e[i].start + e[i].len - 1, ret);
			return ret;
		}
	}
	return 0;
}

/**
 * vmem_zero_buckets() - zero whole buckets and wait
 * @pool: the pool
 * @pbs: the buckets (busy: nobody else writes them)
 * @n: how many, at most VMEM_PROV_BATCH
 *
 * As vmem_zero_extents(). Return: 0 or an errno.
 */
int vmem_zero_buckets(struct vmem_pool *pool, const u64 *pbs,
		      unsigned int n)
{
	struct vmem_extent e[VMEM_PROV_BATCH];
	unsigned int i;

	if (WARN_ON_ONCE(n > VMEM_PROV_BATCH))
		return -EINVAL;
	for (i = 0; i < n; i++)
		e[i] = (struct vmem_extent){ vmem_bucket_phys(pool, pbs[i]),
					     pool->bucket_sectors };
	return vmem_zero_extents(pool, e, n);
}

/*
 * Did a sequential writer provision a bucket since the zeroer last
 * looked? Then wait, and start again from one bucket.
 */
static bool vmem_zero_yield(struct vmem_pool *pool)
{
	s64 seen = atomic64_read(&pool->streams);

	if (seen == pool->zero_seen)
		return false;
	pool->zero_seen = seen;
	pool->zero_batch = 1;
	/* mod_: a kick that came meanwhile must not cut the pause short */
	mod_delayed_work(pool->bg_wq, &pool->zero_work,
			 msecs_to_jiffies(VMEM_ZERO_PAUSE_MS));
	return true;
}

static void vmem_zero_work(struct work_struct *work)
{
	struct vmem_pool *pool = container_of(to_delayed_work(work),
					      struct vmem_pool, zero_work);
	struct vmem_map *m = &pool->map;
	u64 pbs[VMEM_ZERO_BATCH];
	unsigned int n, i;
	int ret;
	s64 pb;

	while (!READ_ONCE(pool->stopping) && !vmem_commit_ro(&pool->cm) &&
	       !vmem_zero_yield(pool)) {
		n = 0;
		mutex_lock(&pool->meta_lock);
		while (n < pool->zero_batch &&
		       (pb = vmem_map_take(m, VMEM_TOZERO)) >= 0)
			pbs[n++] = pb;
		pool->zeroing += n;
		mutex_unlock(&pool->meta_lock);
		if (!n) {
			pool->zero_batch = 1;
			break;
		}

		ret = vmem_zero_buckets(pool, pbs, n);
		if (!ret)
			ret = vmem_meta_flush(pool);

		mutex_lock(&pool->meta_lock);
		for (i = 0; i < n; i++)
			vmem_map_put(m, pbs[i], ret ? VMEM_DIRTY : VMEM_ARMED);
		pool->zeroing -= n;
		mutex_unlock(&pool->meta_lock);
		vmem_prov_unpark(pool);
		if (ret)
			break;
		pool->zero_batch = min(pool->zero_batch * 2, VMEM_ZERO_BATCH);
		cond_resched();
	}
}

/**
 * vmem_zero_kick() - let the background zeroer run
 * @pool: the pool
 */
void vmem_zero_kick(struct vmem_pool *pool)
{
	if (!READ_ONCE(pool->stopping))
		queue_delayed_work(pool->bg_wq, &pool->zero_work, 0);
}

void vmem_zero_init(struct vmem_pool *pool)
{
	INIT_DELAYED_WORK(&pool->zero_work, vmem_zero_work);
	pool->zero_batch = 1;
}
