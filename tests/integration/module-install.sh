#!/bin/bash
# make install (into a DESTDIR) lays out what the system and the clients
# look for: the module in $(libdir)/pkcs11, its p11-kit module file, the
# tools, the systemd units with this build's paths, tmpfiles.d and
# sysusers.d, root's annotated kyso.conf, the holidays, the manual pages and
# the bash completion. With the installed files in place (bind-mounted in
# this test's private mount namespace) p11-kit, GnuTLS and a client of
# p11-kit-proxy.so find the token with no configuration of their own, and
# the signature made that way has its audit record. make uninstall takes
# every file away again.
. "$(dirname "$0")/lib.sh"
in_token piv

T=$TEST_TMP
root=$T/root
PIN=$KYSO_TEST_PIN
# The ASan runtime client_env preloads is for the clients that load the
# module only (other uninstrumented tools trip over it).
p11_preload=${LD_PRELOAD:-}
unset LD_PRELOAD
client() { LD_PRELOAD=$p11_preload "$@"; }
# The build's own make, outside the make that runs this test (none of its
# flags or jobserver).
bmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$KYSO_BUILDDIR" "$@"; }
# make_var NAME: the value of a variable of this build's Makefile.
make_var() { printf 'kyso-print-var:\n\t@echo $(%s)\n' "$1" | bmake -f Makefile -f - kyso-print-var; }
for v in libdir pkcs11libdir p11kitmoduledir bindir sbindir sysconfdir pkgdatadir mandir systemdsystemunitdir \
    tmpfilesdir sysusersdir bashcompletiondir; do
    printf -v "$v" '%s' "$(make_var "$v")"
done
echo "pkcs11libdir=$pkcs11libdir p11kitmoduledir=$p11kitmoduledir systemdsystemunitdir=$systemdsystemunitdir" >>"$TEST_LOG"

check "make install DESTDIR" bmake install DESTDIR="$root"
check "the module in \$(libdir)/pkcs11" test -f "$root$pkcs11libdir/kyso-pkcs11.so"
check "no libtool archive next to it" test ! -e "$root$pkcs11libdir/kyso-pkcs11.la"
check "the p11-kit module file names the installed module" \
    grep -qx "module: $pkcs11libdir/kyso-pkcs11.so" "$root$p11kitmoduledir/kyso.module"
check "kyso, kyso-vtoken and kyso-auditd" test -x "$root$bindir/kyso" -a -x "$root$bindir/kyso-vtoken" -a \
    -x "$root$sbindir/kyso-auditd"
for unit in kyso-auditd.service kyso-auditd.socket kyso-crl-update.service kyso-crl-update.timer \
    kyso-token-due.service kyso-token-due.timer; do
    check "systemd unit $unit" test -f "$root$systemdsystemunitdir/$unit"
done
check "kyso-auditd.service starts the installed daemon" \
    grep -qx "ExecStart=$sbindir/kyso-auditd --foreground" "$root$systemdsystemunitdir/kyso-auditd.service"
check "kyso-crl-update.service runs the installed kyso" \
    grep -qx "ExecStart=$bindir/kyso crl update" "$root$systemdsystemunitdir/kyso-crl-update.service"
check "tmpfiles.d: the audit trail's directory for the kyso group" \
    grep -qx "d /var/log/kyso 2750 root kyso -" "$root$tmpfilesdir/kyso.conf"
check "sysusers.d: the kyso group" grep -qx "g kyso -" "$root$sysusersdir/kyso.conf"
check "root's annotated kyso.conf" cmp "$KYSO_SRCDIR/policy/kyso.conf" "$root$sysconfdir/kyso/kyso.conf"
check "the holiday calendar" test -s "$root$pkgdatadir/holidays-vn.txt"
check "Java's SunPKCS11 configuration" test -s "$root$pkgdatadir/java/kyso-pkcs11.cfg"
for page in man1/kyso.1 man1/kyso-vtoken.1 man5/kyso.conf.5 man8/kyso-auditd.8 man8/kyso-pkcs11.8; do
    check "manual page $page" test -s "$root$mandir/$page"
