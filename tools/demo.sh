#!/bin/bash
# The kyso demo: a virtual token (kyso-vtoken, personalised like a
# CA-issued token from test-vectors/) seen through a private pcscd — by
# default the government's bit4id token (variant B), with DEMO_TOKEN=piv a
# PIV token. A real client (poppler's pdfsig, through NSS) signs a PDF
# with the token's signature key through kyso-pkcs11.so, and the
# signature is checked with its certificate chain, under the rules as
# shipped (profile nd68-2024, level Mật: the audit trail only through
# kyso-auditd). Run it with `make demo` (or build-aux/run-demo), which
# starts it inside tests/with-token.
set -euo pipefail
[ -n "${KYSO_VTOKEN_CTL:-}" ] || { echo "run this through: make demo" >&2; exit 2; }

module=${KYSO_MODULE:-$KYSO_BUILDDIR/pkcs11/.libs/kyso-pkcs11.so}
work=$KYSO_WORKDIR/demo
mkdir -p "$work/nssdb"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Root's rules: profile nd68-2024 as shipped, the audit trail at kyso-auditd"
# (inside this demo's private namespace: /etc/kyso is its own)
"$KYSO_BUILDDIR/tools/kyso-auditd" --foreground --log "$KYSO_AUDIT_LOG" --socket "$work/audit.sock" \
    2>"$work/auditd.err" &
auditd=$!
trap 'kill $auditd 2>/dev/null; wait $auditd 2>/dev/null' EXIT
for _ in $(seq 100); do [ -S "$work/audit.sock" ] && break; sleep 0.05; done
printf 'profile = nd68-2024\n[audit]\nsink = daemon:%s\n' "$work/audit.sock" >"$KYSO_SYSTEM_CONF/kyso.conf"
unset KYSO_AUDIT # the signer's environment does not choose the audit trail
"$KYSO_BUILDDIR/tools/kyso" policy check
"$KYSO_BUILDDIR/tools/kyso" policy show | sed -n '/^rules:/,/^profile nd68/p' | grep -E '^\s+\[' 

step "The reader and the token, as PC/SC sees them"
opensc-tool -l
"$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE"

step "kyso sees the token"
"$KYSO_BUILDDIR/tools/kyso" token status
pkcs11-tool --module "$module" -L | grep -E "Slot|token label|serial|flags"

step "An NSS database with the module (certificates readable without the PIN)"
certutil -N -d "sql:$work/nssdb" --empty-password
modutil -dbdir "sql:$work/nssdb" -add kyso -libfile "$module" -mechanisms FRIENDLY -force >/dev/null
certutil -A -d "sql:$work/nssdb" -n "Test Root" -t "CT,C,C" -i "$KYSO_TEST_PKI/root-ca.pem"
certutil -A -d "sql:$work/nssdb" -n "Test Issuing CA" -t ",," -i "$KYSO_TEST_PKI/issuing-ca.pem"
certutil -L -d "sql:$work/nssdb" -h all </dev/null | tee "$work/certs.txt"
# The signing certificate: a token certificate with its key (trust u,u,u);
# on a PIV token, the one of slot 9C.
nick=$(grep -E "u,u,u *$" "$work/certs.txt" | sed 's/ *u,u,u *$//' | grep -m1 "Digital Signature" ||
       grep -E "u,u,u *$" "$work/certs.txt" | sed 's/ *u,u,u *$//' | head -n1)

step "pdfsig signs the document through kyso-pkcs11.so"
cp "$KYSO_SRCDIR/test-vectors/documents/quyet-dinh-mau.pdf" "$work/quyet-dinh.pdf"
# -nss-pwd logs the token in; -kpw is what NSS hands to the key's own
# (context-specific) login, which "PIN always" asks for before the signature.
pdfsig -nssdir "sql:$work/nssdb" -nss-pwd "$KYSO_TEST_PIN" -kpw "$KYSO_TEST_PIN" -add-signature -nick "$nick" -digest SHA256 \
    -reason "Ký số văn bản mẫu" "$work/quyet-dinh.pdf" "$work/quyet-dinh-signed.pdf"
ls -l "$work/quyet-dinh-signed.pdf"

step "pdfsig checks the signature and the certificate chain"
pdfsig -nssdir "sql:$work/nssdb" "$work/quyet-dinh-signed.pdf" | tee "$work/verify.txt"
grep -q "Signature is Valid" "$work/verify.txt"
grep -q "Certificate is Trusted" "$work/verify.txt"

step "The audit trail (written by kyso-auditd): the record of that signature, made durable before pdfsig got it"
grep '"event":"sign"' "$KYSO_AUDIT_LOG" | tail -n 1 | sed 's/,"prev":.*//; s/$/ …}/'

step "kyso audit verify: the chain and the forward-secure MACs, with the auditor's key"
"$KYSO_BUILDDIR/tools/kyso" audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"

step "What the token did"
"$KYSO_VTOKEN" ctl --control "$KYSO_VTOKEN_CTL" stats
