/* kyso record register FILE [--dir DIR]: a record into the registry.
 *
 * The record must be sound (schema, integrity), its token inserted and
 * matching every fact the record states of it (serial, ATR, applet, the
 * USB identity, each certificate), and its id new. The registration is
 * recorded in the audit trail root's configuration names ("record":
 * kind, id, hash) before it is made, and taken back ("withheld") when it
 * then fails, so that the trail holds every record the module may trust
 * and no other. */
#include "config.h"

#include "tools/cli/record_cmds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "audit/audit.h"
#include "records/record.h"
#include "records/registry.h"
#include "tools/cli/record_make.h"
#include "tools/cli/record_refs.h"
#include "tools/cli/token_facts.h"

static const char *member(const json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

/* What the registry says before anything is recorded: the id is new,
 * and a handover is later than the token's latest registered one (the
 * custodian is the receiver of the latest: two of the same time, or one
 * registered out of order, would make that answer depend on the order
 * of registration rather than on the records). */
static bool registry_refuses(const char *dir, const json_object *o, char *why, size_t whylen)
{
    char file[4096];
    struct stat st;
    const char *id = member(o, "id");
    if ((size_t)snprintf(file, sizeof(file), "%s/%s.json", dir, id) < sizeof(file) && stat(file, &st) == 0) {
        snprintf(why, whylen, "record %s is already registered", id);
        return true;
    }
    if (strcmp(member(o, "kind"), "handover") != 0 || (stat(dir, &st) != 0 && errno == ENOENT))
        return false;
    json_object *token = NULL, *created = NULL, *latest = NULL, *lcreated = NULL;
    json_object_object_get_ex(o, "token", &token);
    json_object_object_get_ex(o, "created", &created);
    int found = records_latest_handover(dir, member(token, "serial"), &latest, why, whylen);
    if (found < 0)
        return true;
    if (found == 0)
        return false;
    json_object_object_get_ex(latest, "created", &lcreated);
    int64_t mine = 0, theirs = 0;
    bool refused = records_time_parse(member(created, "time"), &mine) != 0 ||
                   records_time_parse(member(lcreated, "time"), &theirs) != 0 || mine <= theirs;
    if (refused)
        snprintf(why, whylen, "handover %s of this token (%s) is not older than this one (%s): handovers are "
                 "registered in the order they happened", member(latest, "id"), member(lcreated, "time"),
                 member(created, "time"));
    json_object_put(latest);
    return refused;
}

/* What the kinds of rules M7 and M8 ask of the registry: the record they
 * name is registered, of this token, and not closed already; a record
 * that lets a token sign again (found) or sign away from the office (a
 * permission) is signed. */
static bool references_refuse(const json_object *o, size_t nsigs, char *why, size_t whylen)
{
    static const struct {
        const char *kind, *member, *names, *closer;
    } refs[] = {
        { "token-found", "loss_id", "loss", "token-found" },
        { "off-premises-return", "permission_id", "off-premises", "off-premises-return" },
    };
    const char *kind = member(o, "kind");
    json_object *details = NULL, *token = NULL;
    json_object_object_get_ex(o, "details", &details);
    json_object_object_get_ex(o, "token", &token);
    if ((strcmp(kind, "token-found") == 0 || strcmp(kind, "off-premises") == 0) && nsigs == 0) {
        snprintf(why, whylen, "%s lets the token sign again: it is registered only signed (kyso record sign) by "
                 "its approver", strcmp(kind, "off-premises") == 0 ? "an off-premises permission" : "a found record");
        return true;
    }
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        if (strcmp(kind, refs[i].kind) != 0)
            continue;
        const char *id = member(details, refs[i].member);
        json_object *named = NULL;
        char found[24], rwhy[256];
        if (cli_registered(id, refs[i].names, member(token, "serial"), &named, rwhy, sizeof(rwhy)) != 0) {
            snprintf(why, whylen, "details.%s: %s", refs[i].member, rwhy);
            return true;
        }
        json_object_put(named);
        int seen = cli_registered_reference(refs[i].closer, refs[i].member, id, found, rwhy, sizeof(rwhy));
        if (seen != 0) {
            snprintf(why, whylen, "%s", seen < 0 ? rwhy : "");
            if (seen > 0)
                snprintf(why, whylen, "%s %s is closed already by registered record %s", refs[i].names, id, found);
            return true;
        }
    }
    return false;
}

