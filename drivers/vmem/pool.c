// SPDX-License-Identifier: GPL-2.0
/*
 * vmem pool: attach and detach, device lifecycle on disk, and the worker
 * that provisions and frees buckets.
 *
 * Ordering rules (the reasons are in include/vmem/format.h):
 *  - provision: reserve a free bucket in memory, zero it on the backing
 *    device unless format left it zeroed, write its map sector with
 *    PREFLUSH|FUA (the flush makes the zeroes durable first), then publish
 *    it to lookups and only then let the write that asked for it go to
 *    the disk. The worker batches this: every write it finds waiting
 *    reserves its bucket (or joins the reservation of its bucket), then
 *    one commit zeroes them all, writes the changed map sectors in
 *    contiguous runs (one flush, one FUA write per run; each sector
 *    still commits its own entries) and publishes them;
 *  - free: remove the bucket from lookups, wait for bios already remapped
 *    to it (vmem_drain()), write its map sector durably, and only then put
 *    it back in the free set;
 *  - a failed metadata write reverts the in-memory change and fails the
 *    bio that needed it with an error; nothing is left half done in
 *    memory.
 *
 * The worker runs on an ordered workqueue, so provisioning is serialized:
 * two bios that need the same bucket share one reservation, or the second
 * finds the bucket provisioned. It holds pool->meta_lock while
 * it changes the map.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "bucket.h"
#include "vmem.h"

/* Buckets freed per drain and metadata pass */
#define VMEM_FREE_BATCH		32

static u64 vmem_phys(struct vmem_pool *pool, u64 pb)
{
	return pool->data_start + pb * pool->bucket_sectors;
}

static void vmem_pool_usage(struct vmem_pool *pool)
{
	u64 used = vmem_map_used(&pool->map);
	unsigned int pct = div64_u64(used * 100, pool->map.geom.nr_buckets);
	unsigned int level = pct >= 100 ? 100 : pct >= 90 ? 90 :
			     pct >= 80 ? 80 : 0;

	if (level == pool->usage_level)
		return;
	if (level > pool->usage_level)
		pr_warn_ratelimited("%pg: pool %u%% full (%llu of %llu buckets)\n",
				    pool->bdev, level, used,
				    pool->map.geom.nr_buckets);
	pool->usage_level = level;
	vmem_pool_uevent(level);
}

/*
 * Free buckets @vbs[0..n) of @dev: unmap them all, drain once, write each
 * changed map sector once, then release (or, where a write failed, map
 * back) each bucket.
 */
static int vmem_free_batch(struct vmem_pool *pool, struct vmem_dev *dev,
			   u32 id, const u64 *vbs, unsigned int n)
{
	u64 vb[VMEM_FREE_BATCH], pb[VMEM_FREE_BATCH], sec[VMEM_FREE_BATCH];
	int err[VMEM_FREE_BATCH];
	unsigned int i, j, k = 0;
	int ret = 0;

	lockdep_assert_held(&pool->meta_lock);
	for (i = 0; i < n; i++) {
		s64 sector = vmem_map_unmap(&pool->map, id, vbs[i], &pb[k]);

		if (sector < 0)
			continue;
		vb[k] = vbs[i];
		sec[k] = sector;
		err[k] = 1;	/* not written yet */
		k++;
	}
	if (!k)
		return 0;
	if (dev)
		vmem_drain(pool);
	for (i = 0; i < k; i++) {
		if (err[i] != 1)
			continue;
		err[i] = vmem_meta_write_sector(pool, sec[i]);
		for (j = i + 1; j < k; j++)
			if (sec[j] == sec[i])
				err[j] = err[i];
	}
	for (i = 0; i < k; i++) {
		if (err[i]) {
			vmem_map_remap(&pool->map, id, vb[i], pb[i]);
			ret = err[i];
		} else {
			vmem_map_release(&pool->map, id, pb[i]);
		}
	}
	vmem_pool_usage(pool);
	return ret;
}

