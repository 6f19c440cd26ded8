/* Unit tests of pcsc/apdu.c against a fake card: a script of the exact
 * commands expected and the answers to give. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pcsc/apdu.h"
#include "tests/unit/testutil.h"

/* ---- The fake transport ------------------------------------------------ */

struct step {
    uint8_t *cmd; /* expected command; NULL = do not check */
    size_t cmd_len;
    uint8_t *resp;
    size_t resp_len;
    int rc;       /* what transmit returns */
    bool lie;     /* report one byte more than the capacity */
};

struct fake {
    struct step steps[16];
    size_t nsteps;
    size_t pos;
    bool repeat_last; /* answer the last step for ever (misbehaving card) */
    size_t calls;
    struct pcsc_transport t;
};

static int fake_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len,
                         uint8_t *resp, size_t *resp_len)
{
    struct fake *f = ctx;
    const struct step *s;

    f->calls++;
    if (f->pos >= f->nsteps) {
        if (!f->repeat_last || f->nsteps == 0)
            fail_msg("unexpected command #%zu", f->calls);
        s = &f->steps[f->nsteps - 1];
    } else {
        s = &f->steps[f->pos++];
    }
    if (s->cmd) {
        assert_int_equal(cmd_len, s->cmd_len);
        assert_memory_equal(cmd, s->cmd, cmd_len);
    }
    if (s->rc != PCSC_OK)
        return s->rc;
    if (s->lie) {
        *resp_len += 1;
        return PCSC_OK;
    }
    /* A real reader never writes past the capacity it is given. */
    assert_true(s->resp_len <= *resp_len);
    if (s->resp_len)
        memcpy(resp, s->resp, s->resp_len);
    *resp_len = s->resp_len;
    return PCSC_OK;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);

    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

static uint8_t *dup_hex(const char *s, size_t *n)
{
    uint8_t buf[600];

    *n = hex(s, buf, sizeof(buf));
    return dup_bytes(buf, *n);
}

static struct step *add_step(struct fake *f)
{
    assert_true(f->nsteps < sizeof(f->steps) / sizeof(f->steps[0]));
    return &f->steps[f->nsteps++];
}

/* Expects the command in hex and answers with the response in hex. */
static void expect_hex(struct fake *f, const char *cmd, const char *resp)
{
    struct step *s = add_step(f);

    s->cmd = cmd ? dup_hex(cmd, &s->cmd_len) : NULL;
    s->resp = dup_hex(resp, &s->resp_len);
}

/* Expects head (hex) + body and answers body2 + sw (hex). */
static void expect_bin(struct fake *f, const char *head, const uint8_t *body, size_t body_len,
                       const char *tail, const uint8_t *body2, size_t body2_len, const char *sw)
{
    struct step *s = add_step(f);
    uint8_t h[16], t[16], w[4];
    size_t hn = hex(head, h, sizeof(h)), tn = hex(tail, t, sizeof(t)), wn = hex(sw, w, sizeof(w));

    s->cmd_len = hn + body_len + tn;
    s->cmd = malloc(s->cmd_len);
    assert_non_null(s->cmd);
    memcpy(s->cmd, h, hn);
    if (body_len)
        memcpy(s->cmd + hn, body, body_len);
    memcpy(s->cmd + hn + body_len, t, tn);

    s->resp_len = body2_len + wn;
    s->resp = malloc(s->resp_len);
    assert_non_null(s->resp);
    if (body2_len)
        memcpy(s->resp, body2, body2_len);
    memcpy(s->resp + body2_len, w, wn);
}

static void expect_error(struct fake *f, const char *cmd, int rc)
{
    struct step *s = add_step(f);

    s->cmd = cmd ? dup_hex(cmd, &s->cmd_len) : NULL;
    s->rc = rc;
}

static int setup(void **state)
{
    struct fake *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    f->t.transmit = fake_transmit;
    f->t.ctx = f;
    f->t.protocol = PCSC_PROTOCOL_T1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fake *f = *state;

    for (size_t i = 0; i < f->nsteps; i++) {
        free(f->steps[i].cmd);
        free(f->steps[i].resp);
    }
    free(f);
    return 0;
}

