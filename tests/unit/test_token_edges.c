/* The token edges end to end over scripted cards (tests/fuzz/edge_harness.h),
 * built with gcc: what the libFuzzer targets fuzz_edge_piv and
 * fuzz_edge_vgca run, checked here without clang.
 *
 * - Live sessions with kyso-vtoken (PIV, variant B, variant A): recorded
 *   as scripts, every signature, decryption and derivation checked against
 *   the key, then replayed from the script with the same outcome. With
 *   KYSO_EDGE_CORPUS=DIR the recordings are written to DIR/edge-*: that is
 *   how the seed corpora tests/fuzz/corpus/edge-* are made.
 * - Every committed seed replayed: the expected keys and certificates, the
 *   signatures good, the script used to its end.
 * - Regression scripts of defects the edges had, and the inputs of
 *   tests/fuzz/regress that the fuzzers found.
 * - The mutator: DER bodies written back unchanged, mutated seeds run. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "pcsc/status.h"
#include "tests/fuzz/edge_harness.h"
#include "tests/fuzz/edge_mutator.h"
#include "tests/fuzz/edge_tlv_tree.h"
#include "tests/unit/testutil.h"
#include "tools/vtoken/card.h"
#include "tools/vtoken/piv.h"
#include "tools/vtoken/vgca.h"

#if !defined(KYSO_TEST_PKI) || !defined(KYSO_FUZZ_CORPUS) || !defined(KYSO_FUZZ_REGRESS)
#error "KYSO_TEST_PKI, KYSO_FUZZ_CORPUS, KYSO_FUZZ_REGRESS: test-vectors/pki, tests/fuzz/corpus, tests/fuzz/regress"
#endif

#define PKI KYSO_TEST_PKI "/"

/* ---- seeds: live sessions with the virtual token ---- */

enum personality { P_PIV, P_CHIPDOC, P_JCOP };

struct seed {
    const char *corpus, *name;
    enum personality pers;
    uint8_t settings;
};

#define ATR(a) ((uint8_t)((a) << EDGE_SET_ATR_SHIFT))
#define SCHEME(s) ((uint8_t)((s) << EDGE_SET_SCHEME_SHIFT))

static const struct seed seeds[] = {
    { "edge-piv", "piv-t1", P_PIV, ATR(EDGE_ATR_YUBIKEY) },
    { "edge-piv", "piv-extended-pss", P_PIV, ATR(EDGE_ATR_YUBIKEY) | EDGE_SET_EXTENDED | SCHEME(EDGE_SCHEME_PSS) },
    { "edge-piv", "piv-t0-raw", P_PIV, ATR(EDGE_ATR_YUBIKEY) | EDGE_SET_T0 | SCHEME(EDGE_SCHEME_RAW) },
    { "edge-piv", "piv-unknown-atr", P_PIV, ATR(EDGE_ATR_OTHER) },
    { "edge-piv", "piv-no-login", P_PIV, ATR(EDGE_ATR_YUBIKEY) | EDGE_SET_NO_LOGIN },
    { "edge-piv", "piv-admin", P_PIV, ATR(EDGE_ATR_YUBIKEY) | EDGE_SET_ADMIN },
    { "edge-vgca-b", "vgca-b-t1", P_CHIPDOC, ATR(EDGE_ATR_CHIPDOC) },
    { "edge-vgca-b", "vgca-b-extended", P_CHIPDOC, ATR(EDGE_ATR_CHIPDOC) | EDGE_SET_EXTENDED },
    { "edge-vgca-b", "vgca-b-t0", P_CHIPDOC, ATR(EDGE_ATR_CHIPDOC) | EDGE_SET_T0 },
    { "edge-vgca-b", "vgca-b-no-login", P_CHIPDOC, ATR(EDGE_ATR_OTHER) | EDGE_SET_NO_LOGIN },
    { "edge-vgca-b", "vgca-b-admin", P_CHIPDOC, ATR(EDGE_ATR_CHIPDOC) | EDGE_SET_ADMIN },
    { "edge-vgca-a", "vgca-a-t1", P_JCOP, ATR(EDGE_ATR_JCOP) },
    { "edge-vgca-a", "vgca-a-extended", P_JCOP, ATR(EDGE_ATR_JCOP) | EDGE_SET_EXTENDED },
    { "edge-vgca-a", "vgca-a-t0", P_JCOP, ATR(EDGE_ATR_JCOP) | EDGE_SET_T0 },
    { "edge-vgca-a", "vgca-a-yubikey-atr", P_JCOP, ATR(EDGE_ATR_YUBIKEY) },
    { "edge-vgca-a", "vgca-a-no-login", P_JCOP, ATR(EDGE_ATR_JCOP) | EDGE_SET_NO_LOGIN },
    { "edge-vgca-a", "vgca-a-admin", P_JCOP, ATR(EDGE_ATR_JCOP) | EDGE_SET_ADMIN },
};
#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))

