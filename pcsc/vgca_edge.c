/* The government token edge: the VGCA's Bit4id TokenME EVO v2 tokens,
 * whose objects are PKCS#15 structures inside a bit4id application, in two
 * applet variants (TOKENS.md §1):
 *   B "ChipDoc": selected by its 14-byte AID; RSA-2048 key 81, PIN 01;
 *   A "JCOP4Bit4Id": found through EF.DIR; RSA-3072 key 10, PIN 03, PUK 06,
 *     and a certificate compressed with an unknown method (tag 7A), so the
 *     certificate comes from kyso's certificate store (pkcs11/ looks it up
 *     by the public key the PuKDF gives).
 * The card pads RSA itself: signing is MSE SET then PSO COMPUTE DIGITAL
 * SIGNATURE over a DigestInfo. Only that is offered; no decryption, no
 * PSS, no raw RSA, as none is known to work on these cards. */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc/pkcs15.h"
#include "pcsc/tlv.h"
#include "pcsc/token.h"

#define INS_VERIFY 0x20
#define INS_MSE 0x22
#define INS_CHANGE_REFERENCE 0x24
#define INS_PSO 0x2A
#define INS_RESET_RETRY 0x2C
#define INS_SELECT 0xA4
#define INS_READ_BINARY 0xB0

#define MAX_FILE (64 * 1024)
/* Entries of the directory files kept by enumerate. A directory with more
 * than these is refused whole (PCSC_E_MALFORMED): a card that holds more
 * than struct token can describe is not one kyso knows, and offering part
 * of it would hide keys or CA certificates without saying so. PrKDF and
 * PuKDF are sized by the keys the token keeps, the CDF by its keys'
 * certificates and the CA certificates together. */
#define MAX_ODF 16
#define MAX_PINS 16
#define MAX_CDF (TOKEN_MAX_KEYS + TOKEN_MAX_CERTS)
/* EF.DIR applications looked at by the probe (variant A lists one). */
#define MAX_APPS 4

static const uint8_t aid_chipdoc[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0xD2, 0x50, 0x47, 0x65, 0x6E, 0x65, 0x72, 0x69, 0x63 };
static const uint8_t aid_jcop[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x01, 0x4E, 0x58, 0x50, 0x30 };

/* The ATRs measured on the two variants. */
static const uint8_t atr_chipdoc[] = { 0x3B, 0xDF, 0x18, 0xFF, 0x81, 0x91, 0xFE, 0x1F, 0xC3, 0x00, 0x31, 0xB8, 0x64,
                                       0x0C, 0x01, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80, 0x82, 0x90, 0x00, 0xB3 };
static const uint8_t atr_jcop[] = { 0x3B, 0xFF, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x00, 0x6B, 0x15, 0x0C,
                                    0x03, 0x02, 0x01, 0x01, 0x01, 0x42, 0x34, 0x44, 0x10, 0x31, 0x80, 0x0D };

enum vgca_variant { VARIANT_A, VARIANT_B };

struct vgca_state {
    enum vgca_variant variant;
    uint8_t aid[16];
    size_t aid_len;
    /* The user PIN and the PUK, from the AODF (defaults per variant). */
    uint8_t pin_ref, puk_ref;
    uint8_t pad_char;
    size_t stored_len, min_len, max_len;
};

static struct vgca_state *state_of(struct token *t)
{
    return t->edge_state;
}

static int send(struct token *t, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data, size_t len, size_t le,
                uint8_t *resp, size_t cap, size_t *resp_len, uint16_t *sw)
{
    struct pcsc_apdu a = { .ins = ins, .p1 = p1, .p2 = p2, .data = data, .data_len = len, .le = le };
    size_t dummy = 0;
    return token_transceive(t, &a, resp, cap, resp_len ? resp_len : &dummy, sw);
}

