/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem write buffer: what wbuf.c promises. Its semantics and design are
 * at the top of wbuf.c, the state word in wbuf_state.h.
 *
 * Locking: the writers of a buffer share only its state word; whoever
 * takes its cycle (@taken) owns a sealed buffer with no writer inside
 * until the cycle is done: the flusher (one ordered work item, which
 * alone uses the tables @recs, @runs and @waves), or a flush that writes
 * it itself with the buffer's @self. Cycles are called done in order; a
 * cycle a flush wrote is finished by whoever wins one cmpxchg on its
 * @self's stage once its write-out (and its flush after it, on a disk
 * without FUA) ended and the cycle before it is done: that completion
 * (any context) or the flusher. A
 * buffer's @lock orders adding a waiting bio against the buffer's cycle
 * being called done.
 * Switching the buffer on or off, and its size, happen under
 * vmem_ctl_mutex.
 */
#ifndef _VMEM_WBUF_H
#define _VMEM_WBUF_H

#include <linux/bio.h>
#include <linux/hrtimer.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include "wbuf_state.h"

#define VMEM_WB_BUFS		4
#define VMEM_WB_DELAY_US	2000
#define VMEM_WB_DELAY_MAX_US	100000
#define VMEM_WB_MB		16
#define VMEM_WB_MB_MAX		1024
/* write_buffer= and sysfs write_buffer take 0, 1 or this: "auto" */
#define VMEM_WB_AUTO		2
/* Filter of the 4 KiB blocks a buffer holds: 1 << this many bits */
#define VMEM_WB_FILTER_SHIFT	16
struct vmem_dev;
struct vmem_pool;
struct vmem_wb;
struct vmem_wb_rec;
struct vmem_wb_run;
struct vmem_wb_self;
struct vmem_wb_wave;

/**
 * struct vmem_wbuf - one buffer
 * @state: the packed state word; the only thing writers share
 * @cycle: which cycle of the ring it holds: set before it opens, read
 *	by readers checking whether its data is on disk yet
 * @data: the buffer: records of a 512-byte header and the data
 * @filter: hashed 4 KiB blocks written into it this cycle
 * @lock: protects @waiters, @flushes and @covered against the cycle
 *	ending
 * @waiters: bios to send again once this cycle is on disk (reads and
 *	FUA writes of blocks it holds, writes that found no room)
 * @flushes: REQ_PREFLUSH bios to serve once this cycle is on disk
 * @covered: REQ_PREFLUSH bios to end once this cycle is on disk: a flush
 *	writes it and makes it durable, and they were sent on to the backing
 *	device themselves (vmem_wb_flush_covered())
 * @self: a flush's write-out of this buffer (wbuf.c)
 */
struct vmem_wbuf {
	atomic64_t state;
	u64 cycle;
	u8 *data;
	unsigned long *filter;
	spinlock_t lock;		/* see above */
	struct bio_list waiters;
	struct bio_list flushes;
	struct bio_list covered;
	struct vmem_wb_self *self;
};

