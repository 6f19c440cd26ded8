/* kyso-vtoken PIV: persistent state — personalisation, data objects,
 * saving and loading. */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vtoken/piv.h"

#define DEFAULT_PIN "123456"
#define DEFAULT_PUK "12345678"
static const uint8_t default_mgm_key[24] = {
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};
/* The firmware version a YubiKey 5 answers; clients pick features by it. */
static const uint8_t emulated_version[3] = { 5, 4, 3 };

/* Tags of the state file body (context-specific, private to this file). */
enum {
    ST_PIN = 0x80,
    ST_PUK = 0x81,
    ST_COUNTERS = 0x82,
    ST_FLAGS = 0x83,
    ST_MGM = 0x84,
    ST_SERIAL = 0x85,
    ST_VERSION = 0x86,
    ST_KEY = 0xA0,
    ST_OBJECT = 0xA1,
    /* inside ST_KEY / ST_OBJECT */
    ST_F_REF = 0x80,
    ST_F_ALG = 0x81,
    ST_F_POLICY = 0x82,
    ST_F_ORIGIN = 0x83,
    ST_F_DER = 0x84,
};

bool vt_piv_is_key_ref(uint8_t ref)
{
    return ref == PIV_REF_AUTH || ref == PIV_REF_SIGN || ref == PIV_REF_KEYMGMT || ref == PIV_REF_CARDAUTH ||
           ref == PIV_REF_ATTEST || (ref >= PIV_REF_RETIRED_FIRST && ref <= PIV_REF_RETIRED_LAST);
}

uint8_t vt_piv_default_pin_policy(uint8_t ref)
{
    switch (ref) {
    case PIV_REF_SIGN:
        return PIV_PIN_POLICY_ALWAYS;
    case PIV_REF_CARDAUTH:
    case PIV_REF_ATTEST:
        return PIV_PIN_POLICY_NEVER;
    default:
        return PIV_PIN_POLICY_ONCE;
    }
}

uint32_t vt_piv_cert_object_for(uint8_t ref)
{
    switch (ref) {
    case PIV_REF_AUTH:
        return 0x5FC105;
    case PIV_REF_SIGN:
        return 0x5FC10A;
    case PIV_REF_KEYMGMT:
        return 0x5FC10B;
    case PIV_REF_CARDAUTH:
        return 0x5FC101;
    case PIV_REF_ATTEST:
        return 0x5FFF01;
    default:
        if (ref >= PIV_REF_RETIRED_FIRST && ref <= PIV_REF_RETIRED_LAST)
            return 0x5FC10D + (uint32_t)(ref - PIV_REF_RETIRED_FIRST);
        return 0;
    }
}

void vt_piv_pad_pin(const char *pin, uint8_t out[PIV_PIN_LEN])
{
    size_t n = strlen(pin);
    memset(out, 0xFF, PIV_PIN_LEN);
    memcpy(out, pin, n < PIV_PIN_LEN ? n : PIV_PIN_LEN);
}

struct piv_object *vt_piv_object_find(struct piv_state *st, uint32_t tag)
{
    for (size_t i = 0; i < st->nobjects; i++)
        if (st->objects[i].tag == tag)
            return &st->objects[i];
    return NULL;
}

bool vt_piv_object_put(struct piv_state *st, uint32_t tag, const uint8_t *data, size_t len)
{
    struct piv_object *o = vt_piv_object_find(st, tag);

    if (len > PIV_MAX_OBJECT_SIZE)
        return false;
    if (!o) {
        if (st->nobjects == PIV_MAX_OBJECTS)
            return false;
        o = &st->objects[st->nobjects++];
        o->tag = tag;
        o->data = NULL;
        o->len = 0;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, data, len);
    free(o->data);
    o->data = copy;
    o->len = len;
    return true;
}

void vt_piv_object_delete(struct piv_state *st, uint32_t tag)
{
    struct piv_object *o = vt_piv_object_find(st, tag);
    if (!o)
        return;
    free(o->data);
    *o = st->objects[--st->nobjects];
}

