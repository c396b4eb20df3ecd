// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target over the metadata parser of lib/vmem_format.c.
 *
 * The input is a metadata area (sector 0 onwards), zero-padded or cut to
 * FUZZ_MAX bytes. It goes through vmem_page0_classify() and
 * vmem_sb_validate() with three device sizes (none, the size the
 * superblock claims, the input's length); when the superblock validates
 * and its metadata fits the buffer, vmem_meta_check() runs over a copy of
 * exactly meta_sectors sectors, so ASan catches any read past them.
 * Every report and the decoded view are checked for sanity.
 *
 * An input of odd length is resealed first: every sector it covers gets
 * a valid checksum, so the fuzzer gets past the CRCs to the rules behind
 * them. The last bytes of the input also pick a device size and bucket size
 * for vmem_geom_layout(), whose layout must hold, and whose freshly
 * built pool must check clean (a round trip).
 *
 * Layout version 2: when the superblock is of version 2 and its metadata
 * fits half the buffer, the first half is copy A and the second copy B:
 * vmem_copies_merge() applies the reading rule, every sector of the
 * result must then be valid or counted lost, and the result goes through
 * vmem_meta_check(). vmem_sb_choose() runs over the input as a device
 * (probes read the input wrapped around), and vmem_geom_layout() of both
 * versions, with the tail's device and max sizes, must give layouts that
 * hold and superblocks that validate; vmem_geom_upgrade() of a version 1
 * layout must give a valid version 2 one.
 *
 * Any broken promise calls abort(), which libFuzzer reports as a crash.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <vmem/meta.h>

#define FUZZ_MAX	(128 * 1024)
#define FUZZ_SECTORS	(FUZZ_MAX / VMEM_SECTOR_SIZE)

static u8 page[FUZZ_MAX];
static struct vmem_meta_view view;

struct fuzz_ctx {
	const struct vmem_geom *g;
	u64 reports;
	u64 yields;
};

static void must(bool ok)
{
	if (!ok)
		abort();
}

/* Every report names a real fault and a place inside the pool */
static void fuzz_report(void *ctx, enum vmem_fault f, const char *what,
			u64 index)
{
	struct fuzz_ctx *c = ctx;

	c->reports++;
	must(f > VMEM_OK && f < VMEM_F_NR);
	must(what);
	if (!strcmp(what, "superblock"))
		must(index == 0);
	else if (!strcmp(what, "devtable"))
		must(index < VMEM_DEVT_SECTORS);
	else if (!strcmp(what, "mapsector"))
		must(index < c->g->map_sectors);
	else if (!strcmp(what, "device"))
		must(index < VMEM_DEVT_SECTORS * VMEM_DEVS_PER_SECTOR);
	else if (!strcmp(what, "bucket"))
		must(index < c->g->map_sectors * VMEM_ENTRIES_PER_SECTOR);
	else
		must(false);
}

static void fuzz_yield(void *ctx)
{
	struct fuzz_ctx *c = ctx;

	c->yields++;
}

/* Check a metadata area whose superblock validated */
static u64 fuzz_check(const u8 *src, u64 dev_bytes, bool rw, bool dups)
{
	const struct vmem_sb *sb = (const void *)src;
	struct fuzz_ctx c = { 0 };
	struct vmem_geom g;
	u64 *scratch = NULL;
	u64 faults, used = 0;
	u8 *meta;
	u32 id;

	vmem_geom_from_sb(sb, &g);
	must(g.nr_buckets >= 1);
	must(g.meta_sectors == VMEM_MAP_START + g.map_sectors);
	must(g.meta_sectors * VMEM_SECTOR_SIZE <=
	     g.data_start * VMEM_PAGE_SIZE);
	if (g.meta_sectors > FUZZ_SECTORS)
		return 0;

	/* Exactly the metadata area: a read past it is an ASan report */
	meta = malloc(g.meta_sectors * VMEM_SECTOR_SIZE);
	must(meta);
	memcpy(meta, src, g.meta_sectors * VMEM_SECTOR_SIZE);
	if (dups) {
		scratch = malloc(g.nr_buckets * sizeof(*scratch));
		must(scratch);
	}
	c.g = &g;
	faults = vmem_meta_check(meta, dev_bytes, rw, &view, scratch,
				 fuzz_report, fuzz_yield, &c);
	must(faults == c.reports);
	/* One yield before each run of VMEM_CHECK_YIELD_SECTORS map sectors */
	must(c.yields >= (g.map_sectors + VMEM_CHECK_YIELD_SECTORS - 1) /
	     VMEM_CHECK_YIELD_SECTORS);
	if (!scratch)
		must(c.yields == (g.map_sectors + VMEM_CHECK_YIELD_SECTORS - 1) /
		     VMEM_CHECK_YIELD_SECTORS);

	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		const struct vmem_dev_rec *r = &view.devs[id];
		u32 flags = le32toh(r->flags);

		used += view.used[id];
		if (view.used[id])
			must(flags & VMEM_DEV_EXISTS);
		if (!(flags & VMEM_DEV_EXISTS))
			continue;
		must(vmem_dev_validate(r, g.bucket_pages) == VMEM_OK);
		/* With no duplicates, a device holds each vbucket once */
		if (dups && !faults)
			must(view.used[id] <=
			     vmem_dev_buckets(le64toh(r->capacity_pages),
					      g.bucket_pages));
	}
	must(used <= g.nr_buckets);
	free(scratch);
	free(meta);
	return faults;
}

