// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace tests of pool grow (include/vmem/format.h, "Grow"), over the
 * codec (lib/vmem_format.c), with ASan and UBSan.
 *
 * A "disk" is the metadata area of a pool in memory, both copies; load()
 * is what attach does with it (vmem_sb_choose(), vmem_copies_merge(),
 * vmem_meta_check()), as in copies_test.c. The tests:
 *  - vmem_geom_grow(): buckets added up to the device, the map's room and
 *    no further; version 1, a copy B after the data area and a size below
 *    the pool's refused; nothing to add is not an error;
 *  - vmem_meta_grow(): new map sectors free, unmarked and sealed, only
 *    the superblock's size fields changed, the result a valid pool;
 *  - a grow written as the module and vmemctl write it (new map sectors
 *    copy A, copy B, then superblock A, superblock B), with every write
 *    not made, torn in either half, unreadable or whole, at every step,
 *    with 512-byte and 4 KiB writes: each load is a valid pool exactly
 *    at the old size or exactly at the new one, never anything else;
 *  - the test has teeth: the same grow with its map sectors left out
 *    (the superblock written over a map room that holds garbage) loads
 *    as neither size.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <vmem/meta.h>
#include "fixture.h"
#include "harness.h"

/* ---- pools and disks (struct pool, struct disk) ---- */

/*
 * A pool formatted on @dev_bytes with 64 KiB buckets, devices and mapped
 * buckets, its last map sector partly used, some free buckets marked zero
 */
static void pool_populated(struct pool *p, u64 dev_bytes, u64 max_bytes)
{
	u64 b;

	if (vmem_geom_layout(dev_bytes, 1, max_bytes, 2, &p->g))
		abort();
	p->dev_bytes = dev_bytes;
	p->img = calloc(p->g.map_max + VMEM_MAP_START, SEC);
	if (!p->img)
		abort();
	vmem_meta_init(p->img, &p->g, dev_bytes >> VMEM_PAGE_SHIFT, uuid_a,
		       1700000000, true);
	set_dev(p, p->img, 0, 1 << 20, VMEM_DEV_EXISTS);
	set_dev(p, p->img, 77, 4096, VMEM_DEV_EXISTS);
	for (b = 0; b < p->g.nr_buckets; b += 13)
		set_map(p, p->img, b, 1, b);
	set_map(p, p->img, p->g.nr_buckets - 1, 78, 9);
}

/*
 * A disk of @dev_bytes holding @p as format writes it, over a map's room
 * that holds garbage: format need not zero it
 */
static void disk_formatted(struct disk *d, const struct pool *p,
			   u64 dev_bytes)
{
	u64 s;
	unsigned int k;

	disk_new(d, p);
	d->dev_bytes = dev_bytes;
	memset(d->buf, 0xa5, d->nsec * SEC);
	disk_format(d, p);
	/* As vmemctl format: zeros at every probe place that is no copy's */
	for (k = 0; (s = vmem_copy_b_probe(k)) && s < d->nsec; k++) {
		bool in_b = s >= p->g.copy_b &&
			    s < p->g.copy_b + p->g.meta_sectors;

		if (s >= p->g.meta_sectors && !in_b)
			memset(d->buf + s * SEC, 0, SEC);
	}
}

struct load {
	bool ok;
	struct vmem_geom g;
	u8 *img;
	u64 faults;
};

static void load_report(void *ctx, enum vmem_fault f, const char *what,
			u64 index)
{
	struct load *l = ctx;

	(void)f;
	(void)what;
	(void)index;
	l->faults++;
}

/* What attach does */
static void load(struct disk *d, struct load *l)
{
	static struct vmem_meta_view view;
	struct vmem_sb sa, sb;
	u64 at;
	u8 *b;

	memset(l, 0, sizeof(*l));
	disk_read(d, 0, &sa);
	if (vmem_sb_choose(d->bad[0] ? NULL : &sa, d->dev_bytes, true,
			   disk_read, d, &sb, &at))
		return;
	vmem_geom_from_sb(&sb, &l->g);
	l->img = disk_read_copy(d, 0, l->g.meta_sectors);
	b = disk_read_copy(d, l->g.copy_b, l->g.meta_sectors);
	if (vmem_copies_merge(l->img, b, 0, l->g.meta_sectors, &l->g,
			      vmem_pool_id(&sb), d->dev_bytes, NULL, NULL)) {
		free(b);
		return;
	}
	free(b);
	vmem_meta_check(l->img, d->dev_bytes, true, &view, NULL, load_report,
			NULL, l);
	l->ok = !l->faults;
}

