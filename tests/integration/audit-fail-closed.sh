#!/bin/bash
# No signature without a durable record (kyso-pkcs11.so, PIV 9A): when the
# audit trail cannot be written, C_Sign fails with CKR_FUNCTION_FAILED and
# the caller's buffer (filled with a pattern) and length are untouched
# (audit_signer --expect checks both); the log is left as it was.
#   (a) the audit daemon's socket does not exist; a KYSO_AUDIT that means nothing
#   (b) the log on a full file system (a 64 KiB tmpfs in this test's own
#       mount namespace, made by tests/with-token); after space is freed the
#       log verifies and signing works again
#   (c) the log's directory missing; a read-only file system; the state
#       file damaged, empty or missing; the log shorter than its state; a
#       record past the state altered
. "$(dirname "$0")/lib.sh"
in_token piv
export ASAN_OPTIONS=${KYSO_ASAN_OPTIONS:-detect_leaks=1}

bin=$KYSO_BUILDDIR/tests/integration
kyso=$KYSO_BUILDDIR/tools/kyso
signer() { run_checked "$bin/audit_signer" "$@"; }
refused() { signer --count 2 --expect CKR_FUNCTION_FAILED "$@"; }
# same_file A B: byte for byte.
same_file() { cmp -s "$1" "$2"; }
# signed_ok OUTPUT N: the signer's summary says N signatures and 1 failure.
summary_is() { grep -Eq "^pid [0-9]+ signed $2 failed $3 wrong 0\$" "$1"; }

# ---- (a) the sink is not there
cp "$KYSO_AUDIT_LOG" "$TEST_TMP/log.before"
check "(a) daemon:/nonexistent.sock: C_Sign fails, nothing released" \
    env KYSO_AUDIT=daemon:/nonexistent.sock "$bin/audit_signer" --count 3 --expect CKR_FUNCTION_FAILED
check "(a) KYSO_AUDIT=bogus: C_Sign fails, nothing released" \
    env KYSO_AUDIT=bogus "$bin/audit_signer" --count 1 --expect CKR_FUNCTION_FAILED
check "(a) the file sink's log was not touched" same_file "$KYSO_AUDIT_LOG" "$TEST_TMP/log.before"
check "(a) with the sink back, signing works" signer --count 2

# ---- (b) a full file system
full=$TEST_TMP/full
mkdir -p "$full"
if mount -t tmpfs -o size=64k,mode=0700 tmpfs "$full"; then
    export KYSO_AUDIT=file:$full/audit.log
    check "(b) kyso audit init on a 64 KiB tmpfs" "$kyso" audit init --log "$full/audit.log" --key-out "$TEST_TMP/full.key"
    check "(b) a signature before the file system fills up" signer --count 1 --received "$TEST_TMP/full.received"
    dd if=/dev/zero of="$full/filler" bs=1k >/dev/null 2>&1
    df -k "$full" >>"$TEST_LOG"
    # What is left of the log's last page may still take a record or two:
    # sign until the first refusal, which must come, with nothing released.
    signer --count 40 --until-fail --expect CKR_FUNCTION_FAILED --received "$TEST_TMP/full.received" \
        >"$TEST_TMP/full.out" 2>&1
    cat "$TEST_TMP/full.out" >>"$TEST_LOG"
    check "(b) full: C_Sign fails (CKR_FUNCTION_FAILED), buffer untouched" \
        grep -Eq '^pid [0-9]+ signed [0-9]+ failed 1 wrong 0$' "$TEST_TMP/full.out"
    check "(b) still full: every signature refused" refused
    check "(b) the log verifies while the file system is full" \
        "$kyso" audit verify --log "$full/audit.log" --key "$TEST_TMP/full.key"
    check "(b) no record of a refused signature was left (and one for each released)" \
        "$bin/audit_logcheck" --exact --received "$TEST_TMP/full.received" "$full/audit.log"
    rm -f "$full/filler"
    check "(b) space freed: the log verifies" "$kyso" audit verify --log "$full/audit.log" --key "$TEST_TMP/full.key"
    check "(b) space freed: signing works again" signer --count 3 --received "$TEST_TMP/full.after"
    check "(b) and the log verifies with every signature recorded once" \
        "$bin/audit_logcheck" --exact --received "$TEST_TMP/full.received" --received "$TEST_TMP/full.after" "$full/audit.log"
    check "(b) kyso audit verify after signing again" \
        "$kyso" audit verify --log "$full/audit.log" --key "$TEST_TMP/full.key"
    umount "$full"
    unset KYSO_AUDIT
