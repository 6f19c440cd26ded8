/* kyso audit report --format pdf (tools/cli/audit_report_pdf.c): the
 * printed periodic report of rule M9 from the aggregates audit_cmd_report
 * made, the verification of the logs, the registry and the tokens due
 * back. */
#ifndef KYSO_TOOLS_CLI_AUDIT_REPORT_PDF_H
#define KYSO_TOOLS_CLI_AUDIT_REPORT_PDF_H

#include <stddef.h>
#include <stdint.h>

#include "audit/report.h"
#include "policy/profile.h"
#include "records/render_report.h"

struct audit_pdf_options {
    const char *key_file;    /* the auditor's key (--key), or NULL: not verified */
    const char *checkpoint;  /* --checkpoint SEQ:HASH, or NULL */
    const char *registry;    /* --registry DIR, or NULL: root's */
    const char *number;      /* --number TEXT, or NULL */
    const char *place;       /* --place PLACE, or NULL: [agency] province */
    int64_t now;             /* the document's date (--at), ms */
};

struct audit_pdf_input {
    const struct audit_report *rep;
    const struct audit_period *period;
    const struct audit_scan_stats *scan;
    const char *const *logs;
    size_t nlogs;
    const struct policy_profile *profile;
    const char *agency_name, *agency_parent, *province;
    const char *out_path;
};

/* Writes the PDF at in->out_path (whole or not at all). 0; 1 when it was
 * written but a log does not verify (err says which); or -1 with one line
 * in err (nothing written). */
int audit_report_pdf(const struct audit_pdf_input *in, const struct audit_pdf_options *o, char *err, size_t errlen);

/* tools/cli/audit_report_due.c: fills r's tokens due back (due_known,
 * due_note, due, ndue) at now (ms) from the registry (NULL: none) and the
 * logs; frees them. */
void audit_report_due(struct records_report_in *r, const char *registry, const char *const *logs, size_t nlogs,
                      int64_t now);
void audit_report_due_free(struct records_report_in *r);

#endif
