/* Benchmark: how many APDUs kyso-pkcs11.so sends for the common steps,
 * read from kyso-vtoken's counters. Run inside tests/with-token (see
 * tests/bench/run-bench.sh); prints one line per measurement. */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkcs11/pkcs11.h"

static CK_FUNCTION_LIST_PTR f;

static unsigned long apdus(void)
{
    char cmd[1024], line[256];
    unsigned long n = 0;
    snprintf(cmd, sizeof(cmd), "\"%s\" ctl --control \"%s\" stats", getenv("KYSO_VTOKEN"), getenv("KYSO_VTOKEN_CTL"));
    FILE *p = popen(cmd, "r");
    if (p && fgets(line, sizeof(line), p))
        sscanf(line, "apdus %lu", &n);
    if (p)
        pclose(p);
    return n;
}

static void ctl(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "\"%s\" ctl --control \"%s\" %s >/dev/null", getenv("KYSO_VTOKEN"),
             getenv("KYSO_VTOKEN_CTL"), what);
    if (system(cmd) != 0)
        fprintf(stderr, "ctl %s failed\n", what);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(call)                                                                                                \
    do {                                                                                                           \
        CK_RV rv_ = (call);                                                                                        \
        if (rv_ != CKR_OK) {                                                                                       \
            fprintf(stderr, "%s: 0x%lx\n", #call, rv_);                                                            \
            exit(1);                                                                                               \
        }                                                                                                          \
    } while (0)

/* The signing key: on PIV the one of 9C (CKA_ID 02), on the government
 * token its only key. */
static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE s, bool *always)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    uint8_t id = 0x02;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, &id, 1 } };
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG n = 0;
    CHECK(f->C_FindObjectsInit(s, t, 2));
    CHECK(f->C_FindObjects(s, &h, 1, &n));
    CHECK(f->C_FindObjectsFinal(s));
    if (n != 1) {
        CHECK(f->C_FindObjectsInit(s, t, 1));
        CHECK(f->C_FindObjects(s, &h, 1, &n));
        CHECK(f->C_FindObjectsFinal(s));
    }
    if (n != 1) {
        fprintf(stderr, "no private key\n");
        exit(1);
    }
    CK_BBOOL aa = CK_FALSE;
    CK_ATTRIBUTE a = { CKA_ALWAYS_AUTHENTICATE, &aa, sizeof(aa) };
    CHECK(f->C_GetAttributeValue(s, h, &a, 1));
    *always = aa == CK_TRUE;
    return h;
}

static const char *pin(void)
{
    const char *p = getenv("KYSO_TEST_PIN");
    return p ? p : "123456";
}

static void sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech, bool context_login)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    uint8_t data[] = "kyso benchmark", sig[1024];
    CK_ULONG len = sizeof(sig);
    CHECK(f->C_SignInit(s, &m, key));
    if (context_login)
        CHECK(f->C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)pin(), strlen(pin())));
    CHECK(f->C_Sign(s, data, sizeof(data) - 1, sig, &len));
}

int main(int argc, char **argv)
{
    const char *module = getenv("KYSO_MODULE");
    const char *label = argc > 1 ? argv[1] : "RSA-2048";
    CK_MECHANISM_TYPE mech = argc > 2 && strcmp(argv[2], "ec") == 0 ? CKM_ECDSA_SHA256 : CKM_SHA256_RSA_PKCS;
    void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR) = h ? (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList") : NULL;
    if (!get || get(&f) != CKR_OK) {
        fprintf(stderr, "cannot load %s\n", module ? module : "(KYSO_MODULE unset)");
        return 1;
    }
    CK_SLOT_ID slot;
    CK_ULONG n = 1;
    CK_SESSION_HANDLE s;

    ctl("stats-reset");
    unsigned long a0 = apdus();
    double t0 = now();
    CHECK(f->C_Initialize(NULL));
    CHECK(f->C_GetSlotList(CK_TRUE, &slot, &n));
    CHECK(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    unsigned long a_open = apdus();
    CHECK(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin(), strlen(pin())));
    unsigned long a_login = apdus();
    bool always = false;
    CK_OBJECT_HANDLE key = find_key(s, &always);
    sign(s, key, mech, always);
    unsigned long a_first = apdus();
    double t1 = now();
    printf("%s: C_Initialize .. C_OpenSession, cold: %lu APDUs\n", label, a_open - a0);
    printf("%s: C_Login: %lu APDUs\n", label, a_login - a_open);
    printf("%s: C_Initialize .. first C_Sign, cold: %lu APDUs, %.1f ms\n", label, a_first - a0,
           (t1 - t0) * 1000);

    unsigned long b = apdus();
    t0 = now();
    sign(s, key, mech, always);
    t1 = now();
    unsigned long c = apdus();
    printf("%s: one signature (C_SignInit%s, C_Sign): %lu APDUs, %.1f ms\n", label, always ? ", context login" : "", c - b,
           (t1 - t0) * 1000);

    /* The same card removed and put back: the cache spares the reading. */
    ctl("remove");
    CK_SLOT_INFO si;
    for (int i = 0; i < 100; i++) {
        f->C_GetSlotInfo(slot, &si);
        if (!(si.flags & CKF_TOKEN_PRESENT))
            break;
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
    }
    b = apdus();
    ctl("insert");
    for (int i = 0; i < 100; i++) {
        f->C_GetSlotInfo(slot, &si);
        if (si.flags & CKF_TOKEN_PRESENT)
            break;
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
    }
    CHECK(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    CHECK(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin(), strlen(pin())));
    key = find_key(s, &always);
    sign(s, key, mech, always);
    c = apdus();
    printf("%s: same card re-inserted, identification .. first C_Sign, cached: %lu APDUs\n", label, c - b);
    CHECK(f->C_Finalize(NULL));
    dlclose(h);
    return 0;
}
