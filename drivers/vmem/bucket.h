/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem bucket arithmetic: where a range of sectors crosses bucket
 * boundaries. Pure inline helpers, used by the I/O path and by KUnit.
 *
 * A bucket is 1 << shift sectors; virtual bucket vb of a device covers
 * sectors [vb << shift, (vb + 1) << shift).
 */
#ifndef _VMEM_BUCKET_H
#define _VMEM_BUCKET_H

#include <linux/minmax.h>
#include <linux/sort.h>
#include <linux/types.h>

/* Sectors from @sector to the end of its bucket */
static inline u64 vmem_bucket_left(u64 sector, unsigned int shift)
{
	return (1ULL << shift) - (sector & ((1ULL << shift) - 1));
}

/**
 * struct vmem_bucket_iter - walks [sector, end) one bucket at a time
 * @sector: next sector to visit
 * @end: first sector past the range
 * @shift: log2 of sectors per bucket
 */
struct vmem_bucket_iter {
	u64 sector;
	u64 end;
	unsigned int shift;
};

/**
 * vmem_bucket_next() - the next piece of the range within one bucket
 * @it: the iterator
 * @vb: out: virtual bucket of the piece
 * @off: out: offset of the piece in its bucket, in sectors
 * @len: out: length of the piece, in sectors (never 0)
 *
 * Return: false when the range is exhausted.
 */
static inline bool vmem_bucket_next(struct vmem_bucket_iter *it, u64 *vb,
				    u64 *off, u64 *len)
{
	if (it->sector >= it->end)
		return false;
	*vb = it->sector >> it->shift;
	*off = it->sector & ((1ULL << it->shift) - 1);
	*len = min_t(u64, it->end - it->sector,
		     vmem_bucket_left(it->sector, it->shift));
	it->sector += *len;
	return true;
}

/**
 * struct vmem_extent - a run of sectors
 * @start: first sector
 * @len: sectors
 */
struct vmem_extent {
	u64 start;
	u64 len;
};

static inline int vmem_extent_cmp(const void *a, const void *b)
{
	const struct vmem_extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/**
 * vmem_bucket_gaps() - the parts of a bucket that no extent covers
 * @e: extents within [0, @size), in any order, overlapping or not; room
 *	for one more. Overwritten with the gaps, in order.
 * @n: extents in @e
 * @size: sectors in the bucket
 *
 * Return: how many gaps @e now holds (0 when the extents cover it all).
 */
static inline unsigned int vmem_bucket_gaps(struct vmem_extent *e,
					    unsigned int n, u64 size)
{
	unsigned int i, g = 0;
	u64 at = 0, start, end;

	sort(e, n, sizeof(*e), vmem_extent_cmp, NULL);
	/* Gap g is written only after extent i >= g has been read */
	for (i = 0; i < n; i++) {
		start = e[i].start;
		end = min(start + e[i].len, size);
		if (start > at)
			e[g++] = (struct vmem_extent){ at, start - at };
		at = max(at, end);
	}
	if (at < size)
		e[g++] = (struct vmem_extent){ at, size - at };
	return g;
}

#endif /* _VMEM_BUCKET_H */
