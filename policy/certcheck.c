/* Rules M1 and M12 for one certificate; see certcheck.h.
 *
 * On the signing path this runs for every signature, so what is costly is
 * kept: the anchors (reloaded when a file of the trust directory changes,
 * by stat) and, for the last few certificates, whether they chain and
 * to which issuer (forgotten when the anchors change). The validity
 * period and the CRL are looked at on every call: time moves and CRLs are
 * replaced (policy/crl.c keeps its own parsed copies). */
#include "config.h"

#include "policy/certcheck.h"

#include <dirent.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/crl.h"
#include "policy/trust.h"

#define MEMO_SIZE 16
#define MAX_STAMPS 64

struct memo {
    bool used;
    uint8_t sha256[32];
    unsigned generation;
    bool chains;
    X509 *issuer;             /* the issuing certificate found by the chain */
    char why[160];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *anchors;
static char anchors_why[160];
static unsigned generation;   /* of the anchors: memo entries of another are stale */
static bool anchors_loaded;
static size_t nstamps;
static struct {
    ino_t ino;
    off_t size;
    struct timespec mtime;
} stamps[MAX_STAMPS];
static struct memo memo[MEMO_SIZE];
static size_t memo_next;
/* Certificates as parsed: OpenSSL 3 takes some 150 µs to parse one (its
 * public key goes through the provider decoders), twice per signature
 * otherwise (M1 and M12). Keyed by the SHA-256 of the DER. */
static struct {
    bool used;
    uint8_t sha256[32];
    X509 *x;
} parsed[MEMO_SIZE];
static size_t parsed_next;

/* The trust directory and its files, by stat: whether they changed since
 * the anchors were read. With fill, the stamps are taken instead. */
static bool trust_changed(bool fill)
{
    const char *dir = policy_trust_dir();
    struct stat st;
    size_t n = 0;
    bool changed = false;
    if (stat(dir, &st) != 0) {
        changed = nstamps != 0;
        if (fill)
            nstamps = 0;
        return changed;
    }
#define STAMP(s)                                                                                                 \
    do {                                                                                                         \
        if (n < MAX_STAMPS) {                                                                                    \
            if (fill) {                                                                                          \
                stamps[n].ino = (s).st_ino;                                                                      \
                stamps[n].size = (s).st_size;                                                                    \
                stamps[n].mtime = (s).st_mtim;                                                                   \
            } else if (n >= nstamps || stamps[n].ino != (s).st_ino || stamps[n].size != (s).st_size ||          \
                       stamps[n].mtime.tv_sec != (s).st_mtim.tv_sec ||                                           \
                       stamps[n].mtime.tv_nsec != (s).st_mtim.tv_nsec)                                           \
                changed = true;                                                                                  \
        }                                                                                                        \
        n++;                                                                                                     \
    } while (0)
    STAMP(st);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[1024];
        if (e->d_name[0] == '.' || snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        if (stat(path, &st) == 0)
            STAMP(st);
    }
#undef STAMP
    if (d)
        closedir(d);
    if (fill)
        nstamps = n < MAX_STAMPS ? n : MAX_STAMPS;
    else if (n != nstamps)
        changed = true;
    return changed;
}

static void memo_clear(void)
{
    for (size_t i = 0; i < MEMO_SIZE; i++) {
        X509_free(memo[i].issuer);
        memset(&memo[i], 0, sizeof(memo[i]));
    }
}

/* With the lock held: the anchors, current. */
static void anchors_refresh(void)
{
    if (anchors_loaded && !trust_changed(false))
        return;
    X509_STORE_free(anchors);
    anchors = policy_trust_load(anchors_why, sizeof(anchors_why));
    trust_changed(true);
    anchors_loaded = true;
    generation++;
    memo_clear();
}

/* der parsed, a new reference (X509_free), or NULL when it is not exactly
 * one certificate; sha256 is set to its hash. */
static X509 *parse_cached(const uint8_t *der, size_t len, uint8_t sha256[32])
{
    unsigned n = 0;
    if (len > LONG_MAX || EVP_Digest(der, len, sha256, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        ERR_clear_error();
        return NULL;
    }
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < MEMO_SIZE; i++)
        if (parsed[i].used && memcmp(parsed[i].sha256, sha256, 32) == 0 && X509_up_ref(parsed[i].x) == 1) {
            X509 *x = parsed[i].x;
            pthread_mutex_unlock(&lock);
            return x;
        }
    pthread_mutex_unlock(&lock);
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x || p != der + len) {
        X509_free(x);
        ERR_clear_error();
        return NULL;
    }
    pthread_mutex_lock(&lock);
    size_t slot = parsed_next++ % MEMO_SIZE;
    X509_free(parsed[slot].x);
    parsed[slot].used = X509_up_ref(x) == 1;
    parsed[slot].x = parsed[slot].used ? x : NULL;
    memcpy(parsed[slot].sha256, sha256, 32);
    pthread_mutex_unlock(&lock);
    return x;
}

