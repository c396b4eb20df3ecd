// SPDX-License-Identifier: GPL-2.0
/*
 * vmem pool: the attached pool (one at most: vmem_pool, under
 * vmem_ctl_mutex), attach and detach, the device lifecycle on disk
 * (create, resize, budget, delete) and the pool-usage events.
 *
 * A device-table change is one sector written with FUA under the commit
 * lock, from the image, which holds only committed state (map.h); a
 * failed write turns the pool read-only (commit.c) and the call fails.
 * Deleting a device marks its record VMEM_DEV_DELETING, removes its
 * disk, frees its buckets through commits (prov.c), then clears the
 * record; a crash in between leaves a deletion that attach finishes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "compat.h"
#include "vmem.h"

/* Serializes every control operation and guards vmem_pool */
DEFINE_MUTEX(vmem_ctl_mutex);
/* The attached pool, or NULL; under vmem_ctl_mutex */
struct vmem_pool *vmem_pool;

static unsigned int vmem_usage_level(struct vmem_pool *pool)
{
	u64 used = READ_ONCE(pool->map.nr_owned);
	unsigned int pct = div64_u64(used * 100, pool->map.geom.nr_buckets);

	return pct >= 100 ? 100 : pct >= 90 ? 90 : pct >= 80 ? 80 : 0;
}

/* Tell udev (and the log) that usage crossed 80, 90 or 100 percent */
static void vmem_pool_usage_work(struct work_struct *work)
{
	struct vmem_pool *pool = container_of(work, struct vmem_pool,
					      usage_work);
	unsigned int level = vmem_usage_level(pool);
	char env[32];
	char *envp[2] = { env, NULL };

	if (level == pool->usage_level)
		return;
	if (level > pool->usage_level)
		pr_warn("%pg: pool %u%% full (%llu of %llu buckets)\n",
			pool->bdev, level, READ_ONCE(pool->map.nr_owned),
			pool->map.geom.nr_buckets);
	else
		pr_info("%pg: pool below %u%% full again (%llu of %llu buckets)\n",
			pool->bdev, level ? level + 10 : 80,
			READ_ONCE(pool->map.nr_owned),
			READ_ONCE(pool->map.geom.nr_buckets));
	pool->usage_level = level;
	snprintf(env, sizeof(env), "VMEM_POOL_USAGE=%u", level);
	kobject_uevent_env(&pool->ctl_dev->kobj, KOBJ_CHANGE, envp);
}

/**
 * vmem_pool_usage() - report a usage threshold crossed, if one was
 * @pool: the pool
 *
 * Any context but interrupts: the uevent is sent from a work item, never
 * from the I/O path, which must not allocate with GFP_KERNEL.
 */
void vmem_pool_usage(struct vmem_pool *pool)
{
	if (vmem_usage_level(pool) != READ_ONCE(pool->usage_level))
		schedule_work(&pool->usage_work);
}

/* Refuse a change to device @id: the pool is read-only */
static int vmem_pool_refuse_ro(struct vmem_pool *pool, u32 id)
{
	pr_err_ratelimited("%pg: pool is read-only: vmem%u not changed\n",
			   pool->bdev, id);
	return -EROFS;
}

/*
 * Change device @id's record and write it at once. Refused on a
 * read-only pool, which changes nothing.
 */
static int vmem_pool_set_dev(struct vmem_pool *pool, u32 id, u64 capacity,
			     u32 budget, u32 flags)
{
	u64 sector;
	int ret;

	mutex_lock(&pool->cm.mutex);
	if (vmem_commit_ro(&pool->cm)) {
		ret = -EROFS;
		goto out_unlock;
	}
	mutex_lock(&pool->meta_lock);
	sector = vmem_map_set_dev(&pool->map, id, capacity, budget, flags);
	mutex_unlock(&pool->meta_lock);
	ret = vmem_commit_write_sector(pool, sector);
out_unlock:
	mutex_unlock(&pool->cm.mutex);
	if (ret == -EROFS)
		vmem_pool_refuse_ro(pool, id);
	return ret;
}

/*
 * End everything the pool's workers and the commit hold for @dev, which
 * lost its disk (for every device, all of which did, when @dev is NULL),
 * and wait for every bio remapped before
 */
static void vmem_pool_quiesce(struct vmem_pool *pool, struct vmem_dev *dev)
{
	vmem_wb_sync(pool);
	vmem_commit_sync(pool);
	vmem_prov_quiesce(pool, dev);
	flush_work(&pool->range_work);
	vmem_drain(pool);
}

