// SPDX-License-Identifier: GPL-2.0
/*
 * vmem provisioning: the worker that gives buckets to writes, and the
 * range worker that serves discard and write-zeroes. What reaches the
 * disk when, and why it is safe, is commit.c's business (see its top).
 *
 * A write to an unprovisioned bucket comes here from the fast path. The
 * worker (an ordered workqueue, so one bucket is never provisioned twice)
 * finds it, under the map lock:
 *  - the bucket provisioned meanwhile: the write goes;
 *  - an armed bucket (known zero, durably): assigned at once, the write
 *    goes, no I/O at all;
 *  - else a dirty one, readied first, in an entry of the worker's (up
 *    to VMEM_PROV_BATCH): plain writes to it go straight to the bucket,
 *    which is not in the map yet (reads of it return zeros), and more
 *    join them while any is in flight. Once all have ended the worker
 *    zeroes what they did not write (usually nothing for a sequential
 *    writer whose queue spans a bucket; the rest of the bucket when its
 *    first writes ended before the next came), assigns the bucket, and
 *    only then ends them. A FUA or
 *    REQ_PREFLUSH write, and every write after it, waits for the
 *    assignment and then goes the usual way; a bucket no write was sent
 *    to is zeroed whole, and so is one whose write failed or whose gaps
 *    could not be zeroed, its writes then sent again
 *    (vmem_prov_finish());
 *  - else, while a commit or the zeroer will free space (marked buckets
 *    to arm, buckets being freed, armed or zeroed), the write is parked
 *    until then; so is a write to a virtual bucket whose free is not yet
 *    committed (VMEM_MAP_FREEING);
 *  - else it fails with ENOSPC, as it does at the device's budget.
 * Writes to the same bucket share one provisioning.
 *
 * Discard and write-zeroes run in the range worker, never holding the
 * map lock across I/O, after every write the write buffer holds has
 * reached the disk: write-zeroes zeroes provisioned ranges in place
 * (unprovisioned ones read zeros already); a discard of a whole bucket
 * unmaps it (the next commit frees it on disk); a partial discard passes
 * down when the backing device supports discard. A bucket only partly
 * discarded is not freed even when later discards cover the rest: that
 * would need a per-bucket record of discarded blocks, kept exact against
 * every write on the fast path; dm-thin does not do it either, and
 * fstrim, which discards whole free extents, frees whole buckets.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/sched.h>
#include "bucket.h"
#include "debug.h"
#include "vmem.h"

/* Buckets unmapped per hold of the map lock */
#define VMEM_FREE_BATCH		64
/* Buckets a device deletion frees per commit */
#define VMEM_FREE_CHUNK		16384
/* Most writes one entry sends to its bucket before it is assigned */
#define VMEM_COVER_MAX		1024

static struct vmem_dev *vmem_bio_dev(struct bio *bio)
{
	return bio->bi_bdev->bd_disk->private_data;
}

static void vmem_bio_fail(struct bio *bio, int err)
{
	bio->bi_status = errno_to_blk_status(err);
	bio_endio(bio);
}

/* Queue @bio on @list and let @work run on @wq; any context */
static void vmem_prov_queue(struct vmem_pool *pool, struct bio_list *list,
			    struct bio *bio, struct workqueue_struct *wq,
			    struct work_struct *work)
{
	unsigned long flags;

	spin_lock_irqsave(&pool->defer_lock, flags);
	bio_list_add(list, bio);
	spin_unlock_irqrestore(&pool->defer_lock, flags);
	queue_work(wq, work);
}

/**
 * vmem_prov_defer() - hand a write that needs a bucket to the worker
 * @pool: the pool
 * @bio: a write within one bucket
 */
void vmem_prov_defer(struct vmem_pool *pool, struct bio *bio)
{
	vmem_prov_queue(pool, &pool->deferred, bio, pool->wq, &pool->work);
}

/**
 * vmem_prov_defer_range() - hand a discard or write-zeroes to the range
 * worker
 * @pool: the pool
 * @bio: the bio, split to the device's limits
 */
