/* kyso-vtoken's PIV personality driven APDU by APDU, without pcscd:
 * framing (malformed commands, command chaining, GET RESPONSE, extended
 * lengths), management-key authentication, key generation and import,
 * the PIN rules, RESET, and the state file round trip. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tools/vtoken/card.h"
#include "tools/vtoken/piv.h"
#include "tools/vtoken/state_file.h"

#ifndef KYSO_TEST_PKI
#error "KYSO_TEST_PKI must name test-vectors/pki"
#endif

static const char *default_mgm = "010203040506070801020304050607080102030405060708";

struct fixture {
    struct vt_card card;
    uint8_t resp[VT_MAX_RESPONSE + 2];
    size_t resp_len;
};

static struct fixture *make_token(const char *mgm_key)
{
    struct vt_init_options opt = { .pin = "123456", .puk = "12345678", .mgm_key_hex = mgm_key, .serial = 4242 };
    opt.keys[0] = (struct vt_key_spec){ 0x9C, KYSO_TEST_PKI "/person-an-sign-rsa2048.key.pem",
                                        KYSO_TEST_PKI "/person-an-sign-rsa2048.pem" };
    opt.keys[1] = (struct vt_key_spec){ 0x9A, KYSO_TEST_PKI "/person-an-auth-p256.key.pem",
                                        KYSO_TEST_PKI "/person-an-auth-p256.pem" };
    opt.nkeys = 2;
    void *state = NULL;
    char err[256] = "";
    int rc = vt_personality_piv.init(&opt, &state, err, sizeof(err));
    if (rc != 0)
        fail_msg("init: %s", err);
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    vt_card_init(&f->card, &vt_personality_piv, state);
    vt_card_power_on(&f->card);
    return f;
}

static int setup(void **st)
{
    *st = make_token(NULL);
    return 0;
}

static int teardown(void **st)
{
    struct fixture *f = *st;
    vt_card_free(&f->card);
    free(f);
    return 0;
}

/* Sends raw bytes; returns the status word, leaves the data in f->resp. */
static uint16_t send_raw(struct fixture *f, const uint8_t *apdu, size_t len)
{
    f->resp_len = vt_card_transmit(&f->card, apdu, len, f->resp);
    assert_true(f->resp_len >= 2);
    f->resp_len -= 2;
    return (uint16_t)(f->resp[f->resp_len] << 8 | f->resp[f->resp_len + 1]);
}

/* Sends a short APDU (case 1, 3 or 4 with Le=00). */
static uint16_t send(struct fixture *f, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data,
                     size_t len, bool le)
{
    uint8_t apdu[5 + 255 + 1];
    assert_true(len <= 255);
    apdu[0] = cla, apdu[1] = ins, apdu[2] = p1, apdu[3] = p2;
    size_t n = 4;
    if (len) {
        apdu[n++] = (uint8_t)len;
        memcpy(apdu + n, data, len);
        n += len;
    }
    if (le)
        apdu[n++] = 0x00;
    return send_raw(f, apdu, n);
}

static void pad_pin(const char *pin, uint8_t out[8])
{
    memset(out, 0xFF, 8);
    memcpy(out, pin, strlen(pin));
}

static uint16_t verify_pin(struct fixture *f, const char *pin)
{
    uint8_t p[8];
    pad_pin(pin, p);
    return send(f, 0x00, 0x20, 0x00, 0x80, p, 8, false);
}

static uint16_t get_data(struct fixture *f, uint32_t tag)
{
    uint8_t d[] = { 0x5C, 0x03, (uint8_t)(tag >> 16), (uint8_t)(tag >> 8), (uint8_t)tag };
    return send(f, 0x00, 0xCB, 0x3F, 0xFF, d, sizeof(d), true);
}

