#!/bin/bash
# kyso-pkcs11.so on the government token, variant A ("JCOP4Bit4Id",
# RSA-3072, key 10), whose certificate is on the card only in a compressed
# form nobody can read: without the certificate imported the key is listed
# and signing is refused with a clear reason (kyso token status, debug
# log); after `kyso cert import` the certificate shows, matched by public
# key, and a 384-byte signature verifies.
. "$(dirname "$0")/lib.sh"
in_token vgca-jcop

pki=$KYSO_TEST_PKI
T=$TEST_TMP
preload=${LD_PRELOAD:-}
unset LD_PRELOAD
p11() { LD_PRELOAD=$preload pkcs11-tool --module "$KYSO_MODULE" "$@"; }
kyso() { "$KYSO_BUILDDIR/tools/kyso" "$@"; }
# A store of this test's own: nothing on the machine leaks in.
export KYSO_USER_CERT_DIR=$T/user-certs KYSO_CERT_DIR=$T/system-certs
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
check "kyso cert import stores the certificate" output_has "imported: $T/user-certs/[0-9a-f]{64}\.der" \
    kyso cert import "$pki/person-an-sign-rsa3072.pem"
check "importing again changes nothing" test "$(ls "$T/user-certs" | wc -l)" -eq 1
check "a certificate of another key is harmless" kyso cert import "$pki/person-an-sign-rsa2048.pem"
p11 -O >"$T/O2" 2>&1
check "the certificate shows, matched by public key" grep -q "serial: *$(openssl x509 -in "$pki/person-an-sign-rsa3072.pem" -noout -serial | cut -d= -f2)" "$T/O2"
check "and only that one" test "$(grep -c 'Certificate Object' "$T/O2")" -eq 1
check "kyso token status shows it from the store" output_has "certificate from the local store" kyso token status
check "signing works" p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig1"
check "the 384-byte signature verifies" bash -c "[ \$(stat -c %s '$T/sig1') -eq 384 ] && openssl dgst -sha256 -verify '$T/signer.pub' -signature '$T/sig1' '$T/data'"
# The system store serves as well.
rm -rf "$T/user-certs"
check "kyso cert import --system" kyso cert import "$pki/person-an-sign-rsa3072.pem" --system
check "signing works with the system store" p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" \
    -m SHA512-RSA-PKCS -i "$T/data" -o "$T/sig2"
check "that signature verifies" openssl dgst -sha512 -verify "$T/signer.pub" -signature "$T/sig2" "$T/data"
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
