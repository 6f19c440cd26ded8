/* kyso-pkcs11.so: the two seams of the signing path, decide and record.
 *
 * Every private-key operation goes decide → sign → record → release
 * (sign.c). The policy layer (rules M1…M16) will answer p11_policy_decide
 * and the audit layer will make p11_audit_record durable; until they are
 * in, every operation is allowed and the record goes to the debug log
 * only. Both are called with the slot lock held. */
#include "config.h"

#include "pkcs11/internal.h"

CK_RV p11_policy_decide(const struct p11_signature_event *ev)
{
    (void)ev;
    return CKR_OK;
}

CK_RV p11_audit_record(const struct p11_signature_event *ev, CK_RV outcome)
{
    p11_debug("record: slot %lu key %02X mechanism 0x%lx input %zu bytes outcome 0x%lx", ev->slot->id, ev->key->ref,
              ev->mechanism, ev->input_len, outcome);
    return CKR_OK;
}
