#!/bin/bash
# Short libFuzzer run of fuzz_edge_vgca over the edge-vgca-a seeds (see run-fuzz.sh);
# the sessions are longer than the other targets' inputs.
export KYSO_FUZZ_MAX_LEN=${KYSO_FUZZ_MAX_LEN:-65536}
exec "$(dirname "$0")/run-fuzz.sh" edge-vgca-a edge_vgca edge.dict