/* Remove a claimed device's disk, wait for its I/O, and free it */
static void vmem_pool_remove_dev(struct vmem_pool *pool, struct vmem_dev *dev)
{
	vmem_dev_unplug(dev);
	vmem_pool_quiesce(pool, dev);
	vmem_prov_forget_dev(pool, dev);
	vmem_dev_free(dev);
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
	ret = vmem_prov_free_dev(pool, id);
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
	/*
	 * Read-only first: a create whose write failed left its record in
	 * memory (the disk may hold it), which is no device to name
	 */
	if (vmem_commit_ro(&pool->cm))
		return vmem_pool_refuse_ro(pool, id);
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
		if (vmem_commit_ro(&pool->cm))
			return vmem_pool_refuse_ro(pool, id);
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
	vmem_pool_remove_dev(pool, dev);
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

/*
 * Read and check the metadata (both copies in layout version 2: the
 * damaged or older ones are rewritten at the first write, see meta_io.c);
 * on success pool->map is loaded
 */
static int vmem_pool_load(struct vmem_pool *pool, const char *path)
{
	u64 dev_bytes = bdev_nr_bytes(pool->bdev);
	struct vmem_map_copies copies;
	size_t meta_bytes;
	u8 *meta;
	int ret;

	if (dev_bytes < VMEM_PAGE_SIZE) {
		pr_err("%s: too small to hold a vmem pool (%llu bytes)\n", path,
		       dev_bytes);
		return -EINVAL;
	}
	/* It logs why it fails */
	ret = vmem_meta_load(pool, path, &meta, &meta_bytes, &copies);
	if (ret)
		return ret;
	/* The map owns meta from here on, also on failure */
	ret = vmem_map_load(&pool->map, meta, meta_bytes, dev_bytes,
			    vmem_report, pool);
	if (ret) {
		vmem_meta_copies_free(&copies);
		if (ret == -EUCLEAN)
			pr_err("%s: refusing damaged pool (run vmemctl check)\n",
			       path);
		else
			pr_err("%s: cannot load the bucket map: %d\n", path, ret);
		return ret;
	}
	vmem_meta_copies_attach(pool, &copies);
	if (vmem_meta_copies(pool))
		pr_info("%s: layout version 2: metadata copies at sectors 0 and %llu\n",
			path, pool->map.geom.copy_b);
	return 0;
}

/* Tear down what attach built; no device is left, so no bio either */
static void vmem_pool_free(struct vmem_pool *pool)
{
	WRITE_ONCE(pool->stopping, true);
	vmem_wb_exit(pool);
	/* Commits may queue provisioning work, the zeroer too: them first */
	vmem_commit_exit(pool);
	/* A zeroer that yielded waits on a timer, which no flush sees */
	cancel_delayed_work_sync(&pool->zero_work);
	if (pool->bg_wq)
		destroy_workqueue(pool->bg_wq);
	if (pool->wq)
		destroy_workqueue(pool->wq);
	cancel_work_sync(&pool->usage_work);
	if (bioset_initialized(&pool->bs))
		bioset_exit(&pool->bs);
	if (bioset_initialized(&pool->split_bs))
		bioset_exit(&pool->split_bs);
	if (bioset_initialized(&pool->cover_bs))
		bioset_exit(&pool->cover_bs);
	vmem_prov_free(pool);
	vmem_map_destroy(&pool->map);
	if (pool->bdev_file)
		bdev_fput(pool->bdev_file);
	/* Every device was removed, so every read side has ended */
	cleanup_srcu_struct(&pool->srcu);
	kvfree(pool);
}

/* Remove every device's disk; all must have been claimed */
static void vmem_pool_remove_devs(struct vmem_pool *pool)
{
	u32 id;

	for (id = 0; id < VMEM_MAX_DEVICES; id++)
		if (pool->devs[id])
			vmem_dev_unplug(pool->devs[id]);
	vmem_pool_quiesce(pool, NULL);
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!pool->devs[id])
			continue;
		vmem_prov_forget_dev(pool, pool->devs[id]);
		vmem_dev_free(pool->devs[id]);
		pool->devs[id] = NULL;
	}
	pool->nr_devices = 0;
}

