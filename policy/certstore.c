/* The local certificate store; see certstore.h. */
#include "config.h"

#include "policy/certstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CERT_FILE (64 * 1024)

const char *certstore_dir(enum certstore_scope scope, char *buf, size_t buflen)
{
    const char *v;
    if (scope == CERTSTORE_SYSTEM) {
        v = getenv("KYSO_CERT_DIR");
        snprintf(buf, buflen, "%s", v && *v ? v : "/etc/kyso/certs");
        return buf;
    }
    if ((v = getenv("KYSO_USER_CERT_DIR")) && *v) {
        snprintf(buf, buflen, "%s", v);
    } else if ((v = getenv("XDG_DATA_HOME")) && *v) {
        snprintf(buf, buflen, "%s/kyso/certs", v);
    } else {
        const char *home = getenv("HOME");
        struct passwd *pw = (!home || !*home) ? getpwuid(getuid()) : NULL;
        snprintf(buf, buflen, "%s/.local/share/kyso/certs", home && *home ? home : pw ? pw->pw_dir : "/");
    }
    return buf;
}

static X509 *read_cert_file(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    if (!x) {
        rewind(f);
        x = d2i_X509_fp(f, NULL);
    }
    fclose(f);
    return x;
}

/* mkdir -p, private to the owner for the user store. */
static int make_dirs(const char *path, mode_t mode)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

int certstore_import(enum certstore_scope scope, const char *file, char *stored, size_t stored_len, char *err,
                     size_t errlen)
{
    char dir[1024], path[1200], tmp[1300];
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int rc = -1;

    X509 *x = read_cert_file(file);
    if (!x) {
        snprintf(err, errlen, "%s is not a certificate (PEM or DER X.509)", file);
        return -1;
    }
    int len = i2d_X509(x, &der);
    if (len <= 0 || EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        snprintf(err, errlen, "cannot encode the certificate");
        goto out;
    }
    certstore_dir(scope, dir, sizeof(dir));
    if (make_dirs(dir, scope == CERTSTORE_USER ? 0700 : 0755) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    int n = snprintf(path, sizeof(path), "%s/", dir);
    for (unsigned i = 0; i < mdlen && n > 0 && (size_t)n < sizeof(path) - 3; i++)
        n += snprintf(path + n, sizeof(path) - (size_t)n, "%02x", md[i]);
    snprintf(path + n, sizeof(path) - (size_t)n, ".der");
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    /* Written aside, then renamed: the store never holds half a file. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    bool ok = write(fd, der, (size_t)len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot store %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    snprintf(stored, stored_len, "%s", path);
    rc = 0;
out:
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

void certstore_each(enum certstore_scope scope, int (*fn)(X509 *cert, const char *path, void *arg), void *arg)
{
    char dir[1024], path[1400];
    certstore_dir(scope, dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".der") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_CERT_FILE)
            continue;
        X509 *x = read_cert_file(path);
        if (!x)
            continue; /* a damaged file is skipped, never trusted */
        int stop = fn(x, path, arg);
        X509_free(x);
        if (stop)
            break;
    }
    closedir(d);
}

struct find_ctx {
    const EVP_PKEY *pub;
    unsigned char *der;
    int len;
};

static int match_key(X509 *cert, const char *path, void *arg)
{
    struct find_ctx *c = arg;
    (void)path;
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), c->pub) != 1)
        return 0;
    c->len = i2d_X509(cert, &c->der);
    return c->len > 0;
}

unsigned char *certstore_find_by_key(const EVP_PKEY *pub, size_t *len)
{
    struct find_ctx c = { .pub = pub };
    certstore_each(CERTSTORE_USER, match_key, &c);
    if (!c.der)
        certstore_each(CERTSTORE_SYSTEM, match_key, &c);
    if (!c.der)
        return NULL;
    /* Hand out malloc memory, not OpenSSL's. */
    unsigned char *out = malloc((size_t)c.len);
    if (out) {
        memcpy(out, c.der, (size_t)c.len);
        *len = (size_t)c.len;
    }
    OPENSSL_free(c.der);
    return out;
}