static int select_aid(struct token *t, const uint8_t *aid, size_t len)
{
    uint16_t sw;
    int rc = send(t, INS_SELECT, 0x04, 0x0C, aid, len, 0, NULL, 0, NULL, &sw);
    return rc != PCSC_OK ? rc : pcsc_status_from_sw(sw, NULL);
}

static int select_file(struct token *t, const uint8_t fid[2])
{
    uint16_t sw;
    int rc = send(t, INS_SELECT, 0x02, 0x0C, fid, 2, 0, NULL, 0, NULL, &sw);
    return rc != PCSC_OK ? rc : pcsc_status_from_sw(sw, NULL);
}

/* Whether what was read of a file holds all there is to use: whole
 * elements (one, for a file of one element) up to its end or up to 00/FF
 * padding, which fills the rest of a PKCS#15 file (what would follow it
 * is not read: the parser ignores it). */
static bool content_complete(const uint8_t *buf, size_t len, bool single_element)
{
    const uint8_t *p = buf;
    size_t left = len;
    struct tlv el;
    for (size_t n = 0; left > 0; n++) {
        if (p[0] == 0x00 || p[0] == 0xFF || (single_element && n == 1)) {
            for (size_t i = 0; i < left; i++)
                if (p[i] != 0x00 && p[i] != 0xFF)
                    return false; /* not padding: read on, let the parser judge */
            return true;
        }
        if (tlv_next(&p, &left, &el) != TLV_OK)
            return false; /* an element cut by the chunk: read on */
    }
    return single_element; /* whole elements up to a chunk's end: a directory may go on */
}

/* Reads the selected EF. The card gives at most about 231 bytes a time
 * whatever Le says, so the first answer tells its chunk; a shorter answer,
 * an empty one or "past the end" (6B00) ends the file, and so does content
 * that is complete (content_complete): that spares the last READ BINARY of
 * every file, which the card would answer with padding or 6B00. */
