// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl format: lay out a new, empty pool on a target.
 *
 * The first 64 KiB of the target must be all zero (and no btrfs
 * superblock may sit at 64 KiB) unless --force: we say what is there
 * (probe.c).
 *
 * The pool is layout version 2 (two copies of the metadata, see
 * include/vmem/format.h) unless --layout-version 1 asks for the old one;
 * --max-size sets how far it may grow (the map's room, default
 * VMEM_DEFAULT_GROWTH times the target).
 *
 * Write order, so that a crash never leaves a valid superblock in front
 * of metadata that does not belong to it: zero the old superblock and
 * sync; write the device table, the empty map and the zero padding after
 * them; in version 2 the same for copy B, with copy B's superblock, and
 * zeros wherever a reader looks for copy B's superblock before the data
 * area (so that no stale one of an earlier pool is found there); sync;
 * write the new superblock (copy A's) and sync.
 *
 * Zeroing the data area: when it is cheap (a hole punched in an image
 * file; BLKZEROOUT on a device that advertises write-zeroes) or asked
 * for (--zero), format zeroes every data bucket before writing any
 * metadata and marks them VMEM_ENTRY_ZEROED, so the module need not zero
 * a bucket the first time it gives it out. Otherwise the module zeroes
 * each bucket the first time, where its first writes do not cover it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include "vmemctl.h"

enum vctl_zero { VCTL_ZERO_AUTO, VCTL_ZERO_YES, VCTL_ZERO_NO };

#define VCTL_ZERO_CHUNK		(1024 * 1024)

/*
 * Describe what the target holds into @what, or leave it empty when the
 * target may be formatted without --force.
 */
static int vctl_describe(struct vctl_target *t, char *what, size_t len)
{
	enum vmem_page0_kind kind;
	struct vctl_pool p;
	struct vmem_sb b;
	const char *fmt;
	int ret;
	u64 s;

	what[0] = 0;
	ret = vctl_pool_read_sb(t, &p, &kind);
	if (ret)
		return ret;
	if (p.unreadable) {
		snprintf(what, len, "a start that cannot be read (sector 0)");
		return 0;
	}
	if (p.sb_fault) {
		ret = vctl_probe(t, &kind, &fmt);
		if (ret)
			return ret;
		/* Behind zeros: a version 2 pool's copy B, still whole? */
		s = kind == VMEM_PAGE0_EMPTY ? vctl_probe_copy_b(t, &b) : 0;
		if (s)
			snprintf(what, len,
				 "a vmem pool whose first 64 KiB are zeros (copy B of its superblock at sector %llu)",
				 (unsigned long long)s);
		if (kind == VMEM_PAGE0_EMPTY)
			return 0;
	}
	if (p.sb_fault && kind == VMEM_PAGE0_FOREIGN) {
		snprintf(what, len, "%s", fmt);
		return 0;
	}
	if (p.sb_fault) {
		snprintf(what, len, "a damaged vmem pool (superblock: %s)",
			 vmem_fault_str(p.sb_fault));
		return 0;
	}
	ret = vctl_pool_check(t, &p, NULL, NULL);
	if (!ret)
		snprintf(what, len,
			 "a vmem pool with %u device%s (%llu of %llu buckets in use%s)",
			 p.nr_devices, p.nr_devices == 1 ? "" : "s",
			 (unsigned long long)p.used_buckets,
			 (unsigned long long)p.g.nr_buckets,
			 p.faults || vctl_copy_faults(&p) || p.sb_at ?
			 ", damaged" : "");
	vctl_pool_free(&p);
	return ret;
}

static int vctl_random_uuid(u8 *uuid)
{
	ssize_t n;
	int fd;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		vctl_err("/dev/urandom: %s", strerror(errno));
		return VCTL_ERROR;
	}
	n = read(fd, uuid, 16);
	close(fd);
	if (n != 16) {
		vctl_err("/dev/urandom: short read");
		return VCTL_ERROR;
	}
	/* Mark it a random (version 4, variant 1) uuid */
	uuid[6] = (uuid[6] & 0x0f) | 0x40;
	uuid[8] = (uuid[8] & 0x3f) | 0x80;
	return 0;
}

