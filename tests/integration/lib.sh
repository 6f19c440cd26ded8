# Shared by the integration tests. A test sources this file, calls
# in_token to run itself inside tests/with-token, then records checks with
# check / check_fails and ends with finish, which prints the tally
# ("N passed, N failed") and sets the exit code.
set -uo pipefail

KYSO_SRCDIR=${KYSO_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KYSO_BUILDDIR=${KYSO_BUILDDIR:-$KYSO_SRCDIR}
export KYSO_SRCDIR KYSO_BUILDDIR

OPENSC_MODULE=${OPENSC_MODULE:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
YKCS11_MODULE=${YKCS11_MODULE:-/usr/lib/x86_64-linux-gnu/libykcs11.so}

# kyso-pkcs11.so as built.
KYSO_MODULE=${KYSO_MODULE:-$KYSO_BUILDDIR/pkcs11/.libs/kyso-pkcs11.so}
export KYSO_MODULE

# Under the sanitizers, clients that are not instrumented themselves need
# the ASan runtime preloaded to load the module (leaks of the clients are
# not ours to report: the API suite and valgrind look at the module's).
# Only the module's tests (module-*.sh) get it, inside the token, so that
# pcscd, kyso-vtoken and third-party modules run as they are.
client_env() {
    if grep -q asan_init "$KYSO_MODULE" 2>/dev/null; then
        LD_PRELOAD="$(gcc -print-file-name=libasan.so)${LD_PRELOAD:+:$LD_PRELOAD}"
        ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
        export LD_PRELOAD ASAN_OPTIONS
    fi
}

# Our own test programs run under valgrind when KYSO_VALGRIND=1 (a build
# without sanitizers): `run_checked PROGRAM ARGS...`.
run_checked() {
    if [ "${KYSO_VALGRIND:-0}" = 1 ]; then
        valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --num-callers=40 --suppressions="$KYSO_SRCDIR/tests/valgrind.supp" --track-fds=no "$@"
    else
        "$@"
    fi
}

tests_passed=0
tests_failed=0

# in_token [WITH-TOKEN OPTIONS] PERSONALITY: re-runs the calling test
# inside a private pcscd with a fresh virtual token.
in_token() {
    if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
        exec "$KYSO_SRCDIR/tests/with-token" "$@" -- "$BASH" "$0"
    fi
    case "$(basename "$0")" in module-*) client_env ;; esac
    TEST_TMP=$KYSO_WORKDIR/test
    mkdir -p "$TEST_TMP"
    TEST_LOG=$TEST_TMP/commands.log
    : >"$TEST_LOG"
}

# check NAME COMMAND...: COMMAND must succeed.
check() {
    local check_name=$1
    shift
    echo "== $check_name: $*" >>"$TEST_LOG"
    if "$@" >>"$TEST_LOG" 2>&1; then
        tests_passed=$((tests_passed + 1))
        echo "ok - $check_name"
    else
        tests_failed=$((tests_failed + 1))
        echo "not ok - $check_name"
        echo "   command: $*"
        tail -n 15 "$TEST_LOG" | sed 's/^/   | /'
    fi
}

# check_fails NAME COMMAND...: COMMAND must fail.
check_fails() {
    local check_name=$1
    shift
    echo "== $check_name (must fail): $*" >>"$TEST_LOG"
    if "$@" >>"$TEST_LOG" 2>&1; then
        tests_failed=$((tests_failed + 1))
        echo "not ok - $check_name (succeeded but must fail)"
        tail -n 15 "$TEST_LOG" | sed 's/^/   | /'
    else
        tests_passed=$((tests_passed + 1))
        echo "ok - $check_name"
    fi
}

# output_has PATTERN COMMAND...: COMMAND succeeds and prints PATTERN (ERE).
output_has() {
    local pattern=$1 out
    shift
    out=$("$@" 2>&1) || { echo "$out"; return 1; }
    echo "$out"
    grep -Eq -- "$pattern" <<<"$out"
}

# output_lacks PATTERN COMMAND...: COMMAND's output (exit code ignored)
# does not contain PATTERN.
output_lacks() {
    local pattern=$1 out
    shift
    out=$("$@" 2>&1)
    echo "$out"
    ! grep -Eq -- "$pattern" <<<"$out"
}

# verify_signature CERT.pem DATA SIG [DIGEST] [rsa|pss|ecdsa]: checks a
# signature with openssl against the certificate's public key.
verify_signature() {
    local cert=$1 data=$2 sig=$3 digest=${4:-sha256} kind=${5:-rsa}
    openssl x509 -in "$cert" -pubkey -noout >"$TEST_TMP/verify.pub" || return 1
    case $kind in
    pss) openssl dgst "-$digest" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
            -verify "$TEST_TMP/verify.pub" -signature "$sig" "$data" ;;
    *) openssl dgst "-$digest" -verify "$TEST_TMP/verify.pub" -signature "$sig" "$data" ;;
    esac
}

# fails_saying PATTERN COMMAND...: COMMAND fails and prints PATTERN (ERE;
# its lines joined by spaces).
fails_saying() {
    local pattern=$1 out
    shift
    if out=$("$@" 2>&1); then echo "$out"; echo "(succeeded)"; return 1; fi
    echo "$out"
    grep -Eq -- "$pattern" <<<"$(tr '\n' ' ' <<<"$out")"
}

# pdf_has PDF TEXT...: the PDF's text (pdftotext -layout, runs of blanks
# and lines joined) holds every TEXT.
pdf_has() {
    local pdf=$1 text t
    shift
    text=$(pdftotext -layout "$pdf" - | tr -s ' \n' ' ')
    for t in "$@"; do grep -qF -- "$t" <<<"$text" || { echo "missing in $pdf: $t"; return 1; }; done
}

# With two tokens (tests/with-token --second): pkcs11-tool through the
# module (not instrumented: it needs the ASan runtime to load it), the
# module's slot id of the token with serial SERIAL, and the serial kyso
# token status gives for the token in READER.
p11_module() ( client_env && pkcs11-tool --module "$KYSO_MODULE" "$@" )
slot_of() {
    p11_module -L 2>/dev/null | awk -v s="$1" '/^Slot [0-9]+ / { id = $2 } $1 == "serial" && $NF == s { print id; exit }'
}
status_serial() {
    "$KYSO_BUILDDIR/tools/kyso" token status | awk -v r="reader: $1" '$0 == r { on = 1; next } /^reader: / { on = 0 }
        on && /serial / { sub(/.*serial /, ""); sub(/,.*/, ""); print; exit }'
}

vtoken_ctl() {
    "$KYSO_VTOKEN" ctl --control "$KYSO_VTOKEN_CTL" "$@"
}

finish() {
    echo "$tests_passed passed, $tests_failed failed"
    [ "$tests_failed" -eq 0 ] && [ "$tests_passed" -gt 0 ]
}