else
    check "(b) mount a tmpfs (root or user namespaces needed)" false
fi
export KYSO_AUDIT=file:$KYSO_AUDIT_LOG

# ---- (c) unwritable log, damaged state
check "(c) the log's directory does not exist: C_Sign fails" \
    env KYSO_AUDIT=file:/nonexistent/kyso/audit.log "$bin/audit_signer" --count 2 --expect CKR_FUNCTION_FAILED

ro=$TEST_TMP/ro
mkdir -p "$ro"
if mount -t tmpfs -o size=1m tmpfs "$ro"; then
    "$kyso" audit init --log "$ro/audit.log" --key-out "$TEST_TMP/ro.key" >>"$TEST_LOG" 2>&1
    KYSO_AUDIT=file:$ro/audit.log signer --count 1 >>"$TEST_LOG" 2>&1
    cp "$ro/audit.log" "$TEST_TMP/ro.before"
    mount -o remount,ro "$ro"
    check "(c) a read-only file system: C_Sign fails" \
        env KYSO_AUDIT="file:$ro/audit.log" "$bin/audit_signer" --count 2 --expect CKR_FUNCTION_FAILED
    mount -o remount,rw "$ro"
    check "(c) read-only: the log is unchanged" same_file "$ro/audit.log" "$TEST_TMP/ro.before"
    check "(c) read-write again: signing works" env KYSO_AUDIT="file:$ro/audit.log" "$bin/audit_signer" --count 1
    check "(c) and the log verifies" "$kyso" audit verify --log "$ro/audit.log" --key "$TEST_TMP/ro.key"
    umount "$ro"
else
    check "(c) mount a tmpfs" false
fi

# A chain of its own, with two records signed; its state saved.
dmg=$TEST_TMP/dmg
mkdir -p "$dmg"
"$kyso" audit init --log "$dmg/audit.log" --key-out "$TEST_TMP/dmg.key" >>"$TEST_LOG" 2>&1
export KYSO_AUDIT=file:$dmg/audit.log
check "(c) a second chain: two signatures" signer --count 2
cp "$dmg/audit.log.state" "$TEST_TMP/state.good"
cp "$dmg/audit.log" "$TEST_TMP/dmg.before"

# refused_unchanged NAME: C_Sign refused and the log left as it was.
refused_unchanged() {
    check "(c) $1: C_Sign fails, nothing released" refused
    check "(c) $1: the log is unchanged" same_file "$dmg/audit.log" "$TEST_TMP/dmg.before"
}
head -c 512 /dev/urandom | dd of="$dmg/audit.log.state" conv=notrunc 2>/dev/null
refused_unchanged "state file overwritten with random bytes"
: >"$dmg/audit.log.state"
refused_unchanged "state file empty"
rm -f "$dmg/audit.log.state"
refused_unchanged "state file missing"
cp "$TEST_TMP/state.good" "$dmg/audit.log.state"
check "(c) state restored: signing works" signer --count 1 --received "$TEST_TMP/dmg.received"
cp "$dmg/audit.log.state" "$TEST_TMP/state.good"

# The log shorter than its state: the last record cut off.
cp "$dmg/audit.log" "$TEST_TMP/dmg.full"
head -n -1 "$TEST_TMP/dmg.full" >"$dmg/audit.log"
cp "$dmg/audit.log" "$TEST_TMP/dmg.before"
refused_unchanged "the last record removed from the log"
cp "$TEST_TMP/dmg.full" "$dmg/audit.log"

# A record past the state altered: two more signatures, the older state
# put back, then one character of the last record's time changed.
check "(c) two more signatures" signer --count 2 --received "$TEST_TMP/dmg.received"
cp "$TEST_TMP/state.good" "$dmg/audit.log.state"
off=$(grep -bo '"time":"2' "$dmg/audit.log" | tail -n 1 | cut -d: -f1)
printf '3' | dd of="$dmg/audit.log" bs=1 seek=$((off + 8)) conv=notrunc 2>/dev/null
cp "$dmg/audit.log" "$TEST_TMP/dmg.before"
refused_unchanged "a record past the state altered"
last=$(wc -l <"$dmg/audit.log")
check "(c) and kyso audit verify names it (record $last)" \
    output_has "^BROKEN at record $last " bash -c "! '$kyso' audit verify --log '$dmg/audit.log' --key '$TEST_TMP/dmg.key'"
finish
