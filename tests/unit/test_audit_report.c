/* Unit tests of audit/report_*.c: time and period parsing (the H1/H2
 * boundaries to the millisecond), the line reader, the record parser,
 * filters, CSV quoting and the CSV/JSON export, the report's aggregates
 * and its three outputs, malformed lines. The fixture is
 * test-vectors/audit/usage-2026.jsonl (18 hand-written records; the
 * expected counts below are worked out from it by hand). */
#include "config.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/report.h"

#define FIXTURE KYSO_TEST_AUDIT "/usage-2026.jsonl"

/* The fixture's people and certificates. */
#define AN "Nguyễn Văn An"
#define AN_TITLE "Chuyên viên"
#define AN_ORG "Sở Thông tin và Truyền thông Hà Nội"
#define AN_SHA "e8b359da982da0d365c1502ee948039732477d14930c73c433c8b6e2772132bc"
#define BINH "Trần Thị Bình"
#define BINH_ORG "UBND tỉnh Bắc Ninh"
#define LE "Lê Văn C, Jr."
#define LE_TITLE "Chuyên viên, tổ \"pháp chế\""
#define TOKEN_A "aa5f9ca63c9ae39b"

static int64_t t_ms(const char *text)
{
    int64_t lo, hi;
    assert_int_equal(audit_time_parse(text, &lo, &hi), 0);
    return lo;
}

