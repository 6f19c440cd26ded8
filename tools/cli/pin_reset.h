/* kyso pin-reset request | perform | status: the recovery of a locked
 * token (rule M6). One file per subcommand; what they share is here
 * (pin_reset_status_cmd.c). */
#ifndef KYSO_TOOLS_CLI_PIN_RESET_H
#define KYSO_TOOLS_CLI_PIN_RESET_H

#include <json-c/json.h>
#include <stdint.h>

int pin_reset_cmd(int argc, char **argv);          /* argv[0] is "pin-reset" */
int pin_reset_request_cmd(int argc, char **argv);  /* argv[0] is "request" */
int pin_reset_perform_cmd(int argc, char **argv);
int pin_reset_status_cmd(int argc, char **argv);

/* The registered completion of request id (a "pin-reset-done" naming it),
 * if any: 1 and *done (the caller puts it), 0 when there is none, -1
 * when the registry cannot be read (why). */
int pin_reset_find_done(const char *dir, const char *request_id, json_object **done, char *why, size_t whylen);

/* The date a record was made, as its created.time writes it (days since
 * 1970-01-01), and today's local date. 0, or -1. */
int pin_reset_created_day(const json_object *record, int64_t *day);
int64_t pin_reset_today(void);

/* A string member of o at key ("" when absent). */
const char *pin_reset_str(const json_object *o, const char *key);

#endif
