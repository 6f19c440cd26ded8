/* Records: ids, the integrity hash, strict parsing, dates and times. The
 * member-by-member schema check is in validate.c. */
#include "config.h"

#include "records/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "records/canon.h"

void records_problem(struct records_problems *p, const char *fmt, ...)
{
    va_list ap;

    if (p->n >= RECORDS_MAX_PROBLEMS) {
        p->dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(p->line[p->n], RECORDS_PROBLEM_LEN, fmt, ap);
    va_end(ap);
    p->n++;
}

int records_new_id_at(char out[24], int64_t when)
{
    unsigned char r[4];
    struct tm tm;
    time_t t = (time_t)when;

    if (RAND_bytes(r, sizeof(r)) != 1 || !localtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year < 0) {
        out[0] = '\0';
        return -1;
    }
    /* (formatted at full width first: the compiler cannot see that the
     * date's fields are in range) */
    char id[64];
    int n = snprintf(id, sizeof(id), "KR-%04d%02d%02d-%02x%02x%02x%02x", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, r[0], r[1], r[2], r[3]);
    if (n != 20) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out, id, (size_t)n + 1);
    return 0;
}

int records_new_id(char out[24])
{
    return records_new_id_at(out, (int64_t)time(NULL));
}

int records_hash(const json_object *obj, char out_hex[65])
{
    char *c = NULL, why[128];
    size_t len = 0;
    unsigned char md[32];
    unsigned int mdlen = 0;

    out_hex[0] = '\0';
    if (!json_object_is_type((json_object *)obj, json_type_object) ||
        records_canonical_skip(obj, "integrity", &c, &len, why, sizeof(why)) < 0)
        return -1;
    int ok = EVP_Digest(c, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
    free(c);
    if (!ok)
        return -1;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out_hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int records_seal(json_object *obj)
{
    char h[65];
    json_object *integ;

    if (records_hash(obj, h) < 0 || !(integ = json_object_new_object()))
        return -1;
    if (json_object_object_add(integ, "sha256", json_object_new_string(h)) < 0 ||
        json_object_object_add(obj, "integrity", integ) < 0) {
        json_object_put(integ);
        return -1;
    }
    return 0;
}

json_object *records_parse(const char *text, size_t len, char *why, size_t whylen)
{
    json_tokener *tok;
    json_object *o;

    if (len > RECORDS_MAX_FILE || len > (size_t)INT32_MAX) {
        snprintf(why, whylen, "larger than %d bytes", RECORDS_MAX_FILE);
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        snprintf(why, whylen, "holds a NUL byte");
        return NULL;
    }
    if (!(tok = json_tokener_new_ex(RECORDS_MAX_DEPTH))) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    if (!o && err == json_tokener_continue) {
        /* A number that ends the text ("6", or "6 " cut to its digits)
         * is complete only once json-c sees a terminator: give it one. */
        o = json_tokener_parse_ex(tok, "", 1);
        err = json_tokener_get_error(tok);
        off = len;
    }
    if (!o && err == json_tokener_continue)
        snprintf(why, whylen, "not JSON: the text ends inside a value");
    else if (!o || err != json_tokener_success)
        goto bad;
    else {
        /* nothing but white space after the value */
        for (; off < len; off++) {
            if (!strchr(" \t\r\n", text[off])) {
                json_object_put(o);
                o = NULL;
                err = json_tokener_error_parse_unexpected;
                goto bad;
            }
        }
    }
    json_tokener_free(tok);
    return o;
bad: {
    size_t line = 1;
    for (size_t i = 0; i < off && i < len; i++)
        line += text[i] == '\n';
    snprintf(why, whylen, "not JSON (line %zu): %s", line,
             o ? "text after the value" : json_tokener_error_desc(err));
    json_object_put(o);
    json_tokener_free(tok);
    return NULL;
}
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void records_date_format(int64_t z, char out[11])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999) {
        snprintf(out, 11, "0000-00-00");
        return;
    }
    char t[32];
    snprintf(t, sizeof(t), "%04d-%02u-%02u", (int)y, m % 100, d % 100);
    memcpy(out, t, 11);
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" at s (at least 10 bytes, not necessarily terminated). */
static int date_at(const char *s, int64_t *day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) || s[7] != '-' || digits(s + 8, 2, &d))
        return -1;
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)))
        return -1;
    *day = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

int records_date_parse(const char *s, int64_t *day)
{
    if (strnlen(s, 11) != 10)
        return -1;
    return date_at(s, day);
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM). A leap second
 * (:60) is accepted and counted as the next second. */
int records_time_parse(const char *s, int64_t *epoch)
{
    size_t n = strnlen(s, 64), i = 19;
    int64_t day;
    int hh, mm, ss, oh = 0, om = 0, sign = 0;

    if (n < 20 || date_at(s, &day) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &hh) ||
        s[13] != ':' || digits(s + 14, 2, &mm) || s[16] != ':' || digits(s + 17, 2, &ss))
        return -1;
    if (hh > 23 || mm > 59 || ss > 60)
        return -1;
    if (s[i] == '.') {
        size_t j = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return -1;
    }
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        sign = 0;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
               !digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return -1;
    }
    *epoch = day * 86400 + hh * 3600 + mm * 60 + ss - sign * (oh * 3600 + om * 60);
    return 0;
}

json_object *records_parties_load(const char *path, const char *kind, struct records_problems *p)
{
    char why[160];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        records_problem(p, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > RECORDS_MAX_FILE) {
        records_problem(p, "%s: not a regular file of at most %d bytes", path, RECORDS_MAX_FILE);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size, len = 0;
    char *text = malloc(cap + 1);
    if (!text) {
        records_problem(p, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    while (len < cap) {
        ssize_t r = read(fd, text + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    json_object *a = records_parse(text, len, why, sizeof(why));
    free(text);
    if (!a) {
        records_problem(p, "%s: %s", path, why);
        return NULL;
    }
    if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) == 0) {
        records_problem(p, "%s: must be a JSON array of one or more parties", path);
        json_object_put(a);
        return NULL;
    }
    /* the lines name the file, then the party */
    struct records_problems q = {0};
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        char pre[32];
        snprintf(pre, sizeof(pre), "parties[%zu]", i);
        records_validate_party(json_object_array_get_idx(a, i), pre, &q);
    }
    if (kind)
        records_check_roles(a, kind, "parties", &q);
    for (size_t i = 0; i < q.n; i++)
        records_problem(p, "%s: %s", path, q.line[i]);
    p->dropped += q.dropped;
    if (q.n) {
        json_object_put(a);
        return NULL;
    }
    return a;
}
