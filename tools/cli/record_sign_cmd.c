/* kyso record sign FILE [--module PATH] [--slot ID] [--key-id HEX] [--pin-fd N] [-o OUT]
 *
 * Signs a sealed record with a token through a PKCS#11 module (kyso's own
 * by default, loaded with dlopen like any other client): the detached CMS
 * of records/sign.c over the record's canonical bytes, the signed
 * attributes signed on the token with CKM_SHA256_RSA_PKCS or
 * CKM_ECDSA_SHA256. The module applies its rules to this signature as to
 * any other (audit record, certificate validity, custodian); a refusal is
 * reported, never worked around. The PIN comes from the terminal without
 * echo or from file descriptor N, never from argv or the environment, and
 * lives in locked memory cleansed after the login. The signature is
 * verified against the trust anchors before it is written: a file this
 * command leaves is one `kyso record verify` accepts.
 *
 * Exit status: 0 signed; 1 a problem with the record, the token or the
 * signature; 2 bad arguments. */
#include "config.h"

#include "tools/cli/record_cmds.h"
#include "tools/cli/secret_input.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pkcs11/pkcs11.h"
#include "policy/trust.h"
#include "records/canon.h"
#include "records/record.h"
#include "records/registry.h"
#include "records/sign.h"

#ifndef KYSO_PKCS11_MODULE
#define KYSO_PKCS11_MODULE "kyso-pkcs11.so"
#endif

#define PIN_MAX 64
#define MAX_OBJECTS 64
#define MAX_ID 64
#define MAX_CERT (64 * 1024)

struct token {
    void *dl;
    CK_FUNCTION_LIST *f;
    bool initialized;
    CK_SESSION_HANDLE session;
    bool open, logged_in;
    CK_OBJECT_HANDLE key;
    CK_KEY_TYPE key_type;
    CK_BBOOL always_auth; /* a PIV 9c key: the PIN again for each signature */
    char *pin;            /* locked, cleansed by close_token */
    int pin_len;
    bool pin_locked;
    X509 *cert;
    STACK_OF(X509) *chain;
};