/* A temporary file holding len bytes of data; the caller unlinks it. */
static char *temp_file(const char *data, size_t len)
{
    char *path = strdup("/tmp/kyso-test-audit-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* ---- time and periods ---- */

static void test_time_parse(void **state)
{
    int64_t lo, hi;
    (void)state;
    assert_int_equal(audit_time_parse("1970-01-01", &lo, &hi), 0);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 86400000 - 1);
    /* 2026-01-01T00:00:00Z = 1767225600 s */
    assert_int_equal(audit_time_parse("2026-01-01T00:00:00.000Z", &lo, &hi), 0);
    assert_int_equal(lo, 1767225600000LL);
    assert_int_equal(hi, lo);
    assert_int_equal(audit_time_parse("2026-06-30T23:59:59Z", &lo, &hi), 0);
    assert_int_equal(hi - lo, 999);
    assert_int_equal(audit_time_parse("2026-06-30T23:59Z", &lo, &hi), 0);
    assert_int_equal(hi - lo, 59999);
    assert_int_equal(audit_time_parse("2026-06-30T23:59:59.9Z", &lo, &hi), 0);
    assert_int_equal(lo % 1000, 900);
    assert_int_equal(hi - lo, 99);
    /* Offsets are converted: 07:00 in Hà Nội is midnight UTC. */
    assert_int_equal(audit_time_parse("2026-01-01T07:00:00+07:00", &lo, &hi), 0);
    assert_int_equal(lo, 1767225600000LL);
    assert_int_equal(audit_time_parse("2026-01-01T07:00:00+0700", &lo, &hi), 0);
    assert_int_equal(lo, 1767225600000LL);
    assert_int_equal(audit_time_parse("2028-02-29", &lo, &hi), 0);
    /* Refused: no zone, impossible dates and times, junk. */
    assert_int_equal(audit_time_parse("2026-01-01T00:00:00", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-02-29", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-13-01", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-04-31", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-01-01T24:00:00Z", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-01-01T23:60Z", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-01-01T23:59:59.Z", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-01-01Z", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-1-1", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("26-01-01", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("2026-01-01T00:00:00Zjunk", &lo, &hi), -1);
    assert_int_equal(audit_time_parse("", &lo, &hi), -1);

    char out[40];
    audit_time_format(1767225600000LL + 123, out, sizeof(out));
    assert_string_equal(out, "2026-01-01T00:00:00.123Z");
    audit_time_format(t_ms("2028-02-29T23:59:59.999Z"), out, sizeof(out));
    assert_string_equal(out, "2028-02-29T23:59:59.999Z");
}

static void test_period_parse(void **state)
{
    struct audit_period p;
    char err[300];
    (void)state;
    assert_int_equal(audit_period_parse("2026-H1", &p, err, sizeof(err)), 0);
    assert_int_equal(p.from, t_ms("2026-01-01T00:00:00.000Z"));
    assert_int_equal(p.to, t_ms("2026-06-30T23:59:59.999Z"));
    assert_string_equal(p.name, "2026-H1");
    assert_int_equal(audit_period_parse("2026-h2", &p, err, sizeof(err)), 0);
    assert_int_equal(p.from, t_ms("2026-07-01T00:00:00.000Z"));
    assert_int_equal(p.to, t_ms("2026-12-31T23:59:59.999Z"));
    assert_string_equal(p.name, "2026-H2");
    assert_int_equal(audit_period_parse("2026", &p, err, sizeof(err)), 0);
    assert_int_equal(p.from, t_ms("2026-01-01T00:00:00.000Z"));
    assert_int_equal(p.to, t_ms("2026-12-31T23:59:59.999Z"));
    assert_int_equal(audit_period_parse("2028-H1", &p, err, sizeof(err)), 0); /* leap year: Feb 29 inside */
    assert_int_equal(p.to - p.from + 1, (int64_t)(31 + 29 + 31 + 30 + 31 + 30) * 86400000);
    assert_int_equal(audit_period_parse("2025-11-16..2026-11-15", &p, err, sizeof(err)), 0);
    assert_int_equal(p.from, t_ms("2025-11-16T00:00:00.000Z"));
    assert_int_equal(p.to, t_ms("2026-11-15T23:59:59.999Z"));
    assert_int_equal(audit_period_parse("2026-04-02T09:00:00Z..2026-04-02T09:00:01Z", &p, err, sizeof(err)), 0);
    assert_int_equal(p.to - p.from, 1999);

    const char *bad[] = { "", "2026-H3", "2026-Q1", "26", "2026-", "H1", "2026..", "..2026-01-01",
                          "2026-02-01..2026-01-01", "2026-01-01..2026-02-30", "1969" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(audit_period_parse(bad[i], &p, err, sizeof(err)), -1);
        assert_true(strlen(err) > 10);
        assert_null(strchr(err, '\n'));
    }
}

/* ---- text helpers ---- */

static void test_fold_and_dn(void **state)
{
    char out[256];
    (void)state;
    audit_fold("Nguyễn Văn An", out, sizeof(out));
    assert_string_equal(out, "nguyen van an");
    audit_fold("ĐẶNG THỊ Ưng Ở", out, sizeof(out));
    assert_string_equal(out, "dang thi ung o");
    audit_fold("Trần Thị Bình", out, sizeof(out));
    assert_string_equal(out, "tran thi binh");
    audit_fold("Ye\xcc\x82\xcc\x81n", out, sizeof(out)); /* decomposed (NFD) marks are dropped too */
    assert_string_equal(out, "yen");
    audit_fold("Nguyễn", out, 4); /* truncated, always terminated */
    assert_string_equal(out, "ngu");

    const char *dn = "emailAddress=a@b,UID=CCCD:1,CN=Lê Văn C\\, Jr.,title=Chuyên viên\\, tổ \\\"pháp chế\\\","
                     "O=S\\C3\\B6 X+OU=Phòng 1,C=VN";
    assert_int_equal(audit_dn_get(dn, "CN", out, sizeof(out)), (int)strlen(LE));
    assert_string_equal(out, LE);
    assert_true(audit_dn_get(dn, "title", out, sizeof(out)) > 0);
    assert_string_equal(out, LE_TITLE);
    assert_true(audit_dn_get(dn, "O", out, sizeof(out)) > 0);
    assert_string_equal(out, "Sö X");
    assert_true(audit_dn_get(dn, "OU", out, sizeof(out)) > 0);
    assert_string_equal(out, "Phòng 1");
    assert_true(audit_dn_get("commonName=Foo,O=Bar", "CN", out, sizeof(out)) > 0);
    assert_string_equal(out, "Foo");
    assert_int_equal(audit_dn_get(dn, "L", out, sizeof(out)), -1);
    assert_int_equal(audit_dn_get("CN=abcdef", "CN", out, 4), -1); /* does not fit */
    assert_int_equal(audit_dn_get("garbage", "CN", out, sizeof(out)), -1);
}

/* ---- filters on the fixture ---- */

struct collect {
    const struct audit_filter *f;
    uint64_t n;
    int64_t seqs[64];
};

static int collect_fn(const struct audit_record *r, void *arg)
{
    struct collect *c = arg;
    if (audit_filter_match(c->f, r)) {
        if (c->n < 64)
            c->seqs[c->n] = r->seq;
        c->n++;
    }
    return 0;
}

/* The sequence numbers of the fixture's records matching the filters,
 * given as "--option", "value" pairs ending with NULL. */
static uint64_t matches(struct collect *c, ...)
{
    static struct audit_filter f;
    struct audit_scan_stats st;
    char err[300];
    const char *files[] = { FIXTURE };
    static const char *const names[AUDIT_FILTER_FIELDS] = { "--from",  "--to",      "--person", "--cert",
                                                            "--token", "--program", "--outcome", "--event" };
    va_list ap;
    audit_filter_init(&f);
    va_start(ap, c);
    for (const char *opt; (opt = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        int field = -1;
        for (int k = 0; k < AUDIT_FILTER_FIELDS; k++)
            if (strcmp(names[k], opt) == 0)
                field = k;
        assert_true(field >= 0);
        if (audit_filter_add(&f, (enum audit_filter_field)field, v, err, sizeof(err)) != 0)
            fail_msg("%s %s: %s", opt, v, err);
    }
    va_end(ap);
    memset(c, 0, sizeof(*c));
    c->f = &f;
    assert_int_equal(audit_scan_files(files, 1, collect_fn, c, &st, err, sizeof(err)), 0);
    assert_int_equal(st.records, 18);
    assert_int_equal(st.malformed, 0);
    return c->n;
}

static void assert_seqs(const struct collect *c, const int64_t *want, size_t n)
{
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(c->seqs[i], want[i]);
}

static void test_filters(void **state)
{
    struct collect c;
    (void)state;
    assert_int_equal(matches(&c, NULL), 18);
    /* The holder's name, case and accents ignored. */
    static const int64_t an[] = { 2, 3, 4, 6, 12, 18 };
    matches(&c, "--person", "nguyen van an", NULL);
    assert_seqs(&c, an, 6);
    matches(&c, "--person", "NGUYỄN", NULL);
    assert_seqs(&c, an, 6);
    static const int64_t binh[] = { 5, 14, 15, 16, 17 };
    matches(&c, "--person", "BÌNH", NULL);
    assert_seqs(&c, binh, 5);
    assert_int_equal(matches(&c, "--person", "bac ninh", NULL), 1); /* the organisation's own certificate */
    assert_int_equal(matches(&c, "--person", "jr.", NULL), 1);
    assert_int_equal(matches(&c, "--person", "nobody", NULL), 0);
    /* Certificates: SHA-256 prefix (any case, colons) or serial (leading zeros ignored). */
    matches(&c, "--cert", "e8b359da", NULL);
    assert_seqs(&c, an, 6);
    matches(&c, "--cert", "E8:B3:59:DA", NULL);
    assert_seqs(&c, an, 6);
    matches(&c, "--cert", "6E280C6B88D4B0CAF2B0EB4ED152C771", NULL);
    assert_seqs(&c, an, 6);
    matches(&c, "--cert", "c1d2e3", NULL);
    assert_seqs(&c, binh, 5);
    matches(&c, "--cert", "00C1D2E3", NULL);
    assert_seqs(&c, binh, 5);
    assert_int_equal(matches(&c, "--cert", "7a00", NULL), 1);
    assert_int_equal(matches(&c, "--cert", "1234", NULL), 1);
    assert_int_equal(matches(&c, "--cert", "c1d2", NULL), 0); /* a serial must be whole */
    /* Token, program (or the base name of exe), outcome, event. */
    static const int64_t tok_a[] = { 2, 3, 4, 6, 8, 9, 10, 11, 12, 18 };
    matches(&c, "--token", "AA5F9CA63C9AE39B", NULL);
    assert_seqs(&c, tok_a, 10);
    static const int64_t soffice[] = { 2, 3, 5, 6, 7, 12, 14, 15, 16, 18 };
    matches(&c, "--program", "soffice.bin", NULL);
    assert_seqs(&c, soffice, 10);
    assert_int_equal(matches(&c, "--program", "pkcs11-tool", NULL), 5);
    assert_int_equal(matches(&c, "--program", "SOFFICE.BIN", NULL), 0);
    static const int64_t signed_ok[] = { 2, 3, 4, 5, 13, 14, 18 };
    matches(&c, "--event", "sign", "--outcome", "ok", NULL);
    assert_seqs(&c, signed_ok, 7);
    static const int64_t failed[] = { 6, 7, 8, 9, 10, 12, 16 };
    matches(&c, "--outcome", "failed", NULL);
    assert_seqs(&c, failed, 7);
    assert_int_equal(matches(&c, "--outcome", "CKR_PIN_INCORRECT", NULL), 2);
    assert_int_equal(matches(&c, "--outcome", "ckr_pin_locked", NULL), 1);
    assert_int_equal(matches(&c, "--event", "pin_locked", NULL), 1);
    /* A field given twice matches either value; different fields all. */
    assert_int_equal(matches(&c, "--event", "sign", "--event", "refusal", NULL), 11);
    static const int64_t an_refused[] = { 6 };
    matches(&c, "--event", "refusal", "--person", "van an", NULL);
    assert_seqs(&c, an_refused, 1);
    assert_int_equal(matches(&c, "--event", "refusal", "--person", "an", NULL), 2); /* "an" is in "Trần" too */
    assert_int_equal(matches(&c, "--event", "refusal", "--person", "van an", "--token", "bb01020304050607", NULL),
                     0);
    /* Time: both ends inclusive at the precision written. */
    static const int64_t turn[] = { 13, 14 };
    matches(&c, "--from", "2026-06-30", "--to", "2026-07-01", NULL);
    assert_seqs(&c, turn, 2);
    assert_int_equal(matches(&c, "--to", "2026-06-30T23:59:59Z", NULL), 13);
    assert_int_equal(matches(&c, "--to", "2026-06-30T23:59:59.998Z", NULL), 12);
    assert_int_equal(matches(&c, "--from", "2026-06-30T23:59:59.999Z", "--to", "2026-06-30T23:59:59.999Z", NULL),
                     1);
    assert_int_equal(matches(&c, "--from", "2026-07-01T07:00:00+07:00", NULL), 5);
    assert_int_equal(matches(&c, "--from", "2026-01-01", "--to", "2026-12-31", NULL), 15);
}

static void test_filter_errors(void **state)
{
    static struct audit_filter f;
    char err[300];
    (void)state;
    static const struct {
        enum audit_filter_field field;
        const char *value;
    } bad[] = {
        { AUDIT_FILTER_FROM, "yesterday" },   { AUDIT_FILTER_TO, "2026-06-31" },
        { AUDIT_FILTER_FROM, "2026-01-01T00:00:00" }, { AUDIT_FILTER_CERT, "xyz" },
        { AUDIT_FILTER_CERT, "::" },          { AUDIT_FILTER_OUTCOME, "PIN_INCORRECT" },
        { AUDIT_FILTER_OUTCOME, "CKR_" },     { AUDIT_FILTER_OUTCOME, "CKR_PIN INCORRECT" },
        { AUDIT_FILTER_EVENT, "signature" },  { AUDIT_FILTER_TOKEN, "" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        audit_filter_init(&f);
        err[0] = '\0';
        assert_int_equal(audit_filter_add(&f, bad[i].field, bad[i].value, err, sizeof(err)), -1);
        assert_true(strlen(err) > 5);
    }
    audit_filter_init(&f);
    assert_int_equal(audit_filter_add(&f, AUDIT_FILTER_FROM, "2026-07-01", err, sizeof(err)), 0);
    assert_int_equal(audit_filter_add(&f, AUDIT_FILTER_TO, "2026-06-30", err, sizeof(err)), -1);
    assert_int_equal(audit_filter_add(&f, AUDIT_FILTER_FROM, "2026-07-02", err, sizeof(err)), -1); /* twice */
    audit_filter_init(&f);
    for (int i = 0; i < AUDIT_FILTER_VALUES; i++)
        assert_int_equal(audit_filter_add(&f, AUDIT_FILTER_EVENT, "sign", err, sizeof(err)), 0);
    assert_int_equal(audit_filter_add(&f, AUDIT_FILTER_EVENT, "sign", err, sizeof(err)), -1);
}

/* ---- CSV ---- */

static char *csv_of(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    audit_csv_field(f, text);
    fclose(f);
    return buf;
}

static void test_csv_field(void **state)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        { "plain", "plain" },
        { "Nguyễn Văn An", "Nguyễn Văn An" },
        { "a,b", "\"a,b\"" },
        { "say \"hi\"", "\"say \"\"hi\"\"\"" },
        { "line 1\nline 2", "\"line 1\nline 2\"" },
        { "cr\rlf", "\"cr\rlf\"" },
        { "Lê Văn C, Jr.", "\"Lê Văn C, Jr.\"" },
        { "=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0" },
        { "+1", "'+1" },
        { "-1", "'-1" },
        { "@SUM(A1)", "'@SUM(A1)" },
        { "=a,\"b\"", "\"'=a,\"\"b\"\"\"" },
        { "", "" },
        { NULL, "" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *got = csv_of(v[i].in);
        assert_string_equal(got, v[i].out);
        free(got);
    }
}

/* A strict RFC 4180 reader for the tests: rows end with CRLF; a quoted
 * field may hold anything, with quotes doubled. */
#define CSV_MAX_ROWS 512
#define CSV_MAX_FIELDS 40
struct csv {
    size_t rows, nf[CSV_MAX_ROWS];
    char *f[CSV_MAX_ROWS][CSV_MAX_FIELDS];
};

static void csv_parse(const char *s, size_t len, struct csv *c)
{
    size_t i = 0;
    memset(c, 0, sizeof(*c));
    while (i < len) {
        assert_true(c->rows < CSV_MAX_ROWS);
        for (;;) {
            char *field = malloc(len + 1);
            size_t o = 0;
            assert_non_null(field);
            if (i < len && s[i] == '"') {
                i++;
                for (;;) {
                    assert_true(i < len); /* an unterminated quote */
                    if (s[i] == '"') {
                        if (i + 1 < len && s[i + 1] == '"') {
                            field[o++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    field[o++] = s[i++];
                }
            } else {
                while (i < len && s[i] != ',' && s[i] != '\r' && s[i] != '\n') {
                    assert_true(s[i] != '"'); /* a bare quote */
                    field[o++] = s[i++];
                }
            }
            field[o] = '\0';
            assert_true(c->nf[c->rows] < CSV_MAX_FIELDS);
            c->f[c->rows][c->nf[c->rows]++] = field;
            if (i < len && s[i] == ',') {
                i++;
                continue;
            }
            assert_true(i + 1 < len + 1 && s[i] == '\r' && s[i + 1] == '\n'); /* CRLF ends every row */
            i += 2;
            break;
        }
        c->rows++;
    }
}

static void csv_free(struct csv *c)
{
    for (size_t r = 0; r < c->rows; r++)
        for (size_t k = 0; k < c->nf[r]; k++)
            free(c->f[r][k]);
}

static const char *csv_get(const struct csv *c, size_t row, const char *column)
{
    for (size_t k = 0; k < c->nf[0]; k++)
        if (strcmp(c->f[0][k], column) == 0)
            return c->f[row][k];
    fail_msg("no column %s", column);
    return NULL;
}

struct export_run {
    struct audit_filter f;
    struct audit_export x;
};

static int export_fn(const struct audit_record *r, void *arg)
{
    struct export_run *e = arg;
    if (audit_filter_match(&e->f, r))
        audit_export_record(&e->x, r);
    return 0;
}

/* Exports the fixture (with an optional event filter) into a string. */
static char *export_fixture(enum audit_export_format format, const char *event, bool bom, size_t *len)
{
    static struct export_run e;
    struct audit_scan_stats st;
    char err[300], *buf = NULL;
    const char *files[] = { FIXTURE };
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    audit_filter_init(&e.f);
    if (event)
        assert_int_equal(audit_filter_add(&e.f, AUDIT_FILTER_EVENT, event, err, sizeof(err)), 0);
    audit_export_begin(&e.x, f, format, bom);
    assert_int_equal(audit_scan_files(files, 1, export_fn, &e, &st, err, sizeof(err)), 0);
    assert_int_equal(audit_export_end(&e.x), 0);
    fclose(f);
    return buf;
}

static void test_export_csv(void **state)
{
    static struct csv c;
    size_t len;
    (void)state;
    char *out = export_fixture(AUDIT_EXPORT_CSV, NULL, false, &len);
    csv_parse(out, len, &c);
    assert_int_equal(c.rows, 19); /* the header and 18 records */
    assert_int_equal(c.nf[0], audit_csv_ncolumns);
    for (size_t k = 0; k < audit_csv_ncolumns; k++)
        assert_string_equal(c.f[0][k], audit_csv_columns[k]);
    /* The header's names are stable: these are what scripts use. */
    assert_string_equal(c.f[0][0], "seq");
    assert_string_equal(c.f[0][1], "time");
    assert_string_equal(c.f[0][2], "event");
    assert_string_equal(c.f[0][15], "cert_cn");
    for (size_t r = 1; r < c.rows; r++)
        assert_int_equal(c.nf[r], audit_csv_ncolumns);
    /* Record 13: quoting of commas, quotes, a newline; Vietnamese as is;
     * a program name that would be a spreadsheet formula. */
    assert_string_equal(csv_get(&c, 13, "seq"), "13");
    assert_string_equal(csv_get(&c, 13, "cert_cn"), LE);
    assert_string_equal(csv_get(&c, 13, "cert_title"), LE_TITLE);
    assert_string_equal(csv_get(&c, 13, "cert_organization"), "Sở Tư pháp");
    assert_string_equal(csv_get(&c, 13, "detail"), "dòng 1\ndòng 2, \"trích\"");
    assert_string_equal(csv_get(&c, 13, "program"), "'=cmd|' /C calc'!A0");
    assert_string_equal(csv_get(&c, 13, "time"), "2026-06-30T23:59:59.999Z");
    assert_string_equal(csv_get(&c, 7, "detail"), "custodian is \"vanthu\", not khach");
    assert_string_equal(csv_get(&c, 7, "rule"), "M4");
    assert_string_equal(csv_get(&c, 2, "cert_cn"), AN);
    assert_string_equal(csv_get(&c, 2, "cert_sha256"), AN_SHA);
    assert_string_equal(csv_get(&c, 2, "uid"), "1000");
    assert_string_equal(csv_get(&c, 2, "input_len"), "6");
    assert_string_equal(csv_get(&c, 2, "line"), "2");
    assert_string_equal(csv_get(&c, 5, "program"), ""); /* absent in the record: empty, not the exe's name */
    assert_string_equal(csv_get(&c, 8, "cert_cn"), "");
    csv_free(&c);
    free(out);

    out = export_fixture(AUDIT_EXPORT_CSV, "refusal", true, &len);
    assert_memory_equal(out, "\xEF\xBB\xBFseq,", 7);
    csv_parse(out + 3, len - 3, &c);
    assert_int_equal(c.rows, 4);
    csv_free(&c);
    free(out);
}

static void test_export_json(void **state)
{
    size_t len;
    (void)state;
    char *out = export_fixture(AUDIT_EXPORT_JSON, "sign", false, &len);
    json_object *arr = json_tokener_parse(out);
    assert_non_null(arr);
    assert_true(json_object_is_type(arr, json_type_array));
    assert_int_equal(json_object_array_length(arr), 8);
    static const int64_t seqs[] = { 2, 3, 4, 5, 12, 13, 14, 18 };
    for (size_t i = 0; i < 8; i++) {
        json_object *seq;
        assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, i), "seq", &seq));
        assert_int_equal(json_object_get_int64(seq), seqs[i]);
    }
    json_object_put(arr);
    free(out);

    out = export_fixture(AUDIT_EXPORT_JSON, "pin_change", false, &len); /* nothing matches */
    assert_string_equal(out, "[]\n");
    free(out);

    /* JSON Lines without a filter: the log itself, byte for byte. */
    out = export_fixture(AUDIT_EXPORT_JSONL, NULL, false, &len);
    FILE *f = fopen(FIXTURE, "rb");
    assert_non_null(f);
    char *orig = malloc(len + 2);
    assert_non_null(orig);
    assert_int_equal(fread(orig, 1, len + 1, f), len);
    fclose(f);
    assert_memory_equal(out, orig, len);
    free(orig);
    free(out);
}

/* ---- the report ---- */

static struct audit_report *report_of(const char *period, struct audit_scan_stats *st)
{
    struct audit_period p;
    char err[300];
    const char *files[] = { FIXTURE };
    assert_int_equal(audit_period_parse(period, &p, err, sizeof(err)), 0);
    struct audit_report *rep = audit_report_new(&p);
    assert_non_null(rep);
    assert_int_equal(audit_scan_files(files, 1, audit_report_add_fn, rep, st, err, sizeof(err)), 0);
    return rep;
}

static void expect(const struct audit_report *rep, enum audit_report_table t, const char *k1, const char *k2,
                   const char *k3, uint64_t records, uint64_t signed_ok, uint64_t refused, uint64_t failed,
                   uint64_t pin_failures, uint64_t pin_locked)
{
    struct audit_report_counts c;
    if (!audit_report_get(rep, t, k1, k2, k3, &c))
        fail_msg("table %d: no row %s / %s / %s", (int)t, k1 ? k1 : "(null)", k2 ? k2 : "(null)",
                 k3 ? k3 : "(null)");
    assert_int_equal(c.records, records);
    assert_int_equal(c.signed_ok, signed_ok);
    assert_int_equal(c.refused, refused);
    assert_int_equal(c.failed, failed);
    assert_int_equal(c.pin_failures, pin_failures);
    assert_int_equal(c.pin_locked, pin_locked);
}

static void test_report_h1(void **state)
{
    struct audit_scan_stats st;
    struct audit_report_counts c;
    (void)state;
    struct audit_report *rep = report_of("2026-H1", &st);
    const struct audit_report_totals *t = audit_report_totals(rep);
    /* Records 3..13 are in H1: 2026-01-01T00:00:00.000Z and 2026-06-30T23:59:59.999Z
     * are inside, 2025-12-31T23:59:59.999Z and 2026-07-01T00:00:00.000Z are not. */
    assert_int_equal(t->records, 11);
    assert_int_equal(t->usage, 11);
    assert_int_equal(t->outside, 7);
    assert_int_equal(t->first, t_ms("2026-01-01T00:00:00.000Z"));
    assert_int_equal(t->last, t_ms("2026-06-30T23:59:59.999Z"));
    assert_int_equal(t->signed_ok, 4);
    assert_int_equal(t->sign_failed, 1);
    assert_int_equal(t->refused, 2);
    assert_int_equal(t->pin_failures, 2);
    assert_int_equal(t->pin_locked, 1);
    assert_int_equal(t->pin_unblocks, 1);
    assert_int_equal(t->pin_changes, 0);
    assert_int_equal(t->decrypt, 0);
    assert_int_equal(t->admin_writes, 0);
    assert_int_equal(t->other_failed, 0);

    /* Agencies (the certificate's O; from the subject when the record has no "organization"). */
    expect(rep, AUDIT_T_AGENCY, AN_ORG, NULL, NULL, 4, 2, 1, 1, 0, 0);
    expect(rep, AUDIT_T_AGENCY, BINH_ORG, NULL, NULL, 2, 1, 1, 0, 0, 0);
    expect(rep, AUDIT_T_AGENCY, "Sở Tư pháp", NULL, NULL, 1, 1, 0, 0, 0, 0);
    expect(rep, AUDIT_T_AGENCY, NULL, NULL, NULL, 4, 0, 0, 0, 2, 1); /* PIN events carry no certificate */
    assert_int_equal(audit_report_keys(rep, AUDIT_T_AGENCY, NULL), 4);
    /* Persons: name, title, agency. */
    expect(rep, AUDIT_T_PERSON, AN, AN_TITLE, AN_ORG, 4, 2, 1, 1, 0, 0);
    expect(rep, AUDIT_T_PERSON, BINH, "Phó Giám đốc", BINH_ORG, 1, 1, 0, 0, 0, 0);
    expect(rep, AUDIT_T_PERSON, BINH_ORG, NULL, BINH_ORG, 1, 0, 1, 0, 0, 0);
    expect(rep, AUDIT_T_PERSON, LE, LE_TITLE, "Sở Tư pháp", 1, 1, 0, 0, 0, 0);
    assert_false(audit_report_get(rep, AUDIT_T_PERSON, AN, NULL, AN_ORG, &c));
    /* Certificates, tokens, programs, users, outcomes. */
    expect(rep, AUDIT_T_CERT, AN_SHA, "6e280c6b88d4b0caf2b0eb4ed152c771", NULL, 4, 2, 1, 1, 0, 0);
    expect(rep, AUDIT_T_CERT, "5b1c0d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081920", "00c1d2e3", NULL,
           1, 1, 0, 0, 0, 0);
    expect(rep, AUDIT_T_TOKEN, TOKEN_A, NULL, NULL, 8, 2, 1, 1, 2, 1);
    expect(rep, AUDIT_T_TOKEN, "bb01020304050607", NULL, NULL, 1, 1, 0, 0, 0, 0);
    expect(rep, AUDIT_T_TOKEN, "cc00000000000001", NULL, NULL, 1, 0, 1, 0, 0, 0);
    expect(rep, AUDIT_T_PROGRAM, "soffice.bin", NULL, NULL, 5, 2, 2, 1, 0, 0); /* record 5 by its exe */
    expect(rep, AUDIT_T_PROGRAM, "pkcs11-tool", NULL, NULL, 5, 1, 0, 0, 2, 1);
    expect(rep, AUDIT_T_PROGRAM, "=cmd|' /C calc'!A0", NULL, NULL, 1, 1, 0, 0, 0, 0);
    expect(rep, AUDIT_T_USER, "an", "pc-01", NULL, 8, 2, 1, 1, 2, 1);
    expect(rep, AUDIT_T_USER, "khach", "pc-03", NULL, 1, 0, 1, 0, 0, 0);
    assert_true(audit_report_get(rep, AUDIT_T_OUTCOME, "CKR_OK", NULL, NULL, &c));
    assert_int_equal(c.records, 5);
    assert_true(audit_report_get(rep, AUDIT_T_OUTCOME, "CKR_PIN_INCORRECT", NULL, NULL, &c));
    assert_int_equal(c.records, 2);
    assert_true(audit_report_get(rep, AUDIT_T_OUTCOME, "CKR_DEVICE_ERROR", NULL, NULL, &c));
    assert_int_equal(c.records, 1);
    /* Refusals by rule: every rule has a row. */
    assert_true(audit_report_get(rep, AUDIT_T_RULE, "M1", NULL, NULL, &c));
    assert_int_equal(c.records, 1);
    assert_true(audit_report_get(rep, AUDIT_T_RULE, "M4", NULL, NULL, &c));
    assert_int_equal(c.records, 1);
    assert_true(audit_report_get(rep, AUDIT_T_RULE, "M16", NULL, NULL, &c));
    assert_int_equal(c.records, 0);
    assert_int_equal(audit_report_keys(rep, AUDIT_T_RULE, NULL), 16);
    assert_true(audit_report_get(rep, AUDIT_T_EVENT, "sign", NULL, NULL, &c));
    assert_int_equal(c.records, 5);
    assert_false(audit_report_get(rep, AUDIT_T_EVENT, "log_start", NULL, NULL, &c)); /* that one is in 2025 */
    audit_report_free(rep);
}

static void test_report_periods(void **state)
{
    struct audit_scan_stats st;
    struct audit_report_counts c;
    (void)state;
    struct audit_report *rep = report_of("2026-H2", &st);
    const struct audit_report_totals *t = audit_report_totals(rep);
    assert_int_equal(t->records, 4);
    assert_int_equal(t->outside, 14);
    assert_int_equal(t->first, t_ms("2026-07-01T00:00:00.000Z"));
    assert_int_equal(t->last, t_ms("2026-10-01T12:00:00.000Z"));
    assert_int_equal(t->signed_ok, 1);
    assert_int_equal(t->refused, 1);
    assert_int_equal(t->decrypt, 1);
    assert_int_equal(t->admin_writes, 1);
    audit_report_free(rep);

    rep = report_of("2026", &st);
    t = audit_report_totals(rep);
    assert_int_equal(t->records, 15);
    assert_int_equal(t->signed_ok, 5);
    assert_int_equal(t->refused, 3);
    assert_true(audit_report_get(rep, AUDIT_T_RULE, "M1", NULL, NULL, &c));
    assert_int_equal(c.records, 2);
    expect(rep, AUDIT_T_PERSON, BINH, "Phó Giám đốc", BINH_ORG, 5, 2, 1, 0, 0, 0);
    audit_report_free(rep);

    rep = report_of("2025", &st);
    t = audit_report_totals(rep);
    assert_int_equal(t->records, 2);
    assert_int_equal(t->usage, 1); /* log_start is not token use */
    assert_true(audit_report_get(rep, AUDIT_T_EVENT, "log_start", NULL, NULL, &c));
    assert_int_equal(c.records, 1);
    assert_false(audit_report_get(rep, AUDIT_T_PROGRAM, "kyso", NULL, NULL, &c));
    audit_report_free(rep);

    rep = report_of("2026-04-02..2026-04-02", &st);
    t = audit_report_totals(rep);
    assert_int_equal(t->records, 3);
    assert_int_equal(t->pin_failures, 2);
    assert_int_equal(t->pin_locked, 1);
    audit_report_free(rep);

    rep = report_of("2030", &st);
    t = audit_report_totals(rep);
    assert_int_equal(t->records, 0);
    assert_true(t->first > t->last);
    audit_report_free(rep);
}

static char *report_text(const char *period, enum audit_report_format format, size_t *len)
{
    struct audit_scan_stats st;
    char *buf = NULL;
    const char *files[] = { FIXTURE };
    struct audit_report *rep = report_of(period, &st);
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    assert_int_equal(audit_report_write(rep, f, format, files, 1, &st), 0);
    fclose(f);
    audit_report_free(rep);
    return buf;
}

static void test_report_outputs(void **state)
{
    size_t len;
    (void)state;
    /* Text: Vietnamese labels with English, the period, the footer. */
    char *out = report_text("2026-H1", AUDIT_REPORT_TEXT, &len);
    assert_non_null(strstr(out, "Theo cơ quan (by agency)"));
    assert_non_null(strstr(out, "Theo người ký (by person)"));
    assert_non_null(strstr(out, "Từ chối theo quy tắc (refusals by rule)"));
    assert_non_null(strstr(out, "2026-H1: 2026-01-01T00:00:00.000Z .. 2026-06-30T23:59:59.999Z"));
    assert_non_null(strstr(out, "integrity: run kyso audit verify"));
    assert_non_null(strstr(out, "Nguyễn Văn An (Chuyên viên)"));
    assert_null(strstr(out, "dòng 1\n")); /* nothing from a record breaks a line of the table */
    /* Aligned: every row of the agency table is as wide as its header. */
    const char *tab = strstr(out, "Theo cơ quan (by agency)\n");
    assert_non_null(tab);
    tab = strchr(tab, '\n') + 1;
    size_t width = 0, rows = 0;
    while (*tab && *tab != '\n') {
        const char *eol = strchr(tab, '\n');
        assert_non_null(eol);
        size_t w = 0;
        for (const char *q = tab; q < eol; q++)
            w += (*q & 0xC0) != 0x80; /* one column per code point */
        if (rows++ == 0)
            width = w;
        assert_int_equal(w, width);
        tab = eol + 1;
    }
    assert_int_equal(rows, 2 + 4); /* two header rows, four agencies */
    free(out);

    /* CSV: the long format section,key,label,metric,value. */
    static struct csv c;
    out = report_text("2026-H1", AUDIT_REPORT_CSV, &len);
    csv_parse(out, len, &c);
    assert_string_equal(c.f[0][0], "section");
    assert_string_equal(c.f[0][4], "value");
    bool agency = false, person = false, rule = false, pin = false, integrity = false, from = false;
    for (size_t r = 1; r < c.rows; r++) {
        assert_int_equal(c.nf[r], 5);
        char **f = c.f[r];
        if (!strcmp(f[0], "agency") && !strcmp(f[1], AN_ORG) && !strcmp(f[3], "signed"))
            agency = !strcmp(f[4], "2");
        if (!strcmp(f[0], "person") && !strcmp(f[1], LE " (" LE_TITLE ")") && !strcmp(f[3], "records"))
            person = !strcmp(f[2], "Sở Tư pháp") && !strcmp(f[4], "1");
        if (!strcmp(f[0], "rule") && !strcmp(f[1], "M4"))
            rule = !strcmp(f[3], "refusals") && !strcmp(f[4], "1");
        if (!strcmp(f[0], "totals") && !strcmp(f[1], "pin_lockouts"))
            pin = !strcmp(f[4], "1");
        if (!strcmp(f[0], "report") && !strcmp(f[1], "period") && !strcmp(f[3], "from"))
            from = !strcmp(f[4], "2026-01-01T00:00:00.000Z");
        if (!strcmp(f[0], "report") && !strcmp(f[1], "integrity"))
            integrity = strstr(f[4], "integrity: run kyso audit verify") != NULL;
    }
    assert_true(agency);
    assert_true(person);
    assert_true(rule);
    assert_true(pin);
    assert_true(from);
    assert_true(integrity);
    csv_free(&c);
    free(out);

    /* JSON. */
    out = report_text("2026-H1", AUDIT_REPORT_JSON, &len);
    json_object *root = json_tokener_parse(out), *v, *arr;
    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, "records_in_period", &v));
    assert_int_equal(json_object_get_int64(v), 11);
    assert_true(json_object_object_get_ex(root, "first_record", &v));
    assert_string_equal(json_object_get_string(v), "2026-01-01T00:00:00.000Z");
    assert_true(json_object_object_get_ex(root, "totals", &v));
    assert_true(json_object_object_get_ex(v, "signatures_made", &v));
    assert_int_equal(json_object_get_int64(v), 4);
    assert_true(json_object_object_get_ex(root, "persons", &arr));
    assert_int_equal(json_object_array_length(arr), 5);
    json_object *first = json_object_array_get_idx(arr, 0); /* sorted by records: An (4) and "none" (4), An first */
    assert_true(json_object_object_get_ex(first, "name", &v));
    assert_string_equal(json_object_get_string(v), AN);
    assert_true(json_object_object_get_ex(first, "records", &v));
    assert_int_equal(json_object_get_int64(v), 4);
    assert_true(json_object_object_get_ex(root, "refusals_by_rule", &arr));
    assert_int_equal(json_object_array_length(arr), 16);
    assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 3), "rule", &v));
    assert_string_equal(json_object_get_string(v), "M4");
    assert_true(json_object_object_get_ex(root, "integrity", &v));
    assert_non_null(strstr(json_object_get_string(v), "integrity: run kyso audit verify"));
    json_object_put(root);
    free(out);
}

