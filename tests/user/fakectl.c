// SPDX-License-Identifier: GPL-2.0
/*
 * fakectl.so: an LD_PRELOAD stand-in for the vmem module's control
 * device, so vmemctl's online commands (argument passing, error
 * reporting, list and status output) can be tested without a kernel.
 * It follows include/uapi/linux/vmem.h; the real module is tested in the
 * VM suite.
 *
 * open("/dev/vmem-control") succeeds (on /dev/null) when FAKECTL_STATE
 * names a state file, which keeps the fake pool across vmemctl runs.
 * Devices use used_buckets = id % 4 so that the output has numbers.
 * VMEM_CTL_GROW grows the fake pool to FAKECTL_DEV_BUCKETS buckets (the
 * backing device's new size), at most FAKE_MAX_BUCKETS; with
 * VMEM_CTL_GROW_AUTO only when FAKECTL_AUTOGROW is set; FAKECTL_V1 makes
 * it a version 1 pool, which cannot grow.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/vmem.h>

#define FAKE_BUCKET	(1024 * 1024ULL)
#define FAKE_BUCKETS	10239ULL
#define FAKE_MAX_BUCKETS	40956ULL

struct fake_dev {
	__u32 exists;
	__u64 size;
	__u64 budget;
};

struct fake_state {
	__u32 attached;
	__u32 major;
	__u32 minor;
	__u64 nr_buckets;	/* 0: FAKE_BUCKETS */
	struct fake_dev dev[VMEM_CTL_MAX_DEVICES];
};

static int fake_fd = -1;
static struct fake_state st;

static void fake_load(void)
{
	int fd = open(getenv("FAKECTL_STATE"), O_RDONLY);

	memset(&st, 0, sizeof(st));
	if (fd < 0)
		return;
	if (read(fd, &st, sizeof(st)) != sizeof(st))
		memset(&st, 0, sizeof(st));
	close(fd);
}

static void fake_save(void)
{
	int fd = open(getenv("FAKECTL_STATE"), O_WRONLY | O_CREAT | O_TRUNC,
		      0600);

	if (fd < 0 || write(fd, &st, sizeof(st)) != sizeof(st))
		abort();
	close(fd);
}

static bool fake_zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		if (*c++)
			return false;
	return true;
}

static __u64 fake_used(__u32 id)
{
	return id % 4;
}

static void fake_fill(struct vmem_ctl_dev *d, __u32 id)
{
	memset(d, 0, sizeof(*d));
	d->id = id;
	d->size_bytes = st.dev[id].size;
	d->budget_bytes = st.dev[id].budget;
	d->used_buckets = fake_used(id);
	d->used_bytes = d->used_buckets * FAKE_BUCKET;
	d->major = 252;
	d->minor = id * 16;
}

static int fake_attach(struct vmem_ctl_attach *a)
{
	const char *path = (const char *)(unsigned long)a->path;
	struct stat sb;

	if (a->flags || !fake_zero(a->reserved, sizeof(a->reserved)) ||
	    a->path_len < 2 || a->path_len > 4096 ||
	    strlen(path) + 1 != a->path_len)
		return -EINVAL;
	if (st.attached)
		return -EBUSY;
	if (stat(path, &sb))
		return -errno;
	if (!S_ISBLK(sb.st_mode))
		return -ENOTBLK;
	st.attached = 1;
	st.major = major(sb.st_rdev);
	st.minor = minor(sb.st_rdev);
	return 0;
}

static int fake_pool_info(struct vmem_ctl_pool *p)
{
	__u32 id;

	memset(p, 0, sizeof(*p));
	if (!st.attached)
		return 0;
	p->attached = 1;
	p->bucket_bytes = FAKE_BUCKET;
	p->nr_buckets = st.nr_buckets ? st.nr_buckets : FAKE_BUCKETS;
	p->data_start_bytes = FAKE_BUCKET;
	p->backing_major = st.major;
	p->backing_minor = st.minor;
	p->generation = 3;
	if (getenv("FAKECTL_READ_ONLY"))
		p->flags = VMEM_CTL_POOL_READ_ONLY;
	for (id = 0; id < VMEM_CTL_MAX_DEVICES; id++) {
		if (!st.dev[id].exists)
			continue;
		p->nr_devices++;
		p->used_buckets += fake_used(id);
	}
	return 0;
}

