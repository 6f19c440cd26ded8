# Unit tests (cmocka): no card, no pcscd, no network.
UNIT_TESTS = \
	tests/unit/test_tlv \
	tests/unit/test_apdu \
	tests/unit/test_status
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
UNIT_LDADD = pcsc/libkysopcsc.la $(CMOCKA_LIBS)

tests_unit_test_tlv_SOURCES = tests/unit/test_tlv.c tests/unit/testutil.h
tests_unit_test_tlv_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tlv_LDADD = $(UNIT_LDADD)

tests_unit_test_apdu_SOURCES = tests/unit/test_apdu.c tests/unit/testutil.h
tests_unit_test_apdu_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_apdu_LDADD = $(UNIT_LDADD)

tests_unit_test_status_SOURCES = tests/unit/test_status.c
tests_unit_test_status_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_status_LDADD = $(UNIT_LDADD)

# kyso-vtoken's PIV personality, APDU by APDU (no pcscd).
UNIT_TESTS += tests/unit/test_vtoken_piv
tests_unit_test_vtoken_piv_SOURCES = tests/unit/test_vtoken_piv.c
tests_unit_test_vtoken_piv_CPPFLAGS = $(AM_CPPFLAGS) -DKYSO_TEST_PKI='"$(abs_top_srcdir)/test-vectors/pki"'
tests_unit_test_vtoken_piv_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_vtoken_piv_LDADD = tools/vtoken/libvtoken.la $(CMOCKA_LIBS)

# PKCS#15 / ISO/IEC 7816-15 parsing (pcsc/pkcs15.c): DER vectors of the
# government token's files. KYSO_P15_CORPUS=DIR also writes them to DIR
# (the fuzz seed corpus tests/fuzz/corpus/pkcs15). UNIT_TESTS is already in
# check_PROGRAMS and TESTS (adding it there again would list it twice).
UNIT_TESTS += tests/unit/test_pkcs15
tests_unit_test_pkcs15_SOURCES = tests/unit/test_pkcs15.c tests/unit/testutil.h
tests_unit_test_pkcs15_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_pkcs15_LDADD = $(UNIT_LDADD)

# kyso-vtoken's government-token personalities (vgca-chipdoc, vgca-jcop),
# APDU by APDU (no pcscd).
UNIT_TESTS += tests/unit/test_vtoken_vgca
tests_unit_test_vtoken_vgca_SOURCES = tests/unit/test_vtoken_vgca.c
tests_unit_test_vtoken_vgca_CPPFLAGS = $(AM_CPPFLAGS) -DKYSO_TEST_PKI='"$(abs_top_srcdir)/test-vectors/pki"'
tests_unit_test_vtoken_vgca_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_vtoken_vgca_LDADD = tools/vtoken/libvtoken.la $(CMOCKA_LIBS)

# The audit trail (audit/): writer, verifier, forward security, crash
# recovery and rotation, on files in a temporary directory.
UNIT_TESTS += tests/unit/test_audit_chain
tests_unit_test_audit_chain_SOURCES = tests/unit/test_audit_chain.c
tests_unit_test_audit_chain_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
tests_unit_test_audit_chain_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_audit_chain_LDADD = audit/libkysoaudit.la $(CMOCKA_LIBS) $(OPENSSL_LIBS)
UNIT_TESTS += tests/unit/test_audit_sink
tests_unit_test_audit_sink_SOURCES = tests/unit/test_audit_sink.c
tests_unit_test_audit_sink_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_audit_sink_LDADD = audit/libkysoaudit.la $(CMOCKA_LIBS) $(OPENSSL_LIBS) -lpthread
UNIT_TESTS += tests/unit/test_audit_protocol
tests_unit_test_audit_protocol_SOURCES = tests/unit/test_audit_protocol.c
tests_unit_test_audit_protocol_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
tests_unit_test_audit_protocol_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_audit_protocol_LDADD = audit/libkysoaudit.la $(CMOCKA_LIBS) $(OPENSSL_LIBS)

