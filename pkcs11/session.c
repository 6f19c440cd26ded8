/* kyso-pkcs11.so: sessions, login, and the PIN functions. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "pkcs11/internal.h"

void p11_op_reset(struct p11_operation *op)
{
    EVP_MD_CTX_free(op->md);
    EVP_MD_CTX_free(op->audit_md);
    if (op->buffer)
        OPENSSL_clear_free(op->buffer, op->buffer_cap);
    if (op->oaep_label)
        OPENSSL_clear_free(op->oaep_label, op->oaep_label_len);
    EVP_PKEY_free(op->verify_key);
    p11_secret_clear(&op->context_pin);
    memset(op, 0, sizeof(*op));
}

static struct p11_operation *operation_of(struct p11_session *s, enum p11_op_kind kind)
{
    return kind == OP_DIGEST ? &s->digest : kind == OP_FIND ? &s->find : &s->crypto;
}

CK_RV p11_session_begin_op(CK_SESSION_HANDLE h, enum p11_op_kind kind, bool args_ok, struct p11_slot **slot,
                           struct p11_session **s, struct p11_operation **op)
{
    CK_RV rv = p11_session_get(h, slot, s);
    if (rv != CKR_OK)
        return rv;
    *op = operation_of(*s, kind);
    if (!args_ok)
        rv = CKR_ARGUMENTS_BAD;
    else if ((*op)->kind != OP_NONE)
        rv = CKR_OPERATION_ACTIVE;
    if (rv != CKR_OK)
        p11_slot_unlock(*slot);
    return rv;
}

bool p11_op_mixed(struct p11_operation *op, bool single_part)
{
    if (!(single_part ? op->multi_part : op->absorbed))
        return false;
    p11_op_reset(op);
    return true;
}

CK_RV p11_session_continue_op(CK_SESSION_HANDLE h, enum p11_op_kind kind, bool args_ok, struct p11_slot **slot,
                              struct p11_session **s, struct p11_operation **op)
{
    CK_RV rv = p11_session_get(h, slot, s);
    if (rv != CKR_OK)
        return rv;
    *op = operation_of(*s, kind);
    if ((*op)->kind != kind) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if ((*op)->in_flight) {
        rv = CKR_OPERATION_ACTIVE; /* another call has it, with the slot unlocked */
    } else if (!args_ok) {
        p11_op_reset(*op);
        rv = CKR_ARGUMENTS_BAD;
    }
    if (rv != CKR_OK)
        p11_slot_unlock(*slot);
    return rv;
}

void p11_session_free(struct p11_slot *slot, struct p11_session *s)
{
    struct p11_session **pp = &slot->sessions;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = s->next;
    p11_op_reset(&s->find);
    p11_op_reset(&s->crypto);
    p11_op_reset(&s->digest);
    p11_secret_objects_drop(slot, s->handle);
    slot->session_count--;
    if (s->flags & CKF_RW_SESSION)
        slot->rw_session_count--;
    free(s);
    /* The last session closed ends the login (PKCS#11 §5.6). */
    if (slot->session_count == 0 && slot->logged_in) {
        if (slot->token_ready && p11_slot_begin(slot) == CKR_OK) {
            slot->token.edge->logout(&slot->token);
            p11_slot_end(slot);
        }
        p11_slot_logout_state(slot);
    }
}

