/* kyso-auditd: the connections.
 *
 * One thread and one poll loop. Each connection is a slot of a fixed
 * table (--max-clients). Who is calling is the kernel's answer
 * (SO_PEERCRED), never the request's, and the caller's executable is read
 * when the connection is accepted (a process that executes another
 * program before its request is complete is refused: the record would
 * name the wrong one).
 *
 * No user can take the service from another: one user holds at most
 * --max-per-user connections (more are answered busy), and when the table
 * is full a newcomer takes the slot of the oldest connection still reading
 * its request of the user holding the most slots, if that user holds more
 * than the newcomer's. A connection is read without blocking, its request
 * must be complete within --client-timeout (2 s) of the connection (a
 * deadline for the whole request, not per read: a client trickling bytes
 * gains nothing), and it holds at most one request (audit/protocol.c). A
 * request whose record would not fit one line of the log is refused on
 * arrival.
 *
 * Decoded requests wait in a queue; the first one starts a batch, which is
 * decided and written when --batch-ms have passed or AUDITD_MAX_BATCH
 * records wait (batch.c). By default --batch-ms is 0: the queue is written
 * as soon as the loop comes round, and the requests that came in while a
 * batch was being flushed make the next one (group commit without a wait). SIGTERM/SIGINT: no new connections; the clients
 * already connected are served (their requests read until their
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
#include "tools/auditd/server.h"

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_stop = 1;
}

int64_t auditd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
static bool frame_answer(bool ok, uint64_t seq, const char *error, bool busy, char *out, size_t cap, size_t *len)
{
    json_object *o = json_object_new_object();
    if (!o)
        return false;
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    if (ok && seq)
        json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
    if (!ok)
        json_object_object_add(o, "error", json_object_new_string(error ? error : "failed"));
    if (!ok && busy)
        json_object_object_add(o, "busy", json_object_new_boolean(true));
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

void auditd_answer(struct server *s, struct conn *c, bool ok, uint64_t seq, const char *error, bool busy)
{
    free(c->body);
    c->body = NULL;
    audit_request_free(&c->req);
    c->out_sent = 0;
    if (!frame_answer(ok, seq, error, busy, c->out, sizeof(c->out), &c->out_len) &&
        !frame_answer(false, 0, "the answer does not fit", false, c->out, sizeof(c->out), &c->out_len)) {
        close_conn(s, c);
        return;
    }
    c->state = C_ANSWERING;
    c->deadline = auditd_now_ms() + AUDITD_ANSWER_TIMEOUT_MS;
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
    const char *why;
    if (audit_request_decode(c->body, c->body_len, &c->req, &why) != 0) {
        auditd_answer(s, c, false, 0, why, false);
        return;
    }
    free(c->body);
    c->body = NULL;
    /* The executable read at the connection must still be the one
     * running: a process that executed another program since would be
     * recorded as the one it is no longer. */
    struct audit_identity now;
    audit_identity_of(c->pid, c->uid, &now);
    if (strcmp(now.exe, c->who.exe) != 0) {
        auditd_answer(s, c, false, 0, "the calling process changed its program since it connected", false);
        return;
    }
    if (!record_fits(&c->req.event, &c->who)) {
        auditd_answer(s, c, false, 0, "the record would be too large", false);
        return;
    }
    c->state = C_QUEUED;
    if (s->qlen == 0)
        s->batch_deadline = auditd_now_ms() + s->opt->batch_ms;
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
                auditd_answer(s, c, false, 0, c->body_len ? "request too large" : "empty request", false);
                return;
            }
            c->body = malloc(c->body_len + 1);
            if (!c->body) {
                auditd_answer(s, c, false, 0, "out of memory", false);
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

/* Tells a client there is no room now and closes: it may try again. */
static void busy(int fd, const char *why)
{
    char out[160];
    size_t n;
    if (frame_answer(false, 0, why, true, out, sizeof(out), &n))
        (void)!send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static size_t held_by(const struct server *s, uid_t uid)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nconns; i++)
        n += s->conns[i].state != C_FREE && s->conns[i].uid == uid;
    return n;
}

