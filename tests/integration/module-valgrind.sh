#!/bin/bash
# kyso-pkcs11.so under valgrind inside a real client: pkcs11-tool lists,
# logs in, signs with every key and mechanism (--test) and signs with the
# always-authenticate key. Any invalid access, use of uninitialised
# memory, or definite/indirect leak whose stack passes through the module
# fails the test; the client's own findings are not ours and are ignored.
# Runs in the plain (valgrind) build; skipped in the sanitizer build.
. "$(dirname "$0")/lib.sh"
if grep -q asan_init "$KYSO_MODULE" 2>/dev/null; then
    echo "module built with sanitizers: valgrind runs in the plain build"
    exit 77
fi
command -v valgrind >/dev/null || { echo "valgrind missing (Debian package valgrind)"; exit 1; }
in_token --keys mixed piv

vg() { # LOG COMMAND...
    local log=$1
    shift
    valgrind --log-file="$log" --keep-debuginfo=yes --leak-check=full --show-leak-kinds=definite,indirect --num-callers=30 "$@"
}

# Prints the valgrind error and leak records whose stacks go through the
# module: its file name, or (the module is unloaded before the process
# ends, hence --keep-debuginfo) one of its functions. Blocks "indirectly
# lost" belong to a definitely lost one, which is reported if it is ours
# (OpenSSL's provider caches, first filled inside the module, hang off the
# client's own leaks).
ours='kyso-pkcs11\.so|: (C_[A-Za-z]+|p11_[a-z0-9_]+|pcsc_[a-z0-9_]+|token_[a-z0-9_]+|tlv_[a-z0-9_]+|piv_[a-z0-9_]+|rsa_(un)?pad_[a-z0-9_]+) \('
module_findings() {
    awk -v ours="$ours" '
        function flush() { if (rec ~ ours && rec !~ /still reachable|possibly lost|indirectly lost in/) print rec; rec = "" }
        /^==[0-9]+== *$/ { flush(); next }
        /^==[0-9]+== / { rec = rec $0 "\n" }
        END { flush() }
    ' "$1" | grep -v "^==[0-9]*== *\(HEAP\|LEAK\|ERROR\) SUMMARY" | grep -E "Invalid|uninitialised|Conditional|definitely|indirectly|Mismatched|overlap" -A30 || true
}
no_module_findings() {
    local found
    found=$(module_findings "$1")
    [ -z "$found" ] || { echo "$found" | head -60; return 1; }
}

printf 'valgrind\n' >"$TEST_TMP/data"
check "pkcs11-tool --test --login under valgrind" \
    vg "$TEST_TMP/test.vg" pkcs11-tool --module "$KYSO_MODULE" --test --login --pin "$KYSO_TEST_PIN"
check "no memory error or leak in the module (--test)" no_module_findings "$TEST_TMP/test.vg"
check "9C signature under valgrind" vg "$TEST_TMP/sign.vg" pkcs11-tool --module "$KYSO_MODULE" --login \
    --pin "$KYSO_TEST_PIN" --sign --id 02 -m SHA256-RSA-PKCS -i "$TEST_TMP/data" -o "$TEST_TMP/sig"
check "the signature verifies" verify_signature "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem" "$TEST_TMP/data" "$TEST_TMP/sig"
check "no memory error or leak in the module (sign)" no_module_findings "$TEST_TMP/sign.vg"
check "listing objects under valgrind" vg "$TEST_TMP/list.vg" pkcs11-tool --module "$KYSO_MODULE" -O --login \
    --pin "$KYSO_TEST_PIN"
check "no memory error or leak in the module (list)" no_module_findings "$TEST_TMP/list.vg"
finish
