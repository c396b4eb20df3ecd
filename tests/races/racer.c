// SPDX-License-Identifier: GPL-2.0
/*
 * racer: the guest-side programs of the race tests (tests/races/run).
 * Needs vmem.ko built for the debug kernel (test hooks, see
 * drivers/vmem/debug.h) and an attached pool with 64 KiB buckets.
 *
 *   racer drain X Z CYCLES ENTER_US
 *
 * Discard drain race (issue 16, item 1). Every 4 KiB block a device
 * writes starts with "vmem<id> vb<N> blk<K>" and is filled with the byte
 * 0x80|id, so one device's data found in another is recognised. The pool
 * is small and kept full (Z holds what X does not). A cycle:
 *   0-1 with the enter hook off, write block 0 of X's bucket B (vb 64),
 *       then of bucket A (vb 0): the pool is full now, and A's bucket is
 *       the one the allocator (next fit) looks at last;
 *   2   with hook_io_enter_us = ENTER_US, a writer thread W writes a
 *       block of B; once W is seen asleep in the hook (its stack in
 *       /proc/self/task/TID/stack), discard X's range A (64 buckets, one
 *       mapped: one drain); two reader threads read A and B meanwhile;
 *   3   wait until W sleeps elsewhere: it has looked B up and its write
 *       waits in the write buffer (the caller turned it on with a delay
 *       of 100 ms);
 *   4   hook off; discard X's range B: a second drain, which frees B's
 *       bucket;
 *   5   Z takes every free bucket with first writes, B's bucket first;
 *   6-7 wait for W's write to complete, then read back the buckets Z got
 *       in this cycle: block 0 must hold Z's pattern, the rest zeros;
 *   8   verify Z's oldest buckets and discard them until two are free.
 * A second drain that does not wait for W lets Z's bucket be zeroed
 * before W's data lands in it (the old epoch counters: W read the epoch
 * before the first drain flipped it and charged that counter after the
 * first drain's wait, so the second drain waits on the other counter).
 * The readers check that no read of X returns another device's data.
 * After the cycles every block of X must be zeros or X's own pattern and
 * every live bucket of Z exactly what Z wrote.
 *
 *   racer uaf ID ITERS EXIT_US
 *
 * Delete versus completion (issue 16, item 2). ITERS times: create
 * vmem<ID>, write block 0 (a first write, completed by the pool's
 * worker), set hook_io_exit_us = EXIT_US, write block 1 through the
 * write buffer (on, with a short delay, set by the caller): the pool is
 * on brd, which completes a bio in the context that submits it, so the
 * buffer's kworker completes it and then sleeps in the exit hook; close
 * the device and delete it. Every create and delete must succeed; a use
 * of the freed device is for KASAN to report (the caller reads the log).
 *
 * Exit status: 0 pass, 1 the data or an operation failed, 2 setup error.
 * The verdict never depends on timing: the hooks and the waits above only
 * make the races likely; what is checked is data and return codes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/vmem.h>

#define BLK		4096
#define CTL_SYS		"/sys/class/misc/vmem-control"
#define PARAMS		"/sys/module/vmem/parameters"
#define MAX_SHOWN	10

static uint64_t bucket;		/* bytes */
static unsigned int nblk;	/* blocks per bucket */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int failures;
static bool trace;	/* RACER_TRACE set: timings of each step */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* One "racer: FAIL: ..." line per failure, the first MAX_SHOWN of them */
static void failf(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	if (++failures <= MAX_SHOWN) {
		va_start(ap, fmt);
		fputs("racer: FAIL: ", stdout);
		vprintf(fmt, ap);
		putchar('\n');
		fflush(stdout);
		va_end(ap);
	}
	pthread_mutex_unlock(&out_lock);
}