CK_RV p11_session_end_call(struct p11_slot *slot, struct p11_session *s, CK_RV rv)
{
    if (rv == CKR_DEVICE_REMOVED || s->generation != slot->generation)
        p11_session_free(slot, s);
    return rv;
}

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                    CK_SESSION_HANDLE_PTR phSession)
{
    struct p11_slot *slot;
    CK_RV rv = p11_slot_get(slotID, &slot);
    if (rv != CKR_OK)
        return rv;
    if (!phSession) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    if (!(flags & CKF_SERIAL_SESSION)) {
        rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
        goto out;
    }
    rv = p11_slot_refresh(slot);
    if (rv == CKR_OK && !slot->token_ready)
        rv = CKR_TOKEN_NOT_PRESENT;
    if (rv != CKR_OK)
        goto out;
    if (!(flags & CKF_RW_SESSION) && slot->logged_in && slot->login == CKU_SO) {
        rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
        goto out;
    }
    struct p11_session *s = calloc(1, sizeof(*s));
    if (!s) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    slot->next_session = (slot->next_session + 1) & 0xFFFFFF;
    if (slot->next_session == 0)
        slot->next_session = 1;
    s->handle = ((CK_SESSION_HANDLE)(slot->id + 1) << 24) | slot->next_session;
    s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
    s->generation = slot->generation;
    s->next = slot->sessions;
    slot->sessions = s;
    slot->session_count++;
    if (flags & CKF_RW_SESSION)
        slot->rw_session_count++;
    *phSession = s->handle;
out:
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv == CKR_DEVICE_REMOVED)
        return CKR_OK; /* it was closed by the removal */
    if (rv != CKR_OK)
        return rv;
    p11_session_free(slot, s);
    p11_slot_unlock(slot);
    return CKR_OK;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    struct p11_slot *slot;
    CK_RV rv = p11_slot_get(slotID, &slot);
    if (rv != CKR_OK)
        return rv;
    while (slot->sessions)
        p11_session_free(slot, slot->sessions);
    p11_slot_unlock(slot);
    return CKR_OK;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (!pInfo) {
        p11_slot_unlock(slot);
        return CKR_ARGUMENTS_BAD;
    }
    bool rw = s->flags & CKF_RW_SESSION;
    pInfo->slotID = slot->id;
    pInfo->flags = s->flags;
    pInfo->ulDeviceError = 0;
    if (slot->logged_in && slot->login == CKU_SO)
        pInfo->state = CKS_RW_SO_FUNCTIONS;
    else if (slot->logged_in)
        pInfo->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        pInfo->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    p11_slot_unlock(slot);
    return CKR_OK;
}

/* A management key is given as hex (48, 32 or 64 digits); anything else
 * is the PUK. */
static bool parse_mgm_key(const uint8_t *pin, size_t len, uint8_t *out, size_t *out_len)
{
    if (len != 32 && len != 48 && len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit(pin[i]))
            return false;
    for (size_t i = 0; i < len / 2; i++) {
        char hex[3] = { (char)pin[2 * i], (char)pin[2 * i + 1], 0 };
        out[i] = (uint8_t)strtoul(hex, NULL, 16);
    }
    *out_len = len / 2;
    return true;
}

static CK_RV rv_from_pin_status(int rc)
{
    if (rc == PCSC_E_INVALID_ARG)
        return CKR_PIN_LEN_RANGE;
    if (rc == PCSC_E_INCORRECT_DATA || rc == PCSC_E_WRONG_LENGTH)
        return CKR_PIN_INVALID;
    return p11_rv_from_pcsc(rc);
}

/* A PIN refused by the card: the code to return, and the record of it
 * (a failure, or the lock-out when it was the last try). */
static CK_RV pin_failed(struct p11_slot *slot, int rc, int tries, const char *which)
{
    CK_RV rv = rc == PCSC_E_WRONG_PIN && tries == 0 ? CKR_PIN_LOCKED : rv_from_pin_status(rc);
    char detail[96];
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
        if (tries >= 0)
            snprintf(detail, sizeof(detail), "%s: %d tries left", which, tries);
        else
            snprintf(detail, sizeof(detail), "%s", which);
        p11_audit_note(slot, rv == CKR_PIN_LOCKED ? "pin_locked" : "pin_failure", NULL, rv, detail);
    }
    return rv;
}

CK_RV p11_context_verify(struct p11_slot *slot, const uint8_t *pin, size_t len, const char *who)
{
    int tries;
    /* Checked now so that a wrong PIN is reported here; sent again by
     * the operation itself, right before the private-key operation. */
    CK_RV rv = p11_slot_begin(slot);
    if (rv != CKR_OK)
        return rv;
    int rc = slot->token.edge->verify(&slot->token, TOKEN_PIN_USER, pin, len, &tries);
    rc = p11_slot_finish(slot, rc);
    p11_debug("%s: %s", who, pcsc_status_name(rc));
    if (rc != PCSC_OK)
        return pin_failed(slot, rc, tries, "user PIN (for one operation)");
    return CKR_OK;
}

