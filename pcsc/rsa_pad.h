/* RSA encoding on the host, for cards that only do the raw RSA operation
 * (PIV): PKCS#1 v1.5 and PSS encoding for signatures, PKCS#1 v1.5 and
 * OAEP decoding after decryption. All through OpenSSL. */
#ifndef KYSO_PCSC_RSA_PAD_H
#define KYSO_PCSC_RSA_PAD_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* EMSA-PKCS1-v1_5: 00 01 FF… 00 ‖ data into out[0..mod_len). */
bool rsa_pad_pkcs1_sign(const uint8_t *data, size_t len, uint8_t *out, size_t mod_len);
/* EMSA-PSS of a hash for the key pub, into out[0..modulus size). */
bool rsa_pad_pss(const EVP_PKEY *pub, const uint8_t *hash, const EVP_MD *md, const EVP_MD *mgf1_md, int salt_len,
                 uint8_t *out);
/* Removes PKCS#1 v1.5 type 2 padding in place; returns the message length
 * or -1 when the padding is wrong. */
int rsa_unpad_pkcs1(const uint8_t *in, size_t mod_len, uint8_t *out, size_t out_cap);
/* Removes OAEP padding; -1 when wrong. */
int rsa_unpad_oaep(const uint8_t *in, size_t mod_len, const EVP_MD *md, const EVP_MD *mgf1_md,
                   const uint8_t *label, size_t label_len, uint8_t *out, size_t out_cap);

#endif
