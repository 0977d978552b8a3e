#!/bin/bash
# ra.sh - cmpca as an RA (RFC 9483 §5) end to end: two cmpca instances
# (two PostgreSQL clusters, two SoftHSM tokens, two nginx ports). A is
# the CA; B is started with CMPCA_UPSTREAM_URL & co. (the stack interface)
# and so serves the RA identity `ra` in front of A. Devices enroll at B
# with B's demo secret (openssl cmp, Bouncy Castle); B re-protects each
# request with the MAC credential A gave it, forwards it and the certConf,
# and checks what comes back. Then the same through B to OpenSSL's mock
# server, whose fixed certificate B must refuse (not the device's key);
# an upstream that does not answer (systemUnavail, B keeps serving); an
# upstream that rejects (its failInfo reaches the device).
#
# usage: tests/e2e/ra.sh [--bin DIR]
# Ports: CMPCA_RA_TEST_PORT for A, else the first free port from 18790;
# B, the mock server's relay and the port with nothing behind it take the
# next free ones (up to 18799).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup ra 18790 --port-var CMPCA_RA_TEST_PORT --scan-to 18795 -- "$@"

free_port() { # first free port after $1
	local p=$(($1 + 1))
	while port_busy "$p" && [ "$p" -lt 18799 ]; do p=$((p + 1)); done
	echo "$p"
}
varb=$(mktemp -d /tmp/cmpca-rab.XXXXXX)
chmod 755 "$varb"
portb=$(free_port "$CMPCA_PORT")
mock_port=$(free_port "$portb")
dead_port=$(free_port "$mock_port")
mock_pid= relay_pid=
cleanup_both() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null
	CMPCA_VAR=$varb "$top/scripts/stack" down >/dev/null 2>&1
	[ "$nfail" -gt 0 ] && cp "$varb/cmpcad.log" /tmp/cmpca-rab-last.log 2>/dev/null
	rm -rf "$varb"
	e2e_cleanup
}
trap cleanup_both EXIT

e2e_stack_up
d=$work
fails() { ! "$@"; }
# logged PATTERN FILE: FILE (a log written as it goes) gets PATTERN soon.
logged() { for _ in $(seq 50); do grep -q "$1" "$2" && return 0; sleep 0.1; done; return 1; }
e2e_build_bc_client

# A's MAC credential for the RA, made as any enrollment secret.
cli secret add ra-upstream --uses -1 --days 0 --ca "$CMPCA_CA_LABEL" \
    >"$d/up-secret" 2>/dev/null
check "A: a MAC credential for the RA" test -s "$d/up-secret"
if ! CMPCA_VAR=$varb CMPCA_PORT=$portb CMPCA_UPSTREAM_URL=$CMPCA_URL_CA \
    CMPCA_UPSTREAM_CA_CERT=$CMPCA_CA_CERT CMPCA_UPSTREAM_REF=ra-upstream \
    CMPCA_UPSTREAM_SECRET=$(cat "$d/up-secret") \
    "$top/scripts/stack" up >"$d/stackb.out" 2>&1; then
	cat "$d/stackb.out"
	fail "B: stack up as an RA" "see above"
	echo "== the RA identity signs nothing"
check "crl issue --ca ra fails cleanly" fails B crl issue --ca ra
cr_ir() { CMD=cr ra_ir "$@"; }
check "B still serves after it" cr_ir cr2 "$d/dev2.key" "/CN=ra-cr-2"

check "B's housekeeper never tried a CRL for an upstream identity" \
    fails grep -q "ca ra: CRL" "$varb/cmpcad.log"

echo "== secrets"
check "neither secret in B's log" \
    fails grep -qF -e "$(cat "$d/up-secret")" -e "$secb" "$varb/cmpcad.log"
check "the upstream secret in no cmpca argv (the stack pipes it)" \
    fails grep -qF -- "$(cat "$d/up-secret")" "$varb/stack.env"

e2e_done
	exit
