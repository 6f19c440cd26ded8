#!/bin/bash
# Faults under load, 16 signing threads on the PIV token through
# kyso-auditd, each run counting the signatures the threads received
# against the log's sign/CKR_OK records net of the "withheld" ones (equal,
# always, and each received signature has its record):
#   1. the daemon stopped (SIGSTOP) for 7 s, then resumed: signatures fail
#      closed within the module's bounded wait (KYSO_AUDIT_TIMEOUT_MS), the
#      calls that make no record are not held up, and what the daemon
#      writes on resuming for requests whose caller gave up is withheld;
#   2. the daemon killed (SIGKILL) twice and started again;
#   3. pcscd killed and started again;
#   4. the card pulled and put back 30 times.
# Under the sanitizer build the module runs with ASan and UBSan; any
# report fails the signer's exit status.
. "$(dirname "$0")/lib.sh"
in_token piv

. "$(dirname "$0")/auditd_lib.sh"
bin=$KYSO_BUILDDIR/tests/integration
threads=${KYSO_FAULT_THREADS:-16}
timeout_ms=${KYSO_AUDIT_TIMEOUT_MS:-1500}
export KYSO_AUDIT_TIMEOUT_MS=$timeout_ms
# Slower under valgrind (the token runs under it): the bounds scale with
# it. The daemon runs at full speed: under valgrind it could not keep up
# with 16 threads within a record's wait, and audit-daemon runs it under
# valgrind already.
slow=1
[ ${#vg[@]} -gt 0 ] && slow=8
vg=()

# signer NAME SECONDS: 16 threads signing in the background, spid its pid.
signer() {
    "$bin/audit_signer" --threads "$threads" --count 0 --seconds "$2" --any --latency \
        --received "$T/$1.received" --ready "$T/$1.ready" >"$T/$1.out" 2>"$T/$1.err" &
    spid=$!
    local _
    for _ in $(seq 300); do [ -e "$T/$1.ready" ] && return 0; sleep 0.05; done
    return 1
}
# finished NAME: the signer exited 0 (nothing wrong, no sanitizer report).
finished() {
    wait "$spid"
    local rc=$?
    cat "$T/$1.out" "$T/$1.err" >>"$TEST_LOG"
    [ $rc -eq 0 ]
}
field() { sed -n "s/.*$2 \([0-9]*\).*/\1/p" "$T/$1.out" | head -n1; } # NAME FIELD
# balanced NAME: every received signature has exactly one net record, and
# the process has no other.
balanced() {
    "$bin/audit_logcheck" --exact --received "$T/$1.received" "$log" >"$T/$1.check" 2>&1
    local rc=$?
    cat "$T/$1.check" >>"$TEST_LOG"
    return $rc
}
summary() { # NAME: one comment line with the run's numbers
    echo "# $1: signed $(field "$1" signed), failed $(field "$1" failed); longest C_Sign $(field "$1" sign_max_ms) ms," \
        "longest call without a record $(field "$1" probe_max_ms) ms, back to signing after $(field "$1" recovered_max_ms) ms;" \
        "$(grep -o 'withheld [0-9]*' "$T/$1.check")"
}

start_daemon faults "$log" "$sock"
fpid=$dpid

# ---- 1. the daemon paused for 7 s ----
signer stop 14 || { echo "the signer did not log in"; exit 1; }
sleep 3
kill -STOP "$fpid"
sleep 7
kill -CONT "$fpid"
check "paused daemon: the signer ends cleanly" finished stop
balanced stop
check "paused daemon: signatures received = net sign records, each with its own" test $? -eq 0
summary stop
check "paused daemon: some signatures failed closed meanwhile" test "$(field stop failed)" -gt 0
check "paused daemon: and signing went on afterwards" test "$(field stop recovered_max_ms)" -gt 0
bound=$(((timeout_ms + 1500) * slow))
check "paused daemon: no C_Sign took longer than the bounded wait (≤ $bound ms)" \
    test "$(field stop sign_max_ms)" -le "$bound"
check "paused daemon: calls that make no record were not held up (< $((1000 * slow)) ms)" \
    test "$(field stop probe_max_ms)" -lt $((1000 * slow))

# ---- 2. the daemon killed and started again, twice ----
signer kill 16 || { echo "the signer did not log in"; exit 1; }
# Down longer than a record may wait: signatures in between fail closed.
down=$(((timeout_ms + 1000) / 1000 + 1))
for round in 1 2; do
    sleep 2
    kill -KILL "$fpid"
    wait "$fpid" 2>/dev/null
    sleep "$down"
    start_daemon "faults$round" "$log" "$sock"
    fpid=$dpid
done
check "killed daemon: the signer ends cleanly" finished kill
balanced kill
check "killed daemon: signatures received = net sign records, each with its own" test $? -eq 0
summary kill
check "killed daemon: signatures failed closed while it was down" test "$(field kill failed)" -gt 0
check "killed daemon: and signing went on after each restart" test "$(field kill recovered_max_ms)" -gt 0

# ---- 3. pcscd killed and started again ----
signer pcscd 10 || { echo "the signer did not log in"; exit 1; }
sleep 2
kill -KILL "$KYSO_PCSCD_PID"
sleep 1
env -u LD_PRELOAD pcscd --foreground --config "$KYSO_PCSCD_CONFIG" >"$T/pcscd2.log" 2>&1 &
new_pcscd=$!
helper_pids+=("$new_pcscd")
check "pcscd restarted: the signer ends cleanly" finished pcscd
balanced pcscd
check "pcscd restarted: signatures received = net sign records, each with its own" test $? -eq 0
summary pcscd
check "pcscd restarted: signing went on" test "$(field pcscd recovered_max_ms)" -gt 0

# ---- 4. the card pulled and put back ----
signer pulls 26 || { echo "the signer did not log in"; exit 1; }
for _ in $(seq 30); do
    sleep 0.4
    vtoken_ctl remove >/dev/null
    sleep 0.3
    vtoken_ctl insert >/dev/null
done
check "card pulls: the signer ends cleanly" finished pulls
balanced pulls
check "card pulls: signatures received = net sign records, each with its own" test $? -eq 0
summary pulls
check "card pulls: signing went on" test "$(field pulls recovered_max_ms)" -gt 0

check "the log verifies" verify --log "$log"
check "SIGTERM: the daemon exits 0" stop_daemon "$fpid"
finish
