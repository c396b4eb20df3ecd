// SPDX-License-Identifier: GPL-2.0
/*
 * vmem metadata I/O: reading the metadata area at attach time and writing
 * one changed sector durably.
 *
 * A metadata write covers the backing device's logical block (512 or
 * 4096 bytes) holding the changed sector, taken from the in-memory copy,
 * and is issued with REQ_FUA, which makes the sector durable before the
 * write completes, and REQ_PREFLUSH, which first makes every data write
 * completed before it (a bucket's zeroing) durable. The one caller that
 * may leave the flush out is a provisioning commit that zeroed nothing:
 * its buckets were zeroed by format, durably, before the pool was
 * attached. The disk writes a logical block atomically, so each call
 * commits one change.
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
 * vmem_meta_write() - durably write a run of metadata sectors
 * @pool: the pool; its meta_lock must be held
 * @first: the first sector of pool->map.meta to write
 * @nr: how many
 * @flush: flush the backing device's cache first (see the top of this file)
 *
 * Each sector commits the changes inside it on its own; a run is only a
 * cheaper way to write several (one flush, one FUA write).
 */
int vmem_meta_write(struct vmem_pool *pool, u64 first, u64 nr, bool flush)
{
	unsigned int lbs = bdev_logical_block_size(pool->bdev) >> SECTOR_SHIFT;
	u64 start = round_down(first, lbs);
	u64 end = round_up(first + nr, lbs);
	int ret;

	lockdep_assert_held(&pool->meta_lock);
	ret = vmem_meta_rw(pool->bdev, REQ_OP_WRITE | REQ_SYNC | REQ_META |
			   REQ_FUA | (flush ? REQ_PREFLUSH : 0),
			   pool->map.meta + (start << SECTOR_SHIFT), start,
			   (end - start) << SECTOR_SHIFT);
	if (ret)
		pr_err_ratelimited("%pg: metadata write of sectors %llu..%llu failed: %d\n",
				   pool->bdev, first, first + nr - 1, ret);
	return ret;
}

/**
 * vmem_meta_write_sector() - durably write one metadata sector
 * @pool: the pool; its meta_lock must be held
 * @sector: the sector of pool->map.meta to write
 */
int vmem_meta_write_sector(struct vmem_pool *pool, u64 sector)
{
	return vmem_meta_write(pool, sector, 1, true);
}
