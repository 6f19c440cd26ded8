#!/bin/bash
# Rules M10 (renewal) and M11 (return) through the real tools on a PIV
# token holding four certificates issued at test time by the test CA with
# chosen ends: 10, 45 and 90 days left, and one that expired 40 days ago.
# A handover made from the token and registered tells the registry of
# them; signatures through kyso-pkcs11.so tell the audit trail, and the
# module's record of a signature with a certificate near its end says
# so. kyso token due lists them, overdue first, in text and JSON, with
# exit status 3 while a token is overdue for return (0 once the return
# is registered; a registered revocation request ends every certificate
# of the token); kyso token status shows the same per certificate.
# kyso renewal-request is made under each of the five profiles for an
# eligible certificate (the form that profile cites, printed), refused
# when the profile says no (too few days left under an-giang-2016 and
# nd68-2024, ended, renewed once already per the registry), and bad
# input gives one line and leaves nothing.
. "$(dirname "$0")/lib.sh"

pki=${KYSO_BUILDDIR:-$KYSO_SRCDIR}/tests/record-due.pki
if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    # The certificates, issued now by the test issuing CA (openssl ca, for
    # chosen dates); 12 hours past the whole days, so the days left stay
    # what they are while the test runs.
    rm -rf "$pki" && mkdir -p "$pki/new" && : >"$pki/index.txt" && echo 1000 >"$pki/serial" || exit 1
    P=$KYSO_SRCDIR/test-vectors/pki
    cat >"$pki/ca.cnf" <<EOF
[ca]
default_ca = due
[due]
dir = $pki
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
certificate = $P/issuing-ca.pem
private_key = $P/issuing-ca.key.pem
default_md = sha256
policy = any
unique_subject = no
[any]
countryName = optional
localityName = optional
organizationName = optional
title = optional
commonName = supplied
UID = optional
emailAddress = optional
[ext_sign]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    issue() { # NAME CN UID END
        openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key.pem" &&
            openssl req -new -utf8 -key "$pki/$1.key.pem" -out "$pki/$1.csr" \
                -subj "/C=VN/L=Hà Nội/O=Sở Thông tin và Truyền thông Hà Nội/title=Chuyên viên/CN=$2/UID=CCCD:$3" &&
            openssl ca -batch -config "$pki/ca.cnf" -utf8 -preserveDN -notext -startdate 20250101000000Z \
                -enddate "$(date -u -d "$4" +%Y%m%d%H%M%SZ)" -extensions ext_sign \
                -in "$pki/$1.csr" -out "$pki/$1.pem" 2>"$pki/ca.err" || { cat "$pki/ca.err"; exit 1; }
    }
    issue d10 "Lê Văn Mười" 000000000010 "now + 10 days + 12 hours"
    issue d45 "Phạm Thị Bốn" 000000000045 "now + 45 days + 12 hours"
    issue d90 "Hoàng Văn Chín" 000000000090 "now + 90 days + 12 hours"
    issue exp "Đặng Thị Hết" 000000000040 "now - 40 days"
fi
in_token --key "9c=$pki/d10.key.pem,$pki/d10.pem" --key "82=$pki/d45.key.pem,$pki/d45.pem" \
    --key "83=$pki/d90.key.pem,$pki/d90.pem" --key "84=$pki/exp.key.pem,$pki/exp.pem" piv
