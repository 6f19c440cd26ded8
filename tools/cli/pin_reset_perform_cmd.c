/* kyso pin-reset perform --request ID: the authorised body (the CA, or
 * the provincial department it delegates to) recovers a locked token.
 *
 *   kyso pin-reset perform --request ID -o OUT.json [--pdf OUT.pdf]
 *        [--puk-fd N] [--new-pin-fd N] [--parties FILE] [--place PLACE]
 *        [--dir DIR]
 *
 * The request must be registered, sound, not done yet, and for the
 * token inserted (every fact it states of it). The PUK and the new PIN
 * are read without echo from the terminal, or from the descriptors named
 * (one line each; never from the command line or the environment) into
 * locked memory, cleansed after use. The token unblocks with the PUK and
 * takes the new PIN; the unblock is recorded in the audit trail, and the
 * completion record ("pin-reset-done": the time taken in working days
 * against the profile's deadline, the outcome) is written and
 * registered, linked to the request. A wrong PUK changes nothing and
 * says how many tries are left; a blocked PUK is recorded as the
 * outcome. Before the card is touched, everything the completion needs
 * is checked (registry, audit trail, output file), so that a PIN is
 * never changed without its record. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "policy/profile.h"
#include "records/calendar.h"
#include "records/facts.h"
#include "records/record.h"
#include "records/registry.h"
#include "tools/cli/pin_reset.h"
#include "tools/cli/record_cmds.h"
#include "tools/cli/record_make.h"
#include "tools/cli/secret_input.h"
#include "tools/cli/token_facts.h"

#define SECRET_MAX 64

static int usage(void)
{
    fputs("usage: kyso pin-reset perform --request ID -o OUT.json [--pdf OUT.pdf] [--puk-fd N] [--new-pin-fd N]\n"
          "           [--parties FILE] [--place PLACE] [--dir DIR]\n",
          stderr);
    return 2;
}

struct secrets {
    char puk[SECRET_MAX + 1], pin[SECRET_MAX + 1], again[SECRET_MAX + 1];
    int puk_len, pin_len;
};

static int fd_arg(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || *end || v < 0 || v > 1024 ? -2 : (int)v;
}

/* Everything the completion needs, before the card is touched. */
static int preflight(const char *dir, const char *out, char *why, size_t whylen)
{
    struct stat st;
    if (stat(out, &st) == 0) {
        snprintf(why, whylen, "%s exists: the completion record is written there, it must not exist", out);
        return -1;
    }
    char parent[4096];
    const char *slash = strrchr(out, '/');
    snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
    if (!*parent)
        snprintf(parent, sizeof(parent), "/");
    if (access(parent, W_OK) != 0) {
        snprintf(why, whylen, "%.400s cannot be written: the completion record needs it", parent);
        return -1;
    }
    if (stat(dir, &st) != 0 || access(dir, W_OK) != 0) {
        snprintf(why, whylen, "the registry %s cannot be written: the completion record could not be registered",
                 dir);
        return -1;
    }
    return cli_audit_configure(why, whylen);
}

static void record_unblock(const struct cli_token *ct, const char *outcome, const char *detail)
{
    struct audit_event ev = { .event = "pin_unblock", .reader = ct->reader, .token = ct->t.info.serial,
                              .outcome = outcome, .detail = detail };
    struct audit_receipt receipt;
    char err[256];
    if (audit_submit(&ev, &receipt, err, sizeof(err)) != 0)
        fprintf(stderr, "kyso: the audit trail did not record the unblock: %s\n", err);
}

