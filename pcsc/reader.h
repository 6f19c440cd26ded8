/* A thin wrapper over PC/SC (pcsc-lite <winscard.h>): context, readers,
 * card connections, transactions, card events, and a pcsc_transport over
 * SCardTransmit.
 *
 * There is no global state: everything lives in the structures the caller
 * passes in. Thread safety: a pcsc_context, and the pcsc_card handles
 * connected through it, must be used by one thread at a time (pcsc-lite
 * serialises calls on one context and one blocking SCardGetStatusChange
 * would stall the others). Use one context per thread that talks to cards.
 * The one exception is pcsc_cancel, which is meant to be called from
 * another thread to end a pcsc_wait_change in progress.
 *
 * Every function returns PCSC_OK or a PCSC_E_* code (pcsc/status.h) and
 * never prints anything.
 */
#ifndef KYSO_PCSC_READER_H
#define KYSO_PCSC_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <winscard.h>

#include "pcsc/apdu.h"
#include "pcsc/status.h"

#define PCSC_MAX_ATR 33u
/* Reader name that pcsc_wait_change watches for readers being added or
 * removed. */
#define PCSC_PNP_NOTIFICATION "\\\\?PnP?\\Notification"
/* Timeout for pcsc_wait_change that never expires. */
#define PCSC_WAIT_FOREVER 0xFFFFFFFFu

struct pcsc_context {
    SCARDCONTEXT handle;
    bool established;
};

/* Establishes a context with the PC/SC service (PCSC_E_NO_SERVICE if
 * pcscd is not running). */
int pcsc_context_establish(struct pcsc_context *ctx);
/* Releases the context (no-op if not established). Disconnect cards first. */
void pcsc_context_release(struct pcsc_context *ctx);
/* True while the service still knows the context. */
bool pcsc_context_is_valid(const struct pcsc_context *ctx);
/* Ends a pcsc_wait_change blocked on this context (from another thread);
 * it then returns PCSC_E_CANCELLED. */
int pcsc_cancel(const struct pcsc_context *ctx);

/* The names of the connected readers. */
struct pcsc_reader_list {
    char *buf;           /* the names, NUL-separated */
    const char **names;  /* count pointers into buf */
    size_t count;
};

/* Lists the readers; no reader at all is an empty list (count 0), not an
 * error. The list must be freed with pcsc_reader_list_free. */
int pcsc_list_readers(const struct pcsc_context *ctx, struct pcsc_reader_list *list);
/* Builds a list from a PC/SC multi-string of len bytes ("a\0b\0\0"); the
 * input need not be terminated. Exposed for tests. */
int pcsc_reader_list_parse(const char *multi, size_t len, struct pcsc_reader_list *list);
void pcsc_reader_list_free(struct pcsc_reader_list *list);

struct pcsc_card {
    SCARDHANDLE handle;
    unsigned protocol; /* PCSC_PROTOCOL_T0 or PCSC_PROTOCOL_T1 */
    bool connected;
};

/* Connects in shared mode with T=0 or T=1 (the reader picks). */
int pcsc_connect(const struct pcsc_context *ctx, const char *reader, struct pcsc_card *card);
/* Reconnects after PCSC_E_CARD_RESET (reset = false) or resets the card
 * (reset = true). The protocol may change: set up the transport again. */
int pcsc_reconnect(struct pcsc_card *card, bool reset);
/* Disconnects, leaving the card as it is or resetting it (which drops
 * any PIN verification state). No-op if not connected. */
int pcsc_disconnect(struct pcsc_card *card, bool reset);

/* Exclusive access for a sequence of commands (other applications wait).
 * The transaction ends with the card left as it is. */
int pcsc_begin_transaction(struct pcsc_card *card);
int pcsc_end_transaction(struct pcsc_card *card);

struct pcsc_card_status {
    bool present;      /* false when the card was removed */
    unsigned protocol; /* PCSC_PROTOCOL_*, 0 if unknown */
    uint8_t atr[PCSC_MAX_ATR];
    size_t atr_len;
};

/* State of the connected card. A removed card is PCSC_OK with present
 * false; a card reset by another application is PCSC_E_CARD_RESET (call
 * pcsc_reconnect). */
int pcsc_card_status(const struct pcsc_card *card, struct pcsc_card_status *st);

/* Where the reader is attached (SCARD_ATTR_CHANNEL_ID): for a USB reader
 * *usb is true and bus and address name the device (so that its USB
 * identity can be read). PCSC_OK with *usb false for another channel or a
 * driver that does not tell (a virtual reader). */
int pcsc_reader_channel(const struct pcsc_card *card, bool *usb, unsigned *bus, unsigned *address);

/* One reader watched by pcsc_wait_change. Set reader (a name from the
 * list, or PCSC_PNP_NOTIFICATION) and state = 0 at first; then call
 * pcsc_wait_change again with the same array to wait for the next change:
 * state carries what was last seen (with pcsc-lite's event counter, so a
 * card removed and inserted between two calls is noticed). */
struct pcsc_reader_state {
    const char *reader; /* in */
    uint32_t state;     /* in: last seen, 0 = unknown; out: new SCARD_STATE_* bits */
    /* Out, decoded from state: */
    bool changed;       /* differs from the state passed in */
    bool present;       /* a card is in the reader */
    bool unavailable;   /* reader unknown or gone */
    bool mute;          /* card does not answer (bad ATR) */
    bool exclusive;     /* another application connected exclusively */
    bool in_use;        /* some application is connected */
    uint8_t atr[PCSC_MAX_ATR];
    size_t atr_len;     /* 0 when no card */
};

/* Waits until the state of at least one reader differs from what its
 * state field says, or timeout_ms milliseconds (PCSC_WAIT_FOREVER for no
 * limit; 0 to poll: with state = 0 it returns the current states at once).
 * Returns PCSC_OK (see each changed), PCSC_E_TIMEOUT (nothing changed, the
 * array is left as it was), PCSC_E_CANCELLED, or another error. */
int pcsc_wait_change(const struct pcsc_context *ctx, struct pcsc_reader_state *readers,
                     size_t count, uint32_t timeout_ms);

/* Fills *t so that pcsc_apdu_transceive talks to the card through
 * SCardTransmit. The card must stay in place while t is used; fill t
 * again after pcsc_reconnect. extended_length says whether the card and
 * reader accept extended APDUs (known from the card's ATR or applet). */
void pcsc_card_transport(struct pcsc_card *card, bool extended_length, struct pcsc_transport *t);

/* Maps a PC/SC return code (SCARD_*) to PCSC_OK or a PCSC_E_* code. */
int pcsc_status_from_scard(LONG rv);

#endif
