/* The printed record: the blocks of render_doc.c on A4 pages through cairo
 * and pango, laid out as Nghị định 30/2020 Phụ lục I asks (FORMS.md
 * "Printing"). Laid out twice: a dry pass counts the pages (the footer says
 * "Trang 1/2"), the second draws; both measure with the same context, so
 * they break pages at the same places. */
#include <config.h>

#include "records/render.h"
#include "records/render_int.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <errno.h>
#include <limits.h>
#include <pango/pangocairo.h>
#include <qrencode.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MM(x) ((x) * 72.0 / 25.4)
#define PAGE_W 595.2756
#define PAGE_H 841.8898
/* Margins inside Phụ lục I's ranges: top/bottom 20–25, left 30–35, right 15–20 mm. */
#define M_TOP MM(20)
#define M_BOTTOM MM(20)
#define M_LEFT MM(30)
#define M_RIGHT MM(15)
#define TEXT_W (PAGE_W - M_LEFT - M_RIGHT)
#define FOOTER_H MM(17)
#define BODY_BOTTOM (PAGE_H - M_BOTTOM - FOOTER_H - MM(3))
#define FONT "Liberation Serif"
#define PARA_GAP 6.0  /* at least 6 pt between paragraphs */

enum { F_BOLD = 1, F_ITALIC = 2 };

struct lay {
    cairo_t *cr;
    const struct rdoc *doc;
    bool dry;
    int page, pages;
    double y;
    int max_lines;  /* header blocks cannot flow: bounded, ellipsized; 0 = none */
    char *why;
    size_t whylen;
};

/* Sizes are points on the page: pango's default of 96 dpi would print
 * "13 pt" as 17. */
static PangoLayout *layout_new(cairo_t *cr)
{
    PangoLayout *l = pango_cairo_create_layout(cr);
    pango_cairo_context_set_resolution(pango_layout_get_context(l), 72.0);
    pango_layout_context_changed(l);
    return l;
}

static PangoLayout *mk(struct lay *L, const char *markup, double size, int flags, double width,
                       PangoAlignment align, bool justify, double indent)
{
    PangoLayout *l = layout_new(L->cr);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, FONT);
    pango_font_description_set_size(fd, (gint)(size * PANGO_SCALE));
    pango_font_description_set_weight(fd, flags & F_BOLD ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_style(fd, flags & F_ITALIC ? PANGO_STYLE_ITALIC : PANGO_STYLE_NORMAL);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    pango_layout_set_width(l, (int)(width * PANGO_SCALE));
    /* Long strings without spaces (serials, hostile data) break anywhere
     * rather than run past the margin. */
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(l, align);
    pango_layout_set_justify(l, justify);
    pango_layout_set_indent(l, (int)(indent * PANGO_SCALE));
    if (justify || indent > 0)  /* body text: blocks of single lines keep their natural height */
        pango_layout_set_line_spacing(l, 1.15f);
    /* The markup is ours around escaped data (render_doc.c). */
    pango_layout_set_markup(l, markup, -1);
    /* No hyphen where a word is broken: the paper shows the data as it is. */
    PangoAttrList *al = pango_layout_get_attributes(l);
    al = al ? pango_attr_list_copy(al) : pango_attr_list_new();
    pango_attr_list_insert(al, pango_attr_insert_hyphens_new(FALSE));
    pango_layout_set_attributes(l, al);
    pango_attr_list_unref(al);
    /* Justifying a line that holds the start of a long unbroken run spreads
     * a few words over the width; such text is set ragged instead. */
    if (justify) {
        size_t run = 0;
        for (const char *p = pango_layout_get_text(l); *p; p++) {
            run = *p == ' ' || *p == '\n' ? 0 : run + 1;
            if (run > 40) {
                pango_layout_set_justify(l, false);
                break;
            }
        }
    }
    return l;
}

static double height(PangoLayout *l)
{
    int w, h;
    pango_layout_get_size(l, &w, &h);
    return (double)h / PANGO_SCALE;
}

static void show(struct lay *L, PangoLayout *l, double x, double y)
{
    if (L->dry)
        return;
    cairo_move_to(L->cr, x, y);
    pango_cairo_show_layout(L->cr, l);
}

static void rule(struct lay *L, double x0, double x1, double y, double w)
{
    if (L->dry)
        return;
    cairo_set_line_width(L->cr, w);
    cairo_move_to(L->cr, x0, y);
    cairo_line_to(L->cr, x1, y);
    cairo_stroke(L->cr);
}

