// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of vmemctl's size parsing and printing (tools/size.c).
 */
#include <string.h>
#include "../../tools/vmemctl.h"
#include "harness.h"

const char *vctl_cmd = "size_test";

static bool size_is(const char *s, u64 want)
{
	u64 v = 0x5555;

	if (vctl_parse_size(s, &v) && v == want)
		return true;
	fprintf(stderr, "parse '%s': got %llu, want %llu\n", s,
		(unsigned long long)v, (unsigned long long)want);
	return false;
}

static bool size_bad(const char *s)
{
	u64 v;

	if (!vctl_parse_size(s, &v))
		return true;
	fprintf(stderr, "parse '%s': accepted as %llu\n", s,
		(unsigned long long)v);
	return false;
}

static void size_parse(void)
{
	EXPECT(size_is("0", 0));
	EXPECT(size_is("4096", 4096));
	EXPECT(size_is("64K", 65536));
	EXPECT(size_is("64k", 65536));
	EXPECT(size_is("64KiB", 65536));
	EXPECT(size_is("64KB", 65536));
	EXPECT(size_is("1M", 1ULL << 20));
	EXPECT(size_is("10G", 10ULL << 30));
	EXPECT(size_is("2t", 2ULL << 40));
	EXPECT(size_is("1P", 1ULL << 50));
	EXPECT(size_is("007", 7));
	EXPECT(size_is("18446744073709551615", ~0ULL));
	EXPECT(size_is("16777215T", 16777215ULL << 40));
	EXPECT(size_bad(""));
	EXPECT(size_bad("K"));
	EXPECT(size_bad("-1"));
	EXPECT(size_bad("+1"));
	EXPECT(size_bad(" 1"));
	EXPECT(size_bad("1 "));
	EXPECT(size_bad("1.5G"));
	EXPECT(size_bad("1X"));
	EXPECT(size_bad("1KiBx"));
	EXPECT(size_bad("1iB"));
	EXPECT(size_bad("0x10"));
	EXPECT(size_bad("18446744073709551616"));
	EXPECT(size_bad("99999999999999999999999"));
	EXPECT(size_bad("16777216T"));
	EXPECT(size_bad("16384P"));
}

static void size_parse_id(void)
{
	u32 id;

	EXPECT(vctl_parse_id("0", &id) && id == 0);
	EXPECT(vctl_parse_id("254", &id) && id == 254);
	EXPECT(!vctl_parse_id("255", &id));
	EXPECT(!vctl_parse_id("-1", &id));
	EXPECT(!vctl_parse_id("", &id));
	EXPECT(!vctl_parse_id("1a", &id));
	EXPECT(!vctl_parse_id("4294967296", &id));
	EXPECT(vctl_parse_u32("4294967295", &id) && id == 0xffffffff);
}

static bool human_is(u64 bytes, const char *want)
{
	char buf[VCTL_HUMAN_LEN];

	vctl_human(buf, sizeof(buf), bytes);
	if (!strcmp(buf, want))
		return true;
	fprintf(stderr, "human %llu: got '%s', want '%s'\n",
		(unsigned long long)bytes, buf, want);
	return false;
}

static void size_human(void)
{
	char buf[VCTL_HUMAN_LEN];

	EXPECT(human_is(0, "0B"));
	EXPECT(human_is(512, "512B"));
	EXPECT(human_is(1023, "1023B"));
	EXPECT(human_is(1024, "1K"));
	EXPECT(human_is(1536, "1.5K"));
	EXPECT(human_is(65536, "64K"));
	EXPECT(human_is(1 << 20, "1M"));
	EXPECT(human_is(1048535, "1M"));	/* 1023.96K rounds up */
	EXPECT(human_is(5ULL << 29, "2.5G"));
	EXPECT(human_is(10ULL << 30, "10G"));
	EXPECT(human_is(10736369664ULL, "10G"));
	EXPECT(human_is((1ULL << 40) + (1ULL << 39) / 5, "1.1T"));
	EXPECT(human_is(~0ULL, "16E"));
	EXPECT(!strcmp(vctl_size_str(buf, sizeof(buf), 1536, true), "1536"));
	EXPECT(!strcmp(vctl_size_str(buf, sizeof(buf), 1536, false), "1.5K"));
}

static void size_uuid(void)
{
	static const u8 u[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				  13, 14, 0xff };
	char buf[VCTL_UUID_LEN], small[10];

	vctl_uuid_str(buf, sizeof(buf), u);
	EXPECT(!strcmp(buf, "00010203-0405-0607-0809-0a0b0c0d0eff"));
	vctl_uuid_str(small, sizeof(small), u);
	EXPECT(strlen(small) < sizeof(small));
}

int main(void)
{
	RUN(size_parse);
	RUN(size_parse_id);
	RUN(size_human);
	RUN(size_uuid);
	return tests_failed ? 1 : 0;
}
