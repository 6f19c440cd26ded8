#!/bin/bash
# Sizes that come from the card, at their bound and one past it, through
# kyso-pkcs11.so on the RSA PIV key set. A certificate is written to a
# slot with yubico-piv-tool (the card does not check that it matches the
# key, as real cards do not): its public key says how large the key is.
#   - RSA-4096 (the largest the edges offer): the key is offered with
#     4096 bits; a signature with it fails cleanly (the card's key is
#     another), nothing is released;
#   - RSA-4104 and RSA-8448 (past the bound; 8448 bits is a block larger
#     than any buffer of the signing path): the key is not offered at all,
#     CKM_RSA_X_509 cannot reach it, and the other keys still sign.
# The public keys are made up (a modulus of the right size, no private
# key): only their size matters here.
. "$(dirname "$0")/lib.sh"
in_token --keys rsa piv

T=$TEST_TMP
PIN=$KYSO_TEST_PIN
p11_preload=${LD_PRELOAD:-}
unset LD_PRELOAD
p11() { LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" "$@"; }
yk() { yubico-piv-tool -r "$KYSO_READER" --key="$KYSO_TEST_MGM_KEY" "$@"; }
pki=$KYSO_TEST_PKI

# fake_cert BITS OUT.pem: a certificate from the issuing CA for a made-up
# RSA public key whose modulus has exactly BITS bits.
fake_cert() {
    local bits=$1 out=$2 bytes=$((($1 + 7) / 8)) hex top
    hex=$(openssl rand -hex "$bytes")
    # The top bit of the modulus set (exactly BITS bits), the last odd.
    top=$(((bits - 1) % 8))
    hex=$(printf '%02x' $(((0x${hex:0:2} & ((1 << top) - 1)) | (1 << top))))${hex:2:$((2 * bytes - 4))}$(printf '%02x' $((0x${hex: -2} | 1)))
    cat >"$T/spki-$bits.cnf" <<EOF
asn1=SEQUENCE:spki
[spki]
algorithm=SEQUENCE:alg
key=BITWRAP,SEQUENCE:rsa
[alg]
oid=OID:rsaEncryption
params=NULL
[rsa]
n=INTEGER:0x$hex
e=INTEGER:0x010001
EOF
    openssl asn1parse -genconf "$T/spki-$bits.cnf" -out "$T/spki-$bits.der" >/dev/null &&
        openssl pkey -pubin -inform DER -in "$T/spki-$bits.der" -out "$T/pub-$bits.pem" &&
        openssl x509 -new -subj "/CN=Kich thuoc $bits bit" -days 30 -force_pubkey "$T/pub-$bits.pem" \
            -key "$pki/issuing-ca.key.pem" -out "$out" 2>/dev/null
}

# modulus_bits ID: CKA_MODULUS_BITS of the public key with that CKA_ID, as
# pkcs11-tool lists it ("RSA 4096 bits").
listed_bits() {
    p11 -O --type pubkey 2>/dev/null | awk -v id="$1" '
        /^Public Key Object/ { bits = $0; sub(/.*RSA /, "", bits); sub(/ bits.*/, "", bits) }
        /^ *ID:/ && $2 == id { print bits }'
}

printf 'kyso: kích thước khóa từ thẻ\n' >"$T/data"
openssl dgst -sha256 -binary "$T/data" >"$T/digest"
# A modulus-size block for CKM_RSA_X_509 of each size: below any modulus
# of that size (the top byte is zero).
block() { head -c 1 /dev/zero; head -c $((($1 + 7) / 8 - 1)) /dev/urandom; }

check "before: 9E holds no key" test -z "$(listed_bits 04)"
check "the 9C key is RSA-2048" test "$(listed_bits 02)" = 2048

# ---- at the bound: 4096 bits ----
fake_cert 4096 "$T/c4096.pem"
check "a certificate for a 4096-bit key goes into 9C" yk -a import-certificate -s 9c -i "$T/c4096.pem"
check "the 9C key is offered as RSA-4096" test "$(listed_bits 02)" = 4096
block 4096 >"$T/b4096"
check_fails "a raw signature with it fails (the card's key is not that one)" \
    p11 --login --pin "$PIN" --sign --id 02 -m RSA-X-509 -i "$T/b4096" -o "$T/s4096"
check "and nothing came out" test ! -s "$T/s4096"

# ---- past the bound: 4104 and 8448 bits ----
for bits in 4104 8448; do
    fake_cert "$bits" "$T/c$bits.pem"
    check "a certificate for a $bits-bit key goes into 9C" yk -a import-certificate -s 9c -i "$T/c$bits.pem"
    check "the $bits-bit key is not offered" test -z "$(listed_bits 02)"
    p11 -O --login --pin "$PIN" >"$T/O$bits" 2>&1
    check "no object of the 9C slot is listed ($bits)" bash -c "! grep -Eq '^ *ID: *02$' '$T/O$bits'"
    block "$bits" >"$T/b$bits"
    check_fails "CKM_RSA_X_509 with a $bits-bit block finds no key" \
        p11 --login --pin "$PIN" --sign --id 02 -m RSA-X-509 -i "$T/b$bits" -o "$T/s$bits"
    check "the 9A key still signs" p11 --login --pin "$PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$T/data" \
        -o "$T/s9a-$bits"
    check "and the signature verifies" verify_signature "$pki/person-an-auth-rsa2048.pem" "$T/data" "$T/s9a-$bits"
done

finish
