/* Checking a signature against a public key, for the module (the first
 * signature of each key, before it is released) and kyso-auditd (a sign
 * record carries its signature: the daemon checks it against the
 * record's certificate, so a record naming a certificate is only
 * "checked" if that certificate's key made the signature). */
#include "config.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/proof.h"

/* r‖s (two halves of equal size) to the DER form OpenSSL verifies. */
static unsigned char *ecdsa_der(const uint8_t *sig, size_t len, int *der_len)
{
    size_t half = len / 2;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
    unsigned char *der = NULL;
    *der_len = -1;
    if (len % 2 == 0 && half > 0 && es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL;
        *der_len = i2d_ECDSA_SIG(es, &der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

/* "pss:HASH:MGF1HASH:SALT" */
static bool pss_params(const char *scheme, const EVP_MD **md, const EVP_MD **mgf1, int *salt)
{
    char hash[16], mgf[16];
    int n = 0;
    if (sscanf(scheme, "pss:%15[^:]:%15[^:]:%d%n", hash, mgf, salt, &n) != 3 || scheme[n] != '\0' || *salt < -2 ||
        *salt > 1024)
        return false;
    *md = EVP_get_digestbyname(hash);
    *mgf1 = EVP_get_digestbyname(mgf);
    return *md && *mgf1;
}

bool audit_proof_check_key(EVP_PKEY *pub, const char *scheme, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                           size_t sig_len)
{
    if (!pub || !scheme || !tbs || !sig || !sig_len)
        return false; /* (tbs may be empty: CKM_RSA_PKCS over no data) */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    bool rsa = EVP_PKEY_is_a(pub, "RSA"), ok = false;
    if (!ctx)
        return false;
    if (strcmp(scheme, "raw") == 0 && rsa) {
        size_t mod = (size_t)EVP_PKEY_get_size(pub), rlen = mod;
        uint8_t *rec = malloc(mod ? mod : 1);
        ok = rec && sig_len == mod && tbs_len == mod && EVP_PKEY_verify_recover_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
             EVP_PKEY_verify_recover(ctx, rec, &rlen, sig, sig_len) == 1 && rlen == mod &&
             memcmp(rec, tbs, mod) == 0;
        free(rec);
    } else if (strcmp(scheme, "pkcs1") == 0 && rsa) {
        /* No digest set: the block's payload must be tbs itself (the
         * DigestInfo, or the data of CKM_RSA_PKCS). */
        ok = EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_verify(ctx, sig, sig_len, tbs, tbs_len) == 1;
    } else if (strncmp(scheme, "pss:", 4) == 0 && rsa) {
        const EVP_MD *md, *mgf1;
        int salt;
        ok = pss_params(scheme, &md, &mgf1, &salt) && (size_t)EVP_MD_get_size(md) == tbs_len &&
             EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) == 1 && EVP_PKEY_verify(ctx, sig, sig_len, tbs, tbs_len) == 1;
    } else if (strcmp(scheme, "ecdsa") == 0 && EVP_PKEY_is_a(pub, "EC")) {
        size_t field = (size_t)(EVP_PKEY_get_bits(pub) + 7) / 8;
        int der_len;
        unsigned char *der = sig_len == 2 * field ? ecdsa_der(sig, sig_len, &der_len) : NULL;
        ok = der && der_len > 0 && EVP_PKEY_verify_init(ctx) == 1 &&
             EVP_PKEY_verify(ctx, der, (size_t)der_len, tbs, tbs_len) == 1;
        OPENSSL_free(der);
    }
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

bool audit_proof_check_cert(const uint8_t *cert_der, size_t cert_len, const char *scheme, const uint8_t *tbs,
                            size_t tbs_len, const uint8_t *sig, size_t sig_len)
{
    const unsigned char *p = cert_der;
    X509 *x = cert_der && cert_len ? d2i_X509(NULL, &p, (long)cert_len) : NULL;
    bool ok = x && p == cert_der + cert_len &&
              audit_proof_check_key(X509_get0_pubkey(x), scheme, tbs, tbs_len, sig, sig_len);
    X509_free(x);
    return ok;
}
