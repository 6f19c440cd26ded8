#!/bin/bash
# Benchmarks of the audit trail (numbers, not pass/fail); use the build
# without sanitizers (`make bench-audit` there):
#  1. signatures/s through kyso-pkcs11.so on kyso-vtoken (PIV 9A P-256,
#     CKM_ECDSA_SHA256) with the audit trail on (file sink, in the token's
#     work directory) and off (KYSO_AUDIT=off), 1 and 16 threads;
#  2. `kyso audit verify` on a log of 1 000 000 records made by the real
#     writer (group commits of 1000): records/s.
# KYSO_BENCH_SECONDS (default 10) per signing run; KYSO_BENCH_RECORDS
# (default 1000000); KYSO_BENCH_DIR for the big log (default: a temporary
# directory under /tmp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export KYSO_SRCDIR=${KYSO_SRCDIR:-$(cd "$here/../.." && pwd)}
export KYSO_BUILDDIR=${KYSO_BUILDDIR:-$KYSO_SRCDIR}
export KYSO_MODULE=${KYSO_MODULE:-$KYSO_BUILDDIR/pkcs11/.libs/kyso-pkcs11.so}
bench=$KYSO_BUILDDIR/tests/bench/audit_bench
kyso=$KYSO_BUILDDIR/tools/kyso
seconds=${KYSO_BENCH_SECONDS:-10}
records=${KYSO_BENCH_RECORDS:-1000000}
if grep -q asan_init "$KYSO_MODULE" 2>/dev/null; then
    echo "run-audit-bench: $KYSO_MODULE is built with sanitizers: the numbers would mean little" >&2
fi
echo "# $(nproc) CPU(s); load $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Signing, audit on and off.
"$KYSO_SRCDIR/tests/with-token" piv -- bash -c '
    echo "# the log: $KYSO_AUDIT_LOG on $(df -T "$KYSO_AUDIT_LOG" | awk "NR==2 {print \$2}") (every record: write + fdatasync, then the state + fdatasync)"
    for threads in 1 16; do
        KYSO_AUDIT=off "$0" sign "$threads" "$1"
        "$0" sign "$threads" "$1"
    done
    "$2" audit verify --key "$KYSO_AUDIT_KEY" | sed "s/^/# the signatures'"'"' log: /"
' "$bench" "$seconds" "$kyso"

# 2. Verification of a big log.
dir=${KYSO_BENCH_DIR:-$(mktemp -d /tmp/kyso-audit-bench.XXXXXX)}
trap 'rm -rf "$dir"' EXIT
"$bench" build "$dir/audit.log" "$dir/audit.key" "$records"
echo "# $(du -h "$dir/audit.log" | cut -f1) on $(df -T "$dir" | awk 'NR==2 {print $2}')"
cat "$dir/audit.log" >/dev/null # (the same page cache for every run)
start=$(date +%s%N)
"$kyso" audit verify --log "$dir/audit.log" --key "$dir/audit.key"
ns=$(($(date +%s%N) - start))
echo "kyso audit verify: $records records in $((ns / 1000000)) ms: $((records * 1000000000 / ns)) records/s"
"$bench" verify "$dir/audit.log" "$dir/audit.key"
