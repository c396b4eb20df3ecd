// SPDX-License-Identifier: GPL-2.0
/*
 * vmem in-memory bucket map: see map.h for what it promises and how it is
 * locked. Nothing here does I/O.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "map.h"

/* Buckets loaded between two chances to reschedule */
#define VMEM_MAP_RESCHED	4096

static struct vmem_map_entry *vmem_map_entry_of(struct vmem_map *m, u64 pb)
{
	return vmem_meta_entry(m->meta, pb);
}

static void vmem_map_seal(struct vmem_map *m, u64 sector)
{
	vmem_meta_seal(m->meta, sector, m->pool_id);
}

static struct vmem_dev_rec *vmem_map_rec_of(struct vmem_map *m, u32 id)
{
	return vmem_meta_rec(m->meta, id);
}

static void vmem_map_noreport(void *ctx, enum vmem_fault f, const char *what,
			      u64 index)
{
}

/* The codec's check runs over millions of buckets: let others run */
static void vmem_map_yield(void *ctx)
{
	cond_resched();
}

/*
 * Bitmaps of one bit per bucket: 5 MiB for 2^32 buckets, so kvmalloc (a
 * 2^25-bucket pool needs 4 MiB, beyond what kmalloc can give)
 */
static unsigned long *vmem_map_bitmap(u64 nbits)
{
	return kvcalloc(BITS_TO_LONGS(nbits), sizeof(unsigned long),
			GFP_KERNEL);
}

size_t vmem_map_meta_bytes(const struct vmem_sb *sb)
{
	struct vmem_geom g;

	vmem_geom_from_sb(sb, &g);
	return round_up(g.meta_sectors * VMEM_SECTOR_SIZE, PAGE_SIZE);
}

int vmem_map_load(struct vmem_map *m, u8 *meta, size_t meta_bytes,
		  u64 dev_bytes, vmem_report_fn report, void *ctx)
{
	struct vmem_meta_view *view;
	u64 faults, pb;
	u32 id;
	int ret;

	m->meta = meta;
	m->meta_bytes = meta_bytes;
	if (!report)
		report = vmem_map_noreport;
	for (id = 0; id < VMEM_MAX_DEVICES; id++)
		xa_init(&m->dev[id].xa);

	view = kzalloc(sizeof(*view), GFP_KERNEL);
	if (!view)
		return -ENOMEM;
	vmem_geom_from_sb((void *)meta, &m->geom);
	m->pool_id = vmem_pool_id((void *)meta);
	if (meta_bytes < m->geom.meta_sectors * VMEM_SECTOR_SIZE) {
		ret = -EINVAL;
		goto out_free_view;
	}
	m->free = vmem_map_bitmap(m->geom.nr_buckets);
	m->zeroed = vmem_map_bitmap(m->geom.nr_buckets);
	if (!m->free || !m->zeroed) {
		ret = -ENOMEM;
		goto out_free_view;
	}

	/* No scratch: the xarrays below catch a bucket mapped twice */
	faults = vmem_meta_check(meta, dev_bytes, true, view, NULL, report,
				 vmem_map_yield, ctx);
	/* An interrupted deletion is finished by the caller, not damage */
	for (id = 0; id < VMEM_MAX_DEVICES; id++)
		if (le32_to_cpu(view->devs[id].flags) & VMEM_DEV_DELETING)
			faults--;
	if (faults) {
		ret = -EUCLEAN;
		goto out_free_view;
	}

	for (id = 0; id < VMEM_MAX_DEVICES; id++) {
		struct vmem_map_dev *d = &m->dev[id];

		d->capacity_pages = le64_to_cpu(view->devs[id].capacity_pages);
		d->budget = le32_to_cpu(view->devs[id].budget_buckets);
		d->flags = le32_to_cpu(view->devs[id].flags);
	}
	for (pb = 0; pb < m->geom.nr_buckets; pb++) {
		struct vmem_map_entry *e = vmem_map_entry_of(m, pb);
		struct vmem_map_dev *d;

		if (!(pb % VMEM_MAP_RESCHED))
			cond_resched();
		if (e->owner == VMEM_OWNER_FREE) {
			__set_bit(pb, m->free);
			m->nr_free++;
			if (e->flags & VMEM_ENTRY_ZEROED) {
				__set_bit(pb, m->zeroed);
				m->nr_zeroed++;
			}
			continue;
		}
		d = &m->dev[e->owner - 1];
		ret = xa_insert(&d->xa, le32_to_cpu(e->vbucket),
				xa_mk_value(pb), GFP_KERNEL);
		if (ret == -EBUSY) {
			report(ctx, VMEM_F_DOUBLE, "device", e->owner - 1);
			ret = -EUCLEAN;
		}
		if (ret)
			goto out_free_view;
		atomic64_inc(&d->used);
	}
	ret = 0;

out_free_view:
	kfree(view);
	return ret;
}

void vmem_map_destroy(struct vmem_map *m)
{
	u32 id;

	/* The xarrays are set up together with m->meta in vmem_map_load() */
	if (!m->meta)
		return;
	for (id = 0; id < VMEM_MAX_DEVICES; id++)
		xa_destroy(&m->dev[id].xa);
	kvfree(m->free);
	m->free = NULL;
	kvfree(m->zeroed);
	m->zeroed = NULL;
	vfree(m->meta);
	m->meta = NULL;
}

