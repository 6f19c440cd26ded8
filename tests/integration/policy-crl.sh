#!/bin/bash
# The CRL cache (rule M1, revocation): `kyso crl update` fetches the CRLs
# the test PKI names (http://ca.test.invalid/crl/{issuing,root}.crl, from
# the trust anchors and the token's certificates) from a server on this
# namespace's loopback, and `kyso crl status` shows them. A revoking CRL
# replaces the cached one; a broken signature, an older CRL or a server
# that is down leaves the cache byte for byte as it was; a stale CRL is
# stored but makes status fail.
. "$(dirname "$0")/lib.sh"
in_token vgca-chipdoc

# kyso itself runs under valgrind with KYSO_VALGRIND=1.
kyso() { run_checked "$KYSO_BUILDDIR/tools/kyso" "$@"; }
# Its whole output, whatever its exit status (for output_has).
anyway() { "$@" 2>&1; true; }
pki=$KYSO_TEST_PKI
cache=$KYSO_SYSTEM_STATE/crl
srv=$TEST_TMP/srv
mkdir -p "$srv/crl"
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY no_proxy NO_PROXY

serve_pid=""
start_server() {
    (cd "$srv" && exec python3 -m http.server 80 --bind 127.0.0.1) >"$TEST_TMP/http.log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 100); do
        up=$(python3 -c 'import socket; s=socket.create_connection(("127.0.0.1", 80), 1); print(1)' 2>/dev/null)
        [ "$up" = 1 ] && return 0
        sleep 0.05
    done
    echo "the test HTTP server did not start" >&2
    return 1
}
stop_server() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    serve_pid=""
}
trap stop_server EXIT

issuer_hash() { # the cache file name: SHA-256 of the issuer name's DER
    openssl x509 -in "$1" -noout -subject -nameopt RFC2253 >/dev/null &&
        python3 - "$1" <<'PY'
import hashlib, subprocess, sys
der = subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-outform", "DER"], capture_output=True, check=True).stdout
# Walk the DER: Certificate -> TBSCertificate -> [version] serial sigAlg issuer subject ...
def tlv(b, i):
    t = b[i]; l = b[i + 1]; i += 2
    if l & 0x80:
        n = l & 0x7f; l = int.from_bytes(b[i:i + n], "big"); i += n
    return t, i, l
_, i, _ = tlv(der, 0)          # Certificate
_, i, _ = tlv(der, i)          # TBSCertificate
t, j, l = tlv(der, i)
if t == 0xa0: i = j + l         # version
for _ in range(4):              # serial, signature, issuer, validity
    t, j, l = tlv(der, i); i = j + l
t, j, l = tlv(der, i)           # subject
print(hashlib.sha256(der[i:j + l]).hexdigest())
PY
}
issuing_file=$cache/$(issuer_hash "$pki/issuing-ca.pem").crl
root_file=$cache/$(issuer_hash "$pki/root-ca.pem").crl

# A CRL of the issuing CA signed now with its committed key (never into test-vectors/).
make_crl() { # OUT NUMBER LASTUPDATE NEXTUPDATE [CERT-TO-REVOKE]
    local d=$TEST_TMP/ca.$2
    rm -rf "$d" && mkdir -p "$d"
    : >"$d/index.txt"
    printf '%02x\n' "$2" >"$d/crlnumber"
    cat >"$d/ca.cnf" <<CNF
[ ca ]
default_ca = issuing
[ issuing ]
database = $d/index.txt
crlnumber = $d/crlnumber
certificate = $pki/issuing-ca.pem
private_key = $pki/issuing-ca.key.pem
default_md = sha256
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF
    if [ -n "${5:-}" ]; then
        openssl ca -batch -config "$d/ca.cnf" -revoke "$5" -crl_reason keyCompromise 2>/dev/null || return 1
    fi
    openssl ca -batch -config "$d/ca.cnf" -gencrl -crl_lastupdate "$3" -crl_nextupdate "$4" -out "$1" 2>/dev/null
}

cp "$pki/issuing-empty.crl.pem" "$srv/crl/issuing.crl"                      # PEM
openssl crl -in "$pki/root-empty.crl.pem" -outform DER -out "$srv/crl/root.crl"  # DER
check "http server on ca.test.invalid:80" start_server

check "update stores both CRLs over HTTP" kyso crl update
check "the issuing CA's CRL is cached, 0644" test "$(stat -c %a "$issuing_file" 2>/dev/null)" = 644
check "the root CA's CRL is cached" test -s "$root_file"
check "the cache directory is 0755" test "$(stat -c %a "$cache")" = 755
check "cached as DER, equal to the served CRL" \
    cmp "$issuing_file" <(openssl crl -in "$pki/issuing-empty.crl.pem" -outform DER)
