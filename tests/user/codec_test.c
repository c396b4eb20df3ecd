// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace tests of the on-disk format codec, lib/vmem_format.c, built
 * with ASan and UBSan: CRC-32C vectors, geometry of both layout versions
 * for many device and bucket sizes, seal/validate round trips, every
 * fault the codec can name (each produced by a crafted image and reported
 * by vmem_meta_check() with the right "what" and index), and foreign,
 * random and truncated images. The two copies of layout version 2 have
 * their own tests, copies_test.c.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <vmem/meta.h>
#include "harness.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)

/* ---- a formatted image in memory ---- */

struct img {
	u8 *meta;
	struct vmem_geom g;
	u64 dev_bytes;
};

static const u8 uuid_a[16] = { 0xa1, 0xa2, 0xa3, 0xa4, 5, 6, 0x47, 8,
			       0x89, 10, 11, 12, 13, 14, 15, 16 };
static const u8 uuid_b[16] = { 0xb1, 0xb2, 0xb3, 0xb4, 5, 6, 0x47, 8,
			       0x89, 10, 11, 12, 13, 14, 15, 16 };

/* Layout version of the images img_new() makes */
static u32 img_version = VMEM_VERSION;

static void img_new_uuid(struct img *im, u64 dev_bytes, u32 bucket_pages,
			 const u8 *uuid)
{
	enum vmem_fault f = vmem_geom_layout(dev_bytes, bucket_pages, 0,
					     img_version, &im->g);

	if (f) {
		fprintf(stderr, "geometry of %llu bytes: %s\n",
			(unsigned long long)dev_bytes, vmem_fault_str(f));
		abort();
	}
	im->dev_bytes = dev_bytes;
	im->meta = malloc(im->g.meta_sectors * VMEM_SECTOR_SIZE);
	if (!im->meta)
		abort();
	vmem_meta_init(im->meta, &im->g, dev_bytes >> VMEM_PAGE_SHIFT, uuid,
		       1700000000, false);
}

static void img_new(struct img *im, u64 dev_bytes, u32 bucket_pages)
{
	img_new_uuid(im, dev_bytes, bucket_pages, uuid_a);
}

static void img_free(struct img *im)
{
	free(im->meta);
	im->meta = NULL;
}

static struct vmem_sb *img_sb(struct img *im)
{
	return (struct vmem_sb *)im->meta;
}

static u8 *img_sector(struct img *im, u64 sector)
{
	return im->meta + sector * VMEM_SECTOR_SIZE;
}

static void img_set_dev(struct img *im, u32 id, u64 cap, u32 budget,
			u32 flags)
{
	u64 sector = vmem_devt_sector_of(id);
	struct vmem_devt_sector *s = (void *)img_sector(im, sector);
	struct vmem_dev_rec *r = &s->dev[vmem_devt_slot_of(id)];

	r->capacity_pages = htole64(cap);
	r->budget_buckets = htole32(budget);
	r->flags = htole32(flags);
	vmem_blk_seal(s, VMEM_DEVT_MAGIC, sector - VMEM_DEVT_START,
		      vmem_pool_id(img_sb(im)));
}

static void img_set_map(struct img *im, u64 bucket, u32 owner, u32 vbucket)
{
	struct vmem_map_sector *s =
		(void *)img_sector(im, vmem_map_sector_of(bucket));
	struct vmem_map_entry *e = &s->entry[vmem_map_slot_of(bucket)];

	e->owner = owner;
	e->vbucket = htole32(vbucket);
	vmem_blk_seal(s, VMEM_MAP_MAGIC, bucket / VMEM_ENTRIES_PER_SECTOR,
		      vmem_pool_id(img_sb(im)));
}

/* ---- collecting what vmem_meta_check() reports ---- */

#define MAX_REPORTS 64

struct report {
	enum vmem_fault f;
	char what[16];
	u64 index;
};

static struct report reports[MAX_REPORTS];
static unsigned int nr_reports;
static unsigned int fault_seen[VMEM_F_NR];	/* over the whole run */
static struct vmem_meta_view view;

static void collect(void *ctx, enum vmem_fault f, const char *what,
		    u64 index)
{
	(void)ctx;
	if ((unsigned int)f < VMEM_F_NR)
		fault_seen[f]++;
	if (nr_reports < MAX_REPORTS) {
		reports[nr_reports].f = f;
		snprintf(reports[nr_reports].what,
			 sizeof(reports[nr_reports].what), "%s", what);
		reports[nr_reports].index = index;
	}
	nr_reports++;
}

static u64 img_check_rw(struct img *im, bool scratch, bool rw)
{
	u64 *keys = NULL;
	u64 n;

	if (scratch) {
		keys = calloc(im->g.nr_buckets, sizeof(*keys));
		if (!keys)
			abort();
	}
	nr_reports = 0;
	n = vmem_meta_check(im->meta, im->dev_bytes, rw, &view, keys,
			    collect, NULL, NULL);
	free(keys);
	if (n != nr_reports) {
		fprintf(stderr, "meta_check returned %llu, reported %u\n",
			(unsigned long long)n, nr_reports);
		test_errors++;
	}
	return n;
}

static u64 img_check(struct img *im)
{
	return img_check_rw(im, true, true);
}

static bool reported(enum vmem_fault f, const char *what, u64 index)
{
	unsigned int i;

	for (i = 0; i < nr_reports && i < MAX_REPORTS; i++)
		if (reports[i].f == f && !strcmp(reports[i].what, what) &&
		    reports[i].index == index)
			return true;
	return false;
}

/* Exactly one fault, and it is this one */
static bool only(enum vmem_fault f, const char *what, u64 index)
{
	unsigned int i;

	if (nr_reports == 1 && reported(f, what, index))
		return true;
	fprintf(stderr, "wanted just %s %llu: %s; got %u:\n", what,
		(unsigned long long)index, vmem_fault_str(f), nr_reports);
	for (i = 0; i < nr_reports && i < MAX_REPORTS; i++)
		fprintf(stderr, "  %s %llu: %s\n", reports[i].what,
			(unsigned long long)reports[i].index,
			vmem_fault_str(reports[i].f));
	return false;
}

/* Change the superblock with @fn, reseal it, check; one fault expected */
static void sb_case(void (*fn)(struct vmem_sb *sb), enum vmem_fault want)
{
	struct img im;

	img_new(&im, 10 * GIB, 16);
	fn(img_sb(&im));
	vmem_sb_seal(img_sb(&im));
	EXPECT(vmem_sb_validate(img_sb(&im), im.dev_bytes, true) == want);
	EXPECT(img_check(&im) == 1);
	EXPECT(only(want, "superblock", 0));
	img_free(&im);
}

/* ---- CRC-32C ---- */

static u32 crc(const void *buf, size_t len)
{
	return ~vmem_crc32c(~0U, buf, len);
}

