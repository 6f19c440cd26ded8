/* kyso-pkcs11.so: the mechanisms, and C_GetMechanismList/Info. What a
 * slot offers follows the keys its token holds, with their true sizes. */
#include "config.h"

#include <string.h>

#include "pkcs11/internal.h"

#define RSA_SIGN (CKF_SIGN | CKF_VERIFY)
#define EC_SIGN (CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

static const struct p11_mechanism mechanisms[] = {
    { CKM_RSA_PKCS, RSA_SIGN | CKF_DECRYPT, TOKEN_KEY_RSA, false, NULL },
    { CKM_RSA_X_509, RSA_SIGN | CKF_DECRYPT, TOKEN_KEY_RSA, false, NULL },
    { CKM_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, NULL },
    { CKM_RSA_PKCS_OAEP, CKF_DECRYPT, TOKEN_KEY_RSA, false, NULL },
    { CKM_SHA1_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA1" },
    { CKM_SHA224_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA224" },
    { CKM_SHA256_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA256" },
    { CKM_SHA384_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA384" },
    { CKM_SHA512_RSA_PKCS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA512" },
    { CKM_SHA1_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA1" },
    { CKM_SHA224_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA224" },
    { CKM_SHA256_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA256" },
    { CKM_SHA384_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA384" },
    { CKM_SHA512_RSA_PKCS_PSS, RSA_SIGN, TOKEN_KEY_RSA, false, "SHA512" },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, TOKEN_KEY_RSA, false, NULL },
    { CKM_ECDSA, EC_SIGN, TOKEN_KEY_EC, false, NULL },
    { CKM_ECDSA_SHA1, EC_SIGN, TOKEN_KEY_EC, false, "SHA1" },
    { CKM_ECDSA_SHA224, EC_SIGN, TOKEN_KEY_EC, false, "SHA224" },
    { CKM_ECDSA_SHA256, EC_SIGN, TOKEN_KEY_EC, false, "SHA256" },
    { CKM_ECDSA_SHA384, EC_SIGN, TOKEN_KEY_EC, false, "SHA384" },
    { CKM_ECDSA_SHA512, EC_SIGN, TOKEN_KEY_EC, false, "SHA512" },
    { CKM_ECDH1_DERIVE, CKF_DERIVE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS, TOKEN_KEY_EC, false, NULL },
    { CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS, TOKEN_KEY_EC,
      false, NULL },
    { CKM_SHA_1, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA1" },
    { CKM_SHA224, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA224" },
    { CKM_SHA256, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA256" },
    { CKM_SHA384, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA384" },
    { CKM_SHA512, CKF_DIGEST, TOKEN_KEY_RSA, true, "SHA512" },
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

/* Key sizes the token's edge can hold (PIV: RSA 1024–4096, P-256/P-384);
 * with keys on the card, their actual range. */
bool p11_slot_has_key_type(struct p11_slot *slot, enum token_key_type type, unsigned *min_bits, unsigned *max_bits)
{
    *min_bits = type == TOKEN_KEY_RSA ? 1024 : 256;
    *max_bits = type == TOKEN_KEY_RSA ? 4096 : 384;
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
    bool present = slot->token_ready;
    p11_slot_unlock(slot);
    if (!present)
        return CKR_TOKEN_NOT_PRESENT;
    if (!pMechanismList) {
        *pulCount = NMECH;
        return CKR_OK;
    }
    if (*pulCount < NMECH) {
        *pulCount = NMECH;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < NMECH; i++)
        pMechanismList[i] = mechanisms[i].type;
    *pulCount = NMECH;
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
    if (!m) {
        p11_slot_unlock(slot);
        return CKR_MECHANISM_INVALID;
    }
    unsigned lo = 0, hi = 0;
    if (!m->any_key)
        p11_slot_has_key_type(slot, m->key_type, &lo, &hi);
    p11_slot_unlock(slot);
    pInfo->ulMinKeySize = lo;
    pInfo->ulMaxKeySize = hi;
    pInfo->flags = m->flags | (m->any_key ? 0 : CKF_HW);
    return CKR_OK;
}
