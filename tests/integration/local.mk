# tests/integration/: third-party clients against kyso-vtoken through a
# private pcscd (tests/with-token). They need root or user namespaces.
INTEGRATION_TESTS = \
	tests/integration/pcsc-layer.sh \
	tests/integration/module-valgrind.sh \
	tests/integration/module-pkcs11-tool.sh \
	tests/integration/module-pkcs11-tool-rsa.sh \
	tests/integration/vtoken-opensc.sh \
	tests/integration/vtoken-pin.sh \
	tests/integration/vtoken-yubico-piv-tool.sh \
	tests/integration/vtoken-ykcs11.sh \
	tests/integration/vtoken-hotplug.sh \
	tests/integration/vtoken-state.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/with-token

# The pcsc/ layer driven by a C program against the real pcscd.
check_PROGRAMS += tests/integration/pcsc_layer
tests_integration_pcsc_layer_SOURCES = tests/integration/pcsc_layer.c
tests_integration_pcsc_layer_LDADD = pcsc/libkysopcsc.la -lpthread
tests/integration/pcsc-layer.log: tests/integration/pcsc_layer
