/* Selecting and exporting records (see report.h): the filters of kyso
 * audit tail/export/report and the CSV, JSON and JSON Lines export. */
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "audit/report_int.h"

/* ======================================================================
 * Filters
 * ====================================================================== */

static const char *const known_events[] = { "log_start", "log_continue", "sign", "decrypt", "derive",
                                            "refusal", "pin_failure", "pin_locked", "pin_change", "pin_unblock",
                                            "keygen", "object_create", "object_destroy", "withheld",
                                            "logout", "record" };

bool audit_event_known(const char *event)
{
    for (size_t i = 0; i < sizeof(known_events) / sizeof(known_events[0]); i++)
        if (strcmp(event, known_events[i]) == 0)
            return true;
    return false;
}

void audit_filter_init(struct audit_filter *f)
{
    memset(f, 0, sizeof(*f));
}

static const char *const filter_option[AUDIT_FILTER_FIELDS] = { "--from", "--to", "--person", "--cert",
                                                                "--token", "--program", "--outcome", "--event" };

int audit_filter_add(struct audit_filter *f, enum audit_filter_field field, const char *value, char *err,
                     size_t errlen)
{
    int64_t lo, hi;
    char v[AUDIT_FILTER_VALUE_LEN];
    const char *opt = filter_option[field];
    size_t len = strlen(value), o = 0;

    if (len == 0) {
        snprintf(err, errlen, "%s needs a value", opt);
        return -1;
    }
    if (len >= AUDIT_FILTER_VALUE_LEN) {
        snprintf(err, errlen, "%s: the value is too long", opt);
        return -1;
    }
    switch (field) {
    case AUDIT_FILTER_FROM:
    case AUDIT_FILTER_TO:
        if ((field == AUDIT_FILTER_FROM ? f->has_from : f->has_to)) {
            snprintf(err, errlen, "%s is given twice", opt);
            return -1;
        }
        if (audit_time_parse(value, &lo, &hi) != 0) {
            snprintf(err, errlen, "%s %.64s: not a time (YYYY-MM-DD or ISO 8601 UTC, e.g. 2026-06-30T23:59:59Z)",
                     opt, value);
            return -1;
        }
        if (field == AUDIT_FILTER_FROM) {
            f->has_from = true;
            f->from = lo;
        } else {
            f->has_to = true;
            f->to = hi;
        }
        if (f->has_from && f->has_to && f->to < f->from) {
            snprintf(err, errlen, "--to is before --from");
            return -1;
        }
        return 0;
    case AUDIT_FILTER_PERSON:
        audit_fold(value, v, sizeof(v));
        break;
    case AUDIT_FILTER_CERT:
        for (size_t i = 0; i < len; i++) {
            if (value[i] == ':' || value[i] == ' ')
                continue;
            if (report_hexdigit(value[i]) < 0) {
                snprintf(err, errlen, "--cert %.80s: give a SHA-256 prefix or a serial number, in hex", value);
                return -1;
            }
            v[o++] = (char)(value[i] >= 'A' && value[i] <= 'F' ? value[i] + 32 : value[i]);
        }
        v[o] = '\0';
        if (o == 0 || o > 64) {
            snprintf(err, errlen, "--cert %.80s: give a SHA-256 prefix or a serial number, in hex", value);
            return -1;
        }
        break;
    case AUDIT_FILTER_OUTCOME:
        if (strcasecmp(value, "ok") == 0 || strcasecmp(value, "failed") == 0) {
            snprintf(v, sizeof(v), "%s", strcasecmp(value, "ok") == 0 ? "ok" : "failed");
            break;
        }
        if (strncasecmp(value, "CKR_", 4) != 0 || len == 4) {
            snprintf(err, errlen, "--outcome %.80s: give ok, failed or a PKCS#11 return value (CKR_PIN_INCORRECT)",
                     value);
            return -1;
        }
        for (size_t i = 0; i < len; i++) {
            char c = value[i];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 32);
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
                snprintf(err, errlen, "--outcome %.80s: not a PKCS#11 return value", value);
                return -1;
            }
            v[i] = c;
        }
        v[len] = '\0';
        break;
    case AUDIT_FILTER_EVENT:
        if (!audit_event_known(value)) {
            snprintf(err, errlen,
                     "--event %.64s: unknown event (sign, decrypt, derive, refusal, pin_failure, pin_locked, "
                     "pin_change, pin_unblock, keygen, object_create, object_destroy, withheld, log_start, log_continue)",
                     value);
            return -1;
        }
        snprintf(v, sizeof(v), "%s", value);
        break;
    default:
        snprintf(v, sizeof(v), "%s", value);
        break;
    }
    if (f->n[field] >= AUDIT_FILTER_VALUES) {
        snprintf(err, errlen, "%s is given too many times", opt);
        return -1;
    }
    memcpy(f->v[field][f->n[field]++], v, sizeof(v));
    return 0;
}

static bool serial_equal(const char *a, const char *b)
{
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    return strcasecmp(a, b) == 0;
}