static int read_selected(struct token *t, bool single_element, uint8_t **out, size_t *out_len)
{
    uint8_t *buf = malloc(MAX_FILE);
    size_t len = 0, chunk = 0;
    int rc = PCSC_OK;
    if (!buf)
        return PCSC_E_NOMEM;
    while (len < MAX_FILE) {
        uint8_t piece[256];
        size_t n = 0;
        uint16_t sw;
        rc = send(t, INS_READ_BINARY, (uint8_t)(len >> 8), (uint8_t)len, NULL, 0, 256, piece, sizeof(piece), &n, &sw);
        if (rc != PCSC_OK)
            break;
        if (sw == 0x6B00 || (sw == 0x6282 && n == 0)) {
            rc = PCSC_OK; /* the end of the file */
            break;
        }
        if (sw != 0x9000 && sw != 0x6282) {
            rc = pcsc_status_from_sw(sw, NULL);
            break;
        }
        if (n > MAX_FILE - len) {
            rc = PCSC_E_MALFORMED;
            break;
        }
        memcpy(buf + len, piece, n);
        len += n;
        if (!chunk)
            chunk = n;
        if (n == 0 || n < chunk || sw == 0x6282 || len > 0x7FFF || content_complete(buf, len, single_element))
            break;
    }
    if (rc != PCSC_OK) {
        OPENSSL_clear_free(buf, MAX_FILE);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return PCSC_OK;
}

static void free_file(uint8_t *buf)
{
    if (buf)
        OPENSSL_clear_free(buf, MAX_FILE);
}

/* Reads the EF a PKCS#15 path names: inside the application, by the last
 * two bytes of the path. On any error *out is NULL: the caller owns
 * nothing. */
static int read_path(struct token *t, const struct p15_path *path, bool single_element, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (path->len < 2)
        return PCSC_E_MALFORMED;
    int rc = select_file(t, path->value + path->len - 2);
    if (rc != PCSC_OK)
        return rc;
    uint8_t *file = NULL;
    size_t file_len = 0;
    rc = read_selected(t, single_element, &file, &file_len);
    if (rc != PCSC_OK)
        return rc;
    if (path->has_range) {
        /* index/length select a part of the file: it must be there. */
        if (path->index > file_len || path->length > file_len - path->index) {
            free_file(file);
            return PCSC_E_MALFORMED;
        }
        memmove(file, file + path->index, path->length);
        file_len = path->length;
    }
    *out = file;
    *len = file_len;
    return PCSC_OK;
}

static int vgca_probe(struct token *t)
{
    struct vgca_state *s = t->edge_state;
    enum vgca_variant variant;
    int rc = select_aid(t, aid_chipdoc, sizeof(aid_chipdoc));
    if (rc == PCSC_OK) {
        variant = VARIANT_B;
    } else if (!pcsc_status_is_card_error(rc)) {
        return rc;
    } else {
        /* Variant A announces its application in EF.DIR. */
        static const uint8_t dir[2] = { 0x2F, 0x00 }, mf[2] = { 0x3F, 0x00 };
        uint8_t *buf = NULL;
        size_t len = 0;
        struct p15_app apps[MAX_APPS];
        size_t napps = 0;
        uint16_t sw;
        send(t, INS_SELECT, 0x00, 0x0C, mf, 2, 0, NULL, 0, NULL, &sw);
        rc = select_file(t, dir);
        if (rc == PCSC_OK)
            rc = read_selected(t, false, &buf, &len);
        if (rc != PCSC_OK)
            return rc;
        bool found = false;
        if (p15_parse_dir(buf, len, apps, MAX_APPS, &napps) == P15_OK)
            for (size_t i = 0; i < napps; i++)
                found |= apps[i].aid_len == sizeof(aid_jcop) && memcmp(apps[i].aid, aid_jcop, sizeof(aid_jcop)) == 0;
        free_file(buf);
        if (!found)
            return PCSC_E_NOT_FOUND;
        rc = select_aid(t, aid_jcop, sizeof(aid_jcop));
        if (rc != PCSC_OK)
            return rc;
        variant = VARIANT_A;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return PCSC_E_NOMEM;
        t->edge_state = s;
        s->variant = variant;
        /* Measured references; the AODF may say otherwise (enumerate). */
        s->pin_ref = variant == VARIANT_A ? 0x03 : 0x01;
        s->puk_ref = variant == VARIANT_A ? 0x06 : 0x00;
        s->pad_char = 0xFF;
        s->stored_len = 8;
        s->min_len = 4;
        s->max_len = 8;
        memcpy(s->aid, variant == VARIANT_A ? aid_jcop : aid_chipdoc,
               variant == VARIANT_A ? sizeof(aid_jcop) : sizeof(aid_chipdoc));
        s->aid_len = variant == VARIANT_A ? sizeof(aid_jcop) : sizeof(aid_chipdoc);
    }
    return PCSC_OK;
}

static int vgca_identify(struct token *t, struct token_info *info, uint8_t identity[32])
{
    static const uint8_t token_info_fid[2] = { 0x50, 0x32 };
    struct vgca_state *s = state_of(t);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct p15_token_info ti;

    int rc = select_file(t, token_info_fid);
    if (rc == PCSC_OK)
        rc = read_selected(t, true, &buf, &len);
    if (rc != PCSC_OK)
        return rc;
    if (p15_parse_token_info(buf, len, &ti) != P15_OK) {
        free_file(buf);
        return PCSC_E_MALFORMED;
    }
    memset(info, 0, sizeof(*info));
    token_copy_text(info->label, sizeof(info->label), ti.label[0] ? ti.label : "VGCA Token");
    token_copy_text(info->manufacturer, sizeof(info->manufacturer), ti.manufacturer[0] ? ti.manufacturer : "bit4id");
    snprintf(info->model, sizeof(info->model), "%s", s->variant == VARIANT_A ? "TokenME JCOP4" : "TokenME ChipDoc");
    snprintf(info->applet, sizeof(info->applet), "%s", s->variant == VARIANT_A ? "vgca-jcop" : "vgca-chipdoc");
    /* The serial as the card stores it (ASCII digits), else in hex. */
    bool printable = ti.has_serial && ti.serial_len > 0;
    for (size_t i = 0; i < ti.serial_len && printable; i++)
        printable = ti.serial[i] >= 0x20 && ti.serial[i] < 0x7F;
    if (printable) {
        size_t n = ti.serial_len < 16 ? ti.serial_len : 16;
        memcpy(info->serial, ti.serial, n);
        info->serial[n] = '\0';
    } else {
        for (size_t i = 0; i < ti.serial_len && i < 8; i++)
            snprintf(info->serial + 2 * i, 3, "%02x", ti.serial[i]);
    }
    unsigned int dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, "vgca", 4) == 1 &&
              EVP_DigestUpdate(md, s->aid, s->aid_len) == 1 && EVP_DigestUpdate(md, buf, len) == 1 &&
              EVP_DigestFinal_ex(md, identity, &dlen) == 1;
    EVP_MD_CTX_free(md);
    free_file(buf);
    return ok ? PCSC_OK : PCSC_E_NOMEM;
}

