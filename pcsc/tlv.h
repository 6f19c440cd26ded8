/* BER-TLV (ISO/IEC 7816-4 / X.690 subset used by smart cards): strict
 * parsing and building.
 *
 * Tags are kept as their encoded bytes read as a big-endian integer
 * (0x53, 0x7F49, 0x5FC105), at most 4 bytes. Lengths use the short form
 * or the long form with 1 to 3 length bytes (0x81, 0x82, 0x83). The
 * indefinite form is refused: no card edge kyso drives uses it.
 */
#ifndef KYSO_PCSC_TLV_H
#define KYSO_PCSC_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tlv_result {
    TLV_OK = 0,
    TLV_END = 1,          /* no more elements (tlv_next at end of input) */
    TLV_NOT_FOUND = 2,    /* tlv_find: no element with that tag */
    TLV_ERR_TRUNCATED = -1,   /* tag, length or value runs past the input */
    TLV_ERR_TAG = -2,         /* tag longer than 4 bytes or 0x00/0xFF padding where a tag must be */
    TLV_ERR_LENGTH = -3,      /* indefinite form, or more than 3 length bytes */
    TLV_ERR_NOMEM = -4,
    TLV_ERR_RANGE = -5,       /* a value too large to encode */
    TLV_ERR_DEPTH = -6,       /* tlv_validate: nesting deeper than allowed */
};

/* One parsed element. value points into the parsed buffer (not copied). */
struct tlv {
    uint32_t tag;
    bool constructed;       /* bit 6 of the first tag byte */
    const uint8_t *value;
    size_t len;
};

/* Parses the element at *p (with *left bytes remaining) into *out and
 * advances *p / *left past it. Returns TLV_OK, TLV_END when *left is 0,
 * or a negative TLV_ERR_*; on error *p and *left are unchanged. */
int tlv_next(const uint8_t **p, size_t *left, struct tlv *out);

/* Finds the first element with the given tag among the siblings in
 * buf[0..len) (not recursively). Returns TLV_OK, TLV_NOT_FOUND, or a
 * negative TLV_ERR_* if the siblings before it are malformed. */
int tlv_find(const uint8_t *buf, size_t len, uint32_t tag, struct tlv *out);

/* Checks that buf[0..len) is exactly one or more well-formed siblings;
 * with recursive=true also every constructed element's content, up to
 * max_depth levels. */
int tlv_validate(const uint8_t *buf, size_t len, bool recursive, unsigned max_depth);

/* Number of bytes the encoded tag / length occupy. */
size_t tlv_tag_size(uint32_t tag);
size_t tlv_length_size(size_t len);

/* Longest header: 4 tag bytes, then 83 and 3 length bytes. */
#define TLV_MAX_HEADER_SIZE 8

/* Writes the tag and length header of an element into out (at least
 * TLV_MAX_HEADER_SIZE bytes) and returns the number of bytes written, or 0
 * if len cannot be encoded (over 0xFFFFFF). */
size_t tlv_put_header(uint8_t *out, uint32_t tag, size_t len);

/* A growable output buffer for building TLV structures. Errors are sticky:
 * after the first failure every call is a no-op and tlv_builder_error()
 * reports it, so a builder sequence needs one check at the end. */
struct tlv_builder {
    uint8_t *data;
    size_t len;
    size_t cap;
    int error;
};

void tlv_builder_init(struct tlv_builder *b);
/* Zeroises and frees the buffer (values may be secret). */
void tlv_builder_free(struct tlv_builder *b);
int tlv_builder_error(const struct tlv_builder *b);

/* Appends raw bytes. */
void tlv_add_raw(struct tlv_builder *b, const void *data, size_t len);
/* Appends a complete element. */
void tlv_add(struct tlv_builder *b, uint32_t tag, const void *value, size_t len);
void tlv_add_u8(struct tlv_builder *b, uint32_t tag, uint8_t value);
/* Opens a constructed element; returns a mark for tlv_end. */
size_t tlv_begin(struct tlv_builder *b, uint32_t tag);
/* Closes the element opened at mark, fixing its length. */
void tlv_end(struct tlv_builder *b, size_t mark);

#endif
