// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_bucket: splitting a sector range at bucket boundaries
 * (drivers/vmem/bucket.h), as the I/O path does for every bio, and the
 * gaps the first writes into a dirty bucket left, which the worker zeroes.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/prandom.h>
#include "bucket.h"

struct vmem_split_case {
	const char *name;
	u64 sector;
	u64 nr;
	unsigned int shift;
	unsigned int pieces;
};

static const struct vmem_split_case vmem_split_cases[] = {
	{ "inside-one", 8, 8, 11, 1 },
	{ "whole-bucket", 2048, 2048, 11, 1 },
	{ "first-sector", 0, 1, 11, 1 },
	{ "last-sector", 2047, 1, 11, 1 },
	{ "cross-one", 2040, 16, 11, 2 },
	{ "end-on-boundary", 1024, 1024, 11, 1 },
	{ "start-on-boundary", 4096, 100, 11, 1 },
	{ "cross-many", 100, 10 * 2048, 11, 11 },
	{ "64k-buckets", 127, 130, 7, 3 },
	{ "1g-buckets", (1ULL << 21) - 8, 16, 21, 2 },
	{ "huge-offset", (1ULL << 40) + 2047, 2, 11, 2 },
	{ "empty", 100, 0, 11, 0 },
};

static void vmem_split_desc(const struct vmem_split_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vmem_split, vmem_split_cases, vmem_split_desc);

static void vmem_bucket_split(struct kunit *test)
{
	const struct vmem_split_case *c = test->param_value;
	struct vmem_bucket_iter it = {
		.sector = c->sector,
		.end = c->sector + c->nr,
		.shift = c->shift,
	};
	u64 bucket = 1ULL << c->shift, next = c->sector, total = 0;
	u64 vb, off, len;
	unsigned int pieces = 0;

	while (vmem_bucket_next(&it, &vb, &off, &len)) {
		/* Contiguous, non-empty, inside one bucket, right bucket */
		KUNIT_EXPECT_EQ(test, (vb << c->shift) + off, next);
		KUNIT_EXPECT_GT(test, len, 0);
		KUNIT_EXPECT_LE(test, off + len, bucket);
		KUNIT_EXPECT_EQ(test, vb, next >> c->shift);
		/* Only the first piece may start inside a bucket */
		if (pieces)
			KUNIT_EXPECT_EQ(test, off, 0);
		next += len;
		total += len;
		pieces++;
	}
	KUNIT_EXPECT_EQ(test, total, c->nr);
	KUNIT_EXPECT_EQ(test, pieces, c->pieces);
}

static void vmem_bucket_left_sectors(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vmem_bucket_left(0, 11), 2048);
	KUNIT_EXPECT_EQ(test, vmem_bucket_left(1, 11), 2047);
	KUNIT_EXPECT_EQ(test, vmem_bucket_left(2047, 11), 1);
	KUNIT_EXPECT_EQ(test, vmem_bucket_left(2048, 11), 2048);
	KUNIT_EXPECT_EQ(test, vmem_bucket_left(5, 0), 1);
}

#define VMEM_GAP_MAX		8

/* A hand-made set of writes into a 2048-sector bucket, and its gaps */
struct vmem_gaps_case {
	const char *name;
	unsigned int n;
	struct vmem_extent w[VMEM_GAP_MAX];
	unsigned int ngaps;
	struct vmem_extent gap[VMEM_GAP_MAX];
};

static const struct vmem_gaps_case vmem_gaps_cases[] = {
	{ "no-write", 0, {}, 1, { { 0, 2048 } } },
	{ "eight-128k-any-order", 8,
	  { { 1792, 256 }, { 0, 256 }, { 512, 256 }, { 256, 256 },
	    { 1280, 256 }, { 768, 256 }, { 1536, 256 }, { 1024, 256 } },
	  0, {} },
	{ "one-4k-inside", 1, { { 8, 8 } }, 2, { { 0, 8 }, { 16, 2032 } } },
	{ "overlap-nest-hole-open-end", 4,
	  { { 100, 50 }, { 0, 120 }, { 10, 20 }, { 200, 1000 } },
	  2, { { 150, 50 }, { 1200, 848 } } },
	{ "adjacent-no-empty-gap", 2, { { 1, 1 }, { 2, 2046 } },
	  1, { { 0, 1 } } },
};

