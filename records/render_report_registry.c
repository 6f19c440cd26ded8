/* Sections 5 and 6 of the periodic report (render_report.c): the
 * registry's records made in the period — handovers, losses and tokens
 * found, revocation and renewal requests, off-premises permissions and
 * returns — counted and listed one line each (bounded), and the tokens due
 * back or overdue (rule M11, records_due_collect). The records were loaded
 * by records_load, so they are sound; their strings are still untrusted
 * text for the paper. */
#include <config.h>

#include "records/render_report.h"
#include "records/render_int.h"

#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define FIELD_MAX 160

/* The string at a dotted path ("details.lost_place"), or "". */
static const char *get(json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return "";
        memcpy(key, path, n);
        key[n] = '\0';
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
            return "";
        o = v;
        path += n + (dot ? 1 : 0);
    }
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "";
}

/* The name of the first party with that role, or "". */
static const char *party(json_object *rec, const char *role)
{
    json_object *a = NULL;
    if (!json_object_object_get_ex(rec, "parties", &a) || !json_object_is_type(a, json_type_array))
        return "";
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *p = json_object_array_get_idx(a, i);
        if (strcmp(get(p, "role"), role) == 0)
            return get(p, "name");
    }
    return "";
}

/* A field as it goes into a line: bounded, a time the Vietnamese way. */
static char *f(json_object *rec, const char *path)
{
    return rreport_clip(get(rec, path), FIELD_MAX);
}

static char *when(json_object *rec, const char *path)
{
    char *t = rdoc_fmt_time(get(rec, path)), *c = rreport_clip(t, 60);
    g_free(t);
    return c;
}

/* One line of a record: "- dd/mm/yyyy hh:mm:ss (UTC+07:00), số KR-…: …". */
static char *line_of(json_object *rec, const char *kind)
{
    char *at = when(rec, "created.time"), *id = f(rec, "id"), *tok = f(rec, "token.serial"), *text;
    if (strcmp(kind, "handover") == 0) {
        const char *hk = rdoc_handover_kind(get(rec, "details.handover_kind"));
        char *from = rreport_clip(party(rec, "hands_over"), FIELD_MAX), *to = rreport_clip(party(rec, "receives"), FIELD_MAX);
        text = g_strdup_printf("%s; thiết bị %s; %s giao, %s nhận", hk ? hk : "?", tok, from, to);
        g_free(from);
        g_free(to);
    } else if (strcmp(kind, "loss") == 0) {
        char *lat = when(rec, "details.lost_at"), *pl = f(rec, "details.lost_place"), *to = f(rec, "details.reported_to");
        text = g_strdup_printf("thất lạc thiết bị %s, lúc %s, tại %s; đã báo %s", tok, lat, pl, to);
        g_free(lat);
        g_free(pl);
        g_free(to);
    } else if (strcmp(kind, "token-found") == 0) {
        char *fat = when(rec, "details.found_at"), *loss = f(rec, "details.loss_id");
        text = g_strdup_printf("tìm thấy thiết bị %s lúc %s (thất lạc theo biên bản số %s)", tok, fat, loss);
        g_free(fat);
        g_free(loss);
    } else if (strcmp(kind, "revocation-request") == 0) {
        const char *r = rdoc_revocation_reason(get(rec, "details.reason_code"));
        text = g_strdup_printf("đề nghị thu hồi chứng thư số của thiết bị %s; lý do: %s", tok, r ? r : "?");
    } else if (strcmp(kind, "off-premises") == 0) {
        char *a = when(rec, "details.from"), *b = when(rec, "details.to"), *pl = f(rec, "details.place");
        char *pu = f(rec, "details.purpose");
        text = g_strdup_printf("mang thiết bị %s ra ngoài từ %s đến %s, tại %s; mục đích: %s", tok, a, b, pl, pu);
        g_free(a);
        g_free(b);
        g_free(pl);
        g_free(pu);
    } else if (strcmp(kind, "off-premises-return") == 0) {
        char *r = when(rec, "details.returned_at"), *p = f(rec, "details.permission_id");
        text = g_strdup_printf("mang thiết bị %s về lúc %s (theo giấy phép số %s)", tok, r, p);
        g_free(r);
        g_free(p);
    } else {
        char *ch = f(rec, "details.change");
        text = g_strdup_printf("đề nghị %s cho thiết bị %s",
                               strcmp(ch, "info_change") == 0 ? "thay đổi thông tin chứng thư số" : "gia hạn chứng thư số",
                               tok);
        g_free(ch);
    }
    char *out = g_strdup_printf("- %s, số %s: %s", at, id, text);
    g_free(at);
    g_free(id);
    g_free(tok);
    g_free(text);
    return out;
}

static const char *kind_of(json_object *rec)
{
    return get(rec, "kind");
}

