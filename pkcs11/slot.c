/* kyso-pkcs11.so: slots (one per PC/SC reader), card presence, token
 * information, transactions, and C_WaitForSlotEvent. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <winscard.h>

#include "pkcs11/internal.h"
#include "policy/certstore.h"

/* pcsc-lite keeps a per-reader event counter in the upper 16 bits of the
 * state: a change means a card was removed or inserted, even if both
 * happened between two looks. */
#define EVENT_COUNT(state) ((state) >> 16)

/* Adds a slot for every reader not seen before. Slot ids are stable for
 * the life of the process and the list never shrinks: a reader that goes
 * away leaves its slot, empty. Module lock held. */
void p11_slots_scan(bool announce)
{
    struct pcsc_reader_list list = { 0 };

    if (!pcsc_context_is_valid(&p11.list_ctx) && pcsc_context_establish(&p11.list_ctx) != PCSC_OK)
        return;
    if (pcsc_list_readers(&p11.list_ctx, &list) != PCSC_OK) {
        /* pcscd restarted: a fresh context next time. */
        pcsc_context_release(&p11.list_ctx);
        return;
    }
    for (size_t i = 0; i < list.count; i++) {
        const char *name = list.names[i];
        size_t k;
        for (k = 0; k < p11.nslots; k++)
            if (strcmp(p11.slots[k].reader, name) == 0)
                break;
        if (k < p11.nslots || p11.nslots == P11_MAX_SLOTS || strlen(name) >= P11_READER_NAME_MAX)
            continue;
        struct p11_slot *slot = &p11.slots[p11.nslots];
        memset(slot, 0, sizeof(*slot));
        if (p11_mutex_create(&slot->lock) != CKR_OK)
            break;
        slot->id = p11.nslots;
        snprintf(slot->reader, sizeof(slot->reader), "%s", name);
        slot->reader_present = true;
        slot->login = (CK_USER_TYPE)-1;
        slot->event_pending = announce; /* a reader that appears later is an event */
        p11.nslots++;
        p11_debug("slot %zu: reader '%s'", p11.nslots - 1, name);
    }
    pcsc_reader_list_free(&list);
}

void p11_slot_logout_state(struct p11_slot *slot)
{
    /* Secrets derived under the login end with it. */
    p11_secret_objects_drop(slot, 0);
    slot->logged_in = false;
    slot->login = (CK_USER_TYPE)-1;
    p11_secret_clear(&slot->user_pin);
    p11_secret_clear(&slot->so_secret);
    slot->so_is_mgm_key = false;
}

/* The card is gone (or is another card now): its sessions end, its login
 * ends, and what was read of it is kept aside in case it comes back. */
void p11_slot_drop_card(struct p11_slot *slot)
{
    if (slot->token_ready) {
        token_close(&slot->cached);
        if (slot->token.enumerated) {
            slot->cached = slot->token;          /* moves keys and objects */
            slot->cached.card = NULL;
            slot->cached.edge_state = NULL;      /* the edge state belongs to the card session */
            free(slot->token.edge_state);
            slot->cached_valid = true;
        } else {
            token_close(&slot->token);
        }
        memset(&slot->token, 0, sizeof(slot->token));
    }
    slot->token_ready = false;
    if (slot->connected)
        pcsc_disconnect(&slot->card, false);
    slot->connected = false;
    p11_slot_logout_state(slot);
    slot->generation++;
}

/* pcscd went away (or restarted, or the reader did): the card and the
 * context are dropped, and the next look starts over. */
static void lost_service(struct p11_slot *slot)
{
    p11_slot_drop_card(slot);
    pcsc_context_release(&slot->ctx);
    slot->reader_state = 0;
}

/* Connects to a newly seen card and identifies it; reuses the cached
 * contents when it is the same card as before. */
