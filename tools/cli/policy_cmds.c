/* kyso policy show | check: the rules in force on this host, and whether
 * root's configuration is sound (policy/config.h). Both read the system
 * configuration exactly as the module does. */
#include "config.h"

#include "tools/cli/policy_cmds.h"

#include <dirent.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/config.h"
#include "policy/crl.h"
#include "policy/profile.h"
#include "policy/trust.h"

static void per_law(const char *what, int value, const char *unit)
{
    if (value == POLICY_PER_LAW)
        printf("  %-22s per the national rule\n", what);
    else
        printf("  %-22s %d %s\n", what, value, unit);
}

static void form(const char *what, const char *name)
{
    printf("  %-22s %s\n", what, name ? name : "(no numbered form: kyso's own layout)");
}

static int show(void)
{
    struct policy_config *c = policy_config_load_dir(policy_conf_dir(), true);
    if (!c) {
        fprintf(stderr, "kyso: out of memory\n");
        return 1;
    }
    const struct policy_profile *p = c->profile;
    printf("configuration: %s/kyso.conf and conf.d/*.conf\n", policy_conf_dir());
    if (c->broken) {
        printf("REFUSED: every private-key operation fails until these are mended:\n");
        for (size_t i = 0; i < c->nproblems; i++)
            printf("  %s\n", c->problems[i]);
    }
    printf("profile: %s, level %s  [%s]\n", p->id, policy_level_name(p->level), c->profile_origin);
    printf("  %s, applying %s\n", p->regulation, p->basis);
    printf("environment: %s\n", c->environment_trusted ? "trusted (a development machine: the environment may "
                                                         "loosen what the rules allow)"
                                                       : "system (the environment may only make things stricter)");
    printf("agency: %s%s%s%s%s\n", c->agency_name[0] ? c->agency_name : "(not set)", c->agency_parent[0] ? ", under " : "",
           c->agency_parent, c->agency_province[0] ? ", " : "", c->agency_province);
    printf("audit trail: %s, %d ms per record at most  [%s]\n", c->audit_sink, c->audit_timeout_ms,
           c->audit_sink_origin);
    printf("pinentry: %s\n", c->pinentry_program[0] ? c->pinentry_program : "(none: a key that needs a PIN the "
                                                                            "application did not give is refused)");
    for (size_t i = 0; i < c->ncrl_urls; i++)
        printf("crl url: %s\n", c->crl_urls[i]);
    if (c->nhosts == 0)
        printf("M8 hosts: any (no [M8] hosts: a token signs on every host)\n");
    for (size_t i = 0; i < c->nhosts; i++)
        printf("M8 host: %s%s  [%s]\n", c->hosts[i], i == 0 ? " (elsewhere only with an off-premises permission)" : "",
               c->hosts_origin);

    printf("rules:\n");
    for (size_t i = 0; i < POLICY_NPARAMS; i++) {
        const struct policy_param *pp = policy_param_get(i);
        const struct policy_setting *s = &c->settings[i];
        char v[32], d[32], name[40];
        snprintf(name, sizeof(name), "[%s] %s", pp->rule, pp->key);
        printf("  %-28s = %-6s  %s%s%s%s\n", name, policy_param_format(pp, s->value, v, sizeof(v)), s->origin,
               s->weakened ? "  WEAKENED (profile: " : "",
               s->weakened ? policy_param_format(pp, pp->dflt[p->level], d, sizeof(d)) : "", s->weakened ? ")" : "");
        printf("  %-28s   %s\n", "", pp->what);
    }
    printf("  M3: private keys are always sensitive and never extractable (no parameter)\n");

    printf("profile %s:\n", p->id);
    printf("  %-22s %s\n", "renewal", p->renewal_once ? "once" : "per the national rule");
    per_law("  days left to renew", p->renewal_min_days_left, "days at least");
    per_law("  a renewal adds", p->renewal_adds_max_years, "years at most");
    per_law("info change", p->info_change_min_days_left, "days left at least");
    per_law("return of a token", p->return_working_days, "working days after the revocation");
    per_law("recovery (locked)", p->recovery_working_days, "working day(s) after a valid request");
    printf("  %-22s every %d months%s%s%s\n", "report", p->report_period_months, p->report_due ? ", before " : "",
           p->report_due ? p->report_due : "", p->report_yearly_plan ? ", with the next year's plan" : "");
    form("recovery request", p->form_recovery);
    form("handover record", p->form_handover);
    form("return record", p->form_return);
    form("revocation request", p->form_revocation);
    form("loss record", p->form_loss);
    form("renewal request", p->form_renewal);
    printf("  %-22s %s\n", "subscriber manager", p->body_subscriber_manager);
    printf("  %-22s %s\n", "recovers tokens", p->body_recovery);
    printf("  %-22s %s\n", "certificate authority", p->body_ca);
    if (p->no_state_secret_documents)
        printf("  %-22s %s\n", "M15", "not for documents that hold state secrets");
    int rc = c->broken ? 1 : 0;
    policy_config_free(c);
    return rc;
}