/* Write zeros from byte @from up to byte @to */
static int vctl_write_zeros(struct vctl_target *t, u64 from, u64 to)
{
	void *zero = calloc(1, VCTL_ZERO_CHUNK);
	int ret = 0;

	if (!zero) {
		vctl_err("out of memory");
		return VCTL_ERROR;
	}
	while (!ret && from < to) {
		u64 n = to - from < VCTL_ZERO_CHUNK ? to - from :
			VCTL_ZERO_CHUNK;

		ret = vctl_pwrite(t, zero, n, from);
		from += n;
	}
	free(zero);
	return ret;
}

/* Padding zeroed after each copy's map, at most (the map's room is not) */
#define VCTL_PAD_ZERO_MAX	(1024 * 1024)

/* Zero [@from, @to) sectors, but at most VCTL_PAD_ZERO_MAX bytes of it */
static int vctl_zero_pad(struct vctl_target *t, u64 from, u64 to)
{
	u64 end;

	if (from >= to)
		return 0;
	end = to - from > VCTL_PAD_ZERO_MAX / VMEM_SECTOR_SIZE ?
	      from + VCTL_PAD_ZERO_MAX / VMEM_SECTOR_SIZE : to;
	return vctl_write_zeros(t, from * VMEM_SECTOR_SIZE,
				end * VMEM_SECTOR_SIZE);
}

static int vctl_write_pool(struct vctl_target *t, const void *meta,
			   const struct vmem_geom *g)
{
	static const u8 zero_sector[VMEM_SECTOR_SIZE];
	u64 meta_bytes = g->meta_sectors * VMEM_SECTOR_SIZE;
	u64 start = g->data_start * VMEM_SECTORS_PER_PAGE, s;
	unsigned int k;
	int ret;

	ret = vctl_pwrite(t, zero_sector, VMEM_SECTOR_SIZE, 0);
	if (!ret)
		ret = vctl_sync(t);
	if (!ret)
		ret = vctl_pwrite(t, (const u8 *)meta + VMEM_SECTOR_SIZE,
				  meta_bytes - VMEM_SECTOR_SIZE,
				  VMEM_SECTOR_SIZE);
	if (ret)
		return ret;
	if (g->version < 2) {
		ret = vctl_write_zeros(t, meta_bytes,
				       g->data_start * VMEM_PAGE_SIZE);
		goto out;
	}
	ret = vctl_zero_pad(t, g->meta_sectors, g->copy_b);
	/* Not where either copy's metadata is, of course */
	for (k = 0; !ret && (s = vmem_copy_b_probe(k)) && s < start; k++)
		if (s >= g->meta_sectors &&
		    (s < g->copy_b || s >= g->copy_b + g->meta_sectors))
			ret = vctl_pwrite(t, zero_sector, VMEM_SECTOR_SIZE,
					  s * VMEM_SECTOR_SIZE);
	if (!ret)
		ret = vctl_pwrite(t, meta, meta_bytes,
				  g->copy_b * VMEM_SECTOR_SIZE);
	if (!ret)
		ret = vctl_zero_pad(t, g->copy_b + g->meta_sectors, start);
out:
	if (!ret)
		ret = vctl_sync(t);
	if (!ret)
		ret = vctl_pwrite(t, meta, VMEM_SECTOR_SIZE, 0);
	if (!ret)
		ret = vctl_sync(t);
	return ret;
}

/* Does the block device under @fd advertise write-zeroes? */
static bool vctl_has_write_zeroes(int fd)
{
	unsigned long long max = 0;
	char path[96];
	struct stat st;
	FILE *f;

	if (fstat(fd, &st))
		return false;
	snprintf(path, sizeof(path),
		 "/sys/dev/block/%u:%u/queue/write_zeroes_max_bytes",
		 major(st.st_rdev), minor(st.st_rdev));
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%llu", &max) != 1)
		max = 0;
	fclose(f);
	return max > 0;
}

/* What happens to a bucket that format did not zero */
#define VCTL_ZERO_LATER \
	"each bucket is zeroed on first use unless its first writes cover it"

/*
 * Zero bytes [@from, end of target) when cheap or asked to. Returns
 * whether the range now reads as zeros; failure to zero is not an error
 * (buckets are then zeroed or written whole on first use) unless --zero
 * asked for it.
 */
