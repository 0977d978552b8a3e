#!/bin/bash
# End-to-end tests of several CA hosts (issue 25), on scripts/cluster's
# topology: two CA hosts (127.0.1.1, 127.0.1.2) behind one nginx, a
# PostgreSQL primary with a synchronous standby (127.0.2.1, 127.0.2.2),
# one SoftHSM token served by `p11-kit server` to both hosts.
#
# 1. One transaction, several hosts: nginx's round robin sends the ir and
#    the certConf of one `openssl cmp` run to different hosts, and the
#    pollReqs of an approval-profile enrolment to several; the logs show
#    it. Then each message placed on a host chosen for it
#    (tests/e2e/cmproute.py, through each host's own nginx server): the
#    ir on host 1, every pollReq on host 3, the certConf on host 2, for
#    one CertReqMsg (openssl cmp), an ir with two CertReqMsgs (Bouncy
#    Castle) and an RA's nested ir, pollReqs and certConf (Bouncy Castle).
# 2. The HSM host's p11-kit server restarted: both hosts enrol again.
# 3. A CA host killed (SIGKILL) under 8 clients (cmpload --record): nginx
#    routes around it, every transaction is answered, every certificate a
#    client kept is valid in the inventory and no valid certificate is one
#    no client has; after the confirmation timeout nothing is unconfirmed.
#    Then a host stopped (SIGSTOP): the same, its requests time out.
# 4. The PostgreSQL primary killed under load and the standby promoted:
#    the workers find the new primary by themselves (multi-host conninfo,
#    target_session_attrs=read-write), every certificate any client
#    received is in the new primary, one to one; the time without a
#    successful enrolment is printed (not asserted).
#
# usage: tests/e2e/cluster.sh [--bin DIR]   (`make test-cluster`; as root)
# Three CA hosts (127.0.1.1-3). Ports: the front nginx on the first free
# port from 18800 to 18809 (CMPCA_CLUSTER_PORT), the placing relay
# (cmproute.py, 127.0.0.1) on the next free one; FastCGI 18810 and
# PostgreSQL 18811 on the hosts' own addresses. Prints one line per check
# and "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/rel
[ "${1:-}" = "--bin" ] && bin=$2
case $bin in /*) ;; *) bin=$top/$bin ;; esac
npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }
check() { # NAME COMMAND...
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$*"; fi
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

export CMPCA_BIN=$bin
export CMPCA_VAR=$(mktemp -d /tmp/cmpca-cluster.XXXXXX)
chmod 755 "$CMPCA_VAR"
port=${CMPCA_CLUSTER_PORT:-}
if [ -z "$port" ]; then
	for p in $(seq 18800 18809); do
		port_busy "$p" || { port=$p; break; }
	done
fi
export CMPCA_CLUSTER_PORT=${port:?no free port in 18800-18809}
export CMPCA_CLUSTER_FCGI_PORT=${CMPCA_CLUSTER_FCGI_PORT:-18810}
export CMPCA_CLUSTER_PG_PORT=${CMPCA_CLUSTER_PG_PORT:-18811}
export CMPCA_TXN_TIMEOUT=8 CMPCA_HOUSEKEEPING=1 CMPCA_POLL_AFTER=1
export CMPCA_CLUSTER_HOSTS=3
# 8 clients from one address: the CMP limits raised, as tests/e2e/lib.sh
# raises them for every stack.
export CMPCA_NGINX_CMP_RATE=5000 CMPCA_NGINX_CMP_BURST=5000 \
    CMPCA_NGINX_CMP_CONN=1024 CMPCA_NGINX_CMP_ALL_RATE=5000 \
    CMPCA_NGINX_CMP_ALL_CONN=1024
work=$CMPCA_VAR/work
mkdir -p "$work"
var=$CMPCA_VAR
cluster() { CMPCA_VAR=$var "$top/scripts/cluster" "$@"; }
router=
cleanup() {
	[ -n "$router" ] && kill "$router" 2>/dev/null
	cluster down >/dev/null 2>&1
	if [ "$nfail" -gt 0 ]; then
		for l in "$var"/cluster/host*/cmpcad.log; do
			echo "--- $l (tail)"; tail -n 15 "$l"
		done
	fi
	rm -rf "$var"
}
trap cleanup EXIT

if ! cluster up >"$work/up.out" 2>&1; then
	cat "$work/up.out"
	echo "0 passed, 1 failed"
	exit 1
