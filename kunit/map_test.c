// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_map: the in-memory map (drivers/vmem/map.c). Provision,
 * lookup, free, the committed image and its seal, arming and remarking
 * format-zeroed buckets, reload from the encoded metadata, damage
 * detection, a full pool, budgets and a grown pool.
 */
#include <kunit/test.h>
#include <linux/sizes.h>
#include "map.h"
#include "test_util.h"

#define MIB ((u64)SZ_1M)

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

/* Take a dirty bucket (as if zeroed) and give it to (@id, @vb) */
static s64 vmem_test_provision(struct kunit *test, struct vmem_map *m,
			       u32 id, u64 vb)
{
	s64 pb = vmem_map_take(m, VMEM_DIRTY);

	if (pb < 0)
		return pb;
	KUNIT_EXPECT_TRUE(test, vmem_budget_try_charge(&m->dev[id].used,
						       m->dev[id].budget));
	KUNIT_EXPECT_EQ(test, vmem_map_assign(m, id, vb, pb), 0);
	return pb;
}

static const struct vmem_map_entry *vmem_test_image_entry(struct vmem_map *m,
							  u64 pb)
{
	return vmem_meta_entry(m->meta, pb);
}

static void vmem_map_provision_lookup_free(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 0);
	u64 dirty = vmem_map_nr(m, VMEM_DIRTY);
	s64 pb, pb2;

	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 5), -1);
	pb = vmem_test_provision(test, m, 0, 5);
	KUNIT_ASSERT_GE(test, pb, 0);
	/* Visible at once, counted, out of the free sets */
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 5), pb);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&m->dev[0].used), 1);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_DIRTY), dirty - 1);
	KUNIT_EXPECT_EQ(test, vmem_map_busy(m), 0);

	/* A second bucket is a different physical bucket */
	pb2 = vmem_test_provision(test, m, 0, 6);
	KUNIT_EXPECT_NE(test, pb, pb2);

	/* Unmap hides it at once, keeps it busy, blocks the virtual bucket */
	KUNIT_EXPECT_EQ(test, vmem_map_unmap(m, 0, 5), pb);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 5), -1);
	KUNIT_EXPECT_TRUE(test, vmem_map_freeing(m, 0, 5));
	KUNIT_EXPECT_EQ(test, vmem_map_used(m), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&m->dev[0].used), 1);
	KUNIT_EXPECT_EQ(test, vmem_map_busy(m), 1);
	KUNIT_EXPECT_EQ(test, vmem_map_unmap(m, 0, 5), -ENOENT);

	/* Released: dirty and to be zeroed, the virtual bucket free */
	vmem_map_release(m, 0, 5, pb);
	KUNIT_EXPECT_FALSE(test, vmem_map_freeing(m, 0, 5));
	KUNIT_EXPECT_EQ(test, vmem_map_busy(m), 0);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_DIRTY), dirty - 1);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_TOZERO), 1);
	KUNIT_EXPECT_EQ(test, vmem_map_take(m, VMEM_TOZERO), pb);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_DIRTY), dirty - 2);
	vmem_map_put(m, pb, VMEM_ARMED);
	KUNIT_EXPECT_EQ(test, vmem_map_take(m, VMEM_ARMED), pb);
	vmem_map_destroy(m);
}

/*
 * The image holds committed state only: no change reaches it before the
 * seal, so no other metadata write can carry one to the disk (issue 11:
 * vmem_map_reserve() used to write an uncommitted owner into the image,
 * which a device-table write or a 4 KiB round-up then wrote out)
 */
