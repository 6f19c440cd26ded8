/* kyso-vtoken: `vgca-jcop`, the government token with the "JCOP4Bit4Id"
 * applet (TOKENS.md §1, variant A).
 *
 * Measured: the ATR, EF.DIR with the 10-byte AID and the label
 * "JCOP4Bit4Id" (the PKCS#15, IAS-ECC, PIV and CardOS AIDs answer 6A82),
 * the PKCS#15 files (5032 TokenInfo with chip "NXP SecID-P71" and label
 * "VGCA Token", 5031 ODF → 7001 AODF, 7002 PrKDF, 7004 PuKDF, 7005 CDF,
 * 7006 DODF), PIN reference 03 and PUK reference 06 (FF-padded), the
 * RSA-3072 key with reference 10, path 3F00DF10 and iD BE72ECF5, and a
 * CDF pointing to EF 0001 that holds 7A <certificate compressed by an
 * unknown method>.
 *
 * Chosen here (not measured, TOKENS.md says signing is "not yet
 * confirmed"): signing takes the same MSE SET 41 B6 {80 8A, 84 10} + PSO
 * CDS with a DigestInfo as variant B, and answers 384 bytes (61xx + GET
 * RESPONSE for a short Le, one piece for an extended Le). RESET RETRY
 * COUNTER is 00 2C 00 03 10 <PUK‖new PIN>; VERIFY and CHANGE REFERENCE
 * DATA also take the PUK reference 06 (so its tries can be read with an
 * empty VERIFY 00 20 00 06). The 7A content is a stand-in nobody can
 * decompress (vt_vgca_blob): the certificate must come from a local store,
 * matched with the public key the PuKDF carries as a direct value. No CA
 * chain on the card. The MF (3F00) and EF.DIR are selectable; the key's
 * DF10 is not.
 */
#include "config.h"

#include "tools/vtoken/vgca.h"

static const uint8_t jcop_aid[] = { 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x01, 0x4E, 0x58, 0x50, 0x30 };
static const uint8_t jcop_key_id[] = { 0xBE, 0x72, 0xEC, 0xF5 };
static const uint8_t jcop_key_path[] = { 0x3F, 0x00, 0xDF, 0x10 };

const struct vgca_variant vt_vgca_jcop_variant = {
    .kind = VGCA_JCOP,
    .name = "vgca-jcop",
    .applet = "JCOP4Bit4Id",
    .aid = jcop_aid,
    .aid_len = sizeof(jcop_aid),
    .pin_ref = 0x03,
    .pin_ref_alias = 0,
    .puk_ref = 0x06,
    .key_ref = 0x10,
    .key_bits = 3072,
    .manufacturer = "NXP SecID-P71",
    .key_id = jcop_key_id,
    .key_id_len = sizeof(jcop_key_id),
    .key_path = jcop_key_path,
    .key_path_len = sizeof(jcop_key_path),
    .pin_local = false,
    .has_mf = true,
    .cert_compressed = true,
    .has_pukdf = true,
    .has_dodf = true,
    .max_ca = 0,
};

static int jcop_init(const struct vt_init_options *opt, void **state, char *err, size_t errlen)
{
    return vt_vgca_init(&vt_vgca_jcop_variant, opt, state, err, errlen);
}

static int jcop_load(const uint8_t *body, size_t len, void **state, char *err, size_t errlen)
{
    return vt_vgca_load(&vt_vgca_jcop_variant, body, len, state, err, errlen);
}

/* The ATR seen on the cards with this applet ("B4D" in its historical bytes). */
static const uint8_t jcop_atr[] = {
    0x3B, 0xFF, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x00, 0x6B, 0x15, 0x0C,
    0x03, 0x02, 0x01, 0x01, 0x01, 0x42, 0x34, 0x44, 0x10, 0x31, 0x80, 0x0D,
};

const struct vt_personality vt_personality_vgca_jcop = {
    .name = "vgca-jcop",
    .atr = jcop_atr,
    .atr_len = sizeof(jcop_atr),
    .init = jcop_init,
    .load = jcop_load,
    .save = vt_vgca_save,
    .free_state = vt_vgca_free_state,
    .power_on = vt_vgca_power_on,
    .process = vt_vgca_process,
    .describe = vt_vgca_describe,
};