static unsigned int nfailed(void)
{
	unsigned int n;

	pthread_mutex_lock(&out_lock);
	n = failures;
	pthread_mutex_unlock(&out_lock);
	return n;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("racer: setup: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	exit(2);
}

static int read_u64(const char *path, uint64_t *v)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%" SCNu64, v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static uint64_t sys_u64(const char *path)
{
	uint64_t v;

	if (read_u64(path, &v))
		die("cannot read %s", path);
	return v;
}

static void set_param(const char *name, unsigned int val)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "/%s", name);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%u\n", val) < 0 || fclose(f))
		die("cannot write %s (vmem.ko without test hooks?)", path);
}

static void *abuf(size_t n)
{
	void *p;

	if (posix_memalign(&p, BLK, n))
		die("out of memory");
	memset(p, 0, n);
	return p;
}

/* O_DIRECT I/O of a whole buffer: 0 or -errno */
static int dio(int fd, void *buf, size_t len, uint64_t off, bool wr)
{
	ssize_t n = wr ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int vopen(unsigned int id)
{
	char path[32];
	int fd, i;

	snprintf(path, sizeof(path), "/dev/vmem%u", id);
	/* devtmpfs makes the node during the create; allow it a moment */
	for (i = 0; i < 1000; i++) {
		fd = open(path, O_RDWR | O_DIRECT);
		if (fd >= 0 || (errno != ENOENT && errno != ENXIO))
			break;
		sched_yield();
	}
	return fd;
}

static int vdiscard(int fd, uint64_t vb, uint64_t n)
{
	uint64_t r[2] = { vb * bucket, n * bucket };

	return ioctl(fd, BLKDISCARD, r) ? -errno : 0;
}

static void trace_file(const char *path)
{
	char line[256];
	FILE *f;

	if (!trace || !(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f))
		printf("racer: trace: %s: %s", path, line);
	fclose(f);
}

/* ------------------------------------------------------------ patterns */

static uint8_t fill_of(unsigned int id)
{
	return 0x80 | (id & 0x7f);
}

static void mkblock(uint8_t *b, unsigned int id, uint64_t vb, unsigned int k)
{
	memset(b, fill_of(id), BLK);
	snprintf((char *)b, 48, "vmem%u vb%" PRIu64 " blk%u", id, vb, k);
}

static bool is_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool is_own(const uint8_t *b, unsigned int id, uint64_t vb,
		   unsigned int k)
{
	uint8_t e[BLK];

	mkblock(e, id, vb, k);
	return !memcmp(b, e, BLK);
}

/* The id of another device whose data a block of device @id holds, or -1 */
static int foreign(const uint8_t *b, unsigned int id)
{
	char head[16];
	unsigned int j;
	size_t i;

	memcpy(head, b, sizeof(head) - 1);
	head[sizeof(head) - 1] = 0;
	if (sscanf(head, "vmem%u", &j) == 1 && j != id)
		return j;
	for (i = 0; i < BLK; i++)
		if ((b[i] & 0x80) && b[i] != fill_of(id))
			return b[i] & 0x7f;
	return -1;
}

/* What a bad block holds, for a message */
static const char *show(const uint8_t *b, char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n && i < 40 && b[i]; i++)
		s[i] = b[i] >= 0x20 && b[i] < 0x7f ? b[i] : '.';
	s[i] = 0;
	if (!i)
		snprintf(s, n, "first byte 0x%02x", b[0]);
	return s;
}

/* ------------------------------------------------------------ drain */

struct drain {
	unsigned int xid, zid;
	int xfd, zfd, rfd;
	uint64_t a_vb, a_n, b_vb, b_n;
	uint64_t zold, znext;	/* Z's live buckets: [zold, znext) */
	/* the writer W, driven by this thread */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pid_t wtid;
	int go, done, stop, w_ret;
	unsigned int w_blk;
	double w_t0, w_t1;	/* W's last write: start, end */
	/* the readers: they read while @reading (the enter hook is on) */
	int rstop, reading;
	uint64_t reads, zeros, own, torn;
	uint64_t z_nospc;
};

