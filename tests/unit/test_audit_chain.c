/* Unit tests of the audit trail (audit/): the writer, the verifier, the
 * forward-secure key schedule and the writer's crash recovery, on real
 * files in a private temporary directory (audit/README.md).
 *
 * - round trip: init, append (one by one and in a batch), verify;
 * - the verifier names the exact first broken record for an edit, a
 *   deleted, an inserted or a moved line, two swapped lines, a truncated
 *   tail (against the auditor's checkpoint) and a truncated last line;
 * - forward security: the writer's state after record n holds K(n+1) and
 *   nothing older; re-sealing any record up to n with it (or any key that
 *   can be computed from it) fails verification, while re-sealing with the
 *   true K(n) (the control) passes;
 * - crash recovery: records past the state are adopted, an incomplete last
 *   line is dropped, a record past the state that does not verify, a log
 *   shorter than its state and a damaged state make the writer refuse; a
 *   replaced state slot that a crash kept is erased by the next writer;
 * - rotation: the chain goes on across files, also for a writer opened
 *   before the rotation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "audit/internal.h"

/* ------------------------------------------------------------ fixture */

struct fx {
    char dir[64];
    char log[128], state[128];
    uint8_t key0[AUDIT_KEY_LEN];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->dir, sizeof(fx->dir), "%s/kyso-audit-XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->log, sizeof(fx->log), "%s/audit.log", fx->dir);
    snprintf(fx->state, sizeof(fx->state), "%s/audit.log.state", fx->dir);
    *state = fx;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* ----------------------------------------------------------- helpers */

static void sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
}

/* Appends count synthetic "sign" records, batch at a time, numbered from
 * first (the number goes into input_len and input_sha256). */
static int append_signs(struct audit_writer *w, unsigned first, size_t count, size_t batch, char *err, size_t errlen)
{
    struct audit_identity who;
    audit_identity_self(&who);
    while (count) {
        size_t n = count < batch ? count : batch;
        struct audit_event *ev = calloc(n, sizeof(*ev));
        const struct audit_event **evp = calloc(n, sizeof(*evp));
        const struct audit_identity **whop = calloc(n, sizeof(*whop));
        uint8_t(*digest)[32] = calloc(n, 32);
        assert_true(ev && evp && whop && digest);
        for (size_t i = 0; i < n; i++) {
            unsigned k = first + (unsigned)i;
            sha256(&k, sizeof(k), digest[i]);
            ev[i] = (struct audit_event){ .event = "sign",
                                          .reader = "Unit Reader 00",
                                          .token = "0123456789",
                                          .key = "9A",
                                          .mechanism = "CKM_ECDSA_SHA256",
                                          .has_input = true,
                                          .input_len = k,
                                          .input_sha256 = digest[i],
                                          .outcome = "CKR_OK" };
            evp[i] = &ev[i];
            whop[i] = &who;
        }
        int rc = audit_writer_append(w, evp, whop, n, err, errlen);
        free(ev);
        free(evp);
        free(whop);
        free(digest);
        if (rc != 0)
            return rc;
        first += (unsigned)n;
        count -= n;
    }
    return 0;
}

/* A new chain at fx->log with `records` records in all (log_start first). */
static void make_chain(struct fx *fx, size_t records)
{
    char err[600];
    struct audit_writer *w;
    assert_int_equal(audit_chain_init(fx->log, fx->key0, err, sizeof(err)), 0);
    if (records > 1) {
        if (audit_writer_open(fx->log, &w, err, sizeof(err)) != 0)
            fail_msg("open: %s", err);
        if (append_signs(w, 1, records - 1, 1, err, sizeof(err)) != 0)
            fail_msg("append: %s", err);
        audit_writer_close(w);
    }
}

/* Opens the log, appends `count` records; returns the writer's result (and
 * its reason in err). */
static int writer_append(const char *log, unsigned first, size_t count, char *err, size_t errlen)
{
    struct audit_writer *w;
    if (audit_writer_open(log, &w, err, errlen) != 0)
        return -1;
    int rc = append_signs(w, first, count, 1, err, errlen);
    audit_writer_close(w);
    return rc;
}

static int verify1(const struct fx *fx, const char *checkpoint, struct audit_verify_result *res)
{
    const char *files[] = { fx->log };
    return audit_verify_files(files, 1, fx->key0, checkpoint, res);
}

/* The checkpoint (SEQ:HASH) that a successful verification gives. */
static void checkpoint_of(const struct fx *fx, char *out, size_t cap)
{
    struct audit_verify_result res;
    assert_int_equal(verify1(fx, NULL, &res), 0);
    char hex[2 * AUDIT_HASH_LEN + 1];
    audit_hex(res.last_hash, sizeof(res.last_hash), hex);
    snprintf(out, cap, "%llu:%s", (unsigned long long)res.last_seq, hex);
}

/* Asserts that verification fails at record seq, line `line`, with a
 * reason containing `why`. */
static void expect_broken(const struct fx *fx, const char *checkpoint, uint64_t seq, size_t line, const char *why)
{
    struct audit_verify_result res;
    int rc = verify1(fx, checkpoint, &res);
    if (rc == 0)
        fail_msg("the verifier accepted a damaged log (%llu records)", (unsigned long long)res.records);
    if (res.bad_seq != seq || res.bad_line != line || !strstr(res.reason, why))
        fail_msg("broken at record %llu line %zu (%s); expected record %llu line %zu (%s)",
                 (unsigned long long)res.bad_seq, res.bad_line, res.reason, (unsigned long long)seq, line, why);
    assert_int_equal(res.records, seq - 1);
}

