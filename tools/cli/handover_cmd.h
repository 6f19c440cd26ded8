/* kyso handover (tools/cli/handover_cmd.c). */
#ifndef KYSO_TOOLS_CLI_HANDOVER_CMD_H
#define KYSO_TOOLS_CLI_HANDOVER_CMD_H

int handover_cmd(int argc, char **argv);

#endif
