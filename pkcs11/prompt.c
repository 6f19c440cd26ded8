/* kyso-pkcs11.so: the PIN of a PIN-always key asked through the
 * configured pinentry program, for applications that never send
 * C_Login(CKU_CONTEXT_SPECIFIC) (Firefox over TLS 1.3, Java's SunPKCS11,
 * LibreOffice). The PIN goes from the program into locked memory and to
 * the card; the application never sees it.
 *
 * The user may take a minute to answer: the slot is unlocked meanwhile,
 * the operation is marked in flight (any other call on it is told
 * CKR_OPERATION_ACTIVE), and afterwards everything is looked up again, as
 * decrypt.c does around its record.
 *
 * What the call returns: the user cancelled (or gave nothing)
 * CKR_FUNCTION_CANCELED; no answer in [pinentry] timeout, or no display
 * and no terminal, CKR_USER_NOT_LOGGED_IN (as without a prompt, so that
 * applications react as they already do); the program failed
 * CKR_FUNCTION_FAILED; a wrong PIN costs a try on the card and gives
 * CKR_PIN_INCORRECT (CKR_PIN_LOCKED at the last), asked once per call.
 * Each is recorded (rule M13, or pin_failure), never with the PIN, and
 * ends the operation, as any failed C_Sign does. */
#include "config.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/internal.h"
#include "pkcs11/pinentry.h"

CK_RV p11_prompt_wanted(struct p11_slot *slot, const struct token_key *k, CK_RV refuse)
{
    char program[256];
    int timeout_s = 0;
    const char *detail;
    if (!p11_rules_pinentry(program, sizeof(program), &timeout_s))
        detail = "a fresh PIN is needed and no PIN prompt is possible: no [pinentry] program is configured";
    else if (!p11_pinentry_possible())
        detail = "a fresh PIN is needed and no PIN prompt is possible: no display and no terminal";
    else
        return P11_RV_ASK_PIN;
    p11_audit_note_rule(slot, "refusal", k, refuse, "M13", detail);
    p11_debug("key %02X: %s", k->ref, detail);
    return refuse;
}

/* Text for the description: at most cap - 1 bytes, cut at a character's
 * boundary, control characters as spaces. */
static void copy_text(char *out, size_t cap, const unsigned char *in, size_t len)
{
    size_t n = 0, i = 0;
    while (i < len && in[i]) {
        size_t clen = in[i] >= 0xF0 ? 4 : in[i] >= 0xE0 ? 3 : in[i] >= 0xC0 ? 2 : 1;
        if (clen > len - i || n + clen >= cap)
            break;
        for (size_t j = 0; j < clen; j++)
            out[n + j] = in[i + j] < 0x20 || in[i + j] == 0x7F ? ' ' : (char)in[i + j];
        n += clen;
        i += clen;
    }
    out[n] = '\0';
}

/* The certificate holder's CN, in UTF-8 ("" if there is none). */
static void holder_of(const struct token_key *k, char *out, size_t cap)
{
    out[0] = '\0';
    if (!k->cert || k->cert_len == 0 || k->cert_len > 65536)
        return;
    const unsigned char *p = k->cert;
    X509 *x = d2i_X509(NULL, &p, (long)k->cert_len);
    if (!x)
        return;
    const X509_NAME *name = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i >= 0) {
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (len > 0)
            copy_text(out, cap, utf8, (size_t)len);
        OPENSSL_free(utf8);
    }
    X509_free(x);
}

/* The program the application runs as (the one that asks). */
static void program_name(char *out, size_t cap)
{
    char path[512];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0) {
        copy_text(out, cap, (const unsigned char *)"?", 1);
        return;
    }
    path[n] = '\0';
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    copy_text(out, cap, (const unsigned char *)base, strlen(base));
}

