/* kyso-vtoken: the `piv` personality (NIST SP 800-73-4 card edge with the
 * YubiKey extensions that yubico-piv-tool and ykcs11 use). Shared between
 * piv.c (commands), piv_state.c (persistent state) and piv_crypto.c. */
#ifndef KYSO_VTOKEN_PIV_H
#define KYSO_VTOKEN_PIV_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcsc/tlv.h"
#include "tools/vtoken/card.h"

#define PIV_PIN_LEN 8            /* PIN and PUK are sent padded with FF to 8 bytes */
#define PIV_DEFAULT_TRIES 3
#define PIV_MAX_OBJECTS 64
#define PIV_MAX_OBJECT_SIZE 3072 /* as a YubiKey 5 */

/* Key references. */
#define PIV_REF_PIN 0x80
#define PIV_REF_PUK 0x81
#define PIV_REF_MGM 0x9B
#define PIV_REF_AUTH 0x9A
#define PIV_REF_SIGN 0x9C
#define PIV_REF_KEYMGMT 0x9D
#define PIV_REF_CARDAUTH 0x9E
#define PIV_REF_RETIRED_FIRST 0x82
#define PIV_REF_RETIRED_LAST 0x95
#define PIV_REF_ATTEST 0xF9

/* Algorithm identifiers (SP 800-78 and the YubiKey additions). */
#define PIV_ALG_3DES 0x03
#define PIV_ALG_AES128 0x08
#define PIV_ALG_AES192 0x0A
#define PIV_ALG_AES256 0x0C
#define PIV_ALG_RSA1024 0x06
#define PIV_ALG_RSA2048 0x07
#define PIV_ALG_RSA3072 0x05
#define PIV_ALG_RSA4096 0x16
#define PIV_ALG_ECCP256 0x11
#define PIV_ALG_ECCP384 0x14

/* PIN and touch policies (YubiKey). */
#define PIV_PIN_POLICY_DEFAULT 0
#define PIV_PIN_POLICY_NEVER 1
#define PIV_PIN_POLICY_ONCE 2
#define PIV_PIN_POLICY_ALWAYS 3
#define PIV_TOUCH_POLICY_DEFAULT 0
#define PIV_TOUCH_POLICY_NEVER 1

#define PIV_ORIGIN_GENERATED 1
#define PIV_ORIGIN_IMPORTED 2

struct piv_key {
    EVP_PKEY *pkey;       /* NULL: slot empty */
    uint8_t alg;
    uint8_t pin_policy;   /* never DEFAULT once stored */
    uint8_t touch_policy;
    uint8_t origin;
};

struct piv_object {
    uint32_t tag;
    uint8_t *data;        /* content of the 53 wrapper (or whole 7E/7F61) */
    size_t len;
};

/* Volatile security status, lost on reset; never saved. */
struct piv_session {
    bool selected;
    bool pin_verified;
    bool pin_fresh;          /* a VERIFY came right before: for "PIN always" */
    bool mgm_authenticated;
    enum { MGM_IDLE, MGM_WITNESS_SENT, MGM_CHALLENGE_SENT } mgm_step;
    uint8_t mgm_nonce[16];   /* witness or challenge of the step in progress */
    size_t mgm_nonce_len;
};

struct piv_state {
    uint8_t pin[PIV_PIN_LEN];
    uint8_t puk[PIV_PIN_LEN];
    uint8_t pin_max, pin_left, puk_max, puk_left;
    bool pin_default, puk_default, mgm_default;
    uint8_t mgm_alg;
    uint8_t mgm_key[32];
    size_t mgm_len;
    uint32_t serial;
    uint8_t version[3];
    struct piv_key keys[256];   /* indexed by key reference */
    struct piv_object objects[PIV_MAX_OBJECTS];
    size_t nobjects;
    struct piv_session session;
};


extern const struct vt_personality vt_personality_piv;

/* piv.c */
void vt_piv_power_on(struct vt_card *card);
void vt_piv_process(struct vt_card *card, const struct vt_apdu *cmd, struct vt_reply *reply);

/* piv_state.c */
bool vt_piv_is_key_ref(uint8_t ref);
uint8_t vt_piv_default_pin_policy(uint8_t ref);
uint32_t vt_piv_cert_object_for(uint8_t ref);   /* 0 if the slot has none */
struct piv_object *vt_piv_object_find(struct piv_state *st, uint32_t tag);
bool vt_piv_object_put(struct piv_state *st, uint32_t tag, const uint8_t *data, size_t len);
void vt_piv_object_delete(struct piv_state *st, uint32_t tag);
void vt_piv_state_factory_reset(struct piv_state *st);
void vt_piv_pad_pin(const char *pin, uint8_t out[PIV_PIN_LEN]);

/* piv_crypto.c */
size_t vt_piv_mgm_key_len(uint8_t alg);          /* 0: not a management key algorithm */
size_t vt_piv_mgm_block_len(uint8_t alg);
bool vt_piv_mgm_encrypt(uint8_t alg, const uint8_t *key, size_t keylen,
                     const uint8_t *in, uint8_t *out, size_t blocklen);
bool vt_piv_alg_is_rsa(uint8_t alg);
bool vt_piv_alg_is_ec(uint8_t alg);
size_t vt_piv_alg_key_bytes(uint8_t alg);       /* modulus or field size */
int vt_piv_alg_of_pkey(const EVP_PKEY *pkey);     /* -1 if unsupported */
EVP_PKEY *vt_piv_generate(uint8_t alg);
EVP_PKEY *vt_piv_import_rsa(const uint8_t *p, size_t plen, const uint8_t *q, size_t qlen);
EVP_PKEY *vt_piv_import_ec(uint8_t alg, const uint8_t *priv, size_t len);
/* Appends the public key as 81/82 (RSA) or 86 (EC) elements. */
void vt_piv_put_public_key(struct tlv_builder *b, const EVP_PKEY *pkey);
/* Private-key operations write at most PIV_MAX_RESULT bytes into out. */
#define PIV_MAX_RESULT 512
/* Raw RSA private operation; in must be exactly the modulus size. */
bool vt_piv_rsa_raw(EVP_PKEY *pkey, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen);
/* ECDSA over a caller-computed hash; DER signature. */
bool vt_piv_ecdsa(EVP_PKEY *pkey, const uint8_t *hash, size_t len, uint8_t *out, size_t *outlen);
/* ECDH with the peer's uncompressed point; writes the shared x coordinate. */
bool vt_piv_ecdh(EVP_PKEY *pkey, const uint8_t *point, size_t len, uint8_t *out, size_t *outlen);

#endif
