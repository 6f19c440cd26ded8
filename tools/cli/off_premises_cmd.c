/* kyso off-premises: the written permission to take a token out of its
 * place of keeping (rule M8; the state-secret rules of FORMS.md: who,
 * which token, purpose, from–to, place, protection measures, approved by
 * the head of the agency), and kyso off-premises return, the holder's
 * report when handing it back, which ends the permission.
 *
 *   kyso off-premises --parties FILE --purpose TEXT --from TIME --to TIME
 *        --place PLACE --protection TEXT [--reader NAME] [--at PLACE]
 *        -o OUT.json [--pdf OUT.pdf]
 *   kyso off-premises return --permission ID --parties FILE --report TEXT
 *        --condition TEXT [--returned-at TIME] [--reader NAME]
 *        [--at PLACE] -o OUT.json [--pdf OUT.pdf]
 *
 * The permission's parties are the holder (requester) and the head who
 * approves (approver), who signs it; the return's, the holder (hands
 * over) and who takes the token back (receives). Where root's
 * configuration restricts signing to registered hosts ([M8] hosts), the
 * module signs elsewhere only inside a registered, signed permission's
 * window, and not after its return. */
#include "config.h"

#include "tools/cli/m7_cmds.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "records/facts.h"
#include "records/record.h"
#include "tools/cli/record_refs.h"
#include "tools/cli/token_facts.h"

#define MAX_WINDOW_DAYS 366   /* a longer permission is not a trip but a move: a handover */

static int usage(void)
{
    fputs("usage: kyso off-premises --parties FILE --purpose TEXT --from TIME --to TIME --place PLACE\n"
          "           --protection TEXT [--reader NAME] [--at PLACE] -o OUT.json [--pdf OUT.pdf]\n"
          "       kyso off-premises return --permission ID --parties FILE --report TEXT --condition TEXT\n"
          "           [--returned-at TIME] [--reader NAME] [--at PLACE] -o OUT.json [--pdf OUT.pdf]\n"
          "  TIME: 2026-12-03T10:15:00+07:00\n",
          stderr);
    return 2;
}

static int return_cmd(int argc, char **argv);

/* The record's header, the token read from the reader, the parties and
 * the details; sealed, checked, written. */