/* The completion record of request. */
static json_object *completion(const struct cli_record_ctx *rc, const json_object *request, const char *parties,
                               const char *place, const struct cli_token *ct, const char *outcome, char *why,
                               size_t whylen)
{
    struct records_calendar *cal = cli_calendar();
    int64_t now = (int64_t)time(NULL), made = 0;
    if (!cal || pin_reset_created_day(request, &made) != 0) {
        snprintf(why, whylen, "%s", cal ? "the request's date cannot be read" : "no working-day calendar");
        records_calendar_free(cal);
        return NULL;
    }
    int64_t took = records_working_days_between(cal, made, pin_reset_today());
    records_calendar_free(cal);
    json_object *rec = cli_record_start(rc, "pin-reset-done", NULL, "BIÊN BẢN KHÔI PHỤC THIẾT BỊ LƯU KHÓA BÍ MẬT",
                                        place, now, why, whylen);
    if (!rec)
        return NULL;
    json_object *d = json_object_new_object();
    char when[32];
    records_time_format(now, when);
    cli_set_text(d, "request_id", pin_reset_str(request, "id"));
    cli_set_text(d, "done_at", when);
    json_object_object_add(d, "working_days_taken", json_object_new_int64(took < 0 ? 0 : took));
    int deadline = rc->profile->recovery_working_days;
    json_object_object_add(d, "deadline_working_days", json_object_new_int(deadline == POLICY_PER_LAW ? -1 : deadline));
    cli_set_text(d, "outcome", outcome);
    json_object_object_add(rec, "details", d);
    if (cli_record_add_token(rec, ct, why, whylen) != 0) {
        json_object_put(rec);
        return NULL;
    }
    if (parties) {
        if (cli_record_add_parties(rec, parties, "pin-reset-done") != 0) {
            snprintf(why, whylen, "the parties file is refused");
            json_object_put(rec);
            return NULL;
        }
    } else {
        /* the coordinator the request names is the one who performs it */
        json_object *from = json_object_object_get(request, "parties"), *to = json_object_new_array();
        for (size_t i = 0; from && i < json_object_array_length(from); i++) {
            json_object *p = json_object_array_get_idx(from, i);
            if (strcmp(pin_reset_str(p, "role"), "coordinator") == 0 ||
                strcmp(pin_reset_str(p, "role"), "requester") == 0)
                json_object_array_add(to, json_object_get(p));
        }
        json_object_object_add(rec, "parties", to);
    }
    return rec;
}

static int read_secrets(struct secrets *s, int puk_fd, int pin_fd)
{
    if ((s->puk_len = cli_read_secret(puk_fd, s->puk, sizeof(s->puk), "PUK of the token")) < 0 ||
        (s->pin_len = cli_read_secret(pin_fd, s->pin, sizeof(s->pin), "the new PIN")) < 0)
        return -1;
    if (pin_fd < 0) {
        int n = cli_read_secret(-1, s->again, sizeof(s->again), "the new PIN again");
        if (n != s->pin_len || CRYPTO_memcmp(s->pin, s->again, (size_t)n) != 0) {
            fprintf(stderr, "kyso: the two new PINs differ; nothing changed\n");
            return -1;
        }
    }
    return 0;
}

