# tests/bench/: benchmarks that print numbers (`make bench`), not tests.
noinst_PROGRAMS += tests/bench/apdu_count
tests_bench_apdu_count_SOURCES = tests/bench/apdu_count.c
tests_bench_apdu_count_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS)
tests_bench_apdu_count_LDADD = -ldl
EXTRA_DIST += tests/bench/run-bench.sh

bench: all
	KYSO_BUILDDIR='$(abs_top_builddir)' KYSO_SRCDIR='$(abs_top_srcdir)' $(BASH) $(srcdir)/tests/bench/run-bench.sh
.PHONY: bench
