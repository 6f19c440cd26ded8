# tests/integration/: third-party clients against kyso-vtoken through a
# private pcscd (tests/with-token). They need root or user namespaces.
INTEGRATION_TESTS = \
	tests/integration/pcsc-layer.sh \
	tests/integration/module-valgrind.sh \
	tests/integration/module-pkcs11-tool.sh \
	tests/integration/module-pkcs11-tool-rsa.sh \
	tests/integration/module-vgca.sh \
	tests/integration/module-vgca-jcop.sh \
	tests/integration/vtoken-opensc.sh \
	tests/integration/vtoken-pin.sh \
	tests/integration/vtoken-yubico-piv-tool.sh \
	tests/integration/vtoken-ykcs11.sh \
	tests/integration/vtoken-hotplug.sh \
	tests/integration/vtoken-state.sh \
	tests/integration/module-nss.sh \
	tests/integration/module-openssl.sh \
	tests/integration/module-gnutls.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/with-token

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
