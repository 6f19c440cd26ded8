/* kyso record check | render | register | list | show (record_cmds.c).
 * argv[0] is "record". Returns the exit status. */
#ifndef KYSO_TOOLS_CLI_RECORD_CMDS_H
#define KYSO_TOOLS_CLI_RECORD_CMDS_H

#include <json-c/json.h>
#include <stddef.h>

#include "records/registry.h"

int record_cmd(int argc, char **argv);

/* Registers o, read from path and found sound, with its signatures
 * (record_register_cmd.c). Returns the exit status. */
int record_cmd_register(const char *path, const char *dir, json_object *o, const struct records_blob *sigs,
                        size_t nsigs);

#endif
