#!/bin/bash
# End-to-end tests on the real stack: PostgreSQL, SoftHSM through libp11,
# nginx, cmpcad, driven by `openssl cmp` and curl. A fresh stack in a
# temporary directory on a port away from `make run` (8080).
#
# usage: tests/e2e/run.sh [--bin DIR]
# Prints one line per case and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup e2e 18480 --port-var CMPCA_TEST_PORT --scan-to 18489 --keep -- "$@"
# Short certConf timeout and sweeps, for the expiry case.
export CMPCA_TXN_TIMEOUT=4 CMPCA_HOUSEKEEPING=1 CMPCA_POLL_AFTER=1

# An external trust anchor (think: a device manufacturer) with one current
# and one expired device certificate, made before the stack starts.
ext=$work/ext
mkdir -p "$ext"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$ext/ca.key" -out "$ext/ca.pem" -subj "/CN=External Anchor" \
    -days 30 2>/dev/null
printf '%s\n' "[ca]" "default_ca = x" "[x]" "database = $ext/index.txt" \
    "new_certs_dir = $ext" "certificate = $ext/ca.pem" \
    "private_key = $ext/ca.key" "default_md = sha256" "policy = p" \
    "serial = $ext/serial" "[p]" "commonName = supplied" "[dev]" \
    "keyUsage = critical,digitalSignature" >"$ext/ca.cnf"
: >"$ext/index.txt"
echo 01 >"$ext/serial"
for d in current expired; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$ext/$d.key" -subj "/CN=device-$d" -out "$ext/$d.csr" 2>/dev/null
done
openssl ca -batch -config "$ext/ca.cnf" -extensions dev -days 10 \
    -in "$ext/current.csr" -out "$ext/current.pem" >/dev/null 2>&1
openssl ca -batch -config "$ext/ca.cnf" -extensions dev \
    -startdate 20200101000000Z -enddate 20200201000000Z \
    -in "$ext/expired.csr" -out "$ext/expired.pem" >/dev/null 2>&1
export CMPCA_TRUST_ANCHORS=$ext/ca.pem CMPCA_ALLOW_UNPROTECTED=genm

e2e_stack_up

# cmp_ir NAME KEYFILE SUBJECT [extra openssl cmp options...]
# Enrolls with the demo secret; leaves $work/NAME.pem and NAME.out.
cmp_ir() {
	local name=$1 key=$2 subj=$3
	shift 3
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$key" -subject "$subj" -certout "$work/$name.pem" \
	    -unprotected_errors "$@" >"$work/$name.out" 2>&1
}

openssl ecparam -genkey -name prime256v1 -noout -out "$work/ec.key" 2>/dev/null
openssl genrsa -out "$work/rsa.key" 2048 2>/dev/null

# 0. A client that never confirms (checked at the end, after the timeout).
cmp_ir noconf "$work/ec.key" "/CN=never-confirmed" -disable_confirm
noconf_serial=$(serial_of "$work/noconf.pem" 2>/dev/null)
check "unconfirmed: stored as unconfirmed while waiting" \
    test "$(db_status "$work/noconf.pem")" = unconfirmed

# 1. EC P-256 key, PBM, explicit certConf.
if cmp_ir ec "$work/ec.key" "/O=Example/CN=device-ec" -sans "dev.example.org"; then
	pass "ir ec p-256 with pbm and explicit certConf"
	check "ec: certificate carries the requested public key" \
	    same_pubkey "$work/ec.pem" "$work/ec.key"
	check "ec: subject as requested" grep -q "CN = device-ec" \
	    <(openssl x509 -in "$work/ec.pem" -noout -subject)
	check "ec: subjectAltName copied from the template" grep -q \
	    "DNS:dev.example.org" <(openssl x509 -in "$work/ec.pem" -noout -ext subjectAltName)
	check "ec: chains to the CA (openssl verify)" \
	    openssl verify -CAfile "$CMPCA_CA_CERT" "$work/ec.pem"
	check "ec: in the database with status valid" \
	    test "$(db_status "$work/ec.pem")" = valid
	check "ec: certConf was sent and answered" grep -q "received PKICONF" "$work/ec.out"
else
	fail "ir ec p-256" "$(tail -n 3 "$work/ec.out")"
fi

# 2. RSA-2048 key with implicitConfirm.
if cmp_ir rsa "$work/rsa.key" "/CN=server-rsa" -implicit_confirm; then
	pass "ir rsa-2048 with implicitConfirm"
	check "rsa: certificate carries the requested public key" \
	    same_pubkey "$work/rsa.pem" "$work/rsa.key"
	check "rsa: chains to the CA" openssl verify -CAfile "$CMPCA_CA_CERT" "$work/rsa.pem"
	check "rsa: valid at once, no certConf" \
	    test "$(db_status "$work/rsa.pem")" = valid
	check "rsa: no certConf sent" bash -c "! grep -q 'sending CERTCONF' '$work/rsa.out'"
else
	fail "ir rsa-2048" "$(tail -n 3 "$work/rsa.out")"
fi

# 3. The per-CA endpoint (RFC 9811 /p/<label>) serves the same CA.
if openssl cmp -cmd ir -server "$CMPCA_URL_CA" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$work/ec.key" -subject "/CN=via-label" \
    -certout "$work/label.pem" >"$work/label.out" 2>&1; then
	check "ir via /.well-known/cmp/p/$CMPCA_CA_LABEL" \
	    openssl verify -CAfile "$CMPCA_CA_CERT" "$work/label.pem"
else
	fail "ir via /p/label" "$(tail -n 3 "$work/label.out")"
fi

# 4. Wrong secret: badMessageCheck, nothing stored.
before=$(q "select count(*) from cert")
cmp_ir wrong "$work/ec.key" "/CN=wrong-secret" -secret pass:not-the-secret \
    -rspout "$work/wrong.rsp"
check "wrong secret: rejected with badMessageCheck" \
    grep -q "failinfo=badMessageCheck" <(dump "$work/wrong.rsp")
check "wrong secret: openssl cmp reports badMessageCheck" \
    grep -q "badMessageCheck" "$work/wrong.out"
check "wrong secret: nothing stored" \
    test "$(q "select count(*) from cert")" = "$before"
check "wrong secret: no certificate written" test ! -s "$work/wrong.pem"

