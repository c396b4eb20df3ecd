// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_budget: the lock-free budget charge (map.h) under
 * concurrency. Several kthreads charge and release against one budget;
 * the count never passes the budget and ends where it started.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/kthread.h>
#include "map.h"

#define VMEM_BUDGET_THREADS	4
#define VMEM_BUDGET_TRIES	20000

struct vmem_budget_ctx {
	atomic64_t used;
	u32 budget;
	atomic_t granted;
	atomic_t over;
	atomic_t started;
	struct completion go;
	struct completion done[VMEM_BUDGET_THREADS];
	bool release;
};

struct vmem_budget_arg {
	struct vmem_budget_ctx *ctx;
	int n;
};

static int vmem_budget_thread(void *data)
{
	struct vmem_budget_arg *arg = data;
	struct vmem_budget_ctx *ctx = arg->ctx;
	int i;

	atomic_inc(&ctx->started);
	wait_for_completion(&ctx->go);
	for (i = 0; i < VMEM_BUDGET_TRIES; i++) {
		if (!vmem_budget_try_charge(&ctx->used, ctx->budget))
			continue;
		atomic_inc(&ctx->granted);
		if (ctx->budget && atomic64_read(&ctx->used) > ctx->budget)
			atomic_inc(&ctx->over);
		if (ctx->release) {
			vmem_budget_release(&ctx->used);
			atomic_dec(&ctx->granted);
		}
	}
	complete(&ctx->done[arg->n]);
	return 0;
}

static void vmem_budget_run(struct kunit *test, u32 budget, bool release)
{
	struct vmem_budget_arg args[VMEM_BUDGET_THREADS];
	struct vmem_budget_ctx *ctx;
	struct task_struct *t;
	int i;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->budget = budget;
	ctx->release = release;
	init_completion(&ctx->go);
	for (i = 0; i < VMEM_BUDGET_THREADS; i++) {
		init_completion(&ctx->done[i]);
		args[i].ctx = ctx;
		args[i].n = i;
		t = kthread_run(vmem_budget_thread, &args[i], "vmem_budget/%d",
				i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	complete_all(&ctx->go);
	for (i = 0; i < VMEM_BUDGET_THREADS; i++)
		wait_for_completion(&ctx->done[i]);

	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->over), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&ctx->used),
			(s64)atomic_read(&ctx->granted));
	if (release)
		KUNIT_EXPECT_EQ(test, atomic64_read(&ctx->used), 0);
	else if (budget)
		KUNIT_EXPECT_EQ(test, atomic64_read(&ctx->used), budget);
	else
		KUNIT_EXPECT_EQ(test, atomic64_read(&ctx->used),
				VMEM_BUDGET_THREADS * VMEM_BUDGET_TRIES);
}

static void vmem_budget_exact(struct kunit *test)
{
	vmem_budget_run(test, 1000, false);
}

static void vmem_budget_one(struct kunit *test)
{
	vmem_budget_run(test, 1, false);
}

static void vmem_budget_unlimited(struct kunit *test)
{
	vmem_budget_run(test, 0, false);
}

static void vmem_budget_churn(struct kunit *test)
{
	vmem_budget_run(test, 3, true);
}

static void vmem_budget_single(struct kunit *test)
{
	atomic64_t used = ATOMIC64_INIT(0);

	KUNIT_EXPECT_TRUE(test, vmem_budget_try_charge(&used, 2));
	KUNIT_EXPECT_TRUE(test, vmem_budget_try_charge(&used, 2));
	KUNIT_EXPECT_FALSE(test, vmem_budget_try_charge(&used, 2));
	vmem_budget_release(&used);
	KUNIT_EXPECT_TRUE(test, vmem_budget_try_charge(&used, 2));
	/* A budget lowered below the count refuses, never underflows */
	KUNIT_EXPECT_FALSE(test, vmem_budget_try_charge(&used, 1));
	KUNIT_EXPECT_EQ(test, atomic64_read(&used), 2);
}

static struct kunit_case vmem_budget_cases[] = {
	KUNIT_CASE(vmem_budget_single),
	KUNIT_CASE(vmem_budget_exact),
	KUNIT_CASE(vmem_budget_one),
	KUNIT_CASE(vmem_budget_unlimited),
	KUNIT_CASE(vmem_budget_churn),
	{}
};

static struct kunit_suite vmem_budget_suite = {
	.name = "vmem_budget",
	.test_cases = vmem_budget_cases,
};

kunit_test_suite(vmem_budget_suite);
