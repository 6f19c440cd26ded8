#!/bin/bash
# kyso-auditd, the host's audit daemon, with real signatures through
# kyso-pkcs11.so on the government token (KYSO_AUDIT=daemon:SOCKET):
# every signature gets one record with the signer's pid, uid, user and
# executable as the kernel knows them (not the daemon's, not what a
# request claims), and the chain verifies; the socket and its directory
# are made 0666/0755; idle and trickling clients neither delay the others
# nor keep their slot past their deadline; excess clients are answered
# busy; invalid and oversized requests, records too large for a line of
# the log and the chain's own events are refused; eight signers in
# parallel get distinct records; the log is reopened after an external
# rotation and SIGHUP, and rotated by size, with the chain verifying
# across the files; SIGTERM writes and answers the batch in hand and exits
# 0; a log that cannot be written (disk full) fails every client of the
# batch and the signature; a socket from systemd socket activation is
# used; with the daemon stopped signing fails (CKR_FUNCTION_FAILED) and no
# signature comes out. The daemon prints nothing but errors. Under
# KYSO_VALGRIND=1 every daemon runs under valgrind and any finding fails
# its exit status (under the sanitizers, theirs do).
. "$(dirname "$0")/lib.sh"
in_token vgca-chipdoc

. "$(dirname "$0")/auditd_lib.sh"


printf 'kyso-auditd: văn bản được ký\n' >"$T/data"
data_sha=$(openssl dgst -sha256 -r "$T/data" | cut -d' ' -f1)
openssl x509 -in "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem" -pubkey -noout >"$T/signer.pub"
p11 -O --type pubkey >"$T/O" 2>&1
id=$(sed -n 's/^ *ID: *//p' "$T/O" | head -n1)
check "the token's key has an ID" test -n "$id"
p11_exe=$(readlink -f "$(command -v pkcs11-tool)")

# sign_start OUT: one signature with pkcs11-tool in the background; spid is
# pkcs11-tool's own pid (what its record must name).
sign_start() {
    LD_PRELOAD=$preload ASAN_OPTIONS=$client_asan pkcs11-tool --module "$KYSO_MODULE" --login \
        --pin "$KYSO_TEST_PIN" --sign --id "$id" -m SHA256-RSA-PKCS -i "$T/data" -o "$1" >"$1.out" 2>&1 &
    spid=$!
}
sign() { # OUT
    sign_start "$1"
    wait "$spid"
}
sig_ok() { openssl dgst -sha256 -verify "$T/signer.pub" -signature "$1" "$T/data"; }
# sign_record PID [LOG]: the log's sign records of that process.
sign_record() { jq -c --argjson p "$1" 'select(.event == "sign" and .pid == $p)' "${2:-$log}"; }

# ---- start-up ----
"$daemon" --foreground --log "$T/missing.log" --socket "$run/nolog/audit.sock" >"$T/nolog.out" 2>&1
check "without a log the daemon exits non-zero" test $? -ne 0
check "and says how to make one" grep -q "kyso audit init" "$T/nolog.out"
check "and leaves no socket behind" test ! -e "$run/nolog/audit.sock"

start_daemon main "$log" "$sock" --client-timeout 20000
main_pid=$dpid
check "the daemon listens" test -S "$sock"
check "it made the socket directory 0755" test "$(stat -c %a "$run/kyso")" = 755
check "the socket is 0666" test "$(stat -c %a "$sock")" = 666
"$daemon" --foreground --log "$log" --socket "$sock" >"$T/second.out" 2>&1
check "a second daemon on the same socket refuses to start" test $? -ne 0
check "saying another one is listening" grep -q "another kyso-auditd" "$T/second.out"
check "and the first keeps its socket" "$client" wait "$sock" 5

# ---- one signature, one record, the signer's identity ----
n0=$(records "$log")
sign "$T/sig1"
check "pkcs11-tool signs through the daemon" test $? -eq 0
check "the signature verifies" sig_ok "$T/sig1"
rec=$(sign_record "$spid")
check "the signature has exactly one record" test "$(grep -c . <<<"$rec")" -eq 1
check "the log grew by that one record" test "$(records "$log")" -eq $((n0 + 1))
check "the record names pkcs11-tool's pid, uid, user, executable and program" \
    jq -e --argjson uid "$(id -u)" --arg user "$(id -un)" --arg exe "$p11_exe" \
    '.uid == $uid and .user == $user and .exe == $exe and .program == "pkcs11-tool"' <<<"${rec:-null}"
