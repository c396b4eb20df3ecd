// SPDX-License-Identifier: GPL-2.0
/*
 * vmem group commit: when and how changes of the bucket map reach the
 * disk, and why that is safe.
 *
 * The contract, as for any disk with a volatile write cache (the devices
 * advertise one, with FUA):
 *  - a write is durable once a REQ_PREFLUSH bio sent after it completed
 *    has completed, on any device of the pool; a REQ_FUA write is durable
 *    when it completes;
 *  - after a crash at any instant, a range reads as what was last written
 *    to it or as what it held before, and a range never written (or
 *    discarded) reads as zeros: never another device's data, never what
 *    the disk held before it was formatted.
 *
 * How. Provisioning (prov.c) gives a write its bucket in memory, and
 * the new map entry waits in a shadow sector (map.h); a write into an
 * armed bucket goes at once, first writes into a dirty one go before it
 * is assigned and end after (see below). A commit then:
 *  0. in layout version 2, writes copy B of the sectors the last commit
 *     wrote, unless the copy work (meta_io.c) has written them already:
 *     from the image before this commit's seal, so that copy B receives
 *     committed state only; step 3 makes it durable before copy A is
 *     written again (the copy rule of include/vmem/format.h);
 *  1. seals: under the map lock, moves every shadow into the image and
 *     takes the buckets freed and armed since the last seal; whatever
 *     waits for a commit at that moment (flush bios, FUA writes, writes
 *     with REQ_PREFLUSH, vmem_commit_sync() callers) is served by it;
 *  2. drains (vmem_drain()) when it frees buckets;
 *  3. flushes the backing device when a bucket assigned since the last
 *     seal was zeroed by the module, or written by its first writes and
 *     zeroed where they did not write (neither may be durable yet), or
 *     when step 0 wrote copy B;
 *  4. writes the changed map sectors;
 *  5. flushes the backing device;
 *  6. releases the freed buckets (dirty, for the zeroer) and the armed
 *     ones (ready for use), and ends what waited.
 * A commit runs when a flush or FUA bio finds changes not yet committed
 * (vmem_commit_needed()), commit_interval_ms after a change at the
 * latest, when a caller needs one (delete, detach), and at once when a
 * free finds fewer buckets to hand out than frees waiting for the commit
 * (vmem_commit_free(): a discard in a full pool).
 *
 * Why the flush contract holds. A flush F either finds nothing changed
 * and not committed, and goes straight to the backing device, or waits
 * for a commit that seals after F arrived. A write W that completed
 * before F arrived has its data on the backing device before that
 * commit's step 5 (W completed, then F arrived, then the seal, then step
 * 5), and its map entry, changed before W was sent, is in that commit or
 * an earlier one. Step 5 makes both durable. A FUA write that finds
 * changes not yet committed when its data is written waits for a commit
 * the same way; a write with REQ_PREFLUSH waits for one before it is
 * sent (without the flag: the commit flushed).
 *
 * Why there is never foreign data, whenever the crash comes:
 *  - A bucket is given to a device only when no part of it holds
 *    foreign data: armed (durably zero), or zeroed whole by the worker,
 *    which completes before the write that needed it is sent, or written
 *    by the first writes sent to it and zeroed where they did not write,
 *    all of which completes before it is assigned (prov.c); until then
 *    it is in no lookup, so no read sees it, and in no map sector. A
 *    commit that assigns a bucket the worker zeroed or so wrote flushes
 *    first (step 3), so a map entry on disk never points at a bucket
 *    whose zeroes, or its device's data, are not durable.
 *  - Data can reach a bucket before its map entry is committed. If the
 *    crash comes first the bucket is free on disk and not marked zero,
 *    so it is dirty: zeroed before its next assignment where that
 *    assignment's first writes did not write (the first point). For the same reason a bucket
 *    format marked zero (VMEM_ENTRY_ZEROED) is armed before use: a commit
 *    clears its mark durably (ahead of need, a map sector at a time)
 *    before any data can reach it.
 *  - A freed bucket is reused only after the commit that frees it on disk
 *    and after every bio that could still reach it has completed (steps
 *    2 and 6), and as a dirty bucket: zeroed, or written and zeroed
 *    around, before it is assigned (the first point).
 *  - The image holds only committed state (or state being committed by
 *    the commit lock's holder), so no other metadata write (device table,
 *    superblock, a round-up to a 4 KiB block) carries an uncommitted
 *    entry to the disk.
 *  - Each sector is written whole and carries its checksum; a crash in
 *    step 4 leaves some sectors new and some old, and any mix is a valid
 *    pool: a virtual bucket freed and written again is given a new bucket
 *    only after its free is committed (VMEM_MAP_FREEING), so it is never
 *    mapped twice on disk, and a device's record is cleared only after
 *    the commit that frees its last bucket.
 *
 * Failure. A metadata write or flush that failed may or may not have
 * reached the disk, so memory is never reverted to a guess: the pool
 * turns read-only (writes, flushes, discards and control changes fail,
 * reads keep working, a log line and sysfs say so) until it is detached
 * and attached again, as dm-thin does.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/slab.h>
#include "debug.h"
#include "vmem.h"

/* Arm ahead of need: about this many bytes of buckets at a time */
#define VMEM_ARM_BYTES		(256ULL << 20)