/* Placed text that is one block: drawn at (x, y), its height returned. */
static double put(struct lay *L, const char *markup, double size, int flags, double x, double y, double width,
                  PangoAlignment align)
{
    PangoLayout *l = mk(L, markup, size, flags, width, align, false, 0);
    if (L->max_lines > 0) {
        pango_layout_set_height(l, -L->max_lines);
        pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    }
    double h = height(l);
    show(L, l, x, y);
    g_object_unref(l);
    return h;
}

/* A heading line too long for its column, wrapped into lines of even length
 * ("ỦY BAN NHÂN DÂN / TỈNH BẮC NINH", not "… TỈNH BẮC / NINH"). */
static double put_balanced(struct lay *L, const char *markup, double size, int flags, double x, double y, double w)
{
    PangoLayout *l = mk(L, markup, size, flags, w, PANGO_ALIGN_CENTER, false, 0);
    if (L->max_lines > 0) {
        pango_layout_set_height(l, -L->max_lines);
        pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    }
    int lines = pango_layout_get_line_count(l);
    for (double bw = w / 2; lines > 1 && bw < w; bw += 2) {
        pango_layout_set_width(l, (int)(bw * PANGO_SCALE));
        if (pango_layout_get_line_count(l) <= lines) {
            x += (w - bw) / 2;
            break;
        }
    }
    if (pango_layout_get_line_count(l) > lines)
        pango_layout_set_width(l, (int)(w * PANGO_SCALE));
    double h = height(l);
    show(L, l, x, y);
    g_object_unref(l);
    return h;
}

/* Width of the first line of some markup (for rules as long as a text). */
static double ink_width(struct lay *L, const char *markup, double size, int flags)
{
    PangoLayout *l = mk(L, markup, size, flags, -1, PANGO_ALIGN_LEFT, false, 0);
    int w, h;
    pango_layout_get_size(l, &w, &h);
    g_object_unref(l);
    return (double)w / PANGO_SCALE;
}

static int qr_draw(struct lay *L, double x, double y, double size)
{
    const char *payload = L->doc->qr;
    QRcode *q = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        q = QRcode_encodeString(payload, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (!q) {
        snprintf(L->why, L->whylen, "document: the footer's QR code cannot hold its text");
        return -1;
    }
    if (!L->dry) {
        double m = size / q->width;
        for (int r = 0; r < q->width; r++)
            for (int c = 0; c < q->width; c++)
                if (q->data[r * q->width + c] & 1)
                    cairo_rectangle(L->cr, x + c * m, y + r * m, m, m);
        cairo_fill(L->cr);
    }
    QRcode_free(q);
    return 0;
}

/* The lines on every page that tie the paper to its data (a record's id
 * and hash, a report's sources), and their QR code when there is one. */
static int footer(struct lay *L)
{
    const struct rdoc *d = L->doc;
    double top = PAGE_H - M_BOTTOM - FOOTER_H, qr = d->qr ? MM(14) : 0;
    rule(L, M_LEFT, PAGE_W - M_RIGHT, top, 0.4);
    if (d->qr && qr_draw(L, PAGE_W - M_RIGHT - qr, top + MM(2.5), qr) < 0)
        return -1;
    char *m1 = L->pages > 1 ? g_strdup_printf("%s — Trang %d/%d", d->footer, L->page, L->pages) : g_strdup(d->footer);
    double w = TEXT_W - (d->qr ? qr + MM(4) : 0), y = top + MM(2.5);
    /* Bounded: hostile ids would otherwise wrap into the page edge. */
    PangoLayout *l = mk(L, m1, 8, 0, w, PANGO_ALIGN_LEFT, false, 0);
    pango_layout_set_height(l, -1);
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_MIDDLE);
    show(L, l, M_LEFT, y);
    y += height(l) + 2;
    g_object_unref(l);
    if (d->footer2) {
        l = mk(L, d->footer2, 7, 0, w, PANGO_ALIGN_LEFT, false, 0);
        pango_layout_set_height(l, -2);
        pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_MIDDLE);
        show(L, l, M_LEFT, y);
        g_object_unref(l);
    }
    g_free(m1);
    return 0;
}

static int new_page(struct lay *L)
{
    if (footer(L) < 0)
        return -1;
    if (!L->dry)
        cairo_show_page(L->cr);
    L->page++;
    L->y = M_TOP;
    return 0;
}

