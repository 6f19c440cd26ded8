/* See p11_client.h. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/x509.h>

#include "tests/integration/p11_client.h"

struct p11c_module p11c;

const char *p11c_module_path(const char *arg)
{
    const char *env = getenv("KYSO_MODULE");
    if (env && *env)
        return env;
    return arg;
}

bool p11c_load(const char *path)
{
    if (!path) {
        fprintf(stderr, "p11_client: no module (set KYSO_MODULE or give its path)\n");
        return false;
    }
    p11c.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p11c.dl) {
        fprintf(stderr, "p11_client: dlopen %s: %s\n", path, dlerror());
        return false;
    }
    *(void **)&p11c.get_function_list = dlsym(p11c.dl, "C_GetFunctionList");
    *(void **)&p11c.get_interface_list = dlsym(p11c.dl, "C_GetInterfaceList");
    *(void **)&p11c.get_interface = dlsym(p11c.dl, "C_GetInterface");
    if (!p11c.get_function_list || !p11c.get_interface_list || !p11c.get_interface) {
        fprintf(stderr, "p11_client: %s does not export C_GetFunctionList, C_GetInterfaceList, C_GetInterface\n",
                path);
        return false;
    }
    CK_INTERFACE *itf = NULL;
    CK_VERSION v3 = { 3, 0 };
    CK_RV rv = p11c.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v3, &itf, 0);
    if (rv != CKR_OK || !itf || !itf->pFunctionList) {
        fprintf(stderr, "p11_client: C_GetInterface(\"PKCS 11\", 3.0): %s\n", p11c_rv_name(rv));
        return false;
    }
    p11c.f = itf->pFunctionList;
    rv = p11c.get_function_list(&p11c.f2);
    if (rv != CKR_OK || !p11c.f2) {
        fprintf(stderr, "p11_client: C_GetFunctionList: %s\n", p11c_rv_name(rv));
        return false;
    }
    return true;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

const char *p11c_pin(void)
{
    return env_or("KYSO_TEST_PIN", "123456");
}

const char *p11c_puk(void)
{
    return env_or("KYSO_TEST_PUK", "12345678");
}

const char *p11c_rv_name(CK_RV rv)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
#define N(x) { x, #x }
        N(CKR_OK), N(CKR_CANCEL), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID), N(CKR_GENERAL_ERROR),
        N(CKR_FUNCTION_FAILED), N(CKR_ARGUMENTS_BAD), N(CKR_NO_EVENT), N(CKR_CANT_LOCK),
        N(CKR_ATTRIBUTE_READ_ONLY), N(CKR_ATTRIBUTE_SENSITIVE), N(CKR_ATTRIBUTE_TYPE_INVALID),
        N(CKR_ATTRIBUTE_VALUE_INVALID), N(CKR_DATA_INVALID), N(CKR_DATA_LEN_RANGE), N(CKR_DEVICE_ERROR),
        N(CKR_DEVICE_MEMORY), N(CKR_DEVICE_REMOVED), N(CKR_FUNCTION_CANCELED), N(CKR_FUNCTION_NOT_PARALLEL),
        N(CKR_FUNCTION_NOT_SUPPORTED), N(CKR_KEY_HANDLE_INVALID), N(CKR_KEY_TYPE_INCONSISTENT),
        N(CKR_KEY_FUNCTION_NOT_PERMITTED), N(CKR_MECHANISM_INVALID), N(CKR_MECHANISM_PARAM_INVALID),
        N(CKR_OBJECT_HANDLE_INVALID), N(CKR_OPERATION_ACTIVE), N(CKR_OPERATION_NOT_INITIALIZED),
        N(CKR_PIN_INCORRECT), N(CKR_PIN_INVALID), N(CKR_PIN_LEN_RANGE), N(CKR_PIN_EXPIRED), N(CKR_PIN_LOCKED),
        N(CKR_SESSION_CLOSED), N(CKR_SESSION_COUNT), N(CKR_SESSION_HANDLE_INVALID),
        N(CKR_SESSION_PARALLEL_NOT_SUPPORTED), N(CKR_SESSION_READ_ONLY), N(CKR_SESSION_EXISTS),
        N(CKR_SESSION_READ_ONLY_EXISTS), N(CKR_SESSION_READ_WRITE_SO_EXISTS), N(CKR_SIGNATURE_INVALID),
        N(CKR_SIGNATURE_LEN_RANGE), N(CKR_TEMPLATE_INCOMPLETE), N(CKR_TEMPLATE_INCONSISTENT),
        N(CKR_TOKEN_NOT_PRESENT), N(CKR_TOKEN_NOT_RECOGNIZED), N(CKR_TOKEN_WRITE_PROTECTED),
        N(CKR_USER_ALREADY_LOGGED_IN), N(CKR_USER_NOT_LOGGED_IN), N(CKR_USER_PIN_NOT_INITIALIZED),
        N(CKR_USER_TYPE_INVALID), N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN), N(CKR_USER_TOO_MANY_TYPES),
        N(CKR_BUFFER_TOO_SMALL), N(CKR_CRYPTOKI_NOT_INITIALIZED), N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
        N(CKR_MUTEX_BAD), N(CKR_MUTEX_NOT_LOCKED), N(CKR_FUNCTION_REJECTED),
#undef N
    };
    static _Thread_local char other[32];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == rv)
            return names[i].name;
    snprintf(other, sizeof(other), "0x%08lx", (unsigned long)rv);
    return other;
}

/* Does the padded slot description name this reader? */
static bool description_is(const CK_UTF8CHAR *desc, size_t cap, const char *reader)
{
    size_t n = strlen(reader);
    if (n > cap)
        n = cap;
    if (memcmp(desc, reader, n) != 0)
        return false;
    for (size_t i = n; i < cap; i++)
        if (desc[i] != ' ')
            return n == cap;
    return true;
}

