// SPDX-License-Identifier: GPL-2.0
/*
 * vmem control: the /dev/vmem-control misc device (ioctl ABI in
 * include/uapi/linux/vmem.h) and the pool's sysfs attributes under
 * /sys/class/misc/vmem-control/.
 *
 * Every ioctl runs under vmem_ctl_mutex, validates all of its input
 * before touching anything, and logs why it refused.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vmem.h>
#include "vmem.h"

#define VMEM_CTL_PATH_MAX	4096

static struct miscdevice vmem_misc;

/*
 * Set once module init has succeeded. The control device exists before
 * then (the pool's uevents come from it), but no open of it may, so that
 * no ioctl can attach a pool beside init's backing= attach, or keep one
 * the failed init's module no longer has code for. No barrier: what init
 * attached, an ioctl sees under vmem_ctl_mutex, which init released.
 */
static bool vmem_ctl_live;

static int vmem_ctl_open(struct inode *inode, struct file *file)
{
	if (!READ_ONCE(vmem_ctl_live)) {
		pr_warn_ratelimited("control device: the module is still loading, try again\n");
		return -EAGAIN;
	}
	return 0;
}

static bool vmem_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static int vmem_ctl_attach(void __user *arg)
{
	struct vmem_ctl_attach a;
	char *path;
	int ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.flags || !vmem_zero(a.reserved, sizeof(a.reserved))) {
		pr_err_ratelimited("attach: unknown flags or reserved fields set\n");
		return -EINVAL;
	}
	if (a.path_len < 2 || a.path_len > VMEM_CTL_PATH_MAX) {
		pr_err_ratelimited("attach: path length %u out of range\n", a.path_len);
		return -EINVAL;
	}
	path = memdup_user(u64_to_user_ptr(a.path), a.path_len);
	if (IS_ERR(path))
		return PTR_ERR(path);
	if (path[a.path_len - 1] || strlen(path) != a.path_len - 1) {
		pr_err_ratelimited("attach: path is not one NUL-terminated string\n");
		ret = -EINVAL;
		goto out_free;
	}
	if (vmem_pool) {
		pr_err_ratelimited("attach %s: a pool is already attached (%pg)\n", path,
				   vmem_pool->bdev);
		ret = -EBUSY;
		goto out_free;
	}
	ret = vmem_pool_attach(path, vmem_ctl_device(), &vmem_pool);
	if (ret)
		pr_err_ratelimited("attach %s: failed (%d)\n", path, ret);
out_free:
	kfree(path);
	return ret;
}

/* Refuse @what, a command or a sysfs file, for want of a pool */
static int vmem_ctl_no_pool(const char *what)
{
	pr_err_ratelimited("%s: no pool attached\n", what);
	return -ENODEV;
}

static int vmem_ctl_detach(void)
{
	int ret;

	if (!vmem_pool)
		return vmem_ctl_no_pool("detach");
	ret = vmem_pool_detach(vmem_pool);
	if (!ret)
		vmem_pool = NULL;
	return ret;
}

static void vmem_ctl_fill_dev(struct vmem_ctl_dev *c, u32 id)
{
	struct vmem_map_dev *d = &vmem_pool->map.dev[id];
	u64 bucket = vmem_dev_bucket_bytes(vmem_pool);

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->size_bytes = d->capacity_pages * VMEM_PAGE_SIZE;
	c->budget_bytes = (u64)d->budget * bucket;
	c->used_buckets = atomic64_read(&d->used);
	c->used_bytes = c->used_buckets * bucket;
	c->major = vmem_major;
	c->minor = id * VMEM_MINORS;
}

