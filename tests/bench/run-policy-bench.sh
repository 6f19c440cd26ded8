#!/bin/bash
# What the rules cost a signature (numbers, not pass/fail), on kyso-vtoken:
# APDUs per 9C signature with every rule on (nd68-2024 as shipped, a
# cached CRL) beside the same with the rules weakened away, and the time
# of the policy decision itself (median, p99) with a cold and a warm CRL
# cache. Run inside tests/with-token by run-bench.sh.
set -euo pipefail
if [ -z "${KYSO_VTOKEN_CTL:-}" ]; then
    exec "$KYSO_SRCDIR/tests/with-token" --keys ec piv -- "$BASH" "$0"
fi
pki=$KYSO_TEST_PKI
conf=$KYSO_SYSTEM_CONF/kyso.conf
cert=$pki/person-an-sign-p256.pem
base=$(cat "$conf") # the test runs' development configuration
printf '%s\n[M1]\ncrl_required = yes\n' "$base" >"$conf"
"$KYSO_BUILDDIR/tests/bench/policy_bench" "rules on, no CRL cached (refused, M1)" "$cert"
# (the http:// distribution points of the test PKI have no server here)
"$KYSO_BUILDDIR/tools/kyso" crl update --timeout 1 --url "file://$pki/issuing-empty.crl.pem" >/dev/null 2>&1 || true
"$KYSO_BUILDDIR/tests/bench/policy_bench" "rules on, CRL cached (crl_required = yes)" "$cert"
printf '%s\n[M1]\ncheck_chain = no\ncheck_validity = no\nweaken = yes\n[M12]\nkey_usage = no\nweaken = yes\n' \
    "$base" >"$conf"
"$KYSO_BUILDDIR/tests/bench/policy_bench" "M1 and M12 weakened away" "$cert"
printf '%s\n[M1]\ncrl_required = yes\n' "$base" >"$conf"
"$KYSO_BUILDDIR/tests/bench/apdu_count" "PIV 9C P-256, rules on, CRL cached" ec
printf '%s\n[M1]\ncheck_chain = no\ncheck_validity = no\nweaken = yes\n[M12]\nkey_usage = no\nweaken = yes\n' \
    "$base" >"$conf"
"$KYSO_BUILDDIR/tests/bench/apdu_count" "PIV 9C P-256, M1 and M12 weakened away" ec
