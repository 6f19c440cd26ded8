/* PKCS#15 / ISO/IEC 7816-15: strict DER parsing of the files the
 * government tokens hold (TOKENS.md §1): EF.DIR, EF.ODF, EF.TokenInfo and
 * the directory files AODF, PrKDF, PuKDF, CDF and DODF.
 *
 * Every parser fills caller-provided fixed-size structures: strings and
 * identifiers are copied, "direct" values point into the caller's buffer
 * (valid as long as it is). Nothing is allocated.
 *
 * Strictness. The input must be DER: minimal length octets, minimal
 * INTEGER encodings, BOOLEAN 00/FF, BIT STRING with at most 7 unused bits
 * that are zero, valid UTF-8, components in the order the ASN.1 gives.
 * Known alternatives and components that kyso does not use are skipped,
 * and so are extension additions; what is skipped is still checked down to
 * P15_MAX_DEPTH (DER tags and lengths, SEQUENCE/SET constructed, other
 * universal types primitive), but not the content of its primitive values.
 * An element that repeats a component already parsed, or appears out of
 * order, is an error. Direct values (a certificate or public key inside
 * the file) are returned as they are, checked only as one element.
 * Two things are accepted that strict DER would not: a DEFAULT value that
 * is encoded anyway (native TRUE, authority FALSE), and BIT STRINGs that
 * keep trailing zero bits. Files read from cards are often longer than their content: bytes
 * 00 and FF after the last top-level element are accepted as padding (in
 * every file, TokenInfo included), but nothing else after it.
 *
 * Directory files (EF.DIR, ODF, AODF, PrKDF, PuKDF, CDF, DODF) are
 * sequences of entries. The parser checks the whole file before it
 * returns: on success out[0..*count) hold the entries; on P15_ERR_TOO_MANY
 * (the file is well-formed but has more than max entries of the kinds the
 * parser returns) out[0..max) hold the first max and *count is max; on any
 * other error *count is 0 and out is unspecified. out may be NULL when max
 * is 0 (to check a file, or to learn that it is not empty).
 */
#ifndef KYSO_PCSC_PKCS15_H
#define KYSO_PCSC_PKCS15_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum p15_result {
    P15_OK = 0,
    P15_ERR_MALFORMED = -1,   /* not DER, truncated, wrong or missing element, bad UTF-8 */
    P15_ERR_TOO_MANY = -2,    /* more entries than the caller's array holds */
    P15_ERR_UNSUPPORTED = -3, /* well-formed, but a form kyso does not handle (e.g. an
                               * ODF entry holding objects instead of a path, a
                               * protected or URL value) */
    P15_ERR_RANGE = -4,       /* an integer, identifier, path or OID that does not fit
                               * its field or the range the ASN.1 allows */
    P15_ERR_DEPTH = -5,       /* nesting deeper than P15_MAX_DEPTH */
    P15_ERR_ARGS = -6,        /* NULL buffer or output */
};

/* Nesting limit, counting the top-level element of a file as level 1. The
 * deepest structure kyso reads needs 5; skipped elements (a subject Name,
 * access control rules, EC parameters) need up to 8. */
#define P15_MAX_DEPTH 12

/* Sizes of the copied fields (bytes, strings without their NUL). */
#define P15_LABEL_MAX 64
#define P15_PATH_MAX 16
#define P15_AID_MAX 16
#define P15_ID_MAX 32
#define P15_AUTH_ID_MAX 16
#define P15_SERIAL_MAX 32
#define P15_OID_MAX 63

/* Path ::= SEQUENCE { path OCTET STRING, index INTEGER OPTIONAL,
 * length [0] INTEGER OPTIONAL }: index and length come together or not at
 * all (0..65535). The path is a file identifier or a concatenation of
 * them, as written (not made absolute). */
struct p15_path {
    uint8_t value[P15_PATH_MAX];
    size_t len;
    uint32_t index, length;
    bool has_range;
};

/* EF.DIR: application template 61 { 4F AID, 50 label OPTIONAL,
 * 51 path OPTIONAL, ... } in that order; other data objects are skipped. */
struct p15_app {
    uint8_t aid[P15_AID_MAX];
    size_t aid_len;                  /* 1..16 */
    char label[P15_LABEL_MAX + 1];   /* "" when absent */
    struct p15_path path;            /* path.len 0 when absent; never has_range */
    bool has_path;
};

/* EF.ODF entry types: the context tag number of the PKCS15Objects choice. */
enum p15_odf_type {
    P15_ODF_PRIVATE_KEYS = 0,
    P15_ODF_PUBLIC_KEYS = 1,
    P15_ODF_TRUSTED_PUBLIC_KEYS = 2,
    P15_ODF_SECRET_KEYS = 3,
    P15_ODF_CERTIFICATES = 4,
    P15_ODF_TRUSTED_CERTIFICATES = 5,
    P15_ODF_USEFUL_CERTIFICATES = 6,
    P15_ODF_DATA_OBJECTS = 7,
    P15_ODF_AUTH_OBJECTS = 8,
};

