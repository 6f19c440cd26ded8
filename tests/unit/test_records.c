/* records/: canonical JSON (RFC 8785's examples), the schema check (one
 * line per problem), seal and hash, the registry on a temporary directory,
 * parties files, the working-day calendar. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/calendar.h"
#include "records/canon.h"
#include "records/record.h"
#include "records/registry.h"

static char *canon_of(const char *json)
{
    char why[128], *out = NULL;
    size_t len;
    json_object *o = records_parse(json, strlen(json), why, sizeof(why));
    assert_non_null(o);
    assert_int_equal(records_canonical(o, &out, &len, why, sizeof(why)), 0);
    assert_int_equal(strlen(out), len);
    json_object_put(o);
    return out;
}

static void test_canon_rfc8785(void **state)
{
    (void)state;
    /* RFC 8785 3.2.3: sorting by UTF-16 code units, incl. U+1F600 (a
     * surrogate pair) before U+FB33 and "\r" first */
    char *c = canon_of("{\"\\u20ac\": \"Euro Sign\", \"\\r\": \"Carriage Return\", \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\","
                       " \"1\": \"One\", \"\\ud83d\\ude00\": \"Emoji: Grinning Face\", \"\\u0080\": \"Control\","
                       " \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"}");
    assert_string_equal(c, "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
                           "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
                           "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
    free(c);
    /* RFC 8785 3.2.2.2 string escapes: only the short forms and \u00XX */
    c = canon_of("{\"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\"}");
    assert_string_equal(c, "{\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
    free(c);
    c = canon_of("[\"\\b\\f\\t\\r\\u001f\\u007f\", true, false, null, -12, 0, {\"b\": [], \"a\": {}}]");
    assert_string_equal(c, "[\"\\b\\f\\t\\r\\u001f\x7f\",true,false,null,-12,0,{\"a\":{},\"b\":[]}]");
    free(c);
    c = canon_of("{ \"Dẫn\" : 1, \"Dan\" : 2, \"Đan\": 3 }");
    assert_string_equal(c, "{\"Dan\":2,\"Dẫn\":1,\"Đan\":3}");
    free(c);
}

static void test_canon_refuses(void **state)
{
    char why[128], *out;
    size_t len;
    (void)state;
    const char *bad[] = {"[1.5]", "[1e3]", "[9007199254740992]"};
    for (size_t i = 0; i < 3; i++) {
        json_object *o = records_parse(bad[i], strlen(bad[i]), why, sizeof(why));
        assert_non_null(o);
        assert_int_equal(records_canonical(o, &out, &len, why, sizeof(why)), -1);
        assert_null(out);
        json_object_put(o);
    }
    json_object *s = json_object_new_string_len("a\xc0\xaf", 3); /* overlong '/' */
    assert_int_equal(records_canonical(s, &out, &len, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "UTF-8"));
    json_object_put(s);
    s = json_object_new_string_len("\xed\xa0\x80", 3); /* a surrogate */
    assert_int_equal(records_canonical(s, &out, &len, why, sizeof(why)), -1);
    json_object_put(s);
    assert_null(records_parse("{\"a\":1} x", 9, why, sizeof(why)));
    assert_null(records_parse("{\"a\":1,}", 8, why, sizeof(why)));
    assert_null(records_parse("{\"a\":\n", 6, why, sizeof(why)));
}

static json_object *sample(const char *name)
{
    char path[512], why[160];
    snprintf(path, sizeof(path), "%s/records/%s", KYSO_TEST_VECTORS, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text), f);
    fclose(f);
    json_object *o = records_parse(text, n, why, sizeof(why));
    assert_non_null(o);
    return o;
}

static void expect_problem(json_object *o, const char *line)
{
    struct records_problems p = {0};
    records_seal(o);
    records_validate(o, &p);
    for (size_t i = 0; i < p.n; i++)
        if (strcmp(p.line[i], line) == 0)
            return;
    for (size_t i = 0; i < p.n; i++)
        print_message("  got: %s\n", p.line[i]);
    fail_msg("expected: %s", line);
}

static json_object *at(json_object *o, const char *a, const char *b)
{
    json_object *v = json_object_object_get(o, a);
    if (b)
        v = json_object_object_get(v, b);
    return v;
}

