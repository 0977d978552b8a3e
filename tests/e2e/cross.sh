#!/bin/bash
# cross.sh - cross-certification end to end (RFC 9810 §5.3.11) between two
# independent cmpca instances: two PostgreSQL clusters, two SoftHSM
# tokens, two nginx ports. Alpha (instance A, an EC root) and Beta
# (instance B, an RSA root) cross-certify each other over CMP in both
# directions with `cmpca cross-certify request`; certificates issued by
# one validate to the other's root through the cross certificate with
# OpenSSL, GnuTLS, NSS and Bouncy Castle, and a certificate outside the
# name constraints fails all four. The refusals (non-partner, end entity,
# no POP, wrong key, wrong subject, wrong CA, MAC) come from the Bouncy
# Castle client with a software partner CA.
#
# usage: tests/e2e/cross.sh [--bin DIR]
# Ports: CMPCA_CROSS_TEST_PORT for A, else the first free port from 18680;
# B takes the next free one.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup cross 18680 --port-var CMPCA_CROSS_TEST_PORT --scan-to 18689 -- "$@"
# Bundles are rewritten by the housekeeper every sweep.
export CMPCA_HOUSEKEEPING=1

varb=$(mktemp -d /tmp/cmpca-crossb.XXXXXX)
chmod 755 "$varb"
portb=$((CMPCA_PORT + 1))
while port_busy "$portb" && [ "$portb" -lt 18699 ]; do portb=$((portb + 1)); done
# B also serves CMP over HTTPS (A asks B over TLS).
tlsb=$((portb + 1))
while port_busy "$tlsb" && [ "$tlsb" -lt 18699 ]; do tlsb=$((tlsb + 1)); done
cleanup_both() {
	CMPCA_VAR=$varb "$top/scripts/stack" down >/dev/null 2>&1
	[ "$nfail" -gt 0 ] && cp "$varb/cmpcad.log" /tmp/cmpca-crossb-last.log 2>/dev/null
	rm -rf "$varb"
	e2e_cleanup
}
trap cleanup_both EXIT

e2e_stack_up
if ! CMPCA_VAR=$varb CMPCA_PORT=$portb CMPCA_TLS_PORT=$tlsb "$top/scripts/stack" up >"$work/stackb.out" 2>&1; then
	cat "$work/stackb.out"
	echo "0 passed, 1 failed"
	exit 1
fi
# The lint at the end (lib.sh) covers what B issued too.
e2e_lint_dbs+=("$(. "$varb/stack.env"; echo "$CMPCA_DB")")
e2e_build_bc_client

