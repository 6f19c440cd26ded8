#!/bin/bash
# Short libFuzzer run of fuzz_tlv (see run-fuzz.sh).
exec "$(dirname "$0")/run-fuzz.sh" tlv