int pin_reset_perform_cmd(int argc, char **argv)
{
    const char *request_id = NULL, *out = NULL, *pdf = NULL, *parties = NULL, *place = NULL, *dir = records_dir();
    int puk_fd = -1, pin_fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (strcmp(argv[i], "--request") == 0 && !request_id)
            request_id = v;
        else if (strcmp(argv[i], "-o") == 0 && !out)
            out = v;
        else if (strcmp(argv[i], "--pdf") == 0 && !pdf)
            pdf = v;
        else if (strcmp(argv[i], "--parties") == 0 && !parties)
            parties = v;
        else if (strcmp(argv[i], "--place") == 0 && !place)
            place = v;
        else if (strcmp(argv[i], "--dir") == 0)
            dir = v;
        else if (strcmp(argv[i], "--puk-fd") == 0 && (puk_fd = fd_arg(v)) >= 0)
            ;
        else if (strcmp(argv[i], "--new-pin-fd") == 0 && (pin_fd = fd_arg(v)) >= 0)
            ;
        else
            return usage();
        i++;
    }
    if (!request_id || !out)
        return usage();

    char why[512] = "";
    json_object *request = NULL, *done = NULL, *rec = NULL;
    struct cli_record_ctx rc;
    struct cli_token ct = { 0 };
    struct secrets *s = NULL;
    int status = 1, found;
    if (cli_record_context(&rc, why, sizeof(why)) != 0 ||
        records_load(dir, request_id, &request, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s\n", why);
        goto out;
    }
    if (strcmp(pin_reset_str(request, "kind"), "pin-reset-request") != 0) {
        fprintf(stderr, "kyso: record %s is a %s, not a request to recover a token\n", request_id,
                pin_reset_str(request, "kind"));
        goto out;
    }
    if ((found = pin_reset_find_done(dir, request_id, &done, why, sizeof(why))) != 0) {
        fprintf(stderr, "kyso: request %s: %s%s\n", request_id, found < 0 ? why : "already done by record ",
                found < 0 ? "" : pin_reset_str(done, "id"));
        goto out;
    }
    json_object *token = json_object_object_get(request, "token");
    if (cli_token_open(&ct, NULL, pin_reset_str(token, "serial"), why, sizeof(why)) != 0 ||
        cli_token_matches(&ct, request, why, sizeof(why)) != 0 || preflight(dir, out, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: request %s: %s; nothing changed\n", request_id, why);
        goto out;
    }

    const char *outcome = "unblocked";
    if (ct.puk_tries == 0) {
        fprintf(stderr, "kyso: the token's PUK is blocked: it cannot be recovered, only replaced; recorded\n");
        record_unblock(&ct, "CKR_PIN_LOCKED", "the PUK is blocked");
        outcome = "puk_blocked";
    } else {
        s = calloc(1, sizeof(*s));
        if (!s) {
            fprintf(stderr, "kyso: out of memory\n");
            goto out;
        }
        (void)mlock(s, sizeof(*s)); /* (best effort: never swapped out) */
        if (read_secrets(s, puk_fd, pin_fd) != 0)
            goto out;
        int tries = -1, r = pcsc_begin_transaction(&ct.card);
        if (r == PCSC_OK) {
            r = ct.t.edge->unblock(&ct.t, (const uint8_t *)s->puk, (size_t)s->puk_len, (const uint8_t *)s->pin,
                                   (size_t)s->pin_len, &tries);
            pcsc_end_transaction(&ct.card);
        }
        OPENSSL_cleanse(s, sizeof(*s));
        if (r == PCSC_E_WRONG_PIN && tries != 0) {
            fprintf(stderr, "kyso: wrong PUK (%d tries left); nothing changed\n", tries);
            record_unblock(&ct, "CKR_PIN_INCORRECT", "wrong PUK");
            goto out;
        }
        if (r == PCSC_E_WRONG_PIN || r == PCSC_E_PIN_BLOCKED) {
            fprintf(stderr, "kyso: the token's PUK is blocked now: it cannot be recovered, only replaced; recorded\n");
            record_unblock(&ct, "CKR_PIN_LOCKED", "the PUK is blocked");
            outcome = "puk_blocked";
        } else if (r == PCSC_E_WRONG_LENGTH || r == PCSC_E_INCORRECT_DATA) {
            fprintf(stderr, "kyso: the token refuses that new PIN (its length or characters); nothing changed\n");
            record_unblock(&ct, "CKR_PIN_LEN_RANGE", "new PIN refused");
            goto out;
        } else if (r != PCSC_OK) {
            fprintf(stderr, "kyso: the token did not answer (%s): whether the PIN changed is unknown; nothing is "
                            "recorded as done: insert it, see kyso token status, and perform again\n",
                    pcsc_status_name(r));
            record_unblock(&ct, r == PCSC_E_CARD_REMOVED || r == PCSC_E_NO_CARD ? "CKR_DEVICE_REMOVED"
                                                                                  : "CKR_DEVICE_ERROR",
                           pcsc_status_name(r));
            goto out;
        } else {
            record_unblock(&ct, "CKR_OK", "unblocked with the PUK, new PIN set");
        }
    }
    cli_token_refresh_tries(&ct);
    rec = completion(&rc, request, parties, place, &ct, outcome, why, sizeof(why));
    cli_token_close(&ct);
    if (!rec || cli_record_finish(rec, out, pdf) != 0) {
        if (!rec)
            fprintf(stderr, "kyso: %s\n", why);
        fprintf(stderr, "kyso: the token's outcome (%s) is in the audit trail, but its completion record could not "
                        "be written\n", outcome);
        goto out;
    }
    if (record_cmd_register(out, dir, rec, NULL, 0) != 0) {
        fprintf(stderr, "kyso: the completion record is kept in %s: register it with kyso record register\n", out);
        goto out;
    }
    json_object *d = json_object_object_get(rec, "details");
    int took = json_object_get_int(json_object_object_get(d, "working_days_taken")),
        deadline = json_object_get_int(json_object_object_get(d, "deadline_working_days"));
    printf("%s: %s; %d working day(s) after the request%s%s\n", request_id,
           strcmp(outcome, "unblocked") == 0 ? "unblocked, the new PIN is set" : "the PUK is blocked", took,
           deadline < 0 ? "" : took > deadline ? ", LATE: the deadline is " : ", within the deadline of ",
           deadline < 0 ? "" : deadline == 1 ? "1 working day" : "the profile's working days");
    status = strcmp(outcome, "unblocked") == 0 ? 0 : 1;
out:
    if (s) {
        OPENSSL_cleanse(s, sizeof(*s));
        munlock(s, sizeof(*s));
        free(s);
    }
    cli_token_close(&ct);
    json_object_put(rec);
    json_object_put(done);
    json_object_put(request);
    return status;
}