static size_t hex2bin(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Mutual authentication with the management key, as yubico-piv-tool. */
static uint16_t mgm_mutual(struct fixture *f, uint8_t alg, const char *key_hex, bool corrupt)
{
    uint8_t key[32], block = alg == PIV_ALG_3DES ? 8 : 16;
    size_t keylen = hex2bin(key_hex, key);
    uint8_t req[] = { 0x7C, 0x02, 0x80, 0x00 };
    uint16_t sw = send(f, 0x00, 0x87, alg, 0x9B, req, sizeof(req), true);
    if (sw != SW_OK)
        return sw;
    assert_int_equal(f->resp_len, 4u + block);
    assert_int_equal(f->resp[2], 0x80);
    const EVP_CIPHER *c = alg == PIV_ALG_3DES ? EVP_des_ede3_ecb()
                          : alg == PIV_ALG_AES256 ? EVP_aes_256_ecb()
                                                   : EVP_aes_128_ecb();
    uint8_t witness[16], challenge[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    int n = 0, m = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_DecryptInit_ex(ctx, c, NULL, key, NULL), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_int_equal(EVP_DecryptUpdate(ctx, witness, &n, f->resp + 4, block), 1);
    assert_int_equal(EVP_DecryptFinal_ex(ctx, witness + n, &m), 1);
    if (corrupt)
        witness[0] ^= 1;
    uint8_t step2[4 + 2 * 18];
    size_t k = 0;
    step2[k++] = 0x7C, step2[k++] = (uint8_t)(4 + 2 * block);
    step2[k++] = 0x80, step2[k++] = block;
    memcpy(step2 + k, witness, block), k += block;
    step2[k++] = 0x81, step2[k++] = block;
    memcpy(step2 + k, challenge, block), k += block;
    sw = send(f, 0x00, 0x87, alg, 0x9B, step2, k, true);
    if (sw == SW_OK) {
        /* The card proves it knows the key too. */
        uint8_t expect[16];
        EVP_EncryptInit_ex(ctx, c, NULL, key, NULL);
        EVP_CIPHER_CTX_set_padding(ctx, 0);
        EVP_EncryptUpdate(ctx, expect, &n, challenge, block);
        assert_int_equal(f->resp[2], 0x82);
        assert_memory_equal(f->resp + 4, expect, block);
    }
    EVP_CIPHER_CTX_free(ctx);
    (void)keylen;
    return sw;
}

static void test_select_answers_application_template(void **st)
{
    struct fixture *f = *st;
    static const uint8_t aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };
    assert_int_equal(send(f, 0x00, 0xA4, 0x04, 0x00, aid, sizeof(aid), true), SW_OK);
    static const uint8_t apt[] = { 0x61, 0x11, 0x4F, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
                                   0x79, 0x07, 0x4F, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08 };
    assert_int_equal(f->resp_len, sizeof(apt));
    assert_memory_equal(f->resp, apt, sizeof(apt));
    assert_int_equal(send(f, 0x00, 0xA4, 0x04, 0x00, aid, 5, true), SW_OK);
    static const uint8_t other[] = { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01 };
    assert_int_equal(send(f, 0x00, 0xA4, 0x04, 0x00, other, sizeof(other), true), SW_FILE_NOT_FOUND);
}

static void test_malformed_apdus_are_refused(void **st)
{
    struct fixture *f = *st;
    static const uint8_t short3[] = { 0x00, 0xCB, 0x3F };
    assert_int_equal(send_raw(f, short3, sizeof(short3)), SW_WRONG_LENGTH);
    static const uint8_t lc_too_big[] = { 0x00, 0xCB, 0x3F, 0xFF, 0x09, 0x5C, 0x03 };
    assert_int_equal(send_raw(f, lc_too_big, sizeof(lc_too_big)), SW_WRONG_LENGTH);
    static const uint8_t ext_no_data[] = { 0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x00, 0x01 };
    assert_int_equal(send_raw(f, ext_no_data, sizeof(ext_no_data)), SW_WRONG_LENGTH);
    static const uint8_t bad_cla[] = { 0x80, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00 };
    assert_int_equal(send_raw(f, bad_cla, sizeof(bad_cla)), SW_CLA_NOT_SUPPORTED);
    assert_int_equal(send(f, 0x00, 0x99, 0x00, 0x00, NULL, 0, false), SW_INS_NOT_SUPPORTED);
    static const uint8_t bad_tlv[] = { 0x5C, 0x05, 0x5F };
    assert_int_equal(send(f, 0x00, 0xCB, 0x3F, 0xFF, bad_tlv, sizeof(bad_tlv), true), SW_WRONG_DATA);
    assert_int_equal(send(f, 0x00, 0xC0, 0x00, 0x00, NULL, 0, true), SW_CONDITIONS_NOT_SATISFIED);
}

static void test_long_answer_comes_through_get_response(void **st)
{
    struct fixture *f = *st;
    uint8_t whole[4096];
    size_t n = 0;
    uint16_t sw = get_data(f, 0x5FC10A);
    while (true) {
        assert_true(n + f->resp_len <= sizeof(whole));
        memcpy(whole + n, f->resp, f->resp_len);
        n += f->resp_len;
        if (sw == SW_OK)
            break;
        assert_int_equal(sw & 0xFF00, 0x6100);
        assert_int_equal(f->resp_len, 256);
        sw = send(f, 0x00, 0xC0, 0x00, 0x00, NULL, 0, true);
    }
    assert_true(n > 256);
    /* 53 { 70 cert 71 00 FE 00 }: the certificate is the personalised one. */
    struct tlv obj, cert;
    assert_int_equal(tlv_find(whole, n, 0x53, &obj), TLV_OK);
    assert_int_equal(tlv_find(obj.value, obj.len, 0x70, &cert), TLV_OK);
    FILE *pem = fopen(KYSO_TEST_PKI "/person-an-sign-rsa2048.pem", "r");
    assert_non_null(pem);
    X509 *x = PEM_read_X509(pem, NULL, NULL, NULL);
    fclose(pem);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    assert_int_equal(cert.len, (size_t)len);
    assert_memory_equal(cert.value, der, cert.len);
    OPENSSL_free(der);
    X509_free(x);

    /* An extended Le gets it all at once. */
    uint8_t ext[] = { 0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x0A, 0x00, 0x00 };
    assert_int_equal(send_raw(f, ext, sizeof(ext)), SW_OK);
    assert_int_equal(f->resp_len, n);
    assert_memory_equal(f->resp, whole, n);
}

static void test_put_data_needs_management_key_and_chains(void **st)
{
    struct fixture *f = *st;
    uint8_t obj[5 + 4 + 600];
    size_t k = 0;
    obj[k++] = 0x5C, obj[k++] = 0x03, obj[k++] = 0x5F, obj[k++] = 0xC1, obj[k++] = 0x20;
    obj[k++] = 0x53, obj[k++] = 0x82, obj[k++] = 0x02, obj[k++] = 0x58;
    for (size_t i = 0; i < 600; i++)
        obj[k++] = (uint8_t)i;
    /* Three pieces: CLA 10, 10, then 00. */
    assert_int_equal(send(f, 0x10, 0xDB, 0x3F, 0xFF, obj, 255, false), SW_OK);
    assert_int_equal(send(f, 0x10, 0xDB, 0x3F, 0xFF, obj + 255, 255, false), SW_OK);
    assert_int_equal(send(f, 0x00, 0xDB, 0x3F, 0xFF, obj + 510, k - 510, false), SW_SECURITY_NOT_SATISFIED);

    assert_int_equal(mgm_mutual(f, PIV_ALG_3DES, default_mgm, true), SW_SECURITY_NOT_SATISFIED);
    assert_int_equal(mgm_mutual(f, PIV_ALG_3DES, default_mgm, false), SW_OK);
    assert_int_equal(send(f, 0x10, 0xDB, 0x3F, 0xFF, obj, 255, false), SW_OK);
    assert_int_equal(send(f, 0x10, 0xDB, 0x3F, 0xFF, obj + 255, 255, false), SW_OK);
    assert_int_equal(send(f, 0x00, 0xDB, 0x3F, 0xFF, obj + 510, k - 510, false), SW_OK);
    assert_int_equal(f->card.dirty, true);

    uint8_t ext[] = { 0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x20, 0x00, 0x00 };
    assert_int_equal(send_raw(f, ext, sizeof(ext)), SW_OK);
    assert_int_equal(f->resp_len, 604);
    assert_memory_equal(f->resp + 4, obj + 9, 600);
}

static void test_external_authentication_and_aes_keys(void **st)
{
    (void)st;
    const char *aes = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    char spec[80];
    snprintf(spec, sizeof(spec), "aes256:%s", aes);
    struct fixture *f = make_token(spec);
    /* The wrong algorithm is refused; the right one authenticates. */
    assert_int_equal(mgm_mutual(f, PIV_ALG_3DES, default_mgm, false), SW_INCORRECT_P1P2);
    assert_int_equal(mgm_mutual(f, PIV_ALG_AES256, aes, false), SW_OK);

    /* External authentication: the host encrypts the card's challenge. */
    uint8_t req[] = { 0x7C, 0x02, 0x81, 0x00 };
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_AES256, 0x9B, req, sizeof(req), true), SW_OK);
    assert_int_equal(f->resp_len, 20);
    uint8_t key[32], enc[16];
    hex2bin(aes, key);
    int n = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), NULL, key, NULL);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    EVP_EncryptUpdate(ctx, enc, &n, f->resp + 4, 16);
    EVP_CIPHER_CTX_free(ctx);
    uint8_t resp[20] = { 0x7C, 0x12, 0x82, 0x10 };
    memcpy(resp + 4, enc, 16);
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_AES256, 0x9B, resp, sizeof(resp), false), SW_OK);
    /* Replaying the same answer fails: the challenge was used up. */
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_AES256, 0x9B, resp, sizeof(resp), false),
                     SW_SECURITY_NOT_SATISFIED);
    teardown((void **)&f);
}

