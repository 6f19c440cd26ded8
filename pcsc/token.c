/* Token edges: the parts common to every edge; see token.h. */
#include "config.h"

#include "pcsc/token.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* Without an ATR hint, the government token first: it is what kyso's users hold. */
static const struct token_edge *const edges[] = {
    &token_edge_vgca,
    &token_edge_piv,
};

/* Extended length is announced in the ATR's historical bytes: the third
 * byte of the card capabilities (compact TLV tag 7, length 3), bit 7. */
static bool atr_says_extended_length(const uint8_t *atr, size_t len)
{
    if (len < 2)
        return false;
    size_t i = 1;
    uint8_t td = atr[i++];
    size_t hist = td & 0x0F;
    /* Skip the interface bytes TAi..TDi. */
    for (;;) {
        uint8_t y = td >> 4;
        size_t n = (size_t)((y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1));
        bool more = y & 8;
        if (i + n + (more ? 1 : 0) > len)
            return false;
        i += n;
        if (!more)
            break;
        td = atr[i++];
    }
    if (i + hist > len || hist == 0)
        return false;
    const uint8_t *h = atr + i;
    /* Category indicator 80: compact TLV objects follow. */
    if (h[0] != 0x80)
        return false;
    for (size_t k = 1; k < hist;) {
        uint8_t tag = h[k] >> 4, l = h[k] & 0x0F;
        if (k + 1 + l > hist)
            return false;
        if (tag == 7 && l == 3)
            return (h[k + 3] & 0x40) != 0;
        k += 1 + l;
    }
    return false;
}

void token_copy_text(char *dst, size_t dstlen, const char *src)
{
    size_t n = strlen(src);
    if (dstlen == 0)
        return;
    if (n >= dstlen) {
        n = dstlen - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int token_transceive(struct token *t, const struct pcsc_apdu *a, uint8_t *resp, size_t cap, size_t *len,
                     uint16_t *sw)
{
    t->apdus++;
    return pcsc_apdu_transceive(&t->transport, a, resp, cap, len, sw);
}

int token_transceive_alloc(struct token *t, const struct pcsc_apdu *a, uint8_t **resp, size_t *len, uint16_t *sw)
{
    t->apdus++;
    return pcsc_apdu_transceive_alloc(&t->transport, a, resp, len, sw);
}

int token_open(struct token *t, struct pcsc_card *card)
{
    struct pcsc_card_status st;
    struct pcsc_transport transport;

    memset(t, 0, sizeof(*t));
    int rc = pcsc_card_status(card, &st);
    if (rc != PCSC_OK)
        return rc;
    if (!st.present)
        return PCSC_E_NO_CARD;
    pcsc_card_transport(card, atr_says_extended_length(st.atr, st.atr_len), &transport);
    rc = token_open_transport(t, &transport, st.atr, st.atr_len);
    t->card = card;
    return rc;
}

int token_open_transport(struct token *t, const struct pcsc_transport *transport, const uint8_t *atr, size_t atr_len)
{
    int rc = PCSC_OK;

    memset(t, 0, sizeof(*t));
    t->transport = *transport;
    /* Edges that know the ATR are asked first: a card then costs no APDU
     * spent on the applications it does not have. */
    const struct token_edge *order[sizeof(edges) / sizeof(edges[0])];
    size_t n = 0;
    for (size_t pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
            bool hinted = edges[i]->atr_hint && edges[i]->atr_hint(atr, atr_len);
            if (hinted == (pass == 0))
                order[n++] = edges[i];
        }
    for (size_t i = 0; i < n; i++) {
        t->edge = order[i];
        rc = t->edge->probe(t);
        if (rc == PCSC_OK) {
            rc = t->edge->identify(t, &t->info, t->identity);
            if (rc != PCSC_OK)
                token_close(t);
            return rc;
        }
        if (!pcsc_status_is_card_error(rc))
            break; /* the card or reader failed: no point asking the next edge */
    }
    t->edge = NULL;
    return rc == PCSC_OK ? PCSC_E_NOT_SUPPORTED : rc;
}

int token_reconnect(struct token *t, bool reset)
{
    if (!t->card)
        return PCSC_E_NOT_SUPPORTED;
    int rc = pcsc_reconnect(t->card, reset);
    if (rc == PCSC_OK)
        t->transport.protocol = t->card->protocol; /* it may change with the reset */
    return rc;
}

int token_reselect(struct token *t)
{
    return t->edge ? t->edge->probe(t) : PCSC_E_NOT_SUPPORTED;
}

static void free_contents(struct token *t)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        EVP_PKEY_free(t->keys[i].pub);
        free(t->keys[i].cert);
    }
    for (size_t i = 0; i < t->nobjects; i++) {
        if (t->objects[i].value)
            OPENSSL_clear_free(t->objects[i].value, t->objects[i].len);
    }
    for (size_t i = 0; i < t->ncerts; i++)
        free(t->certs[i].der);
    t->nkeys = t->nobjects = t->ncerts = 0;
    t->keys_refused = 0;
    t->enumerated = false;
}

