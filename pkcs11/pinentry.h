/* Asking the user for a PIN through a pinentry program (the Assuan
 * protocol of GnuPG's pinentry, as gpg-agent speaks it), for operations
 * that need a PIN the application did not give. The PIN goes from the
 * program into locked memory and never through the application.
 *
 * No global state: any thread may ask at any time. The module never
 * changes the application's signal dispositions; it spawns the program
 * itself (no shell) and reaps only that child. */
#ifndef KYSO_PKCS11_PINENTRY_H
#define KYSO_PKCS11_PINENTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "pkcs11/internal.h"

struct p11_pinentry_prompt {
    const char *program;      /* absolute path, from root's configuration */
    const char *title;        /* "kyso" */
    const char *description;  /* which key, which certificate holder, which program asks (UTF-8) */
    const char *prompt;       /* "PIN:" */
    const char *error;        /* shown after a wrong PIN, or NULL */
    int timeout_s;            /* the whole exchange, > 0 */
};

enum p11_pinentry_result {
    P11_PINENTRY_OK,
    P11_PINENTRY_CANCELLED,   /* the user said no (or entered nothing) */
    P11_PINENTRY_TIMEOUT,     /* no answer in timeout_s (the program is killed) */
    P11_PINENTRY_NO_PROMPT,   /* no display and no terminal to ask on */
    P11_PINENTRY_ERROR
};

/* Asks once. On OK, pin holds the PIN in locked memory (at most
 * P11_MAX_PIN bytes; a longer one is an ERROR and wiped). On anything
 * else pin is cleared. why (if whylen > 0): one line saying what
 * happened, never the PIN. */
enum p11_pinentry_result p11_pinentry_ask(const struct p11_pinentry_prompt *p, struct p11_secret *pin, char *why,
                                          size_t whylen);

/* Whether a prompt is possible at all in this process: a display
 * (DISPLAY or WAYLAND_DISPLAY) or a controlling terminal. If not, the
 * caller refuses at once, without spawning anything. */
bool p11_pinentry_possible(void);

#endif
