/* Detached CMS signatures of records (sign.h). The SignedData is built
 * with only the signer's public key (CMS_PARTIAL), the signed attributes
 * added here and their DER handed to the caller's signer; verification
 * diagnoses each part in turn (form, digest, signature, chain) so that a
 * refusal names its cause, then lets CMS_verify have the last word. */
#include "config.h"

#include "records/sign.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "records/registry.h"

/* RSA up to 16384 bits (the schema's largest key), or r||s of P-521. */
#define MAX_RAW_SIG 2048
#define MAX_EC_HALF 66

static void say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* The DER SET OF signed attributes, what the signature is computed on
 * (RFC 5652 5.4: the SET OF tag, DER-sorted, as PKCS7_ATTR_SIGN encodes). */
static int signed_attrs_der(CMS_SignerInfo *si, unsigned char **out)
{
    STACK_OF(X509_ATTRIBUTE) *attrs = sk_X509_ATTRIBUTE_new_null();
    int n = CMS_signed_get_attr_count(si), len = -1;
    if (!attrs || n <= 0)
        goto done;
    for (int i = 0; i < n; i++)
        if (!sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)))
            goto done;
    len = ASN1_item_i2d((ASN1_VALUE *)attrs, out, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
done:
    sk_X509_ATTRIBUTE_free(attrs); /* the attributes stay the signer info's */
    return len;
}

/* contentType id-data, signingTime, messageDigest SHA-256(content). */
static int add_signed_attrs(CMS_SignerInfo *si, const unsigned char *content, size_t len, int64_t when)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(content, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return -1;
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)when);
    int ok = t && CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                              OBJ_nid2obj(NID_pkcs7_data), -1) == 1 &&
             CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t, -1) == 1 &&
             CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, md, (int)mdlen) == 1;
    ASN1_TIME_free(t);
    return ok ? 0 : -1;
}

/* ECDSA-Sig-Value (DER) from PKCS#11's raw r||s, in *out (OPENSSL_free). */
static int ecdsa_raw_to_der(const unsigned char *raw, size_t len, unsigned char **out)
{
    if (len == 0 || len % 2 || len / 2 > MAX_EC_HALF)
        return -1;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL), *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
    int n = -1;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* the signature's now */
        n = i2d_ECDSA_SIG(sig, out);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return n;
}

/* Asks the signer for the signature of the signed attributes and puts it
 * (DER for ECDSA) into si. */
static int put_signature(CMS_SignerInfo *si, int keytype, records_sign_fn sign, void *ctx, char *why, size_t whylen)
{
    unsigned char *tbs = NULL, raw[MAX_RAW_SIG], *ecder = NULL;
    size_t rawlen = sizeof(raw);
    int rc = -1, tbslen = signed_attrs_der(si, &tbs);
    if (tbslen <= 0) {
        say(why, whylen, "the signed attributes cannot be encoded");
        goto done;
    }
    if (sign(ctx, tbs, (size_t)tbslen, raw, &rawlen, why, whylen) != 0)
        goto done;
    if (rawlen == 0 || rawlen > sizeof(raw)) {
        say(why, whylen, "the token returned a signature of an impossible length");
        goto done;
    }
    const unsigned char *final = raw;
    int finallen = (int)rawlen;
    if (keytype == EVP_PKEY_EC) {
        finallen = ecdsa_raw_to_der(raw, rawlen, &ecder);
        final = ecder;
        if (finallen <= 0) {
            say(why, whylen, "the token's ECDSA signature is not r||s");
            goto done;
        }
    }
    if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), final, finallen) != 1) {
        say(why, whylen, "out of memory");
        goto done;
    }
    /* A token that signed with another key than the certificate's is
     * caught here rather than by whoever verifies the record later. */
    if (CMS_SignerInfo_verify(si) != 1) {
        say(why, whylen, "the token's signature does not verify with the certificate");
        goto done;
    }
    rc = 0;
done:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_free(tbs);
    OPENSSL_free(ecder);
    return rc;
}

int records_sign_detached(const unsigned char *content, size_t len, X509 *cert, STACK_OF(X509) *chain,
                          int64_t when, records_sign_fn sign, void *ctx, unsigned char **der, size_t *derlen,
                          char *why, size_t whylen)
{
    *der = NULL;
    *derlen = 0;
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    int keytype = pub ? EVP_PKEY_get_base_id(pub) : EVP_PKEY_NONE;
    if (keytype != EVP_PKEY_RSA && keytype != EVP_PKEY_EC) {
        say(why, whylen, "the certificate's key is neither RSA nor EC");
        return -1;
    }
    int rc = -1;
    unsigned char *out = NULL;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
    CMS_SignerInfo *si = cms ? CMS_add1_signer(cms, cert, pub, EVP_sha256(),
                                               CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP)
                             : NULL;
    if (!si) {
        say(why, whylen, "the SignedData cannot be made");
        goto done;
    }
    for (int i = 0; chain && i < sk_X509_num(chain); i++)
        if (CMS_add1_cert(cms, sk_X509_value(chain, i)) != 1) {
            say(why, whylen, "a CA certificate cannot be added");
            goto done;
        }
    if (add_signed_attrs(si, content, len, when) != 0) {
        say(why, whylen, "the signed attributes cannot be added");
        goto done;
    }
    if (put_signature(si, keytype, sign, ctx, why, whylen) != 0)
        goto done;
    int n = i2d_CMS_ContentInfo(cms, &out);
    if (n <= 0 || (size_t)n > RECORDS_MAX_SIGNATURE) {
        say(why, whylen, n <= 0 ? "the signature cannot be encoded" : "the signature is too large");
        goto done;
    }
    *der = out;
    *derlen = (size_t)n;
    out = NULL;
    rc = 0;
done:
    OPENSSL_free(out);
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return rc;
}

/* Text from a certificate, made safe to print: control characters (an
 * attacker's escape sequences) become '?'. */
static void printable(char *dst, size_t dstlen, const unsigned char *src, int len)
{
    size_t j = 0;
    for (int i = 0; i < len && j + 1 < dstlen; i++)
        dst[j++] = (src[i] < 0x20 || src[i] == 0x7f) ? '?' : (char)src[i];
    dst[j] = '\0';
}

static void signer_info(X509 *signer, CMS_SignerInfo *si, struct records_signer_info *info)
{
    memset(info, 0, sizeof(*info));
    X509_NAME *subj = X509_get_subject_name(signer);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int n = idx >= 0 ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx))) : -1;
    if (n > 0)
        printable(info->cn, sizeof(info->cn), utf8, n);
    OPENSSL_free(utf8);

    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(signer), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex && strlen(hex) < sizeof(info->serial))
        for (size_t i = 0; hex[i]; i++)
            info->serial[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
    OPENSSL_free(hex);
    BN_free(bn);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(signer, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
        for (unsigned int i = 0; i < mdlen; i++)
            snprintf(info->sha256 + 2 * i, 3, "%02x", md[i]);

    idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    ASN1_TYPE *t = idx >= 0 ? X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, idx), 0) : NULL;
    struct tm tm;
    if (t && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME) &&
        ASN1_TIME_to_tm(t->value.utctime, &tm) == 1)
        strftime(info->signing_time, sizeof(info->signing_time), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The parts that are not cryptography: one signer, SHA-256, its
 * certificate inside, a messageDigest equal to SHA-256(content). */
static int check_form(CMS_ContentInfo *cms, const unsigned char *content, size_t len, CMS_SignerInfo **psi,
                      X509 **psigner, char *why, size_t whylen)
{
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
        return say(why, whylen, "not a CMS signature (not SignedData)"), -1;
    if (CMS_is_detached(cms) != 1 || OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
        return say(why, whylen, "not a detached signature of data"), -1;
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    if (sk_CMS_SignerInfo_num(sis) != 1)
        return say(why, whylen, "not exactly one signer"), -1;
    CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, 0);
    X509 *signer = NULL;
    X509_ALGOR *dig = NULL;
    if (CMS_set1_signers_certs(cms, NULL, 0) != 1)
        return say(why, whylen, "the signer's certificate is not in the signature"), -1;
    CMS_SignerInfo_get0_algs(si, NULL, &signer, &dig, NULL);
    const ASN1_OBJECT *digobj = NULL;
    if (dig)
        X509_ALGOR_get0(&digobj, NULL, NULL, dig);
    if (!signer || !digobj || OBJ_obj2nid(digobj) != NID_sha256)
        return say(why, whylen, "not a SHA-256 signature with its certificate"), -1;
    ASN1_OCTET_STRING *md = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
                                                        V_ASN1_OCTET_STRING);
    unsigned char want[EVP_MAX_MD_SIZE];
    unsigned int wantlen = 0;
    if (!md)
        return say(why, whylen, "no (single) messageDigest signed attribute"), -1;
    if (EVP_Digest(content, len, want, &wantlen, EVP_sha256(), NULL) != 1)
        return say(why, whylen, "SHA-256 failed"), -1;
    if ((unsigned int)ASN1_STRING_length(md) != wantlen || memcmp(ASN1_STRING_get0_data(md), want, wantlen) != 0)
        return say(why, whylen, "hash mismatch (the signature is of other content)"), -1;
    *psi = si;
    *psigner = signer;
    return 0;
}

