#!/bin/bash
# ykcs11 (Yubico's PKCS#11 module, 2.2.0) drives kyso-vtoken unchanged,
# through pkcs11-tool: the token and its objects are listed, certificates
# and public keys read back equal the test vectors, login counts wrong PINs,
# and signatures with every personalised key (SHA256/SHA512-RSA-PKCS,
# RSA-PKCS, (SHA256-)RSA-PKCS-PSS, ECDSA-SHA256, ECDSA) and with keys
# generated through ykcs11 verify with openssl. 9c has PIN policy
# "always": ykcs11 marks its key CKA_ALWAYS_AUTHENTICATE and pkcs11-tool
# logs in again (context-specific) right before the signature.
#
# ykcs11 2.2.0 only looks at readers whose name starts with "Yubico".
# Object IDs: 01 = 9a, 02 = 9c, 03 = 9d, 04 = 9e, 05 = 82, 06 = 83, ...
. "$(dirname "$0")/lib.sh"
in_token --reader-name "Yubico YubiKey (kyso-vtoken)" piv

pki=$KYSO_TEST_PKI
T=$TEST_TMP
pin=$KYSO_TEST_PIN

p11() { pkcs11-tool --module "$YKCS11_MODULE" "$@"; }

# p11sign ID MECHANISM IN OUT [OPTIONS...]: a signature, after login.
p11sign() {
    local id=$1 mech=$2 in=$3 out=$4
    shift 4
    rm -f "$out"
    p11 --login --pin "$pin" --sign --id "$id" -m "$mech" -i "$in" -o "$out" "$@"
}
# p11sign_pin PIN ARGS...: p11sign with another PIN.
p11sign_pin() {
    local pin=$1
    shift
    p11sign "$@"
}

# lists_pair LABEL FILE: the -O listing FILE has the certificate and the
# public key named after LABEL.
lists_pair() {
    grep -Eq "^  label: +X.509 Certificate for $1\$" "$2" && grep -Eq "^  label: +Public key for $1\$" "$2"
}
# count_is N PATTERN FILE: N lines of FILE match PATTERN (ERE).
count_is() {
    local n
    n=$(grep -Ec -- "$2" "$3")
    echo "$n lines match '$2' (want $1)"
    [ "$n" = "$1" ]
}
lacks() { ! grep -Eq -- "$1" "$2"; }
# access_of LABEL FILE: the Access line of the object LABEL in FILE.
access_of() { grep -A5 -E "^  label: +$1\$" "$2" | grep -m1 "Access:"; }

# cert_read_back ID CERT.pem: the certificate object ID is CERT.pem's DER.
cert_read_back() {
    rm -f "$T/cert$1.der"
    p11 --read-object --type cert --id "$1" -o "$T/cert$1.der" || return 1
    openssl x509 -in "$2" -outform DER | cmp - "$T/cert$1.der"
}
# spki FILE FORMAT: SubjectPublicKeyInfo DER, EC curves by name. ykcs11
# 2.2.0 on OpenSSL 3 exports the EC keys it takes from certificates with
# explicit curve parameters.
spki() {
    openssl ec -pubin -inform "$2" -in "$1" -param_enc named_curve -outform DER 2>/dev/null ||
        openssl pkey -pubin -inform "$2" -in "$1" -outform DER
}
# pubkey_read_back ID CERT.pem: the public key object ID is CERT.pem's key.
pubkey_read_back() {
    rm -f "$T/pub$1.der"
    p11 --read-object --type pubkey --id "$1" -o "$T/pub$1.der" || return 1
    openssl x509 -in "$2" -noout -pubkey >"$T/cert-pub.pem" || return 1
    spki "$T/cert-pub.pem" PEM >"$T/cert-pub.der" || return 1
    spki "$T/pub$1.der" DER | cmp - "$T/cert-pub.der"
}
# read_pubkey ID OUT.pem: the public key object ID as PEM.
read_pubkey() {
    rm -f "$T/pub$1.der"
    p11 --read-object --type pubkey --id "$1" -o "$T/pub$1.der" &&
        openssl pkey -pubin -inform DER -in "$T/pub$1.der" -out "$2"
}

