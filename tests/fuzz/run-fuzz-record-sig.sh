#!/bin/bash
# Short libFuzzer run of fuzz_record_sig (see run-fuzz.sh): a signature with
# its chain is 5 KiB.
export KYSO_FUZZ_MAX_LEN=${KYSO_FUZZ_MAX_LEN:-8192}
exec "$(dirname "$0")/run-fuzz.sh" record-sig record_sig
