/* What the builders of printed documents share (render_int.h): untrusted
 * text made into escaped markup that shows what it holds, times and the
 * place-and-date line the Vietnamese way, and the document's blocks. */
#include <config.h>

#include "records/render_int.h"

#include <ctype.h>
#include <glib.h>
#include <stdbool.h>
#include <string.h>

/* Characters that would not show, or would reorder what is around them. */
static bool hidden(gunichar c)
{
    if (c == '\n')
        return false;
    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029)
        return true;
    return g_unichar_type(c) == G_UNICODE_FORMAT;
}

char *rdoc_esc(const char *s)
{
    GString *out = g_string_sized_new(strlen(s) + 16);
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (hidden(c))
            g_string_append_printf(out, "[U+%04X]", (unsigned)c);
        else
            g_string_append_unichar(out, c);
    }
    char *e = g_markup_escape_text(out->str, (gssize)out->len);
    g_string_free(out, TRUE);
    return e;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

char *rdoc_fmt_time(const char *s)
{
    size_t n = strlen(s);
    if (n < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return g_strdup(s);
    if (n == 10)
        return g_strdup_printf("%.2s/%.2s/%.4s", s + 8, s + 5, s);
    if (n >= 19 && s[10] == 'T' && digits(s + 11, 2) && s[13] == ':' && digits(s + 14, 2) && s[16] == ':' &&
        digits(s + 17, 2)) {
        const char *z = s + 19;
        if (*z == '.')  /* fractions of a second are not printed */
            for (z++; isdigit((unsigned char)*z); z++)
                ;
        if (strcmp(z, "Z") == 0)
            return g_strdup_printf("%.2s/%.2s/%.4s %.8s (UTC)", s + 8, s + 5, s, s + 11);
        if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && digits(z + 1, 2) && z[3] == ':' && digits(z + 4, 2))
            return g_strdup_printf("%.2s/%.2s/%.4s %.8s (UTC%s)", s + 8, s + 5, s, s + 11, z);
    }
    return g_strdup(s);
}

char *rdoc_dateline(const char *place, const char *time)
{
    if (strlen(time) >= 10 && digits(time, 4) && time[4] == '-' && digits(time + 5, 2) && time[7] == '-' &&
        digits(time + 8, 2)) {
        int month = (time[5] - '0') * 10 + (time[6] - '0');
        int day = (time[8] - '0') * 10 + (time[9] - '0');
        if (month >= 1 && month <= 12 && day >= 1 && day <= 31)
            return g_strdup_printf("%s, ngày %02d tháng %0*d năm %.4s", place, day, month <= 2 ? 2 : 1, month, time);
    }
    return g_strdup_printf("%s, %s", place, time);
}

void rdoc_add(struct rdoc *d, enum rpara_style style, char *markup)
{
    if (d->nparas == d->cparas) {
        d->cparas = d->cparas ? d->cparas * 2 : 32;
        d->paras = g_renew(struct rpara, d->paras, d->cparas);
    }
    d->paras[d->nparas].style = style;
    d->paras[d->nparas].markup = markup;
    d->nparas++;
}

void rdoc_add_plain(struct rdoc *d, enum rpara_style style, const char *plain)
{
    rdoc_add(d, style, rdoc_esc(plain));
}

void rdoc_add_item(struct rdoc *d, const char *plain)
{
    char *e = rdoc_esc(plain);
    if (d->nparas && d->paras[d->nparas - 1].style == RP_ITEM) {
        char *prev = d->paras[d->nparas - 1].markup;
        d->paras[d->nparas - 1].markup = g_strconcat(prev, "\n", e, NULL);
        g_free(prev);
        g_free(e);
    } else {
        rdoc_add(d, RP_ITEM, e);
    }
}

void rdoc_add_sig(struct rdoc *d, const char *caption, const char *name)
{
    if (d->nsigs == d->csigs) {
        d->csigs = d->csigs ? d->csigs * 2 : 4;
        d->sigs = g_renew(struct rsig, d->sigs, d->csigs);
    }
    char *up = g_utf8_strup(caption, -1);
    d->sigs[d->nsigs].caption = rdoc_esc(up);
    d->sigs[d->nsigs].name = rdoc_esc(name);
    g_free(up);
    d->nsigs++;
}

void rdoc_free(struct rdoc *doc)
{
    g_free(doc->form);
    g_free(doc->parent);
    g_free(doc->body);
    g_free(doc->number);
    g_free(doc->dateline);
    g_free(doc->title);
    g_free(doc->plain_title);
    g_free(doc->footer);
    g_free(doc->footer2);
    g_free(doc->qr);
    for (size_t i = 0; i < doc->nparas; i++)
        g_free(doc->paras[i].markup);
    g_free(doc->paras);
    for (size_t i = 0; i < doc->nsigs; i++) {
        g_free(doc->sigs[i].caption);
        g_free(doc->sigs[i].name);
    }
    g_free(doc->sigs);
    for (size_t i = 0; i < doc->nrecipients; i++)
        g_free(doc->recipients[i]);
    memset(doc, 0, sizeof *doc);
}