/* Bump the generation in the superblock: the first write of an attach */
static int vmem_pool_write_generation(struct vmem_pool *pool)
{
	struct vmem_sb *sb = (struct vmem_sb *)pool->map.meta;
	int ret;

	mutex_lock(&pool->cm.mutex);
	le64_add_cpu(&sb->generation, 1);
	vmem_sb_seal(sb);
	ret = vmem_commit_write_sector(pool, 0);
	mutex_unlock(&pool->cm.mutex);
	return ret;
}

/*
 * Buckets start at data_start, in multiples of the bucket size; a
 * device's blocks start with them (dev.c reports alignment_offset 0).
 * When that is off the backing's physical blocks (a partition at sector
 * 63 of a 512e disk), every 4 KiB write below is a read-modify-write:
 * say so once, as the partitioning tools do.
 */
static void vmem_pool_warn_misaligned(struct vmem_pool *pool,
				      const char *path)
{
	unsigned int pbs = bdev_physical_block_size(pool->bdev);
	int off = bdev_alignment_offset(pool->bdev);
	u64 start = pool->data_start << SECTOR_SHIFT;

	if (off < 0)
		pr_warn("%s: the backing device reports a misaligned topology: writes may be read-modify-writes below\n",
			path);
	else if ((start - off) & (pbs - 1))
		pr_warn("%s: buckets are not aligned to the backing device's %u-byte physical blocks (its alignment_offset is %d): writes are read-modify-writes below\n",
			path, pbs, off);
}

/* Open the backing device exclusively and refuse what vmem cannot use */
static int vmem_pool_open(struct vmem_pool *pool, const char *path)
{
	struct file *file;

	file = bdev_file_open_by_path(path, BLK_OPEN_READ | BLK_OPEN_WRITE,
				      pool, NULL);
	if (IS_ERR(file)) {
		pr_err("cannot open backing device %s: %ld\n", path,
		       PTR_ERR(file));
		return PTR_ERR(file);
	}
	pool->bdev_file = file;
	pool->bdev = file_bdev(file);
	if (bdev_is_zoned(pool->bdev)) {
		pr_err("%s: zoned block devices are not supported (buckets are written in place)\n",
		       path);
		return -EOPNOTSUPP;
	}
	if (bdev_logical_block_size(pool->bdev) > VMEM_LBS) {
		pr_err("%s: logical block size %u above %u is not supported\n",
		       path, bdev_logical_block_size(pool->bdev), VMEM_LBS);
		return -EINVAL;
	}
	return 0;
}

/**
 * vmem_pool_attach() - open, check and bring up a pool
 * @path: the backing block device
 * @ctl_dev: the control device, for the pool's uevents
 * @out: the attached pool
 *
 * Writes nothing unless every check passed. When its first write (the
 * generation, with any damaged copy) fails, the pool is attached
 * read-only. Caller holds vmem_ctl_mutex.
 */
int vmem_pool_attach(const char *path, struct device *ctl_dev,
		     struct vmem_pool **out)
{
	struct vmem_pool *pool;
	struct vmem_dev *dev;
	u32 id;
	int ret;

	lockdep_assert_held(&vmem_ctl_mutex);
	pool = kvzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return -ENOMEM;
	pool->ctl_dev = ctl_dev;
	mutex_init(&pool->meta_lock);
	vmem_prov_init(pool);
	vmem_zero_init(pool);
	INIT_WORK(&pool->usage_work, vmem_pool_usage_work);
	ret = init_srcu_struct(&pool->srcu);
	if (ret) {
		kvfree(pool);
		return ret;
	}

	ret = vmem_pool_open(pool, path);
	if (!ret)
		ret = vmem_pool_load(pool, path);
	if (ret)
		goto out_free;

	memcpy(pool->uuid, ((const struct vmem_sb *)pool->map.meta)->uuid,
	       sizeof(pool->uuid));
	pool->bucket_sectors = (u64)pool->map.geom.bucket_pages *
			       VMEM_SECTORS_PER_PAGE;
	pool->data_start = pool->map.geom.data_start * VMEM_SECTORS_PER_PAGE;
	vmem_pool_warn_misaligned(pool, path);
	ret = bioset_init(&pool->bs, BIO_POOL_SIZE,
			  offsetof(struct vmem_io, clone), 0);
	if (!ret)
		ret = bioset_init(&pool->split_bs, BIO_POOL_SIZE, 0, 0);
	if (!ret)
		ret = bioset_init(&pool->cover_bs, BIO_POOL_SIZE,
				  offsetof(struct vmem_io, clone), 0);
	if (!ret)
		ret = vmem_prov_alloc(pool);
	if (ret)
		goto out_free;
	pool->wq = alloc_ordered_workqueue("vmem_prov", WQ_MEM_RECLAIM);
	pool->bg_wq = alloc_workqueue("vmem_bg", WQ_UNBOUND | WQ_MEM_RECLAIM,
				      0);
	if (!pool->wq || !pool->bg_wq) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = vmem_commit_init(pool, vmem_commit_interval_default);
	if (!ret)
		ret = vmem_wb_init(pool, vmem_wb_default,
				   vmem_wb_delay_default, vmem_wb_mb_default);
	if (ret)
		goto out_free;

