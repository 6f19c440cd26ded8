/* kyso policy show | check (policy_cmds.c). argv[0] is "policy". Returns
 * the exit status: 0, 1 (a problem was found) or 2 (bad arguments). */
#ifndef KYSO_TOOLS_CLI_POLICY_CMDS_H
#define KYSO_TOOLS_CLI_POLICY_CMDS_H

int policy_cmd(int argc, char **argv);

#endif
