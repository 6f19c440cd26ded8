/* policy/: kyso.conf as parsed (origins, weaken = yes, every kind of
 * broken file, root-only ownership), the profiles as data, the audit trail
 * the environment may and may not choose, and rules M1/M12 on the test
 * PKI's certificates with the policy layer's clock moved. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/certcheck.h"
#include "policy/config.h"
#include "policy/decide.h"
#include "policy/profile.h"

#ifndef KYSO_TEST_PKI
#error "KYSO_TEST_PKI must name test-vectors/pki"
#endif

static struct policy_config *parse(const char *text)
{
    struct policy_config *c = policy_config_load_text(text, strlen(text), "kyso.conf");
    assert_non_null(c);
    return c;
}

static bool has_problem(const struct policy_config *c, const char *needle)
{
    for (size_t i = 0; i < c->nproblems; i++)
        if (strstr(c->problems[i], needle))
            return true;
    return false;
}

static void test_defaults(void **state)
{
    (void)state;
    struct policy_config *c = parse("");
    assert_false(c->broken);
    assert_string_equal(c->profile->id, "nd68-2024");
    assert_string_equal(c->audit_sink, "daemon");
    assert_int_equal(policy_value(c, POLICY_M13_PIN_EVERY), 0);
    assert_int_equal(policy_value(c, POLICY_M13_IDLE_LOGOUT), 1800);
    assert_int_equal(policy_value(c, POLICY_M13_AUDIT_DAEMON), 1);
    assert_string_equal(c->settings[POLICY_M1_CHECK_CHAIN].origin, "profile nd68-2024");
    policy_config_free(c);
}

/* The profiles are data: the values REGULATIONS.md gives each. */
static void test_profiles(void **state)
{
    (void)state;
    size_t n;
    const struct policy_profile *const *all = policy_profiles(&n);
    assert_int_equal(n, 5);
    const struct policy_profile *p = policy_profile_find("an-giang-2016");
    assert_int_equal(p->renewal_min_days_left, 60);
    assert_int_equal(p->report_period_months, 6);
    assert_int_equal(p->return_working_days, 5);
    p = policy_profile_find("nd68-2024");
    assert_int_equal(p->renewal_min_days_left, 30);
    assert_int_equal(p->recovery_working_days, 1);
    assert_non_null(strstr(p->form_recovery, "Mẫu 06"));
    p = policy_profile_find("tien-giang-2015");
    assert_int_equal(p->level, POLICY_LEVEL_TOI_MAT);
    assert_string_equal(p->report_due, "15/11");
    p = policy_profile_find("ha-tinh-2020");
    assert_non_null(strstr(p->form_loss, "Mẫu 15"));
    assert_true(p->no_state_secret_documents);
    assert_null(policy_profile_find("hanoi-2030"));
    assert_null(policy_profile_find(NULL));
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(policy_profile_find(all[i]->id), all[i]);

    /* A Tối mật profile's defaults are stricter. */
    struct policy_config *c = parse("profile = tien-giang-2015\n");
    assert_int_equal(policy_value(c, POLICY_M13_PIN_EVERY), 1);
    assert_int_equal(policy_value(c, POLICY_M1_CRL_REQUIRED), 1);
    assert_int_equal(policy_value(c, POLICY_M1_CRL_STALE), 0); /* refuse */
    assert_int_equal(policy_value(c, POLICY_M13_IDLE_LOGOUT), 600);
    policy_config_free(c);
}

static void test_overrides_and_origins(void **state)
{
    (void)state;
    struct policy_config *c = parse("# a comment\n"
                                    "profile = ha-tinh-2020\n"
                                    "[agency]\n"
                                    "name = Sở Tài chính\n"
                                    "[M13]\n"
                                    "pin_every_signature = yes\n"
                                    "idle_logout = 300\n");
    assert_false(c->broken);
    assert_string_equal(c->profile->id, "ha-tinh-2020");
    assert_string_equal(c->profile_origin, "kyso.conf:2");
    assert_string_equal(c->agency_name, "Sở Tài chính");
    assert_int_equal(policy_value(c, POLICY_M13_PIN_EVERY), 1);
    assert_string_equal(c->settings[POLICY_M13_PIN_EVERY].origin, "kyso.conf:6");
    assert_int_equal(policy_value(c, POLICY_M13_IDLE_LOGOUT), 300);
    assert_false(c->settings[POLICY_M13_IDLE_LOGOUT].weakened); /* shorter is stricter */
    policy_config_free(c);
}

