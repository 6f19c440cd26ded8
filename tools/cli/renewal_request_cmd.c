/* kyso renewal-request: the request to renew a certificate or to change
 * the information in it (rule M10; Mẫu 04 of Nghị định 68/2024), made
 * from the token in the reader.
 *
 *   kyso renewal-request --parties FILE --change renewal|info-change
 *        --requested TEXT --reason TEXT [--cert SHA256-PREFIX|SERIAL]
 *        [--reader NAME] [--place PLACE] -o OUT.json [--pdf OUT.pdf]
 *
 * Refused, with nothing written, when root's profile says the request may
 * not be made: the certificate has ended (expired, or its revocation is
 * registered), it was renewed once already (a renewal request of the same
 * holder on the same token is registered) where the profile allows one,
 * or fewer days are left than the profile asks (renewal_min_days_left,
 * info_change_min_days_left). A profile that names no number defers to
 * its law, and the request is made. The parties file names the requester
 * and the approver (the head of the agency, who signs it). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "records/deadlines.h"
#include "records/record.h"
#include "tools/cli/record_make.h"
#include "tools/cli/renewal_request_cmd.h"
#include "tools/cli/token_due_cmd.h"
#include "tools/cli/token_facts.h"

static const char *const usage_text =
    "usage: kyso renewal-request --parties FILE --change renewal|info-change --requested TEXT\n"
    "           --reason TEXT [--cert SHA256-PREFIX|SERIAL] [--reader NAME] [--place PLACE]\n"
    "           -o OUT.json [--pdf OUT.pdf]\n";

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

/* The certificate the request is about: the one named by --cert (a
 * SHA-256 prefix of at least 8 hex digits, or the serial), or the token's
 * only one. A new array holding it, or NULL after one line on stderr. */
static json_object *choose(json_object *certs, const char *want)
{
    size_t n = json_object_array_length(certs), found = 0;
    json_object *pick = NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(certs, i);
        bool match = !want || strcasecmp(str(c, "serial"), want) == 0 ||
                     (strlen(want) >= 8 && strncasecmp(str(c, "sha256"), want, strlen(want)) == 0);
        if (match) {
            pick = c;
            found++;
        }
    }
    if (found != 1) {
        if (n == 0)
            fprintf(stderr, "kyso: the token's keys have no certificate: nothing to renew\n");
        else if (!want)
            fprintf(stderr, "kyso: the token holds %zu certificates: name one with --cert SHA256-PREFIX|SERIAL "
                            "(kyso token status lists them)\n",
                    n);
        else
            fprintf(stderr, "kyso: --cert %s: %s\n", want,
                    found ? "names more than one of the token's certificates" : "no such certificate on the token");
        return NULL;
    }
    json_object *one = json_object_new_array();
    json_object_array_add(one, json_object_get(pick));
    return one;
}

/* Whether the profile lets the request be made: 0, or -1 after the line
 * that says why not. */
static int may_request(const struct policy_profile *p, bool renewal, const struct records_due *d)
{
    if (renewal) {
        if (d->renewal == RECORDS_RENEWAL_ELIGIBLE || d->renewal == RECORDS_RENEWAL_PER_LAW)
            return 0;
        fprintf(stderr, "kyso: renewal refused (rule M10, %s): %s\n", p->id, d->renewal_why);
        return -1;
    }
    if (d->ended) {
        fprintf(stderr, "kyso: information change refused (rule M10, %s): %s\n", p->id, d->renewal_why);
        return -1;
    }
    int min = p->info_change_min_days_left;
    if (min != POLICY_PER_LAW && d->days_left < min) {
        fprintf(stderr,
                "kyso: information change refused (rule M10, %s): %lld days left, fewer than the %d it needs\n",
                p->id, (long long)d->days_left, min);
        return -1;
    }
    return 0;
}

