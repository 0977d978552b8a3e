#!/bin/bash
# End-to-end tests of the OCSP responder (RFC 6960) on the real stack
# (PostgreSQL, SoftHSM through libp11, nginx, cmpcad), driven by
# `openssl ocsp`, `openssl cmp` and curl. A fresh stack in a temporary
# directory, on a port away from `make run` (8080), tests/e2e/run.sh
# (18480) and bc.sh (18490..): CMPCA_OCSP_TEST_PORT, else the first free
# port from 18510. Short certConf timeout and sweeps, for the expiry case;
# OCSP answers valid 120 s and produced again 110 s before their
# nextUpdate, for the refresh case.
#
# usage: tests/e2e/ocsp.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup ocsp 18510 --port-var CMPCA_OCSP_TEST_PORT --scan-to 18530 --keep -- "$@"
export CMPCA_TXN_TIMEOUT=4 CMPCA_HOUSEKEEPING=1
export CMPCA_OCSP_VALIDITY=120 CMPCA_OCSP_REFRESH=110
# has FILE PATTERN (grep -E); hasnt FILE PATTERN
has() { grep -qE -- "$2" "$1"; }
hasnt() { ! grep -qE -- "$2" "$1"; }

e2e_stack_up
url=$CMPCA_OCSP_URL
ca=$CMPCA_CA_CERT

# cmp_ir NAME SUBJECT [extra openssl cmp options...]: enrolls a new EC key
# with the demo secret under the demo CA; leaves $work/NAME.{key,pem,out}.
cmp_ir() {
	local name=$1 subj=$2
	shift 2
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$name.key" 2>/dev/null
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/$name.key" -subject "$subj" \
	    -certout "$work/$name.pem" "$@" >"$work/$name.out" 2>&1
}

# ocsp NAME [openssl ocsp options...]: a POST to the responder; the
# output in $work/NAME.txt (stdout, then stderr: they would interleave).
# tryLater (ocsp_sign_max: the housekeeper may hold the one signing slot
# while it produces answers) is asked again after a second, as a client
# would, up to five times.
ocsp() {
	local name=$1 try
	shift
	for try in 1 2 3 4 5; do
		openssl ocsp -url "$url" -resp_text -respout "$work/$name.rsp" "$@" \
		    >"$work/$name.out" 2>"$work/$name.err"
		cat "$work/$name.out" "$work/$name.err" >"$work/$name.txt"
		grep -q "trylater" "$work/$name.txt" || break
		sleep 1
	done
}

# 0. Before the first OCSP request: a second CA (RSA) with its signer, a
#    third CA without one, and a secret for the second.
cli ca create two --subject "/O=cmpca/CN=Second CA" --key rsa:2048 \
    --days 365 >/dev/null 2>&1
cli ca export two >"$work/two.pem"
check "ocsp signer --ca two (RSA CA)" cli ocsp signer --ca two --days 7
if cli ca create three --subject "/CN=Third CA" --days 365 \
    >"$work/three-create.out" 2>&1; then
	pass "ca create three (a CA without signer)"
else
	fail "ca create three" "$(tail -n 3 "$work/three-create.out")"
fi
cli ca export three >"$work/three.pem"
TWO_SECRET=$(cli secret add two-secret --uses -1 --ca two 2>/dev/null)

# 1. The demo signer made by scripts/stack: key in the HSM, certificate
#    from the CA with the OCSP extensions, in the inventory.
q "select encode(cert, 'hex') from ocsp_signer where ca_id = (select id from ca where label = 'demo') order by id desc limit 1" |
    xxd -r -p >"$work/signer.der"
openssl x509 -inform DER -in "$work/signer.der" -out "$work/signer.pem" 2>/dev/null
openssl x509 -in "$work/signer.pem" -noout -text >"$work/signer.txt" 2>&1
check "signer: subject names the CA" has "$work/signer.txt" \
    "Subject: O ?= ?cmpca, CN ?= ?cmpca Demo CA OCSP Signer"
