/* p11_bench --raw: the floor, the APDUs a PIV client cannot do without,
 * sent through PC/SC by the harness itself (no PKCS#11 module):
 *   cold   connect, SELECT the PIV application, GET DATA of the key
 *          history (how many retired certificates), then GET DATA of the
 *          certificates of 9A, 9C, 9D, 9E and the retired slots on the card;
 *   sign   VERIFY, GENERAL AUTHENTICATE (after connect and SELECT, as a
 *          module has done at C_OpenSession);
 *   sigs   N × GENERAL AUTHENTICATE after one VERIFY (one thread: a card
 *          does one thing at a time);
 *   idle   a connected card, nothing sent.
 * Extended length throughout (the card supports it), so no GET RESPONSE
 * unless the card asks for one. The host hashes and pads as a module does. */
#include "config.h"

#include <PCSC/winscard.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/bench/p11_bench.h"

static SCARDCONTEXT ctx;
static SCARDHANDLE card;
static DWORD proto;
static char *err;
static size_t errlen;

static int failed(const char *what, long code)
{
    snprintf(err, errlen, "%s: 0x%lx", what, code);
    return -1;
}

static int reader_name(char *out, size_t size)
{
    const char *want = getenv("KYSO_READER");
    char readers[2048];
    DWORD len = sizeof(readers);
    LONG rv = SCardListReaders(ctx, NULL, readers, &len);
    if (rv != SCARD_S_SUCCESS)
        return failed("SCardListReaders", rv);
    const char *name = want && *want ? want : readers;
    if (strlen(name) >= size)
        return failed("a reader name too long", (long)strlen(name));
    memcpy(out, name, strlen(name) + 1);
    return 0;
}

static int establish(void)
{
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    return rv == SCARD_S_SUCCESS ? 0 : failed("SCardEstablishContext", rv);
}

static int connect_card(void)
{
    char reader[512];
    if (establish() != 0 || reader_name(reader, sizeof(reader)) != 0)
        return -1;
    LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, &card, &proto);
    return rv == SCARD_S_SUCCESS ? 0 : failed("SCardConnect", rv);
}

/* One exchange (and GET RESPONSE while the card says 61xx); the status
 * word, or -1. The answer's data goes to out (capacity *len). */
static int transmit(const uint8_t *apdu, size_t n, uint8_t *out, size_t *len)
{
    const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
    size_t have = 0, cap = len ? *len : 0;
    uint8_t buf[4096];
    for (;;) {
        DWORD got = sizeof(buf);
        LONG rv = SCardTransmit(card, pci, apdu, (DWORD)n, NULL, buf, &got);
        if (rv != SCARD_S_SUCCESS)
            return failed("SCardTransmit", rv);
        if (got < 2)
            return failed("a short answer", (long)got);
        int sw = buf[got - 2] << 8 | buf[got - 1];
        size_t data = got - 2;
        if (have + data > cap)
            data = cap - have;
        if (out)
            memcpy(out + have, buf, data);
        have += data;
        if ((sw >> 8) != 0x61) {
            if (len)
                *len = have;
            return sw;
        }
        static uint8_t get_response[] = { 0x00, 0xC0, 0x00, 0x00, 0x00 };
        get_response[4] = (uint8_t)sw;
        apdu = get_response;
        n = sizeof(get_response);
    }
}

static int select_piv(void)
{
    static const uint8_t select[] = { 0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03,
                                      0x08, 0x00, 0x00, 0x10, 0x00, 0x00 };
    uint8_t out[256];
    size_t len = sizeof(out);
    int sw = transmit(select, sizeof(select), out, &len);
    return sw == 0x9000 ? 0 : sw < 0 ? -1 : failed("SELECT PIV", sw);
}

/* GET DATA of object 5FC1xx, extended Lc and Le. The status word. */
static int get_data(uint8_t tag, uint8_t *out, size_t *len)
{
    const uint8_t apdu[] = { 0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x05, 0x5C, 0x03, 0x5F, 0xC1, tag, 0x00, 0x00 };
    return transmit(apdu, sizeof(apdu), out, len);
}

/* The PIV object tag of a key reference's certificate. */
static uint8_t cert_tag(uint8_t ref)
{
    switch (ref) {
    case 0x9A:
        return 0x05;
    case 0x9C:
        return 0x0A;
    case 0x9D:
        return 0x0B;
    case 0x9E:
        return 0x01;
    default:
        return (uint8_t)(0x0D + ref - 0x82);
    }
}

/* A BER length at p (remaining n bytes): its value, *hdr the bytes it took. */
static size_t ber_len(const uint8_t *p, size_t n, size_t *hdr)
{
    if (n < 1)
        return *hdr = 0, 0;
    if (p[0] < 0x80)
        return *hdr = 1, p[0];
    size_t k = p[0] & 0x7F, v = 0;
    if (k > 3 || n < 1 + k)
        return *hdr = 0, 0;
    for (size_t i = 0; i < k; i++)
        v = v << 8 | p[1 + i];
    *hdr = 1 + k;
    return v;
}