fi
set -a
. "$CMPCA_VAR/cluster/stack.env"
set +a
cli() { eval "$CMPCA_CLI" '"$@"'; }
q() { psql -XqtA "$CMPCA_DB" -c "$1"; }
read -r -a host_urls <<<"$CMPCA_HOST_URLS"
read -r -a host_logs <<<"$CMPCA_HOST_LOGS"
check "cluster status: primary, standby, hsm, three hosts" bash -c \
    "CMPCA_VAR='$var' '$top/scripts/cluster' status | tr '\n' ';' | grep -q 'database 127.0.2.1: up, primary;database 127.0.2.2: up, standby;hsm: up;host1 127.0.1.1: up;host2 127.0.1.2: up;host3 127.0.1.3: up;nginx: up'"
check "the standby is synchronous" test \
    "$(psql -XqtA -h 127.0.2.1 -p "$CMPCA_CLUSTER_PG_PORT" -U postgres -d postgres -c "SELECT sync_state FROM pg_stat_replication")" = sync
check "cmpca status shows the primary it is on" bash -c \
    "cli() { $CMPCA_CLI \"\$@\"; }; cli status | grep -E '^database +ok +.*127\.0\.2\.1.*primary'"

ir() { # NAME URL SUBJECT [openssl cmp options...]
	local n=$1 url=$2 subj=$3
	shift 3
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$n.key" 2>/dev/null
	openssl cmp -cmd ir -server "$url" -ref "${REF:-$CMPCA_SECRET_REF}" \
	    -secret "env:${SECRET_VAR:-CMPCA_SECRET}" -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/$n.key" -subject "$subj" -certout "$work/$n.pem" \
	    "$@" >"$work/$n.out" 2>&1
}
# on_hosts TX BODY: the hosts (1 2 ...) whose log has TX's BODY message.
on_hosts() {
	local i out=
	for i in "${!host_logs[@]}"; do
		grep -q "tx=$1 body=$2 " "${host_logs[$i]}" && out="$out $((i + 1))"
	done
	echo "${out# }"
}
tx_of() { # SUBJECT: the transactionID of that subject's ir
	grep -ho "tx=[0-9a-f]* body=ir .*subject=\"$1\"" "${host_logs[@]}" | head -n 1 |
	    sed 's/tx=\([0-9a-f]*\).*/\1/'
}

# 1. One transaction across hosts.
check "a host of its own answers (host1)" ir h1 "${host_urls[0]}" /CN=cluster-h1
check "a host of its own answers (host2)" ir h2 "${host_urls[1]}" /CN=cluster-h2
check "ir + certConf through the front" ir rr1 "$CMPCA_URL" /CN=cluster-rr1
tx=$(tx_of /CN=cluster-rr1)
a=$(on_hosts "$tx" ir)
b=$(on_hosts "$tx" certConf)
check "ir on one host, certConf on the other (ir: host $a, certConf: host $b)" \
    test -n "$a" -a -n "$b" -a "$a" != "$b"
check "that certificate is valid in the inventory" test \
    "$(q "SELECT status FROM cert WHERE subject = 'CN=cluster-rr1'")" = valid
(umask 077; cli secret add appr --profile approval --uses -1 >"$work/appr.secret" 2>/dev/null)
export APPR_SECRET=$(cat "$work/appr.secret")
REF=appr SECRET_VAR=APPR_SECRET ir poll "$CMPCA_URL" /CN=cluster-poll &
poller=$!
id=
for _ in $(seq 100); do
	id=$(q "SELECT id FROM pending_req WHERE subject LIKE '%cluster-poll%' AND status = 'pending'" 2>/dev/null)
	[ -n "$id" ] && break
	sleep 0.1
done
sleep 3 # some pollReqs on both hosts first
check "the operator approves on the primary" cli request approve "$id"
wait "$poller"
check "the polling client got its certificate" test -s "$work/poll.pem"
tx=$(tx_of /CN=cluster-poll)
check "pollReqs of one transaction on several hosts (hosts: $(on_hosts "$tx" pollReq))" \
    test "$(on_hosts "$tx" pollReq | wc -w)" -ge 2
check "the polled certificate is valid in the inventory" test \
    "$(q "SELECT status FROM cert WHERE subject = 'CN=cluster-poll'")" = valid

