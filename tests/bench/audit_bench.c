/* Benchmarks of the audit trail (numbers, not pass/fail; run by
 * run-audit-bench.sh, on the build without sanitizers):
 *
 *   audit_bench sign THREADS SECONDS
 *       signatures per second through kyso-pkcs11.so (KYSO_MODULE) inside
 *       tests/with-token (PIV 9A P-256, CKM_ECDSA_SHA256), THREADS threads
 *       each in its own session, for SECONDS; the audit trail is whatever
 *       KYSO_AUDIT says (file:LOG or off). Prints one line:
 *       "sign threads T audit A: N signatures in S s: R/s".
 *   audit_bench build LOG KEYFILE RECORDS
 *       a chain of RECORDS records made with the real writer, in group
 *       commits of 1000 (audit_writer_append with n = 1000), the auditor's
 *       key written to KEYFILE; prints the rate.
 *   audit_bench verify LOG KEYFILE
 *       audit_verify_files on LOG: records per second. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "tests/integration/p11_client.h"

#define F (p11c.f)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- signing */

static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE key;
static atomic_bool stop_signing;

struct signer {
    pthread_t thread;
    int index;
    long done, errors;
};

static void *signer_main(void *arg)
{
    struct signer *s = arg;
    CK_SESSION_HANDLE h;
    if (F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK) {
        s->errors++;
        return NULL;
    }
    for (long i = 0; !atomic_load(&stop_signing); i++) {
        char msg[96];
        int n = snprintf(msg, sizeof(msg), "kyso audit bench thread %d signature %ld", s->index, i);
        uint8_t sig[128];
        CK_ULONG len = sizeof(sig);
        if (p11c_sign(h, key, CKM_ECDSA_SHA256, false, (const uint8_t *)msg, (size_t)n, sig, &len) == CKR_OK)
            s->done++;
        else
            s->errors++;
    }
    F->C_CloseSession(h);
    return NULL;
}

static int bench_sign(int threads, double seconds)
{
    if (threads < 1 || threads > 256 || !p11c_load(p11c_module_path(NULL)))
        return 2;
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
    if (rv != CKR_OK || !(key = p11c_find(login, CKO_PRIVATE_KEY, 0x01))) {
        fprintf(stderr, "audit_bench: setting up: %s\n", p11c_rv_name(rv));
        return 1;
    }
    struct signer *s = calloc((size_t)threads, sizeof(*s));
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        s[i].index = i;
        pthread_create(&s[i].thread, NULL, signer_main, &s[i]);
    }
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    nanosleep(&ts, NULL);
    atomic_store(&stop_signing, true);
    long done = 0, errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(s[i].thread, NULL);
        done += s[i].done;
        errors += s[i].errors;
    }
    double t = now() - t0;
    const char *audit = getenv("KYSO_AUDIT");
    printf("sign threads %2d audit %-4s: %6ld signatures in %5.2f s: %7.1f/s%s\n", threads,
           audit && strcmp(audit, "off") == 0 ? "off" : "file", done, t, (double)done / t,
           errors ? " (with errors!)" : "");
    free(s);
    F->C_Logout(login);
    F->C_Finalize(NULL);
    return errors ? 1 : 0;
}

/* ---------------------------------------------------------- the writer */

/* The 9A certificate of the test PKI, so that the records are the size of
 * the module's (about 1.1 KB); none if the sources are not found. */
static int load_cert(uint8_t **der)
{
    const char *src = getenv("KYSO_SRCDIR");
    char path[1024];
    int len = 0;
    snprintf(path, sizeof(path), "%s/test-vectors/pki/person-an-auth-p256.pem", src ? src : ".");
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (x)
        len = i2d_X509(x, der);
    X509_free(x);
    return len > 0 ? len : 0;
}

static int bench_build(const char *log, const char *key_file, long records)
{
    enum { BATCH = 1000 };
    uint8_t key0[AUDIT_KEY_LEN];
    char err[600], hex[2 * AUDIT_KEY_LEN + 1];
    struct audit_writer *w;
    double t0 = now();
    if (audit_chain_init(log, key0, err, sizeof(err)) != 0 || audit_writer_open(log, &w, err, sizeof(err)) != 0) {
        fprintf(stderr, "audit_bench: %s\n", err);
        return 1;
    }
    audit_hex(key0, sizeof(key0), hex);
    FILE *kf = fopen(key_file, "w");
    if (!kf || fprintf(kf, "%s\n", hex) < 0 || fclose(kf) != 0) {
        perror(key_file);
        return 1;
    }
    struct audit_identity who;
    audit_identity_self(&who);
    uint8_t *cert = NULL;
    int cert_len = load_cert(&cert);
    static struct audit_event ev[BATCH];
    static uint8_t digest[BATCH][32];
    static const struct audit_event *evp[BATCH];
    static const struct audit_identity *whop[BATCH];
    long done = 1;
    while (done < records) {
        size_t n = records - done < BATCH ? (size_t)(records - done) : BATCH;
        for (size_t i = 0; i < n; i++) {
            long k = done + (long)i;
            unsigned int dl = 0;
            EVP_Digest(&k, sizeof(k), digest[i], &dl, EVP_sha256(), NULL);
            ev[i] = (struct audit_event){ .event = "sign",
                                          .reader = "Kyso Virtual Reader 00 00",
                                          .token = "70238609",
                                          .key = "9A",
                                          .cert_der = cert,
                                          .cert_len = (size_t)cert_len,
                                          .mechanism = "CKM_ECDSA_SHA256",
                                          .has_input = true,
                                          .input_len = 47,
                                          .input_sha256 = digest[i],
                                          .outcome = "CKR_OK" };
            evp[i] = &ev[i];
            whop[i] = &who;
        }
        if (audit_writer_append(w, evp, whop, n, err, sizeof(err)) != 0) {
            fprintf(stderr, "audit_bench: append: %s\n", err);
            return 1;
        }
        done += (long)n;
    }
    audit_writer_close(w);
    OPENSSL_free(cert);
    double t = now() - t0;
    printf("build: %ld records%s in group commits of %d: %.1f s, %.0f records/s\n", records,
           cert_len ? " (with the 9A certificate's fields)" : "", BATCH, t, (double)records / t);
    return 0;
}

static int bench_verify(const char *log, const char *key_file)
{
    uint8_t key0[AUDIT_KEY_LEN];
    char err[600];
    if (audit_read_key_file(key_file, key0, err, sizeof(err)) != 0) {
        fprintf(stderr, "audit_bench: %s\n", err);
        return 1;
    }
    const char *files[] = { log };
    struct audit_verify_result res;
    double t0 = now();
    int rc = audit_verify_files(files, 1, key0, NULL, &res);
    double t = now() - t0;
    printf("audit_verify_files: %s, %llu records in %.2f s: %.0f records/s\n", rc == 0 ? "OK" : res.reason,
           (unsigned long long)res.records, t, (double)res.records / t);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "sign") == 0)
        return bench_sign(atoi(argv[2]), atof(argv[3]));
    if (argc == 5 && strcmp(argv[1], "build") == 0)
        return bench_build(argv[2], argv[3], atol(argv[4]));
    if (argc == 4 && strcmp(argv[1], "verify") == 0)
        return bench_verify(argv[2], argv[3]);
    fprintf(stderr, "usage: audit_bench sign THREADS SECONDS | build LOG KEYFILE RECORDS | verify LOG KEYFILE\n");
    return 2;
}
