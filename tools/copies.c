// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl upgrade and scrub: the second copy of the metadata (layout
 * version 2, include/vmem/format.h).
 *
 * upgrade converts a version 1 pool in place, offline. Copy A of version
 * 2 is exactly version 1's metadata, so only copy B is new: it goes into
 * version 1's zero padding before the data area (vmem_geom_upgrade()).
 * Order: copy B's device table and map, sync; copy B's superblock
 * (version 2), sync; copy A's superblock (version 2), sync. Killed before
 * the last write, the pool is version 1 (its superblock A is; version 1
 * ignores the padding); killed during it, superblock A may be torn, and
 * then copy B's superblock, found where the module and these tools look
 * for it, makes it version 2; after it, version 2. Each step is a pool
 * that attaches.
 *
 * scrub asks the attached pool's module to compare both copies of every
 * metadata sector on disk with what it holds in memory and rewrite those
 * that differ (sysfs "scrub"), and reports what it did.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "vmemctl.h"

/* vmem_report_fn of upgrade: count faults but interrupted deletions */
static void vctl_upgrade_report(void *ctx, enum vmem_fault f,
				const char *what, u64 index)
{
	u64 *faults = ctx;

	if (f == VMEM_F_DELETING)
		return;
	printf("vmemctl: upgrade: %s %llu: %s\n", what,
	       (unsigned long long)index, vmem_fault_str(f));
	(*faults)++;
}

/* Write @len bytes of @buf at sector @s and sync, saying what it was */
static int vctl_upgrade_write(struct vctl_target *t, const void *buf,
			      size_t len, u64 s, const char *what)
{
	int ret = vctl_pwrite(t, buf, len, s * VMEM_SECTOR_SIZE);

	if (!ret)
		ret = vctl_sync(t);
	if (!ret)
		printf("wrote %s (sectors %llu..%llu)\n", what,
		       (unsigned long long)s,
		       (unsigned long long)(s + len / VMEM_SECTOR_SIZE - 1));
	return ret;
}

int cmd_upgrade(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct vctl_target t;
	struct vctl_pool p;
	struct vmem_geom g;
	struct vmem_sb sb;
	bool dry_run = false;
	u64 faults = 0;
	int c, ret;
	u8 *meta;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n", opts, NULL)) != -1) {
		if (c != 'n')
			return vctl_bad_option(argv, optind, c);
		dry_run = true;
	}
	if (argc - optind != 1) {
		vctl_err("%s", argc == optind ? "no TARGET given" :
			 "too many arguments");
		return vctl_usage();
	}
	ret = vctl_pool_open(&t, &p, argv[optind], !dry_run);
	if (ret)
		return ret;
	if (p.g.version >= 2) {
		printf("%s: already layout version %u; nothing to do\n", t.path,
		       p.g.version);
		ret = VCTL_OK;
		goto out;
	}
	ret = vctl_pool_check(&t, &p, vctl_upgrade_report, &faults);
	if (ret)
		goto out;
	ret = VCTL_REFUSED;
	if (faults) {
		vctl_err("%s: %llu fault%s: repair the pool first (vmemctl check, vmemctl repair)",
			 t.path, (unsigned long long)faults,
			 faults == 1 ? "" : "s");
		goto out;
	}
	if (vmem_geom_upgrade(&p.g, &g)) {
		vctl_err("%s: its map (%llu sectors) leaves no room for a second copy before the data area (it fits up to %llu sectors, %llu buckets); such a pool cannot be upgraded in place",
			 t.path, (unsigned long long)p.g.map_sectors,
			 (unsigned long long)(VMEM_COPY_B_MIN - VMEM_MAP_START),
			 (unsigned long long)((VMEM_COPY_B_MIN - VMEM_MAP_START) *
					      VMEM_ENTRIES_PER_SECTOR));
		goto out;
	}
	sb = p.sb;
	sb.version = htole32(g.version);
	sb.copy_b = htole64(g.copy_b);
	sb.map_max = htole64(g.map_max);
	vmem_sb_seal(&sb);
	printf("%s: layout version 1 to 2: copy B at sectors %llu..%llu, map room for %llu buckets; data area unchanged\n",
	       t.path, (unsigned long long)g.copy_b,
	       (unsigned long long)(g.copy_b + VMEM_MAP_START + g.map_max - 1),
	       (unsigned long long)(g.map_max * VMEM_ENTRIES_PER_SECTOR));
	if (dry_run) {
		printf("%s: dry run: nothing written\n", t.path);
		ret = VCTL_OK;
		goto out;
	}
	meta = p.meta;
	ret = vctl_upgrade_write(&t, meta + VMEM_SECTOR_SIZE,
				 (g.meta_sectors - 1) * VMEM_SECTOR_SIZE,
				 g.copy_b + 1, "copy B: device table and map");
	if (!ret)
		ret = vctl_upgrade_write(&t, &sb, sizeof(sb), g.copy_b,
					 "copy B: superblock (version 2)");
	if (!ret)
		ret = vctl_upgrade_write(&t, &sb, sizeof(sb), 0,
					 "copy A: superblock (version 2)");
	if (!ret)
		printf("%s: upgraded to layout version 2\n", t.path);
out:
	vctl_pool_free(&p);
	vctl_target_close(&t);
	return ret;
}

/* The four numbers of scrub_stat */
static int vctl_scrub_stat(unsigned long long v[4])
{
	char buf[128];
	int ret;

	ret = vctl_sysfs_read(VCTL_SYSFS "scrub_stat", buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3]) != 4) {
		vctl_err("scrub_stat: unexpected '%s'", buf);
		return VCTL_ERROR;
	}
	return 0;
}

int cmd_scrub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long before[4], after[4];
	char attached[16], copies[16];
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		return vctl_bad_option(argv, optind, c);
	if (argc != optind) {
		vctl_err("too many arguments");
		return vctl_usage();
	}
	ret = vctl_sysfs_read(VCTL_SYSFS "attached", attached,
			      sizeof(attached));
	if (ret)
		return ret;
	if (strcmp(attached, "1")) {
		vctl_err("no pool attached");
		return VCTL_REFUSED;
	}
	ret = vctl_sysfs_read(VCTL_SYSFS "meta_copies", copies,
			      sizeof(copies));
	if (!ret)
		ret = vctl_scrub_stat(before);
	if (!ret)
		ret = vctl_sysfs_write(VCTL_SYSFS "scrub", "1");
	if (!ret)
		ret = vctl_scrub_stat(after);
	if (ret)
		return ret;
	printf("scrub: %llu metadata sectors compared with memory (%s), %llu rewritten, %llu unreadable blocks\n",
	       after[1] - before[1],
	       strcmp(copies, "2") ? "one copy: layout version 1" :
	       "both copies", after[2] - before[2], after[3] - before[3]);
	return VCTL_OK;
}
