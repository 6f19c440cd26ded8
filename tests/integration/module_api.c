/* kyso-pkcs11.so through its API, against kyso-vtoken's PIV token (run by
 * tests/integration/module-api.sh inside tests/with-token, mixed key set:
 * 9A P-256 CKA_ID 01, 9C RSA-2048 CKA_ID 02 with CKA_ALWAYS_AUTHENTICATE,
 * 9D P-256 CKA_ID 03, 82 P-256 CKA_ID 05).
 *
 * The module is loaded with dlopen (KYSO_MODULE or argv[1]), never
 * linked. Covered: argument checking and handle validation, the life
 * cycle (C_Initialize arguments, application mutexes, not initialised,
 * already initialised), the 3.0 interfaces, the two-call convention
 * (lists and C_Sign, signatures checked with OpenSSL against the
 * certificate), C_GetAttributeValue's rules, session states and
 * visibility of private objects, PIN failures, lock and unblock,
 * CKA_ALWAYS_AUTHENTICATE, card removal during an operation, fork. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "tests/integration/p11_client.h"

#define F (p11c.f)

#define assert_rv(expected, call)                                                                             \
    do {                                                                                                      \
        CK_RV rv_got_ = (call);                                                                               \
        CK_RV rv_want_ = (expected);                                                                          \
        if (rv_got_ != rv_want_) {                                                                            \
            char got_[40];                                                                                    \
            snprintf(got_, sizeof(got_), "%s", p11c_rv_name(rv_got_));                                        \
            fail_msg("%s\n    returned %s, expected %s", #call, got_, p11c_rv_name(rv_want_));               \
        }                                                                                                     \
    } while (0)

/* Either of two codes. */
#define assert_rv2(exp1, exp2, call)                                                                          \
    do {                                                                                                      \
        CK_RV rv_got_ = (call);                                                                               \
        if (rv_got_ != (exp1) && rv_got_ != (exp2)) {                                                          \
            char got_[40], e1_[40];                                                                           \
            snprintf(got_, sizeof(got_), "%s", p11c_rv_name(rv_got_));                                        \
            snprintf(e1_, sizeof(e1_), "%s", p11c_rv_name(exp1));                                             \
            fail_msg("%s\n    returned %s, expected %s or %s", #call, got_, e1_, p11c_rv_name(exp2));         \
        }                                                                                                     \
    } while (0)

#define PIN ((CK_UTF8CHAR_PTR)p11c_pin())
#define PIN_LEN ((CK_ULONG)strlen(p11c_pin()))
#define PUK ((CK_UTF8CHAR_PTR)p11c_puk())
#define PUK_LEN ((CK_ULONG)strlen(p11c_puk()))

#define ID_9A 0x01
#define ID_9C 0x02
#define NKEYS 4 /* mixed key set: 9A 9C 9D 82 */

static CK_SLOT_ID slot;
static const uint8_t message[] = "kyso module API test: the data to be signed";

/* ---------------------------------------------- what a failed test leaves */

/* Allocations a test makes are freed by its teardown, so that a failing
 * assertion (which leaves the test at once) leaks nothing of its own and
 * LeakSanitizer only ever points at the module. */
struct held {
    void (*release)(void *);
    void *p;
};
static struct held held[32];
static int nheld;

static void *hold(void *p, void (*release)(void *))
{
    if (p && nheld < (int)(sizeof(held) / sizeof(held[0])))
        held[nheld++] = (struct held){ release, p };
    else if (p)
        fail_msg("too many held allocations");
    return p;
}

static void release_held(void)
{
    while (nheld > 0) {
        nheld--;
        held[nheld].release(held[nheld].p);
    }
}

static void release_pkey(void *p)
{
    EVP_PKEY_free(p);
}
static void release_bn(void *p)
{
    BN_free(p);
}
static void release_x509(void *p)
{
    X509_free(p);
}
static void release_openssl(void *p)
{
    OPENSSL_free(p);
}
static void release_malloc(void *p)
{
    free(p);
}

/* For the tests that initialise the module themselves: whatever state a
 * failure left, the next test starts from a finalised module. */
static int teardown_release(void **state)
{
    (void)state;
    release_held();
    F->C_Finalize(NULL); /* CKR_CRYPTOKI_NOT_INITIALIZED when all went well */
    return 0;
}

/* ------------------------------------------------------------ fixtures */

static int setup_init(void **state)
{
    (void)state;
    CK_RV rv = F->C_Initialize(NULL);
    if (rv != CKR_OK) {
        fprintf(stderr, "setup: C_Initialize: %s\n", p11c_rv_name(rv));
        return -1;
    }
    if ((rv = p11c_token_slot(&slot)) != CKR_OK) {
        fprintf(stderr, "setup: no token: %s\n", p11c_rv_name(rv));
        F->C_Finalize(NULL);
        return -1;
    }
    return 0;
}

static int teardown_fini(void **state)
{
    (void)state;
    release_held();
    F->C_CloseAllSessions(slot);
    CK_RV rv = F->C_Finalize(NULL);
    if (rv != CKR_OK) {
        fprintf(stderr, "teardown: C_Finalize: %s\n", p11c_rv_name(rv));
        return -1;
    }
    return 0;
}

static CK_SESSION_HANDLE open_session(CK_FLAGS flags)
{
    CK_SESSION_HANDLE h = 0;
    assert_rv(CKR_OK, F->C_OpenSession(slot, CKF_SERIAL_SESSION | flags, NULL, NULL, &h));
    assert_true(h != 0);
    return h;
}

static CK_STATE session_state(CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO info;
    assert_rv(CKR_OK, F->C_GetSessionInfo(h, &info));
    assert_int_equal(info.slotID, slot);
    return info.state;
}

static CK_FLAGS token_flags(void)
{
    CK_TOKEN_INFO ti;
    assert_rv(CKR_OK, F->C_GetTokenInfo(slot, &ti));
    return ti.flags;
}

static void login_user(CK_SESSION_HANDLE h)
{
    assert_rv(CKR_OK, F->C_Login(h, CKU_USER, PIN, PIN_LEN));
}

static CK_OBJECT_HANDLE private_key(CK_SESSION_HANDLE h, uint8_t id)
{
    CK_OBJECT_HANDLE k = p11c_find(h, CKO_PRIVATE_KEY, id);
    if (!k)
        fail_msg("private key with CKA_ID %02X not found", id);
    return k;
}

/* The certificate's public key (freed by the teardown). */
static EVP_PKEY *cert_key(CK_SESSION_HANDLE h, uint8_t id)
{
    EVP_PKEY *k = hold(p11c_cert_key(h, id), release_pkey);
    if (!k)
        fail_msg("certificate with CKA_ID %02X not found or not readable", id);
    return k;
}

/* Signs message with the 9A key (ECDSA-SHA256) and checks it. */
static void sign_9a_and_verify(CK_SESSION_HANDLE h)
{
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);
    EVP_PKEY *pub = cert_key(h, ID_9A);
    uint8_t sig[128];
    CK_ULONG len = sizeof(sig);
    assert_rv(CKR_OK, p11c_sign(h, k, CKM_ECDSA_SHA256, false, message, sizeof(message), sig, &len));
    assert_int_equal(len, 64);
    assert_true(p11c_verify(pub, CKM_ECDSA_SHA256, message, sizeof(message), sig, len));
}

/* ------------------------------------------- before C_Initialize, life cycle */

static void test_not_initialized(void **state)
{
    (void)state;
    CK_INFO info;
    CK_SLOT_ID ids[8], ev;
    CK_ULONG n = 8;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h = 0;
    CK_SESSION_INFO sinfo;
    CK_MECHANISM_TYPE mechs[64];
    CK_MECHANISM_INFO mi;
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE buf[64];
    CK_ULONG len = sizeof(buf);
    const CK_SESSION_HANDLE some = (1UL << 24) | 1;

    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetInfo(&info));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, p11c.f2->C_GetInfo(&info));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetSlotList(CK_FALSE, ids, &n));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetSlotList(CK_TRUE, NULL, &n));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetSlotInfo(0, &si));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetTokenInfo(0, &ti));
    n = 64;
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetMechanismList(0, mechs, &n));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetMechanismInfo(0, CKM_ECDSA, &mi));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_CloseSession(some));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_CloseAllSessions(0));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetSessionInfo(some, &sinfo));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_Login(some, CKU_USER, PIN, PIN_LEN));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_LoginUser(some, CKU_USER, PIN, PIN_LEN, (CK_UTF8CHAR_PTR) "u", 1));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_Logout(some));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_FindObjectsInit(some, NULL, 0));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_SignInit(some, &mech, 1));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_Sign(some, buf, 1, buf, &len));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GenerateRandom(some, buf, 8));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetFunctionStatus(some));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_SessionCancel(some, CKF_SIGN));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_MessageSignInit(some, &mech, 1));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_Finalize(NULL));

    /* These three work without C_Initialize. */
    CK_FUNCTION_LIST_PTR list = NULL;
    CK_INTERFACE_PTR itf = NULL;
    CK_ULONG count = 0;
    assert_rv(CKR_OK, p11c.get_function_list(&list));
    assert_non_null(list);
    assert_rv(CKR_OK, p11c.get_interface_list(NULL, &count));
    assert_rv(CKR_OK, p11c.get_interface(NULL, NULL, &itf, 0));
}

/* Application mutexes that check what the module gives back. */
#define TEST_MUTEX_MAGIC 0x6b79736fu
struct test_mutex {
    unsigned magic;
    pthread_mutex_t m;
    atomic_int held;
};
static atomic_int mx_create, mx_destroy, mx_lock, mx_unlock, mx_bad;

static CK_RV cb_create(CK_VOID_PTR_PTR out)
{
    struct test_mutex *m = calloc(1, sizeof(*m));
    if (!out || !m) {
        free(m);
        atomic_fetch_add(&mx_bad, 1);
        return CKR_HOST_MEMORY;
    }
    m->magic = TEST_MUTEX_MAGIC;
    pthread_mutex_init(&m->m, NULL);
    *out = m;
    atomic_fetch_add(&mx_create, 1);
    return CKR_OK;
}

static CK_RV cb_destroy(CK_VOID_PTR p)
{
    struct test_mutex *m = p;
    if (!m || m->magic != TEST_MUTEX_MAGIC || atomic_load(&m->held)) {
        atomic_fetch_add(&mx_bad, 1);
        return CKR_MUTEX_BAD;
    }
    m->magic = 0;
    pthread_mutex_destroy(&m->m);
    free(m);
    atomic_fetch_add(&mx_destroy, 1);
    return CKR_OK;
}

static CK_RV cb_lock(CK_VOID_PTR p)
{
    struct test_mutex *m = p;
    if (!m || m->magic != TEST_MUTEX_MAGIC) {
        atomic_fetch_add(&mx_bad, 1);
        return CKR_MUTEX_BAD;
    }
    pthread_mutex_lock(&m->m);
    atomic_store(&m->held, 1);
    atomic_fetch_add(&mx_lock, 1);
    return CKR_OK;
}

static CK_RV cb_unlock(CK_VOID_PTR p)
{
    struct test_mutex *m = p;
    if (!m || m->magic != TEST_MUTEX_MAGIC || !atomic_load(&m->held)) {
        atomic_fetch_add(&mx_bad, 1);
        return CKR_MUTEX_NOT_LOCKED;
    }
    atomic_store(&m->held, 0);
    atomic_fetch_add(&mx_unlock, 1);
    pthread_mutex_unlock(&m->m);
    return CKR_OK;
}

