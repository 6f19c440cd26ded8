/* A signing client for the audit tests (audit-*.sh, inside
 * tests/with-token, PIV token, mixed key set: 9A P-256 with CKA_ID 01, no
 * context login): loads kyso-pkcs11.so, logs in and signs with
 * CKM_ECDSA_SHA256 a message that is different for every signature
 * ("kyso audit test pid P thread T signature I").
 *
 *   audit_signer [--threads M] [--count N] [--received FILE] [--ready FILE]
 *                [--expect CKR_...] [--until-fail] [--audit-off]
 *                [--any] [--seconds S] [--latency]
 *
 *   --threads M      M threads, each in its own session (default 1)
 *   --count N        signatures per thread (default 1; 0: until killed)
 *   --received FILE  after each signature that C_Sign returned, appends
 *                    the SHA-256 of what was signed (hex, what the audit
 *                    record's input_sha256 must be) with one write(2);
 *                    the first line is "pid P"
 *   --ready FILE     created once logged in, before the first signature
 *   --expect RV      every C_Sign must return RV (default CKR_OK); for an
 *                    error the output buffer, filled with a pattern before
 *                    the call, must be untouched and the length unchanged
 *   --until-fail     stop at the first C_Sign that is not CKR_OK (which
 *                    must then be the --expect one): "signed S" before it
 *   --any            any failure is accepted (faults are being injected),
 *                    its output buffer still untouched; a thread whose
 *                    session or login went (card pulled, pcscd restarted)
 *                    opens a session and logs in again
 *   --seconds S      threads stop signing after S seconds
 *   --latency        a further thread calls functions that make no record
 *                    (C_GetTokenInfo, C_SignInit and its cancel) every
 *                    10 ms; prints a second line "sign_max_ms A probe_max_ms
 *                    B recovered_max_ms C": the longest signature call, the
 *                    longest of those calls, and the longest time from a
 *                    thread's first failure to its next signature
 *
 * Every signature received is checked with OpenSSL against the
 * certificate. Prints "pid P signed S failed F wrong W" (W: results that
 * were not as expected, buffers touched, signatures that do not verify);
 * the exit status is 0 when W is 0. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tests/integration/p11_client.h"

#define F (p11c.f)
#define ID_9A 0x01
#define MAX_THREADS 64

static const char *received_path;
static int received_fd = -1;
static CK_RV expect = CKR_OK;
static bool until_fail;
static bool any_rv;
static long seconds;
static atomic_bool stop;
static atomic_long sign_max_us, probe_max_us, recovered_max_us;
static long long started_us;
static _Atomic CK_SLOT_ID slot; /* the token's, again after a reconnect */
static _Atomic CK_OBJECT_HANDLE key;
static EVP_PKEY *pub;

struct worker {
    pthread_t thread;
    int index;
    long count;
    long signed_ok, failed, wrong;
};

static const char *rv_by_name(const char *name, CK_RV *rv)
{
    static const CK_RV all[] = { CKR_OK, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_DEVICE_ERROR,
                                 CKR_USER_NOT_LOGGED_IN, CKR_HOST_MEMORY };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(p11c_rv_name(all[i]), name) == 0) {
            *rv = all[i];
            return name;
        }
    return NULL;
}

