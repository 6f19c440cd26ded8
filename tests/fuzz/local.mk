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

# PKCS#15 parsers (pcsc/pkcs15.c): every parser on each input. The seeds are
# the vectors of tests/unit/test_pkcs15.c (KYSO_P15_CORPUS=DIR writes them).
FUZZ_SEEDS_PKCS15 = \
	tests/fuzz/corpus/pkcs15/aodf-variant-a \
	tests/fuzz/corpus/pkcs15/aodf-variant-b \
	tests/fuzz/corpus/pkcs15/bad-aodf-after-type-attributes \
	tests/fuzz/corpus/pkcs15/bad-aodf-auth-id-17 \
	tests/fuzz/corpus/pkcs15/bad-aodf-flags-before-label \
	tests/fuzz/corpus/pkcs15/bad-aodf-fourth-integer \
	tests/fuzz/corpus/pkcs15/bad-aodf-label-twice \
	tests/fuzz/corpus/pkcs15/bad-aodf-min-length-negative \
	tests/fuzz/corpus/pkcs15/bad-aodf-no-auth-id \
	tests/fuzz/corpus/pkcs15/bad-aodf-no-pin-attributes \
	tests/fuzz/corpus/pkcs15/bad-aodf-no-stored-length \
	tests/fuzz/corpus/pkcs15/bad-aodf-pad-char-2 \
	tests/fuzz/corpus/pkcs15/bad-aodf-pad-char-empty \
	tests/fuzz/corpus/pkcs15/bad-aodf-path-bad \
	tests/fuzz/corpus/pkcs15/bad-aodf-pin-attributes-implicit \
	tests/fuzz/corpus/pkcs15/bad-aodf-pin-attributes-two \
	tests/fuzz/corpus/pkcs15/bad-aodf-reference-negative \
	tests/fuzz/corpus/pkcs15/bad-aodf-reference-twice \
	tests/fuzz/corpus/pkcs15/bad-aodf-skipped-entry-broken \
	tests/fuzz/corpus/pkcs15/bad-aodf-skipped-entry-long-length \
	tests/fuzz/corpus/pkcs15/bad-aodf-stored-length-huge \
	tests/fuzz/corpus/pkcs15/bad-aodf-type-as-integer \
	tests/fuzz/corpus/pkcs15/bad-aodf-type-before-flags \
	tests/fuzz/corpus/pkcs15/bad-aodf-universal-entry \
	tests/fuzz/corpus/pkcs15/bad-cdf-attrs-not-seq \
	tests/fuzz/corpus/pkcs15/bad-cdf-authority-bad \
	tests/fuzz/corpus/pkcs15/bad-cdf-authority-twice \
	tests/fuzz/corpus/pkcs15/bad-cdf-class-as-set \
	tests/fuzz/corpus/pkcs15/bad-cdf-common-primitive \
	tests/fuzz/corpus/pkcs15/bad-cdf-id-twice \
	tests/fuzz/corpus/pkcs15/bad-cdf-no-id \
	tests/fuzz/corpus/pkcs15/bad-cdf-no-value \
	tests/fuzz/corpus/pkcs15/bad-cdf-path-wrong-tag \
	tests/fuzz/corpus/pkcs15/bad-cdf-protected \
	tests/fuzz/corpus/pkcs15/bad-cdf-value-not-seq \
	tests/fuzz/corpus/pkcs15/bad-dir-4-length-octets \
	tests/fuzz/corpus/pkcs15/bad-dir-aid-17 \
	tests/fuzz/corpus/pkcs15/bad-dir-aid-constructed \
	tests/fuzz/corpus/pkcs15/bad-dir-aid-empty \
	tests/fuzz/corpus/pkcs15/bad-dir-empty-template \
	tests/fuzz/corpus/pkcs15/bad-dir-inner-long-length \
	tests/fuzz/corpus/pkcs15/bad-dir-label-after-path \
	tests/fuzz/corpus/pkcs15/bad-dir-label-bad-utf8 \
	tests/fuzz/corpus/pkcs15/bad-dir-label-overruns \
	tests/fuzz/corpus/pkcs15/bad-dir-long-length \
	tests/fuzz/corpus/pkcs15/bad-dir-no-aid \
	tests/fuzz/corpus/pkcs15/bad-dir-path-17 \
	tests/fuzz/corpus/pkcs15/bad-dir-two-aids \
	tests/fuzz/corpus/pkcs15/bad-dir-wrong-top-tag \
	tests/fuzz/corpus/pkcs15/bad-dodf-app-name-bad \
	tests/fuzz/corpus/pkcs15/bad-dodf-no-class \
	tests/fuzz/corpus/pkcs15/bad-dodf-no-value \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-arc-33-bits \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-arc-huge \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-before-name \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-empty \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-first-arc-33-bits \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-leading-80 \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-too-long \
	tests/fuzz/corpus/pkcs15/bad-dodf-oid-unterminated \
	tests/fuzz/corpus/pkcs15/bad-dodf-two-values \
	tests/fuzz/corpus/pkcs15/bad-dodf-value-wrong-tag \
	tests/fuzz/corpus/pkcs15/bad-odf-bare-path \
	tests/fuzz/corpus/pkcs15/bad-odf-empty-entry \
	tests/fuzz/corpus/pkcs15/bad-odf-entry-overruns \
	tests/fuzz/corpus/pkcs15/bad-odf-index-empty \
	tests/fuzz/corpus/pkcs15/bad-odf-index-negative \
	tests/fuzz/corpus/pkcs15/bad-odf-index-not-minimal \
	tests/fuzz/corpus/pkcs15/bad-odf-index-only \
	tests/fuzz/corpus/pkcs15/bad-odf-length-65536 \
	tests/fuzz/corpus/pkcs15/bad-odf-length-constructed \
	tests/fuzz/corpus/pkcs15/bad-odf-length-only \
	tests/fuzz/corpus/pkcs15/bad-odf-objects \
	tests/fuzz/corpus/pkcs15/bad-odf-path-17 \
	tests/fuzz/corpus/pkcs15/bad-odf-path-constructed \
	tests/fuzz/corpus/pkcs15/bad-odf-path-empty-seq \
	tests/fuzz/corpus/pkcs15/bad-odf-path-missing \
	tests/fuzz/corpus/pkcs15/bad-odf-path-overruns \
	tests/fuzz/corpus/pkcs15/bad-odf-path-twice \
	tests/fuzz/corpus/pkcs15/bad-odf-primitive-entry \
	tests/fuzz/corpus/pkcs15/bad-odf-protected \
	tests/fuzz/corpus/pkcs15/bad-odf-seq-primitive \
	tests/fuzz/corpus/pkcs15/bad-odf-short-inner \
	tests/fuzz/corpus/pkcs15/bad-odf-skipped-constructed-string \
	tests/fuzz/corpus/pkcs15/bad-odf-skipped-primitive-seq \
	tests/fuzz/corpus/pkcs15/bad-odf-skipped-primitive-set \
	tests/fuzz/corpus/pkcs15/bad-odf-tag-high-form \
	tests/fuzz/corpus/pkcs15/bad-odf-tag-leading-80 \
	tests/fuzz/corpus/pkcs15/bad-odf-two-paths \
	tests/fuzz/corpus/pkcs15/bad-odf-universal-entry \
	tests/fuzz/corpus/pkcs15/bad-prkdf-application-entry \
	tests/fuzz/corpus/pkcs15/bad-prkdf-auth-id-17 \
	tests/fuzz/corpus/pkcs15/bad-prkdf-boolean-constructed \
	tests/fuzz/corpus/pkcs15/bad-prkdf-ec-empty \
	tests/fuzz/corpus/pkcs15/bad-prkdf-id-33 \
	tests/fuzz/corpus/pkcs15/bad-prkdf-id-as-utf8 \
	tests/fuzz/corpus/pkcs15/bad-prkdf-label-cut-utf8 \
	tests/fuzz/corpus/pkcs15/bad-prkdf-modulus-ff-not-minimal \
	tests/fuzz/corpus/pkcs15/bad-prkdf-modulus-negative \
	tests/fuzz/corpus/pkcs15/bad-prkdf-modulus-not-minimal \
	tests/fuzz/corpus/pkcs15/bad-prkdf-modulus-zero \
	tests/fuzz/corpus/pkcs15/bad-prkdf-native-01 \
	tests/fuzz/corpus/pkcs15/bad-prkdf-native-2-bytes \
	tests/fuzz/corpus/pkcs15/bad-prkdf-native-empty \
	tests/fuzz/corpus/pkcs15/bad-prkdf-no-class-attributes \
	tests/fuzz/corpus/pkcs15/bad-prkdf-no-id \
	tests/fuzz/corpus/pkcs15/bad-prkdf-no-modulus \
	tests/fuzz/corpus/pkcs15/bad-prkdf-no-usage \
	tests/fuzz/corpus/pkcs15/bad-prkdf-no-value \
	tests/fuzz/corpus/pkcs15/bad-prkdf-reference-5-bytes \
	tests/fuzz/corpus/pkcs15/bad-prkdf-reference-before-access \
	tests/fuzz/corpus/pkcs15/bad-prkdf-subclass-after-type \
	tests/fuzz/corpus/pkcs15/bad-prkdf-third-bit-string \
	tests/fuzz/corpus/pkcs15/bad-prkdf-type-attributes-empty \
	tests/fuzz/corpus/pkcs15/bad-prkdf-universal-entry \
	tests/fuzz/corpus/pkcs15/bad-prkdf-usage-bit-40 \
	tests/fuzz/corpus/pkcs15/bad-prkdf-value-direct \
	tests/fuzz/corpus/pkcs15/bad-prkdf-value-octets \
	tests/fuzz/corpus/pkcs15/bad-prkdf-value-protected \
	tests/fuzz/corpus/pkcs15/bad-prkdf-value-url \
	tests/fuzz/corpus/pkcs15/bad-pukdf-direct-broken \
	tests/fuzz/corpus/pkcs15/bad-pukdf-direct-ec-sequence \
	tests/fuzz/corpus/pkcs15/bad-pukdf-direct-empty \
	tests/fuzz/corpus/pkcs15/bad-pukdf-direct-primitive-tag \
	tests/fuzz/corpus/pkcs15/bad-pukdf-direct-rsa-octets \
	tests/fuzz/corpus/pkcs15/bad-pukdf-direct-two \
	tests/fuzz/corpus/pkcs15/bad-pukdf-no-modulus \
	tests/fuzz/corpus/pkcs15/bad-pukdf-subclass-twice \
	tests/fuzz/corpus/pkcs15/bad-pukdf-url \
	tests/fuzz/corpus/pkcs15/bad-pukdf-url-digest \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-flags-bit-32 \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-flags-empty \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-flags-unused-8 \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-flags-unused-bit-set \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-flags-unused-no-bits \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-above-10ffff \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-bad-continuation \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-cut-sequence \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-explicit \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-latin1 \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-nul-inside \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-overlong \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-surrogate \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-label-utf8-tag \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-manufacturer-after-label \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-no-flags \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-no-version \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-serial-33 \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-serial-twice \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-set \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-two-files \
	tests/fuzz/corpus/pkcs15/bad-tokeninfo-version-9-bytes \
	tests/fuzz/corpus/pkcs15/cdf-variant-a-direct \
	tests/fuzz/corpus/pkcs15/cdf-variant-b \
	tests/fuzz/corpus/pkcs15/dir-pkcs15-app \
	tests/fuzz/corpus/pkcs15/dir-variant-a \
	tests/fuzz/corpus/pkcs15/dodf-variant-a \
	tests/fuzz/corpus/pkcs15/odf-variant-a \
	tests/fuzz/corpus/pkcs15/prkdf-variant-a \
	tests/fuzz/corpus/pkcs15/prkdf-variant-b \
	tests/fuzz/corpus/pkcs15/pukdf-direct \
	tests/fuzz/corpus/pkcs15/pukdf-variant-a \
	tests/fuzz/corpus/pkcs15/tokeninfo-extensions \
	tests/fuzz/corpus/pkcs15/tokeninfo-variant-a