check "the record describes the signature (key, mechanism, data hash, outcome)" \
    jq -e --arg sha "$data_sha" \
    '.key == "81" and .mechanism == "CKM_SHA256_RSA_PKCS" and .input_sha256 == $sha and .outcome == "CKR_OK"
     and (.cert.sha256 | length) == 64' <<<"${rec:-null}"
check "no record names the daemon" \
    test "$(jq -c --argjson p "$main_pid" 'select(.pid == $p)' "$log" | grep -c .)" -eq 0
check "kyso audit verify passes" verify --log "$log"

# ---- clients that send nothing, or trickle, delay nobody ----
# A request long enough that trickling it (a byte every 100 ms) takes longer than the test.
sign_json="{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"detail\":\"a trickling client $(printf '%0600d' 0)\"}"
holders=()
base=$(sockets_of "$main_pid")
for i in 1 2 3 4; do
    "$client" hold "$sock" 60 >"$T/hold$i" &
    holders+=($!)
done
"$client" trickle "$sock" 60 "$sign_json" >"$T/trickle" &
holders+=($!)
helper_pids+=("${holders[@]}")
check "the daemon holds the five connections" accepted "$main_pid" $((base + 5))
t0=$(now_ms)
sign "$T/sig2"
r1=$?
sign "$T/sig3"
r2=$?
t1=$(now_ms)
check "two signatures complete while five clients hold connections without a request" test "$r1$r2" = 00
check "and the signatures verify" sig_ok "$T/sig3"
alive=0
for p in "${holders[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "the idle clients were still connected meanwhile ($((t1 - t0)) ms)" test "$alive" -eq 5
kill "${holders[@]}" 2>/dev/null
wait "${holders[@]}" 2>/dev/null
check "the trickling client's request was never recorded" bash -c "! grep -q 'a trickling client' '$log'"

# ---- identity comes from the kernel, not from the request ----
claim='{"event":"sign","outcome":"CKR_OK","pid":1,"uid":4242,"user":"mallory","exe":"/usr/bin/forged",'
claim+='"program":"forged","host":"elsewhere","module":"forged","seq":1,"time":"forged",'
claim+='"prev":"0000000000000000000000000000000000000000000000000000000000000000","mac":"00","log_id":"forged"}'
"$client" send "$sock" "$claim" >"$T/claim"
check "a request claiming another identity is recorded" test $? -eq 0
cpid=$(sed -n 's/^pid //p' "$T/claim")
cseq=$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/claim")
crec=$(jq -c --argjson s "${cseq:-0}" 'select(.seq == $s)' "$log")
check "the answer gives the record's seq" test -n "$crec"
check "with the connecting process's identity, not the claimed one" \
    jq -e --argjson p "${cpid:-0}" --arg exe "$(readlink -f "$client")" --argjson uid "$(id -u)" \
    '.pid == $p and .uid == $uid and .exe == $exe and .program == "audit_client" and .event == "sign"
     and .host != "elsewhere" and .module != "forged" and .time != "forged" and .seq != 1' <<<"${crec:-null}"
check "nothing claimed reached the log" bash -c "! grep -Eq 'mallory|forged|elsewhere' '$log'"
install -m 755 "$client" "$run/audit_client"
nobody_uid=$(id -u nobody)
setpriv --reuid="$nobody_uid" --regid="$(id -g nobody)" --clear-groups \
    "$run/audit_client" send "$sock" '{"event":"sign","outcome":"CKR_OK","user":"root","uid":0}' >"$T/nobody"
check "another user's process reaches the socket" test $? -eq 0
nseq=$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/nobody")
nrec=$(jq -c --argjson s "${nseq:-0}" 'select(.seq == $s)' "$log")
check "and is recorded under its own uid and user" \
    jq -e --argjson uid "$nobody_uid" '.uid == $uid and .user == "nobody"' <<<"${nrec:-null}"
check "kyso audit verify passes" verify --log "$log"

# ---- refused requests ----
n0=$(records "$log")
check_fails "a log_start request is refused" "$client" send "$sock" '{"event":"log_start","outcome":"CKR_OK"}'
check_fails "a log_continue request is refused" "$client" send "$sock" '{"event":"log_continue","log_id":"x"}'
check_fails "an unknown event is refused" "$client" send "$sock" '{"event":"coffee","outcome":"CKR_OK"}'
check_fails "a request that is not JSON is refused" "$client" send "$sock" 'sign please'
check_fails "a request with trailing bytes is refused" "$client" send "$sock" '{"event":"sign"}xx'
check_fails "a request with a bad hash is refused" "$client" send "$sock" '{"event":"sign","input_sha256":"zz"}'
check "a request announced larger than 64 KiB is refused" "$client" oversize "$sock"
check "none of them reached the log" test "$(records "$log")" -eq "$n0"

