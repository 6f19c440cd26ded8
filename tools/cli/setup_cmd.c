/* kyso setup firefox | check: the clients that find the module by
 * themselves, and the one that needs a line of configuration.
 *
 * Firefox (and LibreOffice, which signs through Firefox's profile) loads
 * the modules an enterprise policy names. Debian's firefox-esr reads the
 * host's policies from /etc/firefox/policies/policies.json (its brand name,
 * Firefox, not its package name, makes the path), one file that holds
 * every policy of the host: a package that
 * shipped that file would take it from the administrator, so `kyso setup
 * firefox` adds kyso's SecurityDevices entry to the file as it is (made
 * if missing), keeps every other policy, and `--remove` takes the entry
 * away again. A file that is not a JSON object is left untouched. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <json-c/json.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli/setup_cmd.h"

#ifndef KYSO_PKCS11_MODULE
#define KYSO_PKCS11_MODULE "kyso-pkcs11.so"
#endif
#ifndef KYSO_P11KIT_MODULE_FILE
#define KYSO_P11KIT_MODULE_FILE "/usr/share/p11-kit/modules/kyso.module"
#endif
#ifndef KYSO_JAVA_CONFIG
#define KYSO_JAVA_CONFIG "/usr/share/kyso/java/kyso-pkcs11.cfg"
#endif
#define FIREFOX_POLICIES "/etc/firefox/policies/policies.json"
#define DEVICE_NAME "kyso"

/* policies.json as an object; a missing file is an empty one. NULL with
 * one line said when it exists but is not a JSON object. */
static json_object *read_policies(const char *path)
{
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return json_object_new_object();
    json_object *root = json_object_from_file(path);
    if (!root || !json_object_is_type(root, json_type_object)) {
        fprintf(stderr, "kyso: %s: not a JSON object (%s); left as it is\n", path,
                root ? "another JSON value" : json_util_get_last_err());
        json_object_put(root);
        return NULL;
    }
    return root;
}

/* The object at key in parent, made if missing; NULL if it is something else. */
static json_object *object_at(json_object *parent, const char *key)
{
    json_object *o = NULL;
    if (!json_object_object_get_ex(parent, key, &o)) {
        o = json_object_new_object();
        json_object_object_add(parent, key, o);
        return o;
    }
    return json_object_is_type(o, json_type_object) ? o : NULL;
}

/* Written whole beside the file, then renamed over it: a reader sees the
 * old file or the new one. */
static int write_policies(const char *path, json_object *root)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.kyso-new", path) >= (int)sizeof(tmp)) {
        fprintf(stderr, "kyso: %s: path too long\n", path);
        return 1;
    }
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0 &&
              fchmod(fileno(f), 0644) == 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "kyso: %s: cannot write it: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

static int setup_firefox(int argc, char **argv)
{
    const char *path = FIREFOX_POLICIES;
    bool remove = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--remove") == 0)
            remove = true;
        else if (strcmp(argv[i], "--policies") == 0 && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "kyso: setup firefox: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    json_object *root = read_policies(path);
    if (!root)
        return 1;
    json_object *policies = object_at(root, "policies");
    json_object *devices = policies ? object_at(policies, "SecurityDevices") : NULL;
    json_object *add = devices ? object_at(devices, "Add") : NULL;
    if (!add) {
        fprintf(stderr, "kyso: %s: policies.SecurityDevices.Add is not an object; left as it is\n", path);
        json_object_put(root);
        return 1;
    }
    if (remove) {
        json_object_object_del(add, DEVICE_NAME);
        if (json_object_object_length(add) == 0)
            json_object_object_del(devices, "Add");
        if (json_object_object_length(devices) == 0)
            json_object_object_del(policies, "SecurityDevices");
    } else {
        json_object_object_add(add, DEVICE_NAME, json_object_new_string(KYSO_PKCS11_MODULE));
    }
    /* Firefox may not be installed yet: the policy is there when it is. */
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
        fprintf(stderr, "kyso: %s: path too long\n", path);
        json_object_put(root);
        return 1;
    }
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1;; p++) {
            bool end = *p == '\0';
            if (*p == '/' || end) {
                *p = '\0';
                if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                    fprintf(stderr, "kyso: %s: cannot make it: %s\n", dir, strerror(errno));
                    json_object_put(root);
                    return 1;
                }
                if (end)
                    break;
                *p = '/';
            }
        }
    }
    int rc = write_policies(path, root);
    json_object_put(root);
    if (rc == 0)
        printf(remove ? "%s: Firefox no longer loads %s\n" : "%s: Firefox loads %s as security device \"" DEVICE_NAME
                                                             "\" (restart it)\n",
               path, KYSO_PKCS11_MODULE);
    return rc;
}

