/* kyso-pkcs11.so: the two seams of the signing path, decide and record.
 *
 * Every private-key operation goes decide → sign → record → release
 * (sign.c, keys.c). The policy layer (rules M1…M16) will answer
 * p11_policy_decide; until it is in, every operation is allowed. The
 * record is made durable through the audit layer before anything is
 * released; if that fails the caller wipes the result and fails. Both are
 * called with the slot lock held. */
#include "config.h"

#include <stdio.h>
#include <syslog.h>

#include "audit/audit.h"
#include "pkcs11/internal.h"

CK_RV p11_policy_decide(const struct p11_signature_event *ev)
{
    (void)ev;
    return CKR_OK;
}

static void fill_event(struct audit_event *a, const struct p11_slot *slot, const char *event,
                       const struct token_key *key, char *ref, CK_RV outcome, char *rvbuf, size_t rvlen)
{
    a->event = event;
    a->reader = slot->reader;
    a->token = slot->token.info.serial;
    if (key) {
        snprintf(ref, 3, "%02X", key->ref);
        a->key = ref;
        a->cert_der = key->cert;
        a->cert_len = key->cert_len;
    }
    a->outcome = p11_rv_name(outcome, rvbuf, rvlen);
}

CK_RV p11_audit_record(const struct p11_signature_event *ev, CK_RV outcome)
{
    struct audit_event a = { 0 };
    char ref[3], mech[24], rv[24], err[512];
    fill_event(&a, ev->slot, ev->event ? ev->event : "sign", ev->key, ref, outcome, rv, sizeof(rv));
    a.mechanism = p11_mechanism_name(ev->mechanism, mech, sizeof(mech));
    a.has_input = true;
    a.input_len = ev->input_len;
    a.input_sha256 = ev->digest;
    if (audit_disabled()) {
        p11_debug("audit trail OFF (KYSO_AUDIT=off): %s with key %s not recorded", a.event, ref);
        return CKR_OK;
    }
    if (audit_submit(&a, err, sizeof(err)) != 0) {
        /* The administrator must learn of it: syslog, as the module has no
         * output of its own. */
        syslog(LOG_AUTHPRIV | LOG_ERR, "kyso: cannot record a %s (key %s): %s; the result was withheld", a.event, ref,
               err);
        p11_debug("audit: cannot record the %s: %s: the result is withheld", a.event, err);
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

void p11_audit_note(const struct p11_slot *slot, const char *event, const struct token_key *key, CK_RV outcome,
                    const char *detail)
{
    struct audit_event a = { 0 };
    char ref[3], rv[24], err[512];
    fill_event(&a, slot, event, key, ref, outcome, rv, sizeof(rv));
    a.detail = detail;
    if (!audit_disabled() && audit_submit(&a, err, sizeof(err)) != 0)
        p11_debug("audit: cannot record %s: %s", event, err);
}
