/* The text helpers of the audit trail's reader (see report.h): time and
 * period parsing and formatting, UTF-8 decoding, the cleaning and display
 * width of text bound for a terminal, folding for name matching and the
 * attributes of a distinguished name. */
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "audit/report_int.h"

/* ======================================================================
 * Time
 * ====================================================================== */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int report_month_days(int64_t y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 (H. Hinnant's algorithm). */
int64_t report_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void report_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits (stops at the first non-digit, so never reads past a NUL). */
static bool digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

int audit_time_parse(const char *s, int64_t *lo, int64_t *hi)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    int64_t span;

    if (!s || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > report_month_days(y, mo))
        return -1;
    const char *p = s + 10;
    if (*p == '\0') {
        span = 86400000;
    } else {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        p++;
        if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi))
            return -1;
        p += 5;
        span = 60000;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec))
                return -1;
            p += 3;
            span = 1000;
            if (*p == '.' || *p == ',') {
                p++;
                int nd = 0;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3)
                        ms = ms * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return -1;
                for (int k = nd; k < 3; k++)
                    ms *= 10;
                span = nd >= 3 ? 1 : (nd == 2 ? 10 : 100);
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            int sign = *p == '-' ? -1 : 1;
            if (!digits(p + 1, 2, &oh))
                return -1;
            p += 3;
            if (*p == ':')
                p++;
            if (!digits(p, 2, &om))
                return -1;
            p += 2;
            if (oh > 14 || om > 59)
                return -1;
            off = sign * (oh * 60 + om);
        } else {
            return -1; /* no zone: refuse rather than guess the local time */
        }
        if (*p != '\0' || h > 23 || mi > 59 || sec > 59)
            return -1;
    }
    int64_t t = report_days_from_civil(y, mo, d) * 86400000 + (int64_t)h * 3600000 + (int64_t)mi * 60000 +
                (int64_t)sec * 1000 + ms - (int64_t)off * 60000;
    if (t < 0)
        return -1;
    *lo = t;
    *hi = t + span - 1;
    return 0;
}

