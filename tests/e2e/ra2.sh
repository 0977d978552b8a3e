#!/bin/bash
# ra2.sh - cmpca as an RA (RFC 9483 §5), the relaying half of issue 24:
# two cmpca instances, A the CA and B the RA in front of it (the stack
# interface, as in ra.sh), B reaching A through a relay that can lose a
# connection (droprelay.py), so that a fault falls between two messages
# of one upstream transaction. B's inventory holds A's certificates:
# A's inventory is linted.
#   - implicitConfirm: B commits the certificate before it confirms
#     upstream (the order in B's log); a certConf that is lost stays
#     owed in B's database and B's housekeeper sends it again, so the
#     certificate ends valid on both sides.
#   - the upstream answers waiting (its profile needs its operator's
#     approval): B answers the device waiting, polls upstream at each of
#     the device's pollReqs, and the device gets the certificate (or the
#     upstream's rejection) after polling; certConf flows through.
#   - approval at the RA: B's profile needs B's operator; the request
#     goes upstream only after `cmpca request approve` at B, at the
#     device's next poll.
#   - a sealing-key rotation at B (`secret reseal --new-key`) reseals
#     the upstream secrets with the enrollment secrets, and B still
#     reaches A.
#
# usage: tests/e2e/ra2.sh [--bin DIR]
# Ports: CMPCA_RA2_TEST_PORT for A, else the first free port from 18930;
# B and the relay take the next free ones (up to 18949).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup ra2 18930 --port-var CMPCA_RA2_TEST_PORT --scan-to 18935 -- "$@"

free_port() { # first free port after $1
	local p=$(($1 + 1))
	while port_busy "$p" && [ "$p" -lt 18949 ]; do p=$((p + 1)); done
	echo "$p"
}
varb=$(mktemp -d /tmp/cmpca-ra2b.XXXXXX)
chmod 755 "$varb"
portb=$(free_port "$CMPCA_PORT")
relay_port=$(free_port "$portb")
relay_pid=
cleanup_both() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
	CMPCA_VAR=$varb "$top/scripts/stack" down >/dev/null 2>&1
	[ "$nfail" -gt 0 ] && cp "$varb/cmpcad.log" /tmp/cmpca-ra2b-last.log 2>/dev/null
	rm -rf "$varb"
	e2e_cleanup
}
trap cleanup_both EXIT

# Both stacks start at once (B is made an RA once A is up: its RA
# identities by `cmpca ca upstream`, as an operator would; ra.sh tests
# the stack interface).
CMPCA_VAR=$varb CMPCA_PORT=$portb CMPCA_HOUSEKEEPING=1 CMPCA_POLL_AFTER=1 \
    "$top/scripts/stack" up >"$varb/stackb.out" 2>&1 &
stackb=$!
e2e_build_bc_client
e2e_stack_up
d=$work
fails() { ! "$@"; }
# logged PATTERN FILE [TENTHS]: FILE gets a line matching PATTERN soon.
logged() { for _ in $(seq "${3:-50}"); do grep -q "$1" "$2" && return 0; sleep 0.1; done; return 1; }

# B reaches A through the relay; ctl says what the relay lets through.
ctl=$d/relay.ctl
echo -1 >"$ctl"
python3 "$top/tests/e2e/droprelay.py" "$relay_port" "$CMPCA_PORT" "$ctl" \
    >"$d/relay.log" 2>&1 &
relay_pid=$!
logged listening "$d/relay.log"
up_url="http://127.0.0.1:$relay_port/.well-known/cmp/p/$CMPCA_CA_LABEL"
cli secret add ra-upstream --uses -1 --days 0 --ca "$CMPCA_CA_LABEL" \
    >"$d/up-secret" 2>/dev/null
if ! wait "$stackb"; then
	cat "$varb/stackb.out"
	fail "B: stack up" "see above"
	e2e_done
	exit
fi
envb() { (. "$varb/stack.env"; eval "echo \"\$$1\""); }
B() { (. "$varb/stack.env"; eval "$CMPCA_CLI" '"$@"'); }
dbb=$(envb CMPCA_DB)
qb() { psql -XqtA "$dbb" -c "$1"; }
check "B: ca upstream ra (MAC, through the relay to A)" \
    B ca upstream ra --url "$up_url" --ca-cert "$CMPCA_CA_CERT" \
    --ref ra-upstream --secret-file - <"$d/up-secret"