/* Free every bucket device @id holds; it has no disk any more */
static int vmem_free_all(struct vmem_pool *pool, u32 id)
{
	struct xarray *xa = &pool->map.dev[id].xa;
	u64 vbs[VMEM_FREE_BATCH];
	unsigned long index;
	unsigned int n;
	void *entry;
	int ret;

	lockdep_assert_held(&pool->meta_lock);
	do {
		n = 0;
		xa_for_each(xa, index, entry) {
			vbs[n++] = index;
			if (n == VMEM_FREE_BATCH)
				break;
		}
		ret = vmem_free_batch(pool, NULL, id, vbs, n);
	} while (n && !ret);
	return ret;
}

static void vmem_bio_fail(struct bio *bio, int err)
{
	bio->bi_status = errno_to_blk_status(err);
	bio_endio(bio);
}

/* Refuse a bio that needs a bucket and cannot have one */
static void vmem_prov_refuse(struct vmem_pool *pool, struct vmem_dev *dev,
			     struct bio *bio, s64 err)
{
	if (err == -ENOSPC)
		pr_warn_ratelimited("vmem%u: pool full (%llu buckets): write failed with ENOSPC\n",
				    dev->id, pool->map.geom.nr_buckets);
	if (err == -EDQUOT) {
		pr_warn_ratelimited("vmem%u: at its budget of %u buckets: write failed with ENOSPC\n",
				    dev->id, pool->map.dev[dev->id].budget);
		err = -ENOSPC;
	}
	vmem_bio_fail(bio, err);
}

/*
 * Commit every reservation of the batch: zero the buckets that need it
 * and wait, write the changed map sectors (PREFLUSH|FUA: the zeroes are
 * durable first; FUA alone when every bucket came zeroed from format),
 * then publish. Bios of committed buckets move to @go,
 * to be sent once the lock is dropped; a failure fails only the bios of
 * the buckets it hit and gives those buckets back.
 */
static void vmem_prov_commit(struct vmem_pool *pool, struct bio_list *go)
{
	struct vmem_prov_batch *b = &pool->batch;
	struct bio *zbio = NULL, *bio;
	bool zeroing = false;
	int zret = 0, ret;
	unsigned int i, j;

	lockdep_assert_held(&pool->meta_lock);
	if (!b->n)
		return;
	for (i = 0; i < b->n && !zret; i++) {
		b->p[i].err = 0;
		if (b->p[i].zeroed)
			continue;
		zeroing = true;
		zret = __blkdev_issue_zeroout(pool->bdev,
					      vmem_phys(pool, b->p[i].pb),
					      pool->bucket_sectors, GFP_NOIO,
					      &zbio, 0);
	}
	if (zbio) {
		ret = submit_bio_wait(zbio);
		bio_put(zbio);
		zret = zret ?: ret;
	}
	if (zret)
		pr_err_ratelimited("%pg: zeroing new buckets failed: %d\n",
				   pool->bdev, zret);

	/* Entries are in allocation order, so their sectors mostly ascend */
	for (i = 0; i < b->n; i = j) {
		u64 first = b->p[i].sector, last = first;

		for (j = i + 1; j < b->n && b->p[j].sector >= last &&
		     b->p[j].sector <= last + 1; j++)
			last = b->p[j].sector;
		ret = zret ?: vmem_meta_write(pool, first, last - first + 1,
					      zeroing);
		while (i < j)
			b->p[i++].err = ret;
	}

	for (i = 0; i < b->n; i++) {
		struct vmem_prov *p = &b->p[i];

		if (p->err) {
			vmem_map_unreserve(&pool->map, p->dev->id, p->vb,
					   p->pb, p->zeroed);
			while ((bio = bio_list_pop(&p->bios)))
				vmem_bio_fail(bio, p->err);
			continue;
		}
		vmem_map_publish(&pool->map, p->dev->id, p->vb, p->pb);
		bio_list_merge(go, &p->bios);
		atomic64_inc(&pool->provisioned);
	}
	atomic64_inc(&pool->commits);
	b->n = 0;
	vmem_pool_usage(pool);
}