# 5. Unknown secret reference: same answer as a wrong MAC.
openssl cmp -cmd ir -server "$CMPCA_URL" -ref no-such-ref -secret pass:x \
    -recipient "$CMPCA_CA_SUBJECT" -newkey "$work/ec.key" -subject /CN=x \
    -unprotected_errors -certout "$work/noref.pem" -rspout "$work/noref.rsp" \
    >/dev/null 2>&1
check "unknown reference: badMessageCheck" \
    grep -q "failinfo=badMessageCheck" <(dump "$work/noref.rsp")

# 6. Client rejects the certificate in certConf: it ends rejected.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/other.key" -out "$work/other.pem" -subj /CN=other \
    -days 1 2>/dev/null
cmp_ir rej "$work/ec.key" "/CN=rejected-by-client" -out_trusted "$work/other.pem"
rejserial=$(q "select serial from cert where subject = 'CN=rejected-by-client'")
check "certConf rejection: certificate stored as rejected" \
    test "$(q "select status from cert where serial = '$rejserial'")" = rejected
check "certConf rejection: revocation time and reason recorded" \
    test "$(q "select reason from cert where serial = '$rejserial' and revoked_at is not null")" = 5
check "certConf rejection: transaction done" \
    test "$(q "select c.state from cmp_txn c join cert x on x.txid = c.id where x.serial = '$rejserial'")" = done

# 7. Replay: the same ir again is refused (transactionID in use /
#    replayed nonce), and no second certificate appears.
cmp_ir replay "$work/ec.key" "/CN=replay" -reqout "$work/replay.req"
before=$(q "select count(*) from cert")
curl -s -o "$work/replay2.rsp" -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$work/replay.req" "$CMPCA_URL"
check "replayed ir: refused with badSenderNonce or transactionIdInUse" \
    grep -Eq "failinfo=(badSenderNonce|transactionIdInUse)" <(dump "$work/replay2.rsp")
check "replayed ir: nothing stored" test "$(q "select count(*) from cert")" = "$before"

# 8. HTTP-level bad input: 4xx or CMP error, and the daemon keeps serving.
http() { # expected-code curl-args...
	local want=$1
	shift
	local got
	got=$(curl -s -o "$work/http.body" -w '%{http_code}' "$@")
	[ "$got" = "$want" ] || { echo "got HTTP $got, want $want" >&2; return 1; }
}
head -c 600 /dev/urandom >"$work/garbage"
check "garbage body: HTTP 400" http 400 -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$work/garbage" "$CMPCA_URL"
check "garbage body: CMP error badDataFormat in the body" \
    grep -q "failinfo=badDataFormat" <(dump "$work/http.body")
check "wrong content type: HTTP 415" http 415 -H 'Content-Type: text/plain' \
    --data-binary @"$work/garbage" "$CMPCA_URL"
check "GET: HTTP 405" http 405 "$CMPCA_URL"
head -c 400000 /dev/urandom >"$work/big"
check "oversized body: HTTP 413" http 413 -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$work/big" "$CMPCA_URL"
check "legacy content type application/x-pkixcmp accepted" \
    http 200 -H 'Content-Type: application/x-pkixcmp' \
    --data-binary @"$work/replay.req" "$CMPCA_URL"
check "unknown CA label: CMP error wrongAuthority" \
    http 200 -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$work/replay.req" "$CMPCA_URL/p/no-such-ca"
grep -q "failinfo=wrongAuthority" <(dump "$work/http.body") ||
    fail "unknown CA label failinfo" "$(dump "$work/http.body")"
if cmp_ir after "$work/ec.key" "/CN=after-bad-input"; then
	pass "a valid ir still succeeds after bad input"
else
	fail "valid ir after bad input" "$(tail -n 3 "$work/after.out")"
fi

# 8b. Signature protection: cr signed with the certificate from test 1,
#     the CA's answer signed in the HSM and checked by the client.
openssl ecparam -genkey -name prime256v1 -noout -out "$work/ec2.key" 2>/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$work/ec3.key" 2>/dev/null
sig() { # name cmd extra-args...
	local name=$1 cmd=$2
	shift 2
	openssl cmp -cmd "$cmd" -server "$CMPCA_URL" -trusted "$CMPCA_CA_CERT" \
	    -unprotected_errors -certout "$work/$name.pem" \
	    -rspout "$work/$name.rsp" "$@" >"$work/$name.out" 2>&1
}
if sig cr cr -cert "$work/ec.pem" -key "$work/ec.key" -newkey "$work/ec2.key" \
    -subject "/O=Example/CN=device-ec"; then
	pass "cr signed by an issued certificate; response signed by the CA"
	check "cr: new certificate carries the new key" \
	    same_pubkey "$work/cr.pem" "$work/ec2.key"
	check "cr: valid in the database" test "$(db_status "$work/cr.pem")" = valid
	check "cr: requester is the certificate" test \
	    "$(q "select requester from cert where serial = '$(serial_of "$work/cr.pem")'")" = \
	    "cert:/O=Example/CN=device-ec"
else
	fail "cr with signature protection" "$(tail -n 3 "$work/cr.out")"
fi
sig crother cr -cert "$work/ec.pem" -key "$work/ec.key" -newkey "$work/ec2.key" \
    -subject "/CN=someone-else"
check "cr for another subject: rejected notAuthorized" \
    grep -q "notAuthorized" <(dump "$work/crother.rsp")
# Regression: an ir signed by an issued certificate was accepted for any
# subject (identity_check applied the own-subject rule to cr/kur/p10cr
# only), turning every certificate into an enrollment credential.
sig irother ir -cert "$work/ec.pem" -key "$work/ec.key" -newkey "$work/ec2.key" \
    -subject "/CN=Mallory admin"
check "ir signed by an end entity for another subject: notAuthorized" \
    grep -q "notAuthorized" <(dump "$work/irother.rsp")
check "ir for another subject: nothing issued" \
    test "$(q "select count(*) from cert where subject = 'CN=Mallory admin'")" = 0

