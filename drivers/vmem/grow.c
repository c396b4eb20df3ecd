// SPDX-License-Identifier: GPL-2.0
/*
 * vmem pool grow: add buckets to the attached pool when its backing
 * device grew (VMEM_CTL_GROW; layout version 2, whose map keeps room to
 * grow). The order of the writes, and why a crash at any of them leaves
 * the old size or the new one, is in include/vmem/format.h ("Grow").
 *
 * The whole grow runs under the commit lock, so no commit, device-table
 * write, copy work or scrub writes the metadata meanwhile (a flush or FUA
 * bio that needs a commit waits for the grow's few synchronous writes);
 * the I/O fast path goes on (lookups take no lock), and writes that need
 * a bucket wait for the map lock only while the image is swapped and
 * while the new buckets join the free sets:
 *  1. copy B is brought up to the image and flushed (the copy rule), then
 *     the image is swapped for a larger one holding the new map sectors;
 *  2. the new map sectors are written to copy A, flushed, to copy B,
 *     flushed; then the superblock, copy A then copy B, each with FUA;
 *  3. only then the new buckets join the dirty set (zeroed, or written
 *     whole, on first use) and the geometry grows: no data can reach a
 *     bucket the disk does not give the pool yet.
 * A failed write turns the pool read-only, as every metadata write does
 * (commit.c): what reached the disk is unknown, but by the order above
 * it is the old size or the new one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/slab.h>
#include <uapi/linux/vmem.h>
#include "vmem.h"

/* Steps 1 and 2 of the top of this file, under the commit lock */
static int vmem_grow_write(struct vmem_pool *pool, struct vmem_map_growth *gr,
			   u64 pool_pages)
{
	struct vmem_map *m = &pool->map;
	u64 first = m->geom.meta_sectors;
	u64 n = gr->geom.meta_sectors - first;
	int ret;

	lockdep_assert_held(&pool->cm.mutex);
	ret = vmem_meta_before_a(pool, true, NULL);
	if (ret)
		return ret;
	mutex_lock(&pool->meta_lock);
	vmem_map_grow_image(m, gr, pool_pages);
	mutex_unlock(&pool->meta_lock);
	if (n) {
		ret = vmem_meta_write(pool, first, n, 0);
		if (!ret)
			ret = vmem_meta_flush(pool);
		if (!ret)
			ret = vmem_meta_write_b(pool, first, n, 0);
		if (!ret)
			ret = vmem_meta_flush(pool);
		if (ret)
			return ret;
	}
	/* Sector 0's block holds device-table sectors too: all committed */
	memcpy(m->meta, &gr->sb, sizeof(gr->sb));
	ret = vmem_meta_write(pool, 0, 1, REQ_FUA);
	if (!ret)
		ret = vmem_meta_write_b(pool, 0, 1, REQ_FUA);
	return ret;
}

/**
 * vmem_pool_grow() - add buckets from the backing device's new size
 * @pool: the attached pool
 * @size_bytes: the bytes of the backing device the pool may use, or 0
 *	for all of it
 * @g: out: old_buckets, new_buckets and max_buckets
 *
 * Caller holds vmem_ctl_mutex. Return: 0 (also when there is nothing to
 * add), -EOPNOTSUPP for a version 1 pool, -EINVAL for a size below the
 * pool's or beyond the device, -EROFS on a read-only pool, -ENOMEM, or
 * -EIO when a metadata write failed (the pool is read-only then).
 */
int vmem_pool_grow(struct vmem_pool *pool, u64 size_bytes,
		   struct vmem_ctl_grow *g)
{
	struct vmem_map *m = &pool->map;
	u64 dev_bytes = bdev_nr_bytes(pool->bdev);
	u64 old = m->geom.nr_buckets;
	struct vmem_map_growth *gr;
	struct vmem_geom ng;
	enum vmem_fault f;
	int ret;

	lockdep_assert_held(&vmem_ctl_mutex);
	g->old_buckets = old;
	g->new_buckets = old;
	g->max_buckets = min_t(u64, m->geom.map_max * VMEM_ENTRIES_PER_SECTOR,
			       VMEM_MAX_BUCKETS);
	if (size_bytes > dev_bytes) {
		pr_err_ratelimited("%pg: grow: size %llu is beyond the device's end (%llu bytes)\n",
				   pool->bdev, size_bytes, dev_bytes);
		return -EINVAL;
	}
	f = vmem_geom_grow(&m->geom, size_bytes ? size_bytes : dev_bytes,
			   &ng);
	switch (f) {
	case VMEM_OK:
		break;
	case VMEM_F_VERSION:
		g->max_buckets = old;
		pr_err_ratelimited("%pg: grow: layout version 1 keeps no room for the map to grow (detach, vmemctl upgrade, attach)\n",
				   pool->bdev);
		return -EOPNOTSUPP;
	case VMEM_F_TOO_SMALL:
		pr_err_ratelimited("%pg: grow: %llu bytes end before the pool's %llu buckets; a pool cannot shrink\n",
				   pool->bdev,
				   size_bytes ? size_bytes : dev_bytes, old);
		return -EINVAL;
	default:
		pr_err_ratelimited("%pg: grow: copy B of the metadata follows the data area, which cannot grow over it\n",
				   pool->bdev);
		return -EINVAL;
	}
	if (ng.nr_buckets == old)
		return 0;
	/* Not on the stack: it holds a superblock */
	gr = kzalloc(sizeof(*gr), GFP_KERNEL);
	if (!gr)
		return -ENOMEM;
	ret = vmem_map_grow_alloc(m, &ng, gr);
	if (ret) {
		pr_err_ratelimited("%pg: grow: cannot allocate the map of %llu buckets\n",
				   pool->bdev, ng.nr_buckets);
		goto out_free;
	}

	mutex_lock(&pool->cm.mutex);
	if (vmem_commit_ro(&pool->cm)) {
		mutex_unlock(&pool->cm.mutex);
		pr_err_ratelimited("%pg: grow: pool is read-only\n", pool->bdev);
		ret = -EROFS;
		goto out_free;
	}
	ret = vmem_grow_write(pool, gr, dev_bytes >> VMEM_PAGE_SHIFT);
	if (ret) {
		vmem_commit_set_ro(pool, "grow: metadata write", ret);
		mutex_unlock(&pool->cm.mutex);
		ret = -EIO;
		goto out_free;
	}
	mutex_lock(&pool->meta_lock);
	vmem_map_grow_buckets(m, &ng);
	mutex_unlock(&pool->meta_lock);
	mutex_unlock(&pool->cm.mutex);

	g->new_buckets = ng.nr_buckets;
	pr_info("%pg: pool grown from %llu to %llu buckets (%llu used; room for %llu)\n",
		pool->bdev, old, ng.nr_buckets, vmem_map_used(m),
		g->max_buckets);
	vmem_prov_unpark(pool);
	vmem_pool_usage(pool);
out_free:
	vmem_map_growth_free(gr);
	kfree(gr);
	return ret;
}
