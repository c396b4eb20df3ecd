/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem kernel-version shims: every difference between the kernels vmem
 * builds for lives here, as a named helper, so the driver's files read
 * as current kernel code. Features are probed from the target kernel's
 * headers in Kbuild (VMEM_HAVE_*), not guessed from version numbers:
 * Debian's 6.1 carries backports.
 *
 * The driver is written against 6.12 and built and tested against 6.1
 * (Debian 12) and 6.12 (Debian 13). Each probe stands for one upstream
 * change, so the kernels in between pick the right branch of each shim,
 * but only those two are tested.
 *
 *   VMEM_HAVE_SRCU_DOWN_READ  srcu_down_read() (6.2)
 *   VMEM_HAVE_BLK_MODE_T      blk_mode_t, BLK_OPEN_*, ->open(gendisk) (6.5)
 *   VMEM_HAVE_BDEV_FILE       bdev_file_open_by_path() (6.9)
 *   VMEM_HAVE_STACK_BDEV      queue_limits_stack_bdev() (6.9)
 *   VMEM_HAVE_ALLOC_LIMITS    blk_alloc_disk(lim, node) (6.9)
 *   VMEM_HAVE_BLK_FEAT        queue_limits.features (6.11)
 *   VMEM_HAVE_BLK_FLAGS       queue_limits.flags, BLK_FLAG_MISALIGNED (6.11)
 */
#ifndef _VMEM_COMPAT_H
#define _VMEM_COMPAT_H

#include <linux/blkdev.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/srcu.h>

#ifndef VMEM_HAVE_SRCU_DOWN_READ
/*
 * srcu_down_read()/srcu_up_read() (6.2) are SRCU read sides that may end
 * in another task or in interrupt context, as a bio's does. Before 6.2
 * they were __srcu_read_lock()/__srcu_read_unlock(), minus the lockdep
 * annotation that ties a read side to one task.
 */
static inline int srcu_down_read(struct srcu_struct *ssp)
{
	return __srcu_read_lock(ssp);
}

static inline void srcu_up_read(struct srcu_struct *ssp, int idx)
{
	__srcu_read_unlock(ssp, idx);
}
#endif

#ifndef VMEM_HAVE_BLK_MODE_T
/*
 * Before 6.5 block devices were opened with an fmode_t (a macro, not a
 * typedef: the shims add no types of their own)
 */
#define blk_mode_t		fmode_t
#define BLK_OPEN_READ		FMODE_READ
#define BLK_OPEN_WRITE		FMODE_WRITE

/*
 * Before 6.5 ->open() got the block device, not the gendisk. vmem's is
 * written the 6.5 way; VMEM_OPEN_ADAPTER(fn) defines fn_bdev(), which
 * takes the old arguments and calls fn(), and VMEM_OPEN(fn) names
 * whichever of the two block_device_operations wants.
 */
#define VMEM_OPEN_ADAPTER(fn)						\
	static int fn##_bdev(struct block_device *bdev, fmode_t mode)	\
	{								\
		return fn(bdev->bd_disk, mode);				\
	}
#define VMEM_OPEN(fn)		fn##_bdev
#else
#define VMEM_OPEN_ADAPTER(fn)
#define VMEM_OPEN(fn)		fn
#endif

struct blk_holder_ops;

#ifndef VMEM_HAVE_BDEV_FILE
/*
 * Since 6.9 an open block device is a struct file: bdev_file_open_by_path()
 * opens it (exclusively when @holder is set), file_bdev() gives its
 * block_device and bdev_fput() gives up the claim and the file. On older
 * kernels opening the device node with O_EXCL does the same through
 * blkdev_open(), with the file itself as the holder; the node is first
 * opened as O_PATH so that nothing but a block device is ever opened
 * for real (opening some character devices has side effects). The file
 * sends no fsnotify events, as a 6.9 bdev file, whose inode is not the
 * node's, sends none: closing a node opened for writing tells udev's
 * inotify watch that its content changed, and udev would probe it again
 * (and reattach a pool listed for activation at boot right after a
 * detach).
 */
static inline struct file *bdev_file_open_by_path(const char *path,
						  blk_mode_t mode, void *holder,
						  const struct blk_holder_ops *hops)
{
	int flags = O_LARGEFILE | __FMODE_NONOTIFY | (holder ? O_EXCL : 0);
	struct file *node, *file;

	if ((mode & BLK_OPEN_READ) && (mode & BLK_OPEN_WRITE))
		flags |= O_RDWR;
	else if (mode & BLK_OPEN_WRITE)
		flags |= O_WRONLY;
	node = filp_open(path, O_PATH, 0);
	if (IS_ERR(node))
		return node;
	if (S_ISBLK(file_inode(node)->i_mode))
		file = dentry_open(&node->f_path, flags, current_cred());
	else
		file = ERR_PTR(-ENOTBLK);
	fput(node);
	return file;
}

