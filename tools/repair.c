// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl repair: fix the kinds of metadata damage that have exactly one
 * safe fix, and refuse everything else.
 *
 * Safe (each fix only makes unreachable buckets free, or finishes what
 * the driver itself would finish at attach time):
 *  - a device record marked deleting (an interrupted deletion): free the
 *    buckets it still owns, then clear the record, in the driver's order;
 *  - a map entry owned by a device that does not exist, or mapped beyond
 *    its device's capacity: no read of any device can reach that bucket,
 *    so it is freed;
 *  - a free map entry with a stray virtual bucket number, or a non-zero
 *    entry past the last bucket: zeroed (they map nothing either way).
 *
 * Layout version 2 (two copies of every metadata sector): a damaged copy
 * (checksum, kind, place or pool wrong), or a copy B older than its copy
 * A (a crash between their writes), is restored from the other, as
 * attach would do. A map sector lost in both copies is refused unless
 * --drop-unreadable is given: then it is rewritten empty, so the (up to
 * 62) buckets it described are free and whatever devices held them read
 * zeros there; nothing says which devices those were, so this is never
 * done unasked.
 *
 * Refused (nothing is written at all if any of these is present):
 *  - any superblock fault (magic, checksum, newer version or features,
 *    geometry, size): the geometry is what every other check rests on;
 *  - a device-table sector that fails its checksum or header (in version
 *    2: in both copies), or an
 *    invalid device record: capacities are recorded nowhere else, and
 *    the buckets of a device whose record is unreadable would look
 *    ownerless; freeing them would destroy that device's data;
 *  - a map sector that fails its checksum or header (in version 2: in
 *    both copies; see --drop-unreadable), even when each of
 *    its entries still looks plausible: a flipped bit can turn a valid
 *    entry into another plausible one (another device, another virtual
 *    bucket), and resealing it would hand one device's data to another;
 *  - a virtual bucket mapped twice: which copy holds the data is
 *    unknowable;
 *  - an owned map entry with reserved bytes set (an unknown format).
 *
 * Crash safety: every change is one 512-byte sector rebuilt from the
 * valid on-disk copy, written and synced before the next one, in an order
 * that keeps each intermediate state one that attach accepts or a rerun
 * of repair finishes (map entries are freed before a deleting device's
 * record is cleared). In version 2 the damaged copies A are restored
 * first, then the copies B (each group synced), then every changed sector
 * is written to copy A, synced, and to copy B, synced: the copy rule of
 * include/vmem/format.h. The pool is checked again at the end.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "vmemctl.h"

struct vctl_fault {
	enum vmem_fault f;
	const char *what;
	u64 index;
};

struct vctl_faults {
	struct vctl_fault *v;
	u64 n;
	u64 cap;
	bool oom;
};

/* vmem_report_fn: keep every fault for classification */
static void vctl_repair_collect(void *ctx, enum vmem_fault f,
				const char *what, u64 index)
{
	struct vctl_faults *fs = ctx;
	struct vctl_fault *v;

	if (fs->n == fs->cap) {
		u64 cap = fs->cap ? fs->cap * 2 : 64;

		v = realloc(fs->v, cap * sizeof(*v));
		if (!v) {
			fs->oom = true;
			return;
		}
		fs->v = v;
		fs->cap = cap;
	}
	fs->v[fs->n].f = f;
	fs->v[fs->n].what = what;
	fs->v[fs->n].index = index;
	fs->n++;
}

struct vctl_repair {
	struct vctl_target t;
	struct vctl_pool p;
	struct vctl_faults fs;
	bool *dirty;		/* per metadata sector: needs writing */
	bool *fix_a;		/* per metadata sector: restore copy A */
	bool *fix_b;		/* per metadata sector: restore copy B */
	bool *deleting;		/* per device: finish its deletion */
	u8 *merged;		/* the image as read, before vctl_plan() */
	u64 changes;		/* entries, records and copies changed */
	bool dry_run;
	bool drop;		/* --drop-unreadable */
	bool sb_from_copy;	/* --superblock-from-copy */
};

/* Free the map entry of bucket @b in memory, saying why */
static void vctl_free_entry(struct vctl_repair *r, u64 b, const char *why)
{
	struct vmem_map_entry *e = vmem_meta_entry(r->p.meta, b);
	static const struct vmem_map_entry zero;

	if (!memcmp(e, &zero, sizeof(*e)))
		return;
	if (e->owner == VMEM_OWNER_FREE)
		printf("bucket %llu: %s zero the stray fields of a free entry (%s)\n",
		       (unsigned long long)b, r->dry_run ? "would" : "will",
		       why);
	else
		printf("bucket %llu: %s free it: vmem%u vbucket %u (%s)\n",
		       (unsigned long long)b, r->dry_run ? "would" : "will",
		       e->owner - 1, le32toh(e->vbucket), why);
	memset(e, 0, sizeof(*e));
	r->dirty[vmem_map_sector_of(b)] = true;
	r->changes++;
}

