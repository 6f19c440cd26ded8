/* The rules' decision; see decide.h. The order is the order a user can
 * act on: the host's configuration, the environment, then the
 * certificate (M1), then its usage (M12). Every refusal names its rule. */
#include "config.h"

#include "policy/decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/certcheck.h"

static void refused(struct policy_decision *d, enum policy_refusal kind, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refused(struct policy_decision *d, enum policy_refusal kind, const char *rule, const char *fmt, ...)
{
    va_list ap;
    d->allowed = false;
    d->refusal = kind;
    snprintf(d->rule, sizeof(d->rule), "%s", rule);
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
    va_end(ap);
}

static bool is_daemon(const char *sink)
{
    return strcmp(sink, "daemon") == 0 || strncmp(sink, "daemon:", 7) == 0;
}

void policy_choose_audit(const struct policy_config *c, const struct policy_environment *env,
                         struct policy_audit_choice *out)
{
    memset(out, 0, sizeof(*out));
    if (!c) {
        snprintf(out->rule, sizeof(out->rule), "CONF");
        snprintf(out->detail, sizeof(out->detail), "no configuration (out of memory)");
        return;
    }
    snprintf(out->sink, sizeof(out->sink), "%s", c->audit_sink);
    out->timeout_ms = c->audit_timeout_ms;
    const char *want = env && env->audit && *env->audit ? env->audit : NULL;
    bool daemon_only = policy_value(c, POLICY_M13_AUDIT_DAEMON);
    if (want && strcmp(want, c->audit_sink) != 0) {
        if (!c->environment_trusted) {
            snprintf(out->rule, sizeof(out->rule), "M13");
            snprintf(out->detail, sizeof(out->detail),
                     "KYSO_AUDIT=%.40s asks for another audit trail than the system's (%.40s); only root "
                     "chooses it",
                     want, c->audit_sink);
            return;
        }
        snprintf(out->sink, sizeof(out->sink), "%s", want);
    }
    if (daemon_only && !is_daemon(out->sink)) {
        snprintf(out->rule, sizeof(out->rule), "M13");
        snprintf(out->detail, sizeof(out->detail),
                 "at level %s the audit trail goes only to the host's kyso-auditd, not \"%.60s\"",
                 policy_level_name(c->profile->level), out->sink);
        return;
    }
    /* A shorter wait only fails closed sooner: allowed from anyone. */
    if (env && env->audit_timeout_ms && *env->audit_timeout_ms) {
        char *end;
        long ms = strtol(env->audit_timeout_ms, &end, 10);
        if (!*end && ms >= 100 && ms <= 10000 && (ms < out->timeout_ms || c->environment_trusted))
            out->timeout_ms = (int)ms;
    }
    out->allowed = true;
}

void policy_decide(const struct policy_config *c, const struct policy_request *rq, struct policy_decision *d)
{
    memset(d, 0, sizeof(*d));
    if (!rq) {
        refused(d, POLICY_REFUSE_HOST, "CONF", "no request to decide");
        return;
    }
    if (!c) {
        refused(d, POLICY_REFUSE_HOST, "CONF", "no configuration (out of memory)");
        return;
    }
    if (c->broken) {
        refused(d, POLICY_REFUSE_HOST, "CONF", "the configuration is refused: %s", c->problems[0]);
        return;
    }
    if (rq->env && rq->env->conf && *rq->env->conf && !c->environment_trusted) {
        refused(d, POLICY_REFUSE_HOST, "CONF",
                "KYSO_CONF is set: the rules come only from %s/kyso.conf (root's)", policy_conf_dir());
        return;
    }
    struct policy_audit_choice audit;
    policy_choose_audit(c, rq->env, &audit);
    if (!audit.allowed) {
        refused(d, POLICY_REFUSE_HOST, audit.rule, "%s", audit.detail);
        return;
    }

    time_t now = rq->now ? rq->now : time(NULL);
    struct policy_cert_verdict v;
    policy_cert_check(c, rq->cert_der, rq->cert_len, now, &v);
    if (!v.may_sign) {
        refused(d, POLICY_REFUSE_KEY, v.rule, "%s", v.why);
        return;
    }
    static const enum policy_usage uses[] = { [POLICY_SIGN] = POLICY_USE_SIGN, [POLICY_DECRYPT] = POLICY_USE_DECRYPT,
                                              [POLICY_DERIVE] = POLICY_USE_DERIVE };
    char why[192];
    if (policy_value(c, POLICY_M12_KEY_USAGE) && rq->cert_der &&
        !policy_cert_allows(rq->cert_der, rq->cert_len, uses[rq->action], why, sizeof(why))) {
        refused(d, POLICY_REFUSE_KEY, "M12", "%s", why);
        return;
    }
    if (rq->cert_der && policy_value(c, POLICY_M13_CUSTODIAN) &&
        policy_cert_is_organisation(rq->cert_der, rq->cert_len)) {
        const char *user = rq->os_user ? rq->os_user : "?";
        if (rq->custodian_known < 0) {
            refused(d, POLICY_REFUSE_KEY, "M4", "the registry of records cannot be trusted: %.120s",
                    rq->custodian_record ? rq->custodian_record : "?");
            return;
        }
        if (rq->custodian_known == 0) {
            refused(d, POLICY_REFUSE_KEY, "M4",
                    "an organisation's token with no registered custodian (no handover record names one)");
            return;
        }
        if (!rq->custodian_user || strcmp(rq->custodian_user, user) != 0) {
            refused(d, POLICY_REFUSE_KEY, "M4", "the custodian of this organisation's token is %.40s (record %.30s), not %.40s",
                    rq->custodian_user ? rq->custodian_user : "?", rq->custodian_record ? rq->custodian_record : "?",
                    user);
            return;
        }
    }
    snprintf(d->warning, sizeof(d->warning), "%s", v.warning);
    d->cert_not_after = rq->cert_der ? v.not_after : 0;
    d->allowed = true;
}
