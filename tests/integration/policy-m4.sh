#!/bin/bash
# Rule M4 (an organisation's token signs only for its custodian) through
# the module: the government token holds the Bắc Ninh organisation's
# certificate; the custodian is the receiver of the latest registered
# handover record of that token ($(localstatedir)/lib/kyso/records, read
# by the module through a cache the registry's changes invalidate).
# Nothing registered: refused (Mật). A handover to another OS user:
# refused, the record names the custodian. A custodian change to this
# user: signs. The token handed back: refused again. A registered record
# changed on disk: refused (the registry cannot be trusted).
. "$(dirname "$0")/lib.sh"
in_token --key "81=org-bacninh-sign-rsa2048.key.pem,org-bacninh-sign-rsa2048.pem" vgca-chipdoc
client_env
T=$TEST_TMP
kyso() { "$KYSO_BUILDDIR/tools/kyso" "$@"; }
me=$(id -un)
serial=$(kyso token status | sed -n 's/.*serial \([0-9a-f]*\),.*/\1/p' | head -n1)
echo "# token $serial, user $me"
echo "custodian test data" >"$T/data"
sign() { # OUT
    rm -f "$1"
    pkcs11-tool --module "$KYSO_MODULE" -l --pin "$KYSO_TEST_PIN" -s -m SHA256-RSA-PKCS -i "$T/data" -o "$1"
}
last_refusal() { jq -r 'select(.event == "refusal") | .rule + " " + .detail' "$KYSO_AUDIT_LOG" | tail -n1; }
# handover NAME ID TIME KIND RECEIVER: a sealed handover of this token, registered.
handover() {
    jq --arg s "$serial" --arg id "$2" --arg t "$3" --arg k "$4" --arg u "$5" \
        '.token.serial = $s | .id = $id | .created.time = $t | .details.handover_kind = $k
         | .parties |= map(if .role == "receives" then .os_user = $u else . end) | del(.integrity)' \
        "$KYSO_SRCDIR/test-vectors/records/handover-custodian-ha-tinh.json" >"$T/$1.in.json" &&
        rm -f "$T/$1.json" && kyso record seal "$T/$1.in.json" -o "$T/$1.json" && kyso record register "$T/$1.json"
}

check_fails "nothing registered: refused" sign "$T/sig.0"
check "  no signature" test ! -s "$T/sig.0"
check "  the refusal: M4, no registered custodian" bash -c "jq -r 'select(.event==\"refusal\") | .rule + \" \" + .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q '^M4 .*no registered custodian'"

check "a handover to another user is registered" handover to-other KR-20261207-0000a001 2026-12-07T09:00:00+07:00 issue nobody
check_fails "  this user is refused" sign "$T/sig.1"
check "  the refusal names the custodian and the record" bash -c "jq -r 'select(.event==\"refusal\") | .rule + \" \" + .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q '^M4 the custodian of this organisation.s token is nobody (record KR-20261207-0000a001), not $me'"

check "a custodian change to this user is registered" handover to-me KR-20261207-0000a002 2026-12-07T10:00:00+07:00 custodian_change "$me"
check "  this user signs" sign "$T/sig.2"
check "  a sign record" bash -c "[ \"\$(jq -r 'select(.event==\"sign\") | .outcome' '$KYSO_AUDIT_LOG' | tail -n1)\" = CKR_OK ]"

check "the token handed back is registered" handover back KR-20261207-0000a003 2026-12-07T11:00:00+07:00 return nobody
check_fails "  refused again" sign "$T/sig.3"
check "  the refusal: no registered custodian" bash -c "jq -r 'select(.event==\"refusal\") | .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q 'no registered custodian'"

# A tampered record could be the latest: the registry is not trusted.
check "a custodian change to this user again" handover again KR-20261207-0000a004 2026-12-07T12:00:00+07:00 custodian_change "$me"
check "  signs" sign "$T/sig.5"
sed -i 's/bit4id/bit5id/' "$KYSO_SYSTEM_STATE/records/KR-20261207-0000a004.json"
check_fails "that record changed on disk: refused" sign "$T/sig.6"
check "  the refusal: the registry cannot be trusted" bash -c "jq -r 'select(.event==\"refusal\") | .detail' '$KYSO_AUDIT_LOG' | tail -n1 | grep -q 'registry of records cannot be trusted'"

printf '[M13]\ncustodian_binding = no\nweaken = yes\n' >>"$KYSO_SYSTEM_CONF/kyso.conf"
check "[M13] custodian_binding = no with weaken = yes: signs" sign "$T/sig.4"

check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
