/* records/deadlines: rules M10 (renewal) and M11 (return) for the five
 * profiles, with expected values worked out by hand below (never by the
 * code under test), on the Vietnamese working-day calendar with Tết 2027
 * (Friday 05/02 to Thursday 11/02 off); then the registry's facts and
 * records_due_collect over a registry and an audit log. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/profile.h"
#include "records/calendar.h"
#include "records/deadlines.h"
#include "records/record.h"
#include "records/registry.h"

static int64_t T(const char *s)
{
    int64_t t;
    assert_int_equal(records_time_parse(s, &t), 0);
    return t;
}

static int64_t D(const char *s)
{
    int64_t d;
    assert_int_equal(records_date_parse(s, &d), 0);
    return d;
}

static const char *date(int64_t day, char out[11])
{
    if (day < 0)
        return "-1";
    records_date_format(day, out);
    return out;
}

static struct records_calendar *calendar(void)
{
    char why[256];
    struct records_calendar *c = records_calendar_load(KYSO_HOLIDAYS, NULL, why, sizeof(why));
    assert_non_null(c);
    return c;
}

/* "Now" is Monday 15/02/2027, 09:00 in Hà Nội (02:00 UTC), the first
 * Monday after Tết. The certificates:
 *   d10: not_after 2027-02-25T21:00+07:00, 10 days 12 hours later: 10 days left
 *   d45: not_after 2027-04-01T21:00+07:00 (15/02 + 13 = 28/02, + 31 = 31/03, + 1): 45 days left
 *   d90: not_after 2027-05-16T21:00+07:00 (+13 = 28/02, +31 = 31/03, +30 = 30/04, +16): 90 days left
 *   exp: not_after 2027-02-03T23:59:59+07:00 (Wednesday): ended on 03/02;
 *        11 days 9 h 0 min 1 s before now, so days_left = floor(-11.375) = -12.
 *        Working days after 03/02: Thu 04/02 (1), Fri 05/02 to Thu 11/02 Tết
 *        (and the weekend), Fri 12/02 (2), Mon 15/02 (3): it expired 3 working
 *        days ago; 5 working days: Tue 16/02 (4), Wed 17/02 (5) -> due 2027-02-17.
 * Last renewal days (the local day of not_after minus the profile's days):
 *   30 days: d10 25/02 - 30 = 26/01 (26/01 + 5 = 31/01, + 25 = 25/02)
 *            d45 01/04 - 30 = 02/03 (02/03 + 29 = 31/03, + 1)
 *            d90 16/05 - 30 = 16/04 (16/04 + 14 = 30/04, + 16)
 *            exp 03/02 - 30 = 04/01
 *   60 days: d10 26/01 - 30 = 27/12/2026 (+4 = 31/12, +31 = 31/01, +25 = 25/02: 60)
 *            d45 02/03 - 30 = 31/01 (31/01 + 28 = 28/02, + 2 = 02/03)
 *            d90 16/04 - 30 = 17/03 (17/03 + 14 = 31/03, + 16 = 16/04)
 *            exp 04/01 - 30 = 05/12/2026 */
#define NOW "2027-02-15T09:00:00+07:00"
static const char *const not_after[] = { "2027-02-25T21:00:00+07:00", "2027-04-01T21:00:00+07:00",
                                         "2027-05-16T21:00:00+07:00", "2027-02-03T23:59:59+07:00" };
static const int64_t days_left[] = { 10, 45, 90, -12 };

struct expect {
    const char *profile;
    enum records_renewal renewal[4];
    const char *last_day[4];
    const char *exp_return; /* the expired certificate's return deadline */
};

#define E RECORDS_RENEWAL_ELIGIBLE
#define L RECORDS_RENEWAL_TOO_LATE
#define P RECORDS_RENEWAL_PER_LAW
#define X RECORDS_RENEWAL_ENDED
static const struct expect expected[] = {
    /* once, >= 30 days, 5 working days */
    { "nd68-2024", { L, E, E, X }, { "2027-01-26", "2027-03-02", "2027-04-16", "2027-01-04" }, "2027-02-17" },
    /* once, >= 60 days, 5 working days */
    { "an-giang-2016", { L, L, E, X }, { "2026-12-27", "2027-01-31", "2027-03-17", "2026-12-05" }, "2027-02-17" },
    /* no number of days nor working days: per law */
    { "tien-giang-2015", { P, P, P, X }, { "-1", "-1", "-1", "-1" }, "-1" },
    { "hoa-binh-2020", { P, P, P, X }, { "-1", "-1", "-1", "-1" }, "-1" },
    { "ha-tinh-2020", { P, P, P, X }, { "-1", "-1", "-1", "-1" }, "-1" },
};

