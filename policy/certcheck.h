/* Rule M1 (only a valid certificate signs) and M12 (within its key
 * usage) for one certificate: the verdict `kyso token status` shows and
 * the decision uses. Valid means: within its validity period, chaining to
 * a trust anchor ($(sysconfdir)/kyso/trust), and not revoked by the cached
 * CRL of its issuer (policy/crl.h). */
#ifndef KYSO_POLICY_CERTCHECK_H
#define KYSO_POLICY_CERTCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/config.h"

enum policy_cert_state {
    POLICY_CERT_VALID,
    POLICY_CERT_EXPIRED,
    POLICY_CERT_NOT_YET_VALID,
    POLICY_CERT_UNTRUSTED,
    POLICY_CERT_REVOKED,
    POLICY_CERT_CRL_STALE,    /* valid, but the issuer's CRL is past its next update */
    POLICY_CERT_NO_CRL,       /* valid, but no CRL of the issuer is cached */
    POLICY_CERT_UNREADABLE,   /* not a certificate */
    POLICY_CERT_NONE          /* the key has no certificate */
};

struct policy_cert_verdict {
    enum policy_cert_state state;
    bool may_sign;            /* under the configuration given */
    char rule[8];             /* when !may_sign: "M1" */
    char why[192];            /* one line: the state, and why not when refused */
    char warning[160];        /* signs, but the record says this (a stale CRL under crl_stale = warn) */
    time_t not_before, not_after;
};

/* The verdict on der at time now, under configuration c. */
void policy_cert_check(const struct policy_config *c, const uint8_t *der, size_t len, time_t now,
                       struct policy_cert_verdict *v);
const char *policy_cert_state_name(enum policy_cert_state s); /* "valid", "expired", … */

enum policy_usage { POLICY_USE_SIGN, POLICY_USE_DECRYPT, POLICY_USE_DERIVE };
/* Rule M12: whether der's keyUsage and extendedKeyUsage allow the use; on
 * false, why says what is missing. */
bool policy_cert_allows(const uint8_t *der, size_t len, enum policy_usage use, char *why, size_t whylen);

/* Whether der is an organisation's certificate (rule M4): its subject
 * names no person (no userId, which carries a person's CCCD/CMND number)
 * and its common name is its organisation's name. */
bool policy_cert_is_organisation(const uint8_t *der, size_t len);

/* Forgets the anchors and verdicts kept in memory. */
void policy_cert_reset(void);
/* Around fork(): the child starts with the lock free. */
void policy_cert_fork_prepare(void);
void policy_cert_fork_parent(void);
void policy_cert_fork_child(void);

#endif
