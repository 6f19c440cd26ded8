/* The token edges end to end over a scripted card; see edge_harness.h. */
#include "config.h"

#include "tests/fuzz/edge_harness.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc/token.h"

const uint16_t edge_sw_table[16] = {
    0x9000, 0x6100, 0x6C00, 0x6A82, 0x6982, 0x63C0, 0x6B00, 0x6282,
    0x6983, 0x6A88, 0x6D00, 0x6700, 0x6A86, 0x6985, 0x6A80, 0x9000,
};

uint16_t edge_sw_of(uint8_t selector, uint8_t arg)
{
    uint8_t hi = selector & 0xF0;
    if (hi == 0x60 || hi == 0x90)
        return (uint16_t)(selector << 8 | arg);
    uint16_t sw = edge_sw_table[selector & 0x0F];
    if (sw == 0x6100 || sw == 0x6C00)
        return (uint16_t)(sw | arg);
    if (sw == 0x63C0)
        return (uint16_t)(sw | (arg & 0x0F));
    return sw;
}

/* The measured ATRs of both government variants (TOKENS.md), a YubiKey 5's
 * (the PIV edge's hint) and one no edge knows. */
static const uint8_t atr_chipdoc[] = { 0x3B, 0xDF, 0x18, 0xFF, 0x81, 0x91, 0xFE, 0x1F, 0xC3, 0x00, 0x31, 0xB8, 0x64,
                                       0x0C, 0x01, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80, 0x82, 0x90, 0x00, 0xB3 };
static const uint8_t atr_jcop[] = { 0x3B, 0xFF, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x00, 0x6B, 0x15, 0x0C,
                                    0x03, 0x02, 0x01, 0x01, 0x01, 0x42, 0x34, 0x44, 0x10, 0x31, 0x80, 0x0D };
static const uint8_t atr_yubikey[] = { 0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
                                       0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40 };
static const uint8_t atr_other[] = { 0x3B, 0x80, 0x80, 0x01, 0x01 };

const uint8_t *edge_atr_of(uint8_t settings, size_t *len)
{
    switch ((settings & EDGE_SET_ATR_MASK) >> EDGE_SET_ATR_SHIFT) {
    case EDGE_ATR_CHIPDOC:
        *len = sizeof(atr_chipdoc);
        return atr_chipdoc;
    case EDGE_ATR_JCOP:
        *len = sizeof(atr_jcop);
        return atr_jcop;
    case EDGE_ATR_YUBIKEY:
        *len = sizeof(atr_yubikey);
        return atr_yubikey;
    default:
        *len = sizeof(atr_other);
        return atr_other;
    }
}

/* ---- the scripted card ---- */

struct script_card {
    const uint8_t *p;
    size_t left;
};

static int script_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp, size_t *resp_len)
{
    struct script_card *c = ctx;
    if (c->left < 2)
        return PCSC_E_CARD_REMOVED;
    size_t n = (size_t)c->p[0] << 8 | c->p[1];
    c->p += 2;
    c->left -= 2;
    if (n == EDGE_LEN_COMM)
        return PCSC_E_COMM;
    if (n == EDGE_LEN_REMOVED)
        return PCSC_E_CARD_REMOVED;
    if (n == EDGE_LEN_RESET)
        return PCSC_E_CARD_RESET;
    if (n > c->left)
        n = c->left;
    const uint8_t *body = c->p;
    c->p += n;
    c->left -= n;
    uint16_t sw = 0x9000;
    if (c->left >= 2) {
        sw = edge_sw_of(c->p[0], c->p[1]);
        c->p += 2;
        c->left -= 2;
    } else {
        c->p += c->left;
        c->left = 0;
    }
    if (n + 2 > *resp_len)
        return PCSC_E_MALFORMED; /* what pcsc/reader.c says of an answer too long */
    memcpy(resp, body, n);
    resp[n] = (uint8_t)(sw >> 8);
    resp[n + 1] = (uint8_t)sw;
    *resp_len = n + 2;
    return PCSC_OK;
}

static size_t records_in(const uint8_t *p, size_t left)
{
    size_t n = 0;
    while (left >= 2) {
        size_t len = (size_t)p[0] << 8 | p[1];
        size_t step = len >= EDGE_LEN_FIRST_ERROR ? 2 : 2 + len + 2;
        n++;
        if (step >= left)
            break;
        p += step;
        left -= step;
    }
    return n;
}

