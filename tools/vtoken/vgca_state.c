/* kyso-vtoken, government token: personalisation (kyso-vtoken init), the
 * state file body and `show`.
 *
 * The persistent state is what a CA writes into the card: PIN, PUK and
 * their counters, the serial number, the key, the signer certificate,
 * the CA chain (variant B) and, for variant A, the secret from which the
 * 7A stand-in is derived. The files are rebuilt from it (vgca_pkcs15.c),
 * so they cannot disagree with the key. Loading is strict: every element
 * once (CA certificates excepted), nothing unknown, every value checked
 * as at personalisation.
 *
 *   --pin / --puk   4 to 8 UTF-8 bytes (the commands carry them padded
 *                   with FF to 8); default 12345678 / 87654321
 *   --key REF=KEY.pem,CERT.pem   exactly one, REF the variant's key
 *                   reference (81 ChipDoc, 10 JCOP), RSA of the variant's
 *                   size, the certificate required and matching
 *   --ca CERT.pem   variant B: up to two, issuing CA (EF 0002) then root
 *                   (EF 0001); variant A keeps no chain (TOKENS.md lists
 *                   only EF 0001 in its CDF) and refuses them
 *   --serial N      TokenInfo serialNumber = N as 8 bytes big-endian;
 *                   default 8 random bytes
 */
#include "config.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vtoken/vgca.h"

#define DEFAULT_PIN "12345678"
#define DEFAULT_PUK "87654321"

/* Tags of the state body (private to this file). */
enum {
    ST_PIN = 0x80,
    ST_PUK = 0x81,
    ST_COUNTERS = 0x82,
    ST_SERIAL = 0x83,
    ST_KEY = 0x84,
    ST_CERT = 0x85,
    ST_CA = 0x86,
    ST_BLOB_SEED = 0x87,
};

static bool utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t more;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            more = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + more >= n) /* the sequence runs past the end */
            return false;
        for (size_t k = 1; k <= more; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += more + 1;
    }
    return true;
}

size_t vt_vgca_pin_length(const uint8_t padded[VGCA_PIN_LEN])
{
    size_t n = 0;
    while (n < VGCA_PIN_LEN && padded[n] != 0xFF)
        n++;
    for (size_t i = n; i < VGCA_PIN_LEN; i++)
        if (padded[i] != 0xFF)
            return 0;
    if (n < VGCA_PIN_MIN || !utf8_valid(padded, n))
        return 0;
    return n;
}

static bool pad_secret(const char *s, uint8_t out[VGCA_PIN_LEN])
{
    size_t n = strlen(s);
    if (n > VGCA_PIN_LEN)
        return false;
    memset(out, 0xFF, VGCA_PIN_LEN);
    memcpy(out, s, n);
    return vt_vgca_pin_length(out) == n;
}

void vt_vgca_free_state(void *p)
{
    struct vgca_state *st = p;
    if (!st)
        return;
    vt_vgca_free_files(st);
    EVP_PKEY_free(st->key);
    free(st->cert);
    for (size_t i = 0; i < st->nca; i++)
        free(st->ca[i]);
    OPENSSL_cleanse(st, sizeof(*st));
    OPENSSL_secure_free(st);
}

static struct vgca_state *new_state(const struct vgca_variant *v)
{
    struct vgca_state *st = OPENSSL_secure_zalloc(sizeof(*st));
    if (st) {
        st->v = v;
        st->session.ef = -1;
    }
    return st;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    if (c)
        memcpy(c, p, len);
    return c;
}