static uint64_t free_buckets(void)
{
	return sys_u64(CTL_SYS "/free_buckets");
}

/*
 * Where thread @tid of this process is: running (or between states),
 * asleep in a vmem hook, or asleep elsewhere. The hook sleeps in
 * usleep_range() or msleep(), so its stack, not wchan, names it.
 */
enum where { W_RUNNING, W_IN_HOOK, W_ELSEWHERE };

static bool stack_has(const char *path, const char *fn)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, fn);
	fclose(f);
	return found;
}

static int read_word(const char *path, char *buf, size_t n)
{
	ssize_t len;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	len = read(fd, buf, n - 1);
	close(fd);
	if (len < 0)
		return -EIO;
	buf[len] = 0;
	return 0;
}

static enum where where(pid_t tid)
{
	char path[64], w1[64], w2[64];
	bool hook;

	snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
	if (read_word(path, w1, sizeof(w1)) || !strcmp(w1, "0"))
		return W_RUNNING;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	hook = stack_has(path, "vmem_hook");
	/* the stack is only meaningful if it did not move meanwhile */
	snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
	if (read_word(path, w2, sizeof(w2)) || strcmp(w1, w2))
		return W_RUNNING;
	return hook ? W_IN_HOOK : W_ELSEWHERE;
}

static void *writer(void *arg)
{
	struct drain *d = arg;
	uint8_t *b = abuf(BLK);
	unsigned int k = 0;
	int ret;

	pthread_mutex_lock(&d->lock);
	d->wtid = syscall(SYS_gettid);
	pthread_cond_broadcast(&d->cond);
	for (;;) {
		while (!d->go && !d->stop)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->stop)
			break;
		d->go = 0;
		pthread_mutex_unlock(&d->lock);
		/* blocks 1..nblk-1: block 0 is where Z writes */
		k = k % (nblk - 1) + 1;
		mkblock(b, d->xid, d->b_vb, k);
		d->w_t0 = now();
		ret = dio(d->xfd, b, BLK, d->b_vb * bucket + (uint64_t)k * BLK,
			  true);
		d->w_t1 = now();
		pthread_mutex_lock(&d->lock);
		d->w_ret = ret;
		d->w_blk = k;
		__atomic_store_n(&d->done, 1, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
	free(b);
	return NULL;
}

static bool w_done(struct drain *d)
{
	return __atomic_load_n(&d->done, __ATOMIC_ACQUIRE);
}

static void reader_check(struct drain *d, const uint8_t *b, uint64_t vb,
			 unsigned int k)
{
	char s[48];
	int f = foreign(b, d->xid);

	if (f >= 0)
		failf("a read of vmem%u vb%" PRIu64 " block %u returned vmem%d's data (%s)",
		      d->xid, vb, k, f, show(b, s, sizeof(s)));
	else if (is_zero(b, BLK))
		d->zeros++;
	else if (is_own(b, d->xid, vb, k))
		d->own++;
	else
		d->torn++;	/* raced with a write of the same block */
}

static void *reader(void *arg)
{
	struct drain *d = arg;
	uint8_t *b = abuf(BLK);
	unsigned int seed, k;
	uint64_t vb;
	int ret;

	seed = syscall(SYS_gettid);
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->reading && !d->rstop)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->rstop)
			break;
		pthread_mutex_unlock(&d->lock);
		vb = rand_r(&seed) & 1 ? d->a_vb : d->b_vb;
		k = rand_r(&seed) % nblk;
		ret = dio(d->rfd, b, BLK, vb * bucket + (uint64_t)k * BLK,
			  false);
		pthread_mutex_lock(&d->lock);
		if (ret) {
			failf("read of vmem%u vb%" PRIu64 ": %s", d->xid, vb,
			      strerror(-ret));
			break;
		}
		reader_check(d, b, vb, k);
		d->reads++;
	}
	pthread_mutex_unlock(&d->lock);
	free(b);
	return NULL;
}

