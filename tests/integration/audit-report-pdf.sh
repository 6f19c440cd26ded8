#!/bin/bash
# kyso audit report --format pdf, the periodic report of rule M9 printed as
# an administrative document, on a synthetic half-year log of 20 000
# records (tests/bench/audit-log-gen.sh) sealed as a real chain
# (audit_reseal): it renders, states its period and its sources, says the
# log verified, and every total it prints equals the JSON report's of the
# same log; the same log with one byte flipped in the middle is said not to
# verify on page 1 (exit status 3); without the auditor's key it says the
# log could not be checked. The default period of every profile at the
# edges (1/7, 1/1, Tiền Giang's 15/11 and 16/11); the yearly plan only with
# the yearly report. A registry holding a handover made from the token, a
# loss and an off-premises permission (made from it, sealed with kyso
# record seal, registered with kyso record register) shows them in section
# 5. Bad input: one line, non-zero, no file left. Page 1 against the
# reference picture test-vectors/records/sample-report.png
# (KYSO_REGEN_REFERENCES=1 rewrites it; look at it before committing).
. "$(dirname "$0")/lib.sh"
in_token --key "81=org-bacninh-sign-rsa2048.key.pem,org-bacninh-sign-rsa2048.pem" vgca-chipdoc
T=$TEST_TMP
KYSO=$KYSO_BUILDDIR/tools/kyso
# (printing goes through fontconfig, whose caches are not ours to report)
export LSAN_OPTIONS="suppressions=$KYSO_SRCDIR/tests/unit/records-render.lsan.supp:print_suppressions=0"
kyso() { run_checked "$KYSO" "$@"; }
conf=$KYSO_SYSTEM_CONF/kyso.conf
base=$(cat "$conf")
use_profile() { # PROFILE: root's configuration with that profile and an agency
    sed "s/^profile = .*/profile = $1/" <<<"$base" >"$conf"
    printf '[agency]\nname = Văn phòng Ủy ban nhân dân tỉnh\nparent = Ủy ban nhân dân tỉnh Bắc Ninh\nprovince = Bắc Ninh\n' >>"$conf"
}
# equal WANT COMMAND...: COMMAND prints WANT.
equal() { local want=$1 got; shift; got=$("$@") || return 1; echo "want [$want] got [$got]"; [ "$got" = "$want" ]; }
# The PDF's text on one line, spaces squeezed, numbers without their
# thousands dots ("17.647" → "17647"): pdftotext wraps and justifies.
flat() { pdftotext "$1" - | tr '\n\f' '  ' | tr -s ' ' | sed -E ':a; s/([0-9])\.([0-9]{3})/\1\2/g; ta'; }
has() { grep -qF -- "$2" "$1" || { echo "missing: $2"; return 1; }; }
# has_path FLAT TEXT: as has, for a text with a path in it, which the page
# may break at any character when it is longer than the line.
has_path() { tr -d ' ' <"$1" | grep -qF -- "$(tr -d ' ' <<<"$2")" || { echo "missing: $2"; return 1; }; }
lacks() { ! grep -qF -- "$2" "$1" || { echo "present: $2"; return 1; }; }
# pdfnum FLAT LABEL: the number after the first "LABEL: ".
pdfnum() { grep -oE -- "$2: [0-9]+" "$1" | head -n1 | sed 's/.*: //'; }

cd "$T" || exit 1
use_profile an-giang-2016
# ---- the synthetic half-year: 2026-H1 in Vietnam (from 2025-12-31T17:00Z, 181 days) ----
"$KYSO_SRCDIR/tests/bench/audit-log-gen.sh" 20000 1767200400 181 >raw.jsonl
echo 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >key
check "the synthetic log sealed as a chain" bash -c "'$KYSO_BUILDDIR/tests/integration/audit_reseal' key <raw.jsonl >half.log"
check "  kyso audit verify: OK" bash -c "'$KYSO' audit verify --log half.log --key key | grep -q '^OK: 20001 records'"
cp=$("$KYSO" audit verify --log half.log --key key | sed -n 's/.*checkpoint //p')
mkdir -p empty-registry
at=2026-07-10T03:00:00Z
t0=$(date +%s.%N)
check "report --format pdf of the half-year (verified with --key)" \
    kyso audit report --log half.log --key key --registry empty-registry --at "$at" --format pdf -o half.pdf