# 1b. Each message placed on a host of its own: ir on host 1, pollReq on
#     host 3, certConf on host 2 (cmproute.py sends each request through
#     that host's own nginx server, 127.0.1.N:PORT), on the approval
#     profile so that the transaction has all three.
rport=
for p in $(seq $((CMPCA_CLUSTER_PORT + 1)) 18809); do
	port_busy "$p" || { rport=$p; break; }
done
hp() { echo "http://127.0.1.$1:$CMPCA_CLUSTER_PORT"; }
python3 "$top/tests/e2e/cmproute.py" "${rport:-0}" "$work/route.log" \
    ir="$(hp 1)" pollReq="$(hp 3)" certConf="$(hp 2)" 2>"$work/route.err" &
router=$!
for _ in $(seq 50); do port_busy "${rport:-0}" && break; sleep 0.1; done
check "the placing relay listens (127.0.0.1:${rport:-none})" port_busy "${rport:-0}"
rurl=http://127.0.0.1:$rport/.well-known/cmp
for k in pl1 pl2 pl3; do
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$k.key" 2>/dev/null
done
ir ra "$CMPCA_URL" /CN=cluster-ra
check "an RA registered (cmpca ra add)" cli ra add clra --cert "$work/ra.pem"
# bcl NAME COMMAND [options...]: the Bouncy Castle client through the
# relay, on the approval secret.
bcl() {
	local n=$1
	shift
	"$top/tests/bc/cmpclient" "$@" --url "$rurl" --ca-cert "$CMPCA_CA_CERT" \
	    --ref appr --secret-env APPR_SECRET --out-dir "$work/$n" \
	    >"$work/$n.out" 2>"$work/$n.err"
}
"$top/tests/bc/cmpclient" --build >/dev/null 2>&1
REF=appr SECRET_VAR=APPR_SECRET ir plone "$rurl" /CN=cluster-pl-one &
c1=$!
bcl plmulti ir --key "$work/pl1.key" --subject /CN=cluster-pl-multi-0 \
    --key "$work/pl2.key" --subject /CN=cluster-pl-multi-1 &
c2=$!
bcl plnest ir --key "$work/pl3.key" --subject /CN=cluster-pl-nested \
    --nested-ra-cert "$work/ra.pem" --nested-ra-key "$work/ra.key" &
c3=$!
# Four requests waiting (one, two of the multi, the nested one), each
# approved on the primary as it comes.
ids=
for _ in $(seq 300); do
	ids=$(q "SELECT id FROM pending_req WHERE subject LIKE '%cluster-pl-%' AND status = 'pending'" 2>/dev/null)
	for id in $ids; do cli request approve "$id" >/dev/null 2>&1; done
	[ "$(q "SELECT count(*) FROM pending_req WHERE subject LIKE '%cluster-pl-%' AND status = 'approved'")" = 4 ] && break
	sleep 0.1
done
check "four placed requests waited for approval and were approved" test \
    "$(q "SELECT count(*) FROM pending_req WHERE subject LIKE '%cluster-pl-%' AND status = 'approved'")" = 4
wait "$c1" "$c2" "$c3"
# placed NAME TX: ir only on host 1, pollReq only on host 3, certConf
# only on host 2, by the hosts' own logs.
placed() {
	test "$(on_hosts "$2" ir)|$(on_hosts "$2" pollReq)|$(on_hosts "$2" certConf)" = "1|3|2"
}
tx=$(tx_of /CN=cluster-pl-one)
check "one CertReqMsg: ir on host $(on_hosts "$tx" ir), pollReq on host $(on_hosts "$tx" pollReq), certConf on host $(on_hosts "$tx" certConf)" \
    placed one "$tx"
check "one CertReqMsg: the client got its certificate, valid in the inventory" test \
    -s "$work/plone.pem" -a "$(q "SELECT status FROM cert WHERE subject = 'CN=cluster-pl-one'")" = valid
tx=$(sed -n 's/^body=ip .*txid=\([0-9a-f]*\).*/\1/p' "$work/plmulti.out" | head -n 1)
check "two CertReqMsgs: ir on host $(on_hosts "$tx" ir), pollReq on host $(on_hosts "$tx" pollReq), certConf on host $(on_hosts "$tx" certConf)" \
    placed multi "$tx"