/* Read back Z's bucket @vb: block 0 Z's pattern, the rest zeros */
static unsigned int zcheck(struct drain *d, uint64_t vb, const char *what)
{
	uint8_t *b = abuf(bucket);
	unsigned int k, bad = 0;
	char s[48];
	int ret, f;

	ret = dio(d->zfd, b, bucket, vb * bucket, false);
	if (ret) {
		failf("read of vmem%u vb%" PRIu64 ": %s", d->zid, vb,
		      strerror(-ret));
		free(b);
		return 1;
	}
	for (k = 0; k < nblk; k++) {
		const uint8_t *p = b + (size_t)k * BLK;

		if (k ? is_zero(p, BLK) : is_own(p, d->zid, vb, 0))
			continue;
		bad++;
		f = foreign(p, d->zid);
		if (f >= 0)
			failf("vmem%u vb%" PRIu64 " (%s) block %u holds vmem%d's data (%s)",
			      d->zid, vb, what, k, f, show(p, s, sizeof(s)));
		else
			failf("vmem%u vb%" PRIu64 " (%s) block %u is not what vmem%u wrote (%s)",
			      d->zid, vb, what, k, d->zid, show(p, s, sizeof(s)));
	}
	free(b);
	return bad;
}

/* Z writes block 0 of a new bucket: 0, -ENOSPC or another -errno */
static int znew(struct drain *d)
{
	uint8_t *b = abuf(BLK);
	int ret;

	mkblock(b, d->zid, d->znext, 0);
	ret = dio(d->zfd, b, BLK, d->znext * bucket, true);
	free(b);
	if (!ret)
		d->znext++;
	return ret;
}

