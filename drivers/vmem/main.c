// SPDX-License-Identifier: GPL-2.0
/*
 * vmem: thin-provisioned virtual block devices carved from one backing
 * block device.
 *
 * Up to 255 devices /dev/vmem0../dev/vmem254 share one pool. Backing space
 * is taken one bucket at a time on a device's first write to it; the
 * bucket map lives at the start of the backing device (layout and crash
 * rules: include/vmem/format.h) and survives reboots. Reads of never
 * written ranges return zeros. See vmem.h for how the files divide the
 * work and drivers/vmem/README.md for the user's view.
 *
 * Load with "backing=/dev/sdX" to attach a formatted pool at once, or
 * without to attach later through /dev/vmem-control (vmemctl attach).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "debug.h"
#include "vmem.h"

static char *backing;
module_param(backing, charp, 0444);
MODULE_PARM_DESC(backing, "Block device holding a formatted vmem pool to attach at load time");

int vmem_wb_default = VMEM_WB_AUTO;

/* write_buffer=auto, or a boolean (1/0, y/n, on/off); bare, it is 1 */
static int vmem_wb_param_set(const char *val, const struct kernel_param *kp)
{
	int ret = vmem_wb_parse(val ? val : "1");

	if (ret < 0) {
		pr_err("write_buffer=%s: expected auto, 0 or 1\n", val);
		return ret;
	}
	*(int *)kp->arg = ret;
	return 0;
}

static int vmem_wb_param_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			 vmem_wb_mode_name(*(int *)kp->arg));
}

static const struct kernel_param_ops vmem_wb_param_ops = {
	.flags = KERNEL_PARAM_OPS_FL_NOARG,
	.set = vmem_wb_param_set,
	.get = vmem_wb_param_get,
};

module_param_cb(write_buffer, &vmem_wb_param_ops, &vmem_wb_default, 0444);
MODULE_PARM_DESC(write_buffer, "Write buffer at attach: auto (default: on over a backing disk with a volatile write cache), 1 or 0");

unsigned int vmem_wb_delay_default = VMEM_WB_DELAY_US;
module_param_named(write_buffer_delay_us, vmem_wb_delay_default, uint, 0444);
MODULE_PARM_DESC(write_buffer_delay_us, "Longest time written data stays only in the write buffer, in microseconds, 1..100000 (default 2000)");

unsigned int vmem_wb_mb_default = VMEM_WB_MB;
module_param_named(write_buffer_mb, vmem_wb_mb_default, uint, 0444);
MODULE_PARM_DESC(write_buffer_mb, "Write buffer memory per pool in MiB, 1..1024 (default 16)");

unsigned int vmem_commit_interval_default = VMEM_COMMIT_INTERVAL_MS;
module_param_named(commit_interval_ms, vmem_commit_interval_default, uint,
		   0444);
MODULE_PARM_DESC(commit_interval_ms, "Longest time in ms a map change stays uncommitted, 1..60000 (default 1000)");

bool vmem_autogrow;
module_param_named(autogrow, vmem_autogrow, bool, 0444);
MODULE_PARM_DESC(autogrow, "Grow the pool when its backing device grows (sysfs autogrow; default off)");

int vmem_major;

static int __init vmem_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct vmem_sb) != VMEM_SECTOR_SIZE);
	BUILD_BUG_ON(sizeof(struct vmem_map_sector) != VMEM_SECTOR_SIZE);
	BUILD_BUG_ON(sizeof(struct vmem_devt_sector) != VMEM_SECTOR_SIZE);
	BUILD_BUG_ON(VMEM_MAX_DEVICES * VMEM_MINORS > MINORMASK + 1);

	if (!vmem_wb_delay_default ||
	    vmem_wb_delay_default > VMEM_WB_DELAY_MAX_US) {
		pr_err("write_buffer_delay_us=%u out of range 1..%u\n",
		       vmem_wb_delay_default, VMEM_WB_DELAY_MAX_US);
		return -EINVAL;
	}
	if (!vmem_wb_mb_default || vmem_wb_mb_default > VMEM_WB_MB_MAX) {
		pr_err("write_buffer_mb=%u out of range 1..%u\n",
		       vmem_wb_mb_default, VMEM_WB_MB_MAX);
		return -EINVAL;
	}
	if (!vmem_commit_interval_default ||
	    vmem_commit_interval_default > VMEM_COMMIT_INTERVAL_MAX_MS) {
		pr_err("commit_interval_ms=%u out of range 1..%u\n",
		       vmem_commit_interval_default,
		       VMEM_COMMIT_INTERVAL_MAX_MS);
		return -EINVAL;
	}
	ret = register_blkdev(0, "vmem");
	if (ret < 0)
		return ret;
	vmem_major = ret;

	ret = vmem_ctl_init();
	if (ret)
		goto out_unregister_blkdev;

	vmem_hook(VMEM_HOOK_INIT);
	if (backing && *backing) {
		mutex_lock(&vmem_ctl_mutex);
		ret = vmem_pool_attach(backing, vmem_ctl_device(), &vmem_pool);
		mutex_unlock(&vmem_ctl_mutex);
		if (ret) {
			pr_err("backing=%s: attach failed (%d), module not loaded\n",
			       backing, ret);
			goto out_ctl_exit;
		}
	}
	vmem_ctl_open_up();
	pr_info("loaded (major %d)\n", vmem_major);
	return 0;

out_ctl_exit:
	vmem_ctl_exit();
out_unregister_blkdev:
	unregister_blkdev(vmem_major, "vmem");
	return ret;
}

static void __exit vmem_exit(void)
{
	mutex_lock(&vmem_ctl_mutex);
	/* No device can be open: each open holds a module reference */
	if (vmem_pool && !WARN_ON(vmem_pool_detach(vmem_pool)))
		vmem_pool = NULL;
	mutex_unlock(&vmem_ctl_mutex);
	vmem_ctl_exit();
	unregister_blkdev(vmem_major, "vmem");
}

module_init(vmem_init);
module_exit(vmem_exit);

MODULE_DESCRIPTION("Thin-provisioned virtual block devices over one backing device");
MODULE_AUTHOR("The vmem developers");
MODULE_LICENSE("GPL");
