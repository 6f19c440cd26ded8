/* The audit trail: how the module hands a record to kyso-auditd.
 *
 * One request per connection on the daemon's UNIX socket: a 4-byte
 * big-endian length and a JSON object with the event's fields (the
 * certificate base64-encoded); the answer, framed the same way, is
 * {"ok":true,"seq":N} once the record is durable, or {"ok":false,
 * "error":"…"}. Who is calling is not part of the request: the daemon
 * takes it from the kernel (SO_PEERCRED). */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit/protocol.h"

#define MAX_MESSAGE (64 * 1024)

static void put_string(json_object *o, const char *name, const char *v)
{
    if (v && *v)
        json_object_object_add(o, name, json_object_new_string(v));
}

char *audit_request_encode(const struct audit_event *ev)
{
    json_object *o = json_object_new_object();
    put_string(o, "event", ev->event);
    put_string(o, "reader", ev->reader);
    put_string(o, "token", ev->token);
    put_string(o, "key", ev->key);
    if (ev->cert_der && ev->cert_len && ev->cert_len < 16384) {
        char *b64 = malloc(4 * ((ev->cert_len + 2) / 3) + 1);
        if (b64) {
            EVP_EncodeBlock((unsigned char *)b64, ev->cert_der, (int)ev->cert_len);
            put_string(o, "cert", b64);
            free(b64);
        }
    }
    put_string(o, "mechanism", ev->mechanism);
    if (ev->has_input) {
        json_object_object_add(o, "input_len", json_object_new_int64((int64_t)ev->input_len));
        if (ev->input_sha256) {
            char hex[65];
            audit_hex(ev->input_sha256, 32, hex);
            put_string(o, "input_sha256", hex);
        }
    }
    put_string(o, "outcome", ev->outcome);
    put_string(o, "rule", ev->rule);
    put_string(o, "detail", ev->detail);
    char *out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static const char *get_string(json_object *o, const char *name)
{
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int audit_request_decode(const char *text, size_t len, struct audit_request *req)
{
    static const char *const events[] = { "sign", "decrypt", "derive", "refusal", "pin_failure", "pin_locked",
                                          "pin_change", "pin_unblock", "keygen", "object_create", "object_destroy" };
    memset(req, 0, sizeof(*req));
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    req->root = json_tokener_parse_ex(tok, text, (int)len);
    bool complete = json_tokener_get_error(tok) == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!req->root || !complete || !json_object_is_type(req->root, json_type_object)) {
        audit_request_free(req);
        return -1;
    }
    struct audit_event *ev = &req->event;
    ev->event = get_string(req->root, "event");
    /* Clients may not write the chain's own records. */
    bool known = false;
    for (size_t i = 0; ev->event && i < sizeof(events) / sizeof(events[0]); i++)
        known |= strcmp(ev->event, events[i]) == 0;
    if (!known) {
        audit_request_free(req);
        return -1;
    }
    ev->reader = get_string(req->root, "reader");
    ev->token = get_string(req->root, "token");
    ev->key = get_string(req->root, "key");
    ev->mechanism = get_string(req->root, "mechanism");
    ev->outcome = get_string(req->root, "outcome");
    ev->rule = get_string(req->root, "rule");
    ev->detail = get_string(req->root, "detail");
    const char *cert = get_string(req->root, "cert");
    if (cert) {
        size_t n = strlen(cert);
        req->cert = malloc(n);
        int m = req->cert && n % 4 == 0 ? EVP_DecodeBlock(req->cert, (const unsigned char *)cert, (int)n) : -1;
        if (m <= 0) {
            audit_request_free(req);
            return -1;
        }
        /* EVP_DecodeBlock counts padding as bytes. */
        while (n > 0 && cert[n - 1] == '=') {
            m--;
            n--;
        }
        ev->cert_der = req->cert;
        ev->cert_len = (size_t)m;
    }
    json_object *v;
    if (json_object_object_get_ex(req->root, "input_len", &v) && json_object_is_type(v, json_type_int)) {
        ev->has_input = true;
        ev->input_len = (size_t)json_object_get_int64(v);
    }
    const char *sha = get_string(req->root, "input_sha256");
    if (sha) {
        if (!audit_unhex(sha, req->sha256, sizeof(req->sha256))) {
            audit_request_free(req);
            return -1;
        }
        ev->input_sha256 = req->sha256;
    }
    return 0;
}

void audit_request_free(struct audit_request *req)
{
    if (req->root)
        json_object_put(req->root);
    free(req->cert);
    memset(req, 0, sizeof(*req));
}

/* Reads or writes exactly len bytes within the deadline (ms). */
static bool io_full(int fd, void *buf, size_t len, bool writing, int timeout_ms)
{
    uint8_t *p = buf;
    while (len) {
        struct pollfd pfd = { .fd = fd, .events = writing ? POLLOUT : POLLIN };
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

int audit_frame_send(int fd, const char *text, size_t len, int timeout_ms)
{
    uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    if (len > MAX_MESSAGE)
        return -1;
    return io_full(fd, hdr, 4, true, timeout_ms) && io_full(fd, (void *)text, len, true, timeout_ms) ? 0 : -1;
}

char *audit_frame_recv(int fd, size_t *len, int timeout_ms)
{
    uint8_t hdr[4];
    if (!io_full(fd, hdr, 4, false, timeout_ms))
        return NULL;
    size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    if (n > MAX_MESSAGE)
        return NULL;
    char *buf = malloc(n + 1);
    if (!buf || !io_full(fd, buf, n, false, timeout_ms)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int audit_daemon_submit(const char *socket_path, const struct audit_event *ev, char *err, size_t errlen)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "audit socket path too long");
        return -1;
    }
    strcpy(addr.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        snprintf(err, errlen, "kyso-auditd is not reachable at %s: %s", socket_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char *req = audit_request_encode(ev);
    size_t alen = 0;
    char *answer = NULL;
    int rc = -1;
    /* The daemon answers once the record is on stable storage. */
    if (req && audit_frame_send(fd, req, strlen(req), 10000) == 0)
        answer = audit_frame_recv(fd, &alen, 30000);
    free(req);
    close(fd);
    json_object *o = answer ? json_tokener_parse(answer) : NULL, *ok = NULL, *why = NULL;
    if (o && json_object_object_get_ex(o, "ok", &ok) && json_object_get_boolean(ok)) {
        rc = 0;
    } else if (o && json_object_object_get_ex(o, "error", &why)) {
        snprintf(err, errlen, "kyso-auditd: %s", json_object_get_string(why));
    } else {
        snprintf(err, errlen, "kyso-auditd gave no answer");
    }
    if (o)
        json_object_put(o);
    free(answer);
    return rc;
}
