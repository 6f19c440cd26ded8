/* kyso record verify FILE|ID [--dir DIR] [--sig P7S]...
 *
 * A record and its detached CMS signatures: the schema and the integrity
 * hash as `kyso record check` sees them, then every signature over the
 * canonical bytes against the trust anchors ($(sysconfdir)/kyso/trust),
 * one line each. A FILE (a path with '/' or ending in .json) is verified
 * with FILE.1.p7s, FILE.2.p7s, ... beside it, or the --sig files; an ID
 * is loaded from the registry with the signatures stored beside it.
 * Signatures are numbered without a gap: a missing one in the middle is
 * reported, not skipped. Also `kyso record register`'s check of the
 * signatures it stores (collect_verified_signatures).
 *
 * Exit status: 0 every signature verifies; 1 a problem, or no signature
 * (an unsigned record is not a signed one); 2 bad arguments. */
#include "config.h"

#include "tools/cli/record_cmds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/trust.h"
#include "records/canon.h"
#include "records/record.h"
#include "records/registry.h"
#include "records/sign.h"

#define PATH_LEN 4096

struct sig_files {
    size_t n;
    char path[RECORDS_MAX_SIGNATURES][PATH_LEN];
};

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 || errno != ENOENT;
}

/* base.1.p7s .. base.n.p7s: numbered from 1 without a gap, at most
 * RECORDS_MAX_SIGNATURES. -1 after saying which is missing. */
static int signatures_beside(const char *base, struct sig_files *s)
{
    char p[PATH_LEN];
    size_t last = 0;
    s->n = 0;
    for (size_t i = 1; i <= RECORDS_MAX_SIGNATURES + 1; i++) {
        if ((size_t)snprintf(p, sizeof(p), "%s.%zu.p7s", base, i) >= sizeof(p)) {
            fprintf(stderr, "kyso: %s: path too long\n", base);
            return -1;
        }
        if (exists(p))
            last = i;
    }
    if (last > RECORDS_MAX_SIGNATURES) {
        fprintf(stderr, "kyso: %s: more than %d signatures\n", base, RECORDS_MAX_SIGNATURES);
        return -1;
    }
    for (size_t i = 1; i <= last; i++) {
        snprintf(s->path[i - 1], PATH_LEN, "%s.%zu.p7s", base, i);
        if (!exists(s->path[i - 1])) {
            fprintf(stderr, "kyso: %s: signature %zu is missing (%s) while signature %zu is there\n", base, i,
                    s->path[i - 1], last);
            return -1;
        }
    }
    s->n = last;
    return 0;
}

/* The bytes of a .p7s, at most RECORDS_MAX_SIGNATURE (larger: refused
 * here, before any parsing). */
