/* records_standing_of: one walk of the registry for a token's losses,
 * revocation requests, finds and off-premises permissions (standing.h). */
#include "config.h"

#include "records/standing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "records/record.h"
#include "records/registry.h"

#define MAX_SEEN 64   /* losses, revocations, finds, returns of one token kept for matching */

struct walk {
    const char *dir, *serial;
    X509_STORE *anchors;
    char problem[256];
    /* what the walk found, matched at the end */
    size_t nstops;
    struct { char id[24], kind[24], loss[24]; int64_t at; } stops[MAX_SEEN];
    size_t nfound;
    struct { char id[24], loss[24]; } found[MAX_SEEN];
    size_t nperm;
    struct records_permission perm[MAX_SEEN];
    size_t nback;
    struct { char permission[24]; int64_t at; } back[MAX_SEEN];
    bool overflow;
};

static const char *text(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static int64_t when(json_object *o, const char *key)
{
    int64_t t;
    return records_time_parse(text(o, key), &t) == 0 ? t : -1;
}

static void copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

/* A record that loosens counts only when signed, and soundly. */
static bool soundly_signed(struct walk *w, json_object *o)
{
    size_t nsig = 0;
    char why[160];
    return records_check_signatures(w->dir, o, w->anchors, &nsig, why, sizeof(why)) == 0 && nsig > 0;
}

static int visit(const char *id, json_object *o, const char *problem, void *ctx)
{
    struct walk *w = ctx;
    if (!o) {
        snprintf(w->problem, sizeof(w->problem), "%s: %s", id, problem);
        return 1;
    }
    json_object *token = NULL, *details = NULL, *created = NULL;
    json_object_object_get_ex(o, "token", &token);
    json_object_object_get_ex(o, "details", &details);
    json_object_object_get_ex(o, "created", &created);
    if (strcmp(text(token, "serial"), w->serial) != 0)
        return 0;
    const char *kind = text(o, "kind");
    if (strcmp(kind, "loss") == 0 || strcmp(kind, "revocation-request") == 0) {
        if (w->nstops == MAX_SEEN) {
            w->overflow = true;
            return 1;
        }
        copy(w->stops[w->nstops].id, sizeof(w->stops[0].id), id);
        copy(w->stops[w->nstops].kind, sizeof(w->stops[0].kind), kind);
        /* a revocation request made with a loss goes (and comes back) with it */
        copy(w->stops[w->nstops].loss, sizeof(w->stops[0].loss),
             strcmp(kind, "loss") == 0 ? id : text(details, "loss_id"));
        w->stops[w->nstops++].at = when(created, "time");
    } else if (strcmp(kind, "token-found") == 0) {
        if (!soundly_signed(w, o))
            return 0;
        if (w->nfound == MAX_SEEN) {
            w->overflow = true;
            return 1;
        }
        copy(w->found[w->nfound].id, sizeof(w->found[0].id), id);
        copy(w->found[w->nfound++].loss, sizeof(w->found[0].loss), text(details, "loss_id"));
    } else if (strcmp(kind, "off-premises") == 0) {
        if (!soundly_signed(w, o))
            return 0;
        if (w->nperm == MAX_SEEN) { /* only the latest matter: drop the oldest */
            memmove(&w->perm[0], &w->perm[1], sizeof(w->perm[0]) * (MAX_SEEN - 1));
            w->nperm--;
        }
        struct records_permission *p = &w->perm[w->nperm++];
        copy(p->id, sizeof(p->id), id);
        p->from = when(details, "from");
        p->until = when(details, "to");
        p->returned = false;
    } else if (strcmp(kind, "off-premises-return") == 0) {
        if (w->nback == MAX_SEEN) {
            w->overflow = true;
            return 1;
        }
        copy(w->back[w->nback].permission, sizeof(w->back[0].permission), text(details, "permission_id"));
        w->back[w->nback++].at = when(details, "returned_at");
    }
    return 0;
}

static bool loss_found(const struct walk *w, const char *loss, const char **by)
{
    for (size_t i = 0; *loss && i < w->nfound; i++)
        if (strcmp(w->found[i].loss, loss) == 0) {
            *by = w->found[i].id;
            return true;
        }
    return false;
}

int records_standing_of(const char *dir, const char *serial, X509_STORE *anchors, struct records_standing *s,
                        char *why, size_t whylen)
{
    memset(s, 0, sizeof(*s));
    struct stat st;
    if (stat(dir, &st) != 0 && errno == ENOENT)
        return 0;
    struct walk *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    w->dir = dir;
    w->serial = serial;
    w->anchors = anchors;
    int rc = 0;
    if (records_list(dir, visit, w, why, whylen) < 0) {
        rc = -1;
    } else if (w->problem[0]) {
        snprintf(why, whylen, "registry damaged: %s", w->problem);
        rc = -1;
    } else if (w->overflow) {
        snprintf(why, whylen, "more than %d loss, revocation or return records of token %s", MAX_SEEN, serial);
        rc = -1;
    }
    if (rc == 0) {
        /* the latest stop that no find lifted (a revocation request of its
         * own, for another reason, is never lifted); a loss is named
         * before the revocation request made with it */
        for (size_t i = 0; i < w->nstops; i++) {
            const char *by = NULL;
            if (loss_found(w, w->stops[i].loss, &by)) {
                copy(s->found_by, sizeof(s->found_by), by);
                continue;
            }
            if (strcmp(s->stopped_kind, "loss") == 0 && strcmp(w->stops[i].kind, "loss") != 0 &&
                strcmp(w->stops[i].loss, s->stopped_by) == 0)
                continue;
            copy(s->stopped_by, sizeof(s->stopped_by), w->stops[i].id);
            copy(s->stopped_kind, sizeof(s->stopped_kind), w->stops[i].kind);
            s->stopped_at = w->stops[i].at;
        }
        size_t first = w->nperm > RECORDS_MAX_PERMISSIONS ? w->nperm - RECORDS_MAX_PERMISSIONS : 0;
        for (size_t i = first; i < w->nperm; i++) {
            struct records_permission p = w->perm[i];
            for (size_t k = 0; k < w->nback; k++)
                if (strcmp(w->back[k].permission, p.id) == 0) {
                    p.returned = true;
                    if (w->back[k].at >= 0 && w->back[k].at < p.until)
                        p.until = w->back[k].at;
                }
            s->permissions[s->npermissions++] = p;
        }
    }
    free(w);
    return rc;
}

const struct records_permission *records_permission_at(const struct records_standing *s, int64_t t)
{
    for (size_t i = s->npermissions; i-- > 0;) {
        const struct records_permission *p = &s->permissions[i];
        if (p->from >= 0 && p->until >= 0 && p->from <= t && t < p->until)
            return p;
    }
    return NULL;
}