/* Every scripted command was sent. */
static void assert_script_done(const struct fake *f)
{
    assert_int_equal(f->pos, f->nsteps);
}

/* ---- Encoding ------------------------------------------------------------ */

static void check_encoding(const struct pcsc_apdu *a, bool extended, const uint8_t *want, size_t want_len)
{
    uint8_t out[70000 + 16];
    size_t n = 0;

    assert_int_equal(pcsc_apdu_encoded_size(a, extended), want_len);
    assert_int_equal(pcsc_apdu_encode(a, extended, out, sizeof(out), &n), PCSC_OK);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
}

static void check_encoding_hex(const struct pcsc_apdu *a, bool extended, const char *want)
{
    uint8_t w[64];
    size_t n = hex(want, w, sizeof(w));

    check_encoding(a, extended, w, n);
}

static void test_encode_case1(void **state)
{
    struct pcsc_apdu a = { .cla = 0x00, .ins = 0xA4, .p1 = 0x04, .p2 = 0x00 };

    check_encoding_hex(&a, false, "00 A4 04 00");
    check_encoding_hex(&a, true, "00 A4 04 00");
}

static void test_encode_case2(void **state)
{
    struct pcsc_apdu a = { .cla = 0x00, .ins = 0xCA, .p1 = 0x9F, .p2 = 0x7F, .le = 1 };

    check_encoding_hex(&a, false, "00 CA 9F 7F 01");
    a.le = 255;
    check_encoding_hex(&a, false, "00 CA 9F 7F FF");
    a.le = 256;
    check_encoding_hex(&a, false, "00 CA 9F 7F 00");
    /* 2E */
    check_encoding_hex(&a, true, "00 CA 9F 7F 00 01 00");
    a.le = 257;
    check_encoding_hex(&a, true, "00 CA 9F 7F 00 01 01");
    a.le = 65535;
    check_encoding_hex(&a, true, "00 CA 9F 7F 00 FF FF");
    a.le = 65536;
    check_encoding_hex(&a, true, "00 CA 9F 7F 00 00 00");
}

static void test_encode_case3(void **state)
{
    uint8_t *d = pattern(65535, 2);
    uint8_t *want = malloc(65535 + 16);
    struct pcsc_apdu a = { .cla = 0x00, .ins = 0x20, .p1 = 0x00, .p2 = 0x80, .data = d, .data_len = 3 };

    assert_non_null(want);
    memcpy(want, "\x00\x20\x00\x80\x03", 5);
    memcpy(want + 5, d, 3);
    check_encoding(&a, false, want, 8);

    a.data_len = 255;
    want[4] = 0xFF;
    memcpy(want + 5, d, 255);
    check_encoding(&a, false, want, 260);

    /* 3E: 00 Lc1 Lc2 */
    a.data_len = 256;
    memcpy(want + 4, "\x00\x01\x00", 3);
    memcpy(want + 7, d, 256);
    check_encoding(&a, true, want, 263);

    a.data_len = 65535;
    memcpy(want + 4, "\x00\xFF\xFF", 3);
    memcpy(want + 7, d, 65535);
    check_encoding(&a, true, want, 65542);
    free(want);
    free(d);
}

static void test_encode_case4(void **state)
{
    uint8_t *d = pattern(300, 4);
    uint8_t want[400];
    struct pcsc_apdu a = { .cla = 0x00, .ins = 0x87, .p1 = 0x07, .p2 = 0x9A,
                           .data = d, .data_len = 2, .le = 256 };

    memcpy(want, "\x00\x87\x07\x9A\x02", 5);
    memcpy(want + 5, d, 2);
    want[7] = 0x00;
    check_encoding(&a, false, want, 8);

    /* 4E with small values: Lc and Le both on two bytes, one leading 00. */
    a.le = 1;
    memcpy(want + 4, "\x00\x00\x02", 3);
    memcpy(want + 7, d, 2);
    memcpy(want + 9, "\x00\x01", 2);
    check_encoding(&a, true, want, 11);

    a.data_len = 300;
    a.le = 65536;
    memcpy(want + 4, "\x00\x01\x2C", 3);
    memcpy(want + 7, d, 300);
    memcpy(want + 307, "\x00\x00", 2);
    check_encoding(&a, true, want, 309);
    free(d);
}

