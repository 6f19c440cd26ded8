#!/bin/bash
# The pcsc/ layer against a real pcscd and kyso-vtoken: see pcsc_layer.c.
. "$(dirname "$0")/lib.sh"
in_token piv
run_checked "$KYSO_BUILDDIR/tests/integration/pcsc_layer"