static void test_generate_and_metadata(void **st)
{
    struct fixture *f = *st;
    uint8_t gen_ec[] = { 0xAC, 0x03, 0x80, 0x01, PIV_ALG_ECCP256 };
    assert_int_equal(send(f, 0x00, 0x47, 0x00, 0x9E, gen_ec, sizeof(gen_ec), true), SW_SECURITY_NOT_SATISFIED);
    assert_int_equal(mgm_mutual(f, PIV_ALG_3DES, default_mgm, false), SW_OK);
    assert_int_equal(send(f, 0x00, 0x47, 0x00, 0x9E, gen_ec, sizeof(gen_ec), true), SW_OK);
    /* 7F49 { 86 04 X Y } */
    assert_int_equal(f->resp[0], 0x7F);
    assert_int_equal(f->resp[1], 0x49);
    assert_int_equal(f->resp[3], 0x86);
    assert_int_equal(f->resp[4], 65);
    assert_int_equal(f->resp[5], 0x04);

    assert_int_equal(send(f, 0x00, 0xF7, 0x00, 0x9E, NULL, 0, true), SW_OK);
    struct tlv t;
    assert_int_equal(tlv_find(f->resp, f->resp_len, 0x01, &t), TLV_OK);
    assert_int_equal(t.value[0], PIV_ALG_ECCP256);
    assert_int_equal(tlv_find(f->resp, f->resp_len, 0x02, &t), TLV_OK);
    assert_int_equal(t.value[0], PIV_PIN_POLICY_NEVER); /* 9E: card authentication */
    assert_int_equal(tlv_find(f->resp, f->resp_len, 0x03, &t), TLV_OK);
    assert_int_equal(t.value[0], PIV_ORIGIN_GENERATED);

    /* 9E signs without a PIN; 9A needs one. */
    uint8_t ga[38] = { 0x7C, 0x24, 0x82, 0x00, 0x81, 0x20 };
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_ECCP256, 0x9E, ga, sizeof(ga), true), SW_OK);
    assert_int_equal(f->resp[0], 0x7C);
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_ECCP256, 0x9A, ga, sizeof(ga), true), SW_SECURITY_NOT_SATISFIED);
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_RSA2048, 0x9A, ga, sizeof(ga), true), SW_INCORRECT_P1P2);
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_ECCP256, 0x9D, ga, sizeof(ga), true), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(f->card.stats.signatures, 1);

    /* PIN metadata: default PIN, 3 of 3 tries. */
    assert_int_equal(send(f, 0x00, 0xF7, 0x00, 0x80, NULL, 0, true), SW_OK);
    assert_int_equal(tlv_find(f->resp, f->resp_len, 0x06, &t), TLV_OK);
    assert_int_equal(t.len, 2);
    assert_int_equal(t.value[0], 3);
    assert_int_equal(t.value[1], 3);
    assert_int_equal(send(f, 0x00, 0xF7, 0x00, 0x95, NULL, 0, true), SW_REF_DATA_NOT_FOUND);
}

