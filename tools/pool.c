// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: reading a pool offline, for format (what is being overwritten),
 * dump and check: the superblock, then the whole metadata area through
 * vmem_meta_check(), which decodes the device table and counts each
 * device's buckets.
 */
#include <stdlib.h>
#include <string.h>
#include "vmemctl.h"

/**
 * vctl_pool_read_sb() - read and validate the superblock of a target
 * @t: the target
 * @p: result; p->sb_fault is VMEM_OK when the superblock is valid
 *
 * Return: 0 (see @kind and p->sb_fault), or VCTL_ERROR after printing
 * why. @kind is what sector 0 holds.
 */
int vctl_pool_read_sb(struct vctl_target *t, struct vctl_pool *p,
		      enum vmem_page0_kind *kind)
{
	memset(p, 0, sizeof(*p));
	if (t->bytes < VMEM_SECTOR_SIZE) {
		*kind = VMEM_PAGE0_FOREIGN;
		p->sb_fault = VMEM_F_MAGIC;
		return 0;
	}
	if (vctl_pread(t, &p->sb, sizeof(p->sb), 0))
		return VCTL_ERROR;
	*kind = vmem_page0_classify(&p->sb, sizeof(p->sb));
	p->sb_fault = vmem_sb_validate(&p->sb, t->bytes, false);
	if (!p->sb_fault)
		vmem_geom_from_sb(&p->sb, &p->g);
	return 0;
}

static void vctl_pool_noreport(void *ctx, enum vmem_fault f,
			       const char *what, u64 index)
{
	(void)ctx;
	(void)f;
	(void)what;
	(void)index;
}

/**
 * vctl_pool_check() - read the metadata area and verify all of it
 * @t: the target
 * @p: from vctl_pool_read_sb(), with a valid superblock
 * @report: called for every fault, or NULL
 * @ctx: passed to @report
 *
 * Fills p->meta, p->view, p->faults, p->used_buckets, p->nr_devices.
 * Return: 0, or VCTL_ERROR after printing why.
 */
int vctl_pool_check(struct vctl_target *t, struct vctl_pool *p,
		    vmem_report_fn report, void *ctx)
{
	u64 *scratch;
	u32 id;

	p->meta = vctl_read_meta(t, &p->g);
	if (!p->meta)
		return VCTL_ERROR;
	scratch = malloc(p->g.nr_buckets * sizeof(*scratch));
	if (!scratch)
		vctl_err("warning: no memory for the duplicate-mapping check, skipped");
	p->faults = vmem_meta_check(p->meta, t->bytes, false, &p->view,
				    scratch, report ? report :
				    vctl_pool_noreport, NULL, ctx);
	p->dup_checked = scratch;
	free(scratch);
	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		if (le32toh(p->view.devs[id].flags) & VMEM_DEV_EXISTS)
			p->nr_devices++;
		p->used_buckets += p->view.used[id];
	}
	return 0;
}

void vctl_pool_free(struct vctl_pool *p)
{
	free(p->meta);
	p->meta = NULL;
}
