/* kyso-vtoken, government token: the card's files, DER-encoded per
 * ISO/IEC 7816-15 (PKCS#15 v1.1 ASN.1, implicit tags).
 *
 * Variant B (ChipDoc), all in the application:
 *   5031 ODF       A0 → 7002, A4 → 7005, A8 → 7001
 *   5032 TokenInfo
 *   7001 AODF      the user PIN
 *   7002 PrKDF     the RSA-2048 key, reference 81
 *   7005 CDF       signer (0003), issuing CA (0002), root CA (0001)
 *   0003, 0002, 0001  the certificates, DER
 * Variant A (JCOP4Bit4Id):
 *   MF: 2F00 EF.DIR   61 { 4F <AID> 50 "JCOP4Bit4Id" }
 *   application: 5031 ODF (A0 7002, A1 7004, A4 7005, A7 7006, A8 7001),
 *   5032 TokenInfo, 7001 AODF (user PIN and PUK), 7002 PrKDF (RSA-3072,
 *   reference 10, path 3F00DF10, iD BE72ECF5), 7004 PuKDF (the public key
 *   as a direct value), 7005 CDF (→ 0001), 7006 DODF (one opaque object
 *   in 7010), 0001 = 7A <compressed certificate stand-in>, 7010.
 *
 * Every file is followed by 00 up to its allocated size, as cards
 * allocate files at personalisation: the PKCS#15 directory files and
 * EF.DIR in steps of 128 bytes, certificates in steps of 256. A reader
 * must stop at the end of the DER (or at the first 00 tag where records
 * end), not at the end of the file.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vtoken/vgca.h"

#define ROUND_DIR 128
#define ROUND_CERT 256

/* ---- DER helpers on the TLV builder ---- */

static void der_uint(struct tlv_builder *b, uint32_t tag, unsigned long v)
{
    uint8_t buf[9];
    size_t n = 0;
    /* Big-endian, minimal, with a 00 in front when the top bit is set. */
    for (int shift = 56; shift >= 0; shift -= 8) {
        uint8_t byte = (uint8_t)(v >> shift);
        if (n == 0 && byte == 0 && shift > 0)
            continue;
        if (n == 0 && (byte & 0x80))
            buf[n++] = 0x00;
        buf[n++] = byte;
    }
    tlv_add(b, tag, buf, n);
}

/* BIT STRING of named bits (bit 0 is the most significant bit of the
 * first byte), trailing zero bits removed as DER requires. */
static void der_named_bits(struct tlv_builder *b, const unsigned *bits, size_t n)
{
    uint8_t v[1 + 4] = { 0 };
    unsigned top = 0;
    for (size_t i = 0; i < n; i++) {
        v[1 + bits[i] / 8] |= (uint8_t)(0x80 >> (bits[i] % 8));
        if (bits[i] > top)
            top = bits[i];
    }
    size_t bytes = top / 8 + 1;
    v[0] = (uint8_t)(7 - top % 8);
    tlv_add(b, 0x03, v, 1 + bytes);
}

static void der_utf8(struct tlv_builder *b, uint32_t tag, const char *s)
{
    tlv_add(b, tag, s, strlen(s));
}

/* Path ::= SEQUENCE { path OCTET STRING } */
static void der_path(struct tlv_builder *b, const uint8_t *path, size_t len)
{
    size_t m = tlv_begin(b, 0x30);
    tlv_add(b, 0x04, path, len);
    tlv_end(b, m);
}

