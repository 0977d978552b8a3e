#!/bin/bash
# End-to-end abuse test (issue 33): each attack of an unauthenticated
# client runs beside a legitimate one (`openssl cmp -cmd ir` every 0.25 s
# with the demo secret), against a stack with 2 workers and the shipped
# nginx limits, and the legitimate client must still enroll (>= 95 %):
#   1. 400 concurrent connections of max-cost MAC requests (PBMAC1,
#      HMAC-SHA512, pbm_max_iterations, a senderKID of no secret);
#   2. 2,100 slow connections (a header, or a declared 256 KiB body, one
#      byte every 10 s);
#   3. OCSP requests with nonces from 8 loopback addresses.
# Then: requests whose client has gone are not computed, and the master's
# watchdog kills a worker stuck in one request (worker_timeout). The
# attackers come from 127.0.0.2-9, the legitimate client from 127.0.0.1.
# Latencies are printed as info lines, not asserted (make bench has the
# rows). ABUSE_SECS (20) seconds per attack. A fresh stack in a temporary
# directory, on CMPCA_ABUSE_TEST_PORT, else the first free port from 18700
# to 18709.
#
# usage: tests/e2e/abuse.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
export LC_ALL=C
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source=abuselib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/abuselib.sh"
e2e_setup abuse 18700 --port-var CMPCA_ABUSE_TEST_PORT --scan-to 18709 -- "$@"
# The shipped nginx limits, not the relaxed ones of the other suites.
e2e_shipped_limits
SECS=${ABUSE_SECS:-20}
# 2,100 connections of the attacker, each of which nginx answers with
# another descriptor: this shell's limit, which the tools inherit.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export CMPCA_WORKERS=2
printf '[cmpca]\nworker_timeout = 3\n' >"$work/extra.conf"
export CMPCA_CONF_EXTRA=$work/extra.conf
e2e_stack_up
export CMPCA_SECRET
master=$CMPCA_CMPCAD_PID
metric() { # NAME: the sum of that metric's samples
	curl -s "$CMPCA_METRICS_URL" | awk -v m="$1" \
	    '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'
}
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

check "descriptor limit raised for 2,100 connections" at_least "$(ulimit -n)" 4500
check "nginx carries the shipped limits, unchanged" \
    bash -c "cmp '$top/nginx/cmpca-limits.conf' '$CMPCA_VAR/nginx-limits.conf' &&
	cmp '$top/nginx/cmp-locations.conf' '$CMPCA_VAR/cmp-locations.conf'"
check "attack material built" abuse_material

# run_attack NAME MODE ARGS...: the attack beside the legitimate client.
run_attack() {
	local name=$1 mode=$2 st
	shift 2
	attack "$mode" "$SECS" "$@"
	sleep 2 # the attack is up before the client starts
	legit_run $((SECS - 3)) "$work/legit-$mode.txt"
	wait "$attack_pid"
	st=$(legit_stats "$work/legit-$mode.txt")
	echo "info $name: legitimate client $st; attacker $(cat "$work/attack-$mode.out")"
	check "$name: legitimate enrolments >= 95 % ($st)" \
	    at_least "$(kv_of "$st" pct)" 95
	# Four a second were started: at least half of them, so that the
	# percentage above is over enough enrolments.
	check "$name: the legitimate client enrolled at least $(((SECS - 3) * 2)) times" \
	    at_least "$(kv_of "$st" ok)" $(((SECS - 3) * 2))
}
kv_of() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

# 1. Max-cost MAC requests.
run_attack "400 max-cost MAC connections" mac --conns 400 --addr 127.0.0.2 \
    --body "$work/max.der"
a=$(cat "$work/attack-mac.out")
check "MAC flood: nginx refused most of it (429)" at_least "$(kv_of "$a" http429)" 1000
check "MAC flood: cmpcad answered some of it (200, badMessageCheck)" \
    at_least "$(kv_of "$a" http200)" 100
check "MAC flood: the daemon's master is the same process" kill -0 "$master"

# 2. Slow connections.
run_attack "2,100 slow connections" slow --conns 2100 --addr 127.0.0.2 --every 10
a=$(cat "$work/attack-slow.out")
check "slow: 2,100 connections were opened" at_least "$(kv_of "$a" opened)" 2100
check "slow: nginx closed the stalled ones (timeouts, limit_conn)" \
    at_least "$(kv_of "$a" closed)" 1000
check "slow: nginx never ran out of worker_connections" \
    bash -c "! grep -q 'worker_connections are not enough' '$CMPCA_VAR/nginx-error.log'"

# 3. OCSP from 8 addresses.
run_attack "OCSP from 8 addresses" ocsp --conns 8 --addrs 2-9 \
    --body "$work/ocsp.req"
a=$(cat "$work/attack-ocsp.out")
check "OCSP flood: answered (200)" at_least "$(kv_of "$a" http200)" 100
# nginx's per-address limit (50/s, burst 100): whether 8 addresses pass
# it depends on how fast this machine lets the attacker send; one address
# with 32 connections for 5 s passes it at any rate above 70/s (the 8
# addresses above made 330/s together on a loaded machine).
attack ocsp 5 --conns 32 --addrs 10-10 --body "$work/ocsp.req"
wait "$attack_pid"
a=$(cat "$work/attack-ocsp.out")
check "OCSP from one address: cut by nginx's per-address limit (429) ($a)" \
    at_least "$(kv_of "$a" http429)" 1

