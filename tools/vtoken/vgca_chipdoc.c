/* kyso-vtoken: `vgca-chipdoc`, the government token with bit4id's
 * "ChipDoc" applet (TOKENS.md §1, variant B; signing confirmed on real
 * cards by a working implementation).
 *
 * Measured: the ATR, the 14-byte AID, SELECT forms, the PKCS#15 files
 * (5031, 5032, 7001, 7002, 7005) and certificates (0003 signer, 0002 and
 * 0001 the chain), READ BINARY of at most ~231 bytes, the PIN (reference
 * 01, also seen as 81; FF-padded to 8), the empty VERIFY, the RSA-2048
 * key 81 and MSE SET 41 B6 {80 8A, 84 81} + PSO CDS with a DigestInfo.
 *
 * Chosen here (not measured): the PUK has no reference of its own; it is
 * a second secret with its own 3 tries that only RESET RETRY COUNTER
 * 00 2C 00 01 10 <PUK‖new PIN> takes (so its tries cannot be read). The
 * PrKDF iD is the SHA-1 of the public key; the key's path (3F00DF81,
 * mandatory in the PrKDF) is not selectable. The AODF gives
 * pinReference 1 with the "local" flag: a client that follows ISO's
 * local-reference convention sends 81, which this card also takes —
 * the likely reason for the two measured forms. No MF, no EF.DIR.
 */
#include "config.h"

#include "tools/vtoken/vgca.h"

static const uint8_t chipdoc_aid[] = {
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0xD2, 0x50, 0x47, 0x65, 0x6E, 0x65, 0x72, 0x69, 0x63,
};
static const uint8_t chipdoc_key_path[] = { 0x3F, 0x00, 0xDF, 0x81 };

const struct vgca_variant vt_vgca_chipdoc_variant = {
    .kind = VGCA_CHIPDOC,
    .name = "vgca-chipdoc",
    .applet = "ChipDoc",
    .aid = chipdoc_aid,
    .aid_len = sizeof(chipdoc_aid),
    .pin_ref = 0x01,
    .pin_ref_alias = 0x81,
    .puk_ref = 0,
    .key_ref = 0x81,
    .key_bits = 2048,
    .manufacturer = "Bit4id",
    .key_id = NULL,
    .key_id_len = 0,
    .key_path = chipdoc_key_path,
    .key_path_len = sizeof(chipdoc_key_path),
    .pin_local = true,
    .has_mf = false,
    .cert_compressed = false,
    .has_pukdf = false,
    .has_dodf = false,
    .max_ca = 2,
};

static int chipdoc_init(const struct vt_init_options *opt, void **state, char *err, size_t errlen)
{
    return vt_vgca_init(&vt_vgca_chipdoc_variant, opt, state, err, errlen);
}

static int chipdoc_load(const uint8_t *body, size_t len, void **state, char *err, size_t errlen)
{
    return vt_vgca_load(&vt_vgca_chipdoc_variant, body, len, state, err, errlen);
}

/* The ATR seen on the cards with this applet. */
static const uint8_t chipdoc_atr[] = {
    0x3B, 0xDF, 0x18, 0xFF, 0x81, 0x91, 0xFE, 0x1F, 0xC3, 0x00, 0x31, 0xB8, 0x64,
    0x0C, 0x01, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80, 0x82, 0x90, 0x00, 0xB3,
};

const struct vt_personality vt_personality_vgca_chipdoc = {
    .name = "vgca-chipdoc",
    .atr = chipdoc_atr,
    .atr_len = sizeof(chipdoc_atr),
    .init = chipdoc_init,
    .load = chipdoc_load,
    .save = vt_vgca_save,
    .free_state = vt_vgca_free_state,
    .power_on = vt_vgca_power_on,
    .process = vt_vgca_process,
    .describe = vt_vgca_describe,
};
