/* Small helpers shared by the unit tests. Include after <cmocka.h>. */
#ifndef KYSO_TESTS_UNIT_TESTUTIL_H
#define KYSO_TESTS_UNIT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex digits into out, skipping spaces (so that test vectors can
 * be written as "00 A4 04 00"); fails the test on a bad string. */
static inline size_t hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        int hi = hexval(s[0]);
        int lo = s[1] ? hexval(s[1]) : -1;
        assert_true(hi >= 0 && lo >= 0);
        assert_true(n < cap);
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    return n;
}

/* A buffer of n bytes with a recognisable pattern that depends on seed. */
static inline uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);

    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed * 31 + (i >> 8));
    return p;
}

#endif
