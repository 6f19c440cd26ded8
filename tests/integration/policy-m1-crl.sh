#!/bin/bash
# Rule M1's revocation part through the module: PIV 9A holds the test PKI's
# revoked certificate; what the CRL cache ($(localstatedir)/lib/kyso/crl,
# filled by `kyso crl update`) says decides. No CRL: signs under Mật,
# refused with crl_required = yes. A current CRL that does not list it:
# signs. The CRL that revokes it: refused, the record says revoked. A stale
# CRL: under nd68-2024 (crl_stale = warn) signs and the record says the CRL
# is stale; under tien-giang-2015 (Tối mật, refuse) refused.
. "$(dirname "$0")/lib.sh"
in_token --key "9a=revoked-sign-rsa2048.key.pem,revoked-sign-rsa2048.pem" piv
client_env
T=$TEST_TMP
pki=$KYSO_TEST_PKI
conf=$KYSO_SYSTEM_CONF/kyso.conf
base=$(cat "$conf")
cache=$KYSO_SYSTEM_STATE/crl
kyso() { "$KYSO_BUILDDIR/tools/kyso" "$@"; }
echo "revocation test data" >"$T/data"
sign() { # OUT
    rm -f "$1"
    pkcs11-tool --module "$KYSO_MODULE" -l --pin "$KYSO_TEST_PIN" -s --id 01 -m SHA256-RSA-PKCS -i "$T/data" -o "$1"
}
last() { jq -r "select(.event == \"$1\") | $2" "$KYSO_AUDIT_LOG" | tail -n1; }
cache_only() { # CRL.pem: the cache holds exactly this CRL
    rm -rf "$cache"
    kyso crl update --timeout 2 --url "file://$1" >>"$TEST_LOG" 2>&1 || true
    ls "$cache"/*.crl >/dev/null 2>&1
}
# A CRL of the issuing CA made now, with the committed test key (the
# cached ones are fixed test vectors): number, lastUpdate, nextUpdate.
make_crl() {
    local d=$T/ca.$2
    rm -rf "$d" && mkdir -p "$d"
    : >"$d/index.txt"
    printf '%02x\n' "$2" >"$d/crlnumber"
    printf '[ca]\ndefault_ca = i\n[i]\ndatabase = %s\ncrlnumber = %s\ncertificate = %s\nprivate_key = %s\ndefault_md = sha256\ncrl_extensions = e\n[e]\nauthorityKeyIdentifier = keyid:always\n' \
        "$d/index.txt" "$d/crlnumber" "$pki/issuing-ca.pem" "$pki/issuing-ca.key.pem" >"$d/ca.cnf"
    openssl ca -batch -config "$d/ca.cnf" -gencrl -crl_lastupdate "$3" -crl_nextupdate "$4" -out "$1" 2>>"$TEST_LOG"
}

rm -rf "$cache"
check "no CRL cached, nd68-2024: signs" sign "$T/sig.none"
printf '%s\n[M1]\ncrl_required = yes\n' "$base" >"$conf"
check_fails "no CRL cached, crl_required = yes: refused" sign "$T/sig.req"
check "  no signature" test ! -s "$T/sig.req"
check "  the refusal: M1, no usable CRL" bash -c "[ \"\$(jq -r 'select(.event==\"refusal\") | .rule' '$KYSO_AUDIT_LOG' | tail -n1)\" = M1 ] && jq -r 'select(.event==\"refusal\") | .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q 'no usable CRL'"

check "a current CRL that does not list it is cached" cache_only "$pki/issuing-empty.crl.pem"
check "  kyso policy check: OK" kyso policy check
check "  signs (crl_required = yes)" sign "$T/sig.empty"

check "the CRL that revokes it is cached" cache_only "$pki/issuing-revoked.crl.pem"
out=$(sign "$T/sig.rev" 2>&1)
echo "$out" >>"$TEST_LOG"
check "  refused with CKR_KEY_FUNCTION_NOT_PERMITTED" grep -q CKR_KEY_FUNCTION_NOT_PERMITTED <<<"$out"
check "  no signature" test ! -s "$T/sig.rev"
check "  the refusal: M1, revoked" bash -c "jq -r 'select(.event==\"refusal\") | .rule + \" \" + .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q '^M1 the certificate is revoked'"
check "  kyso token status: revoked, will not sign" bash -c "'$KYSO_BUILDDIR/tools/kyso' token status | grep -q 'M1: revoked' && '$KYSO_BUILDDIR/tools/kyso' token status | grep -q 'will sign: no (M1'"
printf '%s\n' "$base" >"$conf"
check_fails "  refused whatever crl_required says" sign "$T/sig.rev2"

check "make a stale CRL (nextUpdate 2026-02-01) that does not list it" \
    make_crl "$T/stale.pem" 32 20260101000000Z 20260201000000Z
check "the stale CRL is cached" cache_only "$T/stale.pem"
check_fails "  kyso policy check fails" kyso policy check
check "  and names the stale CRL" bash -c "'$KYSO_BUILDDIR/tools/kyso' policy check | grep -q 'stale (past its next update)'"
check "stale CRL under nd68-2024 (crl_stale = warn): signs" sign "$T/sig.stale"
check "  the sign record says the CRL is stale" bash -c "jq -r 'select(.event==\"sign\") | .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q '^CRL stale'"
printf 'profile = tien-giang-2015\nenvironment = trusted\n[M13]\naudit_daemon_only = no\nweaken = yes\n' >"$conf"
check_fails "stale CRL under tien-giang-2015 (refuse): refused" sign "$T/sig.stale2"
check "  the refusal: M1, out of date" bash -c "jq -r 'select(.event==\"refusal\") | .rule + \" \" + .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q \"^M1 the issuer's CRL is out of date\""
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
