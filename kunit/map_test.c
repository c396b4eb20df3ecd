// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_map: the in-memory map (drivers/vmem/map.c). Provision,
 * lookup, free, reload from the encoded metadata, damage detection, and
 * the pool-full and budget refusals.
 */
#include <kunit/test.h>
#include <linux/sizes.h>
#include "map.h"
#include "test_util.h"

#define MIB ((u64)SZ_1M)

static s64 vmem_test_reserve(struct vmem_map *m, u32 id, u64 vb, u64 *pb)
{
	bool zeroed;

	return vmem_map_reserve(m, id, vb, pb, &zeroed);
}

/* Load a map over a fresh pool of @dev_bytes with device 0 of @pages */
static struct vmem_map *vmem_test_map_load(struct kunit *test, u64 dev_bytes,
					   u64 pages, u32 budget)
{
	struct vmem_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct vmem_geom g;
	size_t bytes;
	u8 *meta;

	KUNIT_ASSERT_NOT_NULL(test, m);
	meta = vmem_test_meta(test, dev_bytes, 16, &g, &bytes);
	vmem_test_add_dev(meta, 0, pages, budget);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m, meta, bytes, dev_bytes, NULL,
					    NULL), 0);
	return m;
}

static void vmem_map_provision_lookup_free(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 0);
	u64 pb, pb2;
	s64 sector;

	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 5), -1);
	sector = vmem_test_reserve(m, 0, 5, &pb);
	KUNIT_ASSERT_GE(test, sector, 0);
	KUNIT_EXPECT_EQ(test, sector, vmem_map_sector_of(pb));
	/* Reserved is not yet visible */
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 5), -1);
	vmem_map_publish(m, 0, 5, pb);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 5), (s64)pb);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&m->dev[0].used), 1);

	/* A second bucket is a different physical bucket */
	KUNIT_ASSERT_GE(test, vmem_test_reserve(m, 0, 6, &pb2), 0);
	vmem_map_publish(m, 0, 6, pb2);
	KUNIT_EXPECT_NE(test, pb, pb2);

	/* Unmap hides it at once but keeps it out of the free set */
	KUNIT_EXPECT_GE(test, vmem_map_unmap(m, 0, 5, &pb2), 0);
	KUNIT_EXPECT_EQ(test, pb2, pb);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 5), -1);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m), 2);
	vmem_map_release(m, 0, pb);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&m->dev[0].used), 1);
	KUNIT_EXPECT_EQ(test, vmem_map_unmap(m, 0, 5, &pb2), -ENOENT);
	vmem_map_destroy(m);
}

static void vmem_map_unreserve_remap(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 0);
	u64 pb, pb2;

	KUNIT_ASSERT_GE(test, vmem_test_reserve(m, 0, 1, &pb), 0);
	vmem_map_unreserve(m, 0, 1, pb, false);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&m->dev[0].used), 0);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 1), -1);

	KUNIT_ASSERT_GE(test, vmem_test_reserve(m, 0, 1, &pb), 0);
	vmem_map_publish(m, 0, 1, pb);
	KUNIT_ASSERT_GE(test, vmem_map_unmap(m, 0, 1, &pb2), 0);
	vmem_map_remap(m, 0, 1, pb2);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 1), (s64)pb);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m), 1);
	vmem_map_destroy(m);
}

/* What the map writes is what a reload reads */
static void vmem_map_reload(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 0);
	struct vmem_map *m2 = kunit_kzalloc(test, sizeof(*m2), GFP_KERNEL);
	u64 pb[8], vb;
	u8 *copy;

	KUNIT_ASSERT_NOT_NULL(test, m2);
	for (vb = 0; vb < 8; vb++) {
		KUNIT_ASSERT_GE(test, vmem_test_reserve(m, 0, vb * 7, &pb[vb]),
				0);
		vmem_map_publish(m, 0, vb * 7, pb[vb]);
	}
	vmem_map_set_dev(m, 0, 2048, 3, VMEM_DEV_EXISTS, NULL);
	copy = vmalloc(m->meta_bytes);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, m->meta, m->meta_bytes);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m2, copy, m->meta_bytes, 64 * MIB,
					    NULL, NULL), 0);
	for (vb = 0; vb < 8; vb++)
		KUNIT_EXPECT_EQ(test, vmem_map_lookup(m2, 0, vb * 7),
				(s64)pb[vb]);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m2, 0, 1), -1);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m2), 8);
	KUNIT_EXPECT_EQ(test, m2->dev[0].capacity_pages, 2048);
	KUNIT_EXPECT_EQ(test, m2->dev[0].budget, 3);
	vmem_map_destroy(m2);
	vmem_map_destroy(m);
}

