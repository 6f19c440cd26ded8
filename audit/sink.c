/* The audit trail's sinks, chosen by KYSO_AUDIT (audit/README.md):
 * kyso-auditd (the default), the log file written directly, or off. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/protocol.h"

/* The direct file sink keeps one writer per process (reopened after fork:
 * a child must not share the parent's lock state). */
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static struct audit_writer *file_writer;
static char file_path[1024];
static pid_t file_pid;
static struct audit_identity self;

/* fork() while another thread is writing a record would leave the child
 * with the lock held. The module takes this lock around fork (after its
 * own locks, in the order its threads take them: slot, then this), so the
 * child starts with it free and reopens the writer (see file_submit). */
void audit_sink_fork_prepare(void)
{
    pthread_mutex_lock(&file_lock);
}

void audit_sink_fork_done(void)
{
    pthread_mutex_unlock(&file_lock);
}

/* The module may be unloaded (dlclose) while its process goes on: the
 * file sink's writer goes with it. */
__attribute__((destructor)) static void close_file_sink(void)
{
    /* In a forked child too: closing our copies of the files leaves the
     * parent's alone. */
    if (file_writer)
        audit_writer_close(file_writer);
    file_writer = NULL;
}

static const char *setting(void)
{
    const char *v = getenv("KYSO_AUDIT");
    return v && *v ? v : "daemon:" AUDIT_DEFAULT_SOCKET;
}

bool audit_disabled(void)
{
    return strcmp(setting(), "off") == 0;
}

static int file_submit(const char *path, const struct audit_event *ev, char *err, size_t errlen)
{
    int rc;
    pthread_mutex_lock(&file_lock);
    if (file_writer && (file_pid != getpid() || strcmp(path, file_path) != 0)) {
        /* After fork the writer is a copy of the parent's: closing our
         * copies of its files leaves the parent's (and its lock) alone. */
        audit_writer_close(file_writer);
        file_writer = NULL;
    }
    if (!file_writer) {
        if (audit_writer_open(path, &file_writer, err, errlen) != 0) {
            pthread_mutex_unlock(&file_lock);
            return -1;
        }
        snprintf(file_path, sizeof(file_path), "%s", path);
        file_pid = getpid();
        audit_identity_self(&self);
    }
    const struct audit_event *evp = ev;
    const struct audit_identity *who = &self;
    rc = audit_writer_append(file_writer, &evp, &who, 1, err, errlen);
    pthread_mutex_unlock(&file_lock);
    return rc;
}

int audit_submit(const struct audit_event *ev, char *err, size_t errlen)
{
    const char *s = setting();
    if (strcmp(s, "off") == 0)
        return 0;
    if (strncmp(s, "file:", 5) == 0 && s[5])
        return file_submit(s + 5, ev, err, errlen);
    if (strncmp(s, "daemon:", 7) == 0 && s[7])
        return audit_daemon_submit(s + 7, ev, err, errlen);
    snprintf(err, errlen, "KYSO_AUDIT=%s is not file:PATH, daemon:SOCKET or off", s);
    return -1;
}
