// SPDX-License-Identifier: GPL-2.0
/*
 * vmemctl: JSON output. Numbers are printed directly by the commands;
 * strings (paths, device names, messages) go through here.
 */
#include "vmemctl.h"

/* Print @s as a quoted JSON string, escaping what JSON requires */
void vctl_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