static void vmem_map_double_owned(struct kunit *test)
{
	struct vmem_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct vmem_geom g;
	size_t bytes;
	u8 *meta;

	KUNIT_ASSERT_NOT_NULL(test, m);
	meta = vmem_test_meta(test, 64 * MIB, 16, &g, &bytes);
	vmem_test_add_dev(meta, 0, 1024, 0);
	vmem_test_map(meta, 3, 0, 9);
	vmem_test_map(meta, 40, 0, 9);
	KUNIT_EXPECT_EQ(test, vmem_map_load(m, meta, bytes, 64 * MIB, NULL,
					    NULL), -EUCLEAN);
	vmem_map_destroy(m);
}

static void vmem_map_pool_full(struct kunit *test)
{
	/* 8 MiB device: 7 buckets of 1 MiB after the metadata */
	struct vmem_map *m = vmem_test_map_load(test, 8 * MIB, 1024, 0);
	u64 vb, pb;

	KUNIT_ASSERT_EQ(test, m->geom.nr_buckets, 7);
	for (vb = 0; vb < 7; vb++) {
		KUNIT_ASSERT_GE(test, vmem_test_reserve(m, 0, vb, &pb), 0);
		vmem_map_publish(m, 0, vb, pb);
	}
	KUNIT_EXPECT_EQ(test, vmem_test_reserve(m, 0, 7, &pb), -ENOSPC);
	/* A refusal charges nothing */
	KUNIT_EXPECT_EQ(test, atomic64_read(&m->dev[0].used), 7);
	KUNIT_ASSERT_GE(test, vmem_map_unmap(m, 0, 2, &pb), 0);
	KUNIT_EXPECT_EQ(test, vmem_test_reserve(m, 0, 7, &pb), -ENOSPC);
	vmem_map_release(m, 0, pb);
	KUNIT_EXPECT_GE(test, vmem_test_reserve(m, 0, 7, &pb), 0);
	vmem_map_destroy(m);
}

static void vmem_map_budget(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 2);
	u64 pb;

	KUNIT_ASSERT_GE(test, vmem_test_reserve(m, 0, 0, &pb), 0);
	vmem_map_publish(m, 0, 0, pb);
	KUNIT_ASSERT_GE(test, vmem_test_reserve(m, 0, 1, &pb), 0);
	vmem_map_publish(m, 0, 1, pb);
	KUNIT_EXPECT_EQ(test, vmem_test_reserve(m, 0, 2, &pb), -EDQUOT);
	KUNIT_EXPECT_EQ(test, atomic64_read(&m->dev[0].used), 2);
	vmem_map_set_dev(m, 0, 1024, 0, VMEM_DEV_EXISTS, NULL);
	KUNIT_EXPECT_GE(test, vmem_test_reserve(m, 0, 2, &pb), 0);
	vmem_map_destroy(m);
}

static void vmem_map_deleting_loads(struct kunit *test)
{
	struct vmem_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct vmem_devt_sector *s;
	struct vmem_geom g;
	size_t bytes;
	u8 *meta;

	KUNIT_ASSERT_NOT_NULL(test, m);
	meta = vmem_test_meta(test, 64 * MIB, 16, &g, &bytes);
	vmem_test_add_dev(meta, 4, 1024, 0);
	s = vmem_test_sector(meta, VMEM_DEVT_START);
	s->dev[4].flags = cpu_to_le32(VMEM_DEV_EXISTS | VMEM_DEV_DELETING);
	vmem_blk_seal(s, VMEM_DEVT_MAGIC, 0, vmem_pool_id((void *)meta));
	vmem_test_map(meta, 3, 4, 1);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m, meta, bytes, 64 * MIB, NULL,
					    NULL), 0);
	KUNIT_EXPECT_TRUE(test, m->dev[4].flags & VMEM_DEV_DELETING);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 4, 1), 3);
	vmem_map_destroy(m);
}

