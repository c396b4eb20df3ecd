// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace tests of layout version 2's two metadata copies, over the
 * codec (lib/vmem_format.c), with ASan and UBSan.
 *
 * A "disk" here is the metadata area of a pool in memory (both copies and
 * the padding; the data area reads as zeros), and load() is what attach
 * does with it, through the same codec calls as the module and vmemctl:
 * vmem_sb_choose() (copy A's superblock, or copy B's found by the probe),
 * vmem_copies_merge() (per sector, copy A if valid, else copy B) and
 * vmem_meta_check(). The tests:
 *  - every single-sector corruption of a version 2 image (each sector,
 *    each copy; a flipped bit, zeros, garbage, a torn sector half of
 *    another version, a sector of another pool, a sector of another
 *    index, an unreadable sector, and a 4 KiB block torn whole as a 512e
 *    drive's read-modify-write may) loads to exactly the image written,
 *    naming the damaged copy;
 *  - every torn write at every step of every metadata update (commits of
 *    one and of many map sectors, back to back, with 512-byte and 4 KiB
 *    writes; device-table writes; the generation bump; a delete; the
 *    rewrite of damaged copies at attach; the upgrade from version 1)
 *    loads to a valid pool whose every sector is its old or its new state;
 *  - a sector lost in both copies is refused and named; a start of the
 *    disk that is another format's is refused even with copy B intact.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <vmem/meta.h>
#include "fixture.h"
#include "harness.h"

static u64 rng = 88172645463325252ULL;

static u64 xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- a pool's metadata (one copy: the image; struct pool) ---- */

static void pool_new(struct pool *p, u64 dev_bytes, u32 bp, u32 version,
		     const u8 *uuid)
{
	if (vmem_geom_layout(dev_bytes, bp, 0, version, &p->g))
		abort();
	p->dev_bytes = dev_bytes;
	p->img = malloc(p->g.meta_sectors * SEC);
	if (!p->img)
		abort();
	vmem_meta_init(p->img, &p->g, dev_bytes >> VMEM_PAGE_SHIFT, uuid,
		       1700000000, false);
}

static u8 *sector_of(u8 *img, u64 s)
{
	return img + s * SEC;
}

static u8 *img_dup(const struct pool *p, const u8 *img)
{
	u8 *c = malloc(p->g.meta_sectors * SEC);

	if (!c)
		abort();
	memcpy(c, img, p->g.meta_sectors * SEC);
	return c;
}

/* A pool with devices and buckets in several map sectors */
static void pool_populated(struct pool *p, u32 version)
{
	u64 b;

	pool_new(p, GIB, 1, version, uuid_a);	/* 16368 buckets of 64 KiB */
	set_dev(p, p->img, 0, 4096, VMEM_DEV_EXISTS);
	set_dev(p, p->img, 40, 64, VMEM_DEV_EXISTS);
	set_dev(p, p->img, 254, 16, VMEM_DEV_EXISTS);
	for (b = 0; b < p->g.nr_buckets; b += 97)
		set_map(p, p->img, b, 1, b / 97);
	set_map(p, p->img, 5, 41, 3);
	set_map(p, p->img, p->g.nr_buckets - 1, 255, 0);
}

/* ---- load: what attach does ---- */

struct load {
	bool ok;
	u64 at;				/* where the superblock came from */
	struct vmem_geom g;
	u8 *img;			/* the merged image */
	u64 lost;
	u64 state[VMEM_COPIES_BOTH_BAD + 1];
	u64 first[VMEM_COPIES_BOTH_BAD + 1];	/* a sector of each state */
	u64 faults;
	enum vmem_fault f;
};

static void load_copy(void *ctx, u64 sector, enum vmem_copies state,
		      enum vmem_fault fa, enum vmem_fault fb)
{
	struct load *l = ctx;

	(void)fa;
	(void)fb;
	if (!l->state[state]++)
		l->first[state] = sector;
}

static void load_report(void *ctx, enum vmem_fault f, const char *what,
			u64 index)
{
	struct load *l = ctx;

	(void)what;
	(void)index;
	if (f != VMEM_F_DELETING)
		l->faults++;
}

static void load(struct disk *d, struct load *l)
{
	static struct vmem_meta_view view;
	u8 page0[VMEM_PAGE_SIZE];
	struct vmem_sb sb;
	u8 *b;
	u64 s;

	memset(l, 0, sizeof(*l));
	for (s = 0; s < VMEM_SECTORS_PER_PAGE; s++)
		if (disk_read(d, s, page0 + s * SEC))
			memset(page0 + s * SEC, 0, SEC);
	if (vmem_page0_classify(page0, sizeof(page0)) == VMEM_PAGE0_EMPTY) {
		l->f = VMEM_F_MAGIC;
		return;
	}
	l->f = vmem_sb_choose(d->bad[0] ? NULL : (void *)page0, d->dev_bytes,
			      true, disk_read, d, &sb, &l->at);
	if (l->f)
		return;
	vmem_geom_from_sb(&sb, &l->g);
	l->img = disk_read_copy(d, 0, l->g.meta_sectors);
	if (l->g.version >= 2) {
		b = disk_read_copy(d, l->g.copy_b, l->g.meta_sectors);
		l->lost = vmem_copies_merge(l->img, b, 0, l->g.meta_sectors,
					    &l->g, vmem_pool_id(&sb),
					    d->dev_bytes, load_copy, l);
		free(b);
	} else {
		memcpy(l->img, &sb, sizeof(sb));
	}
	if (l->lost)
		return;
	vmem_meta_check(l->img, d->dev_bytes, true, &view, NULL,
			load_report, NULL, l);
	l->ok = !l->faults;
}

static void load_free(struct load *l)
{
	free(l->img);
	l->img = NULL;
}

/*
 * Is @d refused, with superblock fault @f? Where its superblock was
 * found goes to @at, if not NULL.
 */
static bool load_refused(struct disk *d, enum vmem_fault f, u64 *at)
{
	struct load l;

	load(d, &l);
	load_free(&l);
	if (at)
		*at = l.at;
	return !l.ok && l.f == f;
}

/* ---- corruptions of one copy of one sector ---- */

enum corrupt {
	C_FLIP, C_ZERO, C_GARBAGE, C_TORN, C_OTHER_POOL, C_OTHER_INDEX,
	C_UNREADABLE, C_NR
};

static const char * const corrupt_names[C_NR] = {
	"flip", "zero", "garbage", "torn", "other-pool", "other-index",
	"unreadable",
};

/*
 * Another valid version of image sector @s, differing from it in both
 * halves (a newer generation; other records, entries) where it can: a
 * superblock's fields all sit in its first half, so half of another
 * superblock is another whole superblock
 */
static void other_version(struct pool *p, u64 s, u8 *out)
{
	u8 *img = img_dup(p, p->img);
	u64 first;

	if (s == 0) {
		struct vmem_sb *sb = (void *)img;

		sb->generation = htole64(le64toh(sb->generation) + 7);
		vmem_sb_seal(sb);
	} else if (s < VMEM_MAP_START) {
		first = (s - VMEM_DEVT_START) * VMEM_DEVS_PER_SECTOR;
		set_dev(p, img, first + 1, 32, VMEM_DEV_EXISTS);
		if (first + 30 < VMEM_MAX_DEVICES)
			set_dev(p, img, first + 30, 32, VMEM_DEV_EXISTS);
	} else {
		first = (s - VMEM_MAP_START) * VMEM_ENTRIES_PER_SECTOR;
		vmem_meta_entry(img, first + 1)->flags ^= VMEM_ENTRY_ZEROED;
		vmem_meta_entry(img, first + 61)->flags ^= VMEM_ENTRY_ZEROED;
		vmem_meta_seal(img, s, pool_id(p));
	}
	memcpy(out, sector_of(img, s), SEC);
	free(img);
}

/* Does half of another version of sector @s differ from both? */
static bool torn_differs(struct pool *p, u64 s)
{
	u8 ver[SEC];

	other_version(p, s, ver);
	return memcmp(ver + SEC / 2, sector_of(p->img, s) + SEC / 2, SEC / 2);
}

static void corrupt(struct disk *d, struct pool *p, struct pool *other,
		    u64 at, u64 s, enum corrupt c)
{
	u8 *sec = d->buf + (at + s) * SEC;
	u8 ver[SEC];
	unsigned int i;

	switch (c) {
	case C_FLIP:
		sec[xorshift() % SEC] ^= 1 << (xorshift() % 8);
		break;
	case C_ZERO:
		memset(sec, 0, SEC);
		break;
	case C_GARBAGE:
		for (i = 0; i < SEC; i++)
			sec[i] = xorshift();
		break;
	case C_TORN:
		other_version(p, s, ver);
		memcpy(sec, ver, SEC / 2);
		break;
	case C_OTHER_POOL:
		memcpy(sec, sector_of(other->img, s), SEC);
		break;
	case C_OTHER_INDEX:
		/* The neighbour of the same kind, valid, in the wrong place */
		if (s == 0 || s == VMEM_DEVT_START)
			memcpy(sec, sector_of(p->img, VMEM_DEVT_START + 1), SEC);
		else if (s == VMEM_MAP_START)
			memcpy(sec, sector_of(p->img, s + 1), SEC);
		else
			memcpy(sec, sector_of(p->img, s - 1), SEC);
		break;
	default:
		d->bad[at + s] = 1;
		break;
	}
}

static u64 loads;

/* Load @d; it must come back as exactly @want */
static bool load_is(struct disk *d, const struct pool *p, const u8 *want,
		    struct load *l)
{
	load(d, l);
	loads++;
	return l->ok && l->g.meta_sectors == p->g.meta_sectors &&
	       !memcmp(l->img, want, p->g.meta_sectors * SEC);
}

static void copies_every_sector(void)
{
	struct pool p, other;
	struct disk d, w;
	struct load l;
	u64 s, failed = 0, refused = 0;
	int copy, c;

	pool_populated(&p, 2);
	pool_new(&other, GIB, 1, 2, uuid_b);
	disk_new(&d, &p);
	disk_new(&w, &p);
	disk_format(&d, &p);
	EXPECT(load_is(&d, &p, p.img, &l) && l.at == 0);
	load_free(&l);
	for (s = 0; s < p.g.meta_sectors; s++)
		for (copy = 0; copy < 2; copy++)
			for (c = 0; c < C_NR; c++) {
				u64 at = copy ? p.g.copy_b : 0;
				enum vmem_copies want = copy ?
					VMEM_COPIES_B_BAD : VMEM_COPIES_A_BAD;

				/*
				 * Where all of a sector's fields sit in its
				 * first half (a superblock, the last device-
				 * table sector), half of another version is
				 * a whole other version
				 */
				if (c == C_TORN && !torn_differs(&p, s))
					continue;
				disk_copy(&w, &d);
				corrupt(&w, &p, &other, at, s, c);
				/*
				 * A valid superblock of another pool in
				 * sector 0 is that pool's, whose metadata
				 * would be damaged: refused, not guessed at
				 */
				if (!s && !copy && c == C_OTHER_POOL) {
					load(&w, &l);
					EXPECT(!l.ok && l.lost);
					load_free(&l);
					continue;
				}
				/*
				 * Sector 0 overwritten whole (zeros, data
				 * of another kind) names no pool: refused,
				 * as another format's data is; vmemctl
				 * repair restores it
				 */
				if (!s && !copy && (c == C_ZERO ||
						    c == C_GARBAGE ||
						    c == C_OTHER_INDEX)) {
					load(&w, &l);
					EXPECT(!l.ok && l.f == VMEM_F_MAGIC);
					load_free(&l);
					refused++;
					continue;
				}
				if (!load_is(&w, &p, p.img, &l) ||
				    l.state[want] != 1 || l.first[want] != s ||
				    (s == 0 && !copy && l.at != p.g.copy_b)) {
					if (failed++ < 5)
						fprintf(stderr, "copy %c of sector %llu, %s: ok %d, lost %llu, states %llu/%llu\n",
							copy ? 'B' : 'A',
							(unsigned long long)s,
							corrupt_names[c], l.ok,
							(unsigned long long)l.lost,
							(unsigned long long)l.state[want],
							(unsigned long long)l.first[want]);
				}
				load_free(&l);
			}
	EXPECT(!failed);
	EXPECT(refused == 3);
	printf("copies: %llu sectors x 2 copies x %d corruptions loaded to the image written (but 3 overwrites of sector 0 naming no pool: refused)\n",
	       (unsigned long long)p.g.meta_sectors, C_NR);
	disk_free(&w);
	disk_free(&d);
	free(other.img);
	free(p.img);
}

/* Every single bit of superblock A flipped: copy B's is taken */
static void copies_sb_bits(void)
{
	struct disk d, w;
	struct pool p;
	struct load l;
	u64 bit, failed = 0;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_new(&w, &p);
	disk_format(&d, &p);
	for (bit = 0; bit < SEC * 8; bit++) {
		disk_copy(&w, &d);
		w.buf[bit / 8] ^= 1 << (bit % 8);
		if (!load_is(&w, &p, p.img, &l) || l.at != p.g.copy_b)
			failed++;
		load_free(&l);
	}
	EXPECT(!failed);
	disk_free(&w);
	disk_free(&d);
	free(p.img);
}

/* A 512e drive's torn read-modify-write: a whole 4 KiB block of one copy */
static void copies_torn_blocks(void)
{
	struct disk d, w;
	struct pool p;
	struct load l;
	u64 s, i, failed = 0;
	int copy;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_new(&w, &p);
	disk_format(&d, &p);
	for (s = 0; s < p.g.meta_sectors; s += 8)
		for (copy = 0; copy < 2; copy++) {
			disk_copy(&w, &d);
			/*
			 * Garbage; but a superblock A turned to garbage
			 * names no pool (refused, see copies_every_sector):
			 * there, the block is unreadable, as it usually is
			 */
			for (i = 0; i < 8; i++)
				if (!s && !copy)
					w.bad[i] = 1;
				else
					memset(w.buf + ((copy ? p.g.copy_b : 0) +
							s + i) * SEC,
					       (int)(xorshift() | 1), SEC);
			if (!load_is(&w, &p, p.img, &l))
				failed++;
			load_free(&l);
		}
	EXPECT(!failed);
	disk_free(&w);
	disk_free(&d);
	free(p.img);
}

/* Both copies of a sector: refused, and named */
static void copies_both_bad(void)
{
	struct disk d, w;
	struct pool p;
	struct load l;
	u64 s;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_new(&w, &p);
	disk_format(&d, &p);
	for (s = 1; s < p.g.meta_sectors; s += 37) {
		disk_copy(&w, &d);
		w.buf[s * SEC + 100] ^= 1;
		w.bad[p.g.copy_b + s] = 1;
		load(&w, &l);
		EXPECT(!l.ok && l.lost == 1 &&
		       l.state[VMEM_COPIES_BOTH_BAD] == 1 &&
		       l.first[VMEM_COPIES_BOTH_BAD] == s);
		load_free(&l);
	}
	/* Both superblocks: nothing to attach with */
	disk_copy(&w, &d);
	w.buf[300] ^= 1;
	w.buf[p.g.copy_b * SEC + 300] ^= 1;
	load(&w, &l);
	EXPECT(!l.ok && l.f == VMEM_F_CSUM);
	load_free(&l);
	disk_free(&w);
	disk_free(&d);
	free(p.img);
}

/* Not a damaged pool but something else: refused, copy B or not */
static void copies_refuse_foreign(void)
{
	struct disk d, w;
	struct pool p, v1;
	struct load l;
	u64 i;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_new(&w, &p);
	disk_format(&d, &p);
	/* Sector 0 zeroed: it names no pool any more, refused */
	disk_copy(&w, &d);
	memset(w.buf, 0, SEC);
	EXPECT(load_refused(&w, VMEM_F_MAGIC, NULL));
	/* The magic flipped: the uuid still names the pool */
	disk_copy(&w, &d);
	w.buf[8] ^= 0x40;
	EXPECT(load_is(&w, &p, p.img, &l) && l.at == p.g.copy_b);
	load_free(&l);
	/* A filesystem made over the start: no vmem sector left in page 0 */
	disk_copy(&w, &d);
	for (i = 0; i < VMEM_PAGE_SIZE; i++)
		w.buf[i] = xorshift();
	w.buf[1080] = 0x53;
	w.buf[1081] = 0xef;
	EXPECT(load_refused(&w, VMEM_F_MAGIC, NULL));
	/* All of page 0 zero: an empty disk */
	disk_copy(&w, &d);
	memset(w.buf, 0, VMEM_PAGE_SIZE);
	EXPECT(load_refused(&w, VMEM_F_MAGIC, NULL));
	/* A damaged superblock A with its magic: copy B's, whatever uuid */
	disk_copy(&w, &d);
	w.buf[80] ^= 0xff;
	EXPECT(load_is(&w, &p, p.img, &l) && l.at == p.g.copy_b);
	load_free(&l);
	/* Without its magic, the uuid must be copy B's */
	w.buf[8] ^= 0xff;
	EXPECT(load_refused(&w, VMEM_F_MAGIC, NULL));
	/* A checksum-valid superblock with a fault is not damage: refused */
	disk_copy(&w, &d);
	((struct vmem_sb *)w.buf)->version = htole32(3);
	vmem_sb_seal((void *)w.buf);
	EXPECT(load_refused(&w, VMEM_F_VERSION, NULL));
	/* Version 1: one copy, nothing to fall back on */
	pool_populated(&v1, 1);
	disk_free(&w);
	disk_new(&w, &v1);
	disk_format(&w, &v1);
	EXPECT(load_is(&w, &v1, v1.img, &l) && l.g.version == 1);
	load_free(&l);
	w.buf[VMEM_MAP_START * SEC + 40] ^= 1;
	load(&w, &l);
	EXPECT(!l.ok && l.faults == 1);
	load_free(&l);
	w.buf[40] ^= 1;
	EXPECT(load_refused(&w, VMEM_F_CSUM, NULL));
	disk_free(&w);
	disk_free(&d);
	free(v1.img);
	free(p.img);
}

/*
 * Pool @f, laid out on a 1 GiB disk with copy B at @at, its metadata
 * made with @uuid: a superblock sealed as copy B's there
 */
static void forged_pool(struct pool *f, u64 at, const u8 *uuid)
{
	u64 max;

	for (max = GIB; max < 64 * GIB; max += 64 * MIB)
		if (!vmem_geom_layout(GIB, 1, max, 2, &f->g) &&
		    f->g.copy_b == at)
			break;
	EXPECT(f->g.copy_b == at);
	f->img = calloc(f->g.meta_sectors, SEC);
	if (!f->img)
		abort();
	vmem_meta_init(f->img, &f->g, GIB >> VMEM_PAGE_SHIFT, uuid,
		       1700000000, false);
}

/*
 * A superblock A torn: the probe for copy B's trusts only the first
 * superblock it finds, before any place it cannot read, and only when
 * copy A's device table does not disown it. A device's data past copy B
 * may hold a valid-looking superblock (a pool image kept in a file on a
 * vmem device, say); it is never taken for copy B's.
 */
static void copies_forged_sb(void)
{
	struct pool p, f;
	struct disk d;
	struct load l;
	u64 at;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_format(&d, &p);
	/* Another pool whose copy B is at the next probe place, in data */
	forged_pool(&f, 2 * p.g.copy_b, uuid_b);
	EXPECT(f.g.copy_b >= d.nsec);
	d.forged_at = f.g.copy_b;
	memcpy(d.forged, f.img, SEC);
	d.buf[80] ^= 0xff;		/* superblock A torn */

	/* Copy B's superblock readable: found first, taken */
	EXPECT(load_is(&d, &p, p.img, &l) && l.at == p.g.copy_b);
	load_free(&l);
	/* Copy B's unreadable: the probe ends there, nothing past it */
	d.bad[p.g.copy_b] = 1;
	EXPECT(load_refused(&d, VMEM_F_CSUM, &at) && !at);
	/* ... also when the forged one carries this pool's uuid */
	memcpy(((struct vmem_sb *)d.forged)->uuid, uuid_a, 16);
	vmem_sb_seal((void *)d.forged);
	load(&d, &l);
	EXPECT(!l.ok && !l.at);
	load_free(&l);
	/* Another pool's superblock where copy B's is: copy A disowns it */
	d.bad[p.g.copy_b] = 0;
	d.forged_at = 0;
	memcpy(((struct vmem_sb *)(d.buf + p.g.copy_b * SEC))->uuid, uuid_b,
	       16);
	vmem_sb_seal((void *)(d.buf + p.g.copy_b * SEC));
	EXPECT(load_refused(&d, VMEM_F_POOL_ID, &at) && at == p.g.copy_b);
	disk_free(&d);
	free(f.img);
	free(p.img);
}

/*
 * The probe ends at the first superblock it finds, valid or not: past
 * copy B's superblock, damaged but readable, a superblock in a device's
 * data carrying this pool's uuid (which any user can read in sysfs) is
 * not taken. A superblock A that keeps its magic names copy B's place
 * itself, or (version 1) says there is none: nothing is probed then.
 */
static void copies_forged_past_b(void)
{
	struct pool p, f, v1;
	struct disk d, w;
	struct load l;
	u64 at, b;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_format(&d, &p);
	b = p.g.copy_b;
	/* A superblock sealed as copy B's of this pool, at the next place */
	forged_pool(&f, 2 * b, uuid_a);
	EXPECT(f.g.copy_b >= d.nsec);
	d.forged_at = f.g.copy_b;
	memcpy(d.forged, f.img, SEC);
	/* Copy B's superblock damaged, its magic kept */
	d.buf[b * SEC + 40] ^= 0xff;
	/* ... sector 0 unreadable: the probe ends at copy B's */
	d.bad[0] = 1;
	EXPECT(load_refused(&d, VMEM_F_CSUM, &at) && !at);
	/* ... sector 0 torn, its magic kept: only copy B's place is read */
	d.bad[0] = 0;
	d.buf[80] ^= 0xff;
	EXPECT(load_refused(&d, VMEM_F_CSUM, &at) && !at);
	/* Copy B's superblock intact again: found */
	d.buf[b * SEC + 40] ^= 0xff;
	EXPECT(load_is(&d, &p, p.img, &l) && l.at == b);
	load_free(&l);
	/* Copy B's place damaged in a torn superblock A: probed for, found */
	((struct vmem_sb *)d.buf)->copy_b = htole64(b + 1);
	EXPECT(load_is(&d, &p, p.img, &l) && l.at == b);
	load_free(&l);

	/*
	 * Version 1, superblock A torn: it has no copy B, so a superblock
	 * of this pool at a probe place in its data is not taken
	 */
	pool_populated(&v1, 1);
	disk_new(&w, &v1);
	disk_format(&w, &v1);
	EXPECT(f.g.copy_b >= w.nsec);
	w.forged_at = f.g.copy_b;
	memcpy(w.forged, f.img, SEC);
	w.buf[40] ^= 1;
	EXPECT(load_refused(&w, VMEM_F_CSUM, &at) && !at);
	disk_free(&w);
	disk_free(&d);
	free(v1.img);
	free(f.img);
	free(p.img);
}

static void copies_pick(void)
{
	struct pool p;
	u8 a[SEC], b[SEC];
	enum vmem_fault fa, fb;
	u64 s = VMEM_MAP_START + 1;

	pool_populated(&p, 2);
	memcpy(a, sector_of(p.img, s), SEC);
	memcpy(b, a, SEC);
	EXPECT(vmem_copies_pick(a, b, s, &p.g, pool_id(&p), GIB, &fa, &fb) ==
	       VMEM_COPIES_SAME && !fa && !fb);
	other_version(&p, s, b);
	EXPECT(vmem_copies_pick(a, b, s, &p.g, pool_id(&p), GIB, &fa, &fb) ==
	       VMEM_COPIES_B_OLD);
	b[77] ^= 1;
	EXPECT(vmem_copies_pick(a, b, s, &p.g, pool_id(&p), GIB, &fa, &fb) ==
	       VMEM_COPIES_B_BAD && fb == VMEM_F_CSUM);
	EXPECT(vmem_copies_pick(b, a, s, &p.g, pool_id(&p), GIB, &fa, &fb) ==
	       VMEM_COPIES_A_BAD && fa == VMEM_F_CSUM);
	EXPECT(vmem_copies_pick(b, b, s, &p.g, pool_id(&p), GIB, &fa, &fb) ==
	       VMEM_COPIES_BOTH_BAD);
	/* A valid sector of another index is damage in this place */
	EXPECT(vmem_copies_pick(a, sector_of(p.img, s + 1), s, &p.g,
				pool_id(&p), GIB, &fa, &fb) ==
	       VMEM_COPIES_B_BAD && fb == VMEM_F_BLK_INDEX);
	/* A superblock of another layout, or pool, is too */
	memcpy(b, p.img, SEC);
	((struct vmem_sb *)b)->copy_b = htole64(p.g.copy_b * 2);
	vmem_sb_seal((void *)b);
	EXPECT(vmem_copies_pick(p.img, b, 0, &p.g, pool_id(&p), GIB, &fa,
				&fb) == VMEM_COPIES_B_BAD);
	EXPECT(vmem_sector_kind(0, &s) && s == 0);
	EXPECT(!strcmp(vmem_sector_kind(9, &s), "devtable") && s == 8);
	EXPECT(!strcmp(vmem_sector_kind(12, &s), "mapsector") && s == 2);
	free(p.img);
}

/* ---- updates: the writes each metadata update makes, in order ---- */

/* One write: @n image sectors of @src, from image sector @s, to @at + @s */
struct wr {
	u64 at;
	u64 s;
	u64 n;
	u8 *src;
};

#define MAX_WR 4096

struct update {
	const char *name;
	struct wr w[MAX_WR];
	unsigned int nw;
	const u8 *states[3];	/* what each sector may load as */
	unsigned int nstates;
};

/*
 * Write the sectors set in @dirty (image sectors) of @img to the copy at
 * @at, in runs rounded to @lbs sectors, as the module's writes are
 */
static void add_writes(struct update *u, const struct pool *p, u8 *img,
		       const bool *dirty, u64 at, unsigned int lbs)
{
	u64 n = p->g.meta_sectors, first, i;
	bool any;

	for (first = 0; first < n; first += lbs) {
		any = false;
		for (i = first; i < first + lbs && i < n; i++)
			any |= dirty[i];
		if (!any)
			continue;
		if (u->nw == MAX_WR)
			abort();
		u->w[u->nw++] = (struct wr){ at, first,
			first + lbs <= n ? lbs : n - first, img };
	}
}

/*
 * How a write is interrupted: not at all written, half of each sector new
 * (either half), unreadable (a drive whose ECC fails on a sector it was
 * writing when the power went), or written whole
 */
enum tear { T_NONE, T_FIRST, T_SECOND, T_UNREADABLE, T_ALL, T_NR };

/* Apply write @w to @d; a torn one is torn in every sector it covers */
static void apply(struct disk *d, const struct wr *w, enum tear t,
		  const u8 *old)
{
	u64 i;

	for (i = 0; i < w->n; i++) {
		u8 *dst = d->buf + (w->at + w->s + i) * SEC;
		const u8 *src = w->src + (w->s + i) * SEC;

		switch (t) {
		case T_NONE:
			break;
		case T_FIRST:	/* new first half, old second half */
			memcpy(dst, src, SEC / 2);
			break;
		case T_SECOND:
			memcpy(dst + SEC / 2, src + SEC / 2, SEC / 2);
			break;
		case T_UNREADABLE:
			d->bad[w->at + w->s + i] = 1;
			break;
		default:
			memcpy(dst, src, SEC);
			break;
		}
	}
	(void)old;
}

static u64 tears;

/*
 * Run update @u from disk @d at every step, with every kind of tear:
 * each load must be a valid pool each of whose sectors is one of
 * u->states; at the end the disk loads to the last state, with no copy
 * left to rewrite
 */
static void run_update(struct update *u, struct disk *d,
		       const struct pool *p)
{
	struct disk w;
	struct load l;
	unsigned int i, j, k;
	int t;
	u64 s, bad = 0;

	disk_new(&w, p);
	for (i = 0; i < u->nw; i++)
		for (t = 0; t < T_NR; t++) {
			disk_copy(&w, d);
			for (j = 0; j < i; j++)
				apply(&w, &u->w[j], T_ALL, NULL);
			apply(&w, &u->w[i], t, NULL);
			load(&w, &l);
			tears++;
			if (!l.ok) {
				if (bad++ < 3)
					fprintf(stderr, "%s: write %u of %u, tear %d: refused (lost %llu, faults %llu, f %d)\n",
						u->name, i, u->nw, t,
						(unsigned long long)l.lost,
						(unsigned long long)l.faults,
						l.f);
				load_free(&l);
				continue;
			}
			for (s = 0; s < p->g.meta_sectors; s++) {
				for (k = 0; k < u->nstates; k++)
					if (!memcmp(sector_of(l.img, s),
						    u->states[k] + s * SEC,
						    SEC))
						break;
				if (k == u->nstates && bad++ < 3)
					fprintf(stderr, "%s: write %u of %u, tear %d: sector %llu is neither old nor new\n",
						u->name, i, u->nw, t,
						(unsigned long long)s);
			}
			load_free(&l);
		}
	for (i = 0; i < u->nw; i++)
		apply(d, &u->w[i], T_ALL, NULL);
	EXPECT(load_is(d, p, u->states[u->nstates - 1], &l));
	for (k = VMEM_COPIES_B_OLD; k <= VMEM_COPIES_BOTH_BAD; k++)
		EXPECT(!l.state[k]);
	load_free(&l);
	EXPECT(!bad);
	disk_free(&w);
}

static struct update upd;

static void update_init(const char *name, const u8 *old, const u8 *new)
{
	memset(&upd, 0, sizeof(upd));
	upd.name = name;
	upd.states[0] = old;
	upd.states[1] = new;
	upd.nstates = 2;
}

/* The sectors in which @a and @b differ */
static bool *diff(const struct pool *p, const u8 *a, const u8 *b)
{
	bool *d = calloc(p->g.meta_sectors, sizeof(*d));
	u64 s;

	if (!d)
		abort();
	for (s = 0; s < p->g.meta_sectors; s++)
		d[s] = memcmp(sector_of((u8 *)a, s), sector_of((u8 *)b, s),
			      SEC);
	return d;
}

/*
 * A commit from @old to @new: copy A of the changed sectors (rounded to
 * @lbs), flush, then copy B of them (the copy work)
 */
static void commit(struct disk *d, struct pool *p, u8 *old, u8 *new,
		   unsigned int lbs, const char *name)
{
	bool *dirty = diff(p, old, new);

	update_init(name, old, new);
	add_writes(&upd, p, new, dirty, 0, lbs);
	add_writes(&upd, p, new, dirty, p->g.copy_b, lbs);
	run_update(&upd, d, p);
	free(dirty);
}

/* A device-table or superblock write: copy A with FUA, then copy B */
static void sector_write(struct disk *d, struct pool *p, u8 *old, u8 *new,
			 u64 s, unsigned int lbs, const char *name)
{
	bool *dirty = calloc(p->g.meta_sectors, sizeof(*dirty));

	dirty[s] = true;
	update_init(name, old, new);
	add_writes(&upd, p, new, dirty, 0, lbs);
	add_writes(&upd, p, new, dirty, p->g.copy_b, lbs);
	run_update(&upd, d, p);
	free(dirty);
}

static void copies_torn_updates_lbs(unsigned int lbs)
{
	struct pool p;
	struct disk d;
	u8 *s0, *s1, *s2, *s3, *s4, *s5;
	bool *d1, *d2;
	struct vmem_sb *sb;
	u64 b;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_format(&d, &p);
	s0 = img_dup(&p, p.img);

	/* A device created: one device-table sector */
	s1 = img_dup(&p, s0);
	set_dev(&p, s1, 7, 1 << 16, VMEM_DEV_EXISTS);
	sector_write(&d, &p, s0, s1, vmem_devt_sector_of(7), lbs, "create");

	/* A commit giving it buckets in one map sector */
	s2 = img_dup(&p, s1);
	for (b = 1; b < 40; b++)
		if (!vmem_meta_entry(s2, b)->owner)
			set_map(&p, s2, b, 8, b);
	commit(&d, &p, s1, s2, lbs, "commit of one map sector");

	/* A commit over many map sectors, some shared with the last */
	s3 = img_dup(&p, s2);
	for (b = 41; b < 20 * 62; b += 31)
		if (!vmem_meta_entry(s3, b)->owner)
			set_map(&p, s3, b, 8, 100 + b);
	commit(&d, &p, s2, s3, lbs, "commit of many map sectors");

	/*
	 * Back to back: the next commit seals before the copy work ran, so
	 * it writes copy B of the last commit's sectors from its image
	 * first (which holds its own changes), flushes, then copy A of its
	 * own, then the copy work copy B of them
	 */
	s4 = img_dup(&p, s3);
	for (b = 20 * 62; b < 30 * 62; b += 7)
		if (!vmem_meta_entry(s4, b)->owner)
			set_map(&p, s4, b, 8, 3000 + b);
	set_map(&p, s4, 41, 0, 0);	/* a free, in a sector of s3's */
	d1 = diff(&p, s2, s3);
	d2 = diff(&p, s3, s4);
	update_init("back-to-back commits", s2, s3);
	add_writes(&upd, &p, s3, d1, 0, lbs);
	add_writes(&upd, &p, s4, d1, p.g.copy_b, lbs);
	add_writes(&upd, &p, s4, d2, 0, lbs);
	add_writes(&upd, &p, s4, d2, p.g.copy_b, lbs);
	upd.states[2] = s4;
	upd.nstates = 3;
	run_update(&upd, &d, &p);
	free(d1);
	free(d2);

	/* The generation bump of an attach */
	s5 = img_dup(&p, s4);
	sb = (void *)s5;
	sb->generation = htole64(le64toh(sb->generation) + 1);
	vmem_sb_seal(sb);
	sector_write(&d, &p, s4, s5, 0, lbs, "generation");

	/* A delete: marked, its buckets freed, its record cleared */
	memcpy(s0, s5, p.g.meta_sectors * SEC);
	set_dev(&p, s0, 7, 1 << 16, VMEM_DEV_EXISTS | VMEM_DEV_DELETING);
	sector_write(&d, &p, s5, s0, vmem_devt_sector_of(7), lbs,
		     "delete: mark");
	memcpy(s1, s0, p.g.meta_sectors * SEC);
	for (b = 0; b < p.g.nr_buckets; b++)
		if (vmem_meta_entry(s1, b)->owner == 8)
			set_map(&p, s1, b, 0, 0);
	commit(&d, &p, s0, s1, lbs, "delete: free");
	memcpy(s2, s1, p.g.meta_sectors * SEC);
	set_dev(&p, s2, 7, 0, 0);
	sector_write(&d, &p, s1, s2, vmem_devt_sector_of(7), lbs,
		     "delete: clear");

	free(s0);
	free(s1);
	free(s2);
	free(s3);
	free(s4);
	free(s5);
	disk_free(&d);
	free(p.img);
}

static void copies_torn_updates(void)
{
	tears = 0;
	copies_torn_updates_lbs(1);
	copies_torn_updates_lbs(8);
	printf("copies: %llu torn writes across the updates' steps, each loaded to old or new\n",
	       (unsigned long long)tears);
}

/*
 * Attach's rewrite of damaged copies: copies A first, then copies B;
 * a tear of any of those writes still loads to the image
 */
static void copies_torn_rewrite(void)
{
	struct pool p;
	struct disk d;
	bool *fa, *fb;
	u64 s;

	pool_populated(&p, 2);
	disk_new(&d, &p);
	disk_format(&d, &p);
	fa = calloc(p.g.meta_sectors, sizeof(*fa));
	fb = calloc(p.g.meta_sectors, sizeof(*fb));
	for (s = 0; s < p.g.meta_sectors; s += 13) {
		d.buf[s * SEC + 99] ^= 1;
		fa[s] = true;
	}
	for (s = 5; s < p.g.meta_sectors; s += 13) {
		d.buf[(p.g.copy_b + s) * SEC + 99] ^= 1;
		fb[s] = true;
	}
	update_init("rewrite of damaged copies", p.img, p.img);
	add_writes(&upd, &p, p.img, fa, 0, 1);
	add_writes(&upd, &p, p.img, fb, p.g.copy_b, 1);
	run_update(&upd, &d, &p);
	free(fa);
	free(fb);
	disk_free(&d);
	free(p.img);
}

/*
 * Upgrade of a version 1 pool, as vmemctl upgrade writes it: copy B's
 * device table and map, copy B's superblock, copy A's superblock. Every
 * step, torn or not, loads as version 1 or as version 2 with the same
 * devices and map.
 */
static void copies_torn_upgrade(void)
{
	struct pool v1, v2;
	struct disk d;
	struct vmem_sb *sb;
	bool *body, *sb0;
	u64 s;

	pool_populated(&v1, 1);
	v2 = v1;
	EXPECT(vmem_geom_upgrade(&v1.g, &v2.g) == VMEM_OK);
	v2.img = img_dup(&v1, v1.img);
	sb = (void *)v2.img;
	sb->version = htole32(2);
	sb->copy_b = htole64(v2.g.copy_b);
	sb->map_max = htole64(v2.g.map_max);
	vmem_sb_seal(sb);
	disk_new(&d, &v2);
	disk_format(&d, &v1);
	body = calloc(v1.g.meta_sectors, sizeof(*body));
	sb0 = calloc(v1.g.meta_sectors, sizeof(*sb0));
	for (s = 1; s < v1.g.meta_sectors; s++)
		body[s] = true;
	sb0[0] = true;
	update_init("upgrade", v1.img, v2.img);
	add_writes(&upd, &v2, v2.img, body, v2.g.copy_b, 1);
	add_writes(&upd, &v2, v2.img, sb0, v2.g.copy_b, 1);
	add_writes(&upd, &v2, v2.img, sb0, 0, 1);
	run_update(&upd, &d, &v2);
	/*
	 * The last write torn elsewhere: superblock A's first 4 or 8 bytes
	 * old (its checksum; version 1), or all from copy_b on (no copy B
	 * named): copy B's is found, below the data, and taken
	 */
	for (s = 0; s < 3; s++) {
		static const unsigned int cut[] = { 4, 8, 96 };
		struct disk w;
		struct load l;

		disk_new(&w, &v2);
		disk_format(&w, &v1);
		memcpy(w.buf + v2.g.copy_b * SEC, v2.img, v2.g.meta_sectors * SEC);
		memcpy(w.buf, v2.img, SEC);
		if (s < 2)
			memcpy(w.buf, v1.img, cut[s]);
		else
			memcpy(w.buf + cut[s], v1.img + cut[s], SEC - cut[s]);
		EXPECT(load_is(&w, &v2, v2.img, &l) && l.at == v2.g.copy_b);
		load_free(&l);
		disk_free(&w);
	}
	free(body);
	free(sb0);
	disk_free(&d);
	free(v2.img);
	free(v1.img);
}

int main(void)
{
	RUN(copies_pick);
	RUN(copies_every_sector);
	RUN(copies_sb_bits);
	RUN(copies_torn_blocks);
	RUN(copies_both_bad);
	RUN(copies_refuse_foreign);
	RUN(copies_forged_sb);
	RUN(copies_forged_past_b);
	RUN(copies_torn_updates);
	RUN(copies_torn_rewrite);
	RUN(copies_torn_upgrade);
	printf("copies: %llu loads\n", (unsigned long long)loads);
	return tests_failed ? 1 : 0;
}
