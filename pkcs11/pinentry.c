/* See pinentry.h. One exchange per call:
 *
 *   socketpair (CLOEXEC) → posix_spawn PROGRAM (stdin/stdout the socket,
 *   stderr /dev/null, every other fd closed, signals at their defaults,
 *   a short environment) → "OK" greeting → OPTION ttyname/ttytype/
 *   lc-ctype (with a terminal) → SETTITLE, SETDESC, SETPROMPT, SETERROR,
 *   SETTIMEOUT → GETPIN → "D <escaped PIN>" "OK" → BYE; the child is
 *   reaped, or killed and reaped.
 *
 * One deadline covers it all, whatever the program does with its own
 * SETTIMEOUT. What is received (and so the escaped PIN) only ever lies in
 * a locked page that is wiped; the PIN is decoded straight into the
 * caller's p11_secret. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pkcs11/pinentry.h"

#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 34)
#error "pinentry.c needs posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)"
#endif

extern char **environ;

#define LINE_MAX_ASSUAN 1000        /* Assuan: at most 1000 bytes before the LF */
#define MAX_TIMEOUT_S 3600
#define EXIT_GRACE_MS 500           /* after BYE, before the child is killed */
#define MAX_ENV 64
/* The scripted pinentry of the tests reads its script from variables of
 * this prefix. They only reach the program root configured, and change
 * nothing kyso does with its answer. */
#define TEST_ENV_PREFIX "KYSO_TEST_PINENTRY_"

/* Assuan error codes (libgpg-error; the low 16 bits, the source above). */
#define GPG_ERR_TIMEOUT 62
#define GPG_ERR_NO_PIN_ENTRY 85
#define GPG_ERR_CANCELED 99
#define GPG_ERR_FULLY_CANCELED 198
#define GPG_ERR_ENOTTY 32870
#define GPG_ERR_ENXIO 32887

struct conv {
    int fd;
    char *buf;                      /* locked page: what was received */
    size_t cap, len;
    struct timespec deadline;
    bool refused;                   /* the last answer was an ERR */
    char *why;
    size_t whylen;
};

static void say(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct conv *c, const char *fmt, ...)
{
    if (!c->why || !c->whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(c->why, c->whylen, "pinentry: ");
    if (n > 0 && (size_t)n < c->whylen)
        vsnprintf(c->why + n, c->whylen - (size_t)n, fmt, ap);
    va_end(ap);
}

static int remaining_ms(const struct conv *c)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(c->deadline.tv_sec - now.tv_sec) * 1000 + (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
    if (ms <= 0)
        return 0;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* ------------------------------------------------------------ terminal */

/* The controlling terminal's name: a standard fd that is it, else
 * /dev/tty if that opens. */
static bool find_tty(char *name, size_t cap)
{
    pid_t sid = getsid(0);
    for (int fd = 0; fd <= 2; fd++) {
        if (isatty(fd) && tcgetsid(fd) == sid && ttyname_r(fd, name, cap) == 0)
            return true;
    }
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    if (cap < sizeof("/dev/tty"))
        return false;
    memcpy(name, "/dev/tty", sizeof("/dev/tty"));
    return true;
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

bool p11_pinentry_possible(void)
{
    char tty[256];
    return env_set("DISPLAY") || env_set("WAYLAND_DISPLAY") || find_tty(tty, sizeof(tty));
}

/* ----------------------------------------------------------- the child */

static bool env_wanted(const char *entry)
{
    static const char *const names[] = { "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS",
                                         "XDG_RUNTIME_DIR", "TERM", "LANG", "HOME" };
    if (!strncmp(entry, "LC_", 3) || !strncmp(entry, TEST_ENV_PREFIX, strlen(TEST_ENV_PREFIX)))
        return strchr(entry, '=') != NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);
        if (!strncmp(entry, names[i], n) && entry[n] == '=')
            return true;
    }
    return false;
}

static pid_t spawn(struct conv *c, const char *program, int fd)
{
    char *envp[MAX_ENV + 2];
    size_t n = 0;
    envp[n++] = (char *)"PATH=/usr/bin:/bin";
    for (char **e = environ; e && *e && n < MAX_ENV + 1; e++)
        if (env_wanted(*e))
            envp[n++] = *e;
    envp[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    pid_t pid = -1;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) {
        say(c, "cannot start %s: %s", program, strerror(rc));
        return -1;
    }
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        say(c, "cannot start %s: %s", program, strerror(rc));
        return -1;
    }
    /* Only the socket and /dev/null: an fd the application holds without
     * O_CLOEXEC does not reach the program. Ignored signals (SIGPIPE in
     * many applications) and the signal mask are not inherited either. */
    if (!(rc = posix_spawn_file_actions_adddup2(&fa, fd, 0)) && !(rc = posix_spawn_file_actions_adddup2(&fa, fd, 1)) &&
        !(rc = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)) &&
        !(rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) && !(rc = posix_spawnattr_setsigdefault(&at, &all)) &&
        !(rc = posix_spawnattr_setsigmask(&at, &none)) &&
        !(rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))) {
        char *argv[] = { (char *)program, NULL };
        rc = posix_spawn(&pid, program, &fa, &at, argv, envp);
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        say(c, "cannot start %s: %s", program, strerror(rc));
        return -1;
    }
    return pid;
}

