/* The bounds of struct token (pcsc/token.h) against cards that fill them:
 * for every fixed-size table or field the edges fill from a card's
 * answers, a card right at the bound and one past it.
 *
 * The cards are small fakes that answer by the command (SELECT, READ
 * BINARY, GET DATA, GET RESPONSE, VERIFY), not by the order of the
 * commands, so the tests do not depend on how many APDUs an edge spends.
 * Under --enable-sanitizers a check that is taken away shows as an ASan
 * report or as a failed expectation here. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pcsc/pkcs15.h"
#include "pcsc/tlv.h"
#include "pcsc/token.h"
#include "tests/unit/testutil.h"

#ifndef KYSO_TEST_PKI
#error "KYSO_TEST_PKI: test-vectors/pki"
#endif

static const uint8_t aid_chipdoc[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0xD2, 0x50, 0x47, 0x65, 0x6E, 0x65, 0x72, 0x69, 0x63 };
static const uint8_t aid_jcop[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x01, 0x4E, 0x58, 0x50, 0x30 };
static const uint8_t aid_piv[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
static const uint8_t some_atr[] = { 0x3B, 0x00 };

/* ---- the test PKI ---- */

static uint8_t *cert_der, *ca_der, *rsa_pub_der;
static size_t cert_len, ca_len, rsa_pub_len;

static uint8_t *load_der(const char *name, size_t *len, bool pub)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", KYSO_TEST_PKI, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    uint8_t *der = NULL;
    int n = pub ? i2d_PublicKey(X509_get0_pubkey(x), &der) : i2d_X509(x, &der);
    X509_free(x);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

static int setup_pki(void **state)
{
    cert_der = load_der("person-an-sign-rsa2048.pem", &cert_len, false);
    rsa_pub_der = load_der("person-an-sign-rsa2048.pem", &rsa_pub_len, true); /* RSAPublicKey */
    ca_der = load_der("issuing-ca.pem", &ca_len, false);
    return 0;
}

static int teardown_pki(void **state)
{
    OPENSSL_free(cert_der);
    OPENSSL_free(rsa_pub_der);
    OPENSSL_free(ca_der);
    return 0;
}

/* ---- a fake card ---- */

#define MAX_FILES 10
#define MAX_OBJECTS 32

struct fake_card {
    bool piv;
    bool jcop;                     /* vgca: variant A (found through EF.DIR), else B */
    struct {
        uint16_t fid;
        struct tlv_builder b;
    } files[MAX_FILES];
    size_t nfiles;
    int selected;
    struct {
        uint32_t tag;
        struct tlv_builder b;      /* the content of 53 */
    } objects[MAX_OBJECTS];
    size_t nobjects;
    uint8_t pending[65536 + 2];    /* an answer longer than 256 bytes, given through 61xx */
    size_t pending_len, pending_off;
    uint16_t pending_sw;
    size_t max_read_offset;
    uint32_t max_tag_asked;
    size_t verify_len;             /* data of the last VERIFY with data */
};

static struct tlv_builder *add_file(struct fake_card *c, uint16_t fid)
{
    assert_true(c->nfiles < MAX_FILES);
    c->files[c->nfiles].fid = fid;
    tlv_builder_init(&c->files[c->nfiles].b);
    return &c->files[c->nfiles++].b;
}

static struct tlv_builder *add_object(struct fake_card *c, uint32_t tag)
{
    assert_true(c->nobjects < MAX_OBJECTS);
    c->objects[c->nobjects].tag = tag;
    tlv_builder_init(&c->objects[c->nobjects].b);
    return &c->objects[c->nobjects++].b;
}

static void fake_free(struct fake_card *c)
{
    for (size_t i = 0; i < c->nfiles; i++)
        tlv_builder_free(&c->files[i].b);
    for (size_t i = 0; i < c->nobjects; i++)
        tlv_builder_free(&c->objects[i].b);
    free(c);
}

static struct fake_card *fake_new(bool piv)
{
    struct fake_card *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->piv = piv;
    c->selected = -1;
    return c;
}

/* Gives the next piece of the pending answer (at most 256 bytes). */
static int give_pending(struct fake_card *c, uint8_t *resp, size_t *resp_len)
{
    size_t left = c->pending_len - c->pending_off, n = left > 256 ? 256 : left;
    assert_true(n + 2 <= *resp_len);
    memcpy(resp, c->pending + c->pending_off, n);
    c->pending_off += n;
    left -= n;
    uint16_t sw = left ? (uint16_t)(0x6100 | (left > 255 ? 0 : left)) : c->pending_sw;
    resp[n] = (uint8_t)(sw >> 8);
    resp[n + 1] = (uint8_t)sw;
    *resp_len = n + 2;
    return PCSC_OK;
}

static int answer(struct fake_card *c, const uint8_t *data, size_t n, uint16_t sw, uint8_t *resp, size_t *resp_len)
{
    assert_true(n <= sizeof(c->pending));
    if (n)
        memcpy(c->pending, data, n);
    c->pending_len = n;
    c->pending_off = 0;
    c->pending_sw = sw;
    return give_pending(c, resp, resp_len);
}

