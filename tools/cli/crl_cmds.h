/* kyso crl update | status: fills and shows the local CRL cache
 * (policy/crl.h). argv[0] is "crl", argv[1] the subcommand. They return
 * the exit status: 0, 1 (a CRL not fetched or refused, a stale or
 * unreadable cache file) or 2 (bad arguments), with one line on stderr per
 * problem. */
#ifndef KYSO_TOOLS_CLI_CRL_CMDS_H
#define KYSO_TOOLS_CLI_CRL_CMDS_H

int crl_cmd_update(int argc, char **argv);
int crl_cmd_status(int argc, char **argv);

#endif
