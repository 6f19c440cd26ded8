/* kyso: the command-line tool around the token.
 *
 *   kyso token status            readers, tokens, keys, certificates, PIN tries, what is due
 *   kyso token due               every token and certificate known: renewal and return deadlines (M10, M11)
 *   kyso renewal-request …       a renewal or information-change request made from the token (M10)
 *   kyso cert import FILE [--system]
 *   kyso cert list [--system]
 *   kyso policy show | check     the rules in force, and whether root's configuration is sound
 *   kyso record …                the legal records: check, seal, render, sign, verify, register, list, show
 *   kyso handover KIND …         a handover record made from the token (rule M5)
 *   kyso pin-reset request | perform | status   recovering a locked token (rule M6)
 *   kyso revoke-request, kyso loss [found]   losing a token, revoking it (rule M7)
 *   kyso off-premises [return]   taking a token out of the office (rule M8)
 *   kyso crl update [--url URL]... [--cert FILE]... | kyso crl status
 *
 * One clear line per error on stderr, exit status non-zero. */
#include "config.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "audit/audit.h"
#include "pcsc/reader.h"
#include "pcsc/token.h"
#include "policy/certstore.h"
#include "policy/certcheck.h"
#include "policy/config.h"
#include "records/registry.h"
#include "tools/cli/audit_cmds.h"
#include "tools/cli/policy_cmds.h"
#include "tools/cli/record_cmds.h"
#include "tools/cli/crl_cmds.h"
#include "tools/cli/handover_cmd.h"
#include "tools/cli/m7_cmds.h"
#include "tools/cli/pin_reset.h"
#include "tools/cli/renewal_request_cmd.h"
#include "tools/cli/token_due_cmd.h"
#include "tools/cli/setup_cmd.h"

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  kyso token status\n"
          "  kyso token due [--json] [--log FILE]... [--at TIME] [--dir DIR]\n"
          "        (exit 0 nothing overdue, 1 error, 3 a token is overdue for return)\n"
          "  kyso cert import FILE [--system]\n"
          "  kyso cert list [--system]\n"
          "  kyso setup firefox [--remove] [--policies FILE]\n"
          "  kyso setup check [--policies FILE]\n"
          "  kyso policy show | check\n"
          "  kyso record check FILE | render FILE -o OUT.pdf | register FILE | list | show ID [--dir DIR]\n"
          "  kyso handover issue|custodian-change|return|repair|other --parties FILE --reason TEXT\n"
          "        --condition TEXT [--permission-ref TEXT] [--place PLACE] [--reader NAME] -o OUT.json [--pdf OUT.pdf]\n"
          "  kyso record sign FILE [--module PATH] [--slot ID] [--key-id HEX] [--pin-fd N] [-o OUT]\n"
          "  kyso record verify FILE|ID [--dir DIR] [--sig P7S]...\n"
          "  kyso renewal-request --parties FILE --change renewal|info-change --requested TEXT --reason TEXT\n"
          "        [--cert SHA256-PREFIX|SERIAL] [--reader NAME] [--place PLACE] -o OUT.json [--pdf OUT.pdf]\n"
          "  kyso pin-reset request --parties FILE [--reason TEXT] [--place PLACE] [--reader NAME] -o OUT.json\n"
          "        [--pdf OUT.pdf]\n"
          "  kyso pin-reset perform --request ID -o OUT.json [--pdf OUT.pdf] [--puk-fd N] [--new-pin-fd N]\n"
          "        [--parties FILE] [--place PLACE] [--dir DIR]\n"
          "  kyso pin-reset status [ID] [--dir DIR]\n"
          "  kyso revoke-request --parties FILE --reason-code CODE --reason TEXT [--serial SERIAL | --reader NAME]\n"
          "        [--loss ID] [--place PLACE] -o OUT.json [--pdf OUT.pdf]\n"
          "  kyso loss --parties FILE --lost-at TIME --lost-place PLACE --circumstances TEXT --reported-to WHO\n"
          "        --reported-at TIME [--serial SERIAL | --reader NAME] -o LOSS.json --revocation-out REQUEST.json\n"
          "        [--pdf LOSS.pdf] [--revocation-pdf REQUEST.pdf]\n"
          "  kyso loss found --loss ID --parties FILE --found-at TIME --circumstances TEXT --condition TEXT\n"
          "        -o OUT.json [--pdf OUT.pdf]\n"
          "  kyso off-premises --parties FILE --purpose TEXT --from TIME --to TIME --place PLACE\n"
          "        --protection TEXT -o OUT.json [--pdf OUT.pdf]\n"
          "  kyso off-premises return --permission ID --parties FILE --report TEXT --condition TEXT\n"
          "        [--returned-at TIME] -o OUT.json [--pdf OUT.pdf]\n"
          "  kyso crl update [--url URL]... [--cert FILE]... [--timeout SECONDS]\n"
          "  kyso crl status\n"
          "  kyso audit init [--log FILE] [--key-out FILE]\n"
          "  kyso audit verify [--log FILE]... --key FILE [--checkpoint SEQ:HASH]\n"
          "  kyso audit rotate [--log FILE] ARCHIVE\n"
          "  kyso audit tail [--log FILE] [-n N] [--follow]\n"
          "  kyso audit export [--log FILE]... --format csv|json|jsonl [--from TIME] [--to TIME]\n"
          "        [--person TEXT] [--cert SHA256-PREFIX|SERIAL] [--token SERIAL] [--program NAME]\n"
          "        [--outcome CKR_...|ok|failed] [--event EVENT] [--bom] [-o FILE]\n"
          "  kyso audit report [--log FILE]... [--period 2026-H1|2026-H2|2026|FROM..TO|previous|current]\n"
          "        [--at TIME] [--format text|csv|json|pdf] [-o FILE] [--key FILE [--checkpoint SEQ:HASH]]\n"
          "        [--registry DIR] [--number TEXT] [--place PLACE]\n"
          "  kyso --version\n",
          f);
}

