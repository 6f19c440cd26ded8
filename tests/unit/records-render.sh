#!/bin/bash
# The printed record (records/render): the three samples of test-vectors/records
# and a hostile record as PDFs. Their text through pdftotext (every field,
# diacritics intact), the page size, and page 1 against the reference
# picture test-vectors/records/sample-*.png, compared tolerantly
# (tests/unit/pngdiff.py). KYSO_REGEN_REFERENCES=1 rewrites the references
# on purpose after a layout change; look at them before committing.
set -uo pipefail
SRC=${KYSO_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${KYSO_BUILDDIR:-$SRC}
VEC=$SRC/test-vectors/records
RENDER=$BUILD/tests/records_render
# fontconfig's and pango's process-wide caches are never freed (see the file).
export LSAN_OPTIONS="suppressions=$SRC/tests/unit/records-render.lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0
check() { # check DESCRIPTION COMMAND...
    local d=$1; shift
    if "$@" >"$TMP/out" 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $d"; sed 's/^/  /' "$TMP/out"; fi
}
# pdftotext -layout spreads justified lines and wraps long values: compare
# with every kind of space taken out of both sides.
# The heading's two columns come out of -layout interleaved line by line:
# what is not found there is looked for in reading order (TEXTFILE.raw)
# and in the left column alone (TEXTFILE.left).
has() { # has TEXTFILE STRING
    local want; want=$(printf '%s' "$2" | tr -d ' \n\t')
    [ -n "$want" ] || { echo "nothing to look for (an empty field?)"; return 1; }
    tr -d ' \n\t\f' <"$1" | grep -qF -- "$want" && return 0
    [ -f "$1.raw" ] && tr -d ' \n\t\f' <"$1.raw" | grep -qF -- "$want" && return 0
    [ -f "$1.left" ] && tr -d ' \n\t\f' <"$1.left" | grep -qF -- "$want" && return 0
    echo "missing in the PDF's text: $2"; return 1
}
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"r": r}))' "$@"; }

for s in pin-reset-request pin-reset-done handover loss revocation-request token-found off-premises \
    off-premises-return renewal-request; do
    rec=$VEC/sample-$s.json pdf=$TMP/$s.pdf
    check "$s: renders" "$RENDER" "$rec" "$pdf"
    [ -s "$pdf" ] || continue
    pdftotext -layout "$pdf" "$TMP/$s.txt"
    pdftotext "$pdf" "$TMP/$s.txt.raw"
    pdftotext -f 1 -l 1 -x 0 -y 0 -W 290 -H 170 "$pdf" "$TMP/$s.txt.left"  # the issuing body's column
    check "$s: A4" bash -c "pdfinfo '$pdf' | grep -q 'Page size: *595.276 x 841.89 pts'"
    check "$s: no temporary file left" bash -c "! ls '$TMP' | grep -q '$s.pdf\.'"
    for want in "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "Độc lập - Tự do - Hạnh phúc" "Nơi nhận" \
        "(Ký, ghi rõ họ tên)" "$(json "$rec" 'r["form"]["number"] or r["form"]["law"]')" "$(json "$rec" 'r["form"]["law"]')" \
        "$(json "$rec" 'r["title"]')" "Số: $(json "$rec" 'r["id"]')" "$(json "$rec" 'r["created"]["place"]')" \
        "$(json "$rec" 'r["agency"]["name"].upper()')" "$(json "$rec" 'r["agency"]["parent"].upper()')" \
        "$(json "$rec" 'r["integrity"]["sha256"]')" \
        "$(json "$rec" 'r["token"]["serial"]')" "$(json "$rec" 'r["token"]["manufacturer"]')" \
        "$(json "$rec" 'r["token"]["model"]')" "$(json "$rec" 'r["token"]["label"]')" \
        "$(json "$rec" 'next(r["details"][k] for k in ("reason", "request_id", "circumstances", "purpose", "report") if k in r["details"])')"; do
        check "$s: shows '$want'" has "$TMP/$s.txt" "$want"
    done
    n=$(json "$rec" 'len(r["certificates"])')
    for ((i = 0; i < n; i++)); do
        for f in 'subject"]["cn' serial issuer; do
            check "$s: certificate $i $f" has "$TMP/$s.txt" "$(json "$rec" "r[\"certificates\"][$i][\"$f\"]")"
        done
        check "$s: certificate $i fingerprint" has "$TMP/$s.txt" "$(json "$rec" "r['certificates'][$i]['sha256'].upper()")"
    done
    n=$(json "$rec" 'len(r["parties"])')
    for ((i = 0; i < n; i++)); do
        for f in name id_number position unit phone email 'id_issued"]["place'; do
            check "$s: party $i $f" has "$TMP/$s.txt" "$(json "$rec" "r[\"parties\"][$i][\"$f\"]")"
        done
    done
    pdftoppm -r 60 -gray -png -f 1 -l 1 -singlefile "$pdf" "$TMP/$s"
    if [ "${KYSO_REGEN_REFERENCES:-0}" = 1 ]; then
        cp "$TMP/$s.png" "$VEC/sample-$s.png" && echo "rewrote $VEC/sample-$s.png"
    fi
    check "$s: page 1 looks like the reference" python3 "$SRC/tests/unit/pngdiff.py" "$TMP/$s.png" "$VEC/sample-$s.png" 0.01
