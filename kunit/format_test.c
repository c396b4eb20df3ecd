// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite vmem_format: the on-disk codec (lib/vmem_format.c). Every
 * corruption class the codec knows is produced once and must be refused
 * with its own fault; the two copies of layout version 2 are merged by
 * the reading rule in the kernel's build of the codec too.
 */
#include <kunit/test.h>
#include <linux/random.h>
#include <linux/sizes.h>
#include "test_util.h"

#define GIB ((u64)SZ_1G)

static void vmem_format_crc32c(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ~vmem_crc32c(~0U, "123456789", 9), 0xe3069283U);
	KUNIT_EXPECT_EQ(test, vmem_crc32c(0, "", 0), 0U);
}

/* CRC-32C one bit at a time: the definition the fast code must match */
static u32 vmem_crc32c_bitwise(u32 crc, const u8 *p, size_t len)
{
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1)));
	}
	return crc;
}

/* The kernel's __crc32c_le() against the bitwise reference */
static void vmem_format_crc32c_random(struct kunit *test)
{
	u8 *buf = kunit_kmalloc(test, 4096, GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < 200; i++) {
		size_t off = get_random_u32_below(16);
		size_t len = get_random_u32_below(4096 - off + 1);
		u32 seed = i & 1 ? get_random_u32() : ~0U;

		get_random_bytes(buf, 4096);
		KUNIT_EXPECT_EQ(test, vmem_crc32c(seed, buf + off, len),
				vmem_crc32c_bitwise(seed, buf + off, len));
	}
}

struct vmem_geom_case {
	const char *name;
	u64 dev_bytes;
	u32 bucket_pages;
	u32 version;
	enum vmem_fault fault;
	u64 nr_buckets;
	u64 data_start;
	u64 copy_b;
};

static const struct vmem_geom_case vmem_geom_cases[] = {
	{ "1G/1M", GIB, 16, 2, VMEM_OK, 1023, 16, 1024 },
	{ "10G/1M", 10 * GIB, 16, 2, VMEM_OK, 10239, 16, 1024 },
	/* Room for 4 GiB of 64 KiB buckets: copy B past 1 MiB */
	{ "1G/64K", GIB, 1, 2, VMEM_OK, 16352, 32, 2048 },
	{ "1T/1M", 1024 * GIB, 16, 2, VMEM_OK, 1048478, 1568, 131072 },
	{ "1G/1G", 2 * GIB, 16384, 2, VMEM_OK, 1, 16, 1024 },
	{ "v1-1G/64K", GIB, 1, 1, VMEM_OK, 16368, 16, 0 },
	/* 7316 buckets fill page 0's map exactly; one more spills over */
	{ "v1-page0-full", (16 + 7316) * 65536ULL, 1, 1, VMEM_OK, 7316, 16, 0 },
	{ "v1-page0-spill", (16 + 7317) * 65536ULL, 1, 1, VMEM_OK, 7317, 16,
	  0 },
	{ "v1-1T/1M", 1024 * GIB, 16, 1, VMEM_OK, 1048567, 144, 0 },
	{ "too-small", 1 << 20, 16, 2, VMEM_F_TOO_SMALL, 0, 0, 0 },
	{ "v1-too-small", 1 << 20, 16, 1, VMEM_F_TOO_SMALL, 0, 0, 0 },
	{ "empty", 0, 16, 2, VMEM_F_TOO_SMALL, 0, 0, 0 },
	{ "not-pow2", GIB, 3, 2, VMEM_F_BUCKET_SIZE, 0, 0, 0 },
	{ "zero-bucket", GIB, 0, 2, VMEM_F_BUCKET_SIZE, 0, 0, 0 },
	{ "2G-bucket", 4 * GIB, 32768, 2, VMEM_F_BUCKET_SIZE, 0, 0, 0 },
	{ "version-3", GIB, 16, 3, VMEM_F_VERSION, 0, 0, 0 },
};