static void test_import_ec_key_signs_verifiably(void **st)
{
    struct fixture *f = *st;
    FILE *pem = fopen(KYSO_TEST_PKI "/person-an-keymgmt-p256.key.pem", "r");
    assert_non_null(pem);
    EVP_PKEY *key = PEM_read_PrivateKey(pem, NULL, NULL, NULL);
    fclose(pem);
    BIGNUM *d = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(key, "priv", &d), 1);
    uint8_t imp[2 + 32] = { 0x06, 0x20 };
    assert_int_equal(BN_bn2binpad(d, imp + 2, 32), 32);
    BN_clear_free(d);

    assert_int_equal(mgm_mutual(f, PIV_ALG_3DES, default_mgm, false), SW_OK);
    assert_int_equal(send(f, 0x00, 0xFE, PIV_ALG_ECCP256, 0x85, imp, sizeof(imp), false), SW_OK);
    imp[2] ^= 0xFF; /* the wrong length or a scalar out of range is refused */
    assert_int_equal(send(f, 0x00, 0xFE, PIV_ALG_ECCP256, 0x85, imp, 20, false), SW_WRONG_DATA);

    assert_int_equal(verify_pin(f, "123456"), SW_OK);
    uint8_t hash[32];
    unsigned hl = 0;
    EVP_Digest("kyso", 4, hash, &hl, EVP_sha256(), NULL);
    uint8_t ga[38] = { 0x7C, 0x24, 0x82, 0x00, 0x81, 0x20 };
    memcpy(ga + 6, hash, 32);
    assert_int_equal(send(f, 0x00, 0x87, PIV_ALG_ECCP256, 0x85, ga, sizeof(ga), true), SW_OK);
    struct tlv outer, sig;
    assert_int_equal(tlv_find(f->resp, f->resp_len, 0x7C, &outer), TLV_OK);
    assert_int_equal(tlv_find(outer.value, outer.len, 0x82, &sig), TLV_OK);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_verify(ctx, sig.value, sig.len, hash, 32), 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
}

