/* audit/: what the files of the layer share. */
#ifndef KYSO_AUDIT_INTERNAL_H
#define KYSO_AUDIT_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"

/* chain.c: the key schedule, the MAC and line hashes. */
void audit_evolve(uint8_t key[AUDIT_KEY_LEN]);   /* K(n) → K(n+1), in place */
void audit_mac(const uint8_t key[AUDIT_KEY_LEN], const uint8_t *data, size_t len, uint8_t out[AUDIT_HASH_LEN]);
void audit_line_hash(const char *line, size_t len, uint8_t out[AUDIT_HASH_LEN]); /* without the newline */

/* The writer's state: what comes next in the chain. */
struct audit_state {
    uint64_t next_seq;
    uint8_t prev[AUDIT_HASH_LEN];      /* hash of the last line */
    uint8_t key[AUDIT_KEY_LEN];        /* K(next_seq) */
    uint64_t log_size;                 /* bytes of the log covered */
    char log_id[33];
};
int audit_state_read(int fd, struct audit_state *st);
/* Writes the state (one flush); the slot it replaces is erased after the
 * flush, without one of its own (see chain.c). */
int audit_state_write(int fd, const struct audit_state *st);
/* Erases the older slot when both are readable (a crash came before its
 * erasure reached the disk): 1 erased, 0 nothing to do, -1 failed. */
int audit_state_wipe_stale(int fd);

/* record.c */
bool audit_unhex_lower(const char *hex, uint8_t *out, size_t len); /* lowercase digits only */
void audit_now(char out[48]);
json_object *audit_record_object(const struct audit_event *ev, const struct audit_identity *who, uint64_t seq,
                                 const char *log_id);
size_t audit_seal_line(json_object *o, const uint8_t prev[AUDIT_HASH_LEN], const uint8_t key[AUDIT_KEY_LEN],
                       char *out, size_t cap);

/* syslog.c: the syslog copy of a record, its fields up to (not including)
 * the chaining ones, without the closing brace. Never waits. */
void audit_syslog_record(const char *fields, size_t len);
void audit_syslog_fork_prepare(void);
void audit_syslog_fork_done(void);

#endif