static void codec_crc32c_vectors(void)
{
	u8 buf[32];
	unsigned int i;

	EXPECT(crc("123456789", 9) == 0xe3069283);
	EXPECT(crc("", 0) == 0);
	/* RFC 3720 (iSCSI) B.4 */
	memset(buf, 0, sizeof(buf));
	EXPECT(crc(buf, 32) == 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	EXPECT(crc(buf, 32) == 0x62a8ab43);
	for (i = 0; i < 32; i++)
		buf[i] = i;
	EXPECT(crc(buf, 32) == 0x46dd794e);
	for (i = 0; i < 32; i++)
		buf[i] = 31 - i;
	EXPECT(crc(buf, 32) == 0x113fdb5c);
	/* Running value: two halves give the whole */
	EXPECT(~vmem_crc32c(vmem_crc32c(~0U, "1234", 4), "56789", 5) ==
	       0xe3069283);
}

static void codec_sector_csum(void)
{
	u8 sec[VMEM_SECTOR_SIZE];
	u32 c;

	memset(sec, 0x5a, sizeof(sec));
	c = vmem_sector_csum(sec);
	EXPECT(c == crc(sec + 4, VMEM_SECTOR_SIZE - 4));
	sec[0] ^= 1;	/* the checksum field itself is not covered */
	EXPECT(vmem_sector_csum(sec) == c);
	sec[511] ^= 1;
	EXPECT(vmem_sector_csum(sec) != c);
}

/* ---- geometry ---- */

static u64 round_up(u64 x, u64 a)
{
	return (x + a - 1) / a * a;
}

/* data_start of a version 1 pool of @n buckets, from the layout contract */
static u64 contract_data_start(u64 n)
{
	u64 map = (n + VMEM_ENTRIES_PER_SECTOR - 1) / VMEM_ENTRIES_PER_SECTOR;
	u64 meta = VMEM_MAP_START + map;

	return round_up((meta + VMEM_SECTORS_PER_PAGE - 1) /
			VMEM_SECTORS_PER_PAGE, VMEM_DATA_ALIGN_PAGES);
}

static unsigned int geom_checked;

/* The superblock carries a geometry and gives it back */
static void geom_roundtrip(const struct vmem_geom *g, u64 dev_bytes)
{
	struct vmem_geom g2;
	struct vmem_sb sb;

	vmem_sb_init(&sb, g, dev_bytes >> VMEM_PAGE_SHIFT, uuid_a, 1);
	EXPECT(vmem_sb_validate(&sb, dev_bytes, true) == VMEM_OK);
	EXPECT(vmem_sb_validate(&sb, 0, false) == VMEM_OK);
	vmem_geom_from_sb(&sb, &g2);
	EXPECT(!memcmp(&g2, g, sizeof(g2)));
	/* The last bucket ends inside the device */
	EXPECT(vmem_bucket_sector(g, g->nr_buckets - 1) +
	       (u64)g->bucket_pages * VMEM_SECTORS_PER_PAGE <=
	       dev_bytes / VMEM_SECTOR_SIZE);
}

static void geom_one_v1(u64 dev_bytes, u32 bp)
{
	u64 pages = dev_bytes >> VMEM_PAGE_SHIFT;
	struct vmem_geom g;
	enum vmem_fault f;
	u64 n;

	geom_checked++;
	memset(&g, 0xcc, sizeof(g));
	f = vmem_geom_layout(dev_bytes, bp, 0, 1, &g);
	if (f == VMEM_F_TOO_SMALL) {
		/* Not even one bucket fits */
		EXPECT(contract_data_start(1) + bp > pages);
		return;
	}
	EXPECT(f == VMEM_OK);
	if (f)
		return;
	n = g.nr_buckets;
	EXPECT(g.version == 1 && g.copy_b == 0);
	EXPECT(g.bucket_pages == bp);
	EXPECT(n >= 1 && n <= VMEM_MAX_BUCKETS);
	/* The map fits, exactly */
	EXPECT(g.map_sectors * VMEM_ENTRIES_PER_SECTOR >= n);
	EXPECT((g.map_sectors - 1) * VMEM_ENTRIES_PER_SECTOR < n);
	EXPECT(g.map_max == g.map_sectors);
	EXPECT(g.meta_sectors == VMEM_MAP_START + g.map_sectors);
	/* Data is aligned, after the metadata, and inside the device */
	EXPECT(g.data_start % VMEM_DATA_ALIGN_PAGES == 0);
	EXPECT(g.meta_sectors <= g.data_start * VMEM_SECTORS_PER_PAGE);
	EXPECT(g.data_start == contract_data_start(n));
	EXPECT(g.data_start + n * bp <= pages);
	/* As many buckets as fit */
	if (n < VMEM_MAX_BUCKETS &&
	    contract_data_start(n + 1) + (n + 1) * bp <= pages)
		fprintf(stderr, "%llu bytes, %u pages/bucket: %llu buckets, %llu fit\n",
			(unsigned long long)dev_bytes, bp,
			(unsigned long long)n, (unsigned long long)n + 1);
	if (n < VMEM_MAX_BUCKETS)
		EXPECT(contract_data_start(n + 1) + (n + 1) * bp > pages);
	geom_roundtrip(&g, dev_bytes);
}

/*
 * Version 2, from format.h's placement rule: the map reserves room for
 * @max_bytes (default 4 times the device), copy B starts at the smallest
 * power of two of sectors >= 1024 that holds copy A with its room, data
 * at the next 1 MiB after copy B
 */
static void geom_one_v2(u64 dev_bytes, u32 bp, u64 max_bytes)
{
	u64 pages = dev_bytes >> VMEM_PAGE_SHIFT, max_pages, max_buckets;
	u64 map_max, extent, copy_b = 1024, start, n;
	struct vmem_geom g;
	enum vmem_fault f;

	geom_checked++;
	max_pages = max_bytes ? max_bytes >> VMEM_PAGE_SHIFT :
		    pages > ~0ULL / 4 ? ~0ULL : pages * 4;
	max_buckets = max_pages / bp;
	if (max_buckets > VMEM_MAX_BUCKETS)
		max_buckets = VMEM_MAX_BUCKETS;
	map_max = (max_buckets + 61) / 62;
	extent = VMEM_MAP_START + map_max;
	while (copy_b < extent)
		copy_b <<= 1;
	start = round_up(copy_b + extent, 2048) / VMEM_SECTORS_PER_PAGE;
	n = start < pages ? (pages - start) / bp : 0;
	if (n > max_buckets)
		n = max_buckets;

	memset(&g, 0xcc, sizeof(g));
	f = vmem_geom_layout(dev_bytes, bp, max_bytes, 2, &g);
	if (!n || !max_buckets) {
		EXPECT(f == VMEM_F_TOO_SMALL);
		return;
	}
	EXPECT(f == VMEM_OK);
	if (f)
		return;
	EXPECT(g.version == 2);
	EXPECT(g.nr_buckets == n);
	EXPECT(g.map_max == map_max && g.map_max >= g.map_sectors);
	EXPECT(g.map_sectors == (n + 61) / 62);
	EXPECT(g.meta_sectors == VMEM_MAP_START + g.map_sectors);
	EXPECT(g.copy_b == copy_b);
	EXPECT(g.data_start == start);
	/* The placement: A, B, data, in that order, apart */
	EXPECT(VMEM_MAP_START + g.map_max <= g.copy_b);
	EXPECT(g.copy_b >= VMEM_COPY_B_MIN && !(g.copy_b & (g.copy_b - 1)));
	EXPECT(g.copy_b + VMEM_MAP_START + g.map_max <=
	       g.data_start * VMEM_SECTORS_PER_PAGE);
	EXPECT(g.data_start % VMEM_DATA_ALIGN_PAGES == 0);
	EXPECT(g.data_start + n * bp <= pages);
	/* A small pool keeps version 1's data start */
	if (extent <= 1024)
		EXPECT(g.data_start == 16);
	geom_roundtrip(&g, dev_bytes);
}

static void geom_one(u64 dev_bytes, u32 bp)
{
	geom_one_v1(dev_bytes, bp);
	geom_one_v2(dev_bytes, bp, 0);
	geom_one_v2(dev_bytes, bp, dev_bytes);
	geom_one_v2(dev_bytes, bp, dev_bytes * 16 > dev_bytes ?
		    dev_bytes * 16 : ~0ULL);
}

static void codec_geometry_sizes(void)
{
	static const u64 sizes[] = {
		0, 512, 64 << 10, MIB, MIB + (64 << 10) - 1, MIB + (64 << 10),
		2 * MIB, 3 * MIB + 12345, 100 * MIB, GIB, 10 * GIB,
		10 * GIB + 511, 1ULL << 40, (1ULL << 40) + 99999,
		16ULL << 40, 1ULL << 50, ~0ULL,
	};
	u64 seed = 0x9e3779b97f4a7c15ULL;
	unsigned int i, k;
	u32 bp;

	for (bp = 1; bp <= VMEM_MAX_BUCKET_PAGES; bp <<= 1) {
		for (i = 0; i < ARRAY_SIZE(sizes); i++)
			geom_one(sizes[i], bp);
		/* Around the map-sector and page-0 boundaries */
		for (k = 1; k < 130; k++) {
			u64 n = k * VMEM_ENTRIES_PER_SECTOR;
			u64 base = (contract_data_start(n) + n * bp) *
				   VMEM_PAGE_SIZE;

			geom_one(base - VMEM_PAGE_SIZE, bp);
			geom_one(base, bp);
			geom_one(base + VMEM_PAGE_SIZE, bp);
			geom_one(base + (u64)bp * VMEM_PAGE_SIZE, bp);
		}
		for (k = 0; k < 200; k++) {
			seed = seed * 6364136223846793005ULL +
			       1442695040888963407ULL;
			geom_one(seed >> (14 + k % 40), bp);
		}
	}
	EXPECT(geom_checked > 5000);
}

static void codec_geometry_limits(void)
{
	struct vmem_geom g, u;
	struct vmem_sb sb;

	/* The largest pool: the bucket count is capped and still fits */
	EXPECT(vmem_geom_layout(~0ULL, 1, 0, 1, &g) == VMEM_OK);
	EXPECT(g.nr_buckets == VMEM_MAX_BUCKETS);
	EXPECT(g.data_start + g.nr_buckets <= ~0ULL >> VMEM_PAGE_SHIFT);
	vmem_sb_init(&sb, &g, ~0ULL >> VMEM_PAGE_SHIFT, uuid_a, 1);
	EXPECT(vmem_sb_validate(&sb, ~0ULL, true) == VMEM_OK);
	EXPECT(vmem_geom_layout(~0ULL, 1, 0, 2, &g) == VMEM_OK);
	EXPECT(g.version == 2 && g.nr_buckets == VMEM_MAX_BUCKETS);
	EXPECT(g.map_max == VMEM_MAX_MAP_SECTORS);
	vmem_sb_init(&sb, &g, ~0ULL >> VMEM_PAGE_SHIFT, uuid_a, 1);
	EXPECT(vmem_sb_validate(&sb, ~0ULL, true) == VMEM_OK);
	EXPECT(vmem_geom_layout(~0ULL, VMEM_MAX_BUCKET_PAGES, 0, 2, &g) ==
	       VMEM_OK);
	EXPECT(g.data_start + g.nr_buckets * VMEM_MAX_BUCKET_PAGES <=
	       ~0ULL >> VMEM_PAGE_SHIFT);
	/* The smallest pool: one bucket after 1 MiB of metadata, both versions */
	EXPECT(vmem_geom_layout(2 * MIB, 16, 0, 2, &g) == VMEM_OK);
	EXPECT(g.nr_buckets == 1 && g.data_start == 16 && g.copy_b == 1024);
	EXPECT(vmem_geom_compute(2 * MIB - 1, 16, &g) == VMEM_F_TOO_SMALL);
	EXPECT(vmem_geom_compute(0, 16, &g) == VMEM_F_TOO_SMALL);
	EXPECT(vmem_geom_layout(2 * MIB, 16, 0, 1, &g) == VMEM_OK);
	EXPECT(g.nr_buckets == 1 && g.data_start == 16);
	/* Version 1: page 0 holds the map of 7316 buckets, not one more */
	EXPECT(vmem_geom_layout((16 + 7316) * 65536ULL, 1, 0, 1, &g) ==
	       VMEM_OK);
	EXPECT(g.nr_buckets == 7316 && g.meta_sectors == 128);
	EXPECT(vmem_geom_layout((16 + 7317) * 65536ULL, 1, 0, 1, &g) ==
	       VMEM_OK);
	EXPECT(g.nr_buckets == 7317 && g.meta_sectors == 129);
	/* Version 2: 62868 buckets of room keep the data at 1 MiB */
	EXPECT(vmem_geom_layout(10 * GIB, 16, 62868 * MIB, 2, &g) == VMEM_OK);
	EXPECT(g.map_max == 1014 && g.copy_b == 1024 && g.data_start == 16);
	EXPECT(vmem_geom_layout(10 * GIB, 16, 62869 * MIB, 2, &g) == VMEM_OK);
	EXPECT(g.map_max == 1015 && g.copy_b == 2048 && g.data_start == 32);
	/* A max size below the device makes the pool that small */
	EXPECT(vmem_geom_layout(10 * GIB, 16, 100 * MIB, 2, &g) == VMEM_OK);
	EXPECT(g.nr_buckets == 100 && g.map_max == 2);
	EXPECT(vmem_geom_layout(10 * GIB, 16, 1, 2, &g) == VMEM_F_TOO_SMALL);
	EXPECT(vmem_geom_layout(10 * GIB, 16, 0, 3, &g) == VMEM_F_VERSION);
	EXPECT(vmem_geom_layout(10 * GIB, 16, 0, 0, &g) == VMEM_F_VERSION);
	/* Upgrade: copy B into version 1's padding, when it fits */
	EXPECT(vmem_geom_layout(10 * GIB, 16, 0, 1, &g) == VMEM_OK);
	EXPECT(vmem_geom_upgrade(&g, &u) == VMEM_OK);
	EXPECT(u.version == 2 && u.copy_b == 1024 && u.map_max == 1014);
	EXPECT(u.nr_buckets == g.nr_buckets && u.data_start == g.data_start);
	vmem_sb_init(&sb, &u, (10 * GIB) >> VMEM_PAGE_SHIFT, uuid_a, 1);
	EXPECT(vmem_sb_validate(&sb, 10 * GIB, true) == VMEM_OK);
	EXPECT(vmem_geom_upgrade(&u, &u) == VMEM_F_VERSION);
	/* 1014 map sectors fit the padding; 1015 do not */
	EXPECT(vmem_geom_layout((16 + 62868) * 65536ULL, 1, 0, 1, &g) ==
	       VMEM_OK);
	EXPECT(g.map_sectors == 1014 && vmem_geom_upgrade(&g, &u) == VMEM_OK);
	EXPECT(u.map_max == 1014);
	EXPECT(vmem_geom_layout((32 + 62869) * 65536ULL, 1, 0, 1, &g) ==
	       VMEM_OK);
	EXPECT(g.map_sectors == 1015 &&
	       vmem_geom_upgrade(&g, &u) == VMEM_F_GEOMETRY);
	EXPECT(vmem_geom_layout(100 * GIB, 1, 0, 1, &g) == VMEM_OK);
	EXPECT(vmem_geom_upgrade(&g, &u) == VMEM_F_GEOMETRY);
	/* Bucket sizes */
	EXPECT(vmem_geom_compute(GIB, 0, &g) == VMEM_F_BUCKET_SIZE);
	EXPECT(vmem_geom_compute(GIB, 3, &g) == VMEM_F_BUCKET_SIZE);
	EXPECT(vmem_geom_compute(GIB, 24, &g) == VMEM_F_BUCKET_SIZE);
	EXPECT(vmem_geom_compute(GIB, 32768, &g) == VMEM_F_BUCKET_SIZE);
	EXPECT(vmem_geom_compute(GIB, 1U << 31, &g) == VMEM_F_BUCKET_SIZE);
	EXPECT(vmem_geom_layout(GIB, 3, 0, 1, &g) == VMEM_F_BUCKET_SIZE);
	EXPECT(vmem_geom_compute(4 * GIB, 16384, &g) == VMEM_OK);
	/* What format lays out */
	EXPECT(vmem_geom_compute(GIB, 16, &g) == VMEM_OK &&
	       g.version == VMEM_VERSION);
}

static void codec_helpers(void)
{
	struct vmem_geom g = { .bucket_pages = 16, .data_start = 32 };

	EXPECT(vmem_is_pow2(1) && vmem_is_pow2(1ULL << 63));
	EXPECT(!vmem_is_pow2(0) && !vmem_is_pow2(6));
	EXPECT(vmem_dev_buckets(0, 16) == 0);
	EXPECT(vmem_dev_buckets(1, 16) == 1);
	EXPECT(vmem_dev_buckets(16, 16) == 1);
	EXPECT(vmem_dev_buckets(17, 16) == 2);
	/* Must not wrap for absurd capacities */
	EXPECT(vmem_dev_buckets(~0ULL, 16) == (~0ULL >> 4) + 1);
	EXPECT(vmem_dev_buckets(~0ULL, 1) == ~0ULL);
	EXPECT(vmem_map_sector_of(0) == VMEM_MAP_START);
	EXPECT(vmem_map_sector_of(61) == VMEM_MAP_START);
	EXPECT(vmem_map_sector_of(62) == VMEM_MAP_START + 1);
	EXPECT(vmem_map_slot_of(63) == 1);
	EXPECT(vmem_devt_sector_of(0) == 1 && vmem_devt_sector_of(30) == 1);
	EXPECT(vmem_devt_sector_of(31) == 2 && vmem_devt_slot_of(31) == 0);
	EXPECT(vmem_devt_sector_of(254) == 9 && vmem_devt_slot_of(254) == 6);
	EXPECT(vmem_bucket_sector(&g, 0) == 32 * 128);
	EXPECT(vmem_bucket_sector(&g, 3) == (32 + 48) * 128);
}

static void codec_fault_strings(void)
{
	unsigned int i, j;

	for (i = 0; i < VMEM_F_NR; i++) {
		const char *s = vmem_fault_str(i);

		EXPECT(s && *s && strcmp(s, "unknown fault"));
		for (j = 0; j < i; j++)
			EXPECT(strcmp(s, vmem_fault_str(j)));
	}
	EXPECT(!strcmp(vmem_fault_str(VMEM_F_NR), "unknown fault"));
	EXPECT(!strcmp(vmem_fault_str((enum vmem_fault)-1), "unknown fault"));
}

/* ---- round trips ---- */

static enum vmem_fault devt_sector_bad(struct img *im, u64 i)
{
	return vmem_blk_validate(img_sector(im, VMEM_DEVT_START + i),
				 VMEM_DEVT_MAGIC, i, 0xa4a3a2a1);
}

static enum vmem_fault map_sector_bad(struct img *im, u64 i)
{
	return vmem_blk_validate(img_sector(im, VMEM_MAP_START + i),
				 VMEM_MAP_MAGIC, i, 0xa4a3a2a1);
}

static void codec_roundtrip(void)
{
	static const u64 sizes[] = { 2 * MIB, 100 * MIB + 4096, 10 * GIB,
				     (16 + 7316) * 65536ULL, 300 * GIB };
	static const u32 bps[] = { 1, 16, 256, 16384 };
	unsigned int i, j, v;
	u64 s;

	for (v = 1; v <= 2; v++)
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		img_version = v;
		for (j = 0; j < ARRAY_SIZE(bps); j++) {
			struct img im;
			struct vmem_sb *sb;

			if (vmem_geom_compute(sizes[i], bps[j], &im.g))
				continue;
			img_new(&im, sizes[i], bps[j]);
			sb = img_sb(&im);
			EXPECT(le64toh(sb->magic) == VMEM_MAGIC);
			EXPECT(le32toh(sb->version) == v);
			EXPECT(le64toh(sb->pool_pages) == sizes[i] >> 16);
			EXPECT(le64toh(sb->format_time) == 1700000000);
			EXPECT(!memcmp(sb->uuid, uuid_a, 16));
			EXPECT(vmem_pool_id(sb) == 0xa4a3a2a1);
			EXPECT(vmem_page0_classify(im.meta, VMEM_SECTOR_SIZE) ==
			       VMEM_PAGE0_VMEM);
			for (s = 0; s < VMEM_DEVT_SECTORS; s++)
				EXPECT(!devt_sector_bad(&im, s));
			for (s = 0; s < im.g.map_sectors; s++)
				EXPECT(!map_sector_bad(&im, s));
			EXPECT(img_check(&im) == 0);
			EXPECT(img_check_rw(&im, false, false) == 0);
			img_free(&im);
		}
	}
	img_version = VMEM_VERSION;
}

