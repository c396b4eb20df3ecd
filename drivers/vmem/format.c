// SPDX-License-Identifier: GPL-2.0
/*
 * The on-disk format codec is one source shared with the userspace tools;
 * this file builds it into the module.
 */
#include "../../lib/vmem_format.c"