EXTRA_DIST += tests/fuzz/fuzz_pkcs15.c $(FUZZ_SEEDS_PKCS15)
dist_check_SCRIPTS += tests/fuzz/run-fuzz-pkcs15.sh
TESTS += tests/fuzz/run-fuzz-pkcs15.sh

if HAVE_CLANG
FUZZ_TARGETS += tests/fuzz/fuzz_pkcs15
FUZZ_PKCS15_SRC = $(srcdir)/tests/fuzz/fuzz_pkcs15.c $(srcdir)/pcsc/pkcs15.c $(srcdir)/pcsc/tlv.c
tests/fuzz/fuzz_pkcs15: $(FUZZ_PKCS15_SRC) $(srcdir)/pcsc/pkcs15.h $(srcdir)/pcsc/tlv.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_PKCS15_SRC) $(OPENSSL_LIBS) -o $@

tests/fuzz/run-fuzz-pkcs15.log: tests/fuzz/fuzz_pkcs15
endif

# What kyso-auditd does with a client's request (audit/protocol.c,
# record.c, proof.c): decode, build and seal the record, check its
# signature. The dictionary holds the request's keys and values.
FUZZ_SEEDS_AUDITD = \
	tests/fuzz/corpus/auditd/bad-cert-padding \
	tests/fuzz/corpus/auditd/decrypt-short-sha \
	tests/fuzz/corpus/auditd/pin-failure \
	tests/fuzz/corpus/auditd/refusal \
	tests/fuzz/corpus/auditd/sign-ecdsa-checked \
	tests/fuzz/corpus/auditd/sign-pss-retry \
	tests/fuzz/corpus/auditd/withheld
