/* Error codes of the pcsc/ layer.
 *
 * One small enum covers both what the card answered (ISO/IEC 7816-4 status
 * words, mapped by pcsc_status_from_sw) and what went wrong on the way to
 * it (PC/SC transport, malformed answers, local errors). Upper layers map
 * these to their own codes (e.g. CKR_*) without knowing status words.
 *
 * The values are stable so that they can appear in logs.
 */
#ifndef KYSO_PCSC_STATUS_H
#define KYSO_PCSC_STATUS_H

#include <stdbool.h>
#include <stdint.h>

enum pcsc_status {
    PCSC_OK = 0,

    /* The card answered with an error status word. */
    PCSC_E_NOT_FOUND = 1,       /* 6A82 file/application, 6A83 record, 6A88 data */
    PCSC_E_SECURITY = 2,        /* 6982 security status not satisfied */
    PCSC_E_PIN_BLOCKED = 3,     /* 6983 authentication method blocked */
    PCSC_E_WRONG_PIN = 4,       /* 63Cx (x tries left), 6300 */
    PCSC_E_WRONG_LENGTH = 5,    /* 6700, 6Cxx, 6A87 */
    PCSC_E_INCORRECT_DATA = 6,  /* 6A80 */
    PCSC_E_NOT_SUPPORTED = 7,   /* 6D00, 6E00, 6A81, 6881, 6882, 6884 */
    PCSC_E_CONDITIONS = 8,      /* 6985, 6984, 6986, 6883 */
    PCSC_E_WRONG_P1P2 = 9,      /* 6A86, 6B00 */
    PCSC_E_MEMORY = 10,         /* 6581, 6A84 */
    PCSC_E_CARD = 11,           /* any other status word than 9000 */

    /* Transport and local errors. */
    PCSC_E_NO_CARD = 20,        /* no card in the reader */
    PCSC_E_CARD_REMOVED = 21,   /* the card was removed since connect */
    PCSC_E_CARD_RESET = 22,     /* the card was reset by someone else: reconnect */
    PCSC_E_COMM = 23,           /* reader or card communication failure */
    PCSC_E_MALFORMED = 24,      /* the card's answer violates the protocol */
    PCSC_E_NOMEM = 25,
    PCSC_E_INVALID_ARG = 26,    /* caller error, or a command that cannot be encoded */
    PCSC_E_BUFFER_TOO_SMALL = 27,
    PCSC_E_NO_SERVICE = 28,     /* pcscd is not running / went away */
    PCSC_E_NO_READER = 29,      /* unknown or unavailable reader */
    PCSC_E_SHARING = 30,        /* another application holds the card exclusively */
    PCSC_E_TIMEOUT = 31,        /* waiting for a card event timed out */
    PCSC_E_CANCELLED = 32,      /* waiting was cancelled (pcsc_cancel) */
};

/* Maps an ISO 7816-4 status word to PCSC_OK (only for 9000) or a
 * PCSC_E_* code of the first group. If tries_left is not NULL it receives
 * the number of tries left for PCSC_E_WRONG_PIN from 63Cx (0..15), and -1
 * when it is unknown or the status is not PCSC_E_WRONG_PIN. Note that
 * 63C0 is reported as PCSC_E_WRONG_PIN with 0 tries left: the PIN is now
 * blocked, which the caller decides how to report. */
int pcsc_status_from_sw(uint16_t sw, int *tries_left);

/* True for the codes that come from a card status word. */
bool pcsc_status_is_card_error(int status);

/* A short English name for logs ("wrong PIN", "card removed"); never NULL. */
const char *pcsc_status_name(int status);

#endif
