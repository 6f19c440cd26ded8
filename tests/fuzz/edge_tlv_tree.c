/* BER-TLV trees of script bodies, for the mutator; see edge_tlv_tree.h. */
#include "config.h"

#include "tests/fuzz/edge_tlv_tree.h"

#include <stdlib.h>
#include <string.h>

#define MAX_NODES 1024
#define MAX_DEPTH 10

/* ---- output ---- */

void edge_buf_put(struct edge_buf *b, const void *p, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *d = realloc(b->p, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->p = d;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void edge_buf_byte(struct edge_buf *b, uint8_t c)
{
    edge_buf_put(b, &c, 1);
}

void edge_buf_free(struct edge_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

uint8_t *edge_arena_alloc(struct edge_arena *a, size_t n)
{
    if (a->n == EDGE_ARENA_SLOTS)
        return NULL;
    uint8_t *p = malloc(n ? n : 1);
    if (p)
        a->p[a->n++] = p;
    return p;
}

void edge_arena_free(struct edge_arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    a->n = 0;
}

/* ---- BER-TLV trees of bodies ---- */

struct node {
    uint8_t tag[4];
    uint8_t tag_len;          /* 0: raw bytes that did not parse */
    const uint8_t *content;   /* the value, or the raw bytes */
    size_t content_len;
    int first, last, next;    /* children (containers) and the next sibling */
    int depth;
    bool container;
    /* What a mutation changed. */
    bool drop;
    uint8_t copies;           /* written 1 + copies times */
    bool long_form;           /* the right length in a longer form */
    int len_delta;            /* a wrong length: the right one plus this */
    uint8_t odd_len[6];       /* a length field of its own (odd_len_n > 0) */
    uint8_t odd_len_n;
};

struct edge_tree {
    struct node nodes[MAX_NODES];
    size_t n;
};

static bool element(const uint8_t *p, size_t len, size_t *tl, size_t *ll, size_t *vl)
{
    if (len < 2 || p[0] == 0x00 || p[0] == 0xFF)
        return false; /* 00 and FF pad files: stop there */
    size_t t = 1;
    if ((p[0] & 0x1F) == 0x1F) {
        while (t < len && t < 3 && (p[t] & 0x80))
            t++; /* at most 4 tag bytes */
        if (t >= len || (p[t] & 0x80))
            return false;
        t++;
    }
    if (t >= len)
        return false;
    size_t l = 1, v = p[t];
    if (v > 0x83 || v == 0x80)
        return false;
    if (v > 0x80) {
        size_t k = v - 0x80;
        if (t + 1 + k > len)
            return false;
        v = 0;
        for (size_t i = 0; i < k; i++)
            v = v << 8 | p[t + 1 + i];
        l = 1 + k;
    }
    if (v > len - t - l)
        return false;
    /* A length one byte longer than it need be is written back so (the
     * node's long_form); a longer one cannot be: the bytes stay raw. */
    size_t shortest = v < 0x80 ? 1 : v <= 0xFF ? 2 : v <= 0xFFFF ? 3 : 4;
    if (l > shortest + 1 || (l == shortest + 1 && shortest > 2))
        return false;
    *tl = t;
    *ll = l;
    *vl = v;
    return true;
}

static bool fits_exactly(const uint8_t *p, size_t len)
{
    size_t tl, ll, vl;
    while (len > 0) {
        if (!element(p, len, &tl, &ll, &vl))
            return false;
        p += tl + ll + vl;
        len -= tl + ll + vl;
    }
    return true;
}

static int add_node(struct edge_tree *t, int parent, int depth)
{
    if (t->n == MAX_NODES)
        return -1;
    int i = (int)t->n++;
    struct node *nd = &t->nodes[i];
    memset(nd, 0, sizeof(*nd));
    nd->first = nd->last = nd->next = -1;
    nd->depth = depth;
    struct node *pa = &t->nodes[parent];
    if (pa->last >= 0)
        t->nodes[pa->last].next = i;
    else
        pa->first = i;
    pa->last = i;
    return i;
}

/* Parses siblings; what does not parse stays as one raw node. A value
 * that parses as TLV exactly is taken apart too (PIV's 53 wrapper is
 * primitive by its tag but holds TLVs). */
static void parse_siblings(struct edge_tree *t, const uint8_t *p, size_t len, int parent, int depth)
{
    while (len > 0) {
        size_t tl, ll, vl;
        bool ok = element(p, len, &tl, &ll, &vl);
        int i = add_node(t, parent, depth);
        if (i < 0)
            return;
        struct node *nd = &t->nodes[i];
        if (!ok || t->n == MAX_NODES) {
            nd->content = p;
            nd->content_len = len;
            return;
        }
        memcpy(nd->tag, p, tl);
        nd->tag_len = (uint8_t)tl;
        nd->content = p + tl + ll;
        nd->content_len = vl;
        nd->long_form = ll > (vl < 0x80 ? 1u : vl <= 0xFF ? 2u : 3u);
        if (depth < MAX_DEPTH && vl >= 2 && ((p[0] & 0x20) || fits_exactly(nd->content, vl))) {
            nd->container = true;
            parse_siblings(t, nd->content, vl, i, depth + 1);
        }
        p += tl + ll + vl;
        len -= tl + ll + vl;
    }
}

static void parse_tree(struct edge_tree *t, const uint8_t *body, size_t len)
{
    t->n = 1;
    memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
    t->nodes[0].first = t->nodes[0].last = t->nodes[0].next = -1;
    t->nodes[0].container = true;
    t->nodes[0].depth = -1;
    parse_siblings(t, body, len, 0, 0);
}

static void put_length(struct edge_buf *o, size_t len, bool long_form)
{
    if (len < 0x80 && !long_form) {
        edge_buf_byte(o, (uint8_t)len);
    } else if (len <= 0xFF && !(long_form && len > 0x7F)) {
        edge_buf_byte(o, 0x81);
        edge_buf_byte(o, (uint8_t)len);
    } else if (len <= 0xFFFF) {
        edge_buf_byte(o, 0x82);
        edge_buf_byte(o, (uint8_t)(len >> 8));
        edge_buf_byte(o, (uint8_t)len);
    } else {
        edge_buf_byte(o, 0x83);
        edge_buf_byte(o, (uint8_t)(len >> 16));
        edge_buf_byte(o, (uint8_t)(len >> 8));
        edge_buf_byte(o, (uint8_t)len);
    }
}

static void write_node(const struct edge_tree *t, int i, struct edge_buf *o);

static void write_children(const struct edge_tree *t, int i, struct edge_buf *o)
{
    for (int c = t->nodes[i].first; c >= 0; c = t->nodes[c].next)
        write_node(t, c, o);
}

static void write_node(const struct edge_tree *t, int i, struct edge_buf *o)
{
    const struct node *nd = &t->nodes[i];
    if (nd->drop)
        return;
    for (unsigned k = 0; k <= nd->copies; k++) {
        if (nd->tag_len == 0) {
            edge_buf_put(o, nd->content, nd->content_len);
            continue;
        }
        struct edge_buf inner = { 0 };
        const uint8_t *c = nd->content;
        size_t cl = nd->content_len;
        if (nd->container) {
            write_children(t, i, &inner);
            if (inner.failed)
                o->failed = true;
            c = inner.p;
            cl = inner.len;
        }
        edge_buf_put(o, nd->tag, nd->tag_len);
        if (nd->odd_len_n)
            edge_buf_put(o, nd->odd_len, nd->odd_len_n);
        else if (nd->len_delta)
            put_length(o, (size_t)((long)cl + nd->len_delta < 0 ? 0 : (long)cl + nd->len_delta), false);
        else
            put_length(o, cl, nd->long_form);
        edge_buf_put(o, c, cl);
        edge_buf_free(&inner);
    }
}

size_t edge_tlv_rewrite(const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    struct edge_tree *t = malloc(sizeof(*t));
    struct edge_buf o = { 0 };
    size_t n = 0;
    if (!t)
        return 0;
    parse_tree(t, body, len);
    write_children(t, 0, &o);
    if (!o.failed && o.len <= cap && o.len > 0) {
        memcpy(out, o.p, o.len);
        n = o.len;
    }
    edge_buf_free(&o);
    free(t);
    return n;
}

/* Tags of the card edges (PKCS#15 directories, PIV objects, ISO). */
static const uint8_t tag_words[][3] = {
    { 1, 0x30 }, { 1, 0x31 }, { 1, 0x04 }, { 1, 0x02 }, { 1, 0x03 }, { 1, 0x05 }, { 1, 0x06 }, { 1, 0x0C },
    { 1, 0x01 }, { 1, 0x0A }, { 1, 0x80 }, { 1, 0x81 }, { 1, 0x82 }, { 1, 0x83 }, { 1, 0x84 }, { 1, 0x85 },
    { 1, 0x86 }, { 1, 0xA0 }, { 1, 0xA1 }, { 1, 0xA2 }, { 1, 0xA3 }, { 1, 0xA4 }, { 1, 0xA5 }, { 1, 0xA6 },
    { 1, 0xA7 }, { 1, 0xA8 }, { 1, 0x61 }, { 1, 0x4F }, { 1, 0x50 }, { 1, 0x51 }, { 1, 0x53 }, { 1, 0x70 },
    { 1, 0x71 }, { 1, 0x7C }, { 1, 0x7A }, { 1, 0xFE }, { 1, 0xC1 }, { 1, 0x34 }, { 2, 0x7F, 0x49 },
    { 2, 0x5F, 0x2F }, { 2, 0xBF, 0x20 }, { 1, 0x1F }, { 1, 0x3F },
};

static const uint8_t small_values[][5] = {
    { 0 }, { 1, 0x00 }, { 1, 0xFF }, { 1, 0x80 }, { 1, 0x7F }, { 1, 0x01 }, { 2, 0x00, 0x80 }, { 2, 0xFF, 0xFF },
    { 2, 0x00, 0x00 }, { 2, 0x01, 0x00 }, { 4, 0x7F, 0xFF, 0xFF, 0xFF }, { 4, 0xFF, 0xFF, 0xFF, 0xFF },
};

/* Sizes just around the edges' limits (IDs 32, AIDs and paths 16, labels). */
static const uint16_t long_values[] = { 15, 16, 17, 31, 32, 33, 127, 128, 255, 256, 257, 512, 513 };

/* Elements (and runs of siblings) the edges parse, inserted whole: a
 * PKCS#15 path's index and length, booleans, references, PIV's CertInfo
 * and metadata, EF.DIR templates. */
static const uint8_t fragments[][16] = {
    { 6, 0x02, 0x01, 0x00, 0x80, 0x01, 0x7F },
    { 6, 0x02, 0x01, 0x7F, 0x80, 0x01, 0x01 },
    { 7, 0x02, 0x01, 0x00, 0x80, 0x02, 0x00, 0xFF },
    { 7, 0x02, 0x01, 0x00, 0x80, 0x02, 0x01, 0x00 },
    { 7, 0x02, 0x02, 0x00, 0x80, 0x80, 0x01, 0x10 },
    { 7, 0x02, 0x02, 0x00, 0xFF, 0x80, 0x01, 0x10 },
    { 8, 0x02, 0x03, 0x01, 0x00, 0x00, 0x80, 0x01, 0x01 },
    { 9, 0x02, 0x03, 0x00, 0xFF, 0xFF, 0x80, 0x02, 0x7F, 0xFF },
    { 3, 0x02, 0x01, 0x00 },
    { 3, 0x02, 0x01, 0xFF },
    { 4, 0x80, 0x02, 0x7F, 0xFF },
    { 3, 0x01, 0x01, 0xFF },
    { 2, 0x04, 0x00 },
    { 4, 0x04, 0x02, 0x70, 0x01 },
    { 6, 0x04, 0x04, 0x3F, 0x00, 0x70, 0x05 },
    { 6, 0x30, 0x04, 0x04, 0x02, 0x44, 0x01 },
    { 2, 0x30, 0x00 },
    { 2, 0xA1, 0x00 },
    { 4, 0x03, 0x02, 0x07, 0x80 },
    { 3, 0x0C, 0x01, 0x41 },
    { 2, 0x05, 0x00 },
    { 3, 0x71, 0x01, 0x01 },
    { 2, 0x70, 0x00 },
    { 2, 0xFE, 0x00 },
    { 4, 0x7C, 0x02, 0x82, 0x00 },
    { 3, 0x01, 0x01, 0x14 },
    { 4, 0x02, 0x02, 0x03, 0x01 },
    { 3, 0x03, 0x01, 0x01 },
    { 3, 0xC1, 0x01, 0x14 },
    { 4, 0x06, 0x02, 0x03, 0x03 },
    { 14, 0x61, 0x0C, 0x4F, 0x0A, 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x01, 0x4E, 0x58, 0x50, 0x30 },
    { 2, 0x4F, 0x00 },
};

/* A fragment as the next sibling of node i. */
static void insert_fragment(struct edge_tree *t, int i, struct edge_rng *r)
{
    if (t->n == MAX_NODES)
        return;
    const uint8_t *f = fragments[edge_rng_below(r, sizeof(fragments) / sizeof(fragments[0]))];
    int k = (int)t->n++;
    struct node *nd = &t->nodes[k];
    memset(nd, 0, sizeof(*nd));
    nd->first = nd->last = -1;
    nd->depth = t->nodes[i].depth;
    nd->content = f + 1; /* raw: written as it is */
    nd->content_len = f[0];
    nd->next = t->nodes[i].next;
    t->nodes[i].next = k;
}

static int pick_node(const struct edge_tree *t, struct edge_rng *r)
{
    if (t->n < 2)
        return -1;
    /* Shallow nodes as often as deep ones, or nearly every mutation would
     * land inside a certificate. */
    int max = 0;
    for (size_t i = 1; i < t->n; i++)
        if (t->nodes[i].depth > max)
            max = t->nodes[i].depth;
    int depth = (int)edge_rng_below(r, (size_t)(max < 4 ? max : 4) + 1);
    size_t count = 0;
    for (size_t i = 1; i < t->n; i++)
        count += t->nodes[i].depth == depth;
    size_t k = edge_rng_below(r, count);
    for (size_t i = 1; i < t->n; i++)
        if (t->nodes[i].depth == depth && k-- == 0)
            return (int)i;
    return 1 + (int)edge_rng_below(r, t->n - 1);
}

/* Serialises node i of t alone into the arena. */
static bool node_bytes(const struct edge_tree *t, int i, struct edge_arena *a, const uint8_t **p, size_t *len)
{
    struct edge_buf o = { 0 };
    write_node(t, i, &o);
    uint8_t *copy = o.failed ? NULL : edge_arena_alloc(a, o.len);
    if (copy && o.len)
        memcpy(copy, o.p, o.len);
    *p = copy;
    *len = o.len;
    edge_buf_free(&o);
    return copy != NULL;
}

static void mutate_node(struct edge_tree *t, int i, const uint8_t *donor, size_t donor_len, struct edge_rng *r,
                        struct edge_arena *a, edge_byte_mutator bytes)
{
    struct node *nd = &t->nodes[i];
    switch (edge_rng_below(r, 13)) {
    case 0: { /* a wrong length */
        static const int deltas[] = { 1, 2, 4, -1, -2, 127, 128, 256 };
        if (edge_rng_below(r, 3) == 0) {
            static const uint8_t odd[][6] = {
                { 1, 0x80 }, { 1, 0x84 }, { 3, 0x82, 0xFF, 0xFF }, { 1, 0xFF }, { 5, 0x84, 0, 0, 0, 1 }, { 1, 0x00 },
                { 4, 0x83, 0xFF, 0xFF, 0xFF },
            };
            size_t k = edge_rng_below(r, sizeof(odd) / sizeof(odd[0]));
            nd->odd_len_n = odd[k][0];
            memcpy(nd->odd_len, odd[k] + 1, nd->odd_len_n);
        } else {
            nd->len_delta = deltas[edge_rng_below(r, sizeof(deltas) / sizeof(deltas[0]))];
        }
        break;
    }
    case 1:
        nd->long_form = true;
        break;
    case 2: {
        if (nd->tag_len == 0)
            break;
        const uint8_t *w = tag_words[edge_rng_below(r, sizeof(tag_words) / sizeof(tag_words[0]))];
        memcpy(nd->tag, w + 1, w[0]);
        nd->tag_len = w[0];
        break;
    }
    case 3:
        nd->tag[0] ^= 0x20; /* primitive <-> constructed */
        break;
    case 4:
        nd->drop = true;
        break;
    case 5:
        nd->copies = (uint8_t)(1 + edge_rng_below(r, 2));
        break;
    case 6: { /* swap with the next sibling */
        int j = nd->next;
        if (j < 0)
            break;
        struct node x = t->nodes[i], y = t->nodes[j];
        int xn = x.next, yn = y.next;
        t->nodes[i] = y;
        t->nodes[i].next = xn;
        t->nodes[j] = x;
        t->nodes[j].next = yn;
        t->nodes[i].depth = t->nodes[j].depth = x.depth;
        break;
    }
    case 7: { /* an interesting value */
        nd->container = false;
        if (edge_rng_below(r, 2)) {
            const uint8_t *v = small_values[edge_rng_below(r, sizeof(small_values) / sizeof(small_values[0]))];
            nd->content = v + 1;
            nd->content_len = v[0];
        } else {
            size_t n = long_values[edge_rng_below(r, sizeof(long_values) / sizeof(long_values[0]))];
            uint8_t *v = edge_arena_alloc(a, n);
            if (!v)
                break;
            uint8_t fill = (uint8_t)edge_rng_next(r);
            for (size_t k = 0; k < n; k++)
                v[k] = fill == 0 ? (uint8_t)k : fill;
            nd->content = v;
            nd->content_len = n;
        }
        break;
    }
    case 8: { /* bytes mutated inside the value */
        const uint8_t *c = nd->content;
        size_t cl = nd->content_len;
        struct edge_buf inner = { 0 };
        if (nd->container) {
            write_children(t, i, &inner);
            c = inner.p;
            cl = inner.len;
        }
        size_t cap = cl * 2 + 16;
        uint8_t *v = inner.failed ? NULL : edge_arena_alloc(a, cap);
        if (v) {
            if (cl)
                memcpy(v, c, cl);
            else
                v[0] = (uint8_t)edge_rng_next(r);
            nd->content = v;
            nd->content_len = cl == 0 ? 1 : bytes(v, cl, cap);
            nd->container = false;
        }
        edge_buf_free(&inner);
        break;
    }
    case 10:
    case 11:
        insert_fragment(t, i, r);
        break;
    default: { /* another element here, from this body or another record's */
        const uint8_t *p = NULL;
        size_t len = 0;
        if (donor && donor_len > 0 && edge_rng_below(r, 2)) {
            struct edge_tree *u = malloc(sizeof(*u));
            if (u) {
                parse_tree(u, donor, donor_len);
                int j = pick_node(u, r);
                if (j > 0)
                    node_bytes(u, j, a, &p, &len);
                free(u);
            }
        } else {
            int j = pick_node(t, r);
            if (j > 0 && j != i)
                node_bytes(t, j, a, &p, &len);
        }
        if (p) {
            nd->tag_len = 0; /* written as it is */
            nd->container = false;
            nd->content = p;
            nd->content_len = len;
        }
        break;
    }
    }
}

struct edge_tree *edge_tree_parse(const uint8_t *body, size_t len)
{
    struct edge_tree *t = malloc(sizeof(*t));
    if (t)
        parse_tree(t, body, len);
    return t;
}

void edge_tree_free(struct edge_tree *t)
{
    free(t);
}

void edge_tree_write(const struct edge_tree *t, struct edge_buf *out)
{
    write_children(t, 0, out);
}

void edge_tree_mutate(struct edge_tree *t, const uint8_t *donor, size_t donor_len, struct edge_rng *r,
                      struct edge_arena *a, edge_byte_mutator bytes)
{
    int n = pick_node(t, r);
    for (size_t k = 0, times = 1 + edge_rng_below(r, 2); n > 0 && k < times; k++, n = pick_node(t, r))
        mutate_node(t, n, donor, donor_len, r, a, bytes);
}

bool edge_tlv_is_structured(const uint8_t *body, size_t len)
{
    size_t tl, ll, vl, n = 0;
    while (len > 0 && body[0] != 0x00 && body[0] != 0xFF) {
        if (!element(body, len, &tl, &ll, &vl))
            return false;
        body += tl + ll + vl;
        len -= tl + ll + vl;
        n++;
    }
    return n > 0;
}