/* ---- malformed input ---- */

static void test_malformed(void **state)
{
    (void)state;
    static const char good[] = "{\"v\":1,\"seq\":1,\"time\":\"2026-01-02T03:04:05.006Z\",\"event\":\"sign\","
                               "\"outcome\":\"CKR_OK\"}";
    char *data = malloc(200000);
    size_t n = 0;
    assert_non_null(data);
#define ADD(s) (memcpy(data + n, s, sizeof(s) - 1), n += sizeof(s) - 1)
    ADD(good);
    ADD("\n");
    ADD("garbage\n");                                                                  /* 2 */
    ADD("\n");                                                                         /* 3: empty */
    ADD("{\"v\":1,\"time\":\"2026-01-01T00:00:00.000Z\"\n");                           /* 4: cut */
    ADD("[1,2,3]\n");                                                                  /* 5 */
    ADD("{\"v\":1,\"event\":\"sign\"}\n");                                             /* 6: no time */
    ADD("{\"time\":\"2026-13-01T00:00:00.000Z\",\"event\":\"sign\"}\n");               /* 7: bad time */
    ADD("{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"sign\",\"user\":\"\xff\xfe\"}\n"); /* 8: not UTF-8 */
    ADD("{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"sign\"} {}\n");            /* 9: trailing */
    ADD("{\"time\":\"2026-01-01T00:00:00.000Z\",\"ev\0nt\":\"sign\"}\n");              /* 10: NUL byte */
    ADD("{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"sign\",\"user\":\"a\\u0000b\"}\n"); /* 11 */
    ADD("{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":5}\n");                      /* 12: event not a string */
    memset(data + n, 'x', AUDIT_LINES_MAX + 10);                                       /* 13: too long */
    n += AUDIT_LINES_MAX + 10;
    ADD("\n");
    ADD("{'time':'2026-01-01T00:00:00.000Z','event':'sign'}\n");                       /* 14: not strict JSON */
    ADD(good);                                                                         /* 15: CRLF is fine */
    ADD("\r\n");
    ADD(good); /* 16: no newline: incomplete */
#undef ADD
    char *path = temp_file(data, n);
    const char *files[] = { path };
    struct audit_scan_stats st;
    char err[300];
    struct audit_period p;
    assert_int_equal(audit_period_parse("2026", &p, err, sizeof(err)), 0);
    struct audit_report *rep = audit_report_new(&p);
    assert_non_null(rep);
    assert_int_equal(audit_scan_files(files, 1, audit_report_add_fn, rep, &st, err, sizeof(err)), 0);
    assert_int_equal(st.lines, 15);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.malformed, 13);
    assert_int_equal(st.incomplete, 1);
    assert_int_equal(st.nexamples, AUDIT_SCAN_EXAMPLES);
    assert_int_equal(st.examples[0].line, 2);
    assert_string_equal(st.examples[0].reason, "not JSON");
    assert_int_equal(st.examples[1].line, 3);
    assert_int_equal(st.examples[2].line, 4);
    assert_int_equal(st.examples[3].line, 5);
    assert_string_equal(st.examples[3].reason, "not a JSON object");
    assert_string_equal(st.examples[4].reason, "no valid time");
    assert_int_equal(audit_report_totals(rep)->signed_ok, 2);
    /* The report says so. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(audit_report_write(rep, f, AUDIT_REPORT_JSON, files, 1, &st), 0);
    fclose(f);
    json_object *root = json_tokener_parse(buf), *v;
    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, "malformed_lines", &v));
    assert_int_equal(json_object_get_int64(v), 13);
    assert_true(json_object_object_get_ex(root, "incomplete_lines", &v));
    assert_int_equal(json_object_get_int64(v), 1);
    json_object_put(root);
    free(buf);
    audit_report_free(rep);

    /* Each reason on its own. */
    struct audit_parser *parser = audit_parser_new();
    struct audit_record rec;
    const char *why;
    static const struct {
        const char *line, *reason;
    } v2[] = {
        { "{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"sign\",\"user\":\"\xc3\"}", "not UTF-8" },
        { "{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"sign\"} {}", "data after the record" },
        { "{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"sign\",\"user\":\"a\\u0000b\"}",
          "a NUL character in a field" },
        { "{\"time\":\"2026-01-01T00:00:00\",\"event\":\"sign\"}", "no valid time" },
        { "{\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"\"}", "no event" },
        { "   ", "empty line" },
    };
    for (size_t i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
        assert_int_equal(audit_parser_parse(parser, v2[i].line, strlen(v2[i].line), &rec, &why), -1);
        assert_string_equal(why, v2[i].reason);
    }
    audit_parser_free(parser);
    unlink(path);
    free(path);
    free(data);
}

