// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: format, inspect and check vmem pools offline, and drive the
 * vmem module through /dev/vmem-control.
 *
 * This file holds main(), the command table with every command's help
 * text, and the error reporting shared by the commands.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "vmemctl.h"

const char *vctl_cmd = "vmemctl";

struct vctl_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct vctl_command vctl_commands[] = {
	{ "format", cmd_format,
	  "format [--bucket-size SIZE] [--max-size SIZE] [--layout-version N] [--force] [--zero|--no-zero] TARGET",
	  "Lay out a new, empty pool on TARGET (a block device or an image\n"
	  "file): layout version 2, which keeps two copies of every metadata\n"
	  "sector (superblock, device table, bucket map), the second at least\n"
	  "512 KiB after the first, so one damaged sector or area loses\n"
	  "nothing. Writes both copies and zero padding up to the first data\n"
	  "bucket, then the first superblock last, syncing in between.\n"
	  "Refuses (exit 1) when the first 64 KiB of TARGET are not all zero\n"
	  "(a filesystem, an existing pool, other data), or are but a pool's\n"
	  "copy B lies behind them, unless --force.\n"
	  "\n"
	  "  -b, --bucket-size SIZE  bucket size, a power of two from 64K to\n"
	  "                          1G (default 1M)\n"
	  "  -m, --max-size SIZE     the size the pool may later grow to: its\n"
	  "                          map keeps room for that many buckets, in\n"
	  "                          both copies (default 4 times TARGET's size;\n"
	  "                          each bucket of room costs 16 bytes); at\n"
	  "                          least one bucket\n"
	  "  -f, --force             overwrite whatever TARGET holds\n"
	  "  -z, --zero              zero the data area even where that is\n"
	  "                          slow (writing every byte)\n"
	  "  -Z, --no-zero           do not zero it\n"
	  "  -L, --layout-version N  1 for the old layout, one copy of the\n"
	  "                          metadata (for older modules); default 2\n"
	  "\n"
	  "By default the data area is zeroed where that is cheap (a hole\n"
	  "punched in an image file, BLKZEROOUT on a device with write-zeroes\n"
	  "support); buckets so zeroed need no zeroing on first write, which\n"
	  "makes first writes as cheap as overwrites. Other buckets are zeroed\n"
	  "by the module the first time it gives them out.\n" },
	{ "dump", cmd_dump,
	  "dump [--json] TARGET",
	  "Print the superblock of the pool on TARGET (layout version, where\n"
	  "the metadata copies are, the size the map has room for), every\n"
	  "existing device (capacity, budget, buckets in use, flags), a\n"
	  "summary of the bucket map, and how many metadata copies are\n"
	  "damaged. Faults are counted, not listed (see check).\n"
	  "\n"
	  "  -j, --json  print one JSON object\n" },
	{ "check", cmd_check,
	  "check TARGET",
	  "Verify every invariant of the pool's metadata on TARGET: the\n"
	  "superblock, every device-table and map sector, every device record\n"
	  "and map entry, and that no virtual bucket is mapped twice. In\n"
	  "layout version 2 both copies of every sector are read and the\n"
	  "valid one is checked, as attach does; a damaged copy is a fault\n"
	  "(attach and repair rewrite it from the good one), a sector damaged\n"
	  "in both copies too (attach refuses the pool), and a copy B older\n"
	  "than its copy A (a crash between their writes) is noted. A\n"
	  "superblock feature flag this version cannot write is a fault: the\n"
	  "module attaches pools read-write only. Prints one line per fault.\n"
	  "Exit 0 when clean, 1 when damage is found (or TARGET is not a vmem\n"
	  "pool), 2 on usage or I/O error, or when there was no memory to\n"
	  "check for doubly mapped buckets.\n" },
	{ "repair", cmd_repair,
	  "repair [--dry-run] [--drop-unreadable] [--superblock-from-copy] TARGET",
	  "Fix the damage check finds where exactly one fix is safe, and\n"
	  "refuse the rest: restore a damaged (or older) metadata copy from\n"
	  "the good one, finish an interrupted device deletion, free map\n"
	  "entries owned by a device that does not exist or mapped beyond\n"
	  "their device's end, zero stray fields of free entries. Superblock\n"
	  "damage, bad device-table or map sectors (in version 2: in both\n"
	  "copies; even with plausible entries) and doubly mapped buckets are\n"
	  "refused: then nothing is written at all. Each change is one\n"
	  "sector, written and synced before the next (copy A, then copy B),\n"
	  "and printed. TARGET must not be attached.\n"
	  "Exit 0 when the pool is clean afterwards (or was), 1 when refused,\n"
	  "2 on usage or I/O error.\n"
	  "\n"
	  "  -n, --dry-run          print what would change, write nothing\n"
	  "  -D, --drop-unreadable  a map sector lost in both copies is\n"
	  "                         rewritten empty: its (up to 62) buckets\n"
	  "                         become free and whatever devices held them\n"
	  "                         read zeros there. Which devices those were\n"
	  "                         is lost with the sector.\n"
	  "  -S, --superblock-from-copy\n"
	  "                         sector 0 names no pool (zeros or other\n"
	  "                         data: attach and check take it for another\n"
	  "                         format's), but the device table after it\n"
	  "                         is that of the pool whose superblock copy B\n"
	  "                         is found: write that superblock over sector\n"
	  "                         0, then repair as usual. Only when sector 0\n"
	  "                         was overwritten by mistake. With -n, the\n"
	  "                         rest of the plan is shown as if it were.\n" },
	{ "upgrade", cmd_upgrade,
	  "upgrade [--dry-run] TARGET",
	  "Convert a layout version 1 pool on TARGET to version 2 in place,\n"
	  "offline: the second copy of the metadata is written into the\n"
	  "padding before the data area (which needs a map of at most 1014\n"
	  "sectors: 62868 buckets), then the superblocks, copy B's first;\n"
	  "no data moves. Killed at any point, the pool attaches as version 1\n"
	  "or as version 2. Refuses a damaged pool (repair it first). Exit 0\n"
	  "when upgraded (or already version 2), 1 when refused, 2 on error.\n"
	  "\n"
	  "  -n, --dry-run  say what would be written, write nothing\n" },
	{ "grow", cmd_grow,
	  "grow [--size SIZE] [--auto [DEV]] | grow --offline [--size SIZE] [--dry-run] TARGET",
	  "Add buckets to a pool whose backing device grew (layout version 2:\n"
	  "its map keeps room to grow, set by format --max-size). Without\n"
	  "--offline, the attached pool grows online, its devices in use; with\n"
	  "it, the pool on TARGET, which must not be attached. The new buckets\n"
	  "are zeroed on first use where their first writes do not cover them\n"
	  "(new space is not known to read as zeros).\n"
	  "A pool cannot shrink. Crash-safe: new map sectors (both copies)\n"
	  "first, then the superblocks, copy A's first, each step synced;\n"
	  "interrupted anywhere, the pool attaches at its old or its new size.\n"
	  "Version 1 pools cannot grow (run upgrade first). Offline, a pool\n"
	  "with a damaged copy, or a device-table or map sector whose copy B\n"
	  "is older than its copy A, is refused until repair has mended it.\n"
	  "Exit 0 when grown or nothing was to add, 1 when refused, 2 on\n"
	  "usage or I/O error.\n"
	  "\n"
	  "  -s, --size SIZE  use only the first SIZE bytes of the backing\n"
	  "                   device (default: all of it)\n"
	  "  -o, --offline    grow the pool on TARGET, not the attached one\n"
	  "  -n, --dry-run    with --offline: say what would change, write\n"
	  "                   nothing\n"
	  "  -a, --auto       grow only if the attached pool's autogrow switch\n"
	  "                   is on (/sys/class/misc/vmem-control/autogrow),\n"
	  "                   and, with DEV, only if DEV is its backing device:\n"
	  "                   what the udev rule runs when a disk's size changes\n" },
	{ "probe", cmd_probe,
	  "probe [--export] TARGET",
	  "Say whether TARGET holds a vmem pool and print its identity: pool\n"
	  "uuid, layout version, bucket size in bytes, number of buckets and\n"
	  "generation. Read-only and never exclusive: safe on any device,\n"
	  "attached or mounted. Exit 0 for a pool with a valid superblock (in\n"
	  "layout version 2 copy B's when copy A's is damaged, as attach\n"
	  "takes it), 1 for anything else, 2 on usage or I/O error.\n"
	  "\n"
	  "  -e, --export  print NAME=VALUE lines for udev (VMEM_POOL_UUID,\n"
	  "                VMEM_POOL_VERSION, VMEM_BUCKET_BYTES, VMEM_BUCKETS,\n"
	  "                VMEM_GENERATION) and nothing when it is no pool\n" },
	{ "attach", cmd_attach,
	  "attach DEV",
	  "Attach the pool on block device DEV (use losetup for an image\n"
	  "file) to the vmem module; its devices appear as /dev/vmemN.\n" },
	{ "detach", cmd_detach,
	  "detach",
	  "Detach the attached pool (refused while any device is open).\n" },
	{ "create", cmd_create,
	  "create [--id N] [--budget SIZE] SIZE",
	  "Create a virtual device of SIZE bytes (a multiple of 64K) and\n"
	  "print its path, /dev/vmemN.\n"
	  "\n"
	  "  -i, --id N           device id 0..254 (default: lowest free)\n"
	  "  -b, --budget SIZE    most backing space the device may use\n"
	  "                       (rounded up to whole buckets)\n" },
	{ "resize", cmd_resize,
	  "resize N SIZE",
	  "Grow device N to SIZE bytes (a multiple of 64K; shrinking is\n"
	  "refused).\n" },
	{ "budget", cmd_budget,
	  "budget N SIZE|none",
	  "Set the budget of device N: the most backing space it may use, or\n"
	  "none for no limit.\n" },
	{ "delete", cmd_delete,
	  "delete N",
	  "Delete device N and return its buckets to the pool (refused while\n"
	  "the device is open). Its data is lost. A delete that fails with an\n"
	  "I/O error before it starts leaves N as it was; one interrupted\n"
	  "later (N is gone, check reports its deletion as interrupted) is\n"
	  "finished by running delete N again, or by the next attach.\n" },
	{ "list", cmd_list,
	  "list [--bytes] [--json]",
	  "List the existing devices: ID DEVICE SIZE USED BUCKETS BUDGET.\n"
	  "\n"
	  "  -b, --bytes  print sizes in bytes, not in human units\n"
	  "  -j, --json   print one JSON object (sizes always in bytes)\n" },
	{ "status", cmd_status,
	  "status [--json]",
	  "Show the attached pool: backing device, state, bucket size, total,\n"
	  "used and free buckets, number of devices. The state is read-write,\n"
	  "or read-only once a metadata write failed: writes then fail until\n"
	  "the pool is detached and attached again.\n"
	  "\n"
	  "  -j, --json  print one JSON object\n" },
	{ "write-buffer", cmd_write_buffer,
	  "write-buffer [on|off|auto] [--delay-us N] [--mb N]",
	  "Show the attached pool's write buffer (on or off, its size, its\n"
	  "delay and its counters), or switch it. With the buffer on, a\n"
	  "write to provisioned space is copied into memory and completes at\n"
	  "once; buffers are written out sorted and merged, and a flush\n"
	  "(fsync) completes only once everything written before it is on\n"
	  "the backing device. The devices then behave like a disk with a\n"
	  "volatile write cache, which they always advertise. \"auto\" (the\n"
	  "default at attach, insmod vmem.ko write_buffer=auto) turns it on\n"
	  "over a backing disk with a volatile write cache (virtio, most\n"
	  "SATA and NVMe disks) and off over one without (brd), where it\n"
	  "only adds a copy (see BENCHMARKS.md); write_buffer=0 or 1 sets\n"
	  "it for every attach.\n"
	  "\n"
	  "  --delay-us N  write a buffer out at most N microseconds\n"
	  "                (1..100000) after its first write (default 2000)\n"
	  "  --mb N        memory for the buffers, in MiB (1..1024, default\n"
	  "                16); allocated when the buffer is switched on\n" },
	{ "scrub", cmd_scrub,
	  "scrub",
	  "Scrub the attached pool's metadata: the module reads both copies\n"
	  "of every metadata sector (one in layout version 1), compares them\n"
	  "with what it holds in memory and rewrites those that differ; prints\n"
	  "how many it compared and rewrote. Commits go on meanwhile; other\n"
	  "control commands wait. Also: echo 1 >\n"
	  "/sys/class/misc/vmem-control/scrub.\n" },
	{ "help", NULL,
	  "help [COMMAND]",
	  "Show the list of commands, or the help of one command.\n" },
};

