/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmem kernel-version shims: every difference between the kernels vmem
 * builds for lives here, as a named helper, so the driver's files read
 * as current kernel code. Features are probed from the target kernel's
 * headers in Kbuild (VMEM_HAVE_*), not guessed from version numbers:
 * Debian's 6.1 carries backports.
 */
#ifndef _VMEM_COMPAT_H
#define _VMEM_COMPAT_H

#include <linux/srcu.h>

#ifndef VMEM_HAVE_SRCU_DOWN_READ
/*
 * srcu_down_read()/srcu_up_read() (6.2) are SRCU read sides that may end
 * in another task or in interrupt context, as a bio's does. Before 6.2
 * they were __srcu_read_lock()/__srcu_read_unlock(), minus the lockdep
 * annotation that ties a read side to one task.
 */
static inline int srcu_down_read(struct srcu_struct *ssp)
{
	return __srcu_read_lock(ssp);
}

static inline void srcu_up_read(struct srcu_struct *ssp, int idx)
{
	__srcu_read_unlock(ssp, idx);
}
#endif

#endif /* _VMEM_COMPAT_H */