static int vctl_zero_data(struct vctl_target *t, u64 from, enum vctl_zero z,
			  bool *zeroed, const char **how)
{
	u64 range[2] = { from, t->bytes - from };

	*zeroed = false;
	*how = "not zeroed (--no-zero): " VCTL_ZERO_LATER;
	if (z == VCTL_ZERO_NO)
		return 0;
	if (!t->is_blk) {
		if (!fallocate(t->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, from, t->bytes - from)) {
			*zeroed = true;
			*how = "zeroed (hole punched)";
			return 0;
		}
		*how = "not zeroed (the filesystem cannot punch holes): " VCTL_ZERO_LATER;
		if (z != VCTL_ZERO_YES)
			return 0;
		if (vctl_write_zeros(t, from, t->bytes))
			return VCTL_ERROR;
		*zeroed = true;
		*how = "zeroed (written)";
		return 0;
	}
	if (z == VCTL_ZERO_AUTO && !vctl_has_write_zeroes(t->fd)) {
		*how = "not zeroed (no write-zeroes support; --zero forces it): " VCTL_ZERO_LATER;
		return 0;
	}
	if (ioctl(t->fd, BLKZEROOUT, range)) {
		vctl_err("%s: zeroing the data area failed: %s", t->path,
			 strerror(errno));
		if (z == VCTL_ZERO_YES)
			return VCTL_ERROR;
		*how = "not zeroed (BLKZEROOUT failed): " VCTL_ZERO_LATER;
		return 0;
	}
	*zeroed = true;
	*how = "zeroed (BLKZEROOUT)";
	return 0;
}

static void vctl_print_geom(const struct vctl_target *t,
			    const struct vmem_geom *g, const u8 *uuid)
{
	u64 bucket = (u64)g->bucket_pages * VMEM_PAGE_SIZE;
	u64 start = g->data_start * VMEM_PAGE_SIZE;
	char h[VCTL_HUMAN_LEN], u[VCTL_UUID_LEN];

	printf("%s: formatted vmem pool\n", t->path);
	vctl_human(h, sizeof(h), t->bytes);
	printf("  size:            %s (%llu bytes)\n", h,
	       (unsigned long long)t->bytes);
	vctl_human(h, sizeof(h), bucket);
	printf("  bucket size:     %s (%llu bytes)\n", h,
	       (unsigned long long)bucket);
	printf("  buckets:         %llu\n", (unsigned long long)g->nr_buckets);
	printf("  map sectors:     %llu\n", (unsigned long long)g->map_sectors);
	if (g->version >= 2) {
		printf("  layout:          version 2, metadata copies at sectors 0 and %llu\n",
		       (unsigned long long)g->copy_b);
		vctl_human(h, sizeof(h),
			   g->map_max * VMEM_ENTRIES_PER_SECTOR * bucket);
		printf("  max size:        %s (room for %llu buckets)\n", h,
		       (unsigned long long)(g->map_max *
					    VMEM_ENTRIES_PER_SECTOR));
	} else {
		printf("  layout:          version 1, one metadata copy\n");
	}
	vctl_human(h, sizeof(h), start);
	printf("  data start:      %s (page %llu, byte %llu)\n", h,
	       (unsigned long long)g->data_start, (unsigned long long)start);
	vctl_human(h, sizeof(h), g->nr_buckets * bucket);
	printf("  usable capacity: %s (%llu bytes)\n", h,
	       (unsigned long long)(g->nr_buckets * bucket));
	vctl_uuid_str(u, sizeof(u), uuid);
	printf("  uuid:            %s\n", u);
}

static bool vctl_bucket_pages(const char *arg, u32 *pages)
{
	u64 bytes;

	if (!vctl_parse_size(arg, &bytes) || !vmem_is_pow2(bytes) ||
	    bytes < (u64)VMEM_MIN_BUCKET_PAGES * VMEM_PAGE_SIZE ||
	    bytes > (u64)VMEM_MAX_BUCKET_PAGES * VMEM_PAGE_SIZE) {
		vctl_err("bucket size '%s': must be a power of two from 64K to 1G",
			 arg);
		return false;
	}
	*pages = bytes >> VMEM_PAGE_SHIFT;
	return true;
}