#define VCTL_NR_COMMANDS ARRAY_SIZE(vctl_commands)

static const struct vctl_command *vctl_find(const char *name)
{
	size_t i;

	for (i = 0; i < VCTL_NR_COMMANDS; i++)
		if (!strcmp(vctl_commands[i].name, name))
			return &vctl_commands[i];
	return NULL;
}

int vctl_usage(void)
{
	const struct vctl_command *c = vctl_find(vctl_cmd);

	if (c)
		fprintf(stderr, "usage: vmemctl %s\n", c->usage);
	fprintf(stderr, "Try 'vmemctl help %s'.\n", vctl_cmd);
	return VCTL_ERROR;
}

/* Is @a a cluster of short options ("-xn") holding @opt? */
static bool vctl_in_cluster(const char *a, int opt)
{
	return a && a[0] == '-' && a[1] && a[1] != '-' && strchr(a + 1, opt);
}

int vctl_bad_option(char **argv, int optind, int c)
{
	const char *arg = argv[optind - 1];
	char opt[3] = { '-', (char)optopt, 0 };

	/*
	 * getopt has passed a long option, and a short one that ends its
	 * cluster; one inside a cluster ("-xn") it has not passed yet: name
	 * an unknown short option by optopt, from either
	 */
	if (c == '?' && optopt > ' ' && optopt < 127 &&
	    (vctl_in_cluster(argv[optind], optopt) ||
	     vctl_in_cluster(arg, optopt)))
		arg = opt;
	if (c == ':')
		vctl_err("option '%s' needs an argument", arg);
	else
		vctl_err("unknown option '%s'", arg);
	return vctl_usage();
}