/* Devices and buckets decode into the view */
static void codec_view(void)
{
	struct img im;

	img_new(&im, 10 * GIB, 16);
	img_set_dev(&im, 0, 160, 0, VMEM_DEV_EXISTS);
	img_set_dev(&im, 7, 16, 4, VMEM_DEV_EXISTS);
	img_set_dev(&im, 254, 1, 0, VMEM_DEV_EXISTS);
	img_set_map(&im, 0, 1, 9);
	img_set_map(&im, 61, 1, 0);
	img_set_map(&im, 62, 1, 5);
	img_set_map(&im, 5000, 8, 0);
	img_set_map(&im, im.g.nr_buckets - 1, 255, 0);
	EXPECT(img_check(&im) == 0);
	EXPECT(view.used[0] == 3 && view.used[7] == 1 && view.used[254] == 1);
	EXPECT(view.used[1] == 0);
	EXPECT(le64toh(view.devs[0].capacity_pages) == 160);
	EXPECT(le32toh(view.devs[7].budget_buckets) == 4);
	EXPECT(le32toh(view.devs[254].flags) == VMEM_DEV_EXISTS);
	EXPECT(!view.devs[1].flags);
	/* Capacity at the format's limit is valid */
	img_set_dev(&im, 3, VMEM_MAX_VBUCKETS * 16, 0, VMEM_DEV_EXISTS);
	EXPECT(img_check(&im) == 0);
	img_free(&im);
}