/* ---- checks of what the edge promises ---- */

/* Sits between the edge and the card: counts commands and checks them. */
struct watch {
    const struct pcsc_transport *inner;
    size_t commands;
    const char *violation;
};

static int watch_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp, size_t *resp_len)
{
    struct watch *w = ctx;
    w->commands++;
    if (!cmd || cmd_len < 4 || cmd_len > 4 + 3 + PCSC_APDU_MAX_DATA + 2 || !resp || *resp_len < 2)
        w->violation = w->violation ? w->violation : "malformed command";
    return w->inner->transmit(w->inner->ctx, cmd, cmd_len, resp, resp_len);
}

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* Tries left: -1 (unknown) or a count, up to 15 from 63Cx and up to 255
 * from PIV metadata; -2 is the harness's "never set". */
#define TRIES_KNOWN(n) ((n) >= -1 && (n) <= 255)

#define PROMISE(res, cond, what)                   \
    do {                                           \
        if (!(cond) && !(res)->violation)          \
            (res)->violation = (what);             \
    } while (0)

static void check_info(const struct token *t, struct edge_result *res)
{
    const struct token_info *i = &t->info;
    PROMISE(res, terminated(i->label, sizeof(i->label)) && terminated(i->serial, sizeof(i->serial)) &&
                     terminated(i->manufacturer, sizeof(i->manufacturer)) && terminated(i->model, sizeof(i->model)),
            "token info not terminated");
}

/* Certificates checked before, with their public keys: d2i_X509 is the
 * dearest part of a session, and most inputs keep the seeds' certificates. */
#define CERT_CACHE 16
static struct cert_seen {
    uint8_t *der;
    size_t len;
    bool ok;           /* one DER certificate, nothing before or after it */
    EVP_PKEY *pub;     /* its public key, NULL if unreadable */
} cert_cache[CERT_CACHE];
static size_t cert_cache_next;

static const struct cert_seen *look_at_certificate(const uint8_t *der, size_t len)
{
    for (size_t i = 0; i < CERT_CACHE; i++)
        if (cert_cache[i].der && cert_cache[i].len == len && memcmp(cert_cache[i].der, der, len) == 0)
            return &cert_cache[i];
    struct cert_seen *c = &cert_cache[cert_cache_next++ % CERT_CACHE];
    free(c->der);
    EVP_PKEY_free(c->pub);
    memset(c, 0, sizeof(*c));
    const unsigned char *p = der;
    X509 *x = len < 0x7FFFFFFF ? d2i_X509(NULL, &p, (long)len) : NULL;
    c->ok = x && p == der + len;
    c->pub = x ? X509_get_pubkey(x) : NULL;
    X509_free(x);
    c->der = malloc(len);
    if (c->der) {
        memcpy(c->der, der, len);
        c->len = len;
    }
    return c;
}

/* der[0..len) is one DER certificate; its public key is key when given. */
static bool is_certificate(const uint8_t *der, size_t len, EVP_PKEY *key)
{
    if (!der || len == 0)
        return false;
    const struct cert_seen *c = look_at_certificate(der, len);
    return c->ok && (!key || (c->pub && EVP_PKEY_eq(c->pub, key) == 1));
}

