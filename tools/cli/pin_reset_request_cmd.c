/* kyso pin-reset request: the request to recover a locked token (rule M6;
 * Mẫu 06 under nd68-2024, the form root's profile cites), made from the
 * token in the reader: its identity, certificates and PIN and PUK tries
 * left as the token tells them, without spending one.
 *
 *   kyso pin-reset request --parties FILE [--reason TEXT] [--place PLACE]
 *        [--reader NAME] -o OUT.json [--pdf OUT.pdf]
 *
 * The parties file names the requester, the coordinator ("người phối hợp
 * thực hiện khôi phục") and the approver of the managing agency, who signs
 * it (kyso record sign) before it is registered (kyso record register). A
 * token that is not locked is refused unless --reason says why it needs
 * recovering. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/cli/pin_reset.h"
#include "tools/cli/record_make.h"
#include "tools/cli/token_facts.h"

static int usage(void)
{
    fputs("usage: kyso pin-reset request --parties FILE [--reason TEXT] [--place PLACE] [--reader NAME]\n"
          "           -o OUT.json [--pdf OUT.pdf]\n",
          stderr);
    return 2;
}

int pin_reset_request_cmd(int argc, char **argv)
{
    const char *parties = NULL, *reason = NULL, *place = NULL, *reader = NULL, *out = NULL, *pdf = NULL;
    const struct cli_option opts[] = { { "--parties", &parties }, { "--reason", &reason }, { "--place", &place },
                                       { "--reader", &reader },   { "-o", &out },          { "--pdf", &pdf } };
    if (cli_parse_options(argc, argv, 1, opts, sizeof(opts) / sizeof(opts[0])) != 0)
        return usage();
    if (!parties || !out)
        return usage();

    char why[512] = "";
    struct cli_record_ctx rc;
    struct cli_token ct;
    if (cli_record_context(&rc, why, sizeof(why)) != 0 || cli_token_open(&ct, reader, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    int status = 1;
    json_object *rec = NULL;
    if (ct.pin_tries != 0 && !reason) {
        fprintf(stderr,
                "kyso: the token %s is not locked (PIN tries left: %d): say why it needs recovering with --reason\n",
                ct.t.info.serial, ct.pin_tries);
        goto out;
    }
    rec = cli_record_start(&rc, "pin-reset-request", rc.profile->form_recovery,
                           "ĐƠN ĐỀ NGHỊ KHÔI PHỤC THIẾT BỊ LƯU KHÓA BÍ MẬT", place, (int64_t)time(NULL), why, sizeof(why));
    if (!rec) {
        fprintf(stderr, "kyso: %s\n", why);
        goto out;
    }
    json_object *details = json_object_new_object();
    cli_set_text(details, "reason",
                 reason ? reason
                        : "Nhập sai mã PIN quá số lần cho phép, thiết bị bị khóa; đề nghị khôi phục để tiếp tục sử dụng.");
    json_object_object_add(details, "pin_tries_left", json_object_new_int(ct.pin_tries));
    json_object_object_add(details, "puk_tries_left", json_object_new_int(ct.puk_tries));
    json_object_object_add(rec, "details", details);
    if (cli_record_add_token(rec, &ct, why, sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s\n", why);
    else if (cli_record_add_parties(rec, parties, "pin-reset-request") == 0 && cli_record_finish(rec, out, pdf) == 0) {
        printf("PIN tries left %d, PUK tries left %d; the approver signs it (kyso record sign), then it is "
               "registered (kyso record register)\n",
               ct.pin_tries, ct.puk_tries);
        status = 0;
    }
out:
    json_object_put(rec);
    cli_token_close(&ct);
    return status;
}
