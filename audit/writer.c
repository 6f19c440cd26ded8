/* The audit trail's writer: appends sealed records to the log under an
 * exclusive lock (threads: a mutex; processes: flock on the state file),
 * makes them durable with one flush per batch (group commit), then moves
 * the state on. A crash between the two leaves records past the state,
 * which the next writer checks with the key the state holds and adopts; an
 * incomplete last line is dropped (its signature was never released). No
 * caller was told that adopted records were durable, so nothing they
 * record was released: each one that says so (a sign, decrypt or derive
 * with CKR_OK) is followed by a "withheld" record naming it.
 *
 * A rotation writes the new log (its log_continue record) as LOG.new,
 * renames LOG to the archive and LOG.new to LOG, then moves the state on.
 * A crash between the renames leaves LOG.new alone: the next writer
 * finishes the rename. A crash before the state is written leaves a log
 * shorter than its state whose first record continues the state's chain:
 * the next writer adopts it. Anything else shorter is a truncation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "audit/internal.h"

struct audit_writer {
    char *log_path;
    int log_fd, state_fd;
    pthread_mutex_t lock;
    uint64_t last_seq;             /* of the last record this writer appended */
};

/* Makes the names in path's directory durable (after a create or rename). */
static bool sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    free(dir);
    return ok;
}

