/* The audit trail against random damage (run by audit-mutation.sh).
 *
 * Builds a valid log of a few hundred records with the real writer (single
 * appends and group commits; signatures with certificates, refusals with
 * quotes, backslashes and Vietnamese text, PIN events), then applies
 * thousands of random single mutations to a copy and verifies each with
 * audit_verify_files and the auditor's checkpoint of the undamaged log:
 *
 *   flip       one byte XOR a random non-zero value, anywhere
 *   flip-nl    the same, on a newline
 *   flip-case  a letter of a record's MAC hex changed to upper case (the
 *              same digit value, another byte)
 *   byte-ins   one random byte inserted;  byte-del   one byte removed
 *   delete     one line removed
 *   duplicate  a copy of one line inserted anywhere
 *   foreign    a line of another chain (same writer, another key)
 *              inserted, or put in place of the line with its seq
 *   swap       two lines exchanged
 *   cut-tail   the last k lines removed (the checkpoint tells)
 *   cut-mid    the file cut inside a line
 *
 * Every mutation must be reported as a break (100 %), at the first line
 * that differs from the original (the first broken record); a
 * mutation that changes nothing is skipped. ("late": found one record
 * late, as an upper-case MAC digit was by a verifier that read hex
 * case-insensitively: counted apart, and a failure.) With --kyso PATH every 40th
 * damaged file is also checked with `kyso audit verify` (exit status 1,
 * "BROKEN at record N").
 *
 * Prints the counts per kind, "ok - …" / "not ok - …" lines and
 * "N passed, N failed". KYSO_MUTATION_SEED (else the time) seeds the
 * choice; KYSO_MUTATIONS sets how many (default 6000). */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"

static int passed, failed;

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

/* xorshift64*: reproducible from the printed seed. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

/* ------------------------------------------------------- building logs */

static uint8_t *cert_der;
static int cert_len;

static void load_cert(void)
{
    const char *src = getenv("KYSO_SRCDIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/test-vectors/pki/person-an-sign-rsa2048.pem", src ? src : ".");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x) {
        cert_len = i2d_X509(x, &cert_der);
        X509_free(x);
    }
}

/* Record i of a varied stream of events. */
static void make_event(unsigned i, struct audit_event *ev, uint8_t digest[32])
{
    static const char *const details[] = {
        "PIN sai, c\xc3\xb2n 2 l\xe1\xba\xA7n th\xe1\xbb\xad", /* "PIN sai, còn 2 lần thử" */
        "the caller said \"sign this\" \\ twice",
        "Nguy\xe1\xbb\x85n V\xc4\x83n An / S\xe1\xbb\x9f T\xc3\xa0i ch\xc3\xadnh",
        "tab\tand newline\n inside",
    };
    unsigned int n = 0;
    EVP_Digest(&i, sizeof(i), digest, &n, EVP_sha256(), NULL);
    memset(ev, 0, sizeof(*ev));
    ev->reader = "Kyso Virtual Reader 00 00";
    ev->token = "VGCA0001234567";
    switch (i % 7) {
    case 0:
    case 1:
    case 2:
    case 3:
        ev->event = "sign";
        ev->key = i % 2 ? "9C" : "81";
        ev->cert_der = cert_der;
        ev->cert_len = cert_der ? (size_t)cert_len : 0;
        ev->mechanism = "CKM_SHA256_RSA_PKCS";
        ev->has_input = true;
        ev->input_len = 100 + i;
        ev->input_sha256 = digest;
        ev->outcome = i % 11 ? "CKR_OK" : "CKR_DEVICE_ERROR";
        break;
    case 4:
        ev->event = "refusal";
        ev->key = "9C";
        ev->mechanism = "CKM_RSA_X_509";
        ev->has_input = true;
        ev->input_len = i;
        ev->input_sha256 = digest;
        ev->outcome = "CKR_FUNCTION_REJECTED";
        ev->rule = "M4";
        ev->detail = details[i % 4];
        break;
    case 5:
        ev->event = "pin_failure";
        ev->outcome = "CKR_PIN_INCORRECT";
        ev->detail = details[(i / 7) % 4];
        break;
    default:
        ev->event = "decrypt";
        ev->key = "9D";
        ev->mechanism = "CKM_RSA_PKCS";
        ev->has_input = true;
        ev->input_len = 256;
        ev->input_sha256 = digest;
        ev->outcome = "CKR_OK";
    }
}

