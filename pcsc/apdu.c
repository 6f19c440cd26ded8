/* APDU encoding and exchange; see apdu.h. */
#include "config.h"

#include "pcsc/apdu.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define SW_OK 0x9000u
#define CLA_CHAINING 0x10u
#define INS_GET_RESPONSE 0xC0u

/* Largest short command: header, Lc, 255 data bytes, Le. */
#define SHORT_COMMAND_MAX (4u + 1u + 255u + 1u)
/* Largest answers: data plus SW1 SW2. */
#define SHORT_ANSWER_MAX (256u + 2u)
#define EXTENDED_ANSWER_MAX (65536u + 2u)

/* INS 6X and 9X are procedure bytes of T=0 and invalid in every protocol. */
static bool ins_valid(uint8_t ins)
{
    return (ins & 0xF0) != 0x60 && (ins & 0xF0) != 0x90;
}

size_t pcsc_apdu_encoded_size(const struct pcsc_apdu *apdu, bool extended)
{
    if (!apdu || (apdu->data_len > 0 && !apdu->data) || !ins_valid(apdu->ins))
        return 0;
    if (!extended) {
        if (apdu->data_len > 255 || apdu->le > 256)
            return 0;
        return 4 + (apdu->data_len ? 1 + apdu->data_len : 0) + (apdu->le ? 1 : 0);
    }
    if (apdu->data_len > PCSC_APDU_MAX_DATA || apdu->le > PCSC_APDU_MAX_LE)
        return 0;
    if (apdu->data_len == 0 && apdu->le == 0)
        return 4; /* case 1 */
    /* The extended form starts with a 00 byte, then Lc on two bytes
     * (if any), the data, and Le on two bytes (if any, without another 00
     * when Lc was present). */
    return 4 + 1 + (apdu->data_len ? 2 + apdu->data_len : 0) + (apdu->le ? 2 : 0);
}

int pcsc_apdu_encode(const struct pcsc_apdu *apdu, bool extended,
                     uint8_t *out, size_t cap, size_t *out_len)
{
    size_t need = pcsc_apdu_encoded_size(apdu, extended);
    size_t i = 0;

    if (!out_len)
        return PCSC_E_INVALID_ARG;
    *out_len = 0;
    if (need == 0)
        return PCSC_E_INVALID_ARG;
    if (!out || cap < need)
        return PCSC_E_BUFFER_TOO_SMALL;

    out[i++] = apdu->cla;
    out[i++] = apdu->ins;
    out[i++] = apdu->p1;
    out[i++] = apdu->p2;
    if (need > 4 && extended) {
        out[i++] = 0x00;
        if (apdu->data_len) {
            out[i++] = (uint8_t)(apdu->data_len >> 8);
            out[i++] = (uint8_t)apdu->data_len;
        }
    } else if (apdu->data_len) {
        out[i++] = (uint8_t)apdu->data_len;
    }
    if (apdu->data_len) {
        memcpy(out + i, apdu->data, apdu->data_len);
        i += apdu->data_len;
    }
    if (apdu->le) {
        /* The maximum (256 or 65536) is encoded as zero. */
        if (extended) {
            out[i++] = (uint8_t)(apdu->le >> 8);
            out[i++] = (uint8_t)apdu->le;
        } else {
            out[i++] = (uint8_t)apdu->le;
        }
    }
    *out_len = i;
    return PCSC_OK;
}

/* Where response data goes: the caller's fixed buffer, or a heap buffer
 * that grows as needed. */
struct sink {
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool grow;
};

