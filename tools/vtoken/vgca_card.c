/* kyso-vtoken, government token: the card edge shared by both bit4id
 * applets (TOKENS.md §1). The variant (struct vgca_variant) supplies the
 * AID, references and sizes; this file applies the rules.
 *
 * Model. After power-on the current DF is the MF and no EF is selected.
 * SELECT by AID (P1=04, the exact AID) enters the application; its EFs
 * are then selected by file identifier. Variant A also has EF.DIR
 * (2F00) in the MF, and SELECT 3F00 returns there. The instructions:
 *
 *   A4 SELECT       P1=04: P2=0C (no answer) or 00 (FCI 6F{84 AID});
 *                   P1=00/02 + 2-byte FID: P2=0C, or 00/04 (FCP
 *                   62{80 size, 82 01, 83 FID}); unknown AID/FID → 6A82,
 *                   the selection unchanged.
 *   B0 READ BINARY  offset P1-P2 (P1 b8=0); at most 231 bytes whatever Le
 *                   says; at or past the end → 6B00; no EF → 6986; no
 *                   Le → 6700. Needs no PIN.
 *   20 VERIFY       P1=00, P2=PIN (or PUK) reference; 8 bytes exactly
 *                   (else 6700, no try spent); empty → 63Cx / 6983 /
 *                   9000 for free; 3 tries.
 *   24 CHANGE REFERENCE DATA  P1=00, 16 bytes old ‖ new.
 *   2C RESET RETRY COUNTER    P1=00, P2=PIN reference, 16 bytes PUK ‖ new PIN.
 *   22 MSE          always 9000 (the measured card checks nothing here);
 *                   SET 41 B6 records whether it named algorithm 8A and
 *                   the card's key; any other MSE forgets that.
 *   2A PSO          only COMPUTE DIGITAL SIGNATURE (9E 9A) with a
 *                   DigestInfo (SHA-1/224/256/384/512); the card pads
 *                   (PKCS#1 v1.5). DST not 8A + key → 6A80; PIN not
 *                   verified → 6982; not a DigestInfo → 6A80. Any other
 *                   PSO (DECIPHER…) → 6D00.
 *   anything else   6D00 (GET RESPONSE is the frame's).
 *
 * Choices where TOKENS.md is silent: VERIFY, CHANGE, RESET RETRY COUNTER
 * and PSO outside the application → 6985; the PIN stays verified until
 * reset, a wrong PIN or an unblock (no "PIN always": the facts show one
 * VERIFY before the MSE/PSO pair); selecting a DF forgets the MSE; a new
 * PIN or PUK must be 4 to 8 UTF-8 bytes padded with FF, else 6A80 and
 * nothing is spent or changed; a secret with wrong padding is just a
 * wrong secret (the card compares 8 bytes). */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <string.h>

#include "tools/vtoken/vgca.h"

#define INS_VERIFY 0x20
#define INS_MSE 0x22
#define INS_CHANGE_REFERENCE 0x24
#define INS_PSO 0x2A
#define INS_RESET_RETRY 0x2C
#define INS_SELECT 0xA4
#define INS_READ_BINARY 0xB0

static struct vgca_state *state_of(struct vt_card *card)
{
    return card->state;
}

void vt_vgca_power_on(struct vt_card *card)
{
    struct vgca_state *st = state_of(card);
    OPENSSL_cleanse(&st->session, sizeof(st->session));
    st->session.ef = -1;
}

static void put_fcp(struct vt_reply *r, uint16_t fid, size_t size, bool df)
{
    uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
    size_t m = tlv_begin(&r->data, 0x62);
    if (!df) {
        uint8_t s[2] = { (uint8_t)(size >> 8), (uint8_t)size };
        tlv_add(&r->data, 0x80, s, 2);
    }
    tlv_add_u8(&r->data, 0x82, df ? 0x38 : 0x01);
    tlv_add(&r->data, 0x83, f, 2);
    tlv_end(&r->data, m);
}