/* A public key from the PuKDF: given directly or in an EF; RSAPublicKey
 * or SubjectPublicKeyInfo. */
static EVP_PKEY *public_key_of(struct token *t, const struct p15_public_key *pk)
{
    uint8_t *file = NULL;
    const uint8_t *der = pk->direct;
    size_t len = pk->direct_len;
    EVP_PKEY *pub = NULL;
    if (!der && pk->key.has_path) {
        if (read_path(t, &pk->key.path, true, &file, &len) != PCSC_OK)
            return NULL;
        der = file;
    }
    if (der && len > 2) {
        uint8_t *copy = malloc(len);
        if (copy) {
            memcpy(copy, der, len);
            if (pk->direct && pk->direct_form == P15_DIRECT_SPKI)
                copy[0] = 0x30; /* [1] SubjectPublicKeyInfo: the SEQUENCE with another tag */
            const unsigned char *p = copy;
            pub = d2i_PUBKEY(NULL, &p, (long)len);
            if (!pub) {
                p = copy;
                pub = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
            }
            free(copy);
        }
    }
    free_file(file);
    return pub;
}

/* A copy of the X.509 certificate that der[0..len) starts with (what
 * follows it is the file's padding), or NULL if it does not start with one. */
static uint8_t *copy_certificate(const uint8_t *der, size_t len, size_t *out_len)
{
    const unsigned char *p = der;
    X509 *x = len && len <= MAX_FILE && der[0] == 0x30 ? d2i_X509(NULL, &p, (long)len) : NULL;
    uint8_t *copy = NULL;
    if (x) {
        size_t n = (size_t)(p - der);
        copy = malloc(n);
        if (copy) {
            memcpy(copy, der, n);
            *out_len = n;
        }
        X509_free(x);
    }
    return copy;
}

/* A certificate given in the CDF or in a file: DER as it is, or variant
 * A's compressed form (tag 7A), which nobody outside bit4id can read: NULL
 * then, as for anything else that is not a certificate. */
static uint8_t *certificate_of(struct token *t, const struct p15_certificate *c, size_t *len)
{
    if (c->direct)
        return copy_certificate(c->direct, c->direct_len, len);
    uint8_t *file = NULL;
    size_t flen = 0;
    if (!c->has_path || read_path(t, &c->path, true, &file, &flen) != PCSC_OK)
        return NULL;
    uint8_t *der = copy_certificate(file, flen, len);
    free_file(file);
    return der;
}

static int read_directory(struct token *t, const struct p15_odf_entry *odf, size_t nodf, unsigned type,
                          uint8_t **buf, size_t *len)
{
    for (size_t i = 0; i < nodf; i++)
        if (odf[i].type == type)
            return read_path(t, &odf[i].path, false, buf, len);
    *buf = NULL;
    *len = 0;
    return PCSC_OK;
}

