// SPDX-License-Identifier: GPL-2.0
/*
 * vmem write buffer: a write-back stage in front of the backing device,
 * after photondb's WriteBuffer.
 *
 * Semantics. The devices advertise a volatile write cache; with the
 * buffer on, these are its rules, as for any disk:
 *  - a write to a provisioned bucket is copied into the open buffer and
 *    completed at once;
 *  - a REQ_PREFLUSH completes only after every write completed before it
 *    is on the backing device and the backing device flushed (and the
 *    map committed: commit.c);
 *  - a REQ_FUA write is durable when it completes: it is never buffered,
 *    and before it is sent it waits for any buffered data of its blocks,
 *    so older buffered data never overtakes it; a write with data and
 *    REQ_PREFLUSH is not buffered either (vmem_wb_takes());
 *  - a read returns the newest data: a read of blocks a buffer holds
 *    waits until that buffer is on the backing device, then reads;
 *  - discard and write-zeroes wait for everything buffered before they
 *    run (vmem_wb_sync()); a bucket is never freed under buffered data,
 *    as each buffered write keeps its in-flight read side until it is
 *    written (so the drain before reuse waits for it); switching the
 *    buffer off, delete, detach and rmmod write everything out first;
 *  - a buffered write the backing device fails is retried on its own;
 *    if that fails too its data is lost (the range keeps what the disk
 *    has: the old data, or part of the new), the error is logged and
 *    counted, and the next REQ_PREFLUSH on its device fails with EIO,
 *    once, as fsync() does on a disk whose cache could not be written.
 *
 * Structure. A ring of VMEM_WB_BUFS buffers; cycle c of the ring uses
 * buf[c % VMEM_WB_BUFS]. Writers fill the open buffer (cycle @head): one
 * CAS on its state word (wbuf_state.h) reserves a record (a 512-byte
 * header, then the data, which so stays sector aligned), the writer
 * copies its data in, marks its 4 KiB blocks in the buffer's filter,
 * leaves (one CAS) and completes its bio. A buffer is sealed when a
 * write does not fit, by the timer (delay_us after its first write), and
 * by a flush; the next writer then opens the next buffer, if its last
 * cycle is on disk. The last writer out of a sealed buffer, or the sealer
 * if none was inside, hands it to the flusher, which writes cycles
 * strictly in order: it sorts a buffer's records by backing sector,
 * merges neighbours into writes of up to 1 MiB, submits them, waits, and
 * only then calls the cycle done, so a later cycle never lands before an
 * earlier one. Inside one buffer, a record that overlaps an older one is
 * written in a later wave, after the older one completed.
 *
 * When no buffer has room, or a write is larger than 256 KiB, it goes
 * directly to the backing device, unless buffered data covers one of its
 * blocks: then it waits for that
 * data to reach the disk, and is sent again. Nothing here sleeps or
 * allocates on the I/O path: the memory is allocated when the buffer is
 * switched on, and bios that must wait are queued on their buffer and
 * sent again by the flusher. Memory pressure changes nothing: no page of
 * the page cache waits on the buffer, since writes complete at once.
 *
 * What merging loses: a merged write carries none of the cgroup, ioprio
 * or write-hint information of the writes in it (REQ_SYNC, REQ_META and
 * REQ_PRIO are kept).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include "debug.h"
#include "vmem.h"
#include "wbuf.h"

/* Every record starts with this much header, so its data is aligned */
#define VMEM_WB_HDR		512
/* Largest merged write */
#define VMEM_WB_MAX_BYTES	SZ_1M
/*
 * Largest buffered write: larger ones gain nothing from merging and go
 * directly (and one record's data then always fits one bio)
 */
#define VMEM_WB_MAX_WRITE	SZ_256K
#define VMEM_WB_BLOCK_SHIFT	(12 - SECTOR_SHIFT)

