#!/bin/bash
# ra3.sh - cmpca as an RA (RFC 9483 §5), the nested half of issue 24: two
# cmpca instances, A the CA and B the RA in front of it (as ra2.sh), B
# reaching A through a relay (droprelay.py) that counts and can drop
# connections. B's RA identity signs upstream with a key in B's HSM
# (`ca upstream nest --sign-ca rasign`, registered at A as an RA).
#   - kur with `openssl cmp -cmd kur`, signed by the device with a
#     certificate it obtained through B: B checks that certificate in its
#     own inventory, forwards the kur unchanged in nested (RFC 9483
#     §5.2.2.1), relays A's signed kup; the certConf goes the same way.
#     The new certificate is in both inventories, the old one superseded
#     on both sides.
#   - a signature-protected cr the same way, and under implicitConfirm
#     (A grants it: B stores the certificate valid, nothing owed).
#   - a kur signed by a certificate B did not broker: notAuthorized at B,
#     naming the rule, nothing sent upstream.
#   - a tampered signature: B's own check refuses it (badMessageCheck),
#     nothing sent upstream; a kur A refuses (the certificate revoked at
#     A only): A's signed error relayed unchanged.
#   - the upstream down: systemUnavail, nothing stored at B.
#   - `ca upstream ... --nested`: MAC-protected requests nested too, the
#     device's secret checked end to end by A; A answers waiting (its
#     operator decides): relayed, the device's pollReqs go to A nested.
#
# usage: tests/e2e/ra3.sh [--bin DIR]
# Ports: CMPCA_RA3_TEST_PORT for A, else the first free port from 18960;
# B, the relay and a port with nothing behind it take the next free ones
# (up to 18979).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup ra3 18960 --port-var CMPCA_RA3_TEST_PORT --scan-to 18965 -- "$@"

free_port() { # first free port after $1
	local p=$(($1 + 1))
	while port_busy "$p" && [ "$p" -lt 18979 ]; do p=$((p + 1)); done
	echo "$p"
}
varb=$(mktemp -d /tmp/cmpca-ra3b.XXXXXX)
chmod 755 "$varb"
portb=$(free_port "$CMPCA_PORT")
relay_port=$(free_port "$portb")
dead_port=$(free_port "$relay_port")
relay_pid=
cleanup_both() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
	CMPCA_VAR=$varb "$top/scripts/stack" down >/dev/null 2>&1
	[ "$nfail" -gt 0 ] && cp "$varb/cmpcad.log" /tmp/cmpca-ra3b-last.log 2>/dev/null
	rm -rf "$varb"
	e2e_cleanup
}
trap cleanup_both EXIT

# checkAfter 1 s on both: the device polls A through B.
export CMPCA_POLL_AFTER=1
CMPCA_VAR=$varb CMPCA_PORT=$portb "$top/scripts/stack" up >"$varb/stackb.out" 2>&1 &
stackb=$!
e2e_stack_up
d=$work
fails() { ! "$@"; }
logged() { for _ in $(seq "${3:-50}"); do grep -q "$1" "$2" && return 0; sleep 0.1; done; return 1; }

ctl=$d/relay.ctl
echo -1 >"$ctl"
python3 "$top/tests/e2e/droprelay.py" "$relay_port" "$CMPCA_PORT" "$ctl" \
    >"$d/relay.log" 2>&1 &
relay_pid=$!
logged listening "$d/relay.log"
up_url="http://127.0.0.1:$relay_port/.well-known/cmp/p/$CMPCA_CA_LABEL"
if ! wait "$stackb"; then
	cat "$varb/stackb.out"
	fail "B: stack up" "see above"
	e2e_done
	exit
fi
B() { (. "$varb/stack.env"; eval "$CMPCA_CLI" '"$@"'); }
dbb=$( (. "$varb/stack.env"; echo "$CMPCA_DB") )
qb() { psql -XqtA "$dbb" -c "$1"; }
e2e_lint_dbs+=("$dbb")
blog=$varb/cmpcad.log
relayed() { grep -c pass "$d/relay.log"; }

