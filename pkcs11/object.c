/* kyso-pkcs11.so: objects and their attributes, searching, and the
 * certificate writes an administrator may make.
 *
 * Every key on the card shows as up to three objects sharing its CKA_ID:
 * certificate, public key, private key. Data objects of the card and a
 * profile object (public-certificates token) complete the list. Nothing
 * is stored: attribute values are derived from the token's cache. */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"
#include "pkcs11/pinentry.h"

/* handle: slot+1 (8 bits) | generation (8 bits) | kind (4 bits) | index (12 bits) */
CK_OBJECT_HANDLE p11_object_handle(const struct p11_slot *slot, enum p11_object_kind kind, unsigned index)
{
    return ((CK_OBJECT_HANDLE)(slot->id + 1) << 24) | ((CK_OBJECT_HANDLE)(slot->generation & 0xFF) << 16) |
           ((CK_OBJECT_HANDLE)kind << 12) | (index & 0xFFF);
}

bool p11_object_visible(const struct p11_slot *slot, enum p11_object_kind kind, const struct token_data_object *d)
{
    bool user = slot->logged_in && slot->login == CKU_USER;
    /* Private keys hold nothing extractable: the SO sees them too (to
     * manage them); only the user may use them. */
    if (kind == OBJ_PRIVATE)
        return slot->logged_in;
    if (kind == OBJ_DATA && d && d->private_)
        return user;
    return true;
}

