// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: the target of an offline command, a block device or an image
 * file: opening it (block devices exclusively when writing), its size,
 * whole reads and writes, and reading the metadata area of a pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include "vmemctl.h"

/* Largest direct write at a time (a bounce buffer of this size) */
#define VCTL_DIRECT_CHUNK	(1024 * 1024)

/*
 * Does loop device @name (loopN) read the file @st? Asked of the device
 * (LOOP_GET_STATUS64: the file's device and inode numbers), as the path
 * in sysfs is the path in the mount namespace of whoever set it up; by
 * that path only when the device cannot be opened (not root).
 */
static bool vctl_loop_reads(const char *name, const struct stat *st)
{
	struct loop_info64 info;
	char buf[4096], *nl;
	struct stat bst;
	bool ret = false;
	FILE *f;
	int fd;

	snprintf(buf, sizeof(buf), "/dev/%s", name);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !ioctl(fd, LOOP_GET_STATUS64, &info)) {
		close(fd);
		return info.lo_device == st->st_dev &&
		       info.lo_inode == st->st_ino;
	}
	if (fd >= 0)
		close(fd);
	snprintf(buf, sizeof(buf), "/sys/block/%s/loop/backing_file", name);
	f = fopen(buf, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		nl = strchr(buf, '\n');
		if (nl)
			*nl = 0;
		ret = !stat(buf, &bst) && bst.st_dev == st->st_dev &&
		      bst.st_ino == st->st_ino;
	}
	fclose(f);
	return ret;
}

/*
 * Is the file @st a loop device's backing file? Writing under the loop
 * device (a pool the module may have attached through it) is what the
 * exclusive open of a block device prevents; the file has no such lock.
 * Return: 0, or VCTL_ERROR after printing which loop device.
 */
static int vctl_loop_backed(const char *path, const struct stat *st)
{
	glob_t g;
	size_t i;
	int ret = 0;

	if (glob("/sys/block/loop*/loop", 0, NULL, &g))
		return 0;
	for (i = 0; i < g.gl_pathc && !ret; i++) {
		/* /sys/block/loopN/loop */
		*strchr(g.gl_pathv[i] + 11, '/') = 0;
		if (vctl_loop_reads(g.gl_pathv[i] + 11, st)) {
			vctl_err("%s: it backs /dev/%s: use that device (refused while a pool on it is attached), or detach it (losetup -d)",
				 path, g.gl_pathv[i] + 11);
			ret = VCTL_ERROR;
		}
	}
	globfree(&g);
	return ret;
}

/**
 * vctl_target_open() - open a block device or a regular file
 * @t: result
 * @path: the target
 * @rw: open for writing (and, for a block device, exclusively; a file
 *	that backs a loop device is refused)
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
	t->dfd = -1;
	t->wfd = -1;
	if (stat(path, &st)) {
		vctl_err("%s: %s", path, strerror(errno));
		return VCTL_ERROR;
	}
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
		vctl_err("%s: not a block device or a regular file", path);
		return VCTL_ERROR;
	}
	t->is_blk = S_ISBLK(st.st_mode);
	if (!t->is_blk && rw && vctl_loop_backed(path, &st))
		return VCTL_ERROR;
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
	if (t->dfd >= 0)
		close(t->dfd);
	if (t->wfd >= 0)
		close(t->wfd);
	t->fd = -1;
	t->dfd = -1;
	t->wfd = -1;
}

static int vctl_pread_at(struct vctl_target *t, void *buf, size_t len,
			 u64 off, bool quiet)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(t->fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!quiet)
				vctl_err("%s: read at byte %llu: %s", t->path,
					 (unsigned long long)off,
					 n ? strerror(errno) :
					 "unexpected end of file");
			return VCTL_ERROR;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Read exactly @len bytes at @off; 0 or VCTL_ERROR after printing why */
int vctl_pread(struct vctl_target *t, void *buf, size_t len, u64 off)
{
	return vctl_pread_at(t, buf, len, off, false);
}

/* The same, printing nothing (for probes) */
int vctl_pread_quiet(struct vctl_target *t, void *buf, size_t len, u64 off)
{
	return vctl_pread_at(t, buf, len, off, true);
}

/**
 * vctl_read_sector() - read one 512-byte sector, printing nothing
 * @t: the target
 * @sector: which
 * @buf: 512 bytes out
 *
 * On a block device the read bypasses the page cache (O_DIRECT, a
 * logical block at a time), so that a bad sector fails alone, as in the
 * module, not with the 4 KiB page around it.
 *
 * Return: 0, or VCTL_ERROR when it cannot be read.
 */
