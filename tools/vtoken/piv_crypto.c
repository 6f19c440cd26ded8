/* kyso-vtoken PIV: the card's cryptography, all through OpenSSL 3. */
#include "config.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <string.h>

#include "tools/vtoken/piv.h"

size_t vt_piv_mgm_key_len(uint8_t alg)
{
    switch (alg) {
    case PIV_ALG_3DES:
        return 24;
    case PIV_ALG_AES128:
        return 16;
    case PIV_ALG_AES192:
        return 24;
    case PIV_ALG_AES256:
        return 32;
    default:
        return 0;
    }
}

size_t vt_piv_mgm_block_len(uint8_t alg)
{
    return alg == PIV_ALG_3DES ? 8 : 16;
}

static const EVP_CIPHER *mgm_cipher(uint8_t alg)
{
    switch (alg) {
    case PIV_ALG_3DES:
        return EVP_des_ede3_ecb();
    case PIV_ALG_AES128:
        return EVP_aes_128_ecb();
    case PIV_ALG_AES192:
        return EVP_aes_192_ecb();
    case PIV_ALG_AES256:
        return EVP_aes_256_ecb();
    default:
        return NULL;
    }
}

bool vt_piv_mgm_encrypt(uint8_t alg, const uint8_t *key, size_t keylen,
                     const uint8_t *in, uint8_t *out, size_t blocklen)
{
    const EVP_CIPHER *c = mgm_cipher(alg);
    int n = 0, m = 0;
    bool ok = false;

    if (!c || keylen != vt_piv_mgm_key_len(alg) || blocklen != vt_piv_mgm_block_len(alg))
        return false;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return false;
    if (EVP_EncryptInit_ex(ctx, c, NULL, key, NULL) == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
        EVP_EncryptUpdate(ctx, out, &n, in, (int)blocklen) == 1 && EVP_EncryptFinal_ex(ctx, out + n, &m) == 1)
        ok = (size_t)(n + m) == blocklen;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

bool vt_piv_alg_is_rsa(uint8_t alg)
{
    return alg == PIV_ALG_RSA1024 || alg == PIV_ALG_RSA2048 || alg == PIV_ALG_RSA3072 || alg == PIV_ALG_RSA4096;
}

bool vt_piv_alg_is_ec(uint8_t alg)
{
    return alg == PIV_ALG_ECCP256 || alg == PIV_ALG_ECCP384;
}

size_t vt_piv_alg_key_bytes(uint8_t alg)
{
    switch (alg) {
    case PIV_ALG_RSA1024:
        return 128;
    case PIV_ALG_RSA2048:
        return 256;
    case PIV_ALG_RSA3072:
        return 384;
    case PIV_ALG_RSA4096:
        return 512;
    case PIV_ALG_ECCP256:
        return 32;
    case PIV_ALG_ECCP384:
        return 48;
    default:
        return 0;
    }
}

static const char *curve_of(uint8_t alg)
{
    return alg == PIV_ALG_ECCP256 ? "P-256" : alg == PIV_ALG_ECCP384 ? "P-384" : NULL;
}

int vt_piv_alg_of_pkey(const EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        switch (EVP_PKEY_get_bits(pkey)) {
        case 1024:
            return PIV_ALG_RSA1024;
        case 2048:
            return PIV_ALG_RSA2048;
        case 3072:
            return PIV_ALG_RSA3072;
        case 4096:
            return PIV_ALG_RSA4096;
        default:
            return -1;
        }
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[32];
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
            return -1;
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return PIV_ALG_ECCP256;
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            return PIV_ALG_ECCP384;
    }
    return -1;
}

EVP_PKEY *vt_piv_generate(uint8_t alg)
{
    if (vt_piv_alg_is_rsa(alg))
        return EVP_RSA_gen((unsigned)vt_piv_alg_key_bytes(alg) * 8);
    if (vt_piv_alg_is_ec(alg))
        return EVP_EC_gen(curve_of(alg));
    return NULL;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
            pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* its secure part is cleared on free */
    return pkey;
}

/* The card receives p and q (and CRT values it could derive); e is 65537
 * as on a YubiKey, so n and d are computed here. */