check "signer: extendedKeyUsage OCSPSigning" has "$work/signer.txt" "OCSP Signing"
check "signer: id-pkix-ocsp-nocheck" has "$work/signer.txt" "OCSP No Check"
check "signer: keyUsage digitalSignature only" test \
    "$(grep -A1 'X509v3 Key Usage: critical' "$work/signer.txt" | tail -n 1 | tr -d ' ')" = DigitalSignature
check "signer: AKI and SKI" bash -c "grep -q 'Authority Key Identifier' '$work/signer.txt' && grep -q 'Subject Key Identifier' '$work/signer.txt'"
check "signer: valid for 30 days" test "$(( ($(date -d "$(openssl x509 -in "$work/signer.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 3600) / 86400 ))" = 30
check "signer: chains to the CA for OCSP signing (openssl verify)" \
    openssl verify -CAfile "$ca" -purpose ocsphelper "$work/signer.pem"
check "signer: key in the HSM (key_uri is a PKCS#11 URI)" test \
    "$(q "select key_uri like 'pkcs11:token=cmpca;object=demo-ocsp-%' from ocsp_signer order by id limit 1")" = t
check "signer: in the inventory as valid" test \
    "$(q "select status from cert where serial = '$(serial_of "$work/signer.pem")'")" = valid
check "signer: cmpca cert list shows it" \
    grep -q "OCSP Signer" <(cli cert list --ca demo --status valid)
check "ocsp signer without --ca: usage error" bash -c \
    "! $CMPCA_CLI ocsp signer >/dev/null 2>&1"

# 2. A fresh certificate: good, verified, responder by key; the request's
#    nonce ignored (ocsp_nonce = no, the default: RFC 8954 §3 lets the
#    responder leave it out, so that answers are reused).
if cmp_ir good "/CN=ocsp-good"; then
	pass "enroll a certificate (openssl cmp ir)"
else
	fail "enroll a certificate" "$(tail -n 3 "$work/good.out")"
fi
ocsp good -issuer "$ca" -cert "$work/good.pem" -CAfile "$ca"
check "good: status good" has "$work/good.txt" "good.pem: good"
check "good: response verifies (delegated signer chains to the CA)" \
    has "$work/good.txt" "^Response verify OK"
check "good: nonce ignored (openssl: no nonce in response)" \
    has "$work/good.txt" "WARNING: no nonce in response"
check "good: no nonce in the response" hasnt "$work/good.txt" "OCSP Nonce"
ski=$(openssl x509 -in "$work/signer.pem" -noout -ext subjectKeyIdentifier |
    tail -n 1 | tr -d ' :')
check "good: responderID byKey, the signer's key" \
    has "$work/good.txt" "Responder Id: $ski"
check "good: signer certificate included" \
    has "$work/good.txt" "Subject: O ?= ?cmpca, CN ?= ?cmpca Demo CA OCSP Signer"
check "good: thisUpdate and nextUpdate" bash -c \
    "grep -q 'This Update' '$work/good.txt' && grep -q 'Next Update' '$work/good.txt'"
ocsp good256 -sha256 -issuer "$ca" -cert "$work/good.pem" -CAfile "$ca"
check "good: CertID with SHA-256 hashes" bash -c \
    "grep -q 'good.pem: good' '$work/good256.txt' && grep -q 'Hash Algorithm: sha256' '$work/good256.txt' && grep -q '^Response verify OK' '$work/good256.txt'"
ocsp nononce -no_nonce -issuer "$ca" -cert "$work/good.pem" -CAfile "$ca"
check "good: request without nonce, response without nonce" bash -c \
    "grep -q 'good.pem: good' '$work/nononce.txt' && ! grep -q 'OCSP Nonce' '$work/nononce.txt'"

# 2b. Answers produced ahead of time (migration 023): the housekeeper
#     signs one for a new certificate before anyone asks; every worker
#     serves those bytes, to a request with or without nonce, without an
#     HSM signature (cmpca_ocsp_total{event="signed"} stays).
metric() { # EVENT: the counter cmpca_ocsp_total{event="EVENT"}
	curl -s "$CMPCA_METRICS_URL" |
	    sed -n "s/^cmpca_ocsp_total{event=\"$1\"} //p"
}
stored_der() { # SERIAL FILE: the stored SHA-1 answer of SERIAL into FILE
	q "select encode(der, 'hex') from ocsp_answer where serial = '$1' and md = 'sha1'" |
	    xxd -r -p >"$2"
}
rows0=$(q "select count(*) from ocsp_answer")
produced0=$(metric produced)
cmp_ir pre "/CN=ocsp-pre"
ps=$(serial_of "$work/pre.pem")
for _ in $(seq 40); do
	[ "$(q "select count(*) from ocsp_answer where serial = '$ps' and md = 'sha1' and not stale")" = 1 ] && break
	sleep 0.25
done
check "pre-produced: an answer stored before any request" test \
    "$(q "select status from ocsp_answer where serial = '$ps' and md = 'sha1'")" = good
check "pre-produced: the stored answers grew (housekeeper)" test \
    "$(q "select count(*) from ocsp_answer")" -gt "$rows0"
check "pre-produced: cmpca_ocsp_total{event=\"produced\"} grew" test \
    "$(metric produced)" -gt "$produced0"
check "pre-produced: logged by the housekeeper" has "$CMPCA_LOG" \
    "answer\(s\) produced ahead of time"
check "pre-produced: valid ocsp_validity (120 s)" test \
    "$(q "select extract(epoch from next_update - this_update)::int from ocsp_answer where serial = '$ps' and md = 'sha1'")" = 120
stored_der "$ps" "$work/pre.stored"
pre_this=$(q "select extract(epoch from this_update)::bigint from ocsp_answer where serial = '$ps' and md = 'sha1'")
signed0=$(metric signed)
stored0=$(metric stored)
ocsp pre -issuer "$ca" -cert "$work/pre.pem" -CAfile "$ca"
ocsp prenn -no_nonce -issuer "$ca" -cert "$work/pre.pem" -CAfile "$ca"
check "pre-produced: good, verified" bash -c \
    "grep -q 'pre.pem: good' '$work/pre.txt' && grep -q '^Response verify OK' '$work/pre.txt'"
check "pre-produced: with and without nonce, byte-identical answers" \
    cmp -s "$work/pre.rsp" "$work/prenn.rsp"
check "pre-produced: the stored answer's bytes" \
    cmp -s "$work/pre.rsp" "$work/pre.stored"
check "pre-produced: no HSM signature for them (signed stays)" test \
    "$(metric signed)" = "$signed0"
check "pre-produced: counted as stored" test \
    "$(metric stored)" -ge $((stored0 + 2))

# 3. A serial we never issued: unknown, signed.
ocsp unknown -issuer "$ca" -serial 0x1234 -CAfile "$ca"
check "never issued: unknown" has "$work/unknown.txt" "^0x1234: unknown"
check "never issued: response verifies" has "$work/unknown.txt" "^Response verify OK"

# 4. GET (RFC 6960 Appendix A.1): base64 of the DER request, URL-encoded.
openssl ocsp -issuer "$ca" -cert "$work/good.pem" -reqout "$work/get.req" >/dev/null 2>&1
b64=$(base64 -w0 "$work/get.req")
enc=$(printf %s "$b64" | sed -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g')
get() { # NAME PATH
	curl -s -o "$work/$1.rsp" -D "$work/$1.hdr" -w '%{http_code}' "$url/$2" >"$work/$1.code"
	openssl ocsp -reqin "$work/get.req" -respin "$work/$1.rsp" \
	    -CAfile "$ca" -resp_text >"$work/$1.out" 2>"$work/$1.err"
	cat "$work/$1.out" "$work/$1.err" >"$work/$1.txt"
}
get get "$enc"
check "GET: HTTP 200, application/ocsp-response" bash -c \
    "grep -q 200 '$work/get.code' && grep -qi '^Content-Type: application/ocsp-response' '$work/get.hdr'"
check "GET: good, verified, the nonce ignored" bash -c \
    "grep -q 'Cert Status: good' '$work/get.txt' && grep -q '^Response verify OK' '$work/get.txt' && grep -q 'WARNING: no nonce in response' '$work/get.txt'"
get getraw "$b64"
check "GET: unencoded standard base64 in the path" \
    has "$work/getraw.txt" "Cert Status: good"
get geturl "/$(printf %s "$b64" | tr '+/' '-_' | tr -d =)"
check "GET: URL-safe base64 without padding, after //" \
    has "$work/geturl.txt" "Cert Status: good"
check "GET: Cache-Control no-cache" grep -qi "^Cache-Control: no-cache" "$work/get.hdr"

# 5. Revocation by the operator: revoked at once, with time and reason.
cli cert revoke "$(serial_of "$work/good.pem")" --reason 1 >/dev/null
ocsp revoked -issuer "$ca" -cert "$work/good.pem" -CAfile "$ca"
check "revoked (cmpca cert revoke): status revoked" has "$work/revoked.txt" "good.pem: revoked"
check "revoked: reason keyCompromise" has "$work/revoked.txt" "Reason: keyCompromise"
check "revoked: revocation time" has "$work/revoked.txt" "Revocation Time: "
check "revoked: response verifies" has "$work/revoked.txt" "^Response verify OK"
rt=$(sed -n 's/.*Revocation Time: //p' "$work/revoked.txt" | head -n 1)
check "revoked: revocation time is the database's" test \
    "$(date -u -d "$rt" +%s 2>/dev/null)" = \
    "$(q "select floor(extract(epoch from revoked_at))::bigint from cert where serial = '$(serial_of "$work/good.pem")'")"
get getrev "$enc"
check "GET after revocation: revoked too" has "$work/getrev.txt" "Cert Status: revoked"
# Every worker: the answer signed once after the revocation (the stored
# one went stale in the revocation's transaction), the same bytes.
# Which worker accepts a request is the kernel's choice: six requests at
# once, up to five rounds, until two workers or more have served one.
revlines0=$(grep -c "ocsp req .* revoked=1 .*status=successful stored" "$CMPCA_LOG")
rev_pids() {
	grep "ocsp req .* revoked=1 .*status=successful stored" "$CMPCA_LOG" |
	    tail -n +$((revlines0 + 1)) | sed -n 's/.*cmpcad\[\([0-9]*\)\].*/\1/p' |
	    sort -u | wc -l
}
n=0
for round in 1 2 3 4 5; do
	pids=()
	for i in 1 2 3 4 5 6; do
		n=$((n + 1))
		ocsp "rev$n" -issuer "$ca" -cert "$work/good.pem" -CAfile "$ca" &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ "$(rev_pids)" -ge 2 ] && break
done
check "revoked: every request answered revoked ($n)" test \
    "$(cat "$work"/rev[0-9]*.txt | grep -c 'good.pem: revoked')" = "$n"
check "revoked: the same bytes from every worker" bash -c \
    "for f in '$work'/rev[0-9]*.rsp; do cmp -s '$work/rev1.rsp' \"\$f\" || exit 1; done"
stored_der "$(serial_of "$work/good.pem")" "$work/rev.stored"
check "revoked: that answer is the stored one" cmp -s "$work/rev1.rsp" "$work/rev.stored"
check "revoked: served from the store by two workers or more ($round rounds)" \
    test "$(rev_pids)" -ge 2

cmp_ir plain "/CN=ocsp-plain"
cli cert revoke "$(serial_of "$work/plain.pem")" --reason 0 >/dev/null
ocsp plain -issuer "$ca" -cert "$work/plain.pem" -CAfile "$ca"
check "revoked with reason unspecified: revoked, no reason" bash -c \
    "grep -q 'plain.pem: revoked' '$work/plain.txt' && ! grep -q 'Reason:' '$work/plain.txt'"

# 5b. The attacker with the daemon's database login: a "good" answer
#     signed before the revocation, put back into the revoked
#     certificate's row with the row's columns saying revoked. Workers
#     compare the bytes, not the columns, with the inventory: revoked at
#     once, and the row signed again.
cmp_ir replay "/CN=ocsp-replay"
rs=$(serial_of "$work/replay.pem")
ocsp replay-good -issuer "$ca" -cert "$work/replay.pem" -CAfile "$ca"
stored_der "$rs" "$work/replay-good.stored"
check "replayed answer: a good answer stored before the revocation" bash -c \
    "grep -q 'replay.pem: good' '$work/replay-good.txt' && test -s '$work/replay-good.stored'"
cli cert revoke "$rs" --reason 1 >/dev/null
ocsp replay-rev -issuer "$ca" -cert "$work/replay.pem" -CAfile "$ca"
check "replayed answer: revoked after the revocation" has "$work/replay-rev.txt" "replay.pem: revoked"
if psql -XqtA "$CMPCA_DB_DAEMON" -v ON_ERROR_STOP=1 -c "UPDATE ocsp_answer a SET der = decode('$(xxd -p "$work/replay-good.stored" | tr -d '\n')', 'hex'), status = 'revoked', reason = c.reason, revoked_at = c.revoked_at, stale = false, next_update = now() + interval '1 day' FROM cert c WHERE c.ca_id = a.ca_id AND c.serial = a.serial AND a.serial = '$rs' AND a.md = 'sha1'" >"$work/replay-upd.out" 2>&1; then
	pass "replayed answer: the daemon's role rewrote the row (the attack ran)"
else
	fail "replayed answer: the daemon's UPDATE" "$(cat "$work/replay-upd.out")"
fi
stored_der "$rs" "$work/replay-planted.stored"
check "replayed answer: the row now holds the good answer's bytes" \
    cmp -s "$work/replay-good.stored" "$work/replay-planted.stored"
for i in 1 2 3 4; do
	ocsp "replay$i" -issuer "$ca" -cert "$work/replay.pem" -CAfile "$ca"
done
check "replayed answer: every worker answers revoked, verified" bash -c \
    "for i in 1 2 3 4; do grep -q 'replay.pem: revoked' \"$work/replay\$i.txt\" && grep -q '^Response verify OK' \"$work/replay\$i.txt\" || exit 1; done"
check "replayed answer: refused and logged" has "$CMPCA_LOG" \
    "serial $rs: the stored answer does not sign the inventory's status"
stored_der "$rs" "$work/replay-after.stored"
check "replayed answer: the row signed again (not the good answer)" bash -c \
    "! cmp -s '$work/replay-good.stored' '$work/replay-after.stored' && openssl ocsp -respin '$work/replay-after.stored' -resp_text -noverify 2>/dev/null | grep -q 'Cert Status: revoked'"

# 6. Revocation through CMP rr, signed by the certificate itself.
cmp_ir rr "/CN=ocsp-rr"
if openssl cmp -cmd rr -server "$CMPCA_URL" -cert "$work/rr.pem" \
    -key "$work/rr.key" -oldcert "$work/rr.pem" -trusted "$ca" \
    -revreason 4 >"$work/rr-cmp.out" 2>&1; then
	ocsp rr -issuer "$ca" -cert "$work/rr.pem" -CAfile "$ca"
	check "revoked by rr: revoked, superseded" bash -c \
	    "grep -q 'rr.pem: revoked' '$work/rr.txt' && grep -q 'Reason: superseded' '$work/rr.txt'"
else
	fail "rr" "$(tail -n 3 "$work/rr-cmp.out")"
fi

# 7. Never confirmed: unknown while unconfirmed; once the housekeeper
#    rejects it, revoked with cessationOfOperation.
cmp_ir noconf "/CN=ocsp-never-confirmed" -disable_confirm
ocsp noconf -issuer "$ca" -cert "$work/noconf.pem" -CAfile "$ca"
check "unconfirmed: unknown" has "$work/noconf.txt" "noconf.pem: unknown"
for _ in $(seq 30); do
	[ "$(q "select status from cert where serial = '$(serial_of "$work/noconf.pem")'")" = rejected ] && break
	sleep 0.5
done
ocsp rejected -issuer "$ca" -cert "$work/noconf.pem" -CAfile "$ca"
check "rejected after the certConf timeout: revoked, cessationOfOperation" bash -c \
    "grep -q 'noconf.pem: revoked' '$work/rejected.txt' && grep -q 'Reason: cessationOfOperation' '$work/rejected.txt'"

# 8. Several CAs, each with its own signer.
openssl genrsa -out "$work/two-ee.key" 2048 2>/dev/null
if openssl cmp -cmd ir -server "http://127.0.0.1:$CMPCA_PORT/.well-known/cmp/p/two" \
    -ref two-secret -secret "pass:$TWO_SECRET" -recipient "/O=cmpca/CN=Second CA" \
    -newkey "$work/two-ee.key" -subject /CN=ocsp-two -certout "$work/two-ee.pem" \
    >"$work/two-ee.out" 2>&1; then
	pass "enroll under the second CA"
else
	fail "enroll under the second CA" "$(tail -n 3 "$work/two-ee.out")"
fi
ocsp two -issuer "$work/two.pem" -cert "$work/two-ee.pem" -CAfile "$work/two.pem"
check "second CA: good, verified with its own CA certificate" bash -c \
    "grep -q 'two-ee.pem: good' '$work/two.txt' && grep -q '^Response verify OK' '$work/two.txt'"
check "second CA: its signer (RSA) answers" bash -c \
    "grep -q 'CN=Second CA OCSP Signer' '$work/two.txt' && grep -q 'sha256WithRSAEncryption' '$work/two.txt'"
ocsp twowrong -issuer "$work/two.pem" -cert "$work/two-ee.pem" -CAfile "$ca"
check "second CA: does not verify against the demo CA" \
    hasnt "$work/twowrong.txt" "^Response verify OK"
ocsp mixed -issuer "$ca" -cert "$work/plain.pem" -issuer "$work/two.pem" \
    -cert "$work/two-ee.pem" -CAfile "$ca"
check "two CAs in one request: unauthorized" has "$work/mixed.txt" "unauthorized \(6\)"
ocsp three -issuer "$work/three.pem" -serial 0x01 -CAfile "$work/three.pem"
check "CA without signer: unauthorized" has "$work/three.txt" "unauthorized \(6\)"
check "CA without signer: logged" has "$CMPCA_LOG" "ca three has no OCSP signer"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/other.key" -out "$work/other.pem" -subj "/CN=Other CA" \
    -days 3 2>/dev/null
ocsp other -issuer "$work/other.pem" -serial 0x01 -CAfile "$work/other.pem"
check "issuer not served here: unauthorized" has "$work/other.txt" "unauthorized \(6\)"
# A signer made while the daemon runs is found without a restart (a
# worker reads again at most every 5 s when a CA has no signer).
cli ocsp signer --ca three >/dev/null 2>&1
sleep 6
for _ in 1 2 3 4; do # every worker
	ocsp three2 -issuer "$work/three.pem" -serial 0x01 -CAfile "$work/three.pem"
done
check "signer added while running: unknown, verified" bash -c \
    "grep -q '^0x01: unknown' '$work/three2.txt' && grep -q '^Response verify OK' '$work/three2.txt'"

# 9. Hostile and malformed input: malformedRequest (HTTP 200) or an HTTP
#    error, and the responder keeps serving.
post() { # NAME FILE [content type]
	curl -s -o "$work/$1.rsp" -D "$work/$1.hdr" -w '%{http_code}' \
	    -H "Content-Type: ${3:-application/ocsp-request}" \
	    --data-binary "@$2" "$url" >"$work/$1.code"
	openssl ocsp -respin "$work/$1.rsp" -resp_text >"$work/$1.txt" 2>&1
}
malformed() { # NAME
	grep -q 200 "$work/$1.code" &&
	    grep -qi '^Content-Type: application/ocsp-response' "$work/$1.hdr" &&
	    grep -q 'malformedrequest (1)' "$work/$1.txt" &&
	    [ "$(xxd -p "$work/$1.rsp")" = 30030a0101 ]
}
head -c 300 /dev/urandom >"$work/garbage"
post garbage "$work/garbage"
check "garbage POST: HTTP 200 malformedRequest" malformed garbage
openssl ocsp -issuer "$ca" -cert "$work/plain.pem" -reqout "$work/ok.req" >/dev/null 2>&1
head -c -1 "$work/ok.req" >"$work/trunc.req"
post trunc "$work/trunc.req"
check "truncated request: malformedRequest" malformed trunc
{ cat "$work/ok.req"; printf '\0'; } >"$work/trail.req"
post trail "$work/trail.req"
check "trailing byte: malformedRequest" malformed trail
args=()
for i in $(seq 17); do args+=(-serial "$i"); done
openssl ocsp -issuer "$ca" "${args[@]}" -reqout "$work/17.req" >/dev/null 2>&1
post many "$work/17.req"
check "17 single requests: malformedRequest" malformed many
openssl ocsp -issuer "$ca" "${args[@]:0:32}" -reqout "$work/16.req" >/dev/null 2>&1
post sixteen "$work/16.req"
check "16 single requests: answered" grep -q "successful (0x0)" "$work/sixteen.txt"
# A nonce of 33 octets (RFC 8954 §2.1 allows 32), built with asn1parse.
nh=$(openssl ocsp -issuer "$ca" -serial 1 -req_text -reqout /dev/null 2>/dev/null |
    sed -n 's/.*Issuer Name Hash: //p')
kh=$(openssl ocsp -issuer "$ca" -serial 1 -req_text -reqout /dev/null 2>/dev/null |
    sed -n 's/.*Issuer Key Hash: //p')
mkreq() { # FILE NONCE_OCTETS
	cat >"$work/req.cnf" <<CNF
asn1 = SEQUENCE:req
[req]
tbs = SEQUENCE:tbs
[tbs]
list = SEQUENCE:list
ext = EXPLICIT:2,SEQUENCE:exts
[list]
one = SEQUENCE:one
[one]
cid = SEQUENCE:cid
[cid]
alg = SEQUENCE:alg
nh = FORMAT:HEX,OCTETSTRING:$nh
kh = FORMAT:HEX,OCTETSTRING:$kh
serial = INTEGER:0x1234
[alg]
oid = OID:sha1
null = NULL
[exts]
nonce = SEQUENCE:nonce
[nonce]
oid = OID:1.3.6.1.5.5.7.48.1.2
val = OCTWRAP,FORMAT:HEX,OCTETSTRING:$(head -c "$2" /dev/urandom | xxd -p | tr -d '\n')
CNF
	openssl asn1parse -genconf "$work/req.cnf" -out "$1" >/dev/null 2>&1
}
mkreq "$work/n33.req" 33
post n33 "$work/n33.req"
check "nonce of 33 octets: malformedRequest" malformed n33
mkreq "$work/n32.req" 32
post n32 "$work/n32.req"
check "nonce of 32 octets: answered, not echoed (ocsp_nonce = no)" bash -c \
    "grep -q 'successful (0x0)' '$work/n32.txt' && grep -q 'Cert Status: unknown' '$work/n32.txt' && ! grep -q 'OCSP Nonce' '$work/n32.txt'"
post ctype "$work/ok.req" text/plain
check "wrong content type: HTTP 415" grep -q 415 "$work/ctype.code"
post cmpctype "$work/ok.req" application/pkixcmp
check "CMP content type on /ocsp: HTTP 415" grep -q 415 "$work/cmpctype.code"
check "PUT: HTTP 405, Allow: GET, POST" bash -c \
    "curl -s -D - -o /dev/null -X PUT '$url' | grep -qi '^Allow: GET, POST'"
check "POST below /ocsp/: HTTP 404" test "$(curl -s -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/ocsp-request' --data-binary "@$work/ok.req" "$url/x")" = 404
check "/ocspx: HTTP 404" test "$(curl -s -o /dev/null -w '%{http_code}' "${url}x")" = 404
get badb64 '@@@!'
check "GET with text that is not base64: malformedRequest" malformed badb64
get empty ''
check "GET /ocsp/ without a request: malformedRequest" malformed empty
check "GET with a huge path: HTTP 414" test "$(curl -s -o /dev/null -w '%{http_code}' \
    "$url/$(head -c 30000 /dev/zero | tr '\0' 'A')")" = 414
head -c 20000 /dev/urandom >"$work/big"
post big "$work/big"
check "POST over 16 KiB: HTTP 413" grep -q 413 "$work/big.code"
for i in $(seq 20); do
	head -c $((i * 37)) /dev/urandom >"$work/fuzz"
	curl -s -o /dev/null -H 'Content-Type: application/ocsp-request' \
	    --data-binary "@$work/fuzz" "$url"
done
ocsp after -issuer "$ca" -cert "$work/good.pem" -CAfile "$ca"
check "after hostile input: the next request is answered" bash -c \
    "grep -q 'good.pem: revoked' '$work/after.txt' && grep -q '^Response verify OK' '$work/after.txt'"
check "after hostile input: CMP still served" cmp_ir last "/CN=ocsp-last"
check "one log line per OCSP request" has "$CMPCA_LOG" \
    "ocsp req [0-9]+ ca=demo certs=1 good=0 revoked=1 unknown=0 status=successful"
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

# 9b. A flood of the same question: answered from the worker's reuse of
#     signed answers, and cut by nginx's rate limit (cmpca-limits.conf).
#     A request without nonce (RFC 5019), 400 times from one curl.
openssl ocsp -issuer "$ca" -cert "$work/good.pem" -no_nonce -reqout "$work/flood.req" >/dev/null 2>&1
fenc=$(base64 -w0 "$work/flood.req" | sed -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g')
for _ in $(seq 400); do
	printf 'url = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$url/$fenc"
done >"$work/flood.cfg"
before=$(grep -c "ocsp req .* stored" "$CMPCA_LOG")
curl -s --no-progress-meter -Z --parallel-max 20 -K "$work/flood.cfg" >"$work/flood.codes" 2>/dev/null
check "OCSP flood: the first requests are answered (200)" grep -q '^200$' "$work/flood.codes"
check "OCSP flood: nginx answers 429 beyond the rate limit" grep -q '^429$' "$work/flood.codes"
check "OCSP flood: answers served from the store, not signed again" \
    test "$(grep -c "ocsp req .* stored" "$CMPCA_LOG")" -gt "$before"
check "cmpcad still running after the flood" kill -0 "$CMPCA_CMPCAD_PID"

# 9c. Produced again before its nextUpdate: ocsp_refresh (110 s) before
#     the end of its 120 s, so about 10 s after it was signed.
for _ in $(seq 60); do
	[ "$(q "select extract(epoch from this_update)::bigint from ocsp_answer where serial = '$ps' and md = 'sha1'")" -gt "$pre_this" ] && break
	sleep 0.5
done
check "refresh: the stored answer signed again before its nextUpdate" test \
    "$(q "select extract(epoch from this_update)::bigint from ocsp_answer where serial = '$ps' and md = 'sha1'")" -gt "$pre_this"
ocsp prenew -issuer "$ca" -cert "$work/pre.pem" -CAfile "$ca"
check "refresh: the answer served is the new one" bash -c \
    "grep -q 'pre.pem: good' '$work/prenew.txt' && grep -q '^Response verify OK' '$work/prenew.txt' && ! cmp -s '$work/pre.rsp' '$work/prenew.rsp'"
check "refresh: its thisUpdate is later" test \
    "$(date -u -d "$(sed -n 's/.*This Update: //p' "$work/prenew.txt" | head -n 1)" +%s)" -gt \
    "$(date -u -d "$(sed -n 's/.*This Update: //p' "$work/pre.txt" | head -n 1)" +%s)"

# 10. A clean stop, and no sanitizer report in a SAN=1 build's log.
stack_down
check "cmpcad stopped on SIGTERM" bash -c "! kill -0 $CMPCA_CMPCAD_PID 2>/dev/null"
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

e2e_done
