/* Facts of a token that may be lost, records named by id, times from the
 * command line (record_refs.h). */
#include "config.h"

#include "tools/cli/record_refs.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "records/record.h"
#include "records/registry.h"
#include "tools/cli/record_make.h"
#include "tools/cli/token_facts.h"

const char *cli_json_text(const json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex((json_object *)o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static json_object *member(const json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex((json_object *)o, key, &v);
    return v;
}

struct latest_of_token {
    const char *serial;
    json_object *best;
    char problem[256];
};

static int latest_cb(const char *id, json_object *o, const char *problem, void *ctx)
{
    struct latest_of_token *l = ctx;
    if (!o) {
        snprintf(l->problem, sizeof(l->problem), "%s: %s", id, problem);
        return 1;
    }
    /* the latest in id order (ids begin with their date) holds the facts
     * as they were last read from the token */
    if (strcmp(cli_json_text(member(o, "token"), "serial"), l->serial) == 0) {
        json_object_put(l->best);
        l->best = json_object_get(o);
    }
    return 0;
}

static void set_source(json_object *details, const char *from, const char *ref)
{
    json_object *fs = json_object_new_object();
    cli_set_text(fs, "from", from);
    cli_set_text(fs, "ref", ref);
    json_object_object_add(details, "facts_source", fs);
}

int cli_record_add_facts(json_object *rec, json_object *details, const char *reader, const char *serial, char *why,
                         size_t whylen)
{
    struct cli_token ct;
    char twhy[256] = "";
    if (cli_token_open(&ct, reader, serial, twhy, sizeof(twhy)) == 0) {
        int rc = cli_record_add_token(rec, &ct, why, whylen);
        cli_token_close(&ct);
        if (rc == 0)
            set_source(details, "token", "");
        return rc;
    }
    if (!serial || reader) {
        snprintf(why, whylen, "%s (for a token that is lost, give --serial SERIAL: its facts are then those of its "
                 "latest registered record)", twhy);
        return -1;
    }
    struct latest_of_token l = { .serial = serial };
    if (records_list(records_dir(), latest_cb, &l, why, whylen) < 0)
        return -1;
    if (l.problem[0]) {
        snprintf(why, whylen, "the registry is damaged: %s", l.problem);
        json_object_put(l.best);
        return -1;
    }
    if (!l.best) {
        snprintf(why, whylen, "token %s is not in a reader and no registered record names it: its facts are not "
                 "known", serial);
        return -1;
    }
    json_object_object_add(rec, "token", json_object_get(member(l.best, "token")));
    json_object_object_add(rec, "certificates", json_object_get(member(l.best, "certificates")));
    set_source(details, "registry", cli_json_text(l.best, "id"));
    json_object_put(l.best);
    return 0;
}

int cli_registered(const char *id, const char *kind, const char *serial, json_object **out, char *why,
                   size_t whylen)
{
    char lwhy[256];
    *out = NULL;
    if (records_load(records_dir(), id, out, NULL, lwhy, sizeof(lwhy)) != 0) {
        snprintf(why, whylen, "record %s is not registered: %s", id, lwhy);
        return -1;
    }
    const char *k = cli_json_text(*out, "kind"), *s = cli_json_text(member(*out, "token"), "serial");
    if (kind && strcmp(k, kind) != 0)
        snprintf(why, whylen, "record %s is of kind %s, not %s", id, k, kind);
    else if (serial && strcmp(s, serial) != 0)
        snprintf(why, whylen, "record %s is about token %s, not this token (%s)", id, s, serial);
    else
        return 0;
    json_object_put(*out);
    *out = NULL;
    return -1;
}

struct reference {
    const char *kind, *member, *id;
    char found[24];
    char problem[256];
};

static int reference_cb(const char *id, json_object *o, const char *problem, void *ctx)
{
    struct reference *r = ctx;
    if (!o) {
        snprintf(r->problem, sizeof(r->problem), "%s: %s", id, problem);
        return 1;
    }
    if (strcmp(cli_json_text(o, "kind"), r->kind) == 0 &&
        strcmp(cli_json_text(member(o, "details"), r->member), r->id) == 0) {
        snprintf(r->found, sizeof(r->found), "%s", id);
        return 1;
    }
    return 0;
}

int cli_registered_reference(const char *kind, const char *mem, const char *id, char found[24], char *why,
                             size_t whylen)
{
    struct reference r = { .kind = kind, .member = mem, .id = id };
    found[0] = '\0';
    if (records_list(records_dir(), reference_cb, &r, why, whylen) < 0)
        return -1;
    if (r.problem[0]) {
        snprintf(why, whylen, "the registry is damaged: %s", r.problem);
        return -1;
    }
    snprintf(found, 24, "%s", r.found);
    return r.found[0] ? 1 : 0;
}

int cli_time_arg(const char *option, const char *value, int64_t *t, char *why, size_t whylen)
{
    if (records_time_parse(value, t) == 0)
        return 0;
    snprintf(why, whylen, "%s: \"%.40s\" is not a time with its offset (2026-12-03T10:15:00+07:00)", option, value);
    return -1;
}