static void test_initialize_arguments(void **state)
{
    (void)state;
    CK_INFO info;

    CK_C_INITIALIZE_ARGS reserved = { 0 };
    reserved.pReserved = &reserved;
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Initialize(&reserved));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetInfo(&info));

    /* Some of the four mutex callbacks but not all: refused. */
    for (int missing = 0; missing < 4; missing++) {
        CK_C_INITIALIZE_ARGS partial = { 0 };
        partial.CreateMutex = missing == 0 ? NULL : cb_create;
        partial.DestroyMutex = missing == 1 ? NULL : cb_destroy;
        partial.LockMutex = missing == 2 ? NULL : cb_lock;
        partial.UnlockMutex = missing == 3 ? NULL : cb_unlock;
        partial.flags = missing % 2 ? CKF_OS_LOCKING_OK : 0;
        assert_rv(CKR_ARGUMENTS_BAD, F->C_Initialize(&partial));
        assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetInfo(&info));
    }
    CK_C_INITIALIZE_ARGS one = { 0 };
    one.LockMutex = cb_lock;
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Initialize(&one));

    /* Initialised once, not twice; finalised once. */
    assert_rv(CKR_OK, F->C_Initialize(NULL));
    assert_rv(CKR_CRYPTOKI_ALREADY_INITIALIZED, F->C_Initialize(NULL));
    CK_C_INITIALIZE_ARGS os = { 0 };
    os.flags = CKF_OS_LOCKING_OK;
    assert_rv(CKR_CRYPTOKI_ALREADY_INITIALIZED, F->C_Initialize(&os));
    assert_rv(CKR_OK, F->C_GetInfo(&info));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Finalize(&os));
    assert_rv(CKR_OK, F->C_GetInfo(&info)); /* a refused C_Finalize changes nothing */
    assert_rv(CKR_OK, F->C_Finalize(NULL));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_Finalize(NULL));
    assert_rv(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetInfo(&info));

    /* Arguments with no callbacks, with or without OS locking. */
    assert_rv(CKR_OK, F->C_Initialize(&os));
    assert_rv(CKR_OK, F->C_Finalize(NULL));
    CK_C_INITIALIZE_ARGS none = { 0 };
    assert_rv(CKR_OK, F->C_Initialize(&none));
    assert_rv(CKR_OK, F->C_GetInfo(&info));
    /* Blank-padded strings, no terminator. */
    assert_int_equal(info.manufacturerID[sizeof(info.manufacturerID) - 1], ' ');
    assert_null(memchr(info.libraryDescription, 0, sizeof(info.libraryDescription)));
    assert_rv(CKR_OK, F->C_Finalize(NULL));
}

static void test_application_mutexes(void **state)
{
    (void)state;
    CK_C_INITIALIZE_ARGS args = { 0 };
    args.CreateMutex = cb_create;
    args.DestroyMutex = cb_destroy;
    args.LockMutex = cb_lock;
    args.UnlockMutex = cb_unlock;

    /* Without CKF_OS_LOCKING_OK the module must use these. */
    assert_rv(CKR_OK, F->C_Initialize(&args));
    assert_rv(CKR_OK, p11c_token_slot(&slot));
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    sign_9a_and_verify(h);
    assert_rv(CKR_OK, F->C_CloseSession(h));
    assert_true(atomic_load(&mx_create) >= 2); /* the module's lock and the slot's */
    assert_true(atomic_load(&mx_lock) > 0);
    assert_int_equal(atomic_load(&mx_lock), atomic_load(&mx_unlock));
    assert_rv(CKR_OK, F->C_Finalize(NULL));
    assert_int_equal(atomic_load(&mx_destroy), atomic_load(&mx_create));
    assert_int_equal(atomic_load(&mx_bad), 0);

    /* With CKF_OS_LOCKING_OK too: accepted, and whatever is used is balanced. */
    args.flags = CKF_OS_LOCKING_OK;
    assert_rv(CKR_OK, F->C_Initialize(&args));
    assert_rv(CKR_OK, p11c_token_slot(&slot));
    h = open_session(0);
    assert_int_equal(session_state(h), CKS_RO_PUBLIC_SESSION);
    assert_rv(CKR_OK, F->C_Finalize(NULL));
    assert_int_equal(atomic_load(&mx_destroy), atomic_load(&mx_create));
    assert_int_equal(atomic_load(&mx_lock), atomic_load(&mx_unlock));
    assert_int_equal(atomic_load(&mx_bad), 0);
}

/* ------------------------------------------------------ argument checks */

static void test_null_arguments(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE buf[256];
    CK_OBJECT_HANDLE objs[4];
    CK_ULONG n;
    CK_SLOT_ID ev;

    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetInfo(NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetSlotList(CK_FALSE, NULL, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetSlotInfo(slot, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetTokenInfo(slot, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetMechanismList(slot, NULL, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetMechanismInfo(slot, CKM_ECDSA, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetSessionInfo(h, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Login(h, CKU_USER, NULL, 6));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_LoginUser(h, CKU_USER, PIN, PIN_LEN, NULL, 4));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_FindObjectsInit(h, NULL, 1));
    assert_rv(CKR_OK, F->C_FindObjectsInit(h, NULL, 0));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_FindObjects(h, NULL, 4, &n));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_FindObjects(h, objs, 4, NULL));
    assert_rv(CKR_OK, F->C_FindObjectsFinal(h));
    CK_OBJECT_HANDLE cert = p11c_find(h, CKO_CERTIFICATE, ID_9A);
    assert_true(cert != 0);
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetAttributeValue(h, cert, NULL, 1));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GetObjectSize(h, cert, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_DigestInit(h, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GenerateRandom(h, NULL, 16));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, &ev));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_SetPIN(h, NULL, 6, PIN, PIN_LEN));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Finalize((CK_VOID_PTR)&ev));

    login_user(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);
    assert_rv(CKR_ARGUMENTS_BAD, F->C_SignInit(h, NULL, k));
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), buf, NULL));
    /* A session that is not parallel is required. */
    CK_SESSION_HANDLE h2;
    assert_rv(CKR_SESSION_PARALLEL_NOT_SUPPORTED, F->C_OpenSession(slot, 0, NULL, NULL, &h2));
}

/* A bad argument to a call that goes on with an operation ends it; a
 * call for an operation that is not under way says so first. */
static void test_bad_arguments_end_operations(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
    CK_MECHANISM sign_mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_MECHANISM digest_mech = { CKM_SHA256, NULL, 0 };
    CK_BYTE buf[256];
    CK_ULONG len = sizeof(buf);

    login_user(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);
    CK_OBJECT_HANDLE pub = p11c_find(h, CKO_PUBLIC_KEY, ID_9A);
    assert_true(pub != 0);

    /* Nothing under way: not initialised, whatever the arguments. */
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_SignUpdate(h, NULL, 4));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_SignFinal(h, buf, NULL));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_VerifyFinal(h, NULL, 64));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_DecryptUpdate(h, NULL, 4, buf, NULL));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_DecryptFinal(h, buf, NULL));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_DigestFinal(h, buf, NULL));

    /* Each bad argument ends its operation: the next call finds none. */
    assert_rv(CKR_OK, F->C_SignInit(h, &sign_mech, k));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_SignUpdate(h, NULL, 4));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_SignFinal(h, buf, &len));
    assert_rv(CKR_OK, F->C_SignInit(h, &sign_mech, k));
    assert_rv(CKR_OK, F->C_SignUpdate(h, (CK_BYTE_PTR)message, sizeof(message)));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_SignFinal(h, buf, NULL));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_SignFinal(h, buf, &len));

    assert_rv(CKR_ARGUMENTS_BAD, F->C_VerifyInit(h, NULL, pub));
    assert_rv(CKR_OK, F->C_VerifyInit(h, &sign_mech, pub));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_VerifyInit(h, &sign_mech, pub));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Verify(h, (CK_BYTE_PTR)message, sizeof(message), NULL, 64));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_VerifyFinal(h, buf, 64));
    assert_rv(CKR_OK, F->C_VerifyInit(h, &sign_mech, pub));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_VerifyUpdate(h, NULL, 1));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_VerifyFinal(h, buf, 64));

    /* A digest runs beside a key operation, in its own slot. */
    assert_rv(CKR_OK, F->C_SignInit(h, &sign_mech, k));
    assert_rv(CKR_OK, F->C_DigestInit(h, &digest_mech));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_DigestInit(h, &digest_mech));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_DigestUpdate(h, NULL, 3));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_DigestFinal(h, buf, &len));
    assert_rv(CKR_OK, F->C_DigestInit(h, &digest_mech));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_Digest(h, NULL, 3, buf, &len));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_DigestFinal(h, buf, &len));
    /* ... and the signature is still under way. */
    len = sizeof(buf);
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), buf, &len));
    assert_int_equal(len, 64);
    assert_true(p11c_verify(cert_key(h, ID_9A), CKM_ECDSA_SHA256, message, sizeof(message), buf, len));
}

static void test_invalid_handles(void **state)
{
    (void)state;
    CK_SESSION_INFO sinfo;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_MECHANISM_TYPE mechs[64];
    CK_MECHANISM_INFO mi;
    CK_ULONG n = 64;
    CK_SESSION_HANDLE h;
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_SLOT_ID all[64];
    CK_ULONG nall = 64;
    assert_rv(CKR_OK, F->C_GetSlotList(CK_FALSE, all, &nall));
    CK_SLOT_ID top = 0;
    for (CK_ULONG i = 0; i < nall; i++)
        top = all[i] > top ? all[i] : top;
    const CK_SLOT_ID bad_slots[] = { top + 1, top + 7, 32, 4096, (CK_SLOT_ID)-1 };

    for (size_t i = 0; i < sizeof(bad_slots) / sizeof(bad_slots[0]); i++) {
        CK_SLOT_ID s = bad_slots[i];
        assert_rv(CKR_SLOT_ID_INVALID, F->C_GetSlotInfo(s, &si));
        assert_rv(CKR_SLOT_ID_INVALID, F->C_GetTokenInfo(s, &ti));
        assert_rv(CKR_SLOT_ID_INVALID, F->C_GetMechanismList(s, mechs, &n));
        assert_rv(CKR_SLOT_ID_INVALID, F->C_GetMechanismInfo(s, CKM_ECDSA, &mi));
        assert_rv(CKR_SLOT_ID_INVALID, F->C_OpenSession(s, CKF_SERIAL_SESSION, NULL, NULL, &h));
        assert_rv(CKR_SLOT_ID_INVALID, F->C_CloseAllSessions(s));
    }

    CK_SESSION_HANDLE good = open_session(0);
    const CK_SESSION_HANDLE bad_sessions[] = {
        0, 1, 0xFFFFFF, good + 1, (good & 0xFF000000UL) | 0xABCDEF, good + (1UL << 24), (CK_SESSION_HANDLE)-1,
    };
    for (size_t i = 0; i < sizeof(bad_sessions) / sizeof(bad_sessions[0]); i++) {
        CK_SESSION_HANDLE b = bad_sessions[i];
        assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_GetSessionInfo(b, &sinfo));
        assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_CloseSession(b));
        assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_Login(b, CKU_USER, PIN, PIN_LEN));
        assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_FindObjectsInit(b, NULL, 0));
        assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_SignInit(b, &mech, 1));
        assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_SessionCancel(b, CKF_SIGN));
        assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_MessageSignInit(b, &mech, 1));
    }
    /* A closed session's handle is invalid; the other one still works. */
    CK_SESSION_HANDLE closed = open_session(0);
    assert_rv(CKR_OK, F->C_CloseSession(closed));
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_GetSessionInfo(closed, &sinfo));
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_CloseSession(closed));
    assert_int_equal(session_state(good), CKS_RO_PUBLIC_SESSION);

    /* Object handles: made up, or of a class / index that does not exist. */
    CK_OBJECT_HANDLE cert = p11c_find(good, CKO_CERTIFICATE, ID_9A);
    assert_true(cert != 0);
    const CK_OBJECT_HANDLE bad_objects[] = { 0, 1, 0xDEADBEEF, cert ^ 0xFF000000UL, cert ^ 0x00FF0000UL,
                                             (cert & ~0xFFFUL) | 0xFFF, (cert & ~0xF000UL) | 0xF000 };
    for (size_t i = 0; i < sizeof(bad_objects) / sizeof(bad_objects[0]); i++) {
        CK_ULONG size;
        assert_rv(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(good, bad_objects[i], &a, 1));
        assert_rv(CKR_OBJECT_HANDLE_INVALID, F->C_GetObjectSize(good, bad_objects[i], &size));
    }
    login_user(good);
    assert_rv(CKR_KEY_HANDLE_INVALID, F->C_SignInit(good, &mech, 0xDEADBEEF));
    assert_rv(CKR_OK, F->C_GetAttributeValue(good, cert, &a, 1));
    assert_int_equal(cls, CKO_CERTIFICATE);
}

