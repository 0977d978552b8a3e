#!/bin/bash
# End-to-end tests of what an operator observes (issue 8): the one log
# line per CMP request, sanitised peer strings in it, the Prometheus
# endpoint /metrics (counters shared by all workers, localhost only), the
# audit log through `cmpca audit list`, and `cmpca status` with its exit
# codes. A fresh stack (PostgreSQL, SoftHSM through libp11, nginx, cmpcad
# with two workers) driven by `openssl cmp` and curl, on
# CMPCA_OBS_TEST_PORT, else the first free port from 18610 to 18619.
#
# usage: tests/e2e/obs.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup obs 18610 --port-var CMPCA_OBS_TEST_PORT --scan-to 18619 --keep -- "$@"
export CMPCA_WORKERS=2 CMPCA_POLL_AFTER=1
e2e_stack_up
log=$CMPCA_LOG

# metric NAME{LABELS}: the value of one sample in a fresh scrape (0 when
# the sample is absent: counters with no events are not printed).
metric() {
	curl -s "$CMPCA_METRICS_URL" | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
ir_ok='cmpca_requests_total{body="ir",outcome="accepted"}'
conf_ok='cmpca_requests_total{body="certConf",outcome="accepted"}'
rr_ok='cmpca_requests_total{body="rr",outcome="accepted"}'
lat_count=cmpca_request_duration_seconds_count
hsm_count=cmpca_hsm_operation_seconds_count

# cmp_ir NAME SUBJECT: enrolls a new EC key with the demo secret; leaves
# $work/NAME.{key,pem,out}.
cmp_ir() {
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$1.key" 2>/dev/null
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/$1.key" -subject "$2" \
	    -certout "$work/$1.pem" >"$work/$1.out" 2>&1
}

# 1. The endpoint: text format, from localhost only.
code=$(curl -s -o "$work/m0.txt" -w '%{http_code}' "$CMPCA_METRICS_URL")
check "metrics: 200 from 127.0.0.1" test "$code" = 200
check "metrics: text format with TYPE lines" \
    grep -q '^# TYPE cmpca_requests_total counter' "$work/m0.txt"
check "metrics: database gauge up" grep -qx 'cmpca_db_up 1' "$work/m0.txt"
check "metrics: pending approvals gauge" \
    grep -qx 'cmpca_pending_approvals 0' "$work/m0.txt"
check "metrics: a restart counter per worker slot" \
    test "$(grep -c '^cmpca_worker_restarts_total{slot=' "$work/m0.txt")" = 3
# Another loopback address is "another host" to nginx's allow/deny.
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
    "$CMPCA_METRICS_URL")
check "metrics: refused from 127.0.0.2 (nginx deny all)" test "$code" = 403
check "metrics: nginx location allows 127.0.0.1 only" bash -c \
    "nginx -T -c '$CMPCA_VAR/nginx.conf' -p '$CMPCA_VAR' 2>/dev/null |
     grep -A3 'location = /metrics' | grep -q 'allow 127.0.0.1;' &&
     nginx -T -c '$CMPCA_VAR/nginx.conf' -p '$CMPCA_VAR' 2>/dev/null |
     grep -A4 'location = /metrics' | grep -q 'deny all;'"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$CMPCA_METRICS_URL")
check "metrics: POST refused with 405" test "$code" = 405

# 2. Enrollments: counters move by exactly what was sent, in every
#    worker's view (the counters are shared, not per worker).
ir0=$(metric "$ir_ok") conf0=$(metric "$conf_ok") lat0=$(metric "$lat_count")
hsm0=$(metric "$hsm_count")
n=3
for i in $(seq $n); do
	cmp_ir "e$i" "/O=obs/CN=obs-$i" || fail "enroll e$i" "$(tail -n 3 "$work/e$i.out")"
done
check "metrics: ir accepted +$n" test "$(($(metric "$ir_ok") - ir0))" = $n
check "metrics: certConf accepted +$n" test "$(($(metric "$conf_ok") - conf0))" = $n
check "metrics: latency histogram counted $((2 * n)) requests" \
    test "$(($(metric "$lat_count") - lat0))" = $((2 * n))
# One certificate signature each; MAC-protected answers need no HSM.
check "metrics: HSM signing operations timed: +$n" \
    test "$(($(metric "$hsm_count") - hsm0))" = $n
