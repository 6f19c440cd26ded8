/* Reads an audit trail as an auditor would, for the audit tests
 * (audit-*.sh): every line a JSON record, sequence numbers 1..K without
 * gap or repeat, and the "sign" records with outcome CKR_OK matched
 * against what signing processes say they received (audit_signer
 * --received). A sign record that a later "withheld" record takes back
 * (ref_seq) counts as not signed: its signature was never released.
 *
 *   audit_logcheck [--received FILE [--exact]]... LOG...
 *       For each FILE (lines "pid P", each followed by the SHA-256 of
 *       each message whose signature P received): every one has exactly
 *       one sign/CKR_OK record of pid P with that input_sha256; with
 *       --exact (before the FILEs it applies to), P also has no other
 *       sign/CKR_OK record.
 *       Prints "records K sign_ok S" and one line per FILE; exit 0 when
 *       everything holds.
 *   audit_logcheck --state LOG
 *       Prints the writer's state: "next_seq N state_size S file_size F"
 *       (F > S: records or a piece of one past the state, after a crash). */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit/internal.h"

struct signed_rec {
    char sha[65];
    long pid;
    uint64_t seq;
    int seen; /* claimed by a received line */
};

static int by_sha(const void *a, const void *b)
{
    const struct signed_rec *x = a, *y = b;
    int c = strcmp(x->sha, y->sha);
    return c ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

static const char *str_field(json_object *o, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                               : NULL;
}

static int show_state(const char *log)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s.state", log);
    int fd = open(path, O_RDONLY);
    struct audit_state st;
    struct stat sb;
    if (fd < 0 || audit_state_read(fd, &st) != 0 || stat(log, &sb) != 0) {
        printf("no state\n");
        return 1;
    }
    close(fd);
    printf("next_seq %" PRIu64 " state_size %" PRIu64 " file_size %lld\n", st.next_seq, st.log_size,
           (long long)sb.st_size);
    return 0;
}

