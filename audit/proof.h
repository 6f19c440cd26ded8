/* A signature checked against a public key; see proof.c. Schemes (what
 * tbs is): "pkcs1" (the DigestInfo, or CKM_RSA_PKCS's data), "raw" (the
 * modulus-size block), "ecdsa" (the hash, cut to the field size; sig is
 * r‖s), "pss:HASH:MGF1HASH:SALTLEN" (the hash; OpenSSL digest names). */
#ifndef KYSO_AUDIT_PROOF_H
#define KYSO_AUDIT_PROOF_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool audit_proof_check_key(EVP_PKEY *pub, const char *scheme, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                           size_t sig_len);
/* The same with the public key of a DER certificate. */
bool audit_proof_check_cert(const uint8_t *cert_der, size_t cert_len, const char *scheme, const uint8_t *tbs,
                            size_t tbs_len, const uint8_t *sig, size_t sig_len);

#endif
