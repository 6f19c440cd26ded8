/* The trust anchors; see trust.h. */
#include "config.h"

#include "policy/trust.h"

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ANCHOR_FILE (256 * 1024)

const char *policy_trust_dir(void)
{
    return KYSO_SYSCONFDIR "/kyso/trust";
}

/* Adds every certificate of one file (PEM, several allowed; or one DER). */
static size_t add_file(X509_STORE *store, const char *path)
{
    size_t added = 0;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return 0;
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, x) == 1)
            added++;
        X509_free(x);
    }
    if (added == 0) {
        rewind(f);
        if ((x = d2i_X509_fp(f, NULL)) != NULL) {
            added += X509_STORE_add_cert(store, x) == 1;
            X509_free(x);
        }
    }
    ERR_clear_error(); /* the end of a PEM file is an "error" */
    fclose(f);
    return added;
}

X509_STORE *policy_trust_load(char *why, size_t whylen)
{
    const char *dir = policy_trust_dir();
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(why, whylen, "no trust anchors: %s cannot be read", dir);
        return NULL;
    }
    X509_STORE *store = X509_STORE_new();
    size_t n = 0;
    struct dirent *e;
    while (store && (e = readdir(d)) != NULL) {
        char path[1024];
        struct stat sb;
        if (e->d_name[0] == '.' || snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size <= MAX_ANCHOR_FILE)
            n += add_file(store, path);
    }
    closedir(d);
    if (store && n == 0) {
        snprintf(why, whylen, "no trust anchors: %s holds no certificate", dir);
        X509_STORE_free(store);
        return NULL;
    }
    if (!store)
        snprintf(why, whylen, "out of memory");
    return store;
}

bool policy_trust_chains(X509_STORE *store, X509 *cert, STACK_OF(X509) *untrusted, char *why, size_t whylen)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = false;
    if (!ctx || X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1) {
        snprintf(why, whylen, "out of memory");
        X509_STORE_CTX_free(ctx);
        return false;
    }
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
    ok = X509_verify_cert(ctx) == 1;
    if (!ok)
        snprintf(why, whylen, "it does not chain to a trust anchor of %s: %s", policy_trust_dir(),
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}