static struct records_cert_facts facts(const char *na, int renewals, int64_t revoked, int64_t returned)
{
    struct records_cert_facts f = { .not_after = T(na), .renewals_before = renewals, .revoked_day = revoked,
                                    .returned_day = returned };
    return f;
}

static void test_profiles(void **state)
{
    (void)state;
    struct records_calendar *cal = calendar();
    char out[11];
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct expect *x = &expected[i];
        const struct policy_profile *p = policy_profile_find(x->profile);
        assert_non_null(p);
        for (size_t c = 0; c < 4; c++) {
            struct records_cert_facts f = facts(not_after[c], 0, -1, -1);
            struct records_due d;
            records_due_compute(p, cal, &f, T(NOW), &d);
            print_message("%s, certificate %zu: %s\n", x->profile, c, d.renewal_why);
            assert_int_equal(d.days_left, days_left[c]);
            assert_int_equal(d.renewal, x->renewal[c]);
            assert_string_equal(date(d.renewal_last_day, out), x->last_day[c]);
            assert_non_null(d.renewal_why[0] ? d.renewal_why : NULL);
            if (c < 3) {
                assert_false(d.ended);
                assert_int_equal(d.ended_day, -1);
                assert_int_equal(d.return_deadline, -1);
                assert_false(d.overdue);
            } else {
                assert_true(d.ended);
                assert_string_equal(date(d.ended_day, out), "2027-02-03");
                assert_string_equal(date(d.return_deadline, out), x->exp_return);
                assert_false(d.overdue); /* 15/02: within the deadline (or none) */
                assert_false(d.returned);
            }
        }
    }
    records_calendar_free(cal);
}

