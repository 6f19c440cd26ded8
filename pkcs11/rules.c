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
#include "records/standing.h"

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

static bool pin_every_use(void)
{
    struct policy_config *c = policy_config_acquire();
    /* Without a configuration to say otherwise, the stricter answer. */
    bool every = !c || c->broken || policy_value(c, POLICY_M13_PIN_EVERY);
    policy_config_release(c);
    return every;
}

bool p11_key_pin_always(const struct token_key *k)
{
    return k->always_authenticate || pin_every_use();
}

CK_RV p11_key_learn_pin_policy(struct p11_slot *slot, struct token_key *k)
{
    if (!k->details_pending || pin_every_use())
        return CKR_OK;
    return p11_slot_key_details(slot, k);
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
    /* M4: who calls, and the registry's custodian of an organisation's
     * token; M7, M8: the token's standing and this host. */
    char user[64] = "?";
    struct passwd pw, *found = NULL;
    char pwbuf[1024];
    if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found)
        snprintf(user, sizeof(user), "%s", found->pw_name);
    rq.os_user = user;
    struct p11_registry_view view;
    p11_registry_view_of(ev->slot->token.info.serial, &view);
    if (ev->key->cert && policy_cert_is_organisation(ev->key->cert, ev->key->cert_len)) {
        rq.custodian_known = view.custodian_known;
        rq.custodian_user = view.custodian_user[0] ? view.custodian_user : NULL;
        rq.custodian_record = view.custodian_record;
    }
    struct policy_window windows[RECORDS_MAX_PERMISSIONS];
    rq.standing_known = view.standing_known;
    rq.standing_why = view.standing_why;
    rq.stopped_by = view.standing.stopped_by[0] ? view.standing.stopped_by : NULL;
    rq.stopped_kind = view.standing.stopped_kind;
    rq.machine_id = p11_machine_id();
    for (size_t i = 0; i < view.standing.npermissions && i < RECORDS_MAX_PERMISSIONS; i++)
        windows[i] = (struct policy_window){ view.standing.permissions[i].id, view.standing.permissions[i].from,
                                             view.standing.permissions[i].until };
    rq.permissions = windows;
    rq.npermissions = view.standing.npermissions;
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