/* Check a size in bytes and turn it into pages */
static int vmem_ctl_pages(const char *cmd, u64 bytes, u64 *pages)
{
	u64 buckets;

	if (!bytes || bytes % VMEM_PAGE_SIZE) {
		pr_err_ratelimited("%s: size %llu is not a positive multiple of 64 KiB\n",
				   cmd, bytes);
		return -EINVAL;
	}
	*pages = bytes >> VMEM_PAGE_SHIFT;
	buckets = vmem_dev_buckets(*pages, vmem_pool->map.geom.bucket_pages);
	if (buckets > VMEM_MAX_VBUCKETS ||
	    *pages > (U64_MAX >> SECTOR_SHIFT) / VMEM_SECTORS_PER_PAGE) {
		pr_err_ratelimited("%s: size %llu is beyond the format's limit\n", cmd,
				   bytes);
		return -EINVAL;
	}
	return 0;
}

static int vmem_ctl_budget(const char *cmd, u64 bytes, u32 *budget)
{
	u64 b = div64_u64(bytes + vmem_dev_bucket_bytes(vmem_pool) - 1,
			  vmem_dev_bucket_bytes(vmem_pool));

	if (bytes > U64_MAX - vmem_dev_bucket_bytes(vmem_pool) ||
	    b > U32_MAX) {
		pr_err_ratelimited("%s: budget %llu too large\n", cmd, bytes);
		return -EINVAL;
	}
	*budget = b;
	return 0;
}

static int vmem_ctl_dev_cmd(unsigned int cmd, void __user *arg)
{
	static const char * const names[] = {
		[_IOC_NR(VMEM_CTL_CREATE)] = "create",
		[_IOC_NR(VMEM_CTL_RESIZE)] = "resize",
		[_IOC_NR(VMEM_CTL_SET_BUDGET)] = "budget",
		[_IOC_NR(VMEM_CTL_DELETE)] = "delete",
		[_IOC_NR(VMEM_CTL_GET_DEV)] = "get",
	};
	const char *name = names[_IOC_NR(cmd)];
	struct vmem_ctl_dev c;
	u64 pages = 0;
	u32 budget = 0;
	int ret;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if (c.flags || !vmem_zero(c.reserved, sizeof(c.reserved))) {
		pr_err_ratelimited("%s: unknown flags or reserved fields set\n", name);
		return -EINVAL;
	}
	if (!vmem_pool)
		return cmd == VMEM_CTL_GET_DEV ? -ENODEV :
		       vmem_ctl_no_pool(name);
	if (c.id >= VMEM_MAX_DEVICES &&
	    !(cmd == VMEM_CTL_CREATE && c.id == VMEM_CTL_ID_ANY)) {
		pr_err_ratelimited("%s: device id %u out of range 0..%u\n", name, c.id,
				   VMEM_MAX_DEVICES - 1);
		return -EINVAL;
	}

	switch (cmd) {
	case VMEM_CTL_CREATE:
		ret = vmem_ctl_pages(name, c.size_bytes, &pages);
		if (!ret)
			ret = vmem_ctl_budget(name, c.budget_bytes, &budget);
		if (ret)
			return ret;
		if (c.id == VMEM_CTL_ID_ANY) {
			for (c.id = 0; c.id < VMEM_MAX_DEVICES; c.id++)
				if (!vmem_pool->devs[c.id] &&
				    !vmem_pool->map.dev[c.id].flags)
					break;
			if (c.id == VMEM_MAX_DEVICES) {
				pr_err_ratelimited("create: all %u device ids are in use\n",
						   VMEM_MAX_DEVICES);
				return -ENOSPC;
			}
		}
		/*
		 * The answer names the device (with VMEM_CTL_ID_ANY the only
		 * way to learn which): make sure it can be written back
		 * before making one
		 */
		if (copy_to_user(arg, &c, sizeof(c)))
			return -EFAULT;
		ret = vmem_pool_create_dev(vmem_pool, c.id, pages, budget);
		if (ret == -EEXIST)
			pr_err_ratelimited("create: vmem%u already exists\n", c.id);
		else if (ret == -ENOMEM)
			pr_err_ratelimited("create: vmem%u: out of memory\n", c.id);
		else if (!ret)
			pr_info("vmem%u: created, %llu bytes\n", c.id,
				c.size_bytes);
		break;
	case VMEM_CTL_RESIZE:
		ret = vmem_ctl_pages(name, c.size_bytes, &pages);
		if (ret)
			return ret;
		ret = vmem_pool_resize_dev(vmem_pool, c.id, pages);
		if (ret == -EINVAL)
			pr_err_ratelimited("resize: vmem%u cannot shrink\n", c.id);
		else if (!ret)
			pr_info("vmem%u: resized to %llu bytes\n", c.id,
				c.size_bytes);
		break;
	case VMEM_CTL_SET_BUDGET:
		ret = vmem_ctl_budget(name, c.budget_bytes, &budget);
		if (!ret)
			ret = vmem_pool_budget_dev(vmem_pool, c.id, budget);
		break;
	case VMEM_CTL_DELETE:
		ret = vmem_pool_delete_dev(vmem_pool, c.id);
		if (ret == -EBUSY)
			pr_err_ratelimited("delete: vmem%u is open\n", c.id);
		else if (!ret)
			pr_info("vmem%u: deleted\n", c.id);
		break;
	default:	/* VMEM_CTL_GET_DEV */
		ret = vmem_pool->devs[c.id] ? 0 : -ENOENT;
		break;
	}
	if (ret == -ENOENT && cmd != VMEM_CTL_GET_DEV)
		pr_err_ratelimited("%s: vmem%u does not exist\n", name, c.id);
	if (ret || cmd == VMEM_CTL_DELETE)
		return ret;
	vmem_ctl_fill_dev(&c, c.id);
	if (!copy_to_user(arg, &c, sizeof(c)))
		return 0;
	if (cmd == VMEM_CTL_CREATE)
		pr_err_ratelimited("create: vmem%u was created, but its description could not be copied back\n",
				   c.id);
	return -EFAULT;
}

