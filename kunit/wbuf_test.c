// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_wbuf: the write buffer's packed state word
 * (drivers/vmem/wbuf_state.h). Transitions one by one, then several
 * kthreads reserving, leaving and sealing at once: every cycle of the
 * buffer is flushed exactly once and no reserved slot is lost.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/kthread.h>
#include "wbuf_state.h"

static void vmem_wbuf_pack(struct kunit *test)
{
	struct vmem_wb_state s = { true, VMEM_WB_WRITERS_MAX,
				   VMEM_WB_USED_MAX };
	struct vmem_wb_state t = vmem_wb_unpack(vmem_wb_pack(s));

	KUNIT_EXPECT_TRUE(test, t.sealed);
	KUNIT_EXPECT_EQ(test, t.writers, VMEM_WB_WRITERS_MAX);
	KUNIT_EXPECT_EQ(test, t.used, VMEM_WB_USED_MAX);
	s = (struct vmem_wb_state){ false, 3, 17 };
	t = vmem_wb_unpack(vmem_wb_pack(s));
	KUNIT_EXPECT_FALSE(test, t.sealed);
	KUNIT_EXPECT_EQ(test, t.writers, 3);
	KUNIT_EXPECT_EQ(test, t.used, 17);
	KUNIT_EXPECT_EQ(test, vmem_wb_pack((struct vmem_wb_state){ }), 0);
}

static void vmem_wbuf_reserve_leave(struct kunit *test)
{
	atomic64_t st = ATOMIC64_INIT(0);
	u64 slot;

	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3, &slot), VMEM_WB_RESERVED);
	KUNIT_EXPECT_EQ(test, slot, 0);
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3, &slot), VMEM_WB_RESERVED);
	KUNIT_EXPECT_EQ(test, slot, 1);
	KUNIT_EXPECT_EQ(test, vmem_wb_unpack(atomic64_read(&st)).writers, 2);
	/* Leaving an open buffer never asks for a flush */
	KUNIT_EXPECT_FALSE(test, vmem_wb_leave(&st));
	/* The last slot seals */
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3, &slot),
			VMEM_WB_RESERVED_LAST);
	KUNIT_EXPECT_EQ(test, slot, 2);
	KUNIT_EXPECT_TRUE(test, vmem_wb_unpack(atomic64_read(&st)).sealed);
	/* Sealed: refused, state unchanged */
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3, &slot),
			VMEM_WB_REFUSED_SEALED);
	KUNIT_EXPECT_EQ(test, vmem_wb_unpack(atomic64_read(&st)).writers, 2);
	KUNIT_EXPECT_FALSE(test, vmem_wb_leave(&st));
	/* The last writer out of a sealed buffer flushes */
	KUNIT_EXPECT_TRUE(test, vmem_wb_leave(&st));
	vmem_wb_reset(&st);
	KUNIT_EXPECT_EQ(test, atomic64_read(&st), 0);
}

static void vmem_wbuf_seal(struct kunit *test)
{
	atomic64_t st = ATOMIC64_INIT(0);
	u64 slot;

	/* Sealing an idle buffer: the sealer flushes */
	KUNIT_EXPECT_TRUE(test, vmem_wb_seal(&st));
	KUNIT_EXPECT_FALSE(test, vmem_wb_seal(&st));
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 8, &slot),
			VMEM_WB_REFUSED_SEALED);
	vmem_wb_reset(&st);
	/* Sealing with a writer inside: the writer flushes on leaving */
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 8, &slot), VMEM_WB_RESERVED);
	KUNIT_EXPECT_FALSE(test, vmem_wb_seal(&st));
	KUNIT_EXPECT_TRUE(test, vmem_wb_leave(&st));
}

static void vmem_wbuf_overflow(struct kunit *test)
{
	struct vmem_wb_state s = { false, VMEM_WB_WRITERS_MAX, 5 };
	atomic64_t st = ATOMIC64_INIT(vmem_wb_pack(s));
	u64 slot = 99;

	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, VMEM_WB_USED_MAX, &slot),
			VMEM_WB_REFUSED_BUSY);
	KUNIT_EXPECT_EQ(test, slot, 99);
	KUNIT_EXPECT_EQ(test, atomic64_read(&st), vmem_wb_pack(s));
	/* A full buffer that somehow is not sealed still refuses */
	s = (struct vmem_wb_state){ false, 0, 4 };
	atomic64_set(&st, vmem_wb_pack(s));
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 4, &slot),
			VMEM_WB_REFUSED_SEALED);
}

