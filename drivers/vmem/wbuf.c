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
 * CAS on its state word (wbuf_state.h) reserves a record (a header of
 * 512 bytes, or 4 KiB over a disk that needs it, then the data, which so
 * stays aligned), the writer
 * copies its data in, marks its 4 KiB blocks in the buffer's filter,
 * leaves (one CAS) and completes its bio. A buffer is sealed when a
 * write does not fit, by the timer (delay_us after its first write), and
 * by a flush; the next writer then opens the next buffer, if its last
 * cycle is on disk. The last writer out of a sealed buffer, or the sealer
 * if none was inside, hands it to the flusher (or, below, a flush that
 * sealed it keeps it), which writes cycles
 * strictly in order: it sorts a buffer's records by backing sector,
 * merges neighbours into writes of up to 1 MiB, submits them, waits, and
 * only then calls the cycle done, so a later cycle never lands before an
 * earlier one (but for flushes' write-outs below, which may overlap
 * when they share no 4 KiB block). Inside one buffer, a record that overlaps an older one is
 * written in a later wave, after the older one completed.
 *
 * A flush that finds only a few records in the open buffer and no map
 * change to commit, with every older cycle done, takes the cycle from
 * the flusher (one cmpxchg on @taken, which the flusher does too, so one
 * of them writes it) and writes it itself, from ->submit_bio, without
 * waiting: merged writes with REQ_FUA, the first also with REQ_PREFLUSH
 * (which makes durable what completed before the flush); on a disk with
 * a write cache but no FUA, which would flush before and after each such
 * write, plain writes and one flush once they ended. When they end
 * and the cycle before is done, the cycle is done and the flush ends
 * (vmem_wb_chain(), any context); a failed write, or bios that waited
 * for the cycle, go to the flusher, which retries and resends in task
 * context. An fsync after each small write so costs one trip to the
 * disk (two without FUA: its write, then one flush), not a hand-over to
 * the flusher and a flush after its write. Several writers that each
 * fsync overlap: a flush may also take the open cycle while the cycles
 * before it are still being written out by flushes this way, if none of
 * its blocks is in them; the cycles are still called done in order
 * (vmem_wb_chain()), and its flush ends when its own cycle is.
 *
 * When no buffer has room, or a write is larger than 256 KiB, it goes
 * directly to the backing device, unless buffered data covers one of its
 * blocks: then it waits for that data to reach the disk, and is sent
 * again. Nothing here sleeps on the I/O path, and nothing allocates
 * there but a flush's own write-out, without waiting (GFP_NOWAIT; it
 * leaves the cycle to the flusher when that fails), and a flush beside
 * it, which goes on to the backing device as any flush does
 * (vmem_remap_submit()). The buffers are allocated when the buffer is
 * switched on, and bios that must wait are queued on their buffer and
 * sent again by the flusher. Memory pressure changes nothing: no page of
 * the page cache waits on the buffer, since writes complete at once.
 *
 * What merging loses: a merged write carries none of the cgroup, ioprio
 * or write-hint information of the writes in it (REQ_SYNC, REQ_META and
 * REQ_PRIO are kept).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include "debug.h"
#include "vmem.h"
#include "wbuf.h"

/*
 * Every record starts with a header of @wb->hdr bytes, so its data is
 * aligned: this many, or more (vmem_wb_hdr_bytes())
 */
#define VMEM_WB_HDR		512
/* Largest merged write */
#define VMEM_WB_MAX_BYTES	SZ_1M
/*
 * Largest buffered write: larger ones gain nothing from merging and go
 * directly (and one record's data then always fits one bio)
 */
#define VMEM_WB_MAX_WRITE	SZ_256K
#define VMEM_WB_BLOCK_SHIFT	(12 - SECTOR_SHIFT)
/*
 * A flush writes the open buffer itself (vmem_wb_flush_self()) when it
 * holds at most this many records, in at most this many merged writes
 */
#define VMEM_WB_SELF_RECS	16
#define VMEM_WB_SELF_WRITES	4

/**
 * struct vmem_wb_rec - header of one buffered write, in the buffer
 * @phys: backing sector its data goes to
 * @dev: its device, alive while @idx is held
 * @bytes: data bytes after the header
 * @hdr: header bytes before them (the ring's @hdr when it was written)
 * @idx: its in-flight read side, held until the data is written
 * @opf: REQ_SYNC, REQ_META and REQ_PRIO of the write
 * @wave: the flusher's: written after every older overlapping record
 * @status: the flusher's: how its write ended (an error: write it again;
 *	also set on every record of a plain write-out that failed in part)
 */
