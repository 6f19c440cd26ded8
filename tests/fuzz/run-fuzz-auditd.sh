#!/bin/bash
# Short libFuzzer run of fuzz_auditd with its dictionary (see run-fuzz.sh).
exec "$(dirname "$0")/run-fuzz.sh" auditd auditd auditd.dict
