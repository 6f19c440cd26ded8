/* Token edges: one interface at the level of token operations (identify,
 * enumerate keys and certificates, PIN status/verify/change/unblock, sign,
 * decrypt, derive, generate, write a certificate), not APDUs. The module
 * picks the edge by what the card answers (token_open tries each edge's
 * probe in turn).
 *
 * A struct token is one card in one reader. It is not thread-safe: the
 * caller serialises all calls on a token (the module holds the slot's
 * lock). Every operation runs inside a PC/SC transaction so that
 * multi-APDU sequences (VERIFY then GENERAL AUTHENTICATE) are never
 * interleaved with another process's commands.
 *
 * Bounds. Every fixed-size table and field below that a card's answers
 * fill, where its size is checked, and what a card past it gets (tests:
 * tests/unit/test_token_bounds.c, test_pkcs15.c, test_tlv.c, test_apdu.c):
 *
 *   bound                         checked where                 past it
 *   keys[TOKEN_MAX_KEYS] vgca     PrKDF, PuKDF parse (max 24)   enumerate fails, PCSC_E_MALFORMED
 *   keys[TOKEN_MAX_KEYS] piv      compile time: 4 + 20 slots    cannot happen; key history
 *                                 = 24; retired loop to 20      claims past 20 are not read
 *   certs[TOKEN_MAX_CERTS] vgca   after the CDFs are parsed:    enumerate fails, PCSC_E_MALFORMED
 *                                 authority + trusted <= 8
 *   CDF entries (24 + 8) vgca     CDF parse                     enumerate fails, PCSC_E_MALFORMED
 *   ODF, AODF entries (16) vgca   ODF, AODF parse               enumerate fails, PCSC_E_MALFORMED
 *   EF.DIR applications (4) vgca  EF.DIR parse (probe)          not a government card (variant A)
 *   objects[TOKEN_MAX_DATA_OBJECTS] compile time (piv: 6 fixed) cannot happen; vgca has none
 *   id[TOKEN_MAX_ID] (32)         PKCS#15 parse (P15_ID_MAX)    enumerate fails, PCSC_E_MALFORMED
 *   label[TOKEN_LABEL_MAX] vgca   PKCS#15 parse: P15_LABEL_MAX  cut at 64 bytes, on a UTF-8 boundary
 *   info.label[33]                token_copy_text / piv CN cut  cut at 32 bytes, on a UTF-8 boundary
 *   info.serial[17] vgca          TokenInfo parse: 32 bytes;    over 32: token_open fails MALFORMED;
 *                                 identify cuts to 16           else the first 16 (8 bytes in hex)
 *   PKCS#15 path (16)             PKCS#15 parse (P15_PATH_MAX)  enumerate fails, PCSC_E_MALFORMED
 *   PIN stored/max length (16)    pins_from_aodf                the AODF's value ignored (8 kept)
 *   EF read (offset 0x7FFF)       read_selected                 read stops there; a cut directory
 *                                                               then fails to parse (MALFORMED)
 *   PKCS#15 nesting (12)          pkcs15.c (P15_MAX_DEPTH)      P15_ERR_DEPTH, MALFORMED
 *   TLV tag 4 bytes, length 3     tlv_next                      TLV_ERR_TAG / TLV_ERR_LENGTH
 *   APDU answer (65536, 1024      pcsc_apdu_transceive          PCSC_E_MALFORMED; an answer over
 *   rounds), fixed resp buffers                                 a caller's buffer is
 *                                                               PCSC_E_BUFFER_TOO_SMALL
 */
#ifndef KYSO_PCSC_TOKEN_H
#define KYSO_PCSC_TOKEN_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcsc/apdu.h"
#include "pcsc/reader.h"
#include "pcsc/status.h"

#define TOKEN_MAX_KEYS 24
#define TOKEN_MAX_CERTS 8
#define TOKEN_MAX_DATA_OBJECTS 16
#define TOKEN_MAX_ID 32
#define TOKEN_LABEL_MAX 128
/* The largest RSA key any edge may offer: signatures and raw blocks of the
 * layers above are sized for it (512 bytes). */
#define TOKEN_MAX_RSA_BITS 4096

enum token_pin_ref {
    TOKEN_PIN_USER,   /* PIV: PIN (80) */
    TOKEN_PIN_SO,     /* PIV: PUK (81) */
};

enum token_key_type { TOKEN_KEY_RSA, TOKEN_KEY_EC };