static CK_RV open_card(struct p11_slot *slot)
{
    int rc = pcsc_connect(&slot->ctx, slot->reader, &slot->card);
    if (rc != PCSC_OK)
        return p11_rv_from_pcsc(rc);
    slot->connected = true;
    /* Another application may reset the card at any moment (the
     * government token logs out that way): reconnect and try again. */
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = pcsc_begin_transaction(&slot->card);
        if (rc == PCSC_OK) {
            rc = token_open(&slot->token, &slot->card);
            pcsc_end_transaction(&slot->card);
        }
        if (rc != PCSC_E_CARD_RESET || pcsc_reconnect(&slot->card, false) != PCSC_OK)
            break;
    }
    if (rc != PCSC_OK) {
        p11_debug("slot %lu: card not usable: %s", slot->id, pcsc_status_name(rc));
        pcsc_disconnect(&slot->card, false);
        slot->connected = false;
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    slot->token_ready = true;
    slot->generation++;
    if (slot->cached_valid && memcmp(slot->cached.identity, slot->token.identity, sizeof(slot->token.identity)) == 0 &&
        slot->cached.edge == slot->token.edge) {
        /* Same card: keys, certificates and objects need no APDU. */
        void *edge_state = slot->token.edge_state;
        uint64_t apdus = slot->token.apdus;
        struct pcsc_transport transport = slot->token.transport;
        slot->token = slot->cached;
        slot->token.card = &slot->card;
        slot->token.transport = transport;
        slot->token.edge_state = edge_state;
        slot->token.apdus = apdus;
        memset(&slot->cached, 0, sizeof(slot->cached));
        slot->cached_valid = false;
        p11_debug("slot %lu: same card as before, cache reused", slot->id);
    } else {
        p11_debug("slot %lu: card '%s' serial %s (%s)", slot->id, slot->token.info.label, slot->token.info.serial,
                  slot->token.edge->name);
    }
    return CKR_OK;
}

/* Looks at the reader (SCardGetStatusChange, which pcsc-lite answers
 * slowly even with a timeout of 0) and opens a card found there. A slot
 * whose card is open does not look: its card handle tells of a removal,
 * a reset or another card at the next call that reaches the card
 * (p11_slot_begin, p11_slot_finish), and p11_slot_check asks the handle
 * where PKCS#11 wants to know whether a token is present. */
CK_RV p11_slot_refresh(struct p11_slot *slot)
{
    if (!slot->reader_present || slot->token_ready)
        return CKR_OK;
    if (!pcsc_context_is_valid(&slot->ctx) && pcsc_context_establish(&slot->ctx) != PCSC_OK)
        return CKR_DEVICE_ERROR;
    struct pcsc_reader_state rs = { .reader = slot->reader, .state = slot->reader_state };
    int rc = pcsc_wait_change(&slot->ctx, &rs, 1, 0);
    if (rc == PCSC_OK) {
        slot->reader_state = rs.state;
        if (rs.unavailable) {
            p11_slot_drop_card(slot);
            slot->reader_present = false;
            slot->event_pending = true;
            return CKR_OK;
        }
    } else if (rc == PCSC_E_NO_SERVICE || rc == PCSC_E_NO_READER) {
        /* pcscd went away, or the reader did: start over next time. */
        lost_service(slot);
        return CKR_OK;
    } else if (rc != PCSC_E_TIMEOUT) {
        return p11_rv_from_pcsc(rc);
    }
    if ((slot->reader_state & SCARD_STATE_PRESENT) && !(slot->reader_state & SCARD_STATE_MUTE))
        return open_card(slot);
    return CKR_OK;
}

/* For C_GetSlotList, C_GetSlotInfo and C_GetTokenInfo: is there a token
 * now? An open card is asked through its handle (SCardStatus: no poll of
 * the reader); a card removed, even one put back since, ends its sessions
 * and the reader is looked at again. */
CK_RV p11_slot_check(struct p11_slot *slot)
{
    if (slot->token_ready) {
        struct pcsc_card_status st;
        int rc = pcsc_card_status(&slot->card, &st);
        if (rc == PCSC_E_NO_SERVICE || rc == PCSC_E_INVALID_ARG) {
            lost_service(slot); /* pcscd restarted: the handle is no longer known */
        } else if ((rc == PCSC_OK && !st.present) || rc == PCSC_E_NO_READER || rc == PCSC_E_NO_CARD) {
            p11_debug("slot %lu: card removed", slot->id);
            p11_slot_drop_card(slot);
        }
        /* A reset (PCSC_E_CARD_RESET) is for p11_slot_begin, which logs in
         * again if it may; another failure tells nothing of presence. */
    }
    return p11_slot_refresh(slot);
}

bool p11_slot_token_present(struct p11_slot *slot)
{
    return slot->token_ready;
}

/* Keys whose certificate the card does not give (or gives in a form kyso
 * cannot read) get it from the local certificate store, by public key,
 * if it chains to a trust anchor. */
