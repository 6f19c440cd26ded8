/* kyso-pkcs11.so under load and hot-plug, against kyso-vtoken's PIV token
 * (run by tests/integration/module-stress.sh inside tests/with-token,
 * mixed key set: 9A P-256 CKA_ID 01, 9C RSA-2048 CKA_ID 02 with
 * CKA_ALWAYS_AUTHENTICATE).
 *
 * 1. Signing: 16 threads in this process and 16 in a second process (this
 *    program again, "--worker"), all at once, each thread in its own
 *    session, alternating the 9A key (CKM_ECDSA_SHA256) and the 9C key
 *    (CKM_SHA256_RSA_PKCS, context login every time); every signature is
 *    checked with OpenSSL against the certificate. No error is allowed.
 *    Meanwhile a thread waits in C_WaitForSlotEvent and must not wake.
 *    32 signatures a thread (1024 in all); under valgrind (KYSO_VALGRIND=1)
 *    8 (256), which is already some 30 s of valgrind's time.
 * 2. The other process logs out and finalises: this one still signs.
 * 3. Hot-plug: a blocked C_WaitForSlotEvent reports the removal and the
 *    insertion, each for the token's slot; events that happened while
 *    nobody waited are reported by the next call; CKF_DONT_BLOCK returns
 *    CKR_NO_EVENT when nothing happened, also while another thread waits.
 * 4. fork() while a thread waits: the child initialises and finalises the
 *    module (no pcsc-lite lock left taken), the waiter goes on waiting.
 * 5. C_Finalize from another thread wakes a blocked waiter, which returns
 *    CKR_CRYPTOKI_NOT_INITIALIZED.
 *
 * Prints "ok - …" / "not ok - …" lines and "N passed, N failed". */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/p11_client.h"

#define F (p11c.f)
#define THREADS 16
#define ID_9A 0x01
#define ID_9C 0x02

static int passed, failed;

/* Signatures per thread: 2 processes x 16 threads x 32 = 1024; under
 * valgrind x 8 = 256. */
static int per_thread(void)
{
    return p11c_under_valgrind() ? 8 : 32;
}

/* A bounded wait for the other process's next step, 3 times longer under
 * valgrind (as p11c_watchdog). */
static int scaled_ms(int ms)
{
    return p11c_under_valgrind() ? 3 * ms : ms;
}

static void check(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(const char *name, bool ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        printf("ok - %s\n", name);
    } else {
        failed++;
        printf("not ok - %s\n", name);
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            printf("   ");
            vprintf(fmt, ap);
            printf("\n");
            va_end(ap);
        }
    }
    fflush(stdout);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------- signing */

struct keys {
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE login_session; /* kept open: the login lives with it */
    CK_OBJECT_HANDLE k9a, k9c;
    EVP_PKEY *p9a, *p9c;
};

struct signer {
    pthread_t thread;
    const struct keys *keys;
    const char *who;
    int index, count;
    int ok, bad;
};

static atomic_int errors_shown;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void signer_error(const struct signer *s, int i, const char *what, CK_RV rv)
{
    if (atomic_fetch_add(&errors_shown, 1) >= 12)
        return;
    pthread_mutex_lock(&print_lock);
    printf("   %s thread %d signature %d: %s: %s\n", s->who, s->index, i, what, rv == CKR_OK ? "-" : p11c_rv_name(rv));
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
}

static void *signer_main(void *arg)
{
    struct signer *s = arg;
    CK_SESSION_HANDLE h;
    CK_RV rv = F->C_OpenSession(s->keys->slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK) {
        signer_error(s, -1, "C_OpenSession", rv);
        s->bad = s->count;
        return NULL;
    }
    for (int i = 0; i < s->count; i++) {
        char data[128];
        int n = snprintf(data, sizeof(data), "kyso stress: %s pid %d thread %d signature %d", s->who, (int)getpid(),
                         s->index, i);
        bool rsa = (i + s->index) % 2 == 1;
        CK_MECHANISM_TYPE mech = rsa ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256;
        uint8_t sig[512];
        CK_ULONG len = sizeof(sig);
        rv = p11c_sign(h, rsa ? s->keys->k9c : s->keys->k9a, mech, rsa, (const uint8_t *)data, (size_t)n, sig, &len);
        if (rv != CKR_OK) {
            signer_error(s, i, rsa ? "sign 9C" : "sign 9A", rv);
            s->bad++;
        } else if (len != (rsa ? 256u : 64u) ||
                   !p11c_verify(rsa ? s->keys->p9c : s->keys->p9a, mech, (const uint8_t *)data, (size_t)n, sig, len)) {
            signer_error(s, i, rsa ? "9C signature does not verify" : "9A signature does not verify", CKR_OK);
            s->bad++;
        } else {
            s->ok++;
        }
    }
    rv = F->C_CloseSession(h);
    if (rv != CKR_OK)
        signer_error(s, -1, "C_CloseSession", rv);
    return NULL;
}