CK_RV p11_object_resolve(struct p11_slot *slot, CK_OBJECT_HANDLE h, enum p11_object_kind *kind,
                         struct token_key **key, struct token_data_object **data)
{
    *key = NULL;
    *data = NULL;
    if ((h >> 24) != slot->id + 1 || ((h >> 16) & 0xFF) != (slot->generation & 0xFF))
        return CKR_OBJECT_HANDLE_INVALID;
    *kind = (enum p11_object_kind)((h >> 12) & 0xF);
    unsigned index = h & 0xFFF;
    switch (*kind) {
    case OBJ_CERT:
    case OBJ_PUBLIC:
    case OBJ_PRIVATE:
        *key = index < 256 ? token_find_key(&slot->token, (uint8_t)index) : NULL;
        if (!*key || (*kind == OBJ_CERT && !(*key)->cert))
            return CKR_OBJECT_HANDLE_INVALID;
        break;
    case OBJ_DATA:
        if (index >= slot->token.nobjects)
            return CKR_OBJECT_HANDLE_INVALID;
        *data = &slot->token.objects[index];
        break;
    case OBJ_PROFILE:
        if (index != 0)
            return CKR_OBJECT_HANDLE_INVALID;
        break;
    case OBJ_SECRET:
        if (index >= P11_MAX_SECRETS || !slot->secrets[index].used)
            return CKR_OBJECT_HANDLE_INVALID;
        /* A private secret is the user's: seen only while logged in. */
        if (slot->secrets[index].private_ && !(slot->logged_in && slot->login == CKU_USER))
            return CKR_OBJECT_HANDLE_INVALID;
        break;
    case OBJ_CA_CERT:
        if (index >= slot->token.ncerts)
            return CKR_OBJECT_HANDLE_INVALID;
        break;
    default:
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (!p11_object_visible(slot, *kind, *data))
        return CKR_OBJECT_HANDLE_INVALID;
    return CKR_OK;
}

struct p11_secret_object *p11_secret_object_of(struct p11_slot *slot, CK_OBJECT_HANDLE h)
{
    unsigned index = h & 0xFFF;
    if (((h >> 12) & 0xF) != OBJ_SECRET || index >= P11_MAX_SECRETS || !slot->secrets[index].used)
        return NULL;
    return &slot->secrets[index];
}

void p11_secret_objects_drop(struct p11_slot *slot, CK_SESSION_HANDLE owner)
{
    for (size_t i = 0; i < P11_MAX_SECRETS; i++) {
        if (slot->secrets[i].used && (!owner || slot->secrets[i].owner == owner)) {
            OPENSSL_cleanse(&slot->secrets[i], sizeof(slot->secrets[i]));
            slot->secrets[i].used = false;
        }
    }
}

/* ------------------------------------------------------- attribute values */

enum attr_state { ATTR_OK, ATTR_INVALID, ATTR_SENSITIVE };

struct attr_value {
    const void *ptr;
    size_t len;
    uint8_t small[64];
    uint8_t *owned; /* freed (and wiped) after use */
};

static enum attr_state put_ulong(struct attr_value *v, CK_ULONG x)
{
    memcpy(v->small, &x, sizeof(x));
    v->ptr = v->small;
    v->len = sizeof(x);
    return ATTR_OK;
}

static enum attr_state put_bool(struct attr_value *v, bool b)
{
    v->small[0] = b ? CK_TRUE : CK_FALSE;
    v->ptr = v->small;
    v->len = sizeof(CK_BBOOL);
    return ATTR_OK;
}

static enum attr_state put_bytes(struct attr_value *v, const void *p, size_t len)
{
    v->ptr = len ? p : v->small;
    v->len = len;
    return ATTR_OK;
}

/* Takes ownership of a buffer from OpenSSL's i2d functions. */
static enum attr_state put_owned(struct attr_value *v, unsigned char *der, int len)
{
    if (len < 0 || !der)
        return ATTR_INVALID;
    v->owned = der;
    v->ptr = der;
    v->len = (size_t)len;
    return ATTR_OK;
}

/* A certificate object's content: a key's certificate or one of the chain. */
struct cert_view {
    const uint8_t *der;
    size_t len;
    const uint8_t *id;
    size_t id_len;
    const char *label;
    CK_ULONG category;   /* 1 token user, 2 authority, 0 unspecified */
};

static X509 *parse_der(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    return der ? d2i_X509(NULL, &p, (long)len) : NULL;
}

static X509 *parse_cert(const struct token_key *k)
{
    return parse_der(k->cert, k->cert_len);
}

static struct cert_view view_of_key(const struct token_key *k)
{
    return (struct cert_view){ k->cert, k->cert_len, k->id, k->id_len, k->cert_label, 1 };
}

static struct cert_view view_of_chain(const struct token_cert *c)
{
    return (struct cert_view){ c->der, c->len, c->id, c->id_len, c->label, c->authority ? 2 : 0 };
}

static enum attr_state put_date(struct attr_value *v, const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return ATTR_INVALID;
    char buf[32];
    snprintf(buf, sizeof(buf), "%04d%02d%02d", tm.tm_year + 1900, (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
    memcpy(v->small, buf, 8); /* CK_DATE: YYYYMMDD, no terminator */
    v->ptr = v->small;
    v->len = 8;
    return ATTR_OK;
}

static enum attr_state cert_attribute(const struct cert_view *c, CK_ATTRIBUTE_TYPE type, struct attr_value *v)
{
    X509 *x = NULL;
    enum attr_state st = ATTR_OK;
    unsigned char *der = NULL;

    switch (type) {
    case CKA_CERTIFICATE_TYPE:
        return put_ulong(v, CKC_X_509);
    case CKA_TRUSTED:
        return put_bool(v, false);
    case CKA_CERTIFICATE_CATEGORY:
        return put_ulong(v, c->category);
    case CKA_ID:
        return put_bytes(v, c->id, c->id_len);
    case CKA_LABEL:
        return put_bytes(v, c->label, strlen(c->label));
    case CKA_VALUE:
        return put_bytes(v, c->der, c->len);
    case CKA_URL:
    case CKA_HASH_OF_SUBJECT_PUBLIC_KEY:
    case CKA_HASH_OF_ISSUER_PUBLIC_KEY:
        return put_bytes(v, NULL, 0);
    case CKA_JAVA_MIDP_SECURITY_DOMAIN:
        return put_ulong(v, 0);
    case CKA_NAME_HASH_ALGORITHM:
        return put_ulong(v, CKM_SHA_1);
    case CKA_CHECK_VALUE: {
        uint8_t md[20];
        unsigned int n = 0;
        if (EVP_Digest(c->der, c->len, md, &n, EVP_sha1(), NULL) != 1)
            return ATTR_INVALID;
        memcpy(v->small, md, 3);
        v->ptr = v->small;
        v->len = 3;
        return ATTR_OK;
    }
    default:
        break;
    }
    x = parse_der(c->der, c->len);
    if (!x)
        return ATTR_INVALID;
    switch (type) {
    case CKA_SUBJECT:
        st = put_owned(v, der, i2d_X509_NAME(X509_get_subject_name(x), &der));
        break;
    case CKA_ISSUER:
        st = put_owned(v, der, i2d_X509_NAME(X509_get_issuer_name(x), &der));
        break;
    case CKA_SERIAL_NUMBER:
        st = put_owned(v, der, i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &der));
        break;
    case CKA_START_DATE:
        st = put_date(v, X509_get0_notBefore(x));
        break;
    case CKA_END_DATE:
        st = put_date(v, X509_get0_notAfter(x));
        break;
    default:
        st = ATTR_INVALID;
    }
    X509_free(x);
    return st;
}

/* C_DeriveKey is a single call, with no C_*Init for a context login to
 * follow: a key that wants its PIN for every use (9C) can derive only if
 * the PIN can be asked for on the protected path (pinentry). CKA_DERIVE
 * says so rather than promising a derivation C_DeriveKey refuses. */
static bool derive_possible(const struct token_key *k)
{
    char program[256];
    int timeout_s = 0;
    return !p11_key_pin_always(k) || (p11_rules_pinentry(program, sizeof(program), &timeout_s) && p11_pinentry_possible());
}

/* Public attributes of a key, shared by the public and private objects. */
static enum attr_state key_public_attribute(const struct token_key *k, CK_ATTRIBUTE_TYPE type,
                                            struct attr_value *v)
{
    unsigned char *der = NULL;
    switch (type) {
    case CKA_KEY_TYPE:
        return put_ulong(v, k->type == TOKEN_KEY_RSA ? CKK_RSA : CKK_EC);
    case CKA_ID:
        return put_bytes(v, k->id, k->id_len);
    case CKA_START_DATE:
    case CKA_END_DATE:
        return put_bytes(v, NULL, 0);
    case CKA_LOCAL:
        return put_bool(v, k->local);
    case CKA_KEY_GEN_MECHANISM:
        return put_ulong(v, k->local ? (k->type == TOKEN_KEY_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN)
                                     : CK_UNAVAILABLE_INFORMATION);
    case CKA_DERIVE:
        return put_bool(v, k->derive && p11_key_usage_allows(k, P11_DERIVE) && derive_possible(k));
    case CKA_SUBJECT: {
        X509 *x = parse_cert(k);
        if (!x)
            return put_bytes(v, NULL, 0);
        enum attr_state st = put_owned(v, der, i2d_X509_NAME(X509_get_subject_name(x), &der));
        X509_free(x);
        return st;
    }
    case CKA_PUBLIC_KEY_INFO:
        return put_owned(v, der, i2d_PUBKEY(k->pub, &der));
    default:
        break;
    }
    if (k->type == TOKEN_KEY_RSA) {
        BIGNUM *bn = NULL;
        const char *param = type == CKA_MODULUS ? "n" : type == CKA_PUBLIC_EXPONENT ? "e" : NULL;
        if (type == CKA_MODULUS_BITS)
            return put_ulong(v, k->bits);
        if (!param || !EVP_PKEY_get_bn_param(k->pub, param, &bn))
            return ATTR_INVALID;
        int n = BN_num_bytes(bn);
        uint8_t *buf = OPENSSL_malloc((size_t)(n ? n : 1));
        if (!buf) {
            BN_free(bn);
            return ATTR_INVALID;
        }
        BN_bn2bin(bn, buf);
        BN_free(bn);
        return put_owned(v, buf, n);
    }
    if (type == CKA_EC_PARAMS) {
        char group[32];
        if (!EVP_PKEY_get_utf8_string_param(k->pub, "group", group, sizeof(group), NULL))
            return ATTR_INVALID;
        ASN1_OBJECT *oid = OBJ_txt2obj(group, 0);
        if (!oid)
            oid = OBJ_nid2obj(OBJ_sn2nid(group));
        enum attr_state st = oid ? put_owned(v, der, i2d_ASN1_OBJECT(oid, &der)) : ATTR_INVALID;
        ASN1_OBJECT_free(oid);
        return st;
    }
    if (type == CKA_EC_POINT) {
        /* DER OCTET STRING around the uncompressed point, as PKCS#11 says. */
        uint8_t point[1 + 2 * 66];
        size_t plen = 0;
        if (!EVP_PKEY_get_octet_string_param(k->pub, "encoded-pub-key", point, sizeof(point), &plen))
            return ATTR_INVALID;
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        enum attr_state st = ATTR_INVALID;
        if (os && ASN1_OCTET_STRING_set(os, point, (int)plen))
            st = put_owned(v, der, i2d_ASN1_OCTET_STRING(os, &der));
        ASN1_OCTET_STRING_free(os);
        return st;
    }
    return ATTR_INVALID;
}

static enum attr_state secret_attribute(const struct p11_secret_object *sec, CK_ATTRIBUTE_TYPE type,
                                        struct attr_value *v)
{
    switch (type) {
    case CKA_CLASS:
        return put_ulong(v, CKO_SECRET_KEY);
    case CKA_KEY_TYPE:
        return put_ulong(v, CKK_GENERIC_SECRET);
    case CKA_PRIVATE:
        return put_bool(v, sec->private_);
    case CKA_TOKEN:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_LOCAL:
        return put_bool(v, false);
    case CKA_DESTROYABLE:
    case CKA_DERIVE:
        return put_bool(v, true);
    case CKA_SENSITIVE:
    case CKA_ALWAYS_SENSITIVE:
        return put_bool(v, sec->sensitive);
    case CKA_EXTRACTABLE:
        return put_bool(v, sec->extractable);
    case CKA_NEVER_EXTRACTABLE:
        return put_bool(v, !sec->extractable);
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_SIGN:
    case CKA_VERIFY:
    case CKA_WRAP:
    case CKA_UNWRAP:
        return put_bool(v, false);
    case CKA_VALUE_LEN:
        return put_ulong(v, sec->len);
    case CKA_VALUE:
        if (sec->sensitive || !sec->extractable)
            return ATTR_SENSITIVE;
        return put_bytes(v, sec->value, sec->len);
    case CKA_LABEL:
        return put_bytes(v, sec->label, strlen(sec->label));
    case CKA_ID:
    case CKA_START_DATE:
    case CKA_END_DATE:
        return put_bytes(v, NULL, 0);
    case CKA_KEY_GEN_MECHANISM:
        return put_ulong(v, CKM_ECDH1_DERIVE);
    default:
        return ATTR_INVALID;
    }
}

static enum attr_state get_attribute(struct p11_slot *slot, enum p11_object_kind kind, struct token_key *k,
                                     struct token_data_object *d, CK_ATTRIBUTE_TYPE type, struct attr_value *v);

/* Certificates of the chain: common attributes as for every certificate. */
static enum attr_state chain_attribute(struct p11_slot *slot, const struct token_cert *c, CK_ATTRIBUTE_TYPE type,
                                       struct attr_value *v)
{
    struct cert_view view = view_of_chain(c);
    switch (type) {
    case CKA_CLASS:
    case CKA_TOKEN:
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
        return get_attribute(slot, OBJ_CERT, NULL, NULL, type, v);
    default:
        return cert_attribute(&view, type, v);
    }
}

static enum attr_state get_attribute(struct p11_slot *slot, enum p11_object_kind kind, struct token_key *k,
                                     struct token_data_object *d, CK_ATTRIBUTE_TYPE type, struct attr_value *v)
{
    /* What the card tells of a key only when asked: asked now, once. If
     * the card cannot answer, the PIV defaults stand. */
    if (k && k->details_pending && (kind == OBJ_PRIVATE || kind == OBJ_PUBLIC)) {
        if (type == CKA_ALWAYS_AUTHENTICATE || type == CKA_DERIVE)
            (void)p11_key_learn_pin_policy(slot, k);
        else if (type == CKA_LOCAL || type == CKA_KEY_GEN_MECHANISM)
            (void)p11_slot_key_details(slot, k);
    }
    /* Attributes every object has. */
    switch (type) {
    case CKA_CLASS: {
        static const CK_OBJECT_CLASS classes[] = { 0, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_DATA,
                                                   CKO_PROFILE, CKO_SECRET_KEY, CKO_CERTIFICATE };
        return put_ulong(v, classes[kind]);
    }
    case CKA_TOKEN:
        return put_bool(v, true);
    case CKA_PRIVATE:
        return put_bool(v, kind == OBJ_PRIVATE || (kind == OBJ_DATA && d->private_));
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
        return put_bool(v, false);
    case CKA_LABEL:
        switch (kind) {
        case OBJ_CERT:
            return put_bytes(v, k->cert_label, strlen(k->cert_label));
        case OBJ_PUBLIC:
        case OBJ_PRIVATE:
            return put_bytes(v, k->label, strlen(k->label));
        case OBJ_DATA:
            return put_bytes(v, d->label, strlen(d->label));
        default:
            return put_bytes(v, "public certificates token", 25);
        }
    default:
        break;
    }
    switch (kind) {
    case OBJ_CERT: {
        struct cert_view c = view_of_key(k);
        return cert_attribute(&c, type, v);
    }
    case OBJ_CA_CERT:
        return ATTR_INVALID; /* chain_attribute() answers for these */
    case OBJ_PUBLIC:
        switch (type) {
        case CKA_ENCRYPT:
            return put_bool(v, k->decrypt);
        case CKA_VERIFY:
            return put_bool(v, k->sign);
        case CKA_VERIFY_RECOVER:
        case CKA_WRAP:
        case CKA_TRUSTED:
            return put_bool(v, false);
        default:
            return key_public_attribute(k, type, v);
        }
    case OBJ_PRIVATE:
        switch (type) {
        case CKA_SENSITIVE:
        case CKA_ALWAYS_SENSITIVE:
        case CKA_NEVER_EXTRACTABLE:
            return put_bool(v, true);
        case CKA_EXTRACTABLE:
        case CKA_SIGN_RECOVER:
        case CKA_UNWRAP:
        case CKA_WRAP_WITH_TRUSTED:
            return put_bool(v, false);
        case CKA_DECRYPT: /* what the card can do, within what the certificate allows (M12) */
            return put_bool(v, k->decrypt && p11_key_usage_allows(k, P11_DECRYPT));
        case CKA_SIGN:
            return put_bool(v, k->sign && p11_key_usage_allows(k, P11_SIGN));
        case CKA_ALWAYS_AUTHENTICATE:
            return put_bool(v, p11_key_pin_always(k));
        case CKA_VALUE:
        case CKA_PRIVATE_EXPONENT:
        case CKA_PRIME_1:
        case CKA_PRIME_2:
        case CKA_EXPONENT_1:
        case CKA_EXPONENT_2:
        case CKA_COEFFICIENT:
            return (k->type == TOKEN_KEY_RSA) == (type != CKA_VALUE) ? ATTR_SENSITIVE : ATTR_INVALID;
        default:
            return key_public_attribute(k, type, v);
        }
    case OBJ_DATA:
        switch (type) {
        case CKA_APPLICATION:
            return put_bytes(v, d->label, strlen(d->label));
        case CKA_OBJECT_ID: {
            unsigned char *der = NULL;
            ASN1_OBJECT *oid = OBJ_txt2obj(d->app_oid, 1);
            enum attr_state st = oid ? put_owned(v, der, i2d_ASN1_OBJECT(oid, &der)) : ATTR_INVALID;
            ASN1_OBJECT_free(oid);
            return st;
        }
        case CKA_VALUE:
            if (!d->loaded) {
                if (p11_slot_begin(slot) != CKR_OK)
                    return ATTR_INVALID;
                int rc = slot->token.edge->read_data_object(&slot->token, d);
                p11_slot_end(slot);
                if (rc == PCSC_E_NOT_FOUND) {
                    d->loaded = true; /* the card has none: empty value */
                } else if (rc != PCSC_OK) {
                    return ATTR_INVALID;
                }
            }
            return put_bytes(v, d->value, d->len);
        default:
            return ATTR_INVALID;
        }
    case OBJ_PROFILE:
        if (type == CKA_PROFILE_ID)
            return put_ulong(v, CKP_PUBLIC_CERTIFICATES_TOKEN);
        return ATTR_INVALID;
    case OBJ_SECRET:
        return ATTR_INVALID; /* secret_attribute() answers for these */
    }
    return ATTR_INVALID;
}

static void attr_free(struct attr_value *v)
{
    if (v->owned)
        OPENSSL_clear_free(v->owned, v->len);
    v->owned = NULL;
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                          CK_ULONG ulCount)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (!pTemplate && ulCount) {
        p11_slot_unlock(slot);
        return CKR_ARGUMENTS_BAD;
    }
    enum p11_object_kind kind;
    struct token_key *k;
    struct token_data_object *d;
    rv = p11_object_resolve(slot, hObject, &kind, &k, &d);
    if (rv != CKR_OK) {
        p11_slot_unlock(slot);
        return rv;
    }
    struct p11_secret_object *sec = kind == OBJ_SECRET ? p11_secret_object_of(slot, hObject) : NULL;
    const struct token_cert *chain = kind == OBJ_CA_CERT ? &slot->token.certs[hObject & 0xFFF] : NULL;
    /* Every attribute is processed; the result says what went wrong with
     * any of them (PKCS#11 2.40 §5.7, C_GetAttributeValue). */
    for (CK_ULONG i = 0; i < ulCount; i++) {
        struct attr_value v = { 0 };
        enum attr_state st = sec     ? secret_attribute(sec, pTemplate[i].type, &v)
                             : chain ? chain_attribute(slot, chain, pTemplate[i].type, &v)
                                     : get_attribute(slot, kind, k, d, pTemplate[i].type, &v);
        if (st == ATTR_SENSITIVE) {
            pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_SENSITIVE;
        } else if (st == ATTR_INVALID) {
            pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (!pTemplate[i].pValue) {
            pTemplate[i].ulValueLen = v.len;
        } else if (pTemplate[i].ulValueLen < v.len) {
            pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            if (v.len)
                memcpy(pTemplate[i].pValue, v.ptr, v.len);
            pTemplate[i].ulValueLen = v.len;
        }
        attr_free(&v);
    }
    p11_slot_unlock(slot);
    return rv;
}

/* ------------------------------------------------------------- searching */

static bool matches_any(struct p11_slot *slot, enum p11_object_kind kind, struct token_key *k,
                        struct token_data_object *d, const struct token_cert *chain, const CK_ATTRIBUTE *tmpl,
                        CK_ULONG count)
{
    for (CK_ULONG i = 0; i < count; i++) {
        /* A data object's value would cost APDUs: only read it when asked for. */
        struct attr_value v = { 0 };
        enum attr_state st = chain ? chain_attribute(slot, chain, tmpl[i].type, &v)
                                   : get_attribute(slot, kind, k, d, tmpl[i].type, &v);
        bool same = st == ATTR_OK && v.len == tmpl[i].ulValueLen &&
                    (v.len == 0 || (tmpl[i].pValue && memcmp(v.ptr, tmpl[i].pValue, v.len) == 0));
        attr_free(&v);
        if (!same)
            return false;
    }
    return true;
}

static bool matches(struct p11_slot *slot, enum p11_object_kind kind, struct token_key *k,
                    struct token_data_object *d, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    return matches_any(slot, kind, k, d, NULL, tmpl, count);
}

static void add_found(struct p11_operation *op, CK_OBJECT_HANDLE h)
{
    if (op->nfound < sizeof(op->found) / sizeof(op->found[0]))
        op->found[op->nfound++] = h;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (!pTemplate && ulCount) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    if (s->find.kind != OP_NONE) {
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    rv = p11_slot_enumerate(slot);
    if (rv != CKR_OK)
        goto out;
    struct p11_operation *op = &s->find;
    p11_op_reset(op);
    op->kind = OP_FIND;
    for (size_t i = 0; i < slot->token.nkeys; i++) {
        struct token_key *k = &slot->token.keys[i];
        if (k->cert && matches(slot, OBJ_CERT, k, NULL, pTemplate, ulCount))
            add_found(op, p11_object_handle(slot, OBJ_CERT, k->ref));
        if (matches(slot, OBJ_PUBLIC, k, NULL, pTemplate, ulCount))
            add_found(op, p11_object_handle(slot, OBJ_PUBLIC, k->ref));
        if (p11_object_visible(slot, OBJ_PRIVATE, NULL) && matches(slot, OBJ_PRIVATE, k, NULL, pTemplate, ulCount))
            add_found(op, p11_object_handle(slot, OBJ_PRIVATE, k->ref));
    }
    for (size_t i = 0; i < slot->token.nobjects; i++) {
        struct token_data_object *d = &slot->token.objects[i];
        if (p11_object_visible(slot, OBJ_DATA, d) && matches(slot, OBJ_DATA, NULL, d, pTemplate, ulCount))
            add_found(op, p11_object_handle(slot, OBJ_DATA, (unsigned)i));
    }
    for (size_t i = 0; i < slot->token.ncerts; i++)
        if (matches_any(slot, OBJ_CA_CERT, NULL, NULL, &slot->token.certs[i], pTemplate, ulCount))
            add_found(op, p11_object_handle(slot, OBJ_CA_CERT, (unsigned)i));
    if (matches(slot, OBJ_PROFILE, NULL, NULL, pTemplate, ulCount))
        add_found(op, p11_object_handle(slot, OBJ_PROFILE, 0));
out:
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount,
                    CK_ULONG_PTR pulObjectCount)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (!phObject || !pulObjectCount) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (s->find.kind != OP_FIND) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else {
        struct p11_operation *op = &s->find;
        CK_ULONG n = 0;
        while (n < ulMaxObjectCount && op->found_pos < op->nfound)
            phObject[n++] = op->found[op->found_pos++];
        *pulObjectCount = n;
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (s->find.kind != OP_FIND)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        p11_op_reset(&s->find);
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    enum p11_object_kind kind;
    struct token_key *k;
    struct token_data_object *d;
    if (!pulSize)
        rv = CKR_ARGUMENTS_BAD;
    else if ((rv = p11_object_resolve(slot, hObject, &kind, &k, &d)) == CKR_OK)
        *pulSize = CK_UNAVAILABLE_INFORMATION;
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                          CK_ULONG ulCount)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    enum p11_object_kind kind;
    struct token_key *k;
    struct token_data_object *d;
    if (!pTemplate && ulCount)
        rv = CKR_ARGUMENTS_BAD;
    else if ((rv = p11_object_resolve(slot, hObject, &kind, &k, &d)) == CKR_OK) {
        /* M2: the card's objects are not modifiable */
        p11_audit_note_rule(slot, "refusal", k, CKR_ACTION_PROHIBITED, "M2", "C_SetAttributeValue on a token object");
        rv = CKR_ACTION_PROHIBITED;
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    enum p11_object_kind kind;
    struct token_key *k;
    struct token_data_object *d;
    if (!phNewObject || (!pTemplate && ulCount))
        rv = CKR_ARGUMENTS_BAD;
    else if ((rv = p11_object_resolve(slot, hObject, &kind, &k, &d)) == CKR_OK) {
        /* M2 and M3: no copy of a token object */
        p11_audit_note_rule(slot, "refusal", k, CKR_ACTION_PROHIBITED, kind == OBJ_PRIVATE ? "M3" : "M2",
                            "C_CopyObject on a token object");
        rv = CKR_ACTION_PROHIBITED;
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    enum p11_object_kind kind;
    struct token_key *k;
    struct token_data_object *d;
    if ((rv = p11_object_resolve(slot, hObject, &kind, &k, &d)) == CKR_OK) {
        struct p11_secret_object *sec = kind == OBJ_SECRET ? p11_secret_object_of(slot, hObject) : NULL;
        if (sec) {
            OPENSSL_cleanse(sec, sizeof(*sec));
            sec->used = false;
        } else {
            /* M2: the card's objects stay */
            p11_audit_note_rule(slot, "refusal", k, CKR_ACTION_PROHIBITED, "M2", "C_DestroyObject on a token object");
            rv = CKR_ACTION_PROHIBITED;
        }
    }
    p11_slot_unlock(slot);
    return rv;
}

/* Finds an attribute in a template. */
const CK_ATTRIBUTE *p11_template_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
    for (CK_ULONG i = 0; t && i < n; i++)
        if (t[i].type == type)
            return &t[i];
    return NULL;
}

/* The SO (management key) writes a certificate for one of the card's keys:
 * CKO_CERTIFICATE, CKC_X_509, CKA_TOKEN true, CKA_VALUE, and CKA_ID of the
 * key it belongs to (or whose public key matches the certificate). */
CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                     CK_OBJECT_HANDLE_PTR phObject)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    X509 *x = NULL;
    if (!pTemplate || !ulCount || !phObject) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    const CK_ATTRIBUTE *cls = p11_template_find(pTemplate, ulCount, CKA_CLASS);
    const CK_ATTRIBUTE *tok = p11_template_find(pTemplate, ulCount, CKA_TOKEN);
    const CK_ATTRIBUTE *val = p11_template_find(pTemplate, ulCount, CKA_VALUE);
    const CK_ATTRIBUTE *id = p11_template_find(pTemplate, ulCount, CKA_ID);
    if (!cls || cls->ulValueLen != sizeof(CK_OBJECT_CLASS) || !cls->pValue) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        goto out;
    }
    if (*(CK_OBJECT_CLASS *)cls->pValue != CKO_CERTIFICATE || !tok || tok->ulValueLen != sizeof(CK_BBOOL) ||
        !tok->pValue || !*(CK_BBOOL *)tok->pValue) {
        /* Only certificates, stored on the card, can be created. */
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto out;
    }
    if (!(s->flags & CKF_RW_SESSION)) {
        rv = CKR_SESSION_READ_ONLY;
        goto out;
    }
    if (!(slot->token.edge->caps & TOKEN_CAP_WRITE_CERT)) {
        rv = CKR_FUNCTION_NOT_SUPPORTED; /* this card's certificates are written by the CA only */
        goto out;
    }
    if (!slot->logged_in || slot->login != CKU_SO || !slot->so_is_mgm_key) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    if (!val || !val->pValue || !val->ulValueLen) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        goto out;
    }
    const unsigned char *p = val->pValue;
    x = d2i_X509(NULL, &p, (long)val->ulValueLen);
    if (!x || p != (const unsigned char *)val->pValue + val->ulValueLen) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    rv = p11_slot_enumerate(slot);
    if (rv != CKR_OK)
        goto out;
    /* The key this certificate is for: by CKA_ID, else by public key. */
    struct token_key *key = NULL;
    EVP_PKEY *cert_pub = X509_get0_pubkey(x);
    for (size_t i = 0; i < slot->token.nkeys && !key; i++) {
        struct token_key *k = &slot->token.keys[i];
        if (id && id->pValue && id->ulValueLen == k->id_len && memcmp(id->pValue, k->id, k->id_len) == 0)
            key = k;
        else if (!id && cert_pub && EVP_PKEY_eq(k->pub, cert_pub) == 1)
            key = k;
    }
    if (!key || (cert_pub && EVP_PKEY_eq(key->pub, cert_pub) != 1)) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto out;
    }
    uint8_t ref = key->ref;
    if ((rv = p11_rules_admin_write(slot, "writing a certificate to the token", key)) != CKR_OK)
        goto out;
    rv = p11_slot_begin(slot);
    if (rv != CKR_OK)
        goto out;
    int rc = slot->token.edge->admin_auth(&slot->token, slot->so_secret.data, slot->so_secret.len);
    if (rc == PCSC_OK)
        rc = slot->token.edge->write_certificate(&slot->token, ref, val->pValue, val->ulValueLen);
    /* Read the card again so the new object shows. */
    slot->token.enumerated = false;
    if (rc == PCSC_OK)
        rc = token_enumerate(&slot->token);
    p11_slot_end(slot);
    rv = p11_rv_from_pcsc(rc);
    if (rv == CKR_OK)
        *phObject = p11_object_handle(slot, OBJ_CERT, ref);
    p11_debug("C_CreateObject: certificate for key %02X: 0x%lx", ref, rv);
    p11_audit_note(slot, "object_create", token_find_key(&slot->token, ref), rv, "certificate written to the card");
out:
    X509_free(x);
    p11_slot_unlock(slot);
    return rv;
}
