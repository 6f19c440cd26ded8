#!/bin/bash
# OpenSSL 3 with the libp11 engine over kyso-pkcs11.so: keys addressed by
# RFC 7512 URIs (by id and by label, token label percent-encoded) sign
# with openssl dgst and pkeyutl and make CSRs with openssl req, for the
# RSA-2048 key in 9C and the P-256 key in 9A; every signature verifies
# with plain openssl against the personalised certificate, every openssl
# run exits 0, wrong PINs cost one try each, and the audit trail records
# each signature and refused PIN.
#
# 9C is always-authenticate: libp11 0.4.12 gets the context-specific PIN
# only through its UI prompt ("Enter PKCS#11 key PIN for SIGN key:"); the
# engine's -passin / pin-value= PIN is used for the token login only. So
# the PIN is typed at that prompt: openssl runs without a controlling
# terminal (setsid), where OpenSSL's UI reads the prompt from stdin.
. "$(dirname "$0")/lib.sh"
in_token piv

pki=$KYSO_TEST_PKI
engine_so=${KYSO_ENGINE_SO:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}
# RFC 7512: the token label "Nguyễn Văn An" percent-encoded (UTF-8).
token_uri="pkcs11:token=Nguy%E1%BB%85n%20V%C4%83n%20An"
rsa_key="$token_uri;id=%02;type=private"                 # 9C
rsa_key_label="$token_uri;object=SIGN%20key;type=private" # 9C by label
ec_key="$token_uri;id=%01;type=private"                  # 9A
ec_key_label="$token_uri;object=PIV%20AUTH%20key;type=private"
rsa_cert=$pki/person-an-sign-rsa2048.pem
ec_cert=$pki/person-an-auth-p256.pem

# MODULE_PATH can only come from a configuration file; without it the
# engine loads p11-kit-proxy. Only the engine runs see this file.
cat >"$TEST_TMP/engine.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $engine_so
MODULE_PATH = $KYSO_MODULE
init = 0
EOF

# e_openssl ARGS...: openssl with the engine, no controlling terminal and
# stdin from /dev/null (a PIN prompt fails instead of waiting).
e_openssl() { OPENSSL_CONF=$TEST_TMP/engine.cnf setsid -w openssl "$@" </dev/null; }
# e_openssl_pin PIN ARGS...: the same, with PIN typed at libp11's prompt.
e_openssl_pin() {
    local pin=$1
    shift
    printf '%s\n' "$pin" | OPENSSL_CONF=$TEST_TMP/engine.cnf setsid -w openssl "$@"
}
# Plain openssl for verification, no engine.
p_openssl() { OPENSSL_CONF=/dev/null openssl "$@"; }

printf 'kyso: văn bản cần ký số\n' >"$TEST_TMP/data"
p_openssl dgst -sha256 -binary -out "$TEST_TMP/data.sha256" "$TEST_TMP/data"
p_openssl x509 -in "$rsa_cert" -pubkey -noout -out "$TEST_TMP/rsa.pub"
p_openssl x509 -in "$ec_cert" -pubkey -noout -out "$TEST_TMP/ec.pub"
pin_tries() { # N: the PIN tries left, as yubico-piv-tool reads them
    local out
    out=$(yubico-piv-tool -r "$KYSO_READER" -a status) && grep -Eq "PIN tries left:[[:space:]]+$1\$" <<<"$out"
}
same_pubkey() { # CSR PUB.pem
    [ "$(p_openssl req -in "$1" -pubkey -noout)" = "$(cat "$2")" ] || { echo "CSR key differs from $2"; return 1; }
}
subject_is() { # CSR SUBJECT
    p_openssl req -in "$1" -noout -subject -nameopt RFC2253 | grep -Fqx "subject=$2"
}

check "the engine loads kyso" output_has "\[ available \]" \
    env OPENSSL_CONF="$TEST_TMP/engine.cnf" openssl engine -t pkcs11

# --- 9A, P-256, PIN once per session -----------------------------------
check "dgst -sign with 9A (by id, -passin)" e_openssl dgst -sha256 -engine pkcs11 -keyform engine \
    -sign "$ec_key" -passin "pass:$KYSO_TEST_PIN" -out "$TEST_TMP/ec.sig" "$TEST_TMP/data"
check "9A dgst signature verifies" p_openssl dgst -sha256 -verify "$TEST_TMP/ec.pub" \
    -signature "$TEST_TMP/ec.sig" "$TEST_TMP/data"
