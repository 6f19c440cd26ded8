/* The token a record is about, opened by the tools: found in its reader,
 * identified and enumerated by the token driver, its PIN and PUK tries
 * read without spending one, and its USB identity read with libusb. The
 * facts a record holds come from here, never from the command line. */
#ifndef KYSO_TOOLS_CLI_TOKEN_FACTS_H
#define KYSO_TOOLS_CLI_TOKEN_FACTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcsc/reader.h"
#include "pcsc/token.h"

struct cli_token {
    struct pcsc_context ctx;
    struct pcsc_card card;
    struct token t;
    bool opened;
    char reader[256];
    uint8_t atr[PCSC_MAX_ATR];
    size_t atr_len;
    int pin_tries, puk_tries;      /* -1 unknown, 0 blocked */
    bool usb;
    uint16_t usb_vid, usb_pid;
    char usb_serial[128];
};

/* Opens the token in reader, or when reader is NULL the one token
 * present (several: an error asking for --reader), or the token whose
 * serial is serial when that is not NULL. 0, or -1 with one line in why. */
int cli_token_open(struct cli_token *ct, const char *reader, const char *serial, char *why, size_t whylen);
void cli_token_close(struct cli_token *ct);

/* Reads the tries left again (after an unblock). */
void cli_token_refresh_tries(struct cli_token *ct);

/* The record's "token" member, and its "certificates" (those of the
 * token's keys). NULL with a reason on error. */
json_object *cli_token_facts(const struct cli_token *ct);
json_object *cli_token_certificates(const struct cli_token *ct, char *why, size_t whylen);

/* Whether record (its "token" and "certificates") describes this token:
 * serial, ATR, applet, manufacturer, model, label, the USB identity, and
 * every certificate it lists held by the token. 0, or -1 with the first
 * difference in why. */
int cli_token_matches(const struct cli_token *ct, const json_object *record, char *why, size_t whylen);

/* The USB identity of the device at bus/address (libusb). 0, or -1 when
 * it is not found; serial is "" when it cannot be read. */
int cli_usb_identity(unsigned bus, unsigned address, uint16_t *vid, uint16_t *pid, char *serial, size_t len);

#endif