void vmem_prov_defer_range(struct vmem_pool *pool, struct bio *bio)
{
	vmem_prov_queue(pool, &pool->ranges, bio, pool->bg_wq,
			&pool->range_work);
}

/**
 * vmem_prov_unpark() - retry the parked writes: space may have come
 * @pool: the pool
 */
void vmem_prov_unpark(struct vmem_pool *pool)
{
	bool any;

	spin_lock_irq(&pool->defer_lock);
	any = !bio_list_empty(&pool->parked);
	bio_list_merge(&pool->deferred, &pool->parked);
	bio_list_init(&pool->parked);
	spin_unlock_irq(&pool->defer_lock);
	if (any)
		queue_work(pool->wq, &pool->work);
}

/* Under the map lock: wait for the next commit or zeroing */
static void vmem_prov_park(struct vmem_pool *pool, struct bio *bio,
			   bool commit)
{
	spin_lock_irq(&pool->defer_lock);
	bio_list_add(&pool->parked, bio);
	spin_unlock_irq(&pool->defer_lock);
	/*
	 * Read-only since the worker looked: vmem_commit_set_ro() may have
	 * unparked before this bio was parked. The lock orders its flag
	 * before the list it emptied, and that list before this read.
	 */
	if (vmem_commit_ro(&pool->cm))
		vmem_prov_unpark(pool);
	if (commit)
		vmem_commit_kick(pool);
}

/* Refuse a write that needs a bucket and cannot have one */
static void vmem_prov_refuse(struct vmem_pool *pool, struct vmem_dev *dev,
			     struct bio *bio, int err)
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

/* Give busy bucket @pb to (@dev, @vb); its budget is charged */
static int vmem_prov_assign(struct vmem_pool *pool, struct vmem_dev *dev,
			    u64 vb, u64 pb, enum vmem_set from)
{
	struct vmem_map *m = &pool->map;
	int ret;

	/*
	 * Counted before a lookup can find it: a write that finds the
	 * bucket is followed by flushes that find a commit is needed. An
	 * assignment that fails costs one commit with nothing in it.
	 */
	vmem_commit_changed(pool);
	ret = vmem_map_assign(m, dev->id, vb, pb);
	if (ret) {
		vmem_map_put(m, pb, from);
		vmem_budget_release(&m->dev[dev->id].used);
		return ret;
	}
	vmem_hook(VMEM_HOOK_ASSIGN);
	atomic64_inc(&pool->provisioned);
	return 0;
}

/* Take a free entry for dirty bucket @pb, to give (@dev, @vb) once ready */
static void vmem_prov_open(struct vmem_prov_batch *b, struct vmem_dev *dev,
			   u64 vb, u64 pb, struct bio *bio)
{
	struct vmem_prov *p = b->p;

	while (p->used)
		p++;
	p->dev = dev;
	p->vb = vb;
	p->pb = pb;
	p->err = 0;
	p->nsent = 0;
	atomic_set(&p->inflight, 0);
	bio_list_init(&p->sent);
	bio_list_init(&p->bios);
	bio_list_add(&p->bios, bio);
	p->used = true;
	WRITE_ONCE(b->n, b->n + 1);
	WRITE_ONCE(dev->provs, dev->provs + 1);
}

/*
 * Find @bio a bucket, under the map lock (see the top of this file).
 * Return: false, taking nothing, when no bucket is armed and every entry
 * is in use, or when the entries must end first (they may give their
 * buckets back).
 */
static bool vmem_prov_add(struct vmem_pool *pool, struct bio *bio,
			  struct bio_list *go)
{
	struct vmem_dev *dev = vmem_bio_dev(bio);
	struct vmem_prov_batch *b = &pool->batch;
	struct vmem_map *m = &pool->map;
	u64 vb = bio->bi_iter.bi_sector >> dev->bucket_shift;
	s64 pb;
	int ret;
	unsigned int i;