static int make(const char *kind, const char *form, const char *title, json_object *details, const char *parties,
                const char *reader, const char *serial, const char *where, const char *out, const char *pdf)
{
    char why[512] = "";
    struct cli_record_ctx rc;
    if (cli_record_context(&rc, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        json_object_put(details);
        return 1;
    }
    json_object *rec = cli_record_start(&rc, kind, form, title, where, (int64_t)time(NULL), why, sizeof(why));
    if (!rec) {
        fprintf(stderr, "kyso: %s\n", why);
        json_object_put(details);
        return 1;
    }
    json_object_object_add(rec, "details", details);
    struct cli_token ct;
    int status = 1;
    if (cli_token_open(&ct, reader, serial, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        json_object_put(rec);
        return 1;
    }
    if (cli_record_add_token(rec, &ct, why, sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s\n", why);
    else if (cli_record_add_parties(rec, parties, kind) == 0 && cli_record_finish(rec, out, pdf) == 0)
        status = 0;
    cli_token_close(&ct);
    json_object_put(rec);
    return status;
}

int off_premises_cmd(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "return") == 0)
        return return_cmd(argc - 1, argv + 1);
    const char *parties = NULL, *purpose = NULL, *from = NULL, *to = NULL, *place = NULL, *prot = NULL,
               *reader = NULL, *where = NULL, *out = NULL, *pdf = NULL;
    const struct cli_option opts[] = { { "--parties", &parties }, { "--purpose", &purpose }, { "--from", &from },
                                       { "--to", &to },           { "--place", &place },     { "--protection", &prot },
                                       { "--reader", &reader },   { "--at", &where },        { "-o", &out },
                                       { "--pdf", &pdf } };
    if (cli_parse_options(argc, argv, 1, opts, sizeof(opts) / sizeof(opts[0])) != 0 || !parties || !purpose ||
        !from || !to || !place || !prot || !out)
        return usage();
    char why[256];
    int64_t tf, tt;
    if (cli_time_arg("--from", from, &tf, why, sizeof(why)) != 0 || cli_time_arg("--to", to, &tt, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 2;
    }
    if (tt <= tf) {
        fprintf(stderr, "kyso: --to must be later than --from: dates in the wrong order\n");
        return 2;
    }
    if (tt - tf > (int64_t)MAX_WINDOW_DAYS * 86400) {
        fprintf(stderr, "kyso: a permission of more than %d days is not a trip: hand the token over instead\n",
                MAX_WINDOW_DAYS);
        return 2;
    }
    if (tt <= (int64_t)time(NULL)) {
        fprintf(stderr, "kyso: --to is already past: the permission would never be of use\n");
        return 2;
    }
    json_object *d = json_object_new_object();
    cli_set_text(d, "purpose", purpose);
    cli_set_text(d, "from", from);
    cli_set_text(d, "to", to);
    cli_set_text(d, "place", place);
    cli_set_text(d, "protection", prot);
    return make("off-premises", NULL, "GIẤY ĐỀ NGHỊ MANG THIẾT BỊ LƯU KHÓA BÍ MẬT RA KHỎI NƠI CẤT GIỮ", d, parties,
                reader, NULL, where, out, pdf);
}

static int return_cmd(int argc, char **argv)
{
    const char *perm = NULL, *parties = NULL, *report = NULL, *cond = NULL, *at = NULL, *reader = NULL,
               *where = NULL, *out = NULL, *pdf = NULL;
    const struct cli_option opts[] = { { "--permission", &perm }, { "--parties", &parties },
                                       { "--report", &report },   { "--condition", &cond },
                                       { "--returned-at", &at },  { "--reader", &reader },
                                       { "--at", &where },        { "-o", &out },
                                       { "--pdf", &pdf } };
    if (cli_parse_options(argc, argv, 1, opts, sizeof(opts) / sizeof(opts[0])) != 0 || !perm || !parties ||
        !report || !cond || !out)
        return usage();
    char why[512], now_text[40], found[24];
    int64_t t_back, now = (int64_t)time(NULL);
    if (!at) {
        records_time_format(now, now_text);
        at = now_text;
    }
    if (cli_time_arg("--returned-at", at, &t_back, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 2;
    }
    json_object *p = NULL, *pd = NULL;
    /* the permission: registered, not returned yet, and the returned
     * token is the one it let out (make() reads it by serial) */
    if (cli_registered(perm, "off-premises", NULL, &p, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: --permission: %s\n", why);
        return 1;
    }
    char serial[64];
    json_object *tok = NULL;
    json_object_object_get_ex(p, "token", &tok);
    snprintf(serial, sizeof(serial), "%s", cli_json_text(tok, "serial"));
    json_object_object_get_ex(p, "details", &pd);
    int64_t t_from = 0;
    bool order = records_time_parse(cli_json_text(pd, "from"), &t_from) == 0 && t_back >= t_from && t_back <= now + 300;
    json_object_put(p);
    if (!order) {
        fprintf(stderr, "kyso: --returned-at must be within the permission's time (from its start) and not in the "
                        "future\n");
        return 2;
    }
    int seen = cli_registered_reference("off-premises-return", "permission_id", perm, found, why, sizeof(why));
    if (seen != 0) {
        if (seen < 0)
            fprintf(stderr, "kyso: %s\n", why);
        else
            fprintf(stderr, "kyso: permission %s was already handed back (record %s)\n", perm, found);
        return 1;
    }
    json_object *d = json_object_new_object();
    cli_set_text(d, "permission_id", perm);
    cli_set_text(d, "returned_at", at);
    cli_set_text(d, "report", report);
    cli_set_text(d, "condition", cond);
    return make("off-premises-return", NULL, "BIÊN BẢN GIAO LẠI THIẾT BỊ LƯU KHÓA BÍ MẬT", d, parties, reader,
                serial, where, out, pdf);
}