CK_RV p11c_token_slot(CK_SLOT_ID *slot)
{
    CK_SLOT_ID ids[32];
    CK_ULONG n = 32;
    CK_RV rv = p11c.f->C_GetSlotList(CK_TRUE, ids, &n);
    if (rv != CKR_OK)
        return rv;
    const char *reader = getenv("KYSO_READER");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_SLOT_INFO info;
        if (p11c.f->C_GetSlotInfo(ids[i], &info) != CKR_OK)
            continue;
        if (!reader || description_is(info.slotDescription, sizeof(info.slotDescription), reader)) {
            *slot = ids[i];
            return CKR_OK;
        }
    }
    return CKR_TOKEN_NOT_PRESENT;
}

bool p11c_wait_token(CK_SLOT_ID slot, bool present, int ms)
{
    for (int waited = 0;; waited += 50) {
        CK_SLOT_INFO info;
        if (p11c.f->C_GetSlotInfo(slot, &info) == CKR_OK && !!(info.flags & CKF_TOKEN_PRESENT) == present) {
            /* Present must also mean usable. */
            CK_TOKEN_INFO ti;
            if (!present || p11c.f->C_GetTokenInfo(slot, &ti) == CKR_OK)
                return true;
        }
        if (waited >= ms)
            return false;
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

CK_OBJECT_HANDLE p11c_find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, uint8_t id)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, &id, 1 } };
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n = 0;
    if (p11c.f->C_FindObjectsInit(h, t, 2) != CKR_OK)
        return 0;
    CK_RV rv = p11c.f->C_FindObjects(h, found, 4, &n);
    p11c.f->C_FindObjectsFinal(h);
    return rv == CKR_OK && n == 1 ? found[0] : 0;
}

long p11c_count(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_OBJECT_HANDLE found[64];
    CK_ULONG n = 0;
    if (p11c.f->C_FindObjectsInit(h, t, 1) != CKR_OK)
        return -1;
    CK_RV rv = p11c.f->C_FindObjects(h, found, 64, &n);
    p11c.f->C_FindObjectsFinal(h);
    return rv == CKR_OK ? (long)n : -1;
}

EVP_PKEY *p11c_cert_key(CK_SESSION_HANDLE h, uint8_t id)
{
    CK_OBJECT_HANDLE cert = p11c_find(h, CKO_CERTIFICATE, id);
    if (!cert)
        return NULL;
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    if (p11c.f->C_GetAttributeValue(h, cert, &a, 1) != CKR_OK || a.ulValueLen == 0 ||
        a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return NULL;
    unsigned char *der = malloc(a.ulValueLen);
    EVP_PKEY *key = NULL;
    a.pValue = der;
    if (der && p11c.f->C_GetAttributeValue(h, cert, &a, 1) == CKR_OK) {
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long)a.ulValueLen);
        if (x)
            key = X509_get_pubkey(x);
        X509_free(x);
    }
    free(der);
    return key;
}