	lockdep_assert_held(&pool->meta_lock);
	if (vmem_commit_ro(&pool->cm)) {
		bio_io_error(bio);
		return true;
	}
	if (vmem_map_lookup(m, dev->id, vb) >= 0) {
		bio_list_add(go, bio);
		return true;
	}
	for (i = 0; i < VMEM_PROV_BATCH; i++) {
		struct vmem_prov *p = &b->p[i];

		if (p->used && p->dev == dev && p->vb == vb) {
			bio_list_add(&p->bios, bio);
			return true;
		}
	}
	if (vmem_map_freeing(m, dev->id, vb)) {
		vmem_prov_park(pool, bio, true);
		return true;
	}
	if (!vmem_map_nr(m, VMEM_ARMED) && b->n == VMEM_PROV_BATCH)
		return false;
	if (!vmem_budget_try_charge(&m->dev[dev->id].used,
				    READ_ONCE(m->dev[dev->id].budget))) {
		vmem_prov_refuse(pool, dev, bio, -EDQUOT);
		return true;
	}
	/* A sequential writer's next bucket: the zeroer yields (zero.c) */
	if (!(bio->bi_iter.bi_sector & (pool->bucket_sectors - 1)) &&
	    vb == dev->prov_last + 1)
		atomic64_inc(&pool->streams);
	dev->prov_last = vb;
	pb = vmem_map_take(m, VMEM_ARMED);
	if (pb >= 0) {
		ret = vmem_prov_assign(pool, dev, vb, pb, VMEM_ARMED);
		if (ret)
			vmem_bio_fail(bio, ret);
		else
			bio_list_add(go, bio);
		return true;
	}
	if (b->n < VMEM_PROV_BATCH) {
		pb = vmem_map_take(m, VMEM_DIRTY);
		if (pb >= 0) {
			vmem_prov_open(b, dev, vb, pb, bio);
			return true;
		}
	}
	vmem_budget_release(&m->dev[dev->id].used);
	/* Busy buckets but the zeroer's and ours: a commit hands them back */
	if (vmem_map_nr(m, VMEM_MARKED) ||
	    vmem_map_busy(m) > pool->zeroing + b->n) {
		vmem_prov_park(pool, bio, true);
		return true;
	}
	if (pool->zeroing) {
		vmem_prov_park(pool, bio, false);
		return true;
	}
	/* An entry may fail and give its bucket back: let them end first */
	if (b->n)
		return false;
	vmem_prov_refuse(pool, dev, bio, -ENOSPC);
	return true;
}

/*
 * May @bio go to entry @p's bucket before it is assigned? Plain writes
 * only: a FUA one must wait for a commit after its write (io.c), and is
 * sent the usual way once the bucket is assigned. Past VMEM_COVER_MAX
 * bios, or once one failed, the entry takes no more.
 */
static bool vmem_prov_sendable(struct vmem_pool *pool, struct vmem_prov *p,
			       struct bio *bio)
{
	u64 mask = pool->bucket_sectors - 1;

	if (bio_op(bio) != REQ_OP_WRITE ||
	    (bio->bi_opf & (REQ_FUA | REQ_PREFLUSH)) ||
	    p->nsent >= VMEM_COVER_MAX || READ_ONCE(p->err))
		return false;
	/* io.c splits every bio at bucket ends */
	return !WARN_ON_ONCE((bio->bi_iter.bi_sector & mask) +
			     bio_sectors(bio) > pool->bucket_sectors);
}

/*
 * A write sent to an entry's bucket ended; any context. Like every
 * clone, it holds an in-flight read side (io.c) until its last step, so
 * a detach that drains after the entries ended waits for this too.
 */
static void vmem_prov_sent_endio(struct bio *clone)
{
	struct vmem_io *io = container_of(clone, struct vmem_io, clone);
	struct vmem_prov *p = clone->bi_private;
	struct vmem_pool *pool = io->pool;
	int idx = io->idx;

	if (clone->bi_status)
		WRITE_ONCE(p->err, blk_status_to_errno(clone->bi_status));
	bio_put(clone);
	/* Once the count is zero the worker may end the entry: @pool only */
	if (atomic_dec_and_test(&p->inflight)) {
		wake_up(&pool->batch.wait);
		queue_work(pool->wq, &pool->work);
	}
	vmem_io_exit(pool, idx);
}

