/* The record's JSON as the blocks of the printed document (render_int.h).
 * Strict on shape: the first missing or mistyped member is refused by name.
 * Every string from the record is untrusted: characters that do not show
 * (bidi overrides, zero-width, controls) are printed as "[U+XXXX]" so the
 * paper shows what the JSON holds, then the text is markup-escaped. */
#include <config.h>

#include "records/render_int.h"

#include <ctype.h>
#include <glib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct bctx {
    struct rdoc *doc;
    char *why;
    size_t whylen;
    bool failed;
    const char *kind;   /* the record's, once read */
};

static void fail(struct bctx *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct bctx *b, const char *fmt, ...)
{
    if (b->failed)
        return;  /* the first problem is the one named */
    b->failed = true;
    if (b->why && b->whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->why, b->whylen, fmt, ap);
        va_end(ap);
    }
}

static const json_object *member(struct bctx *b, const json_object *o, const char *path, const char *key,
                                 json_type type)
{
    json_object *v = NULL;
    if (b->failed)
        return NULL;
    const char *dot = *path ? "." : "";
    if (!o || !json_object_object_get_ex(o, key, &v) || (v == NULL && type != json_type_null)) {
        fail(b, "record: missing member %s%s%s", path, dot, key);
        return NULL;
    }
    if (json_object_get_type(v) != type) {
        fail(b, "record: member %s%s%s is not a%s %s", path, dot, key,
             type == json_type_object || type == json_type_array || type == json_type_int ? "n" : "",
             json_type_to_name(type));
        return NULL;
    }
    return v;
}

static const json_object *obj(struct bctx *b, const json_object *o, const char *path, const char *key)
{
    return member(b, o, path, key, json_type_object);
}

static const char *str(struct bctx *b, const json_object *o, const char *path, const char *key)
{
    const json_object *v = member(b, o, path, key, json_type_string);
    if (!v)
        return "";
    const char *s = json_object_get_string((json_object *)v);
    size_t len = (size_t)json_object_get_string_len(v);
    const char *dot = *path ? "." : "";
    if (len > RDOC_MAX_STRING) {
        fail(b, "record: member %s%s%s is longer than %d bytes", path, dot, key, RDOC_MAX_STRING);
        return "";
    }
    if (strlen(s) != len || !g_utf8_validate(s, (gssize)len, NULL)) {
        fail(b, "record: member %s%s%s is not valid UTF-8 text", path, dot, key);
        return "";
    }
    return s;
}

static int64_t num(struct bctx *b, const json_object *o, const char *path, const char *key)
{
    const json_object *v = member(b, o, path, key, json_type_int);
    return v ? json_object_get_int64(v) : 0;
}

static void add_para(struct bctx *b, enum rpara_style style, const char *plain)
{
    rdoc_add_plain(b->doc, style, plain);
}

/* The items of one list are lines of one paragraph: the 6 pt go between
 * paragraphs, not between the lines of a list. */
static void item(struct bctx *b, const char *label, const char *value)
{
    char *t = g_strdup_printf("- %s: %s", label, value);
    rdoc_add_item(b->doc, t);
    g_free(t);
}

static void itemf(struct bctx *b, const char *label, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void itemf(struct bctx *b, const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    item(b, label, v);
    g_free(v);
}

/* An ATR as its bytes ("3B FF 96 …"), so that it wraps between them;
 * anything that is not an even count of hex digits as it is. */
static char *atr_bytes(const char *h)
{
    size_t n = strlen(h);
    bool hex = n % 2 == 0;
    for (size_t i = 0; i < n && hex; i++)
        hex = isxdigit((unsigned char)h[i]) != 0;
    if (!hex)
        return g_strdup(h);
    GString *g = g_string_sized_new(n + n / 2);
    for (size_t i = 0; i < n; i += 2)
        g_string_append_printf(g, "%s%c%c", i ? " " : "", toupper((unsigned char)h[i]), toupper((unsigned char)h[i + 1]));
    return g_string_free(g, FALSE);
}

/* 64 hex digits in groups of four, capitals; anything else as it is. */
static char *fingerprint(const char *h)
{
    size_t n = strlen(h);
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)h[i]) || n != 64)
            return g_strdup(h);
    GString *g = g_string_sized_new(80);
    for (size_t i = 0; i < n; i++) {
        if (i && i % 4 == 0)
            g_string_append_c(g, ' ');
        g_string_append_c(g, (char)toupper((unsigned char)h[i]));
    }
    return g_string_free(g, FALSE);
}

