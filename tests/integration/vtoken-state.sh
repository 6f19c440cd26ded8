#!/bin/bash
# kyso-vtoken's state file: what the card learns (a changed PIN, spent
# tries) survives a restart; a damaged, truncated or foreign file is
# refused with a clear error; saves leave no half-written file; init
# refuses a certificate that does not belong to its key.
. "$(dirname "$0")/lib.sh"
in_token piv

pki=$KYSO_TEST_PKI
state=$KYSO_TOKEN_STATE
hex() { od -An -tx1 -v | tr -d ' \n'; }
pad8() { local i; printf '%s' "$1" | hex; for ((i = ${#1}; i < 8; i++)); do printf ff; done; }
SELECT="00 A4 04 00 05 A0 00 00 03 08"
sw_of() { opensc-tool -r "$KYSO_READER" -s "$SELECT" -s "$1" 2>&1 |
    sed -n 's/^Received (SW1=0x\(..\), SW2=0x\(..\)).*/\1\2/p' | tail -n 1 | tr 'a-f' 'A-F'; }
sw_is() { local got; got=$(sw_of "$2"); echo "got $got want $1"; [ "$got" = "$1" ]; }
wait_card() { for _ in $(seq 50); do timeout 5 pcsc_scan -c -n 2>/dev/null | grep -q "Card inserted" && return 0; sleep 0.1; done; return 1; }

check "change the PIN" sw_is 9000 "00 24 00 80 10 $(pad8 "$KYSO_TEST_PIN")$(pad8 24681357)"
check "no half-written state file is left" bash -c "! ls '$state'.new 2>/dev/null"

# Restart the token from its state file.
check "control: quit" vtoken_ctl quit
# Restart only once pcscd has seen the token go, so that "seen" below is
# the new token and not the old state.
gone() { for _ in $(seq 50); do timeout 5 pcsc_scan -c -n 2>/dev/null | grep -A3 "Reader 0:" | grep -q "Card removed" && return 0; sleep 0.1; done; return 1; }
check "the stopped token is seen gone" gone
"$KYSO_VTOKEN" run --state "$state" --vpcd-port "$KYSO_VPCD_PORT" --control "$KYSO_VTOKEN_CTL" 2>>"$TEST_LOG" &
vt=$!
trap 'kill $vt 2>/dev/null; wait $vt 2>/dev/null' EXIT
check "the restarted token is seen" wait_card
check "the new PIN survived the restart" sw_is 9000 "00 20 00 80 08 $(pad8 24681357)"
check "the old PIN did not" sw_is 63C2 "00 20 00 80 08 $(pad8 "$KYSO_TEST_PIN")"

# Damaged files are refused, with the reason.
cp "$state" "$TEST_TMP/flipped"
size=$(stat -c %s "$state")
byte=$(dd if="$state" bs=1 skip=$((size / 2)) count=1 status=none | od -An -tu1 | tr -d ' ')
printf "\\x$(printf %02x $((byte ^ 0xFF)))" | dd of="$TEST_TMP/flipped" bs=1 seek=$((size / 2)) conv=notrunc status=none
check "the copy differs by one byte" bash -c "[ \$(cmp -l '$state' '$TEST_TMP/flipped' | wc -l) -eq 1 ]"
check "a flipped byte is refused" output_has "damaged: checksum mismatch" \
    bash -c "! timeout 10 '$KYSO_VTOKEN' run --state '$TEST_TMP/flipped' --vpcd-port 1 2>&1"
head -c $((size - 7)) "$state" >"$TEST_TMP/truncated"
check "a truncated file is refused" output_has "damaged" \
    bash -c "! '$KYSO_VTOKEN' show --state '$TEST_TMP/truncated' 2>&1"
check "a foreign file is refused" output_has "not a kyso-vtoken state file" \
    bash -c "! '$KYSO_VTOKEN' show --state '$pki/root-ca.pem' 2>&1"
check "a missing file is refused" output_has "cannot open" \
    bash -c "! '$KYSO_VTOKEN' show --state '$TEST_TMP/none' 2>&1"
check "the good file still loads" output_has "personality piv" "$KYSO_VTOKEN" show --state "$state"

# Personalisation checks what it is given.
check "init refuses a certificate of another key" output_has "does not belong to" bash -c \
    "! '$KYSO_VTOKEN' init --personality piv --state '$TEST_TMP/x' \
       --key '9c=$pki/person-an-sign-rsa2048.key.pem,$pki/person-binh-sign-rsa2048.pem' 2>&1"
check "init refuses an unknown personality" output_has "unknown personality" bash -c \
    "! '$KYSO_VTOKEN' init --personality nope --state '$TEST_TMP/x' 2>&1"
check "init refuses a short PIN" output_has "6 to 8" bash -c \
    "! '$KYSO_VTOKEN' init --personality piv --state '$TEST_TMP/x' --pin 123 2>&1"
check "init takes an AES-256 management key" "$KYSO_VTOKEN" init --personality piv --state "$TEST_TMP/aes" \
    --mgm-key aes256:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
check_fails "init refuses a management key of the wrong length" "$KYSO_VTOKEN" init --personality piv \
    --state "$TEST_TMP/y" --mgm-key aes256:0001

finish
