/* records_due_collect (records/deadlines.h): every certificate the
 * registry and the audit trail know, with what is due for it. Apart from
 * deadlines.c because it reads audit logs (audit/report.h), which the
 * module, linking records/libkysorecords.la, never does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/report.h"
#include "records/deadlines.h"
#include "records/deadlines_int.h"

/* Distinct certificates the audit trail may add: a bound on memory
 * whatever the logs hold (a host has a few dozen). */
#define DUE_MAX_AUDIT_CERTS 20000

struct audit_ctx {
    struct due_index *ix; /* its certs get the audit trail's too */
    size_t from_audit;
    char *why;
    size_t whylen;
};

static bool known(const struct due_index *ix, const char *sha)
{
    for (size_t i = 0; i < ix->ncerts; i++)
        if (strcmp(ix->certs[i].sha256, sha) == 0)
            return true;
    return false;
}

static int audit_one(const struct audit_record *r, void *arg)
{
    struct audit_ctx *c = arg;
    if (!r->event || strcmp(r->event, "sign") != 0 || !r->has_cert || !r->cert_sha256 || !r->token ||
        !r->cert_not_after || strlen(r->cert_sha256) != 64 || known(c->ix, r->cert_sha256))
        return 0;
    int64_t lo, hi;
    if (audit_time_parse(r->cert_not_after, &lo, &hi) != 0)
        return 0; /* a record this does not understand says nothing due */
    if (c->from_audit >= DUE_MAX_AUDIT_CERTS) {
        snprintf(c->why, c->whylen, "the audit trail names more than %d certificates", DUE_MAX_AUDIT_CERTS);
        return -1;
    }
    struct due_index *ix = c->ix;
    if (ix->ncerts == ix->capcerts) {
        size_t ncap = ix->capcerts ? ix->capcerts * 2 : 16;
        struct due_cert *p = realloc(ix->certs, ncap * sizeof(*p));
        if (!p) {
            snprintf(c->why, c->whylen, "out of memory");
            return -1;
        }
        ix->certs = p;
        ix->capcerts = ncap;
    }
    struct due_cert *d = &ix->certs[ix->ncerts];
    memset(d, 0, sizeof(*d));
    /* A field too long for the table is shown empty rather than cut. */
    if (!due_copy(d->token, sizeof(d->token), r->token) || !due_copy(d->sha256, sizeof(d->sha256), r->cert_sha256))
        return 0;
    due_copy(d->serial, sizeof(d->serial), r->cert_serial);
    due_copy(d->cn, sizeof(d->cn), r->cert_cn);
    snprintf(d->source, sizeof(d->source), "audit");
    d->not_after = lo / 1000;
    ix->ncerts++;
    c->from_audit++;
    return 0;
}

static int order(const void *a, const void *b)
{
    const struct records_due_item *x = a, *y = b;
    if (x->due.overdue != y->due.overdue)
        return x->due.overdue ? -1 : 1;
    if (x->due.days_left != y->due.days_left)
        return x->due.days_left < y->due.days_left ? -1 : 1;
    int t = strcmp(x->token_serial, y->token_serial);
    return t ? t : strcmp(x->cert_sha256, y->cert_sha256);
}

int records_due_collect(const char *registry_dir, const char *const *audit_logs, size_t nlogs,
                        const struct policy_profile *p, const struct records_calendar *cal, int64_t now,
                        struct records_due_item **items, size_t *n, char *why, size_t whylen)
{
    *items = NULL;
    *n = 0;
    struct due_index ix;
    if (due_index_load(registry_dir, &ix, why, whylen) != 0)
        return -1;
    if (nlogs) {
        struct audit_ctx c = { .ix = &ix, .why = why, .whylen = whylen };
        struct audit_scan_stats st;
        char err[512] = "";
        why[0] = '\0';
        int rc = audit_scan_files(audit_logs, nlogs, audit_one, &c, &st, err, sizeof(err));
        if (rc != 0) {
            if (!why[0])
                snprintf(why, whylen, "%s", err[0] ? err : "the audit trail cannot be read");
            due_index_free(&ix);
            return -1;
        }
    }
    struct records_due_item *out = ix.ncerts ? calloc(ix.ncerts, sizeof(*out)) : NULL;
    if (ix.ncerts && !out) {
        snprintf(why, whylen, "out of memory");
        due_index_free(&ix);
        return -1;
    }
    for (size_t i = 0; i < ix.ncerts; i++) {
        const struct due_cert *d = &ix.certs[i];
        struct records_due_item *it = &out[i];
        /* (the fields have the same sizes as the index's, or larger) */
        due_copy(it->token_serial, sizeof(it->token_serial), d->token);
        due_copy(it->cert_sha256, sizeof(it->cert_sha256), d->sha256);
        due_copy(it->cert_serial, sizeof(it->cert_serial), d->serial);
        due_copy(it->cert_cn, sizeof(it->cert_cn), d->cn);
        due_copy(it->source, sizeof(it->source), d->source);
        due_index_facts(&ix, d->token, d->sha256, d->cn, d->not_after, now, &it->facts);
        records_due_compute(p, cal, &it->facts, now, &it->due);
    }
    *n = ix.ncerts;
    due_index_free(&ix);
    if (*n > 1)
        qsort(out, *n, sizeof(*out), order);
    *items = out;
    return 0;
}