/* A paragraph flowed line by line, onto the next page when it must. */
static int flow(struct lay *L, PangoLayout *l, double x)
{
    if (L->y > M_TOP)
        L->y += PARA_GAP;
    PangoLayoutIter *it = pango_layout_get_iter(l);
    double shift = 0, bottom = 0;
    bool first_on_page = L->y <= M_TOP;
    do {
        PangoRectangle lr;
        pango_layout_iter_get_line_extents(it, NULL, &lr);
        double ly = (double)lr.y / PANGO_SCALE, lh = (double)lr.height / PANGO_SCALE;
        if (L->y + (ly - shift) + lh > BODY_BOTTOM && !first_on_page) {
            if (new_page(L) < 0) {
                pango_layout_iter_free(it);
                return -1;
            }
            shift = ly;
        }
        first_on_page = false;
        double base = (double)pango_layout_iter_get_baseline(it) / PANGO_SCALE;
        if (!L->dry) {
            cairo_move_to(L->cr, x + (double)lr.x / PANGO_SCALE, L->y + base - shift);
            pango_cairo_show_layout_line(L->cr, pango_layout_iter_get_line_readonly(it));
        }
        bottom = ly + lh - shift;
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
    L->y += bottom;
    return 0;
}

/* Space for h more points on this page, or a new one. */
static int need(struct lay *L, double h)
{
    return L->y + h > BODY_BOTTOM && L->y > M_TOP ? new_page(L) : 0;
}

static void header(struct lay *L)
{
    const struct rdoc *d = L->doc;
    double y = M_TOP;
    L->max_lines = 3;  /* hostile names stay above the footer; the JSON holds them whole */
    if (d->form) {
        y += put(L, d->form, 10, F_ITALIC, M_LEFT, y, TEXT_W, PANGO_ALIGN_RIGHT) + 4;
    }
    /* Left: the issuing body; right: the national heading (Phụ lục I, ô 1 and 2). */
    double lw = MM(74), rx = M_LEFT + MM(73), rw = TEXT_W - MM(73);
    double ly = y, ry = y;
    ly += put_balanced(L, d->parent, 12, 0, M_LEFT, ly, lw);
    ly += put_balanced(L, d->body, 12, F_BOLD, M_LEFT, ly, lw) + 3;
    rule(L, M_LEFT + lw / 2 - MM(12), M_LEFT + lw / 2 + MM(12), ly, 0.6);
    ry += put(L, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, F_BOLD, rx, ry, rw, PANGO_ALIGN_CENTER);
    const char *motto = "Độc lập - Tự do - Hạnh phúc";
    ry += put(L, motto, 13, F_BOLD, rx, ry, rw, PANGO_ALIGN_CENTER) + 3;
    double mw = ink_width(L, motto, 13, F_BOLD);
    rule(L, rx + rw / 2 - mw / 2, rx + rw / 2 + mw / 2, ry, 0.6);
    /* "Số" and the date on one row under both rules (ô 3 and 4). */
    y = (ly > ry ? ly : ry) + 8;
    double hr = put(L, d->dateline, 13, F_ITALIC, rx, y, rw, PANGO_ALIGN_CENTER);
    /* A record id is longer than most "Số" lines: when it does not fit under
     * the body it runs from the margin to where the date begins. */
    double nw = ink_width(L, d->number, 13, 0), dw = ink_width(L, d->dateline, 13, F_ITALIC), hl;
    if (nw <= lw) {
        hl = put(L, d->number, 13, 0, M_LEFT, y, lw, PANGO_ALIGN_CENTER);
    } else {
        double date_x = rx + (dw < rw ? (rw - dw) / 2 : 0);
        hl = put(L, d->number, 13, 0, M_LEFT, y, date_x - M_LEFT - MM(3), PANGO_ALIGN_LEFT);
    }
    y += (hl > hr ? hl : hr) + 18;
    L->max_lines = 4;
    y += put(L, d->title, 14, F_BOLD, M_LEFT, y, TEXT_W, PANGO_ALIGN_CENTER) + 10;
    L->max_lines = 0;
    L->y = y;
}

/* A warning in bold inside a frame, kept whole on one page (a long one is
 * cut short with an ellipsis: the frame must stay on the page it opens). */
static int alert(struct lay *L, const char *markup)
{
    double pad = 5, w = TEXT_W - 2 * pad;
    PangoLayout *l = mk(L, markup, 13, F_BOLD, w, PANGO_ALIGN_LEFT, false, 0);
    pango_layout_set_height(l, -12);
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    double h = height(l) + 2 * pad;
    if (L->y > M_TOP)
        L->y += PARA_GAP;
    if (need(L, h) < 0) {
        g_object_unref(l);
        return -1;
    }
    show(L, l, M_LEFT + pad, L->y + pad);
    if (!L->dry) {
        cairo_set_line_width(L->cr, 1.2);
        cairo_rectangle(L->cr, M_LEFT, L->y, TEXT_W, h);
        cairo_stroke(L->cr);
    }
    L->y += h;
    g_object_unref(l);
    return 0;
}

static int body(struct lay *L)
{
    const struct rdoc *d = L->doc;
    for (size_t i = 0; i < d->nparas; i++) {
        const struct rpara *p = &d->paras[i];
        if (p->style == RP_ALERT) {
            if (alert(L, p->markup) < 0)
                return -1;
            continue;
        }
        int flags = p->style == RP_SECTION ? F_BOLD : p->style == RP_SUB ? F_BOLD | F_ITALIC : 0;
        double indent = p->style == RP_SECTION ? 0 : MM(10);
        PangoLayout *l = mk(L, p->markup, 13, flags, TEXT_W, PANGO_ALIGN_LEFT, p->style != RP_SECTION, indent);
        /* A heading keeps its first two lines of text with it. */
        int rc = p->style == RP_ITEM || p->style == RP_TEXT ? 0 : need(L, height(l) + PARA_GAP + 2 * 17);
        if (rc == 0)
            rc = flow(L, l, M_LEFT);
        g_object_unref(l);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static double caption_h(struct lay *L, const struct rsig *s, double w)
{
    PangoLayout *l = mk(L, s->caption, 13, F_BOLD, w, PANGO_ALIGN_CENTER, false, 0);
    double h = height(l);
    g_object_unref(l);
    return h;
}

/* One signature block: caption, "(Ký, ghi rõ họ tên)", room to sign, name.
 * cap is the tallest caption of the row, so that the names of a row line up. */
static double sig(struct lay *L, const struct rsig *s, double x, double y, double w, double cap)
{
    double y0 = y, h = put(L, s->caption, 13, F_BOLD, x, y, w, PANGO_ALIGN_CENTER);
    double k = put(L, "(Ký, ghi rõ họ tên)", 13, F_ITALIC, x, y + h, w, PANGO_ALIGN_CENTER);
    y += cap + k + MM(24);
    y += put(L, s->name, 13, F_BOLD, x, y, w, PANGO_ALIGN_CENTER);
    return y - y0;
}

static double recipients(struct lay *L, double x, double y, double w)
{
    const struct rdoc *d = L->doc;
    double y0 = y;
    y += put(L, "Nơi nhận:", 12, F_BOLD | F_ITALIC, x, y, w, PANGO_ALIGN_LEFT);
    for (size_t i = 0; i < d->nrecipients; i++)
        y += put(L, d->recipients[i], 11, 0, x, y, w, PANGO_ALIGN_LEFT);
    return y - y0;
}

/* Two blocks a row; a last one alone goes right, with "Nơi nhận" on its left
 * as Phụ lục I places it; otherwise "Nơi nhận" comes under the blocks. */
static int signatures(struct lay *L)
{
    const struct rdoc *d = L->doc;
    double cw = TEXT_W / 2;
    bool placed = false;
    L->y += 14;
    for (size_t i = 0; i < d->nsigs; i += 2) {
        bool pair = i + 1 < d->nsigs;
        double cap = caption_h(L, &d->sigs[i], cw);
        if (pair) {
            double c2 = caption_h(L, &d->sigs[i + 1], cw);
            cap = c2 > cap ? c2 : cap;
        }
        bool saved = L->dry;
        L->dry = true;  /* measure the row before drawing it */
        double h = sig(L, &d->sigs[i], M_LEFT, 0, cw, cap);
        if (pair) {
            double h2 = sig(L, &d->sigs[i + 1], M_LEFT + cw, 0, cw, cap);
            h = h2 > h ? h2 : h;
        } else {
            double hr = recipients(L, M_LEFT, 0, cw);
            h = hr > h ? hr : h;
        }
        L->dry = saved;
        if (need(L, h) < 0)
            return -1;
        if (pair) {
            sig(L, &d->sigs[i], M_LEFT, L->y, cw, cap);
            sig(L, &d->sigs[i + 1], M_LEFT + cw, L->y, cw, cap);
        } else {
            sig(L, &d->sigs[i], M_LEFT + cw, L->y, cw, cap);
            recipients(L, M_LEFT, L->y, cw);
            placed = true;
        }
        L->y += h + 12;
    }
    if (!placed) {
        bool saved = L->dry;
        L->dry = true;
        double h = recipients(L, M_LEFT, 0, cw);
        L->dry = saved;
        if (need(L, h) < 0)
            return -1;
        L->y += recipients(L, M_LEFT, L->y, cw);
    }
    return 0;
}

static int lay_out(struct lay *L)
{
    L->page = 1;
    header(L);
    if (body(L) < 0 || signatures(L) < 0)
        return -1;
    return footer(L);
}

/* The font must be the one Phụ lục I means, not a fallback fontconfig found. */
static int check_font(cairo_t *cr, char *why, size_t whylen)
{
    PangoLayout *l = layout_new(cr);
    PangoFontDescription *fd = pango_font_description_from_string(FONT " 13");
    PangoFont *f = pango_context_load_font(pango_layout_get_context(l), fd);
    int rc = -1;
    if (f) {
        PangoFontDescription *got = pango_font_describe(f);
        const char *fam = pango_font_description_get_family(got);
        rc = fam && g_ascii_strcasecmp(fam, FONT) == 0 ? 0 : -1;
        pango_font_description_free(got);
        g_object_unref(f);
    }
    if (rc < 0)
        snprintf(why, whylen, "font %s not found (install the Debian package fonts-liberation)", FONT);
    pango_font_description_free(fd);
    g_object_unref(l);
    return rc;
}

struct sink {
    FILE *f;
    bool failed;
};

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len)
{
    struct sink *s = closure;
    if (fwrite(data, 1, len, s->f) != len) {
        s->failed = true;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

static int render(const struct rdoc *doc, struct sink *sk, char *why, size_t whylen)
{
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(sink_write, sk, PAGE_W, PAGE_H);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, doc->plain_title);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "kyso");
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 0, 0, 0);
    int rc = check_font(cr, why, whylen);
    if (rc == 0) {
        struct lay L = {.cr = cr, .doc = doc, .dry = true, .why = why, .whylen = whylen};
        rc = lay_out(&L);
        if (rc == 0) {
            struct lay D = {.cr = cr, .doc = doc, .pages = L.page, .why = why, .whylen = whylen};
            rc = lay_out(&D);
        }
    }
    cairo_destroy(cr);
    cairo_surface_finish(s);
    if (rc == 0 && (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS || sk->failed)) {
        snprintf(why, whylen, "PDF: %s", sk->failed ? "write failed" : cairo_status_to_string(cairo_surface_status(s)));
        rc = -1;
    }
    cairo_surface_destroy(s);
    return rc;
}

int rdoc_write_pdf(const struct rdoc *doc, const char *path, char *why, size_t whylen)
{
    char dummy[1];
    if (!why || !whylen) {
        why = dummy;
        whylen = sizeof dummy;
    }
    why[0] = '\0';
    if (!path || !*path || strlen(path) + sizeof ".XXXXXX" > PATH_MAX) {
        snprintf(why, whylen, "PDF: no usable output path");
        return -1;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, whylen, "PDF: %s: %s", tmp, strerror(errno));
        return -1;
    }
    struct sink sk = {.f = fdopen(fd, "wb")};
    if (!sk.f) {
        snprintf(why, whylen, "PDF: %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    int rc = render(doc, &sk, why, whylen);
    /* The paper exists whole or not at all: flushed and synced, then renamed. */
    if (rc == 0 && (fflush(sk.f) != 0 || fsync(fileno(sk.f)) != 0)) {
        snprintf(why, whylen, "PDF: %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (fclose(sk.f) != 0 && rc == 0) {
        snprintf(why, whylen, "PDF: %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(why, whylen, "PDF: %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int records_render_pdf(const json_object *record, const char *path, char *why, size_t whylen)
{
    char dummy[1];
    if (!why || !whylen) {
        why = dummy;
        whylen = sizeof dummy;
    }
    why[0] = '\0';
    struct rdoc doc;
    if (rdoc_build(&doc, record, why, whylen) < 0)
        return -1;
    int rc = rdoc_write_pdf(&doc, path, why, whylen);
    rdoc_free(&doc);
    return rc;
}
