// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: the target of an offline command, a block device or an image
 * file: opening it (block devices exclusively when writing), its size,
 * whole reads and writes, and reading the metadata area of a pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include "vmemctl.h"

/**
 * vctl_target_open() - open a block device or a regular file
 * @t: result
 * @path: the target
 * @rw: open for writing (and, for a block device, exclusively)
 *
 * Return: 0, or VCTL_ERROR after printing why.
 */
int vctl_target_open(struct vctl_target *t, const char *path, bool rw)
{
	struct stat st;
	int flags = rw ? O_RDWR : O_RDONLY;

	memset(t, 0, sizeof(*t));
	t->path = path;
	t->fd = -1;
	if (stat(path, &st)) {
		vctl_err("%s: %s", path, strerror(errno));
		return VCTL_ERROR;
	}
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
		vctl_err("%s: not a block device or a regular file", path);
		return VCTL_ERROR;
	}
	t->is_blk = S_ISBLK(st.st_mode);
	/* O_EXCL without O_CREAT: fails if the device is mounted or in use */
	if (t->is_blk && rw)
		flags |= O_EXCL;
	t->fd = open(path, flags | O_CLOEXEC);
	if (t->fd < 0) {
		if (errno == EBUSY)
			vctl_err("%s: device is in use (mounted, attached or open exclusively)",
				 path);
		else
			vctl_err("%s: %s", path, strerror(errno));
		return VCTL_ERROR;
	}
	if (fstat(t->fd, &st) ||
	    (t->is_blk ? !S_ISBLK(st.st_mode) : !S_ISREG(st.st_mode))) {
		vctl_err("%s: changed while opening it", path);
		vctl_target_close(t);
		return VCTL_ERROR;
	}
	if (t->is_blk) {
		unsigned long long bytes;

		if (ioctl(t->fd, BLKGETSIZE64, &bytes)) {
			vctl_err("%s: cannot get its size: %s", path,
				 strerror(errno));
			vctl_target_close(t);
			return VCTL_ERROR;
		}
		t->bytes = bytes;
		/* Read what is on the disk, not what we cached earlier */
		posix_fadvise(t->fd, 0, 0, POSIX_FADV_DONTNEED);
	} else {
		t->bytes = st.st_size;
	}
	return 0;
}

void vctl_target_close(struct vctl_target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

/* Read exactly @len bytes at @off; 0 or VCTL_ERROR after printing why */
int vctl_pread(struct vctl_target *t, void *buf, size_t len, u64 off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(t->fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vctl_err("%s: read at byte %llu: %s", t->path,
				 (unsigned long long)off,
				 n ? strerror(errno) : "unexpected end of file");
			return VCTL_ERROR;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Write exactly @len bytes at @off; 0 or VCTL_ERROR after printing why */
int vctl_pwrite(struct vctl_target *t, const void *buf, size_t len, u64 off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(t->fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vctl_err("%s: write at byte %llu: %s", t->path,
				 (unsigned long long)off,
				 n ? strerror(errno) : "no space written");
			return VCTL_ERROR;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Make everything written so far durable (flushes a disk's cache too) */
int vctl_sync(struct vctl_target *t)
{
	if (fsync(t->fd)) {
		vctl_err("%s: fsync: %s", t->path, strerror(errno));
		return VCTL_ERROR;
	}
	return 0;
}

/**
 * vctl_read_meta() - read the metadata area a geometry describes
 * @t: the target
 * @g: geometry of a validated superblock
 *
 * Return: a malloc'ed buffer of g->meta_sectors sectors, or NULL after
 * printing why.
 */
void *vctl_read_meta(struct vctl_target *t, const struct vmem_geom *g)
{
	u64 len = g->meta_sectors * VMEM_SECTOR_SIZE;
	void *meta;

	if (len > t->bytes) {
		vctl_err("%s: metadata area (%llu bytes) is beyond the end of the target",
			 t->path, (unsigned long long)len);
		return NULL;
	}
	meta = malloc(len);
	if (!meta) {
		vctl_err("cannot allocate %llu bytes for the metadata",
			 (unsigned long long)len);
		return NULL;
	}
	if (vctl_pread(t, meta, len, 0)) {
		free(meta);
		return NULL;
	}
	return meta;
}
