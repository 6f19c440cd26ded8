/* The audit trail: the forward-secure key schedule, the MAC, line hashes,
 * and the writer's state file.
 *
 * The state file has two 256-byte slots written in turn, each with a
 * generation number and its own SHA-256: a crash in the middle of a write
 * leaves the other slot, so the state is never lost to a torn write. */
#include "config.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <unistd.h>

#include "audit/internal.h"

#define SLOT_SIZE 256
static const uint8_t slot_magic[4] = { 'K', 'Y', 'A', 'S' };

void audit_evolve(uint8_t key[AUDIT_KEY_LEN])
{
    static const char label[] = "kyso-audit-evolve";
    uint8_t next[AUDIT_HASH_LEN];
    unsigned int n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, label, sizeof(label) - 1) == 1 &&
        EVP_DigestUpdate(md, key, AUDIT_KEY_LEN) == 1 && EVP_DigestFinal_ex(md, next, &n) == 1) {
        memcpy(key, next, AUDIT_KEY_LEN);
    } else {
        /* Never keep an old key: without the hash, destroy it. */
        OPENSSL_cleanse(key, AUDIT_KEY_LEN);
    }
    OPENSSL_cleanse(next, sizeof(next));
    EVP_MD_CTX_free(md);
}

void audit_mac(const uint8_t key[AUDIT_KEY_LEN], const uint8_t *data, size_t len, uint8_t out[AUDIT_HASH_LEN])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, AUDIT_KEY_LEN, data, len, out, &n))
        memset(out, 0, AUDIT_HASH_LEN);
}

void audit_line_hash(const char *line, size_t len, uint8_t out[AUDIT_HASH_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(line, len, out, &n, EVP_sha256(), NULL) != 1)
        memset(out, 0, AUDIT_HASH_LEN);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* slot: magic(4) version(1) pad(3) generation(8) next_seq(8) prev(32)
 * key(32) log_size(8) log_id(33) ... sha256 of bytes 0..223 at 224. */
static void encode_slot(const struct audit_state *st, uint64_t generation, uint8_t slot[SLOT_SIZE])
{
    memset(slot, 0, SLOT_SIZE);
    memcpy(slot, slot_magic, 4);
    slot[4] = 1;
    put64(slot + 8, generation);
    put64(slot + 16, st->next_seq);
    memcpy(slot + 24, st->prev, AUDIT_HASH_LEN);
    memcpy(slot + 56, st->key, AUDIT_KEY_LEN);
    put64(slot + 88, st->log_size);
    memcpy(slot + 96, st->log_id, sizeof(st->log_id));
    unsigned int n = 0;
    EVP_Digest(slot, 224, slot + 224, &n, EVP_sha256(), NULL);
}

static bool decode_slot(const uint8_t slot[SLOT_SIZE], struct audit_state *st, uint64_t *generation)
{
    uint8_t md[32];
    unsigned int n = 0;
    if (memcmp(slot, slot_magic, 4) != 0 || slot[4] != 1 || EVP_Digest(slot, 224, md, &n, EVP_sha256(), NULL) != 1 ||
        CRYPTO_memcmp(md, slot + 224, 32) != 0 || slot[96 + sizeof(st->log_id) - 1] != '\0')
        return false;
    *generation = get64(slot + 8);
    st->next_seq = get64(slot + 16);
    memcpy(st->prev, slot + 24, AUDIT_HASH_LEN);
    memcpy(st->key, slot + 56, AUDIT_KEY_LEN);
    st->log_size = get64(slot + 88);
    memcpy(st->log_id, slot + 96, sizeof(st->log_id));
    return st->next_seq >= 1;
}

/* The generation of the slot last written, to pick the other one next. */
static uint64_t current_generation(int fd)
{
    uint8_t slot[SLOT_SIZE];
    struct audit_state tmp;
    uint64_t best = 0, g;
    for (int i = 0; i < 2; i++)
        if (pread(fd, slot, SLOT_SIZE, (off_t)i * SLOT_SIZE) == SLOT_SIZE && decode_slot(slot, &tmp, &g) && g > best)
            best = g;
    OPENSSL_cleanse(&tmp, sizeof(tmp));
    OPENSSL_cleanse(slot, sizeof(slot));
    return best;
}

int audit_state_read(int fd, struct audit_state *st)
{
    uint8_t slot[SLOT_SIZE];
    struct audit_state cand;
    uint64_t best = 0, g;
    bool found = false;
    for (int i = 0; i < 2; i++) {
        if (pread(fd, slot, SLOT_SIZE, (off_t)i * SLOT_SIZE) != SLOT_SIZE || !decode_slot(slot, &cand, &g))
            continue;
        if (!found || g > best) {
            *st = cand;
            best = g;
            found = true;
        }
    }
    OPENSSL_cleanse(&cand, sizeof(cand));
    OPENSSL_cleanse(slot, sizeof(slot));
    return found ? 0 : -1;
}

int audit_state_write(int fd, const struct audit_state *st)
{
    uint8_t slot[SLOT_SIZE];
    uint64_t g = current_generation(fd) + 1;
    encode_slot(st, g, slot);
    ssize_t n = pwrite(fd, slot, SLOT_SIZE, (off_t)(g % 2) * SLOT_SIZE);
    OPENSSL_cleanse(slot, sizeof(slot));
    if (n != SLOT_SIZE || fdatasync(fd) != 0)
        return -1;
    /* The new slot is durable: the other one holds the previous key, with
     * which the last records could be sealed again. Destroy it: from now
     * on the file holds only the new key. The erasure reaches the disk
     * with the next state written (whose flush covers the whole file) or
     * the kernel's writeback, whichever comes first, without a flush of
     * its own: a crash before that leaves the older slot readable, still
     * valid but of a lower generation, so the state read is the new one
     * either way, and audit_state_wipe_stale erases it when the log is
     * next opened. */
    memset(slot, 0, sizeof(slot));
    if (pwrite(fd, slot, SLOT_SIZE, (off_t)((g + 1) % 2) * SLOT_SIZE) != SLOT_SIZE)
        return -1;
    return 0;
}

int audit_state_wipe_stale(int fd)
{
    uint8_t slot[SLOT_SIZE], zero[SLOT_SIZE];
    struct audit_state tmp;
    uint64_t g[2] = { 0, 0 };
    bool valid[2];
    for (int i = 0; i < 2; i++)
        valid[i] = pread(fd, slot, SLOT_SIZE, (off_t)i * SLOT_SIZE) == SLOT_SIZE && decode_slot(slot, &tmp, &g[i]);
    OPENSSL_cleanse(&tmp, sizeof(tmp));
    OPENSSL_cleanse(slot, sizeof(slot));
    if (!valid[0] || !valid[1])
        return 0;
    /* Both readable: the older one is what a crash kept of the erasure
     * above. The newer one is durable (it was flushed before the older
     * was erased), so erasing the older one risks nothing. */
    memset(zero, 0, sizeof(zero));
    int older = g[0] < g[1] ? 0 : 1;
    if (pwrite(fd, zero, SLOT_SIZE, (off_t)older * SLOT_SIZE) != SLOT_SIZE || fdatasync(fd) != 0)
        return -1;
    return 1;
}
