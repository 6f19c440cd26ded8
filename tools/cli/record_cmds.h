/* kyso record check | render | register | list | show (record_cmds.c).
 * argv[0] is "record". Returns the exit status. */
#ifndef KYSO_TOOLS_CLI_RECORD_CMDS_H
#define KYSO_TOOLS_CLI_RECORD_CMDS_H

int record_cmd(int argc, char **argv);

#endif