check "two CertReqMsgs: both certificates valid, certReqId 0 and 1" test \
    "$(q "SELECT string_agg(cert_req_id || ' ' || status, ',' ORDER BY cert_req_id) FROM cert WHERE txid = '\\x$tx'::bytea")" = "0 valid,1 valid"
check "two CertReqMsgs: the client got both and confirmed them" bash -c \
    "[ -s '$work/plmulti/cert-0.pem' ] && [ -s '$work/plmulti/cert-1.pem' ] && grep -q '^body=pkiconf' '$work/plmulti.out'"
tx=$(sed -n 's/^body=ip .*nested=1.*/&/p' "$work/plnest.out" | grep -o 'txid=[0-9a-f]*' | head -n 1 | cut -d= -f2)
check "nested (RA): ir on host $(on_hosts "$tx" ir), pollReq on host $(on_hosts "$tx" pollReq), certConf on host $(on_hosts "$tx" certConf)" \
    placed nested "$tx"
check "nested (RA): every message went nested (the hosts logged them so)" test \
    "$(grep -h "(nested) tx=$tx " "${host_logs[@]}" | wc -l)" -ge 3
check "nested (RA): the client got its certificate, valid in the inventory" test \
    -s "$work/plnest/cert-0.pem" -a "$(q "SELECT status FROM cert WHERE subject = 'CN=cluster-pl-nested'")" = valid
check "nested (RA): the outer messages recorded as the RA's (ir, pollReqs, certConf)" test \
    "$(q "SELECT count(*) FROM cmp_txn WHERE kind = 'nested' AND sender = 'ra:clra'")" -ge 3
check "the relay placed every request as routed (route.log)" bash -c \
    "[ -s '$work/route.log' ] && ! grep -Evq '^(ir -> $(hp 1)|pollReq -> $(hp 3)|certConf -> $(hp 2)) 200\$' '$work/route.log'"
kill "$router" 2>/dev/null
wait "$router" 2>/dev/null
router=

# 2. The HSM host restarted.
cluster fail hsm >/dev/null 2>&1
ok_after() { # N URL: an ir succeeds within N tries, 1 s apart
	local i
	for i in $(seq "$1"); do
		ir "hsm$RANDOM" "$2" "/CN=cluster-hsm-$RANDOM" && return 0
		sleep 1
	done
	return 1
}
check "after the p11-kit server restarted: host1 enrols again" ok_after 20 "${host_urls[0]}"
check "after the p11-kit server restarted: host2 enrols again" ok_after 20 "${host_urls[1]}"
check "the hosts saw the token go and reopened their sessions" bash -c \
    "grep -q 'hsm: token cmpca unavailable' ${host_logs[*]} &&
     grep -q 'hsm: token cmpca back: session reopened' ${host_logs[*]}"

# load NAME SECS: cmpload, 8 clients of ir with certConf, recorded.
load() {
	"$bin/cmpload" --url "$CMPCA_URL" --clients 8 --duration "$2" --kind ir \
	    --ref "$CMPCA_SECRET_REF" --secret-env CMPCA_SECRET \
	    --recipient "$CMPCA_CA_SUBJECT" --cacert "$CMPCA_CA_CERT" \
	    --prefix "$1-" --record "$work/$1.rec" --pause-on-error 200 \
	    >"$work/$1.out" 2>&1
}
# the_books NAME: what the clients received against the inventory, in
# one query (a psql per certificate would take minutes at thousands):
# every "ok" valid, every "unconfirmed" present.
the_books() {
	local n=$1
	q "SELECT serial || ' ' || status FROM cert WHERE subject LIKE 'CN=$n-%'" \
	    >"$work/$n.inv"
	awk 'FILENAME == ARGV[1] { st[$1] = $2; next }
	    $1 == "ok" && st[$4] != "valid" { print "ok " $4 " is \"" st[$4] "\""; bad = 1 }
	    $1 == "unconfirmed" && !($4 in st) { print "unconfirmed " $4 " missing"; bad = 1 }
	    END { exit bad }' "$work/$n.inv" "$work/$n.rec"
}
valid_nobody_has() { # NAME: valid certificates of that run no client received
	local n=$1
	q "SELECT serial FROM cert WHERE status = 'valid' AND subject LIKE 'CN=$n-%'" |
	    sort >"$work/$n.db"
	# Received: "ok", and "unconfirmed" (the certificate came in the ip,
	# the certConf's answer did not: a host that confirmed and died).
	awk '$1 == "ok" || $1 == "unconfirmed" { print $4 }' "$work/$n.rec" |
	    sort >"$work/$n.ok"
	comm -23 "$work/$n.db" "$work/$n.ok"
}

