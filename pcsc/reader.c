/* PC/SC wrapper; see reader.h. */
#include "config.h"

#include "pcsc/reader.h"

#include <reader.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A reader may be plugged in between the two SCardListReaders calls;
 * try again a few times before giving up. */
#define LIST_ATTEMPTS 4

int pcsc_status_from_scard(LONG rv)
{
    switch (rv) {
    case SCARD_S_SUCCESS:
        return PCSC_OK;
    case SCARD_E_NO_SMARTCARD:
        return PCSC_E_NO_CARD;
    case SCARD_W_REMOVED_CARD:
        return PCSC_E_CARD_REMOVED;
    case SCARD_W_RESET_CARD:
        return PCSC_E_CARD_RESET;
    case SCARD_E_READER_UNAVAILABLE:
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_NO_READERS_AVAILABLE:
        return PCSC_E_NO_READER;
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
        return PCSC_E_NO_SERVICE;
    case SCARD_E_SHARING_VIOLATION:
        return PCSC_E_SHARING;
    case SCARD_E_TIMEOUT:
        return PCSC_E_TIMEOUT;
    case SCARD_E_CANCELLED:
    case SCARD_E_SYSTEM_CANCELLED:
        return PCSC_E_CANCELLED;
    case SCARD_E_NO_MEMORY:
        return PCSC_E_NOMEM;
    case SCARD_E_INSUFFICIENT_BUFFER:
        return PCSC_E_BUFFER_TOO_SMALL;
    case SCARD_E_INVALID_PARAMETER:
    case SCARD_E_INVALID_VALUE:
    case SCARD_E_INVALID_HANDLE:
        return PCSC_E_INVALID_ARG;
    default:
        /* Unresponsive or unpowered card, protocol mismatch, lost data,
         * internal failures: the exchange with the card did not work. */
        return PCSC_E_COMM;
    }
}

static unsigned protocol_from_scard(DWORD p)
{
    if (p == SCARD_PROTOCOL_T0)
        return PCSC_PROTOCOL_T0;
    if (p == SCARD_PROTOCOL_T1)
        return PCSC_PROTOCOL_T1;
    return 0;
}

int pcsc_context_establish(struct pcsc_context *ctx)
{
    if (!ctx)
        return PCSC_E_INVALID_ARG;
    memset(ctx, 0, sizeof(*ctx));
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx->handle);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_status_from_scard(rv);
    ctx->established = true;
    return PCSC_OK;
}

void pcsc_context_release(struct pcsc_context *ctx)
{
    if (!ctx || !ctx->established)
        return;
    (void)SCardReleaseContext(ctx->handle);
    memset(ctx, 0, sizeof(*ctx));
}

bool pcsc_context_is_valid(const struct pcsc_context *ctx)
{
    return ctx && ctx->established && SCardIsValidContext(ctx->handle) == SCARD_S_SUCCESS;
}

int pcsc_cancel(const struct pcsc_context *ctx)
{
    if (!ctx || !ctx->established)
        return PCSC_E_INVALID_ARG;
    return pcsc_status_from_scard(SCardCancel(ctx->handle));
}

void pcsc_reader_list_free(struct pcsc_reader_list *list)
{
    if (!list)
        return;
    free(list->names);
    free(list->buf);
    memset(list, 0, sizeof(*list));
}

int pcsc_reader_list_parse(const char *multi, size_t len, struct pcsc_reader_list *list)
{
    size_t count = 0, i;

    if (!list || (len > 0 && !multi))
        return PCSC_E_INVALID_ARG;
    memset(list, 0, sizeof(*list));

    /* Names end at a NUL; the list ends at an empty name or at len. */
    for (i = 0; i < len && multi[i] != '\0'; count++) {
        while (i < len && multi[i] != '\0')
            i++;
        i++; /* past the NUL (or past len for an unterminated last name) */
    }
    if (count == 0)
        return PCSC_OK;

    /* i is now the used length, possibly one past len: copy and
     * terminate every name ourselves. */
    size_t used = i < len ? i : len;
    list->buf = malloc(used + 1);
    list->names = calloc(count, sizeof(*list->names));
    if (!list->buf || !list->names) {
        pcsc_reader_list_free(list);
        return PCSC_E_NOMEM;
    }
    memcpy(list->buf, multi, used);
    list->buf[used] = '\0';
    for (i = 0; list->count < count; i++) {
        list->names[list->count++] = list->buf + i;
        i += strlen(list->buf + i);
    }
    return PCSC_OK;
}

