// SPDX-License-Identifier: GPL-2.0
/*
 * vmem on-disk format codec, compiled into both vmem.ko and vmemctl.
 *
 * The layout and its crash-consistency rules are described in
 * include/vmem/format.h; the promises of each function are in
 * include/vmem/meta.h. Nothing here allocates, sleeps or locks; the only
 * calls out are to the callbacks vmem_meta_check() is given.
 */
#ifdef __KERNEL__
#include <linux/crc32.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <asm/byteorder.h>
#else
#include <endian.h>
#include <string.h>
#define cpu_to_le32(x) htole32(x)
#define cpu_to_le64(x) htole64(x)
#define le32_to_cpu(x) le32toh(x)
#define le64_to_cpu(x) le64toh(x)
#endif

#include <vmem/meta.h>

static const char * const vmem_fault_names[VMEM_F_NR] = {
	[VMEM_OK] = "no fault",
	[VMEM_F_MAGIC] = "bad magic: not a vmem pool",
	[VMEM_F_CSUM] = "checksum mismatch",
	[VMEM_F_VERSION] = "layout version newer than this software",
	[VMEM_F_INCOMPAT] = "unknown incompatible feature flag",
	[VMEM_F_RO_COMPAT] = "unknown feature flag, refused read-write",
	[VMEM_F_BUCKET_SIZE] = "bucket size not a power of two from 64K to 1G",
	[VMEM_F_GEOMETRY] = "geometry fields disagree",
	[VMEM_F_TOO_SMALL] = "backing device smaller than the pool",
	[VMEM_F_RESERVED] = "reserved field not zero",
	[VMEM_F_BLK_MAGIC] = "metadata sector of the wrong kind",
	[VMEM_F_BLK_INDEX] = "metadata sector index wrong",
	[VMEM_F_POOL_ID] = "metadata sector from another pool",
	[VMEM_F_DEV_FLAGS] = "device record flags invalid",
	[VMEM_F_DEV_SIZE] = "device capacity zero or too large",
	[VMEM_F_OWNER] = "bucket owned by a device that does not exist",
	[VMEM_F_VBUCKET] = "bucket mapped beyond its device's capacity",
	[VMEM_F_DOUBLE] = "virtual bucket mapped twice",
	[VMEM_F_DELETING] = "device deletion was interrupted",
};

const char *vmem_fault_str(enum vmem_fault f)
{
	if ((unsigned int)f >= VMEM_F_NR)
		return "unknown fault";
	return vmem_fault_names[f];
}

#ifdef __KERNEL__
/*
 * lib/crc32.c's __crc32c_le() is built into every kernel vmem supports
 * (CONFIG_CRC32=y) and is the same function: no pre or post inversion.
 * crc32c() would need libcrc32c, a module that insmod does not load.
 */
u32 vmem_crc32c(u32 crc, const void *buf, size_t len)
{
	return __crc32c_le(crc, buf, len);
}
#else
/* Reflected Castagnoli polynomial */
#define VMEM_CRC32C_POLY 0x82f63b78U

/*
 * Slice-by-8: vmem_crc32c_tab[k][b] is the CRC of byte b followed by k
 * zero bytes, so one step folds in 8 bytes. Filled once before main(),
 * read-only afterwards.
 */
static u32 vmem_crc32c_tab[8][256];

static void __attribute__((constructor)) vmem_crc32c_init(void)
{
	u32 i, k, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (VMEM_CRC32C_POLY & (0U - (c & 1)));
		vmem_crc32c_tab[0][i] = c;
	}
	for (k = 1; k < 8; k++)
		for (i = 0; i < 256; i++) {
			c = vmem_crc32c_tab[k - 1][i];
			vmem_crc32c_tab[k][i] = (c >> 8) ^
				vmem_crc32c_tab[0][c & 0xff];
		}
}

static u32 vmem_get_le32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return le32_to_cpu(v);
}

u32 vmem_crc32c(u32 crc, const void *buf, size_t len)
{
	const u32 (*t)[256] = vmem_crc32c_tab;
	const u8 *p = buf;
	u32 lo, hi;

	for (; len >= 8; len -= 8, p += 8) {
		lo = vmem_get_le32(p) ^ crc;
		hi = vmem_get_le32(p + 4);
		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
		      t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
		      t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		      t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
	}
	while (len--)
		crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
	return crc;
}
#endif

u32 vmem_sector_csum(const void *sector)
{
	return ~vmem_crc32c(~0U, (const u8 *)sector + 4,
			    VMEM_SECTOR_SIZE - 4);
}

static u64 vmem_round_up(u64 x, u64 align)
{
	return (x + align - 1) / align * align;
}