static void check_enumeration(const struct token *t, struct edge_result *res)
{
    PROMISE(res, t->nkeys <= TOKEN_MAX_KEYS && t->ncerts <= TOKEN_MAX_CERTS && t->nobjects <= TOKEN_MAX_DATA_OBJECTS,
            "more objects than the token holds");
    for (size_t i = 0; i < t->nkeys && i < TOKEN_MAX_KEYS; i++) {
        const struct token_key *k = &t->keys[i];
        PROMISE(res, k->pub != NULL, "key without its public half");
        PROMISE(res, k->id_len <= TOKEN_MAX_ID, "key id too long");
        PROMISE(res, terminated(k->label, sizeof(k->label)) && terminated(k->cert_label, sizeof(k->cert_label)),
                "key label not terminated");
        PROMISE(res, (k->cert == NULL) == (k->cert_len == 0), "certificate and length disagree");
        if (k->cert && k->cert_len)
            PROMISE(res, is_certificate(k->cert, k->cert_len, k->pub), "a key's certificate is not one of its key");
        if (k->type == TOKEN_KEY_RSA)
            PROMISE(res, k->bits >= t->edge->rsa_min_bits && k->bits <= t->edge->rsa_max_bits &&
                             k->bits <= TOKEN_MAX_RSA_BITS && (!k->pub || EVP_PKEY_is_a(k->pub, "RSA")),
                    "RSA key out of the edge's range");
        else
            PROMISE(res, (k->bits == 256 || k->bits == 384) && (!k->pub || EVP_PKEY_is_a(k->pub, "EC")),
                    "EC key of a size no layer handles");
        if (k->pub)
            PROMISE(res, (unsigned)EVP_PKEY_get_bits(k->pub) == k->bits, "key size differs from its public key");
        if (k->pub && k->type == TOKEN_KEY_EC) {
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pub, NULL);
            PROMISE(res, ctx && EVP_PKEY_public_check_quick(ctx) == 1, "an EC key's point is not on its curve");
            EVP_PKEY_CTX_free(ctx);
        }
    }
    for (size_t i = 0; i < t->ncerts && i < TOKEN_MAX_CERTS; i++) {
        PROMISE(res, t->certs[i].der && t->certs[i].len > 0 && t->certs[i].id_len <= TOKEN_MAX_ID &&
                         terminated(t->certs[i].label, sizeof(t->certs[i].label)),
                "CA certificate entry broken");
        PROMISE(res, is_certificate(t->certs[i].der, t->certs[i].len, NULL), "a CA certificate is not one");
    }
    for (size_t i = 0; i < t->nobjects && i < TOKEN_MAX_DATA_OBJECTS; i++)
        PROMISE(res, terminated(t->objects[i].label, sizeof(t->objects[i].label)) &&
                         terminated(t->objects[i].app_oid, sizeof(t->objects[i].app_oid)),
                "data object label not terminated");
}

/* ---- what is signed, decrypted and derived ---- */

/* SHA-256("kyso edge harness"), as a DigestInfo and as the hash alone. */
static const uint8_t digest_info[] = {
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20, 0x98, 0x6d, 0x6c, 0x93, 0x74, 0x8c, 0x4a, 0xc2, 0x48, 0x0c, 0xce, 0x74, 0xd9,
    0x88, 0xd5, 0x0b, 0xc3, 0x09, 0x39, 0xfd, 0x78, 0x4d, 0x5d, 0xf4, 0x4c, 0x85, 0x64, 0x8b, 0xf8,
    0xf1, 0xcf, 0x24,
};
#define HASH (digest_info + 19)
#define HASH_LEN 32

/* The peer of the ECDH derivations: a fixed P-256 key, so that a recorded
 * session replays (its public point ends the DER). */
static const uint8_t peer_p256[] = {
    0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20, 0x8e, 0x24, 0xf1, 0x6a, 0x44, 0x79, 0x90, 0xcd, 0x90, 0xde, 0x73,
    0xcc, 0x83, 0xb0, 0xe1, 0x7d, 0x3a, 0x43, 0x6c, 0x2c, 0x38, 0x5a, 0x6a, 0x64, 0xfd, 0x8d, 0xa9, 0x36, 0x78,
    0x61, 0xb0, 0x77, 0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0xa1, 0x44, 0x03,
    0x42, 0x00, 0x04, 0xa4, 0xff, 0x9a, 0xd5, 0x6e, 0x52, 0xc2, 0x38, 0x9d, 0x90, 0x58, 0xc8, 0x34, 0xe2, 0x82,
    0x56, 0xf6, 0xd7, 0x6c, 0x3d, 0xf6, 0x5f, 0xa4, 0xd7, 0x4e, 0x97, 0xab, 0xfa, 0x32, 0x6e, 0x09, 0x19, 0xf6,
    0x40, 0xa6, 0x4a, 0xa3, 0x3d, 0x17, 0x7c, 0xca, 0x74, 0x0c, 0xeb, 0xf0, 0x57, 0x67, 0x0b, 0x1b, 0xc6, 0xa3,
    0xbc, 0x7f, 0x12, 0xfc, 0x0d, 0x96, 0x43, 0x0a, 0x4f, 0xde, 0x78, 0x1b, 0xac,
};
#define PEER_POINT (peer_p256 + sizeof(peer_p256) - 65)
#define PEER_POINT_LEN 65

