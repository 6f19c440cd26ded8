#!/bin/bash
# Signing as Firefox does over TLS 1.3 (and Java's SunPKCS11, LibreOffice):
# C_Login(CKU_USER) once, then C_SignInit + C_SignUpdate x3 + C_SignFinal,
# and never C_Login(CKU_CONTEXT_SPECIFIC). p11_context_free checks every
# signature against the token's certificate. What the module does today:
#   - PIV 9C (PIN always, RSA-PSS): CKR_USER_NOT_LOGGED_IN;
#   - PIV 9A (no PIN always): signs, and the signatures verify;
#   - the government token's key (PKCS#1 v1.5): signs and verifies.
# Each token in its own tests/with-token.
. "$(dirname "$0")/lib.sh"

if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    rc=0
    echo "# piv (RSA keys)"
    "$KYSO_SRCDIR/tests/with-token" --keys rsa piv -- "$BASH" "$0" piv || rc=$?
    echo "# vgca-chipdoc"
    "$KYSO_SRCDIR/tests/with-token" vgca-chipdoc -- "$BASH" "$0" vgca-chipdoc || rc=$?
    exit "$rc"
fi
personality=$1
in_token "$personality"

T=$TEST_TMP
# The ASan runtime client_env preloads is for the clients of the module
# only (sed and the like trip over it).
p11_preload=${LD_PRELOAD:-}
unset LD_PRELOAD
client() { LD_PRELOAD=$p11_preload run_checked "$KYSO_BUILDDIR/tests/integration/p11_context_free" --module "$KYSO_MODULE" "$@"; }

case $personality in
piv)
    check "9C, PSS, without a context login: CKR_USER_NOT_LOGGED_IN" \
        client --login --id 02 --mechanism sha256-rsa-pkcs-pss --expect-rv CKR_USER_NOT_LOGGED_IN
    check "9C, PKCS#1 v1.5, without a context login: CKR_USER_NOT_LOGGED_IN" \
        client --login --id 02 --mechanism sha256-rsa-pkcs --expect-rv CKR_USER_NOT_LOGGED_IN
    check "9A, PSS: three signatures, each verifies" client --login --id 01 --mechanism sha256-rsa-pkcs-pss --count 3
    check "9A, PKCS#1 v1.5: signs and verifies" client --login --id 01 --mechanism sha256-rsa-pkcs
    check "9A without C_Login(CKU_USER): no private key is found" \
        client --id 01 --expect-rv CKR_KEY_HANDLE_INVALID
    check "a wrong PIN: CKR_PIN_INCORRECT" client --login --pin 999999 --id 01 --expect-rv CKR_PIN_INCORRECT
    ;;
vgca-chipdoc)
    LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" -O >"$T/O" 2>&1
    id=$(sed -n '/Public Key Object/,/^[A-Z]/s/^  ID: *//p' "$T/O" | head -n1)
    check "the key has an ID ($id)" test -n "$id"
    check "the government token's key, PKCS#1 v1.5: two signatures, each verifies" \
        client --login --id "$id" --mechanism sha256-rsa-pkcs --count 2
    check "the government token offers no PSS: CKR_MECHANISM_INVALID" \
        client --login --id "$id" --mechanism sha256-rsa-pkcs-pss --expect-rv CKR_MECHANISM_INVALID
    ;;
esac

finish
