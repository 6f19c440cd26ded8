/* The audit trail: how the module hands a record to kyso-auditd.
 *
 * One request per connection on the daemon's UNIX socket: a 4-byte
 * big-endian length and a JSON object with the event's fields (binary
 * ones in base64), the request's id (32 hex digits, random, unique), the
 * time after which it must not be written ("expires", ms since the epoch)
 * and, when it is sent again after a connection broke, "retry". The
 * answer, framed the same way, is {"ok":true,"seq":N} once the record is
 * durable, or {"ok":false,"error":"…"} when it was not written (with
 * "busy":true when the daemon had no room: try again).
 *
 * Exactly once, whatever breaks: the daemon writes at most one record per
 * request id; a retry of a request it already wrote is answered with that
 * record's seq; a request past its deadline is not written. A client that
 * gets no answer cannot know, so it asks for the record to be withheld
 * ({"event":"withheld","request":ID}, ID being the first request's): the
 * daemon then follows that record with a "withheld" record, if it ever
 * wrote it, and never writes it later.
 *
 * Who is calling is not part of the request: the daemon takes it from the
 * kernel (SO_PEERCRED). */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/protocol.h"

/* ---------------------------------------------------------------- base64 */

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool audit_base64_decode(const char *text, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n == 0 || n % 4 != 0 || n > 4 * ((cap + 2) / 3))
        return false;
    size_t pad = text[n - 1] == '=' ? (text[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++)
        if (!b64_char(text[i]))
            return false;
    size_t len = 3 * (n / 4) - pad;
    if (len > cap)
        return false;
    uint8_t *tmp = malloc(3 * (n / 4));
    bool ok = tmp && EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)n) == (int)(3 * (n / 4));
    if (ok) {
        memcpy(out, tmp, len);
        *out_len = len;
    }
    free(tmp);
    return ok;
}

static void put_string(json_object *o, const char *name, const char *v)
{
    if (v && *v)
        json_object_object_add(o, name, json_object_new_string(v));
}

static void put_base64(json_object *o, const char *name, const uint8_t *v, size_t len, size_t max)
{
    if (!v || !len || len > max)
        return;
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (b64) {
        EVP_EncodeBlock((unsigned char *)b64, v, (int)len);
        put_string(o, name, b64);
        free(b64);
    }
}

/* --------------------------------------------------------------- requests */

char *audit_request_encode(const struct audit_event *ev, const char *request, int64_t expires_ms, bool retry)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    put_string(o, "event", ev->event);
    put_string(o, "request", request);
    if (expires_ms > 0)
        json_object_object_add(o, "expires", json_object_new_int64(expires_ms));
    if (retry)
        json_object_object_add(o, "retry", json_object_new_boolean(true));
    put_string(o, "reader", ev->reader);
    put_string(o, "token", ev->token);
    put_string(o, "key", ev->key);
    put_base64(o, "cert", ev->cert_der, ev->cert_len, AUDIT_MAX_CERT);
    put_string(o, "mechanism", ev->mechanism);
    if (ev->has_input) {
        json_object_object_add(o, "input_len", json_object_new_int64((int64_t)ev->input_len));
        if (ev->input_sha256) {
            char hex[65];
            audit_hex(ev->input_sha256, 32, hex);
            put_string(o, "input_sha256", hex);
        }
    }
    if (ev->sig_len <= AUDIT_MAX_PROOF && ev->tbs_len <= AUDIT_MAX_PROOF && ev->scheme) {
        put_base64(o, "sig", ev->sig, ev->sig_len, AUDIT_MAX_PROOF);
        put_base64(o, "tbs", ev->tbs, ev->tbs_len, AUDIT_MAX_PROOF);
        put_string(o, "scheme", ev->scheme);
    }
    put_string(o, "outcome", ev->outcome);
    put_string(o, "rule", ev->rule);
    put_string(o, "detail", ev->detail);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *out = text ? strdup(text) : NULL;
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

