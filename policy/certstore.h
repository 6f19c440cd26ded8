/* The local certificate store: certificates that a token holds in a form
 * kyso cannot read (the government token's variant A compresses its
 * certificate with an unknown method) are installed here by the IT staff
 * or imported with `kyso cert import`, and matched to the card's key by
 * public key.
 *
 * Two directories: the system one, $(sysconfdir)/kyso/certs (root's), and
 * the user's own ($XDG_DATA_HOME/kyso/certs, else
 * ~/.local/share/kyso/certs). Each certificate is one DER file named by
 * the SHA-256 of its content, so importing twice changes nothing.
 *
 * A certificate from either store is attached to a key only if it chains
 * to a trust anchor (policy/trust.h): a certificate anyone can make
 * carrying the token's public key would otherwise name the signer in the
 * audit trail and in every signature. The system store is searched first.
 */
#ifndef KYSO_POLICY_CERTSTORE_H
#define KYSO_POLICY_CERTSTORE_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

enum certstore_scope { CERTSTORE_USER, CERTSTORE_SYSTEM };

/* Directory of a scope (never NULL; may not exist yet). */
const char *certstore_dir(enum certstore_scope scope, char *buf, size_t buflen);

/* Imports a PEM or DER certificate file into the store of scope. Returns
 * 0, or -1 with a one-line reason in err. *path receives the stored file. */
int certstore_import(enum certstore_scope scope, const char *file, char *stored, size_t stored_len, char *err,
                     size_t errlen);

struct certstore_match {
    unsigned char *der;            /* malloc'd (free()) */
    size_t len;
    enum certstore_scope scope;    /* the store it came from */
};

/* Finds the certificate for public key pub that chains to a trust anchor,
 * the system store first; intermediates (may be NULL) helps build the
 * chain (the token's own CA certificates), as do the system store's
 * certificates. Returns 0 with *m filled, or -1 with why: no certificate
 * matches the key, or the ones that do cannot be trusted (and why not). */
int certstore_find_for_key(const EVP_PKEY *pub, STACK_OF(X509) *intermediates, struct certstore_match *m, char *why,
                           size_t whylen);

/* Calls fn for every certificate of the scope's store; stops when it
 * returns non-zero. */
void certstore_each(enum certstore_scope scope, int (*fn)(X509 *cert, const char *path, void *arg), void *arg);

#endif
