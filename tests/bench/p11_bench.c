/* p11_bench: one scenario of the side-by-side benchmark, through any
 * PKCS#11 module loaded by path, or through raw PC/SC APDUs (the floor).
 * Run inside tests/with-token by tests/bench/run-p11-bench.sh:
 *
 *   p11_bench (--module PATH | --raw) SCENARIO [ARGS]
 *     cold                 C_Initialize, open a session, find and read
 *                          CKA_VALUE of every certificate, close it
 *     sign ID              (after C_Initialize, C_OpenSession and a
 *                          C_FindObjects of every object) C_Login,
 *                          find the private key CKA_ID ID (hex), one
 *                          signature (context login if the key wants it)
 *     sigs N THREADS ID    (after login) N signatures with key ID, shared
 *                          among THREADS threads, each with its session
 *     idle SECONDS         a session open, nothing asked for SECONDS
 *     wait SECONDS [absent]  (raw only) until the reader has a card (none)
 *
 * Prints one JSON line: {"ok":true,"apdus":…,"ms":…,"cpu_ms":…,"rss_kb":…,
 * "ops":…} for the measured window (CPU time of this process, every
 * thread; peak RSS of the whole run), or {"ok":false,"why":"…"} (exit 3)
 * when the module cannot do the scenario. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11/pkcs11.h"
#include "tests/bench/p11_bench.h"

const unsigned char bench_data[] = "kyso benchmark: văn bản cần ký số";
const size_t bench_data_len = sizeof(bench_data) - 1;

/* ---- measurement ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* "stats" on the token's control socket: "apdus N bytes_in …". */
unsigned long bench_apdus(void)
{
    const char *path = getenv("KYSO_VTOKEN_CTL");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char answer[256];
    size_t got = 0;
    unsigned long n = 0;

    if (!path || strlen(path) >= sizeof(addr.sun_path))
        return 0;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 && write(fd, "stats\n", 6) == 6) {
        while (got < sizeof(answer) - 1) {
            ssize_t r = read(fd, answer + got, sizeof(answer) - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            if (memchr(answer, '\n', got))
                break;
        }
    }
    close(fd);
    answer[got] = '\0';
    if (sscanf(answer, "apdus %lu", &n) != 1)
        n = 0;
    return n;
}

void window_start(struct bench_window *w)
{
    w->a0 = bench_apdus();
    w->cpu0 = cpu_now();
    w->t0 = now();
}

void window_end(struct bench_window *w)
{
    w->ms = (now() - w->t0) * 1000;
    w->cpu_ms = (cpu_now() - w->cpu0) * 1000;
    w->apdus = bench_apdus() - w->a0;
}

const char *bench_pin(void)
{
    const char *p = getenv("KYSO_TEST_PIN");
    return p ? p : "123456";
}

void bench_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the PKCS#11 side ---- */

static CK_FUNCTION_LIST_PTR f;
static char why[256];

/* false (and why says which call) unless rv is CKR_OK. */
static bool ok(CK_RV rv, const char *call)
{
    if (rv == CKR_OK)
        return true;
    if (!why[0])
        snprintf(why, sizeof(why), "%s: 0x%08lx", call, (unsigned long)rv);
    return false;
}

static bool fail(const char *text)
{
    if (!why[0])
        snprintf(why, sizeof(why), "%s", text);
    return false;
}

static bool initialize(void)
{
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    return ok(f->C_Initialize(&args), "C_Initialize");
}

/* The first slot with a token. */
static bool first_slot(CK_SLOT_ID *slot)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    if (!ok(f->C_GetSlotList(CK_TRUE, slots, &n), "C_GetSlotList"))
        return false;
    if (n == 0)
        return fail("no slot with a token");
    *slot = slots[0];
    return true;
}

static bool open_session(CK_SESSION_HANDLE *s)
{
    CK_SLOT_ID slot;
    return first_slot(&slot) && ok(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, s), "C_OpenSession");
}

static bool login(CK_SESSION_HANDLE s, CK_USER_TYPE who)
{
    return ok(f->C_Login(s, who, (CK_UTF8CHAR_PTR)bench_pin(), strlen(bench_pin())),
              who == CKU_USER ? "C_Login(CKU_USER)" : "C_Login(CKU_CONTEXT_SPECIFIC)");
}

