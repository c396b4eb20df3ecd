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
 * Longest delay a hook takes, so a typo cannot hang a test guest: where
 * it may sleep, long enough for a grow or a commit on the debug kernel
 * under TCG on a busy host (over a second, seen in CI) to fit into one;
 * where it spins, short enough for no lockup report
 */
#define VMEM_HOOK_MAX_US	10000000U
#define VMEM_HOOK_MAX_SPIN_US	1000000U

static unsigned int vmem_hook_us[VMEM_HOOK_NR];
/* Tasks in a hook now: what a test waits for before it races one */
static atomic_t vmem_hooks_waiting = ATOMIC_INIT(0);

module_param_named(hooks_waiting, vmem_hooks_waiting.counter, int, 0444);
MODULE_PARM_DESC(hooks_waiting, "Test only: tasks delayed in a hook now");

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
module_param_named(hook_wb_sync_us, vmem_hook_us[VMEM_HOOK_WB_SYNC], uint,
		   0644);
MODULE_PARM_DESC(hook_wb_sync_us, "Test only: delay a write buffer sync between reading its cycle and waiting for it");

void vmem_hook(enum vmem_hook h)
{
	unsigned int us = min(READ_ONCE(vmem_hook_us[h]), VMEM_HOOK_MAX_US);

	if (!us)
		return;
	atomic_inc(&vmem_hooks_waiting);
	/* The debug kernel has PREEMPT_COUNT: preemptible() is exact */
	if (preemptible())
		fsleep(us);
	else
		mdelay(DIV_ROUND_UP(min(us, VMEM_HOOK_MAX_SPIN_US), 1000));
	atomic_dec(&vmem_hooks_waiting);
}
