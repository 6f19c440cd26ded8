/* kyso crl update [--url URL]... [--cert FILE]... [--timeout SECONDS]
 * kyso crl status
 *
 * update fetches the CRLs named (crlDistributionPoints, http:// and
 * file:// URIs) by the trust anchors, the system certificate store, the
 * certificates on the tokens present and the --cert files (of those only
 * the certificates that chain to a trust anchor), plus the --url ones;
 * each CRL must be signed by a CA that is a trust anchor or chains to
 * one, and be newer than the cached CRL of its issuer. The cache is
 * written by policy/crl_store.c. */
#include "config.h"

#include "tools/cli/crl_cmds.h"

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pcsc/reader.h"
#include "pcsc/token.h"
#include "policy/certstore.h"
#include "policy/config.h"
#include "policy/crl.h"
#include "policy/trust.h"

#define MAX_URLS 256
#define MAX_ARGS 64
#define MAX_URL_LEN 2048
#define HTTP_TIMEOUT_S 30    /* default, per URL: a whole fetch */

struct collect {
    STACK_OF(X509) *certs;         /* every certificate seen: issuers and intermediates */
    STACK_OF(X509) *given;         /* those of the --cert files */
    char *urls[MAX_URLS];
    size_t nurls;
    bool too_many;
};

static void add_url(struct collect *c, const char *url, size_t len)
{
    if (len == 0 || len > MAX_URL_LEN || memchr(url, '\0', len))
        return;
    if (!(len > 7 && strncmp(url, "http://", 7) == 0) && !(len > 7 && strncmp(url, "file://", 7) == 0))
        return; /* ldap:// and others are not fetched */
    for (size_t i = 0; i < c->nurls; i++)
        if (strlen(c->urls[i]) == len && memcmp(c->urls[i], url, len) == 0)
            return;
    if (c->nurls == MAX_URLS) {
        c->too_many = true;
        return;
    }
    char *copy = strndup(url, len);
    if (copy)
        c->urls[c->nurls++] = copy;
}

static void name_text(const X509_NAME *name, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = 0;
    if (b && len > 1) {
        X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
        n = BIO_read(b, buf, (int)len - 1);
    }
    if (len > 0)
        buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
}

/* Every certificate seen is a candidate issuer or intermediate; whose
 * distribution points are fetched is decided once all are known. */
static void add_cert(struct collect *c, X509 *x)
{
    if (X509_up_ref(x) == 1 && !sk_X509_push(c->certs, x))
        X509_free(x);
}