static void vmem_map_image_committed_only(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 0);
	u64 sec, devt = vmem_devt_sector_of(200);
	u8 *before;
	s64 pb;

	before = kunit_kzalloc(test, m->meta_bytes, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, before);
	memcpy(before, m->meta, m->meta_bytes);
	pb = vmem_test_provision(test, m, 0, 3);
	KUNIT_ASSERT_GE(test, pb, 0);
	sec = vmem_map_sector_of(pb);
	KUNIT_EXPECT_EQ(test, memcmp(before, m->meta, m->meta_bytes), 0);
	KUNIT_EXPECT_EQ(test, vmem_test_image_entry(m, pb)->owner,
			VMEM_OWNER_FREE);

	/* A device-table change goes into the image at once, alone */
	KUNIT_EXPECT_EQ(test, vmem_map_set_dev(m, 200, 16, 0,
					       VMEM_DEV_EXISTS), devt);
	KUNIT_EXPECT_NE(test, memcmp(before + devt * VMEM_SECTOR_SIZE,
				     m->meta + devt * VMEM_SECTOR_SIZE,
				     VMEM_SECTOR_SIZE), 0);
	KUNIT_EXPECT_EQ(test, memcmp(before + sec * VMEM_SECTOR_SIZE,
				     m->meta + sec * VMEM_SECTOR_SIZE,
				     VMEM_SECTOR_SIZE), 0);

	/* The seal moves it in and names the sector */
	KUNIT_EXPECT_EQ(test, vmem_map_seal(m), 1);
	KUNIT_EXPECT_TRUE(test, test_bit(sec - VMEM_MAP_START, m->committing));
	KUNIT_EXPECT_EQ(test, vmem_test_image_entry(m, pb)->owner, 1);
	vmem_map_reseal(m, sec);
	KUNIT_EXPECT_EQ(test, vmem_blk_validate(m->meta + sec * VMEM_SECTOR_SIZE,
						VMEM_MAP_MAGIC,
						sec - VMEM_MAP_START,
						m->pool_id), VMEM_OK);
	vmem_map_sealed(m);
	KUNIT_EXPECT_FALSE(test, test_bit(sec - VMEM_MAP_START, m->committing));

	/* An unmap waits for the next seal too */
	KUNIT_EXPECT_EQ(test, vmem_map_unmap(m, 0, 3), pb);
	KUNIT_EXPECT_EQ(test, vmem_test_image_entry(m, pb)->owner, 1);
	KUNIT_EXPECT_EQ(test, vmem_map_seal(m), 1);
	KUNIT_EXPECT_EQ(test, vmem_test_image_entry(m, pb)->owner,
			VMEM_OWNER_FREE);
	KUNIT_EXPECT_EQ(test, vmem_map_seal(m), 0);
	vmem_map_destroy(m);
}

/* What a seal puts in the image is what a reload reads */
static void vmem_map_reload(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 0);
	struct vmem_map *m2 = kunit_kzalloc(test, sizeof(*m2), GFP_KERNEL);
	unsigned long s;
	s64 pb[8];
	u64 vb;
	u8 *copy;

	KUNIT_ASSERT_NOT_NULL(test, m2);
	for (vb = 0; vb < 8; vb++) {
		pb[vb] = vmem_test_provision(test, m, 0, vb * 7);
		KUNIT_ASSERT_GE(test, pb[vb], 0);
	}
	vmem_map_set_dev(m, 0, 2048, 3, VMEM_DEV_EXISTS);
	vmem_map_seal(m);
	for_each_set_bit(s, m->committing, m->geom.map_sectors)
		vmem_map_reseal(m, VMEM_MAP_START + s);
	vmem_map_sealed(m);
	copy = vmalloc(m->meta_bytes);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, m->meta, m->meta_bytes);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m2, copy, m->meta_bytes, 64 * MIB,
					    NULL, NULL), 0);
	for (vb = 0; vb < 8; vb++)
		KUNIT_EXPECT_EQ(test, vmem_map_lookup(m2, 0, vb * 7), pb[vb]);
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
	u64 vb;
	s64 pb;

	KUNIT_ASSERT_EQ(test, m->geom.nr_buckets, 7);
	for (vb = 0; vb < 7; vb++)
		KUNIT_ASSERT_GE(test, vmem_test_provision(test, m, 0, vb), 0);
	KUNIT_EXPECT_EQ(test, vmem_map_reservable(m), 0);
	KUNIT_EXPECT_EQ(test, vmem_map_take(m, VMEM_DIRTY), -1);
	KUNIT_EXPECT_EQ(test, vmem_map_take(m, VMEM_ARMED), -1);
	/* Being freed: neither owned nor reservable, busy */
	pb = vmem_map_unmap(m, 0, 2);
	KUNIT_ASSERT_GE(test, pb, 0);
	KUNIT_EXPECT_EQ(test, vmem_map_reservable(m), 0);
	KUNIT_EXPECT_EQ(test, vmem_map_busy(m), 1);
	vmem_map_release(m, 0, 2, pb);
	KUNIT_EXPECT_EQ(test, vmem_map_take(m, VMEM_DIRTY), pb);
	vmem_map_destroy(m);
}