static void select_aid(struct vgca_state *st, const struct vt_apdu *a, struct vt_reply *r)
{
    const struct vgca_variant *v = st->v;

    if (a->p2 != 0x00 && a->p2 != 0x0C) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (a->len != v->aid_len || memcmp(a->data, v->aid, v->aid_len) != 0) {
        vt_reply_sw(r, SW_FILE_NOT_FOUND);
        return;
    }
    st->session.in_app = true;
    st->session.ef = -1;
    st->session.dst_valid = false;
    if (a->p2 == 0x00) {
        size_t m = tlv_begin(&r->data, 0x6F);
        tlv_add(&r->data, 0x84, v->aid, v->aid_len);
        tlv_end(&r->data, m);
    }
    vt_reply_sw(r, SW_OK);
}

static void select_fid(struct vgca_state *st, const struct vt_apdu *a, struct vt_reply *r)
{
    const struct vgca_variant *v = st->v;
    uint16_t fid;

    if (a->p2 != 0x00 && a->p2 != 0x04 && a->p2 != 0x0C) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (a->len == 0 && a->p1 == 0x00) {
        fid = VGCA_MF; /* P1=00 without data: the MF */
    } else if (a->len != 2) {
        vt_reply_sw(r, SW_WRONG_LENGTH);
        return;
    } else {
        fid = (uint16_t)(a->data[0] << 8 | a->data[1]);
    }
    if (fid == VGCA_MF) {
        if (!v->has_mf || a->p1 != 0x00) {
            vt_reply_sw(r, SW_FILE_NOT_FOUND);
            return;
        }
        st->session.in_app = false;
        st->session.ef = -1;
        st->session.dst_valid = false;
        if (a->p2 != 0x0C)
            put_fcp(r, VGCA_MF, 0, true);
        vt_reply_sw(r, SW_OK);
        return;
    }
    for (size_t i = 0; i < st->nfiles; i++) {
        const struct vgca_file *f = &st->files[i];
        if (f->fid != fid || f->at_mf == st->session.in_app)
            continue;
        st->session.ef = (int)i;
        if (a->p2 != 0x0C)
            put_fcp(r, fid, f->size, false);
        vt_reply_sw(r, SW_OK);
        return;
    }
    vt_reply_sw(r, SW_FILE_NOT_FOUND);
}

static void do_select(struct vgca_state *st, const struct vt_apdu *a, struct vt_reply *r)
{
    switch (a->p1) {
    case 0x04:
        select_aid(st, a, r);
        break;
    case 0x00:
    case 0x02:
        select_fid(st, a, r);
        break;
    default:
        vt_reply_sw(r, SW_INCORRECT_P1P2);
    }
}