# B's signing identity: its key in B's token, certified by A, registered
# at A as an RA.
B ca csr rasign --subject "/O=cmpca/CN=RA3 signer" >"$d/rasign.csr" 2>"$d/rasign.err"
cli ca sign-csr "$CMPCA_CA_LABEL" --csr "$d/rasign.csr" >"$d/rasign.pem" 2>>"$d/rasign.err"
chmod 644 "$d/rasign.pem"
check "B: rasign certified by A" B ca import-cert rasign --cert "$d/rasign.pem" --chain "$CMPCA_CA_CERT"
check "A: ra add b-ra (the RA's signing certificate)" cli ra add b-ra --cert "$d/rasign.pem"
check "B: ca upstream nest --sign-ca rasign" \
    B ca upstream nest --url "$up_url" --ca-cert "$CMPCA_CA_CERT" --sign-ca rasign
B secret add dev --uses -1 --days 0 >"$d/dev-secret" 2>/dev/null
secb=$(cat "$d/dev-secret")
nest_url=http://127.0.0.1:$portb/.well-known/cmp/p/nest
for k in 1 2 3 4 5 6; do
	openssl ecparam -genkey -name prime256v1 -noout -out "$d/k$k.key" 2>/dev/null
done
ser() { serial_of "$1"; }
a_row() { q "select $2 from cert where serial = '$(ser "$1")'"; }
b_row() { qb "select $2 from cert c where c.ca_id = (select id from ca where label = 'nest') and c.serial = '$(ser "$1")'"; }
a_cmp=$(q "select count(*) from cmp_txn")

echo "== a device enrolls through B (MAC, re-protected by B's signature)"
openssl cmp -cmd ir -server "$nest_url" -ref dev -secret "pass:$secb" \
    -recipient "$CMPCA_CA_SUBJECT" -newkey "$d/k1.key" -subject "/CN=ra3-device" \
    -certout "$d/dev.pem" -unprotected_errors >"$d/dev.out" 2>&1
check "ir: certificate received" test -s "$d/dev.pem"
check "  ... valid at A (from ra:b-ra) and at B" \
    test "$(a_row "$d/dev.pem" "status || ' ' || requester") $(b_row "$d/dev.pem" status)" = "valid ra:b-ra valid"

echo "== kur signed with the certificate B brokered: nested, end to end"
r0=$(relayed)
openssl cmp -cmd kur -server "$nest_url" -cert "$d/dev.pem" -key "$d/k1.key" \
    -trusted "$CMPCA_CA_CERT" -newkey "$d/k2.key" -certout "$d/kur.pem" \
    -unprotected_errors >"$d/kur.out" 2>&1
if [ -s "$d/kur.pem" ]; then
	pass "kur through the RA: new certificate received"
	check "  ... its key is the new key" same_pubkey "$d/kur.pem" "$d/k2.key"
	check "  ... same subject as the old one" \
	    test "$(subject_of "$d/kur.pem")" = "$(subject_of "$d/dev.pem")"
	check "  ... it chains to A" chains "$d/kur.pem"
	check "  ... openssl cmp checked A's signature on kup and pkiConf (no unprotected answer)" \
	    fails grep -qi "unprotected" "$d/kur.out"
	check "  ... kur and certConf went upstream (two nested messages)" \
	    test "$(relayed)" = $((r0 + 2))
	check "A: requested by the device itself (end to end), valid, replaces the old one" \
	    test "$(a_row "$d/kur.pem" "status || ' ' || requester || ' ' || (replaces = (select id from cert where serial = '$(ser "$d/dev.pem")'))")" = \
	    "valid cert:/CN=ra3-device true"
	check "A: the old certificate superseded (revoked, reason 4)" \
	    test "$(a_row "$d/dev.pem" "status || ' ' || reason")" = "revoked 4"
	check "A: served the kur as a nested message's inner one" \
	    grep -q "(nested) tx=.* body=kur .*outcome=accepted" "$CMPCA_LOG"
	check "B: valid, requested by the device's certificate, replaces the old one" \
	    test "$(b_row "$d/kur.pem" "status || ' ' || requester || ' ' || (replaces = (select id from cert where serial = '$(ser "$d/dev.pem")'))")" = \
	    "valid cert:/CN=ra3-device true"
	check "B: the old certificate superseded too" \
	    test "$(b_row "$d/dev.pem" "status || ' ' || reason")" = "revoked 4"
	check "B: audited as received from upstream" \
	    test "$(qb "select count(*) from audit where event = 'issue-upstream' and split_part(detail, ' ', 2) = '$(ser "$d/kur.pem")'")" = 1
	check "B: logged issued (nested), certConf taken (nested)" \
	    grep -q "upstream nest: certConf taken upstream (nested)" "$blog"
	check "B: no upstream transaction left" test "$(qb "select count(*) from ra_fwd")" = 0
