/* The periodic report of rule M9 as blocks of the printed document
 * (render_int.h), laid out by render.c like a record: heading, a warning
 * first when a log does not verify, then 1. sources, 2. usage, 3. refusals
 * by rule, 4. PIN lock-outs and recoveries (5 and 6, from the registry, are
 * render_report_registry.c), 7. the next period's plan where the profile
 * asks for it with the yearly report, the signature blocks and "Nơi nhận".
 * The numbers come from audit_report_total and audit_report_rows: the
 * aggregation that --format json writes. */
#include <config.h>

#include "records/render_report.h"
#include "records/render_int.h"

#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A log's string is at most a line long (64 KiB): the paper shows a bounded piece. */
#define TEXT_MAX 240
#define DAY_MS 86400000LL

char *rreport_clip(const char *s, size_t max)
{
    if (!s)
        return g_strdup("");
    if (!g_utf8_validate(s, -1, NULL))
        return g_strdup("(không phải văn bản UTF-8)");
    size_t n = strlen(s);
    if (n <= max)
        return g_strdup(s);
    const char *p = s, *end = s;
    while (*p && (size_t)(g_utf8_next_char(p) - s) <= max) {
        p = g_utf8_next_char(p);
        end = p;
    }
    return g_strdup_printf("%.*s…", (int)(end - s), s);
}

