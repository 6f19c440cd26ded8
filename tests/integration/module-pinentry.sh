#!/bin/bash
# The PIN of a PIN-always key asked through pinentry, for clients that
# never send C_Login(CKU_CONTEXT_SPECIFIC): p11_context_free makes
# Firefox's TLS 1.3 calls (C_SignInit, C_SignUpdate x3, C_SignFinal) and
# tests/pinentry-script answers as the user would. On PIV 9C (RSA-PSS) and
# on the government token under [M13] pin_every_signature (PKCS#1 v1.5):
# a PIN from pinentry signs and the signature verifies (and is recorded);
# the description names the key and the holder; cancel, a hang, a wrong
# PIN, no display and no terminal, no pinentry configured each give their
# code; several signatures in a row ask once each.
. "$(dirname "$0")/lib.sh"

if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    rc=0
    echo "# piv (RSA keys)"
    "$KYSO_SRCDIR/tests/with-token" --keys rsa piv -- "$BASH" "$0" piv || rc=$?
    echo "# vgca-chipdoc"
    "$KYSO_SRCDIR/tests/with-token" vgca-chipdoc -- "$BASH" "$0" vgca-chipdoc || rc=$?
    exit "$rc"
fi
personality=$1
in_token "$personality"

T=$TEST_TMP
p11_preload=${LD_PRELOAD:-}
unset LD_PRELOAD
conf=$KYSO_SYSTEM_CONF/kyso.conf
pinentry=$KYSO_BUILDDIR/tests/pinentry-script
kyso=$KYSO_BUILDDIR/tools/kyso
export DISPLAY=:99 # a prompt counts as possible (the scripted pinentry needs no display)
unset WAYLAND_DISPLAY

check "the scripted pinentry is an absolute path" bash -c "case '$pinentry' in /*) test -x '$pinentry' ;; *) false ;; esac"

client() { LD_PRELOAD=$p11_preload run_checked "$KYSO_BUILDDIR/tests/integration/p11_context_free" --module "$KYSO_MODULE" "$@"; }
# script NAME LINE...: a fresh pinentry script, used by the next clients.
script() {
    local name=$1
    shift
    S=$T/$name.script
    rm -f "$S" "$S".*
    printf '%s\n' "$@" >"$S"
    export KYSO_TEST_PINENTRY_SCRIPT=$S
}
records() { jq -r "select(.event == \"$1\") | .event" "$KYSO_AUDIT_LOG" | grep -c . || true; }
last_refusal_is() { # PATTERN: the last refusal's "RULE OUTCOME DETAIL"
    local r
    r=$(jq -r 'select(.event == "refusal") | .rule + " " + .outcome + " " + .detail' "$KYSO_AUDIT_LOG" | tail -n1)
    echo "last refusal: $r"
    grep -Eq -- "$1" <<<"$r"
}
prompts() { grep -c '^GETPIN' "$S.log" 2>/dev/null || echo 0; }
tries() { "$kyso" token status 2>/dev/null | sed -n 's/.*PIN tries left: \([0-9]*\).*/\1/p' | head -n1; }

case $personality in
piv)
    id=02
    mech=sha256-rsa-pkcs-pss
    ;;
vgca-chipdoc)
    LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" -O >"$T/O" 2>&1
    id=$(sed -n '/Public Key Object/,/^[A-Z]/s/^  ID: *//p' "$T/O" | head -n1)
    mech=sha256-rsa-pkcs
    check "the key has an ID ($id)" test -n "$id"
    ;;
esac
sign() { client --login --id "$id" --mechanism "$mech" --no-children "$@" | tee "$T/last.out"; }
# How long the last C_SignFinal took (the call itself, not the client's start).
final_ms() { sed -n 's/^C_SignFinal: .* in \([0-9]*\) ms$/\1/p' "$T/last.out" | tail -n1; }

# Before any [pinentry]: refused at once, as without this feature.
if [ "$personality" = vgca-chipdoc ]; then
    printf '[M13]\npin_every_signature = yes\n' >>"$conf"
fi
script none "pin $KYSO_TEST_PIN"
check "no pinentry configured: CKR_USER_NOT_LOGGED_IN" sign --expect-rv CKR_USER_NOT_LOGGED_IN
check "  the scripted pinentry was never started" test ! -e "$S.log"
check "  an M13 refusal note says no prompt is possible" last_refusal_is '^M13 CKR_USER_NOT_LOGGED_IN .*no PIN prompt is possible'

printf '[pinentry]\nprogram = %s\ntimeout = 5\n' "$pinentry" >>"$conf"
check "kyso policy check accepts the configuration" "$kyso" policy check

# The holder's CN and the key's label, as the description must name them.
LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" --read-object --type cert --id "$id" -o "$T/cert.der" >/dev/null 2>&1
cn=$(openssl x509 -inform DER -in "$T/cert.der" -noout -subject -nameopt multiline,utf8,-esc_msb |
    sed -n 's/^ *commonName *= *//p' | head -n1)
LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" -l --pin "$KYSO_TEST_PIN" -O --type privkey >"$T/priv" 2>&1
label=$(awk -v id="$id" '/^Private Key Object/ { l = "" } /^  label:/ { sub(/^  label: */, ""); l = $0 } /^  ID:/ { if ($2 == id) { print l; exit } }' "$T/priv")
check "the holder ($cn) and the label ($label) are known" test -n "$cn" -a -n "$label"