static void free_keys_and_objects(struct piv_state *st)
{
    for (size_t i = 0; i < 256; i++) {
        EVP_PKEY_free(st->keys[i].pkey);
        st->keys[i].pkey = NULL;
    }
    for (size_t i = 0; i < st->nobjects; i++)
        free(st->objects[i].data);
    st->nobjects = 0;
}

/* What a YubiKey is after RESET: no keys, no objects, default secrets. */
void vt_piv_state_factory_reset(struct piv_state *st)
{
    free_keys_and_objects(st);
    vt_piv_pad_pin(DEFAULT_PIN, st->pin);
    vt_piv_pad_pin(DEFAULT_PUK, st->puk);
    st->pin_max = st->pin_left = PIV_DEFAULT_TRIES;
    st->puk_max = st->puk_left = PIV_DEFAULT_TRIES;
    st->pin_default = st->puk_default = st->mgm_default = true;
    st->mgm_alg = PIV_ALG_3DES;
    memcpy(st->mgm_key, default_mgm_key, sizeof(default_mgm_key));
    st->mgm_len = sizeof(default_mgm_key);
}

static void vt_piv_free_state(void *p)
{
    struct piv_state *st = p;
    if (!st)
        return;
    free_keys_and_objects(st);
    OPENSSL_cleanse(st, sizeof(*st));
    OPENSSL_secure_free(st);
}