/* Runs the signers; returns the signatures made and checked in *ok, and
 * how long they took in *secs. */
static void run_signers(const struct keys *k, const char *who, int *ok, int *bad, double *secs)
{
    struct signer s[THREADS];
    double t0 = now();
    *ok = *bad = 0;
    for (int i = 0; i < THREADS; i++) {
        s[i] = (struct signer){ .keys = k, .who = who, .index = i, .count = per_thread() };
        if (pthread_create(&s[i].thread, NULL, signer_main, &s[i]) != 0) {
            s[i].bad = per_thread();
            s[i].thread = 0;
        }
    }
    for (int i = 0; i < THREADS; i++) {
        if (s[i].thread)
            pthread_join(s[i].thread, NULL);
        *ok += s[i].ok;
        *bad += s[i].bad;
    }
    *secs = now() - t0;
}

/* C_Initialize (OS locking), the token's slot, a logged-in session, the keys. */
static CK_RV open_keys(struct keys *k)
{
    CK_C_INITIALIZE_ARGS args = { 0 };
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = F->C_Initialize(&args);
    if (rv == CKR_OK)
        rv = p11c_token_slot(&k->slot);
    if (rv == CKR_OK)
        rv = F->C_OpenSession(k->slot, CKF_SERIAL_SESSION, NULL, NULL, &k->login_session);
    if (rv == CKR_OK)
        rv = F->C_Login(k->login_session, CKU_USER, (CK_UTF8CHAR_PTR)p11c_pin(), strlen(p11c_pin()));
    if (rv != CKR_OK)
        return rv;
    k->k9a = p11c_find(k->login_session, CKO_PRIVATE_KEY, ID_9A);
    k->k9c = p11c_find(k->login_session, CKO_PRIVATE_KEY, ID_9C);
    k->p9a = p11c_cert_key(k->login_session, ID_9A);
    k->p9c = p11c_cert_key(k->login_session, ID_9C);
    return k->k9a && k->k9c && k->p9a && k->p9c ? CKR_OK : CKR_GENERAL_ERROR;
}

static void close_keys(struct keys *k)
{
    EVP_PKEY_free(k->p9a);
    EVP_PKEY_free(k->p9c);
    k->p9a = k->p9c = NULL;
}

/* ------------------------------------------- the second process's side */

/* A line from the other process within timeout_ms, or as long as it takes
 * with -1 (the watchdog still ends a hang); false on a timeout or when the
 * other process has closed its end. */
static bool read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    double end = now() + timeout_ms / 1000.0;
    while (n + 1 < cap) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int left = timeout_ms < 0 ? -1 : (int)((end - now()) * 1000);
        if ((timeout_ms >= 0 && left <= 0) || poll(&p, 1, left) <= 0)
            return false;
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0)
            return false;
        if (buf[n] == '\n') {
            buf[n] = 0;
            return true;
        }
        n++;
    }
    return false;
}

