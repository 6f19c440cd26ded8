# pkcs11/: kyso-pkcs11.so, the PKCS#11 module. Sends no APDU itself (the
# token edges in pcsc/ do) and prints nothing.
pkcs11libdir = $(libdir)/pkcs11
pkcs11lib_LTLIBRARIES = pkcs11/kyso-pkcs11.la
pkcs11_kyso_pkcs11_la_SOURCES = \
	pkcs11/pkcs11.h pkcs11/internal.h \
	pkcs11/module.c \
	pkcs11/slot.c \
	pkcs11/session.c \
	pkcs11/object.c \
	pkcs11/mechanism.c \
	pkcs11/sign.c \
	pkcs11/prompt.c \
	pkcs11/decrypt.c \
	pkcs11/keys.c \
	pkcs11/pipeline.c \
	pkcs11/rules.c \
	pkcs11/registry_view.c \
	pkcs11/names.c \
	pkcs11/unsupported.c
pkcs11_kyso_pkcs11_la_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS) $(JSONC_CFLAGS)
pkcs11_kyso_pkcs11_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -no-undefined \
	-Wl,--version-script=$(srcdir)/pkcs11/exports.map -Wl,-z,defs
pkcs11_kyso_pkcs11_la_LIBADD = pcsc/libkysopcsc.la records/libkysorecords.la policy/libkysopolicy.la audit/libkysoaudit.la $(OPENSSL_LIBS) $(PCSC_LIBS) -lpthread
EXTRA_DIST += pkcs11/exports.map
EXTRA_pkcs11_kyso_pkcs11_la_DEPENDENCIES = pkcs11/exports.map
pkcs11_kyso_pkcs11_la_SOURCES += pkcs11/pinentry.c pkcs11/pinentry.h

# The p11-kit module file (p11kitmoduledir: configure --with-p11-kit-module-dir):
# p11-kit list-modules, GnuTLS and p11-kit-proxy.so find the module by it.
p11kitmodule_DATA = pkcs11/kyso.module
pkcs11/kyso.module: $(srcdir)/pkcs11/kyso.module.in Makefile
	$(AM_V_GEN)$(MKDIR_P) pkcs11 && sed -e 's|@pkcs11libdir[@]|$(pkcs11libdir)|g' $(srcdir)/pkcs11/kyso.module.in >$@
CLEANFILES += pkcs11/kyso.module
EXTRA_DIST += pkcs11/kyso.module.in
# A module has no use for its libtool archive (Debian policy: not shipped).
install-data-hook: remove-module-la
remove-module-la:
	rm -f '$(DESTDIR)$(pkcs11libdir)/kyso-pkcs11.la'
uninstall-hook: uninstall-module-so
uninstall-module-so:
	rm -f '$(DESTDIR)$(pkcs11libdir)/kyso-pkcs11.so'
.PHONY: remove-module-la uninstall-module-so