# 8c. Key update: kur signed with the old certificate; the old one is
#     revoked (superseded) once the new one is confirmed.
# The same key again is no key update ([profile.default] kur_same_key = no).
sig kursame kur -cert "$work/cr.pem" -key "$work/ec2.key" -newkey "$work/ec2.key"
check "kur with the old key: badCertTemplate" grep -q \
    'failinfo=badCertTemplate text="key update needs a new key' <(dump "$work/kursame.rsp")
if sig kur kur -cert "$work/cr.pem" -key "$work/ec2.key" -newkey "$work/ec3.key"; then
	pass "kur signed with the old certificate"
	check "kur: new certificate carries the new key and the old subject" \
	    same_pubkey "$work/kur.pem" "$work/ec3.key"
	check "kur: subject kept" grep -q "CN = device-ec" \
	    <(openssl x509 -in "$work/kur.pem" -noout -subject)
	check "kur: new certificate valid" test "$(db_status "$work/kur.pem")" = valid
	check "kur: old certificate revoked as superseded" test \
	    "$(q "select status || reason from cert where serial = '$(serial_of "$work/cr.pem")'")" = revoked4
else
	fail "kur" "$(tail -n 3 "$work/kur.out")"
fi
sig kur2 kur -cert "$work/cr.pem" -key "$work/ec2.key" -newkey "$work/ec.key"
check "request signed with a revoked certificate: certRevoked, signed error" \
    grep -q "protected=1.*failinfo=certRevoked" <(dump "$work/kur2.rsp")
sig selfsigned cr -cert "$work/other.pem" -key "$work/other.key" \
    -newkey "$work/ec2.key" -subject /CN=other -recipient "$CMPCA_CA_SUBJECT"
check "request signed by an untrusted certificate: signerNotTrusted" \
    grep -q "failinfo=signerNotTrusted" <(dump "$work/selfsigned.rsp")

# 8d. p10cr (PKCS#10) with PBM: certReqId -1, confirmed.
openssl req -new -key "$work/ec2.key" -subj "/CN=from-csr" \
    -addext "subjectAltName=DNS:csr.example.org" -out "$work/p10.csr" 2>/dev/null
if openssl cmp -cmd p10cr -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -csr "$work/p10.csr" -certout "$work/p10.pem" >"$work/p10.out" 2>&1; then
	pass "p10cr with PBM"
	check "p10cr: key, subject and SAN from the CSR" bash -c \
	    "[ \"\$(openssl x509 -in '$work/p10.pem' -noout -pubkey)\" = \"\$(openssl req -in '$work/p10.csr' -noout -pubkey)\" ] &&
	     openssl x509 -in '$work/p10.pem' -noout -ext subjectAltName | grep -q DNS:csr.example.org"
	check "p10cr: valid, certReqId -1" test \
	    "$(q "select status || cert_req_id from cert where serial = '$(serial_of "$work/p10.pem")'")" = valid-1
else
	fail "p10cr" "$(tail -n 3 "$work/p10.out")"
fi
openssl req -new -key "$work/ec2.key" -subj "/CN=tampered" -out "$work/bad.csr" 2>/dev/null
# Flip a byte inside the CSR signature (xor 0xff: it always changes; a
# fixed 0x00 left the byte as it was once in 256 runs).
openssl req -in "$work/bad.csr" -outform DER -out "$work/bad.der"
size=$(stat -c %s "$work/bad.der")
b=$(od -An -tu1 -j $((size - 5)) -N1 "$work/bad.der" | tr -d ' ')
printf "\\$(printf '%03o' $((b ^ 255)))" |
    dd of="$work/bad.der" bs=1 seek=$((size - 5)) conv=notrunc 2>/dev/null
openssl req -inform DER -in "$work/bad.der" -out "$work/bad2.csr" 2>/dev/null
openssl cmp -cmd p10cr -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -csr "$work/bad2.csr" -certout "$work/bad.pem" -rspout "$work/badp10.rsp" \
    >/dev/null 2>&1
check "p10cr with a broken CSR signature: badPOP" \
    grep -q "failinfo=badPOP" <(dump "$work/badp10.rsp")

# 8e. genm: caCerts and signKeyPairTypes carry values; unknown types are
#     echoed without one.
openssl cmp -cmd genm -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -infotype caCerts -rspout "$work/genm1.rsp" >/dev/null 2>&1
check "genm caCerts: genp with the CA certificates" \
    grep -q "body=genp.*itav=id-it-caCerts:value" <(dump "$work/genm1.rsp")
openssl cmp -cmd genm -server "$CMPCA_URL" -cert "$work/kur.pem" \
    -key "$work/ec3.key" -trusted "$CMPCA_CA_CERT" \
    -infotype signKeyPairTypes -rspout "$work/genm2.rsp" >/dev/null 2>&1
check "genm signKeyPairTypes, signature-protected: signed genp with value" \
    grep -q "protected=1 itav=id-it-signKeyPairTypes:value" <(dump "$work/genm2.rsp")
openssl cmp -cmd genm -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -infotype preferredSymmAlg -rspout "$work/genm3.rsp" >/dev/null 2>&1
check "genm of a type we do not serve: echoed without a value" \
    grep -q "itav=id-it-preferredSymmAlg:absent" <(dump "$work/genm3.rsp")

# 8f. rr: only the holder revokes; the certificate ends revoked with the
#     requested reason.
openssl cmp -cmd rr -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -oldcert "$work/p10.pem" -revreason 1 -unprotected_errors \
    -rspout "$work/rrmac.rsp" >/dev/null 2>&1
check "rr with a shared secret (not the holder): notAuthorized" \
    grep -q "failinfo=notAuthorized" <(dump "$work/rrmac.rsp")
check "rr refused: certificate still valid" test "$(db_status "$work/p10.pem")" = valid
if openssl cmp -cmd rr -server "$CMPCA_URL" -cert "$work/kur.pem" \
    -key "$work/ec3.key" -oldcert "$work/kur.pem" -trusted "$CMPCA_CA_CERT" \
    -revreason 1 -rspout "$work/rr.rsp" >"$work/rr.out" 2>&1; then
	pass "rr signed by the certificate to revoke"
	check "rr: revoked with reason keyCompromise" \
	    test "$(q "select status || reason from cert where serial = '$(serial_of "$work/kur.pem")'")" = revoked1
else
	fail "rr" "$(tail -n 3 "$work/rr.out")"