/* False when the other process is gone (SIGPIPE is ignored: EPIPE). */
static bool write_line(int fd, const char *line)
{
    size_t len = strlen(line);
    while (len) {
        ssize_t w = write(fd, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        line += w;
        len -= (size_t)w;
    }
    return true;
}

/* --worker IN OUT: "ready" / "go" / "done OK BAD SECONDS" / "close" /
 * "closed". The worker's watchdog ends after the coordinator's, which
 * starts first: a hang is the coordinator's to report. */
static int worker(int in, int out)
{
    struct keys k = { 0 };
    char line[128];
    p11c_watchdog(90);
    CK_RV rv = open_keys(&k);
    if (rv != CKR_OK) {
        snprintf(line, sizeof(line), "error %s\n", p11c_rv_name(rv));
        write_line(out, line);
        return 1;
    }
    write_line(out, "ready\n");
    if (!read_line(in, line, sizeof(line), scaled_ms(30000)) || strcmp(line, "go") != 0)
        return 1;
    int ok, bad;
    double secs;
    run_signers(&k, "worker", &ok, &bad, &secs);
    snprintf(line, sizeof(line), "done %d %d %.1f\n", ok, bad, secs);
    write_line(out, line);
    /* The coordinator's own signers may finish much later (one process
     * often has the card for most of its signatures before the other gets
     * it): it says "close" after them, whenever that is. */
    if (!read_line(in, line, sizeof(line), -1) || strcmp(line, "close") != 0)
        return 1;
    /* Logs out (last session) and lets go of everything. */
    rv = F->C_CloseAllSessions(k.slot);
    CK_RV rv2 = F->C_Finalize(NULL);
    close_keys(&k);
    snprintf(line, sizeof(line), "closed %s %s\n", p11c_rv_name(rv), p11c_rv_name(rv2));
    write_line(out, line);
    return rv == CKR_OK && rv2 == CKR_OK ? 0 : 1;
}

/* ----------------------------------------------------------- slot events */

struct waiter {
    pthread_t thread;
    CK_FLAGS flags;
    CK_SLOT_ID slot;
    CK_RV rv;
    atomic_bool done;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    w->slot = (CK_SLOT_ID)-1;
    w->rv = F->C_WaitForSlotEvent(w->flags, &w->slot, NULL);
    atomic_store(&w->done, true);
    return NULL;
}

/* What a waiter returned, read only once it has (it writes them before
 * setting done). */
static const char *waiter_rv(struct waiter *w)
{
    return atomic_load(&w->done) ? p11c_rv_name(w->rv) : "nothing yet";
}

static CK_SLOT_ID waiter_slot(struct waiter *w)
{
    return atomic_load(&w->done) ? w->slot : (CK_SLOT_ID)-1;
}

static bool waiter_start(struct waiter *w, CK_FLAGS flags)
{
    memset(w, 0, sizeof(*w));
    w->flags = flags;
    return pthread_create(&w->thread, NULL, waiter_main, w) == 0;
}

/* Joins the waiter if it returns within ms. */
static bool waiter_join(struct waiter *w, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(w->thread, NULL, &ts) == 0;
}

/* Takes the events still pending; each must name slot. Returns how many,
 * or -1 if one named another slot or an error came. */
static int drain_events(CK_SLOT_ID slot, char *why, size_t cap)
{
    int n = 0;
    for (int i = 0; i < 8; i++) {
        CK_SLOT_ID s = (CK_SLOT_ID)-1;
        CK_RV rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL);
        if (rv == CKR_NO_EVENT)
            return n;
        if (rv != CKR_OK || s != slot) {
            snprintf(why, cap, "C_WaitForSlotEvent(CKF_DONT_BLOCK): %s, slot %lu (token slot %lu)", p11c_rv_name(rv),
                     s, slot);
            return -1;
        }
        n++;
    }
    snprintf(why, cap, "more than 8 pending events");
    return -1;
}

