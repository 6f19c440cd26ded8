#!/bin/bash
# Rule M7 on the government token: a lost token, its revocation request,
# and the token found again, made from the token (or, for a token that is
# not at hand, from its latest registered record) under each of the five
# profiles with the forms they cite, printed in Vietnamese, signed by the
# approver on a second token, verified and registered. The moment the
# loss is registered the module refuses the token (rule M7, no CRL
# needed) and the refusal names the record; a found record, signed and
# registered, lets it sign again; a revocation request of its own (a
# retirement) stops it for good; a token whose certificate a CRL revoked
# while it was lost is not made good by finding it. Bad input leaves
# nothing behind. (The approver's token holds the certificate the test
# CRL issuing-revoked.crl.pem revokes: that CRL is cached only at the end.)
. "$(dirname "$0")/lib.sh"
in_token --second vgca-chipdoc --second-key "81=revoked-sign-rsa2048.key.pem,revoked-sign-rsa2048.pem" \
    vgca-chipdoc
T=$TEST_TMP
kyso() { run_checked "$KYSO_BUILDDIR/tools/kyso" "$@"; }
kyso_print() { LSAN_OPTIONS="suppressions=$KYSO_SRCDIR/tests/unit/records-render.lsan.supp:print_suppressions=0" \
    "$KYSO_BUILDDIR/tools/kyso" "$@"; }
