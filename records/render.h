/* The printable record: an A4 PDF in Vietnamese, laid out as Nghị định
 * 30/2020 Phụ lục I asks (FORMS.md "Printing"), from a record's JSON
 * (schema kyso-record/1). Lives in its own library so that nothing but
 * the tools links cairo and pango. */
#ifndef KYSO_RECORDS_RENDER_H
#define KYSO_RECORDS_RENDER_H

#include <stddef.h>
#include <json-c/json.h>

/* Writes the record as a PDF at path, atomically (a temporary file beside
 * it, then rename). Strict: a member missing or of the wrong type is
 * refused, naming the first one ("certificates[0].sha256"). Every string
 * is printed as text, never as markup. Returns 0, or -1 with why set. */
int records_render_pdf(const json_object *record, const char *path, char *why, size_t whylen);

#endif