/* What a whole session over each personality finds. */
struct expect {
    const char *corpus;
    enum edge_target target;
    size_t nkeys, key_certs, ca_certs, nobjects, signs, decrypts, derives;
};

static const struct expect expects[] = {
    /* 9A P-256, 9C and 9D RSA-2048, retired 82 P-256; no CA on PIV cards. */
    { "edge-piv", EDGE_TARGET_PIV, 4, 4, 0, 6, 4, 2, 2 },
    /* The RSA-2048 signer, the issuing and root CAs. */
    { "edge-vgca-b", EDGE_TARGET_VGCA, 1, 1, 2, 0, 1, 0, 0 },
    /* The RSA-3072 key from the PuKDF; its certificate is compressed. */
    { "edge-vgca-a", EDGE_TARGET_VGCA, 1, 0, 0, 0, 1, 0, 0 },
};

static const struct expect *expect_for(const char *corpus)
{
    for (size_t i = 0; i < sizeof(expects) / sizeof(expects[0]); i++)
        if (strcmp(expects[i].corpus, corpus) == 0)
            return &expects[i];
    fail_msg("no expectations for %s", corpus);
    return NULL;
}

static void make_card(enum personality p, struct vt_card *card)
{
    const struct vt_personality *pers = p == P_PIV       ? &vt_personality_piv
                                        : p == P_CHIPDOC ? &vt_personality_vgca_chipdoc
                                                         : &vt_personality_vgca_jcop;
    struct vt_init_options opt = { .pin = EDGE_PIN, .puk = EDGE_PUK, .serial = 4242 };
    if (p == P_PIV) {
        opt.keys[0] = (struct vt_key_spec){ 0x9A, PKI "person-an-auth-p256.key.pem", PKI "person-an-auth-p256.pem" };
        opt.keys[1] = (struct vt_key_spec){ 0x9C, PKI "person-an-sign-rsa2048.key.pem",
                                            PKI "person-an-sign-rsa2048.pem" };
        opt.keys[2] = (struct vt_key_spec){ 0x9D, PKI "person-an-keymgmt-rsa2048.key.pem",
                                            PKI "person-an-keymgmt-rsa2048.pem" };
        opt.keys[3] = (struct vt_key_spec){ 0x82, PKI "person-an-keymgmt-p256.key.pem",
                                            PKI "person-an-keymgmt-p256.pem" };
        opt.nkeys = 4;
    } else if (p == P_CHIPDOC) {
        opt.keys[0] = (struct vt_key_spec){ 0x81, PKI "person-an-sign-rsa2048.key.pem",
                                            PKI "person-an-sign-rsa2048.pem" };
        opt.nkeys = 1;
        opt.ca_certs[0] = PKI "issuing-ca.pem";
        opt.ca_certs[1] = PKI "root-ca.pem";
        opt.nca_certs = 2;
    } else {
        opt.keys[0] = (struct vt_key_spec){ 0x10, PKI "person-an-sign-rsa3072.key.pem",
                                            PKI "person-an-sign-rsa3072.pem" };
        opt.nkeys = 1;
    }
    void *state = NULL;
    char err[256] = "";
    if (pers->init(&opt, &state, err, sizeof(err)) != 0)
        fail_msg("vtoken init: %s", err);
    vt_card_init(card, pers, state);
    vt_card_power_on(card);
}

/* Passes commands to the virtual token and writes its answers down. */
struct recorder {
    struct vt_card *card;
    struct edge_script script;
    uint8_t out[VT_MAX_RESPONSE + 2];
};

static int record_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp, size_t *resp_len)
{
    struct recorder *r = ctx;
    size_t n = vt_card_transmit(r->card, cmd, cmd_len, r->out);
    assert_true(n >= 2);
    edge_script_answer(&r->script, r->out, n - 2, (uint16_t)(r->out[n - 2] << 8 | r->out[n - 1]));
    if (n > *resp_len)
        return PCSC_E_MALFORMED; /* as the scripted card says it */
    memcpy(resp, r->out, n);
    *resp_len = n;
    return PCSC_OK;
}

