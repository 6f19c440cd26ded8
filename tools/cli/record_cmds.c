/* kyso record check | seal | render | register | list | show: the legal records
 * (records/README.md) as files and in the registry. The layers do the
 * work; this file reads arguments and prints.
 *
 *   kyso record check FILE                 schema and integrity, one line per problem
 *   kyso record seal FILE -o OUT           sets the integrity hash (a record made elsewhere)
 *   kyso record render FILE -o OUT.pdf     the printable A4 record
 *   kyso record sign FILE [...]            a detached CMS signature by a token (record_sign_cmd.c)
 *   kyso record verify FILE|ID [...]       the record and its signatures (record_verify_cmd.c)
 *   kyso record register FILE [--dir DIR]  into the registry (root's), with FILE.N.p7s verified and
 *                                          its token inserted (record_register_cmd.c)
 *   kyso record list [--dir DIR]
 *   kyso record show ID [--dir DIR]
 *
 * Exit status: 0; 1 a problem with a record or the registry; 2 bad arguments. */
#include "config.h"

#include "tools/cli/record_cmds.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/canon.h"
#include "records/record.h"
#include "records/registry.h"
#include "records/render.h"

#define MAX_RECORD_FILE (1024 * 1024)

static int usage(void)
{
    fputs("usage: kyso record check FILE\n"
          "       kyso record seal FILE -o OUT\n"
          "       kyso record render FILE -o OUT.pdf\n"
          "       kyso record sign FILE [--module PATH] [--slot ID] [--key-id HEX] [--pin-fd N] [-o OUT]\n"
          "       kyso record verify FILE|ID [--dir DIR] [--sig P7S]...\n"
          "       kyso record register FILE [--dir DIR]\n"
          "       kyso record list [--dir DIR]\n"
          "       kyso record show ID [--dir DIR]\n",
          stderr);
    return 2;
}

/* The record in path, parsed (not yet checked); NULL after one line on stderr. */
static json_object *read_record(const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        fprintf(stderr, "kyso: %s: cannot be read\n", path);
        return NULL;
    }
    char *text = malloc(MAX_RECORD_FILE + 1);
    size_t n = text ? fread(text, 1, MAX_RECORD_FILE + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!text || err || n > MAX_RECORD_FILE) {
        fprintf(stderr, "kyso: %s: %s\n", path, !text ? "out of memory" : err ? "read error" : "larger than 1 MiB");
        free(text);
        return NULL;
    }
    char why[256] = "";
    json_object *o = records_parse(text, n, why, sizeof(why));
    free(text);
    if (!o)
        fprintf(stderr, "kyso: %s: %s\n", path, why);
    return o;
}

/* Schema and integrity: the problems on stdout, their count returned. */
static size_t report_problems(const char *path, const json_object *o)
{
    struct records_problems *p = calloc(1, sizeof(*p));
    if (!p) {
        fprintf(stderr, "kyso: out of memory\n");
        return 1;
    }
    size_t n = records_validate(o, p);
    for (size_t i = 0; i < p->n; i++)
        printf("%s: %s\n", path, p->line[i]);
    if (p->dropped)
        printf("%s: (and %zu more problems)\n", path, p->dropped);
    free(p);
    return n;
}

