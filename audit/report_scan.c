/* Reading the audit trail (see report.h): the line reader with a fixed
 * buffer, the offsets of the last lines (kyso audit tail), the record
 * parser (json-c, one line at a time) and the scan of a set of log files.
 * Nothing here verifies the chain. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/report_int.h"

/* ======================================================================
 * Lines
 * ====================================================================== */

#define LINES_BUF (2 * AUDIT_LINES_MAX)

static int open_log(const char *path, int *fd, bool *own, char *err, size_t errlen)
{
    struct stat st;
    if (strcmp(path, "-") == 0) {
        *fd = STDIN_FILENO;
        *own = false;
        return 0;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(*fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot read %s: %s", path, S_ISDIR(st.st_mode) ? "it is a directory" : strerror(errno));
        close(*fd);
        return -1;
    }
    *own = true;
    return 0;
}

int audit_lines_fdopen(struct audit_lines *lr, int fd, uint64_t offset)
{
    memset(lr, 0, sizeof(*lr));
    lr->fd = fd;
    lr->pos = offset;
    lr->buf = malloc(LINES_BUF);
    return lr->buf ? 0 : -1;
}

int audit_lines_open(struct audit_lines *lr, const char *path, char *err, size_t errlen)
{
    int fd;
    bool own;
    if (open_log(path, &fd, &own, err, errlen) != 0)
        return -1;
    if (audit_lines_fdopen(lr, fd, 0) != 0) {
        if (own)
            close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    lr->own_fd = own;
    return 0;
}

enum audit_line_status audit_lines_next(struct audit_lines *lr, const char **line, size_t *len)
{
    size_t scanned = lr->start;
    for (;;) {
        char *nl = lr->end > scanned ? memchr(lr->buf + scanned, '\n', lr->end - scanned) : NULL;
        if (nl) {
            size_t at = (size_t)(nl - lr->buf), s = lr->start;
            lr->pos += at + 1 - s;
            lr->start = at + 1;
            scanned = lr->start;
            if (lr->skipping) { /* the rest of a too long line */
                lr->skipping = false;
                continue;
            }
            lr->lineno++;
            *line = lr->buf + s;
            *len = at - s;
            return AUDIT_LINE_OK;
        }
        if (lr->skipping) {
            lr->pos += lr->end - lr->start;
            lr->start = lr->end = 0;
        } else if (lr->end - lr->start > AUDIT_LINES_MAX) {
            lr->skipping = true;
            lr->lineno++;
            lr->pos += lr->end - lr->start;
            lr->start = lr->end = 0;
            return AUDIT_LINE_TOO_LONG;
        }
        if (lr->start > 0) {
            memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
            lr->end -= lr->start;
            lr->start = 0;
        }
        scanned = lr->end;
        ssize_t n = read(lr->fd, lr->buf + lr->end, LINES_BUF - lr->end);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return AUDIT_LINE_ERROR;
        }
        if (n == 0)
            return lr->end > lr->start && !lr->skipping ? AUDIT_LINE_PARTIAL : AUDIT_LINE_EOF;
        lr->end += (size_t)n;
    }
}

void audit_lines_close(struct audit_lines *lr)
{
    if (lr->own_fd && lr->fd >= 0)
        close(lr->fd);
    free(lr->buf);
    memset(lr, 0, sizeof(*lr));
    lr->fd = -1;
}

static int pread_all(int fd, char *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* the file shrank under us */
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int audit_tail_offsets(int fd, uint64_t n, uint64_t *start, uint64_t *end)
{
    struct stat st;
    char buf[16384];
    if (fstat(fd, &st) != 0)
        return -1;
    uint64_t pos = (uint64_t)st.st_size, e = 0;
    bool found = false;
    while (pos > 0 && !found) {
        size_t chunk = pos < sizeof(buf) ? (size_t)pos : sizeof(buf);
        pos -= chunk;
        if (pread_all(fd, buf, chunk, pos) != 0)
            return -1;
        for (size_t i = chunk; i-- > 0;)
            if (buf[i] == '\n') {
                e = pos + i + 1;
                found = true;
                break;
            }
    }
    *start = *end = e;
    if (!found || n == 0)
        return 0;
    /* The newline at e-1 ends the last line; the n-th one before it starts the first. */
    uint64_t count = 0;
    pos = e - 1;
    while (pos > 0) {
        size_t chunk = pos < sizeof(buf) ? (size_t)pos : sizeof(buf);
        pos -= chunk;
        if (pread_all(fd, buf, chunk, pos) != 0)
            return -1;
        for (size_t i = chunk; i-- > 0;)
            if (buf[i] == '\n' && ++count == n) {
                *start = pos + i + 1;
                return 0;
            }
    }
    *start = 0;
    return 0;
}

/* ======================================================================
 * Records
 * ====================================================================== */

struct audit_parser {
    json_tokener *tok;
    json_object *obj;
    bool bad; /* a string field with a NUL inside */
    char cn[512], title[512], org[512];
};

struct audit_parser *audit_parser_new(void)
{
    struct audit_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->tok = json_tokener_new();
    if (!p->tok) {
        free(p);
        return NULL;
    }
    /* Trailing data is checked here, to name it. */
    json_tokener_set_flags(p->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8
#ifdef JSON_TOKENER_ALLOW_TRAILING_CHARS
                                       | JSON_TOKENER_ALLOW_TRAILING_CHARS
#endif
    );
    return p;
}

void audit_parser_free(struct audit_parser *p)
{
    if (!p)
        return;
    json_object_put(p->obj);
    json_tokener_free(p->tok);
    free(p);
}

static const char *get_str(struct audit_parser *p, json_object *o, const char *name)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v)) {
        p->bad = true;
        return NULL;
    }
    return s;
}

