/* kyso-auditd: the connections, the batches and the log.
 *
 * One thread and one poll loop. Each connection is a slot of a fixed
 * table (--max-clients); a connection beyond it is answered "busy" and
 * closed. A connection is read without blocking, its request must be
 * complete within --client-timeout (2 s) of the connection (a deadline
 * for the whole request, not per read: a client trickling bytes gains
 * nothing), and it holds at most one request (audit/protocol.c). Who sent
 * it is the kernel's answer (SO_PEERCRED), never the request's. A request
 * whose record would not fit one line of the log is refused on arrival.
 *
 * Decoded requests wait in a queue; the first one starts a batch, which is
 * written when --batch-ms have passed or AUDITD_MAX_BATCH records wait:
 * one audit_writer_append, one flush to stable storage for all of them
 * (group commit). Then every client of the batch is answered
 * {"ok":true,"seq":N}, or, if the batch could not be made durable,
 * {"ok":false,"error":"…"}. A batch of which nothing was written is
 * tried again one record at a time, so that one record that cannot be
 * written (say, one the writer cannot seal) does not take the others down
 * with it.
 *
 * The log is reopened on SIGHUP, when its path no longer names the file
 * held (an external `kyso audit rotate`), and after a failed write;
 * --rotate-size rotates it here. SIGTERM/SIGINT: no new connections; the
 * clients already connected are served (their requests read until their
 * deadline), the requests in hand written and answered, then the loop
 * ends. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/internal.h"
#include "audit/protocol.h"
#include "tools/auditd/auditd.h"

enum conn_state { C_FREE, C_READING, C_QUEUED, C_ANSWERING };

struct conn {
    enum conn_state state;
    int fd;
    pid_t pid;
    uid_t uid;
    int64_t deadline;              /* ms, CLOCK_MONOTONIC */
    uint8_t hdr[4];
    size_t hdr_got;
    char *body;
    size_t body_len, body_got;
    struct audit_request req;
    struct audit_identity who;
    char out[512];                 /* the framed answer */
    size_t out_len, out_sent;
};

struct server {
    const struct auditd_options *opt;
    int lfd;
    struct audit_writer **w;
    bool reopen;                   /* the writer must be reopened before the next batch */
    dev_t log_dev;
    ino_t log_ino;
    struct conn *conns;
    size_t nconns, active;
    size_t *queue, qlen;           /* slots of C_QUEUED connections, in arrival order */
    int64_t batch_deadline;
    int64_t accept_pause_until;
    struct pollfd *pfds;
    size_t *pfd_slot;
};

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_stop = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the log ---- */

static bool stat_log(const struct server *s, struct stat *sb)
{
    return stat(s->opt->log_path, sb) == 0;
}

/* (Re)opens the writer. The file's identity is taken before and after the
 * open: if they differ, a rotation ran in between and the open is done
 * again, so that log_dev/log_ino name the file the writer holds. */
static bool open_log(struct server *s, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        struct stat before, after;
        struct audit_writer *w = NULL;
        if (!stat_log(s, &before)) {
            snprintf(err, errlen, "cannot open the audit log %s: %s (create it with `kyso audit init`)",
                     s->opt->log_path, strerror(errno));
            return false;
        }
        if (audit_writer_open(s->opt->log_path, &w, err, errlen) != 0)
            return false;
        if (!stat_log(s, &after) || after.st_dev != before.st_dev || after.st_ino != before.st_ino) {
            audit_writer_close(w);
            continue;
        }
        audit_writer_close(*s->w);
        *s->w = w;
        s->log_dev = after.st_dev;
        s->log_ino = after.st_ino;
        s->reopen = false;
        return true;
    }
    snprintf(err, errlen, "the audit log %s keeps changing under us", s->opt->log_path);
    return false;
}

/* The writer, reopened first when needed. */
static bool ready_log(struct server *s, char *err, size_t errlen)
{
    struct stat sb;
    if (*s->w && !s->reopen && stat_log(s, &sb) && sb.st_dev == s->log_dev && sb.st_ino == s->log_ino)
        return true;
    return open_log(s, err, errlen);
}