static int fail(const char *what)
{
    fprintf(stderr, "kyso: %s\n", what);
    return 1;
}

static void print_name(const char *prefix, X509_NAME *name)
{
    char buf[512];
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    int n = BIO_read(b, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    printf("%s%s\n", prefix, buf);
    BIO_free(b);
}

static void print_cert(const char *prefix, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) {
        printf("%sunreadable certificate\n", prefix);
        return;
    }
    char line[64];
    snprintf(line, sizeof(line), "%ssubject: ", prefix);
    print_name(line, X509_get_subject_name(x));
    snprintf(line, sizeof(line), "%sissuer:  ", prefix);
    print_name(line, X509_get_issuer_name(x));
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        printf("%svalid until %04d-%02d-%02d\n", prefix, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    X509_free(x);
}

/* Rule M1 and M12 on a key's certificate: whether the module will sign. */
static void print_verdict(const char *prefix, const uint8_t *der, size_t len, bool can_sign)
{
    struct policy_config *c = policy_config_acquire();
    struct policy_cert_verdict v;
    char why[192] = "";
    if (!c) {
        printf("%sM1: unknown (out of memory)\n", prefix);
        return;
    }
    policy_cert_check(c, der, len, time(NULL), &v);
    bool usage_ok = !policy_value(c, POLICY_M12_KEY_USAGE) || !der ||
                    policy_cert_allows(der, len, POLICY_USE_SIGN, why, sizeof(why));
    printf("%sM1: %s%s%s\n", prefix, policy_cert_state_name(v.state), v.warning[0] ? "; " : "", v.warning);
    if (c->broken)
        printf("%swill sign: no (the configuration is refused: %s)\n", prefix, c->problems[0]);
    else if (!can_sign)
        printf("%swill sign: no (the key does not sign)\n", prefix);
    else if (!v.may_sign)
        printf("%swill sign: no (%s: %s)\n", prefix, v.rule, v.why);
    else if (!usage_ok)
        printf("%swill sign: no (M12: %s)\n", prefix, why);
    else
        printf("%swill sign: yes\n", prefix);
    policy_config_release(c);
}

static const char *str_member(const json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Rule M4: who holds the token, by the latest registered handover. */
static void print_custodian(const struct token *t)
{
    bool organisation = false;
    for (size_t i = 0; i < t->nkeys; i++)
        organisation |= t->keys[i].cert && policy_cert_is_organisation(t->keys[i].cert, t->keys[i].cert_len);
    json_object *rec = NULL;
    char why[256] = "";
    struct stat st;
    /* (no registry yet: nothing registered, as the module sees it) */
    int found = stat(records_dir(), &st) != 0 && errno == ENOENT
                    ? 0
                    : records_latest_handover(records_dir(), t->info.serial, &rec, why, sizeof(why));
    const char *kind = organisation ? "an organisation's token: it signs only for its custodian (M4)"
                                    : "a person's token";
    if (found < 0) {
        printf("  custodian: unknown: %s (%s)\n", why, kind);
        return;
    }
    if (found == 0) {
        printf("  custodian: none registered (%s)\n", kind);
        return;
    }
    json_object *parties = NULL, *created = NULL, *details = NULL, *receiver = NULL;
    json_object_object_get_ex(rec, "parties", &parties);
    json_object_object_get_ex(rec, "created", &created);
    json_object_object_get_ex(rec, "details", &details);
    for (size_t i = 0; parties && i < json_object_array_length(parties); i++) {
        json_object *p = json_object_array_get_idx(parties, i);
        const char *role = str_member(p, "role");
        if (role && strcmp(role, "receives") == 0)
            receiver = p;
    }
    const char *user = str_member(receiver, "os_user"), *hk = str_member(details, "handover_kind");
    if (hk && strcmp(hk, "return") == 0) {
        printf("  custodian: none: handed back by handover %s of %s (%s)\n", str_member(rec, "id"),
               str_member(created, "time") ? str_member(created, "time") : "?", kind);
        json_object_put(rec);
        return;
    }
    const char *name = str_member(receiver, "name"), *when = str_member(created, "time");
    printf("  custodian: %s (%s%s), by handover %s (%s) of %s (%s)\n", name ? name : "?",
           user ? "OS user " : "no OS user named", user ? user : "", str_member(rec, "id"), hk ? hk : "?",
           when ? when : "?", kind);
    json_object_put(rec);
}

static const char *tries_text(int tries, char *buf, size_t len)
{
    if (tries < 0)
        return "unknown";
    if (tries == 0)
        return "0 (blocked)";
    snprintf(buf, len, "%d", tries);
    return buf;
}

static void token_status(const char *reader, struct pcsc_context *ctx)
{
    struct pcsc_card card = { 0 };
    struct token t;
    printf("reader: %s\n", reader);
    if (pcsc_connect(ctx, reader, &card) != PCSC_OK) {
        printf("  no token\n");
        return;
    }
    int rc = pcsc_begin_transaction(&card);
    if (rc == PCSC_OK)
        rc = token_open(&t, &card);
    if (rc != PCSC_OK) {
        printf("  token not recognised (%s)\n", pcsc_status_name(rc));
        pcsc_end_transaction(&card);
        pcsc_disconnect(&card, false);
        return;
    }
    rc = token_enumerate(&t);
    int user_tries = -1, so_tries = -1;
    bool verified;
    t.edge->pin_status(&t, TOKEN_PIN_USER, &user_tries, &verified);
    t.edge->pin_status(&t, TOKEN_PIN_SO, &so_tries, &verified);
    pcsc_end_transaction(&card);
    char b1[16], b2[16];
    printf("  token: %s (%s), serial %s, edge %s\n", t.info.label, t.info.model, t.info.serial, t.edge->name);
    printf("  PIN tries left: %s; PUK tries left: %s\n", tries_text(user_tries, b1, sizeof(b1)),
           tries_text(so_tries, b2, sizeof(b2)));
    if (rc != PCSC_OK)
        printf("  cannot read the token's objects: %s\n", pcsc_status_name(rc));
    else
        print_custodian(&t);
    for (size_t i = 0; i < t.nkeys; i++) {
        struct token_key *k = &t.keys[i];
        printf("  key %02X \"%s\": %s-%u%s\n", k->ref, k->label, k->type == TOKEN_KEY_RSA ? "RSA" : "EC", k->bits,
               k->always_authenticate ? ", PIN for every signature" : "");
        if (k->cert) {
            print_cert("    ", k->cert, k->cert_len);
            print_verdict("    ", k->cert, k->cert_len, k->sign);
            token_due_print_cert("    ", t.info.serial, k->cert, k->cert_len);
            continue;
        }
        struct certstore_match m;
        char why[512] = "the key's public half is unknown";
        STACK_OF(X509) *chain = token_ca_certificates(&t);
        int found = k->pub ? certstore_find_for_key(k->pub, chain, &m, why, sizeof(why)) : -1;
        sk_X509_pop_free(chain, X509_free);
        if (found == 0) {
            printf("    certificate from the local store (%s):\n", m.scope == CERTSTORE_SYSTEM ? "system" : "user's");
            print_cert("    ", m.der, m.len);
            print_verdict("    ", m.der, m.len, k->sign);
            token_due_print_cert("    ", t.info.serial, m.der, m.len);
            free(m.der);
        } else if (k->needs_certificate) {
            printf("    NO CERTIFICATE: the token's copy cannot be read and %s;\n    signing is refused until "
                   "a certificate issued for this key is imported with `kyso cert import FILE`\n",
                   why);
        } else {
            printf("    no certificate\n");
        }
    }
    for (size_t i = 0; i < t.ncerts; i++) {
        printf("  %s certificate \"%s\":\n", t.certs[i].authority ? "CA" : "other", t.certs[i].label);
        print_cert("    ", t.certs[i].der, t.certs[i].len);
    }
    token_close(&t);
    pcsc_disconnect(&card, false);
}

static int cmd_token_status(void)
{
    struct pcsc_context ctx = { 0 };
    struct pcsc_reader_list list = { 0 };
    if (pcsc_context_establish(&ctx) != PCSC_OK)
        return fail("the smart card service (pcscd) is not running");
    if (pcsc_list_readers(&ctx, &list) != PCSC_OK) {
        pcsc_context_release(&ctx);
        return fail("cannot list the card readers");
    }
    if (list.count == 0)
        printf("no card reader\n");
    for (size_t i = 0; i < list.count; i++)
        token_status(list.names[i], &ctx);
    pcsc_reader_list_free(&list);
    pcsc_context_release(&ctx);
    return 0;
}

static int list_one(X509 *cert, const char *path, void *arg)
{
    (void)arg;
    printf("%s\n", path);
    print_name("  subject: ", X509_get_subject_name(cert));
    return 0;
}

static int cmd_cert(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "import") == 0) {
        if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--system") != 0)) {
            usage(stderr);
            return 2;
        }
        enum certstore_scope scope = argc == 4 ? CERTSTORE_SYSTEM : CERTSTORE_USER;
        char stored[1200], err[1400];
        if (certstore_import(scope, argv[2], stored, sizeof(stored), err, sizeof(err)) != 0)
            return fail(err);
        printf("imported: %s\n", stored);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--system") != 0)) {
            usage(stderr);
            return 2;
        }
        certstore_each(argc == 3 ? CERTSTORE_SYSTEM : CERTSTORE_USER, list_one, NULL);
        return 0;
    }
    usage(stderr);
    return 2;
}