/* A private key on the card, with what is known of its public half. */
struct token_key {
    uint8_t ref;                   /* the card's key reference */
    uint8_t id[TOKEN_MAX_ID];      /* CKA_ID shared by the key's objects */
    size_t id_len;
    char label[TOKEN_LABEL_MAX];
    char cert_label[TOKEN_LABEL_MAX];
    bool local;                    /* generated on the card (when known) */
    enum token_key_type type;
    unsigned bits;                 /* modulus or field size */
    EVP_PKEY *pub;                 /* public key; NULL if unknown */
    uint8_t *cert;                 /* DER certificate or NULL */
    size_t cert_len;
    bool always_authenticate;      /* a PIN right before every use */
    /* always_authenticate and local are the edge's defaults until
     * token_key_details() has asked the card (one APDU, when first needed:
     * a cold start reads certificates only). */
    bool details_pending;
    bool needs_certificate;        /* signs only with a known certificate (government tokens) */
    bool sign, decrypt, derive;    /* what the key is for */
};

/* A certificate that belongs to no key on the card (the CA chain). */
struct token_cert {
    uint8_t id[TOKEN_MAX_ID];
    size_t id_len;
    char label[TOKEN_LABEL_MAX];
    bool authority;
    uint8_t *der;
    size_t len;
};

/* What an edge's card can do beyond signing with RSA PKCS#1 v1.5. The
 * module offers only the mechanisms the card can carry out. */
enum token_caps {
    TOKEN_CAP_RSA_PSS = 1u << 0,
    TOKEN_CAP_RSA_RAW = 1u << 1,   /* CKM_RSA_X_509 and any padding done on the host */
    TOKEN_CAP_DECRYPT = 1u << 2,
    TOKEN_CAP_EC = 1u << 3,
    TOKEN_CAP_GENERATE = 1u << 4,
    TOKEN_CAP_WRITE_CERT = 1u << 5,
};

/* A data object the card keeps (PIV: CHUID, CCC, ...). The value is read
 * on first use. */
struct token_data_object {
    char label[TOKEN_LABEL_MAX];
    char app_oid[48];              /* CKA_OBJECT_ID as dotted text */
    uint32_t tag;
    bool private_;                 /* only after the PIN */
    bool loaded;
    uint8_t *value;
    size_t len;
};

struct token_info {
    char label[33];
    char serial[17];
    char manufacturer[33];
    char model[17];
    char applet[16];               /* "piv", "vgca-chipdoc", "vgca-jcop" (as records name it) */
    uint8_t hw_major, hw_minor, fw_major, fw_minor;
    unsigned rsa_gen_max_bits;     /* the largest RSA key this card makes; 0: the edge's rsa_max_bits */
};

/* What a signature is made of. The module hashes; the edge turns this
 * into whatever its card needs (PIV pads on the host; other cards pad on
 * the card). */
enum token_sig_scheme {
    TOKEN_SIG_RSA_PKCS1,  /* in: the DigestInfo (or any data for CKM_RSA_PKCS) */
    TOKEN_SIG_RSA_PSS,    /* in: the hash */
    TOKEN_SIG_RSA_RAW,    /* in: a modulus-size block (CKM_RSA_X_509) */
    TOKEN_SIG_ECDSA,      /* in: the hash; out: r‖s, fixed length */
};

struct token_sign_request {
    enum token_sig_scheme scheme;
    const uint8_t *in;
    size_t in_len;
    const EVP_MD *pss_md;         /* PSS: hash and MGF1 hash, salt length */
    const EVP_MD *pss_mgf1_md;
    int pss_salt_len;
    /* For always-authenticate keys: the PIN, sent in the same transaction
     * right before the private-key operation. NULL otherwise. */
    const uint8_t *pin;
    size_t pin_len;
    /* The card accepted this PIN for this operation moments ago (a context
     * login): it is sent again only if the card answers that it no longer
     * holds it (another application's operation came in between). */
    bool pin_just_verified;
};

enum token_decrypt_scheme {
    TOKEN_DEC_RSA_RAW,     /* the raw RSA result, modulus size */
};

struct token;

