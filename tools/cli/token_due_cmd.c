/* kyso token due: for IT staff, what is due for every token and
 * certificate the registry of records and the audit trail know (rules
 * M10 and M11), overdue first.
 *
 *   kyso token due [--json] [--log FILE]... [--at TIME] [--dir DIR]
 *
 * Exit status: 0 nothing overdue, 1 an error (a registry or a log that
 * cannot be read, a broken configuration), 2 bad arguments, 3 at least
 * one token is overdue for return. The daily timer (kyso-token-due.timer)
 * runs it with its output in the journal. */
#include "config.h"

#include "tools/cli/token_due_cmd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "policy/config.h"
#include "records/calendar.h"
#include "records/deadlines.h"
#include "records/facts.h"
#include "records/record.h"
#include "records/registry.h"
#include "tools/cli/record_make.h"

#define MAX_LOGS 64

static void usage(FILE *f)
{
    fputs("usage: kyso token due [--json] [--log FILE]... [--at TIME] [--dir DIR]\n"
          "  Every token and certificate the registry of records and the audit trail know, overdue\n"
          "  first: days left, whether a renewal may still be asked for and until when (rule M10),\n"
          "  and once a certificate has ended, the last working day to hand its token back (M11),\n"
          "  under root's profile.\n"
          "  --json       one JSON object instead of the table\n"
          "  --log FILE   an audit log to read (repeatable; default: the system's, when it exists)\n"
          "  --at TIME    as of TIME (RFC 3339, or YYYY-MM-DD: 00:00 that day in Vietnam)\n"
          "  --dir DIR    the registry (default: the system's)\n"
          "exit status: 0 nothing overdue, 1 error, 2 bad arguments, 3 a token is overdue for return\n",
          f);
}

const char *token_due_registry(void)
{
    struct stat st;
    return stat(records_dir(), &st) != 0 && errno == ENOENT ? NULL : records_dir();
}

static bool parse_at(const char *s, int64_t *t)
{
    int64_t day;
    if (strlen(s) == 10 && records_date_parse(s, &day) == 0) {
        *t = day * 86400 - 7 * 3600;
        return true;
    }
    return records_time_parse(s, t) == 0;
}

static const char *date_or(int64_t day, char out[11], const char *none)
{
    if (day < 0)
        return none;
    records_date_format(day, out);
    return out;
}

/* A one-word state for the table and the JSON. */
static const char *status_of(const struct records_due *d, int64_t today)
{
    if (d->overdue)
        return "overdue";
    if (d->ended)
        return d->returned ? "returned" : d->return_deadline >= 0 ? "return_due" : "ended";
    if (d->renewal == RECORDS_RENEWAL_ELIGIBLE && d->renewal_last_day - today <= RECORDS_RENEWAL_NOTICE_DAYS)
        return "renew_soon";
    if (d->renewal == RECORDS_RENEWAL_TOO_LATE ||
        (d->renewal != RECORDS_RENEWAL_ELIGIBLE && d->days_left <= RECORDS_RENEWAL_NOTICE_DAYS))
        return "expiring";
    return "ok";
}

static void renewal_text(const struct policy_profile *p, const struct records_due *d, char *out, size_t len)
{
    char day[11];
    switch (d->renewal) {
    case RECORDS_RENEWAL_ELIGIBLE:
        snprintf(out, len, "eligible until %s", date_or(d->renewal_last_day, day, "?"));
        break;
    case RECORDS_RENEWAL_TOO_LATE:
        snprintf(out, len, "too late (last day %s)", date_or(d->renewal_last_day, day, "?"));
        break;
    case RECORDS_RENEWAL_ALREADY:
        snprintf(out, len, "renewed already");
        break;
    case RECORDS_RENEWAL_PER_LAW:
        snprintf(out, len, "per law %s", p->basis);
        break;
    case RECORDS_RENEWAL_ENDED:
        snprintf(out, len, "ended");
        break;
    }
}