/* Fill the geometry of a version 1 pool of @nr_buckets buckets */
static void vmem_geom_fill(struct vmem_geom *g, u32 bucket_pages,
			   u64 nr_buckets)
{
	u64 meta_pages;

	g->version = 1;
	g->bucket_pages = bucket_pages;
	g->nr_buckets = nr_buckets;
	g->map_sectors = (nr_buckets + VMEM_ENTRIES_PER_SECTOR - 1) /
			 VMEM_ENTRIES_PER_SECTOR;
	g->meta_sectors = VMEM_MAP_START + g->map_sectors;
	g->map_max = g->map_sectors;
	g->copy_b = 0;
	meta_pages = (g->meta_sectors + VMEM_SECTORS_PER_PAGE - 1) /
		     VMEM_SECTORS_PER_PAGE;
	g->data_start = vmem_round_up(meta_pages, VMEM_DATA_ALIGN_PAGES);
}

/* Does a version 1 pool of @n buckets, map included, fit @dev_pages? */
static bool vmem_geom_fits(struct vmem_geom *g, u32 bucket_pages, u64 n,
			   u64 dev_pages)
{
	vmem_geom_fill(g, bucket_pages, n);
	return g->data_start + n * bucket_pages <= dev_pages;
}

static enum vmem_fault vmem_geom_compute_v1(u64 dev_pages, u32 bucket_pages,
					    struct vmem_geom *g)
{
	u64 lo = 0, hi, mid;

	/*
	 * The map grows with the bucket count, so take the largest count
	 * whose map and buckets both fit. Fitting is monotonic in the
	 * count: bisect between 0 and the count that ignores the map
	 * (at most 32 steps).
	 */
	hi = dev_pages / bucket_pages;
	if (hi > VMEM_MAX_BUCKETS)
		hi = VMEM_MAX_BUCKETS;
	if (!vmem_geom_fits(g, bucket_pages, hi, dev_pages)) {
		while (hi - lo > 1) {
			mid = lo + (hi - lo) / 2;
			if (vmem_geom_fits(g, bucket_pages, mid, dev_pages))
				lo = mid;
			else
				hi = mid;
		}
		hi = lo;
	}
	if (!hi)
		return VMEM_F_TOO_SMALL;
	vmem_geom_fill(g, bucket_pages, hi);
	return VMEM_OK;
}