fi
openssl cmp -cmd rr -server "$CMPCA_URL" -cert "$work/kur.pem" \
    -key "$work/ec3.key" -oldcert "$work/kur.pem" -trusted "$CMPCA_CA_CERT" \
    -unprotected_errors -rspout "$work/rr2.rsp" >/dev/null 2>&1
check "rr signed with a revoked certificate: certRevoked" \
    grep -q "failinfo=certRevoked" <(dump "$work/rr2.rsp")

# 8g. Delayed delivery: a profile that needs the operator's approval. The
#     client polls (pollReq/pollRep) until `cmpca request approve|reject`.
apsecret=$(cli secret add approver --profile approval --uses 10)
export APSECRET=$apsecret
delayed() { # name subject
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref approver \
	    -secret env:APSECRET -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/ec.key" -subject "$2" -certout "$work/$1.pem" \
	    -total_timeout 30 >"$work/$1.out" 2>&1
}
pending_id() { # subject
	local id=
	for _ in $(seq 40); do
		id=$(cli request list | awk -F'\t' -v s="$1" '$5 == s {print $1}')
		[ -n "$id" ] && break
		sleep 0.25
	done
	echo "$id"
}
delayed approved "/CN=approve-me" &
client=$!
id=$(pending_id "CN=approve-me")
check "delayed: request listed as pending" test -n "$id"
check "delayed: nothing issued before the decision" \
    test "$(q "select count(*) from cert where subject = 'CN=approve-me'")" = 0
sleep 1.5
cli request approve "$id" >/dev/null
wait "$client"
check "delayed: client polled (pollRep) and received the certificate" \
    grep -q "received ip/cp/kup after polling" "$work/approved.out"
check "delayed: certificate carries the key and chains" bash -c \
    "openssl verify -CAfile '$CMPCA_CA_CERT' '$work/approved.pem' && [ \"\$(openssl x509 -in '$work/approved.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$work/ec.key' -pubout)\" ]"
check "delayed: valid after certConf" test "$(db_status "$work/approved.pem")" = valid
check "delayed: polls were answered with pollRep" \
    grep -q "body=pollReq .*outcome=waiting" "$CMPCA_LOG"
delayed refused "/CN=refuse-me" &
client=$!
id=$(pending_id "CN=refuse-me")
cli request reject "$id" --reason "not on the device list" >/dev/null
wait "$client"
check "delayed rejection: the client gets the operator's reason" \
    grep -q "not on the device list" "$work/refused.out"
check "delayed rejection: nothing issued" \
    test "$(q "select count(*) from cert where subject = 'CN=refuse-me'")" = 0
check "delayed: a decided request cannot be decided again" \
    bash -c "! $CMPCA_CLI request approve $id"

# 8h. Registration authority: registered (pinned certificate), it may send
#     raVerified POP, nest end-entity requests and revoke; others may not.
openssl ecparam -genkey -name prime256v1 -noout -out "$work/ra.key" 2>/dev/null
cmp_ir ra "$work/ra.key" "/CN=Test RA"
sig notra ir -cert "$work/ra.pem" -key "$work/ra.key" -popo 0 \
    -newkey "$work/ec2.key" -subject "/CN=Test RA"
check "raVerified POP from a certificate that is no RA: badPOP" \
    grep -q "failinfo=badPOP" <(dump "$work/notra.rsp")
check "cmpca ra add registers the RA" \
    grep -q "registered" <(cli ra add testra --cert "$work/ra.pem")
check "cmpca ra list shows it" grep -q "^testra" <(cli ra list)
if sig raver ir -cert "$work/ra.pem" -key "$work/ra.key" -popo 0 \
    -newkey "$work/ec2.key" -subject "/CN=via-ra"; then
	check "raVerified POP from the registered RA: issued for another subject" \
	    test "$(db_status "$work/raver.pem")" = valid
	check "RA-issued certificate records the RA as requester" test \
	    "$(q "select requester from cert where serial = '$(serial_of "$work/raver.pem")'")" = ra:testra
else
	fail "ir from the RA with raVerified" "$(tail -n 3 "$work/raver.out")"
fi
# An end entity's MAC-protected ir, forwarded nested under the RA's
# signature; the request is built by openssl cmp (-reqout) without sending.
openssl cmp -cmd ir -server http://127.0.0.1:1/none -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$work/ec3.key" -subject "/CN=nested-ee" -implicit_confirm \
    -certout "$work/none.pem" -reqout "$work/inner.der" >/dev/null 2>&1
"$bin/cmpnest" "$work/ra.pem" "$work/ra.key" "$CMPCA_CA_CERT" \
    "$work/inner.der" >"$work/nested.der"
curl -s -o "$work/nested.rsp" -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$work/nested.der" "$CMPCA_URL"
"$bin/cmpdump" "$work/nested.rsp" "$work" >"$work/nested.txt"
check "nested from the RA: answered nested, signed" \
    grep -q "body=nested pvno=2 protected=1" "$work/nested.txt"
check "nested: the inner ir was answered with an accepted ip" \
    grep -q "body=ip pvno=2 protected=1 status=0" <(dump "$work/inner-0.der")
check "nested: the end entity's certificate is valid in the database" \
    test "$(q "select status from cert where subject = 'CN=nested-ee'")" = valid
"$bin/cmpnest" "$work/ec.pem" "$work/ec.key" "$CMPCA_CA_CERT" \
    "$work/inner.der" >"$work/nested2.der"
curl -s -o "$work/nested2.rsp" -H 'Content-Type: application/pkixcmp' \
    --data-binary @"$work/nested2.der" "$CMPCA_URL"
check "nested from an end entity (no RA): notAuthorized" \
    grep -q "failinfo=notAuthorized" <(dump "$work/nested2.rsp")
if openssl cmp -cmd rr -server "$CMPCA_URL" -cert "$work/ra.pem" \
    -key "$work/ra.key" -oldcert "$work/raver.pem" -trusted "$CMPCA_CA_CERT" \
    -revreason 4 >"$work/rarr.out" 2>&1; then
	check "rr by the RA: certificate revoked" \
	    test "$(q "select status || reason from cert where serial = '$(serial_of "$work/raver.pem")'")" = revoked4
else
	fail "rr by the RA" "$(tail -n 3 "$work/rarr.out")"
