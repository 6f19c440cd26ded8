/* What is due for a certificate under a profile (rules M10 and M11):
 * records/deadlines.h. The computation is a pure function of its
 * arguments; the registry's facts are read by records_due_facts (and by
 * records_due_collect in deadlines_collect.c) through the index here. */
#include "config.h"

#include "records/deadlines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "records/deadlines_int.h"
#include "records/record.h"
#include "records/registry.h"

#define DAY 86400
#define VN_OFFSET (7 * 3600) /* Vietnam keeps UTC+7 the whole year */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t records_local_day(int64_t t)
{
    return floor_div(t + VN_OFFSET, DAY);
}

const char *records_renewal_name(enum records_renewal r)
{
    switch (r) {
    case RECORDS_RENEWAL_ELIGIBLE:
        return "eligible";
    case RECORDS_RENEWAL_TOO_LATE:
        return "too_late";
    case RECORDS_RENEWAL_ALREADY:
        return "already";
    case RECORDS_RENEWAL_ENDED:
        return "ended";
    case RECORDS_RENEWAL_PER_LAW:
        return "per_law";
    }
    return "?";
}

bool due_copy(char *dst, size_t dstlen, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (!dstlen)
        return false;
    if (n >= dstlen) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, src ? src : "", n + 1);
    return true;
}

/* The day the certificate ended at now: expired (the local day of
 * not_after) or revoked (the day the revocation was registered), the
 * earlier; -1 while it has not. */
static int64_t ended_day_of(const struct records_cert_facts *f, int64_t now)
{
    int64_t today = records_local_day(now), end = -1;
    if (now >= f->not_after)
        end = records_local_day(f->not_after);
    if (f->revoked_day >= 0 && f->revoked_day <= today && (end < 0 || f->revoked_day < end))
        end = f->revoked_day;
    return end;
}

void records_due_compute(const struct policy_profile *p, const struct records_calendar *cal,
                         const struct records_cert_facts *f, int64_t now, struct records_due *out)
{
    memset(out, 0, sizeof(*out));
    out->renewal_last_day = out->ended_day = out->return_deadline = -1;
    out->days_left = floor_div(f->not_after - now, DAY);
    int64_t today = records_local_day(now), expiry_day = records_local_day(f->not_after);
    int min = p->renewal_min_days_left;
    char d[11], e[11];
    if (min != POLICY_PER_LAW)
        out->renewal_last_day = expiry_day - min;

    out->ended_day = ended_day_of(f, now);
    out->ended = out->ended_day >= 0;
    if (out->ended) {
        bool revoked = !(now >= f->not_after && records_local_day(f->not_after) == out->ended_day);
        records_date_format(out->ended_day, d);
        out->renewal = RECORDS_RENEWAL_ENDED;
        snprintf(out->renewal_why, sizeof(out->renewal_why), "the certificate ended on %s (%s): it cannot be renewed",
                 d, revoked ? "revocation registered" : "expired");
    } else if (p->renewal_once && f->renewals_before >= 1) {
        out->renewal = RECORDS_RENEWAL_ALREADY;
        snprintf(out->renewal_why, sizeof(out->renewal_why),
                 "renewed once already (%d renewal request%s registered for this certificate's holder and token); "
                 "%s allows one",
                 f->renewals_before, f->renewals_before == 1 ? "" : "s", p->id);
    } else if (min == POLICY_PER_LAW) {
        out->renewal = RECORDS_RENEWAL_PER_LAW;
        snprintf(out->renewal_why, sizeof(out->renewal_why), "%s names no number of days: renewal per %.100s", p->id,
                 p->basis);
    } else if (out->days_left < min) {
        records_date_format(out->renewal_last_day, d);
        out->renewal = RECORDS_RENEWAL_TOO_LATE;
        snprintf(out->renewal_why, sizeof(out->renewal_why),
                 "%lld days left, fewer than the %d a renewal needs under %s (the last day was %s)",
                 (long long)out->days_left, min, p->id, d);
    } else {
        records_date_format(out->renewal_last_day, d);
        records_date_format(expiry_day, e);
        out->renewal = RECORDS_RENEWAL_ELIGIBLE;
        snprintf(out->renewal_why, sizeof(out->renewal_why),
                 "%lld days left: a renewal may be requested until %s (%d days before %s, %s)",
                 (long long)out->days_left, d, min, e, p->id);
    }

    if (out->ended && cal && p->return_working_days != POLICY_PER_LAW)
        out->return_deadline = records_add_working_days(cal, out->ended_day, p->return_working_days);
    out->returned = out->ended && f->returned_day >= 0;
    out->overdue = out->ended && !out->returned && out->return_deadline >= 0 && today > out->return_deadline;
}

