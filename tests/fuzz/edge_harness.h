/* End-to-end harness of the token edges over a scripted card, shared by the
 * libFuzzer targets (fuzz_edge.c, clang) and their replay test
 * (tests/unit/test_token_edges.c, gcc).
 *
 * A script is the card's side of one session:
 *
 *   [0]      settings (EDGE_SET_*)
 *   records, one per command the card receives, in order:
 *            length (2 bytes, big-endian), body, SW selector, SW argument
 *
 * The transport answers each command with the next record, whatever the
 * command is, so the real pcsc/apdu.c (61xx, 6Cxx, chaining) and the real
 * edge code run on the answers. A length of EDGE_LEN_COMM, EDGE_LEN_REMOVED
 * or EDGE_LEN_RESET is a transport error (no body, no SW). A record cut
 * short by the end of the input keeps the body it has and answers 9000;
 * once the records run out the card is gone (PCSC_E_CARD_REMOVED).
 *
 * The SW selector is the SW1 itself when it looks like one (6X or 9X:
 * then the argument is SW2, so a recorded session reads as it was said),
 * else its low nibble picks a status word from edge_sw_table, the
 * argument filling in 61xx, 6Cxx and 63Cx. Every byte value thus gives a
 * status word a card could send.
 *
 * The session (edge_drive): token_open_transport, token_enumerate, every
 * data object read, token_ca_certificates, PIN status, login, then for
 * each key a signature and, where the key does it, a decryption or an
 * ECDH derivation; with EDGE_SET_ADMIN also a PIN change, an unblock and
 * what the edge has of administration; then logout and reselect. */
#ifndef KYSO_TESTS_FUZZ_EDGE_HARNESS_H
#define KYSO_TESTS_FUZZ_EDGE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcsc/apdu.h"

/* Settings byte. */
#define EDGE_SET_T0 0x01          /* T=0, else T=1 */
#define EDGE_SET_EXTENDED 0x02    /* the transport takes extended APDUs */
#define EDGE_SET_ATR_SHIFT 2      /* 2 bits: index into the ATR table */
#define EDGE_SET_ATR_MASK 0x0C
#define EDGE_SET_SCHEME_SHIFT 4   /* 2 bits: RSA signature scheme, enum edge_scheme */
#define EDGE_SET_SCHEME_MASK 0x30
#define EDGE_SET_NO_LOGIN 0x40    /* sign without logging in first */
#define EDGE_SET_ADMIN 0x80       /* then PIN change and unblock; PIV: management key, generate, write */

enum edge_atr { EDGE_ATR_CHIPDOC, EDGE_ATR_JCOP, EDGE_ATR_YUBIKEY, EDGE_ATR_OTHER };
enum edge_scheme { EDGE_SCHEME_PKCS1, EDGE_SCHEME_PSS, EDGE_SCHEME_RAW, EDGE_SCHEME_PKCS1_TOO };

#define EDGE_HEADER_LEN 1
#define EDGE_LEN_RESET 0xFFFD
#define EDGE_LEN_REMOVED 0xFFFE
#define EDGE_LEN_COMM 0xFFFF
#define EDGE_LEN_FIRST_ERROR EDGE_LEN_RESET

/* Keys used in one session at most (a card with more is still enumerated). */
#define EDGE_MAX_KEY_OPS 6
/* The PIN and PUK the drive uses (the seeds' virtual tokens have them),
 * and the PIV default management key. */
#define EDGE_PIN "12345678"
#define EDGE_PUK "87654321"
#define EDGE_MGM_KEY "\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08"
#define EDGE_MGM_KEY_LEN 24
/* Where the administrative part generates a key and writes a certificate. */
#define EDGE_ADMIN_SLOT 0x83

/* The edge a target exercises: a session that another edge picks up ends
 * after token_open_transport. */
enum edge_target { EDGE_TARGET_PIV, EDGE_TARGET_VGCA };

extern const uint16_t edge_sw_table[16];
uint16_t edge_sw_of(uint8_t selector, uint8_t arg);

/* The ATR the settings choose (its length in *len). */
const uint8_t *edge_atr_of(uint8_t settings, size_t *len);

struct edge_result {
    const char *edge;            /* the edge that drove the card, NULL if none */
    bool other_edge;             /* not the target's edge: the session stopped */
    int open_rc, enum_rc;
    size_t nkeys, key_certs, ncerts, nobjects, objects_read, ca_certs;  /* key_certs: keys with a certificate */
    int pin_status_rc, login_rc;
    int change_rc, unblock_rc, admin_rc, generate_rc, write_rc;   /* EDGE_SET_ADMIN */
    size_t signs, signs_ok, signs_verified;
    size_t decrypts, decrypts_ok, decrypts_verified;
    size_t derives, derives_ok, derives_verified;
    size_t commands;             /* commands the transport received */
    size_t records_left;         /* answers of the script never asked for */
    const char *violation;       /* the first broken promise of the edge API */
};

/* Runs one session over transport. check_crypto also verifies every
 * signature, decryption and derivation against the key's public half
 * (the replay test; the fuzzer skips it for speed). */
void edge_drive(enum edge_target target, const struct pcsc_transport *transport, uint8_t settings,
                bool check_crypto, struct edge_result *res);

/* Runs one session over a script (the fuzzer's input). */
void edge_run(enum edge_target target, const uint8_t *script, size_t len, bool check_crypto,
              struct edge_result *res);

/* Builds scripts: the seed recorder and the regression cases. */
struct edge_script {
    uint8_t *data;
    size_t len, cap;
    bool failed;                 /* out of memory: the script is incomplete */
};
void edge_script_init(struct edge_script *s, uint8_t settings);
void edge_script_answer(struct edge_script *s, const uint8_t *body, size_t len, uint16_t sw);
/* A transport error record (EDGE_LEN_COMM, EDGE_LEN_REMOVED, EDGE_LEN_RESET). */
void edge_script_error(struct edge_script *s, uint16_t code);
void edge_script_free(struct edge_script *s);

#endif