static void assert_same_outcome(const struct edge_result *a, const struct edge_result *b)
{
    assert_string_equal(a->edge ? a->edge : "", b->edge ? b->edge : "");
    assert_int_equal(a->open_rc, b->open_rc);
    assert_int_equal(a->enum_rc, b->enum_rc);
    assert_int_equal(a->nkeys, b->nkeys);
    assert_int_equal(a->key_certs, b->key_certs);
    assert_int_equal(a->ncerts, b->ncerts);
    assert_int_equal(a->ca_certs, b->ca_certs);
    assert_int_equal(a->objects_read, b->objects_read);
    assert_int_equal(a->login_rc, b->login_rc);
    assert_int_equal(a->signs_ok, b->signs_ok);
    assert_int_equal(a->signs_verified, b->signs_verified);
    assert_int_equal(a->decrypts_verified, b->decrypts_verified);
    assert_int_equal(a->derives_verified, b->derives_verified);
    assert_int_equal(a->change_rc, b->change_rc);
    assert_int_equal(a->unblock_rc, b->unblock_rc);
    assert_int_equal(a->generate_rc, b->generate_rc);
    assert_int_equal(a->write_rc, b->write_rc);
    assert_int_equal(a->commands, b->commands);
    /* Not admin_rc: the management key's challenge is new on every run. */
}

/* A whole session: what it found matches the personality; with a login,
 * every private-key operation was right. */
static void assert_expected(const struct seed *sd, const struct edge_result *res)
{
    const struct expect *e = expect_for(sd->corpus);
    if (res->violation)
        fail_msg("%s: %s", sd->name, res->violation);
    assert_int_equal(res->open_rc, PCSC_OK);
    assert_false(res->other_edge);
    assert_int_equal(res->enum_rc, PCSC_OK);
    assert_int_equal(res->nkeys, e->nkeys);
    assert_int_equal(res->key_certs, e->key_certs);
    assert_int_equal(res->ca_certs, e->ca_certs);
    assert_int_equal(res->nobjects, e->nobjects);
    assert_int_equal(res->signs, e->signs);
    assert_int_equal(res->decrypts, e->decrypts);
    assert_int_equal(res->derives, e->derives);
    if (sd->settings & EDGE_SET_ADMIN) {
        assert_int_equal(res->change_rc, PCSC_OK);
        if (sd->pers != P_CHIPDOC)
            assert_int_equal(res->unblock_rc, PCSC_OK); /* variant B has no PUK */
        if (sd->pers == P_PIV) {
            assert_int_equal(res->generate_rc, PCSC_OK);
            assert_int_equal(res->write_rc, PCSC_OK);
        }
    }
    if (sd->settings & EDGE_SET_NO_LOGIN)
        return;
    assert_int_equal(res->login_rc, PCSC_OK);
    assert_int_equal(res->signs_verified, e->signs);
    assert_int_equal(res->decrypts_verified, e->decrypts);
    assert_int_equal(res->derives_verified, e->derives);
}

static void write_seed(const char *dir, const struct seed *sd, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, sd->corpus);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sd->corpus, sd->name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_live_sessions(void **state)
{
    const char *corpus = getenv("KYSO_EDGE_CORPUS");
    for (size_t i = 0; i < NSEEDS; i++) {
        const struct seed *sd = &seeds[i];
        const struct expect *e = expect_for(sd->corpus);
        struct vt_card card;
        struct recorder *rec = calloc(1, sizeof(*rec));
        assert_non_null(rec);
        make_card(sd->pers, &card);
        rec->card = &card;
        edge_script_init(&rec->script, sd->settings);
        struct pcsc_transport tr = {
            .transmit = record_transmit,
            .ctx = rec,
            .protocol = (sd->settings & EDGE_SET_T0) ? PCSC_PROTOCOL_T0 : PCSC_PROTOCOL_T1,
            .extended_length = (sd->settings & EDGE_SET_EXTENDED) != 0,
        };
        struct edge_result live, replay;
        edge_drive(e->target, &tr, sd->settings, true, &live);
        assert_false(rec->script.failed);
        assert_expected(sd, &live);
        edge_run(e->target, rec->script.data, rec->script.len, true, &replay);
        assert_expected(sd, &replay);
        assert_same_outcome(&live, &replay);
        assert_int_equal(replay.records_left, 0);
        if (corpus && *corpus)
            write_seed(corpus, sd, rec->script.data, rec->script.len);
        edge_script_free(&rec->script);
        vt_card_free(&card);
        free(rec);
    }
}