struct token_edge {
    const char *name;
    unsigned caps;                 /* enum token_caps */
    unsigned rsa_min_bits, rsa_max_bits;
    /* Optional: true when the ATR is one this edge's cards are known to
     * have. Only orders the probing; recognition is by the probe. */
    bool (*atr_hint)(const uint8_t *atr, size_t len);
    /* Recognises and selects the card's application; 0 = this edge drives it. */
    int (*probe)(struct token *t);
    /* Identity and description; the identity tells this card from any other
     * (cache key). */
    int (*identify)(struct token *t, struct token_info *info, uint8_t identity[32]);
    /* Reads keys, certificates and the list of data objects (no PIN). */
    int (*enumerate)(struct token *t);
    int (*read_data_object)(struct token *t, struct token_data_object *o);
    /* Optional: what the card tells of a key on request (PIV: its PIN
     * policy and origin, from GET METADATA), for keys left details_pending. */
    int (*key_details)(struct token *t, struct token_key *k);
    /* PIN status without spending a try: tries left (-1 unknown), and
     * whether the card holds it verified now. */
    int (*pin_status)(struct token *t, enum token_pin_ref ref, int *tries_left, bool *verified);
    int (*verify)(struct token *t, enum token_pin_ref ref, const uint8_t *pin, size_t len, int *tries_left);
    int (*logout)(struct token *t);
    int (*change_pin)(struct token *t, enum token_pin_ref ref, const uint8_t *old_pin, size_t old_len,
                      const uint8_t *new_pin, size_t new_len, int *tries_left);
    /* Unblocks (and sets) the user PIN with the SO PIN (PUK). */
    int (*unblock)(struct token *t, const uint8_t *puk, size_t puk_len, const uint8_t *new_pin, size_t new_len,
                   int *tries_left);
    int (*sign)(struct token *t, const struct token_key *k, const struct token_sign_request *req, uint8_t *out,
                size_t *out_len);
    /* RSA private operation on a modulus-size block; the module unpads. */
    int (*decrypt)(struct token *t, const struct token_key *k, const uint8_t *in, size_t in_len, const uint8_t *pin,
                   size_t pin_len, uint8_t *out, size_t *out_len);
    /* ECDH with the peer's uncompressed point; out: the shared x. */
    int (*derive)(struct token *t, const struct token_key *k, const uint8_t *point, size_t point_len,
                  const uint8_t *pin, size_t pin_len, uint8_t *out, size_t *out_len);
    /* Administrator authentication (PIV: the management key). */
    int (*admin_auth)(struct token *t, const uint8_t *key, size_t key_len);
    /* Generates a key pair in slot ref (admin only); returns its public key. */
    int (*generate)(struct token *t, uint8_t ref, enum token_key_type type, unsigned bits, EVP_PKEY **pub);
    /* Stores a certificate for slot ref (admin only). */
    int (*write_certificate)(struct token *t, uint8_t ref, const uint8_t *der, size_t len);
};

struct token {
    struct pcsc_card *card;        /* owned by the caller */
    struct pcsc_transport transport;
    const struct token_edge *edge;
    void *edge_state;
    struct token_info info;
    uint8_t identity[32];
    struct token_key keys[TOKEN_MAX_KEYS];
    size_t nkeys;
    struct token_data_object objects[TOKEN_MAX_DATA_OBJECTS];
    size_t nobjects;
    struct token_cert certs[TOKEN_MAX_CERTS];
    size_t ncerts;
    bool enumerated;
    size_t keys_refused;           /* keys not offered: a size the edge cannot use, no EC point
                                    * (not keys past TOKEN_MAX_KEYS: those refuse the card) */
    uint64_t apdus;                /* APDUs sent (for measurements) */
};

/* Finds the edge that drives the card and identifies it (no enumeration). */
int token_open(struct token *t, struct pcsc_card *card);
/* The same over any transport, for a card whose ATR is known (no PC/SC
 * card behind it: t->card stays NULL, so nothing that resets the card may
 * be asked of the edge). */
int token_open_transport(struct token *t, const struct pcsc_transport *transport, const uint8_t *atr,
                         size_t atr_len);
/* Reconnects to the card (resetting it if reset) and keeps the transport
 * in step with the protocol the card now speaks. */
int token_reconnect(struct token *t, bool reset);
/* Selects the card's application again (after a reset); keeps what was read. */
int token_reselect(struct token *t);
/* Forgets everything about the card (keys, objects, edge state). */
void token_close(struct token *t);
/* Reads keys, certificates and data objects unless already done. */
int token_enumerate(struct token *t);
struct token_key *token_find_key(struct token *t, uint8_t ref);
/* Asks the card what enumeration left pending of a key (details_pending);
 * no APDU when nothing is. In a transaction. */
int token_key_details(struct token *t, struct token_key *k);
/* The CA certificates the card keeps (for building chains); free with
 * sk_X509_pop_free(…, X509_free). */
STACK_OF(X509) *token_ca_certificates(const struct token *t);

/* Copies UTF-8 text into dst (NUL-terminated), cut on a character boundary. */
void token_copy_text(char *dst, size_t dstlen, const char *src);

/* Sends one APDU through the token's transport and counts it. */
int token_transceive(struct token *t, const struct pcsc_apdu *a, uint8_t *resp, size_t cap, size_t *len,
                     uint16_t *sw);
int token_transceive_alloc(struct token *t, const struct pcsc_apdu *a, uint8_t **resp, size_t *len, uint16_t *sw);

/* The edges kyso knows, in probe order. */
extern const struct token_edge token_edge_piv;
extern const struct token_edge token_edge_vgca;

#endif
