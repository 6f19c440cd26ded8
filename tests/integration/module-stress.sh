#!/bin/bash
# kyso-pkcs11.so under load and hot-plug: see module_stress.c.
. "$(dirname "$0")/lib.sh"
in_token piv
# The program loads the module itself, instrumented like it (no preload),
# and the module's leaks are reported (lib.sh turns that off for clients
# that are not ours).
unset LD_PRELOAD
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}
run_checked "$KYSO_BUILDDIR/tests/integration/module_stress" "$KYSO_MODULE"
