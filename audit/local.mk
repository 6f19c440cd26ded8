# audit/: records, the chained forward-secure log, its writer and verifier,
# the sinks (kyso-auditd or the file). Shared by the module and the tools.
noinst_LTLIBRARIES += audit/libkysoaudit.la
audit_libkysoaudit_la_SOURCES = \
	audit/audit.h audit/internal.h \
	audit/record.c \
	audit/chain.c \
	audit/writer.c \
	audit/verify.c \
	audit/protocol.c audit/protocol.h \
	audit/proof.c audit/proof.h \
	audit/sink.c \
	audit/syslog.c
audit_libkysoaudit_la_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
audit_libkysoaudit_la_LIBADD = $(JSONC_LIBS) $(OPENSSL_LIBS) -lpthread
EXTRA_DIST += audit/README.md

# The report and export engine: for the tools only, not in the module.
noinst_LTLIBRARIES += audit/libkysoreport.la
audit_libkysoreport_la_SOURCES = \
	audit/report.h audit/report_int.h \
	audit/report_text.c \
	audit/report_period.c \
	audit/report_scan.c \
	audit/report_filter.c \
	audit/report_aggregate.c \
	audit/report_output.c \
	audit/report_tail.c
audit_libkysoreport_la_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
audit_libkysoreport_la_LIBADD = audit/libkysoaudit.la $(JSONC_LIBS)
