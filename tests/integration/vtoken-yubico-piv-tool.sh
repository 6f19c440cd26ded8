#!/bin/bash
# yubico-piv-tool (2.2.0, Debian 12) drives kyso-vtoken unchanged: status,
# the PIN life cycle (verify, change, block, unblock with the PUK), a new
# management key, on-card key generation (RSA2048, ECCP256) with
# certificates issued by the test CA for the generated keys, key and
# certificate import, read-back, and signatures (--sign, test-signature)
# that openssl verifies against the certificates.
#
# Limits of yubico-piv-tool 2.2.0, not of the token:
#  - request-certificate and selfsign-certificate sign through a legacy
#    RSA_METHOD/EC_KEY_METHOD that OpenSSL 3 bypasses, so they fail before
#    any APDU is sent ("Failed signing request"). Certificates for the
#    generated keys are made with `openssl x509 -new -force_pubkey`
#    instead, signed by the test issuing CA.
#  - signing is the --sign flag (listed only by --full-help), run after the
#    actions: `-a verify-pin --sign -s SLOT -A ALG -H HASH -i DATA -o SIG`.
#  - ykpiv 2.2.0 refuses an ECDSA input longer than the key (SHA384 or
#    SHA512 with a P-256 key) itself, YKPIV_SIZE_ERROR without an APDU;
#    later versions truncate it.
. "$(dirname "$0")/lib.sh"
in_token piv

pki=$KYSO_TEST_PKI
T=$TEST_TMP
pin=$KYSO_TEST_PIN
mgm=$KYSO_TEST_MGM_KEY
new_mgm=1122334455667788990011223344556677889900aabbccdd

yk() { yubico-piv-tool -r "$KYSO_READER" "$@"; }

# has_line TEXT FILE: FILE has a line that is exactly TEXT.
has_line() { grep -Fxq -- "$1" "$2" || { echo "no line '$1' in $2:"; cat "$2"; return 1; }; }

# slot_block SLOT FILE: the lines of SLOT's entry in a status listing.
slot_block() {
    awk -v s="Slot $1:" '$0 ~ /^Slot / { on = index($0, s) == 1; next } /^[^\t]/ { on = 0 } on' "$2"
}

# slot_has SLOT TEXT FILE: SLOT's entry in the status FILE has the line TEXT.
slot_has() {
    local block
    block=$(slot_block "$1" "$3")
    echo "slot $1:"
    echo "$block"
    grep -Fxq -- "$2" <<<"$block"
}

# slot_absent SLOT FILE: the status FILE has no entry for SLOT.
slot_absent() { ! grep -q "^Slot $1:" "$2"; }

