#!/bin/bash
# A key's PIN policy and origin as the card states them (YubiKey GET
# METADATA), which kyso asks only when they matter (a cold start reads the
# certificates alone): keys imported by yubico-piv-tool with a PIN policy
# other than the PIV default, and a key generated on the card, seen
# through pkcs11-tool. The configuration is the tests' (nd68-2024, no PIN
# before every signature), so the card's policy decides.
. "$(dirname "$0")/lib.sh"
in_token piv

pki=$KYSO_TEST_PKI
T=$TEST_TMP
PIN=$KYSO_TEST_PIN
p11_preload=${LD_PRELOAD:-}
unset LD_PRELOAD
p11() { LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" "$@"; }
yk() { yubico-piv-tool -r "$KYSO_READER" --key="$KYSO_TEST_MGM_KEY" "$@"; }
# block KIND ID < LISTING: that object's lines in a pkcs11-tool -O listing.
block() {
    awk -v kind="$1" -v id="$2" '
        function flush() {
            if (index(blk, kind " Object") == 1 && blk ~ ("\n  ID: +" id "\n")) printf "%s", blk
            blk = ""
        }
        /^[^ ]/ { flush() }
        { blk = blk $0 "\n" }
        END { flush() }'
}
has() { # FILE KIND ID PATTERN
    local b
    b=$(block "$2" "$3" <"$1")
    echo "$b"
    [ -n "$b" ] && grep -Eq -- "$4" <<<"$b"
}
lacks() { # FILE KIND ID PATTERN
    local b
    b=$(block "$2" "$3" <"$1")
    echo "$b"
    [ -n "$b" ] && ! grep -Eq -- "$4" <<<"$b"
}
printf 'kyso: chính sách PIN của khóa.\n' >"$T/data"

# 9A (P-256, PIV default: PIN once) now wants the PIN for every use; 9C
# (RSA-2048, PIV default: always) only once.
check "9A key imported with PIN policy always" \
    yk -a import-key -s 9a --pin-policy=always -i "$pki/person-an-auth-p256.key.pem"
check "9A certificate put back" yk -a import-certificate -s 9a -i "$pki/person-an-auth-p256.pem"
check "9C key imported with PIN policy once" \
    yk -a import-key -s 9c --pin-policy=once -i "$pki/person-an-sign-rsa2048.key.pem"
check "9C certificate put back" yk -a import-certificate -s 9c -i "$pki/person-an-sign-rsa2048.pem"
# 9E: made on the card, with a certificate from the test CA.
check "9E key generated on the card" yk -a generate -s 9e -A ECCP256 -o "$T/9e.pub"
check "9E certificate" openssl x509 -new -subj "/C=VN/O=kyso test/CN=kyso 9E" -force_pubkey "$T/9e.pub" \
    -CA "$pki/issuing-ca.pem" -CAkey "$pki/issuing-ca.key.pem" -days 30 -out "$T/9e.pem"
check "9E certificate stored" yk -a import-certificate -s 9e -i "$T/9e.pem"

p11 -O --login --pin "$PIN" >"$T/O" 2>&1
check "9A private key: always authenticate (the card's policy)" has "$T/O" "Private Key" 01 "Access: +always authenticate"
check "9C private key: no always authenticate (the card's policy)" lacks "$T/O" "Private Key" 02 "always authenticate"
check "9E private key: made on the card (CKA_LOCAL)" has "$T/O" "Private Key" 04 "Access: .*local"
check "9A private key: imported (not CKA_LOCAL)" lacks "$T/O" "Private Key" 01 "local"

# pkcs11-tool does the context login a key asks for: 9A's signature works
# with it; 9C's without.
check "9A signs (with its context login)" \
    p11 --login --pin "$PIN" --sign --id 01 -m ECDSA-SHA256 --signature-format openssl -i "$T/data" -o "$T/9a.sig"
check "9A signature verifies" verify_signature "$pki/person-an-auth-p256.pem" "$T/data" "$T/9a.sig" sha256 ecdsa
check "9C signs (no context login)" p11 --login --pin "$PIN" --sign --id 02 -m SHA256-RSA-PKCS -i "$T/data" -o "$T/9c.sig"
check "9C signature verifies" verify_signature "$pki/person-an-sign-rsa2048.pem" "$T/data" "$T/9c.sig"
finish
