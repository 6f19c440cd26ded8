#!/bin/bash
# kyso-pkcs11.so on the government token, variant A ("JCOP4Bit4Id",
# RSA-3072, key 10), whose certificate is on the card only in a compressed
# form nobody can read: without the certificate imported the key is listed
# and signing is refused with a clear reason (kyso token status, debug
# log); after `kyso cert import` the certificate shows, matched by public
# key, and a 384-byte signature verifies. A certificate must chain to a
# trust anchor of root's configuration to be attached: one that anyone can
# make for the token's public key (issued by a CA of their own) is never
# used, nor imported, and the system store wins over the user's.
. "$(dirname "$0")/lib.sh"
in_token vgca-jcop

pki=$KYSO_TEST_PKI
T=$TEST_TMP
preload=${LD_PRELOAD:-}
unset LD_PRELOAD
p11() { LD_PRELOAD=$preload pkcs11-tool --module "$KYSO_MODULE" "$@"; }
kyso() { "$KYSO_BUILDDIR/tools/kyso" "$@"; }
# The user's store is this test's own; the system store is root's
# configuration (tests/with-token mounts this run's at the system path).
export XDG_DATA_HOME=$T/xdg
user_certs=$XDG_DATA_HOME/kyso/certs system_certs=$KYSO_SYSTEM_CONF/certs
printf 'kyso: ký số bằng khóa RSA-3072\n' >"$T/data"
openssl x509 -in "$pki/person-an-sign-rsa3072.pem" -pubkey -noout >"$T/signer.pub"

p11 -L >"$T/L" 2>&1
check "the token is listed" grep -Eq "token label +: VGCA Token" "$T/L"
p11 -O --login --pin "$KYSO_TEST_PIN" >"$T/O" 2>&1
check "the key is listed (public and private)" bash -c "grep -q 'Private Key Object; RSA' '$T/O' && grep -q 'Public Key Object; RSA 3072 bits' '$T/O'"
check "no certificate without the store" bash -c "! grep -q 'Certificate Object' '$T/O'"
id=$(sed -n '/Public Key Object/,/^[A-Z]/s/^  ID: *//p' "$T/O" | head -n1)
check "the key's ID is the PrKDF's (BE72ECF5)" test "$id" = "be72ecf5"
KYSO_DEBUG=$T/debug.log p11 --login --pin "$KYSO_TEST_PIN" --sign --id "${id:-00}" -m SHA256-RSA-PKCS \
    -i "$T/data" -o "$T/sig0" >"$T/refused" 2>&1
check "signing is refused without a certificate" grep -q "CKR_KEY_FUNCTION_NOT_PERMITTED" "$T/refused"
check "the debug log says why" grep -q "has no certificate: import it with .kyso cert import" "$T/debug.log"
check "kyso token status says why" output_has "NO CERTIFICATE.*" kyso token status

check_fails "kyso cert import refuses what is not a certificate" kyso cert import "$pki/person-an-sign-rsa3072.key.pem"
check "kyso cert import stores the certificate"  output_has "imported: $user_certs/[0-9a-f]{64}\.der" \
    kyso cert import "$pki/person-an-sign-rsa3072.pem"
check "importing again changes nothing" test "$(ls "$user_certs" | wc -l)" -eq 1
check "a certificate of another key is harmless" kyso cert import "$pki/person-an-sign-rsa2048.pem"
p11 -O >"$T/O2" 2>&1
check "the certificate shows, matched by public key" grep -q "serial: *$(openssl x509 -in "$pki/person-an-sign-rsa3072.pem" -noout -serial | cut -d= -f2)" "$T/O2"
check "and only that one" test "$(grep -c 'Certificate Object' "$T/O2")" -eq 1
check "kyso token status shows it from the store" output_has "certificate from the local store" kyso token status
check "signing works" p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig1"
check "the 384-byte signature verifies" bash -c "[ \$(stat -c %s '$T/sig1') -eq 384 ] && openssl dgst -sha256 -verify '$T/signer.pub' -signature '$T/sig1' '$T/data'"
# The system store serves as well.
rm -rf "$user_certs"
check "kyso cert import --system" kyso cert import "$pki/person-an-sign-rsa3072.pem" --system
check "signing works with the system store" p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" \
    -m SHA512-RSA-PKCS -i "$T/data" -o "$T/sig2"
check "that signature verifies" openssl dgst -sha512 -verify "$T/signer.pub" -signature "$T/sig2" "$T/data"

