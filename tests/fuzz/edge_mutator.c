/* Record- and TLV-aware mutations of edge scripts; see edge_mutator.h. */
#include "config.h"

#include "tests/fuzz/edge_mutator.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/edge_harness.h"
#include "tests/fuzz/edge_tlv_tree.h"

/* ---- records ---- */

struct record {
    const uint8_t *start;
    bool error;          /* a transport error: the two length bytes only */
    const uint8_t *body;
    size_t body_len;
    uint8_t sel, arg;    /* 90 00 when the record was cut short */
    uint8_t *sw_at;      /* where sel and arg are in the input, NULL if cut short */
};

struct script {
    uint8_t settings;
    struct record *recs;
    size_t n;
};

static bool parse_script(uint8_t *d, size_t size, struct script *s)
{
    memset(s, 0, sizeof(*s));
    if (size < EDGE_HEADER_LEN)
        return true;
    s->settings = d[0];
    size_t cap = (size - EDGE_HEADER_LEN) / 2 + 1;
    s->recs = calloc(cap, sizeof(*s->recs));
    if (!s->recs)
        return false;
    uint8_t *p = d + EDGE_HEADER_LEN;
    size_t left = size - EDGE_HEADER_LEN;
    while (left >= 2 && s->n < cap) {
        struct record *r = &s->recs[s->n++];
        size_t len = (size_t)p[0] << 8 | p[1];
        r->start = p;
        p += 2;
        left -= 2;
        if (len >= EDGE_LEN_FIRST_ERROR) {
            r->error = true;
            continue;
        }
        if (len > left)
            len = left;
        r->body = p;
        r->body_len = len;
        p += len;
        left -= len;
        r->sel = 0x90;
        r->arg = 0x00;
        if (left >= 2) {
            r->sw_at = p;
            r->sel = p[0];
            r->arg = p[1];
            p += 2;
            left -= 2;
        } else {
            left = 0;
        }
    }
    return true;
}

static void write_answer(struct edge_buf *o, const uint8_t *body, size_t len, uint8_t sel, uint8_t arg)
{
    if (len >= EDGE_LEN_FIRST_ERROR) {
        o->failed = true;
        return;
    }
    edge_buf_byte(o, (uint8_t)(len >> 8));
    edge_buf_byte(o, (uint8_t)len);
    edge_buf_put(o, body, len);
    edge_buf_byte(o, sel);
    edge_buf_byte(o, arg);
}

static void write_record(struct edge_buf *o, const struct record *r)
{
    if (r->error)
        edge_buf_put(o, r->start, 2);
    else
        write_answer(o, r->body, r->body_len, r->sel, r->arg);
}

/* ---- script mutations ---- */

static const uint16_t favourite_sw[] = {
    0x9000, 0x9000, 0x6100, 0x6C00, 0x6282, 0x6B00, 0x6A82, 0x6982, 0x6983, 0x63C0, 0x63C3, 0x6700, 0x6A88, 0x6D00,
    0x6A86, 0x6F00, 0x6883, 0x6881,
};

static void new_sw(struct record *rec, struct edge_rng *r)
{
    switch (edge_rng_below(r, 3)) {
    case 0: {
        uint16_t sw = favourite_sw[edge_rng_below(r, sizeof(favourite_sw) / sizeof(favourite_sw[0]))];
        rec->sel = (uint8_t)(sw >> 8);
        rec->arg = (uint8_t)sw;
        if (sw == 0x6100 || sw == 0x6C00)
            rec->arg = edge_rng_below(r, 2) ? (uint8_t)rec->body_len : (uint8_t)edge_rng_next(r);
        break;
    }
    case 1:
        rec->sel = (uint8_t)edge_rng_next(r);
        rec->arg = (uint8_t)edge_rng_next(r);
        break;
    default:
        rec->arg = (uint8_t)edge_rng_next(r);
        break;
    }
}

enum mutation {
    M_SW, M_BODY_BYTES, M_TLV, M_SPLIT, M_RETRY, M_DUP, M_DROP, M_SWAP, M_ERROR, M_CUT, M_COPY, M_SETTINGS, M_WHOLE,
};

