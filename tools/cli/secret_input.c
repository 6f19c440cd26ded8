/* Secrets typed by a person (tools/cli/secret_input.h). */
#include "config.h"

#include "tools/cli/secret_input.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

int cli_read_secret(int fd, char *pin, size_t pinmax, const char *prompt)
{
    size_t n = 0;
    int tty = -1;
    struct termios saved, quiet;
    bool restore = false;
    if (fd < 0) {
        tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (tty < 0) {
            fprintf(stderr, "kyso: no terminal to ask for the %s on (give it on a file descriptor)\n", prompt);
            return -1;
        }
        if (tcgetattr(tty, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
            quiet.c_lflag |= ICANON;
            restore = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
        }
        dprintf(tty, "%s: ", prompt);
        fd = tty;
    }
    char c;
    ssize_t r;
    while ((r = read(fd, &c, 1)) == 1 || (r < 0 && errno == EINTR)) {
        if (r < 0)
            continue;
        if (c == '\n' || c == '\r')
            break;
        if (n + 1 >= pinmax) {
            n = pinmax; /* too long: refused below */
            break;
        }
        pin[n++] = c;
    }
    c = 0;
    if (tty >= 0) {
        if (restore)
            tcsetattr(tty, TCSAFLUSH, &saved);
        dprintf(tty, "\n");
        close(tty);
    }
    if (n == 0 || n >= pinmax) {
        fprintf(stderr, "kyso: %s: %s\n", prompt, n ? "too long" : "none given");
        OPENSSL_cleanse(pin, pinmax);
        return -1;
    }
    pin[n] = '\0';
    return (int)n;
}