t1=$(date +%s.%N)
echo "# the PDF of 20 000 records (verification included) took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
check "report --format json of the same log and default period" \
    kyso audit report --log half.log --at "$at" --format json -o half.json
check "  the default period under an-giang-2016 on 10/07/2026 is 2026-H1 in Vietnam's days" \
    equal "2026-H1 (01/01/2026–30/06/2026) 2025-12-31T17:00:00.000Z 2026-06-30T16:59:59.999Z" \
    jq -r '"\(.period.name) \(.period.from) \(.period.to)"' half.json
check "  every record of the log is in it" equal 20001 jq -r .records_in_period half.json
check "  A4" bash -c "pdfinfo half.pdf | grep -q 'Page size: *595.276 x 841.89 pts'"
flat half.pdf >half.txt
pdftotext -f 1 -l 1 half.pdf - | tr "\n" " " | tr -s " " | sed -E ":a; s/([0-9])\.([0-9]{3})/\1\2/g; ta" >half.p1
for want in "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "Độc lập - Tự do - Hạnh phúc" "VĂN PHÒNG ỦY BAN" "Số: ……/BC" \
    "Bắc Ninh, ngày 10 tháng 7 năm 2026" "TÌNH HÌNH QUẢN LÝ, SỬ DỤNG CHỮ KÝ SỐ CHUYÊN DÙNG" \
    "Kỳ báo cáo: 2026-H1 (01/01/2026–30/06/2026)" "từ 01/01/2026 đến 30/06/2026 như sau" \
    "1. Nguồn số liệu" "Nhật ký kiểm toán half.log: đã kiểm tra toàn vẹn (chuỗi băm và mã xác thực), 20001 bản ghi hợp lệ" \
    "Sổ đăng ký hồ sơ empty-registry: 0 hồ sơ" "Điểm kiểm tra của nhật ký sau khi kiểm tra: $cp"; do
    check "  page 1 shows '$want'" has half.p1 "$(sed -E ':a; s/([0-9])\.([0-9]{3})/\1\2/g; ta' <<<"$want")"
done
for want in "3. Từ chối ký theo quy tắc" "4. Khóa PIN và khôi phục thiết bị" "5. Bàn giao, thất lạc, thu hồi" \
    "6. Thiết bị phải trả lại" "NGƯỜI LẬP BÁO CÁO" "THỦ TRƯỞNG CƠ QUAN" "Nơi nhận:" \
    "Sở Thông tin và Truyền thông tỉnh An Giang"; do
    check "  shows '$want'" has half.txt "$want"
done
check "  no plan for a 6-month report" lacks half.txt "Kế hoạch kỳ tới"
check "  no warning: the log verified" lacks half.txt "KHÔNG TOÀN VẸN"
# The totals: the PDF's numbers are the JSON's.
check "  records in the period = JSON" equal "$(jq -r .records_in_period half.json)" pdfnum half.txt "Bản ghi trong kỳ"
check "  token use records = JSON" equal "$(jq -r .token_use_records half.json)" pdfnum half.txt "Bản ghi về sử dụng thiết bị"
while read -r key label; do
    check "  total $key = JSON" equal "$(jq -r ".totals.$key" half.json)" pdfnum half.txt "$label"
