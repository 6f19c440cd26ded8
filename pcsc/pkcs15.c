/* PKCS#15 / ISO/IEC 7816-15 structures: strict DER parsing; see pkcs15.h.
 *
 * The ASN.1 is read with a cursor over the elements of one constructed
 * value. Each structure is read component by component in the order of
 * its definition (opt/req), then the rest of it is skipped as extension
 * additions (rest), refusing any element whose tag is that of a component
 * the structure already had: such an element is a duplicate or out of
 * order. Tags of the tagged types (IMPLICIT TAGS, explicit for CHOICE and
 * for the parameters of PKCS15Object and ObjectValue):
 *
 *   PKCS15Object  30/[n] { CommonObjectAttributes 30, class attributes 30,
 *                          [0] subclass attributes OPTIONAL, [1] { type attributes } }
 *   ObjectValue   Path 30 | direct [0] { value } | [1] [2] protected | URL 13/16/[3]
 *   Path          30 { 04 path, 02 index OPTIONAL, 80 length OPTIONAL }
 *   ODF           [0]..[8] { Path }
 *   EF.DIR        61 { 4F aid, 50 label OPTIONAL, 51 path OPTIONAL, ... }
 */
#include "config.h"

#include "pcsc/pkcs15.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "pcsc/tlv.h"

/* Range of Path index and length (pkcs15-ub-index). */
#define P15_UB_INDEX 65535L
/* Bits of a BIT STRING that fit a flags value on every platform. */
#define P15_MAX_FLAG_BITS 32u

/* Elements of one constructed value (or of a whole file). */
struct cur {
    const uint8_t *p;
    size_t left;
    unsigned depth; /* nesting level of these elements: 1 at the top of a file */
};

static struct cur cur_in(const struct cur *c, const struct tlv *t)
{
    struct cur in = { t->value, t->len, c->depth + 1 };
    return in;
}

static size_t tag_bytes(uint32_t tag)
{
    return tlv_tag_size(tag);
}

static uint8_t tag_first(uint32_t tag)
{
    return (uint8_t)(tag >> (8 * (tag_bytes(tag) - 1)));
}

/* The tag without its constructed bit: class and number. */
static uint32_t tag_id(uint32_t tag)
{
    return tag & ~((uint32_t)0x20 << (8 * (tag_bytes(tag) - 1)));
}

static bool context_constructed(uint32_t tag)
{
    return (tag_first(tag) & 0xE0) == 0xA0;
}

/* DER rules for the identifier and length octets of an element that
 * tlv_next read from start. */
static bool der_header(const uint8_t *start, const struct tlv *t)
{
    size_t tn = tag_bytes(t->tag);
    uint8_t first = start[0];

    if (tn > 1) {
        /* High tag numbers: no leading 0x80 octet, and only for numbers
         * that do not fit the low form. */
        if (start[1] == 0x80)
            return false;
        uint32_t number = 0;
        for (size_t k = 1; k < tn; k++)
            number = (number << 7) | (start[k] & 0x7F);
        if (number < 31)
            return false;
    } else if ((first & 0xC0) == 0) {
        /* Universal class: SEQUENCE and SET (and the rare EXTERNAL,
         * EMBEDDED PDV, CHARACTER STRING) are constructed, everything else
         * is primitive; strings are never constructed in DER. */
        unsigned number = first & 0x1F;
        bool cons = number == 16 || number == 17 || number == 8 || number == 11 || number == 29;
        if (cons != t->constructed)
            return false;
    }
    /* Minimal length octets. */
    return (size_t)(t->value - start) == tn + tlv_length_size(t->len);
}

/* Reads the next element: 1 read, 0 end, < 0 error. */
static int next(struct cur *c, struct tlv *t)
{
    const uint8_t *start = c->p;
    int rc;

    if (c->left == 0)
        return 0;
    if (c->depth > P15_MAX_DEPTH)
        return P15_ERR_DEPTH;
    rc = tlv_next(&c->p, &c->left, t);
    if (rc != TLV_OK)
        return P15_ERR_MALFORMED;
    if (!der_header(start, t))
        return P15_ERR_MALFORMED;
    return 1;
}

/* Reads the next element if it has the given tag: 1 read, 0 absent (end or
 * another tag; nothing consumed), < 0 error. */
static int opt(struct cur *c, uint32_t tag, struct tlv *t)
{
    struct cur tmp = *c;
    int rc = next(&tmp, t);

    if (rc <= 0)
        return rc;
    if (t->tag != tag)
        return 0;
    *c = tmp;
    return 1;
}

