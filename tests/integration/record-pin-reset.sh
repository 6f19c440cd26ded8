#!/bin/bash
# Recovering a locked token (rule M6) on the government token: wrong PINs
# through the module lock it; kyso pin-reset request makes the request
# from the token (tries left as the token tells them), it is registered;
# kyso pin-reset status shows it open; perform with a wrong PUK changes
# nothing; perform with the PUK unblocks and sets the new PIN, and
# registers the completion linked to the request; the token signs again
# with the new PIN. The audit trail holds the lock-out, the request, the
# unblock and the completion, in that order. Locked again and its PUK
# spent, the outcome "puk_blocked" is the completion.
. "$(dirname "$0")/lib.sh"
in_token --key "81=org-bacninh-sign-rsa2048.key.pem,org-bacninh-sign-rsa2048.pem" vgca-chipdoc
client_env
T=$TEST_TMP
kyso() { run_checked "$KYSO_BUILDDIR/tools/kyso" "$@"; }
kyso_print() { LSAN_OPTIONS="suppressions=$KYSO_SRCDIR/tests/unit/records-render.lsan.supp:print_suppressions=0" \
    "$KYSO_BUILDDIR/tools/kyso" "$@"; }
parties=$KYSO_SRCDIR/test-vectors/records/parties-pin-reset.json
reg=$KYSO_SYSTEM_STATE/records
printf '[agency]\nname = Sở Tài chính\nparent = Ủy ban nhân dân tỉnh Bắc Ninh\nprovince = Bắc Ninh\n' >>"$KYSO_SYSTEM_CONF/kyso.conf"
# (the organisation's token signs for this user: a custodian is registered first)
me=$(id -un)
jq --arg u "$me" '(.parties |= map(if .role == "receives" then .os_user = $u else . end))' \
    "$KYSO_SRCDIR/test-vectors/records/handover-custodian-ha-tinh.json" | jq '.parties' >"$T/ho-parties.json"
kyso handover issue --parties "$T/ho-parties.json" --reason "Cấp thiết bị" --condition "Nguyên vẹn" -o "$T/ho.json" >/dev/null &&
    kyso record register "$T/ho.json" >/dev/null
new_pin=13572468
echo "recovery test data" >"$T/data"
sign() { # PIN OUT
    rm -f "$2"
    pkcs11-tool --module "$KYSO_MODULE" -l --pin "$1" -s -m SHA256-RSA-PKCS -i "$T/data" -o "$2"
}
tries() { "$KYSO_BUILDDIR/tools/kyso" token status | sed -n 's/.*PIN tries left: \([0-9]*\).*/\1/p' | head -n1; }

check "the token signs with its PIN" sign "$KYSO_TEST_PIN" "$T/sig.0"
check_fails "not locked: a request without --reason is refused" \
    kyso pin-reset request --parties "$parties" -o "$T/early.json"
check "  saying why" grep -q "is not locked (PIN tries left: [1-9]" "$TEST_LOG"
check "  nothing written" test ! -e "$T/early.json"

for i in $(seq 1 12); do
    [ "$(tries)" = 0 ] && break
    sign 00000000 "$T/wrong" >/dev/null 2>&1
done
check "wrong PINs through the module lock the token" test "$(tries)" = 0
check_fails "  the right PIN no longer signs" sign "$KYSO_TEST_PIN" "$T/sig.1"

check "the request, made from the locked token, printed" \
    kyso_print pin-reset request --parties "$parties" -o "$T/req.json" --pdf "$T/req.pdf"
req=$(jq -r .id "$T/req.json")
check "  the tries as the token tells them (PIN 0)" test "$(jq -r .details.pin_tries_left "$T/req.json")" = 0
check "  Mẫu 06 of Nghị định 68/2024, its title" test "$(jq -r '.form.number + "|" + .form.law + "|" + .title' "$T/req.json")" \
    = "Mẫu 06|Nghị định 68/2024/NĐ-CP|ĐƠN ĐỀ NGHỊ KHÔI PHỤC THIẾT BỊ LƯU KHÓA BÍ MẬT"
check "  the PDF holds the requester, the coordinator, the approver and the token" bash -c "
    t=\$(pdftotext '$T/req.pdf' - | tr -s ' \n' ' ')
    for p in \$(jq -r '.[].name | gsub(\" \"; \"_\")' '$parties') '$(jq -r .token.serial "$T/req.json")' 'Mẫu 06'; do
        grep -qF -- \"\${p//_/ }\" <<<\"\$t\" || { echo \"missing: \$p\"; exit 1; }
    done"