static void test_encode_refusals(void **state)
{
    static const uint8_t d[1];
    uint8_t out[16];
    size_t n = 99;
    struct pcsc_apdu a = { .ins = 0xCA, .le = 257 };

    /* Ne over 256 in the short form. */
    assert_int_equal(pcsc_apdu_encoded_size(&a, false), 0);
    assert_int_equal(pcsc_apdu_encode(&a, false, out, sizeof(out), &n), PCSC_E_INVALID_ARG);
    assert_int_equal(n, 0);
    a.le = 65537;
    assert_int_equal(pcsc_apdu_encoded_size(&a, true), 0);

    /* Nc over 255 in the short form, over 65535 in the extended one. */
    a = (struct pcsc_apdu){ .ins = 0xDB, .data = d, .data_len = 256 };
    assert_int_equal(pcsc_apdu_encoded_size(&a, false), 0);
    a.data_len = 65536;
    assert_int_equal(pcsc_apdu_encoded_size(&a, true), 0);

    /* Data length without data. */
    a = (struct pcsc_apdu){ .ins = 0xDB, .data_len = 1 };
    assert_int_equal(pcsc_apdu_encoded_size(&a, false), 0);

    /* INS 6X and 9X are not instructions. */
    a = (struct pcsc_apdu){ .ins = 0x61 };
    assert_int_equal(pcsc_apdu_encoded_size(&a, false), 0);
    a.ins = 0x9F;
    assert_int_equal(pcsc_apdu_encoded_size(&a, true), 0);

    /* Output too small by one byte. */
    a = (struct pcsc_apdu){ .ins = 0xCA, .le = 1 };
    assert_int_equal(pcsc_apdu_encode(&a, false, out, 4, &n), PCSC_E_BUFFER_TOO_SMALL);
    assert_int_equal(pcsc_apdu_encode(&a, false, out, 5, &n), PCSC_OK);
    assert_int_equal(n, 5);
}

/* ---- Exchanges --------------------------------------------------------------- */

static void test_simple_case4(void **state)
{
    struct fake *f = *state;
    uint8_t resp[32];
    size_t len = 99;
    uint16_t sw = 0;
    static const uint8_t aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
    struct pcsc_apdu a = { .cla = 0x00, .ins = 0xA4, .p1 = 0x04, .data = aid, .data_len = 5, .le = 256 };

    expect_hex(f, "00 A4 04 00 05 A0 00 00 03 08 00", "61 11 4F 06 00 00 10 00 01 00 90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 10);
    assert_memory_equal(resp, "\x61\x11\x4F\x06\x00\x00\x10\x00\x01\x00", 10);
    assert_script_done(f);
}

static void test_case1_and_error_sw(void **state)
{
    struct fake *f = *state;
    size_t len = 99;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .cla = 0x00, .ins = 0x44 };

    expect_hex(f, "00 44 00 00", "90 00");
    expect_hex(f, "00 44 00 00", "6A 82");
    /* No response buffer is needed when no data comes back. */
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, NULL, 0, &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 0);
    /* An error status word is a completed exchange. */
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, NULL, 0, &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x6A82);
    assert_int_equal(pcsc_status_from_sw(sw, NULL), PCSC_E_NOT_FOUND);
    assert_script_done(f);
}

static void test_error_sw_keeps_data(void **state)
{
    struct fake *f = *state;
    uint8_t resp[8];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xB0, .le = 8 };

    /* 6282: end of file reached before Le bytes; the bytes read count. */
    expect_hex(f, "00 B0 00 00 08", "01 02 03 62 82");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x6282);
    assert_int_equal(len, 3);
    assert_memory_equal(resp, "\x01\x02\x03", 3);
}

/* Sends data_len bytes with the given transport settings and checks the
 * chain of blocks: CLA | 0x10 on every block but the last, which carries
 * the original CLA and Le. */
