#!/bin/bash
# Short libFuzzer run of fuzz_record (see run-fuzz.sh).
exec "$(dirname "$0")/run-fuzz.sh" record