/* A ciphertext block below any modulus of its size. */
static void cipher_block(uint8_t *b, size_t mod)
{
    for (size_t i = 0; i < mod; i++)
        b[i] = (uint8_t)(i * 37 + 11);
    b[0] = 0x00;
}

static bool rsa_public_op(EVP_PKEY *pub, bool verify_recover, int padding, const uint8_t *in, size_t in_len,
                          uint8_t *out, size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    bool ok = ctx &&
              (verify_recover ? EVP_PKEY_verify_recover_init(ctx) : EVP_PKEY_encrypt_init(ctx)) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1 &&
              (verify_recover ? EVP_PKEY_verify_recover(ctx, out, out_len, in, in_len)
                              : EVP_PKEY_encrypt(ctx, out, out_len, in, in_len)) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static bool signature_verifies(const struct token_key *k, enum edge_scheme scheme, const uint8_t *block,
                               const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pub, NULL);
    bool ok = false;
    if (!ctx)
        return false;
    if (k->type == TOKEN_KEY_EC) {
        size_t field = sig_len / 2;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, (int)field, NULL), *s = BN_bin2bn(sig + field, (int)field, NULL);
        unsigned char *der = NULL;
        int der_len = -1;
        if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
            r = s = NULL;
            der_len = i2d_ECDSA_SIG(es, &der);
        }
        ok = der_len > 0 && EVP_PKEY_verify_init(ctx) == 1 &&
             EVP_PKEY_verify(ctx, der, (size_t)der_len, HASH, HASH_LEN) == 1;
        OPENSSL_free(der);
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
    } else if (scheme == EDGE_SCHEME_RAW) {
        uint8_t out[512];
        size_t n = sizeof(out);
        ok = rsa_public_op(k->pub, true, RSA_NO_PADDING, sig, sig_len, out, &n) && n == sig_len &&
             memcmp(out, block, n) == 0;
    } else {
        bool pss = scheme == EDGE_SCHEME_PSS;
        ok = EVP_PKEY_verify_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) == 1 &&
             (!pss || (EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
                       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, HASH_LEN) == 1)) &&
             EVP_PKEY_verify(ctx, sig, sig_len, pss ? HASH : digest_info, pss ? HASH_LEN : sizeof(digest_info)) == 1;
    }
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static bool derivation_verifies(const struct token_key *k, const uint8_t *secret, size_t len)
{
    const unsigned char *p = peer_p256;
    EVP_PKEY *peer = d2i_AutoPrivateKey(NULL, &p, (long)sizeof(peer_p256));
    EVP_PKEY_CTX *ctx = peer ? EVP_PKEY_CTX_new(peer, NULL) : NULL;
    uint8_t expect[66];
    size_t n = sizeof(expect);
    bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, k->pub) == 1 &&
              EVP_PKEY_derive(ctx, expect, &n) == 1 && n == len && memcmp(expect, secret, n) == 0;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    return ok;
}

static enum token_sig_scheme sig_scheme(const struct token *t, const struct token_key *k, enum edge_scheme s)
{
    if (k->type == TOKEN_KEY_EC)
        return TOKEN_SIG_ECDSA;
    /* Only what the edge offers, as the module does. */
    if (s == EDGE_SCHEME_PSS && (t->edge->caps & TOKEN_CAP_RSA_PSS))
        return TOKEN_SIG_RSA_PSS;
    if (s == EDGE_SCHEME_RAW && (t->edge->caps & TOKEN_CAP_RSA_RAW))
        return TOKEN_SIG_RSA_RAW;
    return TOKEN_SIG_RSA_PKCS1;
}