static void check_chaining(struct fake *f, uint8_t cla, size_t data_len, unsigned flags)
{
    uint8_t *d = pattern(data_len, 6);
    uint8_t resp[8];
    size_t len = 0, off = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .cla = cla, .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF,
                           .data = d, .data_len = data_len, .le = 256, .flags = flags };
    char head[32];

    while (data_len - off > 255) {
        snprintf(head, sizeof(head), "%02X DB 3F FF FF", cla | 0x10);
        expect_bin(f, head, d + off, 255, "", NULL, 0, "90 00");
        off += 255;
    }
    snprintf(head, sizeof(head), "%02X DB 3F FF %02X", cla, (unsigned)(data_len - off));
    expect_bin(f, head, d + off, data_len - off, "00", (const uint8_t *)"\xAB", 1, "90 00");

    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 1);
    assert_int_equal(resp[0], 0xAB);
    assert_script_done(f);
    free(d);
}

static void test_chaining_600(void **state)
{
    struct fake *f = *state;

    check_chaining(f, 0x00, 600, 0); /* 255 + 255 + 90 */
    assert_int_equal(f->calls, 3);
}

static void test_chaining_boundaries(void **state)
{
    struct fake *f = *state;

    check_chaining(f, 0x00, 256, 0); /* 255 + 1 */
    assert_int_equal(f->calls, 2);
    check_chaining(f, 0x00, 510, 0); /* 255 + 255 */
    assert_int_equal(f->calls, 4);
    check_chaining(f, 0x00, 255, 0); /* no chaining */
    assert_int_equal(f->calls, 5);
}

static void test_chaining_proprietary_cla(void **state)
{
    struct fake *f = *state;

    check_chaining(f, 0x80, 300, 0);
    assert_int_equal(f->steps[0].cmd[0], 0x90);
    assert_int_equal(f->steps[1].cmd[0], 0x80);
}

static void test_chaining_forced_by_flag(void **state)
{
    struct fake *f = *state;

    f->t.extended_length = true;
    check_chaining(f, 0x00, 400, PCSC_APDU_CHAIN);
    assert_int_equal(f->calls, 2);
}

static void test_chaining_when_short_only(void **state)
{
    struct fake *f = *state;

    f->t.extended_length = true;
    check_chaining(f, 0x00, 400, PCSC_APDU_SHORT);
    assert_int_equal(f->calls, 2);
}

static void test_chaining_refused_midway(void **state)
{
    struct fake *f = *state;
    uint8_t *d = pattern(600, 7);
    size_t len = 99;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .data = d, .data_len = 600 };

    expect_bin(f, "10 DB 3F FF FF", d, 255, "", NULL, 0, "68 84");
    /* No further block is sent. */
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, NULL, 0, &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x6884);
    assert_int_equal(len, 0);
    assert_script_done(f);
    free(d);
}

static void test_chaining_protocol_sw_midway(void **state)
{
    struct fake *f = *state;
    uint8_t *d = pattern(600, 7);
    uint8_t resp[16];
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xDB, .data = d, .data_len = 600, .le = 256 };

    /* Following 61xx here would report success for a chain cut short. */
    expect_bin(f, "10 DB 00 00 FF", d, 255, "", NULL, 0, "61 02");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_MALFORMED);
    assert_int_equal(sw, 0);
    expect_bin(f, "10 DB 00 00 FF", d, 255, "", NULL, 0, "6C 02");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_MALFORMED);
    assert_script_done(f);
    free(d);
}

static void test_extended_length(void **state)
{
    struct fake *f = *state;
    uint8_t *d = pattern(600, 8);
    uint8_t *r = pattern(1000, 9);
    uint8_t *resp = malloc(1000);
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0x87, .p1 = 0x07, .p2 = 0x9A, .data = d, .data_len = 600, .le = 65536 };

    assert_non_null(resp);
    f->t.extended_length = true;
    expect_bin(f, "00 87 07 9A 00 02 58", d, 600, "00 00", r, 1000, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 1000, &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 1000);
    assert_memory_equal(resp, r, 1000);
    assert_script_done(f);
    free(resp);
    free(r);
    free(d);
}