static bool is_request_id(const char *id)
{
    if (!id || strlen(id) != AUDIT_REQUEST_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* A base64 field into buf: absent is fine, anything but strict base64 of
 * at most cap bytes is not. */
static bool get_base64(json_object *o, const char *name, uint8_t *buf, size_t cap, const uint8_t **out, size_t *len)
{
    const char *text = get_string(o, name);
    json_object *v;
    if (!text)
        return !json_object_object_get_ex(o, name, &v);
    if (!audit_base64_decode(text, strlen(text), buf, cap, len) || *len == 0)
        return false;
    *out = buf;
    return true;
}

static bool known_scheme(const char *s)
{
    return strcmp(s, "pkcs1") == 0 || strcmp(s, "ecdsa") == 0 || strcmp(s, "raw") == 0 ||
           (strncmp(s, "pss:", 4) == 0 && strlen(s) < 40);
}

int audit_request_decode(const char *text, size_t len, struct audit_request *req, const char **why)
{
    static const char *const events[] = { "sign",       "decrypt",    "derive",     "refusal",
                                          "pin_failure", "pin_locked", "pin_change", "pin_unblock",
                                          "keygen",     "object_create", "object_destroy", "withheld",
                                          "logout", "record" };
    memset(req, 0, sizeof(*req));
    *why = "invalid request";
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    req->root = json_tokener_parse_ex(tok, text, (int)len);
    bool complete = json_tokener_get_error(tok) == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!req->root || !complete || !json_object_is_type(req->root, json_type_object))
        goto bad;
    struct audit_event *ev = &req->event;
    ev->event = get_string(req->root, "event");
    /* Clients may not write the chain's own records. */
    bool known = false;
    for (size_t i = 0; ev->event && i < sizeof(events) / sizeof(events[0]); i++)
        known |= strcmp(ev->event, events[i]) == 0;
    if (!known) {
        *why = "unknown event";
        goto bad;
    }
    const char *id = get_string(req->root, "request");
    if (!is_request_id(id)) {
        *why = "no request id (32 lowercase hex digits)";
        goto bad;
    }
    memcpy(req->request, id, sizeof(req->request));
    ev->request = req->request;
    json_object *v;
    if (json_object_object_get_ex(req->root, "expires", &v)) {
        if (!json_object_is_type(v, json_type_int) || (req->expires_ms = json_object_get_int64(v)) <= 0)
            goto bad;
    }
    if (json_object_object_get_ex(req->root, "retry", &v)) {
        if (!json_object_is_type(v, json_type_boolean))
            goto bad;
        req->retry = json_object_get_boolean(v);
    }
    ev->reader = get_string(req->root, "reader");
    ev->token = get_string(req->root, "token");
    ev->key = get_string(req->root, "key");
    ev->mechanism = get_string(req->root, "mechanism");
    ev->outcome = get_string(req->root, "outcome");
    ev->rule = get_string(req->root, "rule");
    ev->detail = get_string(req->root, "detail");
    const uint8_t *p = NULL;
    size_t n = 0;
    if (!get_base64(req->root, "cert", req->cert, sizeof(req->cert), &p, &n)) {
        *why = "the certificate is not base64 of at most 16384 bytes";
        goto bad;
    }
    ev->cert_der = p;
    ev->cert_len = n;
    p = NULL, n = 0;
    if (!get_base64(req->root, "sig", req->sig, sizeof(req->sig), &p, &n)) {
        *why = "the signature is not base64 of at most 1024 bytes";
        goto bad;
    }
    ev->sig = p;
    ev->sig_len = n;
    p = NULL, n = 0;
    if (!get_base64(req->root, "tbs", req->tbs, sizeof(req->tbs), &p, &n)) {
        *why = "what the signature covers is not base64 of at most 1024 bytes";
        goto bad;
    }
    ev->tbs = p;
    ev->tbs_len = n;
    ev->scheme = get_string(req->root, "scheme");
    if ((ev->sig || ev->tbs || ev->scheme) && !(ev->sig && ev->tbs && ev->scheme && known_scheme(ev->scheme))) {
        *why = "a signature needs what it covers and a known scheme";
        goto bad;
    }
    if (json_object_object_get_ex(req->root, "input_len", &v)) {
        int64_t il;
        if (!json_object_is_type(v, json_type_int) || (il = json_object_get_int64(v)) < 0)
            goto bad;
        ev->has_input = true;
        ev->input_len = (size_t)il;
    }
    const char *sha = get_string(req->root, "input_sha256");
    if (sha) {
        if (!audit_unhex(sha, req->sha256, sizeof(req->sha256)))
            goto bad;
        ev->input_sha256 = req->sha256;
    }
    *why = NULL;
    return 0;
bad:
    audit_request_free(req);
    return -1;
}

void audit_request_free(struct audit_request *req)
{
    if (req->root)
        json_object_put(req->root);
    req->root = NULL;
    memset(&req->event, 0, sizeof(req->event));
}

/* ----------------------------------------------------------------- frames */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads or writes exactly len bytes before the deadline (monotonic ms). */
static bool io_until(int fd, void *buf, size_t len, bool writing, int64_t deadline)
{
    uint8_t *p = buf;
    while (len) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = { .fd = fd, .events = writing ? POLLOUT : POLLIN };
        int r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue; /* the deadline decides */
        ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT) : recv(fd, p, len, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool frame_send_until(int fd, const char *text, size_t len, int64_t deadline)
{
    uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    return len <= AUDIT_MAX_MESSAGE && io_until(fd, hdr, 4, true, deadline) &&
           io_until(fd, (void *)text, len, true, deadline);
}

static char *frame_recv_until(int fd, size_t *len, int64_t deadline)
{
    uint8_t hdr[4];
    if (!io_until(fd, hdr, 4, false, deadline))
        return NULL;
    size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    if (n > AUDIT_MAX_MESSAGE)
        return NULL;
    char *buf = malloc(n + 1);
    if (!buf || !io_until(fd, buf, n, false, deadline)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int audit_frame_send(int fd, const char *text, size_t len, int timeout_ms)
{
    return frame_send_until(fd, text, len, mono_ms() + timeout_ms) ? 0 : -1;
}

char *audit_frame_recv(int fd, size_t *len, int timeout_ms)
{
    return frame_recv_until(fd, len, mono_ms() + timeout_ms);
}

/* ----------------------------------------------------------------- client */

/* Connects without blocking; a daemon that is not there yet, or whose
 * queue is full, is -1 with errno ECONNREFUSED/ENOENT/EAGAIN. */
static int connect_daemon(const char *socket_path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static bool worth_retrying(int e)
{
    return e == ECONNREFUSED || e == ENOENT || e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static void pause_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

enum answer { ANSWER_OK, ANSWER_BUSY, ANSWER_REFUSED, ANSWER_NONE };

/* One exchange: the answer, with the record's seq or the daemon's reason. */
static enum answer exchange(const char *socket_path, const char *text, int64_t send_deadline, int64_t answer_deadline,
                            bool *sent, uint64_t *seq, char *err, size_t errlen)
{
    *sent = false;
    int fd = connect_daemon(socket_path);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "kyso-auditd is not reachable at %s: %s", socket_path, strerror(e));
        return worth_retrying(e) ? ANSWER_BUSY : ANSWER_REFUSED; /* nothing was sent */
    }
    size_t alen = 0;
    char *answer = NULL;
    if (frame_send_until(fd, text, strlen(text), send_deadline)) {
        *sent = true;
        answer = frame_recv_until(fd, &alen, answer_deadline);
    }
    close(fd);
    if (!answer) {
        snprintf(err, errlen, "kyso-auditd did not answer in time");
        return ANSWER_NONE;
    }
    json_object *o = json_tokener_parse(answer), *v = NULL;
    free(answer);
    enum answer a = ANSWER_REFUSED;
    if (o && json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v)) {
        if (json_object_object_get_ex(o, "seq", &v))
            *seq = (uint64_t)json_object_get_int64(v);
        a = ANSWER_OK;
    } else {
        if (o && json_object_object_get_ex(o, "busy", &v) && json_object_get_boolean(v))
            a = ANSWER_BUSY;
        const char *why = o && json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : NULL;
        snprintf(err, errlen, "kyso-auditd: %s", why ? why : "refused");
    }
    json_object_put(o);
    return a;
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* From the kernel, not OpenSSL's generator: this runs outside the
 * module's locks, and a fork while another thread is inside OpenSSL's
 * generator would leave its lock taken in the child. */
bool audit_request_id_new(char out[AUDIT_REQUEST_ID_LEN + 1])
{
    uint8_t id[AUDIT_REQUEST_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof(id)) {
        ssize_t n = getrandom(id + got, sizeof(id) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    audit_hex(id, sizeof(id), out);
    return true;
}

enum audit_client_result audit_daemon_submit(const char *socket_path, const struct audit_event *ev,
                                             int timeout_ms, struct audit_receipt *receipt, char *err,
                                             size_t errlen)
{
    memset(receipt, 0, sizeof(*receipt));
    if (!audit_request_id_new(receipt->request)) {
        snprintf(err, errlen, "no randomness for the request id");
        return AUDIT_NOT_WRITTEN;
    }
    int64_t deadline = mono_ms() + timeout_ms, expires = realtime_ms() + timeout_ms;
    bool sent_once = false;
    int backoff = 5;
    snprintf(err, errlen, "kyso-auditd did not answer within %d ms", timeout_ms);
    while (mono_ms() < deadline) {
        char *text = audit_request_encode(ev, receipt->request, expires, sent_once);
        if (!text) {
            snprintf(err, errlen, "out of memory");
            break;
        }
        bool sent;
        uint64_t seq = 0;
        enum answer a = exchange(socket_path, text, deadline, deadline + AUDIT_ANSWER_GRACE_MS, &sent, &seq, err,
                                 errlen);
        free(text);
        if (a == ANSWER_OK) {
            receipt->seq = seq;
            return AUDIT_WRITTEN;
        }
        /* An answer that is no "busy" is final: the daemon writes at most
         * one record per id and answers a retry with what it did. */
        if (a == ANSWER_REFUSED)
            return AUDIT_NOT_WRITTEN;
        /* No answer: it may have been written; the next try says so. */
        sent_once |= sent && a == ANSWER_NONE;
        pause_ms(backoff);
        backoff = backoff < 80 ? 2 * backoff : 100;
    }
    return sent_once ? AUDIT_SENT_UNKNOWN : AUDIT_NOT_WRITTEN;
}

int audit_daemon_withhold(const char *socket_path, const char *request, const char *why, int timeout_ms, char *err,
                          size_t errlen)
{
    json_object *o = json_object_new_object();
    if (!o)
        return -1;
    json_object_object_add(o, "event", json_object_new_string("withheld"));
    json_object_object_add(o, "request", json_object_new_string(request));
    json_object_object_add(o, "outcome", json_object_new_string("CKR_OK"));
    if (why)
        json_object_object_add(o, "detail", json_object_new_string(why));
    char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    if (!text)
        return -1;
    int64_t deadline = mono_ms() + timeout_ms;
    int rc = -1, backoff = 5;
    while (mono_ms() < deadline) {
        bool sent;
        uint64_t seq = 0;
        enum answer a = exchange(socket_path, text, deadline, deadline, &sent, &seq, err, errlen);
        if (a == ANSWER_OK) {
            rc = 0;
            break;
        }
        if (a == ANSWER_REFUSED)
            break;
        pause_ms(backoff);
        backoff = backoff < 80 ? 2 * backoff : 100;
    }
    free(text);
    return rc;
}
