#!/bin/bash
# Benchmark (numbers, not pass/fail): throughput and peak memory of
# `kyso audit report` and `kyso audit export` on a synthetic audit log of
# KYSO_BENCH_RECORDS records (default 1 000 000, about 1 GB): records shaped
# like the module's (certificate with a Vietnamese subject, 50 people in 10
# agencies, 60 tokens, 6 programs; signatures, failures, refusals, PIN
# events), spread over 2026. The chain fields are dummies: nothing here
# verifies. Peak memory is also measured on a tenth of the log, to show it
# does not grow with the log.
#
#   KYSO_BUILDDIR=BUILD tests/bench/audit-report-bench.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KYSO_SRCDIR=${KYSO_SRCDIR:-$(cd "$here/../.." && pwd)}
KYSO_BUILDDIR=${KYSO_BUILDDIR:-$KYSO_SRCDIR}
kyso=$KYSO_BUILDDIR/tools/kyso
n=${KYSO_BENCH_RECORDS:-1000000}
[ -x "$kyso" ] || { echo "audit-report-bench: $kyso not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "audit-report-bench: needs GNU time (Debian package time)" >&2; exit 1; }

work=$(mktemp -d /tmp/kyso-audit-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
log=$work/audit.log

generate() { # COUNT > FILE (over 2026)
    "$here/audit-log-gen.sh" "$1" 1767225600 365
}

# run LABEL RECORDS COMMAND...: prints wall and CPU time, records per second
# of each (CPU time does not depend on what else the host runs), peak memory.
run() {
    local label=$1 records=$2
    shift 2
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
        cat "$work/stderr" >&2
        return 1
    }
    read -r secs user sys kb <"$work/time"
    awk -v l="$label" -v n="$records" -v s="$secs" -v c="$(awk -v u="$user" -v y="$sys" 'BEGIN { print u + y }')" -v kb="$kb" \
        'BEGIN { rate = (n > 0 && s > 0) ? sprintf("%8.0f/s", n / s) : sprintf("%10s", "-");
                 crate = (n > 0 && c > 0) ? sprintf("%8.0f/s", n / c) : sprintf("%10s", "-");
                 printf "  %-44s %6.2f s %s  cpu %6.2f s %s  peak %5.1f MiB\n", l, s, rate, c, crate, kb / 1024 }'
}

asan=no
grep -q asan_init "$kyso" 2>/dev/null && asan=yes
echo "kyso audit report/export benchmark: $n records (AddressSanitizer build: $asan; load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs)"
echo "  (columns: wall time, records per wall second; CPU time (user+sys), records per CPU second; peak RSS)"
t=$(date +%s.%N)
generate "$n" >"$log"
echo "  generated $(wc -l <"$log") records, $(du -m "$log" | cut -f1) MiB, in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
small=$work/small.log
head -n "$((n / 10))" "$log" >"$small"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
run "wc -l (reading the file, for scale)" "$n" wc -l "$log"
run "report --period 2026 (text)" "$n" "$kyso" audit report --log "$log" --period 2026 -o "$work/r.txt"
run "report --period 2026-H1 --format json" "$n" "$kyso" audit report --log "$log" --period 2026-H1 --format json -o "$work/r.json"
run "report --period 2026 --format csv" "$n" "$kyso" audit report --log "$log" --period 2026 --format csv -o "$work/r.csv"
run "export --format csv (all records)" "$n" "$kyso" audit export --log "$log" --format csv -o "$work/all.csv"
run "export --format jsonl (all records)" "$n" "$kyso" audit export --log "$log" --format jsonl -o "$work/all.jsonl"
run "export --format json --person --from --to" "$n" "$kyso" audit export --log "$log" --format json \
    --person "nguyen van" --from 2026-03-01 --to 2026-08-31 -o "$work/some.json"
run "export --format csv --event refusal" "$n" "$kyso" audit export --log "$log" --format csv --event refusal \
    -o "$work/refusals.csv"
run "tail -n 10 (reads only the end)" 0 "$kyso" audit tail --log "$log" -n 10
echo "  peak memory on a tenth of the log ($((n / 10)) records), for comparison:"
run "report --period 2026 (text), 1/10 of the log" "$((n / 10))" "$kyso" audit report --log "$small" --period 2026 -o "$work/r-small.txt"
run "export --format csv, 1/10 of the log" "$((n / 10))" "$kyso" audit export --log "$small" --format csv -o "$work/small.csv"
echo "  report: $(grep -m1 'records in the period' "$work/r.txt" | sed 's/  */ /g'); exported $(($(wc -l <"$work/all.csv") - 1)) CSV rows"
