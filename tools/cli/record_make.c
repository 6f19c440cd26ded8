/* What the commands that make records share (tools/cli/record_make.h). */
#include "config.h"

#include "tools/cli/record_make.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "policy/config.h"
#include "policy/decide.h"
#include "records/calendar.h"
#include "records/canon.h"
#include "records/facts.h"
#include "records/record.h"
#include "records/render.h"

int cli_record_context(struct cli_record_ctx *c, char *why, size_t whylen)
{
    memset(c, 0, sizeof(*c));
    struct policy_config *pc = policy_config_acquire();
    if (!pc) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int rc = -1;
    if (pc->broken)
        snprintf(why, whylen, "root's configuration is refused: %s", pc->problems[0]);
    else if (!pc->agency_name[0])
        snprintf(why, whylen, "kyso.conf names no agency ([agency] name): a record needs its issuing body");
    else {
        c->profile = pc->profile;
        snprintf(c->agency_name, sizeof(c->agency_name), "%s", pc->agency_name);
        snprintf(c->agency_parent, sizeof(c->agency_parent), "%s", pc->agency_parent);
        snprintf(c->province, sizeof(c->province), "%s", pc->agency_province);
        rc = 0;
    }
    policy_config_release(pc);
    return rc;
}

json_object *cli_record_start(const struct cli_record_ctx *c, const char *kind, const char *form_cited,
                              const char *title, const char *place, int64_t when, char *why, size_t whylen)
{
    if (!place || !*place)
        place = c->province;
    if (!*place) {
        snprintf(why, whylen, "where the record is made is unknown: --place PLACE, or [agency] province in kyso.conf");
        return NULL;
    }
    struct records_header_in h = { .kind = kind,
                                   .profile = c->profile->id,
                                   .form_cited = form_cited,
                                   .regulation = c->profile->basis,
                                   .title = title,
                                   .place = place,
                                   .agency_name = c->agency_name,
                                   .agency_parent = c->agency_parent,
                                   .when = when };
    json_object *r = records_begin(&h);
    if (!r)
        snprintf(why, whylen, "cannot make a record id (random generator)");
    return r;
}

int cli_record_add_token(json_object *rec, const struct cli_token *ct, char *why, size_t whylen)
{
    json_object *certs = cli_token_certificates(ct, why, whylen);
    if (!certs)
        return -1;
    json_object_object_add(rec, "token", cli_token_facts(ct));
    json_object_object_add(rec, "certificates", certs);
    return 0;
}

static void print_problems(const char *what, const struct records_problems *p)
{
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "kyso: %s: %s\n", what, p->line[i]);
    if (p->dropped)
        fprintf(stderr, "kyso: %s: (and %zu more problems)\n", what, p->dropped);
}

int cli_record_add_parties(json_object *rec, const char *path, const char *kind)
{
    struct records_problems *p = calloc(1, sizeof(*p));
    if (!p) {
        fprintf(stderr, "kyso: out of memory\n");
        return -1;
    }
    json_object *parties = records_parties_load(path, kind, p);
    if (!parties)
        print_problems(path, p);
    else
        json_object_object_add(rec, "parties", parties);
    free(p);
    return parties ? 0 : -1;
}

void cli_set_text(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v ? v : ""));
}

int cli_record_finish(json_object *rec, const char *out_json, const char *out_pdf)
{
    struct records_problems *p = calloc(1, sizeof(*p));
    char *text = NULL, why[256] = "";
    size_t len = 0;
    int rc = -1, fd = -1;
    if (!p || records_seal(rec) != 0) {
        fprintf(stderr, "kyso: the record cannot be sealed\n");
        goto out;
    }
    if (records_validate(rec, p) != 0) {
        print_problems("the record", p);
        goto out;
    }
    if (records_canonical(rec, &text, &len, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: the record: %s\n", why);
        goto out;
    }
    fd = open(out_json, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "kyso: %s: cannot be created (it must not exist)\n", out_json);
        goto out;
    }
    bool ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok) {
        fprintf(stderr, "kyso: %s: write error (disk full?); nothing kept\n", out_json);
        unlink(out_json);
        goto out;
    }
    if (out_pdf && records_render_pdf(rec, out_pdf, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s: %s; nothing kept\n", out_pdf, why);
        unlink(out_json);
        goto out;
    }
    json_object *id;
    json_object_object_get_ex(rec, "id", &id);
    printf("%s: %s%s%s\n", out_json, json_object_get_string(id), out_pdf ? ", printable as " : "",
           out_pdf ? out_pdf : "");
    rc = 0;
out:
    free(text);
    free(p);
    return rc;
}

struct records_calendar *cli_calendar(void)
{
    char why[512];
    struct records_calendar *cal = records_calendar_load(KYSO_PKGDATADIR "/holidays-vn.txt",
                                                         KYSO_SYSCONFDIR "/kyso/holidays.txt", why, sizeof(why));
    if (!cal)
        fprintf(stderr, "kyso: the working-day calendar: %s\n", why);
    return cal;
}

/* The audit trail the module writes to, chosen by the same rules: root's,
 * or the one KYSO_AUDIT names where root's configuration allows it. */
int cli_audit_configure(char *why, size_t whylen)
{
    struct policy_config *c = policy_config_acquire();
    struct policy_environment env = { .audit = getenv("KYSO_AUDIT"),
                                      .audit_timeout_ms = getenv("KYSO_AUDIT_TIMEOUT_MS"),
                                      .conf = getenv("KYSO_CONF") };
    struct policy_audit_choice choice;
    int rc = -1;
    if (!c) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    policy_choose_audit(c, &env, &choice);
    if (c->broken)
        snprintf(why, whylen, "root's configuration is refused: %s", c->problems[0]);
    else if (!choice.allowed)
        snprintf(why, whylen, "rule %s: %s", choice.rule, choice.detail);
    else if (audit_sink_configure(choice.sink, choice.timeout_ms) != 0)
        snprintf(why, whylen, "the audit trail %s is not one kyso knows", choice.sink);
    else
        rc = 0;
    policy_config_release(c);
    return rc;
}

int cli_parse_options(int argc, char **argv, int start, const struct cli_option *opts, size_t n)
{
    for (int i = start; i < argc; i++) {
        const struct cli_option *o = NULL;
        for (size_t k = 0; k < n && !o; k++)
            if (strcmp(argv[i], opts[k].name) == 0)
                o = &opts[k];
        if (!o || i + 1 >= argc || *o->value)
            return -1;
        *o->value = argv[++i];
    }
    return 0;
}
