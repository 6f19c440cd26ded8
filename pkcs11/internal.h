/* kyso-pkcs11.so internals shared by the files of pkcs11/.
 *
 * Locking: one module lock guards the module state and the slot count;
 * each slot has its own lock, which guards everything about that slot:
 * its PC/SC connection, token, login state, sessions and their
 * operations. Card I/O happens with only the slot's lock held, so a slow
 * card never blocks another slot. Lock order: module lock, then never a
 * slot lock while holding it (the module lock is released first).
 *
 * Handles: a session handle carries its slot (slot index + 1 in the top
 * byte), so finding a session needs only its slot's lock. Object handles
 * also carry the token generation, so handles from a removed card are
 * never mistaken for objects of the next card.
 */
#ifndef KYSO_PKCS11_INTERNAL_H
#define KYSO_PKCS11_INTERNAL_H

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "audit/audit.h"
#include "pcsc/reader.h"
#include "pcsc/token.h"
#include "records/standing.h"
#include "pkcs11/pkcs11.h"

#define P11_MAX_SLOTS 32
#define P11_MAX_PIN 64
#define P11_MAX_FIND 64
#define P11_READER_NAME_MAX 256

/* ---- locks (the application's callbacks, or pthreads) ---- */
typedef void *p11_mutex;
CK_RV p11_mutex_create(p11_mutex *m);
void p11_mutex_destroy(p11_mutex m);
void p11_mutex_lock(p11_mutex m);
void p11_mutex_unlock(p11_mutex m);
CK_RV p11_locking_setup(const CK_C_INITIALIZE_ARGS *args);

/* ---- secrets: locked, never swapped or dumped, wiped on release ---- */
struct p11_secret {
    uint8_t *data;        /* P11_MAX_PIN bytes of locked memory, or NULL */
    size_t len;
};
bool p11_secret_set(struct p11_secret *s, const uint8_t *value, size_t len);
void p11_secret_clear(struct p11_secret *s);

/* ---- debug log (KYSO_DEBUG); never PINs or key material ---- */
void p11_debug_init(void);
void p11_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- operations held by a session ---- */
enum p11_op_kind { OP_NONE, OP_FIND, OP_SIGN, OP_VERIFY, OP_DECRYPT, OP_DIGEST };

struct p11_operation {
    enum p11_op_kind kind;
    CK_MECHANISM_TYPE mechanism;
    CK_OBJECT_HANDLE key;
    uint8_t key_ref;
    EVP_MD_CTX *md;                /* hashing mechanisms */
    EVP_MD_CTX *audit_md;          /* SHA-256 of the input, for the audit record */
    size_t input_len;
    uint8_t *buffer;               /* raw mechanisms: the data so far */
    size_t buffer_len, buffer_cap;
    bool multi_part;               /* C_*Update was called */
    bool absorbed;                 /* single-part: the data is in (a length query came first) */
    bool result_ready;             /* decrypt: plain text kept for a second call */
    const EVP_MD *pss_md, *pss_mgf1_md;
    int pss_salt_len;
    const EVP_MD *oaep_md, *oaep_mgf1_md;
    uint8_t *oaep_label;
    size_t oaep_label_len;
    EVP_PKEY *verify_key;          /* C_Verify*: the public key */
    struct p11_secret context_pin; /* CKU_CONTEXT_SPECIFIC, for one operation */
    bool context_pin_verified;     /* the card accepted it at the context login */
    bool needs_context_login;
    uint64_t serial;               /* tells this operation from any later one */
    bool in_flight;                /* decrypt: its record is being made (slot unlocked) */
    /* C_FindObjects */
    CK_OBJECT_HANDLE found[P11_MAX_FIND * 4];
    size_t nfound, found_pos;
};

struct p11_session {
    CK_SESSION_HANDLE handle;
    CK_FLAGS flags;
    uint64_t generation;           /* the token's generation when opened */
    struct p11_operation find, crypto, digest;
    uint8_t checked_keys[32];      /* bit per key reference: a signature was verified */
    struct p11_session *next;
};

/* A secret made by C_DeriveKey (ECDH): a session object, made under the
 * user's login and destroyed when the login ends. */
#define P11_MAX_SECRETS 16
struct p11_secret_object {
    bool used;
    CK_SESSION_HANDLE owner;
    uint8_t value[128];
    size_t len;
    bool private_, sensitive, extractable;
    char label[64];
};

