/* kyso setup (tools/cli/setup_cmd.c): Firefox's enterprise policy for the
 * module, and which clients will see the token. */
#ifndef KYSO_TOOLS_CLI_SETUP_CMD_H
#define KYSO_TOOLS_CLI_SETUP_CMD_H

/* argv[0] is "setup". 0, 1 on an error (one line said), 2 on a usage error. */
int setup_cmd(int argc, char **argv);

#endif