static const char *role_name(const char *role, const char *kind)
{
    /* who helps with anything else than a recovery */
    if (strcmp(role, "coordinator") == 0 && kind && strncmp(kind, "pin-reset", 9) != 0)
        return "Người phối hợp";
    static const char *const map[][2] = {
        {"hands_over", "Bên giao"},
        {"receives", "Bên nhận"},
        {"witness", "Người làm chứng"},
        {"requester", "Người đề nghị"},
        {"coordinator", "Người phối hợp thực hiện khôi phục"},
        {"approver", "Thủ trưởng cơ quan quản lý trực tiếp"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(role, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static void build_token(struct bctx *b, const json_object *rec)
{
    const json_object *t = obj(b, rec, "", "token");
    const char *man = str(b, t, "token", "manufacturer"), *model = str(b, t, "token", "model");
    const char *serial = str(b, t, "token", "serial"), *label = str(b, t, "token", "label");
    const char *applet = str(b, t, "token", "applet"), *atr = str(b, t, "token", "atr");
    json_object *usb = NULL;
    if (!b->failed && !json_object_object_get_ex(t, "usb", &usb))
        fail(b, "record: missing member token.usb");
    if (usb && !json_object_is_type(usb, json_type_object))
        fail(b, "record: member token.usb is neither an object nor null");
    const char *vid = "", *pid = "", *userial = "";
    if (usb) {
        vid = str(b, usb, "token.usb", "vid");
        pid = str(b, usb, "token.usb", "pid");
        userial = str(b, usb, "token.usb", "serial");
    }
    if (b->failed)
        return;
    add_para(b, RP_SECTION, "1. Thiết bị lưu khóa bí mật (USB token)");
    item(b, "Nhà sản xuất", man);
    item(b, "Kiểu thiết bị", model);
    item(b, "Số hiệu thẻ (serial)", serial);
    item(b, "Nhãn thiết bị", label);
    item(b, "Ứng dụng trên thẻ", applet);
    char *a = atr_bytes(atr);
    item(b, "ATR", a);
    g_free(a);
    if (usb)
        itemf(b, "Định danh USB", "VID:PID %s:%s, số hiệu USB %s", vid, pid, userial);
}

static void build_certs(struct bctx *b, const json_object *rec)
{
    const json_object *a = member(b, rec, "", "certificates", json_type_array);
    if (!a)
        return;
    size_t n = json_object_array_length(a);
    if (!b->failed)
        add_para(b, RP_SECTION, n ? "2. Chứng thư số trên thiết bị" : "2. Chứng thư số trên thiết bị: không có");
    for (size_t i = 0; i < n && !b->failed; i++) {
        char path[48], spath[64], kpath[64];
        snprintf(path, sizeof path, "certificates[%zu]", i);
        snprintf(spath, sizeof spath, "%s.subject", path);
        snprintf(kpath, sizeof kpath, "%s.key", path);
        const json_object *c = json_object_array_get_idx(a, i);
        if (!json_object_is_type(c, json_type_object)) {
            fail(b, "record: member %s is not an object", path);
            return;
        }
        const json_object *s = obj(b, c, path, "subject");
        const char *cn = str(b, s, spath, "cn"), *title = str(b, s, spath, "title"), *o = str(b, s, spath, "o");
        const char *ou = str(b, s, spath, "ou"), *l = str(b, s, spath, "l"), *cc = str(b, s, spath, "c");
        const char *email = str(b, s, spath, "email");
        const char *serial = str(b, c, path, "serial"), *issuer = str(b, c, path, "issuer");
        const char *nb = str(b, c, path, "not_before"), *na = str(b, c, path, "not_after");
        const char *sha = str(b, c, path, "sha256");
        const json_object *k = obj(b, c, path, "key");
        const char *ktype = str(b, k, kpath, "type");
        int64_t bits = num(b, k, kpath, "bits");
        if (b->failed)
            return;
        char *sub = g_strdup_printf("2.%zu. Chứng thư số thứ %zu", i + 1, i + 1);
        add_para(b, RP_SUB, sub);
        g_free(sub);
        item(b, "Chủ thể", cn);
        if (*title)
            item(b, "Chức danh", title);
        if (*o || *ou)
            itemf(b, "Cơ quan, tổ chức", "%s%s%s", o, *o && *ou ? ", " : "", ou);
        if (*l || *cc)
            itemf(b, "Địa danh", "%s%s%s", l, *l && *cc ? ", " : "", cc);
        if (*email)
            item(b, "Thư điện tử", email);
        item(b, "Số hiệu chứng thư", serial);
        item(b, "Tổ chức cấp", issuer);
        char *f = rdoc_fmt_time(nb), *t = rdoc_fmt_time(na);
        itemf(b, "Thời hạn hiệu lực", "từ %s đến %s", f, t);
        g_free(f);
        g_free(t);
        char *fp = fingerprint(sha);
        item(b, "Dấu vân tay SHA-256", fp);
        g_free(fp);
        itemf(b, "Khóa", "%s %" G_GINT64_FORMAT " bit", ktype, bits);
    }
}

static void add_sig(struct bctx *b, const char *role, const char *name)
{
    rdoc_add_sig(b->doc, role, name);
}

static void build_parties(struct bctx *b, const json_object *rec)
{
    const json_object *a = member(b, rec, "", "parties", json_type_array);
    if (!a)
        return;
    size_t n = json_object_array_length(a);
    if (n == 0) {
        fail(b, "record: member parties is empty");
        return;
    }
    add_para(b, RP_SECTION, "3. Thành phần");
    for (size_t i = 0; i < n && !b->failed; i++) {
        char path[48], ipath[64];
        snprintf(path, sizeof path, "parties[%zu]", i);
        snprintf(ipath, sizeof ipath, "%s.id_issued", path);
        const json_object *p = json_object_array_get_idx(a, i);
        if (!json_object_is_type(p, json_type_object)) {
            fail(b, "record: member %s is not an object", path);
            return;
        }
        const char *role = str(b, p, path, "role"), *name = str(b, p, path, "name");
        const char *idn = str(b, p, path, "id_number");
        const json_object *iss = obj(b, p, path, "id_issued");
        const char *idate = str(b, iss, ipath, "date"), *iplace = str(b, iss, ipath, "place");
        const char *pos = str(b, p, path, "position"), *unit = str(b, p, path, "unit");
        const char *phone = str(b, p, path, "phone"), *email = str(b, p, path, "email");
        const char *rn = b->failed ? "" : role_name(role, b->kind);
        if (!rn)
            fail(b, "record: member %s.role is not a known role", path);
        if (b->failed)
            return;
        char *sub = g_strdup_printf("3.%zu. %s", i + 1, rn);
        add_para(b, RP_SUB, sub);
        g_free(sub);
        item(b, "Họ và tên", name);
        char *d = rdoc_fmt_time(idate);
        itemf(b, "Số định danh cá nhân", "%s, cấp ngày %s tại %s", idn, d, iplace);
        g_free(d);
        item(b, "Chức vụ", pos);
        item(b, "Đơn vị", unit);
        item(b, "Điện thoại", phone);
        item(b, "Thư điện tử", email);
        add_sig(b, rn, name);
    }
}

static void tries(struct bctx *b, const char *label, int64_t n)
{
    if (n < 0)
        item(b, label, "không xác định");
    else
        itemf(b, label, "%" G_GINT64_FORMAT, n);
}

/* The Vietnamese words of a revocation reason (Điều 17, Nghị định
 * 68/2024), or NULL. */
const char *rdoc_revocation_reason(const char *code)
{
    static const char *const map[][2] = {
        {"expiry", "Chứng thư số hết hạn"},
        {"key_compromise", "Khóa bí mật bị lộ hoặc nghi bị lộ"},
        {"token_lost", "Thiết bị lưu khóa bí mật bị thất lạc"},
        {"token_damaged", "Thiết bị lưu khóa bí mật bị hư hỏng"},
        {"token_unsafe", "Thiết bị lưu khóa bí mật không còn an toàn"},
        {"court_or_police", "Theo yêu cầu của cơ quan tiến hành tố tụng, cơ quan công an"},
        {"managing_agency", "Theo yêu cầu của cơ quan quản lý trực tiếp"},
        {"post_changed", "Thay đổi vị trí công tác, không còn phù hợp với thông tin trên chứng thư số"},
        {"retirement", "Nghỉ hưu"},
        {"resignation", "Thôi việc"},
        {"death", "Chết"},
        {"organisation_ended", "Cơ quan, tổ chức giải thể, chia tách, sáp nhập"},
        {"service_stopped", "Thiết bị, dịch vụ, phần mềm ngừng hoạt động"},
    };
    for (size_t i = 0; code && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

/* Where a lost token's facts came from, when not from the token. */
static void facts_source(struct bctx *b, const json_object *d)
{
    const json_object *fs = obj(b, d, "details", "facts_source");
    const char *from = str(b, fs, "details.facts_source", "from"), *ref = str(b, fs, "details.facts_source", "ref");
    if (b->failed)
        return;
    if (strcmp(from, "registry") == 0)
        itemf(b, "Thông tin thiết bị và chứng thư số", "theo biên bản đã đăng ký số %s (thiết bị không còn)", ref);
    else if (strcmp(from, "audit") == 0)
        itemf(b, "Thông tin thiết bị và chứng thư số", "theo nhật ký kiểm toán %s (thiết bị không còn)", ref);
    else if (strcmp(from, "token") == 0)
        item(b, "Thông tin thiết bị và chứng thư số", "đọc từ thiết bị");
    else
        fail(b, "record: member details.facts_source.from is not a known source");
}

static void time_item(struct bctx *b, const char *label, const char *value)
{
    char *t = rdoc_fmt_time(value);
    item(b, label, t);
    g_free(t);
}

/* The kinds added with rule M7, M8 and M10: loss, revocation, finding
 * again, taking out and bringing back, renewal. */
static void build_more_details(struct bctx *b, const json_object *d, const char *kind)
{
    const char *const D = "details";
    if (strcmp(kind, "revocation-request") == 0) {
        const char *code = str(b, d, D, "reason_code"), *reason = str(b, d, D, "reason");
        bool has_loss = json_object_object_get_ex(d, "loss_id", NULL);
        const char *loss = has_loss ? str(b, d, D, "loss_id") : NULL;
        const char *rn = b->failed ? "" : rdoc_revocation_reason(code);
        if (!rn)
            fail(b, "record: member details.reason_code is not a known reason");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Nội dung đề nghị thu hồi");
        item(b, "Trường hợp thu hồi", rn);
        item(b, "Lý do cụ thể", reason);
        if (loss)
            item(b, "Kèm theo biên bản xác nhận thất lạc số", loss);
        facts_source(b, d);
        add_para(b, RP_TEXT, "Đề nghị cơ quan có thẩm quyền thu hồi (các) chứng thư số nêu trên. Kể từ khi đề "
                             "nghị này được đăng ký, thiết bị và các chứng thư số nêu trên không được dùng để ký.");
    } else if (strcmp(kind, "loss") == 0) {
        const char *at = str(b, d, D, "lost_at"), *place = str(b, d, D, "lost_place");
        const char *circ = str(b, d, D, "circumstances"), *to = str(b, d, D, "reported_to");
        const char *rat = str(b, d, D, "reported_at"), *rev = str(b, d, D, "revocation_request_id");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Nội dung xác nhận thất lạc");
        time_item(b, "Thời điểm thất lạc (hoặc phát hiện thất lạc)", at);
        item(b, "Nơi thất lạc", place);
        item(b, "Hoàn cảnh", circ);
        item(b, "Đã báo cho", to);
        time_item(b, "Thời điểm báo", rat);
        item(b, "Đề nghị thu hồi lập kèm theo, số", rev);
        facts_source(b, d);
        add_para(b, RP_TEXT, "Các bên xác nhận thiết bị lưu khóa bí mật nêu trên đã bị thất lạc. Kể từ khi biên "
                             "bản này được đăng ký, thiết bị và các chứng thư số trên đó không được dùng để ký.");
    } else if (strcmp(kind, "token-found") == 0) {
        const char *loss = str(b, d, D, "loss_id"), *at = str(b, d, D, "found_at");
        const char *circ = str(b, d, D, "circumstances"), *cond = str(b, d, D, "condition");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Nội dung xác nhận tìm lại thiết bị");
        item(b, "Theo biên bản xác nhận thất lạc số", loss);
        time_item(b, "Thời điểm tìm lại", at);
        item(b, "Hoàn cảnh", circ);
        item(b, "Tình trạng thiết bị", cond);
        add_para(b, RP_TEXT, "Thiết bị nêu trên đã được tìm lại và kiểm tra; chứng thư số chưa bị thu hồi. Kể từ "
                             "khi biên bản này được đăng ký, thiết bị được dùng lại.");
    } else if (strcmp(kind, "off-premises") == 0) {
        const char *purpose = str(b, d, D, "purpose"), *from = str(b, d, D, "from"), *to = str(b, d, D, "to");
        const char *place = str(b, d, D, "place"), *prot = str(b, d, D, "protection");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Nội dung đề nghị mang thiết bị ra khỏi nơi cất giữ");
        item(b, "Mục đích", purpose);
        time_item(b, "Từ", from);
        time_item(b, "Đến", to);
        item(b, "Nơi mang đến", place);
        item(b, "Biện pháp bảo vệ", prot);
        add_para(b, RP_TEXT, "Người đề nghị cam kết bảo vệ thiết bị theo chế độ mật, khi trở về báo cáo và giao "
                             "lại thiết bị. Người phê duyệt đồng ý cho mang thiết bị ra ngoài trong thời gian trên.");
    } else if (strcmp(kind, "off-premises-return") == 0) {
        const char *perm = str(b, d, D, "permission_id"), *at = str(b, d, D, "returned_at");
        const char *report = str(b, d, D, "report"), *cond = str(b, d, D, "condition");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Báo cáo và giao lại thiết bị");
        item(b, "Theo văn bản cho phép số", perm);
        time_item(b, "Thời điểm giao lại", at);
        item(b, "Báo cáo", report);
        item(b, "Tình trạng thiết bị khi giao lại", cond);
    } else if (strcmp(kind, "renewal-request") == 0) {
        const char *change = str(b, d, D, "change"), *req = str(b, d, D, "requested"), *reason = str(b, d, D, "reason");
        int64_t left = num(b, d, D, "days_left"), before = num(b, d, D, "renewals_before");
        const char *cn = b->failed ? ""
                         : strcmp(change, "renewal") == 0     ? "Gia hạn chứng thư số"
                         : strcmp(change, "info_change") == 0 ? "Thay đổi thông tin của chứng thư số"
                                                              : NULL;
        if (!cn)
            fail(b, "record: member details.change is not a known change");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Nội dung đề nghị");
        item(b, "Đề nghị", cn);
        item(b, "Nội dung", req);
        item(b, "Lý do", reason);
        itemf(b, "Thời hạn còn lại của chứng thư số", "%" G_GINT64_FORMAT " ngày", left);
        itemf(b, "Số lần đã gia hạn", "%" G_GINT64_FORMAT, before);
    }
}

/* The Vietnamese words of a handover's kind, or NULL. */
const char *rdoc_handover_kind(const char *kind)
{
    static const char *const kinds[][2] = {
        {"issue", "Giao thiết bị lần đầu"},
        {"custodian_change", "Thay đổi người quản lý, sử dụng thiết bị"},
        {"return", "Trả lại thiết bị (chứng thư số hết hạn hoặc bị thu hồi)"},
        {"repair", "Giao sửa chữa, bảo hành"},
        {"other", "Khác"},
    };
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i][0]) == 0)
            return kinds[i][1];
    return NULL;
}

static void build_details(struct bctx *b, const json_object *rec, const char *kind)
{
    const json_object *d = obj(b, rec, "", "details");
    if (strcmp(kind, "pin-reset-request") == 0) {
        const char *reason = str(b, d, "details", "reason");
        int64_t pin = num(b, d, "details", "pin_tries_left"), puk = num(b, d, "details", "puk_tries_left");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Nội dung đề nghị khôi phục");
        item(b, "Lý do", reason);
        tries(b, "Số lần nhập PIN còn lại (đọc từ thiết bị)", pin);
        tries(b, "Số lần nhập PUK còn lại (đọc từ thiết bị)", puk);
        add_para(b, RP_TEXT, "Đề nghị cơ quan có thẩm quyền khôi phục thiết bị lưu khóa bí mật nêu trên. "
                             "Người đề nghị cam đoan các thông tin trên là đúng sự thật.");
    } else if (strcmp(kind, "handover") == 0) {
        const char *hk = str(b, d, "details", "handover_kind"), *reason = str(b, d, "details", "reason");
        /* (the written permission is optional but for a custodian change) */
        bool has_perm = json_object_object_get_ex(d, "permission_ref", NULL);
        const char *cond = str(b, d, "details", "condition");
        const char *perm = has_perm ? str(b, d, "details", "permission_ref") : "";
        const char *hkn = rdoc_handover_kind(hk);
        if (!b->failed && !hkn)
            fail(b, "record: member details.handover_kind is not a known kind");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Nội dung bàn giao");
        item(b, "Hình thức", hkn);
        item(b, "Lý do", reason);
        item(b, "Tình trạng thiết bị khi giao", cond);
        item(b, "Văn bản cho phép", *perm ? perm : "không có");
        add_para(b, RP_TEXT, "Các bên đã kiểm tra thiết bị và các chứng thư số nêu trên, thống nhất nội dung "
                             "biên bản và cùng ký dưới đây.");
    } else if (strcmp(kind, "pin-reset-done") != 0) {
        build_more_details(b, d, kind);
    } else {
        const char *req = str(b, d, "details", "request_id"), *at = str(b, d, "details", "done_at");
        int64_t took = num(b, d, "details", "working_days_taken");
        int64_t dl = num(b, d, "details", "deadline_working_days");
        const char *out = str(b, d, "details", "outcome");
        const char *outn = strcmp(out, "unblocked") == 0     ? "Đã khôi phục (mở khóa) thiết bị"
                           : strcmp(out, "puk_blocked") == 0 ? "Không khôi phục được: mã PUK đã bị khóa"
                                                             : NULL;
        if (!b->failed && !outn)
            fail(b, "record: member details.outcome is not a known outcome");
        if (b->failed)
            return;
        add_para(b, RP_SECTION, "4. Kết quả khôi phục");
        item(b, "Theo đề nghị số", req);
        char *t = rdoc_fmt_time(at);
        item(b, "Thời điểm hoàn thành", t);
        g_free(t);
        itemf(b, "Thời gian thực hiện", "%" G_GINT64_FORMAT " ngày làm việc (thời hạn %" G_GINT64_FORMAT
              " ngày làm việc: %s)", took, dl, took <= dl ? "đúng hạn" : "quá hạn");
        item(b, "Kết quả", outn);
    }
}

/* The kinds this renderer lays out (the schema's, records/README.md). */
static bool printable_kind(const char *kind)
{
    static const char *const kinds[] = { "pin-reset-request", "pin-reset-done", "handover", "revocation-request",
                                         "loss", "token-found", "off-premises", "off-premises-return",
                                         "renewal-request" };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return true;
    return false;
}

int rdoc_build(struct rdoc *doc, const json_object *rec, char *why, size_t whylen)
{
    struct bctx b = {.doc = doc, .why = why, .whylen = whylen};
    memset(doc, 0, sizeof *doc);
    if (!rec || !json_object_is_type(rec, json_type_object)) {
        fail(&b, "record: not a JSON object");
        return -1;
    }
    const char *schema = str(&b, rec, "", "schema");
    if (!b.failed && strcmp(schema, "kyso-record/1") != 0)
        fail(&b, "record: member schema is not kyso-record/1");
    const char *kind = str(&b, rec, "", "kind");
    b.kind = b.failed ? NULL : kind;
    if (!b.failed && !printable_kind(kind))
        fail(&b, "record: member kind is not a known kind");
    const char *id = str(&b, rec, "", "id");
    (void)str(&b, rec, "", "profile");
    const json_object *form = obj(&b, rec, "", "form");
    const char *fnum = str(&b, form, "form", "number"), *flaw = str(&b, form, "form", "law");
    const char *title = str(&b, rec, "", "title");
    const json_object *cr = obj(&b, rec, "", "created");
    const char *ctime = str(&b, cr, "created", "time"), *cplace = str(&b, cr, "created", "place");
    const json_object *ag = obj(&b, rec, "", "agency");
    const char *aname = str(&b, ag, "agency", "name"), *aparent = str(&b, ag, "agency", "parent");
    if (b.failed)
        return -1;

    if (*fnum) {
        char *f = *flaw ? g_strdup_printf("%s — %s", fnum, flaw) : g_strdup(fnum);
        doc->form = rdoc_esc(f);
        g_free(f);
    } else if (*flaw) {
        doc->form = rdoc_esc(flaw); /* kyso's own layout, under that law */
    }
    char *up = g_utf8_strup(aparent, -1);
    doc->parent = rdoc_esc(up);
    g_free(up);
    up = g_utf8_strup(aname, -1);
    doc->body = rdoc_esc(up);
    g_free(up);
    char *t = g_strdup_printf("Số: %s", id);
    doc->number = rdoc_esc(t);
    g_free(t);
    t = rdoc_dateline(cplace, ctime);
    doc->dateline = rdoc_esc(t);
    g_free(t);
    doc->title = rdoc_esc(title);
    doc->plain_title = g_strdup(title);

    build_token(&b, rec);
    build_certs(&b, rec);
    build_parties(&b, rec);
    if (!b.failed)
        build_details(&b, rec, kind);
    const json_object *integ = obj(&b, rec, "", "integrity");
    const char *sha = str(&b, integ, "integrity", "sha256");
    if (b.failed) {
        rdoc_free(doc);
        return -1;
    }
    /* The footer ties the paper to its JSON: the id, the hash, both in the QR code. */
    size_t shalen = strlen(sha);
    char *shortsha = shalen == 64 ? g_strdup_printf("%.8s…%s", sha, sha + 56) : g_strdup(sha);
    doc->footer = g_markup_printf_escaped("Hồ sơ điện tử <b>%s</b> — SHA-256 <b>%s</b>", id, shortsha);
    g_free(shortsha);
    doc->footer2 = g_markup_printf_escaped("SHA-256 (JSON chuẩn hóa, RFC 8785): %s", sha);
    doc->qr = g_strdup_printf("kyso-record:%s:%s", id, sha);
    static const char *const rec_request[] = {"- Người đề nghị;", "- Cơ quan thực hiện khôi phục;",
                                              "- Lưu: VT, hồ sơ thiết bị."};
    static const char *const rec_ca[] = {"- Tổ chức cung cấp dịch vụ chứng thực;", "- Các bên có tên tại mục 3;",
                                         "- Lưu: VT, hồ sơ thiết bị."};
    static const char *const rec_other[] = {"- Các bên có tên tại mục 3;", "- Lưu: VT, hồ sơ thiết bị."};
    bool to_ca = strcmp(kind, "revocation-request") == 0 || strcmp(kind, "loss") == 0 ||
                 strcmp(kind, "renewal-request") == 0;
    const char *const *r = strcmp(kind, "pin-reset-request") == 0 ? rec_request : to_ca ? rec_ca : rec_other;
    size_t nr = strcmp(kind, "pin-reset-request") == 0 || to_ca ? 3 : 2;
    for (size_t i = 0; i < nr; i++)
        doc->recipients[doc->nrecipients++] = rdoc_esc(r[i]);
    return 0;
}