int pcsc_list_readers(const struct pcsc_context *ctx, struct pcsc_reader_list *list)
{
    LONG rv = SCARD_E_INSUFFICIENT_BUFFER;

    if (!list)
        return PCSC_E_INVALID_ARG;
    memset(list, 0, sizeof(*list));
    if (!ctx || !ctx->established)
        return PCSC_E_INVALID_ARG;

    for (int attempt = 0; attempt < LIST_ATTEMPTS; attempt++) {
        DWORD len = 0;
        rv = SCardListReaders(ctx->handle, NULL, NULL, &len);
        if (rv == SCARD_E_NO_READERS_AVAILABLE)
            return PCSC_OK;
        if (rv != SCARD_S_SUCCESS)
            return pcsc_status_from_scard(rv);
        if (len == 0)
            return PCSC_OK;

        char *buf = malloc(len);
        if (!buf)
            return PCSC_E_NOMEM;
        DWORD got = len;
        rv = SCardListReaders(ctx->handle, NULL, buf, &got);
        if (rv == SCARD_S_SUCCESS) {
            int rc = pcsc_reader_list_parse(buf, got < len ? got : len, list);
            free(buf);
            return rc;
        }
        free(buf);
        if (rv == SCARD_E_NO_READERS_AVAILABLE) /* the last reader went away */
            return PCSC_OK;
        if (rv != SCARD_E_INSUFFICIENT_BUFFER) /* else a reader was added: again */
            break;
    }
    return pcsc_status_from_scard(rv);
}

int pcsc_connect(const struct pcsc_context *ctx, const char *reader, struct pcsc_card *card)
{
    DWORD proto = 0;

    if (!card)
        return PCSC_E_INVALID_ARG;
    memset(card, 0, sizeof(*card));
    if (!ctx || !ctx->established || !reader)
        return PCSC_E_INVALID_ARG;
    LONG rv = SCardConnect(ctx->handle, reader, SCARD_SHARE_SHARED,
                           SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card->handle, &proto);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_status_from_scard(rv);
    card->connected = true;
    card->protocol = protocol_from_scard(proto);
    return PCSC_OK;
}

int pcsc_reconnect(struct pcsc_card *card, bool reset)
{
    DWORD proto = 0;

    if (!card || !card->connected)
        return PCSC_E_INVALID_ARG;
    LONG rv = SCardReconnect(card->handle, SCARD_SHARE_SHARED,
                             SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                             reset ? SCARD_RESET_CARD : SCARD_LEAVE_CARD, &proto);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_status_from_scard(rv);
    card->protocol = protocol_from_scard(proto);
    return PCSC_OK;
}

int pcsc_disconnect(struct pcsc_card *card, bool reset)
{
    if (!card)
        return PCSC_E_INVALID_ARG;
    if (!card->connected)
        return PCSC_OK;
    LONG rv = SCardDisconnect(card->handle, reset ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
    /* The handle is unusable afterwards whatever the outcome. */
    memset(card, 0, sizeof(*card));
    return pcsc_status_from_scard(rv);
}

int pcsc_begin_transaction(struct pcsc_card *card)
{
    if (!card || !card->connected)
        return PCSC_E_INVALID_ARG;
    return pcsc_status_from_scard(SCardBeginTransaction(card->handle));
}

int pcsc_end_transaction(struct pcsc_card *card)
{
    if (!card || !card->connected)
        return PCSC_E_INVALID_ARG;
    return pcsc_status_from_scard(SCardEndTransaction(card->handle, SCARD_LEAVE_CARD));
}

int pcsc_reader_channel(const struct pcsc_card *card, bool *usb, unsigned *bus, unsigned *address)
{
    *usb = false;
    *bus = *address = 0;
    if (!card->connected)
        return PCSC_E_NO_CARD;
    uint8_t buf[8];
    DWORD len = sizeof(buf);
    LONG rv = SCardGetAttrib(card->handle, SCARD_ATTR_CHANNEL_ID, buf, &len);
    if (rv != SCARD_S_SUCCESS || len != 4)
        return PCSC_OK; /* the driver does not tell */
    /* A DWORD, host order: 0xDDDDCCCC, DDDD the channel type (0x0020 is
     * USB), CCCC the bus number and the device address for USB. */
    uint32_t id;
    memcpy(&id, buf, sizeof(id));
    if ((id >> 16) == 0x0020) {
        *usb = true;
        *bus = (id >> 8) & 0xff;
        *address = id & 0xff;
    }
    return PCSC_OK;
}

int pcsc_card_status(const struct pcsc_card *card, struct pcsc_card_status *st)
{
    char name[MAX_READERNAME];
    DWORD name_len = sizeof(name), state = 0, proto = 0;
    BYTE atr[MAX_ATR_SIZE];
    DWORD atr_len = sizeof(atr);

    if (!st)
        return PCSC_E_INVALID_ARG;
    memset(st, 0, sizeof(*st));
    if (!card || !card->connected)
        return PCSC_E_INVALID_ARG;

    LONG rv = SCardStatus(card->handle, name, &name_len, &state, &proto, atr, &atr_len);
    if (rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_NO_SMARTCARD)
        return PCSC_OK; /* absent */
    if (rv != SCARD_S_SUCCESS)
        return pcsc_status_from_scard(rv);

    st->present = (state & (SCARD_PRESENT | SCARD_SWALLOWED | SCARD_POWERED |
                            SCARD_NEGOTIABLE | SCARD_SPECIFIC)) != 0;
    st->protocol = protocol_from_scard(proto);
    if (st->present) {
        st->atr_len = atr_len <= sizeof(st->atr) ? atr_len : sizeof(st->atr);
        memcpy(st->atr, atr, st->atr_len);
    }
    return PCSC_OK;
}

static void decode_state(struct pcsc_reader_state *r, DWORD event, const BYTE *atr, DWORD atr_len)
{
    /* Fed back as the "current state" next time: without the CHANGED bit,
     * with the event counter pcsc-lite keeps in the upper 16 bits. */
    r->state = (uint32_t)(event & ~(DWORD)SCARD_STATE_CHANGED);
    r->changed = (event & SCARD_STATE_CHANGED) != 0;
    r->present = (event & SCARD_STATE_PRESENT) != 0;
    r->unavailable = (event & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE)) != 0;
    r->mute = (event & SCARD_STATE_MUTE) != 0;
    r->exclusive = (event & SCARD_STATE_EXCLUSIVE) != 0;
    r->in_use = (event & (SCARD_STATE_INUSE | SCARD_STATE_EXCLUSIVE)) != 0;
    r->atr_len = 0;
    if (r->present) {
        r->atr_len = atr_len <= sizeof(r->atr) ? atr_len : sizeof(r->atr);
        memcpy(r->atr, atr, r->atr_len);
    }
}