void token_close(struct token *t)
{
    free_contents(t);
    free(t->edge_state);
    t->edge_state = NULL;
    t->edge = NULL;
}

/* A key is only as large as what the edge and the layers above it are
 * built for: the key's size comes from a certificate or the card's own
 * answer, so a key outside the edge's range (an RSA modulus over 4096 bits
 * would not fit the buffers of a signature) is not offered at all. */
static bool key_size_usable(const struct token_edge *e, const struct token_key *k)
{
    if (k->type == TOKEN_KEY_RSA)
        return k->bits >= e->rsa_min_bits && k->bits <= e->rsa_max_bits && k->bits <= TOKEN_MAX_RSA_BITS;
    return k->bits == 256 || k->bits == 384;
}

/* An EC public key comes from the card as a point (PIV metadata, a
 * certificate): one that is not a point of the curve, or is its point at
 * infinity, is no public key of any private key (P-256 and P-384 have
 * prime order: the quick check is the whole check). RSA moduli are taken
 * as they come (only their size matters to the layers above). */
static bool public_key_valid(const struct token_key *k)
{
    if (k->type != TOKEN_KEY_EC)
        return true;
    EVP_PKEY_CTX *ctx = k->pub ? EVP_PKEY_CTX_new(k->pub, NULL) : NULL;
    bool ok = ctx && EVP_PKEY_public_check_quick(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void drop_unusable_keys(struct token *t)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->nkeys; i++) {
        struct token_key *k = &t->keys[i];
        if (!key_size_usable(t->edge, k) || !public_key_valid(k)) {
            EVP_PKEY_free(k->pub);
            free(k->cert);
            t->keys_refused++;
            continue;
        }
        if (kept != i)
            t->keys[kept] = *k;
        kept++;
    }
    for (size_t i = kept; i < t->nkeys; i++)
        memset(&t->keys[i], 0, sizeof(t->keys[i]));
    t->nkeys = kept;
}

int token_enumerate(struct token *t)
{
    if (t->enumerated)
        return PCSC_OK;
    if (!t->edge)
        return PCSC_E_NOT_SUPPORTED;
    free_contents(t);
    int rc = t->edge->enumerate(t);
    if (rc != PCSC_OK) {
        free_contents(t);
        return rc;
    }
    drop_unusable_keys(t);
    t->enumerated = true;
    return PCSC_OK;
}

STACK_OF(X509) *token_ca_certificates(const struct token *t)
{
    STACK_OF(X509) *all = sk_X509_new_null();
    for (size_t i = 0; all && i < t->ncerts; i++) {
        const unsigned char *p = t->certs[i].der;
        X509 *x = d2i_X509(NULL, &p, (long)t->certs[i].len);
        if (x && !sk_X509_push(all, x))
            X509_free(x);
    }
    return all;
}

int token_key_details(struct token *t, struct token_key *k)
{
    if (!k->details_pending)
        return PCSC_OK;
    int rc = t->edge && t->edge->key_details ? t->edge->key_details(t, k) : PCSC_OK;
    if (rc == PCSC_OK)
        k->details_pending = false;
    return rc;
}

struct token_key *token_find_key(struct token *t, uint8_t ref)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (t->keys[i].ref == ref)
            return &t->keys[i];
    return NULL;
}