EVP_PKEY *vt_piv_import_rsa(const uint8_t *p_bytes, size_t plen, const uint8_t *q_bytes, size_t qlen)
{
    EVP_PKEY *pkey = NULL;
    BN_CTX *bn = BN_CTX_secure_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (!bn || !bld)
        goto out;
    BN_CTX_start(bn);
    BIGNUM *p = BN_CTX_get(bn), *q = BN_CTX_get(bn), *e = BN_CTX_get(bn), *n = BN_CTX_get(bn);
    BIGNUM *d = BN_CTX_get(bn), *p1 = BN_CTX_get(bn), *q1 = BN_CTX_get(bn), *lcm = BN_CTX_get(bn);
    BIGNUM *g = BN_CTX_get(bn), *dp = BN_CTX_get(bn), *dq = BN_CTX_get(bn), *qinv = BN_CTX_get(bn);
    if (!qinv || !BN_bin2bn(p_bytes, (int)plen, p) || !BN_bin2bn(q_bytes, (int)qlen, q) ||
        !BN_set_word(e, RSA_F4) || !BN_mul(n, p, q, bn) || !BN_sub(p1, p, BN_value_one()) ||
        !BN_sub(q1, q, BN_value_one()) || !BN_gcd(g, p1, q1, bn) || !BN_mul(lcm, p1, q1, bn) ||
        !BN_div(lcm, NULL, lcm, g, bn) || !BN_mod_inverse(d, e, lcm, bn) || !BN_mod(dp, d, p1, bn) ||
        !BN_mod(dq, d, q1, bn) || !BN_mod_inverse(qinv, q, p, bn))
        goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv))
        goto done;
    pkey = from_params("RSA", bld);
done:
    BN_CTX_end(bn);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_CTX_free(bn);
    return pkey;
}

/* The card receives only the private scalar; the public point is k·G. */
EVP_PKEY *vt_piv_import_ec(uint8_t alg, const uint8_t *priv, size_t len)
{
    EVP_PKEY *pkey = NULL;
    const char *curve = curve_of(alg);
    if (!curve || len != vt_piv_alg_key_bytes(alg))
        return NULL;
    int nid = alg == PIV_ALG_ECCP256 ? NID_X9_62_prime256v1 : NID_secp384r1;
    EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
    EC_POINT *pub = group ? EC_POINT_new(group) : NULL;
    BIGNUM *k = BN_secure_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    uint8_t point[1 + 2 * 48];
    size_t plen = 0;

    if (pub && k && bld && BN_bin2bn(priv, (int)len, k) && !BN_is_zero(k) &&
        BN_cmp(k, EC_GROUP_get0_order(group)) < 0 && EC_POINT_mul(group, pub, k, NULL, NULL, NULL) &&
        (plen = EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point), NULL)) > 0 &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, k) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, plen))
        pkey = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(k);
    EC_POINT_free(pub);
    EC_GROUP_free(group);
    return pkey;
}

void vt_piv_put_public_key(struct tlv_builder *b, const EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        BIGNUM *n = NULL, *e = NULL;
        uint8_t buf[512];
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) &&
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) && BN_num_bytes(n) <= (int)sizeof(buf)) {
            int len = BN_bn2bin(n, buf);
            tlv_add(b, 0x81, buf, (size_t)len);
            len = BN_bn2bin(e, buf);
            tlv_add(b, 0x82, buf, (size_t)len);
        } else if (!b->error) {
            b->error = TLV_ERR_RANGE;
        }
        BN_free(n);
        BN_free(e);
        return;
    }
    uint8_t point[1 + 2 * 66];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point), &len))
        tlv_add(b, 0x86, point, len);
    else if (!b->error)
        b->error = TLV_ERR_RANGE;
}

bool vt_piv_rsa_raw(EVP_PKEY *pkey, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t n = PIV_MAX_RESULT;
    bool ok = ctx && len == (size_t)EVP_PKEY_get_size(pkey) && EVP_PKEY_decrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 && EVP_PKEY_decrypt(ctx, out, &n, in, len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (ok)
        *outlen = n;
    return ok;
}

bool vt_piv_ecdsa(EVP_PKEY *pkey, const uint8_t *hash, size_t len, uint8_t *out, size_t *outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t n = PIV_MAX_RESULT;
    bool ok = ctx && len > 0 && len <= 64 && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_sign(ctx, out, &n, hash, len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (ok)
        *outlen = n;
    return ok;
}

bool vt_piv_ecdh(EVP_PKEY *pkey, const uint8_t *point, size_t len, uint8_t *out, size_t *outlen)
{
    char group[32];
    bool ok = false;
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();

    if (!bld || !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, len))
        goto out;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params && pctx && EVP_PKEY_fromdata_init(pctx) == 1 &&
        EVP_PKEY_fromdata(pctx, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1)
        peer = NULL;
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    if (!peer)
        goto out;
    size_t n = PIV_MAX_RESULT;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    /* fromdata does not check that the point is on the curve: do it. */
    EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
    bool valid = check && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    ok = valid && ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
         EVP_PKEY_derive(ctx, out, &n) == 1;
    if (ok)
        *outlen = n;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    OSSL_PARAM_BLD_free(bld);
    return ok;
}
