/* kyso-auditd: deciding the queued requests and writing their records.
 *
 * A batch is decided in arrival order, then written with one flush:
 *   - a request past its deadline ("expires") is not written: its client
 *     has given up on it and released nothing;
 *   - a request id is written once: a retry of one already written is
 *     answered with its record's seq, two of one id in a batch share it;
 *   - a withholding ("withheld" naming a request id) of a record of the
 *     same user that says something was released appends a "withheld"
 *     record repeating what the first was about; for an id not written
 *     (yet), the id is buried: it is never written later;
 *   - a sign record with CKR_OK that names a certificate must carry its
 *     signature (and what was signed): it is written "checked":"signature"
 *     if the signature verifies with the certificate's key, and refused if
 *     it does not or is missing.
 * Then every client of the batch is answered. A batch of which nothing
 * was written is tried again one record at a time, so that one record
 * that cannot be written does not take the others down with it.
 *
 * The log is reopened on SIGHUP, when its path no longer names the file
 * held (an external `kyso audit rotate`), and after a failed write;
 * --rotate-size rotates it here. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/internal.h"
#include "audit/proof.h"
#include "tools/auditd/server.h"

/* ---- the log ---- */

static bool stat_log(const struct server *s, struct stat *sb)
{
    return stat(s->opt->log_path, sb) == 0;
}

/* (Re)opens the writer. The file's identity is taken before and after the
 * open: if they differ, a rotation ran in between and the open is done
 * again, so that log_dev/log_ino name the file the writer holds. What the
 * log says of the requests it holds is read again with it. */
bool auditd_open_log(struct server *s, char *err, size_t errlen)
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
        ledger_load(s->ledger, s->opt->log_path);
        return true;
    }
    snprintf(err, errlen, "the audit log %s keeps changing under us", s->opt->log_path);
    return false;
}

bool auditd_ready_log(struct server *s, char *err, size_t errlen)
{
    struct stat sb;
    if (*s->w && !s->reopen && stat_log(s, &sb) && sb.st_dev == s->log_dev && sb.st_ino == s->log_ino)
        return true;
    return auditd_open_log(s, err, errlen);
}

/* The sequence number of the log's last record (0 if it cannot be read):
 * whether a failed batch reached the file. */
static uint64_t last_seq_in_file(const char *path)
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

void auditd_maybe_rotate(struct server *s)
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

/* ---- deciding ---- */

/* What a queued request comes to. */
struct plan {
    struct conn *c;
    enum { P_WRITE, P_ANSWERED, P_SAME_AS } kind;
    struct audit_event ev;         /* P_WRITE: the record */
    json_object *ref;              /* P_WRITE of a withholding: the record withheld */
    size_t same_as;                /* P_SAME_AS: the plan whose record this request is */
    struct ledger_entry *target;   /* P_WRITE of a withholding: the entry it withholds */
    bool written;                  /* once written: its record's seq */
    uint64_t seq;
};

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void refuse(struct server *s, struct plan *p, const char *why)
{
    auditd_answer(s, p->c, false, 0, why, false);
    p->kind = P_ANSWERED;
}

/* The plan of this batch that writes request id, or SIZE_MAX. */
static size_t planned(const struct plan *plans, size_t n, const char *request)
{
    for (size_t i = 0; i < n; i++)
        if (plans[i].kind == P_WRITE && strcmp(plans[i].ev.event, "withheld") != 0 &&
            strcmp(plans[i].ev.request, request) == 0)
            return i;
    return SIZE_MAX;
}

static void decide_withholding(struct server *s, struct plan *plans, size_t i)
{
    struct plan *p = &plans[i];
    const char *target = p->c->req.request;
    size_t same = planned(plans, i, target);
    if (same != SIZE_MAX) {
        /* Both in this batch: the record is simply not written. */
        refuse(s, &plans[same], "withheld by the client before it was written");
        auditd_answer(s, p->c, true, 0, NULL, false);
        p->kind = P_ANSWERED;
        return;
    }
    struct ledger_entry *e = ledger_find(s->ledger, target);
    if (!e) {
        ledger_bury(s->ledger, target); /* if it still comes, it is refused */
        auditd_answer(s, p->c, true, 0, NULL, false);
        p->kind = P_ANSWERED;
        return;
    }
    if (e->uid != p->c->uid) {
        refuse(s, p, "that record is another user's");
        return;
    }
    if (e->withheld || !e->releases) {
        auditd_answer(s, p->c, true, 0, NULL, false); /* nothing (more) to say */
        p->kind = P_ANSWERED;
        return;
    }
    const char *detail = p->c->req.event.detail;
    p->ev = (struct audit_event){ .event = "withheld",
                                  .outcome = "CKR_OK",
                                  .detail = detail && strlen(detail) <= 200 ? detail
                                                                            : "the client did not release it",
                                  .request = e->request,
                                  .ref_seq = e->seq };
    p->ref = ledger_read_record(s->opt->log_path, e->seq);
    p->ev.ref_record = p->ref;
    p->target = e;
}

