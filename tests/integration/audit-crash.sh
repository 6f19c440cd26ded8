#!/bin/bash
# The audit trail when signing processes die: 20 times a process (2
# threads) signs continuously through kyso-pkcs11.so (PIV 9A) with the file
# sink and is killed with SIGKILL 50-500 ms after it logged in (one round in
# three), after it received its first signature (one in three) or its
# second: the signer's own progress says when, not the clock alone, so that
# under valgrind, many times slower, signers are still killed with
# signatures received. After each signature C_Sign returned, it appends the
# SHA-256 of the message to its own file. Afterwards one more signature
# (the next writer recovers what a killed one left past the state, or drops
# its incomplete line), then: the log verifies, sequence numbers have no
# gap, and every signature any process received has exactly one
# sign/CKR_OK record of that process with that input_sha256.
# KYSO_AUDIT_CRASH_ROUNDS changes the 20.
. "$(dirname "$0")/lib.sh"
in_token piv
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}

bin=$KYSO_BUILDDIR/tests/integration
rounds=${KYSO_AUDIT_CRASH_ROUNDS:-20}
# The signer itself must be the process killed (not a shell around it).
prefix=()
if [ "${KYSO_VALGRIND:-0}" = 1 ]; then
    prefix=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
fi
# How long (s) a signer may take to log in, and then to the signatures
# awaited.
limit=20
[ "${KYSO_VALGRIND:-0}" = 1 ] && limit=60
# signed FILE: the signatures a signer has received (lines after "pid P").
signed() {
    local n
    n=$(grep -vc '^pid ' "$1" 2>/dev/null)
    echo "${n:-0}"
}
received=() past_state=0 not_ready=0 not_signed=0 kills=""
for r in $(seq "$rounds"); do
    ready=$TEST_TMP/ready.$r
    "${prefix[@]}" "$bin/audit_signer" --threads 2 --count 0 --received "$TEST_TMP/received.$r" --ready "$ready" \
        >>"$TEST_LOG" 2>&1 &
    pid=$!
    deadline=$((SECONDS + limit))
    while [ ! -e "$ready" ] && kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    [ -e "$ready" ] || not_ready=$((not_ready + 1))
    # The kill comes 50-500 ms after the signer's want-th signature (0: after
    # it logged in).
    want=$((r % 3))
    deadline=$((SECONDS + limit))
    while [ "$(signed "$TEST_TMP/received.$r")" -lt "$want" ] && kill -0 "$pid" 2>/dev/null &&
        [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.05
    done
    [ "$(signed "$TEST_TMP/received.$r")" -ge "$want" ] || not_signed=$((not_signed + 1))
    delay=$((50 + RANDOM % 451))
    sleep "$(printf '0.%03d' "$delay")"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    kills="$kills $want+${delay}ms:$(signed "$TEST_TMP/received.$r")"
    received+=(--received "$TEST_TMP/received.$r")
    # Did the kill land between the record and the state (or inside a record)?
    if ! output_has "state_size ([0-9]+) file_size \\1\$" "$bin/audit_logcheck" --state "$KYSO_AUDIT_LOG" \
        >>"$TEST_LOG" 2>&1; then
        past_state=$((past_state + 1))
    fi
done
got=$(cat "$TEST_TMP"/received.* | grep -vc '^pid ')
echo "# $rounds kills (after N signatures + ms: signatures received):$kills"
echo "# $got signatures received by the killed processes; $past_state kill(s) left the log past its state"
check "every killed signer had logged in" test "$not_ready" -eq 0
check "every signer to be killed after its first or second signature received it" test "$not_signed" -eq 0
check "the killed signers received signatures" test "$got" -gt 0

check "the next signer recovers the log and signs" \
    run_checked "$bin/audit_signer" --count 3 --received "$TEST_TMP/received.after"
received+=(--exact --received "$TEST_TMP/received.after")
check "kyso audit verify passes" "$KYSO_BUILDDIR/tools/kyso" audit verify --key "$KYSO_AUDIT_KEY"
check "sequence numbers without gap; every received signature has exactly one record of its process" \
    "$bin/audit_logcheck" "${received[@]}" "$KYSO_AUDIT_LOG"
check "the writer's state covers the whole log" \
    output_has "state_size ([0-9]+) file_size \\1\$" "$bin/audit_logcheck" --state "$KYSO_AUDIT_LOG"
"$bin/audit_logcheck" "${received[@]}" "$KYSO_AUDIT_LOG" | head -n 1 | sed 's/^/# /'
finish
