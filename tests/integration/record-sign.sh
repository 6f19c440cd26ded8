#!/bin/bash
# kyso record sign | verify | register with real tokens: a record made
# from the token (kyso handover), sealed,
# signed through kyso-pkcs11.so by two people's keys on a PIV token (RSA
# 9c, RSA 82) and an EC key (83); the signatures verified by kyso and by
# openssl cms on the canonical bytes, registered and verified again from
# the registry. Refused: a changed byte, a signature missing in the
# middle, a signature by the rogue CA's certificate, a signature of
# another record, a damaged signature, garbage; a certificate the module
# refuses (expired, rule M1) leaves no signature file. Every signature
# made has its "sign" record in the module's audit trail.
. "$(dirname "$0")/lib.sh"
in_token --key "9c=person-an-sign-rsa2048.key.pem,person-an-sign-rsa2048.pem" \
    --key "82=person-binh-sign-rsa2048.key.pem,person-binh-sign-rsa2048.pem" \
    --key "83=person-an-sign-p256.key.pem,person-an-sign-p256.pem" \
    --key "84=expired-sign-rsa2048.key.pem,expired-sign-rsa2048.pem" piv
T=$TEST_TMP
P=$KYSO_TEST_PKI
kyso() { "$KYSO_BUILDDIR/tools/kyso" "$@"; }
sign() { # FILE KEY-ID [ARGS...]
    local f=$1 id=$2
    shift 2
    kyso record sign "$f" --module "$KYSO_MODULE" --key-id "$id" --pin-fd 3 "$@" 3<<<"$KYSO_TEST_PIN"
}
# copy_set DIR NAMES...: the record and the listed signature numbers into DIR.
copy_set() {
    local d=$1 n
    shift
    mkdir -p "$T/$d" && cp "$T/rec.json" "$T/$d/rec.json" || return 1
    for n in "$@"; do cp "$T/rec.json.$n.p7s" "$T/$d/rec.json.$n.p7s" || return 1; done
}
signs() { jq -r 'select(.event == "sign") | .outcome' "$KYSO_AUDIT_LOG" | grep -c '^CKR_OK$'; }

printf '[agency]\nname = Sở Tài chính\nparent = Ủy ban nhân dân tỉnh Bắc Ninh\nprovince = Bắc Ninh\n' \
    >>"$KYSO_SYSTEM_CONF/kyso.conf"
check "a handover record is made from the token, sealed" kyso handover issue \
    --parties "$KYSO_SRCDIR/test-vectors/records/parties-handover.json" --reason "Cấp thiết bị" \
    --condition "Nguyên vẹn" -o "$T/rec.json"
id=$(jq -r .id "$T/rec.json")
head -c -1 "$T/rec.json" >"$T/canon"
check "  the sealed file is the canonical form and a newline" test "$(tail -c 1 "$T/rec.json" | od -An -c | tr -d ' ')" = '\n'
check_fails "unsigned: verify says so and fails" output_has "unsigned" kyso record verify "$T/rec.json"

t0=$(date +%s%N)
check "An signs (RSA, 9c)" output_has "rec.json.1.p7s: signed by Nguyễn Văn An" sign "$T/rec.json" 02
t1=$(date +%s%N)
echo "# one signature: $(((t1 - t0) / 1000000)) ms"
check "Bình signs (RSA, 82)" output_has "rec.json.2.p7s: signed by Trần Thị Bình" sign "$T/rec.json" 05
check "An signs with an EC key (83)" output_has "rec.json.3.p7s: signed by Nguyễn Văn An" sign "$T/rec.json" 06
check "  three sign records in the audit trail" test "$(signs)" = 3
check "verify: three signatures OK, names printed" output_has \
    "signature 1: OK, signed by Nguyễn Văn An .*signature 2: OK, signed by Trần Thị Bình .*signature 3: OK, signed by Nguyễn Văn An" \
    bash -c "'$KYSO_BUILDDIR/tools/kyso' record verify '$T/rec.json' | tr '\n' ' '"
for n in 1 2 3; do
    check "openssl cms verifies signature $n on the canonical bytes" openssl cms -verify -binary -inform DER \
        -in "$T/rec.json.$n.p7s" -content "$T/canon" -CAfile "$P/chain.pem" -purpose any -out /dev/null
done
check_fails "openssl cms: signature 1 is not one of the file with its newline" openssl cms -verify -binary \
    -inform DER -in "$T/rec.json.1.p7s" -content "$T/rec.json" -CAfile "$P/chain.pem" -purpose any -out /dev/null