done
check "loss: where it was lost, the request made with it" bash -c "$(declare -f has); has '$TMP/loss.txt' 'Nhà khách tỉnh, phòng 204' && has '$TMP/loss.txt' 'KR-20260215-0a55e902'"
check "loss: the facts' source" has "$TMP/loss.txt" "theo biên bản đã đăng ký số KR-20260215-5e6f7a8b"
check "revocation-request: the case of Điều 17 in Vietnamese" has "$TMP/revocation-request.txt" "Thiết bị lưu khóa bí mật bị thất lạc"
check "token-found: the loss it closes" has "$TMP/token-found.txt" "Theo biên bản xác nhận thất lạc số: KR-20260215-0a55e901"
check "off-premises: the window" has "$TMP/off-premises.txt" "16/02/2026 17:00:00 (UTC+07:00)"
check "off-premises: the protection measures" has "$TMP/off-premises.txt" "cất trong túi niêm phong"
check "off-premises-return: the permission" has "$TMP/off-premises-return.txt" "KR-20260215-0ff00001"
check "renewal-request: what is asked, days left" bash -c "$(declare -f has); has '$TMP/renewal-request.txt' 'Gia hạn chứng thư số thêm 03 năm' && has '$TMP/renewal-request.txt' '45 ngày'"
check "handover: kind in Vietnamese" has "$TMP/handover.txt" "Thay đổi người quản lý, sử dụng thiết bị"
check "pin-reset-request: roles in Vietnamese" has "$TMP/pin-reset-request.txt" "Thủ trưởng cơ quan quản lý trực tiếp"
check "pin-reset-done: the outcome in Vietnamese" has "$TMP/pin-reset-done.txt" "Đã khôi phục (mở khóa) thiết bị"
check "pin-reset-done: the time taken against the deadline" has "$TMP/pin-reset-done.txt" "1 ngày làm việc (thời hạn 1 ngày làm việc: đúng hạn)"
check "pin-reset-request: a page number when more than one page" has "$TMP/pin-reset-request.txt" "Trang 1/"

# Hostile: markup, format characters and long strings in every string member.
python3 - "$VEC/sample-handover.json" "$TMP/hostile.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
evil = "<b>bold</b> & %s %n &amp; <span foreground='red'>x</span> \u202egnp.exe\u202c zero\u200bwidth "
def walk(o, key=None):
    if isinstance(o, dict):
        return {k: walk(v, k) for k, v in o.items()}
    if isinstance(o, list):
        return [walk(v) for v in o]
    if isinstance(o, str) and key not in ("schema", "kind", "role", "handover_kind"):
        return o + evil + "W" * 300
    return o
json.dump(walk(r), open(sys.argv[2], "w"), ensure_ascii=False)
PY
check "hostile: renders" "$RENDER" "$TMP/hostile.json" "$TMP/hostile.pdf"
if [ -s "$TMP/hostile.pdf" ]; then
    pdftotext "$TMP/hostile.pdf" "$TMP/hostile.txt"
    check "hostile: markup printed as text" has "$TMP/hostile.txt" "<b>bold</b> & %s %n &amp; <span foreground='red'>x</span>"
    check "hostile: a bidi override shown, not obeyed" has "$TMP/hostile.txt" "[U+202E]gnp.exe[U+202C]"
    check "hostile: a zero-width space shown" has "$TMP/hostile.txt" "zero[U+200B]width"
    check "hostile: long runs wrapped, whole" has "$TMP/hostile.txt" "$(printf 'W%.0s' $(seq 300))"
    check "hostile: A4" bash -c "pdfinfo '$TMP/hostile.pdf' | grep -q 'Page size: *595.276 x 841.89 pts'"
    # Nothing past the right margin (15 mm = 42.5 pt): the text's boxes.
    check "hostile: text inside the margins" bash -c "pdftotext -bbox '$TMP/hostile.pdf' - | python3 -c '
import re, sys
bad = [l for l in sys.stdin if (m := re.search(r\"xMin=\\\"([0-9.]+)\\\" yMin=\\\"[0-9.]+\\\" xMax=\\\"([0-9.]+)\\\"\", l))
       and (float(m.group(1)) < 85.0 or float(m.group(2)) > 595.276 - 42.5 + 0.5)]
print(*bad[:5]); sys.exit(1 if bad else 0)'"
fi

# Strict: the first missing member is named, and nothing is written.
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); del r["parties"][1]["id_number"]; json.dump(r, open(sys.argv[2], "w"))' \
    "$VEC/sample-handover.json" "$TMP/missing.json"
check "missing member refused" bash -c "! '$RENDER' '$TMP/missing.json' '$TMP/missing.pdf' 2>'$TMP/err' && grep -q 'parties\[1\].id_number' '$TMP/err' && ! ls '$TMP' | grep -q missing.pdf"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["certificates"][0]["key"]["bits"]="2048"; json.dump(r, open(sys.argv[2], "w"))' \
    "$VEC/sample-handover.json" "$TMP/badtype.json"
check "mistyped member refused" bash -c "! '$RENDER' '$TMP/badtype.json' '$TMP/badtype.pdf' 2>'$TMP/err' && grep -q 'certificates\[0\].key.bits' '$TMP/err'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
