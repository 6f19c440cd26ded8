/* The CRL cache and the revocation check; see crl.h. */
#include "config.h"

#include "policy/crl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* More issuers than this in memory and the cache starts over: a host
 * knows a handful of CAs. */
#define MAX_ENTRIES 64

const char *policy_crl_dir(void)
{
    return KYSO_LOCALSTATEDIR "/lib/kyso/crl";
}

int policy_crl_path(const char *dir, const X509_NAME *name, char *buf, size_t buflen)
{
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int len = i2d_X509_NAME(name, &der);
    int ok = len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
    OPENSSL_free(der);
    if (!ok)
        return -1;
    char hex[65];
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    int n = snprintf(buf, buflen, "%s/%s.crl", dir, hex);
    return n > 0 && (size_t)n < buflen ? 0 : -1;
}

X509_CRL *policy_crl_parse(const unsigned char *data, size_t len)
{
    if (len == 0 || len > POLICY_CRL_MAX_SIZE)
        return NULL;
    X509_CRL *crl = NULL;
    static const char pem[] = "-----BEGIN";
    if (len >= sizeof(pem) - 1 && memcmp(data, pem, sizeof(pem) - 1) == 0) {
        BIO *b = BIO_new_mem_buf(data, (int)len);
        crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        const unsigned char *p = data;
        crl = d2i_X509_CRL(NULL, &p, (long)len);
        if (crl && p != data + len) { /* trailing bytes: not one DER CRL */
            X509_CRL_free(crl);
            crl = NULL;
        }
    }
    ERR_clear_error();
    return crl;
}

const char *policy_crl_unusable(const X509_CRL *crl)
{
    if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0)
        return "a delta CRL (only complete CRLs are used)";
    int crit = 0;
    ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    if (!idp && crit != -1) {
        return "its issuingDistributionPoint cannot be read";
    }
    if (idp) {
        bool narrowed = idp->onlyuser || idp->onlyCA || idp->onlyattr || idp->onlysomereasons || idp->indirectCRL;
        ISSUING_DIST_POINT_free(idp);
        if (narrowed)
            return "its issuingDistributionPoint narrows its scope (only complete CRLs are used)";
    }
    /* A critical extension kyso does not know changes the CRL's meaning. */
    const STACK_OF(X509_EXTENSION) *exts = X509_CRL_get0_extensions(crl);
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
        if (X509_EXTENSION_get_critical(e) && nid != NID_issuing_distribution_point)
            return "it has a critical extension kyso does not know";
    }
    return NULL;
}

bool policy_crl_signed_by(X509_CRL *crl, X509 *issuer)
{
    bool ok = X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) == 0;
    /* A CA; and if its key usage is given, it must allow signing CRLs. */
    ok = ok && X509_check_ca(issuer) >= 1;
    ok = ok && (!(X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) || (X509_get_key_usage(issuer) & KU_CRL_SIGN));
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    ok = ok && key && X509_CRL_verify(crl, key) == 1;
    ERR_clear_error();
    return ok;
}

time_t policy_crl_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

/* Reads the whole regular file open on fd, at most max bytes. */
static unsigned char *read_fd(int fd, const char *path, size_t max, size_t *len, struct stat *sb, char *why,
                              size_t whylen)
{
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        snprintf(why, whylen, "%s is not a regular file", path);
        return NULL;
    }
    if (sb->st_size <= 0 || (uintmax_t)sb->st_size > max) {
        snprintf(why, whylen, "%s is empty or larger than %zu bytes", path, max);
        return NULL;
    }
    size_t want = (size_t)sb->st_size, got = 0;
    unsigned char *buf = malloc(want);
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, whylen, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "it got shorter");
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    *len = got;
    return buf;
}

unsigned char *policy_crl_read_file(const char *path, size_t max, size_t *len, char *why, size_t whylen)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = read_fd(fd, path, max, len, &sb, why, whylen);
    close(fd);
    return buf;
}

/* ---- the in-memory cache */