/* Concurrency: threads hammer one buffer; a flush resets it */
#define VMEM_WB_THREADS		4
#define VMEM_WB_OPS		20000
#define VMEM_WB_CAP		16

struct vmem_wb_ctx {
	atomic64_t st;
	atomic_t filled[VMEM_WB_CAP];	/* slots filled in this cycle */
	atomic_t flushes;
	atomic_t reserved;	/* slots handed out, all cycles */
	atomic_t taken;		/* slots collected by flushes */
	atomic_t bad;		/* a flush found a slot unfilled */
	struct completion go;
	struct completion done[VMEM_WB_THREADS];
};

struct vmem_wb_arg {
	struct vmem_wb_ctx *ctx;
	int n;
};

static void vmem_wb_test_flush(struct vmem_wb_ctx *ctx)
{
	struct vmem_wb_state s = vmem_wb_unpack(atomic64_read(&ctx->st));
	u64 i;

	for (i = 0; i < s.used; i++)
		if (atomic_xchg(&ctx->filled[i], 0) != 1)
			atomic_inc(&ctx->bad);
	atomic_add(s.used, &ctx->taken);
	atomic_inc(&ctx->flushes);
	vmem_wb_reset(&ctx->st);
}

static int vmem_wb_thread(void *data)
{
	struct vmem_wb_arg *arg = data;
	struct vmem_wb_ctx *ctx = arg->ctx;
	u64 slot;
	int i;

	wait_for_completion(&ctx->go);
	for (i = 0; i < VMEM_WB_OPS; i++) {
		/* Every 64th op of thread 0 seals early, like a FUA would */
		if (arg->n == 0 && !(i % 64)) {
			if (vmem_wb_seal(&ctx->st))
				vmem_wb_test_flush(ctx);
			continue;
		}
		switch (vmem_wb_reserve(&ctx->st, VMEM_WB_CAP, &slot)) {
		case VMEM_WB_RESERVED:
		case VMEM_WB_RESERVED_LAST:
			atomic_inc(&ctx->reserved);
			atomic_inc(&ctx->filled[slot]);
			if (vmem_wb_leave(&ctx->st))
				vmem_wb_test_flush(ctx);
			break;
		default:
			cond_resched();
			break;
		}
	}
	complete(&ctx->done[arg->n]);
	return 0;
}

static void vmem_wbuf_concurrent(struct kunit *test)
{
	struct vmem_wb_arg args[VMEM_WB_THREADS];
	struct vmem_wb_ctx *ctx;
	struct task_struct *t;
	int i;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	init_completion(&ctx->go);
	for (i = 0; i < VMEM_WB_THREADS; i++) {
		init_completion(&ctx->done[i]);
		args[i].ctx = ctx;
		args[i].n = i;
		t = kthread_run(vmem_wb_thread, &args[i], "vmem_wb/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	complete_all(&ctx->go);
	for (i = 0; i < VMEM_WB_THREADS; i++)
		wait_for_completion(&ctx->done[i]);
	/* Drain what the last cycle left open */
	if (vmem_wb_seal(&ctx->st))
		vmem_wb_test_flush(ctx);

	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->bad), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->taken),
			atomic_read(&ctx->reserved));
	KUNIT_EXPECT_GT(test, atomic_read(&ctx->flushes), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ctx->st), 0);
}

static struct kunit_case vmem_wbuf_cases[] = {
	KUNIT_CASE(vmem_wbuf_pack),
	KUNIT_CASE(vmem_wbuf_reserve_leave),
	KUNIT_CASE(vmem_wbuf_seal),
	KUNIT_CASE(vmem_wbuf_overflow),
	KUNIT_CASE(vmem_wbuf_concurrent),
	{}
};

static struct kunit_suite vmem_wbuf_suite = {
	.name = "vmem_wbuf",
	.test_cases = vmem_wbuf_cases,
};

kunit_test_suite(vmem_wbuf_suite);