static void der_fid_path(struct tlv_builder *b, uint16_t fid)
{
    uint8_t p[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
    der_path(b, p, 2);
}

/* ---- the files ---- */

static bool add_file(struct vgca_state *st, uint16_t fid, bool at_mf, struct tlv_builder *b, size_t round)
{
    if (tlv_builder_error(b) || st->nfiles == VGCA_MAX_FILES)
        return false;
    size_t size = (b->len + round - 1) / round * round;
    uint8_t *data = calloc(1, size ? size : 1);
    if (!data)
        return false;
    memcpy(data, b->data, b->len);
    struct vgca_file *f = &st->files[st->nfiles++];
    f->fid = fid;
    f->at_mf = at_mf;
    f->data = data;
    f->size = size;
    return true;
}

static bool add_raw_file(struct vgca_state *st, uint16_t fid, const uint8_t *data, size_t len, size_t round)
{
    struct tlv_builder b;
    tlv_builder_init(&b);
    tlv_add_raw(&b, data, len);
    bool ok = add_file(st, fid, false, &b, round);
    tlv_builder_free(&b);
    return ok;
}

void vt_vgca_free_files(struct vgca_state *st)
{
    for (size_t i = 0; i < st->nfiles; i++)
        free(st->files[i].data);
    memset(st->files, 0, sizeof(st->files));
    st->nfiles = 0;
}

/* The subject's common name as UTF-8, "" if it has none. */
static void common_name(const uint8_t *der, size_t len, char *out, size_t outlen)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    out[0] = '\0';
    if (!x)
        return;
    X509_NAME *name = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int n = i >= 0 ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))) : -1;
    if (n > 0 && (size_t)n < outlen) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
    X509_free(x);
}

/* iD of a key: SHA-1 of the RSAPublicKey (RFC 5280 key identifier,
 * method 1, which is also the certificates' subject key identifier). */
static bool key_id_of(EVP_PKEY *pkey, uint8_t out[20])
{
    unsigned char *der = NULL;
    int len = i2d_PublicKey(pkey, &der);
    unsigned int n = 0;
    bool ok = len > 0 && EVP_Digest(der, (size_t)len, out, &n, EVP_sha1(), NULL) == 1 && n == 20;
    OPENSSL_free(der);
    return ok;
}

static bool cert_key_id(const uint8_t *der, size_t len, uint8_t out[20])
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    EVP_PKEY *pub = x ? X509_get0_pubkey(x) : NULL;
    bool ok = pub && key_id_of(pub, out);
    X509_free(x);
    return ok;
}

static void tokeninfo(const struct vgca_state *st, struct tlv_builder *b)
{
    size_t m = tlv_begin(b, 0x30);
    der_uint(b, 0x02, 0);                                   /* version v1 */
    tlv_add(b, 0x04, st->serial, VGCA_SERIAL_LEN);          /* serialNumber */
    der_utf8(b, 0x0C, st->v->manufacturer);                 /* manufacturerID */
    der_utf8(b, 0x80, "VGCA Token");                        /* [0] label */
    static const unsigned flags[] = { 0, 1 };               /* readonly, loginRequired */
    der_named_bits(b, flags, 2);
    tlv_end(b, m);
}

static void odf(const struct vgca_state *st, struct tlv_builder *b)
{
    size_t m = tlv_begin(b, 0xA0); /* privateKeys */
    der_fid_path(b, 0x7002);
    tlv_end(b, m);
    if (st->v->has_pukdf) {
        m = tlv_begin(b, 0xA1); /* publicKeys */
        der_fid_path(b, 0x7004);
        tlv_end(b, m);
    }
    m = tlv_begin(b, 0xA4); /* certificates */
    der_fid_path(b, 0x7005);
    tlv_end(b, m);
    if (st->v->has_dodf) {
        m = tlv_begin(b, 0xA7); /* dataObjects */
        der_fid_path(b, 0x7006);
        tlv_end(b, m);
    }
    m = tlv_begin(b, 0xA8); /* authObjects */
    der_fid_path(b, 0x7001);
    tlv_end(b, m);
}

/* One PinObject: pin AuthenticationObject { PinAttributes }. */
static void pin_object(const struct vgca_state *st, struct tlv_builder *b, const char *label, uint8_t auth_id,
                       uint8_t unblocked_by, uint8_t reference, bool puk)
{
    size_t obj = tlv_begin(b, 0x30);
    size_t m = tlv_begin(b, 0x30); /* CommonObjectAttributes */
    der_utf8(b, 0x0C, label);
    static const unsigned modifiable[] = { 1 };
    der_named_bits(b, modifiable, 1);
    if (unblocked_by)
        tlv_add_u8(b, 0x04, unblocked_by); /* authId: the PUK that unblocks it */
    tlv_end(b, m);
    m = tlv_begin(b, 0x30); /* CommonAuthenticationObjectAttributes */
    tlv_add_u8(b, 0x04, auth_id);
    tlv_end(b, m);
    size_t a1 = tlv_begin(b, 0xA1);
    size_t pa = tlv_begin(b, 0x30); /* PinAttributes */
    /* case-sensitive(0), local(1), initialized(4), needs-padding(5), unblockingPin(6) */
    unsigned flags[5];
    size_t nf = 0;
    flags[nf++] = 0;
    if (st->v->pin_local)
        flags[nf++] = 1;
    flags[nf++] = 4;
    flags[nf++] = 5;
    if (puk)
        flags[nf++] = 6;
    der_named_bits(b, flags, nf);
    der_uint(b, 0x0A, 2);                   /* pinType utf8 */
    der_uint(b, 0x02, VGCA_PIN_MIN);        /* minLength */
    der_uint(b, 0x02, VGCA_PIN_LEN);        /* storedLength */
    der_uint(b, 0x02, VGCA_PIN_MAX_AODF);   /* maxLength */
    der_uint(b, 0x80, reference);           /* [0] pinReference */
    tlv_add_u8(b, 0x04, 0xFF);              /* padChar */
    tlv_end(b, pa);
    tlv_end(b, a1);
    tlv_end(b, obj);
}

