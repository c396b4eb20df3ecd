// SPDX-License-Identifier: GPL-2.0
/*
 * imgtool: craft states of a formatted vmem image for the vmemctl tests
 * (devices, mapped buckets, damage), resealing each sector it changes
 * with the codec's own vmem_blk_seal() (vmem_sb_seal() for the superblock).
 *
 *   imgtool dev IMG ID CAP_PAGES BUDGET FLAGS   set a device record
 *   imgtool map IMG BUCKET OWNER VBUCKET        set a map entry (owner is
 *                                               the device id + 1, 0 free)
 *   imgtool zeroed IMG BUCKET                   mark a free bucket known
 *                                               zero (VMEM_ENTRY_ZEROED)
 *   imgtool rocompat IMG FLAGS                  set the superblock's
 *                                               ro_compat feature flags
 *   imgtool flip IMG OFFSET                     invert one byte, no reseal
 *   imgtool copyb IMG                           print copy B's first sector
 *                                               (0 in layout version 1)
 *
 * In layout version 2 dev, map, zeroed and rocompat change both copies of
 * the sector, as the module would (read from copy A); IMGTOOL_COPY=A or B
 * makes them change that copy only (the other keeps its old content).
 */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vmem/meta.h>

static int fd;
/* Copy B's first sector, 0 in layout version 1 */
static u64 copy_b;

static void rw_at(void *buf, u64 sector, bool wr)
{
	ssize_t n;

	if (wr)
		n = pwrite(fd, buf, VMEM_SECTOR_SIZE, sector * VMEM_SECTOR_SIZE);
	else
		n = pread(fd, buf, VMEM_SECTOR_SIZE, sector * VMEM_SECTOR_SIZE);
	if (n != VMEM_SECTOR_SIZE) {
		perror("imgtool: sector I/O");
		exit(2);
	}
}

/*
 * Read a metadata sector from the copy being changed, write it to both
 * copies (or the one IMGTOOL_COPY names)
 */
static void rw_sector(void *buf, u64 sector, bool wr)
{
	const char *c = getenv("IMGTOOL_COPY");
	bool only_b = c && !strcmp(c, "B") && copy_b;

	if (!wr) {
		rw_at(buf, only_b ? copy_b + sector : sector, false);
		return;
	}
	if (!only_b)
		rw_at(buf, sector, true);
	if (copy_b && !(c && !strcmp(c, "A")))
		rw_at(buf, copy_b + sector, true);
}

static u64 num(const char *s)
{
	char *end;
	u64 v = strtoull(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "imgtool: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int set_dev(char **argv, u32 pool_id)
{
	struct vmem_devt_sector s;
	u32 id = num(argv[0]);
	u64 sector = vmem_devt_sector_of(id);
	struct vmem_dev_rec *r = &s.dev[vmem_devt_slot_of(id)];

	rw_sector(&s, sector, false);
	r->capacity_pages = htole64(num(argv[1]));
	r->budget_buckets = htole32(num(argv[2]));
	r->flags = htole32(num(argv[3]));
	vmem_blk_seal(&s, VMEM_DEVT_MAGIC, sector - VMEM_DEVT_START, pool_id);
	rw_sector(&s, sector, true);
	return 0;
}

static int set_map(char **argv, u32 pool_id)
{
	struct vmem_map_sector s;
	u64 b = num(argv[0]);
	struct vmem_map_entry *e = &s.entry[vmem_map_slot_of(b)];

	rw_sector(&s, vmem_map_sector_of(b), false);
	e->owner = num(argv[1]);
	e->vbucket = htole32(num(argv[2]));
	/* As in the module: a bucket given to a device is no longer zeroed */
	e->flags = e->owner ? 0 : e->flags;
	vmem_blk_seal(&s, VMEM_MAP_MAGIC, b / VMEM_ENTRIES_PER_SECTOR,
		      pool_id);
	rw_sector(&s, vmem_map_sector_of(b), true);
	return 0;
}

/*
 * After "format --no-zero" of a sparse image every bucket reads as zeros
 * but none is marked: marking a few steers the module's allocator, which
 * hands out marked buckets first, lowest first
 */
static int set_zeroed(char **argv, u32 pool_id)
{
	struct vmem_map_sector s;
	u64 b = num(argv[0]);
	struct vmem_map_entry *e = &s.entry[vmem_map_slot_of(b)];

	rw_sector(&s, vmem_map_sector_of(b), false);
	if (e->owner != VMEM_OWNER_FREE) {
		fprintf(stderr, "imgtool: bucket %llu is not free\n",
			(unsigned long long)b);
		return 2;
	}
	e->flags |= VMEM_ENTRY_ZEROED;
	vmem_blk_seal(&s, VMEM_MAP_MAGIC, b / VMEM_ENTRIES_PER_SECTOR,
		      pool_id);
	rw_sector(&s, vmem_map_sector_of(b), true);
	return 0;
}

static int set_ro_compat(char **argv)
{
	struct vmem_sb s;

	rw_sector(&s, 0, false);
	s.ro_compat = htole32(num(argv[0]));
	vmem_sb_seal(&s);
	rw_sector(&s, 0, true);
	return 0;
}

static int flip(char **argv)
{
	u64 off = num(argv[0]);
	unsigned char c;

	if (pread(fd, &c, 1, off) != 1) {
		perror("imgtool: read");
		return 2;
	}
	c ^= 0xff;
	if (pwrite(fd, &c, 1, off) != 1) {
		perror("imgtool: write");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct vmem_sb sb;
	int ret;

	if (argc < 3) {
		fprintf(stderr, "usage: imgtool dev|map|zeroed|rocompat|flip|copyb IMG ARGS...\n");
		return 2;
	}
	fd = open(argv[2], O_RDWR);
	if (fd < 0) {
		perror(argv[2]);
		return 2;
	}
	rw_at(&sb, 0, false);
	if (le32toh(sb.version) >= 2)
		copy_b = le64toh(sb.copy_b);
	if (!strcmp(argv[1], "dev") && argc == 7) {
		ret = set_dev(argv + 3, vmem_pool_id(&sb));
	} else if (!strcmp(argv[1], "map") && argc == 6) {
		ret = set_map(argv + 3, vmem_pool_id(&sb));
	} else if (!strcmp(argv[1], "zeroed") && argc == 4) {
		ret = set_zeroed(argv + 3, vmem_pool_id(&sb));
	} else if (!strcmp(argv[1], "rocompat") && argc == 4) {
		ret = set_ro_compat(argv + 3);
	} else if (!strcmp(argv[1], "flip") && argc == 4) {
		ret = flip(argv + 3);
	} else if (!strcmp(argv[1], "copyb") && argc == 3) {
		printf("%llu\n", (unsigned long long)copy_b);
		ret = 0;
	} else {
		fprintf(stderr, "imgtool: bad command or argument count\n");
		ret = 2;
	}
	if (fsync(fd))
		ret = 2;
	close(fd);
	return ret;
}