else
	fail "kur through the RA" "$(tail -5 "$d/kur.out")"
fi

echo "== cr signed with the new certificate: nested"
openssl cmp -cmd cr -server "$nest_url" -cert "$d/kur.pem" -key "$d/k2.key" \
    -trusted "$CMPCA_CA_CERT" -newkey "$d/k3.key" -subject "/CN=ra3-device" \
    -certout "$d/cr.pem" -unprotected_errors >"$d/cr.out" 2>&1
if [ -s "$d/cr.pem" ]; then
	pass "signed cr through the RA: certificate received"
	check "  ... its key is the requested one" same_pubkey "$d/cr.pem" "$d/k3.key"
	check "  ... it chains to A" chains "$d/cr.pem"
	check "  ... valid at A and B, obtained with the kur certificate at both" \
	    test "$(a_row "$d/cr.pem" "status || (obtained_with = (select id from cert where serial = '$(ser "$d/kur.pem")'))") $(b_row "$d/cr.pem" "status || (obtained_with = (select c2.id from cert c2 where c2.ca_id = c.ca_id and c2.serial = '$(ser "$d/kur.pem")'))")" = "validtrue validtrue"
else
	fail "signed cr through the RA" "$(tail -5 "$d/cr.out")"
fi

echo "== implicitConfirm granted upstream: nothing goes after the answer"
r0=$(relayed)
openssl cmp -cmd cr -server "$nest_url" -cert "$d/kur.pem" -key "$d/k2.key" \
    -trusted "$CMPCA_CA_CERT" -newkey "$d/k4.key" -subject "/CN=ra3-device" \
    -implicit_confirm -certout "$d/imp.pem" -unprotected_errors >"$d/imp.out" 2>&1
if [ -s "$d/imp.pem" ]; then
	pass "signed cr with implicitConfirm: certificate received"
	check "  ... one nested message, no certConf" test "$(relayed)" = $((r0 + 1))
	check "  ... valid at A and at B at once, nothing owed" \
	    test "$(a_row "$d/imp.pem" status) $(b_row "$d/imp.pem" status) $(qb "select count(*) from ra_fwd")" = "valid valid 0"
else
	fail "signed cr with implicitConfirm" "$(tail -5 "$d/imp.out")"
fi

echo "== kur signed by a certificate B did not broker: refused at B"
openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" -secret "pass:$CMPCA_SECRET" \
    -recipient "$CMPCA_CA_SUBJECT" -newkey "$d/k4.key" -subject "/CN=ra3-direct" \
    -certout "$d/direct.pem" >"$d/direct.out" 2>&1
check "a certificate from A directly" test -s "$d/direct.pem"
r0=$(relayed) a0=$(q "select count(*) from cmp_txn")
openssl cmp -cmd kur -server "$nest_url" -cert "$d/direct.pem" -key "$d/k4.key" \
    -trusted "$CMPCA_CA_CERT" -newkey "$d/k5.key" -certout "$d/notours.pem" \
    -unprotected_errors >"$d/notours.out" 2>&1
check "refused: notAuthorized" grep -q "notAuthorized" "$d/notours.out"
check "  ... naming the rule" \
    grep -q "was not obtained through RA nest; an RA takes signatures by certificates it brokered" "$d/notours.out"
check "  ... nothing sent upstream (relay, A's transactions)" \
    test "$(relayed) $(q "select count(*) from cmp_txn")" = "$r0 $a0"
check "  ... no certificate" test ! -s "$d/notours.pem"

echo "== a tampered signature: refused at B"
# The device's signed kur, saved instead of sent (nothing listens there),
# then one byte of its senderNonce changed: the signature no longer fits.
openssl cmp -cmd kur -server "http://127.0.0.1:$dead_port/x" -cert "$d/cr.pem" \
    -key "$d/k3.key" -trusted "$CMPCA_CA_CERT" -newkey "$d/k5.key" \
    -certout "$d/unsent.pem" -reqout "$d/kur-req.der" \
    -msg_timeout 2 >"$d/reqout.out" 2>&1
