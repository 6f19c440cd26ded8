#!/bin/bash
# Runs a libFuzzer target briefly over its seed corpus:
#   run-fuzz.sh NAME [TARGET [DICTIONARY]]
# runs fuzz_TARGET (default fuzz_NAME) over tests/fuzz/corpus/NAME, with
# tests/fuzz/DICTIONARY if given. Used by run-fuzz-NAME.sh in make check;
# skipped (77) when the target was not built (no clang). New corpus entries
# go to a temporary directory; a crashing input is kept in the build tree
# as tests/fuzz/crash-NAME-*. KYSO_FUZZ_RUNS, KYSO_FUZZ_TIME (seconds) and
# KYSO_FUZZ_MAX_LEN override the run's limits.
set -u
name=$1
target=${2:-$name}
here=$(cd "$(dirname "$0")" && pwd)
builddir=${KYSO_BUILDDIR:-$here/../..}
srcdir=${KYSO_SRCDIR:-$here/../..}
bin=$builddir/tests/fuzz/fuzz_$target
seeds=$srcdir/tests/fuzz/corpus/$name
dict=()
if [ -n "${3:-}" ]; then
    dict=(-dict="$srcdir/tests/fuzz/$3")
fi

if [ ! -x "$bin" ]; then
    echo "SKIP: $bin not built (needs clang with libFuzzer)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kyso-fuzz-$name.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

# libFuzzer's default exit code for a crash is 77, which make check would
# count as a skip.
"$bin" -runs="${KYSO_FUZZ_RUNS:-200000}" -max_total_time="${KYSO_FUZZ_TIME:-20}" \
    -error_exitcode=1 -timeout_exitcode=1 -max_len="${KYSO_FUZZ_MAX_LEN:-4096}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$builddir/tests/fuzz/crash-$name-" "${dict[@]}" \
    "$work" "$seeds"
