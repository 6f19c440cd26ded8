/* The token a record is about (tools/cli/token_facts.h). */
#include "config.h"

#include "tools/cli/token_facts.h"

#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/facts.h"

int cli_usb_identity(unsigned bus, unsigned address, uint16_t *vid, uint16_t *pid, char *serial, size_t len)
{
    libusb_context *usb = NULL;
    libusb_device **devs = NULL;
    int rc = -1;
    serial[0] = '\0';
    if (libusb_init(&usb) != 0)
        return -1;
    ssize_t n = libusb_get_device_list(usb, &devs);
    for (ssize_t i = 0; i < n && rc != 0; i++) {
        struct libusb_device_descriptor d;
        if (libusb_get_bus_number(devs[i]) != bus || libusb_get_device_address(devs[i]) != address ||
            libusb_get_device_descriptor(devs[i], &d) != 0)
            continue;
        *vid = d.idVendor;
        *pid = d.idProduct;
        libusb_device_handle *h = NULL;
        unsigned char s[128];
        int got;
        /* (reading the serial needs the device opened: root, or a udev rule) */
        if (d.iSerialNumber && libusb_open(devs[i], &h) == 0 &&
            (got = libusb_get_string_descriptor_ascii(h, d.iSerialNumber, s, sizeof(s) - 1)) > 0 && (size_t)got < len) {
            bool printable = true;
            for (int k = 0; k < got; k++)
                printable &= s[k] >= 0x20 && s[k] < 0x7f;
            if (printable) {
                memcpy(serial, s, (size_t)got);
                serial[got] = '\0';
            }
        }
        if (h)
            libusb_close(h);
        rc = 0;
    }
    if (devs)
        libusb_free_device_list(devs, 1);
    libusb_exit(usb);
    return rc;
}

void cli_token_refresh_tries(struct cli_token *ct)
{
    bool verified;
    ct->pin_tries = ct->puk_tries = -1;
    if (pcsc_begin_transaction(&ct->card) != PCSC_OK)
        return;
    ct->t.edge->pin_status(&ct->t, TOKEN_PIN_USER, &ct->pin_tries, &verified);
    ct->t.edge->pin_status(&ct->t, TOKEN_PIN_SO, &ct->puk_tries, &verified);
    pcsc_end_transaction(&ct->card);
}

/* Connects to reader and reads the token there. 0, 1 when the reader
 * holds no token kyso drives (or not the one wanted), -1 on error. */
static int try_reader(struct cli_token *ct, const char *reader, const char *serial, char *why, size_t whylen)
{
    if (pcsc_connect(&ct->ctx, reader, &ct->card) != PCSC_OK)
        return 1;
    struct pcsc_card_status st;
    int rc = pcsc_card_status(&ct->card, &st);
    if (rc != PCSC_OK || !st.present || pcsc_begin_transaction(&ct->card) != PCSC_OK) {
        pcsc_disconnect(&ct->card, false);
        return 1;
    }
    rc = token_open(&ct->t, &ct->card);
    if (rc != PCSC_OK || (serial && strcmp(ct->t.info.serial, serial) != 0)) {
        if (rc == PCSC_OK)
            token_close(&ct->t);
        pcsc_end_transaction(&ct->card);
        pcsc_disconnect(&ct->card, false);
        return 1;
    }
    rc = token_enumerate(&ct->t);
    pcsc_end_transaction(&ct->card);
    if (rc != PCSC_OK) {
        snprintf(why, whylen, "the token in %s cannot be read: %s", reader, pcsc_status_name(rc));
        token_close(&ct->t);
        pcsc_disconnect(&ct->card, false);
        return -1;
    }
    ct->opened = true;
    snprintf(ct->reader, sizeof(ct->reader), "%s", reader);
    memcpy(ct->atr, st.atr, st.atr_len);
    ct->atr_len = st.atr_len;
    cli_token_refresh_tries(ct);
    unsigned bus, address;
    if (pcsc_reader_channel(&ct->card, &ct->usb, &bus, &address) != PCSC_OK)
        ct->usb = false;
    if (ct->usb &&
        cli_usb_identity(bus, address, &ct->usb_vid, &ct->usb_pid, ct->usb_serial, sizeof(ct->usb_serial)) != 0)
        ct->usb = false;
    return 0;
}

