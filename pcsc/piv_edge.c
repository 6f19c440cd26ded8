/* The PIV token edge (NIST SP 800-73-4, with the YubiKey extensions for
 * version, serial and key metadata where the card has them).
 *
 * PIV cards do the raw private-key operation only: RSA padding is done
 * here, on the host, and ECDSA signatures come back DER-encoded and are
 * returned as r‖s. */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc/rsa_pad.h"
#include "pcsc/tlv.h"
#include "pcsc/token.h"

#define PIV_PIN_LEN 8
#define INS_VERIFY 0x20
#define INS_CHANGE_REFERENCE 0x24
#define INS_RESET_RETRY 0x2C
#define INS_GENERATE 0x47
#define INS_GENERAL_AUTHENTICATE 0x87
#define INS_SELECT 0xA4
#define INS_GET_DATA 0xCB
#define INS_PUT_DATA 0xDB
#define INS_GET_METADATA 0xF7
#define INS_GET_SERIAL 0xF8
#define INS_GET_VERSION 0xFD

static const uint8_t piv_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };

/* The key slots, with the labels and ids OpenSC gives them so that what
 * applications stored (NSS nicknames, scripts) keeps matching. */
struct piv_slot {
    uint8_t ref;
    uint8_t id;
    uint32_t cert_tag;
    const char *key_label;
    const char *cert_label;
};

static const struct piv_slot slots[] = {
    { 0x9A, 0x01, 0x5FC105, "PIV AUTH key", "Certificate for PIV Authentication" },
    { 0x9C, 0x02, 0x5FC10A, "SIGN key", "Certificate for Digital Signature" },
    { 0x9D, 0x03, 0x5FC10B, "KEY MAN key", "Certificate for Key Management" },
    { 0x9E, 0x04, 0x5FC101, "CARD AUTH key", "Certificate for Card Authentication" },
};
#define PIV_RETIRED_FIRST 0x82
#define PIV_RETIRED_COUNT 20
/* Every slot a PIV card has fits struct token, so no card can make the
 * edge drop a key; the count is bounded by the slot table, not by the
 * card's answers (the key history's count is read only up to it). */
_Static_assert(sizeof(slots) / sizeof(slots[0]) + PIV_RETIRED_COUNT <= TOKEN_MAX_KEYS,
               "PIV slots do not fit TOKEN_MAX_KEYS");

/* The data objects enumerate lists: a fixed set, whatever the card holds. */
struct piv_object {
    uint32_t tag;
    const char *label;
    const char *oid;
    bool private_;
};

static const struct piv_object objects[] = {
    { 0x5FC107, "Card Capability Container", "2.16.840.1.101.3.7.1.219.0", false },
    { 0x5FC102, "Card Holder Unique Identifier", "2.16.840.1.101.3.7.2.48.0", false },
    { 0x5FC10C, "Key History Object", "2.16.840.1.101.3.7.2.96.96", false },
    { 0x5FC109, "Printed Information", "2.16.840.1.101.3.7.2.48.1", true },
    { 0x5FC106, "Security Object", "2.16.840.1.101.3.7.2.144.0", false },
    { 0x7E, "Discovery Object", "2.16.840.1.101.3.7.2.96.80", false },
};
_Static_assert(sizeof(objects) / sizeof(objects[0]) <= TOKEN_MAX_DATA_OBJECTS,
               "PIV data objects do not fit TOKEN_MAX_DATA_OBJECTS");

struct piv_edge_state {
    uint8_t version[3];
    bool has_version;
    uint8_t retired_on_card;  /* from the key history object */
};

static struct piv_edge_state *state_of(struct token *t)
{
    return t->edge_state;
}

/* Maps a card status word to the layer's error codes. */
static int sw_status(uint16_t sw, int *tries_left)
{
    return pcsc_status_from_sw(sw, tries_left);
}

static int send_apdu(struct token *t, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data, size_t len,
                     size_t le, uint8_t *resp, size_t cap, size_t *resp_len, uint16_t *sw)
{
    struct pcsc_apdu a = { .cla = 0x00, .ins = ins, .p1 = p1, .p2 = p2, .data = data, .data_len = len, .le = le };
    size_t dummy = 0;
    return token_transceive(t, &a, resp, cap, resp_len ? resp_len : &dummy, sw);
}

static int piv_select(struct token *t)
{
    uint8_t resp[256];
    size_t n;
    uint16_t sw;
    int rc = send_apdu(t, INS_SELECT, 0x04, 0x00, piv_aid, sizeof(piv_aid), 256, resp, sizeof(resp), &n, &sw);
    if (rc != PCSC_OK)
        return rc;
    return sw_status(sw, NULL);
}

static int piv_probe(struct token *t)
{
    int rc = piv_select(t);
    if (rc != PCSC_OK)
        return rc;
    /* Probing again (after a reset) only selects: the state stays. */
    if (!t->edge_state)
        t->edge_state = calloc(1, sizeof(struct piv_edge_state));
    return t->edge_state ? PCSC_OK : PCSC_E_NOMEM;
}

/* GET DATA of one object; *out is allocated (NULL and PCSC_E_NOT_FOUND
 * when the card has no such object). Returns the 53 wrapper's content. */
