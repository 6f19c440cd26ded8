/* A mutator for edge scripts (edge_harness.h) that keeps their framing: it
 * edits records (split into 61xx pieces, 6Cxx retries, duplicates, drops,
 * transport errors), status words, and the BER-TLV inside bodies, fixing
 * the lengths of the enclosing elements unless the mutation is a wrong
 * length on purpose. Plain byte mutations come from the caller (libFuzzer's
 * LLVMFuzzerMutate; the replay test passes a simple one), so the same code
 * runs under gcc. */
#ifndef KYSO_TESTS_FUZZ_EDGE_MUTATOR_H
#define KYSO_TESTS_FUZZ_EDGE_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/edge_tlv_tree.h"

/* Mutates the script data[0..size) in place into at most max_size bytes;
 * returns the new size. */
size_t edge_mutate(uint8_t *data, size_t size, size_t max_size, unsigned seed, edge_byte_mutator bytes);

/* The first records of a followed by the last ones of b (a's settings). */
size_t edge_cross_over(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint8_t *out, size_t max_size,
                       unsigned seed);

#endif