int vctl_read_sector(struct vctl_target *t, u64 sector, void *buf)
{
	u64 off = sector * VMEM_SECTOR_SIZE;
	unsigned int lbs = VMEM_SECTOR_SIZE;
	void *b;
	int ret = VCTL_ERROR;

	if (!t->is_blk)
		return vctl_pread_quiet(t, buf, VMEM_SECTOR_SIZE, off);
	if (t->dfd < 0)
		t->dfd = open(t->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (t->dfd < 0 || ioctl(t->dfd, BLKSSZGET, &lbs) || lbs < 512 ||
	    lbs > 65536 || posix_memalign(&b, 4096, lbs))
		return vctl_pread_quiet(t, buf, VMEM_SECTOR_SIZE, off);
	if (pread(t->dfd, b, lbs, off / lbs * lbs) == (ssize_t)lbs) {
		memcpy(buf, (u8 *)b + off % lbs, VMEM_SECTOR_SIZE);
		ret = 0;
	}
	free(b);
	return ret;
}

/**
 * vctl_block_sectors() - the sectors a write of @t rewrites as one: its
 * larger block size (logical or physical, as the module reckons, in
 * meta_io.c), in 512-byte sectors; 1 for a file
 * @t: the target
 */
u64 vctl_block_sectors(struct vctl_target *t)
{
	unsigned int lbs = 0, pbs = 0;

	if (!t->is_blk || ioctl(t->fd, BLKSSZGET, &lbs) ||
	    ioctl(t->fd, BLKPBSZGET, &pbs))
		return 1;
	if (pbs > lbs)
		lbs = pbs;
	return lbs > VMEM_SECTOR_SIZE && lbs <= 65536 ?
	       lbs / VMEM_SECTOR_SIZE : 1;
}

/*
 * Write @len bytes at @off of a block device with O_DIRECT, when they are
 * whole logical blocks: through the page cache a write smaller than its
 * 4 KiB page reads the page first, and fails where a sector of it is bad,
 * which is what repair rewrites. The direct write drops the cached page.
 * Return: 0 when written, 1 when not tried (not whole blocks, no direct
 * open), VCTL_ERROR after printing why.
 */
static int vctl_pwrite_direct(struct vctl_target *t, const void *buf,
			      size_t len, u64 off)
{
	size_t chunk = len < VCTL_DIRECT_CHUNK ? len : VCTL_DIRECT_CHUNK;
	const char *p = buf;
	unsigned int lbs;
	ssize_t n;
	void *b;

	if (t->wfd < 0)
		t->wfd = open(t->path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (t->wfd < 0 || ioctl(t->wfd, BLKSSZGET, &lbs) || lbs < 512 ||
	    lbs > 65536 || len % lbs || off % lbs || chunk % lbs ||
	    posix_memalign(&b, 4096, chunk))
		return 1;
	while (len) {
		if (chunk > len)
			chunk = len;
		memcpy(b, p, chunk);
		n = pwrite(t->wfd, b, chunk, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)chunk) {
			vctl_err("%s: write at byte %llu: %s", t->path,
				 (unsigned long long)off,
				 n < 0 ? strerror(errno) : "short write");
			free(b);
			return VCTL_ERROR;
		}
		p += chunk;
		off += chunk;
		len -= chunk;
	}
	free(b);
	return 0;
}

/* Write exactly @len bytes at @off; 0 or VCTL_ERROR after printing why */
int vctl_pwrite(struct vctl_target *t, const void *buf, size_t len, u64 off)
{
	const char *p = buf;
	int ret;

	if (t->is_blk) {
		ret = vctl_pwrite_direct(t, buf, len, off);
		if (ret <= 0)
			return ret;
	}
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
 * vctl_read_meta() - read one copy of the metadata area a geometry describes
 * @t: the target
 * @g: geometry of a validated superblock
 * @at: the copy's first sector: 0 (copy A) or g->copy_b (copy B)
 *
 * A sector that cannot be read (a bad block) reads as zeros, which no
 * metadata sector validates as: the reading rule then takes the other
 * copy, as the module does.
 *
 * Return: a malloc'ed buffer of g->meta_sectors sectors, or NULL after
 * printing why.
 */
void *vctl_read_meta(struct vctl_target *t, const struct vmem_geom *g,
		     u64 at)
{
	u64 len = g->meta_sectors * VMEM_SECTOR_SIZE, s;
	u64 off = at * VMEM_SECTOR_SIZE;
	u8 *meta;

	if (off > t->bytes || len > t->bytes - off) {
		vctl_err("%s: metadata area (%llu bytes at byte %llu) is beyond the end of the target",
			 t->path, (unsigned long long)len,
			 (unsigned long long)off);
		return NULL;
	}
	meta = malloc(len);
	if (!meta) {
		vctl_err("cannot allocate %llu bytes for the metadata",
			 (unsigned long long)len);
		return NULL;
	}
	if (!vctl_pread_quiet(t, meta, len, off))
		return meta;
	for (s = 0; s < g->meta_sectors; s++) {
		u8 *p = meta + s * VMEM_SECTOR_SIZE;

		if (vctl_read_sector(t, at + s, p)) {
			vctl_err("%s: warning: sector %llu cannot be read",
				 t->path, (unsigned long long)(at + s));
			memset(p, 0, VMEM_SECTOR_SIZE);
		}
	}
	return meta;
}
