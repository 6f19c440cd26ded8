/* The audit trail's sinks (audit/README.md): kyso-auditd (the default),
 * the log file written directly, or off. Which one is not decided here:
 * the module sets it from root's configuration (audit_sink_configure;
 * policy_choose_audit decides what the environment may change).
 *
 * A record costs at most audit_timeout_ms() (1500 ms by default, 100 to
 * 10000) plus the daemon's grace for the batch in hand
 * (AUDIT_ANSWER_GRACE_MS): a daemon that is stopped or overloaded makes
 * the operation fail closed within that, never hang. A request that went
 * out without an answer may have been written: it is withheld (see
 * protocol.c), at once or, while the daemon cannot be reached, with the
 * next record, at C_Finalize or when the module is unloaded. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/internal.h"
#include "audit/protocol.h"

#define DEFAULT_TIMEOUT_MS 1500
/* Withholdings still to send, oldest first; beyond that the oldest is
 * given up (and said so on syslog by the caller's fail-closed message). */
#define MAX_PENDING 256
/* Of a record's time, what sending earlier withholdings may take. */
#define PENDING_SHARE_MS 300

/* The sink and its timeout, as the module configured them. */
static pthread_mutex_t setting_lock = PTHREAD_MUTEX_INITIALIZER;
static char configured[300] = "daemon:" AUDIT_DEFAULT_SOCKET;
static int configured_timeout_ms = DEFAULT_TIMEOUT_MS;

/* The direct file sink keeps one writer per process (reopened after fork:
 * a child must not share the parent's lock state), with the process's
 * identity looked up once with it.
 *
 * Records of concurrent calls share a flush (group commit): a caller
 * queues its record; if no flush is under way it takes every record
 * queued (for the same log) and appends them as one batch, with one
 * flush, while the next callers queue theirs for the following batch;
 * otherwise it waits until a batch that holds its record is durable (or
 * failed). Nobody returns before its own record is durable. */
#define MAX_BATCH 64
struct file_waiter {
    const struct audit_event *ev;
    const char *path;
    struct file_waiter *next;
    bool done;
    int rc;
    uint64_t seq;
    char err[512];
};
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t file_cond = PTHREAD_COND_INITIALIZER;
static struct file_waiter *file_queue; /* oldest first */
static bool file_flushing;             /* a caller is appending a batch */
static pid_t file_queue_pid;           /* the process file_queue belongs to */
static struct audit_writer *file_writer;
static char file_path[1024];
static pid_t file_pid;
static struct audit_identity self;
static pid_t fork_parent;

struct pending {
    char socket[108];
    char request[AUDIT_REQUEST_ID_LEN + 1];
    char why[128];
};
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending pending[MAX_PENDING];
static size_t npending;

/* fork() while another thread is writing a record would leave the child
 * with a lock held. The module takes these around fork (after its own
 * locks, in the order its threads take them), so the child starts with
 * them free and reopens the writer (see file_submit). */
void audit_sink_fork_prepare(void)
{
    pthread_mutex_lock(&file_lock);
    pthread_mutex_lock(&pending_lock);
    pthread_mutex_lock(&setting_lock);
    audit_syslog_fork_prepare();
    fork_parent = getpid();
}

/* In a child the queue's callers (and a flushing one) were threads of
 * the parent: their records are the parent's to make. */
static void file_queue_forget(void)
{
    file_queue = NULL;
    file_flushing = false;
    file_queue_pid = getpid();
    /* The parent's waiters may be counted in the condition's state. */
    pthread_cond_init(&file_cond, NULL);
}

void audit_sink_fork_done(void)
{
    if (getpid() != fork_parent)
        file_queue_forget();
    audit_syslog_fork_done();
    pthread_mutex_unlock(&setting_lock);
    pthread_mutex_unlock(&pending_lock);
    pthread_mutex_unlock(&file_lock);
}

/* The module may be unloaded (dlclose) while its process goes on: the
 * file sink's writer goes with it, and what is still to be said is said. */
__attribute__((destructor)) static void close_sinks(void)
{
    audit_sink_flush(1000);
    /* In a forked child too: closing our copies of the files leaves the
     * parent's alone. */
    if (file_writer)
        audit_writer_close(file_writer);
    file_writer = NULL;
}