static void expect_ok(const struct fx *fx, uint64_t records)
{
    struct audit_verify_result res;
    int rc = verify1(fx, NULL, &res);
    if (rc != 0)
        fail_msg("verification failed at record %llu line %zu: %s", (unsigned long long)res.bad_seq, res.bad_line,
                 res.reason);
    assert_int_equal(res.records, records);
    assert_int_equal(res.last_seq, records);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void write_file(const char *path, const char *buf, size_t len)
{
    /* In place (same inode), as an attacker editing the file would. */
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* The log as lines (each with its newline, the last maybe without). */
struct lines {
    char *buf;
    size_t len;
    size_t n;
    char *at[4096];
    size_t size[4096];
};

static void lines_read(const char *path, struct lines *l)
{
    l->buf = read_file(path, &l->len);
    l->n = 0;
    for (size_t pos = 0; pos < l->len;) {
        char *nl = memchr(l->buf + pos, '\n', l->len - pos);
        size_t end = nl ? (size_t)(nl - l->buf) + 1 : l->len;
        assert_true(l->n < 4096);
        l->at[l->n] = l->buf + pos;
        l->size[l->n] = end - pos;
        l->n++;
        pos = end;
    }
}

/* Writes lines in the order given by idx (1-based line numbers). */
static void lines_write(const char *path, const struct lines *l, const size_t *idx, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += l->size[idx[i] - 1];
    char *out = malloc(total + 1);
    assert_non_null(out);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + pos, l->at[idx[i] - 1], l->size[idx[i] - 1]);
        pos += l->size[idx[i] - 1];
    }
    write_file(path, out, pos);
    free(out);
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *buf = read_file(from, &len);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(buf);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* K(n) from the auditor's key K(0). */
static void key_at(const uint8_t key0[AUDIT_KEY_LEN], uint64_t n, uint8_t out[AUDIT_KEY_LEN])
{
    memcpy(out, key0, AUDIT_KEY_LEN);
    for (uint64_t i = 0; i < n; i++)
        audit_evolve(out);
}

static void read_state(const char *state_path, struct audit_state *st)
{
    int fd = open(state_path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(audit_state_read(fd, st), 0);
    close(fd);
}

/* Re-seals a line (without its newline) with key: a new MAC over the body. */
static void reseal(char *line, size_t len, const uint8_t key[AUDIT_KEY_LEN])
{
    static const char tag[] = ",\"mac\":\"";
    size_t body = len - 2 - 64 - (sizeof(tag) - 1);
    assert_memory_equal(line + body, tag, sizeof(tag) - 1);
    uint8_t mac[AUDIT_HASH_LEN];
    char hex[2 * AUDIT_HASH_LEN + 1];
    audit_mac(key, (const uint8_t *)line, body, mac);
    audit_hex(mac, sizeof(mac), hex);
    memcpy(line + body + sizeof(tag) - 1, hex, 64);
}

/* Changes "input_len":N of a line into another number of the same width. */
static void edit_input_len(char *line, size_t len)
{
    char *p = memmem(line, len, "\"input_len\":", 12);
    assert_non_null(p);
    p += 12;
    *p = *p == '9' ? '8' : (char)(*p + 1);
}

/* ------------------------------------------------------------- tests */

static void test_round_trip(void **state)
{
    struct fx *fx = *state;
    char err[600];
    struct audit_writer *w;

    assert_int_equal(audit_chain_init(fx->log, fx->key0, err, sizeof(err)), 0);
    /* The log must not exist yet: init never overwrites a chain. */
    uint8_t other[AUDIT_KEY_LEN];
    assert_int_not_equal(audit_chain_init(fx->log, other, err, sizeof(err)), 0);
    expect_ok(fx, 1);

    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    assert_int_equal(append_signs(w, 1, 10, 1, err, sizeof(err)), 0); /* one by one */
    assert_int_equal(append_signs(w, 11, 7, 7, err, sizeof(err)), 0); /* one group commit */
    audit_writer_close(w);
    expect_ok(fx, 18);

    /* The records as documented: seq 1..18, log_start first, prev of
     * record 1 is 64 zeros, prev of each next one the hash of its line. */
    struct lines l;
    lines_read(fx->log, &l);
    assert_int_equal(l.n, 18);
    uint8_t prev[AUDIT_HASH_LEN] = { 0 };
    for (size_t i = 0; i < l.n; i++) {
        char head[64], link[128], hex[65];
        snprintf(head, sizeof(head), "{\"v\":1,\"seq\":%zu,\"time\":\"", i + 1);
        assert_memory_equal(l.at[i], head, strlen(head));
        assert_true(l.at[i][l.size[i] - 1] == '\n');
        audit_hex(prev, sizeof(prev), hex);
        snprintf(link, sizeof(link), ",\"prev\":\"%s\",\"mac\":\"", hex);
        assert_non_null(memmem(l.at[i], l.size[i], link, strlen(link)));
        const char *event = i == 0 ? "\"event\":\"log_start\"," : "\"event\":\"sign\",";
        assert_non_null(memmem(l.at[i], l.size[i], event, strlen(event)));
        audit_line_hash(l.at[i], l.size[i] - 1, prev);
    }
    free(l.buf);

    /* The writer's state: the next record is 19, sealed with K(19). */
    struct audit_state st;
    uint8_t k19[AUDIT_KEY_LEN];
    read_state(fx->state, &st);
    key_at(fx->key0, 19, k19);
    assert_int_equal(st.next_seq, 19);
    assert_memory_equal(st.key, k19, AUDIT_KEY_LEN);
    assert_memory_equal(st.prev, prev, AUDIT_HASH_LEN);
    assert_int_equal(st.log_size, (uint64_t)file_size(fx->log));

    /* The wrong key: broken at record 1. */
    struct audit_verify_result res;
    const char *files[] = { fx->log };
    uint8_t wrong[AUDIT_KEY_LEN];
    memcpy(wrong, fx->key0, sizeof(wrong));
    wrong[0] ^= 1;
    assert_int_not_equal(audit_verify_files(files, 1, wrong, NULL, &res), 0);
    assert_int_equal(res.bad_seq, 1);
    /* A checkpoint that is not SEQ:HASH is refused. */
    assert_int_not_equal(verify1(fx, "12", &res), 0);
    /* The checkpoint of the last verification holds. */
    char cp[128];
    checkpoint_of(fx, cp, sizeof(cp));
    assert_int_equal(verify1(fx, cp, &res), 0);
}

static void test_edit(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 12);
    struct lines l;
    lines_read(fx->log, &l);
    edit_input_len(l.at[6], l.size[6]); /* record 7 */
    write_file(fx->log, l.buf, l.len);
    expect_broken(fx, NULL, 7, 7, "MAC");
    free(l.buf);
}

static void test_edit_prev(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 12);
    struct lines l;
    lines_read(fx->log, &l);
    char *p = memmem(l.at[3], l.size[3], "\"prev\":\"", 8);
    assert_non_null(p);
    p[8] = p[8] == '0' ? '1' : '0';
    write_file(fx->log, l.buf, l.len);
    expect_broken(fx, NULL, 4, 4, "MAC");
    free(l.buf);
}