/*
 * A write to a bucket that was unprovisioned when it was submitted: send
 * it if the bucket exists by now, ride on a reservation already in the
 * batch for the same bucket, or reserve one.
 */
static void vmem_prov_add(struct vmem_pool *pool, struct bio *bio,
			  struct bio_list *go)
{
	struct vmem_dev *dev = bio->bi_bdev->bd_disk->private_data;
	struct vmem_prov_batch *b = &pool->batch;
	u64 vb = bio->bi_iter.bi_sector >> dev->bucket_shift;
	struct vmem_prov *p;
	unsigned int i;
	s64 sector;

	lockdep_assert_held(&pool->meta_lock);
	if (vmem_map_lookup(&pool->map, dev->id, vb) >= 0) {
		bio_list_add(go, bio);
		return;
	}
	for (i = 0; i < b->n; i++) {
		if (b->p[i].dev == dev && b->p[i].vb == vb) {
			bio_list_add(&b->p[i].bios, bio);
			return;
		}
	}
	if (b->n == VMEM_PROV_BATCH)
		vmem_prov_commit(pool, go);
	p = &b->p[b->n];
	sector = vmem_map_reserve(&pool->map, dev->id, vb, &p->pb, &p->zeroed);
	if (sector < 0) {
		vmem_prov_refuse(pool, dev, bio, sector);
		return;
	}
	p->dev = dev;
	p->vb = vb;
	p->sector = sector;
	bio_list_init(&p->bios);
	bio_list_add(&p->bios, bio);
	b->n++;
}

/*
 * Commit the batch and send every write that now has its bucket. Only
 * this worker frees buckets, so a bucket published here is still there
 * when its bios are sent.
 */
static void vmem_prov_flush(struct vmem_pool *pool, struct bio_list *go)
{
	struct bio *bio;

	mutex_lock(&pool->meta_lock);
	vmem_prov_commit(pool, go);
	mutex_unlock(&pool->meta_lock);
	while ((bio = bio_list_pop(go))) {
		struct vmem_dev *dev = bio->bi_bdev->bd_disk->private_data;
		int idx = vmem_io_enter(pool);
		s64 pb = vmem_map_lookup(&pool->map, dev->id,
					 bio->bi_iter.bi_sector >>
					 dev->bucket_shift);

		if (WARN_ON_ONCE(pb < 0)) {
			vmem_io_exit(pool, idx);
			bio_io_error(bio);
			continue;
		}
		vmem_remap_submit(dev, bio, pb, idx);
	}
}

/*
 * Discard and write-zeroes, bucket by bucket. A discard of a whole bucket
 * frees it (it reads as zeros again); a partial discard passes down when
 * the backing device supports discard. Write-zeroes zeroes provisioned
 * ranges in place; unprovisioned ranges already read as zeros.
 */
static void vmem_handle_range(struct vmem_dev *dev, struct bio *bio)
{
	struct vmem_pool *pool = dev->pool;
	bool discard = bio_op(bio) == REQ_OP_DISCARD;
	struct vmem_bucket_iter it = {
		.sector = bio->bi_iter.bi_sector,
		.end = bio_end_sector(bio),
		.shift = dev->bucket_shift,
	};
	u64 vbs[VMEM_FREE_BATCH];
	u64 vb, off, len;
	unsigned int n = 0;
	int ret = 0;

	mutex_lock(&pool->meta_lock);
	while (!ret && vmem_bucket_next(&it, &vb, &off, &len)) {
		s64 pb = vmem_map_lookup(&pool->map, dev->id, vb);

		if (pb < 0)
			continue;
		if (discard && len == pool->bucket_sectors) {
			vbs[n++] = vb;
			if (n == VMEM_FREE_BATCH) {
				ret = vmem_free_batch(pool, dev, dev->id, vbs, n);
				n = 0;
			}
		} else if (!discard) {
			ret = blkdev_issue_zeroout(pool->bdev,
						   vmem_phys(pool, pb) + off, len,
						   GFP_NOIO,
						   (bio->bi_opf & REQ_NOUNMAP) ?
						   BLKDEV_ZERO_NOUNMAP : 0);
		} else if (bdev_max_discard_sectors(pool->bdev)) {
			ret = blkdev_issue_discard(pool->bdev,
						   vmem_phys(pool, pb) + off, len,
						   GFP_NOIO);
			if (ret == -EOPNOTSUPP)
				ret = 0;
		}
	}
	if (n && !ret)
		ret = vmem_free_batch(pool, dev, dev->id, vbs, n);
	mutex_unlock(&pool->meta_lock);
	if (ret)
		vmem_bio_fail(bio, ret);
	else
		bio_endio(bio);
}