static struct piv_state *new_state(void)
{
    struct piv_state *st = OPENSSL_secure_zalloc(sizeof(*st));
    if (st)
        memcpy(st->version, emulated_version, sizeof(st->version));
    return st;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "[3des|aes128|aes192|aes256:]HEX"; without a prefix 24 bytes is 3DES. */
static bool parse_mgm_key(const char *spec, struct piv_state *st)
{
    static const struct { const char *name; uint8_t alg; } algs[] = {
        { "3des:", PIV_ALG_3DES }, { "aes128:", PIV_ALG_AES128 },
        { "aes192:", PIV_ALG_AES192 }, { "aes256:", PIV_ALG_AES256 },
    };
    uint8_t alg = 0;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        size_t n = strlen(algs[i].name);
        if (strncmp(spec, algs[i].name, n) == 0) {
            alg = algs[i].alg;
            spec += n;
        }
    }
    size_t hexlen = strlen(spec);
    if (hexlen % 2 || hexlen / 2 > sizeof(st->mgm_key))
        return false;
    size_t len = hexlen / 2;
    if (!alg)
        alg = len == 16 ? PIV_ALG_AES128 : len == 32 ? PIV_ALG_AES256 : PIV_ALG_3DES;
    if (vt_piv_mgm_key_len(alg) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(spec[2 * i]), lo = hexval(spec[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        st->mgm_key[i] = (uint8_t)(hi << 4 | lo);
    }
    st->mgm_alg = alg;
    st->mgm_len = len;
    st->mgm_default = false;
    return true;
}

/* A certificate object: 70 cert, 71 CertInfo (uncompressed), FE LRC. */
static bool put_certificate(struct piv_state *st, uint8_t ref, const uint8_t *der, size_t len)
{
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add(&b, 0x70, der, len);
    tlv_add_u8(&b, 0x71, 0x00);
    tlv_add(&b, 0xFE, NULL, 0);
    bool ok = !tlv_builder_error(&b) && vt_piv_object_put(st, vt_piv_cert_object_for(ref), b.data, b.len);
    tlv_builder_free(&b);
    return ok;
}

/* CHUID with a fresh GUID: every personalised token is a different card. */
static bool put_chuid(struct piv_state *st)
{
    static const uint8_t fascn[25] = {
        0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68,
        0x58, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
    };
    uint8_t guid[16];
    if (!vt_random(guid, sizeof(guid)))
        return false;
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add(&b, 0x30, fascn, sizeof(fascn));
    tlv_add(&b, 0x34, guid, sizeof(guid));
    tlv_add(&b, 0x35, "20451231", 8);
    tlv_add(&b, 0x3E, NULL, 0);
    tlv_add(&b, 0xFE, NULL, 0);
    bool ok = !tlv_builder_error(&b) && vt_piv_object_put(st, 0x5FC102, b.data, b.len);
    tlv_builder_free(&b);
    return ok;
}

static bool put_ccc(struct piv_state *st)
{
    uint8_t card_id[21] = { 0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02 };
    if (!vt_random(card_id + 7, sizeof(card_id) - 7))
        return false;
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add(&b, 0xF0, card_id, sizeof(card_id));
    tlv_add_u8(&b, 0xF1, 0x21);
    tlv_add_u8(&b, 0xF2, 0x21);
    tlv_add(&b, 0xF3, NULL, 0);
    tlv_add_u8(&b, 0xF4, 0x00);
    tlv_add_u8(&b, 0xF5, 0x10);
    static const uint32_t empty[] = { 0xF6, 0xF7, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE };
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++)
        tlv_add(&b, empty[i], NULL, 0);
    bool ok = !tlv_builder_error(&b) && vt_piv_object_put(st, 0x5FC107, b.data, b.len);
    tlv_builder_free(&b);
    return ok;
}

/* Printed information from the signature certificate's subject. */
static bool put_printed_info(struct piv_state *st, X509 *cert, uint32_t serial)
{
    char name[126] = "", org[126] = "", serial_text[16];
    X509_NAME *subject = X509_get_subject_name(cert);
    X509_NAME_get_text_by_NID(subject, NID_commonName, name, sizeof(name));
    X509_NAME_get_text_by_NID(subject, NID_organizationName, org, sizeof(org));
    snprintf(serial_text, sizeof(serial_text), "%u", serial);
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add(&b, 0x01, name, strnlen(name, 32));
    tlv_add(&b, 0x02, org, strnlen(org, 20));
    tlv_add(&b, 0x04, "2045DEC31", 9);
    tlv_add(&b, 0x05, serial_text, strlen(serial_text));
    tlv_add(&b, 0x06, "VN-GOV-TEST", 11);
    tlv_add(&b, 0xFE, NULL, 0);
    bool ok = !tlv_builder_error(&b) && vt_piv_object_put(st, 0x5FC109, b.data, b.len);
    tlv_builder_free(&b);
    return ok;
}

/* Key history: how many retired keys have their certificate on the card.
 * Clients look at retired slots only when this says there are some. */
static bool put_key_history(struct piv_state *st)
{
    uint8_t on_card = 0;
    for (unsigned ref = PIV_REF_RETIRED_FIRST; ref <= PIV_REF_RETIRED_LAST; ref++)
        if (st->keys[ref].pkey && vt_piv_object_find(st, vt_piv_cert_object_for((uint8_t)ref)))
            on_card++;
    if (on_card == 0)
        return true;
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add_u8(&b, 0xC1, on_card);
    tlv_add_u8(&b, 0xC2, 0);
    tlv_add(&b, 0xFE, NULL, 0);
    bool ok = !tlv_builder_error(&b) && vt_piv_object_put(st, 0x5FC10C, b.data, b.len);
    tlv_builder_free(&b);
    return ok;
}

static bool load_key_file(struct piv_state *st, const struct vt_key_spec *spec, X509 **sign_cert,
                          char *err, size_t errlen)
{
    bool ok = false;
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    FILE *f = fopen(spec->key_file, "r");

    if (!f) {
        snprintf(err, errlen, "cannot open key %s", spec->key_file);
        return false;
    }
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey) {
        snprintf(err, errlen, "%s holds no readable PEM private key", spec->key_file);
        return false;
    }
    int alg = vt_piv_alg_of_pkey(pkey);
    if (alg < 0) {
        snprintf(err, errlen, "%s: key type or size not supported by PIV", spec->key_file);
        goto out;
    }
    if (spec->cert_file) {
        f = fopen(spec->cert_file, "r");
        cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        if (!cert) {
            snprintf(err, errlen, "%s holds no readable PEM certificate", spec->cert_file);
            goto out;
        }
        if (X509_check_private_key(cert, pkey) != 1) {
            snprintf(err, errlen, "%s does not belong to %s", spec->cert_file, spec->key_file);
            goto out;
        }
        unsigned char *der = NULL;
        int len = i2d_X509(cert, &der);
        bool stored = len > 0 && put_certificate(st, spec->slot, der, (size_t)len);
        OPENSSL_free(der);
        if (!stored) {
            snprintf(err, errlen, "certificate %s too large for the card", spec->cert_file);
            goto out;
        }
    }
    struct piv_key *k = &st->keys[spec->slot];
    EVP_PKEY_free(k->pkey);
    k->pkey = pkey;
    pkey = NULL;
    k->alg = (uint8_t)alg;
    k->pin_policy = vt_piv_default_pin_policy(spec->slot);
    k->touch_policy = PIV_TOUCH_POLICY_NEVER;
    k->origin = PIV_ORIGIN_IMPORTED;
    if (spec->slot == PIV_REF_SIGN && cert) {
        X509_free(*sign_cert);
        *sign_cert = cert;
        cert = NULL;
    }
    ok = true;
out:
    EVP_PKEY_free(pkey);
    X509_free(cert);
    return ok;
}