/**
 * struct vmem_wb_rec - header of one buffered write, in the buffer
 * @phys: backing sector its data goes to
 * @dev: its device, alive while @idx is held
 * @bytes: data bytes after the header
 * @idx: its in-flight read side, held until the data is written
 * @opf: REQ_SYNC, REQ_META and REQ_PRIO of the write
 * @wave: the flusher's: written after every older overlapping record
 * @status: the flusher's: how its write ended
 */
struct vmem_wb_rec {
	u64 phys;
	struct vmem_dev *dev;
	u32 bytes;
	int idx;
	blk_opf_t opf;
	u32 wave;
	blk_status_t status;
};

/**
 * struct vmem_wb_wave - the flusher's table: last wave of a 4 KiB block
 * @block: the block plus one; 0 for an empty slot
 * @wave: the latest wave that writes it
 */
struct vmem_wb_wave {
	u64 block;
	u32 wave;
};

/* One wave of merged writes in flight */
struct vmem_wb_batch {
	atomic_t pending;
	struct completion done;
};

/* The records of one merged write */
struct vmem_wb_run {
	struct vmem_wb_batch *batch;
	struct vmem_wb_rec **recs;
	unsigned int n;
};

static struct vmem_wb *vmem_wb_of(struct vmem_pool *pool)
{
	return &pool->wb;
}

static u64 vmem_wb_used(struct vmem_wbuf *b)
{
	return vmem_wb_unpack(atomic64_read(&b->state)).used;
}

static unsigned long vmem_wb_hash(u64 block)
{
	return hash_64(block, VMEM_WB_FILTER_SHIFT);
}

static void vmem_wb_mark(struct vmem_wbuf *b, u64 phys, u32 bytes)
{
	u64 blk = phys >> VMEM_WB_BLOCK_SHIFT;
	u64 end = blk + DIV_ROUND_UP(bytes, 4096);

	for (; blk < end; blk++)
		set_bit(vmem_wb_hash(blk), b->filter);
}

static bool vmem_wb_holds(struct vmem_wbuf *b, u64 phys, u32 bytes)
{
	u64 blk = phys >> VMEM_WB_BLOCK_SHIFT;
	u64 end = blk + DIV_ROUND_UP(bytes, 4096);

	for (; blk < end; blk++)
		if (test_bit(vmem_wb_hash(blk), b->filter))
			return true;
	return false;
}

static void vmem_wb_queue(struct vmem_wb *wb)
{
	queue_work(wb->wq, &wb->work);
}

/* Seal cycle @c if its buffer still holds it, and see it gets written */
static void vmem_wb_seal_cycle(struct vmem_wb *wb, u64 c)
{
	struct vmem_wbuf *b = &wb->buf[c % VMEM_WB_BUFS];

	if (READ_ONCE(b->cycle) == c && vmem_wb_seal(&b->state))
		vmem_wb_queue(wb);
}

/*
 * Seal the open buffer if it holds anything. Return: the newest cycle a
 * flush must wait for.
 */
static u64 vmem_wb_seal_open(struct vmem_wb *wb)
{
	u64 h = atomic64_read_acquire(&wb->head);

	if (!vmem_wb_used(&wb->buf[h % VMEM_WB_BUFS]))
		return h - 1;
	vmem_wb_seal_cycle(wb, h);
	return h;
}

/*
 * Open the buffer after cycle @h, if @h is sealed and the buffer's last
 * cycle is on disk. Return: false if the ring has no room.
 */
static bool vmem_wb_advance(struct vmem_wb *wb, u64 h)
{
	struct vmem_wbuf *next = &wb->buf[(h + 1) % VMEM_WB_BUFS];
	unsigned long flags;
	bool ok = true;

	spin_lock_irqsave(&wb->ring_lock, flags);
	if (atomic64_read(&wb->head) != h)
		goto out_unlock;
	if (!vmem_wb_unpack(atomic64_read(&wb->buf[h % VMEM_WB_BUFS].state)).sealed ||
	    atomic64_read_acquire(&wb->done) + VMEM_WB_BUFS < h + 1) {
		ok = false;
		goto out_unlock;
	}
	/*
	 * Its filter was cleared before its last cycle was done. The
	 * flusher reads cycle and state under ring_lock: it never sees the
	 * new cycle with the old cycle's "sealed, empty" state
	 */
	smp_store_release(&next->cycle, h + 1);
	vmem_hook(VMEM_HOOK_WB_OPEN);
	atomic64_set(&next->state, 0);
	atomic64_set_release(&wb->head, h + 1);
out_unlock:
	spin_unlock_irqrestore(&wb->ring_lock, flags);
	return ok;
}

