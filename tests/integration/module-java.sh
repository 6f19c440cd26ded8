#!/bin/bash
# Java 17's SunPKCS11 never sends C_Login(CKU_CONTEXT_SPECIFIC): jarsigner
# on the government token under [M13] pin_every_signature, and with the
# PIV 9C key (PIN always), gets the PIN of every signature through
# pinentry (tests/pinentry-script), the jar verifies, and the signature is
# recorded.
. "$(dirname "$0")/lib.sh"
for tool in java javac jar jarsigner; do
    command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool not installed (openjdk-17-jdk-headless)"; exit 77; }
done
if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    rc=0
    echo "# vgca-chipdoc"
    "$KYSO_SRCDIR/tests/with-token" vgca-chipdoc -- "$BASH" "$0" vgca-chipdoc || rc=$?
    echo "# piv (RSA keys)"
    "$KYSO_SRCDIR/tests/with-token" --keys rsa piv -- "$BASH" "$0" piv || rc=$?
    exit "$rc"
fi
personality=$1
in_token "$personality"

T=$TEST_TMP
conf=$KYSO_SYSTEM_CONF/kyso.conf
pinentry=$KYSO_BUILDDIR/tests/pinentry-script
export DISPLAY=:99 # a prompt counts as possible (the scripted pinentry needs no display)
# The JVM handles SIGSEGV itself: the ASan runtime (client_env) must let it.
if [ -n "${LD_PRELOAD:-}" ]; then
    export ASAN_OPTIONS="handle_segv=0:allow_user_segv_handler=1:detect_leaks=0:${ASAN_OPTIONS:-}"
fi
printf '[M13]\npin_every_signature = yes\n[pinentry]\nprogram = %s\ntimeout = 10\n' "$pinentry" >>"$conf"
records() { jq -r "select(.event == \"$1\") | .event" "$KYSO_AUDIT_LOG" | grep -c . || true; }

printf 'name = kyso\nlibrary = %s\n' "$KYSO_MODULE" >"$T/kyso.cfg"
mkdir -p "$T/src" "$T/classes"
printf 'public class Hello { public static void main(String[] a) { System.out.println("signed hello"); } }\n' \
    >"$T/src/Hello.java"
( unset LD_PRELOAD; javac -d "$T/classes" "$T/src/Hello.java" && jar cfe "$T/hello.jar" Hello -C "$T/classes" . )
check "a jar to sign" test -s "$T/hello.jar"

ks=(-keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$T/kyso.cfg"
    -storepass "$KYSO_TEST_PIN")
keytool -list "${ks[@]}" >"$T/list" 2>&1
cat "$T/list" >>"$TEST_LOG"
# The government token has one key; on PIV the 9C one (its certificate's
# label names the digital signature).
alias=$(sed -n 's/, PrivateKeyEntry.*//p' "$T/list" | grep -m1 -i 'signature' ||
        sed -n 's/, PrivateKeyEntry.*//p' "$T/list" | head -n1)
check "$personality: keytool lists the key ($alias)" test -n "$alias"

S=$T/java.script
printf 'pin %s\n' "$KYSO_TEST_PIN" >"$S"
export KYSO_TEST_PINENTRY_SCRIPT=$S
s0=$(records sign)
check "$personality: jarsigner signs through SunPKCS11 and pinentry" \
    jarsigner "${ks[@]}" -sigalg SHA256withRSA -digestalg SHA-256 -signedjar "$T/signed.jar" "$T/hello.jar" "$alias"
check "  one prompt" test "$(grep -c '^GETPIN' "$S.log" 2>/dev/null)" = 1
check "  the description names the program (jarsigner's launcher)" grep -Eq 'The program (java|jarsigner) asks' "$S.log.desc"
echo "# description: $(tr '\n' ' ' <"$S.log.desc")"
check "  a sign record" test "$(records sign)" = $((s0 + 1))
check "jarsigner -verify passes" output_has '^jar verified' env -u LD_PRELOAD jarsigner -verify "$T/signed.jar"

# Cancelled: jarsigner fails, nothing signed.
printf 'cancel\n' >"$S"
rm -f "$S.pos" "$T/cancel.jar"
s0=$(records sign)
check_fails "cancelled: jarsigner fails" \
    jarsigner "${ks[@]}" -sigalg SHA256withRSA -digestalg SHA-256 -signedjar "$T/cancel.jar" "$T/hello.jar" "$alias"
check "  no signature recorded, no jar" bash -c "[ $(records sign) = $s0 ] && [ ! -s '$T/cancel.jar' ]"

finish