struct vmem_wb_rec {
	u64 phys;
	struct vmem_dev *dev;
	u32 bytes;
	u32 hdr;
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

/**
 * struct vmem_wb_batch - merged writes of one wave in flight
 * @pending: writes not yet ended, plus one while they are sent
 * @done: the flusher waits here for its own batches
 * @self: for a flush's write-out, its state; NULL for the flusher's
 */
struct vmem_wb_batch {
	atomic_t pending;
	struct completion done;
	struct vmem_wb_self *self;
};

/* The records of one merged write */
struct vmem_wb_run {
	struct vmem_wb_batch *batch;
	struct vmem_wb_rec **recs;
	unsigned int n;
	unsigned int vecs;
	blk_opf_t opf;
};

/*
 * Where a flush's write-out of a cycle stands: the low bits of struct
 * vmem_wb_self's @stage, above them the cycle (vmem_wb_stage())
 */
enum {
	VMEM_WB_SELF_SENT,	/* in flight; or finished, or given back */
	VMEM_WB_SELF_WRITTEN,	/* every write, and its flush, ended well */
	VMEM_WB_SELF_FAILED,	/* a write failed: the flusher retries */
	VMEM_WB_SELF_EMPTIED,	/* written, emptied; bios wait: the flusher */
	VMEM_WB_SELF_BUSY,	/* being finished */
};

#define VMEM_WB_STAGE_BITS	3

/**
 * struct vmem_wb_self - a flush's write-out of one buffer
 * @batch: its merged writes in flight
 * @wb: the write buffer
 * @buf: the buffer
 * @flush: the flush that writes it; ends once the cycle is done
 * @cycle: the cycle it writes
 * @idx: an in-flight read side, held until its writes (and @post) ended
 * @post: on a disk with a write cache but no FUA, the flush sent once
 *	the writes (sent without REQ_FUA) have ended; NULL otherwise
 * @post_work: sends @post, in task context
 * @post_status: how @post ended; the flush fails with it if it failed
 * @nrecs: how many of @recs it writes
 * @stage: the cycle and where its write-out stands (VMEM_WB_SELF_*): its
 *	writes' completion (or its @post's) sets it, then one cmpxchg to BUSY picks who
 *	finishes the cycle; the cycle in it keeps a late context from
 *	claiming a later cycle of this buffer. Set back to SENT before
 *	the cycle is done. The other fields are set by the flush before
 *	its writes are sent, and only read after that.
 * @recs: its records, sorted
 * @runs: its merged writes (room for one per record)
 */
struct vmem_wb_self {
	struct vmem_wb_batch batch;
	struct vmem_wb *wb;
	struct vmem_wbuf *buf;
	struct bio *flush;
	u64 cycle;
	int idx;
	struct bio *post;
	struct work_struct post_work;
	blk_status_t post_status;
	unsigned int nrecs;
	atomic64_t stage;
	struct vmem_wb_rec *recs[VMEM_WB_SELF_RECS + 1];
	struct vmem_wb_run runs[VMEM_WB_SELF_RECS + 1];
};

static s64 vmem_wb_stage(u64 cycle, int st)
{
	return cycle << VMEM_WB_STAGE_BITS | st;
}

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