/*
 * Queue @bio on buffer @b to be sent again (or, for a flush, served)
 * once cycle @c is on disk. Return: false if it is on disk already.
 */
static bool vmem_wb_park(struct vmem_wb *wb, struct vmem_wbuf *b, u64 c,
			 struct bio *bio, bool flush)
{
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&b->lock, flags);
	ok = READ_ONCE(b->cycle) == c && atomic64_read(&wb->done) < c;
	if (ok)
		bio_list_add(flush ? &b->flushes : &b->waiters, bio);
	spin_unlock_irqrestore(&b->lock, flags);
	if (ok)
		atomic64_inc(&wb->waits);
	return ok;
}

/* The newest buffer not yet on disk that may hold one of these blocks */
static struct vmem_wbuf *vmem_wb_find(struct vmem_wb *wb, u64 phys,
				      u32 bytes, u64 *cycle)
{
	u64 done = atomic64_read(&wb->done), best = 0, c;
	struct vmem_wbuf *hit = NULL;
	int i;

	for (i = 0; i < VMEM_WB_BUFS; i++) {
		struct vmem_wbuf *b = &wb->buf[i];

		/* Pairs with vmem_wb_advance(): no stale filter for c */
		c = smp_load_acquire(&b->cycle);
		if (c <= done || c <= best || !vmem_wb_used(b))
			continue;
		if (vmem_wb_holds(b, phys, bytes)) {
			hit = b;
			best = c;
		}
	}
	*cycle = best;
	return hit;
}

/**
 * vmem_wb_wait_hit() - queue a bio behind buffered data of its blocks
 * @pool: the pool
 * @bio: a read, a FUA write, or a write the buffer has no room for,
 *	within one bucket
 * @phys: its backing sector
 * @srcu_idx: its in-flight read side, released if the bio is queued
 *
 * Return: true if the bio was queued: it is sent again, from the top,
 * once the data is on disk. False if no buffered data covers its blocks.
 */
bool vmem_wb_wait_hit(struct vmem_pool *pool, struct bio *bio, u64 phys,
		      int srcu_idx)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct vmem_wbuf *b;
	u64 c;

	if (!READ_ONCE(wb->active))
		return false;
	for (;;) {
		b = vmem_wb_find(wb, phys, bio->bi_iter.bi_size, &c);
		if (!b)
			return false;
		vmem_wb_seal_cycle(wb, c);
		if (vmem_wb_park(wb, b, c, bio, false)) {
			vmem_io_exit(pool, srcu_idx);
			return true;
		}
	}
}

/* Copy @bio into the record at @off of @b and complete it */
static void vmem_wb_fill(struct vmem_wbuf *b, u64 off, struct vmem_dev *dev,
			 struct bio *bio, u64 phys, int srcu_idx)
{
	struct vmem_wb_rec *rec = (void *)(b->data + off);
	unsigned long start = bio_start_io_acct(bio);
	u8 *dst = b->data + off + VMEM_WB_HDR;
	struct bvec_iter iter;
	struct bio_vec bv;

	*rec = (struct vmem_wb_rec){
		.phys = phys,
		.dev = dev,
		.bytes = bio->bi_iter.bi_size,
		.idx = srcu_idx,
		.opf = bio->bi_opf & (REQ_SYNC | REQ_META | REQ_PRIO),
	};
	bio_for_each_segment(bv, bio, iter) {
		memcpy_from_bvec(dst, &bv);
		dst += bv.bv_len;
	}
	vmem_wb_mark(b, phys, rec->bytes);
	bio_end_io_acct(bio, start);
}