/* Does @l hold exactly @img of geometry @g? */
static bool load_is(const struct load *l, const struct vmem_geom *g,
		    const u8 *img)
{
	return l->ok && l->g.nr_buckets == g->nr_buckets &&
	       l->g.meta_sectors == g->meta_sectors &&
	       !memcmp(l->img, img, g->meta_sectors * SEC);
}

/* ---- vmem_geom_grow() and vmem_meta_grow() ---- */

static void grow_geom(void)
{
	struct vmem_geom g, n, v1;
	struct pool p;
	u64 room;

	pool_populated(&p, GIB, 4 * GIB);
	g = p.g;
	room = g.map_max * VMEM_ENTRIES_PER_SECTOR;
	/* The same device: nothing to add, not an error */
	EXPECT(vmem_geom_grow(&g, GIB, &n) == VMEM_OK &&
	       n.nr_buckets == g.nr_buckets && n.map_sectors == g.map_sectors);
	/* Three times the device: three times the data area, about */
	EXPECT(vmem_geom_grow(&g, 3 * GIB, &n) == VMEM_OK);
	EXPECT(n.nr_buckets == (3 * GIB / VMEM_PAGE_SIZE) - g.data_start);
	EXPECT(n.map_sectors == (n.nr_buckets + 61) / 62 &&
	       n.meta_sectors == VMEM_MAP_START + n.map_sectors);
	EXPECT(n.copy_b == g.copy_b && n.data_start == g.data_start &&
	       n.map_max == g.map_max && n.bucket_pages == g.bucket_pages);
	/* A part of a bucket is not a bucket */
	EXPECT(vmem_geom_grow(&g, 3 * GIB + 65535, &n) == VMEM_OK &&
	       n.nr_buckets == (3 * GIB / VMEM_PAGE_SIZE) - g.data_start);
	/* No further than the map's room */
	EXPECT(vmem_geom_grow(&g, 100 * GIB, &n) == VMEM_OK &&
	       n.nr_buckets == room && room >= 4 * GIB / VMEM_PAGE_SIZE - 64);
	EXPECT(n.map_sectors == g.map_max);
	/* Never below the pool as it is */
	EXPECT(vmem_geom_grow(&g, GIB / 2, &n) == VMEM_F_TOO_SMALL);
	EXPECT(n.nr_buckets == g.nr_buckets);
	/* Version 1 has no room */
	EXPECT(vmem_geom_layout(GIB, 16, 0, 1, &v1) == VMEM_OK);
	EXPECT(vmem_geom_grow(&v1, 4 * GIB, &n) == VMEM_F_VERSION);
	/* A copy B after the data area (invalid, never formatted) */
	g.copy_b = (g.data_start + g.nr_buckets) * VMEM_SECTORS_PER_PAGE;
	EXPECT(vmem_geom_grow(&g, 3 * GIB, &n) == VMEM_F_GEOMETRY);
	free(p.img);
}

