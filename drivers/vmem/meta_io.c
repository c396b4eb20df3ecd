// SPDX-License-Identifier: GPL-2.0
/*
 * vmem metadata I/O: reading the metadata at attach time (both copies in
 * layout version 2, with the reading rule of include/vmem/format.h),
 * writing runs of its sectors from the committed image to copy A or copy
 * B (the copy rule), the background write of copy B after a commit, the
 * scrub, and flushing.
 *
 * A write covers whole logical blocks of the backing device (512 or 4096
 * bytes), built from the image: on a 4 KiB-block disk a change of one
 * sector rewrites its seven neighbours too, which is safe because the
 * image holds only committed state (map.h), and because copy B of every
 * sector is durable whenever copy A is written and the other way round
 * (so a torn block loses only the copy being written, whatever its
 * neighbours). When a write is durable is the caller's business
 * (commit.c): these helpers write, and flush where they say so.
 *
 * Version 2 in short. A commit writes copy A of its sectors, flushes and
 * ends the bios waiting for it; vmem_meta_committed() then marks those
 * sectors stale in copy B and queues the copy work, which writes them to
 * copy B and flushes while nobody waits. Whatever writes copy A next (a
 * commit, a device-table write) first calls vmem_meta_before_a(), which
 * writes whatever copy B still lacks: after an idle moment nothing, else
 * the copies B of the previous commit, whose flush then serves both. At
 * attach, vmem_meta_load() reads both copies, takes per sector the one
 * the reading rule names, and marks the damaged or older copies for
 * rewriting; vmem_meta_before_a() rewrites them at the first write of
 * the attach (copies A first, flushed, then copies B).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "vmem.h"

/* Bytes of copy B (or of both copies, scrubbing) read at a time */
#define VMEM_META_CHUNK		SZ_1M
/* Damaged copies logged one by one at attach; the rest are counted */
#define VMEM_META_LOG_MAX	16

/*
 * One bit per metadata sector of a copy: 8 MiB for a pool of 2^32
 * buckets, more than kmalloc can give, so kvmalloc
 */
static unsigned long *vmem_meta_bitmap(u64 nbits)
{
	return kvcalloc(BITS_TO_LONGS(nbits), sizeof(unsigned long),
			GFP_KERNEL);
}

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

static int vmem_meta_read_at(struct block_device *bdev, void *buf,
			     u64 sector, size_t bytes)
{
	return vmem_meta_rw(bdev, REQ_OP_READ | REQ_SYNC | REQ_META, buf,
			    sector, bytes);
}

/**
 * vmem_meta_read() - read the start of a backing device
 * @bdev: the device
 * @buf: page-aligned buffer (kmalloc or vmalloc)
 * @bytes: a multiple of 4096
 */
int vmem_meta_read(struct block_device *bdev, void *buf, size_t bytes)
{
	return vmem_meta_read_at(bdev, buf, 0, bytes);
}

/*
 * Read @bytes at @sector; where that fails, read it a logical block at a
 * time and leave zeros (which no metadata sector validates as) where a
 * block cannot be read. Return: how many blocks could not be read.
 */
static u64 vmem_meta_read_blocks(struct block_device *bdev, u8 *buf,
				 u64 sector, size_t bytes)
{
	unsigned int lbs = bdev_logical_block_size(bdev);
	u64 bad = 0;
	size_t off;

	if (!vmem_meta_read_at(bdev, buf, sector, bytes))
		return 0;
	for (off = 0; off < bytes; off += lbs) {
		if (!vmem_meta_read_at(bdev, buf + off,
				       sector + (off >> SECTOR_SHIFT), lbs))
			continue;
		memset(buf + off, 0, lbs);
		bad++;
	}
	return bad;
}

/* Disk sector of image sector @s in copy @b (0: A, 1: B) */
static u64 vmem_meta_disk(struct vmem_pool *pool, bool b, u64 s)
{
	return b ? vmem_copy_b_sector(&pool->map.geom, s) : s;
}