static void test_samples_valid(void **state)
{
    const char *names[] = {"pin-reset-request-nd68.json", "handover-custodian-ha-tinh.json"};
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        json_object *o = sample(names[i]);
        struct records_problems p = {0};
        char h[65];
        for (size_t k = 0, n = records_validate(o, &p); k < n; k++)
            print_message("%s: %s\n", names[i], p.line[k]);
        assert_int_equal(p.n, 0);
        /* sealed by records_seal: the stored hash is the one computed here */
        assert_int_equal(records_hash(o, h), 0);
        assert_string_equal(h, json_object_get_string(at(o, "integrity", "sha256")));
        json_object_put(o);
    }
}

static void test_validation_lines(void **state)
{
    (void)state;
    json_object *o = sample("pin-reset-request-nd68.json");
    json_object *p1 = json_object_array_get_idx(at(o, "parties", NULL), 1);
    json_object_object_add(p1, "id_number", json_object_new_string("12345"));
    expect_problem(o, "parties[1].id_number: must be 12 digits, not \"12345\"");
    json_object_object_add(json_object_object_get(p1, "id_issued"), "date", json_object_new_string("2026-02-30"));
    expect_problem(o, "parties[1].id_issued.date: must be a real date YYYY-MM-DD, not \"2026-02-30\"");
    json_object_object_add(p1, "email", json_object_new_string("binh@"));
    expect_problem(o, "parties[1].email: not an e-mail address: \"binh@\"");
    json_object_object_add(p1, "role", json_object_new_string("boss"));
    expect_problem(o, "parties[1].role: must be one of requester, coordinator, approver, hands_over, receives, witness, not \"boss\"");
    expect_problem(o, "parties: a pin-reset-request record needs a party with role coordinator");
    json_object_object_add(at(o, "details", NULL), "pin_tries_left", json_object_new_double(1.5));
    expect_problem(o, "details.pin_tries_left: must be an integer");
    expect_problem(o, "record: no canonical form: a number is not an integer (the schema has only integers)");
    json_object_object_add(o, "kind", json_object_new_string("loan"));
    expect_problem(o, "kind: must be one of pin-reset-request, pin-reset-done, handover, revocation-request, loss, "
                      "token-found, off-premises, off-premises-return, renewal-request, not \"loan\"");
    json_object_object_add(o, "id", json_object_new_string("KR-20261203-5C1E9A07"));
    expect_problem(o, "id: must be KR-YYYYMMDD-xxxxxxxx (a real date, 8 lowercase hex), not \"KR-20261203-5C1E9A07\"");
    json_object_object_add(o, "profile", json_object_new_string("nd99"));
    expect_problem(o, "profile: no profile \"nd99\" (nd68-2024, an-giang-2016, tien-giang-2015, hoa-binh-2020, ha-tinh-2020)");
    json_object_object_add(at(o, "created", NULL), "time", json_object_new_string("2026-12-03 10:15"));
    expect_problem(o, "created.time: must be an RFC 3339 time with its offset (2026-12-03T10:15:00+07:00), not \"2026-12-03 10:15\"");
    json_object *c0 = json_object_array_get_idx(at(o, "certificates", NULL), 0);
    json_object_object_add(c0, "sha256", json_object_new_string("e8b359"));
    expect_problem(o, "certificates[0].sha256: must be 64 lowercase hex digits, not \"e8b359\"");
    json_object_object_add(json_object_object_get(c0, "key"), "bits", json_object_new_string("2048"));
    expect_problem(o, "certificates[0].key.bits: must be an integer");
    json_object_object_add(at(o, "token", NULL), "applet", json_object_new_string("openpgp"));
    expect_problem(o, "token.applet: must be one of vgca-chipdoc, vgca-jcop, piv, not \"openpgp\"");
    json_object_object_add(o, "extra", json_object_new_int(1));
    expect_problem(o, "\"extra\": not a member the schema knows");
    json_object_put(o);

    o = sample("handover-custodian-ha-tinh.json");
    json_object_object_del(at(o, "details", NULL), "permission_ref");
    expect_problem(o, "details.permission_ref: a custodian_change needs the written permission's reference");
    json_object_object_add(o, "created", json_object_new_string("x"));
    expect_problem(o, "created: must be an object");
    json_object_put(o);

    /* a sealed record changed afterwards */
    o = sample("handover-custodian-ha-tinh.json");
    json_object_object_add(at(o, "token", NULL), "serial", json_object_new_string("0000000000000000"));
    struct records_problems p = {0};
    assert_int_equal(records_validate(o, &p), 1);
    assert_string_equal(p.line[0], "integrity.sha256: does not match the record (tampered: hash mismatch)");
    json_object_object_del(o, "integrity");
    memset(&p, 0, sizeof(p));
    assert_int_equal(records_validate(o, &p), 1);
    assert_string_equal(p.line[0], "integrity: missing (the record is not sealed)");
    json_object_put(o);
}

