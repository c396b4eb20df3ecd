// SPDX-License-Identifier: GPL-2.0
/*
 * The units under test, built into the KUnit module: the shared on-disk
 * format codec and the in-memory map.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "../lib/vmem_format.c"
#include "../drivers/vmem/map.c"

MODULE_DESCRIPTION("KUnit suites for vmem");
MODULE_LICENSE("GPL");
