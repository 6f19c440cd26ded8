/* kyso-auditd: the host's audit daemon. It owns the audit log (root's
 * file, made by `kyso audit init`) and writes the records that the
 * module of every local process sends to its socket, with the caller's
 * identity taken from the kernel (audit/README.md, server.c).
 *
 *   kyso-auditd [--log FILE] [--socket PATH] [--foreground] [--batch-ms N]
 *               [--max-clients N] [--max-per-user N] [--rotate-size BYTES]
 *               [--client-timeout MS]
 *
 * The socket is systemd's when the daemon is started by socket activation
 * (LISTEN_PID/LISTEN_FDS, fd 3), else it is made at PATH (mode 0666: any
 * local user's module must reach it) in a directory made 0755 if missing.
 * Nothing is printed but errors: on stderr and to syslog (daemon). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/protocol.h"
#include "tools/auditd/auditd.h"

#define DEFAULT_LOG "/var/log/kyso/audit.log"
#define LISTEN_FDS_START 3

static bool stderr_is_journal;

static bool same_as_journal_stream(void)
{
    /* systemd says where our stderr goes (JOURNAL_STREAM=DEV:INO): the
     * journal gets the syslog copy already. */
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat sb;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &sb) != 0)
        return false;
    return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

static char last_error[1024];
static time_t last_error_time;
static unsigned repeated;

/* How often the last error came again without being shown. */
static void report_repeats(void)
{
    if (!repeated)
        return;
    if (!stderr_is_journal)
        fprintf(stderr, "kyso-auditd: (the last message came %u more times)\n", repeated);
    syslog(LOG_ERR, "(the last message came %u more times)", repeated);
    repeated = 0;
}

void auditd_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    if (strcmp(msg, last_error) == 0 && now - last_error_time < 10) {
        repeated++;
        return;
    }
    report_repeats();
    snprintf(last_error, sizeof(last_error), "%s", msg);
    last_error_time = now;
    if (!stderr_is_journal)
        fprintf(stderr, "kyso-auditd: %s\n", msg);
    syslog(LOG_ERR, "%s", msg);
}

static void usage(FILE *f)
{
    fputs("usage: kyso-auditd [--log FILE] [--socket PATH] [--foreground] [--batch-ms N]\n"
          "                   [--max-clients N] [--max-per-user N] [--rotate-size BYTES]\n"
          "                   [--client-timeout MS]\n"
          "  --log FILE          the audit log, made by `kyso audit init` (" DEFAULT_LOG ")\n"
          "  --socket PATH       where clients connect (" AUDIT_DEFAULT_SOCKET "); a socket\n"
          "                      passed by systemd socket activation is used instead\n"
          "  --foreground        do not detach (systemd, tests)\n"
          "  --batch-ms N        how long a record may wait for others to share its flush (0: none;\n"
          "                      the records that come in during a flush share the next)\n"
          "  --max-clients N     connections held at once; more are answered busy (128)\n"
          "  --max-per-user N    of them, held by one user (half of --max-clients)\n"
          "  --rotate-size BYTES rotate the log to FILE.<UTC time> once it is this large\n"
          "                      (suffix K, M or G; default: never)\n"
          "  --client-timeout MS how long a client has to send its request (2000)\n",
          f);
}

static bool parse_number(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M')
        shift = 20;
    else if (*end == 'G')
        shift = 30;
    if (shift)
        end++;
    if (*end || v == 0 || v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

/* The daemon changes to / : relative paths are made absolute first. */
static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", cwd, path);
    return out;
}

/* The socket systemd passed (fd 3), -1 if none, -2 if it is not usable. */
static int activated_socket(void)
{
    const char *pid_text = getenv("LISTEN_PID"), *fds_text = getenv("LISTEN_FDS");
    long pid, nfds;
    if (!pid_text || !fds_text)
        return -1;
    bool ours = parse_number(pid_text, 1, LONG_MAX, &pid) && pid == (long)getpid();
    bool counted = parse_number(fds_text, 0, 1024, &nfds);
    /* Not for the processes we might start. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!ours)
        return -1;
    if (!counted || nfds != 1) {
        auditd_error("socket activation: expected one socket, got LISTEN_FDS=%s", fds_text);
        return -2;
    }
    int fd = LISTEN_FDS_START, type = 0, listening = 0;
    struct sockaddr_un addr;
    socklen_t tlen = sizeof(type), llen = sizeof(listening), alen = sizeof(addr);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISSOCK(sb.st_mode) || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
        type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) != 0 || !listening ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0 || addr.sun_family != AF_UNIX) {
        auditd_error("socket activation: fd 3 is not a listening UNIX stream socket");
        return -2;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        auditd_error("socket activation: cannot set up fd 3: %s", strerror(errno));
        return -2;
    }
    return fd;
}

/* mkdir -p; the directories made get mode 0755. */
static bool make_dirs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return false;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) == 0) {
            if (chmod(path, 0755) != 0)
                return false;
        } else if (errno != EEXIST) {
            return false;
        }
        *p = c;
        if (c == '\0')
            return true;
    }
}