static int check_chain(CMS_ContentInfo *cms, X509 *signer, X509_STORE *anchors, char *why, size_t whylen)
{
    STACK_OF(X509) *certs = CMS_get1_certs(cms);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;
    if (!ctx || X509_STORE_CTX_init(ctx, anchors, signer, certs) != 1)
        say(why, whylen, "out of memory");
    else if (X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1 || X509_verify_cert(ctx) != 1)
        say(why, whylen, "untrusted: the signer's certificate does not chain to a trust anchor: %s",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    else
        rc = 0;
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

int records_verify_signature(const unsigned char *content, size_t len, const unsigned char *der, size_t derlen,
                             X509_STORE *anchors, struct records_signer_info *info, char *why, size_t whylen)
{
    memset(info, 0, sizeof(*info));
    if (derlen == 0 || derlen > RECORDS_MAX_SIGNATURE || len > INT_MAX) {
        say(why, whylen, derlen ? "not a CMS signature (larger than 256 KiB)" : "not a CMS signature (empty)");
        return -1;
    }
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen);
    CMS_SignerInfo *si = NULL;
    X509 *signer = NULL;
    BIO *data = NULL;
    int rc = -1;
    if (!cms || p != der + derlen) {
        say(why, whylen, "not a CMS signature (not DER ContentInfo)");
        goto done;
    }
    if (check_form(cms, content, len, &si, &signer, why, whylen) != 0)
        goto done;
    if (CMS_SignerInfo_verify(si) != 1) {
        say(why, whylen, "bad signature (not made by the certificate's key over these attributes)");
        goto done;
    }
    if (check_chain(cms, signer, anchors, why, whylen) != 0)
        goto done;
    /* Everything again, as OpenSSL's CMS sees it: nothing checked above
     * may be accepted here when it is refused there. */
    data = BIO_new_mem_buf(content, (int)len);
    if (!data || X509_STORE_set_purpose(anchors, X509_PURPOSE_ANY) != 1 ||
        CMS_verify(cms, NULL, anchors, data, NULL, CMS_DETACHED | CMS_BINARY) != 1) {
        const char *r = ERR_reason_error_string(ERR_peek_last_error());
        say(why, whylen, "refused by CMS verification: %s", r ? r : "unknown error");
        goto done;
    }
    signer_info(signer, si, info);
    rc = 0;
done:
    BIO_free(data);
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return rc;
}
