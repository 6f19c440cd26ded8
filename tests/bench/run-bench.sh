#!/bin/bash
# Benchmarks (numbers, not pass/fail): APDUs per step of kyso-pkcs11.so on
# kyso-vtoken: the government token and PIV (RSA-2048 and P-256 in 9C).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export KYSO_SRCDIR=${KYSO_SRCDIR:-$(cd "$here/../.." && pwd)}
export KYSO_BUILDDIR=${KYSO_BUILDDIR:-$KYSO_SRCDIR}
export KYSO_MODULE=${KYSO_MODULE:-$KYSO_BUILDDIR/pkcs11/.libs/kyso-pkcs11.so}
bench=$KYSO_BUILDDIR/tests/bench/apdu_count
"$KYSO_SRCDIR/tests/with-token" vgca-chipdoc -- "$bench" "government token B, RSA-2048" rsa
"$KYSO_SRCDIR/tests/with-token" --keys rsa piv -- "$bench" "PIV 9C RSA-2048" rsa
"$KYSO_SRCDIR/tests/with-token" --keys ec piv -- "$bench" "PIV 9C P-256" ec
"$here/run-policy-bench.sh"
