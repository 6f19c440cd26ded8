/* The syslog copy of the records (audit/README.md): one datagram socket
 * to /dev/log per process, connected once and kept, instead of the C
 * library's syslog(), which without openlog() looks for the socket again
 * at every message where nobody listens. The module does not call
 * openlog(): that would change the identity of the application's own
 * messages. Sending never waits: a logger that does not keep up loses
 * its copy, never a signature its time (the log is the record).
 *
 * Where /dev/log cannot be reached, it is looked for again after
 * RETRY_SECONDS, not at every record. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit/internal.h"

#define RETRY_SECONDS 10
#define SYSLOG_PATH "/dev/log"

static pthread_mutex_t syslog_lock = PTHREAD_MUTEX_INITIALIZER;
static int syslog_fd = -1;
static time_t syslog_retry_at;     /* CLOCK_MONOTONIC seconds; 0: now */

static time_t mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Called with syslog_lock held. */
static bool syslog_connect(void)
{
    if (syslog_fd >= 0)
        return true;
    time_t now = mono_seconds();
    if (syslog_retry_at && now < syslog_retry_at)
        return false;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", SYSLOG_PATH);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        syslog_fd = fd;
        syslog_retry_at = 0;
        return true;
    }
    if (fd >= 0)
        close(fd);
    syslog_retry_at = now + RETRY_SECONDS;
    return false;
}

void audit_syslog_record(const char *fields, size_t len)
{
    /* As the C library writes it: <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG */
    char head[64], msg[AUDIT_MAX_LINE + 128];
    struct tm tm;
    time_t now = time(NULL);
    if (!localtime_r(&now, &tm) || strftime(head, sizeof(head), "%h %e %T", &tm) == 0)
        head[0] = '\0';
    int n = snprintf(msg, sizeof(msg), "<%d>%s kyso[%ld]: kyso-audit: %.*s}", LOG_AUTHPRIV | LOG_INFO, head,
                     (long)getpid(), (int)len, fields);
    if (n <= 0)
        return;
    size_t m = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    pthread_mutex_lock(&syslog_lock);
    if (syslog_connect() && send(syslog_fd, msg, m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK && errno != ENOBUFS) {
        /* The logger went away (restarted): found again at the next record. */
        close(syslog_fd);
        syslog_fd = -1;
        syslog_retry_at = 0;
    }
    pthread_mutex_unlock(&syslog_lock);
}

void audit_syslog_fork_prepare(void)
{
    pthread_mutex_lock(&syslog_lock);
}

void audit_syslog_fork_done(void)
{
    pthread_mutex_unlock(&syslog_lock);
}
