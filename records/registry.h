/* The registry of records: one directory (records_dir(), root's, 0755: the module reads it as the signer)
 * holding each record as <id>.json (its canonical bytes and a newline)
 * with its detached CMS signatures beside it as <id>.<n>.p7s, n = 1, 2, ...
 * A record is registered only when complete: the signatures are renamed
 * into place first and the JSON last, so the JSON's presence marks a
 * complete record (records/README.md). */
#ifndef KYSO_RECORDS_REGISTRY_H
#define KYSO_RECORDS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <openssl/x509.h>

#define RECORDS_MAX_SIGNATURES 16
#define RECORDS_MAX_SIGNATURE (256 * 1024)   /* bytes of one .p7s */

/* $(localstatedir)/lib/kyso/records */
const char *records_dir(void);

struct records_blob {
    const unsigned char *data;
    size_t len;
};

/* Validates obj (sealed), refuses an id already registered, and writes
 * the record and its n signatures (n may be 0) durably: nothing of it is
 * visible until all is written. The directory is created (0755) when
 * missing. 0, or -1 with one line in why; on error nothing is left. */
int records_register(const char *dir, const json_object *obj, const struct records_blob *sigs, size_t n,
                     char *why, size_t whylen);

/* Loads record id: its file must be its canonical form, its integrity
 * hash must match ("tampered: hash mismatch") and its signatures must be
 * numbered 1..n without a gap. *obj (the caller puts it) is set only when
 * all holds; *nsig (may be NULL) to the number of signatures. 0 or -1. */
int records_load(const char *dir, const char *id, json_object **obj, size_t *nsig, char *why, size_t whylen);

/* The path of signature n of record id. 0, or -1 when it does not fit. */
int records_signature_path(const char *dir, const char *id, size_t n, char *buf, size_t buflen);

/* Calls cb for every record in id order (ids start with their date):
 * with the record when it loads, or with NULL and the problem when it does
 * not. A nonzero return from cb stops the walk. Returns the number of
 * records seen, or -1 (why) when the directory cannot be read. */
typedef int (*records_list_cb)(const char *id, json_object *obj, const char *problem, void *ctx);
long records_list(const char *dir, records_list_cb cb, void *ctx, char *why, size_t whylen);

/* The latest registered handover (by created.time) of the token whose
 * card serial is token_serial, for the module's custodian check (rule
 * M4). 1 and *obj (the caller puts it), 0 when there is none, -1 (why)
 * when the registry cannot be read or holds a damaged record: a damaged
 * record could be the latest, so the answer would not be trustworthy. */
int records_latest_handover(const char *dir, const char *token_serial, json_object **obj, char *why, size_t whylen);

/* Verifies the signatures registered beside obj (a record loaded from
 * dir) against anchors (NULL: none, so any signature fails): each must be
 * a sound signature of the record by a certificate that chains to one.
 * 0 with *nsig their number (0: unsigned), or -1 (why) for the first that
 * is not. */
int records_check_signatures(const char *dir, const json_object *obj, X509_STORE *anchors, size_t *nsig, char *why,
                             size_t whylen);

/* What the directory looks like now: a caller keeping an answer (the
 * module's custodian check) asks again only when the stamp changed.
 * Registering renames files in the directory, which changes its mtime
 * and ctime; a file edited in place does not (records_load still finds
 * it tampered). */
struct records_stamp {
    dev_t dev;
    ino_t ino;
    int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
};
int records_registry_stamp(const char *dir, struct records_stamp *s);
int records_stamp_equal(const struct records_stamp *a, const struct records_stamp *b);

#endif
