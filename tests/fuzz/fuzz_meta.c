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
 * for vmem_geom_compute(), whose layout must hold, and whose freshly
 * built pool must check clean (a round trip).
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

/* A layout from vmem_geom_compute() holds, and its new pool is clean */
static void fuzz_geometry(u64 dev_bytes, u32 bucket_pages, bool build)
{
	struct fuzz_ctx c = { 0 };
	struct vmem_geom g;
	u64 dev_pages = dev_bytes >> VMEM_PAGE_SHIFT;
	static const u8 uuid[16] = { 1, 2, 3, 4 };
	enum vmem_fault f;
	u8 *meta;

	f = vmem_geom_compute(dev_bytes, bucket_pages, &g);
	if (f) {
		must(f == VMEM_F_BUCKET_SIZE || f == VMEM_F_TOO_SMALL);
		return;
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

	/* The tail of the input picks a geometry */
	if (size >= 9) {
		u64 dev_bytes;

		memcpy(&dev_bytes, data + size - 8, 8);
		fuzz_geometry(dev_bytes, 1U << (data[size - 9] % 16), false);
		fuzz_geometry(dev_bytes & ((1ULL << 34) - 1),
			      1U << (data[size - 9] % 16), true);
		fuzz_geometry(dev_bytes, data[size - 9], false);
	}
	return 0;
}
