// SPDX-License-Identifier: GPL-2.0
/*
 * vmem virtual devices: one gendisk per /dev/vmemN, its queue limits and
 * its sysfs attributes (zram-style, one value per file, under
 * /sys/block/vmemN/vmem/).
 *
 * Life of a device: vmem_dev_add() makes and announces the disk;
 * vmem_dev_claim() refuses if it is open and otherwise marks it dead so
 * no new open succeeds (vmem_dev_unclaim() undoes that when a delete
 * cannot start); vmem_dev_unplug() deletes the disk; once the pool has
 * ended every bio of the device, vmem_dev_free() frees it.
 *
 * Every device advertises a volatile write cache with FUA, whatever the
 * backing device has: map changes are committed on REQ_PREFLUSH and
 * REQ_FUA (commit.c), so that is the contract users must follow.
 *
 * Each device is linked as a holder of the backing device
 * (/sys/block/<backing>/holders/vmemN), so lsblk shows it under its disk,
 * and names its pool in vmem/pool_uuid, for udev's
 * /dev/disk/by-vmem/<pool uuid>/<id> links.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include "compat.h"
#include "debug.h"
#include "vmem.h"

static int vmem_open(struct gendisk *disk, blk_mode_t mode)
{
	struct vmem_dev *dev = disk->private_data;

	/* Called with disk->open_mutex held, like vmem_dev_claim() */
	if (READ_ONCE(dev->dead))
		return -ENXIO;
	return 0;
}

VMEM_OPEN_ADAPTER(vmem_open)

static const struct block_device_operations vmem_fops = {
	.owner = THIS_MODULE,
	.submit_bio = vmem_submit_bio,
	.open = VMEM_OPEN(vmem_open),
};

static struct vmem_dev *vmem_dev_of(struct device *d)
{
	return dev_to_disk(d)->private_data;
}

static ssize_t used_bytes_show(struct device *d, struct device_attribute *a,
			       char *buf)
{
	struct vmem_dev *dev = vmem_dev_of(d);

	return sysfs_emit(buf, "%llu\n",
			  atomic64_read(&dev->pool->map.dev[dev->id].used) *
			  vmem_dev_bucket_bytes(dev->pool));
}
static DEVICE_ATTR_RO(used_bytes);

static ssize_t used_buckets_show(struct device *d, struct device_attribute *a,
				 char *buf)
{
	struct vmem_dev *dev = vmem_dev_of(d);

	return sysfs_emit(buf, "%llu\n",
			  atomic64_read(&dev->pool->map.dev[dev->id].used));
}
static DEVICE_ATTR_RO(used_buckets);

static ssize_t budget_bytes_show(struct device *d, struct device_attribute *a,
				 char *buf)
{
	struct vmem_dev *dev = vmem_dev_of(d);

	return sysfs_emit(buf, "%llu\n",
			  (u64)READ_ONCE(dev->pool->map.dev[dev->id].budget) *
			  vmem_dev_bucket_bytes(dev->pool));
}
static DEVICE_ATTR_RO(budget_bytes);

static ssize_t bucket_bytes_show(struct device *d, struct device_attribute *a,
				 char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  vmem_dev_bucket_bytes(vmem_dev_of(d)->pool));
}
static DEVICE_ATTR_RO(bucket_bytes);

static ssize_t id_show(struct device *d, struct device_attribute *a,
		       char *buf)
{
	return sysfs_emit(buf, "%u\n", vmem_dev_of(d)->id);
}
static DEVICE_ATTR_RO(id);

static ssize_t pool_uuid_show(struct device *d, struct device_attribute *a,
			      char *buf)
{
	struct vmem_pool *pool = vmem_dev_of(d)->pool;

	/* Not the map's image: a grow may free it meanwhile */
	vmem_hook(VMEM_HOOK_UUID_SHOW);
	return sysfs_emit(buf, "%pUb\n", pool->uuid);
}
static DEVICE_ATTR_RO(pool_uuid);

static struct attribute *vmem_dev_attrs[] = {
	&dev_attr_used_bytes.attr,
	&dev_attr_used_buckets.attr,
	&dev_attr_budget_bytes.attr,
	&dev_attr_bucket_bytes.attr,
	&dev_attr_id.attr,
	&dev_attr_pool_uuid.attr,
	NULL,
};

static const struct attribute_group vmem_dev_group = {
	.name = "vmem",
	.attrs = vmem_dev_attrs,
};

static const struct attribute_group *vmem_dev_groups[] = {
	&vmem_dev_group,
	NULL,
};

/* The longest discard or write-zeroes, in sectors: whole buckets */
static unsigned int vmem_dev_max_range(struct vmem_pool *pool)
{
	return round_down(UINT_MAX >> SECTOR_SHIFT, pool->bucket_sectors);
}

