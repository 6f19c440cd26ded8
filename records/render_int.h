/* Inside the renderer: the document as laid-out blocks (render_doc.c builds
 * it from the JSON; render.c puts it on pages). Every string here is pango
 * markup whose data parts were escaped when it was built. */
#ifndef KYSO_RECORDS_RENDER_INT_H
#define KYSO_RECORDS_RENDER_INT_H

#include <stddef.h>
#include <json-c/json.h>

enum rpara_style {
    RP_SECTION,   /* numbered section heading, bold */
    RP_SUB,       /* sub-heading (one certificate, one party), bold italic */
    RP_ITEM,      /* "- label: value", justified */
    RP_TEXT,      /* plain justified paragraph */
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
    char *id, *sha256;   /* plain text, for the footer and its QR code */
};

/* Builds doc from record; 0, or -1 with why naming the first bad member. */
int rdoc_build(struct rdoc *doc, const json_object *record, char *why, size_t whylen);
void rdoc_free(struct rdoc *doc);

/* The longest string member the renderer takes (bytes). */
#define RDOC_MAX_STRING 4096

#endif
