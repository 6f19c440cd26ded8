/* kyso handover: the handover record of a token (rule M5), made from the
 * token in the reader.
 *
 *   kyso handover KIND --parties FILE --reason TEXT --condition TEXT
 *        [--permission-ref TEXT] [--place PLACE] [--reader NAME]
 *        -o OUT.json [--pdf OUT.pdf]
 *
 * KIND: issue (the CA or managing agency to the subscriber),
 * custodian-change (one clerk to another: needs --permission-ref, the
 * written permission), return (after the certificate expired or was
 * revoked), repair, other. The parties file names who hands over, who
 * receives (with "os_user", the OS account that becomes the custodian of
 * an organisation's token, rule M4) and an optional witness. The form
 * number is the one root's profile cites. The record is written sealed;
 * the parties sign it (kyso record sign) and it is registered (kyso
 * record register) with the token inserted. */
#include "config.h"

#include "tools/cli/handover_cmd.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/cli/record_make.h"
#include "tools/cli/token_facts.h"

static int usage(void)
{
    fputs("usage: kyso handover issue|custodian-change|return|repair|other --parties FILE\n"
          "           --reason TEXT --condition TEXT [--permission-ref TEXT] [--place PLACE]\n"
          "           [--reader NAME] -o OUT.json [--pdf OUT.pdf]\n",
          stderr);
    return 2;
}

static const char *schema_kind(const char *k)
{
    static const char *const kinds[][2] = { { "issue", "issue" },   { "custodian-change", "custodian_change" },
                                            { "return", "return" }, { "repair", "repair" },
                                            { "other", "other" } };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(k, kinds[i][0]) == 0)
            return kinds[i][1];
    return NULL;
}

int handover_cmd(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *kind = schema_kind(argv[1]);
    const char *parties = NULL, *reason = NULL, *condition = NULL, *permission = NULL, *place = NULL,
               *reader = NULL, *out = NULL, *pdf = NULL;
    const struct cli_option opts[] = { { "--parties", &parties },  { "--reason", &reason },
                                       { "--condition", &condition }, { "--permission-ref", &permission },
                                       { "--place", &place },      { "--reader", &reader },
                                       { "-o", &out },             { "--pdf", &pdf } };
    if (cli_parse_options(argc, argv, 2, opts, sizeof(opts) / sizeof(opts[0])) != 0)
        return usage();
    if (!kind || !parties || !reason || !condition || !out)
        return usage();

    char why[512] = "";
    struct cli_record_ctx rc;
    if (cli_record_context(&rc, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    bool giving_back = strcmp(kind, "return") == 0;
    json_object *rec = cli_record_start(
        &rc, "handover", giving_back ? rc.profile->form_return : rc.profile->form_handover,
        giving_back ? "BIÊN BẢN GIAO, NHẬN THIẾT BỊ LƯU KHÓA BÍ MẬT" : "BIÊN BẢN BÀN GIAO THIẾT BỊ LƯU KHÓA BÍ MẬT",
        place, (int64_t)time(NULL), why, sizeof(why));
    if (!rec) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    int status = 1;
    struct cli_token ct;
    if (cli_token_open(&ct, reader, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        json_object_put(rec);
        return 1;
    }
    json_object *details = json_object_new_object();
    cli_set_text(details, "handover_kind", kind);
    cli_set_text(details, "reason", reason);
    cli_set_text(details, "condition", condition);
    if (permission)
        cli_set_text(details, "permission_ref", permission);
    json_object_object_add(rec, "details", details);
    if (cli_record_add_token(rec, &ct, why, sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s\n", why);
    else if (cli_record_add_parties(rec, parties, "handover") == 0 && cli_record_finish(rec, out, pdf) == 0)
        status = 0;
    cli_token_close(&ct);
    json_object_put(rec);
    return status;
}
