/* Unit tests of pkcs11/pinentry.c against the scripted pinentry
 * (tests/pinentry-script.c): answers, escapes both ways, cancel, timeouts
 * by the deadline (and the child reaped), broken programs, over-long PINs
 * wiped, what the program inherits (fds, environment, signals), and when
 * no prompt is possible at all. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pty.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "pkcs11/pinentry.h"

/* The module's p11_secret (module.c) would bring the whole module with
 * it: the same locked page here, and a count of pages alive, so that the
 * tests see nothing is kept after a failure. */
static int secrets_alive;

bool p11_secret_set(struct p11_secret *s, const uint8_t *value, size_t len)
{
    if (len > P11_MAX_PIN)
        return false;
    if (!s->data) {
        void *page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
        if (page == MAP_FAILED)
            return false;
        mlock(page, (size_t)sysconf(_SC_PAGESIZE));
        s->data = page;
        __atomic_add_fetch(&secrets_alive, 1, __ATOMIC_SEQ_CST);
    }
    OPENSSL_cleanse(s->data, P11_MAX_PIN);
    if (len)
        memcpy(s->data, value, len);
    s->len = len;
    return true;
}

void p11_secret_clear(struct p11_secret *s)
{
    if (!s->data)
        return;
    OPENSSL_cleanse(s->data, P11_MAX_PIN);
    munlock(s->data, (size_t)sysconf(_SC_PAGESIZE));
    munmap(s->data, (size_t)sysconf(_SC_PAGESIZE));
    s->data = NULL;
    s->len = 0;
    __atomic_sub_fetch(&secrets_alive, 1, __ATOMIC_SEQ_CST);
}

