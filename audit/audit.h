/* The audit trail: records, the chained and forward-secure log, its
 * writer, its verifier, and the sinks the module writes through. The
 * schema and the integrity scheme are described in audit/README.md. */
#ifndef KYSO_AUDIT_AUDIT_H
#define KYSO_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AUDIT_KEY_LEN 32
#define AUDIT_HASH_LEN 32
#define AUDIT_MAX_LINE 8192

#define AUDIT_REQUEST_ID_LEN 32    /* hex digits of a request's id */
#define AUDIT_MAX_CERT 16384       /* DER bytes of a certificate in a record */
#define AUDIT_MAX_PROOF 1024       /* bytes of a signature, or of what it covers */

/* What happened (filled by the module or a tool). */
struct audit_event {
    const char *event;             /* "sign", "refusal", "pin_failure", ... */
    const char *reader, *token;    /* PC/SC reader, token serial */
    const char *key;               /* key reference, hex ("9C") */
    const uint8_t *cert_der;       /* the key's certificate, or NULL */
    size_t cert_len;
    const char *mechanism;         /* "CKM_SHA256_RSA_PKCS" */
    bool has_input;
    size_t input_len;
    const uint8_t *input_sha256;   /* 32 bytes, or NULL */
    const char *outcome;           /* "CKR_OK", ... */
    const char *rule, *detail;     /* refusals: "M4", a short explanation */
    /* A signature and what the key's operation covered (the DigestInfo,
     * the hash, the raw block), with its scheme: "pkcs1", "ecdsa", "raw",
     * "pss:HASH:MGF1HASH:SALTLEN". kyso-auditd checks the signature against
     * the certificate (audit/proof.c); the record keeps its SHA-256. */
    const uint8_t *sig, *tbs;
    size_t sig_len, tbs_len;
    const char *scheme;
    /* Filled by the sinks and kyso-auditd, never by the caller: */
    const char *request;           /* the request's id (hex), unique */
    const char *checked;           /* "signature": kyso-auditd verified it */
    uint64_t ref_seq;              /* "withheld": the record it takes back */
    const void *ref_record;        /* "withheld": that record (json_object), to name what it was */
};

/* What a sink says of a record it made durable. */
struct audit_receipt {
    char request[AUDIT_REQUEST_ID_LEN + 1];
    uint64_t seq;                  /* 0 when the sink does not tell */
};

/* Events whose CKR_OK record says something was released to the caller:
 * a record of these that turns out not to have been is followed by a
 * "withheld" record (audit/README.md). */
bool audit_event_releases(const char *event);

/* Who did it. The module fills it from its own process; kyso-auditd from
 * the kernel's peer credentials, never from the client. */
struct audit_identity {
    char host[256];
    char user[64];
    long uid;
    long pid;
    char exe[512];
    char program[128];
};
void audit_identity_self(struct audit_identity *id);
void audit_identity_of(pid_t pid, uid_t uid, struct audit_identity *id);

/* ---- the log writer (the file sink and kyso-auditd) ---- */
struct audit_writer;

/* Creates a new chain at log_path (which must not exist): the auditor's
 * key K(0) goes to key_out, the state file to log_path.state, and the
 * first record (log_start). Returns 0 or -1 with a reason. */
int audit_chain_init(const char *log_path, uint8_t key_out[AUDIT_KEY_LEN], char *err, size_t errlen);

/* Opens an existing chain for appending. */
int audit_writer_open(const char *log_path, struct audit_writer **w, char *err, size_t errlen);
/* Appends n records under the chain's lock and makes them durable with one
 * flush (group commit); a record longer than AUDIT_MAX_LINE is refused
 * (and with it the batch). On failure the records may still be in the log
 * (when only the state could not be written: the next writer adopts them),
 * but the caller must act as if they were not: release nothing. */
int audit_writer_append(struct audit_writer *w, const struct audit_event *const *events,
                        const struct audit_identity *const *who, size_t n, char *err, size_t errlen);
/* The sequence number of the last record w appended (0: none yet). */
uint64_t audit_writer_last_seq(struct audit_writer *w);
/* Renames the current log to archive_path and starts a new file at the
 * log's path that continues the chain (log_continue). */
int audit_writer_rotate(struct audit_writer *w, const char *archive_path, char *err, size_t errlen);
void audit_writer_close(struct audit_writer *w);

/* ---- verification ---- */
struct audit_verify_result {
    uint64_t records;              /* records checked */
    uint64_t last_seq;
    uint8_t last_hash[AUDIT_HASH_LEN];
    uint64_t bad_seq;              /* the first broken record, 0 if none */
    size_t bad_line;               /* its line number in bad_file */
    const char *bad_file;
    char reason[256];
};

/* Verifies the files (in chain order) with the auditor's key. checkpoint
 * ("SEQ:HASH", or NULL) is what the auditor saw last: the log must still
 * hold that record, unchanged. Returns 0 when everything holds. */
int audit_verify_files(const char *const *files, size_t n, const uint8_t key0[AUDIT_KEY_LEN], const char *checkpoint,
                       struct audit_verify_result *res);

/* ---- the sinks the module writes through (KYSO_AUDIT) ---- */
/* Makes the record durable in the configured sink, within the sink's
 * deadline (audit_timeout_ms). Returns 0 with *receipt filled, or -1 with
 * a reason: then the caller must not release what the record is about
 * (if the record was written all the same, the sink itself follows it
 * with a "withheld" record). */
int audit_submit(const struct audit_event *ev, struct audit_receipt *receipt, char *err, size_t errlen);
/* What a record made durable by audit_submit was about was not released
 * after all (the caller went away, the session was closed meanwhile): a
 * "withheld" record follows it. ev is the event as submitted. Returns 0,
 * or -1 with a reason (the sink keeps it to send later). */
int audit_withhold(const struct audit_event *ev, const struct audit_receipt *receipt, const char *why, char *err,
                   size_t errlen);
/* Sends what the sink still has to say (withholdings kept while the
 * daemon could not be reached), for at most timeout_ms: at C_Finalize and
 * when the module is unloaded. */
void audit_sink_flush(int timeout_ms);
/* The longest a record may take before the operation fails closed (ms). */
int audit_timeout_ms(void);
/* Around fork() (the module's atfork handlers): holds the sinks' locks. */
void audit_sink_fork_prepare(void);
void audit_sink_fork_done(void);
/* Where records go: "daemon" (the default socket), "daemon:/SOCKET",
 * "file:/PATH" or "off", and how long one may take (100 to 10000 ms).
 * Set by the module from root's configuration; -1 for a sink it does not
 * know (the setting is then unchanged). */
int audit_sink_configure(const char *sink, int timeout_ms);
/* True when the sink is "off" (allowed only where the rules were weakened). */
bool audit_disabled(void);

/* ---- helpers shared by the tools ---- */
void audit_hex(const uint8_t *in, size_t len, char *out);       /* out: 2*len+1 */
bool audit_unhex(const char *hex, uint8_t *out, size_t len);      /* exactly 2*len digits */
int audit_read_key_file(const char *path, uint8_t key[AUDIT_KEY_LEN], char *err, size_t errlen);

#endif
