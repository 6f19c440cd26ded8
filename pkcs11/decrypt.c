/* kyso-pkcs11.so: RSA decryption on the card (the module unpads).
 *
 * decide → decrypt → record → release, as a signature (pipeline.c): the
 * record is made with the slot unlocked, and the plain text leaves only
 * once it is durable. Meanwhile the operation is "in flight": another
 * call on it is told CKR_OPERATION_ACTIVE. Afterwards the operation is
 * looked up again: if the session was closed, the user logged out or the
 * card went away meanwhile, the plain text is wiped and its record
 * withheld. A buffer too small keeps the plain text in the operation for
 * the next call (the card is asked once). */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "pcsc/rsa_pad.h"
#include "pkcs11/internal.h"

CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    struct token_key *k;
    CK_RV rv = p11_session_begin_op(hSession, OP_DECRYPT, pMechanism != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if ((rv = p11_init_key(slot, hKey, OBJ_PRIVATE, &k)) == CKR_OK) {
        const struct p11_mechanism *m = p11_mechanism_find(pMechanism->mechanism);
        if (!k->decrypt || !slot->token.edge->decrypt)
            rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        else if (m && !(p11_mechanism_flags(slot, m) & CKF_DECRYPT))
            rv = CKR_MECHANISM_INVALID;
        else if ((rv = p11_setup_operation(op, OP_DECRYPT, pMechanism, k, CKF_DECRYPT)) == CKR_OK)
            op->needs_context_login = p11_key_pin_always(k);
    }
    p11_slot_unlock(slot);
    return rv;
}

/* What a decryption produced while the slot was locked, waiting for its
 * record. */
struct decrypted {
    struct p11_record rec;
    uint64_t serial;               /* the operation it belongs to */
    uint8_t plain[P11_MAX_RAW_INPUT];
    size_t len;
};

/* Hands the plain text kept in the operation to the caller. */
static CK_RV deliver(struct p11_operation *op, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    if (!pData) {
        *pulDataLen = op->buffer_len;
        return CKR_OK;
    }
    if (*pulDataLen < op->buffer_len) {
        *pulDataLen = op->buffer_len;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pData, op->buffer, op->buffer_len);
    *pulDataLen = op->buffer_len;
    p11_op_reset(op);
    return CKR_OK;
}

