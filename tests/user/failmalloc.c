// SPDX-License-Identifier: GPL-2.0
/*
 * failmalloc.so: an LD_PRELOAD that makes malloc() of exactly
 * FAILMALLOC_SIZE bytes fail with ENOMEM, so a test can take vmemctl
 * down the path of one allocation that runs out of memory (a huge pool's
 * scratch) without a huge pool. Other sizes go to the real malloc().
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

void *malloc(size_t size)
{
	static void *(*real)(size_t);
	const char *s;

	if (!real)
		real = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	/* Read on each call: the first ones come before main() has an env */
	s = getenv("FAILMALLOC_SIZE");
	if (s && size == strtoull(s, NULL, 0)) {
		errno = ENOMEM;
		return NULL;
	}
	return real(size);
}
