// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: what does a target hold? The codec's vmem_page0_classify()
 * over its first 64 KiB (all zero, a vmem pool, anything else), plus the
 * names of well-known formats for clearer messages, and btrfs, whose
 * superblock sits just past 64 KiB.
 */
#include <stdlib.h>
#include <string.h>
#include "vmemctl.h"

/* What we read: 64 KiB plus btrfs' magic */
#define VCTL_PROBE_BYTES	(VMEM_PAGE_SIZE + 4096)

static bool vctl_has(const u8 *buf, size_t len, size_t off, const char *magic,
		     size_t mlen)
{
	return off + mlen <= len && !memcmp(buf + off, magic, mlen);
}

/* Name a well-known on-disk format at the start of @buf, or NULL */
static const char *vctl_known_format(const u8 *buf, size_t len)
{
	if (vctl_has(buf, len, 1080, "\x53\xef", 2))
		return "an ext2/ext3/ext4 filesystem";
	if (vctl_has(buf, len, 0, "XFSB", 4))
		return "an XFS filesystem";
	if (vctl_has(buf, len, 65600, "_BHRfS_M", 8))
		return "a btrfs filesystem";
	if (vctl_has(buf, len, 0, "LUKS\xba\xbe", 6))
		return "a LUKS volume";
	if (vctl_has(buf, len, 4086, "SWAPSPACE2", 10) ||
	    vctl_has(buf, len, 4086, "SWAP-SPACE", 10))
		return "a swap area";
	if (vctl_has(buf, len, 512, "EFI PART", 8))
		return "a GPT partition table";
	if (vctl_has(buf, len, 510, "\x55\xaa", 2))
		return "an MBR partition table or boot sector";
	return NULL;
}

/**
 * vctl_probe() - classify the start of a target
 * @t: the target
 * @kind: result: VMEM_PAGE0_EMPTY, _VMEM or _FOREIGN
 * @what: result for FOREIGN: what it holds ("an XFS filesystem",
 *	"unknown data"); NULL otherwise
 *
 * Return: 0, or VCTL_ERROR after printing why.
 */
int vctl_probe(struct vctl_target *t, enum vmem_page0_kind *kind,
	       const char **what)
{
	size_t n = t->bytes < VCTL_PROBE_BYTES ? t->bytes : VCTL_PROBE_BYTES;
	size_t first = n < VMEM_PAGE_SIZE ? n : VMEM_PAGE_SIZE;
	u8 *buf;

	/* Zero-filled to a whole sector, as the codec expects */
	buf = calloc(1, VCTL_PROBE_BYTES);
	if (!buf) {
		vctl_err("out of memory");
		return VCTL_ERROR;
	}
	if (vctl_pread(t, buf, n, 0)) {
		free(buf);
		return VCTL_ERROR;
	}
	*kind = vmem_page0_classify(buf, first > VMEM_SECTOR_SIZE ?
				    first : VMEM_SECTOR_SIZE);
	*what = NULL;
	if (*kind != VMEM_PAGE0_VMEM) {
		*what = vctl_known_format(buf, n);
		if (*what)
			*kind = VMEM_PAGE0_FOREIGN;
		else if (*kind == VMEM_PAGE0_FOREIGN)
			*what = "unknown data";
	}
	free(buf);
	return 0;
}