# ---- only certificates that chain to a trust anchor ----
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
# into_store DIR CERT.pem: as `kyso cert import` stores it (DER named by its
# SHA-256), without its checks.
into_store() {
    mkdir -p "$1" && openssl x509 -in "$2" -outform DER -out "$T/der" &&
        cp "$T/der" "$1/$(sha256sum "$T/der" | cut -c1-64).der"
}
attached_serial() { p11 -O 2>/dev/null | sed -n 's/^ *serial: *//p' | head -n1; }
genuine=$(serial_of "$pki/person-an-sign-rsa3072.pem")
# A CA of one's own, and a certificate from it for the token's public key.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/fake-ca.key" -out "$T/fake-ca.pem" -days 30 \
    -subj "/CN=Ban Co yeu gia mao" 2>>"$TEST_LOG"
openssl x509 -new -force_pubkey "$T/signer.pub" -subj "/CN=Ke Gia Mao/O=Khong co that" -days 30 \
    -CA "$T/fake-ca.pem" -CAkey "$T/fake-ca.key" -out "$T/forged.pem" 2>>"$TEST_LOG"
# A second certificate for the same key from the real issuing CA.
openssl x509 -new -force_pubkey "$T/signer.pub" -subj "/CN=Nguoi khac/O=Cung CA" -days 30 \
    -CA "$pki/issuing-ca.pem" -CAkey "$pki/issuing-ca.key.pem" -out "$T/second.pem" 2>>"$TEST_LOG"
check "the test made a forged and a second certificate" test -s "$T/forged.pem" -a -s "$T/second.pem"
into_store "$user_certs" "$T/forged.pem"
into_store "$user_certs" "$T/second.pem"
check "the system store's certificate wins over the user's" test "$(attached_serial)" = "$genuine"
rm -f "$system_certs"/*.der
check "without it, the user's certificate from the real CA is used" \
    test "$(attached_serial)" = "$(serial_of "$T/second.pem")"
rm -rf "$user_certs"
into_store "$user_certs" "$T/forged.pem"
check "a certificate from a CA of one's own is not attached" test -z "$(attached_serial)"
KYSO_DEBUG=$T/debug-forged.log p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" -m SHA256-RSA-PKCS \
    -i "$T/data" -o "$T/sig-forged" >"$T/refused-forged" 2>&1
check "signing is refused with only that one" grep -q "CKR_KEY_FUNCTION_NOT_PERMITTED" "$T/refused-forged"
check "and no signature came out" test ! -s "$T/sig-forged"
check "the debug log says it does not chain" grep -q "does not chain to a trust anchor" "$T/debug-forged.log"
check "kyso token status says so too" output_has "does not chain to a trust anchor" kyso token status
check_fails "kyso cert import refuses it" kyso cert import "$T/forged.pem"
check "saying why" output_has "not imported: .*does not chain" bash -c "'$KYSO_BUILDDIR/tools/kyso' cert import '$T/forged.pem' 2>&1; true"
rm -rf "$user_certs"
# Without trust anchors nothing from a store is attached, not even the real one.
mkdir -p "$T/anchors" && mv "$KYSO_SYSTEM_CONF"/trust/* "$T/anchors/"
into_store "$system_certs" "$pki/person-an-sign-rsa3072.pem"
check "without trust anchors the real certificate is not attached either" test -z "$(attached_serial)"
check "kyso token status says there are no anchors" output_has "no trust anchors" kyso token status
mv "$T/anchors"/* "$KYSO_SYSTEM_CONF/trust/"
check "with the anchors back it is" test "$(attached_serial)" = "$genuine"
# Variant A's PIN (reference 03) and PUK (06) through the module.
check "change the PIN" p11 --login --pin "$KYSO_TEST_PIN" --change-pin --new-pin 13572468
for pin in 11111111 22222222 33333333; do p11 --login --pin "$pin" -O >/dev/null 2>&1; done
p11 -T >"$T/T" 2>&1
check "three wrong PINs block it" grep -q "user PIN locked" "$T/T"
check "the PUK's tries are known (3 left)" bash -c "! grep -Eq 'SO PIN (count low|final try|locked)' '$T/T'"
check "the PUK unblocks with a new PIN" p11 --login --login-type so --so-pin "$KYSO_TEST_PUK" --init-pin \
    --new-pin "$KYSO_TEST_PIN"
check "and the token signs again" p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" -m SHA256-RSA-PKCS \
    -i "$T/data" -o "$T/sig3"
check "that signature verifies" openssl dgst -sha256 -verify "$T/signer.pub" -signature "$T/sig3" "$T/data"
finish
