/* kyso-vtoken: the card-side frame shared by every personality.
 *
 * The frame parses command APDUs (short and extended), reassembles
 * command chains, splits long answers into 61xx / GET RESPONSE pieces,
 * counts traffic and applies the configured latency. A personality
 * (piv.c, later the government token's) only sees complete commands and
 * writes complete answers.
 */
#ifndef KYSO_VTOKEN_CARD_H
#define KYSO_VTOKEN_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcsc/tlv.h"

/* Status words the personalities answer with. */
#define SW_OK                    0x9000
#define SW_WRONG_LENGTH          0x6700
#define SW_SECURITY_NOT_SATISFIED 0x6982
#define SW_AUTH_BLOCKED          0x6983
#define SW_CONDITIONS_NOT_SATISFIED 0x6985
#define SW_COMMAND_NOT_ALLOWED   0x6986
#define SW_WRONG_DATA            0x6A80
#define SW_FUNC_NOT_SUPPORTED    0x6A81
#define SW_FILE_NOT_FOUND        0x6A82
#define SW_NOT_ENOUGH_MEMORY     0x6A84
#define SW_INCORRECT_P1P2        0x6A86
#define SW_REF_DATA_NOT_FOUND    0x6A88
#define SW_WRONG_P1P2            0x6B00
#define SW_INS_NOT_SUPPORTED     0x6D00
#define SW_CLA_NOT_SUPPORTED     0x6E00
#define SW_UNKNOWN               0x6F00
#define SW_LAST_CHAIN_EXPECTED   0x6883
#define SW_TRIES_LEFT(n)         (0x63C0 | ((n) & 0x0F))

/* Largest command data a chain may assemble, and largest answer. */
#define VT_MAX_COMMAND_DATA 16384
#define VT_MAX_RESPONSE     16384

/* One complete command, after chaining was undone. */
struct vt_apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t len;
    size_t le;          /* expected answer length; 0 when absent */
    bool le_present;
    bool extended;      /* the last piece was sent in extended form */
};

/* Answer being built by a personality. data is a tlv_builder so that
 * TLV answers are built in place; sw is set by the personality. */
struct vt_reply {
    struct tlv_builder data;
    uint16_t sw;
};

struct vt_card;

/* Options handed to a personality's init (kyso-vtoken init). */
struct vt_key_spec {
    uint8_t slot;             /* personality-specific key reference */
    const char *key_file;     /* PEM private key */
    const char *cert_file;    /* PEM certificate, may be NULL */
};

#define VT_MAX_INIT_KEYS 24
#define VT_MAX_INIT_CERTS 4
struct vt_init_options {
    const char *pin;
    const char *puk;
    const char *mgm_key_hex;  /* PIV management key (hex), NULL = default */
    uint32_t serial;          /* 0 = random */
    struct vt_key_spec keys[VT_MAX_INIT_KEYS];
    size_t nkeys;
    const char *ca_certs[VT_MAX_INIT_CERTS]; /* CA chain, where the card keeps one */
    size_t nca_certs;
};

struct vt_personality {
    const char *name;
    const uint8_t *atr;
    size_t atr_len;
    /* Personalise fresh state. Writes a one-line reason into err on failure. */
    int (*init)(const struct vt_init_options *opt, void **state, char *err, size_t errlen);
    /* Rebuild state from a saved body (already checksum-verified). */
    int (*load)(const uint8_t *body, size_t len, void **state, char *err, size_t errlen);
    /* Serialise state. */
    void (*save)(const void *state, struct tlv_builder *out);
    void (*free_state)(void *state);
    /* Power-on or reset: forget the volatile security state. */
    void (*power_on)(struct vt_card *card);
    /* Handle one complete command. */
    void (*process)(struct vt_card *card, const struct vt_apdu *cmd, struct vt_reply *reply);
    /* Human-readable summary for `kyso-vtoken show`. */
    void (*describe)(const void *state, char *out, size_t outlen);
};

const struct vt_personality *vt_personality_find(const char *name);
void vt_personality_list(char *out, size_t outlen);

struct vt_stats {
    uint64_t apdus;        /* command APDUs received, GET RESPONSE included */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t signatures;   /* private-key operations performed */
};

struct vt_card {
    const struct vt_personality *pers;
    void *state;           /* personality's state (its volatile part included) */
    bool dirty;            /* state changed: the frame saves it */

    /* Command chaining in progress. */
    uint8_t chain_hdr[4];
    uint8_t *chain_buf;
    size_t chain_len;
    bool chaining;

    /* Answer bytes still to be fetched with GET RESPONSE. */
    uint8_t *pending;
    size_t pending_len, pending_off;

    struct vt_stats stats;
    unsigned apdu_latency_ms;
    unsigned sign_latency_ms;
};

void vt_card_init(struct vt_card *card, const struct vt_personality *pers, void *state);
void vt_card_free(struct vt_card *card);
/* Power on / reset from the reader. */
void vt_card_power_on(struct vt_card *card);
/* Processes one raw command APDU; writes the raw answer (data ‖ SW) into
 * out (capacity VT_MAX_RESPONSE + 2) and returns its length. */
size_t vt_card_transmit(struct vt_card *card, const uint8_t *cmd, size_t len, uint8_t *out);
/* Called by a personality around every private-key operation: counts it
 * and waits the configured signature latency. */
void vt_card_private_key_op(struct vt_card *card);

/* Helpers for personalities. */
void vt_reply_sw(struct vt_reply *reply, uint16_t sw);
/* Fills buf with cryptographically random bytes; false if OpenSSL fails. */
bool vt_random(uint8_t *buf, size_t len);

#endif