# The audit trail's report/export engine (audit/report_*.c) on the
# hand-written fixture test-vectors/audit/usage-2026.jsonl.
UNIT_TESTS += tests/unit/test_audit_report
tests_unit_test_audit_report_SOURCES = tests/unit/test_audit_report.c
tests_unit_test_audit_report_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) \
	-DKYSO_TEST_AUDIT='"$(abs_top_srcdir)/test-vectors/audit"'
tests_unit_test_audit_report_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_audit_report_LDADD = audit/libkysoreport.la audit/libkysoaudit.la $(JSONC_LIBS) $(CMOCKA_LIBS)

# The default reporting period of each profile at its edges (audit/report_period.c).
UNIT_TESTS += tests/unit/test_audit_period
tests_unit_test_audit_period_SOURCES = tests/unit/test_audit_period.c
tests_unit_test_audit_period_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
tests_unit_test_audit_period_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_audit_period_LDADD = audit/libkysoreport.la audit/libkysoaudit.la policy/libkysopolicy.la $(JSONC_LIBS) $(CMOCKA_LIBS) $(OPENSSL_LIBS)

# The token edges end to end over scripted cards: the harness of the fuzz
# targets fuzz_edge_piv and fuzz_edge_vgca (tests/fuzz/edge_harness.c),
# built with gcc. Live sessions with kyso-vtoken, the seeds replayed,
# regressions, the mutator. KYSO_EDGE_CORPUS=DIR writes the live sessions
# to DIR (the seed corpora tests/fuzz/corpus/edge-*).
UNIT_TESTS += tests/unit/test_token_edges
tests_unit_test_token_edges_SOURCES = tests/unit/test_token_edges.c tests/unit/testutil.h \
	tests/fuzz/edge_harness.c tests/fuzz/edge_harness.h tests/fuzz/edge_mutator.c tests/fuzz/edge_mutator.h \
	tests/fuzz/edge_tlv_tree.c tests/fuzz/edge_tlv_tree.h
tests_unit_test_token_edges_CPPFLAGS = $(AM_CPPFLAGS) -DKYSO_TEST_PKI='"$(abs_top_srcdir)/test-vectors/pki"' \
	-DKYSO_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus"' -DKYSO_FUZZ_REGRESS='"$(abs_top_srcdir)/tests/fuzz/regress"'
tests_unit_test_token_edges_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_token_edges_LDADD = tools/vtoken/libvtoken.la pcsc/libkysopcsc.la $(CMOCKA_LIBS)

# The bounds of struct token (pcsc/token.h) against fake cards that fill
# them: each table and field at its bound and one past it.
UNIT_TESTS += tests/unit/test_token_bounds
tests_unit_test_token_bounds_SOURCES = tests/unit/test_token_bounds.c tests/unit/testutil.h
tests_unit_test_token_bounds_CPPFLAGS = $(AM_CPPFLAGS) -DKYSO_TEST_PKI='"$(abs_top_srcdir)/test-vectors/pki"'
tests_unit_test_token_bounds_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_token_bounds_LDADD = $(UNIT_LDADD) $(OPENSSL_LIBS)

# pkcs11/pinentry.c (PIN prompts through a pinentry program) against the
# scripted pinentry tests/pinentry-script.
check_PROGRAMS += tests/pinentry-script
tests_pinentry_script_SOURCES = tests/pinentry-script.c
UNIT_TESTS += tests/unit/test_pinentry
tests_unit_test_pinentry_SOURCES = tests/unit/test_pinentry.c pkcs11/pinentry.c pkcs11/pinentry.h
tests_unit_test_pinentry_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS) -DKYSO_TEST_PINENTRY='"$(abs_top_builddir)/tests/pinentry-script"'
tests_unit_test_pinentry_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_pinentry_LDADD = $(CMOCKA_LIBS) $(OPENSSL_LIBS) -lutil -lpthread

# policy/: kyso.conf, the profiles, the audit trail's choice, M1 and M12.
UNIT_TESTS += tests/unit/test_policy
tests_unit_test_policy_SOURCES = tests/unit/test_policy.c
tests_unit_test_policy_CPPFLAGS = $(AM_CPPFLAGS) -DKYSO_TEST_PKI='"$(abs_top_srcdir)/test-vectors/pki"' \
	-DKYSO_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_policy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_policy_LDADD = policy/libkysopolicy.la $(CMOCKA_LIBS) $(OPENSSL_LIBS)