static void test_extended_only_when_needed(void **state)
{
    struct fake *f = *state;
    uint8_t resp[4];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xCA, .p1 = 0x01, .le = 256 };

    f->t.extended_length = true;
    expect_hex(f, "00 CA 01 00 00", "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_script_done(f);
}

static void test_no_extended_on_t0(void **state)
{
    struct fake *f = *state;
    uint8_t *d = pattern(300, 10);
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .data = d, .data_len = 300 };

    f->t.protocol = PCSC_PROTOCOL_T0;
    f->t.extended_length = true;
    expect_bin(f, "10 DB 3F FF FF", d, 255, "", NULL, 0, "90 00");
    expect_bin(f, "00 DB 3F FF 2D", d + 255, 45, "", NULL, 0, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, NULL, 0, &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_script_done(f);
    free(d);
}

static void test_long_le_without_extended(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(272, 11);
    uint8_t resp[300];
    size_t len = 0;
    uint16_t sw = 0;
    static const uint8_t tag[] = { 0x5C, 0x03, 0x5F, 0xC1, 0x05 };
    struct pcsc_apdu a = { .ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .data = tag, .data_len = 5, .le = 65536 };

    /* Le is capped to 00 (256) and the rest comes through 61xx. */
    expect_bin(f, "00 CB 3F FF 05 5C 03 5F C1 05 00", NULL, 0, "", r, 256, "61 10");
    expect_bin(f, "00 C0 00 00 10", NULL, 0, "", r + 256, 16, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 272);
    assert_memory_equal(resp, r, 272);
    assert_script_done(f);
    free(r);
}

static void test_t0_case4_get_response(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(32, 12);
    uint8_t resp[64];
    size_t len = 0;
    uint16_t sw = 0;
    static const uint8_t aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
    struct pcsc_apdu a = { .ins = 0xA4, .p1 = 0x04, .data = aid, .data_len = 5, .le = 256 };

    f->t.protocol = PCSC_PROTOCOL_T0;
    /* Case 4 goes as case 3: no Le byte. */
    expect_hex(f, "00 A4 04 00 05 A0 00 00 03 08", "61 20");
    expect_bin(f, "00 C0 00 00 20", NULL, 0, "", r, 32, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 32);
    assert_memory_equal(resp, r, 32);
    assert_script_done(f);
    free(r);
}

static void test_t0_case2_keeps_le(void **state)
{
    struct fake *f = *state;
    uint8_t resp[8];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xCA, .p1 = 0x9F, .p2 = 0x7F, .le = 256 };

    f->t.protocol = PCSC_PROTOCOL_T0;
    expect_hex(f, "00 CA 9F 7F 00", "6C 08");
    expect_hex(f, "00 CA 9F 7F 08", "01 02 03 04 05 06 07 08 90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 8);
    assert_memory_equal(resp, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_script_done(f);
}

static void test_61xx_accumulation(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(264, 13);
    uint8_t resp[300];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .le = 256 };

    /* Data in every answer, 61 00 meaning 256 more, then 61 05. */
    expect_bin(f, "00 CB 3F FF 00", NULL, 0, "", r, 3, "61 00");
    expect_bin(f, "00 C0 00 00 00", NULL, 0, "", r + 3, 256, "61 05");
    expect_bin(f, "00 C0 00 00 05", NULL, 0, "", r + 259, 5, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 264);
    assert_memory_equal(resp, r, 264);
    assert_script_done(f);
    free(r);
}

static void test_61xx_then_error(void **state)
{
    struct fake *f = *state;
    uint8_t resp[16];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .le = 256 };

    expect_hex(f, "00 CB 3F FF 00", "AA 61 02");
    expect_hex(f, "00 C0 00 00 02", "69 85");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x6985);
    assert_int_equal(len, 1);
    assert_script_done(f);
}

