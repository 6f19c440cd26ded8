/* kyso-auditd: what main.c (options, socket, daemon start) and server.c
 * (the connections, the batches, the log) share. */
#ifndef KYSO_TOOLS_AUDITD_H
#define KYSO_TOOLS_AUDITD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/audit.h"

/* A client has this long (--client-timeout), from its connection, to send
 * its request; an answer not taken within AUDITD_ANSWER_TIMEOUT_MS is
 * dropped. A slow or hostile client costs one connection slot for at most
 * this long and never delays the others. */
#define AUDITD_REQUEST_TIMEOUT_MS 2000
#define AUDITD_ANSWER_TIMEOUT_MS 2000
/* The largest request (the frame layer's limit, audit/protocol.c). */
#define AUDITD_MAX_REQUEST (64 * 1024)
/* The most records made durable by one flush (group commit). */
#define AUDITD_MAX_BATCH 256

struct auditd_options {
    const char *log_path;          /* absolute */
    const char *socket_path;       /* absolute; ours to remove, or NULL (systemd's) */
    dev_t socket_dev;              /* the socket we bound, to remove only that one */
    ino_t socket_ino;
    int batch_ms;                  /* how long the first record of a batch may wait (0: none) */
    int max_clients;               /* connections held at once (each holds one record at most) */
    int max_per_user;              /* of them, held by one user at once */
    int client_timeout_ms;         /* for the whole request, from the connection */
    uint64_t rotate_size;          /* 0: never; else rotate once the log reaches it */
};

/* One line on stderr (unless it is the journal) and to syslog (daemon.err);
 * the same line again within a few seconds is counted, not repeated. */
void auditd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Serves listen_fd (non-blocking, listening) until SIGTERM or SIGINT;
 * writes through *w (which it may reopen: SIGHUP, external rotation).
 * SIGTERM, SIGINT and SIGHUP must be blocked by the caller. Returns the
 * exit status. */
int auditd_serve(int listen_fd, struct audit_writer **w, const struct auditd_options *opt);

#endif
