/* libFuzzer target for pcsc/pkcs15.c.
 *
 * Runs every PKCS#15 parser over the input and checks properties that must
 * hold for every input: a documented result, entries that stay inside their
 * fields and the input, the same answer on a second run, the same entries
 * with padding appended, an error when the last byte of the content is cut
 * off, and P15_ERR_TOO_MANY consistent with the entry count. A violated
 * property aborts, which libFuzzer reports as a crash.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc/pkcs15.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

#define MAXOUT 24

enum kind { K_DIR, K_ODF, K_TOKEN, K_AODF, K_PRKDF, K_PUKDF, K_CDF, K_DODF, K_COUNT };

union entries {
    struct p15_app app[MAXOUT];
    struct p15_odf_entry odf[MAXOUT];
    struct p15_token_info ti[MAXOUT];
    struct p15_pin pin[MAXOUT];
    struct p15_private_key prk[MAXOUT];
    struct p15_public_key puk[MAXOUT];
    struct p15_certificate cert[MAXOUT];
    struct p15_data_object dobj[MAXOUT];
};

static int run(enum kind k, const uint8_t *b, size_t n, union entries *o, size_t max, size_t *count)
{
    int rc;

    switch (k) {
    case K_DIR:
        return p15_parse_dir(b, n, o->app, max, count);
    case K_ODF:
        return p15_parse_odf(b, n, o->odf, max, count);
    case K_TOKEN:
        rc = p15_parse_token_info(b, n, &o->ti[0]);
        *count = rc == P15_OK ? 1 : 0;
        return rc;
    case K_AODF:
        return p15_parse_aodf(b, n, o->pin, max, count);
    case K_PRKDF:
        return p15_parse_prkdf(b, n, o->prk, max, count);
    case K_PUKDF:
        return p15_parse_pukdf(b, n, o->puk, max, count);
    case K_CDF:
        return p15_parse_cdf(b, n, o->cert, max, count);
    case K_DODF:
        return p15_parse_dodf(b, n, o->dobj, max, count);
    default:
        abort();
    }
}

static void check_string(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    CHECK(n < cap);
    /* Valid UTF-8 (the parser's own check, restated loosely): no byte
     * C0, C1 or F5..FF, and no cut sequence at the end. */
    for (size_t i = 0; i < n; i++)
        CHECK((uint8_t)s[i] != 0xC0 && (uint8_t)s[i] != 0xC1 && (uint8_t)s[i] < 0xF5);
    if (n > 0) {
        size_t i = n - 1, cont = 0;
        while (i > 0 && ((uint8_t)s[i] & 0xC0) == 0x80) {
            i--;
            cont++;
        }
        uint8_t lead = (uint8_t)s[i];
        size_t need = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
        CHECK(cont == need || (lead < 0x80 && cont == 0));
    }
}

static void check_path(const struct p15_path *p)
{
    CHECK(p->len <= P15_PATH_MAX);
    if (p->has_range)
        CHECK(p->index <= 65535 && p->length <= 65535);
    else
        CHECK(p->index == 0 && p->length == 0);
}

static void check_direct(const uint8_t *d, size_t dlen, const uint8_t *b, size_t n)
{
    if (!d) {
        CHECK(dlen == 0);
        return;
    }
    CHECK(dlen >= 2 && d >= b && dlen <= n && d + dlen <= b + n);
}

