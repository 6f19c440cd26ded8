#!/bin/bash
# The audit trail under load: 4 processes x 8 threads sign through
# kyso-pkcs11.so at once (PIV 9A, CKM_ECDSA_SHA256, 5120 signatures in
# all) with the file sink. Afterwards every signature a process received
# has exactly one "sign" record with outcome CKR_OK, input_sha256 of its
# message and the process's pid, no process has more; sequence numbers run
# 1..K without gap or repeat; `kyso audit verify` passes.
. "$(dirname "$0")/lib.sh"
in_token piv
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}

bin=$KYSO_BUILDDIR/tests/integration
procs=${KYSO_AUDIT_PROCS:-4} threads=${KYSO_AUDIT_THREADS:-8} per_thread=${KYSO_AUDIT_PER_THREAD:-160}
want=$((procs * threads * per_thread))

start=$(date +%s%N)
pids=()
for p in $(seq "$procs"); do
    run_checked "$bin/audit_signer" --threads "$threads" --count "$per_thread" \
        --received "$TEST_TMP/received.$p" >"$TEST_TMP/signer.$p" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
ms=$((($(date +%s%N) - start) / 1000000))

total=0
for p in $(seq "$procs"); do
    cat "$TEST_TMP/signer.$p" >>"$TEST_LOG"
    read -r _ _ _ signed _ _ _ _ < <(grep '^pid ' "$TEST_TMP/signer.$p") || signed=0
    total=$((total + ${signed:-0}))
done
echo "# $procs processes x $threads threads: $total signatures in $ms ms"
check "$procs processes x $threads threads signed $want signatures, each verified, no error" \
    test "$status" -eq 0 -a "$total" -eq "$want"

received=()
for p in $(seq "$procs"); do received+=(--received "$TEST_TMP/received.$p"); done
"$bin/audit_logcheck" --exact "${received[@]}" "$KYSO_AUDIT_LOG" >"$TEST_TMP/logcheck.out" 2>&1
status=$?
cat "$TEST_TMP/logcheck.out" >>"$TEST_LOG"
read -r _ records _ sign_ok _ < <(head -n 1 "$TEST_TMP/logcheck.out")
echo "# the log: ${records:-?} records, ${sign_ok:-?} of them sign/CKR_OK"
check "every received signature has exactly one sign/CKR_OK record of its process, none more" \
    test "$status" -eq 0 -a "${sign_ok:-0}" -eq "$want"
check "sequence numbers 1..${records:-?} without gap or repeat" "$bin/audit_logcheck" "$KYSO_AUDIT_LOG"
check "kyso audit verify passes" \
    output_has "^OK: ${records:-0} records" "$KYSO_BUILDDIR/tools/kyso" audit verify --key "$KYSO_AUDIT_KEY"
check "the writer's state covers the whole log" \
    output_has "^next_seq $((${records:-0} + 1)) state_size ([0-9]+) file_size \\1\$" \
    "$bin/audit_logcheck" --state "$KYSO_AUDIT_LOG"
finish
