/* kyso-pkcs11.so: initialisation, function lists and interfaces, locks,
 * fork safety, secrets, the debug log. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "pkcs11/internal.h"
#include "policy/certcheck.h"
#include "policy/config.h"
#include "policy/crl.h"

struct p11_module p11;

/* C_Initialize and C_Finalize are serialised by this lock, which is a
 * plain pthread mutex because it must exist before the application's
 * callbacks are known. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* Bumped in the child after fork: the state then belongs to the parent. */
static atomic_uint fork_count;
static unsigned fork_count_at_init;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* No thread of the parent is inside the module's PC/SC calls while it
 * forks: pcsc-lite's own locks would otherwise stay taken in the child,
 * whose C_Initialize then hangs. Taken in this order: init_lock (no
 * C_Initialize/C_Finalize in between), the C_WaitForSlotEvent waiter
 * woken out of pcsc-lite and its wait lock, the module lock, every slot
 * lock, the audit sink's; released in reverse. */
static bool fork_locked;

static void before_fork(void)
{
    pthread_mutex_lock(&init_lock);
    fork_locked = p11.initialized && p11.lock;
    if (!fork_locked)
        return;
    p11_slot_wait_pause();
    p11_mutex_lock(p11.lock);
    for (size_t i = 0; i < p11.nslots; i++)
        p11_mutex_lock(p11.slots[i].lock);
    audit_sink_fork_prepare(); /* a slot's thread takes it while holding its slot */
    p11_records_fork_prepare();
    p11_custodian_fork_prepare();
    policy_config_fork_prepare();
    policy_cert_fork_prepare();
    policy_crl_fork_prepare();
}

static void after_fork_in(bool child)
{
    if (fork_locked) {
        if (child) {
            policy_crl_fork_child();
            policy_cert_fork_child();
            policy_config_fork_child();
            p11_records_fork_child();
        } else {
            policy_crl_fork_parent();
            policy_cert_fork_parent();
            policy_config_fork_parent();
            p11_records_fork_parent();
        }
        audit_sink_fork_done();
        p11_custodian_fork_done();
        for (size_t i = p11.nslots; i-- > 0;)
            p11_mutex_unlock(p11.slots[i].lock);
        p11_mutex_unlock(p11.lock);
        p11_slot_wait_resume();
        fork_locked = false;
    }
    pthread_mutex_unlock(&init_lock);
}

static void after_fork(void)
{
    after_fork_in(false);
}

static void on_fork_child(void)
{
    after_fork_in(true);
    atomic_fetch_add(&fork_count, 1);
}

static void register_atfork(void)
{
    pthread_atfork(before_fork, after_fork, on_fork_child);
}

/* ---------------------------------------------------------------- locks */

static CK_C_INITIALIZE_ARGS app_locking;
static bool use_app_locks;

static CK_RV pthread_create_mutex(p11_mutex *m)
{
    pthread_mutex_t *mx = malloc(sizeof(*mx));
    if (!mx)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(mx, NULL);
    *m = mx;
    return CKR_OK;
}

CK_RV p11_locking_setup(const CK_C_INITIALIZE_ARGS *args)
{
    use_app_locks = false;
    if (!args)
        return CKR_OK;
    bool any = args->CreateMutex || args->DestroyMutex || args->LockMutex || args->UnlockMutex;
    bool all = args->CreateMutex && args->DestroyMutex && args->LockMutex && args->UnlockMutex;
    if (any && !all)
        return CKR_ARGUMENTS_BAD;
    /* With CKF_OS_LOCKING_OK the native locks are allowed; without it and
     * with callbacks, the application's must be used. */
    if (all && !(args->flags & CKF_OS_LOCKING_OK)) {
        app_locking = *args;
        use_app_locks = true;
    }
    return CKR_OK;
}

CK_RV p11_mutex_create(p11_mutex *m)
{
    if (use_app_locks)
        return app_locking.CreateMutex(m);
    return pthread_create_mutex(m);
}

void p11_mutex_destroy(p11_mutex m)
{
    if (!m)
        return;
    if (use_app_locks) {
        app_locking.DestroyMutex(m);
        return;
    }
    pthread_mutex_destroy(m);
    free(m);
}

void p11_mutex_lock(p11_mutex m)
{
    if (use_app_locks)
        app_locking.LockMutex(m);
    else
        pthread_mutex_lock(m);
}

void p11_mutex_unlock(p11_mutex m)
{
    if (use_app_locks)
        app_locking.UnlockMutex(m);
    else
        pthread_mutex_unlock(m);
}

/* -------------------------------------------------------------- secrets */