int audit_sink_configure(const char *sink, int timeout_ms)
{
    char v[sizeof(configured)];
    if (strcmp(sink, "daemon") == 0)
        snprintf(v, sizeof(v), "daemon:%s", AUDIT_DEFAULT_SOCKET);
    else if (strcmp(sink, "off") == 0 || (strncmp(sink, "file:", 5) == 0 && sink[5] == '/') ||
             (strncmp(sink, "daemon:", 7) == 0 && sink[7] == '/' && strlen(sink + 7) < 108)) {
        if (strlen(sink) >= sizeof(v))
            return -1;
        snprintf(v, sizeof(v), "%s", sink);
    } else
        return -1;
    pthread_mutex_lock(&setting_lock);
    snprintf(configured, sizeof(configured), "%s", v);
    configured_timeout_ms = timeout_ms >= 100 && timeout_ms <= 10000 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    pthread_mutex_unlock(&setting_lock);
    return 0;
}

/* A copy: another thread may configure the sink meanwhile. */
static const char *setting(char buf[static 300])
{
    pthread_mutex_lock(&setting_lock);
    memcpy(buf, configured, sizeof(configured));
    pthread_mutex_unlock(&setting_lock);
    return buf;
}

bool audit_disabled(void)
{
    char buf[300];
    return strcmp(setting(buf), "off") == 0;
}