static void parsed_clear(void)
{
    for (size_t i = 0; i < MEMO_SIZE; i++) {
        X509_free(parsed[i].x);
        memset(&parsed[i], 0, sizeof(parsed[i]));
    }
}

void policy_cert_fork_prepare(void)
{
    pthread_mutex_lock(&lock);
}

void policy_cert_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

void policy_cert_fork_child(void)
{
    pthread_mutex_unlock(&lock);
}

void policy_cert_reset(void)
{
    pthread_mutex_lock(&lock);
    X509_STORE_free(anchors);
    anchors = NULL;
    anchors_loaded = false;
    memo_clear();
    parsed_clear();
    pthread_mutex_unlock(&lock);
}

/* Whether x chains to an anchor, and its issuer (a new reference), kept
 * for the next call with the same certificate. */
static bool chains(X509 *x, const uint8_t sha256[32], X509 **issuer, char *why, size_t whylen)
{
    pthread_mutex_lock(&lock);
    anchors_refresh();
    for (size_t i = 0; i < MEMO_SIZE; i++) {
        struct memo *m = &memo[i];
        if (m->used && m->generation == generation && memcmp(m->sha256, sha256, 32) == 0) {
            bool ok = m->chains;
            if (ok && m->issuer && X509_up_ref(m->issuer) == 1)
                *issuer = m->issuer;
            snprintf(why, whylen, "%s", m->why);
            pthread_mutex_unlock(&lock);
            return ok;
        }
    }
    bool ok = false;
    X509 *found = NULL;
    if (!anchors) {
        snprintf(why, whylen, "%s", anchors_why);
    } else {
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (ctx && X509_STORE_CTX_init(ctx, anchors, x, NULL) == 1) {
            /* Time is judged by the caller, at the time it is given. */
            X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
            ok = X509_verify_cert(ctx) == 1;
            if (ok) {
                STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
                /* A self-signed anchor used as a signing certificate is
                 * its own issuer. */
                found = sk_X509_value(chain, sk_X509_num(chain) > 1 ? 1 : 0);
                if (found && X509_up_ref(found) != 1)
                    found = NULL;
            } else
                snprintf(why, whylen, "it does not chain to a trust anchor of %s: %s", policy_trust_dir(),
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        } else
            snprintf(why, whylen, "out of memory");
        X509_STORE_CTX_free(ctx);
        ERR_clear_error();
    }
    struct memo *m = &memo[memo_next++ % MEMO_SIZE];
    X509_free(m->issuer);
    m->used = true;
    memcpy(m->sha256, sha256, 32);
    m->generation = generation;
    m->chains = ok;
    m->issuer = NULL;
    if (found && X509_up_ref(found) == 1)
        m->issuer = found;
    snprintf(m->why, sizeof(m->why), "%s", ok ? "" : why);
    pthread_mutex_unlock(&lock);
    *issuer = found;
    return ok;
}

const char *policy_cert_state_name(enum policy_cert_state s)
{
    static const char *const names[] = { [POLICY_CERT_VALID] = "valid",
                                         [POLICY_CERT_EXPIRED] = "expired",
                                         [POLICY_CERT_NOT_YET_VALID] = "not yet valid",
                                         [POLICY_CERT_UNTRUSTED] = "untrusted",
                                         [POLICY_CERT_REVOKED] = "revoked",
                                         [POLICY_CERT_CRL_STALE] = "CRL stale",
                                         [POLICY_CERT_NO_CRL] = "no CRL",
                                         [POLICY_CERT_UNREADABLE] = "unreadable",
                                         [POLICY_CERT_NONE] = "no certificate" };
    return s <= POLICY_CERT_NONE ? names[s] : "?";
}

static void utc(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        snprintf(buf, len, "?");
    else
        strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static time_t to_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static void refuse(struct policy_cert_verdict *v, enum policy_cert_state s, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(struct policy_cert_verdict *v, enum policy_cert_state s, const char *rule, const char *fmt, ...)
{
    va_list ap;
    v->state = s;
    v->may_sign = false;
    snprintf(v->rule, sizeof(v->rule), "%s", rule);
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof(v->why), fmt, ap);
    va_end(ap);
}

void policy_cert_check(const struct policy_config *c, const uint8_t *der, size_t len, time_t now,
                       struct policy_cert_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->state = POLICY_CERT_VALID;
    v->may_sign = true;
    if (!der || !len) {
        v->state = POLICY_CERT_NONE;
        /* Without a certificate nothing says the key is valid. Admin mode
         * (M2) lets a new key sign its certificate request. */
        if (policy_value(c, POLICY_M2_ADMIN))
            snprintf(v->warning, sizeof(v->warning), "no certificate: signed in admin mode ([M2] admin = yes)");
        else if (policy_value(c, POLICY_M1_CHECK_CHAIN) || policy_value(c, POLICY_M1_CHECK_VALIDITY))
            refuse(v, POLICY_CERT_NONE, "M1", "the key has no certificate to show it is valid");
        else
            snprintf(v->why, sizeof(v->why), "no certificate");
        return;
    }
    uint8_t sha[32];
    X509 *x = parse_cached(der, len, sha);
    if (!x) {
        refuse(v, POLICY_CERT_UNREADABLE, "M1", "the key's certificate cannot be read");
        return;
    }
    char from[40], to[40];
    utc(X509_get0_notBefore(x), from, sizeof(from));
    utc(X509_get0_notAfter(x), to, sizeof(to));
    v->not_before = to_time(X509_get0_notBefore(x));
    v->not_after = to_time(X509_get0_notAfter(x));

    /* The checks in the order a user can act on: the date first. */
    enum policy_cert_state time_state = POLICY_CERT_VALID;
    if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0)
        time_state = POLICY_CERT_EXPIRED;
    else if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0)
        time_state = POLICY_CERT_NOT_YET_VALID;
    if (time_state != POLICY_CERT_VALID) {
        if (policy_value(c, POLICY_M1_CHECK_VALIDITY)) {
            refuse(v, time_state, "M1",
                   time_state == POLICY_CERT_EXPIRED ? "the certificate expired on %s" : "the certificate is valid only from %s",
                   time_state == POLICY_CERT_EXPIRED ? to : from);
            X509_free(x);
            return;
        }
        v->state = time_state;
        snprintf(v->warning, sizeof(v->warning), "the certificate is %s (M1 check_validity = no)",
                 policy_cert_state_name(time_state));
    }

    char why[160] = "";
    X509 *issuer = NULL;
    bool trusted = chains(x, sha, &issuer, why, sizeof(why));
    if (!trusted) {
        if (policy_value(c, POLICY_M1_CHECK_CHAIN)) {
            refuse(v, POLICY_CERT_UNTRUSTED, "M1", "%s", why);
            X509_free(x);
            return;
        }
        v->state = POLICY_CERT_UNTRUSTED;
        snprintf(v->warning, sizeof(v->warning), "the certificate is untrusted (M1 check_chain = no)");
    }

    if (issuer) {
        struct policy_crl_verdict crl;
        policy_crl_check(x, issuer, now, &crl);
        switch (crl.state) {
        case POLICY_CRL_GOOD:
            break;
        case POLICY_CRL_REVOKED:
            refuse(v, POLICY_CERT_REVOKED, "M1", "the certificate is revoked: %s", crl.why);
            break;
        case POLICY_CRL_STALE:
            if (policy_value(c, POLICY_M1_CRL_STALE) == 0) /* refuse */
                refuse(v, POLICY_CERT_CRL_STALE, "M1", "the issuer's CRL is out of date (%s); run kyso crl update",
                       crl.why);
            else {
                v->state = v->state == POLICY_CERT_VALID ? POLICY_CERT_CRL_STALE : v->state;
                snprintf(v->warning, sizeof(v->warning), "CRL stale: %.140s", crl.why);
            }
            break;
        case POLICY_CRL_NONE:
        case POLICY_CRL_ERROR:
            if (policy_value(c, POLICY_M1_CRL_REQUIRED))
                refuse(v, POLICY_CERT_NO_CRL, "M1", "no usable CRL of the issuer (%s); run kyso crl update", crl.why);
            else if (v->state == POLICY_CERT_VALID)
                v->state = POLICY_CERT_NO_CRL;
            break;
        }
        X509_free(issuer);
    }
    if (v->may_sign && !v->why[0])
        snprintf(v->why, sizeof(v->why), "%s, %s to %s", policy_cert_state_name(v->state), from, to);
    X509_free(x);
}