static int get_data(struct token *t, uint32_t tag, uint8_t **out, size_t *out_len)
{
    uint8_t cmd[5];
    size_t n = 0;
    cmd[n++] = 0x5C;
    if (tag > 0xFFFF) {
        cmd[n++] = 3;
        cmd[n++] = (uint8_t)(tag >> 16);
    } else {
        cmd[n++] = tag > 0xFF ? 2 : 1;
    }
    if (tag > 0xFF)
        cmd[n++] = (uint8_t)(tag >> 8);
    cmd[n++] = (uint8_t)tag;
    struct pcsc_apdu a = { .ins = INS_GET_DATA, .p1 = 0x3F, .p2 = 0xFF, .data = cmd, .data_len = n,
                           .le = t->transport.extended_length ? 65536 : 256 };
    uint8_t *resp = NULL;
    size_t len = 0;
    uint16_t sw;
    *out = NULL;
    *out_len = 0;
    int rc = token_transceive_alloc(t, &a, &resp, &len, &sw);
    if (rc != PCSC_OK)
        return rc;
    rc = sw_status(sw, NULL);
    if (rc == PCSC_OK) {
        struct tlv outer;
        const uint8_t *p = resp;
        size_t left = len;
        if (tlv_next(&p, &left, &outer) != TLV_OK || left != 0) {
            rc = PCSC_E_MALFORMED;
        } else if (outer.len > 0) {
            *out = malloc(outer.len);
            if (!*out)
                rc = PCSC_E_NOMEM;
            else {
                memcpy(*out, outer.value, outer.len);
                *out_len = outer.len;
            }
        }
    }
    pcsc_apdu_free_response(resp, len);
    return rc;
}

static int piv_identify(struct token *t, struct token_info *info, uint8_t identity[32])
{
    struct piv_edge_state *s = state_of(t);
    uint8_t resp[16];
    size_t n;
    uint16_t sw;
    uint32_t serial = 0;
    bool has_serial = false;
    int rc;

    memset(info, 0, sizeof(*info));
    snprintf(info->manufacturer, sizeof(info->manufacturer), "PIV");
    snprintf(info->model, sizeof(info->model), "PIV");
    snprintf(info->applet, sizeof(info->applet), "piv");
    /* Version and serial are YubiKey extensions: other PIV cards refuse them. */
    rc = send_apdu(t, INS_GET_VERSION, 0, 0, NULL, 0, 256, resp, sizeof(resp), &n, &sw);
    if (rc != PCSC_OK)
        return rc;
    if (sw == 0x9000 && n == 3) {
        memcpy(s->version, resp, 3);
        s->has_version = true;
        info->fw_major = resp[0];
        info->fw_minor = resp[1];
        /* A YubiKey makes RSA-3072 and RSA-4096 keys from firmware 5.7 on;
         * before, RSA-2048 at most (a larger certificate is still read). */
        info->rsa_gen_max_bits = resp[0] > 5 || (resp[0] == 5 && resp[1] >= 7) ? 4096 : 2048;
        snprintf(info->manufacturer, sizeof(info->manufacturer), "Yubico (PIV)");
        snprintf(info->model, sizeof(info->model), "YubiKey PIV");
        rc = send_apdu(t, INS_GET_SERIAL, 0, 0, NULL, 0, 256, resp, sizeof(resp), &n, &sw);
        if (rc != PCSC_OK)
            return rc;
        if (sw == 0x9000 && n == 4) {
            serial = (uint32_t)resp[0] << 24 | (uint32_t)resp[1] << 16 | (uint32_t)resp[2] << 8 | resp[3];
            has_serial = true;
        }
    }
    /* A card without a serial is told apart by its CHUID's GUID (one
     * APDU a card with a serial does without). */
    uint8_t *chuid = NULL;
    size_t chuid_len = 0;
    if (!has_serial) {
        rc = get_data(t, 0x5FC102, &chuid, &chuid_len);
        if (rc != PCSC_OK && rc != PCSC_E_NOT_FOUND)
            return rc;
    }
    struct tlv guid = { 0 };
    bool has_guid = chuid && tlv_find(chuid, chuid_len, 0x34, &guid) == TLV_OK && guid.len == 16;
    if (has_serial)
        snprintf(info->serial, sizeof(info->serial), "%u", serial);
    else if (has_guid)
        for (size_t i = 0; i < 8; i++)
            snprintf(info->serial + 2 * i, 3, "%02x", guid.value[i]);
    else
        snprintf(info->serial, sizeof(info->serial), "0");

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int dlen = 0;
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(md, "piv", 3) == 1 && EVP_DigestUpdate(md, &serial, sizeof(serial)) == 1 &&
              (!chuid || EVP_DigestUpdate(md, chuid, chuid_len) == 1) && EVP_DigestFinal_ex(md, identity, &dlen) == 1;
    EVP_MD_CTX_free(md);
    free(chuid);
    snprintf(info->label, sizeof(info->label), "PIV %s", info->serial);
    return ok ? PCSC_OK : PCSC_E_NOMEM;
}

/* Fills type and size from a public key. */
static bool describe_public_key(struct token_key *k)
{
    if (EVP_PKEY_is_a(k->pub, "RSA")) {
        k->type = TOKEN_KEY_RSA;
    } else if (EVP_PKEY_is_a(k->pub, "EC")) {
        k->type = TOKEN_KEY_EC;
    } else {
        return false;
    }
    k->bits = (unsigned)EVP_PKEY_get_bits(k->pub);
    return k->bits > 0;
}

/* A public key from the card's encoding (7F49 or metadata 04 content):
 * 81 modulus and 82 exponent for RSA, 86 point for EC on curve. */
