/* The rule parameters kyso.conf may set: each rule of REGULATIONS.md by
 * its id, the parameter's key, its type, its default at each level and
 * which way is weaker (config.h). The defaults of a level are the
 * profile's: a Tối mật profile asks for more than a Mật one. */
#include "config.h"

#include "policy/config.h"

#include <stdio.h>
#include <string.h>

/* Whether "yes" is the weaker value of a boolean (M2 admin: yes lets the
 * token be written). Every other boolean is weaker when "no". */
static bool yes_is_weaker(enum policy_param_id id)
{
    return id == POLICY_M2_ADMIN;
}

static const char *const stale_choices[] = { "refuse", "warn", NULL };

static const struct policy_param params[POLICY_NPARAMS] = {
    [POLICY_M1_CHECK_VALIDITY] = { POLICY_M1_CHECK_VALIDITY, "M1", "check_validity", POLICY_BOOL, NULL, 0, { 1, 1 },
                                   "refuse a certificate that is expired or not yet valid" },
    [POLICY_M1_CHECK_CHAIN] = { POLICY_M1_CHECK_CHAIN, "M1", "check_chain", POLICY_BOOL, NULL, 0, { 1, 1 },
                                "refuse a certificate that does not chain to a trust anchor" },
    [POLICY_M1_CRL_REQUIRED] = { POLICY_M1_CRL_REQUIRED, "M1", "crl_required", POLICY_BOOL, NULL, 0, { 0, 1 },
                                 "refuse when no CRL of the certificate's issuer is cached" },
    [POLICY_M1_CRL_STALE] = { POLICY_M1_CRL_STALE, "M1", "crl_stale", POLICY_CHOICE, stale_choices, 0, { 1, 0 },
                              "a CRL past its next update: refuse, or sign and warn in the record" },
    [POLICY_M2_ADMIN] = { POLICY_M2_ADMIN, "M2", "admin", POLICY_BOOL, NULL, 0, { 0, 0 },
                          "token writes (objects, keys, PIN init, management key) allowed and audited" },
    [POLICY_M12_KEY_USAGE] = { POLICY_M12_KEY_USAGE, "M12", "key_usage", POLICY_BOOL, NULL, 0, { 1, 1 },
                               "the certificate's key usage must allow the operation" },
    [POLICY_M13_PIN_EVERY] = { POLICY_M13_PIN_EVERY, "M13", "pin_every_signature", POLICY_BOOL, NULL, 0, { 0, 1 },
                               "the PIN for every private-key operation of every key" },
    [POLICY_M13_IDLE_LOGOUT] = { POLICY_M13_IDLE_LOGOUT, "M13", "idle_logout", POLICY_SECONDS, NULL, 86400,
                                 { 1800, 600 }, "seconds without a call before the token is logged out (0: never)" },
    [POLICY_M13_AUDIT_DAEMON] = { POLICY_M13_AUDIT_DAEMON, "M13", "audit_daemon_only", POLICY_BOOL, NULL, 0, { 1, 1 },
                                  "the audit trail only through the host's kyso-auditd" },
    [POLICY_M13_CUSTODIAN] = { POLICY_M13_CUSTODIAN, "M13", "custodian_binding", POLICY_BOOL, NULL, 0, { 1, 1 },
                               "an organisation's token signs only for its registered custodian" },
};

const struct policy_param *policy_param_get(enum policy_param_id id)
{
    return id < POLICY_NPARAMS ? &params[id] : NULL;
}

const struct policy_param *policy_param_find(const char *rule, const char *key)
{
    for (size_t i = 0; i < POLICY_NPARAMS; i++)
        if (strcmp(params[i].rule, rule) == 0 && strcmp(params[i].key, key) == 0)
            return &params[i];
    return NULL;
}

bool policy_param_weaker(const struct policy_param *p, long value, long reference)
{
    switch (p->type) {
    case POLICY_BOOL:
        return yes_is_weaker(p->id) ? value > reference : value < reference;
    case POLICY_SECONDS: /* longer is weaker, and 0 (never) weakest */
        if (value == reference)
            return false;
        return value == 0 || (reference != 0 && value > reference);
    case POLICY_CHOICE: /* strictest first */
        return value > reference;
    }
    return true;
}

const char *policy_param_format(const struct policy_param *p, long value, char *buf, size_t len)
{
    switch (p->type) {
    case POLICY_BOOL:
        snprintf(buf, len, "%s", value ? "yes" : "no");
        break;
    case POLICY_SECONDS:
        snprintf(buf, len, "%ld", value);
        break;
    case POLICY_CHOICE:
        snprintf(buf, len, "%s", value >= 0 && p->choices[value] ? p->choices[value] : "?");
        break;
    }
    return buf;
}