static int cold(struct bench_window *w, unsigned long *ops)
{
    uint8_t buf[8192];
    size_t len;
    window_start(w);
    if (connect_card() != 0 || select_piv() != 0)
        return -1;
    len = sizeof(buf);
    int sw = get_data(0x0C, buf, &len);
    unsigned retired = 0;
    /* 53 L { C1 01 on-card C2 01 off-card … } */
    for (size_t i = 2; sw == 0x9000 && i + 2 < len; i += 2u + buf[i + 1])
        if (buf[i] == 0xC1 && buf[i + 1] == 1)
            retired = buf[i + 2];
    uint8_t refs[4 + 20] = { 0x9A, 0x9C, 0x9D, 0x9E };
    for (unsigned i = 0; i < retired && i < 20; i++)
        refs[4 + i] = (uint8_t)(0x82 + i);
    *ops = 0;
    for (unsigned i = 0; i < 4 + retired && i < sizeof(refs); i++) {
        len = sizeof(buf);
        sw = get_data(cert_tag(refs[i]), buf, &len);
        if (sw < 0)
            return -1;
        *ops += sw == 0x9000;
    }
    SCardDisconnect(card, SCARD_LEAVE_CARD);
    SCardReleaseContext(ctx);
    window_end(w);
    return 0;
}

/* The key in slot ref: PIV algorithm, and the block GENERAL AUTHENTICATE
 * signs (PKCS#1 v1.5 block of a SHA-256 DigestInfo, or the hash for ECDSA). */
struct raw_key {
    uint8_t ref, alg;
    size_t modulus;
};

static int key_of(uint8_t ref, struct raw_key *k)
{
    uint8_t buf[8192];
    size_t len = sizeof(buf), h1, h2;
    int sw = get_data(cert_tag(ref), buf, &len);
    if (sw != 0x9000)
        return sw < 0 ? -1 : failed("no certificate in that slot", sw);
    size_t l53 = ber_len(buf + 1, len - 1, &h1);
    const uint8_t *p = buf + 1 + h1;
    if (buf[0] != 0x53 || l53 + 1 + h1 > len || p[0] != 0x70)
        return failed("a certificate object that does not parse", 0);
    size_t l70 = ber_len(p + 1, l53 - 1, &h2);
    const uint8_t *der = p + 1 + h2;
    X509 *x = d2i_X509(NULL, &der, (long)l70);
    EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
    int type = pk ? EVP_PKEY_get_base_id(pk) : 0;
    k->ref = ref;
    k->modulus = pk ? (size_t)EVP_PKEY_get_size(pk) : 0;
    k->alg = type == EVP_PKEY_RSA && k->modulus == 256 ? 0x07 : type == EVP_PKEY_EC ? 0x11 : 0;
    X509_free(x);
    return k->alg ? 0 : failed("the floor knows RSA-2048 and P-256 only", type);
}

static int verify_pin(void)
{
    uint8_t apdu[13] = { 0x00, 0x20, 0x00, 0x80, 0x08 };
    const char *pin = bench_pin();
    memset(apdu + 5, 0xFF, 8);
    memcpy(apdu + 5, pin, strlen(pin) < 8 ? strlen(pin) : 8);
    int sw = transmit(apdu, sizeof(apdu), NULL, NULL);
    return sw == 0x9000 ? 0 : sw < 0 ? -1 : failed("VERIFY", sw);
}

