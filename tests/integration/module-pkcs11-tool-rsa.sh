#!/bin/bash
# kyso-pkcs11.so driven by OpenSC's pkcs11-tool (0.23) on the RSA PIV key
# set (9A, 9C with PIN always, 9D: RSA-2048, IDs 01 02 03): pkcs11-tool's
# --test, decryption (RSA-PKCS, RSA-PKCS-OAEP, RSA-X-509) of what openssl
# encrypted to each certificate's key, and an RSA key generated in 9E that
# signs and decrypts. module-pkcs11-tool.sh covers the rest on the mixed set.
. "$(dirname "$0")/lib.sh"
in_token --keys rsa piv
# The mechanics of every RSA mechanism with every key, also those the
# key's certificate does not cover (9C decrypting, 9D signing): rule M12
# is weakened here; policy-rules.sh tests it.
cat >>"$KYSO_SYSTEM_CONF/kyso.conf" <<'CONF'
[M12]
key_usage = no
weaken = yes
CONF

pki=$KYSO_TEST_PKI
T=$TEST_TMP
PIN=$KYSO_TEST_PIN
# The ASan runtime client_env preloads is for pkcs11-tool only (see
# module-pkcs11-tool.sh).
p11_preload=${LD_PRELOAD:-}
unset LD_PRELOAD
p11() { LD_PRELOAD=$p11_preload pkcs11-tool --module "$KYSO_MODULE" "$@"; }
printf 'kyso: văn bản cần ký số, qua pkcs11-tool (RSA).\n' >"$T/data"

cert_of() {
    case $1 in
    01) echo "$pki/person-an-auth-rsa2048.pem" ;;
    02) echo "$pki/person-an-sign-rsa2048.pem" ;;
    03) echo "$pki/person-an-keymgmt-rsa2048.pem" ;;
    esac
}
for id in 01 02 03; do openssl x509 -in "$(cert_of $id)" -pubkey -noout >"$T/$id.pub"; done
fails_with() { # PATTERN COMMAND...: COMMAND fails and prints PATTERN (ERE)
    local pattern=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "$out"
        echo "(succeeded)"
        return 1
    fi
    echo "$out"
    grep -Eq -- "$pattern" <<<"$out"
}

p11 -O --login --pin "$PIN" >"$T/O" 2>&1
check "-O --login: three RSA 2048 public keys" \
    test "$(grep -c '^Public Key Object; RSA 2048 bits' "$T/O")" -eq 3
check "-O --login: three RSA private keys that decrypt and sign" \
    test "$(grep -A3 '^Private Key Object; RSA' "$T/O" | grep -c 'Usage: *decrypt, sign$')" -eq 3
check "--test --login (RSA key set): No errors" output_has "^No errors$" p11 --test --login --pin "$PIN"

# --- decryption ------------------------------------------------------------------
decrypt() { p11 --login --pin "$PIN" --decrypt "$@"; }
head -c 32 /dev/urandom >"$T/secret"
oaep() { # PUB IN OUT HASH: OAEP encryption, MGF1 with the same hash
    openssl pkeyutl -encrypt -pubin -inkey "$1" -in "$2" -out "$3" -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt "rsa_oaep_md:$4" -pkeyopt "rsa_mgf1_md:$4"
}
for id in 01 02 03; do
    openssl pkeyutl -encrypt -pubin -inkey "$T/$id.pub" -in "$T/secret" -out "$T/ct.pkcs.$id"
    check "RSA-PKCS decrypt with $id" decrypt --id "$id" -m RSA-PKCS -i "$T/ct.pkcs.$id" -o "$T/pt.pkcs.$id"
    check "RSA-PKCS $id: the plain text is the secret" cmp "$T/secret" "$T/pt.pkcs.$id"
    oaep "$T/$id.pub" "$T/secret" "$T/ct.oaep.$id" sha256
    check "RSA-PKCS-OAEP (SHA-256) decrypt with $id" decrypt --id "$id" -m RSA-PKCS-OAEP --hash-algorithm SHA256 \
        --mgf MGF1-SHA256 -i "$T/ct.oaep.$id" -o "$T/pt.oaep.$id"
    check "RSA-PKCS-OAEP $id: the plain text is the secret" cmp "$T/secret" "$T/pt.oaep.$id"
done
for h in SHA-1:sha1:MGF1-SHA1 SHA384:sha384:MGF1-SHA384 SHA512:sha512:MGF1-SHA512; do
    IFS=: read -r p11h osslh mgf <<<"$h"
    oaep "$T/03.pub" "$T/secret" "$T/ct.oaep.$osslh" "$osslh"
    check "RSA-PKCS-OAEP ($p11h) decrypt with 03" decrypt --id 03 -m RSA-PKCS-OAEP --hash-algorithm "$p11h" \
        --mgf "$mgf" -i "$T/ct.oaep.$osslh" -o "$T/pt.oaep.$osslh"
    check "RSA-PKCS-OAEP ($p11h) 03: the plain text is the secret" cmp "$T/secret" "$T/pt.oaep.$osslh"
done
# RSA-X-509: a whole block (leading zero byte, so below the modulus).
{ printf '\x00'; head -c 255 /dev/urandom; } >"$T/block"
openssl pkeyutl -encrypt -pubin -inkey "$T/03.pub" -pkeyopt rsa_padding_mode:none -in "$T/block" -out "$T/ct.raw"
check "RSA-X-509 decrypt with 03" decrypt --id 03 -m RSA-X-509 -i "$T/ct.raw" -o "$T/pt.raw"
check "RSA-X-509 03: the block comes back, 256 bytes" cmp "$T/block" "$T/pt.raw"

