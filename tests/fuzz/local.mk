# Fuzz targets (libFuzzer), built with clang only. Automake compiles with
# $(CC), so each target has its own rule; make check builds them first and
# runs each briefly over its seed corpus (tests/fuzz/run-fuzz.sh).
FUZZ_SEEDS_TLV = \
	tests/fuzz/corpus/tlv/bad-indefinite \
	tests/fuzz/corpus/tlv/bad-tag5 \
	tests/fuzz/corpus/tlv/bad-truncated \
	tests/fuzz/corpus/tlv/fci \
	tests/fuzz/corpus/tlv/len-83 \
	tests/fuzz/corpus/tlv/long-forms \
	tests/fuzz/corpus/tlv/piv-apt \
	tests/fuzz/corpus/tlv/piv-cert-object \
	tests/fuzz/corpus/tlv/piv-discovery \
	tests/fuzz/corpus/tlv/piv-dyn-auth \
	tests/fuzz/corpus/tlv/tags-3-4-bytes
FUZZ_SEEDS_APDU = \
	tests/fuzz/corpus/apdu/6c-retry \
	tests/fuzz/corpus/apdu/alloc \
	tests/fuzz/corpus/apdu/chain-refused \
	tests/fuzz/corpus/apdu/chaining \
	tests/fuzz/corpus/apdu/extended \
	tests/fuzz/corpus/apdu/get-response \
	tests/fuzz/corpus/apdu/short-answer \
	tests/fuzz/corpus/apdu/simple \
	tests/fuzz/corpus/apdu/t0-case4 \
	tests/fuzz/corpus/apdu/transport-error
EXTRA_DIST += \
	tests/fuzz/fuzz_tlv.c tests/fuzz/fuzz_apdu.c tests/fuzz/run-fuzz.sh \
	$(FUZZ_SEEDS_TLV) $(FUZZ_SEEDS_APDU)

# Skipped (exit 77) when the targets are not built.
FUZZ_TESTS = tests/fuzz/run-fuzz-tlv.sh tests/fuzz/run-fuzz-apdu.sh
dist_check_SCRIPTS += $(FUZZ_TESTS)
TESTS += $(FUZZ_TESTS)

if HAVE_CLANG
FUZZ_TARGETS = tests/fuzz/fuzz_tlv tests/fuzz/fuzz_apdu
nodist_check_SCRIPTS = $(FUZZ_TARGETS)
CLEANFILES += $(FUZZ_TARGETS) tests/fuzz/crash-*
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I$(top_srcdir) -I$(top_builddir) $(OPENSSL_CFLAGS)

tests/fuzz/fuzz_tlv: $(srcdir)/tests/fuzz/fuzz_tlv.c $(srcdir)/pcsc/tlv.c $(srcdir)/pcsc/tlv.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) $(srcdir)/tests/fuzz/fuzz_tlv.c $(srcdir)/pcsc/tlv.c \
		$(OPENSSL_LIBS) -o $@

FUZZ_APDU_SRC = $(srcdir)/tests/fuzz/fuzz_apdu.c $(srcdir)/pcsc/apdu.c $(srcdir)/pcsc/status.c
tests/fuzz/fuzz_apdu: $(FUZZ_APDU_SRC) $(srcdir)/pcsc/apdu.h $(srcdir)/pcsc/status.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_APDU_SRC) $(OPENSSL_LIBS) -o $@

# A short run needs its target (also when make check runs only TESTS=...).
tests/fuzz/run-fuzz-tlv.log: tests/fuzz/fuzz_tlv
tests/fuzz/run-fuzz-apdu.log: tests/fuzz/fuzz_apdu
endif