done
check "bash completion for kyso" bash -n "$root$bashcompletiondir/kyso"
check "the completion offers the subcommands" bash -c \
    ". /usr/share/bash-completion/bash_completion && . '$root$bashcompletiondir/kyso' &&
     COMP_WORDS=(kyso au) COMP_CWORD=1 COMP_LINE='kyso au' COMP_POINT=7 && _kyso && [ \"\${COMPREPLY[*]}\" = audit ]"

# The installed module where the installed files say it is, p11-kit's
# configuration with the installed module file: inside this namespace only.
if [ -d "$libdir" ]; then
    mount --bind "$root$libdir" "$libdir"
    # p11-kit's module directory with the installed kyso.module alone: what
    # the proxy then offers can only be kyso's.
    mods=$T/p11-kit-modules
    mkdir -p "$mods"
    cp "$root$p11kitmoduledir/kyso.module" "$mods/"
    mount --bind "$mods" /usr/share/p11-kit/modules
    if [ -n "$p11_preload" ]; then
        # Measured: with the ASan runtime preloaded, p11-kit list-modules
        # and p11tool hang at exit in libp11-kit's destructor (freelocale),
        # with kyso's module or without it; the build without sanitizers
        # runs these.
        echo "# skipped with AddressSanitizer: p11-kit list-modules, p11tool --list-tokens"
    else
        client p11-kit list-modules >"$T/modules.txt" 2>&1
        check "p11-kit list-modules: the kyso module at its installed path" \
            grep -qx "kyso: $pkcs11libdir/kyso-pkcs11.so" "$T/modules.txt"
        check "p11-kit list-modules: its token" \
            awk '/^kyso: / { m = 1; next } /^[^ ]/ { m = 0 } m && /^ +manufacturer: Yubico \(PIV\)$/ { f = 1 } END { exit !f }' \
            "$T/modules.txt"
        check "p11tool (GnuTLS, no --provider) lists the token" output_has "Manufacturer: Yubico \(PIV\)" \
            client p11tool --list-tokens
    fi
    printf 'kyso: ký qua p11-kit-proxy.\n' >"$T/data"
    proxy=$(ls /usr/lib/*/p11-kit-proxy.so 2>/dev/null | head -n1)
    signs() { "$KYSO_BUILDDIR/tools/kyso" audit tail --log "$KYSO_AUDIT_LOG" -n 100000 | grep -c ' sign .*CKR_OK'; }
    before=$(signs)
    check "a signature through p11-kit-proxy.so" \
        client pkcs11-tool --module "$proxy" --login --pin "$PIN" --sign --id 01 -m ECDSA-SHA256 --signature-format openssl \
        -i "$T/data" -o "$T/sig"
    check "it verifies" verify_signature "$KYSO_TEST_PKI/person-an-auth-p256.pem" "$T/data" "$T/sig" sha256 ecdsa
    check "it has its audit record" test "$(signs)" -eq $((before + 1))

    # kyso setup: the installed tool on the installed files.
    datadir=$(make_var datadir)
    mount --bind "$root$datadir" "$datadir"
    kyso_i() { client "$root$bindir/kyso" "$@"; }
    pol=$T/policies.json
    check "setup check: the module loads and sees the token" output_has "^module +yes .*\(1 token present\)" \
        kyso_i setup check --policies "$pol"
    check "setup check: p11-kit's module file" output_has "^p11-kit +yes +$p11kitmoduledir/kyso.module" \
        kyso_i setup check --policies "$pol"
    check "setup check: Java's configuration" output_has "^java +yes +$pkgdatadir/java/kyso-pkcs11.cfg" \
        kyso_i setup check --policies "$pol"
    check "  which names the installed module" grep -qx "library = $pkcs11libdir/kyso-pkcs11.so" \
        "$pkgdatadir/java/kyso-pkcs11.cfg"
    check "setup check: no Firefox policy yet" output_has "^firefox +NO " kyso_i setup check --policies "$pol"
    printf '{ "policies": { "DisableTelemetry": true, "SecurityDevices": { "Add": { "other": "/usr/lib/other.so" } } } }\n' >"$pol"
    check "setup firefox adds kyso to an administrator's policies" kyso_i setup firefox --policies "$pol"
    check "  the entry names the installed module" \
        test "$(jq -r '.policies.SecurityDevices.Add.kyso' "$pol")" = "$pkcs11libdir/kyso-pkcs11.so"
    check "  the other policies are kept" \
        test "$(jq -c '[.policies.DisableTelemetry, .policies.SecurityDevices.Add.other]' "$pol")" = '[true,"/usr/lib/other.so"]'
    cp "$pol" "$T/pol.before"
    check "  a second run changes nothing" bash -c "'$root$bindir/kyso' setup firefox --policies '$pol' && jq -S . '$pol' | cmp - <(jq -S . '$T/pol.before')"
    check "setup check: Firefox will load it" output_has "^firefox +yes " kyso_i setup check --policies "$pol"
    check "setup firefox --remove takes only kyso's entry away" kyso_i setup firefox --remove --policies "$pol"
    check "  the rest as it was" \
        test "$(jq -c . "$pol")" = '{"policies":{"DisableTelemetry":true,"SecurityDevices":{"Add":{"other":"/usr/lib/other.so"}}}}'
    printf '{ "policies": [ ' >"$pol"
    cp "$pol" "$T/pol.broken"
    check_fails "setup firefox refuses a policies.json that is not JSON" kyso_i setup firefox --policies "$pol"
    check "  and leaves it as it was" cmp "$pol" "$T/pol.broken"
    rm -f "$pol"
    check "setup firefox makes a missing policies.json" kyso_i setup firefox --policies "$T/new/policies.json"
    check "  readable by every user (Firefox runs as them)" test "$(stat -c %a "$T/new/policies.json")" = 644
    # The installed units, with their programs where they say they are.
    if command -v systemd-analyze >/dev/null && [ -d "$bindir" ] && [ -d "$sbindir" ]; then
        mount --bind "$root$bindir" "$bindir"
        mount --bind "$root$sbindir" "$sbindir"
        check "systemd-analyze verify: the installed units are sound" bash -c \
            "out=\$(systemd-analyze verify '$root$systemdsystemunitdir'/kyso-*.service '$root$systemdsystemunitdir'/kyso-*.socket '$root$systemdsystemunitdir'/kyso-*.timer 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
        umount "$sbindir"
        umount "$bindir"
    fi
    umount "$datadir"
    umount /usr/share/p11-kit/modules
    umount "$libdir"
else
    echo "# $libdir does not exist: the installed files are not tried in place"
fi

check "make uninstall DESTDIR" bmake uninstall DESTDIR="$root"
check "nothing installed is left (directories aside)" test -z "$(find "$root" -type f -o -type l)"
finish
