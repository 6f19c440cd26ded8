# tests/bench/: benchmarks that print numbers (`make bench`), not tests.
noinst_PROGRAMS += tests/bench/apdu_count
tests_bench_apdu_count_SOURCES = tests/bench/apdu_count.c
tests_bench_apdu_count_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS)
tests_bench_apdu_count_LDADD = -ldl
EXTRA_DIST += tests/bench/run-bench.sh

bench: all
	KYSO_BUILDDIR='$(abs_top_builddir)' KYSO_SRCDIR='$(abs_top_srcdir)' $(BASH) $(srcdir)/tests/bench/run-bench.sh
.PHONY: bench

# The audit trail: signatures/s with it on and off, verification speed
# (`make bench-audit`, on the build without sanitizers).
noinst_PROGRAMS += tests/bench/audit_bench
tests_bench_audit_bench_SOURCES = tests/bench/audit_bench.c \
	tests/integration/p11_client.c tests/integration/p11_client.h
tests_bench_audit_bench_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS)
tests_bench_audit_bench_LDADD = audit/libkysoaudit.la $(OPENSSL_LIBS) -ldl -lpthread
EXTRA_DIST += tests/bench/run-audit-bench.sh

bench-audit: all
	KYSO_BUILDDIR='$(abs_top_builddir)' KYSO_SRCDIR='$(abs_top_srcdir)' $(BASH) $(srcdir)/tests/bench/run-audit-bench.sh
.PHONY: bench-audit
EXTRA_DIST += tests/bench/audit-report-bench.sh

# What the rules cost a signature (run by `make bench`): the decision's time
# and the APDUs with the rules on and weakened away.
noinst_PROGRAMS += tests/bench/policy_bench
tests_bench_policy_bench_SOURCES = tests/bench/policy_bench.c
tests_bench_policy_bench_LDADD = policy/libkysopolicy.la $(OPENSSL_LIBS)
EXTRA_DIST += tests/bench/run-policy-bench.sh

# Side by side: kyso-pkcs11.so (audit off, file and daemon sink),
# opensc-pkcs11.so, libykcs11.so and the raw PC/SC floor on the same
# kyso-vtoken, at zero and a real token's latency (`make bench-p11`, on the
# build without sanitizers; results in tests/bench/results/).
noinst_PROGRAMS += tests/bench/p11_bench
tests_bench_p11_bench_SOURCES = tests/bench/p11_bench.c tests/bench/p11_bench.h tests/bench/p11_bench_raw.c
tests_bench_p11_bench_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS)
tests_bench_p11_bench_LDADD = $(OPENSSL_LIBS) $(PCSC_LIBS) -ldl -lpthread
EXTRA_DIST += tests/bench/run-p11-bench.sh tests/bench/p11-bench-report.py

bench-p11: all
	KYSO_BUILDDIR='$(abs_top_builddir)' KYSO_SRCDIR='$(abs_top_srcdir)' $(BASH) $(srcdir)/tests/bench/run-p11-bench.sh
.PHONY: bench-p11
# The committed results of a full run, with the machine they come from.
EXTRA_DIST += tests/bench/results/results.txt tests/bench/results/results.json tests/bench/results/machine.txt \
	tests/bench/results/samples.jsonl tests/bench/results/latency.png
