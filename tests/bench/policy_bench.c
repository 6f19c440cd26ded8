/* The rules' decision on one signature, timed: what the policy layer adds
 * to every C_Sign (policy_config_acquire's stat of the configuration, the
 * chain memo, the CRL cache's stat, M12), under the system configuration
 * of the run (tests/bench/run-policy-bench.sh runs it inside
 * tests/with-token). Prints the median and 99th percentile in µs.
 *
 *   policy_bench LABEL CERT.pem [N] */
#include "config.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/config.h"
#include "policy/decide.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: policy_bench LABEL CERT.pem [N]\n");
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 5000;
    if (n < 10 || n > 1000000)
        n = 5000;
    FILE *f = fopen(argv[2], "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    uint8_t *der = NULL;
    int len = x ? i2d_X509(x, &der) : -1;
    X509_free(x);
    if (len <= 0) {
        fprintf(stderr, "policy_bench: cannot read %s\n", argv[2]);
        return 1;
    }
    struct policy_environment env = { 0 };
    struct policy_request rq = { .action = POLICY_SIGN, .cert_der = der, .cert_len = (size_t)len,
                                 .token_serial = "bench", .mechanism = "CKM_SHA256_RSA_PKCS", .uid = getuid(),
                                 .env = &env };
    double *t = malloc(sizeof(double) * (size_t)n);
    struct policy_decision d;
    int allowed = 0;
    /* Warm: the anchors, the chain memo and the CRL cache are read once. */
    for (int i = 0; i < 50; i++) {
        struct policy_config *c = policy_config_acquire();
        policy_decide(c, &rq, &d);
        policy_config_release(c);
    }
    for (int i = 0; t && i < n; i++) {
        double t0 = now_us();
        struct policy_config *c = policy_config_acquire();
        policy_decide(c, &rq, &d);
        policy_config_release(c);
        t[i] = now_us() - t0;
        allowed += d.allowed;
    }
    if (!t)
        return 1;
    qsort(t, (size_t)n, sizeof(double), cmp);
    printf("%-44s decision: median %.1f µs, p99 %.1f µs over %d (%s%s%s)\n", argv[1], t[n / 2], t[n * 99 / 100], n,
           allowed == n ? "allowed" : "REFUSED: ", allowed == n ? "" : d.rule, allowed == n ? "" : "");
    free(t);
    OPENSSL_free(der);
    return 0;
}