static int vmem_ctl_pool_info(void __user *arg)
{
	struct vmem_ctl_pool p;

	memset(&p, 0, sizeof(p));
	if (vmem_pool) {
		const struct vmem_sb *sb = (void *)vmem_pool->map.meta;

		p.attached = 1;
		p.nr_devices = vmem_pool->nr_devices;
		p.bucket_bytes = vmem_dev_bucket_bytes(vmem_pool);
		p.nr_buckets = vmem_pool->map.geom.nr_buckets;
		p.used_buckets = vmem_map_used(&vmem_pool->map);
		p.data_start_bytes = vmem_pool->data_start << SECTOR_SHIFT;
		p.backing_major = MAJOR(vmem_pool->bdev->bd_dev);
		p.backing_minor = MINOR(vmem_pool->bdev->bd_dev);
		p.generation = le64_to_cpu(sb->generation);
		if (vmem_commit_ro(&vmem_pool->cm))
			p.flags |= VMEM_CTL_POOL_READ_ONLY;
	}
	return copy_to_user(arg, &p, sizeof(p)) ? -EFAULT : 0;
}

static int vmem_ctl_grow(void __user *arg)
{
	struct vmem_ctl_grow g;
	int ret;

	if (copy_from_user(&g, arg, sizeof(g)))
		return -EFAULT;
	if ((g.flags & ~VMEM_CTL_GROW_FLAGS) || g.pad || g.old_buckets ||
	    g.new_buckets || g.max_buckets ||
	    !vmem_zero(g.reserved, sizeof(g.reserved))) {
		pr_err_ratelimited("grow: unknown flags, or out or reserved fields set\n");
		return -EINVAL;
	}
	if (g.size_bytes % VMEM_PAGE_SIZE) {
		pr_err_ratelimited("grow: size %llu is not a multiple of 64 KiB\n",
				   g.size_bytes);
		return -EINVAL;
	}
	if (!vmem_pool)
		return vmem_ctl_no_pool("grow");
	if ((g.flags & VMEM_CTL_GROW_AUTO) && !READ_ONCE(vmem_autogrow)) {
		g.old_buckets = vmem_pool->map.geom.nr_buckets;
		g.new_buckets = g.old_buckets;
		ret = 0;
	} else {
		ret = vmem_pool_grow(vmem_pool, g.size_bytes, &g);
	}
	if (ret)
		return ret;
	return copy_to_user(arg, &g, sizeof(g)) ? -EFAULT : 0;
}