/*
 * Decide what to do with one fault: plan its fix in memory and return
 * true, or explain why it is not safe and return false.
 */
static bool vctl_plan_fault(struct vctl_repair *r, const struct vctl_fault *x)
{
	const char *fs = vmem_fault_str(x->f);
	const char *no = NULL;

	printf("%s %llu: %s: ", x->what, (unsigned long long)x->index, fs);
	if (!strcmp(x->what, "device") && x->f == VMEM_F_DELETING) {
		printf("finish the deletion of vmem%llu\n",
		       (unsigned long long)x->index);
		r->deleting[x->index] = true;
		return true;
	}
	if (!strcmp(x->what, "bucket") && x->index >= r->p.g.nr_buckets) {
		printf("zero it (past the last bucket)\n");
		return true;
	}
	if (!strcmp(x->what, "bucket")) {
		const struct vmem_map_entry *e = vmem_meta_entry(r->p.meta, x->index);

		switch (x->f) {
		case VMEM_F_OWNER:
			printf("free it (no device can reach it)\n");
			return true;
		case VMEM_F_VBUCKET:
			printf("free it (beyond the device's end: unreachable)\n");
			return true;
		case VMEM_F_RESERVED:
			if (e->owner == VMEM_OWNER_FREE) {
				printf("zero it (the bucket is free either way)\n");
				return true;
			}
			no = "an owned entry with fields this version does not know";
			break;
		default:
			no = "unexpected fault";
			break;
		}
	} else if (!strcmp(x->what, "superblock")) {
		no = "the superblock describes everything else";
	} else if (!strcmp(x->what, "devtable") || !strcmp(x->what, "device")) {
		if (x->f == VMEM_F_DOUBLE)
			no = "which of the two buckets holds the data is unknowable";
		else
			no = "device records are kept nowhere else";
	} else if (!strcmp(x->what, "mapsector")) {
		no = "its entries cannot be trusted and freeing them loses data";
	} else {
		no = "unknown kind of fault";
	}
	printf("NOT safe to repair: %s\n", no);
	return false;
}

/* Write sector @s of image @img to copy @b, as it is, and sync */
static int vctl_write_copy(struct vctl_repair *r, const u8 *img, bool b,
			   u64 s, const char *why)
{
	const u8 *sec = img + s * VMEM_SECTOR_SIZE;
	u64 at = b ? vmem_copy_b_sector(&r->p.g, s) : s, index;
	const char *kind = vmem_sector_kind(s, &index);
	int ret;

	ret = vctl_pwrite(&r->t, sec, VMEM_SECTOR_SIZE, at * VMEM_SECTOR_SIZE);
	if (!ret)
		ret = vctl_sync(&r->t);
	if (!ret)
		printf("wrote %s %llu%s (sector %llu of %s)%s\n",
		       !strcmp(kind, "mapsector") ? "map sector" :
		       !strcmp(kind, "devtable") ? "device-table sector" :
		       "superblock", (unsigned long long)index,
		       r->p.g.version >= 2 ? (b ? ", copy B" : ", copy A") : "",
		       (unsigned long long)at, r->t.path, why);
	return ret;
}

/*
 * Write sector @s of the in-memory metadata, resealed: to copy A, synced,
 * then (version 2) to copy B, synced
 */
static int vctl_write_meta_sector(struct vctl_repair *r, u64 s)
{
	int ret;

	vmem_meta_seal(r->p.meta, s, vmem_pool_id(&r->p.sb));
	ret = vctl_write_copy(r, r->p.meta, false, s, "");
	if (!ret && r->p.g.version >= 2)
		ret = vctl_write_copy(r, r->p.meta, true, s, "");
	return ret;
}

/*
 * Restore the copies planned, copies A, then copies B, as they were read
 * (sealed, as the other copy holds them): not with vctl_plan()'s changes,
 * which vctl_write_dirty() writes after, to copy A first. So every
 * sector keeps a valid copy whichever write is torn.
 */
static int vctl_write_copies(struct vctl_repair *r)
{
	int ret;
	u64 s;

	for (s = 0; s < r->p.g.meta_sectors; s++) {
		if (!r->fix_a[s])
			continue;
		ret = vctl_write_copy(r, r->merged, false, s,
				      ": restored from copy B");
		if (ret)
			return ret;
	}
	for (s = 0; s < r->p.g.meta_sectors; s++) {
		if (!r->fix_b[s])
			continue;
		ret = vctl_write_copy(r, r->merged, true, s,
				      ": restored from copy A");
		if (ret)
			return ret;
	}
	return 0;
}