/* The smallest power of two >= @x, for @x <= 2^63 */
static u64 vmem_pow2_ceil(u64 x)
{
	u64 p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* Sectors from copy B's start to the data area's, in version 2 */
#define VMEM_DATA_ALIGN_SECTORS \
	((u64)VMEM_DATA_ALIGN_PAGES * VMEM_SECTORS_PER_PAGE)

/*
 * Version 2: where copy B and the data area go when each copy reserves
 * @map_max map sectors (the placement rule of format.h)
 */
static void vmem_geom_place(struct vmem_geom *g, u64 map_max)
{
	u64 extent = VMEM_MAP_START + map_max;

	g->version = 2;
	g->map_max = map_max;
	g->copy_b = vmem_pow2_ceil(extent);
	if (g->copy_b < VMEM_COPY_B_MIN)
		g->copy_b = VMEM_COPY_B_MIN;
	g->data_start = vmem_round_up(g->copy_b + extent,
				      VMEM_DATA_ALIGN_SECTORS) /
			VMEM_SECTORS_PER_PAGE;
}

/* Fill the map fields of @g for @nr_buckets buckets */
static void vmem_geom_set_buckets(struct vmem_geom *g, u64 nr_buckets)
{
	g->nr_buckets = nr_buckets;
	g->map_sectors = (nr_buckets + VMEM_ENTRIES_PER_SECTOR - 1) /
			 VMEM_ENTRIES_PER_SECTOR;
	g->meta_sectors = VMEM_MAP_START + g->map_sectors;
}

enum vmem_fault vmem_geom_layout(u64 dev_bytes, u32 bucket_pages,
				 u64 max_bytes, u32 version,
				 struct vmem_geom *g)
{
	u64 dev_pages = dev_bytes >> VMEM_PAGE_SHIFT;
	u64 max_pages, max_buckets, n;

	memset(g, 0, sizeof(*g));
	if (!vmem_is_pow2(bucket_pages) || bucket_pages > VMEM_MAX_BUCKET_PAGES)
		return VMEM_F_BUCKET_SIZE;
	if (version == 1)
		return vmem_geom_compute_v1(dev_pages, bucket_pages, g);
	if (version != 2)
		return VMEM_F_VERSION;
	g->bucket_pages = bucket_pages;
	if (max_bytes)
		max_pages = max_bytes >> VMEM_PAGE_SHIFT;
	else if (dev_pages > ~0ULL / VMEM_DEFAULT_GROWTH)
		max_pages = ~0ULL;
	else
		max_pages = dev_pages * VMEM_DEFAULT_GROWTH;
	max_buckets = max_pages / bucket_pages;
	if (max_buckets > VMEM_MAX_BUCKETS)
		max_buckets = VMEM_MAX_BUCKETS;
	if (!max_buckets)
		return VMEM_F_TOO_SMALL;
	vmem_geom_place(g, (max_buckets + VMEM_ENTRIES_PER_SECTOR - 1) /
			VMEM_ENTRIES_PER_SECTOR);
	if (g->data_start >= dev_pages)
		return VMEM_F_TOO_SMALL;
	n = (dev_pages - g->data_start) / bucket_pages;
	if (n > max_buckets)
		n = max_buckets;
	if (!n)
		return VMEM_F_TOO_SMALL;
	vmem_geom_set_buckets(g, n);
	return VMEM_OK;
}

enum vmem_fault vmem_geom_compute(u64 dev_bytes, u32 bucket_pages,
				  struct vmem_geom *g)
{
	return vmem_geom_layout(dev_bytes, bucket_pages, 0, VMEM_VERSION, g);
}

enum vmem_fault vmem_geom_upgrade(const struct vmem_geom *v1,
				  struct vmem_geom *g)
{
	u64 start = v1->data_start * VMEM_SECTORS_PER_PAGE;

	if (v1->version != 1)
		return VMEM_F_VERSION;
	*g = *v1;
	g->version = 2;
	g->copy_b = VMEM_COPY_B_MIN;
	/* Copy A's room ends where copy B starts; copy B's where data does */
	if (start < g->copy_b + VMEM_MAP_START)
		return VMEM_F_GEOMETRY;
	g->map_max = start - g->copy_b - VMEM_MAP_START;
	if (g->map_max > g->copy_b - VMEM_MAP_START)
		g->map_max = g->copy_b - VMEM_MAP_START;
	if (g->map_max < g->map_sectors)
		return VMEM_F_GEOMETRY;
	return VMEM_OK;
}

void vmem_geom_from_sb(const struct vmem_sb *sb, struct vmem_geom *g)
{
	vmem_geom_fill(g, le32_to_cpu(sb->bucket_pages),
		       le64_to_cpu(sb->nr_buckets));
	if (le32_to_cpu(sb->version) < 2)
		return;
	g->version = le32_to_cpu(sb->version);
	g->map_max = le64_to_cpu(sb->map_max);
	g->copy_b = le64_to_cpu(sb->copy_b);
	g->data_start = le64_to_cpu(sb->data_start);
}

static bool vmem_all_zero(const void *buf, size_t len)
{
	const u8 *p = buf;

	while (len--)
		if (*p++)
			return false;
	return true;
}

enum vmem_page0_kind vmem_page0_classify(const void *buf, size_t len)
{
	const struct vmem_sb *sb = buf;

	if (le64_to_cpu(sb->magic) == VMEM_MAGIC)
		return VMEM_PAGE0_VMEM;
	if (vmem_all_zero(buf, len))
		return VMEM_PAGE0_EMPTY;
	return VMEM_PAGE0_FOREIGN;
}

void vmem_sb_seal(struct vmem_sb *sb)
{
	sb->csum = cpu_to_le32(vmem_sector_csum(sb));
}

void vmem_sb_init(struct vmem_sb *sb, const struct vmem_geom *g,
		  u64 pool_pages, const u8 *uuid, u64 now)
{
	memset(sb, 0, sizeof(*sb));
	sb->magic = cpu_to_le64(VMEM_MAGIC);
	sb->version = cpu_to_le32(g->version);
	sb->bucket_pages = cpu_to_le32(g->bucket_pages);
	sb->nr_buckets = cpu_to_le64(g->nr_buckets);
	sb->map_sectors = cpu_to_le64(g->map_sectors);
	sb->data_start = cpu_to_le64(g->data_start);
	sb->pool_pages = cpu_to_le64(pool_pages);
	sb->format_time = cpu_to_le64(now);
	memcpy(sb->uuid, uuid, sizeof(sb->uuid));
	if (g->version >= 2) {
		sb->copy_b = cpu_to_le64(g->copy_b);
		sb->map_max = cpu_to_le64(g->map_max);
	}
	vmem_sb_seal(sb);
}

/* Bounds that keep every sum below in 64 bits */
#define VMEM_MAX_DATA_START	0x1000000000000ULL	/* 2^48 pages */
#define VMEM_MAX_COPY_B		0x80000000000000ULL	/* 2^55 sectors */

/*
 * Version 2 placement: copy A's extent, copy B and the data area do not
 * overlap, and all of them end inside the pool
 */
static enum vmem_fault vmem_sb_validate_v2(const struct vmem_sb *sb,
					   const struct vmem_geom *g)
{
	u64 extent = VMEM_MAP_START + g->map_max;
	u64 start = g->data_start * VMEM_SECTORS_PER_PAGE;
	u64 data_end = g->data_start + g->nr_buckets * g->bucket_pages;
	u64 pool_pages = le64_to_cpu(sb->pool_pages);

	if (g->map_max < g->map_sectors || g->map_max > VMEM_MAX_MAP_SECTORS ||
	    g->copy_b < VMEM_COPY_B_MIN || g->copy_b > VMEM_MAX_COPY_B ||
	    g->copy_b % VMEM_COPY_B_MIN || g->copy_b < extent ||
	    g->data_start > VMEM_MAX_DATA_START ||
	    g->data_start % VMEM_DATA_ALIGN_PAGES || start < extent)
		return VMEM_F_GEOMETRY;
	/*
	 * Copy B before the data area: the probe for it (vmem_sb_choose())
	 * trusts that no device's data lies before it
	 */
	if (g->copy_b + extent > start)
		return VMEM_F_GEOMETRY;
	if (data_end > pool_pages ||
	    pool_pages < (g->copy_b + extent + VMEM_SECTORS_PER_PAGE - 1) /
	    VMEM_SECTORS_PER_PAGE)
		return VMEM_F_GEOMETRY;
	return VMEM_OK;
}

/* Pages from 0 to the end of the last thing the pool holds */
static u64 vmem_geom_end_pages(const struct vmem_geom *g)
{
	u64 end = g->data_start + g->nr_buckets * g->bucket_pages;
	u64 b_end = (g->copy_b + VMEM_MAP_START + g->map_max +
		     VMEM_SECTORS_PER_PAGE - 1) / VMEM_SECTORS_PER_PAGE;

	return g->copy_b && b_end > end ? b_end : end;
}

enum vmem_fault vmem_sb_validate(const struct vmem_sb *sb, u64 dev_bytes,
				 bool rw)
{
	u32 bucket_pages = le32_to_cpu(sb->bucket_pages);
	u64 nr_buckets = le64_to_cpu(sb->nr_buckets);
	u32 version = le32_to_cpu(sb->version);
	struct vmem_geom g;
	enum vmem_fault f;

	if (le64_to_cpu(sb->magic) != VMEM_MAGIC)
		return VMEM_F_MAGIC;
	if (le32_to_cpu(sb->csum) != vmem_sector_csum(sb))
		return VMEM_F_CSUM;
	if (version > VMEM_VERSION)
		return VMEM_F_VERSION;
	if (version < VMEM_VERSION_MIN)
		return VMEM_F_GEOMETRY;
	if (le32_to_cpu(sb->incompat) & ~VMEM_INCOMPAT_SUPPORTED)
		return VMEM_F_INCOMPAT;
	if (rw && (le32_to_cpu(sb->ro_compat) & ~VMEM_RO_COMPAT_SUPPORTED))
		return VMEM_F_RO_COMPAT;
	if (!vmem_is_pow2(bucket_pages) || bucket_pages > VMEM_MAX_BUCKET_PAGES)
		return VMEM_F_BUCKET_SIZE;
	if (!nr_buckets || nr_buckets > VMEM_MAX_BUCKETS)
		return VMEM_F_GEOMETRY;
	vmem_geom_from_sb(sb, &g);
	if (le64_to_cpu(sb->map_sectors) != g.map_sectors)
		return VMEM_F_GEOMETRY;
	if (version == 1) {
		/* Version 1 has no copy B: its fields were reserved, zero */
		if (le64_to_cpu(sb->data_start) != g.data_start ||
		    g.data_start + nr_buckets * bucket_pages >
		    le64_to_cpu(sb->pool_pages))
			return VMEM_F_GEOMETRY;
		if (sb->copy_b || sb->map_max)
			return VMEM_F_RESERVED;
	} else {
		f = vmem_sb_validate_v2(sb, &g);
		if (f)
			return f;
	}
	if (!vmem_all_zero(sb->reserved, sizeof(sb->reserved)))
		return VMEM_F_RESERVED;
	if (dev_bytes && vmem_geom_end_pages(&g) > dev_bytes >> VMEM_PAGE_SHIFT)
		return VMEM_F_TOO_SMALL;
	return VMEM_OK;
}

u32 vmem_pool_id(const struct vmem_sb *sb)
{
	return (u32)sb->uuid[0] | (u32)sb->uuid[1] << 8 |
	       (u32)sb->uuid[2] << 16 | (u32)sb->uuid[3] << 24;
}

void vmem_blk_seal(void *sector, u32 magic, u32 index, u32 pool_id)
{
	struct vmem_blk_hdr *h = sector;

	h->magic = cpu_to_le32(magic);
	h->index = cpu_to_le32(index);
	h->pool_id = cpu_to_le32(pool_id);
	h->csum = cpu_to_le32(vmem_sector_csum(sector));
}

enum vmem_fault vmem_blk_validate(const void *sector, u32 magic, u32 index,
				  u32 pool_id)
{
	const struct vmem_blk_hdr *h = sector;

	if (le32_to_cpu(h->csum) != vmem_sector_csum(sector))
		return VMEM_F_CSUM;
	if (le32_to_cpu(h->magic) != magic)
		return VMEM_F_BLK_MAGIC;
	if (le32_to_cpu(h->index) != index)
		return VMEM_F_BLK_INDEX;
	if (le32_to_cpu(h->pool_id) != pool_id)
		return VMEM_F_POOL_ID;
	return VMEM_OK;
}

enum vmem_fault vmem_dev_validate(const struct vmem_dev_rec *r,
				  u32 bucket_pages)
{
	u32 flags = le32_to_cpu(r->flags);
	u64 cap = le64_to_cpu(r->capacity_pages);

	if (flags & ~VMEM_DEV_FLAGS_KNOWN)
		return VMEM_F_DEV_FLAGS;
	if (!(flags & VMEM_DEV_EXISTS)) {
		if (flags || cap || r->budget_buckets)
			return VMEM_F_DEV_FLAGS;
		return VMEM_OK;
	}
	if (!cap || vmem_dev_buckets(cap, bucket_pages) > VMEM_MAX_VBUCKETS)
		return VMEM_F_DEV_SIZE;
	return VMEM_OK;
}

enum vmem_fault vmem_entry_validate(const struct vmem_map_entry *e,
				    const struct vmem_dev_rec *devs,
				    u32 bucket_pages)
{
	const struct vmem_dev_rec *r;

	if (e->reserved[0] || e->reserved[1])
		return VMEM_F_RESERVED;
	if (e->owner == VMEM_OWNER_FREE)
		return e->vbucket || (e->flags & ~VMEM_ENTRY_FLAGS_KNOWN) ?
		       VMEM_F_RESERVED : VMEM_OK;
	if (e->flags)
		return VMEM_F_RESERVED;
	r = &devs[e->owner - 1];
	if (!(le32_to_cpu(r->flags) & VMEM_DEV_EXISTS))
		return VMEM_F_OWNER;
	if (le32_to_cpu(e->vbucket) >=
	    vmem_dev_buckets(le64_to_cpu(r->capacity_pages), bucket_pages))
		return VMEM_F_VBUCKET;
	return VMEM_OK;
}

/* In-place heapsort: the kernel and libc sorts differ, this one does not */
static void vmem_sift_down(u64 *a, u64 root, u64 n)
{
	u64 child, tmp;

	while ((child = 2 * root + 1) < n) {
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[root] >= a[child])
			return;
		tmp = a[root];
		a[root] = a[child];
		a[child] = tmp;
		root = child;
	}
}

