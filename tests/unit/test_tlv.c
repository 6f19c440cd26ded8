/* Unit tests of pcsc/tlv.c: strict BER-TLV parsing and building. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pcsc/tlv.h"
#include "tests/unit/testutil.h"

/* Parses the single element in hex s and checks that it uses all input. */
static int parse_one(const char *s, struct tlv *t)
{
    static uint8_t buf[64];
    size_t n = hex(s, buf, sizeof(buf));
    const uint8_t *p = buf;
    size_t left = n;
    int rc = tlv_next(&p, &left, t);

    if (rc == TLV_OK)
        assert_int_equal(left, 0);
    return rc;
}

static void test_short_tags(void **state)
{
    struct tlv t;

    assert_int_equal(parse_one("53 02 AA BB", &t), TLV_OK);
    assert_int_equal(t.tag, 0x53);
    assert_false(t.constructed);
    assert_int_equal(t.len, 2);
    assert_int_equal(t.value[0], 0xAA);
    assert_int_equal(t.value[1], 0xBB);

    assert_int_equal(parse_one("7C 00", &t), TLV_OK);
    assert_int_equal(t.tag, 0x7C);
    assert_true(t.constructed);
    assert_int_equal(t.len, 0);
}

static void test_multibyte_tags(void **state)
{
    struct tlv t;

    assert_int_equal(parse_one("5F 2D 01 65", &t), TLV_OK);
    assert_int_equal(t.tag, 0x5F2D);
    assert_false(t.constructed);
    assert_int_equal(t.len, 1);

    assert_int_equal(parse_one("7F 49 00", &t), TLV_OK);
    assert_int_equal(t.tag, 0x7F49);
    assert_true(t.constructed);

    /* PIV data object tags are three bytes. */
    assert_int_equal(parse_one("5F C1 05 01 00", &t), TLV_OK);
    assert_int_equal(t.tag, 0x5FC105);
    assert_int_equal(t.len, 1);

    assert_int_equal(parse_one("BF 81 82 03 00", &t), TLV_OK);
    assert_int_equal(t.tag, 0xBF818203u);
    assert_true(t.constructed);
}

static void test_tag_too_long(void **state)
{
    struct tlv t;

    assert_int_equal(parse_one("1F 81 82 83 04 00", &t), TLV_ERR_TAG);
    assert_int_equal(parse_one("5F 81 81 81 81 01 00", &t), TLV_ERR_TAG);
}

static void test_padding_tags(void **state)
{
    struct tlv t;

    assert_int_equal(parse_one("00 00", &t), TLV_ERR_TAG);
    assert_int_equal(parse_one("FF 01 00", &t), TLV_ERR_TAG);
}

static void test_truncated(void **state)
{
    struct tlv t;

    assert_int_equal(parse_one("5F", &t), TLV_ERR_TRUNCATED);       /* tag cut */
    assert_int_equal(parse_one("5F C1", &t), TLV_ERR_TRUNCATED);    /* tag cut */
    assert_int_equal(parse_one("53", &t), TLV_ERR_TRUNCATED);       /* no length */
    assert_int_equal(parse_one("5F C1 05", &t), TLV_ERR_TRUNCATED); /* no length */
    assert_int_equal(parse_one("53 81", &t), TLV_ERR_TRUNCATED);    /* length cut */
    assert_int_equal(parse_one("53 82 01", &t), TLV_ERR_TRUNCATED);
    assert_int_equal(parse_one("53 83 00 01", &t), TLV_ERR_TRUNCATED);
    assert_int_equal(parse_one("53 05 01 02 03 04", &t), TLV_ERR_TRUNCATED); /* value cut */
    assert_int_equal(parse_one("53 81 80 00", &t), TLV_ERR_TRUNCATED);
    assert_int_equal(parse_one("53 83 FF FF FF 00", &t), TLV_ERR_TRUNCATED);
}

static void test_bad_length_forms(void **state)
{
    struct tlv t;

    assert_int_equal(parse_one("53 80 00 00", &t), TLV_ERR_LENGTH);          /* indefinite */
    assert_int_equal(parse_one("53 84 00 00 00 01 AA", &t), TLV_ERR_LENGTH); /* 4 length bytes */
    assert_int_equal(parse_one("53 FF 00", &t), TLV_ERR_LENGTH);
}