/* As opt, for a required component. */
static int req(struct cur *c, uint32_t tag, struct tlv *t)
{
    int rc = opt(c, tag, t);

    return rc == 0 ? P15_ERR_MALFORMED : (rc < 0 ? rc : 0);
}

/* Checks that an element kyso does not interpret is well-formed DER, down
 * to P15_MAX_DEPTH. c is the cursor the element was read from. */
static int check(const struct cur *c, const struct tlv *t)
{
    struct cur in;
    struct tlv ch;
    int rc;

    if (!t->constructed)
        return 0;
    in = cur_in(c, t);
    while ((rc = next(&in, &ch)) == 1) {
        rc = check(&in, &ch);
        if (rc < 0)
            return rc;
    }
    return rc;
}

/* Skips the remaining elements of a structure (extension additions and
 * components kyso does not read), refusing tags in known[]. */
static int rest(struct cur *c, const uint32_t *known, size_t nknown)
{
    struct tlv t;
    int rc;

    while ((rc = next(c, &t)) == 1) {
        for (size_t k = 0; k < nknown; k++)
            if (tag_id(t.tag) == tag_id(known[k]))
                return P15_ERR_MALFORMED;
        rc = check(c, &t);
        if (rc < 0)
            return rc;
    }
    return rc;
}

#define REST(c, ...)                                                     \
    rest((c), (const uint32_t[]){ __VA_ARGS__ },                         \
         sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))

/* Requires the end of a structure that has no extension marker. */
static int end(struct cur *c)
{
    struct tlv t;
    int rc = next(c, &t);

    return rc == 0 ? 0 : (rc < 0 ? rc : P15_ERR_MALFORMED);
}

/* The single element inside an explicit tag. */
static int explicit_inner(const struct cur *c, const struct tlv *t, struct cur *in, struct tlv *inner)
{
    int rc;

    *in = cur_in(c, t);
    rc = next(in, inner);
    if (rc == 0)
        return P15_ERR_MALFORMED;
    if (rc < 0)
        return rc;
    return end(in);
}

/* ---- primitive values ---- */

static int get_int(const struct tlv *t, long min, long max, long *out)
{
    const uint8_t *v = t->value;
    unsigned long u;

    if (t->len == 0)
        return P15_ERR_MALFORMED;
    if (t->len > 1 && ((v[0] == 0x00 && !(v[1] & 0x80)) || (v[0] == 0xFF && (v[1] & 0x80))))
        return P15_ERR_MALFORMED;
    if (t->len > sizeof(long))
        return P15_ERR_RANGE;
    u = (v[0] & 0x80) ? ~0UL : 0UL;
    for (size_t i = 0; i < t->len; i++)
        u = (u << 8) | v[i];
    /* Two's complement: the value is negative when the sign bit is set. */
    long value = (v[0] & 0x80) ? -(long)(~u) - 1 : (long)u;
    if (value < min || value > max)
        return P15_ERR_RANGE;
    *out = value;
    return 0;
}

static int get_int_field(const struct tlv *t, int min, int *out)
{
    long v;
    int rc = get_int(t, min, INT_MAX, &v);

    if (rc == 0)
        *out = (int)v;
    return rc;
}

static int get_bool(const struct tlv *t, bool *out)
{
    if (t->len != 1 || (t->value[0] != 0x00 && t->value[0] != 0xFF))
        return P15_ERR_MALFORMED;
    *out = t->value[0] == 0xFF;
    return 0;
}

/* A BIT STRING of named bits: bit n (n-th from the most significant bit of
 * the first content octet) becomes 1UL << n. */
static int get_bits(const struct tlv *t, unsigned long *out)
{
    const uint8_t *v = t->value;
    unsigned long bits = 0;

    if (t->len == 0 || v[0] > 7 || (t->len == 1 && v[0] != 0))
        return P15_ERR_MALFORMED;
    if (t->len > 1 && (v[t->len - 1] & ((1u << v[0]) - 1)))
        return P15_ERR_MALFORMED; /* unused bits must be zero */
    for (size_t k = 1; k < t->len; k++) {
        if (v[k] == 0)
            continue;
        if ((k - 1) * 8 >= P15_MAX_FLAG_BITS)
            return P15_ERR_RANGE;
        for (unsigned b = 0; b < 8; b++)
            if (v[k] & (0x80u >> b))
                bits |= 1UL << ((k - 1) * 8 + b);
    }
    *out = bits;
    return 0;
}

