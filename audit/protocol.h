/* The module ↔ kyso-auditd protocol; see protocol.c. */
#ifndef KYSO_AUDIT_PROTOCOL_H
#define KYSO_AUDIT_PROTOCOL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

#define AUDIT_DEFAULT_SOCKET "/run/kyso/audit.sock"

/* A decoded request; event points into root and cert. */
struct audit_request {
    json_object *root;
    uint8_t *cert;
    uint8_t sha256[32];
    struct audit_event event;
};

char *audit_request_encode(const struct audit_event *ev);               /* free() */
int audit_request_decode(const char *text, size_t len, struct audit_request *req);
void audit_request_free(struct audit_request *req);

/* 4-byte big-endian length, then the bytes; with a deadline in ms. */
int audit_frame_send(int fd, const char *text, size_t len, int timeout_ms);
char *audit_frame_recv(int fd, size_t *len, int timeout_ms);            /* free() */

/* The client side used by the module's daemon sink. */
int audit_daemon_submit(const char *socket_path, const struct audit_event *ev, char *err, size_t errlen);

#endif
