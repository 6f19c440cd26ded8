/* What the record commands of rules M7 and M8 share: the facts of a token
 * that may be lost (read from it when it is in a reader, else taken from
 * its latest registered record), records named by id (registered, of the
 * right kind and token), and times given on the command line. */
#ifndef KYSO_TOOLS_CLI_RECORD_REFS_H
#define KYSO_TOOLS_CLI_RECORD_REFS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Adds "token" and "certificates" to rec and "facts_source" to details:
 * from the token in reader (or the one present, or the one whose serial
 * is serial) when it can be opened; when serial is given and no such
 * token is present, from the latest registered record of that token.
 * 0, or -1 with one line in why. */
int cli_record_add_facts(json_object *rec, json_object *details, const char *reader, const char *serial, char *why,
                         size_t whylen);

/* Loads registered record id and checks it is of kind (NULL: any) and of
 * the token whose serial is serial (NULL: any). *out (the caller puts
 * it). 0, or -1 with one line in why. */
int cli_registered(const char *id, const char *kind, const char *serial, json_object **out, char *why,
                   size_t whylen);

/* Whether a registered record of kind names id in details.member (a
 * finding of a loss, a return of a permission): 1 (its id in found), 0,
 * or -1 (why) when the registry cannot be read. */
int cli_registered_reference(const char *kind, const char *member, const char *id, char found[24], char *why,
                             size_t whylen);

/* An option's time: RFC 3339 with its offset. 0, or -1 with a line in why
 * naming the option. */
int cli_time_arg(const char *option, const char *value, int64_t *t, char *why, size_t whylen);

/* The string member key of o, or "". */
const char *cli_json_text(const json_object *o, const char *key);

#endif