check "metrics: +Inf bucket equals the count" bash -c \
    "curl -s '$CMPCA_METRICS_URL' | awk '
       /^cmpca_request_duration_seconds_bucket\\{le=\"\\+Inf\"\\}/ { b = \$2 }
       /^cmpca_request_duration_seconds_count/ { c = \$2 }
       END { exit !(b == c && c > 0) }'"
for i in 1 2 3 4 5 6; do
	curl -s "$CMPCA_METRICS_URL" | grep '^cmpca_requests_total' >"$work/scrape$i.txt"
done
check "metrics: six scrapes (both workers) agree" bash -c \
    "for i in 2 3 4 5 6; do cmp -s '$work/scrape1.txt' \"$work/scrape\$i.txt\" || exit 1; done"
# Every CMP request so far is one log line; the metrics count the same.
nlog=$(grep -cE '^cmpcad\[[0-9]+\]: info: req [0-9]+ tx=' "$log")
total=$(curl -s "$CMPCA_METRICS_URL" | awk '/^cmpca_requests_total/ { s += $2 } END { print s + 0 }')
check "metrics: requests total ($total) equals log lines ($nlog)" test "$total" = "$nlog"
# Which worker accepts a request is the kernel's choice: sequential
# requests may all land on one. Requests at once need both.
req_pids() { sed -nE 's/^cmpcad\[([0-9]+)\]: info: req .*/\1/p' "$log" | sort -u | wc -l; }
if [ "$(req_pids)" -lt 2 ]; then
	for i in 1 2 3 4; do cmp_ir "p$i" "/O=obs/CN=obs-par-$i" & done
	wait
fi
check "log: request lines from two worker processes" test "$(req_pids)" -ge 2

# 3. The log line of a request: id, transactionID, body, CA, outcome,
#    response body, failinfo, duration.
line='^cmpcad\[[0-9]+\]: info: req [0-9]+ tx=[0-9a-f]{32} body=ir ca=demo sender="secret:demo" subject="/O=obs/CN=obs-1" outcome=accepted resp=ip failinfo=- ms=[0-9]+$'
check "log: ir line with tx, body, CA, subject, outcome, resp, ms" grep -qE "$line" "$log"
tx=$(grep -E 'subject="/O=obs/CN=obs-2"' "$log" | sed -nE 's/.* tx=([0-9a-f]+) .*/\1/p')
check "log: certConf of the same transaction answered with pkiConf" \
    grep -qE "tx=$tx body=certConf ca=demo .*outcome=accepted resp=pkiconf failinfo=- ms=" "$log"
openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:wrong-secret" -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$work/e1.key" -subject "/CN=obs-wrong" -certout "$work/wrong.pem" -unprotected_errors \
    >"$work/wrong.out" 2>&1
check "log: rejection with failinfo and reason" grep -qE \
    'body=ir ca=demo sender="secret:demo" subject="/CN=obs-wrong" outcome=rejected resp=error failinfo=badMessageCheck ms=[0-9]+ why="MAC protection does not verify"' "$log"
check "metrics: rejected ir counted" \
    test "$(metric 'cmpca_requests_total{body="ir",outcome="rejected"}')" = 1

# 4. A hostile subject: ESC sequences, BEL, a newline with a forged log
#    line, quotes. Logged escaped on one line, nothing raw.
evil=$'/CN=x\e[31mred\e[0m\a"q"\ncmpcad[1]: info: req 1 forged'
cmp_ir evil "$evil"
check "hostile subject: logged escaped" grep -qF \
    'subject="/CN=x\x1b[31mred\x1b[0m\x07\"q\"\x0acmpcad[1]: info: req 1 forged"' "$log"
check "hostile subject: no raw ESC or BEL in the log" bash -c \
    "! grep -q \$'[\\x1b\\x07]' '$log'"
check "hostile subject: no forged line" bash -c "! grep -q '^cmpcad\\[1\\]: info: req 1 forged' '$log'"
long=/CN=$(printf 'A%.0s' $(seq 60))/O=$(printf 'B%.0s' $(seq 60))/OU=$(printf 'C%.0s' $(seq 60))
cmp_ir long "$long"
check "long subject: cut at 128 bytes with ..." grep -qE \
    'subject="/CN=A{60}/O=B{60}/\.\.\." ' "$log"

# 5. Revocation over CMP (signed by the certificate), then the audit log.
serial1=$(serial_of "$work/e1.pem") serial2=$(serial_of "$work/e2.pem")
rr0=$(metric "$rr_ok")
if openssl cmp -cmd rr -server "$CMPCA_URL" -cert "$work/e1.pem" \
    -key "$work/e1.key" -oldcert "$work/e1.pem" -trusted "$CMPCA_CA_CERT" \
    -revreason 1 >"$work/rr.out" 2>&1; then
	pass "rr of e1"
else
	fail "rr of e1" "$(tail -n 3 "$work/rr.out")"
fi
check "metrics: rr accepted +1" test "$(($(metric "$rr_ok") - rr0))" = 1
check "log: rr line with resp=rp" grep -qE \
    "body=rr ca=demo sender=\"cert:/O=obs/CN=obs-1\" outcome=accepted resp=rp failinfo=- ms=" "$log"
cli cert revoke "$serial2" --reason 4 >/dev/null 2>&1
cli audit list >"$work/audit.txt" 2>&1
check "audit list: issuance of e1" grep -qE \
    "^[0-9]+	[0-9T:-]+Z	issue	demo	secret:demo	[0-9]+ $serial1 [a-z]+ - -\$" "$work/audit.txt"
check "audit list: CMP revocation of e1" grep -qE \
    "	revoke	demo	cert:/O=obs/CN=obs-1	$serial1\$" "$work/audit.txt"
check "audit list: operator revocation of e2" grep -qE \
    "	revoke	demo	cli	$serial2\$" "$work/audit.txt"
check "audit list: CA creation" grep -qE '	ca-create	demo	cli	' "$work/audit.txt"
check "audit list: newest first" bash -c \
    "cut -f1 '$work/audit.txt' | sort -rn -c"
cli audit list --event revoke >"$work/audit-rr.txt" 2>&1
check "audit list --event revoke: the two revocations only" bash -c \
    "[ \$(wc -l <'$work/audit-rr.txt') = 2 ] && ! cut -f3 '$work/audit-rr.txt' | grep -vqx revoke"
check "audit list --limit 1: one line" test "$(cli audit list --limit 1 | wc -l)" = 1
cli audit list --ca demo --since 1h >"$work/audit-1h.txt" 2>&1
check "audit list --ca demo --since 1h: the issuance" \
    grep -qE "	issue	demo	secret:demo	[0-9]+ $serial1 [a-z]+ - -\$" "$work/audit-1h.txt"
check "audit list --since 2099-01-01: nothing" test -z "$(cli audit list --since 2099-01-01)"
cli audit list --since yesterday >/dev/null 2>&1
check "audit list --since garbage: usage error (2)" test $? = 2
cli audit list --ca nosuch >/dev/null 2>&1
check "audit list --ca unknown: fails" test $? = 1
q "select count(*) from audit where event = 'issue'" >"$work/nissue"
check "audit: one issue row per certificate" test "$(cat "$work/nissue")" = \
    "$(q "select count(*) from cert where requester = 'secret:demo'")"

# 5b. A request waiting for approval: the pending gauge, status
#     --max-pending, and the decision audited under its CA.
apsecret=$(cli secret add approver --profile approval --uses 1 --ca demo)
export APSECRET=$apsecret
openssl ecparam -genkey -name prime256v1 -noout -out "$work/ap.key" 2>/dev/null
openssl cmp -cmd ir -server "$CMPCA_URL" -ref approver -secret env:APSECRET \
    -recipient "$CMPCA_CA_SUBJECT" -newkey "$work/ap.key" \
    -subject /CN=obs-approve -certout "$work/ap.pem" -total_timeout 30 \
    >"$work/ap.out" 2>&1 &
client=$!
id=
for _ in $(seq 40); do
	id=$(cli request list | awk -F'\t' '$5 == "CN=obs-approve" { print $1 }')
	[ -n "$id" ] && break
	sleep 0.25
done
check "approval: request pending" test -n "$id"
check "metrics: pending approvals gauge 1" test "$(metric cmpca_pending_approvals)" = 1
check "metrics: a transaction waiting" \
    test "$(metric 'cmpca_transactions_open{state="waiting"}')" = 1
cli status --max-pending 0 >"$work/stp.txt" 2>&1
rc=$?
check "status --max-pending 0: attention, exit 1" bash -c \
    "[ $rc = 1 ] && grep -qE '^pending approvals +WARN +1 waiting' '$work/stp.txt'"
cli request approve "$id" >/dev/null 2>&1
wait "$client"
check "approval: certificate received after polling" test -s "$work/ap.pem"
check "metrics: pending approvals back to 0" test "$(metric cmpca_pending_approvals)" = 0
check "log: pollReq answered with pollRep while waiting" grep -qE \
    'body=pollReq ca=demo sender="secret:approver" outcome=waiting resp=pollRep failinfo=- ms=' "$log"
cli audit list --ca demo --event request-approve >"$work/audit-ap.txt" 2>&1
check "audit list --ca demo --event request-approve: the decision" test \
    "$(cut -f3-6 "$work/audit-ap.txt")" = "$(printf 'request-approve\tdemo\tcli\t%s' "$id")"

# 6. cmpca status: healthy, then made to need attention by options, then
#    failing (a schema directory ahead of the database; no database).
cli status >"$work/st0.txt" 2>&1
rc=$?
check "status: healthy stack exits 0" test $rc = 0
check "status: table rows" bash -c "grep -qE '^database +ok' '$work/st0.txt' &&
    grep -qE '^hsm +ok' '$work/st0.txt' && grep -qE '^migrations +ok' '$work/st0.txt' &&
    grep -qE '^ca demo cert +ok +valid until' '$work/st0.txt' &&
    grep -qE '^ca demo crl +ok' '$work/st0.txt' &&
    grep -qE '^pending approvals +ok +0 waiting' '$work/st0.txt' &&
    grep -qx 'status: ok' '$work/st0.txt'"
cli status --warn-days 4000 >"$work/st1.txt" 2>&1
rc=$?
check "status --warn-days 4000: CA cert expiring, exit 1" bash -c \
    "[ $rc = 1 ] && grep -qE '^ca demo cert +WARN +expires' '$work/st1.txt'"
cli status --crl-warn-hours 48 >"$work/st2.txt" 2>&1
rc=$?
check "status --crl-warn-hours 48: CRL near nextUpdate, exit 1" bash -c \
    "[ $rc = 1 ] && grep -qE '^ca demo crl +WARN' '$work/st2.txt'"
cli status --warn-days x >/dev/null 2>&1
check "status --warn-days x: usage error (2)" test $? = 2
check "status: the demo CA's OCSP signer ok" \
    grep -qE '^ca demo ocsp signer +ok +signer [0-9]+ valid until' "$work/st0.txt"
# An expired newest signer (the responder then answers tryLater): a row
# whose certificate ended in 2020, made with openssl ca.
mkdir -p "$work/oldca"
(cd "$work/oldca" && : >index.txt && echo 01 >serial &&
 printf '%s\n' '[ca]' 'default_ca = d' '[d]' 'database = index.txt' \
     'new_certs_dir = .' 'serial = serial' 'default_md = sha256' 'policy = p' \
     '[p]' 'commonName = supplied' >ca.cnf &&
 openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
     -keyout k.pem -subj "/CN=expired signer" -out r.csr 2>/dev/null &&
 openssl ca -batch -config ca.cnf -selfsign -keyfile k.pem -in r.csr \
     -startdate 20200101000000Z -enddate 20200102000000Z -out old.pem 2>/dev/null)
old_hex=$(openssl x509 -in "$work/oldca/old.pem" -outform DER | od -An -tx1 | tr -d ' \n')
q "insert into ocsp_signer (ca_id, key_uri, cert) select id, 'pkcs11:token=none;object=expired', decode('$old_hex', 'hex') from ca where label = 'demo'" >/dev/null
cli status >"$work/st5.txt" 2>&1
rc=$?
q "delete from ocsp_signer where key_uri = 'pkcs11:token=none;object=expired'" >/dev/null
check "status: an expired OCSP signer fails (exit 3) and says the responder answers tryLater" bash -c \
    "[ $rc = 3 ] && grep -qE '^ca demo ocsp signer +FAIL +signer [0-9]+ expired 2020-01-02T00:00:00Z: /ocsp answers tryLater' '$work/st5.txt'"
mkdir -p "$work/schema"
cp "$top"/db/schema/*.sql "$work/schema/"
echo 'SELECT 1;' >"$work/schema/999_future.sql"
sed -e "s|^schema_dir = .*|schema_dir = $work/schema|" "$CMPCA_CONF" >"$work/ahead.conf"
env SOFTHSM2_CONF="$SOFTHSM2_CONF" "$bin/cmpca" -c "$work/ahead.conf" status >"$work/st3.txt" 2>&1
rc=$?
check "status: migration not applied, exit 3" bash -c \
    "[ $rc = 3 ] && grep -qE '^migrations +FAIL .*1 shipped migration\(s\) not applied' '$work/st3.txt'"
# The CLI connects with db_operator (the stack sets it): that one is cut.
sed -e 's|^db_operator = .*|db_operator = "host=/nonexistent dbname=none connect_timeout=2"|' \
    "$CMPCA_CONF" >"$work/nodb.conf"
env SOFTHSM2_CONF="$SOFTHSM2_CONF" "$bin/cmpca" -c "$work/nodb.conf" status >"$work/st4.txt" 2>&1
rc=$?
check "status: database unreachable, exit 3" bash -c \
    "[ $rc = 3 ] && grep -qE '^database +FAIL' '$work/st4.txt'"

# 7. Housekeeping of this suite.
check "log: no internal errors" bash -c "! grep -E ': error: ' '$log'"
check "no HSM PIN in the log" bash -c "! grep -qF -- '$(cat "$CMPCA_VAR/hsm/pin")' '$log'"
check "no sanitizer reports" bash -c "! grep -E 'Sanitizer|runtime error' '$log'"
e2e_done