static void pins_from_aodf(struct vgca_state *s, const struct p15_pin *pins, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct p15_pin *p = &pins[i];
        if (!p->has_reference)
            continue;
        if (p->pin_flags & (P15_PIN_UNBLOCKING_PIN | P15_PIN_SO_PIN)) {
            s->puk_ref = (uint8_t)p->reference;
            continue;
        }
        s->pin_ref = (uint8_t)p->reference;
        if (p->has_pad_char)
            s->pad_char = p->pad_char;
        if (p->stored_len > 0 && p->stored_len <= 16)
            s->stored_len = (size_t)p->stored_len;
        if (p->min_len > 0)
            s->min_len = (size_t)p->min_len;
        if (p->max_len > 0 && p->max_len <= 16)
            s->max_len = (size_t)p->max_len;
    }
}

/* What enumerate parses, kept off the stack (about 20 KiB). */
struct vgca_dirs {
    struct p15_odf_entry odf[MAX_ODF];
    struct p15_pin pins[MAX_PINS];
    struct p15_private_key prk[TOKEN_MAX_KEYS];
    struct p15_public_key puk[TOKEN_MAX_KEYS];
    struct p15_certificate certs[MAX_CDF], trusted[TOKEN_MAX_CERTS];
};

/* The CA certificates the directories name (authority entries of the CDF,
 * every trusted one): all must fit struct token, checked before any is read. */
static bool ca_certificates_fit(const struct vgca_dirs *d, size_t ncerts, size_t ntrusted)
{
    size_t n = ntrusted;
    for (size_t i = 0; i < ncerts; i++)
        n += d->certs[i].authority;
    return n <= TOKEN_MAX_CERTS;
}

