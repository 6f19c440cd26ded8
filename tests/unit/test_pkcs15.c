/* Unit tests of pcsc/pkcs15.c: strict DER parsing of PKCS#15 / ISO/IEC
 * 7816-15 files as the government token holds them (TOKENS.md §1).
 *
 * Vectors are written in a small notation that computes DER lengths, so
 * that they stay readable and can be varied:
 *
 *   30{ ... }        constructed element with tag 30 and the given content
 *   04:3F00DF10      primitive element with hex content
 *   04:01%19         ... followed by 19 pattern bytes
 *   0C'VGCA Token'   primitive element with text content
 *   30#82{ ... }     length written in the long form 82 (not DER)
 *   0C+1'abc'        length one more than the content (overruns)
 *   =0000FF          raw bytes (padding, broken headers)
 *
 * With KYSO_P15_CORPUS=DIR the test also writes every vector to DIR: that
 * is how tests/fuzz/corpus/pkcs15 is made. Under make check (KYSO_SRCDIR
 * set) it checks that the corpus still holds exactly these vectors.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pcsc/pkcs15.h"
#include "pcsc/tlv.h"
#include "tests/unit/testutil.h"

#define DER_CAP 16384

/* ---- the vector notation ---- */

static void skip_ws(const char **s)
{
    while (**s == ' ' || **s == '\n')
        (*s)++;
}

static size_t hexrun(const char **s, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (hexval((*s)[0]) >= 0 && hexval((*s)[1]) >= 0) {
        assert_true(n < cap);
        out[n++] = (uint8_t)(hexval((*s)[0]) << 4 | hexval((*s)[1]));
        *s += 2;
    }
    return n;
}

static size_t der_item(const char **s, uint8_t *out, size_t cap);

static size_t der_item(const char **s, uint8_t *out, size_t cap)
{
    uint8_t tag[4], form = 0;
    size_t tn, vn = 0;
    long adjust = 0;
    uint8_t *val;

    skip_ws(s);
    if (**s == '=') {
        (*s)++;
        return hexrun(s, out, cap);
    }
    tn = hexrun(s, tag, sizeof(tag));
    if (tn == 0)
        fail_msg("bad DER spec at \"%s\"", *s);
    if (**s == '#') {
        (*s)++;
        assert_int_equal(hexrun(s, &form, 1), 1);
        assert_true(form >= 0x81 && form <= 0x84);
    }
    if (**s == '+' || **s == '-') {
        adjust = (**s == '+' ? 1 : -1) * (long)((*s)[1] - '0');
        *s += 2;
    }
    val = malloc(DER_CAP);
    assert_non_null(val);
    switch (**s) {
    case '{':
        (*s)++;
        for (;;) {
            skip_ws(s);
            if (**s == '}') {
                (*s)++;
                break;
            }
            assert_true(**s != '\0');
            vn += der_item(s, val + vn, DER_CAP - vn);
        }
        break;
    case ':':
        (*s)++;
        vn = hexrun(s, val, DER_CAP);
        if (**s == '%') {
            char *endp;
            unsigned long n = strtoul(*s + 1, &endp, 10);
            assert_true(vn + n <= DER_CAP);
            for (unsigned long i = 0; i < n; i++)
                val[vn++] = (uint8_t)(i * 37 + 11);
            *s = endp;
        }
        break;
    case '\'':
        (*s)++;
        while (**s != '\'') {
            assert_true(**s != '\0');
            val[vn++] = (uint8_t) * (*s)++;
        }
        (*s)++;
        break;
    default:
        fail_msg("bad DER spec at \"%s\"", *s);
    }

    long declared = (long)vn + adjust;
    assert_true(declared >= 0);
    uint8_t hdr[10];
    size_t hn = tn;
    memcpy(hdr, tag, tn);
    /* Length octets after the first: 0 for the short form. */
    size_t lbytes = 3;
    if (form)
        lbytes = form & 0x7F;
    else if (declared < 0x80)
        lbytes = 0;
    else if (declared <= 0xFF)
        lbytes = 1;
    else if (declared <= 0xFFFF)
        lbytes = 2;
    if (lbytes == 0) {
        hdr[hn++] = (uint8_t)declared;
    } else {
        hdr[hn++] = (uint8_t)(0x80 | lbytes);
        for (size_t k = lbytes; k-- > 0;)
            hdr[hn++] = (uint8_t)((unsigned long)declared >> (8 * k));
    }
    assert_true(hn + vn <= cap);
    memcpy(out, hdr, hn);
    memcpy(out + hn, val, vn);
    free(val);
    return hn + vn;
}

/* Vectors live in exactly-sized heap blocks (so that AddressSanitizer sees
 * any read past the end) and are freed after each test. */
static uint8_t **pool;
static size_t pooled, pool_cap;

static uint8_t *keep(const uint8_t *data, size_t n)
{
    if (pooled == pool_cap) {
        size_t cap = pool_cap ? pool_cap * 2 : 256;
        uint8_t **grown = realloc(pool, cap * sizeof(*pool));
        assert_non_null(grown);
        pool = grown;
        pool_cap = cap;
    }
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    if (n)
        memcpy(p, data, n);
    pool[pooled++] = p;
    return p;
}

static int free_pool(void **state)
{
    (void)state;
    while (pooled > 0)
        free(pool[--pooled]);
    free(pool);
    pool = NULL;
    pool_cap = 0;
    return 0;
}

struct vec {
    const uint8_t *p;
    size_t n;
};

static struct vec V(const char *spec)
{
    static uint8_t buf[DER_CAP];
    const char *s = spec;
    size_t n = 0;

    for (;;) {
        skip_ws(&s);
        if (!*s)
            break;
        n += der_item(&s, buf + n, sizeof(buf) - n);
    }
    struct vec v = { keep(buf, n), n };
    return v;
}

/* ---- parsers behind one signature ---- */

enum kind { K_DIR, K_ODF, K_TOKEN, K_AODF, K_PRKDF, K_PUKDF, K_CDF, K_DODF, K_COUNT };

typedef int (*parse_fn)(const uint8_t *buf, size_t len, void *out, size_t max, size_t *count);

static int any_dir(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    return p15_parse_dir(b, n, o, m, c);
}
static int any_odf(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    return p15_parse_odf(b, n, o, m, c);
}
static int any_token(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    struct p15_token_info ti;
    int rc = p15_parse_token_info(b, n, &ti);

    *c = 0;
    if (rc == P15_OK) {
        if (m == 0)
            return P15_ERR_TOO_MANY;
        memcpy(o, &ti, sizeof(ti));
        *c = 1;
    }
    return rc;
}
static int any_aodf(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    return p15_parse_aodf(b, n, o, m, c);
}
static int any_prkdf(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    return p15_parse_prkdf(b, n, o, m, c);
}
static int any_pukdf(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    return p15_parse_pukdf(b, n, o, m, c);
}
static int any_cdf(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    return p15_parse_cdf(b, n, o, m, c);
}
static int any_dodf(const uint8_t *b, size_t n, void *o, size_t m, size_t *c)
{
    return p15_parse_dodf(b, n, o, m, c);
}

static const struct parser {
    const char *name;
    parse_fn fn;
    size_t size;
} PARSERS[K_COUNT] = {
    [K_DIR] = { "dir", any_dir, sizeof(struct p15_app) },
    [K_ODF] = { "odf", any_odf, sizeof(struct p15_odf_entry) },
    [K_TOKEN] = { "tokeninfo", any_token, sizeof(struct p15_token_info) },
    [K_AODF] = { "aodf", any_aodf, sizeof(struct p15_pin) },
    [K_PRKDF] = { "prkdf", any_prkdf, sizeof(struct p15_private_key) },
    [K_PUKDF] = { "pukdf", any_pukdf, sizeof(struct p15_public_key) },
    [K_CDF] = { "cdf", any_cdf, sizeof(struct p15_certificate) },
    [K_DODF] = { "dodf", any_dodf, sizeof(struct p15_data_object) },
};

#define MAXOUT 64
static size_t out_count;
static union {
    struct p15_app app[MAXOUT];
    struct p15_odf_entry odf[MAXOUT];
    struct p15_token_info ti[MAXOUT];
    struct p15_pin pin[MAXOUT];
    struct p15_private_key prk[MAXOUT];
    struct p15_public_key puk[MAXOUT];
    struct p15_certificate cert[MAXOUT];
    struct p15_data_object dobj[MAXOUT];
} out;

/* Parses b[0..n) (copied to an exact-size block) with a max of MAXOUT. */
static int parse_n(enum kind k, const uint8_t *b, size_t n)
{
    memset(&out, 0xA5, sizeof(out));
    out_count = 12345;
    int rc = PARSERS[k].fn(keep(b, n), n, &out, MAXOUT, &out_count);
    if (rc != P15_OK && rc != P15_ERR_TOO_MANY)
        assert_int_equal(out_count, 0);
    return rc;
}

static int parse(enum kind k, const char *spec)
{
    struct vec v = V(spec);
    return parse_n(k, v.p, v.n);
}

/* ---- the government token's files ---- */

/* Variant A (JCOP4Bit4Id): EF.DIR with the application, padded with FF. */
#define DIR_A                                          \
    "61{ 4F:E828BD080F014E585030 50'JCOP4Bit4Id' }" \
    " =FFFFFFFFFFFF"
/* A PKCS#15 application with a path and a DDO (skipped), 00 padding. */
#define DIR_P15                                                                  \
    "61{ 4F:A000000063504B43532D3135 50'PKCS#15 application' 51:3F005015" \
    "    73{ 06:2A864886F70D010F 30{ 04:5031 } } }"                             \
    " =0000000000"

/* ODF of variant A: AODF 7001, PrKDF 7002, PuKDF 7004, CDF 7005, DODF 7006. */
#define ODF_A                                                                   \
    "A0{ 30{ 04:7002 } } A1{ 30{ 04:7004 } } A4{ 30{ 04:7005 } }" \
    " A7{ 30{ 04:7006 } } A8{ 30{ 04:7001 } }"
/* ODF of variant B, as hex: the file is 64 bytes, zero-filled. */
#define ODF_B_HEX                                                        \
    "A0 06 30 04 04 02 70 02  A4 06 30 04 04 02 70 05  A8 06 30 04 04 02 70 01" \
    " 00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00" \
    " 00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00"

/* TokenInfo: version 0, serial (ASCII), manufacturer, label, flags
 * loginRequired | prnGeneration. */
#define TOKENINFO_A \
    "30{ 02:00 04'0A1B2C3D4E5F6071' 0C'bit4id' 80'VGCA Token' 03:0560 }"
