/* kyso-pkcs11.so: the seams of every private-key operation, decide and
 * record (sign.c, keys.c).
 *
 * An operation goes decide → operate → record → release. The policy layer
 * decides (policy/decide.h); a refusal is recorded with its rule and
 * returned. The card operates with the slot locked. The record is made
 * with the slot unlocked, so that a slow or stopped audit daemon costs
 * the operation its bounded wait (audit_timeout_ms) and never stalls the
 * slot's other calls: what the record names is copied into a struct
 * p11_record while the lock is held. Only when the record is durable is
 * the result released; a record that cannot be made fails the operation
 * (fail closed), and one that was made for a result that then could not
 * be released is followed by a "withheld" record.
 *
 * PIN events and administrative writes (p11_audit_note) are recorded the
 * same way, without a result to hold back: they wait on the slot until
 * its lock is released (p11_slot_unlock). */
#include "config.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "audit/audit.h"
#include "pkcs11/internal.h"

/* Every record between p11_record_init and p11_record_clear. Records are
 * made outside the slot locks, so a fork may find one half made: in the
 * child its thread is gone, and this list is how the child finds (and
 * frees) what it had copied. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct p11_record *live_records;

static void live_add(struct p11_record *r)
{
    pthread_mutex_lock(&live_lock);
    r->live_prev = NULL;
    r->live_next = live_records;
    if (live_records)
        live_records->live_prev = r;
    live_records = r;
    r->live = true;
    pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct p11_record *r)
{
    if (!r->live)
        return;
    pthread_mutex_lock(&live_lock);
    if (r->live_prev)
        r->live_prev->live_next = r->live_next;
    else
        live_records = r->live_next;
    if (r->live_next)
        r->live_next->live_prev = r->live_prev;
    r->live = false;
    pthread_mutex_unlock(&live_lock);
}

void p11_records_fork_prepare(void)
{
    pthread_mutex_lock(&live_lock);
}

void p11_records_fork_parent(void)
{
    pthread_mutex_unlock(&live_lock);
}

void p11_records_fork_child(void)
{
    /* (kept listed: the memory they sit in belonged to those threads) */
    for (struct p11_record *r = live_records; r; r = r->live_next) {
        if (r->cert)
            OPENSSL_clear_free(r->cert, r->cert_len);
        r->cert = NULL;
        r->cert_len = 0;
        r->active = false;
    }
    pthread_mutex_unlock(&live_lock);
}

void p11_record_init(struct p11_record *r, const struct p11_slot *slot, const char *event,
                     const struct token_key *key)
{
    memset(r, 0, sizeof(*r)); /* (fresh memory: a record is made once) */
    live_add(r);
    r->active = true;
    snprintf(r->event, sizeof(r->event), "%s", event);
    snprintf(r->reader, sizeof(r->reader), "%s", slot->reader);
    snprintf(r->token, sizeof(r->token), "%s", slot->token.info.serial);
    if (key) {
        snprintf(r->key, sizeof(r->key), "%02X", key->ref);
        if (key->cert && key->cert_len <= AUDIT_MAX_CERT) {
            r->cert = OPENSSL_memdup(key->cert, key->cert_len);
            r->cert_len = r->cert ? key->cert_len : 0;
        }
    }
}

void p11_record_input(struct p11_record *r, CK_MECHANISM_TYPE mechanism, const uint8_t sha256[32], size_t input_len)
{
    char buf[sizeof(r->mechanism)];
    snprintf(r->mechanism, sizeof(r->mechanism), "%s", p11_mechanism_name(mechanism, buf, sizeof(buf)));
    r->has_input = true;
    r->input_len = input_len;
    if (sha256) {
        memcpy(r->input_sha256, sha256, 32);
        r->has_sha = true;
    }
}

bool p11_record_proof(struct p11_record *r, const char *scheme, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                      size_t sig_len)
{
    if (tbs_len > sizeof(r->tbs) || sig_len > sizeof(r->sig) || strlen(scheme) >= sizeof(r->scheme))
        return false;
    snprintf(r->scheme, sizeof(r->scheme), "%s", scheme);
    memcpy(r->tbs, tbs, tbs_len);
    r->tbs_len = tbs_len;
    memcpy(r->sig, sig, sig_len);
    r->sig_len = sig_len;
    return true;
}

