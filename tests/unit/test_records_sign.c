/* records/sign.c: detached CMS signatures made with the test PKI's keys in
 * software (standing in for the token's C_Sign: PKCS#1 v1.5 blocks, raw
 * ECDSA r||s) and verified; verification of hostile input: empty,
 * oversized, every truncation of a good signature, DER that is not CMS,
 * random bytes; the reason for each refusal. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/testpki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "records/registry.h"
#include "records/sign.h"

static const unsigned char content[] = "{\"id\":\"KR-20261203-5c1e9a07\",\"kind\":\"handover\"}";
#define CONTENT_LEN (sizeof(content) - 1)

static X509 *load_cert(const char *name)
{
    return pki_cert(KYSO_TEST_PKI, name);
}

static EVP_PKEY *load_key(const char *name)
{
    return pki_key(KYSO_TEST_PKI, name);
}

static X509_STORE *store_of(const char *a, const char *b)
{
    X509_STORE *s = X509_STORE_new();
    assert_non_null(s);
    X509 *x = load_cert(a), *y = b ? load_cert(b) : NULL;
    assert_int_equal(X509_STORE_add_cert(s, x), 1);
    if (y)
        assert_int_equal(X509_STORE_add_cert(s, y), 1);
    X509_free(x);
    X509_free(y);
    return s;
}

struct soft_signer {
    EVP_PKEY *key;
    int fail;      /* 1: refuses, 2: returns an odd-length ECDSA value */
};

/* What the token returns for CKM_SHA256_RSA_PKCS / CKM_ECDSA_SHA256. */
static int soft_sign(void *ctx, const unsigned char *tbs, size_t tbslen, unsigned char *sig, size_t *siglen,
                     char *why, size_t whylen)
{
    struct soft_signer *s = ctx;
    if (s->fail == 1) {
        snprintf(why, whylen, "refused");
        return -1;
    }
    unsigned char der[512];
    size_t len = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key), 1);
    assert_int_equal(EVP_DigestSign(md, der, &len, tbs, tbslen), 1);
    EVP_MD_CTX_free(md);
    if (EVP_PKEY_get_base_id(s->key) == EVP_PKEY_RSA) {
        assert_true(len <= *siglen);
        memcpy(sig, der, len);
        *siglen = len;
        return 0;
    }
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    assert_non_null(es);
    assert_true(*siglen >= 64);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32), 32);
    ECDSA_SIG_free(es);
    *siglen = s->fail == 2 ? 63 : 64;
    return 0;
}

static void make(const char *cert, const char *key, unsigned char **der, size_t *len)
{
    X509 *x = load_cert(cert);
    struct soft_signer s = { load_key(key), 0 };
    char why[256] = "";
    int rc = records_sign_detached(content, CONTENT_LEN, x, NULL, 1796267700 /* 2026-12-03 */, soft_sign, &s, der,
                                   len, why, sizeof(why));
    if (rc != 0)
        fprintf(stderr, "%s\n", why);
    assert_int_equal(rc, 0);
    EVP_PKEY_free(s.key);
    X509_free(x);
}

static int verify(const unsigned char *der, size_t len, X509_STORE *store, char *why, size_t whylen)
{
    struct records_signer_info info;
    return records_verify_signature(content, CONTENT_LEN, der, len, store, &info, why, whylen);
}

