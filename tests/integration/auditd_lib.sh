# Shared by the tests that run kyso-auditd (audit-daemon.sh,
# audit-daemon-claims.sh), sourced after lib.sh and in_token: the
# programs, the client's and the daemon's sanitizer settings, a socket
# directory another user can reach, and helpers to start, stop and watch
# daemons; a fresh log and KYSO_AUDIT pointing at the daemon's socket.
T=$TEST_TMP
daemon=$KYSO_BUILDDIR/tools/kyso-auditd
client=$KYSO_BUILDDIR/tests/integration/audit_client
kyso=$KYSO_BUILDDIR/tools/kyso
for prog in "$daemon" "$client" "$kyso"; do
    [ -x "$prog" ] || { echo "$prog is not built"; exit 1; }
done
command -v jq >/dev/null || { echo "jq missing (Debian package jq)"; exit 1; }

# pkcs11-tool loads the module: under the sanitizers it needs the ASan
# runtime preloaded (lib.sh, client_env), and only it; the daemon keeps
# its own leak checks.
daemon_asan=${ASAN_OPTIONS-}
client_env
preload=${LD_PRELOAD:-}
client_asan=${ASAN_OPTIONS:-}
unset LD_PRELOAD
if [ -n "$daemon_asan" ]; then export ASAN_OPTIONS=$daemon_asan; else unset ASAN_OPTIONS; fi
p11() { LD_PRELOAD=$preload ASAN_OPTIONS=$client_asan pkcs11-tool --module "$KYSO_MODULE" "$@"; }

vg=()
if [ "${KYSO_VALGRIND:-0}" = 1 ] && ! grep -q asan_init "$daemon"; then
    vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
fi

# The sockets live outside the private work directory (0700), so that
# another user can reach them.
run=$(mktemp -d /tmp/kyso-auditd-test.XXXXXX)
chmod 755 "$run"
daemon_pids=()
helper_pids=()
cleanup() {
    local p
    for p in "${helper_pids[@]}" "${daemon_pids[@]}"; do kill "$p" 2>/dev/null; done
    umount "$run/full" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT

# start_daemon NAME LOG SOCKET [OPTIONS...]: dpid is its pid; its stdout
# and stderr go to $T/NAME.out and $T/NAME.err.
start_daemon() {
    local name=$1 log=$2 sock=$3
    shift 3
    "${vg[@]}" "$daemon" --foreground --log "$log" --socket "$sock" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    dpid=$!
    daemon_pids+=("$dpid")
    "$client" wait "$sock" 60 >>"$TEST_LOG" 2>&1
}
# stop_daemon PID: SIGTERM; true if it exits 0 (under the sanitizers or
# valgrind a finding makes it non-zero).
stop_daemon() {
    kill -TERM "$1" && wait "$1"
}
silent() { # NAME: the daemon printed nothing
    [ ! -s "$T/$1.out" ] && [ ! -s "$T/$1.err" ] || { cat "$T/$1.out" "$T/$1.err"; return 1; }
}
records() { grep -c . "$1"; }
# A connection sits in the daemon's listen queue until it is accepted:
# what a check needs accepted is waited for by counting its sockets.
sockets_of() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
accepted() { # PID N: the daemon holds at least N sockets (within 10 s)
    local _
    for _ in $(seq 200); do
        [ "$(sockets_of "$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The log (made with kyso audit init) and the socket the module is told of.
log=$T/audit.log
key=$T/audit.key
"$kyso" audit init --log "$log" --key-out "$key" >/dev/null || { echo "kyso audit init failed"; exit 1; }
verify() { "$kyso" audit verify --key "$key" "$@"; }
sock=$run/kyso/audit.sock
export KYSO_AUDIT="daemon:$sock"