static void test_deleted_line(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 12);
    struct lines l;
    lines_read(fx->log, &l);
    size_t idx[] = { 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12 }; /* record 5 gone */
    lines_write(fx->log, &l, idx, 11);
    expect_broken(fx, NULL, 5, 5, "sequence");
    free(l.buf);
}

static void test_deleted_first_line(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 6);
    struct lines l;
    lines_read(fx->log, &l);
    size_t idx[] = { 2, 3, 4, 5, 6 };
    lines_write(fx->log, &l, idx, 5);
    expect_broken(fx, NULL, 1, 1, "sequence");
    free(l.buf);
}

static void test_inserted_line(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 12);
    struct lines l;
    lines_read(fx->log, &l);
    /* A copy of record 3 inserted after record 8: line 9 is not record 9. */
    size_t idx[] = { 1, 2, 3, 4, 5, 6, 7, 8, 3, 9, 10, 11, 12 };
    lines_write(fx->log, &l, idx, 13);
    expect_broken(fx, NULL, 9, 9, "sequence");
    /* A duplicate right after the original. */
    size_t dup[] = { 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12 };
    lines_write(fx->log, &l, dup, 13);
    expect_broken(fx, NULL, 6, 6, "sequence");
    free(l.buf);
}

/* An inserted record that claims the right sequence number and carries the
 * right chain link, sealed with a key the forger does not have. */
static void test_inserted_forgery(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 8);
    struct lines l;
    lines_read(fx->log, &l);
    /* Record 5 becomes a forged record 5; the old 5..8 follow. */
    size_t n = l.size[4];
    char *forged = malloc(n);
    assert_non_null(forged);
    memcpy(forged, l.at[4], n);
    edit_input_len(forged, n);
    uint8_t guess[AUDIT_KEY_LEN];
    memset(guess, 0x5a, sizeof(guess));
    reseal(forged, n - 1, guess);
    char *out = malloc(l.len + n);
    assert_non_null(out);
    size_t before = (size_t)(l.at[4] - l.buf);
    memcpy(out, l.buf, before);
    memcpy(out + before, forged, n);
    memcpy(out + before + n, l.at[4], l.len - before);
    write_file(fx->log, out, l.len + n);
    expect_broken(fx, NULL, 5, 5, "MAC");
    free(out);
    free(forged);
    free(l.buf);
}

static void test_swapped_lines(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 12);
    struct lines l;
    lines_read(fx->log, &l);
    size_t idx[] = { 1, 2, 3, 9, 5, 6, 7, 8, 4, 10, 11, 12 };
    lines_write(fx->log, &l, idx, 12);
    expect_broken(fx, NULL, 4, 4, "sequence");
    /* Two neighbours. */
    size_t adj[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 11 };
    lines_write(fx->log, &l, adj, 12);
    expect_broken(fx, NULL, 11, 11, "sequence");
    free(l.buf);
}

static void test_truncated_tail(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 12);
    char cp[128];
    checkpoint_of(fx, cp, sizeof(cp)); /* the auditor saw 12 records */
    struct lines l;
    lines_read(fx->log, &l);
    size_t idx[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    lines_write(fx->log, &l, idx, 9);
    /* Without the checkpoint a clean cut cannot be seen (README: truncation
     * is detected against the auditor's last checkpoint)... */
    expect_ok(fx, 9);
    /* ...with it, it is: record 10 is missing. */
    expect_broken(fx, cp, 10, 0, "ends before the checkpoint");
    /* Only the last record removed. */
    size_t one[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    lines_write(fx->log, &l, one, 11);
    expect_broken(fx, cp, 12, 0, "ends before the checkpoint");
    /* The checkpoint's record replaced by another one (record 12 edited
     * and re-sealed with the true key, which only the auditor has: the
     * checkpoint still tells). */
    char *last = l.at[11];
    size_t n = l.size[11];
    edit_input_len(last, n);
    uint8_t k12[AUDIT_KEY_LEN];
    key_at(fx->key0, 12, k12);
    reseal(last, n - 1, k12);
    write_file(fx->log, l.buf, l.len);
    expect_ok(fx, 12);
    expect_broken(fx, cp, 12, 12, "checkpoint's record has changed");
    free(l.buf);
}

static void test_truncated_last_line(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 10);
    size_t len;
    char *buf = read_file(fx->log, &len);
    /* Cut in the middle of record 10. */
    char *last = (char *)memrchr(buf, '\n', len - 1) + 1;
    size_t cut = (size_t)(last - buf) + (len - (size_t)(last - buf)) / 2;
    write_file(fx->log, buf, cut);
    expect_broken(fx, NULL, 10, 10, "incomplete");
    /* Only its newline missing. */
    write_file(fx->log, buf, len - 1);
    expect_broken(fx, NULL, 10, 10, "incomplete");
    /* Cut right after "{": still record 10's line. */
    write_file(fx->log, buf, (size_t)(last - buf) + 1);
    expect_broken(fx, NULL, 10, 10, "incomplete");
    free(buf);
}