/* Long-form lengths 81, 82 and 83 at their boundaries. */
static void check_long_length(const uint8_t *hdr, size_t hdr_len, size_t value_len)
{
    size_t n = hdr_len + value_len;
    uint8_t *buf = pattern(n, 3);
    const uint8_t *p = buf;
    size_t left = n;
    struct tlv t;

    memcpy(buf, hdr, hdr_len);
    assert_int_equal(tlv_next(&p, &left, &t), TLV_OK);
    assert_int_equal(t.tag, 0x53);
    assert_int_equal(t.len, value_len);
    assert_ptr_equal(t.value, buf + hdr_len);
    assert_int_equal(left, 0);
    assert_ptr_equal(p, buf + n);

    /* One byte short of the value. */
    p = buf;
    left = n - 1;
    assert_int_equal(tlv_next(&p, &left, &t), TLV_ERR_TRUNCATED);
    free(buf);
}

static void test_long_lengths(void **state)
{
    check_long_length((const uint8_t[]){ 0x53, 0x81, 0x80 }, 3, 0x80);
    check_long_length((const uint8_t[]){ 0x53, 0x81, 0xFF }, 3, 0xFF);
    check_long_length((const uint8_t[]){ 0x53, 0x82, 0x01, 0x00 }, 4, 0x100);
    check_long_length((const uint8_t[]){ 0x53, 0x82, 0xFF, 0xFF }, 4, 0xFFFF);
    check_long_length((const uint8_t[]){ 0x53, 0x83, 0x01, 0x00, 0x00 }, 5, 0x10000);
    check_long_length((const uint8_t[]){ 0x53, 0x83, 0x01, 0x23, 0x45 }, 5, 0x12345);
}

static void test_next_iterates_and_keeps_position_on_error(void **state)
{
    uint8_t buf[32];
    size_t n = hex("4F 01 AA 5F 2D 00 53 05 01", buf, sizeof(buf));
    const uint8_t *p = buf;
    size_t left = n;
    struct tlv t;

    assert_int_equal(tlv_next(&p, &left, &t), TLV_OK);
    assert_int_equal(t.tag, 0x4F);
    assert_int_equal(tlv_next(&p, &left, &t), TLV_OK);
    assert_int_equal(t.tag, 0x5F2D);
    assert_int_equal(t.len, 0);
    const uint8_t *before = p;
    assert_int_equal(tlv_next(&p, &left, &t), TLV_ERR_TRUNCATED);
    assert_ptr_equal(p, before);
    assert_int_equal(left, 3);

    left = 0;
    assert_int_equal(tlv_next(&p, &left, &t), TLV_END);
}

static void test_find(void **state)
{
    uint8_t buf[32];
    size_t n = hex("4F 01 AA 7C 03 53 01 BB 53 02 CC DD", buf, sizeof(buf));
    struct tlv t;

    assert_int_equal(tlv_find(buf, n, 0x53, &t), TLV_OK);
    /* The top-level 53, not the one inside 7C. */
    assert_int_equal(t.len, 2);
    assert_int_equal(t.value[0], 0xCC);

    assert_int_equal(tlv_find(buf, n, 0x7C, &t), TLV_OK);
    assert_int_equal(t.len, 3);
    assert_int_equal(tlv_find(buf, n, 0x99, &t), TLV_NOT_FOUND);
    assert_int_equal(tlv_find(buf, 0, 0x4F, &t), TLV_NOT_FOUND);

    /* Malformed siblings before the tag are reported. */
    n = hex("4F 05 AA 53 01 00", buf, sizeof(buf));
    assert_int_equal(tlv_find(buf, n, 0x53, &t), TLV_ERR_TRUNCATED);
    n = hex("4F 80 53 01 00", buf, sizeof(buf));
    assert_int_equal(tlv_find(buf, n, 0x53, &t), TLV_ERR_LENGTH);
}

