/* Secrets typed by a person (a PIN, a PUK): one line read from a file
 * descriptor the caller names (a pipe from a pinentry, a file a script
 * holds), or typed at the terminal without echo; never from the command
 * line or the environment, where other users and logs see them. The
 * caller keeps the buffer locked (mlock) and cleanses it. */
#ifndef KYSO_TOOLS_CLI_SECRET_INPUT_H
#define KYSO_TOOLS_CLI_SECRET_INPUT_H

#include <stddef.h>

/* One line from fd (read a byte at a time, so that several secrets may
 * come on one descriptor), or from /dev/tty with the prompt when fd < 0.
 * Returns its length (NUL-terminated in buf), or -1 after one line on
 * stderr (none, too long, no terminal). */
int cli_read_secret(int fd, char *buf, size_t max, const char *prompt);

#endif