/* ---- every fault ---- */

static void sb_bad_magic(struct vmem_sb *sb)
{
	sb->magic ^= htole64(1);
}

static void sb_new_version(struct vmem_sb *sb)
{
	sb->version = htole32(VMEM_VERSION + 1);
}

static void sb_version_zero(struct vmem_sb *sb)
{
	sb->version = 0;
}

static void sb_incompat(struct vmem_sb *sb)
{
	sb->incompat = htole32(1U << 5);
}

static void sb_ro_compat(struct vmem_sb *sb)
{
	sb->ro_compat = htole32(1);
}

static void sb_bucket3(struct vmem_sb *sb)
{
	sb->bucket_pages = htole32(3);
}

static void sb_bucket_big(struct vmem_sb *sb)
{
	sb->bucket_pages = htole32(VMEM_MAX_BUCKET_PAGES * 2);
}

static void sb_no_buckets(struct vmem_sb *sb)
{
	sb->nr_buckets = 0;
}

static void sb_map_sectors(struct vmem_sb *sb)
{
	sb->map_sectors = htole64(le64toh(sb->map_sectors) + 1);
}

static void sb_data_start(struct vmem_sb *sb)
{
	sb->data_start = htole64(le64toh(sb->data_start) + 16);
}

static void sb_pool_pages(struct vmem_sb *sb)
{
	sb->pool_pages = htole64(le64toh(sb->pool_pages) / 2);
}