static void test_once_and_overdue(void **state)
{
    (void)state;
    struct records_calendar *cal = calendar();
    const struct policy_profile *nd68 = policy_profile_find("nd68-2024"), *ag = policy_profile_find("an-giang-2016"),
                                *tg = policy_profile_find("tien-giang-2015"),
                                *hb = policy_profile_find("hoa-binh-2020"), *ht = policy_profile_find("ha-tinh-2020");
    struct records_due d;
    char out[11];
    /* renewed once already: refused where the profile allows one renewal
     * (every profile but Tiền Giang's, which names no such limit) */
    struct records_cert_facts f = facts(not_after[2], 1, -1, -1);
    records_due_compute(nd68, cal, &f, T(NOW), &d);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_ALREADY);
    assert_non_null(strstr(d.renewal_why, "renewed once already"));
    records_due_compute(ag, cal, &f, T(NOW), &d);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_ALREADY);
    records_due_compute(hb, cal, &f, T(NOW), &d);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_ALREADY);
    records_due_compute(ht, cal, &f, T(NOW), &d);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_ALREADY);
    records_due_compute(tg, cal, &f, T(NOW), &d);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_PER_LAW);
    assert_non_null(strstr(d.renewal_why, "Thông tư 05/2010/TT-BNV"));

    /* the expired one: the deadline 17/02 is still in time on 17/02 at
     * 23:59, overdue from Thursday 18/02 */
    f = facts(not_after[3], 0, -1, -1);
    records_due_compute(nd68, cal, &f, T("2027-02-17T23:59:00+07:00"), &d);
    assert_false(d.overdue);
    records_due_compute(nd68, cal, &f, T("2027-02-18T09:00:00+07:00"), &d);
    assert_true(d.overdue);
    assert_string_equal(date(d.return_deadline, out), "2027-02-17");
    records_due_compute(ag, cal, &f, T("2027-02-18T09:00:00+07:00"), &d);
    assert_true(d.overdue);
    /* per law: no deadline, never overdue by kyso's count */
    records_due_compute(ht, cal, &f, T("2027-06-01T09:00:00+07:00"), &d);
    assert_false(d.overdue);
    assert_int_equal(d.return_deadline, -1);
    /* handed back on 16/02: not overdue */
    f = facts(not_after[3], 0, -1, D("2027-02-16"));
    records_due_compute(nd68, cal, &f, T("2027-02-18T09:00:00+07:00"), &d);
    assert_true(d.returned);
    assert_false(d.overdue);

    /* d90 revoked on Wednesday 10/02 (Tết): ended that day; working days
     * after it: Thu 11/02 off, Fri 12/02 (1), Mon 15 (2), Tue 16 (3),
     * Wed 17 (4), Thu 18 (5) -> 2027-02-18 */
    f = facts(not_after[2], 0, D("2027-02-10"), -1);
    records_due_compute(nd68, cal, &f, T(NOW), &d);
    assert_true(d.ended);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_ENDED);
    assert_non_null(strstr(d.renewal_why, "revocation"));
    assert_string_equal(date(d.ended_day, out), "2027-02-10");
    assert_string_equal(date(d.return_deadline, out), "2027-02-18");
    assert_int_equal(d.days_left, 90);
    records_due_compute(nd68, cal, &f, T("2027-02-19T08:00:00+07:00"), &d);
    assert_true(d.overdue);
    /* a revocation registered after the time asked about does not count yet */
    records_due_compute(nd68, cal, &f, T("2027-02-09T08:00:00+07:00"), &d);
    assert_false(d.ended);
    /* without a calendar (the module): no return deadline */
    f = facts(not_after[3], 0, -1, -1);
    records_due_compute(nd68, NULL, &f, T("2027-03-01T09:00:00+07:00"), &d);
    assert_true(d.ended);
    assert_int_equal(d.return_deadline, -1);
    assert_false(d.overdue);

    /* the last renewal day holds until the time of day of not_after:
     * d45 (21:00 on 01/04) on 02/03 at 20:59 has 30 days 0 h 1 min left,
     * at 21:01 29 days 23 h 59 min */
    f = facts(not_after[1], 0, -1, -1);
    records_due_compute(nd68, cal, &f, T("2027-03-02T20:59:00+07:00"), &d);
    assert_int_equal(d.days_left, 30);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_ELIGIBLE);
    records_due_compute(nd68, cal, &f, T("2027-03-02T21:01:00+07:00"), &d);
    assert_int_equal(d.days_left, 29);
    assert_int_equal(d.renewal, RECORDS_RENEWAL_TOO_LATE);
    records_calendar_free(cal);
}

static void test_local_day(void **state)
{
    (void)state;
    /* 16:59:59 UTC is 23:59:59 in Hà Nội, 17:00 UTC the next day there */
    assert_int_equal(records_local_day(T("2027-02-03T16:59:59Z")), D("2027-02-03"));
    assert_int_equal(records_local_day(T("2027-02-03T17:00:00Z")), D("2027-02-04"));
    assert_int_equal(records_local_day(-1), D("1970-01-01")); /* 06:59:59 local */
    assert_int_equal(records_local_day(-7 * 3600 - 1), -1);
    assert_string_equal(records_renewal_name(RECORDS_RENEWAL_TOO_LATE), "too_late");
    assert_string_equal(records_renewal_name(RECORDS_RENEWAL_PER_LAW), "per_law");
}

/* ------------------------------------------------- registry and audit */

static json_object *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[256 * 1024];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    char why[256];
    json_object *o = records_parse(buf, n, why, sizeof(why));
    assert_non_null(o);
    return o;
}

/* A record of kind on the sample handover's token (serial
 * 4f7764d1842904e2, holder "Ủy ban nhân dân tỉnh Bắc Ninh"), its
 * certificate ending at na (sha256 its own), registered in dir. */