static CK_RV login(struct p11_slot *slot, struct p11_session *s, CK_USER_TYPE type, const uint8_t *pin, size_t len)
{
    int rc, tries;
    CK_RV rv;

    switch (type) {
    case CKU_USER:
        if (slot->logged_in)
            return slot->login == CKU_USER ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
        rv = p11_slot_begin(slot);
        if (rv != CKR_OK)
            return rv;
        rc = slot->token.edge->verify(&slot->token, TOKEN_PIN_USER, pin, len, &tries);
        rc = p11_slot_finish(slot, rc);
        p11_debug("C_Login(USER): %s", pcsc_status_name(rc));
        if (rc != PCSC_OK)
            return pin_failed(slot, rc, tries, "user PIN");
        slot->logged_in = true;
        slot->login = CKU_USER;
        slot->login_serial++;
        if (p11.pin_cache)
            p11_secret_set(&slot->user_pin, pin, len);
        return CKR_OK;

    case CKU_SO: {
        if (slot->logged_in)
            return slot->login == CKU_SO ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
        for (struct p11_session *o = slot->sessions; o; o = o->next)
            if (!(o->flags & CKF_RW_SESSION))
                return CKR_SESSION_READ_ONLY_EXISTS;
        uint8_t key[32];
        size_t key_len = 0;
        if (slot->token.edge->admin_auth && parse_mgm_key(pin, len, key, &key_len)) {
            /* The management key is checked now, by mutual authentication. */
            rv = p11_slot_begin(slot);
            if (rv != CKR_OK) {
                OPENSSL_cleanse(key, sizeof(key));
                return rv;
            }
            rc = slot->token.edge->admin_auth(&slot->token, key, key_len);
            p11_slot_end(slot);
            p11_debug("C_Login(SO, management key): %s", pcsc_status_name(rc));
            if (rc != PCSC_OK) {
                OPENSSL_cleanse(key, sizeof(key));
                return rc == PCSC_E_SECURITY || rc == PCSC_E_INVALID_ARG ? CKR_PIN_INCORRECT
                                                                          : p11_rv_from_pcsc(rc);
            }
            p11_secret_set(&slot->so_secret, key, key_len);
            OPENSSL_cleanse(key, sizeof(key));
            slot->so_is_mgm_key = true;
        } else {
            /* A PIV PUK has no VERIFY: it is checked when used (C_InitPIN,
             * C_SetPIN), where a wrong one costs a try and says so. */
            if (len < 6 || len > 8)
                return CKR_PIN_LEN_RANGE;
            p11_secret_set(&slot->so_secret, pin, len);
            slot->so_is_mgm_key = false;
        }
        slot->logged_in = true;
        slot->login = CKU_SO;
        slot->login_serial++;
        return CKR_OK;
    }

    case CKU_CONTEXT_SPECIFIC: {
        struct p11_operation *op = &s->crypto;
        if (op->kind == OP_NONE)
            return CKR_OPERATION_NOT_INITIALIZED;
        if (!slot->logged_in || slot->login != CKU_USER)
            return CKR_USER_NOT_LOGGED_IN;
        if ((rv = p11_context_verify(slot, pin, len, "C_Login(CONTEXT_SPECIFIC)")) != CKR_OK)
            return rv;
        if (!p11_secret_set(&op->context_pin, pin, len))
            return CKR_HOST_MEMORY;
        op->context_pin_verified = true;
        op->needs_context_login = false;
        return CKR_OK;
    }
    default:
        return CKR_USER_TYPE_INVALID;
    }
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    struct p11_secret asked = { .data = NULL };
    if (!pPin && ulPinLen)
        rv = CKR_ARGUMENTS_BAD;
    else if (!pPin && p11_rules_protected_path() && (userType == CKU_USER || userType == CKU_CONTEXT_SPECIFIC)) {
        /* The protected authentication path: the PIN through pinentry. */
        rv = p11_prompt_login(hSession, &slot, &s, userType, &asked);
        if (!s)
            return rv; /* the session went while the user answered: unlocked */
        if (rv == CKR_OK && userType == CKU_USER)
            rv = p11_session_end_call(slot, s, login(slot, s, userType, asked.data, asked.len));
        p11_secret_clear(&asked);
    } else if (!pPin)
        rv = CKR_PIN_INCORRECT; /* no PIN pad on this reader */
    else if (ulPinLen > P11_MAX_PIN)
        rv = CKR_PIN_LEN_RANGE;
    else
        rv = p11_session_end_call(slot, s, login(slot, s, userType, pPin, ulPinLen));
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                  CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen)
{
    /* Tokens with one user per role: the user name is not used. */
    if (!pUsername && ulUsernameLen)
        return CKR_ARGUMENTS_BAD;
    return C_Login(hSession, userType, pPin, ulPinLen);
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (!slot->logged_in) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else {
        if (p11_slot_begin(slot) == CKR_OK) {
            slot->token.edge->logout(&slot->token);
            p11_slot_end(slot);
        }
        p11_slot_logout_state(slot);
        /* Operations that needed the login end with it. */
        for (struct p11_session *o = slot->sessions; o; o = o->next)
            p11_op_reset(&o->crypto);
    }
    p11_slot_unlock(slot);
    return rv;
}

