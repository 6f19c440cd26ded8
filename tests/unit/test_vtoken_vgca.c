/* kyso-vtoken's government-token personalities (TOKENS.md §1) driven APDU
 * by APDU, without pcscd: vgca-chipdoc (variant B) and vgca-jcop (variant
 * A). Selection rules, READ BINARY chunking, the PKCS#15 files, PIN and
 * PUK rules, MSE + PSO rules and signatures checked with OpenSSL, the 7A
 * stand-in, personalisation refusals and the state file round trip. */
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
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tools/vtoken/card.h"
#include "tools/vtoken/state_file.h"
#include "tools/vtoken/vgca.h"

#ifndef KYSO_TEST_PKI
#error "KYSO_TEST_PKI must name test-vectors/pki"
#endif

#define PKI KYSO_TEST_PKI "/"
#define SIGN2048 PKI "person-an-sign-rsa2048"
#define SIGN3072 PKI "person-an-sign-rsa3072"

static const uint8_t chipdoc_aid[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0xD2, 0x50,
                                       0x47, 0x65, 0x6E, 0x65, 0x72, 0x69, 0x63 };
static const uint8_t jcop_aid[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x01, 0x4E, 0x58, 0x50, 0x30 };
static const uint8_t pkcs15_aid[] = { 0xA0, 0x00, 0x00, 0x00, 0x63, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35 };
static const uint8_t piv_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
static const uint8_t iasecc_aid7[] = { 0xA0, 0x00, 0x00, 0x00, 0x77, 0x01, 0x08 };
static const uint8_t iasecc_aid[] = { 0xA0, 0x00, 0x00, 0x00, 0x77, 0x01, 0x08, 0x00,
                                      0x07, 0x00, 0x00, 0xFE, 0x00, 0x00, 0x01, 0x00 };
static const uint8_t cardos_aid[] = { 0xD2, 0x76, 0x00, 0x00, 0x66, 0x01 };

static const uint8_t sha256_prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
static const uint8_t sha1_prefix[] = { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                       0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 };
static const uint8_t md5_prefix[] = { 0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                      0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10 };

struct fixture {
    const struct vt_personality *pers;
    struct vt_card card;
    uint8_t resp[VT_MAX_RESPONSE + 2];
    size_t resp_len;
};

static void init_options(const struct vt_personality *pers, struct vt_init_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->serial = 4242;
    if (pers == &vt_personality_vgca_chipdoc) {
        opt->keys[0] = (struct vt_key_spec){ 0x81, SIGN2048 ".key.pem", SIGN2048 ".pem" };
        opt->ca_certs[0] = PKI "issuing-ca.pem";
        opt->ca_certs[1] = PKI "root-ca.pem";
        opt->nca_certs = 2;
    } else {
        opt->keys[0] = (struct vt_key_spec){ 0x10, SIGN3072 ".key.pem", SIGN3072 ".pem" };
    }
    opt->nkeys = 1;
}

static struct fixture *make_token(const struct vt_personality *pers)
{
    struct vt_init_options opt;
    init_options(pers, &opt);
    void *state = NULL;
    char err[256] = "";
    if (pers->init(&opt, &state, err, sizeof(err)) != 0)
        fail_msg("init: %s", err);
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->pers = pers;
    vt_card_init(&f->card, pers, state);
    vt_card_power_on(&f->card);
    return f;
}

static int setup_chipdoc(void **st)
{
    *st = make_token(&vt_personality_vgca_chipdoc);
    return 0;
}

static int setup_jcop(void **st)
{
    *st = make_token(&vt_personality_vgca_jcop);
    return 0;
}

static int teardown(void **st)
{
    struct fixture *f = *st;
    vt_card_free(&f->card);
    free(f);
    return 0;
}

static uint16_t send_raw(struct fixture *f, const uint8_t *apdu, size_t len)
{
    f->resp_len = vt_card_transmit(&f->card, apdu, len, f->resp);
    assert_true(f->resp_len >= 2);
    f->resp_len -= 2;
    return (uint16_t)(f->resp[f->resp_len] << 8 | f->resp[f->resp_len + 1]);
}

/* A short APDU; le < 0: no Le, else Le (0 meaning 256). */
static uint16_t send(struct fixture *f, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data, size_t len, int le)
{
    uint8_t apdu[5 + 255 + 1];
    assert_true(len <= 255);
    apdu[0] = 0x00, apdu[1] = ins, apdu[2] = p1, apdu[3] = p2;
    size_t n = 4;
    if (len) {
        apdu[n++] = (uint8_t)len;
        memcpy(apdu + n, data, len);
        n += len;
    }
    if (le >= 0)
        apdu[n++] = (uint8_t)le;
    return send_raw(f, apdu, n);
}

static uint16_t select_app(struct fixture *f)
{
    if (f->pers == &vt_personality_vgca_chipdoc)
        return send(f, 0xA4, 0x04, 0x0C, chipdoc_aid, sizeof(chipdoc_aid), -1);
    return send(f, 0xA4, 0x04, 0x0C, jcop_aid, sizeof(jcop_aid), -1);
}

static uint16_t select_ef(struct fixture *f, uint16_t fid)
{
    uint8_t d[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
    return send(f, 0xA4, 0x02, 0x0C, d, 2, -1);
}

static uint16_t read_binary(struct fixture *f, size_t off, int le)
{
    return send(f, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, NULL, 0, le);
}

/* Reads the selected EF as a client should: Le=00 until a short answer or
 * 6B00. Returns the length read into out (malloc'd). */
static size_t read_whole(struct fixture *f, uint8_t **out)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    for (;;) {
        uint16_t sw = read_binary(f, n, 0);
        if (sw == SW_WRONG_P1P2)
            break;
        assert_int_equal(sw, SW_OK);
        assert_true(f->resp_len > 0 && f->resp_len <= VGCA_READ_MAX);
        buf = realloc(buf, n + f->resp_len);
        assert_non_null(buf);
        memcpy(buf + n, f->resp, f->resp_len);
        n += f->resp_len;
        if (f->resp_len < VGCA_READ_MAX)
            break;
    }
    *out = buf;
    return n;
}

static size_t read_ef(struct fixture *f, uint16_t fid, uint8_t **out)
{
    assert_int_equal(select_ef(f, fid), SW_OK);
    return read_whole(f, out);
}

static void pad8(const char *pin, uint8_t out[8])
{
    memset(out, 0xFF, 8);
    memcpy(out, pin, strlen(pin));
}

static uint16_t verify(struct fixture *f, uint8_t ref, const char *pin)
{
    uint8_t p[8];
    pad8(pin, p);
    return send(f, 0x20, 0x00, ref, p, 8, -1);
}

static uint16_t two_secrets(struct fixture *f, uint8_t ins, uint8_t ref, const char *a, const char *b)
{
    uint8_t d[16];
    pad8(a, d);
    pad8(b, d + 8);
    return send(f, ins, 0x00, ref, d, 16, -1);
}

static uint16_t mse(struct fixture *f, uint8_t alg, uint8_t key)
{
    uint8_t d[] = { 0x80, 0x01, alg, 0x84, 0x01, key };
    return send(f, 0x22, 0x41, 0xB6, d, sizeof(d), -1);
}

static X509 *load_cert(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    return x;
}

static size_t cert_der(const char *path, uint8_t **der)
{
    X509 *x = load_cert(path);
    unsigned char *d = NULL;
    int len = i2d_X509(x, &d);
    X509_free(x);
    assert_true(len > 0);
    *der = d;
    return (size_t)len;
}

/* DigestInfo of SHA-256 or SHA-1 over msg; returns its length. */
static size_t digest_info(const EVP_MD *md, const char *msg, uint8_t *out, uint8_t *hash, size_t *hlen)
{
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(msg, strlen(msg), hash, &n, md, NULL), 1);
    *hlen = n;
    const uint8_t *prefix = md == EVP_sha1() ? sha1_prefix : sha256_prefix;
    size_t plen = md == EVP_sha1() ? sizeof(sha1_prefix) : sizeof(sha256_prefix);
    memcpy(out, prefix, plen);
    memcpy(out + plen, hash, n);
    return plen + n;
}