# The devices' secret at B, for every identity of B.
B secret add dev --uses -1 --days 0 >"$d/dev-secret" 2>/dev/null
secb=$(cat "$d/dev-secret")
check "B: a device secret" test -n "$secb"
ra_url=http://127.0.0.1:$portb/.well-known/cmp/p/ra
blog=$varb/cmpcad.log
# ra_ir NAME KEY SUBJECT [openssl cmp options...]: a device enrolls
# through B with B's device secret.
ra_ir() {
	local name=$1 key=$2 subj=$3
	shift 3
	openssl cmp -cmd "${CMD:-ir}" -server "$ra_url" -ref dev -secret "pass:$secb" \
	    -recipient "$CMPCA_CA_SUBJECT" -newkey "$key" -subject "$subj" \
	    -certout "$d/$name.pem" -unprotected_errors "$@" \
	    >"$d/$name.out" 2>&1
}
ser() { serial_of "$1"; }
a_status() { q "select status from cert where serial = '$(ser "$1")'"; }
b_status() { qb "select c.status from cert c join ca on ca.id = c.ca_id where ca.status = 'upstream' and c.serial = '$(ser "$1")'"; }
openssl ecparam -genkey -name prime256v1 -noout -out "$d/dev1.key" 2>/dev/null

echo "== implicitConfirm: B commits, then confirms upstream, then answers"
if ra_ir imp "$d/dev1.key" "/CN=ra2-implicit" -implicit_confirm; then
	pass "ir with implicitConfirm through the RA"
	check "A: valid, B: valid" \
	    test "$(a_status "$d/imp.pem") $(b_status "$d/imp.pem")" = "valid valid"
	# The order in B's log, for this request (its worker's pid and
	# request number): committed, then taken.
	who=$(grep "req [0-9]*: upstream ra: 1 certificate(s) committed" "$blog" | tail -1 | sed 's/^cmpcad\[\([0-9]*\)\]: info: req \([0-9]*\):.*/\1 \2/')
	check "B logged the commit (certConf owed)" test -n "$who"
	# line_of TEXT: the line number of this request's TEXT in B's log.
	line_of() { grep -n "^cmpcad\[${who% *}\]: [a-z]*: req ${who#* }: upstream ra: $1" "$blog" | head -1 | cut -d: -f1; }
	c=$(line_of "1 certificate(s) committed") t=$(line_of "certConf taken upstream")
	check "  ... before the certConf upstream was taken (log lines $c, $t)" \
	    test "${c:-0}" -gt 0 -a "${t:-0}" -gt "${c:-0}"
	check "B: no certConf left owed" test "$(qb "select count(*) from ra_fwd")" = 0
else
	fail "ir with implicitConfirm through the RA" "$(tail -5 "$d/imp.out")"
fi

echo "== implicitConfirm, the certConf upstream lost: owed, then sent again"
echo 1 >"$ctl" # the ir passes, the certConf is lost
if ra_ir lost "$d/dev1.key" "/CN=ra2-lost-confirm" -implicit_confirm; then
	pass "the device gets its certificate (B committed it)"
	check "the relay lost the certConf" grep -q drop "$d/relay.log"
	check "B logged the certConf owed" \
	    grep -q "upstream ra: certConf owed, the housekeeper sends it again" "$blog"
	check "B: valid (committed before the certConf)" test "$(b_status "$d/lost.pem")" = valid
	check "B: the certConf owed is recorded" \
	    test "$(qb "select count(*) from ra_fwd where confirm")" = 1
	check "A: issued, waiting for the confirmation" test "$(a_status "$d/lost.pem")" = unconfirmed
	echo -1 >"$ctl"
	check "B's housekeeper sends it again" \
	    logged "upstream ra: owed certConf taken upstream" "$blog" 150
	check "A: valid" test "$(a_status "$d/lost.pem")" = valid
	check "B: nothing owed any more" test "$(qb "select count(*) from ra_fwd")" = 0
else
	fail "ir with the certConf lost" "$(tail -5 "$d/lost.out")"
fi
echo -1 >"$ctl"

echo "== the upstream answers waiting: relayed, the device polls"
# A's credential for B under A's profile approval: A's operator decides.
cli secret add ra-approval --profile approval --uses -1 --days 0 \
    --ca "$CMPCA_CA_LABEL" >"$d/ap-secret" 2>/dev/null
check "B: ca upstream slow (A's approval profile)" \
    B ca upstream slow --url "$up_url" \
    --ca-cert "$CMPCA_CA_CERT" --ref ra-approval --secret-file - <"$d/ap-secret"
