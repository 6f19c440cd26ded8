/* p11_bench: shared by the PKCS#11 side (p11_bench.c) and the raw PC/SC
 * floor (p11_bench_raw.c): the measured window, the token's APDU counter
 * and the test PIN. */
#ifndef KYSO_P11_BENCH_H
#define KYSO_P11_BENCH_H

#include <stddef.h>

/* What one scenario measured between window_start and window_end: wall
 * time, CPU time of this process (every thread, user + sys) and the APDUs
 * the token received. */
struct bench_window {
    double t0, cpu0;
    unsigned long a0;
    double ms, cpu_ms;
    unsigned long apdus;
};

void window_start(struct bench_window *w);
void window_end(struct bench_window *w);

/* The token's APDU counter (kyso-vtoken's control socket, $KYSO_VTOKEN_CTL). */
unsigned long bench_apdus(void);
const char *bench_pin(void);
void bench_sleep_ms(unsigned ms);

/* The signed data: the same for every module and the floor. */
extern const unsigned char bench_data[];
extern const size_t bench_data_len;

/* Runs SCENARIO (cold, sign ID, sigs N THREADS ID, idle SECONDS, wait
 * SECONDS) by sending the APDUs itself. Returns 0, or -1 with why set
 * when it cannot. */
int raw_run(const char *scenario, int argc, char **argv, struct bench_window *w, unsigned long *ops, char *why,
            size_t whylen);

#endif