bool p11_secret_set(struct p11_secret *s, const uint8_t *value, size_t len)
{
    if (len > P11_MAX_PIN)
        return false;
    if (!s->data) {
        /* A page of its own: locked in RAM and left out of core dumps. */
        void *page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
        if (page == MAP_FAILED)
            return false;
        mlock(page, (size_t)sysconf(_SC_PAGESIZE)); /* best effort: RLIMIT_MEMLOCK may refuse */
        madvise(page, (size_t)sysconf(_SC_PAGESIZE), MADV_DONTDUMP);
        s->data = page;
    }
    OPENSSL_cleanse(s->data, P11_MAX_PIN);
    if (len)
        memcpy(s->data, value, len);
    s->len = len;
    return true;
}

void p11_secret_clear(struct p11_secret *s)
{
    if (!s->data)
        return;
    OPENSSL_cleanse(s->data, P11_MAX_PIN);
    munlock(s->data, (size_t)sysconf(_SC_PAGESIZE));
    munmap(s->data, (size_t)sysconf(_SC_PAGESIZE));
    s->data = NULL;
    s->len = 0;
}

/* ------------------------------------------------------------ debug log */

static FILE *debug_file;
static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;

/* KYSO_DEBUG=1 logs to stderr, KYSO_DEBUG=/path appends to that file.
 * Without it the module writes nothing anywhere. */
void p11_debug_init(void)
{
    const char *v = getenv("KYSO_DEBUG");
    pthread_mutex_lock(&debug_lock);
    if (debug_file && debug_file != stderr)
        fclose(debug_file);
    debug_file = NULL;
    if (v && *v && strcmp(v, "0") != 0)
        debug_file = v[0] == '/' ? fopen(v, "ae") : stderr;
    pthread_mutex_unlock(&debug_lock);
}

void p11_debug(const char *fmt, ...)
{
    if (!debug_file)
        return;
    va_list ap;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&debug_lock);
    if (debug_file) {
        fprintf(debug_file, "kyso-pkcs11[%d] %lld.%03ld ", (int)getpid(), (long long)ts.tv_sec, ts.tv_nsec / 1000000);
        va_start(ap, fmt);
        vfprintf(debug_file, fmt, ap);
        va_end(ap);
        fputc('\n', debug_file);
        fflush(debug_file);
    }
    pthread_mutex_unlock(&debug_lock);
}

/* ------------------------------------------------------------ utilities */

void p11_pad_string(CK_UTF8CHAR *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (n > len) {
        /* Cut on a UTF-8 character boundary. */
        n = len;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memset(dst, ' ', len);
    memcpy(dst, src, n);
}

CK_RV p11_rv_from_pcsc(int status)
{
    switch (status) {
    case PCSC_OK:
        return CKR_OK;
    case PCSC_E_NO_CARD:
        return CKR_TOKEN_NOT_PRESENT;
    case PCSC_E_CARD_REMOVED:
        return CKR_DEVICE_REMOVED;
    case PCSC_E_NOMEM:
        return CKR_HOST_MEMORY;
    case PCSC_E_WRONG_PIN:
        return CKR_PIN_INCORRECT;
    case PCSC_E_PIN_BLOCKED:
        return CKR_PIN_LOCKED;
    case PCSC_E_SECURITY:
        return CKR_USER_NOT_LOGGED_IN;
    case PCSC_E_INVALID_ARG:
        return CKR_ARGUMENTS_BAD;
    case PCSC_E_NO_SERVICE:
    case PCSC_E_NO_READER:
    case PCSC_E_COMM:
    case PCSC_E_SHARING:
        return CKR_DEVICE_ERROR;
    default:
        return CKR_DEVICE_ERROR;
    }
}

/* ------------------------------------------------------- initialisation */

CK_RV p11_check_initialized(void)
{
    if (!p11.initialized || atomic_load(&fork_count) != fork_count_at_init)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    return CKR_OK;
}

static bool env_flag(const char *name, bool dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    return !(strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0);
}

/* In a child after fork the parent's PC/SC handles are not ours: forget
 * them without calling into pcsc-lite, and free what we own. */
static void forget_parent_state(void)
{
    for (size_t i = 0; i < p11.nslots; i++) {
        struct p11_slot *slot = &p11.slots[i];
        /* Not logged in, no card, as far as the child goes: freeing the
         * last session must not log the parent out through its connection. */
        slot->logged_in = false;
        slot->token_ready = false;
        slot->connected = false;
        while (slot->sessions)
            p11_session_free(slot, slot->sessions);
        token_close(&slot->token);
        token_close(&slot->cached);
        /* The parent's notes are the parent's to make. */
        while (slot->notes) {
            struct p11_record *next = slot->notes->next;
            p11_record_clear(slot->notes);
            free(slot->notes);
            slot->notes = next;
        }
        p11_secret_clear(&slot->user_pin);
        p11_secret_clear(&slot->so_secret);
        /* The parent's locks are freed, not destroyed: another thread of
         * the parent may have held one at the fork. */
        if (!use_app_locks)
            free(slot->lock);
    }
    if (!use_app_locks)
        free(p11.lock);
    memset(&p11, 0, sizeof(p11));
}

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    const CK_C_INITIALIZE_ARGS *args = pInitArgs;
    CK_RV rv;

    pthread_once(&atfork_once, register_atfork);
    if (args && args->pReserved)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&init_lock);
    if (p11.initialized) {
        if (atomic_load(&fork_count) == fork_count_at_init) {
            pthread_mutex_unlock(&init_lock);
            return CKR_CRYPTOKI_ALREADY_INITIALIZED;
        }
        forget_parent_state();
    }
    rv = p11_locking_setup(args);
    if (rv != CKR_OK)
        goto out;
    memset(&p11, 0, sizeof(p11));
    p11_debug_init();
    rv = p11_mutex_create(&p11.lock);
    if (rv != CKR_OK)
        goto out;
    if (pcsc_context_establish(&p11.list_ctx) != PCSC_OK || pcsc_context_establish(&p11.wait_ctx) != PCSC_OK) {
        /* No pcscd: the module still works, with no slots, as the
         * service may come later (socket activation). */
        p11_debug("C_Initialize: no PC/SC service yet");
    }
    p11.pin_cache = env_flag("KYSO_PIN_CACHE", true);
    p11_rules_load();
    p11.pid = getpid();
    fork_count_at_init = atomic_load(&fork_count);
    p11.initialized = true;
    p11_mutex_lock(p11.lock);
    p11_slots_scan(false);
    p11_mutex_unlock(p11.lock);
    p11_debug("C_Initialize: %zu slot(s)", p11.nslots);