static void hot_plug(CK_SLOT_ID slot, struct waiter *w)
{
    char why[256] = "";
    /* The waiter started before the signing is still blocked: it is woken
     * by the removal, for this slot. */
    double t0 = now();
    check("card removed (ctl remove)", p11c_ctl("remove") == 0, NULL);
    bool woke = waiter_join(w, 10000);
    check("a blocked C_WaitForSlotEvent(0) returns when the card is removed", woke,
          "still blocked 10 s after the removal");
    if (!woke)
        return;
    check("the removal is reported as CKR_OK for the token's slot", w->rv == CKR_OK && w->slot == slot,
          "returned %s, slot %lu (token slot %lu), after %.2f s", p11c_rv_name(w->rv), w->slot, slot, now() - t0);
    int extra = drain_events(slot, why, sizeof(why));
    check("no other slot's event after the removal", extra >= 0, "%s", why);
    check("the slot shows no token", p11c_wait_token(slot, false, 5000), NULL);

    /* Insertion, with a waiter blocked again. */
    if (!waiter_start(w, 0))
        return;
    sleep_ms(300);
    check("no event before the insertion", !atomic_load(&w->done), "returned %s, slot %lu", waiter_rv(w),
          waiter_slot(w));
    t0 = now();
    check("card inserted (ctl insert)", p11c_ctl("insert") == 0, NULL);
    woke = waiter_join(w, 10000);
    check("a blocked C_WaitForSlotEvent(0) returns when the card is inserted", woke,
          "still blocked 10 s after the insertion");
    if (!woke)
        return;
    check("the insertion is reported as CKR_OK for the token's slot", w->rv == CKR_OK && w->slot == slot,
          "returned %s, slot %lu (token slot %lu), after %.2f s", p11c_rv_name(w->rv), w->slot, slot, now() - t0);
    check("the token is back", p11c_wait_token(slot, true, 10000), NULL);
    extra = drain_events(slot, why, sizeof(why));
    check("no other slot's event after the insertion", extra >= 0, "%s", why);
    CK_SLOT_ID s = (CK_SLOT_ID)-1;
    CK_RV rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL);
    check("then CKF_DONT_BLOCK says CKR_NO_EVENT", rv == CKR_NO_EVENT, "returned %s, slot %lu", p11c_rv_name(rv), s);

    /* Out and in while nobody waits: the next call reports it. */
    bool out_ok = p11c_ctl("remove") == 0 && p11c_wait_token(slot, false, 5000);
    bool in_ok = p11c_ctl("insert") == 0 && p11c_wait_token(slot, true, 10000);
    check("card out and in again while nobody waits", out_ok && in_ok, NULL);
    s = (CK_SLOT_ID)-1;
    rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL);
    check("the next C_WaitForSlotEvent(CKF_DONT_BLOCK) reports it for the token's slot", rv == CKR_OK && s == slot,
          "returned %s, slot %lu (token slot %lu)", p11c_rv_name(rv), s, slot);
    extra = drain_events(slot, why, sizeof(why));
    check("no other slot's event", extra >= 0, "%s", why);
    s = (CK_SLOT_ID)-1;
    rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL);
    check("and then CKR_NO_EVENT", rv == CKR_NO_EVENT, "returned %s, slot %lu", p11c_rv_name(rv), s);
}

/* fork() while a thread blocks in C_WaitForSlotEvent: the child's own
 * C_Initialize must not hang on pcsc-lite locks the waiter held, and the
 * parent's waiter goes on waiting, then reports the next event. */
static void fork_while_waiting(CK_SLOT_ID slot)
{
    struct waiter w;
    if (!waiter_start(&w, 0)) {
        check("waiter thread", false, NULL);
        return;
    }
    sleep_ms(300);
    int children_ok = 0;
    double slowest = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        pid_t child = fork();
        if (child == 0) {
            alarm(20);
            CK_C_INITIALIZE_ARGS args = { 0 };
            args.flags = CKF_OS_LOCKING_OK;
            CK_RV rv = F->C_Initialize(&args);
            CK_ULONG n = 0;
            if (rv == CKR_OK)
                rv = F->C_GetSlotList(CK_TRUE, NULL, &n);
            if (rv == CKR_OK)
                rv = F->C_Finalize(NULL);
            _exit(rv == CKR_OK && n >= 1 ? 0 : 1);
        }
        int status = 0;
        bool reaped = false;
        for (int i = 0; i < 300 && !reaped; i++) {
            reaped = waitpid(child, &status, WNOHANG) == child;
            if (!reaped)
                sleep_ms(50);
        }
        if (!reaped) {
            kill(child, SIGKILL);
            waitpid(child, NULL, 0);
        }
        children_ok += reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (now() - t0 > slowest)
            slowest = now() - t0;
        sleep_ms(100);
    }
    check("fork() while a thread waits: each child initialises, lists the token and finalises", children_ok == 5,
          "%d of 5 children did, the slowest took %.2f s", children_ok, slowest);
    printf("   the slowest child took %.2f s\n", slowest);
    check("the parent's waiter is still waiting after the forks", !atomic_load(&w.done), "returned %s, slot %lu",
          waiter_rv(&w), waiter_slot(&w));
    p11c_ctl("remove");
    bool woke = waiter_join(&w, 10000);
    check("and reports the next event, for the token's slot", woke && w.rv == CKR_OK && w.slot == slot,
          woke ? "returned %s, slot %lu" : "still blocked 10 s after a removal%s%lu", woke ? p11c_rv_name(w.rv) : "",
          woke ? w.slot : 0);
    p11c_ctl("insert");
    p11c_wait_token(slot, true, 10000);
    char why[256];
    drain_events(slot, why, sizeof(why));
    if (!woke) {
        printf("%d passed, %d failed\n", passed, failed);
        fflush(stdout);
        _exit(1);
    }
}