/* Objects matching the template, at most max. */
static bool find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG nt, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *n)
{
    return ok(f->C_FindObjectsInit(s, t, nt), "C_FindObjectsInit") &&
           ok(f->C_FindObjects(s, out, max, n), "C_FindObjects") && ok(f->C_FindObjectsFinal(s), "C_FindObjectsFinal");
}

static bool scenario_cold(struct bench_window *w, unsigned long *ops)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
    CK_OBJECT_HANDLE certs[64];
    CK_ULONG n = 0;

    window_start(w);
    if (!initialize() || !open_session(&s) || !find(s, &t, 1, certs, 64, &n))
        return false;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };
        if (!ok(f->C_GetAttributeValue(s, certs[i], &v, 1), "C_GetAttributeValue(CKA_VALUE, length)"))
            return false;
        v.pValue = malloc(v.ulValueLen ? v.ulValueLen : 1);
        bool got = v.pValue && ok(f->C_GetAttributeValue(s, certs[i], &v, 1), "C_GetAttributeValue(CKA_VALUE)");
        free(v.pValue);
        if (!got)
            return false;
    }
    if (!ok(f->C_CloseSession(s), "C_CloseSession"))
        return false;
    window_end(w);
    *ops = n;
    return n > 0 || fail("no certificate");
}

/* A private key by CKA_ID, its mechanism and whether it wants a context
 * login before each signature. */
struct key {
    CK_OBJECT_HANDLE h;
    CK_MECHANISM_TYPE mech;
    bool always;
};

static bool find_key(CK_SESSION_HANDLE s, uint8_t id, struct key *k)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, &id, 1 } };
    CK_ULONG n = 0;
    if (!find(s, t, 2, &k->h, 1, &n))
        return false;
    if (n != 1) {
        snprintf(why, sizeof(why), "no private key with CKA_ID %02x", id);
        return false;
    }
    CK_KEY_TYPE type = 0;
    CK_BBOOL always = CK_FALSE;
    CK_ATTRIBUTE a[] = { { CKA_KEY_TYPE, &type, sizeof(type) } };
    CK_ATTRIBUTE b[] = { { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) } };
    if (!ok(f->C_GetAttributeValue(s, k->h, a, 1), "C_GetAttributeValue(CKA_KEY_TYPE)"))
        return false;
    /* (A module without the attribute: no context login.) */
    if (f->C_GetAttributeValue(s, k->h, b, 1) != CKR_OK)
        always = CK_FALSE;
    k->mech = type == CKK_RSA ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256;
    k->always = always == CK_TRUE;
    return type == CKK_RSA || type == CKK_EC || fail("the key is neither RSA nor EC");
}

static bool sign_once(CK_SESSION_HANDLE s, const struct key *k)
{
    CK_MECHANISM m = { k->mech, NULL, 0 };
    uint8_t sig[1024];
    CK_ULONG len = sizeof(sig);
    return ok(f->C_SignInit(s, &m, k->h), "C_SignInit") && (!k->always || login(s, CKU_CONTEXT_SPECIFIC)) &&
           ok(f->C_Sign(s, (CK_BYTE_PTR)bench_data, bench_data_len, sig, &len), "C_Sign") &&
           (len > 0 || fail("an empty signature"));
}

static bool parse_id(const char *s, uint8_t *id)
{
    char *end;
    unsigned long v = strtoul(s, &end, 16);
    if (*end || end == s || v > 0xFF)
        return fail("a key ID is one byte in hex (01 = 9A, 02 = 9C, …)");
    *id = (uint8_t)v;
    return true;
}

/* What a client does before it logs in: look at the token's objects (a
 * module that reads them lazily reads them here, outside the window). */
static bool list_objects(CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE h[64];
    CK_ULONG n = 0;
    return find(s, NULL, 0, h, 64, &n);
}

static bool scenario_sign(const char *id_text, struct bench_window *w, unsigned long *ops)
{
    CK_SESSION_HANDLE s;
    struct key k;
    uint8_t id;
    if (!parse_id(id_text, &id) || !initialize() || !open_session(&s) || !list_objects(s))
        return false;
    window_start(w);
    if (!login(s, CKU_USER) || !find_key(s, id, &k) || !sign_once(s, &k))
        return false;
    window_end(w);
    *ops = 1;
    return true;
}

/* N signatures from THREADS threads, each in its own session: the clock
 * starts when every thread has found its key. */
struct signer {
    pthread_t thread;
    CK_SESSION_HANDLE s;
    struct key k;
    unsigned long n;
    bool ok;
};
static pthread_barrier_t start_line;

