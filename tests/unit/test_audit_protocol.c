/* Unit tests of the module <-> kyso-auditd protocol's decoding
 * (audit/protocol.c), what the daemon does with any local user's bytes:
 *
 * - strict base64: padding only at the end and only as much as the
 *   length needs ("====", "=", "A===" once gave a length of SIZE_MAX);
 *   the output's capacity at its bound and one byte short;
 * - a request's binary fields at their bounds and one past them (a
 *   certificate of AUDIT_MAX_CERT bytes, a signature and what it covers of
 *   AUDIT_MAX_PROOF), the request id (32 lowercase hex digits, no more,
 *   no less), the event's name;
 * - an encoded request decodes to the same fields. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "audit/protocol.h"

#define ID "0123456789abcdef0123456789abcdef"

static bool b64(const char *text, uint8_t *out, size_t cap, size_t *n)
{
    return audit_base64_decode(text, strlen(text), out, cap, n);
}

static void test_base64_strict(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 99;
    static const char *const bad[] = { "====", "=", "==", "A===", "AA=A", "AAA", "A", "*AAA", "AA==AA==",
                                       "AAAA====", "AB\nCD", "AB=", "A=AA", " AAA", "AA\0A" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        assert_false(b64(bad[i], out, sizeof(out), &n));
    }
    assert_false(b64("", out, sizeof(out), &n)); /* a field that is there says something */
    assert_true(b64("AA==", out, sizeof(out), &n));
    assert_int_equal(n, 1);
    assert_true(b64("AAA=", out, sizeof(out), &n));
    assert_int_equal(n, 2);
    assert_true(b64("a2lzbw==", out, sizeof(out), &n));
    assert_int_equal(n, 4);
    assert_memory_equal(out, "kiso", 4);
    /* Capacity: exactly enough, then one byte short. */
    assert_true(b64("a2lzbw==", out, 4, &n));
    assert_false(b64("a2lzbw==", out, 3, &n));
    assert_true(b64("AAAA", out, 3, &n));
    assert_false(b64("AAAA", out, 2, &n));
}

static char *base64_of_size(size_t n)
{
    uint8_t *raw = calloc(1, n ? n : 1);
    char *text = malloc(4 * ((n + 2) / 3) + 1);
    assert_non_null(raw);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        raw[i] = (uint8_t)(i * 7);
    EVP_EncodeBlock((unsigned char *)text, raw, (int)n);
    free(raw);
    return text;
}

/* {"request":ID,"event":"sign","FIELD":"<base64 of n bytes>"} decodes?
 * (a signature goes with what it covers and its scheme) */
static int decode_with(const char *field, size_t n, const char **why)
{
    char *b = base64_of_size(n), *other = base64_of_size(32);
    size_t len = strlen(b) + strlen(other) + 160;
    char *text = malloc(len);
    assert_non_null(text);
    if (strcmp(field, "cert") == 0)
        snprintf(text, len, "{\"request\":\"" ID "\",\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"cert\":\"%s\"}", b);
    else
        snprintf(text, len,
                 "{\"request\":\"" ID "\",\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"scheme\":\"raw\",\"%s\":\"%s\","
                 "\"%s\":\"%s\"}",
                 field, b, strcmp(field, "sig") == 0 ? "tbs" : "sig", other);
    free(other);
    struct audit_request *req = calloc(1, sizeof(*req));
    assert_non_null(req);
    int rc = audit_request_decode(text, strlen(text), req, why);
    if (rc == 0) {
        if (strcmp(field, "cert") == 0)
            assert_int_equal(req->event.cert_len, n);
        if (strcmp(field, "sig") == 0)
            assert_int_equal(req->event.sig_len, n);
        if (strcmp(field, "tbs") == 0)
            assert_int_equal(req->event.tbs_len, n);
    }
    audit_request_free(req);
    free(req);
    free(text);
    free(b);
    return rc;
}

