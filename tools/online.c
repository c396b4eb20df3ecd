// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl online commands that change the module's state through the
 * ioctls of /dev/vmem-control (include/uapi/linux/vmem.h): attach,
 * detach, create, resize, budget, delete. Inputs are checked here for a
 * clear message, but the kernel is the authority: a failing ioctl is
 * reported with its strerror and what was being done.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include "vmemctl.h"

/**
 * vctl_ctl_open() - open /dev/vmem-control
 * @fd: result
 *
 * Return: 0, or VCTL_ERROR after printing why.
 */
int vctl_ctl_open(int *fd)
{
	*fd = open(VMEM_CTL_DEVICE, O_RDWR | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	if (errno == ENOENT)
		vctl_err("vmem module not loaded (no %s)", VMEM_CTL_DEVICE);
	else
		vctl_err("%s: %s", VMEM_CTL_DEVICE, strerror(errno));
	return VCTL_ERROR;
}

/**
 * vctl_ioctl_fail() - report a failed ioctl
 * @what: what was being done, e.g. "vmem3"
 * @err: the errno
 *
 * Return: VCTL_REFUSED when the module refused the request, VCTL_ERROR
 * for an I/O error or an ABI mismatch.
 */
int vctl_ioctl_fail(const char *what, int err)
{
	const char *hint = "";

	switch (err) {
	case ENODEV:
		hint = " (no pool attached)";
		break;
	case EINVAL:
		hint = " (the kernel log says why)";
		break;
	case EPERM:
	case EACCES:
		hint = " (needs CAP_SYS_ADMIN)";
		break;
	}
	vctl_err("%s: %s%s", what, strerror(err), hint);
	if (err == EIO || err == ENOTTY || err == EFAULT)
		return VCTL_ERROR;
	return VCTL_REFUSED;
}

/* Run one ioctl on a fresh control fd */
static int vctl_ctl(unsigned long req, void *arg, const char *what)
{
	int fd, ret;

	ret = vctl_ctl_open(&fd);
	if (ret)
		return ret;
	ret = ioctl(fd, req, arg) ? vctl_ioctl_fail(what, errno) : 0;
	close(fd);
	return ret;
}

/* No options, exactly @n arguments; returns the first argument's index */
static int vctl_args(int argc, char **argv, int n)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		return -vctl_bad_option(argv, optind, c);
	if (argc - optind != n) {
		vctl_err("%s", argc - optind < n ? "missing arguments" :
			 "too many arguments");
		return -vctl_usage();
	}
	return optind;
}

/* A device size: positive, a multiple of 64 KiB */
static bool vctl_dev_size(const char *arg, u64 *bytes)
{
	if (!vctl_parse_size(arg, bytes) || !*bytes ||
	    *bytes % VMEM_CTL_SIZE_UNIT) {
		vctl_err("size '%s': must be a positive multiple of 64K", arg);
		return false;
	}
	return true;
}

/* A budget: "none", or a positive size (rounded up to whole buckets) */
static bool vctl_budget_arg(const char *arg, u64 *bytes)
{
	if (!strcmp(arg, "none")) {
		*bytes = VMEM_CTL_NO_BUDGET;
		return true;
	}
	if (!vctl_parse_size(arg, bytes) || !*bytes) {
		vctl_err("budget '%s': must be a positive size or 'none'", arg);
		return false;
	}
	return true;
}

static bool vctl_id_arg(const char *arg, u32 *id)
{
	if (!vctl_parse_id(arg, id)) {
		vctl_err("device id '%s': must be a number from 0 to %u", arg,
			 VMEM_MAX_DEVICES - 1);
		return false;
	}
	return true;
}

int cmd_attach(int argc, char **argv)
{
	struct vmem_ctl_attach a;
	char path[PATH_MAX];
	struct stat st;
	int i = vctl_args(argc, argv, 1);

	if (i < 0)
		return -i;
	if (!realpath(argv[i], path) || stat(path, &st)) {
		vctl_err("%s: %s", argv[i], strerror(errno));
		return VCTL_ERROR;
	}
	if (!S_ISBLK(st.st_mode)) {
		vctl_err("%s: not a block device (for an image file, attach the loop device from 'losetup -f --show FILE')",
			 argv[i]);
		return VCTL_ERROR;
	}
	memset(&a, 0, sizeof(a));
	a.path = (uintptr_t)path;
	a.path_len = strlen(path) + 1;
	return vctl_ctl(VMEM_CTL_ATTACH, &a, path);
}

int cmd_detach(int argc, char **argv)
{
	int i = vctl_args(argc, argv, 0);

	if (i < 0)
		return -i;
	return vctl_ctl(VMEM_CTL_DETACH, NULL, "detach");
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "budget", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	u64 size, budget = VMEM_CTL_NO_BUDGET;
	struct vmem_ctl_dev d;
	char what[32];
	int c, ret;

	memset(&d, 0, sizeof(d));
	d.id = VMEM_CTL_ID_ANY;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:b:", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!vctl_id_arg(optarg, &d.id))
				return vctl_usage();
			break;
		case 'b':
			if (!vctl_budget_arg(optarg, &budget))
				return vctl_usage();
			break;
		default:
			return vctl_bad_option(argv, optind, c);
		}
	}
	if (argc - optind != 1) {
		vctl_err("%s", argc == optind ? "no SIZE given" :
			 "too many arguments");
		return vctl_usage();
	}
	if (!vctl_dev_size(argv[optind], &size))
		return vctl_usage();
	d.size_bytes = size;
	d.budget_bytes = budget;
	if (d.id == VMEM_CTL_ID_ANY)
		snprintf(what, sizeof(what), "new device");
	else
		snprintf(what, sizeof(what), "vmem%u", d.id);
	ret = vctl_ctl(VMEM_CTL_CREATE, &d, what);
	if (!ret)
		printf("/dev/vmem%u\n", d.id);
	return ret;
}

/* resize and budget: "N VALUE" */
static int vctl_dev_change(int argc, char **argv, unsigned long req)
{
	struct vmem_ctl_dev d;
	char what[32];
	u64 bytes;
	int i = vctl_args(argc, argv, 2);

	if (i < 0)
		return -i;
	memset(&d, 0, sizeof(d));
	if (!vctl_id_arg(argv[i], &d.id))
		return vctl_usage();
	if (req == VMEM_CTL_RESIZE) {
		if (!vctl_dev_size(argv[i + 1], &bytes))
			return vctl_usage();
		d.size_bytes = bytes;
	} else {
		if (!vctl_budget_arg(argv[i + 1], &bytes))
			return vctl_usage();
		d.budget_bytes = bytes;
	}
	snprintf(what, sizeof(what), "vmem%u", d.id);
	return vctl_ctl(req, &d, what);
}

int cmd_resize(int argc, char **argv)
{
	return vctl_dev_change(argc, argv, VMEM_CTL_RESIZE);
}

int cmd_budget(int argc, char **argv)
{
	return vctl_dev_change(argc, argv, VMEM_CTL_SET_BUDGET);
}

int cmd_delete(int argc, char **argv)
{
	struct vmem_ctl_dev d;
	char what[32];
	int i = vctl_args(argc, argv, 1);

	if (i < 0)
		return -i;
	memset(&d, 0, sizeof(d));
	if (!vctl_id_arg(argv[i], &d.id))
		return vctl_usage();
	snprintf(what, sizeof(what), "vmem%u", d.id);
	return vctl_ctl(VMEM_CTL_DELETE, &d, what);
}