static void decide_record(struct server *s, struct plan *plans, size_t i)
{
    struct plan *p = &plans[i];
    struct audit_request *req = &p->c->req;
    if (ledger_buried(s->ledger, req->request)) {
        refuse(s, p, "withheld by the client before it was written");
        return;
    }
    size_t same = planned(plans, i, req->request);
    if (same != SIZE_MAX) {
        p->kind = P_SAME_AS;
        p->same_as = same;
        return;
    }
    struct ledger_entry *e = ledger_find(s->ledger, req->request);
    if (e) {
        if (e->uid != p->c->uid)
            refuse(s, p, "that request id is another user's");
        else if (e->withheld)
            refuse(s, p, "that record was withheld");
        else {
            auditd_answer(s, p->c, true, e->seq, NULL, false);
            p->kind = P_ANSWERED;
        }
        return;
    }
    if (req->expires_ms && realtime_ms() > req->expires_ms) {
        refuse(s, p, "expired: the client no longer waits for it");
        return;
    }
    p->ev = req->event;
    if (strcmp(p->ev.event, "sign") == 0 && p->ev.cert_der && p->ev.outcome && strcmp(p->ev.outcome, "CKR_OK") == 0) {
        /* A signature in someone's name is written only with the
         * signature itself, made by that certificate's key. */
        if (!p->ev.sig) {
            refuse(s, p, "a signature record naming a certificate must carry the signature");
            return;
        }
        if (!audit_proof_check_cert(p->ev.cert_der, p->ev.cert_len, p->ev.scheme, p->ev.tbs, p->ev.tbs_len,
                                    p->ev.sig, p->ev.sig_len)) {
            refuse(s, p, "the signature does not verify with the record's certificate");
            return;
        }
        p->ev.checked = "signature";
    }
}

/* ---- writing ---- */

/* Writes the plans of kind P_WRITE with one flush and answers them, and
 * those that share their records. */
static void write_plans(struct server *s, struct plan *plans, size_t n)
{
    const struct audit_event *events[AUDITD_MAX_BATCH];
    const struct audit_identity *who[AUDITD_MAX_BATCH];
    size_t index[AUDITD_MAX_BATCH], m = 0;
    char err[768] = "";
    for (size_t i = 0; i < n; i++)
        if (plans[i].kind == P_WRITE) {
            events[m] = &plans[i].ev;
            who[m] = &plans[i].c->who;
            index[m++] = i;
        }
    if (m == 0)
        goto answer_same;
    bool ready = auditd_ready_log(s, err, sizeof(err));
    uint64_t before = ready && m > 1 ? last_seq_in_file(s->opt->log_path) : 0;
    bool ok = ready && audit_writer_append(*s->w, events, who, m, err, sizeof(err)) == 0;
    if (!ok && ready && m > 1 && before && last_seq_in_file(s->opt->log_path) == before) {
        /* Nothing was written: one record may be what failed (say, one
         * too large to seal); the others are tried alone. (When the
         * records did reach the log and only the state could not follow,
         * they are not written twice: the next writer adopts them, and
         * withholds them, as nobody was told they are durable.) */
        for (size_t k = 0; k < m; k++) {
            struct plan *p = &plans[index[k]];
            struct plan one = *p;
            write_plans(s, &one, 1);
            p->kind = P_ANSWERED;
            p->written = one.written;
            p->seq = one.seq;
        }
        goto answer_same;
    }
    uint64_t first = 0;
    if (ok) {
        uint64_t last = audit_writer_last_seq(*s->w);
        first = last >= m ? last - m + 1 : 0;
    } else {
        auditd_error("%zu record%s not written: %s", m, m == 1 ? "" : "s", err);
        s->reopen = true;
    }
    char why[900];
    snprintf(why, sizeof(why), "the record could not be made durable: %s", err);
    /* The withheld entries first: adding entries may reuse old ones. */
    for (size_t k = 0; k < m && ok; k++)
        if (plans[index[k]].target)
            plans[index[k]].target->withheld = true;
    for (size_t k = 0; k < m; k++) {
        struct plan *p = &plans[index[k]];
        uint64_t seq = first ? first + k : 0;
        if (ok && !p->target)
            ledger_add(s->ledger, p->ev.request, seq, p->c->uid,
                       audit_event_releases(p->ev.event) && p->ev.outcome && strcmp(p->ev.outcome, "CKR_OK") == 0);
        auditd_answer(s, p->c, ok, seq, why, false);
        p->kind = P_ANSWERED;
        p->written = ok;
        p->seq = seq;
    }
answer_same:
    for (size_t i = 0; i < n; i++) {
        struct plan *p = &plans[i];
        if (p->kind != P_SAME_AS)
            continue;
        const struct plan *q = &plans[p->same_as];
        auditd_answer(s, p->c, q->written, q->seq, "the record could not be made durable", false);
        p->kind = P_ANSWERED;
    }
}

void auditd_flush_batch(struct server *s)
{
    /* The log first: what it holds decides retries and withholdings. */
    char err[768];
    if (!auditd_ready_log(s, err, sizeof(err)))
        auditd_error("%s", err);
    size_t n = s->qlen < AUDITD_MAX_BATCH ? s->qlen : AUDITD_MAX_BATCH;
    struct plan *plans = calloc(n, sizeof(*plans));
    if (!plans) {
        auditd_error("out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        plans[i].c = &s->conns[s->queue[i]];
        plans[i].kind = P_WRITE;
    }
    memmove(s->queue, s->queue + n, (s->qlen - n) * sizeof(s->queue[0]));
    s->qlen -= n;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(plans[i].c->req.event.event, "withheld") == 0)
            decide_withholding(s, plans, i);
        else
            decide_record(s, plans, i);
    }
    write_plans(s, plans, n);
    for (size_t i = 0; i < n; i++)
        json_object_put(plans[i].ref);
    free(plans);
    auditd_maybe_rotate(s);
}