static int sw_only(uint16_t sw, uint8_t *resp, size_t *resp_len)
{
    assert_true(*resp_len >= 2);
    resp[0] = (uint8_t)(sw >> 8);
    resp[1] = (uint8_t)sw;
    *resp_len = 2;
    return PCSC_OK;
}

static int vgca_command(struct fake_card *c, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    uint8_t ins = cmd[1], p1 = cmd[2], p2 = cmd[3];
    const uint8_t *data = len > 5 ? cmd + 5 : NULL;
    size_t lc = len > 5 ? cmd[4] : 0;

    switch (ins) {
    case 0xA4:
        if (p1 == 0x04) {
            bool ok = c->jcop ? lc == sizeof(aid_jcop) && memcmp(data, aid_jcop, lc) == 0
                              : lc == sizeof(aid_chipdoc) && memcmp(data, aid_chipdoc, lc) == 0;
            return sw_only(ok ? 0x9000 : 0x6A82, resp, resp_len);
        }
        assert_int_equal(lc, 2);
        if (p1 == 0x00) /* the MF */
            return sw_only(0x9000, resp, resp_len);
        for (size_t i = 0; i < c->nfiles; i++)
            if (c->files[i].fid == (uint16_t)(data[0] << 8 | data[1])) {
                c->selected = (int)i;
                return sw_only(0x9000, resp, resp_len);
            }
        c->selected = -1;
        return sw_only(0x6A82, resp, resp_len);
    case 0xB0: {
        /* Offsets are 15 bits: with bit 8 of P1 set this would be an SFI. */
        if (p1 & 0x80)
            fail_msg("READ BINARY with P1 %02X: an offset past 7FFF", p1);
        size_t off = (size_t)p1 << 8 | p2;
        if (off > c->max_read_offset)
            c->max_read_offset = off;
        assert_true(c->selected >= 0);
        const struct tlv_builder *f = &c->files[c->selected].b;
        if (off >= f->len)
            return sw_only(0x6B00, resp, resp_len);
        size_t n = f->len - off < 231 ? f->len - off : 231; /* the measured chunk */
        return answer(c, f->data + off, n, 0x9000, resp, resp_len);
    }
    case 0x20:
        if (lc)
            c->verify_len = lc;
        return sw_only(lc ? 0x9000 : 0x63C3, resp, resp_len);
    default:
        return sw_only(0x6D00, resp, resp_len);
    }
}

static int piv_command(struct fake_card *c, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    uint8_t ins = cmd[1];
    const uint8_t *data = len > 5 ? cmd + 5 : NULL;
    size_t lc = len > 5 ? cmd[4] : 0;

    switch (ins) {
    case 0xA4: {
        bool ok = lc >= sizeof(aid_piv) && memcmp(data, aid_piv, sizeof(aid_piv)) == 0;
        return sw_only(ok ? 0x9000 : 0x6A82, resp, resp_len);
    }
    case 0xCB: {
        assert_true(lc >= 3 && data[0] == 0x5C && data[1] == lc - 2);
        uint32_t tag = 0;
        for (size_t i = 2; i < lc; i++)
            tag = tag << 8 | data[i];
        if (tag > c->max_tag_asked)
            c->max_tag_asked = tag;
        /* Past the 20th retired certificate (5FC120) and below the next
         * objects: no such slot. */
        if (tag > 0x5FC120 && tag <= 0x5FC1FF)
            fail_msg("GET DATA %06X: a retired slot past the 20th", (unsigned)tag);
        for (size_t i = 0; i < c->nobjects; i++)
            if (c->objects[i].tag == tag) {
                struct tlv_builder out;
                tlv_builder_init(&out);
                tlv_add(&out, 0x53, c->objects[i].b.data, c->objects[i].b.len);
                assert_int_equal(tlv_builder_error(&out), 0);
                int rc = answer(c, out.data, out.len, 0x9000, resp, resp_len);
                tlv_builder_free(&out);
                return rc;
            }
        return sw_only(0x6A82, resp, resp_len);
    }
    default: /* GET VERSION and the other YubiKey extensions: a plain PIV card */
        return sw_only(0x6D00, resp, resp_len);
    }
}

static int fake_transmit(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
    struct fake_card *c = ctx;
    assert_true(len >= 4);
    if (cmd[1] == 0xC0) { /* GET RESPONSE */
        assert_true(c->pending_off < c->pending_len);
        return give_pending(c, resp, resp_len);
    }
    return c->piv ? piv_command(c, cmd, len, resp, resp_len) : vgca_command(c, cmd, len, resp, resp_len);
}

static int open_fake(struct token *t, struct fake_card *c)
{
    struct pcsc_transport tr = { .transmit = fake_transmit, .ctx = c, .protocol = PCSC_PROTOCOL_T1 };
    return token_open_transport(t, &tr, some_atr, sizeof(some_atr));
}

