/* The pcsc/ layer against a real pcscd and kyso-vtoken (run through
 * tests/integration/pcsc-layer.sh, inside tests/with-token): reader list,
 * card events (removal and re-insertion seen by pcsc_wait_change),
 * APDUs through GET RESPONSE and extended length, status word mapping,
 * a reset by another application, cancel and timeout of a wait. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pcsc/apdu.h"
#include "pcsc/reader.h"
#include "pcsc/status.h"
#include "pcsc/tlv.h"

static int passed, failed;

#define CHECK(name, cond)                                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
            printf("ok - %s\n", name);                                                             \
        } else {                                                                                   \
            failed++;                                                                              \
            printf("not ok - %s (%s:%d)\n", name, __FILE__, __LINE__);                             \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

static const uint8_t piv_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };

static int control(const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof(line), "\"%s\" ctl --control \"%s\" %s >/dev/null", getenv("KYSO_VTOKEN"),
             getenv("KYSO_VTOKEN_CTL"), cmd);
    return system(line);
}

static int select_piv(struct pcsc_transport *t, uint16_t *sw)
{
    uint8_t resp[64];
    size_t n;
    struct pcsc_apdu a = { .ins = 0xA4, .p1 = 0x04, .data = piv_aid, .data_len = sizeof(piv_aid), .le = 256 };
    return pcsc_apdu_transceive(t, &a, resp, sizeof(resp), &n, sw);
}

/* Reads the 9C certificate object (larger than one short answer). */
static int read_cert_object(struct pcsc_transport *t, uint8_t **out, size_t *len, uint16_t *sw)
{
    static const uint8_t tag[] = { 0x5C, 0x03, 0x5F, 0xC1, 0x0A };
    struct pcsc_apdu a = { .ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .data = tag, .data_len = sizeof(tag), .le = 256 };
    return pcsc_apdu_transceive_alloc(t, &a, out, len, sw);
}

/* Waits for the reader to reach the wanted presence; returns true if it did. */
static bool wait_presence(struct pcsc_context *ctx, const char *reader, bool want)
{
    struct pcsc_reader_state rs = { .reader = reader };
    if (pcsc_wait_change(ctx, &rs, 1, 0) != PCSC_OK)
        return false;
    for (int i = 0; i < 50 && rs.present != want; i++) {
        int rc = pcsc_wait_change(ctx, &rs, 1, 200);
        if (rc != PCSC_OK && rc != PCSC_E_TIMEOUT)
            return false;
    }
    return rs.present == want;
}

struct canceller {
    struct pcsc_context *ctx;
};

static void *cancel_soon(void *arg)
{
    struct canceller *c = arg;
    struct timespec ts = { 0, 300 * 1000000L };
    nanosleep(&ts, NULL);
    pcsc_cancel(c->ctx);
    return NULL;
}