/* Version 1 (7816-15) with the optional fields after tokenflags. */
#define TOKENINFO_EXT                                                          \
    "30{ 02:01 04:B4D0000000421337 0C'NXP SecID-P71' 80'VGCA Token' 03:0560" \
    "    30{ 30{ 02:00 06:2A864886F70D010F } }"                                \
    "    A2{ 30{ 02:01 02:01 05: 03:0780 06:2A864886F70D01010B 02:10 } }"      \
    "    83'Ban Co yeu' 18'20250101000000Z' 13'vi' }"                          \
    " =FFFFFFFF"

/* AODF of variant B: the user PIN, reference 01, UTF-8, 4..16 bytes,
 * padded with FF to 8. */
#define AODF_B                                                       \
    "30{ 30{ 0C'User PIN' 03:0780 }"                                 \
    "    30{ 04:01 }"                                                \
    "    A1{ 30{ 03:024C 0A:02 02:04 02:08 02:10 80:01 04:FF } } }"
/* AODF of variant A: PIN reference 03 (unblocked by the PUK, authId 02),
 * PUK reference 06. */
#define AODF_A                                                                  \
    "30{ 30{ 0C'PIN' 03:0780 04:02 }"                                           \
    "    30{ 04:01 }"                                                           \
    "    A1{ 30{ 03:024C 0A:02 02:04 02:08 02:10 80:03 04:FF 30{ 04:3F00 } } } }" \
    "30{ 30{ 0C'PUK' 03:0780 }"                                                 \
    "    30{ 04:02 }"                                                           \
    "    A1{ 30{ 03:014E 0A:02 02:04 02:08 02:10 80:06 04:FF } } }"

/* PrKDF of variant B: RSA-2048, a 20-byte ID, key reference 81, guarded by
 * PIN 01, sign + nonRepudiation, with CommonPrivateKeyAttributes. */
#define KEY_ID_B "01A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4"
#define PRKDF_B                                                          \
    "30{ 30{ 0C'Signature key' 03:0780 04:01 }"                          \
    "    30{ 04:" KEY_ID_B " 03:062040 01:FF 03:03B8 02:0081 }"          \
    "    A0{ 30{ 30{ 31{ 30{ 06:550403 0C'NGUYEN VAN A' } } } } }"       \
    "    A1{ 30{ 30{ 04:3F00 } 02:0800 } } }"
/* PrKDF of variant A: RSA-3072, ID BE72ECF5, path 3F00DF10, key ref 10. */
#define PRKDF_A                                                 \
    "30{ 30{ 0C'VGCA Token key' 03:0780 04:01 }"                \
    "    30{ 04:BE72ECF5 03:062040 03:03B8 02:10 }"             \
    "    A1{ 30{ 30{ 04:3F00DF10 } 02:0C00 } } }"               \
    " =0000000000000000"

/* PuKDF of variant A, a public key with a direct RSAPublicKey and an EC
 * key with a direct SubjectPublicKeyInfo. */
#define PUKDF_A                                               \
    "30{ 30{ 0C'VGCA Token key' }"                            \
    "    30{ 04:BE72ECF5 03:0102 }"                           \
    "    A1{ 30{ 30{ 04:3F00DF11 } 02:0C00 } } }"
#define PUKDF_DIRECT                                                              \
    "30{ 30{ 0C'Raw RSA key' } 30{ 04:05 03:0102 }"                               \
    "    A1{ 30{ A0{ 30{ 02:00C5%127 02:010001 } } 02:0400 } } }"                 \
    "A0{ 30{ 0C'EC key' } 30{ 04:06 03:0102 02:20 }"                              \
    "    A1{ 30{ A0{ A1{ 30{ 06:2A8648CE3D0201 06:2A8648CE3D030107 } 03:0004%64 } } } } }"

/* CDF of variant B: the signer in 0003, the CA chain in 0002 and 0001. */
#define CDF_B                                                                  \
    "30{ 30{ 0C'Signer' } 30{ 04:" KEY_ID_B " } A1{ 30{ 30{ 04:0003 } } } }"    \
    "30{ 30{ 0C'VGCA issuing CA' } 30{ 04:02 01:FF } A1{ 30{ 30{ 04:0002 } } } }" \
    "30{ 30{ 0C'VGCA root CA' } 30{ 04:03 01:FF } A1{ 30{ 30{ 04:0001 } } } }"
/* CDF of variant A (the certificate in 0001 is compressed) and a direct
 * certificate with subject, issuer and serial after the value. */
#define CDF_A                                                                           \
    "30{ 30{ 0C'VGCA Token certificate' 03:0040 } 30{ 04:BE72ECF5 01:00 }"             \
    "    A1{ 30{ 30{ 04:0001 02:00 80:05CA } } } }"                                   \
    "30{ 30{ 0C'Direct' } 30{ 04:07 01:FF A1{ 30{ 06:2B06010505070301 } } }"           \
    "    A1{ 30{ A0{ 30{ 30{ A0{ 02:02 } 02:01 } 30{ 06:2A864886F70D01010B 05: } 03:00%16 } }" \
    "            30{ 31{ 30{ 06:550403 0C'Subject' } } } A0{ 30{ } } 02:01 } } }"

/* DODF of variant A: an opaque object by path and one with a direct value. */
#define DODF_A                                                                \
    "30{ 30{ 0C'Certificate chain' 03:0640 }"                                 \
    "    30{ 0C'bit4id' 06:2B06010401868D1F0102 }"                           \
    "    A1{ 30{ 04:0002 } } }"                                               \
    "30{ 30{ 0C'Note' } 30{ } A1{ A0{ 04'hello' } } }"

static const struct vector {
    const char *name;
    enum kind kind;
    const char *spec;
    size_t entries;
} VECTORS[] = {
    { "dir-variant-a", K_DIR, DIR_A, 1 },
    { "dir-pkcs15-app", K_DIR, DIR_P15, 1 },
    { "odf-variant-a", K_ODF, ODF_A, 5 },
    { "tokeninfo-variant-a", K_TOKEN, TOKENINFO_A, 1 },
    { "tokeninfo-extensions", K_TOKEN, TOKENINFO_EXT, 1 },
    { "aodf-variant-b", K_AODF, AODF_B, 1 },
    { "aodf-variant-a", K_AODF, AODF_A, 2 },
    { "prkdf-variant-b", K_PRKDF, PRKDF_B, 1 },
    { "prkdf-variant-a", K_PRKDF, PRKDF_A, 1 },
    { "pukdf-variant-a", K_PUKDF, PUKDF_A, 1 },
    { "pukdf-direct", K_PUKDF, PUKDF_DIRECT, 2 },
    { "cdf-variant-b", K_CDF, CDF_B, 3 },
    { "cdf-variant-a-direct", K_CDF, CDF_A, 2 },
    { "dodf-variant-a", K_DODF, DODF_A, 2 },
};
#define NVECTORS (sizeof(VECTORS) / sizeof(VECTORS[0]))

/* ---- realistic files, field by field ---- */

static void test_dir(void **state)
{
    static const uint8_t aid_a[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x01, 0x4E, 0x58, 0x50, 0x30 };

    assert_int_equal(parse(K_DIR, DIR_A), P15_OK);
    assert_int_equal(out_count, 1);
    assert_int_equal(out.app[0].aid_len, sizeof(aid_a));
    assert_memory_equal(out.app[0].aid, aid_a, sizeof(aid_a));
    assert_string_equal(out.app[0].label, "JCOP4Bit4Id");
    assert_false(out.app[0].has_path);
    assert_int_equal(out.app[0].path.len, 0);

    assert_int_equal(parse(K_DIR, DIR_P15), P15_OK);
    assert_int_equal(out_count, 1);
    assert_int_equal(out.app[0].aid_len, 12);
    assert_string_equal(out.app[0].label, "PKCS#15 application");
    assert_true(out.app[0].has_path);
    assert_int_equal(out.app[0].path.len, 4);
    assert_memory_equal(out.app[0].path.value, "\x3F\x00\x50\x15", 4);
    assert_false(out.app[0].path.has_range);

    /* Both applications in one file (a transparent EF.DIR). */
    assert_int_equal(parse(K_DIR, "61{ 4F:E828BD080F014E585030 } 61{ 4F:E828BD080FD25047656E65726963 51:3F00 }"),
                     P15_OK);
    assert_int_equal(out_count, 2);
    assert_int_equal(out.app[1].aid_len, 14);
    assert_string_equal(out.app[0].label, "");
    assert_true(out.app[1].has_path);
}

static void test_odf(void **state)
{
    static const unsigned types[] = { 0, 1, 4, 7, 8 };
    static const char *fids[] = { "\x70\x02", "\x70\x04", "\x70\x05", "\x70\x06", "\x70\x01" };

    assert_int_equal(parse(K_ODF, ODF_A), P15_OK);
    assert_int_equal(out_count, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(out.odf[i].type, types[i]);
        assert_int_equal(out.odf[i].path.len, 2);
        assert_memory_equal(out.odf[i].path.value, fids[i], 2);
        assert_false(out.odf[i].path.has_range);
    }
    assert_int_equal(out.odf[0].type, P15_ODF_PRIVATE_KEYS);
    assert_int_equal(out.odf[4].type, P15_ODF_AUTH_OBJECTS);

    /* Variant B as the exact bytes of a 64-byte file; the notation gives
     * the same bytes. */
    uint8_t raw[64];
    size_t n = hex(ODF_B_HEX, raw, sizeof(raw));
    assert_int_equal(n, 64);
    struct vec v = V("A0{ 30{ 04:7002 } } A4{ 30{ 04:7005 } } A8{ 30{ 04:7001 } }"
                     " =0000000000000000 =0000000000000000 =0000000000000000 =0000000000000000"
                     " =0000000000000000");
    assert_int_equal(v.n, 64);
    assert_memory_equal(v.p, raw, 64);
    assert_int_equal(parse_n(K_ODF, raw, n), P15_OK);
    assert_int_equal(out_count, 3);
    assert_int_equal(out.odf[1].type, P15_ODF_CERTIFICATES);
    assert_memory_equal(out.odf[1].path.value, "\x70\x05", 2);

    /* All nine types, a Path with index and length, and an extension
     * entry [9] that is skipped. */
    assert_int_equal(parse(K_ODF, "A0{30{04:01}} A1{30{04:02}} A2{30{04:03}} A3{30{04:04}} A4{30{04:05}}"
                                  " A5{30{04:06}} A6{30{04:07}} A7{30{04:08}} A9{ 30{ 04:09 } }"
                                  " A8{30{04:3F0050157001 02:00 80:0200}}"),
                     P15_OK);
    assert_int_equal(out_count, 9);
    for (unsigned i = 0; i < 9; i++)
        assert_int_equal(out.odf[i].type, i);
    assert_int_equal(out.odf[8].path.len, 6);
    assert_true(out.odf[8].path.has_range);
    assert_int_equal(out.odf[8].path.index, 0);
    assert_int_equal(out.odf[8].path.length, 0x200);

    /* The 7816-15 aid in a Path is skipped. */
    assert_int_equal(parse(K_ODF, "A0{ 30{ 04:7002 4F:E828BD080F014E585030 } }"), P15_OK);
    assert_int_equal(out.odf[0].path.len, 2);
}