static int own_socket(struct auditd_options *opt)
{
    const char *path = opt->socket_path;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        auditd_error("the socket path %s is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);

    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (!make_dirs(dir)) {
            auditd_error("cannot make the socket directory %s: %s", dir, strerror(errno));
            return -1;
        }
    }

    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            auditd_error("%s exists and is not a socket", path);
            return -1;
        }
        /* A socket left by a daemon that is gone is replaced; one that
         * answers belongs to a daemon that is running. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            close(probe);
            auditd_error("another kyso-auditd is listening on %s", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || chmod(path, 0666) != 0 ||
        listen(fd, SOMAXCONN) != 0 || lstat(path, &sb) != 0) {
        auditd_error("cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    opt->socket_dev = sb.st_dev;
    opt->socket_ino = sb.st_ino;
    return fd;
}

/* Room for every client plus the log, the socket and a few more. */
static bool enough_descriptors(int max_clients)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)max_clients + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return true;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
            auditd_error("--max-clients %d needs %llu file descriptors; the limit is %llu", max_clients,
                         (unsigned long long)need, (unsigned long long)rl.rlim_cur);
            return false;
        }
    }
    return true;
}

/* Detaches once everything is set up: the parent's exit status says
 * whether the daemon started. */
static bool detach(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        auditd_error("fork: %s", strerror(errno));
        return false;
    }
    if (pid > 0)
        _exit(0);
    setsid();
    pid = fork();
    if (pid < 0) {
        auditd_error("fork: %s", strerror(errno));
        _exit(1);
    }
    if (pid > 0)
        _exit(0);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    stderr_is_journal = true; /* stderr is gone: syslog only */
    return true;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "log", required_argument, NULL, 'l' },
        { "socket", required_argument, NULL, 's' },
        { "foreground", no_argument, NULL, 'f' },
        { "batch-ms", required_argument, NULL, 'b' },
        { "max-clients", required_argument, NULL, 'm' },
        { "max-per-user", required_argument, NULL, 'u' },
        { "rotate-size", required_argument, NULL, 'r' },
        { "client-timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *log_arg = DEFAULT_LOG, *socket_arg = AUDIT_DEFAULT_SOCKET;
    bool foreground = false;
    long v;
    struct auditd_options opt = { .batch_ms = 0, .max_clients = 128, .client_timeout_ms = AUDITD_REQUEST_TIMEOUT_MS };
    int c;

    openlog("kyso-auditd", LOG_PID, LOG_DAEMON);
    stderr_is_journal = same_as_journal_stream();
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            log_arg = optarg;
            break;
        case 's':
            socket_arg = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'b':
            if (!parse_number(optarg, 0, 10000, &v)) {
                auditd_error("--batch-ms takes milliseconds, 0 to 10000");
                return 2;
            }
            opt.batch_ms = (int)v;
            break;
        case 'm':
            if (!parse_number(optarg, 1, 4096, &v)) {
                auditd_error("--max-clients takes a number, 1 to 4096");
                return 2;
            }
            opt.max_clients = (int)v;
            break;
        case 'u':
            if (!parse_number(optarg, 1, 4096, &v)) {
                auditd_error("--max-per-user takes a number, 1 to 4096");
                return 2;
            }
            opt.max_per_user = (int)v;
            break;
        case 't':
            if (!parse_number(optarg, 100, 600000, &v)) {
                auditd_error("--client-timeout takes milliseconds, 100 to 600000");
                return 2;
            }
            opt.client_timeout_ms = (int)v;
            break;
        case 'r':
            if (!parse_size(optarg, &opt.rotate_size)) {
                auditd_error("--rotate-size takes a size in bytes (suffix K, M or G)");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            puts("kyso-auditd " PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    /* Signals wait for the loop (auditd_serve), which takes them between
     * batches; a write to a client that left is an error, not a signal. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, NULL);
    signal(SIGPIPE, SIG_IGN);
    umask(027);

    char *log_path = absolute(log_arg), *socket_path = absolute(socket_arg);
    struct audit_writer *w = NULL;
    int lfd = -1, rc = 1;
    char err[768];
    if (!log_path || !socket_path) {
        auditd_error("out of memory");
        goto out;
    }
    opt.log_path = log_path;
    if (opt.max_per_user == 0 || opt.max_per_user > opt.max_clients)
        opt.max_per_user = opt.max_clients > 1 ? opt.max_clients / 2 : 1;
    if (!enough_descriptors(opt.max_clients))
        goto out;
    lfd = activated_socket();
    if (lfd == -2)
        goto out;
    /* A daemon that detaches keeps nothing of its starter's but stdio
     * (which it trades for /dev/null): no pipe of a script held open. */
    if (!foreground && close_range(lfd < 0 ? 3 : (unsigned)lfd + 1, ~0U, 0) != 0) {
        for (int fd = lfd < 0 ? 3 : lfd + 1; fd < 1024; fd++)
            close(fd);
    }
    /* The log first: without it there is nothing to serve. */
    if (audit_writer_open(log_path, &w, err, sizeof(err)) != 0) {
        auditd_error("%s", err);
        goto out;
    }
    if (lfd < 0) {
        opt.socket_path = socket_path;
        lfd = own_socket(&opt);
        if (lfd < 0)
            goto out;
    }
    if (chdir("/") != 0) {
        auditd_error("chdir /: %s", strerror(errno));
        goto out;
    }
    if (!foreground && !detach())
        goto out;
    rc = auditd_serve(lfd, &w, &opt);
    lfd = -1; /* closed by auditd_serve */
out:
    if (lfd >= 0) {
        close(lfd);
        struct stat sb;
        if (opt.socket_path && lstat(opt.socket_path, &sb) == 0 && sb.st_ino == opt.socket_ino &&
            sb.st_dev == opt.socket_dev)
            unlink(opt.socket_path);
    }
    report_repeats();
    audit_writer_close(w);
    free(log_path);
    free(socket_path);
    closelog();
    return rc;
}