python3 - "$d/kur-req.der" "$d/kur-bad.der" <<'EOF'
import sys
der = bytearray(open(sys.argv[1], 'rb').read())
# senderNonce: [5] EXPLICIT OCTET STRING of 16 bytes in the header.
i = der.find(bytes([0xa5, 0x12, 0x04, 0x10]))
der[i + 4] ^= 0x01
open(sys.argv[2], 'wb').write(der)
EOF
r0=$(relayed) a0=$(q "select count(*) from cmp_txn")
curl -s -o "$d/bad-resp.der" -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$d/kur-bad.der" "$nest_url"
check "refused at B: badMessageCheck" grep -q "failinfo=badMessageCheck" <(dump "$d/bad-resp.der")
check "  ... nothing sent upstream" \
    test "$(relayed) $(q "select count(*) from cmp_txn")" = "$r0 $a0"
curl -s -o "$d/good-resp.der" -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$d/kur-req.der" "$nest_url"
check "the same kur untampered: A's kup relayed (signed, accepted)" \
    grep -q "body=kup pvno=2 protected=1 status=0" <(dump "$d/good-resp.der")

echo "== A refuses (the certificate revoked at A only): A's error relayed"
cli cert revoke "$(ser "$d/cr.pem")" --reason 1 >/dev/null 2>&1
check "revoked at A, still valid at B" \
    test "$(a_row "$d/cr.pem" status) $(b_row "$d/cr.pem" status)" = "revoked valid"
r0=$(relayed) nb=$(qb "select count(*) from cert")
# No -unprotected_errors: the device takes the error on A's signature.
openssl cmp -cmd kur -server "$nest_url" -cert "$d/cr.pem" -key "$d/k3.key" \
    -trusted "$CMPCA_CA_CERT" -newkey "$d/k6.key" -certout "$d/revd.pem" \
    >"$d/revd.out" 2>&1
check "forwarded (one nested message)" test "$(relayed)" = $((r0 + 1))
check "the device gets A's certRevoked, checked on A's signature" \
    grep -q "certRevoked" "$d/revd.out"
check "  ... nothing stored at B" test "$(qb "select count(*) from cert")" = "$nb"

echo "== the upstream down: systemUnavail, nothing stored"
echo 0 >"$ctl"
nb="$(qb "select count(*) from cert") $(qb "select count(*) from ra_fwd")"
openssl cmp -cmd kur -server "$nest_url" -cert "$d/kur.pem" -key "$d/k2.key" \
    -trusted "$CMPCA_CA_CERT" -newkey "$d/k6.key" -certout "$d/down.pem" \
    -unprotected_errors >"$d/down.out" 2>&1
check "systemUnavail" grep -q "systemUnavail" "$d/down.out"
check "  ... the relay lost it" grep -q drop "$d/relay.log"
check "  ... nothing stored at B, nothing waiting" \
    test "$(qb "select count(*) from cert") $(qb "select count(*) from ra_fwd")" = "$nb"
echo -1 >"$ctl"

echo "== ca upstream --nested: MAC-protected requests nested too"
check "--nested without --sign-ca: refused" \
    fails B ca upstream bad --url "$up_url" --ca-cert "$CMPCA_CA_CERT" \
    --ref x --secret-file /dev/null --nested
check "B: ca upstream nestmac --sign-ca rasign --nested" \
    B ca upstream nestmac --url "$up_url" --ca-cert "$CMPCA_CA_CERT" \
    --sign-ca rasign --nested
check "B: upstream row says nested" \
    test "$(qb "select nested from upstream u join ca on ca.id = u.ca_id where ca.label = 'nestmac'")" = t
# The device's secret, known to both: A checks the device's MAC itself.
openssl rand -hex 16 >"$d/shared"
cli secret add shared --uses -1 --days 0 --ca "$CMPCA_CA_LABEL" --secret-file "$d/shared" >/dev/null 2>&1
B secret add shared --uses -1 --days 0 --secret-file "$d/shared" >/dev/null 2>&1
openssl cmp -cmd ir -server "http://127.0.0.1:$portb/.well-known/cmp/p/nestmac" \
    -ref shared -secret "pass:$(cat "$d/shared")" -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$d/k6.key" -subject "/CN=ra3-mac-nested" -certout "$d/mac.pem" \
    >"$d/mac.out" 2>&1