# A(), B(): cmpca of each instance; qa/qb: SQL; urla/urlb: CMP base URLs.
A() { cli "$@"; }
B() { (. "$varb/stack.env"; eval "$CMPCA_CLI" '"$@"'); }
qa() { q "$1"; }
qb() { psql -XqtA "$(. "$varb/stack.env"; echo "$CMPCA_DB")" -c "$1"; }
urla=http://127.0.0.1:$CMPCA_PORT/.well-known/cmp/p
urlb=http://127.0.0.1:$portb/.well-known/cmp/p
bc() { "$top/tests/bc/cmpclient" "$@"; }
pathcheck() { "$top/tests/bc/cmpclient" pathcheck "$@"; }
d=$work
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' '; }
aki() { openssl x509 -in "$1" -noout -ext authorityKeyIdentifier | tail -1 | tr -d ' ' | sed 's/^keyid://'; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
fails() { ! "$@"; }
# refused PATTERN CMD...: CMD fails and says PATTERN.
refused() { local pat=$1; shift; ! "$@" >"$d/refused.out" 2>&1 && grep -q -- "$pat" "$d/refused.out"; }
# says PATTERN CMD...: CMD's output has PATTERN.
says() { local pat=$1; shift; "$@" 2>&1 | grep -q -- "$pat"; }

# Validators: root, EE, then the untrusted certificates (one file).
v_openssl() { openssl verify -x509_strict -CAfile "$1" -untrusted "$3" "$2"; }
v_gnutls() { cat "$2" "$3" >"$d/gnutls-chain.pem"; certtool --verify --load-ca-certificate "$1" --infile "$d/gnutls-chain.pem"; }
v_nss() { vfychain -pp -u 0 -a "$2" -a "$3" -t -a "$1"; }
v_bc() { pathcheck --anchor "$1" --target "$2" --cert "$3"; }
validators="v_openssl v_gnutls v_nss v_bc"

echo "== two CA identities in two instances"
check "A: ca create alpha (EC root)" A ca create alpha --subject "/O=Alpha/CN=Alpha Root"
check "B: ca create beta (RSA root)" B ca create beta --subject "/O=Beta/CN=Beta Root" --key rsa:2048
A ca export alpha >"$d/alpha.pem"
B ca export beta >"$d/beta.pem"
check "alpha exported" openssl x509 -in "$d/alpha.pem" -noout
check "beta exported" openssl x509 -in "$d/beta.pem" -noout

echo "== partner registration"
check "A: partner add beta with constraints" A partner add beta --cert "$d/beta.pem" --ca alpha \
    --pathlen 0 --permit dirname:/O=Beta --permit dns:beta.example --exclude ip:10.0.0.0/8 \
    --exclude ip:2001:db8::/32 --days 60
check "A: a second registration of the same certificate is refused" \
    refused "registered already" A partner add beta2 --cert "$d/beta.pem" --ca alpha
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/notca.key" \
    -out "$d/notca.pem" -subj "/CN=not a CA" -days 5 \
    -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" 2>/dev/null
check "A: an end-entity certificate is no partner" \
    refused "not a CA certificate" A partner add ee --cert "$d/notca.pem" --ca alpha
check "A: a malformed name constraint is refused" \
    refused "name constraint" A partner add x --cert "$d/beta.pem" --ca alpha --permit host:x
check "A: partner list shows beta and its constraints" \
    says "^beta.*ca=alpha.*pathlen=0 permit=dirname:/O=Beta,dns:beta.example exclude=ip:10.0.0.0/8" A partner list
check "B: partner add alpha" B partner add alpha --cert "$d/alpha.pem" --ca beta --pathlen 0 \
    --permit dirname:/O=Alpha --permit dns:alpha.example

echo "== B asks A for a cross certificate over CMP (ccr/ccp/certConf)"
if B cross-certify request --ca beta --url "$urla/alpha" --partner-cert "$d/alpha.pem" \
    >"$d/x-alpha-beta.pem" 2>"$d/req1.err"; then
	pass "B: cross-certify request to A"
else
	fail "B: cross-certify request to A" "$(cat "$d/req1.err")"
fi
x1=$d/x-alpha-beta.pem
check "cross certificate: issuer Alpha Root, subject Beta Root" \
    test "$(openssl x509 -in "$x1" -noout -issuer -subject -nameopt RFC2253)" = \
    "$(printf 'issuer=CN=Alpha Root,O=Alpha\nsubject=CN=Beta Root,O=Beta')"
check "cross certificate: Beta's key" test "$(openssl x509 -in "$x1" -noout -pubkey)" = \
    "$(openssl x509 -in "$d/beta.pem" -noout -pubkey)"
openssl x509 -in "$x1" -noout -text >"$d/x1.txt"
# after TEXTFILE HEADER PATTERN: a line matching PATTERN within 4 lines after HEADER
after() { grep -A4 -- "$2" "$1" | grep -q -- "$3"; }
check "cross certificate: cA TRUE, pathlen 0, critical" \
    after "$d/x1.txt" "Basic Constraints: critical" "CA:TRUE, pathlen:0"
check "cross certificate: keyCertSign and cRLSign only" \
    after "$d/x1.txt" "X509v3 Key Usage: critical" "^ *Certificate Sign, CRL Sign$"
check "cross certificate: name constraints dirName (critical)" \
    after "$d/x1.txt" "Name Constraints: critical" "DirName:O = Beta"
check "cross certificate: name constraints DNS" \
    after "$d/x1.txt" "Name Constraints: critical" "DNS:beta.example"
check "cross certificate: excluded IPv4 and IPv6 ranges" \
    bash -c "grep -A3 'Excluded:' '$d/x1.txt' | grep -q 'IP:10.0.0.0/255.0.0.0' &&
	grep -A3 'Excluded:' '$d/x1.txt' | grep -q 'IP:2001:DB8:0:0:0:0:0:0/FFFF:FFFF:0:0:0:0:0:0'"
check "cross certificate: SKI is Beta's own SKI" test "$(ski "$x1")" = "$(ski "$d/beta.pem")"
check "cross certificate: AKI is Alpha's SKI" test "$(aki "$x1")" = "$(ski "$d/alpha.pem")"
check "cross certificate: validity within 60 days" \
    test "$(( $(date -d "$(openssl x509 -in "$x1" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ))" -le $((60 * 86400 + 60))
