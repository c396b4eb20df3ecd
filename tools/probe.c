// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: what does a target hold? The codec's vmem_page0_classify()
 * over its first 64 KiB (all zero, a vmem pool, anything else), plus the
 * names of well-known formats for clearer messages, and btrfs, whose
 * superblock sits just past 64 KiB. And the probe command: a pool's
 * identity as NAME=VALUE lines, for udev rules (udev/69-vmem.rules).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
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

/* vmemctl probe: print NAME=VALUE for udev (--export) or people */
static void vctl_probe_print(bool export, const char *name, const char *fmt,
			     ...)
{
	va_list ap;

	if (export) {
		printf("%s=", name);
	} else {
		/* VMEM_POOL_UUID -> "pool uuid: " */
		for (name += 5; *name; name++)
			putchar(*name == '_' ? ' ' : tolower(*name));
		printf(": ");
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/**
 * cmd_probe() - vmemctl probe [--export] TARGET
 * @argc: argument count
 * @argv: arguments, argv[0] = "probe"
 *
 * Read-only and never exclusive, so udev can run it on every block device
 * (IMPORT{program}, like blkid), including one the module has attached.
 *
 * Return: 0 when TARGET holds a pool with a valid superblock, 1 when it
 * does not (nothing is printed with --export), 2 on usage or I/O error.
 */
int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "export", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	enum vmem_page0_kind kind;
	struct vctl_target t;
	struct vctl_pool p;
	char uuid[VCTL_UUID_LEN];
	const char *what;
	bool export = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":e", opts, NULL)) != -1) {
		if (c != 'e')
			return vctl_bad_option(argv, optind, c);
		export = true;
	}
	if (optind != argc - 1)
		return vctl_usage();
	if (vctl_target_open(&t, argv[optind], false))
		return VCTL_ERROR;
	ret = vctl_pool_read_sb(&t, &p, &kind);
	if (!ret && kind != VMEM_PAGE0_VMEM)
		ret = vctl_probe(&t, &kind, &what);
	vctl_target_close(&t);
	if (ret)
		return ret;
	if (kind != VMEM_PAGE0_VMEM) {
		if (!export)
			printf("%s: not a vmem pool: %s\n", argv[optind],
			       kind == VMEM_PAGE0_EMPTY ? "all zeros" : what);
		return VCTL_REFUSED;
	}
	if (p.sb_fault) {
		if (!export)
			printf("%s: vmem pool with an unusable superblock: %s\n",
			       argv[optind], vmem_fault_str(p.sb_fault));
		return VCTL_REFUSED;
	}
	vctl_uuid_str(uuid, sizeof(uuid), p.sb.uuid);
	vctl_probe_print(export, "VMEM_POOL_UUID", "%s", uuid);
	vctl_probe_print(export, "VMEM_POOL_VERSION", "%u",
			 le32toh(p.sb.version));
	vctl_probe_print(export, "VMEM_BUCKET_BYTES", "%llu",
			 (unsigned long long)p.g.bucket_pages * VMEM_PAGE_SIZE);
	vctl_probe_print(export, "VMEM_BUCKETS", "%llu",
			 (unsigned long long)p.g.nr_buckets);
	vctl_probe_print(export, "VMEM_GENERATION", "%llu",
			 (unsigned long long)le64toh(p.sb.generation));
	return VCTL_OK;
}
