#!/bin/bash
# kyso-pkcs11.so on the government token, variant B ("ChipDoc", RSA-2048,
# key 81, the CA chain on the card): pkcs11-tool lists the token (label
# and serial from TokenInfo), its certificate, key and CA certificates
# without a PIN; signs with CKM_SHA256_RSA_PKCS and CKM_RSA_PKCS (over a
# DigestInfo) and openssl verifies; only what the card can do is offered;
# the PIN changes, blocks after three wrong tries and is unblocked with the
# PUK; NSS lists the certificates and pdfsig signs a PDF that verifies with
# the full chain.
. "$(dirname "$0")/lib.sh"
in_token vgca-chipdoc

pki=$KYSO_TEST_PKI
T=$TEST_TMP
preload=${LD_PRELOAD:-}
unset LD_PRELOAD
p11() { LD_PRELOAD=$preload pkcs11-tool --module "$KYSO_MODULE" "$@"; }
nss() { LD_PRELOAD=$preload "$@"; }
printf 'kyso: ký số bằng thiết bị của Ban Cơ yếu\n' >"$T/data"
openssl x509 -in "$pki/person-an-sign-rsa2048.pem" -pubkey -noout >"$T/signer.pub"

p11 -L >"$T/L" 2>&1
check "the token is listed with its TokenInfo label" grep -Eq "token label +: VGCA Token" "$T/L"
serial=$("$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE" | sed -n 's/.*serial \([0-9a-fA-F]*\).*/\1/p' | head -n1)
check "the serial is the card's" grep -Eiq "serial num +: ${serial:-none}" "$T/L"
p11 -O >"$T/O" 2>&1
check "no private key without the PIN" bash -c "! grep -q 'Private Key Object' '$T/O'"
check "three certificates without the PIN (signer and CA chain)" test "$(grep -c 'Certificate Object' "$T/O")" -eq 3
check "the signer's certificate is the personalised one" grep -q "serial: *$(openssl x509 -in "$pki/person-an-sign-rsa2048.pem" -noout -serial | cut -d= -f2)" "$T/O"
id=$(sed -n '/Public Key Object/,/^[A-Z]/s/^  ID: *//p' "$T/O" | head -n1)
check "the key has an ID" test -n "$id"
p11 -M >"$T/M" 2>&1
check "RSA PKCS#1 v1.5 signing is offered" grep -q "SHA256-RSA-PKCS, keySize={2048,2048}, hw, sign, verify" "$T/M"
check "nothing the card cannot do is offered (PSS, raw RSA, decryption, EC)" \
    bash -c "! grep -Eq 'PSS|X-509|decrypt|ECDSA|OAEP' '$T/M'"

sign() { p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" "$@"; }
check "sign with SHA256-RSA-PKCS" sign -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig1"
check "the signature verifies with openssl" openssl dgst -sha256 -verify "$T/signer.pub" -signature "$T/sig1" "$T/data"
# CKM_RSA_PKCS over a DigestInfo built here (SHA-256).
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
  openssl dgst -sha256 -binary "$T/data"; } >"$T/digestinfo"
check "sign with RSA-PKCS over a DigestInfo" sign -m RSA-PKCS -i "$T/digestinfo" -o "$T/sig2"
check "that signature verifies too" openssl dgst -sha256 -verify "$T/signer.pub" -signature "$T/sig2" "$T/data"
printf 'not a DigestInfo' >"$T/junk"
check_fails "RSA-PKCS over data that is no DigestInfo is refused by the card" \
    sign -m RSA-PKCS -i "$T/junk" -o "$T/sig3"
check_fails "RSA-PKCS-PSS is not available" sign -m SHA256-RSA-PKCS-PSS -i "$T/data" -o "$T/sig4"

# PINs: change, three wrong tries block, the PUK unblocks.
check "change the PIN" p11 --login --pin "$KYSO_TEST_PIN" --change-pin --new-pin 24681357
check_fails "the old PIN is refused" p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" -m SHA256-RSA-PKCS \
    -i "$T/data" -o "$T/x"
check "the new PIN signs" p11 --login --pin 24681357 --sign --id "$id" -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig5"
for pin in 11111111 22222222; do p11 --login --pin "$pin" -O >/dev/null 2>&1; done
p11 -T >"$T/T" 2>&1
check "a wrong PIN shows in the token flags (final try)" grep -q "final user PIN try" "$T/T"
p11 --login --pin 33333333 -O >/dev/null 2>&1
p11 -T >"$T/T" 2>&1
check "the third wrong PIN blocks it" grep -q "user PIN locked" "$T/T"
check_fails "the right PIN is refused while blocked" p11 --login --pin 24681357 -O
check "the PUK unblocks and sets a new PIN" p11 --login --login-type so --so-pin "$KYSO_TEST_PUK" --init-pin \
    --new-pin "$KYSO_TEST_PIN"
check "the new PIN signs again" sign -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig6"
check "and the signature verifies" openssl dgst -sha256 -verify "$T/signer.pub" -signature "$T/sig6" "$T/data"

# NSS and pdfsig on the government token.
db=$T/nssdb
mkdir -p "$db"
nss certutil -N -d "sql:$db" --empty-password
check "modutil adds the module" nss modutil -dbdir "sql:$db" -add kyso -libfile "$KYSO_MODULE" -mechanisms FRIENDLY -force
nss certutil -A -d "sql:$db" -n "Test Root" -t "CT,C,C" -i "$pki/root-ca.pem"
nss certutil -L -d "sql:$db" -h all </dev/null >"$T/certs" 2>&1
check "certutil lists the token's certificates without a PIN" grep -q "VGCA Token:" "$T/certs"
nick=$(grep -o "VGCA Token:Nguyễn Văn An" "$T/certs" | head -n1)
cp "$KYSO_SRCDIR/test-vectors/documents/quyet-dinh-mau.pdf" "$T/in.pdf"
check "pdfsig signs the PDF with the government token" nss pdfsig -nssdir "sql:$db" -nss-pwd "$KYSO_TEST_PIN" \
    -kpw "$KYSO_TEST_PIN" -add-signature -nick "${nick:-none}" -digest SHA256 "$T/in.pdf" "$T/signed.pdf"
nss pdfsig -nssdir "sql:$db" "$T/signed.pdf" >"$T/verify" 2>&1
check "pdfsig: the signature is valid" grep -q "Signature is Valid" "$T/verify"
check "pdfsig: the certificate chain is trusted" grep -q "Certificate is Trusted" "$T/verify"
finish