/* The signature verifies (PKCS#1 v1.5) with the certificate's key. */
static bool signature_ok(const char *cert_path, const EVP_MD *md, const uint8_t *hash, size_t hlen,
                         const uint8_t *sig, size_t siglen)
{
    X509 *x = load_cert(cert_path);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(x), NULL);
    bool ok = ctx && EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
              EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 && EVP_PKEY_verify(ctx, sig, siglen, hash, hlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    X509_free(x);
    return ok;
}

/* Finds the child with tag in a constructed element's content. */
static struct tlv child(const uint8_t *p, size_t len, uint32_t tag)
{
    struct tlv t;
    assert_int_equal(tlv_find(p, len, tag, &t), TLV_OK);
    return t;
}

/* The n-th element (0-based) of a list of siblings. */
static struct tlv nth(const uint8_t *p, size_t len, size_t n)
{
    struct tlv t;
    for (size_t i = 0; i <= n; i++)
        assert_int_equal(tlv_next(&p, &len, &t), TLV_OK);
    return t;
}

/* DER content of a file: the siblings before the 00 padding, checked to be
 * well-formed (recursively unless told) and followed by zeros only. */
static size_t der_extent_as(const uint8_t *p, size_t size, bool recursive)
{
    const uint8_t *q = p;
    size_t left = size, used = 0;
    struct tlv t;
    while (left && q[0] != 0x00) {
        assert_int_equal(tlv_next(&q, &left, &t), TLV_OK);
        used = size - left;
    }
    for (size_t i = used; i < size; i++)
        assert_int_equal(p[i], 0x00);
    assert_int_equal(tlv_validate(p, used, recursive, 12), TLV_OK);
    return used;
}

static size_t der_extent(const uint8_t *p, size_t size)
{
    return der_extent_as(p, size, true);
}

/* ================= variant B: vgca-chipdoc ================= */

static void test_chipdoc_selection(void **st)
{
    struct fixture *f = *st;

    /* Nothing selected after power-on. */
    assert_int_equal(read_binary(f, 0, 0), SW_COMMAND_NOT_ALLOWED);
    assert_int_equal(select_ef(f, 0x5031), SW_FILE_NOT_FOUND);
    assert_int_equal(verify(f, 0x01, "12345678"), SW_CONDITIONS_NOT_SATISFIED);
    /* Other applications are not there. */
    const struct { const uint8_t *aid; size_t len; } others[] = {
        { pkcs15_aid, sizeof(pkcs15_aid) }, { piv_aid, sizeof(piv_aid) },   { iasecc_aid7, sizeof(iasecc_aid7) },
        { iasecc_aid, sizeof(iasecc_aid) }, { jcop_aid, sizeof(jcop_aid) }, { chipdoc_aid, 5 },
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_int_equal(send(f, 0xA4, 0x04, 0x0C, others[i].aid, others[i].len, -1), SW_FILE_NOT_FOUND);
        assert_int_equal(send(f, 0xA4, 0x04, 0x00, others[i].aid, others[i].len, 0), SW_FILE_NOT_FOUND);
    }
    /* P2=0C: no data; P2=00 with Le: an FCI naming the AID. */
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(f->resp_len, 0);
    assert_int_equal(send(f, 0xA4, 0x04, 0x00, chipdoc_aid, sizeof(chipdoc_aid), 0), SW_OK);
    uint8_t fci[2 + 2 + sizeof(chipdoc_aid)] = { 0x6F, 0x10, 0x84, 0x0E };
    memcpy(fci + 4, chipdoc_aid, sizeof(chipdoc_aid));
    assert_int_equal(f->resp_len, sizeof(fci));
    assert_memory_equal(f->resp, fci, sizeof(fci));
    assert_int_equal(send(f, 0xA4, 0x04, 0x04, chipdoc_aid, sizeof(chipdoc_aid), 0), SW_INCORRECT_P1P2);

    /* EFs by file identifier. */
    assert_int_equal(read_binary(f, 0, 0), SW_COMMAND_NOT_ALLOWED);
    assert_int_equal(select_ef(f, 0x5031), SW_OK);
    assert_int_equal(f->resp_len, 0);
    static const uint8_t odf_fid[] = { 0x50, 0x31 };
    static const uint8_t fcp[] = { 0x62, 0x0B, 0x80, 0x02, 0x00, 0x80, 0x82, 0x01, 0x01, 0x83, 0x02, 0x50, 0x31 };
    assert_int_equal(send(f, 0xA4, 0x02, 0x04, odf_fid, 2, 0), SW_OK);
    assert_int_equal(f->resp_len, sizeof(fcp));
    assert_memory_equal(f->resp, fcp, sizeof(fcp));
    assert_int_equal(send(f, 0xA4, 0x02, 0x00, odf_fid, 2, 0), SW_OK);
    assert_memory_equal(f->resp, fcp, sizeof(fcp));
    assert_int_equal(send(f, 0xA4, 0x02, 0x01, odf_fid, 2, 0), SW_INCORRECT_P1P2);
    assert_int_equal(send(f, 0xA4, 0x08, 0x0C, odf_fid, 2, -1), SW_INCORRECT_P1P2);
    assert_int_equal(send(f, 0xA4, 0x02, 0x0C, odf_fid, 1, -1), SW_WRONG_LENGTH);
    static const uint16_t present[] = { 0x5031, 0x5032, 0x7001, 0x7002, 0x7005, 0x0003, 0x0002, 0x0001 };
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
        assert_int_equal(select_ef(f, present[i]), SW_OK);
    /* Not on this variant: PuKDF, DODF, EF.DIR, the MF, the key's DF. */
    static const uint16_t absent[] = { 0x7004, 0x7006, 0x2F00, 0x3F00, 0xDF81, 0x5015, 0x0004 };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_int_equal(select_ef(f, absent[i]), SW_FILE_NOT_FOUND);
    /* A failed SELECT leaves the current EF alone; a new application
     * SELECT forgets it. */
    assert_int_equal(read_binary(f, 0, 2), SW_OK);
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(read_binary(f, 0, 0), SW_COMMAND_NOT_ALLOWED);
    /* Reset: back outside the application. */
    vt_card_power_on(&f->card);
    assert_int_equal(select_ef(f, 0x0003), SW_FILE_NOT_FOUND);
}

static void test_chipdoc_read_binary_chunks(void **st)
{
    struct fixture *f = *st;
    uint8_t *der;
    size_t der_len = cert_der(SIGN2048 ".pem", &der);

    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(select_ef(f, 0x0003), SW_OK);
    /* 231 at most, whatever Le says. */
    assert_int_equal(read_binary(f, 0, 0), SW_OK);
    assert_int_equal(f->resp_len, 231);
    assert_memory_equal(f->resp, der, 231);
    assert_int_equal(read_binary(f, 0, 0xFF), SW_OK);
    assert_int_equal(f->resp_len, 231);
    assert_int_equal(read_binary(f, 0, 232), SW_OK);
    assert_int_equal(f->resp_len, 231);
    assert_int_equal(read_binary(f, 10, 16), SW_OK);
    assert_int_equal(f->resp_len, 16);
    assert_memory_equal(f->resp, der + 10, 16);
    static const uint8_t ext[] = { 0x00, 0xB0, 0x00, 0xE7, 0x00, 0x03, 0xE8 }; /* extended Le 1000 */
    assert_int_equal(send_raw(f, ext, sizeof(ext)), SW_OK);
    assert_int_equal(f->resp_len, 231);
    assert_memory_equal(f->resp, der + 231, 231);
    static const uint8_t ext0[] = { 0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00 }; /* extended Le 65536 */
    assert_int_equal(send_raw(f, ext0, sizeof(ext0)), SW_OK);
    assert_int_equal(f->resp_len, 231);
    /* No Le, SFI, data: refused. */
    static const uint8_t no_le[] = { 0x00, 0xB0, 0x00, 0x00 };
    assert_int_equal(send_raw(f, no_le, sizeof(no_le)), SW_WRONG_LENGTH);
    assert_int_equal(read_binary(f, 0x8100, 0), SW_INCORRECT_P1P2);

    /* The whole file: the DER, then 00 up to a 256-byte multiple. */
    uint8_t *file;
    size_t n = read_whole(f, &file);
    assert_int_equal(n % 256, 0);
    assert_true(n >= der_len && n < der_len + 256);
    assert_memory_equal(file, der, der_len);
    for (size_t i = der_len; i < n; i++)
        assert_int_equal(file[i], 0);
    /* The last chunk was short; at and past the end: 6B00. */
    assert_int_equal(read_binary(f, n - 1, 0), SW_OK);
    assert_int_equal(f->resp_len, 1);
    assert_int_equal(read_binary(f, n, 0), SW_WRONG_P1P2);
    assert_int_equal(read_binary(f, n + 300, 0), SW_WRONG_P1P2);
    free(file);
    OPENSSL_free(der);

    /* The CA chain: issuing CA in 0002, root in 0001. */
    const struct { uint16_t fid; const char *pem; } chain[] = {
        { 0x0002, PKI "issuing-ca.pem" },
        { 0x0001, PKI "root-ca.pem" },
    };
    for (size_t i = 0; i < 2; i++) {
        der_len = cert_der(chain[i].pem, &der);
        n = read_ef(f, chain[i].fid, &file);
        assert_true(n >= der_len);
        assert_memory_equal(file, der, der_len);
        free(file);
        OPENSSL_free(der);
    }
}

