/* kyso-auditd's memory of the requests it wrote; see ledger.h. */
#include "config.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/auditd/ledger.h"

struct ledger {
    struct ledger_entry *ring;     /* LEDGER_ENTRIES, oldest overwritten */
    size_t next, count;
    char (*tombs)[AUDIT_REQUEST_ID_LEN + 1];
    size_t tomb_next, tomb_count;
};

struct ledger *ledger_new(void)
{
    struct ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->ring = calloc(LEDGER_ENTRIES, sizeof(*l->ring));
    l->tombs = calloc(LEDGER_TOMBSTONES, sizeof(*l->tombs));
    if (!l->ring || !l->tombs) {
        ledger_free(l);
        return NULL;
    }
    return l;
}

void ledger_free(struct ledger *l)
{
    if (!l)
        return;
    free(l->ring);
    free(l->tombs);
    free(l);
}

struct ledger_entry *ledger_find(struct ledger *l, const char *request)
{
    /* Newest first: a request looked up is nearly always a recent one. */
    for (size_t k = 0; k < l->count; k++) {
        struct ledger_entry *e = &l->ring[(l->next + LEDGER_ENTRIES - 1 - k) % LEDGER_ENTRIES];
        if (strcmp(e->request, request) == 0)
            return e;
    }
    return NULL;
}

void ledger_add(struct ledger *l, const char *request, uint64_t seq, uid_t uid, bool releases)
{
    struct ledger_entry *e = &l->ring[l->next];
    memset(e, 0, sizeof(*e));
    snprintf(e->request, sizeof(e->request), "%s", request);
    e->seq = seq;
    e->uid = uid;
    e->releases = releases;
    l->next = (l->next + 1) % LEDGER_ENTRIES;
    if (l->count < LEDGER_ENTRIES)
        l->count++;
}

void ledger_bury(struct ledger *l, const char *request)
{
    snprintf(l->tombs[l->tomb_next], sizeof(l->tombs[0]), "%s", request);
    l->tomb_next = (l->tomb_next + 1) % LEDGER_TOMBSTONES;
    if (l->tomb_count < LEDGER_TOMBSTONES)
        l->tomb_count++;
}

bool ledger_buried(const struct ledger *l, const char *request)
{
    for (size_t i = 0; i < l->tomb_count; i++)
        if (strcmp(l->tombs[i], request) == 0)
            return true;
    return false;
}

/* The last max bytes of the log, from a line's start; *whole when that
 * is the whole file. */
static char *read_tail(const char *path, size_t max, size_t *len, bool *whole)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    char *buf = NULL;
    *len = 0;
    *whole = true;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
        size_t want = (size_t)sb.st_size < max ? (size_t)sb.st_size : max;
        *whole = (size_t)sb.st_size <= max;
        off_t from = sb.st_size - (off_t)want;
        buf = malloc(want + 1);
        ssize_t n = buf ? pread(fd, buf, want, from) : -1;
        if (n == (ssize_t)want) {
            size_t start = 0;
            if (from > 0) { /* the first line is cut: skip it */
                char *nl = memchr(buf, '\n', want);
                start = nl ? (size_t)(nl - buf) + 1 : want;
            }
            memmove(buf, buf + start, want - start);
            *len = want - start;
            buf[*len] = '\0';
        } else {
            free(buf);
            buf = NULL;
        }
    }
    close(fd);
    return buf;
}

static const char *str_field(json_object *o, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t int_field(json_object *o, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
                                                                                           : -1;
}

void ledger_load(struct ledger *l, const char *log_path)
{
    l->next = l->count = 0;
    size_t len;
    bool whole;
    char *buf = read_tail(log_path, LEDGER_SCAN_BYTES, &len, &whole);
    if (!buf)
        return;
    json_tokener *tok = json_tokener_new();
    for (char *line = buf; tok && line < buf + len;) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, line, (int)n);
        const char *request = o ? str_field(o, "request") : NULL, *event = o ? str_field(o, "event") : NULL;
        if (request && event && strlen(request) == AUDIT_REQUEST_ID_LEN) {
            if (strcmp(event, "withheld") == 0) {
                struct ledger_entry *e = ledger_find(l, request);
                if (e)
                    e->withheld = true;
            } else {
                const char *outcome = str_field(o, "outcome");
                ledger_add(l, request, (uint64_t)int_field(o, "seq"), (uid_t)int_field(o, "uid"),
                           audit_event_releases(event) && outcome && strcmp(outcome, "CKR_OK") == 0);
            }
        }
        json_object_put(o);
        line += n + 1;
    }
    json_tokener_free(tok);
    free(buf);
}

/* The record with seq in the tail of the log. A withholding follows its
 * record within seconds, so the last 64 KiB nearly always hold it: only
 * then is more read (the daemon must not read megabytes per request). */
void *ledger_read_record(const char *log_path, uint64_t seq)
{
    char prefix[48];
    int plen = snprintf(prefix, sizeof(prefix), "{\"v\":1,\"seq\":%llu,", (unsigned long long)seq);
    json_object *found = NULL;
    static const size_t tails[] = { 64 * 1024, 1024 * 1024, LEDGER_SCAN_BYTES };
    bool whole = false;
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]) && !found && !whole; t++) {
        size_t len;
        char *buf = read_tail(log_path, tails[t], &len, &whole);
        for (char *line = buf; buf && line < buf + len && !found;) {
            char *nl = memchr(line, '\n', (size_t)(buf + len - line));
            size_t n = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
            if (n > (size_t)plen && memcmp(line, prefix, (size_t)plen) == 0) {
                json_tokener *tok = json_tokener_new();
                found = tok ? json_tokener_parse_ex(tok, line, (int)n) : NULL;
                json_tokener_free(tok);
            }
            line += n + 1;
        }
        free(buf);
        if (!buf)
            break;
    }
    return found;
}