int cli_token_open(struct cli_token *ct, const char *reader, const char *serial, char *why, size_t whylen)
{
    memset(ct, 0, sizeof(*ct));
    if (pcsc_context_establish(&ct->ctx) != PCSC_OK) {
        snprintf(why, whylen, "the smart card service (pcscd) is not running");
        return -1;
    }
    struct pcsc_reader_list list = { 0 };
    if (pcsc_list_readers(&ct->ctx, &list) != PCSC_OK)
        list.count = 0;
    int rc = 1;
    for (size_t i = 0; i < list.count && rc != -1; i++) {
        if (reader && strcmp(list.names[i], reader) != 0)
            continue;
        if (rc == 0) {
            /* a second token: which one is meant is not for kyso to guess */
            struct cli_token other;
            memset(&other, 0, sizeof(other));
            other.ctx = ct->ctx;
            if (!serial && try_reader(&other, list.names[i], NULL, why, whylen) == 0) {
                token_close(&other.t);
                pcsc_disconnect(&other.card, false);
                snprintf(why, whylen, "several tokens are inserted (%s, %s): name one with --reader", ct->reader,
                         list.names[i]);
                rc = -1;
            }
            continue;
        }
        rc = try_reader(ct, list.names[i], serial, why, whylen);
    }
    pcsc_reader_list_free(&list);
    if (rc == 1 && serial)
        snprintf(why, whylen, "the token %s is not inserted", serial);
    else if (rc == 1 && reader)
        snprintf(why, whylen, "no token kyso drives is in reader %s", reader);
    else if (rc == 1)
        snprintf(why, whylen, "no token kyso drives is inserted");
    if (rc != 0) {
        cli_token_close(ct);
        return -1;
    }
    return 0;
}

void cli_token_close(struct cli_token *ct)
{
    if (ct->opened) {
        token_close(&ct->t);
        pcsc_disconnect(&ct->card, false);
        ct->opened = false;
    }
    if (pcsc_context_is_valid(&ct->ctx))
        pcsc_context_release(&ct->ctx);
}

json_object *cli_token_facts(const struct cli_token *ct)
{
    const struct token_info *i = &ct->t.info;
    struct records_token_in in = { .manufacturer = i->manufacturer,
                                   .model = i->model,
                                   .serial = i->serial,
                                   .label = i->label,
                                   .atr = ct->atr,
                                   .atr_len = ct->atr_len,
                                   .applet = i->applet,
                                   .has_usb = ct->usb,
                                   .usb_vid = ct->usb_vid,
                                   .usb_pid = ct->usb_pid,
                                   .usb_serial = ct->usb_serial };
    return records_token_facts(&in);
}

json_object *cli_token_certificates(const struct cli_token *ct, char *why, size_t whylen)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < ct->t.nkeys; i++) {
        const struct token_key *k = &ct->t.keys[i];
        if (!k->cert)
            continue;
        char reason[160];
        json_object *c = records_certificate_facts(k->cert, k->cert_len, reason, sizeof(reason));
        if (!c) {
            snprintf(why, whylen, "the certificate of key %02X on the token: %s", k->ref, reason);
            json_object_put(a);
            return NULL;
        }
        json_object_array_add(a, c);
    }
    return a;
}

static const char *str_of(const json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

int cli_token_matches(const struct cli_token *ct, const json_object *record, char *why, size_t whylen)
{
    json_object *have = cli_token_facts(ct), *rt = NULL, *rc = NULL;
    int result = -1;
    if (!have || !json_object_object_get_ex(record, "token", &rt) ||
        !json_object_object_get_ex(record, "certificates", &rc)) {
        snprintf(why, whylen, "the record has no token or certificates");
        goto out;
    }
    static const char *const keys[] = { "serial", "atr", "applet", "manufacturer", "model", "label" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *want = str_of(rt, keys[i]), *got = str_of(have, keys[i]);
        if (!want || !got || strcmp(want, got) != 0) {
            snprintf(why, whylen, "the record's token %s is \"%s\", the token's is \"%s\"", keys[i],
                     want ? want : "", got ? got : "");
            goto out;
        }
    }
    json_object *ru = NULL, *hu = NULL;
    json_object_object_get_ex(rt, "usb", &ru);
    json_object_object_get_ex(have, "usb", &hu);
    /* (a USB identity that was read must be the record's; a token read
     * through a reader that does not tell is checked by its card facts) */
    if (hu && !(ru && json_object_equal(ru, hu))) {
        snprintf(why, whylen, "the record's USB identity is not the token's (%s:%s %s)", str_of(hu, "vid"),
                 str_of(hu, "pid"), str_of(hu, "serial"));
        goto out;
    }
    char reason[160];
    json_object *certs = cli_token_certificates(ct, reason, sizeof(reason));
    if (!certs) {
        snprintf(why, whylen, "%s", reason);
        goto out;
    }
    result = 0;
    for (size_t i = 0; i < json_object_array_length(rc) && result == 0; i++) {
        const char *fp = str_of(json_object_array_get_idx(rc, i), "sha256");
        bool held = false;
        for (size_t j = 0; j < json_object_array_length(certs) && !held; j++)
            held = fp && strcmp(fp, str_of(json_object_array_get_idx(certs, j), "sha256")) == 0;
        if (!held) {
            snprintf(why, whylen, "certificate %.16s… of the record is not on the token", fp ? fp : "?");
            result = -1;
        }
    }
    json_object_put(certs);
out:
    json_object_put(have);
    return result;
}