/* ----------------------------------------------------------------- M4 */

static bool name_entry(X509_NAME *name, int nid, char *out, size_t len)
{
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return false;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char *utf8 = NULL;
    int n = s ? ASN1_STRING_to_UTF8(&utf8, s) : -1;
    bool ok = n >= 0 && (size_t)n < len;
    if (ok) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
    return ok;
}

bool policy_cert_is_organisation(const uint8_t *der, size_t len)
{
    uint8_t sha[32];
    X509 *x = der && len ? parse_cached(der, len, sha) : NULL;
    if (!x)
        return false;
    X509_NAME *subject = X509_get_subject_name(x);
    char cn[256], o[256], uid[256];
    bool org = !name_entry(subject, NID_userId, uid, sizeof(uid)) && name_entry(subject, NID_commonName, cn, sizeof(cn)) &&
               name_entry(subject, NID_organizationName, o, sizeof(o)) && strcmp(cn, o) == 0;
    X509_free(x);
    ERR_clear_error();
    return org;
}

/* ---------------------------------------------------------------- M12 */

/* Extended key usages under which a signature on a document or in a TLS
 * handshake is within the certificate's purpose. */
static bool eku_allows(EXTENDED_KEY_USAGE *eku, enum policy_usage use)
{
    static const char *const document_signing[] = {
        "1.3.6.1.5.5.7.3.36",       /* id-kp-documentSigning (RFC 9336) */
        "1.3.6.1.4.1.311.10.3.12",  /* Microsoft document signing */
        "1.2.840.113583.1.1.5",     /* Adobe PDF signing */
    };
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        int nid = OBJ_obj2nid(o);
        if (nid == NID_anyExtendedKeyUsage || nid == NID_client_auth || nid == NID_email_protect)
            return true;
        if (use == POLICY_USE_SIGN && nid == NID_code_sign)
            return true;
        char oid[64];
        if (use == POLICY_USE_SIGN && OBJ_obj2txt(oid, sizeof(oid), o, 1) > 0)
            for (size_t k = 0; k < sizeof(document_signing) / sizeof(document_signing[0]); k++)
                if (strcmp(oid, document_signing[k]) == 0)
                    return true;
    }
    return false;
}

