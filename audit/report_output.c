/* The periodic usage report (rule M9, see report.h), its output: the
 * tables sorted and written as text (Vietnamese and English headings),
 * CSV or JSON. The aggregates are report_aggregate.c. */
#include "config.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "audit/report_int.h"

/* ======================================================================
 * The report: output
 * ====================================================================== */

struct table_info {
    const char *title;         /* text heading */
    const char *csv;           /* CSV section */
    const char *json;          /* JSON member */
    const char *key_vi, *key_en;
    const char *label_vi, *label_en; /* NULL: no label column */
    const char *jkeys[3], *jextra[2];
    bool full;                 /* all six counters; else only records */
};

static const struct table_info tables[AUDIT_T_COUNT] = {
    [AUDIT_T_EVENT] = { "Theo sự kiện (by event)", "event", "events", "Sự kiện", "event", NULL, NULL,
                        { "event" }, { NULL }, false },
    [AUDIT_T_AGENCY] = { "Theo cơ quan (by agency)", "agency", "agencies", "Cơ quan", "agency (O)", NULL, NULL,
                         { "organization" }, { NULL }, true },
    [AUDIT_T_PERSON] = { "Theo người ký (by person)", "person", "persons", "Người ký (chức danh)",
                         "person (title)", "Cơ quan", "agency", { "name", "title", "organization" }, { NULL },
                         true },
    [AUDIT_T_CERT] = { "Theo chứng thư số (by certificate)", "certificate", "certificates", "Chứng thư (SHA-256)",
                       "certificate (SHA-256)", "Số hiệu, người ký", "serial, holder", { "sha256", "serial" },
                       { "name", "title" }, true },
    [AUDIT_T_TOKEN] = { "Theo thiết bị (by token)", "token", "tokens", "Thiết bị", "token serial", NULL, NULL,
                        { "token" }, { NULL }, true },
    [AUDIT_T_PROGRAM] = { "Theo chương trình (by program)", "program", "programs", "Chương trình", "program",
                          NULL, NULL, { "program" }, { NULL }, true },
    [AUDIT_T_USER] = { "Theo người dùng máy (by OS user)", "user", "users", "Người dùng", "OS user", "Máy",
                       "host", { "user", "host" }, { NULL }, true },
    [AUDIT_T_OUTCOME] = { "Theo kết quả (by outcome)", "outcome", "outcomes", "Kết quả", "outcome", NULL, NULL,
                          { "outcome" }, { NULL }, false },
    [AUDIT_T_RULE] = { "Từ chối theo quy tắc (refusals by rule)", "rule", "refusals_by_rule", "Quy tắc", "rule",
                       "Nội dung", "what it asks", { "rule" }, { "description" }, false },
};

static const struct {
    const char *vi, *en, *csv;
} metrics[6] = {
    { "Bản ghi", "records", "records" },     { "Đã ký", "signed", "signed" },
    { "Từ chối", "refused", "refused" },     { "Lỗi khác", "failed", "failed" },
    { "Sai PIN", "PIN fail", "pin_failures" }, { "Khóa PIN", "PIN lock", "pin_locked" },
};

static uint64_t metric(const struct audit_report_counts *c, int m)
{
    switch (m) {
    case 0:
        return c->records;
    case 1:
        return c->signed_ok;
    case 2:
        return c->refused;
    case 3:
        return c->failed;
    case 4:
        return c->pin_failures;
    default:
        return c->pin_locked;
    }
}

#define NONE_TEXT "(không có / none)"
#define OTHER_TEXT "(khác / other: beyond the table's limit)"

static int cmp_str_null_last(const char *a, const char *b)
{
    if (!a || !b)
        return a ? -1 : (b ? 1 : 0);
    return strcmp(a, b);
}

static int cmp_by_count(const void *pa, const void *pb)
{
    const struct agg_entry *a = *(const struct agg_entry *const *)pa, *b = *(const struct agg_entry *const *)pb;
    if (a->c.records != b->c.records)
        return a->c.records > b->c.records ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        int c = cmp_str_null_last(a->k[i], b->k[i]);
        if (c)
            return c;
    }
    return 0;
}