# raw_to_der RAW OUT: an r||s ECDSA signature as DER (ECDSA-Sig-Value).
raw_to_der() {
    local hex n
    hex=$(od -An -tx1 -v "$1" | tr -d ' \n')
    n=$((${#hex} / 2))
    printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${hex:0:n}" "${hex:n}" >"$T/sig.cnf"
    openssl asn1parse -genconf "$T/sig.cnf" -out "$2" >/dev/null
}
# verify_raw_ecdsa CERT DATA RAW: a 64-byte r||s signature that verifies.
verify_raw_ecdsa() {
    local size
    size=$(stat -c %s "$3")
    echo "raw signature: $size bytes"
    [ "$size" = 64 ] && raw_to_der "$3" "$3.der" && verify_signature "$1" "$2" "$3.der"
}

signature_count() { vtoken_ctl stats | sed -n 's/.*signatures \([0-9]*\).*/\1/p'; }
signature_count_is() {
    local n
    n=$(signature_count)
    echo "signatures: $n (want $1)"
    [ "$n" = "$1" ]
}
token_key() { "$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE" | grep "^key $1:"; }

head -c 2500 /dev/urandom >"$T/data"
cp "$T/data" "$T/data.tampered"
printf 'x' >>"$T/data.tampered"
openssl dgst -sha256 -binary "$T/data" >"$T/data.sha256"
# The SHA-256 DigestInfo prefix (RFC 8017 §9.2, note 1), then the hash.
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$T/data.sha256"; } \
    >"$T/data.digestinfo"

serial=$("$KYSO_VTOKEN" show --state "$KYSO_TOKEN_STATE" | sed -n 's/.*serial \([0-9]*\),.*/\1/p')

# --- the token and its objects ----------------------------------------------
p11 -L >"$T/list.txt" 2>&1
check "-L lists the reader" grep -q "Yubico YubiKey (kyso-vtoken)" "$T/list.txt"
check "-L: token label carries the token's serial ($serial)" \
    grep -Eq "token label +: YubiKey PIV #$serial\$" "$T/list.txt"
check "-L: serial number" grep -Eq "serial num +: $serial\$" "$T/list.txt"
check "-L: PIN initialized, login required" \
    grep -Eq "token flags +: login required, .*PIN initialized" "$T/list.txt"

p11 -O >"$T/objects.txt" 2>&1
for pair in "01:PIV Authentication" "02:Digital Signature" "03:Key Management" "05:Retired Key 1"; do
    check "-O lists certificate and public key ${pair%%:*} (${pair#*:})" lists_pair "${pair#*:}" "$T/objects.txt"
done
check "-O: the four certificates carry the subscriber's subject" \
    count_is 4 "subject: +DN: .*CN=Nguy.*UID=CCCD:000000000001" "$T/objects.txt"
check "-O: no certificate for the empty slot 9e" lacks "Certificate for Card Authentication" "$T/objects.txt"
check "-O without login shows no private keys" lacks "Private Key Object" "$T/objects.txt"

for pair in 01:person-an-auth-p256 02:person-an-sign-rsa2048 03:person-an-keymgmt-p256 05:person-an-sign-p256; do
    check "certificate ${pair%%:*} read back is ${pair#*:}.pem" \
        cert_read_back "${pair%%:*}" "$pki/${pair#*:}.pem"
    check "public key ${pair%%:*} read back is the key of ${pair#*:}.pem" \
        pubkey_read_back "${pair%%:*}" "$pki/${pair#*:}.pem"
done
openssl x509 -inform DER -in "$T/cert02.der" -out "$T/cert02.pem" 2>>"$TEST_LOG"

# --- login ----------------------------------------------------------------
check_fails "login with a wrong PIN" p11 --login --pin 000000 -O
check "the wrong PIN shows as 'user PIN count low'" output_has "user PIN count low" p11 -L
p11 --login --pin "$pin" -O >"$T/objects-login.txt" 2>&1
check "login with the PIN lists four private keys" count_is 4 "^Private Key Object" "$T/objects-login.txt"
check "the good login restored the PIN counter" output_lacks "user PIN count low" p11 -L
check "the 9c private key is CKA_ALWAYS_AUTHENTICATE" \
    output_has "always authenticate" access_of "Private key for Digital Signature" "$T/objects-login.txt"
check "the 9a private key is not" \
    output_lacks "always authenticate" access_of "Private key for PIV Authentication" "$T/objects-login.txt"

# --- signatures with the 9c RSA key (PIN always) -----------------------------
signatures=$(signature_count)
check "9c: SHA256-RSA-PKCS" p11sign 02 SHA256-RSA-PKCS "$T/data" "$T/sig-rsa"
check "the token made that signature" signature_count_is $((signatures + 1))
check "9c SHA256-RSA-PKCS verifies against person-an-sign-rsa2048.pem" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig-rsa"
check "9c SHA256-RSA-PKCS verifies against the certificate read back" \
    verify_signature "$T/cert02.pem" "$T/data" "$T/sig-rsa"
check_fails "9c SHA256-RSA-PKCS does not verify for other data" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data.tampered" "$T/sig-rsa"
check_fails "9c SHA256-RSA-PKCS does not verify against another RSA key" \
    verify_signature "$pki/person-binh-sign-rsa2048.pem" "$T/data" "$T/sig-rsa"
check "9c: SHA512-RSA-PKCS" p11sign 02 SHA512-RSA-PKCS "$T/data" "$T/sig-rsa512"
check "9c SHA512-RSA-PKCS verifies" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig-rsa512" sha512
check "9c: RSA-PKCS over a DigestInfo" p11sign 02 RSA-PKCS "$T/data.digestinfo" "$T/sig-rsa-raw"
check "9c RSA-PKCS verifies as sha256WithRSAEncryption" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig-rsa-raw"
check "9c: SHA256-RSA-PKCS-PSS" p11sign 02 SHA256-RSA-PKCS-PSS "$T/data" "$T/sig-pss"
check "9c SHA256-RSA-PKCS-PSS verifies (PSS, MGF1-SHA256)" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig-pss" sha256 pss
check_fails "9c SHA256-RSA-PKCS-PSS is not a PKCS#1 v1.5 signature" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig-pss" sha256 rsa
check "9c: RSA-PKCS-PSS over a SHA-256 hash" \
    p11sign 02 RSA-PKCS-PSS "$T/data.sha256" "$T/sig-pss-raw" --hash-algorithm SHA256 --mgf MGF1-SHA256
check "9c RSA-PKCS-PSS verifies" \
    verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/sig-pss-raw" sha256 pss
check_fails "no 9c signature with a wrong PIN" \
    p11sign_pin 000000 02 SHA256-RSA-PKCS "$T/data" "$T/sig-wrong-pin"

# --- signatures with the EC keys --------------------------------------------
for pair in 01:person-an-auth-p256 03:person-an-keymgmt-p256 05:person-an-sign-p256; do
    id=${pair%%:*}
    check "$id: ECDSA-SHA256 (DER)" \
        p11sign "$id" ECDSA-SHA256 "$T/data" "$T/sig-ec$id" --signature-format openssl
    check "$id ECDSA-SHA256 verifies against ${pair#*:}.pem" \
        verify_signature "$pki/${pair#*:}.pem" "$T/data" "$T/sig-ec$id"
done
check_fails "01 ECDSA-SHA256 does not verify for other data" \
    verify_signature "$pki/person-an-auth-p256.pem" "$T/data.tampered" "$T/sig-ec01"
check_fails "01 ECDSA-SHA256 does not verify against 03's key" \
    verify_signature "$pki/person-an-keymgmt-p256.pem" "$T/data" "$T/sig-ec01"
check "05: ECDSA over a SHA-256 hash (raw r||s)" p11sign 05 ECDSA "$T/data.sha256" "$T/sig-ec-raw"
check "05 ECDSA is 64 bytes r||s and verifies once DER-encoded" \
    verify_raw_ecdsa "$pki/person-an-sign-p256.pem" "$T/data" "$T/sig-ec-raw"

# --- keys generated through ykcs11 (SO PIN = management key) ------------------
check_fails "key generation with a wrong management key" \
    p11 --login --login-type so --so-pin 0102030405060708010203040506070801020304050607ff \
    --keypairgen --key-type EC:prime256v1 --id 04
check "generate a P-256 key in 9e" \
    p11 --login --login-type so --so-pin "$KYSO_TEST_MGM_KEY" --keypairgen --key-type EC:prime256v1 --id 04
check "generate an RSA-2048 key in 83" \
    p11 --login --login-type so --so-pin "$KYSO_TEST_MGM_KEY" --keypairgen --key-type rsa:2048 --id 06
check "the token records 9e as a generated P-256 key" output_has "^key 9E: alg 11, .*generated" token_key 9E
check "the token records 83 as a generated RSA-2048 key" output_has "^key 83: alg 07, .*generated" token_key 83
for pair in 04:ECDSA-SHA256 06:SHA256-RSA-PKCS; do
    id=${pair%%:*}
    check "$id: read the generated public key" read_pubkey "$id" "$T/gen$id.pem"
    check "$id: ${pair#*:} with the generated key" \
        p11sign "$id" "${pair#*:}" "$T/data" "$T/sig-gen$id" --signature-format openssl
    check "$id: the signature verifies against the generated public key" \
        openssl dgst -sha256 -verify "$T/gen$id.pem" -signature "$T/sig-gen$id" "$T/data"
    check_fails "$id: the signature does not verify for other data" \
        openssl dgst -sha256 -verify "$T/gen$id.pem" -signature "$T/sig-gen$id" "$T/data.tampered"
done

finish
