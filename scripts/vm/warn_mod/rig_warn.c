// SPDX-License-Identifier: GPL-2.0
/*
 * rig_warn - test module for the vmem QEMU rig selftest (scripts/vm).
 *
 * Loading it emits one kernel WARNING and succeeds.  The rig must then
 * fail the run although the guest script itself exits 0, which proves
 * that its console scan catches kernel warnings.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init rig_warn_init(void)
{
	WARN(1, "vmem rig selftest\n");
	return 0;
}

static void __exit rig_warn_exit(void)
{
}

module_init(rig_warn_init);
module_exit(rig_warn_exit);

MODULE_DESCRIPTION("vmem rig selftest: emits one kernel WARNING on load");
MODULE_LICENSE("GPL");
