// SPDX-License-Identifier: GPL-2.0
/*
 * vmem test hooks (see debug.h). Built only for kernels with KUnit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/moduleparam.h>
#include <linux/preempt.h>
#include "debug.h"

/*
 * Longest delay a hook takes, so a typo cannot hang a test guest; long
 * enough for a device delete (about 150 ms on the debug kernel under
 * TCG) to fit into one
 */
#define VMEM_HOOK_MAX_US	1000000U

static unsigned int vmem_hook_us[VMEM_HOOK_NR];

module_param_named(hook_io_enter_us, vmem_hook_us[VMEM_HOOK_IO_ENTER],
		   uint, 0644);
MODULE_PARM_DESC(hook_io_enter_us, "Test only: delay a bio entering in-flight accounting, before its lookup");
module_param_named(hook_io_exit_us, vmem_hook_us[VMEM_HOOK_IO_EXIT], uint,
		   0644);
MODULE_PARM_DESC(hook_io_exit_us, "Test only: delay a bio releasing its in-flight charge");
module_param_named(hook_wb_open_us, vmem_hook_us[VMEM_HOOK_WB_OPEN], uint,
		   0644);
MODULE_PARM_DESC(hook_wb_open_us, "Test only: delay the write buffer opening its next cycle");
module_param_named(hook_init_us, vmem_hook_us[VMEM_HOOK_INIT], uint, 0444);
MODULE_PARM_DESC(hook_init_us, "Test only: delay module init once the control device is registered");
module_param_named(hook_uuid_show_us, vmem_hook_us[VMEM_HOOK_UUID_SHOW],
		   uint, 0644);
MODULE_PARM_DESC(hook_uuid_show_us, "Test only: delay a read of a device's pool_uuid");
module_param_named(hook_assign_us, vmem_hook_us[VMEM_HOOK_ASSIGN], uint,
		   0644);
MODULE_PARM_DESC(hook_assign_us, "Test only: delay provisioning once a bucket is in the map, the map lock held");
module_param_named(hook_commit_us, vmem_hook_us[VMEM_HOOK_COMMIT], uint,
		   0644);
MODULE_PARM_DESC(hook_commit_us, "Test only: delay each commit before it begins");

void vmem_hook(enum vmem_hook h)
{
	unsigned int us = min(READ_ONCE(vmem_hook_us[h]), VMEM_HOOK_MAX_US);

	if (!us)
		return;
	/* The debug kernel has PREEMPT_COUNT: preemptible() is exact */
	if (preemptible())
		fsleep(us);
	else
		mdelay(DIV_ROUND_UP(us, 1000));
}