static void reap(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Kills the child unless it is already gone. Without a pidfd, only a
 * child not yet reaped (by a SIGCHLD handler of the application, say) is
 * signalled, so that a reused pid is never hit. */
static void kill_child(pid_t pid, int pidfd)
{
    if (pidfd >= 0 && pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
        kill(pid, SIGKILL);
}

/* After BYE: the child should exit by itself; if it does not, soon, it
 * is killed. Either way it is reaped (ours only: waitpid on its pid). */
static void finish_child(pid_t pid, int pidfd, bool graceful)
{
    if (graceful) {
        struct conv grace = { .fd = -1 };
        clock_gettime(CLOCK_MONOTONIC, &grace.deadline);
        grace.deadline.tv_nsec += EXIT_GRACE_MS * 1000000L;
        grace.deadline.tv_sec += grace.deadline.tv_nsec / 1000000000L;
        grace.deadline.tv_nsec %= 1000000000L;
        for (;;) {
            pid_t r = waitpid(pid, NULL, WNOHANG);
            if (r == pid || (r < 0 && errno == ECHILD))
                return;
            int ms = remaining_ms(&grace);
            if (ms == 0)
                break;
            if (pidfd >= 0) {
                /* readable once the child has exited: the next waitpid reaps it */
                struct pollfd pf = { .fd = pidfd, .events = POLLIN };
                poll(&pf, 1, ms);
            } else {
                struct timespec ts = { 0, 10 * 1000000L };
                nanosleep(&ts, NULL);
            }
        }
    }
    kill_child(pid, pidfd);
    reap(pid);
}

/* ------------------------------------------------------------ protocol */

static bool send_all(struct conv *c, const char *s, size_t n)
{
    while (n) {
        struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
        int ms = remaining_ms(c);
        if (ms == 0 || poll(&pf, 1, ms) == 0) {
            errno = ETIMEDOUT;
            return false;
        }
        /* MSG_NOSIGNAL: a program that died raises no SIGPIPE here. */
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return false;
        }
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Appends text percent-escaped: '%', '+' (some decoders read it as a
 * space) and every control character, so that nothing in it (a newline
 * in a certificate's name) can end the line. Stops, at a character's
 * boundary, when the line is full. */
static void put_escaped(char *line, size_t cap, size_t *pos, const char *text)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t i = 0;
    for (; t[i]; i++) {
        bool esc = t[i] < 0x20 || t[i] == 0x7F || t[i] == '%' || t[i] == '+';
        size_t need = esc ? 3 : 1;
        if (*pos + need >= cap)
            break;
        if (esc)
            *pos += (size_t)snprintf(line + *pos, cap - *pos, "%%%02X", t[i]);
        else
            line[(*pos)++] = (char)t[i];
    }
    if (t[i]) {
        /* Cut: drop the first bytes of a multi-byte character (written raw). */
        size_t j = i;
        while (j > 0 && (t[j] & 0xC0) == 0x80)
            j--;
        if (j < i && t[j] >= 0xC0)
            *pos -= i - j;
    }
    line[*pos] = '\0';
}

enum line_rc { LINE_OK, LINE_EOF, LINE_TIMEOUT, LINE_TOO_LONG, LINE_FAILED };

/* The next line (without its LF) at c->buf[0..*n). */
static enum line_rc read_line(struct conv *c, size_t *n)
{
    for (;;) {
        size_t scan = c->len < LINE_MAX_ASSUAN + 1 ? c->len : LINE_MAX_ASSUAN + 1;
        char *lf = memchr(c->buf, '\n', scan);
        if (lf) {
            *n = (size_t)(lf - c->buf);
            return LINE_OK;
        }
        if (c->len > LINE_MAX_ASSUAN)
            return LINE_TOO_LONG;
        struct pollfd pf = { .fd = c->fd, .events = POLLIN };
        int ms = remaining_ms(c);
        if (ms == 0)
            return LINE_TIMEOUT;
        int pr = poll(&pf, 1, ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return LINE_FAILED;
        if (pr == 0)
            return LINE_TIMEOUT;
        if (c->len >= c->cap)
            return LINE_TOO_LONG;
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return LINE_FAILED;
        if (r == 0)
            return LINE_EOF;
        c->len += (size_t)r;
    }
}

/* Drops the line just read (and its LF); wipes where it was. */
static void consume(struct conv *c, size_t n)
{
    size_t k = n + 1 <= c->len ? n + 1 : c->len;
    memmove(c->buf, c->buf + k, c->len - k);
    OPENSSL_cleanse(c->buf + c->len - k, k);
    c->len -= k;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "D <data>": %XX-decoded into the PIN, at most P11_MAX_PIN bytes. */
static enum p11_pinentry_result take_data(struct conv *c, size_t n, struct p11_secret *pin)
{
    for (size_t i = 2; i < n; i++) {
        int v = (unsigned char)c->buf[i];
        if (v == '%') {
            int hi = i + 2 < n ? hexval(c->buf[i + 1]) : -1, lo = i + 2 < n ? hexval(c->buf[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                say(c, "a bad escape in the PIN");
                return P11_PINENTRY_ERROR;
            }
            v = hi << 4 | lo;
            i += 2;
        }
        if (v == 0) {
            say(c, "a NUL byte in the PIN");
            return P11_PINENTRY_ERROR;
        }
        if (pin->len >= P11_MAX_PIN) {
            say(c, "the PIN is longer than %d bytes", P11_MAX_PIN);
            return P11_PINENTRY_ERROR;
        }
        pin->data[pin->len++] = (uint8_t)v;
    }
    return P11_PINENTRY_OK;
}

static enum p11_pinentry_result from_err(struct conv *c, const char *cmd, size_t n)
{
    char text[128];
    size_t t = 0;
    unsigned long code = strtoul(c->buf + 4, NULL, 10) & 0xFFFF;
    for (size_t i = 4; i < n && t + 1 < sizeof(text); i++) {
        unsigned char ch = (unsigned char)c->buf[i];
        text[t++] = ch >= 0x20 && ch < 0x7F ? (char)ch : '?';
    }
    text[t] = '\0';
    say(c, "%s: ERR %s", cmd, text);
    switch (code) {
    case GPG_ERR_CANCELED:
    case GPG_ERR_FULLY_CANCELED:
        return P11_PINENTRY_CANCELLED;
    case GPG_ERR_TIMEOUT:
        return P11_PINENTRY_TIMEOUT;
    case GPG_ERR_NO_PIN_ENTRY:
    case GPG_ERR_ENOTTY:
    case GPG_ERR_ENXIO:
        return P11_PINENTRY_NO_PROMPT;
    default:
        return P11_PINENTRY_ERROR;
    }
}

/* Reads up to the OK or ERR that ends an answer. D lines only for
 * GETPIN (pin != NULL); comments and status lines are skipped. */
static enum p11_pinentry_result answer(struct conv *c, const char *cmd, struct p11_secret *pin)
{
    for (;;) {
        size_t n = 0;
        switch (read_line(c, &n)) {
        case LINE_OK:
            break;
        case LINE_TIMEOUT:
            say(c, "no answer to %s in time", cmd);
            return P11_PINENTRY_TIMEOUT;
        case LINE_TOO_LONG:
            say(c, "a line longer than %d bytes after %s", LINE_MAX_ASSUAN, cmd);
            return P11_PINENTRY_ERROR;
        case LINE_EOF:
            say(c, "the program ended before it answered %s", cmd);
            return P11_PINENTRY_ERROR;
        default:
            say(c, "after %s: %s", cmd, strerror(errno));
            return P11_PINENTRY_ERROR;
        }
        const char *l = c->buf;
        enum p11_pinentry_result r = P11_PINENTRY_OK;
        if (n >= 2 && !memcmp(l, "OK", 2) && (n == 2 || l[2] == ' ')) {
            consume(c, n);
            return P11_PINENTRY_OK;
        } else if (n >= 4 && !memcmp(l, "ERR ", 4)) {
            c->refused = true;
            r = from_err(c, cmd, n);
            consume(c, n);
            return r;
        } else if (n >= 1 && (l[0] == '#' || (l[0] == 'S' && (n == 1 || l[1] == ' ')))) {
            /* a comment, or a status line */
        } else if (pin && n >= 2 && l[0] == 'D' && l[1] == ' ') {
            r = take_data(c, n, pin);
        } else {
            say(c, "an answer to %s that is not Assuan", cmd);
            r = P11_PINENTRY_ERROR;
        }
        consume(c, n);
        if (r != P11_PINENTRY_OK)
            return r;
    }
}

/* CMD [escaped ARG], and its answer. */
static enum p11_pinentry_result command(struct conv *c, const char *cmd, const char *arg, struct p11_secret *pin)
{
    char line[LINE_MAX_ASSUAN + 2];
    c->refused = false;
    size_t pos = (size_t)snprintf(line, sizeof(line), "%s", cmd);
    if (arg) {
        line[pos++] = ' ';
        put_escaped(line, sizeof(line) - 1, &pos, arg); /* room kept for the LF */
    }
    line[pos++] = '\n';
    if (!send_all(c, line, pos)) {
        if (errno == ETIMEDOUT) {
            say(c, "no room to send %s in time", cmd);
            return P11_PINENTRY_TIMEOUT;
        }
        say(c, "cannot send %s: %s", cmd, strerror(errno));
        return P11_PINENTRY_ERROR;
    }
    return answer(c, cmd, pin);
}

/* An OPTION value sent as it is: only characters that need no escape. */
static bool plain_value(const char *v)
{
    if (!v || !*v || strlen(v) > 200)
        return false;
    for (; *v; v++)
        if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              strchr("._@/:-", *v)))
            return false;
    return true;
}

/* The options a terminal pinentry needs; one it does not know is fine. */
static enum p11_pinentry_result tty_options(struct conv *c)
{
    char tty[256], opt[300];
    if (!find_tty(tty, sizeof(tty)) || !plain_value(tty))
        return P11_PINENTRY_OK;
    const char *lc = getenv("LC_ALL");
    if (!lc || !*lc)
        lc = getenv("LC_CTYPE");
    if (!lc || !*lc)
        lc = getenv("LANG");
    const char *vals[][2] = { { "ttyname", tty }, { "ttytype", getenv("TERM") }, { "lc-ctype", lc } };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        if (!plain_value(vals[i][1]))
            continue;
        snprintf(opt, sizeof(opt), "OPTION %s=%s", vals[i][0], vals[i][1]);
        enum p11_pinentry_result r = command(c, opt, NULL, NULL);
        if (r != P11_PINENTRY_OK && !(r == P11_PINENTRY_ERROR && c->refused))
            return r; /* the exchange failed, not just the option */
    }
    return P11_PINENTRY_OK;
}

static enum p11_pinentry_result converse(struct conv *c, const struct p11_pinentry_prompt *p, struct p11_secret *pin)
{
    size_t n = 0;
    enum line_rc lr = read_line(c, &n);
    if (lr == LINE_TIMEOUT) {
        say(c, "no greeting in time");
        return P11_PINENTRY_TIMEOUT;
    }
    if (lr != LINE_OK || n < 2 || memcmp(c->buf, "OK", 2) || (n > 2 && c->buf[2] != ' ')) {
        say(c, "no Assuan greeting from %s", p->program);
        return P11_PINENTRY_ERROR;
    }
    consume(c, n);
    enum p11_pinentry_result r = tty_options(c);
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", p->timeout_s);
    const char *steps[][2] = { { "SETTITLE", p->title }, { "SETDESC", p->description }, { "SETPROMPT", p->prompt },
                               { "SETERROR", p->error }, { "SETTIMEOUT", timeout } };
    for (size_t i = 0; r == P11_PINENTRY_OK && i < sizeof(steps) / sizeof(steps[0]); i++)
        if (steps[i][1])
            r = command(c, steps[i][0], steps[i][1], NULL);
    if (r != P11_PINENTRY_OK)
        return r;
    r = command(c, "GETPIN", NULL, pin);
    if (r == P11_PINENTRY_OK && pin->len == 0) {
        say(c, "no PIN entered");
        return P11_PINENTRY_CANCELLED;
    }
    if (r == P11_PINENTRY_OK)
        say(c, "a PIN was entered");
    return r;
}

enum p11_pinentry_result p11_pinentry_ask(const struct p11_pinentry_prompt *p, struct p11_secret *pin, char *why,
                                          size_t whylen)
{
    struct conv c = { .fd = -1, .why = why, .whylen = whylen };
    if (why && whylen)
        why[0] = '\0';
    if (!pin)
        return P11_PINENTRY_ERROR;
    p11_secret_clear(pin);
    if (!p || !p->program || p->program[0] != '/' || p->timeout_s <= 0 || p->timeout_s > MAX_TIMEOUT_S) {
        say(&c, "no program (an absolute path) or no timeout (1 to %d s)", MAX_TIMEOUT_S);
        return P11_PINENTRY_ERROR;
    }
    if (!p11_pinentry_possible()) {
        say(&c, "no display and no terminal to ask on");
        return P11_PINENTRY_NO_PROMPT;
    }
    if (!p11_secret_set(pin, NULL, 0)) {
        say(&c, "no locked memory for the PIN");
        return P11_PINENTRY_ERROR;
    }
    c.cap = (size_t)sysconf(_SC_PAGESIZE);
    void *page = mmap(NULL, c.cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        p11_secret_clear(pin);
        say(&c, "no memory");
        return P11_PINENTRY_ERROR;
    }
    mlock(page, c.cap); /* best effort, as for the PIN itself */
    madvise(page, c.cap, MADV_DONTDUMP);
    c.buf = page;

    enum p11_pinentry_result r = P11_PINENTRY_ERROR;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        say(&c, "socketpair: %s", strerror(errno));
    } else {
        clock_gettime(CLOCK_MONOTONIC, &c.deadline);
        c.deadline.tv_sec += p->timeout_s;
        pid_t pid = spawn(&c, p->program, sv[1]);
        close(sv[1]);
        c.fd = sv[0];
        if (pid > 0) {
            int pidfd = pidfd_open(pid, 0);
            r = converse(&c, p, pin);
            if (r == P11_PINENTRY_OK)
                send_all(&c, "BYE\n", 4);
            close(c.fd);
            c.fd = -1;
            finish_child(pid, pidfd, r == P11_PINENTRY_OK);
            if (pidfd >= 0)
                close(pidfd);
        } else {
            close(c.fd);
        }
    }
    OPENSSL_cleanse(c.buf, c.cap);
    munlock(c.buf, c.cap);
    munmap(c.buf, c.cap);
    if (r != P11_PINENTRY_OK)
        p11_secret_clear(pin);
    return r;
}