static void vmem_pool_work(struct work_struct *work)
{
	struct vmem_pool *pool = container_of(work, struct vmem_pool, work);
	struct bio_list bios, go;
	struct bio *bio;

	spin_lock_irq(&pool->defer_lock);
	bios = pool->deferred;
	bio_list_init(&pool->deferred);
	spin_unlock_irq(&pool->defer_lock);

	bio_list_init(&go);
	while ((bio = bio_list_pop(&bios))) {
		if (bio_op(bio) == REQ_OP_WRITE) {
			mutex_lock(&pool->meta_lock);
			vmem_prov_add(pool, bio, &go);
			mutex_unlock(&pool->meta_lock);
			continue;
		}
		/* Writes queued before a discard reach the disk before it */
		vmem_prov_flush(pool, &go);
		vmem_handle_range(bio->bi_bdev->bd_disk->private_data, bio);
	}
	vmem_prov_flush(pool, &go);
}

/**
 * vmem_pool_defer() - hand a bio to the pool's worker
 * @pool: the pool
 * @bio: a write to an unprovisioned bucket, a discard or a write-zeroes
 */
void vmem_pool_defer(struct vmem_pool *pool, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&pool->defer_lock, flags);
	bio_list_add(&pool->deferred, bio);
	spin_unlock_irqrestore(&pool->defer_lock, flags);
	queue_work(pool->wq, &pool->work);
}

/* Write one changed sector; on failure put the record back in memory */
static int vmem_pool_set_dev(struct vmem_pool *pool, u32 id, u64 capacity,
			     u32 budget, u32 flags)
{
	struct vmem_dev_rec old;
	int ret;

	mutex_lock(&pool->meta_lock);
	ret = vmem_meta_write_sector(pool, vmem_map_set_dev(&pool->map, id,
							    capacity, budget,
							    flags, &old));
	if (ret)
		vmem_map_restore_dev(&pool->map, id, &old);
	mutex_unlock(&pool->meta_lock);
	return ret;
}

/*
 * Finish deleting device @id, whose record is already marked
 * VMEM_DEV_DELETING on disk: free its buckets, then clear the record
 */
static int vmem_pool_erase_dev(struct vmem_pool *pool, u32 id)
{
	int ret;

	if (WARN_ON_ONCE(!(pool->map.dev[id].flags & VMEM_DEV_DELETING)))
		return -EINVAL;
	mutex_lock(&pool->meta_lock);
	ret = vmem_free_all(pool, id);
	mutex_unlock(&pool->meta_lock);
	if (ret)
		return ret;
	return vmem_pool_set_dev(pool, id, 0, 0, 0);
}

int vmem_pool_create_dev(struct vmem_pool *pool, u32 id, u64 capacity_pages,
			 u32 budget)
{
	struct vmem_dev *dev;
	int ret;

	lockdep_assert_held(&vmem_ctl_mutex);
	if (pool->devs[id] || pool->map.dev[id].flags)
		return -EEXIST;
	ret = vmem_pool_set_dev(pool, id, capacity_pages, budget,
				VMEM_DEV_EXISTS);
	if (ret)
		return ret;
	dev = vmem_dev_add(pool, id);
	if (IS_ERR(dev)) {
		if (vmem_pool_set_dev(pool, id, 0, 0, 0))
			pr_err("vmem%u: could not undo a failed create; the empty device comes back at the next attach\n",
			       id);
		return PTR_ERR(dev);
	}
	pool->devs[id] = dev;
	pool->nr_devices++;
	return 0;
}