static void test_weakening(void **state)
{
    (void)state;
    /* Without weaken = yes: refused, naming the line. */
    struct policy_config *c = parse("[M13]\nidle_logout = 0\n");
    assert_true(c->broken);
    assert_true(has_problem(c, "kyso.conf:2: [M13] idle_logout = 0 is weaker than profile nd68-2024"));
    policy_config_free(c);
    c = parse("[M13]\nidle_logout = 3600\n");
    assert_true(c->broken);
    policy_config_free(c);
    c = parse("[M2]\nadmin = yes\n");
    assert_true(c->broken);
    policy_config_free(c);
    /* weaken = yes in the same section: allowed and marked, before or after. */
    c = parse("[M13]\nweaken = yes\nidle_logout = 0\naudit_daemon_only = no\n");
    assert_false(c->broken);
    assert_true(c->settings[POLICY_M13_IDLE_LOGOUT].weakened);
    assert_true(c->settings[POLICY_M13_AUDIT_DAEMON].weakened);
    policy_config_free(c);
    /* weaken = yes of another rule does not count. */
    c = parse("[M1]\nweaken = yes\n[M13]\nidle_logout = 0\n");
    assert_true(c->broken);
    policy_config_free(c);
    /* Under Tối mật, "no" for the PIN rule is a weakening; under Mật it is the default. */
    c = parse("profile = tien-giang-2015\n[M13]\npin_every_signature = no\n");
    assert_true(c->broken);
    policy_config_free(c);
    c = parse("[M13]\npin_every_signature = no\n");
    assert_false(c->broken);
    assert_false(c->settings[POLICY_M13_PIN_EVERY].weakened);
    policy_config_free(c);
    /* The profile is resolved first, wherever it is written. */
    c = parse("[M1]\ncrl_stale = warn\n");
    assert_false(c->broken);
    policy_config_free(c);
    c = parse("[M1]\ncrl_stale = warn\n[agency]\nprovince = Tiền Giang\n");
    assert_false(c->broken);
    policy_config_free(c);
}

