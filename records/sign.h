/* Detached CMS signatures of records (records/README.md, "Signatures"):
 * SignedData (DER) over the canonical bytes of the whole sealed record.
 * Building one never touches a private key: the signed attributes are
 * handed to a callback (the token, through PKCS#11, in the CLI) and its
 * signature put in place; verification checks the digest, the signature
 * and the signer's chain to the trust anchors, and says which failed. */
#ifndef KYSO_RECORDS_SIGN_H
#define KYSO_RECORDS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/* Signs tbs[0..tbslen) (the DER SET OF signed attributes) with the key of
 * the signer's certificate: RSA PKCS#1 v1.5 with SHA-256 (the block as
 * CKM_SHA256_RSA_PKCS returns it) or ECDSA with SHA-256 as raw r||s
 * (CKM_ECDSA_SHA256). At most *siglen bytes into sig, *siglen set to the
 * length written. 0, or -1 with one line in why. */
typedef int (*records_sign_fn)(void *ctx, const unsigned char *tbs, size_t tbslen, unsigned char *sig,
                               size_t *siglen, char *why, size_t whylen);

/* The detached signature of content by cert (chain: CA certificates to
 * include, may be NULL), signed at when, in *der (OPENSSL_free) and
 * *derlen. 0, or -1 with one line in why. */
int records_sign_detached(const unsigned char *content, size_t len, X509 *cert, STACK_OF(X509) *chain,
                          int64_t when, records_sign_fn sign, void *ctx, unsigned char **der, size_t *derlen,
                          char *why, size_t whylen);

/* Who signed, as a verified signature says. */
struct records_signer_info {
    char cn[256];          /* the signer certificate's subject CN ("" if none) */
    char serial[80];       /* its serial, lowercase hex */
    char sha256[65];       /* SHA-256 of its DER, lowercase hex */
    char signing_time[32]; /* "2026-12-03T03:15:00Z", "" when the signature has none */
};

/* Verifies der[0..derlen) (at most RECORDS_MAX_SIGNATURE bytes) as a
 * detached signature of content with exactly one signer, SHA-256, whose
 * certificate chains to anchors (any purpose: a document-signing
 * certificate need not name S/MIME; the store's purpose is set to any).
 * 0 with info filled, or -1 with one reason in why: "not a CMS
 * signature", "hash mismatch (signed over other content)", "bad
 * signature", "untrusted: ...". */
int records_verify_signature(const unsigned char *content, size_t len, const unsigned char *der, size_t derlen,
                             X509_STORE *anchors, struct records_signer_info *info, char *why, size_t whylen);

#endif
