/* kyso-pkcs11.so: digests and random numbers (software), ECDH key
 * derivation and key-pair generation (on the card). */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "pkcs11/internal.h"

/* ---------------------------------------------------------------- digest */

CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_begin_op(hSession, OP_DIGEST, pMechanism != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    const struct p11_mechanism *m = p11_mechanism_find(pMechanism->mechanism);
    if (!m || !(m->flags & CKF_DIGEST)) {
        rv = CKR_MECHANISM_INVALID;
    } else {
        p11_op_reset(op);
        op->kind = OP_DIGEST;
        op->mechanism = m->type;
        op->md = EVP_MD_CTX_new();
        if (!op->md || EVP_DigestInit_ex(op->md, EVP_get_digestbyname(m->digest), NULL) != 1) {
            p11_op_reset(op);
            rv = CKR_HOST_MEMORY;
        }
    }
    p11_slot_unlock(slot);
    return rv;
}

static CK_RV digest_final(struct p11_operation *op, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    size_t need = (size_t)EVP_MD_CTX_get_size(op->md);
    if (!pDigest) {
        *pulDigestLen = need;
        return CKR_OK;
    }
    if (*pulDigestLen < need) {
        *pulDigestLen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    unsigned int n = 0;
    CK_RV rv = EVP_DigestFinal_ex(op->md, pDigest, &n) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
    *pulDigestLen = n;
    p11_op_reset(op);
    return rv;
}

CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pDigest,
               CK_ULONG_PTR pulDigestLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_continue_op(hSession, OP_DIGEST, pulDigestLen && (pData || !ulDataLen), &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if (p11_op_mixed(op, true)) {
        rv = CKR_OPERATION_ACTIVE;
    } else {
        if (!op->absorbed) {
            op->absorbed = true;
            if (EVP_DigestUpdate(op->md, pData, ulDataLen) != 1)
                rv = CKR_FUNCTION_FAILED;
        }
        rv = rv == CKR_OK ? digest_final(op, pDigest, pulDigestLen) : rv;
        if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
            p11_op_reset(op);
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_continue_op(hSession, OP_DIGEST, pPart || !ulPartLen, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if (p11_op_mixed(op, false)) {
        rv = CKR_OPERATION_ACTIVE;
    } else {
        op->multi_part = true;
        if (EVP_DigestUpdate(op->md, pPart, ulPartLen) != 1) {
            p11_op_reset(op);
            rv = CKR_FUNCTION_FAILED;
        }
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_continue_op(hSession, OP_DIGEST, pulDigestLen != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    rv = p11_op_mixed(op, false) ? CKR_OPERATION_ACTIVE : digest_final(op, pDigest, pulDigestLen);
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    rv = s->digest.kind == OP_DIGEST ? CKR_KEY_INDIGESTIBLE : CKR_OPERATION_NOT_INITIALIZED;
    p11_slot_unlock(slot);
    return rv;
}

/* ---------------------------------------------------------------- random */

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    /* With the slot locked: a fork (which takes every slot lock) never
     * finds this thread inside OpenSSL's generator. */
    if (!pRandomData && ulRandomLen)
        rv = CKR_ARGUMENTS_BAD;
    for (CK_ULONG done = 0; rv == CKR_OK && done < ulRandomLen;) {
        int chunk = ulRandomLen - done > 1 << 20 ? 1 << 20 : (int)(ulRandomLen - done);
        if (RAND_bytes(pRandomData + done, chunk) != 1)
            rv = CKR_FUNCTION_FAILED;
        done += (CK_ULONG)chunk;
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    p11_slot_unlock(slot);
    if (!pSeed && ulSeedLen)
        return CKR_ARGUMENTS_BAD;
    return CKR_RANDOM_SEED_NOT_SUPPORTED; /* OpenSSL seeds itself from the OS */
}

/* ---------------------------------------------------------------- derive */

static bool attr_bool(const CK_ATTRIBUTE *a, bool dflt)
{
    if (!a || a->ulValueLen != sizeof(CK_BBOOL) || !a->pValue)
        return dflt;
    return *(const CK_BBOOL *)a->pValue != CK_FALSE;
}

/* What a derivation produced while the slot was locked, waiting for its
 * record. */
struct derived {
    struct p11_record rec;
    uint64_t login_serial;         /* the login it was made under */
    uint8_t key_ref;
    char label[64];
    uint8_t value[128];
    size_t len;
};

/* With the slot locked: the checks, the decision and the card's ECDH.
 * The peer's point comes raw or as a DER OCTET STRING. */
static CK_RV derive_on_card(struct p11_slot *slot, const CK_MECHANISM *pMechanism, CK_OBJECT_HANDLE hBaseKey,
                            CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, const struct p11_secret *pin,
                            struct derived *out)
{
    enum p11_object_kind kind;
    struct token_key *k;
    struct token_data_object *d;
    const CK_ECDH1_DERIVE_PARAMS *p = pMechanism->pParameter;
    if (pMechanism->mechanism != CKM_ECDH1_DERIVE)
        return CKR_MECHANISM_INVALID;
    if (!p || pMechanism->ulParameterLen != sizeof(*p) || p->kdf != CKD_NULL || p->ulSharedDataLen ||
        !p->pPublicData || !p->ulPublicDataLen || p->ulPublicDataLen > 200)
        return CKR_MECHANISM_PARAM_INVALID;
    if (!slot->logged_in || slot->login != CKU_USER)
        return CKR_USER_NOT_LOGGED_IN;
    CK_RV rv = p11_slot_enumerate(slot);
    if (rv != CKR_OK)
        return rv;
    if (p11_object_resolve(slot, hBaseKey, &kind, &k, &d) != CKR_OK || kind != OBJ_PRIVATE)
        return CKR_KEY_HANDLE_INVALID;
    if (k->type != TOKEN_KEY_EC || !k->derive || !slot->token.edge->derive)
        return CKR_KEY_TYPE_INCONSISTENT;
    out->key_ref = k->ref;
    if ((rv = p11_key_learn_pin_policy(slot, k)) != CKR_OK)
        return rv;
    /* No place for a context login in C_DeriveKey: only pinentry can give
     * the PIN of a PIN-always key. */
    if (p11_key_pin_always(k) && !pin->data)
        return p11_prompt_wanted(slot, k, CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* CKA_VALUE_LEN may ask for fewer bytes (the leftmost ones). */
    const CK_ATTRIBUTE *vl = p11_template_find(pTemplate, ulAttributeCount, CKA_VALUE_LEN);
    CK_ULONG want = 0;
    if (vl && vl->pValue && vl->ulValueLen == sizeof(CK_ULONG) &&
        ((want = *(const CK_ULONG *)vl->pValue) == 0 || want > 2 * 66))
        return CKR_TEMPLATE_INCONSISTENT;
    const uint8_t *point = p->pPublicData;
    size_t point_len = p->ulPublicDataLen;
    if (point_len > 2 && point[0] == 0x04 && point[1] == point_len - 2 && point_len - 2 == 1 + 2 * ((k->bits + 7) / 8)) {
        point += 2; /* DER OCTET STRING around the point */
        point_len -= 2;
    } else if (point_len > 3 && point[0] == 0x04 && point[1] == 0x81 && point[2] == point_len - 3) {
        point += 3;
        point_len -= 3;
    }
    uint8_t peer_sha[32];
    unsigned int n = 0;
    EVP_Digest(point, point_len, peer_sha, &n, EVP_sha256(), NULL);
    struct p11_signature_event ev = { .slot = slot, .key = k, .kind = P11_DERIVE, .mechanism = CKM_ECDH1_DERIVE,
                                      .digest = peer_sha, .input_len = point_len };
    char warning[160];
    if ((rv = p11_policy_decide(&ev, &out->rec, warning, sizeof(warning))) != CKR_OK)
        return rv;
    out->len = sizeof(out->value);
    if ((rv = p11_slot_begin(slot)) == CKR_OK) {
        int rc = slot->token.edge->derive(&slot->token, k, point, point_len, pin->data, pin->len, out->value,
                                          &out->len);
        if (rc == PCSC_E_SECURITY && !pin->data && p11_slot_relogin(slot)) {
            out->len = sizeof(out->value);
            rc = slot->token.edge->derive(&slot->token, k, point, point_len, NULL, 0, out->value, &out->len);
        }
        rc = p11_slot_finish(slot, rc);
        p11_debug("derive: key %02X: %s", k->ref, pcsc_status_name(rc));
        rv = rc == PCSC_OK ? CKR_OK : rc == PCSC_E_INCORRECT_DATA ? CKR_MECHANISM_PARAM_INVALID : p11_rv_from_pcsc(rc);
    }
    if (rv == CKR_OK && want) {
        if (want > out->len)
            rv = CKR_TEMPLATE_INCONSISTENT;
        else
            out->len = want;
    }
    /* Recorded whatever the outcome, before the secret can be used. */
    p11_record_init(&out->rec, slot, "derive", k);
    p11_record_input(&out->rec, CKM_ECDH1_DERIVE, peer_sha, point_len);
    snprintf(out->rec.detail, sizeof(out->rec.detail), "%s", warning);
    out->rec.outcome = rv;
    out->login_serial = slot->login_serial;
    snprintf(out->label, sizeof(out->label), "ECDH with %.50s", k->label);
    return rv;
}

/* With the record made: the secret becomes a session object, if the
 * session and the login it was made under are still there. */
static CK_RV keep_secret(CK_SESSION_HANDLE hSession, struct derived *d, CK_ATTRIBUTE_PTR pTemplate,
                         CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (!slot->logged_in || slot->login != CKU_USER || slot->login_serial != d->login_serial) {
        p11_slot_unlock(slot);
        return CKR_USER_NOT_LOGGED_IN;
    }
    struct p11_secret_object *sec = NULL;
    size_t index = 0;
    for (size_t i = 0; i < P11_MAX_SECRETS && !sec; i++)
        if (!slot->secrets[i].used) {
            sec = &slot->secrets[i];
            index = i;
        }
    if (!sec) {
        p11_slot_unlock(slot);
        return CKR_DEVICE_MEMORY;
    }
    memcpy(sec->value, d->value, d->len);
    sec->used = true;
    sec->len = d->len;
    sec->owner = hSession;
    /* Private and sensitive unless the application asks otherwise: the
     * secret is as much the user's as the key it came from. */
    sec->private_ = attr_bool(p11_template_find(pTemplate, ulAttributeCount, CKA_PRIVATE), true);
    sec->sensitive = attr_bool(p11_template_find(pTemplate, ulAttributeCount, CKA_SENSITIVE), true);
    sec->extractable = attr_bool(p11_template_find(pTemplate, ulAttributeCount, CKA_EXTRACTABLE), false);
    memcpy(sec->label, d->label, sizeof(sec->label));
    *phKey = p11_object_handle(slot, OBJ_SECRET, (unsigned)index);
    p11_slot_unlock(slot);
    return CKR_OK;
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey,
                  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (!pMechanism || !phKey || (!pTemplate && ulAttributeCount)) {
        p11_slot_unlock(slot);
        return CKR_ARGUMENTS_BAD;
    }
    struct derived *d = OPENSSL_secure_zalloc(sizeof(*d));
    if (!d) {
        p11_slot_unlock(slot);
        return CKR_HOST_MEMORY;
    }
    struct p11_secret pin = { .data = NULL };
    rv = derive_on_card(slot, pMechanism, hBaseKey, pTemplate, ulAttributeCount, &pin, d);
    if (rv == P11_RV_ASK_PIN && (rv = p11_prompt_pin(hSession, &slot, &s, d->key_ref, P11_DERIVE, &pin)) == CKR_OK)
        rv = derive_on_card(slot, pMechanism, hBaseKey, pTemplate, ulAttributeCount, &pin, d);
    p11_secret_clear(&pin);
    if (rv == P11_RV_ASK_PIN)
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (s) {
        rv = p11_session_end_call(slot, s, rv);
        p11_slot_unlock(slot);
    }
    if (d->rec.active) {
        CK_RV recorded = p11_record_make(&d->rec);
        if (rv == CKR_OK && recorded != CKR_OK)
            rv = recorded;
        else if (rv == CKR_OK && (rv = keep_secret(hSession, d, pTemplate, ulAttributeCount, phKey)) != CKR_OK)
            p11_record_withhold(&d->rec, "the login ended before the secret could be kept");
        p11_record_clear(&d->rec);
    }
    OPENSSL_secure_clear_free(d, sizeof(*d));
    return rv;
}

/* ------------------------------------------------------------- key pairs */

/* CKA_ID 01..04 are 9A 9C 9D 9E, 05.. the retired slots (OpenSC's ids). */
static int ref_of_id(const CK_ATTRIBUTE *id)
{
    static const uint8_t refs[] = { 0x9A, 0x9C, 0x9D, 0x9E };
    if (!id || id->ulValueLen != 1 || !id->pValue)
        return -1;
    uint8_t v = *(const uint8_t *)id->pValue;
    if (v >= 1 && v <= 4)
        return refs[v - 1];
    if (v >= 5 && v < 5 + 20)
        return 0x82 + (v - 5);
    return -1;
}

/* A big-endian integer: leading zero bytes are the same number. */
static bool exponent_is_f4(const CK_ATTRIBUTE *e)
{
    static const uint8_t f4[] = { 0x01, 0x00, 0x01 };
    const uint8_t *v = e->pValue;
    CK_ULONG n = e->ulValueLen;
    if (!v || n == CK_UNAVAILABLE_INFORMATION)
        return false;
    while (n > 0 && *v == 0) {
        v++;
        n--;
    }
    return n == sizeof(f4) && memcmp(v, f4, sizeof(f4)) == 0;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                        CK_ULONG ulPublicKeyAttributeCount, CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                        CK_ULONG ulPrivateKeyAttributeCount, CK_OBJECT_HANDLE_PTR phPublicKey,
                        CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    enum token_key_type type;
    unsigned bits = 0;
    if (!pMechanism || !phPublicKey || !phPrivateKey || (!pPublicKeyTemplate && ulPublicKeyAttributeCount) ||
        (!pPrivateKeyTemplate && ulPrivateKeyAttributeCount)) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    if (pMechanism->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN) {
        type = TOKEN_KEY_RSA;
        const CK_ATTRIBUTE *mb = p11_template_find(pPublicKeyTemplate, ulPublicKeyAttributeCount, CKA_MODULUS_BITS);
        if (!mb || mb->ulValueLen != sizeof(CK_ULONG) || !mb->pValue) {
            rv = CKR_TEMPLATE_INCOMPLETE;
            goto out;
        }
        bits = (unsigned)*(const CK_ULONG *)mb->pValue;
        const CK_ATTRIBUTE *e = p11_template_find(pPublicKeyTemplate, ulPublicKeyAttributeCount, CKA_PUBLIC_EXPONENT);
        if (e && !exponent_is_f4(e)) {
            rv = CKR_ATTRIBUTE_VALUE_INVALID; /* the card makes e = 65537 only */
            goto out;
        }
    } else if (pMechanism->mechanism == CKM_EC_KEY_PAIR_GEN) {
        type = TOKEN_KEY_EC;
        const CK_ATTRIBUTE *ep = p11_template_find(pPublicKeyTemplate, ulPublicKeyAttributeCount, CKA_EC_PARAMS);
        if (!ep || !ep->pValue || !ep->ulValueLen) {
            rv = CKR_TEMPLATE_INCOMPLETE;
            goto out;
        }
        const unsigned char *q = ep->pValue;
        ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &q, (long)ep->ulValueLen);
        int nid = oid ? OBJ_obj2nid(oid) : NID_undef;
        ASN1_OBJECT_free(oid);
        bits = nid == NID_X9_62_prime256v1 ? 256 : nid == NID_secp384r1 ? 384 : 0;
        if (!bits) {
            rv = CKR_CURVE_NOT_SUPPORTED;
            goto out;
        }
    } else {
        rv = CKR_MECHANISM_INVALID;
        goto out;
    }
    if (!(slot->token.edge->caps & TOKEN_CAP_GENERATE) ||
        (type == TOKEN_KEY_EC && !(slot->token.edge->caps & TOKEN_CAP_EC))) {
        rv = CKR_MECHANISM_INVALID;
        goto out;
    }
    unsigned lo = 0, hi = 0;
    if (type == TOKEN_KEY_RSA && p11_slot_has_key_type(slot, TOKEN_KEY_RSA, &lo, &hi) && (bits < lo || bits > hi)) {
        rv = CKR_KEY_SIZE_RANGE; /* what C_GetMechanismInfo says the card makes */
        goto out;
    }
    if (!(s->flags & CKF_RW_SESSION)) {
        rv = CKR_SESSION_READ_ONLY;
        goto out;
    }
    if (!slot->logged_in || slot->login != CKU_SO || !slot->so_is_mgm_key) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    const CK_ATTRIBUTE *id = p11_template_find(pPrivateKeyTemplate, ulPrivateKeyAttributeCount, CKA_ID);
    if (!id)
        id = p11_template_find(pPublicKeyTemplate, ulPublicKeyAttributeCount, CKA_ID);
    int ref = ref_of_id(id);
    if (ref < 0) {
        rv = id ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_TEMPLATE_INCOMPLETE;
        goto out;
    }
    if ((rv = p11_rules_admin_write(slot, "key generation", NULL)) != CKR_OK)
        goto out;
    if ((rv = p11_slot_enumerate(slot)) != CKR_OK || (rv = p11_slot_begin(slot)) != CKR_OK)
        goto out;
    EVP_PKEY *pub = NULL;
    int rc = slot->token.edge->admin_auth(&slot->token, slot->so_secret.data, slot->so_secret.len);
    if (rc == PCSC_OK)
        rc = slot->token.edge->generate(&slot->token, (uint8_t)ref, type, bits, &pub);
    if (rc == PCSC_OK) {
        /* Read the card again; a card that cannot tell a key without its
         * certificate gets the new key from what it answered. */
        slot->token.enumerated = false;
        rc = token_enumerate(&slot->token);
        struct token_key *k = token_find_key(&slot->token, (uint8_t)ref);
        if (rc == PCSC_OK && !k && slot->token.nkeys < TOKEN_MAX_KEYS) {
            k = &slot->token.keys[slot->token.nkeys++];
            memset(k, 0, sizeof(*k));
            k->ref = (uint8_t)ref;
            k->id[0] = *(const uint8_t *)id->pValue;
            k->id_len = 1;
            snprintf(k->label, sizeof(k->label), "generated key %02X", ref);
            k->type = type;
            k->bits = bits;
            k->pub = pub;
            pub = NULL;
            k->sign = true;
            k->decrypt = type == TOKEN_KEY_RSA;
            k->derive = type == TOKEN_KEY_EC;
            k->always_authenticate = ref == 0x9C;
        }
        if (k)
            k->local = true;
    }
    EVP_PKEY_free(pub);
    p11_slot_end(slot);
    rv = p11_rv_from_pcsc(rc);
    p11_debug("C_GenerateKeyPair: slot %02X, %u bits: 0x%lx", ref, bits, rv);
    p11_audit_note(slot, "keygen", token_find_key(&slot->token, (uint8_t)ref), rv, NULL);
    if (rv == CKR_OK) {
        *phPublicKey = p11_object_handle(slot, OBJ_PUBLIC, (unsigned)ref);
        *phPrivateKey = p11_object_handle(slot, OBJ_PRIVATE, (unsigned)ref);
    }
out:
    p11_slot_unlock(slot);
    return rv;
}