#define DEFAULT_LOG "/var/log/kyso/audit.log"

/* The log: --log, else KYSO_AUDIT_LOG, else file:PATH in KYSO_AUDIT, else the host's. */
static const char *default_log(void)
{
    const char *v = getenv("KYSO_AUDIT_LOG");
    if (v && *v)
        return v;
    v = getenv("KYSO_AUDIT");
    if (v && strncmp(v, "file:", 5) == 0 && v[5])
        return v + 5;
    return DEFAULT_LOG;
}

static int cmd_audit_init(int argc, char **argv)
{
    const char *log = default_log(), *key_out = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            log = argv[++i];
        else if (strcmp(argv[i], "--key-out") == 0 && i + 1 < argc)
            key_out = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    uint8_t key[AUDIT_KEY_LEN];
    char err[600], hex[2 * AUDIT_KEY_LEN + 1];
    if (audit_chain_init(log, key, err, sizeof(err)) != 0)
        return fail(err);
    audit_hex(key, sizeof(key), hex);
    OPENSSL_cleanse(key, sizeof(key));
    if (key_out) {
        FILE *f = fopen(key_out, "wx");
        if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0) {
            OPENSSL_cleanse(hex, sizeof(hex));
            return fail("cannot write the key file (it must not exist yet)");
        }
        printf("audit log %s created; the auditor's key is in %s\n", log, key_out);
    } else {
        /* Shown once, in groups, to be printed and kept by the auditor. */
        printf("audit log %s created.\nThe auditor's key (shown once; keep it offline):\n\n   ", log);
        for (size_t i = 0; i < 2 * AUDIT_KEY_LEN; i += 8)
            printf("%.8s%s", hex + i, i + 8 < 2 * AUDIT_KEY_LEN ? (i % 32 == 24 ? "\n   " : " ") : "\n\n");
    }
    OPENSSL_cleanse(hex, sizeof(hex));
    return 0;
}