static void sb_too_many(struct vmem_sb *sb)
{
	sb->nr_buckets = htole64(VMEM_MAX_BUCKETS + 1);
}

static void sb_reserved(struct vmem_sb *sb)
{
	sb->reserved[399] = 1;
}

/* Version 2: copy B's place and the map's room */
static void sb_copy_b_small(struct vmem_sb *sb)
{
	sb->copy_b = htole64(512);
}

static void sb_copy_b_odd(struct vmem_sb *sb)
{
	sb->copy_b = htole64(1024 + 8);
}

static void sb_copy_b_in_data(struct vmem_sb *sb)
{
	sb->copy_b = htole64(4096);
}

static void sb_copy_b_past_end(struct vmem_sb *sb)
{
	sb->copy_b = htole64(le64toh(sb->pool_pages) * 128);
}

static void sb_map_max_small(struct vmem_sb *sb)
{
	sb->map_max = htole64(le64toh(sb->map_sectors) - 1);
}

static void sb_map_max_big(struct vmem_sb *sb)
{
	sb->map_max = htole64(1015);	/* copy A overlaps copy B */
}

static void sb_data_start_v2(struct vmem_sb *sb)
{
	sb->data_start = htole64(8);
}

static void sb_v1_copy_b(struct vmem_sb *sb)
{
	sb->version = htole32(1);
}

static void sb_v1_map_max(struct vmem_sb *sb)
{
	sb->version = htole32(1);
	sb->copy_b = 0;
}

static void codec_fault_superblock(void)
{
	struct img im;

	sb_case(sb_bad_magic, VMEM_F_MAGIC);
	sb_case(sb_new_version, VMEM_F_VERSION);
	sb_case(sb_version_zero, VMEM_F_GEOMETRY);
	sb_case(sb_incompat, VMEM_F_INCOMPAT);
	sb_case(sb_ro_compat, VMEM_F_RO_COMPAT);
	sb_case(sb_bucket3, VMEM_F_BUCKET_SIZE);
	sb_case(sb_bucket_big, VMEM_F_BUCKET_SIZE);
	sb_case(sb_no_buckets, VMEM_F_GEOMETRY);
	sb_case(sb_map_sectors, VMEM_F_GEOMETRY);
	sb_case(sb_data_start, VMEM_F_GEOMETRY);
	sb_case(sb_pool_pages, VMEM_F_GEOMETRY);
	sb_case(sb_too_many, VMEM_F_GEOMETRY);
	sb_case(sb_reserved, VMEM_F_RESERVED);
	sb_case(sb_copy_b_small, VMEM_F_GEOMETRY);
	sb_case(sb_copy_b_odd, VMEM_F_GEOMETRY);
	sb_case(sb_copy_b_in_data, VMEM_F_GEOMETRY);
	sb_case(sb_copy_b_past_end, VMEM_F_GEOMETRY);
	sb_case(sb_map_max_small, VMEM_F_GEOMETRY);
	sb_case(sb_map_max_big, VMEM_F_GEOMETRY);
	sb_case(sb_data_start_v2, VMEM_F_GEOMETRY);
	/* Version 1's superblock had these fields reserved, zero */
	sb_case(sb_v1_copy_b, VMEM_F_RESERVED);
	sb_case(sb_v1_map_max, VMEM_F_RESERVED);

	/* Unknown read-only-compatible features are fine read-only */
	img_new(&im, 10 * GIB, 16);
	sb_ro_compat(img_sb(&im));
	vmem_sb_seal(img_sb(&im));
	EXPECT(img_check_rw(&im, true, false) == 0);
	/* Compatible features may be ignored */
	img_sb(&im)->compat = htole32(0xffffffff);
	vmem_sb_seal(img_sb(&im));
	EXPECT(img_check_rw(&im, true, false) == 0);
	img_free(&im);

	/* A flipped bit without resealing */
	img_new(&im, 10 * GIB, 16);
	im.meta[100] ^= 0x10;
	EXPECT(vmem_sb_validate(img_sb(&im), 0, false) == VMEM_F_CSUM);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_CSUM, "superblock", 0));
	img_free(&im);
}

/* Version 1 superblocks: the faults that exist there */
static void codec_fault_superblock_v1(void)
{
	sb_case(sb_bad_magic, VMEM_F_MAGIC);
	sb_case(sb_new_version, VMEM_F_VERSION);
	sb_case(sb_map_sectors, VMEM_F_GEOMETRY);
	sb_case(sb_data_start, VMEM_F_GEOMETRY);
	sb_case(sb_pool_pages, VMEM_F_GEOMETRY);
	sb_case(sb_reserved, VMEM_F_RESERVED);
	sb_case(sb_copy_b_odd, VMEM_F_RESERVED);
	sb_case(sb_map_max_big, VMEM_F_RESERVED);
}

