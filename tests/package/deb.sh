#!/bin/bash
# kyso's Debian packages, end to end on this host (run by build-aux/check-all
# after the other tests, since it installs into the system): built from a
# copy of the tree with dpkg-buildpackage from Debian packages only, checked
# by lintian, installed with dpkg -i, tried (the tools, p11-kit finding the
# module, the group, the directories, the enabled units, the manual pages),
# then purged: what the packages installed is gone, but for the audit
# trail's directory and the kyso group, which a purge keeps.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/kyso-deb.XXXXXX)
failed=0
ok() { echo "ok - $1"; }
step() { # NAME COMMAND...
    local name=$1
    shift
    if "$@" >"$work/step.log" 2>&1; then
        echo "ok - $name"
    else
        echo "not ok - $name"
        sed 's/^/   | /' "$work/step.log" | tail -n 60
        failed=$((failed + 1))
    fi
}
if [ "$(id -u)" -ne 0 ] || dpkg-query -W kyso >/dev/null 2>&1; then
    echo "SKIP: needs root and a host without kyso installed"
    exit 77
fi
had_group=no had_log=no
getent group kyso >/dev/null && had_group=yes
[ -e /var/log/kyso ] && had_log=yes

mkdir "$work/kyso"
tar -C "$src" --exclude=./_build --exclude=./.git --exclude=./autom4te.cache -cf - . | tar -C "$work/kyso" -xf -
step "dpkg-buildpackage -us -uc -b" \
    bash -c "cd '$work/kyso' && DEB_BUILD_OPTIONS='parallel=$(nproc)' dpkg-buildpackage -us -uc -b"
changes=$(ls "$work"/kyso_*.changes 2>/dev/null | head -n1)
step "two packages built" test -n "$changes" -a -f "$(ls "$work"/kyso_*_*.deb | head -n1)" \
    -a -f "$(ls "$work"/kyso-vtoken_*_*.deb | head -n1)"
[ -n "$changes" ] || { rm -rf "$work"; exit 1; }
step "lintian: no error, no warning" lintian --fail-on error,warning "$changes"
lintian --show-overrides "$changes" 2>&1 | grep -v 'root privileges' | sed 's/^/# lintian: /' | head -n 20

step "dpkg -i" dpkg -i "$work"/kyso_*.deb "$work"/kyso-vtoken_*.deb
dpkg-query -L kyso kyso-vtoken | sort >"$work/files"
step "kyso --version" kyso --version
step "kyso-vtoken --help" bash -c "kyso-vtoken --help 2>&1 | grep -q 'kyso-vtoken init'"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
step "the module beside the other PKCS#11 modules" test -f "/usr/lib/$multiarch/pkcs11/kyso-pkcs11.so"
step "p11-kit finds it with no step of its own" \
    bash -c "p11-kit list-modules 2>&1 | grep -qx 'kyso: /usr/lib/$multiarch/pkcs11/kyso-pkcs11.so'"
step "the kyso group" getent group kyso
step "the audit trail's directory, the kyso group's to read" \
    bash -c "[ \"\$(stat -c '%a %U %G' /var/log/kyso)\" = '2750 root kyso' ]"
step "the CRL cache and the registry" test -d /var/lib/kyso/crl -a -d /var/lib/kyso/records
step "root's kyso.conf, a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' kyso | grep -q '/etc/kyso/kyso.conf'"
step "kyso-auditd.socket enabled" test -L /etc/systemd/system/sockets.target.wants/kyso-auditd.socket
step "kyso-auditd.service is not enabled (its socket starts it)" \
    test ! -e /etc/systemd/system/multi-user.target.wants/kyso-auditd.service
step "the timers enabled" test -L /etc/systemd/system/timers.target.wants/kyso-crl-update.timer \
    -a -L /etc/systemd/system/timers.target.wants/kyso-token-due.timer
step "man kyso" man -w kyso kyso-pkcs11 kyso-auditd kyso.conf kyso-vtoken
step "kyso setup check: the installed module loads; p11-kit and Java will find it" \
    bash -c "kyso setup check >'$work/setup' 2>&1; cat '$work/setup';
             grep -Eq '^module +yes' '$work/setup' && grep -Eq '^p11-kit +yes' '$work/setup' && grep -Eq '^java +yes' '$work/setup'"
# A fresh host has no trust anchor yet: the check says so (and the module
# refuses to sign until root puts the government root CA there).
step "kyso policy check names the missing trust anchors" \
    bash -c "! kyso policy check >'$work/check' 2>&1 && grep -q 'no trust anchors: /etc/kyso/trust' '$work/check'"

step "dpkg --purge" dpkg --purge kyso-vtoken kyso
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done <"$work/files")
step "no file of the packages is left" test -z "$left"
[ -n "$left" ] && echo "$left" | sed 's/^/#   left: /'
step "root's configuration and the CRL cache are gone" test ! -e /etc/kyso -a ! -e /var/lib/kyso/crl
step "the audit trail's directory is kept" test -d /var/log/kyso

# This host as it was.
[ $had_log = no ] && rm -rf /var/log/kyso
[ $had_group = no ] && getent group kyso >/dev/null && groupdel kyso
rm -rf "$work"
echo "# package test: $failed failed"
[ "$failed" -eq 0 ]