static int cmd_audit_verify(int argc, char **argv)
{
    const char *files[64], *key_file = NULL, *checkpoint = NULL;
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc && n < 64)
            files[n++] = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key_file = argv[++i];
        else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc)
            checkpoint = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!key_file)
        return fail("verify needs the auditor's key: --key FILE");
    if (n == 0)
        files[n++] = default_log();
    uint8_t key[AUDIT_KEY_LEN];
    char err[600];
    if (audit_read_key_file(key_file, key, err, sizeof(err)) != 0)
        return fail(err);
    struct audit_verify_result res;
    int rc = audit_verify_files(files, n, key, checkpoint, &res);
    OPENSSL_cleanse(key, sizeof(key));
    char hash[2 * AUDIT_HASH_LEN + 1];
    audit_hex(res.last_hash, sizeof(res.last_hash), hash);
    if (rc != 0) {
        printf("BROKEN at record %llu (%s line %zu): %s\n", (unsigned long long)res.bad_seq, res.bad_file,
               res.bad_line, res.reason);
        printf("%llu records before it verify\n", (unsigned long long)res.records);
        return 1;
    }
    printf("OK: %llu records; checkpoint %llu:%s\n", (unsigned long long)res.records,
           (unsigned long long)res.last_seq, hash);
    return 0;
}

