/* What the registry of records says of a token, for the rules the module
 * applies before a private-key operation: its custodian (M4), whether a
 * registered loss record or revocation request stops it (M7), its
 * off-premises permissions (M8); and this host's machine id (M8).
 *
 * Kept until the registry changes (its directory's stamp): the check
 * reads no file per signature and sends no APDU. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pkcs11/internal.h"
#include "policy/trust.h"
#include "records/registry.h"
#include "records/standing.h"

#define VIEW_CACHE 8
static pthread_mutex_t view_lock = PTHREAD_MUTEX_INITIALIZER;
static struct records_stamp view_stamp;
static bool view_stamp_valid;
static struct {
    bool used;
    char serial[64];
    struct p11_registry_view view;
} views[VIEW_CACHE];
static size_t view_next;

static const char *json_str(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The latest registered handover of serial: its receiver is the custodian,
 * unless the token was handed back (kind "return"). */
static void custodian_read(const char *serial, X509_STORE *anchors, struct p11_registry_view *v)
{
    json_object *h = NULL;
    char why[160] = "";
    struct stat st;
    /* No registry yet: nothing registered (anything else it cannot read
     * makes the answer untrustworthy). */
    int rc = stat(records_dir(), &st) != 0 && errno == ENOENT
                 ? 0
                 : records_latest_handover(records_dir(), serial, &h, why, sizeof(why));
    v->custodian_known = rc < 0 ? -1 : rc == 0 ? 0 : 1;
    if (rc < 0) {
        snprintf(v->custodian_record, sizeof(v->custodian_record), "%s", why);
        return;
    }
    if (rc == 0)
        return;
    /* Its signatures must hold: a signature file put beside it by anyone
     * but a registration (which verifies them) is not trusted either. */
    size_t nsig = 0;
    if (records_check_signatures(records_dir(), h, anchors, &nsig, why, sizeof(why)) != 0) {
        v->custodian_known = -1;
        snprintf(v->custodian_record, sizeof(v->custodian_record), "%s", why);
        json_object_put(h);
        return;
    }
    json_object *details = NULL, *parties = NULL;
    json_object_object_get_ex(h, "details", &details);
    const char *kind = json_str(details, "handover_kind");
    snprintf(v->custodian_record, sizeof(v->custodian_record), "%s", json_str(h, "id") ? json_str(h, "id") : "?");
    if (kind && strcmp(kind, "return") == 0)
        v->custodian_known = 0; /* handed back: nobody holds it */
    else if (json_object_object_get_ex(h, "parties", &parties) && json_object_is_type(parties, json_type_array))
        for (size_t i = 0; i < json_object_array_length(parties); i++) {
            json_object *party = json_object_array_get_idx(parties, i);
            const char *role = json_str(party, "role"), *os_user = json_str(party, "os_user");
            if (role && strcmp(role, "receives") == 0 && os_user)
                snprintf(v->custodian_user, sizeof(v->custodian_user), "%s", os_user);
        }
    json_object_put(h);
}

static void view_read(const char *serial, struct p11_registry_view *v)
{
    char why[160] = "";
    memset(v, 0, sizeof(*v));
    X509_STORE *anchors = policy_trust_load(why, sizeof(why));
    custodian_read(serial, anchors, v);
    int rc = records_standing_of(records_dir(), serial, anchors, &v->standing, why, sizeof(why));
    v->standing_known = rc < 0 ? -1 : 1;
    if (rc < 0)
        snprintf(v->standing_why, sizeof(v->standing_why), "%s", why);
    X509_STORE_free(anchors);
}

/* The registry's stamp now; no registry at all is a state of its own (a
 * zero stamp, which no directory has), kept until the directory appears,
 * so that a host without records does not re-read per signature. */
static bool view_stamp_now(struct records_stamp *now)
{
    return records_registry_stamp(records_dir(), now) == 0 || errno == ENOENT;
}

void p11_registry_view_of(const char *serial, struct p11_registry_view *out)
{
    struct records_stamp now;
    bool stamped = view_stamp_now(&now);
    pthread_mutex_lock(&view_lock);
    if (!stamped || !view_stamp_valid || !records_stamp_equal(&now, &view_stamp)) {
        memset(views, 0, sizeof(views));
        view_stamp = now;
        view_stamp_valid = stamped;
    }
    for (size_t i = 0; i < VIEW_CACHE; i++)
        if (views[i].used && strcmp(views[i].serial, serial) == 0) {
            *out = views[i].view;
            pthread_mutex_unlock(&view_lock);
            return;
        }
    view_read(serial, out);
    size_t slot = view_next++ % VIEW_CACHE;
    views[slot].used = stamped;
    snprintf(views[slot].serial, sizeof(views[slot].serial), "%s", serial);
    views[slot].view = *out;
    pthread_mutex_unlock(&view_lock);
}

/* This host's machine id (M8): /etc/machine-id, root's, read once. */
static pthread_once_t machine_once = PTHREAD_ONCE_INIT;
static char machine_id[33];

static void machine_read(void)
{
    static const char *const paths[] = { "/etc/machine-id", "/var/lib/dbus/machine-id" };
    for (size_t i = 0; i < 2 && !machine_id[0]; i++) {
        FILE *f = fopen(paths[i], "re");
        char line[64] = "";
        if (!f)
            continue;
        bool ok = fgets(line, sizeof(line), f) != NULL;
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        ok = ok && strlen(line) == 32;
        for (size_t k = 0; ok && k < 32; k++)
            ok = (line[k] >= '0' && line[k] <= '9') || (line[k] >= 'a' && line[k] <= 'f');
        if (ok)
            memcpy(machine_id, line, 33);
    }
}

const char *p11_machine_id(void)
{
    pthread_once(&machine_once, machine_read);
    return machine_id[0] ? machine_id : NULL;
}

void p11_custodian_fork_prepare(void)
{
    pthread_mutex_lock(&view_lock);
}

void p11_custodian_fork_done(void)
{
    pthread_mutex_unlock(&view_lock);
}