static X509 *parse_cert(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* The checks shared by init and load: the key is RSA of the variant's
 * size, the certificate is its, the CA certificates are CAs. */
static bool check_contents(const struct vgca_state *st, char *err, size_t errlen)
{
    const struct vgca_variant *v = st->v;
    if (!st->key || EVP_PKEY_get_base_id(st->key) != EVP_PKEY_RSA ||
        (unsigned)EVP_PKEY_get_bits(st->key) != v->key_bits) {
        snprintf(err, errlen, "%s keeps an RSA-%u key", v->name, v->key_bits);
        return false;
    }
    X509 *cert = st->cert ? parse_cert(st->cert, st->cert_len) : NULL;
    bool ok = cert && X509_check_private_key(cert, st->key) == 1;
    X509_free(cert);
    if (!ok) {
        snprintf(err, errlen, "the certificate is missing, unreadable or not the key's");
        return false;
    }
    if (st->nca > v->max_ca) {
        snprintf(err, errlen, "%s keeps at most %zu CA certificates", v->name, v->max_ca);
        return false;
    }
    for (size_t i = 0; i < st->nca; i++) {
        X509 *ca = parse_cert(st->ca[i], st->ca_len[i]);
        ok = ca && X509_check_ca(ca) != 0;
        X509_free(ca);
        if (!ok) {
            snprintf(err, errlen, "CA certificate %zu is unreadable or not a CA", i + 1);
            return false;
        }
    }
    return true;
}

static bool read_cert_file(const char *path, uint8_t **der, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    unsigned char *buf = NULL;
    int n = x ? i2d_X509(x, &buf) : -1;
    X509_free(x);
    if (n <= 0) {
        snprintf(err, errlen, "%s holds no readable PEM certificate", path);
        return false;
    }
    *der = dup_bytes(buf, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(buf);
    if (!*der) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    return true;
}

int vt_vgca_init(const struct vgca_variant *v, const struct vt_init_options *opt, void **out, char *err,
                 size_t errlen)
{
    struct vgca_state *st = new_state(v);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *pin = opt->pin ? opt->pin : DEFAULT_PIN;
    const char *puk = opt->puk ? opt->puk : DEFAULT_PUK;
    if (!pad_secret(pin, st->pin) || !pad_secret(puk, st->puk)) {
        snprintf(err, errlen, "%s: PIN and PUK are 4 to 8 UTF-8 bytes", v->name);
        goto fail;
    }
    if (opt->mgm_key_hex) {
        snprintf(err, errlen, "%s has no management key", v->name);
        goto fail;
    }
    st->pin_max = st->pin_left = VGCA_TRIES;
    st->puk_max = st->puk_left = VGCA_TRIES;
    if (opt->serial) {
        memset(st->serial, 0, VGCA_SERIAL_LEN);
        for (int i = 0; i < 4; i++)
            st->serial[VGCA_SERIAL_LEN - 1 - i] = (uint8_t)(opt->serial >> (8 * i));
    } else if (!vt_random(st->serial, VGCA_SERIAL_LEN)) {
        snprintf(err, errlen, "no randomness");
        goto fail;
    }
    if (v->cert_compressed && !vt_random(st->blob_seed, VGCA_BLOB_SEED_LEN)) {
        snprintf(err, errlen, "no randomness");
        goto fail;
    }
    if (opt->nkeys != 1 || opt->keys[0].slot != v->key_ref || !opt->keys[0].cert_file) {
        snprintf(err, errlen, "%s takes exactly one --key %02x=KEY.pem,CERT.pem", v->name, v->key_ref);
        goto fail;
    }
    FILE *f = fopen(opt->keys[0].key_file, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open key %s", opt->keys[0].key_file);
        goto fail;
    }
    st->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!st->key) {
        snprintf(err, errlen, "%s holds no readable PEM private key", opt->keys[0].key_file);
        goto fail;
    }
    if (!read_cert_file(opt->keys[0].cert_file, &st->cert, &st->cert_len, err, errlen))
        goto fail;
    if (opt->nca_certs > v->max_ca) {
        if (v->max_ca == 0)
            snprintf(err, errlen, "%s keeps no CA certificates", v->name);
        else
            snprintf(err, errlen, "%s keeps at most %zu CA certificates (issuing, root)", v->name, v->max_ca);
        goto fail;
    }
    for (size_t i = 0; i < opt->nca_certs; i++) {
        if (!read_cert_file(opt->ca_certs[i], &st->ca[i], &st->ca_len[i], err, errlen))
            goto fail;
        st->nca = i + 1;
    }
    if (!check_contents(st, err, errlen))
        goto fail;
    if (!vt_vgca_build_files(st)) {
        snprintf(err, errlen, "cannot build the card's files");
        goto fail;
    }
    *out = st;
    return 0;
fail:
    vt_vgca_free_state(st);
    return -1;
}

void vt_vgca_save(const void *p, struct tlv_builder *b)
{
    const struct vgca_state *st = p;

    tlv_add(b, ST_PIN, st->pin, VGCA_PIN_LEN);
    tlv_add(b, ST_PUK, st->puk, VGCA_PIN_LEN);
    uint8_t counters[4] = { st->pin_max, st->pin_left, st->puk_max, st->puk_left };
    tlv_add(b, ST_COUNTERS, counters, sizeof(counters));
    tlv_add(b, ST_SERIAL, st->serial, VGCA_SERIAL_LEN);
    unsigned char *der = NULL;
    int len = i2d_PrivateKey(st->key, &der);
    if (len <= 0) {
        b->error = TLV_ERR_RANGE;
        return;
    }
    tlv_add(b, ST_KEY, der, (size_t)len);
    OPENSSL_clear_free(der, (size_t)len);
    tlv_add(b, ST_CERT, st->cert, st->cert_len);
    for (size_t i = 0; i < st->nca; i++)
        tlv_add(b, ST_CA, st->ca[i], st->ca_len[i]);
    if (st->v->cert_compressed)
        tlv_add(b, ST_BLOB_SEED, st->blob_seed, VGCA_BLOB_SEED_LEN);
}

static bool load_element(struct vgca_state *st, const struct tlv *t)
{
    switch (t->tag) {
    case ST_PIN:
    case ST_PUK: {
        uint8_t *dst = t->tag == ST_PIN ? st->pin : st->puk;
        if (t->len != VGCA_PIN_LEN)
            return false;
        memcpy(dst, t->value, VGCA_PIN_LEN);
        return vt_vgca_pin_length(dst) != 0;
    }
    case ST_COUNTERS:
        if (t->len != 4)
            return false;
        st->pin_max = t->value[0];
        st->pin_left = t->value[1];
        st->puk_max = t->value[2];
        st->puk_left = t->value[3];
        return st->pin_max >= 1 && st->pin_max <= 15 && st->pin_left <= st->pin_max && st->puk_max >= 1 &&
               st->puk_max <= 15 && st->puk_left <= st->puk_max;
    case ST_SERIAL:
        if (t->len != VGCA_SERIAL_LEN)
            return false;
        memcpy(st->serial, t->value, VGCA_SERIAL_LEN);
        return true;
    case ST_KEY: {
        const unsigned char *p = t->value;
        st->key = d2i_AutoPrivateKey(NULL, &p, (long)t->len);
        return st->key && p == t->value + t->len;
    }
    case ST_CERT:
        st->cert = dup_bytes(t->value, t->len);
        st->cert_len = t->len;
        return st->cert != NULL;
    case ST_CA:
        if (st->nca == VGCA_MAX_CA)
            return false;
        st->ca[st->nca] = dup_bytes(t->value, t->len);
        st->ca_len[st->nca] = t->len;
        return st->ca[st->nca++] != NULL;
    case ST_BLOB_SEED:
        if (!st->v->cert_compressed || t->len != VGCA_BLOB_SEED_LEN)
            return false;
        memcpy(st->blob_seed, t->value, VGCA_BLOB_SEED_LEN);
        return true;
    default:
        return false;
    }
}

int vt_vgca_load(const struct vgca_variant *v, const uint8_t *body, size_t len, void **out, char *err, size_t errlen)
{
    struct vgca_state *st = new_state(v);
    struct tlv t;
    unsigned seen = 0;
    int rc;

    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while ((rc = tlv_next(&body, &len, &t)) == TLV_OK) {
        unsigned bit = t.tag >= ST_PIN && t.tag <= ST_BLOB_SEED ? 1u << (t.tag - ST_PIN) : 0;
        bool repeat = bit && (seen & bit) && t.tag != ST_CA;
        if (!bit || repeat || !load_element(st, &t)) {
            snprintf(err, errlen, "%s state: bad or repeated element %X", v->name, (unsigned)t.tag);
            goto fail;
        }
        seen |= bit;
    }
    if (rc != TLV_END) {
        snprintf(err, errlen, "%s state: malformed TLV (%d)", v->name, rc);
        goto fail;
    }
    unsigned need = 1u << (ST_PIN - ST_PIN) | 1u << (ST_PUK - ST_PIN) | 1u << (ST_COUNTERS - ST_PIN) |
                    1u << (ST_SERIAL - ST_PIN) | 1u << (ST_KEY - ST_PIN) | 1u << (ST_CERT - ST_PIN);
    if (v->cert_compressed)
        need |= 1u << (ST_BLOB_SEED - ST_PIN);
    if ((seen & need) != need) {
        snprintf(err, errlen, "%s state: required elements missing", v->name);
        goto fail;
    }
    char why[160];
    if (!check_contents(st, why, sizeof(why))) {
        snprintf(err, errlen, "%s state: %s", v->name, why);
        goto fail;
    }
    if (!vt_vgca_build_files(st)) {
        snprintf(err, errlen, "%s state: cannot build the card's files", v->name);
        goto fail;
    }
    *out = st;
    return 0;
fail:
    vt_vgca_free_state(st);
    return -1;
}

void vt_vgca_describe(const void *p, char *out, size_t outlen)
{
    const struct vgca_state *st = p;
    const struct vgca_variant *v = st->v;
    char serial[2 * VGCA_SERIAL_LEN + 1], subject[256] = "?";

    for (size_t i = 0; i < VGCA_SERIAL_LEN; i++)
        snprintf(serial + 2 * i, 3, "%02X", st->serial[i]);
    X509 *cert = parse_cert(st->cert, st->cert_len);
    BIO *bio = BIO_new(BIO_s_mem());
    if (cert && bio &&
        X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(bio, subject, sizeof(subject) - 1);
        subject[n > 0 ? n : 0] = '\0';
    }
    BIO_free(bio);
    X509_free(cert);
    int n = snprintf(out, outlen,
                     "personality %s (bit4id %s), serial %s\nPIN tries %u/%u, PUK tries %u/%u\n"
                     "key %02X: RSA-%u, certificate %s%s\nCA certificates on the card: %zu\nfiles:",
                     v->name, v->applet, serial, st->pin_left, st->pin_max, st->puk_left, st->puk_max, v->key_ref,
                     v->key_bits, subject, v->cert_compressed ? " (on the card only as 7A, compressed)" : "", st->nca);
    for (size_t i = 0; i < st->nfiles && n > 0 && (size_t)n < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, " %s%04X (%zu)", st->files[i].at_mf ? "MF/" : "",
                      st->files[i].fid, st->files[i].size);
    if (n > 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, "\n");
}