static void test_token_info(void **state)
{
    struct p15_token_info ti;
    struct vec v = V(TOKENINFO_A);

    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_OK);
    assert_int_equal(ti.version, 0);
    assert_true(ti.has_serial);
    assert_int_equal(ti.serial_len, 16);
    assert_memory_equal(ti.serial, "0A1B2C3D4E5F6071", 16);
    assert_string_equal(ti.manufacturer, "bit4id");
    assert_string_equal(ti.label, "VGCA Token");
    assert_int_equal(ti.flags, P15_TOKEN_LOGIN_REQUIRED | P15_TOKEN_PRN_GENERATION);

    v = V(TOKENINFO_EXT);
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_OK);
    assert_int_equal(ti.version, 1);
    assert_int_equal(ti.serial_len, 8);
    assert_memory_equal(ti.serial, "\xB4\xD0\x00\x00\x00\x42\x13\x37", 8);
    assert_string_equal(ti.manufacturer, "NXP SecID-P71");
    assert_string_equal(ti.label, "VGCA Token");

    /* Everything optional absent (serialNumber is optional in 7816-15). */
    v = V("30{ 02:00 03:00 }");
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_OK);
    assert_false(ti.has_serial);
    assert_int_equal(ti.serial_len, 0);
    assert_string_equal(ti.manufacturer, "");
    assert_string_equal(ti.label, "");
    assert_int_equal(ti.flags, 0);

    /* readonly, and a version that needs two bytes. */
    v = V("30{ 02:0100 04:01 03:0780 }");
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_OK);
    assert_int_equal(ti.version, 256);
    assert_int_equal(ti.flags, P15_TOKEN_READONLY);

    /* Not a TokenInfo, and nothing at all. */
    v = V("=");
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_ERR_MALFORMED);
    v = V("=00000000");
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_ERR_MALFORMED);
    assert_int_equal(p15_parse_token_info(NULL, 0, &ti), P15_ERR_MALFORMED);
    assert_int_equal(p15_parse_token_info(NULL, 3, &ti), P15_ERR_ARGS);
    assert_int_equal(p15_parse_token_info(v.p, v.n, NULL), P15_ERR_ARGS);
}

static void test_aodf(void **state)
{
    assert_int_equal(parse(K_AODF, AODF_B), P15_OK);
    assert_int_equal(out_count, 1);
    struct p15_pin *pin = &out.pin[0];
    assert_string_equal(pin->label, "User PIN");
    assert_int_equal(pin->obj_flags, P15_OBJ_PRIVATE);
    assert_int_equal(pin->obj_auth_id_len, 0);
    assert_int_equal(pin->auth_id_len, 1);
    assert_int_equal(pin->auth_id[0], 0x01);
    assert_int_equal(pin->pin_flags, P15_PIN_LOCAL | P15_PIN_INITIALIZED | P15_PIN_NEEDS_PADDING);
    assert_int_equal(pin->pin_type, P15_PIN_UTF8);
    assert_int_equal(pin->min_len, 4);
    assert_int_equal(pin->stored_len, 8);
    assert_int_equal(pin->max_len, 16);
    assert_true(pin->has_reference);
    assert_int_equal(pin->reference, 0x01);
    assert_true(pin->has_pad_char);
    assert_int_equal(pin->pad_char, 0xFF);
    assert_false(pin->has_path);

    assert_int_equal(parse(K_AODF, AODF_A), P15_OK);
    assert_int_equal(out_count, 2);
    assert_int_equal(out.pin[0].reference, 0x03);
    assert_int_equal(out.pin[0].obj_auth_id_len, 1);
    assert_int_equal(out.pin[0].obj_auth_id[0], 0x02);
    assert_true(out.pin[0].has_path);
    assert_memory_equal(out.pin[0].path.value, "\x3F\x00", 2);
    assert_string_equal(out.pin[1].label, "PUK");
    assert_int_equal(out.pin[1].reference, 0x06);
    assert_int_equal(out.pin[1].auth_id[0], 0x02);
    assert_true(out.pin[1].pin_flags & P15_PIN_UNBLOCKING_PIN);
    assert_false(out.pin[1].pin_flags & P15_PIN_SO_PIN);

    /* Only the required fields: no maxLength, reference DEFAULT 0, no pad
     * character; lastPinChange skipped. Non-PIN authentication objects
     * (biometric [0], authKey [1]) are skipped. */
    assert_int_equal(parse(K_AODF, "A0{ 30{} 30{ 04:09 } A1{ 30{ 03:00 } } }"
                                   "30{ 30{} 30{ 04:07 02:01 80:01 } A1{ 30{ 03:00 0A:01 02:04 02:06 18'20240301120000Z' } } }"
                                   "A1{ 30{} 30{ 04:08 } A1{ 30{} } }"),
                     P15_OK);
    assert_int_equal(out_count, 1);
    pin = &out.pin[0];
    assert_int_equal(pin->auth_id[0], 0x07);
    assert_int_equal(pin->pin_type, P15_PIN_ASCII_NUMERIC);
    assert_int_equal(pin->max_len, -1);
    assert_false(pin->has_reference);
    assert_int_equal(pin->reference, 0);
    assert_false(pin->has_pad_char);
    assert_string_equal(pin->label, "");
    assert_int_equal(pin->pin_flags, 0);
}

static void test_prkdf(void **state)
{
    uint8_t id[20];

    assert_int_equal(parse(K_PRKDF, PRKDF_B), P15_OK);
    assert_int_equal(out_count, 1);
    struct p15_key *k = &out.prk[0].key;
    assert_string_equal(k->label, "Signature key");
    assert_int_equal(k->obj_flags, P15_OBJ_PRIVATE);
    assert_int_equal(k->auth_id_len, 1);
    assert_int_equal(k->auth_id[0], 0x01);
    assert_int_equal(k->id_len, 20);
    hex(KEY_ID_B, id, sizeof(id));
    assert_memory_equal(k->id, id, 20);
    assert_int_equal(k->usage, P15_USAGE_SIGN | P15_USAGE_NON_REPUDIATION);
    assert_int_equal(k->access_flags, P15_ACCESS_SENSITIVE | P15_ACCESS_ALWAYS_SENSITIVE |
                                          P15_ACCESS_NEVER_EXTRACTABLE | P15_ACCESS_LOCAL);
    assert_true(k->native);
    assert_true(k->has_key_reference);
    assert_int_equal(k->key_reference, 0x81);
    assert_int_equal(k->type, P15_KEY_RSA);
    assert_int_equal(k->modulus_bits, 2048);
    assert_true(k->has_path);
    assert_int_equal(k->path.len, 2);

    assert_int_equal(parse(K_PRKDF, PRKDF_A), P15_OK);
    assert_int_equal(out_count, 1);
    k = &out.prk[0].key;
    assert_int_equal(k->id_len, 4);
    assert_memory_equal(k->id, "\xBE\x72\xEC\xF5", 4);
    assert_int_equal(k->key_reference, 0x10);
    assert_true(k->native); /* DEFAULT TRUE */
    assert_int_equal(k->modulus_bits, 3072);
    assert_int_equal(k->path.len, 4);
    assert_memory_equal(k->path.value, "\x3F\x00\xDF\x10", 4);

    /* An EC key ([0]) next to an RSA key with native FALSE, keyInfo and
     * dates; a DH key ([1]) is skipped. */
    assert_int_equal(parse(K_PRKDF, "A0{ 30{ 0C'EC' } 30{ 04:02 03:0520 } A1{ 30{ 30{ 04:4401 } 02:01 } } }"
                                    "A1{ 30{} 30{ 04:03 03:0520 } A1{ 30{ 30{ 04:4402 } } } }"
                                    "30{ 30{} 30{ 04:04 03:0520 01:00 18'20250101000000Z' 80'20300101000000Z' }"
                                    "    A1{ 30{ 30{ 04:4403 } 02:0400 02:05 } } }"),
                     P15_OK);
    assert_int_equal(out_count, 2);
    assert_int_equal(out.prk[0].key.type, P15_KEY_EC);
    assert_int_equal(out.prk[0].key.modulus_bits, 0);
    assert_int_equal(out.prk[0].key.usage, P15_USAGE_SIGN);
    assert_false(out.prk[0].key.has_key_reference);
    assert_int_equal(out.prk[1].key.type, P15_KEY_RSA);
    assert_false(out.prk[1].key.native);
    assert_int_equal(out.prk[1].key.modulus_bits, 1024);

    /* keyReference 81 written as a one-byte INTEGER is -127 (its low
     * byte is still the reference). */
    assert_int_equal(parse(K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 02:81 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }"),
                     P15_OK);
    assert_int_equal(out.prk[0].key.key_reference, -127);
    assert_int_equal((uint8_t)out.prk[0].key.key_reference, 0x81);

    /* An empty path is a path. */
    assert_int_equal(parse(K_PRKDF, "30{ 30{} 30{ 04: 03:0520 } A1{ 30{ 30{ 04: } 02:0800 } } }"), P15_OK);
    assert_true(out.prk[0].key.has_path);
    assert_int_equal(out.prk[0].key.path.len, 0);
    assert_int_equal(out.prk[0].key.id_len, 0);
}