static int general_authenticate(const struct raw_key *k)
{
    static const uint8_t digest_info[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                           0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
    uint8_t in[512], apdu[600], out[1024];
    size_t n, len = sizeof(out);
    unsigned int hl = 32;
    uint8_t hash[32];
    EVP_Digest(bench_data, bench_data_len, hash, &hl, EVP_sha256(), NULL);
    if (k->alg == 0x07) { /* EMSA-PKCS1-v1_5: 00 01 FF… 00 DigestInfo */
        n = k->modulus;
        size_t t = sizeof(digest_info) + 32;
        in[0] = 0x00, in[1] = 0x01;
        memset(in + 2, 0xFF, n - t - 3);
        in[n - t - 1] = 0x00;
        memcpy(in + n - t, digest_info, sizeof(digest_info));
        memcpy(in + n - 32, hash, 32);
    } else {
        n = 32;
        memcpy(in, hash, 32);
    }
    /* 7C L { 82 00 (the answer) 81 L (the challenge) } */
    uint8_t body[600];
    size_t b = 0, inner = 2 + (n < 128 ? 2 : n < 256 ? 3 : 4) + n;
    body[b++] = 0x7C;
    if (inner < 128)
        body[b++] = (uint8_t)inner;
    else if (inner < 256)
        body[b++] = 0x81, body[b++] = (uint8_t)inner;
    else
        body[b++] = 0x82, body[b++] = (uint8_t)(inner >> 8), body[b++] = (uint8_t)inner;
    body[b++] = 0x82, body[b++] = 0x00, body[b++] = 0x81;
    if (n < 128)
        body[b++] = (uint8_t)n;
    else if (n < 256)
        body[b++] = 0x81, body[b++] = (uint8_t)n;
    else
        body[b++] = 0x82, body[b++] = (uint8_t)(n >> 8), body[b++] = (uint8_t)n;
    memcpy(body + b, in, n);
    b += n;
    const uint8_t hdr[] = { 0x00, 0x87, k->alg, k->ref, 0x00, (uint8_t)(b >> 8), (uint8_t)b };
    memcpy(apdu, hdr, sizeof(hdr));
    memcpy(apdu + sizeof(hdr), body, b);
    apdu[sizeof(hdr) + b] = 0x00, apdu[sizeof(hdr) + b + 1] = 0x00;
    int sw = transmit(apdu, sizeof(hdr) + b + 2, out, &len);
    return sw == 0x9000 && len > 8 ? 0 : sw < 0 ? -1 : failed("GENERAL AUTHENTICATE", sw);
}

/* PKCS#11 CKA_ID (OpenSC's and ykcs11's numbering) to key reference. */
static int ref_of(const char *id, uint8_t *ref)
{
    unsigned long v = strtoul(id, NULL, 16);
    static const uint8_t first[] = { 0, 0x9A, 0x9C, 0x9D, 0x9E };
    if (v >= 1 && v <= 4)
        *ref = first[v];
    else if (v >= 5 && v <= 24)
        *ref = (uint8_t)(0x82 + v - 5);
    else
        return failed("a key ID is 01..18 (hex)", (long)v);
    return 0;
}

static int prepare(const char *id, struct raw_key *k)
{
    uint8_t ref;
    return ref_of(id, &ref) == 0 && connect_card() == 0 && select_piv() == 0 && key_of(ref, k) == 0 ? 0 : -1;
}

static int sign(const char *id, struct bench_window *w, unsigned long *ops)
{
    struct raw_key k;
    if (prepare(id, &k) != 0)
        return -1;
    window_start(w);
    if (verify_pin() != 0 || general_authenticate(&k) != 0)
        return -1;
    window_end(w);
    *ops = 1;
    return 0;
}

static int sigs(unsigned long n, unsigned long threads, const char *id, struct bench_window *w, unsigned long *ops)
{
    struct raw_key k;
    if (threads != 1) {
        snprintf(err, errlen, "n/a: a card signs one at a time, the floor is the 1-thread figure");
        return -1;
    }
    if (prepare(id, &k) != 0 || verify_pin() != 0)
        return -1;
    window_start(w);
    for (unsigned long i = 0; i < n; i++)
        if (general_authenticate(&k) != 0)
            return -1;
    window_end(w);
    *ops = n;
    return 0;
}

static int idle(unsigned seconds, struct bench_window *w, unsigned long *ops)
{
    if (connect_card() != 0 || select_piv() != 0)
        return -1;
    window_start(w);
    bench_sleep_ms(seconds * 1000);
    window_end(w);
    *ops = 0;
    return 0;
}

/* Until the reader has a card (after kyso-vtoken ctl insert), or has
 * none (absent: after remove). */
static int wait_card(unsigned seconds, bool absent)
{
    char reader[512];
    if (establish() != 0 || reader_name(reader, sizeof(reader)) != 0)
        return -1;
    SCARD_READERSTATE st = { .szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE };
    for (unsigned waited = 0; waited <= seconds * 10; waited++) {
        LONG rv = SCardGetStatusChange(ctx, 100, &st, 1);
        bool present = (st.dwEventState & SCARD_STATE_PRESENT) && !(st.dwEventState & SCARD_STATE_MUTE);
        if ((rv == SCARD_S_SUCCESS || rv == (LONG)SCARD_E_TIMEOUT) && present != absent &&
            !(st.dwEventState & SCARD_STATE_UNKNOWN)) {
            SCardReleaseContext(ctx);
            return 0;
        }
        st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
    }
    SCardReleaseContext(ctx);
    return failed(absent ? "the card stays in the reader" : "no card in the reader", (long)seconds);
}

int raw_run(const char *scenario, int argc, char **argv, struct bench_window *w, unsigned long *ops, char *why,
            size_t whylen)
{
    err = why;
    errlen = whylen;
    if (strcmp(scenario, "cold") == 0 && argc == 0)
        return cold(w, ops);
    if (strcmp(scenario, "sign") == 0 && argc == 1)
        return sign(argv[0], w, ops);
    if (strcmp(scenario, "sigs") == 0 && argc == 3)
        return sigs(strtoul(argv[0], NULL, 10), strtoul(argv[1], NULL, 10), argv[2], w, ops);
    if (strcmp(scenario, "idle") == 0 && argc == 1)
        return idle((unsigned)strtoul(argv[0], NULL, 10), w, ops);
    if (strcmp(scenario, "wait") == 0 && (argc == 1 || (argc == 2 && strcmp(argv[1], "absent") == 0)))
        return wait_card((unsigned)strtoul(argv[0], NULL, 10), argc == 2);
    snprintf(why, whylen, "unknown scenario or wrong arguments");
    return -1;
}