EXTRA_DIST += tests/fuzz/fuzz_auditd.c tests/fuzz/auditd.dict $(FUZZ_SEEDS_AUDITD) tests/fuzz/README.md
dist_check_SCRIPTS += tests/fuzz/run-fuzz-auditd.sh
TESTS += tests/fuzz/run-fuzz-auditd.sh

if HAVE_CLANG
FUZZ_TARGETS += tests/fuzz/fuzz_auditd
FUZZ_AUDITD_SRC = $(srcdir)/tests/fuzz/fuzz_auditd.c $(srcdir)/audit/protocol.c $(srcdir)/audit/record.c \
	$(srcdir)/audit/proof.c $(srcdir)/audit/chain.c
tests/fuzz/fuzz_auditd: $(FUZZ_AUDITD_SRC) $(srcdir)/audit/audit.h $(srcdir)/audit/internal.h \
		$(srcdir)/audit/protocol.h $(srcdir)/audit/proof.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) $(JSONC_CFLAGS) $(FUZZ_AUDITD_SRC) $(JSONC_LIBS) $(OPENSSL_LIBS) -o $@

tests/fuzz/run-fuzz-auditd.log: tests/fuzz/fuzz_auditd
endif

# Seeds of the token edges end to end (tests/fuzz/edge_harness.h): kyso-vtoken
# sessions recorded by tests/unit/test_token_edges (KYSO_EDGE_CORPUS=DIR),
# which also replays them.
FUZZ_SEEDS_EDGE = \
	tests/fuzz/corpus/edge-piv/piv-admin \
	tests/fuzz/corpus/edge-piv/piv-extended-pss \
	tests/fuzz/corpus/edge-piv/piv-no-login \
	tests/fuzz/corpus/edge-piv/piv-t0-raw \
	tests/fuzz/corpus/edge-piv/piv-t1 \
	tests/fuzz/corpus/edge-piv/piv-unknown-atr \
	tests/fuzz/corpus/edge-vgca-a/vgca-a-admin \
	tests/fuzz/corpus/edge-vgca-a/vgca-a-extended \
	tests/fuzz/corpus/edge-vgca-a/vgca-a-no-login \
	tests/fuzz/corpus/edge-vgca-a/vgca-a-t0 \
	tests/fuzz/corpus/edge-vgca-a/vgca-a-t1 \
	tests/fuzz/corpus/edge-vgca-a/vgca-a-yubikey-atr \
	tests/fuzz/corpus/edge-vgca-b/vgca-b-admin \
	tests/fuzz/corpus/edge-vgca-b/vgca-b-extended \
	tests/fuzz/corpus/edge-vgca-b/vgca-b-no-login \
	tests/fuzz/corpus/edge-vgca-b/vgca-b-t0 \
	tests/fuzz/corpus/edge-vgca-b/vgca-b-t1