/* Keys sorted between two calls to the yield callback */
#define VMEM_CHECK_YIELD_KEYS \
	(VMEM_CHECK_YIELD_SECTORS * VMEM_ENTRIES_PER_SECTOR)

static void vmem_heapsort(u64 *a, u64 n, vmem_yield_fn yield, void *ctx)
{
	u64 i, tmp;

	for (i = n / 2; i-- > 0;) {
		if (yield && !(i % VMEM_CHECK_YIELD_KEYS))
			yield(ctx);
		vmem_sift_down(a, i, n);
	}
	for (i = n; i-- > 1;) {
		if (yield && !(i % VMEM_CHECK_YIELD_KEYS))
			yield(ctx);
		tmp = a[0];
		a[0] = a[i];
		a[i] = tmp;
		vmem_sift_down(a, 0, i);
	}
}

static const u8 *vmem_meta_sector(const void *meta, u64 sector)
{
	return (const u8 *)meta + sector * VMEM_SECTOR_SIZE;
}

u64 vmem_meta_check(const void *meta, u64 dev_bytes, bool rw,
		    struct vmem_meta_view *view, u64 *scratch,
		    vmem_report_fn report, vmem_yield_fn yield, void *ctx)
{
	const struct vmem_sb *sb = meta;
	struct vmem_dev_rec *devs = view->devs;
	u64 *used = view->used;
	u64 faults = 0, nkeys = 0, b, i;
	struct vmem_geom g;
	enum vmem_fault f;
	u32 pool_id, id;

	f = vmem_sb_validate(sb, dev_bytes, rw);
	if (f) {
		report(ctx, f, "superblock", 0);
		return 1;
	}
	vmem_geom_from_sb(sb, &g);
	pool_id = vmem_pool_id(sb);

	memset(view, 0, sizeof(*view));
	for (i = 0; i < VMEM_DEVT_SECTORS; i++) {
		const struct vmem_devt_sector *s =
			(const void *)vmem_meta_sector(meta, VMEM_DEVT_START + i);

		f = vmem_blk_validate(s, VMEM_DEVT_MAGIC, i, pool_id);
		if (f) {
			report(ctx, f, "devtable", i);
			faults++;
			continue;
		}
		for (id = 0; id < VMEM_DEVS_PER_SECTOR; id++) {
			u64 n = i * VMEM_DEVS_PER_SECTOR + id;
			const struct vmem_dev_rec *r = &s->dev[id];

			if (n >= VMEM_MAX_DEVICES) {
				if (r->capacity_pages || r->budget_buckets ||
				    r->flags) {
					report(ctx, VMEM_F_RESERVED, "device", n);
					faults++;
				}
				continue;
			}
			f = vmem_dev_validate(r, g.bucket_pages);
			if (f) {
				report(ctx, f, "device", n);
				faults++;
				continue;
			}
			devs[n] = *r;
			if (le32_to_cpu(r->flags) & VMEM_DEV_DELETING) {
				report(ctx, VMEM_F_DELETING, "device", n);
				faults++;
			}
		}
	}

	for (b = 0; b < g.nr_buckets; b++) {
		const struct vmem_map_sector *s;
		const struct vmem_map_entry *e;

		s = (const void *)vmem_meta_sector(meta, vmem_map_sector_of(b));
		if (vmem_map_slot_of(b) == 0) {
			if (yield && !((b / VMEM_ENTRIES_PER_SECTOR) %
				       VMEM_CHECK_YIELD_SECTORS))
				yield(ctx);
			f = vmem_blk_validate(s, VMEM_MAP_MAGIC,
					      b / VMEM_ENTRIES_PER_SECTOR,
					      pool_id);
			if (f) {
				report(ctx, f, "mapsector",
				       b / VMEM_ENTRIES_PER_SECTOR);
				faults++;
				b += VMEM_ENTRIES_PER_SECTOR - 1;
				continue;
			}
		}
		e = &s->entry[vmem_map_slot_of(b)];
		f = vmem_entry_validate(e, devs, g.bucket_pages);
		if (f) {
			report(ctx, f, "bucket", b);
			faults++;
			continue;
		}
		if (e->owner == VMEM_OWNER_FREE) {
			if (e->flags & VMEM_ENTRY_ZEROED)
				view->zeroed++;
			continue;
		}
		used[e->owner - 1]++;
		if (scratch)
			scratch[nkeys++] = (u64)(e->owner - 1) << 32 |
					   le32_to_cpu(e->vbucket);
	}
	/*
	 * Unused entries past nr_buckets in the last map sector stay zero
	 * (a sector that failed validation above is reported once only)
	 */
	for (b = g.nr_buckets; b % VMEM_ENTRIES_PER_SECTOR; b++) {
		const struct vmem_map_sector *s;

		s = (const void *)vmem_meta_sector(meta, vmem_map_sector_of(b));
		if (b == g.nr_buckets &&
		    vmem_blk_validate(s, VMEM_MAP_MAGIC,
				      b / VMEM_ENTRIES_PER_SECTOR, pool_id))
			break;
		if (!vmem_all_zero(&s->entry[vmem_map_slot_of(b)],
				   sizeof(struct vmem_map_entry))) {
			report(ctx, VMEM_F_RESERVED, "bucket", b);
			faults++;
		}
	}

	if (scratch && nkeys) {
		vmem_heapsort(scratch, nkeys, yield, ctx);
		for (i = 1; i < nkeys; i++) {
			if (yield && !(i % VMEM_CHECK_YIELD_KEYS))
				yield(ctx);
			if (scratch[i] == scratch[i - 1]) {
				report(ctx, VMEM_F_DOUBLE, "device",
				       scratch[i] >> 32);
				faults++;
			}
		}
	}
	return faults;
}

