/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem write buffer state word, after photondb's WriteBuffer: the whole
 * state of one buffer is one 64-bit word changed only by compare-and-swap.
 *
 *   bit  63      sealed: no new writer may enter
 *   bits 40..62  writers inside (reserved a slot, not yet left)
 *   bits  0..39  slots used
 *
 * A writer reserves a slot (one CAS: writers + 1, used + 1; the writer
 * that takes the last slot also seals), fills it, and leaves (one CAS:
 * writers - 1). The buffer reaches "sealed with no writer inside" exactly
 * once per cycle, by one CAS, and whoever's CAS made that transition --
 * the last writer to leave, or a sealer finding no writer inside -- is
 * told to flush it. The flusher takes the slots and resets the word to 0.
 *
 * These helpers are pure (no locks, no sleeping, any context) so KUnit
 * can test the state machine directly.
 */
#ifndef _VMEM_WBUF_STATE_H
#define _VMEM_WBUF_STATE_H

#include <linux/atomic.h>
#include <linux/bits.h>
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
 * @used: slots used
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
	VMEM_WB_RESERVED,	/* got a slot; buffer still open */
	VMEM_WB_RESERVED_LAST,	/* got the last slot and sealed the buffer */
	VMEM_WB_REFUSED_SEALED,	/* buffer sealed: use another or go direct */
	VMEM_WB_REFUSED_BUSY,	/* too many writers inside */
};

/**
 * vmem_wb_reserve() - take one slot
 * @state: the buffer's state word
 * @capacity: slots in the buffer, 1..VMEM_WB_USED_MAX
 * @slot: out: the slot index, valid when a slot was reserved
 */
static inline enum vmem_wb_result vmem_wb_reserve(atomic64_t *state,
						  u64 capacity, u64 *slot)
{
	s64 old = atomic64_read(state);
	struct vmem_wb_state s;
	bool last;

	do {
		s = vmem_wb_unpack(old);
		if (s.sealed || s.used >= capacity)
			return VMEM_WB_REFUSED_SEALED;
		if (s.writers >= VMEM_WB_WRITERS_MAX)
			return VMEM_WB_REFUSED_BUSY;
		last = s.used + 1 == capacity;
		s.writers++;
		s.used++;
		s.sealed = last;
	} while (!atomic64_try_cmpxchg(state, &old, vmem_wb_pack(s)));
	*slot = s.used - 1;
	return last ? VMEM_WB_RESERVED_LAST : VMEM_WB_RESERVED;
}

/**
 * vmem_wb_leave() - a writer that filled its slot leaves
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
 * Only the flusher calls this, after taking every slot.
 */
static inline void vmem_wb_reset(atomic64_t *state)
{
	atomic64_set_release(state, 0);
}

#endif /* _VMEM_WBUF_STATE_H */