static void return_text(const struct records_due_item *it, char *out, size_t len)
{
    char day[11];
    const struct records_due *d = &it->due;
    if (!d->ended)
        snprintf(out, len, "-");
    else if (d->returned)
        snprintf(out, len, "returned %s", date_or(it->facts.returned_day, day, "?"));
    else if (d->return_deadline < 0)
        snprintf(out, len, "per law");
    else
        snprintf(out, len, "%s", date_or(d->return_deadline, day, "?"));
}

/* Display width of UTF-8 text: its code points (Vietnamese is precomposed). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* s cut to at most max code points (with "…" when cut) into out. */
static void clip(const char *s, size_t max, char *out, size_t len)
{
    size_t w = 0, i = 0;
    for (; s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++w > max)
            break;
    bool cut = s[i] != '\0';
    if (cut) /* back one code point, for the ellipsis */
        do
            i--;
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
    if (i + (cut ? 3 : 0) >= len) { /* (cannot happen with the cells' size; nothing rather than a broken character) */
        out[0] = '\0';
        return;
    }
    memcpy(out, s, i);
    if (cut)
        memcpy(out + i, "\xe2\x80\xa6", 3);
    out[i + (cut ? 3 : 0)] = '\0';
}

enum { C_TOKEN, C_HOLDER, C_SERIAL, C_DAYS, C_RENEWAL, C_RETURN, C_STATUS, NCOLS };
#define CELL 256

static void print_row(char cells[NCOLS][CELL], const size_t *w)
{
    for (int c = 0; c < NCOLS; c++) {
        size_t pad = c + 1 < NCOLS ? w[c] - width(cells[c]) + 2 : 0;
        printf("%s%*s", cells[c], (int)pad, "");
    }
    printf("\n");
}

static void fill_row(const struct policy_profile *p, const struct records_due_item *it, int64_t today,
                     char cells[NCOLS][CELL])
{
    snprintf(cells[C_TOKEN], CELL, "%s", it->token_serial);
    clip(it->cert_cn[0] ? it->cert_cn : "?", 32, cells[C_HOLDER], CELL);
    snprintf(cells[C_SERIAL], CELL, "%s", it->cert_serial[0] ? it->cert_serial : "?");
    snprintf(cells[C_DAYS], CELL, "%lld", (long long)it->due.days_left);
    renewal_text(p, &it->due, cells[C_RENEWAL], CELL);
    return_text(it, cells[C_RETURN], CELL);
    const char *st = status_of(&it->due, today);
    if (strcmp(st, "overdue") == 0)
        snprintf(cells[C_STATUS], CELL, "OVERDUE");
    else
        snprintf(cells[C_STATUS], CELL, "%s", st);
    for (char *q = cells[C_STATUS]; *q; q++)
        if (*q == '_')
            *q = ' ';
}

static void print_table(const struct policy_profile *p, const struct records_due_item *items, size_t n, int64_t now,
                        const char *registry, const char *const *logs, size_t nlogs, const char *absent_log)
{
    char at[32];
    records_time_format(now, at);
    printf("due at %s under profile %s (%s)\n", at, p->id, p->basis);
    printf("registry: %s\n", registry ? registry : "none yet");
    for (size_t i = 0; i < nlogs; i++)
        printf("audit log: %s\n", logs[i]);
    if (absent_log)
        printf("audit log: %s does not exist: the registry only\n", absent_log);
    if (n == 0) {
        printf("no certificate known: nothing registered, no signature in the audit trail\n");
        return;
    }
    static const char *const head[NCOLS] = { "TOKEN", "HOLDER", "SERIAL", "DAYS LEFT", "RENEWAL", "RETURN BY",
                                             "STATUS" };
    size_t w[NCOLS];
    char cells[NCOLS][CELL];
    for (int c = 0; c < NCOLS; c++)
        w[c] = width(head[c]);
    int64_t today = records_local_day(now);
    for (size_t i = 0; i < n; i++) {
        fill_row(p, &items[i], today, cells);
        for (int c = 0; c < NCOLS; c++)
            if (width(cells[c]) > w[c])
                w[c] = width(cells[c]);
    }
    for (int c = 0; c < NCOLS; c++)
        snprintf(cells[c], CELL, "%s", head[c]);
    print_row(cells, w);
    for (size_t i = 0; i < n; i++) {
        fill_row(p, &items[i], today, cells);
        print_row(cells, w);
    }
}