/* Write every dirty sector in [from, to), in order */
static int vctl_write_dirty(struct vctl_repair *r, u64 from, u64 to)
{
	int ret;
	u64 s;

	for (s = from; s < to; s++) {
		if (!r->dirty[s])
			continue;
		ret = vctl_write_meta_sector(r, s);
		if (ret)
			return ret;
		r->dirty[s] = false;
	}
	return 0;
}

/*
 * Plan the fix of one sector whose copies differ: restore the damaged or
 * older copy, or (lost in both, --drop-unreadable) rewrite a map sector
 * empty. Return: false when it is not safe.
 */
static bool vctl_plan_copy(struct vctl_repair *r, const struct vctl_copy *c)
{
	struct vmem_map_sector *ms;
	char line[256];
	u64 index;
	const char *kind = vmem_sector_kind(c->sector, &index);

	printf("%s: ", vctl_copy_str(line, sizeof(line), &r->p, c));
	switch (c->state) {
	case VMEM_COPIES_A_BAD:
		printf("restore copy A from copy B\n");
		r->fix_a[c->sector] = true;
		r->changes++;
		return true;
	case VMEM_COPIES_B_BAD:
	case VMEM_COPIES_B_OLD:
		printf("restore copy B from copy A\n");
		r->fix_b[c->sector] = true;
		r->changes++;
		return true;
	default:
		break;
	}
	if (strcmp(kind, "mapsector")) {
		printf("NOT safe to repair: %s\n",
		       "device records are kept nowhere else");
		return false;
	}
	if (!r->drop) {
		printf("NOT safe to repair: its map entries are lost ('vmemctl repair --drop-unreadable' frees its buckets: whatever devices held them then read zeros there)\n");
		return false;
	}
	printf("drop it: %s rewrite it empty; its buckets %llu..%llu become free, and whatever devices held them read zeros there (--drop-unreadable)\n",
	       r->dry_run ? "would" : "will",
	       (unsigned long long)(index * VMEM_ENTRIES_PER_SECTOR),
	       (unsigned long long)(index * VMEM_ENTRIES_PER_SECTOR +
				    VMEM_ENTRIES_PER_SECTOR - 1));
	ms = (void *)((u8 *)r->p.meta + c->sector * VMEM_SECTOR_SIZE);
	memset(ms->entry, 0, sizeof(ms->entry));
	r->dirty[c->sector] = true;
	r->changes++;
	return true;
}

/*
 * As attach warns (meta_io.c): a block of the target holding sectors to
 * restore in copy A and others in copy B is rewritten whole in both
 * copies, so one torn write of it could lose a sector whose other copy
 * is the damaged one. Nothing safer can be done; say so.
 */
static void vctl_warn_blocks(struct vctl_repair *r)
{
	u64 per = vctl_block_sectors(&r->t), n = r->p.g.meta_sectors;
	u64 s, i, a, b;

	if (per == 1)
		return;
	for (s = 0; s < n; s += per) {
		for (i = s, a = 0, b = 0; i < n && i < s + per; i++) {
			a += r->fix_a[i];
			b += r->fix_b[i];
		}
		if (a && b)
			vctl_err("%s: warning: metadata block at sector %llu has sectors to restore in both copies; a crash that tears a rewrite could lose one",
				 r->t.path, (unsigned long long)s);
	}
}

/* Plan every fix; false if any fault is not safe to repair */
static bool vctl_plan(struct vctl_repair *r)
{
	u64 i, b, refused = 0, nfaults = r->fs.n;
	u32 id;

	for (i = 0; i < r->p.nr_copies; i++) {
		if (!vctl_plan_copy(r, &r->p.copies[i]))
			refused++;
		if (r->p.copies[i].state != VMEM_COPIES_B_OLD)
			nfaults++;
	}
	for (i = 0; i < r->fs.n; i++)
		if (!vctl_plan_fault(r, &r->fs.v[i]))
			refused++;
	if (refused) {
		printf("%s: %llu of %llu fault%s not safe to repair; nothing written\n",
		       r->t.path, (unsigned long long)refused,
		       (unsigned long long)nfaults, nfaults == 1 ? "" : "s");
		return false;
	}

	for (i = 0; i < r->fs.n; i++) {
		const struct vctl_fault *x = &r->fs.v[i];

		if (strcmp(x->what, "bucket"))
			continue;
		vctl_free_entry(r, x->index,
				x->index >= r->p.g.nr_buckets ?
				"past the last bucket" : vmem_fault_str(x->f));
	}
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (!r->deleting[id])
			continue;
		for (b = 0; b < r->p.g.nr_buckets; b++)
			if (vmem_meta_entry(r->p.meta, b)->owner == id + 1)
				vctl_free_entry(r, b, "interrupted deletion");
		printf("vmem%u: %s clear its record (deletion finished)\n", id,
		       r->dry_run ? "would" : "will");
		memset(vmem_meta_rec(r->p.meta, id), 0, sizeof(struct vmem_dev_rec));
		r->dirty[vmem_devt_sector_of(id)] = true;
		r->changes++;
	}
	vctl_warn_blocks(r);
	return true;
}

