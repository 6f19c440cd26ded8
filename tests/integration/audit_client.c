/* A client of kyso-auditd for tests/integration/audit-daemon.sh: speaks
 * the wire format itself (4-byte big-endian length, then JSON; see
 * audit/protocol.c), so that it can also misbehave.
 *
 *   audit_client wait SOCKET SECONDS        until the daemon accepts connections
 *   audit_client send SOCKET JSON           one request; prints "pid N" and the answer;
 *                                           exit 0 answer ok, 1 answer not ok, 2 no answer
 *   audit_client burst SOCKET N JSON        N connections, N requests at once, N answers;
 *                                           prints each answer's seq; exit 0 if all ok
 *   audit_client hold SOCKET SECONDS        connects, sends nothing; prints when the daemon
 *                                           hung up (ms); exit 0 if it did within SECONDS
 *   audit_client trickle SOCKET SECONDS JSON  sends a request a byte every 100 ms; exit 0 if
 *                                           the daemon hung up before it was complete
 *   audit_client oversize SOCKET            announces a 1 MiB request; exit 0 if refused
 *   audit_client hold-many SOCKET N SECONDS  N connections that send nothing, held SECONDS;
 *                                           prints "held H busy B" (B answered busy at once)
 *   audit_client exec-after SOCKET JSON MS  connects, waits MS, then executes cat(1), which
 *                                           sends the request; prints its request id
 * A request without "request" gets a fresh id (32 hex digits), as the
 * module's do; one with "request":"" is sent without any.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path))
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static bool send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool send_frame(int fd, const char *text)
{
    size_t len = strlen(text);
    uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    return send_all(fd, hdr, 4) && send_all(fd, text, len);
}

/* Reads exactly len bytes, waiting at most timeout_ms in all. */
static bool recv_all(int fd, void *buf, size_t len, long long deadline)
{
    char *p = buf;
    while (len) {
        long long left = deadline - now_ms();
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return false;
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* The answer (malloc'd) or NULL. */
static char *recv_frame(int fd, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    uint8_t hdr[4];
    if (!recv_all(fd, hdr, 4, deadline))
        return NULL;
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    if (len > 65536)
        return NULL;
    char *buf = malloc(len + 1);
    if (!buf || !recv_all(fd, buf, len, deadline)) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static bool answer_ok(const char *answer)
{
    return answer && strstr(answer, "\"ok\":true") != NULL;
}

/* Waits until the daemon closes fd (or the deadline): true if it did. */
static bool wait_hangup(int fd, long long deadline)
{
    char buf[256];
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (left <= 0)
            return false;
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return true; /* EOF or reset */
    }
}

/* json with a fresh request id after its '{' (malloc'd), unless it has
 * one; "request":"" is taken out instead. */
static char *with_id(const char *json)
{
    static const char none[] = "\"request\":\"\",";
    const char *empty = strstr(json, none);
    char *out = malloc(strlen(json) + 64);
    if (!out)
        abort();
    if (empty) {
        size_t head = (size_t)(empty - json);
        memcpy(out, json, head);
        strcpy(out + head, empty + sizeof(none) - 1);
        return out;
    }
    if (json[0] != '{' || strstr(json, "\"request\"")) {
        strcpy(out, json);
        return out;
    }
    uint8_t id[16];
    FILE *r = fopen("/dev/urandom", "rb");
    if (!r || fread(id, 1, sizeof(id), r) != sizeof(id))
        abort();
    fclose(r);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    sprintf(out, "{\"request\":\"%s\"%s%s", hex, json[1] == '}' ? "" : ",", json + 1);
    return out;
}

static int cmd_wait(const char *path, int seconds)
{
    long long deadline = now_ms() + seconds * 1000LL;
    while (now_ms() < deadline) {
        int fd = connect_to(path);
        if (fd >= 0) {
            /* Gone only once the daemon has let it go (it answers an empty
             * request by closing), so that the probe never counts against
             * this user's connections in the check that follows. */
            shutdown(fd, SHUT_WR);
            wait_hangup(fd, deadline);
            close(fd);
            return 0;
        }
        usleep(50000);
    }
    fprintf(stderr, "audit_client: nothing listens on %s\n", path);
    return 1;
}

static int cmd_send(const char *path, const char *json)
{
    printf("pid %ld\n", (long)getpid());
    fflush(stdout);
    int fd = connect_to(path);
    if (fd < 0) {
        printf("cannot connect: %s\n", strerror(errno));
        return 2;
    }
    /* A daemon that refuses at once may have answered and closed before
     * the request went out: its answer is still there to read. */
    char *req = with_id(json);
    bool sent = send_frame(fd, req);
    free(req);
    char *answer = recv_frame(fd, sent ? 30000 : 1000);
    close(fd);
    printf("%s\n", answer ? answer : "no answer");
    int rc = !answer ? 2 : answer_ok(answer) ? 0 : 1;
    free(answer);
    return rc;
}

static int cmd_burst(const char *path, int n, const char *json)
{
    int fds[256];
    int rc = 0;
    if (n < 1 || n > 256)
        return 2;
    for (int i = 0; i < n; i++) {
        fds[i] = connect_to(path);
        if (fds[i] < 0) {
            printf("cannot connect: %s\n", strerror(errno));
            return 2;
        }
    }
    for (int i = 0; i < n; i++) {
        char *req = with_id(json);
        if (!send_frame(fds[i], req))
            rc = 2;
        free(req);
    }
    for (int i = 0; i < n; i++) {
        char *answer = recv_frame(fds[i], 30000);
        const char *seq = answer ? strstr(answer, "\"seq\":") : NULL;
        if (answer_ok(answer) && seq)
            printf("%lld\n", atoll(seq + 6));
        else {
            printf("%s\n", answer ? answer : "no answer");
            rc = rc ? rc : 1;
        }
        free(answer);
        close(fds[i]);
    }
    return rc;
}

static int cmd_hold(const char *path, int seconds)
{
    long long start = now_ms();
    int fd = connect_to(path);
    if (fd < 0) {
        printf("cannot connect: %s\n", strerror(errno));
        return 2;
    }
    bool hung_up = wait_hangup(fd, start + seconds * 1000LL);
    printf("%lld\n", now_ms() - start);
    close(fd);
    return hung_up ? 0 : 3;
}

static int cmd_trickle(const char *path, int seconds, const char *json)
{
    long long start = now_ms();
    int fd = connect_to(path);
    if (fd < 0) {
        printf("cannot connect: %s\n", strerror(errno));
        return 2;
    }
    char *req = with_id(json);
    json = req;
    size_t len = strlen(json);
    size_t total = len + 4;
    uint8_t *frame = malloc(total);
    if (!frame)
        return 2;
    frame[0] = (uint8_t)(len >> 24);
    frame[1] = (uint8_t)(len >> 16);
    frame[2] = (uint8_t)(len >> 8);
    frame[3] = (uint8_t)len;
    memcpy(frame + 4, json, len);
    int rc = 3;
    for (size_t i = 0; i < total && now_ms() - start < seconds * 1000LL; i++) {
        if (!send_all(fd, frame + i, 1) || wait_hangup(fd, now_ms() + 100)) {
            rc = 0; /* the daemon gave up on us */
            break;
        }
    }
    printf("%lld\n", now_ms() - start);
    free(frame);
    free(req);
    close(fd);
    return rc;
}

static int cmd_hold_many(const char *path, int n, int seconds)
{
    int *fds = calloc((size_t)n, sizeof(*fds));
    int held = 0, busy = 0;
    if (!fds)
        return 2;
    for (int i = 0; i < n; i++)
        fds[i] = connect_to(path);
    /* A connection refused for want of room is answered at once: waited
     * for up to 2 s (a loaded machine under valgrind), then 200 ms more for
     * any other answer. */
    long long deadline = now_ms() + 2000;
    bool answered = false;
    for (;;) {
        struct pollfd pfd[64];
        int m = 0;
        for (int i = 0; i < n && m < 64; i++)
            if (fds[i] >= 0)
                pfd[m++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
        long long left = deadline - now_ms();
        if (m == 0 || left <= 0)
            break;
        int r = poll(pfd, (nfds_t)m, (int)left);
        if (r > 0 && !answered) {
            answered = true;
            deadline = now_ms() + 200;
        } else if (r <= 0)
            break;
        else {
            struct timespec ts = { 0, 20 * 1000000L }; /* (poll returns at once while one is readable) */
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        char buf[256];
        ssize_t got = recv(fds[i], buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (got > 0) {
            buf[got] = '\0';
            /* (past the 4-byte length, whose first bytes are 0) */
            busy += got > 4 && strstr(buf + 4, "\"busy\":true") != NULL;
            close(fds[i]);
            fds[i] = -1;
        } else if (got == 0) {
            close(fds[i]);
            fds[i] = -1;
        } else {
            held++;
        }
    }
    printf("held %d busy %d\n", held, busy);
    fflush(stdout);
    sleep((unsigned)seconds);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return 0;
}

/* The process that connected is not the one that sends: cat(1) writes
 * the framed request to the socket. */
static int cmd_exec_after(const char *path, const char *json, int ms)
{
    char *req = with_id(json);
    const char *id = strstr(req, "\"request\":\"");
    printf("%.32s\n", id ? id + 11 : "none");
    fflush(stdout);
    char file[] = "/tmp/kyso-audit-client.XXXXXX";
    int tmp = mkstemp(file);
    size_t len = strlen(req);
    uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    if (tmp < 0 || write(tmp, hdr, 4) != 4 || write(tmp, req, len) != (ssize_t)len)
        return 2;
    close(tmp);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0); /* kept across exec */
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        return 2;
    usleep((useconds_t)ms * 1000);
    if (dup2(fd, STDOUT_FILENO) < 0)
        return 2;
    execl("/bin/cat", "cat", file, (char *)NULL);
    return 2;
}

static int cmd_oversize(const char *path)
{
    int fd = connect_to(path);
    if (fd < 0)
        return 2;
    uint8_t hdr[4] = { 0, 0x10, 0, 0 };
    char *answer = send_all(fd, hdr, 4) ? recv_frame(fd, 5000) : NULL;
    bool refused = answer ? !answer_ok(answer) : wait_hangup(fd, now_ms() + 5000);
    printf("%s\n", answer ? answer : "closed");
    free(answer);
    close(fd);
    return refused ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "wait") == 0)
        return cmd_wait(argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "send") == 0)
        return cmd_send(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "burst") == 0)
        return cmd_burst(argv[2], atoi(argv[3]), argv[4]);
    if (argc == 4 && strcmp(argv[1], "hold") == 0)
        return cmd_hold(argv[2], atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "trickle") == 0)
        return cmd_trickle(argv[2], atoi(argv[3]), argv[4]);
    if (argc == 3 && strcmp(argv[1], "oversize") == 0)
        return cmd_oversize(argv[2]);
    if (argc == 5 && strcmp(argv[1], "hold-many") == 0)
        return cmd_hold_many(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "exec-after") == 0)
        return cmd_exec_after(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: see the comment at the top of audit_client.c\n");
    return 64;
}