static void test_pukdf(void **state)
{
    assert_int_equal(parse(K_PUKDF, PUKDF_A), P15_OK);
    assert_int_equal(out_count, 1);
    struct p15_public_key *k = &out.puk[0];
    assert_string_equal(k->key.label, "VGCA Token key");
    assert_memory_equal(k->key.id, "\xBE\x72\xEC\xF5", 4);
    assert_int_equal(k->key.usage, P15_USAGE_VERIFY);
    assert_int_equal(k->key.type, P15_KEY_RSA);
    assert_int_equal(k->key.modulus_bits, 3072);
    assert_true(k->key.has_path);
    assert_memory_equal(k->key.path.value, "\x3F\x00\xDF\x11", 4);
    assert_null(k->direct);
    assert_int_equal(k->direct_form, P15_DIRECT_NONE);

    struct vec v = V(PUKDF_DIRECT);
    size_t n;
    struct p15_public_key keys[2];
    assert_int_equal(p15_parse_pukdf(v.p, v.n, keys, 2, &n), P15_OK);
    assert_int_equal(n, 2);
    /* RSA raw: the RSAPublicKey SEQUENCE, inside the caller's buffer. */
    assert_false(keys[0].key.has_path);
    assert_int_equal(keys[0].direct_form, P15_DIRECT_RAW);
    assert_true(keys[0].direct > v.p && keys[0].direct + keys[0].direct_len <= v.p + v.n);
    assert_int_equal(keys[0].direct[0], 0x30);
    assert_int_equal(keys[0].direct_len, 3 + (3 + 129) + 5);
    assert_int_equal(keys[0].key.modulus_bits, 1024);
    /* EC SPKI: [1] in place of the SEQUENCE tag. */
    assert_int_equal(keys[1].key.type, P15_KEY_EC);
    assert_int_equal(keys[1].direct_form, P15_DIRECT_SPKI);
    assert_int_equal(keys[1].direct[0], 0xA1);
    assert_int_equal(keys[1].direct_len, 2 + 21 + 68);
    assert_true(keys[1].key.has_key_reference);
    assert_int_equal(keys[1].key.key_reference, 0x20);

    /* EC raw: the ECPoint OCTET STRING. */
    assert_int_equal(parse(K_PUKDF, "A0{ 30{} 30{ 04:01 03:0102 } A1{ 30{ A0{ 04:04%64 } } } }"), P15_OK);
    assert_int_equal(out.puk[0].direct_form, P15_DIRECT_RAW);
    assert_int_equal(out.puk[0].direct_len, 67);
}

static void test_cdf(void **state)
{
    assert_int_equal(parse(K_CDF, CDF_B), P15_OK);
    assert_int_equal(out_count, 3);
    static const char *labels[] = { "Signer", "VGCA issuing CA", "VGCA root CA" };
    static const char *paths[] = { "\x00\x03", "\x00\x02", "\x00\x01" };
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out.cert[i].label, labels[i]);
        assert_int_equal(out.cert[i].authority, i > 0);
        assert_true(out.cert[i].has_path);
        assert_int_equal(out.cert[i].path.len, 2);
        assert_memory_equal(out.cert[i].path.value, paths[i], 2);
        assert_null(out.cert[i].direct);
    }
    assert_int_equal(out.cert[0].id_len, 20);
    assert_int_equal(out.cert[2].id[0], 0x03);

    struct vec v = V(CDF_A);
    struct p15_certificate certs[2];
    size_t n;
    assert_int_equal(p15_parse_cdf(v.p, v.n, certs, 2, &n), P15_OK);
    assert_int_equal(n, 2);
    assert_string_equal(certs[0].label, "VGCA Token certificate");
    assert_int_equal(certs[0].obj_flags, P15_OBJ_MODIFIABLE);
    assert_false(certs[0].authority);
    assert_memory_equal(certs[0].id, "\xBE\x72\xEC\xF5", 4);
    assert_true(certs[0].path.has_range);
    assert_int_equal(certs[0].path.index, 0);
    assert_int_equal(certs[0].path.length, 1482);
    assert_true(certs[1].authority);
    assert_false(certs[1].has_path);
    assert_non_null(certs[1].direct);
    assert_int_equal(certs[1].direct[0], 0x30);
    assert_true(certs[1].direct > v.p && certs[1].direct + certs[1].direct_len <= v.p + v.n);
    /* The direct value is a whole element. */
    const uint8_t *p = certs[1].direct;
    size_t left = certs[1].direct_len;
    struct tlv t;
    assert_int_equal(tlv_next(&p, &left, &t), TLV_OK);
    assert_int_equal(left, 0);

    /* Other certificate types (attribute [0], cv [5]) are skipped. */
    assert_int_equal(parse(K_CDF, "A0{ 30{} 30{ 04:01 } A1{ 30{ 30{ 04:0009 } } } }"
                                  "30{ 30{} 30{ 04:02 } A1{ 30{ 30{ 04:0008 } } } }"
                                  "A5{ 30{} 30{ 04:03 } A1{ 30{ 30{ 04:0007 } } } }"),
                     P15_OK);
    assert_int_equal(out_count, 1);
    assert_memory_equal(out.cert[0].path.value, "\x00\x08", 2);
}

static void test_dodf(void **state)
{
    struct vec v = V(DODF_A);
    struct p15_data_object d[2];
    size_t n;

    assert_int_equal(p15_parse_dodf(v.p, v.n, d, 2, &n), P15_OK);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].label, "Certificate chain");
    assert_int_equal(d[0].obj_flags, P15_OBJ_MODIFIABLE);
    assert_string_equal(d[0].app_name, "bit4id");
    assert_string_equal(d[0].app_oid, "1.3.6.1.4.1.99999.1.2");
    assert_true(d[0].has_path);
    assert_memory_equal(d[0].path.value, "\x00\x02", 2);
    assert_null(d[0].direct);
    assert_string_equal(d[1].label, "Note");
    assert_string_equal(d[1].app_name, "");
    assert_string_equal(d[1].app_oid, "");
    assert_false(d[1].has_path);
    assert_int_equal(d[1].direct_len, 7);
    assert_memory_equal(d[1].direct, "\x04\x05hello", 7);

    /* OIDs: first arcs 0, 1, 2 and a large second arc; externalIDO [0]
     * and oidDO [1] are skipped. */
    assert_int_equal(parse(K_DODF, "30{ 30{} 30{ 06:0A } A1{ 30{ 04:01 } } }"
                                   "30{ 30{} 30{ 06:28 } A1{ 30{ 04:01 } } }"
                                   "30{ 30{} 30{ 06:8837 } A1{ 30{ 04:01 } } }"
                                   "30{ 30{} 30{ 06:8FFFFFFF7F } A1{ 30{ 04:01 } } }"
                                   "A0{ 30{} 30{} A1{ 30{ 04:02 } } } A1{ 30{} 30{} A1{ 30{ 04:03 } } }"),
                     P15_OK);
    assert_int_equal(out_count, 4);
    assert_string_equal(out.dobj[0].app_oid, "0.10");
    assert_string_equal(out.dobj[1].app_oid, "1.0");
    assert_string_equal(out.dobj[2].app_oid, "2.999");
    assert_string_equal(out.dobj[3].app_oid, "2.4294967215");
}

/* ---- properties every vector has ---- */

/* Offsets where top-level elements end (before any padding). */
static size_t boundaries(const uint8_t *p, size_t n, size_t *ends, size_t cap, size_t *content)
{
    const uint8_t *q = p;
    size_t left = n, k = 0;
    struct tlv t;

    while (left > 0 && *q != 0x00 && *q != 0xFF && tlv_next(&q, &left, &t) == TLV_OK) {
        assert_true(k < cap);
        ends[k++] = n - left;
    }
    *content = n - left;
    return k;
}

static void test_vectors_parse(void **state)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        const struct vector *vc = &VECTORS[i];
        int rc = parse(vc->kind, vc->spec);
        if (rc != P15_OK || out_count != vc->entries)
            fail_msg("%s: rc %d (%s), %zu entries", vc->name, rc, p15_strerror(rc), out_count);
    }
}

/* Every proper prefix that does not end between top-level elements is
 * truncated: an error. Prefixes that do end there give fewer entries. */
static void test_vectors_truncated(void **state)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        const struct vector *vc = &VECTORS[i];
        struct vec v = V(vc->spec);
        size_t ends[64], content, nb = boundaries(v.p, v.n, ends, 64, &content);

        for (size_t cut = 0; cut < v.n; cut++) {
            int rc = parse_n(vc->kind, v.p, cut);
            size_t whole = 0;
            bool boundary = cut == 0;
            for (size_t b = 0; b < nb; b++) {
                if (ends[b] <= cut)
                    whole = b + 1;
                if (ends[b] == cut)
                    boundary = true;
            }
            if (cut > content)
                boundary = true; /* inside the padding */
            if (vc->kind == K_TOKEN) {
                if (rc != (whole ? P15_OK : P15_ERR_MALFORMED) || (cut < content && rc != P15_ERR_MALFORMED))
                    fail_msg("%s cut at %zu: rc %d", vc->name, cut, rc);
                continue;
            }
            if (boundary) {
                if (rc != P15_OK)
                    fail_msg("%s cut at %zu (boundary): rc %d", vc->name, cut, rc);
                assert_true(out_count <= whole);
            } else if (rc != P15_ERR_MALFORMED) {
                fail_msg("%s cut at %zu: rc %d, not MALFORMED", vc->name, cut, rc);
            }
        }
    }
}

static void test_vectors_padding(void **state)
{
    static const char *pads[] = { "=00", "=FF", "=0000000000000000", "=FFFFFFFFFFFFFFFF",
                                  "=00FF00FF", "=FF00" };
    static const char *bad_tails[] = { "=0030", "=FF01", "=00000000000061", "=0001", "=30" };

    for (size_t i = 0; i < NVECTORS; i++) {
        const struct vector *vc = &VECTORS[i];
        char spec[4096];

        for (size_t j = 0; j < sizeof(pads) / sizeof(pads[0]); j++) {
            snprintf(spec, sizeof(spec), "%s %s", vc->spec, pads[j]);
            int rc = parse(vc->kind, spec);
            if (rc != P15_OK || out_count != vc->entries)
                fail_msg("%s + %s: rc %d, %zu entries", vc->name, pads[j], rc, out_count);
        }
        for (size_t j = 0; j < sizeof(bad_tails) / sizeof(bad_tails[0]); j++) {
            snprintf(spec, sizeof(spec), "%s %s", vc->spec, bad_tails[j]);
            int rc = parse(vc->kind, spec);
            if (rc != P15_ERR_MALFORMED)
                fail_msg("%s + %s: rc %d, not MALFORMED", vc->name, bad_tails[j], rc);
        }
        /* Padding before the content is not padding. */
        snprintf(spec, sizeof(spec), "=00 %s", vc->spec);
        assert_int_equal(parse(vc->kind, spec), P15_ERR_MALFORMED);
        snprintf(spec, sizeof(spec), "=FF %s", vc->spec);
        assert_int_equal(parse(vc->kind, spec), P15_ERR_MALFORMED);
    }
    /* An empty file or one that is all padding has no entries. */
    for (int k = 0; k < K_COUNT; k++) {
        if (k == K_TOKEN)
            continue;
        assert_int_equal(parse((enum kind)k, "="), P15_OK);
        assert_int_equal(out_count, 0);
        assert_int_equal(parse((enum kind)k, "=FFFFFFFF00"), P15_OK);
        assert_int_equal(out_count, 0);
        size_t count = 99;
        assert_int_equal(PARSERS[k].fn(NULL, 0, NULL, 0, &count), P15_OK);
        assert_int_equal(count, 0);
    }
}

