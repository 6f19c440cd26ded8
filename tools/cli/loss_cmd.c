/* kyso loss: the record of a lost token (rule M7), under the form the
 * profile cites (Mẫu 09 of Nghị định 68/2024, Mẫu 15 of the Hà Tĩnh
 * rules), made with the revocation request that goes with it; and
 * kyso loss found, the record that the token was found again.
 *
 *   kyso loss --parties FILE --lost-at TIME --lost-place PLACE
 *        --circumstances TEXT --reported-to WHO --reported-at TIME
 *        [--serial SERIAL | --reader NAME] [--place PLACE]
 *        -o LOSS.json --revocation-out REQUEST.json
 *        [--pdf LOSS.pdf] [--revocation-pdf REQUEST.pdf]
 *   kyso loss found --loss ID --parties FILE --found-at TIME
 *        --circumstances TEXT --condition TEXT [--reader NAME]
 *        [--place PLACE] -o OUT.json [--pdf OUT.pdf]
 *
 * A lost token is usually not at hand: --serial names it and its facts
 * come from its latest registered record. Registering either record
 * stops the token at once (the module refuses it, rule M7); a found
 * record, signed and registered, lets it sign again, unless a CRL says
 * its certificate was revoked meanwhile (then nothing is made). */
#include "config.h"

#include "tools/cli/m7_cmds.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/certcheck.h"
#include "policy/config.h"
#include "records/record.h"
#include "tools/cli/record_refs.h"
#include "tools/cli/token_facts.h"

static int usage(void)
{
    fputs("usage: kyso loss --parties FILE --lost-at TIME --lost-place PLACE --circumstances TEXT\n"
          "           --reported-to WHO --reported-at TIME [--serial SERIAL | --reader NAME] [--place PLACE]\n"
          "           -o LOSS.json --revocation-out REQUEST.json [--pdf LOSS.pdf] [--revocation-pdf REQUEST.pdf]\n"
          "       kyso loss found --loss ID --parties FILE --found-at TIME --circumstances TEXT\n"
          "           --condition TEXT [--reader NAME] [--place PLACE] -o OUT.json [--pdf OUT.pdf]\n"
          "  TIME: 2026-12-03T10:15:00+07:00\n",
          stderr);
    return 2;
}

static int found_cmd(int argc, char **argv);

