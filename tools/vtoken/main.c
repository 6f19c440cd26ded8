/* kyso-vtoken: tokens emulated in software for tests and demos.
 *
 *   kyso-vtoken init --personality piv --state FILE [--pin P] [--puk P]
 *                    [--mgm-key [ALG:]HEX] [--serial N]
 *                    [--key SLOT=KEY.pem[,CERT.pem]]... [--ca CERT.pem]...
 *   kyso-vtoken run  --state FILE [--vpcd-port N] [--vpcd-host H]
 *                    [--control SOCKET] [--removed] [--apdu-latency MS]
 *                    [--sign-latency MS] [--verbose]
 *   kyso-vtoken ctl  --control SOCKET COMMAND...
 *   kyso-vtoken show --state FILE
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vtoken/card.h"
#include "tools/vtoken/server.h"
#include "tools/vtoken/state_file.h"

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  kyso-vtoken init --personality NAME --state FILE [--pin P] [--puk P] [--mgm-key [ALG:]HEX]\n"
          "                   [--serial N] [--key SLOT=KEY.pem[,CERT.pem]]... [--ca CERT.pem]...\n"
          "  kyso-vtoken run  --state FILE [--vpcd-port N] [--vpcd-host H] [--control SOCKET]\n"
          "                   [--removed] [--apdu-latency MS] [--sign-latency MS] [--verbose]\n"
          "  kyso-vtoken ctl  --control SOCKET remove|insert|latency MS MS|stats|stats-reset|status|quit\n"
          "  kyso-vtoken show --state FILE\n",
          f);
}

static int fail(const char *msg)
{
    fprintf(stderr, "kyso-vtoken: %s\n", msg);
    return 2;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !*s)
        return false;
    unsigned long v = strtoul(s, &end, 0);
    if (*end || v > max)
        return false;
    *out = v;
    return true;
}

/* SLOT=KEY.pem[,CERT.pem]; SLOT is the key reference in hex (9c, 9a...). */
static bool parse_key_spec(char *arg, struct vt_key_spec *spec)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        return false;
    *eq = '\0';
    char *end;
    unsigned long slot = strtoul(arg, &end, 16);
    if (*end || end == arg || slot > 0xFF)
        return false;
    spec->slot = (uint8_t)slot;
    spec->key_file = eq + 1;
    char *comma = strchr(eq + 1, ',');
    spec->cert_file = NULL;
    if (comma) {
        *comma = '\0';
        spec->cert_file = comma + 1;
    }
    return *spec->key_file != '\0';
}

static int cmd_init(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "personality", required_argument, NULL, 'p' }, { "state", required_argument, NULL, 's' },
        { "pin", required_argument, NULL, 'P' },         { "puk", required_argument, NULL, 'U' },
        { "mgm-key", required_argument, NULL, 'm' },     { "serial", required_argument, NULL, 'n' },
        { "key", required_argument, NULL, 'k' },         { "ca", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    struct vt_init_options opt = { 0 };
    const char *pname = NULL, *path = NULL;
    unsigned long v;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            pname = optarg;
            break;
        case 's':
            path = optarg;
            break;
        case 'P':
            opt.pin = optarg;
            break;
        case 'U':
            opt.puk = optarg;
            break;
        case 'm':
            opt.mgm_key_hex = optarg;
            break;
        case 'n':
            if (!parse_uint(optarg, 0xFFFFFFFFul, &v))
                return fail("--serial takes a number");
            opt.serial = (uint32_t)v;
            break;
        case 'k':
            if (opt.nkeys == VT_MAX_INIT_KEYS || !parse_key_spec(optarg, &opt.keys[opt.nkeys]))
                return fail("--key takes SLOT=KEY.pem[,CERT.pem] (SLOT in hex, e.g. 9c)");
            opt.nkeys++;
            break;
        case 'c':
            if (opt.nca_certs == VT_MAX_INIT_CERTS)
                return fail("too many --ca certificates");
            opt.ca_certs[opt.nca_certs++] = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!pname || !path || optind != argc) {
        usage(stderr);
        return 2;
    }
    const struct vt_personality *pers = vt_personality_find(pname);
    if (!pers) {
        char names[128], msg[200];
        vt_personality_list(names, sizeof(names));
        snprintf(msg, sizeof(msg), "unknown personality '%s' (known: %s)", pname, names);
        return fail(msg);
    }
    void *state = NULL;
    char err[300];
    if (pers->init(&opt, &state, err, sizeof(err)) != 0 || vt_state_save(path, pers, state, err, sizeof(err)) != 0) {
        if (state)
            pers->free_state(state);
        return fail(err);
    }
    pers->free_state(state);
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "state", required_argument, NULL, 's' },        { "vpcd-port", required_argument, NULL, 'p' },
        { "vpcd-host", required_argument, NULL, 'H' },    { "control", required_argument, NULL, 'c' },
        { "removed", no_argument, NULL, 'r' },            { "apdu-latency", required_argument, NULL, 'a' },
        { "sign-latency", required_argument, NULL, 'g' }, { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    struct vt_server_options opt = { .vpcd_host = "127.0.0.1", .vpcd_port = 35963 };
    unsigned long v, apdu_ms = 0, sign_ms = 0;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            opt.state_path = optarg;
            break;
        case 'p':
            if (!parse_uint(optarg, 65535, &v) || v == 0)
                return fail("--vpcd-port takes a TCP port");
            opt.vpcd_port = (unsigned)v;
            break;
        case 'H':
            opt.vpcd_host = optarg;
            break;
        case 'c':
            opt.control_path = optarg;
            break;
        case 'r':
            opt.start_removed = true;
            break;
        case 'a':
            if (!parse_uint(optarg, 60000, &apdu_ms))
                return fail("--apdu-latency takes milliseconds");
            break;
        case 'g':
            if (!parse_uint(optarg, 60000, &sign_ms))
                return fail("--sign-latency takes milliseconds");
            break;
        case 'v':
            opt.verbose = true;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!opt.state_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    const struct vt_personality *pers;
    void *state;
    char err[300];
    if (vt_state_load(opt.state_path, &pers, &state, err, sizeof(err)) != 0)
        return fail(err);
    struct vt_card card;
    vt_card_init(&card, pers, state);
    card.apdu_latency_ms = (unsigned)apdu_ms;
    card.sign_latency_ms = (unsigned)sign_ms;
    int rc = vt_server_run(&card, &opt);
    vt_card_free(&card);
    return rc;
}

static int cmd_ctl(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--control") != 0) {
        usage(stderr);
        return 2;
    }
    char line[256] = "";
    size_t n = 0;
    for (int i = 3; i < argc; i++) {
        int w = snprintf(line + n, sizeof(line) - n, "%s%s", i > 3 ? " " : "", argv[i]);
        if (w < 0 || (size_t)w >= sizeof(line) - n)
            return fail("control command too long");
        n += (size_t)w;
    }
    return vt_control_send(argv[2], line);
}

static int cmd_show(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--state") != 0) {
        usage(stderr);
        return 2;
    }
    const struct vt_personality *pers;
    void *state;
    char err[300], text[4096];
    if (vt_state_load(argv[2], &pers, &state, err, sizeof(err)) != 0)
        return fail(err);
    pers->describe(state, text, sizeof(text));
    fputs(text, stdout);
    pers->free_state(state);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        puts("kyso-vtoken " PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "ctl") == 0)
        return cmd_ctl(argc - 1, argv + 1);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