static void test_chipdoc_pkcs15_files(void **st)
{
    struct fixture *f = *st;
    uint8_t *file;
    size_t n;

    assert_int_equal(select_app(f), SW_OK);
    /* ODF: A0 → 7002, A4 → 7005, A8 → 7001, padded to 128. */
    static const uint8_t odf[] = { 0xA0, 0x06, 0x30, 0x04, 0x04, 0x02, 0x70, 0x02, 0xA4, 0x06, 0x30, 0x04,
                                   0x04, 0x02, 0x70, 0x05, 0xA8, 0x06, 0x30, 0x04, 0x04, 0x02, 0x70, 0x01 };
    n = read_ef(f, 0x5031, &file);
    assert_int_equal(n, 128);
    assert_memory_equal(file, odf, sizeof(odf));
    assert_int_equal(der_extent(file, n), sizeof(odf));
    free(file);

    /* TokenInfo. */
    static const uint8_t tokeninfo[] = {
        0x30, 0x25, 0x02, 0x01, 0x00, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x92,
        0x0C, 0x06, 'B',  'i',  't',  '4',  'i',  'd',  0x80, 0x0A, 'V',  'G',  'C',  'A',  ' ',
        'T',  'o',  'k',  'e',  'n',  0x03, 0x02, 0x06, 0xC0,
    };
    n = read_ef(f, 0x5032, &file);
    assert_int_equal(der_extent(file, n), sizeof(tokeninfo));
    assert_memory_equal(file, tokeninfo, sizeof(tokeninfo));
    free(file);

    /* AODF: the user PIN, reference 1 (local), UTF-8, 4..16, stored 8, FF. */
    static const uint8_t aodf[] = {
        0x30, 0x2F, 0x30, 0x0E, 0x0C, 0x08, 'U',  's',  'e',  'r',  ' ',  'P',  'I',  'N',  0x03, 0x02,
        0x06, 0x40, 0x30, 0x03, 0x04, 0x01, 0x01, 0xA1, 0x18, 0x30, 0x16, 0x03, 0x02, 0x02, 0xCC, 0x0A,
        0x01, 0x02, 0x02, 0x01, 0x04, 0x02, 0x01, 0x08, 0x02, 0x01, 0x10, 0x80, 0x01, 0x01, 0x04, 0x01, 0xFF,
    };
    n = read_ef(f, 0x7001, &file);
    assert_int_equal(der_extent(file, n), sizeof(aodf));
    assert_memory_equal(file, aodf, sizeof(aodf));
    free(file);

    /* PrKDF: iD = the certificate's subject key identifier. */
    X509 *x = load_cert(SIGN2048 ".pem");
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
    assert_non_null(ski);
    n = read_ef(f, 0x7002, &file);
    der_extent(file, n);
    struct tlv key = nth(file, n, 0);
    assert_int_equal(key.tag, 0x30);
    struct tlv coa = nth(key.value, key.len, 0), cka = nth(key.value, key.len, 1), a1 = nth(key.value, key.len, 2);
    assert_int_equal(child(coa.value, coa.len, 0x04).value[0], 0x01); /* authId */
    struct tlv id = child(cka.value, cka.len, 0x04);
    assert_int_equal(id.len, (size_t)ASN1_STRING_length(ski));
    assert_memory_equal(id.value, ASN1_STRING_get0_data(ski), id.len);
    static const uint8_t cka_tail[] = { 0x03, 0x03, 0x06, 0x20, 0x40, 0x01, 0x01, 0xFF,
                                        0x03, 0x02, 0x04, 0xB0, 0x02, 0x02, 0x00, 0x81 };
    assert_int_equal(cka.len, 2 + id.len + sizeof(cka_tail));
    assert_memory_equal(cka.value + 2 + id.len, cka_tail, sizeof(cka_tail));
    assert_int_equal(a1.tag, 0xA1);
    static const uint8_t rsa_attrs[] = { 0x30, 0x0C, 0x30, 0x06, 0x04, 0x04, 0x3F, 0x00,
                                         0xDF, 0x81, 0x02, 0x02, 0x08, 0x00 };
    assert_int_equal(a1.len, sizeof(rsa_attrs));
    assert_memory_equal(a1.value, rsa_attrs, sizeof(rsa_attrs));
    uint8_t key_id[20];
    memcpy(key_id, id.value, 20);
    free(file);
    X509_free(x);

    /* CDF: signer (0003, the key's iD), issuing CA (0002) and root (0001),
     * the CAs flagged as authorities. */
    n = read_ef(f, 0x7005, &file);
    der_extent(file, n);
    static const uint16_t paths[] = { 0x0003, 0x0002, 0x0001 };
    for (size_t i = 0; i < 3; i++) {
        struct tlv c = nth(file, n, i);
        assert_int_equal(c.tag, 0x30);
        struct tlv label = child(nth(c.value, c.len, 0).value, nth(c.value, c.len, 0).len, 0x0C);
        assert_true(label.len > 0);
        struct tlv cca = nth(c.value, c.len, 1);
        struct tlv cid = child(cca.value, cca.len, 0x04);
        struct tlv auth;
        bool authority = tlv_find(cca.value, cca.len, 0x01, &auth) == TLV_OK;
        assert_int_equal(authority, i > 0);
        if (i == 0) {
            assert_int_equal(cid.len, 20);
            assert_memory_equal(cid.value, key_id, 20);
            assert_int_equal(label.len, strlen("Nguyễn Văn An"));
            assert_memory_equal(label.value, "Nguyễn Văn An", label.len);
        } else {
            assert_int_equal(auth.len, 1);
            assert_int_equal(auth.value[0], 0xFF);
        }
        struct tlv attrs = nth(c.value, c.len, 2);
        uint8_t path[] = { 0x30, 0x06, 0x30, 0x04, 0x04, 0x02, 0x00, (uint8_t)paths[i] };
        assert_int_equal(attrs.tag, 0xA1);
        assert_int_equal(attrs.len, sizeof(path));
        assert_memory_equal(attrs.value, path, sizeof(path));
    }
    struct tlv none;
    const uint8_t *rest = file;
    size_t left = der_extent(file, n);
    for (int i = 0; i < 3; i++)
        tlv_next(&rest, &left, &none);
    assert_int_equal(left, 0);
    free(file);
}

