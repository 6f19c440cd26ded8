/* The local certificate store: certificates that a token holds in a form
 * kyso cannot read (the government token's variant A compresses its
 * certificate with an unknown method) are installed here by the IT staff
 * or imported with `kyso cert import`, and matched to the card's key by
 * public key.
 *
 * Two directories, searched in order: the per-user one
 * ($KYSO_USER_CERT_DIR, else $XDG_DATA_HOME/kyso/certs, else
 * ~/.local/share/kyso/certs) and the system one ($KYSO_CERT_DIR, else
 * /etc/kyso/certs). Each certificate is one DER file named by the SHA-256
 * of its content, so importing twice changes nothing.
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

/* Finds a certificate whose public key is pub (user store first). Returns
 * its DER in a malloc'd buffer (free()), or NULL when there is none. */
unsigned char *certstore_find_by_key(const EVP_PKEY *pub, size_t *len);

/* Calls fn for every certificate of the scope's store; stops when it
 * returns non-zero. */
void certstore_each(enum certstore_scope scope, int (*fn)(X509 *cert, const char *path, void *arg), void *arg);

#endif