static void certificates_from_store(struct p11_slot *slot)
{
    STACK_OF(X509) *chain = NULL;
    for (size_t i = 0; i < slot->token.nkeys; i++) {
        struct token_key *k = &slot->token.keys[i];
        if (k->cert || !k->pub)
            continue;
        if (!chain)
            chain = token_ca_certificates(&slot->token);
        struct certstore_match m;
        char why[512];
        if (certstore_find_for_key(k->pub, chain, &m, why, sizeof(why)) == 0) {
            k->cert = m.der;
            k->cert_len = m.len;
            p11_debug("slot %lu: key %02X: certificate from the %s store", slot->id, k->ref,
                      m.scope == CERTSTORE_SYSTEM ? "system" : "user's");
        } else if (k->needs_certificate) {
            p11_debug("slot %lu: key %02X has no certificate: the card's cannot be read and %s; import it with "
                      "`kyso cert import FILE`",
                      slot->id, k->ref, why);
        }
    }
    sk_X509_pop_free(chain, X509_free);
}

CK_RV p11_slot_enumerate(struct p11_slot *slot)
{
    if (slot->token.enumerated)
        return CKR_OK;
    CK_RV rv = p11_slot_begin(slot);
    if (rv != CKR_OK)
        return rv;
    int rc = token_enumerate(&slot->token);
    p11_slot_end(slot);
    if (rc == PCSC_OK)
        certificates_from_store(slot);
    return p11_rv_from_pcsc(rc);
}

/* Starts a card transaction. A card reset by another application is
 * reconnected, its application selected again, and the user logged in
 * again if the PIN may be kept; otherwise the login is gone. */
CK_RV p11_slot_begin(struct p11_slot *slot)
{
    if (!slot->token_ready) {
        CK_RV rv = p11_slot_refresh(slot);
        if (rv != CKR_OK)
            return rv;
        if (!slot->token_ready)
            return CKR_TOKEN_NOT_PRESENT;
    }
    int rc = pcsc_begin_transaction(&slot->card);
    if (rc == PCSC_E_CARD_RESET) {
        p11_debug("slot %lu: card was reset by another application", slot->id);
        rc = token_reconnect(&slot->token, false);
        if (rc == PCSC_OK)
            rc = pcsc_begin_transaction(&slot->card);
        if (rc == PCSC_OK)
            rc = token_reselect(&slot->token);
        if (rc == PCSC_OK && slot->logged_in && slot->login == CKU_USER) {
            int tries;
            if (slot->user_pin.data &&
                slot->token.edge->verify(&slot->token, TOKEN_PIN_USER, slot->user_pin.data, slot->user_pin.len,
                                         &tries) == PCSC_OK) {
                p11_debug("slot %lu: logged in again after the reset", slot->id);
            } else {
                p11_slot_logout_state(slot);
            }
        } else if (rc == PCSC_OK && slot->logged_in) {
            p11_slot_logout_state(slot);
        }
        if (rc != PCSC_OK)
            pcsc_end_transaction(&slot->card);
    }
    if (rc == PCSC_E_CARD_REMOVED || rc == PCSC_E_NO_CARD || rc == PCSC_E_NO_READER) {
        p11_debug("slot %lu: card removed", slot->id);
        p11_slot_drop_card(slot);
        return CKR_DEVICE_REMOVED;
    }
    if (rc == PCSC_E_NO_SERVICE || rc == PCSC_E_INVALID_ARG) {
        /* pcscd restarted: the handle is gone with the old service. */
        p11_debug("slot %lu: the PC/SC service was lost: %s", slot->id, pcsc_status_name(rc));
        lost_service(slot);
        return CKR_DEVICE_REMOVED;
    }
    return p11_rv_from_pcsc(rc);
}

void p11_slot_end(struct p11_slot *slot)
{
    if (slot->connected)
        pcsc_end_transaction(&slot->card);
}

/* pcscd notices a pulled card at its next look at the reader, while the
 * exchange in progress fails at once: wait up to a second to tell a
 * removal from a real communication failure. */
static bool card_gone(struct p11_slot *slot)
{
    struct pcsc_reader_state rs = { .reader = slot->reader, .state = slot->reader_state };
    for (int i = 0; i < 10; i++) {
        int rc = pcsc_wait_change(&slot->ctx, &rs, 1, 100);
        if (rc == PCSC_OK && (!rs.present || EVENT_COUNT(rs.state) != EVENT_COUNT(slot->reader_state))) {
            slot->reader_state = rs.state;
            return true;
        }
        if (rc != PCSC_OK && rc != PCSC_E_TIMEOUT)
            return rc == PCSC_E_NO_READER;
    }
    return false;
}

