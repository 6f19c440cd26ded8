/* The CRL cache (policy/crl.c): policy_crl_check_in on a cache in a
 * temporary directory, with the test PKI's CRLs and CRLs signed at test
 * time with its committed CA keys (stale, badly signed, delta), and the
 * writer policy_crl_store_in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/testpki.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/crl.h"

#define PKI KYSO_TEST_PKI
#define DAY 86400

static X509 *issuing, *root, *good, *revoked;
static EVP_PKEY *issuing_key, *root_key;
static char dir[64];
static time_t now;

static X509 *load_cert(const char *name)
{
    return pki_cert(PKI, name);
}

static EVP_PKEY *load_key(const char *name)
{
    return pki_key(PKI, name);
}

static X509_CRL *load_crl(const char *name)
{
    FILE *f = pki_open(PKI, name);
    X509_CRL *c = PEM_read_X509_CRL(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(c);
    return c;
}

/* A CRL in issuing's name, signed with key. */
static X509_CRL *make_crl(EVP_PKEY *key, long number, time_t last, time_t next, X509 *revoke, bool delta)
{
    X509_CRL *crl = X509_CRL_new();
    assert_non_null(crl);
    assert_int_equal(X509_CRL_set_version(crl, 1), 1);
    assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuing)), 1);
    ASN1_TIME *t = ASN1_TIME_set(NULL, last);
    assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
    assert_non_null(ASN1_TIME_set(t, next));
    assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
    if (revoke) {
        X509_REVOKED *r = X509_REVOKED_new();
        assert_non_null(r);
        assert_int_equal(X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)X509_get0_serialNumber(revoke)), 1);
        assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
        assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
    }
    ASN1_TIME_free(t);
    ASN1_INTEGER *n = ASN1_INTEGER_new();
    assert_int_equal(ASN1_INTEGER_set(n, number), 1);
    assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0), 1);
    if (delta)
        assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, n, 1, 0), 1);
    ASN1_INTEGER_free(n);
    assert_int_equal(X509_CRL_sort(crl), 1);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    return crl;
}

/* Puts crl (DER) in place of the issuing CA's cache file of d, by rename. */
static void install_der(const char *d, const unsigned char *der, size_t len)
{
    char path[1100], tmp[1200];
    assert_int_equal(policy_crl_path(d, X509_get_subject_name(issuing), path, sizeof(path)), 0);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(der, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void install(const char *d, X509_CRL *crl)
{
    unsigned char *der = NULL;
    int len = i2d_X509_CRL(crl, &der);
    assert_true(len > 0);
    install_der(d, der, (size_t)len);
    OPENSSL_free(der);
}

static void new_dir(char *d, size_t len)
{
    snprintf(d, len, "/tmp/kyso-crl.XXXXXX");
    assert_non_null(mkdtemp(d));
}

static void remove_dir(const char *d)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static enum policy_crl_state check(const char *d, X509 *cert, time_t at, struct policy_crl_verdict *v)
{
    int rc = policy_crl_check_in(d, cert, issuing, at, v);
    assert_int_equal(rc, v->state == POLICY_CRL_GOOD ? 0 : -1);
    assert_non_null(memchr(v->why, '\0', sizeof(v->why)));
    assert_true(v->why[0] != '\0');
    return v->state;
}

static int setup(void **state)
{
    (void)state;
    issuing = load_cert("issuing-ca.pem");
    root = load_cert("root-ca.pem");
    good = load_cert("person-an-sign-rsa2048.pem");
    revoked = load_cert("revoked-sign-rsa2048.pem");
    issuing_key = load_key("issuing-ca.key.pem");
    root_key = load_key("root-ca.key.pem");
    now = time(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    policy_crl_reset();
    X509_free(issuing);
    X509_free(root);
    X509_free(good);
    X509_free(revoked);
    EVP_PKEY_free(issuing_key);
    EVP_PKEY_free(root_key);
    return 0;
}

static int fresh(void **state)
{
    (void)state;
    new_dir(dir, sizeof(dir));
    return 0;
}

static int cleanup(void **state)
{
    (void)state;
    remove_dir(dir);
    return 0;
}

static void test_dir_is_localstatedir(void **state)
{
    (void)state;
    assert_string_equal(policy_crl_dir(), KYSO_LOCALSTATEDIR "/lib/kyso/crl");
}

static void test_none(void **state)
{
    (void)state;
    struct policy_crl_verdict v;
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_NONE);
    assert_int_equal(v.this_update, 0);
    assert_int_equal(v.next_update, 0);
}

static void test_good_then_revoked(void **state)
{
    (void)state;
    struct policy_crl_verdict v;
    X509_CRL *empty = load_crl("issuing-empty.crl.pem"), *rev = load_crl("issuing-revoked.crl.pem");
    install(dir, empty);
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_GOOD);
    assert_int_equal(v.this_update, 1735689600);    /* 2025-01-01 00:00:00Z */
    assert_int_equal(v.next_update, 2398377599);    /* 2045-12-31 23:59:59Z */
    assert_int_equal(check(dir, revoked, now, &v), POLICY_CRL_GOOD);

    /* The replaced file is picked up. */
    install(dir, rev);
    assert_int_equal(check(dir, revoked, now, &v), POLICY_CRL_REVOKED);
    assert_non_null(strstr(v.why, "2025-06-01"));
    assert_non_null(strstr(v.why, "keyCompromise"));
    assert_int_equal(v.this_update, 1748736000);    /* 2025-06-01 00:00:00Z */
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_GOOD);

    /* And back: the file is the truth, not what was read first. */
    install(dir, empty);
    assert_int_equal(check(dir, revoked, now, &v), POLICY_CRL_GOOD);
    X509_CRL_free(empty);
    X509_CRL_free(rev);
}