static int cmd_audit_rotate(int argc, char **argv)
{
    const char *log = default_log(), *archive = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            log = argv[++i];
        else if (!archive)
            archive = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!archive) {
        usage(stderr);
        return 2;
    }
    struct audit_writer *w;
    char err[600];
    if (audit_writer_open(log, &w, err, sizeof(err)) != 0)
        return fail(err);
    int rc = audit_writer_rotate(w, archive, err, sizeof(err));
    audit_writer_close(w);
    if (rc != 0)
        return fail(err);
    printf("%s archived as %s; the chain goes on in %s\n", log, archive, log);
    return 0;
}

static int cmd_audit(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "init") == 0)
        return cmd_audit_init(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cmd_audit_verify(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "rotate") == 0)
        return cmd_audit_rotate(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "tail") == 0)
        return audit_cmd_tail(argc, argv, default_log());
    if (argc >= 2 && strcmp(argv[1], "export") == 0)
        return audit_cmd_export(argc, argv, default_log());
    if (argc >= 2 && strcmp(argv[1], "report") == 0)
        return audit_cmd_report(argc, argv, default_log());
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts("kyso " PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "token") == 0 && argc == 3 && strcmp(argv[2], "status") == 0)
        return cmd_token_status();
    if (strcmp(argv[1], "token") == 0 && argc >= 3 && strcmp(argv[2], "due") == 0)
        return token_due_cmd(argc - 2, argv + 2, default_log());
    if (strcmp(argv[1], "setup") == 0)
        return setup_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "renewal-request") == 0)
        return renewal_request_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "cert") == 0)
        return cmd_cert(argc - 1, argv + 1);
    if (strcmp(argv[1], "audit") == 0)
        return cmd_audit(argc - 1, argv + 1);
    if (strcmp(argv[1], "policy") == 0)
        return policy_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "record") == 0)
        return record_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "pin-reset") == 0)
        return pin_reset_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "handover") == 0)
        return handover_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "revoke-request") == 0)
        return revoke_request_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "loss") == 0)
        return loss_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "off-premises") == 0)
        return off_premises_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "crl") == 0 && argc >= 3 && strcmp(argv[2], "update") == 0)
        return crl_cmd_update(argc - 1, argv + 1);
    if (strcmp(argv[1], "crl") == 0 && argc >= 3 && strcmp(argv[2], "status") == 0)
        return crl_cmd_status(argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