done <<'EOF'
signatures_made Chữ ký đã tạo
signatures_failed Ký không thành công
refusals Bị từ chối theo quy tắc
decryptions Giải mã
derivations Dẫn xuất khóa
pin_failures Nhập sai PIN
pin_lockouts Khóa PIN
pin_changes Đổi PIN
pin_unblocks Mở khóa PIN
admin_writes Ghi quản trị
other_failures Lỗi khác
signatures_withheld Ký nhưng không giao
EOF
check "  rows per table (agencies, persons, certificates, tokens, programs) = JSON" \
    equal "$(jq -r '[.agencies, .persons, .certificates, .tokens, .programs | length] | join(" ")' half.json)" \
    bash -c "grep -oE 'Cộng: [0-9]+ mục' half.txt | sed 's/[^0-9]//g' | paste -sd' '"
top=$(jq -r '.agencies[0] | "\(.organization): \(.signed) chữ ký; \(.refused) từ chối; \(.failed) lỗi khác; \(.records) bản ghi"' half.json)
check "  the first agency's line = JSON ($top)" has half.txt "$top"
for r in M1 M4 M12; do
    n=$(jq -r --arg r $r '.refusals_by_rule[] | select(.rule == $r) | .refusals' half.json)
    check "  refusals by $r = JSON ($n)" bash -c "grep -qE -- '- $r — [^:]*: $n lần' half.txt"
done
check "  the long tables end with '… và N mục khác'" has half.txt "… và 36 mục khác"
check "  the token table is bounded" equal 15 bash -c "grep -oE -- '- 0000000000abc[0-9a-f]{3}: [0-9]+ chữ ký' half.txt | wc -l"

# ---- one byte flipped in the middle ----
size=$(stat -c %s half.log)
cp half.log flipped.log
off=$((size / 2))
b=$(dd if=half.log bs=1 skip=$off count=1 2>/dev/null)
[ "$b" = x ] && nb=y || nb=x
printf '%s' "$nb" | dd of=flipped.log bs=1 seek=$off conv=notrunc 2>/dev/null
check "the flipped log: kyso audit verify says BROKEN" bash -c "! '$KYSO' audit verify --log flipped.log --key key | grep -q '^OK'"
"$KYSO" audit report --log flipped.log --key key --registry empty-registry --at "$at" --format pdf -o flipped.pdf \
    2>flipped.err
check "  the report is written, exit status 3" equal 3 echo $?
check "  and says why on stderr" grep -q "flipped.log does not verify" flipped.err
pdftotext -f 1 -l 1 flipped.pdf - | tr '\n' ' ' | tr -s ' ' >flipped.p1
check "  page 1 says the log does not verify" has flipped.p1 "CẢNH BÁO: NHẬT KÝ KIỂM TOÁN KHÔNG TOÀN VẸN. Nhật ký flipped.log không qua được kiểm tra"
check "  before section 1" bash -c "grep -o 'CẢNH BÁO.*1. Nguồn số liệu' flipped.p1 >/dev/null"
check "  and names the record" has flipped.p1 "hỏng từ bản ghi số"
check "  section 1: KHÔNG TOÀN VẸN" has flipped.p1 "Nhật ký kiểm toán flipped.log: KHÔNG TOÀN VẸN"
check "  no checkpoint claimed" lacks flipped.p1 "Điểm kiểm tra của nhật ký sau khi kiểm tra"
# Without the key: not claimed either way.
check "without --key: written" kyso audit report --log half.log --registry empty-registry --at "$at" --format pdf -o nokey.pdf
flat nokey.pdf >nokey.txt
check "  says the log could not be checked, and why" has nokey.txt "Nhật ký kiểm toán half.log: không kiểm tra được: cần khóa của kiểm toán viên"
check "  does not say it verified" lacks nokey.txt "đã kiểm tra toàn vẹn"

# ---- page 1 against the reference picture (fixed log, key, time; relative paths) ----
pdftoppm -r 60 -gray -png -f 1 -l 1 -singlefile half.pdf page1
if [ "${KYSO_REGEN_REFERENCES:-0}" = 1 ]; then
    cp page1.png "$KYSO_SRCDIR/test-vectors/records/sample-report.png" && echo "# rewrote test-vectors/records/sample-report.png"
fi
check "page 1 looks like the reference" python3 "$KYSO_SRCDIR/tests/unit/pngdiff.py" page1.png \
    "$KYSO_SRCDIR/test-vectors/records/sample-report.png" 0.01