static void test_sign_verify(void **state)
{
    (void)state;
    X509_STORE *store = store_of("root-ca.pem", "issuing-ca.pem");
    const char *pairs[][2] = { { "person-an-sign-rsa2048.pem", "person-an-sign-rsa2048.key.pem" },
                               { "person-an-sign-p256.pem", "person-an-sign-p256.key.pem" } };
    for (size_t i = 0; i < 2; i++) {
        unsigned char *der = NULL;
        size_t len = 0;
        make(pairs[i][0], pairs[i][1], &der, &len);
        struct records_signer_info info;
        char why[256] = "";
        assert_int_equal(records_verify_signature(content, CONTENT_LEN, der, len, store, &info, why, sizeof(why)), 0);
        assert_string_equal(info.cn, "Nguy\xe1\xbb\x85n V\xc4\x83n An");
        assert_string_equal(info.signing_time, "2026-12-03T03:15:00Z");
        assert_int_equal(strlen(info.sha256), 64);
        assert_true(strlen(info.serial) > 0);
        /* other content: the digest says so */
        assert_int_equal(records_verify_signature(content, CONTENT_LEN - 1, der, len, store, &info, why, sizeof(why)),
                         -1);
        assert_non_null(strstr(why, "hash mismatch"));
        /* anchors that are not the issuer's */
        X509_STORE *rogue = store_of("rogue-root-ca.pem", "rogue-issuing-ca.pem");
        assert_int_equal(verify(der, len, rogue, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "untrusted"));
        X509_STORE_free(rogue);
        /* the signature value damaged (its last byte: nothing follows it) */
        der[len - 1] ^= 1;
        assert_int_equal(verify(der, len, store, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "bad signature"));
        der[len - 1] ^= 1;
        /* every truncation is refused, none crashes */
        for (size_t n = 0; n < len; n++)
            assert_int_equal(verify(der, n, store, why, sizeof(why)), -1);
        OPENSSL_free(der);
    }
    X509_STORE_free(store);
}

static void test_signer_failures(void **state)
{
    (void)state;
    X509 *x = load_cert("person-an-sign-p256.pem");
    struct soft_signer s = { load_key("person-an-sign-p256.key.pem"), 1 };
    unsigned char *der = NULL;
    size_t len = 0;
    char why[256] = "";
    assert_int_equal(records_sign_detached(content, CONTENT_LEN, x, NULL, 0, soft_sign, &s, &der, &len, why,
                                           sizeof(why)), -1);
    assert_string_equal(why, "refused");
    s.fail = 2;
    assert_int_equal(records_sign_detached(content, CONTENT_LEN, x, NULL, 0, soft_sign, &s, &der, &len, why,
                                           sizeof(why)), -1);
    assert_null(der);
    EVP_PKEY_free(s.key);
    /* a key that is not the certificate's: caught before anything is written */
    s.key = load_key("person-binh-sign-rsa2048.key.pem");
    s.fail = 0;
    X509_free(x);
    x = load_cert("person-an-sign-rsa2048.pem");
    assert_int_equal(records_sign_detached(content, CONTENT_LEN, x, NULL, 0, soft_sign, &s, &der, &len, why,
                                           sizeof(why)), -1);
    assert_non_null(strstr(why, "does not verify"));
    EVP_PKEY_free(s.key);
    X509_free(x);
}

static void test_garbage(void **state)
{
    (void)state;
    X509_STORE *store = store_of("root-ca.pem", "issuing-ca.pem");
    char why[256] = "";
    unsigned char one = 0x30;
    assert_int_equal(verify(&one, 0, store, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not a CMS signature"));
    assert_int_equal(verify(&one, 1, store, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not a CMS signature"));
    /* larger than any .p7s: refused before parsing (the buffer is not read) */
    assert_int_equal(verify(&one, RECORDS_MAX_SIGNATURE + 1, store, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "256 KiB"));
    /* a SEQUENCE claiming more than it holds */
    const unsigned char huge[] = { 0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x06, 0x09 };
    assert_int_equal(verify(huge, sizeof(huge), store, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not a CMS signature"));
    /* DER, but a certificate */
    X509 *x = load_cert("person-an-sign-rsa2048.pem");
    unsigned char *cder = NULL;
    int clen = i2d_X509(x, &cder);
    assert_true(clen > 0);
    assert_int_equal(verify(cder, (size_t)clen, store, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not a CMS signature"));
    OPENSSL_free(cder);
    X509_free(x);
    /* random bytes, and a signature with trailing bytes */
    unsigned char rnd[2048];
    for (int i = 0; i < 200; i++) {
        assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
        rnd[0] = 0x30;
        assert_int_equal(verify(rnd, sizeof(rnd), store, why, sizeof(why)), -1);
    }
    unsigned char *der = NULL;
    size_t len = 0;
    make("person-an-sign-rsa2048.pem", "person-an-sign-rsa2048.key.pem", &der, &len);
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(verify(longer, len + 1, store, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not a CMS signature"));
    free(longer);
    OPENSSL_free(der);
    X509_STORE_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_signer_failures),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