static void vmem_gaps_desc(const struct vmem_gaps_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vmem_gaps, vmem_gaps_cases, vmem_gaps_desc);

static void vmem_bucket_gaps_cases(struct kunit *test)
{
	const struct vmem_gaps_case *c = test->param_value;
	struct vmem_extent e[VMEM_GAP_MAX + 1];
	unsigned int i, g;

	memcpy(e, c->w, sizeof(c->w));
	g = vmem_bucket_gaps(e, c->n, 2048);
	KUNIT_ASSERT_EQ(test, g, c->ngaps);
	for (i = 0; i < g; i++) {
		KUNIT_EXPECT_EQ(test, e[i].start, c->gap[i].start);
		KUNIT_EXPECT_EQ(test, e[i].len, c->gap[i].len);
	}
}

#define VMEM_GAP_SECTORS	256
#define VMEM_GAP_WRITES		24

/*
 * Random writes into a 256-sector bucket: the gaps are exactly the
 * sectors no write covers, in order, none empty, none touching the next
 */
static void vmem_bucket_gaps_random(struct kunit *test)
{
	DECLARE_BITMAP(written, VMEM_GAP_SECTORS);
	DECLARE_BITMAP(gap, VMEM_GAP_SECTORS);
	struct vmem_extent e[VMEM_GAP_WRITES + 1];
	struct rnd_state rnd;
	unsigned int round, i, n, g;
	u64 s, len;

	prandom_seed_state(&rnd, 15);
	for (round = 0; round < 500; round++) {
		bitmap_zero(written, VMEM_GAP_SECTORS);
		bitmap_zero(gap, VMEM_GAP_SECTORS);
		n = prandom_u32_state(&rnd) % (VMEM_GAP_WRITES + 1);
		for (i = 0; i < n; i++) {
			s = prandom_u32_state(&rnd) % VMEM_GAP_SECTORS;
			len = 1 + prandom_u32_state(&rnd) %
				  (VMEM_GAP_SECTORS - s);
			e[i] = (struct vmem_extent){ s, len };
			bitmap_set(written, s, len);
		}
		g = vmem_bucket_gaps(e, n, VMEM_GAP_SECTORS);
		KUNIT_ASSERT_LE(test, g, n + 1);
		for (i = 0; i < g; i++) {
			KUNIT_ASSERT_GT(test, e[i].len, 0);
			KUNIT_ASSERT_LE(test, e[i].start + e[i].len,
					VMEM_GAP_SECTORS);
			if (i)
				KUNIT_ASSERT_GT(test, e[i].start,
						e[i - 1].start + e[i - 1].len);
			bitmap_set(gap, e[i].start, e[i].len);
		}
		/* gap == ~written */
		bitmap_complement(written, written, VMEM_GAP_SECTORS);
		KUNIT_ASSERT_TRUE(test, bitmap_equal(gap, written,
						     VMEM_GAP_SECTORS));
	}
}

static struct kunit_case vmem_bucket_cases[] = {
	KUNIT_CASE_PARAM(vmem_bucket_split, vmem_split_gen_params),
	KUNIT_CASE(vmem_bucket_left_sectors),
	KUNIT_CASE_PARAM(vmem_bucket_gaps_cases, vmem_gaps_gen_params),
	KUNIT_CASE(vmem_bucket_gaps_random),
	{}
};

static struct kunit_suite vmem_bucket_suite = {
	.name = "vmem_bucket",
	.test_cases = vmem_bucket_cases,
};

kunit_test_suite(vmem_bucket_suite);