/* ---- the committed seeds ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static const struct seed *seed_named(const char *corpus, const char *name)
{
    for (size_t i = 0; i < NSEEDS; i++)
        if (strcmp(seeds[i].corpus, corpus) == 0 && strcmp(seeds[i].name, name) == 0)
            return &seeds[i];
    return NULL;
}

/* Calls fn on every file of the edge corpora. */
static size_t each_seed(void (*fn)(const struct seed *, const uint8_t *, size_t))
{
    size_t count = 0;
    for (size_t c = 0; c < sizeof(expects) / sizeof(expects[0]); c++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", KYSO_FUZZ_CORPUS, expects[c].corpus);
        DIR *d = opendir(dir);
        if (!d)
            fail_msg("%s: %s", dir, strerror(errno));
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            const struct seed *sd = seed_named(expects[c].corpus, de->d_name);
            if (!sd)
                fail_msg("%s/%s is no seed this test makes", dir, de->d_name);
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            size_t len;
            uint8_t *p = read_file(path, &len);
            fn(sd, p, len);
            free(p);
            count++;
        }
        closedir(d);
    }
    return count;
}

static void replay_one(const struct seed *sd, const uint8_t *p, size_t len)
{
    struct edge_result res;
    assert_true(len > 0);
    assert_int_equal(p[0], sd->settings);
    edge_run(expect_for(sd->corpus)->target, p, len, true, &res);
    assert_expected(sd, &res);
    assert_int_equal(res.records_left, 0);
}

static void test_replay_seeds(void **state)
{
    assert_int_equal(each_seed(replay_one), NSEEDS);
}

/* ---- regressions ---- */

static void answer_hex(struct edge_script *s, const char *body, uint16_t sw)
{
    uint8_t buf[1024];
    size_t n = hex(body, buf, sizeof(buf));
    edge_script_answer(s, buf, n, sw);
}

/* Variant B up to its TokenInfo: SELECT the application, SELECT 5032, one
 * READ BINARY (the file is one element). */
static void chipdoc_opened(struct edge_script *s)
{
    answer_hex(s, "", 0x9000);
    answer_hex(s, "", 0x9000);
    answer_hex(s,
               "302d 0201 0004 1030 4131 4232 4333 4434 4535 4636 3037 310c 0662 6974 3469 6480"
               "0a56 4743 4120 546f 6b65 6e03 0205 60",
               0x9000);
}

/* A directory file read to its end: SELECT, the content, then 6B00. */
static void file_answer(struct edge_script *s, const char *content)
{
    answer_hex(s, "", 0x9000);
    answer_hex(s, content, 0x9000);
    answer_hex(s, "", 0x6B00);
}

static void run_vgca(const struct edge_script *s, struct edge_result *res)
{
    assert_false(s->failed);
    edge_run(EDGE_TARGET_VGCA, s->data, s->len, false, res);
    if (res->violation)
        fail_msg("%s", res->violation);
    assert_int_equal(res->open_rc, PCSC_OK);
    assert_string_equal(res->edge, "vgca");
}

/* Defect 1: an ODF entry A8 { 30 { 04 4401, 02 00, 80 00FF } } names 255
 * bytes of EF 4401, which holds 10. read_path freed the file but left the
 * caller's pointer set, and enumerate freed it again (ASan: double free).
 * Enumeration must fail cleanly. */
static void test_regress_path_past_end(void **state)
{
    struct edge_script s;
    struct edge_result res;
    edge_script_init(&s, ATR(EDGE_ATR_CHIPDOC));
    chipdoc_opened(&s);
    file_answer(&s, "A80D 300B 0402 4401 0201 00 8002 00FF");
    file_answer(&s, "3008 0C06 5573 6572 2031");
    run_vgca(&s, &res);
    assert_int_equal(res.enum_rc, PCSC_E_MALFORMED);
    assert_int_equal(res.nkeys, 0);
    assert_int_equal(res.records_left, 0);
    edge_script_free(&s);
}

/* The same defect on every directory the ODF names, the index past the
 * end this time: each read fails without a double free. */