sx1=$(serial_of "$x1")
check "A: inventory row kind=cross, valid (confirmed), requester partner:beta" \
    test "$(qa "select kind||' '||status||' '||requester from cert where serial = '$sx1'")" = "cross valid partner:beta"
check "A: audit cross-certify" test "$(qa "select count(*) from audit where event = 'cross-certify' and detail = '$sx1'")" = 1
check "B: ca_cert holds the cross certificate received" \
    test "$(qb "select count(*) from ca_cert c join ca on ca.id = c.ca_id where ca.label = 'beta' and c.kind = 'cross' and c.sha256 = sha256(decode('$(openssl x509 -in "$x1" -outform DER | xxd -p | tr -d '\n')', 'hex'))")" = 1
check "A: cross-certify list shows it issued" \
    says "^alpha	issued	$sx1	valid	CN=Beta Root,O=Beta" A cross-certify list --ca alpha
check "B: cross-certify list shows it received" \
    says "^beta	received	cross	CN=Alpha Root,O=Alpha" B cross-certify list --ca beta

echo "== A asks B (the other direction, over HTTPS)"
tls_url=$(. "$varb/stack.env"; echo "$CMPCA_TLS_URL")/p/beta
tls_ca=$(. "$varb/stack.env"; echo "$CMPCA_TLS_CA")
cp "$tls_ca" "$d/tls-ca.pem"
check "A: an https URL without the server's CA is refused (certificate verify)" \
    refused "no CMP answer" A cross-certify request --ca alpha --url "$tls_url" --partner-cert "$d/beta.pem"
if A cross-certify request --ca alpha --url "$tls_url" --partner-cert "$d/beta.pem" \
    --tls-trusted "$d/tls-ca.pem" >"$d/x-beta-alpha.pem" 2>"$d/req2.err"; then
	pass "A: cross-certify request to B over HTTPS (--tls-trusted)"
else
	fail "A: cross-certify request to B over HTTPS" "$(cat "$d/req2.err")"
fi
x2=$d/x-beta-alpha.pem
check "reverse cross certificate: issuer Beta Root, subject Alpha Root" \
    test "$(openssl x509 -in "$x2" -noout -issuer -subject -nameopt RFC2253)" = \
    "$(printf 'issuer=CN=Beta Root,O=Beta\nsubject=CN=Alpha Root,O=Alpha')"
check "reverse cross certificate signed with Beta's RSA key" \
    says "Signature Algorithm: sha256WithRSAEncryption" openssl x509 -in "$x2" -noout -text
check "B: inventory row kind=cross valid" \
    test "$(qb "select kind||' '||status from cert where serial = '$(serial_of "$x2")'")" = "cross valid"

echo "== end entities validate across the cross certificates"
(. "$varb/stack.env"; eval "$CMPCA_CLI" secret add ee --uses 10 --ca beta) >"$d/secb" 2>/dev/null
A secret add ee --uses 10 --ca alpha >"$d/seca" 2>/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$d/ee.key" 2>/dev/null
enroll() { # url secretfile subject san out
	openssl cmp -cmd ir -server "$1" -ref ee -secret "file:$2" -newkey "$d/ee.key" \
	    -subject "$3" -sans "$4" -certout "$5" >"$5.log" 2>&1
}
check "B issues alice (/O=Beta, alice.beta.example)" \
    enroll "$urlb/beta" "$d/secb" "/O=Beta/CN=alice" alice.beta.example "$d/alice.pem"
check "B issues mallory (/O=Gamma, www.gamma.example)" \
    enroll "$urlb/beta" "$d/secb" "/O=Gamma/CN=mallory" www.gamma.example "$d/mallory.pem"
check "A issues bob (/O=Alpha, bob.alpha.example)" \
    enroll "$urla/alpha" "$d/seca" "/O=Alpha/CN=bob" bob.alpha.example "$d/bob.pem"