EXTRA_DIST += $(FUZZ_SEEDS_EDGE)
# Inputs the edge fuzzers found, minimised; test_token_edges replays them.
FUZZ_REGRESS_EDGE = \
	tests/fuzz/regress/piv-certificate-key-unreadable \
	tests/fuzz/regress/piv-derive-empty-secret \
	tests/fuzz/regress/vgca-change-pin-no-reference \
	tests/fuzz/regress/vgca-direct-certificate-not-one
EXTRA_DIST += $(FUZZ_REGRESS_EDGE)

# The targets of the token edges end to end: token_open_transport,
# enumeration, CA certificates, PIN, sign, decrypt, derive over a card that
# answers from the input, with a mutator that keeps the input's records and
# TLV consistent. fuzz_edge_piv drives the PIV edge, fuzz_edge_vgca the
# government token (make check runs it once over each variant's seeds).
EXTRA_DIST += tests/fuzz/fuzz_edge.c tests/fuzz/edge.dict
FUZZ_EDGE_TESTS = tests/fuzz/run-fuzz-edge-piv.sh tests/fuzz/run-fuzz-edge-vgca-a.sh tests/fuzz/run-fuzz-edge-vgca-b.sh
dist_check_SCRIPTS += $(FUZZ_EDGE_TESTS)
TESTS += $(FUZZ_EDGE_TESTS)