static void test_get_response_class(void **state)
{
    struct fake *f = *state;
    uint8_t resp[16];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .cla = 0x03, .ins = 0xCA, .le = 1 };

    /* Logical channel 3 stays; proprietary class goes to the basic
     * interindustry class; further channel 13+4 keeps its channel bits
     * without the secure messaging bit. */
    expect_hex(f, "03 CA 00 00 01", "61 01");
    expect_hex(f, "03 C0 00 00 01", "AA 90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    a.cla = 0x84;
    expect_hex(f, "84 CA 00 00 01", "61 01");
    expect_hex(f, "00 C0 00 00 01", "BB 90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    a.cla = 0x6D;
    expect_hex(f, "6D CA 00 00 01", "61 01");
    expect_hex(f, "4D C0 00 00 01", "CC 90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(resp[0], 0xCC);
    assert_script_done(f);
}

static void test_6cxx_retry(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(256, 14);
    uint8_t resp[256];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xB0, .le = 16 };

    /* 6C00 means 256. */
    expect_hex(f, "00 B0 00 00 10", "6C 00");
    expect_bin(f, "00 B0 00 00 00", NULL, 0, "", r, 256, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 256);
    assert_memory_equal(resp, r, 256);
    assert_script_done(f);
    free(r);
}

static void test_6cxx_retried_once_only(void **state)
{
    struct fake *f = *state;
    uint8_t resp[32];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xB0, .le = 16 };

    expect_hex(f, "00 B0 00 00 10", "6C 20");
    expect_hex(f, "00 B0 00 00 20", "6C 08");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x6C08);
    assert_int_equal(len, 0);
    assert_int_equal(pcsc_status_from_sw(sw, NULL), PCSC_E_WRONG_LENGTH);
    assert_script_done(f);
}

static void test_6cxx_on_chained_command(void **state)
{
    struct fake *f = *state;
    uint8_t *d = pattern(300, 15);
    uint8_t resp[8];
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xDB, .data = d, .data_len = 300, .le = 256 };

    /* Only the last block is sent again. */
    expect_bin(f, "10 DB 00 00 FF", d, 255, "", NULL, 0, "90 00");
    expect_bin(f, "00 DB 00 00 2D", d + 255, 45, "00", NULL, 0, "6C 02");
    expect_bin(f, "00 DB 00 00 2D", d + 255, 45, "02", (const uint8_t *)"\x01\x02", 2, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 2);
    assert_script_done(f);
    free(d);
}

static void test_endless_61xx_with_data(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(256, 16);
    size_t cap = 2 * PCSC_APDU_MAX_RESPONSE;
    uint8_t *resp = malloc(cap);
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xCB, .le = 256 };

    assert_non_null(resp);
    expect_bin(f, "00 CB 00 00 00", NULL, 0, "", r, 256, "61 00");
    expect_bin(f, "00 C0 00 00 00", NULL, 0, "", r, 256, "61 00");
    f->repeat_last = true;
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, cap, &len, &sw), PCSC_E_MALFORMED);
    assert_int_equal(len, 0);
    assert_int_equal(sw, 0);
    /* 65536 bytes are accepted, the 257th block of 256 is not. */
    assert_int_equal(f->calls, PCSC_APDU_MAX_RESPONSE / 256 + 1);
    free(resp);
    free(r);
}

static void test_endless_61xx_without_data(void **state)
{
    struct fake *f = *state;
    uint8_t resp[16];
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xCB, .le = 256 };

    expect_hex(f, "00 CB 00 00 00", "61 10");
    expect_hex(f, "00 C0 00 00 10", "61 10");
    f->repeat_last = true;
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_MALFORMED);
    assert_int_equal(f->calls, PCSC_APDU_MAX_EXCHANGES + 1);
}

