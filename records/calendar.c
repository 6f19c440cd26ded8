/* The working-day calendar: a sorted list of exceptions to the week (days
 * off on weekdays, worked weekend days), looked up by binary search. */
#include "config.h"

#include "records/calendar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/record.h"

#define MAX_DAYS 4096

struct day {
    int64_t day;
    int off;      /* 1: a day off; 0: a weekend day worked; -1: as the week says */
};

struct records_calendar {
    struct day d[MAX_DAYS];
    size_t n;
    int first_year, last_year;
};

static struct day *find(const struct records_calendar *c, int64_t day)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->d[mid].day == day)
            return (struct day *)&c->d[mid];
        if (c->d[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int cmp_day(const void *a, const void *b)
{
    const struct day *x = a, *y = b;
    return x->day < y->day ? -1 : x->day > y->day;
}

static int weekend(int64_t day)
{
    /* 1970-01-01 was a Thursday: 0 Thu ... 2 Sat, 3 Sun */
    int64_t w = ((day % 7) + 7) % 7;
    return w == 2 || w == 3;
}

static int set(struct records_calendar *c, int64_t day, int off)
{
    struct day *d = find(c, day);
    if (d) {
        d->off = off;
        return 0;
    }
    if (c->n >= MAX_DAYS)
        return -1;
    c->d[c->n].day = day;
    c->d[c->n].off = off;
    c->n++;
    qsort(c->d, c->n, sizeof(c->d[0]), cmp_day);
    return 0;
}

static int read_file(struct records_calendar *c, const char *path, int must, char *why, size_t whylen)
{
    FILE *f = fopen(path, "re");
    char line[512];
    size_t ln = 0;

    if (!f) {
        if (!must && errno == ENOENT)
            return 0;
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        ln++;
        size_t l = strlen(line);
        if (l == sizeof(line) - 1 && line[l - 1] != '\n') {
            snprintf(why, whylen, "%s:%zu: line too long", path, ln);
            goto bad;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
            continue;
        int off = 1;
        if (*s == '!')
            off = -1, s++;
        else if (*s == '+')
            off = 0, s++;
        char date[11];
        int64_t day;
        memcpy(date, s, 10);
        date[10] = '\0';
        if (strnlen(s, 10) < 10 || records_date_parse(date, &day) < 0 ||
            (s[10] != '\0' && !strchr(" \t\r\n", s[10]))) {
            snprintf(why, whylen, "%s:%zu: not a date YYYY-MM-DD (with ! or + before it, a comment after it)", path, ln);
            goto bad;
        }
        if (off == 0 && !weekend(day)) {
            snprintf(why, whylen, "%s:%zu: +%s is not a Saturday or Sunday", path, ln, date);
            goto bad;
        }
        if (set(c, day, off) < 0) {
            snprintf(why, whylen, "%s:%zu: more than %d dates", path, ln, MAX_DAYS);
            goto bad;
        }
        int y = atoi(date);
        if (!c->first_year || y < c->first_year)
            c->first_year = y;
        if (y > c->last_year)
            c->last_year = y;
    }
    if (ferror(f)) {
        snprintf(why, whylen, "%s: read error", path);
        goto bad;
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    return -1;
}

struct records_calendar *records_calendar_load(const char *path, const char *override, char *why, size_t whylen)
{
    struct records_calendar *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    if (read_file(c, path, 1, why, whylen) < 0 || (override && read_file(c, override, 0, why, whylen) < 0)) {
        free(c);
        return NULL;
    }
    return c;
}

void records_calendar_free(struct records_calendar *cal)
{
    free(cal);
}

void records_calendar_years(const struct records_calendar *cal, int *first, int *last)
{
    *first = cal->first_year;
    *last = cal->last_year;
}

bool records_is_working_day(const struct records_calendar *cal, int64_t day)
{
    const struct day *d = find(cal, day);
    if (d && d->off >= 0)
        return d->off == 0;
    return !weekend(day);
}

int64_t records_working_days_between(const struct records_calendar *cal, int64_t from, int64_t to)
{
    int64_t n = 0, sign = 1;
    if (to < from) {
        int64_t t = from;
        from = to, to = t, sign = -1;
    }
    for (int64_t d = from + 1; d <= to; d++)
        n += records_is_working_day(cal, d);
    return sign * n;
}

int64_t records_add_working_days(const struct records_calendar *cal, int64_t from, int64_t n)
{
    int64_t d = from;
    while (n > 0) {
        d++;
        n -= records_is_working_day(cal, d);
    }
    return d;
}