/*
 * Send the entries' waiting plain writes straight to their buckets,
 * through clones; once one waits, those after it wait too, so a FUA
 * write is not held behind a stream. The bucket is not in the map yet:
 * a read of the virtual bucket meanwhile returns zeros, as before any
 * write, and none of these writes ends before the bucket is assigned
 * (vmem_prov_finish()). Task context, without the map lock.
 */
static void vmem_prov_send_new(struct vmem_pool *pool)
{
	struct vmem_prov_batch *b = &pool->batch;
	struct bio *bio, *clone;
	struct bio_list keep;
	struct vmem_io *io;
	unsigned int i;

	for (i = 0; i < VMEM_PROV_BATCH; i++) {
		struct vmem_prov *p = &b->p[i];

		if (!p->used)
			continue;
		bio_list_init(&keep);
		while ((bio = bio_list_pop(&p->bios))) {
			clone = NULL;
			/* The pool's own bioset: only these clones hold it */
			if (bio_list_empty(&keep) &&
			    vmem_prov_sendable(pool, p, bio))
				clone = bio_alloc_clone(pool->bdev, bio,
							GFP_NOIO,
							&pool->cover_bs);
			if (!clone) {
				bio_list_add(&keep, bio);
				continue;
			}
			if (!p->nsent)
				p->start = bio_start_io_acct(bio);
			else
				bio_start_io_acct(bio);
			io = container_of(clone, struct vmem_io, clone);
			io->pool = pool;
			io->idx = vmem_io_enter(pool);
			clone->bi_iter.bi_sector = vmem_bio_phys(pool, bio,
								 p->pb);
			clone->bi_private = p;
			clone->bi_end_io = vmem_prov_sent_endio;
			bio_list_add(&p->sent, bio);
			p->nsent++;
			atomic_inc(&b->held);
			atomic_inc(&p->inflight);
			submit_bio_noacct(clone);
		}
		p->bios = keep;
	}
}

/* The sent writes of entry @p are no longer in flight on its bucket */
static void vmem_prov_acct_end(struct vmem_prov *p)
{
	struct bio *bio;

	bio_list_for_each(bio, &p->sent)
		bio_end_io_acct(bio, p->start);
}

/*
 * Put at @e the gaps, in backing-device sectors, that the writes sent to
 * @p's bucket did not write; @e has room for @p->nsent + 1 extents.
 * Return: how many.
 */
static unsigned int vmem_prov_gaps(struct vmem_pool *pool,
				   struct vmem_prov *p, struct vmem_extent *e)
{
	u64 phys = vmem_bucket_phys(pool, p->pb);
	u64 mask = pool->bucket_sectors - 1;
	unsigned int n = 0, g, i;
	struct bio *bio;

	bio_list_for_each(bio, &p->sent)
		e[n++] = (struct vmem_extent){ bio->bi_iter.bi_sector & mask,
					       bio_sectors(bio) };
	g = vmem_bucket_gaps(e, n, pool->bucket_sectors);
	for (i = 0; i < g; i++)
		e[i].start += phys;
	return g;
}

/* How vmem_prov_finish() readies an entry's bucket */
enum vmem_prov_how {
	VMEM_PROV_COVERED,	/* its sent writes wrote it all */
	VMEM_PROV_GAPS,		/* zeroed where they did not write */
	VMEM_PROV_WHOLE,	/* zeroed whole, its sent writes sent again */
};

/*
 * Zero what each ended entry's writes did not write: the gaps around
 * them, all entries' together, or the whole bucket when it sent none,
 * when one failed or when the gaps could not be zeroed (its writes are
 * then sent again once it is assigned). Fills @how.
 */
