/* The parts of a record that are facts read from a token, and the
 * header every record starts with: built here from plain values (the
 * certificate's DER, the strings the token driver read), so that nothing
 * the user types reaches them. The tools read the token; this file only
 * turns what was read into schema kyso-record/1 (records/README.md). */
#ifndef KYSO_RECORDS_FACTS_H
#define KYSO_RECORDS_FACTS_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* One member of "certificates" from a certificate's DER. NULL with a
 * reason when it is not a certificate the schema can describe. */
json_object *records_certificate_facts(const uint8_t *der, size_t len, char *why, size_t whylen);

/* What identifies a token: from the token driver and the reader. */
struct records_token_in {
    const char *manufacturer, *model, *serial, *label;
    const uint8_t *atr;
    size_t atr_len;
    const char *applet;          /* "vgca-chipdoc", "vgca-jcop", "piv" */
    int has_usb;                 /* 0: not a USB reader, or not found */
    uint16_t usb_vid, usb_pid;
    const char *usb_serial;      /* "" when the device names none */
};
json_object *records_token_facts(const struct records_token_in *in);

/* The header of a new record. */
struct records_header_in {
    const char *kind;            /* "handover", "pin-reset-request", ... */
    const char *profile;         /* a profile id */
    const char *form_cited;      /* the profile's form, "Mẫu 06 (Nghị định 68/2024/NĐ-CP)", or NULL */
    const char *regulation;      /* the profile's regulation, the law when no form is cited */
    const char *title;
    const char *place;
    const char *agency_name, *agency_parent;
    int64_t when;                /* created, epoch seconds; written in local time with its offset */
};
/* A record with schema, kind, a fresh id, profile, form, title, created,
 * agency set and the rest for the caller; NULL on a random-generator
 * failure or out of memory. */
json_object *records_begin(const struct records_header_in *h);

/* "Mẫu 06 (Nghị định 68/2024/NĐ-CP)" -> number "Mẫu 06", law "Nghị
 * định 68/2024/NĐ-CP"; NULL -> number "", law regulation. */
json_object *records_form(const char *cited, const char *regulation);

/* An RFC 3339 time with the local offset ("2026-12-03T10:15:00+07:00"). */
void records_time_format(int64_t epoch, char out[32]);

#endif