static void test_pin_always_and_blocking_and_reset(void **st)
{
    struct fixture *f = *st;
    uint8_t ga[4 + 2 + 4 + 256] = { 0x7C, 0x82, 0x01, 0x06, 0x82, 0x00, 0x81, 0x82 };
    /* A 256-byte block below the modulus, sent with extended Lc. */
    uint8_t apdu[7 + 266 + 2] = { 0x00, 0x87, PIV_ALG_RSA2048, 0x9C, 0x00, 0x01, 0x0A };
    ga[8] = 0x01, ga[9] = 0x00;
    ga[10] = 0x00;
    ga[11] = 0x01;
    memset(ga + 12, 0x5A, 256 - 4);
    memcpy(apdu + 7, ga, 266);
    assert_int_equal(send_raw(f, apdu, sizeof(apdu)), SW_SECURITY_NOT_SATISFIED);
    assert_int_equal(verify_pin(f, "123456"), SW_OK);
    assert_int_equal(send_raw(f, apdu, sizeof(apdu)), SW_OK);
    assert_int_equal(send_raw(f, apdu, sizeof(apdu)), SW_SECURITY_NOT_SATISFIED);

    /* RESET is refused until both the PIN and the PUK are blocked. */
    assert_int_equal(send(f, 0x00, 0xFB, 0x00, 0x00, NULL, 0, false), SW_CONDITIONS_NOT_SATISFIED);
    assert_int_equal(verify_pin(f, "000000"), SW_TRIES_LEFT(2));
    assert_int_equal(verify_pin(f, "000000"), SW_TRIES_LEFT(1));
    assert_int_equal(verify_pin(f, "000000"), SW_TRIES_LEFT(0));
    assert_int_equal(verify_pin(f, "123456"), SW_AUTH_BLOCKED);
    uint8_t bad[16];
    pad_pin("00000000", bad);
    pad_pin("111111", bad + 8);
    for (int i = 2; i >= 0; i--)
        assert_int_equal(send(f, 0x00, 0x2C, 0x00, 0x80, bad, 16, false), SW_TRIES_LEFT(i));
    assert_int_equal(send(f, 0x00, 0xFB, 0x00, 0x00, NULL, 0, false), SW_OK);
    assert_int_equal(verify_pin(f, "123456"), SW_OK);
    assert_int_equal(get_data(f, 0x5FC10A), SW_FILE_NOT_FOUND); /* keys and objects are gone */
}