/* Next set bit of @bits from the hint on, wrapping; -1 if none */
static s64 vmem_map_find(struct vmem_map *m, unsigned long *bits, u64 count)
{
	u64 pb;

	if (!count)
		return -1;
	pb = find_next_bit(bits, m->geom.nr_buckets, m->hint);
	if (pb >= m->geom.nr_buckets)
		pb = find_first_bit(bits, m->geom.nr_buckets);
	if (WARN_ON_ONCE(pb >= m->geom.nr_buckets))
		return -1;
	return pb;
}

s64 vmem_map_reserve(struct vmem_map *m, u32 id, u64 vb, u64 *pb,
		     bool *zeroed)
{
	struct vmem_map_dev *d = &m->dev[id];
	struct vmem_map_entry *e;
	s64 free;
	int ret;

	if (!m->nr_free)
		return -ENOSPC;
	if (!vmem_budget_try_charge(&d->used, d->budget))
		return -EDQUOT;
	ret = xa_reserve(&d->xa, vb, GFP_NOIO);
	if (ret) {
		vmem_budget_release(&d->used);
		return ret;
	}
	free = vmem_map_find(m, m->zeroed, m->nr_zeroed);
	if (free < 0)
		free = vmem_map_find(m, m->free, m->nr_free);
	if (free < 0) {
		xa_release(&d->xa, vb);
		vmem_budget_release(&d->used);
		return -ENOSPC;
	}
	__clear_bit(free, m->free);
	m->nr_free--;
	*zeroed = __test_and_clear_bit(free, m->zeroed);
	if (*zeroed)
		m->nr_zeroed--;
	m->hint = free + 1;

	e = vmem_map_entry_of(m, free);
	e->flags = 0;
	e->owner = id + 1;
	e->vbucket = cpu_to_le32(vb);
	vmem_map_seal(m, vmem_map_sector_of(free));
	*pb = free;
	return vmem_map_sector_of(free);
}

void vmem_map_publish(struct vmem_map *m, u32 id, u64 vb, u64 pb)
{
	/* The slot was reserved: this store allocates nothing, cannot fail */
	WARN_ON_ONCE(xa_err(xa_store(&m->dev[id].xa, vb, xa_mk_value(pb),
				     GFP_NOIO)));
}

static void vmem_map_entry_clear(struct vmem_map *m, u64 pb)
{
	memset(vmem_map_entry_of(m, pb), 0, sizeof(struct vmem_map_entry));
	vmem_map_seal(m, vmem_map_sector_of(pb));
}

void vmem_map_unreserve(struct vmem_map *m, u32 id, u64 vb, u64 pb,
			bool zeroed)
{
	vmem_map_entry_clear(m, pb);
	if (zeroed) {
		vmem_map_entry_of(m, pb)->flags = VMEM_ENTRY_ZEROED;
		vmem_map_seal(m, vmem_map_sector_of(pb));
		__set_bit(pb, m->zeroed);
		m->nr_zeroed++;
	}
	xa_release(&m->dev[id].xa, vb);
	__set_bit(pb, m->free);
	m->nr_free++;
	vmem_budget_release(&m->dev[id].used);
}

s64 vmem_map_unmap(struct vmem_map *m, u32 id, u64 vb, u64 *pb)
{
	void *e = xa_erase(&m->dev[id].xa, vb);

	if (!e)
		return -ENOENT;
	*pb = xa_to_value(e);
	vmem_map_entry_clear(m, *pb);
	return vmem_map_sector_of(*pb);
}

void vmem_map_release(struct vmem_map *m, u32 id, u64 pb)
{
	__set_bit(pb, m->free);
	m->nr_free++;
	vmem_budget_release(&m->dev[id].used);
}

void vmem_map_remap(struct vmem_map *m, u32 id, u64 vb, u64 pb)
{
	struct vmem_map_entry *e = vmem_map_entry_of(m, pb);

	e->owner = id + 1;
	e->vbucket = cpu_to_le32(vb);
	vmem_map_seal(m, vmem_map_sector_of(pb));
	/* The slot was just erased: storing it back may need memory */
	WARN_ON_ONCE(xa_err(xa_store(&m->dev[id].xa, vb, xa_mk_value(pb),
				     GFP_NOIO)));
}

u64 vmem_map_set_dev(struct vmem_map *m, u32 id, u64 capacity_pages,
		     u32 budget, u32 flags, struct vmem_dev_rec *old)
{
	struct vmem_dev_rec *r = vmem_map_rec_of(m, id);
	struct vmem_map_dev *d = &m->dev[id];

	if (old)
		*old = *r;
	r->capacity_pages = cpu_to_le64(capacity_pages);
	r->budget_buckets = cpu_to_le32(budget);
	r->flags = cpu_to_le32(flags);
	vmem_map_seal(m, vmem_devt_sector_of(id));
	d->capacity_pages = capacity_pages;
	WRITE_ONCE(d->budget, budget);
	d->flags = flags;
	return vmem_devt_sector_of(id);
}

void vmem_map_restore_dev(struct vmem_map *m, u32 id,
			  const struct vmem_dev_rec *old)
{
	vmem_map_set_dev(m, id, le64_to_cpu(old->capacity_pages),
			 le32_to_cpu(old->budget_buckets),
			 le32_to_cpu(old->flags), NULL);
}