/* The sequence number of the log's last record (0 if it cannot be read).
 * Read right after an append, it is the batch's last record: the daemon
 * is the log's only writer. */
static uint64_t last_seq(const char *path)
{
    static const char prefix[] = "{\"v\":1,\"seq\":";
    char buf[AUDIT_MAX_LINE + 2];
    uint64_t seq = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0)
        return 0;
    if (fstat(fd, &sb) == 0 && sb.st_size > 1) {
        size_t want = (size_t)sb.st_size < sizeof(buf) - 1 ? (size_t)sb.st_size : sizeof(buf) - 1;
        ssize_t n = pread(fd, buf, want, sb.st_size - (off_t)want);
        if (n == (ssize_t)want && buf[want - 1] == '\n') {
            buf[want - 1] = '\0';
            char *line = strrchr(buf, '\n');
            line = line ? line + 1 : (want < sizeof(buf) - 1 ? buf : NULL);
            if (line && strncmp(line, prefix, sizeof(prefix) - 1) == 0) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(line + sizeof(prefix) - 1, &end, 10);
                if (errno == 0 && *end == ',')
                    seq = v;
            }
        }
    }
    close(fd);
    return seq;
}

/* LOG.YYYYMMDDTHHMMSSZ, or with -NNN after it if that is taken. */
static bool archive_name(const char *log_path, char *out, size_t outlen)
{
    char stamp[32];
    struct tm tm;
    time_t t = time(NULL);
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    for (unsigned i = 0; i < 1000; i++) {
        struct stat sb;
        int n = i == 0 ? snprintf(out, outlen, "%s.%s", log_path, stamp)
                       : snprintf(out, outlen, "%s.%s-%03u", log_path, stamp, i);
        if (n < 0 || (size_t)n >= outlen)
            return false;
        if (lstat(out, &sb) != 0 && errno == ENOENT)
            return true;
    }
    return false;
}

static void maybe_rotate(struct server *s)
{
    struct stat sb;
    char archive[PATH_MAX], err[768];
    if (s->opt->rotate_size == 0 || !*s->w || s->reopen || !stat_log(s, &sb) ||
        (uint64_t)sb.st_size < s->opt->rotate_size)
        return;
    if (!archive_name(s->opt->log_path, archive, sizeof(archive))) {
        auditd_error("cannot name an archive for %s", s->opt->log_path);
        return;
    }
    if (audit_writer_rotate(*s->w, archive, err, sizeof(err)) != 0) {
        auditd_error("%s", err);
        s->reopen = true;
        return;
    }
    if (stat_log(s, &sb)) {
        s->log_dev = sb.st_dev;
        s->log_ino = sb.st_ino;
    } else {
        s->reopen = true;
    }
}

/* ---- connections ---- */

static void close_conn(struct server *s, struct conn *c)
{
    if (c->state == C_FREE)
        return;
    close(c->fd);
    free(c->body);
    audit_request_free(&c->req);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->state = C_FREE;
    s->active--;
}

/* Frames {"ok":…} into out; false if it does not fit. */
static bool frame_answer(bool ok, uint64_t seq, const char *error, char *out, size_t cap, size_t *len)
{
    json_object *o = json_object_new_object();
    if (!o)
        return false;
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    if (ok && seq)
        json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
    if (!ok)
        json_object_object_add(o, "error", json_object_new_string(error ? error : "failed"));
    size_t n = 0;
    const char *text =
        json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    bool fits = text && n + 4 <= cap;
    if (fits) {
        out[0] = (char)(n >> 24);
        out[1] = (char)(n >> 16);
        out[2] = (char)(n >> 8);
        out[3] = (char)n;
        memcpy(out + 4, text, n);
        *len = n + 4;
    }
    json_object_put(o);
    return fits;
}