static void sign_with(struct token *t, const struct token_key *k, uint8_t settings, bool check_crypto,
                      struct edge_result *res)
{
    enum edge_scheme wanted = (enum edge_scheme)((settings & EDGE_SET_SCHEME_MASK) >> EDGE_SET_SCHEME_SHIFT);
    size_t mod = (k->bits + 7) / 8;
    uint8_t block[512], sig[600];
    struct token_sign_request req = { .scheme = sig_scheme(t, k, wanted) };
    enum edge_scheme used = req.scheme == TOKEN_SIG_RSA_PSS   ? EDGE_SCHEME_PSS
                            : req.scheme == TOKEN_SIG_RSA_RAW ? EDGE_SCHEME_RAW
                                                              : EDGE_SCHEME_PKCS1;
    switch (req.scheme) {
    case TOKEN_SIG_RSA_PKCS1:
        req.in = digest_info;
        req.in_len = sizeof(digest_info);
        break;
    case TOKEN_SIG_RSA_PSS:
        req.in = HASH;
        req.in_len = HASH_LEN;
        req.pss_md = req.pss_mgf1_md = EVP_sha256();
        req.pss_salt_len = HASH_LEN;
        break;
    case TOKEN_SIG_RSA_RAW:
        cipher_block(block, mod);
        block[1] = 0x01; /* any block below the modulus */
        req.in = block;
        req.in_len = mod;
        break;
    case TOKEN_SIG_ECDSA:
        req.in = HASH;
        req.in_len = HASH_LEN;
        break;
    }
    if (k->always_authenticate) {
        req.pin = (const uint8_t *)EDGE_PIN;
        req.pin_len = strlen(EDGE_PIN);
    }
    size_t n = sizeof(sig);
    res->signs++;
    int rc = t->edge->sign(t, k, &req, sig, &n);
    if (rc != PCSC_OK)
        return;
    res->signs_ok++;
    if (k->type == TOKEN_KEY_RSA)
        PROMISE(res, n == mod, "RSA signature not of the modulus size");
    else
        PROMISE(res, n == 2 * mod, "ECDSA signature not r||s of the field size");
    if (check_crypto && n <= sizeof(sig) && signature_verifies(k, used, block, sig, n))
        res->signs_verified++;
}

static void decrypt_with(struct token *t, const struct token_key *k, bool check_crypto, struct edge_result *res)
{
    size_t mod = (k->bits + 7) / 8;
    uint8_t in[512], out[512], again[512];
    if (mod > sizeof(in))
        return;
    cipher_block(in, mod);
    size_t n = sizeof(out);
    bool pin = k->always_authenticate;
    res->decrypts++;
    int rc = t->edge->decrypt(t, k, in, mod, pin ? (const uint8_t *)EDGE_PIN : NULL, pin ? strlen(EDGE_PIN) : 0,
                              out, &n);
    if (rc != PCSC_OK)
        return;
    res->decrypts_ok++;
    PROMISE(res, n == mod, "decryption not of the modulus size");
    size_t m = sizeof(again);
    if (check_crypto && n == mod && rsa_public_op(k->pub, false, RSA_NO_PADDING, out, n, again, &m) && m == mod &&
        memcmp(again, in, mod) == 0)
        res->decrypts_verified++;
}

static void derive_with(struct token *t, const struct token_key *k, bool check_crypto, struct edge_result *res)
{
    uint8_t secret[128]; /* as large as the module's secret objects */
    size_t n = sizeof(secret);
    bool pin = k->always_authenticate;
    res->derives++;
    int rc = t->edge->derive(t, k, PEER_POINT, PEER_POINT_LEN, pin ? (const uint8_t *)EDGE_PIN : NULL,
                             pin ? strlen(EDGE_PIN) : 0, secret, &n);
    if (rc != PCSC_OK)
        return;
    res->derives_ok++;
    /* The shared x: as long as the field, whatever the card says. */
    PROMISE(res, n == (k->bits + 7) / 8, "derived secret not of the field size");
    if (check_crypto && k->bits == 256 && derivation_verifies(k, secret, n))
        res->derives_verified++;
}

/* PIN change and unblock, then the management key (PIV), a key made on
 * the card and a certificate written. Each goes on whatever the one
 * before answered: the commands do not depend on it, so a recorded
 * session replays although the management key's challenge is random. */