/* A device's limits: the backing device's, stacked, then vmem's own */
static void vmem_dev_limits(struct vmem_pool *pool, struct queue_limits *lim)
{
	struct block_device *backing = pool->bdev;

	blk_set_stacking_limits(lim);
	queue_limits_stack_bdev(lim, backing, 0, KBUILD_MODNAME);
	lim->logical_block_size = VMEM_LBS;
	lim->physical_block_size = max_t(unsigned int, VMEM_LBS,
					 bdev_physical_block_size(backing));
	lim->io_min = VMEM_LBS;
	/*
	 * A device's blocks start where its buckets do, not where the
	 * backing device's do. The backing's alignment (a partition's
	 * start, a 512e disk's offset) is of its own sectors, and an offset
	 * below its physical block (4 KiB at most on real disks) cannot be
	 * expressed in vmem's 4 KiB blocks: report none. Buckets off the
	 * backing's physical blocks are logged at attach.
	 */
	lim->alignment_offset = 0;
	vmem_limits_clear_misaligned(lim);
	lim->chunk_sectors = pool->bucket_sectors;
	/*
	 * Whole buckets are always freed; partial ranges pass down if able.
	 * The kernel cuts a large discard or write-zeroes at these limits
	 * (and a discard at a multiple of the granularity), each piece on
	 * its own: in whole buckets, so that no bucket is split between
	 * two pieces (neither of which would free it) and no piece starts
	 * off a 4 KiB block (which a 4 KiB-sector backing disk refuses).
	 */
	lim->max_hw_discard_sectors = vmem_dev_max_range(pool);
	lim->discard_granularity = pool->bucket_sectors << SECTOR_SHIFT;
	lim->discard_alignment = 0;
	lim->max_write_zeroes_sectors = vmem_dev_max_range(pool);
	/* vmem_submit_bio() refuses REQ_OP_SECURE_ERASE: do not offer it */
	lim->max_secure_erase_sectors = 0;
}

/* A write cache with FUA always; rotation and stable pages as the backing */
static blk_features_t vmem_dev_features(struct vmem_pool *pool)
{
	blk_features_t features = BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA;

	if (!bdev_nonrot(pool->bdev))
		features |= BLK_FEAT_ROTATIONAL;
	if (bdev_stable_writes(pool->bdev))
		features |= BLK_FEAT_STABLE_WRITES;
	return features;
}

void vmem_dev_set_capacity(struct vmem_dev *dev)
{
	u64 pages = dev->pool->map.dev[dev->id].capacity_pages;

	set_capacity_and_notify(dev->disk, pages * VMEM_SECTORS_PER_PAGE);
}

/**
 * vmem_dev_add() - create and announce /dev/vmem<id>
 * @pool: the pool; device @id must exist in its map
 * @id: device id
 *
 * Return: the device or an ERR_PTR.
 */
struct vmem_dev *vmem_dev_add(struct vmem_pool *pool, u32 id)
{
	struct queue_limits lim;
	struct vmem_dev *dev;
	struct gendisk *disk;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->pool = pool;
	dev->id = id;
	dev->bucket_shift = ilog2(pool->bucket_sectors);

	vmem_dev_limits(pool, &lim);
	disk = vmem_alloc_disk(&lim, vmem_dev_features(pool), NUMA_NO_NODE);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		pr_err("vmem%u: cannot allocate the disk: %d\n", id, ret);
		goto out_free_dev;
	}
	dev->disk = disk;
	disk->major = vmem_major;
	disk->first_minor = id * VMEM_MINORS;
	disk->minors = VMEM_MINORS;
	disk->fops = &vmem_fops;
	disk->private_data = dev;
	snprintf(disk->disk_name, DISK_NAME_LEN, "vmem%u", id);
	set_capacity(disk, pool->map.dev[id].capacity_pages *
		     VMEM_SECTORS_PER_PAGE);

	ret = device_add_disk(NULL, disk, vmem_dev_groups);
	if (ret) {
		pr_err("vmem%u: cannot add disk: %d\n", id, ret);
		goto out_put_disk;
	}
	ret = bd_link_disk_holder(pool->bdev, disk);
	if (ret) {
		pr_err("vmem%u: cannot link it to %pg as its holder: %d\n", id,
		       pool->bdev, ret);
		goto out_del_disk;
	}
	return dev;

out_del_disk:
	del_gendisk(disk);
out_put_disk:
	put_disk(disk);
out_free_dev:
	kfree(dev);
	return ERR_PTR(ret);
}

/**
 * vmem_dev_claim() - refuse if open, else stop new opens
 * @dev: the device
 *
 * Return: 0 or -EBUSY.
 */
int vmem_dev_claim(struct vmem_dev *dev)
{
	int ret = 0;

	mutex_lock(&dev->disk->open_mutex);
	if (disk_openers(dev->disk))
		ret = -EBUSY;
	else
		WRITE_ONCE(dev->dead, true);
	mutex_unlock(&dev->disk->open_mutex);
	return ret;
}

/**
 * vmem_dev_unclaim() - let a claimed device be opened again
 * @dev: a device vmem_dev_claim() succeeded on and that stays
 */
void vmem_dev_unclaim(struct vmem_dev *dev)
{
	mutex_lock(&dev->disk->open_mutex);
	WRITE_ONCE(dev->dead, false);
	mutex_unlock(&dev->disk->open_mutex);
}

/**
 * vmem_dev_unplug() - delete a claimed device's disk: no new bio comes
 * @dev: a device vmem_dev_claim() succeeded on
 *
 * Bios already inside the pool are the pool's to finish
 * (vmem_pool_quiesce()) before vmem_dev_free().
 */
void vmem_dev_unplug(struct vmem_dev *dev)
{
	bd_unlink_disk_holder(dev->pool->bdev, dev->disk);
	del_gendisk(dev->disk);
}

/**
 * vmem_dev_free() - free an unplugged device whose bios have all ended
 * @dev: the device
 */
void vmem_dev_free(struct vmem_dev *dev)
{
	put_disk(dev->disk);
	kfree(dev);
}