static bool root_dir(const char *path, int *problems)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("%s: missing\n", path);
        ++*problems;
        return false;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & S_IWOTH) ||
        ((st.st_mode & S_IWGRP) && st.st_gid != 0)) {
        printf("%s: must be a directory of root's, writable by root only\n", path);
        ++*problems;
        return false;
    }
    return true;
}

/* The CRL cache: each file a CRL, not past its next update (what a stale
 * CRL does to signatures is [M1] crl_stale's; here it is a problem to mend). */
static int check_crls(void)
{
    int problems = 0;
    DIR *d = opendir(policy_crl_dir());
    struct dirent *e;
    time_t now = time(NULL);
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 4, ".crl") != 0)
            continue;
        char path[1024], why[160] = "";
        snprintf(path, sizeof(path), "%s/%s", policy_crl_dir(), e->d_name);
        size_t len = 0;
        unsigned char *data = policy_crl_read_file(path, POLICY_CRL_MAX_SIZE, &len, why, sizeof(why));
        X509_CRL *crl = data ? policy_crl_parse(data, len) : NULL;
        free(data);
        if (!crl) {
            printf("%s: not a CRL%s%s\n", path, why[0] ? ": " : "", why);
            problems++;
            continue;
        }
        time_t next = policy_crl_time(X509_CRL_get0_nextUpdate(crl));
        if (!next || next < now) {
            printf("%s: stale (past its next update): run kyso crl update\n", path);
            problems++;
        }
        X509_CRL_free(crl);
    }
    if (d)
        closedir(d);
    return problems;
}

static int check(void)
{
    int problems = 0;
    struct policy_config *c = policy_config_load_dir(policy_conf_dir(), true);
    if (!c) {
        fprintf(stderr, "kyso: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < c->nproblems; i++, problems++)
        printf("%s\n", c->problems[i]);
    if (c->nproblems == POLICY_MAX_PROBLEMS)
        printf("(and possibly more problems)\n");

    char why[256];
    if (root_dir(policy_trust_dir(), &problems)) {
        X509_STORE *anchors = policy_trust_load(why, sizeof(why));
        if (!anchors) {
            printf("%s\n", why);
            problems++;
        }
        X509_STORE_free(anchors);
    }
    /* The CRL cache: root's; its CRLs are checked by `kyso crl status`. */
    struct stat st;
    if (stat(policy_crl_dir(), &st) == 0) {
        if (root_dir(policy_crl_dir(), &problems))
            problems += check_crls();
    } else if (policy_value(c, POLICY_M1_CRL_REQUIRED)) {
        printf("%s: no CRL cache, and [M1] crl_required = yes: run kyso crl update\n", policy_crl_dir());
        problems++;
    }
    if (c->pinentry_program[0]) {
        if (stat(c->pinentry_program, &st) != 0 || !S_ISREG(st.st_mode) || access(c->pinentry_program, X_OK) != 0) {
            printf("[pinentry] program %s: not an executable file\n", c->pinentry_program);
            problems++;
        } else if (st.st_uid != 0 || (st.st_mode & (S_IWOTH | S_IWGRP))) {
            printf("[pinentry] program %s: must be root's and writable by root only (it is handed the PIN)\n",
                   c->pinentry_program);
            problems++;
        }
    }
    for (size_t i = 0; i < POLICY_NPARAMS; i++)
        if (c->settings[i].weakened)
            printf("note: [%s] %s is weakened below profile %s (%s)\n", policy_param_get(i)->rule,
                   policy_param_get(i)->key, c->profile->id, c->settings[i].origin);
    if (!problems)
        printf("configuration OK: profile %s, level %s\n", c->profile->id, policy_level_name(c->profile->level));
    policy_config_free(c);
    return problems ? 1 : 0;
}

int policy_cmd(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "show") == 0)
        return show();
    if (argc == 2 && strcmp(argv[1], "check") == 0)
        return check();
    fprintf(stderr, "usage: kyso policy show | kyso policy check\n");
    return 2;
}