"$client" burst "$sock" 16 '{"event":"sign","outcome":"CKR_OK","detail":"burst"}' >"$T/burst"
check "sixteen requests at once are all answered ok" test $? -eq 0
check "with sixteen consecutive seq numbers" \
    bash -c "sort -n '$T/burst' | awk 'NR > 1 && \$1 != prev + 1 { exit 1 } { prev = \$1 } END { exit NR != 16 }'"

# ---- external rotation, SIGHUP ----
check "kyso audit rotate archives the log" "$kyso" audit rotate --log "$log" "$log.1"
kill -HUP "$main_pid"
sleep 0.3
sign "$T/sig4"
check "after SIGHUP a signature is recorded" test $? -eq 0
check "in the new file" test "$(sign_record "$spid" | grep -c .)" -eq 1
check "which starts with log_continue" jq -e '.event == "log_continue"' <<<"$(head -n1 "$log")"
check "the chain verifies across both files" verify --log "$log.1" --log "$log"
check_fails "the new file alone does not (it continues a chain)" verify --log "$log"
check "kyso audit rotate again, without SIGHUP" "$kyso" audit rotate --log "$log" "$log.2"
sign "$T/sig5"
check "the daemon notices the new file by itself" test $? -eq 0
check "the record is in the new file" test "$(sign_record "$spid" | grep -c .)" -eq 1
check "the chain verifies across the three files" verify --log "$log.1" --log "$log.2" --log "$log"

check "SIGTERM: the daemon exits 0" stop_daemon "$main_pid"
check "and removes its socket" test ! -e "$sock"
check "the daemon printed nothing" silent main

# ---- eight signers at once ----
# With --batch-ms 1500 the eight records share a flush or two. A process
# may find no token while another one resets the card as it finishes (the
# module's debug log says "card not usable: card reset"): that is the
# module's, before any record is asked for, and such a round is run again
# (at most three rounds). Any other failure counts.
start_daemon parallel "$log" "$sock" --batch-ms 1500
parallel_pid=$dpid
# The modules wait for their record longer than the batch takes.
export KYSO_AUDIT_TIMEOUT_MS=5000
for round in 1 2 3; do
    n0=$(records "$log")
    pids=()
    for i in 1 2 3 4 5 6 7 8; do
        rm -f "$T/par$i"
        sign_start "$T/par$i"
        pids+=("$spid")
    done
    failed=0 notoken=0
    for i in 1 2 3 4 5 6 7 8; do
        wait "${pids[$((i - 1))]}" && continue
        failed=$((failed + 1))
        grep -q "No slot with a token was found" "$T/par$i.out" && notoken=$((notoken + 1))
    done
    [ "$failed" -gt 0 ] && [ "$failed" -eq "$notoken" ] && [ "$round" -lt 3 ] || break
    echo "# round $round: $notoken pkcs11-tool process(es) found no token (module, not daemon); again"
done
unset KYSO_AUDIT_TIMEOUT_MS
check "eight parallel pkcs11-tool processes all sign" test "$failed" -eq 0
bad=0
for i in 1 2 3 4 5 6 7 8; do sig_ok "$T/par$i" >/dev/null 2>&1 || bad=$((bad + 1)); done
check "and all eight signatures verify" test "$bad" -eq 0
got=0
seqs=()
for p in "${pids[@]}"; do
    r=$(sign_record "$p")
    [ "$(grep -c . <<<"$r")" -eq 1 ] && got=$((got + 1)) && seqs+=("$(jq .seq <<<"$r")")