/* Read the pool back from the target and check it */
static int vctl_recheck(struct vctl_repair *r)
{
	struct vctl_pool p;
	enum vmem_page0_kind kind;
	int ret;

	ret = vctl_pool_read_sb(&r->t, &p, &kind);
	if (ret)
		return ret;
	if (p.sb_fault) {
		vctl_err("%s: superblock damaged after repair: %s", r->t.path,
			 vmem_fault_str(p.sb_fault));
		return VCTL_REFUSED;
	}
	ret = vctl_pool_check(&r->t, &p, NULL, NULL);
	if (!ret && (p.faults || p.nr_copies)) {
		vctl_err("%s: %llu fault%s left after repair (run vmemctl check)",
			 r->t.path,
			 (unsigned long long)(p.faults + p.nr_copies),
			 p.faults + p.nr_copies == 1 ? "" : "s");
		ret = VCTL_REFUSED;
	} else if (!ret) {
		printf("%s: repaired: %llu change%s; the pool is clean\n",
		       r->t.path, (unsigned long long)r->changes,
		       r->changes == 1 ? "" : "s");
	}
	vctl_pool_free(&p);
	return ret;
}

/*
 * --superblock-from-copy: sector 0 names no pool; write copy B's
 * superblock of the pool whose device table follows it over sector 0,
 * then read the pool as usual. A dry run reads it as if written: sector 0
 * then shows as a damaged copy A, whose restore the plan prints.
 */
static int vctl_restore_sb(struct vctl_repair *r, const char *path)
{
	enum vmem_page0_kind kind;
	char u[VCTL_UUID_LEN];
	struct vmem_sb sb;
	enum vmem_fault f;
	u64 at;
	int ret;

	at = vctl_find_orphan_sb(&r->t, &sb);
	if (!at) {
		vctl_err("%s: no superblock copy B of a pool whose device table follows sector 0: nothing to restore",
			 path);
		return VCTL_REFUSED;
	}
	vctl_uuid_str(u, sizeof(u), sb.uuid);
	f = vmem_sb_validate(&sb, r->t.bytes, true);
	if (f) {
		printf("superblock 0: names no pool; copy B at sector %llu (pool %s): %s: NOT safe to repair: %s\n",
		       (unsigned long long)at, u, vmem_fault_str(f),
		       "the superblock describes everything else");
		printf("%s: 1 fault not safe to repair; nothing written\n",
		       path);
		return VCTL_REFUSED;
	}
	printf("superblock 0: names no pool: %s restore it from copy B at sector %llu (pool %s, whose device table follows sector 0) (--superblock-from-copy)\n",
	       r->dry_run ? "would" : "will", (unsigned long long)at, u);
	if (r->dry_run) {
		memset(&r->p, 0, sizeof(r->p));
		r->p.sb = sb;
		r->p.sb_at = at;
		r->p.sb_a_fault = VMEM_F_MAGIC;
		vmem_geom_from_sb(&r->p.sb, &r->p.g);
		return 0;
	}
	ret = vctl_pwrite(&r->t, &sb, sizeof(sb), 0);
	if (!ret)
		ret = vctl_sync(&r->t);
	if (ret)
		return ret;
	printf("wrote superblock 0, copy A (sector 0 of %s): restored from copy B\n",
	       path);
	r->changes++;
	ret = vctl_pool_read_sb(&r->t, &r->p, &kind);
	if (!ret && r->p.sb_fault) {
		vctl_err("%s: superblock: %s", path,
			 vmem_fault_str(r->p.sb_fault));
		ret = VCTL_REFUSED;
	}
	return ret;
}

