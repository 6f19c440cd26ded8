/* Inside records/deadlines*.c: what the registry holds that decides what
 * is due (records/deadlines.h), read once into memory. */
#ifndef KYSO_RECORDS_DEADLINES_INT_H
#define KYSO_RECORDS_DEADLINES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records/deadlines.h"

/* A certificate a registered record lists, with its record's token. */
struct due_cert {
    char token[64];
    char sha256[65];
    char serial[80];
    char cn[512];
    char source[96];        /* "registry KR-…": the first record naming it */
    int64_t not_after;
};

enum due_event_kind {
    DUE_RENEWAL,            /* a renewal request (change "renewal") of the line token + cn */
    DUE_REVOKE,             /* a revocation request of sha256 ("" : every certificate of token) */
    DUE_LOSS,               /* the token's loss */
    DUE_HANDOVER,           /* a handover of the token (is_return: handed back) */
};

struct due_event {
    enum due_event_kind kind;
    char token[64];
    char cn[512];
    char sha256[65];
    int64_t day;            /* the day in Vietnam created.time is in */
    int64_t time;           /* created.time, epoch seconds */
    bool is_return;
};

struct due_index {
    struct due_cert *certs;
    size_t ncerts, capcerts;
    struct due_event *events;
    size_t nevents, capevents;
};

/* Reads every record of dir. 0, or -1 with one line in why (the directory
 * cannot be read, a record does not load, out of memory); ix is empty
 * then. */
int due_index_load(const char *dir, struct due_index *ix, char *why, size_t whylen);
void due_index_free(struct due_index *ix);

/* The facts of one certificate from the index (records_due_facts). */
void due_index_facts(const struct due_index *ix, const char *token, const char *sha256, const char *cn,
                     int64_t not_after, int64_t now, struct records_cert_facts *f);

/* Copies src into dst (size dstlen) when it fits; false (dst "") when not. */
bool due_copy(char *dst, size_t dstlen, const char *src);

#endif