int cmd_format(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bucket-size", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ "zero", no_argument, NULL, 'z' },
		{ "no-zero", no_argument, NULL, 'Z' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "layout-version", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	u32 bucket_pages = VMEM_DEFAULT_BUCKET_PAGES, version = VMEM_VERSION;
	u64 max_bytes = 0;
	enum vmem_fault f;
	enum vctl_zero zero = VCTL_ZERO_AUTO;
	struct vctl_target t;
	struct vmem_geom g;
	bool force = false, zeroed;
	const char *how;
	char what[256];
	void *meta;
	u8 uuid[16];
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:fzZm:L:", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!vctl_parse_size(optarg, &max_bytes) || !max_bytes) {
				vctl_err("max size '%s': must be a positive size",
					 optarg);
				return vctl_usage();
			}
			break;
		case 'L':
			if (strcmp(optarg, "1") && strcmp(optarg, "2")) {
				vctl_err("layout version '%s': must be 1 or 2",
					 optarg);
				return vctl_usage();
			}
			version = optarg[0] - '0';
			break;
		case 'z':
			zero = VCTL_ZERO_YES;
			break;
		case 'Z':
			zero = VCTL_ZERO_NO;
			break;
		case 'b':
			if (!vctl_bucket_pages(optarg, &bucket_pages))
				return vctl_usage();
			break;
		case 'f':
			force = true;
			break;
		default:
			return vctl_bad_option(argv, optind, c);
		}
	}
	if (argc - optind != 1) {
		vctl_err("%s", argc == optind ? "no TARGET given" :
			 "too many arguments");
		return vctl_usage();
	}
	if (max_bytes && max_bytes < (u64)bucket_pages * VMEM_PAGE_SIZE) {
		vctl_err("max size %llu bytes: smaller than one bucket (%u KiB)",
			 (unsigned long long)max_bytes,
			 bucket_pages * (VMEM_PAGE_SIZE >> 10));
		return vctl_usage();
	}

	ret = vctl_target_open(&t, argv[optind], true);
	if (ret)
		return ret;
	if (max_bytes && version < 2) {
		vctl_err("--max-size needs layout version 2 (version 1 cannot grow)");
		ret = vctl_usage();
		goto out;
	}
	f = vmem_geom_layout(t.bytes, bucket_pages, max_bytes, version, &g);
	if (f) {
		vctl_err("%s: too small (%llu bytes) for a pool of %u KiB buckets%s: at least %llu bytes needed",
			 t.path, (unsigned long long)t.bytes,
			 bucket_pages * (VMEM_PAGE_SIZE >> 10),
			 max_bytes ? " and that max size" : "",
			 (unsigned long long)((g.data_start ? g.data_start :
					       VMEM_DATA_ALIGN_PAGES) +
					      bucket_pages) * VMEM_PAGE_SIZE);
		ret = VCTL_REFUSED;
		goto out;
	}
	ret = vctl_describe(&t, what, sizeof(what));
	if (ret)
		goto out;
	if (what[0] && !force) {
		vctl_err("%s holds %s; use --force to overwrite it", t.path,
			 what);
		ret = VCTL_REFUSED;
		goto out;
	}
	if (what[0])
		vctl_err("%s: overwriting %s (--force)", t.path, what);

	ret = vctl_random_uuid(uuid);
	if (ret)
		goto out;
	/* Before any metadata: the marks must never promise zeros too early */
	ret = vctl_zero_data(&t, g.data_start * VMEM_PAGE_SIZE, zero, &zeroed,
			     &how);
	if (ret)
		goto out;
	meta = malloc(g.meta_sectors * VMEM_SECTOR_SIZE);
	if (!meta) {
		vctl_err("cannot allocate %llu bytes for the metadata",
			 (unsigned long long)g.meta_sectors * VMEM_SECTOR_SIZE);
		ret = VCTL_ERROR;
		goto out;
	}
	vmem_meta_init(meta, &g, t.bytes >> VMEM_PAGE_SHIFT, uuid,
		       (u64)time(NULL), zeroed);
	ret = vctl_write_pool(&t, meta, &g);
	free(meta);
	if (!ret) {
		vctl_print_geom(&t, &g, uuid);
		printf("  data area:       %s\n", how);
	}
out:
	vctl_target_close(&t);
	return ret;
}
