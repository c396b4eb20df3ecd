/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem group commit: what commit.c promises. The contract and the proof
 * of its ordering are at the top of commit.c.
 *
 * In short: map changes live in memory (map.h's shadows) until a commit
 * writes them; a commit runs before any REQ_PREFLUSH or REQ_FUA bio of
 * any device of the pool completes (when there is anything to commit),
 * at the latest interval_ms after a change, and whenever a caller needs
 * one (vmem_commit_sync()). Everything waiting when a commit starts is
 * served by that one commit.
 */
#ifndef _VMEM_COMMIT_H
#define _VMEM_COMMIT_H

#include <linux/bio.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <vmem/format.h>

struct vmem_pool;

/* Default and bounds of commit_interval_ms */
#define VMEM_COMMIT_INTERVAL_MS		1000U
#define VMEM_COMMIT_INTERVAL_MAX_MS	60000U

/**
 * struct vmem_free - a bucket unmapped and not yet released
 * @id: device it belonged to
 * @vb: its virtual bucket there
 * @pb: the physical bucket
 */
struct vmem_free {
	u32 id;
	u64 vb;
	u64 pb;
};

/**
 * struct vmem_frees - a growable list of struct vmem_free
 * @n: entries
 * @cap: room
 * @v: entries, kvmalloc'ed
 */
struct vmem_frees {
	unsigned int n;
	unsigned int cap;
	struct vmem_free *v;
};

/* Buckets armed ahead of need at most, in whole map sectors */
#define VMEM_ARM_MAX_SECTORS	64

/**
 * struct vmem_commit - a pool's group commit
 * @mutex: the commit lock: held by whoever writes metadata (a commit, a
 *	device-table write); it owns the map's image and committing bitmap
 *	and is taken before pool->meta_lock
 * @lock: protects @flushes and @preflush (taken in interrupt context)
 * @flushes: bios to end when the next commit ends: empty flushes, and
 *	FUA writes whose data is written
 * @preflush: writes with REQ_PREFLUSH to send, without it, when the
 *	next commit ends
 * @frees: under pool->meta_lock: buckets unmapped since the last seal
 * @arm: under pool->meta_lock: buckets armed by the pending shadows
 * @narm: entries in @arm
 * @needs_preflush: under pool->meta_lock: a bucket assigned since the
 *	last seal was zeroed by the module, or written by its first writes,
 *	and its zeroes or their data may not be durable yet
 * @dirty: bumped under pool->meta_lock for every change to commit
 * @committed: the value of @dirty the last successful commit covered
 * @sealed: under pool->meta_lock: commits that have sealed
 * @done: commits that have ended (successful or not)
 * @waiters: vmem_commit_sync() callers waiting
 * @waitq: vmem_commit_sync() waits here for @done
 * @ro: a metadata write failed: the pool is read-only until detached
 * @interval_ms: longest time a change stays uncommitted
 * @wq: ordered workqueue running @work and @timer
 * @work: runs a commit
 * @timer: runs a commit @interval_ms after a change
 * @commits: commits that wrote something, since attach
 * @sectors: metadata sectors they wrote
 * @served: flush and FUA bios they served
 */
struct vmem_commit {
	struct mutex mutex;		/* see above */
	spinlock_t lock;		/* see above */
	struct bio_list flushes;
	struct bio_list preflush;
	struct vmem_frees frees;
	u64 arm[VMEM_ARM_MAX_SECTORS * VMEM_ENTRIES_PER_SECTOR];
	unsigned int narm;
	bool needs_preflush;
	atomic64_t dirty;
	atomic64_t committed;
	u64 sealed;
	atomic64_t done;
	atomic_t waiters;
	wait_queue_head_t waitq;
	bool ro;
	unsigned int interval_ms;
	struct workqueue_struct *wq;
	struct work_struct work;
	struct delayed_work timer;
	atomic64_t commits;
	atomic64_t sectors;
	atomic64_t served;
};

int vmem_commit_init(struct vmem_pool *pool, unsigned int interval_ms);
void vmem_commit_exit(struct vmem_pool *pool);

/**
 * vmem_commit_changed() - note a change to commit
 * @pool: the pool; its meta_lock held, the change made or, for one that
 *	lock-free lookups see (an assignment), about to be made
 *
 * Starts the interval timer if it is not running.
 */
void vmem_commit_changed(struct vmem_pool *pool);

/**
 * vmem_commit_needed() - is anything changed and not yet committed?
 * @c: the pool's commit
 *
 * Any context. A change made before a bio was submitted is seen.
 */
static inline bool vmem_commit_needed(struct vmem_commit *c)
{
	/* Pairs with the lock release after the change */
	smp_mb();
	return atomic64_read(&c->dirty) != atomic64_read(&c->committed);
}

/**
 * vmem_commit_ro() - has a metadata write failed? Any context.
 * @c: the pool's commit
 */
static inline bool vmem_commit_ro(struct vmem_commit *c)
{
	return READ_ONCE(c->ro);
}

/**
 * vmem_commit_room() - make room to record @more frees
 * @pool: the pool; its meta_lock held
 * @more: frees about to be recorded
 *
 * Return: 0 or -ENOMEM. Called before vmem_map_unmap(), so that
 * vmem_commit_free() cannot fail after it.
 */
int vmem_commit_room(struct vmem_pool *pool, unsigned int more);

/**
 * vmem_commit_free() - record a bucket vmem_map_unmap() took away
 * @pool: the pool; its meta_lock held, room made
 * @id: device
 * @vb: virtual bucket
 * @pb: physical bucket
 *
 * The next commit writes the free, waits for the bucket's I/O and then
 * releases it (vmem_map_release()). It starts at once if the pool has
 * fewer buckets to hand out than frees waiting for it.
 */
void vmem_commit_free(struct vmem_pool *pool, u32 id, u64 vb, u64 pb);

/**
 * vmem_commit_add_flush() - end @bio when the next commit ends
 * @pool: the pool
 * @bio: an empty flush, or a FUA write whose data is written; any context
 */
void vmem_commit_add_flush(struct vmem_pool *pool, struct bio *bio);

/**
 * vmem_commit_add_preflush() - send @bio, without REQ_PREFLUSH, when the
 * next commit ends
 * @pool: the pool
 * @bio: a write carrying data and REQ_PREFLUSH, not yet remapped
 */
void vmem_commit_add_preflush(struct vmem_pool *pool, struct bio *bio);

/** vmem_commit_kick() - start a commit soon; any context */
void vmem_commit_kick(struct vmem_pool *pool);

/**
 * vmem_commit_sync() - commit everything changed so far and flush
 * @pool: the pool; neither of its locks held
 *
 * Return: 0, or -EIO when the pool is (or turns) read-only.
 */
int vmem_commit_sync(struct vmem_pool *pool);

/**
 * vmem_commit_write_sector() - durably write one image sector at once
 * @pool: the pool; the commit lock held
 * @sector: a sector of the image changed in place (superblock, device
 *	table): it has no pending state
 *
 * Return: 0; -EROFS if the pool is read-only; -EIO if the write failed
 * (the pool is read-only from then on).
 */
int vmem_commit_write_sector(struct vmem_pool *pool, u64 sector);

/**
 * vmem_commit_set_ro() - a metadata write failed: stop writing
 * @pool: the pool
 * @what: what failed, for the log line
 * @err: its error
 */
void vmem_commit_set_ro(struct vmem_pool *pool, const char *what, int err);

#endif /* _VMEM_COMMIT_H */
