/* Unit tests of pcsc/status.c (status words) and of the pure parts of
 * pcsc/reader.c (PC/SC return codes, reader multi-strings). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pcsc/reader.h"
#include "pcsc/status.h"

static void test_sw_mapping(void **state)
{
    static const struct {
        uint16_t sw;
        int status;
    } map[] = {
        { 0x9000, PCSC_OK },
        { 0x6A82, PCSC_E_NOT_FOUND },
        { 0x6A83, PCSC_E_NOT_FOUND },
        { 0x6A88, PCSC_E_NOT_FOUND },
        { 0x6982, PCSC_E_SECURITY },
        { 0x6983, PCSC_E_PIN_BLOCKED },
        { 0x6700, PCSC_E_WRONG_LENGTH },
        { 0x6C10, PCSC_E_WRONG_LENGTH },
        { 0x6A80, PCSC_E_INCORRECT_DATA },
        { 0x6D00, PCSC_E_NOT_SUPPORTED },
        { 0x6E00, PCSC_E_NOT_SUPPORTED },
        { 0x6A81, PCSC_E_NOT_SUPPORTED },
        { 0x6884, PCSC_E_NOT_SUPPORTED },
        { 0x6985, PCSC_E_CONDITIONS },
        { 0x6A86, PCSC_E_WRONG_P1P2 },
        { 0x6B00, PCSC_E_WRONG_P1P2 },
        { 0x6581, PCSC_E_MEMORY },
        { 0x6A84, PCSC_E_MEMORY },
        { 0x6F00, PCSC_E_CARD },
        { 0x6282, PCSC_E_CARD },
        { 0x6100, PCSC_E_CARD },
        { 0x9001, PCSC_E_CARD },
        { 0x0000, PCSC_E_CARD },
        { 0x63D1, PCSC_E_CARD },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int tries = 99;
        int got = pcsc_status_from_sw(map[i].sw, &tries);
        if (got != map[i].status)
            fail_msg("SW %04X: got %d, want %d", map[i].sw, got, map[i].status);
        assert_int_equal(tries, -1);
        assert_int_equal(pcsc_status_from_sw(map[i].sw, NULL), map[i].status);
    }
}

static void test_wrong_pin_tries(void **state)
{
    int tries = 99;

    assert_int_equal(pcsc_status_from_sw(0x63C2, &tries), PCSC_E_WRONG_PIN);
    assert_int_equal(tries, 2);
    assert_int_equal(pcsc_status_from_sw(0x63CF, &tries), PCSC_E_WRONG_PIN);
    assert_int_equal(tries, 15);
    assert_int_equal(pcsc_status_from_sw(0x63C0, &tries), PCSC_E_WRONG_PIN);
    assert_int_equal(tries, 0);
    /* No counter given. */
    assert_int_equal(pcsc_status_from_sw(0x6300, &tries), PCSC_E_WRONG_PIN);
    assert_int_equal(tries, -1);
    assert_int_equal(pcsc_status_from_sw(0x63C3, NULL), PCSC_E_WRONG_PIN);
}

static void test_names(void **state)
{
    static const int codes[] = {
        PCSC_OK, PCSC_E_NOT_FOUND, PCSC_E_SECURITY, PCSC_E_PIN_BLOCKED, PCSC_E_WRONG_PIN,
        PCSC_E_WRONG_LENGTH, PCSC_E_INCORRECT_DATA, PCSC_E_NOT_SUPPORTED, PCSC_E_CONDITIONS,
        PCSC_E_WRONG_P1P2, PCSC_E_MEMORY, PCSC_E_CARD, PCSC_E_NO_CARD, PCSC_E_CARD_REMOVED,
        PCSC_E_CARD_RESET, PCSC_E_COMM, PCSC_E_MALFORMED, PCSC_E_NOMEM, PCSC_E_INVALID_ARG,
        PCSC_E_BUFFER_TOO_SMALL, PCSC_E_NO_SERVICE, PCSC_E_NO_READER, PCSC_E_SHARING,
        PCSC_E_TIMEOUT, PCSC_E_CANCELLED,
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    const char *unknown = pcsc_status_name(-12345);

    assert_non_null(unknown);
    assert_string_equal(pcsc_status_name(PCSC_E_WRONG_PIN), "wrong PIN");
    assert_string_equal(pcsc_status_name(PCSC_E_CARD_REMOVED), "card removed");
    /* Every code has its own name. */
    for (size_t i = 0; i < n; i++) {
        const char *name = pcsc_status_name(codes[i]);
        assert_non_null(name);
        assert_string_not_equal(name, unknown);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(name, pcsc_status_name(codes[j]));
    }
}

static void test_card_error_class(void **state)
{
    assert_false(pcsc_status_is_card_error(PCSC_OK));
    assert_true(pcsc_status_is_card_error(PCSC_E_NOT_FOUND));
    assert_true(pcsc_status_is_card_error(PCSC_E_CARD));
    assert_false(pcsc_status_is_card_error(PCSC_E_CARD_REMOVED));
    assert_false(pcsc_status_is_card_error(PCSC_E_MALFORMED));
    /* Whatever a status word maps to is a card error or OK. */
    for (unsigned sw = 0; sw <= 0xFFFF; sw++) {
        int st = pcsc_status_from_sw((uint16_t)sw, NULL);
        assert_true(st == PCSC_OK || pcsc_status_is_card_error(st));
        assert_true((st == PCSC_OK) == (sw == 0x9000));
    }
}

static void test_scard_mapping(void **state)
{
    assert_int_equal(pcsc_status_from_scard(SCARD_S_SUCCESS), PCSC_OK);
    assert_int_equal(pcsc_status_from_scard(SCARD_W_REMOVED_CARD), PCSC_E_CARD_REMOVED);
    assert_int_equal(pcsc_status_from_scard(SCARD_W_RESET_CARD), PCSC_E_CARD_RESET);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_NO_SMARTCARD), PCSC_E_NO_CARD);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_READER_UNAVAILABLE), PCSC_E_NO_READER);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_UNKNOWN_READER), PCSC_E_NO_READER);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_NO_READERS_AVAILABLE), PCSC_E_NO_READER);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_NO_SERVICE), PCSC_E_NO_SERVICE);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_SERVICE_STOPPED), PCSC_E_NO_SERVICE);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_SHARING_VIOLATION), PCSC_E_SHARING);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_TIMEOUT), PCSC_E_TIMEOUT);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_CANCELLED), PCSC_E_CANCELLED);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_NO_MEMORY), PCSC_E_NOMEM);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_INSUFFICIENT_BUFFER), PCSC_E_BUFFER_TOO_SMALL);
    assert_int_equal(pcsc_status_from_scard(SCARD_E_INVALID_HANDLE), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_status_from_scard(SCARD_W_UNRESPONSIVE_CARD), PCSC_E_COMM);
    assert_int_equal(pcsc_status_from_scard(SCARD_W_UNPOWERED_CARD), PCSC_E_COMM);
    assert_int_equal(pcsc_status_from_scard(SCARD_F_COMM_ERROR), PCSC_E_COMM);
    assert_int_equal(pcsc_status_from_scard((LONG)0x12345678), PCSC_E_COMM);
}

