#!/bin/bash
# The government token's two emulated applets (TOKENS.md §1), reached
# through pcscd with opensc-tool at the APDU level: vgca-chipdoc (variant
# B) and vgca-jcop (variant A). Each runs in its own tests/with-token:
# ATR, application selection (foreign AIDs refused), PKCS#15 files and
# certificates read in chunks of at most 231 bytes, PIN try counting and
# unblocking, the MSE/PSO rules, a signature that verifies with openssl
# (variant A's 384 bytes through GET RESPONSE and in one extended
# answer), variant A's compressed certificate and its public key in the
# PuKDF, and the counters surviving a restart of the token.
. "$(dirname "$0")/lib.sh"

# Outside a token: run this script once per personality.
if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    rc=0
    for personality in vgca-chipdoc vgca-jcop; do
        echo "# $personality"
        "$KYSO_SRCDIR/tests/with-token" "$personality" -- "$BASH" "$0" "$personality" || rc=$?
    done
    exit "$rc"
fi
personality=$1
in_token "$personality"

pki=$KYSO_TEST_PKI
hex() { od -An -tx1 -v | tr -d ' \n' | tr 'a-f' 'A-F'; }
pad8() {
    local i
    printf '%s' "$1" | hex
    for ((i = ${#1}; i < 8; i++)); do printf FF; done
}
unhex() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }
ascii() { printf '%s' "$1" | hex; }
# (the ATR is printed by opensc-tool -a in lower case with colons)
atr_of() { opensc-tool -r "$KYSO_READER" -a 2>&1 | tail -n 1; }

# apdus APDU...: sends the APDUs in one card session (OpenSC's default
# driver: its IAS-ECC driver would not take the card, as on the real
# token) and prints one line per APDU: "SW DATA" (hex, upper case).
apdus() {
    local args=(-r "$KYSO_READER" -c default) a
    for a in "$@"; do args+=(-s "$a"); done
    opensc-tool "${args[@]}" 2>&1 | awk '
        /^Sending:/ { if (have) print sw, data; have = 0; next }
        /^Received \(SW1=0x/ {
            sw = toupper(substr($0, index($0, "SW1=0x") + 6, 2) substr($0, index($0, "SW2=0x") + 6, 2))
            data = ""; have = 1; first = 1; next }
        # util_hex_dump_asc: "XX " per byte then the bytes as ASCII; only
        # lines after the first are padded to 16 columns.
        have { n = first ? length($0) / 4 : length($0) - 48; first = 0
               line = substr($0, 1, 3 * n); gsub(/ /, "", line); data = data toupper(line) }
        END { if (have) print sw, data }'
}
# sws APDU...: the status words only, space-separated.
sws() { apdus "$@" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//'; }
# sw_are "EXPECTED" APDU...
sw_are() {
    local want=$1 got
    shift
    got=$(sws "$@")
    echo "status words: $got (want $want)"
    [ "$got" = "$want" ]
}
# raw_apdus APDU...: the same through scriptor, which neither fetches
# 61xx itself nor refuses extended APDUs.
raw_apdus() {
    local a
    for a in "$@"; do sed 's/ //g; s/../& /g; s/ $//' <<<"$a"; done | scriptor -r "$KYSO_READER" 2>&1 | awk '
        function out() {
            sub(/ :.*/, "", buf); gsub(/ /, "", buf)
            print substr(buf, length(buf) - 3), substr(buf, 1, length(buf) - 4)
        }
        /^> / { if (have) out(); have = 0; next }
        /^< / { have = 1; buf = substr($0, 3); next }
        have { buf = buf " " $0 }
        END { if (have) out() }'
}
# reset_card: out of the reader and back, as a power cycle: the card keeps
# its selection and PIN status between sessions otherwise, like a real one.
card_state() {
    timeout 5 pcsc_scan -c -n 2>/dev/null | grep -A3 "Reader 0:" | grep -o "Card state: Card [a-z]*" |
        sed "s/^Card state: //"
}
wait_state() {
    for _ in $(seq 50); do
        [ "$(card_state)" = "$1" ] && return 0
        sleep 0.1
    done
    echo "card state is '$(card_state)', want '$1'"
    return 1
}
reset_card() { vtoken_ctl remove >/dev/null && wait_state "Card removed" && vtoken_ctl insert >/dev/null &&
    wait_state "Card inserted"; }
# data_of N APDU...: the data of the N-th answer (1-based).
data_of() {
    local n=$1
    shift
    apdus "$@" | sed -n "${n}p" | awk '{ print $2 }'
}

if [ "$personality" = vgca-chipdoc ]; then
    AID=E828BD080FD25047656E65726963
    ATR=3b:df:18:ff:81:91:fe:1f:c3:00:31:b8:64:0c:01:ec:c1:73:94:01:80:82:90:00:b3
    PIN_REF=01 KEY_REF=81 SIG_LEN=256 CERT_FID=0003 CERT=$pki/person-an-sign-rsa2048.pem
else
    AID=E828BD080F014E585030
    ATR=3b:ff:18:00:00:81:31:fe:45:00:6b:15:0c:03:02:01:01:01:42:34:44:10:31:80:0d
    PIN_REF=03 KEY_REF=10 SIG_LEN=384 CERT_FID=0001 CERT=$pki/person-an-sign-rsa3072.pem
fi
aid_len=$(printf '%02X' $((${#AID} / 2)))
SELECT_APP="00 A4 04 0C $aid_len $AID"
select_ef() { echo "00 A4 02 0C 02 $1"; }
read_at() { printf '00 B0 %02X %02X 00' $(($1 >> 8)) $(($1 & 255)); }
verify() { echo "00 20 00 $PIN_REF 08 $(pad8 "$1")"; }
MSE="00 22 41 B6 06 80 01 8A 84 01 $KEY_REF"

# read_file FID [mf]: reads a whole EF as a client should (Le=00 from offset 0,
# 231 bytes at a time, until a short answer or 6B00) and prints its hex;
# fails if a chunk is longer than 231 bytes or a read errs otherwise.
read_file() {
    local fid=$1 reads=() off out sw data all="" prefix=()
    if [ "${2:-}" = mf ]; then prefix=("00 A4 00 0C 02 3F 00"); else prefix=("$SELECT_APP"); fi
    for ((off = 0; off < 4096; off += 231)); do reads+=("$(read_at $off)"); done
    out=$(apdus "${prefix[@]}" "$(select_ef "$fid")" "${reads[@]}") || return 1
    while read -r sw data; do
        [ "$sw" = 6B00 ] && break
        [ "$sw" = 9000 ] || { echo "read: $sw" >&2; return 1; }
        [ $((${#data} / 2)) -le 231 ] || { echo "chunk of $((${#data} / 2)) bytes" >&2; return 1; }
        all=$all$data
        [ $((${#data} / 2)) -lt 231 ] && break
    done < <(tail -n +$((${#prefix[@]} + 2)) <<<"$out")
    echo "$all"
}

check "the ATR is the measured one" output_has "^$ATR\$" atr_of
for foreign in A000000063504B43532D3135 A000000308 A000000077010800070000FE00000100 A0000000770108 D27600006601; do
    check "foreign AID $foreign answers 6A82" sw_are 6A82 "00 A4 04 0C $(printf '%02X' $((${#foreign} / 2))) $foreign"
done
check "SELECT of the application, P2=0C" sw_are 9000 "$SELECT_APP"
check "SELECT of the application, P2=00 with Le: FCI" output_has "^9000 6F..84${aid_len}${AID}\$" \
    apdus "00 A4 04 00 $aid_len $AID 00"
check "READ BINARY without a selected EF answers 6986" sw_are "9000 6986" "$SELECT_APP" "00 B0 00 00 00"
check "READ BINARY answers at most 231 bytes, whatever Le" output_has "^9000 .{462}\$" \
    apdus "$SELECT_APP" "$(select_ef "$CERT_FID")" "00 B0 00 00 00"

# TokenInfo.
tokeninfo=$(read_file 5032)
echo "$tokeninfo" >"$TEST_TMP/tokeninfo.hex"
check "TokenInfo: version 0, 8-byte serial" grep -Eq "^30..0201000408" "$TEST_TMP/tokeninfo.hex"
check "TokenInfo: label VGCA Token" grep -q "800A$(ascii "VGCA Token")" "$TEST_TMP/tokeninfo.hex"
check "TokenInfo: padded with 00 to 128 bytes" bash -c "[ \${#1} -eq 256 ]" _ "$tokeninfo"
openssl x509 -in "$CERT" -outform DER | hex >"$TEST_TMP/cert.hex"
der=$(cat "$TEST_TMP/cert.hex")

if [ "$personality" = vgca-chipdoc ]; then
    check "OpenSC's own detection does not take the card (as on the real token)" \
        bash -c '! opensc-tool -r "$KYSO_READER" -n'
    check "TokenInfo: manufacturer Bit4id" grep -q "0C06$(ascii Bit4id)" "$TEST_TMP/tokeninfo.hex"
    cert=$(read_file 0003)
    check "the signer certificate in EF 0003 is the DER, then 00" \
        bash -c '[[ $1 == "$2"* ]] && [[ ${1#"$2"} =~ ^(00)*$ ]] && [ $((${#1} % 512)) -eq 0 ]' _ "$cert" "$der"
    issuing=$(openssl x509 -in "$pki/issuing-ca.pem" -outform DER | hex)
    root=$(openssl x509 -in "$pki/root-ca.pem" -outform DER | hex)
    check "the issuing CA is in EF 0002" bash -c '[[ $1 == "$2"* ]]' _ "$(read_file 0002)" "$issuing"
    check "the root CA is in EF 0001" bash -c '[[ $1 == "$2"* ]]' _ "$(read_file 0001)" "$root"
    check "ODF: PrKDF, CDF, AODF" bash -c '[[ $1 == A006300404027002A406300404027005A806300404027001* ]]' \
        _ "$(read_file 5031)"
    check "the CDF points to 0003, then the CAs (authority) in 0002 and 0001" bash -c \
        '[[ $1 == *A1083006300404020003*0101FF*A1083006300404020002*0101FF*A1083006300404020001* ]]' \
        _ "$(read_file 7005)"
    check "PrKDF: key reference 81, RSA-2048" bash -c '[[ $1 == *02020081* && $1 == *02020800* ]]' _ "$(read_file 7002)"
    check "no EF.DIR, no MF" sw_are "6A82 6A82" "00 A4 02 0C 02 2F 00" "00 A4 00 0C 02 3F 00"
    check "the same PIN answers under reference 81" sw_are "9000 63C3" "$SELECT_APP" "00 20 00 81"
else
    check "TokenInfo: chip NXP SecID-P71" grep -q "0C0D$(ascii "NXP SecID-P71")" "$TEST_TMP/tokeninfo.hex"
    # A power cycle leaves the card in the MF: EF.DIR is there, the
    # PKCS#15 files are not (they are in the application).
    check "power cycle" reset_card
    check "the PKCS#15 files are not in the MF" sw_are "6A82 6986" "$(select_ef 5031)" "00 B0 00 00 00"
    dir=$(read_file 2F00 mf)
    check "EF.DIR in the MF names the JCOP4Bit4Id application" \
        bash -c '[[ $1 == "61194F0A${2}500B${3}"* ]]' _ "$dir" "$AID" "$(ascii JCOP4Bit4Id)"
    check "EF.DIR is not in the application; SELECT 3F00 (P1=00) leads back to it" sw_are "9000 6A82 9000 9000 9000" \
        "$SELECT_APP" "00 A4 02 0C 02 2F 00" "00 A4 00 0C 02 3F 00" "00 A4 00 0C 02 2F 00" "00 B0 00 00 01"
    check "ODF: PrKDF, PuKDF, CDF, DODF, AODF" bash -c \
        '[[ $1 == A006300404027002A106300404027004A406300404027005A706300404027006A806300404027001* ]]' \
        _ "$(read_file 5031)"
    check "PrKDF: iD BE72ECF5, key reference 10, path 3F00DF10, RSA-3072" bash -c \
        '[[ $1 == *0404BE72ECF5* && $1 == *020110* && $1 == *04043F00DF10* && $1 == *02020C00* ]]' _ "$(read_file 7002)"
    check "the CDF points to EF 0001 with the key's iD" bash -c '[[ $1 == *0404BE72ECF5*A1083006300404020001* ]]' \
        _ "$(read_file 7005)"
    blob=$(read_file 0001)
    check "EF 0001 holds 7A, not the certificate" \
        bash -c '[[ $1 == 7A82* ]] && [[ $1 != *"${2:0:64}"* ]] && [[ $1 != *"${2:200:32}"* ]]' _ "$blob" "$der"
    check "the 7A content is shorter than the certificate (compressed)" \
        bash -c '[ $((16#${1:4:4})) -lt $((${#2} / 2)) ]' _ "$blob" "$der"
    modulus=$(openssl x509 -in "$CERT" -noout -modulus | sed 's/^Modulus=//')
    check "the PuKDF carries the certificate's public key" \
        bash -c '[[ $1 == *"$2"* ]] && [[ $1 == *0404BE72ECF5* ]]' _ "$(read_file 7004)" "$modulus"
    check "variant B's PIN reference is not this card's" sw_are "9000 6A88 6A88" "$SELECT_APP" "00 20 00 01" "00 20 00 81"
    check "the PUK (reference 06) reports its tries" sw_are "9000 63C3" "$SELECT_APP" "00 20 00 06"
fi

# The PIN: tries count down, an unpadded PIN costs nothing, the right one
# restores the counter.
check "empty VERIFY reports 3 tries" sw_are "9000 63C3" "$SELECT_APP" "00 20 00 $PIN_REF"
check "wrong PINs count down; an unpadded PIN is refused for free" sw_are "9000 63C2 63C1 6700 63C1" \
    "$SELECT_APP" "$(verify 00000000)" "$(verify 11111111)" "00 20 00 $PIN_REF 04 31323334" "00 20 00 $PIN_REF"
check "the right PIN verifies and restores the counter" sw_are "9000 9000 9000" \
    "$SELECT_APP" "$(verify "$KYSO_TEST_PIN")" "00 20 00 $PIN_REF"

# Signing.
printf 'Quyết định số 1/2025 — kyso %s\n' "$personality" >"$TEST_TMP/doc.txt"
di=3031300D060960864801650304020105000420$(openssl dgst -sha256 -binary "$TEST_TMP/doc.txt" | hex)
PSO="00 2A 9E 9A 33 $di 00"
check "power cycle" reset_card
check "PSO without a verified PIN answers 6982" sw_are "9000 9000 6982" "$SELECT_APP" "$MSE" "$PSO"
check "any MSE is accepted; a wrong one makes the PSO fail with 6A80" sw_are "9000 9000 9000 6A80" \
    "$SELECT_APP" "$(verify "$KYSO_TEST_PIN")" "00 22 41 B6 06 80 01 8A 84 01 99" "$PSO"
check "PSO DECIPHER is not offered" sw_are "9000 9000 6D00" "$SELECT_APP" "$(verify "$KYSO_TEST_PIN")" \
    "00 2A 80 86 04 00 01 02 03"
sig=$(data_of 4 "$SELECT_APP" "$(verify "$KYSO_TEST_PIN")" "$MSE" "$PSO")
check "the signature is $SIG_LEN bytes" bash -c "[ \$((\${#1} / 2)) -eq $SIG_LEN ]" _ "$sig"
unhex "$sig" >"$TEST_TMP/doc.sig"
check "the signature verifies with openssl (SHA-256)" verify_signature "$CERT" "$TEST_TMP/doc.txt" "$TEST_TMP/doc.sig" sha256
check_fails "it does not verify for another document" \
    verify_signature "$CERT" "$TEST_TMP/tokeninfo.hex" "$TEST_TMP/doc.sig" sha256
di1=3021300906052B0E03021A05000414$(openssl dgst -sha1 -binary "$TEST_TMP/doc.txt" | hex)
sig1=$(data_of 4 "$SELECT_APP" "$(verify "$KYSO_TEST_PIN")" "$MSE" "00 2A 9E 9A 23 $di1 00")
unhex "$sig1" >"$TEST_TMP/doc1.sig"
check "a SHA-1 DigestInfo is signed too" verify_signature "$CERT" "$TEST_TMP/doc.txt" "$TEST_TMP/doc1.sig" sha1
check "a raw hash (not a DigestInfo) is refused" sw_are "9000 9000 9000 6A80" "$SELECT_APP" \
    "$(verify "$KYSO_TEST_PIN")" "$MSE" "00 2A 9E 9A 20 ${di:38} 00"
if [ "$personality" = vgca-jcop ]; then
    # OpenSC fetches 61xx itself and takes no extended APDU with its
    # default driver: scriptor (pcsc-tools) shows the raw exchanges.
    raw=$(raw_apdus "$SELECT_APP" "$(verify "$KYSO_TEST_PIN")" "$MSE" "$PSO" "00 C0 00 00 80" \
        "00 2A 9E 9A 00 00 33 $di 00 00")
    echo "$raw" >"$TEST_TMP/raw.txt"
    check "a short Le gets 256 bytes and 61 80" bash -c '[[ $(sed -n 4p "$1") =~ ^6180\ [0-9A-F]{512}$ ]]' _ "$TEST_TMP/raw.txt"
    check "GET RESPONSE gets the last 128" bash -c '[[ $(sed -n 5p "$1") =~ ^9000\ [0-9A-F]{256}$ ]]' _ "$TEST_TMP/raw.txt"
    unhex "$(sed -n 4p "$TEST_TMP/raw.txt" | cut -d" " -f2)$(sed -n 5p "$TEST_TMP/raw.txt" | cut -d" " -f2)" \
        >"$TEST_TMP/pieces.sig"
    check "the two pieces verify" verify_signature "$CERT" "$TEST_TMP/doc.txt" "$TEST_TMP/pieces.sig" sha256
    check "an extended Le gets all 384 bytes at once" bash -c '[[ $(sed -n 6p "$1") =~ ^9000\ [0-9A-F]{768}$ ]]' \
        _ "$TEST_TMP/raw.txt"
    unhex "$(sed -n 6p "$TEST_TMP/raw.txt" | cut -d" " -f2)" >"$TEST_TMP/ext.sig"
    check "the extended answer verifies" verify_signature "$CERT" "$TEST_TMP/doc.txt" "$TEST_TMP/ext.sig" sha256
fi

# Blocking and the PUK.
if [ "$personality" = vgca-chipdoc ]; then unblock_p2=01; else unblock_p2=03; fi
check "three wrong PINs block the PIN (6983 on the third)" sw_are "9000 63C2 63C1 6983 6983 6983" \
    "$SELECT_APP" "$(verify 00000000)" "$(verify 11111111)" "$(verify 22222222)" "00 20 00 $PIN_REF" \
    "$(verify "$KYSO_TEST_PIN")"
check "a wrong PUK costs a PUK try" sw_are "9000 63C2" "$SELECT_APP" \
    "00 2C 00 $unblock_p2 10 $(pad8 00000000)$(pad8 2468)"
check "the PUK unblocks with a new PIN" sw_are "9000 9000 63C3 9000" "$SELECT_APP" \
    "00 2C 00 $unblock_p2 10 $(pad8 "$KYSO_TEST_PUK")$(pad8 2468)" "00 20 00 $PIN_REF" "$(verify 2468)"
check "CHANGE REFERENCE DATA" sw_are "9000 9000 63C2 9000" "$SELECT_APP" \
    "00 24 00 $PIN_REF 10 $(pad8 2468)$(pad8 13572468)" "$(verify 2468)" "$(verify 13572468)"

# The counters survive a restart of the token.
apdus "$SELECT_APP" "$(verify 99999999)" >/dev/null
check "state file records the spent try" output_has "PIN tries 2/3" "$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE"
check "control: quit" vtoken_ctl quit
# pcscd notices the token is gone at its next look; only then restart it,
# so "inserted" below is the new token, not the old state.
check "the stopped token is seen gone" wait_state "Card removed"
"$KYSO_VTOKEN" run --state "$KYSO_TOKEN_STATE" --vpcd-port "$KYSO_VPCD_PORT" --control "$KYSO_VTOKEN_CTL" \
    2>>"$TEST_LOG" &
vt=$!
trap 'kill $vt 2>/dev/null; wait $vt 2>/dev/null' EXIT
check "the restarted token is seen" wait_state "Card inserted"
check "after the restart: 2 tries left, the new PIN works" sw_are "9000 63C2 9000" \
    "$SELECT_APP" "00 20 00 $PIN_REF" "$(verify 13572468)"

finish
