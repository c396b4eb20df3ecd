// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl dump and check: read a pool offline and show or verify it.
 * Both rely on vmem_copies_merge() and vmem_meta_check()
 * (lib/vmem_format.c) for every rule, so what they accept is exactly what
 * the module accepts at attach time.
 *
 * Layout version 2 keeps two copies of every metadata sector. check
 * names every damaged copy (a fault: exit 1, though the module attaches
 * the pool and rewrites the copy from the good one, as repair does) and
 * every sector lost in both copies (the module refuses the pool); a copy
 * B older than its copy A is the normal state after a crash between the
 * two writes, and only noted (a "note:" line, not a "vmemctl: check:"
 * fault line).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vmemctl.h"

/*
 * Open TARGET and read a valid superblock (copy B's when copy A's is
 * damaged, as attach would), or say why not
 */
static int vctl_open_pool(const char *path, struct vctl_target *t,
			  struct vctl_pool *p)
{
	enum vmem_page0_kind kind;
	const char *what;
	int ret;

	ret = vctl_target_open(t, path, false);
	if (ret)
		return ret;
	ret = vctl_pool_read_sb(t, p, &kind);
	if (ret)
		goto fail;
	if (!p->sb_fault)
		return 0;
	ret = vctl_probe(t, &kind, &what);
	if (ret)
		goto fail;
	ret = VCTL_REFUSED;
	if (kind == VMEM_PAGE0_EMPTY)
		vctl_err("%s: not a vmem pool (the first 64 KiB are all zero: not formatted)",
			 path);
	else if (kind == VMEM_PAGE0_FOREIGN)
		vctl_err("%s: not a vmem pool: it holds %s", path, what);
	else
		vctl_err("%s: superblock: %s", path,
			 vmem_fault_str(p->sb_fault));
	vctl_orphan_hint(t);
fail:
	vctl_target_close(t);
	return ret;
}

/*
 * Sector 0 names no pool, but copy B's superblock of the pool whose
 * device table follows it is there: say how to restore it
 */
void vctl_orphan_hint(struct vctl_target *t)
{
	struct vmem_sb sb;
	char u[VCTL_UUID_LEN];
	u64 at = vctl_find_orphan_sb(t, &sb);

	if (!at)
		return;
	vctl_uuid_str(u, sizeof(u), sb.uuid);
	vctl_err("%s: but the device table after sector 0 is that of pool %s, whose superblock copy B is at sector %llu: if sector 0 was overwritten by mistake, 'vmemctl repair --superblock-from-copy' restores it",
		 t->path, u, (unsigned long long)at);
}

/* A format time as "2024-05-01 12:00:00 UTC", or the raw number */
static const char *vctl_time_str(char *buf, size_t len, u64 secs)
{
	time_t t = secs;
	struct tm tm;

	if ((u64)t != secs || !gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "%llu", (unsigned long long)secs);
	return buf;
}

/* One short word per device flag */
static const char *vctl_dev_flags(u32 flags)
{
	if (flags & VMEM_DEV_DELETING)
		return "deleting";
	return "-";
}