/* Lengths: the first element's length with one length octet more than
 * needed, four length octets, the indefinite form. */
static void test_vectors_overlong(void **state)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        const struct vector *vc = &VECTORS[i];
        struct vec v = V(vc->spec);
        uint8_t buf[DER_CAP + 8];
        const uint8_t *p = v.p;
        size_t left = v.n;
        struct tlv t;

        assert_int_equal(tlv_next(&p, &left, &t), TLV_OK);
        size_t tn = tlv_tag_size(t.tag), ln = tlv_length_size(t.len);
        size_t rest = v.n - tn - ln;
        memcpy(buf, v.p, tn);
        /* ln + 1 length octets: 81 L, 82 00 L, 83 00 HH LL. */
        buf[tn] = (uint8_t)(0x80 | ln);
        for (size_t k = 0; k < ln; k++)
            buf[tn + 1 + k] = (uint8_t)(t.len >> (8 * (ln - 1 - k)));
        memcpy(buf + tn + 1 + ln, v.p + tn + ln, rest);
        assert_int_equal(parse_n(vc->kind, buf, v.n + 1), P15_ERR_MALFORMED);

        /* Sanity: written minimally, the same bytes parse. */
        size_t hn = tlv_put_header(buf, t.tag, t.len);
        memcpy(buf + hn, v.p + tn + ln, rest);
        assert_int_equal(parse_n(vc->kind, buf, hn + rest), P15_OK);

        /* Indefinite form. */
        memcpy(buf, v.p, v.n);
        buf[tn] = 0x80;
        assert_int_equal(parse_n(vc->kind, buf, v.n), P15_ERR_MALFORMED);

        /* A length one more than what follows. */
        memcpy(buf, v.p, v.n);
        size_t last = ln == 1 ? tn : tn + ln - 1;
        if (buf[last] != 0xFF) {
            buf[last]++;
            int rc = parse_n(vc->kind, buf, v.n);
            if (rc != P15_ERR_MALFORMED)
                fail_msg("%s: longer first length: rc %d", vc->name, rc);
        }
    }
}

static void test_vectors_too_many(void **state)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        const struct vector *vc = &VECTORS[i];
        struct vec v = V(vc->spec);

        for (size_t max = 0; max <= vc->entries; max++) {
            size_t size = PARSERS[vc->kind].size;
            uint8_t *arr = malloc(size * (max ? max : 1) + 1);
            size_t count = 999;
            assert_non_null(arr);
            arr[size * max] = 0x5A; /* guard */
            int rc = PARSERS[vc->kind].fn(v.p, v.n, max ? arr : NULL, max, &count);
            if (max < vc->entries) {
                if (rc != P15_ERR_TOO_MANY || count != max)
                    fail_msg("%s max %zu: rc %d count %zu", vc->name, max, rc, count);
            } else {
                assert_int_equal(rc, P15_OK);
                assert_int_equal(count, vc->entries);
            }
            assert_int_equal(arr[size * max], 0x5A);
            free(arr);
        }
    }
}

/* A file with many entries; the first ones come back in order. */
static void test_many_entries(void **state)
{
    char spec[DER_CAP];
    size_t pos = 0;
    struct p15_certificate certs[16];
    size_t n;

    for (unsigned i = 0; i < 40; i++)
        pos += (size_t)snprintf(spec + pos, sizeof(spec) - pos,
                                "30{ 30{ 0C'cert %u' } 30{ 04:%02X } A1{ 30{ 30{ 04:00%02X } } } } ", i, i, i);
    struct vec v = V(spec);
    assert_int_equal(p15_parse_cdf(v.p, v.n, certs, 16, &n), P15_ERR_TOO_MANY);
    assert_int_equal(n, 16);
    for (unsigned i = 0; i < 16; i++) {
        assert_int_equal(certs[i].id[0], i);
        assert_int_equal(certs[i].path.value[1], i);
    }
    assert_int_equal(parse_n(K_CDF, v.p, v.n), P15_OK);
    assert_int_equal(out_count, 40);
    assert_string_equal(out.cert[39].label, "cert 39");

    /* Malformed after the first max entries: malformed, not too many. */
    char bad[DER_CAP + 32];
    snprintf(bad, sizeof(bad), "%s 30{ 30{} }", spec);
    v = V(bad);
    assert_int_equal(p15_parse_cdf(v.p, v.n, certs, 16, &n), P15_ERR_MALFORMED);
    assert_int_equal(n, 0);
}

/* ---- nesting ---- */

/* Each spec has '$' where an element kyso skips may stand. The nesting
 * level there is found from the braces; a chain of constructed elements
 * reaching P15_MAX_DEPTH is accepted, one more level is not. */
static const struct {
    enum kind kind;
    const char *spec;
} DEEP[] = {
    { K_DIR, "61{ 4F:E828BD080F014E585030 50'JCOP4Bit4Id' $ }" },
    { K_DIR, "61{ 4F:E828BD080F014E585030 73{ $ } }" },
    { K_ODF, "A0{ 30{ 04:7002 $ } }" },
    { K_ODF, "A0{ 30{ 04:7002 } } $" },
    { K_TOKEN, "30{ 02:00 04:01 03:0560 $ }" },
    { K_AODF, "30{ 30{ 0C'PIN' $ } 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 } } }" },
    { K_AODF, "30{ 30{} 30{ 04:01 $ } A1{ 30{ 03:00 0A:02 02:04 02:08 } } }" },
    { K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 30{ 04:3F00 $ } } } }" },
    { K_AODF, "$" },
    { K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A0{ 30{ $ } } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }" },
    { K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:0800 $ } } }" },
    { K_PUKDF, "30{ 30{} 30{ 04:01 03:0102 $ } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }" },
    { K_PUKDF, "A0{ 30{} 30{ 04:01 03:0102 } A1{ 30{ 30{ 04:3F00 } $ } } }" },
    { K_CDF, "30{ 30{} 30{ 04:01 $ } A1{ 30{ 30{ 04:0003 } } } }" },
    { K_CDF, "30{ 30{} 30{ 04:01 } A1{ 30{ 30{ 04:0003 } $ } } }" },
    { K_CDF, "A1{ $ }" },
    { K_DODF, "30{ 30{} 30{ 0C'x' $ } A1{ 30{ 04:0002 } } }" },
    { K_DODF, "30{ 30{ $ } 30{} A1{ 30{ 04:0002 } } }" },
};

static void deep_spec(char *dst, size_t cap, const char *spec, unsigned chain)
{
    char chainspec[512] = "";
    size_t pos = 0;

    for (unsigned i = 0; i < chain; i++)
        pos += (size_t)snprintf(chainspec + pos, sizeof(chainspec) - pos, "B5{ ");
    pos += (size_t)snprintf(chainspec + pos, sizeof(chainspec) - pos, "05: ");
    for (unsigned i = 0; i < chain; i++)
        pos += (size_t)snprintf(chainspec + pos, sizeof(chainspec) - pos, "} ");
    const char *dollar = strchr(spec, '$');
    assert_non_null(dollar);
    snprintf(dst, cap, "%.*s%s%s", (int)(dollar - spec), spec, chainspec, dollar + 1);
}

static void test_depth(void **state)
{
    char spec[2048];

    for (size_t i = 0; i < sizeof(DEEP) / sizeof(DEEP[0]); i++) {
        unsigned level = 1;
        for (const char *s = DEEP[i].spec; *s != '$'; s++)
            level += *s == '{' ? 1u : *s == '}' ? -1u : 0u;
        /* chain elements at levels level..level+chain-1, then a NULL one
         * level deeper: the deepest is level + chain. */
        unsigned ok = P15_MAX_DEPTH - level;
        deep_spec(spec, sizeof(spec), DEEP[i].spec, ok);
        int rc = parse(DEEP[i].kind, spec);
        if (rc != P15_OK)
            fail_msg("deep %zu (level %u) chain %u: rc %d", i, level, ok, rc);
        deep_spec(spec, sizeof(spec), DEEP[i].spec, ok + 1);
        rc = parse(DEEP[i].kind, spec);
        if (rc != P15_ERR_DEPTH)
            fail_msg("deep %zu (level %u) chain %u: rc %d, not DEPTH", i, level, ok + 1, rc);
        deep_spec(spec, sizeof(spec), DEEP[i].spec, 40);
        assert_int_equal(parse(DEEP[i].kind, spec), P15_ERR_DEPTH);
    }

    /* A direct certificate is not looked into: its own nesting is free. */
    char cert[1024] = "30{ 30{} 30{ 04:01 } A1{ 30{ A0{ 30{ ";
    for (int i = 0; i < 20; i++)
        strcat(cert, "30{ ");
    for (int i = 0; i < 20; i++)
        strcat(cert, "} ");
    strcat(cert, "} } } } }");
    assert_int_equal(parse(K_CDF, cert), P15_OK);
    assert_int_equal(out_count, 1);
}

/* ---- one malformed or unusual thing at a time ---- */

