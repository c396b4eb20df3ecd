// SPDX-License-Identifier: GPL-2.0
/*
 * vmem write buffer: batches write bios to provisioned buckets and sends
 * them to the backing device sorted and merged.
 *
 * Semantics: write-through batching. A bio is completed only when the
 * backing device completed the write that carries its data, with that
 * write's status, so the buffer holds no data the user believes written
 * (the volatile write cache the devices advertise is the map's, see
 * commit.c), and REQ_PREFLUSH/REQ_FUA bios bypass the buffer (they only
 * seal it, so waiting writers go out at once). Two
 * writes in one batch were both in flight together, and the block layer
 * orders no in-flight writes, so merging them in any order is allowed.
 *
 * Structure, after photondb's WriteBuffer: two buffers of VMEM_WB_SLOTS
 * slots, each with a 64-bit state word (wbuf_state.h). A submitter
 * reserves a slot with one CAS, fills it with its bio, and leaves; the
 * writer taking the last slot seals the buffer and turns new writers to
 * the other one; a buffer is also sealed by a FUA/flush bio and by the
 * idle timer (delay_us after its first write). The last writer to leave
 * a sealed buffer -- or the sealer, when none is inside -- flushes it:
 * sorts the slots by backing sector, merges adjacent runs into one bio
 * each, resets the state word and submits. If both buffers are sealed a
 * submitter does not wait: its bio goes to the disk directly.
 *
 * An error on a merged bio is retried bio by bio from a worker, so it
 * reaches exactly the bios it hit. Every buffered bio keeps its in-flight
 * read side until it completes, so deleting a device or freeing a bucket
 * waits for it (vmem_drain()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/sort.h>
#include "vmem.h"
#include "wbuf.h"

/* Largest merged write */
#define VMEM_WB_MAX_SECTORS	(1U << (20 - SECTOR_SHIFT))

/* The bios of one merged write, freed when it completes */
struct vmem_wb_run {
	struct vmem_pool *pool;
	struct work_struct retry;
	unsigned int n;
	struct vmem_wb_slot slot[];
};

static int vmem_wb_cmp(const void *a, const void *b)
{
	const struct vmem_wb_slot *x = a, *y = b;

	if (x->phys != y->phys)
		return x->phys < y->phys ? -1 : 1;
	return 0;
}

static void vmem_wb_end(struct vmem_wb_slot *s, blk_status_t status)
{
	s->bio->bi_status = status;
	bio_end_io_acct(s->bio, s->start);
	bio_endio(s->bio);
	vmem_io_exit(s->dev->pool, s->idx);
}

/* Send one bio on its own (keeps its in-flight charge and accounting) */
static void vmem_wb_single(struct vmem_pool *pool, struct vmem_wb_slot *s)
{
	vmem_clone_submit(s->dev, s->bio, s->phys, s->idx, s->start);
}

static void vmem_wb_retry(struct work_struct *work)
{
	struct vmem_wb_run *run = container_of(work, struct vmem_wb_run,
					       retry);
	unsigned int i;

	for (i = 0; i < run->n; i++)
		vmem_wb_single(run->pool, &run->slot[i]);
	kfree(run);
}

static void vmem_wb_endio(struct bio *merged)
{
	struct vmem_wb_run *run = merged->bi_private;
	blk_status_t status = merged->bi_status;
	unsigned int i;

	bio_put(merged);
	if (status) {
		atomic64_inc(&run->pool->wb.retries);
		INIT_WORK(&run->retry, vmem_wb_retry);
		queue_work(run->pool->wb.wq, &run->retry);
		return;
	}
	for (i = 0; i < run->n; i++)
		vmem_wb_end(&run->slot[i], BLK_STS_OK);
	kfree(run);
}

static unsigned int vmem_wb_vecs(struct bio *bio)
{
	struct bvec_iter iter;
	struct bio_vec bv;
	unsigned int n = 0;

	bio_for_each_bvec(bv, bio, iter)
		n++;
	return n;
}

