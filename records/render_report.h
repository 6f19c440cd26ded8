/* The periodic report of rule M9 as an administrative document: an A4 PDF
 * in Vietnamese laid out as Nghị định 30/2020 Phụ lục I asks (FORMS.md
 * "Printing"), with the same page layout as the records (render.c). Its
 * numbers are the audit report's own aggregates (audit/report.h), so the
 * paper says what `kyso audit report --format json` says of the same
 * logs. Every string from a log or the registry is printed as text, never
 * markup, bounded in length, its invisible characters shown. */
#ifndef KYSO_RECORDS_RENDER_REPORT_H
#define KYSO_RECORDS_RENDER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "audit/report.h"
#include "policy/profile.h"
#include "records/deadlines.h"

/* What verifying one log (audit_verify_files) said. */
enum records_log_check {
    RECORDS_LOG_VERIFIED,   /* its chain and MACs hold */
    RECORDS_LOG_BROKEN,     /* it does not verify: note says where and why */
    RECORDS_LOG_UNCHECKED,  /* not verified: note says why (no auditor's key, …) */
};

struct records_report_log {
    const char *name;              /* as outputs name it (audit_log_name) */
    enum records_log_check check;
    uint64_t records;              /* VERIFIED: its records that verify */
    char note[400];
};

/* Most registry records of the period the document lists per kind; the
 * rest are counted ("… và N mục khác"). */
#define RECORDS_REPORT_LINES 20
/* Rows per usage table ("… và N mục khác"). */
#define RECORDS_REPORT_ROWS 15

struct records_report_in {
    const struct policy_profile *profile;
    const char *agency_name, *agency_parent, *place;
    const char *number;                /* what follows "Số:" */
    int64_t date;                      /* the document's date, ms since 1970 */
    const struct audit_period *period;
    const struct audit_report *rep;
    const struct audit_scan_stats *scan;
    const struct records_report_log *logs;
    size_t nlogs;
    const char *checkpoint;            /* "SEQ:HASH" when every log verified, else NULL */
    /* The registry: its directory (NULL: not read), what it holds. */
    const char *registry_dir;
    size_t registry_total;             /* records listed */
    size_t registry_damaged;           /* records that do not load */
    const char *registry_problem;      /* the first of those ("ID: why"), or NULL */
    json_object *const *records;       /* the loaded records made in the period, in id order */
    size_t nrecords;
    /* Tokens due back (records_due_collect): due_known false when that
     * could not be worked out, due_note saying why. */
    bool due_known;
    const char *due_note;
    const struct records_due_item *due;
    size_t ndue;
};

/* Writes the report as a PDF at path atomically (whole or absent). 0, or
 * -1 with one line in why. */
int records_render_report_pdf(const struct records_report_in *in, const char *path, char *why, size_t whylen);

#endif