static void test_unreadable(void **state)
{
    struct audit_scan_stats st;
    char err[300];
    (void)state;
    const char *missing[] = { FIXTURE, "/nonexistent/kyso-audit.log" };
    struct collect c = { 0 };
    err[0] = '\0';
    assert_int_equal(audit_scan_files(missing, 2, collect_fn, &c, &st, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/kyso-audit.log"));
    assert_int_equal(st.records, 0); /* nothing was read before the error */
    const char *dir[] = { "/tmp" };
    assert_int_equal(audit_scan_files(dir, 1, collect_fn, &c, &st, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "directory"));
}

/* ---- the line reader and tail ---- */

static void test_lines_and_tail(void **state)
{
    (void)state;
    static const char data[] = "one\ntwo\r\nthree\nfour\nfive\nsix-partial";
    char *path = temp_file(data, sizeof(data) - 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint64_t start, end;
    assert_int_equal(audit_tail_offsets(fd, 2, &start, &end), 0);
    assert_int_equal(start, strlen("one\ntwo\r\nthree\n"));
    assert_int_equal(end, strlen("one\ntwo\r\nthree\nfour\nfive\n"));
    assert_int_equal(audit_tail_offsets(fd, 0, &start, &end), 0);
    assert_int_equal(start, end);
    assert_int_equal(audit_tail_offsets(fd, 1000, &start, &end), 0);
    assert_int_equal(start, 0);
    assert_int_equal(audit_tail_offsets(fd, 5, &start, &end), 0);
    assert_int_equal(start, 0);
    assert_int_equal(audit_tail_offsets(fd, 4, &start, &end), 0);
    assert_int_equal(start, 4);

    struct audit_lines lr;
    const char *line;
    size_t len;
    assert_int_equal(lseek(fd, (off_t)4, SEEK_SET), 4);
    assert_int_equal(audit_lines_fdopen(&lr, fd, 4), 0);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_OK);
    assert_int_equal(len, 4); /* "two\r": the parser strips the CR */
    assert_memory_equal(line, "two\r", 4);
    assert_int_equal(lr.pos, 9);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_OK);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_OK);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_OK);
    assert_memory_equal(line, "five", 4);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_PARTIAL);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_PARTIAL); /* not consumed */
    /* The writer completes the line: follow mode picks it up. */
    int wfd = open(path, O_WRONLY | O_APPEND);
    assert_true(wfd >= 0);
    assert_int_equal(write(wfd, "\nseven\n", 7), 7);
    close(wfd);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_OK);
    assert_int_equal(len, strlen("six-partial"));
    assert_memory_equal(line, "six-partial", len);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_OK);
    assert_int_equal(audit_lines_next(&lr, &line, &len), AUDIT_LINE_EOF);
    assert_int_equal(lr.lineno, 6);
    lr.own_fd = true;
    audit_lines_close(&lr);

    /* An empty file and one without any newline. */
    char *empty = temp_file("", 0);
    fd = open(empty, O_RDONLY);
    assert_int_equal(audit_tail_offsets(fd, 10, &start, &end), 0);
    assert_int_equal(end, 0);
    close(fd);
    unlink(empty);
    free(empty);
    char *nonl = temp_file("abc", 3);
    fd = open(nonl, O_RDONLY);
    assert_int_equal(audit_tail_offsets(fd, 10, &start, &end), 0);
    assert_int_equal(start, 0);
    assert_int_equal(end, 0);
    close(fd);
    unlink(nonl);
    free(nonl);
    unlink(path);
    free(path);
}

