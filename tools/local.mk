# tools/: kyso-vtoken, the tokens emulated in software for tests and demos.
noinst_LTLIBRARIES += tools/vtoken/libvtoken.la
tools_vtoken_libvtoken_la_SOURCES = \
	tools/vtoken/personality.c \
	tools/vtoken/card.c tools/vtoken/card.h \
	tools/vtoken/state_file.c tools/vtoken/state_file.h \
	tools/vtoken/piv.c tools/vtoken/piv.h \
	tools/vtoken/piv_state.c tools/vtoken/piv_crypto.c \
	tools/vtoken/vgca.h tools/vtoken/vgca_card.c tools/vtoken/vgca_pkcs15.c tools/vtoken/vgca_state.c \
	tools/vtoken/vgca_chipdoc.c tools/vtoken/vgca_jcop.c
tools_vtoken_libvtoken_la_LIBADD = pcsc/libkysopcsc.la $(OPENSSL_LIBS)

bin_PROGRAMS += tools/kyso-vtoken
tools_kyso_vtoken_SOURCES = \
	tools/vtoken/main.c \
	tools/vtoken/server.c tools/vtoken/server.h
tools_kyso_vtoken_LDADD = tools/vtoken/libvtoken.la

# kyso: the command-line tool (calls the layers, duplicates none of them).
bin_PROGRAMS += tools/kyso
tools_kyso_SOURCES = tools/cli/kyso.c tools/cli/audit_cmds.c tools/cli/audit_cmds.h \
	tools/cli/audit_report_pdf.c tools/cli/audit_report_pdf.h tools/cli/audit_report_due.c \
	tools/cli/policy_cmds.c tools/cli/policy_cmds.h
tools_kyso_SOURCES += tools/cli/crl_cmds.c tools/cli/crl_cmds.h
tools_kyso_SOURCES += tools/cli/record_cmds.c tools/cli/record_cmds.h tools/cli/record_register_cmd.c
tools_kyso_SOURCES += tools/cli/record_sign_cmd.c tools/cli/record_verify_cmd.c \
	tools/cli/secret_input.c tools/cli/secret_input.h
tools_kyso_SOURCES += tools/cli/token_facts.c tools/cli/token_facts.h \
	tools/cli/record_make.c tools/cli/record_make.h \
	tools/cli/handover_cmd.c tools/cli/handover_cmd.h \
	tools/cli/pin_reset.h tools/cli/pin_reset_request_cmd.c tools/cli/pin_reset_perform_cmd.c \
	tools/cli/pin_reset_status_cmd.c
tools_kyso_SOURCES += tools/cli/m7_cmds.h tools/cli/record_refs.c tools/cli/record_refs.h \
	tools/cli/revoke_request_cmd.c tools/cli/loss_cmd.c tools/cli/off_premises_cmd.c
tools_kyso_SOURCES += tools/cli/token_due_cmd.c tools/cli/token_due_cmd.h \
	tools/cli/renewal_request_cmd.c tools/cli/renewal_request_cmd.h
tools_kyso_SOURCES += tools/cli/setup_cmd.c tools/cli/setup_cmd.h
# kyso record sign loads the installed module (--module overrides).
tools_kyso_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) $(P11KIT_CFLAGS) $(LIBUSB_CFLAGS) \
	-DKYSO_PKCS11_MODULE='"$(pkcs11libdir)/kyso-pkcs11.so"' \
	-DKYSO_P11KIT_MODULE_FILE='"$(p11kitmoduledir)/kyso.module"' \
	-DKYSO_JAVA_CONFIG='"$(pkgdatadir)/java/kyso-pkcs11.cfg"'
tools_kyso_LDADD = records/libkysorender.la records/libkysodue.la records/libkysorecords.la pcsc/libkysopcsc.la policy/libkysopolicy.la audit/libkysoreport.la audit/libkysoaudit.la $(OPENSSL_LIBS) $(PCSC_LIBS) $(LIBUSB_LIBS) -ldl

EXTRA_DIST += tools/demo.sh
# The demo: the virtual token used by unmodified clients (see README.md).
# DEMO_TOKEN: vgca-chipdoc (the government token, default), vgca-jcop or piv.
DEMO_TOKEN = vgca-chipdoc
demo: all
	KYSO_BUILDDIR='$(abs_top_builddir)' KYSO_SRCDIR='$(abs_top_srcdir)' \
		KYSO_MODULE='$(abs_top_builddir)/pkcs11/.libs/kyso-pkcs11.so' \
		$(BASH) $(srcdir)/tests/with-token $(DEMO_TOKEN) -- $(BASH) $(srcdir)/tools/demo.sh
.PHONY: demo

# kyso-auditd: the host's audit daemon (writes the log for every local
# process's module; identity from SO_PEERCRED), and its systemd units.
sbin_PROGRAMS = tools/kyso-auditd
tools_kyso_auditd_SOURCES = tools/auditd/main.c tools/auditd/auditd.h \
	tools/auditd/server.c tools/auditd/server.h \
	tools/auditd/batch.c \
	tools/auditd/ledger.c tools/auditd/ledger.h