static void send_some(struct server *s, struct conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* the rest when the socket takes it */
        if (n <= 0)
            break;
        c->out_sent += (size_t)n;
    }
    close_conn(s, c);
}

/* Answers and closes (once the answer is taken). */
static void answer(struct server *s, struct conn *c, bool ok, uint64_t seq, const char *error)
{
    free(c->body);
    c->body = NULL;
    audit_request_free(&c->req);
    c->out_sent = 0;
    if (!frame_answer(ok, seq, error, c->out, sizeof(c->out), &c->out_len) &&
        !frame_answer(false, 0, "the answer does not fit", c->out, sizeof(c->out), &c->out_len)) {
        close_conn(s, c);
        return;
    }
    c->state = C_ANSWERING;
    c->deadline = now_ms() + AUDITD_ANSWER_TIMEOUT_MS;
    send_some(s, c);
}

/* Whether the request's record fits one line of the log (AUDIT_MAX_LINE,
 * what the verifier reads). The certificate and the detail come from the
 * client: a record too large would be sealed in a batch all the same
 * (audit_writer_append shares its buffer between the batch's records) and
 * would then break the verification of the whole log. So it is measured
 * here as the writer will build it: the fields, then ,"prev":"<64>", then
 * ,"mac":"<64>"} and the newline. */
static bool record_fits(const struct audit_event *ev, const struct audit_identity *who)
{
    json_object *o = audit_record_object(ev, who, UINT64_MAX, NULL);
    size_t n = 0;
    const char *text =
        o ? json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n) : NULL;
    bool fits = text && n + 74 + 74 <= AUDIT_MAX_LINE;
    if (o)
        json_object_put(o);
    return fits;
}

static void request_complete(struct server *s, struct conn *c)
{
    if (audit_request_decode(c->body, c->body_len, &c->req) != 0) {
        answer(s, c, false, 0, "invalid request");
        return;
    }
    free(c->body);
    c->body = NULL;
    /* Who is asking: the kernel's peer credentials of the connection,
     * then /proc for the executable (the client is waiting for its answer,
     * so the process is still there). Whatever the request says about
     * itself is not looked at. */
    audit_identity_of(c->pid, c->uid, &c->who);
    if (!record_fits(&c->req.event, &c->who)) {
        answer(s, c, false, 0, "the record would be too large");
        return;
    }
    c->state = C_QUEUED;
    if (s->qlen == 0)
        s->batch_deadline = now_ms() + s->opt->batch_ms;
    s->queue[s->qlen++] = (size_t)(c - s->conns);
}

static void on_readable(struct server *s, struct conn *c)
{
    for (;;) {
        uint8_t *dst;
        size_t want;
        if (c->hdr_got < sizeof(c->hdr)) {
            dst = c->hdr + c->hdr_got;
            want = sizeof(c->hdr) - c->hdr_got;
        } else {
            dst = (uint8_t *)c->body + c->body_got;
            want = c->body_len - c->body_got;
        }
        ssize_t n = recv(c->fd, dst, want, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            close_conn(s, c); /* gone before its request was complete */
            return;
        }
        if (c->hdr_got < sizeof(c->hdr)) {
            c->hdr_got += (size_t)n;
            if (c->hdr_got < sizeof(c->hdr))
                continue;
            c->body_len = (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 | (size_t)c->hdr[2] << 8 | c->hdr[3];
            if (c->body_len == 0 || c->body_len > AUDITD_MAX_REQUEST) {
                answer(s, c, false, 0, c->body_len ? "request too large" : "empty request");
                return;
            }
            c->body = malloc(c->body_len + 1);
            if (!c->body) {
                answer(s, c, false, 0, "out of memory");
                return;
            }
        } else {
            c->body_got += (size_t)n;
        }
        if (c->hdr_got == sizeof(c->hdr) && c->body_got == c->body_len) {
            c->body[c->body_len] = '\0';
            request_complete(s, c);
            return;
        }
    }
}

static void accept_all(struct server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* Out of descriptors or memory: try again shortly. */
                auditd_error("cannot accept a connection: %s", strerror(errno));
                s->accept_pause_until = now_ms() + 100;
            }
            return;
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
            close(fd);
            continue;
        }
        struct conn *c = NULL;
        for (size_t i = 0; i < s->nconns && !c; i++)
            if (s->conns[i].state == C_FREE)
                c = &s->conns[i];
        if (!c) {
            /* Every slot taken: the client is told, not kept waiting. */
            char out[128];
            size_t n;
            if (frame_answer(false, 0, "kyso-auditd is busy (too many clients); try again", out, sizeof(out), &n))
                (void)!send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->state = C_READING;
        c->fd = fd;
        c->pid = cred.pid;
        c->uid = cred.uid;
        c->deadline = now_ms() + s->opt->client_timeout_ms;
        s->active++;
    }
}