static void test_tail_large(void **state)
{
    (void)state;
    /* Lines across the reader's 16 KiB backward chunks. */
    size_t n = 0, cap = 300000;
    char *data = malloc(cap);
    assert_non_null(data);
    for (int i = 1; i <= 20000; i++)
        n += (size_t)snprintf(data + n, cap - n, "line %d\n", i);
    char *path = temp_file(data, n);
    int fd = open(path, O_RDONLY);
    uint64_t start, end;
    assert_int_equal(audit_tail_offsets(fd, 3000, &start, &end), 0);
    assert_int_equal(end, n);
    assert_true(start > 0 && start < n);
    assert_memory_equal(data + start, "line 17001\n", 11);
    close(fd);
    unlink(path);
    free(path);
    free(data);
}

static void test_summary(void **state)
{
    (void)state;
    struct audit_parser *p = audit_parser_new();
    struct audit_record rec;
    const char *why;
    char out[1024];
    static const char line[] =
        "{\"v\":1,\"seq\":9,\"time\":\"2026-03-06T07:30:00.000Z\",\"event\":\"refusal\",\"user\":\"an\","
        "\"program\":\"soffice.bin\",\"token\":\"aa5f\",\"key\":\"81\",\"cert\":{\"subject\":\"CN=Nguyễn Văn "
        "An,title=Chuyên viên,O=Sở\"},\"mechanism\":\"CKM_SHA256_RSA_PKCS\",\"outcome\":\"CKR_FUNCTION_REJECTED\","
        "\"rule\":\"M1\",\"detail\":\"bad\\u001b[31m\\u202eok\\nnext\"}";
    assert_int_equal(audit_parser_parse(p, line, strlen(line), &rec, &why), 0);
    assert_string_equal(rec.cert_cn, AN);
    assert_string_equal(rec.cert_title, AN_TITLE);
    assert_string_equal(rec.cert_organization, "Sở");
    audit_record_summary(&rec, out, sizeof(out));
    assert_non_null(strstr(out, "2026-03-06T07:30:00.000Z  refusal"));
    assert_non_null(strstr(out, "an/soffice.bin  Nguyễn Văn An (Chuyên viên)"));
    assert_non_null(strstr(out, "key 81"));
    assert_non_null(strstr(out, "CKM_SHA256_RSA_PKCS  CKR_FUNCTION_REJECTED  rule M1"));
    assert_non_null(strstr(out, "bad?[31m?ok?next")); /* ESC, RLO and the newline are neutralised */
    assert_null(strchr(out, '\033'));
    assert_null(strchr(out, '\n'));
    audit_record_summary(&rec, out, 20); /* truncated, terminated */
    assert_true(strlen(out) < 20);
    audit_parser_free(p);
}