static void record_received(const uint8_t *msg, size_t len)
{
    if (received_fd < 0)
        return;
    uint8_t md[32];
    unsigned int n = 0;
    char line[80];
    static const char digits[] = "0123456789abcdef";
    EVP_Digest(msg, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) {
        line[2 * i] = digits[md[i] >> 4];
        line[2 * i + 1] = digits[md[i] & 15];
    }
    line[64] = '\n';
    /* One write: the line is there whole or not at all when we are killed. */
    if (write(received_fd, line, 65) != 65)
        perror(received_path);
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void note_max(atomic_long *max, long long v)
{
    long cur = atomic_load(max);
    while (v > cur && !atomic_compare_exchange_weak(max, &cur, (long)v))
        ;
}

static bool time_is_up(void)
{
    return atomic_load(&stop) || (seconds && now_us() - started_us > seconds * 1000000LL);
}

/* After a card pull or a pcscd restart: a session again, logged in (any
 * session's login counts for all), and the key's handle anew. */
static bool reconnect(CK_SESSION_HANDLE *h)
{
    F->C_CloseSession(*h);
    *h = CK_INVALID_HANDLE;
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    if (F->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0)
        return false;
    atomic_store(&slot, slots[0]);
    if (F->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, h) != CKR_OK)
        return false;
    CK_RV rv = F->C_Login(*h, CKU_USER, (CK_UTF8CHAR_PTR)p11c_pin(), strlen(p11c_pin()));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        return false;
    CK_OBJECT_HANDLE k = p11c_find(*h, CKO_PRIVATE_KEY, ID_9A);
    if (k)
        atomic_store(&key, k);
    return k != 0;
}

static bool session_lost(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED ||
           rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID ||
           rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_DEVICE_ERROR || rv == CKR_TOKEN_NOT_RECOGNIZED;
}

