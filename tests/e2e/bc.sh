#!/bin/bash
# End-to-end tests with a second, independent CMP client: Bouncy Castle's
# CMP/CRMF API (tests/bc/CmpClient.java, Debian's BC 1.72), against the real
# stack (PostgreSQL, SoftHSM through libp11, nginx, cmpcad). A fresh stack in
# a temporary directory, on a port away from `make run` (8080) and from
# tests/e2e/run.sh (18480): CMPCA_BC_TEST_PORT, else the first free port
# from 18490. Polling clients are told to come back after 1 s
# (CMPCA_POLL_AFTER).
#
# usage: tests/e2e/bc.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup bc 18490 --port-var CMPCA_BC_TEST_PORT --scan-to 18510 -- "$@"
export CMPCA_POLL_AFTER=1

# The client first: without a JDK and Debian's Bouncy Castle jars there is
# nothing to run.
e2e_build_bc_client
e2e_stack_up
# The client reads the secret from the environment, never from argv.
export CMPCA_SECRET

# bcs NAME COMMAND [options...]: runs the client with the CA as recipient
# and as the certificate that verifies signed responses, and no MAC
# options (signature protection from --prot-key/--prot-cert, or for kur
# and rr from --old-key/--old-cert); output files in $work/NAME/, summary
# lines in $work/NAME.out (one per response), exit status in $work/NAME.rc.
bcs() {
	local name=$1 cmd=$2
	shift 2
	"$top/tests/bc/cmpclient" "$cmd" --url "$CMPCA_URL" \
	    --ca-cert "$CMPCA_CA_CERT" --out-dir "$work/$name" --save-msgs \
	    "$@" >"$work/$name.out" 2>"$work/$name.err"
	echo $? >"$work/$name.rc"
}
# bc NAME COMMAND [options...]: bcs with PBM and the demo secret, or the
# secret named by $bc_ref whose value is in the variable named $bc_env.
bc() {
	local name=$1 cmd=$2
	shift 2
	bcs "$name" "$cmd" --ref "${bc_ref:-$CMPCA_SECRET_REF}" \
	    --secret-env "${bc_env:-CMPCA_SECRET}" "$@"
}

# f NAME LINE KEY: the value of KEY in summary line LINE (1 = first response).
f() {
	awk -v n="$2" -v k="$3" 'NR == n {
		for (i = 1; i <= NF; i++) {
			e = index($i, "=")
			if (e > 0 && substr($i, 1, e - 1) == k) { print substr($i, e + 1); exit }
		}
	}' "$work/$1.out"
}
# is NAME LINE KEY VALUE
is() { [ "$(f "$1" "$2" "$3")" = "$4" ]; }
lines() { wc -l <"$work/$1.out" | tr -d ' '; }
# last NAME BODY: the line number of NAME's last response with that body.
last() { awk -v b="body=$2" '$1 == b { n = NR } END { print n + 0 }' "$work/$1.out"; }
ran() { [ "$(cat "$work/$1.rc")" = 0 ]; }
why() { echo "rc=$(cat "$work/$1.rc") $(head -c 600 "$work/$1.out") $(tail -n 2 "$work/$1.err")"; }

# db_revoked CERT: "status reason" when revoked_at is set, else nothing.
db_revoked() {
	q "select status || ' ' || coalesce(reason::text, '-') from cert
	   where serial = '$(serial_of "$1")' and revoked_at is not null"
}
db_id() { q "select id from cert where serial = '$(serial_of "$1")'"; }
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
# txn NAME: the transactionID of NAME's first response, as a bytea literal.
txn() { echo "'\\x$(f "$1" 1 txid)'::bytea"; }
txn_state() { q "select state from cmp_txn where id = $(txn "$1")"; }
by_req_id() { # NAME certReqId: status of that certificate of NAME's transaction
	q "select status from cert where txid = $(txn "$1") and cert_req_id = $2"
}
counts() { q "select (select count(*) from cert) || '/' || (select count(*) from cmp_txn)"; }

openssl ecparam -genkey -name prime256v1 -noout -out "$work/ec1.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ec2.key" 2>/dev/null
openssl genrsa -out "$work/rsa.key" 2048 2>/dev/null

# 1. One ir with three CertReqMsgs (EC, RSA, EC keys), PBM, explicit certConf.
bc multi ir --key "$work/ec1.key" --key "$work/rsa.key" --key "$work/ec2.key" \
    --subject /O=Example/CN=bc-multi-0 --subject /CN=bc-multi-1 --subject /CN=bc-multi-2
if ran multi && is multi 1 body ip; then
	pass "ir with 3 CertReqMsgs (EC, RSA, EC): ip"
	check "multi: ip MAC verifies with the secret" is multi 1 mac ok
	check "multi: ip answers our transactionID and nonce" \
	    test "$(f multi 1 txid_ok)$(f multi 1 nonce_ok)" = 11
	check "multi: three accepted responses" test \
	    "$(f multi 1 'status[0]')$(f multi 1 'status[1]')$(f multi 1 'status[2]')" = 000
	check "multi: cmpdump decodes the ip the same way" test \
	    "$(dump "$work/multi/rsp-0.der" | awk '/^body=ip / { print gsub(/ status=0 /, "&") }')" = 3
	check "multi: certConf for all answered by pkiConf" is multi 2 body pkiconf
	check "multi: pkiConf MAC verifies" is multi 2 mac ok
	i=0
	for k in ec1 rsa ec2; do
		c=$work/multi/cert-$i.pem
		check "multi: certReqId $i carries its key ($k)" same_pubkey "$c" "$work/$k.key"
		check "multi: certReqId $i chains to the CA" chains "$c"
		check "multi: certReqId $i valid in the database" test "$(db_status "$c")" = valid
		check "multi: certReqId $i stored with its certReqId" \
		    test "$(q "select cert_req_id from cert where serial = '$(serial_of "$c")'")" = $i
		i=$((i + 1))
	done
	check "multi: subject as requested" grep -q "CN = bc-multi-0" \
	    <(openssl x509 -in "$work/multi/cert-0.pem" -noout -subject)
	check "multi: transaction done" test "$(txn_state multi)" = done
else
	fail "ir with 3 CertReqMsgs" "$(why multi)"
fi

# 2. Two CertReqMsgs, certConf names only certReqId 0: 1 is rejected.
bc partial ir --key "$work/ec1.key" --key "$work/rsa.key" --subject /CN=bc-partial \
    --confirm 0
