/* A legal record (schema kyso-record/1, records/README.md) kept as its
 * json-c object: identifiers, the integrity hash, and validation of every
 * member against the schema, each problem one line naming the member. */
#ifndef KYSO_RECORDS_RECORD_H
#define KYSO_RECORDS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define RECORDS_SCHEMA "kyso-record/1"
#define RECORDS_ID_LEN 20          /* "KR-20261203-1a2b3c4d" */
#define RECORDS_MAX_FILE (1024 * 1024)   /* largest record or parties file read */

/* The problems validation found, one line each ("parties[1].id_number:
 * must be 12 digits, not \"12345\""). Lines past RECORDS_MAX_PROBLEMS are
 * counted in dropped. */
#define RECORDS_MAX_PROBLEMS 32
#define RECORDS_PROBLEM_LEN 256
struct records_problems {
    size_t n;
    size_t dropped;
    char line[RECORDS_MAX_PROBLEMS][RECORDS_PROBLEM_LEN];
};

/* A fresh id "KR-YYYYMMDD-xxxxxxxx" for a record created at `when` (its
 * local date) with 8 random hex digits (RAND_bytes). 0, or -1 when the
 * random generator fails. */
int records_new_id_at(char out[24], int64_t when);
int records_new_id(char out[24]);   /* created now */

/* SHA-256 (lowercase hex) of the canonical JSON of obj without its
 * "integrity" member. 0, or -1 when obj has no canonical form. */
int records_hash(const json_object *obj, char out_hex[65]);

/* Sets obj's "integrity" to {"sha256": records_hash(obj)}. 0 or -1. */
int records_seal(json_object *obj);

/* Checks every member of obj against the schema (types, values, dates,
 * roles per kind, integrity). Returns the number of problems (0: valid). */
size_t records_validate(const json_object *obj, struct records_problems *p);

/* One party object, as in a record's "parties" (prefix names it in the
 * lines, e.g. "parties[1]"). Returns the number of problems added. */
size_t records_validate_party(const json_object *party, const char *prefix, struct records_problems *p);

/* Whether parties (an array, named path in the lines) holds every role
 * kind requires. Returns the number of problems added. */
size_t records_check_roles(const json_object *parties, const char *kind, const char *path,
                           struct records_problems *p);

/* Parses JSON text strictly (RFC 8259: no comments, no trailing text,
 * valid UTF-8), at most RECORDS_MAX_DEPTH deep. NULL with a reason that
 * names the line on error. */
json_object *records_parse(const char *text, size_t len, char *why, size_t whylen);

/* A parties file (--parties FILE): a JSON array of party objects. When
 * kind is not NULL, the roles that kind requires must be present. Returns
 * the array (the caller puts it), or NULL with the problems in p (each
 * line prefixed with the path). */
json_object *records_parties_load(const char *path, const char *kind, struct records_problems *p);

/* The kinds of record (records/README.md), NULL-terminated, and whether
 * kind is one of them. */
extern const char *const records_kinds[];
bool records_kind_known(const char *kind);

/* The reasons a revocation request may give (the cases of Điều 17 of
 * Nghị định 68/2024), NULL-terminated. */
extern const char *const records_revocation_reasons[];

/* Dates and times as the schema writes them. */
int records_date_parse(const char *s, int64_t *day);          /* "2026-02-17" -> days since 1970-01-01 */
void records_date_format(int64_t day, char out[11]);
int records_time_parse(const char *s, int64_t *epoch);        /* RFC 3339 with offset or Z */

/* Adds a line to p (printf-style). */
void records_problem(struct records_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