static void test_stale(void **state)
{
    (void)state;
    struct policy_crl_verdict v;
    X509_CRL *rev = load_crl("issuing-revoked.crl.pem");
    install(dir, rev);
    /* After the committed CRL's nextUpdate (2046): stale, but a listed
     * certificate stays revoked. */
    assert_int_equal(check(dir, good, 2398377600, &v), POLICY_CRL_STALE);
    assert_non_null(strstr(v.why, "stale"));
    assert_int_equal(check(dir, revoked, 2398377600, &v), POLICY_CRL_REVOKED);
    X509_CRL_free(rev);

    X509_CRL *stale = make_crl(issuing_key, 3, now - 2 * DAY, now - DAY, NULL, false);
    install(dir, stale);
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_STALE);
    assert_int_equal(v.next_update, now - DAY);
    X509_CRL_free(stale);
}

static void test_bad_signature_ignored(void **state)
{
    (void)state;
    struct policy_crl_verdict v;
    /* Signed with the root's key in the issuing CA's name: never used. */
    X509_CRL *forged = make_crl(root_key, 9, now - DAY, now + DAY, good, false);
    install(dir, forged);
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_NONE);
    assert_non_null(strstr(v.why, "signature"));

    /* A good CRL, then its bytes damaged: the one read before stays in use. */
    X509_CRL *rev = load_crl("issuing-revoked.crl.pem");
    install(dir, rev);
    assert_int_equal(check(dir, revoked, now, &v), POLICY_CRL_REVOKED);
    unsigned char *der = NULL;
    int len = i2d_X509_CRL(rev, &der);
    assert_true(len > 20);
    der[len - 10] ^= 0x5a; /* in the signature */
    install_der(dir, der, (size_t)len);
    assert_int_equal(check(dir, revoked, now, &v), POLICY_CRL_REVOKED);
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_GOOD);

    /* The damaged file alone, in a cache never read before: no CRL. */
    char other[64];
    new_dir(other, sizeof(other));
    install_der(other, der, (size_t)len);
    assert_int_equal(check(other, revoked, now, &v), POLICY_CRL_NONE);
    /* Not a CRL at all. */
    install_der(other, (const unsigned char *)"garbage", 7);
    assert_int_equal(check(other, revoked, now, &v), POLICY_CRL_NONE);
    remove_dir(other);
    OPENSSL_free(der);
    X509_CRL_free(rev);
    X509_CRL_free(forged);
}

static void test_delta_refused(void **state)
{
    (void)state;
    struct policy_crl_verdict v;
    X509_CRL *delta = make_crl(issuing_key, 4, now - DAY, now + DAY, NULL, true);
    install(dir, delta);
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_NONE);
    assert_non_null(policy_crl_unusable(delta));
    X509_CRL_free(delta);
}

static void test_wrong_issuer_and_unreadable(void **state)
{
    (void)state;
    struct policy_crl_verdict v;
    /* The root did not issue the leaf. */
    assert_int_equal(policy_crl_check_in(dir, good, root, now, &v), -1);
    assert_int_equal(v.state, POLICY_CRL_ERROR);
    /* A cache file that cannot be read is an error, not "no CRL". */
    char path[1100];
    assert_int_equal(policy_crl_path(dir, X509_get_subject_name(issuing), path, sizeof(path)), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(check(dir, good, now, &v), POLICY_CRL_ERROR);
    assert_int_equal(rmdir(path), 0);
}

static void test_reset_and_fork(void **state)
{
    (void)state;
    struct policy_crl_verdict v;
    X509_CRL *rev = load_crl("issuing-revoked.crl.pem");
    install(dir, rev);
    assert_int_equal(check(dir, revoked, now, &v), POLICY_CRL_REVOKED);
    policy_crl_reset();
    assert_int_equal(check(dir, revoked, now, &v), POLICY_CRL_REVOKED);
    policy_crl_fork_prepare();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        policy_crl_fork_child();
        int ok = policy_crl_check_in(dir, revoked, issuing, now, &v) == -1 && v.state == POLICY_CRL_REVOKED;
        policy_crl_reset(); /* the child frees what it inherited (valgrind) */
        X509_CRL_free(rev);
        _exit(ok ? 0 : 1);
    }
    policy_crl_fork_parent();
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    X509_CRL_free(rev);
}