static int vgca_enumerate(struct token *t)
{
    static const uint8_t odf_fid[2] = { 0x50, 0x31 };
    struct vgca_state *s = state_of(t);
    struct vgca_dirs *d = calloc(1, sizeof(*d));
    size_t nodf = 0, npins = 0, nprk = 0, npuk = 0, ncerts = 0, ntrusted = 0;
    uint8_t *odf_buf = NULL, *aodf = NULL, *prkdf = NULL, *pukdf = NULL, *cdf = NULL, *tcdf = NULL;
    size_t odf_len = 0, aodf_len = 0, prkdf_len = 0, pukdf_len = 0, cdf_len = 0, tcdf_len = 0;
    if (!d)
        return PCSC_E_NOMEM;
    struct p15_odf_entry *odf = d->odf;
    struct p15_pin *pins = d->pins;
    struct p15_private_key *prk = d->prk;
    struct p15_public_key *puk = d->puk;
    struct p15_certificate *certs = d->certs, *trusted = d->trusted;

    int rc = select_file(t, odf_fid);
    if (rc == PCSC_OK)
        rc = read_selected(t, false, &odf_buf, &odf_len);
    if (rc == PCSC_OK && p15_parse_odf(odf_buf, odf_len, odf, MAX_ODF, &nodf) != P15_OK)
        rc = PCSC_E_MALFORMED;
    /* The directories: PINs, private keys, public keys, certificates. */
    if (rc == PCSC_OK)
        rc = read_directory(t, odf, nodf, P15_ODF_AUTH_OBJECTS, &aodf, &aodf_len);
    if (rc == PCSC_OK)
        rc = read_directory(t, odf, nodf, P15_ODF_PRIVATE_KEYS, &prkdf, &prkdf_len);
    if (rc == PCSC_OK)
        rc = read_directory(t, odf, nodf, P15_ODF_PUBLIC_KEYS, &pukdf, &pukdf_len);
    if (rc == PCSC_OK)
        rc = read_directory(t, odf, nodf, P15_ODF_CERTIFICATES, &cdf, &cdf_len);
    if (rc == PCSC_OK)
        rc = read_directory(t, odf, nodf, P15_ODF_TRUSTED_CERTIFICATES, &tcdf, &tcdf_len);
    /* The bounds: P15_ERR_TOO_MANY is a failure like any other here. */
    if (rc == PCSC_OK && ((aodf && p15_parse_aodf(aodf, aodf_len, pins, MAX_PINS, &npins) != P15_OK) ||
                          (prkdf && p15_parse_prkdf(prkdf, prkdf_len, prk, TOKEN_MAX_KEYS, &nprk) != P15_OK) ||
                          (pukdf && p15_parse_pukdf(pukdf, pukdf_len, puk, TOKEN_MAX_KEYS, &npuk) != P15_OK) ||
                          (cdf && p15_parse_cdf(cdf, cdf_len, certs, MAX_CDF, &ncerts) != P15_OK) ||
                          (tcdf && p15_parse_cdf(tcdf, tcdf_len, trusted, TOKEN_MAX_CERTS, &ntrusted) != P15_OK) ||
                          !ca_certificates_fit(d, ncerts, ntrusted)))
        rc = PCSC_E_MALFORMED;
    if (rc != PCSC_OK)
        goto out;
    pins_from_aodf(s, pins, npins);

    for (size_t i = 0; i < nprk && t->nkeys < TOKEN_MAX_KEYS; i++) {
        const struct p15_key *pk = &prk[i].key;
        if (pk->type != P15_KEY_RSA || !pk->has_key_reference || pk->id_len > TOKEN_MAX_ID)
            continue;
        struct token_key *k = &t->keys[t->nkeys];
        memset(k, 0, sizeof(*k));
        k->ref = (uint8_t)pk->key_reference;
        memcpy(k->id, pk->id, pk->id_len);
        k->id_len = pk->id_len;
        token_copy_text(k->label, sizeof(k->label), pk->label[0] ? pk->label : "Signature key");
        token_copy_text(k->cert_label, sizeof(k->cert_label), pk->label[0] ? pk->label : "Signature certificate");
        k->type = TOKEN_KEY_RSA;
        k->sign = true;
        k->needs_certificate = true;
        for (size_t c = 0; c < ncerts && !k->cert; c++)
            if (!certs[c].authority && certs[c].id_len == pk->id_len && memcmp(certs[c].id, pk->id, pk->id_len) == 0) {
                k->cert = certificate_of(t, &certs[c], &k->cert_len);
                if (k->cert && certs[c].label[0])
                    token_copy_text(k->cert_label, sizeof(k->cert_label), certs[c].label);
            }
        if (k->cert) {
            const unsigned char *p = k->cert;
            X509 *x = d2i_X509(NULL, &p, (long)k->cert_len);
            k->pub = x ? X509_get_pubkey(x) : NULL;
            X509_free(x);
            if (!k->pub) {
                /* A certificate whose key cannot be read is not known to be this key's. */
                free(k->cert);
                k->cert = NULL;
                k->cert_len = 0;
            }
        }
        for (size_t j = 0; j < npuk && !k->pub; j++)
            if (puk[j].key.id_len == pk->id_len && memcmp(puk[j].key.id, pk->id, pk->id_len) == 0)
                k->pub = public_key_of(t, &puk[j]);
        if (!k->pub || !EVP_PKEY_is_a(k->pub, "RSA")) {
            /* A key whose public half is unknown cannot be matched to a
             * certificate nor checked: not offered. */
            EVP_PKEY_free(k->pub);
            free(k->cert);
            memset(k, 0, sizeof(*k));
            continue;
        }
        k->bits = (unsigned)EVP_PKEY_get_bits(k->pub);
        t->nkeys++;
    }
    /* The CA chain: authority certificates, and trusted ones. */
    for (size_t pass = 0; pass < 2; pass++) {
        struct p15_certificate *list = pass ? trusted : certs;
        size_t n = pass ? ntrusted : ncerts;
        for (size_t i = 0; i < n && t->ncerts < TOKEN_MAX_CERTS; i++) {
            if (!pass && !list[i].authority)
                continue;
            struct token_cert *c = &t->certs[t->ncerts];
            memset(c, 0, sizeof(*c));
            c->der = certificate_of(t, &list[i], &c->len);
            if (!c->der)
                continue;
            size_t idn = list[i].id_len < TOKEN_MAX_ID ? list[i].id_len : TOKEN_MAX_ID;
            memcpy(c->id, list[i].id, idn);
            c->id_len = idn;
            token_copy_text(c->label, sizeof(c->label), list[i].label[0] ? list[i].label : "CA certificate");
            c->authority = true;
            t->ncerts++;
        }
    }
out:
    free_file(odf_buf);
    free_file(aodf);
    free_file(prkdf);
    free_file(pukdf);
    free_file(cdf);
    free_file(tcdf);
    free(d);
    return rc;
}

