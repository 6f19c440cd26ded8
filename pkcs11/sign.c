/* kyso-pkcs11.so: signing on the card and verifying in software, and
 * what the operations on a card's key share (decrypt.c).
 *
 * A signature goes decide → sign → record → release (pipeline.c): the
 * policy may refuse it, the card makes it, the audit trail records it
 * (with the slot unlocked), and only then is it copied to the caller. A
 * signature whose record cannot be made is wiped, never returned. */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/proof.h"
#include "pcsc/rsa_pad.h"
#include "pkcs11/internal.h"


static const EVP_MD *md_of_mech(CK_MECHANISM_TYPE hash)
{
    switch (hash) {
    case CKM_SHA_1:
        return EVP_sha1();
    case CKM_SHA224:
        return EVP_sha224();
    case CKM_SHA256:
        return EVP_sha256();
    case CKM_SHA384:
        return EVP_sha384();
    case CKM_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

static const EVP_MD *md_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1:
        return EVP_sha1();
    case CKG_MGF1_SHA224:
        return EVP_sha224();
    case CKG_MGF1_SHA256:
        return EVP_sha256();
    case CKG_MGF1_SHA384:
        return EVP_sha384();
    case CKG_MGF1_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

/* Size of a signature by this key. */
static size_t signature_len(const struct token_key *k)
{
    size_t bytes = (k->bits + 7) / 8;
    return k->type == TOKEN_KEY_RSA ? bytes : 2 * bytes;
}

/* Checks the mechanism and its parameters and sets up the operation. */
CK_RV p11_setup_operation(struct p11_operation *op, enum p11_op_kind kind, const CK_MECHANISM *mech,
                             const struct token_key *k, CK_FLAGS needed)
{
    const struct p11_mechanism *m = p11_mechanism_find(mech->mechanism);
    if (!m || m->any_key || !(m->flags & needed))
        return CKR_MECHANISM_INVALID;
    if (m->key_type != k->type)
        return CKR_KEY_TYPE_INCONSISTENT;
    static atomic_uint_fast64_t serials;
    p11_op_reset(op);
    op->kind = kind;
    op->serial = atomic_fetch_add(&serials, 1) + 1;
    op->mechanism = mech->mechanism;
    op->key_ref = k->ref;
    if (m->digest) {
        op->md = EVP_MD_CTX_new();
        if (!op->md || EVP_DigestInit_ex(op->md, EVP_get_digestbyname(m->digest), NULL) != 1) {
            p11_op_reset(op);
            return CKR_HOST_MEMORY;
        }
    }
    if (kind == OP_SIGN) {
        /* The record names what was signed by its SHA-256, whatever the
         * mechanism hashes with. */
        op->audit_md = EVP_MD_CTX_new();
        if (!op->audit_md || EVP_DigestInit_ex(op->audit_md, EVP_sha256(), NULL) != 1) {
            p11_op_reset(op);
            return CKR_HOST_MEMORY;
        }
    }
    bool pss = mech->mechanism == CKM_RSA_PKCS_PSS || (m->digest && mech->mechanism >= CKM_SHA256_RSA_PKCS_PSS &&
                                                         mech->mechanism <= CKM_SHA512_RSA_PKCS_PSS) ||
               mech->mechanism == CKM_SHA1_RSA_PKCS_PSS || mech->mechanism == CKM_SHA224_RSA_PKCS_PSS;
    if (pss) {
        const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;
        if (!p || mech->ulParameterLen != sizeof(*p)) {
            p11_op_reset(op);
            return CKR_MECHANISM_PARAM_INVALID;
        }
        op->pss_md = md_of_mech(p->hashAlg);
        op->pss_mgf1_md = md_of_mgf(p->mgf);
        op->pss_salt_len = (int)p->sLen;
        /* The hash named by the mechanism and by its parameters agree. */
        if (!op->pss_md || !op->pss_mgf1_md || p->sLen > 512 ||
            (m->digest && EVP_MD_get_type(op->pss_md) != EVP_MD_get_type(EVP_get_digestbyname(m->digest)))) {
            p11_op_reset(op);
            return CKR_MECHANISM_PARAM_INVALID;
        }
    }
    if (mech->mechanism == CKM_RSA_PKCS_OAEP) {
        const CK_RSA_PKCS_OAEP_PARAMS *p = mech->pParameter;
        if (!p || mech->ulParameterLen != sizeof(*p) || !md_of_mech(p->hashAlg) || !md_of_mgf(p->mgf) ||
            (p->source != 0 && p->source != CKZ_DATA_SPECIFIED) || (p->ulSourceDataLen && !p->pSourceData) ||
            p->ulSourceDataLen > 1024) {
            p11_op_reset(op);
            return CKR_MECHANISM_PARAM_INVALID;
        }
        op->oaep_md = md_of_mech(p->hashAlg);
        op->oaep_mgf1_md = md_of_mgf(p->mgf);
        if (p->ulSourceDataLen) {
            op->oaep_label = OPENSSL_memdup(p->pSourceData, p->ulSourceDataLen);
            if (!op->oaep_label) {
                p11_op_reset(op);
                return CKR_HOST_MEMORY;
            }
            op->oaep_label_len = p->ulSourceDataLen;
        }
    }
    return CKR_OK;
}

/* Resolves the key of C_*Init: the object must be of the wanted class. */
CK_RV p11_init_key(struct p11_slot *slot, CK_OBJECT_HANDLE h, enum p11_object_kind want, struct token_key **key)
{
    enum p11_object_kind kind;
    struct token_data_object *d;
    CK_RV rv = p11_slot_enumerate(slot);
    if (rv != CKR_OK)
        return rv;
    /* Private keys are invisible before login: say so rather than "invalid". */
    if (want == OBJ_PRIVATE && !(slot->logged_in && slot->login == CKU_USER) && ((h >> 12) & 0xF) == OBJ_PRIVATE)
        return CKR_USER_NOT_LOGGED_IN;
    rv = p11_object_resolve(slot, h, &kind, key, &d);
    if (rv != CKR_OK)
        return CKR_KEY_HANDLE_INVALID;
    if (kind != want && !(want == OBJ_PUBLIC && (kind == OBJ_PRIVATE || kind == OBJ_CERT)))
        return CKR_KEY_TYPE_INCONSISTENT;
    /* Whether the operation wants a context login is decided now. */
    return want == OBJ_PRIVATE ? p11_key_learn_pin_policy(slot, *key) : CKR_OK;
}

bool p11_buffer_append(struct p11_operation *op, const uint8_t *data, size_t len)
{
    if (len > P11_MAX_RAW_INPUT - op->buffer_len)
        return false;
    if (!op->buffer) {
        op->buffer = OPENSSL_malloc(P11_MAX_RAW_INPUT);
        if (!op->buffer)
            return false;
        op->buffer_cap = P11_MAX_RAW_INPUT;
    }
    if (len)
        memcpy(op->buffer + op->buffer_len, data, len);
    op->buffer_len += len;
    return true;
}

/* Feeds data to the operation: hashed, or kept for raw mechanisms. */
static CK_RV absorb(struct p11_operation *op, const uint8_t *data, size_t len)
{
    op->input_len += len;
    if (op->audit_md && EVP_DigestUpdate(op->audit_md, data, len) != 1)
        return CKR_FUNCTION_FAILED;
    if (op->md)
        return EVP_DigestUpdate(op->md, data, len) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
    return p11_buffer_append(op, data, len) ? CKR_OK : CKR_DATA_LEN_RANGE;
}

/* DigestInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING hash } */
static int digest_info(const EVP_MD *md, const uint8_t *hash, size_t hash_len, uint8_t *out, size_t cap)
{
    X509_SIG *sig = X509_SIG_new();
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *digest;
    int len = -1;
    if (!sig)
        return -1;
    X509_SIG_getm(sig, &alg, &digest);
    if (X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) &&
        ASN1_OCTET_STRING_set(digest, hash, (int)hash_len)) {
        int n = i2d_X509_SIG(sig, NULL);
        if (n > 0 && (size_t)n <= cap) {
            unsigned char *p = out;
            len = i2d_X509_SIG(sig, &p);
        }
    }
    X509_SIG_free(sig);
    return len;
}

/* A raw RSA input must be a number below the modulus: checked here, so the
 * card is not asked (and the caller gets the code for bad data). */
bool p11_below_modulus(const EVP_PKEY *pub, const uint8_t *block, size_t len)
{
    BIGNUM *n = NULL, *x = BN_bin2bn(block, (int)len, NULL);
    bool ok = x && EVP_PKEY_get_bn_param(pub, "n", &n) && BN_cmp(x, n) < 0;
    BN_clear_free(x);
    BN_free(n);
    return ok;
}

/* The operation's input, in the form the token edge wants. */
struct sign_input {
    struct token_sign_request req;
    uint8_t buf[P11_MAX_RAW_INPUT];
    uint8_t sha256[32]; /* of what was signed, for the audit record */
};

static CK_RV prepare_sign_input(struct p11_operation *op, const struct token_key *k, struct sign_input *in,
                                size_t *input_len)
{
    uint8_t hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    size_t mod = (k->bits + 7) / 8;
    const EVP_MD *md = op->md ? EVP_MD_CTX_get0_md(op->md) : NULL;

    memset(&in->req, 0, sizeof(in->req));
    /* The token layer offers no key larger than its buffers; checked again
     * here, where the block is built. */
    if (mod > sizeof(in->buf) || signature_len(k) > P11_MAX_SIGNATURE)
        return CKR_KEY_SIZE_RANGE;
    unsigned int audit_len = 0;
    if (!op->audit_md || EVP_DigestFinal_ex(op->audit_md, in->sha256, &audit_len) != 1)
        return CKR_FUNCTION_FAILED;
    *input_len = op->input_len;
    if (md && EVP_DigestFinal_ex(op->md, hash, &hash_len) != 1)
        return CKR_FUNCTION_FAILED;
    switch (op->mechanism) {
    case CKM_RSA_PKCS:
        if (op->buffer_len > mod - 11)
            return CKR_DATA_LEN_RANGE;
        in->req.scheme = TOKEN_SIG_RSA_PKCS1;
        memcpy(in->buf, op->buffer, op->buffer_len);
        in->req.in_len = op->buffer_len;
        break;
    case CKM_RSA_X_509:
        /* Shorter input is taken as a number: zeros on the left. */
        if (op->buffer_len > mod)
            return CKR_DATA_LEN_RANGE;
        in->req.scheme = TOKEN_SIG_RSA_RAW;
        memset(in->buf, 0, mod - op->buffer_len);
        memcpy(in->buf + mod - op->buffer_len, op->buffer, op->buffer_len);
        in->req.in_len = mod;
        if (!p11_below_modulus(k->pub, in->buf, mod))
            return CKR_DATA_INVALID;
        break;
    case CKM_RSA_PKCS_PSS:
        if (op->buffer_len != (size_t)EVP_MD_get_size(op->pss_md))
            return CKR_DATA_LEN_RANGE;
        in->req.scheme = TOKEN_SIG_RSA_PSS;
        memcpy(in->buf, op->buffer, op->buffer_len);
        in->req.in_len = op->buffer_len;
        break;
    case CKM_ECDSA:
        if (op->buffer_len == 0 || op->buffer_len > 64)
            return CKR_DATA_LEN_RANGE;
        in->req.scheme = TOKEN_SIG_ECDSA;
        memcpy(in->buf, op->buffer, op->buffer_len);
        in->req.in_len = op->buffer_len;
        break;
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS:
        in->req.scheme = TOKEN_SIG_RSA_PSS;
        memcpy(in->buf, hash, hash_len);
        in->req.in_len = hash_len;
        break;
    case CKM_ECDSA_SHA1:
    case CKM_ECDSA_SHA224:
    case CKM_ECDSA_SHA256:
    case CKM_ECDSA_SHA384:
    case CKM_ECDSA_SHA512:
        in->req.scheme = TOKEN_SIG_ECDSA;
        memcpy(in->buf, hash, hash_len);
        in->req.in_len = hash_len;
        break;
    default: { /* CKM_SHAx_RSA_PKCS */
        int n = digest_info(md, hash, hash_len, in->buf, sizeof(in->buf));
        if (n < 0)
            return CKR_FUNCTION_FAILED;
        in->req.scheme = TOKEN_SIG_RSA_PKCS1;
        in->req.in_len = (size_t)n;
    }
    }
    in->req.in = in->buf;
    in->req.pss_md = op->pss_md;
    in->req.pss_mgf1_md = op->pss_mgf1_md;
    in->req.pss_salt_len = op->pss_salt_len;
    OPENSSL_cleanse(hash, sizeof(hash));
    return CKR_OK;
}

CK_RV p11_rv_from_card(int rc)
{
    if (rc == PCSC_E_WRONG_PIN)
        return CKR_PIN_INCORRECT;
    if (rc == PCSC_E_INVALID_ARG)
        return CKR_DATA_LEN_RANGE;
    if (rc == PCSC_E_INCORRECT_DATA)
        return CKR_DATA_INVALID;
    return p11_rv_from_pcsc(rc);
}

/* What a signature covers, as audit/proof.h names it: the record carries
 * it (kyso-auditd checks it against the certificate), and the first
 * signature of each key in a session is checked with it before it is
 * released, so a card that signs with the wrong key or parameters (some
 * accept any MSE values) never gives out a bad signature. */
static bool proof_of(const struct token_key *k, const struct token_sign_request *req, char *scheme, size_t len,
                     size_t *tbs_len)
{
    *tbs_len = req->in_len;
    switch (req->scheme) {
    case TOKEN_SIG_RSA_PKCS1:
        snprintf(scheme, len, "pkcs1");
        return true;
    case TOKEN_SIG_RSA_RAW:
        snprintf(scheme, len, "raw");
        return true;
    case TOKEN_SIG_RSA_PSS:
        return snprintf(scheme, len, "pss:%s:%s:%d", EVP_MD_get0_name(req->pss_md), EVP_MD_get0_name(req->pss_mgf1_md),
                        req->pss_salt_len) < (int)len;
    case TOKEN_SIG_ECDSA: {
        /* The card signs the leftmost field-size bytes of a longer hash. */
        size_t field = (k->bits + 7) / 8;
        if (*tbs_len > field)
            *tbs_len = field;
        snprintf(scheme, len, "ecdsa");
        return true;
    }
    }
    return false;
}

/* decide → sign on the card; the record and the release are the
 * caller's, with the slot unlocked (p11_record_release). */
static CK_RV finish_signature(struct p11_slot *slot, struct p11_session *s, CK_BYTE_PTR pSignature,
                              CK_ULONG_PTR pulSignatureLen, struct p11_record *rec)
{
    struct p11_operation *op = &s->crypto;
    struct token_key *k = token_find_key(&slot->token, op->key_ref);
    if (!k) {
        p11_op_reset(op);
        return CKR_KEY_HANDLE_INVALID;
    }
    size_t need = signature_len(k);
    if (!pSignature) {
        *pulSignatureLen = need;
        return CKR_OK; /* the operation goes on */
    }
    if (*pulSignatureLen < need) {
        *pulSignatureLen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (!slot->logged_in || slot->login != CKU_USER) {
        p11_op_reset(op);
        return CKR_USER_NOT_LOGGED_IN;
    }
    if (p11_key_pin_always(k) && !op->context_pin.data)
        return p11_prompt_wanted(slot, k, CKR_USER_NOT_LOGGED_IN); /* or C_Login(CKU_CONTEXT_SPECIFIC) first */

    struct sign_input *in = OPENSSL_secure_zalloc(sizeof(*in));
    uint8_t sig[P11_MAX_SIGNATURE];
    size_t sig_len = sizeof(sig), input_len = 0;
    if (!in) {
        p11_op_reset(op);
        return CKR_HOST_MEMORY;
    }
    CK_RV rv = prepare_sign_input(op, k, in, &input_len);
    struct p11_signature_event ev = { .slot = slot, .key = k, .kind = P11_SIGN, .mechanism = op->mechanism,
                                      .digest = in->sha256, .input_len = input_len };
    char warning[sizeof(rec->detail)] = "";
    if (rv == CKR_OK)
        rv = p11_policy_decide(&ev, rec, warning, sizeof(warning));
    if (rv == CKR_OK) {
        if (p11_key_pin_always(k)) {
            in->req.pin = op->context_pin.data;
            in->req.pin_len = op->context_pin.len;
            in->req.pin_just_verified = op->context_pin_verified;
        }
        rv = p11_slot_begin(slot);
        if (rv == CKR_OK) {
            int rc = slot->token.edge->sign(&slot->token, k, &in->req, sig, &sig_len);
            if (rc == PCSC_E_SECURITY && !p11_key_pin_always(k) && p11_slot_relogin(slot)) {
                sig_len = sizeof(sig);
                rc = slot->token.edge->sign(&slot->token, k, &in->req, sig, &sig_len);
            }
            rc = p11_slot_finish(slot, rc);
            rv = p11_rv_from_card(rc);
            p11_debug("sign: key %02X mechanism 0x%lx: %s", k->ref, op->mechanism, pcsc_status_name(rc));
        }
        if (rv == CKR_OK && sig_len != need)
            rv = CKR_DEVICE_ERROR;
        /* Recorded whatever the outcome; a signature only with its record. */
        p11_record_init(rec, slot, "sign", k);
        p11_record_input(rec, op->mechanism, in->sha256, input_len);
        snprintf(rec->detail, sizeof(rec->detail), "%s", warning);
        char scheme[48];
        size_t tbs_len = 0;
        if (rv == CKR_OK && (!proof_of(k, &in->req, scheme, sizeof(scheme), &tbs_len) ||
                             !p11_record_proof(rec, scheme, in->req.in, tbs_len, sig, sig_len)))
            rv = CKR_DEVICE_ERROR;
        bool checked = s->checked_keys[k->ref / 8] & (1u << (k->ref % 8));
        if (rv == CKR_OK && !checked) {
            if (!audit_proof_check_key(k->pub, rec->scheme, rec->tbs, rec->tbs_len, rec->sig, rec->sig_len)) {
                p11_debug("sign: key %02X: the card's signature does not verify with the key's public key: "
                          "withheld",
                          k->ref);
                rv = CKR_DEVICE_ERROR;
            } else {
                s->checked_keys[k->ref / 8] |= (uint8_t)(1u << (k->ref % 8));
            }
        }
        if (rv != CKR_OK)
            rec->sig_len = 0;
        rec->outcome = rv;
    }
    OPENSSL_cleanse(sig, sizeof(sig));
    OPENSSL_secure_clear_free(in, sizeof(*in));
    p11_op_reset(op);
    return rv;
}

/* A PIN-always key without a context login: the PIN through pinentry
 * (slot unlocked meanwhile), then the signature. On return the slot is
 * locked iff *s is not NULL. */
static CK_RV ask_and_sign(CK_SESSION_HANDLE h, struct p11_slot **slot, struct p11_session **s, CK_RV rv,
                          CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen, struct p11_record *rec)
{
    if (rv != P11_RV_ASK_PIN)
        return rv;
    rv = p11_prompt_pin(h, slot, s, (*s)->crypto.key_ref, P11_SIGN, NULL);
    if (rv == CKR_OK)
        rv = finish_signature(*slot, *s, pSignature, pulSignatureLen, rec);
    return rv == P11_RV_ASK_PIN ? CKR_USER_NOT_LOGGED_IN : rv;
}

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    struct token_key *k;
    CK_RV rv = p11_session_begin_op(hSession, OP_SIGN, pMechanism != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if ((rv = p11_init_key(slot, hKey, OBJ_PRIVATE, &k)) == CKR_OK) {
        const struct p11_mechanism *m = p11_mechanism_find(pMechanism->mechanism);
        if (!k->sign) {
            rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        } else if (k->needs_certificate && !k->cert) {
            /* A legally binding signature names its certificate; this card's
             * cannot be read and the local store has none for the key. */
            p11_debug("C_SignInit: key %02X has no certificate: import it with `kyso cert import FILE`", k->ref);
            rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        } else if (m && !p11_mechanism_flags(slot, m)) {
            rv = CKR_MECHANISM_INVALID;
        } else if ((rv = p11_setup_operation(op, OP_SIGN, pMechanism, k, CKF_SIGN)) == CKR_OK) {
            op->needs_context_login = p11_key_pin_always(k);
        }
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
             CK_ULONG_PTR pulSignatureLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    struct p11_record rec = { .active = false };
    CK_RV rv = p11_session_continue_op(hSession, OP_SIGN, pulSignatureLen && (pData || !ulDataLen), &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if (p11_op_mixed(op, true)) {
        rv = CKR_OPERATION_ACTIVE;
    } else {
        /* The data goes in once: a length query does not consume it. */
        if (!op->absorbed) {
            rv = absorb(op, pData, ulDataLen);
            op->absorbed = true;
        }
        if (rv == CKR_OK)
            rv = finish_signature(slot, s, pSignature, pulSignatureLen, &rec);
        else
            p11_op_reset(op);
        rv = ask_and_sign(hSession, &slot, &s, rv, pSignature, pulSignatureLen, &rec);
        if (!s)
            return rv; /* the session went away while the user was asked */
        rv = p11_session_end_call(slot, s, rv);
    }
    p11_slot_unlock(slot);
    return p11_record_release(&rec, rv, pSignature, pulSignatureLen);
}

/* C_SignUpdate and C_VerifyUpdate: the part joins the data (or its hash). */
static CK_RV update(CK_SESSION_HANDLE hSession, enum p11_op_kind kind, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_continue_op(hSession, kind, pPart || !ulPartLen, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if (p11_op_mixed(op, false)) {
        rv = CKR_OPERATION_ACTIVE;
    } else {
        op->multi_part = true;
        if ((rv = absorb(op, pPart, ulPartLen)) != CKR_OK)
            p11_op_reset(op);
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return update(hSession, OP_SIGN, pPart, ulPartLen);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    struct p11_record rec = { .active = false };
    CK_RV rv = p11_session_continue_op(hSession, OP_SIGN, pulSignatureLen != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if (p11_op_mixed(op, false)) {
        p11_slot_unlock(slot);
        return CKR_OPERATION_ACTIVE;
    }
    op->multi_part = true;
    rv = ask_and_sign(hSession, &slot, &s, finish_signature(slot, s, pSignature, pulSignatureLen, &rec), pSignature,
                      pulSignatureLen, &rec);
    if (!s)
        return rv;
    rv = p11_session_end_call(slot, s, rv);
    p11_slot_unlock(slot);
    return p11_record_release(&rec, rv, pSignature, pulSignatureLen);
}

/* ------------------------------------------------------------ verify */

/* 1 valid, 0 not, -1 failed, -2 a signature of the wrong length. The
 * check is audit/proof.c's, the one every signature the card makes goes
 * through: here only what it covers is built. */
static int verify_in_software(struct p11_operation *op, const uint8_t *sig, size_t sig_len)
{
    uint8_t hash[EVP_MAX_MD_SIZE], block[P11_MAX_RAW_INPUT];
    unsigned int hash_len = 0;
    const uint8_t *tbs = op->buffer ? op->buffer : (const uint8_t *)"";
    size_t tbs_len = op->buffer_len;
    const EVP_MD *md = op->md ? EVP_MD_CTX_get0_md(op->md) : NULL;
    EVP_PKEY *pub = op->verify_key;
    bool rsa = EVP_PKEY_is_a(pub, "RSA");
    size_t mod = (size_t)EVP_PKEY_get_size(pub), field = (size_t)(EVP_PKEY_get_bits(pub) + 7) / 8;
    char scheme[48] = "ecdsa";

    if (sig_len != (rsa ? mod : 2 * field))
        return -2;
    if (md) {
        if (EVP_DigestFinal_ex(op->md, hash, &hash_len) != 1)
            return -1;
        tbs = hash;
        tbs_len = hash_len;
    }
    if (rsa && op->mechanism == CKM_RSA_X_509) {
        /* Shorter data is a number: zeros on the left. */
        if (tbs_len > mod || mod > sizeof(block))
            return 0;
        memset(block, 0, mod - tbs_len);
        memcpy(block + mod - tbs_len, tbs, tbs_len);
        tbs = block;
        tbs_len = mod;
        snprintf(scheme, sizeof(scheme), "raw");
    } else if (rsa && op->pss_md) {
        if (snprintf(scheme, sizeof(scheme), "pss:%s:%s:%d", EVP_MD_get0_name(op->pss_md),
                     EVP_MD_get0_name(op->pss_mgf1_md), op->pss_salt_len) >= (int)sizeof(scheme))
            return -1;
    } else if (rsa) {
        if (md) {
            int n = digest_info(md, hash, hash_len, block, sizeof(block));
            if (n < 0)
                return -1;
            tbs = block;
            tbs_len = (size_t)n;
        }
        snprintf(scheme, sizeof(scheme), "pkcs1");
    }
    int ok = audit_proof_check_key(pub, scheme, tbs, tbs_len, sig, sig_len) ? 1 : 0;
    OPENSSL_cleanse(hash, sizeof(hash));
    return ok;
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    struct token_key *k;
    CK_RV rv = p11_session_begin_op(hSession, OP_VERIFY, pMechanism != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if ((rv = p11_init_key(slot, hKey, OBJ_PUBLIC, &k)) == CKR_OK &&
        (rv = p11_setup_operation(op, OP_VERIFY, pMechanism, k, CKF_VERIFY)) == CKR_OK) {
        op->verify_key = k->pub;
        EVP_PKEY_up_ref(k->pub);
    }
    p11_slot_unlock(slot);
    return rv;
}

static CK_RV finish_verify(struct p11_operation *op, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    int ok = verify_in_software(op, pSignature, ulSignatureLen);
    p11_op_reset(op);
    if (ok == -2)
        return CKR_SIGNATURE_LEN_RANGE;
    return ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
               CK_ULONG ulSignatureLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_continue_op(hSession, OP_VERIFY, pSignature && (pData || !ulDataLen), &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if (p11_op_mixed(op, true))
        rv = CKR_OPERATION_ACTIVE;
    else if ((rv = absorb(op, pData, ulDataLen)) == CKR_OK)
        rv = finish_verify(op, pSignature, ulSignatureLen);
    else
        p11_op_reset(op);
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return update(hSession, OP_VERIFY, pPart, ulPartLen);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_continue_op(hSession, OP_VERIFY, pSignature != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    rv = finish_verify(op, pSignature, ulSignatureLen);
    p11_slot_unlock(slot);
    return rv;
}