	/* Pairs with the release in vmem_wb_set(): the ring is set up */
	if (!smp_load_acquire(&wb->active))
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
static void vmem_wb_fill(struct vmem_wbuf *b, u64 off, u32 hdr,
			 struct vmem_dev *dev, struct bio *bio, u64 phys,
			 int srcu_idx)
{
	struct vmem_wb_rec *rec = (void *)(b->data + off);
	unsigned long start = bio_start_io_acct(bio);
	u8 *dst = b->data + off + hdr;
	struct bvec_iter iter;
	struct bio_vec bv;

	*rec = (struct vmem_wb_rec){
		.phys = phys,
		.dev = dev,
		.bytes = bio->bi_iter.bi_size,
		.hdr = hdr,
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
	struct vmem_wbuf *b;
	u64 need, off, h;
	int tries;

	/* Pairs with the release in vmem_wb_set(): the ring is set up */
	if (!smp_load_acquire(&wb->enabled))
		goto direct;
	need = wb->hdr + bio->bi_iter.bi_size;
	if (need > wb->buf_bytes || bio->bi_iter.bi_size > VMEM_WB_MAX_WRITE)
		goto direct;
	for (tries = 0; tries < VMEM_WB_BUFS; tries++) {
		h = atomic64_read_acquire(&wb->head);
		b = &wb->buf[h % VMEM_WB_BUFS];
		switch (vmem_wb_reserve(&b->state, wb->buf_bytes, need,
					wb->hdr + 4096, &off)) {
		case VMEM_WB_RESERVED:
		case VMEM_WB_RESERVED_LAST:
			vmem_wb_fill(b, off, wb->hdr, dev, bio, phys,
				     srcu_idx);
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
 * vmem_wb_kick() - start writing out what is buffered now
 * @pool: the pool
 */
void vmem_wb_kick(struct vmem_pool *pool)
{
	struct vmem_wb *wb = vmem_wb_of(pool);

	/* Pairs with the release in vmem_wb_set(): the ring is set up */
	if (smp_load_acquire(&wb->active))
		vmem_wb_seal_open(wb);
}

/*
 * Cycle @t is done, or a switch-off wrote everything out since @offs was
 * read: after one, the next switch-on restarts the cycles below @t
 */
static bool vmem_wb_synced(struct vmem_wb *wb, u64 t, unsigned long offs)
{
	if (atomic64_read(&wb->done) >= t)
		return true;
	/* Pairs with the release in vmem_wb_set() */
	return smp_load_acquire(&wb->offs) != offs;
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
	unsigned long offs;
	int idx;
	u64 t;

	/*
	 * Look at the ring inside a read side, as a reader of the buffers
	 * does: a switch-off cannot free or reset the ring meanwhile (its
	 * second drain waits for this one)
	 */
	idx = srcu_read_lock(&pool->srcu);
	/* Pairs with the release in vmem_wb_set(): the ring is set up */
	if (!smp_load_acquire(&wb->active)) {
		srcu_read_unlock(&pool->srcu, idx);
		return;
	}
	/* Pairs with the release in vmem_wb_set() */
	offs = smp_load_acquire(&wb->offs);
	/*
	 * A cycle a flush took may be emptied already and handed back to
	 * the flusher: wait for it too, so the bios it resends are sent
	 * when flush_workqueue() returns
	 */
	t = max_t(u64, vmem_wb_seal_open(wb),
		  atomic64_read_acquire(&wb->taken));
	srcu_read_unlock(&pool->srcu, idx);
	vmem_hook(VMEM_HOOK_WB_SYNC);
	wait_event(wb->done_wq, vmem_wb_synced(wb, t, offs));
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

static void vmem_wb_self_end(struct vmem_wb_self *self);

static void vmem_wb_end_io(struct bio *bio)
{
	struct vmem_wb_run *run = bio->bi_private;
	struct vmem_wb_batch *batch = run->batch;
	unsigned int i;

	for (i = 0; i < run->n; i++)
		run->recs[i]->status = bio->bi_status;
	bio_put(bio);
	if (!atomic_dec_and_test(&batch->pending))
		return;
	if (batch->self)
		vmem_wb_self_end(batch->self);
	else
		complete(&batch->done);
}

/* Add the data of @rec to @bio, page by page */
static void vmem_wb_add_pages(struct bio *bio, struct vmem_wb_rec *rec)
{
	u8 *p = (u8 *)rec + rec->hdr;
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
	u8 *p = (u8 *)rec + rec->hdr;

	return DIV_ROUND_UP(offset_in_page(p) + rec->bytes, PAGE_SIZE);
}

/*
 * Group @n records, sorted and all of one wave, into merged writes of
 * neighbours, in @runs (room for @n). Return: how many.
 */
static unsigned int vmem_wb_merge(struct vmem_wb_rec **recs, unsigned int n,
				  struct vmem_wb_run *runs,
				  struct vmem_wb_batch *batch)
{
	unsigned int i, j, vecs, nruns = 0;
	blk_opf_t opf;
	u64 end, bytes;

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
		runs[nruns++] = (struct vmem_wb_run){
			.batch = batch, .recs = &recs[i], .n = j - i,
			.vecs = vecs, .opf = opf,
		};
	}
	return nruns;
}

/* The bio of merged write @run, with @flags added; NULL if @gfp fails */
static struct bio *vmem_wb_run_bio(struct vmem_pool *pool,
				   struct vmem_wb_run *run, blk_opf_t flags,
				   gfp_t gfp)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct bio *bio;
	unsigned int i;

	bio = bio_alloc_bioset(pool->bdev, run->vecs,
			       REQ_OP_WRITE | run->opf | flags, gfp, &wb->bs);
	if (!bio)
		return NULL;
	bio->bi_iter.bi_sector = run->recs[0]->phys;
	bio->bi_private = run;
	bio->bi_end_io = vmem_wb_end_io;
	for (i = 0; i < run->n; i++)
		vmem_wb_add_pages(bio, run->recs[i]);
	return bio;
}

/* Write @n records, sorted and all of one wave, merged; wait for them */
static void vmem_wb_write_wave(struct vmem_pool *pool,
			       struct vmem_wb_rec **recs, unsigned int n,
			       struct vmem_wb_run *runs)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct vmem_wb_batch batch = { .self = NULL };
	unsigned int i, nruns;

	atomic_set(&batch.pending, 1);
	init_completion(&batch.done);
	nruns = vmem_wb_merge(recs, n, runs, &batch);
	for (i = 0; i < nruns; i++) {
		atomic_inc(&batch.pending);
		atomic64_inc(&wb->merged);
		/* GFP_NOIO from a bio_set: cannot fail */
		submit_bio_noacct(vmem_wb_run_bio(pool, &runs[i], 0, GFP_NOIO));
	}
	if (!atomic_dec_and_test(&batch.pending))
		wait_for_completion(&batch.done);
}

/* A record whose merged write failed: once more on its own, with @flags */
static void vmem_wb_retry(struct vmem_pool *pool, struct vmem_wb_rec *rec,
			  blk_opf_t flags)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct bio *bio;
	int ret;

	bio = bio_alloc_bioset(pool->bdev, vmem_wb_vecs(rec),
			       REQ_OP_WRITE | rec->opf | flags, GFP_NOIO,
			       &wb->bs);
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

/* Retry, each on its own and with @flags, the @n records whose write failed */
static void vmem_wb_retry_failed(struct vmem_pool *pool,
				 struct vmem_wb_rec **recs, unsigned int n,
				 blk_opf_t flags)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (recs[i]->status)
			vmem_wb_retry(pool, recs[i], flags);
}

/*
 * List the records of sealed buffer @b, @used bytes, in @recs, at most
 * @max of them. Return: how many.
 */
static unsigned int vmem_wb_gather(struct vmem_wbuf *b, u64 used,
				   struct vmem_wb_rec **recs, unsigned int max)
{
	struct vmem_wb_rec *rec;
	unsigned int n = 0;
	u64 off;

	for (off = 0; off < used && n < max;
	     off += rec->hdr + rec->bytes) {
		rec = (void *)(b->data + off);
		rec->status = BLK_STS_OK;
		recs[n++] = rec;
	}
	return n;
}

/*
 * Write the @n listed records of a sealed buffer, in waves; wait. A
 * wave's failed records are retried before the next wave goes: a later
 * wave holds newer data of their blocks, which a retry after it would
 * overwrite.
 */
static void vmem_wb_write_out(struct vmem_pool *pool, unsigned int n)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	unsigned int i, j;
	u32 last;

	last = vmem_wb_waves(wb, n);
	sort(wb->recs, n, sizeof(*wb->recs), vmem_wb_cmp, NULL);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && wb->recs[j]->wave == wb->recs[i]->wave;
		     j++)
			;
		vmem_wb_write_wave(pool, &wb->recs[i], j - i, wb->runs);
		vmem_wb_retry_failed(pool, &wb->recs[i], j - i, 0);
	}
	if (last)
		pr_debug("%pg: a buffer needed %u waves\n", pool->bdev,
			 last + 1);
}

/*
 * The @n records of @b, listed in @recs, are written (or lost, and
 * logged): end their in-flight read sides and empty @b. Any context.
 */
static void vmem_wb_empty(struct vmem_pool *pool, struct vmem_wbuf *b,
			  struct vmem_wb_rec **recs, unsigned int n)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	unsigned int i;

	atomic64_add(n, &wb->records);
	for (i = 0; i < n; i++)
		vmem_io_exit(pool, recs[i]->idx);
	bitmap_zero(b->filter, BIT(VMEM_WB_FILTER_SHIFT));
	/* Sealed and empty: a late writer is refused, not lost */
	atomic64_set_release(&b->state, VMEM_WB_SEALED);
}

