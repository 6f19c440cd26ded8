/* A client that signs the way Firefox signs a TLS 1.3 CertificateVerify:
 * C_Initialize, C_GetSlotList, C_OpenSession, C_Login(CKU_USER) once if
 * asked, C_FindObjects for the key, then per signature C_SignInit, three
 * C_SignUpdate and C_SignFinal (a size query with NULL, then the real
 * call) -- and never C_Login(CKU_CONTEXT_SPECIFIC). Java's SunPKCS11 and
 * LibreOffice do the same. Each signature is checked with OpenSSL
 * against the public key of the token's certificate of the same CKA_ID.
 *
 *   p11_context_free [--module PATH] [--slot INDEX] (--id HEX | --label TEXT)
 *                    [--mechanism sha256-rsa-pkcs-pss|sha256-rsa-pkcs]
 *                    [--login] [--pin PIN] [--count N] [--expect-rv CKR_NAME]
 *                    [--no-children]
 *
 * Prints the CK_RV of the last call made and, per signature, whether it
 * verifies. Exit 0: without --expect-rv, every signature made and
 * verified; with it, the last rv is that name (and, for CKR_OK, every
 * signature verified). --no-children: also fails if, before C_Finalize,
 * the process has a child (a pinentry the module left running or
 * unreaped). */
#include "config.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tests/integration/p11_client.h"

#define MAX_ID 64
#define MAX_SIG 1024

static CK_FUNCTION_LIST *F;

static void usage(void)
{
    fprintf(stderr, "usage: p11_context_free [--module PATH] [--slot INDEX] (--id HEX | --label TEXT)\n"
                    "        [--mechanism sha256-rsa-pkcs-pss|sha256-rsa-pkcs] [--login] [--pin PIN]\n"
                    "        [--count N] [--expect-rv CKR_NAME] [--no-children]\n");
    exit(2);
}

static size_t parse_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0, len = strlen(s);
    if (len % 2 || len / 2 > cap)
        usage();
    for (size_t i = 0; i < len; i += 2) {
        unsigned v;
        if (sscanf(s + i, "%2x", &v) != 1)
            usage();
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* The one object of this class with this CKA_ID (or label); 0 if not
 * exactly one. */
static CK_OBJECT_HANDLE find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len,
                             const char *label, CK_RV *rv)
{
    CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) } };
    if (label)
        t[1] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
    else
        t[1] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    *rv = F->C_FindObjectsInit(h, t, 2);
    if (*rv == CKR_OK) {
        *rv = F->C_FindObjects(h, found, 2, &n);
        CK_RV rv2 = F->C_FindObjectsFinal(h);
        if (*rv == CKR_OK)
            *rv = rv2;
    }
    printf("C_FindObjects(%s): %s, %lu found\n", cls == CKO_PRIVATE_KEY ? "private key" : "certificate",
           p11c_rv_name(*rv), (unsigned long)n);
    return *rv == CKR_OK && n == 1 ? found[0] : 0;
}

/* This process's children, living or zombie (from /proc). */
static int children(void)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *close_paren = strrchr(buf, ')');
        char state;
        long ppid;
        if (close_paren && sscanf(close_paren + 1, " %c %ld", &state, &ppid) == 2 && ppid == (long)getpid()) {
            printf("child %s (state %c)\n", e->d_name, state);
            n++;
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* The public key of the certificate with this CKA_ID. */
static EVP_PKEY *cert_key(CK_SESSION_HANDLE h, const uint8_t *id, size_t id_len)
{
    CK_RV rv;
    CK_OBJECT_HANDLE c = find(h, CKO_CERTIFICATE, id, id_len, NULL, &rv);
    if (!c)
        return NULL;
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    if (F->C_GetAttributeValue(h, c, &a, 1) != CKR_OK || !a.ulValueLen || a.ulValueLen > 65536)
        return NULL;
    uint8_t *der = malloc(a.ulValueLen);
    if (!der)
        return NULL;
    a.pValue = der;
    EVP_PKEY *key = NULL;
    if (F->C_GetAttributeValue(h, c, &a, 1) == CKR_OK) {
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long)a.ulValueLen);
        if (x)
            key = X509_get_pubkey(x);
        X509_free(x);
    }
    free(der);
    return key;
}

