/* Unit tests of audit/report_period.c: the default reporting period of
 * each regulation profile (rule M9) at its edges, in Vietnam's local time
 * (UTC+07:00): halves (1/1, 1/7), calendar years, and Tiền Giang's year
 * that ends on 15/11; the last complete period and the current one. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit/report.h"
#include "policy/profile.h"

/* ms of a UTC time written as audit_time_parse takes it. */
static int64_t at(const char *t)
{
    int64_t lo, hi;
    assert_int_equal(audit_time_parse(t, &lo, &hi), 0);
    return lo;
}

static void expect_period(const char *profile, const char *now, enum audit_period_which which, const char *from,
                          const char *to, const char *name)
{
    const struct policy_profile *p = policy_profile_find(profile);
    struct audit_period per;
    char err[200], a[40], b[40];
    assert_non_null(p);
    assert_int_equal(audit_period_for_profile(p->report_period_months, p->report_due, at(now), which, &per, err,
                                              sizeof(err)),
                     0);
    audit_time_format(per.from, a, sizeof(a));
    audit_time_format(per.to, b, sizeof(b));
    print_message("%s at %s: %s .. %s \"%s\"\n", profile, now, a, b, per.name);
    assert_int_equal(per.from, at(from));
    assert_int_equal(per.to, at(to) + 999);
    assert_string_equal(per.name, name);
}

#define PREV AUDIT_PERIOD_PREVIOUS
#define CUR AUDIT_PERIOD_CURRENT

static void test_halves(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        const char *prof = i ? "ha-tinh-2020" : "an-giang-2016";
        /* 1 July 00:00 in Vietnam (30 June 17:00 UTC): H1 is complete. */
        expect_period(prof, "2026-06-30T17:00:00Z", PREV, "2025-12-31T17:00:00Z", "2026-06-30T16:59:59Z",
                      "2026-H1 (01/01/2026–30/06/2026)");
        /* One second earlier it is still 30 June in Vietnam: last complete is 2025-H2. */
        expect_period(prof, "2026-06-30T16:59:59Z", PREV, "2025-06-30T17:00:00Z", "2025-12-31T16:59:59Z",
                      "2025-H2 (01/07/2025–31/12/2025)");
        expect_period(prof, "2026-06-30T16:59:59Z", CUR, "2025-12-31T17:00:00Z", "2026-06-30T16:59:59Z",
                      "2026-H1 (01/01/2026–30/06/2026)");
        /* 1 January 00:00 in Vietnam (31 December 17:00 UTC). */
        expect_period(prof, "2026-12-31T17:00:00Z", PREV, "2026-06-30T17:00:00Z", "2026-12-31T16:59:59Z",
                      "2026-H2 (01/07/2026–31/12/2026)");
        expect_period(prof, "2026-12-31T17:00:00Z", CUR, "2026-12-31T17:00:00Z", "2027-06-30T16:59:59Z",
                      "2027-H1 (01/01/2027–30/06/2027)");
        expect_period(prof, "2026-12-31T16:59:59.999Z", PREV, "2025-12-31T17:00:00Z", "2026-06-30T16:59:59Z",
                      "2026-H1 (01/01/2026–30/06/2026)");
    }
}

static void test_years(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        const char *prof = i ? "hoa-binh-2020" : "nd68-2024";
        expect_period(prof, "2027-01-10T03:00:00Z", PREV, "2025-12-31T17:00:00Z", "2026-12-31T16:59:59Z",
                      "2026 (01/01/2026–31/12/2026)");
        /* 1 January 00:00 in Vietnam: the year before is complete. */
        expect_period(prof, "2026-12-31T17:00:00Z", PREV, "2025-12-31T17:00:00Z", "2026-12-31T16:59:59Z",
                      "2026 (01/01/2026–31/12/2026)");
        /* 31 December 23:59:59 in Vietnam: it is not yet. */
        expect_period(prof, "2026-12-31T16:59:59Z", PREV, "2024-12-31T17:00:00Z", "2025-12-31T16:59:59Z",
                      "2025 (01/01/2025–31/12/2025)");
        expect_period(prof, "2026-12-31T16:59:59Z", CUR, "2025-12-31T17:00:00Z", "2026-12-31T16:59:59Z",
                      "2026 (01/01/2026–31/12/2026)");
    }
    /* A leap year's 29/02 is inside. */
    expect_period("nd68-2024", "2029-03-01T00:00:00Z", PREV, "2027-12-31T17:00:00Z", "2028-12-31T16:59:59Z",
                  "2028 (01/01/2028–31/12/2028)");
}

static void test_tien_giang(void **state)
{
    (void)state;
    const char *tg = "tien-giang-2015";
    /* 15/11/2026 in Vietnam (until 15/11 16:59:59 UTC): year 2026 still runs. */
    expect_period(tg, "2026-11-15T16:59:59Z", CUR, "2025-11-15T17:00:00Z", "2026-11-15T16:59:59Z",
                  "2026 (16/11/2025–15/11/2026)");
    expect_period(tg, "2026-11-15T16:59:59Z", PREV, "2024-11-15T17:00:00Z", "2025-11-15T16:59:59Z",
                  "2025 (16/11/2024–15/11/2025)");
    /* 16/11/2026 00:00 in Vietnam: year 2026 is complete, 2027 begins. */
    expect_period(tg, "2026-11-15T17:00:00Z", PREV, "2025-11-15T17:00:00Z", "2026-11-15T16:59:59Z",
                  "2026 (16/11/2025–15/11/2026)");
    expect_period(tg, "2026-11-15T17:00:00Z", CUR, "2026-11-15T17:00:00Z", "2027-11-15T16:59:59Z",
                  "2027 (16/11/2026–15/11/2027)");
    /* New Year's day is in the middle of Tiền Giang's year. */
    expect_period(tg, "2027-01-01T00:00:00Z", PREV, "2025-11-15T17:00:00Z", "2026-11-15T16:59:59Z",
                  "2026 (16/11/2025–15/11/2026)");
}

static void test_bad(void **state)
{
    (void)state;
    struct audit_period p;
    char err[200];
    assert_int_equal(audit_period_for_profile(3, NULL, at("2026-01-01"), PREV, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not 6 or 12"));
    assert_int_equal(audit_period_for_profile(12, "31/02", at("2026-01-01"), PREV, &p, err, sizeof(err)), -1);
    assert_int_equal(audit_period_for_profile(12, "1511", at("2026-01-01"), PREV, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "DD/MM"));
    /* The whole-year test that decides the next year's plan. */
    assert_int_equal(audit_period_parse("2026", &p, err, sizeof(err)), 0);
    assert_true(audit_period_is_year(&p));
    assert_int_equal(audit_period_parse("2026-H2", &p, err, sizeof(err)), 0);
    assert_false(audit_period_is_year(&p));
    assert_int_equal(audit_period_for_profile(12, "15/11", at("2026-12-01"), PREV, &p, err, sizeof(err)), 0);
    assert_true(audit_period_is_year(&p));
    char d[16];
    audit_vn_date(at("2026-06-30T17:00:00Z"), d, sizeof(d));
    assert_string_equal(d, "01/07/2026");
    audit_vn_date(at("2026-06-30T16:59:59Z"), d, sizeof(d));
    assert_string_equal(d, "30/06/2026");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_halves),
        cmocka_unit_test(test_years),
        cmocka_unit_test(test_tien_giang),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