check_fails "9A dgst signature does not verify with the 9C key" p_openssl dgst -sha256 \
    -verify "$TEST_TMP/rsa.pub" -signature "$TEST_TMP/ec.sig" "$TEST_TMP/data"
check "dgst -sign with 9A (by label, pin-value= in the URI)" e_openssl dgst -sha384 -engine pkcs11 -keyform engine \
    -sign "$ec_key_label;pin-value=$KYSO_TEST_PIN" -out "$TEST_TMP/ec384.sig" "$TEST_TMP/data"
check "9A SHA-384 signature verifies" p_openssl dgst -sha384 -verify "$TEST_TMP/ec.pub" \
    -signature "$TEST_TMP/ec384.sig" "$TEST_TMP/data"
check "pkeyutl -sign with 9A" e_openssl pkeyutl -engine pkcs11 -keyform engine -sign -inkey "$ec_key" \
    -passin "pass:$KYSO_TEST_PIN" -in "$TEST_TMP/data.sha256" -out "$TEST_TMP/ec.pkeyutl.sig"
check "9A pkeyutl signature verifies" p_openssl pkeyutl -verify -pubin -inkey "$TEST_TMP/ec.pub" \
    -in "$TEST_TMP/data.sha256" -sigfile "$TEST_TMP/ec.pkeyutl.sig"
check "req -new with 9A" e_openssl req -new -engine pkcs11 -keyform engine -key "$ec_key" \
    -passin "pass:$KYSO_TEST_PIN" -subj "/C=VN/O=kyso/CN=Nguyen Van An" -sha256 -out "$TEST_TMP/ec.csr"
check "9A CSR self-signature verifies" output_has "verify OK" p_openssl req -in "$TEST_TMP/ec.csr" -verify -noout
check "9A CSR carries the 9A public key" same_pubkey "$TEST_TMP/ec.csr" "$TEST_TMP/ec.pub"
check "9A CSR has the subject asked for" subject_is "$TEST_TMP/ec.csr" "CN=Nguyen Van An,O=kyso,C=VN"

# --- 9C, RSA-2048, always-authenticate ---------------------------------
check "dgst -sign with 9C (by id, -passin + PIN at the key prompt)" e_openssl_pin "$KYSO_TEST_PIN" \
    dgst -sha256 -engine pkcs11 -keyform engine -sign "$rsa_key" -passin "pass:$KYSO_TEST_PIN" \
    -out "$TEST_TMP/rsa.sig" "$TEST_TMP/data"
check "9C dgst signature verifies" p_openssl dgst -sha256 -verify "$TEST_TMP/rsa.pub" \
    -signature "$TEST_TMP/rsa.sig" "$TEST_TMP/data"
check "dgst -sign with 9C (by label, pin-value= + PIN at the key prompt)" e_openssl_pin "$KYSO_TEST_PIN" \
    dgst -sha512 -engine pkcs11 -keyform engine -sign "$rsa_key_label;pin-value=$KYSO_TEST_PIN" \
    -out "$TEST_TMP/rsa512.sig" "$TEST_TMP/data"
check "9C SHA-512 signature verifies" p_openssl dgst -sha512 -verify "$TEST_TMP/rsa.pub" \
    -signature "$TEST_TMP/rsa512.sig" "$TEST_TMP/data"
check "dgst -sign with 9C, RSA-PSS" e_openssl_pin "$KYSO_TEST_PIN" \
    dgst -sha256 -engine pkcs11 -keyform engine -sign "$rsa_key" -passin "pass:$KYSO_TEST_PIN" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -out "$TEST_TMP/rsa.pss.sig" "$TEST_TMP/data"
check "9C PSS signature verifies" verify_signature "$rsa_cert" "$TEST_TMP/data" "$TEST_TMP/rsa.pss.sig" sha256 pss
check "pkeyutl -sign with 9C" e_openssl_pin "$KYSO_TEST_PIN" pkeyutl -engine pkcs11 -keyform engine -sign \
    -inkey "$rsa_key" -passin "pass:$KYSO_TEST_PIN" -pkeyopt digest:sha256 \
    -in "$TEST_TMP/data.sha256" -out "$TEST_TMP/rsa.pkeyutl.sig"
check "9C pkeyutl signature verifies" p_openssl pkeyutl -verify -pubin -inkey "$TEST_TMP/rsa.pub" \
    -pkeyopt digest:sha256 -in "$TEST_TMP/data.sha256" -sigfile "$TEST_TMP/rsa.pkeyutl.sig"