slow_url=http://127.0.0.1:$portb/.well-known/cmp/p/slow
# slow NAME SUBJECT: a device enrolls at B's slow identity, polling.
slow() {
	openssl cmp -cmd ir -server "$slow_url" -ref dev -secret "pass:$secb" \
	    -recipient "$CMPCA_CA_SUBJECT" -newkey "$d/dev1.key" -subject "$2" \
	    -certout "$d/$1.pem" -total_timeout 40 -unprotected_errors \
	    >"$d/$1.out" 2>&1
}
# a_pending SUBJECT: A's request id waiting for A's operator.
a_pending() {
	local id=
	for _ in $(seq 60); do
		id=$(cli request list | awk -F'\t' -v s="$1" '$5 == s {print $1}')
		[ -n "$id" ] && break
		sleep 0.25
	done
	echo "$id"
}
# Requests through the relay so far: the ir and a pollReq upstream come
# after these.
relayed0=$(grep -c pass "$d/relay.log")
slow polled "/CN=ra2-polled" &
client=$!
id=$(a_pending "CN=ra2-polled")
check "A: the request waits for A's operator" test -n "$id"
check "B: the device was answered waiting" \
    logged "upstream slow answered waiting" "$blog"
check "B: its request waits upstream (status upstream, not B's to decide)" \
    test "$(qb "select status from pending_req where subject = 'CN=ra2-polled'")" = upstream
check "B: request list --all shows it as upstream" \
    grep -qP '\tupstream\t' <(B request list --all)
check "B: cmpca request approve refuses it" \
    fails B request approve "$(qb "select id from pending_req where subject = 'CN=ra2-polled'")"
# relayed_past N: more than N requests went through the relay, within
# 20 s (the device polls through B at its own pace; a fixed sleep failed
# on a busy machine).
relayed_past() {
	for _ in $(seq 80); do
		[ "$(grep -c pass "$d/relay.log")" -gt "$1" ] && return 0
		sleep 0.25
	done
	return 1
}
check "  ... B polled upstream (pollReq through the relay)" \
    relayed_past $((relayed0 + 1))
check "nothing issued before the decision" \
    test "$(q "select count(*) from cert where subject = 'CN=ra2-polled'")" = 0
# A pollReq for the device's transaction with a recipNonce that is not
# B's last senderNonce (a replay, or someone else's guess): refused at
# B. (B now checks it before polling upstream; the device's own polls go
# on meanwhile, so the relay's count cannot show the difference here.)
export SECB=$secb
ptx=$(qb "select encode(txid, 'hex') from pending_req where subject = 'CN=ra2-polled'")
"$top/tests/bc/cmpclient" pollreq --url "$slow_url" --recipient "$CMPCA_CA_SUBJECT" \
    --ref dev --secret-env SECB --txid "$ptx" \
    --recip-nonce 00112233445566778899aabbccddeeff >"$d/badpoll.out" 2>&1
check "a pollReq with another recipNonce: badRecipientNonce at B" \
    grep -q "failinfo=badRecipientNonce" "$d/badpoll.out"
cli request approve "$id" >/dev/null
wait "$client"
if [ -s "$d/polled.pem" ]; then
	pass "the device polled and received its certificate"
	check "  ... after polling (openssl cmp says so)" \
	    grep -q "received ip/cp/kup after polling" "$d/polled.out"
	check "  ... its key is the device's" same_pubkey "$d/polled.pem" "$d/dev1.key"
	check "  ... it chains to A" openssl verify -CAfile "$CMPCA_CA_CERT" "$d/polled.pem"
	check "A: valid, B: valid (the device's certConf went upstream)" \
	    test "$(a_status "$d/polled.pem") $(b_status "$d/polled.pem")" = "valid valid"
	check "B: the request decided by upstream, approved" \
	    test "$(qb "select status || ' ' || decided_by from pending_req where subject = 'CN=ra2-polled'")" = "approved upstream"
	check "B: no upstream transaction left" test "$(qb "select count(*) from ra_fwd")" = 0
else
	fail "the device polled and received its certificate" "$(tail -5 "$d/polled.out")"
fi

slow refused "/CN=ra2-refused" &
client=$!
id=$(a_pending "CN=ra2-refused")
check "A: the second request waits" test -n "$id"
cli request reject "$id" --reason "not this one" >/dev/null 2>&1 ||
	cli request reject "$id" >/dev/null
wait "$client"
check "A's operator rejects: the device gets the rejection after polling" \
    grep -q "rejection" "$d/refused.out"
check "  ... with the upstream's reason" grep -q "upstream CA refused" "$d/refused.out"
check "  ... nothing stored at B" \
    test "$(qb "select count(*) from cert where subject = 'CN=ra2-refused'")" = 0