/* Submit slots [0, n) of @slots, already sorted, as one merged write */
static void vmem_wb_submit_run(struct vmem_pool *pool,
			       struct vmem_wb_slot *slots, unsigned int n,
			       unsigned int vecs)
{
	struct vmem_wb_run *run;
	struct bvec_iter iter;
	struct bio *merged;
	struct bio_vec bv;
	blk_opf_t opf = REQ_OP_WRITE;
	unsigned int i;

	if (n == 1)
		goto single;
	run = kmalloc(struct_size(run, slot, n), GFP_NOIO | __GFP_NOWARN);
	if (!run)
		goto single;
	for (i = 0; i < n; i++)
		opf |= slots[i].bio->bi_opf & (REQ_SYNC | REQ_META | REQ_PRIO);
	merged = bio_alloc_bioset(pool->bdev, vecs, opf, GFP_NOIO,
				  &pool->wb.bs);
	merged->bi_iter.bi_sector = slots[0].phys;
	for (i = 0; i < n; i++) {
		bio_for_each_bvec(bv, slots[i].bio, iter) {
			if (WARN_ON_ONCE(!bio_add_page(merged, bv.bv_page,
						       bv.bv_len,
						       bv.bv_offset))) {
				bio_put(merged);
				kfree(run);
				goto single;
			}
		}
	}
	memcpy(run->slot, slots, n * sizeof(*slots));
	run->pool = pool;
	run->n = n;
	merged->bi_private = run;
	merged->bi_end_io = vmem_wb_endio;
	atomic64_inc(&pool->wb.merged);
	atomic64_add(n, &pool->wb.batched);
	submit_bio_noacct(merged);
	return;

single:
	for (i = 0; i < n; i++)
		vmem_wb_single(pool, &slots[i]);
}

/*
 * Send every slot of a sealed, writer-free buffer, then reopen it. While
 * this runs the buffer stays sealed, so its slots are this flusher's
 * alone; new writers use the other buffer.
 */
static void vmem_wb_flush(struct vmem_pool *pool, struct vmem_wbuf *buf)
{
	u64 used = vmem_wb_unpack(atomic64_read(&buf->state)).used;
	struct vmem_wb_slot *s = buf->slot;
	unsigned int i, start, vecs, v;
	u64 end;

	if (!used)
		goto out_reset;
	atomic64_inc(&pool->wb.flushes);
	sort(s, used, sizeof(*s), vmem_wb_cmp, NULL);
	for (start = 0; start < used; start = i) {
		vecs = vmem_wb_vecs(s[start].bio);
		end = s[start].phys + bio_sectors(s[start].bio);
		for (i = start + 1; i < used; i++) {
			v = vmem_wb_vecs(s[i].bio);
			if (s[i].phys != end || vecs + v > BIO_MAX_VECS ||
			    end + bio_sectors(s[i].bio) - s[start].phys >
			    VMEM_WB_MAX_SECTORS)
				break;
			vecs += v;
			end += bio_sectors(s[i].bio);
		}
		vmem_wb_submit_run(pool, &s[start], i - start, vecs);
	}
out_reset:
	vmem_wb_reset(&buf->state);
}

static void vmem_wb_flush_work(struct work_struct *work)
{
	struct vmem_wbuf *buf = container_of(work, struct vmem_wbuf, work);

	vmem_wb_flush(buf->pool, buf);
}

/* Seal buffer @idx; flush it here or (in atomic context) from the worker */
static void vmem_wb_seal_buf(struct vmem_pool *pool, unsigned int idx,
			     bool can_flush)
{
	struct vmem_wbuf *buf = &pool->wb.buf[idx];

	if (!vmem_wb_unpack(atomic64_read(&buf->state)).used)
		return;
	atomic_cmpxchg(&pool->wb.active, idx, idx ^ 1);
	if (!vmem_wb_seal(&buf->state))
		return;
	if (can_flush)
		vmem_wb_flush(pool, buf);
	else
		queue_work(pool->wb.wq, &buf->work);
}

static enum hrtimer_restart vmem_wb_timer(struct hrtimer *t)
{
	struct vmem_pool *pool = container_of(t, struct vmem_pool, wb.timer);