static void *checker(void *arg)
{
    (void)arg;
    struct policy_crl_verdict v;
    for (int i = 0; i < 200; i++)
        if (policy_crl_check_in(dir, i % 2 ? good : revoked, issuing, now, &v) != (i % 2 ? 0 : -1))
            return (void *)1;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    X509_CRL *rev = load_crl("issuing-revoked.crl.pem");
    install(dir, rev);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, checker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r = (void *)1;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
    X509_CRL_free(rev);
}

static void test_store(void **state)
{
    (void)state;
    char why[256], path[1100], sub[128];
    struct stat sb;
    X509_CRL *empty = load_crl("issuing-empty.crl.pem"), *rev = load_crl("issuing-revoked.crl.pem");
    X509_CRL *forged = make_crl(root_key, 9, now - DAY, now + DAY, NULL, false);
    snprintf(sub, sizeof(sub), "%s/lib/kyso/crl", dir);
    assert_int_equal(policy_crl_store_in(sub, rev, issuing, why, sizeof(why)), POLICY_CRL_STORED);
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0755);
    assert_int_equal(policy_crl_path(sub, X509_CRL_get_issuer(rev), path, sizeof(path)), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
    assert_int_equal(policy_crl_store_in(sub, rev, issuing, why, sizeof(why)), POLICY_CRL_UNCHANGED);
    assert_int_equal(policy_crl_store_in(sub, empty, issuing, why, sizeof(why)), POLICY_CRL_OLDER);
    assert_int_equal(policy_crl_store_in(sub, forged, issuing, why, sizeof(why)), POLICY_CRL_FAILED);
    assert_int_equal(policy_crl_store_in(sub, rev, root, why, sizeof(why)), POLICY_CRL_FAILED);
    struct policy_crl_verdict v;
    assert_int_equal(check(sub, revoked, now, &v), POLICY_CRL_REVOKED);
    /* A newer one (number 3) replaces it. */
    X509_CRL *newer = make_crl(issuing_key, 3, now - DAY, now + DAY, NULL, false);
    assert_int_equal(policy_crl_store_in(sub, newer, issuing, why, sizeof(why)), POLICY_CRL_STORED);
    assert_int_equal(check(sub, revoked, now, &v), POLICY_CRL_GOOD);
    X509_CRL_free(newer);
    X509_CRL_free(forged);
    X509_CRL_free(empty);
    X509_CRL_free(rev);
}

static void test_parse(void **state)
{
    (void)state;
    char why[256];
    size_t len = 0;
    char path[512];
    snprintf(path, sizeof(path), "%s/issuing-revoked.crl.pem", PKI);
    unsigned char *pem = policy_crl_read_file(path, POLICY_CRL_MAX_SIZE, &len, why, sizeof(why));
    assert_non_null(pem);
    X509_CRL *a = policy_crl_parse(pem, len);
    assert_non_null(a);
    unsigned char *der = NULL;
    int dlen = i2d_X509_CRL(a, &der);
    assert_true(dlen > 0);
    X509_CRL *b = policy_crl_parse(der, (size_t)dlen);
    assert_non_null(b);
    assert_null(policy_crl_parse(der, (size_t)dlen - 1));   /* cut */
    unsigned char *longer = malloc((size_t)dlen + 1);
    assert_non_null(longer);
    memcpy(longer, der, (size_t)dlen);
    longer[dlen] = 0;
    assert_null(policy_crl_parse(longer, (size_t)dlen + 1)); /* trailing byte */
    assert_null(policy_crl_read_file(path, len - 1, &len, why, sizeof(why)));
    free(longer);
    OPENSSL_free(der);
    X509_CRL_free(a);
    X509_CRL_free(b);
    free(pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_is_localstatedir),
        cmocka_unit_test_setup_teardown(test_none, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_good_then_revoked, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_stale, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_bad_signature_ignored, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_delta_refused, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_wrong_issuer_and_unreadable, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_reset_and_fork, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_threads, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_store, fresh, cleanup),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