static void test_chipdoc_pin_rules(void **st)
{
    struct fixture *f = *st;

    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_TRIES_LEFT(3));
    assert_int_equal(send(f, 0x20, 0x00, 0x81, NULL, 0, -1), SW_TRIES_LEFT(3));
    /* Wrong references and parameters cost nothing. */
    assert_int_equal(verify(f, 0x02, "12345678"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(verify(f, 0x80, "12345678"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(verify(f, 0x03, "12345678"), SW_REF_DATA_NOT_FOUND);
    uint8_t p[8];
    pad8("12345678", p);
    assert_int_equal(send(f, 0x20, 0x01, 0x01, p, 8, -1), SW_INCORRECT_P1P2);
    assert_int_equal(send(f, 0x20, 0xFF, 0x01, NULL, 0, -1), SW_INCORRECT_P1P2);
    /* Right PIN under both references; an empty VERIFY then says 9000. */
    assert_int_equal(verify(f, 0x01, "12345678"), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_OK);
    assert_int_equal(verify(f, 0x81, "12345678"), SW_OK);
    assert_int_equal(f->card.dirty, false);

    /* Change to a 4-digit PIN, then the padding rules. */
    assert_int_equal(two_secrets(f, 0x24, 0x01, "12345678", "2468"), SW_OK);
    assert_int_equal(f->card.dirty, true);
    assert_int_equal(verify(f, 0x01, "12345678"), SW_TRIES_LEFT(2));
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_TRIES_LEFT(2)); /* wrong PIN: no longer verified */
    assert_int_equal(verify(f, 0x01, "2468"), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_OK);
    /* Not padded: 6700, no try spent, nothing changed. */
    assert_int_equal(send(f, 0x20, 0x00, 0x01, (const uint8_t *)"2468", 4, -1), SW_WRONG_LENGTH);
    uint8_t nine[9] = { '2', '4', '6', '8', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    assert_int_equal(send(f, 0x20, 0x00, 0x01, nine, 9, -1), SW_WRONG_LENGTH);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_OK);
    /* Padded with 00 instead of FF: a wrong PIN. */
    uint8_t zero_padded[8] = { '2', '4', '6', '8', 0, 0, 0, 0 };
    assert_int_equal(send(f, 0x20, 0x00, 0x01, zero_padded, 8, -1), SW_TRIES_LEFT(2));
    assert_int_equal(verify(f, 0x01, "2468"), SW_OK);
    /* A new PIN must be 4..8 bytes with clean FF padding. */
    assert_int_equal(two_secrets(f, 0x24, 0x01, "2468", "123"), SW_WRONG_DATA);
    uint8_t bad_new[16];
    pad8("2468", bad_new);
    memcpy(bad_new + 8, "1234\xFF\x00\xFF\xFF", 8);
    assert_int_equal(send(f, 0x24, 0x00, 0x01, bad_new, 16, -1), SW_WRONG_DATA);
    assert_int_equal(send(f, 0x24, 0x00, 0x01, bad_new, 8, -1), SW_WRONG_LENGTH);
    assert_int_equal(two_secrets(f, 0x24, 0x02, "2468", "1357"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_OK);

    /* Three wrong PINs: 63C2, 63C1, then blocked. */
    assert_int_equal(verify(f, 0x01, "0000"), SW_TRIES_LEFT(2));
    assert_int_equal(verify(f, 0x81, "1111"), SW_TRIES_LEFT(1));
    assert_int_equal(verify(f, 0x01, "2222"), SW_AUTH_BLOCKED);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_AUTH_BLOCKED);
    assert_int_equal(verify(f, 0x01, "2468"), SW_AUTH_BLOCKED);
    assert_int_equal(two_secrets(f, 0x24, 0x01, "2468", "1357"), SW_AUTH_BLOCKED);

    /* The PUK unblocks with a new PIN: 00 2C 00 01 10 <PUK><new PIN>. */
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "11111111", "1357"), SW_TRIES_LEFT(2));
    assert_int_equal(send(f, 0x2C, 0x01, 0x01, NULL, 0, -1), SW_INCORRECT_P1P2);
    assert_int_equal(two_secrets(f, 0x2C, 0x02, "87654321", "1357"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "87654321", "13"), SW_WRONG_DATA);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_AUTH_BLOCKED);
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "87654321", "1357"), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_TRIES_LEFT(3));
    assert_int_equal(verify(f, 0x01, "2468"), SW_TRIES_LEFT(2));
    assert_int_equal(verify(f, 0x01, "1357"), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_OK);
    /* The PUK has no reference of its own on this variant. */
    assert_int_equal(send(f, 0x20, 0x00, 0x02, NULL, 0, -1), SW_REF_DATA_NOT_FOUND);

    /* Wrong PUKs block the PUK (its successful use above restored it). */
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "00000000", "9999"), SW_TRIES_LEFT(2));
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "00000000", "9999"), SW_TRIES_LEFT(1));
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "00000000", "9999"), SW_AUTH_BLOCKED);
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "87654321", "9999"), SW_AUTH_BLOCKED);
    assert_int_equal(verify(f, 0x01, "1357"), SW_OK);

    struct vgca_state *s = f->card.state;
    assert_int_equal(s->pin_left, 3);
    assert_int_equal(s->puk_left, 0);
    /* Reset forgets the verified PIN. */
    vt_card_power_on(&f->card);
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x01, NULL, 0, -1), SW_TRIES_LEFT(3));
}

static void test_chipdoc_sign(void **st)
{
    struct fixture *f = *st;
    uint8_t di[19 + 64], hash[64];
    size_t hlen, dlen = digest_info(EVP_sha256(), "kyso", di, hash, &hlen);

    assert_int_equal(select_app(f), SW_OK);
    /* No MSE yet. */
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_WRONG_DATA);
    /* MSE right, PIN not verified. */
    assert_int_equal(mse(f, 0x8A, 0x81), SW_OK);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_SECURITY_NOT_SATISFIED);
    assert_int_equal(verify(f, 0x01, "12345678"), SW_OK);

    /* The card answers 9000 to any MSE and fails at PSO. */
    const struct { uint8_t p1, p2; uint8_t data[8]; size_t len; } bad[] = {
        { 0x41, 0xB6, { 0x80, 0x01, 0x02, 0x84, 0x01, 0x81 }, 6 },  /* another algorithm */
        { 0x41, 0xB6, { 0x80, 0x01, 0x8A, 0x84, 0x01, 0x01 }, 6 },  /* another key */
        { 0x41, 0xB6, { 0x80, 0x01, 0x8A, 0x84, 0x01, 0x10 }, 6 },  /* variant A's key */
        { 0x41, 0xB6, { 0x80, 0x01, 0x8A }, 3 },                    /* no key */
        { 0x41, 0xB6, { 0x84, 0x01, 0x81 }, 3 },                    /* no algorithm */
        { 0x41, 0xB6, { 0x80, 0x02, 0x8A, 0x00, 0x84, 0x01, 0x81 }, 7 },
        { 0x41, 0xB6, { 0x80, 0x01, 0x8A, 0x84, 0x05, 0x81 }, 6 },  /* malformed */
        { 0x41, 0xA4, { 0x80, 0x01, 0x8A, 0x84, 0x01, 0x81 }, 6 },  /* authentication template */
        { 0x81, 0xB6, { 0x80, 0x01, 0x8A, 0x84, 0x01, 0x81 }, 6 },  /* for verification */
        { 0xF3, 0x01, { 0 }, 0 },                                   /* RESTORE */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mse(f, 0x8A, 0x81), SW_OK);
        assert_int_equal(send(f, 0x22, bad[i].p1, bad[i].p2, bad[i].data, bad[i].len, -1), SW_OK);
        assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_WRONG_DATA);
    }
    assert_int_equal(f->card.stats.signatures, 0);

    /* The measured sequence: SHA-256, then SHA-1, with one MSE. */
    static const uint8_t mse_measured[] = { 0x00, 0x22, 0x41, 0xB6, 0x06, 0x80, 0x01, 0x8A, 0x84, 0x01, 0x81 };
    assert_int_equal(send_raw(f, mse_measured, sizeof(mse_measured)), SW_OK);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_OK);
    assert_int_equal(f->resp_len, 256);
    assert_true(signature_ok(SIGN2048 ".pem", EVP_sha256(), hash, hlen, f->resp, 256));
    f->resp[100] ^= 1;
    assert_false(signature_ok(SIGN2048 ".pem", EVP_sha256(), hash, hlen, f->resp, 256));
    dlen = digest_info(EVP_sha1(), "kyso sha1", di, hash, &hlen);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_OK);
    assert_int_equal(f->resp_len, 256);
    assert_true(signature_ok(SIGN2048 ".pem", EVP_sha1(), hash, hlen, f->resp, 256));
    assert_false(signature_ok(SIGN3072 ".pem", EVP_sha1(), hash, hlen, f->resp, 256));
    assert_int_equal(f->card.stats.signatures, 2);

    /* Not a DigestInfo: a raw hash, a truncated one, MD5, trailing data. */
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, hash, 32, 0), SW_WRONG_DATA);
    dlen = digest_info(EVP_sha256(), "kyso", di, hash, &hlen);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen - 1, 0), SW_WRONG_DATA);
    di[dlen] = 0;
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen + 1, 0), SW_WRONG_DATA);
    uint8_t md5[sizeof(md5_prefix) + 16] = { 0 };
    memcpy(md5, md5_prefix, sizeof(md5_prefix));
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, md5, sizeof(md5), 0), SW_WRONG_DATA);
    uint8_t wrong_len[sizeof(sha256_prefix) + 32];
    memcpy(wrong_len, sha256_prefix, sizeof(sha256_prefix));
    wrong_len[sizeof(sha256_prefix) - 1] = 0x1F; /* OCTET STRING length lies */
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, wrong_len, sizeof(wrong_len), 0), SW_WRONG_DATA);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, NULL, 0, 0), SW_WRONG_DATA);
    assert_int_equal(f->card.stats.signatures, 2);

    /* Not measured: PSO DECIPHER and others, other instructions, CLA. */
    uint8_t block[255] = { 0 };
    assert_int_equal(send(f, 0x2A, 0x80, 0x86, block, 255, 0), SW_INS_NOT_SUPPORTED);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9B, di, dlen, 0), SW_INS_NOT_SUPPORTED);
    assert_int_equal(send(f, 0x84, 0x00, 0x00, NULL, 0, 8), SW_INS_NOT_SUPPORTED);
    assert_int_equal(send(f, 0x88, 0x00, 0x00, di, dlen, 0), SW_INS_NOT_SUPPORTED);
    assert_int_equal(send(f, 0xCA, 0x01, 0x00, NULL, 0, 0), SW_INS_NOT_SUPPORTED);
    assert_int_equal(send(f, 0xD6, 0x00, 0x00, di, 4, -1), SW_INS_NOT_SUPPORTED);
    static const uint8_t cla80[] = { 0x80, 0xB0, 0x00, 0x00, 0x00 };
    assert_int_equal(send_raw(f, cla80, sizeof(cla80)), SW_CLA_NOT_SUPPORTED);

    /* Selecting the application again forgets the MSE, not the PIN. */
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_WRONG_DATA);
    assert_int_equal(send_raw(f, mse_measured, sizeof(mse_measured)), SW_OK);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_OK);
    /* Reset forgets both. */
    vt_card_power_on(&f->card);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_CONDITIONS_NOT_SATISFIED);
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(send_raw(f, mse_measured, sizeof(mse_measured)), SW_OK);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_SECURITY_NOT_SATISFIED);
    assert_int_equal(f->card.stats.signatures, 3);
}