/* ---------------------------------------------------------- the registry */

static json_object *member(const json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *text(const json_object *o, const char *key)
{
    json_object *v = member(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static bool grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / size)
        return false;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

struct load_ctx {
    struct due_index *ix;
    char *why;
    size_t whylen;
};

static int add_event(struct load_ctx *c, const struct due_event *e)
{
    struct due_index *ix = c->ix;
    if (!grow((void **)&ix->events, &ix->capevents, ix->nevents, sizeof(*ix->events))) {
        snprintf(c->why, c->whylen, "out of memory");
        return -1;
    }
    ix->events[ix->nevents++] = *e;
    return 0;
}

static int add_cert(struct load_ctx *c, const char *id, const char *token, const json_object *cert)
{
    struct due_index *ix = c->ix;
    const char *sha = text(cert, "sha256");
    for (size_t i = 0; i < ix->ncerts; i++)
        if (strcmp(ix->certs[i].sha256, sha) == 0)
            return 0;
    if (!grow((void **)&ix->certs, &ix->capcerts, ix->ncerts, sizeof(*ix->certs))) {
        snprintf(c->why, c->whylen, "out of memory");
        return -1;
    }
    struct due_cert *d = &ix->certs[ix->ncerts];
    memset(d, 0, sizeof(*d));
    int64_t na = 0;
    if (!due_copy(d->token, sizeof(d->token), token) || !due_copy(d->sha256, sizeof(d->sha256), sha) ||
        !due_copy(d->serial, sizeof(d->serial), text(cert, "serial")) ||
        !due_copy(d->cn, sizeof(d->cn), text(member(cert, "subject"), "cn")) ||
        records_time_parse(text(cert, "not_after"), &na) != 0) {
        snprintf(c->why, c->whylen, "the registry: %s: a certificate this tool cannot hold (too long a field)", id);
        return -1;
    }
    d->not_after = na;
    snprintf(d->source, sizeof(d->source), "registry %s", id);
    ix->ncerts++;
    return 0;
}

static int load_one(const char *id, json_object *obj, const char *problem, void *arg)
{
    struct load_ctx *c = arg;
    if (!obj) {
        /* A record that does not load could be the revocation or the
         * return that decides what is due: no answer rather than a wrong one. */
        snprintf(c->why, c->whylen, "the registry: %s: %s", id, problem ? problem : "does not load");
        return -1;
    }
    const char *kind = text(obj, "kind"), *token = text(member(obj, "token"), "serial");
    json_object *certs = member(obj, "certificates"), *details = member(obj, "details"),
                *created = member(obj, "created");
    size_t n = certs && json_object_is_type(certs, json_type_array) ? json_object_array_length(certs) : 0;
    struct due_event e;
    memset(&e, 0, sizeof(e));
    /* The day in Vietnam it was made (whatever offset created.time was
     * written with): the days of the deadlines are Vietnam's. */
    if (!due_copy(e.token, sizeof(e.token), token) || records_time_parse(text(created, "time"), &e.time) != 0) {
        snprintf(c->why, c->whylen, "the registry: %s: a token serial or a creation time this tool cannot hold", id);
        return -1;
    }
    e.day = records_local_day(e.time);
    for (size_t i = 0; i < n; i++)
        if (add_cert(c, id, token, json_object_array_get_idx(certs, i)) != 0)
            return -1;

    if (strcmp(kind, "renewal-request") == 0 && strcmp(text(details, "change"), "renewal") == 0) {
        /* once per holder the record names */
        e.kind = DUE_RENEWAL;
        for (size_t i = 0; i < n; i++) {
            const char *cn = text(member(json_object_array_get_idx(certs, i), "subject"), "cn");
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++)
                seen = strcmp(cn, text(member(json_object_array_get_idx(certs, k), "subject"), "cn")) == 0;
            if (!seen && (!due_copy(e.cn, sizeof(e.cn), cn) || add_event(c, &e) != 0))
                return -1;
        }
    } else if (strcmp(kind, "revocation-request") == 0) {
        e.kind = DUE_REVOKE;
        if (n == 0)
            return add_event(c, &e);
        for (size_t i = 0; i < n; i++)
            if (!due_copy(e.sha256, sizeof(e.sha256), text(json_object_array_get_idx(certs, i), "sha256")) ||
                add_event(c, &e) != 0)
                return -1;
    } else if (strcmp(kind, "loss") == 0) {
        e.kind = DUE_LOSS;
        return add_event(c, &e);
    } else if (strcmp(kind, "handover") == 0) {
        e.kind = DUE_HANDOVER;
        e.is_return = strcmp(text(details, "handover_kind"), "return") == 0;
        return add_event(c, &e);
    }
    return 0;
}

void due_index_free(struct due_index *ix)
{
    free(ix->certs);
    free(ix->events);
    memset(ix, 0, sizeof(*ix));
}

int due_index_load(const char *dir, struct due_index *ix, char *why, size_t whylen)
{
    memset(ix, 0, sizeof(*ix));
    if (!dir)
        return 0;
    struct load_ctx c = { .ix = ix, .why = why, .whylen = whylen };
    char err[256] = "";
    why[0] = '\0';
    long n = records_list(dir, load_one, &c, err, sizeof(err));
    if (n < 0 || why[0]) {
        if (!why[0])
            snprintf(why, whylen, "the registry %s cannot be read: %s", dir, err);
        due_index_free(ix);
        return -1;
    }
    return 0;
}

void due_index_facts(const struct due_index *ix, const char *token, const char *sha256, const char *cn,
                     int64_t not_after, int64_t now, struct records_cert_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->not_after = not_after;
    f->revoked_day = f->returned_day = -1;
    const struct due_event *latest = NULL;
    for (size_t i = 0; i < ix->nevents; i++) {
        const struct due_event *e = &ix->events[i];
        if (strcmp(e->token, token) != 0 || e->time > now)
            continue; /* another token's, or after the time asked about */
        if (e->kind == DUE_RENEWAL && strcmp(e->cn, cn) == 0)
            f->renewals_before++;
        bool revokes = e->kind == DUE_LOSS || (e->kind == DUE_REVOKE && (!e->sha256[0] || strcmp(e->sha256, sha256) == 0));
        if (revokes && (f->revoked_day < 0 || e->day < f->revoked_day))
            f->revoked_day = e->day;
        if (e->kind == DUE_HANDOVER && (!latest || e->time >= latest->time))
            latest = e;
    }
    int64_t end = ended_day_of(f, now);
    if (end < 0)
        return;
    /* Handed back: the first return on or after the end, or the token's
     * latest handover when that is a return (handed back before the end). */
    for (size_t i = 0; i < ix->nevents; i++) {
        const struct due_event *e = &ix->events[i];
        if (e->kind == DUE_HANDOVER && e->is_return && e->time <= now && strcmp(e->token, token) == 0 &&
            e->day >= end && (f->returned_day < 0 || e->day < f->returned_day))
            f->returned_day = e->day;
    }
    if (f->returned_day < 0 && latest && latest->is_return)
        f->returned_day = latest->day;
}

int records_due_facts(const char *registry_dir, const char *token_serial, const char *cert_sha256,
                      const char *cert_cn, int64_t not_after, int64_t now, struct records_cert_facts *f, char *why,
                      size_t whylen)
{
    struct due_index ix;
    if (due_index_load(registry_dir, &ix, why, whylen) != 0)
        return -1;
    due_index_facts(&ix, token_serial ? token_serial : "", cert_sha256 ? cert_sha256 : "", cert_cn ? cert_cn : "",
                    not_after, now, f);
    due_index_free(&ix);
    return 0;
}