# The CRL cache (policy/crl.c): checks and writes on a temporary directory.
UNIT_TESTS += tests/unit/test_crl
tests_unit_test_crl_SOURCES = tests/unit/test_crl.c tests/unit/testpki.h
tests_unit_test_crl_CPPFLAGS = $(AM_CPPFLAGS) -DKYSO_TEST_PKI='"$(abs_top_srcdir)/test-vectors/pki"'
tests_unit_test_crl_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_crl_LDADD = policy/libkysopolicy.la $(CMOCKA_LIBS) $(OPENSSL_LIBS) -lpthread
# records/: canonical JSON, the schema check, the registry (on temporary
# directories), parties files, the working-day calendar.
UNIT_TESTS += tests/unit/test_records
tests_unit_test_records_SOURCES = tests/unit/test_records.c
tests_unit_test_records_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) \
	-DKYSO_TEST_VECTORS='"$(abs_top_srcdir)/test-vectors"' \
	-DKYSO_HOLIDAYS='"$(abs_top_srcdir)/records/holidays-vn.txt"'
tests_unit_test_records_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_records_LDADD = records/libkysorecords.la policy/libkysopolicy.la $(JSONC_LIBS) $(CMOCKA_LIBS) $(OPENSSL_LIBS)

# What is due (records/deadlines): rules M10 and M11 under the five
# profiles on the working-day calendar, the registry's facts, the audit
# trail's certificates.
UNIT_TESTS += tests/unit/test_deadlines
tests_unit_test_deadlines_SOURCES = tests/unit/test_deadlines.c
tests_unit_test_deadlines_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) \
	-DKYSO_TEST_VECTORS='"$(abs_top_srcdir)/test-vectors"' \
	-DKYSO_HOLIDAYS='"$(abs_top_srcdir)/records/holidays-vn.txt"'
tests_unit_test_deadlines_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_deadlines_LDADD = records/libkysodue.la records/libkysorecords.la policy/libkysopolicy.la \
	audit/libkysoreport.la audit/libkysoaudit.la $(JSONC_LIBS) $(CMOCKA_LIBS) $(OPENSSL_LIBS)

# The printed record (records/render): the samples of test-vectors/records
# and a hostile record as PDFs, their text through pdftotext, page 1 against
# a reference picture (KYSO_REGEN_REFERENCES=1 rewrites the references).
check_PROGRAMS += tests/records_render
tests_records_render_SOURCES = tests/records_render.c
tests_records_render_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
tests_records_render_LDADD = records/libkysorender.la records/libkysorecords.la policy/libkysopolicy.la $(JSONC_LIBS) $(OPENSSL_LIBS)
TESTS += tests/unit/records-render.sh
EXTRA_DIST += tests/unit/records-render.sh tests/unit/records-render.lsan.supp tests/unit/pngdiff.py
tests/unit/records-render.log: tests/records_render
# kyso record: check, register, list, show, render (no token).
TESTS += tests/unit/records-cli.sh
# The manual pages render without warnings; kyso(1) names every command.
TESTS += tests/unit/man-pages.sh
EXTRA_DIST += tests/unit/man-pages.sh
tests/unit/man-pages.log: tools/kyso
EXTRA_DIST += tests/unit/records-cli.sh
tests/unit/records-cli.log: tools/kyso
# records/sign.c: detached CMS signatures with software keys of the test
# PKI, and verification of hostile input.
UNIT_TESTS += tests/unit/test_records_sign
tests_unit_test_records_sign_SOURCES = tests/unit/test_records_sign.c tests/unit/testpki.h
tests_unit_test_records_sign_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) -DKYSO_TEST_PKI='"$(abs_top_srcdir)/test-vectors/pki"'
tests_unit_test_records_sign_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_records_sign_LDADD = records/libkysorecords.la policy/libkysopolicy.la $(JSONC_LIBS) $(CMOCKA_LIBS) $(OPENSSL_LIBS)