/*
 * A buffered write of flush @bio's device was lost: fail it, once (as
 * vmem_io_flushed() does). Before the cycle it waits for is called done:
 * only the flusher sets the bit, and only for cycles not yet done, so a
 * flush never takes the error of a write buffered after it, nor an older
 * flush's.
 */
static void vmem_wb_flush_failed(struct bio *bio)
{
	struct vmem_dev *dev = bio->bi_bdev->bd_disk->private_data;

	if (vmem_dev_take_wb_error(dev))
		bio->bi_status = BLK_STS_IOERR;
}

/*
 * Call cycle @c of @b done, and take the bios that waited for it into
 * @waiters and @flushes, and the flushes it covers into @covered; first
 * fail those flushes, and @flush (the one that wrote it, or NULL), whose
 * device lost a buffered write. Without @waiters (NULL), only if no bio
 * waits there or in @flushes. Return: false if such bios waited and no
 * lists were given. Any context.
 */
static bool vmem_wb_done(struct vmem_wb *wb, struct vmem_wbuf *b, u64 c,
			 struct bio_list *waiters, struct bio_list *flushes,
			 struct bio_list *covered, struct bio *flush)
{
	unsigned long flags;
	struct bio *bio;

	spin_lock_irqsave(&b->lock, flags);
	if (!waiters && !(bio_list_empty(&b->waiters) &&
			  bio_list_empty(&b->flushes))) {
		spin_unlock_irqrestore(&b->lock, flags);
		return false;
	}
	WARN_ON_ONCE(atomic64_read(&wb->done) != c - 1);
	if (flush)
		vmem_wb_flush_failed(flush);
	bio_list_for_each(bio, &b->flushes)
		vmem_wb_flush_failed(bio);
	bio_list_for_each(bio, &b->covered)
		vmem_wb_flush_failed(bio);
	/* Pairs with vmem_wb_advance(): filter and state reset */
	atomic64_set_release(&wb->done, c);
	if (waiters) {
		*waiters = b->waiters;
		*flushes = b->flushes;
		bio_list_init(&b->waiters);
		bio_list_init(&b->flushes);
	}
	*covered = b->covered;
	bio_list_init(&b->covered);
	spin_unlock_irqrestore(&b->lock, flags);
	atomic64_inc(&wb->cycles);
	wake_up_all(&wb->done_wq);
	return true;
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

/*
 * End the flushes a cycle a flush made durable covers (each also waits
 * for its own clone sent to the backing device); any context
 */
static void vmem_wb_end_covered(struct bio_list *covered)
{
	struct bio *bio;

	while ((bio = bio_list_pop(covered)))
		bio_endio(bio);
}

/*
 * Cycle @c is done: if the next one is sealed already, see the flusher
 * writes it (its sealer may have found cycle @c taken by a flush)
 */
static void vmem_wb_next(struct vmem_wb *wb, u64 c)
{
	struct vmem_wbuf *b = &wb->buf[(c + 1) % VMEM_WB_BUFS];

	/* Pairs with the full barrier of the CAS that sealed it */
	smp_mb();
	if (READ_ONCE(b->cycle) == c + 1 &&
	    vmem_wb_unpack(atomic64_read(&b->state)).sealed)
		vmem_wb_queue(wb);
}

/*
 * Cycle @c - 1 is done: finish cycle @c, and each one after it, while a
 * flush wrote it, it is durable (every write, and the flush after them,
 * ended well) and no bio waits for it. Empty
 * it, call it done, end its flush and the flushes it covers. Whatever
 * else comes next is the flusher's. Any context; the caller holds an
 * in-flight read side.
 */
static void vmem_wb_chain(struct vmem_pool *pool, u64 c)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct vmem_wb_self *self;
	struct bio_list covered;
	struct vmem_wbuf *b;
	struct bio *flush;

	for (;; c++) {
		b = &wb->buf[c % VMEM_WB_BUFS];
		self = b->self;
		if (atomic64_cmpxchg(&self->stage,
				     vmem_wb_stage(c, VMEM_WB_SELF_WRITTEN),
				     vmem_wb_stage(c, VMEM_WB_SELF_BUSY)) !=
		    vmem_wb_stage(c, VMEM_WB_SELF_WRITTEN))
			break;
		flush = self->flush;
		vmem_wb_empty(pool, b, self->recs, self->nrecs);
		atomic64_set(&self->stage, vmem_wb_stage(c, VMEM_WB_SELF_SENT));
		if (!vmem_wb_done(wb, b, c, NULL, NULL, &covered, flush)) {
			/* Bios wait for it: they are sent in task context */
			atomic64_set_release(&self->stage,
					     vmem_wb_stage(c, VMEM_WB_SELF_EMPTIED));
			vmem_wb_queue(wb);
			return;
		}
		/* Every record is durable, and what came before */
		bio_endio(flush);
		vmem_wb_end_covered(&covered);
		/* Pairs with vmem_wb_self_stage(): done, then its stage */
		smp_mb();
	}
	/*
	 * A write-out still in flight comes back here when it ends, and
	 * one being finished elsewhere goes on from there; a failed one,
	 * or a cycle the flusher writes, needs the flusher
	 */
	if (atomic64_read(&wb->taken) < c ||
	    atomic64_read(&self->stage) == vmem_wb_stage(c, VMEM_WB_SELF_FAILED))
		vmem_wb_next(wb, c - 1);
}

/*
 * A flush's write-out (vmem_wb_flush_self()) is durable, or failed; any
 * context. If the cycle before it is done, finish it (vmem_wb_chain());
 * else the one that finishes that cycle does. A failed write goes to the
 * flusher (vmem_wb_finish_self()), which retries it in task context.
 */