static json_object *day_json(int64_t day)
{
    char d[11];
    if (day < 0)
        return NULL;
    records_date_format(day, d);
    return json_object_new_string(d);
}

static int print_json(const struct policy_profile *p, const struct records_due_item *items, size_t n, int64_t now,
                      const char *registry, const char *const *logs, size_t nlogs, size_t overdue)
{
    char at[32], na[32];
    records_time_format(now, at);
    int64_t today = records_local_day(now);
    json_object *o = json_object_new_object(), *arr = json_object_new_array(), *src = json_object_new_array();
    json_object_object_add(o, "at", json_object_new_string(at));
    json_object_object_add(o, "profile", json_object_new_string(p->id));
    json_object_object_add(o, "registry", registry ? json_object_new_string(registry) : NULL);
    for (size_t i = 0; i < nlogs; i++)
        json_object_array_add(src, json_object_new_string(logs[i]));
    json_object_object_add(o, "audit_logs", src);
    json_object_object_add(o, "overdue", json_object_new_int64((int64_t)overdue));
    for (size_t i = 0; i < n; i++) {
        const struct records_due_item *it = &items[i];
        json_object *e = json_object_new_object(), *r = json_object_new_object(), *ret = json_object_new_object();
        json_object_object_add(e, "token", json_object_new_string(it->token_serial));
        json_object_object_add(e, "holder", json_object_new_string(it->cert_cn));
        json_object_object_add(e, "cert_serial", json_object_new_string(it->cert_serial));
        json_object_object_add(e, "cert_sha256", json_object_new_string(it->cert_sha256));
        records_time_format(it->facts.not_after, na);
        json_object_object_add(e, "not_after", json_object_new_string(na));
        json_object_object_add(e, "days_left", json_object_new_int64(it->due.days_left));
        json_object_object_add(r, "state", json_object_new_string(records_renewal_name(it->due.renewal)));
        json_object_object_add(r, "last_day", day_json(it->due.renewal_last_day));
        json_object_object_add(r, "renewals_before", json_object_new_int(it->facts.renewals_before));
        json_object_object_add(r, "why", json_object_new_string(it->due.renewal_why));
        json_object_object_add(e, "renewal", r);
        json_object_object_add(e, "ended", json_object_new_boolean(it->due.ended));
        json_object_object_add(e, "ended_day", day_json(it->due.ended_day));
        json_object_object_add(ret, "deadline", day_json(it->due.return_deadline));
        json_object_object_add(ret, "returned", json_object_new_boolean(it->due.returned));
        json_object_object_add(ret, "returned_day", day_json(it->due.returned ? it->facts.returned_day : -1));
        json_object_object_add(ret, "overdue", json_object_new_boolean(it->due.overdue));
        json_object_object_add(e, "return", ret);
        json_object_object_add(e, "status", json_object_new_string(status_of(&it->due, today)));
        json_object_object_add(e, "source", json_object_new_string(it->source));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "items", arr);
    int rc = puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0;
    json_object_put(o);
    return rc ? -1 : 0;
}

