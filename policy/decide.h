/* The rules' decision on one private-key operation: may this user do
 * this with this key now? The module asks before every signature,
 * decryption and derivation, and records a refusal with the rule that
 * made it. Free of PKCS#11 and token types, so that the decision can move
 * into a privileged signing service unchanged (DESIGN.md): everything it
 * needs is in the request, and it never talks to a token. */
#ifndef KYSO_POLICY_DECIDE_H
#define KYSO_POLICY_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "policy/config.h"

enum policy_action { POLICY_SIGN, POLICY_DECRYPT, POLICY_DERIVE };

/* What the process asked for through its environment. Without
 * `environment = trusted` it may only make things stricter; a request to
 * loosen is refused, not silently ignored, so that the user learns why. */
struct policy_environment {
    const char *audit;             /* KYSO_AUDIT */
    const char *audit_timeout_ms;  /* KYSO_AUDIT_TIMEOUT_MS */
    const char *conf;              /* KYSO_CONF */
};

struct policy_request {
    enum policy_action action;
    const uint8_t *cert_der;       /* the key's certificate, or NULL */
    size_t cert_len;
    const char *token_serial;
    const char *mechanism;         /* "CKM_SHA256_RSA_PKCS" */
    uid_t uid;                     /* the calling user */
    time_t now;                    /* when (0: the current time) */
    /* M4, for an organisation's certificate: the calling user's name and
     * what the registry says of the token's custodian (1 registered, 0
     * none, -1 the registry cannot be trusted, with custodian_record the
     * reason). */
    const char *os_user;
    int custodian_known;
    const char *custodian_user;    /* the OS account the latest handover names */
    const char *custodian_record;  /* that record's id */
    const struct policy_environment *env;
};

/* Why a refusal: decides the PKCS#11 code the module returns (the key may
 * not do it, or the host's rules refuse everything). */
enum policy_refusal { POLICY_REFUSE_NONE, POLICY_REFUSE_KEY, POLICY_REFUSE_HOST };

struct policy_decision {
    bool allowed;
    enum policy_refusal refusal;
    char rule[8];                  /* when refused: "M1" … "M16", or "CONF" */
    char detail[192];              /* when refused: why, one line */
    char warning[160];             /* allowed, with a note for the record (a stale CRL under warn) */
    time_t cert_not_after;         /* allowed: the end of the certificate's validity (0: no certificate) */
};

/* Decides under configuration c (NULL: refused); never fails open: a
 * decision that cannot be made refuses. */
void policy_decide(const struct policy_config *c, const struct policy_request *request,
                   struct policy_decision *decision);

/* The audit trail to use under c and env: on allowed, sink ("daemon",
 * "daemon:/SOCKET", "file:/PATH" or "off") and timeout; otherwise the
 * rule and why. The system sink (what c says) is what records a refusal. */
struct policy_audit_choice {
    bool allowed;
    char sink[300];
    int timeout_ms;
    char rule[8];
    char detail[192];
};
void policy_choose_audit(const struct policy_config *c, const struct policy_environment *env,
                         struct policy_audit_choice *out);

#endif