int main(int argc, char **argv)
{
    const char *logs[64], *received[256];
    bool exact[256];
    size_t nlogs = 0, nrec = 0;
    bool want_exact = false;
    if (argc == 3 && strcmp(argv[1], "--state") == 0)
        return show_state(argv[2]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--received") == 0 && i + 1 < argc && nrec < 256) {
            exact[nrec] = want_exact;
            received[nrec++] = argv[++i];
        } else if (strcmp(argv[i], "--exact") == 0)
            want_exact = true;
        else if (argv[i][0] != '-' && nlogs < 64)
            logs[nlogs++] = argv[i];
        else {
            fprintf(stderr, "audit_logcheck: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (nlogs == 0)
        return 2;

    size_t cap = 1024, nsigned = 0, nwithheld = 0, wcap = 64;
    uint64_t *withheld = malloc(wcap * sizeof(*withheld));
    struct signed_rec *recs = malloc(cap * sizeof(*recs));
    char *line = malloc(AUDIT_MAX_LINE + 2);
    uint64_t records = 0, expect_seq = 1;
    int bad = 0;
    for (size_t f = 0; f < nlogs; f++) {
        FILE *in = fopen(logs[f], "r");
        if (!in) {
            perror(logs[f]);
            return 1;
        }
        size_t lineno = 0;
        while (fgets(line, AUDIT_MAX_LINE + 2, in)) {
            lineno++;
            json_object *o = json_tokener_parse(line);
            json_object *seq;
            if (!o || !json_object_object_get_ex(o, "seq", &seq)) {
                printf("%s line %zu: not a JSON record\n", logs[f], lineno);
                bad++;
                json_object_put(o);
                continue;
            }
            uint64_t s = (uint64_t)json_object_get_int64(seq);
            if (s != expect_seq) {
                if (bad++ < 10)
                    printf("%s line %zu: seq %" PRIu64 ", expected %" PRIu64 " (gap or repeat)\n", logs[f], lineno, s,
                           expect_seq);
            }
            expect_seq = s + 1;
            records++;
            const char *event = str_field(o, "event"), *outcome = str_field(o, "outcome"),
                       *sha = str_field(o, "input_sha256");
            json_object *pid, *ref;
            if (event && strcmp(event, "withheld") == 0 && json_object_object_get_ex(o, "ref_seq", &ref)) {
                if (nwithheld == wcap) {
                    wcap *= 2;
                    withheld = realloc(withheld, wcap * sizeof(*withheld));
                }
                withheld[nwithheld++] = (uint64_t)json_object_get_int64(ref);
            }
            if (event && strcmp(event, "sign") == 0 && outcome && strcmp(outcome, "CKR_OK") == 0) {
                if (!sha || strlen(sha) != 64 || !json_object_object_get_ex(o, "pid", &pid)) {
                    printf("%s line %zu: a sign record without input_sha256 or pid\n", logs[f], lineno);
                    bad++;
                } else {
                    if (nsigned == cap) {
                        cap *= 2;
                        recs = realloc(recs, cap * sizeof(*recs));
                    }
                    memcpy(recs[nsigned].sha, sha, 65);
                    recs[nsigned].pid = (long)json_object_get_int64(pid);
                    recs[nsigned].seq = s;
                    recs[nsigned].seen = 0;
                    nsigned++;
                }
            }
            json_object_put(o);
        }
        fclose(in);
    }
    /* Net of the withheld ones. */
    size_t kept = 0;
    for (size_t i = 0; i < nsigned; i++) {
        bool taken_back = false;
        for (size_t w = 0; w < nwithheld && !taken_back; w++)
            taken_back = withheld[w] == recs[i].seq;
        if (!taken_back)
            recs[kept++] = recs[i];
    }
    size_t nheld = nsigned - kept;
    nsigned = kept;
    free(withheld);
    qsort(recs, nsigned, sizeof(*recs), by_sha);
    printf("records %" PRIu64 " sign_ok %zu withheld %zu\n", records, nsigned, nheld);

    for (size_t r = 0; r < nrec; r++) {
        /* One or more processes' lines: "pid P", then P's hashes. */
        FILE *in = fopen(received[r], "r");
        long pids[64], got[64] = { 0 }, missing[64] = { 0 }, twice[64] = { 0 };
        int np = 0, cur = -1;
        if (!in) {
            printf("%s: unreadable\n", received[r]);
            bad++;
            continue;
        }
        while (fgets(line, AUDIT_MAX_LINE, in)) {
            line[strcspn(line, "\n")] = '\0';
            long pid;
            if (sscanf(line, "pid %ld", &pid) == 1) {
                for (cur = 0; cur < np && pids[cur] != pid; cur++)
                    ;
                if (cur == np && np < 64)
                    pids[np++] = pid;
                continue;
            }
            if (cur < 0 || cur >= np || strlen(line) != 64)
                continue; /* (cannot happen: one write per line) */
            got[cur]++;
            struct signed_rec key = { .pid = pids[cur] };
            memcpy(key.sha, line, 65);
            struct signed_rec *hit = bsearch(&key, recs, nsigned, sizeof(*recs), by_sha);
            if (!hit) {
                if (missing[cur]++ < 5)
                    printf("pid %ld: no sign record for the received signature of %s\n", pids[cur], line);
                continue;
            }
            if (hit->seen++ || (hit > recs && by_sha(hit - 1, hit) == 0) ||
                (hit + 1 < recs + nsigned && by_sha(hit + 1, hit) == 0))
                twice[cur]++;
        }
        fclose(in);
        if (np == 0) {
            printf("%s: no \"pid P\" line\n", received[r]);
            bad++;
        }
        for (int p = 0; p < np; p++) {
            long of_pid = 0;
            for (size_t i = 0; i < nsigned; i++)
                of_pid += recs[i].pid == pids[p];
            bool ok = missing[p] == 0 && twice[p] == 0 && (exact[r] ? of_pid == got[p] : of_pid >= got[p]);
            printf("pid %ld: received %ld, sign records %ld, missing %ld, repeated %ld%s\n", pids[p], got[p], of_pid,
                   missing[p], twice[p], ok ? "" : "  <- WRONG");
            if (!ok)
                bad++;
        }
    }
    free(recs);
    free(line);
    return bad ? 1 : 0;
}
