#!/bin/bash
# End-to-end concurrency test: many clients at once against one stack with
# four workers. 40 `openssl cmp -cmd ir` clients (4 waves of 10, explicit
# certConf, each its own key and subject) run while 10 Bouncy Castle
# clients (tests/bc/cmpclient, 3 CertReqMsgs each) enroll in the
# background. Then: every client succeeded; every certificate chains to the
# CA, carries its key and subject and is valid in the database; the valid
# certificates in the database are exactly the ones the clients received
# (one to one by serial); and the daemon log shows transactions whose ir
# and certConf were served by different worker processes (RFC 9810
# transactions with no per-worker state).
#
# A fresh stack in a temporary directory: CMPCA_WORKERS=4, on
# CMPCA_CONC_TEST_PORT, else the first free port from 18500.
#
# usage: tests/e2e/concurrency.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup conc 18500 --port-var CMPCA_CONC_TEST_PORT --scan-to 18520 -- "$@"
export CMPCA_WORKERS=4

# Sizes: N_OSSL openssl clients in waves of WAVE, N_BC Bouncy Castle
# clients with PER_BC CertReqMsgs each; LIMIT seconds for all of them.
N_OSSL=40 WAVE=10 N_BC=10 PER_BC=3 LIMIT=60

# all NAME FILE: passes if FILE (one failing item per line) is empty.
all() {
	if [ ! -s "$2" ]; then pass "$1"; else fail "$1" "$(wc -l <"$2") failed: $(head -n 5 "$2" | tr '\n' ' ')"; fi
}

e2e_build_bc_client
e2e_stack_up
# Both clients read the secret from the environment, never from argv.
export CMPCA_SECRET

check "stack runs 4 workers" test "$(grep -c '^workers = 4$' "$CMPCA_CONF")" = 1

# One key per openssl client, made before the clock starts.
for i in $(seq 1 "$N_OSSL"); do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$work/ossl-$i.key" 2>/dev/null
done

ossl() { # i: one openssl cmp ir with explicit certConf
	local i=$1
	timeout 50 openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/ossl-$i.key" -subject "/O=Example/CN=conc-ossl-$i" \
	    -certout "$work/ossl-$i.pem" -unprotected_errors \
	    -msg_timeout 30 -total_timeout 45 >"$work/ossl-$i.out" 2>&1
	echo $? >"$work/ossl-$i.rc"
}
bcc() { # i: one Bouncy Castle ir with PER_BC CertReqMsgs and certConf
	local i=$1 j args=()
	for j in $(seq 0 $((PER_BC - 1))); do
		args+=(--newkey ec:P-256 --subject "/O=Example/CN=conc-bc-$i-$j")
	done
	timeout 50 "$top/tests/bc/cmpclient" ir --url "$CMPCA_URL" \
	    --ref "$CMPCA_SECRET_REF" --secret-env CMPCA_SECRET \
	    --ca-cert "$CMPCA_CA_CERT" --out-dir "$work/bc-$i" "${args[@]}" \
	    >"$work/bc-$i.out" 2>"$work/bc-$i.err"
	echo $? >"$work/bc-$i.rc"
}

# The Bouncy Castle clients start first; the JVMs take a few seconds to
# start, so the openssl waves begin when the first of their requests has
# reached the CA, and run while the others are busy.
t0=$(date +%s.%N)
bc_pids=()
for i in $(seq 1 "$N_BC"); do
	bcc "$i" &
	bc_pids+=($!)
done
for _ in $(seq 300); do
	grep -q ' body=ir ' "$CMPCA_LOG" && break
	sleep 0.1
done
t_ossl0=$(date +%s.%N)
for w in $(seq 0 $((N_OSSL / WAVE - 1))); do
	pids=()
	for i in $(seq $((w * WAVE + 1)) $((w * WAVE + WAVE))); do
		ossl "$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
done
t_ossl=$(date +%s.%N)
wait "${bc_pids[@]}"
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
printf 'info openssl waves started after %.1f s, done after %.1f s; all %d clients done after %s s\n' \
    "$(awk -v a="$t0" -v b="$t_ossl0" 'BEGIN { print b - a }')" \
    "$(awk -v a="$t0" -v b="$t_ossl" 'BEGIN { print b - a }')" \
    $((N_OSSL + N_BC)) "$secs"
check "all clients finished within $LIMIT s" awk -v s="$secs" -v l="$LIMIT" 'BEGIN { exit !(s < l) }'

# ---- every client succeeded ----
: >"$work/bad-ossl"
for i in $(seq 1 "$N_OSSL"); do
	if [ "$(cat "$work/ossl-$i.rc")" != 0 ] || [ ! -s "$work/ossl-$i.pem" ] ||
	    ! grep -q "received PKICONF" "$work/ossl-$i.out"; then
		echo "ossl-$i(rc=$(cat "$work/ossl-$i.rc"): $(grep -m1 -i error "$work/ossl-$i.out"))" >>"$work/bad-ossl"
	fi
done
all "all $N_OSSL openssl clients: ip, certConf, pkiConf, exit 0" "$work/bad-ossl"