/* ---- batches ---- */

static void write_records(struct server *s, size_t *slots, size_t n)
{
    const struct audit_event *events[AUDITD_MAX_BATCH];
    const struct audit_identity *who[AUDITD_MAX_BATCH];
    char err[768] = "";
    for (size_t i = 0; i < n; i++) {
        events[i] = &s->conns[slots[i]].req.event;
        who[i] = &s->conns[slots[i]].who;
    }
    bool ready = ready_log(s, err, sizeof(err));
    uint64_t before = ready && n > 1 ? last_seq(s->opt->log_path) : 0;
    bool ok = ready && audit_writer_append(*s->w, events, who, n, err, sizeof(err)) == 0;
    if (!ok && ready && n > 1 && before && last_seq(s->opt->log_path) == before) {
        /* Nothing was written: one record may be what failed (say, one
         * too large to seal); the others are tried alone. (When the
         * records did reach the log and only the state could not follow,
         * they are not written twice.) */
        for (size_t i = 0; i < n; i++)
            write_records(s, slots + i, 1);
        return;
    }
    uint64_t first = 0;
    if (ok) {
        uint64_t last = last_seq(s->opt->log_path);
        first = last >= n ? last - n + 1 : 0;
    } else {
        auditd_error("%zu record%s not written: %s", n, n == 1 ? "" : "s", err);
        s->reopen = true;
    }
    char why[900];
    snprintf(why, sizeof(why), "the record could not be made durable: %s", err);
    for (size_t i = 0; i < n; i++)
        answer(s, &s->conns[slots[i]], ok, first ? first + i : 0, why);
}

static void flush_batch(struct server *s)
{
    size_t n = s->qlen < AUDITD_MAX_BATCH ? s->qlen : AUDITD_MAX_BATCH;
    size_t slots[AUDITD_MAX_BATCH];
    memcpy(slots, s->queue, n * sizeof(slots[0]));
    memmove(s->queue, s->queue + n, (s->qlen - n) * sizeof(s->queue[0]));
    s->qlen -= n;
    write_records(s, slots, n);
    maybe_rotate(s);
}

/* ---- the loop ---- */

static void stop_listening(struct server *s)
{
    if (s->lfd < 0)
        return;
    /* New clients are refused at once rather than left waiting; those
     * whose connect() already succeeded (still in the listen queue) are
     * taken in and served like the others, not reset. */
    struct stat sb;
    if (s->opt->socket_path && lstat(s->opt->socket_path, &sb) == 0 && sb.st_dev == s->opt->socket_dev &&
        sb.st_ino == s->opt->socket_ino)
        unlink(s->opt->socket_path);
    accept_all(s);
    close(s->lfd);
    s->lfd = -1;
}

static void on_hup(struct server *s)
{
    char err[768];
    if (!open_log(s, err, sizeof(err))) {
        auditd_error("%s", err);
        s->reopen = true; /* and again before the next batch */
    }
}

