# policy/: configuration, profiles, rule decisions, certificates (the local
# certificate store). Shared by the module and the tools; never talks to a token.
noinst_LTLIBRARIES += policy/libkysopolicy.la
policy_libkysopolicy_la_SOURCES = \
	policy/certstore.c policy/certstore.h \
	policy/trust.c policy/trust.h \
	policy/decide.c policy/decide.h
policy_libkysopolicy_la_LIBADD = $(OPENSSL_LIBS)
# The CRL cache (rule M1: revocation) and its writer for kyso crl update.
policy_libkysopolicy_la_SOURCES += policy/crl.c policy/crl.h policy/crl_store.c
# Root's configuration (kyso.conf, libinih), the five profiles as data,
# the rule parameters, and rules M1/M12 on one certificate.
policy_libkysopolicy_la_SOURCES += policy/config.c policy/config.h policy/profiles.c policy/profile.h \
	policy/rules.c policy/certcheck.c policy/certcheck.h
policy_libkysopolicy_la_CPPFLAGS = $(AM_CPPFLAGS) $(INIH_CFLAGS)
policy_libkysopolicy_la_LIBADD += $(INIH_LIBS)