static int read_sig(const char *path, struct records_blob *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        printf("%s: cannot be read: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = malloc(RECORDS_MAX_SIGNATURE + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n <= RECORDS_MAX_SIGNATURE &&
           ((r = read(fd, buf + n, RECORDS_MAX_SIGNATURE + 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            n += (size_t)r;
    close(fd);
    if (!buf || r < 0 || n > RECORDS_MAX_SIGNATURE) {
        printf("%s: %s\n", path, !buf ? "out of memory" : r < 0 ? "read error" : "larger than 256 KiB");
        free(buf);
        return -1;
    }
    b->data = buf;
    b->len = n;
    return 0;
}

/* Signature number i (its file path) over canon: one line. 0 OK or -1. */
static int verify_one(size_t i, const char *path, const char *canon, size_t len, X509_STORE *anchors,
                      struct records_blob *keep)
{
    struct records_blob b = { 0 };
    if (read_sig(path, &b) != 0)
        return -1;
    struct records_signer_info info;
    char why[320] = "";
    int rc = records_verify_signature((const unsigned char *)canon, len, b.data, b.len, anchors, &info, why,
                                      sizeof(why));
    if (rc == 0)
        printf("signature %zu: OK, signed by %s (certificate %.16s) at %s\n", i, info.cn, info.sha256,
               info.signing_time[0] ? info.signing_time : "(no signing time)");
    else
        printf("signature %zu: FAILED (%s): %s\n", i, path, why);
    if (rc == 0 && keep)
        *keep = b;
    else
        free((void *)b.data);
    return rc;
}

/* Every signature of files over canon; the number that failed, or -1
 * when the anchors cannot be read. keep (may be NULL) gets their bytes. */
static int verify_all(const struct sig_files *files, const char *canon, size_t len, struct records_blob *keep)
{
    char why[256] = "";
    X509_STORE *anchors = policy_trust_load(why, sizeof(why));
    if (!anchors) {
        fprintf(stderr, "kyso: no trust anchors: %s\n", why);
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < files->n; i++)
        if (verify_one(i + 1, files->path[i], canon, len, anchors, keep ? &keep[i] : NULL) != 0)
            bad++;
    X509_STORE_free(anchors);
    return bad;
}

void free_signatures(struct records_blob *sigs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)sigs[i].data);
        sigs[i].data = NULL;
    }
}

int collect_verified_signatures(const char *path, const json_object *obj, struct records_blob sigs[RECORDS_MAX_SIGNATURES],
                                size_t *n)
{
    struct sig_files *files = calloc(1, sizeof(*files));
    char *canon = NULL, why[256] = "";
    size_t len = 0;
    int rc = -1;
    *n = 0;
    memset(sigs, 0, RECORDS_MAX_SIGNATURES * sizeof(*sigs));
    if (!files)
        fprintf(stderr, "kyso: out of memory\n");
    else if (records_canonical(obj, &canon, &len, why, sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s: %s\n", path, why);
    else if (signatures_beside(path, files) == 0) {
        if (files->n == 0)
            rc = 0;
        else if (verify_all(files, canon, len, sigs) == 0) {
            *n = files->n;
            rc = 0;
        } else
            free_signatures(sigs, files->n);
    }
    free(canon);
    free(files);
    return rc;
}

static bool is_path(const char *arg)
{
    size_t n = strlen(arg);
    return strchr(arg, '/') || (n >= 5 && strcmp(arg + n - 5, ".json") == 0);
}

/* The record (from a file or the registry) in canon and its signature files. */
static int load(const char *arg, const char *dir, char **canon, size_t *len, struct sig_files *files)
{
    char why[256] = "";
    if (is_path(arg)) {
        if (record_read_sealed(arg, canon, len, NULL) != 0)
            return -1;
        printf("%s: schema and integrity OK\n", arg);
        return files->n ? 0 : signatures_beside(arg, files);
    }
    json_object *o = NULL;
    size_t nsig = 0;
    if (records_load(dir, arg, &o, &nsig, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: record %s: %s\n", arg, why);
        return -1;
    }
    int rc = records_canonical(o, canon, len, why, sizeof(why));
    json_object_put(o);
    if (rc != 0) {
        fprintf(stderr, "kyso: record %s: %s\n", arg, why);
        return -1;
    }
    printf("%s: schema and integrity OK (registry %s)\n", arg, dir);
    if (files->n)
        return 0;
    for (size_t i = 0; i < nsig && i < RECORDS_MAX_SIGNATURES; i++)
        if (records_signature_path(dir, arg, i + 1, files->path[i], PATH_LEN) != 0)
            return -1;
    files->n = nsig < RECORDS_MAX_SIGNATURES ? nsig : RECORDS_MAX_SIGNATURES;
    return 0;
}

static int verify_usage(void)
{
    fputs("usage: kyso record verify FILE|ID [--dir DIR] [--sig P7S]...\n", stderr);
    return 2;
}

int record_verify_cmd(int argc, char **argv, const char *dir)
{
    struct sig_files *files = calloc(1, sizeof(*files));
    const char *arg = NULL;
    if (!files)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--sig") == 0 && i + 1 < argc && files->n < RECORDS_MAX_SIGNATURES &&
                 strlen(argv[i + 1]) < PATH_LEN)
            strcpy(files->path[files->n++], argv[++i]);
        else if (argv[i][0] != '-' && !arg)
            arg = argv[i];
        else {
            free(files);
            return verify_usage();
        }
    }
    if (!arg) {
        free(files);
        return verify_usage();
    }
    char *canon = NULL;
    size_t len = 0;
    int rc = 1;
    if (load(arg, dir, &canon, &len, files) == 0) {
        if (files->n == 0)
            printf("%s: unsigned: no signature\n", arg);
        else if (verify_all(files, canon, len, NULL) == 0) {
            printf("%s: %zu signature(s) verified\n", arg, files->n);
            rc = 0;
        }
    }
    free(canon);
    free(files);
    return rc;
}