/* The URIs of x's crlDistributionPoints (full names only). */
static void add_urls_of(struct collect *c, X509 *x)
{
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (!dp->distpoint || dp->distpoint->type != 0)
            continue;
        GENERAL_NAMES *names = dp->distpoint->name.fullname;
        for (int j = 0; j < sk_GENERAL_NAME_num(names); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
            if (gn->type == GEN_URI)
                add_url(c, (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                        (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier));
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    ERR_clear_error();
}

/* The URLs of the certificates that chain to a trust anchor: a token or
 * a file anyone made does not get root to fetch what it names. Returns -1
 * if a certificate of a --cert file is refused. */
static int add_trusted_urls(struct collect *c, X509_STORE *anchors)
{
    int rc = 0;
    char why[320], name[256];
    for (int i = 0; i < sk_X509_num(c->certs); i++) {
        X509 *x = sk_X509_value(c->certs, i);
        if (policy_trust_chains(anchors, x, c->certs, why, sizeof(why))) {
            add_urls_of(c, x);
            continue;
        }
        for (int j = 0; j < sk_X509_num(c->given); j++) {
            if (X509_cmp(sk_X509_value(c->given, j), x) == 0) {
                name_text(X509_get_subject_name(x), name, sizeof(name));
                fprintf(stderr, "kyso: --cert %s: %s; its CRLs are not fetched\n", name, why);
                rc = -1;
                break;
            }
        }
    }
    return rc;
}

static void add_der(struct collect *c, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = len > 0 && len < 1024 * 1024 ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (x)
        add_cert(c, x);
    X509_free(x);
    ERR_clear_error();
}

static int from_store(X509 *cert, const char *path, void *arg)
{
    (void)path;
    add_cert(arg, cert);
    return 0;
}

/* The certificates on every token present; no pcscd means no token. */
static void from_tokens(struct collect *c)
{
    struct pcsc_context ctx = { 0 };
    struct pcsc_reader_list list = { 0 };
    if (pcsc_context_establish(&ctx) != PCSC_OK)
        return;
    if (pcsc_list_readers(&ctx, &list) != PCSC_OK) {
        pcsc_context_release(&ctx);
        return;
    }
    for (size_t i = 0; i < list.count; i++) {
        struct pcsc_card card = { 0 };
        struct token t;
        if (pcsc_connect(&ctx, list.names[i], &card) != PCSC_OK)
            continue;
        int rc = pcsc_begin_transaction(&card);
        if (rc == PCSC_OK) {
            if (token_open(&t, &card) == PCSC_OK) {
                if (token_enumerate(&t) == PCSC_OK) {
                    for (size_t k = 0; k < t.nkeys; k++)
                        if (t.keys[k].cert)
                            add_der(c, t.keys[k].cert, t.keys[k].cert_len);
                    for (size_t k = 0; k < t.ncerts; k++)
                        add_der(c, t.certs[k].der, t.certs[k].len);
                } else {
                    fprintf(stderr, "kyso: the token in %s cannot be read; its certificates' CRLs are not known\n",
                            list.names[i]);
                }
                token_close(&t);
            }
            pcsc_end_transaction(&card);
        }
        pcsc_disconnect(&card, false);
    }
    pcsc_reader_list_free(&list);
    pcsc_context_release(&ctx);
}

static void add_given(struct collect *c, X509 *x)
{
    add_cert(c, x);
    if (X509_up_ref(x) == 1 && !sk_X509_push(c->given, x))
        X509_free(x);
}

/* Every certificate of a PEM file, or its one DER certificate. */
static int from_file(struct collect *c, const char *file)
{
    char why[256];
    size_t len = 0, n = 0;
    unsigned char *data = policy_crl_read_file(file, 1024 * 1024, &len, why, sizeof(why));
    if (!data) {
        fprintf(stderr, "kyso: %s\n", why);
        return -1;
    }
    BIO *b = BIO_new_mem_buf(data, (int)len);
    X509 *x;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        add_given(c, x);
        X509_free(x);
        n++;
    }
    BIO_free(b);
    ERR_clear_error();
    if (n == 0) {
        const unsigned char *p = data;
        if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && p == data + len) {
            add_given(c, x);
            n++;
        }
        X509_free(x);
        ERR_clear_error();
    }
    free(data);
    if (n == 0)
        fprintf(stderr, "kyso: %s holds no certificate (PEM or DER)\n", file);
    return n ? 0 : -1;
}

/* The last OpenSSL error as text, for one line. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, len, "%s", r ? r : "unknown error");
    ERR_clear_error();
    return buf;
}

/* Fetches url: the body, at most POLICY_CRL_MAX_SIZE bytes (malloc'd). */
static unsigned char *fetch(const char *url, int timeout, size_t *len, char *why, size_t whylen)
{
    if (strncmp(url, "file://", 7) == 0) {
        if (url[7] != '/') {
            snprintf(why, whylen, "only local file:///PATH URLs are read");
            return NULL;
        }
        return policy_crl_read_file(url + 7, POLICY_CRL_MAX_SIZE, len, why, whylen);
    }
    char reason[160];
    BIO *body = OSSL_HTTP_get(url, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, POLICY_CRL_MAX_SIZE,
                              timeout);
    if (!body) {
        snprintf(why, whylen, "cannot fetch it: %s", ssl_reason(reason, sizeof(reason)));
        return NULL;
    }
    /* Without an expected content type the body comes as a stream on a
     * non-blocking connection: read it to its end, within the timeout. */
    time_t deadline = time(NULL) + timeout;
    size_t cap = 64 * 1024, got = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        if (got == cap) {
            unsigned char *nbuf = cap < POLICY_CRL_MAX_SIZE ? realloc(buf, cap * 2) : NULL;
            if (!nbuf) {
                snprintf(why, whylen, "the answer is larger than %d bytes", POLICY_CRL_MAX_SIZE);
                free(buf);
                buf = NULL;
                break;
            }
            buf = nbuf;
            cap *= 2;
        }
        int n = BIO_read(body, buf + got, (int)(cap - got));
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || !BIO_should_retry(body)) {
            if (n < 0) {
                snprintf(why, whylen, "the connection broke: %s", ssl_reason(reason, sizeof(reason)));
                free(buf);
                buf = NULL;
            }
            break;
        }
        if (BIO_wait(body, deadline, 100) <= 0) {
            snprintf(why, whylen, "no complete answer within %d s", timeout);
            free(buf);
            buf = NULL;
        }
    }
    BIO_free_all(body);
    ERR_clear_error();
    if (buf && got == 0) {
        snprintf(why, whylen, "the answer is empty");
        free(buf);
        buf = NULL;
    } else if (!buf && !*why) {
        snprintf(why, whylen, "out of memory");
    }
    *len = got;
    return buf;
}