static void vctl_dump_text(const struct vctl_target *t,
			   const struct vctl_pool *p)
{
	const struct vmem_sb *sb = &p->sb;
	u64 bucket = (u64)p->g.bucket_pages * VMEM_PAGE_SIZE;
	char h[VCTL_HUMAN_LEN], b[VCTL_HUMAN_LEN], u[VCTL_UUID_LEN];
	u32 id;

	vctl_uuid_str(u, sizeof(u), sb->uuid);
	printf("superblock of %s:\n", t->path);
	printf("  version:      %u\n", le32toh(sb->version));
	printf("  features:     incompat 0x%x, ro_compat 0x%x, compat 0x%x\n",
	       le32toh(sb->incompat), le32toh(sb->ro_compat),
	       le32toh(sb->compat));
	printf("  uuid:         %s\n", u);
	vctl_human(h, sizeof(h), bucket);
	printf("  bucket size:  %s (%u pages)\n", h, p->g.bucket_pages);
	printf("  buckets:      %llu\n", (unsigned long long)p->g.nr_buckets);
	printf("  map sectors:  %llu\n", (unsigned long long)p->g.map_sectors);
	printf("  data start:   page %llu (byte %llu)\n",
	       (unsigned long long)p->g.data_start,
	       (unsigned long long)p->g.data_start * VMEM_PAGE_SIZE);
	vctl_human(h, sizeof(h), le64toh(sb->pool_pages) * VMEM_PAGE_SIZE);
	printf("  pool size:    %s (%llu pages)\n", h,
	       (unsigned long long)le64toh(sb->pool_pages));
	printf("  generation:   %llu\n",
	       (unsigned long long)le64toh(sb->generation));
	vctl_time_str(h, sizeof(h), le64toh(sb->format_time));
	printf("  formatted:    %s\n", h);
	if (p->g.version >= 2) {
		printf("  copies:       2, at sectors 0 and %llu\n",
		       (unsigned long long)p->g.copy_b);
		vctl_human(h, sizeof(h),
			   p->g.map_max * VMEM_ENTRIES_PER_SECTOR * bucket);
		printf("  max size:     %s (map room for %llu buckets)\n", h,
		       (unsigned long long)(p->g.map_max *
					    VMEM_ENTRIES_PER_SECTOR));
		printf("  copy state:   %llu damaged in copy A, %llu in copy B, %llu in both; %llu copies B older\n",
		       (unsigned long long)p->nr_state[VMEM_COPIES_A_BAD],
		       (unsigned long long)p->nr_state[VMEM_COPIES_B_BAD],
		       (unsigned long long)p->nr_state[VMEM_COPIES_BOTH_BAD],
		       (unsigned long long)p->nr_state[VMEM_COPIES_B_OLD]);
	} else {
		printf("  copies:       1 (layout version 1: vmemctl upgrade adds the second)\n");
	}

	printf("devices: %u\n", p->nr_devices);
	printf("%4s %10s %10s %10s %10s %s\n", "ID", "CAPACITY", "BUDGET",
	       "BUCKETS", "USED", "FLAGS");
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		const struct vmem_dev_rec *r = &p->view.devs[id];
		u32 flags = le32toh(r->flags);
		u32 budget = le32toh(r->budget_buckets);

		if (!(flags & VMEM_DEV_EXISTS))
			continue;
		vctl_human(h, sizeof(h),
			   le64toh(r->capacity_pages) * VMEM_PAGE_SIZE);
		if (budget)
			vctl_human(b, sizeof(b), budget * bucket);
		else
			snprintf(b, sizeof(b), "-");
		vctl_human(u, sizeof(u), p->view.used[id] * bucket);
		printf("%4u %10s %10s %10llu %10s %s\n", id, h, b,
		       (unsigned long long)p->view.used[id], u,
		       vctl_dev_flags(flags));
	}
	printf("map: %llu buckets, %llu used, %llu free (%llu known zero)\n",
	       (unsigned long long)p->g.nr_buckets,
	       (unsigned long long)p->used_buckets,
	       (unsigned long long)(p->g.nr_buckets - p->used_buckets),
	       (unsigned long long)p->view.zeroed);
	if (p->faults + vctl_copy_faults(p))
		printf("faults: %llu (run 'vmemctl check %s')\n",
		       (unsigned long long)(p->faults + vctl_copy_faults(p)),
		       t->path);
}

static void vctl_json_u64(const char *key, u64 v, bool comma)
{
	printf("\"%s\": %llu%s", key, (unsigned long long)v, comma ? ", " : "");
}