static void vmem_wb_self_stage(struct vmem_wb_self *self, int stage)
{
	struct vmem_wb *wb = self->wb;
	struct vmem_pool *pool = container_of(wb, struct vmem_pool, wb);
	int idx = self->idx;
	u64 c = self->cycle;

	/* From here on, @self is whoever finishes the cycle's */
	atomic64_set_release(&self->stage, vmem_wb_stage(c, stage));
	/* Pairs with vmem_wb_chain() and the flusher: stage, then done */
	smp_mb();
	if (stage == VMEM_WB_SELF_FAILED)
		vmem_wb_queue(wb);
	else if (atomic64_read(&wb->done) == c - 1)
		vmem_wb_chain(pool, c);
	/* Last: once this read side ends, the pool may go */
	vmem_io_exit(pool, idx);
}

/* The flush after a write-out has ended; any context */
static void vmem_wb_post_end(struct bio *bio)
{
	struct vmem_wb_self *self = bio->bi_private;
	blk_status_t status = bio->bi_status;
	unsigned int i;

	bio_put(bio);
	self->post = NULL;
	self->post_status = status;
	if (!status) {
		vmem_wb_self_stage(self, VMEM_WB_SELF_WRITTEN);
		return;
	}
	/* Not known durable: the flusher writes them again, with REQ_FUA */
	for (i = 0; i < self->nrecs; i++)
		self->recs[i]->status = status;
	vmem_wb_self_stage(self, VMEM_WB_SELF_FAILED);
}

static void vmem_wb_post_work(struct work_struct *work)
{
	struct vmem_wb_self *self = container_of(work, struct vmem_wb_self,
						 post_work);

	submit_bio_noacct(self->post);
}

/*
 * A flush's write-out has ended; any context. On a disk without FUA,
 * its writes are durable once a flush after them is: that flush is sent
 * from task context (vmem_wb_post_work()), and ends it. If a write
 * failed, that flush is not sent, and the writes that did not fail are
 * in the disk's cache only, while a younger cycle's flush, sent before
 * they ended (piped), counts on them: the flusher writes every record
 * again, with REQ_FUA, as when that flush fails (vmem_wb_post_end()).
 */
static void vmem_wb_self_end(struct vmem_wb_self *self)
{
	int stage = VMEM_WB_SELF_WRITTEN;
	unsigned int i;

	for (i = 0; i < self->nrecs; i++)
		if (self->recs[i]->status)
			stage = VMEM_WB_SELF_FAILED;
	if (self->post) {
		if (stage == VMEM_WB_SELF_WRITTEN) {
			WARN_ON_ONCE(!queue_work(self->wb->post_wq,
						 &self->post_work));
			return;
		}
		bio_put(self->post);
		self->post = NULL;
		for (i = 0; i < self->nrecs; i++)
			if (!self->recs[i]->status)
				self->recs[i]->status = BLK_STS_IOERR;
	}
	vmem_wb_self_stage(self, stage);
}

/*
 * Finish cycle @c of @b, which a flush took, once its write-out ended
 * and every older cycle is done: retry the writes that failed (every
 * one after a plain write-out, vmem_wb_self_end(); with REQ_FUA, as the
 * next cycle's flush may count on them), empty it, call
 * it done, end its flush, or serve it the usual way if a write failed
 * (failed already if the flush after the writes did), and send again
 * what waited. Return: false if the write-out is still in
 * flight (its end, or vmem_wb_chain(), queues the flusher if needed), or
 * another context finishes it.
 */
static bool vmem_wb_finish_self(struct vmem_pool *pool, struct vmem_wbuf *b,
				u64 c)
{
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct bio_list waiters, flushes, covered;
	struct vmem_wb_self *self = b->self;
	struct bio *flush;
	s64 now;
	int st;

	/* Pairs with vmem_wb_self_stage(): done, then its stage */
	smp_mb();
	now = atomic64_read(&self->stage);
	st = now & (BIT(VMEM_WB_STAGE_BITS) - 1);
	if (now >> VMEM_WB_STAGE_BITS != c || st == VMEM_WB_SELF_SENT ||
	    st == VMEM_WB_SELF_BUSY ||
	    atomic64_cmpxchg(&self->stage, now,
			     vmem_wb_stage(c, VMEM_WB_SELF_BUSY)) != now)
		return false;
	flush = self->flush;
	/*
	 * The flush after the writes failed: what completed before @flush
	 * may be lost in the disk's cache, so @flush fails too
	 */
	if (self->post_status)
		flush->bi_status = self->post_status;
	if (st == VMEM_WB_SELF_FAILED)
		vmem_wb_retry_failed(pool, self->recs, self->nrecs, REQ_FUA);
	if (st != VMEM_WB_SELF_EMPTIED)
		vmem_wb_empty(pool, b, self->recs, self->nrecs);
	atomic64_set(&self->stage, vmem_wb_stage(c, VMEM_WB_SELF_SENT));
	vmem_wb_done(wb, b, c, &waiters, &flushes, &covered, flush);
	/* Written: durable already. Failed: the usual way */
	if (st != VMEM_WB_SELF_FAILED) {
		bio_endio(flush);
		vmem_wb_end_covered(&covered);
	} else {
		bio_list_add_head(&flushes, flush);
		bio_list_merge(&flushes, &covered);
	}
	vmem_wb_release(&waiters, &flushes);
	return true;
}

static void vmem_wb_work(struct work_struct *work)
{
	struct vmem_wb *wb = container_of(work, struct vmem_wb, work);
	struct vmem_pool *pool = container_of(wb, struct vmem_pool, wb);
	struct bio_list waiters, flushes, covered;
	struct vmem_wb_state s;
	struct vmem_wbuf *b;
	unsigned int n;
	u64 c, cycle;

	for (;;) {
		c = atomic64_read(&wb->done) + 1;
		b = &wb->buf[c % VMEM_WB_BUFS];
		if (atomic64_read(&wb->taken) >= c) {
			if (!vmem_wb_finish_self(pool, b, c))
				return;
			continue;
		}
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
		/* A flush may have taken it meanwhile: then see above */
		if (atomic64_cmpxchg(&wb->taken, c - 1, c) != c - 1)
			continue;
		n = s.used ? vmem_wb_gather(b, s.used, wb->recs, wb->nrecs) : 0;
		if (n)
			vmem_wb_write_out(pool, n);
		vmem_wb_empty(pool, b, wb->recs, n);
		vmem_wb_done(wb, b, c, &waiters, &flushes, &covered, NULL);
		/* None: only a cycle a flush writes covers flushes */
		bio_list_merge(&flushes, &covered);
		vmem_wb_release(&waiters, &flushes);
		cond_resched();
	}
}

