// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl list and status: usage reports of the attached pool, read with
 * VMEM_CTL_POOL_INFO and VMEM_CTL_GET_DEV, in the style of zramctl.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "vmemctl.h"

#define VCTL_NCOLS 6

struct vctl_list {
	struct vmem_ctl_dev dev[VMEM_CTL_MAX_DEVICES];
	unsigned int n;
};

/* Options shared by list and status: --json, and --bytes for list */
static int vctl_report_opts(int argc, char **argv, bool *json, bool *bytes)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "bytes", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, bytes ? ":jb" : ":j", opts,
				NULL)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (c == 'b' && bytes) {
			*bytes = true;
		} else {
			if (c == 'b')
				c = '?';
			return vctl_bad_option(argv, optind, c);
		}
	}
	if (argc != optind) {
		vctl_err("too many arguments");
		return vctl_usage();
	}
	return 0;
}

static int vctl_pool_info(int fd, struct vmem_ctl_pool *p)
{
	memset(p, 0, sizeof(*p));
	if (ioctl(fd, VMEM_CTL_POOL_INFO, p))
		return vctl_ioctl_fail("pool info", errno);
	return 0;
}

/* Read every existing device; ENOENT means the id is free */
static int vctl_read_devs(int fd, struct vctl_list *l)
{
	char what[32];
	u32 id;

	l->n = 0;
	for (id = 0; id < VMEM_CTL_MAX_DEVICES; id++) {
		struct vmem_ctl_dev *d = &l->dev[l->n];

		memset(d, 0, sizeof(*d));
		d->id = id;
		if (!ioctl(fd, VMEM_CTL_GET_DEV, d)) {
			l->n++;
			continue;
		}
		if (errno == ENOENT)
			continue;
		if (errno == ENODEV)	/* detached meanwhile: nothing left */
			break;
		snprintf(what, sizeof(what), "vmem%u", id);
		return vctl_ioctl_fail(what, errno);
	}
	return 0;
}

static void vctl_list_json(const struct vctl_list *l)
{
	unsigned int i;

	printf("{\"devices\": [");
	for (i = 0; i < l->n; i++) {
		const struct vmem_ctl_dev *d = &l->dev[i];

		printf("%s\n  {\"id\": %u, \"device\": \"/dev/vmem%u\", ",
		       i ? "," : "", d->id, d->id);
		printf("\"size_bytes\": %llu, \"used_bytes\": %llu, ",
		       (unsigned long long)d->size_bytes,
		       (unsigned long long)d->used_bytes);
		printf("\"used_buckets\": %llu, ",
		       (unsigned long long)d->used_buckets);
		if (d->budget_bytes == VMEM_CTL_NO_BUDGET)
			printf("\"budget_bytes\": null, ");
		else
			printf("\"budget_bytes\": %llu, ",
			       (unsigned long long)d->budget_bytes);
		printf("\"major\": %u, \"minor\": %u}", d->major, d->minor);
	}
	printf("]}\n");
}

static void vctl_list_table(const struct vctl_list *l, bool raw)
{
	static const char * const head[VCTL_NCOLS] = {
		"ID", "DEVICE", "SIZE", "USED", "BUCKETS", "BUDGET"
	};
	char cell[VMEM_CTL_MAX_DEVICES][VCTL_NCOLS][VCTL_HUMAN_LEN];
	int width[VCTL_NCOLS];
	unsigned int i, c;

	for (c = 0; c < VCTL_NCOLS; c++)
		width[c] = strlen(head[c]);
	for (i = 0; i < l->n; i++) {
		const struct vmem_ctl_dev *d = &l->dev[i];

		snprintf(cell[i][0], VCTL_HUMAN_LEN, "%u", d->id);
		snprintf(cell[i][1], VCTL_HUMAN_LEN, "/dev/vmem%u", d->id);
		vctl_size_str(cell[i][2], VCTL_HUMAN_LEN, d->size_bytes, raw);
		vctl_size_str(cell[i][3], VCTL_HUMAN_LEN, d->used_bytes, raw);
		snprintf(cell[i][4], VCTL_HUMAN_LEN, "%llu",
			 (unsigned long long)d->used_buckets);
		if (d->budget_bytes == VMEM_CTL_NO_BUDGET)
			snprintf(cell[i][5], VCTL_HUMAN_LEN, "-");
		else
			vctl_size_str(cell[i][5], VCTL_HUMAN_LEN,
				      d->budget_bytes, raw);
		for (c = 0; c < VCTL_NCOLS; c++)
			if ((int)strlen(cell[i][c]) > width[c])
				width[c] = strlen(cell[i][c]);
	}
	/* DEVICE is left-aligned, numbers right-aligned */
	printf("%*s %-*s %*s %*s %*s %*s\n", width[0], head[0], width[1],
	       head[1], width[2], head[2], width[3], head[3], width[4],
	       head[4], width[5], head[5]);
	for (i = 0; i < l->n; i++)
		printf("%*s %-*s %*s %*s %*s %*s\n", width[0], cell[i][0],
		       width[1], cell[i][1], width[2], cell[i][2], width[3],
		       cell[i][3], width[4], cell[i][4], width[5], cell[i][5]);
}