fi
# Names an RA may ask for ([profile.site]: ra_san = DNS:*.site.example,
# IP:10.20.0.0/16).
openssl ecparam -genkey -name prime256v1 -noout -out "$work/ra2.key" 2>/dev/null
cmp_ir ra2 "$work/ra2.key" "/CN=Site RA" -implicit_confirm
cli ra add sitera --cert "$work/ra2.pem" --profile site >/dev/null 2>&1
sig rasite ir -cert "$work/ra2.pem" -key "$work/ra2.key" -newkey "$work/ec2.key" \
    -subject "/CN=dev1.site.example" -sans "dev1.site.example 10.20.1.2"
check "RA with ra_san: names inside its subtrees issued" \
    test "$(db_status "$work/rasite.pem")" = valid
sig raout ir -cert "$work/ra2.pem" -key "$work/ra2.key" -newkey "$work/ec2.key" \
    -subject "/CN=dev2.site.example" -sans "dev2.site.example login.bank.example"
check "RA with ra_san: a name outside them: notAuthorized" grep -q \
    'failinfo=notAuthorized text="subjectAltName DNS:login.bank.example not allowed for this RA' \
    <(dump "$work/raout.rsp")
check "RA with ra_san: nothing issued for it" test \
    "$(q "select count(*) from cert where subject = 'CN=dev2.site.example'")" = 0
# Revocation scope (issue 13): an RA revokes end entities only; the CA's
# own certificates (a subordinate, the OCSP signer) are the operator's.
rarr() { # name certfile [reason]
	openssl cmp -cmd rr -server "$CMPCA_URL" -cert "$work/ra.pem" \
	    -key "$work/ra.key" -oldcert "$2" -trusted "$CMPCA_CA_CERT" \
	    -revreason "${3:-4}" -rspout "$work/$1.rsp" >"$work/$1.out" 2>&1
}
cli ca create rrsub --subject "/CN=RR Sub CA" --issuer demo --days 30 \
    >/dev/null 2>&1
cli ca export rrsub | openssl x509 >"$work/rrsub.pem" 2>/dev/null
rarr rrsub "$work/rrsub.pem"
check "rr by the RA of a subordinate CA's certificate: notAuthorized" grep -q \
    'failinfo=notAuthorized text="an RA revokes end-entity certificates only' \
    <(dump "$work/rrsub.rsp")
check "rr by the RA of a CA certificate: still valid" \
    test "$(db_status "$work/rrsub.pem")" = valid
ocsp_serial=$(cli ocsp signer --ca demo --days 5 | sed -n 's/.*serial \([0-9a-f]*\),.*/\1/p')
cli cert show "$ocsp_serial" --pem >"$work/ocspsig.pem" 2>/dev/null
rarr rrocsp "$work/ocspsig.pem"
check "rr by the RA of the OCSP signer: notAuthorized" grep -q \
    'failinfo=notAuthorized text="an RA revokes end-entity certificates only' \
    <(dump "$work/rrocsp.rsp")
check "rr by the RA of the OCSP signer: still valid" \
    test "$(q "select status from cert where serial = '$ocsp_serial'")" = valid
# Suspension by the RA (RFC 5280 §5.3.1): certificateHold accepted, a
# second hold refused; removeFromCRL releases it (valid again), a second
# release is refused; a hold made permanent by another reason can no
# longer be released.
# Enrolled through the RA: an RA revokes (and holds) what was obtained
# through it (ra_revoke_scope = own, the default; scope.sh has the rest).
sig hold ir -cert "$work/ra.pem" -key "$work/ra.key" -popo 0 \
    -newkey "$work/ec3.key" -subject "/CN=hold-me" -implicit_confirm
rarr rrhold "$work/hold.pem" 6
check "rr by the RA with certificateHold: on hold (revoked, reason 6)" test \
    "$(q "select status || reason from cert where serial = '$(serial_of "$work/hold.pem")'")" = revoked6
check "cmpca cert revoke --reason 6 of a certificate on hold: refused" \
    bash -c "! $CMPCA_CLI cert revoke $(serial_of "$work/hold.pem") --reason 6 2>/dev/null"
rarr rrrel "$work/hold.pem" 8
check "rr by the RA with removeFromCRL: released, valid again" \
    test "$(db_status "$work/hold.pem")" = valid
check "release audited (event release, the RA as actor)" test \
    "$(q "select count(*) from audit where event = 'release' and detail = '$(serial_of "$work/hold.pem")' and actor like 'ra:%'")" = 1
rarr rrrel2 "$work/hold.pem" 8
check "removeFromCRL of a valid certificate: badRequest" grep -q \
    'failinfo=badRequest text="removeFromCRL releases' <(dump "$work/rrrel2.rsp")
rarr rrhold2 "$work/hold.pem" 6
rarr rrperm "$work/hold.pem" 1
check "rr keyCompromise of a certificate on hold: permanent" test \
    "$(q "select status || reason from cert where serial = '$(serial_of "$work/hold.pem")'")" = revoked1
rarr rrrel3 "$work/hold.pem" 8
check "removeFromCRL after a permanent revocation: badRequest" \
    grep -q failinfo=badRequest <(dump "$work/rrrel3.rsp")
check "removeFromCRL after a permanent revocation: still revoked" \
    test "$(db_status "$work/hold.pem")" = revoked

# 8i. Profile rules ([profile.strict]: P-256 only, CN/O, DNS SANs, no
#     implicitConfirm).
export STRICT=$(cli secret add strict --profile strict --uses 20)
strict() { # name key subject extra...
	local name=$1 key=$2 subj=$3
	shift 3
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref strict -secret env:STRICT \
	    -recipient "$CMPCA_CA_SUBJECT" -newkey "$key" -subject "$subj" \
	    -certout "$work/$name.pem" -rspout "$work/$name.rsp" \
	    -unprotected_errors "$@" >"$work/$name.out" 2>&1
}
strict s_rsa "$work/rsa.key" "/CN=strict-rsa"
check "profile: RSA key where only P-256 is allowed: badCertTemplate" \
    grep -q "failinfo=badCertTemplate" <(dump "$work/s_rsa.rsp")
strict s_ou "$work/ec.key" "/OU=Sales/CN=strict-ou"
check "profile: subject attribute OU not allowed: badCertTemplate" \
    grep -q "failinfo=badCertTemplate" <(dump "$work/s_ou.rsp")