/* One issuer's cache file as last seen, and the CRL accepted from it. */
struct entry {
    char path[1100];
    unsigned char issuer_key[32];  /* SHA-256 of the issuer's public key: what verified crl */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool seen;                     /* the fields above describe a file looked at */
    X509_CRL *crl;                 /* verified; NULL if none ever was */
    bool unreadable;               /* the file as seen now cannot be read at all */
    char problem[96];              /* why the file as seen now is not used, or "" */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries[MAX_ENTRIES];
static size_t nentries;

static void free_all(void)
{
    for (size_t i = 0; i < nentries; i++) {
        X509_CRL_free(entries[i]->crl);
        free(entries[i]);
        entries[i] = NULL;
    }
    nentries = 0;
}

void policy_crl_reset(void)
{
    pthread_mutex_lock(&lock);
    free_all();
    pthread_mutex_unlock(&lock);
}

void policy_crl_fork_prepare(void)
{
    pthread_mutex_lock(&lock);
}

void policy_crl_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

void policy_crl_fork_child(void)
{
    /* The forking thread took the lock in prepare and is this thread. */
    pthread_mutex_unlock(&lock);
}

static struct entry *find_entry(const char *path, const unsigned char key[32])
{
    for (size_t i = 0; i < nentries; i++)
        if (strcmp(entries[i]->path, path) == 0 && memcmp(entries[i]->issuer_key, key, 32) == 0)
            return entries[i];
    if (nentries == MAX_ENTRIES)
        free_all();
    struct entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->path, sizeof(e->path), "%s", path);
    memcpy(e->issuer_key, key, 32);
    entries[nentries++] = e;
    return e;
}

static bool same_file(const struct entry *e, const struct stat *sb)
{
    return e->seen && e->dev == sb->st_dev && e->ino == sb->st_ino && e->size == sb->st_size &&
           e->mtime.tv_sec == sb->st_mtim.tv_sec && e->mtime.tv_nsec == sb->st_mtim.tv_nsec;
}

/* Reads and verifies the file that changed; on success it replaces the
 * entry's CRL, otherwise the entry keeps the one it had and says why. */
static void reload(struct entry *e, X509 *issuer)
{
    char why[256];
    size_t len = 0;
    unsigned char *der = NULL;
    X509_CRL *crl = NULL;
    struct stat sb;
    int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    e->problem[0] = '\0';
    e->seen = false;
    e->unreadable = true;
    if (fd < 0) {
        snprintf(e->problem, sizeof(e->problem), "the cache file cannot be opened");
        return;
    }
    /* The identity recorded is the one of the file actually read. */
    der = read_fd(fd, e->path, POLICY_CRL_MAX_SIZE, &len, &sb, why, sizeof(why));
    close(fd);
    if (!der) {
        snprintf(e->problem, sizeof(e->problem), "the cache file cannot be read");
        return;
    }
    e->seen = true;
    e->unreadable = false;
    e->dev = sb.st_dev;
    e->ino = sb.st_ino;
    e->size = sb.st_size;
    e->mtime = sb.st_mtim;
    const unsigned char *p = der;
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    ERR_clear_error();
    if (!crl || p != der + len) {
        snprintf(e->problem, sizeof(e->problem), "the cache file is not a DER CRL");
    } else if (!policy_crl_signed_by(crl, issuer)) {
        snprintf(e->problem, sizeof(e->problem), "the cached CRL's signature does not verify");
    } else if (policy_crl_unusable(crl)) {
        snprintf(e->problem, sizeof(e->problem), "the cached CRL is not a complete CRL");
    } else {
        X509_CRL_free(e->crl);
        e->crl = crl;
        crl = NULL;
    }
    X509_CRL_free(crl);
    free(der);
}

static void format_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "?");
}

static const char *reason_name(const X509_REVOKED *r)
{
    int crit = 0;
    ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
    if (!reason)
        return "unspecified";
    long code = ASN1_ENUMERATED_get(reason);
    ASN1_ENUMERATED_free(reason);
    static const char *const names[] = { "unspecified",   "keyCompromise", "cACompromise",        "affiliationChanged",
                                         "superseded",    "cessationOfOperation", "certificateHold", "?",
                                         "removeFromCRL", "privilegeWithdrawn",   "aACompromise" };
    return code >= 0 && code < (long)(sizeof(names) / sizeof(names[0])) ? names[code] : "?";
}