static void test_regress_index_past_end(void **state)
{
    static const char *const odfs[] = {
        "A00C 300A 0402 4402 0201 20 8001 01", /* PrKDF */
        "A10C 300A 0402 4402 0201 20 8001 01", /* PuKDF */
        "A40C 300A 0402 4402 0201 20 8001 01", /* CDF */
        "A50C 300A 0402 4402 0201 20 8001 01", /* trusted CDF */
    };
    for (size_t i = 0; i < sizeof(odfs) / sizeof(odfs[0]); i++) {
        struct edge_script s;
        struct edge_result res;
        edge_script_init(&s, ATR(EDGE_ATR_CHIPDOC));
        chipdoc_opened(&s);
        file_answer(&s, odfs[i]);
        file_answer(&s, "3008 0C06 5573 6572 2031");
        run_vgca(&s, &res);
        assert_int_equal(res.enum_rc, PCSC_E_MALFORMED);
        assert_int_equal(res.records_left, 0);
        edge_script_free(&s);
    }
}

/* Directory files padded to their size (as the cards' are) are read once:
 * complete entries and then 00/FF padding leave nothing to read, so the
 * READ BINARY that would answer more padding or 6B00 is not sent. */
static void test_padded_files_read_once(void **state)
{
    struct edge_script s;
    struct edge_result res;
    edge_script_init(&s, ATR(EDGE_ATR_CHIPDOC));
    chipdoc_opened(&s);
    answer_hex(&s, "", 0x9000);                               /* SELECT ODF */
    answer_hex(&s, "A806 3004 0402 4401 0000 0000", 0x9000);  /* the ODF: AODF at 4401, padding */
    answer_hex(&s, "", 0x9000);                               /* SELECT AODF */
    answer_hex(&s,                                            /* the user PIN (reference 01), padding */
               "302F 300E 0C08 5573 6572 2050 494E 0302 0780 3003 0401 01A1 1830 1603 0202 4C0A 0102 0201 0402"
               "0108 0201 1080 0101 0401 FF FFFF",
               0x9000);
    run_vgca(&s, &res);
    assert_int_equal(res.enum_rc, PCSC_OK);
    assert_int_equal(res.records_left, 0);
    edge_script_free(&s);
}

/* Inputs the fuzzers found (tests/fuzz/regress/), minimised: each ran
 * into a defect that is fixed now. */
static struct edge_result run_regression(const char *name, enum edge_target target)
{
    char path[4096];
    size_t len;
    struct edge_result res;
    snprintf(path, sizeof(path), "%s/%s", KYSO_FUZZ_REGRESS, name);
    uint8_t *p = read_file(path, &len);
    edge_run(target, p, len, false, &res);
    free(p);
    if (res.violation)
        fail_msg("%s: %s", name, res.violation);
    return res;
}

/* A PIV card answered an ECDH derivation with an empty 82: the edge gave
 * a secret of 0 bytes as the shared x. Now only a field-size x is one. */
static void test_regress_derive_empty_secret(void **state)
{
    struct edge_result res = run_regression("piv-derive-empty-secret", EDGE_TARGET_PIV);
    assert_string_equal(res.edge, "piv");
    assert_int_equal(res.nkeys, 1);
    assert_int_equal(res.derives, 1);
    assert_int_equal(res.derives_ok, 0);
}

/* A CDF entry of variant A gave its certificate directly, and the value
 * was an RSAPublicKey: the edge offered it as the key's certificate. Now
 * a direct value is checked as a file's content is; the key stays (its
 * public key from the PuKDF), without a certificate. */
static void test_regress_direct_certificate_not_one(void **state)
{
    struct edge_result res = run_regression("vgca-direct-certificate-not-one", EDGE_TARGET_VGCA);
    assert_string_equal(res.edge, "vgca");
    assert_int_equal(res.enum_rc, PCSC_OK);
    assert_int_equal(res.nkeys, 1);
    assert_int_equal(res.key_certs, 0);
}

/* A PIV certificate whose public key OpenSSL cannot read: the edge kept
 * the certificate and took the key from the metadata, a key the
 * certificate does not name. Now such a certificate is not the key's. */
static void test_regress_certificate_key_unreadable(void **state)
{
    struct edge_result res = run_regression("piv-certificate-key-unreadable", EDGE_TARGET_PIV);
    assert_string_equal(res.edge, "piv");
    assert_int_equal(res.enum_rc, PCSC_OK);
    assert_int_equal(res.key_certs, 0);
}

/* The key of the case above came from its metadata with the point at
 * infinity (86 01 00): it was offered with that as its public key. Now an
 * EC key whose point is not on its curve is not offered. */