/* ---- PKCS#15 files ---- */

static void der_path(struct tlv_builder *b, const uint8_t *path, size_t len)
{
    size_t m = tlv_begin(b, 0x30);
    tlv_add(b, 0x04, path, len);
    tlv_end(b, m);
}

static void common_attributes(struct tlv_builder *b, const char *label, size_t label_len, bool private_)
{
    size_t m = tlv_begin(b, 0x30);
    tlv_add(b, 0x0C, label, label_len);
    if (private_) {
        tlv_add(b, 0x03, "\x07\x80", 2);
        tlv_add(b, 0x04, "\x01", 1); /* guarded by the PIN */
    }
    tlv_end(b, m);
}

struct key_spec {
    const char *label;
    size_t label_len;              /* 0: strlen(label) */
    uint8_t id[40];
    size_t id_len;
    uint8_t ref;
    const uint8_t *path;
    size_t path_len;
};

static void key_default(struct key_spec *k, size_t i)
{
    static const uint8_t path[] = { 0x3F, 0x00 };
    static char labels[64][16];
    memset(k, 0, sizeof(*k));
    snprintf(labels[i % 64], sizeof(labels[0]), "Key %zu", i);
    k->label = labels[i % 64];
    k->id[0] = 0x4B;
    k->id[1] = (uint8_t)i;
    k->id_len = 2;
    k->ref = (uint8_t)(0x10 + i);
    k->path = path;
    k->path_len = sizeof(path);
}

static size_t label_len_of(const struct key_spec *k)
{
    return k->label_len ? k->label_len : strlen(k->label);
}

/* 30 { common, 30 { iD, usage sign|nonRepudiation, keyReference }, A1 { 30 { Path, modulusLength 2048 } } } */
static void prkdf_entry(struct tlv_builder *b, const struct key_spec *k)
{
    size_t m = tlv_begin(b, 0x30);
    common_attributes(b, k->label, label_len_of(k), true);
    size_t m1 = tlv_begin(b, 0x30);
    tlv_add(b, 0x04, k->id, k->id_len);
    tlv_add(b, 0x03, "\x06\x20\x40", 3);
    tlv_add(b, 0x02, &k->ref, 1);
    tlv_end(b, m1);
    m1 = tlv_begin(b, 0xA1);
    size_t m2 = tlv_begin(b, 0x30);
    der_path(b, k->path, k->path_len);
    tlv_add(b, 0x02, "\x08\x00", 2);
    tlv_end(b, m2);
    tlv_end(b, m1);
    tlv_end(b, m);
}

/* The public half given directly: A1 { 30 { A0 { RSAPublicKey }, 2048 } }. */
static void pukdf_entry(struct tlv_builder *b, const struct key_spec *k)
{
    size_t m = tlv_begin(b, 0x30);
    common_attributes(b, k->label, label_len_of(k), false);
    size_t m1 = tlv_begin(b, 0x30);
    tlv_add(b, 0x04, k->id, k->id_len);
    tlv_add(b, 0x03, "\x01\x02", 2);
    tlv_end(b, m1);
    m1 = tlv_begin(b, 0xA1);
    size_t m2 = tlv_begin(b, 0x30);
    tlv_add(b, 0xA0, rsa_pub_der, rsa_pub_len);
    tlv_add(b, 0x02, "\x08\x00", 2);
    tlv_end(b, m2);
    tlv_end(b, m1);
    tlv_end(b, m);
}

/* A certificate given directly in the CDF (der), or in the EF fid. */
static void cdf_entry_at(struct tlv_builder *b, const uint8_t *id, size_t id_len, bool authority, const uint8_t *der,
                         size_t der_len, uint16_t fid)
{
    size_t m = tlv_begin(b, 0x30);
    common_attributes(b, authority ? "CA" : "Signer", authority ? 2 : 6, false);
    size_t m1 = tlv_begin(b, 0x30);
    tlv_add(b, 0x04, id, id_len);
    if (authority)
        tlv_add(b, 0x01, "\xFF", 1);
    tlv_end(b, m1);
    m1 = tlv_begin(b, 0xA1);
    size_t m2 = tlv_begin(b, 0x30);
    if (der) {
        tlv_add(b, 0xA0, der, der_len);
    } else {
        uint8_t path[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
        der_path(b, path, sizeof(path));
    }
    tlv_end(b, m2);
    tlv_end(b, m1);
    tlv_end(b, m);
}

static void cdf_entry(struct tlv_builder *b, const uint8_t *id, size_t id_len, bool authority, const uint8_t *der,
                      size_t der_len)
{
    cdf_entry_at(b, id, id_len, authority, der, der_len, 0);
}

static void ca_entries(struct tlv_builder *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t id[2] = { 0xCA, (uint8_t)i };
        cdf_entry(b, id, sizeof(id), true, ca_der, ca_len);
    }
}