int vmem_pool_delete_dev(struct vmem_pool *pool, u32 id)
{
	struct vmem_dev *dev = pool->devs[id];
	struct vmem_map_dev *d = &pool->map.dev[id];
	int ret;

	lockdep_assert_held(&vmem_ctl_mutex);
	if (!dev) {
		/* A deletion an I/O error interrupted: finish it now */
		if (!(d->flags & VMEM_DEV_DELETING))
			return -ENOENT;
		return vmem_pool_erase_dev(pool, id);
	}
	ret = vmem_dev_claim(dev);
	if (ret)
		return ret;
	/* Mark it on disk first: if that fails, nothing has changed */
	ret = vmem_pool_set_dev(pool, id, d->capacity_pages, d->budget,
				d->flags | VMEM_DEV_DELETING);
	if (ret) {
		vmem_dev_unclaim(dev);
		return ret;
	}
	pool->devs[id] = NULL;
	pool->nr_devices--;
	vmem_dev_remove(dev);
	ret = vmem_pool_erase_dev(pool, id);
	if (ret)
		pr_err("vmem%u: deletion interrupted by an I/O error (%d); deleting it again or the next attach finishes it\n",
		       id, ret);
	return ret;
}

int vmem_pool_resize_dev(struct vmem_pool *pool, u32 id, u64 capacity_pages)
{
	struct vmem_dev *dev = pool->devs[id];
	struct vmem_map_dev *d = &pool->map.dev[id];
	int ret;

	lockdep_assert_held(&vmem_ctl_mutex);
	if (!dev)
		return -ENOENT;
	if (capacity_pages < d->capacity_pages)
		return -EINVAL;
	ret = vmem_pool_set_dev(pool, id, capacity_pages, d->budget, d->flags);
	if (!ret)
		vmem_dev_set_capacity(dev);
	return ret;
}

int vmem_pool_budget_dev(struct vmem_pool *pool, u32 id, u32 budget)
{
	struct vmem_map_dev *d = &pool->map.dev[id];

	lockdep_assert_held(&vmem_ctl_mutex);
	if (!pool->devs[id])
		return -ENOENT;
	return vmem_pool_set_dev(pool, id, d->capacity_pages, budget, d->flags);
}

static void vmem_report(void *ctx, enum vmem_fault f, const char *what,
			u64 index)
{
	struct vmem_pool *pool = ctx;

	if (f == VMEM_F_DELETING)
		return;
	pr_err_ratelimited("%pg: %s %llu: %s\n", pool->bdev, what, index,
			   vmem_fault_str(f));
}

static int vmem_fault_errno(enum vmem_fault f)
{
	switch (f) {
	case VMEM_F_VERSION:
	case VMEM_F_INCOMPAT:
	case VMEM_F_RO_COMPAT:
		return -EOPNOTSUPP;
	case VMEM_F_TOO_SMALL:
		return -ENOSPC;
	default:
		return -EUCLEAN;
	}
}

