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

int record_cmd_register(const char *path, const char *dir, json_object *o, const struct records_blob *sigs,
                        size_t nsigs)
{
    char why[512] = "", detail[160];
    json_object *token = NULL;
    json_object_object_get_ex(o, "token", &token);
    const char *id = member(o, "id"), *serial = member(token, "serial");
    json_object *integrity = NULL;
    json_object_object_get_ex(o, "integrity", &integrity);

    if (registry_refuses(dir, o, why, sizeof(why))) {
        fprintf(stderr, "kyso: %s: not registered: %s\n", path, why);
        return 1;
    }
    struct cli_token ct;
    if (cli_token_open(&ct, NULL, serial, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s: not registered: %s (its facts are checked against it)\n", path, why);
        return 1;
    }
    int facts = cli_token_matches(&ct, o, why, sizeof(why));
    struct audit_event ev = { .event = "record", .reader = ct.reader, .token = serial, .outcome = "CKR_OK",
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
