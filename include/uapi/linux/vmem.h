/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmem control ABI: ioctls on the misc device /dev/vmem-control.
 *
 * Every structure has only fixed-width fields, explicit padding and
 * reserved space that must be zero (and is returned as zero), so later
 * fields can be added without a new command. Pointers travel as __u64.
 * Unknown commands fail with -ENOTTY; a non-zero reserved field or flag
 * bit with -EINVAL. Every failure is also logged by the kernel.
 *
 * Sizes are in bytes and must be whole multiples of 64 KiB
 * (VMEM_CTL_SIZE_UNIT).
 */
#ifndef _UAPI_LINUX_VMEM_H
#define _UAPI_LINUX_VMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VMEM_CTL_DEVICE		"/dev/vmem-control"
#define VMEM_CTL_SIZE_UNIT	65536ULL
#define VMEM_CTL_MAX_DEVICES	255
/* vmem_ctl_dev.id: pick the lowest free id */
#define VMEM_CTL_ID_ANY		0xffffffffU
/* vmem_ctl_dev.budget_bytes: no budget */
#define VMEM_CTL_NO_BUDGET	0ULL

/**
 * struct vmem_ctl_attach - VMEM_CTL_ATTACH argument
 * @path: user pointer to the backing block device's path, NUL-terminated
 * @path_len: bytes at @path including the NUL, at most 4096
 * @flags: zero
 * @reserved: zero
 */
struct vmem_ctl_attach {
	__u64 path;
	__u32 path_len;
	__u32 flags;
	__u64 reserved[6];
};

/**
 * struct vmem_ctl_dev - one virtual device
 * @id: 0..254; VMEM_CTL_ID_ANY for create picks one and returns it
 * @flags: zero
 * @size_bytes: virtual capacity
 * @budget_bytes: most backing space the device may use;
 *	VMEM_CTL_NO_BUDGET for none; rounded up to whole buckets
 * @used_bytes: out: backing space the device holds now
 * @used_buckets: out: buckets the device holds now
 * @major: out: block major of /dev/vmem<id>
 * @minor: out: first minor of /dev/vmem<id>
 * @reserved: zero
 */
struct vmem_ctl_dev {
	__u32 id;
	__u32 flags;
	__u64 size_bytes;
	__u64 budget_bytes;
	__u64 used_bytes;
	__u64 used_buckets;
	__u32 major;
	__u32 minor;
	__u64 reserved[4];
};

/**
 * struct vmem_ctl_pool - VMEM_CTL_POOL_INFO result
 * @attached: 1 if a pool is attached
 * @nr_devices: devices that exist
 * @bucket_bytes: bucket size
 * @nr_buckets: data buckets in the pool
 * @used_buckets: buckets owned by devices
 * @data_start_bytes: offset of bucket 0 on the backing device
 * @backing_major: major of the backing device
 * @backing_minor: minor of the backing device
 * @generation: superblock generation
 * @flags: VMEM_CTL_POOL_* (zero from kernels before read-only mode)
 * @reserved: zero
 */
struct vmem_ctl_pool {
	__u32 attached;
	__u32 nr_devices;
	__u64 bucket_bytes;
	__u64 nr_buckets;
	__u64 used_buckets;
	__u64 data_start_bytes;
	__u32 backing_major;
	__u32 backing_minor;
	__u64 generation;
	__u64 flags;
	__u64 reserved[3];
};

/*
 * A metadata write failed: writes fail with EIO until the pool is
 * detached and attached again
 */
#define VMEM_CTL_POOL_READ_ONLY	(1ULL << 0)

/**
 * struct vmem_ctl_grow - VMEM_CTL_GROW argument
 * @size_bytes: the bytes of the backing device the pool may use from its
 *	start, or 0 for all of it; never less than the pool uses now
 * @flags: VMEM_CTL_GROW_*
 * @old_buckets: out: data buckets before
 * @new_buckets: out: data buckets after (the same: nothing was added)
 * @max_buckets: out: the most buckets the map has room for
 * @reserved: zero
 */
struct vmem_ctl_grow {
	__u64 size_bytes;
	__u32 flags;
	__u32 pad;
	__u64 old_buckets;
	__u64 new_buckets;
	__u64 max_buckets;
	__u64 reserved[3];
};

/*
 * Grow only if the pool's autogrow switch is on (sysfs autogrow); with it
 * off, nothing changes and old_buckets == new_buckets. For the udev rule
 * that runs on a backing disk's capacity change.
 */
#define VMEM_CTL_GROW_AUTO	(1U << 0)
#define VMEM_CTL_GROW_FLAGS	VMEM_CTL_GROW_AUTO

#define VMEM_CTL_MAGIC		0xf3

/* Attach a formatted pool (-EBUSY if one is attached) */
#define VMEM_CTL_ATTACH		_IOW(VMEM_CTL_MAGIC, 0, struct vmem_ctl_attach)
/* Detach the pool (-EBUSY while any device is open) */
#define VMEM_CTL_DETACH		_IO(VMEM_CTL_MAGIC, 1)
#define VMEM_CTL_POOL_INFO	_IOR(VMEM_CTL_MAGIC, 2, struct vmem_ctl_pool)
/* Create a device: id (or ANY), size_bytes, budget_bytes; returns it */
#define VMEM_CTL_CREATE		_IOWR(VMEM_CTL_MAGIC, 3, struct vmem_ctl_dev)
/* Grow a device to size_bytes (shrinking is refused with -EINVAL) */
#define VMEM_CTL_RESIZE		_IOWR(VMEM_CTL_MAGIC, 4, struct vmem_ctl_dev)
/* Set a device's budget_bytes */
#define VMEM_CTL_SET_BUDGET	_IOWR(VMEM_CTL_MAGIC, 5, struct vmem_ctl_dev)
/* Delete device id and free its buckets (-EBUSY while open) */
#define VMEM_CTL_DELETE		_IOW(VMEM_CTL_MAGIC, 6, struct vmem_ctl_dev)
/* Read device id (-ENOENT if it does not exist) */
#define VMEM_CTL_GET_DEV	_IOWR(VMEM_CTL_MAGIC, 7, struct vmem_ctl_dev)
/*
 * Add buckets to the pool from its backing device's new size (layout
 * version 2): -EOPNOTSUPP for version 1, -EINVAL for a size below the
 * pool's or beyond the device, -EROFS on a read-only pool
 */
#define VMEM_CTL_GROW		_IOWR(VMEM_CTL_MAGIC, 8, struct vmem_ctl_grow)

#endif /* _UAPI_LINUX_VMEM_H */
