/* What the registry says of a token now, beyond its custodian (M4): whether
 * a registered loss record or revocation request stops it (rule M7), and
 * which off-premises permissions it has (rule M8). One walk of the
 * registry; the module keeps the answer until the registry's stamp
 * changes (registry.h).
 *
 * A record that stops a token takes effect once registered, signed or
 * not: stopping is never weaker. A record that loosens (a token found
 * again, a permission to take it out) counts only when it carries at
 * least one signature and every signature verifies against the trust
 * anchors: a file dropped into the registry by hand loosens nothing. */
#ifndef KYSO_RECORDS_STANDING_H
#define KYSO_RECORDS_STANDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define RECORDS_MAX_PERMISSIONS 8

/* One off-premises permission: valid from <= t < until (its "to", or the
 * time it was handed back when that came first). */
struct records_permission {
    char id[24];
    int64_t from, until;
    bool returned;
};

struct records_standing {
    /* M7: the loss record or revocation request that stops the token
     * ("" when none), its kind and when it was made. */
    char stopped_by[24];
    char stopped_kind[24];
    int64_t stopped_at;
    /* the token-found record that lifted the latest loss, if any */
    char found_by[24];
    /* M8: its latest permissions (by start), the newest last */
    size_t npermissions;
    struct records_permission permissions[RECORDS_MAX_PERMISSIONS];
};

/* The standing of the token with card serial `serial` in registry dir.
 * A missing registry is "nothing registered" (0). -1 (why) when the
 * registry cannot be read or holds a damaged record: the answer would not
 * be trustworthy, and the caller refuses. */
int records_standing_of(const char *dir, const char *serial, X509_STORE *anchors, struct records_standing *s,
                        char *why, size_t whylen);

/* The permission of s active at t, or NULL. */
const struct records_permission *records_permission_at(const struct records_standing *s, int64_t t);

#endif