static int vmem_prov_ready(struct vmem_pool *pool, struct vmem_prov **done,
			   unsigned int nd, enum vmem_prov_how *how)
{
	struct vmem_extent *e = pool->batch.gaps;
	u64 pbs[VMEM_PROV_BATCH];
	unsigned int i, nw = 0, ne = 0, g;
	int gret = 0;

	/* Each entry's gaps after the earlier ones': at most nsent + 1 */
	for (i = 0; i < nd; i++) {
		how[i] = VMEM_PROV_WHOLE;
		if (!done[i]->nsent || done[i]->err)
			continue;
		g = vmem_prov_gaps(pool, done[i], e + ne);
		how[i] = g ? VMEM_PROV_GAPS : VMEM_PROV_COVERED;
		ne += g;
	}
	if (ne) {
		gret = vmem_zero_extents(pool, e, ne);
		if (gret)
			pr_warn_ratelimited("%pg: zeroing around first writes failed (%d); zeroing their buckets whole\n",
					    pool->bdev, gret);
	}
	for (i = 0; i < nd; i++) {
		struct vmem_prov *p = done[i];

		if (how[i] == VMEM_PROV_GAPS && gret)
			how[i] = VMEM_PROV_WHOLE;
		if (how[i] != VMEM_PROV_WHOLE)
			continue;
		pbs[nw++] = p->pb;
		if (p->err)
			pr_warn_ratelimited("vmem%u: a write to new bucket %llu failed (%d): zeroing it, then writing again\n",
					    p->dev->id, p->pb, p->err);
	}
	return nw ? vmem_zero_buckets(pool, pbs, nw) : 0;
}

/*
 * Send @bios, writes whose bucket is assigned, each looked up inside its
 * own read side: a discard may have taken it back (the write is then
 * provisioned again). @start: when their I/O accounting started, for
 * writes sent again (it goes on: the device's statistics count each
 * write once), or NULL.
 */
static void vmem_prov_send(struct vmem_pool *pool, struct bio_list *bios,
			   const unsigned long *start)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios))) {
		struct vmem_dev *dev = vmem_bio_dev(bio);
		int idx = vmem_io_enter(pool);
		s64 pb = vmem_map_lookup(&pool->map, dev->id,
					 bio->bi_iter.bi_sector >>
					 dev->bucket_shift);

		if (pb < 0) {
			vmem_io_exit(pool, idx);
			if (start)
				bio_end_io_acct(bio, *start);
			vmem_prov_defer(pool, bio);
			continue;
		}
		vmem_clone_submit(dev, bio, vmem_bio_phys(pool, bio, pb), idx,
				  start ? *start : bio_start_io_acct(bio));
	}
}

/*
 * End every entry whose sent writes have all ended: ready its bucket
 * (vmem_prov_ready()), assign it, end the sent writes or send them
 * again, and queue those that waited on @go. Task context, without the
 * map lock.
 */
static void vmem_prov_finish(struct vmem_pool *pool, struct bio_list *go)
{
	enum vmem_prov_how how[VMEM_PROV_BATCH];
	struct vmem_prov_batch *b = &pool->batch;
	struct vmem_prov *done[VMEM_PROV_BATCH];
	unsigned int i, nd = 0;
	struct bio *bio;
	int wret, ret;

	for (i = 0; i < VMEM_PROV_BATCH; i++) {
		struct vmem_prov *p = &b->p[i];

		/* Acquire: a completion's @err comes before its decrement */
		if (p->used && !atomic_read_acquire(&p->inflight))
			done[nd++] = p;
	}
	if (!nd)
		return;
	wret = vmem_prov_ready(pool, done, nd, how);

	mutex_lock(&pool->meta_lock);
	for (i = 0; i < nd; i++) {
		struct vmem_prov *p = done[i];

		ret = how[i] == VMEM_PROV_WHOLE ? wret : 0;
		if (!ret && vmem_commit_ro(&pool->cm))
			ret = -EIO;
		if (ret) {
			vmem_map_put(&pool->map, p->pb, VMEM_DIRTY);
			vmem_budget_release(&pool->map.dev[p->dev->id].used);
		} else {
			ret = vmem_prov_assign(pool, p->dev, p->vb, p->pb,
					       VMEM_DIRTY);
		}
		if (ret) {
			vmem_prov_acct_end(p);
			bio_list_merge(&p->sent, &p->bios);
			while ((bio = bio_list_pop(&p->sent)))
				vmem_bio_fail(bio, ret);
			bio_list_init(&p->bios);
			continue;
		}
		/* The zeroes, and the writes, before the map */
		pool->cm.needs_preflush = true;
		if (how[i] == VMEM_PROV_COVERED)
			atomic64_inc(&pool->unzeroed);
		bio_list_merge(go, &p->bios);
		bio_list_init(&p->bios);
	}
	mutex_unlock(&pool->meta_lock);

	/*
	 * Assigned, and written or to be written again: the next commit
	 * makes both durable. Not held any more once they end or are sent
	 * again: the count drops first. (A failed entry's list is empty.)
	 */
	for (i = 0; i < nd; i++) {
		struct vmem_prov *p = done[i];

		atomic_sub(p->nsent, &b->held);
		if (how[i] == VMEM_PROV_WHOLE) {
			vmem_prov_send(pool, &p->sent, &p->start);
			continue;
		}
		while ((bio = bio_list_pop(&p->sent))) {
			bio_end_io_acct(bio, p->start);
			bio_endio(bio);
		}
	}
	/* Last: vmem_prov_quiesce() may free the device once its count is 0 */
	mutex_lock(&pool->meta_lock);
	for (i = 0; i < nd; i++) {
		done[i]->used = false;
		WRITE_ONCE(done[i]->dev->provs, done[i]->dev->provs - 1);
	}
	WRITE_ONCE(b->n, b->n - nd);
	mutex_unlock(&pool->meta_lock);
	wake_up(&b->wait);
}