static void aodf(const struct vgca_state *st, struct tlv_builder *b)
{
    const struct vgca_variant *v = st->v;
    if (v->puk_ref) {
        pin_object(st, b, "User PIN", 0x01, 0x02, v->pin_ref, false);
        pin_object(st, b, "PUK", 0x02, 0, v->puk_ref, true);
    } else {
        pin_object(st, b, "User PIN", 0x01, 0, v->pin_ref, false);
    }
}

static void common_key_attributes(struct tlv_builder *b, const uint8_t *id, size_t idlen, bool private_key,
                                  uint8_t key_ref)
{
    size_t m = tlv_begin(b, 0x30);
    tlv_add(b, 0x04, id, idlen); /* iD */
    if (private_key) {
        static const unsigned usage[] = { 2, 9 }; /* sign, nonRepudiation */
        der_named_bits(b, usage, 2);
        tlv_add_u8(b, 0x01, 0xFF); /* native TRUE, written out as the cards do */
        static const unsigned access[] = { 0, 2, 3 }; /* sensitive, alwaysSensitive, neverExtractable */
        der_named_bits(b, access, 3);
        der_uint(b, 0x02, key_ref); /* keyReference */
    } else {
        static const unsigned usage[] = { 6, 9 }; /* verify, nonRepudiation */
        der_named_bits(b, usage, 2);
    }
    tlv_end(b, m);
}

static bool prkdf(const struct vgca_state *st, struct tlv_builder *b, const uint8_t *id, size_t idlen)
{
    const struct vgca_variant *v = st->v;
    size_t obj = tlv_begin(b, 0x30); /* privateRSAKey */
    size_t m = tlv_begin(b, 0x30);   /* CommonObjectAttributes */
    der_utf8(b, 0x0C, "Signature key");
    static const unsigned priv[] = { 0 }; /* private */
    der_named_bits(b, priv, 1);
    tlv_add_u8(b, 0x04, 0x01); /* authId: the user PIN */
    tlv_end(b, m);
    common_key_attributes(b, id, idlen, true, v->key_ref);
    size_t a1 = tlv_begin(b, 0xA1);
    m = tlv_begin(b, 0x30); /* PrivateRSAKeyAttributes */
    der_path(b, v->key_path, v->key_path_len);
    der_uint(b, 0x02, v->key_bits); /* modulusLength */
    tlv_end(b, m);
    tlv_end(b, a1);
    tlv_end(b, obj);
    return true;
}

static bool pukdf(const struct vgca_state *st, struct tlv_builder *b, const uint8_t *id, size_t idlen)
{
    unsigned char *rsa = NULL;
    int len = i2d_PublicKey(st->key, &rsa); /* RSAPublicKey { n, e } */
    if (len <= 0)
        return false;
    size_t obj = tlv_begin(b, 0x30); /* publicRSAKey */
    size_t m = tlv_begin(b, 0x30);   /* CommonObjectAttributes */
    der_utf8(b, 0x0C, "Signature public key");
    tlv_end(b, m);
    common_key_attributes(b, id, idlen, false, 0);
    size_t a1 = tlv_begin(b, 0xA1);
    m = tlv_begin(b, 0x30);          /* PublicRSAKeyAttributes */
    size_t direct = tlv_begin(b, 0xA0); /* value: direct [0] RSAPublicKeyChoice, raw */
    tlv_add_raw(b, rsa, (size_t)len);
    tlv_end(b, direct);
    der_uint(b, 0x02, st->v->key_bits);
    tlv_end(b, m);
    tlv_end(b, a1);
    tlv_end(b, obj);
    OPENSSL_free(rsa);
    return true;
}