# ---- the default period of each profile ----
head -n 200 half.log >small.log
period_at() { # PROFILE AT [--period P]: the period's name
    use_profile "$1"
    "$KYSO" audit report --log small.log --at "$2" "${@:3}" --format json | jq -r .period.name
}
check "an-giang-2016, 1/7/2026 00:00 in Vietnam: 2026-H1" equal "2026-H1 (01/01/2026–30/06/2026)" period_at an-giang-2016 2026-06-30T17:00:00Z
check "an-giang-2016, 30/6/2026 23:59:59 in Vietnam: 2025-H2" equal "2025-H2 (01/07/2025–31/12/2025)" period_at an-giang-2016 2026-06-30T16:59:59Z
check "ha-tinh-2020, 1/1/2027 00:00 in Vietnam: 2026-H2" equal "2026-H2 (01/07/2026–31/12/2026)" period_at ha-tinh-2020 2026-12-31T17:00:00Z
check "ha-tinh-2020 --period current on 1/1/2027: 2027-H1" equal "2027-H1 (01/01/2027–30/06/2027)" period_at ha-tinh-2020 2026-12-31T17:00:00Z --period current
check "nd68-2024, 1/1/2027 00:00 in Vietnam: 2026" equal "2026 (01/01/2026–31/12/2026)" period_at nd68-2024 2026-12-31T17:00:00Z
check "nd68-2024, 31/12/2026 23:59:59 in Vietnam: 2025" equal "2025 (01/01/2025–31/12/2025)" period_at nd68-2024 2026-12-31T16:59:59Z
check "hoa-binh-2020, 5/1/2027: 2026" equal "2026 (01/01/2026–31/12/2026)" period_at hoa-binh-2020 2027-01-05T00:00:00Z
check "tien-giang-2015, 15/11/2026 23:59:59 in Vietnam: 2025" equal "2025 (16/11/2024–15/11/2025)" period_at tien-giang-2015 2026-11-15T16:59:59Z
check "tien-giang-2015, 16/11/2026 00:00 in Vietnam: 2026 (16/11/2025–15/11/2026)" equal "2026 (16/11/2025–15/11/2026)" period_at tien-giang-2015 2026-11-15T17:00:00Z
check "tien-giang-2015 --period current on 16/11/2026: 2027" equal "2027 (16/11/2026–15/11/2027)" period_at tien-giang-2015 2026-11-15T17:00:00Z --period current
check "an explicit --period keeps its meaning (UTC)" equal "2026-H1" period_at tien-giang-2015 2026-11-15T17:00:00Z --period 2026-H1
# The yearly plan goes with the yearly report only.
plan() { # PROFILE PERIOD: prints yes when the PDF has the plan
    use_profile "$1"
    "$KYSO" audit report --log small.log --registry empty-registry --at 2027-01-05T00:00:00Z --period "$2" --format pdf -o plan.pdf 2>/dev/null &&
        if flat plan.pdf | grep -q "7. Kế hoạch kỳ tới"; then echo yes; else echo no; fi
}
check "nd68-2024's yearly report has the next period's plan" equal yes plan nd68-2024 previous
check "hoa-binh-2020's too" equal yes plan hoa-binh-2020 previous
check "tien-giang-2015's has none" equal no plan tien-giang-2015 previous
check "ha-tinh-2020's 6-month report has none" equal no plan ha-tinh-2020 previous
check "ha-tinh-2020's report of the whole year has it" equal yes plan ha-tinh-2020 2026
check "an-giang-2016's has none" equal no plan an-giang-2016 previous

# ---- the registry's records of the period (section 5) ----
use_profile nd68-2024
reg=$KYSO_SYSTEM_STATE/records
parties=$KYSO_SRCDIR/test-vectors/records/parties-handover.json
# (the receiver is this OS user: the organisation's token then signs for it, rule M4)
jq --arg u "$(id -un)" 'map(if .role == "receives" then .os_user = $u else . end)' "$parties" >parties-me.json
check "a handover (issue) made from the token" kyso handover issue --parties parties-me.json \
    --reason "Cấp thiết bị cho văn thư được phân công" --condition "Thiết bị nguyên vẹn" -o issue.json
