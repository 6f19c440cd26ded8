/* kyso renewal-request (tools/cli/renewal_request_cmd.c). */
#ifndef KYSO_TOOLS_CLI_RENEWAL_REQUEST_CMD_H
#define KYSO_TOOLS_CLI_RENEWAL_REQUEST_CMD_H

int renewal_request_cmd(int argc, char **argv); /* argv[0] is "renewal-request" */

#endif