/**
 * vmem_wb_write() - buffer a write to a provisioned bucket
 * @dev: its device
 * @bio: a write with data, no REQ_PREFLUSH or REQ_FUA, within one bucket
 * @phys: its backing sector
 * @srcu_idx: its in-flight read side; kept until its data is written
 *
 * Return: true if the buffer took the bio (completed, or queued behind
 * buffered data of its blocks); false if the caller must send it now.
 */
bool vmem_wb_write(struct vmem_dev *dev, struct bio *bio, u64 phys,
		   int srcu_idx)
{
	struct vmem_pool *pool = dev->pool;
	struct vmem_wb *wb = vmem_wb_of(pool);
	u64 need = VMEM_WB_HDR + bio->bi_iter.bi_size, off, h;
	struct vmem_wbuf *b;
	int tries;

	if (!READ_ONCE(wb->enabled) || need > wb->buf_bytes ||
	    bio->bi_iter.bi_size > VMEM_WB_MAX_WRITE)
		goto direct;
	for (tries = 0; tries < VMEM_WB_BUFS; tries++) {
		h = atomic64_read_acquire(&wb->head);
		b = &wb->buf[h % VMEM_WB_BUFS];
		switch (vmem_wb_reserve(&b->state, wb->buf_bytes, need,
					VMEM_WB_HDR + 4096, &off)) {
		case VMEM_WB_RESERVED:
		case VMEM_WB_RESERVED_LAST:
			vmem_wb_fill(b, off, dev, bio, phys, srcu_idx);
			if (!off)
				hrtimer_start(&wb->timer,
					      ns_to_ktime(READ_ONCE(wb->delay_us) *
							  NSEC_PER_USEC),
					      HRTIMER_MODE_REL);
			if (vmem_wb_leave(&b->state))
				vmem_wb_queue(wb);
			bio_endio(bio);
			return true;
		case VMEM_WB_REFUSED_FULL:
			if (vmem_wb_seal(&b->state))
				vmem_wb_queue(wb);
			fallthrough;
		case VMEM_WB_REFUSED_SEALED:
			if (!vmem_wb_advance(wb, h))
				goto direct;
			continue;
		default:
			goto direct;
		}
	}
direct:
	if (vmem_wb_wait_hit(pool, bio, phys, srcu_idx))
		return true;
	atomic64_inc(&wb->direct);
	return false;
}

/**
 * vmem_wb_flush() - a REQ_PREFLUSH bio: wait for what is buffered
 * @dev: its device
 * @bio: the bio
 *
 * Return: true if the bio waits for buffered data; once that is on disk
 * the flusher hands it to vmem_io_flushed(). False if nothing is
 * buffered that it must wait for.
 */
bool vmem_wb_flush(struct vmem_dev *dev, struct bio *bio)
{
	struct vmem_wb *wb = vmem_wb_of(dev->pool);
	u64 t;

	if (!READ_ONCE(wb->active))
		return false;
	t = vmem_wb_seal_open(wb);
	if (atomic64_read(&wb->done) >= t)
		return false;
	return vmem_wb_park(wb, &wb->buf[t % VMEM_WB_BUFS], t, bio, true);
}

/**
 * vmem_wb_kick() - start writing out what is buffered now
 * @pool: the pool
 */
void vmem_wb_kick(struct vmem_pool *pool)
{
	struct vmem_wb *wb = vmem_wb_of(pool);

	if (READ_ONCE(wb->active))
		vmem_wb_seal_open(wb);
}

/**
 * vmem_wb_sync() - write out what is buffered now, and wait
 * @pool: the pool
 *
 * Also waits until the bios that waited for it have been sent again.
 * May sleep; not from the flusher.
 */
void vmem_wb_sync(struct vmem_pool *pool)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	u64 t;

	if (!READ_ONCE(wb->active))
		return;
	t = vmem_wb_seal_open(wb);
	wait_event(wb->done_wq, atomic64_read(&wb->done) >= t);
	flush_workqueue(wb->wq);
}