static void vctl_dump_json(const struct vctl_target *t,
			   const struct vctl_pool *p)
{
	const struct vmem_sb *sb = &p->sb;
	u64 bucket = (u64)p->g.bucket_pages * VMEM_PAGE_SIZE;
	char u[VCTL_UUID_LEN];
	bool first = true;
	u32 id;

	vctl_uuid_str(u, sizeof(u), sb->uuid);
	printf("{\"target\": ");
	vctl_json_str(stdout, t->path);
	printf(", ");
	vctl_json_u64("target_bytes", t->bytes, true);
	printf("\"superblock\": {\"uuid\": \"%s\", ", u);
	vctl_json_u64("version", le32toh(sb->version), true);
	vctl_json_u64("incompat", le32toh(sb->incompat), true);
	vctl_json_u64("ro_compat", le32toh(sb->ro_compat), true);
	vctl_json_u64("compat", le32toh(sb->compat), true);
	vctl_json_u64("bucket_pages", p->g.bucket_pages, true);
	vctl_json_u64("bucket_bytes", bucket, true);
	vctl_json_u64("nr_buckets", p->g.nr_buckets, true);
	vctl_json_u64("map_sectors", p->g.map_sectors, true);
	vctl_json_u64("data_start_pages", p->g.data_start, true);
	vctl_json_u64("data_start_bytes", p->g.data_start * VMEM_PAGE_SIZE,
		      true);
	vctl_json_u64("pool_pages", le64toh(sb->pool_pages), true);
	vctl_json_u64("generation", le64toh(sb->generation), true);
	vctl_json_u64("format_time", le64toh(sb->format_time), true);
	vctl_json_u64("copy_b_sector", p->g.copy_b, true);
	vctl_json_u64("map_max_sectors", p->g.map_max, true);
	vctl_json_u64("max_buckets", p->g.map_max * VMEM_ENTRIES_PER_SECTOR,
		      false);
	printf("},\n \"copies\": {");
	vctl_json_u64("count", p->g.version >= 2 ? 2 : 1, true);
	vctl_json_u64("superblock_at", p->sb_at, true);
	vctl_json_u64("a_damaged", p->nr_state[VMEM_COPIES_A_BAD], true);
	vctl_json_u64("b_damaged", p->nr_state[VMEM_COPIES_B_BAD], true);
	vctl_json_u64("b_older", p->nr_state[VMEM_COPIES_B_OLD], true);
	vctl_json_u64("lost", p->nr_state[VMEM_COPIES_BOTH_BAD], false);
	printf("},\n \"devices\": [");
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		const struct vmem_dev_rec *r = &p->view.devs[id];
		u32 flags = le32toh(r->flags);
		u32 budget = le32toh(r->budget_buckets);

		if (!(flags & VMEM_DEV_EXISTS))
			continue;
		printf("%s\n  {", first ? "" : ",");
		first = false;
		vctl_json_u64("id", id, true);
		vctl_json_u64("capacity_bytes",
			      le64toh(r->capacity_pages) * VMEM_PAGE_SIZE, true);
		vctl_json_u64("budget_buckets", budget, true);
		vctl_json_u64("budget_bytes", budget * bucket, true);
		vctl_json_u64("used_buckets", p->view.used[id], true);
		vctl_json_u64("used_bytes", p->view.used[id] * bucket, true);
		printf("\"deleting\": %s}",
		       flags & VMEM_DEV_DELETING ? "true" : "false");
	}
	printf("],\n \"map\": {");
	vctl_json_u64("buckets", p->g.nr_buckets, true);
	vctl_json_u64("used", p->used_buckets, true);
	vctl_json_u64("free", p->g.nr_buckets - p->used_buckets, true);
	vctl_json_u64("zeroed", p->view.zeroed, false);
	printf("},\n ");
	vctl_json_u64("faults", p->faults + vctl_copy_faults(p), false);
	printf("}\n");
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct vctl_target t;
	struct vctl_pool p;
	bool json = false;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":j", opts, NULL)) != -1) {
		if (c != 'j')
			return vctl_bad_option(argv, optind, c);
		json = true;
	}
	if (argc - optind != 1) {
		vctl_err("%s", argc == optind ? "no TARGET given" :
			 "too many arguments");
		return vctl_usage();
	}
	ret = vctl_open_pool(argv[optind], &t, &p);
	if (ret)
		return ret;
	ret = vctl_pool_check(&t, &p, NULL, NULL);
	if (!ret) {
		if (json)
			vctl_dump_json(&t, &p);
		else
			vctl_dump_text(&t, &p);
	}
	vctl_pool_free(&p);
	vctl_target_close(&t);
	return ret;
}