static void vctl_overview(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: vmemctl COMMAND [OPTIONS] [ARGS]\n"
		"\n"
		"Offline commands work on a block device or an image file:\n");
	for (i = 0; i < VCTL_NR_COMMANDS; i++) {
		if (!strcmp(vctl_commands[i].name, "attach"))
			fprintf(f,
				"\nOnline commands talk to the vmem module (%s):\n",
				VMEM_CTL_DEVICE);
		if (!strcmp(vctl_commands[i].name, "help"))
			fprintf(f, "\n");
		fprintf(f, "  vmemctl %s\n", vctl_commands[i].usage);
	}
	fprintf(f,
		"\n"
		"SIZE is a number of bytes with an optional binary suffix K, M,\n"
		"G or T (1M = 1048576). N is a device id, 0..254.\n"
		"Exit status: 0 success, 1 damage found or operation refused,\n"
		"2 usage or I/O error.\n");
}

static int vctl_help(int argc, char **argv)
{
	const struct vctl_command *c;

	if (argc < 2) {
		vctl_overview(stdout);
		return VCTL_OK;
	}
	if (argc > 2) {
		vctl_err("too many arguments");
		return vctl_usage();
	}
	c = vctl_find(argv[1]);
	if (!c) {
		vctl_err("unknown command '%s'", argv[1]);
		return VCTL_ERROR;
	}
	printf("usage: vmemctl %s\n\n%s", c->usage, c->help);
	return VCTL_OK;
}

int main(int argc, char **argv)
{
	const struct vctl_command *c;
	int i;

	if (argc < 2) {
		vctl_overview(stderr);
		return VCTL_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		vctl_overview(stdout);
		return VCTL_OK;
	}
	c = vctl_find(argv[1]);
	if (!c) {
		fprintf(stderr, "vmemctl: unknown command '%s'\n", argv[1]);
		fprintf(stderr, "Try 'vmemctl --help'.\n");
		return VCTL_ERROR;
	}
	vctl_cmd = c->name;
	if (!c->fn)
		return vctl_help(argc - 1, argv + 1);
	/* "vmemctl CMD --help" anywhere before "--" */
	for (i = 2; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: vmemctl %s\n\n%s", c->usage, c->help);
			return VCTL_OK;
		}
	}
	return c->fn(argc - 1, argv + 1);
}
