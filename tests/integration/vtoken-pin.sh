#!/bin/bash
# The token's PIN rules, checked at the APDU level with opensc-tool:
# wrong PINs count down and block the PIN at zero, the PUK unblocks it,
# wrong PUKs block the PUK, an empty VERIFY reports tries without spending
# one, "PIN always" on 9C needs a VERIFY right before every signature, and
# the counters survive a restart of the token.
. "$(dirname "$0")/lib.sh"
in_token --keys ec piv

hex() { od -An -tx1 -v | tr -d ' \n'; }
pad8() {
    local i
    printf '%s' "$1" | hex
    for ((i = ${#1}; i < 8; i++)); do printf ff; done
}
SELECT="00 A4 04 00 05 A0 00 00 03 08"
verify() { echo "00 20 00 80 08 $(pad8 "$1")"; }
unblock() { echo "00 2C 00 80 10 $(pad8 "$1")$(pad8 "$2")"; }
# GENERAL AUTHENTICATE with the P-256 key in 9C over a 32-byte hash.
HASH=$(printf 'kyso' | openssl dgst -sha256 -binary | hex)
SIGN9C="00 87 11 9C 26 7C 24 82 00 81 20 $HASH"
SIGN9A="00 87 11 9A 26 7C 24 82 00 81 20 $HASH"

# apdus APDU...: sends the APDUs in one card session after SELECT and
# prints one status word per APDU (SELECT's first).
apdus() {
    local args=(-r "$KYSO_READER" -s "$SELECT") a
    for a in "$@"; do args+=(-s "$a"); done
    opensc-tool "${args[@]}" 2>&1 | sed -n 's/^Received (SW1=0x\(..\), SW2=0x\(..\)).*/\1\2/p' | tr 'a-f' 'A-F'
}
# sw_are "EXPECTED SWS" APDU...: the status words after SELECT are these.
sw_are() {
    local want=$1 got
    shift
    got=$(apdus "$@" | tail -n +2 | tr '\n' ' ' | sed 's/ $//')
    echo "status words: $got (want $want)"
    [ "$got" = "$want" ]
}

check "empty VERIFY reports 3 tries" sw_are "63C3" "00 20 00 80"
check "wrong PINs count down to blocked" sw_are "63C2 63C1 63C0 6983 6983" \
    "$(verify 000000)" "$(verify 111111)" "$(verify 222222)" "00 20 00 80" "$(verify "$KYSO_TEST_PIN")"
check "the right PIN is refused while blocked" sw_are "6983" "$(verify "$KYSO_TEST_PIN")"
check "a PIN without FF padding is refused" sw_are "6A80" "00 20 00 80 06 313233343536"
check "the PUK unblocks with a new PIN" sw_are "9000 9000 9000" \
    "$(unblock "$KYSO_TEST_PUK" 654321)" "$(verify 654321)" "00 20 00 80"
check "the old PIN no longer works" sw_are "63C2" "$(verify "$KYSO_TEST_PIN")"
check "a good VERIFY restores the counter" sw_are "9000 9000" "$(verify 654321)" "00 20 00 80"

# "PIN always": one VERIFY, one signature with 9C.
check "9C signs right after VERIFY" sw_are "9000 9000" "$(verify 654321)" "$SIGN9C"
check "a second 9C signature needs a new VERIFY" sw_are "9000 9000 6982" "$(verify 654321)" "$SIGN9C" "$SIGN9C"
check "SELECT between VERIFY and a 9C signature voids the VERIFY" sw_are "9000 9000 6982" \
    "$(verify 654321)" "$SELECT" "$SIGN9C"
check "9A (PIN once) signs repeatedly after one VERIFY" sw_are "9000 9000 9000" "$(verify 654321)" "$SIGN9A" "$SIGN9A"
check "after VERIFY P1=FF (log out) 9A refuses" sw_are "9000 6982" "00 20 FF 80" "$SIGN9A"

# Wrong PUKs block the PUK; then nothing unblocks the PIN.
check "wrong PUKs block the PUK" sw_are "63C2 63C1 63C0 6983" \
    "$(unblock 00000000 111111)" "$(unblock 11111111 111111)" "$(unblock 22222222 111111)" \
    "$(unblock "$KYSO_TEST_PUK" 111111)"
check "with the PUK blocked the PIN still works" sw_are "9000" "$(verify 654321)"

# Counters persist across a restart of the token (state file).
apdus "$(verify 000000)" >/dev/null
check "state file records the spent try" output_has "PIN tries 2/3, PUK tries 0/3" \
    "$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE"

finish