static int get_octets(const struct tlv *t, uint8_t *dst, size_t cap, size_t *len)
{
    if (t->len > cap)
        return P15_ERR_RANGE;
    if (t->len)
        memcpy(dst, t->value, t->len);
    *len = t->len;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_char(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t cp, minimum;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
        minimum = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
        minimum = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* A UTF8String into dst (cap bytes with the NUL): checked, trailing NUL
 * bytes (fixed-size fields on some cards) dropped, a NUL inside refused,
 * cut at a character boundary if too long. */
static int get_utf8(const struct tlv *t, char *dst, size_t cap)
{
    const uint8_t *s = t->value;
    size_t n = t->len, i = 0, keep = 0;

    while (n > 0 && s[n - 1] == 0x00)
        n--;
    while (i < n) {
        if (s[i] == 0x00)
            return P15_ERR_MALFORMED;
        size_t cl = utf8_char(s + i, n - i);
        if (cl == 0)
            return P15_ERR_MALFORMED;
        i += cl;
        if (i <= cap - 1)
            keep = i;
    }
    memcpy(dst, s, keep);
    dst[keep] = '\0';
    return 0;
}

/* An OBJECT IDENTIFIER in dotted form; every arc must fit 32 bits. */
static int get_oid(const struct tlv *t, char *dst, size_t cap)
{
    const uint8_t *v = t->value;
    size_t pos = 0, i = 0;
    bool first = true;

    if (t->len == 0)
        return P15_ERR_MALFORMED;
    while (i < t->len) {
        uint64_t arc = 0;
        if (v[i] == 0x80)
            return P15_ERR_MALFORMED; /* not minimal */
        for (;;) {
            if (i >= t->len)
                return P15_ERR_MALFORMED; /* last octet has bit 8 set */
            uint8_t b = v[i++];
            arc = (arc << 7) | (b & 0x7F);
            if (arc > UINT32_MAX + 80ULL)
                return P15_ERR_RANGE;
            if (!(b & 0x80))
                break;
        }
        char part[32];
        int w;
        if (first) {
            unsigned top = arc < 40 ? 0 : arc < 80 ? 1 : 2;
            uint64_t second = arc - 40u * top;
            if (second > UINT32_MAX)
                return P15_ERR_RANGE;
            w = snprintf(part, sizeof(part), "%u.%lu", top, (unsigned long)second);
            first = false;
        } else {
            if (arc > UINT32_MAX)
                return P15_ERR_RANGE;
            w = snprintf(part, sizeof(part), ".%lu", (unsigned long)arc);
        }
        if (w < 0 || (size_t)w >= cap - pos)
            return P15_ERR_RANGE;
        memcpy(dst + pos, part, (size_t)w + 1);
        pos += (size_t)w;
    }
    return 0;
}

/* ---- shared structures ---- */

static int parse_path(const struct cur *c, const struct tlv *t, struct p15_path *out)
{
    struct cur in = cur_in(c, t);
    struct tlv v;
    long index = 0, length = 0;
    int rc, has_index, has_length;

    memset(out, 0, sizeof(*out));
    if ((rc = req(&in, 0x04, &v)) < 0 || (rc = get_octets(&v, out->value, P15_PATH_MAX, &out->len)) < 0)
        return rc;
    if ((has_index = opt(&in, 0x02, &v)) < 0)
        return has_index;
    if (has_index && (rc = get_int(&v, 0, P15_UB_INDEX, &index)) < 0)
        return rc;
    if ((has_length = opt(&in, 0x80, &v)) < 0)
        return has_length;
    if (has_length && (rc = get_int(&v, 0, P15_UB_INDEX, &length)) < 0)
        return rc;
    if (has_index != has_length)
        return P15_ERR_MALFORMED;
    out->has_range = has_index;
    out->index = (uint32_t)index;
    out->length = (uint32_t)length;
    /* The 7816-15 aid [APPLICATION 15] and later additions are skipped. */
    return REST(&in, 0x04, 0x02, 0x80);
}

/* CommonObjectAttributes. */
struct common {
    char label[P15_LABEL_MAX + 1];
    unsigned long flags;
    uint8_t auth_id[P15_AUTH_ID_MAX];
    size_t auth_id_len;
};

static int parse_common(struct cur *c, struct common *out)
{
    struct tlv t;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = opt(c, 0x0C, &t)) < 0 || (rc && (rc = get_utf8(&t, out->label, sizeof(out->label))) < 0))
        return rc;
    if ((rc = opt(c, 0x03, &t)) < 0 || (rc && (rc = get_bits(&t, &out->flags)) < 0))
        return rc;
    if ((rc = opt(c, 0x04, &t)) < 0 ||
        (rc && (rc = get_octets(&t, out->auth_id, P15_AUTH_ID_MAX, &out->auth_id_len)) < 0))
        return rc;
    /* userConsent, accessControlRules, ... */
    return REST(c, 0x0C, 0x03, 0x04);
}