void vmem_meta_init(void *meta, const struct vmem_geom *g, u64 pool_pages,
		    const u8 *uuid, u64 now, bool zeroed)
{
	struct vmem_sb *sb = meta;
	struct vmem_map_sector *s;
	u32 pool_id;
	u64 i;

	memset(meta, 0, g->meta_sectors * VMEM_SECTOR_SIZE);
	vmem_sb_init(sb, g, pool_pages, uuid, now);
	pool_id = vmem_pool_id(sb);
	for (i = 0; i < VMEM_DEVT_SECTORS; i++)
		vmem_blk_seal((u8 *)meta + (VMEM_DEVT_START + i) *
			      VMEM_SECTOR_SIZE, VMEM_DEVT_MAGIC, i, pool_id);
	for (i = 0; zeroed && i < g->nr_buckets; i++) {
		s = (void *)((u8 *)meta + vmem_map_sector_of(i) *
			     VMEM_SECTOR_SIZE);
		s->entry[vmem_map_slot_of(i)].flags = VMEM_ENTRY_ZEROED;
	}
	for (i = 0; i < g->map_sectors; i++)
		vmem_blk_seal((u8 *)meta + (VMEM_MAP_START + i) *
			      VMEM_SECTOR_SIZE, VMEM_MAP_MAGIC, i, pool_id);
}

