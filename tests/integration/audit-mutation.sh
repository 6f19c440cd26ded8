#!/bin/bash
# The audit trail against random damage: thousands of single mutations of
# a log made by the real writer, each one found by the verifier (and a
# sample by `kyso audit verify`). See audit_mutation.c. No token needed.
. "$(dirname "$0")/lib.sh"
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}
# Under valgrind (about 40 times slower) 1200 mutations, 100 of each kind.
if [ "${KYSO_VALGRIND:-0}" = 1 ]; then export KYSO_MUTATIONS=${KYSO_MUTATIONS:-1200}; fi
run_checked "$KYSO_BUILDDIR/tests/integration/audit_mutation" --kyso "$KYSO_BUILDDIR/tools/kyso"
