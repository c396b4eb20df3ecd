/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem write buffer state word, after photondb's WriteBuffer: the whole
 * state of one buffer is one 64-bit word changed only by compare-and-swap.
 *
 *   bit  63      sealed: no new writer may enter
 *   bits 40..62  writers inside (reserved space, not yet left)
 *   bits  0..39  bytes used
 *
 * A writer reserves space (one CAS: writers + 1, used + bytes; the writer
 * whose reservation leaves too little room for another write also
 * seals), fills it, and leaves (one CAS: writers - 1). A writer whose
 * data does not fit is refused and seals the buffer itself. The buffer
 * reaches "sealed with no writer inside" exactly once per cycle, by one
 * CAS, and whoever's CAS made that transition -- the last writer to
 * leave, or a sealer finding no writer inside -- is told to flush it.
 * Whoever writes the buffer out (wbuf.c) then sets the word to sealed
 * and empty, and vmem_wb_advance() reopens it (0) for its next cycle.
 *
 * Which bios the buffer takes at all is vmem_wb_takes().
 *
 * These helpers are pure (no locks, no sleeping, any context) so KUnit
 * can test the state machine directly.
 */
#ifndef _VMEM_WBUF_STATE_H
#define _VMEM_WBUF_STATE_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/blk_types.h>
#include <linux/build_bug.h>
#include <linux/types.h>

#define VMEM_WB_SEALED		BIT_ULL(63)
#define VMEM_WB_WRITER_SHIFT	40
#define VMEM_WB_WRITERS_MAX	((1U << 23) - 1)
#define VMEM_WB_USED_MAX	(BIT_ULL(VMEM_WB_WRITER_SHIFT) - 1)

/**
 * struct vmem_wb_state - the state word, unpacked
 * @sealed: no new writer may enter
 * @writers: writers inside
 * @used: bytes used
 */
struct vmem_wb_state {
	bool sealed;
	u32 writers;
	u64 used;
};

static inline u64 vmem_wb_pack(struct vmem_wb_state s)
{
	BUILD_BUG_ON(VMEM_WB_WRITER_SHIFT + 23 != 63);
	return (s.sealed ? VMEM_WB_SEALED : 0) |
	       (u64)s.writers << VMEM_WB_WRITER_SHIFT | s.used;
}

static inline struct vmem_wb_state vmem_wb_unpack(u64 w)
{
	struct vmem_wb_state s = {
		.sealed = !!(w & VMEM_WB_SEALED),
		.writers = (w >> VMEM_WB_WRITER_SHIFT) & VMEM_WB_WRITERS_MAX,
		.used = w & VMEM_WB_USED_MAX,
	};

	return s;
}

enum vmem_wb_result {
	VMEM_WB_RESERVED,	/* got the space; buffer still open */
	VMEM_WB_RESERVED_LAST,	/* got the space and sealed the buffer */
	VMEM_WB_REFUSED_SEALED,	/* buffer sealed: use another */
	VMEM_WB_REFUSED_FULL,	/* does not fit: seal it, use another */
	VMEM_WB_REFUSED_BUSY,	/* too many writers inside */
};

/**
 * vmem_wb_reserve() - take @bytes of a buffer
 * @state: the buffer's state word
 * @capacity: bytes in the buffer, 1..VMEM_WB_USED_MAX
 * @bytes: bytes wanted, at most @capacity
 * @min: a reservation that leaves less room than this seals the buffer
 * @off: out: where the space starts, valid when it was reserved
 */
static inline enum vmem_wb_result vmem_wb_reserve(atomic64_t *state,
						  u64 capacity, u64 bytes,
						  u64 min, u64 *off)
{
	s64 old = atomic64_read(state);
	struct vmem_wb_state s;
	bool last;

	do {
		s = vmem_wb_unpack(old);
		if (s.sealed)
			return VMEM_WB_REFUSED_SEALED;
		if (s.used + bytes > capacity)
			return VMEM_WB_REFUSED_FULL;
		if (s.writers >= VMEM_WB_WRITERS_MAX)
			return VMEM_WB_REFUSED_BUSY;
		*off = s.used;
		s.writers++;
		s.used += bytes;
		last = capacity - s.used < min;
		s.sealed = last;
	} while (!atomic64_try_cmpxchg(state, &old, vmem_wb_pack(s)));
	return last ? VMEM_WB_RESERVED_LAST : VMEM_WB_RESERVED;
}

/**
 * vmem_wb_leave() - a writer that filled its space leaves
 * @state: the buffer's state word
 *
 * Return: true if the caller must flush the buffer (it was sealed and
 * this was the last writer inside).
 */
static inline bool vmem_wb_leave(atomic64_t *state)
{
	s64 w = atomic64_sub_return(1ULL << VMEM_WB_WRITER_SHIFT, state);
	struct vmem_wb_state s = vmem_wb_unpack(w);

	return s.sealed && !s.writers;
}

/**
 * vmem_wb_seal() - close the buffer to new writers
 * @state: the buffer's state word
 *
 * Return: true if the caller must flush the buffer: this call sealed it
 * and no writer was inside. False if it was already sealed (its flush is
 * someone else's) or writers are inside (the last to leave flushes).
 */
static inline bool vmem_wb_seal(atomic64_t *state)
{
	s64 old = atomic64_read(state);
	struct vmem_wb_state s;

	do {
		s = vmem_wb_unpack(old);
		if (s.sealed)
			return false;
	} while (!atomic64_try_cmpxchg(state, &old, old | VMEM_WB_SEALED));
	return !s.writers;
}

/**
 * vmem_wb_reset() - reopen a flushed buffer
 * @state: the buffer's state word
 *
 * After all the data was taken (the KUnit suite; wbuf.c reopens a
 * buffer under its ring lock, with its new cycle).
 */
static inline void vmem_wb_reset(atomic64_t *state)
{
	atomic64_set_release(state, 0);
}

/**
 * vmem_wb_takes() - may a bio to a provisioned bucket be buffered?
 * @opf: the bio's operation and flags
 *
 * Only a plain write: a REQ_FUA write must be durable when it completes,
 * and a write with REQ_PREFLUSH must reach the backing device with its
 * flag, after every write completed before it. Those, and reads, only
 * wait for buffered data of their blocks.
 */
static inline bool vmem_wb_takes(blk_opf_t opf)
{
	return op_is_write(opf & REQ_OP_MASK) &&
	       !(opf & (REQ_FUA | REQ_PREFLUSH));
}

#endif /* _VMEM_WBUF_STATE_H */
