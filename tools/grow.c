// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl grow: add buckets to a pool whose backing device grew (layout
 * version 2, whose map keeps room to grow: include/vmem/format.h, Grow).
 *
 * Online (the default) it asks the module, through VMEM_CTL_GROW, to grow
 * the attached pool; --auto does so only when the pool's autogrow switch
 * is on (the udev rule for a backing disk's capacity change runs it).
 *
 * Offline (--offline TARGET) it writes the grow itself, in the order
 * format.h gives, syncing after each step: the new map sectors, copy A
 * then copy B; then superblock A, then superblock B. Killed at any point,
 * the pool attaches at its old size or at its new one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "vmemctl.h"

/* Write image sectors [@s, @s + @n) of @meta at @at + @s and sync */
static int vctl_grow_write(struct vctl_target *t, const u8 *meta, u64 s,
			   u64 n, u64 at, const char *what)
{
	int ret = vctl_pwrite(t, meta + s * VMEM_SECTOR_SIZE,
			      n * VMEM_SECTOR_SIZE,
			      (at + s) * VMEM_SECTOR_SIZE);

	if (!ret)
		ret = vctl_sync(t);
	if (!ret)
		printf("wrote %s (sectors %llu..%llu)\n", what,
		       (unsigned long long)(at + s),
		       (unsigned long long)(at + s + n - 1));
	return ret;
}

/* vmem_report_fn of grow: print and count every fault */
static void vctl_grow_report(void *ctx, enum vmem_fault f, const char *what,
			     u64 index)
{
	u64 *faults = ctx;

	printf("vmemctl: grow: %s %llu: %s\n", what,
	       (unsigned long long)index, vmem_fault_str(f));
	(*faults)++;
}

static void vctl_grow_sizes(const char *path, const struct vmem_geom *o,
			    const struct vmem_geom *n)
{
	u64 bb = (u64)o->bucket_pages << VMEM_PAGE_SHIFT;
	char a[VCTL_HUMAN_LEN], b[VCTL_HUMAN_LEN];

	vctl_human(a, sizeof(a), o->nr_buckets * bb);
	vctl_human(b, sizeof(b), n->nr_buckets * bb);
	printf("%s: %llu to %llu buckets (%s to %s of data), map sectors %llu to %llu\n",
	       path, (unsigned long long)o->nr_buckets,
	       (unsigned long long)n->nr_buckets, a, b,
	       (unsigned long long)o->map_sectors,
	       (unsigned long long)n->map_sectors);
}

/* Why vmem_geom_grow() refused, for @path */
static int vctl_grow_refused(const char *path, enum vmem_fault f,
			     const struct vmem_geom *g)
{
	if (f == VMEM_F_VERSION)
		vctl_err("%s: layout version 1 keeps no room for the map to grow; run 'vmemctl upgrade' first",
			 path);
	else if (f == VMEM_F_TOO_SMALL)
		vctl_err("%s: the size given ends before the pool's %llu buckets; a pool cannot shrink",
			 path, (unsigned long long)g->nr_buckets);
	else
		vctl_err("%s: copy B of the metadata follows the data area, which cannot grow over it",
			 path);
	return VCTL_REFUSED;
}

static int vctl_grow_offline(const char *path, u64 size, bool dry_run)
{
	struct vctl_target t;
	struct vctl_pool p;
	struct vmem_geom ng;
	enum vmem_fault f;
	u64 faults = 0, older = 0, bytes, i;
	int ret;
	u8 *meta;

	ret = vctl_pool_open(&t, &p, path, !dry_run);
	if (ret)
		return ret;
	ret = VCTL_REFUSED;
	if (size > t.bytes) {
		vctl_err("%s: --size %llu is beyond its end (%llu bytes)",
			 t.path, (unsigned long long)size,
			 (unsigned long long)t.bytes);
		goto out;
	}
	bytes = size ? size : t.bytes;
	f = vmem_geom_grow(&p.g, bytes, &ng);
	if (f) {
		ret = vctl_grow_refused(t.path, f, &p.g);
		goto out;
	}
	ret = vctl_pool_check(&t, &p, vctl_grow_report, &faults);
	if (ret)
		goto out;
	ret = VCTL_REFUSED;
	/* And damaged copies, which check counts as faults too */
	faults += vctl_copy_faults(&p);
	/*
	 * And device-table or map sectors whose copy B is older than copy A:
	 * grow rewrites whole blocks of copy A, and a torn one would leave
	 * only copy B's older state. An older superblock B is a grow cut
	 * short, which this one finishes: its copy B is only a smaller pool.
	 */
	for (i = 0; i < p.nr_copies; i++)
		if (p.copies[i].sector && p.copies[i].state == VMEM_COPIES_B_OLD)
			older++;
	if (!faults && older) {
		vctl_err("%s: %llu sector%s whose copy B is older than copy A (a crash between their writes): run vmemctl repair first, or attach and detach the pool",
			 t.path, (unsigned long long)older,
			 older == 1 ? "" : "s");
		goto out;
	}
	if (faults) {
		vctl_err("%s: %llu fault%s: repair the pool first (vmemctl check, vmemctl repair)",
			 t.path, (unsigned long long)faults,
			 faults == 1 ? "" : "s");
		goto out;
	}
	ret = VCTL_OK;
	if (ng.nr_buckets == p.g.nr_buckets) {
		if (p.g.nr_buckets == p.g.map_max * VMEM_ENTRIES_PER_SECTOR)
			printf("%s: the map's room is full (%llu buckets, set by format --max-size); nothing to add\n",
			       t.path, (unsigned long long)p.g.nr_buckets);
		else
			printf("%s: the pool already spans %llu bytes; nothing to add\n",
			       t.path, (unsigned long long)bytes);
		goto out;
	}
	vctl_grow_sizes(t.path, &p.g, &ng);
	if (dry_run) {
		printf("%s: dry run: nothing written\n", t.path);
		goto out;
	}
	meta = realloc(p.meta, ng.meta_sectors * VMEM_SECTOR_SIZE);
	if (!meta) {
		vctl_err("cannot allocate the grown metadata");
		ret = VCTL_ERROR;
		goto out;
	}
	p.meta = meta;
	vmem_meta_grow(meta, &p.g, &ng, t.bytes >> VMEM_PAGE_SHIFT);
	f = vmem_sb_validate((void *)meta, t.bytes, true);
	if (f) {
		vctl_err("%s: the grown superblock would be invalid (%s); nothing written",
			 t.path, vmem_fault_str(f));
		ret = VCTL_ERROR;
		goto out;
	}
	if (ng.meta_sectors > p.g.meta_sectors) {
		ret = vctl_grow_write(&t, meta, p.g.meta_sectors,
				      ng.meta_sectors - p.g.meta_sectors, 0,
				      "copy A: new map sectors");
		if (!ret)
			ret = vctl_grow_write(&t, meta, p.g.meta_sectors,
					      ng.meta_sectors -
					      p.g.meta_sectors, ng.copy_b,
					      "copy B: new map sectors");
	}
	if (!ret)
		ret = vctl_grow_write(&t, meta, 0, 1, 0, "copy A: superblock");
	if (!ret)
		ret = vctl_grow_write(&t, meta, 0, 1, ng.copy_b,
				      "copy B: superblock");
	if (!ret)
		printf("%s: grown to %llu buckets\n", t.path,
		       (unsigned long long)ng.nr_buckets);
out:
	vctl_pool_free(&p);
	vctl_target_close(&t);
	return ret;
}

/* Is @path the attached pool's backing device? */
static int vctl_grow_is_backing(const char *path, bool *yes)
{
	struct vmem_ctl_pool info;
	struct stat st;
	int fd, ret;

	if (stat(path, &st)) {
		vctl_err("%s: %s", path, strerror(errno));
		return VCTL_ERROR;
	}
	ret = vctl_ctl_open(&fd);
	if (ret)
		return ret;
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, VMEM_CTL_POOL_INFO, &info))
		ret = vctl_ioctl_fail("pool info", errno);
	close(fd);
	*yes = S_ISBLK(st.st_mode) && info.attached &&
	       major(st.st_rdev) == info.backing_major &&
	       minor(st.st_rdev) == info.backing_minor;
	return ret;
}