done
check "each has exactly one record under its own pid" test "$got" -eq 8
check "with eight distinct seq numbers" test "$(printf '%s\n' "${seqs[@]}" | sort -u | grep -c .)" -eq 8
check "the log grew by exactly eight records" test "$(records "$log")" -eq $((n0 + 8))
check "kyso audit verify passes" verify --log "$log.1" --log "$log.2" --log "$log"
# A record too large for a line of the log (a 9000-byte detail) sent with
# three others that share a batch: it alone is refused, and the log still
# verifies (a line longer than AUDIT_MAX_LINE would break verification).
huge="{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"detail\":\"$(printf '%09000d' 0)\"}"
n0=$(records "$log")
"$client" send "$sock" "$huge" >"$T/huge" &
hp=$!
"$client" burst "$sock" 3 '{"event":"sign","outcome":"CKR_OK","detail":"batch mate"}' >"$T/mates"
check "the records sharing a batch with one that cannot be sealed are written" test $? -eq 0
wait "$hp"
check "that one alone is refused" test $? -eq 1
check "as too large" grep -q "too large" "$T/huge"
check "the log grew by the three" test "$(records "$log")" -eq $((n0 + 3))
# The same with a certificate (the client's too) whose names fill a line.
subj=/CN=big
for i in $(seq 150); do subj="$subj/OU=organisational unit $i of a very long name"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "$subj" -days 1 \
    -outform DER -out "$T/big.der" >/dev/null 2>&1
check_fails "a request with a certificate whose record cannot fit a line is refused" \
    "$client" send "$sock" "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"cert\":\"$(base64 -w0 "$T/big.der")\"}"
check "the log still verifies" verify --log "$log.1" --log "$log.2" --log "$log"
check "SIGTERM: the daemon exits 0" stop_daemon "$parallel_pid"
check "the daemon printed nothing" silent parallel

# ---- limits: busy, deadlines, rotation by size ----
# Timing checks: this daemon runs at full speed even under KYSO_VALGRIND
# (valgrind's slowdown would make the deadlines and slot counts race).
vg_saved=("${vg[@]}")
vg=()
start_daemon limits "$log" "$sock" --max-clients 2 --max-per-user 2 --rotate-size 4K
vg=("${vg_saved[@]}")
limits_pid=$dpid
base=$(sockets_of "$limits_pid")
"$client" hold "$sock" 30 >"$T/holdA" &
ha=$!
"$client" hold "$sock" 30 >"$T/holdB" &
hb=$!
helper_pids+=("$ha" "$hb")
check "the daemon holds both idle clients" accepted "$limits_pid" $((base + 2))
"$client" send "$sock" "$sign_json" >"$T/busy"
check "a client beyond --max-clients is answered with an error" test $? -eq 1
check "saying the daemon is busy" grep -q busy "$T/busy"
wait "$ha"
ra=$?
wait "$hb"
rb=$?
check "idle clients are hung up on by the daemon" test "$ra$rb" = 00
check "after about two seconds ($(cat "$T/holdA") ms)" test "$(cat "$T/holdA")" -ge 1500 -a "$(cat "$T/holdA")" -le 8000
"$client" trickle "$sock" 30 "$sign_json" >"$T/trickle2"
check "a client trickling its request is hung up on too" test $? -eq 0
check "at its deadline, not later ($(cat "$T/trickle2") ms)" test "$(cat "$T/trickle2")" -le 8000
check "then a client is served again" "$client" send "$sock" '{"event":"sign","outcome":"CKR_OK"}'
for i in 1 2 3 4; do sign "$T/rot$i" || break; done
check "signatures go on while the daemon rotates the log by size" test -s "$T/rot4"
# (the daemon rotates after answering: the files are looked at once it is gone)
check "SIGTERM: the daemon exits 0" stop_daemon "$limits_pid"
archives=()
while IFS= read -r f; do archives+=("$f"); done < <(ls "$log".2[0-9]* 2>/dev/null | LC_ALL=C sort)
check "it rotated to LOG.<UTC time> (${#archives[@]} archives)" test "${#archives[@]}" -ge 1
check "the current log is below the size again" test "$(stat -c %s "$log")" -lt 8192
args=()
for f in "${archives[@]}"; do args+=(--log "$f"); done
check "the chain verifies across every file" verify --log "$log.1" --log "$log.2" "${args[@]}" --log "$log"
check "the daemon printed nothing" silent limits

# ---- SIGTERM with a batch in hand ----
start_daemon batch "$log" "$sock" --batch-ms 10000
batch_pid=$dpid
base=$(sockets_of "$batch_pid")
"$client" send "$sock" '{"event":"sign","outcome":"CKR_OK","detail":"in hand"}' >"$T/inhand" &
cp=$!
accepted "$batch_pid" $((base + 1))
sleep 0.2 # (and its request read: the daemon serves it either way)
t0=$(now_ms)
kill -TERM "$batch_pid"
wait "$cp"
check "a request waiting for its batch is written and answered at SIGTERM" test $? -eq 0
t1=$(now_ms)
check "without waiting out --batch-ms ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
wait "$batch_pid"
check "then the daemon exits 0" test $? -eq 0
check "the record is in the log" grep -q '"detail":"in hand"' "$log"
check "the daemon printed nothing" silent batch

