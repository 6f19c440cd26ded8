/* The schema kyso-record/1, member by member. Every problem is one line
 * naming the member by its path ("parties[1].id_number: ..."); checking
 * goes on after a problem, so one pass lists them all. Members the schema
 * does not name are problems too: a legal record says exactly what the
 * schema lets it say. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/profile.h"
#include "records/canon.h"
#include "records/record.h"

#define MAX_LINE 512      /* one-line fields (names, places, titles) */
#define MAX_PARA 4000     /* free text (reason, condition) */

enum { NONEMPTY = 1, MULTILINE = 2, OPTIONAL = 4 };

/* A short, printable rendering of a bad value for a problem line. */
static const char *shown(const char *s, char out[48])
{
    size_t o = 0, i = 0, n = strlen(s);

    while (i < n && o < 40) {
        unsigned char c = (unsigned char)s[i];
        size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (i + l > n || o + l > 40)
            break;
        for (size_t k = 0; k < l; k++)
            out[o++] = (c < 0x20 || c == '"') && l == 1 ? '?' : s[i + k];
        i += l;
    }
    if (i < n && o + 3 < 48)
        out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = '\0';
    return out;
}

static json_object *get(const json_object *o, const char *name)
{
    json_object *v = NULL;
    json_object_object_get_ex((json_object *)o, name, &v);
    return v;
}

static bool has(const json_object *o, const char *name)
{
    return json_object_object_get_ex((json_object *)o, name, NULL);
}

/* Members of o not in names (NULL-terminated). */
static void only(const json_object *o, const char *path, const char *const *names, struct records_problems *p)
{
    json_object_object_foreach((json_object *)o, key, val) {
        (void)val;
        bool known = false;
        for (size_t i = 0; names[i] && !known; i++)
            known = strcmp(key, names[i]) == 0;
        if (!known) {
            char b[48];
            records_problem(p, "%s%s\"%s\": not a member the schema knows", path, *path ? "." : "", shown(key, b));
        }
    }
}

/* The object member name of o, or NULL (reported). */
static json_object *obj(const json_object *o, const char *path, const char *name, struct records_problems *p)
{
    json_object *v = get(o, name);
    if (!v) {
        records_problem(p, "%s%s%s: missing", path, *path ? "." : "", name);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_object)) {
        records_problem(p, "%s%s%s: must be an object", path, *path ? "." : "", name);
        return NULL;
    }
    return v;
}

/* The string member name of o, or NULL (reported unless optional and
 * absent). Text is valid UTF-8 without control characters (a line break
 * only in MULTILINE text), bounded in length. */
static const char *str(const json_object *o, const char *path, const char *name, int flags,
                       struct records_problems *p)
{
    json_object *v = get(o, name);
    const char *dot = *path ? "." : "";

    if (!v) {
        if (!(flags & OPTIONAL))
            records_problem(p, "%s%s%s: missing", path, dot, name);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        records_problem(p, "%s%s%s: must be a string", path, dot, name);
        return NULL;
    }
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (strlen(s) != len || !records_utf8_valid(s, len)) {
        records_problem(p, "%s%s%s: not valid UTF-8 text", path, dot, name);
        return NULL;
    }
    if (len > ((flags & MULTILINE) ? MAX_PARA : MAX_LINE)) {
        records_problem(p, "%s%s%s: longer than %d bytes", path, dot, name, (flags & MULTILINE) ? MAX_PARA : MAX_LINE);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(c == '\n' && (flags & MULTILINE))) || c == 0x7f) {
            records_problem(p, "%s%s%s: holds a control character", path, dot, name);
            return NULL;
        }
    }
    if ((flags & NONEMPTY) && len == 0) {
        records_problem(p, "%s%s%s: must not be empty", path, dot, name);
        return NULL;
    }
    return s;
}

