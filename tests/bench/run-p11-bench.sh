#!/bin/bash
# The side-by-side benchmark (numbers, not pass/fail; `make bench-p11` on
# the build without sanitizers): kyso-pkcs11.so with the audit trail off,
# to a file and to kyso-auditd, opensc-pkcs11.so, libykcs11.so and the raw
# PC/SC floor (tests/bench/p11_bench --raw) on the same kyso-vtoken PIV
# token, at zero latency and with a real token's latency profile.
#
# Scenarios (tests/bench/p11_bench.c says what each call does):
#   cold         the card re-inserted, then C_Initialize … every certificate read
#   cold-again   the same in a new process, the card left in
#   sign-9c-rsa  C_Login + one signature with 9C RSA-2048 (PIN always)
#   sign-9c-p256 the same with 9C P-256 (a second token, key set ec)
#   sign-9a      C_Login + one signature with 9A P-256
#   sigs-1, sigs-4, sigs-16   N ECDSA signatures with 9A from 1, 4, 16 threads
#   idle         APDUs sent (and CPU spent) in KYSO_BENCH_IDLE s with a session open
# Every scenario runs KYSO_BENCH_REPS times per module, the modules in a
# rotating order (no module always first or last), one process each.
#
# Settings (environment):
#   KYSO_BENCH_REPS       repetitions (default 5)
#   KYSO_BENCH_N          signatures of sigs-* at zero latency (default 200)
#   KYSO_BENCH_N_LATENCY  the same with the latency profile (default 20)
#   KYSO_BENCH_PROFILE    "APDU_MS SIGN_MS" (default "3 150": per APDU, per private-key operation)
#   KYSO_BENCH_IDLE       seconds of the idle scenario, 0 to skip it (default 10)
#   KYSO_BENCH_OUT        where the results go (default tests/bench/results/ of the build tree)
#   KYSO_BENCH_MODULES    which of kyso-off kyso-file kyso-daemon opensc ykcs11 raw (default all)
#
# Writes samples.jsonl (every run), results.txt and results.json (medians,
# spread, ratios), latency.png and machine.txt in KYSO_BENCH_OUT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export KYSO_SRCDIR=${KYSO_SRCDIR:-$(cd "$here/../.." && pwd)}
export KYSO_BUILDDIR=${KYSO_BUILDDIR:-$KYSO_SRCDIR}
export KYSO_BENCH_REPS=${KYSO_BENCH_REPS:-5} KYSO_BENCH_N=${KYSO_BENCH_N:-200}
export KYSO_BENCH_N_LATENCY=${KYSO_BENCH_N_LATENCY:-20} KYSO_BENCH_PROFILE=${KYSO_BENCH_PROFILE:-3 150}
export KYSO_BENCH_IDLE=${KYSO_BENCH_IDLE:-10}
export KYSO_BENCH_MODULES=${KYSO_BENCH_MODULES:-kyso-off kyso-file kyso-daemon opensc ykcs11 raw}
export KYSO_MODULE=${KYSO_MODULE:-$KYSO_BUILDDIR/pkcs11/.libs/kyso-pkcs11.so}
export OPENSC_MODULE=${OPENSC_MODULE:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
export YKCS11_MODULE=${YKCS11_MODULE:-/usr/lib/x86_64-linux-gnu/libykcs11.so}
bench=$KYSO_BUILDDIR/tests/bench/p11_bench

# ---- inside tests/with-token: run KEYSET's scenarios, append to SAMPLES ----
if [ "${1:-}" = --inside ]; then
    keyset=$2 samples=$3
    ctl() { "$KYSO_VTOKEN" ctl --control "$KYSO_VTOKEN_CTL" "$@" >/dev/null; }
    # The daemon sink: kyso-auditd with a log of its own.
    sock=$KYSO_WORKDIR/auditd/audit.sock
    mkdir -p "$KYSO_WORKDIR/auditd"
    "$KYSO_BUILDDIR/tools/kyso" audit init --log "$KYSO_WORKDIR/auditd/audit.log" \
        --key-out "$KYSO_WORKDIR/auditd/audit.key" >/dev/null
    "$KYSO_BUILDDIR/tools/kyso-auditd" --foreground --log "$KYSO_WORKDIR/auditd/audit.log" --socket "$sock" \
        >"$KYSO_WORKDIR/auditd/out" 2>&1 &
    daemon_pid=$!
    trap 'kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null' EXIT
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
    [ -S "$sock" ] || { cat "$KYSO_WORKDIR/auditd/out" >&2; echo "kyso-auditd did not start" >&2; exit 1; }

    # run MODULE SCENARIO LATENCY REP ARGS...: one process, one JSON line.
    run() {
        local module=$1 scenario=$2 latency=$3 rep=$4 out rc=0
        shift 4
        case $module in
        kyso-off) out=$(KYSO_AUDIT=off "$bench" --module "$KYSO_MODULE" "$@") || rc=$? ;;
        kyso-file) out=$(KYSO_AUDIT=file:$KYSO_AUDIT_LOG "$bench" --module "$KYSO_MODULE" "$@") || rc=$? ;;
        kyso-daemon) out=$(KYSO_AUDIT=daemon:$sock "$bench" --module "$KYSO_MODULE" "$@") || rc=$? ;;
        opensc) out=$("$bench" --module "$OPENSC_MODULE" "$@") || rc=$? ;;
        ykcs11) out=$("$bench" --module "$YKCS11_MODULE" "$@") || rc=$? ;;
        raw) out=$("$bench" --raw "$@") || rc=$? ;;
        esac
        [ -n "$out" ] || out="{\"ok\":false,\"why\":\"p11_bench exited with status $rc\"}"
        jq -c --arg m "$module" --arg s "$scenario" --arg l "$latency" --arg k "$keyset" --argjson r "$rep" \
            '. + {module: $m, scenario: $s, latency: $l, keys: $k, rep: $r}' <<<"$out" >>"$samples"
    }
    # The card out and back in: what a module finds then is a card just powered.
    reinsert() {
        ctl remove && "$bench" --raw wait 10 absent && ctl insert && "$bench" --raw wait 10
    }
    read -r -a modules <<<"$KYSO_BENCH_MODULES"
    nm=${#modules[@]}
    for latency in zero profile; do
        read -r -a profile <<<"$KYSO_BENCH_PROFILE"
        if [ $latency = zero ]; then ctl latency 0 0; n=$KYSO_BENCH_N; else ctl latency "${profile[@]}"; n=$KYSO_BENCH_N_LATENCY; fi
        echo "# $keyset, latency $latency" >&2
        for rep in $(seq "$KYSO_BENCH_REPS"); do
            for i in $(seq 0 $((nm - 1))); do
                m=${modules[$(((i + rep) % nm))]}
                if [ "$keyset" = ec ]; then
                    run "$m" sign-9c-p256 $latency "$rep" sign 02
                    continue
                fi
                reinsert
                run "$m" cold $latency "$rep" cold
                run "$m" cold-again $latency "$rep" cold
                run "$m" sign-9c-rsa $latency "$rep" sign 02
                run "$m" sign-9a $latency "$rep" sign 01
            done
            [ "$keyset" = ec ] && continue
            for threads in 1 4 16; do
                for i in $(seq 0 $((nm - 1))); do
                    m=${modules[$(((i + rep + threads) % nm))]}
                    run "$m" sigs-$threads $latency "$rep" sigs "$n" $threads 01
                done
            done
        done
    done
    if [ "$keyset" != ec ] && [ "$KYSO_BENCH_IDLE" -gt 0 ]; then
        ctl latency 0 0
        for m in "${modules[@]}"; do
            case $m in kyso-file | kyso-daemon) continue ;; esac # (the sink is not asked while idle)
            run "$m" idle zero 1 idle "$KYSO_BENCH_IDLE"
        done
    fi
    exit 0