static void vmem_map_budget(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1024, 2);
	atomic64_t *used = &m->dev[0].used;

	KUNIT_ASSERT_GE(test, vmem_test_provision(test, m, 0, 0), 0);
	KUNIT_ASSERT_GE(test, vmem_test_provision(test, m, 0, 1), 0);
	KUNIT_EXPECT_FALSE(test, vmem_budget_try_charge(used, m->dev[0].budget));
	KUNIT_EXPECT_EQ(test, atomic64_read(used), 2);
	vmem_map_set_dev(m, 0, 1024, 0, VMEM_DEV_EXISTS);
	KUNIT_EXPECT_TRUE(test, vmem_budget_try_charge(used, m->dev[0].budget));
	/* An unmap gives the bucket back to the budget at once */
	KUNIT_ASSERT_GE(test, vmem_map_unmap(m, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(used), 2);
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

/*
 * Buckets zeroed by format load marked; they are armed a map sector at a
 * time, the marks cleared in a shadow (so on disk only at the commit);
 * after a crash an armed bucket is dirty; remark gives the marks back.
 */
static void vmem_map_zeroed(struct kunit *test)
{
	struct vmem_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct vmem_map *m2 = kunit_kzalloc(test, sizeof(*m2), GFP_KERNEL);
	u64 pbs[VMEM_ENTRIES_PER_SECTOR + 1];
	struct vmem_geom g;
	unsigned long s;
	size_t bytes;
	u8 *meta, *copy;
	s64 pb;
	int n, i;

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
	KUNIT_ASSERT_GT(test, g.nr_buckets, VMEM_ENTRIES_PER_SECTOR);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_MARKED), g.nr_buckets);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_DIRTY), 0);
	/* Marked buckets are never handed out as they are */
	KUNIT_EXPECT_EQ(test, vmem_map_take(m, VMEM_ARMED), -1);
	KUNIT_EXPECT_EQ(test, vmem_map_take(m, VMEM_DIRTY), -1);

	n = vmem_map_arm(m, pbs, ARRAY_SIZE(pbs));
	KUNIT_ASSERT_EQ(test, n, VMEM_ENTRIES_PER_SECTOR);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_MARKED),
			g.nr_buckets - VMEM_ENTRIES_PER_SECTOR);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ(test, vmem_map_sector_of(pbs[i]),
				vmem_map_sector_of(pbs[0]));
		KUNIT_EXPECT_TRUE(test, vmem_test_image_entry(m, pbs[i])->flags &
				  VMEM_ENTRY_ZEROED);
	}
	KUNIT_EXPECT_EQ(test, vmem_map_seal(m), 1);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_FALSE(test, vmem_test_image_entry(m, pbs[i])->flags &
				   VMEM_ENTRY_ZEROED);
		vmem_map_put(m, pbs[i], VMEM_ARMED);
	}
	for_each_set_bit(s, m->committing, m->geom.map_sectors)
		vmem_map_reseal(m, VMEM_MAP_START + s);
	vmem_map_sealed(m);

	pb = vmem_map_take(m, VMEM_ARMED);
	KUNIT_ASSERT_GE(test, pb, 0);
	KUNIT_EXPECT_EQ(test, vmem_map_assign(m, 0, 0, pb), 0);

	/* A crash now: the armed buckets come back dirty, not marked */
	copy = vmalloc(m->meta_bytes);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, m->meta, m->meta_bytes);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m2, copy, m->meta_bytes, 64 * MIB,
					    NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m2, VMEM_DIRTY),
			VMEM_ENTRIES_PER_SECTOR);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m2, VMEM_MARKED),
			g.nr_buckets - VMEM_ENTRIES_PER_SECTOR);
	vmem_map_destroy(m2);

	/* Detach: armed buckets are marked again, and load marked */
	KUNIT_EXPECT_EQ(test, vmem_map_remark(m), VMEM_ENTRIES_PER_SECTOR - 1);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_ARMED), 0);
	vmem_map_seal(m);
	for_each_set_bit(s, m->committing, m->geom.map_sectors)
		vmem_map_reseal(m, VMEM_MAP_START + s);
	vmem_map_sealed(m);
	memset(m2, 0, sizeof(*m2));
	copy = vmalloc(m->meta_bytes);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, m->meta, m->meta_bytes);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m2, copy, m->meta_bytes, 64 * MIB,
					    NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m2, VMEM_MARKED), g.nr_buckets - 1);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m2, 0, 0), pb);
	vmem_map_destroy(m2);
	vmem_map_destroy(m);
}

/*
 * Grow: the larger image holds the new map sectors (free, unmarked,
 * sealed) but not the new superblock, and the pool does not grow before
 * vmem_map_grow_buckets(); a change pending in a shadow survives the
 * swap; the new buckets are dirty; a reload of the grown image agrees
 */