int loss_cmd(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "found") == 0)
        return found_cmd(argc - 1, argv + 1);
    const char *parties = NULL, *lost_at = NULL, *lost_place = NULL, *circ = NULL, *to = NULL, *rat = NULL,
               *serial = NULL, *reader = NULL, *place = NULL, *out = NULL, *rout = NULL, *pdf = NULL, *rpdf = NULL;
    const struct cli_option opts[] = {
        { "--parties", &parties },   { "--lost-at", &lost_at },         { "--lost-place", &lost_place },
        { "--circumstances", &circ }, { "--reported-to", &to },          { "--reported-at", &rat },
        { "--serial", &serial },     { "--reader", &reader },           { "--place", &place },
        { "-o", &out },              { "--revocation-out", &rout },     { "--pdf", &pdf },
        { "--revocation-pdf", &rpdf }
    };
    if (cli_parse_options(argc, argv, 1, opts, sizeof(opts) / sizeof(opts[0])) != 0 || !parties || !lost_at ||
        !lost_place || !circ || !to || !rat || !out || !rout || (serial && reader) || (rpdf && !pdf))
        return usage();
    char why[512] = "";
    int64_t t_lost, t_reported, now = (int64_t)time(NULL);
    if (cli_time_arg("--lost-at", lost_at, &t_lost, why, sizeof(why)) != 0 ||
        cli_time_arg("--reported-at", rat, &t_reported, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 2;
    }
    if (t_reported < t_lost || t_lost > now + 300) {
        fprintf(stderr, "kyso: %s\n", t_lost > now + 300 ? "--lost-at is in the future"
                                                        : "--reported-at is before --lost-at: dates in the wrong order");
        return 2;
    }
    if (strcmp(out, rout) == 0 || (pdf && rpdf && strcmp(pdf, rpdf) == 0)) {
        fprintf(stderr, "kyso: the loss record and the revocation request need files of their own\n");
        return 2;
    }
    struct cli_record_ctx rc;
    if (cli_record_context(&rc, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    json_object *loss = cli_record_start(&rc, "loss", rc.profile->form_loss,
                                         "BIÊN BẢN XÁC NHẬN THẤT LẠC THIẾT BỊ LƯU KHÓA BÍ MẬT", place, now, why,
                                         sizeof(why));
    if (!loss) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    json_object *details = json_object_new_object();
    json_object_object_add(loss, "details", details);
    cli_set_text(details, "lost_at", lost_at);
    cli_set_text(details, "lost_place", lost_place);
    cli_set_text(details, "circumstances", circ);
    cli_set_text(details, "reported_to", to);
    cli_set_text(details, "reported_at", rat);
    const char *loss_id = cli_json_text(loss, "id");
    json_object *req = cli_revocation_request(&rc, "token_lost", circ, loss_id, place, reader, serial, parties, now);
    int status = 1;
    if (!req)
        goto out;
    cli_set_text(details, "revocation_request_id", cli_json_text(req, "id"));
    json_object *rdetails = NULL;
    json_object_object_get_ex(req, "details", &rdetails);
    json_object *fs = NULL, *t = NULL, *c = NULL;
    json_object_object_get_ex(rdetails, "facts_source", &fs);
    json_object_object_get_ex(req, "token", &t);
    json_object_object_get_ex(req, "certificates", &c);
    json_object_object_add(details, "facts_source", json_object_get(fs));
    json_object_object_add(loss, "token", json_object_get(t));
    json_object_object_add(loss, "certificates", json_object_get(c));
    if (cli_record_add_parties(loss, parties, "loss") != 0)
        goto out;
    if (cli_record_finish(loss, out, pdf) != 0)
        goto out;
    if (cli_record_finish(req, rout, rpdf) != 0) {
        unlink(out); /* the two go together, or neither */
        if (pdf)
            unlink(pdf);
        goto out;
    }
    status = 0;
out:
    json_object_put(req);
    json_object_put(loss);
    return status;
}

/* Whether the CRL cache says a certificate of the token was revoked:
 * then it stays stopped whatever is found. 0 (none), or -1 (why). */
static int none_revoked(const struct cli_token *ct, char *why, size_t whylen)
{
    struct policy_config *c = policy_config_acquire();
    int rc = 0;
    for (size_t i = 0; c && rc == 0 && i < ct->t.nkeys; i++) {
        const struct token_key *k = &ct->t.keys[i];
        struct policy_cert_verdict v;
        if (!k->cert)
            continue;
        policy_cert_check(c, k->cert, k->cert_len, time(NULL), &v);
        if (v.state == POLICY_CERT_REVOKED) {
            snprintf(why, whylen, "the certificate of key %02X was revoked (%s): the token stays stopped; hand it "
                     "back (kyso handover return)", k->ref, v.why);
            rc = -1;
        }
    }
    policy_config_release(c);
    return rc;
}

static int found_cmd(int argc, char **argv)
{
    const char *loss_id = NULL, *parties = NULL, *at = NULL, *circ = NULL, *cond = NULL, *reader = NULL,
               *place = NULL, *out = NULL, *pdf = NULL;
    const struct cli_option opts[] = { { "--loss", &loss_id },      { "--parties", &parties },
                                       { "--found-at", &at },       { "--circumstances", &circ },
                                       { "--condition", &cond },    { "--reader", &reader },
                                       { "--place", &place },       { "-o", &out },
                                       { "--pdf", &pdf } };
    if (cli_parse_options(argc, argv, 1, opts, sizeof(opts) / sizeof(opts[0])) != 0 || !loss_id || !parties ||
        !at || !circ || !cond || !out)
        return usage();
    char why[512] = "", found[24];
    int64_t t_found, now = (int64_t)time(NULL);
    if (cli_time_arg("--found-at", at, &t_found, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 2;
    }
    struct cli_record_ctx rc;
    if (cli_record_context(&rc, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    struct cli_token ct;
    if (cli_token_open(&ct, reader, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s (a token found again is read from the reader)\n", why);
        return 1;
    }
    int status = 1;
    json_object *loss = NULL, *rec = NULL;
    int64_t t_lost = 0;
    json_object *ld = NULL;
    if (cli_registered(loss_id, "loss", ct.t.info.serial, &loss, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: --loss: %s\n", why);
        goto out;
    }
    json_object_object_get_ex(loss, "details", &ld);
    if (records_time_parse(cli_json_text(ld, "lost_at"), &t_lost) != 0 || t_found < t_lost || t_found > now + 300) {
        fprintf(stderr, "kyso: --found-at must be after the loss (%s) and not in the future\n",
                cli_json_text(ld, "lost_at"));
        goto out;
    }
    int seen = cli_registered_reference("token-found", "loss_id", loss_id, found, why, sizeof(why));
    if (seen != 0) {
        fprintf(stderr, "kyso: %s\n", seen < 0 ? why : "the loss is already closed by a registered found record");
        if (seen > 0)
            fprintf(stderr, "kyso: (record %s)\n", found);
        goto out;
    }
    if (none_revoked(&ct, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        goto out;
    }
    rec = cli_record_start(&rc, "token-found", NULL, "BIÊN BẢN XÁC NHẬN TÌM LẠI THIẾT BỊ LƯU KHÓA BÍ MẬT", place,
                           now, why, sizeof(why));
    if (!rec) {
        fprintf(stderr, "kyso: %s\n", why);
        goto out;
    }
    json_object *details = json_object_new_object();
    json_object_object_add(rec, "details", details);
    cli_set_text(details, "loss_id", loss_id);
    cli_set_text(details, "found_at", at);
    cli_set_text(details, "circumstances", circ);
    cli_set_text(details, "condition", cond);
    if (cli_record_add_token(rec, &ct, why, sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s\n", why);
    else if (cli_record_add_parties(rec, parties, "token-found") == 0 && cli_record_finish(rec, out, pdf) == 0)
        status = 0;
out:
    json_object_put(rec);
    json_object_put(loss);
    cli_token_close(&ct);
    return status;
}