const char *vmem_sector_kind(u64 sector, u64 *index)
{
	if (sector == 0) {
		*index = 0;
		return "superblock";
	}
	if (sector < VMEM_MAP_START) {
		*index = sector - VMEM_DEVT_START;
		return "devtable";
	}
	*index = sector - VMEM_MAP_START;
	return "mapsector";
}

enum vmem_fault vmem_meta_sector_validate(const void *buf, u64 sector,
					  const struct vmem_geom *g,
					  u32 pool_id, u64 dev_bytes)
{
	const struct vmem_sb *sb = buf;
	struct vmem_geom sg;
	enum vmem_fault f;

	if (sector >= VMEM_MAP_START)
		return vmem_blk_validate(buf, VMEM_MAP_MAGIC,
					 sector - VMEM_MAP_START, pool_id);
	if (sector >= VMEM_DEVT_START)
		return vmem_blk_validate(buf, VMEM_DEVT_MAGIC,
					 sector - VMEM_DEVT_START, pool_id);
	f = vmem_sb_validate(sb, dev_bytes, false);
	if (f)
		return f;
	/* A valid superblock of another pool, or of another layout */
	if (vmem_pool_id(sb) != pool_id)
		return VMEM_F_POOL_ID;
	vmem_geom_from_sb(sb, &sg);
	if (sg.version != g->version || sg.copy_b != g->copy_b ||
	    sg.bucket_pages != g->bucket_pages ||
	    sg.data_start != g->data_start)
		return VMEM_F_GEOMETRY;
	return VMEM_OK;
}