static bool int_member(const json_object *o, const char *path, const char *name, int64_t min, int64_t max,
                       int64_t *out, struct records_problems *p)
{
    json_object *v = get(o, name);
    const char *dot = *path ? "." : "";

    if (!v) {
        records_problem(p, "%s%s%s: missing", path, dot, name);
        return false;
    }
    if (!json_object_is_type(v, json_type_int)) {
        records_problem(p, "%s%s%s: must be an integer", path, dot, name);
        return false;
    }
    int64_t x = json_object_get_int64(v);
    if (x < min || x > max || (x >= 0 && json_object_get_uint64(v) > (uint64_t)max)) {
        records_problem(p, "%s%s%s: must be from %lld to %lld, not %lld", path, dot, name, (long long)min,
                        (long long)max, (long long)x);
        return false;
    }
    if (out)
        *out = x;
    return true;
}

static bool one_of(const char *s, const char *const *set)
{
    for (size_t i = 0; set[i]; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

static void enum_member(const json_object *o, const char *path, const char *name, const char *const *set,
                        const char *list, struct records_problems *p)
{
    char b[48];
    const char *s = str(o, path, name, 0, p);
    if (s && !one_of(s, set))
        records_problem(p, "%s%s%s: must be one of %s, not \"%s\"", path, *path ? "." : "", name, list, shown(s, b));
}

static bool is_hex(const char *s, size_t n, bool lower_only)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (!lower_only && c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

static void hex_member(const json_object *o, const char *path, const char *name, size_t exact, bool lower,
                       struct records_problems *p)
{
    char b[48];
    const char *s = str(o, path, name, NONEMPTY, p);
    if (!s)
        return;
    size_t n = strlen(s);
    if (!is_hex(s, n, lower) || (exact && n != exact) || (!exact && n % 2))
        records_problem(p, "%s.%s: must be %s%s hex digits, not \"%s\"", path, name,
                        exact == 64 ? "64" : exact == 4 ? "4" : "an even number of",
                        lower ? " lowercase" : "", shown(s, b));
}

static void time_member(const json_object *o, const char *path, const char *name, int64_t *t,
                        struct records_problems *p)
{
    char b[48];
    int64_t e;
    const char *s = str(o, path, name, NONEMPTY, p);
    if (s && records_time_parse(s, &e) < 0)
        records_problem(p, "%s.%s: must be an RFC 3339 time with its offset (2026-12-03T10:15:00+07:00), not \"%s\"",
                        path, name, shown(s, b));
    else if (s && t)
        *t = e;
}

static bool id_ok(const char *s)
{
    int64_t d;
    char date[11];

    if (strlen(s) != RECORDS_ID_LEN || strncmp(s, "KR-", 3) || s[11] != '-' || !is_hex(s + 12, 8, true))
        return false;
    snprintf(date, sizeof(date), "%.4s-%.2s-%.2s", s + 3, s + 7, s + 9);
    return records_date_parse(date, &d) == 0;
}

static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || strchr(s, ' '))
        return false;
    const char *dot = strchr(at + 1, '.');
    return dot && dot != at + 1 && dot[1] != '\0' && s[strlen(s) - 1] != '.';
}

const char *const records_kinds[] = {"pin-reset-request", "pin-reset-done", "handover", "revocation-request",
                                     "loss", "token-found", "off-premises", "off-premises-return",
                                     "renewal-request", NULL};

bool records_kind_known(const char *kind)
{
    return kind && one_of(kind, records_kinds);
}

static const char *const role_names[] = {"requester", "coordinator", "approver", "hands_over", "receives", "witness", NULL};

size_t records_validate_party(const json_object *party, const char *pre, struct records_problems *p)
{
    static const char *const members[] = {"role", "name", "id_number", "id_issued", "position", "unit",
                                          "phone", "email", "os_user", NULL};
    static const char *const issued[] = {"date", "place", NULL};
    size_t before = p->n + p->dropped;
    char b[48], path[64];
    const char *s;

    if (!json_object_is_type((json_object *)party, json_type_object)) {
        records_problem(p, "%s: must be an object", pre);
        return 1;
    }
    only(party, pre, members, p);
    enum_member(party, pre, "role", role_names, "requester, coordinator, approver, hands_over, receives, witness", p);
    str(party, pre, "name", NONEMPTY, p);
    if ((s = str(party, pre, "id_number", NONEMPTY, p))) {
        bool ok = strlen(s) == 12;
        for (size_t i = 0; ok && i < 12; i++)
            ok = s[i] >= '0' && s[i] <= '9';
        if (!ok)
            records_problem(p, "%s.id_number: must be 12 digits, not \"%s\"", pre, shown(s, b));
    }
    json_object *iss = obj(party, pre, "id_issued", p);
    if (iss) {
        int64_t d;
        snprintf(path, sizeof(path), "%s.id_issued", pre);
        only(iss, path, issued, p);
        if ((s = str(iss, path, "date", NONEMPTY, p)) && records_date_parse(s, &d) < 0)
            records_problem(p, "%s.date: must be a real date YYYY-MM-DD, not \"%s\"", path, shown(s, b));
        str(iss, path, "place", NONEMPTY, p);
    }
    str(party, pre, "position", 0, p);
    str(party, pre, "unit", 0, p);
    if ((s = str(party, pre, "phone", 0, p)) && *s) {
        size_t nd = 0;
        bool ok = true;
        for (size_t i = 0; s[i] && ok; i++) {
            if (s[i] >= '0' && s[i] <= '9')
                nd++;
            else
                ok = (s[i] == '+' && i == 0) || s[i] == ' ' || s[i] == '.' || s[i] == '-';
        }
        if (!ok || nd < 8 || nd > 15)
            records_problem(p, "%s.phone: must be 8 to 15 digits (spaces, dots, dashes, a leading +), not \"%s\"",
                            pre, shown(s, b));
    }
    if ((s = str(party, pre, "email", 0, p)) && *s && !email_ok(s))
        records_problem(p, "%s.email: not an e-mail address: \"%s\"", pre, shown(s, b));
    if ((s = str(party, pre, "os_user", OPTIONAL | NONEMPTY, p))) {
        bool ok = strlen(s) <= 32 && ((*s >= 'a' && *s <= 'z') || *s == '_');
        for (size_t i = 1; s[i] && ok; i++)
            ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || strchr("_.-", s[i]);
        if (!ok)
            records_problem(p, "%s.os_user: not a user name (a-z 0-9 _ . -, at most 32): \"%s\"", pre, shown(s, b));
    }
    return p->n + p->dropped - before;
}

size_t records_check_roles(const json_object *parties, const char *kind, const char *path,
                           struct records_problems *p)
{
    static const char *const req_request[] = {"requester", "coordinator", "approver", NULL};
    static const char *const req_done[] = {"coordinator", NULL};
    static const char *const req_handover[] = {"hands_over", "receives", NULL};
    static const char *const req_approved[] = {"requester", "approver", NULL};
    const char *const *req = strcmp(kind, "pin-reset-request") == 0 ? req_request
                             : strcmp(kind, "pin-reset-done") == 0   ? req_done
                             : strcmp(kind, "handover") == 0 || strcmp(kind, "off-premises-return") == 0
                                 ? req_handover
                             : records_kind_known(kind) ? req_approved
                                                        : NULL;
    size_t before = p->n + p->dropped, n = json_object_array_length((json_object *)parties);

    for (size_t r = 0; req && req[r]; r++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            json_object *role = get(json_object_array_get_idx((json_object *)parties, i), "role");
            found = role && json_object_is_type(role, json_type_string) &&
                    strcmp(json_object_get_string(role), req[r]) == 0;
        }
        if (!found)
            records_problem(p, "%s: a %s record needs a party with role %s", path, kind, req[r]);
    }
    return p->n + p->dropped - before;
}

