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