static void time_text(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (t == 0 || !gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "none");
}

/* The CA that signed crl among c's certificates, if it is a trust anchor
 * or chains to one; NULL with why otherwise. */
static X509 *find_issuer(struct collect *c, X509_STORE *anchors, X509_CRL *crl, char *why, size_t whylen)
{
    bool named = false;
    char chain_why[320] = "";
    for (int i = 0; i < sk_X509_num(c->certs); i++) {
        X509 *x = sk_X509_value(c->certs, i);
        if (X509_NAME_cmp(X509_get_subject_name(x), X509_CRL_get_issuer(crl)) != 0)
            continue;
        named = true;
        if (!policy_crl_signed_by(crl, x))
            continue;
        if (anchors && policy_trust_chains(anchors, x, c->certs, chain_why, sizeof(chain_why)))
            return x;
    }
    if (!named)
        snprintf(why, whylen, "refused: its issuer is not a known CA");
    else if (chain_why[0])
        snprintf(why, whylen, "refused: its issuer %s", chain_why);
    else
        snprintf(why, whylen, "refused: its signature does not verify with its issuer's key");
    return NULL;
}

static int update_one(struct collect *c, X509_STORE *anchors, const char *url, int timeout)
{
    char why[512] = "", name[256], t1[32], t2[32];
    size_t len = 0;
    unsigned char *data = fetch(url, timeout, &len, why, sizeof(why));
    if (!data) {
        fprintf(stderr, "kyso: %s: %s\n", url, why);
        return -1;
    }
    X509_CRL *crl = policy_crl_parse(data, len);
    free(data);
    if (!crl) {
        fprintf(stderr, "kyso: %s: not a CRL (DER or PEM)\n", url);
        return -1;
    }
    int rc = -1;
    X509 *issuer = find_issuer(c, anchors, crl, why, sizeof(why));
    name_text(X509_CRL_get_issuer(crl), name, sizeof(name));
    if (!issuer) {
        fprintf(stderr, "kyso: %s: CRL of %s %s; the cached one is kept\n", url, name, why);
        goto out;
    }
    switch (policy_crl_store_in(policy_crl_dir(), crl, issuer, why, sizeof(why))) {
    case POLICY_CRL_STORED:
    case POLICY_CRL_UNCHANGED:
        time_text(policy_crl_time(X509_CRL_get0_lastUpdate(crl)), t1, sizeof(t1));
        time_text(policy_crl_time(X509_CRL_get0_nextUpdate(crl)), t2, sizeof(t2));
        printf("%s: %s (CRL of %s, thisUpdate %s, nextUpdate %s)\n", url, why[0] ? "stored" : "unchanged", name,
               t1, t2);
        if (policy_crl_time(X509_CRL_get0_nextUpdate(crl)) <= time(NULL))
            fprintf(stderr, "kyso: %s: warning: the CRL of %s is already past its nextUpdate\n", url, name);
        rc = 0;
        break;
    case POLICY_CRL_OLDER:
    case POLICY_CRL_FAILED:
        fprintf(stderr, "kyso: %s: CRL of %s %s; the cached one is kept\n", url, name, why);
        break;
    }
out:
    X509_CRL_free(crl);
    return rc;
}