for v in $validators; do
	check "$v: alice validates to Alpha Root through the cross certificate" \
	    $v "$d/alpha.pem" "$d/alice.pem" "$x1"
	check "$v: mallory (outside the name constraints) fails" \
	    fails $v "$d/alpha.pem" "$d/mallory.pem" "$x1"
	check "$v: bob validates to Beta Root through the reverse cross certificate" \
	    $v "$d/beta.pem" "$d/bob.pem" "$x2"
done
check "without the cross certificate alice does not validate to Alpha Root" \
    fails openssl verify -CAfile "$d/alpha.pem" "$d/alice.pem"
check "BC builds the 2-certificate path alice -> Beta Root (cross)" \
    says "^cert\[1\]=CN=Beta Root,O=Beta$" pathcheck --anchor "$d/alpha.pem" --target "$d/alice.pem" --cert "$x1"

echo "== a partner's end entity does not enroll through our cross certificate"
# alice (issued by Beta) chains to Alpha Root through the cross certificate
# A issued for Beta; that path authenticates no enrollment at A.
bc cr --url "$urla/alpha" --ca-cert "$d/alpha.pem" --prot-key "$d/ee.key" --prot-cert "$d/alice.pem" \
    --prot-chain "$x1" --newkey ec:P-256 --subject "/O=Beta/CN=alice" --san www.alpha.example \
    >"$d/cr-cross.out" 2>&1
check "alice's cr at A through the cross certificate: notAuthorized" \
    grep -q "body=error.*failinfo=notAuthorized" "$d/cr-cross.out"
check "the refusal names the cross certificate path" grep -q "cross certificate" "$d/cr-cross.out"
bc p10cr --url "$urla/alpha" --ca-cert "$d/alpha.pem" --prot-key "$d/ee.key" --prot-cert "$d/alice.pem" \
    --prot-chain "$x1" --key "$d/ee.key" --subject "/O=Beta/CN=alice" >"$d/p10-cross.out" 2>&1
check "alice's p10cr at A through the cross certificate: notAuthorized" \
    grep -q "body=error.*failinfo=notAuthorized" "$d/p10-cross.out"
check "A issued nothing for alice" test "$(qa "select count(*) from cert where subject = 'CN=alice,O=Beta'")" = 0
bc genm --url "$urla/alpha" --ca-cert "$d/alpha.pem" --prot-key "$d/ee.key" --prot-cert "$d/alice.pem" \
    --prot-chain "$x1" --infotype caCerts >"$d/genm-cross.out" 2>&1
check "alice's genm at A through the cross certificate is answered" grep -q "body=genp" "$d/genm-cross.out"

echo "== publication: genm caCerts and /certs/<label>.pem"
SEC=$(cat "$d/seca") bc genm --url "$urla/alpha" --ref ee --secret-env SEC --infotype caCerts \
    --out-dir "$d/genm" --recipient "/O=Alpha/CN=Alpha Root" >"$d/genm.out" 2>&1
check "genm caCerts answered" grep -q "body=genp" "$d/genm.out"
# fingerprints of every certificate in a PEM bundle, one per line
fps() { csplit -s -z -f "$d/split-" "$1" '/-----BEGIN/' '{*}' && for f in "$d"/split-*; do fp "$f"; done; rm -f "$d"/split-*; }
fps "$d/genm/cacerts.pem" >"$d/genm.fps" 2>/dev/null
check "caCerts carries Alpha Root" grep -qx "$(fp "$d/alpha.pem")" "$d/genm.fps"
check "caCerts carries the cross certificate A issued to Beta" grep -qx "$(fp "$x1")" "$d/genm.fps"
check "caCerts carries the cross certificate A received from Beta" grep -qx "$(fp "$x2")" "$d/genm.fps"
ok=0
for _ in $(seq 1 30); do
	curl -sf "http://127.0.0.1:$CMPCA_PORT/certs/alpha.pem" -o "$d/bundle-alpha.pem" &&
	    grep -q BEGIN "$d/bundle-alpha.pem" &&
	    fps "$d/bundle-alpha.pem" | grep -qx "$(fp "$x1")" &&
	    { ok=1; break; }
	sleep 0.5
done
check "A serves /certs/alpha.pem with the cross certificate (housekeeper)" test "$ok" = 1
check "the bundle verifies alice to Alpha Root as the untrusted set" \
    openssl verify -CAfile "$d/alpha.pem" -untrusted "$d/bundle-alpha.pem" "$d/alice.pem"