static void test_state_file_round_trip_and_damage(void **st)
{
    struct fixture *f = *st;
    char path[] = "/tmp/kyso-vtoken-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    assert_int_equal(verify_pin(f, "999999"), SW_TRIES_LEFT(2));
    assert_int_equal(vt_state_save(path, &vt_personality_piv, f->card.state, err, sizeof(err)), 0);

    const struct vt_personality *pers = NULL;
    void *loaded = NULL;
    assert_int_equal(vt_state_load(path, &pers, &loaded, err, sizeof(err)), 0);
    assert_ptr_equal(pers, &vt_personality_piv);
    struct piv_state *a = f->card.state, *b = loaded;
    assert_int_equal(b->serial, 4242);
    assert_int_equal(b->pin_left, 2);
    assert_memory_equal(b->pin, a->pin, 8);
    assert_non_null(b->keys[0x9C].pkey);
    assert_int_equal(EVP_PKEY_eq(a->keys[0x9C].pkey, b->keys[0x9C].pkey), 1);
    assert_int_equal(b->nobjects, a->nobjects);
    pers->free_state(loaded);

    /* Any single flipped byte is caught. */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    for (long off = 0; off < size; off += 97) {
        fseek(fp, off, SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, off, SEEK_SET);
        fputc(c ^ 0x01, fp);
        fflush(fp);
        loaded = NULL;
        assert_int_equal(vt_state_load(path, &pers, &loaded, err, sizeof(err)), -1);
        assert_null(loaded);
        assert_non_null(strstr(err, "damaged"));
        fseek(fp, off, SEEK_SET);
        fputc(c, fp);
        fflush(fp);
    }
    fclose(fp);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_select_answers_application_template, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_apdus_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_answer_comes_through_get_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_data_needs_management_key_and_chains, setup, teardown),
        cmocka_unit_test(test_external_authentication_and_aes_keys),
        cmocka_unit_test_setup_teardown(test_generate_and_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_ec_key_signs_verifiably, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_always_and_blocking_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_file_round_trip_and_damage, setup, teardown),
    };
    return cmocka_run_group_tests_name("vtoken-piv", tests, NULL, NULL);
}