static void check_entries(enum kind k, const union entries *o, size_t count, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < count; i++) {
        switch (k) {
        case K_DIR:
            CHECK(o->app[i].aid_len >= 1 && o->app[i].aid_len <= P15_AID_MAX);
            check_string(o->app[i].label, sizeof(o->app[i].label));
            check_path(&o->app[i].path);
            CHECK(!o->app[i].path.has_range);
            CHECK(o->app[i].has_path || o->app[i].path.len == 0);
            break;
        case K_ODF:
            CHECK(o->odf[i].type <= 8);
            check_path(&o->odf[i].path);
            break;
        case K_TOKEN:
            CHECK(o->ti[i].serial_len <= P15_SERIAL_MAX);
            CHECK(o->ti[i].has_serial || o->ti[i].serial_len == 0);
            check_string(o->ti[i].manufacturer, sizeof(o->ti[i].manufacturer));
            check_string(o->ti[i].label, sizeof(o->ti[i].label));
            CHECK(o->ti[i].flags <= 0xFFFFFFFFUL);
            break;
        case K_AODF:
            check_string(o->pin[i].label, sizeof(o->pin[i].label));
            CHECK(o->pin[i].auth_id_len <= P15_AUTH_ID_MAX && o->pin[i].obj_auth_id_len <= P15_AUTH_ID_MAX);
            CHECK(o->pin[i].pin_type >= 0 && o->pin[i].min_len >= 0 && o->pin[i].stored_len >= 0);
            CHECK(o->pin[i].max_len >= -1 && o->pin[i].reference >= 0);
            CHECK(o->pin[i].has_reference || o->pin[i].reference == 0);
            CHECK(o->pin[i].has_pad_char || o->pin[i].pad_char == 0);
            check_path(&o->pin[i].path);
            break;
        case K_PRKDF:
            check_string(o->prk[i].key.label, sizeof(o->prk[i].key.label));
            CHECK(o->prk[i].key.id_len <= P15_ID_MAX && o->prk[i].key.auth_id_len <= P15_AUTH_ID_MAX);
            CHECK(o->prk[i].key.type == P15_KEY_RSA || o->prk[i].key.type == P15_KEY_EC);
            CHECK((o->prk[i].key.type == P15_KEY_RSA) == (o->prk[i].key.modulus_bits > 0));
            CHECK(o->prk[i].key.has_path);
            check_path(&o->prk[i].key.path);
            break;
        case K_PUKDF:
            check_string(o->puk[i].key.label, sizeof(o->puk[i].key.label));
            CHECK(o->puk[i].key.id_len <= P15_ID_MAX);
            CHECK((o->puk[i].key.type == P15_KEY_RSA) == (o->puk[i].key.modulus_bits > 0));
            check_direct(o->puk[i].direct, o->puk[i].direct_len, b, n);
            CHECK(o->puk[i].key.has_path != (o->puk[i].direct != NULL));
            CHECK((o->puk[i].direct_form == P15_DIRECT_NONE) == (o->puk[i].direct == NULL));
            if (o->puk[i].direct_form == P15_DIRECT_SPKI)
                CHECK(o->puk[i].direct[0] == 0xA1);
            check_path(&o->puk[i].key.path);
            break;
        case K_CDF:
            check_string(o->cert[i].label, sizeof(o->cert[i].label));
            CHECK(o->cert[i].id_len <= P15_ID_MAX);
            check_direct(o->cert[i].direct, o->cert[i].direct_len, b, n);
            CHECK(o->cert[i].has_path != (o->cert[i].direct != NULL));
            if (o->cert[i].direct)
                CHECK(o->cert[i].direct[0] == 0x30);
            check_path(&o->cert[i].path);
            break;
        case K_DODF:
            check_string(o->dobj[i].label, sizeof(o->dobj[i].label));
            check_string(o->dobj[i].app_name, sizeof(o->dobj[i].app_name));
            CHECK(strnlen(o->dobj[i].app_oid, sizeof(o->dobj[i].app_oid)) < sizeof(o->dobj[i].app_oid));
            for (const char *c = o->dobj[i].app_oid; *c; c++)
                CHECK((*c >= '0' && *c <= '9') || *c == '.');
            check_direct(o->dobj[i].direct, o->dobj[i].direct_len, b, n);
            CHECK(o->dobj[i].has_path != (o->dobj[i].direct != NULL));
            check_path(&o->dobj[i].path);
            break;
        default:
            abort();
        }
    }
}

static bool same_key(const struct p15_key *a, const struct p15_key *b)
{
    return a->key_reference == b->key_reference && a->id_len == b->id_len && a->modulus_bits == b->modulus_bits &&
           a->usage == b->usage && strcmp(a->label, b->label) == 0;
}

/* Entries compared without the direct pointers, which depend on where the
 * input lies: the same offsets instead. */