static void *signer_main(void *arg)
{
    struct signer *sg = arg;
    pthread_barrier_wait(&start_line);
    sg->ok = true;
    for (unsigned long i = 0; i < sg->n && sg->ok; i++)
        sg->ok = sign_once(sg->s, &sg->k);
    return NULL;
}

static bool scenario_sigs(unsigned long n, unsigned threads, const char *id_text, struct bench_window *w,
                          unsigned long *ops)
{
    struct signer sg[64];
    uint8_t id;
    if (threads == 0 || threads > 64 || n < threads)
        return fail("1 to 64 threads, at least one signature each");
    if (!parse_id(id_text, &id) || !initialize())
        return false;
    for (unsigned i = 0; i < threads; i++) {
        if (!open_session(&sg[i].s) || (i == 0 && !login(sg[0].s, CKU_USER)) || !find_key(sg[i].s, id, &sg[i].k))
            return false;
        sg[i].n = n / threads + (i < n % threads);
    }
    pthread_barrier_init(&start_line, NULL, threads + 1);
    for (unsigned i = 0; i < threads; i++)
        if (pthread_create(&sg[i].thread, NULL, signer_main, &sg[i]) != 0)
            return fail("pthread_create");
    window_start(w);
    pthread_barrier_wait(&start_line);
    bool all = true;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(sg[i].thread, NULL);
        all = all && sg[i].ok;
    }
    window_end(w);
    *ops = n;
    return all;
}

static bool scenario_idle(unsigned seconds, struct bench_window *w, unsigned long *ops)
{
    CK_SESSION_HANDLE s;
    if (!initialize() || !open_session(&s))
        return false;
    window_start(w);
    bench_sleep_ms(seconds * 1000);
    window_end(w);
    *ops = 0;
    return true;
}

static bool load(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR) = h ? (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList") : NULL;
    if (!get || get(&f) != CKR_OK) {
        snprintf(why, sizeof(why), "cannot load %s: %s", path, h ? "no C_GetFunctionList" : dlerror());
        return false;
    }
    return true;
}

static bool run_module(const char *scenario, int argc, char **argv, struct bench_window *w, unsigned long *ops)
{
    if (strcmp(scenario, "cold") == 0 && argc == 0)
        return scenario_cold(w, ops);
    if (strcmp(scenario, "sign") == 0 && argc == 1)
        return scenario_sign(argv[0], w, ops);
    if (strcmp(scenario, "sigs") == 0 && argc == 3)
        return scenario_sigs(strtoul(argv[0], NULL, 10), (unsigned)strtoul(argv[1], NULL, 10), argv[2], w, ops);
    if (strcmp(scenario, "idle") == 0 && argc == 1)
        return scenario_idle((unsigned)strtoul(argv[0], NULL, 10), w, ops);
    return fail("unknown scenario or wrong arguments");
}

/* A JSON string: the reasons are ours or a path, but quote what must be. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if ((unsigned char)*s >= 0x20)
            putchar(*s);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "--raw") != 0 && (strcmp(argv[1], "--module") != 0 || argc < 4))) {
        fputs("usage: p11_bench (--module PATH | --raw) cold | sign ID | sigs N THREADS ID | idle SECONDS | wait "
              "SECONDS [absent]\n",
              stderr);
        return 2;
    }
    bool raw = strcmp(argv[1], "--raw") == 0;
    int first = raw ? 2 : 3;
    struct bench_window w = { 0 };
    unsigned long ops = 0;
    bool done;
    if (raw)
        done = raw_run(argv[first], argc - first - 1, argv + first + 1, &w, &ops, why, sizeof(why)) == 0;
    else
        done = load(argv[2]) && run_module(argv[first], argc - first - 1, argv + first + 1, &w, &ops);
    if (!raw && f && done)
        f->C_Finalize(NULL);
    if (raw && strcmp(argv[first], "wait") == 0)
        return done ? 0 : 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (!done) {
        printf("{\"ok\":false,\"why\":");
        json_string(why[0] ? why : "failed");
        printf("}\n");
        return 3;
    }
    printf("{\"ok\":true,\"apdus\":%lu,\"ms\":%.3f,\"cpu_ms\":%.3f,\"rss_kb\":%ld,\"ops\":%lu}\n", w.apdus, w.ms,
           w.cpu_ms, ru.ru_maxrss, ops);
    return 0;
}