	/*
	 * All checks passed: from here on the pool may be written. The
	 * first write also rewrites damaged copies; if it fails, the pool
	 * is read-only (vmem_commit_set_ro() logs why) but its data is
	 * there to be read, as dm-thin keeps a pool whose metadata cannot
	 * be written: attach it so, writing nothing more.
	 */
	if (vmem_pool_write_generation(pool))
		pr_err("%s: attaching read-only: reads work, writes fail with EIO\n",
		       path);

	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!(pool->map.dev[id].flags & VMEM_DEV_DELETING))
			continue;
		if (!vmem_commit_ro(&pool->cm)) {
			pr_info("%s: finishing the interrupted deletion of vmem%u\n",
				path, id);
			ret = vmem_pool_erase_dev(pool, id);
			if (!ret)
				continue;
			/*
			 * Out of memory fails the attach; a failed map write
			 * turned the pool read-only (and said so): attach it
			 * so, as above, the other devices' data readable
			 */
			if (!vmem_commit_ro(&pool->cm))
				goto out_free;
		}
		pr_warn("%s: vmem%u was being deleted; left so on a read-only pool\n",
			path, id);
	}
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!(pool->map.dev[id].flags & VMEM_DEV_EXISTS) ||
		    (pool->map.dev[id].flags & VMEM_DEV_DELETING))
			continue;
		dev = vmem_dev_add(pool, id);
		if (IS_ERR(dev)) {
			ret = PTR_ERR(dev);
			goto out_remove_devs;
		}
		pool->devs[id] = dev;
		pool->nr_devices++;
	}
	/* Arm format-zeroed buckets before the first write needs them */
	if (vmem_map_nr(&pool->map, VMEM_MARKED))
		vmem_commit_kick(pool);
	vmem_pool_usage(pool);
	pr_info("%s: attached%s: %llu buckets of %llu KiB, %llu used, %u devices, generation %llu\n",
		path, vmem_commit_ro(&pool->cm) ? " read-only" : "",
		pool->map.geom.nr_buckets,
		vmem_dev_bucket_bytes(pool) >> 10, vmem_map_used(&pool->map),
		pool->nr_devices,
		le64_to_cpu(((struct vmem_sb *)pool->map.meta)->generation));
	*out = pool;
	return 0;

out_remove_devs:
	vmem_pool_remove_devs(pool);
out_free:
	vmem_pool_free(pool);
	return ret;
}

/*
 * On the way out: mark armed buckets zero again on disk, so the next
 * attach need not zero them, and commit everything
 */
static void vmem_pool_final_commit(struct vmem_pool *pool)
{
	s64 n;

	/* A commit first: buckets being armed become armed */
	if (vmem_commit_sync(pool))
		return;
	mutex_lock(&pool->meta_lock);
	n = vmem_map_remark(&pool->map);
	if (n)
		vmem_commit_changed(pool);
	mutex_unlock(&pool->meta_lock);
	if (vmem_commit_sync(pool))
		pr_err("%pg: last commit failed; changes since the last flush may be lost\n",
		       pool->bdev);
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
			pr_err_ratelimited("%pg: cannot detach: vmem%u is open\n",
					   pool->bdev, id);
			for (undo = 0; undo < id; undo++)
				if (pool->devs[undo])
					vmem_dev_unclaim(pool->devs[undo]);
			return ret;
		}
	}
	vmem_pool_remove_devs(pool);
	WRITE_ONCE(pool->stopping, true);
	cancel_delayed_work_sync(&pool->zero_work);
	vmem_pool_final_commit(pool);
	pr_info("%pg: detached%s\n", pool->bdev,
		vmem_commit_ro(&pool->cm) ? " (read-only)" : "");
	vmem_pool_free(pool);
	return 0;
}
