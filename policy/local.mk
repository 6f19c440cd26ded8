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
# kyso.conf(5), and the annotated kyso.conf: installed as an example, and
# as /etc/kyso/kyso.conf when there is none yet (never over root's own).
dist_man5_MANS = policy/kyso.conf.5
kysoexampledir = $(docdir)/examples
dist_kysoexample_DATA = policy/kyso.conf
install-data-hook: install-kyso-conf
install-kyso-conf:
	$(MKDIR_P) '$(DESTDIR)$(sysconfdir)/kyso/conf.d'
	test -e '$(DESTDIR)$(sysconfdir)/kyso/kyso.conf' || \
		$(INSTALL_DATA) '$(srcdir)/policy/kyso.conf' '$(DESTDIR)$(sysconfdir)/kyso/kyso.conf'
.PHONY: install-kyso-conf
uninstall-hook: uninstall-kyso-conf
uninstall-kyso-conf:
	-cmp -s '$(srcdir)/policy/kyso.conf' '$(DESTDIR)$(sysconfdir)/kyso/kyso.conf' && \
		rm -f '$(DESTDIR)$(sysconfdir)/kyso/kyso.conf'
	-rmdir '$(DESTDIR)$(sysconfdir)/kyso/conf.d' '$(DESTDIR)$(sysconfdir)/kyso' 2>/dev/null
.PHONY: uninstall-kyso-conf
