/* kyso-auditd: what server.c (connections) and batch.c (deciding and
 * writing the records) share. */
#ifndef KYSO_TOOLS_AUDITD_SERVER_H
#define KYSO_TOOLS_AUDITD_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/audit.h"
#include "audit/protocol.h"
#include "tools/auditd/auditd.h"
#include "tools/auditd/ledger.h"

enum conn_state { C_FREE, C_READING, C_QUEUED, C_ANSWERING };

struct conn {
    enum conn_state state;
    int fd;
    pid_t pid;
    uid_t uid;
    int64_t accepted;              /* ms, CLOCK_MONOTONIC */
    int64_t deadline;              /* ms, CLOCK_MONOTONIC */
    uint8_t hdr[4];
    size_t hdr_got;
    char *body;
    size_t body_len, body_got;
    struct audit_request req;
    struct audit_identity who;     /* read when the connection was accepted */
    char out[512];                 /* the framed answer */
    size_t out_len, out_sent;
};

struct server {
    const struct auditd_options *opt;
    int lfd;
    struct audit_writer **w;
    struct ledger *ledger;
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

int64_t auditd_now_ms(void);
/* Answers (ok with seq, or the error; busy: the client may try again)
 * and closes once the answer is taken. */
void auditd_answer(struct server *s, struct conn *c, bool ok, uint64_t seq, const char *error, bool busy);

/* batch.c: the queued requests decided, written with one flush, answered. */
void auditd_flush_batch(struct server *s);
/* The writer, (re)opened if needed; the ledger reloaded with it. */
bool auditd_ready_log(struct server *s, char *err, size_t errlen);
bool auditd_open_log(struct server *s, char *err, size_t errlen);
void auditd_maybe_rotate(struct server *s);

#endif