/* A layout from vmem_geom_layout() holds, and its new pool is clean */
static void fuzz_geometry(u64 dev_bytes, u32 bucket_pages, u64 max_bytes,
			  u32 version, bool build)
{
	struct fuzz_ctx c = { 0 };
	struct vmem_geom g, u;
	u64 dev_pages = dev_bytes >> VMEM_PAGE_SHIFT;
	static const u8 uuid[16] = { 1, 2, 3, 4 };
	struct vmem_sb sb;
	enum vmem_fault f;
	u8 *meta;

	f = vmem_geom_layout(dev_bytes, bucket_pages, max_bytes, version, &g);
	if (f) {
		must(f == VMEM_F_BUCKET_SIZE || f == VMEM_F_TOO_SMALL ||
		     (f == VMEM_F_VERSION && version != 1 && version != 2));
		return;
	}
	must(g.version == version);
	vmem_sb_init(&sb, &g, dev_pages, uuid, 0);
	must(vmem_sb_validate(&sb, dev_bytes, true) == VMEM_OK);
	if (version == 2) {
		must(g.copy_b >= VMEM_COPY_B_MIN && g.map_max >= g.map_sectors);
		must(VMEM_MAP_START + g.map_max <= g.copy_b);
		must(g.copy_b + VMEM_MAP_START + g.map_max <=
		     g.data_start * VMEM_SECTORS_PER_PAGE);
	} else if (vmem_geom_upgrade(&g, &u) == VMEM_OK) {
		vmem_sb_init(&sb, &u, dev_pages, uuid, 0);
		must(vmem_sb_validate(&sb, dev_bytes, true) == VMEM_OK);
		must(u.data_start == g.data_start &&
		     u.nr_buckets == g.nr_buckets);
	}
	must(vmem_is_pow2(bucket_pages));
	must(g.nr_buckets >= 1 && g.nr_buckets <= VMEM_MAX_BUCKETS);
	must(g.map_sectors * VMEM_ENTRIES_PER_SECTOR >= g.nr_buckets);
	must(g.data_start % VMEM_DATA_ALIGN_PAGES == 0);
	must(g.meta_sectors * VMEM_SECTOR_SIZE <=
	     g.data_start * VMEM_PAGE_SIZE);
	must(g.data_start + g.nr_buckets * bucket_pages <= dev_pages);
	if (!build || g.meta_sectors > FUZZ_SECTORS)
		return;
	meta = malloc(g.meta_sectors * VMEM_SECTOR_SIZE);
	must(meta);
	vmem_meta_init(meta, &g, dev_pages, uuid, 0, true);
	c.g = &g;
	must(vmem_sb_validate((void *)meta, dev_bytes, true) == VMEM_OK);
	must(vmem_meta_check(meta, dev_bytes, true, &view, NULL, fuzz_report,
			     NULL, &c) == 0);
	free(meta);
}

static u64 fuzz_lost;

/* vmem_copy_fn: states and faults agree */
static void fuzz_copy(void *ctx, u64 sector, enum vmem_copies state,
		      enum vmem_fault fa, enum vmem_fault fb)
{
	const struct vmem_geom *g = ctx;

	must(sector < g->meta_sectors);
	must(fa < VMEM_F_NR && fb < VMEM_F_NR);
	switch (state) {
	case VMEM_COPIES_B_OLD:
		must(!fa && !fb);
		break;
	case VMEM_COPIES_B_BAD:
		must(!fa && fb);
		break;
	case VMEM_COPIES_A_BAD:
		must(fa && !fb);
		break;
	case VMEM_COPIES_BOTH_BAD:
		must(fa && fb);
		fuzz_lost++;
		break;
	default:
		must(false);
	}
}

