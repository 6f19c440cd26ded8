#!/bin/bash
# Short libFuzzer run of fuzz_apdu (see run-fuzz.sh).
exec "$(dirname "$0")/run-fuzz.sh" apdu