static struct vmem_pool *vmem_commit_pool(struct vmem_commit *c)
{
	return container_of(c, struct vmem_pool, cm);
}

void vmem_commit_set_ro(struct vmem_pool *pool, const char *what, int err)
{
	if (READ_ONCE(pool->cm.ro))
		return;
	WRITE_ONCE(pool->cm.ro, true);
	pr_err("%pg: %s failed (%d): pool is read-only; writes fail with EIO until it is detached and attached again\n",
	       pool->bdev, what, err);
	/* No commit or zeroing will free space for parked writes now */
	vmem_prov_unpark(pool);
}

void vmem_commit_changed(struct vmem_pool *pool)
{
	struct vmem_commit *c = &pool->cm;

	lockdep_assert_held(&pool->meta_lock);
	atomic64_inc(&c->dirty);
	queue_delayed_work(c->wq, &c->timer,
			   msecs_to_jiffies(READ_ONCE(c->interval_ms)));
}

int vmem_commit_room(struct vmem_pool *pool, unsigned int more)
{
	struct vmem_frees *f = &pool->cm.frees;
	unsigned int cap = f->cap;
	struct vmem_free *v;

	lockdep_assert_held(&pool->meta_lock);
	if (f->n + more <= cap)
		return 0;
	cap = max3(64U, cap * 2, f->n + more);
	v = kvmalloc_array(cap, sizeof(*v), GFP_NOIO);
	if (!v)
		return -ENOMEM;
	if (f->n)
		memcpy(v, f->v, f->n * sizeof(*v));
	kvfree(f->v);
	f->v = v;
	f->cap = cap;
	return 0;
}

void vmem_commit_free(struct vmem_pool *pool, u32 id, u64 vb, u64 pb)
{
	struct vmem_frees *f = &pool->cm.frees;

	lockdep_assert_held(&pool->meta_lock);
	if (WARN_ON_ONCE(f->n >= f->cap))
		return;
	f->v[f->n++] = (struct vmem_free){ .id = id, .vb = vb, .pb = pb };
	vmem_commit_changed(pool);
	/*
	 * Most of what the pool can hand out waits for this commit (a full
	 * pool, a discard): the space is wanted now, not a commit interval
	 * later. Once the frees are released the pool has them and the
	 * kicks stop: a shortage costs an early commit or two (frees that
	 * came while one was being written), not one per free.
	 */
	if (vmem_map_reservable(&pool->map) < f->n)
		vmem_commit_kick(pool);
}

void vmem_commit_kick(struct vmem_pool *pool)
{
	queue_work(pool->cm.wq, &pool->cm.work);
}

/* Queue @bio on @list for the next commit to seal; any context */
static void vmem_commit_add(struct vmem_pool *pool, struct bio_list *list,
			    struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&pool->cm.lock, flags);
	bio_list_add(list, bio);
	spin_unlock_irqrestore(&pool->cm.lock, flags);
	vmem_commit_kick(pool);
}

void vmem_commit_add_flush(struct vmem_pool *pool, struct bio *bio)
{
	vmem_commit_add(pool, &pool->cm.flushes, bio);
}

void vmem_commit_add_preflush(struct vmem_pool *pool, struct bio *bio)
{
	vmem_commit_add(pool, &pool->cm.preflush, bio);
}

/*
 * Arm format-zeroed buckets ahead of need, a map sector at a time, until
 * about VMEM_ARM_BYTES of buckets are armed or being armed
 */