/* The user PIN, reference 01, pad FF, with the given stored length. */
static void aodf_entry(struct tlv_builder *b, uint8_t stored_len)
{
    size_t m = tlv_begin(b, 0x30);
    size_t m1 = tlv_begin(b, 0x30);
    tlv_add(b, 0x0C, "User PIN", 8);
    tlv_add(b, 0x03, "\x07\x80", 2);
    tlv_end(b, m1);
    m1 = tlv_begin(b, 0x30);
    tlv_add(b, 0x04, "\x01", 1);
    tlv_end(b, m1);
    m1 = tlv_begin(b, 0xA1);
    size_t m2 = tlv_begin(b, 0x30);
    tlv_add(b, 0x03, "\x02\x4C", 2);
    tlv_add(b, 0x0A, "\x02", 1);
    tlv_add(b, 0x02, "\x04", 1);
    tlv_add(b, 0x02, &stored_len, 1);
    tlv_add(b, 0x02, "\x10", 1);
    tlv_add(b, 0x80, "\x01", 1);
    tlv_add(b, 0x04, "\xFF", 1);
    tlv_end(b, m2);
    tlv_end(b, m1);
    tlv_end(b, m);
}

static void odf_entry(struct tlv_builder *b, uint8_t type, uint16_t fid)
{
    uint8_t path[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
    size_t m = tlv_begin(b, (uint32_t)(0xA0 + type));
    der_path(b, path, sizeof(path));
    tlv_end(b, m);
}

#define FID_TOKEN_INFO 0x5032
#define FID_ODF 0x5031
#define FID_AODF 0x4401
#define FID_PRKDF 0x4402
#define FID_PUKDF 0x4403
#define FID_CDF 0x4404
#define FID_TCDF 0x4405

static void token_info(struct fake_card *c, const uint8_t *serial, size_t serial_len, const char *label,
                       size_t label_len)
{
    struct tlv_builder *b = add_file(c, FID_TOKEN_INFO);
    size_t m = tlv_begin(b, 0x30);
    tlv_add(b, 0x02, "\x00", 1);
    tlv_add(b, 0x04, serial, serial_len);
    tlv_add(b, 0x0C, "bit4id", 6);
    tlv_add(b, 0x80, label, label_len);
    tlv_add(b, 0x03, "\x05\x60", 2);
    tlv_end(b, m);
}

/* A variant B card: TokenInfo, and an ODF naming every directory. The
 * directories are left to the test (empty ones are absent files). */
struct vgca_card {
    struct fake_card *c;
    struct tlv_builder *odf, *aodf, *prkdf, *pukdf, *cdf, *tcdf;
};

static struct vgca_card vgca_card(void)
{
    struct vgca_card v = { .c = fake_new(false) };
    token_info(v.c, (const uint8_t *)"0A1B2C3D4E5F6071", 16, "VGCA Token", 10);
    v.odf = add_file(v.c, FID_ODF);
    odf_entry(v.odf, P15_ODF_PRIVATE_KEYS, FID_PRKDF);
    odf_entry(v.odf, P15_ODF_PUBLIC_KEYS, FID_PUKDF);
    odf_entry(v.odf, P15_ODF_CERTIFICATES, FID_CDF);
    odf_entry(v.odf, P15_ODF_TRUSTED_CERTIFICATES, FID_TCDF);
    odf_entry(v.odf, P15_ODF_AUTH_OBJECTS, FID_AODF);
    v.aodf = add_file(v.c, FID_AODF);
    v.prkdf = add_file(v.c, FID_PRKDF);
    v.pukdf = add_file(v.c, FID_PUKDF);
    v.cdf = add_file(v.c, FID_CDF);
    v.tcdf = add_file(v.c, FID_TCDF);
    aodf_entry(v.aodf, 8);
    return v;
}

/* n keys, each with its public key in the PuKDF (at most TOKEN_MAX_KEYS
 * of those: the PuKDF's own bound is tested apart). */
static void vgca_keys(struct vgca_card *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct key_spec k;
        key_default(&k, i);
        prkdf_entry(v->prkdf, &k);
        if (i < TOKEN_MAX_KEYS)
            pukdf_entry(v->pukdf, &k);
    }
}

static void assert_files_built(const struct vgca_card *v)
{
    for (size_t i = 0; i < v->c->nfiles; i++)
        assert_int_equal(tlv_builder_error(&v->c->files[i].b), 0);
}

/* Opens and enumerates the card; returns what enumerate said. */
static int vgca_enumerate_card(struct vgca_card *v, struct token *t)
{
    assert_files_built(v);
    assert_int_equal(open_fake(t, v->c), PCSC_OK);
    assert_string_equal(t->edge->name, "vgca");
    int rc = token_enumerate(t);
    if (rc != PCSC_OK) {
        assert_int_equal(t->nkeys, 0);
        assert_int_equal(t->ncerts, 0);
    }
    return rc;
}

/* ---- the government token ---- */

