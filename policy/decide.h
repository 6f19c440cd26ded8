/* The rules' decision on one private-key operation: may this user do
 * this with this key now? The module asks before every signature,
 * decryption and derivation, and records a refusal with the rule that
 * made it. Free of PKCS#11 and token types, so that the decision can move
 * into a privileged signing service unchanged (DESIGN.md). */
#ifndef KYSO_POLICY_DECIDE_H
#define KYSO_POLICY_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum policy_action { POLICY_SIGN, POLICY_DECRYPT, POLICY_DERIVE };

struct policy_request {
    enum policy_action action;
    const uint8_t *cert_der;       /* the key's certificate, or NULL */
    size_t cert_len;
    const char *token_serial;
    const char *mechanism;         /* "CKM_SHA256_RSA_PKCS" */
    uid_t uid;                     /* the calling user */
};

struct policy_decision {
    bool allowed;
    char rule[8];                  /* when refused: "M1" … "M16" */
    char detail[192];              /* when refused: why, one line */
};

/* Decides; never fails open: a decision that cannot be made refuses. */
void policy_decide(const struct policy_request *request, struct policy_decision *decision);

#endif
