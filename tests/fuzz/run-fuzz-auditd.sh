#!/bin/bash
# Short libFuzzer run of fuzz_auditd (see run-fuzz.sh).
exec "$(dirname "$0")/run-fuzz.sh" auditd
