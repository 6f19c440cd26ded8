/* kyso-vtoken PIV: the card edge. One handler per instruction; each
 * checks its parameters and the security status before touching state. */
#include "config.h"

#include <openssl/crypto.h>
#include <string.h>

#include "tools/vtoken/piv.h"

#define INS_VERIFY 0x20
#define INS_CHANGE_REFERENCE 0x24
#define INS_RESET_RETRY 0x2C
#define INS_GENERATE 0x47
#define INS_GENERAL_AUTHENTICATE 0x87
#define INS_SELECT 0xA4
#define INS_GET_DATA 0xCB
#define INS_PUT_DATA 0xDB
/* YubiKey extensions */
#define INS_GET_METADATA 0xF7
#define INS_GET_SERIAL 0xF8
#define INS_SET_PIN_RETRIES 0xFA
#define INS_RESET 0xFB
#define INS_IMPORT_KEY 0xFE
#define INS_GET_VERSION 0xFD
#define INS_SET_MGM_KEY 0xFF

static const uint8_t piv_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };

static struct piv_state *state_of(struct vt_card *card)
{
    return card->state;
}

void vt_piv_power_on(struct vt_card *card)
{
    struct piv_state *st = state_of(card);
    OPENSSL_cleanse(&st->session, sizeof(st->session));
    /* The PIV application is the default one: usable before SELECT. */
    st->session.selected = true;
}

static void forget_mgm_auth(struct piv_session *s)
{
    s->mgm_authenticated = false;
    s->mgm_step = MGM_IDLE;
    OPENSSL_cleanse(s->mgm_nonce, sizeof(s->mgm_nonce));
    s->mgm_nonce_len = 0;
}

static void do_select(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);

    if (a->p1 != 0x04) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    /* A prefix of the AID of at least the RID selects it (SP 800-73-4 §3.1.1). */
    if (a->len < 5 || a->len > sizeof(piv_aid) || memcmp(a->data, piv_aid, a->len) != 0) {
        vt_reply_sw(r, SW_FILE_NOT_FOUND);
        return;
    }
    /* Selecting again drops "PIN always" freshness: a VERIFY must come
     * immediately before the signature it allows. */
    st->session.pin_fresh = false;
    st->session.selected = true;
    size_t m = tlv_begin(&r->data, 0x61);
    tlv_add(&r->data, 0x4F, piv_aid + 5, sizeof(piv_aid) - 5);
    size_t m2 = tlv_begin(&r->data, 0x79);
    tlv_add(&r->data, 0x4F, piv_aid, 5);
    tlv_end(&r->data, m2);
    tlv_end(&r->data, m);
    vt_reply_sw(r, SW_OK);
}

/* 5C element of GET DATA / PUT DATA: the tag of the object, 1 to 3 bytes. */
static bool object_tag(const uint8_t *data, size_t len, uint32_t *tag, const uint8_t **rest, size_t *restlen)
{
    struct tlv t;
    if (tlv_next(&data, &len, &t) != TLV_OK || t.tag != 0x5C || t.len < 1 || t.len > 3)
        return false;
    *tag = 0;
    for (size_t i = 0; i < t.len; i++)
        *tag = *tag << 8 | t.value[i];
    *rest = data;
    *restlen = len;
    return true;
}

static bool is_data_object(uint32_t tag)
{
    return (tag >= 0x5FC101 && tag <= 0x5FC123) || (tag >= 0x5FFF00 && tag <= 0x5FFFFF) || tag == 0x7F61;
}

/* Objects that the card releases only after the PIN (SP 800-73-4 table 3). */
static bool needs_pin(uint32_t tag)
{
    return tag == 0x5FC103 || tag == 0x5FC108 || tag == 0x5FC109 || tag == 0x5FC121;
}

static void do_get_data(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    uint32_t tag;
    const uint8_t *rest;
    size_t restlen;

    if (a->p1 != 0x3F || a->p2 != 0xFF) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (!object_tag(a->data, a->len, &tag, &rest, &restlen) || restlen != 0) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    if (tag == 0x7E) {
        /* Discovery object: PIV AID, PIN usage policy "PIV PIN only". */
        size_t m = tlv_begin(&r->data, 0x7E);
        tlv_add(&r->data, 0x4F, piv_aid, sizeof(piv_aid));
        tlv_add(&r->data, 0x5F2F, "\x40\x00", 2);
        tlv_end(&r->data, m);
        vt_reply_sw(r, SW_OK);
        return;
    }
    if (!is_data_object(tag)) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    if (needs_pin(tag) && !st->session.pin_verified) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    struct piv_object *o = vt_piv_object_find(st, tag);
    if (!o) {
        vt_reply_sw(r, SW_FILE_NOT_FOUND);
        return;
    }
    if (tag == 0x7F61)
        tlv_add(&r->data, 0x7F61, o->data, o->len);
    else
        tlv_add(&r->data, 0x53, o->data, o->len);
    vt_reply_sw(r, SW_OK);
}