static const char *rv_name(CK_RV rv)
{
    static const struct { CK_RV rv; const char *name; } names[] = {
        { CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT (wrong PIN)" },
        { CKR_PIN_LOCKED, "CKR_PIN_LOCKED (the PIN is blocked)" },
        { CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
        { CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED" },
        { CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
        { CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED" },
        { CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
        { CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
        { CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
        { CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
        { CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
        { CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
        { CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == rv)
            return names[i].name;
    static char buf[32];
    snprintf(buf, sizeof(buf), "CKR 0x%08lx", (unsigned long)rv);
    return buf;
}

static int load_module(struct token *t, const char *path)
{
    t->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!t->dl) {
        fprintf(stderr, "kyso: %s: cannot be loaded: %s\n", path, dlerror());
        return -1;
    }
    CK_C_GetFunctionList get = NULL;
    *(void **)&get = dlsym(t->dl, "C_GetFunctionList");
    CK_RV rv = get ? get(&t->f) : CKR_FUNCTION_NOT_SUPPORTED;
    if (rv != CKR_OK || !t->f) {
        fprintf(stderr, "kyso: %s: not a PKCS#11 module (C_GetFunctionList: %s)\n", path, rv_name(rv));
        return -1;
    }
    rv = t->f->C_Initialize(NULL);
    if (rv != CKR_OK) {
        fprintf(stderr, "kyso: %s: C_Initialize: %s\n", path, rv_name(rv));
        return -1;
    }
    t->initialized = true;
    return 0;
}

/* The slot asked for, or the first with a token; its label in label. */
static int open_session(struct token *t, long want, char label[33])
{
    CK_SLOT_ID slots[32];
    CK_ULONG n = 32;
    CK_RV rv = t->f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK || n == 0) {
        fprintf(stderr, "kyso: no token present%s%s\n", rv == CKR_OK ? "" : ": ", rv == CKR_OK ? "" : rv_name(rv));
        return -1;
    }
    CK_SLOT_ID slot = slots[0];
    if (want >= 0) {
        CK_ULONG i = 0;
        while (i < n && slots[i] != (CK_SLOT_ID)want)
            i++;
        if (i == n) {
            fprintf(stderr, "kyso: slot %ld has no token\n", want);
            return -1;
        }
        slot = slots[i];
    }
    CK_TOKEN_INFO info;
    memset(label, 0, 33);
    if (t->f->C_GetTokenInfo(slot, &info) == CKR_OK) {
        memcpy(label, info.label, 32);
        for (int i = 31; i >= 0 && label[i] == ' '; i--)
            label[i] = '\0';
    }
    rv = t->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &t->session);
    if (rv != CKR_OK) {
        fprintf(stderr, "kyso: slot %lu: C_OpenSession: %s\n", (unsigned long)slot, rv_name(rv));
        return -1;
    }
    t->open = true;
    return 0;
}

static int login(struct token *t, int pin_fd, const char *label)
{
    if (!(t->pin = calloc(1, PIN_MAX + 1))) {
        fprintf(stderr, "kyso: out of memory\n");
        return -1;
    }
    t->pin_locked = mlock(t->pin, PIN_MAX + 1) == 0; /* best effort: the PIN never swapped out */
    char prompt[64];
    snprintf(prompt, sizeof(prompt), "PIN of token %s", label);
    if ((t->pin_len = cli_read_secret(pin_fd, t->pin, PIN_MAX + 1, prompt)) <= 0)
        return -1;
    CK_RV rv = t->f->C_Login(t->session, CKU_USER, (CK_UTF8CHAR *)t->pin, (CK_ULONG)t->pin_len);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        fprintf(stderr, "kyso: login refused: %s\n", rv_name(rv));
        return -1;
    }
    t->logged_in = rv == CKR_OK;
    return 0;
}

/* The handles of the objects matching tmpl (at most max). */
static CK_ULONG find(struct token *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_ULONG found = 0;
    if (t->f->C_FindObjectsInit(t->session, tmpl, n) != CKR_OK)
        return 0;
    if (t->f->C_FindObjects(t->session, out, max, &found) != CKR_OK)
        found = 0;
    t->f->C_FindObjectsFinal(t->session);
    return found;
}

/* The X.509 certificate object h, parsed. */
static X509 *cert_of(struct token *t, CK_OBJECT_HANDLE h)
{
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    if (t->f->C_GetAttributeValue(t->session, h, &a, 1) != CKR_OK || a.ulValueLen == 0 ||
        a.ulValueLen > MAX_CERT)
        return NULL;
    unsigned char *der = malloc(a.ulValueLen);
    X509 *x = NULL;
    a.pValue = der;
    if (der && t->f->C_GetAttributeValue(t->session, h, &a, 1) == CKR_OK) {
        const unsigned char *p = der;
        x = d2i_X509(NULL, &p, (long)a.ulValueLen);
    }
    free(der);
    return x;
}

/* The certificate with CKA_ID id. */
static X509 *cert_with_id(struct token *t, const unsigned char *id, CK_ULONG idlen)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, (void *)id, idlen } };
    CK_OBJECT_HANDLE h;
    return find(t, tmpl, 2, &h, 1) == 1 ? cert_of(t, h) : NULL;
}

/* The signing key: the one with CKA_ID want (wantlen > 0), else the first
 * key whose certificate is for non-repudiation (a document-signing key),
 * else the first with a certificate. */
static int pick_key(struct token *t, const unsigned char *want, size_t wantlen)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_SIGN, &yes, sizeof(yes) },
                            { CKA_ID, (void *)want, wantlen } };
    CK_OBJECT_HANDLE keys[MAX_OBJECTS];
    CK_ULONG n = find(t, tmpl, wantlen ? 3 : 2, keys, MAX_OBJECTS);
    for (int pass = 0; pass < 2 && !t->cert; pass++)
        for (CK_ULONG i = 0; i < n && !t->cert; i++) {
            unsigned char id[MAX_ID];
            CK_KEY_TYPE kt;
            CK_BBOOL always = CK_FALSE;
            CK_ATTRIBUTE a[] = { { CKA_ID, id, sizeof(id) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
                                 { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) } };
            CK_RV rv = t->f->C_GetAttributeValue(t->session, keys[i], a, 3);
            if (rv == CKR_ATTRIBUTE_TYPE_INVALID && a[0].ulValueLen <= sizeof(id) && a[1].ulValueLen == sizeof(kt))
                always = CK_FALSE; /* a module without CKA_ALWAYS_AUTHENTICATE */
            else if (rv != CKR_OK)
                continue;
            X509 *x = cert_with_id(t, id, a[0].ulValueLen);
            if (x && (pass == 1 || (X509_get_key_usage(x) & KU_NON_REPUDIATION))) {
                t->cert = x;
                t->key = keys[i];
                t->key_type = kt;
                t->always_auth = always;
            } else
                X509_free(x);
        }
    if (!t->cert) {
        fprintf(stderr, "kyso: no signing key with a certificate on the token%s\n", wantlen ? " with that --key-id" : "");
        return -1;
    }
    if (t->key_type != CKK_RSA && t->key_type != CKK_EC) {
        fprintf(stderr, "kyso: the key is neither RSA nor EC\n");
        return -1;
    }
    return 0;
}

/* The CA certificates on the token, sent along as the chain. */
static int collect_chain(struct token *t)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_OBJECT_HANDLE certs[MAX_OBJECTS];
    CK_ULONG n = find(t, tmpl, 1, certs, MAX_OBJECTS);
    if (!(t->chain = sk_X509_new_null()))
        return -1;
    for (CK_ULONG i = 0; i < n; i++) {
        X509 *x = cert_of(t, certs[i]);
        if (x && X509_check_ca(x) > 0 && X509_cmp(x, t->cert) != 0 && sk_X509_push(t->chain, x))
            continue;
        X509_free(x);
    }
    return 0;
}

/* records_sign_fn: the token signs the signed attributes. */
static int token_sign(void *ctx, const unsigned char *tbs, size_t tbslen, unsigned char *sig, size_t *siglen,
                      char *why, size_t whylen)
{
    struct token *t = ctx;
    CK_MECHANISM mech = { t->key_type == CKK_EC ? CKM_ECDSA_SHA256 : CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_ULONG len = *siglen;
    CK_RV rv = t->f->C_SignInit(t->session, &mech, t->key);
    if (rv == CKR_OK && t->always_auth)
        rv = t->f->C_Login(t->session, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR *)t->pin, (CK_ULONG)t->pin_len);
    if (rv == CKR_OK)
        rv = t->f->C_Sign(t->session, (CK_BYTE *)tbs, (CK_ULONG)tbslen, sig, &len);
    if (rv != CKR_OK) {
        snprintf(why, whylen, "the token refused to sign: %s (the module's audit log says which rule)", rv_name(rv));
        return -1;
    }
    *siglen = len;
    return 0;
}

static void close_token(struct token *t)
{
    if (t->pin) {
        OPENSSL_cleanse(t->pin, PIN_MAX + 1);
        if (t->pin_locked)
            munlock(t->pin, PIN_MAX + 1);
        free(t->pin);
    }
    X509_free(t->cert);
    sk_X509_pop_free(t->chain, X509_free);
    if (t->logged_in)
        t->f->C_Logout(t->session);
    if (t->open)
        t->f->C_CloseSession(t->session);
    if (t->initialized)
        t->f->C_Finalize(NULL);
    if (t->dl)
        dlclose(t->dl);
}

/* Writes der to out, or to the first free path.N.p7s; never replaces a file. */
static int write_signature(const char *path, const char *out, const unsigned char *der, size_t len, char *written,
                           size_t wlen)
{
    int fd = -1;
    for (size_t n = 1; fd < 0 && n <= (out ? 1 : RECORDS_MAX_SIGNATURES); n++) {
        if (out)
            snprintf(written, wlen, "%s", out);
        else if ((size_t)snprintf(written, wlen, "%s.%zu.p7s", path, n) >= wlen)
            break;
        fd = open(written, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        fprintf(stderr, "kyso: %s: cannot be created%s\n", out ? out : path,
                out ? " (it must not exist)" : ": no free signature number");
        return -1;
    }
    bool bad = write(fd, der, len) != (ssize_t)len;
    bad |= fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad) {
        fprintf(stderr, "kyso: %s: write error\n", written);
        unlink(written);
        return -1;
    }
    return 0;
}

/* The signature made, checked as `kyso record verify` will, and written. */
static int sign_and_write(struct token *t, const char *path, const char *out, const char *canon, size_t len)
{
    char why[320] = "", written[4096];
    unsigned char *der = NULL;
    size_t derlen = 0;
    struct records_signer_info info;
    X509_STORE *anchors = NULL;
    int rc = -1;
    if (records_sign_detached((const unsigned char *)canon, len, t->cert, t->chain, (int64_t)time(NULL), token_sign,
                              t, &der, &derlen, why, sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s: not signed: %s\n", path, why);
    else if (!(anchors = policy_trust_load(why, sizeof(why))))
        fprintf(stderr, "kyso: %s: not signed: no trust anchors: %s\n", path, why);
    else if (records_verify_signature((const unsigned char *)canon, len, der, derlen, anchors, &info, why,
                                      sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s: not signed: the signature would not verify: %s\n", path, why);
    else if (write_signature(path, out, der, derlen, written, sizeof(written)) == 0) {
        printf("%s: signed by %s (certificate %.16s) at %s\n", written, info.cn, info.sha256, info.signing_time);
        rc = 0;
    }
    X509_STORE_free(anchors);
    OPENSSL_free(der);
    return rc;
}

static int parse_hex(const char *s, unsigned char *out, size_t max, size_t *len)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        char pair[3] = { s[i], s[i + 1], 0 }, *end;
        if (!strchr("0123456789abcdefABCDEF", s[i]) || !strchr("0123456789abcdefABCDEF", s[i + 1]))
            return -1;
        out[i / 2] = (unsigned char)strtoul(pair, &end, 16);
    }
    *len = n / 2;
    return 0;
}

static int parse_int(const char *s, long max, long *v)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || end == s || *end || n < 0 || n > max)
        return -1;
    *v = n;
    return 0;
}

static int sign_usage(void)
{
    fputs("usage: kyso record sign FILE [--module PATH] [--slot ID] [--key-id HEX] [--pin-fd N] [-o OUT]\n", stderr);
    return 2;
}

int record_sign_cmd(int argc, char **argv)
{
    const char *path = NULL, *module = KYSO_PKCS11_MODULE, *out = NULL;
    long slot = -1, pin_fd = -1;
    unsigned char key_id[MAX_ID];
    size_t key_id_len = 0;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--module") == 0 && more)
            module = argv[++i];
        else if (strcmp(argv[i], "--slot") == 0 && more) {
            if (parse_int(argv[++i], 0x7fffffff, &slot) != 0)
                return sign_usage();
        } else if (strcmp(argv[i], "--key-id") == 0 && more) {
            if (parse_hex(argv[++i], key_id, sizeof(key_id), &key_id_len) != 0)
                return sign_usage();
        } else if (strcmp(argv[i], "--pin-fd") == 0 && more) {
            if (parse_int(argv[++i], 1 << 20, &pin_fd) != 0)
                return sign_usage();
        } else if (strcmp(argv[i], "-o") == 0 && more)
            out = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return sign_usage();
    }
    if (!path)
        return sign_usage();

    char *canon = NULL;
    size_t len = 0;
    if (record_read_sealed(path, &canon, &len, NULL) != 0)
        return 1;
    struct token t = { 0 };
    char label[33] = "";
    int rc = 1;
    if (load_module(&t, module) == 0 && open_session(&t, slot, label) == 0 && login(&t, (int)pin_fd, label) == 0 &&
        pick_key(&t, key_id, key_id_len) == 0 && collect_chain(&t) == 0)
        rc = sign_and_write(&t, path, out, canon, len) == 0 ? 0 : 1;
    close_token(&t);
    free(canon);
    return rc;
}