static int usage_error(const char *what)
{
    fprintf(stderr, "kyso: %s\nusage: kyso crl update [--url URL]... [--cert FILE]... [--timeout SECONDS]\n       kyso crl status\n",
            what);
    return 2;
}

int crl_cmd_update(int argc, char **argv)
{
    const char *urls[MAX_ARGS], *files[MAX_ARGS];
    size_t nurls = 0, nfiles = 0;
    int timeout = HTTP_TIMEOUT_S;
    for (int i = 2; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            long t = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || t < 1 || t > 3600)
                return usage_error("--timeout takes seconds, 1 to 3600");
            timeout = (int)t;
            continue;
        }
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc && nurls < MAX_ARGS)
            urls[nurls++] = argv[++i];
        else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc && nfiles < MAX_ARGS)
            files[nfiles++] = argv[++i];
        else
            return usage_error("bad argument");
    }
    for (size_t i = 0; i < nurls; i++)
        if (strncmp(urls[i], "http://", 7) != 0 && strncmp(urls[i], "file://", 7) != 0)
            return usage_error("a --url must be http:// or file://");

    char why[384];
    X509_STORE *anchors = policy_trust_load(why, sizeof(why));
    if (!anchors) {
        fprintf(stderr, "kyso: %s; no CRL can be checked\n", why);
        return 1;
    }
    struct collect c = { .certs = sk_X509_new_null(), .given = sk_X509_new_null() };
    int failed = 0;
    if (!c.certs || !c.given) {
        sk_X509_free(c.certs);
        sk_X509_free(c.given);
        X509_STORE_free(anchors);
        fprintf(stderr, "kyso: out of memory\n");
        return 1;
    }
    STACK_OF(X509) *roots = X509_STORE_get1_all_certs(anchors);
    for (int i = 0; i < sk_X509_num(roots); i++)
        add_cert(&c, sk_X509_value(roots, i));
    sk_X509_pop_free(roots, X509_free);
    certstore_each(CERTSTORE_SYSTEM, from_store, &c);
    from_tokens(&c);
    for (size_t i = 0; i < nfiles; i++)
        failed |= from_file(&c, files[i]) != 0;
    failed |= add_trusted_urls(&c, anchors) != 0;
    for (size_t i = 0; i < nurls; i++)
        add_url(&c, urls[i], strlen(urls[i]));
    /* and root's: [crl] url = in kyso.conf */
    struct policy_config *conf = policy_config_load_dir(policy_conf_dir(), true);
    for (size_t i = 0; conf && !conf->broken && i < conf->ncrl_urls; i++)
        add_url(&c, conf->crl_urls[i], strlen(conf->crl_urls[i]));
    if (conf && conf->broken)
        fprintf(stderr, "kyso: %s: %s; its [crl] urls are not used\n", policy_conf_dir(), conf->problems[0]);
    policy_config_free(conf);
    if (c.too_many) {
        fprintf(stderr, "kyso: more than %d CRL URLs; the others are not fetched\n", MAX_URLS);
        failed = 1;
    }
    if (c.nurls == 0) {
        fprintf(stderr, "kyso: no CRL distribution point found (trust anchors, system store, tokens); "
                        "give one with --url\n");
        failed = 1;
    }
    for (size_t i = 0; i < c.nurls; i++)
        failed |= update_one(&c, anchors, c.urls[i], timeout) != 0;
    for (size_t i = 0; i < c.nurls; i++)
        free(c.urls[i]);
    sk_X509_pop_free(c.certs, X509_free);
    sk_X509_pop_free(c.given, X509_free);
    X509_STORE_free(anchors);
    return failed ? 1 : 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One cache file; 0 when current and verified, -1 on any problem. */