static long vmem_ctl_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	long ret;

	switch (cmd) {
	case VMEM_CTL_ATTACH:
	case VMEM_CTL_DETACH:
	case VMEM_CTL_CREATE:
	case VMEM_CTL_RESIZE:
	case VMEM_CTL_SET_BUDGET:
	case VMEM_CTL_DELETE:
	case VMEM_CTL_GROW:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		break;
	case VMEM_CTL_POOL_INFO:
	case VMEM_CTL_GET_DEV:
		break;
	default:
		return -ENOTTY;
	}

	mutex_lock(&vmem_ctl_mutex);
	switch (cmd) {
	case VMEM_CTL_ATTACH:
		ret = vmem_ctl_attach(argp);
		break;
	case VMEM_CTL_DETACH:
		ret = vmem_ctl_detach();
		break;
	case VMEM_CTL_POOL_INFO:
		ret = vmem_ctl_pool_info(argp);
		break;
	case VMEM_CTL_GROW:
		ret = vmem_ctl_grow(argp);
		break;
	default:
		ret = vmem_ctl_dev_cmd(cmd, argp);
		break;
	}
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}

static const struct file_operations vmem_ctl_fops = {
	.owner = THIS_MODULE,
	.open = vmem_ctl_open,
	.unlocked_ioctl = vmem_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Pool attributes: one value per file, "0" or empty when detached */
#define VMEM_POOL_ATTR(_name, _expr)					\
static ssize_t _name##_show(struct device *d,				\
			    struct device_attribute *a, char *buf)	\
{									\
	ssize_t ret;							\
									\
	mutex_lock(&vmem_ctl_mutex);					\
	ret = sysfs_emit(buf, "%llu\n",					\
			 vmem_pool ? (u64)(_expr) : 0ULL);		\
	mutex_unlock(&vmem_ctl_mutex);					\
	return ret;							\
}									\
static DEVICE_ATTR_RO(_name)

VMEM_POOL_ATTR(attached, 1);
VMEM_POOL_ATTR(bucket_bytes, vmem_dev_bucket_bytes(vmem_pool));
VMEM_POOL_ATTR(total_buckets, vmem_pool->map.geom.nr_buckets);
VMEM_POOL_ATTR(used_buckets, vmem_map_used(&vmem_pool->map));
VMEM_POOL_ATTR(free_buckets, vmem_pool->map.geom.nr_buckets -
	       vmem_map_used(&vmem_pool->map));
VMEM_POOL_ATTR(zeroed_buckets, vmem_map_nr(&vmem_pool->map, VMEM_ARMED) +
	       vmem_map_nr(&vmem_pool->map, VMEM_MARKED));
VMEM_POOL_ATTR(read_only, vmem_commit_ro(&vmem_pool->cm));

/*
 * buckets provisioned, commits that wrote the map, and dirty buckets
 * given out unzeroed as their first writes covered them, since attach
 */
static ssize_t provision_stat_show(struct device *d,
				   struct device_attribute *a, char *buf)
{
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	ret = sysfs_emit(buf, "%lld %lld %lld\n",
			 vmem_pool ? atomic64_read(&vmem_pool->provisioned) : 0,
			 vmem_pool ? atomic64_read(&vmem_pool->cm.commits) : 0,
			 vmem_pool ? atomic64_read(&vmem_pool->unzeroed) : 0);
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}
static DEVICE_ATTR_RO(provision_stat);
VMEM_POOL_ATTR(devices, vmem_pool->nr_devices);
/* first writes into dirty buckets, written, held until it is assigned */
VMEM_POOL_ATTR(held_writes, atomic_read(&vmem_pool->batch.held));

