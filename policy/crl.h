/* The local CRL cache: the revocation part of rule M1.
 *
 * `kyso crl update` (run by kyso-crl-update.timer) fetches the CRLs that
 * the trust anchors, the system certificate store and the tokens name,
 * checks each against its issuer and stores it here; the module asks
 * policy_crl_check before a private-key operation. Nothing is fetched on
 * the signing path.
 *
 * Layout of the cache directory, policy_crl_dir() (root's, mode 0755):
 *
 *   <hex SHA-256 of the DER of the CRL issuer's Name>.crl   mode 0644
 *
 * one file per issuer, holding one complete CRL in DER, the newest one
 * accepted for that issuer. Files are replaced by rename, so a reader
 * sees the old or the new CRL, never half of one. A file whose CRL does
 * not verify with the issuer's key is never used. Only complete CRLs are
 * kept: delta CRLs and CRLs whose issuingDistributionPoint narrows their
 * scope (some reasons, only some kinds of certificate, indirect) are
 * refused, by the checker and by the update alike.
 */
#ifndef KYSO_POLICY_CRL_H
#define KYSO_POLICY_CRL_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum policy_crl_state {
    POLICY_CRL_GOOD,      /* a current CRL of the issuer does not list the certificate */
    POLICY_CRL_REVOKED,   /* listed (revocation date/reason in why) */
    POLICY_CRL_STALE,     /* the issuer's newest cached CRL is past its nextUpdate and does not list it */
    POLICY_CRL_NONE,      /* no cached CRL for this issuer */
    POLICY_CRL_ERROR      /* cache unreadable etc. */
};

struct policy_crl_verdict {
    enum policy_crl_state state;
    time_t this_update, next_update;   /* of the CRL used, 0 if none */
    char why[160];                     /* one line, for logs and audit records */
};

/* The cache directory: $(localstatedir)/lib/kyso/crl (configure's
 * localstatedir, a compile-time constant; never from the environment). */
const char *policy_crl_dir(void);

/* Whether cert (issued by issuer) is revoked according to the cache, at
 * time now. Thread-safe and cheap: the issuer's file is stat()ed and only
 * re-read and re-verified when its (dev, ino, size, mtime) changed. A
 * cache file that changed into something unusable (unreadable, not a CRL,
 * a bad signature) leaves the CRL read before in use. Returns 0 when
 * v->state is GOOD, -1 otherwise (v is always filled). */
int policy_crl_check(X509 *cert, X509 *issuer, time_t now, struct policy_crl_verdict *v);

/* The same on the cache in dir (tests). */
int policy_crl_check_in(const char *dir, X509 *cert, X509 *issuer, time_t now, struct policy_crl_verdict *v);

/* Frees the in-memory cache (the module's C_Finalize). */
void policy_crl_reset(void);

/* For the module's pthread_atfork handlers: the cache's lock is taken
 * before fork and released on both sides after it, so a child never
 * inherits it held by a thread it does not have. */
void policy_crl_fork_prepare(void);
void policy_crl_fork_parent(void);
void policy_crl_fork_child(void);

/* ---- for `kyso crl update` and `kyso crl status` (policy/crl_store.c) */

/* The largest CRL kyso reads, from the network or the cache. */
#define POLICY_CRL_MAX_SIZE (16 * 1024 * 1024)

/* The cache file of the CRLs issued by name, in dir. -1 if it does not fit. */
int policy_crl_path(const char *dir, const X509_NAME *name, char *buf, size_t buflen);

/* Parses a CRL given as DER or PEM (the whole buffer must be the CRL). */
X509_CRL *policy_crl_parse(const unsigned char *data, size_t len);

/* Why crl is not one the cache keeps (a delta CRL, a narrowed scope, an
 * unknown critical extension), or NULL when it is fine. */
const char *policy_crl_unusable(const X509_CRL *crl);

/* Whether issuer may have signed crl: its subject is the CRL's issuer, it
 * is a CA allowed to sign CRLs, and the signature verifies with its key. */
bool policy_crl_signed_by(X509_CRL *crl, X509 *issuer);

enum policy_crl_store_result {
    POLICY_CRL_STORED,     /* new file written */
    POLICY_CRL_UNCHANGED,  /* the cache already holds this CRL */
    POLICY_CRL_OLDER,      /* refused: older than the cached one (kept) */
    POLICY_CRL_FAILED      /* refused or not written (why says which) */
};

/* Stores crl, already checked with policy_crl_signed_by(crl, issuer), as
 * the cache file of its issuer in dir (created 0755 if missing): unless
 * the cached file holds a CRL of the same issuer key with a higher
 * crlNumber or a later thisUpdate. Atomic (temporary file in dir, fsync,
 * rename, fsync of dir); the old file stays on any failure. */
enum policy_crl_store_result policy_crl_store_in(const char *dir, X509_CRL *crl, X509 *issuer, char *why,
                                                 size_t whylen);

/* Reads a whole file of at most max bytes (a regular file). malloc'd. */
unsigned char *policy_crl_read_file(const char *path, size_t max, size_t *len, char *why, size_t whylen);

/* ASN1_TIME as time_t; 0 when t is NULL or unreadable. */
time_t policy_crl_time(const ASN1_TIME *t);

#endif
