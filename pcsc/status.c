/* Status word and error code mapping; see status.h. */
#include "config.h"

#include "pcsc/status.h"

#include <stddef.h>

int pcsc_status_from_sw(uint16_t sw, int *tries_left)
{
    uint8_t sw1 = (uint8_t)(sw >> 8), sw2 = (uint8_t)sw;

    if (tries_left)
        *tries_left = -1;

    switch (sw) {
    case 0x9000:
        return PCSC_OK;
    case 0x6300: /* verification failed, no counter given */
        return PCSC_E_WRONG_PIN;
    case 0x6581:
    case 0x6A84:
        return PCSC_E_MEMORY;
    case 0x6700:
    case 0x6A87: /* Nc inconsistent with P1-P2 */
        return PCSC_E_WRONG_LENGTH;
    case 0x6881: /* logical channel not supported */
    case 0x6882: /* secure messaging not supported */
    case 0x6884: /* command chaining not supported */
    case 0x6A81:
    case 0x6D00:
    case 0x6E00:
        return PCSC_E_NOT_SUPPORTED;
    case 0x6883: /* last command of the chain expected */
    case 0x6984: /* reference data not usable */
    case 0x6985:
    case 0x6986: /* command not allowed (no current EF) */
        return PCSC_E_CONDITIONS;
    case 0x6982:
        return PCSC_E_SECURITY;
    case 0x6983:
        return PCSC_E_PIN_BLOCKED;
    case 0x6A80:
        return PCSC_E_INCORRECT_DATA;
    case 0x6A82:
    case 0x6A83:
    case 0x6A88: /* referenced data not found (PIV: key or object) */
        return PCSC_E_NOT_FOUND;
    case 0x6A86:
    case 0x6B00:
        return PCSC_E_WRONG_P1P2;
    default:
        break;
    }

    if (sw1 == 0x63 && (sw2 & 0xF0) == 0xC0) {
        if (tries_left)
            *tries_left = sw2 & 0x0F;
        return PCSC_E_WRONG_PIN;
    }
    /* 6Cxx only reaches a caller when the retry with the right Le failed
     * as well. */
    if (sw1 == 0x6C)
        return PCSC_E_WRONG_LENGTH;
    return PCSC_E_CARD;
}

bool pcsc_status_is_card_error(int status)
{
    return status >= PCSC_E_NOT_FOUND && status <= PCSC_E_CARD;
}

const char *pcsc_status_name(int status)
{
    switch ((enum pcsc_status)status) {
    case PCSC_OK: return "ok";
    case PCSC_E_NOT_FOUND: return "not found";
    case PCSC_E_SECURITY: return "security status not satisfied";
    case PCSC_E_PIN_BLOCKED: return "PIN blocked";
    case PCSC_E_WRONG_PIN: return "wrong PIN";
    case PCSC_E_WRONG_LENGTH: return "wrong length";
    case PCSC_E_INCORRECT_DATA: return "incorrect data";
    case PCSC_E_NOT_SUPPORTED: return "not supported";
    case PCSC_E_CONDITIONS: return "conditions of use not satisfied";
    case PCSC_E_WRONG_P1P2: return "wrong P1-P2";
    case PCSC_E_MEMORY: return "card memory error";
    case PCSC_E_CARD: return "card error";
    case PCSC_E_NO_CARD: return "no card";
    case PCSC_E_CARD_REMOVED: return "card removed";
    case PCSC_E_CARD_RESET: return "card reset";
    case PCSC_E_COMM: return "communication error";
    case PCSC_E_MALFORMED: return "malformed response";
    case PCSC_E_NOMEM: return "out of memory";
    case PCSC_E_INVALID_ARG: return "invalid argument";
    case PCSC_E_BUFFER_TOO_SMALL: return "buffer too small";
    case PCSC_E_NO_SERVICE: return "PC/SC service unavailable";
    case PCSC_E_NO_READER: return "reader unavailable";
    case PCSC_E_SHARING: return "card in exclusive use";
    case PCSC_E_TIMEOUT: return "timeout";
    case PCSC_E_CANCELLED: return "cancelled";
    }
    return "unknown error";
}