/* The verdict from one verified CRL. */
static void judge(X509_CRL *crl, X509 *cert, time_t now, struct policy_crl_verdict *v)
{
    char t1[32], t2[32];
    X509_REVOKED *rev = NULL;
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    v->this_update = policy_crl_time(X509_CRL_get0_lastUpdate(crl));
    v->next_update = policy_crl_time(X509_CRL_get0_nextUpdate(crl));
    format_time(v->this_update, t1, sizeof(t1));
    format_time(v->next_update, t2, sizeof(t2));
    /* Listed means refused, stale CRL or not, whatever the date says. */
    if (X509_CRL_get0_by_serial(crl, &rev, serial) != 0 && rev) {
        char when[32];
        format_time(policy_crl_time(X509_REVOKED_get0_revocationDate(rev)), when, sizeof(when));
        v->state = POLICY_CRL_REVOKED;
        snprintf(v->why, sizeof(v->why), "revoked on %s (%s), CRL of %s", when, reason_name(rev), t1);
        return;
    }
    /* No nextUpdate: nothing says the CRL is current, so it is not. */
    if (v->next_update == 0 || now >= v->next_update) {
        v->state = POLICY_CRL_STALE;
        snprintf(v->why, sizeof(v->why), "not listed, but the CRL of %s is stale (next update %s)", t1,
                 v->next_update ? t2 : "not given");
        return;
    }
    v->state = POLICY_CRL_GOOD;
    snprintf(v->why, sizeof(v->why), "not revoked (CRL of %s, next update %s)", t1, t2);
}

int policy_crl_check_in(const char *dir, X509 *cert, X509 *issuer, time_t now, struct policy_crl_verdict *v)
{
    char path[1100];
    unsigned char key[32];
    unsigned int keylen = 0;
    struct stat sb;

    memset(v, 0, sizeof(*v));
    v->state = POLICY_CRL_ERROR;
    if (!dir || !cert || !issuer || X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0) {
        snprintf(v->why, sizeof(v->why), "revocation not checked: the issuer given did not issue the certificate");
        return -1;
    }
    if (policy_crl_path(dir, X509_get_subject_name(issuer), path, sizeof(path)) != 0 ||
        X509_pubkey_digest(issuer, EVP_sha256(), key, &keylen) != 1 || keylen != 32) {
        ERR_clear_error();
        snprintf(v->why, sizeof(v->why), "revocation not checked: the CRL cache path cannot be made");
        return -1;
    }
    if (stat(path, &sb) != 0) {
        /* A cache that is there but cannot be looked into is not "no CRL". */
        if (errno == ENOENT) {
            v->state = POLICY_CRL_NONE;
            snprintf(v->why, sizeof(v->why), "no CRL of the issuer in the cache");
        } else {
            snprintf(v->why, sizeof(v->why), "the CRL cache cannot be read: %s", strerror(errno));
        }
        return -1;
    }

    pthread_mutex_lock(&lock);
    struct entry *e = find_entry(path, key);
    if (!e) {
        pthread_mutex_unlock(&lock);
        snprintf(v->why, sizeof(v->why), "revocation not checked: out of memory");
        return -1;
    }
    if (!same_file(e, &sb))
        reload(e, issuer);
    if (e->crl) {
        judge(e->crl, cert, now, v);
    } else {
        /* A file that cannot be read is a broken cache; one that holds no
         * CRL the issuer signed is as good as none. */
        v->state = e->unreadable ? POLICY_CRL_ERROR : POLICY_CRL_NONE;
        snprintf(v->why, sizeof(v->why), "no usable CRL of the issuer in the cache: %s", e->problem);
    }
    pthread_mutex_unlock(&lock);
    return v->state == POLICY_CRL_GOOD ? 0 : -1;
}

int policy_crl_check(X509 *cert, X509 *issuer, time_t now, struct policy_crl_verdict *v)
{
    return policy_crl_check_in(policy_crl_dir(), cert, issuer, now, v);
}
