# records/: the legal records (records/README.md): canonical JSON, the
# schema check, the registry, the working-day calendar. For the tools and
# the module's custodian check; never talks to a token.
noinst_LTLIBRARIES += records/libkysorecords.la
records_libkysorecords_la_SOURCES = \
	records/canon.c records/canon.h \
	records/record.c records/record.h records/validate.c \
	records/registry.c records/registry.h \
	records/calendar.c records/calendar.h \
	records/facts.c records/facts.h \
	records/sign.c records/sign.h \
	records/deadlines.c records/deadlines.h records/deadlines_int.h
records_libkysorecords_la_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
# (policy/libkysopolicy.la is linked by whoever links this: the module does both)
records_libkysorecords_la_LIBADD = $(JSONC_LIBS) $(OPENSSL_LIBS)
# What is due (rules M10, M11) for every certificate the registry and the
# audit trail know: reads audit logs, so apart from the module's library
# (link audit/libkysoreport.la with it).
noinst_LTLIBRARIES += records/libkysodue.la
records_libkysodue_la_SOURCES = records/deadlines_collect.c
records_libkysodue_la_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
# The public holidays the working days are counted with, shipped in
# $(pkgdatadir); root's $(sysconfdir)/kyso/holidays.txt adds to them.
dist_pkgdata_DATA = records/holidays-vn.txt
EXTRA_DIST += records/README.md