int p11_slot_finish(struct p11_slot *slot, int rc)
{
    p11_slot_end(slot);
    if (rc == PCSC_E_NO_SERVICE) {
        p11_debug("slot %lu: the PC/SC service was lost during an operation", slot->id);
        lost_service(slot);
        return PCSC_E_CARD_REMOVED;
    }
    if (rc == PCSC_E_CARD_REMOVED || rc == PCSC_E_NO_CARD ||
        ((rc == PCSC_E_COMM || rc == PCSC_E_NO_READER) && card_gone(slot))) {
        p11_debug("slot %lu: card removed during an operation", slot->id);
        p11_slot_drop_card(slot);
        return PCSC_E_CARD_REMOVED;
    }
    return rc;
}

CK_RV p11_slot_key_details(struct p11_slot *slot, struct token_key *k)
{
    if (!k->details_pending)
        return CKR_OK;
    CK_RV rv = p11_slot_begin(slot);
    if (rv != CKR_OK)
        return rv;
    int rc = p11_slot_finish(slot, token_key_details(&slot->token, k));
    p11_debug("slot %lu: details of key %02X: %s", slot->id, k->ref, pcsc_status_name(rc));
    return p11_rv_from_card(rc);
}

bool p11_slot_relogin(struct p11_slot *slot)
{
    int tries;
    if (!slot->logged_in || slot->login != CKU_USER || !slot->user_pin.data)
        return false;
    bool ok = slot->token.edge->verify(&slot->token, TOKEN_PIN_USER, slot->user_pin.data, slot->user_pin.len,
                                       &tries) == PCSC_OK;
    p11_debug("slot %lu: the card had been logged out by another application: %s", slot->id,
              ok ? "logged in again" : "could not log in again");
    return ok;
}

void p11_slot_release(struct p11_slot *slot)
{
    p11_mutex_lock(slot->lock);
    while (slot->sessions)
        p11_session_free(slot, slot->sessions);
    p11_slot_drop_card(slot);
    token_close(&slot->cached);
    pcsc_context_release(&slot->ctx);
    struct p11_record *notes = slot->notes;
    slot->notes = NULL;
    p11_mutex_unlock(slot->lock);
    p11_notes_make(notes);
    p11_mutex_destroy(slot->lock);
    slot->lock = NULL;
}

/* ------------------------------------------------------------- API */

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
    CK_RV rv = p11_check_initialized();
    if (rv != CKR_OK)
        return rv;
    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    p11_mutex_lock(p11.lock);
    p11_slots_scan(true);
    size_t n = p11.nslots;
    p11_mutex_unlock(p11.lock);

    CK_SLOT_ID ids[P11_MAX_SLOTS];
    CK_ULONG count = 0;
    for (size_t i = 0; i < n; i++) {
        struct p11_slot *slot = &p11.slots[i];
        if (tokenPresent) {
            p11_mutex_lock(slot->lock);
            p11_slot_check(slot);
            bool present = slot->token_ready;
            p11_mutex_unlock(slot->lock);
            if (!present)
                continue;
        }
        ids[count++] = i;
    }
    if (!pSlotList) {
        *pulCount = count;
        return CKR_OK;
    }
    if (*pulCount < count) {
        *pulCount = count;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pSlotList, ids, count * sizeof(CK_SLOT_ID));
    *pulCount = count;
    return CKR_OK;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    struct p11_slot *slot;
    CK_RV rv = p11_slot_get(slotID, &slot);
    if (rv != CKR_OK)
        return rv;
    if (!pInfo) {
        p11_slot_unlock(slot);
        return CKR_ARGUMENTS_BAD;
    }
    p11_slot_check(slot);
    memset(pInfo, 0, sizeof(*pInfo));
    p11_pad_string(pInfo->slotDescription, sizeof(pInfo->slotDescription), slot->reader);
    p11_pad_string(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "kyso");
    pInfo->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT | (slot->token_ready ? CKF_TOKEN_PRESENT : 0);
    p11_slot_unlock(slot);
    return CKR_OK;
}

/* PIN counters are asked of the card at most once a second: NSS asks for
 * the token information very often. */
