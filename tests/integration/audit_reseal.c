/* Makes a synthetic audit log verifiable, for the printed report's tests
 * (audit-report-pdf.sh): reads records whose chain fields are dummies (the
 * generator tests/bench/audit-log-gen.sh), and writes them as a chain that
 * kyso audit verify accepts under a fresh auditor's key — a log_start
 * record first (at the first record's time), then each record renumbered,
 * linked to the previous line and sealed with the forward-secure MAC of
 * audit/README.md, exactly as the writer would have.
 *
 *   audit_reseal KEY-FILE < RECORDS > LOG
 *
 * KEY-FILE: the auditor's key (64 hex digits) when the file exists, so that
 * the same records make the same log (reference pictures); else a random
 * key is made and written there. The chain's log_id is derived from the
 * first record's time.
 *
 * Each input line must start {"v":1,"seq":N, and end ,"prev":"<64 hex>","mac":"<64 hex>"}. */
#include "config.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/internal.h"

static uint8_t key[AUDIT_KEY_LEN], prev[AUDIT_HASH_LEN];
static uint64_t seq;

/* body: the record after its "seq":N, up to and without ,"prev":…; written sealed. */
static int emit(const char *body, size_t len)
{
    static char line[AUDIT_MAX_LINE + 256];
    char ph[2 * AUDIT_HASH_LEN + 1], mh[2 * AUDIT_HASH_LEN + 1];
    uint8_t mac[AUDIT_HASH_LEN];
    seq++;
    audit_hex(prev, sizeof prev, ph);
    int n = snprintf(line, sizeof line, "{\"v\":1,\"seq\":%" PRIu64 ",%.*s,\"prev\":\"%s\"", seq, (int)len, body, ph);
    if (n < 0 || (size_t)n >= sizeof line - 80)
        return -1;
    audit_evolve(key); /* record n is sealed with K(n) */
    audit_mac(key, (const uint8_t *)line, (size_t)n, mac);
    audit_hex(mac, sizeof mac, mh);
    n += snprintf(line + n, sizeof line - (size_t)n, ",\"mac\":\"%s\"}", mh);
    audit_line_hash(line, (size_t)n, prev);
    return printf("%s\n", line) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    static char in[AUDIT_MAX_LINE + 256], head[512];
    static const char tail_tag[] = ",\"prev\":\"";
    if (argc != 2) {
        fprintf(stderr, "usage: audit_reseal KEY-OUT < RECORDS > LOG\n");
        return 2;
    }
    char err[300];
    if (access(argv[1], F_OK) == 0) {
        if (audit_read_key_file(argv[1], key, err, sizeof err) != 0) {
            fprintf(stderr, "audit_reseal: %s\n", err);
            return 1;
        }
    } else {
        char hex[2 * AUDIT_KEY_LEN + 1];
        if (RAND_bytes(key, sizeof key) != 1)
            return 1;
        audit_hex(key, sizeof key, hex);
        FILE *k = fopen(argv[1], "wx");
        bool ok = k && fprintf(k, "%s\n", hex) > 0;
        if (k && fclose(k) != 0)
            ok = false;
        OPENSSL_cleanse(hex, sizeof hex);
        if (!ok) {
            fprintf(stderr, "audit_reseal: cannot write %s\n", argv[1]);
            return 1;
        }
    }
    memset(prev, 0, sizeof prev);
    bool first = true;
    while (fgets(in, sizeof in, stdin)) {
        size_t len = strlen(in);
        if (len && in[len - 1] == '\n')
            in[--len] = '\0';
        const char *body = strstr(in, "\"seq\":");
        const char *comma = body ? strchr(body, ',') : NULL;
        const char *end = comma ? strstr(comma, tail_tag) : NULL;
        if (strncmp(in, "{\"v\":1,", 7) != 0 || !comma || !end) {
            fprintf(stderr, "audit_reseal: not a record: %.60s\n", in);
            return 1;
        }
        if (first) {
            /* The chain's first record, at the first record's time. */
            const char *t = strstr(in, "\"time\":\"");
            if (!t || strlen(t) < 8 + 24)
                return 1;
            uint8_t h[AUDIT_HASH_LEN];
            char log_id[2 * AUDIT_HASH_LEN + 1];
            audit_line_hash(t, 8 + 24, h);
            audit_hex(h, sizeof h, log_id);
            int n = snprintf(head, sizeof head,
                             "\"time\":\"%.24s\",\"event\":\"log_start\",\"host\":\"pc-00\",\"module\":\"0.1.0\","
                             "\"outcome\":\"CKR_OK\",\"log_id\":\"%.32s\"",
                             t + 8, log_id);
            if (emit(head, (size_t)n) != 0)
                return 1;
            first = false;
        }
        if (emit(comma + 1, (size_t)(end - comma - 1)) != 0) {
            fprintf(stderr, "audit_reseal: a record is too long\n");
            return 1;
        }
    }
    OPENSSL_cleanse(key, sizeof key);
    return fflush(stdout) == 0 ? 0 : 1;
}
