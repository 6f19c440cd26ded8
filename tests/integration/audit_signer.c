/* A signing client for the audit tests (audit-*.sh, inside
 * tests/with-token, PIV token, mixed key set: 9A P-256 with CKA_ID 01, no
 * context login): loads kyso-pkcs11.so, logs in and signs with
 * CKM_ECDSA_SHA256 a message that is different for every signature
 * ("kyso audit test pid P thread T signature I").
 *
 *   audit_signer [--threads M] [--count N] [--received FILE] [--ready FILE]
 *                [--expect CKR_...] [--until-fail] [--audit-off]
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
static atomic_bool stop;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE key;
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

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE h;
    CK_RV rv = F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK) {
        fprintf(stderr, "audit_signer: thread %d: C_OpenSession: %s\n", w->index, p11c_rv_name(rv));
        w->wrong++;
        return NULL;
    }
    for (long i = 0; (w->count == 0 || i < w->count) && !atomic_load(&stop); i++) {
        char msg[128];
        int n = snprintf(msg, sizeof(msg), "kyso audit test pid %d thread %d signature %ld", (int)getpid(), w->index,
                         i);
        uint8_t sig[256];
        memset(sig, 0xA5, sizeof(sig));
        CK_ULONG len = sizeof(sig);
        rv = p11c_sign(h, key, CKM_ECDSA_SHA256, false, (const uint8_t *)msg, (size_t)n, sig, &len);
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
            if (rv != expect || !untouched) {
                fprintf(stderr, "audit_signer: thread %d signature %ld: %s (expected %s)%s\n", w->index, i,
                        p11c_rv_name(rv), p11c_rv_name(expect),
                        untouched ? "" : "; the output buffer or its length was written");
                w->wrong++;
            }
            if (until_fail) {
                atomic_store(&stop, true);
                break;
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
    CK_RV rv = F->C_Initialize(&args);
    if (rv == CKR_OK)
        rv = p11c_token_slot(&slot);
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
    F->C_Logout(login);
    F->C_CloseSession(login);
    F->C_Finalize(NULL);
    EVP_PKEY_free(pub);
    if (received_fd >= 0)
        close(received_fd);
    printf("pid %d signed %ld failed %ld wrong %ld\n", (int)getpid(), ok, failed, wrong);
    return wrong ? 1 : 0;
}
