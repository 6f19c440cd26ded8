/* kyso revoke-request: the request to revoke a token's certificates (rule
 * M7), under the form the profile cites (Mẫu 05 of Nghị định 68/2024).
 *
 *   kyso revoke-request --parties FILE --reason-code CODE --reason TEXT
 *        [--serial SERIAL | --reader NAME] [--loss ID] [--place PLACE]
 *        -o OUT.json [--pdf OUT.pdf]
 *
 * CODE is one of the cases of Điều 17 (records/README.md). The token's
 * facts are read from it when it is in a reader; for a token that is
 * lost, --serial names it and the facts come from its latest registered
 * record. Once the request is registered the module refuses the token. */
#include "config.h"

#include "tools/cli/m7_cmds.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "records/record.h"
#include "tools/cli/record_make.h"
#include "tools/cli/record_refs.h"

static int usage(void)
{
    fputs("usage: kyso revoke-request --parties FILE --reason-code CODE --reason TEXT\n"
          "           [--serial SERIAL | --reader NAME] [--loss ID] [--place PLACE] -o OUT.json [--pdf OUT.pdf]\n"
          "  CODE: expiry, key_compromise, token_lost, token_damaged, token_unsafe, court_or_police,\n"
          "        managing_agency, post_changed, retirement, resignation, death, organisation_ended,\n"
          "        service_stopped\n",
          stderr);
    return 2;
}

bool cli_revocation_reason_known(const char *code)
{
    for (size_t i = 0; code && records_revocation_reasons[i]; i++)
        if (strcmp(code, records_revocation_reasons[i]) == 0)
            return true;
    return false;
}

json_object *cli_revocation_request(const struct cli_record_ctx *rc, const char *code, const char *reason,
                                    const char *loss_id, const char *place, const char *reader, const char *serial,
                                    const char *parties, int64_t when)
{
    char why[512] = "";
    json_object *rec = cli_record_start(rc, "revocation-request", rc->profile->form_revocation,
                                        "GIẤY ĐỀ NGHỊ THU HỒI CHỨNG THƯ SỐ", place, when, why, sizeof(why));
    if (!rec) {
        fprintf(stderr, "kyso: %s\n", why);
        return NULL;
    }
    json_object *details = json_object_new_object();
    json_object_object_add(rec, "details", details);
    cli_set_text(details, "reason_code", code);
    cli_set_text(details, "reason", reason);
    if (loss_id)
        cli_set_text(details, "loss_id", loss_id);
    if (cli_record_add_facts(rec, details, reader, serial, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        json_object_put(rec);
        return NULL;
    }
    if (cli_record_add_parties(rec, parties, "revocation-request") != 0) {
        json_object_put(rec);
        return NULL;
    }
    return rec;
}

int revoke_request_cmd(int argc, char **argv)
{
    const char *parties = NULL, *code = NULL, *reason = NULL, *serial = NULL, *reader = NULL, *loss = NULL,
               *place = NULL, *out = NULL, *pdf = NULL;
    const struct cli_option opts[] = { { "--parties", &parties }, { "--reason-code", &code }, { "--reason", &reason },
                                       { "--serial", &serial },   { "--reader", &reader },    { "--loss", &loss },
                                       { "--place", &place },     { "-o", &out },             { "--pdf", &pdf } };
    if (cli_parse_options(argc, argv, 1, opts, sizeof(opts) / sizeof(opts[0])) != 0 || !parties || !code ||
        !reason || !out || (serial && reader))
        return usage();
    if (!cli_revocation_reason_known(code)) {
        fprintf(stderr, "kyso: --reason-code %s is not a case of Điều 17 (kyso revoke-request --help lists them)\n",
                code);
        return 2;
    }
    char why[512] = "";
    struct cli_record_ctx rc;
    if (cli_record_context(&rc, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    if (loss) {
        json_object *l = NULL;
        if (cli_registered(loss, "loss", NULL, &l, why, sizeof(why)) != 0) {
            fprintf(stderr, "kyso: --loss: %s\n", why);
            return 1;
        }
        json_object_put(l);
    }
    json_object *rec = cli_revocation_request(&rc, code, reason, loss, place, reader, serial, parties,
                                              (int64_t)time(NULL));
    if (!rec)
        return 1;
    int status = cli_record_finish(rec, out, pdf) == 0 ? 0 : 1;
    json_object_put(rec);
    return status;
}
