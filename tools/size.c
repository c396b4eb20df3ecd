// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: parsing sizes and numbers from the command line, printing sizes
 * for humans (in the style of zramctl: "1.5G", "256M", "0B") and uuids.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "vmemctl.h"

/* Parse decimal digits only; false on empty input, garbage or overflow */
static bool vctl_parse_u64(const char *s, const char **end, u64 *val)
{
	u64 v = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s)) {
		unsigned int d = *s - '0';

		if (v > (~0ULL - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	*end = s;
	*val = v;
	return true;
}

/**
 * vctl_parse_size() - parse "4096", "64K", "1M", "10GiB", "2t"
 * @s: the text
 * @bytes: result
 *
 * Suffixes are binary (K = 1024) and may be followed by "iB" or "B".
 */
bool vctl_parse_size(const char *s, u64 *bytes)
{
	static const char units[] = "KMGTP";
	const char *end, *u;
	unsigned int shift = 0;
	u64 v;

	if (!vctl_parse_u64(s, &end, &v))
		return false;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return false;
		shift = 10 * (unsigned int)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return false;
	}
	if (shift && v > (~0ULL >> shift))
		return false;
	*bytes = v << shift;
	return true;
}

bool vctl_parse_u32(const char *s, u32 *val)
{
	const char *end;
	u64 v;

	if (!vctl_parse_u64(s, &end, &v) || *end || v > 0xffffffffULL)
		return false;
	*val = v;
	return true;
}

/* A device id, 0..254 */
bool vctl_parse_id(const char *s, u32 *id)
{
	return vctl_parse_u32(s, id) && *id < VMEM_MAX_DEVICES;
}

/**
 * vctl_human() - a size for humans, like zramctl: "0B", "512B", "64K",
 *	"1.5G"; one decimal, rounded, dropped when zero
 * @buf: output
 * @len: size of @buf, VCTL_HUMAN_LEN is enough
 * @bytes: the size
 */
void vctl_human(char *buf, size_t len, u64 bytes)
{
	static const char units[] = "BKMGTPE";
	unsigned int exp = 0;
	u64 whole, frac, tenth;

	while (exp < 60 && bytes >= (1ULL << (exp + 10)))
		exp += 10;
	if (!exp) {
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
		return;
	}
	whole = bytes >> exp;
	frac = (bytes & ((1ULL << exp) - 1)) >> (exp - 10);
	tenth = (frac * 10 + 512) / 1024;
	if (tenth == 10) {
		whole++;
		tenth = 0;
	}
	if (whole == 1024 && exp < 60) {
		whole = 1;
		exp += 10;
	}
	if (tenth)
		snprintf(buf, len, "%llu.%llu%c", (unsigned long long)whole,
			 (unsigned long long)tenth, units[exp / 10]);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)whole,
			 units[exp / 10]);
}

/* Human or raw, as the user asked; returns @buf */
const char *vctl_size_str(char *buf, size_t len, u64 bytes, bool raw)
{
	if (raw)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		vctl_human(buf, len, bytes);
	return buf;
}

/* The usual 8-4-4-4-12 form; @len at least VCTL_UUID_LEN */
void vctl_uuid_str(char *buf, size_t len, const u8 *uuid)
{
	size_t i, pos = 0;

	for (i = 0; i < 16 && pos + 3 <= len; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[pos++] = '-';
		pos += snprintf(buf + pos, len - pos, "%02x", uuid[i]);
	}
	buf[pos < len ? pos : len - 1] = 0;
}