/* ----------------------------------------------------------- interfaces */

/* Every entry of a function list is set. */
static void assert_list_complete(const void *list, size_t first, size_t size)
{
    for (size_t off = first; off + sizeof(void (*)(void)) <= size; off += sizeof(void (*)(void))) {
        void (*fn)(void);
        memcpy(&fn, (const char *)list + off, sizeof(fn));
        if (!fn)
            fail_msg("function list entry at offset %zu is NULL", off);
    }
}

static void test_interfaces(void **state)
{
    (void)state;
    CK_INTERFACE list[8];
    CK_ULONG n = 0;

    assert_rv(CKR_ARGUMENTS_BAD, p11c.get_interface_list(NULL, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, p11c.get_interface_list(list, NULL));
    assert_rv(CKR_OK, p11c.get_interface_list(NULL, &n));
    assert_true(n >= 2 && n <= 8);
    CK_ULONG small = n - 1;
    assert_rv(CKR_BUFFER_TOO_SMALL, p11c.get_interface_list(list, &small));
    assert_int_equal(small, n);
    CK_ULONG big = 8;
    assert_rv(CKR_OK, p11c.get_interface_list(list, &big));
    assert_int_equal(big, n);
    bool v30 = false, v240 = false;
    for (CK_ULONG i = 0; i < n; i++) {
        assert_string_equal((const char *)list[i].pInterfaceName, "PKCS 11");
        /* Not fork-safe: a forked child must call C_Initialize (test_fork). */
        assert_int_equal(list[i].flags, 0);
        const CK_VERSION *v = list[i].pFunctionList;
        assert_non_null(v);
        if (v->major == 3 && v->minor == 0) {
            v30 = true;
            assert_list_complete(v, offsetof(CK_FUNCTION_LIST_3_0, C_Initialize), sizeof(CK_FUNCTION_LIST_3_0));
        } else if (v->major == 2 && v->minor == 40) {
            v240 = true;
            assert_list_complete(v, offsetof(CK_FUNCTION_LIST, C_Initialize), sizeof(CK_FUNCTION_LIST));
        }
    }
    assert_true(v30);
    assert_true(v240);

    /* C_GetFunctionList: the 2.40 list. */
    CK_FUNCTION_LIST_PTR fl = NULL;
    assert_rv(CKR_ARGUMENTS_BAD, p11c.get_function_list(NULL));
    assert_rv(CKR_OK, p11c.get_function_list(&fl));
    assert_int_equal(fl->version.major, 2);
    assert_int_equal(fl->version.minor, 40);
    assert_list_complete(fl, offsetof(CK_FUNCTION_LIST, C_Initialize), sizeof(CK_FUNCTION_LIST));

    /* C_GetInterface: by name, by version, the default. */
    CK_INTERFACE_PTR itf = NULL;
    CK_VERSION v30v = { 3, 0 }, v240v = { 2, 40 }, v31 = { 3, 1 }, v11 = { 1, 1 };
    assert_rv(CKR_ARGUMENTS_BAD, p11c.get_interface(NULL, NULL, NULL, 0));
    assert_rv(CKR_OK, p11c.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &itf, 0));
    assert_int_equal(((CK_VERSION *)itf->pFunctionList)->major, 3);
    assert_int_equal(((CK_VERSION *)itf->pFunctionList)->minor, 0);
    itf = NULL;
    assert_rv(CKR_OK, p11c.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v30v, &itf, 0));
    assert_int_equal(((CK_VERSION *)itf->pFunctionList)->major, 3);
    itf = NULL;
    assert_rv(CKR_OK, p11c.get_interface(NULL, &v240v, &itf, 0));
    assert_int_equal(((CK_VERSION *)itf->pFunctionList)->major, 2);
    assert_int_equal(((CK_VERSION *)itf->pFunctionList)->minor, 40);
    assert_int_equal(itf->flags, 0);
    itf = NULL;
    /* No interface promises fork safety. */
    assert_rv(CKR_ARGUMENTS_BAD,
              p11c.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v30v, &itf, CKF_INTERFACE_FORK_SAFE));
    assert_rv(CKR_ARGUMENTS_BAD, p11c.get_interface(NULL, NULL, &itf, CKF_INTERFACE_FORK_SAFE));
    assert_null(itf);
    itf = NULL;
    assert_true(p11c.get_interface((CK_UTF8CHAR_PTR) "Vendor kyso", NULL, &itf, 0) != CKR_OK);
    assert_true(p11c.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v31, &itf, 0) != CKR_OK);
    assert_true(p11c.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v11, &itf, 0) != CKR_OK);
    assert_true(p11c.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v30v, &itf, 0x80000000UL) != CKR_OK);

    /* The lists point back at the same entry points. */
    assert_true(F->C_GetInterface == p11c.get_interface);
    assert_true(F->C_GetInterfaceList == p11c.get_interface_list);
    assert_true(F->C_GetFunctionList == p11c.get_function_list);
    assert_true(F->C_Sign == fl->C_Sign);
}

static void test_login_user_and_messages(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE buf[256], param[16] = { 0 };
    CK_ULONG len = sizeof(buf);

    assert_rv(CKR_OK, F->C_LoginUser(h, CKU_USER, PIN, PIN_LEN, (CK_UTF8CHAR_PTR) "an", 2));
    assert_int_equal(session_state(h), CKS_RW_USER_FUNCTIONS);
    assert_rv(CKR_USER_ALREADY_LOGGED_IN, F->C_LoginUser(h, CKU_USER, PIN, PIN_LEN, (CK_UTF8CHAR_PTR) "an", 2));
    sign_9a_and_verify(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);

    /* The message-based functions are not offered, with any valid session. */
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageEncryptInit(h, &mech, k));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_EncryptMessage(h, param, sizeof(param), NULL, 0, buf, 16, buf, &len));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_EncryptMessageBegin(h, param, sizeof(param), NULL, 0));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED,
              F->C_EncryptMessageNext(h, param, sizeof(param), buf, 16, buf, &len, CKF_END_OF_MESSAGE));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageEncryptFinal(h));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageDecryptInit(h, &mech, k));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_DecryptMessage(h, param, sizeof(param), NULL, 0, buf, 16, buf, &len));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_DecryptMessageBegin(h, param, sizeof(param), NULL, 0));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED,
              F->C_DecryptMessageNext(h, param, sizeof(param), buf, 16, buf, &len, CKF_END_OF_MESSAGE));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageDecryptFinal(h));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageSignInit(h, &mech, k));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignMessage(h, param, sizeof(param), buf, 16, buf, &len));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignMessageBegin(h, param, sizeof(param)));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignMessageNext(h, param, sizeof(param), buf, 16, buf, &len));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageSignFinal(h));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageVerifyInit(h, &mech, k));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_VerifyMessage(h, param, sizeof(param), buf, 16, buf, 64));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_VerifyMessageBegin(h, param, sizeof(param)));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_VerifyMessageNext(h, param, sizeof(param), buf, 16, buf, 64));
    assert_rv(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageVerifyFinal(h));

    /* None of that disturbed the session: it still signs. */
    sign_9a_and_verify(h);
}

static void test_session_cancel(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 }, sha = { CKM_SHA256, NULL, 0 };
    CK_BYTE sig[128];
    CK_ULONG len = sizeof(sig);
    CK_OBJECT_HANDLE objs[8];
    CK_ULONG n;

    login_user(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_OK, F->C_SessionCancel(h, CKF_SIGN));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    sign_9a_and_verify(h); /* a new operation starts */

    assert_rv(CKR_OK, F->C_FindObjectsInit(h, NULL, 0));
    assert_rv(CKR_OK, F->C_SessionCancel(h, CKF_FIND_OBJECTS));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_FindObjects(h, objs, 8, &n));

    assert_rv(CKR_OK, F->C_DigestInit(h, &sha));
    assert_rv(CKR_OK, F->C_SessionCancel(h, CKF_DIGEST));
    len = sizeof(sig);
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_Digest(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));

    /* Cancelling one kind leaves the others alone. */
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_OK, F->C_SessionCancel(h, CKF_FIND_OBJECTS | CKF_DIGEST));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_OK, F->C_SessionCancel(h, CKF_SIGN));
}

/* ------------------------------------------------- two-call convention */

static void test_two_call_lists(void **state)
{
    (void)state;
    CK_SLOT_ID ids[32];
    CK_ULONG n = 0;

    assert_rv(CKR_OK, F->C_GetSlotList(CK_TRUE, NULL, &n));
    assert_true(n >= 1);
    CK_ULONG want = n;
    if (n > 1) {
        CK_ULONG small = n - 1;
        assert_rv(CKR_BUFFER_TOO_SMALL, F->C_GetSlotList(CK_TRUE, ids, &small));
        assert_int_equal(small, want);
    }
    CK_ULONG zero = 0;
    assert_rv(CKR_BUFFER_TOO_SMALL, F->C_GetSlotList(CK_TRUE, ids, &zero));
    assert_int_equal(zero, want);
    n = want;
    assert_rv(CKR_OK, F->C_GetSlotList(CK_TRUE, ids, &n));
    assert_int_equal(n, want);
    bool found = false;
    for (CK_ULONG i = 0; i < n; i++)
        found |= ids[i] == slot;
    assert_true(found);
    n = 32;
    assert_rv(CKR_OK, F->C_GetSlotList(CK_FALSE, ids, &n));
    assert_true(n >= want);

    CK_MECHANISM_TYPE mechs[128];
    CK_ULONG m = 0;
    assert_rv(CKR_OK, F->C_GetMechanismList(slot, NULL, &m));
    assert_true(m >= 2 && m <= 128);
    CK_ULONG mwant = m, msmall = m - 1;
    assert_rv(CKR_BUFFER_TOO_SMALL, F->C_GetMechanismList(slot, mechs, &msmall));
    assert_int_equal(msmall, mwant);
    m = 128;
    assert_rv(CKR_OK, F->C_GetMechanismList(slot, mechs, &m));
    assert_int_equal(m, mwant);
    bool ecdsa = false, rsa = false;
    for (CK_ULONG i = 0; i < m; i++) {
        ecdsa |= mechs[i] == CKM_ECDSA_SHA256;
        rsa |= mechs[i] == CKM_SHA256_RSA_PKCS;
        CK_MECHANISM_INFO mi;
        assert_rv(CKR_OK, F->C_GetMechanismInfo(slot, mechs[i], &mi));
    }
    assert_true(ecdsa && rsa);
    CK_MECHANISM_INFO mi;
    assert_rv(CKR_OK, F->C_GetMechanismInfo(slot, CKM_ECDSA_SHA256, &mi));
    assert_true(mi.flags & CKF_SIGN);
    assert_rv(CKR_MECHANISM_INVALID, F->C_GetMechanismInfo(slot, CKM_AES_GCM, &mi));
}

/* C_Sign: length query, too small (the operation stays), exact. */
static void two_call_sign(CK_SESSION_HANDLE h, uint8_t id, CK_MECHANISM_TYPE type, bool context_login, CK_ULONG size)
{
    CK_OBJECT_HANDLE k = private_key(h, id);
    EVP_PKEY *pub = cert_key(h, id);
    CK_MECHANISM mech = { type, NULL, 0 };
    CK_BYTE sig[1024];
    CK_ULONG len = 0;

    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    if (context_login)
        assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), NULL, &len));
    assert_int_equal(len, size);
    len = size - 1;
    assert_rv(CKR_BUFFER_TOO_SMALL, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_int_equal(len, size);
    len = 1;
    assert_rv(CKR_BUFFER_TOO_SMALL, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_int_equal(len, size);
    /* Still the same operation: OPERATION_ACTIVE for a new one. */
    assert_rv(CKR_OPERATION_ACTIVE, F->C_SignInit(h, &mech, k));
    len = size;
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_int_equal(len, size);
    assert_true(p11c_verify(pub, type, message, sizeof(message), sig, len));
    /* The operation is over. */
    len = sizeof(sig);
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));

    /* A larger buffer: the length is set to the signature's. */
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    if (context_login)
        assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    len = sizeof(sig);
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_int_equal(len, size);
    assert_true(p11c_verify(pub, type, message, sizeof(message), sig, len));
    /* A wrong signature does not verify: the check can fail. */
    sig[len / 2] ^= 1;
    assert_false(p11c_verify(pub, type, message, sizeof(message), sig, len));
}

