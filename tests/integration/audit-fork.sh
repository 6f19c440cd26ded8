#!/bin/bash
# fork() while threads sign with the audit file sink: no child may hang on
# a lock a parent's thread held at the fork; every signature of parent and
# children has exactly one record and the log verifies. See audit_fork.c.
. "$(dirname "$0")/lib.sh"
# Under AddressSanitizer (GCC 12's libsanitizer) a child forked while
# another thread is in malloc may hang on the sanitizer's own allocator
# lock, which is not held across fork: that would fail this test for
# nothing of ours. It runs on the build without sanitizers (and with
# KYSO_VALGRIND=1).
if grep -q asan_init "$KYSO_MODULE" 2>/dev/null; then
    echo "SKIP: kyso-pkcs11.so is built with AddressSanitizer (see the comment in $0)"
    exit 77
fi
in_token piv
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}

bin=$KYSO_BUILDDIR/tests/integration
run_checked "$bin/audit_fork" "${KYSO_AUDIT_FORK_ROUNDS:-150}" "$TEST_TMP/parent.received" "$TEST_TMP/children.received" |
    tee -a "$TEST_LOG" | grep -v '^[0-9]* passed, [0-9]* failed$'
status=${PIPESTATUS[0]}
check "audit_fork: children and parent sign (see above)" test "$status" -eq 0
check "every signature (parent and children) has exactly one record; no gap" \
    "$bin/audit_logcheck" --exact --received "$TEST_TMP/parent.received" --received "$TEST_TMP/children.received" \
    "$KYSO_AUDIT_LOG"
check "kyso audit verify passes" "$KYSO_BUILDDIR/tools/kyso" audit verify --key "$KYSO_AUDIT_KEY"
finish
