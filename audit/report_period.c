/* The reporting periods of the regulation profiles (rule M9, see
 * report.h): halves and years of Vietnam's local calendar (UTC+07:00), a
 * year that ends on the profile's due day (Tiền Giang: 15/11), the last
 * complete one or the current one. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit/report_int.h"

#define DAY_MS 86400000LL

/* The first ms of the Vietnam-local day y-m-d. */
static int64_t vn_day_start(int64_t y, int m, int d)
{
    return report_days_from_civil(y, m, d) * DAY_MS - AUDIT_VN_OFFSET_MS;
}

static void vn_civil(int64_t ms, int64_t *y, int *m, int *d)
{
    int64_t local = ms + AUDIT_VN_OFFSET_MS, days = local / DAY_MS;
    if (local % DAY_MS < 0)
        days--;
    report_civil_from_days(days, y, m, d);
}

void audit_vn_date(int64_t ms, char *out, size_t outlen)
{
    int64_t y;
    int m, d;
    vn_civil(ms, &y, &m, &d);
    snprintf(out, outlen, "%02d/%02d/%04" PRId64, d, m, y);
}

bool audit_period_is_year(const struct audit_period *p)
{
    /* 365 days at least (a leap year has 366; a year of local days is 365 or 366 days long). */
    return p->to >= p->from && (p->to - p->from + 1) >= 365 * DAY_MS;
}

/* "15/11" → 15, 11 (a day that every year has: no 29/02). */
static int parse_due(const char *due, int *day, int *month)
{
    if (strlen(due) != 5 || due[2] != '/' || due[0] < '0' || due[0] > '9' || due[1] < '0' || due[1] > '9' ||
        due[3] < '0' || due[3] > '9' || due[4] < '0' || due[4] > '9')
        return -1;
    *day = (due[0] - '0') * 10 + (due[1] - '0');
    *month = (due[3] - '0') * 10 + (due[4] - '0');
    if (*month < 1 || *month > 12 || *day < 1 || *day > report_month_days(2001, *month))
        return -1;
    return 0;
}

static void name_it(struct audit_period *p, const char *label)
{
    char a[16], b[16];
    audit_vn_date(p->from, a, sizeof(a));
    audit_vn_date(p->to, b, sizeof(b));
    snprintf(p->name, sizeof(p->name), "%s (%s–%s)", label, a, b);
}

int audit_period_for_profile(int months, const char *due, int64_t now, enum audit_period_which which,
                             struct audit_period *p, char *err, size_t errlen)
{
    int64_t y;
    int m, d, due_day = 0, due_month = 0;
    char label[16];

    memset(p, 0, sizeof(*p));
    if (months != 6 && months != 12) {
        snprintf(err, errlen, "the profile's report period of %d months is not 6 or 12", months);
        return -1;
    }
    if (due && months == 12 && parse_due(due, &due_day, &due_month) != 0) {
        snprintf(err, errlen, "the profile's report day \"%.16s\" is not DD/MM", due);
        return -1;
    }
    vn_civil(now, &y, &m, &d);
    if (y < 1971 || y > 9998) {
        snprintf(err, errlen, "the time given is out of range for a report period");
        return -1;
    }
    if (months == 6) {
        int half = m <= 6 ? 1 : 2;
        if (which == AUDIT_PERIOD_PREVIOUS) {
            half = half == 1 ? 2 : 1;
            if (half == 2)
                y--;
        }
        int first = half == 1 ? 1 : 7;
        p->from = vn_day_start(y, first, 1);
        p->to = vn_day_start(y, first + 5, report_month_days(y, first + 5)) + DAY_MS - 1;
        snprintf(label, sizeof(label), "%04" PRId64 "-H%d", y, half);
    } else if (due_month) {
        /* Year Y ends with the due day of Y: now after it is in year Y+1. */
        int64_t end_this = vn_day_start(y, due_month, due_day) + DAY_MS - 1;
        int64_t year = now > end_this ? y + 1 : y;
        if (which == AUDIT_PERIOD_PREVIOUS)
            year--;
        p->to = vn_day_start(year, due_month, due_day) + DAY_MS - 1;
        p->from = vn_day_start(year - 1, due_month, due_day) + DAY_MS;
        snprintf(label, sizeof(label), "%04" PRId64, year);
    } else {
        if (which == AUDIT_PERIOD_PREVIOUS)
            y--;
        p->from = vn_day_start(y, 1, 1);
        p->to = vn_day_start(y, 12, 31) + DAY_MS - 1;
        snprintf(label, sizeof(label), "%04" PRId64, y);
    }
    name_it(p, label);
    return 0;
}
