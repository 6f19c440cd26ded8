/* Canonical JSON (RFC 8785, JSON Canonicalization Scheme) over json-c
 * objects: the bytes a record's hash and its signatures are computed on.
 * The record schema holds only strings, integers, booleans, null, arrays
 * and objects, so numbers that are not integers are refused rather than
 * given ECMAScript's double formatting. */
#ifndef KYSO_RECORDS_CANON_H
#define KYSO_RECORDS_CANON_H

#include <stddef.h>

#include <json-c/json.h>

/* Deepest nesting accepted (a record nests four levels). */
#define RECORDS_MAX_DEPTH 32
/* Largest integer JCS can carry exactly (2^53 - 1, an IEEE 754 double). */
#define RECORDS_MAX_SAFE_INT 9007199254740991LL

/* The canonical form of o in *out (NUL-terminated, malloc'd; *len without
 * the NUL). 0, or -1 with a one-line reason in why (a non-integer number,
 * invalid UTF-8, too deep, out of memory). */
int records_canonical(const json_object *o, char **out, size_t *len, char *why, size_t whylen);

/* The same, leaving out the top-level member named skip (NULL: none):
 * the form the integrity hash is computed on. */
int records_canonical_skip(const json_object *o, const char *skip, char **out, size_t *len,
                           char *why, size_t whylen);

/* Whether s[0..len) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
int records_utf8_valid(const char *s, size_t len);

#endif