CK_RV p11c_sign(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech, bool context_login,
                const uint8_t *data, size_t len, uint8_t *sig, CK_ULONG *sig_len)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    CK_RV rv = p11c.f->C_SignInit(h, &m, key);
    if (rv != CKR_OK)
        return rv;
    if (context_login) {
        rv = p11c.f->C_Login(h, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)p11c_pin(), strlen(p11c_pin()));
        if (rv != CKR_OK) {
            /* End the operation so that the session can be used again. */
            p11c.f->C_SessionCancel(h, CKF_SIGN);
            return rv;
        }
    }
    return p11c.f->C_Sign(h, (CK_BYTE_PTR)data, len, sig, sig_len);
}

bool p11c_verify(EVP_PKEY *key, CK_MECHANISM_TYPE mech, const uint8_t *data, size_t len, const uint8_t *sig,
                 size_t sig_len)
{
    unsigned char *der = NULL;
    const unsigned char *s = sig;
    size_t slen = sig_len;
    bool ok = false;

    if (!key)
        return false;
    if (mech == CKM_ECDSA_SHA256 || mech == CKM_ECDSA) {
        /* PKCS#11 gives r||s; OpenSSL wants the DER ECDSA-Sig-Value. */
        if (sig_len == 0 || sig_len % 2)
            return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, (int)sig_len / 2, NULL);
        BIGNUM *sv = BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL);
        if (!es || !r || !sv || ECDSA_SIG_set0(es, r, sv) != 1) {
            BN_free(r);
            BN_free(sv);
            ECDSA_SIG_free(es);
            return false;
        }
        int n = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (n <= 0)
            return false;
        s = der;
        slen = (size_t)n;
    }
    if (mech == CKM_ECDSA_SHA256 || mech == CKM_SHA256_RSA_PKCS) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, s, slen, data, len) == 1;
        EVP_MD_CTX_free(ctx);
    } else if (mech == CKM_ECDSA || mech == CKM_RSA_PKCS) {
        /* data is the hash (ECDSA) or the whole DigestInfo (RSA PKCS#1):
         * recover for RSA, verify the hash for ECDSA. */
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
        if (mech == CKM_ECDSA) {
            ok = ctx && EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_verify(ctx, s, slen, data, len) == 1;
        } else {
            unsigned char out[1024];
            size_t out_len = sizeof(out);
            ok = ctx && EVP_PKEY_verify_recover_init(ctx) == 1 &&
                 EVP_PKEY_verify_recover(ctx, out, &out_len, s, slen) == 1 && out_len == len &&
                 memcmp(out, data, len) == 0;
        }
        EVP_PKEY_CTX_free(ctx);
    }
    OPENSSL_free(der);
    return ok;
}

bool p11c_under_valgrind(void)
{
    const char *vg = getenv("KYSO_VALGRIND");
    return vg && strcmp(vg, "1") == 0;
}

void p11c_watchdog(unsigned seconds)
{
    alarm(p11c_under_valgrind() ? 3 * seconds : seconds);
}

int p11c_ctl(const char *command)
{
    const char *vtoken = getenv("KYSO_VTOKEN"), *ctl = getenv("KYSO_VTOKEN_CTL");
    char line[2048];
    if (!vtoken || !ctl)
        return -1;
    snprintf(line, sizeof(line), "\"%s\" ctl --control \"%s\" %s >/dev/null", vtoken, ctl, command);
    return system(line);
}

long p11c_token_apdus(void)
{
    const char *vtoken = getenv("KYSO_VTOKEN"), *ctl = getenv("KYSO_VTOKEN_CTL");
    char line[2048];
    long apdus = -1;
    if (!vtoken || !ctl)
        return -1;
    snprintf(line, sizeof(line), "\"%s\" ctl --control \"%s\" stats", vtoken, ctl);
    FILE *p = popen(line, "r");
    if (!p)
        return -1;
    while (fgets(line, sizeof(line), p))
        if (sscanf(line, "apdus %ld", &apdus) == 1)
            break;
    if (pclose(p) != 0)
        apdus = -1;
    return apdus;
}