/* CommonKeyAttributes. */
struct key_common {
    uint8_t id[P15_ID_MAX];
    size_t id_len;
    unsigned long usage, access_flags;
    bool native;
    int key_reference;
    bool has_key_reference;
};

static int parse_key_common(struct cur *c, struct key_common *out)
{
    struct tlv t;
    int rc;

    memset(out, 0, sizeof(*out));
    out->native = true;
    if ((rc = req(c, 0x04, &t)) < 0 || (rc = get_octets(&t, out->id, P15_ID_MAX, &out->id_len)) < 0)
        return rc;
    if ((rc = req(c, 0x03, &t)) < 0 || (rc = get_bits(&t, &out->usage)) < 0)
        return rc;
    if ((rc = opt(c, 0x01, &t)) < 0 || (rc && (rc = get_bool(&t, &out->native)) < 0))
        return rc;
    if ((rc = opt(c, 0x03, &t)) < 0 || (rc && (rc = get_bits(&t, &out->access_flags)) < 0))
        return rc;
    if ((rc = opt(c, 0x02, &t)) < 0)
        return rc;
    if (rc) {
        long v;
        if ((rc = get_int(&t, INT_MIN, INT_MAX, &v)) < 0)
            return rc;
        out->key_reference = (int)v;
        out->has_key_reference = true;
    }
    /* startDate, endDate [0], algReference [1], ... */
    return REST(c, 0x04, 0x03, 0x01, 0x02);
}

/* The parts of a PKCS15Object, each as a cursor over its content. */
struct object {
    struct cur common; /* CommonObjectAttributes */
    struct cur cls;    /* class attributes (CommonKey-, CommonCertificate-, ...) */
    struct cur type;   /* inside [1]: the type attributes element */
};

static int split_object(const struct cur *c, const struct tlv *t, struct object *o)
{
    struct cur in = cur_in(c, t);
    struct tlv e;
    int rc;

    if ((rc = req(&in, 0x30, &e)) < 0)
        return rc;
    o->common = cur_in(&in, &e);
    if ((rc = req(&in, 0x30, &e)) < 0)
        return rc;
    o->cls = cur_in(&in, &e);
    /* subClassAttributes (CommonPrivateKeyAttributes, ...): not used. */
    if ((rc = opt(&in, 0xA0, &e)) < 0 || (rc && (rc = check(&in, &e)) < 0))
        return rc;
    if ((rc = req(&in, 0xA1, &e)) < 0)
        return rc;
    o->type = cur_in(&in, &e);
    return end(&in);
}

/* The single SEQUENCE of the type attributes, as a cursor. */
static int type_sequence(struct object *o, struct cur *seq)
{
    struct cur in;
    struct tlv t;
    int rc;

    in = o->type;
    rc = next(&in, &t);
    if (rc == 0)
        return P15_ERR_MALFORMED;
    if (rc < 0)
        return rc;
    if (t.tag != 0x30)
        return P15_ERR_MALFORMED;
    *seq = cur_in(&in, &t);
    return end(&in);
}

/* ObjectValue: a Path, or (when direct is not NULL) the element inside
 * direct [0]. Protected and URL forms are unsupported. */
static int parse_value(struct cur *c, struct p15_path *path, bool *has_path, struct tlv *direct)
{
    struct tlv t, inner;
    struct cur in;
    int rc = next(c, &t);

    if (rc == 0)
        return P15_ERR_MALFORMED;
    if (rc < 0)
        return rc;
    switch (t.tag) {
    case 0x30:
        if ((rc = parse_path(c, &t, path)) < 0)
            return rc;
        *has_path = true;
        return 0;
    case 0xA0:
        if ((rc = explicit_inner(c, &t, &in, &inner)) < 0)
            return rc;
        if (!direct)
            return P15_ERR_UNSUPPORTED;
        /* The whole inner element: it is the only thing in [0]. */
        direct->tag = inner.tag;
        direct->constructed = inner.constructed;
        direct->value = t.value;
        direct->len = t.len;
        return 0;
    case 0xA1: /* indirect-protected */
    case 0xA2: /* direct-protected */
    case 0x13: /* url (PrintableString) */
    case 0x16: /* url (IA5String, 7816-15) */
    case 0xA3: /* urlWithDigest */
        if ((rc = check(c, &t)) < 0)
            return rc;
        return P15_ERR_UNSUPPORTED;
    default:
        return P15_ERR_MALFORMED;
    }
}

/* ---- directory files ---- */

/* Parses one top-level element t of a directory file into entry: 1 an
 * entry, 0 skipped, < 0 error. */
typedef int (*entry_fn)(const struct cur *c, const struct tlv *t, void *entry);