/* PrKDF and PuKDF: TOKEN_MAX_KEYS keys are all offered; one more and the
 * card is refused (it holds more keys than struct token can describe). */
static void test_vgca_keys(void **state)
{
    for (size_t n = TOKEN_MAX_KEYS - 1; n <= TOKEN_MAX_KEYS + 1; n++) {
        struct vgca_card v = vgca_card();
        struct token t;
        vgca_keys(&v, n);
        int rc = vgca_enumerate_card(&v, &t);
        if (n <= TOKEN_MAX_KEYS) {
            assert_int_equal(rc, PCSC_OK);
            assert_int_equal(t.nkeys, n);
            assert_int_equal(t.keys_refused, 0);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(t.keys[i].ref, 0x10 + i);
                assert_int_equal(t.keys[i].id_len, 2);
                assert_int_equal(t.keys[i].id[1], i);
                assert_int_equal(t.keys[i].bits, 2048);
            }
        } else {
            assert_int_equal(rc, PCSC_E_MALFORMED);
        }
        token_close(&t);
        fake_free(v.c);
    }
}

/* TOKEN_MAX_KEYS private keys and one public key too many: refused too. */
static void test_vgca_public_keys(void **state)
{
    struct vgca_card v = vgca_card();
    struct token t;
    vgca_keys(&v, TOKEN_MAX_KEYS);
    struct key_spec k;
    key_default(&k, TOKEN_MAX_KEYS);
    pukdf_entry(v.pukdf, &k);
    assert_int_equal(vgca_enumerate_card(&v, &t), PCSC_E_MALFORMED);
    token_close(&t);
    fake_free(v.c);
}

/* CA certificates, from the CDF (authority) and the trusted CDF together:
 * TOKEN_MAX_CERTS of them are all kept, one more and the card is refused,
 * however they are split between the two files. */
static void test_vgca_ca_certificates(void **state)
{
    static const struct {
        size_t in_cdf, trusted;
    } cases[] = { { TOKEN_MAX_CERTS, 0 }, { TOKEN_MAX_CERTS + 1, 0 }, { 0, TOKEN_MAX_CERTS },
                  { 0, TOKEN_MAX_CERTS + 1 }, { 5, TOKEN_MAX_CERTS - 5 }, { 5, TOKEN_MAX_CERTS - 4 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vgca_card v = vgca_card();
        struct token t;
        vgca_keys(&v, 1);
        ca_entries(v.cdf, cases[i].in_cdf);
        ca_entries(v.tcdf, cases[i].trusted);
        int rc = vgca_enumerate_card(&v, &t);
        if (cases[i].in_cdf + cases[i].trusted <= TOKEN_MAX_CERTS) {
            assert_int_equal(rc, PCSC_OK);
            assert_int_equal(t.ncerts, cases[i].in_cdf + cases[i].trusted);
            STACK_OF(X509) *cas = token_ca_certificates(&t);
            assert_int_equal(sk_X509_num(cas), cases[i].in_cdf + cases[i].trusted);
            sk_X509_pop_free(cas, X509_free);
        } else {
            if (rc != PCSC_E_MALFORMED)
                fail_msg("%zu + %zu CA certificates: rc %d", cases[i].in_cdf, cases[i].trusted, rc);
        }
        token_close(&t);
        fake_free(v.c);
    }
}

/* The CDF holds the keys' certificates and the CA chain: TOKEN_MAX_KEYS +
 * TOKEN_MAX_CERTS entries, each key with its certificate; one more entry
 * (a certificate of no key) and the card is refused. The certificates are
 * in EFs: given directly, 32 of them would make a CDF longer than READ
 * BINARY reaches. */
static void test_vgca_cdf_entries(void **state)
{
    for (size_t extra = 0; extra <= 1; extra++) {
        struct vgca_card v = vgca_card();
        struct token t;
        tlv_add_raw(add_file(v.c, 0x4406), cert_der, cert_len);
        tlv_add_raw(add_file(v.c, 0x4407), ca_der, ca_len);
        for (size_t i = 0; i < TOKEN_MAX_KEYS; i++) {
            struct key_spec k;
            key_default(&k, i);
            prkdf_entry(v.prkdf, &k);
            cdf_entry_at(v.cdf, k.id, k.id_len, false, NULL, 0, 0x4406);
        }
        for (size_t i = 0; i < TOKEN_MAX_CERTS; i++)
            cdf_entry_at(v.cdf, (const uint8_t[]){ 0xCA, (uint8_t)i }, 2, true, NULL, 0, 0x4407);
        if (extra)
            cdf_entry_at(v.cdf, (const uint8_t *)"\xEE", 1, false, NULL, 0, 0x4406);
        int rc = vgca_enumerate_card(&v, &t);
        if (!extra) {
            assert_int_equal(rc, PCSC_OK);
            assert_int_equal(t.nkeys, TOKEN_MAX_KEYS);
            for (size_t i = 0; i < t.nkeys; i++)
                assert_memory_equal(t.keys[i].cert, cert_der, cert_len);
            assert_int_equal(t.ncerts, TOKEN_MAX_CERTS);
        } else {
            assert_int_equal(rc, PCSC_E_MALFORMED);
        }
        token_close(&t);
        fake_free(v.c);
    }
}

/* ODF: 16 entries (the 5 directories, then 11 DODF entries kyso does not
 * read); a 17th and the card is refused. */
static void test_vgca_odf_entries(void **state)
{
    for (size_t extra = 0; extra <= 1; extra++) {
        struct vgca_card v = vgca_card();
        struct token t;
        vgca_keys(&v, 1);
        for (size_t i = 5; i < 16 + extra; i++)
            odf_entry(v.odf, P15_ODF_DATA_OBJECTS, (uint16_t)(0x4500 + i));
        int rc = vgca_enumerate_card(&v, &t);
        assert_int_equal(rc, extra ? PCSC_E_MALFORMED : PCSC_OK);
        assert_int_equal(t.nkeys, extra ? 0 : 1);
        token_close(&t);
        fake_free(v.c);
    }
}

/* AODF: 16 PIN objects, then 17. */
static void test_vgca_pin_objects(void **state)
{
    for (size_t extra = 0; extra <= 1; extra++) {
        struct vgca_card v = vgca_card();
        struct token t;
        vgca_keys(&v, 1);
        for (size_t i = 1; i < 16 + extra; i++)
            aodf_entry(v.aodf, 8);
        int rc = vgca_enumerate_card(&v, &t);
        assert_int_equal(rc, extra ? PCSC_E_MALFORMED : PCSC_OK);
        token_close(&t);
        fake_free(v.c);
    }
}

/* The PIN's stored length sizes the VERIFY buffer (16 bytes, and twice
 * that for a change): 16 is taken, 17 is not (the measured 8 stays). */
static void test_vgca_pin_stored_length(void **state)
{
    static const struct {
        uint8_t stored;
        size_t sent;
    } cases[] = { { 16, 16 }, { 17, 8 }, { 127, 8 } }; /* INTEGER: 127 is the largest one-byte */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vgca_card v = vgca_card();
        struct token t;
        /* Replace the AODF's PIN. */
        tlv_builder_free(v.aodf);
        aodf_entry(v.aodf, cases[i].stored);
        vgca_keys(&v, 1);
        assert_int_equal(vgca_enumerate_card(&v, &t), PCSC_OK);
        int tries;
        assert_int_equal(t.edge->verify(&t, TOKEN_PIN_USER, (const uint8_t *)"1234", 4, &tries), PCSC_OK);
        assert_int_equal(v.c->verify_len, cases[i].sent);
        token_close(&t);
        fake_free(v.c);
    }
}