static void test_validate(void **state)
{
    uint8_t buf[64];
    size_t n;

    n = hex("7C 08 82 00 81 04 01 02 03 04 53 00", buf, sizeof(buf));
    assert_int_equal(tlv_validate(buf, n, false, 0), TLV_OK);
    assert_int_equal(tlv_validate(buf, n, true, 4), TLV_OK);
    assert_int_equal(tlv_validate(buf, 0, true, 4), TLV_OK);

    /* Garbage inside a constructed element: only seen recursively. */
    n = hex("7C 03 82 05 00 53 00", buf, sizeof(buf));
    assert_int_equal(tlv_validate(buf, n, false, 4), TLV_OK);
    assert_int_equal(tlv_validate(buf, n, true, 4), TLV_ERR_TRUNCATED);
    n = hex("7C 02 82 80", buf, sizeof(buf));
    assert_int_equal(tlv_validate(buf, n, true, 4), TLV_ERR_LENGTH);

    /* Trailing bytes that are not an element. */
    n = hex("53 01 00 53", buf, sizeof(buf));
    assert_int_equal(tlv_validate(buf, n, false, 4), TLV_ERR_TRUNCATED);
    n = hex("53 01 00 00", buf, sizeof(buf));
    assert_int_equal(tlv_validate(buf, n, false, 4), TLV_ERR_TAG);

    /* A primitive element's content is not parsed, even if it looks bad. */
    n = hex("53 02 7C 05", buf, sizeof(buf));
    assert_int_equal(tlv_validate(buf, n, true, 4), TLV_OK);
}

static void test_validate_depth_limit(void **state)
{
    uint8_t buf[32];
    /* Three nested constructed elements around a primitive one. */
    size_t n = hex("7C 07 A1 05 A2 03 53 01 00", buf, sizeof(buf));

    assert_int_equal(tlv_validate(buf, n, true, 3), TLV_OK);
    assert_int_equal(tlv_validate(buf, n, true, 2), TLV_ERR_DEPTH);
    assert_true(tlv_validate(buf, n, true, 0) < 0);
    /* Non-recursive validation does not care about depth. */
    assert_int_equal(tlv_validate(buf, n, false, 0), TLV_OK);

    /* 50 levels of nesting: refused by a limit of 16, accepted by 1000. */
    uint8_t deep[100];
    size_t d = sizeof(deep) / 2;
    for (size_t i = 0; i < d; i++) {
        deep[2 * i] = 0x7C;
        deep[2 * i + 1] = (uint8_t)(sizeof(deep) - 2 * i - 2);
    }
    assert_true(tlv_validate(deep, sizeof(deep), true, 16) < 0);
    assert_int_equal(tlv_validate(deep, sizeof(deep), true, 1000), TLV_OK);
}

static void test_sizes(void **state)
{
    assert_int_equal(tlv_tag_size(0x53), 1);
    assert_int_equal(tlv_tag_size(0x5F2D), 2);
    assert_int_equal(tlv_tag_size(0x5FC105), 3);
    assert_int_equal(tlv_tag_size(0xBF818203u), 4);

    assert_int_equal(tlv_length_size(0), 1);
    assert_int_equal(tlv_length_size(0x7F), 1);
    assert_int_equal(tlv_length_size(0x80), 2);
    assert_int_equal(tlv_length_size(0xFF), 2);
    assert_int_equal(tlv_length_size(0x100), 3);
    assert_int_equal(tlv_length_size(0xFFFF), 3);
    assert_int_equal(tlv_length_size(0x10000), 4);
    assert_int_equal(tlv_length_size(0xFFFFFF), 4);
    assert_int_equal(tlv_length_size(0x1000000), 0);
}

static void test_put_header(void **state)
{
    uint8_t out[TLV_MAX_HEADER_SIZE], want[TLV_MAX_HEADER_SIZE];
    size_t n;

    n = tlv_put_header(out, 0x53, 5);
    assert_int_equal(n, hex("53 05", want, sizeof(want)));
    assert_memory_equal(out, want, n);

    n = tlv_put_header(out, 0x5FC105, 0x80);
    assert_int_equal(n, hex("5F C1 05 81 80", want, sizeof(want)));
    assert_memory_equal(out, want, n);

    /* The longest header: 4 tag bytes and 83 xx xx xx. */
    n = tlv_put_header(out, 0xBF818203u, 0xFFFFFF);
    assert_int_equal(n, hex("BF 81 82 03 83 FF FF FF", want, sizeof(want)));
    assert_memory_equal(out, want, n);

    assert_int_equal(tlv_put_header(out, 0x53, 0x1000000), 0);
}

