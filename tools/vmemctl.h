/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmemctl: shared declarations of the command-line tool.
 *
 * Files and their jobs:
 *   vmemctl.c  main, command table, help texts, error reporting
 *   size.c     parsing and printing of sizes, numbers and uuids
 *   json.c     JSON string output
 *   target.c   opening a target (block device or image file), raw I/O
 *   probe.c    what a target holds: nothing, a pool, a filesystem...
 *   pool.c     reading and verifying a pool's metadata offline (both
 *              copies of layout version 2)
 *   format.c   format: lay out a new pool
 *   inspect.c  dump and check: show and verify a pool offline
 *   repair.c   repair: fix the damage that has one safe fix offline
 *   copies.c   upgrade (offline, to layout version 2) and scrub (online)
 *   grow.c     grow: add buckets from a grown backing device
 *   online.c   commands that change the module's state (ioctls)
 *   report.c   list and status: usage reports of the attached pool
 */
#ifndef _VMEMCTL_H
#define _VMEMCTL_H

#include <stdbool.h>
#include <endian.h>
#include <stdio.h>
#include <linux/vmem.h>
#include <vmem/meta.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes */
enum {
	VCTL_OK = 0,		/* success, or a clean pool */
	VCTL_REFUSED = 1,	/* damage found or operation refused */
	VCTL_ERROR = 2,		/* usage or I/O error */
};

/* The command being run, for messages ("vmemctl: <cmd>: ...") */
extern const char *vctl_cmd;

/* Print "vmemctl: <cmd>: <message>\n" to stderr; @fmt is a literal */
#define vctl_err(fmt, ...) \
	fprintf(stderr, "vmemctl: %s: " fmt "\n", vctl_cmd, ##__VA_ARGS__)
/* Print the usage line of the running command to stderr; returns 2 */
int vctl_usage(void);
/* Report an unknown option or missing argument; returns 2 */
int vctl_bad_option(char **argv, int optind, int c);

/* size.c */
bool vctl_parse_size(const char *s, u64 *bytes);
bool vctl_parse_u32(const char *s, u32 *val);
bool vctl_parse_id(const char *s, u32 *id);
void vctl_human(char *buf, size_t len, u64 bytes);
const char *vctl_size_str(char *buf, size_t len, u64 bytes, bool raw);
void vctl_uuid_str(char *buf, size_t len, const u8 *uuid);

#define VCTL_HUMAN_LEN 32
#define VCTL_UUID_LEN 37

/* json.c */
void vctl_json_str(FILE *f, const char *s);

/* target.c */
struct vctl_target {
	const char *path;
	int fd;
	int dfd;	/* O_DIRECT, for sector reads of a block device */
	int wfd;	/* O_DIRECT, for writes of whole blocks to one */
	bool is_blk;
	u64 bytes;
};

int vctl_target_open(struct vctl_target *t, const char *path, bool rw);
void vctl_target_close(struct vctl_target *t);
int vctl_pread(struct vctl_target *t, void *buf, size_t len, u64 off);
int vctl_pread_quiet(struct vctl_target *t, void *buf, size_t len, u64 off);
int vctl_read_sector(struct vctl_target *t, u64 sector, void *buf);
int vctl_pwrite(struct vctl_target *t, const void *buf, size_t len, u64 off);
int vctl_sync(struct vctl_target *t);
u64 vctl_block_sectors(struct vctl_target *t);
void *vctl_read_meta(struct vctl_target *t, const struct vmem_geom *g,
		     u64 at);

/* probe.c */
int vctl_probe(struct vctl_target *t, enum vmem_page0_kind *kind,
	       const char **what);

/* pool.c */

/* A metadata sector whose two copies are not the same */
struct vctl_copy {
	u64 sector;
	enum vmem_copies state;
	enum vmem_fault fa;
	enum vmem_fault fb;
};

struct vctl_pool {
	struct vmem_sb sb;		/* the chosen superblock */
	enum vmem_fault sb_fault;	/* VMEM_OK: one was found */
	enum vmem_fault sb_a_fault;	/* copy A's, when copy B's was taken */
	bool unreadable;		/* sector 0 cannot be read, no copy */
	u64 sb_at;			/* where the chosen one was read */
	struct vmem_geom g;
	void *meta;			/* the merged image */
	void *meta_a;			/* copy A as read */
	void *meta_b;			/* copy B as read (version 2) */
	struct vctl_copy *copies;	/* sectors whose copies differ */
	u64 nr_copies;
	u64 cap_copies;
	bool copies_oom;
	u64 nr_state[VMEM_COPIES_BOTH_BAD + 1];
	u64 lost;			/* sectors lost in both copies */
	u64 faults_lost;		/* check faults of lost sectors */
	struct vmem_meta_view view;
	u64 faults;
	u64 used_buckets;
	u32 nr_devices;
	bool dup_checked;
};

int vctl_pool_read_sb(struct vctl_target *t, struct vctl_pool *p,
		      enum vmem_page0_kind *kind);
int vctl_pool_open(struct vctl_target *t, struct vctl_pool *p,
		   const char *path, bool rw);
int vctl_pool_check(struct vctl_target *t, struct vctl_pool *p,
		    vmem_report_fn report, void *ctx);
const char *vctl_copy_str(char *buf, size_t len, const struct vctl_pool *p,
			  const struct vctl_copy *c);
u64 vctl_find_orphan_sb(struct vctl_target *t, struct vmem_sb *sb);
u64 vctl_probe_copy_b(struct vctl_target *t, struct vmem_sb *sb);
void vctl_orphan_hint(struct vctl_target *t);
void vctl_pool_free(struct vctl_pool *p);

/* Damaged copies: what check counts as faults and repair restores */
static inline u64 vctl_copy_faults(const struct vctl_pool *p)
{
	return p->nr_state[VMEM_COPIES_A_BAD] + p->nr_state[VMEM_COPIES_B_BAD] +
	       p->nr_state[VMEM_COPIES_BOTH_BAD];
}

/* online.c */
int vctl_ctl_open(int *fd);
int vctl_ioctl_fail(const char *what, int err);

/* wbuf.c: the pool's sysfs files */
#define VCTL_SYSFS "/sys/class/misc/vmem-control/"
int vctl_sysfs_read(const char *name, char *buf, size_t len);
int vctl_sysfs_write(const char *name, const char *val);

/* Commands: each gets argv[0] = command name; returns an exit code */
int cmd_format(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_budget(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_write_buffer(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_scrub(int argc, char **argv);
int cmd_grow(int argc, char **argv);

#endif /* _VMEMCTL_H */