/*
 * Do two of the @n records share a 4 KiB block? A pairwise test, for a
 * flush's few records: vmem_wb_waves() would clear its whole table.
 */
static bool vmem_wb_overlap(struct vmem_wb_rec **recs, unsigned int n)
{
	u64 a0, a1, b0, b1;
	unsigned int i, j;

	for (i = 1; i < n; i++) {
		a0 = recs[i]->phys >> VMEM_WB_BLOCK_SHIFT;
		a1 = a0 + DIV_ROUND_UP(recs[i]->bytes, 4096);
		for (j = 0; j < i; j++) {
			b0 = recs[j]->phys >> VMEM_WB_BLOCK_SHIFT;
			b1 = b0 + DIV_ROUND_UP(recs[j]->bytes, 4096);
			if (a0 < b1 && b0 < a1)
				return true;
		}
	}
	return false;
}

/*
 * May one of the @n records share a 4 KiB block with a cycle before @h
 * still being written? A buffer's filter is cleared only after its
 * writes (and retries) ended, so a clear bit is safe to trust.
 */
static bool vmem_wb_behind(struct vmem_wb *wb, u64 h,
			   struct vmem_wb_rec **recs, unsigned int n)
{
	unsigned int i;
	u64 c;

	for (c = atomic64_read(&wb->done) + 1; c < h; c++)
		for (i = 0; i < n; i++)
			if (vmem_wb_holds(&wb->buf[c % VMEM_WB_BUFS],
					  recs[i]->phys, recs[i]->bytes))
				return true;
	return false;
}

/*
 * Cycle @c, taken by a flush, goes back: the flusher writes it. Only
 * before any of its writes was sent.
 */
static bool vmem_wb_self_give_up(struct vmem_wb *wb, u64 c)
{
	atomic64_set_release(&wb->taken, c - 1);
	vmem_wb_queue(wb);
	return false;
}

/*
 * An empty flush finds a few records in the open buffer and no map
 * change to commit, and every older cycle is done or being written out
 * by a flush this way (then it writes none of their blocks): it writes
 * the buffer out itself, each merged write with REQ_FUA and the first
 * also with REQ_PREFLUSH (which makes durable what completed before the
 * flush), or, on a disk without FUA, plainly and then one flush. It ends
 * once they have and every older cycle is done (vmem_wb_chain(), or the
 * flusher). Nothing waits: the flusher's round trip is saved, and
 * flushes of several writers overlap. Called from ->submit_bio, so it allocates without
 * waiting and gives the cycle back to the flusher when it cannot.
 * Return: true if it took @bio.
 */
static bool vmem_wb_flush_self(struct vmem_dev *dev, struct bio *bio)
{
	struct vmem_pool *pool = dev->pool;
	struct vmem_wb *wb = vmem_wb_of(pool);
	u64 h = atomic64_read_acquire(&wb->head);
	struct vmem_wbuf *b = &wb->buf[h % VMEM_WB_BUFS];
	struct bio *bios[VMEM_WB_SELF_WRITES], *post = NULL;
	struct vmem_wb_self *self = b->self;
	blk_opf_t opf;
	unsigned int i, n, nruns;
	struct vmem_wb_state s;
	unsigned long flags;
	bool same, piped;

	/*
	 * If cycle @h - 1 is still being written by a flush (which took it
	 * on the same terms), so is every cycle not yet done before it.
	 * Acquire: a failed write of a done cycle has set its device's
	 * error bit (one of a cycle not yet done fails the flush when that
	 * cycle is done: vmem_wb_done()).
	 */
	piped = atomic64_read_acquire(&wb->done) != h - 1;
	if (bio_sectors(bio) || vmem_commit_needed(&pool->cm) ||
	    test_bit(VMEM_DEV_F_WB_ERROR, &dev->flags))
		return false;
	if (piped && (atomic64_read_acquire(&wb->iself) != h - 1 ||
		      atomic64_read(&wb->taken) != h - 1))
		return false;
	s = vmem_wb_unpack(atomic64_read(&b->state));
	if (!s.used || s.sealed ||
	    s.used > VMEM_WB_SELF_RECS * (wb->hdr + VMEM_WB_MAX_WRITE))
		return false;
	/* Writers inside: the last one out hands it to the flusher */
	if (!vmem_wb_seal(&b->state))
		return false;
	/* We sealed it: it is ours to hand on. Is it still cycle @h? */
	spin_lock_irqsave(&wb->ring_lock, flags);
	same = b->cycle == h;
	spin_unlock_irqrestore(&wb->ring_lock, flags);
	if (!same) {
		vmem_wb_queue(wb);
		return false;
	}
	if (atomic64_cmpxchg(&wb->taken, h - 1, h) != h - 1) {
		vmem_wb_queue(wb);
		return false;
	}
	s = vmem_wb_unpack(atomic64_read_acquire(&b->state));
	n = vmem_wb_gather(b, s.used, self->recs, VMEM_WB_SELF_RECS + 1);
	if (n > VMEM_WB_SELF_RECS || vmem_wb_overlap(self->recs, n) ||
	    vmem_wb_behind(wb, h, self->recs, n))
		return vmem_wb_self_give_up(wb, h);
	sort(self->recs, n, sizeof(*self->recs), vmem_wb_cmp, NULL);
	nruns = vmem_wb_merge(self->recs, n, self->runs, &self->batch);
	if (nruns > VMEM_WB_SELF_WRITES)
		return vmem_wb_self_give_up(wb, h);
	/*
	 * A disk without FUA would flush before and after each REQ_FUA
	 * write (blk-flush): write plainly, then flush once
	 */
	if (bdev_write_cache(pool->bdev) && !bdev_fua(pool->bdev)) {
		post = bio_alloc_bioset(pool->bdev, 0, REQ_OP_WRITE |
					REQ_PREFLUSH | REQ_SYNC, GFP_NOWAIT,
					&wb->bs);
		if (!post)
			return vmem_wb_self_give_up(wb, h);
		post->bi_private = self;
		post->bi_end_io = vmem_wb_post_end;
	}
	for (i = 0; i < nruns; i++) {
		/* REQ_SYNC: an fsync waits for them */
		opf = post ? REQ_SYNC : REQ_FUA | (i ? 0 : REQ_PREFLUSH);
		bios[i] = vmem_wb_run_bio(pool, &self->runs[i], opf,
					  GFP_NOWAIT);
		if (!bios[i]) {
			while (i--)
				bio_put(bios[i]);
			if (post)
				bio_put(post);
			return vmem_wb_self_give_up(wb, h);
		}
	}
	self->flush = bio;
	self->post = post;
	self->post_status = BLK_STS_OK;
	self->cycle = h;
	self->nrecs = n;
	self->idx = vmem_io_enter(pool);
	atomic_set(&self->batch.pending, nruns + 1);
	atomic64_add(nruns, &wb->merged);
	atomic64_inc(&wb->self_flushes);
	if (piped)
		atomic64_inc(&wb->piped_flushes);
	/* From here on, cycle @h is made durable by this flush */
	atomic64_set_release(&wb->iself, h);
	for (i = 0; i < nruns; i++)
		submit_bio_noacct(bios[i]);
	if (atomic_dec_and_test(&self->batch.pending))
		vmem_wb_self_end(self);
	return true;
}