check "status lists both, current" output_has 'Test Issuing CA.*' kyso crl status
check "status shows the issuer in UTF-8" output_has 'issuer: +C = VN, O = Ban Cơ yếu Chính phủ, CN = Cục Chứng thực số' \
    kyso crl status
check "a second update changes nothing" output_has 'unchanged' kyso crl update

# The revoking CRL (number 2) replaces the empty one.
cp "$pki/issuing-revoked.crl.pem" "$srv/crl/issuing.crl"
check "update takes the revoking CRL" output_has 'issuing.crl: stored' kyso crl update
check "the cache holds the revoking CRL" cmp "$issuing_file" <(openssl crl -in "$pki/issuing-revoked.crl.pem" -outform DER)
status_revoked() {
    local out
    out=$(kyso crl status) || return 1
    echo "$out"
    grep -A6 'Test Issuing CA' <<<"$out" | grep -Eq 'CRL number: 2' &&
        grep -A6 'Test Issuing CA' <<<"$out" | grep -Eq 'entries: +1'
}
check "status shows CRL 2 with one entry" status_revoked
openssl crl -in "$pki/issuing-revoked.crl.pem" -noout -text | grep -qi "$(openssl x509 -in "$pki/revoked-sign-rsa2048.pem" -noout -serial | cut -d= -f2)"
check "the served CRL lists revoked-sign-rsa2048" test $? -eq 0
cp "$issuing_file" "$TEST_TMP/kept.crl"

# A broken signature: refused, the cached file stays byte for byte.
openssl crl -in "$pki/issuing-revoked.crl.pem" -outform DER -out "$TEST_TMP/broken.crl"
size=$(stat -c %s "$TEST_TMP/broken.crl")
printf '\x5a' | dd of="$TEST_TMP/broken.crl" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null
cp "$TEST_TMP/broken.crl" "$srv/crl/issuing.crl"
check_fails "update refuses a CRL with a broken signature" kyso crl update
check "its refusal says why" output_has 'issuing.crl: .*signature does not verify.*kept' anyway kyso crl update
check "the cached CRL is kept byte for byte" cmp "$issuing_file" "$TEST_TMP/kept.crl"

# An older CRL (number 1) does not replace number 2.
cp "$pki/issuing-empty.crl.pem" "$srv/crl/issuing.crl"
check_fails "update refuses an older CRL" kyso crl update
check "refusal: not newer" output_has 'not newer than the cached CRL' anyway kyso crl update
check "the cached CRL is still number 2" cmp "$issuing_file" "$TEST_TMP/kept.crl"

# A stale CRL (number 3, nextUpdate past): stored, and status says stale.
check "make a stale CRL" make_crl "$TEST_TMP/stale.pem" 3 20250701000000Z 20250801000000Z "$pki/revoked-sign-rsa2048.pem"
cp "$TEST_TMP/stale.pem" "$srv/crl/issuing.crl"
check "update stores the stale CRL (with a warning)" output_has 'past its nextUpdate' kyso crl update
check_fails "status fails on a stale CRL" kyso crl status
check "status says stale" output_has 'state: +stale' anyway kyso crl status

# The server down: a clear error, the cache as it was.
cp -a "$cache" "$TEST_TMP/cache-before"
stop_server
check_fails "update fails with the server down" kyso crl update --timeout 2
check "the error names the URL and the cause" output_has 'kyso: http://ca.test.invalid/crl/issuing.crl: cannot fetch it: ' \
    anyway kyso crl update --timeout 2
check "the cache is unchanged" diff -r "$TEST_TMP/cache-before" "$cache"

# --url file:// (DER here) and --cert.
openssl crl -in "$TEST_TMP/stale.pem" -outform DER -out "$TEST_TMP/stale.der"
check "update --url file:// reads the CRL (the cached one)" output_has "file://$TEST_TMP/stale.der: unchanged" \
    anyway kyso crl update --timeout 2 --url "file://$TEST_TMP/stale.der" --cert "$pki/person-binh-sign-rsa2048.pem"
check_fails "--url file:// of a missing file fails" kyso crl update --timeout 2 --url "file://$TEST_TMP/none.crl"
check_fails "--url of another scheme is refused" kyso crl update --url ldap://ca.test.invalid/crl
check_fails "a --cert that is not a certificate fails" kyso crl update --timeout 2 --cert /dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/self.key" -out "$TEST_TMP/self.pem" -subj /CN=self \
    -days 2 -addext crlDistributionPoints=URI:http://127.0.0.1/elsewhere.crl 2>/dev/null
check_fails "a --cert that chains to no anchor fails" kyso crl update --timeout 2 --cert "$TEST_TMP/self.pem"
check "it says why" output_has 'kyso: --cert CN = self: .*its CRLs are not fetched' \
    anyway kyso crl update --timeout 2 --cert "$TEST_TMP/self.pem"
check "what it names is not fetched" output_lacks 'elsewhere' anyway kyso crl update --timeout 2 --cert "$TEST_TMP/self.pem"

finish