static char *suffixed(const char *log_path, const char *suffix)
{
    size_t n = strlen(log_path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", log_path, suffix);
    return p;
}

static char *state_path_of(const char *log_path)
{
    size_t n = strlen(log_path);
    char *p = malloc(n + 7);
    if (p)
        snprintf(p, n + 7, "%s.state", log_path);
    return p;
}

static bool write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Checks one line against the state and moves the state past it. */
static bool adopt_line(struct audit_state *st, const char *line, size_t len)
{
    static const char mac_tag[] = ",\"mac\":\"";
    if (len < 2 + 64 + sizeof(mac_tag) || memcmp(line + len - 2, "\"}", 2) != 0)
        return false;
    size_t body = len - 2 - 64 - (sizeof(mac_tag) - 1);
    if (memcmp(line + body, mac_tag, sizeof(mac_tag) - 1) != 0)
        return false;
    uint8_t mac[AUDIT_HASH_LEN], want[AUDIT_HASH_LEN];
    char hex[65];
    memcpy(hex, line + body + sizeof(mac_tag) - 1, 64);
    hex[64] = '\0';
    char seq_text[32];
    int m = snprintf(seq_text, sizeof(seq_text), "{\"v\":1,\"seq\":%llu,", (unsigned long long)st->next_seq);
    if (!audit_unhex_lower(hex, want, sizeof(want)) || m <= 0 || (size_t)m > body ||
        memcmp(line, seq_text, (size_t)m) != 0)
        return false;
    audit_mac(st->key, (const uint8_t *)line, body, mac);
    if (CRYPTO_memcmp(mac, want, sizeof(mac)) != 0)
        return false;
    audit_line_hash(line, len, st->prev);
    audit_evolve(st->key);
    st->next_seq++;
    return true;
}

/* True if the log's first record is the log_continue that carries on the
 * state's chain: a rotation that crashed before writing the state. Only
 * the writer holding the state's key can have made it. */
static bool starts_with_continuation(struct audit_writer *w, const struct audit_state *st)
{
    static const char event[] = ",\"event\":\"log_continue\"";
    char *line = malloc(AUDIT_MAX_LINE);
    ssize_t got = line ? pread(w->log_fd, line, AUDIT_MAX_LINE, 0) : -1;
    const char *nl = got > 0 ? memchr(line, '\n', (size_t)got) : NULL;
    bool ok = false;
    if (nl) {
        struct audit_state next = *st;
        size_t len = (size_t)(nl - line);
        /* The MAC vouches for the line: an "event" key with these quotes
         * cannot come from inside a JSON string. */
        ok = adopt_line(&next, line, len) && memmem(line, len, event, sizeof(event) - 1) != NULL;
        OPENSSL_cleanse(&next, sizeof(next));
    }
    free(line);
    return ok;
}

/* Records a crashed writer left past the state: nobody was told they are
 * durable, so what they say was released was not. */
#define MAX_ADOPTED 16
struct adopted {
    json_object *records[MAX_ADOPTED]; /* those that say something was released */
    uint64_t seqs[MAX_ADOPTED];
    size_t n;
};

static void adopted_free(struct adopted *a)
{
    for (size_t i = 0; i < a->n; i++)
        json_object_put(a->records[i]);
    a->n = 0;
}

static const char *field(json_object *o, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Keeps an adopted line if it says something was released. */
static void note_adopted(struct adopted *a, const char *line, size_t len, uint64_t seq)
{
    if (a->n == MAX_ADOPTED)
        return;
    json_tokener *tok = json_tokener_new();
    json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
    json_tokener_free(tok);
    const char *outcome = o ? field(o, "outcome") : NULL;
    if (o && audit_event_releases(field(o, "event")) && outcome && strcmp(outcome, "CKR_OK") == 0) {
        a->records[a->n] = o;
        a->seqs[a->n++] = seq;
        return;
    }
    json_object_put(o);
}

/* Brings the state up to the end of the log (see the header comment);
 * what it adopts that says something was released goes to *adopted.
 * Returns 0, or -1 when the log does not match its state. */
static int recover(struct audit_writer *w, struct audit_state *st, struct adopted *adopted, char *err, size_t errlen)
{
    struct stat sb;
    if (fstat(w->log_fd, &sb) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", w->log_path, strerror(errno));
        return -1;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < st->log_size && starts_with_continuation(w, st))
        st->log_size = 0; /* the new log of an unfinished rotation: adopted below */
    if (size < st->log_size) {
        snprintf(err, errlen, "%s is shorter than its state says (%llu < %llu bytes): it was truncated", w->log_path,
                 (unsigned long long)size, (unsigned long long)st->log_size);
        return -1;
    }
    if (size == st->log_size)
        return 0;
    if (size - st->log_size > 16 * AUDIT_MAX_LINE) {
        snprintf(err, errlen, "%s has %llu bytes past its state: not a crashed write", w->log_path,
                 (unsigned long long)(size - st->log_size));
        return -1;
    }
    size_t extra = (size_t)(size - st->log_size);
    char *buf = malloc(extra + 1);
    if (!buf || pread(w->log_fd, buf, extra, (off_t)st->log_size) != (ssize_t)extra) {
        free(buf);
        snprintf(err, errlen, "cannot read the end of %s", w->log_path);
        return -1;
    }
    size_t pos = 0;
    while (pos < extra) {
        char *nl = memchr(buf + pos, '\n', extra - pos);
        if (!nl)
            break; /* an incomplete line: dropped below */
        size_t len = (size_t)(nl - (buf + pos));
        uint64_t seq = st->next_seq;
        if (!adopt_line(st, buf + pos, len)) {
            free(buf);
            snprintf(err, errlen, "%s: a record past the state does not verify: the log was tampered with",
                     w->log_path);
            return -1;
        }
        if (adopted)
            note_adopted(adopted, buf + pos, len, seq);
        pos += len + 1;
        st->log_size += len + 1;
    }
    free(buf);
    if (pos < extra && ftruncate(w->log_fd, (off_t)st->log_size) != 0) {
        snprintf(err, errlen, "cannot drop an incomplete record from %s: %s", w->log_path, strerror(errno));
        return -1;
    }
    if (audit_state_write(w->state_fd, st) != 0) {
        snprintf(err, errlen, "cannot write %s.state: %s", w->log_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Seals n records after the state's end, in buf; moves st on. */
static size_t seal_records(struct audit_state *st, const struct audit_event *const *events,
                           const struct audit_identity *const *who, size_t n, char **buf_out)
{
    size_t cap = n * AUDIT_MAX_LINE, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return 0;
    for (size_t i = 0; i < n; i++) {
        bool chain_record = strcmp(events[i]->event, "log_start") == 0 || strcmp(events[i]->event, "log_continue") == 0;
        json_object *o = audit_record_object(events[i], who ? who[i] : NULL, st->next_seq,
                                             chain_record ? st->log_id : NULL);
        /* One line each at most AUDIT_MAX_LINE: longer lines would not
         * verify (nor fit a reader's line buffer). */
        size_t room = cap - len < AUDIT_MAX_LINE ? cap - len : AUDIT_MAX_LINE;
        size_t m = audit_seal_line(o, st->prev, st->key, buf + len, room);
        json_object_put(o);
        if (m == 0) {
            free(buf);
            return 0;
        }
        audit_line_hash(buf + len, m - 1, st->prev);
        audit_evolve(st->key);
        st->next_seq++;
        len += m;
    }
    *buf_out = buf;
    return len;
}

/* A copy of each record, without the chaining fields, for syslog. */
static void to_syslog(const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        const char *prev = memmem(buf + pos, n, ",\"prev\":\"", 9);
        int shown = prev ? (int)(prev - (buf + pos)) : (int)n;
        audit_syslog_record(buf + pos, (size_t)shown);
        pos += n + 1;
    }
}

/* A rotation that crashed between its renames left LOG.new and no LOG:
 * the rename is finished (the new log is checked against the state when
 * it is first written to). */
static void finish_rotation(const char *log_path)
{
    char *pending = suffixed(log_path, ".new");
    struct stat sb;
    if (pending && lstat(log_path, &sb) != 0 && errno == ENOENT && lstat(pending, &sb) == 0 && S_ISREG(sb.st_mode) &&
        rename(pending, log_path) == 0) {
        sync_dir_of(log_path);
        syslog(LOG_AUTHPRIV | LOG_WARNING, "kyso-audit: %s: finished a rotation that was interrupted", log_path);
    }
    free(pending);
}

/* Another writer may have rotated the log (renamed it and started a new
 * one at the same path): then the file this writer holds is the archive,
 * and the log is reopened. Called with the lock held. */
static int follow_rotation(struct audit_writer *w, char *err, size_t errlen)
{
    struct stat held, named;
    int named_rc = stat(w->log_path, &named);
    if (named_rc != 0 && errno == ENOENT) {
        finish_rotation(w->log_path);
        named_rc = stat(w->log_path, &named);
    }
    if (fstat(w->log_fd, &held) != 0 || named_rc != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", w->log_path, strerror(errno));
        return -1;
    }
    if (held.st_dev == named.st_dev && held.st_ino == named.st_ino)
        return 0;
    int fd = open(w->log_path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", w->log_path, strerror(errno));
        return -1;
    }
    close(w->log_fd);
    w->log_fd = fd;
    return 0;
}

/* Appends the records (none: only settles what a crashed writer left).
 * Records adopted from a crashed writer that say something was released
 * are followed first by a "withheld" record each, in the same flush. */
static int append_locked(struct audit_writer *w, const struct audit_event *const *events,
                         const struct audit_identity *const *who, size_t n, char *err, size_t errlen)
{
    struct audit_state st;
    struct adopted adopted = { .n = 0 };
    struct audit_event withheld[MAX_ADOPTED];
    const struct audit_event **all = NULL;
    const struct audit_identity **all_who = NULL;
    struct audit_identity self;
    char *buf = NULL;
    size_t total = 0;
    int rc = -1;

    if (follow_rotation(w, err, errlen) != 0)
        return -1;
    if (audit_state_read(w->state_fd, &st) != 0) {
        snprintf(err, errlen, "%s.state is damaged or missing", w->log_path);
        return -1;
    }
    if (recover(w, &st, &adopted, err, errlen) != 0)
        goto out;
    /* Settling (a writer opening, a rotation): a key that a crash kept
     * past its erasure is erased now. */
    if (n == 0 && audit_state_wipe_stale(w->state_fd) < 0) {
        snprintf(err, errlen, "cannot erase an old key from %s.state: %s", w->log_path, strerror(errno));
        goto out;
    }
    total = adopted.n + n;
    if (total == 0) {
        rc = 0;
        goto out;
    }
    all = calloc(total, sizeof(*all));
    all_who = calloc(total, sizeof(*all_who));
    if (!all || !all_who) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (adopted.n)
        audit_identity_self(&self);
    for (size_t i = 0; i < adopted.n; i++) {
        withheld[i] = (struct audit_event){ .event = "withheld",
                                            .outcome = "CKR_OK",
                                            .detail = "the writer stopped before this record was confirmed: what it "
                                                      "records was not released",
                                            .request = field(adopted.records[i], "request"),
                                            .ref_seq = adopted.seqs[i],
                                            .ref_record = adopted.records[i] };
        all[i] = &withheld[i];
        all_who[i] = &self;
    }
    for (size_t i = 0; i < n; i++) {
        all[adopted.n + i] = events[i];
        all_who[adopted.n + i] = who ? who[i] : NULL;
    }
    uint64_t old_size = st.log_size;
    size_t len = seal_records(&st, all, all_who, total, &buf);
    if (len == 0) {
        snprintf(err, errlen, "cannot build the audit record");
        goto out;
    }
    if (!write_all(w->log_fd, buf, len) || fdatasync(w->log_fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", w->log_path, strerror(errno));
        /* Nothing of it counts: take back what may have reached the file. */
        if (ftruncate(w->log_fd, (off_t)old_size) == 0)
            fdatasync(w->log_fd);
        goto out;
    }
    st.log_size = old_size + len;
    if (audit_state_write(w->state_fd, &st) != 0) {
        /* The records are durable; the next writer adopts them. */
        snprintf(err, errlen, "cannot write %s.state: %s", w->log_path, strerror(errno));
        goto out;
    }
    to_syslog(buf, len);
    w->last_seq = st.next_seq - 1;
    rc = 0;
out:
    if (buf)
        OPENSSL_clear_free(buf, total * AUDIT_MAX_LINE);
    free(all);
    free(all_who);
    adopted_free(&adopted);
    OPENSSL_cleanse(&st, sizeof(st));
    return rc;
}

int audit_writer_append(struct audit_writer *w, const struct audit_event *const *events,
                        const struct audit_identity *const *who, size_t n, char *err, size_t errlen)
{
    pthread_mutex_lock(&w->lock);
    int rc = -1;
    if (flock(w->state_fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "cannot lock %s.state: %s", w->log_path, strerror(errno));
    } else {
        rc = append_locked(w, events, who, n, err, errlen);
        flock(w->state_fd, LOCK_UN);
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static struct audit_writer *writer_new(const char *log_path, int log_fd, int state_fd)
{
    struct audit_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->log_path = strdup(log_path);
    w->log_fd = log_fd;
    w->state_fd = state_fd;
    pthread_mutex_init(&w->lock, NULL);
    if (!w->log_path) {
        free(w);
        return NULL;
    }
    return w;
}

int audit_writer_open(const char *log_path, struct audit_writer **out, char *err, size_t errlen)
{
    char *state_path = state_path_of(log_path);
    if (!state_path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int state_fd = open(state_path, O_RDWR | O_CLOEXEC);
    int log_fd = state_fd >= 0 ? open(log_path, O_RDWR | O_APPEND | O_CLOEXEC) : -1;
    int saved = errno;
    if (state_fd >= 0 && log_fd < 0 && saved == ENOENT && flock(state_fd, LOCK_EX) == 0) {
        /* Under the lock: a rotation in progress holds it between its renames. */
        finish_rotation(log_path);
        log_fd = open(log_path, O_RDWR | O_APPEND | O_CLOEXEC);
        saved = errno;
        flock(state_fd, LOCK_UN);
    }
    if (log_fd < 0) {
        snprintf(err, errlen, "cannot open the audit log %s: %s (create it with `kyso audit init`)",
                 state_fd < 0 ? state_path : log_path, strerror(saved));
        if (state_fd >= 0)
            close(state_fd);
        free(state_path);
        return -1;
    }
    free(state_path);
    *out = writer_new(log_path, log_fd, state_fd);
    if (!*out) {
        close(log_fd);
        close(state_fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* What a crashed writer left is settled now, so that a reader of the
     * log (kyso-auditd looking for a request) finds it settled. A log that
     * does not match its state is reported by the first append. */
    char ignored[256];
    audit_writer_append(*out, NULL, NULL, 0, ignored, sizeof(ignored));
    return 0;
}

uint64_t audit_writer_last_seq(struct audit_writer *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t seq = w->last_seq;
    pthread_mutex_unlock(&w->lock);
    return seq;
}

void audit_writer_close(struct audit_writer *w)
{
    if (!w)
        return;
    close(w->log_fd);
    close(w->state_fd);
    /* Not destroyed: after fork another thread of the parent may have held
     * it; it is a plain mutex with nothing to release. */
    free(w->log_path);
    free(w);
}

int audit_chain_init(const char *log_path, uint8_t key_out[AUDIT_KEY_LEN], char *err, size_t errlen)
{
    struct audit_state st;
    uint8_t id[16];
    char *state_path = state_path_of(log_path);
    int rc = -1;

    memset(&st, 0, sizeof(st));
    if (!state_path || RAND_bytes(key_out, AUDIT_KEY_LEN) != 1 || RAND_bytes(id, sizeof(id)) != 1) {
        snprintf(err, errlen, "no randomness or memory");
        free(state_path);
        return -1;
    }
    int log_fd = open(log_path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", log_path, strerror(errno));
        free(state_path);
        return -1;
    }
    int state_fd = open(state_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (state_fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", state_path, strerror(errno));
        close(log_fd);
        unlink(log_path);
        free(state_path);
        return -1;
    }
    /* The writer starts with K(1); K(0) stays with the auditor only. */
    memcpy(st.key, key_out, AUDIT_KEY_LEN);
    audit_evolve(st.key);
    st.next_seq = 1;
    audit_hex(id, sizeof(id), st.log_id);
    struct audit_writer *w = NULL;
    if (audit_state_write(state_fd, &st) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", state_path, strerror(errno));
        close(log_fd);
        close(state_fd);
    } else if (!(w = writer_new(log_path, log_fd, state_fd))) {
        snprintf(err, errlen, "out of memory");
        close(log_fd);
        close(state_fd);
    } else {
        struct audit_identity who;
        struct audit_event start = { .event = "log_start", .outcome = "CKR_OK" };
        const struct audit_event *ev = &start;
        const struct audit_identity *whop = &who;
        audit_identity_self(&who);
        rc = audit_writer_append(w, &ev, &whop, 1, err, errlen);
        audit_writer_close(w);
    }
    if (rc != 0) {
        unlink(log_path);
        unlink(state_path);
        OPENSSL_cleanse(key_out, AUDIT_KEY_LEN);
    }
    OPENSSL_cleanse(&st, sizeof(st));
    free(state_path);
    return rc;
}

/* The current log becomes archive_path; a new log at the same path starts
 * with log_continue, carrying on the chain. */
int audit_writer_rotate(struct audit_writer *w, const char *archive_path, char *err, size_t errlen)
{
    pthread_mutex_lock(&w->lock);
    int rc = -1;
    struct audit_state st;
    char *tmp = NULL, *buf = NULL;
    int new_fd = -1;
    if (flock(w->state_fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "cannot lock %s.state", w->log_path);
        pthread_mutex_unlock(&w->lock);
        return -1;
    }
    /* What a crashed writer left is settled in the log it belongs to. */
    if (append_locked(w, NULL, NULL, 0, err, errlen) != 0)
        goto out;
    if (follow_rotation(w, err, errlen) != 0 || audit_state_read(w->state_fd, &st) != 0) {
        snprintf(err, errlen, "%s.state is damaged or missing", w->log_path);
        goto out;
    }
    if (recover(w, &st, NULL, err, errlen) != 0)
        goto out;
    tmp = suffixed(w->log_path, ".new");
    if (!tmp)
        goto out;
    new_fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    struct audit_identity who;
    audit_identity_self(&who);
    struct audit_event cont = { .event = "log_continue", .outcome = "CKR_OK" };
    const struct audit_event *ev = &cont;
    const struct audit_identity *whop = &who;
    size_t len = new_fd >= 0 ? seal_records(&st, &ev, &whop, 1, &buf) : 0;
    if (len == 0 || !write_all(new_fd, buf, len) || fdatasync(new_fd) != 0 || rename(w->log_path, archive_path) != 0) {
        snprintf(err, errlen, "cannot rotate %s: %s", w->log_path, strerror(errno));
        if (new_fd >= 0)
            unlink(tmp);
        goto out;
    }
    /* From here the rotation is finished by whoever comes next. */
    if (rename(tmp, w->log_path) != 0 || !sync_dir_of(w->log_path) || !sync_dir_of(archive_path)) {
        snprintf(err, errlen, "cannot rotate %s: %s", w->log_path, strerror(errno));
        goto out;
    }
    st.log_size = len;
    close(w->log_fd);
    w->log_fd = new_fd;
    new_fd = -1;
    if (audit_state_write(w->state_fd, &st) != 0) {
        snprintf(err, errlen, "cannot write %s.state", w->log_path);
        goto out;
    }
    rc = 0;
out:
    if (new_fd >= 0)
        close(new_fd);
    if (buf)
        OPENSSL_clear_free(buf, AUDIT_MAX_LINE);
    free(tmp);
    OPENSSL_cleanse(&st, sizeof(st));
    flock(w->state_fd, LOCK_UN);
    pthread_mutex_unlock(&w->lock);
    return rc;
}
