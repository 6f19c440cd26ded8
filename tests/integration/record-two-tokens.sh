#!/bin/bash
# A record signed by two parties on two different tokens, both inserted at
# once (tests/with-token --second): the government token (vgca-chipdoc)
# holding the Bắc Ninh organisation's certificate in the first reader, a
# PIV token with Nguyễn Văn An's signing key in the second.
#
# Rule M4: an organisation's token signs only for its registered
# custodian, and signing a record with it is such a signature. So the
# custodian comes first: an issue handover of the organisation's token to
# this OS user, made from that token and registered (unsigned, as in
# policy-m4.sh). Then the record both parties sign: a later handover of
# the same token (a custodian change to this user, with its permission),
# signed first by An on the PIV token, then by the organisation on its
# own token (for its custodian, this user). The two signatures are
# verified by kyso and each by openssl cms on the canonical bytes; the
# record registers with both (its token found by serial among the two
# readers) and verifies from the registry; the audit trail holds one
# "sign" record per token, with that token's serial, and the "record"
# events. With two tokens inserted, kyso handover needs --reader.
. "$(dirname "$0")/lib.sh"
in_token --key "81=org-bacninh-sign-rsa2048.key.pem,org-bacninh-sign-rsa2048.pem" \
    --second piv --second-key "9c=person-an-sign-rsa2048.key.pem,person-an-sign-rsa2048.pem" vgca-chipdoc
T=$TEST_TMP
P=$KYSO_TEST_PKI
kyso=$KYSO_BUILDDIR/tools/kyso
kyso() { "$kyso" "$@"; }
me=$(id -un)
# pkcs11-tool is not instrumented: it needs the ASan runtime to load the module.
p11() ( client_env && pkcs11-tool --module "$KYSO_MODULE" "$@" )
sign() { # SLOT [ARGS...]
    local slot=$1
    shift
    kyso record sign "$T/rec.json" --module "$KYSO_MODULE" --slot "$slot" --pin-fd 3 "$@" 3<<<"$KYSO_TEST_PIN"
}

printf '[agency]\nname = Văn phòng Ủy ban nhân dân tỉnh\nparent = Ủy ban nhân dân tỉnh Bắc Ninh\nprovince = Bắc Ninh\n' \
    >>"$KYSO_SYSTEM_CONF/kyso.conf"
jq --arg u "$me" 'map(if .role == "receives" then .os_user = $u else . end)' \
    "$KYSO_SRCDIR/test-vectors/records/parties-handover.json" >"$T/parties.json"
handover() { # KIND OUT [ARGS...]
    local kind=$1 out=$2
    shift 2
    kyso handover "$kind" --parties "$T/parties.json" --reason "Bàn giao thiết bị lưu khóa bí mật của cơ quan" \
        --condition "Nguyên vẹn, niêm phong còn nguyên" "$@" -o "$out"
}

# ---- two readers, two tokens ----
org=$(status_serial "$KYSO_READER")
person=$(status_serial "$KYSO_READER2")
echo "# $KYSO_READER: $org; $KYSO_READER2: $person"
check "kyso token status: both readers, a token in each" bash -c "
    out=\$('$kyso' token status)
    grep -qxF 'reader: $KYSO_READER' <<<\"\$out\" && grep -qxF 'reader: $KYSO_READER2' <<<\"\$out\" &&
    grep -q 'token: VGCA Token (TokenME ChipDoc), serial $org, edge vgca' <<<\"\$out\" &&
    grep -q 'token: Nguyễn Văn An (YubiKey PIV), serial $person, edge piv' <<<\"\$out\""
check "  two different tokens" bash -c "[ -n '$org' ] && [ -n '$person' ] && [ '$org' != '$person' ]"
org_slot=$(slot_of "$org")
person_slot=$(slot_of "$person")
echo "# module slots: organisation $org_slot, person $person_slot"
check "the module shows both tokens in two slots" bash -c "[ -n '$org_slot' ] && [ -n '$person_slot' ] && [ '$org_slot' != '$person_slot' ]"

# ---- the custodian (M4), then the record ----
check "kyso handover without --reader: refused, several tokens" fails_saying "several tokens are inserted" \
    handover issue "$T/none.json"
check "  nothing written" test ! -e "$T/none.json"
check "an issue handover of the organisation's token to this user" handover issue "$T/pre.json" --reader "$KYSO_READER"
check "  registered: this user is the custodian" kyso record register "$T/pre.json"
check "  kyso token status names the custodian" output_has "custodian: Đỗ Văn Hùng \(OS user $me\), by handover $(jq -r .id "$T/pre.json") \(issue\)" \
    kyso token status
sleep 1 # (handovers register in the order they happened, by their time in seconds)
check "the record: a custodian change made from the organisation's token" handover custodian-change "$T/rec.json" \
    --reader "$KYSO_READER" --permission-ref "Quyết định số 245/QĐ-VP"