	vmem_wb_seal_buf(pool, 0, false);
	vmem_wb_seal_buf(pool, 1, false);
	return HRTIMER_NORESTART;
}

/**
 * vmem_wb_add() - buffer a write to a provisioned bucket
 * @dev: its device
 * @bio: a write with data, no PREFLUSH or FUA, within one bucket
 * @phys: its backing sector
 * @srcu_idx: its in-flight read side, held until the bio completes
 *
 * Return: true if the buffer took the bio; false if the caller must send
 * it directly (buffer off, or both buffers sealed).
 */
bool vmem_wb_add(struct vmem_dev *dev, struct bio *bio, u64 phys, int srcu_idx)
{
	struct vmem_pool *pool = dev->pool;
	struct vmem_wb *wb = &pool->wb;
	unsigned int tries, idx;
	struct vmem_wbuf *buf;
	u64 slot;

	for (tries = 0; tries < 2; tries++) {
		idx = atomic_read(&wb->active) & 1;
		buf = &wb->buf[idx];
		switch (vmem_wb_reserve(&buf->state, VMEM_WB_SLOTS, &slot)) {
		case VMEM_WB_RESERVED_LAST:
			atomic_cmpxchg(&wb->active, idx, idx ^ 1);
			fallthrough;
		case VMEM_WB_RESERVED:
			buf->slot[slot] = (struct vmem_wb_slot) {
				.bio = bio,
				.dev = dev,
				.phys = phys,
				.idx = srcu_idx,
				.start = bio_start_io_acct(bio),
			};
			if (!slot)
				hrtimer_start(&wb->timer,
					      ns_to_ktime(READ_ONCE(wb->delay_us) *
							  NSEC_PER_USEC),
					      HRTIMER_MODE_REL);
			if (vmem_wb_leave(&buf->state))
				vmem_wb_flush(pool, buf);
			return true;
		default:
			atomic_cmpxchg(&wb->active, idx, idx ^ 1);
			break;
		}
	}
	atomic64_inc(&wb->bypassed);
	return false;
}

/**
 * vmem_wb_kick() - send buffered writes now (a FUA or flush bio arrived)
 * @pool: the pool
 */
void vmem_wb_kick(struct vmem_pool *pool)
{
	vmem_wb_seal_buf(pool, 0, true);
	vmem_wb_seal_buf(pool, 1, true);
}

/**
 * vmem_wb_set() - turn the write buffer on or off
 * @pool: the pool
 * @on: the new setting
 *
 * Turning it off sends whatever is buffered now; a writer that raced
 * with the switch still has its buffer's idle timer armed, which sends
 * it within delay_us. Callers are serialized by vmem_ctl_mutex.
 */
void vmem_wb_set(struct vmem_pool *pool, bool on)
{
	WRITE_ONCE(pool->wb.enabled, on);
	if (!on)
		vmem_wb_kick(pool);
}

int vmem_wb_init(struct vmem_pool *pool, bool on, unsigned int delay_us)
{
	struct vmem_wb *wb = &pool->wb;
	int i, ret;

	ret = bioset_init(&wb->bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	wb->wq = alloc_workqueue("vmem_wb", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	if (!wb->wq) {
		bioset_exit(&wb->bs);
		return -ENOMEM;
	}
	for (i = 0; i < 2; i++) {
		wb->buf[i].pool = pool;
		INIT_WORK(&wb->buf[i].work, vmem_wb_flush_work);
	}
	hrtimer_init(&wb->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	wb->timer.function = vmem_wb_timer;
	wb->delay_us = delay_us;
	wb->enabled = on;
	return 0;
}

/* Every device is gone and drained: no bio is buffered any more */
void vmem_wb_exit(struct vmem_pool *pool)
{
	if (!pool->wb.wq)
		return;
	hrtimer_cancel(&pool->wb.timer);
	vmem_wb_set(pool, false);
	destroy_workqueue(pool->wb.wq);
	bioset_exit(&pool->wb.bs);
}