# 4. Clients that leave: with the workers stopped, 12 requests wait in
# the FastCGI backlog while their clients give up after 0.5 s; nginx
# closes those connections, and the workers, once they run again, skip
# each request instead of deriving its key.
gone0=$(metric cmpca_client_gone_total)
computed0=$(grep -c 'sender="secret:no-such-ref"' "$CMPCA_LOG")
workers=$(ps --ppid "$master" -o pid= | tr '\n' ' ')
kill -STOP $workers
for _ in $(seq 12); do
	curl -s -m 0.5 -o /dev/null -H 'Content-Type: application/pkixcmp' \
	    --data-binary @"$work/max.der" "$CMPCA_URL" &
done
wait
sleep 0.5
kill -CONT $workers
sleep 2
gone=$(($(metric cmpca_client_gone_total) - gone0))
computed=$(($(grep -c 'sender="secret:no-such-ref"' "$CMPCA_LOG") - computed0))
echo "info 12 requests whose clients left while the workers were stopped: $gone not computed, $computed computed"
check "requests whose client had gone were not computed (12 of 12)" test "$gone" = 12 -a "$computed" = 0
check "log names them" grep -q "client gone before the request was served" "$CMPCA_LOG"

# 5. The watchdog: the workers' database sessions stopped, one request
# hangs in its worker; after worker_timeout (3 s) the master kills it,
# says so and counts it; the database back, everything serves again.
pids=$(psql -XqtA "$CMPCA_DB" -c "SELECT pid FROM pg_stat_activity
    WHERE usename = 'cmpca_daemon'")
kill -STOP $pids 2>/dev/null
curl -s -m 15 -o /dev/null -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$work/unknown.der" "$CMPCA_URL" &
hang=$!
for _ in $(seq 80); do
	grep -q "more than worker_timeout" "$CMPCA_LOG" && break
	sleep 0.1
done
kill -CONT $pids 2>/dev/null
wait "$hang"
check "watchdog: a worker stuck in one request was killed and logged" \
    grep -q "inside one request for [0-9]* s, more than worker_timeout 3: killed" "$CMPCA_LOG"
check "watchdog: counted in /metrics" at_least "$(metric cmpca_worker_watchdog_total)" 1
check "watchdog: the master is the same process" kill -0 "$master"
legit_run 3 "$work/legit-after.txt"
st=$(legit_stats "$work/legit-after.txt")
check "after the watchdog: the legitimate client enrolls ($st)" \
    at_least "$(kv_of "$st" pct)" 95
check "no worker died otherwise (no crash)" \
    bash -c "! grep -q 'killed by signal 1[01]' '$CMPCA_LOG'"

# 6. Back-off per slot, and the master never sleeps: a worker killed
# twice right after its start waits 2 s for its respawn, and meanwhile
# the other worker, killed too, is back at once.
# (The housekeeper and the CoAP worker are children too: not counted.)
hk=$(sed -n 's/^cmpcad\[\([0-9]*\)\]: info: housekeeper ready$/\1/p' "$CMPCA_LOG" | tail -n 1)
cw=$(sed -n 's/^cmpcad\[\([0-9]*\)\]: info: coap: listening on udp .*/\1/p' "$CMPCA_LOG" | tail -n 1)
workers_now() { ps --ppid "$master" -o pid= | tr -d ' ' | grep -vx -e "$hk" -e "$cw" | sort; }
# new_worker OLD-LIST: waits up to 5 s for a worker not in OLD-LIST.
new_worker() {
	local p
	for _ in $(seq 50); do
		p=$(workers_now | grep -vxF -f <(printf '%s\n' $1) | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}
# ready PID: waits up to 5 s for worker PID to log "worker ready"; prints
# it. A worker is killed only then: SoftHSM rewrites its token.object on
# every C_Login, and a SIGKILL in the middle of that write leaves a token
# no process finds again ("hsm: token not found" at every respawn after
# it; seen once in a CI run).
ready() {
	for _ in $(seq 50); do
		grep -q "^cmpcad\[$1\]: info: worker ready" "$CMPCA_LOG" &&
		    { echo "$1"; return 0; }
		sleep 0.1
	done
	return 1
}
set -- $(workers_now)
w1=$1 w2=${2:-}
kill -9 "$w1"
w1=$(new_worker "$w1 $w2") && w1=$(ready "$w1") && kill -9 "$w1" # dies at start: 1 s
w1=$(new_worker "$w1 $w2") && w1=$(ready "$w1") && kill -9 "$w1" # again: 2 s
t0=$(date +%s%N)
kill -9 "$w2"
w2b=$(new_worker "$w1 $w2")
t1=$(date +%s%N)
left=$(workers_now | wc -l)
echo "info the other worker was back after $(((t1 - t0) / 1000000)) ms, while one slot waited"
check "back-off: the slot that died at start waits 2 s" grep -q "respawn in 2 s" "$CMPCA_LOG"
check "back-off: meanwhile the other slot was respawned at once (< 1.5 s)" \
    test -n "$w2b" -a $(((t1 - t0) / 1000000)) -lt 1500
check "back-off: and the waiting slot was still waiting then" test "$left" = 1
# The waiting slot's respawn is due 2 s after its death; a worker then
# takes its time to log in (longer under the sanitizers): wait for it.
both_back() {
	for _ in $(seq 150); do
		[ "$(workers_now | wc -l)" = 2 ] && return 0
		sleep 0.1
	done
	return 1
}
check "back-off: both slots serve again (within 15 s)" both_back

stack_down
e2e_done