/* Out of 100: the TLV inside bodies first, then status words and bodies. */
static enum mutation choose(struct edge_rng *r)
{
    static const struct {
        enum mutation m;
        unsigned weight;
    } table[] = {
        { M_TLV, 40 }, { M_SW, 14 }, { M_BODY_BYTES, 10 }, { M_SPLIT, 6 }, { M_RETRY, 3 }, { M_DUP, 4 },
        { M_DROP, 4 }, { M_SWAP, 3 }, { M_ERROR, 2 }, { M_CUT, 2 }, { M_COPY, 5 }, { M_SETTINGS, 4 },
        { M_WHOLE, 3 },
    };
    size_t x = edge_rng_below(r, 100);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (x < table[i].weight)
            return table[i].m;
        x -= table[i].weight;
    }
    return M_TLV;
}

static bool structured(const struct record *rec)
{
    return !rec->error && edge_tlv_is_structured(rec->body, rec->body_len);
}

/* A record with a body if one turns up in a few tries; mostly one that is
 * whole TLV: the middle of a certificate read in pieces matters less than
 * the directories and the objects. */
static size_t pick_body(const struct script *s, struct edge_rng *r)
{
    bool want_structured = edge_rng_below(r, 4) != 0;
    size_t i = edge_rng_below(r, s->n);
    for (int k = 0; k < 32; k++, i = edge_rng_below(r, s->n))
        if (!s->recs[i].error && s->recs[i].body_len > 0 && (!want_structured || structured(&s->recs[i])))
            break;
    return i;
}

static bool mutate_script(const struct script *s, enum mutation m, struct edge_rng *r, edge_byte_mutator bytes,
                          struct edge_buf *o)
{
    struct edge_arena a = { 0 };
    struct record changed;
    size_t at = edge_rng_below(r, s->n);
    bool ok = true;

    if (m == M_TLV || m == M_BODY_BYTES)
        at = pick_body(s, r);
    changed = s->recs[at];
    if (changed.error && m != M_DUP && m != M_DROP && m != M_SWAP && m != M_CUT && m != M_ERROR) {
        changed.error = false; /* an answer again */
        changed.body = NULL;
        changed.body_len = 0;
        changed.sel = 0x90;
        changed.arg = 0x00;
    }
    if (m == M_TLV && changed.body_len > 0) {
        struct edge_tree *t = edge_tree_parse(changed.body, changed.body_len);
        struct edge_buf body = { 0 };
        if (t) {
            const struct record *donor = &s->recs[edge_rng_below(r, s->n)];
            edge_tree_mutate(t, donor->error ? NULL : donor->body, donor->error ? 0 : donor->body_len, r, &a, bytes);
            edge_tree_write(t, &body);
            edge_tree_free(t);
        }
        uint8_t *copy = body.failed ? NULL : edge_arena_alloc(&a, body.len);
        if (copy) {
            if (body.len)
                memcpy(copy, body.p, body.len);
            changed.body = copy;
            changed.body_len = body.len;
        }
        ok = copy != NULL;
        edge_buf_free(&body);
    } else if (m == M_BODY_BYTES || m == M_TLV) {
        size_t cap = changed.body_len * 2 + 32;
        uint8_t *v = edge_arena_alloc(&a, cap);
        if (v && changed.body_len == 0) {
            v[0] = (uint8_t)edge_rng_next(r); /* an empty body gets its first byte */
            changed.body_len = 1;
            changed.body = v;
        } else if (v) {
            memcpy(v, changed.body, changed.body_len);
            changed.body_len = bytes(v, changed.body_len, cap);
            changed.body = v;
        }
        ok = v != NULL;
    } else if (m == M_SW) {
        new_sw(&changed, r);
    }

