/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem test hooks: delays that widen the windows of known races, so the
 * race tests (tests/races/) can show a fix holds. They exist only in a
 * module built for a kernel with KUnit (our debug kernel, see Kbuild);
 * for every other kernel vmem_hook() is an empty inline and the module
 * has no hook parameters.
 *
 * Each hook point has a module parameter, hook_<point>_us (0 by default;
 * 0644, but hook_init_us, which only insmod can set, 0444): when
 * non-zero, every pass through that point waits that many microseconds
 * (sleeping where it may, up to 10 s; spinning otherwise, up to 1 s).
 * hooks_waiting (0444) counts the tasks waiting in a hook now.
 */
#ifndef _VMEM_DEBUG_H
#define _VMEM_DEBUG_H

enum vmem_hook {
	/* fast path: a bio is entering in-flight accounting, before its lookup */
	VMEM_HOOK_IO_ENTER,
	/* completion: a bio is releasing its in-flight charge */
	VMEM_HOOK_IO_EXIT,
	/* write buffer: the next cycle is published, its state not yet reset */
	VMEM_HOOK_WB_OPEN,
	/* module init: the control device is registered, backing= not attached */
	VMEM_HOOK_INIT,
	/* sysfs: a device's pool_uuid is being read */
	VMEM_HOOK_UUID_SHOW,
	/* provisioning: a bucket is in the map, the map lock held */
	VMEM_HOOK_ASSIGN,
	/* group commit: a commit is about to begin, no lock held */
	VMEM_HOOK_COMMIT,
	/* write buffer: a sync has read the cycle it waits for, not waiting yet */
	VMEM_HOOK_WB_SYNC,
	VMEM_HOOK_NR
};

#ifdef VMEM_DEBUG_HOOKS
void vmem_hook(enum vmem_hook h);
#else
static inline void vmem_hook(enum vmem_hook h)
{
}
#endif

#endif /* _VMEM_DEBUG_H */