# fingerprint CERT.pem: SHA-256 fingerprint as yubico-piv-tool prints it.
fingerprint() {
    openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# tries_are N: status reports N PIN tries left.
tries_are() {
    yk -a status >"$T/status-tries.txt" && has_line $'PIN tries left:\t'"$1" "$T/status-tries.txt"
}

# verify_then_tries PIN N: PIN verifies, then status reports N tries.
verify_then_tries() { yk -a verify-pin -P "$1" && tries_are "$2"; }


# sign SLOT ALG HASH DATA SIG [nopin]: a signature made by yubico-piv-tool,
# after verify-pin unless the last argument is "nopin".
sign() {
    local slot=$1 alg=$2 hash=$3 data=$4 sig=$5 mode=${6:-pin}
    rm -f "$sig"
    if [ "$mode" = nopin ]; then
        # --sign needs an action; list-readers touches no security status.
        yk -a list-readers --sign -s "$slot" -A "$alg" -H "$hash" -i "$data" -o "$sig"
    else
        yk -a verify-pin -P "$pin" --sign -s "$slot" -A "$alg" -H "$hash" -i "$data" -o "$sig"
    fi
}

# read_cert_same SLOT PEM|DER CERT.pem: read-certificate gives CERT.pem
# byte for byte (PEM), or its DER encoding.
read_cert_same() {
    local slot=$1 format=$2 cert=$3 out=$T/read-$1.${2,,}
    rm -f "$out"
    yk -a read-certificate -s "$slot" -K "$format" -o "$out" || return 1
    if [ "$format" = PEM ]; then
        cmp "$out" "$cert"
    else
        openssl x509 -in "$cert" -outform DER | cmp - "$out"
    fi
}

token_key() { "$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE" | grep "^key $1:"; }
no_token_key() { ! token_key "$1"; }

signature_count() { vtoken_ctl stats | sed -n 's/.*signatures \([0-9]*\).*/\1/p'; }
signature_count_is() {
    local n
    n=$(signature_count)
    echo "signatures: $n (want $1)"
    [ "$n" = "$1" ]
}

# issue PUB CN OUT: a certificate for the public key PUB from the test CA.
issue() {
    openssl x509 -new -subj "/C=VN/O=kyso test/CN=$2" -force_pubkey "$1" \
        -CA "$pki/issuing-ca.pem" -CAkey "$pki/issuing-ca.key.pem" -days 30 -out "$3"
}

head -c 3000 /dev/urandom >"$T/data"
cp "$T/data" "$T/data.tampered"
printf 'x' >>"$T/data.tampered"

# --- status ---------------------------------------------------------------
"$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE" >"$T/show.txt"
serial=$(sed -n 's/.*serial \([0-9]*\),.*/\1/p' "$T/show.txt")
version=$(sed -n 's/.*version \([0-9.]*\)$/\1/p' "$T/show.txt")
yk -a status >"$T/status.txt" 2>>"$TEST_LOG"
# The subject of person-an-sign-rsa2048.pem as yubico-piv-tool prints it
# (X509_NAME_print_ex with XN_FLAG_COMPAT: UTF-8 bytes escaped as \xNN).
subject9c='C=VN, L=H\xC3\xA0 N\xE1\xBB\x99i, O=S\xE1\xBB\x9F Th\xC3\xB4ng tin v\xC3\xA0 Truy\xE1\xBB\x81n th\xC3\xB4ng H\xC3\xA0 N\xE1\xBB\x99i/title=Chuy\xC3\xAAn vi\xC3\xAAn, CN=Nguy\xE1\xBB\x85n V\xC4\x83n An/UID=CCCD:000000000001/emailAddress=an.nv@hanoi.gov.vn.invalid'
check "status: version is the token's ($version)" has_line $'Version:\t'"$version" "$T/status.txt"
check "status: serial number is the token's ($serial)" has_line $'Serial Number:\t'"$serial" "$T/status.txt"
check "status: 9c holds an RSA2048 key" slot_has 9c $'\tAlgorithm:\tRSA2048' "$T/status.txt"
check "status: 9c certificate subject" slot_has 9c $'\tSubject DN:\t'"$subject9c" "$T/status.txt"
check "status: 9c certificate is person-an-sign-rsa2048.pem" \
    slot_has 9c $'\tFingerprint:\t'"$(fingerprint "$pki/person-an-sign-rsa2048.pem")" "$T/status.txt"
check "status: 9a holds an ECCP256 key" slot_has 9a $'\tAlgorithm:\tECCP256' "$T/status.txt"
check "status: 82 holds an ECCP256 key" slot_has 82 $'\tAlgorithm:\tECCP256' "$T/status.txt"
check "status: slot 9e is empty" slot_absent 9e "$T/status.txt"
check "status: 3 PIN tries left" has_line $'PIN tries left:\t3' "$T/status.txt"

# --- PIN ------------------------------------------------------------------
check "verify-pin with the PIN" yk -a verify-pin -P "$pin"
check_fails "verify-pin with a wrong PIN" yk -a verify-pin -P 000000
check "the wrong PIN cost a try" tries_are 2
check "the right PIN restores the tries" verify_then_tries "$pin" 3

check_fails "change-pin with a wrong current PIN" yk -a change-pin -P 000000 -N 654321
check "change-pin" yk -a change-pin -P "$pin" -N 654321
check_fails "the old PIN is refused after change-pin" yk -a verify-pin -P "$pin"
check "the new PIN is accepted" yk -a verify-pin -P 654321
pin=654321

yk -a verify-pin -P 000000 >>"$TEST_LOG" 2>&1
yk -a verify-pin -P 000000 >>"$TEST_LOG" 2>&1
check "the third wrong PIN blocks the PIN" fails_saying "blocked" yk -a verify-pin -P 000000
check "status: 0 PIN tries left" tries_are 0
check_fails "a blocked PIN refuses the right PIN" yk -a verify-pin -P "$pin"
check_fails "unblock-pin with a wrong PUK" yk -a unblock-pin -P 87654321 -N 222222
check_fails "the wrong PUK did not unblock the PIN" yk -a verify-pin -P "$pin"
check "unblock-pin with the PUK" yk -a unblock-pin -P "$KYSO_TEST_PUK" -N 222222
check "the PIN set by unblock-pin works" yk -a verify-pin -P 222222
check_fails "the PIN from before the block is gone" yk -a verify-pin -P "$pin"
pin=222222
check "status: tries restored after unblocking" verify_then_tries "$pin" 3

# --- management key ---------------------------------------------------------
check "set-mgm-key (authenticated with the default key)" yk --key="$mgm" -a set-mgm-key -n "$new_mgm"
check_fails "the old management key is refused for a write" \
    yk --key="$mgm" -a generate -s 9e -A RSA2048 -o "$T/refused.pub"
check "the refused write changed nothing" no_token_key 9E

# --- generate, certify, import the certificate ----------------------------
check "generate RSA2048 in 9e with the new management key" \
    yk --key="$new_mgm" -a generate -s 9e -A RSA2048 -o "$T/gen9e.pub"
check "the generated 9e key is a 2048-bit RSA public key" \
    output_has "Public-Key: \(2048 bit\)" openssl pkey -pubin -in "$T/gen9e.pub" -noout -text
check "generate ECCP256 in 85" yk --key="$new_mgm" -a generate -s 85 -A ECCP256 -o "$T/gen85.pub"
check "the generated 85 key is a P-256 public key" \
    output_has "NIST CURVE: P-256" openssl pkey -pubin -in "$T/gen85.pub" -noout -text
check "the token records 9e as a generated RSA2048 key" output_has "^key 9E: alg 07, .*generated" token_key 9E
check "the token records 85 as a generated ECCP256 key" output_has "^key 85: alg 11, .*generated" token_key 85
check "the test CA certifies the generated 9e key" issue "$T/gen9e.pub" "kyso 9e" "$T/gen9e.pem"
check "the test CA certifies the generated 85 key" issue "$T/gen85.pub" "kyso 85" "$T/gen85.pem"
check "import-certificate into 9e" yk --key="$new_mgm" -a import-certificate -s 9e -i "$T/gen9e.pem"
check "import-certificate into 85" yk --key="$new_mgm" -a import-certificate -s 85 -i "$T/gen85.pem"
check "read-certificate 9e is byte-identical (PEM)" read_cert_same 9e PEM "$T/gen9e.pem"
check "read-certificate 85 is byte-identical (DER)" read_cert_same 85 DER "$T/gen85.pem"
yk -a status >"$T/status2.txt" 2>>"$TEST_LOG"
check "status: 9e holds an RSA2048 key" slot_has 9e $'\tAlgorithm:\tRSA2048' "$T/status2.txt"
check "status: 9e shows the certificate of the generated key" \
    slot_has 9e $'\tFingerprint:\t'"$(fingerprint "$T/gen9e.pem")" "$T/status2.txt"

# Signatures by the generated keys. 9e has PIN policy "never".
signatures=$(signature_count)
check "sign with 9e without a PIN (RSA2048, SHA256)" sign 9e RSA2048 SHA256 "$T/data" "$T/sig9e" nopin
check "the token made that signature" signature_count_is $((signatures + 1))
check "the 9e signature verifies against its certificate" verify_signature "$T/gen9e.pem" "$T/data" "$T/sig9e"
check_fails "the 9e signature does not verify for other data" \
    verify_signature "$T/gen9e.pem" "$T/data.tampered" "$T/sig9e"
check "sign with 85 (ECCP256, SHA256)" sign 85 ECCP256 SHA256 "$T/data" "$T/sig85"
check "the 85 signature verifies against its certificate" verify_signature "$T/gen85.pem" "$T/data" "$T/sig85"
check_fails "the 85 signature does not verify against another P-256 key" \
    verify_signature "$pki/person-an-sign-p256.pem" "$T/data" "$T/sig85"
check_fails "85 (PIN policy once) refuses to sign without a PIN" \
    sign 85 ECCP256 SHA256 "$T/data" "$T/sig85-nopin" nopin

# --- import-key -----------------------------------------------------------
check "import-key person-binh-sign-rsa2048 into 83" \
    yk --key="$new_mgm" -a import-key -s 83 -i "$pki/person-binh-sign-rsa2048.key.pem"
check "import-certificate into 83" \
    yk --key="$new_mgm" -a import-certificate -s 83 -i "$pki/person-binh-sign-rsa2048.pem"
check "read-certificate 83 is byte-identical to the test vector (PEM)" \
    read_cert_same 83 PEM "$pki/person-binh-sign-rsa2048.pem"
check "read-certificate 83 is byte-identical to the test vector (DER)" \
    read_cert_same 83 DER "$pki/person-binh-sign-rsa2048.pem"
check "sign with 83 (RSA2048, SHA512)" sign 83 RSA2048 SHA512 "$T/data" "$T/sig83"
check "the 83 signature verifies against person-binh-sign-rsa2048.pem" \
    verify_signature "$pki/person-binh-sign-rsa2048.pem" "$T/data" "$T/sig83" sha512
check "import-key org-bacninh-sign-p256 (EC) into 84" \
    yk --key="$new_mgm" -a import-key -s 84 -i "$pki/org-bacninh-sign-p256.key.pem"
check "sign with 84 (ECCP256, SHA256)" sign 84 ECCP256 SHA256 "$T/data" "$T/sig84"
check "the 84 signature verifies against org-bacninh-sign-p256.pem" \
    verify_signature "$pki/org-bacninh-sign-p256.pem" "$T/data" "$T/sig84"

# --- the personalised keys ------------------------------------------------
check "sign with 9c after verify-pin (RSA2048, SHA256)" sign 9c RSA2048 SHA256 "$T/data" "$T/sig9c"
check "the 9c signature verifies against person-an-sign-rsa2048.pem" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig9c"
check_fails "the 9c signature does not verify for other data" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data.tampered" "$T/sig9c"
check_fails "9c (PIN policy always) refuses to sign without verify-pin" \
    sign 9c RSA2048 SHA256 "$T/data" "$T/sig9c-nopin" nopin
check "sign with 9c again after a new verify-pin (SHA384)" sign 9c RSA2048 SHA384 "$T/data" "$T/sig9c-384"
check "the SHA384 9c signature verifies" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig9c-384" sha384
check "sign with 9a (ECCP256, SHA256)" sign 9a ECCP256 SHA256 "$T/data" "$T/sig9a"
check "the 9a signature verifies against person-an-auth-p256.pem" \
    verify_signature "$pki/person-an-auth-p256.pem" "$T/data" "$T/sig9a"
# SHA1: an input shorter than the P-256 order.
check "sign with 82 (ECCP256, SHA1)" sign 82 ECCP256 SHA1 "$T/data" "$T/sig82"
check "the 82 signature verifies against person-an-sign-p256.pem" \
    verify_signature "$pki/person-an-sign-p256.pem" "$T/data" "$T/sig82" sha1
check "test-signature with 9c against person-an-sign-rsa2048.pem" \
    output_has "Successful RSA verification" \
    yk -a verify-pin -P "$pin" -a test-signature -s 9c -i "$pki/person-an-sign-rsa2048.pem"
check "test-signature with 9d against person-an-keymgmt-p256.pem" \
    output_has "Successful ECDSA verification" \
    yk -a verify-pin -P "$pin" -a test-signature -s 9d -i "$pki/person-an-keymgmt-p256.pem"
check_fails "test-signature with 9a against 9d's certificate" \
    yk -a verify-pin -P "$pin" -a test-signature -s 9a -i "$pki/person-an-keymgmt-p256.pem"

finish