curl -sf "http://127.0.0.1:$portb/certs/beta.pem" -o "$d/bundle-beta.pem"
check "B serves /certs/beta.pem with the cross certificate it received" \
    says "^$(fp "$x1")$" fps "$d/bundle-beta.pem"
check "the bundle is served as application/pem-certificate-chain" \
    says "^[Cc]ontent-[Tt]ype: application/pem-certificate-chain" curl -sfI "http://127.0.0.1:$CMPCA_PORT/certs/alpha.pem"

echo "== refusals (Bouncy Castle ccr to A)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/gamma.key" \
    -out "$d/gamma.pem" -subj "/O=Gamma/CN=Gamma Root" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/delta.key" \
    -out "$d/delta.pem" -subj "/O=Delta/CN=Delta Root" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
check "A: partner add gamma (policies, mapping, policy constraints, EKU)" \
    A partner add gamma --cert "$d/gamma.pem" --ca alpha --days 10 --policy 1.3.6.1.4.1.99999.1 \
    --map 1.3.6.1.4.1.99999.1:1.3.6.1.4.1.88888.1 --require-explicit 0 --inhibit-mapping 1 \
    --eku 1.3.6.1.5.5.7.3.2
nccr=0
ccr() { # name expected-grep args...
	local name=$1 want=$2 out
	shift 2
	nccr=$((nccr + 1))
	out=$d/bc-$nccr
	[ $nccr = 1 ] && out=$d/bc-gamma
	bc ccr --ca-cert "$d/alpha.pem" --out-dir "$out" "$@" >"$out.out" 2>&1
	if grep -q -- "$want" "$out.out"; then pass "$name"; else fail "$name" "$(head -c 400 "$out.out")"; fi
}
gamma_ccr=(--prot-key "$d/gamma.key" --prot-cert "$d/gamma.pem" --subject "/O=Gamma/CN=Gamma Root")
ccr "partner gamma: ccp accepted, certConf answered pkiConf" "body=pkiconf.*sig=ok" \
    --url "$urla/alpha" "${gamma_ccr[@]}" --key "$d/gamma.key"
openssl x509 -in "$d/bc-gamma/cert-0.pem" -noout -text >"$d/xg.txt" 2>/dev/null
check "gamma's cross certificate: certificatePolicies" grep -q "Policy: 1.3.6.1.4.1.99999.1" "$d/xg.txt"
check "gamma's cross certificate: policyMappings (critical)" \
    after "$d/xg.txt" "Policy Mappings: critical" "1.3.6.1.4.1.99999.1:1.3.6.1.4.1.88888.1"
check "gamma's cross certificate: requireExplicitPolicy 0 (critical)" \
    after "$d/xg.txt" "Policy Constraints: critical" "Require Explicit Policy:0"
check "gamma's cross certificate: inhibitPolicyMapping 1" \
    after "$d/xg.txt" "Policy Constraints: critical" "Inhibit Policy Mapping:1"
check "gamma's cross certificate: extendedKeyUsage" \
    after "$d/xg.txt" "Extended Key Usage" "TLS Web Client Authentication"
check "gamma's cross certificate: no pathLenConstraint (none registered)" \
    after "$d/xg.txt" "Basic Constraints: critical" "^ *CA:TRUE$"
ccr "ccr without POP: badPOP" "status\[0\]=2 failinfo\[0\]=badPOP" \
    --url "$urla/alpha" "${gamma_ccr[@]}" --key "$d/gamma.key" --no-pop
ccr "ccr for another key than the pinned one: badCertTemplate" "status\[0\]=2 failinfo\[0\]=badCertTemplate" \
    --url "$urla/alpha" "${gamma_ccr[@]}" --newkey ec:P-256
ccr "ccr for another subject: notAuthorized" "status\[0\]=2 failinfo\[0\]=notAuthorized" \
    --url "$urla/alpha" --prot-key "$d/gamma.key" --prot-cert "$d/gamma.pem" --key "$d/gamma.key" \
    --subject "/O=Gamma/CN=Someone Else"
ccr "ccr from a CA that is not a partner: notAuthorized" "body=error.*failinfo=notAuthorized" \
    --url "$urla/alpha" --prot-key "$d/delta.key" --prot-cert "$d/delta.pem" --key "$d/delta.key" \
    --subject "/O=Delta/CN=Delta Root"