if [ -s "$d/mac.pem" ]; then
	pass "MAC-protected ir nested: certificate received (A's MAC checked by the device)"
	check "  ... its key is the device's" same_pubkey "$d/mac.pem" "$d/k6.key"
	check "A: requested with the device's secret (not the RA's), valid" \
	    test "$(a_row "$d/mac.pem" "status || ' ' || requester")" = "valid secret:shared"
	check "B: valid, requested with the device's secret" \
	    test "$(qb "select status || ' ' || requester from cert where serial = '$(ser "$d/mac.pem")'")" = "valid secret:shared"
	check "A: served as a nested message's inner one" \
	    grep -q "(nested) tx=.* body=ir .*sender=\"secret:shared\".*outcome=accepted" "$CMPCA_LOG"
else
	fail "MAC-protected ir nested" "$(tail -5 "$d/mac.out")"
fi

echo "== --nested, A answers waiting: relayed, the device polls A through B"
openssl rand -hex 16 >"$d/slow"
cli secret add slow --profile approval --uses -1 --days 0 --ca "$CMPCA_CA_LABEL" \
    --secret-file "$d/slow" >/dev/null 2>&1
B secret add slow --uses -1 --days 0 --secret-file "$d/slow" >/dev/null 2>&1
openssl cmp -cmd ir -server "http://127.0.0.1:$portb/.well-known/cmp/p/nestmac" \
    -ref slow -secret "pass:$(cat "$d/slow")" -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$d/k5.key" -subject "/CN=ra3-polled" -certout "$d/polled.pem" \
    -total_timeout 40 >"$d/polled.out" 2>&1 &
client=$!
id=
for _ in $(seq 60); do
	id=$(cli request list | awk -F'\t' '$5 == "CN=ra3-polled" {print $1}')
	[ -n "$id" ] && break
	sleep 0.25
done
check "A: the request waits for A's operator" test -n "$id"
check "B: relayed A's waiting, the request waits upstream" \
    test "$(qb "select status from pending_req where subject = 'CN=ra3-polled'")" = upstream
r0=$(relayed)
for _ in $(seq 40); do [ "$(relayed)" -gt "$r0" ] && break; sleep 0.25; done
check "  ... the device's pollReq went upstream (nested)" test "$(relayed)" -gt "$r0"
cli request approve "$id" >/dev/null
wait "$client"
if [ -s "$d/polled.pem" ]; then
	pass "the device polled through B and received its certificate"
	check "  ... after polling (openssl cmp says so)" \
	    grep -q "received ip/cp/kup after polling" "$d/polled.out"
	check "  ... its key is the device's" same_pubkey "$d/polled.pem" "$d/k5.key"
	check "  ... it chains to A" chains "$d/polled.pem"
	check "A: valid, requested with the device's secret" \
	    test "$(a_row "$d/polled.pem" "status || ' ' || requester")" = "valid secret:slow"
	check "B: valid (certConf nested), the request decided by upstream" \
	    test "$(qb "select status from cert where serial = '$(ser "$d/polled.pem")'") $(qb "select status || ' ' || decided_by from pending_req where subject = 'CN=ra3-polled'")" = "valid approved upstream"
	check "B: its upstream transaction gone (certConf taken upstream)" \
	    test "$(qb "select count(*) from ra_fwd f join cert c on c.txid = f.txid where c.serial = '$(ser "$d/polled.pem")'")" = 0
else
	fail "the device polled through B" "$(tail -5 "$d/polled.out")"
fi

echo "== no worker died"
check "neither A's nor B's log has a crash or sanitizer report" \
    fails grep -qE "killed by signal|exited with status|Sanitizer|runtime error" "$CMPCA_LOG" "$blog"

echo "== secrets"
check "no secret in B's log" fails grep -qF -e "$secb" -e "$(cat "$d/shared")" -e "$(cat "$d/slow")" "$blog"

e2e_done