static void do_put_data(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    uint32_t tag;
    const uint8_t *rest;
    size_t restlen;
    struct tlv body;

    if (a->p1 != 0x3F || a->p2 != 0xFF) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (!st->session.mgm_authenticated) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    if (!object_tag(a->data, a->len, &tag, &rest, &restlen) || !is_data_object(tag) ||
        tlv_next(&rest, &restlen, &body) != TLV_OK || restlen != 0 ||
        body.tag != (tag == 0x7F61 ? 0x7F61u : 0x53u)) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    if (body.len == 0) {
        vt_piv_object_delete(st, tag);
    } else if (!vt_piv_object_put(st, tag, body.value, body.len)) {
        vt_reply_sw(r, SW_NOT_ENOUGH_MEMORY);
        return;
    }
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

/* Length of a PIN inside its FF padding; 0 if the padding is not clean. */
static size_t padded_length(const uint8_t *p)
{
    size_t n = 0;
    while (n < PIV_PIN_LEN && p[n] != 0xFF)
        n++;
    for (size_t i = n; i < PIV_PIN_LEN; i++)
        if (p[i] != 0xFF)
            return 0;
    return n;
}

/* Compares a presented secret with a stored one, spending a try on a
 * mismatch. Returns the status word. */
static uint16_t check_secret(struct vt_card *card, const uint8_t *stored, uint8_t *left, uint8_t max,
                             const uint8_t *given)
{
    if (*left == 0)
        return SW_AUTH_BLOCKED;
    if (CRYPTO_memcmp(stored, given, PIV_PIN_LEN) != 0) {
        (*left)--;
        card->dirty = true;
        return SW_TRIES_LEFT(*left);
    }
    if (*left != max) {
        *left = max;
        card->dirty = true;
    }
    return SW_OK;
}

static void do_verify(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    struct piv_session *s = &st->session;

    if (a->p2 != PIV_REF_PIN) {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    if (a->p1 == 0xFF) { /* reset the security status of the PIN */
        if (a->len != 0) {
            vt_reply_sw(r, SW_WRONG_DATA);
            return;
        }
        s->pin_verified = s->pin_fresh = false;
        vt_reply_sw(r, SW_OK);
        return;
    }
    if (a->p1 != 0x00) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (a->len == 0) { /* status: costs no try */
        if (st->pin_left == 0)
            vt_reply_sw(r, SW_AUTH_BLOCKED);
        else
            vt_reply_sw(r, s->pin_verified ? SW_OK : SW_TRIES_LEFT(st->pin_left));
        return;
    }
    if (a->len != PIV_PIN_LEN) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    uint16_t sw = check_secret(card, st->pin, &st->pin_left, st->pin_max, a->data);
    s->pin_verified = s->pin_fresh = sw == SW_OK;
    vt_reply_sw(r, sw);
}

static void do_change_reference(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    bool pin = a->p2 == PIV_REF_PIN;

    if (a->p1 != 0x00 || (a->p2 != PIV_REF_PIN && a->p2 != PIV_REF_PUK)) {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    if (a->len != 2 * PIV_PIN_LEN) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    uint8_t *stored = pin ? st->pin : st->puk;
    uint8_t *left = pin ? &st->pin_left : &st->puk_left;
    uint16_t sw = check_secret(card, stored, left, pin ? st->pin_max : st->puk_max, a->data);
    if (sw != SW_OK) {
        if (pin)
            st->session.pin_verified = st->session.pin_fresh = false;
        vt_reply_sw(r, sw);
        return;
    }
    size_t n = padded_length(a->data + PIV_PIN_LEN);
    if (n < 6) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    memcpy(stored, a->data + PIV_PIN_LEN, PIV_PIN_LEN);
    if (pin)
        st->pin_default = false;
    else
        st->puk_default = false;
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

static void do_reset_retry(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);

    if (a->p1 != 0x00 || a->p2 != PIV_REF_PIN) {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    if (a->len != 2 * PIV_PIN_LEN) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    uint16_t sw = check_secret(card, st->puk, &st->puk_left, st->puk_max, a->data);
    if (sw != SW_OK) {
        vt_reply_sw(r, sw);
        return;
    }
    if (padded_length(a->data + PIV_PIN_LEN) < 6) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    memcpy(st->pin, a->data + PIV_PIN_LEN, PIV_PIN_LEN);
    st->pin_left = st->pin_max;
    st->pin_default = false;
    st->session.pin_verified = st->session.pin_fresh = false;
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

/* The elements of a GENERAL AUTHENTICATE dynamic authentication template. */
struct ga_template {
    struct tlv witness, challenge, response, exponentiation; /* 80 81 82 85 */
    bool has_witness, has_challenge, has_response, has_exponentiation;
};

static bool parse_template(const uint8_t *data, size_t len, struct ga_template *t)
{
    struct tlv outer, e;
    memset(t, 0, sizeof(*t));
    if (tlv_next(&data, &len, &outer) != TLV_OK || outer.tag != 0x7C || len != 0)
        return false;
    const uint8_t *p = outer.value;
    size_t left = outer.len;
    int rc;
    while ((rc = tlv_next(&p, &left, &e)) == TLV_OK) {
        struct tlv *slot;
        bool *flag;
        switch (e.tag) {
        case 0x80:
            slot = &t->witness, flag = &t->has_witness;
            break;
        case 0x81:
            slot = &t->challenge, flag = &t->has_challenge;
            break;
        case 0x82:
            slot = &t->response, flag = &t->has_response;
            break;
        case 0x85:
            slot = &t->exponentiation, flag = &t->has_exponentiation;
            break;
        default:
            return false;
        }
        if (*flag)
            return false;
        *slot = e;
        *flag = true;
    }
    return rc == TLV_END;
}

static void reply_template(struct vt_reply *r, uint32_t tag, const uint8_t *value, size_t len)
{
    size_t m = tlv_begin(&r->data, 0x7C);
    tlv_add(&r->data, tag, value, len);
    tlv_end(&r->data, m);
    vt_reply_sw(r, SW_OK);
}

/* Management key authentication: mutual (witness then challenge) as
 * yubico-piv-tool does it, or external (challenge only) as OpenSC does. */
static void mgm_authenticate(struct vt_card *card, const struct vt_apdu *a, const struct ga_template *t,
                             struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    struct piv_session *s = &st->session;
    size_t block = vt_piv_mgm_block_len(st->mgm_alg);
    uint8_t buf[16];

    if (a->p1 != st->mgm_alg) {
        forget_mgm_auth(s);
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (t->has_witness && t->witness.len == 0 && !t->has_challenge && !t->has_response) {
        forget_mgm_auth(s);
        if (!vt_random(s->mgm_nonce, block) ||
            !vt_piv_mgm_encrypt(st->mgm_alg, st->mgm_key, st->mgm_len, s->mgm_nonce, buf, block)) {
            vt_reply_sw(r, SW_UNKNOWN);
            return;
        }
        s->mgm_nonce_len = block;
        s->mgm_step = MGM_WITNESS_SENT;
        reply_template(r, 0x80, buf, block);
        return;
    }
    if (t->has_witness && t->has_challenge && t->witness.len == block && t->challenge.len == block &&
        !t->has_response) {
        bool ok = s->mgm_step == MGM_WITNESS_SENT && CRYPTO_memcmp(t->witness.value, s->mgm_nonce, block) == 0;
        forget_mgm_auth(s);
        if (!ok) {
            vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
            return;
        }
        if (!vt_piv_mgm_encrypt(st->mgm_alg, st->mgm_key, st->mgm_len, t->challenge.value, buf, block)) {
            vt_reply_sw(r, SW_UNKNOWN);
            return;
        }
        s->mgm_authenticated = true;
        reply_template(r, 0x82, buf, block);
        return;
    }
    if (t->has_challenge && t->challenge.len == 0 && !t->has_witness && !t->has_response) {
        forget_mgm_auth(s);
        if (!vt_random(s->mgm_nonce, block)) {
            vt_reply_sw(r, SW_UNKNOWN);
            return;
        }
        s->mgm_nonce_len = block;
        s->mgm_step = MGM_CHALLENGE_SENT;
        reply_template(r, 0x81, s->mgm_nonce, block);
        return;
    }
    if (t->has_response && t->response.len == block && !t->has_witness && !t->has_challenge) {
        bool ok = s->mgm_step == MGM_CHALLENGE_SENT &&
                  vt_piv_mgm_encrypt(st->mgm_alg, st->mgm_key, st->mgm_len, s->mgm_nonce, buf, block) &&
                  CRYPTO_memcmp(buf, t->response.value, block) == 0;
        forget_mgm_auth(s);
        s->mgm_authenticated = ok;
        vt_reply_sw(r, ok ? SW_OK : SW_SECURITY_NOT_SATISFIED);
        return;
    }
    forget_mgm_auth(s);
    vt_reply_sw(r, SW_WRONG_DATA);
}

static bool pin_policy_allows(const struct piv_session *s, uint8_t policy)
{
    switch (policy) {
    case PIV_PIN_POLICY_NEVER:
        return true;
    case PIV_PIN_POLICY_ALWAYS:
        return s->pin_verified && s->pin_fresh;
    default:
        return s->pin_verified;
    }
}

static void key_operation(struct vt_card *card, const struct vt_apdu *a, const struct ga_template *t,
                          struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    struct piv_session *s = &st->session;
    struct piv_key *k = vt_piv_is_key_ref(a->p2) ? &st->keys[a->p2] : NULL;
    uint8_t out[PIV_MAX_RESULT];
    size_t outlen = 0;
    bool ok;

    if (!k) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (!k->pkey) {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    if (a->p1 != k->alg) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (!t->has_response || t->response.len != 0 || t->has_witness ||
        t->has_challenge == t->has_exponentiation) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    bool allowed = pin_policy_allows(s, k->pin_policy);
    s->pin_fresh = false; /* one VERIFY, one operation */
    if (!allowed) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    if (vt_piv_alg_is_rsa(k->alg))
        ok = t->has_challenge && vt_piv_rsa_raw(k->pkey, t->challenge.value, t->challenge.len, out, &outlen);
    else if (t->has_challenge)
        ok = vt_piv_ecdsa(k->pkey, t->challenge.value, t->challenge.len, out, &outlen);
    else
        ok = vt_piv_ecdh(k->pkey, t->exponentiation.value, t->exponentiation.len, out, &outlen);
    if (!ok) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    vt_card_private_key_op(card);
    reply_template(r, 0x82, out, outlen);
    OPENSSL_cleanse(out, sizeof(out));
}

static void do_general_authenticate(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct ga_template t;

    if (!parse_template(a->data, a->len, &t)) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    if (a->p2 == PIV_REF_MGM)
        mgm_authenticate(card, a, &t, r);
    else
        key_operation(card, a, &t, r);
}

/* Optional PIN (AA) and touch (AB) policy elements of GENERATE and IMPORT. */
static bool parse_policies(const struct tlv *aa, const struct tlv *ab, uint8_t ref, uint8_t *pin, uint8_t *touch)
{
    *pin = vt_piv_default_pin_policy(ref);
    *touch = PIV_TOUCH_POLICY_NEVER;
    if (aa && aa->len) {
        if (aa->len != 1 || aa->value[0] > PIV_PIN_POLICY_ALWAYS)
            return false;
        if (aa->value[0] != PIV_PIN_POLICY_DEFAULT)
            *pin = aa->value[0];
    }
    if (ab && ab->len) {
        if (ab->len != 1 || ab->value[0] > 3)
            return false;
        if (ab->value[0] != PIV_TOUCH_POLICY_DEFAULT)
            *touch = ab->value[0];
    }
    return true;
}

static void store_key(struct vt_card *card, uint8_t ref, EVP_PKEY *pkey, uint8_t alg, uint8_t pin, uint8_t touch,
                      uint8_t origin)
{
    struct piv_key *k = &state_of(card)->keys[ref];
    EVP_PKEY_free(k->pkey);
    k->pkey = pkey;
    k->alg = alg;
    k->pin_policy = pin;
    k->touch_policy = touch;
    k->origin = origin;
    card->dirty = true;
}

static bool writable_key_ref(uint8_t ref)
{
    return vt_piv_is_key_ref(ref) && ref != PIV_REF_ATTEST;
}

static void do_generate(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    struct tlv ac, alg, aa, ab;
    uint8_t pin, touch;

    if (!st->session.mgm_authenticated) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    if (a->p1 != 0x00 || !writable_key_ref(a->p2)) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (tlv_find(a->data, a->len, 0xAC, &ac) != TLV_OK || tlv_find(ac.value, ac.len, 0x80, &alg) != TLV_OK ||
        alg.len != 1 || (!vt_piv_alg_is_rsa(alg.value[0]) && !vt_piv_alg_is_ec(alg.value[0]))) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    bool has_aa = tlv_find(ac.value, ac.len, 0xAA, &aa) == TLV_OK;
    bool has_ab = tlv_find(ac.value, ac.len, 0xAB, &ab) == TLV_OK;
    if (!parse_policies(has_aa ? &aa : NULL, has_ab ? &ab : NULL, a->p2, &pin, &touch)) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    EVP_PKEY *pkey = vt_piv_generate(alg.value[0]);
    if (!pkey) {
        vt_reply_sw(r, SW_UNKNOWN);
        return;
    }
    store_key(card, a->p2, pkey, alg.value[0], pin, touch, PIV_ORIGIN_GENERATED);
    size_t m = tlv_begin(&r->data, 0x7F49);
    vt_piv_put_public_key(&r->data, pkey);
    tlv_end(&r->data, m);
    vt_reply_sw(r, SW_OK);
}

/* Finds an optional element; a malformed list makes the command fail. */
static bool find_opt(const uint8_t *data, size_t len, uint32_t tag, struct tlv *out, bool *present)
{
    int rc = tlv_find(data, len, tag, out);
    *present = rc == TLV_OK;
    return rc == TLV_OK || rc == TLV_NOT_FOUND;
}

static void do_import(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    struct tlv p, q, priv, aa, ab;
    bool has_p, has_q, has_priv, has_aa, has_ab;
    uint8_t pin, touch;
    EVP_PKEY *pkey = NULL;

    if (!st->session.mgm_authenticated) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    if (!writable_key_ref(a->p2) || (!vt_piv_alg_is_rsa(a->p1) && !vt_piv_alg_is_ec(a->p1))) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (tlv_validate(a->data, a->len, false, 0) != TLV_OK || !find_opt(a->data, a->len, 0x01, &p, &has_p) ||
        !find_opt(a->data, a->len, 0x02, &q, &has_q) || !find_opt(a->data, a->len, 0x06, &priv, &has_priv) ||
        !find_opt(a->data, a->len, 0xAA, &aa, &has_aa) || !find_opt(a->data, a->len, 0xAB, &ab, &has_ab) ||
        !parse_policies(has_aa ? &aa : NULL, has_ab ? &ab : NULL, a->p2, &pin, &touch)) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    size_t half = vt_piv_alg_key_bytes(a->p1) / 2;
    if (vt_piv_alg_is_rsa(a->p1) && has_p && has_q && p.len == half && q.len == half)
        pkey = vt_piv_import_rsa(p.value, p.len, q.value, q.len);
    else if (vt_piv_alg_is_ec(a->p1) && has_priv)
        pkey = vt_piv_import_ec(a->p1, priv.value, priv.len);
    if (!pkey || vt_piv_alg_of_pkey(pkey) != a->p1) {
        EVP_PKEY_free(pkey);
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    store_key(card, a->p2, pkey, a->p1, pin, touch, PIV_ORIGIN_IMPORTED);
    vt_reply_sw(r, SW_OK);
}

static void do_set_mgm_key(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);

    if (!st->session.mgm_authenticated) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    if (a->p1 != 0xFF || (a->p2 != 0xFF && a->p2 != 0xFE)) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (a->len < 3 || a->data[1] != PIV_REF_MGM || vt_piv_mgm_key_len(a->data[0]) == 0 ||
        a->data[2] != vt_piv_mgm_key_len(a->data[0]) || a->len != 3u + a->data[2]) {
        vt_reply_sw(r, SW_WRONG_DATA);
        return;
    }
    st->mgm_alg = a->data[0];
    st->mgm_len = a->data[2];
    memcpy(st->mgm_key, a->data + 3, st->mgm_len);
    st->mgm_default = false;
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

static void do_set_pin_retries(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);

    if (!st->session.mgm_authenticated || !st->session.pin_verified) {
        vt_reply_sw(r, SW_SECURITY_NOT_SATISFIED);
        return;
    }
    if (a->p1 < 1 || a->p1 > 15 || a->p2 < 1 || a->p2 > 15) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    /* As on a YubiKey, new counters come with the default PIN and PUK. */
    vt_piv_pad_pin("123456", st->pin);
    vt_piv_pad_pin("12345678", st->puk);
    st->pin_max = st->pin_left = a->p1;
    st->puk_max = st->puk_left = a->p2;
    st->pin_default = st->puk_default = true;
    st->session.pin_verified = st->session.pin_fresh = false;
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

static void do_get_metadata(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);
    struct tlv_builder *b = &r->data;

    if (a->p1 != 0x00) {
        vt_reply_sw(r, SW_INCORRECT_P1P2);
        return;
    }
    if (a->p2 == PIV_REF_PIN || a->p2 == PIV_REF_PUK) {
        bool pin = a->p2 == PIV_REF_PIN;
        tlv_add_u8(b, 0x01, 0xFF);
        tlv_add_u8(b, 0x05, pin ? st->pin_default : st->puk_default);
        uint8_t tries[2] = { pin ? st->pin_max : st->puk_max, pin ? st->pin_left : st->puk_left };
        tlv_add(b, 0x06, tries, 2);
    } else if (a->p2 == PIV_REF_MGM) {
        tlv_add_u8(b, 0x01, st->mgm_alg);
        tlv_add(b, 0x02, "\x00\x01", 2);
        tlv_add_u8(b, 0x05, st->mgm_default);
    } else if (vt_piv_is_key_ref(a->p2) && st->keys[a->p2].pkey) {
        const struct piv_key *k = &st->keys[a->p2];
        tlv_add_u8(b, 0x01, k->alg);
        uint8_t policy[2] = { k->pin_policy, k->touch_policy };
        tlv_add(b, 0x02, policy, 2);
        tlv_add_u8(b, 0x03, k->origin);
        size_t m = tlv_begin(b, 0x04);
        vt_piv_put_public_key(b, k->pkey);
        tlv_end(b, m);
    } else {
        vt_reply_sw(r, SW_REF_DATA_NOT_FOUND);
        return;
    }
    vt_reply_sw(r, SW_OK);
}

static void do_reset(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);

    /* Allowed only when both the PIN and the PUK are blocked. */
    if (st->pin_left != 0 || st->puk_left != 0) {
        vt_reply_sw(r, SW_CONDITIONS_NOT_SATISFIED);
        return;
    }
    vt_piv_state_factory_reset(st);
    vt_piv_power_on(card);
    card->dirty = true;
    vt_reply_sw(r, SW_OK);
}

void vt_piv_process(struct vt_card *card, const struct vt_apdu *a, struct vt_reply *r)
{
    struct piv_state *st = state_of(card);

    if ((a->cla & 0xEF) != 0x00) {
        vt_reply_sw(r, SW_CLA_NOT_SUPPORTED);
        return;
    }
    if (a->ins == INS_SELECT) {
        do_select(card, a, r);
        return;
    }
    if (!st->session.selected) {
        vt_reply_sw(r, SW_CONDITIONS_NOT_SATISFIED);
        return;
    }
    switch (a->ins) {
    case INS_GET_DATA:
        do_get_data(card, a, r);
        break;
    case INS_PUT_DATA:
        do_put_data(card, a, r);
        break;
    case INS_VERIFY:
        do_verify(card, a, r);
        break;
    case INS_CHANGE_REFERENCE:
        do_change_reference(card, a, r);
        break;
    case INS_RESET_RETRY:
        do_reset_retry(card, a, r);
        break;
    case INS_GENERAL_AUTHENTICATE:
        do_general_authenticate(card, a, r);
        break;
    case INS_GENERATE:
        do_generate(card, a, r);
        break;
    case INS_IMPORT_KEY:
        do_import(card, a, r);
        break;
    case INS_SET_MGM_KEY:
        do_set_mgm_key(card, a, r);
        break;
    case INS_SET_PIN_RETRIES:
        do_set_pin_retries(card, a, r);
        break;
    case INS_GET_METADATA:
        do_get_metadata(card, a, r);
        break;
    case INS_RESET:
        do_reset(card, a, r);
        break;
    case INS_GET_VERSION:
        tlv_add_raw(&r->data, st->version, sizeof(st->version));
        vt_reply_sw(r, SW_OK);
        break;
    case INS_GET_SERIAL: {
        uint8_t serial[4] = { (uint8_t)(st->serial >> 24), (uint8_t)(st->serial >> 16), (uint8_t)(st->serial >> 8),
                              (uint8_t)st->serial };
        tlv_add_raw(&r->data, serial, sizeof(serial));
        vt_reply_sw(r, SW_OK);
        break;
    }
    default:
        vt_reply_sw(r, SW_INS_NOT_SUPPORTED);
    }
}