check "  its token is the organisation's" test "$(jq -r '.token.serial + " " + .token.applet' "$T/rec.json")" = "$org vgca-chipdoc"
id=$(jq -r .id "$T/rec.json")
hash=$(jq -r .integrity.sha256 "$T/rec.json")
head -c -1 "$T/rec.json" >"$T/canon"

# ---- two signatures, two tokens ----
t0=$(date +%s%N)
check "An signs on the PIV token (slot $person_slot)" output_has "rec.json.1.p7s: signed by Nguyễn Văn An" \
    sign "$person_slot" --key-id 02
t1=$(date +%s%N)
check "the organisation signs on its token (slot $org_slot), for its custodian" \
    output_has "rec.json.2.p7s: signed by Ủy ban nhân dân tỉnh Bắc Ninh" sign "$org_slot"
t2=$(date +%s%N)
echo "# signatures: PIV $(((t1 - t0) / 1000000)) ms, vgca $(((t2 - t1) / 1000000)) ms"
check "verify: two OK, by the two signers" output_has \
    "signature 1: OK, signed by Nguyễn Văn An .*signature 2: OK, signed by Ủy ban nhân dân tỉnh Bắc Ninh .*2 signature\(s\) verified" \
    bash -c "'$kyso' record verify '$T/rec.json' | tr '\n' ' '"
fp() { openssl x509 -in "$P/$1" -outform DER | sha256sum | cut -c1-16; }
check "  two different certificates: An's and the organisation's" output_has \
    "signature 1: OK, .*certificate $(fp person-an-sign-rsa2048.pem)\).*signature 2: OK, .*certificate $(fp org-bacninh-sign-rsa2048.pem)\)" \
    bash -c "'$kyso' record verify '$T/rec.json' | tr '\n' ' '"
for n in 1 2; do
    check "openssl cms verifies signature $n on the canonical bytes" openssl cms -verify -binary -inform DER \
        -in "$T/rec.json.$n.p7s" -content "$T/canon" -CAfile "$P/chain.pem" -purpose any -out /dev/null
done
check "  signature 1 is An's certificate, signature 2 the organisation's" bash -c "
    openssl cms -verify -binary -inform DER -in '$T/rec.json.1.p7s' -content '$T/canon' -CAfile '$P/chain.pem' \
        -purpose any -out /dev/null -signer '$T/signer1.pem' &&
    openssl cms -verify -binary -inform DER -in '$T/rec.json.2.p7s' -content '$T/canon' -CAfile '$P/chain.pem' \
        -purpose any -out /dev/null -signer '$T/signer2.pem' &&
    cmp <(openssl x509 -in '$T/signer1.pem' -outform DER) <(openssl x509 -in '$P/person-an-sign-rsa2048.pem' -outform DER) &&
    cmp <(openssl x509 -in '$T/signer2.pem' -outform DER) <(openssl x509 -in '$P/org-bacninh-sign-rsa2048.pem' -outform DER)"

# ---- registered with both ----
check "the record registers (its token found by serial) with 2 signatures" \
    output_has "registered $id" kyso record register "$T/rec.json"
check "  both signatures stored" bash -c "cmp '$T/rec.json.1.p7s' '$KYSO_SYSTEM_STATE/records/$id.1.p7s' &&
    cmp '$T/rec.json.2.p7s' '$KYSO_SYSTEM_STATE/records/$id.2.p7s' && [ ! -e '$KYSO_SYSTEM_STATE/records/$id.3.p7s' ]"
check "verify ID from the registry: two OK" output_has \
    "signature 1: OK, signed by Nguyễn Văn An .*signature 2: OK, signed by Ủy ban nhân dân tỉnh Bắc Ninh .*2 signature\(s\) verified" \
    bash -c "'$kyso' record verify '$id' | tr '\n' ' '"
check "  kyso token status: the custodian by this record" \
    output_has "custodian: Đỗ Văn Hùng \(OS user $me\), by handover $id \(custodian_change\)" kyso token status

# ---- the audit trail ----
check "the audit trail: one sign record per token, with its serial" \
    jq -se --arg o "$org" --arg p "$person" \
    'map(select(.event == "sign" and .outcome == "CKR_OK")) | length == 2 and .[0].token == $p and .[1].token == $o' \
    "$KYSO_AUDIT_LOG"
check "  the \"record\" event of the registration: kind, id, hash, the organisation's token" \
    jq -se --arg d "handover $id sha256:$hash" --arg o "$org" \
    'map(select(.event == "record")) | length == 2 and (.[1].detail == $d) and (.[1].token == $o) and (.[1].outcome == "CKR_OK")' \
    "$KYSO_AUDIT_LOG"
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