/* Open TARGET and read a superblock fit for writing, or say why not */
static int vctl_repair_open(struct vctl_repair *r, const char *path)
{
	enum vmem_page0_kind kind;
	const char *what;
	enum vmem_fault f;
	int ret;

	ret = vctl_target_open(&r->t, path, !r->dry_run);
	if (ret)
		return ret;
	ret = vctl_pool_read_sb(&r->t, &r->p, &kind);
	if (ret)
		return ret;
	f = r->p.sb_fault;
	if (f) {
		ret = vctl_probe(&r->t, &kind, &what);
		if (ret)
			return ret;
	}
	if (f && kind != VMEM_PAGE0_VMEM && r->sb_from_copy)
		return vctl_restore_sb(r, path);
	if (f && kind == VMEM_PAGE0_EMPTY) {
		vctl_err("%s: not a vmem pool (the first 64 KiB are all zero); nothing to repair",
			 path);
		vctl_orphan_hint(&r->t);
		return VCTL_REFUSED;
	}
	if (f && kind == VMEM_PAGE0_FOREIGN) {
		vctl_err("%s: not a vmem pool: it holds %s; refusing to touch it",
			 path, what);
		vctl_orphan_hint(&r->t);
		return VCTL_REFUSED;
	}
	if (!f)
		f = vmem_sb_validate(&r->p.sb, r->t.bytes, true);
	if (f) {
		printf("superblock 0: %s: NOT safe to repair: %s\n",
		       vmem_fault_str(f),
		       "the superblock describes everything else");
		printf("%s: 1 fault not safe to repair; nothing written\n",
		       path);
		return VCTL_REFUSED;
	}
	return 0;
}

int cmd_repair(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "drop-unreadable", no_argument, NULL, 'D' },
		{ "superblock-from-copy", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct vctl_repair r;
	int c, ret;

	memset(&r, 0, sizeof(r));
	r.t.fd = -1;
	r.t.dfd = -1;
	r.t.wfd = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":nDS", opts, NULL)) != -1) {
		if (c == 'n')
			r.dry_run = true;
		else if (c == 'D')
			r.drop = true;
		else if (c == 'S')
			r.sb_from_copy = true;
		else
			return vctl_bad_option(argv, optind, c);
	}
	if (argc - optind != 1) {
		vctl_err("%s", argc == optind ? "no TARGET given" :
			 "too many arguments");
		return vctl_usage();
	}
	ret = vctl_repair_open(&r, argv[optind]);
	if (ret)
		goto out;
	ret = vctl_pool_check(&r.t, &r.p, vctl_repair_collect, &r.fs);
	if (ret)
		goto out;
	if (r.fs.oom || !r.p.dup_checked) {
		vctl_err("out of memory while checking; nothing written");
		ret = VCTL_ERROR;
		goto out;
	}
	if (!r.p.faults && !r.p.nr_copies) {
		if (r.changes)
			printf("%s: repaired: 1 change; the pool is clean\n",
			       r.t.path);
		else
			printf("%s: clean; nothing to repair\n", r.t.path);
		goto out;
	}
	r.dirty = calloc(r.p.g.meta_sectors, sizeof(*r.dirty));
	r.fix_a = calloc(r.p.g.meta_sectors, sizeof(*r.fix_a));
	r.fix_b = calloc(r.p.g.meta_sectors, sizeof(*r.fix_b));
	r.deleting = calloc(VMEM_MAX_DEVICES, sizeof(*r.deleting));
	r.merged = malloc(r.p.g.meta_sectors * VMEM_SECTOR_SIZE);
	if (!r.dirty || !r.fix_a || !r.fix_b || !r.deleting || !r.merged) {
		vctl_err("out of memory; nothing written");
		ret = VCTL_ERROR;
		goto out;
	}
	memcpy(r.merged, r.p.meta, r.p.g.meta_sectors * VMEM_SECTOR_SIZE);
	if (!vctl_plan(&r)) {
		ret = VCTL_REFUSED;
		goto out;
	}
	if (r.dry_run) {
		printf("%s: %llu change%s planned (dry run: nothing written)\n",
		       r.t.path, (unsigned long long)r.changes,
		       r.changes == 1 ? "" : "s");
		goto out;
	}
	/* Copies first; then map entries, then device records */
	ret = vctl_write_copies(&r);
	if (!ret)
		ret = vctl_write_dirty(&r, VMEM_MAP_START, r.p.g.meta_sectors);
	if (!ret)
		ret = vctl_write_dirty(&r, VMEM_DEVT_START, VMEM_MAP_START);
	if (!ret)
		ret = vctl_recheck(&r);
out:
	free(r.dirty);
	free(r.fix_a);
	free(r.fix_b);
	free(r.deleting);
	free(r.merged);
	free(r.fs.v);
	vctl_pool_free(&r.p);
	vctl_target_close(&r.t);
	return ret;
}
