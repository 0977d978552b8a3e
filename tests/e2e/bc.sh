#!/bin/bash
# End-to-end tests with a second, independent CMP client: Bouncy Castle's
# CMP/CRMF API (tests/bc/CmpClient.java, Debian's BC 1.72), against the real
# stack (PostgreSQL, SoftHSM through libp11, nginx, cmpcad). A fresh stack in
# a temporary directory, on a port away from `make run` (8080) and from
# tests/e2e/run.sh (18480): CMPCA_BC_TEST_PORT, else the first free port
# from 18490.
#
# usage: tests/e2e/bc.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/rel
[ "${1:-}" = "--bin" ] && bin=$2
case $bin in /*) ;; *) bin=$top/$bin ;; esac
export CMPCA_BIN=$bin
export CMPCA_VAR=$(mktemp -d /tmp/cmpca-bc.XXXXXX)
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -n "${CMPCA_BC_TEST_PORT:-}" ]; then
	CMPCA_PORT=$CMPCA_BC_TEST_PORT
else
	CMPCA_PORT=18490
	while port_busy "$CMPCA_PORT" && [ "$CMPCA_PORT" -lt 18510 ]; do
		CMPCA_PORT=$((CMPCA_PORT + 1))
	done
fi
export CMPCA_PORT
chmod 755 "$CMPCA_VAR"
work=$CMPCA_VAR/work
mkdir -p "$work"
npass=0
nfail=0

cleanup() {
	"$top/scripts/stack" down >/dev/null 2>&1
	if [ "$nfail" -gt 0 ]; then
		echo "--- cmpcad log (last 40 lines) ---"
		tail -n 40 "$CMPCA_VAR/cmpcad.log" 2>/dev/null
		cp "$CMPCA_VAR/cmpcad.log" /tmp/cmpca-bc-last.log 2>/dev/null
	fi
	rm -rf "$CMPCA_VAR"
}
trap cleanup EXIT

pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }
check() { # name, condition command...
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$*"; fi
}

# The client first: without a JDK and Debian's Bouncy Castle jars there is
# nothing to run.
if ! "$top/tests/bc/cmpclient" --build >"$work/javac.out" 2>&1; then
	cat "$work/javac.out"
	echo "cannot compile tests/bc/CmpClient.java (scripts/deps installs the JDK and Bouncy Castle)"
	echo "0 passed, 1 failed"
	exit 1
fi
if ! "$top/scripts/stack" up >"$work/stack.out" 2>&1; then
	cat "$work/stack.out"
	echo "0 passed, 1 failed"
	exit 1
fi
. "$CMPCA_VAR/stack.env"
# The client reads the secret from the environment, never from argv.
export CMPCA_SECRET
q() { psql -XqtA "$CMPCA_DB" -c "$1"; }
dump() { "$bin/cmpdump" "$1"; }

# bc NAME COMMAND [options...]: runs the client with the demo secret, PBM
# and the CA as recipient; output files in $work/NAME/, summary lines in
# $work/NAME.out (one per response), exit status in $work/NAME.rc.
bc() {
	local name=$1 cmd=$2
	shift 2
	"$top/tests/bc/cmpclient" "$cmd" --url "$CMPCA_URL" \
	    --ref "$CMPCA_SECRET_REF" --secret-env CMPCA_SECRET \
	    --ca-cert "$CMPCA_CA_CERT" --out-dir "$work/$name" --save-msgs \
	    "$@" >"$work/$name.out" 2>"$work/$name.err"
	echo $? >"$work/$name.rc"
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
ran() { [ "$(cat "$work/$1.rc")" = 0 ]; }
why() { echo "rc=$(cat "$work/$1.rc") $(head -c 600 "$work/$1.out") $(tail -n 2 "$work/$1.err")"; }

serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2 |
	    tr 'A-F' 'a-f' | sed 's/^0*//'
}
same_pubkey() { # cert key
	[ "$(openssl x509 -in "$1" -noout -pubkey)" = \
	    "$(openssl pkey -in "$2" -pubout)" ]
}
chains() { openssl verify -CAfile "$CMPCA_CA_CERT" "$1"; }
db_status() { q "select status from cert where serial = '$(serial_of "$1")'"; }
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

# The client got the secret from the environment and never prints it.
check "no secret in the client's output" bash -c "! grep -qF -- '$CMPCA_SECRET' $work/*.out $work/*.err"
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

"$top/scripts/stack" down >/dev/null 2>&1
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
