/* RFC 8785 canonical JSON. Members are ordered by the UTF-16 code units
 * of their names (what ECMAScript's sort does), which differs from UTF-8
 * byte order only above U+FFFF: a surrogate pair (D800-DBFF) sorts before
 * BMP characters E000-FFFF. */
#include "config.h"

#include "records/canon.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Decodes one code point at s (len bytes left); returns its length or 0
 * when the sequence is not well-formed UTF-8. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (len == 0)
        return 0;
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

int records_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;

    while (len) {
        size_t n = utf8_next(u, len, &cp);
        if (!n)
            return 0;
        u += n;
        len -= n;
    }
    return 1;
}

/* UTF-16 code unit order of two valid UTF-8 names. */
static int cmp_utf16(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t xl = strlen(a), yl = strlen(b);
    uint16_t xu[2], yu[2];
    int xn = 0, yn = 0, xi = 0, yi = 0;

    for (;;) {
        if (xi == xn) {
            uint32_t cp;
            size_t n = xl ? utf8_next(x, xl, &cp) : 0;
            if (!n) {
                xn = 0;
            } else {
                x += n, xl -= n, xi = 0;
                if (cp >= 0x10000) {
                    xu[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
                    xu[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
                    xn = 2;
                } else {
                    xu[0] = (uint16_t)cp, xn = 1;
                }
            }
        }
        if (yi == yn) {
            uint32_t cp;
            size_t n = yl ? utf8_next(y, yl, &cp) : 0;
            if (!n) {
                yn = 0;
            } else {
                y += n, yl -= n, yi = 0;
                if (cp >= 0x10000) {
                    yu[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
                    yu[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
                    yn = 2;
                } else {
                    yu[0] = (uint16_t)cp, yn = 1;
                }
            }
        }
        if (!xn || !yn)
            return xn ? 1 : yn ? -1 : 0;
        if (xu[xi] != yu[yi])
            return xu[xi] < yu[yi] ? -1 : 1;
        xi++, yi++;
    }
}

static int cmp_names(const void *a, const void *b)
{
    return cmp_utf16(*(const char *const *)a, *(const char *const *)b);
}

static int put_string(struct buf *b, const char *s, size_t len, char *why, size_t whylen)
{
    if (!records_utf8_valid(s, len)) {
        snprintf(why, whylen, "a string is not valid UTF-8");
        return -1;
    }
    put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof(u), "\\u%04x", c);
                esc = u;
            }
        }
        if (esc) {
            put(b, s + i - run, run);
            run = 0;
            put(b, esc, strlen(esc));
        } else {
            run++;
        }
    }
    put(b, s + len - run, run);
    put(b, "\"", 1);
    return 0;
}

static int put_value(struct buf *b, json_object *o, const char *skip, int depth, char *why, size_t whylen)
{
    char num[32];

    if (depth > RECORDS_MAX_DEPTH) {
        snprintf(why, whylen, "nested deeper than %d levels", RECORDS_MAX_DEPTH);
        return -1;
    }
    switch (json_object_get_type(o)) {
    case json_type_null:
        put(b, "null", 4);
        return 0;
    case json_type_boolean:
        if (json_object_get_boolean(o))
            put(b, "true", 4);
        else
            put(b, "false", 5);
        return 0;
    case json_type_int: {
        /* json-c keeps values above INT64_MAX as unsigned; either way JCS
         * (an IEEE 754 double) carries integers exactly only to 2^53 - 1 */
        int64_t v = json_object_get_int64(o);
        if (v >= 0 ? json_object_get_uint64(o) > (uint64_t)RECORDS_MAX_SAFE_INT : v < -RECORDS_MAX_SAFE_INT) {
            snprintf(why, whylen, "integer beyond 2^53-1 in size cannot be canonical");
            return -1;
        }
        snprintf(num, sizeof(num), "%lld", (long long)v);
        put(b, num, strlen(num));
        return 0;
    }
    case json_type_double:
        snprintf(why, whylen, "a number is not an integer (the schema has only integers)");
        return -1;
    case json_type_string:
        return put_string(b, json_object_get_string(o), (size_t)json_object_get_string_len(o), why, whylen);
    case json_type_array: {
        size_t n = json_object_array_length(o);
        put(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                put(b, ",", 1);
            if (put_value(b, json_object_array_get_idx(o, i), NULL, depth + 1, why, whylen))
                return -1;
        }
        put(b, "]", 1);
        return 0;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(o), k = 0;
        const char **names = calloc(n ? n : 1, sizeof(*names));
        if (!names) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        json_object_object_foreach(o, key, val) {
            (void)val;
            if (k < n && !(skip && strcmp(key, skip) == 0))
                names[k++] = key;
        }
        for (size_t i = 0; i < k; i++) {
            if (!records_utf8_valid(names[i], strlen(names[i]))) {
                free(names);
                snprintf(why, whylen, "a member name is not valid UTF-8");
                return -1;
            }
        }
        qsort(names, k, sizeof(*names), cmp_names);
        put(b, "{", 1);
        for (size_t i = 0; i < k; i++) {
            if (i)
                put(b, ",", 1);
            if (put_string(b, names[i], strlen(names[i]), why, whylen) < 0) {
                free(names);
                return -1;
            }
            put(b, ":", 1);
            if (put_value(b, json_object_object_get(o, names[i]), NULL, depth + 1, why, whylen)) {
                free(names);
                return -1;
            }
        }
        put(b, "}", 1);
        free(names);
        return 0;
    }
    }
    snprintf(why, whylen, "unknown JSON value type");
    return -1;
}

int records_canonical_skip(const json_object *o, const char *skip, char **out, size_t *len,
                           char *why, size_t whylen)
{
    struct buf b = {0};

    *out = NULL;
    *len = 0;
    /* json-c's accessors take non-const pointers but do not modify */
    if (put_value(&b, (json_object *)o, skip, 0, why, whylen) < 0) {
        free(b.p);
        return -1;
    }
    if (b.failed || !b.p) {
        free(b.p);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int records_canonical(const json_object *o, char **out, size_t *len, char *why, size_t whylen)
{
    return records_canonical_skip(o, NULL, out, len, why, whylen);
}
