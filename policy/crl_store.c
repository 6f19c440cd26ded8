/* Writing the CRL cache (kyso crl update); see crl.h for the layout. */
#include "config.h"

#include "policy/crl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p with mode for what it creates (readable by every user: the
 * module of any signer reads the cache). */
static int make_dirs(const char *path, mode_t mode)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -1;
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, mode) == 0) {
                if (chmod(tmp, mode) != 0) /* the umask does not decide */
                    return -1;
            } else if (errno != EEXIST) {
                return -1;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

/* -1, 0, 1 as a is lower, equal or higher than b; a missing number is lowest. */
static int cmp_number(const X509_CRL *a, const X509_CRL *b)
{
    ASN1_INTEGER *na = X509_CRL_get_ext_d2i(a, NID_crl_number, NULL, NULL);
    ASN1_INTEGER *nb = X509_CRL_get_ext_d2i(b, NID_crl_number, NULL, NULL);
    int r = na && nb ? ASN1_INTEGER_cmp(na, nb) : (na ? 1 : nb ? -1 : 0);
    ASN1_INTEGER_free(na);
    ASN1_INTEGER_free(nb);
    ERR_clear_error();
    return r < 0 ? -1 : r > 0;
}

/* Writes der to path by way of a temporary file in the same directory. */
static int write_atomic(const char *dir, const char *path, const unsigned char *der, size_t len, char *why,
                        size_t whylen)
{
    char tmp[1200];
    if (snprintf(tmp, sizeof(tmp), "%s/.crl-XXXXXX", dir) >= (int)sizeof(tmp)) {
        snprintf(why, whylen, "the cache path is too long");
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot write in %s: %s", dir, strerror(errno));
        return -1;
    }
    bool ok = fchmod(fd, 0644) == 0;
    for (size_t off = 0; ok && off < len;) {
        ssize_t n = write(fd, der + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        off += ok ? (size_t)n : 0;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(why, whylen, "cannot store %s: %s", path, strerror(ok ? errno : saved));
        unlink(tmp);
        return -1;
    }
    /* The rename itself is durable only once the directory is. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        snprintf(why, whylen, "cannot sync %s: %s", dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    close(dfd);
    return 0;
}

enum policy_crl_store_result policy_crl_store_in(const char *dir, X509_CRL *crl, X509 *issuer, char *why,
                                                 size_t whylen)
{
    char path[1100];
    unsigned char *der = NULL, *old = NULL;
    size_t oldlen = 0;
    X509_CRL *cached = NULL;
    enum policy_crl_store_result res = POLICY_CRL_FAILED;

    why[0] = '\0';
    const char *unusable = policy_crl_unusable(crl);
    if (unusable) {
        snprintf(why, whylen, "refused: %s", unusable);
        return POLICY_CRL_FAILED;
    }
    if (!policy_crl_signed_by(crl, issuer)) {
        snprintf(why, whylen, "refused: its signature does not verify with its issuer's key");
        return POLICY_CRL_FAILED;
    }
    int len = i2d_X509_CRL(crl, &der);
    if (len <= 0 || (size_t)len > POLICY_CRL_MAX_SIZE ||
        policy_crl_path(dir, X509_CRL_get_issuer(crl), path, sizeof(path)) != 0) {
        snprintf(why, whylen, "cannot encode the CRL or name its cache file");
        goto out;
    }
    if (make_dirs(dir, 0755) != 0) {
        snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    /* The cached CRL counts only if it is one this issuer signed. */
    char readwhy[256];
    old = policy_crl_read_file(path, POLICY_CRL_MAX_SIZE, &oldlen, readwhy, sizeof(readwhy));
    const unsigned char *p = old;
    cached = old ? d2i_X509_CRL(NULL, &p, (long)oldlen) : NULL;
    ERR_clear_error();
    if (cached && p == old + oldlen && policy_crl_signed_by(cached, issuer)) {
        if (oldlen == (size_t)len && memcmp(old, der, oldlen) == 0) {
            res = POLICY_CRL_UNCHANGED;
            goto out;
        }
        time_t t_new = policy_crl_time(X509_CRL_get0_lastUpdate(crl));
        time_t t_old = policy_crl_time(X509_CRL_get0_lastUpdate(cached));
        int num = cmp_number(crl, cached);
        if (num < 0 || t_new < t_old || (num == 0 && t_new == t_old)) {
            snprintf(why, whylen, "refused: not newer than the cached CRL (%s)",
                     num < 0 ? "lower CRL number" : t_new < t_old ? "earlier thisUpdate" : "same number and thisUpdate");
            res = POLICY_CRL_OLDER;
            goto out;
        }
    }
    if (write_atomic(dir, path, der, (size_t)len, why, whylen) == 0) {
        res = POLICY_CRL_STORED;
        snprintf(why, whylen, "%s", path);
    }
out:
    X509_CRL_free(cached);
    free(old);
    OPENSSL_free(der);
    return res;
}