strict s_uri "$work/ec.key" "/CN=strict-uri" -sans "https://strict.example.org/"
check "profile: URI SAN not allowed: badCertTemplate" \
    grep -q "failinfo=badCertTemplate" <(dump "$work/s_uri.rsp")
if strict s_ok "$work/ec.key" "/O=Example/CN=strict-ok" -sans strict.example.org \
    -implicit_confirm; then
	check "profile: conforming request issued, implicitConfirm not granted" \
	    grep -q "sending CERTCONF" "$work/s_ok.out"
	check "profile: validity from the profile (90 days)" test \
	    "$(q "select round(extract(epoch from not_after - not_before) / 86400) from cert where serial = '$(serial_of "$work/s_ok.pem")'")" = 90
else
	fail "strict profile conforming request" "$(tail -n 3 "$work/s_ok.out")"
fi

# 8j. External trust anchors: a device certificate from another CA signs
#     its own ir; an expired one is refused.
sig extcur ir -cert "$ext/current.pem" -key "$ext/current.key" \
    -recipient "$CMPCA_CA_SUBJECT" -issuer "$CMPCA_CA_SUBJECT" \
    -newkey "$work/ec2.key" -subject "/CN=device-current"
check "ir signed by a certificate under an external anchor: issued" \
    test "$(db_status "$work/extcur.pem")" = valid
sig extexp ir -cert "$ext/expired.pem" -key "$ext/expired.key" \
    -recipient "$CMPCA_CA_SUBJECT" -issuer "$CMPCA_CA_SUBJECT" \
    -newkey "$work/ec2.key" -subject "/CN=device-expired"
check "ir signed by an expired certificate: signerNotTrusted (expired)" \
    grep -q 'failinfo=signerNotTrusted text="protection certificate has expired"' \
    <(dump "$work/extexp.rsp")

# 8m. Profiles decide every extension (issue 13): with nothing but the
#     demo secret, a template asking for OCSP signing, certificate signing
#     or names the profile does not list is refused, not signed.
reqext() { # name section-lines...: writes $work/NAME.cnf with [ev]
	local name=$1
	shift
	printf '%s\n' "[ev]" "$@" >"$work/$name.cnf"
}
evil() { # name extra-openssl-cmp-options...
	local name=$1
	shift
	cmp_ir "$name" "$work/ec2.key" "/CN=evil-$name" -reqexts ev \
	    -config "$work/$name.cnf" -rspout "$work/$name.rsp" "$@"
}
refused() { # name text: badCertTemplate naming what, nothing stored
	local name=$1 text=$2
	check "$name: badCertTemplate \"$text\"" grep -qF \
	    "failinfo=badCertTemplate text=\"$text" <(dump "$work/$name.rsp")
	check "$name: no certificate" test ! -s "$work/$name.pem"
	check "$name: nothing stored" test \
	    "$(q "select count(*) from cert where subject = 'CN=evil-$name'")" = 0
}
reqext attack "extendedKeyUsage = OCSPSigning" \
    "keyUsage = digitalSignature, keyCertSign" \
    "subjectAltName = DNS:login.bank.example"
evil attack
refused attack "extendedKeyUsage OCSPSigning not allowed by profile default"
reqext ekuocsp "extendedKeyUsage = OCSPSigning"
evil ekuocsp
refused ekuocsp "extendedKeyUsage OCSPSigning not allowed by profile default"
reqext ekucode "extendedKeyUsage = codeSigning"
evil ekucode
refused ekucode "extendedKeyUsage codeSigning not allowed by profile default"
reqext ekuany "extendedKeyUsage = anyExtendedKeyUsage"
evil ekuany
refused ekuany "extendedKeyUsage anyExtendedKeyUsage not allowed by profile default"
reqext kucert "keyUsage = digitalSignature, keyCertSign"
evil kucert
refused kucert "keyUsage keyCertSign not allowed by profile default"
reqext bcca "basicConstraints = critical,CA:TRUE"
evil bcca
refused bcca "basicConstraints CA:TRUE not allowed by profile default"
# A second subjectAltName (written by OID, so that the section keeps
# both; openssl cmp -reqexts would replace the first, openssl req keeps
# both): IP 10.0.0.1. Undecodable: a BOOLEAN where GeneralNames belong.
printf '%s\n' "[req]" "distinguished_name = dn" "req_extensions = ev" "[dn]" \
    "[ev]" "subjectAltName = DNS:ok.example.org" \
    "2.5.29.17 = DER:300687040a000001" >"$work/dupsan.cnf"
openssl req -new -key "$work/ec2.key" -subj /CN=evil-dupsan \
    -config "$work/dupsan.cnf" -out "$work/dupsan.csr" 2>/dev/null
openssl cmp -cmd p10cr -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -csr "$work/dupsan.csr" -certout "$work/dupsan.pem" \
    -rspout "$work/dupsan.rsp" -unprotected_errors >"$work/dupsan.out" 2>&1
refused dupsan "duplicate extension subjectAltName"
reqext badsan "2.5.29.17 = DER:0101ff"
evil badsan
refused badsan "extension subjectAltName does not decode"
reqext upn "subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:admin@bank.example"
evil upn
refused upn "subjectAltName otherName not allowed by profile default"
# A type the profile does not take: [profile.default] drops it
# (other_extensions = drop) and says so (grantedWithMods, issue 22).
reqext policy "certificatePolicies = 1.2.3.4"
evil policy
check "policy: grantedWithMods naming the dropped extension" grep -qF \
    'status=1 failinfo=- text="profile default dropped: extension certificatePolicies"' \
    <(dump "$work/policy.rsp")
check "policy: certificate without certificatePolicies" bash -c \
    "openssl x509 -in '$work/policy.pem' -noout -text | grep -q 'Subject:' && ! openssl x509 -in '$work/policy.pem' -noout -text | grep -q 'Certificate Policies'"
# What the profile lists still goes through, narrowed as asked.
reqext fine "extendedKeyUsage = clientAuth" "keyUsage = critical,digitalSignature" \
    "subjectAltName = DNS:fine.example.org"