check "  registered" kyso record register issue.json
jq '[.[] | select(.role != "witness") | .role = (if .role == "hands_over" then "requester" else "approver" end)]' \
    "$parties" >parties-ra.json
now=$(jq -r .created.time issue.json)
# make KIND DETAILS OUT: a record of KIND from the handover (same token and certificates), sealed.
make_record() {
    local id
    id=$(jq -r .id issue.json | cut -c1-12)$(openssl rand -hex 4)
    jq --arg k "$1" --arg id "$id" --argjson d "$2" --slurpfile p parties-ra.json \
        '.kind = $k | .id = $id | .details = $d | .parties = $p[0] | .title = "BIÊN BẢN" | del(.integrity)' \
        issue.json >"$3.in" && "$KYSO" record seal "$3.in" -o "$3"
}
check "an off-premises permission made from the token" kyso off-premises --parties parties-ra.json \
    --purpose "Ký văn bản tại hội nghị" --from "$now" --to "$(date -d "+1 day" +%Y-%m-%dT%H:%M:%S%:z)" --place "Trung tâm Hội nghị tỉnh" \
    --protection "Người giữ mang theo người" -o off.json
check "  signed with the token (its custodian is this user)" bash -c "
    '$KYSO' record sign off.json --module '$KYSO_MODULE' --pin-fd 3 3<<<'$KYSO_TEST_PIN'"
check "  registered" kyso record register off.json
check "a loss record made from it, sealed" make_record loss "$(jq -n --arg t "$now" '{lost_at: $t, lost_place: "Hội nghị tại Hà Nội",
    circumstances: "Để quên trong phòng họp", reported_to: "Thủ trưởng cơ quan", reported_at: $t,
    revocation_request_id: "KR-20261203-0000abcd", facts_source: {from: "token", ref: ""}}')" loss.json
check "  sound" kyso record check loss.json
check "  registered" kyso record register loss.json
check "report --period current with the registry" \
    kyso audit report --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY" --period current --format pdf -o reg.pdf
flat reg.pdf >reg.txt
check "  section 1 counts 3 records of the period" has_path reg.txt "Sổ đăng ký hồ sơ $reg: 3 hồ sơ, 3 hồ sơ lập trong kỳ"
check "  the real audit trail verified" has reg.txt "đã kiểm tra toàn vẹn (chuỗi băm và mã xác thực)"
check "  5.1 the handover" has reg.txt "5.1. Bàn giao thiết bị: 1"
check "  its line" has reg.txt "số $(jq -r .id issue.json): Giao thiết bị lần đầu; thiết bị $(jq -r .token.serial issue.json); Phạm Thị Hoa giao, Đỗ Văn Hùng nhận"
check "  5.2 the loss" has reg.txt "5.2. Thất lạc thiết bị, tìm thấy thiết bị: 1"
check "  its line" has reg.txt "số $(jq -r .id loss.json): thất lạc thiết bị $(jq -r .token.serial loss.json)"
check "  the place lost" has reg.txt "tại Hội nghị tại Hà Nội; đã báo Thủ trưởng cơ quan"
check "  5.4 the off-premises permission" has reg.txt "5.4. Mang thiết bị ra ngoài cơ quan, mang về: 1"
check "  its line" has reg.txt "số $(jq -r .id off.json): mang thiết bị $(jq -r .token.serial off.json) ra ngoài"
check "  5.3 no revocation request" has reg.txt "5.3. Đề nghị thu hồi chứng thư số: 0"
# The loss ends the certificate (records/deadlines.c): its token is due back, not yet overdue.
check "  6: the lost token's certificate is due back (records_due_collect)" \
    has reg.txt "Thiết bị $(jq -r .token.serial issue.json), chứng thư số của $(jq -r '.certificates[0].subject.cn' issue.json)"