static void pin_flags(struct p11_slot *slot, CK_FLAGS *flags)
{
    int tries = -1;
    bool verified = false;
    if (p11_slot_begin(slot) != CKR_OK)
        return;
    if (slot->token.edge->pin_status(&slot->token, TOKEN_PIN_USER, &tries, &verified) == PCSC_OK && tries >= 0) {
        if (tries == 0)
            *flags |= CKF_USER_PIN_LOCKED;
        else if (tries == 1)
            *flags |= CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW;
        else if (tries < 3)
            *flags |= CKF_USER_PIN_COUNT_LOW;
    }
    tries = -1;
    if (slot->token.edge->pin_status(&slot->token, TOKEN_PIN_SO, &tries, &verified) == PCSC_OK && tries >= 0) {
        if (tries == 0)
            *flags |= CKF_SO_PIN_LOCKED;
        else if (tries == 1)
            *flags |= CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_COUNT_LOW;
        else if (tries < 3)
            *flags |= CKF_SO_PIN_COUNT_LOW;
    }
    p11_slot_end(slot);
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    struct p11_slot *slot;
    CK_RV rv = p11_slot_get(slotID, &slot);
    if (rv != CKR_OK)
        return rv;
    if (!pInfo) {
        p11_slot_unlock(slot);
        return CKR_ARGUMENTS_BAD;
    }
    rv = p11_slot_check(slot);
    if (rv == CKR_OK && !slot->token_ready)
        rv = CKR_TOKEN_NOT_PRESENT;
    if (rv == CKR_OK)
        rv = p11_slot_enumerate(slot); /* the label comes from the certificate */
    if (rv != CKR_OK) {
        p11_slot_unlock(slot);
        return rv;
    }
    const struct token_info *ti = &slot->token.info;
    memset(pInfo, 0, sizeof(*pInfo));
    p11_pad_string(pInfo->label, sizeof(pInfo->label), ti->label);
    p11_pad_string(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), ti->manufacturer);
    p11_pad_string(pInfo->model, sizeof(pInfo->model), ti->model);
    p11_pad_string(pInfo->serialNumber, sizeof(pInfo->serialNumber), ti->serial);
    pInfo->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
    if (p11_rules_protected_path())
        pInfo->flags |= CKF_PROTECTED_AUTHENTICATION_PATH; /* the PIN through pinentry, [pinentry] protected_path */
    pin_flags(slot, &pInfo->flags);
    pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulSessionCount = slot->session_count;
    pInfo->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulRwSessionCount = slot->rw_session_count;
    pInfo->ulMaxPinLen = 8;
    pInfo->ulMinPinLen = 4;
    pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->hardwareVersion.major = ti->hw_major;
    pInfo->hardwareVersion.minor = ti->hw_minor;
    pInfo->firmwareVersion.major = ti->fw_major;
    pInfo->firmwareVersion.minor = ti->fw_minor;
    p11_slot_unlock(slot);
    return CKR_OK;
}

/* ------------------------------------------------ C_WaitForSlotEvent */

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set while a fork is being prepared: the waiter leaves pcsc-lite and
 * wait_lock until the fork is done (p11_slot_wait_pause). */
static atomic_bool wait_paused;

/* Reports (and clears) a pending event; module lock held (event_pending
 * is also set by a slot's thread under its slot lock: atomic). */
static bool take_pending_event(CK_SLOT_ID *slot_id)
{
    for (size_t i = 0; i < p11.nslots; i++) {
        if (atomic_exchange(&p11.slots[i].event_pending, false)) {
            *slot_id = i;
            return true;
        }
    }
    return false;
}

void p11_slot_wait_pause(void)
{
    atomic_store(&wait_paused, true);
    /* A waiter blocked in pcsc-lite is woken until it lets go (a cancel
     * sent just before it blocks would be lost: sent again). */
    while (pthread_mutex_trylock(&wait_lock) != 0) {
        pcsc_cancel(&p11.wait_ctx);
        struct timespec ts = { 0, 1000000L };
        nanosleep(&ts, NULL);
    }
}