/* Every byte of a record counts: also the letters of its MAC, which are
 * written in lower case. A record whose MAC is written in upper case is
 * not the line that was sealed (its hash, the next record's link and the
 * auditor's checkpoint differ), so the verifier must not accept it either,
 * and must name that record, not the next one. */
static void test_mac_hex_case(void **state)
{
    struct fx *fx = *state;
    make_chain(fx, 6);
    struct lines l;
    lines_read(fx->log, &l);
    for (size_t rec = 4; rec <= 6; rec += 2) {
        char *mac = memmem(l.at[rec - 1], l.size[rec - 1], ",\"mac\":\"", 8);
        assert_non_null(mac);
        mac += 8;
        size_t i = 0;
        while (i < 64 && !(mac[i] >= 'a' && mac[i] <= 'f'))
            i++;
        assert_true(i < 64); /* 64 digits without a letter: 2^-42 */
        char saved = mac[i];
        mac[i] = (char)(mac[i] - 'a' + 'A');
        write_file(fx->log, l.buf, l.len);
        expect_broken(fx, NULL, rec, rec, "");
        mac[i] = saved;
    }
    free(l.buf);
}

/* No 32 bytes of the state file, taken as a key and evolved any number of
 * times, give one of K(0) … K(last): whoever takes the state after record
 * `last` cannot seal anything up to it. */
static void state_holds_no_past_key(const struct fx *fx, uint64_t last)
{
    uint8_t(*past)[AUDIT_KEY_LEN] = calloc(last + 1, AUDIT_KEY_LEN);
    assert_non_null(past);
    for (uint64_t i = 0; i <= last; i++)
        key_at(fx->key0, i, past[i]);
    size_t slen;
    char *sbuf = read_file(fx->state, &slen);
    for (size_t off = 0; off + AUDIT_KEY_LEN <= slen; off++) {
        uint8_t cand[AUDIT_KEY_LEN];
        memcpy(cand, sbuf + off, AUDIT_KEY_LEN);
        for (uint64_t j = 0; j <= last + 1; j++, audit_evolve(cand))
            for (uint64_t i = 0; i <= last; i++)
                if (memcmp(cand, past[i], AUDIT_KEY_LEN) == 0) {
                    free(sbuf);
                    free(past);
                    fail_msg("the state file after record %llu holds K(%llu) at byte %zu (evolved %llu times): "
                             "whoever takes the state can re-seal record %llu",
                             (unsigned long long)last, (unsigned long long)i, off, (unsigned long long)j,
                             (unsigned long long)i);
                }
    }
    free(sbuf);
    free(past);
}

/* The writer's state after record n holds K(n+1), and K(n+1) cannot seal
 * anything up to record n: an intruder who takes the state can neither
 * rewrite nor replace earlier records. */
static void test_forward_security(void **state)
{
    struct fx *fx = *state;
    enum { N = 20 };
    make_chain(fx, N);
    char cp[128];
    checkpoint_of(fx, cp, sizeof(cp));

    struct audit_state st;
    read_state(fx->state, &st);
    assert_int_equal(st.next_seq, N + 1);
    uint8_t k[AUDIT_KEY_LEN];
    key_at(fx->key0, N + 1, k);
    assert_memory_equal(st.key, k, AUDIT_KEY_LEN);

    size_t len;
    char *orig = read_file(fx->log, &len);
    struct lines l;
    for (uint64_t rec = 2; rec <= N; rec += 6) {
        if (rec > N - 2)
            rec = N; /* the last one too */
        /* The intruder edits record rec and re-seals it with the state's
         * key and with the keys that follow from it (K(n+1) … K(n+8)). */
        uint8_t attempt[AUDIT_KEY_LEN];
        memcpy(attempt, st.key, AUDIT_KEY_LEN);
        for (int j = 0; j < 8; j++) {
            write_file(fx->log, orig, len);
            lines_read(fx->log, &l);
            edit_input_len(l.at[rec - 1], l.size[rec - 1]);
            reseal(l.at[rec - 1], l.size[rec - 1] - 1, attempt);
            write_file(fx->log, l.buf, l.len);
            expect_broken(fx, NULL, rec, rec, "MAC");
            free(l.buf);
            audit_evolve(attempt);
        }
        /* The control: with the true K(rec) the same re-sealing passes the
         * MAC, and what is left is the next record's chain link (or, for
         * the last record, only the auditor's checkpoint). So the failures
         * above are the key's, not the procedure's. */
        write_file(fx->log, orig, len);
        lines_read(fx->log, &l);
        edit_input_len(l.at[rec - 1], l.size[rec - 1]);
        key_at(fx->key0, rec, k);
        reseal(l.at[rec - 1], l.size[rec - 1] - 1, k);
        write_file(fx->log, l.buf, l.len);
        if (rec < N)
            expect_broken(fx, NULL, rec + 1, rec + 1, "chain is broken");
        else {
            expect_ok(fx, N);
            expect_broken(fx, cp, N, N, "checkpoint");
        }
        free(l.buf);
        if (rec == N)
            break;
    }
    write_file(fx->log, orig, len);
    expect_ok(fx, N);
    free(orig);

    /* Nothing in the state file leads to a key already used, after
     * single appends and after a group commit. */
    state_holds_no_past_key(fx, N);
    char err[600];
    struct audit_writer *w;
    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    assert_int_equal(append_signs(w, 100, 10, 10, err, sizeof(err)), 0);
    audit_writer_close(w);
    state_holds_no_past_key(fx, N + 10);
}

/* A writer that crashed after its records were durable but before its
 * state moved on (simulated by putting an older state file back): the
 * next writer adopts the records and carries on. */
