/* kyso-vtoken: vpcd connection and control socket; see server.h. */
#include "config.h"

#include "tools/vtoken/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tools/vtoken/state_file.h"

#define VPCD_POWER_OFF 0
#define VPCD_POWER_ON 1
#define VPCD_RESET 2
#define VPCD_GET_ATR 4
#define RECONNECT_MS 100
#define MAX_CONTROL_CLIENTS 8
#define CONTROL_LINE_MAX 256

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct control_client {
    int fd;
    char line[CONTROL_LINE_MAX];
    size_t len;
};

struct server {
    struct vt_card *card;
    const struct vt_server_options *opt;
    int vpcd_fd;
    bool inserted;
    int listen_fd;
    struct control_client clients[MAX_CONTROL_CLIENTS];
    bool quit;
};

static void trace(const struct server *s, const char *dir, const uint8_t *p, size_t n)
{
    if (!s->opt->verbose)
        return;
    fprintf(stderr, "vtoken %s", dir);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02X", p[i]);
    fputc('\n', stderr);
}

static bool read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool write_full(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static void vpcd_disconnect(struct server *s)
{
    if (s->vpcd_fd >= 0)
        close(s->vpcd_fd);
    s->vpcd_fd = -1;
}

static void vpcd_try_connect(struct server *s)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char port[8];

    snprintf(port, sizeof(port), "%u", s->opt->vpcd_port);
    if (getaddrinfo(s->opt->vpcd_host, port, &hints, &res) != 0)
        return;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            s->vpcd_fd = fd;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
}

static void save_if_dirty(struct server *s)
{
    char err[256];
    if (!s->card->dirty)
        return;
    if (vt_state_save(s->opt->state_path, s->card->pers, s->card->state, err, sizeof(err)) != 0)
        fprintf(stderr, "kyso-vtoken: %s\n", err);
    else
        s->card->dirty = false;
}