s0=$(records sign)
script ok "pin $KYSO_TEST_PIN"
check "a PIN from pinentry: signs, the signature verifies" sign
check "  one prompt" test "$(prompts)" = 1
check "  a sign record" test "$(records sign)" = $((s0 + 1))
check "  the description names the key" grep -qF -- "$label" "$S.log.desc"
check "  the description names the holder" grep -qF -- "$cn" "$S.log.desc"
check "  the description names the program" grep -qF -- "p11_context_free" "$S.log.desc"
check "  the PIN was never sent to the pinentry" bash -c "! grep -v '^script: ' '$S.log' | grep -qF -- '$KYSO_TEST_PIN'"
echo "# description: $(head -c 400 "$S.log.desc" | tr '\n' ' ')"

s0=$(records sign)
script three "pin $KYSO_TEST_PIN" "pin $KYSO_TEST_PIN" "pin $KYSO_TEST_PIN"
check "three signatures in a row: each verifies" sign --count 3
check "  three prompts, one each" test "$(prompts)" = 3
check "  three sign records" test "$(records sign)" = $((s0 + 3))

s0=$(records sign)
script cancel cancel
check "cancel: CKR_FUNCTION_CANCELED" sign --expect-rv CKR_FUNCTION_CANCELED
echo "# cancel: C_SignFinal returned in $(final_ms) ms"
check "  an M13 refusal note names the cancel" last_refusal_is '^M13 CKR_FUNCTION_CANCELED .*cancelled'
check "  no signature recorded" test "$(records sign)" = "$s0"

script hang hang
check "hang: CKR_USER_NOT_LOGGED_IN" sign --expect-rv CKR_USER_NOT_LOGGED_IN
echo "# hang: C_SignFinal refused after $(final_ms) ms (timeout 5 s)"
check "  within the timeout (+1 s)" test "$(final_ms)" -le 6000
check "  an M13 refusal note names the timeout" last_refusal_is '^M13 CKR_USER_NOT_LOGGED_IN .*no answer'
check "  no pinentry left running" bash -c "! pgrep -f -- '$(dirname "$pinentry")/[p]inentry-script'"

script setsid "pin $KYSO_TEST_PIN"
check "no display and no terminal: CKR_USER_NOT_LOGGED_IN" \
    env -u DISPLAY -u WAYLAND_DISPLAY setsid -w "$BASH" -c "$(declare -f run_checked); LD_PRELOAD='$p11_preload' run_checked \"\$@\" | tee '$T/last.out'" \
    _ "$KYSO_BUILDDIR/tests/integration/p11_context_free" --module "$KYSO_MODULE" --login --id "$id" --mechanism "$mech" \
    --no-children --expect-rv CKR_USER_NOT_LOGGED_IN </dev/null
echo "# no display, no terminal: C_SignFinal refused in $(final_ms) ms"
check "  at once (under 1 s)" test "$(final_ms)" -lt 1000
check "  the scripted pinentry was never started" test ! -e "$S.log"

if [ "$personality" = piv ]; then
    before=$(tries)
    script wrong "pin 999999"
    check "a wrong PIN from pinentry: CKR_PIN_INCORRECT" sign --expect-rv CKR_PIN_INCORRECT
    after=$(tries)
    check "  the PIN retry counter went down by one ($before -> $after)" test "$after" = $((before - 1))
    check "  a pin_failure record" bash -c "jq -r .event '$KYSO_AUDIT_LOG' | grep -qx pin_failure"
    script right "pin $KYSO_TEST_PIN"
    check "then the right PIN signs" sign
fi

# The protected authentication path: C_Login without a PIN, the PIN
# through pinentry (pkcs11-tool --login without --pin on such a token).
printf '[pinentry]\nprotected_path = yes\n' >>"$conf"
p11tool() { LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" "$@"; }
check "protected_path: the token says so" bash -c "LD_PRELOAD='$p11_preload' pkcs11-tool --module '$KYSO_MODULE' -L | grep -q 'PIN pad present'"
echo "protected path data" >"$T/pp.data"
script pp "pin $KYSO_TEST_PIN" "pin $KYSO_TEST_PIN" "pin $KYSO_TEST_PIN"
if [ "$personality" = piv ]; then ppmech=SHA256-RSA-PKCS-PSS; else ppmech=SHA256-RSA-PKCS; fi
check "protected_path: pkcs11-tool --login with no PIN signs" p11tool --login -s --id "$id" -m "$ppmech" \
    -i "$T/pp.data" -o "$T/pp.sig"
check "  the PIN came through pinentry" test "$(prompts)" -ge 1
check "  the login prompt names the token" grep -q "asks for the PIN of the token" "$S.log"
script ppcancel cancel
check_fails "protected_path: cancelled, no login" p11tool --login -s --id "$id" -m "$ppmech" -i "$T/pp.data" \
    -o "$T/pp.sig2"
check "  no signature" test ! -s "$T/pp.sig2"

check "the audit trail verifies" "$kyso" audit verify --key "$KYSO_AUDIT_KEY"

finish