static long rule_number(const char *k)
{
    if (!k || k[0] != 'M' || k[1] < '1' || k[1] > '9')
        return LONG_MAX;
    char *end;
    long n = strtol(k + 1, &end, 10);
    return *end ? LONG_MAX : n;
}

static int cmp_rule(const void *pa, const void *pb)
{
    const struct agg_entry *a = *(const struct agg_entry *const *)pa, *b = *(const struct agg_entry *const *)pb;
    long na = rule_number(a->k[0]), nb = rule_number(b->k[0]);
    if (na != nb)
        return na < nb ? -1 : 1;
    return cmp_str_null_last(a->k[0], b->k[0]);
}

/* The table's entries, sorted (the caller frees the array). */
static struct agg_entry **sorted(const struct agg_table *t, enum audit_report_table which)
{
    struct agg_entry **v = calloc(t->n ? t->n : 1, sizeof(*v));
    size_t k = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < t->nb; i++)
        for (struct agg_entry *e = t->b[i]; e; e = e->next)
            v[k++] = e;
    qsort(v, k, sizeof(*v), which == AUDIT_T_RULE ? cmp_rule : cmp_by_count);
    return v;
}

/* The key and label of a row as displayed (text) or as written (CSV). */
static void row_text(enum audit_report_table t, const struct agg_entry *e, bool full, char *key, size_t keylen,
                     char *label, size_t labellen)
{
    char tmp[1200];
    label[0] = '\0';
    switch (t) {
    case AUDIT_T_PERSON:
        if (e->k[0] && e->k[1])
            snprintf(tmp, sizeof(tmp), "%s (%s)", e->k[0], e->k[1]);
        else
            snprintf(tmp, sizeof(tmp), "%s", e->k[0] ? e->k[0] : NONE_TEXT);
        report_clean_text(tmp, key, keylen);
        report_clean_text(e->k[2] ? e->k[2] : (e->k[0] ? NONE_TEXT : ""), label, labellen);
        return;
    case AUDIT_T_CERT:
        if (!e->k[0] && !e->k[1]) {
            snprintf(key, keylen, "%s", NONE_TEXT);
            return;
        }
        if (e->k[0])
            snprintf(tmp, sizeof(tmp), full ? "%s" : "%.16s…", e->k[0]);
        else
            snprintf(tmp, sizeof(tmp), "%s", NONE_TEXT);
        report_clean_text(tmp, key, keylen);
        snprintf(tmp, sizeof(tmp), "serial %s; %s%s%s%s", e->k[1] ? e->k[1] : "?",
                 e->extra[0] ? e->extra[0] : "?", e->extra[1] ? " (" : "", e->extra[1] ? e->extra[1] : "",
                 e->extra[1] ? ")" : "");
        report_clean_text(tmp, label, labellen);
        return;
    case AUDIT_T_USER:
        report_clean_text(e->k[0] ? e->k[0] : NONE_TEXT, key, keylen);
        report_clean_text(e->k[1] ? e->k[1] : "", label, labellen);
        return;
    case AUDIT_T_RULE:
        report_clean_text(e->k[0] ? e->k[0] : "(no rule given)", key, keylen);
        report_clean_text(e->extra[0] ? e->extra[0] : "", label, labellen);
        return;
    default:
        report_clean_text(e->k[0] ? e->k[0] : NONE_TEXT, key, keylen);
        return;
    }
}

static void pad(FILE *out, const char *s, size_t width)
{
    fputs(s, out);
    for (size_t w = report_text_width(s); w < width; w++)
        fputc(' ', out);
}

static size_t num_width(uint64_t v)
{
    size_t w = 1;
    while (v >= 10) {
        v /= 10;
        w++;
    }
    return w;
}

#define KEY_TEXT 1200
#define KEY_MAX_WIDTH 60

/* Row i of a text table (the sorted rows, then "other" if any): its key
 * and label text (KEY_TEXT bytes each) and counts; NULL past the end. */