/* Has an entry's writes all ended, or are there no entries? */
static bool vmem_prov_any_ended(struct vmem_prov_batch *b)
{
	unsigned int i;

	for (i = 0; i < VMEM_PROV_BATCH; i++)
		if (b->p[i].used && !atomic_read(&b->p[i].inflight))
			return true;
	return !b->n;
}

/*
 * Send what the entries may send and end those that are done; with
 * @wait, first wait until one is, so that an entry frees
 */
static void vmem_prov_step(struct vmem_pool *pool, struct bio_list *go,
			   bool wait)
{
	vmem_prov_send_new(pool);
	if (wait)
		io_wait_event(pool->batch.wait,
			      vmem_prov_any_ended(&pool->batch));
	vmem_prov_finish(pool, go);
}

static void vmem_prov_work(struct work_struct *work)
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
		mutex_lock(&pool->meta_lock);
		while (!vmem_prov_add(pool, bio, &go)) {
			mutex_unlock(&pool->meta_lock);
			vmem_prov_send(pool, &go, NULL);
			vmem_prov_step(pool, &go, true);
			mutex_lock(&pool->meta_lock);
		}
		mutex_unlock(&pool->meta_lock);
	}
	vmem_prov_send(pool, &go, NULL);
	vmem_prov_step(pool, &go, false);
	vmem_prov_send(pool, &go, NULL);
	vmem_pool_usage(pool);
}

/*
 * Unmap virtual buckets @vbs[0..n) of device @id; the next commit frees
 * them on disk. With @end other than U64_MAX, only while the device ends
 * at or before sector @end: @vbs[0] is its last bucket, partly outside
 * it, which a discard covered up to @end; a grow may have made more of
 * the bucket readable and writable since. Return: 0, -ENOMEM, or -EIO
 * when the pool is read-only (no commit would free them on disk).
 */
static int vmem_prov_unmap(struct vmem_pool *pool, u32 id, const u64 *vbs,
			   unsigned int n, u64 end)
{
	struct vmem_map *m = &pool->map;
	unsigned int i;
	int ret;
	s64 pb;

	mutex_lock(&pool->meta_lock);
	if (vmem_commit_ro(&pool->cm)) {
		mutex_unlock(&pool->meta_lock);
		return -EIO;
	}
	/* Under the lock a grow sets the capacity with */
	if (end != U64_MAX &&
	    m->dev[id].capacity_pages * VMEM_SECTORS_PER_PAGE > end) {
		mutex_unlock(&pool->meta_lock);
		return 0;
	}
	ret = vmem_commit_room(pool, n);
	for (i = 0; i < n && !ret; i++) {
		pb = vmem_map_unmap(m, id, vbs[i]);
		if (pb == -ENOMEM)
			ret = -ENOMEM;
		else if (pb >= 0)
			vmem_commit_free(pool, id, vbs[i], pb);
	}
	mutex_unlock(&pool->meta_lock);
	return ret;
}