static void administer(struct token *t, struct edge_result *res)
{
    const uint8_t *pin = (const uint8_t *)EDGE_PIN, *puk = (const uint8_t *)EDGE_PUK;
    size_t pin_len = strlen(EDGE_PIN), puk_len = strlen(EDGE_PUK);
    int tries = -2;
    res->change_rc = t->edge->change_pin(t, TOKEN_PIN_USER, pin, pin_len, pin, pin_len, &tries);
    PROMISE(res, TRIES_KNOWN(tries), "PIN tries left unset or out of range after a change");
    tries = -2;
    res->unblock_rc = t->edge->unblock(t, puk, puk_len, pin, pin_len, &tries);
    PROMISE(res, TRIES_KNOWN(tries), "PUK tries left unset or out of range after an unblock");
    if (t->edge->admin_auth)
        res->admin_rc = t->edge->admin_auth(t, (const uint8_t *)EDGE_MGM_KEY, EDGE_MGM_KEY_LEN);
    if (t->edge->generate) {
        EVP_PKEY *pub = NULL;
        res->generate_rc = t->edge->generate(t, EDGE_ADMIN_SLOT, TOKEN_KEY_EC, 256, &pub);
        PROMISE(res, (res->generate_rc == PCSC_OK) == (pub != NULL), "generated key and result disagree");
        if (pub)
            PROMISE(res, EVP_PKEY_is_a(pub, "EC") && EVP_PKEY_get_bits(pub) == 256, "generated key not the one asked");
        EVP_PKEY_free(pub);
    }
    if (t->edge->write_certificate && t->nkeys > 0 && t->keys[0].cert)
        res->write_rc = t->edge->write_certificate(t, EDGE_ADMIN_SLOT, t->keys[0].cert, t->keys[0].cert_len);
}

/* ---- the session ---- */

static void session(struct token *t, enum edge_target target, uint8_t settings, bool check_crypto,
                    struct edge_result *res)
{
    const char *wanted = target == EDGE_TARGET_PIV ? token_edge_piv.name : token_edge_vgca.name;
    res->edge = t->edge->name;
    check_info(t, res);
    if (strcmp(t->edge->name, wanted) != 0) {
        res->other_edge = true;
        return;
    }
    res->enum_rc = token_enumerate(t);
    if (res->enum_rc != PCSC_OK) {
        PROMISE(res, t->nkeys == 0 && t->ncerts == 0 && t->nobjects == 0 && !t->enumerated,
                "a failed enumeration left objects");
        return;
    }
    check_enumeration(t, res);
    if (res->violation)
        return; /* what follows would trip over it */
    res->nkeys = t->nkeys;
    for (size_t i = 0; i < t->nkeys; i++)
        res->key_certs += t->keys[i].cert != NULL;
    res->ncerts = t->ncerts;
    res->nobjects = t->nobjects;
    for (size_t i = 0; i < t->nobjects; i++) {
        struct token_data_object *o = &t->objects[i];
        if (t->edge->read_data_object(t, o) == PCSC_OK) {
            res->objects_read++;
            PROMISE(res, o->loaded && (o->value == NULL) == (o->len == 0), "data object value and length disagree");
        }
    }
    /* What enumeration left for later (PIV: PIN policy and origin). */
    for (size_t i = 0; i < t->nkeys; i++) {
        struct token_key *k = &t->keys[i];
        if (token_key_details(t, k) == PCSC_OK)
            PROMISE(res, !k->details_pending, "key details answered but still pending");
    }
    STACK_OF(X509) *cas = token_ca_certificates(t);
    res->ca_certs = cas ? (size_t)sk_X509_num(cas) : 0;
    PROMISE(res, res->ca_certs <= t->ncerts, "more CA certificates than entries");
    sk_X509_pop_free(cas, X509_free);

    int tries = -2;
    bool verified = false;
    res->pin_status_rc = t->edge->pin_status(t, TOKEN_PIN_USER, &tries, &verified);
    PROMISE(res, TRIES_KNOWN(tries), "PIN tries left unset or out of range");
    tries = -2;
    t->edge->pin_status(t, TOKEN_PIN_SO, &tries, &verified);
    PROMISE(res, TRIES_KNOWN(tries), "PUK tries left unset or out of range");
    res->login_rc = PCSC_E_NOT_SUPPORTED;
    if (!(settings & EDGE_SET_NO_LOGIN)) {
        tries = -2;
        res->login_rc = t->edge->verify(t, TOKEN_PIN_USER, (const uint8_t *)EDGE_PIN, strlen(EDGE_PIN), &tries);
        PROMISE(res, TRIES_KNOWN(tries), "PIN tries left unset or out of range after VERIFY");
    }
    for (size_t i = 0; i < t->nkeys && i < EDGE_MAX_KEY_OPS; i++) {
        const struct token_key *k = &t->keys[i];
        if (k->sign)
            sign_with(t, k, settings, check_crypto, res);
        if (k->decrypt && k->type == TOKEN_KEY_RSA && t->edge->decrypt)
            decrypt_with(t, k, check_crypto, res);
        if (k->derive && k->type == TOKEN_KEY_EC && t->edge->derive)
            derive_with(t, k, check_crypto, res);
    }
    if (settings & EDGE_SET_ADMIN)
        administer(t, res);
    t->edge->logout(t);
    token_reselect(t);
}