static void test_buffer_too_small(void **state)
{
    struct fake *f = *state;
    uint8_t resp[16];
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xCA, .le = 10 };

    expect_hex(f, "00 CA 00 00 0A", "01 02 03 04 05 06 07 08 09 0A 90 00");
    memset(resp, 0xEE, sizeof(resp));
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 9, &len, &sw), PCSC_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, 0);
    assert_int_equal(sw, 0);
    /* Nothing written past the capacity given. */
    assert_int_equal(resp[9], 0xEE);

    /* The exact size fits. */
    expect_hex(f, "00 CA 00 00 0A", "01 02 03 04 05 06 07 08 09 0A 90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 10, &len, &sw), PCSC_OK);
    assert_int_equal(len, 10);

    /* Data when none was expected (no buffer). */
    expect_hex(f, "00 CA 00 00 0A", "01 90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, NULL, 0, &len, &sw), PCSC_E_BUFFER_TOO_SMALL);
    assert_script_done(f);
}

static void test_buffer_too_small_across_get_response(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(300, 17);
    uint8_t resp[300];
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xCA, .le = 256 };

    expect_bin(f, "00 CA 00 00 00", NULL, 0, "", r, 256, "61 2C");
    expect_bin(f, "00 C0 00 00 2C", NULL, 0, "", r + 256, 44, "90 00");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 299, &len, &sw), PCSC_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, 0);
    /* What had been copied is wiped. */
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(resp[i], 0);
    assert_script_done(f);
    free(r);
}

static void test_short_responses(void **state)
{
    struct fake *f = *state;
    uint8_t resp[16];
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xCA, .le = 256 };

    expect_hex(f, "00 CA 00 00 00", "90");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_MALFORMED);
    assert_int_equal(len, 0);
    assert_int_equal(sw, 0);

    expect_hex(f, "00 CA 00 00 00", "");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_MALFORMED);

    /* The same in the answer to GET RESPONSE. */
    expect_hex(f, "00 CA 00 00 00", "AA 61 04");
    expect_hex(f, "00 C0 00 00 04", "61");
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_MALFORMED);
    assert_int_equal(len, 0);
    assert_int_equal(resp[0], 0); /* wiped */
    assert_script_done(f);
}

static void test_transport_lies_about_length(void **state)
{
    struct fake *f = *state;
    uint8_t resp[16];
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xCA, .le = 256 };

    expect_hex(f, "00 CA 00 00 00", "90 00");
    f->steps[0].lie = true;
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_MALFORMED);
}

static void test_transport_errors(void **state)
{
    struct fake *f = *state;
    uint8_t *d = pattern(300, 18);
    uint8_t resp[16];
    size_t len = 99;
    uint16_t sw = 99;
    struct pcsc_apdu a = { .ins = 0xCA, .le = 256 };

    expect_error(f, "00 CA 00 00 00", PCSC_E_CARD_REMOVED);
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_CARD_REMOVED);
    assert_int_equal(len, 0);
    assert_int_equal(sw, 0);

    /* During GET RESPONSE. */
    expect_hex(f, "00 CA 00 00 00", "AA BB 61 02");
    expect_error(f, "00 C0 00 00 02", PCSC_E_COMM);
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, sizeof(resp), &len, &sw), PCSC_E_COMM);
    assert_int_equal(len, 0);
    assert_int_equal(resp[0], 0);
    assert_int_equal(resp[1], 0);

    /* In the middle of a chain. */
    a = (struct pcsc_apdu){ .ins = 0xDB, .data = d, .data_len = 300 };
    expect_bin(f, "10 DB 00 00 FF", d, 255, "", NULL, 0, "90 00");
    expect_error(f, NULL, PCSC_E_CARD_RESET);
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, NULL, 0, &len, &sw), PCSC_E_CARD_RESET);
    assert_script_done(f);
    free(d);
}

static void test_invalid_arguments(void **state)
{
    struct fake *f = *state;
    static const uint8_t d[1];
    uint8_t resp[4];
    size_t len;
    uint16_t sw;
    struct pcsc_apdu a = { .ins = 0xCA, .le = 1 };
    struct pcsc_transport bad = f->t;

    assert_int_equal(pcsc_apdu_transceive(NULL, &a, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_apdu_transceive(&f->t, NULL, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 4, NULL, &sw), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 4, &len, NULL), PCSC_E_INVALID_ARG);
    bad.transmit = NULL;
    assert_int_equal(pcsc_apdu_transceive(&bad, &a, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);
    bad = f->t;
    bad.protocol = 0;
    assert_int_equal(pcsc_apdu_transceive(&bad, &a, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);

    a.le = PCSC_APDU_MAX_LE + 1;
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);
    a = (struct pcsc_apdu){ .ins = 0xDB, .data = d, .data_len = PCSC_APDU_MAX_DATA + 1 };
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);
    a = (struct pcsc_apdu){ .ins = 0xDB, .data_len = 1 };
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);
    a = (struct pcsc_apdu){ .ins = 0x6C };
    assert_int_equal(pcsc_apdu_transceive(&f->t, &a, resp, 4, &len, &sw), PCSC_E_INVALID_ARG);
    /* Nothing reached the card. */
    assert_int_equal(f->calls, 0);
}