/* C_InitPIN: the SO (logged in with the PUK) unblocks and sets the user PIN. */
CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    int tries;
    if (!pPin) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (!(s->flags & CKF_RW_SESSION)) {
        rv = CKR_SESSION_READ_ONLY;
    } else if (!slot->logged_in || slot->login != CKU_SO) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else if (slot->so_is_mgm_key) {
        rv = CKR_USER_NOT_LOGGED_IN; /* unblocking needs the PUK */
    } else if ((rv = p11_rules_admin_write(slot, "unblocking the user PIN (C_InitPIN)", NULL)) != CKR_OK) {
        /* M2 and M6: only the authorised body recovers a locked token */
    } else if ((rv = p11_slot_begin(slot)) == CKR_OK) {
        int rc = slot->token.edge->unblock(&slot->token, slot->so_secret.data, slot->so_secret.len, pPin, ulPinLen,
                                           &tries);
        p11_slot_end(slot);
        p11_debug("C_InitPIN: %s", pcsc_status_name(rc));
        rv = rv_from_pin_status(rc);
        p11_audit_note(slot, "pin_unblock", NULL, rv, "user PIN unblocked with the PUK");
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin,
               CK_ULONG ulNewLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    int tries;
    if (!pOldPin || !pNewPin) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (!(s->flags & CKF_RW_SESSION)) {
        rv = CKR_SESSION_READ_ONLY;
    } else if ((rv = p11_slot_begin(slot)) == CKR_OK) {
        /* The SO changes the PUK; anyone else the user PIN. */
        enum token_pin_ref ref = slot->logged_in && slot->login == CKU_SO ? TOKEN_PIN_SO : TOKEN_PIN_USER;
        int rc = slot->token.edge->change_pin(&slot->token, ref, pOldPin, ulOldLen, pNewPin, ulNewLen, &tries);
        p11_slot_end(slot);
        p11_debug("C_SetPIN(%s): %s", ref == TOKEN_PIN_SO ? "SO" : "user", pcsc_status_name(rc));
        rv = rv_from_pin_status(rc);
        p11_audit_note(slot, "pin_change", NULL, rv, ref == TOKEN_PIN_SO ? "PUK changed" : "user PIN changed");
        if (rv == CKR_OK && ref == TOKEN_PIN_USER && slot->user_pin.data)
            p11_secret_set(&slot->user_pin, pNewPin, ulNewLen);
        /* A SO logged in with the management key keeps it: the PUK it
         * changed is not what it logged in with. */
        if (rv == CKR_OK && ref == TOKEN_PIN_SO && !slot->so_is_mgm_key)
            p11_secret_set(&slot->so_secret, pNewPin, ulNewLen);
    }
    p11_slot_unlock(slot);
    return rv;
}

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
    struct p11_slot *slot;
    CK_RV rv = p11_slot_get(slotID, &slot);
    if (rv != CKR_OK)
        return rv;
    p11_slot_unlock(slot);
    if (!pPin || !pLabel)
        return CKR_ARGUMENTS_BAD;
    /* Tokens are personalised by the CA, never re-initialised here. */
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    if (flags & (CKF_SIGN | CKF_VERIFY | CKF_DECRYPT | CKF_ENCRYPT)) {
        if (s->crypto.kind != OP_NONE &&
            ((flags & CKF_SIGN && s->crypto.kind == OP_SIGN) || (flags & CKF_VERIFY && s->crypto.kind == OP_VERIFY) ||
             (flags & CKF_DECRYPT && s->crypto.kind == OP_DECRYPT)))
            p11_op_reset(&s->crypto);
    }
    if (flags & CKF_DIGEST)
        p11_op_reset(&s->digest);
    if (flags & CKF_FIND_OBJECTS)
        p11_op_reset(&s->find);
    p11_slot_unlock(slot);
    return CKR_OK;
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, CK_ULONG_PTR pulOperationStateLen)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    p11_slot_unlock(slot);
    return pulOperationStateLen ? CKR_FUNCTION_NOT_SUPPORTED : CKR_ARGUMENTS_BAD;
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, CK_ULONG ulOperationStateLen,
                          CK_OBJECT_HANDLE hEncryptionKey, CK_OBJECT_HANDLE hAuthenticationKey)
{
    struct p11_slot *slot;
    struct p11_session *s;
    CK_RV rv = p11_session_get(hSession, &slot, &s);
    if (rv != CKR_OK)
        return rv;
    p11_slot_unlock(slot);
    return pOperationState ? CKR_FUNCTION_NOT_SUPPORTED : CKR_ARGUMENTS_BAD;
}