/* Z takes every free bucket, one first write each */
static int zgrab(struct drain *d)
{
	unsigned int nospc = 0;
	int ret;

	while (free_buckets() > 0) {
		ret = znew(d);
		if (ret == -ENOSPC) {
			/* another write took it meanwhile */
			d->z_nospc++;
			if (++nospc > 8)
				break;
			continue;
		}
		if (ret) {
			failf("first write to vmem%u vb%" PRIu64 ": %s", d->zid,
			      d->znext, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Verify and discard Z's oldest buckets until @want are free */
static int zrecycle(struct drain *d, uint64_t want)
{
	uint64_t fr = free_buckets(), first = d->zold;
	int ret;

	while (fr < want && d->zold < d->znext) {
		zcheck(d, d->zold, "oldest");
		d->zold++;
		fr++;
	}
	if (d->zold == first)
		return 0;
	ret = vdiscard(d->zfd, first, d->zold - first);
	if (ret)
		failf("discard of vmem%u: %s", d->zid, strerror(-ret));
	return ret;
}

static int xwrite(struct drain *d, uint64_t vb, unsigned int k)
{
	uint8_t *b = abuf(BLK);
	int ret;

	mkblock(b, d->xid, vb, k);
	ret = dio(d->xfd, b, BLK, vb * bucket + (uint64_t)k * BLK, true);
	free(b);
	if (ret && ret != -ENOSPC)
		failf("write to vmem%u vb%" PRIu64 ": %s", d->xid, vb,
		      strerror(-ret));
	return ret;
}

/* Every block of X: zeros or X's own pattern (nothing writes it now) */
static void xcheck_all(struct drain *d)
{
	uint64_t vb, end = d->b_vb + d->b_n;
	uint8_t *b = abuf(bucket);
	unsigned int k;
	char s[48];
	int ret, f;

	for (vb = 0; vb < end; vb++) {
		ret = dio(d->xfd, b, bucket, vb * bucket, false);
		if (ret) {
			failf("read of vmem%u vb%" PRIu64 ": %s", d->xid, vb,
			      strerror(-ret));
			break;
		}
		for (k = 0; k < nblk; k++) {
			const uint8_t *p = b + (size_t)k * BLK;

			if (is_zero(p, BLK) || is_own(p, d->xid, vb, k))
				continue;
			f = foreign(p, d->xid);
			if (f >= 0)
				failf("vmem%u vb%" PRIu64 " block %u holds vmem%d's data (%s)",
				      d->xid, vb, k, f, show(p, s, sizeof(s)));
			else
				failf("vmem%u vb%" PRIu64 " block %u is neither zeros nor what vmem%u wrote (%s)",
				      d->xid, vb, k, d->xid, show(p, s, sizeof(s)));
		}
	}
	free(b);
}

static int cmd_drain(unsigned int xid, unsigned int zid, unsigned int cycles,
		     unsigned int enter_us)
{
	struct drain dd = {
		.xid = xid, .zid = zid,
		.a_vb = 0, .a_n = 64, .b_vb = 64, .b_n = 64,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct drain *d = &dd;
	unsigned int c, seen = 0, bad_cycles = 0, w_nospc = 0, bad;
	unsigned int hits_before;
	uint64_t first, vb;
	pthread_t wt, rt[2];
	double t0, t_cycle = 0;
	int ret;

	d->xfd = vopen(xid);
	d->rfd = vopen(xid);
	d->zfd = vopen(zid);
	if (d->xfd < 0 || d->rfd < 0 || d->zfd < 0)
		die("cannot open vmem%u or vmem%u: %s", xid, zid,
		    strerror(errno));

	/* Fill the pool with Z, fast, then leave two buckets free */
	set_param("hook_io_enter_us", 0);
	set_param("hook_io_exit_us", 0);
	if (zgrab(d) || zrecycle(d, 2))
		die("cannot fill the pool with vmem%u", zid);
	printf("racer: drain: pool filled: vmem%u holds %" PRIu64 " buckets, %" PRIu64 " free\n",
	       zid, d->znext - d->zold, free_buckets());

	if (pthread_create(&wt, NULL, writer, d) ||
	    pthread_create(&rt[0], NULL, reader, d) ||
	    pthread_create(&rt[1], NULL, reader, d))
		die("cannot start threads");
	pthread_mutex_lock(&d->lock);
	while (!d->wtid)
		pthread_cond_wait(&d->cond, &d->lock);
	pthread_mutex_unlock(&d->lock);

	for (c = 0; c < cycles && nfailed() < 100; c++) {
		double tt[7];

		t0 = now();
		hits_before = nfailed();
		/*
		 * 0-1: map a bucket in B, then one in A. The pool is full
		 * after this, and A's bucket was the last handed out, so
		 * the allocator (next fit) looks at it last.
		 */
		set_param("hook_io_enter_us", 0);
		xwrite(d, d->b_vb, 0);
		xwrite(d, d->a_vb, 0);
		/* 2: W's write sleeps in the enter hook; A's discard drains */
		set_param("hook_io_enter_us", enter_us);
		pthread_mutex_lock(&d->lock);
		d->done = 0;
		d->go = 1;
		d->reading = 1;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		tt[0] = now();
		for (;;) {
			if (where(d->wtid) == W_IN_HOOK) {
				seen++;
				break;
			}
			if (w_done(d))
				break;
			sched_yield();
		}
		tt[1] = now();
		ret = vdiscard(d->xfd, d->a_vb, d->a_n);
		if (ret)
			failf("discard of vmem%u: %s", xid, strerror(-ret));
		tt[2] = now();
		/* 3: W did its lookup of B (it sleeps elsewhere, or is done) */
		while (!w_done(d) && where(d->wtid) != W_ELSEWHERE)
			sched_yield();
		tt[3] = now();
		/*
		 * 4-5: B's discard drains again and frees its bucket; Z's
		 * next first write gets it (free are B's bucket and A's, and
		 * the allocator looks at A's last)
		 */
		pthread_mutex_lock(&d->lock);
		d->reading = 0;
		pthread_mutex_unlock(&d->lock);
		set_param("hook_io_enter_us", 0);
		ret = vdiscard(d->xfd, d->b_vb, d->b_n);
		if (ret)
			failf("discard of vmem%u: %s", xid, strerror(-ret));
		tt[4] = now();
		first = d->znext;
		zgrab(d);
		tt[5] = now();
		/* 6-7: once W's write is done, Z's new buckets must be clean */
		pthread_mutex_lock(&d->lock);
		while (!d->done)
			pthread_cond_wait(&d->cond, &d->lock);
		ret = d->w_ret;
		pthread_mutex_unlock(&d->lock);
		tt[6] = now();
		if (trace)
			printf("racer: trace: cycle %u (ms from go): W in hook %.1f, A discarded %.1f, W past lookup %.1f, B discarded %.1f, Z grabbed %.1f, W done %.1f; W's write %.1f..%.1f\n",
			       c, (tt[1] - tt[0]) * 1e3, (tt[2] - tt[0]) * 1e3,
			       (tt[3] - tt[0]) * 1e3, (tt[4] - tt[0]) * 1e3,
			       (tt[5] - tt[0]) * 1e3, (tt[6] - tt[0]) * 1e3,
			       (d->w_t0 - tt[0]) * 1e3, (d->w_t1 - tt[0]) * 1e3);
		if (ret == -ENOSPC)
			w_nospc++;
		else if (ret)
			failf("write to vmem%u vb%" PRIu64 ": %s", xid, d->b_vb,
			      strerror(-ret));
		bad = 0;
		for (vb = first; vb < d->znext; vb++)
			bad += zcheck(d, vb, "new in this cycle");
		/* 8 */
		zrecycle(d, 2);
		if (bad || nfailed() > hits_before)
			bad_cycles++;
		t_cycle += now() - t0;
	}

	set_param("hook_io_enter_us", 0);
	pthread_mutex_lock(&d->lock);
	d->stop = 1;
	d->rstop = 1;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(wt, NULL);
	pthread_join(rt[0], NULL);
	pthread_join(rt[1], NULL);

	printf("racer: drain: %u cycles (%.0f ms each), W seen in the enter hook before the discard in %u, failed %u; W ENOSPC %u, Z ENOSPC %" PRIu64 "\n",
	       c, c ? t_cycle * 1000 / c : 0.0, seen, bad_cycles, w_nospc,
	       d->z_nospc);
	printf("racer: drain: reader: %" PRIu64 " reads of vmem%u: %" PRIu64 " zeros, %" PRIu64 " own data, %" PRIu64 " torn by a concurrent write\n",
	       d->reads, xid, d->zeros, d->own, d->torn);

	/* The end state: X zeros or its own; Z's live buckets exact */
	xcheck_all(d);
	for (vb = d->zold; vb < d->znext; vb++)
		zcheck(d, vb, "live at the end");
	printf("racer: drain: %u failures\n", failures);
	trace_file(CTL_SYS "/write_buffer_stat");
	close(d->xfd);
	close(d->rfd);
	close(d->zfd);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------ uaf */

/* Wait until no thread sleeps in a hook: every completion has left it */
static void wait_hooks_idle(void)
{
	char path[600];
	struct dirent *p, *t;
	DIR *pd, *td;
	int busy, rounds;

	for (rounds = 0; rounds < 1000; rounds++) {
		busy = 0;
		pd = opendir("/proc");
		if (!pd)
			return;
		while (!busy && (p = readdir(pd))) {
			if (p->d_name[0] < '0' || p->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
			td = opendir(path);
			if (!td)
				continue;
			while (!busy && (t = readdir(td))) {
				if (t->d_name[0] < '0' || t->d_name[0] > '9')
					continue;
				snprintf(path, sizeof(path), "/proc/%s/task/%s/stack",
					 p->d_name, t->d_name);
				busy = stack_has(path, "vmem_hook");
			}
			closedir(td);
		}
		closedir(pd);
		if (!busy)
			return;
		sched_yield();
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_uaf(unsigned int id, unsigned int iters, unsigned int exit_us)
{
	struct vmem_ctl_dev cd;
	double *dt = calloc(iters, sizeof(*dt)), t;
	unsigned int i, ok = 0, inside = 0;
	uint8_t *b = abuf(BLK);
	int ctl, fd, ret;

	ctl = open(VMEM_CTL_DEVICE, O_RDWR);
	if (ctl < 0 || !dt)
		die("cannot open " VMEM_CTL_DEVICE ": %s", strerror(errno));
	set_param("hook_io_enter_us", 0);
	set_param("hook_io_exit_us", 0);
	for (i = 0; i < iters; i++) {
		memset(&cd, 0, sizeof(cd));
		cd.id = id;
		cd.size_bytes = 16 * bucket;
		if (ioctl(ctl, VMEM_CTL_CREATE, &cd)) {
			failf("create vmem%u: %s", id, strerror(errno));
			break;
		}
		fd = vopen(id);
		if (fd < 0) {
			failf("open vmem%u: %s", id, strerror(errno));
			break;
		}
		mkblock(b, id, 0, 0);
		ret = dio(fd, b, BLK, 0, true);
		/*
		 * The pool's worker completed that first write: a discard
		 * of an unmapped bucket queued behind it returns once it has
		 * left the completion, so the exit hook below catches only
		 * the next write's completion
		 */
		if (!ret)
			ret = vdiscard(fd, 1, 1);
		set_param("hook_io_exit_us", exit_us);
		t = now();
		if (!ret) {
			/* provisioned now: this one goes through the buffer */
			mkblock(b, id, 0, 1);
			ret = dio(fd, b, BLK, BLK, true);
		}
		if (trace)
			printf("racer: trace: write through the buffer took %.1f ms\n",
			       (now() - t) * 1e3);
		t = now();
		close(fd);
		if (ret)
			failf("write to vmem%u: %s", id, strerror(-ret));
		memset(&cd, 0, sizeof(cd));
		cd.id = id;
		if (ioctl(ctl, VMEM_CTL_DELETE, &cd)) {
			failf("delete vmem%u: %s", id, strerror(errno));
			set_param("hook_io_exit_us", 0);
			break;
		}
		dt[i] = now() - t;
		set_param("hook_io_exit_us", 0);
		ok++;
		if (dt[i] * 1e6 < exit_us)
			inside++;
	}
	close(ctl);
	wait_hooks_idle();
	trace_file(CTL_SYS "/write_buffer_stat");
	if (ok) {
		qsort(dt, ok, sizeof(*dt), cmp_double);
		printf("racer: uaf: %u of %u deletes succeeded; write completion to delete done: min %.0f, median %.0f, max %.0f ms; %u within the %u ms exit hook\n",
		       ok, iters, dt[0] * 1000, dt[ok / 2] * 1000,
		       dt[ok - 1] * 1000, inside, exit_us / 1000);
	}
	free(dt);
	free(b);
	return failures || ok != iters ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	trace = getenv("RACER_TRACE");
	if (argc < 2)
		goto usage;
	bucket = sys_u64(CTL_SYS "/bucket_bytes");
	nblk = bucket / BLK;
	if (bucket % BLK || nblk < 2)
		die("bucket size %" PRIu64 " not supported", bucket);
	if (!strcmp(argv[1], "drain") && argc == 6)
		return cmd_drain(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
				 atoi(argv[5]));
	if (!strcmp(argv[1], "uaf") && argc == 5)
		return cmd_uaf(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
usage:
	fprintf(stderr, "usage: racer drain X Z CYCLES ENTER_US | racer uaf ID ITERS EXIT_US\n");
	return 2;
}