static void test_transceive_alloc(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(300, 19);
    uint8_t *out = NULL;
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .le = 65536 };

    expect_bin(f, "00 CB 3F FF 00", NULL, 0, "", r, 256, "61 2C");
    expect_bin(f, "00 C0 00 00 2C", NULL, 0, "", r + 256, 44, "90 00");
    assert_int_equal(pcsc_apdu_transceive_alloc(&f->t, &a, &out, &len, &sw), PCSC_OK);
    assert_int_equal(sw, 0x9000);
    assert_int_equal(len, 300);
    assert_non_null(out);
    assert_memory_equal(out, r, 300);
    pcsc_apdu_free_response(out, len);

    /* No data: no buffer. */
    expect_hex(f, "00 CB 3F FF 00", "6A 82");
    assert_int_equal(pcsc_apdu_transceive_alloc(&f->t, &a, &out, &len, &sw), PCSC_OK);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_int_equal(sw, 0x6A82);

    /* Errors leave nothing behind. */
    expect_hex(f, "00 CB 3F FF 00", "AA 61 01");
    expect_error(f, "00 C0 00 00 01", PCSC_E_CARD_REMOVED);
    assert_int_equal(pcsc_apdu_transceive_alloc(&f->t, &a, &out, &len, &sw), PCSC_E_CARD_REMOVED);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_script_done(f);
    pcsc_apdu_free_response(NULL, 0);
    free(r);
}

static void test_transceive_alloc_capped(void **state)
{
    struct fake *f = *state;
    uint8_t *r = pattern(256, 20);
    uint8_t *out = (uint8_t *)"not touched";
    size_t len = 0;
    uint16_t sw = 0;
    struct pcsc_apdu a = { .ins = 0xCB, .le = 256 };

    expect_bin(f, "00 CB 00 00 00", NULL, 0, "", r, 256, "61 00");
    expect_bin(f, "00 C0 00 00 00", NULL, 0, "", r, 256, "61 00");
    f->repeat_last = true;
    assert_int_equal(pcsc_apdu_transceive_alloc(&f->t, &a, &out, &len, &sw), PCSC_E_MALFORMED);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_int_equal(f->calls, PCSC_APDU_MAX_RESPONSE / 256 + 1);
    free(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_encode_case1),
        T(test_encode_case2),
        T(test_encode_case3),
        T(test_encode_case4),
        T(test_encode_refusals),
        T(test_simple_case4),
        T(test_case1_and_error_sw),
        T(test_error_sw_keeps_data),
        T(test_chaining_600),
        T(test_chaining_boundaries),
        T(test_chaining_proprietary_cla),
        T(test_chaining_forced_by_flag),
        T(test_chaining_when_short_only),
        T(test_chaining_refused_midway),
        T(test_chaining_protocol_sw_midway),
        T(test_extended_length),
        T(test_extended_only_when_needed),
        T(test_no_extended_on_t0),
        T(test_long_le_without_extended),
        T(test_t0_case4_get_response),
        T(test_t0_case2_keeps_le),
        T(test_61xx_accumulation),
        T(test_61xx_then_error),
        T(test_get_response_class),
        T(test_6cxx_retry),
        T(test_6cxx_retried_once_only),
        T(test_6cxx_on_chained_command),
        T(test_endless_61xx_with_data),
        T(test_endless_61xx_without_data),
        T(test_buffer_too_small),
        T(test_buffer_too_small_across_get_response),
        T(test_short_responses),
        T(test_transport_lies_about_length),
        T(test_transport_errors),
        T(test_invalid_arguments),
        T(test_transceive_alloc),
        T(test_transceive_alloc_capped),
    };
    return cmocka_run_group_tests_name("apdu", tests, NULL, NULL);
}