/**
 * struct vmem_wb - a pool's write buffer
 * @buf: the ring of buffers; cycle c lives in buf[c % VMEM_WB_BUFS]
 * @head: the cycle of the open buffer, the one writers fill
 * @done: every cycle up to this one is on the backing device
 * @taken: the newest cycle taken for writing out (a flush that took it
 *	may still give it back before writing): @done, @done + 1, or more
 *	while flushes write cycles out behind each other; the flusher and
 *	a flush (vmem_wb_flush()) each take a cycle with one cmpxchg from
 *	its predecessor, so one of them writes it
 * @iself: the newest cycle a flush writes out and makes durable itself
 *	(REQ_FUA, or a flush after its writes), set just
 *	before its writes are sent, once it can no longer give it back
 *	(if a write fails, the flusher retries it, also with REQ_FUA); a
 *	flush may take the next cycle while this one is in flight
 * @ring_lock: serializes opening the next buffer (vmem_wb_advance()),
 *	which sets its cycle and resets its state under it; the flusher
 *	reads that pair under it too. Irq-safe; nothing nests inside.
 * @done_wq: vmem_wb_sync() waits here for @done, or for @offs
 * @offs: switch-offs that wrote everything out; set under
 *	vmem_ctl_mutex, read lock-free (a sync that saw it change is
 *	done: the next switch-on resets @done below the cycle it waits for)
 * @buf_bytes: size of each buffer
 * @hdr: bytes before each record's data (wbuf.c); set at switch-on
 * @mb: total size, in MiB, of the buffers the next switch-on allocates
 * @timer: seals the open buffer delay_us after its first write
 * @delay_us: longest time written data stays only in memory
 * @enabled: new writes are buffered; set (with release, after the
 *	ring) under vmem_ctl_mutex, read lock-free with acquire
 * @active: the buffers exist and may hold data (on, or being switched
 *	off); set like @enabled, read lock-free with acquire, by readers
 *	under their in-flight read side
 * @bs: bioset for the merged writes
 * @wq: ordered workqueue of the flusher
 * @post_wq: sends the flush after a flush's write-out (wbuf.c)
 * @work: writes sealed buffers out, in cycle order
 * @recs: the list of a buffer's records being written out
 * @nrecs: room in @recs
 * @runs: merged writes of one wave (as many as @recs)
 * @waves: the flusher's table of 4 KiB block -> wave (see wbuf.c)
 * @nwaves: entries in @waves
 * @cycles: buffers written out
 * @merged: merged writes sent
 * @records: buffered writes sent inside them
 * @direct: writes sent directly, no room in the buffer
 * @waits: bios that waited for buffered data to reach the disk
 * @errors: buffered writes the backing device failed (data lost)
 * @self_flushes: flushes that wrote the buffer themselves
 * @covered_flushes: flushes that flushed beside such a write-out
 * @piped_flushes: flushes that wrote the buffer themselves while an older
 *	cycle was still being written by another flush
 */
struct vmem_wb {
	struct vmem_wbuf buf[VMEM_WB_BUFS];
	atomic64_t head;
	atomic64_t done;
	atomic64_t taken;
	atomic64_t iself;
	spinlock_t ring_lock;		/* see above */
	wait_queue_head_t done_wq;
	unsigned long offs;
	size_t buf_bytes;
	u32 hdr;
	unsigned int mb;
	struct hrtimer timer;
	unsigned int delay_us;
	bool enabled;
	bool active;
	struct bio_set bs;
	struct workqueue_struct *wq;
	struct workqueue_struct *post_wq;
	struct work_struct work;
	struct vmem_wb_rec **recs;
	unsigned int nrecs;
	struct vmem_wb_run *runs;
	struct vmem_wb_wave *waves;
	unsigned int nwaves;
	atomic64_t cycles;
	atomic64_t merged;
	atomic64_t records;
	atomic64_t direct;
	atomic64_t waits;
	atomic64_t errors;
	atomic64_t self_flushes;
	atomic64_t covered_flushes;
	atomic64_t piped_flushes;
};

int vmem_wb_parse(const char *val);
const char *vmem_wb_mode_name(int mode);
bool vmem_wb_mode_on(struct vmem_pool *pool, int mode);
int vmem_wb_init(struct vmem_pool *pool, int mode, unsigned int delay_us,
		 unsigned int mb);
void vmem_wb_exit(struct vmem_pool *pool);
int vmem_wb_set(struct vmem_pool *pool, bool on);
int vmem_wb_resize(struct vmem_pool *pool, unsigned int mb);
bool vmem_wb_write(struct vmem_dev *dev, struct bio *bio, u64 phys,
		   int srcu_idx);
bool vmem_wb_wait_hit(struct vmem_pool *pool, struct bio *bio, u64 phys,
		      int srcu_idx);
bool vmem_wb_flush(struct vmem_dev *dev, struct bio *bio);
void vmem_wb_kick(struct vmem_pool *pool);
void vmem_wb_sync(struct vmem_pool *pool);

#endif /* _VMEM_WBUF_H */