check "  counted, none overdue" has reg.txt "Cộng: 1 thiết bị chưa trả lại, trong đó 0 quá hạn"
check "  the plan of the yearly report (nd68-2024)" has reg.txt "7. Kế hoạch kỳ tới"
check "  the registration of the records is in the usage (record events)" bash -c "[ \$(jq -r .records_in_period <('$KYSO' audit report --log '$KYSO_AUDIT_LOG' --period current --format json)) -ge 3 ]"

# ---- hostile strings from a log: markup and invisible characters shown as text ----
printf '%s\n' '{"v":1,"seq":1,"time":"2026-03-01T00:00:00.000Z","event":"sign","program":"<b>x</b>&amp;\u202eevil","token":"tok","cert":{"sha256":"ab","serial":"01","subject":"CN=<i>Kẻ</i> xấu\u200b,O=Cơ quan <span>","organization":"Cơ quan <span>"},"outcome":"CKR_OK","prev":"","mac":""}' >hostile.log
use_profile an-giang-2016
check "a log with markup and invisible characters in its strings: printed" \
    kyso audit report --log hostile.log --registry empty-registry --at "$at" --format pdf -o hostile.pdf
flat hostile.pdf >hostile.txt
check "  markup shown as text" has hostile.txt "<b>x</b>&amp;"
check "  a bidi override shown as [U+202E]" has hostile.txt "[U+202E]evil"
check "  a zero-width space shown as [U+200B]" has hostile.txt "[U+200B]"

# ---- bad input: one line, non-zero, nothing left ----
one_error_line() { # STATUS COMMAND...: exits STATUS with one line on stderr and leaves no out.pdf
    local want=$1 rc=0
    shift
    rm -f out.pdf
    "$@" 2>err.txt >/dev/null || rc=$?
    cat err.txt
    [ "$rc" = "$want" ] && [ "$(wc -l <err.txt)" = 1 ] && [ ! -e out.pdf ] && ! ls out.pdf.* 2>/dev/null
}
check "unknown format: status 2, one line" one_error_line 2 "$KYSO" audit report --log half.log --format docx -o out.pdf
check "--period garbage: status 2, one line" one_error_line 2 "$KYSO" audit report --log half.log --period 2026-H9 --format pdf -o out.pdf
check "--at garbage: status 2, one line" one_error_line 2 "$KYSO" audit report --log half.log --at yesterday --format pdf -o out.pdf
check "pdf without -o: status 2" one_error_line 2 "$KYSO" audit report --log half.log --format pdf
check "--key with text: status 2" one_error_line 2 "$KYSO" audit report --log half.log --key key -o out.pdf
check "an unreadable registry: status 1, one line" one_error_line 1 "$KYSO" audit report --log half.log --registry "$T/none/x" --format pdf -o out.pdf
check "  naming it" grep -q "the registry $T/none/x cannot be read" err.txt
check "a missing log: status 1, one line" one_error_line 1 "$KYSO" audit report --log none.log --format pdf -o out.pdf
check "an unreadable key: status 1, one line" one_error_line 1 "$KYSO" audit report --log half.log --key none.key --registry empty-registry --format pdf -o out.pdf
check "an unwritable -o: status 1, one line, nothing left" one_error_line 1 "$KYSO" audit report --log half.log --registry empty-registry --format pdf -o no/such/dir/out.pdf
check "-o one of the logs: refused" one_error_line 1 "$KYSO" audit report --log half.log --registry empty-registry --format pdf -o half.log
check "  the log untouched" equal 20001 bash -c "wc -l <half.log"
sed "s/^profile = .*/profile = nd68-2024/" <<<"$base" >"$conf"
check "no [agency] in kyso.conf: status 1, one line" one_error_line 1 "$KYSO" audit report --log half.log --format pdf -o out.pdf
check "  but text needs none" kyso audit report --log half.log --at "$at"
finish