static void test_two_call_sign(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    two_call_sign(h, ID_9A, CKM_ECDSA_SHA256, false, 64);
    two_call_sign(h, ID_9C, CKM_SHA256_RSA_PKCS, true, 256);

    /* CKM_ECDSA over a hash the caller made. */
    uint8_t hash[32];
    SHA256(message, sizeof(message), hash);
    EVP_PKEY *pub = cert_key(h, ID_9A);
    CK_BYTE sig[128];
    CK_ULONG len = sizeof(sig);
    assert_rv(CKR_OK, p11c_sign(h, private_key(h, ID_9A), CKM_ECDSA, false, hash, sizeof(hash), sig, &len));
    assert_int_equal(len, 64);
    assert_true(p11c_verify(pub, CKM_ECDSA, hash, sizeof(hash), sig, len));
}

/* -------------------------------------------------- C_GetAttributeValue */

static void test_attribute_rules(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    CK_OBJECT_HANDLE ec = private_key(h, ID_9A), rsa = private_key(h, ID_9C);
    CK_OBJECT_HANDLE cert = p11c_find(h, CKO_CERTIFICATE, ID_9A);
    assert_true(cert != 0);

    /* A sensitive attribute: unavailable, the others still filled. */
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_BYTE id[8] = { 0 }, value[128];
    CK_ATTRIBUTE t1[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_VALUE, value, sizeof(value) },
        { CKA_ID, id, sizeof(id) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
    };
    assert_rv(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(h, ec, t1, 4));
    assert_int_equal(t1[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t1[0].ulValueLen, sizeof(cls));
    assert_int_equal(cls, CKO_PRIVATE_KEY);
    assert_int_equal(t1[2].ulValueLen, 1);
    assert_int_equal(id[0], ID_9A);
    assert_int_equal(t1[3].ulValueLen, sizeof(kt));
    assert_int_equal(kt, CKK_EC);

    /* RSA: the private parts are sensitive, the modulus is the certificate's. */
    CK_BYTE d[512], p[512], mod[512];
    CK_ATTRIBUTE t2[] = {
        { CKA_PRIVATE_EXPONENT, d, sizeof(d) },
        { CKA_MODULUS, mod, sizeof(mod) },
        { CKA_PRIME_1, p, sizeof(p) },
    };
    assert_rv(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(h, rsa, t2, 3));
    assert_int_equal(t2[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t2[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t2[1].ulValueLen, 256);
    EVP_PKEY *pub = cert_key(h, ID_9C);
    BIGNUM *n = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    hold(n, release_bn);
    BIGNUM *got = hold(BN_bin2bn(mod, (int)t2[1].ulValueLen, NULL), release_bn);
    assert_int_equal(BN_cmp(n, got), 0);

    /* The flags of a key that stays on the card. */
    CK_BBOOL sensitive = 0, extractable = 1, always = 0, always_ec = 1, priv = 0, sign = 0;
    CK_ATTRIBUTE t3[] = {
        { CKA_SENSITIVE, &sensitive, 1 }, { CKA_EXTRACTABLE, &extractable, 1 },
        { CKA_ALWAYS_AUTHENTICATE, &always, 1 }, { CKA_PRIVATE, &priv, 1 },
        { CKA_SIGN, &sign, 1 },
    };
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, rsa, t3, 5));
    assert_true(sensitive == CK_TRUE && extractable == CK_FALSE && always == CK_TRUE && priv == CK_TRUE &&
                sign == CK_TRUE);
    CK_ATTRIBUTE t4[] = { { CKA_ALWAYS_AUTHENTICATE, &always_ec, 1 } };
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, ec, t4, 1));
    assert_int_equal(always_ec, CK_FALSE);

    /* A type the object does not have: TYPE_INVALID, the others filled. */
    CK_BYTE label[128];
    CK_ATTRIBUTE t5[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_VENDOR_DEFINED | 0x4b59UL, value, sizeof(value) },
        { CKA_LABEL, NULL, 0 },
        { CKA_MODULUS, value, sizeof(value) }, /* an EC key has none */
    };
    cls = 0;
    assert_rv(CKR_ATTRIBUTE_TYPE_INVALID, F->C_GetAttributeValue(h, ec, t5, 4));
    assert_int_equal(cls, CKO_PRIVATE_KEY);
    assert_int_equal(t5[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t5[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_true(t5[2].ulValueLen > 0 && t5[2].ulValueLen < sizeof(label));

    /* Too small a buffer: BUFFER_TOO_SMALL, unavailable; the others filled. */
    CK_BYTE tiny[10];
    CK_ATTRIBUTE t6[] = { { CKA_VALUE, tiny, sizeof(tiny) }, { CKA_CLASS, &cls, sizeof(cls) } };
    cls = 0;
    assert_rv(CKR_BUFFER_TOO_SMALL, F->C_GetAttributeValue(h, cert, t6, 2));
    assert_int_equal(t6[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(cls, CKO_CERTIFICATE);

    /* NULL pValue: the lengths; then the values, of those lengths. */
    CK_ATTRIBUTE t7[] = { { CKA_VALUE, NULL, 0 }, { CKA_SUBJECT, NULL, 0 }, { CKA_LABEL, NULL, 0 } };
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, cert, t7, 3));
    assert_true(t7[0].ulValueLen > 100 && t7[0].ulValueLen < 8192);
    assert_true(t7[1].ulValueLen > 2 && t7[1].ulValueLen < t7[0].ulValueLen);
    CK_ULONG lens[3] = { t7[0].ulValueLen, t7[1].ulValueLen, t7[2].ulValueLen };
    for (int i = 0; i < 3; i++)
        t7[i].pValue = hold(malloc(lens[i] + 1), release_malloc);
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, cert, t7, 3));
    for (int i = 0; i < 3; i++)
        assert_int_equal(t7[i].ulValueLen, lens[i]);
    const unsigned char *der = t7[0].pValue;
    X509 *x = hold(d2i_X509(NULL, &der, (long)lens[0]), release_x509);
    assert_non_null(x);
    assert_ptr_equal(der, (unsigned char *)t7[0].pValue + lens[0]);
    unsigned char *subject = NULL;
    int slen = i2d_X509_NAME(X509_get_subject_name(x), &subject);
    hold(subject, release_openssl);
    assert_int_equal(slen, (int)lens[1]);
    assert_memory_equal(subject, t7[1].pValue, lens[1]);
}

/* ------------------------------------------------------- session states */

static void test_session_states(void **state)
{
    (void)state;
    CK_SESSION_HANDLE ro = open_session(0), rw = open_session(CKF_RW_SESSION);
    CK_SESSION_INFO info;

    assert_rv(CKR_OK, F->C_GetSessionInfo(ro, &info));
    assert_int_equal(info.state, CKS_RO_PUBLIC_SESSION);
    assert_int_equal(info.flags, CKF_SERIAL_SESSION);
    assert_rv(CKR_OK, F->C_GetSessionInfo(rw, &info));
    assert_int_equal(info.state, CKS_RW_PUBLIC_SESSION);
    assert_int_equal(info.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    CK_TOKEN_INFO ti;
    assert_rv(CKR_OK, F->C_GetTokenInfo(slot, &ti));
    assert_int_equal(ti.ulSessionCount, 2);
    assert_int_equal(ti.ulRwSessionCount, 1);
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_Logout(ro));

    /* A read-only session may not change the token. */
    assert_rv(CKR_SESSION_READ_ONLY, F->C_SetPIN(ro, PIN, PIN_LEN, PIN, PIN_LEN));
    assert_rv(CKR_SESSION_READ_ONLY, F->C_InitPIN(ro, PIN, PIN_LEN));

    /* The user's login is the application's: every session sees it. */
    login_user(ro);
    assert_int_equal(session_state(ro), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(session_state(rw), CKS_RW_USER_FUNCTIONS);
    assert_rv(CKR_USER_ALREADY_LOGGED_IN, F->C_Login(rw, CKU_USER, PIN, PIN_LEN));
    assert_rv(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, F->C_Login(rw, CKU_SO, PUK, PUK_LEN));
    CK_SESSION_HANDLE later = open_session(0);
    assert_int_equal(session_state(later), CKS_RO_USER_FUNCTIONS);
    assert_rv(CKR_OK, F->C_CloseSession(later));
    assert_rv(CKR_OK, F->C_Logout(rw));
    assert_int_equal(session_state(ro), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(session_state(rw), CKS_RW_PUBLIC_SESSION);
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_Logout(rw));

    /* The SO needs every session read/write. */
    assert_rv(CKR_SESSION_READ_ONLY_EXISTS, F->C_Login(rw, CKU_SO, PUK, PUK_LEN));
    assert_int_equal(session_state(rw), CKS_RW_PUBLIC_SESSION);
    assert_rv(CKR_OK, F->C_CloseSession(ro));
    assert_rv(CKR_OK, F->C_Login(rw, CKU_SO, PUK, PUK_LEN));
    assert_int_equal(session_state(rw), CKS_RW_SO_FUNCTIONS);
    CK_SESSION_HANDLE h;
    assert_rv(CKR_SESSION_READ_WRITE_SO_EXISTS, F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h));
    CK_SESSION_HANDLE rw2 = open_session(CKF_RW_SESSION);
    assert_int_equal(session_state(rw2), CKS_RW_SO_FUNCTIONS);
    assert_rv(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, F->C_Login(rw2, CKU_USER, PIN, PIN_LEN));
    /* The SO sees the private keys (kyso's choice, to manage them) but may
     * not use them. */
    assert_int_equal(p11c_count(rw2, CKO_PRIVATE_KEY), NKEYS);
    CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 };
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_SignInit(rw2, &ecdsa, p11c_find(rw2, CKO_PRIVATE_KEY, ID_9A)));
    assert_rv(CKR_OK, F->C_Logout(rw2));
    assert_int_equal(session_state(rw), CKS_RW_PUBLIC_SESSION);
    assert_int_equal(session_state(rw2), CKS_RW_PUBLIC_SESSION);

    /* Closing the last session ends the login. */
    assert_rv(CKR_OK, F->C_CloseAllSessions(slot));
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_GetSessionInfo(rw, &info));
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_GetSessionInfo(rw2, &info));
    CK_SESSION_HANDLE a = open_session(0);
    login_user(a);
    assert_int_equal(p11c_count(a, CKO_PRIVATE_KEY), NKEYS);
    assert_rv(CKR_OK, F->C_CloseSession(a));
    CK_SESSION_HANDLE b = open_session(0);
    assert_int_equal(session_state(b), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(p11c_count(b, CKO_PRIVATE_KEY), 0);
    login_user(b); /* not USER_ALREADY_LOGGED_IN */
    assert_int_equal(session_state(b), CKS_RO_USER_FUNCTIONS);
    /* ... and C_CloseAllSessions too. */
    assert_rv(CKR_OK, F->C_CloseAllSessions(slot));
    CK_SESSION_HANDLE c = open_session(0);
    assert_int_equal(session_state(c), CKS_RO_PUBLIC_SESSION);
    assert_rv(CKR_OK, F->C_GetTokenInfo(slot, &ti));
    assert_int_equal(ti.ulSessionCount, 1);
    assert_int_equal(ti.ulRwSessionCount, 0);
}