static const struct audit_report_counts *text_row(enum audit_report_table t, const struct agg_table *tab,
                                                  struct agg_entry **v, size_t i, char *key, char *label)
{
    if (i < tab->n) {
        row_text(t, v[i], false, key, KEY_TEXT, label, KEY_TEXT);
        return &v[i]->c;
    }
    if (i == tab->n && tab->has_other) {
        snprintf(key, KEY_TEXT, "%s", OTHER_TEXT);
        label[0] = '\0';
        return &tab->other;
    }
    return NULL;
}

static void text_table(FILE *out, const struct audit_report *rep, enum audit_report_table t)
{
    const struct table_info *ti = &tables[t];
    const struct agg_table *tab = &rep->tab[t];
    struct agg_entry **v = sorted(tab, t);
    char key[KEY_TEXT], label[KEY_TEXT];
    int nm = ti->full ? 6 : 1;
    size_t kw = report_text_width(ti->key_vi), lw = ti->label_vi ? report_text_width(ti->label_vi) : 0, mw[6];

    fprintf(out, "\n%s\n", ti->title);
    if (!v) {
        fputs("  (out of memory)\n", out);
        return;
    }
    if (report_text_width(ti->key_en) > kw)
        kw = report_text_width(ti->key_en);
    if (ti->label_en && report_text_width(ti->label_en) > lw)
        lw = report_text_width(ti->label_en);
    for (int m = 0; m < nm; m++) {
        const char *vi = t == AUDIT_T_RULE ? "Từ chối" : metrics[m].vi;
        const char *en = t == AUDIT_T_RULE ? "refusals" : metrics[m].en;
        mw[m] = report_text_width(vi) > report_text_width(en) ? report_text_width(vi) : report_text_width(en);
    }
    for (size_t i = 0; i <= tab->n; i++) {
        const struct audit_report_counts *c = text_row(t, tab, v, i, key, label);
        if (!c)
            break;
        /* Longer keys overflow their column rather than widen it past KEY_MAX_WIDTH. */
        size_t w = report_text_width(key);
        w = w < KEY_MAX_WIDTH ? w : KEY_MAX_WIDTH;
        kw = w > kw ? w : kw;
        if (ti->label_vi) {
            w = report_text_width(label);
            w = w < KEY_MAX_WIDTH ? w : KEY_MAX_WIDTH;
            lw = w > lw ? w : lw;
        }
        for (int m = 0; m < nm; m++)
            if (num_width(metric(c, m)) > mw[m])
                mw[m] = num_width(metric(c, m));
    }
    if (tab->n == 0 && !tab->has_other) {
        fprintf(out, "  %s\n", NONE_TEXT);
        free(v);
        return;
    }
    for (int row = 0; row < 2; row++) {
        fputs("  ", out);
        pad(out, row ? ti->key_en : ti->key_vi, kw);
        if (ti->label_vi) {
            fputs("  ", out);
            pad(out, row ? ti->label_en : ti->label_vi, lw);
        }
        for (int m = 0; m < nm; m++) {
            const char *h = t == AUDIT_T_RULE ? (row ? "refusals" : "Từ chối") : (row ? metrics[m].en : metrics[m].vi);
            fputs("  ", out);
            for (size_t w = report_text_width(h); w < mw[m]; w++)
                fputc(' ', out);
            fputs(h, out);
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i <= tab->n; i++) {
        const struct audit_report_counts *c = text_row(t, tab, v, i, key, label);
        if (!c)
            break;
        fputs("  ", out);
        pad(out, key, kw);
        if (ti->label_vi) {
            fputs("  ", out);
            pad(out, label, lw);
        }
        for (int m = 0; m < nm; m++)
            fprintf(out, "  %*" PRIu64, (int)mw[m], metric(c, m));
        fputc('\n', out);
    }
    free(v);
}

static const struct {
    const char *vi_en, *csv;
    size_t off;
    const char *vi; /* the printed report's label */
} total_rows[] = {
    { "Chữ ký đã tạo (signatures made)", "signatures_made", offsetof(struct audit_report_totals, signed_ok), "Chữ ký đã tạo" },
    { "Ký không thành công (signatures failed)", "signatures_failed",
      offsetof(struct audit_report_totals, sign_failed), "Ký không thành công" },
    { "Bị từ chối theo quy tắc (refused by a rule)", "refusals", offsetof(struct audit_report_totals, refused), "Bị từ chối theo quy tắc" },
    { "Giải mã (decryptions)", "decryptions", offsetof(struct audit_report_totals, decrypt), "Giải mã" },
    { "Dẫn xuất khóa (key derivations)", "derivations", offsetof(struct audit_report_totals, derive), "Dẫn xuất khóa" },
    { "Nhập sai PIN (PIN failures)", "pin_failures", offsetof(struct audit_report_totals, pin_failures), "Nhập sai PIN" },
    { "Khóa PIN (PIN lock-outs)", "pin_lockouts", offsetof(struct audit_report_totals, pin_locked), "Khóa PIN" },
    { "Đổi PIN (PIN changes)", "pin_changes", offsetof(struct audit_report_totals, pin_changes), "Đổi PIN" },
    { "Mở khóa PIN (PIN unblocks)", "pin_unblocks", offsetof(struct audit_report_totals, pin_unblocks), "Mở khóa PIN" },
    { "Ghi quản trị (admin writes)", "admin_writes", offsetof(struct audit_report_totals, admin_writes), "Ghi quản trị" },
    { "Lỗi khác (other failures)", "other_failures", offsetof(struct audit_report_totals, other_failed), "Lỗi khác" },
    { "Ký nhưng không giao (signatures withheld)", "signatures_withheld",
      offsetof(struct audit_report_totals, withheld), "Ký nhưng không giao" },
};

static uint64_t total_value(const struct audit_report_totals *t, size_t i)
{
    uint64_t v;
    memcpy(&v, (const char *)t + total_rows[i].off, sizeof(v));
    return v;
}

#define INTEGRITY_NOTE "integrity: run kyso audit verify"

static void text_line(FILE *out, const char *label, const char *value)
{
    fputs("  ", out);
    pad(out, label, 52);
    fprintf(out, " %s\n", value);
}

static void text_count(FILE *out, const char *label, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    text_line(out, label, num);
}

static void write_text(const struct audit_report *rep, FILE *out, const char *const *files, size_t nfiles,
                       const struct audit_scan_stats *st)
{
    const struct audit_report_totals *t = &rep->t;
    char a[40], b[40], buf[1400], clean[1400];

    fputs("BÁO CÁO SỬ DỤNG THIẾT BỊ KÝ SỐ (token usage report, rule M9) — kyso " PACKAGE_VERSION "\n\n", out);
    audit_time_format(rep->period.from, a, sizeof(a));
    audit_time_format(rep->period.to, b, sizeof(b));
    report_clean_text(rep->period.name, clean, sizeof(clean));
    snprintf(buf, sizeof(buf), "%.200s: %s .. %s", clean, a, b);
    text_line(out, "Kỳ báo cáo (period)", buf);
    for (size_t i = 0; i < nfiles; i++) {
        report_clean_text(audit_log_name(files[i]), clean, sizeof(clean));
        text_line(out, i == 0 ? "Nhật ký (logs read)" : "", clean);
    }
    if (t->records) {
        audit_time_format(t->first, a, sizeof(a));
        audit_time_format(t->last, b, sizeof(b));
    } else {
        snprintf(a, sizeof(a), "-");
        snprintf(b, sizeof(b), "-");
    }
    text_line(out, "Bản ghi đầu tiên (first record)", a);
    text_line(out, "Bản ghi cuối cùng (last record)", b);
    text_count(out, "Bản ghi trong kỳ (records in the period)", t->records);
    text_count(out, "  trong đó sử dụng thiết bị (token use)", t->usage);
    text_count(out, "Bản ghi ngoài kỳ (records outside the period)", t->outside);
    text_count(out, "Dòng hỏng, bỏ qua (malformed lines, skipped)", st ? st->malformed : 0);
    for (size_t i = 0; st && i < st->nexamples; i++) {
        snprintf(buf, sizeof(buf), "%s:%" PRIu64 ": %s", st->examples[i].file, st->examples[i].line,
                 st->examples[i].reason);
        report_clean_text(buf, clean, sizeof(clean));
        text_line(out, "", clean);
    }
    text_count(out, "Dòng cuối chưa ghi xong (incomplete last lines)", st ? st->incomplete : 0);

    fputs("\nTổng hợp (totals)\n", out);
    for (size_t i = 0; i < sizeof(total_rows) / sizeof(total_rows[0]); i++)
        text_count(out, total_rows[i].vi_en, total_value(t, i));

    static const enum audit_report_table order[] = { AUDIT_T_AGENCY, AUDIT_T_PERSON, AUDIT_T_CERT,
                                                     AUDIT_T_TOKEN,  AUDIT_T_PROGRAM, AUDIT_T_USER,
                                                     AUDIT_T_OUTCOME, AUDIT_T_RULE,  AUDIT_T_EVENT };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        text_table(out, rep, order[i]);
    fputs("\nCột (columns): Đã ký = signatures made; Từ chối = refused by a rule; Lỗi khác = other records whose\n"
          "outcome is not CKR_OK; Sai PIN / Khóa PIN = pin_failure / pin_locked records.\n",
          out);
    fputs("\n" INTEGRITY_NOTE " (bản ghi không được kiểm tra ở đây / the records are not verified by this "
          "report)\n",
          out);
}

static void csv_row(FILE *out, const char *section, const char *key, const char *label, const char *m,
                    const char *value)
{
    audit_csv_field(out, section);
    fputc(',', out);
    audit_csv_field(out, key);
    fputc(',', out);
    audit_csv_field(out, label);
    fputc(',', out);
    audit_csv_field(out, m);
    fputc(',', out);
    audit_csv_field(out, value);
    fputs("\r\n", out);
}

static void csv_num(FILE *out, const char *section, const char *key, const char *label, const char *m,
                    uint64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    csv_row(out, section, key, label, m, num);
}

/* Raw (unclean) key and label for CSV: the data as logged. */
static void csv_keys(enum audit_report_table t, const struct agg_entry *e, char *key, size_t keylen, char *label,
                     size_t labellen)
{
    label[0] = '\0';
    switch (t) {
    case AUDIT_T_PERSON:
        if (e->k[0] && e->k[1])
            snprintf(key, keylen, "%s (%s)", e->k[0], e->k[1]);
        else
            snprintf(key, keylen, "%s", e->k[0] ? e->k[0] : "");
        snprintf(label, labellen, "%s", e->k[2] ? e->k[2] : "");
        return;
    case AUDIT_T_CERT:
        snprintf(key, keylen, "%s", e->k[0] ? e->k[0] : "");
        if (e->k[0] || e->k[1])
            snprintf(label, labellen, "serial %s; %s%s%s%s", e->k[1] ? e->k[1] : "?",
                     e->extra[0] ? e->extra[0] : "?", e->extra[1] ? " (" : "", e->extra[1] ? e->extra[1] : "",
                     e->extra[1] ? ")" : "");
        return;
    case AUDIT_T_USER:
        snprintf(key, keylen, "%s", e->k[0] ? e->k[0] : "");
        snprintf(label, labellen, "%s", e->k[1] ? e->k[1] : "");
        return;
    case AUDIT_T_RULE:
        snprintf(key, keylen, "%s", e->k[0] ? e->k[0] : "");
        snprintf(label, labellen, "%s", e->extra[0] ? e->extra[0] : "");
        return;
    default:
        snprintf(key, keylen, "%s", e->k[0] ? e->k[0] : "");
        return;
    }
}

static void write_csv(const struct audit_report *rep, FILE *out, const char *const *files, size_t nfiles,
                      const struct audit_scan_stats *st)
{
    const struct audit_report_totals *t = &rep->t;
    char a[40], key[KEY_TEXT], label[KEY_TEXT];

    fputs("section,key,label,metric,value\r\n", out);
    csv_row(out, "report", "period", "", "name", rep->period.name);
    audit_time_format(rep->period.from, a, sizeof(a));
    csv_row(out, "report", "period", "", "from", a);
    audit_time_format(rep->period.to, a, sizeof(a));
    csv_row(out, "report", "period", "", "to", a);
    for (size_t i = 0; i < nfiles; i++)
        csv_row(out, "report", "log", "", "file", audit_log_name(files[i]));
    if (t->records) {
        audit_time_format(t->first, a, sizeof(a));
        csv_row(out, "report", "records", "", "first", a);
        audit_time_format(t->last, a, sizeof(a));
        csv_row(out, "report", "records", "", "last", a);
    }
    csv_num(out, "report", "records", "", "in_period", t->records);
    csv_num(out, "report", "records", "", "token_use", t->usage);
    csv_num(out, "report", "records", "", "outside_period", t->outside);
    csv_num(out, "report", "lines", "", "malformed", st ? st->malformed : 0);
    csv_num(out, "report", "lines", "", "incomplete", st ? st->incomplete : 0);
    for (size_t i = 0; st && i < st->nexamples; i++)
        csv_num(out, "malformed", st->examples[i].file, st->examples[i].reason, "line", st->examples[i].line);
    for (size_t i = 0; i < sizeof(total_rows) / sizeof(total_rows[0]); i++)
        csv_num(out, "totals", total_rows[i].csv, "", "count", total_value(t, i));
    for (int tt = 0; tt < AUDIT_T_COUNT; tt++) {
        const struct table_info *ti = &tables[tt];
        const struct agg_table *tab = &rep->tab[tt];
        struct agg_entry **v = sorted(tab, (enum audit_report_table)tt);
        if (!v)
            continue;
        for (size_t i = 0; i <= tab->n; i++) {
            const struct audit_report_counts *c;
            if (i < tab->n) {
                csv_keys((enum audit_report_table)tt, v[i], key, sizeof(key), label, sizeof(label));
                c = &v[i]->c;
            } else if (tab->has_other) {
                snprintf(key, sizeof(key), "(other)");
                label[0] = '\0';
                c = &tab->other;
            } else {
                break;
            }
            for (int m = 0; m < (ti->full ? 6 : 1); m++)
                csv_num(out, ti->csv, key, label, tt == AUDIT_T_RULE ? "refusals" : metrics[m].csv, metric(c, m));
        }
        free(v);
    }
    csv_row(out, "report", "integrity", "", "note", INTEGRITY_NOTE " (records are not verified by this report)");
}

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *jnum(uint64_t v)
{
    return json_object_new_uint64(v);
}

static void write_json(const struct audit_report *rep, FILE *out, const char *const *files, size_t nfiles,
                       const struct audit_scan_stats *st)
{
    const struct audit_report_totals *t = &rep->t;
    char a[40];
    json_object *root = json_object_new_object(), *o, *arr;

    json_object_object_add(root, "report", jstr("kyso audit usage report (rule M9)"));
    json_object_object_add(root, "generator", jstr("kyso " PACKAGE_VERSION));
    o = json_object_new_object();
    json_object_object_add(o, "name", jstr(rep->period.name));
    audit_time_format(rep->period.from, a, sizeof(a));
    json_object_object_add(o, "from", jstr(a));
    audit_time_format(rep->period.to, a, sizeof(a));
    json_object_object_add(o, "to", jstr(a));
    json_object_object_add(root, "period", o);
    arr = json_object_new_array();
    for (size_t i = 0; i < nfiles; i++)
        json_object_array_add(arr, jstr(audit_log_name(files[i])));
    json_object_object_add(root, "logs", arr);
    json_object_object_add(root, "lines", jnum(st ? st->lines : 0));
    json_object_object_add(root, "records_in_period", jnum(t->records));
    json_object_object_add(root, "token_use_records", jnum(t->usage));
    json_object_object_add(root, "records_outside_period", jnum(t->outside));
    json_object_object_add(root, "malformed_lines", jnum(st ? st->malformed : 0));
    arr = json_object_new_array();
    for (size_t i = 0; st && i < st->nexamples; i++) {
        o = json_object_new_object();
        json_object_object_add(o, "file", jstr(st->examples[i].file));
        json_object_object_add(o, "line", jnum(st->examples[i].line));
        json_object_object_add(o, "reason", jstr(st->examples[i].reason));
        json_object_array_add(arr, o);
    }
    json_object_object_add(root, "malformed_examples", arr);
    json_object_object_add(root, "incomplete_lines", jnum(st ? st->incomplete : 0));
    if (t->records) {
        audit_time_format(t->first, a, sizeof(a));
        json_object_object_add(root, "first_record", jstr(a));
        audit_time_format(t->last, a, sizeof(a));
        json_object_object_add(root, "last_record", jstr(a));
    } else {
        json_object_object_add(root, "first_record", NULL);
        json_object_object_add(root, "last_record", NULL);
    }
    o = json_object_new_object();
    for (size_t i = 0; i < sizeof(total_rows) / sizeof(total_rows[0]); i++)
        json_object_object_add(o, total_rows[i].csv, jnum(total_value(t, i)));
    json_object_object_add(root, "totals", o);
    for (int tt = 0; tt < AUDIT_T_COUNT; tt++) {
        const struct table_info *ti = &tables[tt];
        const struct agg_table *tab = &rep->tab[tt];
        struct agg_entry **v = sorted(tab, (enum audit_report_table)tt);
        int nk = report_table_keys((enum audit_report_table)tt);
        arr = json_object_new_array();
        for (size_t i = 0; v && i <= tab->n; i++) {
            const struct audit_report_counts *c;
            o = json_object_new_object();
            if (i < tab->n) {
                for (int k = 0; k < nk; k++)
                    json_object_object_add(o, ti->jkeys[k], jstr(v[i]->k[k]));
                for (int k = 0; k < 2; k++)
                    if (ti->jextra[k])
                        json_object_object_add(o, ti->jextra[k], jstr(v[i]->extra[k]));
                c = &v[i]->c;
            } else if (tab->has_other) {
                json_object_object_add(o, "other", json_object_new_boolean(1));
                c = &tab->other;
            } else {
                json_object_put(o);
                break;
            }
            for (int m = 0; m < (ti->full ? 6 : 1); m++)
                json_object_object_add(o, tt == AUDIT_T_RULE ? "refusals" : metrics[m].csv, jnum(metric(c, m)));
            json_object_array_add(arr, o);
        }
        free(v);
        json_object_object_add(root, ti->json, arr);
    }
    json_object_object_add(root, "integrity", jstr(INTEGRITY_NOTE " (records are not verified by this report)"));
    fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE),
          out);
    fputc('\n', out);
    json_object_put(root);
}