if ran partial && is partial 1 body ip && is partial 2 body pkiconf; then
	pass "certConf covering only certReqId 0: pkiConf"
	check "partial: certReqId 0 valid" test "$(by_req_id partial 0)" = valid
	check "partial: certReqId 1 (left out) rejected" test "$(by_req_id partial 1)" = rejected
	check "partial: rejection recorded as cessationOfOperation" test \
	    "$(q "select reason from cert where txid = $(txn partial) and cert_req_id = 1 and revoked_at is not null")" = 5
	check "partial: transaction done" test "$(txn_state partial)" = done
else
	fail "certConf covering only certReqId 0" "$(why partial)"
fi

# 2b. Two CertReqMsgs, certConf accepts 0 and rejects 1 explicitly.
bc rejone ir --key "$work/ec1.key" --key "$work/ec2.key" --subject /CN=bc-reject-one \
    --reject 1
if ran rejone && is rejone 2 body pkiconf; then
	pass "certConf accepting 0 and rejecting 1: pkiConf"
	check "rejone: certReqId 0 valid" test "$(by_req_id rejone 0)" = valid
	check "rejone: certReqId 1 rejected" test "$(by_req_id rejone 1)" = rejected
else
	fail "certConf rejecting one" "$(why rejone)"
fi

# 3. pvno 3 (cmp2021): the answers keep pvno 3.
bc v3 ir --key "$work/ec1.key" --subject /CN=bc-pvno3 --pvno 3
if ran v3 && is v3 1 body ip && is v3 1 'status[0]' 0; then
	pass "ir with pvno 3: ip"
	check "v3: ip has pvno 3" is v3 1 pvno 3
	check "v3: pkiConf has pvno 3" test "$(f v3 2 body) $(f v3 2 pvno)" = "pkiconf 3"
	check "v3: certificate carries the requested key" same_pubkey "$work/v3/cert-0.pem" "$work/ec1.key"
	check "v3: certificate chains to the CA" chains "$work/v3/cert-0.pem"
	check "v3: valid in the database" test "$(db_status "$work/v3/cert-0.pem")" = valid
	check "v3: transaction recorded with pvno 3" \
	    test "$(q "select pvno from cmp_txn where id = $(txn v3)")" = 3
else
	fail "ir with pvno 3" "$(why v3)"
fi

# 3b. pvno 3 with hashAlg in the CertStatus (SHA-512, not the CA's
#     signature digest): the server hashes with hashAlg.
bc v3hash ir --key "$work/ec2.key" --subject /CN=bc-pvno3-hashalg --pvno 3 \
    --cert-hash-alg sha512
if ran v3hash && is v3hash 2 body pkiconf; then
	pass "pvno 3 certConf with hashAlg SHA-512: pkiConf"
	check "v3hash: valid in the database" test "$(db_status "$work/v3hash/cert-0.pem")" = valid
else
	fail "pvno 3 certConf with hashAlg" "$(why v3hash)"
fi

# 4. implicitConfirm: granted, no certConf, valid at once.
bc implicit ir --key "$work/rsa.key" --subject /CN=bc-implicit --implicit-confirm
if ran implicit && is implicit 1 body ip && is implicit 1 'status[0]' 0; then
	pass "ir with implicitConfirm: ip"
	check "implicit: implicitConfirm granted in the ip" is implicit 1 implicitConfirm 1
	check "implicit: no certConf sent (one response only)" test "$(lines implicit)" = 1
	check "implicit: valid at once" test "$(db_status "$work/implicit/cert-0.pem")" = valid
	check "implicit: transaction done" test "$(txn_state implicit)" = done
	check "implicit: chains to the CA" chains "$work/implicit/cert-0.pem"
else
	fail "ir with implicitConfirm" "$(why implicit)"
fi

# 5. PBM parameters: owf SHA-256, mac HMAC-SHA256, 1000 iterations works;
#    HMAC-SHA1 with the minimum of 100 works; 50 is refused (RFC 4211 §4.4).
bc pbm1000 ir --key "$work/ec1.key" --subject /CN=bc-pbm-1000 \
    --owf sha256 --mac hmac-sha256 --iter 1000
check "pbm sha256/hmac-sha256/1000: ip accepted and confirmed" test \
    "$(f pbm1000 1 body) $(f pbm1000 1 'status[0]') $(f pbm1000 1 mac) $(f pbm1000 2 body)" = "ip 0 ok pkiconf"
check "pbm sha256/hmac-sha256/1000: valid" test "$(db_status "$work/pbm1000/cert-0.pem")" = valid
bc pbmsha1 ir --key "$work/ec1.key" --subject /CN=bc-pbm-sha1-100 \
    --owf sha256 --mac hmac-sha1 --iter 100
check "pbm sha256/hmac-sha1/100: ip accepted and confirmed" test \
    "$(f pbmsha1 1 body) $(f pbmsha1 1 'status[0]') $(f pbmsha1 1 mac) $(f pbmsha1 2 body)" = "ip 0 ok pkiconf"
before=$(counts)
bc pbm50 ir --key "$work/ec1.key" --subject /CN=bc-pbm-50 --iter 50
check "pbm iterationCount 50: client exchange completed" ran pbm50
check "pbm iterationCount 50: error badRequest" \
    test "$(f pbm50 1 body) $(f pbm50 1 failinfo)" = "error badRequest"
check "pbm iterationCount 50: error is unprotected" is pbm50 1 protected 0
check "pbm iterationCount 50: nothing stored" test "$(counts)" = "$before"
check "pbm iterationCount 50: no certificate written" test ! -e "$work/pbm50/cert-0.pem"

# 5b. PBMAC1 (RFC 9481 §6.1.3): PBKDF2 + HMAC; the response is protected
#     with the same parameters and verifies.
bc pbmac1 ir --key "$work/ec2.key" --subject /CN=bc-pbmac1 --pbmac1
check "pbmac1: ip accepted, response MAC verifies, confirmed" test \
    "$(f pbmac1 1 body) $(f pbmac1 1 'status[0]') $(f pbmac1 1 mac) $(f pbmac1 2 body)" = "ip 0 ok pkiconf"