/*
 * An empty flush that finds nothing buffered after cycle @t, which a
 * flush is writing out and making durable: every buffered write completed
 * before it is in a cycle up to @t, and on disk once @t is done. It is
 * sent on to the backing device at once, for what completed without the
 * buffer, and ends once both that flush and cycle @t are done: it need
 * not wait for @t to flush after it. Return: true if it took @bio.
 */
static bool vmem_wb_flush_covered(struct vmem_dev *dev, struct bio *bio,
				  u64 t)
{
	struct vmem_pool *pool = dev->pool;
	struct vmem_wb *wb = vmem_wb_of(pool);
	struct vmem_wbuf *b = &wb->buf[t % VMEM_WB_BUFS];
	unsigned long flags;
	bool parked;

	if (bio_sectors(bio) || atomic64_read_acquire(&wb->iself) != t ||
	    vmem_commit_needed(&pool->cm) ||
	    test_bit(VMEM_DEV_F_WB_ERROR, &dev->flags))
		return false;
	/* It ends twice: when its clone below has, and for cycle @t */
	bio_inc_remaining(bio);
	spin_lock_irqsave(&b->lock, flags);
	parked = READ_ONCE(b->cycle) == t && atomic64_read(&wb->done) < t;
	if (parked)
		bio_list_add(&b->covered, bio);
	spin_unlock_irqrestore(&b->lock, flags);
	atomic64_inc(&wb->covered_flushes);
	if (!parked) {
		/*
		 * @t is done: its writes, or their retries, came before the
		 * clone. A buffered write of the device that was lost fails
		 * it; the bit stays, as a write buffered after this flush
		 * arrived may have set it, and its own flush must fail too.
		 */
		if (test_bit(VMEM_DEV_F_WB_ERROR, &dev->flags))
			bio->bi_status = BLK_STS_IOERR;
		bio_endio(bio);
	}
	vmem_remap_submit(dev, bio, 0, vmem_io_enter(pool));
	return true;
}

/**
 * vmem_wb_flush() - a REQ_PREFLUSH bio: wait for what is buffered
 * @dev: its device
 * @bio: the bio
 *
 * Return: true if the bio was taken: it writes the buffer itself
 * (vmem_wb_flush_self()); or it flushes beside such a write-out and ends
 * with it (vmem_wb_flush_covered()); or it waits for buffered data, and
 * once that is on disk it goes to vmem_io_flushed(). False if nothing is
 * buffered that it must wait for.
 */
bool vmem_wb_flush(struct vmem_dev *dev, struct bio *bio)
{
	struct vmem_pool *pool = dev->pool;
	struct vmem_wb *wb = vmem_wb_of(pool);
	bool taken = false;
	int idx;
	u64 t;

	/* The buffers stay while this read side lasts (vmem_wb_set()) */
	idx = vmem_io_enter(pool);
	/* Pairs with the release in vmem_wb_set(): the ring is set up */
	if (!smp_load_acquire(&wb->active))
		goto out;
	taken = vmem_wb_flush_self(dev, bio);
	if (taken)
		goto out;
	t = vmem_wb_seal_open(wb);
	if (atomic64_read(&wb->done) >= t)
		goto out;
	taken = vmem_wb_flush_covered(dev, bio, t) ||
		vmem_wb_park(wb, &wb->buf[t % VMEM_WB_BUFS], t, bio, true);
out:
	vmem_io_exit(pool, idx);
	return taken;
}