static void test_key_limit(void **state)
{
    (void)state;
    struct audit_period p;
    char err[300];
    assert_int_equal(audit_period_parse("2026", &p, err, sizeof(err)), 0);
    struct audit_report *rep = audit_report_new(&p);
    assert_non_null(rep);
    audit_report_set_max_keys(rep, 3);
    struct audit_parser *parser = audit_parser_new();
    for (int i = 0; i < 10; i++) {
        char line[256];
        struct audit_record rec;
        const char *why;
        int n = snprintf(line, sizeof(line),
                         "{\"time\":\"2026-05-05T00:00:00.000Z\",\"event\":\"sign\",\"program\":\"prog%d\","
                         "\"outcome\":\"CKR_OK\"}",
                         i % 5);
        assert_int_equal(audit_parser_parse(parser, line, (size_t)n, &rec, &why), 0);
        audit_report_add(rep, &rec);
    }
    uint64_t other;
    assert_int_equal(audit_report_keys(rep, AUDIT_T_PROGRAM, &other), 3);
    assert_int_equal(other, 4); /* prog3 and prog4, twice each */
    struct audit_report_counts c;
    assert_true(audit_report_get(rep, AUDIT_T_PROGRAM, "prog0", NULL, NULL, &c));
    assert_int_equal(c.signed_ok, 2);
    assert_false(audit_report_get(rep, AUDIT_T_PROGRAM, "prog4", NULL, NULL, &c));
    /* The outputs show the "(other)" row. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(audit_report_write(rep, f, AUDIT_REPORT_TEXT, NULL, 0, NULL), 0);
    fclose(f);
    assert_non_null(strstr(buf, "(khác / other"));
    free(buf);
    audit_report_free(rep);

    /* Long keys: the byte budget stops the table before the key count does. */
    rep = audit_report_new(&p);
    assert_non_null(rep);
    char *line = malloc(AUDIT_LINES_MAX);
    assert_non_null(line);
    for (int i = 0; i < 200; i++) {
        struct audit_record rec;
        const char *why;
        int n = snprintf(line, AUDIT_LINES_MAX,
                         "{\"time\":\"2026-05-05T00:00:00.000Z\",\"event\":\"sign\",\"outcome\":\"CKR_OK\","
                         "\"program\":\"%03d%060000d\"}",
                         i, 0);
        assert_int_equal(audit_parser_parse(parser, line, (size_t)n, &rec, &why), 0);
        audit_report_add(rep, &rec);
    }
    size_t keys = audit_report_keys(rep, AUDIT_T_PROGRAM, &other);
    assert_true(keys > 100 && keys < 200);
    assert_int_equal(keys * 60003 <= AUDIT_REPORT_MAX_BYTES, 1);
    assert_int_equal(other, 200 - keys);
    free(line);
    audit_parser_free(parser);
    audit_report_free(rep);
}

