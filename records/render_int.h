/* Inside the renderer: the document as laid-out blocks (render_doc.c builds
 * it from a record's JSON, render_report.c from the periodic report;
 * render.c puts it on pages). Every string here is pango markup whose data
 * parts were escaped when it was built (rdoc_esc). */
#ifndef KYSO_RECORDS_RENDER_INT_H
#define KYSO_RECORDS_RENDER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

enum rpara_style {
    RP_SECTION,   /* numbered section heading, bold */
    RP_SUB,       /* sub-heading (one certificate, one party), bold italic */
    RP_ITEM,      /* "- label: value", justified */
    RP_TEXT,      /* plain justified paragraph */
    RP_ALERT,     /* a warning before everything else: bold, in a frame */
};

struct rpara {
    enum rpara_style style;
    char *markup;
};

struct rsig {
    char *caption;  /* role, bold capitals */
    char *name;
};

struct rdoc {
    char *form;      /* "Mẫu 06 — Nghị định 68/2024/NĐ-CP", or NULL */
    char *parent;    /* issuing body's parent, capitals */
    char *body;      /* issuing body, capitals */
    char *number;    /* "Số: KR-…" */
    char *dateline;  /* "Hà Nội, ngày 03 tháng 12 năm 2026" */
    char *title;
    struct rpara *paras;
    size_t nparas, cparas;
    struct rsig *sigs;
    size_t nsigs, csigs;
    char *recipients[4];
    size_t nrecipients;
    char *plain_title;   /* for the PDF metadata: not markup */
    char *footer;        /* the footer's first line (the page number is added) */
    char *footer2;       /* its second line, or NULL */
    char *qr;            /* plain text of the footer's QR code, or NULL: none */
};

/* Builds doc from record; 0, or -1 with why naming the first bad member. */
int rdoc_build(struct rdoc *doc, const json_object *record, char *why, size_t whylen);
void rdoc_free(struct rdoc *doc);

/* Lays doc out on A4 pages and writes the PDF at path atomically (a
 * temporary file beside it, synced, then renamed): the file is whole or
 * absent. 0, or -1 with why. (render.c) */
int rdoc_write_pdf(const struct rdoc *doc, const char *path, char *why, size_t whylen);

/* render_text.c: untrusted text as escaped markup in which characters
 * that would not show (controls, bidi overrides, zero-width) appear as
 * "[U+XXXX]" (g_free it); "YYYY-MM-DD[THH:MM:SS…±HH:MM]" as
 * "dd/mm/yyyy hh:mm:ss (UTC+07:00)", anything else as it is; the place and
 * date line of Nghị định 30/2020 ("Hà Nội, ngày 03 tháng 02 năm 2026"). */
char *rdoc_esc(const char *s);
char *rdoc_fmt_time(const char *s);
char *rdoc_dateline(const char *place, const char *time);
/* Blocks: markup (taken), plain text (escaped), one "- …" line of plain
 * text joined to the list before it, a signature block (caption in
 * capitals). */
void rdoc_add(struct rdoc *d, enum rpara_style style, char *markup);
void rdoc_add_plain(struct rdoc *d, enum rpara_style style, const char *plain);
void rdoc_add_item(struct rdoc *d, const char *plain);
void rdoc_add_sig(struct rdoc *d, const char *caption, const char *name);

/* render_doc.c: the Vietnamese words of a handover kind ("return") and of
 * a revocation reason code (Điều 17 of Nghị định 68/2024), or NULL. */
const char *rdoc_handover_kind(const char *kind);
const char *rdoc_revocation_reason(const char *code);

/* render_report_registry.c: sections 5 and 6 of the periodic report (the
 * registry's records of the period, the tokens due back); *section is the
 * number of the last section written, advanced. */
struct records_report_in;
void rreport_registry(struct rdoc *d, const struct records_report_in *in, int *section);
/* render_report.c: s cut to at most max bytes at a character boundary,
 * with "…" when cut (g_free it); n with a dot every three digits. */
char *rreport_clip(const char *s, size_t max);
char *rreport_num(uint64_t n);

/* The longest string member the renderer takes (bytes). */
#define RDOC_MAX_STRING 4096

#endif
