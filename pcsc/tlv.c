/* BER-TLV parsing and building; see tlv.h. */
#include "config.h"

#include "pcsc/tlv.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define TLV_MAX_TAG_BYTES 4
#define TLV_MAX_LENGTH 0xFFFFFFu

int tlv_next(const uint8_t **p, size_t *left, struct tlv *out)
{
    const uint8_t *s = *p;
    size_t n = *left, i = 0;

    if (n == 0)
        return TLV_END;

    /* Tag: first byte, then subsequent bytes while bit 8 is set when the
     * low five bits of the first byte are all ones. */
    uint8_t first = s[i++];
    if (first == 0x00 || first == 0xFF)
        return TLV_ERR_TAG;
    uint32_t tag = first;
    if ((first & 0x1F) == 0x1F) {
        for (;;) {
            if (i >= n)
                return TLV_ERR_TRUNCATED;
            if (i >= TLV_MAX_TAG_BYTES)
                return TLV_ERR_TAG;
            uint8_t b = s[i++];
            tag = (tag << 8) | b;
            if (!(b & 0x80))
                break;
        }
    }

    if (i >= n)
        return TLV_ERR_TRUNCATED;
    size_t len;
    uint8_t l0 = s[i++];
    if (l0 < 0x80) {
        len = l0;
    } else {
        unsigned count = l0 & 0x7F;
        if (count == 0 || count > 3)
            return TLV_ERR_LENGTH;
        if (n - i < count)
            return TLV_ERR_TRUNCATED;
        len = 0;
        for (unsigned k = 0; k < count; k++)
            len = (len << 8) | s[i++];
    }
    if (len > n - i)
        return TLV_ERR_TRUNCATED;

    out->tag = tag;
    out->constructed = (first & 0x20) != 0;
    out->value = s + i;
    out->len = len;
    *p = s + i + len;
    *left = n - i - len;
    return TLV_OK;
}

int tlv_find(const uint8_t *buf, size_t len, uint32_t tag, struct tlv *out)
{
    struct tlv t;
    int rc;

    while ((rc = tlv_next(&buf, &len, &t)) == TLV_OK) {
        if (t.tag == tag) {
            *out = t;
            return TLV_OK;
        }
    }
    return rc == TLV_END ? TLV_NOT_FOUND : rc;
}

int tlv_validate(const uint8_t *buf, size_t len, bool recursive, unsigned max_depth)
{
    struct tlv t;
    int rc;

    while ((rc = tlv_next(&buf, &len, &t)) == TLV_OK) {
        if (recursive && t.constructed) {
            if (max_depth == 0)
                return TLV_ERR_DEPTH;
            rc = tlv_validate(t.value, t.len, true, max_depth - 1);
            if (rc != TLV_OK)
                return rc;
        }
    }
    return rc == TLV_END ? TLV_OK : rc;
}

size_t tlv_tag_size(uint32_t tag)
{
    if (tag > 0xFFFFFF)
        return 4;
    if (tag > 0xFFFF)
        return 3;
    if (tag > 0xFF)
        return 2;
    return 1;
}

size_t tlv_length_size(size_t len)
{
    if (len < 0x80)
        return 1;
    if (len <= 0xFF)
        return 2;
    if (len <= 0xFFFF)
        return 3;
    if (len <= TLV_MAX_LENGTH)
        return 4;
    return 0;
}

static size_t put_length(uint8_t *out, size_t len)
{
    size_t n = tlv_length_size(len);

    switch (n) {
    case 1:
        out[0] = (uint8_t)len;
        break;
    case 2:
        out[0] = 0x81;
        out[1] = (uint8_t)len;
        break;
    case 3:
        out[0] = 0x82;
        out[1] = (uint8_t)(len >> 8);
        out[2] = (uint8_t)len;
        break;
    case 4:
        out[0] = 0x83;
        out[1] = (uint8_t)(len >> 16);
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        break;
    default:
        break;
    }
    return n;
}

size_t tlv_put_header(uint8_t *out, uint32_t tag, size_t len)
{
    size_t tn = tlv_tag_size(tag);

    if (tlv_length_size(len) == 0)
        return 0;
    for (size_t k = 0; k < tn; k++)
        out[k] = (uint8_t)(tag >> (8 * (tn - 1 - k)));
    return tn + put_length(out + tn, len);
}

void tlv_builder_init(struct tlv_builder *b)
{
    memset(b, 0, sizeof(*b));
}

void tlv_builder_free(struct tlv_builder *b)
{
    if (b->data) {
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    memset(b, 0, sizeof(*b));
}

int tlv_builder_error(const struct tlv_builder *b)
{
    return b->error;
}

/* Makes room for extra more bytes. Growth copies through a fresh buffer so
 * that the old one can be wiped (it may hold key material). */
static bool reserve(struct tlv_builder *b, size_t extra)
{
    if (b->error)
        return false;
    if (extra > TLV_MAX_LENGTH * 2u || b->len + extra > TLV_MAX_LENGTH * 2u) {
        b->error = TLV_ERR_RANGE;
        return false;
    }
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *d = malloc(cap);
    if (!d) {
        b->error = TLV_ERR_NOMEM;
        return false;
    }
    if (b->data) {
        memcpy(d, b->data, b->len);
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void tlv_add_raw(struct tlv_builder *b, const void *data, size_t len)
{
    if (len == 0 || !reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void tlv_add(struct tlv_builder *b, uint32_t tag, const void *value, size_t len)
{
    uint8_t hdr[TLV_MAX_HEADER_SIZE];
    size_t hn = tlv_put_header(hdr, tag, len);

    if (hn == 0) {
        if (!b->error)
            b->error = TLV_ERR_RANGE;
        return;
    }
    if (!reserve(b, hn + len))
        return;
    tlv_add_raw(b, hdr, hn);
    tlv_add_raw(b, value, len);
}

void tlv_add_u8(struct tlv_builder *b, uint32_t tag, uint8_t value)
{
    tlv_add(b, tag, &value, 1);
}

size_t tlv_begin(struct tlv_builder *b, uint32_t tag)
{
    uint8_t hdr[TLV_MAX_HEADER_SIZE];
    size_t hn = tlv_put_header(hdr, tag, 0);

    tlv_add_raw(b, hdr, hn);
    return b->len - 1; /* offset of the one-byte length placeholder */
}

void tlv_end(struct tlv_builder *b, size_t mark)
{
    if (b->error)
        return;
    if (mark >= b->len) {
        b->error = TLV_ERR_RANGE;
        return;
    }
    size_t content = b->len - mark - 1;
    size_t ln = tlv_length_size(content);
    if (ln == 0) {
        b->error = TLV_ERR_RANGE;
        return;
    }
    if (ln > 1) {
        if (!reserve(b, ln - 1))
            return;
        memmove(b->data + mark + ln, b->data + mark + 1, content);
        b->len += ln - 1;
    }
    put_length(b->data + mark, content);
}