/* A "withheld" record takes its signature off the counts: the signature
 * was recorded, then never released. */
static void test_withheld(void **state)
{
    (void)state;
    struct audit_period p;
    char err[300];
    assert_int_equal(audit_period_parse("2026", &p, err, sizeof(err)), 0);
    struct audit_report *rep = audit_report_new(&p);
    struct audit_parser *parser = audit_parser_new();
    assert_non_null(rep);
    static const char *const lines[] = {
        "{\"seq\":2,\"time\":\"2026-05-05T00:00:00.000Z\",\"event\":\"sign\",\"program\":\"p\",\"token\":\"T1\","
        "\"outcome\":\"CKR_OK\"}",
        "{\"seq\":3,\"time\":\"2026-05-05T00:00:01.000Z\",\"event\":\"sign\",\"program\":\"p\",\"token\":\"T1\","
        "\"outcome\":\"CKR_OK\"}",
        "{\"seq\":4,\"time\":\"2026-05-05T00:00:02.000Z\",\"event\":\"withheld\",\"of\":\"sign\",\"ref_seq\":3,"
        "\"program\":\"p\",\"token\":\"T1\",\"outcome\":\"CKR_OK\"}",
        "{\"seq\":5,\"time\":\"2026-05-05T00:00:03.000Z\",\"event\":\"withheld\",\"of\":\"decrypt\",\"ref_seq\":1,"
        "\"program\":\"p\",\"token\":\"T1\",\"outcome\":\"CKR_OK\"}",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct audit_record rec;
        const char *why;
        assert_int_equal(audit_parser_parse(parser, lines[i], strlen(lines[i]), &rec, &why), 0);
        audit_report_add(rep, &rec);
    }
    const struct audit_report_totals *t = audit_report_totals(rep);
    assert_int_equal(t->signed_ok, 1);
    assert_int_equal(t->withheld, 1);
    struct audit_report_counts c;
    assert_true(audit_report_get(rep, AUDIT_T_TOKEN, "T1", NULL, NULL, &c));
    assert_int_equal(c.signed_ok, 1);
    assert_int_equal(c.withheld, 1);
    assert_int_equal(c.records, 4);
    assert_true(audit_event_known("withheld"));
    audit_parser_free(parser);
    audit_report_free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),     cmocka_unit_test(test_period_parse),
        cmocka_unit_test(test_fold_and_dn),    cmocka_unit_test(test_filters),
        cmocka_unit_test(test_filter_errors),  cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_export_csv),     cmocka_unit_test(test_export_json),
        cmocka_unit_test(test_report_h1),      cmocka_unit_test(test_report_periods),
        cmocka_unit_test(test_report_outputs), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unreadable),     cmocka_unit_test(test_lines_and_tail),
        cmocka_unit_test(test_tail_large),     cmocka_unit_test(test_summary),
        cmocka_unit_test(test_key_limit),      cmocka_unit_test(test_withheld),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
