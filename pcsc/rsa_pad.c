/* RSA encodings for raw-RSA cards; see rsa_pad.h.
 *
 * OpenSSL 3 offers these encodings only through its RSA_padding_* family,
 * which is marked deprecated (the EVP interface pads inside the private-
 * key operation, which here happens on the card). They are still the
 * maintained implementations, so this one file uses them. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "config.h"

#include "pcsc/rsa_pad.h"

#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <string.h>

bool rsa_pad_pkcs1_sign(const uint8_t *data, size_t len, uint8_t *out, size_t mod_len)
{
    /* At least 8 bytes of FF, as PKCS#1 requires. */
    if (mod_len < 11 || len > mod_len - 11)
        return false;
    size_t ps = mod_len - 3 - len;
    out[0] = 0x00;
    out[1] = 0x01;
    memset(out + 2, 0xFF, ps);
    out[2 + ps] = 0x00;
    memcpy(out + 3 + ps, data, len);
    return true;
}

bool rsa_pad_pss(const EVP_PKEY *pub, const uint8_t *hash, const EVP_MD *md, const EVP_MD *mgf1_md, int salt_len,
                 uint8_t *out)
{
    RSA *rsa = EVP_PKEY_get1_RSA((EVP_PKEY *)pub);
    bool ok = rsa && RSA_padding_add_PKCS1_PSS_mgf1(rsa, out, hash, md, mgf1_md, salt_len) == 1;
    RSA_free(rsa);
    return ok;
}

int rsa_unpad_pkcs1(const uint8_t *in, size_t mod_len, uint8_t *out, size_t out_cap)
{
    if (mod_len < 11 || mod_len > 1024 || out_cap > 0x7FFFFFFF)
        return -1;
    /* OpenSSL's check wants the block without its leading zero byte. */
    if (in[0] != 0x00)
        return -1;
    return RSA_padding_check_PKCS1_type_2(out, (int)out_cap, in + 1, (int)mod_len - 1, (int)mod_len);
}

int rsa_unpad_oaep(const uint8_t *in, size_t mod_len, const EVP_MD *md, const EVP_MD *mgf1_md,
                   const uint8_t *label, size_t label_len, uint8_t *out, size_t out_cap)
{
    if (mod_len < 11 || mod_len > 1024 || out_cap > 0x7FFFFFFF || label_len > 0x7FFFFFFF || in[0] != 0x00)
        return -1;
    return RSA_padding_check_PKCS1_OAEP_mgf1(out, (int)out_cap, in + 1, (int)mod_len - 1, (int)mod_len, label,
                                             (int)label_len, md, mgf1_md);
}
