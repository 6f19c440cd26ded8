#!/bin/bash
# Short libFuzzer run of fuzz_pkcs15 (see run-fuzz.sh).
exec "$(dirname "$0")/run-fuzz.sh" pkcs15