static int run(struct server *s)
{
    sigset_t waitmask;
    sigprocmask(SIG_SETMASK, NULL, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGHUP);

    for (;;) {
        if (got_hup) {
            got_hup = 0;
            on_hup(s);
        }
        bool stopping = got_stop;
        if (stopping)
            stop_listening(s);

        int64_t now = now_ms();
        for (size_t i = 0; i < s->nconns; i++) {
            struct conn *c = &s->conns[i];
            if (c->state == C_READING && now >= c->deadline)
                answer(s, c, false, 0, "request timed out");
            else if (c->state == C_ANSWERING && now >= c->deadline)
                close_conn(s, c);
        }
        if (s->qlen && (stopping || s->qlen >= AUDITD_MAX_BATCH || now >= s->batch_deadline)) {
            flush_batch(s);
            continue;
        }
        if (stopping && s->active == 0)
            return 0;

        /* What to wait for, and until when. */
        size_t n = 0;
        int64_t until = -1;
        bool listening = s->lfd >= 0 && now >= s->accept_pause_until;
        if (s->lfd >= 0 && !listening)
            until = s->accept_pause_until;
        if (listening) {
            s->pfds[n] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
            s->pfd_slot[n++] = SIZE_MAX;
        }
        for (size_t i = 0; i < s->nconns; i++) {
            struct conn *c = &s->conns[i];
            if (c->state != C_READING && c->state != C_ANSWERING)
                continue; /* a queued client is not read from until it is answered */
            s->pfds[n] = (struct pollfd){ .fd = c->fd, .events = c->state == C_READING ? POLLIN : POLLOUT };
            s->pfd_slot[n++] = i;
            if (until < 0 || c->deadline < until)
                until = c->deadline;
        }
        if (s->qlen && (until < 0 || s->batch_deadline < until))
            until = s->batch_deadline;
        struct timespec ts, *tsp = NULL;
        if (until >= 0) {
            int64_t wait = until > now ? until - now : 0;
            ts.tv_sec = (time_t)(wait / 1000);
            ts.tv_nsec = (long)(wait % 1000) * 1000000;
            tsp = &ts;
        }
        int r = ppoll(s->pfds, n, tsp, &waitmask);
        if (r < 0) {
            if (errno != EINTR) {
                auditd_error("poll: %s", strerror(errno));
                return 1;
            }
            continue;
        }
        for (size_t k = 0; k < n && r > 0; k++) {
            if (!s->pfds[k].revents)
                continue;
            r--;
            if (s->pfd_slot[k] == SIZE_MAX) {
                accept_all(s);
                continue;
            }
            struct conn *c = &s->conns[s->pfd_slot[k]];
            if (c->state == C_READING)
                on_readable(s, c);
            else if (c->state == C_ANSWERING)
                send_some(s, c);
        }
    }
}

int auditd_serve(int listen_fd, struct audit_writer **w, const struct auditd_options *opt)
{
    struct server s = { .opt = opt, .lfd = listen_fd, .w = w };
    struct stat sb;
    int rc = 1;

    if (stat_log(&s, &sb)) {
        s.log_dev = sb.st_dev;
        s.log_ino = sb.st_ino;
    } else {
        s.reopen = true;
    }
    s.nconns = (size_t)opt->max_clients;
    s.conns = calloc(s.nconns, sizeof(*s.conns));
    s.queue = calloc(s.nconns, sizeof(*s.queue));
    s.pfds = calloc(s.nconns + 1, sizeof(*s.pfds));
    s.pfd_slot = calloc(s.nconns + 1, sizeof(*s.pfd_slot));
    if (!s.conns || !s.queue || !s.pfds || !s.pfd_slot) {
        auditd_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < s.nconns; i++)
        s.conns[i].fd = -1;

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    rc = run(&s);
out:
    stop_listening(&s);
    for (size_t i = 0; s.conns && i < s.nconns; i++)
        close_conn(&s, &s.conns[i]);
    free(s.conns);
    free(s.queue);
    free(s.pfds);
    free(s.pfd_slot);
    return rc;
}