static void test_recovery_adopts(void **state)
{
    struct fx *fx = *state;
    char err[600], saved[160];
    make_chain(fx, 5);
    snprintf(saved, sizeof(saved), "%s.saved", fx->state);
    copy_file(fx->state, saved);
    assert_int_equal(writer_append(fx->log, 100, 4, err, sizeof(err)), 0); /* records 6..9 */
    copy_file(saved, fx->state);
    struct audit_state st;
    read_state(fx->state, &st);
    assert_int_equal(st.next_seq, 6);

    /* Nobody was told records 6..9 are durable: each is adopted and
     * withheld (10..13, repeating what they were), then record 14. */
    if (writer_append(fx->log, 200, 1, err, sizeof(err)) != 0)
        fail_msg("the writer did not adopt the records past its state: %s", err);
    expect_ok(fx, 14);
    read_state(fx->state, &st);
    assert_int_equal(st.next_seq, 15);
    assert_int_equal(st.log_size, (uint64_t)file_size(fx->log));
    /* The adopted records are unchanged (record 9 still has input 103). */
    struct lines l;
    lines_read(fx->log, &l);
    assert_non_null(memmem(l.at[8], l.size[8], "\"input_len\":103,", 16));
    for (int i = 0; i < 4; i++) {
        char ref[32], input[32];
        snprintf(ref, sizeof(ref), "\"ref_seq\":%d", 6 + i);
        snprintf(input, sizeof(input), "\"input_len\":%d,", 100 + i);
        assert_non_null(memmem(l.at[9 + i], l.size[9 + i], "\"event\":\"withheld\"", 18));
        assert_non_null(memmem(l.at[9 + i], l.size[9 + i], ref, strlen(ref)));
        assert_non_null(memmem(l.at[9 + i], l.size[9 + i], input, strlen(input)));
    }
    assert_non_null(memmem(l.at[13], l.size[13], "\"input_len\":200,", 16));
    free(l.buf);

    /* Rotation recovers the same way. */
    copy_file(fx->state, saved);
    assert_int_equal(writer_append(fx->log, 300, 2, err, sizeof(err)), 0); /* 15, 16 */
    copy_file(saved, fx->state);
    char archive[160];
    snprintf(archive, sizeof(archive), "%s/audit.log.1", fx->dir);
    struct audit_writer *w;
    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    if (audit_writer_rotate(w, archive, err, sizeof(err)) != 0)
        fail_msg("rotate: %s", err);
    audit_writer_close(w);
    const char *files[] = { archive, fx->log };
    struct audit_verify_result res;
    assert_int_equal(audit_verify_files(files, 2, fx->key0, NULL, &res), 0);
    assert_int_equal(res.records, 19); /* 15, 16 withheld in the archive (17, 18), then log_continue */
}

/* The writer was killed in the middle of a record: the incomplete line
 * (whose signature was never released) is dropped. */
static void test_recovery_drops_incomplete_line(void **state)
{
    struct fx *fx = *state;
    char err[600];
    make_chain(fx, 5);
    size_t len;
    char *buf = read_file(fx->log, &len);
    off_t before = file_size(fx->log);
    static const char partial[] = "{\"v\":1,\"seq\":6,\"time\":\"2026-01-01T00:00:00.000Z\",\"event\":\"sign\",\"ho";
    FILE *f = fopen(fx->log, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(partial, 1, sizeof(partial) - 1, f), sizeof(partial) - 1);
    assert_int_equal(fclose(f), 0);
    expect_broken(fx, NULL, 6, 6, "incomplete");

    if (writer_append(fx->log, 50, 1, err, sizeof(err)) != 0)
        fail_msg("the writer did not recover: %s", err);
    expect_ok(fx, 6);
    size_t len2;
    char *buf2 = read_file(fx->log, &len2);
    assert_true(len2 > (size_t)before);
    assert_memory_equal(buf2, buf, len); /* what was there is unchanged */
    assert_null(memmem(buf2, len2, "\"ho{", 4));
    assert_non_null(memmem(buf2 + len, len2 - len, "{\"v\":1,\"seq\":6,", 15));
    free(buf);
    free(buf2);

    /* Complete records past the state and an incomplete one after them. */
    char saved[160];
    snprintf(saved, sizeof(saved), "%s.saved", fx->state);
    copy_file(fx->state, saved);
    assert_int_equal(writer_append(fx->log, 60, 3, err, sizeof(err)), 0); /* 7, 8, 9 */
    copy_file(saved, fx->state);
    f = fopen(fx->log, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite("{\"v\":1,\"seq\":10,", 1, 16, f), 16);
    assert_int_equal(fclose(f), 0);
    if (writer_append(fx->log, 70, 1, err, sizeof(err)) != 0)
        fail_msg("the writer did not recover: %s", err);
    expect_ok(fx, 13); /* 7..9 adopted and withheld (10..12), then 13 */
}

/* A record past the state that does not verify with the state's key: not
 * a crashed write but tampering; the writer refuses (fail closed) and
 * leaves the log as it is. */
static void test_recovery_refuses_bad_record(void **state)
{
    struct fx *fx = *state;
    char err[600], saved[160];
    make_chain(fx, 5);
    snprintf(saved, sizeof(saved), "%s.saved", fx->state);
    copy_file(fx->state, saved);
    assert_int_equal(writer_append(fx->log, 10, 3, err, sizeof(err)), 0); /* 6, 7, 8 */
    copy_file(saved, fx->state);
    struct lines l;
    lines_read(fx->log, &l);
    edit_input_len(l.at[6], l.size[6]); /* record 7, past the state */
    write_file(fx->log, l.buf, l.len);
    off_t size = file_size(fx->log);

    err[0] = '\0';
    assert_int_not_equal(writer_append(fx->log, 20, 1, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "does not verify"));
    assert_int_equal(file_size(fx->log), size);
    /* Every later attempt too. */
    assert_int_not_equal(writer_append(fx->log, 21, 1, err, sizeof(err)), 0);
    assert_int_equal(file_size(fx->log), size);
    free(l.buf);
}

