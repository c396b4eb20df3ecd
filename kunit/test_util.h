/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the vmem KUnit suites */
#ifndef _VMEM_TEST_UTIL_H
#define _VMEM_TEST_UTIL_H

#include <kunit/test.h>
#include <linux/vmalloc.h>
#include <vmem/meta.h>

/*
 * A formatted, empty metadata area (one copy: the image) of layout
 * @version for a pool of @dev_bytes, vmalloc'ed
 */
static inline u8 *vmem_test_meta_v(struct kunit *test, u64 dev_bytes,
				   u32 bucket_pages, u32 version,
				   struct vmem_geom *g, size_t *bytes)
{
	static const u8 uuid[16] = { 0x12, 0x34, 0x56, 0x78, 9 };
	u8 *meta;

	KUNIT_ASSERT_EQ(test, vmem_geom_layout(dev_bytes, bucket_pages, 0,
					       version, g), VMEM_OK);
	*bytes = round_up(g->meta_sectors * VMEM_SECTOR_SIZE, PAGE_SIZE);
	meta = vzalloc(*bytes);
	KUNIT_ASSERT_NOT_NULL(test, meta);
	vmem_meta_init(meta, g, dev_bytes >> VMEM_PAGE_SHIFT, uuid, 0, false);
	return meta;
}

/* The same in the current layout version */
static inline u8 *vmem_test_meta(struct kunit *test, u64 dev_bytes,
				 u32 bucket_pages, struct vmem_geom *g,
				 size_t *bytes)
{
	return vmem_test_meta_v(test, dev_bytes, bucket_pages, VMEM_VERSION,
				g, bytes);
}

static inline void *vmem_test_sector(u8 *meta, u64 sector)
{
	return meta + sector * VMEM_SECTOR_SIZE;
}

/* Give device @id a record in @meta and reseal its sector */
static inline void vmem_test_add_dev(u8 *meta, u32 id, u64 pages, u32 budget)
{
	struct vmem_devt_sector *s;
	u32 pool_id = vmem_pool_id((void *)meta);

	s = vmem_test_sector(meta, vmem_devt_sector_of(id));
	s->dev[vmem_devt_slot_of(id)].capacity_pages = cpu_to_le64(pages);
	s->dev[vmem_devt_slot_of(id)].budget_buckets = cpu_to_le32(budget);
	s->dev[vmem_devt_slot_of(id)].flags = cpu_to_le32(VMEM_DEV_EXISTS);
	vmem_blk_seal(s, VMEM_DEVT_MAGIC, vmem_devt_sector_of(id) -
		      VMEM_DEVT_START, pool_id);
}

/* Map physical bucket @pb to (@id, @vb) in @meta and reseal */
static inline void vmem_test_map(u8 *meta, u64 pb, u32 id, u32 vb)
{
	struct vmem_map_sector *s;

	s = vmem_test_sector(meta, vmem_map_sector_of(pb));
	s->entry[vmem_map_slot_of(pb)].owner = id + 1;
	s->entry[vmem_map_slot_of(pb)].vbucket = cpu_to_le32(vb);
	vmem_blk_seal(s, VMEM_MAP_MAGIC, vmem_map_sector_of(pb) -
		      VMEM_MAP_START, vmem_pool_id((void *)meta));
}

#endif /* _VMEM_TEST_UTIL_H */