static EVP_PKEY *public_key_from_card(const uint8_t *v, size_t len, const char *curve)
{
    struct tlv a, b;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;

    if (tlv_find(v, len, 0x81, &a) == TLV_OK && tlv_find(v, len, 0x82, &b) == TLV_OK) {
        BIGNUM *nn = BN_bin2bn(a.value, (int)a.len, NULL), *e = BN_bin2bn(b.value, (int)b.len, NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (nn && e && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, "n", nn) && OSSL_PARAM_BLD_push_BN(bld, "e", e) &&
            (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1)
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(nn);
        BN_free(e);
    } else if (curve && tlv_find(v, len, 0x86, &a) == TLV_OK) {
        OSSL_PARAM params[3] = {
            OSSL_PARAM_construct_utf8_string("group", (char *)curve, 0),
            OSSL_PARAM_construct_octet_string("pub", (void *)a.value, a.len),
            OSSL_PARAM_construct_end(),
        };
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* What GET METADATA (YubiKey 5.3 and later) tells of a key: its PIN
 * policy, whether it was made on the card, and its public key. */
struct key_metadata {
    bool present;
    uint8_t pin_policy;   /* 1 never, 2 once, 3 always */
    bool generated;
    EVP_PKEY *pub;
};

static bool has_metadata(const struct piv_edge_state *s)
{
    return s->has_version && (s->version[0] > 5 || (s->version[0] == 5 && s->version[1] >= 3));
}

static int read_metadata(struct token *t, uint8_t ref, struct key_metadata *md)
{
    uint8_t resp[1024];
    size_t n;
    uint16_t sw;
    struct tlv alg, policy, origin, pub;

    memset(md, 0, sizeof(*md));
    if (!has_metadata(state_of(t)))
        return PCSC_OK;
    /* An RSA key's answer is over 256 bytes: extended length where the
     * card has it saves a GET RESPONSE. */
    int rc = send_apdu(t, INS_GET_METADATA, 0x00, ref, NULL, 0, t->transport.extended_length ? 65536 : 256, resp,
                       sizeof(resp), &n, &sw);
    if (rc != PCSC_OK || sw != 0x9000 || tlv_find(resp, n, 0x01, &alg) != TLV_OK || alg.len != 1)
        return rc;
    md->present = true;
    if (tlv_find(resp, n, 0x02, &policy) == TLV_OK && policy.len >= 1)
        md->pin_policy = policy.value[0];
    if (tlv_find(resp, n, 0x03, &origin) == TLV_OK && origin.len == 1)
        md->generated = origin.value[0] == 0x01;
    if (tlv_find(resp, n, 0x04, &pub) == TLV_OK) {
        const char *curve = alg.value[0] == 0x11 ? "P-256" : alg.value[0] == 0x14 ? "P-384" : NULL;
        md->pub = public_key_from_card(pub.value, pub.len, curve);
    }
    return PCSC_OK;
}

/* Reads one key slot: its certificate, or failing that its metadata. */
static int read_slot(struct token *t, uint8_t ref, uint8_t id, uint32_t cert_tag, const char *key_label,
                     const char *cert_label)
{
    uint8_t *obj = NULL;
    size_t len = 0;
    if (t->nkeys == TOKEN_MAX_KEYS)
        return PCSC_OK; /* unreachable (see the slot table's assertion); no APDU for it */
    int rc = get_data(t, cert_tag, &obj, &len);
    if (rc != PCSC_OK && rc != PCSC_E_NOT_FOUND)
        return rc;
    struct token_key *k = &t->keys[t->nkeys];
    memset(k, 0, sizeof(*k));
    k->ref = ref;
    k->id[0] = id;
    k->id_len = 1;
    snprintf(k->label, sizeof(k->label), "%s", key_label);
    snprintf(k->cert_label, sizeof(k->cert_label), "%s", cert_label);
    struct tlv cert, info;
    if (obj && tlv_find(obj, len, 0x70, &cert) == TLV_OK && cert.len > 0) {
        /* CertInfo 71 = 01 means gzip-compressed: not produced by kyso's
         * clients and not supported. */
        if (tlv_find(obj, len, 0x71, &info) == TLV_OK && info.len == 1 && (info.value[0] & 0x01)) {
            free(obj);
            return PCSC_OK;
        }
        const unsigned char *p = cert.value;
        X509 *x = d2i_X509(NULL, &p, (long)cert.len);
        /* A certificate whose key cannot be read is not known to be this
         * key's: the key then comes from the metadata, without it. */
        k->pub = x && p == cert.value + cert.len ? X509_get_pubkey(x) : NULL;
        if (k->pub) {
            k->cert = malloc(cert.len);
            if (k->cert) {
                memcpy(k->cert, cert.value, cert.len);
                k->cert_len = cert.len;
            }
        }
        X509_free(x);
    }
    free(obj);
    /* Metadata, where the card has it, says how the key is guarded and
     * where it was made; a key without a certificate is found this way.
     * A key with one has the PIV defaults until something needs more
     * (piv_key_details): a cold start is then its certificates only. */
    struct key_metadata md = { 0 };
    if (!k->pub)
        rc = read_metadata(t, ref, &md);
    else
        k->details_pending = has_metadata(state_of(t));
    if (rc != PCSC_OK) {
        EVP_PKEY_free(k->pub);
        free(k->cert);
        memset(k, 0, sizeof(*k));
        return rc;
    }
    if (!k->pub) {
        k->pub = md.pub;
        md.pub = NULL;
    }
    EVP_PKEY_free(md.pub);
    if (!k->pub || !describe_public_key(k)) {
        EVP_PKEY_free(k->pub);
        free(k->cert);
        memset(k, 0, sizeof(*k));
        return PCSC_OK; /* empty slot */
    }
    /* Without metadata, the PIV defaults: PIN always for 9C only. */
    k->always_authenticate = md.present && md.pin_policy ? md.pin_policy == 0x03 : ref == 0x9C;
    k->local = md.generated;
    k->sign = true;
    k->decrypt = k->type == TOKEN_KEY_RSA;
    k->derive = k->type == TOKEN_KEY_EC;
    t->nkeys++;
    return PCSC_OK;
}

static int piv_key_details(struct token *t, struct token_key *k)
{
    struct key_metadata md;
    int rc = read_metadata(t, k->ref, &md);
    if (rc != PCSC_OK)
        return rc;
    EVP_PKEY_free(md.pub);
    if (md.present && md.pin_policy)
        k->always_authenticate = md.pin_policy == 0x03;
    k->local = md.generated;
    return PCSC_OK;
}

static void add_data_object(struct token *t, uint32_t tag, const char *label, const char *oid, bool private_)
{
    if (t->nobjects == TOKEN_MAX_DATA_OBJECTS)
        return;
    struct token_data_object *o = &t->objects[t->nobjects++];
    memset(o, 0, sizeof(*o));
    o->tag = tag;
    o->private_ = private_;
    snprintf(o->label, sizeof(o->label), "%s", label);
    snprintf(o->app_oid, sizeof(o->app_oid), "%s", oid);
}

static int piv_enumerate(struct token *t)
{
    struct piv_edge_state *s = state_of(t);
    int rc;

    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
        rc = read_slot(t, slots[i].ref, slots[i].id, slots[i].cert_tag, slots[i].key_label, slots[i].cert_label);
        if (rc != PCSC_OK)
            return rc;
    }
    /* Retired slots are read only when the key history says some are
     * there: it saves 20 APDUs on most cards. */
    uint8_t *hist = NULL;
    size_t hlen = 0;
    rc = get_data(t, 0x5FC10C, &hist, &hlen);
    if (rc != PCSC_OK && rc != PCSC_E_NOT_FOUND)
        return rc;
    struct tlv on_card;
    s->retired_on_card = 0;
    if (hist && tlv_find(hist, hlen, 0xC1, &on_card) == TLV_OK && on_card.len == 1)
        s->retired_on_card = on_card.value[0];
    free(hist);
    for (uint8_t i = 0, found = 0; i < PIV_RETIRED_COUNT && found < s->retired_on_card; i++) {
        char label[TOKEN_LABEL_MAX], cert_label[TOKEN_LABEL_MAX];
        snprintf(label, sizeof(label), "RETIRED KEY %u", i + 1u);
        snprintf(cert_label, sizeof(cert_label), "Retired Certificate for Key Management %u", i + 1u);
        size_t before = t->nkeys;
        rc = read_slot(t, (uint8_t)(PIV_RETIRED_FIRST + i), (uint8_t)(0x05 + i), 0x5FC10D + i, label, cert_label);
        if (rc != PCSC_OK)
            return rc;
        found += t->nkeys > before;
    }
    /* The label of the token: the signature certificate's holder. */
    struct token_key *sign = token_find_key(t, 0x9C);
    if (!sign)
        sign = token_find_key(t, 0x9A);
    if (sign && sign->cert) {
        const unsigned char *p = sign->cert;
        X509 *x = d2i_X509(NULL, &p, (long)sign->cert_len);
        char cn[64] = "";
        if (x && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0) {
            /* Cut on a character boundary of the 32-byte label. */
            size_t n = strlen(cn);
            if (n > 32) {
                n = 32;
                while (n > 0 && ((unsigned char)cn[n] & 0xC0) == 0x80)
                    n--;
            }
            memcpy(t->info.label, cn, n);
            t->info.label[n] = '\0';
        }
        X509_free(x);
    }
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
        add_data_object(t, objects[i].tag, objects[i].label, objects[i].oid, objects[i].private_);
    return PCSC_OK;
}

static int piv_read_data_object(struct token *t, struct token_data_object *o)
{
    uint8_t *v = NULL;
    size_t len = 0;
    int rc;
    if (o->tag == 0x7E) {
        /* The discovery object is not wrapped in 53. */
        static const uint8_t cmd[] = { 0x5C, 0x01, 0x7E };
        struct pcsc_apdu a = { .ins = INS_GET_DATA, .p1 = 0x3F, .p2 = 0xFF, .data = cmd, .data_len = 3, .le = 256 };
        uint16_t sw;
        rc = token_transceive_alloc(t, &a, &v, &len, &sw);
        if (rc == PCSC_OK)
            rc = sw_status(sw, NULL);
        if (rc != PCSC_OK) {
            pcsc_apdu_free_response(v, len);
            return rc;
        }
    } else {
        rc = get_data(t, o->tag, &v, &len);
        if (rc != PCSC_OK)
            return rc;
    }
    if (o->value)
        OPENSSL_clear_free(o->value, o->len);
    o->value = v;
    o->len = len;
    o->loaded = true;
    return PCSC_OK;
}

static uint8_t pin_ref(enum token_pin_ref ref)
{
    return ref == TOKEN_PIN_SO ? 0x81 : 0x80;
}

static bool pad_pin(const uint8_t *pin, size_t len, uint8_t out[PIV_PIN_LEN])
{
    if (len == 0 || len > PIV_PIN_LEN)
        return false;
    memset(out, 0xFF, PIV_PIN_LEN);
    memcpy(out, pin, len);
    return true;
}

static int piv_pin_status(struct token *t, enum token_pin_ref ref, int *tries_left, bool *verified)
{
    uint16_t sw;
    int rc;
    *tries_left = -1;
    *verified = false;
    if (ref == TOKEN_PIN_SO) {
        /* The PUK has no VERIFY; YubiKeys report its counter in metadata. */
        uint8_t resp[64];
        size_t n;
        struct tlv tries;
        rc = send_apdu(t, INS_GET_METADATA, 0x00, 0x81, NULL, 0, 256, resp, sizeof(resp), &n, &sw);
        if (rc == PCSC_OK && sw == 0x9000 && tlv_find(resp, n, 0x06, &tries) == TLV_OK && tries.len == 2)
            *tries_left = tries.value[1];
        return rc;
    }
    rc = send_apdu(t, INS_VERIFY, 0x00, pin_ref(ref), NULL, 0, 0, NULL, 0, NULL, &sw);
    if (rc != PCSC_OK)
        return rc;
    if (sw == 0x9000) {
        *verified = true;
        return PCSC_OK;
    }
    rc = sw_status(sw, tries_left);
    if (rc == PCSC_E_PIN_BLOCKED) {
        *tries_left = 0;
        return PCSC_OK;
    }
    return rc == PCSC_E_WRONG_PIN ? PCSC_OK : rc;
}

static int piv_verify(struct token *t, enum token_pin_ref ref, const uint8_t *pin, size_t len, int *tries_left)
{
    uint8_t padded[PIV_PIN_LEN];
    uint16_t sw;
    *tries_left = -1;
    if (ref != TOKEN_PIN_USER || !pad_pin(pin, len, padded))
        return PCSC_E_INVALID_ARG;
    int rc = send_apdu(t, INS_VERIFY, 0x00, 0x80, padded, PIV_PIN_LEN, 0, NULL, 0, NULL, &sw);
    OPENSSL_cleanse(padded, sizeof(padded));
    return rc != PCSC_OK ? rc : sw_status(sw, tries_left);
}

static int piv_logout(struct token *t)
{
    uint16_t sw;
    int rc = send_apdu(t, INS_VERIFY, 0xFF, 0x80, NULL, 0, 0, NULL, 0, NULL, &sw);
    /* Older cards do not know P1=FF: a fresh SELECT drops nothing, so
     * those keep the PIN until reset, which the module then does. */
    return rc != PCSC_OK ? rc : sw_status(sw, NULL);
}

static int two_pins(struct token *t, uint8_t ins, uint8_t ref, const uint8_t *a, size_t alen, const uint8_t *b,
                    size_t blen, int *tries_left)
{
    uint8_t data[2 * PIV_PIN_LEN];
    uint16_t sw;
    *tries_left = -1;
    if (!pad_pin(a, alen, data) || !pad_pin(b, blen, data + PIV_PIN_LEN)) {
        OPENSSL_cleanse(data, sizeof(data)); /* the first may be in already */
        return PCSC_E_INVALID_ARG;
    }
    int rc = send_apdu(t, ins, 0x00, ref, data, sizeof(data), 0, NULL, 0, NULL, &sw);
    OPENSSL_cleanse(data, sizeof(data));
    return rc != PCSC_OK ? rc : sw_status(sw, tries_left);
}

static int piv_change_pin(struct token *t, enum token_pin_ref ref, const uint8_t *old_pin, size_t old_len,
                          const uint8_t *new_pin, size_t new_len, int *tries_left)
{
    return two_pins(t, INS_CHANGE_REFERENCE, pin_ref(ref), old_pin, old_len, new_pin, new_len, tries_left);
}

static int piv_unblock(struct token *t, const uint8_t *puk, size_t puk_len, const uint8_t *new_pin, size_t new_len,
                       int *tries_left)
{
    return two_pins(t, INS_RESET_RETRY, 0x80, puk, puk_len, new_pin, new_len, tries_left);
}

static uint8_t alg_of(const struct token_key *k)
{
    if (k->type == TOKEN_KEY_EC)
        return k->bits == 384 ? 0x14 : 0x11;
    switch (k->bits) {
    case 1024:
        return 0x06;
    case 3072:
        return 0x05;
    case 4096:
        return 0x16;
    default:
        return 0x07;
    }
}

/* GENERAL AUTHENTICATE with the key: 7C { 82 00, <tag> input } → the 82
 * element of the answer. VERIFY goes first when a PIN is given. */
/* One GENERAL AUTHENTICATE: IN under TAG, the response (82) into OUT. */
static int send_general_authenticate(struct token *t, const struct token_key *k, uint32_t tag, const uint8_t *in,
                                     size_t in_len, uint8_t *out, size_t *out_len)
{
    struct tlv_builder b;
    tlv_builder_init(&b);
    size_t m = tlv_begin(&b, 0x7C);
    tlv_add(&b, 0x82, NULL, 0);
    tlv_add(&b, tag, in, in_len);
    tlv_end(&b, m);
    if (tlv_builder_error(&b)) {
        tlv_builder_free(&b);
        return PCSC_E_INVALID_ARG;
    }
    struct pcsc_apdu a = { .ins = INS_GENERAL_AUTHENTICATE, .p1 = alg_of(k), .p2 = k->ref, .data = b.data,
                           .data_len = b.len, .le = t->transport.extended_length ? 65536 : 256 };
    uint8_t *resp = NULL;
    size_t len = 0;
    uint16_t sw;
    int rc = token_transceive_alloc(t, &a, &resp, &len, &sw);
    tlv_builder_free(&b);
    if (rc == PCSC_OK)
        rc = sw_status(sw, NULL);
    if (rc == PCSC_OK) {
        struct tlv outer, r;
        if (tlv_find(resp, len, 0x7C, &outer) != TLV_OK || tlv_find(outer.value, outer.len, 0x82, &r) != TLV_OK ||
            r.len > *out_len) {
            rc = PCSC_E_MALFORMED;
        } else {
            memcpy(out, r.value, r.len);
            *out_len = r.len;
        }
    }
    pcsc_apdu_free_response(resp, len);
    return rc;
}

/* The private-key operation, with the PIN right before it where one is
 * given. A PIN the card accepted moments ago (PIN_FRESH: a context login)
 * is likely still held: the operation goes first, and the PIN only if
 * the card answers that it is not (6982). */
static int general_authenticate(struct token *t, const struct token_key *k, uint32_t tag, const uint8_t *in,
                                size_t in_len, const uint8_t *pin, size_t pin_len, bool pin_fresh, uint8_t *out,
                                size_t *out_len)
{
    int tries, rc;
    size_t cap = *out_len;
    if (pin && !pin_fresh) {
        rc = piv_verify(t, TOKEN_PIN_USER, pin, pin_len, &tries);
        if (rc != PCSC_OK)
            return rc;
    }
    rc = send_general_authenticate(t, k, tag, in, in_len, out, out_len);
    if (rc == PCSC_E_SECURITY && pin && pin_fresh) {
        rc = piv_verify(t, TOKEN_PIN_USER, pin, pin_len, &tries);
        if (rc != PCSC_OK)
            return rc;
        *out_len = cap;
        rc = send_general_authenticate(t, k, tag, in, in_len, out, out_len);
    }
    return rc;
}

/* DER ECDSA-Sig-Value → r‖s, each padded to the field size. */
static int ecdsa_der_to_raw(const uint8_t *der, size_t len, unsigned bits, uint8_t *out, size_t *out_len)
{
    size_t field = (bits + 7) / 8;
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int rc = PCSC_E_MALFORMED;
    if (sig && p == der + len && *out_len >= 2 * field) {
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(sig, &r, &s);
        if (BN_bn2binpad(r, out, (int)field) == (int)field && BN_bn2binpad(s, out + field, (int)field) == (int)field) {
            *out_len = 2 * field;
            rc = PCSC_OK;
        }
    }
    ECDSA_SIG_free(sig);
    return rc;
}

static int piv_sign(struct token *t, const struct token_key *k, const struct token_sign_request *req, uint8_t *out,
                    size_t *out_len)
{
    uint8_t block[512], result[600];
    size_t mod = (k->bits + 7) / 8, rlen = sizeof(result);
    int rc;

    if (k->type == TOKEN_KEY_RSA) {
        if (mod > sizeof(block) || *out_len < mod)
            return PCSC_E_INVALID_ARG;
        switch (req->scheme) {
        case TOKEN_SIG_RSA_PKCS1:
            if (!rsa_pad_pkcs1_sign(req->in, req->in_len, block, mod))
                return PCSC_E_INVALID_ARG;
            break;
        case TOKEN_SIG_RSA_PSS:
            if ((size_t)EVP_MD_get_size(req->pss_md) != req->in_len ||
                !rsa_pad_pss(k->pub, req->in, req->pss_md, req->pss_mgf1_md, req->pss_salt_len, block))
                return PCSC_E_INVALID_ARG;
            break;
        case TOKEN_SIG_RSA_RAW:
            if (req->in_len != mod)
                return PCSC_E_INVALID_ARG;
            memcpy(block, req->in, mod);
            break;
        default:
            return PCSC_E_INVALID_ARG;
        }
        rc = general_authenticate(t, k, 0x81, block, mod, req->pin, req->pin_len, req->pin_just_verified, result,
                                  &rlen);
        OPENSSL_cleanse(block, sizeof(block));
        if (rc != PCSC_OK)
            return rc;
        if (rlen > mod) {
            OPENSSL_cleanse(result, sizeof(result));
            return PCSC_E_MALFORMED;
        }
        /* Left-pad to the modulus size, as PKCS#1 signatures are. */
        memset(out, 0, mod - rlen);
        memcpy(out + mod - rlen, result, rlen);
        *out_len = mod;
        return PCSC_OK;
    }
    if (req->scheme != TOKEN_SIG_ECDSA || req->in_len == 0)
        return PCSC_E_INVALID_ARG;
    /* ECDSA uses the leftmost field-size bytes of a longer hash. */
    size_t field = (k->bits + 7) / 8, n = req->in_len < field ? req->in_len : field;
    rc = general_authenticate(t, k, 0x81, req->in, n, req->pin, req->pin_len, req->pin_just_verified, result, &rlen);
    if (rc != PCSC_OK)
        return rc;
    return ecdsa_der_to_raw(result, rlen, k->bits, out, out_len);
}

static int piv_decrypt(struct token *t, const struct token_key *k, const uint8_t *in, size_t in_len,
                       const uint8_t *pin, size_t pin_len, uint8_t *out, size_t *out_len)
{
    size_t mod = (k->bits + 7) / 8;
    if (k->type != TOKEN_KEY_RSA || in_len != mod || *out_len < mod)
        return PCSC_E_INVALID_ARG;
    uint8_t result[600];
    size_t rlen = sizeof(result);
    int rc = general_authenticate(t, k, 0x81, in, in_len, pin, pin_len, false, result, &rlen);
    if (rc == PCSC_OK) {
        if (rlen > mod) {
            rc = PCSC_E_MALFORMED;
        } else {
            memset(out, 0, mod - rlen);
            memcpy(out + mod - rlen, result, rlen);
            *out_len = mod;
        }
    }
    OPENSSL_cleanse(result, sizeof(result));
    return rc;
}

static int piv_derive(struct token *t, const struct token_key *k, const uint8_t *point, size_t point_len,
                      const uint8_t *pin, size_t pin_len, uint8_t *out, size_t *out_len)
{
    if (k->type != TOKEN_KEY_EC)
        return PCSC_E_INVALID_ARG;
    int rc = general_authenticate(t, k, 0x85, point, point_len, pin, pin_len, false, out, out_len);
    /* The shared secret is the x coordinate, as long as the field: any
     * other length is the card's error, and a short one would make a weak
     * key of what the application takes for a secret. */
    if (rc == PCSC_OK && *out_len != (k->bits + 7) / 8) {
        OPENSSL_cleanse(out, *out_len);
        rc = PCSC_E_MALFORMED;
    }
    return rc;
}

/* Management key algorithm: from metadata where the card has it, else by
 * key length (24 bytes: 3DES, the PIV default). */
static uint8_t mgm_alg(struct token *t, size_t key_len)
{
    uint8_t resp[64];
    size_t n;
    uint16_t sw;
    struct tlv alg;
    if (send_apdu(t, INS_GET_METADATA, 0x00, 0x9B, NULL, 0, 256, resp, sizeof(resp), &n, &sw) == PCSC_OK &&
        sw == 0x9000 && tlv_find(resp, n, 0x01, &alg) == TLV_OK && alg.len == 1)
        return alg.value[0];
    return key_len == 16 ? 0x08 : key_len == 32 ? 0x0C : 0x03;
}

static const EVP_CIPHER *mgm_cipher(uint8_t alg, size_t key_len)
{
    switch (alg) {
    case 0x03:
        return key_len == 24 ? EVP_des_ede3_ecb() : NULL;
    case 0x08:
        return key_len == 16 ? EVP_aes_128_ecb() : NULL;
    case 0x0A:
        return key_len == 24 ? EVP_aes_192_ecb() : NULL;
    case 0x0C:
        return key_len == 32 ? EVP_aes_256_ecb() : NULL;
    default:
        return NULL;
    }
}

static bool ecb(const EVP_CIPHER *c, const uint8_t *key, bool enc, const uint8_t *in, uint8_t *out, size_t len)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = ctx && EVP_CipherInit_ex(ctx, c, NULL, key, NULL, enc) == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
              EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1 && EVP_CipherFinal_ex(ctx, out + n, &m) == 1 &&
              (size_t)(n + m) == len;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* Mutual authentication: the card proves it knows the key too. */
static int piv_admin_auth(struct token *t, const uint8_t *key, size_t key_len)
{
    uint8_t alg = mgm_alg(t, key_len);
    const EVP_CIPHER *c = mgm_cipher(alg, key_len);
    if (!c)
        return PCSC_E_INVALID_ARG;
    size_t block = (size_t)EVP_CIPHER_get_block_size(c);
    static const uint8_t req[] = { 0x7C, 0x02, 0x80, 0x00 };
    uint8_t resp[64], witness[16], challenge[16], step2[4 + 2 * 18], expect[16];
    size_t n;
    uint16_t sw;
    struct tlv outer, w;
    int rc = send_apdu(t, INS_GENERAL_AUTHENTICATE, alg, 0x9B, req, sizeof(req), 256, resp, sizeof(resp), &n, &sw);
    if (rc != PCSC_OK)
        return rc;
    if ((rc = sw_status(sw, NULL)) != PCSC_OK)
        return rc;
    if (tlv_find(resp, n, 0x7C, &outer) != TLV_OK || tlv_find(outer.value, outer.len, 0x80, &w) != TLV_OK ||
        w.len != block)
        return PCSC_E_MALFORMED;
    if (!ecb(c, key, false, w.value, witness, block) || RAND_bytes(challenge, (int)block) != 1) {
        OPENSSL_cleanse(witness, sizeof(witness));
        return PCSC_E_NOMEM;
    }
    size_t k = 0;
    step2[k++] = 0x7C;
    step2[k++] = (uint8_t)(4 + 2 * block);
    step2[k++] = 0x80;
    step2[k++] = (uint8_t)block;
    memcpy(step2 + k, witness, block);
    k += block;
    step2[k++] = 0x81;
    step2[k++] = (uint8_t)block;
    memcpy(step2 + k, challenge, block);
    k += block;
    rc = send_apdu(t, INS_GENERAL_AUTHENTICATE, alg, 0x9B, step2, k, 256, resp, sizeof(resp), &n, &sw);
    OPENSSL_cleanse(witness, sizeof(witness));
    OPENSSL_cleanse(step2, sizeof(step2));
    if (rc == PCSC_OK)
        rc = sw_status(sw, NULL);
    if (rc == PCSC_OK &&
        (tlv_find(resp, n, 0x7C, &outer) != TLV_OK || tlv_find(outer.value, outer.len, 0x82, &w) != TLV_OK ||
         w.len != block || !ecb(c, key, true, challenge, expect, block) || CRYPTO_memcmp(expect, w.value, block) != 0))
        rc = PCSC_E_SECURITY; /* the card does not know our key: not the card we think */
    OPENSSL_cleanse(expect, sizeof(expect));
    return rc;
}

static bool is_retired(uint8_t ref)
{
    return ref >= PIV_RETIRED_FIRST && ref < PIV_RETIRED_FIRST + PIV_RETIRED_COUNT;
}

/* The key history object says how many retired slots hold keys; readers
 * (kyso included) look at retired slots only as far as it says. Called
 * (with the management key authenticated) when a retired slot gets a key. */
static int update_key_history(struct token *t, uint8_t new_ref)
{
    uint8_t count = 1;
    for (size_t i = 0; i < t->nkeys; i++)
        if (is_retired(t->keys[i].ref) && t->keys[i].ref != new_ref)
            count++;
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add(&b, 0x5C, (uint8_t[]){ 0x5F, 0xC1, 0x0C }, 3);
    size_t m = tlv_begin(&b, 0x53);
    tlv_add_u8(&b, 0xC1, count);
    tlv_add_u8(&b, 0xC2, 0);
    tlv_add(&b, 0xFE, NULL, 0);
    tlv_end(&b, m);
    int rc = PCSC_E_NOMEM;
    if (!tlv_builder_error(&b)) {
        struct pcsc_apdu a = { .ins = INS_PUT_DATA, .p1 = 0x3F, .p2 = 0xFF, .data = b.data, .data_len = b.len };
        size_t n;
        uint16_t sw;
        rc = token_transceive(t, &a, NULL, 0, &n, &sw);
        if (rc == PCSC_OK)
            rc = sw_status(sw, NULL);
    }
    tlv_builder_free(&b);
    if (rc == PCSC_OK)
        state_of(t)->retired_on_card = count;
    return rc;
}

static int piv_generate(struct token *t, uint8_t ref, enum token_key_type type, unsigned bits, EVP_PKEY **pub)
{
    struct token_key probe = { .type = type, .bits = bits };
    uint8_t alg = alg_of(&probe);
    if ((type == TOKEN_KEY_RSA && bits != 1024 && bits != 2048 && bits != 3072 && bits != 4096) ||
        (type == TOKEN_KEY_EC && bits != 256 && bits != 384))
        return PCSC_E_INVALID_ARG;
    uint8_t data[] = { 0xAC, 0x03, 0x80, 0x01, alg };
    struct pcsc_apdu a = { .ins = INS_GENERATE, .p1 = 0x00, .p2 = ref, .data = data, .data_len = sizeof(data),
                           .le = 256 };
    uint8_t *resp = NULL;
    size_t len = 0;
    uint16_t sw;
    int rc = token_transceive_alloc(t, &a, &resp, &len, &sw);
    if (rc == PCSC_OK)
        rc = sw_status(sw, NULL);
    if (rc != PCSC_OK) {
        pcsc_apdu_free_response(resp, len);
        return rc;
    }
    struct tlv outer;
    EVP_PKEY *pkey = NULL;
    if (tlv_find(resp, len, 0x7F49, &outer) == TLV_OK)
        pkey = public_key_from_card(outer.value, outer.len,
                                    type == TOKEN_KEY_EC ? (bits == 384 ? "P-384" : "P-256") : NULL);
    pcsc_apdu_free_response(resp, len);
    if (!pkey)
        return PCSC_E_MALFORMED;
    if (is_retired(ref) && !token_find_key(t, ref) && (rc = update_key_history(t, ref)) != PCSC_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    *pub = pkey;
    return PCSC_OK;
}

static int piv_write_certificate(struct token *t, uint8_t ref, const uint8_t *der, size_t len)
{
    uint32_t tag = 0;
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
        if (slots[i].ref == ref)
            tag = slots[i].cert_tag;
    if (is_retired(ref))
        tag = 0x5FC10D + (uint32_t)(ref - PIV_RETIRED_FIRST);
    if (!tag)
        return PCSC_E_INVALID_ARG;
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add(&b, 0x5C, (uint8_t[]){ (uint8_t)(tag >> 16), (uint8_t)(tag >> 8), (uint8_t)tag }, 3);
    size_t m = tlv_begin(&b, 0x53);
    tlv_add(&b, 0x70, der, len);
    tlv_add_u8(&b, 0x71, 0x00);
    tlv_add(&b, 0xFE, NULL, 0);
    tlv_end(&b, m);
    int rc = PCSC_E_INVALID_ARG;
    if (!tlv_builder_error(&b)) {
        struct pcsc_apdu a = { .ins = INS_PUT_DATA, .p1 = 0x3F, .p2 = 0xFF, .data = b.data, .data_len = b.len };
        size_t n;
        uint16_t sw;
        rc = token_transceive(t, &a, NULL, 0, &n, &sw);
        if (rc == PCSC_OK)
            rc = sw_status(sw, NULL);
    }
    tlv_builder_free(&b);
    return rc;
}

/* YubiKeys say so in their ATR's historical bytes. */
static bool piv_atr_hint(const uint8_t *atr, size_t len)
{
    static const char yubikey[] = "YubiKey";
    for (size_t i = 0; i + sizeof(yubikey) - 1 <= len; i++)
        if (memcmp(atr + i, yubikey, sizeof(yubikey) - 1) == 0)
            return true;
    return false;
}

const struct token_edge token_edge_piv = {
    .name = "piv",
    .atr_hint = piv_atr_hint,
    .caps = TOKEN_CAP_RSA_PSS | TOKEN_CAP_RSA_RAW | TOKEN_CAP_DECRYPT | TOKEN_CAP_EC | TOKEN_CAP_GENERATE |
            TOKEN_CAP_WRITE_CERT,
    .rsa_min_bits = 1024,
    .rsa_max_bits = 4096,
    .probe = piv_probe,
    .identify = piv_identify,
    .enumerate = piv_enumerate,
    .read_data_object = piv_read_data_object,
    .key_details = piv_key_details,
    .pin_status = piv_pin_status,
    .verify = piv_verify,
    .logout = piv_logout,
    .change_pin = piv_change_pin,
    .unblock = piv_unblock,
    .sign = piv_sign,
    .decrypt = piv_decrypt,
    .derive = piv_derive,
    .admin_auth = piv_admin_auth,
    .generate = piv_generate,
    .write_certificate = piv_write_certificate,
};
