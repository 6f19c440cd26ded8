/* kyso-vtoken: the government token (TOKENS.md §1), a Bit4id TokenME EVO
 * v2 with one of its two applets:
 *
 *   vgca-chipdoc   variant B, bit4id "ChipDoc" (vgca_chipdoc.c)
 *   vgca-jcop      variant A, "JCOP4Bit4Id"    (vgca_jcop.c)
 *
 * Both keep their objects as PKCS#15 (ISO/IEC 7816-15) inside a bit4id
 * application. The shared card edge (ISO file system, PIN, MSE + PSO) is
 * in vgca_card.c, the DER encoding of the PKCS#15 files in vgca_pkcs15.c,
 * personalisation and the state file in vgca_state.c. A variant is a
 * struct vgca_variant: what differs between the two applets is data.
 *
 * The emulation is exactly as strict as the measured cards: what
 * TOKENS.md lists works as listed; what it does not list answers as a
 * card without it would (6A82 for files and AIDs, 6A86 for P1-P2, 6A88
 * for references, 6D00 for instructions). Rules the facts leave open are
 * documented next to the code that applies them.
 */
#ifndef KYSO_VTOKEN_VGCA_H
#define KYSO_VTOKEN_VGCA_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcsc/tlv.h"
#include "tools/vtoken/card.h"

#define VGCA_PIN_LEN 8          /* PIN and PUK travel padded with FF to 8 bytes */
#define VGCA_PIN_MIN 4
#define VGCA_PIN_MAX_AODF 16    /* maxLength in the AODF, as measured */
#define VGCA_TRIES 3
#define VGCA_SERIAL_LEN 8
#define VGCA_READ_MAX 231       /* READ BINARY answers at most this much */
#define VGCA_MAX_CA 2
#define VGCA_MAX_FILES 16
#define VGCA_BLOB_SEED_LEN 32
#define VGCA_ALG_RSA_PKCS1 0x8A /* MSE algorithm reference: RSA PKCS#1 v1.5 */
#define VGCA_MF 0x3F00
#define VGCA_EF_DIR 0x2F00

enum vgca_kind { VGCA_CHIPDOC, VGCA_JCOP };

/* Everything that differs between the two applets. */
struct vgca_variant {
    enum vgca_kind kind;
    const char *name;              /* personality name */
    const char *applet;            /* applet name, for `show` */
    const uint8_t *aid;
    size_t aid_len;
    uint8_t pin_ref;               /* VERIFY P2 of the user PIN */
    uint8_t pin_ref_alias;         /* a second reference of the same PIN, 0: none */
    uint8_t puk_ref;               /* VERIFY P2 of the PUK, 0: the PUK has none */
    uint8_t key_ref;               /* MSE key reference (84) */
    unsigned key_bits;             /* RSA modulus size */
    const char *manufacturer;      /* TokenInfo manufacturerID */
    const uint8_t *key_id;         /* PrKDF iD; NULL: SHA-1 of the public key */
    size_t key_id_len;
    const uint8_t *key_path;       /* PrKDF path of the key */
    size_t key_path_len;
    bool pin_local;                /* pinFlags "local" in the AODF */
    bool has_mf;                   /* the MF (3F00) and EF.DIR (2F00) are selectable */
    bool cert_compressed;          /* EF 0001 holds 7A <blob>, not the DER */
    bool has_pukdf, has_dodf;
    size_t max_ca;                 /* CA certificates the card keeps */
};

/* One transparent EF. size is the allocated size: the content followed
 * by 00 padding. */
struct vgca_file {
    uint16_t fid;
    bool at_mf;                    /* in the MF (EF.DIR), else in the application */
    uint8_t *data;
    size_t size;
};

/* Volatile security status, lost on reset; never saved. */
struct vgca_session {
    bool in_app;                   /* current DF: the application, else the MF */
    int ef;                        /* index of the current EF, -1: none */
    bool pin_verified;
    bool puk_verified;             /* variant A: VERIFY on the PUK reference */
    bool dst_valid;                /* the last MSE SET B6 named algorithm 8A and our key */
};

struct vgca_state {
    const struct vgca_variant *v;
    /* Persistent part. */
    uint8_t pin[VGCA_PIN_LEN];
    uint8_t puk[VGCA_PIN_LEN];
    uint8_t pin_max, pin_left, puk_max, puk_left;
    uint8_t serial[VGCA_SERIAL_LEN];
    uint8_t blob_seed[VGCA_BLOB_SEED_LEN];    /* variant A: secret of the 7A stand-in */
    EVP_PKEY *key;
    uint8_t *cert;                             /* signer certificate, DER */
    size_t cert_len;
    uint8_t *ca[VGCA_MAX_CA];                  /* issuing CA, then root, DER */
    size_t ca_len[VGCA_MAX_CA];
    size_t nca;
    /* Built from the persistent part (vgca_pkcs15.c). */
    struct vgca_file files[VGCA_MAX_FILES];
    size_t nfiles;
    struct vgca_session session;
};

extern const struct vgca_variant vt_vgca_chipdoc_variant;
extern const struct vgca_variant vt_vgca_jcop_variant;
extern const struct vt_personality vt_personality_vgca_chipdoc;
extern const struct vt_personality vt_personality_vgca_jcop;

/* vgca_card.c */
void vt_vgca_power_on(struct vt_card *card);
void vt_vgca_process(struct vt_card *card, const struct vt_apdu *cmd, struct vt_reply *reply);

/* vgca_state.c: the personality entry points, for a given variant. */
int vt_vgca_init(const struct vgca_variant *v, const struct vt_init_options *opt, void **state, char *err,
                 size_t errlen);
int vt_vgca_load(const struct vgca_variant *v, const uint8_t *body, size_t len, void **state, char *err,
                 size_t errlen);
void vt_vgca_save(const void *state, struct tlv_builder *out);
void vt_vgca_free_state(void *state);
void vt_vgca_describe(const void *state, char *out, size_t outlen);
/* Length of a PIN inside its FF padding; 0 if it is not a well-formed
 * 4-to-8-byte UTF-8 PIN followed by FF only. */
size_t vt_vgca_pin_length(const uint8_t padded[VGCA_PIN_LEN]);

/* vgca_pkcs15.c */
/* Builds the card's files from the persistent part of st. */
bool vt_vgca_build_files(struct vgca_state *st);
void vt_vgca_free_files(struct vgca_state *st);
/* The 7A stand-in for variant A's compressed certificate: as long as the
 * measured ratio (1482 bytes for 1787), derived from the DER and a
 * per-card secret; nobody can recover the certificate from it. */
bool vt_vgca_blob(const uint8_t seed[VGCA_BLOB_SEED_LEN], const uint8_t *der, size_t len, uint8_t **out,
                  size_t *outlen);
size_t vt_vgca_blob_len(size_t der_len);

#endif