/* Re-encodes a state body, dropping elements with tag `drop`, and
 * appending `extra` (raw) at the end. */
static void rewrite_body(const uint8_t *body, size_t len, uint32_t drop, const uint8_t *extra, size_t extra_len,
                         struct tlv_builder *out)
{
    struct tlv t;
    tlv_builder_init(out);
    while (tlv_next(&body, &len, &t) == TLV_OK)
        if (t.tag != drop)
            tlv_add(out, t.tag, t.value, t.len);
    tlv_add_raw(out, extra, extra_len);
    assert_int_equal(tlv_builder_error(out), 0);
}

static void expect_load_fails(const struct vt_personality *pers, const uint8_t *body, size_t len)
{
    void *state = NULL;
    char err[256] = "";
    assert_int_equal(pers->load(body, len, &state, err, sizeof(err)), -1);
    assert_null(state);
    assert_true(err[0] != '\0');
}

static void state_round_trip(struct fixture *f)
{
    char path[] = "/tmp/kyso-vgca-state.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256] = "";
    const struct vt_personality *pers = NULL;
    void *loaded = NULL;
    const struct vgca_state *a = f->card.state;

    assert_int_equal(vt_state_save(path, f->pers, a, err, sizeof(err)), 0);
    assert_int_equal(vt_state_load(path, &pers, &loaded, err, sizeof(err)), 0);
    assert_ptr_equal(pers, f->pers);
    const struct vgca_state *b = loaded;
    assert_memory_equal(a->pin, b->pin, 8);
    assert_memory_equal(a->puk, b->puk, 8);
    assert_int_equal(a->pin_left, b->pin_left);
    assert_int_equal(a->puk_left, b->puk_left);
    assert_memory_equal(a->serial, b->serial, 8);
    assert_int_equal(EVP_PKEY_eq(a->key, b->key), 1);
    assert_int_equal(a->nfiles, b->nfiles);
    for (size_t i = 0; i < a->nfiles; i++) {
        assert_int_equal(a->files[i].fid, b->files[i].fid);
        assert_int_equal(a->files[i].size, b->files[i].size);
        assert_memory_equal(a->files[i].data, b->files[i].data, a->files[i].size);
    }
    char text[4096];
    pers->describe(loaded, text, sizeof(text));
    assert_non_null(strstr(text, "PIN tries 2/3, PUK tries 1/3"));
    pers->free_state(loaded);

    /* Damage anywhere is refused by the checksum. */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 40, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, 40, SEEK_SET);
    fputc(c ^ 0x01, fp);
    fclose(fp);
    loaded = NULL;
    assert_int_equal(vt_state_load(path, &pers, &loaded, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "damaged"));
    unlink(path);

    /* A body that passes the checksum is still checked element by element. */
    struct tlv_builder body, bad;
    tlv_builder_init(&body);
    f->pers->save(a, &body);
    assert_int_equal(tlv_builder_error(&body), 0);
    void *ok_state = NULL;
    assert_int_equal(f->pers->load(body.data, body.len, &ok_state, err, sizeof(err)), 0);
    f->pers->free_state(ok_state);
    for (uint32_t tag = 0x80; tag <= 0x85; tag++) { /* every required element */
        rewrite_body(body.data, body.len, tag, NULL, 0, &bad);
        expect_load_fails(f->pers, bad.data, bad.len);
        tlv_builder_free(&bad);
    }
    static const uint8_t unknown[] = { 0x99, 0x01, 0x00 };
    static const uint8_t repeated_pin[] = { 0x80, 0x08, '1', '2', '3', '4', 0xFF, 0xFF, 0xFF, 0xFF };
    static const uint8_t bad_counters[] = { 0x82, 0x04, 0x03, 0x04, 0x03, 0x03 };
    static const uint8_t short_serial[] = { 0x83, 0x02, 0x00, 0x01 };
    static const uint8_t garbage[] = { 0x84, 0x05, 0x01, 0x02 };
    const struct { const uint8_t *p; size_t len; uint32_t drop; } cases[] = {
        { unknown, sizeof(unknown), 0 },
        { repeated_pin, sizeof(repeated_pin), 0 },
        { bad_counters, sizeof(bad_counters), 0x82 },
        { short_serial, sizeof(short_serial), 0x83 },
        { garbage, sizeof(garbage), 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rewrite_body(body.data, body.len, cases[i].drop, cases[i].p, cases[i].len, &bad);
        expect_load_fails(f->pers, bad.data, bad.len);
        tlv_builder_free(&bad);
    }
    /* A PIN that is not a padded 4..8-byte PIN. */
    static const uint8_t short_pin[] = { 0x80, 0x08, '1', '2', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    rewrite_body(body.data, body.len, 0x80, short_pin, sizeof(short_pin), &bad);
    expect_load_fails(f->pers, bad.data, bad.len);
    tlv_builder_free(&bad);
    /* Another key than the certificate's. */
    EVP_PKEY *other = EVP_RSA_gen(f->pers == &vt_personality_vgca_chipdoc ? 2048 : 3072);
    assert_non_null(other);
    unsigned char *der = NULL;
    int dlen = i2d_PrivateKey(other, &der);
    struct tlv_builder k;
    tlv_builder_init(&k);
    tlv_add(&k, 0x84, der, (size_t)dlen);
    rewrite_body(body.data, body.len, 0x84, k.data, k.len, &bad);
    expect_load_fails(f->pers, bad.data, bad.len);
    tlv_builder_free(&bad);
    tlv_builder_free(&k);
    OPENSSL_clear_free(der, (size_t)dlen);
    EVP_PKEY_free(other);
    /* The other variant's body. */
    const struct vt_personality *twin =
        f->pers == &vt_personality_vgca_chipdoc ? &vt_personality_vgca_jcop : &vt_personality_vgca_chipdoc;
    expect_load_fails(twin, body.data, body.len);
    tlv_builder_free(&body);
}

static void test_chipdoc_state_round_trip(void **st)
{
    struct fixture *f = *st;
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(verify(f, 0x01, "00000000"), SW_TRIES_LEFT(2));
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "00000000", "1234"), SW_TRIES_LEFT(2));
    assert_int_equal(two_secrets(f, 0x2C, 0x01, "00000000", "1234"), SW_TRIES_LEFT(1));
    state_round_trip(f);
    /* CA certificates: more than two are refused too. */
    struct vgca_state *s = f->card.state;
    assert_int_equal(s->nca, 2);
    struct tlv_builder body, bad;
    tlv_builder_init(&body);
    f->pers->save(s, &body);
    struct tlv_builder ca;
    tlv_builder_init(&ca);
    tlv_add(&ca, 0x86, s->ca[0], s->ca_len[0]);
    rewrite_body(body.data, body.len, 0, ca.data, ca.len, &bad);
    expect_load_fails(f->pers, bad.data, bad.len);
    tlv_builder_free(&bad);
    /* A leaf as a CA. */
    tlv_builder_free(&ca);
    tlv_builder_init(&ca);
    tlv_add(&ca, 0x86, s->cert, s->cert_len);
    rewrite_body(body.data, body.len, 0x86, ca.data, ca.len, &bad);
    expect_load_fails(f->pers, bad.data, bad.len);
    tlv_builder_free(&bad);
    tlv_builder_free(&ca);
    tlv_builder_free(&body);
}