/* One ODF entry [0]..[8] holding a Path. Entries with a higher tag number
 * (extensions) are skipped; an entry holding the objects themselves or an
 * enveloped form is P15_ERR_UNSUPPORTED. */
struct p15_odf_entry {
    unsigned type;          /* enum p15_odf_type */
    struct p15_path path;
};

/* TokenInfo flags (bit n of the BIT STRING is 1UL << n). */
#define P15_TOKEN_READONLY 0x01UL
#define P15_TOKEN_LOGIN_REQUIRED 0x02UL
#define P15_TOKEN_PRN_GENERATION 0x04UL
#define P15_TOKEN_EID_COMPLIANT 0x08UL

/* EF.TokenInfo: SEQUENCE { version INTEGER, serialNumber OCTET STRING
 * (OPTIONAL in ISO/IEC 7816-15), manufacturerID UTF8String OPTIONAL,
 * label [0] UTF8String OPTIONAL, tokenflags BIT STRING, ... }. */
struct p15_token_info {
    long version;
    uint8_t serial[P15_SERIAL_MAX];  /* as stored: often ASCII hex digits */
    size_t serial_len;
    bool has_serial;
    char manufacturer[P15_LABEL_MAX + 1];
    char label[P15_LABEL_MAX + 1];
    unsigned long flags;             /* P15_TOKEN_* */
};

/* CommonObjectFlags. */
#define P15_OBJ_PRIVATE 0x01UL
#define P15_OBJ_MODIFIABLE 0x02UL

/* Every object below starts with CommonObjectAttributes { label
 * UTF8String OPTIONAL, flags BIT STRING OPTIONAL, authId OCTET STRING
 * OPTIONAL, ... }: label, obj_flags, auth_id. */

/* PinFlags. */
#define P15_PIN_CASE_SENSITIVE 0x001UL
#define P15_PIN_LOCAL 0x002UL
#define P15_PIN_CHANGE_DISABLED 0x004UL
#define P15_PIN_UNBLOCK_DISABLED 0x008UL
#define P15_PIN_INITIALIZED 0x010UL
#define P15_PIN_NEEDS_PADDING 0x020UL
#define P15_PIN_UNBLOCKING_PIN 0x040UL
#define P15_PIN_SO_PIN 0x080UL
#define P15_PIN_DISABLE_ALLOWED 0x100UL
#define P15_PIN_INTEGRITY_PROTECTED 0x200UL
#define P15_PIN_CONFIDENTIALITY_PROTECTED 0x400UL
#define P15_PIN_EXCHANGE_REF_DATA 0x800UL

/* PinType. */
enum p15_pin_type {
    P15_PIN_BCD = 0,
    P15_PIN_ASCII_NUMERIC = 1,
    P15_PIN_UTF8 = 2,
    P15_PIN_HALF_NIBBLE_BCD = 3,
    P15_PIN_ISO9564_1 = 4,
};

/* AODF: a PIN object. CommonAuthenticationObjectAttributes { authId, ... }
 * gives auth_id (required); [1] PinAttributes the rest. Other
 * authentication objects (biometric, authKey, external) are skipped. */
struct p15_pin {
    char label[P15_LABEL_MAX + 1];
    unsigned long obj_flags;                 /* P15_OBJ_* */
    uint8_t obj_auth_id[P15_AUTH_ID_MAX];    /* authId of CommonObjectAttributes (a PUK) */
    size_t obj_auth_id_len;
    uint8_t auth_id[P15_AUTH_ID_MAX];        /* this PIN's own identifier */
    size_t auth_id_len;
    unsigned long pin_flags;                 /* P15_PIN_* */
    int pin_type;                            /* enum p15_pin_type, or a later value */
    int min_len, stored_len, max_len;        /* max_len -1 when absent */
    int reference;                           /* 0 (the DEFAULT) when absent */
    bool has_reference;
    uint8_t pad_char;
    bool has_pad_char;
    struct p15_path path;
    bool has_path;
};

/* KeyUsageFlags. */
#define P15_USAGE_ENCRYPT 0x001UL
#define P15_USAGE_DECRYPT 0x002UL
#define P15_USAGE_SIGN 0x004UL
#define P15_USAGE_SIGN_RECOVER 0x008UL
#define P15_USAGE_WRAP 0x010UL
#define P15_USAGE_UNWRAP 0x020UL
#define P15_USAGE_VERIFY 0x040UL
#define P15_USAGE_VERIFY_RECOVER 0x080UL
#define P15_USAGE_DERIVE 0x100UL
#define P15_USAGE_NON_REPUDIATION 0x200UL

/* KeyAccessFlags. */
#define P15_ACCESS_SENSITIVE 0x01UL
#define P15_ACCESS_EXTRACTABLE 0x02UL
#define P15_ACCESS_ALWAYS_SENSITIVE 0x04UL
#define P15_ACCESS_NEVER_EXTRACTABLE 0x08UL
#define P15_ACCESS_LOCAL 0x10UL

