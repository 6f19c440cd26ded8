/* kyso token due (tools/cli/token_due_cmd.c): what is due for every
 * token and certificate the registry and the audit trail know (rules
 * M10, M11), and the same facts for one certificate in kyso token status. */
#ifndef KYSO_TOOLS_CLI_TOKEN_DUE_CMD_H
#define KYSO_TOOLS_CLI_TOKEN_DUE_CMD_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses of kyso token due. */
#define TOKEN_DUE_OK 0        /* nothing overdue */
#define TOKEN_DUE_ERROR 1     /* a registry or log that cannot be read, a broken configuration */
#define TOKEN_DUE_USAGE 2
#define TOKEN_DUE_OVERDUE 3   /* at least one token is overdue for return */

/* argv[0] is "due"; default_log is the audit log used without --log. */
int token_due_cmd(int argc, char **argv, const char *default_log);

/* For kyso token status: days left, renewal and return of the
 * certificate der of the token token_serial, each line after prefix. */
void token_due_print_cert(const char *prefix, const char *token_serial, const uint8_t *der, size_t len);

/* The registry to read: records_dir(), or NULL when it does not exist
 * yet (nothing registered). */
const char *token_due_registry(void);

#endif