check "pbmac1: certificate chains and carries the key" bash -c \
    "openssl verify -CAfile '$CMPCA_CA_CERT' '$work/pbmac1/cert-0.pem' >/dev/null &&
     [ \"\$(openssl x509 -in '$work/pbmac1/cert-0.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$work/ec2.key' -pubout)\" ]"
check "pbmac1: valid in the database" test "$(db_status "$work/pbmac1/cert-0.pem")" = valid

# 6. cr: cp with the certificate.
bc cr cr --key "$work/ec2.key" --subject /CN=bc-cr
if ran cr && is cr 1 body cp && is cr 1 'status[0]' 0; then
	pass "cr with PBM: cp"
	check "cr: cp MAC verifies" is cr 1 mac ok
	check "cr: certificate carries the requested key" same_pubkey "$work/cr/cert-0.pem" "$work/ec2.key"
	check "cr: chains to the CA" chains "$work/cr/cert-0.pem"
	check "cr: certConf answered by pkiConf" is cr 2 body pkiconf
	check "cr: valid in the database" test "$(db_status "$work/cr/cert-0.pem")" = valid
	check "cr: transaction recorded as cr" \
	    test "$(q "select kind from cmp_txn where id = $(txn cr)")" = cr
else
	fail "cr with PBM" "$(why cr)"
fi

# 7. The client aborts with an error message instead of certConf.
bc abort ir --key "$work/ec1.key" --subject /CN=bc-abort --send-error --failinfo badRequest
if ran abort && is abort 1 body ip && is abort 1 'status[0]' 0; then
	pass "error message after ip: ip"
	check "abort: error answered by pkiConf" test "$(f abort 2 body) $(f abort 2 mac)" = "pkiconf ok"
	check "abort: certificate rejected in the database" \
	    test "$(db_status "$work/abort/cert-0.pem")" = rejected
	check "abort: transaction aborted" test "$(txn_state abort)" = aborted
else
	fail "error message after ip" "$(why abort)"
fi

# 8. Wrong secret: badMessageCheck, unprotected, nothing stored.
before=$(counts)
WRONG_SECRET=not-the-secret "$top/tests/bc/cmpclient" ir --url "$CMPCA_URL" \
    --ref "$CMPCA_SECRET_REF" --secret-env WRONG_SECRET --ca-cert "$CMPCA_CA_CERT" \
    --key "$work/ec1.key" --subject /CN=bc-wrong-secret --out-dir "$work/wrong" \
    --save-msgs >"$work/wrong.out" 2>"$work/wrong.err"
echo $? >"$work/wrong.rc"
check "wrong secret: client exchange completed" ran wrong
check "wrong secret: error badMessageCheck" \
    test "$(f wrong 1 body) $(f wrong 1 failinfo)" = "error badMessageCheck"
check "wrong secret: answer unprotected" test "$(f wrong 1 protected) $(f wrong 1 mac)" = "0 none"
check "wrong secret: cmpdump agrees" grep -q "failinfo=badMessageCheck" <(dump "$work/wrong/rsp-0.der")
check "wrong secret: nothing stored" test "$(counts)" = "$before"
check "wrong secret: no certificate written" test ! -e "$work/wrong/cert-0.pem"

# ---- signature protection, kur, p10cr, rr, genm, delayed delivery ----
for k in ec3 ec4 ec5 ec6 ec7 ec8; do
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$k.key" 2>/dev/null
done

# 9. Signature protection (RFC 9483 §3.2): a certificate issued earlier in
#    this run protects a cr for a new key; the cp and the pkiConf are
#    signed by the CA and verify with the CA certificate.
bc holder ir --key "$work/ec3.key" --subject /O=Example/CN=bc-sig-holder
holder=$work/holder/cert-0.pem
if ran holder && is holder 2 body pkiconf && [ "$(db_status "$holder")" = valid ]; then
	pass "signature protection: holder certificate issued (ir, PBM)"
	before=$(q "select count(*) from cert where status = 'valid'")
	bcs sigcr cr --prot-key "$work/ec3.key" --prot-cert "$holder" \
	    --key "$work/ec4.key" --subject /O=Example/CN=bc-sig-holder
	if ran sigcr && is sigcr 1 body cp && is sigcr 1 'status[0]' 0; then
		pass "signed cr (protection cert issued by us): cp accepted"
		c=$work/sigcr/cert-0.pem
		check "sigcr: cp signature verifies with the CA certificate" \
		    test "$(f sigcr 1 protected) $(f sigcr 1 mac) $(f sigcr 1 sig)" = "1 none ok"
		check "sigcr: cp answers our transactionID and nonce" \
		    test "$(f sigcr 1 txid_ok)$(f sigcr 1 nonce_ok)" = 11
		check "sigcr: cp has one certificate in extraCerts" is sigcr 1 extraCerts 1
		check "sigcr: certificate carries the new key" same_pubkey "$c" "$work/ec4.key"
		check "sigcr: certificate has the holder's subject" \
		    test "$(subject_of "$c")" = "$(subject_of "$holder")"
		check "sigcr: chains to the CA" chains "$c"
		check "sigcr: signed certConf answered by a signed pkiConf" \
		    test "$(f sigcr 2 body) $(f sigcr 2 sig)" = "pkiconf ok"
		check "sigcr: new certificate valid in the database" test "$(db_status "$c")" = valid
		check "sigcr: holder certificate still valid" test "$(db_status "$holder")" = valid
		check "sigcr: one more valid certificate" test \
		    "$(q "select count(*) from cert where status = 'valid'")" = $((before + 1))
		check "sigcr: transaction cr, done" test \
		    "$(q "select kind || ' ' || state from cmp_txn where id = $(txn sigcr)")" = "cr done"
		check "sigcr: cmpdump decodes the signed cp" grep -q "^body=cp .*protected=1 status=0 " \
		    <(dump "$work/sigcr/rsp-0.der")
	else
		fail "signed cr" "$(why sigcr)"
	fi

	# 9b. The same holder asks for another subject: notAuthorized.
	bcs sigother cr --prot-key "$work/ec3.key" --prot-cert "$holder" \
	    --key "$work/ec4.key" --subject /O=Example/CN=bc-someone-else
	check "signed cr for another subject: cp, rejection notAuthorized" test \
	    "$(f sigother 1 body) $(f sigother 1 'status[0]') $(f sigother 1 'failinfo[0]')" = \
	    "cp 2 notAuthorized"
	check "sigother: the rejection is signed by the CA" is sigother 1 sig ok
	check "sigother: no certificate written" test ! -e "$work/sigother/cert-0.pem"

	# 9c. Its own subject, but a name its certificate lacks
	#     (holder_san = own, issue 13): notAuthorized naming the name.
	bcs sigsan cr --prot-key "$work/ec3.key" --prot-cert "$holder" \
	    --key "$work/ec4.key" --subject /O=Example/CN=bc-sig-holder \
	    --san login.bank.example
	check "signed cr for a name the holder lacks: cp, rejection notAuthorized" test \
	    "$(f sigsan 1 body) $(f sigsan 1 'status[0]') $(f sigsan 1 'failinfo[0]')" = \
	    "cp 2 notAuthorized"
	check "sigsan: the statusString names it" grep -q \
	    'text="subjectAltName DNS:login.bank.example is not a name of the protection certificate' \
	    <(dump "$work/sigsan/rsp-0.der")
	check "sigsan: no certificate written" test ! -e "$work/sigsan/cert-0.pem"
	check "sigother: no certConf sent (one response only)" test "$(lines sigother)" = 1
	check "sigother: nothing issued for the transaction" \
	    test "$(q "select count(*) from cert where txid = $(txn sigother)")" = 0

	# 9c. pvno 3 (cmp2021) with signature protection: every answer keeps
	#     pvno 3 and is signed.
	bcs v3sig cr --pvno 3 --prot-key "$work/ec3.key" --prot-cert "$holder" \
	    --key "$work/ec8.key" --subject /O=Example/CN=bc-sig-holder
	if ran v3sig && is v3sig 1 body cp && is v3sig 1 'status[0]' 0; then
		pass "signed cr with pvno 3: cp accepted"
		check "v3sig: cp has pvno 3 and verifies" \
		    test "$(f v3sig 1 pvno) $(f v3sig 1 sig)" = "3 ok"
		check "v3sig: pkiConf has pvno 3 and verifies" \
		    test "$(f v3sig 2 body) $(f v3sig 2 pvno) $(f v3sig 2 sig)" = "pkiconf 3 ok"
		check "v3sig: certificate carries the key and chains" bash -c \
		    "openssl verify -CAfile '$CMPCA_CA_CERT' '$work/v3sig/cert-0.pem' >/dev/null &&
		     [ \"\$(openssl x509 -in '$work/v3sig/cert-0.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$work/ec8.key' -pubout)\" ]"
		check "v3sig: valid in the database" test "$(db_status "$work/v3sig/cert-0.pem")" = valid
		check "v3sig: transaction recorded with pvno 3" \
		    test "$(q "select pvno from cmp_txn where id = $(txn v3sig)")" = 3
	else
		fail "signed cr with pvno 3" "$(why v3sig)"
	fi
else
	fail "signature protection: holder certificate" "$(why holder)"
fi

# 9d. Two certificates with the same long subject (its one-line form is
#     longer than a transaction's sender column) do not continue each
#     other's transactions: a transaction belongs to the certificate that
#     started it (its SHA-256), not to a name.
ou=$(printf '%060d' 0)
twin="/O=Example/OU=a$ou/OU=b$ou/OU=c$ou/OU=d$ou/OU=e$ou/CN=bc-twin"
bc twin1 ir --key "$work/ec3.key" --subject "$twin"
bc twin2 ir --key "$work/ec4.key" --subject "$twin"
bcs twincr cr --prot-key "$work/ec3.key" --prot-cert "$work/twin1/cert-0.pem" \
    --key "$work/ec8.key" --subject "$twin" --confirm none
if ran twin1 && ran twin2 && is twincr 1 body cp && is twincr 1 'status[0]' 0; then
	bcs twinconf certconf --prot-key "$work/ec4.key" --prot-cert "$work/twin2/cert-0.pem" \
	    --txid "$(f twincr 1 txid)" --recip-nonce "$(f twincr 1 snonce)" \
	    --cert "$work/twincr/cert-0.pem" --cert-req-id 0
	check "same subject, other certificate: certConf of the twin's transaction refused (notAuthorized)" \
	    test "$(f twinconf 1 body) $(f twinconf 1 failinfo)" = "error notAuthorized"
	check "the twin's certificate is still unconfirmed" \
	    test "$(db_status "$work/twincr/cert-0.pem")" = unconfirmed
	bcs twinown certconf --prot-key "$work/ec3.key" --prot-cert "$work/twin1/cert-0.pem" \
	    --txid "$(f twincr 1 txid)" --recip-nonce "$(f twincr 1 snonce)" \
	    --cert "$work/twincr/cert-0.pem" --cert-req-id 0
	check "the certificate that started it confirms it (pkiConf)" is twinown 1 body pkiconf
	check "the twin's certificate is valid after its own certConf" \
	    test "$(db_status "$work/twincr/cert-0.pem")" = valid
	check "the transaction's sender is the certificate's hash" \
	    test "$(q "select sender from cmp_txn where id = $(txn twincr)" | cut -c1-76)" = \
	    "cert:sha256:$(openssl x509 -in "$work/twin1/cert-0.pem" -outform DER | sha256sum | cut -c1-64)"
else
	fail "two certificates with one subject" "$(why twin1) $(why twin2) $(why twincr)"
fi

# 10. Key update: kur signed with the old certificate (oldCertID, no
#     subject in the template) -> kup with the new key and the old subject.
#     The old certificate stays valid until the new one is confirmed, then
#     it is revoked as superseded (4).
bc kurold ir --key "$work/ec5.key" --subject /O=Example/CN=bc-kur
old=$work/kurold/cert-0.pem
bcs kur kur --old-cert "$old" --old-key "$work/ec5.key" --key "$work/ec6.key" --confirm none
new=$work/kur/cert-0.pem
if ran kurold && ran kur && is kur 1 body kup && is kur 1 'status[0]' 0; then
	pass "kur signed with the old certificate: kup accepted"
	check "kur: kup signature verifies with the CA certificate" is kur 1 sig ok
	check "kur: new certificate carries the new key" same_pubkey "$new" "$work/ec6.key"
	check "kur: new certificate has the old subject" \
	    test "$(subject_of "$new")" = "$(subject_of "$old")"
	check "kur: new certificate has a new serial" test "$(serial_of "$new")" != "$(serial_of "$old")"
	check "kur: new certificate chains to the CA" chains "$new"
	check "kur: before certConf the new one is unconfirmed" test "$(db_status "$new")" = unconfirmed
	check "kur: before certConf the old one is still valid" test "$(db_status "$old")" = valid
	check "kur: new certificate recorded as replacing the old one" \
	    test "$(q "select replaces from cert where serial = '$(serial_of "$new")'")" = "$(db_id "$old")"
	bcs kurconf certconf --prot-key "$work/ec5.key" --prot-cert "$old" \
	    --txid "$(f kur 1 txid)" --recip-nonce "$(f kur 1 snonce)" \
	    --cert "$new" --cert-req-id 0
	check "kur: signed certConf answered by a signed pkiConf" \
	    test "$(f kurconf 1 body) $(f kurconf 1 sig)" = "pkiconf ok"
	check "kur: after certConf the new certificate is valid" test "$(db_status "$new")" = valid
	check "kur: after certConf the old certificate is revoked, reason superseded (4)" \
	    test "$(db_revoked "$old")" = "revoked 4"
	check "kur: transaction kur, done" test \
	    "$(q "select kind || ' ' || state from cmp_txn where id = $(txn kur)")" = "kur done"
	# The revoked old certificate no longer authenticates anything.
	bcs kurstale cr --prot-key "$work/ec5.key" --prot-cert "$old" \
	    --key "$work/ec5.key" --subject /O=Example/CN=bc-kur
	check "kur: the superseded certificate is refused as protection (certRevoked)" \
	    test "$(f kurstale 1 body) $(f kurstale 1 failinfo)" = "error certRevoked"
else
	fail "kur signed with the old certificate" "$(why kurold) / $(why kur)"
fi

# 11. p10cr (PKCS#10 in CMP) with PBM: certReqId -1 (RFC 9483 §4.1.4).
bc p10 p10cr --key "$work/ec7.key" --subject /O=Example/CN=bc-p10cr
c=$work/p10/cert-p10.pem
if ran p10 && is p10 1 body cp && is p10 1 'status[-1]' 0; then
	pass "p10cr with PBM: cp accepted for certReqId -1"
	check "p10: cp MAC verifies" is p10 1 mac ok
	check "p10: certificate carries the key of the CSR" same_pubkey "$c" "$work/ec7.key"
	check "p10: subject as in the CSR" test "$(subject_of "$c")" = "CN=bc-p10cr,O=Example"
	check "p10: chains to the CA" chains "$c"
	check "p10: certConf (certReqId -1) answered by pkiConf" is p10 2 body pkiconf
	check "p10: valid in the database" test "$(db_status "$c")" = valid
	check "p10: stored with certReqId -1" \
	    test "$(q "select cert_req_id from cert where serial = '$(serial_of "$c")'")" = -1
	check "p10: transaction p10cr, done" test \
	    "$(q "select kind || ' ' || state from cmp_txn where id = $(txn p10)")" = "p10cr done"
else
	fail "p10cr with PBM" "$(why p10)"
fi
# 11b. The same with a CSR made by `openssl req` (RSA).
openssl req -new -key "$work/rsa.key" -subj /CN=bc-p10cr-openssl -out "$work/openssl.csr" 2>/dev/null
bc p10ossl p10cr --csr "$work/openssl.csr"
check "p10cr with an openssl CSR: cp accepted and confirmed, valid" test \
    "$(f p10ossl 1 body) $(f p10ossl 1 'status[-1]') $(f p10ossl 2 body) $(db_status "$work/p10ossl/cert-p10.pem")" = \
    "cp 0 pkiconf valid"
check "p10cr with an openssl CSR: certificate carries the RSA key" \
    same_pubkey "$work/p10ossl/cert-p10.pem" "$work/rsa.key"

# 12. Revocation (RFC 9483 §4.2): only the holder, signing with the
#     certificate to revoke. MAC -> notAuthorized; another certificate ->
#     notAuthorized; the holder -> revoked with the requested reason; again
#     -> certRevoked.
openssl ecparam -genkey -name prime256v1 -noout -out "$work/ec9.key" 2>/dev/null
bc rrold ir --key "$work/ec9.key" --subject /O=Example/CN=bc-rr
victim=$work/rrold/cert-0.pem
if ran rrold && [ "$(db_status "$victim")" = valid ]; then
	bc rrmac rr --old-cert "$victim" --reason 1
	check "rr with PBM: rp, rejection notAuthorized" test \
	    "$(f rrmac 1 body) $(f rrmac 1 'status[0]') $(f rrmac 1 'failinfo[0]')" = "rp 2 notAuthorized"
	check "rr with PBM: rp MAC verifies" is rrmac 1 mac ok
	check "rr with PBM: certificate still valid" test "$(db_status "$victim")" = valid
	if [ -s "$holder" ]; then
		bcs rrother rr --prot-key "$work/ec3.key" --prot-cert "$holder" --old-cert "$victim" --reason 1
		check "rr signed by another certificate: notAuthorized" test \
		    "$(f rrother 1 body) $(f rrother 1 'status[0]') $(f rrother 1 'failinfo[0]')" = "rp 2 notAuthorized"
		check "rr signed by another certificate: certificate still valid" \
		    test "$(db_status "$victim")" = valid
	fi
	bcs rr rr --old-cert "$victim" --old-key "$work/ec9.key" --reason 1 \
	    --invalidity-date 20261101000000Z
	if ran rr && is rr 1 body rp && is rr 1 'status[0]' 0; then
		pass "rr signed by the holder: rp accepted"
		check "rr: rp signature verifies with the CA certificate" is rr 1 sig ok
		check "rr: revoked in the database with reason keyCompromise (1)" \
		    test "$(db_revoked "$victim")" = "revoked 1"
		check "rr: transaction rr, done" test \
		    "$(q "select kind || ' ' || state from cmp_txn where id = $(txn rr)")" = "rr done"
		check "rr: audit row for the revocation" test "$(q "select count(*) from audit
		    where event = 'revoke' and detail = '$(serial_of "$victim")'")" = 1
		check "rr: invalidityDate recorded" test "$(q "select to_char(invalidity_date
		    at time zone 'UTC', 'YYYYMMDDHH24MISS') from cert
		    where serial = '$(serial_of "$victim")'")" = 20261101000000
		cli crl issue >/dev/null 2>&1
		check "rr: the next CRL lists the entry with reason and invalidity date" \
		    bash -c "openssl crl -inform DER -in '$CMPCA_VAR/crl/$CMPCA_CA_LABEL.crl' -noout -text |
		    grep -A6 -i 'Serial Number: $(openssl x509 -in "$victim" -noout -serial | cut -d= -f2)' |
		    grep -q 'Invalidity Date'"
	else
		fail "rr signed by the holder" "$(why rr)"
	fi
	bcs rragain rr --old-cert "$victim" --old-key "$work/ec9.key" --reason 0
	check "rr again: certRevoked" bash -c "grep -Eq '^body=(error|rp) .*failinfo(\[0\])?=certRevoked( |$)' '$work/rragain.out'"
	check "rr again: the answer is signed and verifies" is rragain 1 sig ok
	check "rr again: reason unchanged" test "$(db_revoked "$victim")" = "revoked 1"
else
	fail "rr: certificate to revoke" "$(why rrold)"
fi

# 13. genm with caCerts, signKeyPairTypes and a type the CA does not know:
#     one genp with three ITAVs in the same order; values for the first
#     two, the unknown one echoed without a value (RFC 9810 §5.3.19).
before=$(counts)
bc genm genm --infotype caCerts --infotype signKeyPairTypes --infotype 1.3.6.1.4.1.99999.7.1
if ran genm && is genm 1 body genp; then
	pass "genm with three ITAVs: genp"
	check "genm: genp MAC verifies" is genm 1 mac ok
	check "genm: caCerts answered with a value" is genm 1 'itav[0]' 1.3.6.1.5.5.7.4.17:value
	check "genm: signKeyPairTypes answered with a value" is genm 1 'itav[1]' 1.3.6.1.5.5.7.4.2:value
	check "genm: unknown type echoed without a value" is genm 1 'itav[2]' 1.3.6.1.4.1.99999.7.1:absent
	check "genm: exactly three ITAVs" test -z "$(f genm 1 'itav[3]')"
	check "genm: caCerts holds the CA certificate" \
	    test "$(fingerprint "$work/genm/cacerts.pem")" = "$(fingerprint "$CMPCA_CA_CERT")"
	check "genm: cmpdump agrees" grep -q \
	    "itav=id-it-caCerts:value itav=id-it-signKeyPairTypes:value itav=1.3.6.1.4.1.99999.7.1:absent" \
	    <(dump "$work/genm/rsp-0.der")
	check "genm: no certificate issued" test "$(q "select count(*) from cert")" = "${before%/*}"
else
	fail "genm with three ITAVs" "$(why genm)"
fi

# 14. Delayed delivery (RFC 9483 §4.4): a secret bound to the profile
#     "approval". Two clients wait and poll in the background; the operator
#     approves one and rejects the other with a reason, with the CLI.
bc_ref=bc-approval
export BC_APPROVAL_SECRET
BC_APPROVAL_SECRET=$(cli secret add "$bc_ref" --profile approval --uses 2 --days 1 --ca "$CMPCA_CA_LABEL" 2>"$work/secret-add.err")
if [ -n "$BC_APPROVAL_SECRET" ]; then
	pass "secret add --profile approval"
	bc_ref=$bc_ref bc_env=BC_APPROVAL_SECRET bc appr ir --newkey ec:P-256 \
	    --subject /O=Example/CN=bc-approve --poll-max 40 &
	appr_pid=$!
	bc_ref=$bc_ref bc_env=BC_APPROVAL_SECRET bc rej ir --newkey ec:P-256 \
	    --subject /O=Example/CN=bc-reject --poll-max 40 &
	rej_pid=$!
	# Decide only once both clients have polled at least once.
	for _ in $(seq 150); do
		grep -q '^body=pollRep ' "$work/appr.out" 2>/dev/null &&
		    grep -q '^body=pollRep ' "$work/rej.out" 2>/dev/null && break
		sleep 0.2
	done
	cli request list >"$work/pending.txt" 2>&1
	appr_id=$(awk -F'\t' '$5 == "CN=bc-approve,O=Example" { print $1 }' "$work/pending.txt")
	rej_id=$(awk -F'\t' '$5 == "CN=bc-reject,O=Example" { print $1 }' "$work/pending.txt")
	check "approval: the waiting ip says waiting (3), no certificate" \
	    test "$(f appr 1 body) $(f appr 1 'status[0]') $(f appr 1 'cert[0]')" = "ip 3 "
	check "approval: the client polls and gets pollRep with checkAfter 1 s" \
	    test "$(f appr 2 body) $(f appr 2 'checkAfter[0]') $(f appr 2 mac)" = "pollRep 1 ok"
	check "approval: request list shows both as pending, kind ir, profile approval" \
	    test "$(awk -F'\t' '$5 ~ /^CN=bc-(approve|reject),O=Example$/ { print $2, $3, $6 }' "$work/pending.txt" | sort -u)" = \
	    "pending ir approval"
	check "approval: transaction waiting while undecided" test "$(txn_state appr)" = waiting
	check "approval: nothing issued while undecided" \
	    test "$(q "select count(*) from cert where txid = $(txn appr)")" = 0
	cli request approve "$appr_id" >"$work/approve.out" 2>&1
	check "approval: request approve succeeds" grep -q "approved" "$work/approve.out"
	cli request reject "$rej_id" --reason "not on the device inventory" >"$work/reject.out" 2>&1
	check "approval: request reject succeeds" grep -q "rejected" "$work/reject.out"
	t_decided=$(date +%s)
	wait "$appr_pid"
	wait "$rej_pid"
	t1=$(date +%s)
	# checkAfter is 1 s: the next poll comes soon after the decision.
	check "approval: both clients done within 5 s of the decisions" \
	    test $((t1 - t_decided)) -le 5

	# Approved: the next pollReq gets the final ip, then certConf.
	n=$(last appr ip)
	c=$work/appr/cert-0.pem
	if ran appr && [ "$n" -gt 1 ] && is appr "$n" 'status[0]' 0; then
		pass "approved: the final ip after polling is accepted"
		check "approved: final ip MAC verifies and names our transaction" \
		    test "$(f appr "$n" mac) $(f appr "$n" txid_ok) $(f appr "$n" nonce_ok)" = "ok 1 1"
		check "approved: certificate carries the client's key" same_pubkey "$c" "$work/appr/key-0.pem"
		check "approved: subject as requested" test "$(subject_of "$c")" = "CN=bc-approve,O=Example"
		check "approved: chains to the CA" chains "$c"
		check "approved: certConf answered by pkiConf" \
		    test "$(lines appr) $(f appr "$(lines appr)" body)" = "$((n + 1)) pkiconf"
		check "approved: valid in the database" test "$(db_status "$c")" = valid
		check "approved: transaction done" test "$(txn_state appr)" = done
		check "approved: request recorded as approved by the CLI" test \
		    "$(q "select status || ' ' || decided_by from pending_req where id = $appr_id")" = "approved cli"
	else
		fail "approved: final ip" "$(why appr)"
	fi
	if cli request reject "$appr_id" >"$work/redecide.out" 2>&1; then
		fail "approved: a second decision is refused" "$(cat "$work/redecide.out")"
	else
		pass "approved: a second decision is refused"
	fi

	# Rejected: the final ip carries rejection and the operator's reason.
	n=$(last rej ip)
	if ran rej && [ "$n" -gt 1 ] && is rej "$n" 'status[0]' 2; then
		pass "rejected: the final ip after polling carries rejection (2)"
		check "rejected: failInfo notAuthorized" is rej "$n" 'failinfo[0]' notAuthorized
		check "rejected: statusString is the operator's reason" \
		    grep -q 'status\[0\]=2 .*text="not on the device inventory"' <(sed -n "${n}p" "$work/rej.out")
		check "rejected: no certificate, no certConf (ip is the last answer)" \
		    test "$(lines rej) $(ls "$work/rej"/cert-*.pem 2>/dev/null | wc -l)" = "$n 0"
		check "rejected: nothing issued for the transaction" \
		    test "$(q "select count(*) from cert where txid = $(txn rej)")" = 0
		check "rejected: transaction done" test "$(txn_state rej)" = done
		check "rejected: request recorded with the reason" test \
		    "$(q "select status || ' ' || reason from pending_req where id = $rej_id")" = \
		    "rejected not on the device inventory"
	else
		fail "rejected: final ip" "$(why rej)"
	fi
	check "approval: request list shows nothing pending" \
	    test -z "$(cli request list 2>/dev/null)"

	# 14b. Delayed revocation: the approved certificate's profile needs
	#      approval, so its holder's rr waits (rp status 3), polls, and
	#      gets the final rp once the operator approves.
	if [ -s "$c" ]; then
		bcs rrwait rr --old-cert "$c" --old-key "$work/appr/key-0.pem" \
		    --reason 4 --poll-max 40 &
		rrw_pid=$!
		for _ in $(seq 150); do
			grep -q '^body=pollRep ' "$work/rrwait.out" 2>/dev/null && break
			sleep 0.2
		done
		rrw_id=$(cli request list | awk -F'\t' '$3 == "rr" { print $1 }')
		check "delayed rr: first rp says waiting (3)" \
		    test "$(f rrwait 1 body) $(f rrwait 1 'status[0]')" = "rp 3"
		check "delayed rr: certificate still valid while undecided" \
		    test "$(db_status "$c")" = valid
		check "delayed rr: request listed as pending, kind rr" test -n "$rrw_id"
		cli request approve "$rrw_id" >/dev/null 2>&1
		wait "$rrw_pid"
		n=$(lines rrwait)
		check "delayed rr: the final rp after polling is accepted" \
		    test "$(f rrwait "$n" body) $(f rrwait "$n" 'status[0]')" = "rp 0"
		check "delayed rr: revoked in the database with reason 4" \
		    test "$(db_revoked "$c")" = "revoked 4"
	fi
	check "approval: each waiting request used one use of the secret" grep -q \
	    "^$bc_ref	.*uses_left=0	" <(cli secret list 2>/dev/null)
else
	fail "secret add --profile approval" "$(cat "$work/secret-add.err")"
fi
unset bc_ref

# 15. Registration authority (RFC 9483 §5.2.2): a certificate registered
#     with `cmpca ra add` signs nested messages (RFC 9810 §5.1.3.4) that
#     carry end-entity requests; each inner message keeps its own MAC and is
#     answered individually inside a nested response signed by the CA.
for k in ra nora ee1 ee2 ee3 ee4 ee5 ee6 ee7 ee8 ee9; do
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$k.key" 2>/dev/null
done
# txid_at NAME LINE: the transactionID of that response, as a bytea literal.
txid_at() { echo "'\\x$(f "$1" "$2" txid)'::bytea"; }
state_at() { q "select state from cmp_txn where id = $(txid_at "$1" "$2")"; }
nested_ra() { # NAME COMMAND [options...]: bc, forwarded nested by the RA
	local name=$1 cmd=$2
	shift 2
	bc "$name" "$cmd" --nested-ra-cert "$work/racert/cert-0.pem" \
	    --nested-ra-key "$work/ra.key" "$@"
}
bc racert ir --key "$work/ra.key" --subject /O=Example/CN=bc-ra
bc noracert ir --key "$work/nora.key" --subject /O=Example/CN=bc-not-an-ra
ra=$work/racert/cert-0.pem
nora=$work/noracert/cert-0.pem
if ran racert && ran noracert && [ "$(db_status "$ra")" = valid ] &&
    [ "$(db_status "$nora")" = valid ] &&
    cli ra add bcra --cert "$ra" >"$work/ra-add.out" 2>&1; then
	pass "RA certificate issued and registered (cmpca ra add)"

	# 15a. Two end-entity irs (different subjects, keys, transactionIDs,
	#      each MAC-protected with the demo secret) in one nested message;
	#      the two certConfs go nested again.
	nested_ra nest nested \
	    --inner ir --key "$work/ee1.key" --subject /O=Example/CN=bc-nested-1 \
	    --inner ir --key "$work/ee2.key" --subject /O=Example/CN=bc-nested-2
	if ran nest && is nest 1 body nested; then
		pass "nested (RA) with two irs: nested response"
		check "nest: outer response signed by the CA, answers our transactionID and nonce" \
		    test "$(f nest 1 protected) $(f nest 1 sig) $(f nest 1 txid_ok)$(f nest 1 nonce_ok)" = "1 ok 11"
		check "nest: outer response has two inner messages" is nest 1 inner 2
		check "nest: the two inner transactions differ" \
		    test "$(f nest 2 txid)" != "$(f nest 3 txid)"
		for n in 1 2; do
			l=$((n + 1))
			c=$work/nest/$((n - 1))-cert-0.pem
			check "nest: inner $n answered by an accepted ip" test \
			    "$(f nest $l body) $(f nest $l nested) $(f nest $l 'status[0]')" = "ip 1 0"
			check "nest: inner ip $n MAC verifies with the demo secret, names its transaction and nonce" \
			    test "$(f nest $l mac) $(f nest $l txid_ok)$(f nest $l nonce_ok)" = "ok 11"
			check "nest: certificate $n carries its key" same_pubkey "$c" "$work/ee$n.key"
			check "nest: certificate $n chains to the CA" chains "$c"
			check "nest: certificate $n has its subject" \
			    test "$(subject_of "$c")" = "CN=bc-nested-$n,O=Example"
			check "nest: certificate $n valid in the database" test "$(db_status "$c")" = valid
			check "nest: inner transaction $n done" test "$(state_at nest $l)" = done
		done
		check "nest: certConfs sent nested: a signed nested response, new outer transaction" test \
		    "$(f nest 4 body) $(f nest 4 sig) $(f nest 4 inner) $(f nest 4 txid_ok)$(f nest 4 nonce_ok)" = "nested ok 2 11"
		check "nest: the second outer message has a fresh transactionID" \
		    test "$(f nest 4 txid)" != "$(f nest 1 txid)"
		check "nest: both certConfs answered by pkiConf (MAC ok, their transactions)" test \
		    "$(f nest 5 body) $(f nest 5 nested) $(f nest 5 mac) $(f nest 5 txid) $(f nest 6 body) $(f nest 6 nested) $(f nest 6 mac) $(f nest 6 txid)" = \
		    "pkiconf 1 ok $(f nest 2 txid) pkiconf 1 ok $(f nest 3 txid)"
		check "nest: six responses in all" test "$(lines nest)" = 6
		check "nest: outer transactions recorded as nested from the RA" test \
		    "$(q "select kind || ' ' || sender from cmp_txn where id in ($(txid_at nest 1), $(txid_at nest 4)) group by 1")" = "nested ra:bcra"
		check "nest: cmpdump decodes the nested response" grep -q "^body=nested .*protected=1" \
		    <(dump "$work/nest/nested-rsp-0.der")
	else
		fail "nested (RA) with two irs" "$(why nest)"
	fi

	# 15b. One ir nested, its certConf sent directly by the end entity.
	nested_ra nestd ir --key "$work/ee3.key" --subject /O=Example/CN=bc-nested-direct --confirm-direct
	check "nested ir, direct certConf: nested response with an accepted ip" test \
	    "$(f nestd 1 body) $(f nestd 1 sig) $(f nestd 2 body) $(f nestd 2 nested) $(f nestd 2 'status[0]') $(f nestd 2 mac)" = \
	    "nested ok ip 1 0 ok"
	check "nested ir, direct certConf: pkiConf straight from the CA (not nested)" test \
	    "$(f nestd 3 body) $(f nestd 3 nested) $(f nestd 3 mac) $(f nestd 3 txid)" = "pkiconf  ok $(f nestd 2 txid)"
	check "nested ir, direct certConf: valid in the database" \
	    test "$(db_status "$work/nestd/cert-0.pem" 2>/dev/null)" = valid
	check "nested ir, direct certConf: certificate carries its key" \
	    same_pubkey "$work/nestd/cert-0.pem" "$work/ee3.key"

	# 15c. A nested cr left unconfirmed; the certConf follows later in its
	#      own nested message (certconf --nested-ra-cert).
	nested_ra nestcr cr --key "$work/ee4.key" --subject /O=Example/CN=bc-nested-later --confirm none
	c=$work/nestcr/cert-0.pem
	if ran nestcr && is nestcr 2 body cp && is nestcr 2 'status[0]' 0; then
		pass "nested cr without certConf: cp accepted"
		check "nestcr: unconfirmed until the certConf" test "$(db_status "$c")" = unconfirmed
		nested_ra nestconf certconf --txid "$(f nestcr 2 txid)" \
		    --recip-nonce "$(f nestcr 2 snonce)" --cert "$c" --cert-req-id 0
		check "nestcr: nested certConf answered by a nested pkiConf" test \
		    "$(f nestconf 1 body) $(f nestconf 1 sig) $(f nestconf 2 body) $(f nestconf 2 nested) $(f nestconf 2 mac) $(f nestconf 2 txid_ok)" = \
		    "nested ok pkiconf 1 ok 1"
		check "nestcr: valid after the certConf" test "$(db_status "$c")" = valid
	else
		fail "nested cr without certConf" "$(why nestcr)"
	fi

	# 15d. p10cr nested: certReqId -1.
	nested_ra nestp10 p10cr --key "$work/ee5.key" --subject /O=Example/CN=bc-nested-p10
	check "nested p10cr: cp accepted for -1, nested pkiConf, valid" test \
	    "$(f nestp10 2 body) $(f nestp10 2 'status[-1]') $(f nestp10 4 body) $(f nestp10 4 nested) $(db_status "$work/nestp10/cert-p10.pem")" = \
	    "cp 0 pkiconf 1 valid"

	# 15e. The same kind of nested message signed by a valid certificate
	#      that is not a registered RA: notAuthorized, nothing stored.
	before=$(counts)
	bc nora nested --nested-ra-cert "$nora" --nested-ra-key "$work/nora.key" \
	    --inner ir --key "$work/ee6.key" --subject /O=Example/CN=bc-nested-nora-1 \
	    --inner ir --key "$work/ee7.key" --subject /O=Example/CN=bc-nested-nora-2
	check "nested from a certificate that is no RA: client exchange completed" ran nora
	check "nested from no RA: error notAuthorized" \
	    test "$(f nora 1 body) $(f nora 1 failinfo)" = "error notAuthorized"
	check "nested from no RA: the error is signed by the CA" is nora 1 sig ok
	check "nested from no RA: no inner answers" test "$(lines nora)" = 1
	check "nested from no RA: nothing stored" test "$(counts)" = "$before"
	check "nested from no RA: no certificate written" \
	    test -z "$(ls "$work/nora" | grep cert-)"

	# 15f. An inner message with a wrong MAC next to a good one: the inner
	#      answer is error badMessageCheck, the outer one still a signed
	#      nested response; the good one is issued and confirmed.
	export BC_WRONG_SECRET=not-the-secret
	before=$(q "select count(*) from cert")
	nested_ra nestbad nested \
	    --inner ir --key "$work/ee8.key" --subject /O=Example/CN=bc-nested-good \
	    --inner ir --secret-env BC_WRONG_SECRET --key "$work/ee9.key" \
	    --subject /O=Example/CN=bc-nested-badmac
	if ran nestbad && is nestbad 1 body nested; then
		pass "nested with one wrong inner MAC: nested response"
		check "nestbad: outer response signed by the CA, two inner answers" \
		    test "$(f nestbad 1 sig) $(f nestbad 1 inner)" = "ok 2"
		check "nestbad: good inner ir accepted" test \
		    "$(f nestbad 2 body) $(f nestbad 2 nested) $(f nestbad 2 'status[0]') $(f nestbad 2 mac)" = "ip 1 0 ok"
		check "nestbad: wrong-MAC inner answered by error badMessageCheck" test \
		    "$(f nestbad 3 body) $(f nestbad 3 nested) $(f nestbad 3 failinfo) $(f nestbad 3 txid_ok)" = \
		    "error 1 badMessageCheck 1"
		check "nestbad: only the good one confirmed (nested, one pkiConf)" test \
		    "$(f nestbad 4 body) $(f nestbad 4 inner) $(f nestbad 5 body) $(f nestbad 5 txid) $(lines nestbad)" = \
		    "nested 1 pkiconf $(f nestbad 2 txid) 5"
		check "nestbad: good certificate valid, carries its key" test \
		    "$(db_status "$work/nestbad/0-cert-0.pem") $(same_pubkey "$work/nestbad/0-cert-0.pem" "$work/ee8.key" && echo key)" = "valid key"
		check "nestbad: nothing issued for the wrong-MAC one" test \
		    "$(q "select count(*) from cert where subject like '%bc-nested-badmac%'") $(ls "$work/nestbad" | grep -c '^1-cert-')" = "0 0"
		check "nestbad: no transaction recorded for the wrong-MAC one" \
		    test "$(q "select count(*) from cmp_txn where id = $(txid_at nestbad 3)")" = 0
		check "nestbad: one certificate more" \
		    test "$(q "select count(*) from cert")" = $((before + 1))
	else
		fail "nested with one wrong inner MAC" "$(why nestbad)"
	fi
else
	fail "RA certificate issued and registered" "$(why racert) $(cat "$work/ra-add.out" 2>/dev/null)"
fi

# The client got the secret from the environment and never prints it.
check "no secret in the client's output" bash -c "! grep -qF -- '$CMPCA_SECRET' $work/*.out $work/*.err"
check "no approval secret in the client's output" bash -c \
    "! grep -qF -- '${BC_APPROVAL_SECRET:-unset}' $work/*.out $work/*.err"
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

e2e_done