static bool same_entries(enum kind k, const union entries *a, const uint8_t *ba, const union entries *b,
                         const uint8_t *bb, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const uint8_t *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        switch (k) {
        case K_DIR:
            if (a->app[i].aid_len != b->app[i].aid_len || strcmp(a->app[i].label, b->app[i].label) ||
                memcmp(a->app[i].aid, b->app[i].aid, a->app[i].aid_len) || a->app[i].path.len != b->app[i].path.len)
                return false;
            break;
        case K_ODF:
            if (a->odf[i].type != b->odf[i].type || a->odf[i].path.len != b->odf[i].path.len ||
                memcmp(a->odf[i].path.value, b->odf[i].path.value, a->odf[i].path.len) ||
                a->odf[i].path.index != b->odf[i].path.index || a->odf[i].path.length != b->odf[i].path.length)
                return false;
            break;
        case K_TOKEN:
            if (a->ti[i].version != b->ti[i].version || a->ti[i].flags != b->ti[i].flags ||
                a->ti[i].serial_len != b->ti[i].serial_len || strcmp(a->ti[i].label, b->ti[i].label) ||
                strcmp(a->ti[i].manufacturer, b->ti[i].manufacturer))
                return false;
            break;
        case K_AODF:
            if (a->pin[i].reference != b->pin[i].reference || a->pin[i].pin_flags != b->pin[i].pin_flags ||
                a->pin[i].stored_len != b->pin[i].stored_len || strcmp(a->pin[i].label, b->pin[i].label))
                return false;
            break;
        case K_PRKDF:
            if (!same_key(&a->prk[i].key, &b->prk[i].key))
                return false;
            break;
        case K_PUKDF:
            da = a->puk[i].direct, la = a->puk[i].direct_len, db = b->puk[i].direct, lb = b->puk[i].direct_len;
            if (!same_key(&a->puk[i].key, &b->puk[i].key) || a->puk[i].direct_form != b->puk[i].direct_form)
                return false;
            break;
        case K_CDF:
            da = a->cert[i].direct, la = a->cert[i].direct_len, db = b->cert[i].direct, lb = b->cert[i].direct_len;
            if (a->cert[i].id_len != b->cert[i].id_len || a->cert[i].authority != b->cert[i].authority ||
                strcmp(a->cert[i].label, b->cert[i].label))
                return false;
            break;
        case K_DODF:
            da = a->dobj[i].direct, la = a->dobj[i].direct_len, db = b->dobj[i].direct, lb = b->dobj[i].direct_len;
            if (strcmp(a->dobj[i].app_oid, b->dobj[i].app_oid) || strcmp(a->dobj[i].label, b->dobj[i].label))
                return false;
            break;
        default:
            abort();
        }
        if ((da == NULL) != (db == NULL) || la != lb || (da && da - ba != db - bb))
            return false;
    }
    return true;
}

static union entries o1, o2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *padded = malloc(size + 9);

    if (!padded)
        return 0;
    memcpy(padded, data, size);
    memset(padded + size, size % 2 ? 0xFF : 0x00, 9);

    for (int ki = 0; ki < K_COUNT; ki++) {
        enum kind k = (enum kind)ki;
        size_t c1 = 77, c2 = 77;
        int rc = run(k, data, size, &o1, MAXOUT, &c1);

        CHECK(rc == P15_OK || rc == P15_ERR_MALFORMED || rc == P15_ERR_TOO_MANY || rc == P15_ERR_UNSUPPORTED ||
              rc == P15_ERR_RANGE || rc == P15_ERR_DEPTH);
        CHECK(p15_strerror(rc) != NULL);
        if (rc == P15_OK || rc == P15_ERR_TOO_MANY) {
            CHECK(c1 <= MAXOUT);
            check_entries(k, &o1, c1, data, size);
        } else {
            CHECK(c1 == 0);
        }
        CHECK(rc != P15_ERR_TOO_MANY || c1 == MAXOUT);

        /* Deterministic. */
        CHECK(run(k, data, size, &o2, MAXOUT, &c2) == rc && c2 == c1);
        CHECK(same_entries(k, &o1, data, &o2, data, c1));

        /* Padding after a well-formed file changes nothing. (After a
         * truncated one it may complete the last element.) */
        if (rc == P15_OK || rc == P15_ERR_TOO_MANY) {
            c2 = 77;
            CHECK(run(k, padded, size + 9, &o2, MAXOUT, &c2) == rc && c2 == c1);
            CHECK(same_entries(k, &o1, data, &o2, padded, c1));
        }

        if (rc == P15_OK) {
            /* A smaller array: too many, with the first entries. */
            if (c1 > 0 && k != K_TOKEN) {
                c2 = 77;
                CHECK(run(k, data, size, &o2, c1 - 1, &c2) == P15_ERR_TOO_MANY && c2 == c1 - 1);
                CHECK(same_entries(k, &o1, data, &o2, data, c1 - 1));
            }
            /* The last byte of the content cut off: an error. */
            if (size > 0 && data[size - 1] != 0x00 && data[size - 1] != 0xFF) {
                c2 = 77;
                CHECK(run(k, data, size - 1, &o2, MAXOUT, &c2) == P15_ERR_MALFORMED && c2 == 0);
            }
        }
    }
    free(padded);
    return 0;
}