/* One group: its title, count and a line a record (at most RECORDS_REPORT_LINES). */
static void group(struct rdoc *d, const struct records_report_in *in, int sec, int *nsub, const char *title,
                  const char *k1, const char *k2, const char *hkind)
{
    size_t n = 0;
    for (size_t i = 0; i < in->nrecords; i++) {
        const char *k = kind_of(in->records[i]);
        if (strcmp(k, k1) != 0 && (!k2 || strcmp(k, k2) != 0))
            continue;
        if (hkind && strcmp(get(in->records[i], "details.handover_kind"), hkind) != 0)
            continue;
        n++;
    }
    char *cnt = rreport_num(n);
    char *t = g_strdup_printf("%d.%d. %s: %s", sec, ++*nsub, title, cnt);
    rdoc_add_plain(d, RP_SUB, t);
    g_free(t);
    g_free(cnt);
    size_t shown = 0;
    for (size_t i = 0; i < in->nrecords && shown < RECORDS_REPORT_LINES; i++) {
        const char *k = kind_of(in->records[i]);
        if (strcmp(k, k1) != 0 && (!k2 || strcmp(k, k2) != 0))
            continue;
        if (hkind && strcmp(get(in->records[i], "details.handover_kind"), hkind) != 0)
            continue;
        char *l = line_of(in->records[i], k);
        rdoc_add_item(d, l);
        g_free(l);
        shown++;
    }
    if (n > shown) {
        char *m = rreport_num(n - shown), *l = g_strdup_printf("… và %s mục khác", m);
        rdoc_add_item(d, l);
        g_free(m);
        g_free(l);
    }
}

static void day_text(int64_t day, char *out, size_t len)
{
    if (day < 0) {
        snprintf(out, len, "không rõ");
        return;
    }
    audit_vn_date(day * 86400000LL, out, len); /* a calendar day: its UTC midnight is that day in Vietnam too */
}

static void due(struct rdoc *d, const struct records_report_in *in, int sec, int *k)
{
    char *head = g_strdup_printf("%d.%d. Thiết bị của chứng thư số đã hết hiệu lực, phải trả lại", sec, ++*k);
    rdoc_add_plain(d, RP_SUB, head);
    g_free(head);
    if (!in->due_known) {
        char *n = rreport_clip(in->due_note ? in->due_note : "", 300);
        char *t = g_strdup_printf("- Chưa tính được danh sách thiết bị đến hạn hoặc quá hạn trả lại: %s", n);
        rdoc_add_item(d, t);
        g_free(t);
        g_free(n);
        return;
    }
    size_t owed = 0, overdue = 0, shown = 0;
    for (size_t i = 0; i < in->ndue; i++) {
        const struct records_due_item *it = &in->due[i];
        if (!it->due.ended || it->due.returned)
            continue;
        owed++;
        overdue += it->due.overdue;
        if (shown >= RECORDS_REPORT_LINES)
            continue;
        char ended[16], dl[16];
        day_text(it->due.ended_day, ended, sizeof ended);
        day_text(it->due.return_deadline, dl, sizeof dl);
        char *tok = rreport_clip(it->token_serial, 64), *cn = rreport_clip(it->cert_cn, FIELD_MAX);
        char *ser = rreport_clip(it->cert_serial, 80);
        char *t = g_strdup_printf("- Thiết bị %s, chứng thư số của %s (số hiệu %s): hết hiệu lực ngày %s, hạn trả "
                                  "lại %s%s",
                                  tok, cn, ser, ended, dl, it->due.overdue ? " — QUÁ HẠN" : "");
        rdoc_add_item(d, t);
        g_free(t);
        g_free(tok);
        g_free(cn);
        g_free(ser);
        shown++;
    }
    if (owed > shown) {
        char *m = rreport_num(owed - shown), *l = g_strdup_printf("… và %s mục khác", m);
        rdoc_add_item(d, l);
        g_free(m);
        g_free(l);
    }
    char *a = rreport_num(owed), *b = rreport_num(overdue);
    char *t = g_strdup_printf("- Cộng: %s thiết bị chưa trả lại, trong đó %s quá hạn", a, b);
    rdoc_add_item(d, t);
    g_free(t);
    g_free(a);
    g_free(b);
}

void rreport_registry(struct rdoc *d, const struct records_report_in *in, int *section)
{
    char *t = g_strdup_printf("%d. Bàn giao, thất lạc, thu hồi, mang thiết bị ra ngoài cơ quan", ++*section);
    rdoc_add_plain(d, RP_SECTION, t);
    g_free(t);
    if (!in->registry_dir) {
        rdoc_add_plain(d, RP_TEXT, "Sổ đăng ký hồ sơ không được đọc khi lập báo cáo này.");
    } else {
        int k = 0, s = *section;
        group(d, in, s, &k, "Bàn giao thiết bị", "handover", NULL, NULL);
        group(d, in, s, &k, "Thất lạc thiết bị, tìm thấy thiết bị", "loss", "token-found", NULL);
        group(d, in, s, &k, "Đề nghị thu hồi chứng thư số", "revocation-request", NULL, NULL);
        group(d, in, s, &k, "Mang thiết bị ra ngoài cơ quan, mang về", "off-premises", "off-premises-return", NULL);
        group(d, in, s, &k, "Đề nghị gia hạn, thay đổi thông tin chứng thư số", "renewal-request", NULL, NULL);
    }
    t = g_strdup_printf("%d. Thiết bị phải trả lại, quá hạn trả lại", ++*section);
    rdoc_add_plain(d, RP_SECTION, t);
    g_free(t);
    int k = 0;
    due(d, in, *section, &k);
    if (in->registry_dir)
        group(d, in, *section, &k, "Thiết bị đã trả lại trong kỳ (biên bản bàn giao hình thức trả lại)", "handover",
              NULL, "return");
}