jq 'map(select(.role != "approver"))' "$parties" >"$T/noapprover-parties.json"
# The form each profile cites for the request (or none: kyso's layout under the law).
declare -A form=([an-giang-2016]="Mẫu 14, Mẫu 15|Thông tư 08/2016/TT-BQP" [tien-giang-2015]="|Thông tư 05/2010/TT-BNV"
    [hoa-binh-2020]="|Nghị định 130/2018/NĐ-CP, Thông tư 185/2019/TT-BQP" [ha-tinh-2020]="Mẫu 11, Mẫu 12|Thông tư 185/2019/TT-BQP")
cp "$KYSO_SYSTEM_CONF/kyso.conf" "$T/kyso.conf.nd68"
for p in an-giang-2016 tien-giang-2015 hoa-binh-2020 ha-tinh-2020; do
    sed "s/^profile = .*/profile = $p/" "$T/kyso.conf.nd68" >"$KYSO_SYSTEM_CONF/kyso.conf"
    check "$p: the request's form and law: ${form[$p]}" bash -c "
        '$KYSO_BUILDDIR/tools/kyso' pin-reset request --parties '$parties' -o '$T/req-$p.json' >/dev/null &&
        [ \"\$(jq -r '.profile + \"/\" + .form.number + \"|\" + .form.law' '$T/req-$p.json')\" = '$p/${form[$p]}' ]"
done
cp "$T/kyso.conf.nd68" "$KYSO_SYSTEM_CONF/kyso.conf"
check_fails "a parties file without the approver: refused" \
    kyso pin-reset request --parties "$T/noapprover-parties.json" -o "$T/noapprover.json"
check "  naming the missing role" grep -q "approver" "$TEST_LOG"
check "the request is registered" kyso record register "$T/req.json"
check "status: open, 0 working days old, the deadline 1 working day" \
    output_has "^$req  token .* open, 0 working day\(s\) old, deadline 1 working day$" kyso pin-reset status
check_fails "perform without its request registered: refused" \
    kyso pin-reset perform --request KR-20261203-00000000 -o "$T/none.json" --puk-fd 3 --new-pin-fd 3 3<<<"x"

n_unblocks() { jq -s 'map(select(.event == "pin_unblock")) | length' "$KYSO_AUDIT_LOG"; }
check_fails "perform with a wrong PUK" kyso pin-reset perform --request "$req" -o "$T/done-wrong.json" \
    --puk-fd 3 --new-pin-fd 4 3<<<"11112222" 4<<<"$new_pin"
check "  says so, nothing changed" bash -c "grep -q 'wrong PUK' '$TEST_LOG' && [ ! -e '$T/done-wrong.json' ] && [ \"\$('$KYSO_BUILDDIR/tools/kyso' token status | sed -n 's/.*PIN tries left: \([0-9]*\).*/\1/p' | head -n1)\" = 0 ]"
check "  the audit trail records the failed unblock" \
    jq -se 'map(select(.event == "pin_unblock")) | last | .outcome == "CKR_PIN_INCORRECT"' "$KYSO_AUDIT_LOG"
vtoken_ctl remove >/dev/null
check_fails "perform with the token pulled: refused, nothing changed" kyso pin-reset perform --request "$req" \
    -o "$T/done-pulled.json" --puk-fd 3 --new-pin-fd 4 3<<<"$KYSO_TEST_PUK" 4<<<"$new_pin"
check "  as not inserted, and no record written" bash -c "grep -q 'is not inserted; nothing changed' '$TEST_LOG' && [ ! -e '$T/done-pulled.json' ]"
vtoken_ctl insert >/dev/null
sleep 0.5
# Pulled in the middle: perform has read the token and waits for the PUK
# (a pipe); the token is pulled; then the PUK comes.
mkfifo "$T/secrets"
exec 5<>"$T/secrets"
"$KYSO_BUILDDIR/tools/kyso" pin-reset perform --request "$req" -o "$T/done-mid.json" --puk-fd 5 --new-pin-fd 5 \
    >"$T/mid.out" 2>&1 &
mid=$!
for _ in $(seq 100); do grep -q "secrets" <(ls -l /proc/$mid/fd 2>/dev/null) && break; sleep 0.05; done
sleep 1 # (it has opened the token and waits on the pipe)
vtoken_ctl remove >/dev/null
printf '%s\n%s\n' "$KYSO_TEST_PUK" "$new_pin" >&5
wait "$mid"
mid_rc=$?
exec 5>&-
cat "$T/mid.out" >>"$TEST_LOG"
check "the token pulled during perform: a clear error" bash -c "[ $mid_rc -ne 0 ] && grep -q 'the token did not answer' '$T/mid.out'"
check "  no completion written or registered" bash -c "[ ! -e '$T/done-mid.json' ] && ! grep -l pin-reset-done '$reg'/*.json"
check "  the audit trail records the failed unblock" \
    jq -se 'map(select(.event == "pin_unblock")) | last | .outcome == "CKR_DEVICE_REMOVED" or .outcome == "CKR_DEVICE_ERROR"' "$KYSO_AUDIT_LOG"
vtoken_ctl insert >/dev/null
sleep 0.5
check "  reinserted: still locked" test "$(tries)" = 0
t0=$(date +%s%N)
check "perform with the PUK: unblocked within the deadline" output_has "unblocked, the new PIN is set; 0 working day\(s\) after the request, within the deadline" \
    kyso_print pin-reset perform --request "$req" -o "$T/done.json" --pdf "$T/done.pdf" --puk-fd 3 --new-pin-fd 4 \
    3<<<"$KYSO_TEST_PUK" 4<<<"$new_pin"
echo "# perform: $((($(date +%s%N) - t0) / 1000000)) ms"
done_id=$(jq -r .id "$T/done.json")
check "  the completion: linked to the request, outcome, working days against the deadline" \
    test "$(jq -r '.kind + " " + .details.request_id + " " + .details.outcome + " " + (.details.working_days_taken|tostring) + "/" + (.details.deadline_working_days|tostring)' "$T/done.json")" \
    = "pin-reset-done $req unblocked 0/1"
check "  registered" test -e "$reg/$done_id.json"
check "  printed: the request it completes, the outcome, the time taken" bash -c "
    t=\$(pdftotext '$T/done.pdf' - | tr -s ' \n' ' ')
    grep -qF '$req' <<<\"\$t\" && grep -qF 'BIÊN BẢN KHÔI PHỤC' <<<\"\$t\""
check "  the coordinator of the request is its party" test "$(jq -r '[.parties[].role] | sort | join(",")' "$T/done.json")" = "coordinator,requester"
check "status: done" output_has "^$req  .* DONE by $done_id \(unblocked\) in 0 working day\(s\)" kyso pin-reset status "$req"
check_fails "perform again: refused as done" kyso pin-reset perform --request "$req" -o "$T/done2.json" \
    --puk-fd 3 --new-pin-fd 4 3<<<"$KYSO_TEST_PUK" 4<<<"$new_pin"
check "  naming the completion" grep -q "already done by record $done_id" "$TEST_LOG"
check "the token signs again, with the new PIN" sign "$new_pin" "$T/sig.2"
check_fails "  not with the old one" sign "$KYSO_TEST_PIN" "$T/sig.3"
# Locked again, and the PUK spent: the outcome is recorded, nothing else changes.
for i in $(seq 1 12); do
    [ "$(tries)" = 0 ] && break
    sign 00000000 "$T/wrong" >/dev/null 2>&1
done
kyso pin-reset request --parties "$parties" -o "$T/req2.json" >/dev/null &&
    kyso record register "$T/req2.json" >/dev/null
req2=$(jq -r .id "$T/req2.json")
for i in $(seq 1 12); do
    "$KYSO_BUILDDIR/tools/kyso" pin-reset perform --request "$req2" -o "$T/done-blocked.json" --puk-fd 3 \
        --new-pin-fd 4 3<<<"11112222" 4<<<"$new_pin" >"$T/blocked.out" 2>&1
    grep -q "PUK is blocked" "$T/blocked.out" && break
done
cat "$T/blocked.out" >>"$TEST_LOG"
check "wrong PUKs until it blocks: said, and the outcome recorded as the completion" bash -c "
    grep -q 'PUK is blocked' '$T/blocked.out' &&
    [ \"\$(jq -r '.details.request_id + \" \" + .details.outcome' '$T/done-blocked.json')\" = '$req2 puk_blocked' ] &&
    [ -e \"$reg/\$(jq -r .id '$T/done-blocked.json').json\" ]"
check "  the PIN is not changed: still locked" test "$(tries)" = 0
check "  status: done, puk_blocked" output_has "^$req2  .* DONE by .* \(puk_blocked\)" kyso pin-reset status "$req2"
check "the audit trail: lock-out, the request, the unblock, the completion, in order" \
    jq -se --arg r "$req" --arg d "$done_id" '
        (map(.event) | index("pin_locked")) as $lock
        | (to_entries | map(select(.value.event == "record" and (.value.detail | contains($r)))) | .[0].key) as $req
        | (to_entries | map(select(.value.event == "pin_unblock" and .value.outcome == "CKR_OK")) | .[0].key) as $unb
        | (to_entries | map(select(.value.event == "record" and (.value.detail | contains($d)))) | .[0].key) as $done
        | $lock != null and $lock < $req and $req < $unb and $unb < $done' "$KYSO_AUDIT_LOG"
check "the audit trail verifies" kyso audit verify --log "$KYSO_AUDIT_LOG" --key "$KYSO_AUDIT_KEY"
finish