static int vt_piv_init(const struct vt_init_options *opt, void **out, char *err, size_t errlen)
{
    struct piv_state *st = new_state();
    X509 *sign_cert = NULL;

    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    vt_piv_state_factory_reset(st);
    const char *pin = opt->pin ? opt->pin : DEFAULT_PIN;
    const char *puk = opt->puk ? opt->puk : DEFAULT_PUK;
    if (strlen(pin) < 6 || strlen(pin) > 8 || strlen(puk) < 6 || strlen(puk) > 8) {
        snprintf(err, errlen, "PIV PIN and PUK are 6 to 8 characters");
        goto fail;
    }
    vt_piv_pad_pin(pin, st->pin);
    vt_piv_pad_pin(puk, st->puk);
    st->pin_default = strcmp(pin, DEFAULT_PIN) == 0;
    st->puk_default = strcmp(puk, DEFAULT_PUK) == 0;
    if (opt->mgm_key_hex && !parse_mgm_key(opt->mgm_key_hex, st)) {
        snprintf(err, errlen, "management key must be [3des|aes128|aes192|aes256:]HEX of the right length");
        goto fail;
    }
    st->serial = opt->serial;
    while (st->serial == 0 || st->serial > 99999999) {
        if (!vt_random((uint8_t *)&st->serial, sizeof(st->serial))) {
            snprintf(err, errlen, "no randomness");
            goto fail;
        }
        st->serial = 10000000 + st->serial % 90000000;
    }
    for (size_t i = 0; i < opt->nkeys; i++) {
        if (!vt_piv_is_key_ref(opt->keys[i].slot)) {
            snprintf(err, errlen, "%02X is not a PIV key slot", opt->keys[i].slot);
            goto fail;
        }
        if (!load_key_file(st, &opt->keys[i], &sign_cert, err, errlen))
            goto fail;
    }
    if (!put_chuid(st) || !put_ccc(st) || !put_key_history(st) || (sign_cert && !put_printed_info(st, sign_cert, st->serial))) {
        snprintf(err, errlen, "cannot build the card's data objects");
        goto fail;
    }
    X509_free(sign_cert);
    *out = st;
    return 0;
fail:
    X509_free(sign_cert);
    vt_piv_free_state(st);
    return -1;
}