static int status_one(struct collect *c, X509_STORE *anchors, const char *dir, const char *file, time_t now)
{
    char path[1100], want[1100], why[512], name[256], t1[32], t2[32];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    unsigned char *der = policy_crl_read_file(path, POLICY_CRL_MAX_SIZE, &len, why, sizeof(why));
    const unsigned char *p = der;
    X509_CRL *crl = der ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
    ERR_clear_error();
    if (!crl || p != der + len) {
        printf("%s\n  UNREADABLE: %s\n", path, der ? "not a DER CRL" : why);
        fprintf(stderr, "kyso: %s: %s\n", path, der ? "not a DER CRL" : why);
        X509_CRL_free(crl);
        free(der);
        return -1;
    }
    free(der);
    int rc = 0;
    time_t tu = policy_crl_time(X509_CRL_get0_lastUpdate(crl));
    time_t nu = policy_crl_time(X509_CRL_get0_nextUpdate(crl));
    name_text(X509_CRL_get_issuer(crl), name, sizeof(name));
    time_text(tu, t1, sizeof(t1));
    time_text(nu, t2, sizeof(t2));
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    char *numtext = num ? i2s_ASN1_INTEGER(NULL, num) : NULL;
    printf("%s\n  issuer:     %s\n  CRL number: %s\n", path, name, numtext ? numtext : "none");
    OPENSSL_free(numtext);
    ASN1_INTEGER_free(num);
    long long age = tu && now > tu ? (long long)(now - tu) : 0;
    int entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
    printf("  thisUpdate: %s (age %lldd %02lldh)\n  nextUpdate: %s\n  entries:    %d\n", t1, age / 86400,
           age % 86400 / 3600, t2, entries > 0 ? entries : 0);

    if (policy_crl_path(dir, X509_CRL_get_issuer(crl), want, sizeof(want)) != 0 || strcmp(want, path) != 0) {
        printf("  MISNAMED: a CRL of this issuer belongs in %s; it is never used\n", want);
        fprintf(stderr, "kyso: %s: not the cache file of its issuer\n", path);
        rc = -1;
    }
    X509 *issuer = find_issuer(c, anchors, crl, why, sizeof(why));
    if (issuer) {
        printf("  signature:  verified\n");
    } else if (strstr(why, "not a known CA")) {
        printf("  signature:  not checked (its issuer is not a trust anchor or in the system store)\n");
    } else {
        printf("  signature:  NOT VERIFIED (%s)\n", why);
        fprintf(stderr, "kyso: %s: the CRL of %s %s\n", path, name, why);
        rc = -1;
    }
    const char *unusable = policy_crl_unusable(crl);
    if (unusable) {
        printf("  UNUSABLE:   %s\n", unusable);
        rc = -1;
    }
    if (nu == 0 || now >= nu) {
        printf("  state:      stale (past its nextUpdate)\n");
        fprintf(stderr, "kyso: %s: the CRL of %s is stale (nextUpdate %s)\n", path, name, t2);
        rc = -1;
    } else {
        printf("  state:      current\n");
    }
    X509_CRL_free(crl);
    return rc;
}

int crl_cmd_status(int argc, char **argv)
{
    (void)argv;
    if (argc != 2)
        return usage_error("crl status takes no argument");
    const char *dir = policy_crl_dir();
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "kyso: no CRL cache at %s: run `kyso crl update`\n", dir);
        return 1;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] != '.' && l > 4 && strcmp(e->d_name + l - 4, ".crl") == 0 && (names[n] = strdup(e->d_name)))
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);

    /* Signatures are checked with the anchors and the system store. */
    char why[384];
    X509_STORE *anchors = policy_trust_load(why, sizeof(why));
    struct collect c = { .certs = sk_X509_new_null() };
    STACK_OF(X509) *roots = anchors ? X509_STORE_get1_all_certs(anchors) : NULL;
    for (int i = 0; c.certs && i < sk_X509_num(roots); i++)
        add_cert(&c, sk_X509_value(roots, i));
    sk_X509_pop_free(roots, X509_free);
    if (c.certs)
        certstore_each(CERTSTORE_SYSTEM, from_store, &c);

    int failed = 0;
    time_t now = time(NULL);
    if (n == 0) {
        fprintf(stderr, "kyso: the CRL cache %s is empty: run `kyso crl update`\n", dir);
        failed = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (c.certs)
            failed |= status_one(&c, anchors, dir, names[i], now) != 0;
        free(names[i]);
    }
    if (!c.certs) {
        fprintf(stderr, "kyso: out of memory\n");
        failed = 1;
    }
    sk_X509_pop_free(c.certs, X509_free);
    X509_STORE_free(anchors);
    return failed ? 1 : 0;
}
