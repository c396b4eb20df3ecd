// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_wbuf: the write buffer's packed state word
 * (drivers/vmem/wbuf_state.h). Transitions one by one (reserving bytes,
 * refusing what does not fit, sealing, refusing a sealed buffer, the
 * last writer out flushing), then several kthreads reserving, leaving
 * and sealing at once: every cycle is flushed exactly once, by one
 * caller, and no reserved byte is lost. And which bios the buffer takes.
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
	u64 off;

	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3000, 1000, 512, &off),
			VMEM_WB_RESERVED);
	KUNIT_EXPECT_EQ(test, off, 0);
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3000, 1200, 512, &off),
			VMEM_WB_RESERVED);
	KUNIT_EXPECT_EQ(test, off, 1000);
	KUNIT_EXPECT_EQ(test, vmem_wb_unpack(atomic64_read(&st)).writers, 2);
	KUNIT_EXPECT_EQ(test, vmem_wb_unpack(atomic64_read(&st)).used, 2200);
	/* Leaving an open buffer never asks for a flush */
	KUNIT_EXPECT_FALSE(test, vmem_wb_leave(&st));
	/* Too big for what is left: refused, nothing changed */
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3000, 900, 512, &off),
			VMEM_WB_REFUSED_FULL);
	KUNIT_EXPECT_EQ(test, vmem_wb_unpack(atomic64_read(&st)).used, 2200);
	/* Leaving less than the minimum seals */
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3000, 600, 512, &off),
			VMEM_WB_RESERVED_LAST);
	KUNIT_EXPECT_EQ(test, off, 2200);
	KUNIT_EXPECT_TRUE(test, vmem_wb_unpack(atomic64_read(&st)).sealed);
	/* Sealed: refused, state unchanged */
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 3000, 1, 1, &off),
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
	u64 off;

	/* Sealing an idle buffer: the sealer flushes */
	KUNIT_EXPECT_TRUE(test, vmem_wb_seal(&st));
	KUNIT_EXPECT_FALSE(test, vmem_wb_seal(&st));
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 8, 1, 1, &off),
			VMEM_WB_REFUSED_SEALED);
	vmem_wb_reset(&st);
	/* Sealing with a writer inside: the writer flushes on leaving */
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 8, 1, 1, &off),
			VMEM_WB_RESERVED);
	KUNIT_EXPECT_FALSE(test, vmem_wb_seal(&st));
	KUNIT_EXPECT_TRUE(test, vmem_wb_leave(&st));
}

static void vmem_wbuf_overflow(struct kunit *test)
{
	struct vmem_wb_state s = { false, VMEM_WB_WRITERS_MAX, 5 };
	atomic64_t st = ATOMIC64_INIT(vmem_wb_pack(s));
	u64 off = 99;

	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, VMEM_WB_USED_MAX, 1, 1,
					      &off), VMEM_WB_REFUSED_BUSY);
	KUNIT_EXPECT_EQ(test, off, 99);
	KUNIT_EXPECT_EQ(test, atomic64_read(&st), vmem_wb_pack(s));
	/* A full buffer that somehow is not sealed still refuses */
	s = (struct vmem_wb_state){ false, 0, 4 };
	atomic64_set(&st, vmem_wb_pack(s));
	KUNIT_EXPECT_EQ(test, vmem_wb_reserve(&st, 4, 1, 1, &off),
			VMEM_WB_REFUSED_FULL);
	KUNIT_EXPECT_EQ(test, atomic64_read(&st), vmem_wb_pack(s));
}

/*
 * Concurrency: threads reserve records of 1..3 bytes in one buffer, fill
 * them and leave; whoever is told to flush walks the records and resets
 * the word. Every record is filled when its buffer is flushed, the
 * records tile the buffer, every cycle is flushed exactly once, and no
 * byte is lost.
 */
#define VMEM_WB_THREADS		4
#define VMEM_WB_OPS		20000
#define VMEM_WB_CAP		64

struct vmem_wb_ctx {
	atomic64_t st;
	atomic_t len[VMEM_WB_CAP];	/* record length at its offset */
	atomic_t flushing;	/* a flush is running */
	atomic_t flushes;
	atomic_t reserved;	/* bytes handed out, all cycles */
	atomic_t taken;		/* bytes collected by flushes */
	atomic_t bad;		/* a record unfilled, or two flushes at once */
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
	u64 off = 0;
	int len;

	if (atomic_xchg(&ctx->flushing, 1))
		atomic_inc(&ctx->bad);
	while (off < s.used) {
		len = atomic_xchg(&ctx->len[off], 0);
		if (!len) {
			atomic_inc(&ctx->bad);
			break;
		}
		off += len;
	}
	if (off != s.used)
		atomic_inc(&ctx->bad);
	atomic_add(s.used, &ctx->taken);
	atomic_inc(&ctx->flushes);
	atomic_set(&ctx->flushing, 0);
	vmem_wb_reset(&ctx->st);
}

static int vmem_wb_thread(void *data)
{
	struct vmem_wb_arg *arg = data;
	struct vmem_wb_ctx *ctx = arg->ctx;
	u64 off, len;
	int i;

	wait_for_completion(&ctx->go);
	for (i = 0; i < VMEM_WB_OPS; i++) {
		/* Every 64th op of thread 0 seals early, like a flush would */
		if (arg->n == 0 && !(i % 64)) {
			if (vmem_wb_seal(&ctx->st))
				vmem_wb_test_flush(ctx);
			continue;
		}
		len = 1 + (i + arg->n) % 3;
		switch (vmem_wb_reserve(&ctx->st, VMEM_WB_CAP, len, 2, &off)) {
		case VMEM_WB_RESERVED:
		case VMEM_WB_RESERVED_LAST:
			atomic_add(len, &ctx->reserved);
			atomic_set(&ctx->len[off], len);
			if (vmem_wb_leave(&ctx->st))
				vmem_wb_test_flush(ctx);
			break;
		case VMEM_WB_REFUSED_FULL:
			if (vmem_wb_seal(&ctx->st))
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

/* Only plain writes are buffered; flush and FUA semantics need the disk */
static void vmem_wbuf_takes(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, vmem_wb_takes(REQ_OP_WRITE));
	KUNIT_EXPECT_TRUE(test, vmem_wb_takes(REQ_OP_WRITE | REQ_SYNC |
					      REQ_META));
	KUNIT_EXPECT_FALSE(test, vmem_wb_takes(REQ_OP_READ));
	KUNIT_EXPECT_FALSE(test, vmem_wb_takes(REQ_OP_WRITE | REQ_FUA));
	KUNIT_EXPECT_FALSE(test, vmem_wb_takes(REQ_OP_WRITE | REQ_PREFLUSH));
	KUNIT_EXPECT_FALSE(test, vmem_wb_takes(REQ_OP_WRITE | REQ_PREFLUSH |
					       REQ_FUA));
}

static struct kunit_case vmem_wbuf_cases[] = {
	KUNIT_CASE(vmem_wbuf_takes),
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