static void vmem_geom_desc(const struct vmem_geom_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vmem_geom, vmem_geom_cases, vmem_geom_desc);

static void vmem_format_geometry(struct kunit *test)
{
	const struct vmem_geom_case *c = test->param_value;
	struct vmem_geom g;

	KUNIT_ASSERT_EQ(test, vmem_geom_layout(c->dev_bytes, c->bucket_pages,
					       0, c->version, &g), c->fault);
	if (c->fault)
		return;
	KUNIT_EXPECT_EQ(test, g.nr_buckets, c->nr_buckets);
	KUNIT_EXPECT_EQ(test, g.data_start, c->data_start);
	KUNIT_EXPECT_EQ(test, g.copy_b, c->copy_b);
	if (c->version >= 2) {
		/* Copy A with its room, then copy B, then the data */
		KUNIT_EXPECT_LE(test, VMEM_MAP_START + g.map_max, g.copy_b);
		KUNIT_EXPECT_LE(test, g.copy_b + VMEM_MAP_START + g.map_max,
				g.data_start * VMEM_SECTORS_PER_PAGE);
		KUNIT_EXPECT_GE(test, g.map_max, g.map_sectors);
	}
	/* The map holds every bucket and ends before the data */
	KUNIT_EXPECT_GE(test, g.map_sectors * VMEM_ENTRIES_PER_SECTOR,
			g.nr_buckets);
	KUNIT_EXPECT_LE(test, g.meta_sectors * VMEM_SECTOR_SIZE,
			g.data_start * VMEM_PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, g.data_start % VMEM_DATA_ALIGN_PAGES, 0);
	/* The buckets fit the device, and one more would not */
	KUNIT_EXPECT_LE(test, (g.data_start + g.nr_buckets * g.bucket_pages) *
			VMEM_PAGE_SIZE, c->dev_bytes);
}

static void vmem_format_round_trip(struct kunit *test)
{
	struct vmem_geom g, back;
	size_t bytes;
	u8 *meta = vmem_test_meta(test, 10 * GIB, 16, &g, &bytes);
	u32 i;

	KUNIT_EXPECT_EQ(test, vmem_sb_validate((void *)meta, 10 * GIB, true),
			VMEM_OK);
	vmem_geom_from_sb((void *)meta, &back);
	KUNIT_EXPECT_EQ(test, back.nr_buckets, g.nr_buckets);
	KUNIT_EXPECT_EQ(test, back.data_start, g.data_start);
	KUNIT_EXPECT_EQ(test, back.bucket_pages, g.bucket_pages);
	KUNIT_EXPECT_EQ(test, vmem_page0_classify(meta, VMEM_SECTOR_SIZE),
			VMEM_PAGE0_VMEM);
	for (i = 0; i < VMEM_DEVT_SECTORS; i++) {
		void *s = vmem_test_sector(meta, VMEM_DEVT_START + i);

		KUNIT_EXPECT_EQ(test, vmem_blk_validate(s, VMEM_DEVT_MAGIC, i,
							vmem_pool_id((void *)meta)),
				VMEM_OK);
	}
	vfree(meta);
}