static int fake_dev_cmd(unsigned long req, struct vmem_ctl_dev *d)
{
	struct fake_dev *f;

	if (d->flags || !fake_zero(d->reserved, sizeof(d->reserved)))
		return -EINVAL;
	if (!st.attached)
		return -ENODEV;
	if (req == VMEM_CTL_CREATE && d->id == VMEM_CTL_ID_ANY) {
		for (d->id = 0; d->id < VMEM_CTL_MAX_DEVICES; d->id++)
			if (!st.dev[d->id].exists)
				break;
		if (d->id == VMEM_CTL_MAX_DEVICES)
			return -ENOSPC;
	}
	if (d->id >= VMEM_CTL_MAX_DEVICES)
		return -EINVAL;
	f = &st.dev[d->id];
	if (req != VMEM_CTL_CREATE && !f->exists)
		return -ENOENT;
	if ((req == VMEM_CTL_CREATE || req == VMEM_CTL_RESIZE) &&
	    (!d->size_bytes || d->size_bytes % VMEM_CTL_SIZE_UNIT))
		return -EINVAL;
	switch (req) {
	case VMEM_CTL_CREATE:
		if (f->exists)
			return -EEXIST;
		f->exists = 1;
		f->size = d->size_bytes;
		f->budget = d->budget_bytes;
		break;
	case VMEM_CTL_RESIZE:
		if (d->size_bytes < f->size)
			return -EINVAL;
		f->size = d->size_bytes;
		break;
	case VMEM_CTL_SET_BUDGET:
		f->budget = d->budget_bytes;
		break;
	case VMEM_CTL_DELETE:
		memset(f, 0, sizeof(*f));
		return 0;
	}
	fake_fill(d, d->id);
	return 0;
}

static int fake_grow(struct vmem_ctl_grow *g)
{
	const char *dev = getenv("FAKECTL_DEV_BUCKETS");
	__u64 n = st.nr_buckets ? st.nr_buckets : FAKE_BUCKETS, want;

	if ((g->flags & ~VMEM_CTL_GROW_FLAGS) || g->pad || g->old_buckets ||
	    g->new_buckets || g->max_buckets ||
	    !fake_zero(g->reserved, sizeof(g->reserved)) ||
	    g->size_bytes % VMEM_CTL_SIZE_UNIT)
		return -EINVAL;
	if (!st.attached)
		return -ENODEV;
	if (getenv("FAKECTL_V1"))
		return -EOPNOTSUPP;
	want = dev ? strtoull(dev, NULL, 0) : n;
	if (g->size_bytes) {
		if (g->size_bytes / FAKE_BUCKET - 1 > want)
			return -EINVAL;
		want = g->size_bytes / FAKE_BUCKET - 1;
	}
	if (want < n)
		return -EINVAL;
	if (want > FAKE_MAX_BUCKETS)
		want = FAKE_MAX_BUCKETS;
	g->old_buckets = n;
	g->new_buckets = n;
	g->max_buckets = FAKE_MAX_BUCKETS;
	if ((g->flags & VMEM_CTL_GROW_AUTO) && !getenv("FAKECTL_AUTOGROW"))
		return 0;
	st.nr_buckets = want;
	g->new_buckets = want;
	return 0;
}

static int fake_ioctl(unsigned long req, void *arg)
{
	int ret;

	fake_load();
	switch (req) {
	case VMEM_CTL_ATTACH:
		ret = fake_attach(arg);
		break;
	case VMEM_CTL_DETACH:
		ret = st.attached ? 0 : -ENODEV;
		st.attached = 0;
		st.nr_buckets = 0;
		break;
	case VMEM_CTL_POOL_INFO:
		ret = fake_pool_info(arg);
		break;
	case VMEM_CTL_GROW:
		ret = fake_grow(arg);
		break;
	case VMEM_CTL_CREATE:
	case VMEM_CTL_RESIZE:
	case VMEM_CTL_SET_BUDGET:
	case VMEM_CTL_DELETE:
	case VMEM_CTL_GET_DEV:
		ret = fake_dev_cmd(req, arg);
		break;
	default:
		ret = -ENOTTY;
	}
	if (ret) {
		errno = -ret;
		return -1;
	}
	fake_save();
	return 0;
}

int open(const char *path, int flags, ...)
{
	int (*next)(const char *path, int flags, mode_t mode);
	mode_t mode = 0;
	va_list ap;

	if (!strcmp(path, VMEM_CTL_DEVICE) && getenv("FAKECTL_STATE")) {
		fake_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		return fake_fd;
	}
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	next = dlsym(RTLD_NEXT, "open");
	return next(path, flags, mode);
}

int ioctl(int fd, unsigned long req, ...)
{
	int (*next)(int fd, unsigned long req, void *arg);
	void *arg;
	va_list ap;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd >= 0 && fd == fake_fd)
		return fake_ioctl(req, arg);
	next = dlsym(RTLD_NEXT, "ioctl");
	return next(fd, req, arg);
}