/* A slot for a newcomer of uid: a free one, else that of the oldest
 * connection still reading of the user holding the most, if that user
 * holds more than uid does (it is told it was pushed out, as busy). */
static struct conn *slot_for(struct server *s, uid_t uid)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i].state == C_FREE)
            return &s->conns[i];
    uid_t most = 0;
    size_t most_held = 0;
    for (size_t i = 0; i < s->nconns; i++) {
        size_t h = held_by(s, s->conns[i].uid);
        if (h > most_held) {
            most_held = h;
            most = s->conns[i].uid;
        }
    }
    if (most == uid || most_held <= held_by(s, uid) + 1)
        return NULL;
    struct conn *oldest = NULL;
    for (size_t i = 0; i < s->nconns; i++) {
        struct conn *c = &s->conns[i];
        if (c->uid == most && c->state == C_READING && (!oldest || c->accepted < oldest->accepted))
            oldest = c;
    }
    if (!oldest)
        return NULL;
    auditd_answer(s, oldest, false, 0, "kyso-auditd had to make room for another user; try again", true);
    close_conn(s, oldest);
    return oldest;
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
                s->accept_pause_until = auditd_now_ms() + 100;
            }
            return;
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
            close(fd);
            continue;
        }
        if (held_by(s, cred.uid) >= (size_t)s->opt->max_per_user) {
            busy(fd, "kyso-auditd is busy (too many connections of this user); try again");
            continue;
        }
        struct conn *c = slot_for(s, cred.uid);
        if (!c) {
            busy(fd, "kyso-auditd is busy (too many clients); try again");
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->state = C_READING;
        c->fd = fd;
        c->pid = cred.pid;
        c->uid = cred.uid;
        c->accepted = auditd_now_ms();
        c->deadline = c->accepted + s->opt->client_timeout_ms;
        /* Who it is, now: the process may exit or change afterwards. */
        audit_identity_of(c->pid, c->uid, &c->who);
        s->active++;
    }
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
    if (!auditd_open_log(s, err, sizeof(err))) {
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

        int64_t now = auditd_now_ms();
        for (size_t i = 0; i < s->nconns; i++) {
            struct conn *c = &s->conns[i];
            if (c->state == C_READING && now >= c->deadline)
                auditd_answer(s, c, false, 0, "request timed out", false);
            else if (c->state == C_ANSWERING && now >= c->deadline)
                close_conn(s, c);
        }
        if (s->qlen && (stopping || s->qlen >= AUDITD_MAX_BATCH || now >= s->batch_deadline)) {
            auditd_flush_batch(s);
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
        /* Newcomers last: a connection that hung up in the same wait no
         * longer counts against its user's --max-per-user. */
        bool newcomers = false;
        for (size_t k = 0; k < n && r > 0; k++) {
            if (!s->pfds[k].revents)
                continue;
            r--;
            if (s->pfd_slot[k] == SIZE_MAX) {
                newcomers = true;
                continue;
            }
            struct conn *c = &s->conns[s->pfd_slot[k]];
            if (c->state == C_READING)
                on_readable(s, c);
            else if (c->state == C_ANSWERING)
                send_some(s, c);
        }
        if (newcomers)
            accept_all(s);
    }
}

int auditd_serve(int listen_fd, struct audit_writer **w, const struct auditd_options *opt)
{
    struct server s = { .opt = opt, .lfd = listen_fd, .w = w };
    struct stat sb;
    int rc = 1;

    s.ledger = ledger_new();
    if (!s.ledger) {
        auditd_error("out of memory");
        goto out;
    }
    if (stat(opt->log_path, &sb) == 0) {
        s.log_dev = sb.st_dev;
        s.log_ino = sb.st_ino;
        ledger_load(s.ledger, opt->log_path);
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
    ledger_free(s.ledger);
    return rc;
}