if evil fine; then
	check "allowed extensions: EKU as asked (clientAuth only)" bash -c \
	    "openssl x509 -in '$work/fine.pem' -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication' && ! openssl x509 -in '$work/fine.pem' -noout -ext extendedKeyUsage | grep -q 'Server'"
	check "allowed extensions: keyUsage as asked" bash -c \
	    "openssl x509 -in '$work/fine.pem' -noout -ext keyUsage | grep -qx '    Digital Signature'"
	check "allowed extensions: subjectAltName copied" grep -q \
	    "DNS:fine.example.org" <(openssl x509 -in "$work/fine.pem" -noout -ext subjectAltName)
else
	fail "allowed extensions issued" "$(tail -n 3 "$work/fine.out")"
fi
# A CSR that asks for what the profile gives anyway (CA:FALSE) passes.
openssl req -new -key "$work/ec2.key" -subj /CN=csr-bc-false \
    -addext basicConstraints=CA:FALSE -out "$work/bcfalse.csr" 2>/dev/null
openssl cmp -cmd p10cr -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -csr "$work/bcfalse.csr" -certout "$work/bcfalse.pem" \
    -unprotected_errors >"$work/bcfalse.out" 2>&1
check "p10cr with basicConstraints CA:FALSE: issued" test -s "$work/bcfalse.pem"
openssl req -new -key "$work/ec2.key" -subj /CN=evil-csrocsp \
    -addext extendedKeyUsage=OCSPSigning -out "$work/csrocsp.csr" 2>/dev/null
openssl cmp -cmd p10cr -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -csr "$work/csrocsp.csr" -certout "$work/csrocsp.pem" \
    -rspout "$work/csrocsp.rsp" -unprotected_errors >"$work/csrocsp.out" 2>&1
refused csrocsp "extendedKeyUsage OCSPSigning not allowed by profile default"

# 8k. allow_unprotected = genm: an unprotected genm is served, an
#     unprotected ir is not.
openssl cmp -cmd genm -server "$CMPCA_URL" -ref anonymous \
    -unprotected_requests -srvcert "$CMPCA_CA_CERT" -infotype caCerts \
    -rspout "$work/ungenm.rsp" >"$work/ungenm.out" 2>&1
check "unprotected genm allowed by the configuration: signed genp" \
    grep -q "body=genp pvno=2 protected=1 itav=id-it-caCerts:value" <(dump "$work/ungenm.rsp")
check "unprotected genm: the client verified the CA's signature" \
    grep -q "received GENP" "$work/ungenm.out"
openssl cmp -cmd ir -server "$CMPCA_URL" -recipient "$CMPCA_CA_SUBJECT" \
    -ref anonymous -unprotected_requests -unprotected_errors -newkey "$work/ec2.key" \
    -subject /CN=unprotected -certout "$work/unir.pem" \
    -rspout "$work/unir.rsp" >/dev/null 2>&1
check "unprotected ir: badMessageCheck" \
    grep -q "failinfo=badMessageCheck" <(dump "$work/unir.rsp")

# 8l. Operator revocation through the CLI.
extserial=$(serial_of "$work/extcur.pem")
check "cmpca cert revoke: succeeds" cli cert revoke "$extserial" --reason 5
check "cmpca cert revoke: revoked with the reason" \
    test "$(q "select status || reason from cert where serial = '$extserial'")" = revoked5
check "cmpca cert revoke twice: refused" bash -c "! $CMPCA_CLI cert revoke $extserial"

# 9. Inventory through the CLI.
check "cmpca cert list shows the enrolled subject" \
    grep -q "CN=device-ec" <(cli cert list)
check "cmpca cert show by serial" \
    grep -q "CN=server-rsa" <(cli cert show "$(serial_of "$work/rsa.pem")")
# The serial as openssl x509 -text prints it, behind 0x: the rule the
# operators' page reads it by (ca_serial_parse), the CLI too.
rsa_colons=$(serial_of "$work/rsa.pem" | sed 's/../&:/g; s/:$//')
check "cmpca cert show by serial with 0x and colons" \
    grep -q "CN=server-rsa" <(cli cert show "0x$rsa_colons")
# usage_refused PATTERN ARGS...: cmpca exits 2 and says PATTERN.
usage_refused() {
	local pat=$1 rc=0
	shift
	cli "$@" >"$work/usage.out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] && grep -q -- "$pat" "$work/usage.out"
}
check "cmpca cert show: a doubled colon is refused, naming the rule" \
    usage_refused "a colon only between two hex digits" cert show 0a::1b
check "cmpca cert revoke: a serial over 20 octets is refused" \
    usage_refused "longer than 20 octets" cert revoke "1$(printf '%040d' 0)"

# 10. The CA key lives in the token: private, sensitive, never extractable.
export SOFTHSM2_CONF
GNUTLS_PIN=$(cat "$CMPCA_VAR/hsm/pin") p11tool --provider \
    /usr/lib/softhsm/libsofthsm2.so --login --list-all-privkeys \
    "pkcs11:token=cmpca" >"$work/p11.out" 2>&1
check "ca key is in the token" grep -q "object=$CMPCA_CA_LABEL" "$work/p11.out"
check "ca key is sensitive and never extractable" \
    grep -q "CKA_NEVER_EXTRACTABLE" "$work/p11.out"
check "ca key is not extractable" bash -c \
    "! grep -q 'CKA_EXTRACTABLE' '$work/p11.out'"

# 10b. CRLs (RFC 5280): issued from the inventory, signed in the HSM,
#      served by nginx, checked by independent validators.
n1=$(q "select max(number) from crl")
check "cmpca crl issue" grep -q "CRL" <(cli crl issue)
check "crl: number increases" test "$(q "select max(number) from crl")" -gt "$n1"
curl -s -o "$work/ca.crl" -w '%{content_type}' "$CMPCA_CRL_URL" >"$work/crl.ctype"
check "crl: served by nginx as application/pkix-crl" grep -qx "application/pkix-crl" "$work/crl.ctype"
openssl crl -inform DER -in "$work/ca.crl" -out "$work/ca-crl.pem"
check "crl: signature verifies with the CA certificate (openssl crl)" \
    openssl crl -in "$work/ca-crl.pem" -CAfile "$CMPCA_CA_CERT" -noout