int token_due_cmd(int argc, char **argv, const char *default_log)
{
    const char *logs[MAX_LOGS], *at = NULL, *dir = NULL;
    size_t nlogs = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return TOKEN_DUE_OK;
        } else if (strcmp(argv[i], "--json") == 0 && !json) {
            json = true;
        } else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc && nlogs < MAX_LOGS) {
            logs[nlogs++] = argv[++i];
        } else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc && !at) {
            at = argv[++i];
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc && !dir) {
            dir = argv[++i];
        } else {
            usage(stderr);
            return TOKEN_DUE_USAGE;
        }
    }
    int64_t now = (int64_t)time(NULL);
    if (at && !parse_at(at, &now)) {
        fprintf(stderr, "kyso: --at %s: not a time (RFC 3339, e.g. 2026-12-03T10:15:00+07:00) nor a date YYYY-MM-DD\n",
                at);
        return TOKEN_DUE_USAGE;
    }
    /* The system's log when none is named, if there is one (a host whose
     * module writes to the daemon has it; one without has the registry). */
    const char *absent = NULL;
    struct stat st;
    if (nlogs == 0) {
        if (stat(default_log, &st) == 0)
            logs[nlogs++] = default_log;
        else
            absent = default_log;
    }
    const char *registry = dir ? dir : token_due_registry();

    struct policy_config *c = policy_config_acquire();
    if (!c) {
        fprintf(stderr, "kyso: out of memory\n");
        return TOKEN_DUE_ERROR;
    }
    if (c->broken) {
        fprintf(stderr, "kyso: root's configuration is refused: %s\n", c->problems[0]);
        policy_config_release(c);
        return TOKEN_DUE_ERROR;
    }
    const struct policy_profile *p = c->profile;
    policy_config_release(c); /* (the profiles are static tables) */
    struct records_calendar *cal = cli_calendar();
    if (!cal)
        return TOKEN_DUE_ERROR;
    struct records_due_item *items = NULL;
    size_t n = 0;
    char why[512] = "";
    if (records_due_collect(registry, logs, nlogs, p, cal, now, &items, &n, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        records_calendar_free(cal);
        return TOKEN_DUE_ERROR;
    }
    records_calendar_free(cal);
    size_t overdue = 0;
    for (size_t i = 0; i < n; i++)
        overdue += items[i].due.overdue;
    int rc = 0;
    if (json)
        rc = print_json(p, items, n, now, registry, logs, nlogs, overdue);
    else
        print_table(p, items, n, now, registry, logs, nlogs, absent);
    free(items);
    if (rc != 0 || fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kyso: write error\n");
        return TOKEN_DUE_ERROR;
    }
    return overdue ? TOKEN_DUE_OVERDUE : TOKEN_DUE_OK;
}

/* ---------------------------------------------------- kyso token status */

void token_due_print_cert(const char *prefix, const char *token_serial, const uint8_t *der, size_t len)
{
    char why[512] = "";
    json_object *cf = records_certificate_facts(der, len, why, sizeof(why));
    if (!cf)
        return; /* (print_cert said it is unreadable) */
    json_object *subject = json_object_object_get(cf, "subject");
    const char *cn = json_object_get_string(json_object_object_get(subject, "cn"));
    const char *sha = json_object_get_string(json_object_object_get(cf, "sha256"));
    int64_t not_after;
    struct policy_config *c = policy_config_acquire();
    const struct policy_profile *p = c ? c->profile : NULL;
    policy_config_release(c);
    if (!p || records_time_parse(json_object_get_string(json_object_object_get(cf, "not_after")), &not_after) != 0) {
        json_object_put(cf);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    struct records_cert_facts f;
    if (records_due_facts(token_due_registry(), token_serial, sha, cn, not_after, now, &f, why, sizeof(why)) != 0) {
        printf("%sM10/M11: unknown: %s\n", prefix, why);
        json_object_put(cf);
        return;
    }
    json_object_put(cf);
    struct records_calendar *cal = cli_calendar();
    struct records_due d;
    records_due_compute(p, cal, &f, now, &d);
    char day[11];
    records_date_format(records_local_day(not_after), day);
    printf("%sdays left: %lld (until %s)\n", prefix, (long long)d.days_left, day);
    printf("%srenewal (M10, %s): %s: %s\n", prefix, p->id, records_renewal_name(d.renewal), d.renewal_why);
    if (d.ended) {
        char end[11];
        records_date_format(d.ended_day, end);
        if (!cal)
            printf("%sreturn (M11): unknown (the working-day calendar cannot be read)\n", prefix);
        else if (d.returned)
            printf("%sreturn (M11): handed back on %s\n", prefix, date_or(f.returned_day, day, "?"));
        else if (d.return_deadline >= 0)
            printf("%sreturn (M11): %sthe token is due back by %s (%d working days after %s)\n", prefix,
                   d.overdue ? "OVERDUE: " : "", date_or(d.return_deadline, day, "?"), p->return_working_days, end);
        else
            printf("%sreturn (M11): the token goes back per %s (ended %s)\n", prefix, p->basis, end);
    }
    records_calendar_free(cal);
}