static void *probe_main(void *arg)
{
    (void)arg;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    while (!time_is_up()) {
        long long t0 = now_us();
        CK_TOKEN_INFO info;
        CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
        (void)F->C_GetTokenInfo(slot, &info);
        if (h == CK_INVALID_HANDLE && F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK)
            h = CK_INVALID_HANDLE;
        if (h != CK_INVALID_HANDLE) {
            CK_RV rv = F->C_SignInit(h, &m, atomic_load(&key));
            if (rv == CKR_OK)
                F->C_SessionCancel(h, CKF_SIGN);
            else if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
                h = CK_INVALID_HANDLE;
        }
        note_max(&probe_max_us, now_us() - t0);
        usleep(10 * 1000);
    }
    if (h != CK_INVALID_HANDLE)
        F->C_CloseSession(h);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE h;
    long long failing_since = 0;
    CK_RV rv = F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK) {
        fprintf(stderr, "audit_signer: thread %d: C_OpenSession: %s\n", w->index, p11c_rv_name(rv));
        w->wrong++;
        return NULL;
    }
    for (long i = 0; (w->count == 0 || i < w->count) && !time_is_up(); i++) {
        char msg[128];
        int n = snprintf(msg, sizeof(msg), "kyso audit test pid %d thread %d signature %ld", (int)getpid(), w->index,
                         i);
        uint8_t sig[256];
        memset(sig, 0xA5, sizeof(sig));
        CK_ULONG len = sizeof(sig);
        long long t0 = now_us();
        rv = p11c_sign(h, atomic_load(&key), CKM_ECDSA_SHA256, false, (const uint8_t *)msg, (size_t)n, sig, &len);
        long long t1 = now_us();
        note_max(&sign_max_us, t1 - t0);
        if (rv == CKR_OK && failing_since) {
            note_max(&recovered_max_us, t1 - failing_since);
            failing_since = 0;
        } else if (rv != CKR_OK && !failing_since) {
            failing_since = t0;
        }
        if (rv == CKR_OK) {
            record_received((const uint8_t *)msg, (size_t)n);
            w->signed_ok++;
            if ((expect != CKR_OK && !until_fail) || len != 64 || !p11c_verify(pub, CKM_ECDSA_SHA256, (const uint8_t *)msg, (size_t)n, sig, len)) {
                fprintf(stderr, "audit_signer: thread %d signature %ld: CKR_OK%s\n", w->index, i,
                        expect != CKR_OK ? ", but it must fail" : ", but the signature does not verify");
                w->wrong++;
            }
        } else {
            w->failed++;
            bool untouched = len == sizeof(sig);
            for (size_t k = 0; k < sizeof(sig); k++)
                untouched = untouched && sig[k] == 0xA5;
            if ((rv != expect && !any_rv) || !untouched) {
                fprintf(stderr, "audit_signer: thread %d signature %ld: %s (expected %s)%s\n", w->index, i,
                        p11c_rv_name(rv), p11c_rv_name(expect),
                        untouched ? "" : "; the output buffer or its length was written");
                w->wrong++;
            }
            if (until_fail) {
                atomic_store(&stop, true);
                break;
            }
            if (any_rv && session_lost(rv)) {
                while (!time_is_up() && !reconnect(&h))
                    usleep(50 * 1000);
            }
        }
    }
    F->C_CloseSession(h);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = 1;
    long count = 1;
    const char *ready = NULL;
    bool latency = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = atol(argv[++i]);
        else if (strcmp(argv[i], "--received") == 0 && i + 1 < argc)
            received_path = argv[++i];
        else if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
            ready = argv[++i];
        else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
            if (!rv_by_name(argv[++i], &expect)) {
                fprintf(stderr, "audit_signer: unknown return value %s\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--until-fail") == 0)
            until_fail = true;
        else if (strcmp(argv[i], "--any") == 0)
            any_rv = true;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atol(argv[++i]);
        else if (strcmp(argv[i], "--latency") == 0)
            latency = true;
        else {
            fprintf(stderr, "audit_signer: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || threads > MAX_THREADS || count < 0)
        return 2;
    if (!p11c_load(p11c_module_path(NULL)))
        return 2;
    if (received_path) {
        received_fd = open(received_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        char head[32];
        int n = snprintf(head, sizeof(head), "pid %d\n", (int)getpid());
        if (received_fd < 0 || write(received_fd, head, (size_t)n) != n) {
            perror(received_path);
            return 2;
        }
    }

    CK_C_INITIALIZE_ARGS args = { 0 };
    args.flags = CKF_OS_LOCKING_OK;
    CK_SESSION_HANDLE login;
    CK_SLOT_ID first_slot = 0;
    CK_RV rv = F->C_Initialize(&args);
    if (rv == CKR_OK)
        rv = p11c_token_slot(&first_slot);
    atomic_store(&slot, first_slot);
    if (rv == CKR_OK)
        rv = F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &login);
    if (rv == CKR_OK)
        rv = F->C_Login(login, CKU_USER, (CK_UTF8CHAR_PTR)p11c_pin(), strlen(p11c_pin()));
    if (rv != CKR_OK) {
        fprintf(stderr, "audit_signer: setting up: %s\n", p11c_rv_name(rv));
        return 1;
    }
    key = p11c_find(login, CKO_PRIVATE_KEY, ID_9A);
    pub = p11c_cert_key(login, ID_9A);
    if (!key || !pub) {
        fprintf(stderr, "audit_signer: no 9A key or certificate\n");
        return 1;
    }
    if (ready) {
        int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }

    started_us = now_us();
    pthread_t prober;
    if (latency && pthread_create(&prober, NULL, probe_main, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    struct worker w[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){ .index = i, .count = count };
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    long ok = 0, failed = 0, wrong = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].signed_ok;
        failed += w[i].failed;
        wrong += w[i].wrong;
    }
    atomic_store(&stop, true);
    if (latency)
        pthread_join(prober, NULL);
    F->C_Logout(login);
    F->C_CloseSession(login);
    F->C_Finalize(NULL);
    EVP_PKEY_free(pub);
    if (received_fd >= 0)
        close(received_fd);
    printf("pid %d signed %ld failed %ld wrong %ld\n", (int)getpid(), ok, failed, wrong);
    if (latency)
        printf("sign_max_ms %ld probe_max_ms %ld recovered_max_ms %ld\n", atomic_load(&sign_max_us) / 1000,
               atomic_load(&probe_max_us) / 1000, atomic_load(&recovered_max_us) / 1000);
    return wrong ? 1 : 0;
}
