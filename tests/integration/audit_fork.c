/* fork() while other threads sign with the audit file sink (run by
 * audit-fork.sh inside tests/with-token, PIV 9A, CKM_ECDSA_SHA256).
 *
 * Two threads of this process sign continuously; meanwhile it forks
 * ROUNDS children one after another, at random moments. Each child calls
 * C_Initialize again (PKCS#11: the child's module state is its own), logs
 * in and signs once, within 10 s (SIGALRM otherwise): a child must never
 * hang on a lock that a thread of the parent held at the fork (the audit
 * sink's, the module's).
 *
 *   audit_fork ROUNDS PARENT_RECEIVED CHILDREN_RECEIVED
 *
 * The received files are in audit_signer's format ("pid P", then the
 * SHA-256 of each message whose signature was received) for
 * audit_logcheck. Prints "ok - …" / "not ok - …" and "N passed, N failed". */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tests/integration/p11_client.h"

#define F (p11c.f)

static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE key;
static atomic_bool stop;
static atomic_long parent_signed, parent_errors;
static int parent_fd;

/* This program's own OpenSSL calls do not run across its forks: a lock
 * that OpenSSL 3 holds inside one (its method store's) would stay taken in
 * the child, which is OpenSSL's to answer for, not the module's. */
static pthread_mutex_t own_openssl = PTHREAD_MUTEX_INITIALIZER;
static void own_openssl_lock(void)
{
    pthread_mutex_lock(&own_openssl);
}
static void own_openssl_unlock(void)
{
    pthread_mutex_unlock(&own_openssl);
}

static void hex_line(const char *msg, size_t len, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t md[32];
    unsigned int n = 0;
    own_openssl_lock();
    EVP_Digest(msg, len, md, &n, EVP_sha256(), NULL);
    own_openssl_unlock();
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\n';
}

static CK_RV setup(void)
{
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
    if (rv == CKR_OK && !(key = p11c_find(login, CKO_PRIVATE_KEY, 0x01)))
        rv = CKR_GENERAL_ERROR;
    return rv;
}

static void *signer(void *arg)
{
    int index = (int)(long)arg;
    CK_SESSION_HANDLE h;
    if (F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK) {
        atomic_fetch_add(&parent_errors, 1);
        return NULL;
    }
    for (long i = 0; !atomic_load(&stop); i++) {
        char msg[96], line[65];
        int n = snprintf(msg, sizeof(msg), "kyso audit fork test parent %d thread %d signature %ld", (int)getpid(),
                         index, i);
        uint8_t sig[128];
        CK_ULONG len = sizeof(sig);
        if (p11c_sign(h, key, CKM_ECDSA_SHA256, false, (const uint8_t *)msg, (size_t)n, sig, &len) == CKR_OK) {
            hex_line(msg, (size_t)n, line);
            if (write(parent_fd, line, 65) != 65)
                atomic_fetch_add(&parent_errors, 1);
            atomic_fetch_add(&parent_signed, 1);
        } else {
            atomic_fetch_add(&parent_errors, 1);
        }
    }
    F->C_CloseSession(h);
    return NULL;
}

/* The child: its own module state, one signature. */
static int child(int fd)
{
    alarm(10);
    CK_SESSION_HANDLE h;
    char msg[96], out[128];
    int n = snprintf(msg, sizeof(msg), "kyso audit fork test child %d", (int)getpid());
    uint8_t sig[128];
    CK_ULONG len = sizeof(sig);
    CK_RV rv = setup();
    if (rv == CKR_OK)
        rv = F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
    if (rv == CKR_OK)
        rv = p11c_sign(h, key, CKM_ECDSA_SHA256, false, (const uint8_t *)msg, (size_t)n, sig, &len);
    if (rv != CKR_OK) {
        fprintf(stderr, "audit_fork: child %d: %s\n", (int)getpid(), p11c_rv_name(rv));
        _exit(1);
    }
    int m = snprintf(out, sizeof(out), "pid %d\n", (int)getpid());
    hex_line(msg, (size_t)n, out + m);
    if (write(fd, out, (size_t)m + 65) != m + 65)
        _exit(1);
    _exit(0);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    if (argc != 4)
        return 2;
    int rounds = atoi(argv[1]);
    parent_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int child_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    char head[32];
    int hn = snprintf(head, sizeof(head), "pid %d\n", (int)getpid());
    if (parent_fd < 0 || child_fd < 0 || write(parent_fd, head, (size_t)hn) != hn)
        return 2;
    if (!p11c_load(p11c_module_path(NULL)))
        return 2;
    CK_RV rv = setup();
    if (rv != CKR_OK) {
        printf("not ok - set up: %s\n", p11c_rv_name(rv));
        return 1;
    }
    p11c_watchdog(600);
    pthread_atfork(own_openssl_lock, own_openssl_unlock, own_openssl_unlock);
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, signer, (void *)i);

    int hung = 0, child_failed = 0, child_ok = 0;
    srand((unsigned)getpid());
    for (int r = 0; r < rounds; r++) {
        /* A random moment: somewhere in a signature of the parent's. */
        struct timespec ts = { 0, (long)(rand() % 15) * 1000000L };
        nanosleep(&ts, NULL);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            child(child_fd);
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) {
            child_failed++;
            continue;
        }
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
            hung++;
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            child_ok++;
        else
            child_failed++;
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    F->C_Finalize(NULL);
    printf("# %d children: %d signed, %d hung (10 s), %d failed; the parent signed %ld meanwhile\n", rounds, child_ok,
           hung, child_failed, atomic_load(&parent_signed));
#define CHECK(name, cond)                                                                                              \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            passed++;                                                                                                  \
            printf("ok - %s\n", name);                                                                                 \
        } else {                                                                                                       \
            failed++;                                                                                                  \
            printf("not ok - %s\n", name);                                                                             \
        }                                                                                                              \
    } while (0)
    CHECK("no child hangs (a lock held by a parent's thread at fork)", hung == 0);
    CHECK("every child signs once", child_ok == rounds);
    CHECK("the parent's threads sign throughout, without error",
          atomic_load(&parent_signed) > 0 && atomic_load(&parent_errors) == 0);
    printf("%d passed, %d failed\n", passed, failed);
    close(parent_fd);
    close(child_fd);
    return failed ? 1 : 0;
}