# 3. A CA host killed, then a host stopped, under load.
load hostkill 14 &
lp=$!
sleep 4
cluster fail host1 >/dev/null 2>&1
wait "$lp"
check "host kill: the load ran ($(grep -o 'done=[0-9]* errors=[0-9]*' "$work/hostkill.out"))" \
    grep -Eq 'done=[1-9]' "$work/hostkill.out"
check "host kill: every transaction answered (ok, unconfirmed or fail)" bash -c \
    "[ -s '$work/hostkill.rec' ] && ! grep -Evq '^(ok|unconfirmed|fail) ' '$work/hostkill.rec'"
check "host kill: most transactions after the kill succeed (nginx routes around it)" bash -c \
    "[ \$(awk '\$1 == \"ok\"' '$work/hostkill.rec' | wc -l) -gt \$((\$(wc -l <'$work/hostkill.rec') * 8 / 10)) ]"
check "host kill: every certificate a client kept is valid in the inventory" the_books hostkill
sleep $((CMPCA_TXN_TIMEOUT + 3))
check "host kill: no valid certificate that no client received" test -z "$(valid_nobody_has hostkill)"
check "host kill: nothing unconfirmed after the confirmation timeout" test \
    "$(q "SELECT count(*) FROM cert WHERE status = 'unconfirmed'")" = 0
check "host1 restarted" cluster recover host1
check "host1 answers again" ir back1 "${host_urls[0]}" /CN=cluster-back1

load hoststop 14 &
lp=$!
sleep 4
cluster fail host2 stop >/dev/null 2>&1
sleep 6
cluster recover host2 >/dev/null 2>&1
wait "$lp"
check "host stop: every transaction answered" bash -c \
    "[ -s '$work/hoststop.rec' ] && ! grep -Evq '^(ok|unconfirmed|fail) ' '$work/hoststop.rec'"
check "host stop: every certificate a client kept is valid in the inventory" the_books hoststop
sleep $((CMPCA_TXN_TIMEOUT + 3))
check "host stop: no valid certificate that no client received" test -z "$(valid_nobody_has hoststop)"
check "host stop: nothing unconfirmed after the confirmation timeout" test \
    "$(q "SELECT count(*) FROM cert WHERE status = 'unconfirmed'")" = 0

# 4. The primary killed, the standby promoted, under load.
load failover 16 &
lp=$!
sleep 4
t_fail=$(date +%s.%N)
cluster fail primary >"$work/failover.out" 2>&1
check "the standby promoted" grep -q promoted "$work/failover.out"
wait "$lp"
check "failover: the load ran ($(grep -o 'done=[0-9]* errors=[0-9]*' "$work/failover.out"))" \
    grep -Eq 'done=[1-9]' "$work/failover.out"
check "failover: the new primary is 127.0.2.2" bash -c \
    "CMPCA_VAR='$var' '$top/scripts/cluster' status | grep -q 'database 127.0.2.2: up, primary'"
check "failover: the hosts enrol again on the new primary" ok_after 20 "$CMPCA_URL"
check "failover: every certificate any client received is in the new primary" the_books failover
check "failover: and so is every one of the runs before it" bash -c \
    "$(declare -f the_books q); work='$work' CMPCA_DB='$CMPCA_DB'; the_books hostkill && the_books hoststop"
gap=$(awk '$1 == "ok" { print $2 }' "$work/failover.rec" | sort -n |
    awk 'NR > 1 && $1 - prev > max { max = $1 - prev } { prev = $1 }
	END { printf "%.1f", max }')
echo "info failover: the longest time without a completed enrolment was ${gap:-?} s (8 clients)"
check "cmpcad still running on every host" bash -c \
    "CMPCA_VAR='$var' '$top/scripts/cluster' status >'$work/status.end' &&
     grep -q 'host1 127.0.1.1: up' '$work/status.end' &&
     grep -q 'host2 127.0.1.2: up' '$work/status.end' &&
     grep -q 'host3 127.0.1.3: up' '$work/status.end'"
check "no PIN in any host log" bash -c \
    "! grep -qF \"\$(cat '$var/cluster/hsm/pin')\" ${host_logs[*]}"
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