/* ---- slots and tokens ---- */
struct p11_slot {
    p11_mutex lock;
    CK_SLOT_ID id;
    char reader[P11_READER_NAME_MAX];
    bool reader_present;
    struct pcsc_context ctx;        /* this slot's own PC/SC context */
    struct pcsc_card card;
    bool connected;
    struct token token;
    bool token_ready;               /* token_open succeeded for this card */
    uint64_t generation;            /* changes with every card insertion */
    uint32_t reader_state;          /* last SCARD state seen (with event count) */
    /* The last card's contents, reused when the same card comes back. */
    struct token cached;
    bool cached_valid;
    /* Login state of the token (application-wide) */
    CK_USER_TYPE login;             /* CKU_USER, CKU_SO, or (CK_USER_TYPE)-1 */
    bool logged_in;
    uint64_t login_serial;          /* changes with every login */
    struct p11_secret user_pin;     /* cached for recovery after a reset, if allowed */
    struct p11_secret so_secret;    /* PUK (for C_InitPIN / C_SetPIN) or management key */
    bool so_is_mgm_key;
    /* Sessions */
    struct p11_session *sessions;
    CK_ULONG session_count, rw_session_count;
    uint32_t next_session;
    struct p11_secret_object secrets[P11_MAX_SECRETS];
    /* C_WaitForSlotEvent: an event not yet reported */
    atomic_bool event_pending;     /* set under the slot or the module lock */
    /* Records to make once the lock is released (p11_audit_note). */
    time_t last_use;               /* the last call on the slot (M13 idle_logout) */
    struct p11_record *notes;
};

struct p11_module {
    bool initialized;
    pid_t pid;                      /* process that called C_Initialize */
    p11_mutex lock;
    struct p11_slot slots[P11_MAX_SLOTS];
    size_t nslots;
    struct pcsc_context list_ctx;   /* reader list (module lock) */
    struct pcsc_context wait_ctx;   /* C_WaitForSlotEvent only: pcsc-lite holds a context
                                     * busy for the whole of a blocking wait */
    bool waiting;
    uint32_t wait_seen[P11_MAX_SLOTS + 1]; /* reader states the waiter last saw (+ PnP) */
    bool finalizing;
    bool pin_cache;                 /* keep the user PIN to recover from resets */
};

extern struct p11_module p11;

/* module.c */
CK_RV p11_check_initialized(void);
/* Looks up a session and locks its slot; on success the caller must call
 * p11_slot_unlock. Checks the card is still the one the session was
 * opened on: CKR_DEVICE_REMOVED (and the session is closed) if not. */
CK_RV p11_session_get(CK_SESSION_HANDLE h, struct p11_slot **slot, struct p11_session **session);
CK_RV p11_slot_get(CK_SLOT_ID id, struct p11_slot **slot); /* locks the slot */
void p11_slot_unlock(struct p11_slot *slot);
/* Around fork(): the C_WaitForSlotEvent waiter leaves pcsc-lite and its
 * lock until resumed (module.c's fork handlers). */
void p11_slot_wait_pause(void);
void p11_slot_wait_resume(void);
CK_RV p11_rv_from_pcsc(int status);

/* slot.c */
void p11_slots_scan(bool announce);        /* adds readers that appeared; module lock held */
CK_RV p11_slot_refresh(struct p11_slot *slot); /* no card open: one in the reader? open it */
CK_RV p11_slot_check(struct p11_slot *slot);   /* the same, and is the open card still there? */
CK_RV p11_slot_enumerate(struct p11_slot *slot);
CK_RV p11_slot_begin(struct p11_slot *slot);   /* transaction, recovering from a reset */
void p11_slot_end(struct p11_slot *slot);
/* Ends the transaction of a card operation and says what its result
 * means: a communication failure that is in fact a removed card becomes
 * PCSC_E_CARD_REMOVED (and the card is dropped). */
int p11_slot_finish(struct p11_slot *slot, int rc);
/* After the card said "not logged in" (another application logged it
 * out): logs in again with the kept PIN, inside the open transaction. */
bool p11_slot_relogin(struct p11_slot *slot);
/* What the card tells of a key only when asked (token_key_details): one
 * transaction the first time it is needed, none after. */
