#!/bin/bash
# Rule M8: taking a token out of the office. The permission record (who,
# which token, purpose, from–to, place, protection measures, approver)
# and the holder's return, made from the token under each of the five
# profiles, printed, signed by the approver on a second token, verified
# and registered. With [M8] hosts naming registered hosts by machine id,
# the module signs on another host (a test machine id mounted over
# /etc/machine-id in this namespace) only while a registered, signed
# permission of this token is in force: refused without one, allowed in
# its window, refused before its start, after its end (a window that
# closes while the test waits) and after the token was handed back.
. "$(dirname "$0")/lib.sh"
in_token --second vgca-chipdoc --second-key "81=person-binh-sign-rsa2048.key.pem,person-binh-sign-rsa2048.pem" \
    vgca-chipdoc
T=$TEST_TMP
kyso() { run_checked "$KYSO_BUILDDIR/tools/kyso" "$@"; }
kyso_print() { LSAN_OPTIONS="suppressions=$KYSO_SRCDIR/tests/unit/records-render.lsan.supp:print_suppressions=0" \
    "$KYSO_BUILDDIR/tools/kyso" "$@"; }
p11() ( client_env && pkcs11-tool --module "$KYSO_MODULE" "$@" )
conf=$KYSO_SYSTEM_CONF/kyso.conf
base=$(cat "$conf")
reg=$KYSO_SYSTEM_STATE/records
requesters=$KYSO_SRCDIR/test-vectors/records/parties-pin-reset.json
handing=$KYSO_SRCDIR/test-vectors/records/parties-handover.json
holder=$(status_serial "$KYSO_READER")
approver=$(status_serial "$KYSO_READER2")
holder_slot=$(slot_of "$holder")
approver_slot=$(slot_of "$approver")
echo "# holder's token $holder (slot $holder_slot), approver's $approver (slot $approver_slot)"
echo "data signed away from the office" >"$T/data"
sign_data() { rm -f "$T/sig"; p11 --slot "$holder_slot" -l --pin "$KYSO_TEST_PIN" -s -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig"; }
approve_verify() { # FILE...: signed by the approver, at the office (a registered host)
    local f rc=0
    cp "$conf" "$T/conf.keep"
    sed -i "s/^hosts = .*/hosts = $here/" "$conf"
    for f in "$@"; do
        "$KYSO_BUILDDIR/tools/kyso" record sign "$f" --module "$KYSO_MODULE" --slot "$approver_slot" --pin-fd 3 \
            3<<<"$KYSO_TEST_PIN" && kyso record verify "$f" || rc=1
    done
    cp "$T/conf.keep" "$conf"
    return $rc
}
register() { local f; for f in "$@"; do kyso record register "$f" || return 1; done; }
refused_naming() { # RULE TEXT
    local r
    r=$(jq -r 'select(.event == "refusal") | .rule + " " + .detail' "$KYSO_AUDIT_LOG" | tail -n1)
    echo "$r"
    [[ $r == "$1 "*"$2"* ]]
}
rfc3339() { date -d "$1" +%Y-%m-%dT%H:%M:%S%:z; }
use_profile() { # PROFILE [M8 HOSTS]
    sed "s/^profile = .*/profile = $1/" <<<"$base" >"$conf"
    grep -q '^profile = ' "$conf" || sed -i "1i profile = $1" "$conf"
    printf '[agency]\nname = Văn phòng Ủy ban nhân dân tỉnh\nparent = Ủy ban nhân dân tỉnh Bắc Ninh\nprovince = Bắc Ninh\n' >>"$conf"
    [ -z "${2:-}" ] || printf '[M8]\nhosts = %s\n' "$2" >>"$conf"
}
permit() { # NAME FROM TO [ARGS...]
    local n=$1 from=$2 to=$3
    shift 3
    kyso_print off-premises --parties "$requesters" --purpose "Ký văn bản tại hội nghị trực tuyến của tỉnh" \
        --from "$from" --to "$to" --place "Trung tâm Hội nghị tỉnh" \
        --protection "Mang theo người, cất trong túi niêm phong; không để lại trên máy tính" \
        --reader "$KYSO_READER" "$@" -o "$T/$n.json" --pdf "$T/$n.pdf"
}
hand_back() { # NAME PERMISSION-ID [ARGS...]
    local n=$1 id=$2
    shift 2
    kyso_print off-premises return --permission "$id" --parties "$handing" \
        --report "Đã ký 3 văn bản tại hội nghị; thiết bị luôn mang theo người" --condition "Nguyên vẹn, niêm phong còn" \
        "$@" -o "$T/$n.json" --pdf "$T/$n.pdf"
}

# This host, as the module sees it: a test machine id over /etc/machine-id.
here=5e1f0c3a9b7d4e2f8a6c1b0d9e8f7a6b
other=0123456789abcdef0123456789abcdef
[ -e /etc/machine-id ] || : >/etc/machine-id
echo "$here" >"$T/machine-id"
mount --bind "$T/machine-id" /etc/machine-id || { echo "cannot mount a test machine id"; exit 1; }
"$KYSO_BUILDDIR/tools/kyso" crl update --timeout 1 --url "file://$KYSO_TEST_PKI/issuing-empty.crl.pem" \
    --url "file://$KYSO_TEST_PKI/root-empty.crl.pem" >>"$TEST_LOG" 2>&1 # (Tối mật asks for the CRL)

# ---- registered hosts ----
use_profile nd68-2024
check "no [M8] hosts: signs on any host" sign_data
use_profile nd68-2024 "$here"
check "this host registered: signs" sign_data
check "kyso policy show lists the host" bash -c "'$KYSO_BUILDDIR/tools/kyso' policy show | grep -q 'M8 host: $here'"
use_profile nd68-2024 "$other, 00000000000000000000000000000001"
check_fails "another host registered, no permission: refused" sign_data
check "  rule M8, naming this host" refused_naming M8 "(machine id ${here:0:12}…) is not a registered host and the token has no off-premises permission"
printf '[M8]\nhosts = not-a-machine-id\n' >>"$conf"
check_fails "a malformed [M8] hosts: the configuration is refused, so is the signature" sign_data
check "  rule CONF" refused_naming CONF "is not a machine id"

# ---- a permission in force, one not yet, its end, the return ----
use_profile nd68-2024 "$other"
check "a permission from two hours on: made, signed, registered" permit later "$(rfc3339 "+2 hours")" "$(rfc3339 "+3 hours")"
approve_verify "$T/later.json" >>"$TEST_LOG" 2>&1 && register "$T/later.json" >>"$TEST_LOG" 2>&1
check "  registered" test -f "$reg/$(jq -r .id "$T/later.json").json"
check_fails "  before its start: refused" sign_data
check "  rule M8, naming it and when it begins" refused_naming M8 "$(jq -r .id "$T/later.json") begins"
# A window that ends 100 s from now (time enough under valgrind): in force now, over after a wait.
end=$(($(date +%s) + 100))
check "a permission from an hour ago to 100 s from now" permit now "$(rfc3339 "-1 hour")" "$(date -d "@$end" +%Y-%m-%dT%H:%M:%S%:z)"
pid=$(jq -r .id "$T/now.json")
check_fails "  unsigned, it does not register" register "$T/now.json"
check "  signed by the approver" approve_verify "$T/now.json"
check "  registered" register "$T/now.json"
check "  inside its window: signs" sign_data
sleep $((end - $(date +%s) + 1 > 0 ? end - $(date +%s) + 1 : 0))
check_fails "  its end passed: refused" sign_data
check "  rule M8, naming the permission and its end" refused_naming M8 "$pid ended"
check "a permission from an hour ago to an hour from now" permit now2 "$(rfc3339 "-1 hour")" "$(rfc3339 "+1 hour")"
pid=$(jq -r .id "$T/now2.json")
approve_verify "$T/now2.json" >>"$TEST_LOG" 2>&1 && register "$T/now2.json" >>"$TEST_LOG" 2>&1
check "  signs" sign_data
check "the holder hands the token back" hand_back back "$pid" --reader "$KYSO_READER"
check "  the return names the permission, hands over and receives" bash -c "
    [ \"\$(jq -r .details.permission_id '$T/back.json')\" = '$pid' ] &&
    jq -e '[.parties[].role] | index(\"hands_over\") and index(\"receives\")' '$T/back.json'"
check "  registered (unsigned: it only ends a permission)" register "$T/back.json"
check_fails "  after the return: refused" sign_data
check "  rule M8, the permission ended with its return" refused_naming M8 "$pid ended"
check_fails "  a second return of the same permission: refused" hand_back back2 "$pid" --reader "$KYSO_READER"
use_profile nd68-2024 "$here"
check "  this host registered again: signs" sign_data

# ---- each profile: made, printed, signed, verified, registered ----
for profile in nd68-2024 an-giang-2016 tien-giang-2015 hoa-binh-2020 ha-tinh-2020; do
    use_profile "$profile" "$other"
    n=trip-$profile
    check "$profile: the permission" permit "$n" "$(rfc3339 "-5 min")" "$(rfc3339 "+3 days")"
    check "  its form: kyso's own, under the profile's law" bash -c "[ \"\$(jq -r .form.number '$T/$n.json')\" = '' ] &&
        [ -n \"\$(jq -r .form.law '$T/$n.json')\" ]"
    check "  its PDF: title, purpose, window, place, measures, parties" pdf_has "$T/$n.pdf" \
        "GIẤY ĐỀ NGHỊ MANG THIẾT BỊ LƯU KHÓA BÍ MẬT RA KHỎI NƠI CẤT GIỮ" "Ký văn bản tại hội nghị trực tuyến" \
        "Trung tâm Hội nghị tỉnh" "cất trong túi niêm phong" "$holder" "Nguyễn Văn An" "Lê Quang Minh"
    approve_verify "$T/$n.json" >>"$TEST_LOG" 2>&1 && register "$T/$n.json" >>"$TEST_LOG" 2>&1
    check "  registered" test -f "$reg/$(jq -r .id "$T/$n.json").json"
    check "  signs away from the office" sign_data
    check "  the return" hand_back "$n-back" "$(jq -r .id "$T/$n.json")" --reader "$KYSO_READER"
    check "  its PDF: title, the permission, the report" pdf_has "$T/$n-back.pdf" "BIÊN BẢN GIAO LẠI THIẾT BỊ LƯU KHÓA BÍ MẬT" \
        "$(jq -r .id "$T/$n.json")" "Đã ký 3 văn bản tại hội nghị"
    approve_verify "$T/$n-back.json" >>"$TEST_LOG" 2>&1 && register "$T/$n-back.json" >>"$TEST_LOG" 2>&1
    check "  registered" test -f "$reg/$(jq -r .id "$T/$n-back.json").json"
    check_fails "  back in the office, off the registered hosts: refused" sign_data
done

# ---- bad input ----
use_profile nd68-2024 "$here"
permit spare "$(rfc3339 "-5 min")" "$(rfc3339 "+1 hour")" >>"$TEST_LOG" 2>&1 && approve_verify "$T/spare.json" >>"$TEST_LOG" 2>&1 &&
    register "$T/spare.json" >>"$TEST_LOG" 2>&1
before=$(ls "$reg" | wc -l)
check "dates in the wrong order: refused" fails_saying "later than --from: dates in the wrong order" \
    permit bad1 "$(rfc3339 "+2 hours")" "$(rfc3339 "+1 hour")"
check "  nothing written" test ! -e "$T/bad1.json"
check "a window already past: refused" fails_saying "already past" permit bad2 "$(rfc3339 "-3 hours")" "$(rfc3339 "-1 hour")"
check "a window over a year: refused" fails_saying "not a trip" permit bad3 "$(rfc3339 "-1 hour")" "$(rfc3339 "+400 days")"
check "a time without its offset: refused" fails_saying "not a time with its offset" permit bad4 "2026-12-03 08:00" "$(rfc3339 "+1 hour")"
check "a permission for another token: its return with the other token refused" fails_saying "not inserted|not this token" \
    hand_back bad5 "$(jq -r .id "$T/spare.json")" --reader "$KYSO_READER2"
check "a permission id that is not registered: refused" fails_saying "not registered" \
    hand_back bad6 KR-20261203-00000000 --reader "$KYSO_READER"
check "a return given as the permission: refused" fails_saying "is of kind off-premises-return, not off-premises" \
    hand_back bad7 "$(jq -r .id "$T/back.json")" --reader "$KYSO_READER"
check "  nothing registered meanwhile" test "$(ls "$reg" | wc -l)" = "$before"
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