static void token(const json_object *t, struct records_problems *p)
{
    static const char *const members[] = {"manufacturer", "model", "serial", "label", "atr", "applet", "usb", NULL};
    static const char *const usbm[] = {"vid", "pid", "serial", NULL};
    static const char *const applets[] = {"vgca-chipdoc", "vgca-jcop", "piv", NULL};

    only(t, "token", members, p);
    str(t, "token", "manufacturer", NONEMPTY, p);
    str(t, "token", "model", 0, p);
    str(t, "token", "serial", NONEMPTY, p);
    str(t, "token", "label", 0, p);
    hex_member(t, "token", "atr", 0, false, p);
    enum_member(t, "token", "applet", applets, "vgca-chipdoc, vgca-jcop, piv", p);
    json_object *u = get(t, "usb");
    if (!has(t, "usb"))
        records_problem(p, "token.usb: missing (null when not known)");
    else if (u && !json_object_is_type(u, json_type_object))
        records_problem(p, "token.usb: must be an object or null");
    else if (u) {
        only(u, "token.usb", usbm, p);
        hex_member(u, "token.usb", "vid", 4, true, p);
        hex_member(u, "token.usb", "pid", 4, true, p);
        str(u, "token.usb", "serial", 0, p);
    }
}

static void certificate(const json_object *c, const char *pre, struct records_problems *p)
{
    static const char *const members[] = {"subject", "serial", "issuer", "not_before", "not_after", "sha256", "key", NULL};
    static const char *const subj[] = {"cn", "title", "o", "ou", "l", "c", "email", NULL};
    static const char *const keym[] = {"type", "bits", NULL};
    static const char *const types[] = {"RSA", "EC", NULL};
    char path[64], b[48];
    const char *s;
    int64_t nb = 0, na = 0;

    if (!json_object_is_type((json_object *)c, json_type_object)) {
        records_problem(p, "%s: must be an object", pre);
        return;
    }
    only(c, pre, members, p);
    json_object *sj = obj(c, pre, "subject", p);
    if (sj) {
        snprintf(path, sizeof(path), "%s.subject", pre);
        only(sj, path, subj, p);
        str(sj, path, "cn", NONEMPTY, p);
        for (size_t i = 1; i < 5; i++)
            str(sj, path, subj[i], 0, p);
        if ((s = str(sj, path, "c", 0, p)) && *s && !(strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'))
            records_problem(p, "%s.c: must be a two-letter country code (VN), not \"%s\"", path, shown(s, b));
        if ((s = str(sj, path, "email", 0, p)) && *s && !email_ok(s))
            records_problem(p, "%s.email: not an e-mail address: \"%s\"", path, shown(s, b));
    }
    hex_member(c, pre, "serial", 0, false, p);
    str(c, pre, "issuer", NONEMPTY, p);
    time_member(c, pre, "not_before", &nb, p);
    time_member(c, pre, "not_after", &na, p);
    if (nb && na && na <= nb)
        records_problem(p, "%s.not_after: must be later than not_before", pre);
    hex_member(c, pre, "sha256", 64, true, p);
    json_object *k = obj(c, pre, "key", p);
    if (k) {
        snprintf(path, sizeof(path), "%s.key", pre);
        only(k, path, keym, p);
        enum_member(k, path, "type", types, "RSA, EC", p);
        int_member(k, path, "bits", 160, 16384, NULL, p);
    }
}

/* Where the token's facts of a record came from: the token itself, or,
 * for a token that is lost, a registered record of it or the audit
 * trail. */
static void facts_source(const json_object *d, struct records_problems *p)
{
    static const char *const members[] = {"from", "ref", NULL};
    static const char *const froms[] = {"token", "registry", "audit", NULL};
    json_object *fs = get(d, "facts_source");
    if (!fs) {
        records_problem(p, "details.facts_source: missing");
        return;
    }
    if (!json_object_is_type(fs, json_type_object)) {
        records_problem(p, "details.facts_source: must be an object");
        return;
    }
    only(fs, "details.facts_source", members, p);
    enum_member(fs, "details.facts_source", "from", froms, "token, registry, audit", p);
    str(fs, "details.facts_source", "ref", 0, p);
}

static void record_id_member(const json_object *d, const char *name, int flags, struct records_problems *p)
{
    char b[48];
    const char *s = str(d, "details", name, flags | NONEMPTY, p);
    if (s && !id_ok(s))
        records_problem(p, "details.%s: must be a record id KR-YYYYMMDD-xxxxxxxx, not \"%s\"", name, shown(s, b));
}

/* Two times of details in order: first <= then (named in the line). */
static void in_order(const json_object *d, const char *first, const char *then, bool strict,
                     struct records_problems *p)
{
    int64_t a = 0, b = 0;
    json_object *va = get(d, first), *vb = get(d, then);
    if (!va || !vb || !json_object_is_type(va, json_type_string) || !json_object_is_type(vb, json_type_string) ||
        records_time_parse(json_object_get_string(va), &a) < 0 || records_time_parse(json_object_get_string(vb), &b) < 0)
        return;
    if (strict ? b <= a : b < a)
        records_problem(p, "details.%s: must be %s details.%s", then, strict ? "later than" : "no earlier than", first);
}

const char *const records_revocation_reasons[] = {
    "expiry", "key_compromise", "token_lost", "token_damaged", "token_unsafe", "court_or_police",
    "managing_agency", "post_changed", "retirement", "resignation", "death", "organisation_ended",
    "service_stopped", NULL};

static void details(const json_object *d, const char *kind, struct records_problems *p)
{
    static const char *const req[] = {"reason", "pin_tries_left", "puk_tries_left", NULL};
    static const char *const done[] = {"request_id", "done_at", "working_days_taken", "deadline_working_days", "outcome", NULL};
    static const char *const hand[] = {"handover_kind", "reason", "condition", "permission_ref", NULL};
    static const char *const revm[] = {"reason_code", "reason", "loss_id", "facts_source", NULL};
    static const char *const lossm[] = {"lost_at", "lost_place", "circumstances", "reported_to", "reported_at",
                                        "revocation_request_id", "facts_source", NULL};
    static const char *const foundm[] = {"loss_id", "found_at", "circumstances", "condition", NULL};
    static const char *const offm[] = {"purpose", "from", "to", "place", "protection", NULL};
    static const char *const backm[] = {"permission_id", "returned_at", "report", "condition", NULL};
    static const char *const renm[] = {"change", "days_left", "renewals_before", "requested", "reason", NULL};
    static const char *const outcomes[] = {"unblocked", "puk_blocked", NULL};
    static const char *const hkinds[] = {"issue", "custodian_change", "return", "repair", "other", NULL};
    static const char *const changes[] = {"renewal", "info_change", NULL};
    char b[48];
    const char *s;

    if (strcmp(kind, "pin-reset-request") == 0) {
        only(d, "details", req, p);
        str(d, "details", "reason", NONEMPTY | MULTILINE, p);
        int_member(d, "details", "pin_tries_left", -1, 255, NULL, p);
        int_member(d, "details", "puk_tries_left", -1, 255, NULL, p);
    } else if (strcmp(kind, "pin-reset-done") == 0) {
        only(d, "details", done, p);
        if ((s = str(d, "details", "request_id", NONEMPTY, p)) && !id_ok(s))
            records_problem(p, "details.request_id: must be a record id KR-YYYYMMDD-xxxxxxxx, not \"%s\"", shown(s, b));
        time_member(d, "details", "done_at", NULL, p);
        int_member(d, "details", "working_days_taken", 0, 10000, NULL, p);
        /* -1: the profile names no number of days (it defers to a law) */
        int_member(d, "details", "deadline_working_days", -1, 10000, NULL, p);
        enum_member(d, "details", "outcome", outcomes, "unblocked, puk_blocked", p);
    } else if (strcmp(kind, "revocation-request") == 0) {
        only(d, "details", revm, p);
        enum_member(d, "details", "reason_code", records_revocation_reasons,
                    "expiry, key_compromise, token_lost, token_damaged, token_unsafe, court_or_police, "
                    "managing_agency, post_changed, retirement, resignation, death, organisation_ended, "
                    "service_stopped", p);
        str(d, "details", "reason", NONEMPTY | MULTILINE, p);
        if (has(d, "loss_id"))
            record_id_member(d, "loss_id", 0, p);
        facts_source(d, p);
    } else if (strcmp(kind, "loss") == 0) {
        only(d, "details", lossm, p);
        time_member(d, "details", "lost_at", NULL, p);
        str(d, "details", "lost_place", NONEMPTY, p);
        str(d, "details", "circumstances", NONEMPTY | MULTILINE, p);
        str(d, "details", "reported_to", NONEMPTY, p);
        time_member(d, "details", "reported_at", NULL, p);
        in_order(d, "lost_at", "reported_at", false, p);
        record_id_member(d, "revocation_request_id", 0, p);
        facts_source(d, p);
    } else if (strcmp(kind, "token-found") == 0) {
        only(d, "details", foundm, p);
        record_id_member(d, "loss_id", 0, p);
        time_member(d, "details", "found_at", NULL, p);
        str(d, "details", "circumstances", NONEMPTY | MULTILINE, p);
        str(d, "details", "condition", NONEMPTY | MULTILINE, p);
    } else if (strcmp(kind, "off-premises") == 0) {
        only(d, "details", offm, p);
        str(d, "details", "purpose", NONEMPTY | MULTILINE, p);
        time_member(d, "details", "from", NULL, p);
        time_member(d, "details", "to", NULL, p);
        in_order(d, "from", "to", true, p);
        str(d, "details", "place", NONEMPTY, p);
        str(d, "details", "protection", NONEMPTY | MULTILINE, p);
    } else if (strcmp(kind, "off-premises-return") == 0) {
        only(d, "details", backm, p);
        record_id_member(d, "permission_id", 0, p);
        time_member(d, "details", "returned_at", NULL, p);
        str(d, "details", "report", NONEMPTY | MULTILINE, p);
        str(d, "details", "condition", NONEMPTY | MULTILINE, p);
    } else if (strcmp(kind, "renewal-request") == 0) {
        only(d, "details", renm, p);
        enum_member(d, "details", "change", changes, "renewal, info_change", p);
        int_member(d, "details", "days_left", -100000, 100000, NULL, p);
        int_member(d, "details", "renewals_before", 0, 100, NULL, p);
        str(d, "details", "requested", NONEMPTY | MULTILINE, p);
        str(d, "details", "reason", NONEMPTY | MULTILINE, p);
    } else {
        only(d, "details", hand, p);
        enum_member(d, "details", "handover_kind", hkinds, "issue, custodian_change, return, repair, other", p);
        str(d, "details", "reason", NONEMPTY | MULTILINE, p);
        str(d, "details", "condition", NONEMPTY | MULTILINE, p);
        s = str(d, "details", "permission_ref", OPTIONAL, p);
        json_object *hk = get(d, "handover_kind");
        if (hk && json_object_is_type(hk, json_type_string) &&
            strcmp(json_object_get_string(hk), "custodian_change") == 0 && (!s || !*s))
            records_problem(p, "details.permission_ref: a custodian_change needs the written permission's reference");
    }
}

size_t records_validate(const json_object *o, struct records_problems *p)
{
    static const char *const members[] = {"schema", "kind", "id", "profile", "form", "title", "created", "agency",
                                          "token", "certificates", "parties", "details", "integrity", NULL};
    const char *const *kinds = records_kinds;
    static const char *const formm[] = {"number", "law", NULL};
    static const char *const createdm[] = {"time", "place", NULL};
    static const char *const agencym[] = {"name", "parent", NULL};
    static const char *const integm[] = {"sha256", NULL};
    size_t before = p->n + p->dropped;
    char b[48], pre[48], why[128];
    const char *s, *kind = NULL, *ctime = NULL;
    json_object *v;

    if (!json_object_is_type((json_object *)o, json_type_object)) {
        records_problem(p, "record: must be a JSON object");
        return 1;
    }
    only(o, "", members, p);
    if ((s = str(o, "", "schema", 0, p)) && strcmp(s, RECORDS_SCHEMA))
        records_problem(p, "schema: must be \"%s\", not \"%s\"", RECORDS_SCHEMA, shown(s, b));
    if ((s = str(o, "", "kind", 0, p))) {
        if (one_of(s, kinds))
            kind = s;
        else
            records_problem(p, "kind: must be one of pin-reset-request, pin-reset-done, handover, revocation-request, "
                               "loss, token-found, off-premises, off-premises-return, renewal-request, not \"%s\"",
                            shown(s, b));
    }
    const char *id = str(o, "", "id", 0, p);
    if (id && !id_ok(id)) {
        records_problem(p, "id: must be KR-YYYYMMDD-xxxxxxxx (a real date, 8 lowercase hex), not \"%s\"", shown(id, b));
        id = NULL;
    }
    if ((s = str(o, "", "profile", 0, p)) && !policy_profile_find(s))
        records_problem(p, "profile: no profile \"%s\" (nd68-2024, an-giang-2016, tien-giang-2015, hoa-binh-2020, ha-tinh-2020)",
                        shown(s, b));
    if ((v = obj(o, "", "form", p))) {
        only(v, "form", formm, p);
        str(v, "form", "number", 0, p);
        str(v, "form", "law", NONEMPTY, p);
    }
    str(o, "", "title", NONEMPTY, p);
    if ((v = obj(o, "", "created", p))) {
        int64_t t;
        only(v, "created", createdm, p);
        time_member(v, "created", "time", &t, p);
        ctime = str(v, "created", "place", NONEMPTY, p) ? json_object_get_string(get(v, "time")) : NULL;
        if (ctime && records_time_parse(ctime, &t) < 0)
            ctime = NULL;
    }
    /* the id carries the creation date, as the creation time writes it */
    if (id && ctime && (strncmp(id + 3, ctime, 4) || strncmp(id + 7, ctime + 5, 2) || strncmp(id + 9, ctime + 8, 2)))
        records_problem(p, "id: its date %.8s is not the date of created.time (%.10s)", id + 3, ctime);
    if ((v = obj(o, "", "agency", p))) {
        only(v, "agency", agencym, p);
        str(v, "agency", "name", NONEMPTY, p);
        str(v, "agency", "parent", 0, p);
    }
    if ((v = obj(o, "", "token", p)))
        token(v, p);
    v = get(o, "certificates");
    if (!v || !json_object_is_type(v, json_type_array)) {
        records_problem(p, "certificates: %s", v ? "must be an array" : "missing");
    } else {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(pre, sizeof(pre), "certificates[%zu]", i);
            certificate(json_object_array_get_idx(v, i), pre, p);
        }
    }
    v = get(o, "parties");
    if (!v || !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
        records_problem(p, "parties: %s", v ? "must be an array of one or more parties" : "missing");
    } else {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(pre, sizeof(pre), "parties[%zu]", i);
            records_validate_party(json_object_array_get_idx(v, i), pre, p);
        }
        if (kind)
            records_check_roles(v, kind, "parties", p);
    }
    if ((v = obj(o, "", "details", p)) && kind)
        details(v, kind, p);
    if ((v = get(o, "integrity")) == NULL) {
        records_problem(p, "integrity: missing (the record is not sealed)");
    } else if (!json_object_is_type(v, json_type_object)) {
        records_problem(p, "integrity: must be an object");
    } else {
        char h[65];
        only(v, "integrity", integm, p);
        hex_member(v, "integrity", "sha256", 64, true, p);
        s = str(v, "integrity", "sha256", OPTIONAL, p);
        char *c = NULL;
        size_t len;
        if (records_canonical(o, &c, &len, why, sizeof(why)) < 0)
            records_problem(p, "record: no canonical form: %s", why);
        else if (s && records_hash(o, h) == 0 && strcmp(s, h))
            records_problem(p, "integrity.sha256: does not match the record (tampered: hash mismatch)");
        free(c);
    }
    return p->n + p->dropped - before;
}