static void vmem_wb_free(struct vmem_wb *wb)
{
	int i;

	for (i = 0; i < VMEM_WB_BUFS; i++) {
		vfree(wb->buf[i].data);
		wb->buf[i].data = NULL;
		kfree(wb->buf[i].self);
		wb->buf[i].self = NULL;
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
	wb->nrecs = bytes / (wb->hdr + 4096) + 1;
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
		b->self = kzalloc(sizeof(*b->self), GFP_KERNEL);
		if (!b->data || !b->filter || !b->self)
			goto out_free;
		b->self->wb = wb;
		b->self->buf = b;
		b->self->batch.self = b->self;
		INIT_WORK(&b->self->post_work, vmem_wb_post_work);
		bio_list_init(&b->waiters);
		bio_list_init(&b->flushes);
		bio_list_init(&b->covered);
		/* Cycles 1..N-1 are done; cycle N is open in buf[0] */
		b->cycle = i ? i : VMEM_WB_BUFS;
		atomic64_set(&b->state, i ? VMEM_WB_SEALED : 0);
	}
	atomic64_set(&wb->done, VMEM_WB_BUFS - 1);
	atomic64_set(&wb->taken, VMEM_WB_BUFS - 1);
	atomic64_set(&wb->iself, 0);
	atomic64_set(&wb->head, VMEM_WB_BUFS);
	return 0;

out_free:
	vmem_wb_free(wb);
	return -ENOMEM;
}

/*
 * Header bytes before each record's data. With VMEM_WB_HDR its data
 * starts 512 bytes into a page, and the bio that writes it is cut into
 * segments at 512-byte offsets, which a backing device with larger
 * logical blocks or DMA alignment may refuse (dm-crypt with 4 KiB
 * sectors fails each such bio, so every buffered write was lost). There
 * the header takes 4 KiB (the largest logical block vmem takes), or the
 * DMA alignment, up to a page: records are whole 4 KiB blocks, so every
 * segment then is too.
 */
static u32 vmem_wb_hdr_bytes(struct block_device *bdev)
{
	u32 align = bdev_dma_alignment(bdev) + 1;

	if (bdev_logical_block_size(bdev) <= VMEM_WB_HDR &&
	    align <= VMEM_WB_HDR)
		return VMEM_WB_HDR;
	return clamp_t(u32, align, VMEM_LBS, PAGE_SIZE);
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
		wb->hdr = vmem_wb_hdr_bytes(pool->bdev);
		ret = vmem_wb_alloc(wb);
		if (ret)
			return ret;
		/*
		 * The ring before the flags: a reader that sees one set
		 * (with acquire) sees the buffers and their states as
		 * vmem_wb_alloc() left them, also where stores may be
		 * reordered (arm64)
		 */
		smp_store_release(&wb->active, true);
		/* The same for vmem_wb_write()'s acquire of @enabled */
		smp_store_release(&wb->enabled, true);
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
	/*
	 * Syncs waiting for a cycle of this ring are done. Each read @offs
	 * before this (in a read side the drain waited for), and sees it
	 * change; the release pairs with the acquires in vmem_wb_sync()
	 */
	smp_store_release(&wb->offs, wb->offs + 1);
	wake_up_all(&wb->done_wq);
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

/**
 * vmem_wb_parse() - read a write buffer mode
 * @val: "auto", or a boolean as kstrtobool() reads it (1/0, y/n, on/off)
 *
 * Return: 0, 1 or VMEM_WB_AUTO; -EINVAL for anything else.
 */
int vmem_wb_parse(const char *val)
{
	bool on;

	if (sysfs_streq(val, "auto"))
		return VMEM_WB_AUTO;
	if (kstrtobool(val, &on))
		return -EINVAL;
	return on;
}

const char *vmem_wb_mode_name(int mode)
{
	return mode == VMEM_WB_AUTO ? "auto" : mode ? "1" : "0";
}

/*
 * "auto" is on over a backing disk with a volatile write cache, whose
 * flushes and small writes the buffer saves (virtio, most SATA and NVMe
 * disks; on virtio the on/off median is 1.91x), and off over one
 * without: a memory disk (brd), where the buffer only adds a copy
 * (median 0.81x; BENCHMARKS.md, issue 12), or a disk whose cache is off
 * or power-loss protected.
 */
bool vmem_wb_mode_on(struct vmem_pool *pool, int mode)
{
	if (mode == VMEM_WB_AUTO)
		return bdev_write_cache(pool->bdev);
	return mode;
}

/**
 * vmem_wb_init() - set up a pool's write buffer at attach
 * @pool: the pool being attached
 * @mode: 0, 1 or VMEM_WB_AUTO (the write_buffer= parameter)
 * @delay_us: longest time written data stays only in the buffer
 * @mb: memory of the buffers, allocated only when they are switched on
 *
 * Return: 0, or -ENOMEM. Under "auto" a buffer that cannot be allocated
 * is left off with a log line rather than failing the attach.
 */
int vmem_wb_init(struct vmem_pool *pool, int mode, unsigned int delay_us,
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
	wb->post_wq = alloc_workqueue("vmem_wb_post", WQ_MEM_RECLAIM |
				      WQ_HIGHPRI, 0);
	if (!wb->wq || !wb->post_wq) {
		if (wb->wq)
			destroy_workqueue(wb->wq);
		if (wb->post_wq)
			destroy_workqueue(wb->post_wq);
		wb->wq = NULL;
		wb->post_wq = NULL;
		bioset_exit(&wb->bs);
		return -ENOMEM;
	}
	if (!vmem_wb_mode_on(pool, mode)) {
		if (mode == VMEM_WB_AUTO)
			pr_info("%pg: write buffer off (auto: the disk has no volatile write cache)\n",
				pool->bdev);
		return 0;
	}
	ret = vmem_wb_set(pool, true);
	if (ret && mode == VMEM_WB_AUTO) {
		pr_warn("%pg: write buffer of %u MiB: cannot allocate it, left off\n",
			pool->bdev, mb);
		return 0;
	}
	if (ret)
		pr_err("%pg: write buffer of %u MiB: cannot allocate it (write_buffer=1)\n",
		       pool->bdev, mb);
	else if (mode == VMEM_WB_AUTO)
		pr_info("%pg: write buffer on (auto: the disk has a volatile write cache)\n",
			pool->bdev);
	return ret;
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
	destroy_workqueue(wb->post_wq);
	wb->post_wq = NULL;
	bioset_exit(&wb->bs);
}
