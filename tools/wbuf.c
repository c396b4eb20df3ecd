// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl write-buffer: show or switch the attached pool's write buffer
 * through its sysfs files under /sys/class/misc/vmem-control/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmemctl.h"

int vctl_sysfs_read(const char *name, char *buf, size_t len)
{
	FILE *f = fopen(VCTL_SYSFS "attached", "r");

	if (!f) {
		vctl_err("vmem module not loaded (no %s)", VCTL_SYSFS);
		return 2;
	}
	fclose(f);
	f = fopen(name, "r");
	if (!f || !fgets(buf, len, f)) {
		vctl_err("%s: %s", name, strerror(errno));
		if (f)
			fclose(f);
		return 2;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int vctl_sysfs_write(const char *name, const char *val)
{
	FILE *f = fopen(name, "w");
	int ret = 0;

	if (!f) {
		vctl_err("%s: %s", name, strerror(errno));
		return 2;
	}
	if (fputs(val, f) < 0)
		ret = errno;
	if (fclose(f) && !ret)
		ret = errno;
	if (ret) {
		vctl_err("%s: %s (the kernel log says why)", name,
			 strerror(ret));
		return ret == ENODEV ? 1 : 2;
	}
	return 0;
}

/* Write @val to @name if it is a number in 1..@max */
static int vctl_sysfs_number(const char *opt, const char *name,
			     const char *val, unsigned long max)
{
	unsigned long n;
	char *end;

	n = strtoul(val, &end, 10);
	if (!n || n > max || *end) {
		vctl_err("%s wants 1..%lu", opt, max);
		return 2;
	}
	return vctl_sysfs_write(name, val);
}

int cmd_write_buffer(int argc, char **argv)
{
	char on[16], delay[32], mb[32], stat[256];
	unsigned long long v[9] = { 0 };
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "on") || !strcmp(argv[i], "off") ||
		    !strcmp(argv[i], "auto")) {
			ret = vctl_sysfs_write(VCTL_SYSFS "write_buffer",
					       argv[i][0] == 'a' ? "auto" :
					       argv[i][1] == 'n' ? "1" : "0");
		} else if (!strcmp(argv[i], "--delay-us") && i + 1 < argc) {
			ret = vctl_sysfs_number("--delay-us",
						VCTL_SYSFS "write_buffer_delay_us",
						argv[++i], 100000);
		} else if (!strcmp(argv[i], "--mb") && i + 1 < argc) {
			ret = vctl_sysfs_number("--mb",
						VCTL_SYSFS "write_buffer_mb",
						argv[++i], 1024);
		} else {
			return vctl_usage();
		}
		if (ret)
			return ret;
	}
	ret = vctl_sysfs_read(VCTL_SYSFS "write_buffer", on, sizeof(on));
	if (!ret)
		ret = vctl_sysfs_read(VCTL_SYSFS "write_buffer_delay_us",
				      delay, sizeof(delay));
	if (!ret)
		ret = vctl_sysfs_read(VCTL_SYSFS "write_buffer_mb", mb,
				      sizeof(mb));
	if (!ret)
		ret = vctl_sysfs_read(VCTL_SYSFS "write_buffer_stat", stat,
				      sizeof(stat));
	if (ret)
		return ret;
	/* Older modules have six or eight fields: the rest reads 0 */
	if (sscanf(stat, "%llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8]) < 6)
		memset(v, 0, sizeof(v));
	/* "auto" when no pool is attached: the attach decides */
	printf("write buffer: %s, %s MiB, delay %s us\n",
	       !strcmp(on, "1") ? "on" : !strcmp(on, "auto") ? "auto" : "off",
	       mb, delay);
	printf("buffers written %llu: %llu merged writes carrying %llu writes; ",
	       v[0], v[1], v[2]);
	printf("%llu sent directly, %llu waited for buffered data, ", v[3],
	       v[4]);
	printf("%llu lost to write errors; %llu flushes wrote the buffer themselves, ",
	       v[5], v[6]);
	printf("%llu flushed beside one, %llu while an older one was written\n",
	       v[7], v[8]);
	return 0;
}