/* Buckets zeroed by format are used first, need no zeroing, and lose
 * the mark once given out; a freed bucket is dirty.
 */
static void vmem_map_zeroed(struct kunit *test)
{
	struct vmem_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct vmem_map *m2 = kunit_kzalloc(test, sizeof(*m2), GFP_KERNEL);
	struct vmem_geom g;
	bool zeroed;
	size_t bytes;
	u64 pb, pb2;
	u8 *meta, *copy;

	KUNIT_ASSERT_NOT_NULL(test, m);
	KUNIT_ASSERT_NOT_NULL(test, m2);
	KUNIT_ASSERT_EQ(test, vmem_geom_compute(64 * MIB, 16, &g), VMEM_OK);
	bytes = round_up(g.meta_sectors * VMEM_SECTOR_SIZE, PAGE_SIZE);
	meta = vzalloc(bytes);
	KUNIT_ASSERT_NOT_NULL(test, meta);
	vmem_meta_init(meta, &g, (64 * MIB) >> VMEM_PAGE_SHIFT,
		       (const u8 *)"zeroed-pool-uuid", 0, true);
	vmem_test_add_dev(meta, 0, 1024, 0);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m, meta, bytes, 64 * MIB, NULL,
					    NULL), 0);
	KUNIT_EXPECT_EQ(test, m->nr_zeroed, g.nr_buckets);

	KUNIT_ASSERT_GE(test, vmem_map_reserve(m, 0, 0, &pb, &zeroed), 0);
	KUNIT_EXPECT_TRUE(test, zeroed);
	KUNIT_EXPECT_EQ(test, m->nr_zeroed, g.nr_buckets - 1);
	/* A failed provisioning gives the mark back */
	vmem_map_unreserve(m, 0, 0, pb, zeroed);
	KUNIT_EXPECT_EQ(test, m->nr_zeroed, g.nr_buckets);
	KUNIT_ASSERT_GE(test, vmem_map_reserve(m, 0, 0, &pb, &zeroed), 0);
	KUNIT_EXPECT_TRUE(test, zeroed);
	vmem_map_publish(m, 0, 0, pb);

	/* Freed: dirty, used only once no zeroed bucket is left */
	KUNIT_ASSERT_GE(test, vmem_map_unmap(m, 0, 0, &pb2), 0);
	vmem_map_release(m, 0, pb2);
	KUNIT_EXPECT_FALSE(test, test_bit(pb2, m->zeroed));
	KUNIT_ASSERT_GE(test, vmem_map_reserve(m, 0, 1, &pb, &zeroed), 0);
	KUNIT_EXPECT_TRUE(test, zeroed);
	KUNIT_EXPECT_NE(test, pb, pb2);
	vmem_map_publish(m, 0, 1, pb);

	/* The marks survive a reload exactly */
	copy = vmalloc(m->meta_bytes);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, m->meta, m->meta_bytes);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m2, copy, m->meta_bytes, 64 * MIB,
					    NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, m2->nr_zeroed, m->nr_zeroed);
	KUNIT_EXPECT_FALSE(test, test_bit(pb2, m2->zeroed));
	KUNIT_EXPECT_TRUE(test, test_bit(pb2, m2->free));
	vmem_map_destroy(m2);
	vmem_map_destroy(m);
}

static struct kunit_case vmem_map_cases[] = {
	KUNIT_CASE(vmem_map_zeroed),
	KUNIT_CASE(vmem_map_provision_lookup_free),
	KUNIT_CASE(vmem_map_unreserve_remap),
	KUNIT_CASE(vmem_map_reload),
	KUNIT_CASE(vmem_map_double_owned),
	KUNIT_CASE(vmem_map_pool_full),
	KUNIT_CASE(vmem_map_budget),
	KUNIT_CASE(vmem_map_deleting_loads),
	{}
};

static struct kunit_suite vmem_map_suite = {
	.name = "vmem_map",
	.test_cases = vmem_map_cases,
};

kunit_test_suite(vmem_map_suite);