static void test_private_objects(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };

    assert_int_equal(p11c_count(h, CKO_CERTIFICATE), NKEYS);
    assert_int_equal(p11c_count(h, CKO_PUBLIC_KEY), NKEYS);
    assert_int_equal(p11c_count(h, CKO_PRIVATE_KEY), 0);
    assert_int_equal(p11c_find(h, CKO_PRIVATE_KEY, ID_9A), 0);

    login_user(h);
    assert_int_equal(p11c_count(h, CKO_PRIVATE_KEY), NKEYS);
    assert_int_equal(p11c_count(h, CKO_CERTIFICATE), NKEYS);
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, k, &a, 1));
    assert_int_equal(cls, CKO_PRIVATE_KEY);

    assert_rv(CKR_OK, F->C_Logout(h));
    assert_int_equal(p11c_count(h, CKO_PRIVATE_KEY), 0);
    assert_rv(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(h, k, &a, 1));
    assert_rv2(CKR_USER_NOT_LOGGED_IN, CKR_KEY_HANDLE_INVALID, F->C_SignInit(h, &mech, k));

    /* Logged in again: the same handle works. */
    login_user(h);
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, k, &a, 1));
    assert_int_equal(p11c_find(h, CKO_PRIVATE_KEY, ID_9A), k);
}

/* ---------------------------------------------------------------- PINs */

static const CK_UTF8CHAR wrong_pin[] = "000000";
#define WRONG_PIN ((CK_UTF8CHAR_PTR)wrong_pin), 6

#define PIN_FLAGS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)

/* Unblocks with the PUK whatever the test left (teardown). */
static int teardown_restore_pin(void **state)
{
    F->C_CloseAllSessions(slot);
    CK_SESSION_HANDLE h;
    if (F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) == CKR_OK) {
        if (F->C_Login(h, CKU_SO, PUK, PUK_LEN) == CKR_OK) {
            CK_RV rv = F->C_InitPIN(h, PIN, PIN_LEN);
            if (rv != CKR_OK)
                fprintf(stderr, "teardown: C_InitPIN: %s\n", p11c_rv_name(rv));
            F->C_Logout(h);
        }
        F->C_CloseSession(h);
    }
    return teardown_fini(state);
}

static void test_pin_failures_and_unblock(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);

    assert_int_equal(token_flags() & PIN_FLAGS, 0);
    /* One failure, then the right PIN: the counter is full again. */
    assert_rv(CKR_PIN_INCORRECT, F->C_Login(h, CKU_USER, WRONG_PIN));
    assert_int_equal(session_state(h), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(token_flags() & PIN_FLAGS, CKF_USER_PIN_COUNT_LOW);
    login_user(h);
    assert_int_equal(token_flags() & PIN_FLAGS, 0);
    assert_rv(CKR_OK, F->C_Logout(h));

    /* Three failures lock the PIN. */
    assert_rv(CKR_PIN_INCORRECT, F->C_Login(h, CKU_USER, WRONG_PIN));
    assert_int_equal(token_flags() & PIN_FLAGS, CKF_USER_PIN_COUNT_LOW);
    assert_rv(CKR_PIN_INCORRECT, F->C_Login(h, CKU_USER, WRONG_PIN));
    assert_int_equal(token_flags() & PIN_FLAGS, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
    assert_rv(CKR_PIN_LOCKED, F->C_Login(h, CKU_USER, WRONG_PIN));
    assert_true(token_flags() & CKF_USER_PIN_LOCKED);
    assert_rv(CKR_PIN_LOCKED, F->C_Login(h, CKU_USER, PIN, PIN_LEN));
    assert_true(token_flags() & CKF_USER_PIN_LOCKED);
    assert_int_equal(session_state(h), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(p11c_count(h, CKO_PRIVATE_KEY), 0);

    /* The SO unblocks it with the PUK (C_InitPIN). */
    assert_rv(CKR_OK, F->C_CloseSession(h));
    CK_SESSION_HANDLE rw = open_session(CKF_RW_SESSION);
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_InitPIN(rw, PIN, PIN_LEN)); /* not as the SO yet */
    assert_rv(CKR_OK, F->C_Login(rw, CKU_SO, PUK, PUK_LEN));
    assert_rv(CKR_OK, F->C_InitPIN(rw, PIN, PIN_LEN));
    assert_rv(CKR_OK, F->C_Logout(rw));
    assert_int_equal(token_flags() & PIN_FLAGS, 0);
    login_user(rw);
    assert_int_equal(session_state(rw), CKS_RW_USER_FUNCTIONS);
    sign_9a_and_verify(rw);
}

static void test_always_authenticate(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    CK_MECHANISM mech = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_BYTE sig[512];
    CK_ULONG len;

    login_user(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9C);
    EVP_PKEY *pub = cert_key(h, ID_9C);
    /* No operation: nothing to log in to. */
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));

    /* Without the context login: refused. */
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    len = sizeof(sig);
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    /* Whether that ended the operation is the module's choice; either way
     * a context login right after C_SignInit makes the signature. */
    CK_RV rv = F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN);
    if (rv == CKR_OPERATION_NOT_INITIALIZED) {
        assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
        rv = F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN);
    }
    assert_rv(CKR_OK, rv);
    len = sizeof(sig);
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_int_equal(len, 256);
    assert_true(p11c_verify(pub, CKM_SHA256_RSA_PKCS, message, sizeof(message), sig, len));

    /* The context login was for that signature only. */
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    len = sizeof(sig);
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_rv(CKR_OK, F->C_SessionCancel(h, CKF_SIGN));

    /* A wrong context PIN is reported as such; the right one then works. */
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_PIN_INCORRECT, F->C_Login(h, CKU_CONTEXT_SPECIFIC, WRONG_PIN));
    assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    len = sizeof(sig);
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_true(p11c_verify(pub, CKM_SHA256_RSA_PKCS, message, sizeof(message), sig, len));
    assert_int_equal(token_flags() & PIN_FLAGS, 0);

    /* Multi-part, with the context login. */
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    assert_rv(CKR_OK, F->C_SignUpdate(h, (CK_BYTE_PTR)message, 10));
    assert_rv(CKR_OK, F->C_SignUpdate(h, (CK_BYTE_PTR)message + 10, sizeof(message) - 10));
    len = sizeof(sig);
    assert_rv(CKR_OK, F->C_SignFinal(h, sig, &len));
    assert_true(p11c_verify(pub, CKM_SHA256_RSA_PKCS, message, sizeof(message), sig, len));

    /* The 9A key needs no context login, twice in a row. */
    sign_9a_and_verify(h);
    sign_9a_and_verify(h);
}

/* A cold start (C_Initialize, the token, every object and every
 * certificate's value) sends what a PIV client cannot do without
 * (SELECT, the key history, a GET DATA per certificate slot: 7 on this
 * card), the YubiKey identity (GET VERSION, GET SERIAL) and one GET
 * METADATA for 9E, the slot without a certificate, where a key may be
 * all the same: 10. C_GetTokenInfo asks the card for both PIN counters
 * each time (they are live): 2 more, not part of the start. PIN policies
 * are asked when they matter, after it. */
static void test_cold_start_apdus(void **state)
{
    (void)state;
    assert_int_equal(p11c_ctl("stats-reset"), 0);
    assert_rv(CKR_OK, F->C_Initialize(NULL));
    assert_rv(CKR_OK, p11c_token_slot(&slot));
    CK_TOKEN_INFO ti;
    assert_rv(CKR_OK, F->C_GetTokenInfo(slot, &ti)); /* (the label is the signer's: it reads the card) */
    long before_info = p11c_token_apdus();
    assert_rv(CKR_OK, F->C_GetTokenInfo(slot, &ti));
    long info_apdus = p11c_token_apdus() - before_info;
    assert_int_equal(info_apdus, 2);
    info_apdus *= 2; /* the first call asked them too */
    CK_SESSION_HANDLE h = open_session(0);
    CK_OBJECT_HANDLE objs[64];
    CK_ULONG n = 0;
    assert_rv(CKR_OK, F->C_FindObjectsInit(h, NULL, 0));
    assert_rv(CKR_OK, F->C_FindObjects(h, objs, 64, &n));
    assert_rv(CKR_OK, F->C_FindObjectsFinal(h));
    unsigned certs = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_OBJECT_CLASS cls;
        CK_BYTE id[16], label[128];
        CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, id, sizeof(id) },
                             { CKA_LABEL, label, sizeof(label) } };
        CK_RV rv = F->C_GetAttributeValue(h, objs[i], a, 3);
        assert_true(rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID);
        if (cls != CKO_CERTIFICATE)
            continue;
        CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };
        assert_rv(CKR_OK, F->C_GetAttributeValue(h, objs[i], &v, 1));
        assert_true(v.ulValueLen > 100);
        certs++;
    }
    assert_true(certs >= 4); /* 9A, 9C, 9D, retired 82 (and the CA chain) */
    long apdus = p11c_token_apdus() - info_apdus;
    if (apdus > 10)
        fail_msg("a cold start sent %ld APDUs (besides the PIN counters of C_GetTokenInfo); SELECT, GET VERSION, GET SERIAL, 5 certificate slots, the key "
                 "history and 9E's metadata are 10",
                 apdus);

    /* What was left for later is right when asked for. */
    login_user(h);
    CK_BBOOL always = CK_FALSE;
    CK_ATTRIBUTE a = { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) };
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, private_key(h, ID_9C), &a, 1));
    assert_int_equal(always, CK_TRUE);
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, private_key(h, ID_9A), &a, 1));
    assert_int_equal(always, CK_FALSE);
    sign_9a_and_verify(h);
}

/* A PIN-always signature costs the card two APDUs, the floor: the
 * context login's VERIFY (a wrong PIN is reported there) and the
 * signature, which finds the PIN still held. When another operation took
 * it in between, the signature sends the PIN again and is still made. */