/* Reads the next top-level element; 0 at the end or at the start of
 * 00/FF padding, which must then fill the rest of the file. */
static int top_next(struct cur *c, struct tlv *t)
{
    if (c->left > 0 && (c->p[0] == 0x00 || c->p[0] == 0xFF)) {
        for (size_t i = 0; i < c->left; i++)
            if (c->p[i] != 0x00 && c->p[i] != 0xFF)
                return P15_ERR_MALFORMED;
        c->p += c->left;
        c->left = 0;
        return 0;
    }
    return next(c, t);
}

static int parse_df(const uint8_t *buf, size_t len, void *out, size_t size, size_t max,
                    size_t *count, void *tmp, entry_fn fn)
{
    struct cur c = { buf, len, 1 };
    struct tlv t;
    size_t n = 0;
    int rc;

    if (!count)
        return P15_ERR_ARGS;
    *count = 0;
    if ((!buf && len) || (!out && max))
        return P15_ERR_ARGS;
    while ((rc = top_next(&c, &t)) == 1) {
        memset(tmp, 0, size);
        rc = fn(&c, &t, tmp);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        if (n < max)
            memcpy((uint8_t *)out + n * size, tmp, size);
        n++;
    }
    if (rc < 0)
        return rc;
    if (n > max) {
        *count = max;
        return P15_ERR_TOO_MANY;
    }
    *count = n;
    return P15_OK;
}

/* Top-level elements of a directory file that are not of the kinds a
 * parser returns: other alternatives of the CHOICE (context-specific,
 * constructed) are skipped; anything else is an error. */
static int skip_other(const struct cur *c, const struct tlv *t)
{
    int rc;

    if (!context_constructed(t->tag))
        return P15_ERR_MALFORMED;
    rc = check(c, t);
    return rc < 0 ? rc : 0;
}

static int dir_entry(const struct cur *c, const struct tlv *t, void *entry)
{
    struct p15_app *app = entry;
    struct cur in;
    struct tlv e;
    int rc;

    if (t->tag != 0x61)
        return P15_ERR_MALFORMED;
    in = cur_in(c, t);
    if ((rc = req(&in, 0x4F, &e)) < 0 || (rc = get_octets(&e, app->aid, P15_AID_MAX, &app->aid_len)) < 0)
        return rc;
    if (app->aid_len == 0)
        return P15_ERR_RANGE;
    if ((rc = opt(&in, 0x50, &e)) < 0 || (rc && (rc = get_utf8(&e, app->label, sizeof(app->label))) < 0))
        return rc;
    if ((rc = opt(&in, 0x51, &e)) < 0)
        return rc;
    if (rc) {
        if ((rc = get_octets(&e, app->path.value, P15_PATH_MAX, &app->path.len)) < 0)
            return rc;
        app->has_path = true;
    }
    /* 52 command, 53/73 discretionary data, ... */
    if ((rc = REST(&in, 0x4F, 0x50, 0x51)) < 0)
        return rc;
    return 1;
}

int p15_parse_dir(const uint8_t *buf, size_t len, struct p15_app *out, size_t max, size_t *count)
{
    struct p15_app tmp;

    return parse_df(buf, len, out, sizeof(tmp), max, count, &tmp, dir_entry);
}

static int odf_entry(const struct cur *c, const struct tlv *t, void *entry)
{
    struct p15_odf_entry *e = entry;
    struct cur in;
    struct tlv inner;
    int rc;

    if (!context_constructed(t->tag) || t->tag > 0xA8)
        return skip_other(c, t);
    e->type = t->tag - 0xA0;
    if ((rc = explicit_inner(c, t, &in, &inner)) < 0)
        return rc;
    switch (inner.tag) {
    case 0x30:
        if ((rc = parse_path(&in, &inner, &e->path)) < 0)
            return rc;
        return 1;
    case 0xA0: /* objects */
    case 0xA1: /* indirect-protected */
    case 0xA2: /* direct-protected */
        if ((rc = check(&in, &inner)) < 0)
            return rc;
        return P15_ERR_UNSUPPORTED;
    default:
        return P15_ERR_MALFORMED;
    }
}

int p15_parse_odf(const uint8_t *buf, size_t len, struct p15_odf_entry *out, size_t max,
                  size_t *count)
{
    struct p15_odf_entry tmp;

    return parse_df(buf, len, out, sizeof(tmp), max, count, &tmp, odf_entry);
}