if HAVE_CLANG
FUZZ_TARGETS += tests/fuzz/fuzz_edge_piv tests/fuzz/fuzz_edge_vgca
FUZZ_EDGE_SRC = $(srcdir)/tests/fuzz/fuzz_edge.c $(srcdir)/tests/fuzz/edge_harness.c $(srcdir)/tests/fuzz/edge_mutator.c \
	$(srcdir)/tests/fuzz/edge_tlv_tree.c \
	$(srcdir)/pcsc/token.c $(srcdir)/pcsc/piv_edge.c $(srcdir)/pcsc/vgca_edge.c $(srcdir)/pcsc/pkcs15.c \
	$(srcdir)/pcsc/tlv.c $(srcdir)/pcsc/apdu.c $(srcdir)/pcsc/status.c $(srcdir)/pcsc/rsa_pad.c $(srcdir)/pcsc/reader.c
FUZZ_EDGE_DEPS = $(FUZZ_EDGE_SRC) \
	$(srcdir)/tests/fuzz/edge_harness.h $(srcdir)/tests/fuzz/edge_mutator.h $(srcdir)/tests/fuzz/edge_tlv_tree.h \
	$(srcdir)/pcsc/token.h $(srcdir)/pcsc/pkcs15.h $(srcdir)/pcsc/tlv.h $(srcdir)/pcsc/apdu.h $(srcdir)/pcsc/status.h \
	$(srcdir)/pcsc/rsa_pad.h $(srcdir)/pcsc/reader.h config.h
FUZZ_EDGE_LINK = $(FUZZ_CFLAGS) $(PCSC_CFLAGS) $(FUZZ_EDGE_SRC) $(OPENSSL_LIBS) $(PCSC_LIBS)

