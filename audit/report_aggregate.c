/* The periodic usage report (rule M9, see report.h), its aggregates: the
 * totals and the per-key counts in bounded hash tables, one per table of
 * the report. Writing the report is report_output.c. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "audit/report_int.h"

/* ======================================================================
 * The report: aggregates
 * ====================================================================== */

static uint64_t key_hash(const char *const k[3])
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 3; i++) {
        if (!k[i]) {
            h = (h ^ 0x1e) * 1099511628211ULL;
            continue;
        }
        for (const unsigned char *p = (const unsigned char *)k[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0x1f) * 1099511628211ULL;
    }
    return h;
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int table_grow(struct agg_table *t)
{
    size_t nb = t->nb ? t->nb * 2 : 64;
    struct agg_entry **b = calloc(nb, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < t->nb; i++)
        for (struct agg_entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

/* The entry of the key, made if new; NULL when the table is full (or out
 * of memory): the caller counts the record in "(other)". Keys and extras
 * are copied into the entry's own allocation. */
static struct agg_entry *table_get(struct agg_table *t, const char *k1, const char *k2, const char *k3,
                                   const char *x1, const char *x2, bool create)
{
    const char *k[3] = { k1, k2, k3 };
    uint64_t h = key_hash(k);
    if (t->nb) {
        for (struct agg_entry *e = t->b[h & (t->nb - 1)]; e; e = e->next)
            if (e->hash == h && str_eq(e->k[0], k1) && str_eq(e->k[1], k2) && str_eq(e->k[2], k3))
                return e;
    }
    if (!create || t->n >= t->max)
        return NULL;
    const char *src[5] = { k1, k2, k3, x1, x2 };
    size_t need = sizeof(struct agg_entry);
    for (int i = 0; i < 5; i++)
        if (src[i])
            need += strlen(src[i]) + 1;
    if (t->bytes + need > AUDIT_REPORT_MAX_BYTES)
        return NULL;
    if ((t->n + 1) * 4 > t->nb * 3 && table_grow(t) != 0)
        return NULL;
    struct agg_entry *e = calloc(1, need);
    if (!e)
        return NULL;
    char *p = (char *)(e + 1);
    const char **dst[5] = { &e->k[0], &e->k[1], &e->k[2], &e->extra[0], &e->extra[1] };
    for (int i = 0; i < 5; i++) {
        if (!src[i])
            continue;
        size_t l = strlen(src[i]) + 1;
        memcpy(p, src[i], l);
        *dst[i] = p;
        p += l;
    }
    e->hash = h;
    e->next = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = e;
    t->n++;
    t->bytes += need;
    return e;
}

static void table_free(struct agg_table *t)
{
    for (size_t i = 0; i < t->nb; i++)
        for (struct agg_entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->b);
    memset(t, 0, sizeof(*t));
}

/* Short descriptions of the rules (REGULATIONS.md). */
static const char *const rule_text[16] = {
    "only a valid certificate signs",
    "no tool alters or damages the token",
    "no copy or unauthorised use of private keys",
    "organisation token: only the assigned clerk",
    "handover in person, with a record",
    "PIN lock-out and recovery",
    "loss, compromise, change: report and revoke",
    "off-premises use needs permission",
    "usage counted, monitored, reported",
    "renewal once, with enough time left",
    "tokens of expired/revoked certificates returned",
    "within the organisation's authority and title",
    "handled as a state secret (Mật / Tối mật)",
    "organisation signature after the person's",
    "not for documents holding state secrets",
    "visible PDF signature layout",
};

struct audit_report *audit_report_new(const struct audit_period *period)
{
    struct audit_report *rep = calloc(1, sizeof(*rep));
    if (!rep)
        return NULL;
    rep->period = *period;
    rep->t.first = INT64_MAX;
    rep->t.last = INT64_MIN;
    for (int i = 0; i < AUDIT_T_COUNT; i++)
        rep->tab[i].max = AUDIT_REPORT_MAX_KEYS;
    /* Every rule is listed, with zero refusals when none. */
    for (int i = 0; i < 16; i++) {
        char id[8];
        snprintf(id, sizeof(id), "M%d", i + 1);
        if (!table_get(&rep->tab[AUDIT_T_RULE], id, NULL, NULL, rule_text[i], NULL, true)) {
            audit_report_free(rep);
            return NULL;
        }
    }
    return rep;
}

void audit_report_free(struct audit_report *rep)
{
    if (!rep)
        return;
    for (int i = 0; i < AUDIT_T_COUNT; i++)
        table_free(&rep->tab[i]);
    free(rep);
}

void audit_report_set_max_keys(struct audit_report *rep, size_t max)
{
    for (int i = 0; i < AUDIT_T_COUNT; i++)
        rep->tab[i].max = max > rep->tab[i].n ? max : rep->tab[i].n;
}

enum rec_kind { K_NONE, K_SIGNED, K_REFUSED, K_FAILED, K_PIN_FAILURE, K_PIN_LOCKED, K_WITHHELD };

static void count_into(struct audit_report_counts *c, enum rec_kind kind)
{
    c->records++;
    switch (kind) {
    case K_SIGNED:
        c->signed_ok++;
        break;
    case K_REFUSED:
        c->refused++;
        break;
    case K_FAILED:
        c->failed++;
        break;
    case K_PIN_FAILURE:
        c->pin_failures++;
        break;
    case K_PIN_LOCKED:
        c->pin_locked++;
        break;
    case K_WITHHELD:
        /* The signature it takes back was counted as made. */
        if (c->signed_ok)
            c->signed_ok--;
        c->withheld++;
        break;
    case K_NONE:
        break;
    }
}

static void tally(struct agg_table *t, enum rec_kind kind, const char *k1, const char *k2, const char *k3,
                  const char *x1, const char *x2)
{
    struct agg_entry *e = table_get(t, k1, k2, k3, x1, x2, true);
    if (e) {
        count_into(&e->c, kind);
    } else {
        t->has_other = true;
        count_into(&t->other, kind);
    }
}

void audit_report_add(struct audit_report *rep, const struct audit_record *r)
{
    struct audit_report_totals *t = &rep->t;
    if (r->time_ms < rep->period.from || r->time_ms > rep->period.to) {
        t->outside++;
        return;
    }
    t->records++;
    if (r->time_ms < t->first)
        t->first = r->time_ms;
    if (r->time_ms > t->last)
        t->last = r->time_ms;
    const char *ev = r->event;
    bool ok = r->outcome && strcmp(r->outcome, "CKR_OK") == 0, failed = r->outcome && !ok;
    enum rec_kind kind = K_NONE;
    if (strcmp(ev, "sign") == 0 && ok)
        kind = K_SIGNED;
    else if (strcmp(ev, "withheld") == 0 && r->of && strcmp(r->of, "sign") == 0)
        kind = K_WITHHELD;
    else if (strcmp(ev, "refusal") == 0)
        kind = K_REFUSED;
    else if (strcmp(ev, "pin_failure") == 0)
        kind = K_PIN_FAILURE;
    else if (strcmp(ev, "pin_locked") == 0)
        kind = K_PIN_LOCKED;
    else if (failed)
        kind = K_FAILED;
    tally(&rep->tab[AUDIT_T_EVENT], kind, ev, NULL, NULL, NULL, NULL);
    if (strcmp(ev, "log_start") == 0 || strcmp(ev, "log_continue") == 0)
        return;

    t->usage++;
    switch (kind) {
    case K_SIGNED:
        t->signed_ok++;
        break;
    case K_REFUSED:
        t->refused++;
        break;
    case K_PIN_FAILURE:
        t->pin_failures++;
        break;
    case K_PIN_LOCKED:
        t->pin_locked++;
        break;
    case K_WITHHELD:
        if (t->signed_ok)
            t->signed_ok--;
        t->withheld++;
        break;
    case K_FAILED:
        if (strcmp(ev, "sign") == 0)
            t->sign_failed++;
        else
            t->other_failed++;
        break;
    case K_NONE:
        break;
    }
    if (strcmp(ev, "decrypt") == 0)
        t->decrypt++;
    else if (strcmp(ev, "derive") == 0)
        t->derive++;
    else if (strcmp(ev, "pin_change") == 0)
        t->pin_changes++;
    else if (strcmp(ev, "pin_unblock") == 0)
        t->pin_unblocks++;
    else if (strcmp(ev, "keygen") == 0 || strcmp(ev, "object_create") == 0 || strcmp(ev, "object_destroy") == 0)
        t->admin_writes++;

    const char *org = r->has_cert ? r->cert_organization : NULL;
    const char *name = r->has_cert ? (r->cert_cn ? r->cert_cn : r->cert_subject) : NULL;
    const char *title = r->has_cert ? r->cert_title : NULL;
    tally(&rep->tab[AUDIT_T_AGENCY], kind, org, NULL, NULL, NULL, NULL);
    tally(&rep->tab[AUDIT_T_PERSON], kind, name, title, org, NULL, NULL);
    if (r->has_cert)
        tally(&rep->tab[AUDIT_T_CERT], kind, r->cert_sha256, r->cert_serial, NULL, name, title);
    else
        tally(&rep->tab[AUDIT_T_CERT], kind, NULL, NULL, NULL, NULL, NULL);
    tally(&rep->tab[AUDIT_T_TOKEN], kind, r->token, NULL, NULL, NULL, NULL);
    tally(&rep->tab[AUDIT_T_PROGRAM], kind, r->program_name, NULL, NULL, NULL, NULL);
    tally(&rep->tab[AUDIT_T_USER], kind, r->user, r->host, NULL, NULL, NULL);
    tally(&rep->tab[AUDIT_T_OUTCOME], kind, r->outcome, NULL, NULL, NULL, NULL);
    if (kind == K_REFUSED)
        tally(&rep->tab[AUDIT_T_RULE], kind, r->rule, NULL, NULL, NULL, NULL);
}

int audit_report_add_fn(const struct audit_record *r, void *arg)
{
    audit_report_add(arg, r);
    return 0;
}

const struct audit_report_totals *audit_report_totals(const struct audit_report *rep)
{
    return &rep->t;
}

int report_table_keys(enum audit_report_table t)
{
    return t == AUDIT_T_PERSON ? 3 : (t == AUDIT_T_CERT || t == AUDIT_T_USER) ? 2 : 1;
}

bool audit_report_get(const struct audit_report *rep, enum audit_report_table t, const char *k1, const char *k2,
                      const char *k3, struct audit_report_counts *out)
{
    int nk = report_table_keys(t);
    struct agg_entry *e = table_get((struct agg_table *)&rep->tab[t], k1, nk > 1 ? k2 : NULL,
                                    nk > 2 ? k3 : NULL, NULL, NULL, false);
    if (e)
        *out = e->c;
    else
        memset(out, 0, sizeof(*out));
    return e != NULL;
}

size_t audit_report_keys(const struct audit_report *rep, enum audit_report_table t, uint64_t *other_records)
{
    if (other_records)
        *other_records = rep->tab[t].other.records;
    return rep->tab[t].n;
}