char *rreport_num(uint64_t n)
{
    char digits[32], out[48];
    int len = snprintf(digits, sizeof digits, "%" PRIu64, n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < sizeof out; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = '.';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return g_strdup(out);
}

static void itemf(struct rdoc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void itemf(struct rdoc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *t = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    rdoc_add_item(d, t);
    g_free(t);
}

static void count_item(struct rdoc *d, const char *label, uint64_t n)
{
    char *v = rreport_num(n);
    itemf(d, "- %s: %s", label, v);
    g_free(v);
}

static void section(struct rdoc *d, int *n, const char *title)
{
    char *t = g_strdup_printf("%d. %s", ++*n, title);
    rdoc_add_plain(d, RP_SECTION, t);
    g_free(t);
}

/* The period's ends as dates: Vietnam-local days when it starts and ends
 * at local midnight (the profiles' periods), UTC days when at UTC midnight
 * (an explicit "2026-H1", which is UTC), else the times. */
static void period_ends(const struct audit_period *p, char *from, char *to, size_t len, const char **zone)
{
    char a[40], b[40];
    if ((p->from + AUDIT_VN_OFFSET_MS) % DAY_MS == 0 && (p->to + 1 + AUDIT_VN_OFFSET_MS) % DAY_MS == 0) {
        audit_vn_date(p->from, from, len);
        audit_vn_date(p->to, to, len);
        *zone = "";
        return;
    }
    audit_time_format(p->from, a, sizeof a);
    audit_time_format(p->to, b, sizeof b);
    if (p->from % DAY_MS == 0 && (p->to + 1) % DAY_MS == 0) {
        snprintf(from, len, "%.2s/%.2s/%.4s", a + 8, a + 5, a);
        snprintf(to, len, "%.2s/%.2s/%.4s", b + 8, b + 5, b);
        *zone = " (ngày theo giờ UTC)";
    } else {
        snprintf(from, len, "%s", a);
        snprintf(to, len, "%s", b);
        *zone = " (giờ UTC)";
    }
}

static void warning(struct rdoc *d, const struct records_report_in *in)
{
    for (size_t i = 0; i < in->nlogs; i++) {
        const struct records_report_log *l = &in->logs[i];
        if (l->check != RECORDS_LOG_BROKEN)
            continue;
        char *name = rreport_clip(l->name, TEXT_MAX), *note = rreport_clip(l->note, TEXT_MAX);
        char *t = g_strdup_printf("CẢNH BÁO: NHẬT KÝ KIỂM TOÁN KHÔNG TOÀN VẸN. Nhật ký %s không qua được kiểm tra "
                                  "(%s). Số liệu của báo cáo này lấy từ một nhật ký đã bị thay đổi hoặc hư hỏng; "
                                  "không dùng làm căn cứ khi chưa làm rõ.",
                                  name, note);
        rdoc_add_plain(d, RP_ALERT, t);
        g_free(t);
        g_free(name);
        g_free(note);
    }
    bool unchecked = false;
    for (size_t i = 0; i < in->nlogs; i++)
        unchecked |= in->logs[i].check == RECORDS_LOG_UNCHECKED;
    if (unchecked)
        rdoc_add_plain(d, RP_TEXT, "Lưu ý: tính toàn vẹn của nhật ký kiểm toán không kiểm tra được khi lập báo "
                                   "cáo này (xem mục 1).");
}

static void sources(struct rdoc *d, const struct records_report_in *in, int *sec)
{
    section(d, sec, "Nguồn số liệu");
    for (size_t i = 0; i < in->nlogs; i++) {
        const struct records_report_log *l = &in->logs[i];
        char *name = rreport_clip(l->name, TEXT_MAX), *note = rreport_clip(l->note, TEXT_MAX);
        char *n = rreport_num(l->records);
        if (l->check == RECORDS_LOG_VERIFIED)
            itemf(d, "- Nhật ký kiểm toán %s: đã kiểm tra toàn vẹn (chuỗi băm và mã xác thực), %s bản ghi hợp lệ",
                  name, n);
        else if (l->check == RECORDS_LOG_BROKEN)
            itemf(d, "- Nhật ký kiểm toán %s: KHÔNG TOÀN VẸN: %s", name, note);
        else
            itemf(d, "- Nhật ký kiểm toán %s: không kiểm tra được: %s", name, note);
        g_free(name);
        g_free(note);
        g_free(n);
    }
    const struct audit_scan_stats *st = in->scan;
    const struct audit_report_totals *t = audit_report_totals(in->rep);
    count_item(d, "Số dòng đã đọc", st->lines);
    count_item(d, "Bản ghi trong kỳ báo cáo", t->records);
    count_item(d, "Bản ghi ngoài kỳ báo cáo (không tính)", t->outside);
    if (st->malformed) {
        char *f = rreport_clip(st->examples[0].file, TEXT_MAX), *n = rreport_num(st->malformed);
        itemf(d, "- Dòng không phải bản ghi, đã bỏ qua: %s (dòng đầu tiên: %s, dòng %" PRIu64 ": %s)", n, f,
              st->examples[0].line, st->examples[0].reason);
        g_free(f);
        g_free(n);
    }
    if (st->incomplete)
        count_item(d, "Dòng cuối chưa hoàn chỉnh (đang ghi hoặc bị cắt), đã bỏ qua", st->incomplete);
    if (in->checkpoint)
        itemf(d, "- Điểm kiểm tra của nhật ký sau khi kiểm tra: %s", in->checkpoint);
    if (in->registry_dir) {
        char *dir = rreport_clip(in->registry_dir, TEXT_MAX), *tot = rreport_num(in->registry_total);
        char *per = rreport_num(in->nrecords);
        itemf(d, "- Sổ đăng ký hồ sơ %s: %s hồ sơ, %s hồ sơ lập trong kỳ", dir, tot, per);
        if (in->registry_damaged) {
            char *p = rreport_clip(in->registry_problem ? in->registry_problem : "", TEXT_MAX);
            char *n = rreport_num(in->registry_damaged);
            itemf(d, "- Hồ sơ không đọc được hoặc đã bị thay đổi, không tính: %s (%s)", n, p);
            g_free(p);
            g_free(n);
        }
        g_free(dir);
        g_free(tot);
        g_free(per);
    } else {
        rdoc_add_item(d, "- Sổ đăng ký hồ sơ: không đọc (mục 4 đến 6 chỉ theo nhật ký)");
    }
    itemf(d, "- Quy định áp dụng: %s (theo %s)", in->profile->regulation, in->profile->basis);
}

/* A row's key as the document shows it. */
static char *row_key(enum audit_report_table t, const struct audit_report_row *r)
{
    if (r->other)
        return g_strdup("(các mục khác, vượt giới hạn của bảng)");
    char *a = rreport_clip(r->k[0], TEXT_MAX), *b = NULL, *c = NULL, *out;
    switch (t) {
    case AUDIT_T_PERSON:
        b = rreport_clip(r->k[1], TEXT_MAX);
        c = rreport_clip(r->k[2], TEXT_MAX);
        out = !r->k[0] ? g_strdup("(không có chứng thư số)")
                       : g_strdup_printf("%s%s%s%s, %s", a, r->k[1] ? " (" : "", r->k[1] ? b : "", r->k[1] ? ")" : "",
                                         r->k[2] ? c : "(không rõ cơ quan)");
        break;
    case AUDIT_T_CERT:
        b = rreport_clip(r->k[1], 80);
        c = rreport_clip(r->extra[0], TEXT_MAX);
        out = !r->k[0] && !r->k[1] ? g_strdup("(không có chứng thư số)")
                                   : g_strdup_printf("số hiệu %s, %s (SHA-256 %.16s…)", r->k[1] ? b : "?",
                                                     r->extra[0] ? c : "?", r->k[0] ? a : "?");
        break;
    default:
        out = r->k[0] ? g_strdup(a) : g_strdup("(không có)");
        break;
    }
    g_free(a);
    g_free(b);
    g_free(c);
    return out;
}

static void sub(struct rdoc *d, int sec, int *n, const char *title)
{
    char *t = g_strdup_printf("%d.%d. %s", sec, ++*n, title);
    rdoc_add_plain(d, RP_SUB, t);
    g_free(t);
}

static void table(struct rdoc *d, const struct records_report_in *in, enum audit_report_table t, int sec, int *n_sub,
                  const char *title)
{
    struct audit_report_row *rows;
    long n = audit_report_rows(in->rep, t, &rows);
    sub(d, sec, n_sub, title);
    if (n < 0) {
        rdoc_add_item(d, "- (không đủ bộ nhớ để liệt kê)");
        return;
    }
    if (n == 0)
        rdoc_add_item(d, "- Không có");
    uint64_t rest = 0, rest_signed = 0;
    for (long i = 0; i < n; i++) {
        const struct audit_report_counts *c = &rows[i].c;
        if (i >= RECORDS_REPORT_ROWS) {
            rest += c->records;
            rest_signed += c->signed_ok;
            continue;
        }
        char *k = row_key(t, &rows[i]);
        char *s = rreport_num(c->signed_ok), *r = rreport_num(c->refused), *f = rreport_num(c->failed);
        char *all = rreport_num(c->records);
        itemf(d, "- %s: %s chữ ký; %s từ chối; %s lỗi khác; %s bản ghi", k, s, r, f, all);
        g_free(k);
        g_free(s);
        g_free(r);
        g_free(f);
        g_free(all);
    }
    if (n > RECORDS_REPORT_ROWS) {
        char *m = rreport_num((uint64_t)(n - RECORDS_REPORT_ROWS)), *r = rreport_num(rest);
        char *s = rreport_num(rest_signed);
        itemf(d, "… và %s mục khác (%s chữ ký; %s bản ghi)", m, s, r);
        g_free(m);
        g_free(r);
        g_free(s);
    }
    char *all = rreport_num((uint64_t)n);
    itemf(d, "Cộng: %s mục", all);
    g_free(all);
    g_free(rows);
}

static void usage(struct rdoc *d, const struct records_report_in *in, int *sec)
{
    const struct audit_report_totals *t = audit_report_totals(in->rep);
    int k = 0;
    section(d, sec, "Tình hình sử dụng chữ ký số");
    sub(d, *sec, &k, "Tổng hợp");
    count_item(d, "Bản ghi trong kỳ", t->records);
    count_item(d, "Bản ghi về sử dụng thiết bị", t->usage);
    for (size_t i = 0; i < audit_report_total_rows(); i++) {
        const char *label;
        uint64_t v = audit_report_total(in->rep, i, &label, NULL);
        count_item(d, label, v);
    }
    table(d, in, AUDIT_T_AGENCY, *sec, &k, "Theo cơ quan");
    table(d, in, AUDIT_T_PERSON, *sec, &k, "Theo người ký");
    table(d, in, AUDIT_T_CERT, *sec, &k, "Theo chứng thư số");
    table(d, in, AUDIT_T_TOKEN, *sec, &k, "Theo thiết bị lưu khóa bí mật");
    table(d, in, AUDIT_T_PROGRAM, *sec, &k, "Theo chương trình");
}

static const char *const rule_vi[16] = {
    "chỉ chứng thư số còn hiệu lực mới được ký",
    "không công cụ nào được thay đổi, làm hỏng dữ liệu trên thiết bị",
    "không sao chép, sử dụng trái phép khóa bí mật",
    "thiết bị của cơ quan chỉ do người được giao bằng văn bản sử dụng",
    "bàn giao thiết bị trực tiếp, có biên bản",
    "khóa PIN và khôi phục thiết bị",
    "thất lạc, lộ khóa, thay đổi: báo cáo và thu hồi",
    "mang thiết bị ra ngoài cơ quan phải được phép",
    "thống kê, theo dõi, báo cáo việc sử dụng",
    "gia hạn một lần, khi còn đủ thời gian",
    "trả lại thiết bị của chứng thư số hết hạn, bị thu hồi",
    "trong phạm vi thẩm quyền và chức danh ghi trên chứng thư số",
    "quản lý như tài liệu, vật mang bí mật nhà nước",
    "chữ ký của cơ quan chỉ sau chữ ký của người có thẩm quyền",
    "không dùng cho văn bản chứa bí mật nhà nước",
    "hình thức chữ ký số hiển thị trên văn bản",
};

static void refusals(struct rdoc *d, const struct records_report_in *in, int *sec)
{
    section(d, sec, "Từ chối ký theo quy tắc");
    struct audit_report_row *rows;
    long n = audit_report_rows(in->rep, AUDIT_T_RULE, &rows);
    size_t shown = 0;
    for (long i = 0; i < n; i++) {
        if (!rows[i].c.refused || shown >= RECORDS_REPORT_ROWS + 16)
            continue;
        const char *k = rows[i].k[0];
        int m = k && k[0] == 'M' ? atoi(k + 1) : 0;
        char *key = rows[i].other ? g_strdup("(khác)") : rreport_clip(k ? k : "(không ghi quy tắc)", 40);
        char *c = rreport_num(rows[i].c.refused);
        itemf(d, "- %s%s%s: %s lần", key, m >= 1 && m <= 16 ? " — " : "", m >= 1 && m <= 16 ? rule_vi[m - 1] : "", c);
        g_free(key);
        g_free(c);
        shown++;
    }
    if (n < 0)
        rdoc_add_item(d, "- (không đủ bộ nhớ để liệt kê)");
    else if (!shown)
        rdoc_add_item(d, "- Không có lần từ chối nào trong kỳ");
    count_item(d, "Cộng", audit_report_totals(in->rep)->refused);
    g_free(rows);
}

static void pin(struct rdoc *d, const struct records_report_in *in, int *sec)
{
    const struct audit_report_totals *t = audit_report_totals(in->rep);
    section(d, sec, "Khóa PIN và khôi phục thiết bị");
    count_item(d, "Nhập sai PIN", t->pin_failures);
    count_item(d, "Khóa PIN (nhập sai quá số lần cho phép)", t->pin_locked);
    count_item(d, "Mở khóa PIN (bằng PUK)", t->pin_unblocks);
    count_item(d, "Đổi PIN", t->pin_changes);
    struct audit_report_row *rows;
    long n = audit_report_rows(in->rep, AUDIT_T_TOKEN, &rows);
    size_t shown = 0, more = 0;
    for (long i = 0; i < n; i++) {
        if (!rows[i].c.pin_locked)
            continue;
        if (shown >= RECORDS_REPORT_LINES) {
            more++;
            continue;
        }
        char *k = rows[i].other ? g_strdup("(các thiết bị khác)") : rreport_clip(rows[i].k[0] ? rows[i].k[0] : "(không rõ)", 80);
        char *l = rreport_num(rows[i].c.pin_locked), *f = rreport_num(rows[i].c.pin_failures);
        itemf(d, "- Thiết bị %s: bị khóa PIN %s lần, nhập sai PIN %s lần", k, l, f);
        g_free(k);
        g_free(l);
        g_free(f);
        shown++;
    }
    if (more) {
        char *m = rreport_num(more);
        itemf(d, "… và %s mục khác", m);
        g_free(m);
    }
    g_free(rows);
    /* The recovery requests and their completions of the period (rule M6). */
    size_t req = 0, done = 0;
    for (size_t i = 0; i < in->nrecords; i++) {
        json_object *k = NULL;
        json_object_object_get_ex(in->records[i], "kind", &k);
        const char *kind = json_object_get_string(k);
        req += kind && strcmp(kind, "pin-reset-request") == 0;
        done += kind && strcmp(kind, "pin-reset-done") == 0;
    }
    if (in->registry_dir) {
        count_item(d, "Đề nghị khôi phục thiết bị đã đăng ký trong kỳ", req);
        count_item(d, "Khôi phục đã thực hiện trong kỳ", done);
    }
}

static void plan(struct rdoc *d, int *sec)
{
    section(d, sec, "Kế hoạch kỳ tới");
    static const char dots[] = "………………………………………………………………………………………………………………";
    for (int i = 0; i < 5; i++)
        rdoc_add_plain(d, RP_TEXT, dots);
}

static void heading(struct rdoc *d, const struct records_report_in *in)
{
    char *t = g_strdup_printf("Báo cáo định kỳ theo %s", in->profile->regulation);
    d->form = rdoc_esc(t);
    g_free(t);
    char *up = g_utf8_strup(in->agency_parent, -1);
    d->parent = rdoc_esc(up);
    g_free(up);
    up = g_utf8_strup(in->agency_name, -1);
    d->body = rdoc_esc(up);
    g_free(up);
    t = g_strdup_printf("Số: %s", in->number);
    d->number = rdoc_esc(t);
    g_free(t);
    char date[16], iso[16];
    audit_vn_date(in->date, date, sizeof date); /* dd/mm/yyyy */
    snprintf(iso, sizeof iso, "%.4s-%.2s-%.2s", date + 6, date + 3, date);
    t = rdoc_dateline(in->place, iso);
    d->dateline = rdoc_esc(t);
    g_free(t);
    char *name = rdoc_esc(in->period->name);
    d->title = g_strdup_printf("BÁO CÁO\nTÌNH HÌNH QUẢN LÝ, SỬ DỤNG CHỮ KÝ SỐ CHUYÊN DÙNG\n"
                               "<span weight=\"normal\" style=\"italic\" size=\"small\">Kỳ báo cáo: %s</span>",
                               name);
    g_free(name);
    d->plain_title = g_strdup("Báo cáo tình hình quản lý, sử dụng chữ ký số chuyên dùng");
}

static void footer(struct rdoc *d, const struct records_report_in *in)
{
    size_t broken = 0, unchecked = 0;
    for (size_t i = 0; i < in->nlogs; i++) {
        broken += in->logs[i].check == RECORDS_LOG_BROKEN;
        unchecked += in->logs[i].check == RECORDS_LOG_UNCHECKED;
    }
    char *name = rreport_clip(in->period->name, 100);
    d->footer = g_markup_printf_escaped("Báo cáo chữ ký số — kỳ <b>%s</b> — %zu nhật ký: %s",
                                        name, in->nlogs,
                                        broken      ? "KHÔNG TOÀN VẸN"
                                        : unchecked ? "chưa kiểm tra toàn vẹn"
                                                    : "toàn vẹn");
    g_free(name);
    if (in->checkpoint) {
        d->footer2 = g_markup_printf_escaped("Điểm kiểm tra của nhật ký (kyso audit verify --checkpoint): %s",
                                             in->checkpoint);
        d->qr = g_strdup_printf("kyso-audit-checkpoint:%s", in->checkpoint);
    }
}

int records_render_report_pdf(const struct records_report_in *in, const char *path, char *why, size_t whylen)
{
    struct rdoc doc;
    memset(&doc, 0, sizeof doc);
    if (!in->agency_name || !*in->agency_name || !in->place || !*in->place) {
        snprintf(why, whylen, "the report needs its issuing body and place ([agency] name and province in kyso.conf)");
        return -1;
    }
    heading(&doc, in);
    warning(&doc, in);
    char from[40], to[40];
    const char *zone;
    period_ends(in->period, from, to, sizeof from, &zone);
    char *intro = g_strdup_printf("Thực hiện %s, %s báo cáo tình hình quản lý, sử dụng chữ ký số chuyên dùng từ %s "
                                  "đến %s%s như sau:",
                                  in->profile->regulation, in->agency_name, from, to, zone);
    rdoc_add_plain(&doc, RP_TEXT, intro);
    g_free(intro);
    int sec = 0;
    sources(&doc, in, &sec);
    usage(&doc, in, &sec);
    refusals(&doc, in, &sec);
    pin(&doc, in, &sec);
    rreport_registry(&doc, in, &sec);
    /* The plan goes with the yearly report: a profile of halves (Hà Tĩnh)
     * asks for it only with the report of a whole year. */
    if (in->profile->report_yearly_plan && audit_period_is_year(in->period))
        plan(&doc, &sec);
    rdoc_add_sig(&doc, "Người lập báo cáo", "");
    rdoc_add_sig(&doc, "Thủ trưởng cơ quan", "");
    char *r1 = g_strdup_printf("- %s;", in->profile->body_subscriber_manager);
    doc.recipients[doc.nrecipients++] = rdoc_esc(r1);
    g_free(r1);
    doc.recipients[doc.nrecipients++] = rdoc_esc("- Lưu: VT.");
    footer(&doc, in);
    int rc = rdoc_write_pdf(&doc, path, why, whylen);
    rdoc_free(&doc);
    return rc;
}