static void test_always_authenticate_apdus(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0), other = open_session(0);
    CK_MECHANISM mech = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_BYTE sig[512];
    CK_ULONG len;

    login_user(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9C);
    EVP_PKEY *pub = cert_key(h, ID_9C);

    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    assert_int_equal(p11c_ctl("stats-reset"), 0);
    assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    len = sizeof(sig);
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    long apdus = p11c_token_apdus();
    if (apdus != 2)
        fail_msg("context login + 9C signature sent %ld APDUs to the card; VERIFY + GENERAL AUTHENTICATE is 2", apdus);
    assert_true(p11c_verify(pub, CKM_SHA256_RSA_PKCS, message, sizeof(message), sig, len));

    /* The other session's PIN-always signature uses what h's context
     * login left on the card: h's signature must verify again itself. */
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, k));
    assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    assert_rv(CKR_OK, F->C_SignInit(other, &mech, k));
    assert_rv(CKR_OK, F->C_Login(other, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    len = sizeof(sig);
    assert_rv(CKR_OK, F->C_Sign(other, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_true(p11c_verify(pub, CKM_SHA256_RSA_PKCS, message, sizeof(message), sig, len));
    assert_int_equal(p11c_ctl("stats-reset"), 0);
    len = sizeof(sig);
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    assert_true(p11c_verify(pub, CKM_SHA256_RSA_PKCS, message, sizeof(message), sig, len));
    apdus = p11c_token_apdus();
    if (apdus != 3)
        fail_msg("a signature whose context PIN the card no longer held sent %ld APDUs; refused GENERAL "
                 "AUTHENTICATE, VERIFY, GENERAL AUTHENTICATE is 3",
                 apdus);
    assert_int_equal(token_flags() & PIN_FLAGS, 0); /* no try of the PIN was spent */
    assert_rv(CKR_OK, F->C_CloseSession(other));
}

/* ------------------------------------------- decryption, secrets, the SO */

#define ID_9D 0x03

/* A buffer too small for the plain text keeps it for the next call, which
 * gets it: the card is asked once. */
static void test_decrypt_two_calls(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9C);
    EVP_PKEY *pub = cert_key(h, ID_9C);
    uint8_t ct[256], plain[256];
    size_t ct_len = sizeof(ct);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    assert_non_null(ctx);
    bool encrypted = EVP_PKEY_encrypt_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
                     EVP_PKEY_encrypt(ctx, ct, &ct_len, message, sizeof(message)) == 1;
    EVP_PKEY_CTX_free(ctx);
    assert_true(encrypted);

    CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
    assert_rv(CKR_OK, F->C_DecryptInit(h, &mech, k));
    assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
    CK_ULONG len = 0;
    assert_rv(CKR_OK, F->C_Decrypt(h, ct, (CK_ULONG)ct_len, NULL, &len));
    assert_int_equal(len, 256); /* an upper bound before the card has answered */
    len = 4;
    assert_rv(CKR_BUFFER_TOO_SMALL, F->C_Decrypt(h, ct, (CK_ULONG)ct_len, plain, &len));
    assert_int_equal(len, sizeof(message));
    CK_ULONG asked = 0;
    assert_rv(CKR_OK, F->C_Decrypt(h, ct, (CK_ULONG)ct_len, NULL, &asked));
    assert_int_equal(asked, sizeof(message)); /* now the exact length */
    len = sizeof(plain);
    assert_rv(CKR_OK, F->C_Decrypt(h, ct, (CK_ULONG)ct_len, plain, &len));
    assert_int_equal(len, sizeof(message));
    assert_memory_equal(plain, message, sizeof(message));
    /* Delivered once: the operation is over. */
    len = sizeof(plain);
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_Decrypt(h, ct, (CK_ULONG)ct_len, plain, &len));
}

/* Sizes the application gives, at their bound and one past it: the PIN
 * (PIV's 8 bytes; the module's 64), raw data for CKM_RSA_PKCS (k - 11
 * bytes) and in parts (the module keeps 1024 bytes), the data to decrypt
 * (the modulus' size), the ECDH peer point (200 bytes), an attribute's
 * buffer. Past the bound: an error, no PIN try, nothing written. */
static void test_application_bounds(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    uint8_t pin[65];
    memset(pin, '1', sizeof(pin));
    assert_rv(CKR_PIN_LEN_RANGE, F->C_Login(h, CKU_USER, pin, 65));
    assert_rv(CKR_PIN_LEN_RANGE, F->C_Login(h, CKU_USER, pin, 9));
    assert_false(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY));
    login_user(h);

    CK_OBJECT_HANDLE k9c = private_key(h, ID_9C);
    uint8_t data[1100], out[512];
    memset(data, 0x42, sizeof(data));
    CK_MECHANISM pkcs = { CKM_RSA_PKCS, NULL, 0 };
    for (CK_ULONG n = 245; n <= 246; n++) {
        memset(out, 0xA5, sizeof(out));
        CK_ULONG len = sizeof(out);
        assert_rv(CKR_OK, F->C_SignInit(h, &pkcs, k9c));
        assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
        CK_RV rv = F->C_Sign(h, data, n, out, &len);
        if (n == 245) {
            assert_rv(CKR_OK, rv);
            assert_int_equal(len, 256);
        } else {
            assert_rv(CKR_DATA_LEN_RANGE, rv);
            assert_int_equal(out[0], 0xA5);
        }
    }
    /* In parts: 1024 bytes are kept (then too long for the key), 1025 not. */
    assert_rv(CKR_OK, F->C_SignInit(h, &pkcs, k9c));
    assert_rv(CKR_OK, F->C_SignUpdate(h, data, 1000));
    assert_rv(CKR_OK, F->C_SignUpdate(h, data, 24));
    assert_rv(CKR_DATA_LEN_RANGE, F->C_SignUpdate(h, data, 1));
    CK_ULONG len = sizeof(out);
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_SignFinal(h, out, &len));

    /* Decryption: the cipher text is as long as the modulus, not more. */
    for (CK_ULONG n = 257; n <= 1025; n += 768) {
        assert_rv(CKR_OK, F->C_DecryptInit(h, &pkcs, k9c));
        assert_rv(CKR_OK, F->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN, PIN_LEN));
        memset(out, 0xA5, sizeof(out));
        len = sizeof(out);
        assert_rv(CKR_ENCRYPTED_DATA_LEN_RANGE, F->C_Decrypt(h, data, n, out, &len));
        assert_int_equal(out[0], 0xA5);
    }

    /* ECDH: a peer point of 201 bytes is refused before the card. */
    uint8_t point[201];
    memset(point, 0x04, sizeof(point));
    CK_ECDH1_DERIVE_PARAMS params = { CKD_NULL, 0, NULL, sizeof(point), point };
    CK_MECHANISM ecdh = { CKM_ECDH1_DERIVE, &params, sizeof(params) };
    CK_OBJECT_HANDLE secret = CK_INVALID_HANDLE;
    assert_rv(CKR_MECHANISM_PARAM_INVALID, F->C_DeriveKey(h, &ecdh, private_key(h, 0x03), NULL, 0, &secret));
    assert_int_equal(secret, CK_INVALID_HANDLE);

    /* Mechanism parameters one byte longer than their structure; a salt
     * and an OAEP label past their bounds (512 and 1024 bytes). */
    CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM pss_mech = { CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss) + 1 };
    assert_rv(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(h, &pss_mech, k9c));
    pss_mech.ulParameterLen = sizeof(pss);
    pss.sLen = 513;
    assert_rv(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(h, &pss_mech, k9c));
    CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, data, 1025 };
    CK_MECHANISM oaep_mech = { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) };
    assert_rv(CKR_MECHANISM_PARAM_INVALID, F->C_DecryptInit(h, &oaep_mech, k9c));
    oaep.ulSourceDataLen = 0;
    oaep_mech.ulParameterLen = sizeof(oaep) + 1;
    assert_rv(CKR_MECHANISM_PARAM_INVALID, F->C_DecryptInit(h, &oaep_mech, k9c));
    ecdh.ulParameterLen = sizeof(params) - 1;
    params.ulPublicDataLen = 65;
    assert_rv(CKR_MECHANISM_PARAM_INVALID, F->C_DeriveKey(h, &ecdh, private_key(h, 0x03), NULL, 0, &secret));

    /* An attribute's buffer one byte short. */
    CK_OBJECT_HANDLE cert = p11c_find(h, CKO_CERTIFICATE, ID_9C);
    assert_true(cert != CK_INVALID_HANDLE);
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, cert, &a, 1));
    uint8_t *value = hold(malloc(a.ulValueLen), release_malloc);
    assert_non_null(value);
    memset(value, 0xA5, a.ulValueLen);
    a.pValue = value;
    a.ulValueLen--;
    assert_rv(CKR_BUFFER_TOO_SMALL, F->C_GetAttributeValue(h, cert, &a, 1));
    assert_int_equal(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(value[0], 0xA5);
}

/* ECDH with 9D against a fresh peer key; *secret is the derived object. */
static EVP_PKEY *derive_9d(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *secret)
{
    EVP_PKEY *peer = hold(EVP_EC_gen("P-256"), release_pkey);
    assert_non_null(peer);
    uint8_t point[65];
    size_t point_len = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &point_len),
                     1);
    CK_ECDH1_DERIVE_PARAMS params = { CKD_NULL, 0, NULL, (CK_ULONG)point_len, point };
    CK_MECHANISM mech = { CKM_ECDH1_DERIVE, &params, sizeof(params) };
    assert_rv(CKR_OK, F->C_DeriveKey(h, &mech, private_key(h, ID_9D), tmpl, n, secret));
    return peer;
}

static CK_BBOOL bool_attribute(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = 99;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, o, &a, 1));
    return v;
}

/* A derived secret is private and sensitive unless asked otherwise, and it
 * ends with the login. */
static void test_derived_secret(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    CK_OBJECT_HANDLE secret = 0;
    derive_9d(h, NULL, 0, &secret);
    assert_int_equal(bool_attribute(h, secret, CKA_PRIVATE), CK_TRUE);
    assert_int_equal(bool_attribute(h, secret, CKA_SENSITIVE), CK_TRUE);
    assert_int_equal(bool_attribute(h, secret, CKA_EXTRACTABLE), CK_FALSE);
    uint8_t value[64];
    CK_ATTRIBUTE va = { CKA_VALUE, value, sizeof(value) };
    assert_rv(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(h, secret, &va, 1));

    /* Asked for readable: the value is the ECDH secret. */
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE readable[] = { { CKA_SENSITIVE, &no, sizeof(no) }, { CKA_EXTRACTABLE, &yes, sizeof(yes) } };
    CK_OBJECT_HANDLE open_secret = 0;
    EVP_PKEY *peer = derive_9d(h, readable, 2, &open_secret);
    va.ulValueLen = sizeof(value);
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, open_secret, &va, 1));
    assert_int_equal(va.ulValueLen, 32);
    uint8_t expect[64];
    size_t expect_len = sizeof(expect);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(peer, NULL);
    bool derived = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, cert_key(h, ID_9D)) == 1 &&
                   EVP_PKEY_derive(ctx, expect, &expect_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    assert_true(derived);
    assert_int_equal(expect_len, 32);
    assert_memory_equal(value, expect, 32);

    /* Another session of the application sees it while the user is logged in. */
    CK_SESSION_HANDLE other = open_session(0);
    assert_int_equal(bool_attribute(other, secret, CKA_PRIVATE), CK_TRUE);
    /* The login ends: both secrets are gone, also after logging in again. */
    assert_rv(CKR_OK, F->C_Logout(h));
    CK_BBOOL v;
    CK_ATTRIBUTE a = { CKA_PRIVATE, &v, sizeof(v) };
    assert_rv(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(h, secret, &a, 1));
    assert_rv(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(other, open_secret, &a, 1));
    login_user(h);
    assert_rv(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(h, secret, &a, 1));
    assert_rv(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(h, open_secret, &a, 1));
}

/* The SO logged in with the management key changes the PUK and keeps the
 * management key: an administrative write still works after it. */
static const CK_UTF8CHAR other_puk[] = "87654321";

static const char *management_key(void)
{
    const char *mgm = getenv("KYSO_TEST_MGM_KEY");
    return mgm ? mgm : "010203040506070801020304050607080102030405060708";
}

static int teardown_restore_puk(void **state)
{
    F->C_CloseAllSessions(slot);
    CK_SESSION_HANDLE h;
    const char *mgm = management_key();
    if (F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) == CKR_OK) {
        if (F->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)mgm, (CK_ULONG)strlen(mgm)) == CKR_OK) {
            F->C_SetPIN(h, (CK_UTF8CHAR_PTR)other_puk, 8, PUK, PUK_LEN); /* fails when the PUK is already back */
            F->C_Logout(h);
        }
        F->C_CloseSession(h);
    }
    return teardown_fini(state);
}

static void test_so_changes_puk_keeps_management_key(void **state)
{
    (void)state;
    const char *mgm = management_key();
    CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
    /* The 9A certificate, to write it again (the card's contents stay). */
    CK_OBJECT_HANDLE cert = p11c_find(h, CKO_CERTIFICATE, ID_9A);
    assert_true(cert != 0);
    CK_ATTRIBUTE va = { CKA_VALUE, NULL, 0 };
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, cert, &va, 1));
    va.pValue = hold(malloc(va.ulValueLen), release_malloc);
    assert_rv(CKR_OK, F->C_GetAttributeValue(h, cert, &va, 1));

    assert_rv(CKR_OK, F->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)mgm, (CK_ULONG)strlen(mgm)));
    assert_rv(CKR_OK, F->C_SetPIN(h, PUK, PUK_LEN, (CK_UTF8CHAR_PTR)other_puk, 8));
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    uint8_t id = ID_9A;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) },
                            { CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
                            { CKA_TOKEN, &yes, sizeof(yes) },
                            { CKA_ID, &id, 1 },
                            va };
    CK_OBJECT_HANDLE written = 0;
    assert_rv(CKR_OK, F->C_CreateObject(h, tmpl, 5, &written));
    assert_rv(CKR_OK, F->C_Logout(h));
    /* The PUK did change: the old one is refused, the new one sets it back. */
    assert_rv(CKR_OK, F->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)mgm, (CK_ULONG)strlen(mgm)));
    assert_rv(CKR_PIN_INCORRECT, F->C_SetPIN(h, PUK, PUK_LEN, PUK, PUK_LEN));
    assert_rv(CKR_OK, F->C_SetPIN(h, (CK_UTF8CHAR_PTR)other_puk, 8, PUK, PUK_LEN));
    assert_rv(CKR_OK, F->C_Logout(h));
}