static void vmem_format_classify(struct kunit *test)
{
	u8 *buf = kunit_kzalloc(test, VMEM_PAGE_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_EXPECT_EQ(test, vmem_page0_classify(buf, VMEM_PAGE_SIZE),
			VMEM_PAGE0_EMPTY);
	/* ext4's magic at 1080 */
	buf[1080] = 0x53;
	buf[1081] = 0xef;
	KUNIT_EXPECT_EQ(test, vmem_page0_classify(buf, VMEM_PAGE_SIZE),
			VMEM_PAGE0_FOREIGN);
	memset(buf, 0, VMEM_PAGE_SIZE);
	buf[VMEM_PAGE_SIZE - 1] = 1;
	KUNIT_EXPECT_EQ(test, vmem_page0_classify(buf, VMEM_PAGE_SIZE),
			VMEM_PAGE0_FOREIGN);
}

/* One corruption of the superblock and the fault it must produce */
struct vmem_sb_case {
	const char *name;
	void (*corrupt)(struct vmem_sb *sb);
	bool reseal;
	bool rw;
	enum vmem_fault fault;
};

static void sb_magic(struct vmem_sb *sb)
{
	sb->magic ^= cpu_to_le64(1);
}

static void sb_flip(struct vmem_sb *sb)
{
	sb->generation ^= cpu_to_le64(4);
}

static void sb_version(struct vmem_sb *sb)
{
	sb->version = cpu_to_le32(VMEM_VERSION + 1);
}

static void sb_copy_b(struct vmem_sb *sb)
{
	le64_add_cpu(&sb->copy_b, 8);
}

static void sb_map_max(struct vmem_sb *sb)
{
	sb->map_max = cpu_to_le64(0);
}

static void sb_version0(struct vmem_sb *sb)
{
	sb->version = cpu_to_le32(0);
}

static void sb_incompat(struct vmem_sb *sb)
{
	sb->incompat = cpu_to_le32(1);
}

static void sb_ro_compat(struct vmem_sb *sb)
{
	sb->ro_compat = cpu_to_le32(8);
}

static void sb_bucket(struct vmem_sb *sb)
{
	sb->bucket_pages = cpu_to_le32(5);
}

static void sb_nr(struct vmem_sb *sb)
{
	le64_add_cpu(&sb->nr_buckets, 1000);
}

static void sb_nr0(struct vmem_sb *sb)
{
	sb->nr_buckets = cpu_to_le64(0);
}

static void sb_map(struct vmem_sb *sb)
{
	le64_add_cpu(&sb->map_sectors, 1);
}

static void sb_start(struct vmem_sb *sb)
{
	le64_add_cpu(&sb->data_start, 16);
}

static void sb_reserved(struct vmem_sb *sb)
{
	sb->reserved[100] = 1;
}

static void sb_pool(struct vmem_sb *sb)
{
	le64_add_cpu(&sb->pool_pages, -64);
}

static void sb_none(struct vmem_sb *sb)
{
}

static const struct vmem_sb_case vmem_sb_cases[] = {
	{ "clean", sb_none, false, true, VMEM_OK },
	{ "magic", sb_magic, true, true, VMEM_F_MAGIC },
	{ "bit-flip", sb_flip, false, true, VMEM_F_CSUM },
	{ "newer-version", sb_version, true, false, VMEM_F_VERSION },
	{ "version-0", sb_version0, true, true, VMEM_F_GEOMETRY },
	{ "incompat", sb_incompat, true, false, VMEM_F_INCOMPAT },
	{ "ro-compat-rw", sb_ro_compat, true, true, VMEM_F_RO_COMPAT },
	{ "ro-compat-ro", sb_ro_compat, true, false, VMEM_OK },
	{ "bucket-size", sb_bucket, true, true, VMEM_F_BUCKET_SIZE },
	{ "nr-buckets", sb_nr, true, true, VMEM_F_GEOMETRY },
	{ "nr-buckets-0", sb_nr0, true, true, VMEM_F_GEOMETRY },
	{ "map-sectors", sb_map, true, true, VMEM_F_GEOMETRY },
	{ "data-start", sb_start, true, true, VMEM_F_GEOMETRY },
	{ "reserved", sb_reserved, true, true, VMEM_F_RESERVED },
	{ "pool-pages", sb_pool, true, true, VMEM_F_GEOMETRY },
	{ "copy-b", sb_copy_b, true, true, VMEM_F_GEOMETRY },
	{ "map-max", sb_map_max, true, true, VMEM_F_GEOMETRY },
};

static void vmem_sb_desc(const struct vmem_sb_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vmem_sb, vmem_sb_cases, vmem_sb_desc);

static void vmem_format_sb_corrupt(struct kunit *test)
{
	const struct vmem_sb_case *c = test->param_value;
	struct vmem_geom g;
	size_t bytes;
	u8 *meta = vmem_test_meta(test, GIB, 16, &g, &bytes);
	struct vmem_sb *sb = (void *)meta;

	c->corrupt(sb);
	if (c->reseal)
		vmem_sb_seal(sb);
	KUNIT_EXPECT_EQ(test, vmem_sb_validate(sb, GIB, c->rw), c->fault);
	vfree(meta);
}

static void vmem_format_too_small(struct kunit *test)
{
	struct vmem_geom g;
	size_t bytes;
	u8 *meta = vmem_test_meta(test, GIB, 16, &g, &bytes);

	KUNIT_EXPECT_EQ(test, vmem_sb_validate((void *)meta, GIB / 2, true),
			VMEM_F_TOO_SMALL);
	KUNIT_EXPECT_EQ(test, vmem_sb_validate((void *)meta, 0, true),
			VMEM_OK);
	vfree(meta);
}

static void vmem_format_blk(struct kunit *test)
{
	struct vmem_geom g;
	size_t bytes;
	u8 *meta = vmem_test_meta(test, GIB, 16, &g, &bytes);
	u32 id = vmem_pool_id((void *)meta);
	u8 *s = vmem_test_sector(meta, VMEM_MAP_START + 1);

	KUNIT_EXPECT_EQ(test, vmem_blk_validate(s, VMEM_MAP_MAGIC, 1, id),
			VMEM_OK);
	KUNIT_EXPECT_EQ(test, vmem_blk_validate(s, VMEM_DEVT_MAGIC, 1, id),
			VMEM_F_BLK_MAGIC);
	KUNIT_EXPECT_EQ(test, vmem_blk_validate(s, VMEM_MAP_MAGIC, 2, id),
			VMEM_F_BLK_INDEX);
	KUNIT_EXPECT_EQ(test, vmem_blk_validate(s, VMEM_MAP_MAGIC, 1, id + 1),
			VMEM_F_POOL_ID);
	s[300] ^= 0x10;
	KUNIT_EXPECT_EQ(test, vmem_blk_validate(s, VMEM_MAP_MAGIC, 1, id),
			VMEM_F_CSUM);
	vfree(meta);
}

struct vmem_fault_log {
	unsigned int n;
	enum vmem_fault f[8];
	u64 index[8];
	u64 yields;
};

static void vmem_test_report(void *ctx, enum vmem_fault f, const char *what,
			     u64 index)
{
	struct vmem_fault_log *log = ctx;

	if (log->n < ARRAY_SIZE(log->f)) {
		log->f[log->n] = f;
		log->index[log->n] = index;
	}
	log->n++;
}

static void vmem_test_yield(void *ctx)
{
	struct vmem_fault_log *log = ctx;

	log->yields++;
}

/* vmem_meta_check() of a 1 GiB pool, faults and yields in @log */
static u64 vmem_test_check(u8 *meta, struct vmem_meta_view *view,
			   u64 *scratch, struct vmem_fault_log *log)
{
	log->n = 0;
	log->yields = 0;
	return vmem_meta_check(meta, GIB, true, view, scratch,
			       vmem_test_report, vmem_test_yield, log);
}

static void vmem_format_meta_check(struct kunit *test)
{
	struct vmem_meta_view *view;
	struct vmem_fault_log log = { };
	struct vmem_geom g;
	size_t bytes;
	u8 *meta = vmem_test_meta(test, GIB, 16, &g, &bytes);
	u64 *scratch = kunit_kcalloc(test, g.nr_buckets, sizeof(u64),
				     GFP_KERNEL);

	view = kunit_kzalloc(test, sizeof(*view), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, scratch);
	KUNIT_ASSERT_NOT_NULL(test, view);

	vmem_test_add_dev(meta, 3, 64, 0);	/* 4 MiB: vbuckets 0..3 */
	vmem_test_map(meta, 10, 3, 0);
	vmem_test_map(meta, 500, 3, 3);
	KUNIT_EXPECT_EQ(test, vmem_test_check(meta, view, scratch, &log), 0);
	KUNIT_EXPECT_EQ(test, view->used[3], 2);

	/* The same virtual bucket in two physical buckets */
	vmem_test_map(meta, 900, 3, 3);
	KUNIT_EXPECT_EQ(test, vmem_test_check(meta, view, scratch, &log), 1);
	KUNIT_EXPECT_EQ(test, log.f[0], VMEM_F_DOUBLE);
	/* A virtual bucket beyond the device */
	vmem_test_map(meta, 900, 3, 4);
	KUNIT_EXPECT_EQ(test, vmem_test_check(meta, view, scratch, &log), 1);
	KUNIT_EXPECT_EQ(test, log.f[0], VMEM_F_VBUCKET);
	KUNIT_EXPECT_EQ(test, log.index[0], 900);
	/* An owner that does not exist */
	vmem_test_map(meta, 900, 7, 0);
	KUNIT_EXPECT_EQ(test, vmem_test_check(meta, view, scratch, &log), 1);
	KUNIT_EXPECT_EQ(test, log.f[0], VMEM_F_OWNER);
	/* A torn map sector: every entry in it is unreadable */
	vmem_test_map(meta, 900, 3, 1);
	((u8 *)vmem_test_sector(meta, vmem_map_sector_of(900)))[100] ^= 1;
	KUNIT_EXPECT_EQ(test, vmem_test_check(meta, view, scratch, &log), 1);
	KUNIT_EXPECT_EQ(test, log.f[0], VMEM_F_CSUM);
	KUNIT_EXPECT_EQ(test, log.index[0], 900 / VMEM_ENTRIES_PER_SECTOR);
	/* 17 map sectors, one yield; the duplicate check sorts and yields */
	KUNIT_EXPECT_GE(test, log.yields, 1);
	KUNIT_EXPECT_EQ(test, vmem_test_check(meta, view, NULL, &log), 1);
	KUNIT_EXPECT_EQ(test, log.yields, 1);
	vfree(meta);
}

/* A yield before every VMEM_CHECK_YIELD_SECTORS map sectors, no more */
static void vmem_format_meta_yield(struct kunit *test)
{
	struct vmem_fault_log log = { };
	struct vmem_meta_view *view;
	struct vmem_geom g;
	size_t bytes;
	/* 64 KiB buckets, layout version 1: 65520 buckets, 1057 map sectors */
	u8 *meta = vmem_test_meta_v(test, 4 * GIB, 1, 1, &g, &bytes);

	view = kunit_kzalloc(test, sizeof(*view), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, view);
	KUNIT_ASSERT_EQ(test, g.map_sectors, 1057);
	KUNIT_EXPECT_EQ(test, vmem_meta_check(meta, 4 * GIB, true, view, NULL,
					      vmem_test_report, vmem_test_yield,
					      &log), 0);
	KUNIT_EXPECT_EQ(test, log.yields,
			DIV_ROUND_UP(g.map_sectors, VMEM_CHECK_YIELD_SECTORS));
	/* NULL: no yield, same result */
	KUNIT_EXPECT_EQ(test, vmem_meta_check(meta, 4 * GIB, true, view, NULL,
					      vmem_test_report, NULL, &log), 0);
	vfree(meta);
}

struct vmem_copy_log {
	unsigned int n;
	u64 sector[8];
	enum vmem_copies state[8];
};

static void vmem_test_copy(void *ctx, u64 sector, enum vmem_copies state,
			   enum vmem_fault fa, enum vmem_fault fb)
{
	struct vmem_copy_log *log = ctx;

	if (log->n < ARRAY_SIZE(log->sector)) {
		log->sector[log->n] = sector;
		log->state[log->n] = state;
	}
	log->n++;
}

/*
 * Layout version 2: a copy B with a damaged sector, one older than copy
 * A, and a copy A with a damaged one merge to the image; a sector damaged
 * in both is counted lost
 */
static void vmem_format_copies_merge(struct kunit *test)
{
	struct vmem_copy_log log = { };
	struct vmem_geom g;
	size_t bytes;
	u8 *meta = vmem_test_meta(test, GIB, 16, &g, &bytes);
	u8 *a = vmalloc(bytes), *b = vmalloc(bytes);
	u32 id = vmem_pool_id((void *)meta);

	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_EQ(test, g.version, 2);
	vmem_test_add_dev(meta, 3, 64, 0);
	vmem_test_map(meta, 10, 3, 0);
	memcpy(a, meta, bytes);
	memcpy(b, meta, bytes);
	KUNIT_EXPECT_EQ(test, vmem_copies_merge(a, b, 0, g.meta_sectors, &g,
						id, GIB, vmem_test_copy, &log),
			0);
	KUNIT_EXPECT_EQ(test, log.n, 0);

	/* B damaged in the device table, older in the map; A damaged */
	((u8 *)vmem_test_sector(b, VMEM_DEVT_START))[100] ^= 1;
	vmem_test_map(b, 70, 3, 1);
	((u8 *)vmem_test_sector(a, VMEM_MAP_START + 5))[200] ^= 1;
	KUNIT_EXPECT_EQ(test, vmem_copies_merge(a, b, 0, g.meta_sectors, &g,
						id, GIB, vmem_test_copy, &log),
			0);
	KUNIT_EXPECT_EQ(test, log.n, 3);
	KUNIT_EXPECT_EQ(test, log.sector[0], VMEM_DEVT_START);
	KUNIT_EXPECT_EQ(test, log.state[0], VMEM_COPIES_B_BAD);
	KUNIT_EXPECT_EQ(test, log.sector[1], VMEM_MAP_START + 1);
	KUNIT_EXPECT_EQ(test, log.state[1], VMEM_COPIES_B_OLD);
	KUNIT_EXPECT_EQ(test, log.sector[2], VMEM_MAP_START + 5);
	KUNIT_EXPECT_EQ(test, log.state[2], VMEM_COPIES_A_BAD);
	KUNIT_EXPECT_EQ(test, memcmp(a, meta, g.meta_sectors *
				     VMEM_SECTOR_SIZE), 0);

	/* Both copies of one sector: lost */
	((u8 *)vmem_test_sector(a, VMEM_MAP_START + 7))[50] ^= 1;
	((u8 *)vmem_test_sector(b, VMEM_MAP_START + 7))[60] ^= 1;
	log.n = 0;
	KUNIT_EXPECT_EQ(test, vmem_copies_merge(a, b, 0, g.meta_sectors, &g,
						id, GIB, vmem_test_copy, &log),
			1);
	vfree(a);
	vfree(b);
	vfree(meta);
}

/* The disk the probe for copy B's superblock reads */
struct vmem_test_disk {
	const u8 *meta;		/* copy A's sectors; copy B's superblock */
	u64 meta_sectors;
	u64 bad, nr_bad;	/* sectors bad..bad+nr_bad-1 cannot be read */
};

/* One sector of the probe for copy B's superblock, from @ctx */
static int vmem_test_read(void *ctx, u64 sector, void *buf)
{
	const struct vmem_test_disk *d = ctx;

	if (sector >= d->bad && sector < d->bad + d->nr_bad)
		return -EIO;
	if (sector == 1024)
		memcpy(buf, d->meta, VMEM_SECTOR_SIZE);
	else if (sector && sector < d->meta_sectors)
		memcpy(buf, d->meta + sector * VMEM_SECTOR_SIZE,
		       VMEM_SECTOR_SIZE);
	else
		memset(buf, 0, VMEM_SECTOR_SIZE);
	return 0;
}

/*
 * A torn superblock A: copy B's is found and taken; a foreign one is not,
 * nor one copy A's table disowns
 */
static void vmem_format_sb_choose(struct kunit *test)
{
	struct vmem_test_disk d;
	struct vmem_geom g;
	struct vmem_sb sb;
	size_t bytes;
	u8 *meta = vmem_test_meta(test, GIB, 16, &g, &bytes);
	u8 *page0 = kunit_kzalloc(test, VMEM_PAGE_SIZE, GFP_KERNEL);
	u8 *forged = kunit_kzalloc(test, bytes, GFP_KERNEL);
	u64 at;

	KUNIT_ASSERT_NOT_NULL(test, page0);
	KUNIT_ASSERT_NOT_NULL(test, forged);
	d = (struct vmem_test_disk){ meta, g.meta_sectors, 0, 0 };
	memcpy(page0, meta, g.meta_sectors * VMEM_SECTOR_SIZE);
	KUNIT_EXPECT_EQ(test, vmem_sb_choose((void *)page0, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_OK);
	KUNIT_EXPECT_EQ(test, at, 0);
	page0[70] ^= 1;
	KUNIT_EXPECT_EQ(test, vmem_sb_choose((void *)page0, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_OK);
	KUNIT_EXPECT_EQ(test, at, 1024);
	KUNIT_EXPECT_EQ(test, memcmp(&sb, meta, sizeof(sb)), 0);
	KUNIT_EXPECT_EQ(test, vmem_sb_choose(NULL, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_OK);
	/* Copy A's table and map unreadable: nothing disowns copy B's */
	d.bad = VMEM_DEVT_START;
	d.nr_bad = g.meta_sectors - VMEM_DEVT_START;
	KUNIT_EXPECT_EQ(test, vmem_sb_choose(NULL, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_OK);
	/* Copy B's superblock unreadable: the probe ends there */
	d.bad = 1024;
	d.nr_bad = 1;
	KUNIT_EXPECT_EQ(test, vmem_sb_choose(NULL, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_F_CSUM);
	KUNIT_EXPECT_EQ(test, at, 0);
	d.nr_bad = 0;
	/* Another pool's superblock where copy B's is: copy A disowns it */
	memcpy(forged, meta, bytes);
	((struct vmem_sb *)forged)->uuid[3] ^= 1;
	vmem_sb_seal((struct vmem_sb *)forged);
	d.meta = forged;
	KUNIT_EXPECT_EQ(test, vmem_sb_choose(NULL, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_F_POOL_ID);
	KUNIT_EXPECT_EQ(test, at, 1024);
	d.meta = meta;
	/* The magic flipped, the uuid still this pool's: damage */
	page0[70] ^= 1;
	page0[8] ^= 1;
	KUNIT_EXPECT_EQ(test, vmem_sb_choose((void *)page0, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_OK);
	/* Sector 0 names no pool (another format's data): refused */
	memset(page0, 0x5a, VMEM_SECTOR_SIZE);
	KUNIT_EXPECT_EQ(test, vmem_sb_choose((void *)page0, GIB, true,
					     vmem_test_read, &d, &sb, &at),
			VMEM_F_MAGIC);
	vfree(meta);
}

static struct kunit_case vmem_format_cases[] = {
	KUNIT_CASE(vmem_format_crc32c),
	KUNIT_CASE(vmem_format_crc32c_random),
	KUNIT_CASE_PARAM(vmem_format_geometry, vmem_geom_gen_params),
	KUNIT_CASE(vmem_format_round_trip),
	KUNIT_CASE(vmem_format_classify),
	KUNIT_CASE_PARAM(vmem_format_sb_corrupt, vmem_sb_gen_params),
	KUNIT_CASE(vmem_format_too_small),
	KUNIT_CASE(vmem_format_blk),
	KUNIT_CASE(vmem_format_meta_check),
	KUNIT_CASE(vmem_format_meta_yield),
	KUNIT_CASE(vmem_format_copies_merge),
	KUNIT_CASE(vmem_format_sb_choose),
	{}
};

static struct kunit_suite vmem_format_suite = {
	.name = "vmem_format",
	.test_cases = vmem_format_cases,
};

kunit_test_suite(vmem_format_suite);
