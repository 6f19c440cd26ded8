/* The test PKI's files (test-vectors/pki) for the unit tests: read or the
 * test fails. Include after <cmocka.h>. */
#ifndef KYSO_TESTS_UNIT_TESTPKI_H
#define KYSO_TESTS_UNIT_TESTPKI_H

#include <openssl/pem.h>
#include <stdio.h>

static inline FILE *pki_open(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    return f;
}

static inline X509 *pki_cert(const char *dir, const char *name)
{
    FILE *f = pki_open(dir, name);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static inline EVP_PKEY *pki_key(const char *dir, const char *name)
{
    FILE *f = pki_open(dir, name);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    return k;
}

#endif