static void vmem_map_grow(struct kunit *test)
{
	struct vmem_map *m = vmem_test_map_load(test, 64 * MIB, 1 << 16, 0);
	struct vmem_map *m2 = kunit_kzalloc(test, sizeof(*m2), GFP_KERNEL);
	struct vmem_map_growth *gr = kunit_kzalloc(test, sizeof(*gr),
						   GFP_KERNEL);
	struct vmem_geom old, ng;
	u64 dirty, s, pb;
	unsigned long b;
	s64 p0, p1;
	u8 *copy;

	KUNIT_ASSERT_NOT_NULL(test, m2);
	KUNIT_ASSERT_NOT_NULL(test, gr);
	old = m->geom;
	KUNIT_ASSERT_EQ(test, vmem_geom_grow(&old, 200 * MIB, &ng), VMEM_OK);
	KUNIT_ASSERT_GT(test, ng.map_sectors, old.map_sectors);
	p0 = vmem_test_provision(test, m, 0, 3);
	KUNIT_ASSERT_GE(test, p0, 0);
	dirty = vmem_map_nr(m, VMEM_DIRTY);

	KUNIT_ASSERT_EQ(test, vmem_map_grow_alloc(m, &ng, gr), 0);
	vmem_map_grow_image(m, gr, (200 * MIB) >> VMEM_PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, m->geom.nr_buckets, old.nr_buckets);
	KUNIT_EXPECT_EQ(test, m->meta_bytes,
			round_up(ng.meta_sectors * VMEM_SECTOR_SIZE, PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(((struct vmem_sb *)m->meta)->nr_buckets),
			old.nr_buckets);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(gr->sb.nr_buckets), ng.nr_buckets);
	KUNIT_EXPECT_EQ(test, vmem_sb_validate(&gr->sb, 200 * MIB, true), VMEM_OK);
	for (s = old.meta_sectors; s < ng.meta_sectors; s++)
		KUNIT_EXPECT_EQ(test, vmem_blk_validate(m->meta + s * VMEM_SECTOR_SIZE,
							VMEM_MAP_MAGIC,
							s - VMEM_MAP_START,
							m->pool_id), VMEM_OK);
	for (pb = old.nr_buckets; pb < ng.nr_buckets; pb++)
		if (vmem_test_image_entry(m, pb)->owner ||
		    vmem_test_image_entry(m, pb)->flags)
			break;
	KUNIT_EXPECT_EQ(test, pb, ng.nr_buckets);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m, 0, 3), p0);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_DIRTY), dirty);

	/* The superblock is written, then the pool grows */
	memcpy(m->meta, &gr->sb, sizeof(gr->sb));
	vmem_map_growth_free(gr);
	vmem_map_grow_buckets(m, &ng);
	KUNIT_EXPECT_EQ(test, m->geom.nr_buckets, ng.nr_buckets);
	KUNIT_EXPECT_EQ(test, m->geom.map_sectors, ng.map_sectors);
	KUNIT_EXPECT_EQ(test, vmem_map_nr(m, VMEM_DIRTY),
			dirty + ng.nr_buckets - old.nr_buckets);
	KUNIT_EXPECT_EQ(test, vmem_map_busy(m), 0);
	/* The provision before the grow is sealed into the new image */
	KUNIT_EXPECT_GE(test, vmem_map_seal(m), 1);
	KUNIT_EXPECT_EQ(test, vmem_test_image_entry(m, p0)->owner, 1);
	/* A bucket of the new space can be given out, into a new sector */
	while ((p1 = vmem_test_provision(test, m, 0, 100 + dirty)) >= 0 &&
	       p1 < old.nr_buckets)
		dirty++;
	KUNIT_ASSERT_GE(test, p1, (s64)old.nr_buckets);
	vmem_map_seal(m);
	KUNIT_EXPECT_EQ(test, vmem_test_image_entry(m, p1)->owner, 1);
	for_each_set_bit(b, m->committing, m->geom.map_sectors)
		vmem_map_reseal(m, VMEM_MAP_START + b);
	vmem_map_sealed(m);

	copy = vmalloc(m->meta_bytes);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, m->meta, m->meta_bytes);
	KUNIT_ASSERT_EQ(test, vmem_map_load(m2, copy, m->meta_bytes, 200 * MIB,
					    NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, m2->geom.nr_buckets, ng.nr_buckets);
	KUNIT_EXPECT_EQ(test, vmem_map_lookup(m2, 0, 3), p0);
	KUNIT_EXPECT_EQ(test, vmem_map_used(m2), vmem_map_used(m));
	vmem_map_destroy(m2);
	vmem_map_destroy(m);
}

static struct kunit_case vmem_map_cases[] = {
	KUNIT_CASE(vmem_map_grow),
	KUNIT_CASE(vmem_map_zeroed),
	KUNIT_CASE(vmem_map_provision_lookup_free),
	KUNIT_CASE(vmem_map_image_committed_only),
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