static enum hrtimer_restart vmem_wb_timer(struct hrtimer *t)
{
	struct vmem_wb *wb = container_of(t, struct vmem_wb, timer);

	vmem_wb_seal_open(wb);
	return HRTIMER_NORESTART;
}

static int vmem_wb_cmp(const void *a, const void *b)
{
	const struct vmem_wb_rec *x = *(struct vmem_wb_rec * const *)a;
	const struct vmem_wb_rec *y = *(struct vmem_wb_rec * const *)b;

	if (x->wave != y->wave)
		return x->wave < y->wave ? -1 : 1;
	if (x->phys != y->phys)
		return x->phys < y->phys ? -1 : 1;
	return 0;
}

/* The flusher's table slot of @block (plus one), found or free */
static struct vmem_wb_wave *vmem_wb_wave_slot(struct vmem_wb *wb, u64 block)
{
	unsigned int mask = wb->nwaves - 1;
	unsigned int i = hash_64(block, ilog2(wb->nwaves));

	while (wb->waves[i].block && wb->waves[i].block != block)
		i = (i + 1) & mask;
	return &wb->waves[i];
}

/*
 * Give each record (in the order written) a wave one past the latest
 * wave of any older record sharing a 4 KiB block with it. Return: the
 * last wave.
 */
static u32 vmem_wb_waves(struct vmem_wb *wb, unsigned int n)
{
	u32 last = 0, w;
	unsigned int i;
	u64 blk, end;

	memset(wb->waves, 0, wb->nwaves * sizeof(*wb->waves));
	for (i = 0; i < n; i++) {
		struct vmem_wb_rec *rec = wb->recs[i];
		struct vmem_wb_wave *s;

		blk = (rec->phys >> VMEM_WB_BLOCK_SHIFT) + 1;
		end = blk + DIV_ROUND_UP(rec->bytes, 4096);
		for (w = 0; blk < end; blk++) {
			s = vmem_wb_wave_slot(wb, blk);
			if (s->block)
				w = max(w, s->wave + 1);
		}
		for (blk = end - DIV_ROUND_UP(rec->bytes, 4096); blk < end;
		     blk++) {
			s = vmem_wb_wave_slot(wb, blk);
			s->block = blk;
			s->wave = w;
		}
		rec->wave = w;
		last = max(last, w);
	}
	return last;
}

static void vmem_wb_end_io(struct bio *bio)
{
	struct vmem_wb_run *run = bio->bi_private;
	unsigned int i;

	for (i = 0; i < run->n; i++)
		run->recs[i]->status = bio->bi_status;
	bio_put(bio);
	if (atomic_dec_and_test(&run->batch->pending))
		complete(&run->batch->done);
}

/* Add the data of @rec to @bio, page by page */
static void vmem_wb_add_pages(struct bio *bio, struct vmem_wb_rec *rec)
{
	u8 *p = (u8 *)rec + VMEM_WB_HDR;
	u32 left = rec->bytes;

	flush_kernel_vmap_range(p, left);
	while (left) {
		unsigned int len = min_t(u32, left,
					 PAGE_SIZE - offset_in_page(p));

		/* Sized by vmem_wb_vecs(): cannot fail */
		WARN_ON_ONCE(!bio_add_page(bio, vmalloc_to_page(p), len,
					   offset_in_page(p)));
		p += len;
		left -= len;
	}
}

static unsigned int vmem_wb_vecs(struct vmem_wb_rec *rec)
{
	u8 *p = (u8 *)rec + VMEM_WB_HDR;

	return DIV_ROUND_UP(offset_in_page(p) + rec->bytes, PAGE_SIZE);
}