out:
    pthread_mutex_unlock(&init_lock);
    return rv;
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    if (pReserved)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&init_lock);
    CK_RV rv = p11_check_initialized();
    if (rv != CKR_OK) {
        pthread_mutex_unlock(&init_lock);
        return rv;
    }
    /* Wake a thread blocked in C_WaitForSlotEvent and let it leave. */
    p11_mutex_lock(p11.lock);
    p11.finalizing = true;
    p11_mutex_unlock(p11.lock);
    for (int i = 0; i < 500; i++) {
        p11_mutex_lock(p11.lock);
        bool waiting = p11.waiting;
        p11_mutex_unlock(p11.lock);
        if (!waiting)
            break;
        pcsc_cancel(&p11.wait_ctx);
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < p11.nslots; i++)
        p11_slot_release(&p11.slots[i]);
    pcsc_context_release(&p11.wait_ctx);
    pcsc_context_release(&p11.list_ctx);
    p11_rules_unload();
    p11.initialized = false;
    p11_mutex_destroy(p11.lock);
    p11.lock = NULL;
    p11_debug("C_Finalize");
    pthread_mutex_unlock(&init_lock);
    return CKR_OK;
}

/* An application that exits without C_Finalize (NSS when its shutdown
 * fails, libp11's engine) would leave the card logged in for whoever comes
 * next: pcscd resets a card only for a client that held a transaction.
 * When the module is unloaded still initialised by this very process, the
 * cards are logged out. Library destructors run after the application's
 * atexit handlers, so nothing calls the module afterwards. */
__attribute__((destructor)) static void logout_on_unload(void)
{
    if (!p11.initialized || p11.pid != getpid() || atomic_load(&fork_count) != fork_count_at_init)
        return;
    for (size_t i = 0; i < p11.nslots; i++) {
        struct p11_slot *slot = &p11.slots[i];
        if (!slot->token_ready || !slot->logged_in)
            continue;
        if (pcsc_begin_transaction(&slot->card) == PCSC_OK) {
            slot->token.edge->logout(&slot->token);
            pcsc_end_transaction(&slot->card);
        }
        p11_secret_clear(&slot->user_pin);
        p11_secret_clear(&slot->so_secret);
        slot->logged_in = false;
    }
    p11.initialized = false;
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    CK_RV rv = p11_check_initialized();
    if (rv != CKR_OK)
        return rv;
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    memset(pInfo, 0, sizeof(*pInfo));
    pInfo->cryptokiVersion.major = 2;
    pInfo->cryptokiVersion.minor = 40;
    p11_pad_string(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "kyso");
    p11_pad_string(pInfo->libraryDescription, sizeof(pInfo->libraryDescription), "kyso PKCS#11 for PC/SC tokens");
    pInfo->libraryVersion.major = 0;
    pInfo->libraryVersion.minor = 1;
    return CKR_OK;
}

/* -------------------------------------------------- lookups with locking */