static const struct bad {
    const char *name;
    enum kind kind;
    const char *spec;
    int rc;
} BAD[] = {
    /* EF.DIR */
    { "dir-no-aid", K_DIR, "61{ 50'x' }", P15_ERR_MALFORMED },
    { "dir-empty-template", K_DIR, "61{ }", P15_ERR_MALFORMED },
    { "dir-aid-empty", K_DIR, "61{ 4F: }", P15_ERR_RANGE },
    { "dir-aid-17", K_DIR, "61{ 4F:A0%16 }", P15_ERR_RANGE },
    { "dir-path-17", K_DIR, "61{ 4F:A000000063 51:3F%16 }", P15_ERR_RANGE },
    { "dir-label-after-path", K_DIR, "61{ 4F:A000000063 51:3F00 50'x' }", P15_ERR_MALFORMED },
    { "dir-two-aids", K_DIR, "61{ 4F:A000000063 4F:A000000064 }", P15_ERR_MALFORMED },
    { "dir-wrong-top-tag", K_DIR, "70{ 4F:A000000063 }", P15_ERR_MALFORMED },
    { "dir-aid-constructed", K_DIR, "61{ 6F{ 04:01 } }", P15_ERR_MALFORMED },
    { "dir-label-overruns", K_DIR, "61{ 4F:A000000063 50+1'x' }", P15_ERR_MALFORMED },
    { "dir-label-bad-utf8", K_DIR, "61{ 4F:A000000063 50:C0AF }", P15_ERR_MALFORMED },
    { "dir-long-length", K_DIR, "61#82{ 4F:A000000063 }", P15_ERR_MALFORMED },
    { "dir-inner-long-length", K_DIR, "61{ 4F#81:A000000063 }", P15_ERR_MALFORMED },
    { "dir-4-length-octets", K_DIR, "61#84{ 4F:A000000063 }", P15_ERR_MALFORMED },
    /* ODF */
    { "odf-objects", K_ODF, "A0{ A0{ 30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:01 } 02:0800 } } } } }",
      P15_ERR_UNSUPPORTED },
    { "odf-protected", K_ODF, "A4{ A2{ 30{} } }", P15_ERR_UNSUPPORTED },
    { "odf-empty-entry", K_ODF, "A0{ }", P15_ERR_MALFORMED },
    { "odf-two-paths", K_ODF, "A0{ 30{ 04:7002 } 30{ 04:7003 } }", P15_ERR_MALFORMED },
    { "odf-bare-path", K_ODF, "A0{ 04:7002 }", P15_ERR_MALFORMED },
    { "odf-primitive-entry", K_ODF, "80:7002", P15_ERR_MALFORMED },
    { "odf-universal-entry", K_ODF, "30{ 04:7002 }", P15_ERR_MALFORMED },
    { "odf-path-missing", K_ODF, "A0{ 30{ 02:00 80:10 } }", P15_ERR_MALFORMED },
    { "odf-path-empty-seq", K_ODF, "A0{ 30{ } }", P15_ERR_MALFORMED },
    { "odf-index-only", K_ODF, "A0{ 30{ 04:7002 02:00 } }", P15_ERR_MALFORMED },
    { "odf-length-only", K_ODF, "A0{ 30{ 04:7002 80:10 } }", P15_ERR_MALFORMED },
    { "odf-length-constructed", K_ODF, "A0{ 30{ 04:7002 02:00 A0{ 02:10 } } }", P15_ERR_MALFORMED },
    { "odf-index-negative", K_ODF, "A0{ 30{ 04:7002 02:FF 80:10 } }", P15_ERR_RANGE },
    { "odf-length-65536", K_ODF, "A0{ 30{ 04:7002 02:00 80:010000 } }", P15_ERR_RANGE },
    { "odf-index-not-minimal", K_ODF, "A0{ 30{ 04:7002 02:0000 80:10 } }", P15_ERR_MALFORMED },
    { "odf-index-empty", K_ODF, "A0{ 30{ 04:7002 02: 80:10 } }", P15_ERR_MALFORMED },
    { "odf-path-twice", K_ODF, "A0{ 30{ 04:7002 04:7003 } }", P15_ERR_MALFORMED },
    { "odf-path-17", K_ODF, "A0{ 30{ 04:3F%16 } }", P15_ERR_RANGE },
    { "odf-path-constructed", K_ODF, "A0{ 30{ 24{ 04:7002 } } }", P15_ERR_MALFORMED },
    { "odf-seq-primitive", K_ODF, "A0{ 10:04027002 }", P15_ERR_MALFORMED },
    { "odf-skipped-constructed-string", K_ODF, "A0{ 30{ 04:7002 2C{ 0C'a' } } }", P15_ERR_MALFORMED },
    { "odf-skipped-primitive-seq", K_ODF, "A0{ 30{ 04:7002 10:0500 } }", P15_ERR_MALFORMED },
    { "odf-skipped-primitive-set", K_ODF, "A0{ 30{ 04:7002 } } A9{ 11: }", P15_ERR_MALFORMED },
    { "odf-tag-high-form", K_ODF, "BF00{ 30{ 04:7002 } }", P15_ERR_MALFORMED },
    { "odf-tag-leading-80", K_ODF, "BF8040{ 30{ 04:7002 } }", P15_ERR_MALFORMED },
    { "odf-entry-overruns", K_ODF, "A0+1{ 30{ 04:7002 } }", P15_ERR_MALFORMED },
    { "odf-path-overruns", K_ODF, "A0{ 30{ 04+1:7002 } }", P15_ERR_MALFORMED },
    { "odf-short-inner", K_ODF, "A0{ 30-1{ 04:7002 } }", P15_ERR_MALFORMED },
    /* TokenInfo */
    { "tokeninfo-no-version", K_TOKEN, "30{ 04:01 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-no-flags", K_TOKEN, "30{ 02:00 04:01 0C'bit4id' }", P15_ERR_MALFORMED },
    { "tokeninfo-label-explicit", K_TOKEN, "30{ 02:00 04:01 A0{ 0C'VGCA Token' } 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-utf8-tag", K_TOKEN, "30{ 02:00 04:01 0C'bit4id' 0C'VGCA Token' 03:00 }",
      P15_ERR_MALFORMED },
    { "tokeninfo-manufacturer-after-label", K_TOKEN, "30{ 02:00 80'VGCA Token' 0C'bit4id' 03:00 }",
      P15_ERR_MALFORMED },
    { "tokeninfo-serial-twice", K_TOKEN, "30{ 02:00 04:01 03:00 04:02 }", P15_ERR_MALFORMED },
    { "tokeninfo-serial-33", K_TOKEN, "30{ 02:00 04:00%33 03:00 }", P15_ERR_RANGE },
    { "tokeninfo-version-9-bytes", K_TOKEN, "30{ 02:010000000000000000 03:00 }", P15_ERR_RANGE },
    { "tokeninfo-two-files", K_TOKEN, "30{ 02:00 03:00 } 30{ 02:00 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-set", K_TOKEN, "31{ 02:00 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-flags-bit-32", K_TOKEN, "30{ 02:00 03:0700000000800000 }", P15_ERR_RANGE },
    { "tokeninfo-flags-unused-8", K_TOKEN, "30{ 02:00 03:0800 }", P15_ERR_MALFORMED },
    { "tokeninfo-flags-unused-bit-set", K_TOKEN, "30{ 02:00 03:0561 }", P15_ERR_MALFORMED },
    { "tokeninfo-flags-empty", K_TOKEN, "30{ 02:00 03: }", P15_ERR_MALFORMED },
    { "tokeninfo-flags-unused-no-bits", K_TOKEN, "30{ 02:00 03:01 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-nul-inside", K_TOKEN, "30{ 02:00 80:41004200 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-surrogate", K_TOKEN, "30{ 02:00 80:EDA080 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-overlong", K_TOKEN, "30{ 02:00 80:E08080 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-above-10ffff", K_TOKEN, "30{ 02:00 80:F4908080 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-cut-sequence", K_TOKEN, "30{ 02:00 80:41E1BB 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-bad-continuation", K_TOKEN, "30{ 02:00 80:C341 03:00 }", P15_ERR_MALFORMED },
    { "tokeninfo-label-latin1", K_TOKEN, "30{ 02:00 80'Kh\xF3' 03:00 }", P15_ERR_MALFORMED },
    /* AODF */
    { "aodf-no-auth-id", K_AODF, "30{ 30{} 30{} A1{ 30{ 03:00 0A:02 02:04 02:08 } } }", P15_ERR_MALFORMED },
    { "aodf-no-pin-attributes", K_AODF, "30{ 30{} 30{ 04:01 } }", P15_ERR_MALFORMED },
    { "aodf-pin-attributes-implicit", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 03:00 0A:02 02:04 02:08 } }",
      P15_ERR_MALFORMED },
    { "aodf-pin-attributes-two", K_AODF,
      "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 } 30{} } }", P15_ERR_MALFORMED },
    { "aodf-after-type-attributes", K_AODF,
      "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 } } 05: }", P15_ERR_MALFORMED },
    { "aodf-no-stored-length", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 } } }",
      P15_ERR_MALFORMED },
    { "aodf-type-before-flags", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 0A:02 03:00 02:04 02:08 } } }",
      P15_ERR_MALFORMED },
    { "aodf-type-as-integer", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 02:02 02:04 02:08 } } }",
      P15_ERR_MALFORMED },
    { "aodf-fourth-integer", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 02:10 02:11 } } }",
      P15_ERR_MALFORMED },
    { "aodf-reference-twice", K_AODF,
      "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 80:01 80:02 } } }", P15_ERR_MALFORMED },
    { "aodf-reference-negative", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 80:81 } } }",
      P15_ERR_RANGE },
    { "aodf-min-length-negative", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:FC 02:08 } } }",
      P15_ERR_RANGE },
    { "aodf-stored-length-huge", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:0080000000 } } }",
      P15_ERR_RANGE },
    { "aodf-pad-char-2", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 04:FFFF } } }",
      P15_ERR_RANGE },
    { "aodf-pad-char-empty", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 04: } } }",
      P15_ERR_RANGE },
    { "aodf-auth-id-17", K_AODF, "30{ 30{} 30{ 04:00%17 } A1{ 30{ 03:00 0A:02 02:04 02:08 } } }",
      P15_ERR_RANGE },
    { "aodf-label-twice", K_AODF, "30{ 30{ 0C'a' 0C'b' } 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 } } }",
      P15_ERR_MALFORMED },
    { "aodf-flags-before-label", K_AODF,
      "30{ 30{ 03:0780 0C'a' } 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 } } }", P15_ERR_MALFORMED },
    { "aodf-path-bad", K_AODF, "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:04 02:08 30{ 02:00 } } } }",
      P15_ERR_MALFORMED },
    { "aodf-universal-entry", K_AODF, "04:01", P15_ERR_MALFORMED },
    { "aodf-skipped-entry-broken", K_AODF, "A0{ 30{ 04+1:01 } }", P15_ERR_MALFORMED },
    { "aodf-skipped-entry-long-length", K_AODF, "A0{ 30#81{ 04:01 } }", P15_ERR_MALFORMED },
    /* PrKDF */
    { "prkdf-no-id", K_PRKDF, "30{ 30{} 30{ 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    { "prkdf-id-as-utf8", K_PRKDF, "30{ 30{} 30{ 0C'01' 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "prkdf-no-usage", K_PRKDF, "30{ 30{} 30{ 04:01 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    { "prkdf-no-modulus", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } } } }", P15_ERR_MALFORMED },
    { "prkdf-modulus-zero", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:00 } } }",
      P15_ERR_RANGE },
    { "prkdf-modulus-negative", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:F800 } } }",
      P15_ERR_RANGE },
    { "prkdf-modulus-not-minimal", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:000800 } } }",
      P15_ERR_MALFORMED },
    { "prkdf-modulus-ff-not-minimal", K_PRKDF,
      "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:FF80 } } }", P15_ERR_MALFORMED },
    { "prkdf-no-value", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 02:0800 } } }", P15_ERR_MALFORMED },
    { "prkdf-value-direct", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ A0{ 30{ 02:01 } } 02:0800 } } }",
      P15_ERR_UNSUPPORTED },
    { "prkdf-value-url", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 13'http://x' 02:0800 } } }",
      P15_ERR_UNSUPPORTED },
    { "prkdf-value-protected", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ A1{ 30{ 04:01 } } 02:0800 } } }",
      P15_ERR_UNSUPPORTED },
    { "prkdf-value-octets", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 04:3F00 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "prkdf-native-01", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 01:01 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "prkdf-native-2-bytes", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 01:FFFF } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "prkdf-native-empty", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 01: } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "prkdf-third-bit-string", K_PRKDF,
      "30{ 30{} 30{ 04:01 03:0520 03:03B8 03:00 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    { "prkdf-reference-before-access", K_PRKDF,
      "30{ 30{} 30{ 04:01 03:0520 02:10 03:03B8 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    { "prkdf-reference-5-bytes", K_PRKDF,
      "30{ 30{} 30{ 04:01 03:0520 02:0100000000 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_RANGE },
    { "prkdf-id-33", K_PRKDF, "30{ 30{} 30{ 04:00%33 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }",
      P15_ERR_RANGE },
    { "prkdf-auth-id-17", K_PRKDF, "30{ 30{ 04:00%17 } 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }",
      P15_ERR_RANGE },
    { "prkdf-usage-bit-40", K_PRKDF,
      "30{ 30{} 30{ 04:01 03:07000000000080 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_RANGE },
    { "prkdf-no-class-attributes", K_PRKDF, "30{ 30{} A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    { "prkdf-subclass-after-type", K_PRKDF,
      "30{ 30{} 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } A0{ 30{} } }", P15_ERR_MALFORMED },
    { "prkdf-type-attributes-empty", K_PRKDF, "30{ 30{} 30{ 04:01 03:0520 } A1{ } }", P15_ERR_MALFORMED },
    { "prkdf-ec-empty", K_PRKDF, "A0{ }", P15_ERR_MALFORMED },
    { "prkdf-universal-entry", K_PRKDF, "02:01", P15_ERR_MALFORMED },
    { "prkdf-application-entry", K_PRKDF, "61{ 4F:A000000063 }", P15_ERR_MALFORMED },
    { "prkdf-label-cut-utf8", K_PRKDF,
      "30{ 30{ 0C:4BC3 } 30{ 04:01 03:0520 } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    { "prkdf-boolean-constructed", K_PRKDF,
      "30{ 30{} 30{ 04:01 03:0520 21{ 01:FF } } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    /* PuKDF */
    { "pukdf-direct-rsa-octets", K_PUKDF, "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ A0{ 04:01 } 02:0800 } } }",
      P15_ERR_UNSUPPORTED },
    { "pukdf-direct-ec-sequence", K_PUKDF, "A0{ 30{} 30{ 04:01 03:0102 } A1{ 30{ A0{ 30{ 02:01 } } } } }",
      P15_ERR_UNSUPPORTED },
    { "pukdf-direct-two", K_PUKDF,
      "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ A0{ 30{ 02:01 } 30{ 02:01 } } 02:0800 } } }", P15_ERR_MALFORMED },
    { "pukdf-direct-empty", K_PUKDF, "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ A0{ } 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "pukdf-direct-broken", K_PUKDF, "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ A0{ 30+2{ 02:01 } } 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "pukdf-direct-primitive-tag", K_PUKDF, "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ 80:3003020101 02:0800 } } }",
      P15_ERR_MALFORMED },
    { "pukdf-no-modulus", K_PUKDF, "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ 30{ 04:3F00 } } } }", P15_ERR_MALFORMED },
    { "pukdf-url", K_PUKDF, "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ 16'http://x' 02:0800 } } }",
      P15_ERR_UNSUPPORTED },
    { "pukdf-url-digest", K_PUKDF,
      "30{ 30{} 30{ 04:01 03:0102 } A1{ 30{ A3{ 13'http://x' 30{} } 02:0800 } } }", P15_ERR_UNSUPPORTED },
    { "pukdf-subclass-twice", K_PUKDF,
      "30{ 30{} 30{ 04:01 03:0102 } A0{ 30{} } A0{ 30{} } A1{ 30{ 30{ 04:3F00 } 02:0800 } } }", P15_ERR_MALFORMED },
    /* CDF */
    { "cdf-no-id", K_CDF, "30{ 30{} 30{ 01:FF } A1{ 30{ 30{ 04:0003 } } } }", P15_ERR_MALFORMED },
    { "cdf-authority-bad", K_CDF, "30{ 30{} 30{ 04:01 01:80 } A1{ 30{ 30{ 04:0003 } } } }", P15_ERR_MALFORMED },
    { "cdf-authority-twice", K_CDF, "30{ 30{} 30{ 04:01 01:FF 01:FF } A1{ 30{ 30{ 04:0003 } } } }",
      P15_ERR_MALFORMED },
    { "cdf-id-twice", K_CDF, "30{ 30{} 30{ 04:01 04:02 } A1{ 30{ 30{ 04:0003 } } } }", P15_ERR_MALFORMED },
    { "cdf-no-value", K_CDF, "30{ 30{} 30{ 04:01 } A1{ 30{ } } }", P15_ERR_MALFORMED },
    { "cdf-value-not-seq", K_CDF, "30{ 30{} 30{ 04:01 } A1{ 30{ A0{ 04:01 } } } }", P15_ERR_MALFORMED },
    { "cdf-attrs-not-seq", K_CDF, "30{ 30{} 30{ 04:01 } A1{ 31{ 30{ 04:0003 } } } }", P15_ERR_MALFORMED },
    { "cdf-path-wrong-tag", K_CDF, "30{ 30{} 30{ 04:01 } A1{ 30{ 30{ 05:0003 } } } }", P15_ERR_MALFORMED },
    { "cdf-class-as-set", K_CDF, "30{ 30{} 31{ 04:01 } A1{ 30{ 30{ 04:0003 } } } }", P15_ERR_MALFORMED },
    { "cdf-common-primitive", K_CDF, "30{ 04:00 30{ 04:01 } A1{ 30{ 30{ 04:0003 } } } }", P15_ERR_MALFORMED },
    { "cdf-protected", K_CDF, "30{ 30{} 30{ 04:01 } A1{ 30{ A2{ 30{} } } } }", P15_ERR_UNSUPPORTED },
    /* DODF */
    { "dodf-oid-empty", K_DODF, "30{ 30{} 30{ 06: } A1{ 30{ 04:01 } } }", P15_ERR_MALFORMED },
    { "dodf-oid-leading-80", K_DODF, "30{ 30{} 30{ 06:2B8001 } A1{ 30{ 04:01 } } }", P15_ERR_MALFORMED },
    { "dodf-oid-unterminated", K_DODF, "30{ 30{} 30{ 06:2B0681 } A1{ 30{ 04:01 } } }", P15_ERR_MALFORMED },
    { "dodf-oid-arc-33-bits", K_DODF, "30{ 30{} 30{ 06:2B9080808000 } A1{ 30{ 04:01 } } }", P15_ERR_RANGE },
    { "dodf-oid-arc-huge", K_DODF, "30{ 30{} 30{ 06:2BA08080808000 } A1{ 30{ 04:01 } } }", P15_ERR_RANGE },
    { "dodf-oid-first-arc-33-bits", K_DODF, "30{ 30{} 30{ 06:9080808050 } A1{ 30{ 04:01 } } }", P15_ERR_RANGE },
    { "dodf-oid-too-long", K_DODF, "30{ 30{} 30{ 06:2B8FFFFFFF7F8FFFFFFF7F8FFFFFFF7F8FFFFFFF7F8FFFFFFF7F8FFFFFFF7F } A1{ 30{ 04:01 } } }",
      P15_ERR_RANGE },
    { "dodf-oid-before-name", K_DODF, "30{ 30{} 30{ 06:2B06 0C'x' } A1{ 30{ 04:01 } } }", P15_ERR_MALFORMED },
    { "dodf-no-value", K_DODF, "30{ 30{} 30{} A1{ } }", P15_ERR_MALFORMED },
    { "dodf-two-values", K_DODF, "30{ 30{} 30{} A1{ 30{ 04:01 } 30{ 04:02 } } }", P15_ERR_MALFORMED },
    { "dodf-value-wrong-tag", K_DODF, "30{ 30{} 30{} A1{ 04:01 } }", P15_ERR_MALFORMED },
    { "dodf-no-class", K_DODF, "30{ 30{} A1{ 30{ 04:01 } } }", P15_ERR_MALFORMED },
    { "dodf-app-name-bad", K_DODF, "30{ 30{} 30{ 0C:FF } A1{ 30{ 04:01 } } }", P15_ERR_MALFORMED },
};
#define NBAD (sizeof(BAD) / sizeof(BAD[0]))

static void test_bad(void **state)
{
    for (size_t i = 0; i < NBAD; i++) {
        int rc = parse(BAD[i].kind, BAD[i].spec);
        if (rc != BAD[i].rc)
            fail_msg("%s: rc %d (%s), expected %d (%s)", BAD[i].name, rc, p15_strerror(rc), BAD[i].rc,
                     p15_strerror(BAD[i].rc));
    }
}

/* ---- values ---- */

static void test_strings(void **state)
{
    char spec[512];

    /* Vietnamese label: "Khóa ký số" in UTF-8. */
    assert_int_equal(parse(K_DIR, "61{ 4F:A000000063 50'Kh\xC3\xB3" "a k\xC3\xBD s\xE1\xBB\x91' }"), P15_OK);
    assert_string_equal(out.app[0].label, "Kh\xC3\xB3" "a k\xC3\xBD s\xE1\xBB\x91");

    /* 64 bytes fit; 65 are cut to 64. */
    char label[80];
    memset(label, 'x', 65);
    label[65] = '\0';
    snprintf(spec, sizeof(spec), "61{ 4F:A000000063 50'%.64s' }", label);
    assert_int_equal(parse(K_DIR, spec), P15_OK);
    assert_int_equal(strlen(out.app[0].label), 64);
    snprintf(spec, sizeof(spec), "61{ 4F:A000000063 50'%s' }", label);
    assert_int_equal(parse(K_DIR, spec), P15_OK);
    assert_int_equal(strlen(out.app[0].label), 64);

    /* A 3-byte character across the limit is dropped whole. */
    snprintf(spec, sizeof(spec), "61{ 4F:A000000063 50'%.62s\xE1\xBB\x91yz' }", label);
    assert_int_equal(parse(K_DIR, spec), P15_OK);
    assert_int_equal(strlen(out.app[0].label), 62);
    snprintf(spec, sizeof(spec), "61{ 4F:A000000063 50'%.61s\xE1\xBB\x91yz' }", label);
    assert_int_equal(parse(K_DIR, spec), P15_OK);
    assert_int_equal(strlen(out.app[0].label), 64);
    assert_memory_equal(out.app[0].label + 61, "\xE1\xBB\x91", 3);
    /* A 4-byte character (U+1F511) at the end. */
    snprintf(spec, sizeof(spec), "61{ 4F:A000000063 50'%.61s\xF0\x9F\x94\x91' }", label);
    assert_int_equal(parse(K_DIR, spec), P15_OK);
    assert_int_equal(strlen(out.app[0].label), 61);
    snprintf(spec, sizeof(spec), "61{ 4F:A000000063 50'%.60s\xF0\x9F\x94\x91' }", label);
    assert_int_equal(parse(K_DIR, spec), P15_OK);
    assert_int_equal(strlen(out.app[0].label), 64);

    /* Trailing NULs of a fixed-size field are dropped; an empty label. */
    assert_int_equal(parse(K_DIR, "61{ 4F:A000000063 50:564743410000 }"), P15_OK);
    assert_string_equal(out.app[0].label, "VGCA");
    assert_int_equal(parse(K_DIR, "61{ 4F:A000000063 50: }"), P15_OK);
    assert_string_equal(out.app[0].label, "");
    assert_int_equal(parse(K_DIR, "61{ 4F:A000000063 50:00 }"), P15_OK);
    assert_string_equal(out.app[0].label, "");
}

static void test_integers_and_bits(void **state)
{
    static const struct {
        const char *value;
        int rc;
        int min_len;
    } ints[] = {
        { "00", P15_OK, 0 },
        { "7F", P15_OK, 127 },
        { "0080", P15_OK, 128 },
        { "00FF", P15_OK, 255 },
        { "7FFFFFFF", P15_OK, 0x7FFFFFFF },
        { "0080000000", P15_ERR_RANGE, 0 },
        { "80", P15_ERR_RANGE, 0 },
        { "FF", P15_ERR_RANGE, 0 },
        { "007F", P15_ERR_MALFORMED, 0 },
        { "FFFF", P15_ERR_MALFORMED, 0 },
        { "0000", P15_ERR_MALFORMED, 0 },
        { "", P15_ERR_MALFORMED, 0 },
        { "7FFFFFFFFFFFFFFF", P15_ERR_RANGE, 0 },
        { "008000000000000000", P15_ERR_RANGE, 0 },
    };
    char spec[256];

    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        snprintf(spec, sizeof(spec), "30{ 30{} 30{ 04:01 } A1{ 30{ 03:00 0A:02 02:%s 02:08 } } }", ints[i].value);
        int rc = parse(K_AODF, spec);
        if (rc != ints[i].rc)
            fail_msg("INTEGER %s: rc %d, expected %d", ints[i].value, rc, ints[i].rc);
        if (rc == P15_OK)
            assert_int_equal(out.pin[0].min_len, ints[i].min_len);
    }

    /* TokenInfo version takes a whole long, negative included. */
    struct p15_token_info ti;
    struct vec v = V("30{ 02:8000000000000000 03:00 }");
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_OK);
    assert_true(ti.version == LONG_MIN);
    v = V("30{ 02:FF 03:00 }");
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_OK);
    assert_int_equal(ti.version, -1);
    v = V("30{ 02:FF7F 03:00 }");
    assert_int_equal(p15_parse_token_info(v.p, v.n, &ti), P15_OK);
    assert_int_equal(ti.version, -129);

    static const struct {
        const char *value;
        int rc;
        unsigned long bits;
    } bitstrings[] = {
        { "00", P15_OK, 0 },
        { "0780", P15_OK, 0x1 },
        { "0040", P15_OK, 0x2 },
        { "0001", P15_OK, 0x80 },
        { "06FFC0", P15_OK, 0x3FF },
        { "0000800000", P15_OK, 0x100 },       /* trailing zero bits kept */
        { "00000000000000000000", P15_OK, 0 }, /* zeros past 32 bits */
        { "0000000001", P15_OK, 0x80000000UL },
        { "000000000080", P15_ERR_RANGE, 0 },
        { "0781", P15_ERR_MALFORMED, 0 },
        { "0100", P15_OK, 0 },
        { "0101", P15_ERR_MALFORMED, 0 },
        { "08", P15_ERR_MALFORMED, 0 },
        { "", P15_ERR_MALFORMED, 0 },
    };
    for (size_t i = 0; i < sizeof(bitstrings) / sizeof(bitstrings[0]); i++) {
        snprintf(spec, sizeof(spec), "30{ 02:00 03:%s }", bitstrings[i].value);
        v = V(spec);
        int rc = p15_parse_token_info(v.p, v.n, &ti);
        if (rc != bitstrings[i].rc)
            fail_msg("BIT STRING %s: rc %d, expected %d", bitstrings[i].value, rc, bitstrings[i].rc);
        if (rc == P15_OK)
            assert_int_equal(ti.flags, bitstrings[i].bits);
    }
}

