/* A PKCS#11 client for the tests of kyso-pkcs11.so: loads the module
 * with dlopen (never linked, so that the tests drive the very .so that
 * is installed), finds the token's objects, signs, and checks
 * signatures with OpenSSL against the certificate's public key. Used by
 * module_api.c and module_stress.c, inside tests/with-token. */
#ifndef KYSO_TESTS_INTEGRATION_P11_CLIENT_H
#define KYSO_TESTS_INTEGRATION_P11_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "pkcs11/pkcs11.h"

/* The module as loaded: its 3.0 function list (C_GetInterface "PKCS 11"
 * 3.0) and its 2.40 list (C_GetFunctionList), plus the three exported
 * entry points themselves. */
struct p11c_module {
    void *dl;
    CK_FUNCTION_LIST_3_0 *f;
    CK_FUNCTION_LIST *f2;
    CK_RV (*get_function_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_RV (*get_interface_list)(CK_INTERFACE_PTR, CK_ULONG_PTR);
    CK_RV (*get_interface)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS);
};
extern struct p11c_module p11c;

/* The module's path: $KYSO_MODULE, else the argument. */
const char *p11c_module_path(const char *arg);
/* dlopen and look up the entry points; prints why and returns false on
 * failure. */
bool p11c_load(const char *path);

/* The token's secrets (environment of with-token, else the defaults). */
const char *p11c_pin(void);
const char *p11c_puk(void);

/* "CKR_..." for a return value. */
const char *p11c_rv_name(CK_RV rv);

/* The slot holding the token (reader $KYSO_READER): CKR_OK and *slot,
 * or the error of C_GetSlotList / CKR_TOKEN_NOT_PRESENT. */
CK_RV p11c_token_slot(CK_SLOT_ID *slot);
/* Waits (up to ms) until the token is present (or absent) in slot. */
bool p11c_wait_token(CK_SLOT_ID slot, bool present, int ms);

/* Finds the one object of this class with CKA_ID {id}; 0 if none (or
 * more than one). */
CK_OBJECT_HANDLE p11c_find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, uint8_t id);
/* Number of objects of this class that the session sees. */
long p11c_count(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls);

/* Public key of the certificate with CKA_ID {id}, read through the
 * module (CKA_VALUE) and parsed with OpenSSL; NULL on failure. */
EVP_PKEY *p11c_cert_key(CK_SESSION_HANDLE h, uint8_t id);

/* One signature: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC) if asked,
 * C_Sign. Returns the first error. */
CK_RV p11c_sign(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech, bool context_login,
                const uint8_t *data, size_t len, uint8_t *sig, CK_ULONG *sig_len);

/* Checks a signature made with CKM_ECDSA_SHA256 (r||s), CKM_ECDSA (r||s
 * over a given hash), CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS (over a
 * DigestInfo) against the public key. */
bool p11c_verify(EVP_PKEY *key, CK_MECHANISM_TYPE mech, const uint8_t *data, size_t len, const uint8_t *sig,
                 size_t sig_len);

/* Whether the test runs under valgrind (KYSO_VALGRIND=1, as lib.sh's
 * run_checked does). */
bool p11c_under_valgrind(void);

/* Arms a watchdog (alarm) of seconds, three times longer under valgrind:
 * a call that hangs fails the run instead of blocking. */
void p11c_watchdog(unsigned seconds);

/* kyso-vtoken ctl COMMAND (remove, insert, ...); its exit status. */
int p11c_ctl(const char *command);
/* The APDUs the token has answered since the last "stats-reset" (ctl
 * stats), or -1. */
long p11c_token_apdus(void);

#endif