check "  ... B: rejected by upstream" \
    test "$(qb "select status from pending_req where subject = 'CN=ra2-refused'")" = rejected

echo "== approval at the RA: B's operator decides before anything goes upstream"
B secret add devap --profile approval --uses -1 --days 0 >"$d/devap-secret" 2>/dev/null
export DEVAP=$(cat "$d/devap-secret")
# b_pending SUBJECT: B's request id waiting for B's operator.
b_pending() {
	local id=
	for _ in $(seq 60); do
		id=$(B request list | awk -F'\t' -v s="$1" '$5 == s {print $1}')
		[ -n "$id" ] && break
		sleep 0.25
	done
	echo "$id"
}
# atra NAME SUBJECT: a device enrolls at B's ra identity under approval.
atra() {
	openssl cmp -cmd ir -server "$ra_url" -ref devap -secret env:DEVAP \
	    -recipient "$CMPCA_CA_SUBJECT" -newkey "$d/dev1.key" -subject "$2" \
	    -certout "$d/$1.pem" -total_timeout 40 -unprotected_errors \
	    >"$d/$1.out" 2>&1
}
a_txns=$(q "select count(*) from cmp_txn")
atra atra "/CN=ra2-approved-at-ra" &
client=$!
id=$(b_pending "CN=ra2-approved-at-ra")
check "B: the request waits for B's operator (request list)" test -n "$id"
sleep 1.5 # the device polls meanwhile
check "  ... nothing went upstream before the approval" \
    test "$(q "select count(*) from cmp_txn")" = "$a_txns"
check "B: cmpca request approve" B request approve "$id"
wait "$client"
if [ -s "$d/atra.pem" ]; then
	pass "the device received its certificate after polling"
	check "  ... it chains to A" openssl verify -CAfile "$CMPCA_CA_CERT" "$d/atra.pem"
	check "  ... B forwarded it at the device's poll" \
	    grep -q "upstream ra: request 0 approved here, forwarded" "$blog"
	check "A: valid, B: valid (certConf forwarded)" \
	    test "$(a_status "$d/atra.pem") $(b_status "$d/atra.pem")" = "valid valid"
	check "B: no upstream transaction left" test "$(qb "select count(*) from ra_fwd")" = 0
else
	fail "the device received its certificate after polling" "$(tail -5 "$d/atra.out")"
fi
a_txns=$(q "select count(*) from cmp_txn")
atra atrarej "/CN=ra2-rejected-at-ra" &
client=$!
id=$(b_pending "CN=ra2-rejected-at-ra")
check "B: cmpca request reject" B request reject "$id"
wait "$client"
check "rejected at B: the device gets the rejection" grep -q "rejection" "$d/atrarej.out"
check "  ... and nothing went upstream" test "$(q "select count(*) from cmp_txn")" = "$a_txns"

echo "== sealing-key rotation at B: the upstream secrets move too"
B secret reseal --new-key >"$d/reseal.out" 2>&1
check "secret reseal --new-key: exit 0" test $? = 0
kv=$(sed -n 's/.* resealed under key version \([0-9]*\), 0 left .*/\1/p' "$d/reseal.out")
check "  ... the enrollment secrets under the new key version ($kv)" test -n "$kv"
check "  ... both upstream secrets resealed, none left" \
    grep -q "upstream secrets (RA identities): 2 resealed, 0 left under older keys" "$d/reseal.out"
check "  ... both sealed under key version ${kv:-?} in B's database" \
    test "$(qb "select count(*) from upstream where substring(secret_enc from 1 for 5) = '\\x03'::bytea || int4send(${kv:-0})")" = 2
check "  ... audited" \
    test "$(qb "select count(*) from audit where event = 'secret-reseal' and detail like '%2 upstream'")" = 1
check "  ... a second run moves nothing" \
    grep -q "upstream secrets (RA identities): 0 resealed, 0 left" <(B secret reseal)
if ra_ir afterkey "$d/dev1.key" "/CN=ra2-after-reseal"; then
	pass "B still enrolls through A (the upstream secret opens under the new key)"
	check "  ... valid at A" test "$(a_status "$d/afterkey.pem")" = valid
else
	fail "B still enrolls through A after the reseal" "$(tail -5 "$d/afterkey.out")"
fi

echo "== secrets"
check "neither secret in B's log" \
    fails grep -qF -e "$(cat "$d/up-secret")" -e "$secb" -e "$DEVAP" "$blog"

e2e_done
