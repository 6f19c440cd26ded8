/* kyso-pkcs11.so and the rules of policy/: root's configuration read at
 * C_Initialize (and again when one of its files changes: policy_config_
 * acquire stats them), the audit trail it names, the decision before
 * every private-key operation, and the module-side rules the decision
 * has no seam for: M2 (token writes only in admin mode), M13's PIN on
 * every signature and idle logout.
 *
 * The environment is read here and handed to the policy layer, which
 * decides what it may change (decide.h): the process's environment is the
 * signer's. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "pkcs11/internal.h"
#include "policy/certcheck.h"
#include "policy/config.h"
#include "policy/crl.h"
#include "policy/decide.h"
#include "policy/trust.h"
#include "records/deadlines.h"
#include "records/record.h"
#include "records/registry.h"

/* ------------------------------------------------- M4: the custodian */

/* What the registry says of a token's custodian, kept until the registry
 * changes (its directory's stamp): the check reads no file per signature
 * and sends no APDU. */
#define CUSTODIAN_CACHE 8
static pthread_mutex_t custodian_lock = PTHREAD_MUTEX_INITIALIZER;
static struct records_stamp custodian_stamp;
static bool custodian_stamp_valid;
static struct {
    bool used;
    char serial[64];
    int known;           /* 1, 0, -1 as in policy_request */
    char user[64];       /* the OS account of the latest handover's receiver */
    char record[192];    /* its id, or why the registry cannot be trusted */
} custodians[CUSTODIAN_CACHE];
static size_t custodian_next;

