// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: reading a pool offline, for format (what is being overwritten),
 * dump, check, repair and upgrade: the superblock (copy A's, or copy B's
 * when copy A's is damaged, found as the module finds it), then the whole
 * metadata area: in layout version 2 both copies, merged by the reading
 * rule of include/vmem/format.h (vmem_copies_merge()), then checked by
 * vmem_meta_check(), which decodes the device table and counts each
 * device's buckets. So what these commands accept is what attach accepts.
 */
#include <stdlib.h>
#include <string.h>
#include "vmemctl.h"

/* vmem_read_fn: one sector, for the probe for copy B's superblock */
static int vctl_read_fn(void *ctx, u64 sector, void *buf)
{
	return vctl_read_sector(ctx, sector, buf);
}

/**
 * vctl_pool_read_sb() - read and validate the superblock of a target
 * @t: the target
 * @p: result; p->sb_fault is VMEM_OK when a valid superblock was found
 *	(p->sb_at says where: 0, or copy B's sector when copy A's is
 *	damaged, whose fault is then p->sb_a_fault)
 * @kind: out: what sector 0 holds
 *
 * Return: 0 (see @kind and p->sb_fault), or VCTL_ERROR after printing
 * why.
 */
int vctl_pool_read_sb(struct vctl_target *t, struct vctl_pool *p,
		      enum vmem_page0_kind *kind)
{
	u8 page0[VMEM_SECTOR_SIZE];
	bool readable;
	u64 at;

	memset(p, 0, sizeof(*p));
	if (t->bytes < VMEM_SECTOR_SIZE) {
		*kind = VMEM_PAGE0_FOREIGN;
		p->sb_fault = VMEM_F_MAGIC;
		return 0;
	}
	/* A bad sector 0 is a damaged superblock A, as attach sees it */
	readable = !vctl_read_sector(t, 0, page0);
	if (!readable) {
		vctl_err("%s: warning: sector 0 cannot be read", t->path);
		memset(page0, 0, sizeof(page0));
	}
	*kind = vmem_page0_classify(page0, VMEM_SECTOR_SIZE);
	/* As attach does: copy B's when copy A's is damaged */
	p->sb_fault = vmem_sb_choose(readable ? (void *)page0 : NULL,
				     t->bytes, false, vctl_read_fn, t,
				     &p->sb, &at);
	if (p->sb_fault) {
		/* Unreadable and no copy: what it holds is unknown */
		if (!readable)
			*kind = VMEM_PAGE0_FOREIGN;
		p->unreadable = !readable;
		memcpy(&p->sb, page0, sizeof(p->sb));
		return 0;
	}
	if (at) {
		p->sb_a_fault = readable ?
			vmem_sb_validate((void *)page0, t->bytes, false) :
			VMEM_F_CSUM;
		p->sb_at = at;
		/* Sector 0 is a damaged superblock of this pool */
		*kind = VMEM_PAGE0_VMEM;
	}
	vmem_geom_from_sb(&p->sb, &p->g);
	return 0;
}

/**
 * vctl_pool_open() - open a target and read the valid superblock of the
 * pool on it, for a command that rewrites the pool offline (upgrade,
 * grow --offline)
 * @t: out: the target
 * @p: out: the pool, from vctl_pool_read_sb()
 * @path: the target
 * @rw: open it for writing
 *
 * Refuses, after saying why, a target whose sector 0 is not a vmem pool's
 * and a pool whose superblock is not fit for writing (vmem_sb_validate(),
 * strict).
 * Return: 0, or VCTL_REFUSED or VCTL_ERROR after printing why, with @t
 * closed and @p freed.
 */
int vctl_pool_open(struct vctl_target *t, struct vctl_pool *p,
		   const char *path, bool rw)
{
	enum vmem_page0_kind kind;
	enum vmem_fault f;
	int ret;

	ret = vctl_target_open(t, path, rw);
	if (ret)
		return ret;
	ret = vctl_pool_read_sb(t, p, &kind);
	if (ret)
		goto fail;
	ret = VCTL_REFUSED;
	if (kind != VMEM_PAGE0_VMEM) {
		vctl_err("%s: not a vmem pool", t->path);
		goto fail;
	}
	f = p->sb_fault;
	if (!f)
		f = vmem_sb_validate(&p->sb, t->bytes, true);
	if (f) {
		vctl_err("%s: superblock: %s (run vmemctl check)", t->path,
			 vmem_fault_str(f));
		goto fail;
	}
	return 0;
fail:
	vctl_pool_free(p);
	vctl_target_close(t);
	return ret;
}

/**
 * vctl_probe_copy_b() - where a copy B superblock is, read as attach
 * looks for it when sector 0 cannot be read (its probe ends where
 * attach's does), whether or not copy A's table disowns it
 * @t: the target
 * @sb: out: the superblock found
 *
 * Return: its sector, or 0.
 */
u64 vctl_probe_copy_b(struct vctl_target *t, struct vmem_sb *sb)
{
	u64 at;

	vmem_sb_choose(NULL, t->bytes, false, vctl_read_fn, t, sb, &at);
	return at;
}

/**
 * vctl_find_orphan_sb() - a copy B superblock behind a sector 0 that names
 * no pool (zeros, other data), whose device table follows sector 0
 * @t: the target
 * @sb: out: the superblock found
 *
 * What repair --superblock-from-copy restores; not a guess attach makes.
 * Return: its sector, or 0.
 */
u64 vctl_find_orphan_sb(struct vctl_target *t, struct vmem_sb *sb)
{
	u8 devt[VMEM_SECTOR_SIZE];
	u64 at;

	if (vctl_read_sector(t, VMEM_DEVT_START, devt))
		return 0;
	at = vctl_probe_copy_b(t, sb);
	return at && !vmem_blk_validate(devt, VMEM_DEVT_MAGIC, 0,
					vmem_pool_id(sb)) ? at : 0;
}

static void vctl_pool_noreport(void *ctx, enum vmem_fault f,
			       const char *what, u64 index)
{
	(void)ctx;
	(void)f;
	(void)what;
	(void)index;
}

/* vmem_copy_fn: keep every sector whose copies are not the same */
static void vctl_pool_copy(void *ctx, u64 sector, enum vmem_copies state,
			   enum vmem_fault fa, enum vmem_fault fb)
{
	struct vctl_pool *p = ctx;
	struct vctl_copy *v;

	if (p->nr_copies == p->cap_copies) {
		u64 cap = p->cap_copies ? p->cap_copies * 2 : 64;

		v = realloc(p->copies, cap * sizeof(*v));
		if (!v) {
			p->copies_oom = true;
			return;
		}
		p->copies = v;
		p->cap_copies = cap;
	}
	p->copies[p->nr_copies++] = (struct vctl_copy){
		.sector = sector, .state = state, .fa = fa, .fb = fb };
	p->nr_state[state]++;
}

/* Is image sector @s lost in both copies? */
static bool vctl_pool_lost(const struct vctl_pool *p, u64 s)
{
	u64 i;

	for (i = 0; i < p->nr_copies; i++)
		if (p->copies[i].sector == s)
			return p->copies[i].state == VMEM_COPIES_BOTH_BAD;
	return false;
}

struct vctl_report_ctx {
	struct vctl_pool *p;
	vmem_report_fn report;
	void *ctx;
};

/*
 * vmem_report_fn wrapper: a sector lost in both copies is reported once,
 * as such (p->copies), not again as a checksum fault of copy A's bytes
 */
static void vctl_pool_report(void *ctx, enum vmem_fault f, const char *what,
			     u64 index)
{
	struct vctl_report_ctx *rc = ctx;
	u64 s = index;

	if (!strcmp(what, "devtable"))
		s = VMEM_DEVT_START + index;
	else if (!strcmp(what, "mapsector"))
		s = VMEM_MAP_START + index;
	else if (strcmp(what, "superblock"))
		s = ~0ULL;
	if (s != ~0ULL && vctl_pool_lost(rc->p, s)) {
		rc->p->faults_lost++;
		return;
	}
	rc->report(rc->ctx, f, what, index);
}

/**
 * vctl_pool_check() - read the metadata area and verify all of it
 * @t: the target
 * @p: from vctl_pool_read_sb(), with a valid superblock
 * @report: called for every fault of the merged metadata, or NULL (the
 *	faults of the copies are in p->copies)
 * @ctx: passed to @report
 *
 * Fills p->meta (the merged image), p->meta_a and p->meta_b (the copies
 * as read; version 2), p->copies, p->view, p->faults (of the merged
 * image, not counting lost sectors twice), p->used_buckets,
 * p->nr_devices. Return: 0, or VCTL_ERROR after printing why.
 */
int vctl_pool_check(struct vctl_target *t, struct vctl_pool *p,
		    vmem_report_fn report, void *ctx)
{
	struct vctl_report_ctx rc = { p, report ? report : vctl_pool_noreport,
				      ctx };
	size_t bytes = p->g.meta_sectors * VMEM_SECTOR_SIZE;
	u64 *scratch;
	u32 id;

	p->meta_a = vctl_read_meta(t, &p->g, 0);
	if (!p->meta_a)
		return VCTL_ERROR;
	p->meta = malloc(bytes);
	if (!p->meta) {
		vctl_err("cannot allocate %zu bytes for the metadata", bytes);
		return VCTL_ERROR;
	}
	memcpy(p->meta, p->meta_a, bytes);
	if (p->g.version >= 2) {
		p->meta_b = vctl_read_meta(t, &p->g, p->g.copy_b);
		if (!p->meta_b)
			return VCTL_ERROR;
		p->lost = vmem_copies_merge(p->meta, p->meta_b, 0,
					    p->g.meta_sectors, &p->g,
					    vmem_pool_id(&p->sb), t->bytes,
					    vctl_pool_copy, p);
		if (p->copies_oom) {
			vctl_err("out of memory while comparing the copies");
			return VCTL_ERROR;
		}
	}
	scratch = malloc(p->g.nr_buckets * sizeof(*scratch));
	if (!scratch)
		vctl_err("warning: no memory for the duplicate-mapping check, skipped");
	p->faults = vmem_meta_check(p->meta, t->bytes, false, &p->view,
				    scratch, vctl_pool_report, NULL, &rc);
	p->faults -= p->faults_lost;
	p->dup_checked = scratch;
	free(scratch);
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (le32toh(p->view.devs[id].flags) & VMEM_DEV_EXISTS)
			p->nr_devices++;
		p->used_buckets += p->view.used[id];
	}
	return 0;
}

