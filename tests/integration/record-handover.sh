#!/bin/bash
# kyso handover and kyso record register on the government token holding
# the Bắc Ninh organisation's certificate: the record is made from the
# token (its facts are the token's, never typed), under each of the five
# profiles with the form that profile cites, printed in Vietnamese; bad
# input leaves nothing; registering checks the token is this record's,
# records the registration in the audit trail, refuses a duplicate or a
# handover out of order, and a full or read-only registry loses nothing.
. "$(dirname "$0")/lib.sh"
in_token --key "81=org-bacninh-sign-rsa2048.key.pem,org-bacninh-sign-rsa2048.pem" vgca-chipdoc
T=$TEST_TMP
# (our own program under valgrind in the valgrind build; printing goes
# through fontconfig, whose caches are not ours to report)
kyso() { run_checked "$KYSO_BUILDDIR/tools/kyso" "$@"; }
kyso_print() { LSAN_OPTIONS="suppressions=$KYSO_SRCDIR/tests/unit/records-render.lsan.supp:print_suppressions=0" \
    "$KYSO_BUILDDIR/tools/kyso" "$@"; }
conf=$KYSO_SYSTEM_CONF/kyso.conf
base=$(cat "$conf")
parties=$KYSO_SRCDIR/test-vectors/records/parties-handover.json
reg=$KYSO_SYSTEM_STATE/records
serial=$("$KYSO_BUILDDIR/tools/kyso" token status | sed -n 's/.*serial \([0-9a-f]*\),.*/\1/p' | head -n1)
cert=$KYSO_TEST_PKI/org-bacninh-sign-rsa2048.pem
fingerprint=$(openssl x509 -in "$cert" -outform DER | sha256sum | cut -d' ' -f1)
echo "# token $serial"

use_profile() { # PROFILE: root's configuration with that profile and an agency
    sed "s/^profile = .*/profile = $1/" <<<"$base" >"$conf"
    printf '[agency]\nname = Văn phòng Ủy ban nhân dân tỉnh\nparent = Ủy ban nhân dân tỉnh Bắc Ninh\nprovince = Bắc Ninh\n' >>"$conf"
}
make_handover() { # OUT KIND [MORE OPTIONS] (printed with --pdf)
    local out=$1 kind=$2 run=kyso
    shift 2
    [[ " $* " == *" --pdf "* ]] && run=kyso_print
    $run handover "$kind" --parties "$parties" --reason "Cấp thiết bị cho văn thư được phân công" \
        --condition "Thiết bị nguyên vẹn, niêm phong còn nguyên" "$@" -o "$out"
}
field() { jq -r "$2" "$1"; }

# ---- no agency: no record ----
check_fails "no [agency] in kyso.conf: refused" make_handover "$T/none.json" issue
check "  saying what is missing" grep -q "names no agency" "$TEST_LOG"
check "  nothing written" test ! -e "$T/none.json"

# ---- the five profiles ----
declare -A number=([nd68-2024]="" [an-giang-2016]="Mẫu 11" [tien-giang-2015]="Mẫu 03" [hoa-binh-2020]="" [ha-tinh-2020]="Mẫu 14")
declare -A law=([nd68-2024]="Nghị định 68/2024/NĐ-CP" [an-giang-2016]="Thông tư 08/2016/TT-BQP"
    [tien-giang-2015]="Thông tư 05/2010/TT-BNV" [hoa-binh-2020]="Nghị định 130/2018/NĐ-CP, Thông tư 185/2019/TT-BQP"
    [ha-tinh-2020]="Quyết định 19/2020/QĐ-UBND")
