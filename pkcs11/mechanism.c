/* kyso-pkcs11.so: the mechanisms, and C_GetMechanismList/Info. What a
 * slot offers follows the keys its token holds, with their true sizes. */
#include "config.h"

#include <string.h>

#include "pkcs11/internal.h"

#define RSA_SIGN (CKF_SIGN | CKF_VERIFY)
#define EC_SIGN (CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

#define PSS TOKEN_CAP_RSA_PSS
#define RAW TOKEN_CAP_RSA_RAW
#define DEC TOKEN_CAP_DECRYPT
#define EC TOKEN_CAP_EC
#define GEN TOKEN_CAP_GENERATE

static const struct p11_mechanism mechanisms[] = {
    { CKM_RSA_PKCS, RSA_SIGN | CKF_DECRYPT, TOKEN_KEY_RSA, false, NULL, 0 },
    { CKM_RSA_X_509, RSA_SIGN | CKF_DECRYPT, TOKEN_KEY_RSA, false, NULL, RAW },
    { CKM_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, NULL, PSS },
    { CKM_RSA_PKCS_OAEP, CKF_DECRYPT, TOKEN_KEY_RSA, false, NULL, DEC },
    { CKM_SHA1_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA1", 0 },
    { CKM_SHA224_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA224", 0 },
    { CKM_SHA256_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA256", 0 },
    { CKM_SHA384_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA384", 0 },
    { CKM_SHA512_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA512", 0 },
    { CKM_SHA1_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA1", PSS },
    { CKM_SHA224_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA224", PSS },
    { CKM_SHA256_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA256", PSS },
    { CKM_SHA384_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA384", PSS },
    { CKM_SHA512_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA512", PSS },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, TOKEN_KEY_RSA, false, NULL, GEN },
    { CKM_ECDSA, EC_SIGN, TOKEN_KEY_EC, false, NULL, EC },
    { CKM_ECDSA_SHA1, EC_SIGN, TOKEN_KEY_EC, false, "SHA1", EC },
    { CKM_ECDSA_SHA224, EC_SIGN, TOKEN_KEY_EC, false, "SHA224", EC },
    { CKM_ECDSA_SHA256, EC_SIGN, TOKEN_KEY_EC, false, "SHA256", EC },
    { CKM_ECDSA_SHA384, EC_SIGN, TOKEN_KEY_EC, false, "SHA384", EC },
    { CKM_ECDSA_SHA512, EC_SIGN, TOKEN_KEY_EC, false, "SHA512", EC },
    { CKM_ECDH1_DERIVE, CKF_DERIVE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS, TOKEN_KEY_EC, false, NULL, EC },
    { CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS, TOKEN_KEY_EC,
      false, NULL, EC | GEN },
    { CKM_SHA_1, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA1", 0 },
    { CKM_SHA224, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA224", 0 },
    { CKM_SHA256, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA256", 0 },
    { CKM_SHA384, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA384", 0 },
    { CKM_SHA512, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA512", 0 },
};
#define NMECH (sizeof(mechanisms) / sizeof(mechanisms[0]))

const struct p11_mechanism *p11_mechanism_find(CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < NMECH; i++)
        if (mechanisms[i].type == type)
            return &mechanisms[i];
    return NULL;
}

size_t p11_mechanism_count(void)
{
    return NMECH;
}

const struct p11_mechanism *p11_mechanism_at(size_t i)
{
    return i < NMECH ? &mechanisms[i] : NULL;
}

CK_FLAGS p11_mechanism_flags(const struct p11_slot *slot, const struct p11_mechanism *m)
{
    unsigned caps = slot->token.edge ? slot->token.edge->caps : 0;
    if ((m->needs_caps & caps) != m->needs_caps)
        return 0;
    CK_FLAGS flags = m->flags;
    if (!(caps & TOKEN_CAP_DECRYPT))
        flags &= ~(CK_FLAGS)CKF_DECRYPT;
    return flags;
}

/* Key sizes: what the card can make, for a card that generates keys;
 * otherwise those of the keys it holds (or its kind's range). */
bool p11_slot_has_key_type(struct p11_slot *slot, enum token_key_type type, unsigned *min_bits, unsigned *max_bits)
{
    const struct token_edge *e = slot->token.edge;
    unsigned lo = 0, hi = 0;
    bool generates = e && (e->caps & TOKEN_CAP_GENERATE);
    for (size_t i = 0; !generates && slot->token.enumerated && i < slot->token.nkeys; i++) {
        const struct token_key *k = &slot->token.keys[i];
        if (k->type != type)
            continue;
        lo = lo && lo < k->bits ? lo : k->bits;
        hi = hi > k->bits ? hi : k->bits;
    }
    if (!hi) {
        lo = type == TOKEN_KEY_RSA ? (e ? e->rsa_min_bits : 2048) : 256;
        hi = type == TOKEN_KEY_RSA ? (e ? e->rsa_max_bits : 4096) : 384;
        if (type == TOKEN_KEY_RSA && generates && slot->token.info.rsa_gen_max_bits)
            hi = slot->token.info.rsa_gen_max_bits;
    }
    *min_bits = lo;
    *max_bits = hi;
    return true;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount)
{
    struct p11_slot *slot;
    CK_RV rv = p11_slot_get(slotID, &slot);
    if (rv != CKR_OK)
        return rv;
    if (!pulCount) {
        p11_slot_unlock(slot);
        return CKR_ARGUMENTS_BAD;
    }
    p11_slot_refresh(slot);
    CK_MECHANISM_TYPE list[NMECH];
    CK_ULONG n = 0;
    for (size_t i = 0; slot->token_ready && i < NMECH; i++)
        if (p11_mechanism_flags(slot, &mechanisms[i]))
            list[n++] = mechanisms[i].type;
    bool present = slot->token_ready;
    p11_slot_unlock(slot);
    if (!present)
        return CKR_TOKEN_NOT_PRESENT;
    if (!pMechanismList) {
        *pulCount = n;
        return CKR_OK;
    }
    if (*pulCount < n) {
        *pulCount = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pMechanismList, list, n * sizeof(list[0]));
    *pulCount = n;
    return CKR_OK;
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
    struct p11_slot *slot;
    CK_RV rv = p11_slot_get(slotID, &slot);
    if (rv != CKR_OK)
        return rv;
    if (!pInfo) {
        p11_slot_unlock(slot);
        return CKR_ARGUMENTS_BAD;
    }
    p11_slot_refresh(slot);
    if (!slot->token_ready) {
        p11_slot_unlock(slot);
        return CKR_TOKEN_NOT_PRESENT;
    }
    const struct p11_mechanism *m = p11_mechanism_find(type);
    CK_FLAGS flags = m ? p11_mechanism_flags(slot, m) : 0;
    if (!flags) {
        p11_slot_unlock(slot);
        return CKR_MECHANISM_INVALID;
    }
    unsigned lo = 0, hi = 0;
    if (!m->any_key) {
        p11_slot_enumerate(slot); /* the sizes of the keys the card holds (read once, cached) */
        p11_slot_has_key_type(slot, m->key_type, &lo, &hi);
    }
    p11_slot_unlock(slot);
    pInfo->ulMinKeySize = lo;
    pInfo->ulMaxKeySize = hi;
    pInfo->flags = flags | (m->any_key ? 0 : CKF_HW);
    return CKR_OK;
}