static void expect_init_fails(const struct vt_personality *pers, const struct vt_init_options *opt, const char *why)
{
    void *state = NULL;
    char err[256] = "";
    assert_int_equal(pers->init(opt, &state, err, sizeof(err)), -1);
    assert_null(state);
    if (!strstr(err, why))
        fail_msg("init error '%s' lacks '%s'", err, why);
}

static void test_init_refusals(void **st)
{
    (void)st;
    struct vt_init_options opt;
    const struct vt_personality *cd = &vt_personality_vgca_chipdoc, *jc = &vt_personality_vgca_jcop;

    init_options(cd, &opt);
    opt.keys[0].slot = 0x9C;
    expect_init_fails(cd, &opt, "exactly one --key 81");
    init_options(cd, &opt);
    opt.keys[0].cert_file = NULL;
    expect_init_fails(cd, &opt, "exactly one --key 81");
    init_options(cd, &opt);
    opt.keys[1] = opt.keys[0];
    opt.nkeys = 2;
    expect_init_fails(cd, &opt, "exactly one");
    init_options(cd, &opt);
    opt.keys[0] = (struct vt_key_spec){ 0x81, SIGN3072 ".key.pem", SIGN3072 ".pem" };
    expect_init_fails(cd, &opt, "RSA-2048");
    init_options(cd, &opt);
    opt.keys[0] = (struct vt_key_spec){ 0x81, PKI "person-an-sign-p256.key.pem", PKI "person-an-sign-p256.pem" };
    expect_init_fails(cd, &opt, "RSA-2048");
    init_options(cd, &opt);
    opt.keys[0].cert_file = PKI "person-binh-sign-rsa2048.pem";
    expect_init_fails(cd, &opt, "not the key's");
    init_options(cd, &opt);
    opt.ca_certs[2] = PKI "root-ca.pem";
    opt.nca_certs = 3;
    expect_init_fails(cd, &opt, "at most 2");
    init_options(cd, &opt);
    opt.ca_certs[0] = SIGN2048 ".pem";
    expect_init_fails(cd, &opt, "not a CA");
    init_options(cd, &opt);
    opt.pin = "123";
    expect_init_fails(cd, &opt, "4 to 8");
    init_options(cd, &opt);
    opt.puk = "123456789";
    expect_init_fails(cd, &opt, "4 to 8");
    init_options(cd, &opt);
    opt.mgm_key_hex = "010203040506070801020304050607080102030405060708";
    expect_init_fails(cd, &opt, "management key");
    init_options(cd, &opt);
    opt.keys[0].key_file = PKI "does-not-exist.key.pem";
    expect_init_fails(cd, &opt, "cannot open");

    init_options(jc, &opt);
    opt.ca_certs[0] = PKI "issuing-ca.pem";
    opt.nca_certs = 1;
    expect_init_fails(jc, &opt, "no CA");
    init_options(jc, &opt);
    opt.keys[0].slot = 0x81;
    expect_init_fails(jc, &opt, "--key 10");
    init_options(jc, &opt);
    opt.keys[0] = (struct vt_key_spec){ 0x10, SIGN2048 ".key.pem", SIGN2048 ".pem" };
    expect_init_fails(jc, &opt, "RSA-3072");

    /* Accepted: a UTF-8 PIN of 4 bytes (2 characters), defaults, random serials. */
    init_options(cd, &opt);
    opt.pin = "\xC4\x91\xC3\xA2"; /* "đâ" */
    opt.serial = 0;
    void *s1 = NULL, *s2 = NULL;
    char err[256];
    assert_int_equal(cd->init(&opt, &s1, err, sizeof(err)), 0);
    assert_int_equal(cd->init(&opt, &s2, err, sizeof(err)), 0);
    assert_memory_not_equal(((struct vgca_state *)s1)->serial, ((struct vgca_state *)s2)->serial, 8);
    uint8_t p[8];
    pad8("87654321", p);
    assert_memory_equal(((struct vgca_state *)s1)->puk, p, 8);
    cd->free_state(s1);
    cd->free_state(s2);
    init_options(cd, &opt);
    opt.pin = "\xC4\x91\xC3"; /* not UTF-8 */
    expect_init_fails(cd, &opt, "4 to 8");
}

/* ================= variant A: vgca-jcop ================= */