static void test_builder_add(void **state)
{
    struct tlv_builder b;
    uint8_t want[32];
    size_t n;

    tlv_builder_init(&b);
    tlv_add(&b, 0x4F, "\xA0\x00", 2);
    tlv_add_u8(&b, 0x5FC102, 0x7E);
    tlv_add(&b, 0x53, NULL, 0);
    tlv_add_raw(&b, "\x99", 1);
    assert_int_equal(tlv_builder_error(&b), 0);
    n = hex("4F 02 A0 00 5F C1 02 01 7E 53 00 99", want, sizeof(want));
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    tlv_builder_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

/* Adds an element of value_len bytes and checks that it parses back. */
static void check_add_round_trip(uint32_t tag, size_t value_len, size_t hdr_len)
{
    struct tlv_builder b;
    uint8_t *value = pattern(value_len, 5);
    struct tlv t;

    tlv_builder_init(&b);
    tlv_add(&b, tag, value, value_len);
    assert_int_equal(tlv_builder_error(&b), 0);
    assert_int_equal(b.len, hdr_len + value_len);

    const uint8_t *p = b.data;
    size_t left = b.len;
    assert_int_equal(tlv_next(&p, &left, &t), TLV_OK);
    assert_int_equal(left, 0);
    assert_int_equal(t.tag, tag);
    assert_int_equal(t.len, value_len);
    assert_memory_equal(t.value, value, value_len);
    tlv_builder_free(&b);
    free(value);
}

static void test_builder_round_trip(void **state)
{
    check_add_round_trip(0x53, 0, 2);
    check_add_round_trip(0x53, 127, 2);
    check_add_round_trip(0x53, 128, 3);
    check_add_round_trip(0x5FC105, 255, 5);
    check_add_round_trip(0x7F49, 256, 5);
    check_add_round_trip(0xBF818203u, 70000, 8);
}

/* tlv_begin/tlv_end: the length placeholder grows as the content does. */
static void check_begin_end(size_t content_len, const char *hdr_hex)
{
    struct tlv_builder b;
    uint8_t hdr[8];
    size_t hn = hex(hdr_hex, hdr, sizeof(hdr));
    uint8_t *content = pattern(content_len, 9);

    tlv_builder_init(&b);
    tlv_add_raw(&b, "\x01", 1); /* something before, to check offsets */
    size_t mark = tlv_begin(&b, 0x7C);
    tlv_add_raw(&b, content, content_len);
    tlv_end(&b, mark);
    tlv_add_raw(&b, "\x02", 1); /* and after */
    assert_int_equal(tlv_builder_error(&b), 0);
    assert_int_equal(b.len, 1 + hn + content_len + 1);
    assert_int_equal(b.data[0], 0x01);
    assert_memory_equal(b.data + 1, hdr, hn);
    assert_memory_equal(b.data + 1 + hn, content, content_len);
    assert_int_equal(b.data[b.len - 1], 0x02);
    tlv_builder_free(&b);
    free(content);
}

static void test_begin_end_growth(void **state)
{
    check_begin_end(0, "7C 00");
    check_begin_end(10, "7C 0A");
    check_begin_end(127, "7C 7F");
    check_begin_end(128, "7C 81 80");
    check_begin_end(255, "7C 81 FF");
    check_begin_end(256, "7C 82 01 00");
    check_begin_end(300, "7C 82 01 2C");
    check_begin_end(70000, "7C 83 01 11 70");
}

static void test_begin_end_nested(void **state)
{
    struct tlv_builder b;
    uint8_t *v = pattern(200, 1);
    struct tlv outer, inner, t;

    /* 7C { 82 [200] , A1 { 53 [200] } }: the inner element passes 127,
     * the outer one 255, and both are fixed up after their content. */
    tlv_builder_init(&b);
    size_t m1 = tlv_begin(&b, 0x7C);
    tlv_add(&b, 0x82, v, 200);
    size_t m2 = tlv_begin(&b, 0xA1);
    tlv_add(&b, 0x53, v, 200);
    tlv_end(&b, m2);
    tlv_end(&b, m1);
    assert_int_equal(tlv_builder_error(&b), 0);

    /* 82 81 C8 [200] = 203; 53 81 C8 [200] = 203; A1 81 CB [203] = 206. */
    assert_int_equal(b.len, 4 + 203 + 206);
    assert_int_equal(tlv_validate(b.data, b.len, true, 4), TLV_OK);
    assert_int_equal(tlv_find(b.data, b.len, 0x7C, &outer), TLV_OK);
    assert_int_equal(outer.len, 409);
    assert_int_equal(b.data[1], 0x82);
    assert_int_equal(b.data[2], 0x01);
    assert_int_equal(b.data[3], 0x99);
    assert_int_equal(tlv_find(outer.value, outer.len, 0x82, &t), TLV_OK);
    assert_int_equal(t.len, 200);
    assert_memory_equal(t.value, v, 200);
    assert_int_equal(tlv_find(outer.value, outer.len, 0xA1, &inner), TLV_OK);
    assert_int_equal(inner.len, 203);
    assert_int_equal(tlv_find(inner.value, inner.len, 0x53, &t), TLV_OK);
    assert_memory_equal(t.value, v, 200);
    tlv_builder_free(&b);
    free(v);
}

static void test_sticky_errors(void **state)
{
    struct tlv_builder b;
    static const uint8_t big[1]; /* never read: the length is refused first */

    tlv_builder_init(&b);
    tlv_add(&b, 0x53, "\x01", 1);
    tlv_add(&b, 0x53, big, 0x1000000); /* too long to encode */
    assert_int_equal(tlv_builder_error(&b), TLV_ERR_RANGE);
    size_t len = b.len;
    assert_int_equal(len, 3);
    tlv_add(&b, 0x53, "\x02", 1);
    tlv_add_raw(&b, "\x03", 1);
    tlv_add_u8(&b, 0x54, 4);
    size_t mark = tlv_begin(&b, 0x7C);
    tlv_end(&b, mark);
    /* Nothing was added or rewritten. */
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, "\x53\x01\x01", 3);
    assert_int_equal(tlv_builder_error(&b), TLV_ERR_RANGE);
    tlv_builder_free(&b);

    /* tlv_end with a mark that was never returned by tlv_begin. */
    tlv_builder_init(&b);
    tlv_add_raw(&b, "\x01\x02", 2);
    tlv_end(&b, 5);
    assert_int_equal(tlv_builder_error(&b), TLV_ERR_RANGE);
    tlv_add_raw(&b, "\x03", 1);
    assert_int_equal(b.len, 2);
    tlv_builder_free(&b);

    /* The first error is the one kept. */
    tlv_builder_init(&b);
    tlv_end(&b, 0);
    assert_int_equal(tlv_builder_error(&b), TLV_ERR_RANGE);
    tlv_add(&b, 0x53, big, 0x1000000);
    assert_int_equal(tlv_builder_error(&b), TLV_ERR_RANGE);
    tlv_builder_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_tags),
        cmocka_unit_test(test_multibyte_tags),
        cmocka_unit_test(test_tag_too_long),
        cmocka_unit_test(test_padding_tags),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_length_forms),
        cmocka_unit_test(test_long_lengths),
        cmocka_unit_test(test_next_iterates_and_keeps_position_on_error),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_validate_depth_limit),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_put_header),
        cmocka_unit_test(test_builder_add),
        cmocka_unit_test(test_builder_round_trip),
        cmocka_unit_test(test_begin_end_growth),
        cmocka_unit_test(test_begin_end_nested),
        cmocka_unit_test(test_sticky_errors),
    };
    return cmocka_run_group_tests_name("tlv", tests, NULL, NULL);
}