void edge_drive(enum edge_target target, const struct pcsc_transport *transport, uint8_t settings,
                bool check_crypto, struct edge_result *res)
{
    struct watch w = { .inner = transport };
    struct pcsc_transport watched = *transport;
    watched.transmit = watch_transmit;
    watched.ctx = &w;
    size_t atr_len;
    const uint8_t *atr = edge_atr_of(settings, &atr_len);
    struct token *t = calloc(1, sizeof(*t));

    memset(res, 0, sizeof(*res));
    res->enum_rc = res->pin_status_rc = res->login_rc = PCSC_E_NOT_SUPPORTED;
    res->change_rc = res->unblock_rc = res->admin_rc = res->generate_rc = res->write_rc = PCSC_E_NOT_SUPPORTED;
    if (!t) {
        res->open_rc = PCSC_E_NOMEM;
        return;
    }
    res->open_rc = token_open_transport(t, &watched, atr, atr_len);
    if (res->open_rc == PCSC_OK) {
        PROMISE(res, t->edge != NULL, "opened without an edge");
        if (t->edge)
            session(t, target, settings, check_crypto, res);
    } else {
        PROMISE(res, t->edge == NULL && t->edge_state == NULL, "a failed open kept an edge");
    }
    token_close(t);
    free(t);
    res->commands = w.commands;
    if (w.violation && !res->violation)
        res->violation = w.violation;
}

void edge_run(enum edge_target target, const uint8_t *script, size_t len, bool check_crypto,
              struct edge_result *res)
{
    if (len < EDGE_HEADER_LEN) {
        memset(res, 0, sizeof(*res));
        res->open_rc = PCSC_E_INVALID_ARG;
        return;
    }
    uint8_t settings = script[0];
    struct script_card card = { .p = script + EDGE_HEADER_LEN, .left = len - EDGE_HEADER_LEN };
    struct pcsc_transport tr = {
        .transmit = script_transmit,
        .ctx = &card,
        .protocol = (settings & EDGE_SET_T0) ? PCSC_PROTOCOL_T0 : PCSC_PROTOCOL_T1,
        .extended_length = (settings & EDGE_SET_EXTENDED) != 0,
    };
    edge_drive(target, &tr, settings, check_crypto, res);
    res->records_left = records_in(card.p, card.left);
}

/* ---- building scripts ---- */

static void put(struct edge_script *s, const uint8_t *p, size_t n)
{
    if (s->failed || n == 0)
        return;
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        while (cap - s->len < n)
            cap *= 2;
        uint8_t *d = realloc(s->data, cap);
        if (!d) {
            s->failed = true;
            return;
        }
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

void edge_script_init(struct edge_script *s, uint8_t settings)
{
    memset(s, 0, sizeof(*s));
    put(s, &settings, 1);
}

void edge_script_answer(struct edge_script *s, const uint8_t *body, size_t len, uint16_t sw)
{
    if (len >= EDGE_LEN_FIRST_ERROR) {
        s->failed = true;
        return;
    }
    uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len }, tail[2] = { (uint8_t)(sw >> 8), (uint8_t)sw };
    put(s, hdr, 2);
    put(s, body, len);
    put(s, tail, 2);
}

void edge_script_error(struct edge_script *s, uint16_t code)
{
    uint8_t hdr[2] = { (uint8_t)(code >> 8), (uint8_t)code };
    put(s, hdr, 2);
}

void edge_script_free(struct edge_script *s)
{
    free(s->data);
    memset(s, 0, sizeof(*s));
}