static void cert_object(struct tlv_builder *b, const char *label, const uint8_t *id, size_t idlen, bool authority,
                        uint16_t fid)
{
    size_t obj = tlv_begin(b, 0x30); /* x509Certificate */
    size_t m = tlv_begin(b, 0x30);   /* CommonObjectAttributes */
    der_utf8(b, 0x0C, label);
    tlv_end(b, m);
    m = tlv_begin(b, 0x30); /* CommonCertificateAttributes */
    tlv_add(b, 0x04, id, idlen);
    if (authority)
        tlv_add_u8(b, 0x01, 0xFF);
    tlv_end(b, m);
    size_t a1 = tlv_begin(b, 0xA1);
    m = tlv_begin(b, 0x30); /* X509CertificateAttributes */
    der_fid_path(b, fid);   /* value: indirect path */
    tlv_end(b, m);
    tlv_end(b, a1);
    tlv_end(b, obj);
}

static bool cdf(const struct vgca_state *st, struct tlv_builder *b, const uint8_t *id, size_t idlen)
{
    char label[256];
    common_name(st->cert, st->cert_len, label, sizeof(label));
    cert_object(b, label[0] ? label : "Certificate", id, idlen, false, st->v->kind == VGCA_CHIPDOC ? 0x0003 : 0x0001);
    /* The CA chain: issuing CA in 0002, root in 0001 (variant B only). */
    for (size_t i = 0; i < st->nca; i++) {
        uint8_t ca_id[20];
        if (!cert_key_id(st->ca[i], st->ca_len[i], ca_id))
            return false;
        common_name(st->ca[i], st->ca_len[i], label, sizeof(label));
        cert_object(b, label[0] ? label : "CA", ca_id, sizeof(ca_id), true, (uint16_t)(0x0002 - i));
    }
    return true;
}

#define DATA_OBJECT_FID 0x7010

static void dodf(struct tlv_builder *b)
{
    size_t obj = tlv_begin(b, 0x30); /* opaqueDO */
    size_t m = tlv_begin(b, 0x30);   /* CommonObjectAttributes */
    der_utf8(b, 0x0C, "Token data");
    tlv_end(b, m);
    m = tlv_begin(b, 0x30); /* CommonDataObjectAttributes */
    der_utf8(b, 0x0C, "bit4id");  /* applicationName */
    tlv_end(b, m);
    size_t a1 = tlv_begin(b, 0xA1);
    der_fid_path(b, DATA_OBJECT_FID); /* Opaque: indirect path */
    tlv_end(b, a1);
    tlv_end(b, obj);
}

static bool ef_dir(struct vgca_state *st)
{
    struct tlv_builder b;
    tlv_builder_init(&b);
    size_t m = tlv_begin(&b, 0x61);
    tlv_add(&b, 0x4F, st->v->aid, st->v->aid_len);
    der_utf8(&b, 0x50, "JCOP4Bit4Id");
    tlv_end(&b, m);
    bool ok = add_file(st, VGCA_EF_DIR, true, &b, ROUND_DIR);
    tlv_builder_free(&b);
    return ok;
}

size_t vt_vgca_blob_len(size_t der_len)
{
    return (der_len * 1482 + 1786) / 1787;
}

/* The DER XORed with SHA-256(seed ‖ counter) blocks, cut to the length a
 * compression would give. The seed never leaves the card's state. */
