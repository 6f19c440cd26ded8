/* kyso audit tail | export | report: the admin tools over the audit trail
 * (the engine is audit/report.h). argv[0] is "audit", argv[1] the
 * subcommand; default_log is the log used without --log. They return the
 * exit status: 0, 1 (an unreadable log, a write error) or 2 (bad
 * arguments), after one line on stderr. */
#ifndef KYSO_TOOLS_CLI_AUDIT_CMDS_H
#define KYSO_TOOLS_CLI_AUDIT_CMDS_H

int audit_cmd_tail(int argc, char **argv, const char *default_log);
int audit_cmd_export(int argc, char **argv, const char *default_log);
int audit_cmd_report(int argc, char **argv, const char *default_log);

#endif