/* commits that wrote the map, sectors they wrote, flush/FUA bios served */
static ssize_t commit_stat_show(struct device *d, struct device_attribute *a,
				char *buf)
{
	struct vmem_commit *c;
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	if (!vmem_pool) {
		ret = sysfs_emit(buf, "0 0 0\n");
	} else {
		c = &vmem_pool->cm;
		ret = sysfs_emit(buf, "%lld %lld %lld\n",
				 atomic64_read(&c->commits),
				 atomic64_read(&c->sectors),
				 atomic64_read(&c->served));
	}
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}
static DEVICE_ATTR_RO(commit_stat);

static ssize_t commit_interval_ms_show(struct device *d,
				       struct device_attribute *a, char *buf)
{
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	ret = sysfs_emit(buf, "%u\n", vmem_pool ?
			 READ_ONCE(vmem_pool->cm.interval_ms) :
			 vmem_commit_interval_default);
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}

static ssize_t commit_interval_ms_store(struct device *d,
					struct device_attribute *a,
					const char *buf, size_t len)
{
	unsigned int ms;
	int ret;

	ret = kstrtouint(buf, 0, &ms);
	if (ret || !ms || ms > VMEM_COMMIT_INTERVAL_MAX_MS) {
		pr_err_ratelimited("commit_interval_ms: expected 1..%u\n",
				   VMEM_COMMIT_INTERVAL_MAX_MS);
		return -EINVAL;
	}
	mutex_lock(&vmem_ctl_mutex);
	if (vmem_pool)
		WRITE_ONCE(vmem_pool->cm.interval_ms, ms);
	else
		ret = vmem_ctl_no_pool("commit_interval_ms");
	mutex_unlock(&vmem_ctl_mutex);
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(commit_interval_ms);

static ssize_t backing_show(struct device *d, struct device_attribute *a,
			    char *buf)
{
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	if (vmem_pool)
		ret = sysfs_emit(buf, "%pg\n", vmem_pool->bdev);
	else
		ret = sysfs_emit(buf, "\n");
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}
static DEVICE_ATTR_RO(backing);

static ssize_t write_buffer_show(struct device *d,
				 struct device_attribute *a, char *buf)
{
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	if (vmem_pool)
		ret = sysfs_emit(buf, "%d\n", READ_ONCE(vmem_pool->wb.enabled));
	else
		ret = sysfs_emit(buf, "%s\n",
				 vmem_wb_mode_name(vmem_wb_default));
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}

static ssize_t write_buffer_store(struct device *d,
				  struct device_attribute *a,
				  const char *buf, size_t len)
{
	int mode = vmem_wb_parse(buf);
	bool on;
	int ret;

	if (mode < 0) {
		pr_err_ratelimited("write_buffer: expected auto, 0 or 1\n");
		return mode;
	}
	mutex_lock(&vmem_ctl_mutex);
	if (vmem_pool) {
		on = vmem_wb_mode_on(vmem_pool, mode);
		ret = vmem_wb_set(vmem_pool, on);
		if (ret)
			pr_err_ratelimited("%pg: write buffer: cannot allocate %u MiB\n",
					   vmem_pool->bdev, vmem_pool->wb.mb);
		else
			pr_info("%pg: write buffer %s\n", vmem_pool->bdev,
				on ? "on" : "off");
	} else {
		ret = vmem_ctl_no_pool("write_buffer");
	}
	mutex_unlock(&vmem_ctl_mutex);
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(write_buffer);

static ssize_t write_buffer_delay_us_show(struct device *d,
					  struct device_attribute *a,
					  char *buf)
{
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	ret = sysfs_emit(buf, "%u\n", vmem_pool ?
			 READ_ONCE(vmem_pool->wb.delay_us) :
			 vmem_wb_delay_default);
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}

static ssize_t write_buffer_delay_us_store(struct device *d,
					   struct device_attribute *a,
					   const char *buf, size_t len)
{
	unsigned int us;
	int ret;

	ret = kstrtouint(buf, 0, &us);
	if (ret || !us || us > VMEM_WB_DELAY_MAX_US) {
		pr_err_ratelimited("write_buffer_delay_us: expected 1..%u\n",
				   VMEM_WB_DELAY_MAX_US);
		return -EINVAL;
	}
	mutex_lock(&vmem_ctl_mutex);
	if (vmem_pool)
		WRITE_ONCE(vmem_pool->wb.delay_us, us);
	else
		ret = vmem_ctl_no_pool("write_buffer_delay_us");
	mutex_unlock(&vmem_ctl_mutex);
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(write_buffer_delay_us);

static ssize_t write_buffer_mb_show(struct device *d,
				    struct device_attribute *a, char *buf)
{
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	ret = sysfs_emit(buf, "%u\n", vmem_pool ? vmem_pool->wb.mb :
			 vmem_wb_mb_default);
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}

static ssize_t write_buffer_mb_store(struct device *d,
				     struct device_attribute *a,
				     const char *buf, size_t len)
{
	unsigned int mb;
	int ret;

	ret = kstrtouint(buf, 0, &mb);
	if (ret || !mb || mb > VMEM_WB_MB_MAX) {
		pr_err_ratelimited("write_buffer_mb: expected 1..%u\n",
				   VMEM_WB_MB_MAX);
		return -EINVAL;
	}
	mutex_lock(&vmem_ctl_mutex);
	if (vmem_pool)
		ret = vmem_wb_resize(vmem_pool, mb);
	else
		ret = vmem_ctl_no_pool("write_buffer_mb");
	mutex_unlock(&vmem_ctl_mutex);
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(write_buffer_mb);

/*
 * buffers written, merged writes, writes in them, writes sent directly,
 * bios that waited for buffered data, buffered writes lost to an error,
 * flushes that wrote the buffer themselves, flushes that flushed beside
 * such a write-out, flushes that wrote it while another flush still wrote
 * an older one
 */
static ssize_t write_buffer_stat_show(struct device *d,
				      struct device_attribute *a, char *buf)
{
	struct vmem_wb *wb;
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	if (!vmem_pool) {
		ret = sysfs_emit(buf, "0 0 0 0 0 0 0 0 0\n");
	} else {
		wb = &vmem_pool->wb;
		ret = sysfs_emit(buf, "%lld %lld %lld %lld %lld %lld %lld %lld %lld\n",
				 atomic64_read(&wb->cycles),
				 atomic64_read(&wb->merged),
				 atomic64_read(&wb->records),
				 atomic64_read(&wb->direct),
				 atomic64_read(&wb->waits),
				 atomic64_read(&wb->errors),
				 atomic64_read(&wb->self_flushes),
				 atomic64_read(&wb->covered_flushes),
				 atomic64_read(&wb->piped_flushes));
	}
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}
static DEVICE_ATTR_RO(write_buffer_stat);

/*
 * The metadata copies (include/vmem/format.h): 2 in layout version 2, 1
 * in version 1; and how many damaged or older copies were rewritten
 * since attach (at attach, and by scrubs)
 */
VMEM_POOL_ATTR(meta_copies, vmem_meta_copies(vmem_pool) ? 2 : 1);
VMEM_POOL_ATTR(copy_rewrites,
	       atomic64_read(&vmem_pool->map.copies.rewrites));

/* scrubs, sectors compared, copies rewritten, blocks scrubs could not read */
static ssize_t scrub_stat_show(struct device *d, struct device_attribute *a,
			       char *buf)
{
	struct vmem_map_copies *c;
	ssize_t ret;

	mutex_lock(&vmem_ctl_mutex);
	if (!vmem_pool) {
		ret = sysfs_emit(buf, "0 0 0 0\n");
	} else {
		c = &vmem_pool->map.copies;
		ret = sysfs_emit(buf, "%lld %lld %lld %lld\n",
				 atomic64_read(&c->scrubs),
				 atomic64_read(&c->scrubbed),
				 atomic64_read(&c->rewrites),
				 atomic64_read(&c->unreadable));
	}
	mutex_unlock(&vmem_ctl_mutex);
	return ret;
}
static DEVICE_ATTR_RO(scrub_stat);

/*
 * Writing 1 scrubs the metadata: both copies of every sector are read,
 * compared with memory and rewritten where they differ; the write returns
 * when it is done. Control operations wait meanwhile; commits do not.
 */
static ssize_t scrub_store(struct device *d, struct device_attribute *a,
			   const char *buf, size_t len)
{
	bool on;
	int ret;

	ret = kstrtobool(buf, &on);
	if (ret || !on) {
		pr_err_ratelimited("scrub: write 1 to scrub the metadata\n");
		return -EINVAL;
	}
	mutex_lock(&vmem_ctl_mutex);
	if (!vmem_pool) {
		ret = vmem_ctl_no_pool("scrub");
	} else {
		ret = vmem_meta_scrub(vmem_pool);
		if (ret)
			pr_err_ratelimited("%pg: scrub failed: %d\n",
					   vmem_pool->bdev, ret);
	}
	mutex_unlock(&vmem_ctl_mutex);
	return ret ? ret : len;
}
static DEVICE_ATTR_WO(scrub);

/*
 * autogrow: 1 lets "vmemctl grow --auto" (VMEM_CTL_GROW_AUTO), which the
 * udev rule runs when a disk's size changes, grow the pool; 0 (the
 * default, or the module parameter's) leaves a grown disk alone. Kept
 * across detach and attach while the module is loaded.
 */
static ssize_t autogrow_show(struct device *d, struct device_attribute *a,
			     char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(vmem_autogrow));
}

static ssize_t autogrow_store(struct device *d, struct device_attribute *a,
			      const char *buf, size_t len)
{
	bool on;

	if (kstrtobool(buf, &on)) {
		pr_err_ratelimited("autogrow: expected 0 or 1\n");
		return -EINVAL;
	}
	WRITE_ONCE(vmem_autogrow, on);
	pr_info("autogrow %s\n", on ? "on" : "off");
	return len;
}
static DEVICE_ATTR_RW(autogrow);

static struct attribute *vmem_ctl_attrs[] = {
	&dev_attr_autogrow.attr,
	&dev_attr_write_buffer.attr,
	&dev_attr_write_buffer_delay_us.attr,
	&dev_attr_write_buffer_mb.attr,
	&dev_attr_write_buffer_stat.attr,
	&dev_attr_attached.attr,
	&dev_attr_backing.attr,
	&dev_attr_bucket_bytes.attr,
	&dev_attr_total_buckets.attr,
	&dev_attr_used_buckets.attr,
	&dev_attr_free_buckets.attr,
	&dev_attr_zeroed_buckets.attr,
	&dev_attr_provision_stat.attr,
	&dev_attr_held_writes.attr,
	&dev_attr_commit_stat.attr,
	&dev_attr_commit_interval_ms.attr,
	&dev_attr_read_only.attr,
	&dev_attr_devices.attr,
	&dev_attr_meta_copies.attr,
	&dev_attr_copy_rewrites.attr,
	&dev_attr_scrub_stat.attr,
	&dev_attr_scrub.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vmem_ctl);

static struct miscdevice vmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vmem-control",
	/* Every change needs CAP_SYS_ADMIN anyway; the group may read */
	.mode = 0660,
	.fops = &vmem_ctl_fops,
	.groups = vmem_ctl_groups,
};

/**
 * vmem_ctl_device() - the control device: the pool's uevents come from it
 */
struct device *vmem_ctl_device(void)
{
	return vmem_misc.this_device;
}

/**
 * vmem_ctl_init() - register the control device; it cannot be opened
 * until vmem_ctl_open_up()
 */
int vmem_ctl_init(void)
{
	return misc_register(&vmem_misc);
}

/**
 * vmem_ctl_open_up() - let the control device be opened: module init is done
 */
void vmem_ctl_open_up(void)
{
	WRITE_ONCE(vmem_ctl_live, true);
}

void vmem_ctl_exit(void)
{
	misc_deregister(&vmem_misc);
}