for p in nd68-2024 an-giang-2016 tien-giang-2015 hoa-binh-2020 ha-tinh-2020; do
    use_profile "$p"
    check "$p: a handover (issue) made from the token, and printed" \
        make_handover "$T/$p.json" issue --pdf "$T/$p.pdf"
    check "  the profile and the form it cites: \"${number[$p]}\" of ${law[$p]}" \
        test "$(field "$T/$p.json" '.profile + "|" + .form.number + "|" + .form.law')" = "$p|${number[$p]}|${law[$p]}"
    check "  the token's facts: serial, applet, ATR as the token gives them" \
        test "$(field "$T/$p.json" '.token.serial + " " + .token.applet + " " + (.token.atr | length | tostring)')" = "$serial vgca-chipdoc 50"
    check "  the certificate read from the token (fingerprint, subject, key)" \
        test "$(field "$T/$p.json" '.certificates[0] | .sha256 + " " + .subject.o + " " + .key.type + (.key.bits|tostring)')" \
        = "$fingerprint Ủy ban nhân dân tỉnh Bắc Ninh RSA2048"
    check "  kyso record check: sound" kyso record check "$T/$p.json"
    pdftotext -layout "$T/$p.pdf" "$T/$p.txt"
    check "  the PDF holds the title, the agency, every party, the token and the certificate" bash -c "
        t=\$(tr -s ' \n' ' ' <'$T/$p.txt')
        for w in 'BIÊN BẢN BÀN GIAO THIẾT BỊ LƯU KHÓA BÍ MẬT' 'VĂN PHÒNG ỦY BAN' 'Phạm Thị Hoa' 'Đỗ Văn Hùng' \
                 'Nguyễn Thị Lan' '027186001122' '$serial' 'vgca-chipdoc' 'Ủy ban nhân dân tỉnh Bắc Ninh' \
                 'niêm phong còn nguyên' '${number[$p]}'; do
            grep -qF -- \"\$w\" <<<\"\$t\" || { echo \"missing: \$w\"; exit 1; }
        done"
done
pdftoppm -r 60 -png -f 1 -l 1 "$T/ha-tinh-2020.pdf" "$T/page" && check "the first page renders" test -s "$T/page-1.png"

# ---- the kinds ----
use_profile nd68-2024
sleep 1 # (later than the others by its time in seconds: it is registered after them)
check "return under nd68-2024: Mẫu 08, its own title" make_handover "$T/return.json" return
check "  form and title" test "$(field "$T/return.json" '.form.number + "|" + .title')" = "Mẫu 08|BIÊN BẢN GIAO, NHẬN THIẾT BỊ LƯU KHÓA BÍ MẬT"
check_fails "custodian-change without --permission-ref: refused" make_handover "$T/cc.json" custodian-change
check "  naming the member" grep -q "details.permission_ref: a custodian_change needs" "$TEST_LOG"
check "  nothing written" test ! -e "$T/cc.json"
jq '(.[0].id_number = "12345") | del(.[1])' "$parties" >"$T/bad-parties.json"
check_fails "a parties file with a short ID number and no receiver: refused" \
    kyso handover issue --parties "$T/bad-parties.json" --reason r --condition c -o "$T/bp.json"
check "  one line per problem" bash -c "grep -q 'id_number: must be 12 digits' '$TEST_LOG' && grep -q 'receives' '$TEST_LOG'"
check "  nothing written" test ! -e "$T/bp.json"
check_fails "an unknown kind: usage" make_handover "$T/x.json" gift
check_fails "an existing output file is not overwritten" make_handover "$T/return.json" return

# ---- registering ----
n0=$(grep -c . "$KYSO_AUDIT_LOG")
check "register the ha-tinh-2020 handover" kyso record register "$T/ha-tinh-2020.json"
id=$(field "$T/ha-tinh-2020.json" .id)
hash=$(field "$T/ha-tinh-2020.json" .integrity.sha256)
check "  the audit trail holds a \"record\" event: kind, id, hash, token" \
    jq -se --arg d "handover $id sha256:$hash" --arg s "$serial" \
    'map(select(.event == "record")) | length == 1 and (.[0].detail == $d) and (.[0].token == $s) and (.[0].outcome == "CKR_OK")' \
    "$KYSO_AUDIT_LOG"
check "  kyso record list shows it" output_has "^$id  handover .* token $serial" kyso record list
check "  kyso record show: integrity OK" output_has "integrity: OK" kyso record show "$id"
check "  kyso token status: the custodian and the record" \
    output_has "custodian: Đỗ Văn Hùng \(OS user hung\), by handover $id \(issue\)" kyso token status
