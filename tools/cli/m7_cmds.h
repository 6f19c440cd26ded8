/* The commands of rules M7 (loss, revocation) and M8 (taking a token out
 * of the office). */
#ifndef KYSO_TOOLS_CLI_M7_CMDS_H
#define KYSO_TOOLS_CLI_M7_CMDS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "tools/cli/record_make.h"

int revoke_request_cmd(int argc, char **argv);   /* kyso revoke-request … */
int loss_cmd(int argc, char **argv);             /* kyso loss … | kyso loss found … */
int off_premises_cmd(int argc, char **argv);     /* kyso off-premises … | kyso off-premises return … */

/* Whether code is one of the revocation cases of Điều 17. */
bool cli_revocation_reason_known(const char *code);

/* A revocation request with its header, details, token facts and
 * parties (not sealed); NULL after the problems on stderr. */
json_object *cli_revocation_request(const struct cli_record_ctx *rc, const char *code, const char *reason,
                                    const char *loss_id, const char *place, const char *reader, const char *serial,
                                    const char *parties, int64_t when);

#endif
