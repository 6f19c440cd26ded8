/* BER-TLV trees of script bodies, for the edge mutator (edge_mutator.c):
 * a body is parsed leniently (what does not parse stays as raw bytes; a
 * primitive value that parses as TLV exactly is taken apart too), its
 * elements are mutated, and it is written back with the lengths of every
 * enclosing element recomputed, unless a mutation gave an element a wrong
 * length on purpose. Also the small helpers the mutator shares. */
#ifndef KYSO_TESTS_FUZZ_EDGE_TLV_TREE_H
#define KYSO_TESTS_FUZZ_EDGE_TLV_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Mutates data[0..size) in place into at most max_size bytes; returns the
 * new size (libFuzzer's LLVMFuzzerMutate, or the replay test's own). */
typedef size_t (*edge_byte_mutator)(uint8_t *data, size_t size, size_t max_size);

/* xorshift32: mutations repeat from libFuzzer's seed. */
struct edge_rng {
    uint32_t s;
};

static inline uint32_t edge_rng_next(struct edge_rng *r)
{
    uint32_t x = r->s ? r->s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->s = x;
    return x;
}

static inline size_t edge_rng_below(struct edge_rng *r, size_t n)
{
    return n ? edge_rng_next(r) % n : 0;
}

/* A growable output buffer; failed is sticky. */
struct edge_buf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
};
void edge_buf_put(struct edge_buf *b, const void *p, size_t n);
void edge_buf_byte(struct edge_buf *b, uint8_t c);
void edge_buf_free(struct edge_buf *b);

/* Buffers that live until a mutation is written out. */
#define EDGE_ARENA_SLOTS 8
struct edge_arena {
    void *p[EDGE_ARENA_SLOTS];
    size_t n;
};
uint8_t *edge_arena_alloc(struct edge_arena *a, size_t n);
void edge_arena_free(struct edge_arena *a);

struct edge_tree;
/* The tree points into body, which must outlive it. NULL: out of memory. */
struct edge_tree *edge_tree_parse(const uint8_t *body, size_t len);
void edge_tree_free(struct edge_tree *t);
void edge_tree_write(const struct edge_tree *t, struct edge_buf *out);
/* One or two element mutations; donor (may be NULL) is another body to
 * take elements from. New values live in the arena. */
void edge_tree_mutate(struct edge_tree *t, const uint8_t *donor, size_t donor_len, struct edge_rng *r,
                      struct edge_arena *a, edge_byte_mutator bytes);
/* The body is whole elements, up to its end or to 00 or FF padding (a
 * directory file, a complete answer; not a piece of a longer one). */
bool edge_tlv_is_structured(const uint8_t *body, size_t len);

/* Parses a body and writes it back with every length recomputed: a DER
 * body comes back unchanged (for tests). Returns the length written, or 0
 * if it did not fit in cap. */
size_t edge_tlv_rewrite(const uint8_t *body, size_t len, uint8_t *out, size_t cap);

#endif
