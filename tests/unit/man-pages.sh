#!/bin/bash
# The manual pages render with man's warnings on and none is printed, and
# kyso(1) names every command and action `kyso --help` lists.
set -u
src=${KYSO_SRCDIR:?}
pages="tools/cli/kyso.1 tools/vtoken/kyso-vtoken.1 tools/auditd/kyso-auditd.8 pkcs11/kyso-pkcs11.8 policy/kyso.conf.5"
failed=0
for p in $pages; do
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$src/$p" 2>&1 >/dev/null)
    text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$src/$p" 2>/dev/null)
    if [ -n "$warnings" ] || [ "$(wc -l <<<"$text")" -lt 20 ]; then
        echo "not ok - $p renders without warnings"
        echo "$warnings" | sed 's/^/   | /'
        failed=$((failed + 1))
    else
        echo "ok - $p renders without warnings"
    fi
done
page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l "$src/tools/cli/kyso.1" 2>/dev/null)
# The entries' tags (indented by 7, not by more), where the commands are named.
tags=$(grep -E '^ {7}[^ ]' <<<"$page")
usage=$("$KYSO_BUILDDIR/tools/kyso" --help 2>&1)
# "  kyso token status", "  kyso handover issue|custodian-change|…", "  kyso --version"
while read -r cmd action; do
    case $action in -*) action= ;; esac # an option, not an action
    want="$cmd${action:+ $action}"
    ok=1
    grep -Eq -- "(^|[ |])$cmd([ |]|$)" <<<"$tags" || ok=0
    for a in ${action//|/ }; do
        grep -E -- "(^|[ |])$cmd([ |]|$)" <<<"$tags" | grep -Eq -- "(^|[ |])$a([ |]|$)" || ok=0
    done
    if [ $ok = 1 ]; then
        echo "ok - kyso(1) names '$want'"
    else
        echo "not ok - kyso(1) names '$want'"
        failed=$((failed + 1))
    fi
done < <(sed -n 's/^  kyso \([a-z-]*\) *\([a-z|-]*\).*/\1 \2/p' <<<"$usage" | sort -u)
[ "$failed" -eq 0 ]