/* CKF_DONT_BLOCK must not wait for a thread that blocks. */
static void dont_block_while_waiting(CK_SLOT_ID slot)
{
    struct waiter blocked, quick;
    if (!waiter_start(&blocked, 0))
        return;
    sleep_ms(300);
    if (!waiter_start(&quick, CKF_DONT_BLOCK))
        return;
    bool returned = waiter_join(&quick, 3000);
    check("C_WaitForSlotEvent(CKF_DONT_BLOCK) returns at once while another thread blocks in it", returned,
          "still waiting after 3 s");
    if (returned)
        check("... with CKR_NO_EVENT", quick.rv == CKR_NO_EVENT, "returned %s, slot %lu", p11c_rv_name(quick.rv),
              quick.slot);
    /* Release both with a card event. */
    p11c_ctl("remove");
    bool b = waiter_join(&blocked, 10000);
    if (!returned)
        returned = waiter_join(&quick, 10000);
    p11c_ctl("insert");
    p11c_wait_token(slot, true, 10000);
    char why[256];
    drain_events(slot, why, sizeof(why));
    check("both waiters returned after a card event", b && returned, NULL);
}

/* C_Finalize from another thread wakes the waiter. */
static void finalize_wakes_waiter(void)
{
    struct waiter w;
    if (!waiter_start(&w, 0)) {
        check("waiter thread", false, NULL);
        return;
    }
    sleep_ms(500);
    check("the waiter is blocked (no event)", !atomic_load(&w.done), "returned %s, slot %lu", waiter_rv(&w),
          waiter_slot(&w));
    double t0 = now();
    CK_RV rv = F->C_Finalize(NULL);
    double took = now() - t0;
    check("C_Finalize while a thread waits: CKR_OK", rv == CKR_OK, "returned %s", p11c_rv_name(rv));
    bool woke = waiter_join(&w, 10000);
    check("C_Finalize wakes the blocked C_WaitForSlotEvent", woke, "still blocked 10 s after C_Finalize");
    if (woke)
        check("which returns CKR_CRYPTOKI_NOT_INITIALIZED", w.rv == CKR_CRYPTOKI_NOT_INITIALIZED, "returned %s",
              p11c_rv_name(w.rv));
    check("C_Finalize returns promptly", took < 6.0, "took %.2f s", took);
    if (!woke) {
        /* A thread stuck inside the module: nothing more can be done safely. */
        printf("%d passed, %d failed\n", passed, failed);
        fflush(stdout);
        _exit(1);
    }
}

/* ----------------------------------------------------------- coordinator */

