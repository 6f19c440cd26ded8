#!/bin/bash
# The rules under root's configuration, through pkcs11-tool on the PIV
# token, with the audit trail at the host's kyso-auditd as a Mật profile
# demands: the signer's environment cannot switch the audit trail off,
# point it at a file or bring another configuration (refused, nothing
# returned, the refusal recorded with its rule); a configuration that is
# world-writable, unparsable, names an unknown profile or weakens a rule
# without "weaken = yes" refuses every signature and `kyso policy check`
# names the problem; M12 refuses a signature with a key-agreement key;
# M2 refuses key generation outside admin mode; M13 pin_every_signature
# makes every key ask for the PIN; the profiles' values show in
# `kyso policy show`.
. "$(dirname "$0")/lib.sh"
in_token piv
. "$(dirname "$0")/auditd_lib.sh"

conf=$KYSO_SYSTEM_CONF/kyso.conf
start_daemon main "$log" "$sock"
unset KYSO_AUDIT
strict() { # the profile, as shipped: nothing weakened
    printf 'profile = %s\n[audit]\nsink = daemon:%s\n' "${1:-nd68-2024}" "$sock" >"$conf"
    chmod 644 "$conf"
}
strict
echo "policy test data" >"$T/data"
sign_9a() { # OUT [ENV...]: one ECDSA signature with the 9A key
    local out=$1
    shift
    rm -f "$out"
    env "$@" LD_PRELOAD="$preload" ASAN_OPTIONS="$client_asan" pkcs11-tool --module "$KYSO_MODULE" -l \
        --pin "$KYSO_TEST_PIN" -s --id 01 -m ECDSA-SHA256 -i "$T/data" -o "$out"
}
last_refusal() { jq -r 'select(.event == "refusal") | .rule + " " + .outcome' "$log" | tail -n1; }
refusals() { jq -r 'select(.event == "refusal")' "$log" | grep -c '"event"' || true; }

check "strict nd68-2024: the 9A key signs" sign_9a "$T/sig.ok"
check "and the record is at the daemon" bash -c "jq -r .event '$log' | grep -qx sign"
check "kyso policy check: OK" output_has "configuration OK: profile nd68-2024, level Mật" "$kyso" policy check

# The signer's environment.
n=$(refusals)
check_fails "KYSO_AUDIT=off: refused" sign_9a "$T/sig.off" KYSO_AUDIT=off
check "  no signature returned" test ! -s "$T/sig.off"
check "  the refusal is recorded at the daemon, rule M13" bash -c "[ \"\$(jq -r 'select(.event==\"refusal\") | .rule' '$log' | tail -n1)\" = M13 ] && [ $(($n + 1)) -le \$(jq -r 'select(.event==\"refusal\")|.event' '$log' | grep -c .) ]"
touch "$T/mine.log"
chmod 666 "$T/mine.log"
check_fails "KYSO_AUDIT=file:(user-writable): refused" sign_9a "$T/sig.file" KYSO_AUDIT="file:$T/mine.log"
check "  no signature returned, the file untouched" bash -c "[ ! -s '$T/sig.file' ] && [ ! -s '$T/mine.log' ]"
check "  refusal rule M13" bash -c "[ \"\$(jq -r 'select(.event==\"refusal\") | .rule' '$log' | tail -n1)\" = M13 ]"
check_fails "KYSO_CONF=elsewhere: refused" sign_9a "$T/sig.conf" KYSO_CONF="$T/my.conf"
check "  refusal rule CONF" bash -c "[ \"\$(jq -r 'select(.event==\"refusal\") | .rule' '$log' | tail -n1)\" = CONF ]"
check "KYSO_AUDIT naming the system's own sink: signs" sign_9a "$T/sig.same" KYSO_AUDIT="daemon:$sock"

