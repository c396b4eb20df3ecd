/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny test harness for the userspace tests: each test is a function;
 * EXPECT() records a failure (with file and line on stderr) and goes on;
 * RUN() prints exactly "PASS: <name>" or "FAIL: <name>" per test.
 */
#ifndef _VMEM_TEST_HARNESS_H
#define _VMEM_TEST_HARNESS_H

#include <stdio.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

static unsigned int test_errors;	/* failed checks in the running test */
static unsigned int tests_failed;

#define EXPECT(cond)							\
	do {								\
		if (!(cond)) {						\
			if (test_errors < 10)				\
				fprintf(stderr, "%s:%d: expected %s\n",	\
					__FILE__, __LINE__, #cond);	\
			test_errors++;					\
		}							\
	} while (0)

static inline void run_test(const char *name, void (*fn)(void))
{
	test_errors = 0;
	fn();
	printf("%s: %s\n", test_errors ? "FAIL" : "PASS", name);
	fflush(stdout);
	if (test_errors)
		tests_failed++;
}

#define RUN(fn) run_test(#fn, fn)

#endif /* _VMEM_TEST_HARNESS_H */