openssl crl -in "$work/ca-crl.pem" -noout -text >"$work/crl.txt"
kurserial=$(openssl x509 -in "$work/kur.pem" -noout -serial | cut -d= -f2)
check "crl: lists the certificate revoked by rr, with keyCompromise" \
    grep -A3 "Serial Number: $kurserial" "$work/crl.txt" -q
check "crl: reason codes present" grep -q "Key Compromise" "$work/crl.txt"
check "crl: lists the certificate revoked with cmpca cert revoke" grep -q \
    "Serial Number: $(openssl x509 -in "$work/extcur.pem" -noout -serial | cut -d= -f2)" "$work/crl.txt"
check "crl: CRL number and AKI extensions" bash -c \
    "grep -q 'CRL Number' '$work/crl.txt' && grep -q 'Authority Key Identifier' '$work/crl.txt'"
check "verify -crl_check: a revoked certificate is rejected" bash -c \
    "! openssl verify -crl_check -CRLfile '$work/ca-crl.pem' -CAfile '$CMPCA_CA_CERT' '$work/kur.pem'"
check "verify -crl_check: a valid certificate passes" \
    openssl verify -crl_check -CRLfile "$work/ca-crl.pem" -CAfile "$CMPCA_CA_CERT" "$work/ec.pem"
check "crl: GnuTLS certtool verifies it" \
    certtool --verify-crl --load-ca-certificate "$CMPCA_CA_CERT" --infile "$work/ca-crl.pem"
check "issued certificates carry CRL distribution point and OCSP AIA" bash -c \
    "openssl x509 -in '$work/ec.pem' -noout -ext crlDistributionPoints,authorityInfoAccess |
     grep -q '$CMPCA_CRL_URL' && openssl x509 -in '$work/ec.pem' -noout -ext authorityInfoAccess | grep -q '$CMPCA_OCSP_URL'"
# Per-CA URLs (issue 13): a subordinate's end entity names the
# subordinate's CRL and validates with it (openssl verify downloads it
# from the distribution point) and with OCSP through its own signer.
cli ca create sub1 --subject "/O=cmpca/CN=Sub One" --issuer demo --days 30 \
    >/dev/null 2>&1
cli ca export sub1 | openssl x509 >"$work/sub1.pem" 2>/dev/null
cat "$CMPCA_CA_CERT" "$work/sub1.pem" >"$work/sub1-chain.pem"
export SUBSEC=$(cli secret add subsec --ca sub1 --uses 5)
openssl cmp -cmd ir -server "$CMPCA_URL/p/sub1" -ref subsec \
    -secret env:SUBSEC -recipient "/O=cmpca/CN=Sub One" \
    -newkey "$work/ec3.key" -subject /CN=sub-ee -implicit_confirm \
    -certout "$work/subee.pem" -unprotected_errors >"$work/subee.out" 2>&1
check "subordinate: its end entity names its own CRL" grep -q \
    "/crl/sub1.crl" <(openssl x509 -in "$work/subee.pem" -noout -ext crlDistributionPoints)
cli crl issue --ca sub1 >/dev/null 2>&1
check "subordinate: verify -crl_check -crl_download passes" \
    openssl verify -crl_check -crl_download -CAfile "$CMPCA_CA_CERT" \
    -untrusted "$work/sub1.pem" "$work/subee.pem"
cli ocsp signer --ca sub1 --days 5 >/dev/null 2>&1
openssl ocsp -issuer "$work/sub1.pem" -cert "$work/subee.pem" \
    -url "$(openssl x509 -in "$work/subee.pem" -noout -ocsp_uri)" \
    -CAfile "$work/sub1-chain.pem" >"$work/subocsp.out" 2>&1
check "subordinate: openssl ocsp at the AIA URL says good" \
    grep -q "subee.pem: good" "$work/subocsp.out"
openssl cmp -cmd genm -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
    -infotype currentCRL -rspout "$work/gcrl.rsp" >/dev/null 2>&1
check "genm currentCRL: the newest CRL" \
    grep -q "itav=id-it-currentCRL:value" <(dump "$work/gcrl.rsp")

# 11. No secret in any log: the PIN and the enrollment secret.
pin=$(cat "$CMPCA_VAR/hsm/pin")
logs="$CMPCA_VAR/cmpcad.log $CMPCA_VAR/nginx-error.log $CMPCA_VAR/nginx-access.log $CMPCA_VAR/pg/server.log"
check "no HSM PIN in any log" bash -c "! grep -qF -- '$pin' $logs"
check "no enrollment secret in any log" bash -c "! grep -qF -- '$CMPCA_SECRET' $logs"
check "no enrollment secret in cmpca.conf" bash -c "! grep -qF -- '$CMPCA_SECRET' '$CMPCA_CONF'"

# 11b. The transaction that was never confirmed expired: its certificate
#      is rejected (revoked, cessationOfOperation) by the housekeeper.
for _ in $(seq 30); do
	[ "$(db_status "$work/noconf.pem")" = rejected ] && break
	sleep 0.5
done
check "unconfirmed: rejected after the certConf timeout" \
    test "$(db_status "$work/noconf.pem")" = rejected
check "unconfirmed: reason cessationOfOperation, transaction aborted" test \
    "$(q "select x.reason || c.state from cert x join cmp_txn c on c.id = x.txid where x.serial = '$noconf_serial'")" = 5aborted
check "unconfirmed: audited" test \
    "$(q "select count(*) from audit where event = 'expire' and detail = '$noconf_serial'")" = 1
cli crl issue >/dev/null 2>&1
check "unconfirmed: listed in the next CRL (cessationOfOperation)" bash -c \
    "openssl crl -inform DER -in '$CMPCA_VAR/crl/$CMPCA_CA_LABEL.crl' -noout -text |
     grep -A4 'Serial Number: $(openssl x509 -in "$work/noconf.pem" -noout -serial | cut -d= -f2)' |
     grep -q 'Cessation Of Operation'"

# 12. The daemon is still the one we started, with its workers.
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

# 13. A clean stop (SIGTERM drains workers), and no sanitizer report in a
#     SAN=1 build's daemon log.
stack_down
check "cmpcad stopped on SIGTERM" bash -c "! kill -0 $CMPCA_CMPCAD_PID 2>/dev/null"
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

e2e_done