/* A record about a lost token holds the facts of a registered record of
 * it (or of the audit trail): there is no token to check them against. */
static bool about_lost_token(const json_object *o, char *why, size_t whylen, bool *refused)
{
    json_object *details = NULL, *fs = NULL, *token = NULL;
    json_object_object_get_ex(o, "details", &details);
    json_object_object_get_ex(o, "token", &token);
    *refused = false;
    if (!details || !json_object_object_get_ex(details, "facts_source", &fs) || strcmp(member(fs, "from"), "token") == 0)
        return false;
    if (strcmp(member(fs, "from"), "registry") == 0) {
        json_object *ref = NULL;
        char rwhy[256];
        if (cli_registered(member(fs, "ref"), NULL, member(token, "serial"), &ref, rwhy, sizeof(rwhy)) != 0) {
            snprintf(why, whylen, "its facts are said to come from a registered record: %s", rwhy);
            *refused = true;
        }
        json_object_put(ref);
    }
    return true;
}

int record_cmd_register(const char *path, const char *dir, json_object *o, const struct records_blob *sigs,
                        size_t nsigs)
{
    char why[512] = "", detail[160];
    json_object *token = NULL;
    json_object_object_get_ex(o, "token", &token);
    const char *id = member(o, "id"), *serial = member(token, "serial");
    json_object *integrity = NULL;
    json_object_object_get_ex(o, "integrity", &integrity);

    bool lost_refused = false;
    if (registry_refuses(dir, o, why, sizeof(why)) || references_refuse(o, nsigs, why, sizeof(why))) {
        fprintf(stderr, "kyso: %s: not registered: %s\n", path, why);
        return 1;
    }
    bool lost = about_lost_token(o, why, sizeof(why), &lost_refused);
    if (lost_refused) {
        fprintf(stderr, "kyso: %s: not registered: %s\n", path, why);
        return 1;
    }
    struct cli_token ct;
    memset(&ct, 0, sizeof(ct));
    if (!lost && cli_token_open(&ct, NULL, serial, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s: not registered: %s (its facts are checked against it)\n", path, why);
        return 1;
    }
    int facts = lost ? 0 : cli_token_matches(&ct, o, why, sizeof(why));
    struct audit_event ev = { .event = "record", .reader = lost ? "" : ct.reader, .token = serial, .outcome = "CKR_OK",
                              .detail = detail };
    snprintf(detail, sizeof(detail), "%s %s sha256:%s", member(o, "kind"), id, member(integrity, "sha256"));
    if (facts != 0) {
        fprintf(stderr, "kyso: %s: not registered: it is not this token's record: %s\n", path, why);
        cli_token_close(&ct);
        return 1;
    }
    struct audit_receipt receipt;
    if (cli_audit_configure(why, sizeof(why)) != 0 || audit_submit(&ev, &receipt, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s: not registered: the audit trail cannot record it: %s\n", path, why);
        cli_token_close(&ct);
        return 1;
    }
    int rc = 0;
    if (records_register(dir, o, sigs, nsigs, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s: not registered: %s\n", path, why);
        char err[256];
        if (audit_withhold(&ev, &receipt, "not registered", err, sizeof(err)) != 0)
            fprintf(stderr, "kyso: the audit trail keeps a record of it that cannot be taken back now: %s\n", err);
        rc = 1;
    } else {
        printf("registered %s in %s (%zu signature%s)\n", id, dir, nsigs, nsigs == 1 ? "" : "s");
    }
    audit_sink_flush(audit_timeout_ms());
    cli_token_close(&ct);
    return rc;
}