static void do_read_binary(struct vgca_state *st, const struct vt_apdu *a, struct vt_reply *r)
{
    if (a->p1 & 0x80) { /* short EF identifier: not offered */
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (a->len != 0 || !a->le_present) {
        vt_reply_sw(r, SW_WRONG_LENGTH);
        return;
    }
    if (st->session.ef < 0) {
        vt_reply_sw(r, SW_COMMAND_NOT_ALLOWED);
        return;
    }
    const struct vgca_file *f = &st->files[st->session.ef];
    size_t off = (size_t)a->p1 << 8 | a->p2;
    if (off >= f->size) {
        vt_reply_sw(r, SW_WRONG_P1P2);
        return;
    }
    size_t n = f->size - off;
    if (n > a->le)
        n = a->le;
    if (n > VGCA_READ_MAX)
        n = VGCA_READ_MAX;
    tlv_add_raw(&r->data, f->data + off, n);
    vt_reply_sw(r, SW_OK);
}

enum secret { SECRET_NONE, SECRET_PIN, SECRET_PUK };

static enum secret secret_of(const struct vgca_variant *v, uint8_t ref)
{
    if (ref == v->pin_ref || (v->pin_ref_alias && ref == v->pin_ref_alias))
        return SECRET_PIN;
    if (v->puk_ref && ref == v->puk_ref)
        return SECRET_PUK;
    return SECRET_NONE;
}

/* Compares a presented secret with the stored one, spending a try on a
 * mismatch and restoring the counter on a match. */
static uint16_t check_secret(struct vt_card *card, const uint8_t *stored, uint8_t *left, uint8_t max,
                             const uint8_t *given)
{
    if (*left == 0)
        return SW_AUTH_BLOCKED;
    if (CRYPTO_memcmp(stored, given, VGCA_PIN_LEN) != 0) {
        (*left)--;
        card->dirty = true;
        return *left == 0 ? SW_AUTH_BLOCKED : SW_TRIES_LEFT(*left);
    }
    if (*left != max) {
        *left = max;
        card->dirty = true;
    }
    return SW_OK;
}

static void do_verify(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct vgca_state *st = state_of(card);
    struct vgca_session *s = &st->session;

    if (a->p1 != 0x00) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    enum secret which = secret_of(st->v, a->p2);
    if (which == SECRET_NONE) {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    bool pin = which == SECRET_PIN;
    uint8_t *left = pin ? &st->pin_left : &st->puk_left;
    bool *verified = pin ? &s->pin_verified : &s->puk_verified;
    if (a->len == 0) { /* status: costs nothing */
        if (*left == 0)
            vt_reply_sw(r, SW_AUTH_BLOCKED);
        else
            vt_reply_sw(r, *verified ? SW_OK : SW_TRIES_LEFT(*left));
        return;
    }
    if (a->len != VGCA_PIN_LEN) {
        vt_reply_sw(r, SW_WRONG_LENGTH);
        return;
    }
    uint16_t sw = check_secret(card, pin ? st->pin : st->puk, left, pin ? st->pin_max : st->puk_max, a->data);
    *verified = sw == SW_OK;
    vt_reply_sw(r, sw);
}

static void do_change_reference(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct vgca_state *st = state_of(card);

    if (a->p1 != 0x00) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    enum secret which = secret_of(st->v, a->p2);
    if (which == SECRET_NONE) {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    if (a->len != 2 * VGCA_PIN_LEN) {
        vt_reply_sw(r, SW_WRONG_LENGTH);
        return;
    }
    if (vt_vgca_pin_length(a->data + VGCA_PIN_LEN) == 0) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    bool pin = which == SECRET_PIN;
    uint8_t *stored = pin ? st->pin : st->puk;
    uint16_t sw = check_secret(card, stored, pin ? &st->pin_left : &st->puk_left, pin ? st->pin_max : st->puk_max,
                               a->data);
    if (sw != SW_OK) {
        if (pin)
            st->session.pin_verified = false;
        else
            st->session.puk_verified = false;
        vt_reply_sw(r, sw);
        return;
    }
    memcpy(stored, a->data + VGCA_PIN_LEN, VGCA_PIN_LEN);
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

static void do_reset_retry(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct vgca_state *st = state_of(card);

    if (a->p1 != 0x00) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (secret_of(st->v, a->p2) != SECRET_PIN) {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    if (a->len != 2 * VGCA_PIN_LEN) {
        vt_reply_sw(r, SW_WRONG_LENGTH);
        return;
    }
    if (vt_vgca_pin_length(a->data + VGCA_PIN_LEN) == 0) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    uint16_t sw = check_secret(card, st->puk, &st->puk_left, st->puk_max, a->data);
    if (sw != SW_OK) {
        st->session.puk_verified = false;
        vt_reply_sw(r, sw);
        return;
    }
    memcpy(st->pin, a->data + VGCA_PIN_LEN, VGCA_PIN_LEN);
    st->pin_left = st->pin_max;
    st->session.pin_verified = false;
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

/* MSE: the measured card answers 9000 to anything and fails only at PSO,
 * so this records whether the digital-signature template is the one the
 * card's key needs: 80 01 8A (RSA PKCS#1 v1.5) and 84 01 <key ref>. */
static void do_mse(struct vgca_state *st, const struct vt_apdu *a, struct vt_reply *r)
{
    struct tlv alg, key;
    bool valid = false;

    if (st->session.in_app && a->p1 == 0x41 && a->p2 == 0xB6 && a->len > 0 &&
        tlv_validate(a->data, a->len, false, 0) == TLV_OK && tlv_find(a->data, a->len, 0x80, &alg) == TLV_OK &&
        tlv_find(a->data, a->len, 0x84, &key) == TLV_OK)
        valid = alg.len == 1 && alg.value[0] == VGCA_ALG_RSA_PKCS1 && key.len == 1 && key.value[0] == st->v->key_ref;
    st->session.dst_valid = valid;
    vt_reply_sw(r, SW_OK);
}

/* DigestInfo prefixes of RFC 8017 §9.2, note 1, and the hash lengths. */
static const struct {
    uint8_t prefix[19];
    size_t prefix_len, hash_len;
} digest_infos[] = {
    { { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 }, 15, 20 },
    { { 0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04,
        0x1c }, 19, 28 },
    { { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20 }, 19, 32 },
    { { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04,
        0x30 }, 19, 48 },
    { { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
        0x40 }, 19, 64 },
};

static bool is_digest_info(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < sizeof(digest_infos) / sizeof(digest_infos[0]); i++)
        if (len == digest_infos[i].prefix_len + digest_infos[i].hash_len &&
            memcmp(p, digest_infos[i].prefix, digest_infos[i].prefix_len) == 0)
            return true;
    return false;
}

static void do_pso(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct vgca_state *st = state_of(card);

    if (a->p1 != 0x9E || a->p2 != 0x9A) { /* only COMPUTE DIGITAL SIGNATURE was measured */
        vt_reply_sw(r, SW_INS_NOT_SUPPORTED);
        return;
    }
    if (!st->session.in_app) {
        vt_reply_sw(r, SW_CONDITIONS_NOT_SATISFIED);
        return;
    }
    if (!st->session.dst_valid) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    if (!st->session.pin_verified) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    if (!is_digest_info(a->data, a->len)) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    uint8_t sig[512];
    size_t n = sizeof(sig);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->key, NULL);
    vt_card_private_key_op(card);
    bool ok = ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
              EVP_PKEY_sign(ctx, sig, &n, a->data, a->len) == 1 && n == st->v->key_bits / 8;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        vt_reply_sw(r, SW_UNKNOWN);
        return;
    }
    tlv_add_raw(&r->data, sig, n);
    vt_reply_sw(r, SW_OK);
}

void vt_vgca_process(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct vgca_state *st = state_of(card);

    if ((a->cla & 0xEF) != 0x00) {
        vt_reply_sw(r, SW_CLA_NOT_SUPPORTED);
        return;
    }
    switch (a->ins) {
    case INS_SELECT:
        do_select(st, a, r);
        return;
    case INS_READ_BINARY:
        do_read_binary(st, a, r);
        return;
    case INS_MSE:
        do_mse(st, a, r);
        return;
    case INS_PSO:
        do_pso(card, a, r);
        return;
    case INS_VERIFY:
    case INS_CHANGE_REFERENCE:
    case INS_RESET_RETRY:
        break;
    default:
        vt_reply_sw(r, SW_INS_NOT_SUPPORTED);
        return;
    }
    /* The PIN and PUK belong to the application. */
    if (!st->session.in_app) {
        vt_reply_sw(r, SW_CONDITIONS_NOT_SATISFIED);
        return;
    }
    if (a->ins == INS_VERIFY)
        do_verify(card, a, r);
    else if (a->ins == INS_CHANGE_REFERENCE)
        do_change_reference(card, a, r);
    else
        do_reset_retry(card, a, r);
}
