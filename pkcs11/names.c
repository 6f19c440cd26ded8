/* kyso-pkcs11.so: the names of mechanisms and return values, for the
 * audit records (and the debug log). */
#include "config.h"

#include <stdio.h>

#include "pkcs11/internal.h"

#define NAME(x) { x, #x }

static const struct {
    CK_ULONG value;
    const char *name;
} mechanisms[] = {
    NAME(CKM_RSA_PKCS), NAME(CKM_RSA_X_509), NAME(CKM_RSA_PKCS_PSS), NAME(CKM_RSA_PKCS_OAEP),
    NAME(CKM_SHA1_RSA_PKCS), NAME(CKM_SHA224_RSA_PKCS), NAME(CKM_SHA256_RSA_PKCS), NAME(CKM_SHA384_RSA_PKCS),
    NAME(CKM_SHA512_RSA_PKCS), NAME(CKM_SHA1_RSA_PKCS_PSS), NAME(CKM_SHA224_RSA_PKCS_PSS),
    NAME(CKM_SHA256_RSA_PKCS_PSS), NAME(CKM_SHA384_RSA_PKCS_PSS), NAME(CKM_SHA512_RSA_PKCS_PSS),
    NAME(CKM_RSA_PKCS_KEY_PAIR_GEN), NAME(CKM_ECDSA), NAME(CKM_ECDSA_SHA1), NAME(CKM_ECDSA_SHA224),
    NAME(CKM_ECDSA_SHA256), NAME(CKM_ECDSA_SHA384), NAME(CKM_ECDSA_SHA512), NAME(CKM_ECDH1_DERIVE),
    NAME(CKM_EC_KEY_PAIR_GEN),
}, results[] = {
    NAME(CKR_OK), NAME(CKR_CANCEL), NAME(CKR_HOST_MEMORY), NAME(CKR_GENERAL_ERROR), NAME(CKR_FUNCTION_FAILED),
    NAME(CKR_ARGUMENTS_BAD), NAME(CKR_DATA_INVALID), NAME(CKR_DATA_LEN_RANGE), NAME(CKR_DEVICE_ERROR),
    NAME(CKR_DEVICE_MEMORY), NAME(CKR_DEVICE_REMOVED), NAME(CKR_ENCRYPTED_DATA_INVALID),
    NAME(CKR_ENCRYPTED_DATA_LEN_RANGE), NAME(CKR_FUNCTION_CANCELED), NAME(CKR_KEY_HANDLE_INVALID),
    NAME(CKR_KEY_TYPE_INCONSISTENT), NAME(CKR_KEY_FUNCTION_NOT_PERMITTED), NAME(CKR_MECHANISM_INVALID),
    NAME(CKR_MECHANISM_PARAM_INVALID), NAME(CKR_OPERATION_ACTIVE), NAME(CKR_OPERATION_NOT_INITIALIZED),
    NAME(CKR_PIN_INCORRECT), NAME(CKR_PIN_INVALID), NAME(CKR_PIN_LEN_RANGE), NAME(CKR_PIN_EXPIRED),
    NAME(CKR_PIN_LOCKED), NAME(CKR_SESSION_HANDLE_INVALID), NAME(CKR_TOKEN_NOT_PRESENT),
    NAME(CKR_TOKEN_NOT_RECOGNIZED), NAME(CKR_USER_NOT_LOGGED_IN), NAME(CKR_USER_TYPE_INVALID),
    NAME(CKR_TEMPLATE_INCONSISTENT), NAME(CKR_ACTION_PROHIBITED), NAME(CKR_FUNCTION_NOT_SUPPORTED),
};

static const char *lookup(CK_ULONG v, const void *table, size_t n, char *buf, size_t buflen)
{
    const struct { CK_ULONG value; const char *name; } *t = table;
    for (size_t i = 0; i < n; i++)
        if (t[i].value == v)
            return t[i].name;
    snprintf(buf, buflen, "0x%08lx", v);
    return buf;
}

const char *p11_mechanism_name(CK_MECHANISM_TYPE m, char *buf, size_t buflen)
{
    return lookup(m, mechanisms, sizeof(mechanisms) / sizeof(mechanisms[0]), buf, buflen);
}

const char *p11_rv_name(CK_RV rv, char *buf, size_t buflen)
{
    return lookup(rv, results, sizeof(results) / sizeof(results[0]), buf, buflen);
}