enum p15_key_type { P15_KEY_RSA, P15_KEY_EC };

/* What a PrKDF and a PuKDF entry say of a key. RSA keys are SEQUENCE
 * objects, EC keys [0]; other key types are skipped. CommonKeyAttributes
 * { iD, usage, native DEFAULT TRUE, accessFlags OPTIONAL, keyReference
 * OPTIONAL, ... }; [1] { value, modulusLength (RSA), ... }. */
struct p15_key {
    char label[P15_LABEL_MAX + 1];
    unsigned long obj_flags;                 /* P15_OBJ_* */
    uint8_t id[P15_ID_MAX];
    size_t id_len;
    uint8_t auth_id[P15_AUTH_ID_MAX];        /* the PIN that guards the key */
    size_t auth_id_len;
    unsigned long usage;                     /* P15_USAGE_* */
    unsigned long access_flags;              /* P15_ACCESS_* */
    bool native;
    /* keyReference is an INTEGER: a card whose encoder wrote 0x81 as the
     * one-byte INTEGER 81 gives -127 here; the reference byte for an APDU
     * is the low byte (uint8_t)key_reference either way. */
    int key_reference;
    bool has_key_reference;
    enum p15_key_type type;
    unsigned long modulus_bits;              /* RSA: modulusLength; EC: 0 */
    struct p15_path path;
    bool has_path;
};

/* PrKDF: a private key's value is a Path; any other value is
 * P15_ERR_UNSUPPORTED. */
struct p15_private_key {
    struct p15_key key;
};

/* How a public key's direct value is given (the element inside [0]). */
enum p15_direct_form {
    P15_DIRECT_NONE = 0,
    P15_DIRECT_RAW,   /* RSA: RSAPublicKey SEQUENCE; EC: ECPoint OCTET STRING */
    P15_DIRECT_SPKI,  /* [1] SubjectPublicKeyInfo: the same bytes with the first
                       * (tag) byte A1 instead of 30; replace it to get the DER SPKI */
};

/* PuKDF: publicRSAKey (SEQUENCE) and publicECKey ([0]) objects; other key
 * types are skipped. The value is a Path or a direct value. */
struct p15_public_key {
    struct p15_key key;
    const uint8_t *direct;                   /* whole element (tag, length, value), or NULL */
    size_t direct_len;
    enum p15_direct_form direct_form;
};

/* CDF: x509Certificate objects; other certificate types are skipped.
 * CommonCertificateAttributes { iD, authority DEFAULT FALSE, ... };
 * [1] X509CertificateAttributes { value: Path or direct [0] Certificate,
 * ... }. */
struct p15_certificate {
    char label[P15_LABEL_MAX + 1];
    unsigned long obj_flags;
    uint8_t auth_id[P15_AUTH_ID_MAX];
    size_t auth_id_len;
    uint8_t id[P15_ID_MAX];
    size_t id_len;
    bool authority;
    struct p15_path path;
    bool has_path;
    const uint8_t *direct;                   /* the DER certificate (SEQUENCE), or NULL */
    size_t direct_len;
};

/* DODF: opaqueDO objects; other data object types are skipped.
 * CommonDataObjectAttributes { applicationName UTF8String OPTIONAL,
 * applicationOID OPTIONAL, ... }; [1] value: Path or direct [0]. */
struct p15_data_object {
    char label[P15_LABEL_MAX + 1];
    unsigned long obj_flags;
    uint8_t auth_id[P15_AUTH_ID_MAX];
    size_t auth_id_len;
    char app_name[P15_LABEL_MAX + 1];        /* "" when absent */
    char app_oid[P15_OID_MAX + 1];           /* dotted, "" when absent */
    struct p15_path path;
    bool has_path;
    const uint8_t *direct;                   /* the element inside [0], or NULL */
    size_t direct_len;
};

int p15_parse_dir(const uint8_t *buf, size_t len, struct p15_app *out, size_t max, size_t *count);
int p15_parse_odf(const uint8_t *buf, size_t len, struct p15_odf_entry *out, size_t max,
                  size_t *count);
int p15_parse_token_info(const uint8_t *buf, size_t len, struct p15_token_info *out);
int p15_parse_aodf(const uint8_t *buf, size_t len, struct p15_pin *out, size_t max, size_t *count);
int p15_parse_prkdf(const uint8_t *buf, size_t len, struct p15_private_key *out, size_t max,
                    size_t *count);
int p15_parse_pukdf(const uint8_t *buf, size_t len, struct p15_public_key *out, size_t max,
                    size_t *count);
int p15_parse_cdf(const uint8_t *buf, size_t len, struct p15_certificate *out, size_t max,
                  size_t *count);
int p15_parse_dodf(const uint8_t *buf, size_t len, struct p15_data_object *out, size_t max,
                   size_t *count);

/* A short English description of a P15_* result (never NULL). */
const char *p15_strerror(int rc);

#endif
