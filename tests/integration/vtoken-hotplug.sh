#!/bin/bash
# Operability of kyso-vtoken: card removal and re-insertion are seen by
# PC/SC clients and the token works again afterwards; the token reconnects
# by itself when pcscd restarts; latency can be added at run time; the
# APDU and signature counters report what happened.
. "$(dirname "$0")/lib.sh"
in_token piv

card_state() { timeout 5 pcsc_scan -c -n 2>/dev/null | grep -A3 "Reader 0:" | grep -o "Card state: Card [a-z]*" | sed "s/^Card state: //"; }
wait_state() {
    local want=$1 i
    for i in $(seq 50); do
        [ "$(card_state)" = "$want" ] && return 0
        sleep 0.1
    done
    echo "card state is '$(card_state)', want '$want'"
    return 1
}
sign_ok() {
    pkcs11-tool --module "$OPENSC_MODULE" --login --pin "$KYSO_TEST_PIN" --sign --id 02 -m SHA256-RSA-PKCS \
        -i "$TEST_TMP/data" -o "$TEST_TMP/sig" &&
        verify_signature "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem" "$TEST_TMP/data" "$TEST_TMP/sig"
}
echo "hotplug" >"$TEST_TMP/data"

check "the card is present at start" wait_state "Card inserted"
check "the token signs" sign_ok
check "control: remove" vtoken_ctl remove
check "pcsc_scan sees the card removed" wait_state "Card removed"
check_fails "nothing signs while the card is out" sign_ok
check "control: insert" vtoken_ctl insert
check "pcsc_scan sees the card inserted again" wait_state "Card inserted"
check "the re-inserted token signs" sign_ok

# pcscd restarts: the token reconnects to the new vpcd listener by itself.
kill "$KYSO_PCSCD_PID"
wait_gone() { for _ in $(seq 50); do kill -0 "$KYSO_PCSCD_PID" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
check "pcscd stopped" wait_gone
env -u LD_PRELOAD pcscd --foreground --config "$KYSO_PCSCD_CONFIG" >"$TEST_TMP/pcscd2.log" 2>&1 &
new_pcscd=$!
trap 'kill $new_pcscd 2>/dev/null; wait $new_pcscd 2>/dev/null' EXIT
check "the token is back after pcscd restarted" wait_state "Card inserted"
check "and signs" sign_ok

# Counters: one signature is one private-key operation on the card.
check "control: stats-reset" vtoken_ctl stats-reset
check "counters start at zero" output_has "^apdus 0 bytes_in 0 bytes_out 0 signatures 0$" vtoken_ctl stats
sign_ok >>"$TEST_LOG" 2>&1
check "one signature counted" output_has "signatures 1$" vtoken_ctl stats
check "APDUs and bytes counted" output_has "^apdus [1-9][0-9]* bytes_in [1-9][0-9]* bytes_out [1-9][0-9]*" vtoken_ctl stats

# Latency: 10 APDUs at 100 ms each take at least a second.
check "control: latency" vtoken_ctl latency 100 0
ten_apdus() {
    local args=(-r "$KYSO_READER") i
    for i in $(seq 10); do args+=(-s "00 CB 3F FF 05 5C 03 5F C1 02"); done
    local t0 t1
    t0=$(date +%s%N)
    opensc-tool "${args[@]}" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo "elapsed $(( (t1 - t0) / 1000000 )) ms"
    [ $(( (t1 - t0) / 1000000 )) -ge 1000 ]
}
check "per-APDU latency applies" ten_apdus
vtoken_ctl latency 0 0 >/dev/null
check_fails "an unknown control command is refused" vtoken_ctl frobnicate

finish