static void test_jcop_selection(void **st)
{
    struct fixture *f = *st;
    uint8_t *file;

    /* EF.DIR in the MF, both SELECT forms. */
    static const uint8_t dir_fid[] = { 0x2F, 0x00 };
    assert_int_equal(send(f, 0xA4, 0x00, 0x0C, dir_fid, 2, -1), SW_OK);
    assert_int_equal(f->resp_len, 0);
    size_t n = read_ef(f, 0x2F00, &file);
    static const uint8_t dir[] = { 0x61, 0x19, 0x4F, 0x0A, 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x01, 0x4E, 0x58, 0x50, 0x30,
                                   0x50, 0x0B, 'J',  'C',  'O',  'P',  '4',  'B',  'i',  't',  '4',  'I',  'd' };
    assert_int_equal(n, 128);
    assert_memory_equal(file, dir, sizeof(dir));
    assert_int_equal(der_extent(file, n), sizeof(dir));
    free(file);
    /* The PKCS#15 files are in the application only. */
    assert_int_equal(select_ef(f, 0x5031), SW_FILE_NOT_FOUND);
    assert_int_equal(verify(f, 0x03, "12345678"), SW_CONDITIONS_NOT_SATISFIED);
    /* Standard AIDs (and variant B's) are not there. */
    const struct { const uint8_t *aid; size_t len; } others[] = {
        { pkcs15_aid, sizeof(pkcs15_aid) }, { iasecc_aid, sizeof(iasecc_aid) }, { iasecc_aid7, sizeof(iasecc_aid7) },
        { piv_aid, sizeof(piv_aid) },       { cardos_aid, sizeof(cardos_aid) }, { chipdoc_aid, sizeof(chipdoc_aid) },
        { jcop_aid, 9 },
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_int_equal(send(f, 0xA4, 0x04, 0x0C, others[i].aid, others[i].len, -1), SW_FILE_NOT_FOUND);
    assert_int_equal(send(f, 0xA4, 0x04, 0x00, jcop_aid, sizeof(jcop_aid), 0), SW_OK);
    assert_int_equal(f->resp[0], 0x6F);
    assert_int_equal(f->resp[3], sizeof(jcop_aid));
    assert_memory_equal(f->resp + 4, jcop_aid, sizeof(jcop_aid));
    static const uint16_t present[] = { 0x5031, 0x5032, 0x7001, 0x7002, 0x7004, 0x7005, 0x7006, 0x0001, 0x7010 };
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
        assert_int_equal(select_ef(f, present[i]), SW_OK);
    static const uint16_t absent[] = { 0x2F00, 0x0002, 0x0003, 0xDF10, 0x3F00 };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_int_equal(select_ef(f, absent[i]), SW_FILE_NOT_FOUND);
    /* SELECT 3F00 (P1=00) goes back to the MF. */
    static const uint8_t mf[] = { 0x3F, 0x00 };
    assert_int_equal(send(f, 0xA4, 0x00, 0x0C, mf, 2, -1), SW_OK);
    assert_int_equal(select_ef(f, 0x5031), SW_FILE_NOT_FOUND);
    assert_int_equal(select_ef(f, 0x2F00), SW_OK);
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(select_ef(f, 0x5031), SW_OK);
}

static void test_jcop_pkcs15_files(void **st)
{
    struct fixture *f = *st;
    uint8_t *file;
    size_t n;

    assert_int_equal(select_app(f), SW_OK);
    static const uint8_t odf[] = { 0xA0, 0x06, 0x30, 0x04, 0x04, 0x02, 0x70, 0x02, 0xA1, 0x06, 0x30, 0x04,
                                   0x04, 0x02, 0x70, 0x04, 0xA4, 0x06, 0x30, 0x04, 0x04, 0x02, 0x70, 0x05,
                                   0xA7, 0x06, 0x30, 0x04, 0x04, 0x02, 0x70, 0x06, 0xA8, 0x06, 0x30, 0x04,
                                   0x04, 0x02, 0x70, 0x01 };
    n = read_ef(f, 0x5031, &file);
    assert_int_equal(der_extent(file, n), sizeof(odf));
    assert_memory_equal(file, odf, sizeof(odf));
    free(file);

    n = read_ef(f, 0x5032, &file);
    der_extent(file, n);
    struct tlv ti = nth(file, n, 0);
    assert_int_equal(ti.tag, 0x30);
    struct tlv manuf = child(ti.value, ti.len, 0x0C), label = child(ti.value, ti.len, 0x80);
    assert_int_equal(manuf.len, 13);
    assert_memory_equal(manuf.value, "NXP SecID-P71", 13);
    assert_int_equal(label.len, 10);
    assert_memory_equal(label.value, "VGCA Token", 10);
    struct tlv serial = child(ti.value, ti.len, 0x04);
    static const uint8_t serial4242[] = { 0, 0, 0, 0, 0, 0, 0x10, 0x92 };
    assert_int_equal(serial.len, 8);
    assert_memory_equal(serial.value, serial4242, 8);
    free(file);

    /* AODF: user PIN (reference 3, unblocked by authId 2) and the PUK (6). */
    n = read_ef(f, 0x7001, &file);
    der_extent(file, n);
    for (size_t i = 0; i < 2; i++) {
        struct tlv obj = nth(file, n, i);
        struct tlv a1 = nth(obj.value, obj.len, 2);
        struct tlv attrs = child(a1.value, a1.len, 0x30);
        struct tlv ref = child(attrs.value, attrs.len, 0x80);
        struct tlv flags = child(attrs.value, attrs.len, 0x03);
        assert_int_equal(ref.len, 1);
        assert_int_equal(ref.value[0], i == 0 ? 0x03 : 0x06);
        static const uint8_t pin_flags[] = { 0x02, 0x8C }, puk_flags[] = { 0x01, 0x8E };
        assert_memory_equal(flags.value, i == 0 ? pin_flags : puk_flags, 2);
        struct tlv pad = child(attrs.value, attrs.len, 0x04);
        assert_int_equal(pad.value[0], 0xFF);
    }
    free(file);

    /* PrKDF: iD BE72ECF5, reference 10, path 3F00DF10, 3072 bits. */
    n = read_ef(f, 0x7002, &file);
    der_extent(file, n);
    struct tlv key = nth(file, n, 0);
    struct tlv cka = nth(key.value, key.len, 1), a1 = nth(key.value, key.len, 2);
    static const uint8_t cka_expected[] = { 0x04, 0x04, 0xBE, 0x72, 0xEC, 0xF5, 0x03, 0x03, 0x06, 0x20, 0x40,
                                            0x01, 0x01, 0xFF, 0x03, 0x02, 0x04, 0xB0, 0x02, 0x01, 0x10 };
    assert_int_equal(cka.len, sizeof(cka_expected));
    assert_memory_equal(cka.value, cka_expected, sizeof(cka_expected));
    static const uint8_t rsa_attrs[] = { 0x30, 0x0C, 0x30, 0x06, 0x04, 0x04, 0x3F, 0x00,
                                         0xDF, 0x10, 0x02, 0x02, 0x0C, 0x00 };
    assert_int_equal(a1.len, sizeof(rsa_attrs));
    assert_memory_equal(a1.value, rsa_attrs, sizeof(rsa_attrs));
    free(file);

    /* PuKDF: the same iD, the public key as a direct value, equal to the
     * certificate's: what a module matches with its certificate store. */
    n = read_ef(f, 0x7004, &file);
    der_extent(file, n);
    struct tlv pub = nth(file, n, 0);
    struct tlv pcka = nth(pub.value, pub.len, 1), pa1 = nth(pub.value, pub.len, 2);
    struct tlv pid = child(pcka.value, pcka.len, 0x04);
    assert_int_equal(pid.len, 4);
    assert_memory_equal(pid.value, cka_expected + 2, 4);
    struct tlv pattrs = child(pa1.value, pa1.len, 0x30);
    struct tlv direct = child(pattrs.value, pattrs.len, 0xA0);
    struct tlv bits = child(pattrs.value, pattrs.len, 0x02);
    assert_int_equal(bits.len, 2);
    assert_int_equal(bits.value[0] << 8 | bits.value[1], 3072);
    const unsigned char *p = direct.value;
    EVP_PKEY *onc = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)direct.len);
    assert_non_null(onc);
    assert_ptr_equal(p, direct.value + direct.len);
    X509 *x = load_cert(SIGN3072 ".pem");
    assert_int_equal(EVP_PKEY_eq(onc, X509_get0_pubkey(x)), 1);
    EVP_PKEY_free(onc);
    free(file);

    /* CDF → EF 0001, same iD. */
    n = read_ef(f, 0x7005, &file);
    der_extent(file, n);
    struct tlv cert = nth(file, n, 0);
    struct tlv cca = nth(cert.value, cert.len, 1), ca1 = nth(cert.value, cert.len, 2);
    static const uint8_t cca_expected[] = { 0x04, 0x04, 0xBE, 0x72, 0xEC, 0xF5 };
    assert_int_equal(cca.len, sizeof(cca_expected));
    assert_memory_equal(cca.value, cca_expected, sizeof(cca_expected));
    static const uint8_t path0001[] = { 0x30, 0x06, 0x30, 0x04, 0x04, 0x02, 0x00, 0x01 };
    assert_int_equal(ca1.len, sizeof(path0001));
    assert_memory_equal(ca1.value, path0001, sizeof(path0001));
    free(file);

    /* DODF: one opaque object whose file can be read. */
    n = read_ef(f, 0x7006, &file);
    assert_int_equal(der_extent(file, n), nth(file, n, 0).len + 2);
    struct tlv dobj = nth(file, n, 0);
    struct tlv da1 = nth(dobj.value, dobj.len, 2);
    static const uint8_t path7010[] = { 0x30, 0x04, 0x04, 0x02, 0x70, 0x10 };
    assert_int_equal(da1.len, sizeof(path7010));
    assert_memory_equal(da1.value, path7010, sizeof(path7010));
    free(file);
    n = read_ef(f, 0x7010, &file);
    assert_memory_equal(file, "0000000000001092", 16);
    free(file);

    /* EF 0001: 7A <blob>, the blob as long as the measured ratio gives,
     * and not the certificate in any form a module could pick up. */
    uint8_t *der;
    size_t der_len = cert_der(SIGN3072 ".pem", &der);
    n = read_ef(f, 0x0001, &file);
    assert_int_equal(n % 256, 0);
    struct tlv blob = nth(file, n, 0);
    assert_int_equal(blob.tag, 0x7A);
    assert_int_equal(blob.len, vt_vgca_blob_len(der_len));
    assert_true(blob.len < der_len);
    /* 7A has the constructed bit, but its content is not TLV. */
    assert_int_equal(der_extent_as(file, n, false), (size_t)(blob.value - file) + blob.len);
    assert_memory_not_equal(blob.value, der, 16);
    for (size_t off = 0; off + 16 <= blob.len; off++)
        assert_memory_not_equal(blob.value + off, der + 4, 16); /* no run of the DER anywhere */
    assert_null(memmem(file, n, der + 100, 8));
    /* The 1787-byte certificate of TOKENS.md would give 1482. */
    assert_int_equal(vt_vgca_blob_len(1787), 1482);
    free(file);
    OPENSSL_free(der);
    X509_free(x);
}

