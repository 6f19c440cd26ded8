/* The registry directory. Writing a record: every file goes to a temporary
 * name in the directory first (".tmp-*", mode 0644, fsync'd), then the
 * signatures are renamed to <id>.<n>.p7s and the JSON is linked to
 * <id>.json last (link, not rename, so that an id registered meanwhile is
 * never replaced), then the directory is fsync'd. A crash before the JSON
 * is linked leaves at most temporaries and signatures without a record:
 * no record. Registrations are serialised by a lock on the directory.
 *
 * Readable by every local user (directory 0755, files 0644): the module,
 * running as the signer, reads it for rules M4, M7 and M8, and a registry
 * it could not read would stop every token. Writable by root only. */
#include "config.h"

#include "records/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/canon.h"
#include "records/record.h"
#include "records/sign.h"

const char *records_dir(void)
{
    return KYSO_LOCALSTATEDIR "/lib/kyso/records";
}

static int id_shape(const char *id)
{
    if (strnlen(id, RECORDS_ID_LEN + 1) != RECORDS_ID_LEN || strncmp(id, "KR-", 3) || id[11] != '-')
        return 0;
    for (size_t i = 3; i < RECORDS_ID_LEN; i++) {
        char c = id[i];
        if (i == 11)
            continue;
        if (!((c >= '0' && c <= '9') || (i > 11 && c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

static int path_of(char *buf, size_t len, const char *dir, const char *id, const char *suffix)
{
    int n = snprintf(buf, len, "%s/%s%s", dir, id, suffix);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int records_signature_path(const char *dir, const char *id, size_t n, char *buf, size_t buflen)
{
    char suf[32];
    snprintf(suf, sizeof(suf), ".%zu.p7s", n);
    return path_of(buf, buflen, dir, id, suf);
}

static int write_all(int fd, const void *p, size_t len)
{
    const unsigned char *b = p;
    while (len) {
        ssize_t w = write(fd, b, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        len -= (size_t)w;
    }
    return 0;
}

/* A temporary file in dir holding a then b, durable. Its name in tmp. */
static int temp_file(const char *dir, const void *a, size_t alen, const void *b, size_t blen, char *tmp, size_t tmplen)
{
    int n = snprintf(tmp, tmplen, "%s/.tmp-record.XXXXXX", dir);
    if (n < 0 || (size_t)n >= tmplen)
        return -1;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        tmp[0] = '\0';
        return -1;
    }
    if (fchmod(fd, 0644) < 0 || write_all(fd, a, alen) < 0 || (blen && write_all(fd, b, blen) < 0) ||
        fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        tmp[0] = '\0';
        errno = e;
        return -1;
    }
    return close(fd);
}

static int make_dir(const char *dir, char *why, size_t whylen)
{
    char p[PATH_MAX];
    struct stat st;

    if (strlen(dir) >= sizeof(p) || !*dir) {
        snprintf(why, whylen, "registry directory: path empty or too long");
        return -1;
    }
    strcpy(p, dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) == 0) {
                (void)chmod(p, 0755); /* whatever root's umask: the signers read it */
            } else if (errno != EEXIST) {
                snprintf(why, whylen, "cannot create %s: %s", p, strerror(errno));
                return -1;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%s: not a directory", dir);
        return -1;
    }
    return 0;
}

int records_register(const char *dir, const json_object *obj, const struct records_blob *sigs, size_t n,
                     char *why, size_t whylen)
{
    struct records_problems pr = {0};
    char final[PATH_MAX], jtmp[PATH_MAX] = "", stmp[RECORDS_MAX_SIGNATURES][PATH_MAX];
    size_t placed = 0, written = 0;
    char *canon = NULL;
    size_t clen = 0;
    int dfd = -1, rc = -1;

    if (records_validate(obj, &pr)) {
        snprintf(why, whylen, "not a valid record: %s%s", pr.line[0], pr.n + pr.dropped > 1 ? " (and more)" : "");
        return -1;
    }
    if (n > RECORDS_MAX_SIGNATURES) {
        snprintf(why, whylen, "more than %d signatures", RECORDS_MAX_SIGNATURES);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!sigs[i].data || sigs[i].len == 0 || sigs[i].len > RECORDS_MAX_SIGNATURE) {
            snprintf(why, whylen, "signature %zu: empty or larger than %d bytes", i + 1, RECORDS_MAX_SIGNATURE);
            return -1;
        }
    }
    const char *id = json_object_get_string(json_object_object_get((json_object *)obj, "id"));
    if (records_canonical(obj, &canon, &clen, why, whylen) < 0 || make_dir(dir, why, whylen) < 0)
        goto out;
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || flock(dfd, LOCK_EX) < 0) {
        snprintf(why, whylen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    if (path_of(final, sizeof(final), dir, id, ".json") < 0) {
        snprintf(why, whylen, "%s: path too long", dir);
        goto out;
    }
    if (access(final, F_OK) == 0) {
        snprintf(why, whylen, "record %s is already registered", id);
        goto out;
    }
    /* everything to temporaries first */
    if (temp_file(dir, canon, clen, "\n", 1, jtmp, sizeof(jtmp)) < 0) {
        snprintf(why, whylen, "cannot write in %s: %s", dir, strerror(errno));
        goto out;
    }
    for (; written < n; written++) {
        if (temp_file(dir, sigs[written].data, sigs[written].len, NULL, 0, stmp[written], PATH_MAX) < 0) {
            snprintf(why, whylen, "cannot write in %s: %s", dir, strerror(errno));
            goto out;
        }
    }
    /* the signatures, then the record that makes them part of it */
    for (; placed < n; placed++) {
        char sp[PATH_MAX];
        if (records_signature_path(dir, id, placed + 1, sp, sizeof(sp)) < 0 || rename(stmp[placed], sp) < 0) {
            snprintf(why, whylen, "cannot place signature %zu of %s: %s", placed + 1, id, strerror(errno));
            goto out;
        }
        stmp[placed][0] = '\0';
    }
    if (link(jtmp, final) < 0) {
        snprintf(why, whylen, errno == EEXIST ? "record %s is already registered" : "cannot place record %s: %s", id,
                 strerror(errno));
        goto out;
    }
    unlink(jtmp);
    jtmp[0] = '\0';
    if (fsync(dfd) < 0) {
        /* the record is in place but perhaps not durable: say so, keep it */
        snprintf(why, whylen, "%s: registered but the directory could not be flushed: %s", id, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc < 0 && jtmp[0]) {
        /* the record was not placed: take back what was */
        unlink(jtmp);
        for (size_t i = 0; i < placed; i++) {
            char sp[PATH_MAX];
            if (records_signature_path(dir, id, i + 1, sp, sizeof(sp)) == 0)
                unlink(sp);
        }
        for (size_t i = placed; i < written; i++)
            if (stmp[i][0])
                unlink(stmp[i]);
        if (dfd >= 0)
            fsync(dfd);
    }
    if (dfd >= 0)
        close(dfd);
    free(canon);
    return rc;
}

/* The whole of a regular file of at most max bytes, NUL-terminated. */
static char *slurp(const char *path, size_t max, size_t *len, char *why, size_t whylen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

    if (fd < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uintmax_t)st.st_size > max) {
        snprintf(why, whylen, "%s: not a regular file of at most %zu bytes", path, max);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    char *b = malloc(cap + 1);
    if (!b) {
        snprintf(why, whylen, "out of memory");
        close(fd);
        return NULL;
    }
    while (n < cap) {
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n != cap) {
        snprintf(why, whylen, "%s: short read", path);
        free(b);
        return NULL;
    }
    b[n] = '\0';
    *len = n;
    return b;
}

int records_load(const char *dir, const char *id, json_object **obj, size_t *nsig, char *why, size_t whylen)
{
    char path[PATH_MAX], pwhy[160], *text, *canon = NULL;
    size_t len = 0, clen = 0, count = 0;
    struct records_problems pr = {0};
    json_object *o;

    *obj = NULL;
    if (!id_shape(id)) {
        snprintf(why, whylen, "not a record id: KR-YYYYMMDD-xxxxxxxx");
        return -1;
    }
    if (path_of(path, sizeof(path), dir, id, ".json") < 0) {
        snprintf(why, whylen, "%s: path too long", dir);
        return -1;
    }
    if (!(text = slurp(path, RECORDS_MAX_FILE, &len, why, whylen)))
        return -1;
    o = records_parse(text, len, pwhy, sizeof(pwhy));
    if (!o) {
        snprintf(why, whylen, "%s: damaged: %s", id, pwhy);
        free(text);
        return -1;
    }
    /* the file is the canonical form, byte for byte, or it was edited */
    if (records_canonical(o, &canon, &clen, pwhy, sizeof(pwhy)) < 0 || clen + 1 != len ||
        memcmp(canon, text, clen) || text[clen] != '\n') {
        snprintf(why, whylen, "%s: tampered: not the canonical form it was registered in", id);
        goto bad;
    }
    if (records_validate(o, &pr)) {
        for (size_t i = 0; i < pr.n; i++) {
            if (strstr(pr.line[i], "tampered")) {
                snprintf(why, whylen, "%s: tampered: hash mismatch", id);
                goto bad;
            }
        }
        snprintf(why, whylen, "%s: not a valid record: %s", id, pr.line[0]);
        goto bad;
    }
    {
        const char *in = json_object_get_string(json_object_object_get(o, "id"));
        if (strcmp(in, id)) {
            snprintf(why, whylen, "%s: the file holds record %s", id, in);
            goto bad;
        }
    }
    /* signatures 1..count; one after a gap means one is missing */
    for (size_t i = 1; i <= RECORDS_MAX_SIGNATURES + 1; i++) {
        struct stat st;
        if (records_signature_path(dir, id, i, path, sizeof(path)) < 0)
            break;
        if (lstat(path, &st) < 0) {
            for (size_t j = i + 1; j <= RECORDS_MAX_SIGNATURES; j++) {
                if (records_signature_path(dir, id, j, path, sizeof(path)) == 0 && lstat(path, &st) == 0) {
                    snprintf(why, whylen, "%s: signature %s.%zu.p7s is missing (%s.%zu.p7s exists)", id, id, i, id, j);
                    goto bad;
                }
            }
            break;
        }
        if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > RECORDS_MAX_SIGNATURE) {
            snprintf(why, whylen, "%s: signature %s.%zu.p7s is damaged (empty, too large or not a file)", id, id, i);
            goto bad;
        }
        count = i;
    }
    free(text);
    free(canon);
    if (nsig)
        *nsig = count;
    *obj = o;
    return 0;
bad:
    free(text);
    free(canon);
    json_object_put(o);
    return -1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long records_list(const char *dir, records_list_cb cb, void *ctx, char *why, size_t whylen)
{
    DIR *d = opendir(dir);
    char **ids = NULL;
    size_t n = 0, cap = 0;
    long seen = 0;
    struct dirent *e;

    if (!d) {
        snprintf(why, whylen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l != RECORDS_ID_LEN + 5 || strcmp(e->d_name + RECORDS_ID_LEN, ".json"))
            continue;
        char id[RECORDS_ID_LEN + 1];
        memcpy(id, e->d_name, RECORDS_ID_LEN);
        id[RECORDS_ID_LEN] = '\0';
        if (!id_shape(id))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **ni = realloc(ids, nc * sizeof(*ids));
            if (!ni)
                goto oom;
            ids = ni, cap = nc;
        }
        if (!(ids[n] = strdup(id)))
            goto oom;
        n++;
    }
    closedir(d);
    d = NULL;
    if (n)  /* qsort(NULL, 0, …) is undefined: an empty registry has no array */
        qsort(ids, n, sizeof(*ids), by_name);
    for (size_t i = 0; i < n; i++) {
        json_object *o = NULL;
        char pwhy[256];
        seen++;
        int stop = records_load(dir, ids[i], &o, NULL, pwhy, sizeof(pwhy)) == 0 ? cb(ids[i], o, NULL, ctx)
                                                                                 : cb(ids[i], NULL, pwhy, ctx);
        json_object_put(o);
        if (stop)
            break;
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    return seen;
oom:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    snprintf(why, whylen, "out of memory");
    return -1;
}

struct latest {
    const char *serial;
    json_object *best;
    int64_t best_time;
    char problem[256];
};

static int latest_cb(const char *id, json_object *o, const char *problem, void *ctx)
{
    struct latest *l = ctx;
    int64_t t;

    if (!o) {
        snprintf(l->problem, sizeof(l->problem), "%s", problem);
        return 1;
    }
    json_object *k = json_object_object_get(o, "kind"), *tok = json_object_object_get(o, "token"),
                *cr = json_object_object_get(o, "created");
    (void)id;
    if (strcmp(json_object_get_string(k), "handover") ||
        strcmp(json_object_get_string(json_object_object_get(tok, "serial")), l->serial) ||
        records_time_parse(json_object_get_string(json_object_object_get(cr, "time")), &t) < 0)
        return 0;
    /* later time wins; at the same second, the later id (list order) */
    if (!l->best || t >= l->best_time) {
        json_object_put(l->best);
        l->best = json_object_get(o);
        l->best_time = t;
    }
    return 0;
}

/* A scan of the whole registry: a few hundred records per host at most.
 * A cache keyed by records_registry_stamp() belongs in the caller (the
 * module keeps the answer until the stamp changes). */
int records_latest_handover(const char *dir, const char *token_serial, json_object **obj, char *why, size_t whylen)
{
    struct latest l = {.serial = token_serial};

    *obj = NULL;
    if (records_list(dir, latest_cb, &l, why, whylen) < 0)
        return -1;
    if (l.problem[0]) {
        json_object_put(l.best);
        snprintf(why, whylen, "registry damaged: %s", l.problem);
        return -1;
    }
    *obj = l.best;
    return l.best ? 1 : 0;
}

int records_registry_stamp(const char *dir, struct records_stamp *s)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    if (stat(dir, &st) < 0)
        return -1;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->mtime_sec = st.st_mtim.tv_sec;
    s->mtime_nsec = st.st_mtim.tv_nsec;
    s->ctime_sec = st.st_ctim.tv_sec;
    s->ctime_nsec = st.st_ctim.tv_nsec;
    return 0;
}

int records_stamp_equal(const struct records_stamp *a, const struct records_stamp *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
           a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

int records_check_signatures(const char *dir, const json_object *obj, X509_STORE *anchors, size_t *nsig, char *why,
                             size_t whylen)
{
    json_object *idv = NULL;
    const char *id = json_object_object_get_ex(obj, "id", &idv) ? json_object_get_string(idv) : NULL;
    char path[PATH_MAX], cwhy[160], *canon = NULL;
    size_t clen = 0;
    *nsig = 0;
    if (!id || !id_shape(id) || records_canonical(obj, &canon, &clen, cwhy, sizeof(cwhy)) < 0) {
        snprintf(why, whylen, "not a registered record");
        free(canon);
        return -1;
    }
    int rc = 0;
    for (size_t n = 1; n <= RECORDS_MAX_SIGNATURES && rc == 0; n++) {
        struct stat st;
        if (records_signature_path(dir, id, n, path, sizeof(path)) < 0 || lstat(path, &st) != 0)
            break; /* (records_load reports a gap; past the last one, none) */
        size_t len = 0;
        char *der = slurp(path, RECORDS_MAX_SIGNATURE, &len, cwhy, sizeof(cwhy));
        struct records_signer_info info;
        if (!der) {
            snprintf(why, whylen, "%s: signature %zu: %s", id, n, cwhy);
            rc = -1;
        } else if (!anchors) {
            snprintf(why, whylen, "%s: signature %zu cannot be checked: no trust anchors", id, n);
            rc = -1;
        } else if (records_verify_signature((const unsigned char *)canon, clen, (const unsigned char *)der, len, anchors,
                                            &info, cwhy, sizeof(cwhy)) != 0) {
            snprintf(why, whylen, "%s: signature %zu: %s", id, n, cwhy);
            rc = -1;
        } else {
            *nsig = n;
        }
        free(der);
    }
    free(canon);
    return rc;
}