/* ------------------------------------------------ PKCS#11 corners */

/* Single-part and multi-part calls do not mix: the call that mixes them is
 * CKR_OPERATION_ACTIVE and ends the operation (digest, sign, verify). */
static void test_single_and_multi_part(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    CK_MECHANISM digest_mech = { CKM_SHA256, NULL, 0 }, sign_mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE buf[128];
    CK_ULONG len = sizeof(buf);

    assert_rv(CKR_OK, F->C_DigestInit(h, &digest_mech));
    assert_rv(CKR_OK, F->C_DigestUpdate(h, (CK_BYTE_PTR)message, sizeof(message)));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_Digest(h, (CK_BYTE_PTR)message, sizeof(message), buf, &len));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_DigestFinal(h, buf, &len));

    assert_rv(CKR_OK, F->C_DigestInit(h, &digest_mech));
    assert_rv(CKR_OK, F->C_Digest(h, (CK_BYTE_PTR)message, sizeof(message), NULL, &len));
    assert_int_equal(len, 32);
    assert_rv(CKR_OPERATION_ACTIVE, F->C_DigestFinal(h, buf, &len));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_DigestFinal(h, buf, &len));
    assert_rv(CKR_OK, F->C_DigestInit(h, &digest_mech));
    assert_rv(CKR_OK, F->C_Digest(h, (CK_BYTE_PTR)message, sizeof(message), NULL, &len));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_DigestUpdate(h, (CK_BYTE_PTR)message, 1));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_Digest(h, (CK_BYTE_PTR)message, sizeof(message), buf, &len));
    /* Unmixed, both still work. */
    uint8_t expect[32];
    SHA256(message, sizeof(message), expect);
    assert_rv(CKR_OK, F->C_DigestInit(h, &digest_mech));
    assert_rv(CKR_OK, F->C_Digest(h, (CK_BYTE_PTR)message, sizeof(message), NULL, &len));
    len = sizeof(buf);
    assert_rv(CKR_OK, F->C_Digest(h, (CK_BYTE_PTR)message, sizeof(message), buf, &len));
    assert_int_equal(len, 32);
    assert_memory_equal(buf, expect, 32);

    login_user(h);
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);
    CK_OBJECT_HANDLE pub = p11c_find(h, CKO_PUBLIC_KEY, ID_9A);
    assert_true(pub != 0);
    len = sizeof(buf);
    assert_rv(CKR_OK, F->C_SignInit(h, &sign_mech, k));
    assert_rv(CKR_OK, F->C_SignUpdate(h, (CK_BYTE_PTR)message, sizeof(message)));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), buf, &len));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_SignFinal(h, buf, &len));
    assert_rv(CKR_OK, F->C_SignInit(h, &sign_mech, k));
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), NULL, &len));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_SignFinal(h, buf, &len));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), buf, &len));
    assert_rv(CKR_OK, F->C_SignInit(h, &sign_mech, k));
    assert_rv(CKR_OK, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), NULL, &len));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_SignUpdate(h, (CK_BYTE_PTR)message, 1));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_SignFinal(h, buf, &len));

    assert_rv(CKR_OK, F->C_VerifyInit(h, &sign_mech, pub));
    assert_rv(CKR_OK, F->C_VerifyUpdate(h, (CK_BYTE_PTR)message, sizeof(message)));
    assert_rv(CKR_OPERATION_ACTIVE, F->C_Verify(h, (CK_BYTE_PTR)message, sizeof(message), buf, 64));
    assert_rv(CKR_OPERATION_NOT_INITIALIZED, F->C_VerifyFinal(h, buf, 64));
    /* Unmixed, a signature is still made and verified. */
    sign_9a_and_verify(h);
}

/* C_GenerateKeyPair's arguments, checked before the card is written: NULL
 * arguments; the public exponent as an integer (leading zero bytes are the
 * same 65537); the sizes C_GetMechanismInfo gives, which are what the card
 * makes (kyso-vtoken says it is a YubiKey 5.4: RSA up to 2048 bits). */
static void test_generate_arguments(void **state)
{
    (void)state;
    CK_TOKEN_INFO ti;
    assert_rv(CKR_OK, F->C_GetTokenInfo(slot, &ti));
    assert_int_equal(ti.firmwareVersion.major, 5);
    assert_int_equal(ti.firmwareVersion.minor, 4);
    CK_MECHANISM_INFO mi;
    assert_rv(CKR_OK, F->C_GetMechanismInfo(slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi));
    assert_int_equal(mi.ulMaxKeySize, 2048);
    assert_true(mi.ulMinKeySize >= 1024 && mi.ulMinKeySize <= 2048);
    assert_rv(CKR_OK, F->C_GetMechanismInfo(slot, CKM_SHA256_RSA_PKCS, &mi));
    assert_int_equal(mi.ulMaxKeySize, 2048);
    assert_rv(CKR_OK, F->C_GetMechanismInfo(slot, CKM_EC_KEY_PAIR_GEN, &mi));
    assert_int_equal(mi.ulMinKeySize, 256);
    assert_int_equal(mi.ulMaxKeySize, 384);

    CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
    CK_MECHANISM gen = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE pubk = 0, privk = 0;
    CK_ULONG bits = 2048;
    CK_BYTE id = 0x18; /* retired slot 95 */
    CK_BYTE e_padded[] = { 0x00, 0x01, 0x00, 0x01 }, e_3[] = { 0x01, 0x00, 0x03 };
    CK_ATTRIBUTE pub_t[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) },
                             { CKA_PUBLIC_EXPONENT, e_padded, sizeof(e_padded) } };
    CK_ATTRIBUTE priv_t[] = { { CKA_ID, &id, 1 } };

    assert_rv(CKR_ARGUMENTS_BAD, F->C_GenerateKeyPair(h, NULL, NULL, 0, NULL, 0, NULL, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GenerateKeyPair(h, &gen, pub_t, 2, priv_t, 1, NULL, &privk));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GenerateKeyPair(h, &gen, pub_t, 2, priv_t, 1, &pubk, NULL));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GenerateKeyPair(h, &gen, NULL, 2, priv_t, 1, &pubk, &privk));
    assert_rv(CKR_ARGUMENTS_BAD, F->C_GenerateKeyPair(h, &gen, pub_t, 2, NULL, 1, &pubk, &privk));

    /* Not the SO: refused for that, past the exponent and the size. */
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_GenerateKeyPair(h, &gen, pub_t, 2, priv_t, 1, &pubk, &privk));
    pub_t[1].pValue = e_padded + 1;
    pub_t[1].ulValueLen = 3;
    assert_rv(CKR_USER_NOT_LOGGED_IN, F->C_GenerateKeyPair(h, &gen, pub_t, 2, priv_t, 1, &pubk, &privk));
    pub_t[1].pValue = e_3;
    assert_rv(CKR_ATTRIBUTE_VALUE_INVALID, F->C_GenerateKeyPair(h, &gen, pub_t, 2, priv_t, 1, &pubk, &privk));
    pub_t[1].pValue = e_padded;
    pub_t[1].ulValueLen = sizeof(e_padded);
    bits = 4096;
    assert_rv(CKR_KEY_SIZE_RANGE, F->C_GenerateKeyPair(h, &gen, pub_t, 2, priv_t, 1, &pubk, &privk));
    bits = 512;
    assert_rv(CKR_KEY_SIZE_RANGE, F->C_GenerateKeyPair(h, &gen, pub_t, 2, priv_t, 1, &pubk, &privk));
    assert_int_equal(pubk, 0);
    assert_int_equal(privk, 0);
}

/* CKA_DERIVE says what C_DeriveKey does: C_DeriveKey has no C_*Init for a
 * context login to follow, so a key that wants its PIN for every use
 * (CKA_ALWAYS_AUTHENTICATE) derives only with a PIN prompt, which this run
 * has not configured; the keys that say TRUE derive. */
static void test_derive_attribute(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
    CK_OBJECT_HANDLE keys[16];
    CK_ULONG n = 0;
    assert_rv(CKR_OK, F->C_FindObjectsInit(h, &t, 1));
    assert_rv(CKR_OK, F->C_FindObjects(h, keys, 16, &n));
    assert_rv(CKR_OK, F->C_FindObjectsFinal(h));
    assert_int_equal(n, NKEYS);
    unsigned deriving = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_KEY_TYPE type;
        CK_BBOOL derive, always;
        CK_ATTRIBUTE a[] = { { CKA_KEY_TYPE, &type, sizeof(type) },
                             { CKA_DERIVE, &derive, sizeof(derive) },
                             { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) } };
        assert_rv(CKR_OK, F->C_GetAttributeValue(h, keys[i], a, 3));
        assert_int_equal(derive, type == CKK_EC && !always);
        if (!derive)
            continue;
        deriving++;
        EVP_PKEY *peer = hold(EVP_EC_gen("P-256"), release_pkey);
        assert_non_null(peer);
        uint8_t point[65];
        size_t point_len = 0;
        assert_int_equal(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &point_len),
                         1);
        CK_ECDH1_DERIVE_PARAMS params = { CKD_NULL, 0, NULL, (CK_ULONG)point_len, point };
        CK_MECHANISM mech = { CKM_ECDH1_DERIVE, &params, sizeof(params) };
        CK_OBJECT_HANDLE secret = 0;
        assert_rv(CKR_OK, F->C_DeriveKey(h, &mech, keys[i], NULL, 0, &secret));
        assert_true(secret != 0);
    }
    assert_true(deriving >= 1);
}

/* ------------------------------------------------------ card removal */

static int teardown_reinsert(void **state)
{
    p11c_ctl("insert");
    usleep(600 * 1000); /* pcscd polls the reader: let it see both changes */
    p11c_wait_token(slot, true, 10000);
    return teardown_fini(state);
}

/* After the removal: the session is gone, so is the slot's other one, the
 * slot has no token; after re-insertion a new session works, logged out. */
static void after_removal(CK_SESSION_HANDLE h, CK_SESSION_HANDLE other)
{
    CK_SESSION_INFO info;
    CK_BYTE sig[128];
    CK_ULONG len = sizeof(sig);

    assert_true(p11c_wait_token(slot, false, 5000));
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_GetSessionInfo(h, &info));
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    /* DEVICE_REMOVED may be said once, by the first call to notice. */
    assert_rv2(CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED, F->C_GetSessionInfo(other, &info));
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_GetSessionInfo(other, &info));
    CK_SESSION_HANDLE none;
    assert_rv(CKR_TOKEN_NOT_PRESENT, F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &none));
    CK_TOKEN_INFO ti;
    assert_rv(CKR_TOKEN_NOT_PRESENT, F->C_GetTokenInfo(slot, &ti));
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    assert_rv(CKR_OK, F->C_GetSlotList(CK_TRUE, ids, &n));
    for (CK_ULONG i = 0; i < n; i++)
        assert_true(ids[i] != slot);

    assert_int_equal(p11c_ctl("insert"), 0);
    assert_true(p11c_wait_token(slot, true, 10000));
    CK_SESSION_HANDLE fresh = open_session(0);
    assert_int_equal(session_state(fresh), CKS_RO_PUBLIC_SESSION);
    assert_rv(CKR_SESSION_HANDLE_INVALID, F->C_GetSessionInfo(h, &info));
    login_user(fresh);
    sign_9a_and_verify(fresh);
}

/* The card is pulled between C_SignInit and C_Sign, which comes at once
 * (before pcscd has seen the removal: the card just stops answering). */