CK_RV p11_slot_key_details(struct p11_slot *slot, struct token_key *k);
void p11_slot_drop_card(struct p11_slot *slot);
void p11_slot_release(struct p11_slot *slot);
bool p11_slot_token_present(struct p11_slot *slot);

/* session.c */
void p11_session_free(struct p11_slot *slot, struct p11_session *s);
/* Ends a call on a session: a session whose card went away is reported
 * once (CKR_DEVICE_REMOVED) and then gone. Returns rv. */
CK_RV p11_session_end_call(struct p11_slot *slot, struct p11_session *s, CK_RV rv);
void p11_op_reset(struct p11_operation *op);
/* Single-part and multi-part calls do not mix: a single-part call after an
 * update, or an update or a final after a single-part call has the data (a
 * length query), ends the operation; true then (CKR_OPERATION_ACTIVE). */
bool p11_op_mixed(struct p11_operation *op, bool single_part);
/* The start of a call that begins an operation (C_*Init): the session,
 * its slot locked, and its operation of this kind (digests have their
 * own, beside the key operations). CKR_ARGUMENTS_BAD if !args_ok,
 * CKR_OPERATION_ACTIVE if one is under way. On an error the slot is
 * unlocked again. */
CK_RV p11_session_begin_op(CK_SESSION_HANDLE h, enum p11_op_kind kind, bool args_ok, struct p11_slot **slot,
                           struct p11_session **s, struct p11_operation **op);
/* The start of a call that goes on with one (Update, Final, the one-shot
 * call): CKR_OPERATION_NOT_INITIALIZED if none of this kind is under
 * way; CKR_ARGUMENTS_BAD, which ends the operation, if !args_ok. On an
 * error the slot is unlocked again. */
CK_RV p11_session_continue_op(CK_SESSION_HANDLE h, enum p11_op_kind kind, bool args_ok, struct p11_slot **slot,
                              struct p11_session **s, struct p11_operation **op);
void p11_slot_logout_state(struct p11_slot *slot);
/* The user PIN checked by the card for one operation, as
 * C_Login(CKU_CONTEXT_SPECIFIC) does: a wrong one costs a try and is
 * recorded (pin_failure). who names the caller in the debug log. */
CK_RV p11_context_verify(struct p11_slot *slot, const uint8_t *pin, size_t len, const char *who);


/* object.c */
enum p11_object_kind {
    OBJ_CERT = 1, OBJ_PUBLIC = 2, OBJ_PRIVATE = 3, OBJ_DATA = 4, OBJ_PROFILE = 5, OBJ_SECRET = 6, OBJ_CA_CERT = 7
};
CK_OBJECT_HANDLE p11_object_handle(const struct p11_slot *slot, enum p11_object_kind kind, unsigned index);
/* Resolves a handle to a key (for OBJ_*: cert/public/private) or data object. */
CK_RV p11_object_resolve(struct p11_slot *slot, CK_OBJECT_HANDLE h, enum p11_object_kind *kind,
                         struct token_key **key, struct token_data_object **data);
struct p11_secret_object *p11_secret_object_of(struct p11_slot *slot, CK_OBJECT_HANDLE h);
void p11_secret_objects_drop(struct p11_slot *slot, CK_SESSION_HANDLE owner); /* 0: all */
bool p11_object_visible(const struct p11_slot *slot, enum p11_object_kind kind, const struct token_data_object *d);
/* The attribute of this type in a template (NULL if none, or no template). */
const CK_ATTRIBUTE *p11_template_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type);

/* mechanism.c */
struct p11_mechanism {
    CK_MECHANISM_TYPE type;
    CK_FLAGS flags;
    enum token_key_type key_type;
    bool any_key;                   /* digests: no key */
    const char *digest;             /* OpenSSL name of the hash, or NULL */
    unsigned needs_caps;            /* enum token_caps the card must have */
};
/* The flags a mechanism has on this slot's token (0: not offered). */
CK_FLAGS p11_mechanism_flags(const struct p11_slot *slot, const struct p11_mechanism *m);
const struct p11_mechanism *p11_mechanism_find(CK_MECHANISM_TYPE type);
size_t p11_mechanism_count(void);
const struct p11_mechanism *p11_mechanism_at(size_t i);
bool p11_slot_has_key_type(struct p11_slot *slot, enum token_key_type type, unsigned *min_bits,
                           unsigned *max_bits);