int cmd_list(int argc, char **argv)
{
	static struct vctl_list l;
	struct vmem_ctl_pool p;
	bool json = false, raw = false;
	int fd, ret;

	ret = vctl_report_opts(argc, argv, &json, &raw);
	if (ret)
		return ret;
	ret = vctl_ctl_open(&fd);
	if (ret)
		return ret;
	ret = vctl_pool_info(fd, &p);
	l.n = 0;
	if (!ret && p.attached)
		ret = vctl_read_devs(fd, &l);
	close(fd);
	if (ret)
		return ret;
	if (json)
		vctl_list_json(&l);
	else
		vctl_list_table(&l, raw);
	return VCTL_OK;
}

/* The kernel name of a block device, from sysfs: "vdb", "loop0" */
static void vctl_blk_name(u32 major, u32 minor, char *name, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(name, len, "?");
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major,
		 minor);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(name, len, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static void vctl_status_text(const struct vmem_ctl_pool *p, const char *name)
{
	u64 free = p->nr_buckets - p->used_buckets;
	char b[VCTL_HUMAN_LEN], u[VCTL_HUMAN_LEN], f[VCTL_HUMAN_LEN];

	if (!p->attached) {
		printf("pool:        not attached\n");
		return;
	}
	printf("backing:     /dev/%s (%u:%u)\n", name, p->backing_major,
	       p->backing_minor);
	if (p->flags & VMEM_CTL_POOL_READ_ONLY)
		printf("state:       read-only (a metadata write failed)\n");
	else
		printf("state:       read-write\n");
	vctl_human(b, sizeof(b), p->bucket_bytes);
	printf("bucket size: %s\n", b);
	vctl_human(b, sizeof(b), p->nr_buckets * p->bucket_bytes);
	vctl_human(u, sizeof(u), p->used_buckets * p->bucket_bytes);
	vctl_human(f, sizeof(f), free * p->bucket_bytes);
	printf("buckets:     %llu total, %llu used, %llu free\n",
	       (unsigned long long)p->nr_buckets,
	       (unsigned long long)p->used_buckets, (unsigned long long)free);
	printf("capacity:    %s total, %s used, %s free\n", b, u, f);
	printf("devices:     %u\n", p->nr_devices);
	printf("data start:  byte %llu\n",
	       (unsigned long long)p->data_start_bytes);
	printf("generation:  %llu\n", (unsigned long long)p->generation);
}

static void vctl_status_json(const struct vmem_ctl_pool *p, const char *name)
{
	char dev[300];

	if (!p->attached) {
		printf("{\"attached\": false}\n");
		return;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	printf("{\"attached\": true, \"backing\": ");
	vctl_json_str(stdout, dev);
	printf(", \"backing_major\": %u, \"backing_minor\": %u, ",
	       p->backing_major, p->backing_minor);
	printf("\"bucket_bytes\": %llu, \"total_buckets\": %llu, ",
	       (unsigned long long)p->bucket_bytes,
	       (unsigned long long)p->nr_buckets);
	printf("\"used_buckets\": %llu, \"free_buckets\": %llu, ",
	       (unsigned long long)p->used_buckets,
	       (unsigned long long)(p->nr_buckets - p->used_buckets));
	printf("\"devices\": %u, \"data_start_bytes\": %llu, ",
	       p->nr_devices, (unsigned long long)p->data_start_bytes);
	printf("\"generation\": %llu, \"read_only\": %s}\n",
	       (unsigned long long)p->generation,
	       p->flags & VMEM_CTL_POOL_READ_ONLY ? "true" : "false");
}

int cmd_status(int argc, char **argv)
{
	struct vmem_ctl_pool p;
	bool json = false;
	char name[256];
	int fd, ret;

	ret = vctl_report_opts(argc, argv, &json, NULL);
	if (ret)
		return ret;
	ret = vctl_ctl_open(&fd);
	if (ret)
		return ret;
	ret = vctl_pool_info(fd, &p);
	close(fd);
	if (ret)
		return ret;
	vctl_blk_name(p.backing_major, p.backing_minor, name, sizeof(name));
	if (json)
		vctl_status_json(&p, name);
	else
		vctl_status_text(&p, name);
	return VCTL_OK;
}