static void test_recovery_refuses_replayed_record(void **state)
{
    struct fx *fx = *state;
    char err[600];
    make_chain(fx, 5);
    struct lines l;
    lines_read(fx->log, &l);
    /* A copy of record 5 appended after it. */
    FILE *f = fopen(fx->log, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(l.at[4], 1, l.size[4], f), l.size[4]);
    assert_int_equal(fclose(f), 0);
    off_t size = file_size(fx->log);
    assert_int_not_equal(writer_append(fx->log, 20, 1, err, sizeof(err)), 0);
    assert_int_equal(file_size(fx->log), size);
    /* Garbage past the state. */
    write_file(fx->log, l.buf, l.len);
    f = fopen(fx->log, "ab");
    assert_non_null(f);
    fputs("hello\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_not_equal(writer_append(fx->log, 20, 1, err, sizeof(err)), 0);
    free(l.buf);
}

/* A log shorter than its state: records were removed; the writer refuses. */
static void test_recovery_refuses_short_log(void **state)
{
    struct fx *fx = *state;
    char err[600];
    make_chain(fx, 6);
    struct lines l;
    lines_read(fx->log, &l);
    size_t idx[] = { 1, 2, 3, 4, 5 };
    lines_write(fx->log, &l, idx, 5);
    off_t size = file_size(fx->log);
    err[0] = '\0';
    assert_int_not_equal(writer_append(fx->log, 20, 1, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "shorter"));
    assert_int_equal(file_size(fx->log), size);
    /* Also by one byte (the last newline). */
    write_file(fx->log, l.buf, l.len - 1);
    assert_int_not_equal(writer_append(fx->log, 20, 1, err, sizeof(err)), 0);
    assert_int_equal(file_size(fx->log), (off_t)l.len - 1);
    free(l.buf);
}

/* The state file: a torn write is survived (the slot being written is torn,
 * the other still holds the previous state, one record behind, and the
 * record past it is adopted); a damaged state, or none, makes the writer
 * refuse. Once a new state is durable the other slot is destroyed (it
 * holds the previous key: forward security), so a torn write can only ever
 * hit the slot being written. */
static void test_damaged_state(void **state)
{
    struct fx *fx = *state;
    char err[600];
    make_chain(fx, 4);
    assert_int_equal(writer_append(fx->log, 10, 1, err, sizeof(err)), 0); /* 5 */
    struct audit_state st;
    read_state(fx->state, &st);
    assert_int_equal(st.next_seq, 6);

    size_t len;
    char *orig = read_file(fx->state, &len);
    assert_int_equal(len, 512);
    int live = memcmp(orig, "KYAS", 4) == 0 ? 0 : 1;
    assert_memory_equal(orig + 256 * live, "KYAS", 4);
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(orig[256 * (1 - live) + i], 0); /* the other slot destroyed */
    char *torn = malloc(len);
    assert_non_null(torn);
    /* Record 6 is written, then its state write is torn. */
    assert_int_equal(writer_append(fx->log, 11, 1, err, sizeof(err)), 0);
    memcpy(torn, orig, len);
    memset(torn + 256 * (1 - live) + 100, 0xEE, 20);
    memcpy(torn + 256 * (1 - live), "KYAS", 4);
    write_file(fx->state, torn, len);
    if (writer_append(fx->log, 12, 1, err, sizeof(err)) != 0)
        fail_msg("a torn state write was not survived: %s", err);
    expect_ok(fx, 8); /* record 6 adopted and withheld (7), then 8 */

    /* Both slots damaged. */
    memcpy(torn, orig, len);
    memset(torn + 100, 0xEE, 20);
    memset(torn + 256 + 100, 0xEE, 20);
    write_file(fx->state, torn, len);
    off_t size = file_size(fx->log);
    assert_int_not_equal(writer_append(fx->log, 20, 1, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "damaged"));
    assert_int_equal(file_size(fx->log), size);
    /* Empty. */
    write_file(fx->state, torn, 0);
    assert_int_not_equal(writer_append(fx->log, 12, 1, err, sizeof(err)), 0);
    /* Missing. */
    assert_int_equal(unlink(fx->state), 0);
    struct audit_writer *w;
    assert_int_not_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    assert_int_equal(file_size(fx->log), size);
    expect_ok(fx, 8);
    free(torn);
    free(orig);
}

/* A new state is flushed once; the slot it replaces is erased after that
 * flush, and the erasure reaches the disk with the next one. A crash in
 * between leaves both slots readable: the newer one is the state, and the
 * next writer to open the log erases the older one (it holds a key of a
 * record already written). */
static void test_stale_slot_erased(void **state)
{
    struct fx *fx = *state;
    char err[600];
    make_chain(fx, 3);
    size_t len;
    char *before = read_file(fx->state, &len);
    assert_int_equal(len, 512);
    int old_live = memcmp(before, "KYAS", 4) == 0 ? 0 : 1;
    assert_int_equal(writer_append(fx->log, 10, 1, err, sizeof(err)), 0); /* 4 */
    char *after = read_file(fx->state, &len);
    assert_int_equal(len, 512);
    assert_memory_equal(after + 256 * (1 - old_live), "KYAS", 4);
    /* The erasure of the older slot lost in a crash. */
    memcpy(after + 256 * old_live, before + 256 * old_live, 256);
    write_file(fx->state, after, len);
    struct audit_state st;
    read_state(fx->state, &st);
    assert_int_equal(st.next_seq, 5); /* the newer slot is the state */
    struct audit_writer *w;
    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    audit_writer_close(w);
    char *settled = read_file(fx->state, &len);
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(settled[256 * old_live + i], 0); /* erased on opening */
    assert_memory_equal(settled + 256 * (1 - old_live), after + 256 * (1 - old_live), 256);
    assert_int_equal(writer_append(fx->log, 11, 1, err, sizeof(err)), 0); /* 5 */
    expect_ok(fx, 5);
    free(settled);
    free(after);
    free(before);
}

/* A self-signed P-256 certificate for CN, with a title and an O. */
static unsigned char *make_cert(const char *cn, int *len)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_true(key && x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "title", MBSTRING_UTF8, (const unsigned char *)"Chánh Văn phòng", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Sở Nội vụ", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    *len = i2d_X509(x, &der);
    assert_true(*len > 0);
    X509_free(x);
    EVP_PKEY_free(key);
    return der;
}

static char *cert_json(const unsigned char *der, int len)
{
    struct audit_event ev = { .event = "sign", .cert_der = der, .cert_len = (size_t)len, .outcome = "CKR_OK" };
    json_object *o = audit_record_object(&ev, NULL, 1, NULL), *cert;
    assert_true(json_object_object_get_ex(o, "cert", &cert));
    char *text = strdup(json_object_to_json_string_ext(cert, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return text;
}

/* The fields of a certificate are the same whether parsed for this record
 * or kept from an earlier one, and never another certificate's. */
static void test_cert_fields_kept(void **state)
{
    (void)state;
    int la, lb;
    unsigned char *a = make_cert("Nguyễn Văn A", &la), *b = make_cert("Trần Thị B", &lb);
    char *a1 = cert_json(a, la), *b1 = cert_json(b, lb), *a2 = cert_json(a, la), *b2 = cert_json(b, lb);
    assert_string_equal(a1, a2);
    assert_string_equal(b1, b2);
    assert_string_not_equal(a1, b1);
    assert_non_null(strstr(a1, "\"subject\":\"O=Sở Nội vụ,title=Chánh Văn phòng,CN=Nguyễn Văn A\""));
    assert_non_null(strstr(a1, "\"organization\":\"Sở Nội vụ\""));
    assert_non_null(strstr(b2, "CN=Trần Thị B"));
    uint8_t md[32];
    char hex[65], want[80];
    sha256(a, (size_t)la, md);
    audit_hex(md, 32, hex);
    snprintf(want, sizeof(want), "{\"sha256\":\"%s\"", hex);
    assert_memory_equal(a2, want, strlen(want));
    free(a1);
    free(a2);
    free(b1);
    free(b2);
    OPENSSL_free(a);
    OPENSSL_free(b);
}

static void test_rotation(void **state)
{
    struct fx *fx = *state;
    char err[600], a1[160], a2[160];
    struct audit_writer *w;
    struct audit_verify_result res;
    make_chain(fx, 3);
    snprintf(a1, sizeof(a1), "%s/audit.log.1", fx->dir);
    snprintf(a2, sizeof(a2), "%s/audit.log.2", fx->dir);

    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    assert_int_equal(audit_writer_rotate(w, a1, err, sizeof(err)), 0); /* 4: log_continue */
    assert_int_equal(append_signs(w, 10, 3, 1, err, sizeof(err)), 0);  /* 5, 6, 7 */
    assert_int_equal(audit_writer_rotate(w, a2, err, sizeof(err)), 0); /* 8 */
    assert_int_equal(append_signs(w, 20, 2, 2, err, sizeof(err)), 0);  /* 9, 10 */
    audit_writer_close(w);

    const char *files[] = { a1, a2, fx->log };
    if (audit_verify_files(files, 3, fx->key0, NULL, &res) != 0)
        fail_msg("broken at record %llu: %s", (unsigned long long)res.bad_seq, res.reason);
    assert_int_equal(res.records, 10);
    struct lines l;
    lines_read(fx->log, &l);
    assert_int_equal(l.n, 3);
    assert_non_null(memmem(l.at[0], l.size[0], "{\"v\":1,\"seq\":8,", 15));
    assert_non_null(memmem(l.at[0], l.size[0], "\"event\":\"log_continue\"", 22));
    free(l.buf);
    /* The checkpoint carries over files. */
    char hex[65], cp[128];
    audit_hex(res.last_hash, sizeof(res.last_hash), hex);
    snprintf(cp, sizeof(cp), "%llu:%s", (unsigned long long)res.last_seq, hex);
    assert_int_equal(audit_verify_files(files, 3, fx->key0, cp, &res), 0);

    /* Files out of order, one missing, or the newest alone. */
    const char *swapped[] = { a2, a1, fx->log };
    assert_int_not_equal(audit_verify_files(swapped, 3, fx->key0, NULL, &res), 0);
    assert_int_equal(res.bad_seq, 1);
    const char *gap[] = { a1, fx->log };
    assert_int_not_equal(audit_verify_files(gap, 2, fx->key0, NULL, &res), 0);
    assert_int_equal(res.bad_seq, 4); /* a1 holds 1..3, a2 4..7, the log 8..10 */
    assert_true(res.bad_file == fx->log);
    const char *newest[] = { fx->log };
    assert_int_not_equal(audit_verify_files(newest, 1, fx->key0, NULL, &res), 0);
    assert_int_equal(res.bad_seq, 1);
    /* The newest file dropped: only the checkpoint tells. */
    const char *no_tail[] = { a1, a2 };
    assert_int_equal(audit_verify_files(no_tail, 2, fx->key0, NULL, &res), 0);
    assert_int_not_equal(audit_verify_files(no_tail, 2, fx->key0, cp, &res), 0);
    assert_int_equal(res.bad_seq, 8);
}

/* A writer that was open before another one rotated the log (a signing
 * process while `kyso audit rotate` runs) goes on in the new file: its
 * records continue the chain and nothing lands in the archive. */
static void test_rotation_by_another_writer(void **state)
{
    struct fx *fx = *state;
    char err[600], a1[160];
    struct audit_writer *early, *rot;
    make_chain(fx, 3);
    snprintf(a1, sizeof(a1), "%s/audit.log.1", fx->dir);
    assert_int_equal(audit_writer_open(fx->log, &early, err, sizeof(err)), 0);
    assert_int_equal(append_signs(early, 1, 1, 1, err, sizeof(err)), 0); /* 4 */
    assert_int_equal(audit_writer_open(fx->log, &rot, err, sizeof(err)), 0);
    assert_int_equal(audit_writer_rotate(rot, a1, err, sizeof(err)), 0); /* 5 */
    audit_writer_close(rot);
    off_t archived = file_size(a1);

    int rc = append_signs(early, 2, 2, 1, err, sizeof(err)); /* 6, 7 */
    audit_writer_close(early);
    if (rc != 0)
        fail_msg("a writer opened before the rotation refuses to go on: %s", err);
    assert_int_equal(file_size(a1), archived);
    const char *files[] = { a1, fx->log };
    struct audit_verify_result res;
    if (audit_verify_files(files, 2, fx->key0, NULL, &res) != 0)
        fail_msg("broken at record %llu (%s line %zu): %s", (unsigned long long)res.bad_seq, res.bad_file,
                 res.bad_line, res.reason);
    assert_int_equal(res.records, 7);
}

/* A rotation interrupted by a crash, simulated by putting back the state
 * of before it: (1) after both renames, before the state was written, the
 * new log is shorter than the state but continues its chain: adopted; (2)
 * between the renames, only LOG.new is there: the rename is finished. In
 * both the chain verifies across the archive and the log. A short log
 * that does not begin with the continuation is still refused. */
static void test_interrupted_rotation(void **state)
{
    struct fx *fx = *state;
    char err[600], a1[160], a2[160], pending[160];
    struct audit_writer *w;
    struct audit_verify_result res;
    size_t state_len;
    make_chain(fx, 6);
    snprintf(a1, sizeof(a1), "%s/audit.log.1", fx->dir);
    snprintf(a2, sizeof(a2), "%s/audit.log.2", fx->dir);
    snprintf(pending, sizeof(pending), "%s/audit.log.new", fx->dir);

    /* (1) Crash after the renames. */
    char *before = read_file(fx->state, &state_len);
    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    assert_int_equal(audit_writer_rotate(w, a1, err, sizeof(err)), 0); /* 7: log_continue */
    audit_writer_close(w);
    write_file(fx->state, before, state_len);
    free(before);
    if (writer_append(fx->log, 30, 2, err, sizeof(err)) != 0) /* 8, 9 */
        fail_msg("the new log of an unfinished rotation was not adopted: %s", err);
    const char *one[] = { a1, fx->log };
    if (audit_verify_files(one, 2, fx->key0, NULL, &res) != 0)
        fail_msg("broken at record %llu: %s", (unsigned long long)res.bad_seq, res.reason);
    assert_int_equal(res.records, 9);

    /* (2) Crash between the renames. */
    before = read_file(fx->state, &state_len);
    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    assert_int_equal(audit_writer_rotate(w, a2, err, sizeof(err)), 0); /* 10 */
    audit_writer_close(w);
    assert_int_equal(rename(fx->log, pending), 0);
    write_file(fx->state, before, state_len);
    free(before);
    if (writer_append(fx->log, 40, 1, err, sizeof(err)) != 0) /* 11 */
        fail_msg("a rotation stopped between its renames was not finished: %s", err);
    assert_int_equal(access(pending, F_OK), -1);
    const char *two[] = { a1, a2, fx->log };
    if (audit_verify_files(two, 3, fx->key0, NULL, &res) != 0)
        fail_msg("broken at record %llu: %s", (unsigned long long)res.bad_seq, res.reason);
    assert_int_equal(res.records, 11);

    /* A short log whose first record is an old one, not the continuation:
     * a truncation, refused. */
    struct lines l;
    lines_read(fx->log, &l);
    size_t idx[] = { 1 }; /* record 10 alone */
    lines_write(fx->log, &l, idx, 1);
    off_t size = file_size(fx->log);
    assert_int_not_equal(writer_append(fx->log, 50, 1, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "shorter"));
    assert_int_equal(file_size(fx->log), size);
    free(l.buf);
}

/* Group commit: a batch that cannot be written leaves nothing behind. */
static void test_failed_batch_leaves_nothing(void **state)
{
    struct fx *fx = *state;
    char err[600];
    struct audit_writer *w;
    make_chain(fx, 3);
    off_t size = file_size(fx->log);
    assert_int_equal(audit_writer_open(fx->log, &w, err, sizeof(err)), 0);
    /* A record longer than a line may be (AUDIT_MAX_LINE: the verifier
     * reads no more) in the middle of a batch: the batch is refused, as a
     * single record of that size is. */
    char *detail = malloc(AUDIT_MAX_LINE);
    assert_non_null(detail);
    memset(detail, 'x', AUDIT_MAX_LINE - 1);
    detail[AUDIT_MAX_LINE - 1] = '\0';
    struct audit_event ok = { .event = "sign", .outcome = "CKR_OK" };
    struct audit_event big = { .event = "refusal", .outcome = "CKR_FUNCTION_FAILED", .detail = detail };
    const struct audit_event *evs[] = { &ok, &big, &ok };
    struct audit_identity who;
    audit_identity_self(&who);
    const struct audit_identity *whos[] = { &who, &who, &who };
    assert_int_not_equal(audit_writer_append(w, &evs[1], whos, 1, err, sizeof(err)), 0);
    assert_int_equal(file_size(fx->log), size);
    int rc = audit_writer_append(w, evs, whos, 3, err, sizeof(err));
    if (rc == 0) {
        struct audit_verify_result res;
        verify1(fx, NULL, &res);
        audit_writer_close(w);
        free(detail);
        fail_msg("a batch with a %d-byte record was written; the log now verifies as: %s%s", AUDIT_MAX_LINE,
                 res.bad_seq ? "broken: " : "OK", res.reason);
    }
    assert_int_equal(file_size(fx->log), size);
    /* The chain goes on where it was. */
    assert_int_equal(audit_writer_append(w, evs, whos, 1, err, sizeof(err)), 0);
    audit_writer_close(w);
    expect_ok(fx, 4);
    free(detail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_prev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_first_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inserted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inserted_forgery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mac_hex_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_security, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_adopts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_drops_incomplete_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_refuses_bad_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_refuses_replayed_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_refuses_short_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_slot_erased, setup, teardown),
        cmocka_unit_test(test_cert_fields_kept),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_by_another_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_leaves_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("audit chain", tests, NULL, NULL);
}
