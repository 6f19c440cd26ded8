/* Section 6 of the printed report: the tokens due back or overdue (rule
 * M11) at the report's date, as kyso token due computes them
 * (records_due_collect over the registry and the logs, the working-day
 * calendar). When they cannot be computed the report says why. */
#include "config.h"

#include "tools/cli/audit_report_pdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/calendar.h"
#include "records/deadlines.h"
#include "tools/cli/record_make.h"

static char note[600];

void audit_report_due(struct records_report_in *r, const char *registry, const char *const *logs, size_t nlogs,
                      int64_t now)
{
    struct records_due_item *items = NULL;
    size_t n = 0;
    char why[512] = "";
    r->due_known = false;
    r->due = NULL;
    r->ndue = 0;
    for (size_t i = 0; i < nlogs; i++)
        if (strcmp(logs[i], "-") == 0)
            nlogs = 0; /* standard input cannot be read again: the registry only */
    struct records_calendar *cal = cli_calendar();
    if (!cal) {
        snprintf(note, sizeof note, "%s", "lịch ngày làm việc (holidays-vn.txt) không đọc được");
        r->due_note = note;
        return;
    }
    int rc = records_due_collect(registry, logs, nlogs, r->profile, cal, now / 1000, &items, &n, why, sizeof why);
    records_calendar_free(cal);
    if (rc != 0) {
        snprintf(note, sizeof note, "%s", why);
        r->due_note = note;
        return;
    }
    r->due_known = true;
    r->due = items;
    r->ndue = n;
}

void audit_report_due_free(struct records_report_in *r)
{
    free((void *)r->due);
    r->due = NULL;
    r->ndue = 0;
}