/* The card's RSA operation and the unpadding into out->plain. */
static CK_RV decrypt_on_card(struct p11_slot *slot, struct p11_operation *op, struct token_key *k,
                             struct decrypted *out)
{
    uint8_t raw[P11_MAX_RAW_INPUT];
    size_t raw_len = sizeof(raw);
    CK_RV rv = p11_slot_begin(slot);
    if (rv == CKR_OK) {
        const uint8_t *pin = p11_key_pin_always(k) ? op->context_pin.data : NULL;
        int rc = slot->token.edge->decrypt(&slot->token, k, op->buffer, op->buffer_len, pin, op->context_pin.len, raw,
                                           &raw_len);
        if (rc == PCSC_E_SECURITY && !p11_key_pin_always(k) && p11_slot_relogin(slot)) {
            raw_len = sizeof(raw);
            rc = slot->token.edge->decrypt(&slot->token, k, op->buffer, op->buffer_len, NULL, 0, raw, &raw_len);
        }
        rc = p11_slot_finish(slot, rc);
        rv = rc == PCSC_E_INCORRECT_DATA ? CKR_ENCRYPTED_DATA_INVALID : p11_rv_from_card(rc);
    }
    int n = -1;
    if (rv == CKR_OK) {
        if (op->mechanism == CKM_RSA_X_509) {
            memcpy(out->plain, raw, raw_len);
            n = (int)raw_len;
        } else if (op->mechanism == CKM_RSA_PKCS) {
            n = rsa_unpad_pkcs1(raw, raw_len, out->plain, sizeof(out->plain));
        } else {
            n = rsa_unpad_oaep(raw, raw_len, op->oaep_md, op->oaep_mgf1_md, op->oaep_label, op->oaep_label_len,
                               out->plain, sizeof(out->plain));
        }
        if (n < 0)
            rv = CKR_ENCRYPTED_DATA_INVALID;
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    out->len = n > 0 ? (size_t)n : 0;
    return rv;
}

/* With the slot locked: decide and decrypt. out->rec.active then says a
 * record is to be made (slot unlocked) before anything is released. */
static CK_RV finish_decrypt(struct p11_slot *slot, struct p11_session *s, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen,
                            struct decrypted *out)
{
    struct p11_operation *op = &s->crypto;
    if (op->in_flight)
        return CKR_OPERATION_ACTIVE;
    if (op->result_ready)
        return deliver(op, pData, pulDataLen); /* kept for a larger buffer */
    struct token_key *k = token_find_key(&slot->token, op->key_ref);
    if (!k) {
        p11_op_reset(op);
        return CKR_KEY_HANDLE_INVALID;
    }
    size_t mod = (k->bits + 7) / 8;
    if (mod > P11_MAX_RAW_INPUT) {
        p11_op_reset(op);
        return CKR_KEY_SIZE_RANGE;
    }
    if (!op->multi_part && op->buffer_len != mod) {
        p11_op_reset(op);
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    }
    if (!pData) {
        *pulDataLen = mod; /* an upper bound until the card has answered */
        return CKR_OK;
    }
    if (op->buffer_len != mod) {
        p11_op_reset(op);
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    }
    if (!slot->logged_in || slot->login != CKU_USER) {
        p11_op_reset(op);
        return CKR_USER_NOT_LOGGED_IN;
    }
    if (p11_key_pin_always(k) && !op->context_pin.data)
        return p11_prompt_wanted(slot, k, CKR_USER_NOT_LOGGED_IN);
    if (!p11_below_modulus(k->pub, op->buffer, op->buffer_len)) {
        p11_op_reset(op);
        return CKR_ENCRYPTED_DATA_INVALID;
    }
    uint8_t in_sha[32];
    unsigned int in_sha_len = 0;
    EVP_Digest(op->buffer, op->buffer_len, in_sha, &in_sha_len, EVP_sha256(), NULL);
    struct p11_signature_event ev = { .slot = slot, .key = k, .kind = P11_DECRYPT, .mechanism = op->mechanism,
                                      .digest = in_sha, .input_len = op->buffer_len };
    char warning[160];
    CK_RV rv = p11_policy_decide(&ev, &out->rec, warning, sizeof(warning));
    if (rv != CKR_OK) {
        p11_op_reset(op);
        return rv;
    }
    rv = decrypt_on_card(slot, op, k, out);
    /* Recorded whatever the outcome, before any plain text leaves. */
    p11_record_init(&out->rec, slot, "decrypt", k);
    p11_record_input(&out->rec, op->mechanism, in_sha, op->buffer_len);
    snprintf(out->rec.detail, sizeof(out->rec.detail), "%s", warning);
    out->rec.outcome = rv;
    out->serial = op->serial;
    if (rv == CKR_OK)
        op->in_flight = true;
    else
        p11_op_reset(op);
    return rv;
}

/* With the slot unlocked: the record; then the plain text to the caller
 * (or kept for a larger buffer), if the operation is still there. */
static CK_RV complete_decrypt(CK_SESSION_HANDLE hSession, CK_RV rv, struct decrypted *d, CK_BYTE_PTR pData,
                              CK_ULONG_PTR pulDataLen)
{
    if (!d->rec.active)
        return rv;
    CK_RV recorded = p11_record_make(&d->rec);
    const char *not_delivered = NULL;
    if (rv == CKR_OK) {
        struct p11_slot *slot;
        struct p11_session *s;
        CK_RV found = p11_session_get(hSession, &slot, &s);
        struct p11_operation *op = found == CKR_OK ? &s->crypto : NULL;
        if (op && op->kind == OP_DECRYPT && op->serial == d->serial && op->in_flight) {
            op->in_flight = false;
            if (recorded == CKR_OK && (!op->buffer || d->len > op->buffer_cap)) {
                /* (the operation's buffer held its input, never shorter) */
                not_delivered = "the plain text did not fit the operation's buffer";
                recorded = CKR_GENERAL_ERROR;
            }
            if (recorded != CKR_OK) {
                p11_op_reset(op);
                rv = recorded;
            } else {
                memcpy(op->buffer, d->plain, d->len);
                op->buffer_len = d->len;
                op->result_ready = true;
                rv = deliver(op, pData, pulDataLen);
            }
            p11_slot_unlock(slot);
        } else {
            if (found == CKR_OK)
                p11_slot_unlock(slot);
            /* Closed, logged out or removed meanwhile: nothing leaves. */
            if (recorded == CKR_OK)
                not_delivered = "the session's operation ended before the plain text was delivered";
            rv = found != CKR_OK ? found : CKR_OPERATION_NOT_INITIALIZED;
        }
        /* With the slot unlocked, as every record. */
        if (not_delivered)
            p11_record_withhold(&d->rec, not_delivered);
    }
    p11_record_clear(&d->rec);
    OPENSSL_cleanse(d->plain, sizeof(d->plain));
    return rv;
}

/* A decryption that can go on (a buffer too small, a context login
 * wanted, another call's record being made) keeps its operation; any
 * other failure ends it. */
static CK_RV end_decrypt_call(struct p11_slot *slot, struct p11_session *s, CK_RV rv)
{
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL && rv != CKR_USER_NOT_LOGGED_IN && rv != CKR_OPERATION_ACTIVE)
        p11_op_reset(&s->crypto);
    return p11_session_end_call(slot, s, rv);
}