/* Whether the Firefox policy names the module. */
static bool firefox_has_module(const char *path)
{
    json_object *root = json_object_from_file(path), *o = NULL;
    bool has = root && json_object_object_get_ex(root, "policies", &o) &&
               json_object_object_get_ex(o, "SecurityDevices", &o) && json_object_object_get_ex(o, "Add", &o) &&
               json_object_object_get_ex(o, DEVICE_NAME, &o) && json_object_is_type(o, json_type_string) &&
               strcmp(json_object_get_string(o), KYSO_PKCS11_MODULE) == 0;
    json_object_put(root);
    return has;
}

static bool file_mentions(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* The module loads and says how many tokens it sees; -1 when it does not load. */
static long module_tokens(char *why, size_t why_len)
{
    void *dl = dlopen(KYSO_PKCS11_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(why, why_len, "%s", dlerror());
        return -1;
    }
    CK_C_GetFunctionList get = NULL;
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    CK_FUNCTION_LIST_PTR f = NULL;
    CK_ULONG n = 0;
    long tokens = -1;
    if (!get || get(&f) != CKR_OK || !f)
        snprintf(why, why_len, "not a PKCS#11 module");
    else if (f->C_Initialize(NULL) != CKR_OK)
        snprintf(why, why_len, "C_Initialize failed");
    else {
        tokens = f->C_GetSlotList(CK_TRUE, NULL, &n) == CKR_OK ? (long)n : 0;
        f->C_Finalize(NULL);
    }
    dlclose(dl);
    return tokens;
}

static int setup_check(int argc, char **argv)
{
    const char *policies = FIREFOX_POLICIES;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--policies") == 0 && i + 1 < argc)
            policies = argv[++i];
        else {
            fprintf(stderr, "kyso: setup check: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    char why[256] = "";
    long tokens = module_tokens(why, sizeof(why));
    if (tokens < 0)
        printf("module       NO   %s: %s\n", KYSO_PKCS11_MODULE, why);
    else
        printf("module       yes  %s (%ld token%s present)\n", KYSO_PKCS11_MODULE, tokens, tokens == 1 ? "" : "s");
    bool p11kit = file_mentions(KYSO_P11KIT_MODULE_FILE, KYSO_PKCS11_MODULE);
    printf("p11-kit      %-4s %s (GnuTLS, p11-kit-proxy.so and their applications)\n", p11kit ? "yes" : "NO",
           KYSO_P11KIT_MODULE_FILE);
    bool firefox = firefox_has_module(policies);
    printf("firefox      %-4s %s%s\n", firefox ? "yes" : "NO", policies,
           firefox ? " (and LibreOffice, through Firefox's profile)" : ": run kyso setup firefox as root");
    const char *home = getenv("HOME");
    char nssdb[4096];
    snprintf(nssdb, sizeof(nssdb), "%s/.pki/nssdb/pkcs11.txt", home && *home == '/' ? home : "/nonexistent");
    bool nss = file_mentions(nssdb, "kyso-pkcs11.so");
    printf("nss-shared   %-4s %s%s\n", nss ? "yes" : "no", nssdb,
           nss ? "" : " (Chromium, NSS tools: modutil -dbdir sql:$HOME/.pki/nssdb -add kyso -libfile MODULE)");
    bool java = access(KYSO_JAVA_CONFIG, R_OK) == 0;
    printf("java         %-4s %s%s\n", java ? "yes" : "NO", KYSO_JAVA_CONFIG,
           java ? " (keytool -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 -providerArg FILE)" : "");
    return tokens < 0 ? 1 : 0;
}

int setup_cmd(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "firefox") == 0)
        return setup_firefox(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return setup_check(argc - 1, argv + 1);
    fprintf(stderr, "kyso: setup firefox [--remove] [--policies FILE] | setup check [--policies FILE]\n");
    return 2;
}