/* Which key, whose certificate, which program asks: Vietnamese, then English. */
static void describe(const struct p11_slot *slot, const struct token_key *k, enum p11_op_class use, char *out,
                     size_t cap)
{
    static const char *const vi[] = { [P11_SIGN] = "ký", [P11_DECRYPT] = "giải mã",
                                      [P11_DERIVE] = "thỏa thuận khóa" };
    static const char *const en[] = { [P11_SIGN] = "sign with", [P11_DECRYPT] = "decrypt with",
                                      [P11_DERIVE] = "agree a key with" };
    char label[TOKEN_LABEL_MAX], holder[128], program[64], serial[sizeof(slot->token.info.serial)];
    copy_text(label, sizeof(label), (const unsigned char *)k->label, strnlen(k->label, sizeof(k->label)));
    holder_of(k, holder, sizeof(holder));
    program_name(program, sizeof(program));
    copy_text(serial, sizeof(serial), (const unsigned char *)slot->token.info.serial,
              strnlen(slot->token.info.serial, sizeof(slot->token.info.serial)));
    const char *h_vi = holder[0] ? holder : "(không có chứng thư)";
    const char *h_en = holder[0] ? holder : "(no certificate)";
    snprintf(out, cap,
             "Chương trình %s yêu cầu mã PIN để %s khóa \"%s\" (chứng thư của %s, thẻ %s).\n"
             "The program %s asks for the PIN to %s the key \"%s\" (certificate of %s, token %s).",
             program, vi[use], label, h_vi, serial, program, en[use], label, h_en, serial);
}

/* The code for what the prompt gave, and the note saying why (never the PIN). */
static CK_RV outcome(struct p11_slot *slot, const struct token_key *k, enum p11_pinentry_result res,
                     const char *why, int timeout_s)
{
    char detail[192];
    CK_RV rv;
    switch (res) {
    case P11_PINENTRY_OK:
        return CKR_OK;
    case P11_PINENTRY_CANCELLED:
        rv = CKR_FUNCTION_CANCELED;
        snprintf(detail, sizeof(detail), "the PIN prompt was cancelled");
        break;
    case P11_PINENTRY_TIMEOUT:
        rv = CKR_USER_NOT_LOGGED_IN;
        snprintf(detail, sizeof(detail), "no answer to the PIN prompt in %d s", timeout_s);
        break;
    case P11_PINENTRY_NO_PROMPT:
        rv = CKR_USER_NOT_LOGGED_IN;
        snprintf(detail, sizeof(detail), "the PIN prompt found no display and no terminal");
        break;
    default:
        rv = CKR_FUNCTION_FAILED;
        snprintf(detail, sizeof(detail), "the PIN prompt failed: %.150s", why[0] ? why : "?");
        break;
    }
    p11_audit_note_rule(slot, "refusal", k, rv, "M13", detail);
    p11_debug("pinentry: %s", detail);
    return rv;
}

CK_RV p11_prompt_pin(CK_SESSION_HANDLE h, struct p11_slot **slotp, struct p11_session **sp, uint8_t key_ref,
                     enum p11_op_class use, struct p11_secret *pin_out)
{
    struct p11_slot *slot = *slotp;
    struct p11_session *s = *sp;
    struct p11_operation *op = use == P11_DERIVE ? NULL : &s->crypto;
    enum p11_op_kind kind = op ? op->kind : OP_NONE;
    char program[256], desc[1024], why[160] = "";
    int timeout_s = 0;
    const struct token_key *k = token_find_key(&slot->token, key_ref);
    if (!k || !p11_rules_pinentry(program, sizeof(program), &timeout_s) || timeout_s <= 0) {
        /* The key or the configuration went away since the call began. */
        if (op)
            p11_op_reset(op);
        return k ? CKR_USER_NOT_LOGGED_IN : CKR_KEY_HANDLE_INVALID;
    }
    describe(slot, k, use, desc, sizeof(desc));
    uint64_t serial = op ? op->serial : 0, generation = slot->generation, login_serial = slot->login_serial;
    if (op)
        op->in_flight = true;
    p11_slot_unlock(slot);

    struct p11_pinentry_prompt prompt = { .program = program, .title = "kyso", .description = desc,
                                          .prompt = "PIN:", .error = NULL, .timeout_s = timeout_s };
    struct p11_secret pin = { .data = NULL };
    enum p11_pinentry_result res = p11_pinentry_ask(&prompt, &pin, why, sizeof(why));
    p11_debug("pinentry: key %02X: result %d%s%s", key_ref, (int)res, why[0] ? ": " : "", why);

    CK_RV rv = p11_session_get(h, slotp, sp);
    if (rv != CKR_OK) {
        /* Closed, removed or finalized meanwhile: the slot is unlocked. */
        p11_secret_clear(&pin);
        *sp = NULL;
        return rv;
    }
    slot = *slotp;
    s = *sp;
    op = use == P11_DERIVE ? NULL : &s->crypto;
    bool ours = !op || (op->kind == kind && op->serial == serial && op->in_flight);
    if (op && ours)
        op->in_flight = false;
    k = token_find_key(&slot->token, key_ref);
    rv = outcome(slot, k, res, why, timeout_s);
    /* What changed meanwhile says more than the prompt's answer. */
    if (!ours)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if (slot->generation != generation || !k)
        rv = CKR_DEVICE_REMOVED;
    else if (!slot->logged_in || slot->login != CKU_USER || slot->login_serial != login_serial)
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (rv == CKR_OK && pin.len == 0)
        rv = CKR_FUNCTION_CANCELED; /* (pinentry reports an empty PIN as a cancel) */
    else if (rv == CKR_OK)
        rv = p11_context_verify(slot, pin.data, pin.len, "pinentry");

