/* libFuzzer target for pcsc/apdu.c: the input plays the card.
 *
 * Input layout:
 *   [0]      settings: bit 0 T=0, bit 1 extended length, bit 2 PCSC_APDU_CHAIN,
 *            bit 3 PCSC_APDU_SHORT, bit 4 use pcsc_apdu_transceive_alloc
 *   [1..2]   Nc, [3..5] Ne, [6..7] response buffer capacity / 2,
 *   [8] CLA, [9] INS
 *   then the card's answers, one per command sent: a length on two bytes
 *   and that many bytes (0xFFFF = a transport error instead).
 * When the answers run out the transport fails, as a removed card would.
 *
 * Checks that the exchange ends, never writes past the buffers (ASan),
 * and reports results consistently.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc/apdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
    do {            \
        if (!(cond)) \
            abort(); \
    } while (0)

#define HEADER_LEN 10

struct card {
    const uint8_t *p;
    size_t left;
    size_t calls;
};

static int card_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len,
                         uint8_t *resp, size_t *resp_len)
{
    struct card *c = ctx;

    c->calls++;
    /* Every command is a well-formed header plus at most the largest body. */
    CHECK(cmd && cmd_len >= 4 && cmd_len <= 4 + 3 + PCSC_APDU_MAX_DATA + 2);
    if (c->left < 2)
        return PCSC_E_CARD_REMOVED;
    size_t n = (size_t)c->p[0] << 8 | c->p[1];
    c->p += 2;
    c->left -= 2;
    if (n == 0xFFFF)
        return PCSC_E_COMM;
    if (n > c->left)
        n = c->left;
    if (n > *resp_len)
        return PCSC_E_MALFORMED; /* what pcsc/reader.c reports */
    memcpy(resp, c->p, n);
    *resp_len = n;
    c->p += n;
    c->left -= n;
    return PCSC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER_LEN)
        return 0;

    struct card c = { .p = data + HEADER_LEN, .left = size - HEADER_LEN };
    struct pcsc_transport t = {
        .transmit = card_transmit,
        .ctx = &c,
        .protocol = (data[0] & 1) ? PCSC_PROTOCOL_T0 : PCSC_PROTOCOL_T1,
        .extended_length = (data[0] & 2) != 0,
    };
    size_t nc = ((size_t)data[1] << 8 | data[2]) % (PCSC_APDU_MAX_DATA + 2);
    size_t ne = ((size_t)data[3] << 16 | (size_t)data[4] << 8 | data[5]) % (PCSC_APDU_MAX_LE + 2);
    size_t cap = ((size_t)data[6] << 8 | data[7]) * 2;
    uint8_t *body = malloc(nc ? nc : 1);
    if (!body)
        return 0;
    memset(body, 0xA5, nc);

    struct pcsc_apdu a = {
        .cla = data[8],
        .ins = data[9],
        .p1 = 0x12,
        .p2 = 0x34,
        .data = body,
        .data_len = nc,
        .le = ne,
        .flags = ((data[0] & 4) ? PCSC_APDU_CHAIN : 0u) | ((data[0] & 8) ? PCSC_APDU_SHORT : 0u),
    };
    size_t len = 12345;
    uint16_t sw = 0x1234;
    int rc;

    if (data[0] & 16) {
        uint8_t sentinel = 0, *out = &sentinel; /* must be replaced */
        rc = pcsc_apdu_transceive_alloc(&t, &a, &out, &len, &sw);
        CHECK(out != &sentinel && (out == NULL) == (len == 0));
        if (out) {
            volatile uint8_t last = out[len - 1]; /* readable to its end (ASan) */
            (void)last;
        }
        pcsc_apdu_free_response(out, len);
    } else {
        uint8_t *resp = malloc(cap ? cap : 1);
        if (!resp) {
            free(body);
            return 0;
        }
        rc = pcsc_apdu_transceive(&t, &a, cap ? resp : NULL, cap, &len, &sw);
        CHECK(len <= cap);
        free(resp);
    }

    CHECK(len <= PCSC_APDU_MAX_RESPONSE);
    if (rc == PCSC_OK) {
        /* 61xx is always followed; only the final word comes back. */
        CHECK((sw >> 8) != 0x61);
    } else {
        CHECK(len == 0 && sw == 0);
        CHECK(rc == PCSC_E_MALFORMED || rc == PCSC_E_BUFFER_TOO_SMALL || rc == PCSC_E_COMM ||
              rc == PCSC_E_CARD_REMOVED || rc == PCSC_E_INVALID_ARG || rc == PCSC_E_NOMEM);
    }
    /* Chain blocks, the 6Cxx retry and the GET RESPONSE rounds are all bounded. */
    CHECK(c.calls <= PCSC_APDU_MAX_DATA / PCSC_APDU_CHAIN_BLOCK + 1 + 1 + PCSC_APDU_MAX_EXCHANGES + 1);
    free(body);
    return 0;
}