static int vctl_grow_online(u64 size, bool autogrow, const char *dev)
{
	struct vmem_ctl_grow g;
	char a[VCTL_HUMAN_LEN];
	bool backing;
	int fd, ret;

	if (dev) {
		ret = vctl_grow_is_backing(dev, &backing);
		if (ret)
			return ret;
		if (!backing)
			return VCTL_OK;
	}
	ret = vctl_ctl_open(&fd);
	if (ret)
		return ret;
	memset(&g, 0, sizeof(g));
	g.size_bytes = size;
	g.flags = autogrow ? VMEM_CTL_GROW_AUTO : 0;
	if (ioctl(fd, VMEM_CTL_GROW, &g)) {
		ret = vctl_ioctl_fail("pool", errno);
		if (errno == EOPNOTSUPP)
			vctl_err("layout version 1 keeps no room for the map to grow; detach, run 'vmemctl upgrade', attach");
		close(fd);
		return ret;
	}
	close(fd);
	if (g.new_buckets > g.old_buckets)
		printf("pool grown from %llu to %llu buckets (room for %llu)\n",
		       (unsigned long long)g.old_buckets,
		       (unsigned long long)g.new_buckets,
		       (unsigned long long)g.max_buckets);
	else if (autogrow)
		printf("pool not grown (%llu buckets): autogrow is off, or there is nothing to add\n",
		       (unsigned long long)g.old_buckets);
	else if (g.old_buckets == g.max_buckets)
		printf("the map's room is full (%llu buckets); nothing to add\n",
		       (unsigned long long)g.old_buckets);
	else
		printf("nothing to add: the pool already spans %s\n",
		       size ? (vctl_human(a, sizeof(a), size), a) :
		       "its backing device");
	return VCTL_OK;
}

int cmd_grow(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offline", no_argument, NULL, 'o' },
		{ "size", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "auto", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	bool offline = false, dry_run = false, autogrow = false;
	u64 size = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":os:na", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			offline = true;
			break;
		case 's':
			if (!vctl_parse_size(optarg, &size) || !size) {
				vctl_err("size '%s': must be a positive size",
					 optarg);
				return vctl_usage();
			}
			break;
		case 'n':
			dry_run = true;
			break;
		case 'a':
			autogrow = true;
			break;
		default:
			return vctl_bad_option(argv, optind, c);
		}
	}
	if (offline) {
		if (autogrow) {
			vctl_err("--auto is for the attached pool, not --offline");
			return vctl_usage();
		}
		if (argc - optind != 1) {
			vctl_err("%s", argc == optind ? "no TARGET given" :
				 "too many arguments");
			return vctl_usage();
		}
		return vctl_grow_offline(argv[optind], size, dry_run);
	}
	if (dry_run) {
		vctl_err("--dry-run needs --offline");
		return vctl_usage();
	}
	if (argc - optind > (autogrow ? 1 : 0)) {
		vctl_err("too many arguments (a TARGET needs --offline)");
		return vctl_usage();
	}
	return vctl_grow_online(size, autogrow,
				argc > optind ? argv[optind] : NULL);
}