enum vmem_copies vmem_copies_pick(const void *a, const void *b, u64 sector,
				  const struct vmem_geom *g, u32 pool_id,
				  u64 dev_bytes, enum vmem_fault *fa,
				  enum vmem_fault *fb)
{
	*fa = vmem_meta_sector_validate(a, sector, g, pool_id, dev_bytes);
	*fb = vmem_meta_sector_validate(b, sector, g, pool_id, dev_bytes);
	if (*fa)
		return *fb ? VMEM_COPIES_BOTH_BAD : VMEM_COPIES_A_BAD;
	if (*fb)
		return VMEM_COPIES_B_BAD;
	/* Both valid: by the copy rule copy A is the newer one */
	return memcmp(a, b, VMEM_SECTOR_SIZE) ? VMEM_COPIES_B_OLD :
	       VMEM_COPIES_SAME;
}

u64 vmem_copies_merge(void *a, const void *b, u64 first, u64 n,
		      const struct vmem_geom *g, u32 pool_id, u64 dev_bytes,
		      vmem_copy_fn fn, void *ctx)
{
	enum vmem_fault fa, fb;
	enum vmem_copies c;
	u64 i, lost = 0;

	for (i = 0; i < n; i++) {
		u8 *sa = (u8 *)a + i * VMEM_SECTOR_SIZE;
		const u8 *sb = (const u8 *)b + i * VMEM_SECTOR_SIZE;

		/* The common case: both the same; one checksum tells */
		if (!memcmp(sa, sb, VMEM_SECTOR_SIZE) &&
		    !vmem_meta_sector_validate(sa, first + i, g, pool_id,
					       dev_bytes))
			continue;
		c = vmem_copies_pick(sa, sb, first + i, g, pool_id, dev_bytes,
				     &fa, &fb);
		if (c == VMEM_COPIES_A_BAD)
			memcpy(sa, sb, VMEM_SECTOR_SIZE);
		else if (c == VMEM_COPIES_BOTH_BAD)
			lost++;
		if (fn && c != VMEM_COPIES_SAME)
			fn(ctx, first + i, c, fa, fb);
	}
	return lost;
}

bool vmem_sb_is_copy_b(const struct vmem_sb *sb, u64 sector, u64 dev_bytes,
		       const struct vmem_sb *sb_a)
{
	if (vmem_sb_validate(sb, dev_bytes, false) ||
	    le32_to_cpu(sb->version) < 2 || le64_to_cpu(sb->copy_b) != sector)
		return false;
	/* A damaged superblock A names its pool by its magic, or its uuid */
	if (sb_a && le64_to_cpu(sb_a->magic) != VMEM_MAGIC &&
	    memcmp(sb_a->uuid, sb->uuid, sizeof(sb->uuid)))
		return false;
	return true;
}

/*
 * Does copy A's table disown @pool_id? Its sectors 1..10 (the device
 * table and the first map sector) are metadata no device can write, so a
 * superblock forged by a device's data cannot pass. Reads into @buf.
 * Return: true when one of them can be read and none is valid for
 * @pool_id; false when one is, or none can be read.
 */
static bool vmem_sb_disowned(u32 pool_id, vmem_read_fn read, void *ctx,
			     void *buf)
{
	bool readable = false;
	u64 s;

	for (s = VMEM_DEVT_START; s <= VMEM_MAP_START; s++) {
		bool devt = s < VMEM_MAP_START;

		if (read(ctx, s, buf))
			continue;
		readable = true;
		if (!vmem_blk_validate(buf, devt ? VMEM_DEVT_MAGIC :
				       VMEM_MAP_MAGIC, devt ?
				       s - VMEM_DEVT_START : 0, pool_id))
			return false;
	}
	return readable;
}

/*
 * Can the probe for copy B go on past @buf, read at a probe place that
 * is not copy B's? Only when it is what copy A's extent holds: zeros (its
 * map's room, format's padding) or one of its device-table or map
 * sectors (damaged ones too: the magic is enough). Anything else is a
 * device's data, where the probe must not look.
 */