/* pipeline.c: decide → operate → record → release */
#define P11_MAX_SIGNATURE 1024      /* the card's answer: an RSA-8192 signature at most */
#define P11_MAX_TBS 1024            /* what a signature covers: a modulus-size block at most */

enum p11_op_class { P11_SIGN, P11_DECRYPT, P11_DERIVE };
/* rules.c: whether k's certificate allows the use (M12), so that CKA_SIGN,
 * CKA_DECRYPT and CKA_DERIVE say what the key will be allowed to do. */
bool p11_key_usage_allows(const struct token_key *k, enum p11_op_class use);

struct p11_signature_event {
    const struct p11_slot *slot;
    const struct token_key *key;
    enum p11_op_class kind;
    CK_MECHANISM_TYPE mechanism;
    const uint8_t *digest;          /* SHA-256 of the operation's input, or NULL */
    size_t input_len;
};

/* A record, with copies of all it names: it is made with the slot
 * unlocked. For a signature it holds the signature until its release. */
struct p11_record {
    bool active;                    /* there is a record to make */
    char event[16];
    char reader[P11_READER_NAME_MAX];
    char token[17];
    char key[3];
    uint8_t *cert;                  /* OPENSSL_malloc'd copy */
    size_t cert_len;
    char mechanism[48];
    bool has_input, has_sha;
    size_t input_len;
    uint8_t input_sha256[32];
    CK_RV outcome;
    char rule[8], detail[192];
    char scheme[48];                /* the signature and what it covers (audit/proof.h) */
    uint8_t sig[P11_MAX_SIGNATURE], tbs[P11_MAX_TBS];
    size_t sig_len, tbs_len;
    struct audit_receipt receipt;
    struct p11_record *next;        /* notes waiting for the slot's lock to be released */
    struct p11_record *live_prev, *live_next; /* every record being made (pipeline.c) */
    bool live;
};
void p11_record_init(struct p11_record *r, const struct p11_slot *slot, const char *event, const struct token_key *key);
void p11_record_input(struct p11_record *r, CK_MECHANISM_TYPE mechanism, const uint8_t sha256[32], size_t input_len);
bool p11_record_proof(struct p11_record *r, const char *scheme, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                      size_t sig_len);
/* Makes the record durable (slot unlocked). Not CKR_OK: what it is about
 * must not be released. */
CK_RV p11_record_make(struct p11_record *r);
/* What a record made durable was about was not released after all. */
void p11_record_withhold(struct p11_record *r, const char *why);
void p11_record_clear(struct p11_record *r);
/* Around fork(): the records being made stay listed; in the child they
 * belong to threads that no longer exist, and their copies are freed. */
void p11_records_fork_prepare(void);
void p11_records_fork_parent(void);
void p11_records_fork_child(void);
/* For a signature: makes the record, then (if rv and the record are
 * CKR_OK) copies the signature to out; returns the call's result. Nothing
 * to record: rv. */
