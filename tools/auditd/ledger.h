/* kyso-auditd's memory of the requests it wrote: a request's id, its
 * record's seq, who sent it, and whether it was withheld since. It makes a
 * request written at most once (a retry is answered with the record it
 * got) and lets a client withhold a record it never heard back about
 * (protocol.c). Filled from the tail of the log when the log is opened,
 * so a daemon started again knows what the last one wrote. */
#ifndef KYSO_TOOLS_AUDITD_LEDGER_H
#define KYSO_TOOLS_AUDITD_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/audit.h"

/* Requests remembered (the oldest is forgotten first) and how much of the
 * log's end is read to remember them at start. */
#define LEDGER_ENTRIES 65536
#define LEDGER_SCAN_BYTES (8u << 20)
/* Ids withheld before their request came: refused if it still comes. */
#define LEDGER_TOMBSTONES 1024

struct ledger_entry {
    char request[AUDIT_REQUEST_ID_LEN + 1];
    uint64_t seq;
    uid_t uid;
    bool releases;                 /* a sign/decrypt/derive CKR_OK: may be withheld */
    bool withheld;
};

struct ledger;

struct ledger *ledger_new(void);
void ledger_free(struct ledger *l);
/* Forgets everything, then reads the end of the log at path. */
void ledger_load(struct ledger *l, const char *log_path);
/* The entry of a request id, or NULL. */
struct ledger_entry *ledger_find(struct ledger *l, const char *request);
void ledger_add(struct ledger *l, const char *request, uint64_t seq, uid_t uid, bool releases);
void ledger_bury(struct ledger *l, const char *request);
bool ledger_buried(const struct ledger *l, const char *request);

/* The record with this seq, read back from the end of the log (a
 * json_object to json_object_put), or NULL. */
void *ledger_read_record(const char *log_path, uint64_t seq);

#endif