int pcsc_wait_change(const struct pcsc_context *ctx, struct pcsc_reader_state *readers,
                     size_t count, uint32_t timeout_ms)
{
    if (!ctx || !ctx->established || !readers || count == 0 || count > UINT16_MAX)
        return PCSC_E_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (!readers[i].reader)
            return PCSC_E_INVALID_ARG;

    SCARD_READERSTATE *rs = calloc(count, sizeof(*rs));
    if (!rs)
        return PCSC_E_NOMEM;
    for (size_t i = 0; i < count; i++) {
        rs[i].szReader = readers[i].reader;
        rs[i].dwCurrentState = readers[i].state;
    }

    LONG rv = SCardGetStatusChange(ctx->handle, timeout_ms, rs, (DWORD)count);
    if (rv == SCARD_S_SUCCESS) {
        for (size_t i = 0; i < count; i++)
            decode_state(&readers[i], rs[i].dwEventState, rs[i].rgbAtr, rs[i].cbAtr);
    }
    free(rs);
    return pcsc_status_from_scard(rv);
}

static int card_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len,
                         uint8_t *resp, size_t *resp_len)
{
    struct pcsc_card *card = ctx;
    SCARD_IO_REQUEST pci;

    if (!card || !card->connected || !cmd || !resp || !resp_len ||
        cmd_len > MAX_BUFFER_SIZE_EXTENDED)
        return PCSC_E_INVALID_ARG;
    /* Our own protocol control information rather than the library's
     * SCARD_PCI_T0/T1 globals; it must match the active protocol. */
    if (card->protocol == PCSC_PROTOCOL_T0)
        pci.dwProtocol = SCARD_PROTOCOL_T0;
    else if (card->protocol == PCSC_PROTOCOL_T1)
        pci.dwProtocol = SCARD_PROTOCOL_T1;
    else
        return PCSC_E_INVALID_ARG;
    pci.cbPciLength = sizeof(pci);

    size_t cap = *resp_len;
    DWORD got = cap > MAX_BUFFER_SIZE_EXTENDED ? MAX_BUFFER_SIZE_EXTENDED : (DWORD)cap;
    *resp_len = 0;
    LONG rv = SCardTransmit(card->handle, &pci, cmd, (DWORD)cmd_len, NULL, resp, &got);
    /* The APDU layer always offers room for the longest answer the command
     * allows, so an answer that does not fit is the card's fault. */
    if (rv == SCARD_E_INSUFFICIENT_BUFFER)
        return PCSC_E_MALFORMED;
    if (rv != SCARD_S_SUCCESS)
        return pcsc_status_from_scard(rv);
    if (got > cap)
        return PCSC_E_MALFORMED;
    *resp_len = got;
    return PCSC_OK;
}

void pcsc_card_transport(struct pcsc_card *card, bool extended_length, struct pcsc_transport *t)
{
    if (!t)
        return;
    t->transmit = card_transmit;
    t->ctx = card;
    t->protocol = card ? card->protocol : 0;
    t->extended_length = extended_length;
}