int p15_parse_token_info(const uint8_t *buf, size_t len, struct p15_token_info *out)
{
    struct cur top = { buf, len, 1 }, in;
    struct tlv t, e;
    int rc;

    if (!out || (!buf && len))
        return P15_ERR_ARGS;
    memset(out, 0, sizeof(*out));
    rc = top_next(&top, &t);
    if (rc == 0)
        return P15_ERR_MALFORMED;
    if (rc < 0)
        return rc;
    if (t.tag != 0x30)
        return P15_ERR_MALFORMED;
    /* Nothing but padding after it. */
    struct tlv after;
    if ((rc = top_next(&top, &after)) != 0)
        return rc < 0 ? rc : P15_ERR_MALFORMED;

    in = cur_in(&top, &t);
    if ((rc = req(&in, 0x02, &e)) < 0 || (rc = get_int(&e, LONG_MIN, LONG_MAX, &out->version)) < 0)
        goto fail;
    if ((rc = opt(&in, 0x04, &e)) < 0)
        goto fail;
    if (rc) {
        if ((rc = get_octets(&e, out->serial, P15_SERIAL_MAX, &out->serial_len)) < 0)
            goto fail;
        out->has_serial = true;
    }
    if ((rc = opt(&in, 0x0C, &e)) < 0 ||
        (rc && (rc = get_utf8(&e, out->manufacturer, sizeof(out->manufacturer))) < 0))
        goto fail;
    if ((rc = opt(&in, 0x80, &e)) < 0 || (rc && (rc = get_utf8(&e, out->label, sizeof(out->label))) < 0))
        goto fail;
    if ((rc = req(&in, 0x03, &e)) < 0 || (rc = get_bits(&e, &out->flags)) < 0)
        goto fail;
    /* seInfo, recordInfo [1], supportedAlgorithms [2], issuerId [3],
     * holderId [4], lastUpdate, preferredLanguage, ... */
    if ((rc = REST(&in, 0x02, 0x04, 0x0C, 0x80, 0x03)) < 0)
        goto fail;
    return P15_OK;
fail:
    memset(out, 0, sizeof(*out));
    return rc;
}

static int aodf_entry(const struct cur *c, const struct tlv *t, void *entry)
{
    struct p15_pin *pin = entry;
    struct object o;
    struct common com;
    struct cur seq;
    struct tlv e;
    int rc;

    if (t->tag != 0x30) /* biometricTemplate [0], authKey [1], external [2], ... */
        return skip_other(c, t);
    if ((rc = split_object(c, t, &o)) < 0 || (rc = parse_common(&o.common, &com)) < 0)
        return rc;
    memcpy(pin->label, com.label, sizeof(pin->label));
    pin->obj_flags = com.flags;
    memcpy(pin->obj_auth_id, com.auth_id, sizeof(pin->obj_auth_id));
    pin->obj_auth_id_len = com.auth_id_len;

    /* CommonAuthenticationObjectAttributes { authId, ... authReference,
     * seIdentifier [0] }. */
    if ((rc = req(&o.cls, 0x04, &e)) < 0 ||
        (rc = get_octets(&e, pin->auth_id, P15_AUTH_ID_MAX, &pin->auth_id_len)) < 0 ||
        (rc = REST(&o.cls, 0x04)) < 0)
        return rc;

    /* PinAttributes. */
    if ((rc = type_sequence(&o, &seq)) < 0)
        return rc;
    if ((rc = req(&seq, 0x03, &e)) < 0 || (rc = get_bits(&e, &pin->pin_flags)) < 0)
        return rc;
    if ((rc = req(&seq, 0x0A, &e)) < 0 || (rc = get_int_field(&e, 0, &pin->pin_type)) < 0)
        return rc;
    if ((rc = req(&seq, 0x02, &e)) < 0 || (rc = get_int_field(&e, 0, &pin->min_len)) < 0)
        return rc;
    if ((rc = req(&seq, 0x02, &e)) < 0 || (rc = get_int_field(&e, 0, &pin->stored_len)) < 0)
        return rc;
    pin->max_len = -1;
    if ((rc = opt(&seq, 0x02, &e)) < 0 || (rc && (rc = get_int_field(&e, 0, &pin->max_len)) < 0))
        return rc;
    if ((rc = opt(&seq, 0x80, &e)) < 0)
        return rc;
    if (rc) {
        if ((rc = get_int_field(&e, 0, &pin->reference)) < 0)
            return rc;
        pin->has_reference = true;
    }
    if ((rc = opt(&seq, 0x04, &e)) < 0)
        return rc;
    if (rc) {
        if (e.len != 1)
            return P15_ERR_RANGE;
        pin->pad_char = e.value[0];
        pin->has_pad_char = true;
    }
    if ((rc = opt(&seq, 0x18, &e)) < 0) /* lastPinChange: not used */
        return rc;
    if ((rc = opt(&seq, 0x30, &e)) < 0)
        return rc;
    if (rc) {
        if ((rc = parse_path(&seq, &e, &pin->path)) < 0)
            return rc;
        pin->has_path = true;
    }
    if ((rc = REST(&seq, 0x03, 0x0A, 0x02, 0x80, 0x04, 0x18, 0x30)) < 0)
        return rc;
    return 1;
}