int audit_timeout_ms(void)
{
    pthread_mutex_lock(&setting_lock);
    int ms = configured_timeout_ms;
    pthread_mutex_unlock(&setting_lock);
    return ms;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------- file sink */

/* The writer for path, opened (or reopened after fork) with the
 * process's identity. Called by the flushing caller, file_lock held. */
static int file_writer_for(const char *path, char *err, size_t errlen)
{
    if (file_writer && (file_pid != getpid() || strcmp(path, file_path) != 0)) {
        /* After fork the writer is a copy of the parent's: closing our
         * copies of its files leaves the parent's (and its lock) alone. */
        audit_writer_close(file_writer);
        file_writer = NULL;
    }
    if (!file_writer) {
        if (audit_writer_open(path, &file_writer, err, errlen) != 0)
            return -1;
        snprintf(file_path, sizeof(file_path), "%s", path);
        file_pid = getpid();
        audit_identity_self(&self);
    }
    return 0;
}

/* Appends the records queued for the head's log, as one batch; called
 * and returns with file_lock held (released meanwhile). */
static void file_flush_batch(void)
{
    const struct audit_event *events[MAX_BATCH];
    const struct audit_identity *who[MAX_BATCH];
    struct file_waiter *batch[MAX_BATCH];
    size_t n = 0;
    const char *path = file_queue->path;
    struct file_waiter **link = &file_queue;
    while (*link && n < MAX_BATCH) {
        struct file_waiter *q = *link;
        if (strcmp(q->path, path) != 0) {
            link = &q->next; /* (the sink was configured anew meanwhile) */
            continue;
        }
        *link = q->next;
        batch[n] = q;
        events[n] = q->ev;
        who[n] = &self;
        n++;
    }
    file_flushing = true;
    char err[512];
    int rc = file_writer_for(path, err, sizeof(err));
    struct audit_writer *w = file_writer;
    pthread_mutex_unlock(&file_lock);
    /* The writer is only used, closed or replaced by the flushing caller:
     * used here without file_lock, so that the next callers can queue.
     * (A fork meanwhile leaves the child without this thread: the child
     * forgets the queue and opens a writer of its own.) */
    if (rc == 0)
        rc = audit_writer_append(w, events, who, n, err, sizeof(err));
    uint64_t last = rc == 0 ? audit_writer_last_seq(w) : 0;
    pthread_mutex_lock(&file_lock);
    for (size_t i = 0; i < n; i++) {
        batch[i]->rc = rc;
        /* The batch ends the log: the records are the last n. */
        batch[i]->seq = rc == 0 ? last - (n - 1 - i) : 0;
        if (rc != 0)
            snprintf(batch[i]->err, sizeof(batch[i]->err), "%s", err);
        batch[i]->done = true;
    }
    file_flushing = false;
    pthread_cond_broadcast(&file_cond);
}

static int file_append(const char *path, const struct audit_event *ev, uint64_t *seq, char *err, size_t errlen)
{
    struct file_waiter me = { .ev = ev, .path = path };
    pthread_mutex_lock(&file_lock);
    if (file_queue_pid != getpid())
        file_queue_forget(); /* a fork the module did not see (not initialized then) */
    struct file_waiter **tail = &file_queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &me;
    while (!me.done) {
        if (!file_flushing)
            file_flush_batch(); /* ours, or an earlier one that holds ours */
        else
            pthread_cond_wait(&file_cond, &file_lock);
    }
    pthread_mutex_unlock(&file_lock);
    if (me.rc != 0)
        snprintf(err, errlen, "%s", me.err);
    else if (seq)
        *seq = me.seq;
    return me.rc;
}

/* -------------------------------------------------------- daemon sink */

static void remember(const char *socket, const char *request, const char *why)
{
    pthread_mutex_lock(&pending_lock);
    if (npending == MAX_PENDING) {
        memmove(pending, pending + 1, (MAX_PENDING - 1) * sizeof(pending[0]));
        npending--;
    }
    struct pending *p = &pending[npending++];
    snprintf(p->socket, sizeof(p->socket), "%s", socket);
    snprintf(p->request, sizeof(p->request), "%s", request);
    snprintf(p->why, sizeof(p->why), "%s", why);
    pthread_mutex_unlock(&pending_lock);
}

/* Sends the withholdings kept, oldest first, until one fails or the time
 * is up. */
static void send_pending(int timeout_ms)
{
    int64_t until = mono_ms() + timeout_ms;
    for (;;) {
        struct pending p;
        pthread_mutex_lock(&pending_lock);
        bool any = npending > 0;
        if (any)
            p = pending[0];
        pthread_mutex_unlock(&pending_lock);
        int64_t left = until - mono_ms();
        if (!any || left <= 0)
            return;
        char err[256];
        if (audit_daemon_withhold(p.socket, p.request, p.why, (int)left, err, sizeof(err)) != 0)
            return;
        pthread_mutex_lock(&pending_lock);
        /* Another thread may have sent it meanwhile: remove it by id. */
        for (size_t i = 0; i < npending; i++)
            if (strcmp(pending[i].request, p.request) == 0) {
                memmove(pending + i, pending + i + 1, (npending - i - 1) * sizeof(pending[0]));
                npending--;
                break;
            }
        pthread_mutex_unlock(&pending_lock);
    }
}

void audit_sink_flush(int timeout_ms)
{
    send_pending(timeout_ms);
}

/* ------------------------------------------------------------- the API */

int audit_submit(const struct audit_event *ev, struct audit_receipt *receipt, char *err, size_t errlen)
{
    char buf[300];
    const char *s = setting(buf);
    memset(receipt, 0, sizeof(*receipt));
    if (strcmp(s, "off") == 0)
        return 0;
    if (strncmp(s, "file:", 5) == 0 && s[5]) {
        if (!audit_request_id_new(receipt->request)) {
            snprintf(err, errlen, "no randomness for the request id");
            return -1;
        }
        struct audit_event e = *ev;
        e.request = receipt->request;
        return file_append(s + 5, &e, &receipt->seq, err, errlen);
    }
    if (strncmp(s, "daemon:", 7) == 0 && s[7]) {
        int timeout = audit_timeout_ms();
        send_pending(timeout / 4 < PENDING_SHARE_MS ? timeout / 4 : PENDING_SHARE_MS);
        enum audit_client_result r = audit_daemon_submit(s + 7, ev, timeout, receipt, err, errlen);
        if (r == AUDIT_SENT_UNKNOWN)
            remember(s + 7, receipt->request, "kyso-auditd did not confirm the record in time: the result was withheld");
        return r == AUDIT_WRITTEN ? 0 : -1;
    }
    snprintf(err, errlen, "the audit sink %s is not file:PATH, daemon:SOCKET or off", s);
    return -1;
}

int audit_withhold(const struct audit_event *ev, const struct audit_receipt *receipt, const char *why, char *err,
                   size_t errlen)
{
    char buf[300];
    const char *s = setting(buf);
    if (strcmp(s, "off") == 0 || !receipt->request[0])
        return 0;
    if (strncmp(s, "file:", 5) == 0 && s[5]) {
        struct audit_event w = *ev;
        w.event = "withheld";
        w.outcome = "CKR_OK";
        w.rule = NULL;
        w.detail = why;
        w.request = receipt->request;
        w.ref_seq = receipt->seq;
        return file_append(s + 5, &w, NULL, err, errlen);
    }
    if (strncmp(s, "daemon:", 7) == 0 && s[7]) {
        if (audit_daemon_withhold(s + 7, receipt->request, why, audit_timeout_ms(), err, errlen) == 0)
            return 0;
        remember(s + 7, receipt->request, why);
        return -1;
    }
    snprintf(err, errlen, "the audit sink %s is not file:PATH, daemon:SOCKET or off", s);
    return -1;
}