/* One message from vpcd: a control code or a command APDU. */
static void vpcd_handle(struct server *s)
{
    uint8_t hdr[2];
    static uint8_t msg[65536 + 16], answer[VT_MAX_RESPONSE + 4];

    if (!read_full(s->vpcd_fd, hdr, 2)) {
        vpcd_disconnect(s);
        return;
    }
    size_t len = (size_t)hdr[0] << 8 | hdr[1];
#ifdef TCP_QUICKACK
    /* vpcd writes the length and the message separately without
     * TCP_NODELAY: Nagle holds the message until the length is ACKed, and
     * a delayed ACK costs 40 ms per APDU. ACK the length at once. */
    int one = 1;
    setsockopt(s->vpcd_fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
    if (!read_full(s->vpcd_fd, msg, len)) {
        vpcd_disconnect(s);
        return;
    }
    size_t n = 0;
    bool reply = true;
    if (len == 1) {
        switch (msg[0]) {
        case VPCD_POWER_ON:
        case VPCD_RESET:
            vt_card_power_on(s->card);
            reply = false;
            break;
        case VPCD_POWER_OFF:
            vt_card_power_on(s->card); /* forget the security status */
            reply = false;
            break;
        case VPCD_GET_ATR:
            memcpy(answer + 2, s->card->pers->atr, s->card->pers->atr_len);
            n = s->card->pers->atr_len;
            break;
        default:
            reply = false;
        }
    } else {
        trace(s, ">>", msg, len);
        n = vt_card_transmit(s->card, msg, len, answer + 2);
        trace(s, "<<", answer + 2, n);
        save_if_dirty(s);
    }
    if (!reply)
        return;
    answer[0] = (uint8_t)(n >> 8);
    answer[1] = (uint8_t)n;
    if (!write_full(s->vpcd_fd, answer, n + 2))
        vpcd_disconnect(s);
}

static void control_reply(struct control_client *c, const char *text)
{
    write_full(c->fd, (const uint8_t *)text, strlen(text));
}

static void control_command(struct server *s, struct control_client *c, char *line)
{
    char out[256];
    unsigned a, b;

    if (strcmp(line, "remove") == 0) {
        s->inserted = false;
        vpcd_disconnect(s);
        control_reply(c, "ok\n");
    } else if (strcmp(line, "insert") == 0) {
        s->inserted = true;
        if (s->vpcd_fd < 0)
            vpcd_try_connect(s);
        control_reply(c, s->vpcd_fd >= 0 ? "ok\n" : "ok (reader not reachable yet)\n");
    } else if (sscanf(line, "latency %u %u", &a, &b) == 2) {
        s->card->apdu_latency_ms = a;
        s->card->sign_latency_ms = b;
        control_reply(c, "ok\n");
    } else if (strcmp(line, "stats") == 0) {
        const struct vt_stats *st = &s->card->stats;
        snprintf(out, sizeof(out), "apdus %llu bytes_in %llu bytes_out %llu signatures %llu\n",
                 (unsigned long long)st->apdus, (unsigned long long)st->bytes_in,
                 (unsigned long long)st->bytes_out, (unsigned long long)st->signatures);
        control_reply(c, out);
    } else if (strcmp(line, "stats-reset") == 0) {
        memset(&s->card->stats, 0, sizeof(s->card->stats));
        control_reply(c, "ok\n");
    } else if (strcmp(line, "status") == 0) {
        snprintf(out, sizeof(out), "inserted %s connected %s\n", s->inserted ? "yes" : "no",
                 s->vpcd_fd >= 0 ? "yes" : "no");
        control_reply(c, out);
    } else if (strcmp(line, "quit") == 0) {
        s->quit = true;
        control_reply(c, "ok\n");
    } else {
        control_reply(c, "error unknown command (remove, insert, latency MS MS, stats, stats-reset, status, quit)\n");
    }
}

static void control_close(struct control_client *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void control_read(struct server *s, struct control_client *c)
{
    ssize_t n = read(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
    if (n <= 0) {
        control_close(c);
        return;
    }
    c->len += (size_t)n;
    char *nl;
    while ((nl = memchr(c->line, '\n', c->len)) != NULL) {
        *nl = '\0';
        control_command(s, c, c->line);
        size_t used = (size_t)(nl - c->line) + 1;
        memmove(c->line, nl + 1, c->len - used);
        c->len -= used;
    }
    if (c->len == sizeof(c->line) - 1) /* a line too long: drop the client */
        control_close(c);
}

static int control_listen(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "kyso-vtoken: control socket path too long: %s\n", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 8) != 0) {
        fprintf(stderr, "kyso-vtoken: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int vt_server_run(struct vt_card *card, const struct vt_server_options *opt)
{
    struct server s = { .card = card, .opt = opt, .vpcd_fd = -1, .inserted = !opt->start_removed, .listen_fd = -1 };
    struct sigaction sa = { .sa_handler = on_signal };

    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < MAX_CONTROL_CLIENTS; i++)
        s.clients[i].fd = -1;
    if (opt->control_path && (s.listen_fd = control_listen(opt->control_path)) < 0)
        return 1;
    vt_card_power_on(card);

    while (!stop_requested && !s.quit) {
        struct pollfd pfd[2 + MAX_CONTROL_CLIENTS];
        int map[2 + MAX_CONTROL_CLIENTS];
        nfds_t n = 0;

        if (s.inserted && s.vpcd_fd < 0)
            vpcd_try_connect(&s);
        if (s.vpcd_fd >= 0) {
            pfd[n] = (struct pollfd){ .fd = s.vpcd_fd, .events = POLLIN };
            map[n++] = -1;
        }
        if (s.listen_fd >= 0) {
            pfd[n] = (struct pollfd){ .fd = s.listen_fd, .events = POLLIN };
            map[n++] = -2;
        }
        for (int i = 0; i < MAX_CONTROL_CLIENTS; i++) {
            if (s.clients[i].fd >= 0) {
                pfd[n] = (struct pollfd){ .fd = s.clients[i].fd, .events = POLLIN };
                map[n++] = i;
            }
        }
        int timeout = (s.inserted && s.vpcd_fd < 0) ? RECONNECT_MS : -1;
        int ready = poll(pfd, n, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "kyso-vtoken: poll: %s\n", strerror(errno));
            break;
        }
        for (nfds_t i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (map[i] == -1) {
                if (s.vpcd_fd >= 0)
                    vpcd_handle(&s);
            } else if (map[i] == -2) {
                int fd = accept4(s.listen_fd, NULL, NULL, SOCK_CLOEXEC);
                int slot = -1;
                for (int k = 0; k < MAX_CONTROL_CLIENTS && fd >= 0; k++)
                    if (s.clients[k].fd < 0) {
                        slot = k;
                        break;
                    }
                if (slot < 0) {
                    if (fd >= 0)
                        close(fd);
                } else {
                    s.clients[slot].fd = fd;
                    s.clients[slot].len = 0;
                }
            } else if (s.clients[map[i]].fd >= 0) {
                control_read(&s, &s.clients[map[i]]);
            }
        }
    }
    save_if_dirty(&s);
    vpcd_disconnect(&s);
    for (int i = 0; i < MAX_CONTROL_CLIENTS; i++)
        if (s.clients[i].fd >= 0)
            close(s.clients[i].fd);
    if (s.listen_fd >= 0) {
        close(s.listen_fd);
        unlink(opt->control_path);
    }
    return 0;
}

int vt_control_send(const char *control_path, const char *command)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char answer[512];
    size_t got = 0;

    if (strlen(control_path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "kyso-vtoken: control socket path too long\n");
        return 2;
    }
    strcpy(addr.sun_path, control_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        fprintf(stderr, "kyso-vtoken: cannot reach the token at %s: %s\n", control_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 2;
    }
    if (!write_full(fd, (const uint8_t *)command, strlen(command)) || !write_full(fd, (const uint8_t *)"\n", 1)) {
        close(fd);
        return 2;
    }
    while (got < sizeof(answer) - 1) {
        ssize_t n = read(fd, answer + got, sizeof(answer) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(answer, '\n', got))
            break;
    }
    close(fd);
    answer[got] = '\0';
    fputs(answer, stdout);
    return strncmp(answer, "error", 5) == 0 || got == 0 ? 1 : 0;
}
