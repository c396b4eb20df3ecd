/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem write buffer: what wbuf.c promises (semantics and design are
 * described at the top of wbuf.c; the state word in wbuf_state.h).
 */
#ifndef _VMEM_WBUF_H
#define _VMEM_WBUF_H

#include <linux/bio.h>
#include <linux/hrtimer.h>
#include <linux/workqueue.h>
#include "wbuf_state.h"

#define VMEM_WB_SLOTS		64
#define VMEM_WB_DELAY_US	200

struct vmem_dev;
struct vmem_pool;

/**
 * struct vmem_wb_slot - one buffered bio
 * @bio: the original write
 * @dev: its device
 * @phys: backing sector its data goes to
 * @idx: its in-flight read side, from vmem_io_enter()
 * @start: I/O accounting start time
 */
struct vmem_wb_slot {
	struct bio *bio;
	struct vmem_dev *dev;
	u64 phys;
	int idx;
	unsigned long start;
};

/**
 * struct vmem_wbuf - one buffer
 * @state: the packed state word; the only thing writers share
 * @pool: owner
 * @work: flushes the buffer when it was sealed in atomic context
 * @slot: slot i belongs to the writer that reserved it until it leaves,
 *	then to the flusher until the state word is reset
 */
struct vmem_wbuf {
	atomic64_t state;
	struct vmem_pool *pool;
	struct work_struct work;
	struct vmem_wb_slot slot[VMEM_WB_SLOTS];
};

/**
 * struct vmem_wb - a pool's write buffers
 * @buf: the two buffers
 * @active: index of the buffer new writers try first (a hint)
 * @timer: seals non-empty buffers delay_us after a buffer's first write
 * @delay_us: idle delay; changed through sysfs
 * @enabled: buffer writes; changed through sysfs, read lock-free
 * @bs: bioset for merged writes
 * @wq: runs flushes sealed by the timer and retries of failed batches
 * @flushes: batches sent
 * @merged: merged bios sent
 * @batched: original bios sent inside merged bios
 * @bypassed: writes sent directly because both buffers were sealed
 * @retries: merged bios that failed and were retried bio by bio
 */
struct vmem_wb {
	struct vmem_wbuf buf[2];
	atomic_t active;
	struct hrtimer timer;
	unsigned int delay_us;
	bool enabled;
	struct bio_set bs;
	struct workqueue_struct *wq;
	atomic64_t flushes;
	atomic64_t merged;
	atomic64_t batched;
	atomic64_t bypassed;
	atomic64_t retries;
};

int vmem_wb_init(struct vmem_pool *pool, bool on, unsigned int delay_us);
void vmem_wb_exit(struct vmem_pool *pool);
bool vmem_wb_add(struct vmem_dev *dev, struct bio *bio, u64 phys,
		 int srcu_idx);
void vmem_wb_kick(struct vmem_pool *pool);
void vmem_wb_set(struct vmem_pool *pool, bool on);

#endif /* _VMEM_WBUF_H */