static void vt_piv_save(const void *p, struct tlv_builder *b)
{
    const struct piv_state *st = p;

    tlv_add(b, ST_PIN, st->pin, PIV_PIN_LEN);
    tlv_add(b, ST_PUK, st->puk, PIV_PIN_LEN);
    uint8_t counters[4] = { st->pin_max, st->pin_left, st->puk_max, st->puk_left };
    tlv_add(b, ST_COUNTERS, counters, sizeof(counters));
    uint8_t flags[3] = { st->pin_default, st->puk_default, st->mgm_default };
    tlv_add(b, ST_FLAGS, flags, sizeof(flags));
    uint8_t mgm[1 + 32];
    mgm[0] = st->mgm_alg;
    memcpy(mgm + 1, st->mgm_key, st->mgm_len);
    tlv_add(b, ST_MGM, mgm, 1 + st->mgm_len);
    OPENSSL_cleanse(mgm, sizeof(mgm));
    uint8_t serial[4] = { (uint8_t)(st->serial >> 24), (uint8_t)(st->serial >> 16), (uint8_t)(st->serial >> 8),
                          (uint8_t)st->serial };
    tlv_add(b, ST_SERIAL, serial, sizeof(serial));
    tlv_add(b, ST_VERSION, st->version, sizeof(st->version));

    for (unsigned ref = 0; ref < 256; ref++) {
        const struct piv_key *k = &st->keys[ref];
        if (!k->pkey)
            continue;
        unsigned char *der = NULL;
        int len = i2d_PrivateKey(k->pkey, &der);
        if (len <= 0) {
            b->error = TLV_ERR_RANGE;
            return;
        }
        size_t m = tlv_begin(b, ST_KEY);
        tlv_add_u8(b, ST_F_REF, (uint8_t)ref);
        tlv_add_u8(b, ST_F_ALG, k->alg);
        uint8_t policy[2] = { k->pin_policy, k->touch_policy };
        tlv_add(b, ST_F_POLICY, policy, 2);
        tlv_add_u8(b, ST_F_ORIGIN, k->origin);
        tlv_add(b, ST_F_DER, der, (size_t)len);
        tlv_end(b, m);
        OPENSSL_clear_free(der, (size_t)len);
    }
    for (size_t i = 0; i < st->nobjects; i++) {
        const struct piv_object *o = &st->objects[i];
        uint8_t tag[4] = { (uint8_t)(o->tag >> 24), (uint8_t)(o->tag >> 16), (uint8_t)(o->tag >> 8),
                           (uint8_t)o->tag };
        size_t m = tlv_begin(b, ST_OBJECT);
        tlv_add(b, ST_F_REF, tag, 4);
        tlv_add(b, ST_F_DER, o->data, o->len);
        tlv_end(b, m);
    }
}

static bool field(const struct tlv *t, size_t len, void *out)
{
    if (t->len != len)
        return false;
    memcpy(out, t->value, len);
    return true;
}

static bool load_key(struct piv_state *st, const struct tlv *outer)
{
    struct tlv ref, alg, policy, origin, der;
    if (tlv_find(outer->value, outer->len, ST_F_REF, &ref) || ref.len != 1 ||
        tlv_find(outer->value, outer->len, ST_F_ALG, &alg) || alg.len != 1 ||
        tlv_find(outer->value, outer->len, ST_F_POLICY, &policy) || policy.len != 2 ||
        tlv_find(outer->value, outer->len, ST_F_ORIGIN, &origin) || origin.len != 1 ||
        tlv_find(outer->value, outer->len, ST_F_DER, &der))
        return false;
    struct piv_key *k = &st->keys[ref.value[0]];
    if (!vt_piv_is_key_ref(ref.value[0]) || k->pkey)
        return false;
    const unsigned char *p = der.value;
    EVP_PKEY *pkey = d2i_AutoPrivateKey(NULL, &p, (long)der.len);
    if (!pkey || p != der.value + der.len || vt_piv_alg_of_pkey(pkey) != alg.value[0]) {
        EVP_PKEY_free(pkey);
        return false;
    }
    k->pkey = pkey;
    k->alg = alg.value[0];
    k->pin_policy = policy.value[0];
    k->touch_policy = policy.value[1];
    k->origin = origin.value[0];
    return true;
}

static bool load_object(struct piv_state *st, const struct tlv *outer)
{
    struct tlv tag, data;
    if (tlv_find(outer->value, outer->len, ST_F_REF, &tag) || tag.len != 4 ||
        tlv_find(outer->value, outer->len, ST_F_DER, &data))
        return false;
    uint32_t t = (uint32_t)tag.value[0] << 24 | (uint32_t)tag.value[1] << 16 | (uint32_t)tag.value[2] << 8 | tag.value[3];
    return !vt_piv_object_find(st, t) && vt_piv_object_put(st, t, data.value, data.len);
}