static void test_jcop_pin_and_puk(void **st)
{
    struct fixture *f = *st;

    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x03, NULL, 0, -1), SW_TRIES_LEFT(3));
    assert_int_equal(send(f, 0x20, 0x00, 0x06, NULL, 0, -1), SW_TRIES_LEFT(3));
    /* Variant B's references are not this card's. */
    assert_int_equal(verify(f, 0x01, "12345678"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(verify(f, 0x81, "12345678"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(verify(f, 0x83, "12345678"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(send(f, 0x20, 0x00, 0x03, (const uint8_t *)"1234567", 7, -1), SW_WRONG_LENGTH);
    assert_int_equal(verify(f, 0x03, "11111111"), SW_TRIES_LEFT(2));
    assert_int_equal(verify(f, 0x03, "22222222"), SW_TRIES_LEFT(1));
    assert_int_equal(verify(f, 0x03, "33333333"), SW_AUTH_BLOCKED);
    assert_int_equal(verify(f, 0x03, "12345678"), SW_AUTH_BLOCKED);
    /* The PUK's own tries. */
    assert_int_equal(verify(f, 0x06, "00000000"), SW_TRIES_LEFT(2));
    assert_int_equal(send(f, 0x20, 0x00, 0x06, NULL, 0, -1), SW_TRIES_LEFT(2));
    assert_int_equal(verify(f, 0x06, "87654321"), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x06, NULL, 0, -1), SW_OK);
    /* RESET RETRY COUNTER 00 2C 00 03 10 <PUK><new PIN>; not on the PUK's reference. */
    assert_int_equal(two_secrets(f, 0x2C, 0x06, "87654321", "5555"), SW_REF_DATA_NOT_FOUND);
    assert_int_equal(two_secrets(f, 0x2C, 0x03, "87654320", "5555"), SW_TRIES_LEFT(2));
    assert_int_equal(two_secrets(f, 0x2C, 0x03, "87654321", "5555"), SW_OK);
    assert_int_equal(send(f, 0x20, 0x00, 0x03, NULL, 0, -1), SW_TRIES_LEFT(3));
    assert_int_equal(send(f, 0x20, 0x00, 0x06, NULL, 0, -1), SW_TRIES_LEFT(3));
    assert_int_equal(verify(f, 0x03, "5555"), SW_OK);
    /* CHANGE REFERENCE DATA on the PIN and on the PUK. */
    assert_int_equal(two_secrets(f, 0x24, 0x03, "5555", "66666666"), SW_OK);
    assert_int_equal(verify(f, 0x03, "66666666"), SW_OK);
    assert_int_equal(two_secrets(f, 0x24, 0x06, "87654321", "24682468"), SW_OK);
    assert_int_equal(two_secrets(f, 0x2C, 0x03, "87654321", "7777"), SW_TRIES_LEFT(2));
    assert_int_equal(two_secrets(f, 0x2C, 0x03, "24682468", "7777"), SW_OK);
    assert_int_equal(verify(f, 0x03, "7777"), SW_OK);
}

static void test_jcop_sign_get_response(void **st)
{
    struct fixture *f = *st;
    uint8_t di[19 + 64], hash[64], sig[384];
    size_t hlen, dlen = digest_info(EVP_sha256(), "kyso 3072", di, hash, &hlen);

    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(verify(f, 0x03, "12345678"), SW_OK);
    /* Variant B's key reference: the card takes the MSE, the PSO fails. */
    assert_int_equal(mse(f, 0x8A, 0x81), SW_OK);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_WRONG_DATA);
    assert_int_equal(mse(f, 0x8A, 0x10), SW_OK);
    /* Short Le: 256 bytes and 61 80, then GET RESPONSE. */
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), 0x6180);
    assert_int_equal(f->resp_len, 256);
    memcpy(sig, f->resp, 256);
    assert_int_equal(send(f, 0xC0, 0x00, 0x00, NULL, 0, 0x80), SW_OK);
    assert_int_equal(f->resp_len, 128);
    memcpy(sig + 256, f->resp, 128);
    assert_true(signature_ok(SIGN3072 ".pem", EVP_sha256(), hash, hlen, sig, 384));
    sig[0] ^= 0x80;
    assert_false(signature_ok(SIGN3072 ".pem", EVP_sha256(), hash, hlen, sig, 384));
    assert_int_equal(send(f, 0xC0, 0x00, 0x00, NULL, 0, 0), SW_CONDITIONS_NOT_SATISFIED);

    /* Extended Le: all 384 at once (SHA-1 this time). */
    dlen = digest_info(EVP_sha1(), "kyso 3072 sha1", di, hash, &hlen);
    uint8_t ext[7 + 64 + 2] = { 0x00, 0x2A, 0x9E, 0x9A, 0x00, 0x00, (uint8_t)dlen };
    memcpy(ext + 7, di, dlen);
    ext[7 + dlen] = 0x00, ext[8 + dlen] = 0x00;
    assert_int_equal(send_raw(f, ext, 9 + dlen), SW_OK);
    assert_int_equal(f->resp_len, 384);
    assert_true(signature_ok(SIGN3072 ".pem", EVP_sha1(), hash, hlen, f->resp, 384));
    assert_int_equal(f->card.stats.signatures, 2);

    /* A PIN blocked meanwhile: the signature is refused. */
    assert_int_equal(verify(f, 0x03, "00000000"), SW_TRIES_LEFT(2));
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_SECURITY_NOT_SATISFIED);
    /* Back in the MF: no signing there. */
    static const uint8_t mf[] = { 0x3F, 0x00 };
    assert_int_equal(send(f, 0xA4, 0x00, 0x0C, mf, 2, -1), SW_OK);
    assert_int_equal(mse(f, 0x8A, 0x10), SW_OK);
    assert_int_equal(send(f, 0x2A, 0x9E, 0x9A, di, dlen, 0), SW_CONDITIONS_NOT_SATISFIED);
    assert_int_equal(f->card.stats.signatures, 2);
}

static void test_jcop_state_round_trip(void **st)
{
    struct fixture *f = *st;
    assert_int_equal(select_app(f), SW_OK);
    assert_int_equal(verify(f, 0x03, "00000000"), SW_TRIES_LEFT(2));
    assert_int_equal(verify(f, 0x06, "00000000"), SW_TRIES_LEFT(2));
    assert_int_equal(verify(f, 0x06, "00000000"), SW_TRIES_LEFT(1));
    /* state_round_trip compares every file: the 7A content survives. */
    state_round_trip(f);
    /* Without its seed the body is refused. */
    struct tlv_builder body, bad;
    tlv_builder_init(&body);
    f->pers->save(f->card.state, &body);
    rewrite_body(body.data, body.len, 0x87, NULL, 0, &bad);
    expect_load_fails(f->pers, bad.data, bad.len);
    tlv_builder_free(&bad);
    tlv_builder_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chipdoc_selection, setup_chipdoc, teardown),
        cmocka_unit_test_setup_teardown(test_chipdoc_read_binary_chunks, setup_chipdoc, teardown),
        cmocka_unit_test_setup_teardown(test_chipdoc_pkcs15_files, setup_chipdoc, teardown),
        cmocka_unit_test_setup_teardown(test_chipdoc_pin_rules, setup_chipdoc, teardown),
        cmocka_unit_test_setup_teardown(test_chipdoc_sign, setup_chipdoc, teardown),
        cmocka_unit_test_setup_teardown(test_chipdoc_state_round_trip, setup_chipdoc, teardown),
        cmocka_unit_test(test_init_refusals),
        cmocka_unit_test_setup_teardown(test_jcop_selection, setup_jcop, teardown),
        cmocka_unit_test_setup_teardown(test_jcop_pkcs15_files, setup_jcop, teardown),
        cmocka_unit_test_setup_teardown(test_jcop_pin_and_puk, setup_jcop, teardown),
        cmocka_unit_test_setup_teardown(test_jcop_sign_get_response, setup_jcop, teardown),
        cmocka_unit_test_setup_teardown(test_jcop_state_round_trip, setup_jcop, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