static void vmem_commit_arm_ahead(struct vmem_pool *pool)
{
	struct vmem_commit *c = &pool->cm;
	struct vmem_map *m = &pool->map;
	u64 want = div64_u64(VMEM_ARM_BYTES, vmem_dev_bucket_bytes(pool));
	unsigned int max = ARRAY_SIZE(c->arm);
	int n;

	want = clamp_t(u64, want, 2 * VMEM_ENTRIES_PER_SECTOR, max);
	while (vmem_map_nr(m, VMEM_ARMED) + c->narm < want &&
	       c->narm + VMEM_ENTRIES_PER_SECTOR <= max) {
		n = vmem_map_arm(m, c->arm + c->narm, max - c->narm);
		if (n <= 0)
			break;
		c->narm += n;
		atomic64_inc(&c->dirty);
	}
}

/*
 * Steps 3-5 of the top of this file: write the sectors the seal marked in
 * the committing bitmap, whole logical blocks at a time, after a flush
 * when @preflush (with nothing to write, step 5's flush serves). In
 * layout version 2 that is copy A; copy B of these sectors is written by
 * the copy work once the bios waiting for this commit have ended, or by
 * step 0 of the next commit (vmem_meta_committed()).
 */
static int vmem_commit_write(struct vmem_pool *pool, bool preflush)
{
	struct vmem_map *m = &pool->map;
	unsigned int lbs = bdev_logical_block_size(pool->bdev) >> SECTOR_SHIFT;
	u64 n = m->geom.map_sectors, first, end, s, written = 0;
	int ret;

	first = find_first_bit(m->committing, n);
	if (preflush && first < n) {
		ret = vmem_meta_flush(pool);
		if (ret)
			return ret;
	}
	while (first < n) {
		/* A run, grown while the next change shares its last block */
		end = find_next_zero_bit(m->committing, n, first);
		while (end < n) {
			s = find_next_bit(m->committing, n, end);
			if (s >= n || round_down(VMEM_MAP_START + s, lbs) >=
			    round_up(VMEM_MAP_START + end, lbs))
				break;
			end = find_next_zero_bit(m->committing, n, s);
		}
		for (s = first; s < end; s++)
			if (test_bit(s, m->committing))
				vmem_map_reseal(m, VMEM_MAP_START + s);
		ret = vmem_meta_write(pool, VMEM_MAP_START + first,
				      end - first, 0);
		if (ret)
			return ret;
		written += end - first;
		first = find_next_bit(m->committing, n, end);
	}
	atomic64_add(written, &pool->cm.sectors);
	ret = vmem_meta_flush(pool);
	if (!ret)
		vmem_meta_committed(pool, m->committing);
	return ret;
}

static void vmem_commit_end_bios(struct vmem_pool *pool,
				 struct bio_list *flushes,
				 struct bio_list *preflush, int ret)
{
	struct bio *bio;

	while ((bio = bio_list_pop(flushes))) {
		atomic64_inc(&pool->cm.served);
		if (ret)
			bio_io_error(bio);
		else
			bio_endio(bio);
	}
	while ((bio = bio_list_pop(preflush))) {
		atomic64_inc(&pool->cm.served);
		if (ret) {
			bio_io_error(bio);
			continue;
		}
		bio->bi_opf &= ~REQ_PREFLUSH;
		submit_bio_noacct(bio);
	}
}