static bool get_int(json_object *o, const char *name, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

int audit_parser_parse(struct audit_parser *p, const char *line, size_t len, struct audit_record *rec,
                       const char **reason)
{
    int64_t hi;
    json_object_put(p->obj);
    p->obj = NULL;
    p->bad = false;
    memset(rec, 0, sizeof(*rec));
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    rec->line = line;
    rec->len = len;
    if (len == 0) {
        *reason = "empty line";
        return -1;
    }
    if (len > INT_MAX || memchr(line, '\0', len)) {
        *reason = "a NUL byte in the line";
        return -1;
    }
    json_tokener_reset(p->tok);
    json_object *o = json_tokener_parse_ex(p->tok, line, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(p->tok);
    if (!o || jerr != json_tokener_success) {
        json_object_put(o);
        *reason = jerr == json_tokener_continue ? "not JSON (incomplete)"
                  : jerr == json_tokener_error_parse_utf8_string ? "not UTF-8"
                                                                 : "not JSON";
        return -1;
    }
    p->obj = o;
    if ((size_t)json_tokener_get_parse_end(p->tok) != len) {
        *reason = "data after the record";
        return -1;
    }
    if (!json_object_is_type(o, json_type_object)) {
        *reason = "not a JSON object";
        return -1;
    }
    rec->time = get_str(p, o, "time");
    rec->event = get_str(p, o, "event");
    rec->of = get_str(p, o, "of");
    if (!rec->time || audit_time_parse(rec->time, &rec->time_ms, &hi) != 0) {
        *reason = "no valid time";
        return -1;
    }
    if (!rec->event || !*rec->event) {
        *reason = "no event";
        return -1;
    }
    rec->has_seq = get_int(o, "seq", &rec->seq);
    rec->has_uid = get_int(o, "uid", &rec->uid);
    rec->has_pid = get_int(o, "pid", &rec->pid);
    rec->has_input_len = get_int(o, "input_len", &rec->input_len);
    rec->host = get_str(p, o, "host");
    rec->user = get_str(p, o, "user");
    rec->exe = get_str(p, o, "exe");
    rec->program = get_str(p, o, "program");
    rec->module = get_str(p, o, "module");
    rec->reader = get_str(p, o, "reader");
    rec->token = get_str(p, o, "token");
    rec->key = get_str(p, o, "key");
    rec->mechanism = get_str(p, o, "mechanism");
    rec->input_sha256 = get_str(p, o, "input_sha256");
    rec->outcome = get_str(p, o, "outcome");
    rec->rule = get_str(p, o, "rule");
    rec->detail = get_str(p, o, "detail");
    rec->log_id = get_str(p, o, "log_id");
    json_object *cert;
    if (json_object_object_get_ex(o, "cert", &cert) && json_object_is_type(cert, json_type_object)) {
        rec->has_cert = true;
        rec->cert_sha256 = get_str(p, cert, "sha256");
        rec->cert_serial = get_str(p, cert, "serial");
        rec->cert_subject = get_str(p, cert, "subject");
        rec->cert_title = get_str(p, cert, "title");
        rec->cert_issuer = get_str(p, cert, "issuer");
        rec->cert_organization = get_str(p, cert, "organization");
        rec->cert_not_after = get_str(p, cert, "not_after");
        if (audit_dn_get(rec->cert_subject, "CN", p->cn, sizeof(p->cn)) > 0)
            rec->cert_cn = p->cn;
        if (!rec->cert_title && audit_dn_get(rec->cert_subject, "title", p->title, sizeof(p->title)) > 0)
            rec->cert_title = p->title;
        if (!rec->cert_organization && audit_dn_get(rec->cert_subject, "O", p->org, sizeof(p->org)) > 0)
            rec->cert_organization = p->org;
    }
    if (p->bad) {
        *reason = "a NUL character in a field";
        return -1;
    }
    rec->program_name = rec->program;
    if (!rec->program_name && rec->exe) {
        const char *slash = strrchr(rec->exe, '/');
        rec->program_name = slash ? (slash[1] ? slash + 1 : NULL) : rec->exe;
    }
    return 0;
}

/* ======================================================================
 * Scanning files
 * ====================================================================== */

const char *audit_log_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "(standard input)" : path;
}

void audit_scan_note_malformed(struct audit_scan_stats *st, const char *file, uint64_t line, const char *reason)
{
    st->malformed++;
    if (st->nexamples < AUDIT_SCAN_EXAMPLES) {
        st->examples[st->nexamples].file = file;
        st->examples[st->nexamples].line = line;
        snprintf(st->examples[st->nexamples].reason, sizeof(st->examples[0].reason), "%s", reason);
        st->nexamples++;
    }
}

int audit_scan_files(const char *const *files, size_t n, audit_record_fn fn, void *arg,
                     struct audit_scan_stats *st, char *err, size_t errlen)
{
    int rc = 0;
    int *fds = calloc(n ? n : 1, sizeof(*fds));
    bool *own = calloc(n ? n : 1, sizeof(*own));
    struct audit_parser *parser = audit_parser_new();
    size_t opened = 0;

    memset(st, 0, sizeof(*st));
    if (!fds || !own || !parser) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    for (; opened < n; opened++)
        if (open_log(files[opened], &fds[opened], &own[opened], err, errlen) != 0) {
            rc = -1;
            goto out;
        }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *name = audit_log_name(files[i]);
        struct audit_lines lr;
        if (audit_lines_fdopen(&lr, fds[i], 0) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        for (;;) {
            const char *line, *why;
            size_t len;
            struct audit_record rec;
            enum audit_line_status ls = audit_lines_next(&lr, &line, &len);
            if (ls == AUDIT_LINE_OK) {
                st->lines++;
                if (audit_parser_parse(parser, line, len, &rec, &why) == 0) {
                    st->records++;
                    rec.file = name;
                    rec.lineno = lr.lineno;
                    rc = fn(&rec, arg);
                    if (rc != 0)
                        break;
                } else {
                    audit_scan_note_malformed(st, name, lr.lineno, why);
                }
            } else if (ls == AUDIT_LINE_TOO_LONG) {
                st->lines++;
                audit_scan_note_malformed(st, name, lr.lineno, "line too long");
            } else if (ls == AUDIT_LINE_PARTIAL) {
                st->incomplete++;
                break;
            } else if (ls == AUDIT_LINE_EOF) {
                break;
            } else {
                snprintf(err, errlen, "cannot read %s: %s", name, strerror(errno));
                rc = -1;
                break;
            }
        }
        free(lr.buf);
    }
out:
    for (size_t i = 0; i < opened; i++)
        if (own[i])
            close(fds[i]);
    free(fds);
    free(own);
    audit_parser_free(parser);
    return rc;
}