/* Write @n records, sorted and all of one wave, merged; wait for them */
static void vmem_wb_write_wave(struct vmem_pool *pool,
			       struct vmem_wb_rec **recs, unsigned int n,
			       struct vmem_wb_run *runs)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct vmem_wb_batch batch;
	unsigned int i, j, vecs, nruns = 0;
	struct bio *bio;
	blk_opf_t opf;
	u64 end, bytes;

	atomic_set(&batch.pending, 1);
	init_completion(&batch.done);
	for (i = 0; i < n; i = j) {
		vecs = vmem_wb_vecs(recs[i]);
		bytes = recs[i]->bytes;
		end = recs[i]->phys + (bytes >> SECTOR_SHIFT);
		opf = recs[i]->opf;
		for (j = i + 1; j < n; j++) {
			if (recs[j]->phys != end ||
			    vecs + vmem_wb_vecs(recs[j]) > BIO_MAX_VECS ||
			    bytes + recs[j]->bytes > VMEM_WB_MAX_BYTES)
				break;
			vecs += vmem_wb_vecs(recs[j]);
			bytes += recs[j]->bytes;
			end += recs[j]->bytes >> SECTOR_SHIFT;
			opf |= recs[j]->opf;
		}
		runs[nruns] = (struct vmem_wb_run){
			.batch = &batch, .recs = &recs[i], .n = j - i,
		};
		bio = bio_alloc_bioset(pool->bdev, vecs, REQ_OP_WRITE | opf,
				       GFP_NOIO, &wb->bs);
		bio->bi_iter.bi_sector = recs[i]->phys;
		bio->bi_private = &runs[nruns++];
		bio->bi_end_io = vmem_wb_end_io;
		while (i < j)
			vmem_wb_add_pages(bio, recs[i++]);
		atomic_inc(&batch.pending);
		atomic64_inc(&wb->merged);
		submit_bio_noacct(bio);
	}
	if (!atomic_dec_and_test(&batch.pending))
		wait_for_completion(&batch.done);
}

/* A record whose merged write failed: once more on its own */
static void vmem_wb_retry(struct vmem_pool *pool, struct vmem_wb_rec *rec)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct bio *bio;
	int ret;

	bio = bio_alloc_bioset(pool->bdev, vmem_wb_vecs(rec),
			       REQ_OP_WRITE | rec->opf, GFP_NOIO, &wb->bs);
	bio->bi_iter.bi_sector = rec->phys;
	vmem_wb_add_pages(bio, rec);
	ret = submit_bio_wait(bio);
	bio_put(bio);
	if (!ret)
		return;
	atomic64_inc(&wb->errors);
	set_bit(VMEM_DEV_F_WB_ERROR, &rec->dev->flags);
	pr_err_ratelimited("vmem%u: buffered write of %u bytes to %pg sector %llu failed (%d): its data is lost; the next flush of vmem%u fails\n",
			   rec->dev->id, rec->bytes, pool->bdev, rec->phys,
			   ret, rec->dev->id);
}

/* Write every record of sealed buffer @b, @used bytes, in waves */
static void vmem_wb_write_out(struct vmem_pool *pool, struct vmem_wbuf *b,
			      u64 used)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct vmem_wb_run *runs = wb->runs;
	unsigned int n = 0, i, j;
	struct vmem_wb_rec *rec;
	u64 off;
	u32 last;

	for (off = 0; off < used && n < wb->nrecs;
	     off += VMEM_WB_HDR + rec->bytes) {
		rec = (void *)(b->data + off);
		rec->status = BLK_STS_OK;
		wb->recs[n++] = rec;
	}
	last = vmem_wb_waves(wb, n);
	sort(wb->recs, n, sizeof(*wb->recs), vmem_wb_cmp, NULL);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && wb->recs[j]->wave == wb->recs[i]->wave;
		     j++)
			;
		vmem_wb_write_wave(pool, &wb->recs[i], j - i, runs);
	}
	for (i = 0; i < n; i++) {
		rec = wb->recs[i];
		if (rec->status)
			vmem_wb_retry(pool, rec);
	}
	atomic64_add(n, &wb->records);
	for (i = 0; i < n; i++) {
		rec = wb->recs[i];
		vmem_io_exit(pool, rec->idx);
	}
	if (last)
		pr_debug("%pg: a buffer needed %u waves\n", pool->bdev,
			 last + 1);
}

