/* The audit trail's verifier: streams the files, recomputes every MAC
 * from the auditor's key and every chain link, and names the first record
 * that does not hold. It reads the fixed parts of a line directly (the
 * writer's format) rather than parsing JSON: the MAC proves the rest. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"

static int broken(struct audit_verify_result *res, const char *file, size_t line, uint64_t seq, const char *why)
{
    res->bad_file = file;
    res->bad_line = line;
    res->bad_seq = seq;
    snprintf(res->reason, sizeof(res->reason), "%s", why);
    return -1;
}

static bool parse_checkpoint(const char *text, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN])
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != ':' || v == 0)
        return false;
    *seq = v;
    return audit_unhex(end + 1, hash, AUDIT_HASH_LEN);
}

int audit_verify_files(const char *const *files, size_t nfiles, const uint8_t key0[AUDIT_KEY_LEN],
                       const char *checkpoint, struct audit_verify_result *res)
{
    static const char mac_tag[] = ",\"mac\":\"", prev_tag[] = "\"prev\":\"";
    uint8_t key[AUDIT_KEY_LEN], prev[AUDIT_HASH_LEN] = { 0 }, mac[AUDIT_HASH_LEN], want[AUDIT_HASH_LEN];
    uint8_t cp_hash[AUDIT_HASH_LEN];
    uint64_t seq = 1, cp_seq = 0;
    bool cp_seen = false;
    char *line = malloc(AUDIT_MAX_LINE + 2);
    int rc = 0;

    memset(res, 0, sizeof(*res));
    if (!line)
        return broken(res, "", 0, 0, "out of memory");
    if (checkpoint && !parse_checkpoint(checkpoint, &cp_seq, cp_hash)) {
        free(line);
        return broken(res, "", 0, 0, "the checkpoint is not SEQ:HASH");
    }
    memcpy(key, key0, AUDIT_KEY_LEN);
    audit_evolve(key); /* record 1 is sealed with K(1) */

    for (size_t f = 0; f < nfiles && rc == 0; f++) {
        FILE *in = fopen(files[f], "re");
        if (!in) {
            rc = broken(res, files[f], 0, seq, strerror(errno));
            break;
        }
        size_t lineno = 0;
        bool first_in_file = true;
        while (rc == 0 && fgets(line, AUDIT_MAX_LINE + 2, in)) {
            lineno++;
            size_t len = strlen(line);
            if (len == 0 || line[len - 1] != '\n') {
                rc = broken(res, files[f], lineno, seq,
                            feof(in) ? "the last line is incomplete (truncated)" : "a line is too long");
                break;
            }
            len--;
            if (memchr(line, '\0', len)) {
                rc = broken(res, files[f], lineno, seq, "a NUL byte inside a record");
                break;
            }
            /* {"v":1,"seq":N, … "prev":"<64>" ,"mac":"<64>"} */
            char head[48];
            int hn = snprintf(head, sizeof(head), "{\"v\":1,\"seq\":%" PRIu64 ",", seq);
            if (len < (size_t)hn + 2 + 64 + sizeof(mac_tag) || memcmp(line, head, (size_t)hn) != 0) {
                rc = broken(res, files[f], lineno, seq,
                            strncmp(line, "{\"v\":1,\"seq\":", 13) == 0
                                ? "sequence number out of order (a record was removed, inserted or moved)"
                                : "not a kyso audit record");
                break;
            }
            size_t body = len - 2 - 64 - (sizeof(mac_tag) - 1);
            char hex[65];
            memcpy(hex, line + body + sizeof(mac_tag) - 1, 64);
            hex[64] = '\0';
            if (memcmp(line + body, mac_tag, sizeof(mac_tag) - 1) != 0 || memcmp(line + len - 2, "\"}", 2) != 0 ||
                !audit_unhex_lower(hex, want, sizeof(want))) {
                rc = broken(res, files[f], lineno, seq, "the record's seal is malformed");
                break;
            }
            audit_mac(key, (const uint8_t *)line, body, mac);
            if (CRYPTO_memcmp(mac, want, sizeof(mac)) != 0) {
                rc = broken(res, files[f], lineno, seq, "the MAC does not match: the record was altered");
                break;
            }
            /* The link to the previous line. */
            if (body < 1 + 64 + sizeof(prev_tag) - 1 ||
                memcmp(line + body - 1 - 64 - (sizeof(prev_tag) - 1), prev_tag, sizeof(prev_tag) - 1) != 0) {
                rc = broken(res, files[f], lineno, seq, "the record has no chain link");
                break;
            }
            memcpy(hex, line + body - 1 - 64, 64);
            if (!audit_unhex_lower(hex, want, sizeof(want)) || CRYPTO_memcmp(want, prev, sizeof(prev)) != 0) {
                rc = broken(res, files[f], lineno, seq, "the chain is broken (the previous record is not this one's)");
                break;
            }
            bool start = strstr(line, "\"event\":\"log_start\"") != NULL;
            bool cont = strstr(line, "\"event\":\"log_continue\"") != NULL;
            if ((seq == 1) != start || (first_in_file && f > 0 && !cont)) {
                rc = broken(res, files[f], lineno, seq,
                            seq == 1 ? "the log does not begin with log_start" : "a file does not begin with log_continue");
                break;
            }
            first_in_file = false;
            audit_line_hash(line, len, prev);
            if (seq == cp_seq) {
                if (CRYPTO_memcmp(prev, cp_hash, sizeof(prev)) != 0) {
                    rc = broken(res, files[f], lineno, seq, "the checkpoint's record has changed");
                    break;
                }
                cp_seen = true;
            }
            audit_evolve(key);
            res->records++;
            res->last_seq = seq;
            seq++;
        }
        if (rc == 0 && ferror(in))
            rc = broken(res, files[f], lineno, seq, strerror(errno));
        fclose(in);
    }
    if (rc == 0 && res->records == 0)
        rc = broken(res, nfiles ? files[0] : "", 0, 1, "the log is empty");
    if (rc == 0 && cp_seq && !cp_seen)
        rc = broken(res, nfiles ? files[nfiles - 1] : "", 0, res->last_seq + 1,
                    "the log ends before the checkpoint: records were removed from its end");
    memcpy(res->last_hash, prev, sizeof(prev));
    OPENSSL_cleanse(key, sizeof(key));
    free(line);
    return rc;
}

int audit_read_key_file(const char *path, uint8_t key[AUDIT_KEY_LEN], char *err, size_t errlen)
{
    char text[256];
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot open the key file %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    /* Hex digits only: spaces, dashes and newlines (the printed form) are skipped. */
    char hex[2 * AUDIT_KEY_LEN + 1];
    size_t h = 0;
    for (size_t i = 0; i < n && h < sizeof(hex) - 1; i++)
        if ((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f') || (text[i] >= 'A' && text[i] <= 'F'))
            hex[h++] = text[i];
    hex[h] = '\0';
    OPENSSL_cleanse(text, sizeof(text));
    bool ok = audit_unhex(hex, key, AUDIT_KEY_LEN);
    OPENSSL_cleanse(hex, sizeof(hex));
    if (!ok) {
        snprintf(err, errlen, "%s does not hold a 64-digit audit key", path);
        return -1;
    }
    return 0;
}
