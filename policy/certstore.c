/* The local certificate store; see certstore.h. */
#include "config.h"

#include "policy/certstore.h"
#include "policy/trust.h"

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
        snprintf(buf, buflen, "%s", KYSO_SYSCONFDIR "/kyso/certs");
        return buf;
    }
    /* The user's own store: only ever more certificates to check. */
    if ((v = getenv("XDG_DATA_HOME")) && *v == '/') {
        snprintf(buf, buflen, "%s/kyso/certs", v);
    } else {
        const char *home = getenv("HOME");
        struct passwd *pw = (!home || *home != '/') ? getpwuid(getuid()) : NULL;
        snprintf(buf, buflen, "%s/.local/share/kyso/certs", home && *home == '/' ? home : pw ? pw->pw_dir : "/");
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

/* The system store's certificates, as intermediates for chains. */
static int collect(X509 *cert, const char *path, void *arg)
{
    (void)path;
    STACK_OF(X509) *all = arg;
    if (X509_up_ref(cert) == 1 && !sk_X509_push(all, cert))
        X509_free(cert);
    return 0;
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
    /* The module uses only certificates that chain to a trust anchor:
     * storing another would only look as if it worked. */
    char why[384];
    X509_STORE *anchors = policy_trust_load(why, sizeof(why));
    STACK_OF(X509) *intermediates = sk_X509_new_null();
    if (intermediates)
        certstore_each(CERTSTORE_SYSTEM, collect, intermediates);
    bool trusted = anchors && intermediates && policy_trust_chains(anchors, x, intermediates, why, sizeof(why));
    sk_X509_pop_free(intermediates, X509_free);
    X509_STORE_free(anchors);
    if (!trusted) {
        snprintf(err, errlen, "%s is not imported: %s", file, why);
        goto out;
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
    X509_STORE *anchors;
    STACK_OF(X509) *untrusted;
    const char *anchors_why;       /* why there are no anchors */
    X509 *found;
    char why[384];
};

static int match_key(X509 *cert, const char *path, void *arg)
{
    struct find_ctx *c = arg;
    char why[320];
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), c->pub) != 1)
        return 0;
    if (!c->anchors) {
        snprintf(c->why, sizeof(c->why), "%s matches the key but cannot be checked: %s", path, c->anchors_why);
        return 0;
    }
    if (!policy_trust_chains(c->anchors, cert, c->untrusted, why, sizeof(why))) {
        snprintf(c->why, sizeof(c->why), "%s matches the key but %s", path, why);
        return 0;
    }
    if (X509_up_ref(cert) == 1)
        c->found = cert;
    return c->found != NULL;
}

int certstore_find_for_key(const EVP_PKEY *pub, STACK_OF(X509) *intermediates, struct certstore_match *m, char *why,
                           size_t whylen)
{
    char anchors_why[256] = "";
    struct find_ctx c = { .pub = pub, .anchors_why = anchors_why };
    int rc = -1;
    memset(m, 0, sizeof(*m));
    snprintf(c.why, sizeof(c.why), "no certificate in the local store matches the key");
    c.anchors = policy_trust_load(anchors_why, sizeof(anchors_why));
    c.untrusted = sk_X509_new_null();
    if (!c.untrusted)
        goto out;
    for (int i = 0; intermediates && i < sk_X509_num(intermediates); i++) {
        X509 *x = sk_X509_value(intermediates, i);
        if (X509_up_ref(x) == 1 && !sk_X509_push(c.untrusted, x))
            X509_free(x);
    }
    certstore_each(CERTSTORE_SYSTEM, collect, c.untrusted);
    if (!c.anchors)
        snprintf(c.why, sizeof(c.why), "%s", anchors_why);
    static const enum certstore_scope order[] = { CERTSTORE_SYSTEM, CERTSTORE_USER };
    for (size_t i = 0; i < 2 && !c.found; i++) {
        certstore_each(order[i], match_key, &c);
        if (c.found)
            m->scope = order[i];
    }
    if (c.found) {
        unsigned char *der = NULL;
        int len = i2d_X509(c.found, &der);
        /* Hand out malloc memory, not OpenSSL's. */
        m->der = len > 0 ? malloc((size_t)len) : NULL;
        if (m->der) {
            memcpy(m->der, der, (size_t)len);
            m->len = (size_t)len;
            rc = 0;
        } else {
            snprintf(c.why, sizeof(c.why), "out of memory");
        }
        OPENSSL_free(der);
    }
out:
    if (rc != 0)
        snprintf(why, whylen, "%s", c.why);
    X509_free(c.found);
    sk_X509_pop_free(c.untrusted, X509_free);
    X509_STORE_free(c.anchors);
    return rc;
}