static void test_args(void **state)
{
    struct vec v = V(ODF_A);
    struct p15_odf_entry e[8];
    size_t n = 7;

    for (int k = 0; k < K_COUNT; k++) {
        if (k == K_TOKEN)
            continue;
        assert_int_equal(PARSERS[k].fn(v.p, v.n, e, 8, NULL), P15_ERR_ARGS);
        n = 7;
        assert_int_equal(PARSERS[k].fn(NULL, 5, e, 8, &n), P15_ERR_ARGS);
        assert_int_equal(n, 0);
        n = 7;
        assert_int_equal(PARSERS[k].fn(v.p, v.n, NULL, 1, &n), P15_ERR_ARGS);
        assert_int_equal(n, 0);
    }
    /* max 0 and no array: checks the file. */
    assert_int_equal(p15_parse_odf(v.p, v.n, NULL, 0, &n), P15_ERR_TOO_MANY);
    assert_int_equal(n, 0);
    v = V("A0{ 30{ 04+1:7002 } }");
    assert_int_equal(p15_parse_odf(v.p, v.n, NULL, 0, &n), P15_ERR_MALFORMED);

    static const int codes[] = { P15_OK, P15_ERR_MALFORMED, P15_ERR_TOO_MANY, P15_ERR_UNSUPPORTED,
                                 P15_ERR_RANGE, P15_ERR_DEPTH, P15_ERR_ARGS };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *s = p15_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strcmp(s, p15_strerror(-99)) != 0);
        for (size_t j = 0; j < i; j++)
            assert_true(strcmp(s, p15_strerror(codes[j])) != 0);
    }
}

