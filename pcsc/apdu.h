/* Command/response APDUs (ISO/IEC 7816-3 and 7816-4) over an abstract
 * transport.
 *
 * The transport only moves bytes (pcsc/reader.c implements it over
 * SCardTransmit; unit tests use a scripted fake). This file knows the
 * protocol rules above it: short and extended encodings, command chaining,
 * T=0 case 4, GET RESPONSE after 61xx and the single retry after 6Cxx.
 *
 * Nothing here keeps state between calls; a transport must not be used by
 * two threads at the same time.
 */
#ifndef KYSO_PCSC_APDU_H
#define KYSO_PCSC_APDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcsc/status.h"

/* Values of pcsc_transport.protocol. */
#define PCSC_PROTOCOL_T0 1u
#define PCSC_PROTOCOL_T1 2u

/* Limits of one APDU exchange. */
#define PCSC_APDU_MAX_DATA 65535u     /* Nc of one command (extended or chained) */
#define PCSC_APDU_MAX_LE 65536u       /* Ne: 256 short, 65536 extended */
#define PCSC_APDU_MAX_RESPONSE 65536u /* response data collected by one transceive */
#define PCSC_APDU_MAX_EXCHANGES 1024u /* GET RESPONSE rounds per transceive */
#define PCSC_APDU_CHAIN_BLOCK 255u    /* data bytes per chained command */

struct pcsc_transport {
    /* Sends one command APDU and receives the complete response APDU
     * (data and SW1 SW2). On entry *resp_len is the capacity of resp, on
     * return the number of bytes received. Returns PCSC_OK or a PCSC_E_*
     * transport error (PCSC_E_CARD_REMOVED, PCSC_E_COMM, ...). */
    int (*transmit)(void *ctx, const uint8_t *cmd, size_t cmd_len,
                    uint8_t *resp, size_t *resp_len);
    void *ctx;
    unsigned protocol;    /* PCSC_PROTOCOL_T0 or PCSC_PROTOCOL_T1 */
    bool extended_length; /* card and reader accept extended APDUs */
};

enum pcsc_apdu_flags {
    /* Send data over 255 bytes with command chaining even when extended
     * length is available (some applets only accept chaining). */
    PCSC_APDU_CHAIN = 1u << 0,
    /* Never use the extended form for this command. */
    PCSC_APDU_SHORT = 1u << 1,
};

struct pcsc_apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data; /* command data (Nc bytes), may be NULL when data_len is 0 */
    size_t data_len;
    size_t le;           /* Ne: 0 = no response data expected, else 1..65536 */
    unsigned flags;      /* enum pcsc_apdu_flags */
};

/* Size of the command encoded in the short (extended = false) or extended
 * form, or 0 if it cannot be encoded in that form: Nc over 255 or Ne over
 * 256 in the short form, Nc over 65535 or Ne over 65536, data_len without
 * data, or an invalid INS (6X, 9X). Case 1 (no data, no Le) has the same
 * 4-byte encoding in both forms. */
size_t pcsc_apdu_encoded_size(const struct pcsc_apdu *apdu, bool extended);

/* Encodes the command into out[0..cap). Returns PCSC_OK,
 * PCSC_E_INVALID_ARG if it cannot be encoded in that form, or
 * PCSC_E_BUFFER_TOO_SMALL. */
int pcsc_apdu_encode(const struct pcsc_apdu *apdu, bool extended,
                     uint8_t *out, size_t cap, size_t *out_len);

/* Sends a command and collects its whole answer.
 *
 * - Nc over 255 goes in one extended command when the transport allows it
 *   (not on T=0, not with PCSC_APDU_CHAIN or PCSC_APDU_SHORT), otherwise
 *   with command chaining: 255-byte blocks, CLA | 0x10 on all but the last.
 *   An intermediate block answered with anything else than 9000 ends the
 *   exchange with that status word (61xx or 6Cxx there: PCSC_E_MALFORMED).
 * - Ne over 256 without extended length is sent as Le = 00 and the rest is
 *   fetched through 61xx.
 * - On T=0 a case 4 command is sent as case 3 (without Le).
 * - 61xx is followed by GET RESPONSE (Le = xx) until another status word;
 *   the data of all answers is concatenated.
 * - 6Cxx makes the last command be sent again once, with Le = xx.
 *
 * Returns PCSC_OK when the card gave a final status word, whatever it is:
 * *sw holds it (map it with pcsc_status_from_sw) and resp[0..*resp_len)
 * the data (also for warnings and errors that carry data). Otherwise
 * returns a PCSC_E_* error: the transport's, PCSC_E_MALFORMED for an
 * answer shorter than 2 bytes or more than PCSC_APDU_MAX_RESPONSE bytes
 * or PCSC_APDU_MAX_EXCHANGES rounds in total, PCSC_E_BUFFER_TOO_SMALL when
 * the data does not fit in resp_cap bytes (resp may be NULL if resp_cap is
 * 0), PCSC_E_INVALID_ARG for a command that cannot be sent. On error
 * *resp_len and *sw are 0 and whatever had been written to resp is wiped. */
int pcsc_apdu_transceive(const struct pcsc_transport *t, const struct pcsc_apdu *apdu,
                         uint8_t *resp, size_t resp_cap, size_t *resp_len, uint16_t *sw);

/* Like pcsc_apdu_transceive, but the data goes into a buffer allocated to
 * size; free it with pcsc_apdu_free_response. *resp is NULL when there is
 * no data. */
int pcsc_apdu_transceive_alloc(const struct pcsc_transport *t, const struct pcsc_apdu *apdu,
                               uint8_t **resp, size_t *resp_len, uint16_t *sw);

/* Wipes (response data may be secret) and frees a buffer returned by
 * pcsc_apdu_transceive_alloc. NULL is accepted. */
void pcsc_apdu_free_response(uint8_t *resp, size_t resp_len);

#endif