static void test_regress_ec_point_at_infinity(void **state)
{
    struct edge_result res = run_regression("piv-certificate-key-unreadable", EDGE_TARGET_PIV);
    assert_int_equal(res.enum_rc, PCSC_OK);
    assert_int_equal(res.nkeys, 0);
}

/* An AODF gave the user PIN the reference 0: changing it returned at
 * once without saying how many tries were left (the caller's variable
 * stayed as it was). Now it says -1, as every other path does. */
static void test_regress_change_pin_no_reference(void **state)
{
    struct edge_result res = run_regression("vgca-change-pin-no-reference", EDGE_TARGET_VGCA);
    assert_string_equal(res.edge, "vgca");
    assert_int_equal(res.change_rc, PCSC_E_NOT_SUPPORTED);
}

/* ---- the mutator ---- */

static void rewrite_one(const struct seed *sd, const uint8_t *p, size_t len)
{
    /* Every body of a recorded session is DER, partly DER (a piece of a
     * longer answer) or padding: all come back as they were. */
    size_t off = EDGE_HEADER_LEN;
    while (off + 2 <= len) {
        size_t n = (size_t)p[off] << 8 | p[off + 1];
        assert_true(n < EDGE_LEN_FIRST_ERROR && off + 2 + n + 2 <= len);
        uint8_t *out = malloc(n + 16);
        assert_non_null(out);
        size_t m = edge_tlv_rewrite(p + off + 2, n, out, n + 16);
        assert_int_equal(m, n);
        assert_memory_equal(out, p + off + 2, n);
        free(out);
        off += 2 + n + 2;
    }
    assert_int_equal(off, len);
}

static void test_mutator_rewrites_seeds(void **state)
{
    assert_int_equal(each_seed(rewrite_one), NSEEDS);
}

static uint32_t flip_state = 1;

/* The byte mutator for the replay: one byte changed, or one dropped. */
static size_t flip_bytes(uint8_t *data, size_t size, size_t max_size)
{
    flip_state = flip_state * 1103515245u + 12345u;
    if (size == 0)
        return 0;
    size_t at = (flip_state >> 8) % size;
    if (flip_state & 1) {
        data[at] ^= (uint8_t)(1u << ((flip_state >> 4) % 8));
        return size;
    }
    memmove(data + at, data + at + 1, size - at - 1);
    return size - 1;
}

#define MUTANTS_PER_SEED 60
#define MUTANT_MAX 65536

static void mutate_one(const struct seed *sd, const uint8_t *p, size_t len)
{
    uint8_t *buf = malloc(MUTANT_MAX), *other = malloc(MUTANT_MAX);
    assert_non_null(buf);
    assert_non_null(other);
    assert_true(len <= MUTANT_MAX);
    memcpy(buf, p, len);
    size_t n = len;
    for (unsigned k = 0; k < MUTANTS_PER_SEED; k++) {
        n = edge_mutate(buf, n, MUTANT_MAX, k * 2654435761u + (unsigned)len, flip_bytes);
        assert_true(n <= MUTANT_MAX);
        struct edge_result res;
        edge_run(expect_for(sd->corpus)->target, buf, n, false, &res);
        if (res.violation)
            fail_msg("%s mutant %u: %s", sd->name, k, res.violation);
        if (k % 10 == 9) { /* back to the seed now and then, crossed with the mutant */
            size_t m = edge_cross_over(p, len, buf, n, other, MUTANT_MAX, k);
            assert_true(m <= MUTANT_MAX);
            memcpy(buf, other, m);
            n = m;
        }
    }
    free(buf);
    free(other);
}

static void test_mutants_run(void **state)
{
    assert_int_equal(each_seed(mutate_one), NSEEDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_sessions),
        cmocka_unit_test(test_replay_seeds),
        cmocka_unit_test(test_regress_path_past_end),
        cmocka_unit_test(test_regress_index_past_end),
        cmocka_unit_test(test_padded_files_read_once),
        cmocka_unit_test(test_regress_derive_empty_secret),
        cmocka_unit_test(test_regress_direct_certificate_not_one),
        cmocka_unit_test(test_regress_certificate_key_unreadable),
        cmocka_unit_test(test_regress_ec_point_at_infinity),
        cmocka_unit_test(test_regress_change_pin_no_reference),
        cmocka_unit_test(test_mutator_rewrites_seeds),
        cmocka_unit_test(test_mutants_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