static bool vmem_probe_passable(const void *buf)
{
	const struct vmem_blk_hdr *h = buf;
	const u8 *p = buf;
	unsigned int i;

	if (le32_to_cpu(h->magic) == VMEM_MAP_MAGIC ||
	    le32_to_cpu(h->magic) == VMEM_DEVT_MAGIC)
		return true;
	for (i = 0; i < VMEM_SECTOR_SIZE; i++)
		if (p[i])
			return false;
	return true;
}

enum vmem_fault vmem_sb_choose(const struct vmem_sb *sb_a, u64 dev_bytes,
			       bool rw, vmem_read_fn read, void *ctx,
			       struct vmem_sb *sb, u64 *at)
{
	u64 sectors = dev_bytes / VMEM_SECTOR_SIZE, below = sectors, s;
	enum vmem_fault f = VMEM_F_CSUM;
	u64 only = 0;
	unsigned int k;

	*at = 0;
	if (sb_a) {
		f = vmem_sb_validate(sb_a, dev_bytes, rw);
		if (!f) {
			memcpy(sb, sb_a, sizeof(*sb));
			return VMEM_OK;
		}
		if (f != VMEM_F_CSUM && f != VMEM_F_MAGIC)
			return f;
	}
	/*
	 * A superblock A with its magic is torn or decayed, not replaced:
	 * what format set and upgrade and grow write the same (copy_b,
	 * data_start) still holds, but for one damaged field. Copy B is at
	 * copy_b, and only there, when that is a probe place; otherwise
	 * (version 1, which has none unless a torn upgrade wrote one below
	 * its data; or copy_b damaged) no probe place from data_start on is
	 * read: a device's data is there.
	 */
	if (sb_a && le64_to_cpu(sb_a->magic) == VMEM_MAGIC) {
		only = le64_to_cpu(sb_a->copy_b);
		if (!vmem_is_copy_b_probe(only))
			only = 0;
		below = le64_to_cpu(sb_a->data_start);
		below = !only && below < sectors / VMEM_SECTORS_PER_PAGE ?
			below * VMEM_SECTORS_PER_PAGE : sectors;
	}
	/*
	 * Copy B's, whose uuid sector 0 still carries if it can be read.
	 * Every probe place before copy B's is copy A's metadata or zeroed
	 * by format, and the devices' data starts after copy B: so the probe
	 * ends at the first superblock found, valid or not, at a place that
	 * cannot be read or holds neither zeros nor metadata (data), and
	 * copy A's table must not disown what it found.
	 */
	for (k = 0; (s = vmem_copy_b_probe(k)) && s < below; k++) {
		if (only && s != only)
			continue;
		if (read(ctx, s, sb))
			break;
		if (!vmem_sb_is_copy_b(sb, s, dev_bytes, sb_a)) {
			if (only || le64_to_cpu(sb->magic) == VMEM_MAGIC ||
			    !vmem_probe_passable(sb))
				break;
			continue;
		}
		*at = s;
		if (vmem_sb_disowned(vmem_pool_id(sb), read, ctx, sb) ||
		    read(ctx, s, sb))
			return VMEM_F_POOL_ID;
		/* Copy B's, for instance with a feature refused read-write */
		return vmem_sb_validate(sb, dev_bytes, rw);
	}
	return f;
}

enum vmem_fault vmem_geom_grow(const struct vmem_geom *g, u64 new_bytes,
			       struct vmem_geom *out)
{
	u64 pages = new_bytes >> VMEM_PAGE_SHIFT, n, max;

	*out = *g;
	if (g->version < 2)
		return VMEM_F_VERSION;
	if (g->copy_b >= g->data_start * VMEM_SECTORS_PER_PAGE)
		return VMEM_F_GEOMETRY;
	if (pages < g->data_start + g->nr_buckets * g->bucket_pages)
		return VMEM_F_TOO_SMALL;
	n = (pages - g->data_start) / g->bucket_pages;
	max = g->map_max * VMEM_ENTRIES_PER_SECTOR;
	if (max > VMEM_MAX_BUCKETS)
		max = VMEM_MAX_BUCKETS;
	if (n > max)
		n = max;
	if (n > g->nr_buckets)
		vmem_geom_set_buckets(out, n);
	return VMEM_OK;
}

void vmem_meta_grow(void *meta, const struct vmem_geom *old,
		    const struct vmem_geom *new, u64 pool_pages)
{
	struct vmem_sb *sb = meta;
	u32 pool_id = vmem_pool_id(sb);
	u64 s;

	for (s = old->meta_sectors; s < new->meta_sectors; s++) {
		memset((u8 *)meta + s * VMEM_SECTOR_SIZE, 0, VMEM_SECTOR_SIZE);
		vmem_blk_seal((u8 *)meta + s * VMEM_SECTOR_SIZE,
			      VMEM_MAP_MAGIC, s - VMEM_MAP_START, pool_id);
	}
	sb->nr_buckets = cpu_to_le64(new->nr_buckets);
	sb->map_sectors = cpu_to_le64(new->map_sectors);
	sb->pool_pages = cpu_to_le64(pool_pages);
	vmem_sb_seal(sb);
}