static int vmem_meta_write_copy(struct vmem_pool *pool, bool b, u64 first,
				u64 nr, blk_opf_t flags)
{
	unsigned int lbs = bdev_logical_block_size(pool->bdev) >> SECTOR_SHIFT;
	u64 start = round_down(first, lbs);
	u64 end = round_up(first + nr, lbs);
	int ret;

	lockdep_assert_held(&pool->cm.mutex);
	ret = vmem_meta_rw(pool->bdev, REQ_OP_WRITE | REQ_SYNC | REQ_META |
			   flags, pool->map.meta + (start << SECTOR_SHIFT),
			   vmem_meta_disk(pool, b, start),
			   (end - start) << SECTOR_SHIFT);
	if (ret)
		pr_err_ratelimited("%pg: metadata write of %ssectors %llu..%llu failed: %d\n",
				   pool->bdev, b ? "copy B, " : "",
				   vmem_meta_disk(pool, b, first),
				   vmem_meta_disk(pool, b, first + nr - 1), ret);
	return ret;
}

/**
 * vmem_meta_write() - write a run of image sectors to copy A, rounded to
 * whole blocks
 * @pool: the pool; its commit lock must be held, and copy B must hold
 *	every sector of the blocks written (vmem_meta_before_a())
 * @first: the first sector of pool->map.meta to write
 * @nr: how many
 * @flags: REQ_FUA, REQ_PREFLUSH or 0
 */
int vmem_meta_write(struct vmem_pool *pool, u64 first, u64 nr,
		    blk_opf_t flags)
{
	return vmem_meta_write_copy(pool, false, first, nr, flags);
}

/**
 * vmem_meta_write_b() - write a run of image sectors to copy B
 * @pool: the pool, version 2; its commit lock held, copy A of every sector
 *	of the blocks written durable
 * @first: the first sector of pool->map.meta to write
 * @nr: how many
 * @flags: REQ_FUA or 0
 */