CK_RV p11_slot_get(CK_SLOT_ID id, struct p11_slot **slot)
{
    CK_RV rv = p11_check_initialized();
    if (rv != CKR_OK)
        return rv;
    p11_mutex_lock(p11.lock);
    size_t n = p11.nslots;
    p11_mutex_unlock(p11.lock);
    if (id >= n)
        return CKR_SLOT_ID_INVALID;
    *slot = &p11.slots[id];
    p11_mutex_lock((*slot)->lock);
    return CKR_OK;
}

void p11_slot_unlock(struct p11_slot *slot)
{
    /* The records of what happened under the lock are made without it. */
    struct p11_record *notes = slot->notes;
    slot->notes = NULL;
    p11_mutex_unlock(slot->lock);
    p11_notes_make(notes);
}

CK_RV p11_session_get(CK_SESSION_HANDLE h, struct p11_slot **slotp, struct p11_session **sessionp)
{
    CK_RV rv = p11_check_initialized();
    if (rv != CKR_OK)
        return rv;
    size_t index = (size_t)(h >> 24);
    if (index == 0)
        return CKR_SESSION_HANDLE_INVALID;
    struct p11_slot *slot;
    rv = p11_slot_get(index - 1, &slot);
    if (rv != CKR_OK)
        return CKR_SESSION_HANDLE_INVALID;
    struct p11_session *s = slot->sessions;
    while (s && s->handle != h)
        s = s->next;
    if (!s) {
        p11_slot_unlock(slot);
        return CKR_SESSION_HANDLE_INVALID;
    }
    /* The card changed under the session: report it once, then forget it.
     * A change is learnt from the card handle by the calls that reach the
     * card and by the slot queries (p11_slot_check), never by looking at
     * the reader on every call. */
    p11_rules_idle_check(slot);
    if (s->generation != slot->generation || !slot->token_ready) {
        p11_session_free(slot, s);
        p11_slot_unlock(slot);
        return CKR_DEVICE_REMOVED;
    }
    *slotp = slot;
    *sessionp = s;
    return CKR_OK;
}

/* ------------------------------------------------- function lists */

#define P11_240_LIST(X)                                                                                           \
    X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList) X(C_GetSlotInfo)            \
    X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN) X(C_SetPIN)       \
    X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState)         \
    X(C_SetOperationState) X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject) X(C_DestroyObject)          \
    X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit) X(C_FindObjects)      \
    X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate) X(C_EncryptFinal) X(C_DecryptInit)   \
    X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal) X(C_DigestInit) X(C_Digest) X(C_DigestUpdate)             \
    X(C_DigestKey) X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit) \
    X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal) X(C_VerifyRecoverInit)     \
    X(C_VerifyRecover) X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate)                 \
    X(C_DecryptVerifyUpdate) X(C_GenerateKey) X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey)   \
    X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus) X(C_CancelFunction) X(C_WaitForSlotEvent)

#define P11_ENTRY(name) name,
#define P11_ENTRY_3(name, args) name,

static CK_FUNCTION_LIST function_list_240 = {
    { 2, 40 },
    P11_240_LIST(P11_ENTRY)
};

static CK_FUNCTION_LIST_3_0 function_list_300 = {
    { 3, 0 },
    P11_240_LIST(P11_ENTRY)
    KYSO_P11_3_0_FUNCTIONS(P11_ENTRY_3)
};

/* Flags 0: not CKF_INTERFACE_FORK_SAFE, which would promise that a forked
 * child may go on using the parent's initialisation; here the child gets
 * CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize itself (the
 * parent's PC/SC connections are not the child's to use). */
static CK_INTERFACE interfaces[] = {
    { (CK_CHAR *)"PKCS 11", &function_list_300, 0 },
    { (CK_CHAR *)"PKCS 11", &function_list_240, 0 },
};
#define NINTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (!ppFunctionList)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &function_list_240;
    return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    if (!pInterfacesList) {
        *pulCount = NINTERFACES;
        return CKR_OK;
    }
    if (*pulCount < NINTERFACES) {
        *pulCount = NINTERFACES;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, interfaces, sizeof(interfaces));
    *pulCount = NINTERFACES;
    return CKR_OK;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion, CK_INTERFACE_PTR_PTR ppInterface,
                     CK_FLAGS flags)
{
    if (!ppInterface)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < NINTERFACES; i++) {
        const CK_VERSION *v = interfaces[i].pFunctionList;
        if (pInterfaceName && strcmp((const char *)pInterfaceName, (const char *)interfaces[i].pInterfaceName) != 0)
            continue;
        if (pVersion && (pVersion->major != v->major || pVersion->minor != v->minor))
            continue;
        if ((interfaces[i].flags & flags) != flags)
            continue;
        *ppInterface = &interfaces[i];
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}