int p15_parse_aodf(const uint8_t *buf, size_t len, struct p15_pin *out, size_t max, size_t *count)
{
    struct p15_pin tmp;

    return parse_df(buf, len, out, sizeof(tmp), max, count, &tmp, aodf_entry);
}

/* The parts of private and public key objects that are alike. */
/* Parses a key object, RSA (30) or EC ([0]), into *out; a public key
 * may have a direct value (*direct, else NULL there). */
static int parse_key_object(const struct cur *c, const struct tlv *t, struct p15_key *out, struct tlv *direct)
{
    struct object o;
    struct common com;
    struct key_common key;
    struct cur seq;
    struct tlv e;
    int rc;

    memset(out, 0, sizeof(*out));
    if (direct)
        memset(direct, 0, sizeof(*direct));
    out->type = t->tag == 0x30 ? P15_KEY_RSA : P15_KEY_EC;
    if ((rc = split_object(c, t, &o)) < 0 || (rc = parse_common(&o.common, &com)) < 0 ||
        (rc = parse_key_common(&o.cls, &key)) < 0 || (rc = type_sequence(&o, &seq)) < 0)
        return rc;
    if ((rc = parse_value(&seq, &out->path, &out->has_path, direct)) < 0)
        return rc;
    if (direct && direct->value) {
        /* RSAPublicKeyChoice / ECPublicKeyChoice: raw or [1] spki. */
        uint32_t raw = out->type == P15_KEY_RSA ? 0x30 : 0x04;
        if (direct->tag != raw && direct->tag != 0xA1)
            return P15_ERR_UNSUPPORTED;
    }
    if (out->type == P15_KEY_RSA) {
        long bits;
        if ((rc = req(&seq, 0x02, &e)) < 0 || (rc = get_int(&e, 1, LONG_MAX, &bits)) < 0)
            return rc;
        out->modulus_bits = (unsigned long)bits;
    }
    memcpy(out->label, com.label, sizeof(out->label));
    out->obj_flags = com.flags;
    memcpy(out->auth_id, com.auth_id, sizeof(out->auth_id));
    out->auth_id_len = com.auth_id_len;
    memcpy(out->id, key.id, sizeof(out->id));
    out->id_len = key.id_len;
    out->usage = key.usage;
    out->access_flags = key.access_flags;
    out->native = key.native;
    out->key_reference = key.key_reference;
    out->has_key_reference = key.has_key_reference;
    /* keyInfo (a reference INTEGER or a SEQUENCE) and extensions. */
    return rest(&seq, NULL, 0);
}

static int prkdf_entry(const struct cur *c, const struct tlv *t, void *entry)
{
    struct p15_private_key *pk = entry;
    int rc;

    if (t->tag != 0x30 && t->tag != 0xA0) /* DH [1], DSA [2], KEA [3], generic [4], ... */
        return skip_other(c, t);
    if ((rc = parse_key_object(c, t, &pk->key, NULL)) < 0)
        return rc;
    return 1;
}

int p15_parse_prkdf(const uint8_t *buf, size_t len, struct p15_private_key *out, size_t max,
                    size_t *count)
{
    struct p15_private_key tmp;

    return parse_df(buf, len, out, sizeof(tmp), max, count, &tmp, prkdf_entry);
}

static int pukdf_entry(const struct cur *c, const struct tlv *t, void *entry)
{
    struct p15_public_key *pk = entry;
    struct tlv direct;
    int rc;

    if (t->tag != 0x30 && t->tag != 0xA0) /* DH [1], DSA [2], KEA [3], ... */
        return skip_other(c, t);
    if ((rc = parse_key_object(c, t, &pk->key, &direct)) < 0)
        return rc;
    if (direct.value) {
        pk->direct = direct.value;
        pk->direct_len = direct.len;
        pk->direct_form = direct.tag == 0xA1 ? P15_DIRECT_SPKI : P15_DIRECT_RAW;
    }
    return 1;
}

int p15_parse_pukdf(const uint8_t *buf, size_t len, struct p15_public_key *out, size_t max,
                    size_t *count)
{
    struct p15_public_key tmp;

    return parse_df(buf, len, out, sizeof(tmp), max, count, &tmp, pukdf_entry);
}