int vmem_meta_write_b(struct vmem_pool *pool, u64 first, u64 nr,
		      blk_opf_t flags)
{
	return vmem_meta_write_copy(pool, true, first, nr, flags);
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

/**
 * vmem_meta_copies() - does the pool keep two copies (layout version 2)?
 * @pool: the pool
 */
bool vmem_meta_copies(struct vmem_pool *pool)
{
	return pool->map.geom.version >= 2;
}

/*
 * Write every run of sectors set in @bits (of the image's @n) to copy
 * @b, clearing the bits written. Return: sectors written, or an error.
 */
static s64 vmem_meta_write_bits(struct vmem_pool *pool, bool b,
				unsigned long *bits)
{
	unsigned int lbs = bdev_logical_block_size(pool->bdev) >> SECTOR_SHIFT;
	u64 n = pool->map.geom.meta_sectors, first, end, s, written = 0;
	int ret;

	first = find_first_bit(bits, n);
	while (first < n) {
		/* A run, grown while the next one shares its last block */
		end = find_next_zero_bit(bits, n, first);
		while (end < n) {
			s = find_next_bit(bits, n, end);
			if (s >= n || round_down(s, lbs) >= round_up(end, lbs))
				break;
			end = find_next_zero_bit(bits, n, s);
		}
		ret = vmem_meta_write_copy(pool, b, first, end - first, 0);
		if (ret)
			return ret;
		/* Every sector of the blocks written now holds the image */
		bitmap_clear(bits, round_down(first, lbs),
			     min(round_up(end, lbs), n) - round_down(first, lbs));
		written += end - first;
		first = find_next_bit(bits, n, end);
	}
	return written;
}

/**
 * vmem_meta_before_a() - make copy B hold the image, before copy A is
 * written (the copy rule)
 * @pool: the pool; its commit lock held
 * @flush: flush after writing copy B; without it, *@owed says whether the
 *	caller must flush before writing copy A
 * @owed: out, may be NULL when @flush
 *
 * At the first write after attach this also rewrites the damaged copies
 * attach found: copies A first (copy B of those is valid), flushed, then
 * copies B with the rest. A no-op on a version 1 pool.
 *
 * Return: 0 or the error of a write or flush (the caller turns the pool
 * read-only: nothing is known of what reached the disk).
 */
int vmem_meta_before_a(struct vmem_pool *pool, bool flush, bool *owed)
{
	struct vmem_map_copies *c = &pool->map.copies;
	u64 n = pool->map.geom.meta_sectors;
	s64 a = 0, b;
	int ret;

	lockdep_assert_held(&pool->cm.mutex);
	if (owed)
		*owed = false;
	if (!vmem_meta_copies(pool))
		return 0;
	if (!bitmap_empty(c->a_stale, n)) {
		a = vmem_meta_write_bits(pool, false, c->a_stale);
		if (a < 0)
			return a;
		ret = vmem_meta_flush(pool);
		if (ret)
			return ret;
	}
	if (bitmap_empty(c->b_stale, n))
		goto out;
	b = vmem_meta_write_bits(pool, true, c->b_stale);
	if (b < 0)
		return b;
	if (flush) {
		ret = vmem_meta_flush(pool);
		if (ret)
			return ret;
	} else if (owed) {
		*owed = true;
	}
out:
	if (c->repairs) {
		pr_info("%pg: rewrote %llu damaged or older metadata cop%s from the good one\n",
			pool->bdev, c->repairs, c->repairs == 1 ? "y" : "ies");
		atomic64_add(c->repairs, &c->rewrites);
		c->repairs = 0;
	}
	return 0;
}

/* Write copy B of what the last commit wrote to copy A, and flush */
static void vmem_meta_copy_work(struct work_struct *work)
{
	struct vmem_pool *pool = container_of(work, struct vmem_pool,
					      map.copies.work);
	int ret;

	mutex_lock(&pool->cm.mutex);
	if (!vmem_commit_ro(&pool->cm)) {
		ret = vmem_meta_before_a(pool, true, NULL);
		if (ret)
			vmem_commit_set_ro(pool, "metadata write (copy B)",
					   ret);
	}
	mutex_unlock(&pool->cm.mutex);
}

/**
 * vmem_meta_committed() - a commit made copy A of some map sectors durable
 * @pool: the pool; its commit lock held
 * @map_bits: the map sectors (bit s: map sector s) it wrote
 *
 * Marks them stale in copy B and queues the copy work, which writes them
 * once the commit has ended its bios, unless a write of copy A comes
 * first and does it (vmem_meta_before_a()).
 */
void vmem_meta_committed(struct vmem_pool *pool,
			 const unsigned long *map_bits)
{
	struct vmem_map *m = &pool->map;
	u64 s;

	lockdep_assert_held(&pool->cm.mutex);
	if (!vmem_meta_copies(pool))
		return;
	for_each_set_bit(s, map_bits, m->geom.map_sectors)
		__set_bit(VMEM_MAP_START + s, m->copies.b_stale);
	queue_work(pool->cm.wq, &m->copies.work);
}

/* What attach found while merging the copies */
struct vmem_meta_merge {
	struct vmem_pool *pool;
	const char *path;
	unsigned long *a_stale;
	unsigned long *b_stale;
	u64 found;
	u64 lost;
};

static const char * const vmem_copies_what[] = {
	[VMEM_COPIES_B_OLD] = "copy B is older than copy A",
	[VMEM_COPIES_B_BAD] = "copy B is damaged",
	[VMEM_COPIES_A_BAD] = "copy A is damaged",
};

static void vmem_meta_merge_report(void *ctx, u64 sector,
				   enum vmem_copies state,
				   enum vmem_fault fa, enum vmem_fault fb)
{
	struct vmem_meta_merge *mm = ctx;
	const struct vmem_geom *g = &mm->pool->map.geom;
	const char *kind;
	u64 index;

	kind = vmem_sector_kind(sector, &index);
	if (state == VMEM_COPIES_BOTH_BAD) {
		mm->lost++;
		pr_err("%s: %s %llu (sectors %llu and %llu): both copies damaged (copy A: %s; copy B: %s)\n",
		       mm->path, kind, index, sector,
		       vmem_copy_b_sector(g, sector), vmem_fault_str(fa),
		       vmem_fault_str(fb));
		return;
	}
	__set_bit(sector, state == VMEM_COPIES_A_BAD ? mm->a_stale :
		  mm->b_stale);
	if (++mm->found > VMEM_META_LOG_MAX)
		return;
	/* An older copy B is what a crash between the two writes leaves */
	if (state == VMEM_COPIES_B_OLD)
		pr_info("%s: %s %llu: %s; rewriting it from copy A\n",
			mm->path, kind, index, vmem_copies_what[state]);
	else
		pr_warn("%s: %s %llu: %s: %s; rewriting it from copy %c\n",
			mm->path, kind, index, vmem_copies_what[state],
			vmem_fault_str(state == VMEM_COPIES_A_BAD ? fa : fb),
			state == VMEM_COPIES_A_BAD ? 'B' : 'A');
}

/*
 * Read copy B of the image's sectors and merge it into @meta (copy A)
 * by the reading rule. Return: 0, -EUCLEAN when a sector is lost in
 * both copies, -ENOMEM.
 */
static int vmem_meta_merge_b(struct vmem_pool *pool, const char *path,
			     const struct vmem_sb *sb, u8 *meta,
			     u64 dev_bytes, struct vmem_meta_merge *mm)
{
	const struct vmem_geom *g = &pool->map.geom;
	u64 n = g->meta_sectors, per = VMEM_META_CHUNK >> SECTOR_SHIFT, s;
	u32 pool_id = vmem_pool_id(sb);
	u64 bad = 0;
	u8 *buf;

	buf = kvmalloc(VMEM_META_CHUNK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (s = 0; s < n; s += per) {
		u64 len = min(per, n - s);
		/* Whole blocks: the chunk's tail may hold part of one */
		size_t bytes = round_up(len << SECTOR_SHIFT,
					bdev_logical_block_size(pool->bdev));

		bad += vmem_meta_read_blocks(pool->bdev, buf,
					     vmem_copy_b_sector(g, s), bytes);
		vmem_copies_merge(meta + (s << SECTOR_SHIFT), buf, s, len, g,
				  pool_id, dev_bytes, vmem_meta_merge_report,
				  mm);
		cond_resched();
	}
	kvfree(buf);
	if (bad)
		pr_warn("%s: %llu block%s of metadata copy B could not be read\n",
			path, bad, bad == 1 ? "" : "s");
	if (mm->found > VMEM_META_LOG_MAX)
		pr_warn("%s: and %llu more damaged or older metadata copies\n",
			path, mm->found - VMEM_META_LOG_MAX);
	return mm->lost ? -EUCLEAN : 0;
}

/*
 * vmem_read_fn: one sector for the probe for copy B's superblock, or of
 * copy A's table that vouches for it: the logical block that holds it
 */
static int vmem_meta_read_sb(void *ctx, u64 sector, void *buf)
{
	struct block_device *bdev = ctx;
	unsigned int lbs = bdev_logical_block_size(bdev);
	u64 first = round_down(sector, lbs >> SECTOR_SHIFT);
	u8 *block = kmalloc(lbs, GFP_KERNEL);
	int ret;

	if (!block)
		return -ENOMEM;
	ret = vmem_meta_read_at(bdev, block, first, lbs);
	if (!ret)
		memcpy(buf, block + ((sector - first) << SECTOR_SHIFT),
		       VMEM_SECTOR_SIZE);
	kfree(block);
	return ret;
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

/*
 * Choose the superblock (vmem_sb_choose()): copy A's when it is valid;
 * copy B's when copy A's cannot be read or fails its checksum (a torn
 * write) and copy B's is found. Return: 0 with it in @sb, or an error
 * after logging why.
 */
static int vmem_meta_choose_sb(struct block_device *bdev, const char *path,
			       u64 dev_bytes, struct vmem_sb *sb)
{
	unsigned int lbs = bdev_logical_block_size(bdev);
	bool readable = true;
	enum vmem_fault f;
	u64 at;
	u8 *page0;
	int ret;

	page0 = vmalloc(VMEM_PAGE_SIZE);
	if (!page0)
		return -ENOMEM;
	ret = vmem_meta_read(bdev, page0, VMEM_PAGE_SIZE);
	if (ret) {
		pr_err("%s: cannot read page 0: %d\n", path, ret);
		/* Its first block, the superblock's, may still be readable */
		memset(page0, 0, VMEM_PAGE_SIZE);
		readable = !vmem_meta_read_at(bdev, page0, 0, lbs);
	}
	if (readable && vmem_page0_classify(page0, ret ? lbs : VMEM_PAGE_SIZE) ==
	    VMEM_PAGE0_EMPTY) {
		pr_err("%s: not a vmem pool: page 0 is all zeros (run vmemctl format)\n",
		       path);
		ret = -EINVAL;
		goto out;
	}
	f = vmem_sb_choose(readable ? (void *)page0 : NULL, dev_bytes, true,
			   vmem_meta_read_sb, bdev, sb, &at);
	if (f == VMEM_F_MAGIC) {
		pr_err("%s: not a vmem pool: page 0 holds other data; refusing it\n",
		       path);
		ret = -EINVAL;
		goto out;
	}
	if (f) {
		pr_err("%s: refusing pool: superblock%s: %s (run vmemctl check)\n",
		       path, at ? " (copy B)" : "",
		       readable || at ? vmem_fault_str(f) : "cannot be read");
		ret = readable || at ? vmem_fault_errno(f) : ret;
		goto out;
	}
	if (at)
		pr_warn("%s: superblock (copy A): %s; using copy B's, at sector %llu\n",
			path, readable ? vmem_fault_str(vmem_sb_validate((void *)page0,
							 dev_bytes, true)) :
			"cannot be read", at);
	ret = 0;
out:
	vfree(page0);
	return ret;
}

/*
 * A block with a copy to rewrite in both copies, on a disk whose
 * physical blocks hold several sectors (4 KiB-block and 512e disks):
 * each rewrite writes the whole physical block (the drive reads,
 * modifies and writes it back when the write is smaller), so a crash
 * that tears one of them on a drive without atomic 4 KiB writes could
 * leave a sector of that block with no good copy. Nothing safer can be
 * done; say so.
 */
static void vmem_meta_warn_blocks(struct vmem_pool *pool, const char *path,
				  const struct vmem_map_copies *c)
{
	u64 per = max(bdev_logical_block_size(pool->bdev),
		      bdev_physical_block_size(pool->bdev)) >> SECTOR_SHIFT;
	u64 n = pool->map.geom.meta_sectors, s, end;

	if (per == 1)
		return;
	for (s = 0; s < n; s += per) {
		end = min(s + per, n);
		if (find_next_bit(c->a_stale, end, s) < end &&
		    find_next_bit(c->b_stale, end, s) < end)
			pr_warn("%s: metadata block at sector %llu has sectors to rewrite in both copies; a crash that tears a rewrite could lose one\n",
				path, s);
	}
}

/**
 * vmem_meta_load() - read a pool's metadata: the image to load the map from
 * @pool: the pool being attached; on success pool->map.geom is set
 * @path: the backing device's path, for log lines
 * @meta: out: the image, vmalloc'ed, vmem_map_meta_bytes() long
 * @meta_bytes: out: its size
 * @copies: out: the copies to rewrite (version 2), to hand to the map
 *	once it is loaded (vmem_meta_copies_attach()); freed by
 *	vmem_meta_copies_free() otherwise
 *
 * Chooses the superblock (copy A's, or copy B's when copy A's is damaged),
 * reads copy A, and in version 2 copy B, and merges them by the reading
 * rule. Writes nothing. Return: 0, or an error after logging why
 * (-EUCLEAN: a sector is lost in both copies, or the superblock is).
 */
int vmem_meta_load(struct vmem_pool *pool, const char *path, u8 **meta,
		   size_t *meta_bytes, struct vmem_map_copies *copies)
{
	u64 dev_bytes = bdev_nr_bytes(pool->bdev);
	struct vmem_meta_merge mm = { .pool = pool, .path = path };
	struct vmem_geom *g = &pool->map.geom;
	struct vmem_sb sb;
	u64 bad;
	u8 *img;
	int ret;

	memset(copies, 0, sizeof(*copies));
	ret = vmem_meta_choose_sb(pool->bdev, path, dev_bytes, &sb);
	if (ret)
		return ret;
	vmem_geom_from_sb(&sb, g);
	*meta_bytes = vmem_map_meta_bytes(&sb);
	img = vzalloc(*meta_bytes);
	if (!img)
		return -ENOMEM;
	bad = vmem_meta_read_blocks(pool->bdev, img, 0, *meta_bytes);
	if (bad) {
		pr_warn("%s: %llu block%s of metadata%s could not be read\n",
			path, bad, bad == 1 ? "" : "s",
			g->version >= 2 ? " copy A" : "");
		if (g->version < 2) {
			pr_err("%s: cannot read metadata: %d\n", path, -EIO);
			ret = -EIO;
			goto out_free;
		}
	}
	if (g->version < 2) {
		*meta = img;
		return 0;
	}
	ret = -ENOMEM;
	copies->a_stale = vmem_meta_bitmap(g->meta_sectors);
	copies->b_stale = vmem_meta_bitmap(g->meta_sectors);
	if (!copies->a_stale || !copies->b_stale)
		goto out_free;
	mm.a_stale = copies->a_stale;
	mm.b_stale = copies->b_stale;
	/* Sector 0 too: copy B's superblock replaces a damaged copy A's */
	ret = vmem_meta_merge_b(pool, path, &sb, img, dev_bytes, &mm);
	if (ret == -EUCLEAN)
		pr_err("%s: refusing damaged pool (run vmemctl check)\n", path);
	if (ret)
		goto out_free;
	copies->repairs = bitmap_weight(copies->a_stale, g->meta_sectors) +
			  bitmap_weight(copies->b_stale, g->meta_sectors);
	vmem_meta_warn_blocks(pool, path, copies);
	*meta = img;
	return 0;

out_free:
	vmem_meta_copies_free(copies);
	vfree(img);
	return ret;
}

/** vmem_meta_copies_free() - free what vmem_meta_load() gave @copies */
void vmem_meta_copies_free(struct vmem_map_copies *copies)
{
	kvfree(copies->a_stale);
	kvfree(copies->b_stale);
	copies->a_stale = NULL;
	copies->b_stale = NULL;
}

/**
 * vmem_meta_copies_attach() - hand the copies to the loaded map
 * @pool: the pool; pool->map loaded from vmem_meta_load()'s image
 * @copies: what vmem_meta_load() gave; the map owns it from here on
 */
void vmem_meta_copies_attach(struct vmem_pool *pool,
			     struct vmem_map_copies *copies)
{
	struct vmem_map_copies *c = &pool->map.copies;

	c->a_stale = copies->a_stale;
	c->b_stale = copies->b_stale;
	c->repairs = copies->repairs;
	INIT_WORK(&c->work, vmem_meta_copy_work);
}

/*
 * Scrub sectors [@s, @s + @len) of both copies (or of copy A in version
 * 1) against the image: read, compare, rewrite what differs (copies B
 * first, flushed, then copies A, flushed). Under the commit lock.
 */
static int vmem_meta_scrub_run(struct vmem_pool *pool, u8 *buf, u64 s,
			       u64 len, unsigned long *fix)
{
	struct vmem_map_copies *c = &pool->map.copies;
	unsigned int lbs = bdev_logical_block_size(pool->bdev);
	u64 i, unread, nfix;
	size_t bytes = round_up(len << SECTOR_SHIFT, lbs);
	int copy, ret;

	for (copy = vmem_meta_copies(pool); copy >= 0; copy--) {
		unread = vmem_meta_read_blocks(pool->bdev, buf,
					       vmem_meta_disk(pool, copy, s),
					       bytes);
		atomic64_add(unread, &c->unreadable);
		bitmap_clear(fix, s, len);
		nfix = 0;
		for (i = 0; i < len; i++) {
			if (!memcmp(buf + (i << SECTOR_SHIFT),
				    pool->map.meta + ((s + i) << SECTOR_SHIFT),
				    VMEM_SECTOR_SIZE))
				continue;
			__set_bit(s + i, fix);
			nfix++;
		}
		atomic64_add(len, &c->scrubbed);
		if (!nfix)
			continue;
		pr_warn("%pg: scrub: %llu sector%s of metadata copy %c differ%s from memory; rewriting them\n",
			pool->bdev, nfix, nfix == 1 ? "" : "s",
			copy ? 'B' : 'A', nfix == 1 ? "s" : "");
		ret = vmem_meta_write_bits(pool, copy, fix);
		if (ret < 0)
			return ret;
		ret = vmem_meta_flush(pool);
		if (ret)
			return ret;
		atomic64_add(nfix, &c->rewrites);
	}
	return 0;
}

/**
 * vmem_meta_scrub() - compare both copies of every metadata sector on disk
 * with the image, and rewrite those that differ
 * @pool: the pool; vmem_ctl_mutex held (it cannot go away), not its
 *	commit lock, which is taken a chunk at a time so that commits go on
 *
 * The image holds the committed state, so it is the reference: a copy
 * that differs is damaged (or, for copy B, not yet written: the copy
 * work's sectors are written first). In version 1 copy A is compared.
 *
 * Return: 0, -EROFS on a read-only pool, -ENOMEM, or the error of a
 * rewrite (the pool is read-only then).
 */
int vmem_meta_scrub(struct vmem_pool *pool)
{
	struct vmem_map_copies *c = &pool->map.copies;
	u64 n = pool->map.geom.meta_sectors, per, s;
	unsigned long *fix;
	int ret = 0;
	u8 *buf;

	lockdep_assert_held(&vmem_ctl_mutex);
	per = VMEM_META_CHUNK >> SECTOR_SHIFT;
	buf = kvmalloc(VMEM_META_CHUNK, GFP_KERNEL);
	fix = vmem_meta_bitmap(n);
	if (!buf || !fix) {
		ret = -ENOMEM;
		goto out;
	}
	for (s = 0; s < n && !ret; s += per) {
		mutex_lock(&pool->cm.mutex);
		if (vmem_commit_ro(&pool->cm)) {
			ret = -EROFS;
		} else {
			ret = vmem_meta_before_a(pool, true, NULL);
			if (!ret)
				ret = vmem_meta_scrub_run(pool, buf, s,
							  min(per, n - s), fix);
			if (ret)
				vmem_commit_set_ro(pool, "metadata scrub", ret);
		}
		mutex_unlock(&pool->cm.mutex);
		cond_resched();
	}
	if (!ret)
		atomic64_inc(&c->scrubs);
out:
	kvfree(fix);
	kvfree(buf);
	return ret;
}
