#!/bin/bash
# Rules M1 (only a valid certificate signs) and M12 (within its key usage)
# through pkcs11-tool: a token personalised with each certificate of
# test-vectors/pki that must not sign (expired, not yet valid, from a CA
# that is not a trust anchor, keyUsage or extendedKeyUsage without
# signatures) refuses with CKR_KEY_FUNCTION_NOT_PERMITTED, returns no
# signature and records the refusal with its rule and reason; a valid one
# signs; a rule weakened with weaken = yes signs and the record says so;
# `kyso token status` shows each verdict. On PIV 9A and on the government
# token's key 81.
. "$(dirname "$0")/lib.sh"

if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    # One token per certificate: this script runs again inside each.
    rc=0
    for case in valid expired notyet untrusted wrongku wrongeku; do
        cert=person-an-sign-rsa2048
        [ "$case" = valid ] || cert=$case-sign-rsa2048
        POLICY_CASE=$case POLICY_TOKEN=piv "$KYSO_SRCDIR/tests/with-token" \
            --key "9a=$cert.key.pem,$cert.pem" piv -- "$BASH" "$0" || rc=1
    done
    for case in valid expired untrusted; do
        cert=person-an-sign-rsa2048
        [ "$case" = valid ] || cert=$case-sign-rsa2048
        POLICY_CASE=$case POLICY_TOKEN=vgca "$KYSO_SRCDIR/tests/with-token" \
            --key "81=$cert.key.pem,$cert.pem" vgca-chipdoc -- "$BASH" "$0" || rc=1
    done
    exit $rc
fi

in_token
client_env
T=$TEST_TMP
p11() { pkcs11-tool --module "$KYSO_MODULE" "$@"; }
case=$POLICY_CASE
if [ "$POLICY_TOKEN" = piv ]; then id=01; else id=$(p11 -O --type cert | sed -n 's/^ *ID: *//p' | head -n1); fi
echo "M1/M12 test data: $case" >"$T/data"
sign() { # OUT
    rm -f "$1"
    p11 -l --pin "$KYSO_TEST_PIN" -s --id "$id" -m SHA256-RSA-PKCS -i "$T/data" -o "$1"
}
last() { jq -r "select(.event == \"$1\") | $2" "$KYSO_AUDIT_LOG" | tail -n1; }

case $case in
valid)
    check "$POLICY_TOKEN valid certificate: signs" sign "$T/sig"
    check "  the record is a sign, CKR_OK" test "$(last sign .outcome)" = CKR_OK
    check "  token status: valid, will sign" bash -c "'$KYSO_BUILDDIR/tools/kyso' token status | grep -q 'will sign: yes'"
    ;;
expired | notyet | untrusted | wrongku | wrongeku)
    rule=M1 why=
    case $case in
    expired) why="expired on" ;;
    notyet) why="valid only from" ;;
    untrusted) why="does not chain to a trust anchor" ;;
    wrongku) rule=M12 why="key usage does not allow the key to sign" ;;
    wrongeku) rule=M12 why="extended key usage does not allow the key to sign" ;;
    esac
    out=$(sign "$T/sig" 2>&1)
    echo "$out" >>"$TEST_LOG"
    check "$POLICY_TOKEN $case: refused with CKR_KEY_FUNCTION_NOT_PERMITTED" grep -q CKR_KEY_FUNCTION_NOT_PERMITTED <<<"$out"
    check "  no signature returned" test ! -s "$T/sig"
    check "  the refusal names rule $rule" test "$(last refusal .rule)" = "$rule"
    check "  and why: $why" bash -c "jq -r 'select(.event == \"refusal\") | .detail' '$KYSO_AUDIT_LOG' | grep -q '$why'"
    check "  no sign record" test -z "$(last sign .outcome)"
    check "  token status: will sign: no ($rule)" bash -c "'$KYSO_BUILDDIR/tools/kyso' token status | grep -q 'will sign: no ($rule'"
    if [ "$case" = expired ]; then
        printf '[M1]\ncheck_validity = no\nweaken = yes\n' >>"$KYSO_SYSTEM_CONF/kyso.conf"
        check "  [M1] check_validity = no with weaken = yes: signs" sign "$T/sig.weak"
        check "  and the sign record says the certificate is expired" \
            bash -c "[ \"\$(jq -r 'select(.event == \"sign\") | .detail' '$KYSO_AUDIT_LOG' | tail -n1)\" = 'the certificate is expired (M1 check_validity = no)' ]"
    fi
    ;;
esac
check "the audit trail verifies" "$KYSO_BUILDDIR/tools/kyso" audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
