#!/bin/bash
# Rotation while signing: a process signs continuously through
# kyso-pkcs11.so (PIV 9A, file sink, 2 threads) while `kyso audit rotate`
# archives the log twice. The process keeps signing without an error (its
# records go on in the new file: the module must follow the rotation, not
# write into the archive or refuse); the three files verify as one chain;
# every signature it received has exactly one record.
. "$(dirname "$0")/lib.sh"
in_token piv
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}

bin=$KYSO_BUILDDIR/tests/integration
kyso=$KYSO_BUILDDIR/tools/kyso
log=$KYSO_AUDIT_LOG
run_checked "$bin/audit_signer" --threads 2 --count 300 --received "$TEST_TMP/received" --ready "$TEST_TMP/ready" \
    >"$TEST_TMP/signer.out" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -e "$TEST_TMP/ready" ] || ! kill -0 "$pid" 2>/dev/null && break; sleep 0.05; done
# Rotate only once the current file holds a signature record: under
# valgrind the first signatures take a while to come.
wait_for_sign() {
    for _ in $(seq 1200); do
        grep -q '"event":"sign"' "$log" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.05
    done
}
wait_for_sign
check "kyso audit rotate while signing (1)" "$kyso" audit rotate --log "$log" "$log.1"
wait_for_sign
check "kyso audit rotate while signing (2)" "$kyso" audit rotate --log "$log" "$log.2"
wait "$pid"
status=$?
cat "$TEST_TMP/signer.out" >>"$TEST_LOG"
check "the signing process went on through both rotations: 600 signatures, no error" \
    test "$status" -eq 0 -a -n "$(grep -E '^pid [0-9]+ signed 600 failed 0 wrong 0$' "$TEST_TMP/signer.out")"
check "the archives and the log verify as one chain" \
    "$kyso" audit verify --log "$log.1" --log "$log.2" --log "$log" --key "$KYSO_AUDIT_KEY"
check "signatures were recorded in each file" \
    bash -c "grep -q '\"event\":\"sign\"' '$log.1' && grep -q '\"event\":\"sign\"' '$log.2' && grep -q '\"event\":\"sign\"' '$log'"
check "every received signature has exactly one record, sequence numbers without gap" \
    "$bin/audit_logcheck" --exact --received "$TEST_TMP/received" "$log.1" "$log.2" "$log"
check "signing goes on in a new process" run_checked "$bin/audit_signer" --count 2
check "and the chain still verifies" \
    "$kyso" audit verify --log "$log.1" --log "$log.2" --log "$log" --key "$KYSO_AUDIT_KEY"
finish