check "  the signing time is now" bash -c "openssl cms -cmsout -print -inform DER -in '$T/rec.json.1.p7s' | grep -q 'UTCTIME:.*$(date -u +%Y)'"

# The module's own rules: an expired certificate does not sign (M1).
before=$(signs)
check "expired certificate: refused in one line" fails_saying "^kyso: .*not signed: the token refused to sign: CKR_" \
    sign "$T/rec.json" 07 -o "$T/expired.p7s"
check "  no file left" test ! -e "$T/expired.p7s"
check "  no new sign record with CKR_OK" test "$(signs)" = "$before"
check_fails "a wrong PIN: refused" output_has "login refused" \
    kyso record sign "$T/rec.json" --module "$KYSO_MODULE" --key-id 02 --pin-fd 3 -o "$T/wrongpin.p7s" 3<<<"99999999"
check_fails "-o never replaces a file" sign "$T/rec.json" 02 -o "$T/rec.json.1.p7s"

# One changed byte in the record: its hash no longer holds.
copy_set tamper 1 2 3
sed -i 's/Nguyên vẹn/Nguyên vẹm/' "$T/tamper/rec.json"
check_fails "a changed byte: verify fails" kyso record verify "$T/tamper/rec.json"
check_fails "  register refuses" kyso record register "$T/tamper/rec.json"
# The same change, resealed: a sound record the signatures are not of.
jq 'del(.integrity) | .token.manufacturer = "bit5id"' "$T/rec.json" >"$T/other.in.json"
mkdir -p "$T/other" && kyso record seal "$T/other.in.json" -o "$T/other/rec.json" >/dev/null
for n in 1 2; do cp "$T/rec.json.$n.p7s" "$T/other/rec.json.$n.p7s"; done
check "signatures of another record: hash mismatch" fails_saying "signature 1: FAILED .*hash mismatch" \
    kyso record verify "$T/other/rec.json"
check_fails "  register refuses" kyso record register "$T/other/rec.json"
# A gap: signature 2 removed.
copy_set gap 1 3
check "a missing signature 2: named" fails_saying "signature 2 is missing" kyso record verify "$T/gap/rec.json"
check_fails "  register refuses" kyso record register "$T/gap/rec.json"
# The rogue CA's certificate (same name as An's, another issuer).
copy_set rogue 1
openssl cms -sign -binary -outform DER -md sha256 -in "$T/canon" -signer "$P/untrusted-sign-rsa2048.pem" \
    -inkey "$P/untrusted-sign-rsa2048.key.pem" -certfile "$P/rogue-chain.pem" -out "$T/rogue/rec.json.2.p7s"
check "  openssl made the rogue signature" test -s "$T/rogue/rec.json.2.p7s"
check "the rogue CA's signature: untrusted" fails_saying "signature 1: OK.*signature 2: FAILED .*untrusted" \
    kyso record verify "$T/rogue/rec.json"
check_fails "  register refuses" kyso record register "$T/rogue/rec.json"
# A damaged signature value (its last byte), and garbage.
copy_set damaged 1
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-1]^=1; open(p,'wb').write(b)" \
    "$T/damaged/rec.json.1.p7s"
check "a damaged signature value: bad signature" fails_saying "FAILED .*bad signature" \
    kyso record verify "$T/damaged/rec.json"
check_fails "  register refuses" kyso record register "$T/damaged/rec.json"
copy_set garbage
head -c 300 /dev/urandom >"$T/garbage/rec.json.1.p7s"
check "garbage: not a CMS signature" fails_saying "FAILED .*not a CMS signature" \
    kyso record verify "$T/garbage/rec.json"
check "--sig: only the signatures named" output_has "signature 1: OK.* 1 signature\(s\) verified" \
    bash -c "'$KYSO_BUILDDIR/tools/kyso' record verify '$T/garbage/rec.json' --sig '$T/rec.json.2.p7s' | tr '\n' ' '"

check "the signed record is registered" output_has "registered $id" kyso record register "$T/rec.json"
check "  with its three signatures" test -s "$KYSO_SYSTEM_STATE/records/$id.3.p7s"
check "  the stored signatures are the files" cmp "$T/rec.json.2.p7s" "$KYSO_SYSTEM_STATE/records/$id.2.p7s"
check "verify ID from the registry: three OK" output_has "3 signature\(s\) verified" kyso record verify "$id"
check_fails "registered twice: refused" kyso record register "$T/rec.json"
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