bool vt_vgca_blob(const uint8_t seed[VGCA_BLOB_SEED_LEN], const uint8_t *der, size_t len, uint8_t **out,
                  size_t *outlen)
{
    size_t n = vt_vgca_blob_len(len);
    uint8_t *blob = malloc(n ? n : 1);
    if (!blob)
        return false;
    for (size_t off = 0; off < n; off += 32) {
        uint8_t in[VGCA_BLOB_SEED_LEN + 4], block[32];
        unsigned int bl = 0;
        uint32_t ctr = (uint32_t)(off / 32);
        memcpy(in, seed, VGCA_BLOB_SEED_LEN);
        in[VGCA_BLOB_SEED_LEN] = (uint8_t)(ctr >> 24);
        in[VGCA_BLOB_SEED_LEN + 1] = (uint8_t)(ctr >> 16);
        in[VGCA_BLOB_SEED_LEN + 2] = (uint8_t)(ctr >> 8);
        in[VGCA_BLOB_SEED_LEN + 3] = (uint8_t)ctr;
        if (EVP_Digest(in, sizeof(in), block, &bl, EVP_sha256(), NULL) != 1 || bl != 32) {
            free(blob);
            return false;
        }
        for (size_t i = 0; i < 32 && off + i < n; i++)
            blob[off + i] = der[off + i] ^ block[i];
        OPENSSL_cleanse(in, sizeof(in));
    }
    *out = blob;
    *outlen = n;
    return true;
}

static bool directory_file(struct vgca_state *st, uint16_t fid, void (*build)(const struct vgca_state *, struct tlv_builder *))
{
    struct tlv_builder b;
    tlv_builder_init(&b);
    build(st, &b);
    bool ok = add_file(st, fid, false, &b, ROUND_DIR);
    tlv_builder_free(&b);
    return ok;
}

typedef bool (*keyed_builder)(const struct vgca_state *, struct tlv_builder *, const uint8_t *, size_t);

static bool keyed_file(struct vgca_state *st, uint16_t fid, keyed_builder build, const uint8_t *id, size_t idlen)
{
    struct tlv_builder b;
    tlv_builder_init(&b);
    bool ok = build(st, &b, id, idlen) && add_file(st, fid, false, &b, ROUND_DIR);
    tlv_builder_free(&b);
    return ok;
}

bool vt_vgca_build_files(struct vgca_state *st)
{
    const struct vgca_variant *v = st->v;
    uint8_t sha1_id[20];
    const uint8_t *id = v->key_id;
    size_t idlen = v->key_id_len;

    vt_vgca_free_files(st);
    if (!id) {
        if (!key_id_of(st->key, sha1_id))
            return false;
        id = sha1_id;
        idlen = sizeof(sha1_id);
    }
    bool ok = (!v->has_mf || ef_dir(st)) && directory_file(st, 0x5031, odf) && directory_file(st, 0x5032, tokeninfo) &&
              directory_file(st, 0x7001, aodf) && keyed_file(st, 0x7002, prkdf, id, idlen) &&
              (!v->has_pukdf || keyed_file(st, 0x7004, pukdf, id, idlen)) &&
              keyed_file(st, 0x7005, cdf, id, idlen);
    if (ok && v->has_dodf) {
        struct tlv_builder b;
        tlv_builder_init(&b);
        dodf(&b);
        ok = add_file(st, 0x7006, false, &b, ROUND_DIR);
        tlv_builder_free(&b);
        /* The opaque object: the serial number in hex, as text. */
        char text[2 * VGCA_SERIAL_LEN + 1];
        for (size_t i = 0; i < VGCA_SERIAL_LEN; i++)
            snprintf(text + 2 * i, 3, "%02X", st->serial[i]);
        ok = ok && add_raw_file(st, DATA_OBJECT_FID, (const uint8_t *)text, 2 * VGCA_SERIAL_LEN, ROUND_DIR);
    }
    if (ok && v->cert_compressed) {
        uint8_t *blob = NULL;
        size_t blen = 0;
        ok = vt_vgca_blob(st->blob_seed, st->cert, st->cert_len, &blob, &blen);
        if (ok) {
            struct tlv_builder b;
            tlv_builder_init(&b);
            tlv_add(&b, 0x7A, blob, blen);
            ok = add_file(st, 0x0001, false, &b, ROUND_CERT);
            tlv_builder_free(&b);
            free(blob);
        }
    } else if (ok) {
        ok = add_raw_file(st, 0x0003, st->cert, st->cert_len, ROUND_CERT);
        for (size_t i = 0; ok && i < st->nca; i++)
            ok = add_raw_file(st, (uint16_t)(0x0002 - i), st->ca[i], st->ca_len[i], ROUND_CERT);
    }
    if (!ok)
        vt_vgca_free_files(st);
    return ok;
}