static void check_list(const char *multi, size_t len, size_t count, const char *const *names)
{
    struct pcsc_reader_list l;

    assert_int_equal(pcsc_reader_list_parse(multi, len, &l), PCSC_OK);
    assert_int_equal(l.count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(l.names[i], names[i]);
    pcsc_reader_list_free(&l);
    assert_int_equal(l.count, 0);
    assert_null(l.names);
}

static void test_reader_list_parse(void **state)
{
    static const char *const two[] = { "Yubico YubiKey 00 00", "Virtual PCD 00 01" };

    check_list("Yubico YubiKey 00 00\0Virtual PCD 00 01\0", 39, 2, two);
    /* Unterminated last name, and bytes after the end marker. */
    check_list("Yubico YubiKey 00 00\0Virtual PCD 00 01", 38, 2, two);
    check_list("Yubico YubiKey 00 00\0\0junk", 26, 1, two);
    /* Empty lists. */
    check_list("\0", 2, 0, NULL);
    check_list("", 0, 0, NULL);
    check_list(NULL, 0, 0, NULL);

    struct pcsc_reader_list l;
    assert_int_equal(pcsc_reader_list_parse(NULL, 3, &l), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_reader_list_parse("a", 1, NULL), PCSC_E_INVALID_ARG);
    pcsc_reader_list_free(NULL);
}

static void test_reader_api_without_context(void **state)
{
    struct pcsc_context ctx = { 0 };
    struct pcsc_reader_list l;
    struct pcsc_card card;
    struct pcsc_card_status st;
    struct pcsc_reader_state rs = { .reader = "x" };
    struct pcsc_transport t;

    /* Nothing here reaches pcscd: the context was never established. */
    assert_int_equal(pcsc_list_readers(&ctx, &l), PCSC_E_INVALID_ARG);
    assert_int_equal(l.count, 0);
    assert_int_equal(pcsc_connect(&ctx, "x", &card), PCSC_E_INVALID_ARG);
    assert_false(card.connected);
    assert_int_equal(pcsc_card_status(&card, &st), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_begin_transaction(&card), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_end_transaction(&card), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_reconnect(&card, false), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_disconnect(&card, false), PCSC_OK);
    assert_int_equal(pcsc_wait_change(&ctx, &rs, 1, 0), PCSC_E_INVALID_ARG);
    assert_int_equal(pcsc_cancel(&ctx), PCSC_E_INVALID_ARG);
    assert_false(pcsc_context_is_valid(&ctx));
    pcsc_context_release(&ctx);

    /* The transport of an unconnected card refuses to send. */
    uint8_t cmd[4] = { 0 }, resp[4];
    size_t n = sizeof(resp);
    pcsc_card_transport(&card, false, &t);
    assert_ptr_equal(t.ctx, &card);
    assert_int_equal(t.transmit(t.ctx, cmd, 4, resp, &n), PCSC_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sw_mapping),
        cmocka_unit_test(test_wrong_pin_tries),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_card_error_class),
        cmocka_unit_test(test_scard_mapping),
        cmocka_unit_test(test_reader_list_parse),
        cmocka_unit_test(test_reader_api_without_context),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
