#!/bin/bash
# kyso-pkcs11.so through its API against kyso-vtoken: see module_api.c.
. "$(dirname "$0")/lib.sh"
in_token piv
# The program tests the API's mechanics, decrypting with the 9C key whose
# certificate is for signatures only: rule M12 is weakened for it (the
# rules have their own tests, policy-*.sh).
cat >>"$KYSO_SYSTEM_CONF/kyso.conf" <<'CONF'
[M12]
key_usage = no
weaken = yes
CONF
# The program loads the module itself, instrumented like it (no preload),
# and the module's leaks are reported (lib.sh turns that off for clients
# that are not ours).
unset LD_PRELOAD
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}
run_checked "$KYSO_BUILDDIR/tests/integration/module_api" "$KYSO_MODULE"