static int sink_put(struct sink *s, const uint8_t *data, size_t n)
{
    if (n == 0)
        return PCSC_OK;
    /* Past this total the card is misbehaving (e.g. 61xx forever). */
    if (n > PCSC_APDU_MAX_RESPONSE - s->len)
        return PCSC_E_MALFORMED;
    if (n > s->cap - s->len) {
        if (!s->grow)
            return PCSC_E_BUFFER_TOO_SMALL;
        size_t cap = s->cap ? s->cap * 2 : 256;
        if (cap < s->len + n)
            cap = s->len + n;
        if (cap > PCSC_APDU_MAX_RESPONSE)
            cap = PCSC_APDU_MAX_RESPONSE;
        /* Copy instead of realloc so that the old buffer can be wiped. */
        uint8_t *b = malloc(cap);
        if (!b)
            return PCSC_E_NOMEM;
        if (s->buf) {
            memcpy(b, s->buf, s->len);
            OPENSSL_cleanse(s->buf, s->cap);
            free(s->buf);
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return PCSC_OK;
}

/* State of one transceive: the scratch buffers and the command last sent,
 * which 6Cxx asks to repeat. */
struct exchange {
    const struct pcsc_transport *t;
    uint8_t *tx;
    size_t tx_cap;
    uint8_t *rx;
    size_t rx_cap;
    size_t rx_len;  /* bytes of the last answer, SW included */
    size_t rx_used; /* most bytes ever received into rx, to wipe */
    struct pcsc_apdu cur;
    bool cur_extended;
};

/* Encodes ex->cur and exchanges it; on PCSC_OK the answer is in
 * rx[0..rx_len) and has at least the two status bytes. */
static int send_current(struct exchange *ex)
{
    size_t tx_len, n = ex->rx_cap;
    int rc = pcsc_apdu_encode(&ex->cur, ex->cur_extended, ex->tx, ex->tx_cap, &tx_len);

    if (rc != PCSC_OK)
        return rc;
    rc = ex->t->transmit(ex->t->ctx, ex->tx, tx_len, ex->rx, &n);
    if (rc != PCSC_OK)
        return rc;
    if (n > ex->rx_cap) /* a transport that ignored the capacity */
        return PCSC_E_MALFORMED;
    if (n > ex->rx_used)
        ex->rx_used = n;
    if (n < 2)
        return PCSC_E_MALFORMED;
    ex->rx_len = n;
    return PCSC_OK;
}

static uint16_t last_sw(const struct exchange *ex)
{
    return (uint16_t)((ex->rx[ex->rx_len - 2] << 8) | ex->rx[ex->rx_len - 1]);
}

/* GET RESPONSE goes on the logical channel of the command, in the
 * interindustry class, without chaining or secure messaging bits. */
static uint8_t get_response_cla(uint8_t cla)
{
    if (cla & 0x80)
        return 0x00; /* proprietary class: basic channel */
    if (cla & 0x40)
        return (uint8_t)(cla & 0x4F); /* further interindustry: channels 4-19 */
    return (uint8_t)(cla & 0x03);
}

static int run(struct exchange *ex, const struct pcsc_apdu *apdu, struct sink *out, uint16_t *sw)
{
    const struct pcsc_transport *t = ex->t;
    bool t0 = t->protocol == PCSC_PROTOCOL_T0;
    bool ext_ok = t->extended_length && !t0 &&
                  !(apdu->flags & (PCSC_APDU_CHAIN | PCSC_APDU_SHORT));
    bool ext = ext_ok && (apdu->data_len > 255 || apdu->le > 256);
    bool chain = !ext && apdu->data_len > PCSC_APDU_CHAIN_BLOCK;
    size_t off = 0;
    int rc;

    ex->tx_cap = ext ? 4 + 3 + apdu->data_len + 2 : SHORT_COMMAND_MAX;
    ex->rx_cap = t->extended_length ? EXTENDED_ANSWER_MAX : SHORT_ANSWER_MAX;
    ex->tx = malloc(ex->tx_cap);
    ex->rx = malloc(ex->rx_cap);
    if (!ex->tx || !ex->rx)
        return PCSC_E_NOMEM;

    /* The command itself: one APDU, or the blocks of a chain. */
    for (;;) {
        size_t left = apdu->data_len - off;
        bool last = !chain || left <= PCSC_APDU_CHAIN_BLOCK;

        ex->cur = *apdu;
        ex->cur.data = apdu->data_len ? apdu->data + off : NULL;
        ex->cur.data_len = last ? left : PCSC_APDU_CHAIN_BLOCK;
        ex->cur.cla = last ? apdu->cla : (uint8_t)(apdu->cla | CLA_CHAINING);
        ex->cur.le = last ? apdu->le : 0;
        if (!ext && ex->cur.le > 256)
            ex->cur.le = 256; /* the rest will come through 61xx */
        if (t0 && ex->cur.data_len > 0)
            ex->cur.le = 0; /* T=0 case 4 is sent as case 3 */
        ex->cur_extended = ext;

        rc = send_current(ex);
        if (rc != PCSC_OK)
            return rc;
        if (last)
            break;
        uint16_t s = last_sw(ex);
        if (s != SW_OK) {
            /* 61xx or 6Cxx in the middle of a chain break the protocol;
             * following them would hide that the chain was cut short. */
            if ((s >> 8) == 0x61 || (s >> 8) == 0x6C)
                return PCSC_E_MALFORMED;
            *sw = s; /* the card refused the chain */
            return PCSC_OK;
        }
        off += PCSC_APDU_CHAIN_BLOCK;
    }

    /* The answer: follow 61xx and 6Cxx until a final status word. */
    bool retried = false;
    unsigned rounds = 0;
    for (;;) {
        uint16_t s = last_sw(ex);
        uint8_t sw1 = (uint8_t)(s >> 8), sw2 = (uint8_t)s;

        if (sw1 == 0x6C && !retried) {
            retried = true;
            ex->cur.le = sw2 ? sw2 : 256;
        } else {
            rc = sink_put(out, ex->rx, ex->rx_len - 2);
            if (rc != PCSC_OK)
                return rc;
            if (sw1 != 0x61) {
                *sw = s;
                return PCSC_OK;
            }
            if (++rounds > PCSC_APDU_MAX_EXCHANGES)
                return PCSC_E_MALFORMED;
            ex->cur = (struct pcsc_apdu){
                .cla = get_response_cla(apdu->cla),
                .ins = INS_GET_RESPONSE,
                .le = sw2 ? sw2 : 256,
            };
            ex->cur_extended = false;
        }
        rc = send_current(ex);
        if (rc != PCSC_OK)
            return rc;
    }
}

static int transceive(const struct pcsc_transport *t, const struct pcsc_apdu *apdu,
                      struct sink *out, uint16_t *sw)
{
    struct exchange ex = { .t = t };
    int rc;

    if (!t || !t->transmit || !apdu || !sw)
        return PCSC_E_INVALID_ARG;
    if ((apdu->data_len > 0 && !apdu->data) || apdu->data_len > PCSC_APDU_MAX_DATA ||
        apdu->le > PCSC_APDU_MAX_LE || !ins_valid(apdu->ins))
        return PCSC_E_INVALID_ARG;
    if (t->protocol != PCSC_PROTOCOL_T0 && t->protocol != PCSC_PROTOCOL_T1)
        return PCSC_E_INVALID_ARG;

    rc = run(&ex, apdu, out, sw);

    /* Scratch buffers held command data (PINs) and answers (plain text). */
    if (ex.tx) {
        OPENSSL_cleanse(ex.tx, ex.tx_cap);
        free(ex.tx);
    }
    if (ex.rx) {
        OPENSSL_cleanse(ex.rx, ex.rx_used);
        free(ex.rx);
    }
    return rc;
}

int pcsc_apdu_transceive(const struct pcsc_transport *t, const struct pcsc_apdu *apdu,
                         uint8_t *resp, size_t resp_cap, size_t *resp_len, uint16_t *sw)
{
    struct sink out = { .buf = resp, .cap = resp ? resp_cap : 0 };
    uint16_t s = 0;
    int rc;

    if (!resp_len || !sw)
        return PCSC_E_INVALID_ARG;
    *resp_len = 0;
    *sw = 0;
    rc = transceive(t, apdu, &out, &s);
    if (rc != PCSC_OK) {
        if (out.len)
            OPENSSL_cleanse(resp, out.len);
        return rc;
    }
    *resp_len = out.len;
    *sw = s;
    return PCSC_OK;
}

int pcsc_apdu_transceive_alloc(const struct pcsc_transport *t, const struct pcsc_apdu *apdu,
                               uint8_t **resp, size_t *resp_len, uint16_t *sw)
{
    struct sink out = { .grow = true };
    uint16_t s = 0;
    int rc;

    if (!resp || !resp_len || !sw)
        return PCSC_E_INVALID_ARG;
    *resp = NULL;
    *resp_len = 0;
    *sw = 0;
    rc = transceive(t, apdu, &out, &s);
    if (rc != PCSC_OK) {
        if (out.buf) {
            OPENSSL_cleanse(out.buf, out.cap);
            free(out.buf);
        }
        return rc;
    }
    *resp = out.buf;
    *resp_len = out.len;
    *sw = s;
    return PCSC_OK;
}

void pcsc_apdu_free_response(uint8_t *resp, size_t resp_len)
{
    if (!resp)
        return;
    OPENSSL_cleanse(resp, resp_len);
    free(resp);
}