static void codec_fault_too_small(void)
{
	struct img im;
	u64 need;

	img_new(&im, 10 * GIB + 12345, 16);
	need = (im.g.data_start + im.g.nr_buckets * 16) * VMEM_PAGE_SIZE;
	EXPECT(vmem_sb_validate(img_sb(&im), need, true) == VMEM_OK);
	EXPECT(vmem_sb_validate(img_sb(&im), need - 1, true) ==
	       VMEM_F_TOO_SMALL);
	EXPECT(vmem_sb_validate(img_sb(&im), 512 << 10, false) ==
	       VMEM_F_TOO_SMALL);
	/* A grown device is fine */
	EXPECT(vmem_sb_validate(img_sb(&im), need * 2, true) == VMEM_OK);
	im.dev_bytes = need - VMEM_PAGE_SIZE;
	EXPECT(img_check(&im) == 1 && only(VMEM_F_TOO_SMALL, "superblock", 0));
	img_free(&im);
}

static void codec_fault_devtable(void)
{
	struct img im, other;
	u8 *s;

	/* Checksum: a flipped byte in a record */
	img_new(&im, 10 * GIB, 16);
	img_sector(&im, VMEM_DEVT_START + 2)[300] ^= 4;
	EXPECT(img_check(&im) == 1 && only(VMEM_F_CSUM, "devtable", 2));
	img_free(&im);

	/* Wrong kind: a map sector where a device-table sector belongs */
	img_new(&im, 10 * GIB, 16);
	s = img_sector(&im, VMEM_DEVT_START + 4);
	vmem_blk_seal(s, VMEM_MAP_MAGIC, 4, vmem_pool_id(img_sb(&im)));
	EXPECT(img_check(&im) == 1 && only(VMEM_F_BLK_MAGIC, "devtable", 4));
	img_free(&im);

	/* Wrong place: sector 1 of the table carries index 0 */
	img_new(&im, 10 * GIB, 16);
	memcpy(img_sector(&im, VMEM_DEVT_START + 1),
	       img_sector(&im, VMEM_DEVT_START), VMEM_SECTOR_SIZE);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_BLK_INDEX, "devtable", 1));
	img_free(&im);

	/* Stale: a sector of another pool */
	img_new(&im, 10 * GIB, 16);
	img_new_uuid(&other, 10 * GIB, 16, uuid_b);
	memcpy(img_sector(&im, VMEM_DEVT_START + 8),
	       img_sector(&other, VMEM_DEVT_START + 8), VMEM_SECTOR_SIZE);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_POOL_ID, "devtable", 8));
	img_free(&other);
	img_free(&im);

	/* Slots past device 254 must stay zero */
	img_new(&im, 10 * GIB, 16);
	img_set_dev(&im, 258, 0, 1, 0);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_RESERVED, "device", 258));
	img_free(&im);
}

static void codec_fault_device(void)
{
	struct img im;

	img_new(&im, 10 * GIB, 16);
	img_set_dev(&im, 3, 16, 0, VMEM_DEV_EXISTS | 0x100);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_FLAGS, "device", 3));
	img_set_dev(&im, 3, 16, 0, 0);	/* a free slot with a capacity */
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_FLAGS, "device", 3));
	img_set_dev(&im, 3, 0, 5, 0);	/* a free slot with a budget */
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_FLAGS, "device", 3));
	img_set_dev(&im, 3, 0, 0, VMEM_DEV_DELETING);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_FLAGS, "device", 3));
	img_set_dev(&im, 3, 0, 0, VMEM_DEV_EXISTS);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_SIZE, "device", 3));
	img_set_dev(&im, 3, VMEM_MAX_VBUCKETS * 16 + 1, 0, VMEM_DEV_EXISTS);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_SIZE, "device", 3));
	/* Must not wrap around to a small bucket count */
	img_set_dev(&im, 3, ~0ULL, 0, VMEM_DEV_EXISTS);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_SIZE, "device", 3));
	img_set_dev(&im, 3, ~0ULL - 14, 0, VMEM_DEV_EXISTS);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DEV_SIZE, "device", 3));
	img_set_dev(&im, 3, 16, 0, VMEM_DEV_EXISTS);
	EXPECT(img_check(&im) == 0);
	/* An interrupted delete */
	img_set_dev(&im, 3, 16, 0, VMEM_DEV_EXISTS | VMEM_DEV_DELETING);
	img_set_map(&im, 17, 4, 0);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DELETING, "device", 3));
	EXPECT(view.used[3] == 1);
	img_free(&im);
}

/* VMEM_ENTRY_ZEROED: only on free entries, counted in the view */
static void codec_zeroed_flag(void)
{
	struct vmem_map_sector *ms;
	struct img im;
	u8 *s;

	img_new(&im, 1 * GIB, 16);
	vmem_meta_init(im.meta, &im.g, GIB >> VMEM_PAGE_SHIFT, uuid_a,
		       1700000000, true);
	EXPECT(img_check(&im) == 0);
	EXPECT(view.zeroed == im.g.nr_buckets);
	img_set_dev(&im, 1, 32, 0, VMEM_DEV_EXISTS);
	/* Owned and still marked zeroed: damage */
	img_set_map(&im, 5, 2, 0);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_RESERVED, "bucket", 5));
	s = img_sector(&im, vmem_map_sector_of(5));
	ms = (struct vmem_map_sector *)s;
	ms->entry[vmem_map_slot_of(5)].flags = 0;
	vmem_blk_seal(s, VMEM_MAP_MAGIC, 0, vmem_pool_id(img_sb(&im)));
	EXPECT(img_check(&im) == 0);
	EXPECT(view.zeroed == im.g.nr_buckets - 1 && view.used[1] == 1);
	/* An unknown flag on a free entry: damage */
	ms->entry[vmem_map_slot_of(6)].flags = 2;
	vmem_blk_seal(s, VMEM_MAP_MAGIC, 0, vmem_pool_id(img_sb(&im)));
	EXPECT(img_check(&im) == 1 && only(VMEM_F_RESERVED, "bucket", 6));
	img_free(&im);
}