p11() ( client_env && pkcs11-tool --module "$KYSO_MODULE" "$@" )
conf=$KYSO_SYSTEM_CONF/kyso.conf
base=$(cat "$conf")
reg=$KYSO_SYSTEM_STATE/records
parties=$KYSO_SRCDIR/test-vectors/records/parties-pin-reset.json
holder=$(status_serial "$KYSO_READER")
approver=$(status_serial "$KYSO_READER2")
holder_slot=$(slot_of "$holder")
approver_slot=$(slot_of "$approver")
echo "# holder's token $holder (slot $holder_slot), approver's $approver (slot $approver_slot)"
echo "data the holder signs" >"$T/data"
sign_data() { rm -f "$T/sig"; p11 --slot "$holder_slot" -l --pin "$KYSO_TEST_PIN" -s -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig"; }
approve() { # FILE: signed by the approver on the second token
    "$KYSO_BUILDDIR/tools/kyso" record sign "$1" --module "$KYSO_MODULE" --slot "$approver_slot" --pin-fd 3 3<<<"$KYSO_TEST_PIN"
}
approve_verify() { # FILE...: each signed by the approver, then verified
    local f
    for f in "$@"; do approve "$f" && kyso record verify "$f" || return 1; done
}
register() { # FILE...
    local f
    for f in "$@"; do kyso record register "$f" || return 1; done
}
last_refusal() { jq -r 'select(.event == "refusal") | .rule + " " + .detail' "$KYSO_AUDIT_LOG" | tail -n1; }
refused_naming() { # RULE TEXT: the latest refusal
    local r
    r=$(last_refusal)
    echo "$r"
    [[ $r == "$1 "*"$2"* ]]
}
use_profile() {
    sed "s/^profile = .*/profile = $1/" <<<"$base" >"$conf"
    grep -q '^profile = ' "$conf" || sed -i "1i profile = $1" "$conf"
    printf '[agency]\nname = Văn phòng Ủy ban nhân dân tỉnh\nparent = Ủy ban nhân dân tỉnh Bắc Ninh\nprovince = Bắc Ninh\n' >>"$conf"
}
registered() { [ -f "$reg/$(jq -r .id "$1").json" ]; }
make_loss() { # NAME [ARGS...]
    local n=$1
    shift
    kyso_print loss --parties "$parties" --lost-at 2026-11-30T17:30:00+07:00 --lost-place "Nhà khách tỉnh, phòng 204" \
        --circumstances "Để quên trong cặp tài liệu sau cuộc họp" --reported-to "Chánh Văn phòng" \
        --reported-at 2026-12-01T08:05:00+07:00 "$@" -o "$T/$n.json" --revocation-out "$T/$n.rev.json" \
        --pdf "$T/$n.pdf" --revocation-pdf "$T/$n.rev.pdf"
}
make_found() { # NAME LOSS-ID
    kyso_print loss found --loss "$2" --parties "$parties" --found-at 2026-12-02T09:00:00+07:00 \
        --circumstances "Nhà khách gửi trả, niêm phong còn nguyên" --condition "Nguyên vẹn" --reader "$KYSO_READER" \
        -o "$T/$1.json" --pdf "$T/$1.pdf"
}
form_of() { jq -r '.form.number + " | " + .form.law' "$1"; }

check "the holder's token signs before anything is registered" sign_data
# (at level Tối mật a signature needs its issuer's CRL cached: none revokes these)
"$KYSO_BUILDDIR/tools/kyso" crl update --timeout 1 --url "file://$KYSO_TEST_PKI/issuing-empty.crl.pem" \
    --url "file://$KYSO_TEST_PKI/root-empty.crl.pem" >>"$TEST_LOG" 2>&1 # (the certificates' own URLs do not answer here)
check "the issuers' CRLs are cached" bash -c "'$KYSO_BUILDDIR/tools/kyso' crl status | grep -c 'nextUpdate\|next update' | grep -qx 2"

# ---- each profile: loss + revocation request, refused, found, signs again ----
declare -A loss_form=([nd68-2024]="Mẫu 09 | Nghị định 68/2024/NĐ-CP" [an-giang-2016]=" | Thông tư 08/2016/TT-BQP"
    [tien-giang-2015]=" | Thông tư 05/2010/TT-BNV" [hoa-binh-2020]=" | Nghị định 130/2018/NĐ-CP, Thông tư 185/2019/TT-BQP"
    [ha-tinh-2020]="Mẫu 15 | Quyết định 19/2020/QĐ-UBND")
declare -A rev_form=([nd68-2024]="Mẫu 05 | Nghị định 68/2024/NĐ-CP" [an-giang-2016]="Mẫu 09 | Thông tư 08/2016/TT-BQP"
    [tien-giang-2015]="Mẫu 05 | Thông tư 05/2010/TT-BNV" [hoa-binh-2020]=" | Nghị định 130/2018/NĐ-CP, Thông tư 185/2019/TT-BQP"
    [ha-tinh-2020]="Mẫu 9, Mẫu 10 | Thông tư 185/2019/TT-BQP")
for profile in nd68-2024 an-giang-2016 tien-giang-2015 hoa-binh-2020 ha-tinh-2020; do
    use_profile "$profile"
    n=loss-$profile
    check "$profile: kyso loss makes the loss record and its revocation request" make_loss "$n" --reader "$KYSO_READER"
    lid=$(jq -r .id "$T/$n.json")
    rid=$(jq -r .id "$T/$n.rev.json")
    check "  the loss record: its form under $profile" test "$(form_of "$T/$n.json")" = "${loss_form[$profile]}"
    check "  the revocation request: its form under $profile" test "$(form_of "$T/$n.rev.json")" = "${rev_form[$profile]}"
    check "  the two name each other; the reason is token_lost; facts from the token" bash -c "
        [ \"\$(jq -r .details.revocation_request_id '$T/$n.json')\" = '$rid' ] &&
        [ \"\$(jq -r .details.loss_id '$T/$n.rev.json')\" = '$lid' ] &&
        [ \"\$(jq -r .details.reason_code '$T/$n.rev.json')\" = token_lost ] &&
        [ \"\$(jq -r .details.facts_source.from '$T/$n.json')\" = token ] &&
        [ \"\$(jq -r .token.serial '$T/$n.json')\" = '$holder' ]"
    check "  the loss PDF: title, token, when and where, to whom, the request" pdf_has "$T/$n.pdf" \
        "BIÊN BẢN XÁC NHẬN THẤT LẠC THIẾT BỊ LƯU KHÓA BÍ MẬT" "Số: $lid" "$holder" "30/11/2026 17:30:00" \
        "Nhà khách tỉnh, phòng 204" "Chánh Văn phòng" "$rid" "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "Lê Quang Minh"
    check "  the request PDF: title, the case of Điều 17, the loss" pdf_has "$T/$n.rev.pdf" \
        "GIẤY ĐỀ NGHỊ THU HỒI CHỨNG THƯ SỐ" "Thiết bị lưu khóa bí mật bị thất lạc" "$lid" "Nguyễn Văn An"
    check "  both signed by the approver's token and verified" approve_verify "$T/$n.json" "$T/$n.rev.json"
    check "  both registered" register "$T/$n.json" "$T/$n.rev.json"
    check_fails "  the next signature with the token is refused" sign_data
    check "  rule M7, naming the record" refused_naming M7 "reported lost by registered record $lid"
    check "  kyso loss found makes the found record" make_found "found-$profile" "$lid"
    check "  its form: kyso's own, under the profile's law" test "$(jq -r .form.number "$T/found-$profile.json")" = ""
    check_fails "  unsigned, it is not registered" register "$T/found-$profile.json"
    check_fails "  refused still" sign_data
    check "  signed by the approver, the found record registers" approve_verify "$T/found-$profile.json"
    check "  registered" register "$T/found-$profile.json"
    check "  the found PDF names the loss" pdf_has "$T/found-$profile.pdf" "BIÊN BẢN XÁC NHẬN TÌM LẠI THIẾT BỊ LƯU KHÓA BÍ MẬT" "$lid"
    check "  the token signs again" sign_data
    check_fails "  a second found record of the same loss: refused" make_found "again-$profile" "$lid"
done

# ---- a token not at hand: its facts from its latest registered record ----
use_profile nd68-2024
vtoken_ctl remove
check "with the token out of the reader, kyso loss --serial makes the records" make_loss away --serial "$holder"
check "  facts from the registry, naming the record they come from" bash -c "
    [ \"\$(jq -r .details.facts_source.from '$T/away.json')\" = registry ] &&
    [ -f '$reg/'\"\$(jq -r .details.facts_source.ref '$T/away.json')\".json ] &&
    [ \"\$(jq -r .token.serial '$T/away.json')\" = '$holder' ] &&
    [ \"\$(jq -c .certificates '$T/away.json')\" = \"\$(jq -c .certificates '$T/loss-nd68-2024.json')\" ]"
check "  the PDF says where the facts come from" pdf_has "$T/away.pdf" "theo biên bản đã đăng ký số"
check "  signed by the approver" approve_verify "$T/away.json" "$T/away.rev.json"
check "  registered without the token" register "$T/away.json" "$T/away.rev.json"
vtoken_ctl insert
sleep 1
check_fails "the token back in its reader: refused" sign_data
check "  rule M7, naming the loss" refused_naming M7 "$(jq -r .id "$T/away.json")"
check "found again" make_found found-away "$(jq -r .id "$T/away.json")"
check "  signed" approve_verify "$T/found-away.json"
check "  registered" register "$T/found-away.json"
check "  signs again" sign_data

# ---- bad input: one line, non-zero, nothing written or registered ----
before=$(ls "$reg" | wc -l)
check "an unknown reason code: refused" fails_saying "is not a case of Điều 17" \
    kyso revoke-request --parties "$parties" --reason-code lost_it --reason x --reader "$KYSO_READER" -o "$T/bad1.json"
check "  nothing written" test ! -e "$T/bad1.json"
check "dates in the wrong order: refused" fails_saying "before --lost-at: dates in the wrong order" \
    kyso loss --parties "$parties" --lost-at 2026-12-01T08:00:00+07:00 --lost-place x --circumstances x --reported-to x \
    --reported-at 2026-11-30T08:00:00+07:00 --reader "$KYSO_READER" -o "$T/bad2.json" --revocation-out "$T/bad2r.json"
check "  nothing written" test ! -e "$T/bad2.json" -a ! -e "$T/bad2r.json"
check "a time without its offset: refused" fails_saying "not a time with its offset" \
    kyso loss --parties "$parties" --lost-at "2026-12-01 08:00" --lost-place x --circumstances x --reported-to x \
    --reported-at 2026-12-01T09:00:00+07:00 --reader "$KYSO_READER" -o "$T/bad3.json" --revocation-out "$T/bad3r.json"
check "a token not in a reader and never registered: refused" fails_saying "no registered record names it" \
    kyso revoke-request --parties "$parties" --reason-code retirement --reason x --serial 0000000000 -o "$T/bad4.json"
check "found for a revocation request (not a loss): refused" fails_saying "is of kind revocation-request, not loss" \
    kyso loss found --loss "$(jq -r .id "$T/loss-nd68-2024.rev.json")" --parties "$parties" --found-at 2026-12-02T09:00:00+07:00 \
    --circumstances x --condition x --reader "$KYSO_READER" -o "$T/bad5.json"
check "found for the other token's loss: refused" fails_saying "not this token" \
    kyso loss found --loss "$(jq -r .id "$T/loss-nd68-2024.json")" --parties "$parties" --found-at 2026-12-02T09:00:00+07:00 \
    --circumstances x --condition x --reader "$KYSO_READER2" -o "$T/bad6.json"
check "  nothing registered meanwhile" test "$(ls "$reg" | wc -l)" = "$before"
check "a revocation request to register" kyso revoke-request --parties "$parties" --reason-code post_changed \
    --reason "Chuyển công tác" --reader "$KYSO_READER" -o "$T/bad7.json"
mv "$reg" "$reg.away" && echo "not a directory" >"$reg"
check "an unreadable registry: not registered" fails_saying "not registered" kyso record register "$T/bad7.json"
check_fails "  and the module refuses to sign (the registry cannot be trusted)" sign_data
check "  rule M7" refused_naming M7 "cannot be trusted"
rm "$reg" && mv "$reg.away" "$reg"
check "the registry back: signs" sign_data
check "  and the request was not registered" test ! -e "$reg/$(jq -r .id "$T/bad7.json").json"

# ---- a revocation request of its own: stopped for good ----
check "a revocation request for a retirement, made from the token" kyso_print revoke-request --parties "$parties" \
    --reason-code retirement --reason "Nghỉ hưu từ ngày 01/01/2027" --reader "$KYSO_READER" -o "$T/retire.json" --pdf "$T/retire.pdf"
check "  its PDF names the case" pdf_has "$T/retire.pdf" "Nghỉ hưu" "GIẤY ĐỀ NGHỊ THU HỒI CHỨNG THƯ SỐ"
check "  signed" approve_verify "$T/retire.json"
check "  registered" register "$T/retire.json"
check_fails "  refused" sign_data
check "  rule M7, for revocation, naming the request" refused_naming M7 "reported for revocation by registered record $(jq -r .id "$T/retire.json")"
check "the approver's token still signs (another token)" \
    p11 --slot "$approver_slot" -l --pin "$KYSO_TEST_PIN" -s -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig2"
# ---- lost, then revoked: finding it does not make it good ----
lose_second() {
    make_loss second --reader "$KYSO_READER2" && approve_verify "$T/second.json" "$T/second.rev.json" &&
        register "$T/second.json" "$T/second.rev.json"
}
check "the second token's loss, signed with it while it still signs, registered" lose_second
check "the CRL revoking its certificate is cached" bash -c "
    '$KYSO_BUILDDIR/tools/kyso' crl update --timeout 1 --url 'file://$KYSO_TEST_PKI/issuing-revoked.crl.pem' 2>&1 |
    grep -q 'issuing-revoked.crl.pem: stored'"
check "kyso loss found for it: refused, the certificate was revoked" fails_saying "was revoked.*stays stopped" \
    kyso loss found --loss "$(jq -r .id "$T/second.json")" --parties "$parties" --found-at 2026-12-02T09:00:00+07:00 \
    --circumstances x --condition x --reader "$KYSO_READER2" -o "$T/second-found.json"
check "  nothing written" test ! -e "$T/second-found.json"
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