check "9C pkeyutl and dgst PKCS#1 v1.5 signatures are identical" cmp "$TEST_TMP/rsa.sig" "$TEST_TMP/rsa.pkeyutl.sig"
check "req -new with 9C" e_openssl_pin "$KYSO_TEST_PIN" req -new -engine pkcs11 -keyform engine \
    -key "$rsa_key" -passin "pass:$KYSO_TEST_PIN" -subj "/C=VN/O=kyso/CN=Nguyen Van An" -sha256 \
    -out "$TEST_TMP/rsa.csr"
check "9C CSR self-signature verifies" output_has "verify OK" p_openssl req -in "$TEST_TMP/rsa.csr" -verify -noout
check "9C CSR carries the 9C public key" same_pubkey "$TEST_TMP/rsa.csr" "$TEST_TMP/rsa.pub"

# Without the context-specific PIN the 9C key does not sign (the token
# login alone is not enough), and that costs no PIN try.
check_fails "9C does not sign without its context-specific PIN" e_openssl dgst -sha256 -engine pkcs11 \
    -keyform engine -sign "$rsa_key" -passin "pass:$KYSO_TEST_PIN" -out "$TEST_TMP/rsa.nopin.sig" "$TEST_TMP/data"
check "no signature was written" test ! -s "$TEST_TMP/rsa.nopin.sig"
# A wrong PIN at the key prompt is refused and costs one try.
check_fails "9C refuses a wrong context-specific PIN" e_openssl_pin 000000 dgst -sha256 -engine pkcs11 \
    -keyform engine -sign "$rsa_key" -passin "pass:$KYSO_TEST_PIN" -out "$TEST_TMP/rsa.bad.sig" "$TEST_TMP/data"
check "the wrong PIN cost one try" pin_tries 2
check_fails "a wrong token PIN is refused" e_openssl dgst -sha256 -engine pkcs11 -keyform engine \
    -sign "$ec_key" -passin "pass:654321" -out "$TEST_TMP/ec.bad.sig" "$TEST_TMP/data"
check "that cost another try" pin_tries 1
check "the right PIN still works" e_openssl dgst -sha256 -engine pkcs11 -keyform engine \
    -sign "$ec_key" -passin "pass:$KYSO_TEST_PIN" -out "$TEST_TMP/ec2.sig" "$TEST_TMP/data"
# openssl exits without C_Finalize (libp11 does not finalize the module):
# the PIN verified for it must not stay verified on the card for the next
# PC/SC client. yubico-piv-tool test-signature signs with 9A without
# VERIFY (and resets the card when it disconnects).
check_fails "after openssl exits, another client cannot sign with 9A without the PIN" \
    yubico-piv-tool -r "$KYSO_READER" -a test-signature -s 9a -i "$ec_cert"
check "the counter is back to 3" pin_tries 3

# The module's audit trail (tests/with-token gives it one): it must verify,
# and hold one record per private-key operation and per refused PIN.
audit_verifies() { "$KYSO_BUILDDIR/tools/kyso" audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"; }
audit_is() { # EVENT PROGRAM KEY|- OP N: the number of successful EVENT records of PROGRAM (and KEY)
    local n
    n=$(grep -F "\"event\":\"$1\"" "$KYSO_AUDIT_LOG" | grep -F "\"program\":\"$2\"" |
        { if [ "$3" = - ]; then cat; else grep -F "\"key\":\"$3\""; fi; } |
        { if [ "$1" = sign ]; then grep -F '"outcome":"CKR_OK"'; else cat; fi; } | grep -c .)
    case $4 in
    -eq) [ "$n" -eq "$5" ] ;;
    -ge) [ "$n" -ge "$5" ] ;;
    *) false ;;
    esac || { echo "$n $1 records of $2 (key $3), expected $4 $5"; return 1; }
}
check "the audit trail verifies" audit_verifies
check "audit: five signatures with 9A" audit_is sign openssl 9A -eq 5
check "audit: five signatures with 9C" audit_is sign openssl 9C -eq 5
audit_pss() { grep -F '"mechanism":"CKM_RSA_PKCS_PSS"' "$KYSO_AUDIT_LOG" | grep -F '"key":"9C"' | grep -c . >/dev/null; }
check "audit: the PSS signature is recorded as such" audit_pss
check "audit: both wrong PINs are recorded" audit_is pin_failure openssl - -eq 2

finish