check "OAEP with the wrong hash: CKR_ENCRYPTED_DATA_INVALID" fails_with "CKR_ENCRYPTED_DATA_INVALID" \
    decrypt --id 03 -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 -i "$T/ct.oaep.03" -o "$T/pt.bad"
# Cipher text that is no PKCS#1 block once decrypted: a number below the
# modulus (leading zero byte), and one above it (all ones).
{ printf '\x00'; head -c 255 /dev/urandom; } >"$T/ct.junk"
check "RSA-PKCS with junk below the modulus: CKR_ENCRYPTED_DATA_INVALID" fails_with "CKR_ENCRYPTED_DATA_INVALID" \
    decrypt --id 03 -m RSA-PKCS -i "$T/ct.junk" -o "$T/pt.bad"
head -c 256 /dev/zero | tr '\0' '\377' >"$T/ct.ff"
check "RSA-PKCS with a number above the modulus: CKR_ENCRYPTED_DATA_INVALID" fails_with "CKR_ENCRYPTED_DATA_INVALID" \
    decrypt --id 03 -m RSA-PKCS -i "$T/ct.ff" -o "$T/pt.bad"
head -c 100 "$T/ct.pkcs.03" >"$T/ct.short"
check "RSA-PKCS with a short cipher text: CKR_ENCRYPTED_DATA_LEN_RANGE" fails_with "CKR_ENCRYPTED_DATA_LEN_RANGE" \
    decrypt --id 03 -m RSA-PKCS -i "$T/ct.short" -o "$T/pt.bad"
check_fails "decrypt without login" p11 --decrypt --id 03 -m RSA-PKCS -i "$T/ct.pkcs.03" -o "$T/pt.bad"
check "decrypt with a wrong PIN: CKR_PIN_INCORRECT" fails_with "CKR_PIN_INCORRECT" \
    p11 --login --pin 000000 --decrypt --id 03 -m RSA-PKCS -i "$T/ct.pkcs.03" -o "$T/pt.bad"
check "... which cost one try" output_has "PIN tries left:[[:space:]]+2" yubico-piv-tool -r "$KYSO_READER" -a status
check "decrypt again with the right PIN" decrypt --id 03 -m RSA-PKCS -i "$T/ct.pkcs.03" -o "$T/pt.again"
check "... and the tries are back to 3" output_has "PIN tries left:[[:space:]]+3" yubico-piv-tool -r "$KYSO_READER" -a status

# --- signatures with the RSA keys that are not 9C ------------------------------------
check "SHA256-RSA-PKCS with 9A (01)" p11 --login --pin "$PIN" --sign --id 01 -m SHA256-RSA-PKCS \
    -i "$T/data" -o "$T/sig.01"
check "9A SHA256-RSA-PKCS verifies" verify_signature "$(cert_of 01)" "$T/data" "$T/sig.01" sha256
check "SHA384-RSA-PKCS-PSS with 9D (03)" p11 --login --pin "$PIN" --sign --id 03 -m SHA384-RSA-PKCS-PSS \
    -i "$T/data" -o "$T/sig.03"
check "9D SHA384-RSA-PKCS-PSS verifies" verify_signature "$(cert_of 03)" "$T/data" "$T/sig.03" sha384 pss

# --- an RSA-2048 key generated in 9E (SO = management key) ----------------------------
so() { p11 --login --login-type so --so-pin "$KYSO_TEST_MGM_KEY" "$@"; }
check "--keypairgen rsa:2048 --id 04 (9E) as SO" so --keypairgen --key-type rsa:2048 --id 04
check "the generated key is listed by a new process" \
    output_has "^Public Key Object; RSA 2048 bits" p11 -O --type pubkey --id 04
check "--read-object --type pubkey --id 04" p11 --read-object --type pubkey --id 04 -o "$T/04.pub.der"
openssl pkey -pubin -inform DER -in "$T/04.pub.der" -out "$T/04.pub" 2>>"$TEST_LOG"
check "the public key read back is RSA 2048, e = 65537" \
    output_has "Exponent: 65537" openssl pkey -pubin -in "$T/04.pub" -noout -text
check "SHA256-RSA-PKCS-PSS with the generated key" p11 --login --pin "$PIN" --sign --id 04 \
    -m SHA256-RSA-PKCS-PSS -i "$T/data" -o "$T/sig.04"
check "the generated key's signature verifies against the public key read back" \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -verify "$T/04.pub" \
    -signature "$T/sig.04" "$T/data"
check_fails "... but not against 9C's" openssl dgst -sha256 -sigopt rsa_padding_mode:pss -verify "$T/02.pub" \
    -signature "$T/sig.04" "$T/data"
oaep "$T/04.pub" "$T/secret" "$T/ct.04" sha256
check "RSA-PKCS-OAEP decrypt with the generated key" decrypt --id 04 -m RSA-PKCS-OAEP --hash-algorithm SHA256 \
    --mgf MGF1-SHA256 -i "$T/ct.04" -o "$T/pt.04"
check "the generated key's plain text is the secret" cmp "$T/secret" "$T/pt.04"

finish