tools_kyso_auditd_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
tools_kyso_auditd_LDADD = audit/libkysoaudit.la $(JSONC_LIBS) $(OPENSSL_LIBS)
EXTRA_DIST += tools/auditd/kyso-auditd.service tools/auditd/kyso-auditd.socket
# kyso crl update every 6 hours: the CRL cache's systemd units.
EXTRA_DIST += tools/systemd/kyso-crl-update.service tools/systemd/kyso-crl-update.timer
# kyso token due every day: the renewal and return deadlines in the journal.
EXTRA_DIST += tools/systemd/kyso-token-due.service tools/systemd/kyso-token-due.timer

# The units as installed: the programs where this build puts them.
systemdsystemunit_DATA = tools/systemd/out/kyso-auditd.service tools/systemd/out/kyso-auditd.socket \
	tools/systemd/out/kyso-crl-update.service tools/systemd/out/kyso-crl-update.timer \
	tools/systemd/out/kyso-token-due.service tools/systemd/out/kyso-token-due.timer
tools/systemd/out/kyso-auditd.service: $(srcdir)/tools/auditd/kyso-auditd.service
tools/systemd/out/kyso-auditd.socket: $(srcdir)/tools/auditd/kyso-auditd.socket
tools/systemd/out/kyso-crl-update.service: $(srcdir)/tools/systemd/kyso-crl-update.service
tools/systemd/out/kyso-crl-update.timer: $(srcdir)/tools/systemd/kyso-crl-update.timer
tools/systemd/out/kyso-token-due.service: $(srcdir)/tools/systemd/kyso-token-due.service
tools/systemd/out/kyso-token-due.timer: $(srcdir)/tools/systemd/kyso-token-due.timer
$(systemdsystemunit_DATA) tools/systemd/out/kyso.tmpfiles: Makefile
	$(AM_V_GEN)$(MKDIR_P) tools/systemd/out && \
	sed -e 's|/usr/sbin/|$(sbindir)/|g' -e 's|/usr/bin/|$(bindir)/|g' -e 's|@localstatedir[@]|$(localstatedir)|g' \
		$(filter-out Makefile,$^) >$@
tools/systemd/out/kyso.tmpfiles: $(srcdir)/tools/systemd/kyso.tmpfiles.in
CLEANFILES += $(systemdsystemunit_DATA) tools/systemd/out/kyso.tmpfiles
EXTRA_DIST += tools/systemd/kyso.tmpfiles.in tools/systemd/kyso.sysusers tools/cli/kyso.bash-completion

# tmpfiles.d and sysusers.d (the directories and the kyso group), and the
# bash completion: each installed under the name its directory expects.
noinst_DATA = tools/systemd/out/kyso.tmpfiles
install-data-local: install-kyso-system-files
install-kyso-system-files:
	$(MKDIR_P) '$(DESTDIR)$(tmpfilesdir)' '$(DESTDIR)$(sysusersdir)' '$(DESTDIR)$(bashcompletiondir)'
	$(INSTALL_DATA) tools/systemd/out/kyso.tmpfiles '$(DESTDIR)$(tmpfilesdir)/kyso.conf'
	$(INSTALL_DATA) '$(srcdir)/tools/systemd/kyso.sysusers' '$(DESTDIR)$(sysusersdir)/kyso.conf'
	$(INSTALL_DATA) '$(srcdir)/tools/cli/kyso.bash-completion' '$(DESTDIR)$(bashcompletiondir)/kyso'
uninstall-local: uninstall-kyso-system-files
uninstall-kyso-system-files:
	rm -f '$(DESTDIR)$(tmpfilesdir)/kyso.conf' '$(DESTDIR)$(sysusersdir)/kyso.conf' \
		'$(DESTDIR)$(bashcompletiondir)/kyso'
.PHONY: install-kyso-system-files uninstall-kyso-system-files

# The manual pages (roff, like policy/kyso.conf.5); tests/unit/man-pages.sh
# renders each with warnings on.
dist_man1_MANS = tools/cli/kyso.1 tools/vtoken/kyso-vtoken.1
dist_man8_MANS = tools/auditd/kyso-auditd.8 pkcs11/kyso-pkcs11.8

# Java's SunPKCS11 configuration of the module (kyso setup check names it).
kysojavadir = $(pkgdatadir)/java
kysojava_DATA = tools/java/kyso-pkcs11.cfg
tools/java/kyso-pkcs11.cfg: $(srcdir)/tools/java/kyso-pkcs11.cfg.in Makefile
	$(AM_V_GEN)$(MKDIR_P) tools/java && sed -e 's|@pkcs11libdir[@]|$(pkcs11libdir)|g' $(srcdir)/tools/java/kyso-pkcs11.cfg.in >$@
CLEANFILES += tools/java/kyso-pkcs11.cfg
EXTRA_DIST += tools/java/kyso-pkcs11.cfg.in