fi
pass "B: stack up as an RA"
# The lint at the end covers B's inventory too: what it received from A is
# linted against the upstream identity's certificate (A's).
e2e_lint_dbs+=("$(. "$varb/stack.env"; echo "$CMPCA_DB")")
envb() { (. "$varb/stack.env"; eval "echo \"\$$1\""); }
B() { (. "$varb/stack.env"; eval "$CMPCA_CLI" '"$@"'); }
qb() { psql -XqtA "$(envb CMPCA_DB)" -c "$1"; }
ra_url=$(envb CMPCA_RA_URL)
secb=$(envb CMPCA_SECRET)
check "B: stack.env has CMPCA_RA_URL" \
    test "$ra_url" = "http://127.0.0.1:$portb/.well-known/cmp/p/ra"
check "B: ca list shows ra as upstream" \
    grep -qP '^ra\tupstream' <(B ca list)
check "B: the upstream secret is sealed, not on argv or in the config" \
    test "$(qb "select octet_length(secret_enc) > 16 from upstream")" = t
check "B: the upstream secret is in none of B's files" \
    fails grep -rqF "$(cat "$d/up-secret")" "$varb/cmpca.conf" "$varb/stack.env"
# ra_ir NAME KEY SUBJECT [URL [openssl cmp options...]]: a device enrolls
# through B with B's demo secret (recipient: A, or RECIP; ir, or CMD).
ra_ir() {
	local name=$1 key=$2 subj=$3 url=${4:-$ra_url}
	shift 3
	[ $# -gt 0 ] && shift
	openssl cmp -cmd "${CMD:-ir}" -server "$url" -ref demo -secret "pass:$secb" \
	    -recipient "${RECIP:-$CMPCA_CA_SUBJECT}" -newkey "$key" -subject "$subj" \
	    -certout "$d/$name.pem" -unprotected_errors "$@" \
	    >"$d/$name.out" 2>&1
}
ser() { serial_of "$1"; }
a_status() { q "select status from cert where serial = '$(ser "$1")'"; }
b_status() { qb "select c.status from cert c join ca on ca.id = c.ca_id where ca.status = 'upstream' and c.serial = '$(ser "$1")'"; }
openssl ecparam -genkey -name prime256v1 -noout -out "$d/dev1.key" 2>/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$d/dev2.key" 2>/dev/null

echo "== device -> B (RA) -> A (CA), openssl cmp with certConf"
if ra_ir dev1 "$d/dev1.key" "/O=Example/CN=ra-device-1"; then
	pass "ir through the RA: certificate received"
	check "its key is the device's" same_pubkey "$d/dev1.pem" "$d/dev1.key"
	check "it chains to the upstream CA (A)" \
	    openssl verify -CAfile "$CMPCA_CA_CERT" "$d/dev1.pem"
	check "its issuer is A" test "$(openssl x509 -in "$d/dev1.pem" -noout -issuer -nameopt RFC2253)" = \
	    "issuer=$(openssl x509 -in "$CMPCA_CA_CERT" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
	check "A's inventory: valid (the RA forwarded the certConf)" \
	    test "$(a_status "$d/dev1.pem")" = valid
	check "B's inventory: valid, under ra" test "$(b_status "$d/dev1.pem")" = valid
	check "B: cmpca cert list --ca ra shows it" \
	    grep -q "ra-device-1" <(B cert list --ca ra)
	check "B: audited as received from upstream" \
	    test "$(qb "select count(*) from audit where event = 'issue-upstream' and split_part(detail, ' ', 2) = '$(ser "$d/dev1.pem")'")" = 1
	check "A: requested with the RA's credential" \
	    test "$(q "select requester from cert where serial = '$(ser "$d/dev1.pem")'")" = "secret:ra-upstream"
	check "B: requested with the device's secret" \
	    test "$(qb "select requester from cert where serial = '$(ser "$d/dev1.pem")'")" = "secret:demo"
	check "B: no upstream transaction left waiting" test "$(qb "select count(*) from ra_fwd")" = 0
else
	fail "ir through the RA" "$(tail -5 "$d/dev1.out")"
fi

echo "== implicitConfirm through the RA"
if ra_ir imp "$d/dev2.key" "/CN=ra-implicit" "" -implicit_confirm; then
	pass "ir with implicitConfirm through the RA"
	check "A: valid (the RA confirmed upstream)" test "$(a_status "$d/imp.pem")" = valid
	check "B: valid" test "$(b_status "$d/imp.pem")" = valid
else
	fail "ir with implicitConfirm through the RA" "$(tail -5 "$d/imp.out")"
fi

echo "== cr through the RA"
if CMD=cr ra_ir cr "$d/dev2.key" "/CN=ra-cr"; then
	pass "cr through the RA: certificate received"
	check "cr: valid at A and at B" \
	    test "$(a_status "$d/cr.pem") $(b_status "$d/cr.pem")" = "valid valid"
else
	fail "cr through the RA" "$(tail -5 "$d/cr.out")"
fi

echo "== p10cr through the RA"
openssl req -new -key "$d/dev2.key" -subj "/CN=ra-p10cr" -out "$d/p10.csr" 2>/dev/null
if openssl cmp -cmd p10cr -server "$ra_url" -ref demo -secret "pass:$secb" \
    -recipient "$CMPCA_CA_SUBJECT" -csr "$d/p10.csr" -certout "$d/p10.pem" \
    -unprotected_errors >"$d/p10.out" 2>&1; then
	pass "p10cr through the RA: certificate received"
	check "p10cr: the CSR's key" same_pubkey "$d/p10.pem" "$d/dev2.key"
	check "p10cr: valid at A and at B" \
	    test "$(a_status "$d/p10.pem") $(b_status "$d/p10.pem")" = "valid valid"
else
	fail "p10cr through the RA" "$(tail -5 "$d/p10.out")"
fi

echo "== device rejects the certificate: the rejection goes upstream"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/other.key" -out "$d/other.pem" -subj /CN=Other -days 2 2>/dev/null
ra_ir rej "$d/dev2.key" "/CN=ra-rejected-by-device" "" -out_trusted "$d/other.pem"
check "openssl cmp refused the certificate" test ! -s "$d/rej.pem"
rej_serial=$(qb "select serial from cert where subject like '%ra-rejected-by-device%'")
check "B: the rejected certificate is recorded rejected" \
    test "$(qb "select status from cert where serial = '$rej_serial'")" = rejected
check "A: the rejection reached the CA" \
    test "$(q "select status from cert where serial = '$rej_serial'")" = rejected

echo "== Bouncy Castle client through the RA"
BSEC=$secb "$top/tests/bc/cmpclient" ir --url "$ra_url" --ref demo \
    --secret-env BSEC --recipient "$CMPCA_CA_SUBJECT" --newkey ec:P-256 \
    --subject /CN=ra-bc-device --out-dir "$d/bc" >"$d/bc.out" 2>"$d/bc.err"
check "BC: ip accepted, MAC ok" grep -q "body=ip .*mac=ok.*status\[0\]=0" "$d/bc.out"
check "BC: pkiConf after certConf" grep -q "body=pkiconf" "$d/bc.out"
if [ -s "$d/bc/cert-0.pem" ]; then
	check "BC: it chains to A" openssl verify -CAfile "$CMPCA_CA_CERT" "$d/bc/cert-0.pem"
	check "BC: valid at A and at B" \
	    test "$(a_status "$d/bc/cert-0.pem") $(b_status "$d/bc/cert-0.pem")" = "valid valid"
else
	fail "BC: certificate written" "$(cat "$d/bc.out" "$d/bc.err" | tail -5)"
fi

echo "== signature re-protection: the RA signs with a key in B's HSM (RFC 9483 §5.2.3)"
# B's signing identity: its key in B's token, certified by A (ca csr,
# sign-csr, import-cert) and registered at A as an RA.
B ca csr rasign --subject "/O=cmpca/CN=RA signer" >"$d/rasign.csr" 2>"$d/rasign.err"
cli ca sign-csr "$CMPCA_CA_LABEL" --csr "$d/rasign.csr" >"$d/rasign.pem" 2>>"$d/rasign.err"
chmod 644 "$d/rasign.pem"
check "B: rasign certified by A" B ca import-cert rasign --cert "$d/rasign.pem" --chain "$CMPCA_CA_CERT"
check "A: ra add (the RA's signing certificate)" cli ra add b-ra --cert "$d/rasign.pem"
check "B: ca upstream rasig --sign-ca rasign" \
    B ca upstream rasig --url "$CMPCA_URL_CA" --ca-cert "$CMPCA_CA_CERT" --sign-ca rasign
if ra_ir sig "$d/dev1.key" "/CN=ra-signed-device" \
    "http://127.0.0.1:$portb/.well-known/cmp/p/rasig"; then
	pass "ir through the signing RA: certificate received"
	check "  ... chains to A" openssl verify -CAfile "$CMPCA_CA_CERT" "$d/sig.pem"
	check "  ... A took it from the registered RA (ra:b-ra)" \
	    test "$(q "select requester from cert where serial = '$(ser "$d/sig.pem")'")" = "ra:b-ra"
	check "  ... valid at A and at B (certConf forwarded, signed)" \
	    test "$(a_status "$d/sig.pem") $(b_status "$d/sig.pem")" = "valid valid"
else
	fail "ir through the signing RA" "$(tail -5 "$d/sig.out")"
fi

echo "== what the RA does not forward: refused, not sent upstream"
before_a=$(q "select count(*) from cmp_txn")
openssl cmp -cmd kur -server "$ra_url" -cert "$d/dev1.pem" -key "$d/dev1.key" \
    -recipient "$CMPCA_CA_SUBJECT" -newkey "$d/dev2.key" -certout "$d/kur.pem" \
    -unprotected_errors >"$d/kur.out" 2>&1
# A certificate B brokered, at an identity that re-protects with a MAC:
# nested needs B's signature upstream (ra3.sh tests the signing one).
check "kur at a MAC-credential RA identity: refused (notAuthorized)" \
    grep -q "notAuthorized" "$d/kur.out"
check "  ... the rule named (nested needs --sign-ca)" \
    grep -q "cmpca ca upstream --sign-ca" "$d/kur.out"
# A certificate of B's own CA is not one this RA identity brokered.
ra_ir bown "$d/dev2.key" "/CN=b-own-device" "$(envb CMPCA_URL_CA)" \
    -recipient "$(envb CMPCA_CA_SUBJECT)"
openssl cmp -cmd cr -server "$ra_url" -cert "$d/bown.pem" -key "$d/dev2.key" \
    -recipient "$CMPCA_CA_SUBJECT" -certout "$d/sigcr.pem" \
    -unprotected_errors >"$d/sigcr.out" 2>&1
check "cr signed with a certificate B trusts: notAuthorized" \
    grep -q "notAuthorized" "$d/sigcr.out"
check "  ... not brokered by this RA (the rule named)" \
    grep -q "an RA takes signatures by certificates it brokered" "$d/sigcr.out"
check "  ... answered unprotected (the RA identity has no key), no crash" \
    test "$(grep -c "killed by signal" "$varb/cmpcad.log")" = 0
check "  ... nothing reached A" test "$(q "select count(*) from cmp_txn")" = "$before_a"

echo "== rr through the RA (RFC 9483 §4.2, §5.2.3): its scope, then upstream"
# rr_via NAME URL CERT [REF SECRET]: a device asks B to revoke CERT.
rr_via() {
	openssl cmp -cmd rr -server "$2" -ref "${4:-demo}" -secret "pass:${5:-$secb}" \
	    -recipient "$CMPCA_CA_SUBJECT" -oldcert "$3" -revreason 1 \
	    -unprotected_errors -reqout "$d/$1.req" >"$d/$1.out" 2>&1
}
# Out of scope: a certificate B brokered for another credential.
B secret add other-dev --uses -1 --days 0 >"$d/other-secret" 2>/dev/null
before_a=$(q "select count(*) from cmp_txn")
rr_via rrscope "$ra_url" "$d/dev1.pem" other-dev "$(cat "$d/other-secret")"
check "rr with another credential than the certificate's: notAuthorized" \
    grep -q "notAuthorized" "$d/rrscope.out"
check "  ... not in the scope of this RA" grep -q "not in the scope of this RA" "$d/rrscope.out"
check "  ... nothing reached A" test "$(q "select count(*) from cmp_txn")" = "$before_a"
# In scope through the MAC identity: forwarded, but a cmpca upstream
# takes rr only from a registered RA (signed), so A refuses it.
rr_via rrmac "$ra_url" "$d/dev1.pem"
check "rr forwarded with the RA's MAC: A's refusal reaches the device" \
    grep -q "upstream CA refused" "$d/rrmac.out"
check "  ... the certificate stays valid at A and at B" \
    test "$(a_status "$d/dev1.pem") $(b_status "$d/dev1.pem")" = "valid valid"
# The same rr again, byte for byte: B took its senderNonce and
# transactionID before forwarding it, so the replay stops at B.
before_a=$(q "select count(*) from cmp_txn")
curl -s -H 'Content-Type: application/pkixcmp' --data-binary "@$d/rrmac.req" \
    -o "$d/rrreplay.rsp" "$ra_url"
check "a replayed rr: refused at B (badSenderNonce), not forwarded again" bash -c \
    "'$bin/cmpdump' '$d/rrreplay.rsp' | grep -q 'failinfo=badSenderNonce' && [ \"\$(psql -XqtA '$CMPCA_DB' -c 'select count(*) from cmp_txn')\" = '$before_a' ]"
# In scope through the signing identity: revoked at A, then at B.
rr_via rrsig "http://127.0.0.1:$portb/.well-known/cmp/p/rasig" "$d/sig.pem"
check "rr through the signing RA: accepted" grep -q "revocation accepted\|accepted" "$d/rrsig.out"
check "  ... revoked at A (keyCompromise, by the registered RA)" \
    test "$(q "select status || ' ' || reason from cert where serial = '$(ser "$d/sig.pem")'")" = "revoked 1"
check "  ... revoked at B, with the reason asked for" \
    test "$(qb "select status || ' ' || reason from cert where serial = '$(ser "$d/sig.pem")'")" = "revoked 1"
rr_via rrtwice "http://127.0.0.1:$portb/.well-known/cmp/p/rasig" "$d/sig.pem"
check "  ... a second rr: refused at B (not valid here)" grep -q "certificate is not valid here" "$d/rrtwice.out"

echo "== upstream rejecting: its failInfo reaches the device"
# A second RA identity whose credential at A allows one subject only.
cli secret add ra-narrow --uses -1 --days 0 --ca "$CMPCA_CA_LABEL" \
    --subject "/CN=only-this-one" >"$d/narrow-secret" 2>/dev/null
check "B: ca upstream narrow" \
    B ca upstream narrow --url "$CMPCA_URL_CA" --ca-cert "$CMPCA_CA_CERT" \
    --ref ra-narrow --secret-file - <"$d/narrow-secret"
before_a=$(q "select count(*) from cert")
before_b=$(qb "select count(*) from cert")
ra_ir narrow "$d/dev2.key" "/CN=not-allowed-upstream" \
    "http://127.0.0.1:$portb/.well-known/cmp/p/narrow"
check "the device gets the rejection" grep -q "rejection" "$d/narrow.out"
check "with the upstream's failInfo (badCertTemplate or notAuthorized)" \
    grep -qE "badCertTemplate|notAuthorized" "$d/narrow.out"
check "and its reason" grep -q "upstream CA refused" "$d/narrow.out"
check "nothing issued at A or stored at B" \
    test "$(q "select count(*) from cert") $(qb "select count(*) from cert")" = "$before_a $before_b"

echo "== upstream down: systemUnavail, the RA keeps serving"
check "B: ca upstream dead (nothing listens)" \
    B ca upstream dead --url "http://127.0.0.1:$dead_port/.well-known/cmp" \
    --ca-cert "$CMPCA_CA_CERT" --ref ra-upstream --secret-file - <"$d/up-secret"
before_b=$(qb "select count(*) from cert")
ra_ir dead "$d/dev2.key" "/CN=upstream-down" \
    "http://127.0.0.1:$portb/.well-known/cmp/p/dead"
check "the device gets systemUnavail" grep -q "systemUnavail" "$d/dead.out"
check "no certificate written" test ! -s "$d/dead.pem"
check "nothing stored at B" test "$(qb "select count(*) from cert")" = "$before_b"
check "B logged why" grep -q "upstream dead: .*no CMP answer" "$varb/cmpcad.log"
check "B still serves: another ir through ra" ra_ir after "$d/dev2.key" "/CN=ra-after-down"
check "  ... certificate from A" openssl verify -CAfile "$CMPCA_CA_CERT" "$d/after.pem"

echo "== through the RA to OpenSSL's mock server: its fixed certificate is refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/mock.key" -out "$d/mock.pem" -subj "/CN=Mock CA" -days 2 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/rsp.key" -out "$d/rsp.csr" -subj "/CN=mock-fixed" 2>/dev/null
openssl x509 -req -in "$d/rsp.csr" -CA "$d/mock.pem" -CAkey "$d/mock.key" \
    -CAcreateserial -out "$d/rsp.pem" -days 2 2>/dev/null
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/mock-secret"
# OpenSSL 3.0's mock binds every address: it runs in a network namespace
# of its own, reached through a relay on 127.0.0.1 (nsrelay.py).
unshare -n sh -c 'ip link set lo up && exec openssl cmp -port "$1" \
    -srv_secret "pass:$(cat "$2")" -srv_cert "$3" -srv_key "$4" \
    -rsp_cert "$5"' mock 18000 "$d/mock-secret" "$d/mock.pem" "$d/mock.key" \
    "$d/rsp.pem" >"$d/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do grep -q ACCEPT "$d/mock.log" && break; sleep 0.1; done
python3 "$top/tests/e2e/nsrelay.py" "$mock_port" "$mock_pid" 18000 \
    >"$d/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 50); do port_busy "$mock_port" && break; sleep 0.1; done
check "mock server listening, reachable on 127.0.0.1:$mock_port" \
    eval 'grep -q ACCEPT "$d/mock.log" && port_busy "$mock_port"'
check "B: ca upstream mock" \
    B ca upstream mock --url "http://127.0.0.1:$mock_port/pkix/" \
    --ca-cert "$d/mock.pem" --ref mock --secret-file - <"$d/mock-secret"
before_b=$(qb "select count(*) from cert")
RECIP="/CN=Mock CA" ra_ir viamock "$d/dev1.key" "/CN=mock-device" \
    "http://127.0.0.1:$portb/.well-known/cmp/p/mock"
check "the mock got the request (its log)" logged "Received request" "$d/mock.log"
check "the device gets a refusal, not the mock's certificate" test ! -s "$d/viamock.pem"
check "  ... systemFailure" grep -q "systemFailure" "$d/viamock.out"
check "B logged the key mismatch" \
    grep -q "upstream mock: certificate .*mock-fixed.* refused: its public key is not the one requested" "$varb/cmpcad.log"
check "the RA told the mock it rejects the certificate (certConf)" \
    logged "rejected by client with PKIStatus: rejection" "$d/mock.log"
check "nothing stored at B" test "$(qb "select count(*) from cert")" = "$before_b"

echo "== the RA identity signs nothing"
check "crl issue --ca ra fails cleanly" fails B crl issue --ca ra
cr_ir() { CMD=cr ra_ir "$@"; }
check "B still serves after it" cr_ir cr2 "$d/dev2.key" "/CN=ra-cr-2"

check "B's housekeeper never tried a CRL for an upstream identity" \
    fails grep -q "ca ra: CRL" "$varb/cmpcad.log"

echo "== secrets"
check "neither secret in B's log" \
    fails grep -qF -e "$(cat "$d/up-secret")" -e "$secb" "$varb/cmpcad.log"
check "the upstream secret in no cmpca argv (the stack pipes it)" \
    fails grep -qF -- "$(cat "$d/up-secret")" "$varb/stack.env"

e2e_done