static int coordinator(const char *self, const char *module)
{
    struct keys k = { 0 };
    p11c_watchdog(85);
    CK_RV rv = open_keys(&k);
    check("C_Initialize, token slot, login, keys 9A and 9C", rv == CKR_OK, "%s", p11c_rv_name(rv));
    if (rv != CKR_OK)
        goto out;

    CK_SLOT_ID s = (CK_SLOT_ID)-1;
    rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL);
    check("C_WaitForSlotEvent(CKF_DONT_BLOCK) with nothing happened: CKR_NO_EVENT", rv == CKR_NO_EVENT,
          "returned %s, slot %lu", p11c_rv_name(rv), s);

    /* The second process. */
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        check("pipes", false, "%s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char in[16], outfd[16];
        snprintf(in, sizeof(in), "%d", to_child[0]);
        snprintf(outfd, sizeof(outfd), "%d", from_child[1]);
        close(to_child[1]);
        close(from_child[0]);
        execl(self, "module_stress", "--worker", in, outfd, module, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    char line[128] = "";
    bool ready =
        pid > 0 && read_line(from_child[0], line, sizeof(line), scaled_ms(30000)) && strcmp(line, "ready") == 0;
    check("second process: initialised and logged in", ready, "said \"%s\"", line);
    if (!ready)
        goto reap;

    /* A waiter that must sleep through all the signing. */
    struct waiter w;
    bool waiting = waiter_start(&w, 0);
    sleep_ms(200);

    double t0 = now();
    bool went = write_line(to_child[1], "go\n");
    int ok, bad, wok = 0, wbad = 0;
    double secs, wsecs = 0;
    run_signers(&k, "main", &ok, &bad, &secs);
    /* The other process may still be signing, however long after ours. */
    bool child_done = went && read_line(from_child[0], line, sizeof(line), -1) &&
                      sscanf(line, "done %d %d %lf", &wok, &wbad, &wsecs) == 3;
    double took = now() - t0;
    check("second process finished signing", child_done, "said \"%s\"", line);
    printf("   %d + %d signatures in %.1f s (this process: %d threads, %.1f s; the other: %d threads, %.1f s)\n",
           ok + bad, wok + wbad, took, THREADS, secs, THREADS, wsecs);
    int each = THREADS * per_thread();
    check("this process: every signature made and verified", bad == 0 && ok == each, "%d verified, %d failed", ok,
          bad);
    check("second process: every signature made and verified", wbad == 0 && wok == each, "%d verified, %d failed",
          wok, wbad);
    char all[64];
    snprintf(all, sizeof(all), "%d signatures in all", 2 * each);
    check(all, ok + wok == 2 * each, "%d", ok + wok);
    check("no slot event during the signing", waiting && !atomic_load(&w.done),
          "C_WaitForSlotEvent returned %s, slot %lu", waiter_rv(&w), waiter_slot(&w));

    /* The other process ends its login and the module: ours goes on. */
    line[0] = 0;
    bool closed = write_line(to_child[1], "close\n") && read_line(from_child[0], line, sizeof(line), scaled_ms(20000));
    check("second process: C_CloseAllSessions and C_Finalize", closed && strcmp(line, "closed CKR_OK CKR_OK") == 0,
          "said \"%s\"", line);
    int status = 0;
    bool exited = waitpid(pid, &status, 0) == pid;
    pid = 0;
    check("second process exits cleanly", exited && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x",
          status);
    {
        static const uint8_t data[] = "after the other process logged out";
        uint8_t sig[512];
        CK_ULONG len = sizeof(sig);
        CK_SESSION_INFO info;
        rv = F->C_GetSessionInfo(k.login_session, &info);
        check("this process is still logged in", rv == CKR_OK && info.state == CKS_RO_USER_FUNCTIONS, "%s, state %lu",
              p11c_rv_name(rv), info.state);
        rv = p11c_sign(k.login_session, k.k9a, CKM_ECDSA_SHA256, false, data, sizeof(data), sig, &len);
        check("9A signature after the other process logged out", rv == CKR_OK, "C_Sign: %s", p11c_rv_name(rv));
        if (rv == CKR_OK)
            check("... verifies", p11c_verify(k.p9a, CKM_ECDSA_SHA256, data, sizeof(data), sig, len), NULL);
        len = sizeof(sig);
        rv = p11c_sign(k.login_session, k.k9c, CKM_SHA256_RSA_PKCS, true, data, sizeof(data), sig, &len);
        check("9C signature (context login) after the other process logged out", rv == CKR_OK, "%s",
              p11c_rv_name(rv));
        if (rv == CKR_OK)
            check("... verifies", p11c_verify(k.p9c, CKM_SHA256_RSA_PKCS, data, sizeof(data), sig, len), NULL);
    }

    if (waiting)
        hot_plug(k.slot, &w);
    dont_block_while_waiting(k.slot);
    fork_while_waiting(k.slot);
    close_keys(&k);
    finalize_wakes_waiter();
    goto done;

reap:
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
out:
    F->C_Finalize(NULL);
    close_keys(&k);
done:
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A process that is gone is a failed check, not a death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (argc == 5 && strcmp(argv[1], "--worker") == 0) {
        if (!p11c_load(argv[4]))
            return 1;
        return worker(atoi(argv[2]), atoi(argv[3]));
    }
    const char *module = p11c_module_path(argc > 1 ? argv[1] : NULL);
    if (!p11c_load(module))
        return 1;
    /* This program again, for the second process (not /proc/self/exe,
     * which under valgrind is valgrind). */
    return coordinator(strchr(argv[0], '/') ? argv[0] : "/proc/self/exe", module);
}