tests/fuzz/fuzz_edge_piv: $(FUZZ_EDGE_DEPS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -DEDGE_TARGET=EDGE_TARGET_PIV $(FUZZ_EDGE_LINK) -o $@

tests/fuzz/fuzz_edge_vgca: $(FUZZ_EDGE_DEPS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -DEDGE_TARGET=EDGE_TARGET_VGCA $(FUZZ_EDGE_LINK) -o $@

tests/fuzz/run-fuzz-edge-piv.log: tests/fuzz/fuzz_edge_piv
tests/fuzz/run-fuzz-edge-vgca-a.log tests/fuzz/run-fuzz-edge-vgca-b.log: tests/fuzz/fuzz_edge_vgca
endif

# Root's kyso.conf (policy/config.c, on libinih).
FUZZ_SEEDS_CONF = tests/fuzz/corpus/conf/full tests/fuzz/corpus/conf/weakened tests/fuzz/corpus/conf/bad
EXTRA_DIST += tests/fuzz/fuzz_conf.c tests/fuzz/conf.dict $(FUZZ_SEEDS_CONF)
dist_check_SCRIPTS += tests/fuzz/run-fuzz-conf.sh
TESTS += tests/fuzz/run-fuzz-conf.sh
if HAVE_CLANG
FUZZ_TARGETS += tests/fuzz/fuzz_conf
FUZZ_CONF_SRC = $(srcdir)/tests/fuzz/fuzz_conf.c $(srcdir)/policy/config.c $(srcdir)/policy/rules.c \
	$(srcdir)/policy/profiles.c
tests/fuzz/fuzz_conf: $(FUZZ_CONF_SRC) $(srcdir)/policy/config.h $(srcdir)/policy/profile.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) -DKYSO_SYSCONFDIR='"$(sysconfdir)"' $(INIH_CFLAGS) $(FUZZ_CONF_SRC) \
		$(INIH_LIBS) -o $@

tests/fuzz/run-fuzz-conf.log: tests/fuzz/fuzz_conf
endif

# A record's JSON (records/: parse, schema check, canonical form, hash).
FUZZ_SEEDS_RECORD = tests/fuzz/corpus/record/pin-reset-request-nd68.json \
	tests/fuzz/corpus/record/handover-custodian-ha-tinh.json tests/fuzz/corpus/record/bad-number \
	tests/fuzz/corpus/record/number-at-end tests/fuzz/corpus/record/number-alone \
	tests/fuzz/corpus/record/sample-loss.json tests/fuzz/corpus/record/sample-off-premises-return.json \
	tests/fuzz/corpus/record/sample-off-premises.json tests/fuzz/corpus/record/sample-renewal-request.json \
	tests/fuzz/corpus/record/sample-revocation-request.json tests/fuzz/corpus/record/sample-token-found.json
EXTRA_DIST += tests/fuzz/fuzz_record.c $(FUZZ_SEEDS_RECORD)
dist_check_SCRIPTS += tests/fuzz/run-fuzz-record.sh
TESTS += tests/fuzz/run-fuzz-record.sh
if HAVE_CLANG
FUZZ_TARGETS += tests/fuzz/fuzz_record
FUZZ_RECORD_SRC = $(srcdir)/tests/fuzz/fuzz_record.c $(srcdir)/records/canon.c $(srcdir)/records/record.c \
	$(srcdir)/records/validate.c $(srcdir)/policy/profiles.c
tests/fuzz/fuzz_record: $(FUZZ_RECORD_SRC) $(srcdir)/records/canon.h $(srcdir)/records/record.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) $(JSONC_CFLAGS) $(FUZZ_RECORD_SRC) $(JSONC_LIBS) $(OPENSSL_LIBS) -o $@

tests/fuzz/run-fuzz-record.log: tests/fuzz/fuzz_record
endif

# A record's signature and the certificate its facts come from
# (records/sign.c, records/facts.c): hostile DER.
FUZZ_SEEDS_RECORD_SIG = tests/fuzz/corpus/record-sig/signed-rsa.p7s \
	tests/fuzz/corpus/record-sig/signed-ec-nochain.p7s tests/fuzz/corpus/record-sig/org-cert.der
EXTRA_DIST += tests/fuzz/fuzz_record_sig.c $(FUZZ_SEEDS_RECORD_SIG)
dist_check_SCRIPTS += tests/fuzz/run-fuzz-record-sig.sh
TESTS += tests/fuzz/run-fuzz-record-sig.sh
if HAVE_CLANG
FUZZ_TARGETS += tests/fuzz/fuzz_record_sig
FUZZ_RECORD_SIG_SRC = $(srcdir)/tests/fuzz/fuzz_record_sig.c $(srcdir)/records/sign.c $(srcdir)/records/facts.c \
	$(srcdir)/records/canon.c $(srcdir)/records/record.c $(srcdir)/records/validate.c $(srcdir)/policy/profiles.c
tests/fuzz/fuzz_record_sig: $(FUZZ_RECORD_SIG_SRC) $(srcdir)/records/sign.h $(srcdir)/records/facts.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) $(JSONC_CFLAGS) -DKYSO_FUZZ_ANCHOR='"$(abs_srcdir)/test-vectors/pki/root-ca.pem"' \
		$(FUZZ_RECORD_SIG_SRC) $(JSONC_LIBS) $(OPENSSL_LIBS) -o $@

tests/fuzz/run-fuzz-record-sig.log: tests/fuzz/fuzz_record_sig
endif