void p11_record_clear(struct p11_record *r)
{
    live_remove(r);
    if (r->cert)
        OPENSSL_free(r->cert);
    OPENSSL_cleanse(r, sizeof(*r));
}

static void to_event(const struct p11_record *r, struct audit_event *a, char *rvbuf, size_t rvlen)
{
    memset(a, 0, sizeof(*a));
    a->event = r->event;
    a->reader = r->reader;
    a->token = r->token;
    a->key = r->key[0] ? r->key : NULL;
    a->cert_der = r->cert;
    a->cert_len = r->cert_len;
    a->mechanism = r->mechanism[0] ? r->mechanism : NULL;
    a->has_input = r->has_input;
    a->input_len = r->input_len;
    a->input_sha256 = r->has_sha ? r->input_sha256 : NULL;
    a->outcome = p11_rv_name(r->outcome, rvbuf, rvlen);
    a->rule = r->rule[0] ? r->rule : NULL;
    a->detail = r->detail[0] ? r->detail : NULL;
    if (r->scheme[0] && r->outcome == CKR_OK) {
        a->scheme = r->scheme;
        a->tbs = r->tbs;
        a->tbs_len = r->tbs_len;
        a->sig = r->sig;
        a->sig_len = r->sig_len;
    }
}

CK_RV p11_record_make(struct p11_record *r)
{
    struct audit_event a;
    char rv[32], err[512];
    to_event(r, &a, rv, sizeof(rv));
    if (audit_disabled()) {
        p11_debug("audit trail OFF (the rules were weakened to allow it): %s with key %s not recorded", a.event, r->key);
        return CKR_OK;
    }
    if (audit_submit(&a, &r->receipt, err, sizeof(err)) != 0) {
        /* The administrator must learn of it: syslog, as the module has no
         * output of its own. */
        syslog(LOG_AUTHPRIV | LOG_ERR, "kyso: cannot record a %s (key %s): %s; the result was withheld", a.event,
               r->key, err);
        p11_debug("audit: cannot record the %s: %s: the result is withheld", a.event, err);
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

void p11_record_withhold(struct p11_record *r, const char *why)
{
    struct audit_event a;
    char rv[32], err[512];
    to_event(r, &a, rv, sizeof(rv));
    if (!audit_disabled() && audit_withhold(&a, &r->receipt, why, err, sizeof(err)) != 0)
        p11_debug("audit: cannot withhold the %s yet (%s): kept to send later", a.event, err);
}

CK_RV p11_record_release(struct p11_record *r, CK_RV rv, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    if (!r->active)
        return rv;
    CK_RV recorded = p11_record_make(r);
    if (rv == CKR_OK && recorded != CKR_OK)
        rv = recorded;
    if (rv == CKR_OK && out) {
        memcpy(out, r->sig, r->sig_len);
        *out_len = r->sig_len;
    }
    p11_record_clear(r);
    return rv;
}

void p11_audit_note(struct p11_slot *slot, const char *event, const struct token_key *key, CK_RV outcome,
                    const char *detail)
{
    p11_audit_note_rule(slot, event, key, outcome, NULL, detail);
}

void p11_audit_note_rule(struct p11_slot *slot, const char *event, const struct token_key *key, CK_RV outcome,
                         const char *rule, const char *detail)
{
    struct p11_record *r = malloc(sizeof(*r));
    if (!r) {
        p11_debug("audit: cannot record %s: out of memory", event);
        return;
    }
    p11_record_init(r, slot, event, key);
    r->outcome = outcome;
    if (rule)
        snprintf(r->rule, sizeof(r->rule), "%s", rule);
    if (detail)
        snprintf(r->detail, sizeof(r->detail), "%s", detail);
    /* Kept in order; made when the slot's lock is released. */
    struct p11_record **tail = &slot->notes;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
}

void p11_notes_make(struct p11_record *notes)
{
    while (notes) {
        struct p11_record *next = notes->next;
        if (p11_record_make(notes) != CKR_OK)
            p11_debug("audit: the %s was not recorded", notes->event);
        p11_record_clear(notes);
        free(notes);
        notes = next;
    }
}