static bool verify(EVP_PKEY *key, bool pss, const uint8_t *const parts[3], const size_t lens[3], const uint8_t *sig,
                   size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key) == 1;
    if (ok && pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
    for (int i = 0; ok && i < 3; i++)
        ok = EVP_DigestVerifyUpdate(md, parts[i], lens[i]) == 1;
    ok = ok && EVP_DigestVerifyFinal(md, sig, sig_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* One signature as Firefox makes it; the rv of the last call. */
static CK_RV sign_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, bool pss, EVP_PKEY *pub, int n, bool *verified)
{
    /* What TLS 1.3 signs in a client's CertificateVerify, in three parts. */
    uint8_t spaces[64], hash[32];
    static const char context[] = "TLS 1.3, client CertificateVerify"; /* with its NUL */
    memset(spaces, 0x20, sizeof(spaces));
    for (size_t i = 0; i < sizeof(hash); i++)
        hash[i] = (uint8_t)(i * 7 + (size_t)n);
    const uint8_t *const parts[3] = { spaces, (const uint8_t *)context, hash };
    const size_t lens[3] = { sizeof(spaces), sizeof(context), sizeof(hash) };

    CK_RSA_PKCS_PSS_PARAMS pp = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM m = { pss ? CKM_SHA256_RSA_PKCS_PSS : CKM_SHA256_RSA_PKCS, pss ? &pp : NULL,
                       pss ? sizeof(pp) : 0 };
    CK_RV rv = F->C_SignInit(h, &m, key);
    printf("C_SignInit: %s\n", p11c_rv_name(rv));
    for (int i = 0; rv == CKR_OK && i < 3; i++) {
        rv = F->C_SignUpdate(h, (CK_BYTE_PTR)parts[i], lens[i]);
        printf("C_SignUpdate: %s\n", p11c_rv_name(rv));
    }
    if (rv != CKR_OK)
        return rv;
    CK_ULONG sig_len = 0;
    rv = F->C_SignFinal(h, NULL, &sig_len);
    printf("C_SignFinal(NULL): %s, %lu bytes\n", p11c_rv_name(rv), (unsigned long)sig_len);
    if (rv != CKR_OK)
        return rv;
    if (sig_len == 0 || sig_len > MAX_SIG) {
        printf("C_SignFinal(NULL): a size out of range\n");
        return CKR_GENERAL_ERROR;
    }
    uint8_t sig[MAX_SIG];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rv = F->C_SignFinal(h, sig, &sig_len);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("C_SignFinal: %s in %ld ms\n", p11c_rv_name(rv),
           (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    if (rv == CKR_OK) {
        *verified = pub && sig_len <= MAX_SIG && verify(pub, pss, parts, lens, sig, sig_len);
        printf("signature %d: %s\n", n + 1, *verified ? "verifies" : "DOES NOT VERIFY");
    }
    return rv;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "module", required_argument, NULL, 'm' }, { "slot", required_argument, NULL, 's' },
        { "id", required_argument, NULL, 'i' },     { "label", required_argument, NULL, 'l' },
        { "mechanism", required_argument, NULL, 'M' }, { "login", no_argument, NULL, 'L' },
        { "pin", required_argument, NULL, 'p' },    { "count", required_argument, NULL, 'n' },
        { "expect-rv", required_argument, NULL, 'e' }, { "no-children", no_argument, NULL, 'C' },
        { NULL, 0, NULL, 0 }
    };
    const char *module = NULL, *label = NULL, *pin = NULL, *expect = NULL;
    uint8_t id[MAX_ID];
    size_t id_len = 0;
    bool have_id = false, login = false, pss = true, no_children = false;
    long slot_index = 0, count = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': module = optarg; break;
        case 's': slot_index = strtol(optarg, NULL, 10); break;
        case 'i': id_len = parse_hex(optarg, id, sizeof(id)); have_id = true; break;
        case 'l': label = optarg; break;
        case 'M':
            if (!strcmp(optarg, "sha256-rsa-pkcs-pss"))
                pss = true;
            else if (!strcmp(optarg, "sha256-rsa-pkcs"))
                pss = false;
            else
                usage();
            break;
        case 'L': login = true; break;
        case 'p': pin = optarg; break;
        case 'n': count = strtol(optarg, NULL, 10); break;
        case 'e': expect = optarg; break;
        case 'C': no_children = true; break;
        default: usage();
        }
    }
    if (optind != argc || have_id == (label != NULL) || count < 1 || count > 1000 || slot_index < 0)
        usage();
    p11c_watchdog(60);
    if (!p11c_load(p11c_module_path(module)))
        return 2;
    F = p11c.f2;

    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    CK_SESSION_HANDLE h = 0;
    CK_SLOT_ID slots[32];
    CK_ULONG nslots = 32;
    CK_OBJECT_HANDLE key = 0;
    EVP_PKEY *pub = NULL;
    bool all_verified = true;
    long made = 0;
    CK_RV rv = F->C_Initialize(&init);
    printf("C_Initialize: %s\n", p11c_rv_name(rv));
    if (rv == CKR_OK) {
        rv = F->C_GetSlotList(CK_TRUE, slots, &nslots);
        printf("C_GetSlotList: %s, %lu slots with a token\n", p11c_rv_name(rv), (unsigned long)nslots);
        if (rv == CKR_OK && (CK_ULONG)slot_index >= nslots)
            rv = CKR_SLOT_ID_INVALID;
    }
    if (rv == CKR_OK) {
        rv = F->C_OpenSession(slots[slot_index], CKF_SERIAL_SESSION, NULL, NULL, &h);
        printf("C_OpenSession: %s\n", p11c_rv_name(rv));
    }
    if (rv == CKR_OK && login) {
        const char *p = pin ? pin : p11c_pin();
        rv = F->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)p, strlen(p));
        printf("C_Login(CKU_USER): %s\n", p11c_rv_name(rv));
    }
    if (rv == CKR_OK) {
        key = find(h, CKO_PRIVATE_KEY, id, id_len, label, &rv);
        if (rv == CKR_OK && !key)
            rv = CKR_KEY_HANDLE_INVALID; /* not exactly one such key */
    }
    if (rv == CKR_OK && !have_id) {
        /* The certificate goes by the key's CKA_ID. */
        CK_ATTRIBUTE a = { CKA_ID, id, sizeof(id) };
        rv = F->C_GetAttributeValue(h, key, &a, 1);
        id_len = rv == CKR_OK ? a.ulValueLen : 0;
    }
    if (rv == CKR_OK && !(pub = cert_key(h, id, id_len)))
        printf("no certificate (or public key) for the key: signatures cannot be checked\n");
    for (long i = 0; rv == CKR_OK && i < count; i++) {
        bool verified = false;
        rv = sign_once(h, key, pss, pub, (int)i, &verified);
        if (rv == CKR_OK)
            made++;
        all_verified = all_verified && (rv != CKR_OK || verified);
    }
    printf("rv: %s\n", p11c_rv_name(rv));
    printf("%ld of %ld signatures made, %s\n", made, count, all_verified ? "all verify" : "NOT ALL VERIFY");
    EVP_PKEY_free(pub);
    int nchildren = no_children ? children() : 0;
    if (no_children)
        printf("%d children\n", nchildren);
    if (h)
        F->C_CloseSession(h);
    F->C_Finalize(NULL);

    bool ok = rv == CKR_OK && made == count && all_verified;
    if (expect)
        ok = !strcmp(p11c_rv_name(rv), expect) && (rv != CKR_OK || ok);
    return ok && nchildren == 0 ? 0 : 1;
}