CK_RV p11_record_release(struct p11_record *r, CK_RV rv, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
/* The rules' decision. Not CKR_OK (CKR_ACTION_PROHIBITED): refused, and
 * *refusal is the record to make once the slot is unlocked. */
/* rules.c: the decision (warning: a note for the record of an allowed
 * operation, e.g. a stale CRL under crl_stale = warn). */
CK_RV p11_policy_decide(const struct p11_signature_event *ev, struct p11_record *refusal, char *warning,
                        size_t warning_len);
/* rules.c: root's configuration at C_Initialize / C_Finalize. */
void p11_rules_load(void);
void p11_rules_unload(void);
/* A fresh PIN before every use of k: PIV 9C, or every key under
 * [M13] pin_every_signature. */
bool p11_key_pin_always(const struct token_key *k);
/* Before p11_key_pin_always(k) decides anything: the card's own PIN
 * policy for k, asked only when the configuration leaves it to the card. */
CK_RV p11_key_learn_pin_policy(struct p11_slot *slot, struct token_key *k);
/* M2: CKR_OK in admin mode; otherwise an audited refusal. */
CK_RV p11_rules_admin_write(struct p11_slot *slot, const char *event, const struct token_key *key);
/* M13 idle_logout, at the start of every call on a slot (its lock held). */
void p11_rules_idle_check(struct p11_slot *slot);
/* registry_view.c: what the registry says of a token (M4, M7, M8),
 * cached until the registry changes; around fork, the cache's lock. */
struct p11_registry_view {
    int custodian_known;          /* 1, 0, -1 as in policy_request */
    char custodian_user[64];      /* the OS account of the latest handover's receiver */
    char custodian_record[192];   /* its id, or why the registry cannot be trusted */
    int standing_known;           /* 1, or -1 (standing_why) */
    char standing_why[160];
    struct records_standing standing;
};
void p11_registry_view_of(const char *serial, struct p11_registry_view *out);
/* This host's machine id (/etc/machine-id), or NULL. */
const char *p11_machine_id(void);
void p11_custodian_fork_prepare(void);
void p11_custodian_fork_done(void);
/* [pinentry] protected_path: C_Login without a PIN asks through pinentry. */
bool p11_rules_protected_path(void);
/* prompt.c: C_Login(CKU_USER or CKU_CONTEXT_SPECIFIC) with no PIN on a
 * protected authentication path; the slot is unlocked while the user
 * answers, and locked again (or the session gone) on return. */
CK_RV p11_prompt_login(CK_SESSION_HANDLE h, struct p11_slot **slot, struct p11_session **s, CK_USER_TYPE type,
                       struct p11_secret *pin_out);
/* The configured pinentry program, if any. */
bool p11_rules_pinentry(char *program, size_t len, int *timeout_s);
/* PIN and administrative events: recorded when the slot's lock is
 * released (best effort: the card has already acted). */
void p11_audit_note_rule(struct p11_slot *slot, const char *event, const struct token_key *key, CK_RV outcome,
                         const char *rule, const char *detail);
void p11_audit_note(struct p11_slot *slot, const char *event, const struct token_key *key, CK_RV outcome,
                    const char *detail);
void p11_notes_make(struct p11_record *notes);

/* prompt.c: a fresh PIN the application did not give, asked through the
 * configured pinentry program (pinentry.h). */
#define P11_RV_ASK_PIN ((CK_RV)(CKR_VENDOR_DEFINED | 0x50494EUL)) /* internal, never returned */
/* With the slot locked, at the real call of an operation on k that needs
 * a fresh PIN and has none: P11_RV_ASK_PIN if a prompt can be made;
 * otherwise refuse (the caller's code), noted for the record (M13). */
CK_RV p11_prompt_wanted(struct p11_slot *slot, const struct token_key *k, CK_RV refuse);
/* Asks for it, with the slot unlocked meanwhile (never a prompt under the
 * slot's lock), then finds the session again: the same operation (for
 * P11_SIGN and P11_DECRYPT), card and login, or the code that says what
 * changed. Called with *slot locked; on return it is locked again iff *s
 * is not NULL. The PIN is checked by the card (p11_context_verify) and
 * then kept as C_Login(CKU_CONTEXT_SPECIFIC) keeps it (in the session's
 * operation), or for P11_DERIVE in *pin. Any failure ends the operation. */
CK_RV p11_prompt_pin(CK_SESSION_HANDLE h, struct p11_slot **slot, struct p11_session **s, uint8_t key_ref,
                     enum p11_op_class use, struct p11_secret *pin);

/* sign.c: what the operations on a card's key share (decrypt.c too) */
#define P11_MAX_RAW_INPUT 1024      /* raw mechanisms: at most a modulus (4096 bits) plus slack */
/* Checks the mechanism and its parameters and sets up the operation. */
CK_RV p11_setup_operation(struct p11_operation *op, enum p11_op_kind kind, const CK_MECHANISM *mech,
                          const struct token_key *k, CK_FLAGS needed);
/* Resolves the key of C_*Init: the object must be of the wanted class. */
CK_RV p11_init_key(struct p11_slot *slot, CK_OBJECT_HANDLE h, enum p11_object_kind want, struct token_key **key);
/* Raw mechanisms: the data so far, at most P11_MAX_RAW_INPUT bytes. */
bool p11_buffer_append(struct p11_operation *op, const uint8_t *data, size_t len);
/* An RSA input must be a number below the modulus. */
bool p11_below_modulus(const EVP_PKEY *pub, const uint8_t *block, size_t len);
CK_RV p11_rv_from_card(int rc);

/* names.c */
const char *p11_mechanism_name(CK_MECHANISM_TYPE m, char *buf, size_t buflen);
const char *p11_rv_name(CK_RV rv, char *buf, size_t buflen);

/* util */
void p11_pad_string(CK_UTF8CHAR *dst, size_t len, const char *src);

#endif