/*
 * Discard or write-zeroes, bucket by bucket. A discard of a whole bucket
 * (or of all of a device's last bucket that is inside the device, when
 * its size is not a multiple of the bucket size) unmaps it; a partial
 * discard passes down if the backing device can; write-zeroes zeroes
 * provisioned ranges. Either fails with EIO on a read-only pool, also
 * one that turns read-only before it ends.
 */
static void vmem_prov_range(struct vmem_pool *pool, struct bio *bio)
{
	struct vmem_dev *dev = vmem_bio_dev(bio);
	bool discard = bio_op(bio) == REQ_OP_DISCARD;
	struct vmem_bucket_iter it = {
		.sector = bio->bi_iter.bi_sector,
		.end = bio_end_sector(bio),
		.shift = dev->bucket_shift,
	};
	unsigned int flags = bio->bi_opf & REQ_NOUNMAP ?
			     BLKDEV_ZERO_NOUNMAP : 0;
	sector_t cap = get_capacity(dev->disk);
	u64 vbs[VMEM_FREE_BATCH];
	u64 vb, off, len;
	unsigned int n = 0;
	int ret = 0, idx;
	s64 pb;

	if (vmem_commit_ro(&pool->cm)) {
		bio_io_error(bio);
		return;
	}
	/* Buffered writes older than this bio land before it does */
	vmem_wb_sync(pool);
	while (!ret && vmem_bucket_next(&it, &vb, &off, &len)) {
		if (discard && len == pool->bucket_sectors) {
			vbs[n++] = vb;
			if (n == VMEM_FREE_BATCH) {
				ret = vmem_prov_unmap(pool, dev->id, vbs, n,
						      U64_MAX);
				n = 0;
			}
			continue;
		}
		/* All of a device's last bucket that is inside the device */
		if (discard && !off && it.sector >= cap) {
			ret = vmem_prov_unmap(pool, dev->id, &vb, 1, it.sector);
			continue;
		}
		if (discard && !bdev_max_discard_sectors(pool->bdev))
			continue;
		/* Nothing is written to a read-only pool, zeros neither */
		if (vmem_commit_ro(&pool->cm)) {
			ret = -EIO;
			break;
		}
		idx = vmem_io_enter(pool);
		pb = vmem_map_lookup(&pool->map, dev->id, vb);
		if (pb >= 0 && discard) {
			ret = blkdev_issue_discard(pool->bdev,
						   vmem_bucket_phys(pool, pb) + off,
						   len, GFP_NOIO);
			if (ret == -EOPNOTSUPP)
				ret = 0;
		} else if (pb >= 0) {
			ret = vmem_zeroout(pool,
					   vmem_bucket_phys(pool, pb) + off,
					   len, flags);
		}
		vmem_io_exit(pool, idx);
		cond_resched();
	}
	if (n && !ret)
		ret = vmem_prov_unmap(pool, dev->id, vbs, n, U64_MAX);
	/*
	 * Read-only since the check above: what this did may not last
	 * (its frees are never committed), so it fails, as writes do
	 */
	if (!ret && vmem_commit_ro(&pool->cm))
		ret = -EIO;
	if (ret)
		vmem_bio_fail(bio, ret);
	else
		bio_endio(bio);
}

static void vmem_prov_range_work(struct work_struct *work)
{
	struct vmem_pool *pool = container_of(work, struct vmem_pool,
					      range_work);
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&pool->defer_lock);
	bios = pool->ranges;
	bio_list_init(&pool->ranges);
	spin_unlock_irq(&pool->defer_lock);
	while ((bio = bio_list_pop(&bios)))
		vmem_prov_range(pool, bio);
	vmem_pool_usage(pool);
}

/**
 * vmem_prov_free_dev() - free every bucket of a device that has no disk
 * @pool: the pool
 * @id: the device, marked VMEM_DEV_DELETING on disk
 *
 * Unmaps them a batch at a time, never holding the map lock for long,
 * and commits every VMEM_FREE_CHUNK buckets, so provisioning on other
 * devices goes on meanwhile.
 *
 * Return: 0, -ENOMEM, or -EIO when the pool is (or turns) read-only.
 */