# Broken configurations: refused, and named by kyso policy check.
broken() { # NAME PATTERN: signing refused, policy check fails naming PATTERN
    check_fails "$1: signing refused" sign_9a "$T/sig.broken"
    check "$1: no signature" test ! -s "$T/sig.broken"
    check_fails "$1: kyso policy check fails" "$kyso" policy check
    check "$1: kyso policy check names it" bash -c "'$kyso' policy check | grep -q -- '$2'"
}
chmod 666 "$conf"
broken "world-writable kyso.conf" "writable by users other than root"
strict
printf 'profile = nd68-2024\n[audit\nsink = daemon:%s\n' "$sock" >"$conf"
broken "unparsable kyso.conf" "kyso.conf:2: not INI syntax"
printf 'profile = hanoi-2030\n[audit]\nsink = daemon:%s\n' "$sock" >"$conf"
broken "unknown profile" 'unknown profile "hanoi-2030"'
printf 'profile = nd68-2024\ncolour = blue\n[audit]\nsink = daemon:%s\n' "$sock" >"$conf"
broken "unknown key" 'kyso.conf:2: unknown key "colour"'
printf 'profile = nd68-2024\n[audit]\nsink = daemon:%s\n[M1]\ncheck_chain = no\n' "$sock" >"$conf"
broken "weakening without weaken = yes" "check_chain = no is weaker than profile nd68-2024"
printf 'profile = nd68-2024\n[audit]\nsink = daemon:%s\n[M1]\ncheck_chain = no\nweaken = yes\n' "$sock" >"$conf"
check "weakened with weaken = yes: signs" sign_9a "$T/sig.weak"
check "  kyso policy show marks it WEAKENED with its line" output_has 'check_chain += no +.*kyso.conf:5  WEAKENED' "$kyso" policy show
mkdir -p "$KYSO_SYSTEM_CONF/conf.d"
printf '[M13]\npin_every_signature = no\n' >"$KYSO_SYSTEM_CONF/conf.d/50-local.conf"
strict tien-giang-2015
check_fails "conf.d weakening Tối mật's PIN rule without weaken: refused" sign_9a "$T/sig.cd"
check "  policy check names the conf.d file and line" bash -c "'$kyso' policy check | grep -q '50-local.conf:2'"
rm -f "$KYSO_SYSTEM_CONF/conf.d/50-local.conf"

# M12: the 9D certificate is for key agreement, not signatures.
strict
rm -f "$T/sig.9d"
check_fails "M12: signing with the 9D key-agreement key refused" env LD_PRELOAD="$preload" ASAN_OPTIONS="$client_asan" \
    pkcs11-tool --module "$KYSO_MODULE" -l --pin "$KYSO_TEST_PIN" -s --id 03 -m ECDSA-SHA256 -i "$T/data" -o "$T/sig.9d"
check "  refusal rule M12, CKR_KEY_FUNCTION_NOT_PERMITTED" bash -c "[ \"\$(jq -r 'select(.event==\"refusal\") | .rule + \" \" + .outcome' '$log' | tail -n1)\" = 'M12 CKR_KEY_FUNCTION_NOT_PERMITTED' ]"

# M2: no key generation outside admin mode.
check_fails "M2: key generation refused" env LD_PRELOAD="$preload" ASAN_OPTIONS="$client_asan" \
    pkcs11-tool --module "$KYSO_MODULE" --login --login-type so --so-pin "$KYSO_TEST_MGM_KEY" \
    --keypairgen --key-type EC:prime256v1 --id 04
check "  refusal rule M2" bash -c "[ \"\$(jq -r 'select(.event==\"refusal\") | .rule' '$log' | tail -n1)\" = M2 ]"

# M13 pin_every_signature: every key asks for the PIN (CKA_ALWAYS_AUTHENTICATE).
printf 'profile = nd68-2024\n[audit]\nsink = daemon:%s\n[M13]\npin_every_signature = yes\n' "$sock" >"$conf"
access_9a() { # the Access line of the 9A private key
    LD_PRELOAD="$preload" ASAN_OPTIONS="$client_asan" pkcs11-tool --module "$KYSO_MODULE" -l --pin "$KYSO_TEST_PIN" \
        -O --type privkey | grep -A3 'ID: *01$' | grep 'Access:'
}
check "M13 pin_every_signature: 9A is always-authenticate" bash -c "$(declare -f access_9a); preload='$preload' client_asan='$client_asan' access_9a | grep -q 'always authenticate'"
check "  and still signs for a client that gives the PIN each time" sign_9a "$T/sig.every"
strict
check "default nd68-2024: 9A is not always-authenticate" bash -c "$(declare -f access_9a); preload='$preload' client_asan='$client_asan' access_9a | grep -v -q 'always authenticate'"

# The profiles as data.
strict an-giang-2016
check "policy show: an-giang-2016's renewal needs 60 days" output_has 'days left to renew +60' "$kyso" policy show
strict tien-giang-2015
check "policy show: tien-giang-2015 is Tối mật with the PIN every time" bash -c \
    "'$kyso' policy show | grep -q 'level Tối mật' && '$kyso' policy show | grep -Eq 'pin_every_signature += yes'"
strict ha-tinh-2020
check "policy show: ha-tinh-2020's loss record is Mẫu 15" output_has 'loss record +Mẫu 15' "$kyso" policy show

check "the audit trail verifies" verify --log "$log"
finish
