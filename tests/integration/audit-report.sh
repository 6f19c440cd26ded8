#!/bin/bash
# kyso audit tail | export | report on a log written by the real module:
# pkcs11-tool signs on the government token (vgca-chipdoc), fails the PIN
# until it locks, unblocks it with the PUK and signs again; kyso-pkcs11.so
# writes the records (KYSO_AUDIT=file:…). The tools must find exactly what
# was done, in every format; the counts are also checked against grep over
# the raw log. Then: period boundaries at the millisecond of a real
# record, a rotated chain read as two logs, a malformed line, tail
# --follow across a rotation (stopped with SIGINT), and the errors.
. "$(dirname "$0")/lib.sh"
in_token vgca-chipdoc

T=$TEST_TMP
LOG=$KYSO_AUDIT_LOG
KYSO=$KYSO_BUILDDIR/tools/kyso
# pkcs11-tool needs the ASan runtime preloaded to load an instrumented
# module; kyso itself is instrumented and keeps its leak checks.
asan_saved=${ASAN_OPTIONS-}
client_env
preload=${LD_PRELOAD:-}
p11_asan=${ASAN_OPTIONS:-}
unset LD_PRELOAD
if [ -n "$asan_saved" ]; then export ASAN_OPTIONS=$asan_saved; else unset ASAN_OPTIONS; fi
p11() { LD_PRELOAD=$preload ASAN_OPTIONS=$p11_asan pkcs11-tool --module "$KYSO_MODULE" "$@"; }
kyso() { run_checked "$KYSO" "$@"; }
# json FILE PERL-EXPR: evaluates an expression over the decoded JSON ($j).
json() { perl -MJSON::PP -e 'local $/; open my $f, "<:raw", $ARGV[0] or die; my $j = JSON::PP->new->utf8->decode(<$f>);
    binmode STDOUT, ":encoding(UTF-8)"; my $v = eval $ARGV[1]; die $@ if $@; print "$v\n"' "$1" "$2"; }
# equal WANT COMMAND...: COMMAND prints WANT.
equal() { local want=$1 got; shift; got=$("$@") || return 1; echo "want [$want] got [$got]"; [ "$got" = "$want" ]; }
# one_error_line STATUS COMMAND...: COMMAND exits with STATUS and prints one line on stderr, nothing on stdout.
one_error_line() {
    local want=$1 rc=0
    shift
    "$@" >"$T/err.out" 2>"$T/err.txt" || rc=$?
    cat "$T/err.txt"
    [ "$rc" -eq "$want" ] && [ "$(wc -l <"$T/err.txt")" -eq 1 ] && [ ! -s "$T/err.out" ] &&
        grep -q '^kyso: audit ' "$T/err.txt"
}

printf 'kyso: báo cáo sử dụng thiết bị ký số\n' >"$T/data"
p11 -O >"$T/O" 2>&1
id=$(sed -n '/Public Key Object/,/^[A-Z]/s/^  ID: *//p' "$T/O" | head -n1)
sign() { p11 --login --pin "$KYSO_TEST_PIN" --sign --id "$id" -m SHA256-RSA-PKCS -i "$T/data" -o "$T/sig"; }

# ---- what is done on the token ----
for i in 1 2 3 4 5; do check "signature $i" sign; done
for pin in 11111111 22222222 33333333; do p11 --login --pin "$pin" -O >/dev/null 2>&1; done
check "the PUK unblocks the PIN" p11 --login --login-type so --so-pin "$KYSO_TEST_PUK" --init-pin \
    --new-pin "$KYSO_TEST_PIN"
check "signature 6, after the unblock" sign
check "the log the module wrote verifies" kyso audit verify --log "$LOG" --key "$KYSO_AUDIT_KEY"

lines=$(wc -l <"$LOG")
n_sign=$(grep -c '"event":"sign".*"outcome":"CKR_OK"' "$LOG")
n_fail=$(grep -c '"event":"pin_failure"' "$LOG")
n_lock=$(grep -c '"event":"pin_locked"' "$LOG")
n_cert=$(grep -c '"cert":{' "$LOG")
check "the log holds 6 signatures, 2 PIN failures, 1 lock-out (grep)" \
    test "$n_sign:$n_fail:$n_lock" = "6:2:1"
check "the log has more than 10 records" test "$lines" -eq 11
year=$(date -u +%Y)
token=$(grep -o '"token":"[0-9a-f]*"' "$LOG" | head -n1 | cut -d'"' -f4)
check "the records name the token" test -n "$token"

# ---- tail ----
kyso audit tail --log "$LOG" -n 2 >"$T/tail2"
check "tail -n 2 prints two lines" test "$(wc -l <"$T/tail2")" -eq 2
check "tail: the last one is the signature, with holder, title, key, mechanism, outcome" \
    grep -Eq "^$year-[0-9-]+T[0-9:.]+Z  sign +root/pkcs11-tool  Nguyễn Văn An \(Chuyên viên\)  token $token  key 81  CKM_SHA256_RSA_PKCS  CKR_OK$" \
    <(tail -n 1 "$T/tail2")
check "tail: the one before is the unblock" grep -q "pin_unblock .*CKR_OK" <(head -n 1 "$T/tail2")
check "tail prints 10 records by default" equal 10 bash -c "'$KYSO' audit tail --log '$LOG' | wc -l"
check "tail -n 1000 prints them all" equal "$lines" bash -c "'$KYSO' audit tail --log '$LOG' -n 1000 | wc -l"
check "tail shows the lock-out" output_has "pin_locked .*token $token  CKR_PIN_LOCKED" kyso audit tail --log "$LOG"
check "tail uses KYSO_AUDIT_LOG without --log" output_has "pin_unblock" kyso audit tail -n 2

# ---- export ----
kyso audit export --log "$LOG" --format csv -o "$T/all.csv" 2>"$T/export.err"
check "export -o says how many records it wrote" grep -q "$lines of $lines records written" "$T/export.err"
check "CSV: the header row" equal "seq,time,event,host,user,uid,pid,program,exe,module,reader,token,key,cert_sha256,cert_serial,cert_cn,cert_title,cert_organization,cert_subject,cert_issuer,cert_not_after,mechanism,input_len,input_sha256,outcome,rule,detail,log_id,file,line" \
    bash -c "head -n 1 '$T/all.csv' | tr -d '\r'"
check "CSV: one row per record, CRLF line ends" equal "$((lines + 1))" grep -c $'\r$' "$T/all.csv"
check "CSV: the subject (with commas) is quoted" grep -q ',"emailAddress=an.nv@hanoi.gov.vn.invalid,UID=CCCD:000000000001,CN=Nguyễn Văn An,title=Chuyên viên,O=Sở Thông tin và Truyền thông Hà Nội,L=Hà Nội,C=VN",' "$T/all.csv"
check "CSV: holder, title and agency have their columns" \
    grep -q ',Nguyễn Văn An,Chuyên viên,Sở Thông tin và Truyền thông Hà Nội,' "$T/all.csv"
check "export: signatures made (--event sign --outcome ok)" equal 6 \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --event sign --outcome ok | wc -l"
check "export: PIN failures by outcome" equal 2 \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --outcome CKR_PIN_INCORRECT | wc -l"
check "export: --outcome failed" equal 3 \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --outcome failed | wc -l"
check "export: --person without accents" equal "$n_cert" \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --person 'nguyen van AN' | wc -l"
sha=$(grep -o '"sha256":"[0-9a-f]*"' "$LOG" | head -n1 | cut -d'"' -f4)
serial=$(openssl x509 -in "$KYSO_TEST_PKI/person-an-sign-rsa2048.pem" -noout -serial | cut -d= -f2)
check "export: --cert by SHA-256 prefix" equal "$n_cert" \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --cert '${sha:0:12}' | wc -l"
check "export: --cert by serial (openssl's upper case)" equal "$n_cert" \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --cert '$serial' | wc -l"
check "export: --token and --program" equal "$((lines - 1))" \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --token '${token^^}' --program pkcs11-tool | wc -l"
check "export: --program kyso is the log_start" equal 1 \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --program kyso | wc -l"
check "export: --from this year --to this year is everything" equal "$lines" \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --from $year-01-01 --to $year-12-31 | wc -l"
check "export: --to last year is nothing" equal 0 \
    bash -c "'$KYSO' audit export --log '$LOG' --format jsonl --to $((year - 1))-12-31T23:59:59.999Z | wc -l"
kyso audit export --log "$LOG" --format jsonl -o "$T/all.jsonl" 2>/dev/null
check "JSON Lines unfiltered is the log, byte for byte" cmp "$T/all.jsonl" "$LOG"
kyso audit export --log "$LOG" --format json --event sign -o "$T/sign.json" 2>/dev/null
check "JSON: an array of the signature records" equal 6 json "$T/sign.json" 'scalar @$j'
check "JSON: the records as logged (cert.title)" equal "Chuyên viên" json "$T/sign.json" '$j->[0]{cert}{title}'

# ---- report ----
kyso audit report --log "$LOG" --period "$year" --format json -o "$T/r.json" 2>/dev/null
check "report JSON: all records are in this year" equal "$lines" json "$T/r.json" '$j->{records_in_period}'
check "report JSON: signatures made" equal "$n_sign" json "$T/r.json" '$j->{totals}{signatures_made}'
check "report JSON: PIN failures and lock-outs" equal "$n_fail/$n_lock" \
    json "$T/r.json" '"$j->{totals}{pin_failures}/$j->{totals}{pin_lockouts}"'
check "report JSON: the PIN unblock" equal 1 json "$T/r.json" '$j->{totals}{pin_unblocks}'
check "report JSON: the person, with title and agency" \
    equal "Nguyễn Văn An|Chuyên viên|Sở Thông tin và Truyền thông Hà Nội|6" \
    json "$T/r.json" 'my ($p) = grep { defined $_->{name} } @{$j->{persons}}; "$p->{name}|$p->{title}|$p->{organization}|$p->{signed}"'
check "report JSON: the token (signed, PIN fail, PIN lock)" equal "$token 6 2 1" \
    json "$T/r.json" 'my $t = $j->{tokens}[0]; "$t->{token} $t->{signed} $t->{pin_failures} $t->{pin_locked}"'
check "report JSON: the certificate's serial" equal "${serial,,}" \
    json "$T/r.json" 'my ($c) = grep { defined $_->{serial} } @{$j->{certificates}}; $c->{serial}'
check "report JSON: no malformed line" equal 0 json "$T/r.json" '$j->{malformed_lines}'
first=$(head -n 1 "$LOG" | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
last=$(tail -n 1 "$LOG" | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
check "report JSON: first and last record time" equal "$first $last" \
    json "$T/r.json" '"$j->{first_record} $j->{last_record}"'
kyso audit report --log "$LOG" --period "$year" >"$T/r.txt"
check "report text: Vietnamese labels with English" grep -q "Theo người ký (by person)" "$T/r.txt"
check "report text: the person row" grep -Eq "^  Nguyễn Văn An \(Chuyên viên\) +Sở Thông tin và Truyền thông Hà Nội +$n_cert +6 +0 +0 +0 +0$" "$T/r.txt"
check "report text: signatures made" grep -Eq "^  Chữ ký đã tạo \(signatures made\) +6$" "$T/r.txt"
check "report text: the footer" grep -q "^integrity: run kyso audit verify" "$T/r.txt"
kyso audit report --log "$LOG" --period "$year" --format csv >"$T/r.csv"
check "report CSV: long format header" equal "section,key,label,metric,value" bash -c "head -n 1 '$T/r.csv' | tr -d '\r'"
check "report CSV: PIN lock-outs" grep -q $'^totals,pin_lockouts,,count,1\r$' "$T/r.csv"
check "report CSV: the agency's signatures" grep -q $'^agency,Sở Thông tin và Truyền thông Hà Nội,,signed,6\r$' "$T/r.csv"

# Period boundaries on a real record's millisecond.
t2=$(grep '"event":"sign"' "$LOG" | sed -n 2p | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
check "period T..T holds exactly the record made at T" equal 1 \
    bash -c "'$KYSO' audit report --log '$LOG' --period '$t2..$t2' --format json | perl -MJSON::PP -0 -ne 'print JSON::PP->new->decode(\$_)->{records_in_period}'"
check "the previous year holds none of them" equal "0 $lines" \
    bash -c "'$KYSO' audit report --log '$LOG' --period $((year - 1)) --format json | perl -MJSON::PP -0 -ne '\$j = JSON::PP->new->decode(\$_); print \"\$j->{records_in_period} \$j->{records_outside_period}\"'"
half=H1; [ "$(date -u +%m)" -gt 6 ] && half=H2
check "the current half year holds them all" equal "$lines" \
    bash -c "'$KYSO' audit report --log '$LOG' --period $year-$half --format json | perl -MJSON::PP -0 -ne 'print JSON::PP->new->decode(\$_)->{records_in_period}'"

# ---- a rotated chain, read as two logs; tail --follow across the rotation ----
"$KYSO" audit tail --log "$LOG" -n 0 --follow >"$T/follow" 2>"$T/follow.err" &
follow_pid=$!
# (it must hold the log open before the rotation)
for _ in $(seq 200); do
    find "/proc/$follow_pid/fd" -lname "$(readlink -f "$LOG")" 2>/dev/null | grep -q . && break
    sleep 0.05
done
check "rotate the log" kyso audit rotate --log "$LOG" "$T/archive.log"
check "signature 7, in the new file" sign
for _ in $(seq 50); do grep -q "  sign " "$T/follow" && break; sleep 0.2; done
kill -INT "$follow_pid"
follow_rc=0
wait "$follow_pid" || follow_rc=$?
check "tail --follow stops on SIGINT with status 0" test "$follow_rc" -eq 0
check "tail --follow printed the log_continue and the new signature" \
    bash -c "grep -q 'log_continue' '$T/follow' && grep -q '  sign .*Nguyễn Văn An' '$T/follow'"
check "tail --follow noticed the rotation" grep -q "was rotated" "$T/follow.err"
check "both files verify as one chain" kyso audit verify --log "$T/archive.log" --log "$LOG" --key "$KYSO_AUDIT_KEY"
kyso audit report --log "$T/archive.log" --log "$LOG" --period "$year" --format json -o "$T/r2.json" 2>/dev/null
check "report over archive + log: 7 signatures" equal 7 json "$T/r2.json" '$j->{totals}{signatures_made}'
check "report over archive + log: both logs listed" equal 2 json "$T/r2.json" 'scalar @{$j->{logs}}'

# ---- a malformed line is counted, never fatal ----
cp "$T/archive.log" "$T/bad.log"
printf 'this is not a record\n{"v":1,"seq":99,"event":"sign"}\n' >>"$T/bad.log"
kyso audit report --log "$T/bad.log" --period "$year" --format json -o "$T/r3.json" 2>"$T/r3.err"
check "malformed lines are counted" equal 2 json "$T/r3.json" '$j->{malformed_lines}'
check "and the good records still are" equal 6 json "$T/r3.json" '$j->{totals}{signatures_made}'
check "the tool notes them on stderr" grep -q "2 malformed line(s) skipped (first: .*bad.log:$((lines + 1)): not JSON)" "$T/r3.err"
check "the text report lists where" output_has "bad.log:$((lines + 2)): no valid time" \
    kyso audit report --log "$T/bad.log" --period "$year"

# ---- errors: one line, non-zero ----
check "a missing log: status 1, one line" one_error_line 1 "$KYSO" audit report --log "$T/none.log" --period "$year"
check "a missing log among others: nothing written" one_error_line 1 "$KYSO" audit export --log "$LOG" \
    --log "$T/none.log" --format csv
check "a directory as log" one_error_line 1 "$KYSO" audit export --log "$T" --format csv
check "tail of a missing log" one_error_line 1 "$KYSO" audit tail --log "$T/none.log"
check "a bad period: status 2" one_error_line 2 "$KYSO" audit report --log "$LOG" --period 2026-H3
check "a period that ends before it starts" one_error_line 2 "$KYSO" audit report --log "$LOG" --period 2026-02-01..2026-01-01
# No period: the last complete one of root's profile (nd68-2024: the year before, in Vietnam's days).
check "no period: the profile's last complete year" equal "$((year - 1)) (01/01/$((year - 1))–31/12/$((year - 1)))" \
    bash -c "'$KYSO' audit report --log '$LOG' --at $year-06-01 --format json | perl -MJSON::PP -0 -ne 'print JSON::PP->new->utf8(0)->decode(\$_)->{period}{name}'"
check "a bad --period previous|current word" one_error_line 2 "$KYSO" audit report --log "$LOG" --period last
check "a bad report format" one_error_line 2 "$KYSO" audit report --log "$LOG" --period "$year" --format xml
check "export without --format" one_error_line 2 "$KYSO" audit export --log "$LOG"
check "a bad time" one_error_line 2 "$KYSO" audit export --log "$LOG" --format csv --from yesterday
check "a time without zone" one_error_line 2 "$KYSO" audit export --log "$LOG" --format csv --from 2026-01-01T00:00:00
check "an unknown event" one_error_line 2 "$KYSO" audit export --log "$LOG" --format csv --event signing
check "a bad outcome" one_error_line 2 "$KYSO" audit export --log "$LOG" --format csv --outcome PIN_INCORRECT
check "an unknown option" one_error_line 2 "$KYSO" audit export --log "$LOG" --format csv --frobnicate
check "an option without its value" one_error_line 2 "$KYSO" audit export --log "$LOG" --format
check "a bad -n" one_error_line 2 "$KYSO" audit tail --log "$LOG" -n ten
cp "$LOG" "$T/log.copy"
check "-o onto the log being read is refused" one_error_line 1 "$KYSO" audit export --log "$LOG" --format csv -o "$LOG"
check "and the log is untouched" cmp "$LOG" "$T/log.copy"
check "an unwritable -o" one_error_line 1 "$KYSO" audit report --log "$LOG" --period "$year" -o "$T/no/such/dir/r.txt"
check "help for each subcommand" bash -c "'$KYSO' audit export --help | grep -q RFC.4180 && '$KYSO' audit report --help | grep -q 2026-H1 && '$KYSO' audit tail --help | grep -q follow"
finish
