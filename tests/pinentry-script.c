/* A pinentry for the tests: speaks the Assuan pinentry protocol on
 * stdin/stdout and answers from a script instead of a person.
 *
 *   KYSO_TEST_PINENTRY_SCRIPT=FILE  the script: one line per run (each
 *       run of the program is one prompt); blank lines and lines
 *       starting with '#' are skipped. FILE.pos keeps the position, so
 *       that successive runs take successive lines.
 *   KYSO_TEST_PINENTRY_LOG=FILE     (default SCRIPT.log) appends what it
 *       was told: every command line as received (kyso never sends a
 *       PIN), "fds: …" (its open descriptors), "env: NAME…" (names
 *       only). FILE.desc holds the last SETDESC, decoded.
 *
 * Script lines:
 *   pin TEXT        GETPIN answers TEXT (percent-escaped; status and
 *                   comment lines before it)
 *   data RAW        GETPIN answers "D RAW" as it is, then OK
 *   long-pin N      GETPIN answers N digits
 *   empty           GETPIN answers OK without data
 *   cancel | timeout | notty   GETPIN answers that ERR
 *   hang            GETPIN is never answered
 *   exit            the program ends at GETPIN, without an answer
 *   garbage         GETPIN answers a line that is not Assuan
 *   long            GETPIN answers a 1500-byte line
 *   no-greeting     "hello" instead of the OK greeting
 *   hang-greeting   no greeting, ever
 *   die             the program ends right after its greeting
 * A run with no line left answers GETPIN with ERR "script exhausted". */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

extern char **environ;

static char log_path[4096], desc_path[4200];

static void out(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(1, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        s += w;
        n -= (size_t)w;
    }
}

static void outs(const char *s)
{
    out(s, strlen(s));
}

/* One line appended to the log: prefix and text. */
static void log_line(const char *prefix, const char *text)
{
    FILE *f = fopen(log_path, "a");
    if (!f)
        return;
    fprintf(f, "%s%s\n", prefix, text);
    fclose(f);
}

static void forever(void)
{
    for (;;)
        pause();
}

/* The script's next line (consumed), into line; false if none. */
static int next_line(const char *script, char *line, size_t cap)
{
    char pos_path[4200];
    snprintf(pos_path, sizeof(pos_path), "%s.pos", script);
    int pfd = open(pos_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (pfd < 0 || flock(pfd, LOCK_EX) < 0)
        return 0;
    char num[32] = { 0 };
    ssize_t r = pread(pfd, num, sizeof(num) - 1, 0);
    long pos = r > 0 ? strtol(num, NULL, 10) : 0, at = 0;
    int found = 0;
    FILE *f = fopen(script, "r");
    if (f) {
        while (fgets(line, (int)cap, f)) {
            line[strcspn(line, "\n")] = '\0';
            if (!line[0] || line[0] == '#')
                continue;
            if (at++ == pos) {
                found = 1;
                break;
            }
        }
        fclose(f);
    }
    if (found) {
        int n = snprintf(num, sizeof(num), "%ld\n", pos + 1);
        if (ftruncate(pfd, 0) < 0 || pwrite(pfd, num, (size_t)n, 0) != n)
            found = 0;
    }
    close(pfd);
    return found;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void save_desc(const char *escaped)
{
    FILE *f = fopen(desc_path, "w");
    if (!f)
        return;
    for (const char *p = escaped; *p; p++) {
        if (p[0] == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            fputc(hexval(p[1]) << 4 | hexval(p[2]), f);
            p += 2;
        } else {
            fputc(*p, f);
        }
    }
    fclose(f);
}

static void log_start(void)
{
    char fds[512] = "fds:";
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int self = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || atoi(e->d_name) == self)
                continue;
            size_t n = strlen(fds);
            snprintf(fds + n, sizeof(fds) - n, " %s", e->d_name);
        }
        closedir(d);
    }
    log_line("", fds);
    for (char **e = environ; *e; e++) {
        char name[256];
        size_t n = strcspn(*e, "=");
        if (n >= sizeof(name))
            continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        log_line("env: ", name);
    }
}

static void answer_getpin(const char *act)
{
    char buf[2048];
    if (!strncmp(act, "pin ", 4)) {
        outs("S KYSO_TEST status line\n# a comment\n");
        size_t n = 0;
        buf[n++] = 'D';
        buf[n++] = ' ';
        for (const unsigned char *p = (const unsigned char *)act + 4; *p && n + 4 < sizeof(buf); p++) {
            if (*p == '%' || *p < 0x20)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%%%02X", *p);
            else
                buf[n++] = (char)*p;
        }
        buf[n++] = '\n';
        out(buf, n);
        outs("OK\n");
    } else if (!strncmp(act, "data ", 5)) {
        snprintf(buf, sizeof(buf), "D %s\nOK\n", act + 5);
        outs(buf);
    } else if (!strncmp(act, "long-pin ", 9)) {
        long n = strtol(act + 9, NULL, 10);
        outs("D ");
        for (long i = 0; i < n && i < 900; i++)
            outs("1");
        outs("\nOK\n");
    } else if (!strcmp(act, "empty")) {
        outs("OK\n");
    } else if (!strcmp(act, "cancel")) {
        outs("ERR 83886179 Operation cancelled <Pinentry>\n");
    } else if (!strcmp(act, "timeout")) {
        outs("ERR 83886142 Timeout <Pinentry>\n");
    } else if (!strcmp(act, "notty")) {
        outs("ERR 83918950 Inappropriate ioctl for device <Pinentry>\n");
    } else if (!strcmp(act, "hang")) {
        forever();
    } else if (!strcmp(act, "exit")) {
        _exit(0);
    } else if (!strcmp(act, "garbage")) {
        outs("\x01\x02 this is not Assuan \xff\n");
    } else if (!strcmp(act, "long")) {
        memset(buf, 'x', 1500);
        buf[0] = 'D';
        buf[1] = ' ';
        buf[1500] = '\n';
        out(buf, 1501);
        outs("OK\n");
    } else {
        outs("ERR 83886081 script exhausted <Pinentry>\n");
    }
}

int main(void)
{
    const char *script = getenv("KYSO_TEST_PINENTRY_SCRIPT");
    const char *lp = getenv("KYSO_TEST_PINENTRY_LOG");
    if (!script || !*script)
        return 2;
    snprintf(log_path, sizeof(log_path), "%s%s", lp && *lp ? lp : script, lp && *lp ? "" : ".log");
    snprintf(desc_path, sizeof(desc_path), "%s.desc", log_path);
    char act[1024];
    if (!next_line(script, act, sizeof(act)))
        act[0] = '\0';
    log_start();
    log_line("script: ", act);

    if (!strcmp(act, "hang-greeting"))
        forever();
    if (!strcmp(act, "no-greeting")) {
        outs("hello\n");
        return 0;
    }
    outs("OK Pleased to meet you\n");
    if (!strcmp(act, "die"))
        return 0;

    char line[4096];
    FILE *in = fdopen(0, "r");
    if (!in)
        return 2;
    while (fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\n")] = '\0';
        log_line("", line);
        if (!strncmp(line, "SETDESC ", 8))
            save_desc(line + 8);
        if (!strcmp(line, "GETPIN")) {
            answer_getpin(act);
        } else if (!strcmp(line, "BYE")) {
            outs("OK closing connection\n");
            return 0;
        } else {
            outs("OK\n");
        }
    }
    return 0;
}