    if (rv == CKR_OK && op) {
        p11_secret_clear(&op->context_pin);
        op->context_pin = pin; /* the locked page changes hands: no copy */
        op->context_pin_verified = true;
        op->needs_context_login = false;
    } else if (rv == CKR_OK) {
        p11_secret_clear(pin_out);
        *pin_out = pin;
    } else {
        p11_secret_clear(&pin);
        if (op && ours)
            p11_op_reset(op);
    }
    return rv;
}

CK_RV p11_prompt_login(CK_SESSION_HANDLE h, struct p11_slot **slotp, struct p11_session **sp, CK_USER_TYPE type,
                       struct p11_secret *pin_out)
{
    struct p11_slot *slot = *slotp;
    struct p11_session *s = *sp;
    if (type == CKU_CONTEXT_SPECIFIC) {
        /* For the operation under way: as when the application gave none. */
        struct p11_operation *op = &s->crypto;
        const struct token_key *k = token_find_key(&slot->token, op->key_ref);
        if ((op->kind != OP_SIGN && op->kind != OP_DECRYPT) || !op->needs_context_login || !k)
            return CKR_OPERATION_NOT_INITIALIZED;
        CK_RV rv = p11_prompt_wanted(slot, k, CKR_USER_NOT_LOGGED_IN);
        if (rv != P11_RV_ASK_PIN)
            return rv;
        return p11_prompt_pin(h, slotp, sp, op->key_ref, op->kind == OP_SIGN ? P11_SIGN : P11_DECRYPT, NULL);
    }
    if (slot->logged_in)
        return slot->login == CKU_USER ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    char program[256], desc[512], name[64], serial[sizeof(slot->token.info.serial)], label[sizeof(slot->token.info.label)],
        why[160] = "";
    int timeout_s = 0;
    if (!p11_rules_pinentry(program, sizeof(program), &timeout_s) || !p11_pinentry_possible()) {
        p11_audit_note_rule(slot, "refusal", NULL, CKR_USER_NOT_LOGGED_IN, "M13",
                            "C_Login on the protected authentication path: no PIN prompt is possible");
        return CKR_USER_NOT_LOGGED_IN;
    }
    program_name(name, sizeof(name));
    copy_text(serial, sizeof(serial), (const unsigned char *)slot->token.info.serial,
              strnlen(slot->token.info.serial, sizeof(slot->token.info.serial)));
    copy_text(label, sizeof(label), (const unsigned char *)slot->token.info.label,
              strnlen(slot->token.info.label, sizeof(slot->token.info.label)));
    snprintf(desc, sizeof(desc),
             "Chương trình %s yêu cầu mã PIN của thẻ \"%s\" (%s).\nThe program %s asks for the PIN of the token "
             "\"%s\" (%s).",
             name, label, serial, name, label, serial);
    uint64_t generation = slot->generation;
    p11_slot_unlock(slot);
    struct p11_pinentry_prompt prompt = { .program = program, .title = "kyso", .description = desc,
                                          .prompt = "PIN:", .error = NULL, .timeout_s = timeout_s };
    struct p11_secret pin = { .data = NULL };
    enum p11_pinentry_result res = p11_pinentry_ask(&prompt, &pin, why, sizeof(why));
    CK_RV rv = p11_session_get(h, slotp, sp);
    if (rv != CKR_OK) {
        p11_secret_clear(&pin);
        *sp = NULL;
        return rv;
    }
    slot = *slotp;
    rv = outcome(slot, NULL, res, why, timeout_s);
    if (rv == CKR_OK && slot->generation != generation)
        rv = CKR_DEVICE_REMOVED;
    else if (rv == CKR_OK && pin.len == 0)
        rv = CKR_FUNCTION_CANCELED;
    else if (rv == CKR_OK && slot->logged_in)
        rv = CKR_USER_ALREADY_LOGGED_IN; /* another thread logged in meanwhile */
    if (rv == CKR_OK) {
        p11_secret_clear(pin_out);
        *pin_out = pin;
    } else
        p11_secret_clear(&pin);
    return rv;
}
