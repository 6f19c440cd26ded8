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

/* How many days before the last renewal day (or, when the profile names
 * none, before expiry) the tools and the module's signatures start
 * saying that a renewal is due. */
#define RECORDS_RENEWAL_NOTICE_DAYS 30

/* The answer at now (epoch seconds) under profile p with calendar cal.
 * Days are local days in Vietnam (UTC+7). days_left is floor((not_after -
 * now) / 86400); a renewal is eligible while days_left is at least the
 * profile's renewal_min_days_left, that is up to renewal_last_day (the
 * local day of not_after minus that number; -1 when the profile names
 * none). The certificate has ended on the day it expired or the day its
 * revocation was registered, whichever came first; the token is then due
 * back within the profile's return_working_days working days of cal
 * (return_deadline -1 when the profile defers to a law, or when cal is
 * NULL: the module computes renewal facts only). */
void records_due_compute(const struct policy_profile *p, const struct records_calendar *cal,
                         const struct records_cert_facts *f, int64_t now, struct records_due *out);

/* The local day (UTC+7, Vietnam) of epoch seconds t, as days since
 * 1970-01-01 (records_date_format writes it). */
int64_t records_local_day(int64_t t);

/* "eligible", "too_late", "already", "ended", "per_law" (the JSON of
 * kyso token due). */
const char *records_renewal_name(enum records_renewal r);

/* What the registry (dir; NULL: none) says of one certificate, for
 * records_due_compute: the registered renewal requests (change
 * "renewal") of its line (same token serial and holder cn), the day a
 * revocation request (naming it, or naming no certificate) or a loss of
 * its token was registered, and the day its token was handed back (the
 * first return handover on or after the end, or the token's latest
 * handover when that is a return); a record's day is the day in Vietnam
 * of its created.time, and records made after now do not count. 0, or -1 with one line in why: the
 * registry cannot be read, or a record in it does not load (it could be
 * the one that matters). */
int records_due_facts(const char *registry_dir, const char *token_serial, const char *cert_sha256,
                      const char *cert_cn, int64_t not_after, int64_t now, struct records_cert_facts *f, char *why,
                      size_t whylen);

/* Every certificate the registry and the audit trail know, with its
 * token and what is due for it (kyso token due, the periodic report). */
struct records_due_item {
    char token_serial[64];
    char cert_sha256[65];
    char cert_serial[80];
    char cert_cn[512];              /* (a subject field may hold 511 bytes) */
    char source[96];                /* "registry KR-…" or "audit" */
    struct records_cert_facts facts;
    struct records_due due;
};

/* Collects them from the registry dir and the audit logs (either may be
 * absent: NULL / nlogs 0), overdue first, then by days left. *items (the
 * caller frees it) and *n set. 0, or -1 with one line in why (a registry
 * that cannot be read or holds a record that does not load, an audit log
 * that cannot be read). The certificates of the registry are those its
 * records list (each with its record's token serial); the audit trail's
 * are those of its "sign" records (token, cert.sha256, serial, subject
 * CN, not_after). Deduplicated by SHA-256, the registry first.
 * Defined in records/deadlines_collect.c, library records/libkysodue.la
 * (it reads audit logs: link audit/libkysoreport.la with it). */
int records_due_collect(const char *registry_dir, const char *const *audit_logs, size_t nlogs,
                        const struct policy_profile *p, const struct records_calendar *cal, int64_t now,
                        struct records_due_item **items, size_t *n, char *why, size_t whylen);

#endif
