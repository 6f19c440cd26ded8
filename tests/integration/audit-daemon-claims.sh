#!/bin/bash
# kyso-auditd against clients that lie or hog it (any local user can
# connect): malformed base64 fields ("====" once crashed it) are refused
# and the daemon goes on; a "sign" record naming a certificate is written
# only with a signature made by that certificate's key ("checked":
# "signature"), so nobody writes signatures in another's name; the
# executable is the one connected, not one executed afterwards; a request
# id is written once, a withheld one never, a withholding of a released
# record adds a "withheld" record repeating it, and only its own user may
# withhold it; an expired request is not written; one user cannot take
# every connection from the others (--max-per-user, and room is made for
# another user). The module's own records carry "checked":"signature".
. "$(dirname "$0")/lib.sh"
in_token vgca-chipdoc

. "$(dirname "$0")/auditd_lib.sh"

send() { "$client" send "$sock" "$1"; }
other=nobody
as_other() { setpriv --reuid="$other" --regid=nogroup --clear-groups -- "$@"; }
id16() { head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start_daemon claims "$log" "$sock"
claims_pid=$dpid
alive() { kill -0 "$claims_pid" && "$client" send "$sock" '{"event":"pin_failure","outcome":"CKR_PIN_INCORRECT"}' >/dev/null; }

# ---- malformed base64 ----
for bad in '====' '=' 'A===' 'AAAA====' 'AA=A' 'AAA' '*AAA' 'AA==AA=='; do
    check_fails "a certificate of \"$bad\" is refused" send "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"cert\":\"$bad\"}"
    check_fails "a signature of \"$bad\" is refused" send "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"sig\":\"$bad\"}"
done
check "the daemon is still alive and serving" alive
n0=$(records "$log")

# ---- a signature in someone else's name ----
real_cert=$(openssl x509 -in "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem" -outform DER | base64 -w0)
check_fails "a sign record with another's certificate and no signature is refused" \
    send "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"key\":\"81\",\"cert\":\"$real_cert\"}"
check "saying it must carry the signature" grep -q "must carry the signature" <(send \
    "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"cert\":\"$real_cert\"}")
head -c 51 /dev/urandom >"$T/tbs"
head -c 256 /dev/urandom >"$T/forged.sig"
check_fails "one with a signature that is not that key's is refused" \
    send "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"cert\":\"$real_cert\",\"scheme\":\"pkcs1\",\"tbs\":\"$(base64 -w0 "$T/tbs")\",\"sig\":\"$(base64 -w0 "$T/forged.sig")\"}"
check "no record was written for any of them" test "$(records "$log")" -eq "$n0"
# A key and certificate of one's own: the signature is that key's, so the
# record is written, and checked.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/own.key" -subj "/CN=own" -days 1 -outform DER \
    -out "$T/own.der" >/dev/null 2>&1
openssl pkeyutl -sign -inkey "$T/own.key" -pkeyopt rsa_padding_mode:pkcs1 -in "$T/tbs" -out "$T/own.sig"
own="\"cert\":\"$(base64 -w0 "$T/own.der")\",\"scheme\":\"pkcs1\",\"tbs\":\"$(base64 -w0 "$T/tbs")\""
check "a signature made by the certificate's own key is written" \
    send "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",$own,\"sig\":\"$(base64 -w0 "$T/own.sig")\"}"
check "\"checked\":\"signature\", with the signature's hash" \
    jq -se --arg h "$(sha256sum "$T/own.sig" | cut -d' ' -f1)" \
    'last | .checked == "signature" and .signature_sha256 == $h and .cert.subject == "CN=own"' "$log"
check_fails "the same with the signature of other data is refused" \
    send "{\"event\":\"sign\",\"outcome\":\"CKR_OK\",\"cert\":\"$(base64 -w0 "$T/own.der")\",\"scheme\":\"pkcs1\",\"tbs\":\"$(head -c 51 /dev/urandom | base64 -w0)\",\"sig\":\"$(base64 -w0 "$T/own.sig")\"}"

# ---- the module's own records ----
printf 'kyso-auditd: văn bản được ký\n' >"$T/data"
id=$(p11 -O --type privkey 2>/dev/null | sed -n 's/^ *ID: *//p' | head -n1)
p11 -l --pin "$KYSO_TEST_PIN" -s --id "$id" -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig" >"$T/sig.out" 2>&1
check "pkcs11-tool signs through the daemon" test -s "$T/sig"
check "its record is \"checked\":\"signature\" with the signature's hash" \
    jq -se --arg h "$(sha256sum "$T/sig" | cut -d' ' -f1)" \
    '[.[] | select(.event == "sign" and .program == "pkcs11-tool")] | last
     | .checked == "signature" and .signature_sha256 == $h and (.request | length) == 32' "$log"

# ---- the executable is read when the client connects ----
n0=$(records "$log")
"$client" exec-after "$sock" '{"event":"pin_failure","outcome":"CKR_PIN_INCORRECT","detail":"exec after connect"}' \
    500 >"$T/exec" 2>&1
sleep 0.5
xid=$(head -n1 "$T/exec")
check "a client that executes another program before its request is complete is not written" \
    test ${#xid} -eq 32 -a "$(records "$log")" -eq "$n0"
check "the daemon is still alive and serving" alive

# ---- request ids: once, withheld, expired ----
rid=$(id16)
send "{\"request\":\"$rid\",\"event\":\"sign\",\"outcome\":\"CKR_OK\",$own,\"sig\":\"$(base64 -w0 "$T/own.sig")\"}" >"$T/r1"
send "{\"request\":\"$rid\",\"retry\":true,\"event\":\"sign\",\"outcome\":\"CKR_OK\",$own,\"sig\":\"$(base64 -w0 "$T/own.sig")\"}" >"$T/r2"
seq1=$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/r1")
check "a request sent twice is answered with the same seq" test -n "$seq1" -a "$seq1" = "$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/r2")"
check "and written once" test "$(grep -c "\"request\":\"$rid\"" "$log")" -eq 1
check_fails "another user cannot withhold it" as_other "$client" send "$sock" \
    "{\"event\":\"withheld\",\"request\":\"$rid\",\"detail\":\"not mine\"}"
