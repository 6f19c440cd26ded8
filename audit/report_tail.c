/* One line per record, cleaned for a terminal (kyso audit tail; see
 * report.h). */
#include "config.h"

#include <string.h>

#include "audit/report_int.h"

/* ======================================================================
 * One line per record (kyso audit tail)
 * ====================================================================== */

struct sbuf {
    char *p;
    size_t cap, n;
};

static void sb_add(struct sbuf *b, const char *s)
{
    char tmp[1200];
    report_clean_text(s, tmp, sizeof(tmp));
    size_t l = strlen(tmp);
    if (b->n + l + 1 > b->cap)
        l = b->cap > b->n + 1 ? b->cap - b->n - 1 : 0;
    memcpy(b->p + b->n, tmp, l);
    b->n += l;
    b->p[b->n] = '\0';
}

size_t audit_record_summary(const struct audit_record *r, char *out, size_t outlen)
{
    struct sbuf b = { out, outlen, 0 };
    char ev[32];
    if (outlen == 0)
        return 0;
    out[0] = '\0';
    sb_add(&b, r->time);
    snprintf(ev, sizeof(ev), "  %-14s  ", r->event);
    sb_add(&b, ev);
    sb_add(&b, r->user ? r->user : "-");
    sb_add(&b, "/");
    sb_add(&b, r->program_name ? r->program_name : "-");
    sb_add(&b, "  ");
    if (r->has_cert) {
        sb_add(&b, r->cert_cn ? r->cert_cn : (r->cert_subject ? r->cert_subject : "?"));
        if (r->cert_title) {
            sb_add(&b, " (");
            sb_add(&b, r->cert_title);
            sb_add(&b, ")");
        }
    } else {
        sb_add(&b, "-");
    }
    if (r->token) {
        sb_add(&b, "  token ");
        sb_add(&b, r->token);
    }
    if (r->key) {
        sb_add(&b, "  key ");
        sb_add(&b, r->key);
    }
    if (r->mechanism) {
        sb_add(&b, "  ");
        sb_add(&b, r->mechanism);
    }
    sb_add(&b, "  ");
    sb_add(&b, r->outcome ? r->outcome : "-");
    if (r->rule) {
        sb_add(&b, "  rule ");
        sb_add(&b, r->rule);
    }
    if (r->detail) {
        sb_add(&b, "  — ");
        sb_add(&b, r->detail);
    }
    return b.n;
}