/* A chain of `records` records at path; the auditor's key in key0. */
static bool build_log(const char *path, size_t records, uint8_t key0[AUDIT_KEY_LEN])
{
    char err[600];
    struct audit_writer *w;
    struct audit_identity who;
    audit_identity_self(&who);
    if (audit_chain_init(path, key0, err, sizeof(err)) != 0 || audit_writer_open(path, &w, err, sizeof(err)) != 0) {
        printf("   %s\n", err);
        return false;
    }
    size_t done = 1;
    unsigned i = 0;
    bool ok = true;
    while (ok && done < records) {
        /* Group commits of 1..16 records in turn with single appends. */
        size_t batch = i % 3 ? 1 : 1 + below(16);
        if (batch > records - done)
            batch = records - done;
        struct audit_event ev[16];
        uint8_t digest[16][32];
        const struct audit_event *evp[16];
        const struct audit_identity *whop[16];
        for (size_t k = 0; k < batch; k++) {
            make_event(i + (unsigned)k, &ev[k], digest[k]);
            evp[k] = &ev[k];
            whop[k] = &who;
        }
        if (audit_writer_append(w, evp, whop, batch, err, sizeof(err)) != 0) {
            printf("   append: %s\n", err);
            ok = false;
        }
        i += (unsigned)batch;
        done += batch;
    }
    audit_writer_close(w);
    return ok;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static bool spill(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Lines of a buffer: offsets and lengths (with the newline). */
struct lines {
    size_t n, cap;
    size_t *off, *len;
};

static void split(const char *buf, size_t size, struct lines *l)
{
    l->n = 0;
    for (size_t pos = 0; pos < size;) {
        const char *nl = memchr(buf + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - buf) + 1 : size;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 512;
            l->off = realloc(l->off, l->cap * sizeof(size_t));
            l->len = realloc(l->len, l->cap * sizeof(size_t));
            if (!l->off || !l->len)
                abort();
        }
        l->off[l->n] = pos;
        l->len[l->n] = end - pos;
        l->n++;
        pos = end;
    }
}

/* --------------------------------------------------------- mutations */

enum kind {
    K_FLIP,
    K_FLIP_NL,
    K_FLIP_CASE,
    K_BYTE_INS,
    K_BYTE_DEL,
    K_DELETE,
    K_DUPLICATE,
    K_FOREIGN_INS,
    K_FOREIGN_REPL,
    K_SWAP,
    K_CUT_TAIL,
    K_CUT_MID,
    K_COUNT
};
static const char *const kind_name[K_COUNT] = {
    "flip", "flip-nl", "flip-case", "byte-ins", "byte-del", "delete", "duplicate", "foreign-ins", "foreign-repl",
    "swap", "cut-tail", "cut-mid",
};

struct tally {
    unsigned tried, skipped, detected, exact, late, missed;
};

struct world {
    const char *orig;
    size_t orig_len;
    struct lines ol;
    const char *foreign;
    struct lines fl;
    char *out;
    size_t out_len;
};

static void put(struct world *w, const void *p, size_t n)
{
    memcpy(w->out + w->out_len, p, n);
    w->out_len += n;
}

static void put_line(struct world *w, const char *base, const struct lines *l, size_t i)
{
    put(w, base + l->off[i], l->len[i]);
}

/* Is the byte at p (changed to c) a MAC hex letter of a record that is not
 * the last one, turned into its upper case? */
static bool mac_case_change(const struct world *w, size_t p, char c)
{
    char was = w->orig[p];
    if (!(was >= 'a' && was <= 'f') || c != (char)(was - 'a' + 'A'))
        return false;
    for (size_t i = 0; i + 1 < w->ol.n; i++) {
        size_t end = w->ol.off[i] + w->ol.len[i]; /* after the newline */
        if (p >= w->ol.off[i] && p < end)
            return end - 1 - 2 - 64 <= p && p < end - 1 - 2; /* …"mac":"<64>"}\n */
    }
    return false;
}

/* Builds one mutation of kind k into w->out. Returns false if it cannot
 * (then another is drawn). *late_ok: the mutation is one that a verifier
 * reading hex case-insensitively would find one record late (an
 * upper-case MAC digit, see test_mac_hex_case): tallied as "late". */
static bool mutate(struct world *w, enum kind k, bool *late_ok)
{
    const struct lines *ol = &w->ol;
    size_t n = ol->n;
    *late_ok = false;
    w->out_len = 0;
    switch (k) {
    case K_FLIP: {
        put(w, w->orig, w->orig_len);
        size_t p = below(w->orig_len);
        w->out[p] ^= (char)(1 + below(255));
        *late_ok = mac_case_change(w, p, w->out[p]);
        return true;
    }
    case K_FLIP_NL: {
        put(w, w->orig, w->orig_len);
        size_t i = below(n);
        size_t p = ol->off[i] + ol->len[i] - 1;
        w->out[p] ^= (char)(1 + below(255));
        return true;
    }
    case K_FLIP_CASE: {
        put(w, w->orig, w->orig_len);
        size_t i = below(n);
        const char *mac = memmem(w->orig + ol->off[i], ol->len[i], ",\"mac\":\"", 8);
        if (!mac)
            return false;
        size_t base = (size_t)(mac - w->orig) + 8, letters[64], nl = 0;
        for (size_t d = 0; d < 64; d++)
            if (w->orig[base + d] >= 'a' && w->orig[base + d] <= 'f')
                letters[nl++] = base + d;
        if (!nl)
            return false;
        size_t p = letters[below(nl)];
        w->out[p] = (char)(w->out[p] - 'a' + 'A');
        *late_ok = i + 1 < n;
        return true;
    }
    case K_BYTE_INS: {
        size_t p = below(w->orig_len + 1);
        char c = (char)below(256);
        put(w, w->orig, p);
        put(w, &c, 1);
        put(w, w->orig + p, w->orig_len - p);
        return true;
    }
    case K_BYTE_DEL: {
        size_t p = below(w->orig_len);
        put(w, w->orig, p);
        put(w, w->orig + p + 1, w->orig_len - p - 1);
        return true;
    }
    case K_DELETE: {
        size_t d = below(n);
        for (size_t i = 0; i < n; i++)
            if (i != d)
                put_line(w, w->orig, ol, i);
        return true;
    }
    case K_DUPLICATE: {
        size_t src = below(n), at = below(n + 1);
        for (size_t i = 0; i <= n; i++) {
            if (i == at)
                put_line(w, w->orig, ol, src);
            if (i < n)
                put_line(w, w->orig, ol, i);
        }
        return true;
    }
    case K_FOREIGN_INS: {
        size_t src = below(w->fl.n), at = below(n + 1);
        for (size_t i = 0; i <= n; i++) {
            if (i == at)
                put_line(w, w->foreign, &w->fl, src);
            if (i < n)
                put_line(w, w->orig, ol, i);
        }
        return true;
    }
    case K_FOREIGN_REPL: {
        /* The other chain's record with the same sequence number. */
        size_t at = below(n < w->fl.n ? n : w->fl.n);
        for (size_t i = 0; i < n; i++)
            put_line(w, i == at ? w->foreign : w->orig, i == at ? &w->fl : ol, i);
        return true;
    }
    case K_SWAP: {
        size_t a = below(n), b = below(n);
        if (a == b)
            return false;
        for (size_t i = 0; i < n; i++)
            put_line(w, w->orig, ol, i == a ? b : i == b ? a : i);
        return true;
    }
    case K_CUT_TAIL: {
        size_t keep = below(n); /* 0 … n-1 lines */
        for (size_t i = 0; i < keep; i++)
            put_line(w, w->orig, ol, i);
        return true;
    }
    case K_CUT_MID: {
        size_t p = 1 + below(w->orig_len - 1);
        if (w->orig[p - 1] == '\n')
            return false; /* a line boundary: cut-tail's */
        put(w, w->orig, p);
        return true;
    }
    default:
        return false;
    }
}

/* The sequence number of the first record that is not as it was: the
 * first line that differs, or one past the last when lines are missing. */
static uint64_t first_difference(const struct world *w, bool *same)
{
    struct lines ml = { 0 };
    split(w->out, w->out_len, &ml);
    uint64_t at = 0;
    *same = false;
    for (size_t i = 0; i < ml.n; i++) {
        bool eq = i < w->ol.n && ml.len[i] == w->ol.len[i] &&
                  memcmp(w->out + ml.off[i], w->orig + w->ol.off[i], ml.len[i]) == 0;
        if (!eq) {
            at = i + 1;
            break;
        }
    }
    if (!at) {
        if (ml.n == w->ol.n)
            *same = true;
        at = ml.n + 1;
    }
    free(ml.off);
    free(ml.len);
    return at;
}

/* `kyso audit verify` on the damaged file: exit 1, "BROKEN at record N". */
static bool kyso_agrees(const char *kyso, const char *log, const char *key_file, const char *checkpoint,
                        uint64_t want)
{
    char cmd[4096], line[1024];
    snprintf(cmd, sizeof(cmd), "'%s' audit verify --log '%s' --key '%s' --checkpoint '%s' 2>&1", kyso, log, key_file,
             checkpoint);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    unsigned long long at = 0;
    bool said = false;
    while (fgets(line, sizeof(line), p))
        if (sscanf(line, "BROKEN at record %llu", &at) == 1)
            said = true;
    int status = pclose(p);
    return said && at == want && WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const char *kyso = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--kyso") == 0 && i + 1 < argc)
            kyso = argv[++i];
    const char *env = getenv("KYSO_MUTATION_SEED");
    uint64_t seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    rng_state = seed ? seed : 1;
    env = getenv("KYSO_MUTATIONS");
    long total = env && *env ? strtol(env, NULL, 10) : 6000;
    printf("# seed %" PRIu64 " (KYSO_MUTATION_SEED), %ld mutations\n", seed, total);

    char dir[] = "/tmp/kyso-mutation-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char log[128], foreign_log[128], damaged[128], key_file[128];
    snprintf(log, sizeof(log), "%s/audit.log", dir);
    snprintf(foreign_log, sizeof(foreign_log), "%s/other.log", dir);
    snprintf(damaged, sizeof(damaged), "%s/damaged.log", dir);
    snprintf(key_file, sizeof(key_file), "%s/audit.key", dir);
    load_cert();

    uint8_t key0[AUDIT_KEY_LEN], other_key[AUDIT_KEY_LEN];
    bool built = build_log(log, 300, key0) && build_log(foreign_log, 300, other_key);
    check("a log of 300 records built with the writer", built, NULL);
    if (!built)
        return 1;
    char hex[2 * AUDIT_KEY_LEN + 1];
    audit_hex(key0, sizeof(key0), hex);
    spill(key_file, hex, strlen(hex));

    struct world w = { 0 };
    char *orig = slurp(log, &w.orig_len), *foreign;
    size_t foreign_len;
    foreign = slurp(foreign_log, &foreign_len);
    w.orig = orig;
    w.foreign = foreign;
    split(orig, w.orig_len, &w.ol);
    split(foreign, foreign_len, &w.fl);
    w.out = malloc(w.orig_len + foreign_len + 16);

    struct audit_verify_result res;
    const char *files[] = { damaged };
    spill(damaged, orig, w.orig_len);
    int rc = audit_verify_files(files, 1, key0, NULL, &res);
    check("the undamaged log verifies", rc == 0 && res.records == 300, "%s", res.reason);
    char checkpoint[128], hash[65];
    audit_hex(res.last_hash, sizeof(res.last_hash), hash);
    snprintf(checkpoint, sizeof(checkpoint), "%" PRIu64 ":%s", res.last_seq, hash);
    printf("# %zu bytes, %zu lines, checkpoint %s\n", w.orig_len, w.ol.n, checkpoint);
    rc = audit_verify_files(files, 1, key0, checkpoint, &res);
    check("the undamaged log verifies with its checkpoint", rc == 0, "%s", res.reason);
    rc = audit_verify_files(files, 1, other_key, checkpoint, &res);
    check("another chain's key does not verify it", rc != 0 && res.bad_seq == 1, NULL);

    struct tally t[K_COUNT] = { { 0 } };
    unsigned shown = 0, kyso_runs = 0, kyso_bad = 0;
    double t0 = (double)clock();
    for (long m = 0; m < total; m++) {
        enum kind k = (enum kind)(m % K_COUNT);
        bool late_ok, same;
        uint64_t want;
        int attempts = 0;
        for (;;) {
            bool made = mutate(&w, k, &late_ok);
            if (made) {
                want = first_difference(&w, &same);
                if (!same)
                    break;
            }
            t[k].skipped++; /* nothing changed (or not this kind): draw again */
            if (++attempts > 1000)
                abort();
        }
        t[k].tried++;
        if (!spill(damaged, w.out, w.out_len)) {
            perror(damaged);
            return 1;
        }
        rc = audit_verify_files(files, 1, key0, checkpoint, &res);
        if (rc == 0) {
            t[k].missed++;
            if (shown++ < 10) {
                char keep[160];
                snprintf(keep, sizeof(keep), "/tmp/kyso-mutation-missed-%u.log", shown);
                spill(keep, w.out, w.out_len);
                printf("   MISSED %s #%ld (record %" PRIu64 "): kept as %s\n", kind_name[k], m, want, keep);
            }
            continue;
        }
        t[k].detected++;
        if (res.bad_seq == want) {
            t[k].exact++;
        } else if (late_ok && res.bad_seq == want + 1) {
            t[k].late++;
        } else if (shown++ < 10) {
            printf("   %s #%ld: the first damaged record is %" PRIu64 ", the verifier names %" PRIu64 " (%s)\n",
                   kind_name[k], m, want, res.bad_seq, res.reason);
        }
        if (kyso && m % 40 == 0) {
            kyso_runs++;
            if (!kyso_agrees(kyso, damaged, key_file, checkpoint, res.bad_seq))
                kyso_bad++;
        }
    }
    double secs = ((double)clock() - t0) / CLOCKS_PER_SEC;

    printf("# %-13s %7s %7s %8s %7s %7s %7s\n", "kind", "tried", "skipped", "detected", "exact", "late", "missed");
    struct tally sum = { 0 };
    for (int k = 0; k < K_COUNT; k++) {
        printf("# %-13s %7u %7u %8u %7u %7u %7u\n", kind_name[k], t[k].tried, t[k].skipped, t[k].detected, t[k].exact,
               t[k].late, t[k].missed);
        sum.tried += t[k].tried;
        sum.skipped += t[k].skipped;
        sum.detected += t[k].detected;
        sum.exact += t[k].exact;
        sum.late += t[k].late;
        sum.missed += t[k].missed;
    }
    printf("# %-13s %7u %7u %8u %7u %7u %7u   (%.1f s of CPU)\n", "all", sum.tried, sum.skipped, sum.detected,
           sum.exact, sum.late, sum.missed, secs);
    if (sum.late)
        printf("# late: an upper-case MAC digit was accepted; the break showed only at the next record's link\n");

    for (int k = 0; k < K_COUNT; k++) {
        char name[96];
        snprintf(name, sizeof(name), "%s: every mutation detected (%u of %u)", kind_name[k], t[k].detected,
                 t[k].tried);
        check(name, t[k].tried > 0 && t[k].missed == 0, NULL);
    }
    check("every break is reported at the first damaged record", sum.exact == sum.detected, "%u of %u (%u one late)",
          sum.exact, sum.detected, sum.late);
    if (kyso) {
        char name[96];
        snprintf(name, sizeof(name), "kyso audit verify reports the same break (%u files)", kyso_runs);
        check(name, kyso_runs > 0 && kyso_bad == 0, "%u disagreed", kyso_bad);
    }

    free(w.out);
    free(w.ol.off);
    free(w.ol.len);
    free(w.fl.off);
    free(w.fl.len);
    free(orig);
    free(foreign);
    OPENSSL_free(cert_der);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
