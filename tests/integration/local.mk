# tests/integration/: third-party clients against kyso-vtoken through a
# private pcscd (tests/with-token). They need root or user namespaces.
INTEGRATION_TESTS = \
	tests/integration/pcsc-layer.sh \
	tests/integration/module-valgrind.sh \
	tests/integration/module-pkcs11-tool.sh \
	tests/integration/module-pkcs11-tool-rsa.sh \
	tests/integration/module-pin-policy.sh \
	tests/integration/module-install.sh \
	tests/integration/module-bounds.sh \
	tests/integration/module-vgca.sh \
	tests/integration/module-vgca-jcop.sh \
	tests/integration/vtoken-opensc.sh \
	tests/integration/vtoken-pin.sh \
	tests/integration/vtoken-yubico-piv-tool.sh \
	tests/integration/vtoken-ykcs11.sh \
	tests/integration/vtoken-hotplug.sh \
	tests/integration/vtoken-state.sh \
	tests/integration/vtoken-policy-certs.sh \
	tests/integration/module-nss.sh \
	tests/integration/module-openssl.sh \
	tests/integration/module-gnutls.sh \
	tests/integration/policy-rules.sh \
	tests/integration/policy-m1.sh \
	tests/integration/policy-m1-crl.sh \
	tests/integration/policy-m4.sh \
	tests/integration/record-handover.sh \
	tests/integration/record-loss.sh \
	tests/integration/record-off-premises.sh \
	tests/integration/record-pin-reset.sh \
	tests/integration/record-sign.sh \
	tests/integration/record-due.sh \
	tests/integration/record-two-tokens.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/with-token tests/valgrind.supp tests/tsan.supp

# The pcsc/ layer driven by a C program against the real pcscd.
check_PROGRAMS += tests/integration/pcsc_layer
tests_integration_pcsc_layer_SOURCES = tests/integration/pcsc_layer.c
tests_integration_pcsc_layer_LDADD = pcsc/libkysopcsc.la -lpthread
tests/integration/pcsc-layer.log: tests/integration/pcsc_layer

# kyso-pkcs11.so through its API: loaded with dlopen (never linked), so the
# programs drive the module as built; module_stress adds threads, a second
# process and hot-plug.
INTEGRATION_TESTS += \
	tests/integration/module-api.sh \
	tests/integration/module-stress.sh
check_PROGRAMS += tests/integration/module_api tests/integration/module_stress
MODULE_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS)
MODULE_TEST_CLIENT = tests/integration/p11_client.c tests/integration/p11_client.h
tests_integration_module_api_SOURCES = tests/integration/module_api.c $(MODULE_TEST_CLIENT)
tests_integration_module_api_CPPFLAGS = $(MODULE_TEST_CPPFLAGS)
tests_integration_module_api_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_integration_module_api_LDADD = $(CMOCKA_LIBS) $(OPENSSL_LIBS) -ldl -lpthread
tests_integration_module_stress_SOURCES = tests/integration/module_stress.c $(MODULE_TEST_CLIENT)
tests_integration_module_stress_CPPFLAGS = $(MODULE_TEST_CPPFLAGS)
tests_integration_module_stress_LDADD = $(OPENSSL_LIBS) -ldl -lpthread
tests/integration/module-api.log: tests/integration/module_api pkcs11/kyso-pkcs11.la
tests/integration/module-stress.log: tests/integration/module_stress pkcs11/kyso-pkcs11.la
INTEGRATION_TESTS += tests/integration/vtoken-vgca.sh
# kyso-auditd with real signatures through the module; audit_client speaks
# (and breaks) the daemon's wire format.
INTEGRATION_TESTS += tests/integration/audit-daemon.sh tests/integration/audit-daemon-claims.sh
EXTRA_DIST += tests/integration/auditd_lib.sh
check_PROGRAMS += tests/integration/audit_client
tests_integration_audit_client_SOURCES = tests/integration/audit_client.c
tests/integration/audit-daemon.log tests/integration/audit-daemon-claims.log: tests/integration/audit_client \
	tools/kyso-auditd tools/kyso pkcs11/kyso-pkcs11.la

# The audit trail (audit/, kyso-pkcs11.so's records): acceptance tests.
# audit-mutation: random damage to a log is always found (no token);
# audit-concurrency, audit-crash, audit-fail-closed: kyso-pkcs11.so's
# records on kyso-vtoken (processes x threads, one record per signature;
# SIGKILL while signing; no signature without a durable record).
INTEGRATION_TESTS += \
	tests/integration/audit-mutation.sh