/* Send again, or serve, the bios that waited for a cycle */
static void vmem_wb_release(struct bio_list *waiters, struct bio_list *flushes)
{
	struct bio *bio;

	while ((bio = bio_list_pop(waiters)))
		submit_bio_noacct(bio);
	while ((bio = bio_list_pop(flushes)))
		vmem_io_flushed(bio);
}

static void vmem_wb_work(struct work_struct *work)
{
	struct vmem_wb *wb = container_of(work, struct vmem_wb, work);
	struct vmem_pool *pool = container_of(wb, struct vmem_pool, wb);
	struct bio_list waiters, flushes;
	struct vmem_wb_state s;
	struct vmem_wbuf *b;
	u64 c, cycle;

	for (;;) {
		c = atomic64_read(&wb->done) + 1;
		b = &wb->buf[c % VMEM_WB_BUFS];
		/*
		 * vmem_wb_advance() publishes a cycle and resets its state
		 * under ring_lock: read both as one, or the buffer's last
		 * cycle (sealed, written) would pass for this one, which
		 * would then be called done and never written
		 */
		spin_lock_irq(&wb->ring_lock);
		cycle = b->cycle;
		/* Pairs with vmem_wb_leave(): the records are filled */
		s = vmem_wb_unpack(atomic64_read_acquire(&b->state));
		spin_unlock_irq(&wb->ring_lock);
		if (cycle != c || !s.sealed || s.writers)
			return;
		if (s.used)
			vmem_wb_write_out(pool, b, s.used);
		bitmap_zero(b->filter, BIT(VMEM_WB_FILTER_SHIFT));
		/* Sealed and empty: a late writer is refused, not lost */
		atomic64_set_release(&b->state, VMEM_WB_SEALED);
		spin_lock_irq(&b->lock);
		/* Pairs with vmem_wb_advance(): filter and state reset */
		atomic64_set_release(&wb->done, c);
		waiters = b->waiters;
		flushes = b->flushes;
		bio_list_init(&b->waiters);
		bio_list_init(&b->flushes);
		spin_unlock_irq(&b->lock);
		atomic64_inc(&wb->cycles);
		wake_up_all(&wb->done_wq);
		vmem_wb_release(&waiters, &flushes);
		cond_resched();
	}
}

static void vmem_wb_free(struct vmem_wb *wb)
{
	int i;

	for (i = 0; i < VMEM_WB_BUFS; i++) {
		vfree(wb->buf[i].data);
		wb->buf[i].data = NULL;
		bitmap_free(wb->buf[i].filter);
		wb->buf[i].filter = NULL;
	}
	kvfree(wb->recs);
	wb->recs = NULL;
	kvfree(wb->runs);
	wb->runs = NULL;
	kvfree(wb->waves);
	wb->waves = NULL;
}

/* Allocate @wb->mb MiB of buffers and the flusher's tables; reset the ring */
static int vmem_wb_alloc(struct vmem_wb *wb)
{
	size_t bytes = round_down(((size_t)wb->mb << 20) / VMEM_WB_BUFS,
				  PAGE_SIZE);
	int i;

	wb->buf_bytes = bytes;
	wb->nrecs = bytes / (VMEM_WB_HDR + 4096) + 1;
	wb->nwaves = roundup_pow_of_two(2 * (bytes >> 12) + 2);
	wb->recs = kvmalloc_array(wb->nrecs, sizeof(*wb->recs), GFP_KERNEL);
	wb->runs = kvmalloc_array(wb->nrecs, sizeof(struct vmem_wb_run),
				  GFP_KERNEL);
	wb->waves = kvmalloc_array(wb->nwaves, sizeof(*wb->waves),
				   GFP_KERNEL);
	if (!wb->recs || !wb->runs || !wb->waves)
		goto out_free;
	for (i = 0; i < VMEM_WB_BUFS; i++) {
		struct vmem_wbuf *b = &wb->buf[i];

		b->data = vmalloc(bytes);
		b->filter = bitmap_zalloc(BIT(VMEM_WB_FILTER_SHIFT),
					  GFP_KERNEL);
		if (!b->data || !b->filter)
			goto out_free;
		bio_list_init(&b->waiters);
		bio_list_init(&b->flushes);
		/* Cycles 1..N-1 are done; cycle N is open in buf[0] */
		b->cycle = i ? i : VMEM_WB_BUFS;
		atomic64_set(&b->state, i ? VMEM_WB_SEALED : 0);
	}
	atomic64_set(&wb->done, VMEM_WB_BUFS - 1);
	atomic64_set(&wb->head, VMEM_WB_BUFS);
	return 0;

out_free:
	vmem_wb_free(wb);
	return -ENOMEM;
}