void p11_slot_wait_resume(void)
{
    atomic_store(&wait_paused, false);
    pthread_mutex_unlock(&wait_lock);
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    CK_RV rv = p11_check_initialized();
    if (rv != CKR_OK)
        return rv;
    if (!pSlot || pReserved)
        return CKR_ARGUMENTS_BAD;

    /* One waiter at a time uses the wait context (PC/SC contexts are not
     * shared between threads). A non-blocking call never waits for another
     * thread's blocking one: it reports what is already known. */
    if (flags & CKF_DONT_BLOCK) {
        if (pthread_mutex_trylock(&wait_lock) != 0) {
            p11_mutex_lock(p11.lock);
            rv = p11.finalizing ? CKR_CRYPTOKI_NOT_INITIALIZED : take_pending_event(pSlot) ? CKR_OK : CKR_NO_EVENT;
            p11_mutex_unlock(p11.lock);
            return rv;
        }
    } else {
        pthread_mutex_lock(&wait_lock);
    }
    p11_mutex_lock(p11.lock);
    if (p11.finalizing) {
        p11_mutex_unlock(p11.lock);
        pthread_mutex_unlock(&wait_lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    p11.waiting = true;
    struct pcsc_reader_state rs[P11_MAX_SLOTS + 1];
    uint32_t *seen = p11.wait_seen; /* guarded by wait_lock */
    rv = CKR_NO_EVENT;
    for (;;) {
        /* Events already known, then changes since the last look. */
        p11_slots_scan(true);
        if (take_pending_event(pSlot)) {
            rv = CKR_OK;
            break;
        }
        size_t n = 0;
        for (size_t i = 0; i < p11.nslots; i++) {
            rs[n] = (struct pcsc_reader_state){ .reader = p11.slots[i].reader, .state = seen[i] };
            n++;
        }
        rs[n] = (struct pcsc_reader_state){ .reader = PCSC_PNP_NOTIFICATION, .state = seen[P11_MAX_SLOTS] };
        size_t nslots = p11.nslots;
        bool block = !(flags & CKF_DONT_BLOCK);
        p11_mutex_unlock(p11.lock);

        /* Catch up with the present first (timeout 0), then block. */
        if (!pcsc_context_is_valid(&p11.wait_ctx))
            pcsc_context_establish(&p11.wait_ctx);
        int rc = pcsc_wait_change(&p11.wait_ctx, rs, n + 1, 0);
        if (rc == PCSC_E_TIMEOUT && block && !atomic_load(&wait_paused))
            rc = pcsc_wait_change(&p11.wait_ctx, rs, n + 1, PCSC_WAIT_FOREVER);

        if (atomic_load(&wait_paused) && (rc == PCSC_E_CANCELLED || (block && rc == PCSC_E_TIMEOUT))) {
            /* Another thread forks: out of the way until it is done, then
             * wait again (the caller sees nothing of it). */
            pthread_mutex_unlock(&wait_lock);
            while (atomic_load(&wait_paused)) {
                struct timespec ts = { 0, 1000000L };
                nanosleep(&ts, NULL);
            }
            pthread_mutex_lock(&wait_lock);
            p11_mutex_lock(p11.lock);
            if (p11.finalizing) {
                rv = CKR_CRYPTOKI_NOT_INITIALIZED;
                break;
            }
            continue;
        }
        p11_mutex_lock(p11.lock);
        if (p11.finalizing || rc == PCSC_E_CANCELLED) {
            rv = CKR_CRYPTOKI_NOT_INITIALIZED;
            break;
        }
        if (rc == PCSC_E_TIMEOUT) {
            rv = CKR_NO_EVENT;
            break;
        }
        if (rc != PCSC_OK) {
            /* pcscd restarted: new context, look again. */
            pcsc_context_release(&p11.wait_ctx);
            pcsc_context_establish(&p11.wait_ctx);
            memset(p11.wait_seen, 0, sizeof(p11.wait_seen));
            if (!block) {
                rv = CKR_NO_EVENT;
                break;
            }
            continue;
        }
        for (size_t i = 0; i < nslots; i++) {
            uint32_t before = seen[i];
            seen[i] = rs[i].state;
            /* The first look at a reader only learns its state. */
            if (before != 0 && (EVENT_COUNT(before) != EVENT_COUNT(rs[i].state) ||
                                ((before ^ rs[i].state) & (SCARD_STATE_PRESENT | SCARD_STATE_UNAVAILABLE))))
                p11.slots[i].event_pending = true;
        }
        seen[P11_MAX_SLOTS] = rs[nslots].state;
        /* A new reader shows up through the PnP entry: scanning adds it. */
        p11_slots_scan(true);
        if (take_pending_event(pSlot)) {
            rv = CKR_OK;
            break;
        }
        if (!block) {
            rv = CKR_NO_EVENT;
            break;
        }
    }
    p11.waiting = false;
    p11_mutex_unlock(p11.lock);
    pthread_mutex_unlock(&wait_lock);
    return rv;
}