static void codec_fault_map(void)
{
	struct vmem_map_sector *ms;
	struct img im, other;
	u8 *s;

	img_new(&im, 10 * GIB, 16);
	img_set_dev(&im, 1, 32, 0, VMEM_DEV_EXISTS);	/* 2 buckets */
	img_set_map(&im, 17, 5, 0);	/* device 4 does not exist */
	EXPECT(img_check(&im) == 1 && only(VMEM_F_OWNER, "bucket", 17));
	img_set_map(&im, 17, 2, 2);	/* device 1 has vbuckets 0 and 1 */
	EXPECT(img_check(&im) == 1 && only(VMEM_F_VBUCKET, "bucket", 17));
	img_set_map(&im, 17, 2, 0xffffffff);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_VBUCKET, "bucket", 17));
	img_set_map(&im, 17, 2, 1);
	EXPECT(img_check(&im) == 0);
	img_set_map(&im, 9000, 2, 1);	/* vbucket 1 twice */
	EXPECT(img_check(&im) == 1 && only(VMEM_F_DOUBLE, "device", 1));
	EXPECT(img_check_rw(&im, false, true) == 0);	/* no scratch */
	img_set_map(&im, 9000, 0, 3);	/* free entry with a vbucket */
	EXPECT(img_check(&im) == 1 && only(VMEM_F_RESERVED, "bucket", 9000));
	img_set_map(&im, 9000, 0, 0);
	s = img_sector(&im, vmem_map_sector_of(100));
	ms = (struct vmem_map_sector *)s;
	ms->entry[vmem_map_slot_of(100)].reserved[1] = 1;
	vmem_blk_seal(s, VMEM_MAP_MAGIC, 100 / 62, vmem_pool_id(img_sb(&im)));
	EXPECT(img_check(&im) == 1 && only(VMEM_F_RESERVED, "bucket", 100));
	img_free(&im);

	/* Entries past the last bucket, in the last map sector, stay zero */
	img_new(&im, 10 * GIB, 16);
	EXPECT(im.g.nr_buckets % VMEM_ENTRIES_PER_SECTOR != 0);
	img_set_map(&im, im.g.nr_buckets + 1, 1, 0);
	EXPECT(img_check(&im) == 1 &&
	       only(VMEM_F_RESERVED, "bucket", im.g.nr_buckets + 1));
	/* Damage there without a reseal is one checksum fault, not two */
	img_sector(&im, VMEM_MAP_START + im.g.map_sectors - 1)[500] ^= 1;
	EXPECT(img_check(&im) == 1 &&
	       only(VMEM_F_CSUM, "mapsector", im.g.map_sectors - 1));
	img_free(&im);

	/* Map sector faults: checksum, kind, place, pool */
	img_new(&im, 10 * GIB, 16);
	img_set_dev(&im, 0, 1600, 0, VMEM_DEV_EXISTS);
	img_set_map(&im, 5 * 62 + 3, 1, 0);
	img_sector(&im, VMEM_MAP_START + 5)[200] ^= 0x80;
	EXPECT(img_check(&im) == 1 && only(VMEM_F_CSUM, "mapsector", 5));
	EXPECT(view.used[0] == 0);	/* its entries are not trusted */
	img_free(&im);

	img_new(&im, 10 * GIB, 16);
	s = img_sector(&im, VMEM_MAP_START + 7);
	vmem_blk_seal(s, VMEM_DEVT_MAGIC, 7, vmem_pool_id(img_sb(&im)));
	EXPECT(img_check(&im) == 1 && only(VMEM_F_BLK_MAGIC, "mapsector", 7));
	memcpy(s, img_sector(&im, VMEM_MAP_START + 6), VMEM_SECTOR_SIZE);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_BLK_INDEX, "mapsector", 7));
	img_new_uuid(&other, 10 * GIB, 16, uuid_b);
	memcpy(s, img_sector(&other, VMEM_MAP_START + 7), VMEM_SECTOR_SIZE);
	EXPECT(img_check(&im) == 1 && only(VMEM_F_POOL_ID, "mapsector", 7));
	img_free(&other);
	img_free(&im);
}

/* A device that failed validation owns nothing */
static void codec_fault_invalid_owner(void)
{
	struct img im;

	img_new(&im, 10 * GIB, 16);
	img_set_dev(&im, 2, 0, 0, VMEM_DEV_EXISTS);
	img_set_map(&im, 40, 3, 0);
	EXPECT(img_check(&im) == 2);
	EXPECT(reported(VMEM_F_DEV_SIZE, "device", 2));
	EXPECT(reported(VMEM_F_OWNER, "bucket", 40));
	img_free(&im);
}

/* All faults are reported, not just the first */
static void codec_fault_many(void)
{
	struct img im;

	img_new(&im, 10 * GIB, 16);
	img_set_dev(&im, 0, 16, 0, VMEM_DEV_EXISTS);
	img_sector(&im, VMEM_DEVT_START + 3)[40] ^= 1;
	img_sector(&im, VMEM_MAP_START + 9)[40] ^= 1;
	img_set_map(&im, 1, 9, 0);
	img_set_map(&im, 2, 1, 7);
	img_set_map(&im, 3, 1, 0);
	img_set_map(&im, 4, 1, 0);
	EXPECT(img_check(&im) == 5);
	EXPECT(reported(VMEM_F_CSUM, "devtable", 3));
	EXPECT(reported(VMEM_F_CSUM, "mapsector", 9));
	EXPECT(reported(VMEM_F_OWNER, "bucket", 1));
	EXPECT(reported(VMEM_F_VBUCKET, "bucket", 2));
	EXPECT(reported(VMEM_F_DOUBLE, "device", 0));
	img_free(&im);
}

/* ---- foreign, random and truncated images ---- */

static u64 rng = 88172645463325252ULL;

static u64 xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void codec_page0_classify(void)
{
	u8 *buf = calloc(1, VMEM_PAGE_SIZE);
	struct img im;
	unsigned int i;

	EXPECT(vmem_page0_classify(buf, VMEM_PAGE_SIZE) == VMEM_PAGE0_EMPTY);
	buf[VMEM_PAGE_SIZE - 1] = 1;
	EXPECT(vmem_page0_classify(buf, VMEM_PAGE_SIZE) == VMEM_PAGE0_FOREIGN);
	EXPECT(vmem_page0_classify(buf, VMEM_SECTOR_SIZE) == VMEM_PAGE0_EMPTY);
	memset(buf, 0, VMEM_PAGE_SIZE);
	buf[1080] = 0x53;	/* ext4 superblock magic */
	buf[1081] = 0xef;
	EXPECT(vmem_page0_classify(buf, VMEM_PAGE_SIZE) == VMEM_PAGE0_FOREIGN);
	EXPECT(vmem_sb_validate((void *)buf, 0, false) == VMEM_F_MAGIC);
	memcpy(buf, "XFSB", 4);
	EXPECT(vmem_page0_classify(buf, VMEM_PAGE_SIZE) == VMEM_PAGE0_FOREIGN);
	img_new(&im, GIB, 16);
	memcpy(buf, im.meta, VMEM_SECTOR_SIZE);
	EXPECT(vmem_page0_classify(buf, VMEM_PAGE_SIZE) == VMEM_PAGE0_VMEM);
	/* The magic alone says vmem, damaged or not */
	for (i = 16; i < VMEM_SECTOR_SIZE; i++)
		buf[i] = xorshift();
	EXPECT(vmem_page0_classify(buf, VMEM_PAGE_SIZE) == VMEM_PAGE0_VMEM);
	EXPECT(vmem_sb_validate((void *)buf, 0, false) == VMEM_F_CSUM);
	img_free(&im);
	free(buf);
}