static void test_seal_and_id(void **state)
{
    char id[24], h1[65], h2[65];
    (void)state;
    assert_int_equal(records_new_id_at(id, 1796267700), 0); /* 2026-12-03 */
    assert_int_equal(strlen(id), RECORDS_ID_LEN);
    assert_memory_equal(id, "KR-2026120", 10);
    json_object *o = sample("pin-reset-request-nd68.json");
    assert_int_equal(records_hash(o, h1), 0);
    json_object_object_del(o, "integrity");
    assert_int_equal(records_hash(o, h2), 0);
    assert_string_equal(h1, h2); /* the hash leaves integrity out */
    assert_int_equal(records_seal(o), 0);
    assert_string_equal(json_object_get_string(at(o, "integrity", "sha256")), h1);
    json_object_put(o);
}

/* A fresh directory under the build tree's temporary space. */
static void tmpdir(char *buf, size_t len)
{
    snprintf(buf, len, "%s/kyso-records.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(buf));
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1024];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (rmdir(p) < 0)
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int count_cb(const char *id, json_object *o, const char *problem, void *ctx)
{
    char *log = ctx;
    size_t l = strlen(log);
    snprintf(log + l, 2048 - l, "%s %s;", id, o ? "ok" : problem);
    return 0;
}

static void test_registry(void **state)
{
    char base[512], dir[600], why[256], path[700], log[2048] = "";
    const unsigned char sig1[] = {0x30, 0x03, 0x02, 0x01, 0x01}, sig2[] = {0x30, 0x00};
    struct records_blob sigs[] = {{sig1, sizeof(sig1)}, {sig2, sizeof(sig2)}};
    struct records_stamp s0, s1;
    struct stat st;
    json_object *got;
    size_t nsig;
    (void)state;

    tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/records", base);
    json_object *a = sample("pin-reset-request-nd68.json"), *b = sample("handover-custodian-ha-tinh.json");
    assert_int_equal(records_register(dir, b, sigs, 2, why, sizeof(why)), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(records_registry_stamp(dir, &s0), 0);
    assert_int_equal(records_register(dir, a, sigs, 1, why, sizeof(why)), 0);
    assert_int_equal(records_registry_stamp(dir, &s1), 0);
    assert_false(records_stamp_equal(&s0, &s1));
    assert_int_equal(records_register(dir, a, NULL, 0, why, sizeof(why)), -1);
    assert_string_equal(why, "record KR-20261203-5c1e9a07 is already registered");
    snprintf(path, sizeof(path), "%s/KR-20261207-9f3b2d18.json", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(entries(dir), 5);

    assert_int_equal(records_load(dir, "KR-20261207-9f3b2d18", &got, &nsig, why, sizeof(why)), 0);
    assert_int_equal(nsig, 2);
    json_object_put(got);
    assert_int_equal(records_load(dir, "../etc/passwd", &got, NULL, why, sizeof(why)), -1);
    assert_int_equal(records_list(dir, count_cb, log, why, sizeof(why)), 2);
    assert_string_equal(log, "KR-20261203-5c1e9a07 ok;KR-20261207-9f3b2d18 ok;");
    assert_int_equal(records_latest_handover(dir, "7c21e0f4a9d35b60", &got, why, sizeof(why)), 1);
    assert_string_equal(json_object_get_string(at(got, "id", NULL)), "KR-20261207-9f3b2d18");
    json_object_put(got);
    assert_int_equal(records_latest_handover(dir, "ab9745a2b48b31d9", &got, why, sizeof(why)), 0);

    /* a missing signature */
    snprintf(path, sizeof(path), "%s/KR-20261207-9f3b2d18.1.p7s", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(records_load(dir, "KR-20261207-9f3b2d18", &got, NULL, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "signature KR-20261207-9f3b2d18.1.p7s is missing"));
    assert_null(got);

    /* one changed byte: "Hà Nội" -> "Hà Nộj" keeps the JSON canonical */
    snprintf(path, sizeof(path), "%s/KR-20261203-5c1e9a07.json", dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text), f);
    char *hit = strstr(text, "\"place\":\"H\xc3\xa0 N\xe1\xbb\x99i\"");
    assert_non_null(hit);
    hit[17] = 'j';
    rewind(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    assert_int_equal(records_load(dir, "KR-20261203-5c1e9a07", &got, NULL, why, sizeof(why)), -1);
    assert_string_equal(why, "KR-20261203-5c1e9a07: tampered: hash mismatch");
    assert_null(got);
    /* the custodian check does not answer from a damaged registry */
    assert_int_equal(records_latest_handover(dir, "7c21e0f4a9d35b60", &got, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "registry damaged"));
    log[0] = '\0';
    assert_int_equal(records_list(dir, count_cb, log, why, sizeof(why)), 2);
    assert_non_null(strstr(log, "KR-20261203-5c1e9a07 KR-20261203-5c1e9a07: tampered: hash mismatch;"));
    rm_rf(dir);
    rmdir(base);
    json_object_put(a);
    json_object_put(b);
}

static void test_registry_failures(void **state)
{
    char base[512], dir[600], why[256], path[700];
    const unsigned char sig[] = {0x30, 0x00};
    struct records_blob sigs[] = {{sig, 2}, {sig, 2}};
    (void)state;

    json_object *b = sample("handover-custodian-ha-tinh.json");
    tmpdir(base, sizeof(base));
    /* a path through a regular file cannot become a directory */
    snprintf(path, sizeof(path), "%s/file", base);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    snprintf(dir, sizeof(dir), "%s/file/records", base);
    assert_int_equal(records_register(dir, b, sigs, 1, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "cannot create"));
    unlink(path);
    if (geteuid() != 0) {
        snprintf(dir, sizeof(dir), "%s/ro", base);
        mkdir(dir, 0500);
        assert_int_equal(records_register(dir, b, sigs, 1, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "cannot write in"));
        assert_int_equal(entries(dir), 0);
        rmdir(dir);
    }
    /* the second signature cannot be placed (a directory holds its name):
     * after the first was renamed, nothing of the record stays */
    snprintf(dir, sizeof(dir), "%s/reg", base);
    mkdir(dir, 0750);
    snprintf(path, sizeof(path), "%s/KR-20261207-9f3b2d18.2.p7s", dir);
    mkdir(path, 0700);
    assert_int_equal(records_register(dir, b, sigs, 2, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "cannot place signature 2"));
    assert_int_equal(entries(dir), 1); /* only the obstacle */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        assert_true(strncmp(e->d_name, ".tmp", 4) != 0);
    closedir(d);
    rmdir(path);
    /* an invalid record is refused before anything is written */
    json_object_object_add(b, "kind", json_object_new_string("loan"));
    assert_int_equal(records_register(dir, b, NULL, 0, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not a valid record: "));
    assert_int_equal(entries(dir), 0);
    rmdir(dir);
    rmdir(base);
    json_object_put(b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_parties_file(void **state)
{
    char base[512], path[600];
    struct records_problems p = {0};
    (void)state;
    tmpdir(base, sizeof(base));
    snprintf(path, sizeof(path), "%s/parties.json", base);
    write_file(path, "[{\"role\":\"hands_over\",\"name\":\"Phạm Thị Hoa\",\"id_number\":\"0271860011\","
                     "\"id_issued\":{\"date\":\"2021-04-10\",\"place\":\"Cục Cảnh sát QLHC về TTXH\"},"
                     "\"position\":\"Văn thư\",\"unit\":\"\",\"phone\":\"\",\"email\":\"\"}]");
    assert_null(records_parties_load(path, "handover", &p));
    assert_int_equal(p.n, 2);
    assert_non_null(strstr(p.line[0], "parties.json: parties[0].id_number: must be 12 digits, not \"0271860011\""));
    assert_non_null(strstr(p.line[1], "parties.json: parties: a handover record needs a party with role receives"));
    memset(&p, 0, sizeof(p));
    write_file(path, "[{\"role\": \"witness\",\n \"name\": }]");
    assert_null(records_parties_load(path, NULL, &p));
    assert_int_equal(p.n, 1);
    assert_non_null(strstr(p.line[0], "not JSON (line 2)"));
    memset(&p, 0, sizeof(p));
    write_file(path, "{}");
    assert_null(records_parties_load(path, NULL, &p));
    assert_non_null(strstr(p.line[0], "must be a JSON array"));
    memset(&p, 0, sizeof(p));
    write_file(path, "[{\"role\":\"receives\",\"name\":\"Đỗ Văn Hùng\",\"id_number\":\"027090003344\","
                     "\"id_issued\":{\"date\":\"2022-09-02\",\"place\":\"Cục Cảnh sát QLHC về TTXH\"},"
                     "\"position\":\"Văn thư\",\"unit\":\"Phòng Hành chính - Tổ chức\",\"phone\":\"0983 456 789\","
                     "\"email\":\"hung.dv@bacninh.gov.vn.invalid\",\"os_user\":\"hung\"}]");
    json_object *a = records_parties_load(path, NULL, &p);
    assert_non_null(a);
    assert_int_equal(p.n, 0);
    json_object_put(a);
    unlink(path);
    assert_null(records_parties_load(path, NULL, &p));
    assert_non_null(strstr(p.line[0], "cannot open"));
    rmdir(base);
}

static int64_t D(const char *s)
{
    int64_t d;
    assert_int_equal(records_date_parse(s, &d), 0);
    return d;
}

static void test_calendar(void **state)
{
    char why[256], base[512], over[600], out[11];
    (void)state;
    struct records_calendar *c = records_calendar_load(KYSO_HOLIDAYS, NULL, why, sizeof(why));
    assert_non_null(c);
    int first, last;
    records_calendar_years(c, &first, &last);
    assert_int_equal(first, 2024);
    assert_int_equal(last, 2030);
    /* Friday before Tết Bính Ngọ (13/02/2026): Tết is 16-20/02, so one
     * working day later is Monday 23/02 */
    records_date_format(records_add_working_days(c, D("2026-02-13"), 1), out);
    assert_string_equal(out, "2026-02-23");
    assert_int_equal(records_working_days_between(c, D("2026-02-13"), D("2026-02-23")), 1);
    /* 5 working days from Friday 24/04/2026: Giỗ Tổ on Sunday 26/04 gives
     * Monday 27/04 off; 30/04 and 01/05 are off */
    records_date_format(records_add_working_days(c, D("2026-04-24"), 5), out);
    assert_string_equal(out, "2026-05-06");
    /* a worked Saturday (làm bù, 26/04/2025) */
    assert_true(records_is_working_day(c, D("2025-04-26")));
    assert_false(records_is_working_day(c, D("2025-05-02")));
    records_date_format(records_add_working_days(c, D("2025-04-25"), 1), out);
    assert_string_equal(out, "2025-04-26");
    assert_int_equal(records_working_days_between(c, D("2026-12-31"), D("2026-12-01")), -22);
    assert_int_equal(records_add_working_days(c, D("2026-02-13"), 0), D("2026-02-13"));
    records_calendar_free(c);

    /* the administrator's override: 20/02/2026 worked after all, 24/12 off */
    tmpdir(base, sizeof(base));
    snprintf(over, sizeof(over), "%s/holidays.local", base);
    write_file(over, "# local\n!2026-02-20  đi làm\n2026-02-23  nghỉ thêm\n+2026-02-28  làm bù\n");
    c = records_calendar_load(KYSO_HOLIDAYS, over, why, sizeof(why));
    assert_non_null(c);
    records_date_format(records_add_working_days(c, D("2026-02-13"), 1), out);
    assert_string_equal(out, "2026-02-20");
    assert_true(records_is_working_day(c, D("2026-02-28")));
    assert_false(records_is_working_day(c, D("2026-02-23")));
    records_calendar_free(c);
    write_file(over, "2026-02-30  không có\n");
    assert_null(records_calendar_load(KYSO_HOLIDAYS, over, why, sizeof(why)));
    assert_non_null(strstr(why, "holidays.local:1: not a date"));
    write_file(over, "+2026-02-27  a Friday\n");
    assert_null(records_calendar_load(KYSO_HOLIDAYS, over, why, sizeof(why)));
    assert_non_null(strstr(why, "is not a Saturday or Sunday"));
    unlink(over);
    rmdir(base);
    /* dates */
    int64_t d;
    assert_int_equal(records_date_parse("2028-02-29", &d), 0);
    assert_int_equal(records_date_parse("2026-02-29", &d), -1);
    assert_int_equal(records_date_parse("2026-13-01", &d), -1);
    assert_int_equal(records_time_parse("2026-12-03T10:15:00+07:00", &d), 0);
    assert_int_equal(d, 1796267700);
    assert_int_equal(records_time_parse("2026-12-03T03:15:00.5Z", &d), 0);
    assert_int_equal(records_time_parse("2026-12-03T10:15:00", &d), -1);
    assert_int_equal(records_time_parse("2026-12-03T24:00:00Z", &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_rfc8785),
        cmocka_unit_test(test_canon_refuses),
        cmocka_unit_test(test_samples_valid),
        cmocka_unit_test(test_validation_lines),
        cmocka_unit_test(test_seal_and_id),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_registry_failures),
        cmocka_unit_test(test_parties_file),
        cmocka_unit_test(test_calendar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
