/* kyso record check | seal | render | sign | verify | register | list |
 * show (record_cmds.c, record_sign_cmd.c, record_verify_cmd.c). argv[0]
 * is "record" (for record_cmd) or the subcommand. Returns the exit status. */
#ifndef KYSO_TOOLS_CLI_RECORD_CMDS_H
#define KYSO_TOOLS_CLI_RECORD_CMDS_H

#include <stddef.h>

#include <json-c/json.h>

#include "records/registry.h"

int record_cmd(int argc, char **argv);
int record_sign_cmd(int argc, char **argv);
int record_verify_cmd(int argc, char **argv, const char *dir);

/* The record in path, read and checked as `kyso record check` does (the
 * problems on stdout): its canonical bytes in *canon (free) and *len, the
 * object in *obj when obj is not NULL (the caller puts it). 0, or -1 after
 * saying what is wrong. */
int record_read_sealed(const char *path, char **canon, size_t *len, json_object **obj);

/* The signatures beside path (path.1.p7s .. path.n.p7s, no gap), each
 * verified over obj's canonical form against the trust anchors and
 * reported on stdout: for `kyso record register`. *n = 0 when there are
 * none. 0, or -1 (nothing kept) when one is missing or fails. Free with
 * free_signatures. */
int collect_verified_signatures(const char *path, const json_object *obj, struct records_blob sigs[RECORDS_MAX_SIGNATURES],
                                size_t *n);
void free_signatures(struct records_blob *sigs, size_t n);

/* Registers o, read from path and found sound, with its signatures
 * (record_register_cmd.c). Returns the exit status. */
int record_cmd_register(const char *path, const char *dir, json_object *o, const struct records_blob *sigs,
                        size_t nsigs);

#endif
