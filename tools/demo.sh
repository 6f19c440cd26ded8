#!/bin/bash
# The kyso demo: a virtual token (kyso-vtoken, personalised like a
# CA-issued token from test-vectors/) seen through a private pcscd, used
# by unmodified third-party clients. Run it with `make demo`, which starts
# it inside tests/with-token.
set -euo pipefail
[ -n "${KYSO_VTOKEN_CTL:-}" ] || { echo "run this through: make demo" >&2; exit 2; }

opensc_module=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
work=$KYSO_WORKDIR/demo
mkdir -p "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "The reader and the token, as PC/SC sees them"
opensc-tool -l
"$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE"

step "yubico-piv-tool reads the token (version, serial, certificates, PIN tries)"
yubico-piv-tool -r "$KYSO_READER" -a status | grep -E "Version|Serial|Slot|Algorithm|Subject|PIN tries"

step "OpenSC's PKCS#11 module lists the objects"
pkcs11-tool --module "$opensc_module" -L | grep -E "Slot|token label|serial"
pkcs11-tool --module "$opensc_module" -O --type cert | grep -E "label|subject"

step "Sign a document with the digital-signature key (slot 9C, RSA-2048, PIN always)"
printf 'Quyết định số 01/QĐ-UBND: văn bản mẫu để ký số.\n' >"$work/document.txt"
pkcs11-tool --module "$opensc_module" --login --pin "$KYSO_TEST_PIN" --sign --id 02 \
    -m SHA256-RSA-PKCS -i "$work/document.txt" -o "$work/document.sig"
echo "signature: $(stat -c %s "$work/document.sig") bytes"

step "Check the signature with openssl against the certificate, and the certificate against the test PKI"
openssl x509 -in "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem" -pubkey -noout >"$work/signer.pub"
openssl dgst -sha256 -verify "$work/signer.pub" -signature "$work/document.sig" "$work/document.txt"
openssl verify -CAfile "$KYSO_TEST_PKI/root-ca.pem" -untrusted "$KYSO_TEST_PKI/issuing-ca.pem" \
    "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem"
openssl x509 -in "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem" -noout -subject -nameopt utf8,sep_multiline

step "What the token did"
"$KYSO_VTOKEN" ctl --control "$KYSO_VTOKEN_CTL" stats
