/* kyso-vtoken: APDU framing on the card side; see card.h. */
#include "config.h"

#include "tools/vtoken/card.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INS_GET_RESPONSE 0xC0
#define CLA_CHAINING 0x10

static void sleep_ms(unsigned ms)
{
    if (ms == 0)
        return;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

bool vt_random(uint8_t *buf, size_t len)
{
    return len <= 0x7FFFFFFF && RAND_bytes(buf, (int)len) == 1;
}

void vt_reply_sw(struct vt_reply *reply, uint16_t sw)
{
    reply->sw = sw;
}

void vt_card_init(struct vt_card *card, const struct vt_personality *pers, void *state)
{
    memset(card, 0, sizeof(*card));
    card->pers = pers;
    card->state = state;
}

static void drop_chain(struct vt_card *card)
{
    if (card->chain_buf) {
        OPENSSL_cleanse(card->chain_buf, card->chain_len);
        free(card->chain_buf);
    }
    card->chain_buf = NULL;
    card->chain_len = 0;
    card->chaining = false;
}

static void drop_pending(struct vt_card *card)
{
    if (card->pending) {
        OPENSSL_cleanse(card->pending, card->pending_len);
        free(card->pending);
    }
    card->pending = NULL;
    card->pending_len = card->pending_off = 0;
}

void vt_card_free(struct vt_card *card)
{
    drop_chain(card);
    drop_pending(card);
    if (card->pers && card->state)
        card->pers->free_state(card->state);
    card->state = NULL;
}

void vt_card_power_on(struct vt_card *card)
{
    drop_chain(card);
    drop_pending(card);
    card->pers->power_on(card);
}

void vt_card_private_key_op(struct vt_card *card)
{
    card->stats.signatures++;
    sleep_ms(card->sign_latency_ms);
}

static size_t put_sw(uint8_t *out, size_t n, uint16_t sw)
{
    out[n] = (uint8_t)(sw >> 8);
    out[n + 1] = (uint8_t)sw;
    return n + 2;
}

/* Copies the next piece of the pending answer (at most max bytes) and
 * says with 61xx how much is left. */
static size_t send_pending(struct vt_card *card, size_t max, uint8_t *out)
{
    size_t left = card->pending_len - card->pending_off;
    size_t n = left < max ? left : max;

    memcpy(out, card->pending + card->pending_off, n);
    card->pending_off += n;
    left -= n;
    if (left == 0) {
        drop_pending(card);
        return put_sw(out, n, SW_OK);
    }
    return put_sw(out, n, (uint16_t)(0x6100 | (left > 0xFF ? 0 : left)));
}

/* Parses the ISO 7816-4 cases 1, 2S/3S/4S and 2E/3E/4E. */
static bool parse_apdu(const uint8_t *b, size_t n, struct vt_apdu *a)
{
    memset(a, 0, sizeof(*a));
    if (n < 4)
        return false;
    a->cla = b[0];
    a->ins = b[1];
    a->p1 = b[2];
    a->p2 = b[3];
    if (n == 4)
        return true;
    if (n == 5) {
        a->le_present = true;
        a->le = b[4] ? b[4] : 256;
        return true;
    }
    if (b[4] != 0) {
        size_t lc = b[4];
        a->data = b + 5;
        a->len = lc;
        if (n == 5 + lc)
            return true;
        if (n == 6 + lc) {
            a->le_present = true;
            a->le = b[5 + lc] ? b[5 + lc] : 256;
            return true;
        }
        return false;
    }
    /* Extended: 00 followed by two length bytes. */
    a->extended = true;
    if (n == 7) {
        a->le_present = true;
        a->le = ((size_t)b[5] << 8 | b[6]);
        if (a->le == 0)
            a->le = 65536;
        return true;
    }
    size_t lc = ((size_t)b[5] << 8) | b[6];
    if (lc == 0)
        return false;
    a->data = b + 7;
    a->len = lc;
    if (n == 7 + lc)
        return true;
    if (n == 9 + lc) {
        a->le_present = true;
        a->le = ((size_t)b[7 + lc] << 8) | b[8 + lc];
        if (a->le == 0)
            a->le = 65536;
        return true;
    }
    return false;
}

/* Adds one piece of a command chain. Returns false if the chain would
 * grow past VT_MAX_COMMAND_DATA. */
static bool chain_append(struct vt_card *card, const struct vt_apdu *a)
{
    if (a->len > VT_MAX_COMMAND_DATA - card->chain_len)
        return false;
    uint8_t *grown = malloc(card->chain_len + a->len + 1);
    if (!grown)
        return false;
    if (card->chain_buf) {
        memcpy(grown, card->chain_buf, card->chain_len);
        OPENSSL_cleanse(card->chain_buf, card->chain_len);
        free(card->chain_buf);
    }
    if (a->len)
        memcpy(grown + card->chain_len, a->data, a->len);
    card->chain_buf = grown;
    card->chain_len += a->len;
    return true;
}

static bool same_command(const struct vt_card *card, const struct vt_apdu *a)
{
    return card->chain_hdr[1] == a->ins && card->chain_hdr[2] == a->p1 && card->chain_hdr[3] == a->p2;
}

size_t vt_card_transmit(struct vt_card *card, const uint8_t *cmd, size_t len, uint8_t *out)
{
    struct vt_apdu a;

    card->stats.apdus++;
    card->stats.bytes_in += len;
    sleep_ms(card->apdu_latency_ms);

    if (!parse_apdu(cmd, len, &a)) {
        drop_chain(card);
        return put_sw(out, 0, SW_WRONG_LENGTH);
    }

    if (a.ins == INS_GET_RESPONSE && !(a.cla & CLA_CHAINING)) {
        if (!card->pending)
            return put_sw(out, 0, SW_CONDITIONS_NOT_SATISFIED);
        size_t max = a.le_present ? a.le : 256;
        if (max > VT_MAX_RESPONSE)
            max = VT_MAX_RESPONSE;
        return send_pending(card, max, out);
    }
    drop_pending(card);

    if (a.cla & CLA_CHAINING) {
        if (card->chaining && !same_command(card, &a))
            drop_chain(card);
        if (!card->chaining) {
            card->chain_hdr[0] = a.cla & (uint8_t)~CLA_CHAINING;
            card->chain_hdr[1] = a.ins;
            card->chain_hdr[2] = a.p1;
            card->chain_hdr[3] = a.p2;
            card->chaining = true;
        }
        if (!chain_append(card, &a)) {
            drop_chain(card);
            return put_sw(out, 0, SW_NOT_ENOUGH_MEMORY);
        }
        return put_sw(out, 0, SW_OK);
    }

    /* The last (or only) piece: process the whole command. */
    if (card->chaining) {
        if (!same_command(card, &a)) {
            drop_chain(card);
        } else {
            if (!chain_append(card, &a)) {
                drop_chain(card);
                return put_sw(out, 0, SW_NOT_ENOUGH_MEMORY);
            }
            a.data = card->chain_buf;
            a.len = card->chain_len;
        }
    }

    struct vt_reply reply;
    tlv_builder_init(&reply.data);
    reply.sw = SW_UNKNOWN;
    card->pers->process(card, &a, &reply);
    drop_chain(card); /* a.data may have pointed into it: done with it now */

    size_t n;
    if (tlv_builder_error(&reply.data) || reply.data.len > VT_MAX_RESPONSE) {
        n = put_sw(out, 0, SW_UNKNOWN);
    } else if (reply.data.len == 0 || (reply.sw != SW_OK && (reply.sw & 0xFF00) != 0x6100)) {
        n = put_sw(out, 0, reply.sw);
    } else {
        /* Short commands get at most 256 bytes at a time, the rest through
         * GET RESPONSE; extended commands get what Le allows. */
        size_t max = 256;
        if (a.extended)
            max = a.le_present ? a.le : VT_MAX_RESPONSE;
        else if (a.le_present && a.le < max)
            max = a.le;
        if (max > VT_MAX_RESPONSE)
            max = VT_MAX_RESPONSE;
        card->pending = reply.data.data;
        card->pending_len = reply.data.len;
        card->pending_off = 0;
        reply.data.data = NULL; /* ownership moved to pending */
        reply.data.cap = 0;
        n = send_pending(card, max, out);
    }
    tlv_builder_free(&reply.data);
    card->stats.bytes_out += n;
    return n;
}