size_t audit_report_total_rows(void)
{
    return sizeof(total_rows) / sizeof(total_rows[0]);
}

uint64_t audit_report_total(const struct audit_report *rep, size_t i, const char **label, const char **name)
{
    if (i >= audit_report_total_rows())
        return 0;
    if (label)
        *label = total_rows[i].vi;
    if (name)
        *name = total_rows[i].csv;
    return total_value(&rep->t, i);
}

long audit_report_rows(const struct audit_report *rep, enum audit_report_table t, struct audit_report_row **rows)
{
    const struct agg_table *tab = &rep->tab[t];
    struct agg_entry **v = sorted(tab, t);
    size_t n = tab->n + (tab->has_other ? 1 : 0);
    struct audit_report_row *r = calloc(n ? n : 1, sizeof(*r));
    *rows = NULL;
    if (!v || !r) {
        free(v);
        free(r);
        return -1;
    }
    for (size_t i = 0; i < tab->n; i++) {
        memcpy(r[i].k, v[i]->k, sizeof(r[i].k));
        memcpy(r[i].extra, v[i]->extra, sizeof(r[i].extra));
        r[i].c = v[i]->c;
    }
    if (tab->has_other) {
        r[tab->n].other = true;
        r[tab->n].c = tab->other;
    }
    free(v);
    *rows = r;
    return (long)n;
}

int audit_report_write(const struct audit_report *rep, FILE *out, enum audit_report_format format,
                       const char *const *files, size_t nfiles, const struct audit_scan_stats *st)
{
    switch (format) {
    case AUDIT_REPORT_TEXT:
        write_text(rep, out, files, nfiles, st);
        break;
    case AUDIT_REPORT_CSV:
        write_csv(rep, out, files, nfiles, st);
        break;
    case AUDIT_REPORT_JSON:
        write_json(rep, out, files, nfiles, st);
        break;
    }
    return ferror(out) ? -1 : 0;
}
