/* libFuzzer target for pcsc/tlv.c.
 *
 * Runs the parser over arbitrary input (tlv_next, tlv_find, tlv_validate)
 * and checks properties that must hold for every input, then rebuilds what
 * parsed with the builder and checks that it parses back the same. A
 * violated property aborts, which libFuzzer reports as a crash.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc/tlv.h"

#define MAX_DEPTH 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
    do {            \
        if (!(cond)) \
            abort(); \
    } while (0)

/* Walks the siblings of buf with tlv_next, checking every element lies
 * inside buf; returns the final result (TLV_END or an error). */
static int walk(const uint8_t *buf, size_t len, size_t *count)
{
    const uint8_t *p = buf;
    size_t left = len;
    struct tlv t;
    int rc;

    *count = 0;
    while ((rc = tlv_next(&p, &left, &t)) == TLV_OK) {
        CHECK(t.value >= buf && t.len <= len && t.value + t.len <= buf + len);
        CHECK(p == t.value + t.len && left == (size_t)(buf + len - p));
        CHECK(t.tag != 0 && tlv_tag_size(t.tag) <= 4);
        CHECK(t.constructed == (((t.tag >> (8 * (tlv_tag_size(t.tag) - 1))) & 0x20) != 0));
        /* The header tlv_put_header would write has the sizes it reports. */
        uint8_t hdr[8];
        size_t hn = tlv_put_header(hdr, t.tag, t.len);
        CHECK(hn == tlv_tag_size(t.tag) + tlv_length_size(t.len));
        (*count)++;
    }
    /* Errors leave the position where it was. */
    if (rc < 0)
        CHECK(left > 0 && p >= buf && p < buf + len);
    CHECK(rc == TLV_END || rc < 0);
    return rc;
}

/* Rebuilds the siblings of buf, which validate recursively up to depth:
 * constructed elements through tlv_begin/tlv_end around their rebuilt
 * content, primitive ones through tlv_add. */
static void rebuild(struct tlv_builder *b, const uint8_t *buf, size_t len, unsigned depth)
{
    struct tlv t;

    while (tlv_next(&buf, &len, &t) == TLV_OK) {
        if (t.constructed && depth > 0) {
            size_t mark = tlv_begin(b, t.tag);
            rebuild(b, t.value, t.len, depth - 1);
            tlv_end(b, mark);
        } else {
            tlv_add(b, t.tag, t.value, t.len);
        }
    }
}

/* Both buffers hold the same elements, recursively: same tags, same
 * primitive values (lengths may be encoded differently). */
static void same_tree(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, unsigned depth)
{
    struct tlv ta, tb;
    int ra, rb;

    for (;;) {
        ra = tlv_next(&a, &alen, &ta);
        rb = tlv_next(&b, &blen, &tb);
        CHECK(ra == rb);
        if (ra != TLV_OK)
            return;
        CHECK(ta.tag == tb.tag && ta.constructed == tb.constructed);
        if (ta.constructed && depth > 0) {
            same_tree(ta.value, ta.len, tb.value, tb.len, depth - 1);
        } else {
            CHECK(ta.len == tb.len);
            CHECK(ta.len == 0 || memcmp(ta.value, tb.value, ta.len) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count;
    int rc = walk(data, size, &count);

    /* tlv_validate agrees with walking the siblings. */
    CHECK(tlv_validate(data, size, false, 0) == (rc == TLV_END ? TLV_OK : rc));

    /* tlv_find: the first element is found as itself; a tag that no
     * well-formed input can contain is not found. */
    if (count > 0) {
        const uint8_t *p = data;
        size_t left = size;
        struct tlv first, found;
        CHECK(tlv_next(&p, &left, &first) == TLV_OK);
        CHECK(tlv_find(data, size, first.tag, &found) == TLV_OK);
        CHECK(found.value == first.value && found.len == first.len);
    }
    struct tlv none;
    int frc = tlv_find(data, size, 0, &none);
    CHECK(frc == TLV_NOT_FOUND || frc < 0);

    int vrc = tlv_validate(data, size, true, MAX_DEPTH);
    if (vrc != TLV_OK) {
        /* Recursive validation can only be stricter. */
        CHECK(vrc < 0);
        return 0;
    }
    CHECK(rc == TLV_END);

    /* Canonical rebuild: same tree, valid, and rebuilding it again gives
     * the same bytes. */
    struct tlv_builder b1, b2;
    tlv_builder_init(&b1);
    tlv_builder_init(&b2);
    rebuild(&b1, data, size, MAX_DEPTH);
    CHECK(tlv_builder_error(&b1) == 0);
    CHECK(tlv_validate(b1.data, b1.len, true, MAX_DEPTH) == TLV_OK);
    same_tree(data, size, b1.data, b1.len, MAX_DEPTH);
    rebuild(&b2, b1.data, b1.len, MAX_DEPTH);
    CHECK(tlv_builder_error(&b2) == 0);
    CHECK(b1.len == b2.len && (b1.len == 0 || memcmp(b1.data, b2.data, b1.len) == 0));
    /* The canonical form is never longer (lengths only get shorter). */
    CHECK(b1.len <= size);
    tlv_builder_free(&b1);
    tlv_builder_free(&b2);

    /* Flat round trip of every top-level element through tlv_add. */
    const uint8_t *p = data;
    size_t left = size;
    struct tlv t, back;
    while (tlv_next(&p, &left, &t) == TLV_OK) {
        struct tlv_builder e;
        tlv_builder_init(&e);
        tlv_add(&e, t.tag, t.value, t.len);
        CHECK(tlv_builder_error(&e) == 0);
        CHECK(e.len == tlv_tag_size(t.tag) + tlv_length_size(t.len) + t.len);
        const uint8_t *q = e.data;
        size_t qleft = e.len;
        CHECK(tlv_next(&q, &qleft, &back) == TLV_OK && qleft == 0);
        CHECK(back.tag == t.tag && back.constructed == t.constructed && back.len == t.len);
        CHECK(t.len == 0 || memcmp(back.value, t.value, t.len) == 0);
        tlv_builder_free(&e);
    }
    return 0;
}