int vmem_prov_free_dev(struct vmem_pool *pool, u32 id)
{
	struct xarray *xa = &pool->map.dev[id].xa;
	u64 vbs[VMEM_FREE_BATCH];
	unsigned long index;
	unsigned int n, chunk;
	void *entry;
	int ret = 0;

	do {
		chunk = 0;
		index = 0;
		do {
			n = 0;
			mutex_lock(&pool->meta_lock);
			xa_for_each_start(xa, index, entry, index) {
				if (xa_to_value(entry) & VMEM_MAP_FREEING)
					continue;
				vbs[n++] = index;
				if (n == VMEM_FREE_BATCH)
					break;
			}
			mutex_unlock(&pool->meta_lock);
			if (n)
				ret = vmem_prov_unmap(pool, id, vbs, n, U64_MAX);
			chunk += n;
			index = n ? vbs[n - 1] + 1 : 0;
			cond_resched();
		} while (n == VMEM_FREE_BATCH && !ret &&
			 chunk < VMEM_FREE_CHUNK);
		if (chunk && !ret)
			ret = vmem_commit_sync(pool);
	} while (chunk && !ret);
	return ret;
}

/* Has the worker entries for @dev, or for any device when @dev is NULL? */
static bool vmem_prov_holds(struct vmem_pool *pool, struct vmem_dev *dev)
{
	return dev ? READ_ONCE(dev->provs) : READ_ONCE(pool->batch.n);
}

/**
 * vmem_prov_quiesce() - wait until the worker holds no write of a device
 * @pool: the pool
 * @dev: a device that lost its disk, or NULL when every device did
 *
 * An entry ends once the writes sent to its bucket have, so the wait is
 * as long as a write. Then the worker is idle for @dev.
 */
void vmem_prov_quiesce(struct vmem_pool *pool, struct vmem_dev *dev)
{
	for (;;) {
		flush_workqueue(pool->wq);
		if (!vmem_prov_holds(pool, dev))
			return;
		wait_event(pool->batch.wait, !vmem_prov_holds(pool, dev));
	}
}

/**
 * vmem_prov_forget_dev() - fail writes of a device that lost its disk
 * @pool: the pool
 * @dev: the device
 *
 * A write parked for space it no longer needs; called after del_gendisk()
 * and once the workers are idle, so nothing else holds such a bio.
 */
void vmem_prov_forget_dev(struct vmem_pool *pool, struct vmem_dev *dev)
{
	struct bio_list keep, fail;
	struct bio *bio;

	bio_list_init(&keep);
	bio_list_init(&fail);
	spin_lock_irq(&pool->defer_lock);
	while ((bio = bio_list_pop(&pool->parked)))
		bio_list_add(vmem_bio_dev(bio) == dev ? &fail : &keep, bio);
	pool->parked = keep;
	spin_unlock_irq(&pool->defer_lock);
	while ((bio = bio_list_pop(&fail)))
		bio_io_error(bio);
}

/**
 * vmem_prov_alloc() - allocate the worker's room for gaps
 * @pool: the pool, being attached
 *
 * Return: 0 or -ENOMEM.
 */
int vmem_prov_alloc(struct vmem_pool *pool)
{
	/* An entry sends at most VMEM_COVER_MAX writes: as many gaps + 1 */
	pool->batch.gaps = kvmalloc_array(VMEM_PROV_BATCH *
					  (VMEM_COVER_MAX + 1),
					  sizeof(*pool->batch.gaps),
					  GFP_KERNEL);
	return pool->batch.gaps ? 0 : -ENOMEM;
}

void vmem_prov_free(struct vmem_pool *pool)
{
	kvfree(pool->batch.gaps);
}

void vmem_prov_init(struct vmem_pool *pool)
{
	spin_lock_init(&pool->defer_lock);
	bio_list_init(&pool->deferred);
	bio_list_init(&pool->parked);
	bio_list_init(&pool->ranges);
	INIT_WORK(&pool->work, vmem_prov_work);
	INIT_WORK(&pool->range_work, vmem_prov_range_work);
	init_waitqueue_head(&pool->batch.wait);
}