static int cdf_entry(const struct cur *c, const struct tlv *t, void *entry)
{
    struct p15_certificate *cert = entry;
    struct object o;
    struct common com;
    struct cur seq;
    struct tlv e, direct = { 0 };
    int rc;

    if (t->tag != 0x30) /* attribute [0], spki [1], pgp [2], wtls [3], x9.68 [4], cv [5], ... */
        return skip_other(c, t);
    if ((rc = split_object(c, t, &o)) < 0 || (rc = parse_common(&o.common, &com)) < 0)
        return rc;
    memcpy(cert->label, com.label, sizeof(cert->label));
    cert->obj_flags = com.flags;
    memcpy(cert->auth_id, com.auth_id, sizeof(cert->auth_id));
    cert->auth_id_len = com.auth_id_len;

    /* CommonCertificateAttributes { iD, authority DEFAULT FALSE,
     * identifier, certHash [0], ..., trustedUsage [1], identifiers [2],
     * implicitTrust [3] }. */
    if ((rc = req(&o.cls, 0x04, &e)) < 0 || (rc = get_octets(&e, cert->id, P15_ID_MAX, &cert->id_len)) < 0)
        return rc;
    if ((rc = opt(&o.cls, 0x01, &e)) < 0 || (rc && (rc = get_bool(&e, &cert->authority)) < 0))
        return rc;
    if ((rc = REST(&o.cls, 0x04, 0x01)) < 0)
        return rc;

    /* X509CertificateAttributes { value, subject, issuer [0],
     * serialNumber, ... }. */
    if ((rc = type_sequence(&o, &seq)) < 0 ||
        (rc = parse_value(&seq, &cert->path, &cert->has_path, &direct)) < 0)
        return rc;
    if (direct.value) {
        if (direct.tag != 0x30)
            return P15_ERR_MALFORMED;
        cert->direct = direct.value;
        cert->direct_len = direct.len;
    }
    if ((rc = rest(&seq, NULL, 0)) < 0)
        return rc;
    return 1;
}

int p15_parse_cdf(const uint8_t *buf, size_t len, struct p15_certificate *out, size_t max,
                  size_t *count)
{
    struct p15_certificate tmp;

    return parse_df(buf, len, out, sizeof(tmp), max, count, &tmp, cdf_entry);
}

static int dodf_entry(const struct cur *c, const struct tlv *t, void *entry)
{
    struct p15_data_object *d = entry;
    struct object o;
    struct common com;
    struct tlv e, direct = { 0 };
    int rc;

    if (t->tag != 0x30) /* externalIDO [0], oidDO [1], ... */
        return skip_other(c, t);
    if ((rc = split_object(c, t, &o)) < 0 || (rc = parse_common(&o.common, &com)) < 0)
        return rc;
    memcpy(d->label, com.label, sizeof(d->label));
    d->obj_flags = com.flags;
    memcpy(d->auth_id, com.auth_id, sizeof(d->auth_id));
    d->auth_id_len = com.auth_id_len;

    /* CommonDataObjectAttributes { applicationName, applicationOID, ... }. */
    if ((rc = opt(&o.cls, 0x0C, &e)) < 0 || (rc && (rc = get_utf8(&e, d->app_name, sizeof(d->app_name))) < 0))
        return rc;
    if ((rc = opt(&o.cls, 0x06, &e)) < 0 || (rc && (rc = get_oid(&e, d->app_oid, sizeof(d->app_oid))) < 0))
        return rc;
    if ((rc = REST(&o.cls, 0x0C, 0x06)) < 0)
        return rc;

    /* [1] Opaque: the ObjectValue itself. */
    if ((rc = parse_value(&o.type, &d->path, &d->has_path, &direct)) < 0 || (rc = end(&o.type)) < 0)
        return rc;
    if (direct.value) {
        d->direct = direct.value;
        d->direct_len = direct.len;
    }
    return 1;
}

int p15_parse_dodf(const uint8_t *buf, size_t len, struct p15_data_object *out, size_t max,
                   size_t *count)
{
    struct p15_data_object tmp;

    return parse_df(buf, len, out, sizeof(tmp), max, count, &tmp, dodf_entry);
}

const char *p15_strerror(int rc)
{
    switch (rc) {
    case P15_OK:
        return "success";
    case P15_ERR_MALFORMED:
        return "malformed PKCS#15 structure";
    case P15_ERR_TOO_MANY:
        return "more PKCS#15 entries than expected";
    case P15_ERR_UNSUPPORTED:
        return "unsupported PKCS#15 form";
    case P15_ERR_RANGE:
        return "PKCS#15 value out of range";
    case P15_ERR_DEPTH:
        return "PKCS#15 structure nested too deeply";
    case P15_ERR_ARGS:
        return "invalid arguments";
    default:
        return "unknown PKCS#15 error";
    }
}
