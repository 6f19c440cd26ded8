/* audit/: what the files of the report and export engine (report_*.c)
 * share; the tools use report.h only. */
#ifndef KYSO_AUDIT_REPORT_INT_H
#define KYSO_AUDIT_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/report.h"

/* report_text.c */
/* The calendar (proleptic Gregorian): days since 1970-01-01 of a date, and back. */
int64_t report_days_from_civil(int64_t y, int m, int d);
void report_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
int report_month_days(int64_t y, int m);
/* Columns that clean text takes on a terminal. */
size_t report_text_width(const char *s);
/* s made safe to show on a terminal ('?' for what is not). */
void report_clean_text(const char *s, char *out, size_t outlen);
/* The value of a hex digit, or -1. */
int report_hexdigit(char c);

/* report_aggregate.c: the aggregates, which report_output.c writes. */
struct agg_entry {
    struct agg_entry *next;
    uint64_t hash;
    const char *k[3];     /* NULL: the field was absent */
    const char *extra[2]; /* descriptive, from the first record seen */
    struct audit_report_counts c;
};

struct agg_table {
    struct agg_entry **b;
    size_t nb, n, max, bytes;
    bool has_other;
    struct audit_report_counts other;
};

struct audit_report {
    struct audit_period period;
    struct audit_report_totals t;
    struct agg_table tab[AUDIT_T_COUNT];
};

/* The number of key fields of a table's rows (1..3). */
int report_table_keys(enum audit_report_table t);

#endif