n1=$(grep -c . "$KYSO_AUDIT_LOG")
check_fails "the same record again: refused" kyso record register "$T/ha-tinh-2020.json"
check "  as already registered, and nothing recorded" bash -c "grep -q 'already registered' '$TEST_LOG' && [ \$(grep -c . '$KYSO_AUDIT_LOG') -eq $n1 ]"
check_fails "an older handover of the same token (made before it): refused" kyso record register "$T/nd68-2024.json"
check "  as out of order" grep -q "registered in the order they happened" "$TEST_LOG"

jq -c '.token.atr = "3B00" | del(.integrity)' "$T/return.json" >"$T/other-atr.in.json"
"$KYSO_BUILDDIR/tools/kyso" record seal "$T/other-atr.in.json" -o "$T/other-atr.json" >/dev/null
check_fails "a record whose ATR is not the token's: refused" kyso record register "$T/other-atr.json"
check "  naming the difference" grep -q "not this token's record: the record's token atr" "$TEST_LOG"
jq -c '.certificates[0].sha256 = ("0" * 64) | del(.integrity)' "$T/return.json" >"$T/other-cert.in.json"
"$KYSO_BUILDDIR/tools/kyso" record seal "$T/other-cert.in.json" -o "$T/other-cert.json" >/dev/null
check_fails "a record listing a certificate the token does not hold: refused" kyso record register "$T/other-cert.json"
check "  as not on the token" grep -q "of the record is not on the token" "$TEST_LOG"
jq -c '.token.serial = "00000000deadbeef" | del(.integrity)' "$T/return.json" >"$T/absent.in.json"
"$KYSO_BUILDDIR/tools/kyso" record seal "$T/absent.in.json" -o "$T/absent.json" >/dev/null
check_fails "a record of a token that is not inserted: refused" kyso record register "$T/absent.json"
check "  as not inserted" grep -q "the token 00000000deadbeef is not inserted" "$TEST_LOG"
sed 's/niêm phong còn nguyên/niêm phong đã bóc/' "$T/return.json" >"$T/changed.json"
check_fails "a record changed after it was sealed: refused" kyso record register "$T/changed.json"
check "  as tampered" grep -q "tampered: hash mismatch" "$TEST_LOG"
check "none of these is registered or recorded" bash -c "[ \$(ls '$reg' | grep -c '\.json$') -eq 1 ] && [ \$(grep -c . '$KYSO_AUDIT_LOG') -eq $n1 ]"

# ---- a full registry, a read-only one ----
mkdir -p "$T/full"
mount -t tmpfs -o size=16k tmpfs "$T/full"
cp -a "$reg/." "$T/full/"
head -c 12k /dev/zero >"$T/full/filler" 2>/dev/null || true
mount --bind "$T/full" "$reg"
check_fails "the registry's disk is full: refused" kyso record register "$T/return.json"
check "  with a clear error" grep -qi "no space\|write" "$TEST_LOG"
check "  no half-written record left" bash -c "! ls -a '$reg' | grep -q 'tmp\|\.p7s$' && [ \$(ls '$reg' | grep -c '\.json$') -eq 1 ]"
check "  the audit trail takes the registration back (withheld)" \
    jq -se 'map(select(.event == "withheld")) | length == 1 and (.[0].detail == "not registered")' "$KYSO_AUDIT_LOG"
umount "$reg"
mount --bind -o ro "$T/full" "$reg" 2>/dev/null && mount -o remount,bind,ro "$reg" 2>/dev/null
rm -f "$T/full/filler"
check_fails "a read-only registry: refused" kyso record register "$T/return.json"
check "  nothing registered" test ! -e "$reg/$(field "$T/return.json" .id).json"
umount "$reg"
umount "$T/full"
check "the registry as it was: the return registers" kyso record register "$T/return.json"
check "  and the custodian is nobody: handed back" output_has "custodian: none: handed back" kyso token status
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
