/* What the commands that make records share: the header from root's
 * configuration (profile, agency), the token's facts, and the end of
 * every record's making: sealed, checked, written once, printed. */
#ifndef KYSO_TOOLS_CLI_RECORD_MAKE_H
#define KYSO_TOOLS_CLI_RECORD_MAKE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/profile.h"
#include "tools/cli/token_facts.h"

struct cli_record_ctx {
    const struct policy_profile *profile;
    char agency_name[256], agency_parent[256], province[128];
};

/* Root's configuration as records need it. 0, or -1 with one line in why
 * (a broken configuration, no agency named). */
int cli_record_context(struct cli_record_ctx *c, char *why, size_t whylen);

/* A new record of kind with its header; place NULL means the agency's
 * province. NULL with one line in why. */
json_object *cli_record_start(const struct cli_record_ctx *c, const char *kind, const char *form_cited,
                              const char *title, const char *place, int64_t when, char *why, size_t whylen);

/* Adds "token" and "certificates", read from ct. 0 or -1 (why). */
int cli_record_add_token(json_object *rec, const struct cli_token *ct, char *why, size_t whylen);

/* Adds "parties" from a parties file (the roles kind needs checked);
 * the problems on stderr. 0 or -1. */
int cli_record_add_parties(json_object *rec, const char *path, const char *kind);

/* Seals rec, checks it (every problem on stderr), writes it to out_json
 * (canonical form and a newline; the file must not exist) and, when
 * out_pdf is not NULL, prints it there. 0, or -1 with nothing left
 * behind. */
int cli_record_finish(json_object *rec, const char *out_json, const char *out_pdf);

/* The working-day calendar: the holidays kyso ships
 * ($(pkgdatadir)/holidays-vn.txt) and root's additions
 * ($(sysconfdir)/kyso/holidays.txt, when it exists). NULL after one
 * line on stderr. */
struct records_calendar *cli_calendar(void);

/* The audit trail the module writes to, chosen by the same rules: root's,
 * or the one KYSO_AUDIT names where root's configuration allows it.
 * 0, or -1 (why) when the configuration refuses it. */
int cli_audit_configure(char *why, size_t whylen);

/* Options that take a value ("--parties FILE"), each given at most once:
 * value points at the caller's variable. */
struct cli_option {
    const char *name;
    const char **value;
};
/* Fills the options from argv[start..argc). 0, or -1 for anything else
 * (an unknown option, one without its value, one given twice). */
int cli_parse_options(int argc, char **argv, int start, const struct cli_option *opts, size_t n);

/* The text of option value v as a member: NUL-free, one line (or free
 * text when multiline); checked again by the schema. */
void cli_set_text(json_object *o, const char *key, const char *v);

#endif
