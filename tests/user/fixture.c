// SPDX-License-Identifier: GPL-2.0
/*
 * Fixtures shared by copies_test.c and grow_test.c: see fixture.h.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

const u8 uuid_a[16] = { 0xa1, 0xa2, 0xa3, 0xa4, 5, 6, 0x47, 8,
			0x89, 10, 11, 12, 13, 14, 15, 16 };
const u8 uuid_b[16] = { 0xb1, 0xb2, 0xb3, 0xb4, 5, 6, 0x47, 8,
			0x89, 10, 11, 12, 13, 14, 15, 16 };

u32 pool_id(const struct pool *p)
{
	return vmem_pool_id((const struct vmem_sb *)p->img);
}

/* Set device record @id in @img, an image of pool @p */
void set_dev(struct pool *p, u8 *img, u32 id, u64 cap, u32 flags)
{
	struct vmem_dev_rec *r = vmem_meta_rec(img, id);

	r->capacity_pages = htole64(cap);
	r->budget_buckets = 0;
	r->flags = htole32(flags);
	vmem_meta_seal(img, vmem_devt_sector_of(id), pool_id(p));
}

/* Set the map entry of bucket @b in @img, an image of pool @p */
void set_map(struct pool *p, u8 *img, u64 b, u32 owner, u32 vb)
{
	struct vmem_map_entry *e = vmem_meta_entry(img, b);

	e->owner = owner;
	e->vbucket = htole32(vb);
	e->flags = 0;
	vmem_meta_seal(img, vmem_map_sector_of(b), pool_id(p));
}

/* An all-zero disk the size of @p's metadata area, every sector readable */
void disk_new(struct disk *d, const struct pool *p)
{
	d->dev_bytes = p->dev_bytes;
	d->nsec = p->g.data_start * VMEM_SECTORS_PER_PAGE;
	d->buf = calloc(d->nsec, SEC);
	d->bad = calloc(d->nsec, 1);
	d->forged_at = 0;
	if (!d->buf || !d->bad)
		abort();
}

void disk_free(struct disk *d)
{
	free(d->buf);
	free(d->bad);
}

void disk_copy(struct disk *to, const struct disk *from)
{
	memcpy(to->buf, from->buf, from->nsec * SEC);
	memcpy(to->bad, from->bad, from->nsec);
	to->dev_bytes = from->dev_bytes;
}

/* What format writes: copy A, and copy B in version 2 */
void disk_format(struct disk *d, const struct pool *p)
{
	memcpy(d->buf, p->img, p->g.meta_sectors * SEC);
	if (p->g.version >= 2)
		memcpy(d->buf + p->g.copy_b * SEC, p->img,
		       p->g.meta_sectors * SEC);
}

/* vmem_read_fn of a disk */
int disk_read(void *ctx, u64 sector, void *buf)
{
	struct disk *d = ctx;

	if (sector < d->nsec && d->bad[sector])
		return -1;
	if (sector < d->nsec)
		memcpy(buf, d->buf + sector * SEC, SEC);
	else if (d->forged_at && sector == d->forged_at)
		memcpy(buf, d->forged, SEC);
	else
		memset(buf, 0, SEC);
	return 0;
}

/* Read a copy of the image's sectors at @at, unreadable ones zero */
u8 *disk_read_copy(struct disk *d, u64 at, u64 n)
{
	u8 *c = calloc(n ? n : 1, SEC);
	u64 s;

	if (!c)
		abort();
	for (s = 0; s < n; s++)
		if (disk_read(d, at + s, c + s * SEC))
			memset(c + s * SEC, 0, SEC);
	return c;
}