/**
 * vctl_copy_str() - one line on a sector whose copies differ
 * @buf: output
 * @len: its size
 * @p: the pool
 * @c: the sector
 *
 * Return: @buf, e.g. "copy A of mapsector 5 (sector 15): checksum
 * mismatch; copy B is good".
 */
const char *vctl_copy_str(char *buf, size_t len, const struct vctl_pool *p,
			  const struct vctl_copy *c)
{
	u64 index, a = c->sector, b = vmem_copy_b_sector(&p->g, c->sector);
	const char *kind = vmem_sector_kind(c->sector, &index);

	switch (c->state) {
	case VMEM_COPIES_A_BAD:
		snprintf(buf, len, "copy A of %s %llu (sector %llu): %s; copy B is good",
			 kind, (unsigned long long)index,
			 (unsigned long long)a, vmem_fault_str(c->fa));
		break;
	case VMEM_COPIES_B_BAD:
		snprintf(buf, len, "copy B of %s %llu (sector %llu): %s; copy A is good",
			 kind, (unsigned long long)index,
			 (unsigned long long)b, vmem_fault_str(c->fb));
		break;
	case VMEM_COPIES_B_OLD:
		snprintf(buf, len, "copy B of %s %llu (sector %llu) is older than copy A (a crash between their writes)",
			 kind, (unsigned long long)index,
			 (unsigned long long)b);
		break;
	default:
		snprintf(buf, len, "%s %llu (sectors %llu and %llu): both copies damaged (copy A: %s; copy B: %s)",
			 kind, (unsigned long long)index,
			 (unsigned long long)a, (unsigned long long)b,
			 vmem_fault_str(c->fa), vmem_fault_str(c->fb));
		break;
	}
	return buf;
}

void vctl_pool_free(struct vctl_pool *p)
{
	free(p->meta);
	free(p->meta_a);
	free(p->meta_b);
	free(p->copies);
	p->meta = NULL;
	p->meta_a = NULL;
	p->meta_b = NULL;
	p->copies = NULL;
	p->nr_copies = 0;
	p->cap_copies = 0;
}