static int vgca_read_data_object(struct token *t, struct token_data_object *o)
{
    return PCSC_E_NOT_FOUND;
}

/* PINs are UTF-8, padded with the pad character to the stored length. */
static bool pad_pin(const struct vgca_state *s, const uint8_t *pin, size_t len, uint8_t *out)
{
    if (len < s->min_len || len > s->max_len || len > s->stored_len)
        return false;
    memset(out, s->pad_char, s->stored_len);
    memcpy(out, pin, len);
    return true;
}

static uint8_t ref_of(const struct vgca_state *s, enum token_pin_ref ref)
{
    return ref == TOKEN_PIN_SO ? s->puk_ref : s->pin_ref;
}

static int vgca_pin_status(struct token *t, enum token_pin_ref ref, int *tries_left, bool *verified)
{
    uint8_t r = ref_of(state_of(t), ref);
    uint16_t sw;
    *tries_left = -1;
    *verified = false;
    if (!r)
        return PCSC_OK; /* the PUK of this variant cannot be asked */
    int rc = send(t, INS_VERIFY, 0x00, r, NULL, 0, 0, NULL, 0, NULL, &sw);
    if (rc != PCSC_OK)
        return rc;
    if (sw == 0x9000) {
        *verified = true;
        return PCSC_OK;
    }
    rc = pcsc_status_from_sw(sw, tries_left);
    if (rc == PCSC_E_PIN_BLOCKED) {
        *tries_left = 0;
        return PCSC_OK;
    }
    return rc == PCSC_E_WRONG_PIN ? PCSC_OK : rc;
}

/* Every VERIFY costs one of three tries when wrong: sent once, never retried. */
static int vgca_verify(struct token *t, enum token_pin_ref ref, const uint8_t *pin, size_t len, int *tries_left)
{
    struct vgca_state *s = state_of(t);
    uint8_t padded[16];
    uint16_t sw;
    *tries_left = -1;
    if (ref != TOKEN_PIN_USER || !pad_pin(s, pin, len, padded))
        return PCSC_E_INVALID_ARG;
    int rc = send(t, INS_VERIFY, 0x00, s->pin_ref, padded, s->stored_len, 0, NULL, 0, NULL, &sw);
    OPENSSL_cleanse(padded, sizeof(padded));
    return rc != PCSC_OK ? rc : pcsc_status_from_sw(sw, tries_left);
}

/* No "log out" command is known for these cards: the PIN stays verified
 * until the card is reset. So logging out resets the card (other
 * applications see the reset and log in again) and selects the
 * application again. */
static int vgca_logout(struct token *t)
{
    struct vgca_state *s = state_of(t);
    int rc = token_reconnect(t, true);
    if (rc == PCSC_OK)
        rc = select_aid(t, s->aid, s->aid_len);
    return rc;
}

static int two_secrets(struct token *t, uint8_t ins, uint8_t ref, const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen, int *tries_left)
{
    struct vgca_state *s = state_of(t);
    uint8_t data[32];
    uint16_t sw;
    *tries_left = -1;
    if (!pad_pin(s, a, alen, data) || !pad_pin(s, b, blen, data + s->stored_len)) {
        OPENSSL_cleanse(data, sizeof(data)); /* the first may be in already */
        return PCSC_E_INVALID_ARG;
    }
    int rc = send(t, ins, 0x00, ref, data, 2 * s->stored_len, 0, NULL, 0, NULL, &sw);
    OPENSSL_cleanse(data, sizeof(data));
    return rc != PCSC_OK ? rc : pcsc_status_from_sw(sw, tries_left);
}

