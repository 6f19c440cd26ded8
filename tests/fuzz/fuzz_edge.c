/* libFuzzer targets of the token edges end to end: the input is the card's
 * side of a session (edge_harness.h), the edge code and pcsc/apdu.c are
 * the real ones. Built twice: EDGE_TARGET=EDGE_TARGET_PIV (fuzz_edge_piv)
 * and EDGE_TARGET_VGCA (fuzz_edge_vgca, both applet variants; the card's
 * answers pick one).
 *
 * A broken promise of the edge API (edge_result.violation) aborts, as do
 * ASan and UBSan findings; LeakSanitizer reports what a session leaks. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/edge_harness.h"
#include "tests/fuzz/edge_mutator.h"

#ifndef EDGE_TARGET
#error "EDGE_TARGET must be EDGE_TARGET_PIV or EDGE_TARGET_VGCA"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2, uint8_t *out,
                                 size_t max_out_size, unsigned int seed);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct edge_result res;
    edge_run(EDGE_TARGET, data, size, false, &res);
    if (res.violation) {
        fprintf(stderr, "edge %s: %s\n", res.edge ? res.edge : "(none)", res.violation);
        abort();
    }
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    return edge_mutate(data, size, max_size, seed, LLVMFuzzerMutate);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2, size_t size2, uint8_t *out,
                                 size_t max_out_size, unsigned int seed)
{
    return edge_cross_over(data1, size1, data2, size2, out, max_out_size, seed);
}
