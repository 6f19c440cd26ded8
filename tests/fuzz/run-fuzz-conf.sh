#!/bin/bash
# Short libFuzzer run of fuzz_conf (see run-fuzz.sh).
exec "$(dirname "$0")/run-fuzz.sh" conf conf conf.dict
