/* kyso-vtoken: the running token. It connects to vsmartcard's vpcd reader
 * driver inside pcscd (TCP; each message is a 2-byte big-endian length and
 * a payload; a 1-byte payload is a control code: 0 power off, 1 power on,
 * 2 reset, 4 ATR request) and answers a line-based control socket used by
 * tests to remove and re-insert the card, add latency and read counters. */
#ifndef KYSO_VTOKEN_SERVER_H
#define KYSO_VTOKEN_SERVER_H

#include <stdbool.h>

#include "tools/vtoken/card.h"

struct vt_server_options {
    const char *state_path;
    const char *vpcd_host;     /* default 127.0.0.1 */
    unsigned vpcd_port;        /* default 35963 */
    const char *control_path;  /* NULL: no control socket */
    bool start_removed;
    bool verbose;              /* APDU trace on stderr */
};

/* Runs until SIGTERM/SIGINT or a "quit" control command. Returns the
 * process exit code. */
int vt_server_run(struct vt_card *card, const struct vt_server_options *opt);

/* Sends one control command and prints the answer. Returns the exit code. */
int vt_control_send(const char *control_path, const char *command);

#endif
