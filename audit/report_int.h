/* audit/: what the files of the report and export engine (report_*.c)
 * share; the tools use report.h only. */
#ifndef KYSO_AUDIT_REPORT_INT_H
#define KYSO_AUDIT_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/report.h"

/* report_text.c */
/* Columns that clean text takes on a terminal. */
size_t report_text_width(const char *s);
/* s made safe to show on a terminal ('?' for what is not). */
void report_clean_text(const char *s, char *out, size_t outlen);
/* The value of a hex digit, or -1. */
int report_hexdigit(char c);

#endif