/**
 * vmem_wb_set() - switch the write buffer on or off
 * @pool: the pool
 * @on: the new setting
 *
 * On allocates the buffers (mb MiB); off writes out everything buffered
 * and frees them. Callers are serialized by vmem_ctl_mutex.
 *
 * Return: 0, or -ENOMEM when the buffers cannot be allocated.
 */
int vmem_wb_set(struct vmem_pool *pool, bool on)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	int ret;

	if (on == READ_ONCE(wb->active))
		return 0;
	if (on) {
		ret = vmem_wb_alloc(wb);
		if (ret)
			return ret;
		WRITE_ONCE(wb->active, true);
		WRITE_ONCE(wb->enabled, true);
		return 0;
	}
	/* No new buffered write; each one in flight holds a read side */
	WRITE_ONCE(wb->enabled, false);
	vmem_wb_kick(pool);
	vmem_drain(pool);
	/* Every record is written: nothing is buffered any more */
	vmem_wb_sync(pool);
	WRITE_ONCE(wb->active, false);
	/* Readers that still looked at the buffers are gone after this */
	vmem_drain(pool);
	hrtimer_cancel(&wb->timer);
	flush_workqueue(wb->wq);
	vmem_wb_free(wb);
	return 0;
}

/**
 * vmem_wb_resize() - set the size of the buffers, in MiB
 * @pool: the pool
 * @mb: 1..VMEM_WB_MB_MAX
 *
 * A buffer that is on is switched off and on again with the new size.
 */
int vmem_wb_resize(struct vmem_pool *pool, unsigned int mb)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	bool on = READ_ONCE(wb->active);
	int ret;

	if (on)
		vmem_wb_set(pool, false);
	wb->mb = mb;
	if (!on)
		return 0;
	ret = vmem_wb_set(pool, true);
	if (ret)
		pr_err("%pg: write buffer of %u MiB: cannot allocate it, left off\n",
		       pool->bdev, mb);
	return ret;
}

int vmem_wb_init(struct vmem_pool *pool, bool on, unsigned int delay_us,
		 unsigned int mb)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	int i, ret;

	for (i = 0; i < VMEM_WB_BUFS; i++)
		spin_lock_init(&wb->buf[i].lock);
	spin_lock_init(&wb->ring_lock);
	init_waitqueue_head(&wb->done_wq);
	INIT_WORK(&wb->work, vmem_wb_work);
	hrtimer_init(&wb->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	wb->timer.function = vmem_wb_timer;
	wb->delay_us = delay_us;
	wb->mb = mb;
	ret = bioset_init(&wb->bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	wb->wq = alloc_ordered_workqueue("vmem_wb", WQ_MEM_RECLAIM |
					 WQ_HIGHPRI);
	if (!wb->wq) {
		bioset_exit(&wb->bs);
		return -ENOMEM;
	}
	return on ? vmem_wb_set(pool, true) : 0;
}

/* Every device is gone and drained: nothing is buffered any more */
void vmem_wb_exit(struct vmem_pool *pool)
{
	struct vmem_wb *wb = vmem_wb_of(pool);

	if (!wb->wq)
		return;
	vmem_wb_set(pool, false);
	hrtimer_cancel(&wb->timer);
	destroy_workqueue(wb->wq);
	wb->wq = NULL;
	bioset_exit(&wb->bs);
}