check "its own user can" send "{\"event\":\"withheld\",\"request\":\"$rid\",\"detail\":\"the caller never got it\"}"
check "a \"withheld\" record follows, naming the first by seq and request and repeating what it was about" \
    jq -se --argjson s "$seq1" --arg r "$rid" \
    '(.[] | select(.seq == $s)) as $first | last
     | .event == "withheld" and .ref_seq == $s and .request == $r and .cert == $first.cert
       and .signature_sha256 == $first.signature_sha256 and .detail == "the caller never got it"' "$log"
n0=$(records "$log")
check "withholding it again writes nothing more" send "{\"event\":\"withheld\",\"request\":\"$rid\"}"
check "(no record)" test "$(records "$log")" -eq "$n0"
check_fails "and the id is not written again" send "{\"request\":\"$rid\",\"event\":\"pin_failure\",\"outcome\":\"CKR_PIN_INCORRECT\"}"
rid2=$(id16)
check "an id withheld before it was written" send "{\"event\":\"withheld\",\"request\":\"$rid2\"}"
check_fails "is never written afterwards" send "{\"request\":\"$rid2\",\"event\":\"pin_failure\",\"outcome\":\"CKR_PIN_INCORRECT\"}"
past=$(($(date +%s%3N) - 1000))
check_fails "a request past its \"expires\" is not written" \
    send "{\"expires\":$past,\"event\":\"pin_failure\",\"outcome\":\"CKR_PIN_INCORRECT\",\"detail\":\"expired\"}"
check "(no record)" test "$(records "$log")" -eq "$n0"
check_fails "a request without an id is refused" send '{"request":"","event":"pin_failure","outcome":"CKR_PIN_INCORRECT"}'
check_fails "so is an id that is not 32 hex digits" send '{"request":"ABC","event":"pin_failure","outcome":"CKR_PIN_INCORRECT"}'
check "the log verifies" verify --log "$log"
check "SIGTERM: the daemon exits 0" stop_daemon "$claims_pid"
check "the daemon printed nothing" silent claims

# ---- one user cannot take the service from another ----
vg_saved=("${vg[@]}")
vg=()
start_daemon fair "$log" "$sock" --max-clients 4 --max-per-user 2
vg=("${vg_saved[@]}")
fair_pid=$dpid
"$client" hold-many "$sock" 3 3 >"$T/many"
check "a user gets --max-per-user connections, the next is answered busy at once" \
    sh -c 'cat "$1" && grep -q "held 2 busy 1" "$1"' _ "$T/many"
"$client" hold-many "$sock" 2 10 >"$T/many2" &
hp=$!
helper_pids+=("$hp")
base=$(sockets_of "$fair_pid")
check "another user is served meanwhile" as_other "$client" send "$sock" '{"event":"pin_failure","outcome":"CKR_PIN_INCORRECT","detail":"other user"}'
check "its record names that user" jq -se --arg u "$other" 'last | .user == $u and .detail == "other user"' "$log"
kill "$hp" 2>/dev/null
wait "$hp" 2>/dev/null
check "SIGTERM: the daemon exits 0" stop_daemon "$fair_pid"

# (idle connections are hung up on only after 10 s here: one let go
# sooner made room)
vg=()
start_daemon full "$log" "$sock" --max-clients 2 --max-per-user 2 --client-timeout 10000
vg=("${vg_saved[@]}")
full_pid=$dpid
base=$(sockets_of "$full_pid")
"$client" hold "$sock" 20 >"$T/holdA" &
ha=$!
accepted "$full_pid" $((base + 1))
"$client" hold "$sock" 20 >"$T/holdB" &
hb=$!
helper_pids+=("$ha" "$hb")
check "one user holds every connection" accepted "$full_pid" $((base + 2))
t0=$(now_ms)
check "another user still gets one" as_other "$client" send "$sock" '{"event":"pin_failure","outcome":"CKR_PIN_INCORRECT","detail":"room made"}'
t1=$(now_ms)
check "at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1500
wait "$ha"
ra=$?
check "the first user's oldest connection was the one let go ($(cat "$T/holdA") ms)" \
    test "$ra" -eq 0 -a "$(cat "$T/holdA")" -lt 5000
check "SIGTERM: the daemon exits 0" stop_daemon "$full_pid"
check "the log verifies" verify --log "$log"
finish