static void test_broken(void **state)
{
    (void)state;
    static const struct {
        const char *text, *problem;
    } cases[] = {
        { "profile = hanoi-2030\n", "kyso.conf:1: unknown profile \"hanoi-2030\"" },
        { "colour = blue\n", "kyso.conf:1: unknown key \"colour\"" },
        { "[M13]\nfoo = 1\n", "kyso.conf:2: rule M13 has no parameter \"foo\"" },
        { "[M99]\nx = 1\n", "rule M99 has no parameter" },
        { "[printer]\nx = 1\n", "kyso.conf:2: unknown section [printer]" },
        { "[M13]\nidle_logout = -1\n", "is not a valid value" },
        { "[M13]\nidle_logout = 99999999999999999999\n", "is not a valid value" },
        { "[M13]\npin_every_signature = maybe\n", "is not a valid value" },
        { "[audit]\nsink = file:relative\n", "[audit] sink must be" },
        { "[audit]\ntimeout_ms = 50\n", "timeout_ms must be 100 to 10000" },
        { "[pinentry]\nprogram = pinentry\n", "must be an absolute path" },
        { "[crl]\nurl = ftp://x\n", "must be http:// or file:///" },
        { "environment = lax\n", "environment must be" },
        { "[audit\nsink = off\n", "kyso.conf:1: not INI syntax" },
        { "profile nd68-2024\n", "kyso.conf:1: not INI syntax" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct policy_config *c = parse(cases[i].text);
        if (!c->broken || !has_problem(c, cases[i].problem))
            fail_msg("case %zu (%s): want \"%s\", got \"%s\"", i, cases[i].text, cases[i].problem,
                     c->nproblems ? c->problems[0] : "(none)");
        policy_config_free(c);
    }
    /* A line too long for the parser's buffer is refused, not split. */
    char text[400];
    memset(text, 'a', sizeof(text));
    memcpy(text, "[agency]\nname = ", 16);
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';
    struct policy_config *c = parse(text);
    assert_true(c->broken);
    assert_true(has_problem(c, "kyso.conf:2: line longer than"));
    policy_config_free(c);
    /* A NUL byte inside. */
    c = policy_config_load_text("profile = nd68-2024\n\0x = y\n", 26, "kyso.conf");
    assert_true(c->broken);
    policy_config_free(c);
}

/* The installed example parses as the default configuration. */
static void test_example(void **state)
{
    (void)state;
    FILE *f = fopen(KYSO_SRCDIR "/policy/kyso.conf", "r");
    assert_non_null(f);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    struct policy_config *c = parse(buf);
    if (c->broken)
        fail_msg("the example: %s", c->problems[0]);
    assert_string_equal(c->profile->id, "nd68-2024");
    policy_config_free(c);
}

/* conf.d after kyso.conf, in name order; ownership checks. */
static void test_directory(void **state)
{
    (void)state;
    char dir[] = "/tmp/kyso-policy-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], d[600];
    snprintf(path, sizeof(path), "%s/kyso.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("profile = an-giang-2016\n[M13]\nidle_logout = 900\n", f);
    fclose(f);
    snprintf(d, sizeof(d), "%s/conf.d", dir);
    mkdir(d, 0755);
    snprintf(path, sizeof(path), "%s/conf.d/20-b.conf", dir);
    f = fopen(path, "w");
    fputs("[M13]\nidle_logout = 120\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/conf.d/10-a.conf", dir);
    f = fopen(path, "w");
    fputs("[M13]\nidle_logout = 60\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/conf.d/notes.txt", dir);
    f = fopen(path, "w");
    fputs("not read\n", f);
    fclose(f);

    struct policy_config *c = policy_config_load_dir(dir, false);
    assert_false(c->broken);
    assert_string_equal(c->profile->id, "an-giang-2016");
    assert_int_equal(policy_value(c, POLICY_M13_IDLE_LOGOUT), 120); /* 20-b after 10-a */
    assert_non_null(strstr(c->settings[POLICY_M13_IDLE_LOGOUT].origin, "conf.d/20-b.conf:2"));
    policy_config_free(c);

    /* World-writable: refused whoever owns it. */
    chmod(path, 0666);
    snprintf(path, sizeof(path), "%s/conf.d/10-a.conf", dir);
    chmod(path, 0666);
    c = policy_config_load_dir(dir, getuid() == 0);
    if (getuid() == 0) {
        assert_true(c->broken);
        assert_true(has_problem(c, "writable by users other than root"));
    }
    policy_config_free(c);

    /* Missing: the default. */
    char none[600];
    snprintf(none, sizeof(none), "%s/none", dir);
    c = policy_config_load_dir(none, true);
    assert_false(c->broken);
    assert_string_equal(c->profile->id, "nd68-2024");
    policy_config_free(c);

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

static void test_audit_choice(void **state)
{
    (void)state;
    struct policy_audit_choice a;
    struct policy_config *c = parse("[audit]\nsink = daemon:/run/kyso/x.sock\n");
    struct policy_environment env = { 0 };
    policy_choose_audit(c, &env, &a);
    assert_true(a.allowed);
    assert_string_equal(a.sink, "daemon:/run/kyso/x.sock");
    env.audit = "off";
    policy_choose_audit(c, &env, &a);
    assert_false(a.allowed);
    assert_string_equal(a.rule, "M13");
    env.audit = "daemon:/run/kyso/x.sock"; /* the same: fine */
    policy_choose_audit(c, &env, &a);
    assert_true(a.allowed);
    env.audit = NULL;
    env.audit_timeout_ms = "200"; /* shorter: allowed */
    policy_choose_audit(c, &env, &a);
    assert_true(a.allowed);
    assert_int_equal(a.timeout_ms, 200);
    env.audit_timeout_ms = "9000"; /* longer: ignored */
    policy_choose_audit(c, &env, &a);
    assert_int_equal(a.timeout_ms, 1500);
    policy_config_free(c);

    /* trusted lets the environment choose, but Mật still wants the daemon. */
    c = parse("environment = trusted\n");
    env = (struct policy_environment){ .audit = "file:/tmp/x.log" };
    policy_choose_audit(c, &env, &a);
    assert_false(a.allowed);
    assert_string_equal(a.rule, "M13");
    policy_config_free(c);
    c = parse("environment = trusted\n[M13]\naudit_daemon_only = no\nweaken = yes\n");
    policy_choose_audit(c, &env, &a);
    assert_true(a.allowed);
    assert_string_equal(a.sink, "file:/tmp/x.log");
    policy_config_free(c);

    /* KYSO_CONF without trusted refuses the operation. */
    c = parse("");
    env = (struct policy_environment){ .conf = "/home/u/kyso.conf" };
    struct policy_request rq = { .action = POLICY_SIGN, .env = &env };
    struct policy_decision d;
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    assert_string_equal(d.rule, "CONF");
    assert_int_equal(d.refusal, POLICY_REFUSE_HOST);
    policy_config_free(c);
    /* A broken configuration refuses, naming its first problem. */
    c = parse("profile = x\n");
    rq.env = NULL;
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    assert_non_null(strstr(d.detail, "unknown profile"));
    policy_config_free(c);
    policy_decide(NULL, &rq, &d);
    assert_false(d.allowed);
}

static uint8_t *read_der(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", KYSO_TEST_PKI, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    uint8_t *der = NULL;
    int n = i2d_X509(x, &der);
    X509_free(x);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

static time_t at(int y, int m, int d)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12 };
    return timegm(&tm);
}

/* M1 by date, with the clock moved: the chain is judged elsewhere (the
 * trust anchors are root's), so check_chain is weakened here. */
static void test_validity_clock(void **state)
{
    (void)state;
    struct policy_config *c = parse("[M1]\ncheck_chain = no\nweaken = yes\n");
    size_t len;
    uint8_t *der = read_der("expired-sign-rsa2048.pem", &len);
    struct policy_cert_verdict v;
    policy_cert_check(c, der, len, at(2025, 3, 1), &v);
    assert_true(v.may_sign);
    policy_cert_check(c, der, len, at(2026, 12, 3), &v);
    assert_false(v.may_sign);
    assert_int_equal(v.state, POLICY_CERT_EXPIRED);
    assert_string_equal(v.rule, "M1");
    assert_non_null(strstr(v.why, "expired on 2025-06-30"));
    OPENSSL_free(der);

    der = read_der("notyet-sign-rsa2048.pem", &len);
    policy_cert_check(c, der, len, at(2039, 12, 31), &v);
    assert_int_equal(v.state, POLICY_CERT_NOT_YET_VALID);
    assert_false(v.may_sign);
    policy_cert_check(c, der, len, at(2040, 1, 2), &v);
    assert_true(v.may_sign);
    OPENSSL_free(der);

    /* Not a certificate; no certificate. */
    uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
    policy_cert_check(c, junk, sizeof(junk), at(2026, 1, 1), &v);
    assert_int_equal(v.state, POLICY_CERT_UNREADABLE);
    assert_false(v.may_sign);
    policy_cert_check(c, NULL, 0, at(2026, 1, 1), &v);
    assert_false(v.may_sign);
    policy_config_free(c);
    /* Admin mode: a new key signs its certificate request. */
    c = parse("[M1]\ncheck_chain = no\nweaken = yes\n[M2]\nadmin = yes\nweaken = yes\n");
    policy_cert_check(c, NULL, 0, at(2026, 1, 1), &v);
    assert_true(v.may_sign);
    assert_non_null(strstr(v.warning, "admin mode"));
    policy_config_free(c);
}

static void test_key_usage(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        bool sign, decrypt, derive;
    } cases[] = {
        { "person-an-sign-rsa2048.pem", true, false, false },
        { "person-an-auth-rsa2048.pem", true, true, false },
        { "person-an-keymgmt-rsa2048.pem", false, true, false },
        { "person-an-keymgmt-p256.pem", false, false, true },
        { "wrongku-sign-rsa2048.pem", false, true, false },
        { "wrongeku-sign-rsa2048.pem", false, false, false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *der = read_der(cases[i].file, &len);
        char why[192];
        if (policy_cert_allows(der, len, POLICY_USE_SIGN, why, sizeof(why)) != cases[i].sign ||
            policy_cert_allows(der, len, POLICY_USE_DECRYPT, why, sizeof(why)) != cases[i].decrypt ||
            policy_cert_allows(der, len, POLICY_USE_DERIVE, why, sizeof(why)) != cases[i].derive)
            fail_msg("%s: sign/decrypt/derive not %d/%d/%d", cases[i].file, cases[i].sign, cases[i].decrypt,
                     cases[i].derive);
        OPENSSL_free(der);
    }
}

/* Rules M7 and M8 in the decision: a token stopped by a registered record,
 * a registry that cannot be trusted, and signing off the registered hosts
 * only inside a permission's window (from inclusive, until exclusive). */
static void test_standing(void **state)
{
    (void)state;
    size_t len;
    uint8_t *der = read_der("person-an-sign-rsa2048.pem", &len);
    const char *here = "5e1f0c3a9b7d4e2f8a6c1b0d9e8f7a6b", *other = "0123456789abcdef0123456789abcdef";
    struct policy_config *c = parse("[M1]\ncheck_chain = no\nweaken = yes\n");
    time_t now = at(2026, 12, 3);
    struct policy_request rq = { .action = POLICY_SIGN, .cert_der = der, .cert_len = len, .now = now,
                                 .standing_known = 1, .machine_id = here };
    struct policy_decision d;
    policy_decide(c, &rq, &d);
    assert_true(d.allowed);
    rq.stopped_by = "KR-20261201-0a55e901";
    rq.stopped_kind = "loss";
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    assert_string_equal(d.rule, "M7");
    assert_int_equal(d.refusal, POLICY_REFUSE_KEY);
    assert_non_null(strstr(d.detail, "reported lost by registered record KR-20261201-0a55e901"));
    rq.stopped_kind = "revocation-request";
    policy_decide(c, &rq, &d);
    assert_non_null(strstr(d.detail, "reported for revocation"));
    rq.stopped_by = NULL;
    rq.standing_known = -1;
    rq.standing_why = "registry damaged: KR-x: tampered";
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    assert_string_equal(d.rule, "M7");
    assert_non_null(strstr(d.detail, "cannot be trusted"));
    rq.standing_known = 1;
    policy_config_free(c);

    /* hosts named: this one signs, another needs a permission */
    char text[256];
    snprintf(text, sizeof(text), "[M1]\ncheck_chain = no\nweaken = yes\n[M8]\nhosts = %s, %s\n", other, here);
    c = parse(text);
    assert_false(c->broken);
    assert_int_equal(c->nhosts, 2);
    policy_decide(c, &rq, &d);
    assert_true(d.allowed);
    policy_config_free(c);
    snprintf(text, sizeof(text), "[M1]\ncheck_chain = no\nweaken = yes\n[M8]\nhosts = %s\n", other);
    c = parse(text);
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    assert_string_equal(d.rule, "M8");
    assert_int_equal(d.refusal, POLICY_REFUSE_HOST);
    assert_non_null(strstr(d.detail, "has no off-premises permission"));
    rq.machine_id = NULL; /* unreadable: never a registered host */
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    rq.machine_id = here;
    struct policy_window w[2] = { { "KR-20261130-00000001", now - 7200, now - 3600 },
                                  { "KR-20261203-00000002", now, now + 3600 } };
    rq.permissions = w;
    rq.npermissions = 2;
    policy_decide(c, &rq, &d); /* at its start: in force */
    assert_true(d.allowed);
    rq.now = now + 3600;          /* at its end: over */
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    assert_non_null(strstr(d.detail, "KR-20261203-00000002 ended"));
    rq.now = now - 60;            /* between the two: the one that ended is named */
    policy_decide(c, &rq, &d);
    assert_false(d.allowed);
    assert_non_null(strstr(d.detail, "KR-20261130-00000001 ended"));
    rq.npermissions = 1;
    rq.permissions = &w[1];
    policy_decide(c, &rq, &d);    /* only a later one: it is named as beginning */
    assert_non_null(strstr(d.detail, "KR-20261203-00000002 begins"));
    /* a stopped token is refused even inside a permission */
    rq.now = now + 10;
    rq.stopped_by = "KR-20261201-0a55e901";
    policy_decide(c, &rq, &d);
    assert_string_equal(d.rule, "M7");
    policy_config_free(c);

    /* malformed machine ids refuse the configuration */
    c = parse("[M8]\nhosts = abc\n");
    assert_true(c->broken);
    policy_config_free(c);
    c = parse("[M8]\nhosts = 0123456789ABCDEF0123456789ABCDEF\n");
    assert_true(c->broken);
    policy_config_free(c);
    OPENSSL_free(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_overrides_and_origins), cmocka_unit_test(test_weakening),
        cmocka_unit_test(test_broken),         cmocka_unit_test(test_example),
        cmocka_unit_test(test_directory),      cmocka_unit_test(test_audit_choice),
        cmocka_unit_test(test_validity_clock), cmocka_unit_test(test_key_usage),
        cmocka_unit_test(test_standing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