/* vmem_report_fn of check: one line per fault */
static void vctl_check_report(void *ctx, enum vmem_fault f,
			      const char *what, u64 index)
{
	(void)ctx;
	printf("vmemctl: check: %s %llu: %s\n", what,
	       (unsigned long long)index, vmem_fault_str(f));
}

/* check's lines on the copies: faults, and notes on older copies B */
static void vctl_check_copies(const struct vctl_pool *p)
{
	char line[256];
	u64 i;

	for (i = 0; i < p->nr_copies; i++) {
		const struct vctl_copy *c = &p->copies[i];

		/* A note is not a fault: no "vmemctl: check:" in front */
		printf("%s%s\n", c->state == VMEM_COPIES_B_OLD ? "note: " :
		       "vmemctl: check: ", vctl_copy_str(line, sizeof(line), p,
							  c));
	}
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 },
	};
	struct vctl_target t;
	struct vctl_pool p;
	u64 copies, faults;
	enum vmem_fault f;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		return vctl_bad_option(argv, optind, c);
	if (argc - optind != 1) {
		vctl_err("%s", argc == optind ? "no TARGET given" :
			 "too many arguments");
		return vctl_usage();
	}
	ret = vctl_open_pool(argv[optind], &t, &p);
	if (ret)
		return ret;
	ret = vctl_pool_check(&t, &p, vctl_check_report, NULL);
	if (!ret)
		vctl_check_copies(&p);
	copies = vctl_copy_faults(&p);
	faults = p.faults + copies;
	/* The module attaches read-write only: what it refuses so is a fault */
	f = vmem_sb_validate(&p.sb, t.bytes, true);
	if (!ret && f) {
		printf("vmemctl: check: superblock 0: %s (the module attaches a pool read-write only)\n",
		       vmem_fault_str(f));
		faults++;
	}
	if (!ret && faults) {
		printf("%s: %llu fault%s found", t.path,
		       (unsigned long long)faults, faults == 1 ? "" : "s");
		if (copies == faults && !p.lost)
			printf(" (damaged copies only: attach and repair rewrite them from the good ones)");
		printf("\n");
		ret = VCTL_REFUSED;
	} else if (!ret && !p.dup_checked) {
		/* Not checked is not clean: the module refuses a double */
		printf("%s: no fault found, but not fully checked: no memory for the duplicate-mapping check\n",
		       t.path);
		ret = VCTL_ERROR;
	} else if (!ret) {
		printf("%s: clean: %llu buckets of %u KiB, %llu used, %llu free, %u device%s",
		       t.path, (unsigned long long)p.g.nr_buckets,
		       p.g.bucket_pages * (VMEM_PAGE_SIZE >> 10),
		       (unsigned long long)p.used_buckets,
		       (unsigned long long)(p.g.nr_buckets - p.used_buckets),
		       p.nr_devices, p.nr_devices == 1 ? "" : "s");
		if (p.nr_state[VMEM_COPIES_B_OLD])
			printf(" (%llu cop%s B older than copy A: attach rewrites %s)",
			       (unsigned long long)p.nr_state[VMEM_COPIES_B_OLD],
			       p.nr_state[VMEM_COPIES_B_OLD] == 1 ? "y" : "ies",
			       p.nr_state[VMEM_COPIES_B_OLD] == 1 ? "it" : "them");
		printf("\n");
	}
	vctl_pool_free(&p);
	vctl_target_close(&t);
	return ret;
}