static void reg(const char *dir, const char *id, const char *time, const char *kind, const char *details,
                const char *sha, const char *na)
{
    json_object *r = load_json(KYSO_TEST_VECTORS "/records/sample-handover.json");
    char why[256];
    json_object_object_add(r, "id", json_object_new_string(id));
    json_object_object_add(r, "kind", json_object_new_string(kind));
    json_object *created = json_object_object_get(r, "created");
    json_object_object_add(created, "time", json_object_new_string(time));
    json_object *cert = json_object_array_get_idx(json_object_object_get(r, "certificates"), 0);
    json_object_object_add(cert, "sha256", json_object_new_string(sha));
    json_object_object_add(cert, "not_after", json_object_new_string(na));
    json_object_object_add(r, "details", records_parse(details, strlen(details), why, sizeof(why)));
    if (strcmp(kind, "handover") != 0) {
        json_object *parties = json_object_object_get(r, "parties");
        json_object_object_add(json_object_array_get_idx(parties, 0), "role", json_object_new_string("requester"));
        json_object_object_add(json_object_array_get_idx(parties, 1), "role", json_object_new_string("approver"));
    }
    json_object_object_del(r, "integrity");
    assert_int_equal(records_seal(r), 0);
    struct records_problems pr = { 0 };
    records_validate(r, &pr);
    for (size_t i = 0; i < pr.n; i++)
        print_message("%s\n", pr.line[i]);
    assert_int_equal(pr.n, 0);
    assert_int_equal(records_register(dir, r, NULL, 0, why, sizeof(why)), 0);
    json_object_put(r);
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define SERIAL "4f7764d1842904e2"
#define HOLDER "Ủy ban nhân dân tỉnh Bắc Ninh"

static void test_registry_and_audit(void **state)
{
    (void)state;
    char dir[] = "/tmp/kyso-test-deadlines.XXXXXX", regdir[64], log[64], why[256];
    assert_non_null(mkdtemp(dir));
    snprintf(regdir, sizeof(regdir), "%s/records", dir);
    snprintf(log, sizeof(log), "%s/audit.log", dir);
    /* A (d45) asked for a renewal on 10/02; its line (same token, same
     * holder) then counts one renewal for B (d90, the renewed one) too.
     * C (expired 03/02) was handed back on 16/02. */
    reg(regdir, "KR-20270210-00000001", "2027-02-10T10:00:00+07:00", "renewal-request",
        "{\"change\":\"renewal\",\"days_left\":50,\"renewals_before\":0,\"requested\":\"Gia hạn 3 năm\","
        "\"reason\":\"Sắp hết hạn\"}",
        SHA_A, "2027-04-01T14:00:00Z");
    reg(regdir, "KR-20270211-00000002", "2027-02-11T10:00:00+07:00", "renewal-request",
        "{\"change\":\"info_change\",\"days_left\":49,\"renewals_before\":1,\"requested\":\"Đổi chức danh\","
        "\"reason\":\"Bổ nhiệm\"}",
        SHA_B, "2027-05-16T14:00:00Z");
    reg(regdir, "KR-20270216-00000003", "2027-02-16T10:00:00+07:00", "handover",
        "{\"handover_kind\":\"return\",\"reason\":\"Hết hạn\",\"condition\":\"Nguyên vẹn\"}", SHA_C,
        "2027-02-03T16:59:59Z");

    struct records_cert_facts f;
    assert_int_equal(records_due_facts(regdir, SERIAL, SHA_B, HOLDER, T("2027-05-16T14:00:00Z"), T(NOW), &f, why,
                                       sizeof(why)),
                     0);
    assert_int_equal(f.renewals_before, 1); /* the info change does not count */
    assert_int_equal(f.revoked_day, -1);
    assert_int_equal(f.returned_day, -1);   /* not ended */
    /* before the request was made, nothing was registered */
    assert_int_equal(records_due_facts(regdir, SERIAL, SHA_B, HOLDER, T("2027-05-16T14:00:00Z"),
                                       T("2027-02-09T09:00:00+07:00"), &f, why, sizeof(why)),
                     0);
    assert_int_equal(f.renewals_before, 0);
    /* another holder on the token: its own line */
    assert_int_equal(records_due_facts(regdir, SERIAL, SHA_B, "Nguyễn Văn An", T("2027-05-16T14:00:00Z"), T(NOW), &f,
                                       why, sizeof(why)),
                     0);
    assert_int_equal(f.renewals_before, 0);
    /* C ended 03/02, handed back 16/02 (as of 18/02) */
    assert_int_equal(records_due_facts(regdir, SERIAL, SHA_C, HOLDER, T("2027-02-03T16:59:59Z"),
                                       T("2027-02-18T09:00:00+07:00"), &f, why, sizeof(why)),
                     0);
    assert_int_equal(f.returned_day, D("2027-02-16"));

    /* the audit trail: a fourth certificate on another token, seen twice,
     * and B again (the registry's entry is kept) */
    FILE *fp = fopen(log, "w");
    assert_non_null(fp);
    for (int i = 0; i < 2; i++)
        fprintf(fp, "{\"event\":\"sign\",\"time\":\"2027-02-1%dT01:00:00.000Z\",\"token\":\"0011223344556677\","
                    "\"cert\":{\"sha256\":\"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\","
                    "\"serial\":\"0a0b\",\"subject\":\"CN=Trần Thị Bình,O=Sở Tài chính\","
                    "\"not_after\":\"2027-02-25T14:00:00Z\"}}\n",
                i);
    fprintf(fp, "{\"event\":\"sign\",\"time\":\"2027-02-12T01:00:00.000Z\",\"token\":\"%s\",\"cert\":{\"sha256\":\"%s\","
                "\"serial\":\"01\",\"subject\":\"CN=x\",\"not_after\":\"2030-01-01T00:00:00Z\"}}\n",
            SERIAL, SHA_B);
    fprintf(fp, "not a record\n");
    fclose(fp);
    const struct policy_profile *nd68 = policy_profile_find("nd68-2024");
    struct records_calendar *cal = calendar();
    struct records_due_item *items;
    size_t n;
    const char *logs[] = { log };
    /* on 18/02: C is handed back; the audit's certificate (10 days on
     * 15/02) has 7 days left (25/02 21:00 - 18/02 09:00 = 7 d 12 h) */
    assert_int_equal(records_due_collect(regdir, logs, 1, nd68, cal, T("2027-02-18T09:00:00+07:00"), &items, &n, why,
                                         sizeof(why)),
                     0);
    assert_int_equal(n, 4);
    /* sorted by days left: C (-15: 03/02 23:59:59 to 18/02 09:00 is 14 d
     * 9 h, floor -15), D 7, A 42, B 87 */
    assert_string_equal(items[0].cert_sha256, SHA_C);
    assert_int_equal(items[0].due.days_left, -15);
    assert_true(items[0].due.returned);
    assert_false(items[0].due.overdue);
    assert_string_equal(items[1].cert_cn, "Trần Thị Bình");
    assert_string_equal(items[1].token_serial, "0011223344556677");
    assert_string_equal(items[1].source, "audit");
    assert_int_equal(items[1].due.days_left, 7);
    assert_int_equal(items[1].due.renewal, RECORDS_RENEWAL_TOO_LATE);
    assert_string_equal(items[2].cert_sha256, SHA_A);
    assert_int_equal(items[2].due.renewal, RECORDS_RENEWAL_ALREADY);
    assert_string_equal(items[2].source, "registry KR-20270210-00000001");
    assert_string_equal(items[3].cert_sha256, SHA_B);
    assert_int_equal(items[3].due.days_left, 87);
    assert_string_equal(items[3].source, "registry KR-20270211-00000002");
    free(items);

    /* an audit log that cannot be read; a record that does not load */
    const char *missing[] = { "/nonexistent/audit.log" };
    assert_int_equal(records_due_collect(regdir, missing, 1, nd68, cal, T(NOW), &items, &n, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "/nonexistent/audit.log"));
    char bad[128];
    snprintf(bad, sizeof(bad), "%s/KR-20270212-0000000f.json", regdir);
    fp = fopen(bad, "w");
    assert_non_null(fp);
    fputs("{}\n", fp);
    fclose(fp);
    assert_int_equal(records_due_collect(regdir, NULL, 0, nd68, cal, T(NOW), &items, &n, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "KR-20270212-0000000f"));
    assert_int_equal(records_due_facts(regdir, SERIAL, SHA_B, HOLDER, 0, T(NOW), &f, why, sizeof(why)), -1);
    /* no registry and no log: nothing */
    assert_int_equal(records_due_collect(NULL, NULL, 0, nd68, cal, T(NOW), &items, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 0);
    free(items);
    records_calendar_free(cal);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_once_and_overdue),
        cmocka_unit_test(test_local_day),
        cmocka_unit_test(test_registry_and_audit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