check_PROGRAMS += tests/integration/audit_mutation
tests_integration_audit_mutation_SOURCES = tests/integration/audit_mutation.c
tests_integration_audit_mutation_LDADD = audit/libkysoaudit.la $(OPENSSL_LIBS)
tests/integration/audit-mutation.log: tests/integration/audit_mutation tools/kyso
INTEGRATION_TESTS += \
	tests/integration/audit-concurrency.sh \
	tests/integration/audit-crash.sh \
	tests/integration/audit-fail-closed.sh \
	tests/integration/audit-rotate.sh \
	tests/integration/audit-fork.sh
check_PROGRAMS += tests/integration/audit_signer tests/integration/audit_logcheck tests/integration/audit_fork
tests_integration_audit_signer_SOURCES = tests/integration/audit_signer.c $(MODULE_TEST_CLIENT)
tests_integration_audit_signer_CPPFLAGS = $(MODULE_TEST_CPPFLAGS)
tests_integration_audit_signer_LDADD = $(OPENSSL_LIBS) -ldl -lpthread
tests_integration_audit_fork_SOURCES = tests/integration/audit_fork.c $(MODULE_TEST_CLIENT)
tests_integration_audit_fork_CPPFLAGS = $(MODULE_TEST_CPPFLAGS)
tests_integration_audit_fork_LDADD = $(OPENSSL_LIBS) -ldl -lpthread
tests_integration_audit_logcheck_SOURCES = tests/integration/audit_logcheck.c
tests_integration_audit_logcheck_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
tests_integration_audit_logcheck_LDADD = audit/libkysoaudit.la $(JSONC_LIBS) $(OPENSSL_LIBS)
AUDIT_MODULE_TEST_DEPS = tests/integration/audit_signer tests/integration/audit_logcheck tools/kyso pkcs11/kyso-pkcs11.la
tests/integration/audit-concurrency.log: $(AUDIT_MODULE_TEST_DEPS)
tests/integration/audit-crash.log: $(AUDIT_MODULE_TEST_DEPS)
tests/integration/audit-fail-closed.log: $(AUDIT_MODULE_TEST_DEPS)
tests/integration/audit-rotate.log: $(AUDIT_MODULE_TEST_DEPS)
tests/integration/audit-fork.log: $(AUDIT_MODULE_TEST_DEPS) tests/integration/audit_fork
# Faults under 16 signing threads through kyso-auditd: the daemon paused
# and killed, pcscd killed, the card pulled; signatures received = records.
INTEGRATION_TESTS += tests/integration/audit-faults.sh
tests/integration/audit-faults.log: $(AUDIT_MODULE_TEST_DEPS) tools/kyso-auditd tests/integration/audit_client
INTEGRATION_TESTS += tests/integration/audit-report.sh
# Signing as Firefox does over TLS 1.3: never a context login.
INTEGRATION_TESTS += tests/integration/module-context-free.sh tests/integration/module-pinentry.sh \
	tests/integration/module-java.sh
check_PROGRAMS += tests/integration/p11_context_free
tests_integration_p11_context_free_SOURCES = tests/integration/p11_context_free.c $(MODULE_TEST_CLIENT)
tests_integration_p11_context_free_CPPFLAGS = $(MODULE_TEST_CPPFLAGS)
tests_integration_p11_context_free_LDADD = $(OPENSSL_LIBS) -ldl -lpthread
tests/integration/module-context-free.log: tests/integration/p11_context_free pkcs11/kyso-pkcs11.la
# The CRL cache (rule M1): kyso crl update over HTTP (python3's http.server on
# the namespace's loopback) and kyso crl status.
INTEGRATION_TESTS += tests/integration/policy-crl.sh
tests/integration/policy-crl.log: tools/kyso
tests/integration/module-pinentry.log: tests/integration/p11_context_free tests/pinentry-script pkcs11/kyso-pkcs11.la tools/kyso
tests/integration/module-java.log: tests/pinentry-script pkcs11/kyso-pkcs11.la
tests/integration/record-sign.log: tools/kyso pkcs11/kyso-pkcs11.la
tests/integration/record-handover.log tests/integration/record-pin-reset.log tests/integration/policy-m4.log \
	tests/integration/record-due.log \
	tests/integration/record-two-tokens.log: tools/kyso pkcs11/kyso-pkcs11.la
# The printed periodic report (kyso audit report --format pdf): a synthetic
# half-year log sealed as a real chain (audit_reseal), verified and damaged;
# the default period of every profile; the registry's records of a period.
INTEGRATION_TESTS += tests/integration/audit-report-pdf.sh
check_PROGRAMS += tests/integration/audit_reseal
tests_integration_audit_reseal_SOURCES = tests/integration/audit_reseal.c
tests_integration_audit_reseal_LDADD = audit/libkysoaudit.la $(OPENSSL_LIBS)
tests/integration/audit-report-pdf.log: tools/kyso tests/integration/audit_reseal pkcs11/kyso-pkcs11.la
EXTRA_DIST += tests/bench/audit-log-gen.sh test-vectors/records/sample-report.png
