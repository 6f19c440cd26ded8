/* Section 6 of the printed report: the tokens due back or overdue (rule
 * M11). The due dates are records_due_collect's (records/deadlines.h);
 * this build does not have it yet, so the report says so and lists only
 * the registry's return handovers of the period. */
#include "config.h"

#include "tools/cli/audit_report_pdf.h"

void audit_report_due(struct records_report_in *r, const char *const *logs, size_t nlogs, int64_t now)
{
    (void)logs;
    (void)nlogs;
    (void)now;
    r->due_known = false;
    r->due_note = "phiên bản kyso này chưa tính hạn trả lại thiết bị; dưới đây chỉ là các biên bản trả lại "
                  "thiết bị đã đăng ký trong kỳ";
    r->due = NULL;
    r->ndue = 0;
}

void audit_report_due_free(struct records_report_in *r)
{
    r->due = NULL;
    r->ndue = 0;
}
