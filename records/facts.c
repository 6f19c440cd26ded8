/* Facts read from a token, turned into schema kyso-record/1 members, and
 * the header of a new record (records/facts.h). */
#include "config.h"

#include "records/facts.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "records/canon.h"
#include "records/record.h"

static void set_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v ? v : ""));
}

/* The first entry nid of name as UTF-8 ("" when absent or not text). */
static void name_entry(const X509_NAME *name, int nid, char *out, size_t outlen)
{
    out[0] = '\0';
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return;
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char *utf8 = NULL;
    int n = v ? ASN1_STRING_to_UTF8(&utf8, v) : -1;
    if (n >= 0 && (size_t)n < outlen && records_utf8_valid((const char *)utf8, (size_t)n)) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
}

static int format_asn1_time(const ASN1_TIME *t, char out[32])
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return -1;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900), (unsigned)(tm.tm_mon + 1) % 13,
             (unsigned)tm.tm_mday % 32, (unsigned)tm.tm_hour % 24, (unsigned)tm.tm_min % 60, (unsigned)tm.tm_sec % 61);
    return 0;
}

/* The issuer in RFC 2253 order, UTF-8 kept as it is. */
static int issuer_text(const X509_NAME *name, char *out, size_t outlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -1;
    int rc = -1;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(b, out, (int)outlen - 1);
        if (n > 0 && (size_t)n < outlen - 1 && records_utf8_valid(out, (size_t)n)) {
            out[n] = '\0';
            rc = 0;
        }
    }
    BIO_free(b);
    return rc;
}

json_object *records_certificate_facts(const uint8_t *der, size_t len, char *why, size_t whylen)
{
    const unsigned char *p = der;
    X509 *x = len && len <= 65536 ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (!x || p != der + len) {
        snprintf(why, whylen, "not a certificate (DER)");
        X509_free(x);
        return NULL;
    }
    json_object *c = json_object_new_object(), *subject = json_object_new_object(), *key = json_object_new_object();
    char buf[1024], nb[32], na[32];
    const X509_NAME *sn = X509_get_subject_name(x);
    static const struct {
        const char *key;
        int nid;
    } fields[] = { { "cn", NID_commonName },           { "title", NID_title },
                   { "o", NID_organizationName },      { "ou", NID_organizationalUnitName },
                   { "l", NID_localityName },          { "c", NID_countryName },
                   { "email", NID_pkcs9_emailAddress } };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        name_entry(sn, fields[i].nid, buf, sizeof(buf));
        set_str(subject, fields[i].key, buf);
    }
    json_object_object_add(c, "subject", subject);

    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        for (char *h = hex; *h; h++)
            *h = (char)(*h >= 'A' && *h <= 'F' ? *h - 'A' + 'a' : *h);
    set_str(c, "serial", hex);
    OPENSSL_free(hex);
    BN_free(bn);

    int issuer_ok = issuer_text(X509_get_issuer_name(x), buf, sizeof(buf));
    set_str(c, "issuer", issuer_ok == 0 ? buf : "");
    int times_ok = format_asn1_time(X509_get0_notBefore(x), nb) | format_asn1_time(X509_get0_notAfter(x), na);
    set_str(c, "not_before", times_ok == 0 ? nb : "");
    set_str(c, "not_after", times_ok == 0 ? na : "");

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char fp[65] = "";
    if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32)
        for (unsigned i = 0; i < 32; i++)
            snprintf(fp + 2 * i, 3, "%02x", md[i]);
    set_str(c, "sha256", fp);

    EVP_PKEY *pk = X509_get0_pubkey(x);
    int base = pk ? EVP_PKEY_get_base_id(pk) : 0;
    set_str(key, "type", base == EVP_PKEY_RSA ? "RSA" : base == EVP_PKEY_EC ? "EC" : "other");
    json_object_object_add(key, "bits", json_object_new_int(pk ? EVP_PKEY_get_bits(pk) : 0));
    json_object_object_add(c, "key", key);
    X509_free(x);
    if (issuer_ok != 0 || times_ok != 0 || !fp[0] || (base != EVP_PKEY_RSA && base != EVP_PKEY_EC)) {
        snprintf(why, whylen, "%s", issuer_ok != 0 ? "its issuer cannot be written as text"
                                    : times_ok != 0 ? "its validity dates cannot be read"
                                    : !fp[0]        ? "its fingerprint cannot be computed"
                                                    : "its key is neither RSA nor EC");
        json_object_put(c);
        return NULL;
    }
    return c;
}

json_object *records_token_facts(const struct records_token_in *in)
{
    json_object *t = json_object_new_object();
    set_str(t, "manufacturer", in->manufacturer);
    set_str(t, "model", in->model);
    set_str(t, "serial", in->serial);
    set_str(t, "label", in->label);
    char atr[2 * 64 + 1] = "";
    for (size_t i = 0; i < in->atr_len && i < 64; i++)
        snprintf(atr + 2 * i, 3, "%02X", in->atr[i]);
    set_str(t, "atr", atr);
    set_str(t, "applet", in->applet);
    if (in->has_usb) {
        json_object *u = json_object_new_object();
        char v[5];
        snprintf(v, sizeof(v), "%04x", in->usb_vid);
        set_str(u, "vid", v);
        snprintf(v, sizeof(v), "%04x", in->usb_pid);
        set_str(u, "pid", v);
        set_str(u, "serial", in->usb_serial);
        json_object_object_add(t, "usb", u);
    } else {
        json_object_object_add(t, "usb", NULL);
    }
    return t;
}

json_object *records_form(const char *cited, const char *regulation)
{
    json_object *f = json_object_new_object();
    const char *open = cited ? strstr(cited, " (") : NULL;
    size_t clen = cited ? strlen(cited) : 0;
    if (open && clen > 2 && cited[clen - 1] == ')') {
        json_object_object_add(f, "number", json_object_new_string_len(cited, (int)(open - cited)));
        json_object_object_add(f, "law", json_object_new_string_len(open + 2, (int)(cited + clen - 1 - (open + 2))));
    } else {
        set_str(f, "number", cited ? cited : "");
        set_str(f, "law", regulation);
    }
    return f;
}

void records_time_format(int64_t epoch, char out[32])
{
    time_t t = (time_t)epoch;
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00Z");
        return;
    }
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    unsigned oh = (unsigned)(off / 60 % 24), om = (unsigned)(off % 60);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        year = 1970;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u%c%02u:%02u", (unsigned)year, (unsigned)(tm.tm_mon + 1) % 13,
             (unsigned)tm.tm_mday % 32, (unsigned)tm.tm_hour % 24, (unsigned)tm.tm_min % 60,
             (unsigned)tm.tm_sec % 61, sign, oh, om);
}

json_object *records_begin(const struct records_header_in *h)
{
    char id[24], when[32];
    if (records_new_id_at(id, h->when) != 0)
        return NULL;
    records_time_format(h->when, when);
    json_object *r = json_object_new_object(), *created = json_object_new_object(),
                *agency = json_object_new_object();
    set_str(r, "schema", RECORDS_SCHEMA);
    set_str(r, "kind", h->kind);
    set_str(r, "id", id);
    set_str(r, "profile", h->profile);
    json_object_object_add(r, "form", records_form(h->form_cited, h->regulation));
    set_str(r, "title", h->title);
    set_str(created, "time", when);
    set_str(created, "place", h->place);
    json_object_object_add(r, "created", created);
    set_str(agency, "name", h->agency_name);
    set_str(agency, "parent", h->agency_parent);
    json_object_object_add(r, "agency", agency);
    return r;
}