/* Read and check the metadata; on success pool->map is loaded */
static int vmem_pool_load(struct vmem_pool *pool, const char *path)
{
	u64 dev_bytes = bdev_nr_bytes(pool->bdev);
	size_t meta_bytes;
	enum vmem_fault f;
	u8 *page0, *meta;
	int ret;

	if (dev_bytes < VMEM_PAGE_SIZE) {
		pr_err("%s: too small to hold a vmem pool (%llu bytes)\n", path,
		       dev_bytes);
		return -EINVAL;
	}
	page0 = vmalloc(VMEM_PAGE_SIZE);
	if (!page0)
		return -ENOMEM;
	ret = vmem_meta_read(pool->bdev, page0, VMEM_PAGE_SIZE);
	if (ret) {
		pr_err("%s: cannot read page 0: %d\n", path, ret);
		goto out_free_page0;
	}
	switch (vmem_page0_classify(page0, VMEM_PAGE_SIZE)) {
	case VMEM_PAGE0_EMPTY:
		pr_err("%s: not a vmem pool: page 0 is all zeros (run vmemctl format)\n",
		       path);
		ret = -EINVAL;
		goto out_free_page0;
	case VMEM_PAGE0_FOREIGN:
		pr_err("%s: not a vmem pool: page 0 holds other data; refusing it\n",
		       path);
		ret = -EINVAL;
		goto out_free_page0;
	case VMEM_PAGE0_VMEM:
		break;
	}
	f = vmem_sb_validate((void *)page0, dev_bytes, true);
	if (f) {
		pr_err("%s: refusing pool: superblock: %s\n", path,
		       vmem_fault_str(f));
		ret = vmem_fault_errno(f);
		goto out_free_page0;
	}
	meta_bytes = vmem_map_meta_bytes((void *)page0);
	meta = vzalloc(meta_bytes);
	if (!meta) {
		ret = -ENOMEM;
		goto out_free_page0;
	}
	ret = vmem_meta_read(pool->bdev, meta, meta_bytes);
	if (ret) {
		pr_err("%s: cannot read metadata: %d\n", path, ret);
		vfree(meta);
		goto out_free_page0;
	}
	/* The map owns meta from here on, also on failure */
	ret = vmem_map_load(&pool->map, meta, meta_bytes, dev_bytes,
			    vmem_report, pool);
	if (ret == -EUCLEAN)
		pr_err("%s: refusing damaged pool (run vmemctl check)\n", path);
	else if (ret)
		pr_err("%s: cannot load the bucket map: %d\n", path, ret);
out_free_page0:
	vfree(page0);
	return ret;
}

static void vmem_pool_free(struct vmem_pool *pool)
{
	vmem_wb_exit(pool);
	if (pool->wq)
		destroy_workqueue(pool->wq);
	if (bioset_initialized(&pool->bs))
		bioset_exit(&pool->bs);
	vmem_map_destroy(&pool->map);
	if (pool->bdev)
		blkdev_put(pool->bdev, FMODE_READ | FMODE_WRITE | FMODE_EXCL);
	/* Every device was removed, so every read side has ended */
	cleanup_srcu_struct(&pool->srcu);
	kvfree(pool);
}

/* Remove every device's disk; all must have been claimed */
static void vmem_pool_remove_devs(struct vmem_pool *pool)
{
	u32 id;

	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!pool->devs[id])
			continue;
		vmem_dev_remove(pool->devs[id]);
		pool->devs[id] = NULL;
	}
	pool->nr_devices = 0;
}

/**
 * vmem_pool_attach() - open, check and bring up a pool
 * @path: the backing block device
 * @out: the attached pool
 *
 * Writes nothing unless every check passed. Caller holds vmem_ctl_mutex.
 */
