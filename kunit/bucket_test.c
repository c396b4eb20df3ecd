// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_bucket: splitting a sector range at bucket boundaries
 * (drivers/vmem/bucket.h), as the I/O path does for every bio.
 */
#include <kunit/test.h>
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

static struct kunit_case vmem_bucket_cases[] = {
	KUNIT_CASE_PARAM(vmem_bucket_split, vmem_split_gen_params),
	KUNIT_CASE(vmem_bucket_left_sectors),
	{}
};

static struct kunit_suite vmem_bucket_suite = {
	.name = "vmem_bucket",
	.test_cases = vmem_bucket_cases,
};

kunit_test_suite(vmem_bucket_suite);