bool policy_cert_allows(const uint8_t *der, size_t len, enum policy_usage use, char *why, size_t whylen)
{
    uint8_t sha[32];
    X509 *x = der && len ? parse_cached(der, len, sha) : NULL;
    if (!x) {
        snprintf(why, whylen, "no readable certificate says what the key may do");
        return false;
    }
    static const char *const what[] = { "sign", "decrypt", "derive a shared secret" };
    bool ok = true;
    uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX: no keyUsage, anything allowed */
    uint32_t want = use == POLICY_USE_SIGN      ? (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)
                    : use == POLICY_USE_DECRYPT ? (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)
                                                : KU_KEY_AGREEMENT;
    if (ku != UINT32_MAX && !(ku & want)) {
        ok = false;
        snprintf(why, whylen, "the certificate's key usage does not allow the key to %s (it needs %s)", what[use],
                 use == POLICY_USE_SIGN      ? "digitalSignature or nonRepudiation"
                 : use == POLICY_USE_DECRYPT ? "keyEncipherment or dataEncipherment"
                                             : "keyAgreement");
    }
    int crit = 0;
    EXTENDED_KEY_USAGE *eku = ok ? X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL) : NULL;
    if (eku && !eku_allows(eku, use)) {
        ok = false;
        snprintf(why, whylen, "the certificate's extended key usage does not allow the key to %s", what[use]);
    }
    EXTENDED_KEY_USAGE_free(eku);
    X509_free(x);
    ERR_clear_error();
    return ok;
}