static inline struct block_device *file_bdev(struct file *bdev_file)
{
	return I_BDEV(bdev_file->f_mapping->host);
}

/*
 * The claim ends when the file is released, which fput() defers to the
 * calling task's return to user space (or to a worker in a kernel
 * thread): vmem closes its backing device from ioctls and module
 * load and unload, so the device is free by the time they return.
 */
static inline void bdev_fput(struct file *bdev_file)
{
	fput(bdev_file);
}
#endif

#ifndef VMEM_HAVE_STACK_BDEV
/* Before 6.9: the same with the backing device's queue limits */
static inline void queue_limits_stack_bdev(struct queue_limits *t,
					   struct block_device *bdev,
					   sector_t offset, const char *pfx)
{
	if (blk_stack_limits(t, &bdev_get_queue(bdev)->limits,
			     get_start_sect(bdev) + offset) < 0)
		pr_notice("%s: Warning: Device %pg is misaligned\n", pfx, bdev);
}
#endif

/* Forget that stacking found the bottom device's topology misaligned */
static inline void vmem_limits_clear_misaligned(struct queue_limits *lim)
{
#ifdef VMEM_HAVE_BLK_FLAGS
	lim->flags &= ~BLK_FLAG_MISALIGNED;
#else
	lim->misaligned = 0;
#endif
}

#ifndef VMEM_HAVE_BLK_FEAT
/*
 * Before 6.11 these features were queue flags, set on the queue once it
 * exists: vmem_alloc_disk() takes them apart from the limits and sets
 * them with vmem_disk_set_features().
 */
#define blk_features_t		unsigned int
#define BLK_FEAT_WRITE_CACHE	BIT(0)
#define BLK_FEAT_FUA		BIT(1)
#define BLK_FEAT_ROTATIONAL	BIT(2)
#define BLK_FEAT_STABLE_WRITES	BIT(5)

static inline void vmem_disk_set_features(struct gendisk *disk,
					  blk_features_t features)
{
	struct request_queue *q = disk->queue;

	blk_queue_write_cache(q, features & BLK_FEAT_WRITE_CACHE,
			      features & BLK_FEAT_FUA);
	if (features & BLK_FEAT_ROTATIONAL)
		blk_queue_flag_clear(QUEUE_FLAG_NONROT, q);
	else
		blk_queue_flag_set(QUEUE_FLAG_NONROT, q);
	if (features & BLK_FEAT_STABLE_WRITES)
		blk_queue_flag_set(QUEUE_FLAG_STABLE_WRITES, q);
}
#endif

/**
 * vmem_alloc_disk() - allocate a bio-based gendisk with its limits
 * @lim: the queue limits (6.9's blk_alloc_disk() validates them)
 * @features: BLK_FEAT_* the disk has (6.11's @lim->features)
 * @node: NUMA node
 *
 * Return: the disk or an ERR_PTR, on every kernel.
 */
#if defined(VMEM_HAVE_BLK_FEAT)
static inline struct gendisk *vmem_alloc_disk(struct queue_limits *lim,
					      blk_features_t features, int node)
{
	lim->features |= features;
	return blk_alloc_disk(lim, node);
}
#elif defined(VMEM_HAVE_ALLOC_LIMITS)
static inline struct gendisk *vmem_alloc_disk(struct queue_limits *lim,
					      blk_features_t features, int node)
{
	struct gendisk *disk = blk_alloc_disk(lim, node);

	if (!IS_ERR(disk))
		vmem_disk_set_features(disk, features);
	return disk;
}
#else
/*
 * Before 6.9 a driver changed the limits of an allocated queue. They are
 * copied whole, as dm does on 6.1; the setters then derive what 6.9's
 * validation derives: block sizes round the request sizes, and the
 * discard limit is both the hardware's and the one in force.
 */
static inline struct gendisk *vmem_alloc_disk(struct queue_limits *lim,
					      blk_features_t features, int node)
{
	struct gendisk *disk = blk_alloc_disk(node);
	struct request_queue *q;

	if (!disk)
		return ERR_PTR(-ENOMEM);
	q = disk->queue;
	q->limits = *lim;
	blk_queue_logical_block_size(q, lim->logical_block_size);
	blk_queue_max_discard_sectors(q, lim->max_hw_discard_sectors);
	vmem_disk_set_features(disk, features);
	return disk;
}
#endif

#endif /* _VMEM_COMPAT_H */