void audit_time_format(int64_t ms, char *out, size_t outlen)
{
    int64_t days = ms / 86400000, rem = ms % 86400000, y;
    int m, d;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    report_civil_from_days(days, &y, &m, &d);
    snprintf(out, outlen, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600000),
             (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
}

int audit_period_parse(const char *text, struct audit_period *p, char *err, size_t errlen)
{
    int y;
    int64_t lo, hi;
    memset(p, 0, sizeof(*p));
    if (!text || !*text) {
        snprintf(err, errlen, "no period given (2026, 2026-H1, 2026-H2 or FROM..TO)");
        return -1;
    }
    const char *dots = strstr(text, "..");
    if (dots) {
        char from[64];
        size_t n = (size_t)(dots - text);
        int64_t lo2, hi2;
        if (n >= sizeof(from) || n == 0) {
            snprintf(err, errlen, "bad period \"%.80s\": FROM..TO needs both ends", text);
            return -1;
        }
        memcpy(from, text, n);
        from[n] = '\0';
        if (audit_time_parse(from, &lo, &hi) != 0) {
            snprintf(err, errlen, "bad start \"%.64s\" of the period (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", from);
            return -1;
        }
        if (audit_time_parse(dots + 2, &lo2, &hi2) != 0) {
            snprintf(err, errlen, "bad end \"%.64s\" of the period (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", dots + 2);
            return -1;
        }
        if (hi2 < lo) {
            snprintf(err, errlen, "the period %.80s ends before it starts", text);
            return -1;
        }
        p->from = lo;
        p->to = hi2;
        snprintf(p->name, sizeof(p->name), "%.90s", text);
        return 0;
    }
    size_t len = strlen(text);
    if ((len == 4 || len == 7) && digits(text, 4, &y) && y >= 1970 && y <= 9999) {
        int first = 1, last = 12;
        if (len == 7) {
            if (text[4] != '-' || (text[5] != 'H' && text[5] != 'h') || (text[6] != '1' && text[6] != '2'))
                goto unknown;
            first = text[6] == '1' ? 1 : 7;
            last = text[6] == '1' ? 6 : 12;
        }
        p->from = report_days_from_civil(y, first, 1) * 86400000;
        p->to = report_days_from_civil(y, last, report_month_days(y, last)) * 86400000 + 86400000 - 1;
        if (len == 7)
            snprintf(p->name, sizeof(p->name), "%d-H%c", y, text[6]);
        else
            snprintf(p->name, sizeof(p->name), "%d", y);
        return 0;
    }
unknown:
    snprintf(err, errlen,
             "unknown period \"%.80s\": give YEAR (2026), a half year (2026-H1, 2026-H2) or FROM..TO "
             "(YYYY-MM-DD or ISO 8601 UTC times)",
             text);
    return -1;
}

/* ======================================================================
 * UTF-8, distinguished names, folding
 * ====================================================================== */

/* One code point: its length (1..4), or 0 for an invalid sequence. */
static size_t utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
    if (avail == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

static bool is_combining(uint32_t cp)
{
    return (cp >= 0x300 && cp <= 0x36F) || cp == 0x200B || cp == 0xFEFF;
}

/* Characters that must not reach a terminal as they are: controls, C1,
 * line separators and the bidirectional overrides. */
static bool is_unsafe(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Display width of (clean) UTF-8 text: one column per code point, none for
 * combining marks. */
size_t report_text_width(const char *s)
{
    size_t w = 0, len = strlen(s);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(u + i, len - i, &cp);
        if (n == 0) {
            n = 1;
            cp = '?';
        }
        if (!is_combining(cp))
            w++;
        i += n;
    }
    return w;
}

/* Copies s for display: unsafe characters and invalid bytes become '?'.
 * Stops at a character boundary when out is full. */
void report_clean_text(const char *s, char *out, size_t outlen)
{
    size_t o = 0, len = s ? strlen(s) : 0;
    const unsigned char *u = (const unsigned char *)s;
    if (outlen == 0)
        return;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(u + i, len - i, &cp);
        if (n == 0 || is_unsafe(cp)) {
            if (o + 1 >= outlen)
                break;
            out[o++] = '?';
            i += n ? n : 1;
            continue;
        }
        if (o + n >= outlen)
            break;
        memcpy(out + o, u + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
}

/* The base letter of a Latin-1 or Vietnamese letter, lower case; 0 if none. */
static char fold_letter(uint32_t cp)
{
    /* U+00C0..U+00FF; 0: no base letter (Æ, ×, Þ, ß, æ, ÷, þ). */
    static const char latin1[64] = {
        'a', 'a', 'a', 'a', 'a', 'a', 0,   'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i', /* C0 */
        'd', 'n', 'o', 'o', 'o', 'o', 'o', 0,   'o', 'u', 'u', 'u', 'u', 'y', 0,   0,   /* D0 */
        'a', 'a', 'a', 'a', 'a', 'a', 0,   'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i', /* E0 */
        'd', 'n', 'o', 'o', 'o', 'o', 'o', 0,   'o', 'u', 'u', 'u', 'u', 'y', 0,   'y', /* F0 */
    };
    if (cp >= 0xC0 && cp <= 0xFF)
        return latin1[cp - 0xC0];
    switch (cp) {
    case 0x102:
    case 0x103:
        return 'a';
    case 0x110:
    case 0x111:
        return 'd';
    case 0x128:
    case 0x129:
        return 'i';
    case 0x168:
    case 0x169:
    case 0x1AF:
    case 0x1B0:
        return 'u';
    case 0x1A0:
    case 0x1A1:
        return 'o';
    default:
        break;
    }
    if (cp >= 0x1EA0 && cp <= 0x1EB7)
        return 'a';
    if (cp >= 0x1EB8 && cp <= 0x1EC7)
        return 'e';
    if (cp >= 0x1EC8 && cp <= 0x1ECB)
        return 'i';
    if (cp >= 0x1ECC && cp <= 0x1EE3)
        return 'o';
    if (cp >= 0x1EE4 && cp <= 0x1EF1)
        return 'u';
    if (cp >= 0x1EF2 && cp <= 0x1EF9)
        return 'y';
    return 0;
}

size_t audit_fold(const char *in, char *out, size_t outlen)
{
    size_t o = 0, len = in ? strlen(in) : 0;
    const unsigned char *u = (const unsigned char *)in;
    if (outlen == 0)
        return 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(u + i, len - i, &cp);
        if (n == 0) { /* an invalid byte is kept as it is */
            if (o + 1 >= outlen)
                break;
            out[o++] = (char)u[i++];
            continue;
        }
        char c = 0;
        if (cp < 0x80)
            c = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
        else if (is_combining(cp)) {
            i += n;
            continue;
        } else
            c = fold_letter(cp);
        if (c) {
            if (o + 1 >= outlen)
                break;
            out[o++] = c;
        } else {
            if (o + n >= outlen)
                break;
            memcpy(out + o, u + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    return o;
}

int report_hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The names OpenSSL may print for the attribute types we look for. */
static bool dn_type_is(const char *t, size_t tlen, const char *want)
{
    static const char *const aliases[][3] = {
        { "CN", "commonName", "2.5.4.3" },
        { "O", "organizationName", "2.5.4.10" },
        { "title", "title", "2.5.4.12" },
        { "OU", "organizationalUnitName", "2.5.4.11" },
    };
    for (size_t a = 0; a < sizeof(aliases) / sizeof(aliases[0]); a++) {
        if (strcasecmp(aliases[a][0], want) != 0)
            continue;
        for (size_t k = 0; k < 3; k++)
            if (strlen(aliases[a][k]) == tlen && strncasecmp(aliases[a][k], t, tlen) == 0)
                return true;
        return false;
    }
    return strlen(want) == tlen && strncasecmp(want, t, tlen) == 0;
}

int audit_dn_get(const char *dn, const char *type, char *out, size_t outlen)
{
    const char *p = dn;
    if (!dn || !type || outlen == 0)
        return -1;
    while (*p) {
        const char *t = p;
        while (*p && *p != '=' && *p != ',' && *p != '+')
            p++;
        if (*p != '=') { /* no value: skip the component */
            if (*p)
                p++;
            continue;
        }
        size_t tlen = (size_t)(p - t);
        while (tlen > 0 && t[0] == ' ') {
            t++;
            tlen--;
        }
        p++;
        bool want = dn_type_is(t, tlen, type);
        size_t o = 0;
        bool overflow = false;
        while (*p && *p != ',' && *p != '+') {
            char c = *p++;
            if (c == '\\' && *p) {
                int h1 = report_hexdigit(p[0]), h2 = h1 >= 0 ? report_hexdigit(p[1]) : -1;
                if (h1 >= 0 && h2 >= 0) {
                    c = (char)(h1 << 4 | h2);
                    p += 2;
                } else {
                    c = *p++;
                }
            }
            if (want) {
                if (o + 1 < outlen)
                    out[o++] = c;
                else
                    overflow = true;
            }
        }
        if (*p)
            p++;
        if (want) {
            out[o] = '\0';
            return overflow || memchr(out, '\0', o) ? -1 : (int)o;
        }
    }
    return -1;
}
