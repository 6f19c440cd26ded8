#!/bin/bash
# The test PKI's certificates that must not sign (expired, not yet valid,
# wrong keyUsage, wrong extendedKeyUsage, from a rogue CA; rules M1, M12)
# and the organisation's key-management one, each personalised onto a
# fresh virtual token with tests/with-token --key: PIV slot 9C (9D for the
# key-management one) and the government token's key 81 (vgca-chipdoc,
# RSA-2048 only). Each certificate is read back with pkcs11-tool, through
# OpenSC's module (PIV) and kyso's, and must be the file byte for byte.
#
# kyso's module shows the certificate the card holds even when it does not
# chain (untrusted-sign-rsa2048): only certificates from the local store
# must chain to be attached. Refusing to sign with it is rule M1's job.
. "$(dirname "$0")/lib.sh"

# Outside a token: one token per certificate and personality.
if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    cases=(
        piv:9c:expired-sign-rsa2048
        piv:9c:expired-sign-p256
        piv:9c:notyet-sign-rsa2048
        piv:9c:wrongku-sign-rsa2048
        piv:9c:wrongeku-sign-rsa2048
        piv:9c:untrusted-sign-rsa2048
        piv:9d:org-bacninh-keymgmt-rsa2048
        vgca-chipdoc:81:expired-sign-rsa2048
        vgca-chipdoc:81:notyet-sign-rsa2048
        vgca-chipdoc:81:wrongku-sign-rsa2048
        vgca-chipdoc:81:wrongeku-sign-rsa2048
        vgca-chipdoc:81:untrusted-sign-rsa2048
    )
    rc=0
    for c in "${cases[@]}"; do
        IFS=: read -r personality slot name <<<"$c"
        echo "# $name in $personality key $slot"
        KYSO_CASE_CERT=$name KYSO_CASE_SLOT=$slot "$KYSO_SRCDIR/tests/with-token" \
            --key "$slot=$name.key.pem,$name.pem" "$personality" -- "$BASH" "$0"
        r=$?
        # a failed check wins over a token that could not be set up (125)
        if [ "$r" -ne 0 ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 125 ]; }; then rc=$r; fi
    done
    exit "$rc"
fi

in_token
name=$KYSO_CASE_CERT
slot=$KYSO_CASE_SLOT
pki=$KYSO_TEST_PKI
T=$TEST_TMP
openssl x509 -in "$pki/$name.pem" -outform DER -out "$T/want.der"

# kyso's module under the sanitizers needs their runtime in the client;
# OpenSC's module runs as it is.
kyso_p11() { (client_env && pkcs11-tool --module "$KYSO_MODULE" "$@"); }
opensc_p11() { pkcs11-tool --module "$OPENSC_MODULE" "$@"; }

# read_back TOOL ID OUT: reads the certificate with CKA_ID ID.
read_back() {
    rm -f "$3"
    "$1" --read-object --type cert --id "$2" -o "$3" && cmp "$3" "$T/want.der"
}

case $slot in
9c) id=02 ;;
9d) id=03 ;;
81)
    # the government token's IDs are the card's (PrKDF/CDF), not fixed
    kyso_p11 -O >"$T/O" 2>&1
    id=$(sed -n '/Public Key Object/,/^[A-Z]/s/^  ID: *//p' "$T/O" | head -n1)
    check "kyso: the key has an ID" test -n "$id"
    ;;
esac

if [ "$slot" != 81 ]; then
    check "OpenSC: $name read back from $slot is the file" read_back opensc_p11 "$id" "$T/opensc.der"
fi
check "kyso: $name read back from $slot is the file" read_back kyso_p11 "$id" "$T/kyso.der"
finish