: >"$work/bad-bc"
for i in $(seq 1 "$N_BC"); do
	o=$work/bc-$i.out
	st=$(awk 'NR == 1 { for (k = 1; k <= NF; k++) if ($k ~ /^status\[[0-9]+\]=/) { sub(/^status\[[0-9]+\]=/, "", $k); printf "%s", $k } }' "$o" 2>/dev/null)
	want=$(printf '0%.0s' $(seq 1 "$PER_BC"))
	if [ "$(cat "$work/bc-$i.rc")" != 0 ] || ! head -n 1 "$o" | grep -q '^body=ip .* mac=ok ' ||
	    [ "$st" != "$want" ] || [ "$(sed -n 2p "$o" | cut -d' ' -f1)" != body=pkiconf ]; then
		echo "bc-$i(rc=$(cat "$work/bc-$i.rc") $(head -c 200 "$o") $(tail -n 1 "$work/bc-$i.err"))" >>"$work/bad-bc"
	fi
done
all "all $N_BC Bouncy Castle clients: ip with $PER_BC accepted, pkiConf, exit 0" "$work/bad-bc"

# ---- every certificate: chains, its key, its subject, valid ----
# certs.txt: certificate file, key file, expected subject (RFC 2253).
: >"$work/certs.txt"
for i in $(seq 1 "$N_OSSL"); do
	echo "$work/ossl-$i.pem $work/ossl-$i.key CN=conc-ossl-$i,O=Example" >>"$work/certs.txt"
done
for i in $(seq 1 "$N_BC"); do
	for j in $(seq 0 $((PER_BC - 1))); do
		echo "$work/bc-$i/cert-$j.pem $work/bc-$i/key-$j.pem CN=conc-bc-$i-$j,O=Example" >>"$work/certs.txt"
	done
done
expected=$((N_OSSL + N_BC * PER_BC))
: >"$work/bad-verify" ; : >"$work/bad-key" ; : >"$work/bad-subject"
: >"$work/received-serials"
while read -r cert key subj; do
	if [ ! -s "$cert" ]; then
		echo "$(basename "$cert"): missing" >>"$work/bad-verify"
		continue
	fi
	openssl verify -CAfile "$CMPCA_CA_CERT" "$cert" >/dev/null 2>&1 ||
	    echo "${cert#$work/}" >>"$work/bad-verify"
	same_pubkey "$cert" "$key" || echo "${cert#$work/}" >>"$work/bad-key"
	[ "$(subject_of "$cert")" = "$subj" ] || echo "${cert#$work/}" >>"$work/bad-subject"
	serial_of "$cert" >>"$work/received-serials"
done <"$work/certs.txt"
all "all $expected certificates chain to the CA" "$work/bad-verify"
all "all $expected certificates carry the client's key" "$work/bad-key"
all "all $expected certificates carry the requested subject" "$work/bad-subject"
sort "$work/received-serials" >"$work/received.sorted"
check "clients received $expected certificates with distinct serials" \
    test "$(sort -u "$work/received.sorted" | wc -l)" = "$expected"

# ---- the database agrees, one to one by serial ----
# The stack's OCSP signer (cmpca ocsp signer) is in the inventory too.
q "select serial from cert where status = 'valid' and profile is distinct from 'ocsp-signer'" | sort >"$work/db-valid.sorted"
q "select serial || ' ' || status from cert where status <> 'valid'" >"$work/db-other"
check "database: $expected valid certificates" test "$(wc -l <"$work/db-valid.sorted")" = "$expected"
comm -3 "$work/received.sorted" "$work/db-valid.sorted" >"$work/bad-db"
all "database: valid certificates are exactly the ones received (by serial)" "$work/bad-db"
all "database: no certificate in another state" "$work/db-other"
check "database: $((N_OSSL + N_BC)) transactions, all done" test \
    "$(q "select count(*) || ' ' || count(*) filter (where state = 'done') from cmp_txn")" = \
    "$((N_OSSL + N_BC)) $((N_OSSL + N_BC))"

# ---- the log: ir and certConf of one transaction on different workers ----
# "cmpcad[PID]: info: req N tx=HEX body=ir|certConf ... outcome=..."
sed -nE 's/^cmpcad\[([0-9]+)\]: info: req [0-9]+ tx=([0-9a-f]+) body=(ir|certConf) .*outcome=([a-z-]+).*/\2 \3 \1 \4/p' \
    "$CMPCA_LOG" >"$work/log.txt"
check "log: one ir and one certConf line per transaction" test \
    "$(awk '{ n[$2]++ } END { print n["ir"] + 0, n["certConf"] + 0 }' "$work/log.txt")" = \
    "$((N_OSSL + N_BC)) $((N_OSSL + N_BC))"
awk '$4 != "accepted"' "$work/log.txt" >"$work/bad-log"
all "log: every ir and certConf accepted" "$work/bad-log"
split=$(awk '$2 == "ir" { ir[$1] = $3 } $2 == "certConf" { cc[$1] = $3 }
    END { n = 0; for (t in ir) if ((t in cc) && ir[t] != cc[t]) n++; print n }' "$work/log.txt")
pids=$(awk '{ print $3 }' "$work/log.txt" | sort -u | wc -l)
echo "info $split of $((N_OSSL + N_BC)) transactions had ir and certConf on different workers; $pids worker pids served them"
check "log: at least one transaction's ir and certConf on different worker pids" test "$split" -ge 1
check "log: no internal errors" bash -c "! grep -E ': (err|error|crit): ' '$CMPCA_LOG'"
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

e2e_done
