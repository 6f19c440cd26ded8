/* What is due for a certificate under a profile (rules M10 and M11): days
 * left, whether a renewal may still be asked for (and until when), and,
 * once the certificate has ended (expired, or its revocation registered),
 * the last working day to hand the token back. Pure functions of the
 * profile, the calendar and the facts, so that the status commands, the
 * periodic report and the module's warning give the same answer. */
#ifndef KYSO_RECORDS_DEADLINES_H
#define KYSO_RECORDS_DEADLINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/profile.h"
#include "records/calendar.h"

/* The facts about one certificate that decide what is due. */
struct records_cert_facts {
    int64_t not_after;       /* epoch seconds */
    int renewals_before;     /* registered renewal requests of this certificate's line */
    int64_t revoked_day;     /* day (since 1970-01-01) its revocation was registered, or -1 */
    int64_t returned_day;    /* day its token was handed back (a registered return), or -1 */
};

enum records_renewal {
    RECORDS_RENEWAL_ELIGIBLE,
    RECORDS_RENEWAL_TOO_LATE,       /* fewer days left than the profile asks */
    RECORDS_RENEWAL_ALREADY,        /* renewed once already, and the profile allows once */
    RECORDS_RENEWAL_ENDED,          /* expired or revoked */
    RECORDS_RENEWAL_PER_LAW,        /* the profile names no number: it defers to a law */
};

struct records_due {
    int64_t days_left;              /* whole days until not_after (negative after) */
    enum records_renewal renewal;
    char renewal_why[192];          /* one line, Vietnamese-free English for the tools */
    int64_t renewal_last_day;       /* last day a renewal request may be made, or -1 */
    bool ended;
    int64_t ended_day;              /* expiry or revocation day, or -1 */
    int64_t return_deadline;        /* last working day to return the token, or -1 (none known) */
    bool returned;
    bool overdue;                   /* ended, not returned, past return_deadline */
};

/* The answer at now (epoch seconds) under profile p with calendar cal. */
void records_due_compute(const struct policy_profile *p, const struct records_calendar *cal,
                         const struct records_cert_facts *f, int64_t now, struct records_due *out);

/* Every certificate the registry and the audit trail know, with its
 * token and what is due for it (kyso token due, the periodic report). */
struct records_due_item {
    char token_serial[64];
    char cert_sha256[65];
    char cert_serial[80];
    char cert_cn[192];
    char source[96];                /* "registry KR-…" or "audit" */
    struct records_cert_facts facts;
    struct records_due due;
};

/* Collects them from the registry dir and the audit logs (either may be
 * absent: NULL / nlogs 0), overdue first, then by days left. *items (the
 * caller frees it) and *n set. 0, or -1 with one line in why. */
int records_due_collect(const char *registry_dir, const char *const *audit_logs, size_t nlogs,
                        const struct policy_profile *p, const struct records_calendar *cal, int64_t now,
                        struct records_due_item **items, size_t *n, char *why, size_t whylen);

#endif