static int vgca_change_pin(struct token *t, enum token_pin_ref ref, const uint8_t *old_pin, size_t old_len,
                           const uint8_t *new_pin, size_t new_len, int *tries_left)
{
    uint8_t r = ref_of(state_of(t), ref);
    *tries_left = -1;
    if (!r)
        return PCSC_E_NOT_SUPPORTED;
    return two_secrets(t, INS_CHANGE_REFERENCE, r, old_pin, old_len, new_pin, new_len, tries_left);
}

static int vgca_unblock(struct token *t, const uint8_t *puk, size_t puk_len, const uint8_t *new_pin, size_t new_len,
                        int *tries_left)
{
    return two_secrets(t, INS_RESET_RETRY, state_of(t)->pin_ref, puk, puk_len, new_pin, new_len, tries_left);
}

/* MSE SET (algorithm 8A: RSA PKCS#1 v1.5 over a DigestInfo, the key), then
 * PSO COMPUTE DIGITAL SIGNATURE. The card takes any MSE and fails only at
 * the PSO, and the module checks the first signature against the key. */
static int vgca_sign(struct token *t, const struct token_key *k, const struct token_sign_request *req, uint8_t *out,
                     size_t *out_len)
{
    size_t mod = (k->bits + 7) / 8;
    uint16_t sw;
    int tries, rc;
    if (req->scheme != TOKEN_SIG_RSA_PKCS1 || req->in_len == 0 || req->in_len > 255 || *out_len < mod)
        return PCSC_E_INVALID_ARG;
    if (req->pin && (rc = vgca_verify(t, TOKEN_PIN_USER, req->pin, req->pin_len, &tries)) != PCSC_OK)
        return rc;
    uint8_t mse[] = { 0x80, 0x01, 0x8A, 0x84, 0x01, k->ref };
    rc = send(t, INS_MSE, 0x41, 0xB6, mse, sizeof(mse), 0, NULL, 0, NULL, &sw);
    if (rc == PCSC_OK)
        rc = pcsc_status_from_sw(sw, NULL);
    if (rc != PCSC_OK)
        return rc;
    uint8_t sig[1024];
    size_t n = 0;
    rc = send(t, INS_PSO, 0x9E, 0x9A, req->in, req->in_len, mod > 256 && t->transport.extended_length ? mod : 256,
              sig, sizeof(sig), &n, &sw);
    if (rc == PCSC_OK)
        rc = pcsc_status_from_sw(sw, NULL);
    if (rc == PCSC_OK && n != mod)
        rc = PCSC_E_MALFORMED;
    if (rc == PCSC_OK) {
        memcpy(out, sig, n);
        *out_len = n;
    }
    OPENSSL_cleanse(sig, sizeof(sig));
    return rc;
}

static bool vgca_atr_hint(const uint8_t *atr, size_t len)
{
    return (len == sizeof(atr_chipdoc) && memcmp(atr, atr_chipdoc, len) == 0) ||
           (len == sizeof(atr_jcop) && memcmp(atr, atr_jcop, len) == 0);
}

const struct token_edge token_edge_vgca = {
    .name = "vgca",
    .atr_hint = vgca_atr_hint,
    .caps = 0,
    .rsa_min_bits = 2048,
    .rsa_max_bits = 3072,
    .probe = vgca_probe,
    .identify = vgca_identify,
    .enumerate = vgca_enumerate,
    .read_data_object = vgca_read_data_object,
    .pin_status = vgca_pin_status,
    .verify = vgca_verify,
    .logout = vgca_logout,
    .change_pin = vgca_change_pin,
    .unblock = vgca_unblock,
    .sign = vgca_sign,
};