T=$TEST_TMP
cp "$pki"/*.pem "$T/" && rm -rf "$pki"
kyso() { run_checked "$KYSO_BUILDDIR/tools/kyso" "$@"; }
kyso_print() { LSAN_OPTIONS="suppressions=$KYSO_SRCDIR/tests/unit/records-render.lsan.supp:print_suppressions=0" \
    "$KYSO_BUILDDIR/tools/kyso" "$@"; }
conf=$KYSO_SYSTEM_CONF/kyso.conf
base=$(cat "$conf")
reg=$KYSO_SYSTEM_STATE/records
parties=$KYSO_SRCDIR/test-vectors/records/parties-pin-reset.json # a requester and an approver
serial=$("$KYSO_BUILDDIR/tools/kyso" token status | sed -n 's/.*serial \([0-9a-f]*\),.*/\1/p' | head -n1)
declare -A cn=([d10]="Lê Văn Mười" [d45]="Phạm Thị Bốn" [d90]="Hoàng Văn Chín" [exp]="Đặng Thị Hết")
declare -A cs sha
for c in d10 d45 d90 exp; do
    cs[$c]=$(openssl x509 -in "$T/$c.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
    sha[$c]=$(openssl x509 -in "$T/$c.pem" -outform DER | sha256sum | cut -d' ' -f1)
done
day() { TZ=Asia/Ho_Chi_Minh date -d "$1" +%F; }
echo "# token $serial; certificates ${cs[*]}"

use_profile() { # PROFILE: root's configuration with that profile and an agency
    sed "s/^profile = .*/profile = $1/" <<<"$base" >"$conf"
    printf '[agency]\nname = Sở Thông tin và Truyền thông\nparent = Ủy ban nhân dân thành phố Hà Nội\nprovince = Hà Nội\n' >>"$conf"
}
exit_is() { # CODE COMMAND...: COMMAND's exit status is CODE
    local want=$1 rc=0
    shift
    "$@" || rc=$?
    echo "exit status $rc"
    [ "$rc" -eq "$want" ]
}
# one_line_refusal OUT COMMAND...: fails, says one line on stderr, writes neither OUT nor OUT's PDF
one_line_refusal() {
    local out=$1 rc=0
    shift
    "$@" 2>"$T/stderr" || rc=$?
    cat "$T/stderr"
    [ "$rc" -ne 0 ] && [ "$(grep -c . "$T/stderr")" -eq 1 ] && [ ! -e "$out" ] && [ ! -e "${out%.json}.pdf" ]
}
request() { # OUT CERT CHANGE [MORE OPTIONS]: a renewal request for certificate CERT (d10 …), printed
    local out=$1 c=$2 change=$3
    shift 3
    kyso_print renewal-request --parties "$parties" --change "$change" --cert "${cs[$c]}" \
        --requested "Gia hạn chứng thư số thêm 3 năm" --reason "Chứng thư số sắp hết hạn" \
        -o "$out" --pdf "${out%.json}.pdf" "$@"
}
field() { jq -r "$2" "$1"; }

# ---- the registry learns of the token's certificates; the audit trail of its signatures ----
use_profile nd68-2024
check "a handover (issue) made from the token" \
    kyso handover issue --parties "$KYSO_SRCDIR/test-vectors/records/parties-handover.json" \
    --reason "Cấp thiết bị cho người được cấp chứng thư số" --condition "Nguyên vẹn" -o "$T/issue.json"
check "  it lists the four certificates" bash -c "for s in ${sha[*]}; do jq -e --arg s \$s 'any(.certificates[]; .sha256 == \$s)' '$T/issue.json' >/dev/null || exit 1; done"
check "  registered" kyso record register "$T/issue.json"
declare -A keyid=([d10]=02 [d45]=05 [d90]=06)
for c in d10 d45 d90; do
    check "a signature with the ${c#d}-day certificate (key ${keyid[$c]}) through the module" \
        kyso record sign "$T/issue.json" --module "$KYSO_MODULE" --key-id "${keyid[$c]}" --pin-fd 3 \
        -o "$T/issue.$c.p7s" 3<<<"$KYSO_TEST_PIN"
done
last10=$(day "now + 10 days + 12 hours")
check "  the record of the 10-day one says it ends and that renewal is too late (nd68-2024 asks 30 days)" \
    bash -c "d=\$(jq -r --arg s '${sha[d10]}' 'select(.event == \"sign\" and .cert.sha256 == \$s) | .detail' '$KYSO_AUDIT_LOG' | tail -n1); echo \"\$d\"
             grep -q 'certificate expires in 10 days ($last10); too late to request renewal since $(day "now + 10 days + 12 hours - 30 days") (nd68-2024)' <<<\"\$d\""
check "  the 45-day one: a renewal request due by its last day, 15 days from now" \
    bash -c "d=\$(jq -r --arg s '${sha[d45]}' 'select(.event == \"sign\" and .cert.sha256 == \$s) | .detail' '$KYSO_AUDIT_LOG' | tail -n1); echo \"\$d\"
             grep -q 'certificate expires in 45 days ($(day "now + 45 days + 12 hours")); renewal request due by $(day "now + 15 days + 12 hours") (nd68-2024)' <<<\"\$d\""
check "  the 90-day one: no such note" \
    bash -c "d=\$(jq -r --arg s '${sha[d90]}' 'select(.event == \"sign\" and .cert.sha256 == \$s) | .outcome + \" [\" + .detail + \"]\"' '$KYSO_AUDIT_LOG' | tail -n1); echo \"\$d\"
             [ \"\$d\" = 'CKR_OK []' ]"
check_fails "the expired certificate does not sign (M1)" \
    kyso record sign "$T/issue.json" --module "$KYSO_MODULE" --key-id 07 --pin-fd 3 -o "$T/issue.exp.p7s" 3<<<"$KYSO_TEST_PIN"

# ---- kyso token due ----
check "kyso token due: exit status 3 (a token is overdue for return)" exit_is 3 kyso token due
kyso token due >"$T/due.txt" 2>&1
cat "$T/due.txt" >>"$TEST_LOG"
check "  overdue first: the expired certificate, its deadline 5 working days after it ended" \
    bash -c "sed -n '/^TOKEN /{n;p;q}' '$T/due.txt' | grep -E '^$serial +Đặng Thị Hết +${cs[exp]} +-4[01] +ended +[0-9]{4}-[0-9]{2}-[0-9]{2} +OVERDUE\$'"
check "  the others by days left: 10, 45, 90, then the token's own (2045)" bash -c "
    sed -n '/^TOKEN /,\$p' '$T/due.txt' | awk 'NR > 2 { print \$2 \" \" \$3 }' | head -n3 | tr '\n' '|' |
    grep -qx 'Lê Văn|Phạm Thị|Hoàng Văn|'"
check "  10 days: too late (nd68-2024 needs 30); expiring" \
    grep -qE "Lê Văn Mười +${cs[d10]} +10 +too late \(last day $(day "now + 10 days + 12 hours - 30 days")\) +- +expiring" "$T/due.txt"
check "  45 days: eligible until 15 days from now; renew soon" \
    grep -qE "Phạm Thị Bốn +${cs[d45]} +45 +eligible until $(day "now + 15 days + 12 hours") +- +renew soon" "$T/due.txt"
check "  90 days: eligible, ok" grep -qE "Hoàng Văn Chín +${cs[d90]} +90 +eligible until $(day "now + 60 days + 12 hours") +- +ok" "$T/due.txt"
kyso token due --json >"$T/due.json"
check "kyso token due --json: the same, for jq" jq -e --arg t "$serial" \
    --arg e "${sha[exp]}" --arg a "${sha[d10]}" --arg b "${sha[d45]}" --arg c "${sha[d90]}" '
    .profile == "nd68-2024" and .overdue == 1 and (.items[0].cert_sha256 == $e) and
    (.items | map(select(.token == $t)) | length == 6) and
    (.items[] | select(.cert_sha256 == $e) | .status == "overdue" and .ended and .return.overdue and
        (.return.deadline | test("^[0-9]{4}-")) and .renewal.state == "ended" and .holder == "Đặng Thị Hết") and
    (.items[] | select(.cert_sha256 == $a) | .days_left == 10 and .renewal.state == "too_late" and .status == "expiring") and
    (.items[] | select(.cert_sha256 == $b) | .days_left == 45 and .renewal.state == "eligible" and .status == "renew_soon") and
    (.items[] | select(.cert_sha256 == $c) | .days_left == 90 and .renewal.state == "eligible" and .status == "ok" and
        .return.deadline == null and (.source | startswith("registry KR-")))' "$T/due.json"
# (counted here independently: weekdays that holidays-vn.txt does not name)
working_days_after() { # DAY N: the N-th working day after DAY
    local d=$1 n=$2
    while [ "$n" -gt 0 ]; do
        d=$(date -d "$d + 1 day" +%F)
        if [ "$(date -d "$d" +%u)" -lt 6 ] && ! grep -q "^$d " "$KYSO_SRCDIR/records/holidays-vn.txt"; then
            n=$((n - 1))
        fi
    done
    echo "$d"
}
ended=$(day "now - 40 days")
check "  it ended $ended; its token is due back 5 working days later, $(working_days_after "$ended" 5)" \
    test "$(jq -r --arg e "${sha[exp]}" '.items[] | select(.cert_sha256 == $e) | .ended_day + " " + .return.deadline' "$T/due.json")" \
    = "$ended $(working_days_after "$ended" 5)"
check "kyso token due --help: the exit statuses" output_has "3 a token is overdue for return" kyso token due --help
check_fails "kyso token due --at garbage: refused" kyso token due --at yesterday
check "  as of 60 days ago nothing had ended: exit status 0" exit_is 0 kyso token due --at "$(day "now - 60 days")"
check_fails "an audit log that cannot be read: refused" kyso token due --log "$T/no-such.log"
check "kyso token status: days left, renewal and its last day per certificate" bash -c "
    s=\$('$KYSO_BUILDDIR/tools/kyso' token status); echo \"\$s\"
    grep -q 'days left: 10 (until $last10)' <<<\"\$s\" &&
    grep -q 'renewal (M10, nd68-2024): too_late: 10 days left, fewer than the 30' <<<\"\$s\" &&
    grep -q 'renewal (M10, nd68-2024): eligible: 90 days left: a renewal may be requested until $(day "now + 60 days + 12 hours")' <<<\"\$s\" &&
    grep -qE 'return \(M11\): OVERDUE: the token is due back by [0-9-]{10} \(5 working days after $(day "now - 40 days")\)' <<<\"\$s\""

# ---- kyso renewal-request under each profile, for the 90-day certificate ----
# (at level Tối mật a signature needs its issuer's CRL cached)
"$KYSO_BUILDDIR/tools/kyso" crl update --timeout 1 --url "file://$KYSO_TEST_PKI/issuing-empty.crl.pem" \
    --url "file://$KYSO_TEST_PKI/root-empty.crl.pem" >>"$TEST_LOG" 2>&1
declare -A number=([nd68-2024]="Mẫu 04" [an-giang-2016]="" [tien-giang-2015]="" [hoa-binh-2020]="" [ha-tinh-2020]="Mẫu 7, Mẫu 8")
declare -A law=([nd68-2024]="Nghị định 68/2024/NĐ-CP" [an-giang-2016]="Thông tư 08/2016/TT-BQP"
    [tien-giang-2015]="Thông tư 05/2010/TT-BNV" [hoa-binh-2020]="Nghị định 130/2018/NĐ-CP, Thông tư 185/2019/TT-BQP"
    [ha-tinh-2020]="Thông tư 185/2019/TT-BQP")
for p in nd68-2024 an-giang-2016 tien-giang-2015 hoa-binh-2020 ha-tinh-2020; do
    use_profile "$p"
    check "$p: a renewal request for the 90-day certificate, printed" request "$T/ren-$p.json" d90 renewal
    check "  sound, of the profile's form, about that certificate, 90 days left, none before" \
        test "$(field "$T/ren-$p.json" '[.kind, .profile, .form.number, .form.law, .title, .details.change,
            (.details.days_left|tostring), (.details.renewals_before|tostring), (.certificates|length|tostring),
            .certificates[0].sha256, .token.serial] | join("|")')" \
        = "renewal-request|$p|${number[$p]}|${law[$p]}|GIẤY ĐỀ NGHỊ GIA HẠN CHỨNG THƯ SỐ|renewal|90|0|1|${sha[d90]}|$serial"
    check "  kyso record check: sound" kyso record check "$T/ren-$p.json"
    check "  signed through the module with the 90-day key, and verified" bash -c "
        '$KYSO_BUILDDIR/tools/kyso' record sign '$T/ren-$p.json' --module '$KYSO_MODULE' --key-id '${keyid[d90]}' \
            --pin-fd 3 3<<<'$KYSO_TEST_PIN' && '$KYSO_BUILDDIR/tools/kyso' record verify '$T/ren-$p.json'"
    pdftotext -layout "$T/ren-$p.pdf" "$T/ren-$p.txt"
    check "  the PDF holds the title, the form or law, the holder and the parties" bash -c "
        t=\$(tr -s ' \n' ' ' <'$T/ren-$p.txt')
        for w in 'GIẤY ĐỀ NGHỊ GIA HẠN CHỨNG THƯ SỐ' '${number[$p]:-${law[$p]%%,*}}' 'Hoàng Văn Chín' 'Nguyễn Văn An' \
                 'Gia hạn chứng thư số thêm 3 năm' '$serial'; do
            grep -qF -- \"\$w\" <<<\"\$t\" || { echo \"missing: \$w\"; exit 1; }
        done"
done
use_profile an-giang-2016
check "an-giang-2016: refused for the 10-day certificate (needs 60), one line, nothing written" \
    one_line_refusal "$T/r1.json" request "$T/r1.json" d10 renewal
check "  saying why" grep -q "renewal refused (rule M10, an-giang-2016): 10 days left, fewer than the 60" "$T/stderr"
check "  and for the 45-day one too" one_line_refusal "$T/r2.json" request "$T/r2.json" d45 renewal
use_profile nd68-2024
check "nd68-2024: refused for the 10-day certificate (needs 30)" one_line_refusal "$T/r3.json" request "$T/r3.json" d10 renewal
check "  saying why" grep -q "fewer than the 30 a renewal needs under nd68-2024" "$T/stderr"
check "  the 45-day one is eligible" request "$T/ren45.json" d45 renewal
check "  refused for the expired certificate" one_line_refusal "$T/r4.json" request "$T/r4.json" exp renewal
check "  as ended" grep -q "the certificate ended on $(day "now - 40 days") (expired)" "$T/stderr"
check "an information change: made for the 45-day certificate" request "$T/info45.json" d45 info-change
check "  its title and change" test "$(field "$T/info45.json" '.title + "|" + .details.change')" = \
    "GIẤY ĐỀ NGHỊ THAY ĐỔI THÔNG TIN CHỨNG THƯ SỐ|info_change"
check "  refused for the 10-day one (nd68-2024 needs 30)" one_line_refusal "$T/r5.json" request "$T/r5.json" d10 info-change
check "the nd68-2024 renewal request registered" kyso record register "$T/ren-nd68-2024.json"
check "  a second one is refused: renewed once already" \
    one_line_refusal "$T/r6.json" request "$T/r6.json" d90 renewal
check "  saying so" grep -q "renewed once already (1 renewal request registered" "$T/stderr"
use_profile tien-giang-2015
check "  tien-giang-2015 names no such limit: made, with renewals_before 1" \
    kyso renewal-request --parties "$parties" --change renewal --cert "${cs[d90]}" --requested r --reason r -o "$T/tg2.json"
check "  renewals_before 1" test "$(field "$T/tg2.json" .details.renewals_before)" = 1
use_profile nd68-2024
kyso token due --json >"$T/due2.json"
check "  kyso token due: the 90-day certificate renewed already" jq -e --arg c "${sha[d90]}" \
    '.items[] | select(.cert_sha256 == $c) | .renewal.state == "already" and .renewal.renewals_before == 1' "$T/due2.json"

# ---- bad input: one line, nothing written ----
check "an unknown --change: one line, nothing written" one_line_refusal "$T/b1.json" request "$T/b1.json" d90 renew
check "no --parties: one line" one_line_refusal "$T/b2.json" \
    kyso renewal-request --change renewal --cert "${cs[d45]}" --requested r --reason r -o "$T/b2.json"
check "a parties file that does not exist: refused, nothing written" bash -c "
    ! '$KYSO_BUILDDIR/tools/kyso' renewal-request --parties '$T/none.json' --change renewal --cert '${cs[d45]}' \
        --requested r --reason r -o '$T/b3.json' && [ ! -e '$T/b3.json' ]"
check "several certificates and no --cert: one line asking for it" \
    one_line_refusal "$T/b4.json" kyso renewal-request --parties "$parties" --change renewal --requested r --reason r -o "$T/b4.json"
check "  naming the option" grep -q "name one with --cert" "$T/stderr"
printf '{}\n' >"$reg/KR-20261201-0badf00d.json"
check "a registry holding a record that does not load: the request is refused" \
    one_line_refusal "$T/b5.json" request "$T/b5.json" d45 renewal
check "  saying the registry cannot be read" grep -q "KR-20261201-0badf00d.*whether it was renewed already is unknown" "$T/stderr"
check "  kyso token due: exit status 1, one line" bash -c "
    '$KYSO_BUILDDIR/tools/kyso' token due >'$T/b6.out' 2>'$T/b6.err'; rc=\$?; cat '$T/b6.err'
    [ \$rc -eq 1 ] && [ \$(grep -c . '$T/b6.err') -eq 1 ] && [ ! -s '$T/b6.out' ]"
rm -f "$reg/KR-20261201-0badf00d.json"

# ---- the token handed back: nothing overdue any more ----
check "the token handed back (handover return), registered" bash -c "
    '$KYSO_BUILDDIR/tools/kyso' handover return --parties '$KYSO_SRCDIR/test-vectors/records/parties-handover.json' \
        --reason 'Chứng thư số hết hạn' --condition 'Nguyên vẹn' -o '$T/return.json' &&
    '$KYSO_BUILDDIR/tools/kyso' record register '$T/return.json'"
check "  kyso token due: exit status 0" exit_is 0 kyso token due
check "  the expired certificate's token: returned today" bash -c "'$KYSO_BUILDDIR/tools/kyso' token due |
    grep -qE 'Đặng Thị Hết +${cs[exp]} +-4[01] +ended +returned $(day now) +returned\$'"

# ---- a revocation request registered: every certificate of the token has ended ----
check "a revocation request for the token (kyso revoke-request), registered" bash -c "
    '$KYSO_BUILDDIR/tools/kyso' revoke-request --parties '$parties' --reason-code post_changed \
        --reason 'Chuyển công tác' --reader '$KYSO_READER' -o '$T/revoke.json' &&
    '$KYSO_BUILDDIR/tools/kyso' record register '$T/revoke.json'"
"$KYSO_BUILDDIR/tools/kyso" token due --json >"$T/due3.json"
check "  the 90-day certificate ended today by its revocation; its token is back already" \
    jq -e --arg c "${sha[d90]}" --arg d "$(day now)" '.items[] | select(.cert_sha256 == $c) |
        .ended and .ended_day == $d and .renewal.state == "ended" and (.renewal.why | test("revocation registered")) and
        .return.returned and .status == "returned" and .days_left == 90' "$T/due3.json"
check "  a renewal request for it is refused now" one_line_refusal "$T/r7.json" request "$T/r7.json" d90 renewal
check "  as ended" grep -q "the certificate ended on $(day now) (revocation registered)" "$T/stderr"
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