/* Every parser on every vector and every bad vector: results are one of
 * the documented codes and entries are sane. Writes the corpus. */
static void check_entries(enum kind k, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < out_count && i < MAXOUT; i++) {
        switch (k) {
        case K_DIR:
            assert_true(out.app[i].aid_len >= 1 && out.app[i].aid_len <= P15_AID_MAX);
            assert_true(strlen(out.app[i].label) <= P15_LABEL_MAX);
            break;
        case K_ODF:
            assert_true(out.odf[i].type <= 8);
            assert_true(out.odf[i].path.len <= P15_PATH_MAX);
            break;
        case K_PUKDF:
            if (out.puk[i].direct)
                assert_true(out.puk[i].direct >= p && out.puk[i].direct + out.puk[i].direct_len <= p + n);
            break;
        case K_CDF:
            if (out.cert[i].direct)
                assert_true(out.cert[i].direct >= p && out.cert[i].direct + out.cert[i].direct_len <= p + n);
            break;
        case K_DODF:
            assert_true(strlen(out.dobj[i].app_oid) <= P15_OID_MAX);
            break;
        default:
            break;
        }
    }
}

static void write_corpus(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The seed corpus in the source tree holds exactly these bytes. */
static void check_corpus(const char *srcdir, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    uint8_t buf[DER_CAP + 1];
    FILE *f;
    size_t got;

    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/pkcs15/%s", srcdir, name);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("%s missing: regenerate with KYSO_P15_CORPUS=tests/fuzz/corpus/pkcs15", path);
    got = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (got != n || memcmp(buf, p, n) != 0)
        fail_msg("%s differs: regenerate with KYSO_P15_CORPUS=tests/fuzz/corpus/pkcs15", path);
}

static void test_cross_parsers(void **state)
{
    const char *corpus = getenv("KYSO_P15_CORPUS");
    const char *srcdir = getenv("KYSO_SRCDIR");

    for (size_t i = 0; i < NVECTORS + NBAD; i++) {
        const char *spec = i < NVECTORS ? VECTORS[i].spec : BAD[i - NVECTORS].spec;
        const char *name = i < NVECTORS ? VECTORS[i].name : BAD[i - NVECTORS].name;
        struct vec v = V(spec);
        char file[128];
        snprintf(file, sizeof(file), "%s%s", i < NVECTORS ? "" : "bad-", name);
        if (corpus && *corpus)
            write_corpus(corpus, file, v.p, v.n);
        else if (srcdir && *srcdir)
            check_corpus(srcdir, file, v.p, v.n);
        for (int k = 0; k < K_COUNT; k++) {
            uint8_t *copy = keep(v.p, v.n);
            memset(&out, 0, sizeof(out));
            out_count = 0;
            int rc = PARSERS[k].fn(copy, v.n, &out, MAXOUT, &out_count);
            assert_true(rc <= 0 && rc >= P15_ERR_DEPTH);
            assert_true(out_count <= MAXOUT);
            if (rc == P15_OK)
                check_entries((enum kind)k, copy, v.n);
        }
    }
}

#define T(f) cmocka_unit_test_teardown(f, free_pool)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dir),
        T(test_odf),
        T(test_token_info),
        T(test_aodf),
        T(test_prkdf),
        T(test_pukdf),
        T(test_cdf),
        T(test_dodf),
        T(test_vectors_parse),
        T(test_vectors_truncated),
        T(test_vectors_padding),
        T(test_vectors_overlong),
        T(test_vectors_too_many),
        T(test_many_entries),
        T(test_depth),
        T(test_bad),
        T(test_strings),
        T(test_integers_and_bits),
        T(test_args),
        T(test_cross_parsers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