static void vmem_commit_run(struct vmem_pool *pool)
{
	struct vmem_commit *c = &pool->cm;
	struct vmem_map *m = &pool->map;
	struct bio_list flushes, preflush;
	struct vmem_frees frees;
	bool need_preflush, wanted, owed = false;
	unsigned int narm, i;
	u64 seq, nsec;
	int ret = 0;

	vmem_hook(VMEM_HOOK_COMMIT);
	mutex_lock(&c->mutex);
	spin_lock_irq(&c->lock);
	flushes = c->flushes;
	preflush = c->preflush;
	bio_list_init(&c->flushes);
	bio_list_init(&c->preflush);
	spin_unlock_irq(&c->lock);

	/* 0. copy B of the last commit, while the image holds it alone */
	if (!READ_ONCE(c->ro)) {
		ret = vmem_meta_before_a(pool, false, &owed);
		if (ret)
			vmem_commit_set_ro(pool, "metadata write (copy B)", ret);
	}

	/* 1. seal */
	mutex_lock(&pool->meta_lock);
	if (!READ_ONCE(c->ro) && !READ_ONCE(pool->stopping))
		vmem_commit_arm_ahead(pool);
	seq = atomic64_read(&c->dirty);
	nsec = vmem_map_seal(m);
	frees = c->frees;
	c->frees = (struct vmem_frees){ };
	narm = c->narm;
	c->narm = 0;
	need_preflush = c->needs_preflush;
	c->needs_preflush = false;
	c->sealed++;
	mutex_unlock(&pool->meta_lock);

	wanted = nsec || !bio_list_empty(&flushes) ||
		 !bio_list_empty(&preflush) || atomic_read(&c->waiters);
	/* 2. drain; buffered writes hold read sides: send them now */
	if (frees.n) {
		vmem_wb_kick(pool);
		vmem_drain(pool);
	}
	/* 3.-5. write */
	if (READ_ONCE(c->ro)) {
		ret = -EIO;
	} else if (wanted || owed) {
		ret = vmem_commit_write(pool, need_preflush || owed);
		if (ret)
			vmem_commit_set_ro(pool, "metadata commit", ret);
		else if (nsec)
			atomic64_inc(&c->commits);
	}
	vmem_map_sealed(m);

	/* 6. release; after a failure nothing freed or armed is reused */
	mutex_lock(&pool->meta_lock);
	if (!ret) {
		for (i = 0; i < frees.n; i++)
			vmem_map_release(m, frees.v[i].id, frees.v[i].vb,
					 frees.v[i].pb);
		for (i = 0; i < narm; i++)
			vmem_map_put(m, c->arm[i], VMEM_ARMED);
		atomic64_set(&c->committed, seq);
	}
	mutex_unlock(&pool->meta_lock);
	atomic64_inc(&c->done);
	mutex_unlock(&c->mutex);

	wake_up_all(&c->waitq);
	vmem_commit_end_bios(pool, &flushes, &preflush, ret);
	kvfree(frees.v);
	if (narm || frees.n) {
		vmem_prov_unpark(pool);
		vmem_pool_usage(pool);
	}
	if (frees.n)
		vmem_zero_kick(pool);
}

static void vmem_commit_work(struct work_struct *work)
{
	vmem_commit_run(container_of(work, struct vmem_pool, cm.work));
}

static void vmem_commit_timer(struct work_struct *work)
{
	struct vmem_commit *c = container_of(to_delayed_work(work),
					     struct vmem_commit, timer);

	vmem_commit_run(vmem_commit_pool(c));
}

int vmem_commit_sync(struct vmem_pool *pool)
{
	struct vmem_commit *c = &pool->cm;
	u64 target;

	/*
	 * The first commit to seal from now on covers every change so far,
	 * and sees the waiter (so it flushes even with nothing to write)
	 */
	atomic_inc(&c->waiters);
	mutex_lock(&pool->meta_lock);
	target = c->sealed + 1;
	mutex_unlock(&pool->meta_lock);
	vmem_commit_kick(pool);
	wait_event(c->waitq, atomic64_read(&c->done) >= target);
	atomic_dec(&c->waiters);
	return READ_ONCE(c->ro) ? -EIO : 0;
}

int vmem_commit_write_sector(struct vmem_pool *pool, u64 sector)
{
	int ret;

	lockdep_assert_held(&pool->cm.mutex);
	if (READ_ONCE(pool->cm.ro))
		return -EROFS;
	/* Version 2: copy A with FUA, then copy B with FUA (the copy rule) */
	ret = vmem_meta_before_a(pool, true, NULL);
	if (!ret)
		ret = vmem_meta_write(pool, sector, 1, REQ_FUA);
	if (!ret && vmem_meta_copies(pool))
		ret = vmem_meta_write_b(pool, sector, 1, REQ_FUA);
	if (ret) {
		vmem_commit_set_ro(pool, "metadata write", ret);
		return -EIO;
	}
	return 0;
}

int vmem_commit_init(struct vmem_pool *pool, unsigned int interval_ms)
{
	struct vmem_commit *c = &pool->cm;

	mutex_init(&c->mutex);
	spin_lock_init(&c->lock);
	bio_list_init(&c->flushes);
	bio_list_init(&c->preflush);
	init_waitqueue_head(&c->waitq);
	INIT_WORK(&c->work, vmem_commit_work);
	INIT_DELAYED_WORK(&c->timer, vmem_commit_timer);
	c->interval_ms = interval_ms;
	c->wq = alloc_ordered_workqueue("vmem_commit", WQ_MEM_RECLAIM);
	return c->wq ? 0 : -ENOMEM;
}

/* Every device is gone: nothing can queue a commit any more */
void vmem_commit_exit(struct vmem_pool *pool)
{
	struct vmem_commit *c = &pool->cm;

	if (!c->wq)
		return;
	cancel_delayed_work_sync(&c->timer);
	destroy_workqueue(c->wq);
	c->wq = NULL;
	kvfree(c->frees.v);
	c->frees = (struct vmem_frees){ };
}