int vmem_pool_attach(const char *path, struct vmem_pool **out)
{
	struct vmem_pool *pool;
	struct vmem_sb *sb;
	struct vmem_dev *dev;
	u32 id;
	int ret;

	lockdep_assert_held(&vmem_ctl_mutex);
	pool = kvzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return -ENOMEM;
	mutex_init(&pool->meta_lock);
	spin_lock_init(&pool->defer_lock);
	bio_list_init(&pool->deferred);
	INIT_WORK(&pool->work, vmem_pool_work);
	ret = init_srcu_struct(&pool->srcu);
	if (ret) {
		kvfree(pool);
		return ret;
	}

	pool->bdev = blkdev_get_by_path(path, FMODE_READ | FMODE_WRITE |
					FMODE_EXCL, pool);
	if (IS_ERR(pool->bdev)) {
		ret = PTR_ERR(pool->bdev);
		pr_err("cannot open backing device %s: %d\n", path, ret);
		pool->bdev = NULL;
		goto out_free;
	}
	if (bdev_is_zoned(pool->bdev)) {
		pr_err("%s: zoned block devices are not supported (buckets are written in place)\n",
		       path);
		ret = -EOPNOTSUPP;
		goto out_free;
	}
	if (bdev_logical_block_size(pool->bdev) > VMEM_LBS) {
		pr_err("%s: logical block size %u above %u is not supported\n",
		       path, bdev_logical_block_size(pool->bdev), VMEM_LBS);
		ret = -EINVAL;
		goto out_free;
	}
	ret = vmem_pool_load(pool, path);
	if (ret)
		goto out_free;

	pool->bucket_sectors = (u64)pool->map.geom.bucket_pages *
			       VMEM_SECTORS_PER_PAGE;
	pool->data_start = pool->map.geom.data_start * VMEM_SECTORS_PER_PAGE;
	ret = bioset_init(&pool->bs, BIO_POOL_SIZE,
			  offsetof(struct vmem_io, clone), 0);
	if (ret)
		goto out_free;
	pool->wq = alloc_ordered_workqueue("vmem_pool", WQ_MEM_RECLAIM);
	if (!pool->wq) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = vmem_wb_init(pool, vmem_wb_default, vmem_wb_delay_default);
	if (ret)
		goto out_free;

	/* All checks passed: from here on the pool may be written */
	mutex_lock(&pool->meta_lock);
	sb = (struct vmem_sb *)pool->map.meta;
	le64_add_cpu(&sb->generation, 1);
	vmem_sb_seal(sb);
	ret = vmem_meta_write_sector(pool, 0);
	mutex_unlock(&pool->meta_lock);
	if (ret)
		goto out_free;

	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!(pool->map.dev[id].flags & VMEM_DEV_DELETING))
			continue;
		pr_info("%s: finishing the interrupted deletion of vmem%u\n",
			path, id);
		ret = vmem_pool_erase_dev(pool, id);
		if (ret)
			goto out_free;
	}
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!(pool->map.dev[id].flags & VMEM_DEV_EXISTS))
			continue;
		dev = vmem_dev_add(pool, id);
		if (IS_ERR(dev)) {
			ret = PTR_ERR(dev);
			goto out_remove_devs;
		}
		pool->devs[id] = dev;
		pool->nr_devices++;
	}
	pool->usage_level = 0;
	vmem_pool_usage(pool);
	pr_info("%s: attached: %llu buckets of %llu KiB, %llu used, %u devices, generation %llu\n",
		path, pool->map.geom.nr_buckets,
		vmem_dev_bucket_bytes(pool) >> 10, vmem_map_used(&pool->map),
		pool->nr_devices, le64_to_cpu(sb->generation));
	*out = pool;
	return 0;

out_remove_devs:
	vmem_pool_remove_devs(pool);
out_free:
	vmem_pool_free(pool);
	return ret;
}

/**
 * vmem_pool_detach() - bring down every device and close the pool
 * @pool: the pool
 *
 * Return: 0, or -EBUSY (and nothing changed) while any device is open.
 * Caller holds vmem_ctl_mutex.
 */
int vmem_pool_detach(struct vmem_pool *pool)
{
	u32 id, undo;
	int ret;

	lockdep_assert_held(&vmem_ctl_mutex);
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!pool->devs[id])
			continue;
		ret = vmem_dev_claim(pool->devs[id]);
		if (ret) {
			pr_err("%pg: cannot detach: vmem%u is open\n",
			       pool->bdev, id);
			for (undo = 0; undo < id; undo++)
				if (pool->devs[undo])
					WRITE_ONCE(pool->devs[undo]->dead, false);
			return ret;
		}
	}
	vmem_pool_remove_devs(pool);
	pr_info("%pg: detached\n", pool->bdev);
	vmem_pool_free(pool);
	return 0;
}