# ---- a log that cannot be written: every client of the batch is told ----
# (a small tmpfs of our own: with-token runs in a private mount namespace)
full=$run/full
mkdir -p "$full"
if mount -t tmpfs -o size=256k tmpfs "$full" 2>/dev/null; then
    flog=$full/audit.log
    "$kyso" audit init --log "$flog" --key-out "$T/full.key" >/dev/null
    start_daemon full "$flog" "$sock"
    full_pid=$dpid
    dd if=/dev/zero of="$full/filler" bs=4k 2>/dev/null
    # The log's last page still has room: records go there until it is full.
    filled=""
    for _ in $(seq 100); do
        "$client" send "$sock" '{"event":"sign","outcome":"CKR_OK","detail":"filling the page"}' >"$T/fill" ||
            { filled=1; break; }
    done
    check "once the disk is full a request is answered not ok" test -n "$filled"
    check "saying why" grep -q "No space left" "$T/fill"
    n0=$(records "$flog")
    rm -f "$T/sig8"
    sign "$T/sig8"
    check "with the log's disk full signing fails" test $? -ne 0
    check "with CKR_FUNCTION_FAILED" grep -q CKR_FUNCTION_FAILED "$T/sig8.out"
    check "and no signature comes out" test ! -s "$T/sig8"
    # At least as long as the record that no longer fitted: a shorter one
    # could still go into the last bytes of the page.
    "$client" burst "$sock" 4 '{"event":"sign","outcome":"CKR_OK","detail":"filling the page, and more"}' >"$T/fullburst"
    check "every client of a batch that cannot be written is answered not ok" test $? -eq 1
    check "with the reason" test "$(grep -c 'No space left' "$T/fullburst")" -eq 4
    check "the daemon reports it on stderr" grep -q "No space left" "$T/full.err"
    check "nothing reached the log" test "$(records "$flog")" -eq "$n0"
    rm -f "$full/filler"
    sign "$T/sig8"
    check "with room again signing works" test $? -eq 0
    check "and is recorded" test "$(sign_record "$spid" "$flog" | grep -c .)" -eq 1
    check "the chain verifies" "$kyso" audit verify --log "$flog" --key "$T/full.key"
    check "SIGTERM: the daemon exits 0" stop_daemon "$full_pid"
    umount "$full"
else
    echo "# cannot mount a tmpfs: the full-disk case is not checked"
fi

# ---- systemd socket activation ----
if command -v systemd-socket-activate >/dev/null; then
    asock=$run/activated.sock
    systemd-socket-activate -l "$asock" "${vg[@]}" "$daemon" --foreground --log "$log" \
        --socket "$run/unused/audit.sock" >"$T/activated.out" 2>"$T/activated.err" &
    apid=$!
    daemon_pids+=("$apid")
    "$client" wait "$asock" 60 >>"$TEST_LOG" 2>&1
    KYSO_AUDIT="daemon:$asock" sign "$T/sig6"
    check "a daemon started by socket activation records a signature" test $? -eq 0
    check "under the signer's pid" test "$(sign_record "$spid" | grep -c .)" -eq 1
    check "it used systemd's socket, not its own" test ! -e "$run/unused"
    check "SIGTERM: the daemon exits 0" stop_daemon "$apid"
    # (systemd-socket-activate itself says what it does)
    check "the daemon printed nothing" \
        bash -c "! grep -Ev '^(Listening on|Communication attempt|Execing) ' '$T/activated.err' | grep -q . &&
                 test ! -s '$T/activated.out'"
else
    echo "# systemd-socket-activate missing: socket activation not checked"
fi

# ---- no daemon: no signature ----
rm -f "$T/sig7"
sign "$T/sig7"
check "with the daemon stopped signing fails" test $? -ne 0
check "with CKR_FUNCTION_FAILED" grep -q CKR_FUNCTION_FAILED "$T/sig7.out"
check "and no signature comes out" test ! -s "$T/sig7"
archives=()
while IFS= read -r f; do archives+=("--log" "$f"); done < <(ls "$log".2[0-9]* 2>/dev/null | LC_ALL=C sort)
check "in the end the whole chain verifies" verify --log "$log.1" --log "$log.2" "${archives[@]}" --log "$log"
finish