fi

# ---- outside: the machine, both token runs, the report ----
for prog in "$bench" "$KYSO_MODULE" "$OPENSC_MODULE" "$YKCS11_MODULE"; do
    [ -e "$prog" ] || { echo "run-p11-bench: $prog missing" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "run-p11-bench: jq missing (Debian package jq)" >&2; exit 1; }
if grep -q asan_init "$KYSO_MODULE" 2>/dev/null; then
    echo "run-p11-bench: $KYSO_MODULE is built with sanitizers: the numbers would mean little" >&2
fi
out=${KYSO_BENCH_OUT:-$KYSO_BUILDDIR/tests/bench/results}
mkdir -p "$out"
: >"$out/samples.jsonl"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    echo "cores: $(nproc)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "debian: $(cat /etc/debian_version 2>/dev/null || echo unknown)"
    echo "kyso: $(git -C "$KYSO_SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)"
    for p in opensc-pkcs11 ykcs11 pcscd libpcsclite1 vsmartcard-vpcd libssl3; do
        echo "$p: $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo not installed)"
    done
    echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "settings: reps $KYSO_BENCH_REPS, N $KYSO_BENCH_N (zero latency) / $KYSO_BENCH_N_LATENCY (profile)," \
        "profile $KYSO_BENCH_PROFILE ms, idle $KYSO_BENCH_IDLE s"
} >"$out/machine.txt"
start=$(date +%s)
# ykcs11 2.2.0 only looks at readers named "Yubico…": every module sees that one.
reader="Yubico YubiKey (kyso-vtoken)"
"$KYSO_SRCDIR/tests/with-token" --reader-name "$reader" --keys mixed piv -- "$BASH" "$0" --inside mixed "$out/samples.jsonl"
"$KYSO_SRCDIR/tests/with-token" --reader-name "$reader" --keys ec piv -- "$BASH" "$0" --inside ec "$out/samples.jsonl"
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg); it took $(($(date +%s) - start)) s" >>"$out/machine.txt"

# The report wants matplotlib (Debian package python3-matplotlib).
py=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import matplotlib' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "run-p11-bench: python3 with matplotlib missing (Debian package python3-matplotlib)" >&2; exit 1; }
"$py" "$here/p11-bench-report.py" "$out"
cat "$out/results.txt"
