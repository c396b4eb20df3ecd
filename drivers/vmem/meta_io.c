// SPDX-License-Identifier: GPL-2.0
/*
 * vmem metadata I/O: reading the metadata area at attach time, writing
 * runs of its sectors from the committed image, flushing.
 *
 * A write covers whole logical blocks of the backing device (512 or 4096
 * bytes), built from the image: on a 4 KiB-block disk a change of one
 * sector rewrites its seven neighbours too, which is safe because the
 * image holds only committed state (map.h). When a write is durable is
 * the caller's business (commit.c): these helpers only write, or flush.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include "vmem.h"

static struct page *vmem_buf_page(void *p)
{
	return is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
}

/* @buf is page aligned and @bytes a multiple of 512 */
static int vmem_meta_rw(struct block_device *bdev, blk_opf_t opf, u8 *buf,
			u64 sector, size_t bytes)
{
	int ret = 0;

	while (bytes && !ret) {
		unsigned int nr = min_t(size_t, DIV_ROUND_UP(bytes, PAGE_SIZE),
					BIO_MAX_VECS);
		size_t done = 0;
		struct bio *bio;

		bio = bio_alloc(bdev, nr, opf, GFP_NOIO);
		bio->bi_iter.bi_sector = sector;
		while (done < bytes && bio->bi_vcnt < nr) {
			u8 *p = buf + done;
			unsigned int len = min_t(size_t, bytes - done,
						 PAGE_SIZE - offset_in_page(p));

			if (!bio_add_page(bio, vmem_buf_page(p), len,
					  offset_in_page(p)))
				break;
			done += len;
		}
		if (op_is_write(opf))
			flush_kernel_vmap_range(buf, done);
		ret = submit_bio_wait(bio);
		if (!op_is_write(opf))
			invalidate_kernel_vmap_range(buf, done);
		bio_put(bio);
		buf += done;
		sector += done >> SECTOR_SHIFT;
		bytes -= done;
	}
	return ret;
}

/**
 * vmem_meta_read() - read the start of a backing device
 * @bdev: the device
 * @buf: page-aligned buffer (kmalloc or vmalloc)
 * @bytes: a multiple of 4096
 */
int vmem_meta_read(struct block_device *bdev, void *buf, size_t bytes)
{
	return vmem_meta_rw(bdev, REQ_OP_READ | REQ_SYNC | REQ_META, buf, 0,
			    bytes);
}

/**
 * vmem_meta_write() - write a run of image sectors, rounded to whole blocks
 * @pool: the pool; its commit lock must be held
 * @first: the first sector of pool->map.meta to write
 * @nr: how many
 * @flags: REQ_FUA, REQ_PREFLUSH or 0
 */
int vmem_meta_write(struct vmem_pool *pool, u64 first, u64 nr,
		    blk_opf_t flags)
{
	unsigned int lbs = bdev_logical_block_size(pool->bdev) >> SECTOR_SHIFT;
	u64 start = round_down(first, lbs);
	u64 end = round_up(first + nr, lbs);
	int ret;

	lockdep_assert_held(&pool->cm.mutex);
	ret = vmem_meta_rw(pool->bdev, REQ_OP_WRITE | REQ_SYNC | REQ_META |
			   flags, pool->map.meta + (start << SECTOR_SHIFT),
			   start, (end - start) << SECTOR_SHIFT);
	if (ret)
		pr_err_ratelimited("%pg: metadata write of sectors %llu..%llu failed: %d\n",
				   pool->bdev, first, first + nr - 1, ret);
	return ret;
}

/**
 * vmem_meta_flush() - make every completed write to the backing device
 * durable
 * @pool: the pool
 */
int vmem_meta_flush(struct vmem_pool *pool)
{
	int ret = blkdev_issue_flush(pool->bdev);

	if (ret)
		pr_err_ratelimited("%pg: cache flush failed: %d\n", pool->bdev,
				   ret);
	return ret;
}