static void grow_meta(void)
{
	static struct vmem_meta_view view;
	struct vmem_geom n;
	struct pool p;
	struct vmem_sb *sb;
	u8 *img;
	u64 s, b;

	pool_populated(&p, GIB, 0);
	EXPECT(vmem_geom_grow(&p.g, 3 * GIB, &n) == VMEM_OK);
	img = calloc(n.meta_sectors, SEC);
	if (!img)
		abort();
	memset(img, 0x5a, n.meta_sectors * SEC);
	memcpy(img, p.img, p.g.meta_sectors * SEC);
	vmem_meta_grow(img, &p.g, &n, 3 * GIB >> VMEM_PAGE_SHIFT);
	sb = (void *)img;
	EXPECT(le64toh(sb->nr_buckets) == n.nr_buckets);
	EXPECT(le64toh(sb->map_sectors) == n.map_sectors);
	EXPECT(le64toh(sb->pool_pages) == 3 * GIB >> VMEM_PAGE_SHIFT);
	EXPECT(vmem_sb_validate(sb, 3 * GIB, true) == VMEM_OK);
	/* Too small a device for the grown pool */
	EXPECT(vmem_sb_validate(sb, GIB, true) == VMEM_F_TOO_SMALL ||
	       vmem_sb_validate(sb, GIB, true) == VMEM_F_GEOMETRY);
	/* Only nr_buckets, map_sectors, pool_pages and csum changed */
	sb->nr_buckets = ((struct vmem_sb *)p.img)->nr_buckets;
	sb->map_sectors = ((struct vmem_sb *)p.img)->map_sectors;
	sb->pool_pages = ((struct vmem_sb *)p.img)->pool_pages;
	vmem_sb_seal(sb);
	EXPECT(!memcmp(img, p.img, p.g.meta_sectors * SEC));
	vmem_meta_grow(img, &p.g, &n, 3 * GIB >> VMEM_PAGE_SHIFT);
	for (s = p.g.meta_sectors; s < n.meta_sectors; s++)
		EXPECT(!vmem_blk_validate(img + s * SEC, VMEM_MAP_MAGIC,
					  s - VMEM_MAP_START, pool_id(&p)));
	/* Every new bucket free and not marked zero; the old ones kept */
	for (b = p.g.nr_buckets; b < n.nr_buckets; b++) {
		struct vmem_map_entry *e = vmem_meta_entry(img, b);

		if (e->owner || e->flags || e->vbucket)
			break;
	}
	EXPECT(b == n.nr_buckets);
	EXPECT(vmem_meta_entry(img, 1)->flags == VMEM_ENTRY_ZEROED);
	EXPECT(vmem_meta_check(img, 3 * GIB, true, &view, NULL, load_report,
			       NULL, &(struct load){ 0 }) == 0);
	EXPECT(view.used[0] == (p.g.nr_buckets + 12) / 13 &&
	       view.used[77] == 1);
	EXPECT(view.zeroed == p.g.nr_buckets - view.used[0] - 1);
	free(img);
	free(p.img);
}

/* ---- the grow's writes, torn at every step ---- */

/* One write: @n image sectors of @src from @s, to @at + @s on the disk */
struct wr {
	u64 at;
	u64 s;
	u64 n;
	const u8 *src;
};

enum tear { T_NONE, T_FIRST, T_SECOND, T_UNREADABLE, T_ALL, T_NR };

static void apply(struct disk *d, const struct wr *w, enum tear t)
{
	u64 i;

	for (i = 0; i < w->n; i++) {
		u8 *dst = d->buf + (w->at + w->s + i) * SEC;
		const u8 *src = w->src + (w->s + i) * SEC;

		if (t == T_FIRST)
			memcpy(dst, src, SEC / 2);
		else if (t == T_SECOND)
			memcpy(dst + SEC / 2, src + SEC / 2, SEC / 2);
		else if (t == T_UNREADABLE)
			d->bad[w->at + w->s + i] = 1;
		else if (t == T_ALL)
			memcpy(dst, src, SEC);
	}
}

/* The writes of sectors [@s, @s + @n) of @img to @at, rounded to @lbs */
static unsigned int add_run(struct wr *w, unsigned int nw, const u8 *img,
			    u64 nsec, u64 s, u64 n, u64 at, unsigned int lbs)
{
	u64 first = s / lbs * lbs, end = (s + n + lbs - 1) / lbs * lbs;

	if (end > nsec)
		end = nsec;
	w[nw] = (struct wr){ at, first, end - first, img };
	return nw + 1;
}

static u64 tears, loads_old, loads_new;
static bool quiet;	/* the teeth test's failures are expected */

/*
 * Grow @p from its device to @new_bytes with writes of @lbs sectors, in
 * format.h's order (without the map sectors when @skip_map). Return: how
 * many loads were neither old nor new.
 */