int renewal_request_cmd(int argc, char **argv)
{
    const char *parties = NULL, *change = NULL, *requested = NULL, *reason = NULL, *cert = NULL, *reader = NULL,
               *place = NULL, *out = NULL, *pdf = NULL;
    const struct cli_option opts[] = { { "--parties", &parties }, { "--change", &change },
                                       { "--requested", &requested }, { "--reason", &reason },
                                       { "--cert", &cert },       { "--reader", &reader },
                                       { "--place", &place },     { "-o", &out },
                                       { "--pdf", &pdf } };
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (cli_parse_options(argc, argv, 1, opts, sizeof(opts) / sizeof(opts[0])) != 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (!parties || !change || !requested || !reason || !out) {
        fprintf(stderr, "kyso: renewal-request needs --parties, --change, --requested, --reason and -o "
                        "(kyso renewal-request --help)\n");
        return 2;
    }
    bool renewal = strcmp(change, "renewal") == 0;
    if (!renewal && strcmp(change, "info-change") != 0) {
        fprintf(stderr, "kyso: --change must be renewal or info-change, not \"%.64s\"\n", change);
        return 2;
    }
    if (access(out, F_OK) == 0 || (pdf && access(pdf, F_OK) == 0)) {
        fprintf(stderr, "kyso: %s exists: a record is never written over\n", access(out, F_OK) == 0 ? out : pdf);
        return 1;
    }

    char why[512] = "";
    struct cli_record_ctx rc;
    if (cli_record_context(&rc, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    const struct policy_profile *p = rc.profile;
    int64_t now = (int64_t)time(NULL);
    json_object *rec = cli_record_start(&rc, "renewal-request", p->form_renewal,
                                        renewal ? "GIẤY ĐỀ NGHỊ GIA HẠN CHỨNG THƯ SỐ"
                                                : "GIẤY ĐỀ NGHỊ THAY ĐỔI THÔNG TIN CHỨNG THƯ SỐ",
                                        place, now, why, sizeof(why));
    if (!rec) {
        fprintf(stderr, "kyso: %s\n", why);
        return 1;
    }
    struct cli_token ct;
    if (cli_token_open(&ct, reader, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        json_object_put(rec);
        return 1;
    }
    int status = 1;
    json_object *all = cli_token_certificates(&ct, why, sizeof(why)), *certs = NULL;
    if (!all) {
        fprintf(stderr, "kyso: %s\n", why);
        goto out;
    }
    if (!(certs = choose(all, cert)))
        goto out;
    json_object *c = json_object_array_get_idx(certs, 0);
    int64_t not_after;
    if (records_time_parse(str(c, "not_after"), &not_after) != 0) {
        fprintf(stderr, "kyso: the certificate's end of validity cannot be read\n");
        goto out;
    }
    struct records_cert_facts f;
    if (records_due_facts(token_due_registry(), ct.t.info.serial, str(c, "sha256"),
                          str(json_object_object_get(c, "subject"), "cn"), not_after, now, &f, why,
                          sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s: whether it was renewed already is unknown\n", why);
        goto out;
    }
    struct records_due d;
    records_due_compute(p, NULL, &f, now, &d); /* (no return deadline needed) */
    if (may_request(p, renewal, &d) != 0)
        goto out;

    json_object *details = json_object_new_object();
    cli_set_text(details, "change", renewal ? "renewal" : "info_change");
    json_object_object_add(details, "days_left", json_object_new_int64(d.days_left));
    json_object_object_add(details, "renewals_before",
                           json_object_new_int(f.renewals_before > 100 ? 100 : f.renewals_before));
    cli_set_text(details, "requested", requested);
    cli_set_text(details, "reason", reason);
    json_object_object_add(rec, "details", details);
    json_object_object_add(rec, "token", cli_token_facts(&ct));
    json_object_object_add(rec, "certificates", certs);
    certs = NULL;
    if (cli_record_add_parties(rec, parties, "renewal-request") == 0 && cli_record_finish(rec, out, pdf) == 0)
        status = 0;
out:
    json_object_put(certs);
    json_object_put(all);
    cli_token_close(&ct);
    json_object_put(rec);
    return status;
}
