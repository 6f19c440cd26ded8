/* The module ↔ kyso-auditd protocol; see protocol.c. */
#ifndef KYSO_AUDIT_PROTOCOL_H
#define KYSO_AUDIT_PROTOCOL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

#define AUDIT_DEFAULT_SOCKET "/run/kyso/audit.sock"
/* The largest request or answer (the frame's length says more: refused). */
#define AUDIT_MAX_MESSAGE (64 * 1024)
/* How long after a request's deadline the client still waits for its
 * answer: the time a batch in hand takes to reach the disk. */
#define AUDIT_ANSWER_GRACE_MS 500

/* A decoded request; event points into root and the buffers here. */
struct audit_request {
    json_object *root;
    uint8_t cert[AUDIT_MAX_CERT];
    uint8_t sig[AUDIT_MAX_PROOF], tbs[AUDIT_MAX_PROOF];
    uint8_t sha256[32];
    char request[AUDIT_REQUEST_ID_LEN + 1];
    int64_t expires_ms;            /* CLOCK_REALTIME ms after which it must not be written; 0: none */
    bool retry;                    /* sent again after the connection broke: it may be written already */
    struct audit_event event;
};

/* The request for ev (with its id, deadline and retry flag): a string to
 * free(), or NULL. */
char *audit_request_encode(const struct audit_event *ev, const char *request, int64_t expires_ms, bool retry);
/* Decodes and checks a request: 0, or -1 with *why (a constant string). */
int audit_request_decode(const char *text, size_t len, struct audit_request *req, const char **why);
void audit_request_free(struct audit_request *req);

/* Strict base64 (RFC 4648, padded, no line breaks) into out[0..cap):
 * false for anything else or more than cap bytes. */
bool audit_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t cap, size_t *out_len);

/* A fresh request id: 32 lowercase hex digits of kernel randomness. */
bool audit_request_id_new(char out[AUDIT_REQUEST_ID_LEN + 1]);

/* 4-byte big-endian length, then the bytes; with a deadline in ms. */
int audit_frame_send(int fd, const char *text, size_t len, int timeout_ms);
char *audit_frame_recv(int fd, size_t *len, int timeout_ms);            /* free() */

/* The client side, used by the module's daemon sink (audit/sink.c).
 * AUDIT_SENT_UNKNOWN: the request went out but no answer came back in
 * time, so it may have been written: the caller withholds it. */
enum audit_client_result { AUDIT_WRITTEN = 0, AUDIT_NOT_WRITTEN = -1, AUDIT_SENT_UNKNOWN = -2 };
enum audit_client_result audit_daemon_submit(const char *socket_path, const struct audit_event *ev,
                                             int timeout_ms, struct audit_receipt *receipt, char *err,
                                             size_t errlen);
/* Asks the daemon to follow the record of request id with a "withheld"
 * record (nothing happens if it never wrote it). 0, or -1 with a reason. */
int audit_daemon_withhold(const char *socket_path, const char *request, const char *why, int timeout_ms, char *err,
                          size_t errlen);

#endif