static u64 grow_torn(struct pool *p, u64 new_bytes, unsigned int lbs,
		     bool skip_map)
{
	struct vmem_geom n;
	struct disk d, w;
	struct load l;
	struct wr wr[8];
	unsigned int nw = 0, i, j;
	u64 bad = 0, nsec;
	u8 *img;
	int t;

	if (vmem_geom_grow(&p->g, new_bytes, &n) ||
	    n.nr_buckets <= p->g.nr_buckets)
		abort();
	/* The image in memory: a whole number of lbs-sector blocks */
	nsec = (n.meta_sectors + lbs - 1) / lbs * lbs;
	img = calloc(nsec, SEC);
	if (!img)
		abort();
	memcpy(img, p->img, p->g.meta_sectors * SEC);
	vmem_meta_grow(img, &p->g, &n, new_bytes >> VMEM_PAGE_SHIFT);
	if (!skip_map && n.meta_sectors > p->g.meta_sectors) {
		nw = add_run(wr, nw, img, nsec, p->g.meta_sectors,
			     n.meta_sectors - p->g.meta_sectors, 0, lbs);
		nw = add_run(wr, nw, img, nsec, p->g.meta_sectors,
			     n.meta_sectors - p->g.meta_sectors, n.copy_b,
			     lbs);
	}
	nw = add_run(wr, nw, img, nsec, 0, 1, 0, lbs);
	nw = add_run(wr, nw, img, nsec, 0, 1, n.copy_b, lbs);

	disk_formatted(&d, p, new_bytes);
	disk_formatted(&w, p, new_bytes);
	load(&d, &l);
	EXPECT(load_is(&l, &p->g, p->img));
	free(l.img);
	for (i = 0; i < nw; i++)
		for (t = 0; t < T_NR; t++) {
			disk_copy(&w, &d);
			for (j = 0; j < i; j++)
				apply(&w, &wr[j], T_ALL);
			apply(&w, &wr[i], t);
			load(&w, &l);
			tears++;
			if (load_is(&l, &p->g, p->img))
				loads_old++;
			else if (load_is(&l, &n, img))
				loads_new++;
			else if (bad++ < 3 && !quiet)
				fprintf(stderr, "grow: write %u of %u, tear %d, lbs %u: loads %s, %llu buckets\n",
					i, nw, t, lbs, l.ok ? "valid" : "refused",
					(unsigned long long)l.g.nr_buckets);
			free(l.img);
		}
	for (i = 0; i < nw; i++)
		apply(&d, &wr[i], T_ALL);
	load(&d, &l);
	if (!load_is(&l, &n, img))
		bad++;
	free(l.img);
	disk_free(&w);
	disk_free(&d);
	free(img);
	return bad;
}

static void grow_torn_writes(void)
{
	struct pool p;
	unsigned int lbs;

	tears = 0;
	loads_old = 0;
	loads_new = 0;
	for (lbs = 1; lbs <= 8; lbs *= 8) {
		/* New map sectors: many; then none (the last one had room) */
		pool_populated(&p, GIB, 0);
		EXPECT(!grow_torn(&p, 3 * GIB, lbs, false));
		free(p.img);
		pool_populated(&p, GIB, 0);
		EXPECT(!grow_torn(&p, GIB + 30 * VMEM_PAGE_SIZE, lbs, false));
		free(p.img);
		/* Grown to the map's room exactly */
		pool_populated(&p, GIB, 2 * GIB);
		EXPECT(!grow_torn(&p, 8 * GIB, lbs, false));
		free(p.img);
	}
	EXPECT(loads_old && loads_new);
	printf("grow: %llu torn writes across the grows' steps: %llu loaded at the old size, %llu at the new, none else\n",
	       (unsigned long long)tears, (unsigned long long)loads_old,
	       (unsigned long long)loads_new);
}

/*
 * The test has teeth: a grow that skips the map sectors (superblock
 * first) loads as neither old nor new once its superblock is written
 * over the map's room, which holds garbage
 */
static void grow_torn_teeth(void)
{
	struct pool p;

	pool_populated(&p, GIB, 0);
	quiet = true;
	EXPECT(grow_torn(&p, 3 * GIB, 1, true) > 0);
	quiet = false;
	free(p.img);
}

int main(void)
{
	RUN(grow_geom);
	RUN(grow_meta);
	RUN(grow_torn_writes);
	RUN(grow_torn_teeth);
	return tests_failed ? 1 : 0;
}