    edge_buf_byte(o, s->settings);
    for (size_t i = 0; i < s->n && ok; i++) {
        const struct record *rec = i == at ? &changed : &s->recs[i];
        if (i != at) {
            write_record(o, rec);
            continue;
        }
        switch (m) {
        case M_SPLIT: /* the first part now, the rest after GET RESPONSE */
            if (rec->body_len >= 2) {
                size_t k = 1 + edge_rng_below(r, rec->body_len - 1), rest = rec->body_len - k;
                write_answer(o, rec->body, k, 0x61, rest > 0xFF ? 0x00 : (uint8_t)rest);
                write_answer(o, rec->body + k, rest, rec->sel, rec->arg);
            } else {
                write_record(o, rec);
            }
            break;
        case M_RETRY: /* "wrong Le, send it again with this one" */
            write_answer(o, NULL, 0, 0x6C, (uint8_t)rec->body_len);
            write_record(o, rec);
            break;
        case M_DUP:
            write_record(o, rec);
            write_record(o, rec);
            break;
        case M_DROP:
            break;
        case M_SWAP:
            if (i + 1 < s->n) {
                write_record(o, &s->recs[i + 1]);
                write_record(o, rec);
                i++;
            } else {
                write_record(o, rec);
            }
            break;
        case M_ERROR: {
            uint16_t code = (uint16_t)(EDGE_LEN_FIRST_ERROR + edge_rng_below(r, 3));
            edge_buf_byte(o, (uint8_t)(code >> 8));
            edge_buf_byte(o, (uint8_t)code);
            write_record(o, rec);
            break;
        }
        case M_CUT:
            i = s->n;
            break;
        case M_COPY: /* another record's answer here */
            write_record(o, &s->recs[edge_rng_below(r, s->n)]);
            break;
        default:
            write_record(o, rec);
            break;
        }
    }
    edge_arena_free(&a);
    return ok && !o->failed;
}

/* When nothing else fits: a new status word in place, the size unchanged. */
static size_t sw_in_place(uint8_t *data, size_t size, const struct script *s, struct edge_rng *r)
{
    for (int k = 0; k < 16 && s->n > 0; k++) {
        struct record *rec = &s->recs[edge_rng_below(r, s->n)];
        if (rec->sw_at) {
            new_sw(rec, r);
            rec->sw_at[0] = rec->sel;
            rec->sw_at[1] = rec->arg;
            return size;
        }
    }
    if (size > 0)
        data[0] ^= (uint8_t)(1u << edge_rng_below(r, 7));
    return size;
}

size_t edge_mutate(uint8_t *data, size_t size, size_t max_size, unsigned seed, edge_byte_mutator bytes)
{
    struct edge_rng r = { seed };
    struct script s;
    struct edge_buf o = { 0 };

    if (size < EDGE_HEADER_LEN + 2) {
        /* Start a session: settings, one answer of 9000. */
        static const uint8_t start[] = { 0x00, 0x00, 0x00, 0x90, 0x00 };
        if (max_size < sizeof(start))
            return bytes(data, size, max_size);
        memcpy(data, start, sizeof(start));
        return sizeof(start);
    }
    enum mutation m = choose(&r);
    if (m == M_WHOLE)
        return bytes(data, size, max_size);
    if (m == M_SETTINGS) {
        data[0] ^= (uint8_t)(1u << edge_rng_below(&r, 7));
        return size;
    }
    if (!parse_script(data, size, &s))
        return size;
    if (s.n == 0) {
        free(s.recs);
        return bytes(data, size, max_size);
    }
    size_t n = size;
    if (mutate_script(&s, m, &r, bytes, &o) && o.len <= max_size && o.len > 0) {
        memcpy(data, o.p, o.len);
        n = o.len;
    } else {
        n = sw_in_place(data, size, &s, &r);
    }
    edge_buf_free(&o);
    free(s.recs);
    return n;
}

size_t edge_cross_over(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint8_t *out, size_t max_size,
                       unsigned seed)
{
    struct edge_rng r = { seed };
    struct script sa, sb;
    struct edge_buf o = { 0 };
    size_t n = 0;
    /* parse_script keeps pointers for in-place edits; nothing is edited here. */
    if (a_len < EDGE_HEADER_LEN || !parse_script((uint8_t *)a, a_len, &sa))
        return 0;
    if (!parse_script((uint8_t *)b, b_len, &sb)) {
        free(sa.recs);
        return 0;
    }
    size_t i = edge_rng_below(&r, sa.n + 1), j = edge_rng_below(&r, sb.n + 1);
    edge_buf_byte(&o, sa.settings);
    size_t whole = 1;
    for (size_t k = 0; k < i; k++) {
        write_record(&o, &sa.recs[k]);
        whole = o.len <= max_size ? o.len : whole;
    }
    for (size_t k = j; k < sb.n; k++) {
        write_record(&o, &sb.recs[k]);
        whole = o.len <= max_size ? o.len : whole;
    }
    if (!o.failed && max_size > 0) {
        n = whole; /* cut at the last record that fits */
        memcpy(out, o.p, n);
    }
    edge_buf_free(&o);
    free(sa.recs);
    free(sb.recs);
    return n;
}