static char dir[256], script[300], logfile[320], descfile[340];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The whole of a file (NUL-terminated) in buf. */
static size_t read_file(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* A fresh script (its position and log gone). */
static void set_script(const char *text)
{
    char pos[340];
    snprintf(pos, sizeof(pos), "%s.pos", script);
    unlink(pos);
    unlink(logfile);
    unlink(descfile);
    write_file(script, text);
}

static struct p11_pinentry_prompt prompt(int timeout_s)
{
    struct p11_pinentry_prompt p = { .program = KYSO_TEST_PINENTRY, .title = "kyso",
                                     .description = "Khóa 9C của Nguyễn Văn An", .prompt = "PIN:",
                                     .timeout_s = timeout_s };
    return p;
}

static enum p11_pinentry_result ask(const char *text, struct p11_secret *pin, char *why, size_t whylen)
{
    set_script(text);
    struct p11_pinentry_prompt p = prompt(5);
    return p11_pinentry_ask(&p, pin, why, whylen);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No child of this process is left, not even a zombie. */
static void no_child_left(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "%s/kyso-pinentry-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(script, sizeof(script), "%s/script", dir);
    snprintf(logfile, sizeof(logfile), "%s/log", dir);
    snprintf(descfile, sizeof(descfile), "%s/log.desc", dir);
    setenv("KYSO_TEST_PINENTRY_SCRIPT", script, 1);
    setenv("KYSO_TEST_PINENTRY_LOG", logfile, 1);
    setenv("DISPLAY", ":kyso-test", 1); /* a prompt is possible (the script needs no display) */
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_pin(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256];
    assert_int_equal(ask("pin 123456\n", &pin, why, sizeof(why)), P11_PINENTRY_OK);
    assert_int_equal(pin.len, 6);
    assert_memory_equal(pin.data, "123456", 6);
    assert_null(strstr(why, "123456"));
    p11_secret_clear(&pin);
    assert_int_equal(secrets_alive, 0);
    no_child_left();
    /* What the program was told, in order, and BYE at the end. */
    char log[8192];
    read_file(logfile, log, sizeof(log));
    const char *order[] = { "SETTITLE kyso\n", "SETDESC ", "SETPROMPT PIN:\n", "SETTIMEOUT 5\n", "GETPIN\n", "BYE\n" };
    const char *at = log;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *f = strstr(at, order[i]);
        if (!f)
            fail_msg("\"%s\" missing (in order) from the log:\n%s", order[i], log);
        at = f;
    }
    assert_null(strstr(log, "SETERROR"));
}

static void test_escaped_pin(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256];
    /* The script escapes '%' itself; a '+' and spaces stay as they are. */
    assert_int_equal(ask("pin 1%2 3+4 %25\n", &pin, why, sizeof(why)), P11_PINENTRY_OK);
    assert_int_equal(pin.len, 11);
    assert_memory_equal(pin.data, "1%2 3+4 %25", 11);
    p11_secret_clear(&pin);
    /* Escapes of any case, written by hand. */
    assert_int_equal(ask("data %31%2a%2B9\n", &pin, why, sizeof(why)), P11_PINENTRY_OK);
    assert_int_equal(pin.len, 4);
    assert_memory_equal(pin.data, "1*+9", 4);
    p11_secret_clear(&pin);
    /* A bad escape, a NUL byte: refused, nothing kept. */
    assert_int_equal(ask("data 12%ZZ\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_null(pin.data);
    assert_int_equal(ask("data 12%0\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_null(pin.data);
    assert_int_equal(ask("data 12%00\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_null(pin.data);
    assert_int_equal(secrets_alive, 0);
    no_child_left();
}

static void test_cancel_and_errors(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256];
    p11_secret_set(&pin, (const uint8_t *)"old", 3); /* whatever was there goes */
    assert_int_equal(ask("cancel\n", &pin, why, sizeof(why)), P11_PINENTRY_CANCELLED);
    assert_null(pin.data);
    assert_non_null(strstr(why, "cancelled"));
    assert_int_equal(ask("empty\n", &pin, why, sizeof(why)), P11_PINENTRY_CANCELLED);
    assert_null(pin.data);
    assert_int_equal(ask("timeout\n", &pin, why, sizeof(why)), P11_PINENTRY_TIMEOUT);
    assert_int_equal(ask("notty\n", &pin, why, sizeof(why)), P11_PINENTRY_NO_PROMPT);
    assert_int_equal(ask("garbage\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_non_null(strstr(why, "not Assuan"));
    assert_int_equal(ask("no-greeting\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_non_null(strstr(why, "greeting"));
    assert_int_equal(ask("long\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_non_null(strstr(why, "longer than 1000"));
    assert_int_equal(ask("exit\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_int_equal(ask("", &pin, why, sizeof(why)), P11_PINENTRY_ERROR); /* script exhausted */
    assert_null(pin.data);
    assert_int_equal(secrets_alive, 0);
    no_child_left();
}

static void test_long_pin(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256];
    assert_int_equal(ask("long-pin 64\n", &pin, why, sizeof(why)), P11_PINENTRY_OK);
    assert_int_equal(pin.len, P11_MAX_PIN);
    p11_secret_clear(&pin);
    assert_int_equal(ask("long-pin 65\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_null(pin.data);
    assert_int_equal(pin.len, 0);
    assert_non_null(strstr(why, "longer than 64"));
    assert_int_equal(secrets_alive, 0);
    no_child_left();
}

static void test_hang(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256];
    struct p11_pinentry_prompt p = prompt(1);
    const char *scripts[] = { "hang\n", "hang-greeting\n" };
    for (size_t i = 0; i < 2; i++) {
        set_script(scripts[i]);
        double t0 = now_s();
        assert_int_equal(p11_pinentry_ask(&p, &pin, why, sizeof(why)), P11_PINENTRY_TIMEOUT);
        double took = now_s() - t0;
        print_message("%.*s: TIMEOUT after %.2f s (%s)\n", (int)strcspn(scripts[i], "\n"), scripts[i], took, why);
        assert_true(took >= 0.9 && took < 2.5);
        assert_null(pin.data);
        no_child_left(); /* killed and reaped */
    }
}

static void test_missing_program(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256];
    struct p11_pinentry_prompt p = prompt(5);
    p.program = "/nonexistent/pinentry";
    assert_int_equal(p11_pinentry_ask(&p, &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_non_null(strstr(why, "cannot start /nonexistent/pinentry"));
    p.program = "pinentry-tty"; /* not an absolute path: never looked up in PATH */
    assert_int_equal(p11_pinentry_ask(&p, &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    p.program = KYSO_TEST_PINENTRY;
    p.timeout_s = 0;
    assert_int_equal(p11_pinentry_ask(&p, &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    assert_null(pin.data);
    no_child_left();
}

static void test_description(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256], log[8192], desc[1024];
    const char *d = "Ký số: Nguyễn Văn An\nkhóa 9C (100% + ít)\r\nGETPIN\nchương trình: soffice.bin";
    set_script("pin 1234\n");
    struct p11_pinentry_prompt p = prompt(5);
    p.description = d;
    p.error = "Sai mã PIN: còn 2 lần thử";
    assert_int_equal(p11_pinentry_ask(&p, &pin, why, sizeof(why)), P11_PINENTRY_OK);
    p11_secret_clear(&pin);
    read_file(logfile, log, sizeof(log));
    assert_non_null(strstr(log, "SETDESC Ký số: Nguyễn Văn An%0Akhóa 9C (100%25 %2B ít)%0D%0AGETPIN%0A"
                                "chương trình: soffice.bin\n"));
    assert_non_null(strstr(log, "SETERROR Sai mã PIN: còn 2 lần thử\n"));
    /* One GETPIN only: the newline in the description did not make one. */
    int getpins = 0;
    for (const char *g = log; (g = strstr(g, "\nGETPIN\n")) != NULL; g++)
        getpins++;
    assert_int_equal(getpins, 1);
    read_file(descfile, desc, sizeof(desc));
    assert_string_equal(desc, d);

    /* Too long for a line: cut at a character's boundary, still sent. */
    char big[3000] = "";
    while (strlen(big) + 8 < sizeof(big))
        strcat(big, "Nguyễn ");
    set_script("pin 1234\n");
    p.description = big;
    assert_int_equal(p11_pinentry_ask(&p, &pin, why, sizeof(why)), P11_PINENTRY_OK);
    p11_secret_clear(&pin);
    read_file(descfile, desc, sizeof(desc));
    assert_true(strlen(desc) > 900 && strlen(desc) <= 1000 - strlen("SETDESC "));
    assert_memory_equal(desc, big, strlen(desc)); /* a prefix, whole characters */
    size_t n = strlen(desc);
    assert_true((unsigned char)desc[n - 1] < 0x80 || (unsigned char)big[n] < 0x80 ||
                ((unsigned char)big[n] & 0xC0) == 0xC0);
}

/* What the program inherits: no fd but the socket and /dev/null, no
 * variable but those it needs; SIGPIPE stays the application's. */
static void test_inheritance(void **state)
{
    struct p11_secret pin = { 0 };
    char why[256], log[8192];
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, as careless applications do */
    assert_true(leak >= 0);
    int leak2 = dup2(leak, 40);
    assert_int_equal(leak2, 40);
    setenv("KYSO_SECRET_THING", "x", 1);
    setenv("LD_PRELOAD", "", 1);
    setenv("LC_CTYPE", "vi_VN.UTF-8", 1);
    assert_int_equal(ask("pin 1\n", &pin, why, sizeof(why)), P11_PINENTRY_OK);
    p11_secret_clear(&pin);
    read_file(logfile, log, sizeof(log));
    assert_non_null(strstr(log, "fds: 0 1 2\n"));
    assert_non_null(strstr(log, "env: PATH\n"));
    assert_non_null(strstr(log, "env: DISPLAY\n"));
    assert_non_null(strstr(log, "env: LC_CTYPE\n"));
    assert_non_null(strstr(log, "env: KYSO_TEST_PINENTRY_SCRIPT\n"));
    assert_null(strstr(log, "env: KYSO_SECRET_THING"));
    assert_null(strstr(log, "env: LD_PRELOAD"));
    close(leak);
    close(leak2);
    unsetenv("KYSO_SECRET_THING");
    unsetenv("LD_PRELOAD");

    /* A program that dies right after its greeting: kyso's next command
     * meets a closed socket, and no SIGPIPE kills the application. */
    struct sigaction old, dfl = { .sa_handler = SIG_DFL };
    sigaction(SIGPIPE, &dfl, &old);
    assert_int_equal(ask("die\n", &pin, why, sizeof(why)), P11_PINENTRY_ERROR);
    sigaction(SIGPIPE, &old, NULL);

    /* An application that ignores SIGCHLD (its children are never
     * zombies): still works, and its disposition is left alone. */
    struct sigaction ign = { .sa_handler = SIG_IGN }, now;
    sigaction(SIGCHLD, &ign, &old);
    assert_int_equal(ask("pin 42\n", &pin, why, sizeof(why)), P11_PINENTRY_OK);
    assert_memory_equal(pin.data, "42", 2);
    p11_secret_clear(&pin);
    sigaction(SIGCHLD, &old, &now);
    assert_ptr_equal(now.sa_handler, SIG_IGN);
    no_child_left();
}

static void *asker(void *arg)
{
    struct p11_secret pin = { 0 };
    char why[256];
    struct p11_pinentry_prompt p = prompt(10);
    enum p11_pinentry_result r = p11_pinentry_ask(&p, &pin, why, sizeof(why));
    bool ok = r == P11_PINENTRY_OK && pin.len == 4 && !memcmp(pin.data, "4321", 4);
    p11_secret_clear(&pin);
    return ok ? arg : NULL;
}

static void test_threads(void **state)
{
    pthread_t t[6];
    set_script("pin 4321\npin 4321\npin 4321\npin 4321\npin 4321\npin 4321\n");
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, asker, t), 0);
    for (size_t i = 0; i < 6; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_ptr_equal(r, t);
    }
    assert_int_equal(secrets_alive, 0);
    no_child_left();
}

/* In a new session without a display: no prompt is possible, and asking
 * refuses at once without starting the program. */
static void test_no_prompt(void **state)
{
    set_script("pin 1\n");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setsid() < 0)
            _exit(10);
        unsetenv("DISPLAY");
        unsetenv("WAYLAND_DISPLAY");
        if (p11_pinentry_possible())
            _exit(11);
        struct p11_secret pin = { 0 };
        char why[256];
        struct p11_pinentry_prompt p = prompt(5);
        if (p11_pinentry_ask(&p, &pin, why, sizeof(why)) != P11_PINENTRY_NO_PROMPT || pin.data)
            _exit(12);
        if (access(logfile, F_OK) == 0)
            _exit(13); /* the program ran */
        setenv("WAYLAND_DISPLAY", "wayland-0", 1);
        if (!p11_pinentry_possible())
            _exit(14);
        unsetenv("WAYLAND_DISPLAY");
        setenv("DISPLAY", ":0", 1);
        _exit(p11_pinentry_possible() ? 0 : 15);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Debian's pinentry-tty on a pseudo-terminal that is the asking
 * process's controlling terminal (OPTION ttyname), no display: the
 * description shows decoded, the PIN typed comes back. */
static void test_real_pinentry_tty(void **state)
{
    if (access("/usr/bin/pinentry-tty", X_OK) != 0)
        skip();
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        unsetenv("DISPLAY");
        setenv("TERM", "dumb", 1);
        struct p11_secret pin = { 0 };
        char why[256];
        struct p11_pinentry_prompt p = prompt(10);
        p.program = "/usr/bin/pinentry-tty";
        p.description = "Khóa 9C của Nguyễn Văn An\nchương trình: test_pinentry";
        enum p11_pinentry_result r = p11_pinentry_ask(&p, &pin, why, sizeof(why));
        _exit(r == P11_PINENTRY_OK && pin.len == 6 && !memcmp(pin.data, "246813", 6) ? 0 : 20 + (int)r);
    }
    char seen[8192];
    size_t n = 0;
    bool typed = false;
    double t0 = now_s();
    while (now_s() - t0 < 15 && n + 1 < sizeof(seen)) {
        struct pollfd pf = { .fd = master, .events = POLLIN };
        if (poll(&pf, 1, 200) > 0) {
            ssize_t r = read(master, seen + n, sizeof(seen) - 1 - n);
            if (r <= 0)
                break; /* the child ended */
            n += (size_t)r;
            seen[n] = '\0';
        }
        if (!typed && strstr(seen, "PIN:")) {
            assert_int_equal(write(master, "246813\r", 7), 7);
            typed = true;
        }
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    close(master);
    print_message("pinentry-tty showed: %s\n", seen);
    assert_true(typed);
    assert_non_null(strstr(seen, "Khóa 9C của Nguyễn Văn An"));
    assert_null(strstr(seen, "246813")); /* not echoed */
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin),          cmocka_unit_test(test_escaped_pin),
        cmocka_unit_test(test_cancel_and_errors), cmocka_unit_test(test_long_pin),
        cmocka_unit_test(test_hang),         cmocka_unit_test(test_missing_program),
        cmocka_unit_test(test_description),  cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_threads),      cmocka_unit_test(test_no_prompt),
        cmocka_unit_test(test_real_pinentry_tty),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