static bool match_one(enum audit_filter_field field, const char *v, const struct audit_record *r,
                      const char *folded_cn)
{
    switch (field) {
    case AUDIT_FILTER_PERSON:
        return folded_cn && strstr(folded_cn, v);
    case AUDIT_FILTER_CERT:
        return (r->cert_sha256 && strncasecmp(r->cert_sha256, v, strlen(v)) == 0) ||
               (r->cert_serial && serial_equal(r->cert_serial, v));
    case AUDIT_FILTER_TOKEN:
        return r->token && strcasecmp(r->token, v) == 0;
    case AUDIT_FILTER_PROGRAM:
        if (r->program && strcmp(r->program, v) == 0)
            return true;
        if (r->exe) {
            const char *slash = strrchr(r->exe, '/');
            return strcmp(slash ? slash + 1 : r->exe, v) == 0;
        }
        return false;
    case AUDIT_FILTER_OUTCOME:
        if (strcmp(v, "ok") == 0)
            return r->outcome && strcmp(r->outcome, "CKR_OK") == 0;
        if (strcmp(v, "failed") == 0)
            return r->outcome && strcmp(r->outcome, "CKR_OK") != 0;
        return r->outcome && strcmp(r->outcome, v) == 0;
    case AUDIT_FILTER_EVENT:
        return strcmp(r->event, v) == 0;
    default:
        return false;
    }
}

bool audit_filter_match(const struct audit_filter *f, const struct audit_record *r)
{
    char folded[1024];
    const char *cn = NULL;
    if (f->has_from && r->time_ms < f->from)
        return false;
    if (f->has_to && r->time_ms > f->to)
        return false;
    if (f->n[AUDIT_FILTER_PERSON]) {
        const char *name = r->cert_cn ? r->cert_cn : r->cert_subject;
        if (name) {
            audit_fold(name, folded, sizeof(folded));
            cn = folded;
        }
    }
    for (int field = AUDIT_FILTER_PERSON; field < AUDIT_FILTER_FIELDS; field++) {
        if (f->n[field] == 0)
            continue;
        bool any = false;
        for (size_t i = 0; i < f->n[field] && !any; i++)
            any = match_one((enum audit_filter_field)field, f->v[field][i], r, cn);
        if (!any)
            return false;
    }
    return true;
}

/* ======================================================================
 * Export
 * ====================================================================== */

const char *const audit_csv_columns[] = {
    "seq",         "time",        "event",        "host",          "user",           "uid",
    "pid",         "program",     "exe",          "module",        "reader",         "token",
    "key",         "cert_sha256", "cert_serial",  "cert_cn",       "cert_title",     "cert_organization",
    "cert_subject", "cert_issuer", "cert_not_after", "mechanism",  "input_len",      "input_sha256",
    "outcome",     "rule",        "detail",       "log_id",        "file",           "line",
};
const size_t audit_csv_ncolumns = sizeof(audit_csv_columns) / sizeof(audit_csv_columns[0]);

void audit_csv_field(FILE *out, const char *s)
{
    if (!s || !*s)
        return;
    bool guard = strchr("=+-@\t\r", s[0]) != NULL;
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        fputc('"', out);
    if (guard)
        fputc('\'', out);
    for (const char *p = s;;) { /* spans up to and including each quote, which is then doubled */
        const char *q = strchr(p, '"');
        if (!q) {
            fputs(p, out);
            break;
        }
        fwrite(p, 1, (size_t)(q - p) + 1, out);
        fputc('"', out);
        p = q + 1;
    }
    if (quote)
        fputc('"', out);
}

static void csv_int(FILE *out, bool has, int64_t v)
{
    if (has)
        fprintf(out, "%" PRId64, v);
}

void audit_export_begin(struct audit_export *x, FILE *out, enum audit_export_format format, bool bom)
{
    x->out = out;
    x->format = format;
    x->written = 0;
    if (format == AUDIT_EXPORT_CSV) {
        if (bom)
            fputs("\xEF\xBB\xBF", out);
        for (size_t i = 0; i < audit_csv_ncolumns; i++)
            fprintf(out, "%s%s", i ? "," : "", audit_csv_columns[i]);
        fputs("\r\n", out);
    } else if (format == AUDIT_EXPORT_JSON) {
        fputc('[', out);
    }
}

void audit_export_record(struct audit_export *x, const struct audit_record *r)
{
    FILE *o = x->out;
    switch (x->format) {
    case AUDIT_EXPORT_JSON:
        fputs(x->written ? ",\n" : "\n", o);
        fwrite(r->line, 1, r->len, o);
        break;
    case AUDIT_EXPORT_JSONL:
        fwrite(r->line, 1, r->len, o);
        fputc('\n', o);
        break;
    case AUDIT_EXPORT_CSV: {
        const char *strs[] = { r->time,         r->event,       r->host,         r->user,
                               NULL,            NULL,           r->program,      r->exe,
                               r->module,       r->reader,      r->token,        r->key,
                               r->cert_sha256,  r->cert_serial, r->cert_cn,      r->cert_title,
                               r->cert_organization, r->cert_subject, r->cert_issuer, r->cert_not_after,
                               r->mechanism,    NULL,           r->input_sha256, r->outcome,
                               r->rule,         r->detail,      r->log_id,       r->file };
        csv_int(o, r->has_seq, r->seq);
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
            fputc(',', o);
            if (i == 4)
                csv_int(o, r->has_uid, r->uid);
            else if (i == 5)
                csv_int(o, r->has_pid, r->pid);
            else if (i == 21)
                csv_int(o, r->has_input_len, r->input_len);
            else
                audit_csv_field(o, strs[i]);
        }
        fprintf(o, ",%" PRIu64 "\r\n", r->lineno);
        break;
    }
    }
    x->written++;
}

int audit_export_end(struct audit_export *x)
{
    if (x->format == AUDIT_EXPORT_JSON)
        fputs(x->written ? "\n]\n" : "]\n", x->out);
    return ferror(x->out) ? -1 : 0;
}
