/* The file sink (KYSO_AUDIT=file:PATH, audit/sink.c) as the module uses
 * it, without a token:
 * - one thread: every record is durable when audit_submit returns, with
 *   at most two flushes (the log, then the state) per record, and its
 *   receipt names its sequence number;
 * - 16 threads at once: the records share flushes (group commit): fewer
 *   flushes than records, every receipt names the record that holds its
 *   request, the chain verifies;
 * - a forked child writes through a writer of its own while the parent's
 *   threads go on, and the chain still verifies.
 * fdatasync is counted here: the writer calls this one. */
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"

static atomic_long flushes;

int fdatasync(int fd)
{
    atomic_fetch_add(&flushes, 1);
    return (int)syscall(SYS_fdatasync, fd);
}

#define THREADS 16
#define PER_THREAD 40

static char dir[64], log_path[128];
static uint8_t key0[AUDIT_KEY_LEN];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/kyso-sink-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(log_path, sizeof(log_path), "%s/audit.log", dir);
    char err[256];
    if (audit_chain_init(log_path, key0, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    char sink[160];
    snprintf(sink, sizeof(sink), "file:%s", log_path);
    assert_int_equal(audit_sink_configure(sink, 1500), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof(path), "%s.state", log_path);
    unlink(path);
    unlink(log_path);
    rmdir(dir);
    return 0;
}

static int submit(unsigned k, struct audit_receipt *receipt)
{
    uint8_t digest[32] = { 0 };
    memcpy(digest, &k, sizeof(k));
    struct audit_event ev = { .event = "sign",
                              .reader = "Unit Reader 00",
                              .token = "0123456789",
                              .key = "9A",
                              .mechanism = "CKM_ECDSA_SHA256",
                              .has_input = true,
                              .input_len = k,
                              .input_sha256 = digest,
                              .outcome = "CKR_OK" };
    char err[512];
    int rc = audit_submit(&ev, receipt, err, sizeof(err));
    if (rc != 0)
        print_error("audit_submit: %s\n", err);
    return rc;
}

/* The log's lines, in order (line n holds seq n: one file, no rotation). */
static char **read_lines(size_t *n)
{
    FILE *f = fopen(log_path, "re");
    assert_non_null(f);
    char **lines = NULL, buf[AUDIT_MAX_LINE + 2];
    *n = 0;
    while (fgets(buf, sizeof(buf), f)) {
        lines = realloc(lines, (*n + 1) * sizeof(*lines));
        assert_non_null(lines);
        lines[(*n)++] = strdup(buf);
    }
    fclose(f);
    return lines;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static void expect_verifies(uint64_t records)
{
    const char *files[] = { log_path };
    struct audit_verify_result res;
    if (audit_verify_files(files, 1, key0, NULL, &res) != 0)
        fail_msg("the log does not verify: record %llu: %s", (unsigned long long)res.bad_seq, res.reason);
    assert_int_equal(res.records, records);
}

/* The receipt names the record that holds its request. */
static void expect_receipt(char **lines, size_t n, const struct audit_receipt *r)
{
    assert_true(r->seq >= 1 && r->seq <= n);
    char want[64];
    snprintf(want, sizeof(want), "\"request\":\"%s\"", r->request);
    if (!strstr(lines[r->seq - 1], want))
        fail_msg("record %llu does not hold request %s", (unsigned long long)r->seq, r->request);
}

static void test_one_thread(void **state)
{
    (void)state;
    struct audit_receipt r[PER_THREAD];
    atomic_store(&flushes, 0);
    for (unsigned i = 0; i < PER_THREAD; i++) {
        assert_int_equal(submit(i, &r[i]), 0);
        assert_int_equal(r[i].seq, 2 + i); /* after log_start */
    }
    long f = atomic_load(&flushes);
    print_message("# one thread: %d records, %ld flushes\n", PER_THREAD, f);
    assert_true(f >= PER_THREAD && f <= 2 * PER_THREAD);
    size_t n;
    char **lines = read_lines(&n);
    assert_int_equal(n, 1 + PER_THREAD);
    for (unsigned i = 0; i < PER_THREAD; i++)
        expect_receipt(lines, n, &r[i]);
    free_lines(lines, n);
    expect_verifies(1 + PER_THREAD);
}

struct worker {
    pthread_t thread;
    unsigned index;
    int failed;
    struct audit_receipt r[PER_THREAD];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < PER_THREAD; i++)
        if (submit(w->index * 1000 + i, &w->r[i]) != 0)
            w->failed++;
    return NULL;
}

static void run_workers(struct worker *w)
{
    for (unsigned t = 0; t < THREADS; t++) {
        w[t] = (struct worker){ .index = t };
        assert_int_equal(pthread_create(&w[t].thread, NULL, worker_main, &w[t]), 0);
    }
    for (unsigned t = 0; t < THREADS; t++) {
        pthread_join(w[t].thread, NULL);
        assert_int_equal(w[t].failed, 0);
    }
}

static void test_group_commit(void **state)
{
    (void)state;
    static struct worker w[THREADS];
    atomic_store(&flushes, 0);
    run_workers(w);
    long f = atomic_load(&flushes);
    const long records = THREADS * PER_THREAD;
    print_message("# %d threads: %ld records, %ld flushes\n", THREADS, records, f);
    assert_true(f < records);
    size_t n;
    char **lines = read_lines(&n);
    assert_int_equal(n, 1 + (size_t)records);
    uint8_t *seen = calloc(n + 1, 1);
    assert_non_null(seen);
    for (unsigned t = 0; t < THREADS; t++)
        for (unsigned i = 0; i < PER_THREAD; i++) {
            expect_receipt(lines, n, &w[t].r[i]);
            assert_int_equal(seen[w[t].r[i].seq]++, 0); /* one record each */
        }
    free(seen);
    free_lines(lines, n);
    expect_verifies(1 + (uint64_t)records);
}

static void test_fork(void **state)
{
    (void)state;
    static struct worker w[THREADS];
    struct audit_receipt r;
    assert_int_equal(submit(1, &r), 0); /* the parent's writer is open */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int bad = 0;
        for (unsigned i = 0; i < 10; i++)
            bad += submit(5000 + i, &r) != 0;
        _exit(bad ? 1 : 0);
    }
    run_workers(w);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_verifies(1 + 1 + 10 + THREADS * PER_THREAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