/* A PIN-always key without a context login: the PIN through pinentry
 * (slot unlocked meanwhile), then the decryption. On return the slot is
 * locked iff *s is not NULL. */
static CK_RV ask_and_decrypt(CK_SESSION_HANDLE h, struct p11_slot **slot, struct p11_session **s, CK_RV rv,
                             CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen, struct decrypted *d)
{
    if (rv != P11_RV_ASK_PIN)
        return end_decrypt_call(*slot, *s, rv);
    rv = p11_prompt_pin(h, slot, s, (*s)->crypto.key_ref, P11_DECRYPT, NULL);
    if (!*s)
        return rv;
    if (rv == CKR_OK)
        rv = finish_decrypt(*slot, *s, pData, pulDataLen, d);
    return end_decrypt_call(*slot, *s, rv == P11_RV_ASK_PIN ? CKR_USER_NOT_LOGGED_IN : rv);
}

CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
                CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    bool args_ok = pulDataLen && (pEncryptedData || !ulEncryptedDataLen);
    CK_RV rv = p11_session_continue_op(hSession, OP_DECRYPT, args_ok, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    struct decrypted *d = OPENSSL_secure_zalloc(sizeof(*d));
    if (!d) {
        p11_slot_unlock(slot);
        return CKR_HOST_MEMORY;
    }
    if (!op->absorbed && !op->in_flight) {
        op->absorbed = true;
        if (!p11_buffer_append(op, pEncryptedData, ulEncryptedDataLen))
            rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
    }
    rv = ask_and_decrypt(hSession, &slot, &s, rv == CKR_OK ? finish_decrypt(slot, s, pData, pulDataLen, d) : rv,
                         pData, pulDataLen, d);
    if (s)
        p11_slot_unlock(slot);
    rv = complete_decrypt(hSession, rv, d, pData, pulDataLen);
    OPENSSL_secure_clear_free(d, sizeof(*d));
    return rv;
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                      CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    bool args_ok = pulPartLen && (pEncryptedPart || !ulEncryptedPartLen);
    CK_RV rv = p11_session_continue_op(hSession, OP_DECRYPT, args_ok, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    if (op->in_flight) {
        rv = CKR_OPERATION_ACTIVE;
    } else if (!p11_buffer_append(op, pEncryptedPart, ulEncryptedPartLen)) {
        p11_op_reset(op);
        rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
    } else {
        op->multi_part = true;
        *pulPartLen = 0; /* RSA gives everything at the end */
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    struct p11_operation *op;
    CK_RV rv = p11_session_continue_op(hSession, OP_DECRYPT, pulLastPartLen != NULL, &slot, &s, &op);
    if (rv != CKR_OK)
        return rv;
    struct decrypted *d = OPENSSL_secure_zalloc(sizeof(*d));
    if (!d) {
        p11_slot_unlock(slot);
        return CKR_HOST_MEMORY;
    }
    if (!op->in_flight)
        op->multi_part = true;
    rv = ask_and_decrypt(hSession, &slot, &s, finish_decrypt(slot, s, pLastPart, pulLastPartLen, d), pLastPart,
                         pulLastPartLen, d);
    if (s)
        p11_slot_unlock(slot);
    rv = complete_decrypt(hSession, rv, d, pLastPart, pulLastPartLen);
    OPENSSL_secure_clear_free(d, sizeof(*d));
    return rv;
}