static void test_field_bounds(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(decode_with("cert", AUDIT_MAX_CERT, &why), 0);
    assert_int_equal(decode_with("cert", AUDIT_MAX_CERT + 1, &why), -1);
    assert_non_null(why);
    assert_int_equal(decode_with("sig", AUDIT_MAX_PROOF, &why), 0);
    assert_int_equal(decode_with("sig", AUDIT_MAX_PROOF + 1, &why), -1);
    assert_int_equal(decode_with("tbs", AUDIT_MAX_PROOF, &why), 0);
    assert_int_equal(decode_with("tbs", AUDIT_MAX_PROOF + 1, &why), -1);
}

static int decode_text(const char *text)
{
    struct audit_request *req = calloc(1, sizeof(*req));
    const char *why = NULL;
    assert_non_null(req);
    int rc = audit_request_decode(text, strlen(text), req, &why);
    if (rc != 0)
        assert_non_null(why);
    audit_request_free(req);
    free(req);
    return rc;
}

static void test_request_fields(void **state)
{
    (void)state;
    assert_int_equal(decode_text("{\"request\":\"" ID "\",\"event\":\"pin_failure\"}"), 0);
    /* 31 and 33 digits, upper case, none. */
    assert_int_equal(decode_text("{\"request\":\"0123456789abcdef0123456789abcde\",\"event\":\"pin_failure\"}"), -1);
    assert_int_equal(decode_text("{\"request\":\"" ID "0\",\"event\":\"pin_failure\"}"), -1);
    assert_int_equal(decode_text("{\"request\":\"0123456789ABCDEF0123456789abcdef\",\"event\":\"pin_failure\"}"), -1);
    assert_int_equal(decode_text("{\"event\":\"pin_failure\"}"), -1);
    assert_int_equal(decode_text("{\"request\":\"" ID "\",\"event\":\"log_start\"}"), -1);
    assert_int_equal(decode_text("{\"request\":\"" ID "\",\"event\":\"nonsense\"}"), -1);
    assert_int_equal(decode_text("{\"request\":\"" ID "\",\"event\":\"sign\",\"cert\":\"====\"}"), -1);
    assert_int_equal(decode_text("[1,2]"), -1);
    assert_int_equal(decode_text("{\"request\":\"" ID "\",\"event\":\"sign\"} trailing"), -1);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const uint8_t cert[] = { 0x30, 0x03, 0x02, 0x01, 0x00 }, sig[64] = { 1, 2, 3 }, tbs[32] = { 9 },
                         sha[32] = { 7 };
    struct audit_event ev = { .event = "sign",      .reader = "Reader 00",  .token = "49384205",
                              .key = "9C",          .cert_der = cert,       .cert_len = sizeof(cert),
                              .mechanism = "CKM_ECDSA", .has_input = true,  .input_len = 32,
                              .input_sha256 = sha,  .sig = sig,             .sig_len = sizeof(sig),
                              .tbs = tbs,           .tbs_len = sizeof(tbs), .scheme = "ecdsa",
                              .outcome = "CKR_OK" };
    char *text = audit_request_encode(&ev, ID, 1796279048918, true);
    assert_non_null(text);
    struct audit_request *req = calloc(1, sizeof(*req));
    const char *why = NULL;
    assert_non_null(req);
    assert_int_equal(audit_request_decode(text, strlen(text), req, &why), 0);
    assert_string_equal(req->request, ID);
    assert_true(req->retry);
    assert_int_equal(req->expires_ms, 1796279048918);
    assert_string_equal(req->event.key, "9C");
    assert_string_equal(req->event.scheme, "ecdsa");
    assert_int_equal(req->event.cert_len, sizeof(cert));
    assert_memory_equal(req->event.cert_der, cert, sizeof(cert));
    assert_int_equal(req->event.sig_len, sizeof(sig));
    assert_memory_equal(req->event.sig, sig, sizeof(sig));
    assert_int_equal(req->event.tbs_len, sizeof(tbs));
    assert_int_equal(req->event.input_len, 32);
    assert_memory_equal(req->event.input_sha256, sha, 32);
    audit_request_free(req);
    free(req);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_strict),
        cmocka_unit_test(test_field_bounds),
        cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