static void test_card_removed_mid_operation(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0), other = open_session(CKF_RW_SESSION);
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE sig[128];
    CK_ULONG len = sizeof(sig);

    login_user(h);
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, private_key(h, ID_9A)));
    assert_int_equal(p11c_ctl("remove"), 0);
    /* (a card that stops answering mid-command may surface as a failed
     * transmission before pcscd calls it removed: refused either way) */
    CK_RV rv = F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len);
    if (rv != CKR_DEVICE_REMOVED && rv != CKR_TOKEN_NOT_PRESENT)
        assert_rv(CKR_DEVICE_ERROR, rv);
    after_removal(h, other);
}

/* The same, with C_Sign once the removal is known to pcscd. */
static void test_card_removed_then_sign(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0), other = open_session(CKF_RW_SESSION);
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE sig[128];
    CK_ULONG len = sizeof(sig);

    login_user(h);
    assert_rv(CKR_OK, F->C_SignInit(h, &mech, private_key(h, ID_9A)));
    assert_int_equal(p11c_ctl("remove"), 0);
    usleep(1500 * 1000); /* pcscd polls the reader every few hundred ms */
    assert_rv2(CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
               F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len));
    after_removal(h, other);
}

/* --------------------------------------------------------------- fork */

static int child_failures;

#define CHILD_EXPECT(expected, call)                                                                          \
    do {                                                                                                      \
        CK_RV rv_got_ = (call);                                                                               \
        if (rv_got_ != (expected)) {                                                                          \
            fprintf(stderr, "child: %s returned %s, expected %s\n", #call, p11c_rv_name(rv_got_),             \
                    p11c_rv_name(expected));                                                                  \
            child_failures++;                                                                                 \
        }                                                                                                     \
    } while (0)

/* Ends a child with the leak checkers still looking at it: exit() runs
 * LeakSanitizer. Under valgrind, which checks at any exit, _exit() skips
 * the library destructors: pcsc-lite's would free its list of contexts
 * but not the parent's contexts on it (which the child must not release:
 * their socket is the parent's), and valgrind would blame them. */
static void child_exit(int code)
{
    const char *vg = getenv("KYSO_VALGRIND");
    fflush(NULL);
    if (vg && strcmp(vg, "1") == 0)
        _exit(code);
    exit(code);
}

static void fork_child(CK_SESSION_HANDLE parent_session)
{
    CK_SLOT_ID ids[8], s;
    CK_ULONG n = 8;
    CK_INFO info;
    CK_SESSION_INFO sinfo;
    CK_SESSION_HANDLE h = 0;
    CK_BYTE sig[128];
    CK_ULONG len = sizeof(sig);
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };

    /* The parent's initialisation is not the child's. */
    CHILD_EXPECT(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetSlotList(CK_TRUE, ids, &n));
    CHILD_EXPECT(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetInfo(&info));
    CHILD_EXPECT(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_GetSessionInfo(parent_session, &sinfo));
    CHILD_EXPECT(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_SignInit(parent_session, &mech, 1));
    CHILD_EXPECT(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_Sign(parent_session, sig, 1, sig, &len));
    CHILD_EXPECT(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h));
    CHILD_EXPECT(CKR_CRYPTOKI_NOT_INITIALIZED, F->C_Finalize(NULL));

    CHILD_EXPECT(CKR_OK, F->C_Initialize(NULL));
    CHILD_EXPECT(CKR_CRYPTOKI_ALREADY_INITIALIZED, F->C_Initialize(NULL));
    n = 8;
    CHILD_EXPECT(CKR_OK, F->C_GetSlotList(CK_TRUE, ids, &n));
    if (n < 1) {
        fprintf(stderr, "child: no slot with a token\n");
        child_failures++;
        return;
    }
    CHILD_EXPECT(CKR_OK, p11c_token_slot(&s));
    CHILD_EXPECT(CKR_OK, F->C_OpenSession(s, CKF_SERIAL_SESSION, NULL, NULL, &h));
    CHILD_EXPECT(CKR_OK, F->C_GetSessionInfo(h, &sinfo));
    if (sinfo.state != CKS_RO_PUBLIC_SESSION) {
        fprintf(stderr, "child: a new session is in state %lu, not RO public\n", sinfo.state);
        child_failures++;
    }
    CHILD_EXPECT(CKR_OK, F->C_Login(h, CKU_USER, PIN, PIN_LEN));
    CK_OBJECT_HANDLE k = p11c_find(h, CKO_PRIVATE_KEY, ID_9A);
    EVP_PKEY *pub = p11c_cert_key(h, ID_9A);
    static const uint8_t data[] = "signed in the child";
    len = sizeof(sig);
    CHILD_EXPECT(CKR_OK, p11c_sign(h, k, CKM_ECDSA_SHA256, false, data, sizeof(data), sig, &len));
    if (!p11c_verify(pub, CKM_ECDSA_SHA256, data, sizeof(data), sig, len)) {
        fprintf(stderr, "child: the signature does not verify\n");
        child_failures++;
    }
    EVP_PKEY_free(pub);
    CHILD_EXPECT(CKR_OK, F->C_CloseSession(h));
    CHILD_EXPECT(CKR_OK, F->C_Finalize(NULL));
}

/* A child that only initialises and finalises the module must not touch
 * the parent's card connection (pcsc-lite's sockets are shared after fork):
 * the parent stays logged in on the card and signs without a new VERIFY. */
static void test_fork_quiet_child(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    sign_9a_and_verify(h);

    assert_int_equal(p11c_ctl("stats-reset"), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        p11c_watchdog(60);
        CK_SLOT_ID ids[8];
        CK_ULONG n = 8;
        CHILD_EXPECT(CKR_OK, F->C_Initialize(NULL));
        CHILD_EXPECT(CKR_OK, F->C_GetSlotList(CK_FALSE, ids, &n));
        CHILD_EXPECT(CKR_OK, F->C_Finalize(NULL));
        child_exit(child_failures ? 1 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The child never used the token: not one APDU may have reached it. */
    long apdus = p11c_token_apdus();
    if (apdus != 0)
        fail_msg("the child, which only called C_Initialize, C_GetSlotList and C_Finalize, sent %ld APDU(s) "
                 "to the card (through the parent's PC/SC connection)",
                 apdus);
    sign_9a_and_verify(h);
    if (status != 0)
        fail_msg("the child ended with status 0x%x (exit 1: a check failed; else see the sanitizers' or "
                 "valgrind's report above)",
                 status);
}

static void test_fork(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    sign_9a_and_verify(h);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        p11c_watchdog(60);
        fork_child(h);
        child_exit(child_failures ? 1 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);

    /* The parent carries on with its session and its login. */
    char why[512] = "";
    size_t w = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        w += (size_t)snprintf(why + w, sizeof(why) - w,
                              "the child ended with status 0x%x (exit 1: a check failed; else see the sanitizers' "
                              "or valgrind's report above); ",
                              status);
    CK_SESSION_INFO info;
    CK_RV rv = F->C_GetSessionInfo(h, &info);
    if (rv != CKR_OK || info.state != CKS_RO_USER_FUNCTIONS)
        w += (size_t)snprintf(why + w, sizeof(why) - w, "parent: C_GetSessionInfo %s state %lu; ", p11c_rv_name(rv),
                              info.state);
    EVP_PKEY *pub = cert_key(h, ID_9A);
    uint8_t sig[128];
    CK_ULONG len = sizeof(sig);
    rv = p11c_sign(h, private_key(h, ID_9A), CKM_ECDSA_SHA256, false, message, sizeof(message), sig, &len);
    if (rv != CKR_OK)
        w += (size_t)snprintf(why + w, sizeof(why) - w, "parent: signing with 9A after the child: %s; ",
                              p11c_rv_name(rv));
    else if (!p11c_verify(pub, CKM_ECDSA_SHA256, message, sizeof(message), sig, len))
        w += (size_t)snprintf(why + w, sizeof(why) - w, "parent: the signature after the child does not verify; ");
    if (w)
        fail_msg("%s", why);
}

/* ------------------------------------------------ rule M13: idle logout */

/* Appends to root's configuration of this run (tests/with-token mounts it
 * at the system path): the module sees the change by stat. */
static void append_conf(const char *text)
{
    const char *dir = getenv("KYSO_SYSTEM_CONF");
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof(path), "%s/kyso.conf", dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* [M13] idle_logout = 1: a token left alone for longer is logged out, the
 * next signature needs a new C_Login; a token in use stays logged in. */
static void test_idle_logout(void **state)
{
    (void)state;
    const char *dir = getenv("KYSO_SYSTEM_CONF");
    assert_non_null(dir);
    char path[512], saved[8192];
    snprintf(path, sizeof(path), "%s/kyso.conf", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(saved, 1, sizeof(saved) - 1, f);
    fclose(f);
    saved[n] = '\0';
    append_conf("[M13]\nidle_logout = 1\n");

    CK_SESSION_HANDLE h = open_session(0);
    login_user(h);
    for (int i = 0; i < 3; i++) { /* in use: calls 0.4 s apart keep it */
        sign_9a_and_verify(h);
        struct timespec ts = { 0, 400 * 1000000L };
        nanosleep(&ts, NULL);
    }
    CK_OBJECT_HANDLE k = private_key(h, ID_9A);
    struct timespec idle = { 2, 200 * 1000000L };
    nanosleep(&idle, NULL);
    uint8_t sig[128];
    CK_ULONG len = sizeof(sig);
    CK_MECHANISM mech = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_RV rv = F->C_SignInit(h, &mech, k);
    if (rv == CKR_OK)
        rv = F->C_Sign(h, (CK_BYTE_PTR)message, sizeof(message), sig, &len);
    assert_rv(CKR_USER_NOT_LOGGED_IN, rv);
    CK_SESSION_INFO info;
    assert_rv(CKR_OK, F->C_GetSessionInfo(h, &info));
    assert_int_equal(info.state, CKS_RO_PUBLIC_SESSION);
    login_user(h);
    sign_9a_and_verify(h);

    /* The logout is in the audit trail, with its rule. */
    const char *log = getenv("KYSO_AUDIT_LOG");
    assert_non_null(log);
    f = fopen(log, "r");
    assert_non_null(f);
    char line[8192];
    bool recorded = false;
    while (fgets(line, sizeof(line), f))
        recorded |= strstr(line, "\"event\":\"logout\"") && strstr(line, "\"rule\":\"M13\"");
    fclose(f);
    assert_true(recorded);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs(saved, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (!p11c_load(p11c_module_path(argc > 1 ? argv[1] : NULL)))
        return 1;
    p11c_watchdog(90);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_not_initialized, teardown_release),
        cmocka_unit_test_teardown(test_initialize_arguments, teardown_release),
        cmocka_unit_test_teardown(test_application_mutexes, teardown_release),
        cmocka_unit_test_teardown(test_interfaces, teardown_release),
        cmocka_unit_test_setup_teardown(test_null_arguments, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_bad_arguments_end_operations, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_invalid_handles, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_login_user_and_messages, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_session_cancel, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_two_call_lists, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_two_call_sign, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_attribute_rules, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_session_states, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_private_objects, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_pin_failures_and_unblock, setup_init, teardown_restore_pin),
        cmocka_unit_test_setup_teardown(test_always_authenticate, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_always_authenticate_apdus, setup_init, teardown_fini),
        cmocka_unit_test_teardown(test_cold_start_apdus, teardown_fini),
        cmocka_unit_test_setup_teardown(test_decrypt_two_calls, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_idle_logout, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_derived_secret, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_so_changes_puk_keeps_management_key, setup_init, teardown_restore_puk),
        cmocka_unit_test_setup_teardown(test_single_and_multi_part, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_generate_arguments, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_derive_attribute, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_card_removed_mid_operation, setup_init, teardown_reinsert),
        cmocka_unit_test_setup_teardown(test_card_removed_then_sign, setup_init, teardown_reinsert),
        cmocka_unit_test_setup_teardown(test_application_bounds, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_fork_quiet_child, setup_init, teardown_fini),
        cmocka_unit_test_setup_teardown(test_fork, setup_init, teardown_fini),
    };
    /* MODULE_API_TESTS=pattern runs only the matching tests (debugging). */
    const char *only = getenv("MODULE_API_TESTS");
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests_name("kyso-pkcs11.so API", tests, NULL, NULL);
}