static const char *json_str(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The latest registered handover of serial: its receiver is the custodian,
 * unless the token was handed back (kind "return"). */
static void custodian_read(const char *serial, int *known, char *user, size_t ulen, char *record, size_t rlen)
{
    json_object *h = NULL;
    char why[160] = "";
    struct stat st;
    /* No registry yet: nothing registered (anything else it cannot read
     * makes the answer untrustworthy). */
    int rc = stat(records_dir(), &st) != 0 && errno == ENOENT
                 ? 0
                 : records_latest_handover(records_dir(), serial, &h, why, sizeof(why));
    *known = rc < 0 ? -1 : rc == 0 ? 0 : 1;
    user[0] = record[0] = '\0';
    if (rc < 0) {
        snprintf(record, rlen, "%s", why);
        return;
    }
    if (rc == 0)
        return;
    /* Its signatures must hold: a signature file put beside it by anyone
     * but a registration (which verifies them) is not trusted either. */
    size_t nsig = 0;
    X509_STORE *anchors = policy_trust_load(why, sizeof(why));
    int signed_ok = records_check_signatures(records_dir(), h, anchors, &nsig, why, sizeof(why));
    X509_STORE_free(anchors);
    if (signed_ok != 0) {
        *known = -1;
        snprintf(record, rlen, "%s", why);
        json_object_put(h);
        return;
    }
    json_object *details = NULL, *parties = NULL;
    json_object_object_get_ex(h, "details", &details);
    const char *kind = json_str(details, "handover_kind");
    snprintf(record, rlen, "%s", json_str(h, "id") ? json_str(h, "id") : "?");
    if (kind && strcmp(kind, "return") == 0)
        *known = 0; /* handed back: nobody holds it */
    else if (json_object_object_get_ex(h, "parties", &parties) && json_object_is_type(parties, json_type_array))
        for (size_t i = 0; i < json_object_array_length(parties); i++) {
            json_object *party = json_object_array_get_idx(parties, i);
            const char *role = json_str(party, "role"), *os_user = json_str(party, "os_user");
            if (role && strcmp(role, "receives") == 0 && os_user)
                snprintf(user, ulen, "%s", os_user);
        }
    json_object_put(h);
}

static void custodian_of(const char *serial, int *known, char *user, size_t ulen, char *record, size_t rlen)
{
    struct records_stamp now;
    bool stamped = records_registry_stamp(records_dir(), &now) == 0;
    pthread_mutex_lock(&custodian_lock);
    if (!stamped || !custodian_stamp_valid || !records_stamp_equal(&now, &custodian_stamp)) {
        memset(custodians, 0, sizeof(custodians));
        custodian_stamp = now;
        custodian_stamp_valid = stamped;
    }
    for (size_t i = 0; i < CUSTODIAN_CACHE; i++)
        if (custodians[i].used && strcmp(custodians[i].serial, serial) == 0) {
            *known = custodians[i].known;
            snprintf(user, ulen, "%s", custodians[i].user);
            snprintf(record, rlen, "%s", custodians[i].record);
            pthread_mutex_unlock(&custodian_lock);
            return;
        }
    custodian_read(serial, known, user, ulen, record, rlen);
    size_t slot = custodian_next++ % CUSTODIAN_CACHE;
    custodians[slot].used = stamped;
    snprintf(custodians[slot].serial, sizeof(custodians[slot].serial), "%s", serial);
    custodians[slot].known = *known;
    snprintf(custodians[slot].user, sizeof(custodians[slot].user), "%s", user);
    snprintf(custodians[slot].record, sizeof(custodians[slot].record), "%s", record);
    pthread_mutex_unlock(&custodian_lock);
}

void p11_custodian_fork_prepare(void)
{
    pthread_mutex_lock(&custodian_lock);
}

void p11_custodian_fork_done(void)
{
    pthread_mutex_unlock(&custodian_lock);
}

static void environment(struct policy_environment *env)
{
    env->audit = getenv("KYSO_AUDIT");
    env->audit_timeout_ms = getenv("KYSO_AUDIT_TIMEOUT_MS");
    env->conf = getenv("KYSO_CONF");
}

/* Weakened rules and refused configurations: for the administrator. */
static void notice(const char *line)
{
    syslog(LOG_AUTHPRIV | LOG_WARNING, "kyso: %s", line);
    p11_debug("policy: %s", line);
}

/* The audit trail: the one the rules allow, or (when the environment
 * asked for another) the system's, which then records the refusals. */
static void configure_audit(const struct policy_config *c)
{
    struct policy_environment env;
    struct policy_audit_choice choice;
    environment(&env);
    policy_choose_audit(c, &env, &choice);
    const char *sink = choice.allowed ? choice.sink : c ? c->audit_sink : "daemon";
    if (audit_sink_configure(sink, choice.allowed ? choice.timeout_ms : c ? c->audit_timeout_ms : 1500) != 0)
        audit_sink_configure("daemon", 1500);
}

void p11_rules_load(void)
{
    policy_config_set_notice(notice);
    policy_config_reset();
    policy_cert_reset();
    struct policy_config *c = policy_config_acquire();
    if (c)
        p11_debug("policy: profile %s (%s), audit %s%s", c->profile->id, policy_level_name(c->profile->level),
                  c->audit_sink, c->broken ? ", configuration REFUSED: every private-key operation fails" : "");
    configure_audit(c);
    policy_config_release(c);
}

void p11_rules_unload(void)
{
    policy_config_reset();
    policy_cert_reset();
    policy_crl_reset();
}

bool p11_key_pin_always(const struct token_key *k)
{
    if (k->always_authenticate)
        return true;
    struct policy_config *c = policy_config_acquire();
    /* Without a configuration to say otherwise, the stricter answer. */
    bool every = !c || c->broken || policy_value(c, POLICY_M13_PIN_EVERY);
    policy_config_release(c);
    return every;
}

static long idle_logout_seconds(void)
{
    struct policy_config *c = policy_config_acquire();
    long s = c ? policy_value(c, POLICY_M13_IDLE_LOGOUT) : 60;
    policy_config_release(c);
    return s;
}

bool p11_rules_pinentry(char *program, size_t len, int *timeout_s)
{
    struct policy_config *c = policy_config_acquire();
    bool ok = c && !c->broken && c->pinentry_program[0] && strlen(c->pinentry_program) < len;
    if (ok) {
        memcpy(program, c->pinentry_program, strlen(c->pinentry_program) + 1);
        *timeout_s = c->pinentry_timeout_s;
    }
    policy_config_release(c);
    return ok;
}

bool p11_key_usage_allows(const struct token_key *k, enum p11_op_class use)
{
    static const enum policy_usage uses[] = { [P11_SIGN] = POLICY_USE_SIGN, [P11_DECRYPT] = POLICY_USE_DECRYPT,
                                              [P11_DERIVE] = POLICY_USE_DERIVE };
    if (!k->cert)
        return true; /* rule M1 decides a key without a certificate */
    struct policy_config *c = policy_config_acquire();
    bool check = !c || c->broken || policy_value(c, POLICY_M12_KEY_USAGE);
    policy_config_release(c);
    char why[192];
    return !check || policy_cert_allows(k->cert, k->cert_len, uses[use], why, sizeof(why));
}

bool p11_rules_protected_path(void)
{
    struct policy_config *c = policy_config_acquire();
    bool on = c && !c->broken && c->pinentry_protected_path && c->pinentry_program[0];
    policy_config_release(c);
    return on;
}

CK_RV p11_rules_admin_write(struct p11_slot *slot, const char *event, const struct token_key *key)
{
    struct policy_config *c = policy_config_acquire();
    bool admin = c && !c->broken && policy_value(c, POLICY_M2_ADMIN);
    policy_config_release(c);
    if (admin)
        return CKR_OK;
    char detail[128];
    snprintf(detail, sizeof(detail), "%s refused: the token is not written to unless [M2] admin = yes", event);
    p11_audit_note_rule(slot, "refusal", key, CKR_ACTION_PROHIBITED, "M2", detail);
    p11_debug("policy: %s", detail);
    return CKR_ACTION_PROHIBITED;
}

void p11_rules_idle_check(struct p11_slot *slot)
{
    time_t now = time(NULL);
    if (slot->logged_in && slot->last_use) {
        long idle = idle_logout_seconds();
        if (idle > 0 && now - slot->last_use > idle) {
            p11_debug("policy: slot idle for %lld s (M13 idle_logout = %ld): logged out", (long long)(now - slot->last_use),
                      idle);
            if (p11_slot_begin(slot) == CKR_OK) {
                slot->token.edge->logout(&slot->token);
                p11_slot_end(slot);
            }
            p11_slot_logout_state(slot);
            /* Operations that needed the login end with it. */
            for (struct p11_session *o = slot->sessions; o; o = o->next)
                p11_op_reset(&o->crypto);
            p11_audit_note_rule(slot, "logout", NULL, CKR_OK, "M13", "idle logout");
        }
    }
    slot->last_use = now;
}

/* ------------------------------------------ M10: renewal before expiry */

/* The note a signature's record gets when its certificate comes near
 * the end: from RECORDS_RENEWAL_NOTICE_DAYS before the profile's last
 * renewal day (or before expiry, when the profile names no number of
 * days). Computed from not_after alone, which the decision read from the
 * certificate it parsed (and keeps parsed): no file is read. */
static void renewal_note(const struct policy_profile *p, time_t not_after, time_t now, char *out, size_t len)
{
    struct records_cert_facts f = { .not_after = (int64_t)not_after, .revoked_day = -1, .returned_day = -1 };
    struct records_due d;
    out[0] = '\0';
    records_due_compute(p, NULL, &f, (int64_t)now, &d);
    if (d.ended)
        return;
    int64_t today = records_local_day((int64_t)now);
    char end[11], last[11];
    records_date_format(records_local_day((int64_t)not_after), end);
    if (d.renewal_last_day < 0) {
        if (d.days_left <= RECORDS_RENEWAL_NOTICE_DAYS)
            snprintf(out, len, "certificate expires in %lld days (%s); renewal request due now (%s: per law)",
                     (long long)d.days_left, end, p->id);
        return;
    }
    if (d.renewal_last_day - today > RECORDS_RENEWAL_NOTICE_DAYS)
        return;
    records_date_format(d.renewal_last_day, last);
    if (d.renewal == RECORDS_RENEWAL_ELIGIBLE)
        snprintf(out, len, "certificate expires in %lld days (%s); renewal request due by %s (%s)",
                 (long long)d.days_left, end, last, p->id);
    else
        snprintf(out, len, "certificate expires in %lld days (%s); too late to request renewal since %s (%s)",
                 (long long)d.days_left, end, last, p->id);
}

CK_RV p11_policy_decide(const struct p11_signature_event *ev, struct p11_record *refusal, char *warning,
                        size_t warning_len)
{
    static const enum policy_action actions[] = { [P11_SIGN] = POLICY_SIGN, [P11_DECRYPT] = POLICY_DECRYPT,
                                                  [P11_DERIVE] = POLICY_DERIVE };
    char mech[48];
    struct policy_environment env;
    environment(&env);
    struct policy_request rq = { .action = actions[ev->kind],
                                 .cert_der = ev->key->cert,
                                 .cert_len = ev->key->cert_len,
                                 .token_serial = ev->slot->token.info.serial,
                                 .mechanism = p11_mechanism_name(ev->mechanism, mech, sizeof(mech)),
                                 .uid = getuid(),
                                 .env = &env };
    /* M4: who calls, and the registry's custodian of an organisation's token. */
    char user[64] = "?", custodian[64] = "", record[192] = "";
    struct passwd pw, *found = NULL;
    char pwbuf[1024];
    if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found)
        snprintf(user, sizeof(user), "%s", found->pw_name);
    rq.os_user = user;
    if (ev->key->cert && policy_cert_is_organisation(ev->key->cert, ev->key->cert_len)) {
        custodian_of(ev->slot->token.info.serial, &rq.custodian_known, custodian, sizeof(custodian), record,
                     sizeof(record));
        rq.custodian_user = custodian[0] ? custodian : NULL;
        rq.custodian_record = record;
    }
    struct policy_decision d;
    struct policy_config *c = policy_config_acquire();
    policy_decide(c, &rq, &d);
    configure_audit(c); /* the configuration may have changed */
    const struct policy_profile *profile = c ? c->profile : NULL; /* (a static table) */
    policy_config_release(c);
    if (warning && warning_len) {
        char note[160] = "";
        if (d.allowed && ev->kind == P11_SIGN && d.cert_not_after > 0 && profile) {
            renewal_note(profile, d.cert_not_after, time(NULL), note, sizeof(note));
            if (note[0])
                p11_debug("policy: %s", note);
        }
        snprintf(warning, warning_len, "%s%s%s", d.allowed ? d.warning : "", d.allowed && d.warning[0] && note[0] ? "; " : "",
                 note);
    }
    if (d.allowed)
        return CKR_OK;
    /* A certificate that may not be used must not look like a wrong PIN:
     * the key may not do this; the host's rules refuse everything. */
    CK_RV rv = d.refusal == POLICY_REFUSE_KEY ? CKR_KEY_FUNCTION_NOT_PERMITTED : CKR_ACTION_PROHIBITED;
    /* Recorded as a refusal (by the caller, once the slot is unlocked). */
    p11_record_init(refusal, ev->slot, "refusal", ev->key);
    p11_record_input(refusal, ev->mechanism, ev->digest, ev->input_len);
    refusal->outcome = rv;
    snprintf(refusal->rule, sizeof(refusal->rule), "%s", d.rule[0] ? d.rule : "?");
    snprintf(refusal->detail, sizeof(refusal->detail), "%s", d.detail);
    p11_debug("policy: %s refused by rule %s: %s",
              ev->kind == P11_SIGN ? "signature" : ev->kind == P11_DECRYPT ? "decryption" : "derivation", refusal->rule,
              refusal->detail);
    syslog(LOG_AUTHPRIV | LOG_NOTICE, "kyso: %s with key %02X of token %s refused by rule %s: %s",
           ev->kind == P11_SIGN ? "signature" : ev->kind == P11_DECRYPT ? "decryption" : "derivation", ev->key->ref,
           ev->slot->token.info.serial, refusal->rule, refusal->detail);
    return rv;
}
