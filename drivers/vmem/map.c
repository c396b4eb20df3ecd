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

/* Buckets (or sectors) handled between two chances to reschedule */
#define VMEM_MAP_RESCHED	4096

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
 * One bit per bucket or sector: 4 MiB for a pool of 2^25 buckets, more
 * than kmalloc can give, so kvmalloc
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

static void vmem_map_set_bit(struct vmem_map *m, u64 pb, enum vmem_set s)
{
	if (WARN_ON_ONCE(__test_and_set_bit(pb, m->set[s].bits)))
		return;
	m->set[s].nr++;
}

static bool vmem_map_clear_bit(struct vmem_map *m, u64 pb, enum vmem_set s)
{
	if (!__test_and_clear_bit(pb, m->set[s].bits))
		return false;
	m->set[s].nr--;
	return true;
}

int vmem_map_load(struct vmem_map *m, u8 *meta, size_t meta_bytes,
		  u64 dev_bytes, vmem_report_fn report, void *ctx)
{
	struct vmem_meta_view *view;
	u64 faults, pb;
	u32 id;
	int ret, s;

	m->meta = meta;
	m->meta_bytes = meta_bytes;
	if (!report)
		report = vmem_map_noreport;
	xa_init(&m->shadow);
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
	ret = -ENOMEM;
	m->committing = vmem_map_bitmap(m->geom.map_sectors);
	if (!m->committing)
		goto out_free_view;
	for (s = 0; s < VMEM_NR_SETS; s++) {
		m->set[s].bits = vmem_map_bitmap(m->geom.nr_buckets);
		if (!m->set[s].bits)
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
		struct vmem_map_entry *e = vmem_meta_entry(m->meta, pb);
		struct vmem_map_dev *d;

		if (!(pb % VMEM_MAP_RESCHED))
			cond_resched();
		if (e->owner == VMEM_OWNER_FREE) {
			vmem_map_set_bit(m, pb, e->flags & VMEM_ENTRY_ZEROED ?
					 VMEM_MARKED : VMEM_DIRTY);
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
		m->nr_owned++;
	}
	ret = 0;

out_free_view:
	kfree(view);
	return ret;
}

void vmem_map_destroy(struct vmem_map *m)
{
	unsigned long index;
	void *sh;
	u32 id;
	int s;

	/* The xarrays are set up together with m->meta in vmem_map_load() */
	if (!m->meta)
		return;
	xa_for_each(&m->shadow, index, sh)
		kfree(sh);
	xa_destroy(&m->shadow);
	for (id = 0; id < VMEM_MAX_DEVICES; id++)
		xa_destroy(&m->dev[id].xa);
	for (s = 0; s < VMEM_NR_SETS; s++) {
		kvfree(m->set[s].bits);
		m->set[s].bits = NULL;
	}
	kvfree(m->committing);
	m->committing = NULL;
	kvfree(m->copies.a_stale);
	kvfree(m->copies.b_stale);
	m->copies.a_stale = NULL;
	m->copies.b_stale = NULL;
	vfree(m->meta);
	m->meta = NULL;
}

s64 vmem_map_take(struct vmem_map *m, enum vmem_set s)
{
	struct vmem_map_set *set = &m->set[s];
	u64 n = m->geom.nr_buckets, pb;

	if (!set->nr)
		return -1;
	pb = find_next_bit(set->bits, n, set->hint);
	if (pb >= n)
		pb = find_first_bit(set->bits, n);
	if (WARN_ON_ONCE(pb >= n))
		return -1;
	set->hint = pb + 1;
	vmem_map_clear_bit(m, pb, s);
	/* A bucket to zero is dirty too, and leaves both sets together */
	if (s == VMEM_TOZERO)
		vmem_map_clear_bit(m, pb, VMEM_DIRTY);
	else if (s == VMEM_DIRTY)
		vmem_map_clear_bit(m, pb, VMEM_TOZERO);
	return pb;
}

void vmem_map_put(struct vmem_map *m, u64 pb, enum vmem_set s)
{
	if (WARN_ON_ONCE(s == VMEM_MARKED))
		s = VMEM_DIRTY;
	if (s == VMEM_TOZERO)
		vmem_map_set_bit(m, pb, VMEM_DIRTY);
	vmem_map_set_bit(m, pb, s);
}

/*
 * The pending copy of the map entry of @pb, made from the image on
 * first use; NULL when out of memory
 */
static struct vmem_map_entry *vmem_map_shadow_entry(struct vmem_map *m,
						    u64 pb)
{
	u64 sector = vmem_map_sector_of(pb);
	struct vmem_map_sector *sh = xa_load(&m->shadow, sector);

	if (!sh) {
		sh = kmalloc(VMEM_SECTOR_SIZE, GFP_NOIO);
		if (!sh)
			return NULL;
		memcpy(sh, m->meta + sector * VMEM_SECTOR_SIZE,
		       VMEM_SECTOR_SIZE);
		if (xa_err(xa_store(&m->shadow, sector, sh, GFP_NOIO))) {
			kfree(sh);
			return NULL;
		}
	}
	return &sh->entry[vmem_map_slot_of(pb)];
}

int vmem_map_assign(struct vmem_map *m, u32 id, u64 vb, u64 pb)
{
	struct xarray *xa = &m->dev[id].xa;
	struct vmem_map_entry *e, old;

	if (WARN_ON_ONCE(xa_load(xa, vb)))
		return -EEXIST;
	e = vmem_map_shadow_entry(m, pb);
	if (!e)
		return -ENOMEM;
	old = *e;
	e->flags = 0;
	e->owner = id + 1;
	e->vbucket = cpu_to_le32(vb);
	if (xa_err(xa_store(xa, vb, xa_mk_value(pb), GFP_NOIO))) {
		*e = old;
		return -ENOMEM;
	}
	m->nr_owned++;
	return 0;
}

s64 vmem_map_unmap(struct vmem_map *m, u32 id, u64 vb)
{
	struct xarray *xa = &m->dev[id].xa;
	void *cur = xa_load(xa, vb);
	struct vmem_map_entry *e;
	u64 pb;

	if (!cur || (xa_to_value(cur) & VMEM_MAP_FREEING))
		return -ENOENT;
	pb = xa_to_value(cur);
	e = vmem_map_shadow_entry(m, pb);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	/* Replacing a present entry allocates nothing: it cannot fail */
	xa_store(xa, vb, xa_mk_value(pb | VMEM_MAP_FREEING), GFP_NOIO);
	vmem_budget_release(&m->dev[id].used);
	m->nr_owned--;
	return pb;
}

void vmem_map_release(struct vmem_map *m, u32 id, u64 vb, u64 pb)
{
	WARN_ON_ONCE(xa_cmpxchg(&m->dev[id].xa, vb,
				xa_mk_value(pb | VMEM_MAP_FREEING), NULL,
				GFP_NOIO) != xa_mk_value(pb | VMEM_MAP_FREEING));
	vmem_map_put(m, pb, VMEM_TOZERO);
}

int vmem_map_arm(struct vmem_map *m, u64 *pbs, unsigned int max)
{
	s64 first = vmem_map_take(m, VMEM_MARKED);
	u64 pb, end;
	unsigned int n = 0;

	if (first < 0)
		return 0;
	/* The whole map sector of that bucket: one write arms them all */
	pb = round_down(first, VMEM_ENTRIES_PER_SECTOR);
	end = min(pb + VMEM_ENTRIES_PER_SECTOR, m->geom.nr_buckets);
	if (!vmem_map_shadow_entry(m, first)) {
		vmem_map_set_bit(m, first, VMEM_MARKED);
		return -ENOMEM;
	}
	for (; pb < end && n < max; pb++) {
		if (pb != first && !vmem_map_clear_bit(m, pb, VMEM_MARKED))
			continue;
		vmem_map_shadow_entry(m, pb)->flags &= ~VMEM_ENTRY_ZEROED;
		pbs[n++] = pb;
	}
	return n;
}

s64 vmem_map_remark(struct vmem_map *m)
{
	struct vmem_map_entry *e;
	s64 n = 0, pb;

	while ((pb = vmem_map_take(m, VMEM_ARMED)) >= 0) {
		e = vmem_map_shadow_entry(m, pb);
		if (!e) {
			vmem_map_put(m, pb, VMEM_ARMED);
			return -ENOMEM;
		}
		e->flags |= VMEM_ENTRY_ZEROED;
		vmem_map_set_bit(m, pb, VMEM_MARKED);
		n++;
	}
	return n;
}

u64 vmem_map_seal(struct vmem_map *m)
{
	unsigned long sector;
	u64 n = 0;
	void *sh;

	xa_for_each(&m->shadow, sector, sh) {
		memcpy(m->meta + sector * VMEM_SECTOR_SIZE, sh,
		       VMEM_SECTOR_SIZE);
		__set_bit(sector - VMEM_MAP_START, m->committing);
		xa_erase(&m->shadow, sector);
		kfree(sh);
		if (!(++n % VMEM_MAP_RESCHED))
			cond_resched();
	}
	return n;
}

void vmem_map_reseal(struct vmem_map *m, u64 sector)
{
	vmem_meta_seal(m->meta, sector, m->pool_id);
}

void vmem_map_sealed(struct vmem_map *m)
{
	bitmap_zero(m->committing, m->geom.map_sectors);
}

u64 vmem_map_set_dev(struct vmem_map *m, u32 id, u64 capacity_pages,
		     u32 budget, u32 flags)
{
	struct vmem_dev_rec *r = vmem_map_rec_of(m, id);
	struct vmem_map_dev *d = &m->dev[id];

	r->capacity_pages = cpu_to_le64(capacity_pages);
	r->budget_buckets = cpu_to_le32(budget);
	r->flags = cpu_to_le32(flags);
	vmem_meta_seal(m->meta, vmem_devt_sector_of(id), m->pool_id);
	d->capacity_pages = capacity_pages;
	WRITE_ONCE(d->budget, budget);
	d->flags = flags;
	return vmem_devt_sector_of(id);
}

int vmem_map_grow_alloc(struct vmem_map *m, const struct vmem_geom *g,
			struct vmem_map_growth *gr)
{
	int s;

	memset(gr, 0, sizeof(*gr));
	gr->geom = *g;
	gr->meta_bytes = round_up(g->meta_sectors * VMEM_SECTOR_SIZE,
				  PAGE_SIZE);
	gr->meta = vzalloc(gr->meta_bytes);
	gr->committing = vmem_map_bitmap(g->map_sectors);
	gr->a_stale = vmem_map_bitmap(g->meta_sectors);
	gr->b_stale = vmem_map_bitmap(g->meta_sectors);
	if (!gr->meta || !gr->committing || !gr->a_stale || !gr->b_stale)
		return -ENOMEM;
	for (s = 0; s < VMEM_NR_SETS; s++) {
		gr->bits[s] = vmem_map_bitmap(g->nr_buckets);
		if (!gr->bits[s])
			return -ENOMEM;
	}
	return 0;
}

void vmem_map_grow_image(struct vmem_map *m, struct vmem_map_growth *gr,
			 u64 pool_pages)
{
	u64 n = m->geom.nr_buckets, ms = m->geom.meta_sectors;
	int s;

	memcpy(gr->meta, m->meta, ms * VMEM_SECTOR_SIZE);
	vmem_meta_grow(gr->meta, &m->geom, &gr->geom, pool_pages);
	memcpy(&gr->sb, gr->meta, sizeof(gr->sb));
	memcpy(gr->meta, m->meta, VMEM_SECTOR_SIZE);
	if (m->copies.a_stale)
		bitmap_copy(gr->a_stale, m->copies.a_stale, ms);
	if (m->copies.b_stale)
		bitmap_copy(gr->b_stale, m->copies.b_stale, ms);
	for (s = 0; s < VMEM_NR_SETS; s++)
		bitmap_copy(gr->bits[s], m->set[s].bits, n);

	swap(m->meta, gr->meta);
	swap(m->meta_bytes, gr->meta_bytes);
	swap(m->committing, gr->committing);
	swap(m->copies.a_stale, gr->a_stale);
	swap(m->copies.b_stale, gr->b_stale);
	for (s = 0; s < VMEM_NR_SETS; s++)
		swap(m->set[s].bits, gr->bits[s]);
}

void vmem_map_grow_buckets(struct vmem_map *m, const struct vmem_geom *g)
{
	u64 old = m->geom.nr_buckets;

	m->geom.map_sectors = g->map_sectors;
	m->geom.meta_sectors = g->meta_sectors;
	bitmap_set(m->set[VMEM_DIRTY].bits, old, g->nr_buckets - old);
	m->set[VMEM_DIRTY].nr += g->nr_buckets - old;
	WRITE_ONCE(m->geom.nr_buckets, g->nr_buckets);
}

void vmem_map_growth_free(struct vmem_map_growth *gr)
{
	int s;

	vfree(gr->meta);
	kvfree(gr->committing);
	kvfree(gr->a_stale);
	kvfree(gr->b_stale);
	for (s = 0; s < VMEM_NR_SETS; s++)
		kvfree(gr->bits[s]);
	memset(gr, 0, sizeof(*gr));
}