int main(void)
{
    const char *reader = getenv("KYSO_READER");
    struct pcsc_context ctx = { 0 }, other_ctx = { 0 };
    struct pcsc_card card = { 0 }, other = { 0 };
    struct pcsc_transport t;
    uint16_t sw = 0;
    uint8_t *obj = NULL;
    size_t len = 0;

    if (!reader || !getenv("KYSO_VTOKEN_CTL")) {
        fprintf(stderr, "run through tests/integration/pcsc-layer.sh\n");
        return 2;
    }
    CHECK("context established", pcsc_context_establish(&ctx) == PCSC_OK);

    struct pcsc_reader_list list = { 0 };
    CHECK("reader list", pcsc_list_readers(&ctx, &list) == PCSC_OK);
    bool found = false;
    for (size_t i = 0; i < list.count; i++)
        found |= strcmp(list.names[i], reader) == 0;
    CHECK("the virtual reader is listed", found);
    pcsc_reader_list_free(&list);

    CHECK("a card is present", wait_presence(&ctx, reader, true));
    CHECK("connect", pcsc_connect(&ctx, reader, &card) == PCSC_OK);
    pcsc_card_transport(&card, false, &t);
    CHECK("SELECT PIV", select_piv(&t, &sw) == PCSC_OK && sw == 0x9000);

    CHECK("certificate object through GET RESPONSE", read_cert_object(&t, &obj, &len, &sw) == PCSC_OK &&
                                                          sw == 0x9000 && len > 256 && obj[0] == 0x53);
    /* PIV marks 71 (CertInfo) constructed though it holds a plain byte,
     * so only the certificate inside 70 is validated recursively. */
    struct tlv outer, cert;
    CHECK("the object is well-formed BER-TLV",
          obj && tlv_find(obj, len, 0x53, &outer) == TLV_OK && tlv_validate(outer.value, outer.len, false, 0) == TLV_OK &&
              tlv_find(outer.value, outer.len, 0x70, &cert) == TLV_OK &&
              tlv_validate(cert.value, cert.len, true, 16) == TLV_OK);
    size_t short_len = len;
    pcsc_apdu_free_response(obj, len);
    obj = NULL;

    struct pcsc_transport ext;
    pcsc_card_transport(&card, true, &ext);
    CHECK("the same object with extended length", read_cert_object(&ext, &obj, &len, &sw) == PCSC_OK &&
                                                      sw == 0x9000 && len == short_len);
    pcsc_apdu_free_response(obj, len);
    obj = NULL;

    /* A wrong PIN: status word 63C2 maps to wrong PIN with 2 tries left. */
    static const uint8_t wrong[] = { '0', '0', '0', '0', '0', '0', 0xFF, 0xFF };
    struct pcsc_apdu verify = { .ins = 0x20, .p2 = 0x80, .data = wrong, .data_len = sizeof(wrong) };
    uint8_t dummy[8];
    size_t n;
    int tries = -1;
    CHECK("VERIFY with a wrong PIN", pcsc_apdu_transceive(&t, &verify, dummy, sizeof(dummy), &n, &sw) == PCSC_OK);
    CHECK("63C2 is 'wrong PIN, 2 tries left'",
          pcsc_status_from_sw(sw, &tries) == PCSC_E_WRONG_PIN && tries == 2);

    /* Transactions nest with another process's use of the card. */
    CHECK("begin transaction", pcsc_begin_transaction(&card) == PCSC_OK);
    CHECK("APDU inside the transaction", select_piv(&t, &sw) == PCSC_OK && sw == 0x9000);
    CHECK("end transaction", pcsc_end_transaction(&card) == PCSC_OK);

    /* Another application resets the card: our next exchange says so,
     * and a reconnect recovers. */
    CHECK("second context", pcsc_context_establish(&other_ctx) == PCSC_OK);
    CHECK("second connection", pcsc_connect(&other_ctx, reader, &other) == PCSC_OK);
    CHECK("the other application resets the card", pcsc_reconnect(&other, true) == PCSC_OK);
    int rc = select_piv(&t, &sw);
    CHECK("our next APDU reports the reset", rc == PCSC_E_CARD_RESET);
    CHECK("reconnect after the reset", pcsc_reconnect(&card, false) == PCSC_OK);
    CHECK("the card answers again", select_piv(&t, &sw) == PCSC_OK && sw == 0x9000);
    pcsc_disconnect(&other, false);
    pcsc_context_release(&other_ctx);

    /* Removal and re-insertion. */
    CHECK("control: remove", control("remove") == 0);
    CHECK("pcsc_wait_change sees the card removed", wait_presence(&ctx, reader, false));
    struct pcsc_card_status st;
    CHECK("card status: not present", pcsc_card_status(&card, &st) == PCSC_OK && !st.present);
    rc = select_piv(&t, &sw);
    CHECK("an APDU to the removed card fails as removed", rc == PCSC_E_CARD_REMOVED || rc == PCSC_E_NO_CARD);
    CHECK("control: insert", control("insert") == 0);
    CHECK("pcsc_wait_change sees the card inserted", wait_presence(&ctx, reader, true));
    pcsc_disconnect(&card, false);
    CHECK("connect to the re-inserted card", pcsc_connect(&ctx, reader, &card) == PCSC_OK);
    pcsc_card_transport(&card, false, &t);
    CHECK("the re-inserted card answers", select_piv(&t, &sw) == PCSC_OK && sw == 0x9000);

    /* A wait with nothing happening times out; cancel ends a wait early. */
    struct pcsc_reader_state rs = { .reader = reader };
    pcsc_wait_change(&ctx, &rs, 1, 0);
    CHECK("a quiet wait times out", pcsc_wait_change(&ctx, &rs, 1, 300) == PCSC_E_TIMEOUT);
    pthread_t th;
    struct canceller c = { &ctx };
    pthread_create(&th, NULL, cancel_soon, &c);
    rc = pcsc_wait_change(&ctx, &rs, 1, 20000);
    pthread_join(th, NULL);
    CHECK("pcsc_cancel ends a wait", rc == PCSC_E_CANCELLED);

    pcsc_disconnect(&card, false);
    pcsc_context_release(&ctx);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