static void codec_random_images(void)
{
	u8 *buf = malloc(8 * VMEM_SECTOR_SIZE);
	unsigned int i, k;

	for (i = 0; i < 2000; i++) {
		struct vmem_sb *sb = (void *)buf;

		for (k = 0; k < 8 * VMEM_SECTOR_SIZE; k++)
			buf[k] = xorshift();
		EXPECT(vmem_page0_classify(buf, 8 * VMEM_SECTOR_SIZE) ==
		       VMEM_PAGE0_FOREIGN);
		EXPECT(vmem_sb_validate(sb, 0, false) == VMEM_F_MAGIC);
		sb->magic = htole64(VMEM_MAGIC);
		EXPECT(vmem_sb_validate(sb, 0, false) == VMEM_F_CSUM);
		vmem_sb_seal(sb);
		/* Random fields with a valid checksum: still refused */
		EXPECT(vmem_sb_validate(sb, 0, false) != VMEM_OK);
		EXPECT(vmem_blk_validate(buf + VMEM_SECTOR_SIZE,
					 VMEM_MAP_MAGIC, 0, 0) ==
		       VMEM_F_CSUM);
	}
	free(buf);
}

static void codec_all_zero_image(void)
{
	u8 *buf = calloc(1, 64 * VMEM_SECTOR_SIZE);

	EXPECT(vmem_page0_classify(buf, 64 * VMEM_SECTOR_SIZE) ==
	       VMEM_PAGE0_EMPTY);
	EXPECT(vmem_sb_validate((void *)buf, 0, false) == VMEM_F_MAGIC);
	EXPECT(vmem_sb_validate((void *)buf, GIB, true) == VMEM_F_MAGIC);
	nr_reports = 0;
	EXPECT(vmem_meta_check(buf, GIB, true, &view, NULL, collect, NULL,
			       NULL) == 1);
	EXPECT(only(VMEM_F_MAGIC, "superblock", 0));
	/* A zero sector never passes as a table sector */
	EXPECT(vmem_blk_validate(buf, VMEM_DEVT_MAGIC, 0, 0) == VMEM_F_CSUM);
	free(buf);
}

/* CRC-32C one bit at a time: the definition the table code must match */
static u32 crc_bitwise(u32 crc, const u8 *p, size_t len)
{
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1)));
	}
	return crc;
}

/* Random buffers, lengths, alignments, seeds and split points */
static void codec_crc32c_random(void)
{
	u8 *buf = malloc(4096 + 16);
	unsigned int i, k;

	for (i = 0; i < 2000; i++) {
		size_t off = xorshift() % 16;
		size_t len = xorshift() % (i < 100 ? 20 : 4097);
		size_t cut = len ? xorshift() % len : 0;
		u32 seed = i % 2 ? (u32)xorshift() : ~0U;

		for (k = 0; k < 4096 + 16; k++)
			buf[k] = xorshift();
		EXPECT(vmem_crc32c(seed, buf + off, len) ==
		       crc_bitwise(seed, buf + off, len));
		EXPECT(vmem_crc32c(vmem_crc32c(seed, buf + off, cut),
				   buf + off + cut, len - cut) ==
		       crc_bitwise(seed, buf + off, len));
	}
	free(buf);
}

/* Reports seen at each call of the yield callback */
static u64 yield_at[64];
static unsigned int nr_yields;

static void count_yield(void *ctx)
{
	(void)ctx;
	if (nr_yields < ARRAY_SIZE(yield_at))
		yield_at[nr_yields] = nr_reports;
	nr_yields++;
}

/* A yield before every VMEM_CHECK_YIELD_SECTORS map sectors */
static void codec_meta_yield(void)
{
	unsigned int i, want;
	struct img im;
	u64 *keys;
	u64 s;

	/* 64 KiB buckets: 163808 buckets, 2643 map sectors */
	img_new(&im, 10 * GIB, 1);
	want = (im.g.map_sectors + VMEM_CHECK_YIELD_SECTORS - 1) /
	       VMEM_CHECK_YIELD_SECTORS;
	EXPECT(want <= ARRAY_SIZE(yield_at));
	nr_yields = 0;
	EXPECT(vmem_meta_check(im.meta, im.dev_bytes, true, &view, NULL,
			       collect, count_yield, NULL) == 0);
	EXPECT(nr_yields == want);

	/* Every map sector torn: one report each, so yields count sectors */
	for (s = 0; s < im.g.map_sectors; s++)
		img_sector(&im, VMEM_MAP_START + s)[100] ^= 1;
	nr_reports = 0;
	nr_yields = 0;
	EXPECT(vmem_meta_check(im.meta, im.dev_bytes, true, &view, NULL,
			       collect, count_yield, NULL) == im.g.map_sectors);
	EXPECT(nr_yields == want);
	for (i = 0; i < nr_yields && i < ARRAY_SIZE(yield_at); i++)
		EXPECT(yield_at[i] == (u64)i * VMEM_CHECK_YIELD_SECTORS);
	for (s = 0; s < im.g.map_sectors; s++)
		img_sector(&im, VMEM_MAP_START + s)[100] ^= 1;

	/* The duplicate check's sort yields too; the result is the same */
	img_set_dev(&im, 0, 1 << 20, 0, VMEM_DEV_EXISTS);
	for (s = 0; s < im.g.nr_buckets; s += 2)
		img_set_map(&im, s, 1, s / 2);
	keys = calloc(im.g.nr_buckets, sizeof(*keys));
	EXPECT(keys);
	nr_reports = 0;
	nr_yields = 0;
	EXPECT(vmem_meta_check(im.meta, im.dev_bytes, true, &view, keys,
			       collect, count_yield, NULL) == 0);
	EXPECT(nr_yields > want);
	EXPECT(view.used[0] == (im.g.nr_buckets + 1) / 2);
	free(keys);
	img_free(&im);
}

/* Every fault the codec can name was produced by some test above */
static void codec_all_faults_covered(void)
{
	unsigned int f;

	for (f = 1; f < VMEM_F_NR; f++) {
		if (!fault_seen[f])
			fprintf(stderr, "fault never reported: %s\n",
				vmem_fault_str(f));
		EXPECT(fault_seen[f]);
	}
}

int main(void)
{
	RUN(codec_crc32c_vectors);
	RUN(codec_sector_csum);
	RUN(codec_geometry_sizes);
	RUN(codec_geometry_limits);
	RUN(codec_helpers);
	RUN(codec_fault_strings);
	RUN(codec_roundtrip);
	RUN(codec_view);
	RUN(codec_fault_superblock);
	RUN(codec_fault_too_small);
	RUN(codec_fault_devtable);
	RUN(codec_fault_device);
	RUN(codec_fault_map);
	RUN(codec_zeroed_flag);
	RUN(codec_fault_invalid_owner);
	RUN(codec_fault_many);
	/* The same faults in a version 1 image */
	img_version = 1;
	RUN(codec_fault_superblock_v1);
	run_test("codec_fault_devtable_v1", codec_fault_devtable);
	run_test("codec_fault_map_v1", codec_fault_map);
	run_test("codec_fault_many_v1", codec_fault_many);
	img_version = VMEM_VERSION;
	RUN(codec_page0_classify);
	RUN(codec_random_images);
	RUN(codec_all_zero_image);
	RUN(codec_crc32c_random);
	RUN(codec_meta_yield);
	RUN(codec_all_faults_covered);
	return tests_failed ? 1 : 0;
}
