#!/bin/bash
# OpenSC (opensc-tool and its PKCS#11 module through pkcs11-tool) works
# against kyso-vtoken unchanged: it lists the token's objects, reads the
# certificates byte for byte, and signs with the RSA key in 9C and the EC
# keys in 9A and the retired slot 82; every signature verifies with
# openssl against the certificate.
. "$(dirname "$0")/lib.sh"
in_token piv

pki=$KYSO_TEST_PKI
p11() { pkcs11-tool --module "$OPENSC_MODULE" "$@"; }
printf 'kyso: văn bản cần ký số\n' >"$TEST_TMP/data"

check "opensc-tool reads the ATR" output_has "3b:fd:13:00:00:81:31:fe:15:80:73:c0:21:c0:57:59:75:62:69:4b:65:79:40" opensc-tool -a
check "OpenSC recognises a PIV card" output_has "Personal Identity Verification|PIV" opensc-tool -n
check "pkcs11-tool lists the token" output_has "token label +: .+" p11 -L
check "pkcs11-tool lists the 9C certificate" output_has "Certificate for Digital Signature" p11 -O
check "pkcs11-tool lists the retired key 82" output_has "RETIRED1|Retired" p11 -O

# Certificates read through OpenSC are the ones personalised.
for spec in 02:person-an-sign-rsa2048 01:person-an-auth-p256 03:person-an-keymgmt-p256; do
    id=${spec%%:*} name=${spec#*:}
    p11 --read-object --type cert --id "$id" -o "$TEST_TMP/$id.der" >>"$TEST_LOG" 2>&1
    openssl x509 -in "$pki/$name.pem" -outform DER -out "$TEST_TMP/$id.expected.der"
    check "certificate $id read back identical" cmp "$TEST_TMP/$id.der" "$TEST_TMP/$id.expected.der"
done

# 9C (ID 02): RSA-2048, PIN always; pkcs11-tool logs in again for it.
sign() { p11 --login --pin "$KYSO_TEST_PIN" --sign "$@" -i "$TEST_TMP/data"; }
check "sign with 9C: SHA256-RSA-PKCS" sign --id 02 -m SHA256-RSA-PKCS -o "$TEST_TMP/sig.rsa"
check "9C SHA256-RSA-PKCS signature verifies" verify_signature "$pki/person-an-sign-rsa2048.pem" "$TEST_TMP/data" "$TEST_TMP/sig.rsa" sha256
check "sign with 9C: SHA384-RSA-PKCS" sign --id 02 -m SHA384-RSA-PKCS -o "$TEST_TMP/sig.rsa384"
check "9C SHA384-RSA-PKCS signature verifies" verify_signature "$pki/person-an-sign-rsa2048.pem" "$TEST_TMP/data" "$TEST_TMP/sig.rsa384" sha384
check "sign with 9C: SHA256-RSA-PKCS-PSS" sign --id 02 -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --salt-len 32 -o "$TEST_TMP/sig.pss"
check "9C PSS signature verifies" verify_signature "$pki/person-an-sign-rsa2048.pem" "$TEST_TMP/data" "$TEST_TMP/sig.pss" sha256 pss

# 9A (ID 01) and retired 82 (ID 05): EC P-256.
check "sign with 9A: ECDSA-SHA256" sign --id 01 -m ECDSA-SHA256 --signature-format openssl -o "$TEST_TMP/sig.9a"
check "9A ECDSA signature verifies" verify_signature "$pki/person-an-auth-p256.pem" "$TEST_TMP/data" "$TEST_TMP/sig.9a" sha256
check "sign with 82: ECDSA-SHA256" sign --id 05 -m ECDSA-SHA256 --signature-format openssl -o "$TEST_TMP/sig.82"
check "82 ECDSA signature verifies" verify_signature "$pki/person-an-sign-p256.pem" "$TEST_TMP/data" "$TEST_TMP/sig.82" sha256
check_fails "a signature does not verify against another key" \
    verify_signature "$pki/person-an-auth-p256.pem" "$TEST_TMP/data" "$TEST_TMP/sig.82" sha256

# ECDH with the key-management key (9D): both sides derive the same secret.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TEST_TMP/peer.key" 2>>"$TEST_LOG"
openssl pkey -in "$TEST_TMP/peer.key" -pubout -outform DER -out "$TEST_TMP/peer.pub.der"
check "ECDH derive with 9D" p11 --login --pin "$KYSO_TEST_PIN" --derive --id 03 -m ECDH1-DERIVE \
    --input-file "$TEST_TMP/peer.pub.der" -o "$TEST_TMP/secret.card"
openssl x509 -in "$pki/person-an-keymgmt-p256.pem" -pubkey -noout >"$TEST_TMP/9d.pub"
openssl pkeyutl -derive -inkey "$TEST_TMP/peer.key" -peerkey "$TEST_TMP/9d.pub" -out "$TEST_TMP/secret.host" 2>>"$TEST_LOG"
check "ECDH secrets agree" cmp "$TEST_TMP/secret.card" "$TEST_TMP/secret.host"

check_fails "signing with a wrong PIN fails" p11 --login --pin 654321 --sign --id 02 -m SHA256-RSA-PKCS \
    -i "$TEST_TMP/data" -o "$TEST_TMP/sig.bad"
check "the wrong PIN cost one try" output_has "PIN tries left:[[:space:]]+2" \
    yubico-piv-tool -r "$KYSO_READER" -a status

finish