ccr "ccr from an end entity of ours: notAuthorized" "body=error.*failinfo=notAuthorized" \
    --url "$urla/alpha" --prot-key "$d/ee.key" --prot-cert "$d/bob.pem" --prot-chain "$d/alpha.pem" \
    --key "$d/ee.key" --subject "/O=Alpha/CN=bob"
SEC=$(cat "$d/seca") ccr "ccr protected with an enrollment secret (MAC): notAuthorized" "body=error.*failinfo=notAuthorized" \
    --url "$urla/alpha" --ref ee --secret-env SEC --key "$d/gamma.key" --subject "/O=Gamma/CN=Gamma Root"
bc ccr --url "$urla/demo" --recipient "$CMPCA_CA_SUBJECT" "${gamma_ccr[@]}" --key "$d/gamma.key" \
    >"$d/ccr-demo.out" 2>&1
check "ccr to a CA the partner is not registered with: notAuthorized" \
    grep -q "body=error.*failinfo=notAuthorized" "$d/ccr-demo.out"
bc ir --url "$urla/alpha" --ca-cert "$d/alpha.pem" --prot-key "$d/gamma.key" --prot-cert "$d/gamma.pem" \
    --newkey ec:P-256 --subject "/O=Gamma/CN=www" >"$d/ir-partner.out" 2>&1
check "a partner's ir is refused with notAuthorized" grep -q "body=error.*failinfo=notAuthorized" "$d/ir-partner.out"
check "every refusal left no cross certificate for Delta or bob" \
    test "$(qa "select count(*) from cert where kind = 'cross' and subject not in ('CN=Beta Root,O=Beta', 'CN=Gamma Root,O=Gamma')")" = 0
check "A: partner remove gamma" A partner remove gamma
ccr "after partner remove, gamma's ccr: notAuthorized" "body=error.*failinfo=notAuthorized" \
    --url "$urla/alpha" "${gamma_ccr[@]}" --key "$d/gamma.key"
check "the daemon answers normal enrollments after the refusals" \
    enroll "$urla/alpha" "$d/seca" "/O=Alpha/CN=after" after.alpha.example "$d/after.pem"

echo "== local cross-certification"
check "A: ca create alpha2" A ca create alpha2 --subject "/O=Alpha/CN=Alpha Two" --key ec:P-384
if A cross-certify local --issuer alpha --subject alpha2 --pathlen 0 --days 30 >"$d/x-local.pem" 2>"$d/local.err"; then
	pass "A: cross-certify local --issuer alpha --subject alpha2"
else
	fail "A: cross-certify local" "$(cat "$d/local.err")"
fi
A secret add ee2 --uses 2 --ca alpha2 >"$d/seca2" 2>/dev/null
openssl cmp -cmd ir -server "$urla/alpha2" -ref ee2 -secret "file:$d/seca2" -newkey "$d/ee.key" \
    -subject "/O=Alpha/CN=carol" -certout "$d/carol.pem" >/dev/null 2>&1
check "carol (issued by alpha2) validates to Alpha Root through the local cross certificate" \
    openssl verify -x509_strict -CAfile "$d/alpha.pem" -untrusted "$d/x-local.pem" "$d/carol.pem"
check "BC agrees" v_bc "$d/alpha.pem" "$d/carol.pem" "$d/x-local.pem"
check "the local cross certificate is stored for both CAs" \
    test "$(qa "select (select count(*) from cert where kind = 'cross' and serial = '$(serial_of "$d/x-local.pem")')::text||(select count(*) from ca_cert c join ca on ca.id = c.ca_id where ca.label = 'alpha2')::text")" = 11
check "a CA does not cross-certify itself" \
    refused "itself" A cross-certify local --issuer alpha --subject alpha

echo "== revoking a cross certificate stops its path at once"
check "A: cert revoke the cross certificate for Beta" A cert revoke "$sx1" --ca alpha --reason 1
bc genm --url "$urla/alpha" --ca-cert "$d/alpha.pem" --prot-key "$d/ee.key" --prot-cert "$d/alice.pem" \
    --prot-chain "$x1" --infotype caCerts >"$d/genm-revoked.out" 2>&1
check "alice's genm through the revoked cross certificate: certRevoked" \
    grep -q "body=error.*failinfo=certRevoked" "$d/genm-revoked.out"

e2e_done