/* Version 2: the input's halves as copy A and copy B, merged, checked */
static void fuzz_copies(const u8 *src, u64 dev_bytes)
{
	const struct vmem_sb *sb = (const void *)src;
	u64 half = FUZZ_MAX / 2, lost, s, index;
	struct fuzz_ctx c = { 0 };
	struct vmem_geom g;
	u8 *a, *b;

	vmem_geom_from_sb(sb, &g);
	if (g.version < 2 || g.meta_sectors * VMEM_SECTOR_SIZE > half)
		return;
	a = malloc(g.meta_sectors * VMEM_SECTOR_SIZE);
	b = malloc(g.meta_sectors * VMEM_SECTOR_SIZE);
	must(a && b);
	memcpy(a, src, g.meta_sectors * VMEM_SECTOR_SIZE);
	memcpy(b, src + half, g.meta_sectors * VMEM_SECTOR_SIZE);
	fuzz_lost = 0;
	lost = vmem_copies_merge(a, b, 0, g.meta_sectors, &g,
				 vmem_pool_id(sb), dev_bytes, fuzz_copy, &g);
	must(lost == fuzz_lost);
	/* Every sector of the result is valid, or lost */
	for (s = 0; s < g.meta_sectors; s++)
		if (vmem_meta_sector_validate(a + s * VMEM_SECTOR_SIZE, s, &g,
					      vmem_pool_id(sb), dev_bytes)) {
			must(lost);
			must(vmem_sector_kind(s, &index) && index < g.meta_sectors);
		}
	c.g = &g;
	if (!lost && !vmem_sb_validate((void *)a, dev_bytes, false))
		must(vmem_meta_check(a, dev_bytes, false, &view, NULL,
				     fuzz_report, NULL, &c) == c.reports);
	free(a);
	free(b);
}

/* vmem_read_fn over the input, wrapped around */
static int fuzz_read(void *ctx, u64 sector, void *buf)
{
	(void)ctx;
	if (sector % 3 == 2)
		return -1;
	memcpy(buf, page + (sector / 8 % FUZZ_SECTORS) * VMEM_SECTOR_SIZE,
	       VMEM_SECTOR_SIZE);
	return 0;
}

/* The superblock choice: what it returns is valid, or a fault */
static void fuzz_choose(size_t len, u64 dev_bytes)
{
	struct vmem_sb sb;
	enum vmem_fault f;
	u64 at;

	f = vmem_sb_choose(len % 5 ? (void *)page : NULL, dev_bytes, len & 1,
			   fuzz_read, NULL, &sb, &at);
	must(f < VMEM_F_NR);
	if (!f)
		must(!vmem_sb_validate(&sb, dev_bytes, len & 1));
	if (!f && at)
		must(vmem_sb_is_copy_b(&sb, at, dev_bytes, NULL));
}

/* Give every sector the input covers a valid checksum */
static void fuzz_reseal(size_t len)
{
	size_t off;

	vmem_sb_seal((struct vmem_sb *)page);
	for (off = VMEM_SECTOR_SIZE; off < len; off += VMEM_SECTOR_SIZE) {
		struct vmem_blk_hdr *h = (void *)(page + off);

		h->csum = htole32(vmem_sector_csum(h));
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	const struct vmem_sb *sb = (const void *)page;
	size_t len = size < FUZZ_MAX ? size : FUZZ_MAX;
	u64 claimed, faults, faults_nodup;
	enum vmem_page0_kind kind;
	enum vmem_fault f;

	memset(page, 0, sizeof(page));
	memcpy(page, data, len);
	if (size % 2)
		fuzz_reseal(len);

	kind = vmem_page0_classify(page, len > VMEM_SECTOR_SIZE ?
				   len : VMEM_SECTOR_SIZE);
	must(kind <= VMEM_PAGE0_FOREIGN);

	/* No device size: the superblock alone */
	f = vmem_sb_validate(sb, 0, false);
	must(f < VMEM_F_NR);
	if (f == VMEM_OK) {
		must(kind == VMEM_PAGE0_VMEM);
		faults = fuzz_check(page, 0, false, true);
		faults_nodup = fuzz_check(page, 0, false, false);
		must(faults_nodup <= faults);
	}

	/* The device the superblock claims to be on, read-write */
	claimed = le64toh(sb->pool_pages);
	if (claimed <= ~0ULL >> VMEM_PAGE_SHIFT) {
		claimed <<= VMEM_PAGE_SHIFT;
		if (vmem_sb_validate(sb, claimed, true) == VMEM_OK)
			fuzz_check(page, claimed, true, true);
	}

	/* The input's length as the device size */
	if (vmem_sb_validate(sb, size, size & 1) == VMEM_OK)
		fuzz_check(page, size, size & 1, true);

	/* Version 2: two copies in the input's halves */
	if (vmem_sb_validate(sb, 0, false) == VMEM_OK)
		fuzz_copies(page, 0);
	fuzz_choose(len, (u64)size << 12);

	/* The tail of the input picks a geometry */
	if (size >= 17) {
		u64 dev_bytes, max_bytes;
		u32 bp = 1U << (data[size - 9] % 16);

		memcpy(&dev_bytes, data + size - 8, 8);
		memcpy(&max_bytes, data + size - 17, 8);
		fuzz_geometry(dev_bytes, bp, 0, 2, false);
		fuzz_geometry(dev_bytes, bp, 0, 1, false);
		fuzz_geometry(dev_bytes & ((1ULL << 34) - 1), bp,
			      max_bytes & ((1ULL << 36) - 1), 2, true);
		fuzz_geometry(dev_bytes & ((1ULL << 34) - 1), bp, 0, 1, true);
		fuzz_geometry(dev_bytes, data[size - 9], max_bytes,
			      data[size - 10] % 4, false);
	}
	return 0;
}
