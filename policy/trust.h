/* The trust anchors: the CA certificates the host's administrator
 * installed in $(sysconfdir)/kyso/trust (PEM or DER, one or more per
 * file; the government's root CA, and its issuing CAs if wanted). A
 * certificate kyso attaches to a key, or lets sign, must chain to one of
 * them. Root's configuration only: nothing in the environment or the
 * user's home changes where they are read from. */
#ifndef KYSO_POLICY_TRUST_H
#define KYSO_POLICY_TRUST_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

/* The directory the anchors are read from. */
const char *policy_trust_dir(void);

/* The anchors as an OpenSSL store (X509_STORE_free), or NULL with a reason
 * when there are none (no directory, no readable certificate). */
X509_STORE *policy_trust_load(char *why, size_t whylen);

/* Whether cert chains to an anchor of store, with the certificates of
 * untrusted (may be NULL) as intermediates. Validity dates are not looked
 * at here: that a certificate is expired is decided, and recorded, when it
 * is used (rule M1). On false, why says what is wrong. */
bool policy_trust_chains(X509_STORE *store, X509 *cert, STACK_OF(X509) *untrusted, char *why, size_t whylen);

#endif