/* Key labels: P15_LABEL_MAX bytes are kept whole; longer ones are cut
 * there, on a character boundary (the label is UTF-8). */
static void test_vgca_key_label(void **state)
{
    char label[P15_LABEL_MAX + 8];
    static const struct {
        size_t len;
        size_t multibyte_at;       /* a 3-byte character there, or 0 */
        size_t kept;
    } cases[] = { { P15_LABEL_MAX, 0, P15_LABEL_MAX }, { P15_LABEL_MAX + 1, 0, P15_LABEL_MAX },
                  { P15_LABEL_MAX + 2, P15_LABEL_MAX - 1, P15_LABEL_MAX - 1 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(label, 'a', sizeof(label));
        if (cases[i].multibyte_at)
            memcpy(label + cases[i].multibyte_at, "\xE1\xBB\x87", 3); /* ệ */
        struct vgca_card v = vgca_card();
        struct token t;
        struct key_spec k;
        key_default(&k, 0);
        k.label = label;
        k.label_len = cases[i].len;
        prkdf_entry(v.prkdf, &k);
        pukdf_entry(v.pukdf, &k);
        assert_int_equal(vgca_enumerate_card(&v, &t), PCSC_OK);
        assert_int_equal(t.nkeys, 1);
        assert_int_equal(strlen(t.keys[0].label), cases[i].kept);
        assert_memory_equal(t.keys[0].label, label, cases[i].kept);
        token_close(&t);
        fake_free(v.c);
    }
}

/* Key ids: TOKEN_MAX_ID (= P15_ID_MAX) bytes, then one more: refused. */
static void test_vgca_key_id(void **state)
{
    for (size_t len = TOKEN_MAX_ID; len <= TOKEN_MAX_ID + 1; len++) {
        struct vgca_card v = vgca_card();
        struct token t;
        struct key_spec k;
        key_default(&k, 0);
        for (size_t i = 0; i < len; i++)
            k.id[i] = (uint8_t)(0xA0 + i);
        k.id_len = len;
        prkdf_entry(v.prkdf, &k);
        pukdf_entry(v.pukdf, &k);
        int rc = vgca_enumerate_card(&v, &t);
        if (len == TOKEN_MAX_ID) {
            assert_int_equal(rc, PCSC_OK);
            assert_int_equal(t.nkeys, 1);
            assert_int_equal(t.keys[0].id_len, len);
            assert_memory_equal(t.keys[0].id, k.id, len);
        } else {
            assert_int_equal(rc, PCSC_E_MALFORMED);
        }
        token_close(&t);
        fake_free(v.c);
    }
}

/* Paths: P15_PATH_MAX bytes (the file is named by the last two), then
 * one more: refused. */
static void test_vgca_path(void **state)
{
    for (size_t len = P15_PATH_MAX; len <= P15_PATH_MAX + 1; len++) {
        struct vgca_card v = vgca_card();
        struct token t;
        uint8_t path[P15_PATH_MAX + 1];
        memset(path, 0x3F, sizeof(path));
        path[len - 2] = (uint8_t)(FID_PRKDF >> 8);
        path[len - 1] = (uint8_t)FID_PRKDF;
        tlv_builder_free(v.odf);
        size_t m = tlv_begin(v.odf, 0xA0);
        der_path(v.odf, path, len);
        tlv_end(v.odf, m);
        odf_entry(v.odf, P15_ODF_PUBLIC_KEYS, FID_PUKDF);
        vgca_keys(&v, 1);
        int rc = vgca_enumerate_card(&v, &t);
        assert_int_equal(rc, len == P15_PATH_MAX ? PCSC_OK : PCSC_E_MALFORMED);
        assert_int_equal(t.nkeys, len == P15_PATH_MAX ? 1 : 0);
        token_close(&t);
        fake_free(v.c);
    }
}

/* TokenInfo label into info.label (32 bytes): cut on a character
 * boundary; past P15_LABEL_MAX the parser cuts it first. */
static void test_vgca_token_label(void **state)
{
    char label[P15_LABEL_MAX + 8];
    static const struct {
        size_t len, multibyte_at, kept;
    } cases[] = { { 32, 0, 32 }, { 33, 0, 32 }, { 34, 31, 31 }, { P15_LABEL_MAX, 0, 32 }, { P15_LABEL_MAX + 1, 0, 32 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(label, 'b', sizeof(label));
        if (cases[i].multibyte_at)
            memcpy(label + cases[i].multibyte_at, "\xE1\xBB\x87", 3);
        struct fake_card *c = fake_new(false);
        token_info(c, (const uint8_t *)"1", 1, label, cases[i].len);
        struct token t;
        assert_int_equal(open_fake(&t, c), PCSC_OK);
        assert_int_equal(strlen(t.info.label), cases[i].kept);
        assert_memory_equal(t.info.label, label, cases[i].kept);
        token_close(&t);
        fake_free(c);
    }
}

/* TokenInfo serial into info.serial (16 characters): printable serials
 * are cut at 16, others are shown as the hex of their first 8 bytes;
 * past P15_SERIAL_MAX the card is refused. */
static void test_vgca_serial(void **state)
{
    uint8_t serial[P15_SERIAL_MAX + 1];
    for (size_t i = 0; i < sizeof(serial); i++)
        serial[i] = (uint8_t)('0' + i % 10);
    static const struct {
        size_t len;
        bool binary;
        int rc;
        const char *shown;
    } cases[] = {
        { 16, false, PCSC_OK, "0123456789012345" },
        { 17, false, PCSC_OK, "0123456789012345" },
        { P15_SERIAL_MAX, false, PCSC_OK, "0123456789012345" },
        { P15_SERIAL_MAX, true, PCSC_OK, "3001323334353637" },
        { P15_SERIAL_MAX + 1, false, PCSC_E_MALFORMED, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        serial[1] = cases[i].binary ? 0x01 : '1';
        struct fake_card *c = fake_new(false);
        token_info(c, serial, cases[i].len, "L", 1);
        struct token t;
        int rc = open_fake(&t, c);
        /* A refused TokenInfo leaves no edge: PIV is asked next and is not there. */
        if (cases[i].rc == PCSC_OK) {
            assert_int_equal(rc, PCSC_OK);
            assert_string_equal(t.info.serial, cases[i].shown);
        } else {
            assert_int_equal(rc, cases[i].rc);
            assert_null(t.edge);
        }
        token_close(&t);
        fake_free(c);
    }
}

/* READ BINARY offsets are 15 bits: a file longer than that is read up to
 * it (the fake card fails the test on an offset past 7FFF) and what was
 * read is used. */
static void test_vgca_long_file(void **state)
{
    struct vgca_card v = vgca_card();
    struct token t;
    vgca_keys(&v, 1);
    /* The ODF made 40000 bytes long by entries of a kind it skips (AF 00):
     * padding would end the reading before (what follows it is unused). */
    uint8_t *fill = malloc(40000);
    assert_non_null(fill);
    for (size_t i = 0; i + 1 < 40000; i += 2) {
        fill[i] = 0xAF;
        fill[i + 1] = 0x00;
    }
    tlv_add_raw(v.odf, fill, (40000 - v.odf->len) & ~(size_t)1);
    free(fill);
    assert_int_equal(vgca_enumerate_card(&v, &t), PCSC_OK);
    assert_int_equal(t.nkeys, 1);
    assert_true(v.c->max_read_offset <= 0x7FFF);
    assert_true(v.c->max_read_offset > 0x7FFF - 231);
    token_close(&t);
    fake_free(v.c);
}

/* Variant A is found through EF.DIR, whose first 4 applications the probe
 * looks at: with 4 (kyso's last) it is found, with 5 the card is not
 * taken for a government token. */
static void test_vgca_dir_applications(void **state)
{
    for (size_t n = 4; n <= 5; n++) {
        struct fake_card *c = fake_new(false);
        c->jcop = true;
        token_info(c, (const uint8_t *)"1", 1, "L", 1);
        struct tlv_builder *dir = add_file(c, 0x2F00);
        for (size_t i = 0; i < n; i++) {
            size_t m = tlv_begin(dir, 0x61);
            if (i == 3) {
                tlv_add(dir, 0x4F, aid_jcop, sizeof(aid_jcop));
            } else {
                uint8_t other[5] = { 0xA0, 0, 0, 0, (uint8_t)i };
                tlv_add(dir, 0x4F, other, sizeof(other));
            }
            tlv_end(dir, m);
        }
        assert_int_equal(tlv_builder_error(dir), 0);
        struct token t;
        int rc = open_fake(&t, c);
        if (n == 4) {
            assert_int_equal(rc, PCSC_OK);
            assert_string_equal(t.info.applet, "vgca-jcop");
        } else {
            assert_int_not_equal(rc, PCSC_OK);
            assert_null(t.edge);
        }
        token_close(&t);
        fake_free(c);
    }
}

/* ---- PIV ---- */

static void piv_cert_object(struct fake_card *c, uint32_t tag)
{
    struct tlv_builder *b = add_object(c, tag);
    tlv_add(b, 0x70, cert_der, cert_len);
    tlv_add_u8(b, 0x71, 0x00);
    tlv_add(b, 0xFE, NULL, 0);
    assert_int_equal(tlv_builder_error(b), 0);
}

/* Every slot of a PIV card holds a key: 4 + 20 retired = TOKEN_MAX_KEYS,
 * all offered. The key history may claim more retired keys than there
 * are slots (here 21 and 255): no slot past the 20th is asked for, also
 * when the four main slots are empty and the token has room for more. */
static void test_piv_keys(void **state)
{
    static const uint32_t tags[] = { 0x5FC105, 0x5FC10A, 0x5FC10B, 0x5FC101 };
    static const uint8_t claims[] = { 20, 21, 255, 20, 21, 255 };
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        struct fake_card *c = fake_new(true);
        size_t main_slots = i < 3 ? 0 : 4; /* empty main slots first: room for a 21st */
        for (size_t k = 0; k < main_slots; k++)
            piv_cert_object(c, tags[k]);
        for (uint32_t r = 0; r < 20; r++)
            piv_cert_object(c, 0x5FC10D + r);
        struct tlv_builder *hist = add_object(c, 0x5FC10C);
        tlv_add_u8(hist, 0xC1, claims[i]);
        tlv_add_u8(hist, 0xC2, 0);
        struct token t;
        assert_int_equal(open_fake(&t, c), PCSC_OK);
        assert_string_equal(t.edge->name, "piv");
        assert_int_equal(token_enumerate(&t), PCSC_OK);
        assert_int_equal(t.nkeys, main_slots + 20);
        assert_int_equal(t.keys_refused, 0);
        for (size_t k = 0; k < 20; k++)
            assert_non_null(token_find_key(&t, (uint8_t)(0x82 + k)));
        assert_int_equal(c->max_tag_asked, 0x5FC10D + 19);
        /* The data objects are a fixed list, well under the bound. */
        assert_int_equal(t.nobjects, 6);
        assert_true(t.nobjects <= TOKEN_MAX_DATA_OBJECTS);
        token_close(&t);
        fake_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vgca_keys),
        cmocka_unit_test(test_vgca_public_keys),
        cmocka_unit_test(test_vgca_ca_certificates),
        cmocka_unit_test(test_vgca_cdf_entries),
        cmocka_unit_test(test_vgca_odf_entries),
        cmocka_unit_test(test_vgca_pin_objects),
        cmocka_unit_test(test_vgca_pin_stored_length),
        cmocka_unit_test(test_vgca_key_label),
        cmocka_unit_test(test_vgca_key_id),
        cmocka_unit_test(test_vgca_path),
        cmocka_unit_test(test_vgca_token_label),
        cmocka_unit_test(test_vgca_serial),
        cmocka_unit_test(test_vgca_long_file),
        cmocka_unit_test(test_vgca_dir_applications),
        cmocka_unit_test(test_piv_keys),
    };
    return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
