/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixtures shared by copies_test.c and grow_test.c (fixture.c): a pool's
 * metadata image in memory, and a "disk" holding the metadata area of a
 * pool (both copies and the padding; the data area reads as zeros) that
 * the codec reads through disk_read().
 */
#ifndef _VMEM_TEST_FIXTURE_H
#define _VMEM_TEST_FIXTURE_H

#include <stdbool.h>
#include <vmem/meta.h>

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)
#define SEC VMEM_SECTOR_SIZE

extern const u8 uuid_a[16];
extern const u8 uuid_b[16];

/* A pool's metadata (one copy: the image) */
struct pool {
	struct vmem_geom g;
	u64 dev_bytes;
	u8 *img;		/* at least g.meta_sectors sectors */
};

u32 pool_id(const struct pool *p);
void set_dev(struct pool *p, u8 *img, u32 id, u64 cap, u32 flags);
void set_map(struct pool *p, u8 *img, u64 b, u32 owner, u32 vb);

/* A disk: the metadata area of a pool */
struct disk {
	u8 *buf;		/* sectors [0, nsec); the data area is zero */
	u64 nsec;
	u64 dev_bytes;
	u8 *bad;		/* per sector: cannot be read */
	u64 forged_at;		/* a data sector holding @forged, or 0 */
	u8 forged[SEC];
};

void disk_new(struct disk *d, const struct pool *p);
void disk_free(struct disk *d);
void disk_copy(struct disk *to, const struct disk *from);
void disk_format(struct disk *d, const struct pool *p);
int disk_read(void *ctx, u64 sector, void *buf);
u8 *disk_read_copy(struct disk *d, u64 at, u64 n);

#endif /* _VMEM_TEST_FIXTURE_H */
