/* libFuzzer target for what kyso-auditd does with a client's bytes
 * (audit/protocol.c, audit/record.c, audit/proof.c), as the daemon does
 * it: decode and check the request, build its record and seal it into a
 * line of the log, check the signature it carries against its
 * certificate. Any local user can send these bytes to a root daemon.
 *
 * Properties checked for every input: a refused request says why; the
 * decoded binary fields stay within their buffers and the request; a
 * sealed line is one line, within the log's line limit, ending in the
 * MAC; decoding the same text twice gives the same record. A violated
 * property aborts, which libFuzzer reports as a crash. The input also
 * goes to the base64 decoder on its own, with output buffers of every
 * size up to its length. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"
#include "audit/proof.h"
#include "audit/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static char line[AUDIT_MAX_LINE];

/* The record as the daemon would write it; its length, or 0 if refused. */
static size_t seal(const struct audit_event *ev)
{
    static const struct audit_identity who = { .host = "host", .user = "user", .uid = 1000, .pid = 4242,
                                               .exe = "/usr/bin/prog", .program = "prog" };
    static const uint8_t prev[AUDIT_HASH_LEN], key[AUDIT_KEY_LEN];
    json_object *o = audit_record_object(ev, &who, 7, NULL);
    CHECK(o);
    size_t n = audit_seal_line(o, prev, key, line, sizeof(line));
    json_object_put(o);
    if (n) {
        CHECK(n <= sizeof(line));
        CHECK(line[n - 1] == '\n' && memchr(line, '\n', n - 1) == NULL);
        CHECK(n > 75 && memcmp(line + n - 75, ",\"mac\":\"", 8) == 0); /* ,"mac":"<64>"}\n */
    }
    return n;
}

static void fuzz_base64(const uint8_t *data, size_t size)
{
    uint8_t out[96];
    size_t n = size < 128 ? size : 128;
    for (size_t cap = 0; cap <= sizeof(out) && cap <= n; cap += 1 + cap / 8) {
        size_t got = SIZE_MAX;
        if (audit_base64_decode((const char *)data, n, out, cap, &got)) {
            CHECK(got <= cap);
            CHECK(got <= n / 4 * 3);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_base64(data, size);
    if (size > AUDIT_MAX_MESSAGE)
        return 0;
    struct audit_request *req = calloc(1, sizeof(*req));
    CHECK(req);
    const char *why = NULL;
    if (audit_request_decode((const char *)data, size, req, &why) != 0) {
        CHECK(why && *why);
        audit_request_free(req);
        free(req);
        return 0;
    }
    const struct audit_event *ev = &req->event;
    CHECK(ev->event && *ev->event);
    CHECK(strlen(req->request) == AUDIT_REQUEST_ID_LEN);
    if (ev->cert_der)
        CHECK(ev->cert_len > 0 && ev->cert_len <= sizeof(req->cert) && ev->cert_len <= size);
    if (ev->sig)
        CHECK(ev->sig_len > 0 && ev->sig_len <= sizeof(req->sig) && ev->sig_len <= size);
    if (ev->tbs)
        CHECK(ev->tbs_len <= sizeof(req->tbs) && ev->tbs_len <= size);
    size_t n = seal(ev);
    if (ev->sig && ev->cert_der)
        (void)audit_proof_check_cert(ev->cert_der, ev->cert_len, ev->scheme, ev->tbs, ev->tbs_len, ev->sig,
                                     ev->sig_len);

    /* The same text decodes to the same record (times aside). */
    struct audit_request *again = calloc(1, sizeof(*again));
    CHECK(again);
    CHECK(audit_request_decode((const char *)data, size, again, &why) == 0);
    CHECK(again->event.cert_len == ev->cert_len && again->event.sig_len == ev->sig_len);
    CHECK(!ev->cert_der || memcmp(again->cert, req->cert, ev->cert_len) == 0);
    CHECK((seal(&again->event) == 0) == (n == 0));
    audit_request_free(again);
    free(again);
    audit_request_free(req);
    free(req);
    return 0;
}