static int vt_piv_load(const uint8_t *body, size_t len, void **out, char *err, size_t errlen)
{
    struct piv_state *st = new_state();
    struct tlv t;
    unsigned seen = 0;
    int rc;

    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while ((rc = tlv_next(&body, &len, &t)) == TLV_OK) {
        bool ok;
        uint8_t buf[33];
        switch (t.tag) {
        case ST_PIN:
            ok = field(&t, PIV_PIN_LEN, st->pin);
            break;
        case ST_PUK:
            ok = field(&t, PIV_PIN_LEN, st->puk);
            break;
        case ST_COUNTERS:
            ok = field(&t, 4, buf) && buf[1] <= buf[0] && buf[3] <= buf[2] && buf[0] && buf[2] && buf[0] <= 15 &&
                 buf[2] <= 15;
            if (ok) {
                st->pin_max = buf[0];
                st->pin_left = buf[1];
                st->puk_max = buf[2];
                st->puk_left = buf[3];
            }
            break;
        case ST_FLAGS:
            ok = field(&t, 3, buf);
            if (ok) {
                st->pin_default = buf[0];
                st->puk_default = buf[1];
                st->mgm_default = buf[2];
            }
            break;
        case ST_MGM:
            ok = t.len >= 1 && vt_piv_mgm_key_len(t.value[0]) == t.len - 1;
            if (ok) {
                st->mgm_alg = t.value[0];
                st->mgm_len = t.len - 1;
                memcpy(st->mgm_key, t.value + 1, st->mgm_len);
            }
            break;
        case ST_SERIAL:
            ok = field(&t, 4, buf);
            st->serial = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
            break;
        case ST_VERSION:
            ok = field(&t, 3, st->version);
            break;
        case ST_KEY:
            ok = load_key(st, &t);
            break;
        case ST_OBJECT:
            ok = load_object(st, &t);
            break;
        default:
            ok = false;
        }
        if (!ok) {
            snprintf(err, errlen, "PIV state: bad or repeated element %X", (unsigned)t.tag);
            goto fail;
        }
        if (t.tag < ST_KEY)
            seen |= 1u << (t.tag - ST_PIN);
    }
    if (rc != TLV_END) {
        snprintf(err, errlen, "PIV state: malformed TLV (%d)", rc);
        goto fail;
    }
    if (seen != 0x7F) {
        snprintf(err, errlen, "PIV state: required elements missing");
        goto fail;
    }
    *out = st;
    return 0;
fail:
    vt_piv_free_state(st);
    return -1;
}

static void vt_piv_describe(const void *p, char *out, size_t outlen)
{
    const struct piv_state *st = p;
    int n = snprintf(out, outlen, "personality piv, serial %u, version %u.%u.%u\nPIN tries %u/%u, PUK tries %u/%u\n",
                     st->serial, st->version[0], st->version[1], st->version[2], st->pin_left, st->pin_max,
                     st->puk_left, st->puk_max);
    for (unsigned ref = 0; ref < 256 && n > 0 && (size_t)n < outlen; ref++) {
        const struct piv_key *k = &st->keys[ref];
        if (!k->pkey)
            continue;
        n += snprintf(out + n, outlen - (size_t)n, "key %02X: alg %02X, pin policy %u, %s, certificate %s\n", ref,
                      k->alg, k->pin_policy, k->origin == PIV_ORIGIN_GENERATED ? "generated" : "imported",
                      vt_piv_object_find((struct piv_state *)st, vt_piv_cert_object_for((uint8_t)ref)) ? "yes" : "no");
    }
}

/* ATR of a YubiKey 5 (USB): clients that recognise YubiKeys by ATR do. */
static const uint8_t piv_atr[] = {
    0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
    0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40,
};

const struct vt_personality vt_personality_piv = {
    .name = "piv",
    .atr = piv_atr,
    .atr_len = sizeof(piv_atr),
    .init = vt_piv_init,
    .load = vt_piv_load,
    .save = vt_piv_save,
    .free_state = vt_piv_free_state,
    .power_on = vt_piv_power_on,
    .process = vt_piv_process,
    .describe = vt_piv_describe,
};