static const char *member(const json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

int record_read_sealed(const char *path, char **canon, size_t *len, json_object **obj)
{
    json_object *o = read_record(path);
    char why[256] = "";
    int rc = -1;
    if (!o)
        return -1;
    if (report_problems(path, o) == 0) {
        if (records_canonical(o, canon, len, why, sizeof(why)) == 0)
            rc = 0;
        else
            fprintf(stderr, "kyso: %s: %s\n", path, why);
    }
    if (rc == 0 && obj)
        *obj = o;
    else
        json_object_put(o);
    return rc;
}

static int cmd_check(const char *path)
{
    json_object *o = read_record(path);
    if (!o)
        return 1;
    size_t n = report_problems(path, o);
    if (!n)
        printf("%s: %s %s: schema and integrity OK\n", path, member(o, "kind"), member(o, "id"));
    json_object_put(o);
    return n ? 1 : 0;
}

static int cmd_seal(const char *path, const char *out)
{
    json_object *o = read_record(path);
    if (!o)
        return 1;
    int rc = 1;
    char *text = NULL, why[256] = "";
    size_t len = 0;
    FILE *f = NULL;
    if (records_seal(o) != 0)
        fprintf(stderr, "kyso: %s: cannot be sealed\n", path);
    else if (report_problems(path, o) == 0 && records_canonical(o, &text, &len, why, sizeof(why)) != 0)
        fprintf(stderr, "kyso: %s: %s\n", path, why);
    else if (text && !(f = fopen(out, "wxe")))
        fprintf(stderr, "kyso: %s: cannot be created (it must not exist)\n", out);
    else if (f) {
        bool bad = fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF;
        if (fclose(f) != 0 || bad) {
            fprintf(stderr, "kyso: %s: write error\n", out);
            remove(out);
        } else {
            printf("%s: %s\n", out, member(o, "id"));
            rc = 0;
        }
    }
    free(text);
    json_object_put(o);
    return rc;
}

static int cmd_render(const char *path, const char *out)
{
    json_object *o = read_record(path);
    if (!o)
        return 1;
    int rc = 0;
    char why[256] = "";
    if (report_problems(path, o))
        rc = 1; /* a record that is not sound is not printed */
    else if (records_render_pdf(o, out, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: %s: %s\n", out, why);
        rc = 1;
    } else
        printf("%s\n", out);
    json_object_put(o);
    return rc;
}

static int cmd_register(const char *path, const char *dir)
{
    json_object *o = read_record(path);
    if (!o)
        return 1;
    int rc = 0;
    struct records_blob sigs[RECORDS_MAX_SIGNATURES];
    size_t nsig = 0;
    if (report_problems(path, o))
        rc = 1;
    else if (collect_verified_signatures(path, o, sigs, &nsig) != 0) {
        fprintf(stderr, "kyso: %s: not registered: its signatures do not all verify\n", path);
        rc = 1;
    } else
        rc = record_cmd_register(path, dir, o, sigs, nsig);
    free_signatures(sigs, nsig);
    json_object_put(o);
    return rc;
}

static int list_one(const char *id, json_object *obj, const char *problem, void *ctx)
{
    int *bad = ctx;
    if (problem) {
        printf("%s  DAMAGED: %s\n", id, problem);
        ++*bad;
        return 0;
    }
    json_object *created, *token;
    const char *when = json_object_object_get_ex(obj, "created", &created) ? member(created, "time") : "";
    const char *serial = json_object_object_get_ex(obj, "token", &token) ? member(token, "serial") : "";
    printf("%s  %-17s  %s  token %s\n", id, member(obj, "kind"), when, serial);
    return 0;
}

static int cmd_list(const char *dir)
{
    char why[256] = "";
    int bad = 0;
    long n = records_list(dir, list_one, &bad, why, sizeof(why));
    if (n < 0) {
        fprintf(stderr, "kyso: %s: %s\n", dir, why);
        return 1;
    }
    if (n == 0)
        printf("no record in %s\n", dir);
    return bad ? 1 : 0;
}

static int cmd_show(const char *id, const char *dir)
{
    json_object *o = NULL;
    size_t nsig = 0;
    char why[256] = "";
    if (records_load(dir, id, &o, &nsig, why, sizeof(why)) != 0) {
        fprintf(stderr, "kyso: record %s: %s\n", id, why);
        return 1;
    }
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    printf("# integrity: OK; %zu signature file(s)\n", nsig);
    json_object_put(o);
    return 0;
}

int record_cmd(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *sub = argv[1], *dir = records_dir(), *out = NULL, *arg = NULL;
    if (strcmp(sub, "sign") == 0)
        return record_sign_cmd(argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0)
        return record_verify_cmd(argc - 1, argv + 1, dir);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && !arg)
            arg = argv[i];
        else
            return usage();
    }
    if (strcmp(sub, "check") == 0 && arg && !out)
        return cmd_check(arg);
    if (strcmp(sub, "seal") == 0 && arg && out)
        return cmd_seal(arg, out);
    if (strcmp(sub, "render") == 0 && arg && out)
        return cmd_render(arg, out);
    if (strcmp(sub, "register") == 0 && arg && !out)
        return cmd_register(arg, dir);
    if (strcmp(sub, "list") == 0 && !arg && !out)
        return cmd_list(dir);
    if (strcmp(sub, "show") == 0 && arg && !out)
        return cmd_show(arg, dir);
    return usage();
}
