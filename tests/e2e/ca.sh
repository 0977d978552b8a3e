#!/bin/bash
# End-to-end tests of CA identities on the real stack (PostgreSQL, SoftHSM
# through libp11, nginx, cmpcad): local subordinates, subordinates of an
# external CA (csr / import-cert, the external CA simulated with
# `openssl x509 -req` and a throwaway root), RSA and EC keys, retirement,
# and root key rollover checked by the Bouncy Castle client through genm
# rootCaKeyUpdate. Validation is by `openssl verify` and Bouncy Castle,
# never by our own code. Port: CMPCA_CA_TEST_PORT, else the first free one
# from 18670 to 18679.
#
# usage: tests/e2e/ca.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup ca 18670 --port-var CMPCA_CA_TEST_PORT --scan-to 18679 --keep -- "$@"
e2e_build_bc_client
# An external trust anchor that bears the name of our root1 with a key
# that is not ours, and a device certificate under it.
imp=$work/impostor
mkdir -p "$imp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$imp/ca.key" \
    -out "$imp/ca.pem" -subj "/O=t/CN=Root One" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$imp/dev.key" \
    -subj "/CN=impostor-dev" -out "$imp/dev.csr" 2>/dev/null
printf 'keyUsage=critical,digitalSignature\n' >"$imp/dev.ext"
openssl x509 -req -in "$imp/dev.csr" -CA "$imp/ca.pem" -CAkey "$imp/ca.key" -CAcreateserial \
    -days 10 -extfile "$imp/dev.ext" -out "$imp/dev.pem" 2>/dev/null
export CMPCA_TRUST_ANCHORS=$imp/ca.pem
e2e_stack_up
base=http://127.0.0.1:$CMPCA_PORT/.well-known/cmp
has() { grep -qE -- "$2" "$1"; }
bc() { "$top/tests/bc/cmpclient" "$@"; }
ca_id() { q "select id from ca where label = '$1'"; }
ncerts() { grep -c 'BEGIN CERTIFICATE' "$1" 2>/dev/null; }
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }
# nth FILE N OUT: the N-th (1-based) certificate of a PEM bundle.
nth() {
	awk -v n="$2" '/BEGIN CERT/ { i++ } i == n { print } /END CERT/ && i == n { exit }' "$1" >"$3"
}
# enroll LABEL NAME SUBJECT: ir at /p/LABEL with a secret bound to LABEL;
# leaves $work/NAME.{key,pem,extra.pem,capubs.pem,out}.
enroll() {
	local label=$1 name=$2 subj=$3 secret
	secret=$(cli secret add "s-$name" --ca "$label" 2>/dev/null)
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$name.key" 2>/dev/null
	SECRET=$secret openssl cmp -cmd ir -server "$base/p/$label" \
	    -ref "s-$name" -secret env:SECRET -recipient "$(cli ca export "$label" |
	    openssl x509 -noout -subject -nameopt compat | sed 's/^subject=//')" \
	    -newkey "$work/$name.key" -subject "$subj" \
	    -certout "$work/$name.pem" -extracertsout "$work/$name.extra.pem" \
	    -cacertsout "$work/$name.capubs.pem" >"$work/$name.out" 2>&1
}
# bcgenm LABEL OUTFILE [options]: BC genm at /p/LABEL, MAC-protected with
# a secret bound to LABEL (made on first use).
bcgenm() {
	local label=$1 out=$2 v
	shift 2
	v=GENM_$(echo "$label" | tr -c 'a-zA-Z0-9\n' _)
	if [ -z "${!v:-}" ]; then
		printf -v "$v" '%s' "$(cli secret add "g-$label" --ca "$label" --uses -1 2>/dev/null)"
		export "${v?}"
	fi
	bc genm --url "$base/p/$label" --ref "g-$label" --secret-env "$v" "$@" >"$out" 2>&1
}
# has_cert BUNDLE CERT: CERT is one of the certificates of BUNDLE.
has_cert() {
	local i want
	want=$(fpr "$2")
	for i in 1 2 3 4 5; do
		[ "$(nth "$1" $i /dev/stdout | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2)" = "$want" ] && return 0
	done
	return 1
}
# The stores of the running workers read a changed CA row within
# CA_CACHE_CHECK (5 s).
store_refresh() { sleep 6; }
# sigreq NAME LABEL CERT KEY EXTRA TRUSTED CMD [openssl cmp options]: CMD at
# /p/LABEL signed with CERT (EXTRA, may be "", appended to extraCerts);
# leaves the answer in $work/NAME.rsp and cmpdump's line in $work/NAME.line.
sigreq() {
	local name=$1 label=$2 cert=$3 key=$4 extra=$5 trusted=$6 cmd=$7 recip
	shift 7
	recip=$(cli ca export "$label" | openssl x509 -noout -subject -nameopt compat | sed 's/^subject=//')
	rm -f "$work/$name.rsp" "$work/$name.line"
	openssl cmp -cmd "$cmd" -server "$base/p/$label" -recipient "$recip" \
	    -cert "$cert" -key "$key" ${extra:+-extracerts "$extra"} -trusted "$trusted" \
	    -unprotected_errors -rspout "$work/$name.rsp" -certout "$work/$name.pem" \
	    "$@" >"$work/$name.out" 2>&1
	dump "$work/$name.rsp" >"$work/$name.line" 2>&1
}
ncerts_of() { q "select count(*) from cert where subject = '$1'"; }

# 1. A local subordinate (P-384) of a root (P-256), and an end entity
#    enrolled at the subordinate's endpoint.
check "ca create root" cli ca create root1 --subject "/O=t/CN=Root One"
check "ca create --issuer root1 (P-384 subordinate)" \
    cli ca create sub1 --subject "/O=t/CN=Sub One" --issuer root1 --key ec:P-384 --days 400
cli ca export root1 >"$work/root1.pem"
cli ca export sub1 >"$work/sub1.chain.pem"
nth "$work/sub1.chain.pem" 1 "$work/sub1.pem"
check "ca export of a subordinate: its certificate, then the root" \
    test "$(ncerts "$work/sub1.chain.pem")" = 2 -a \
    "$(nth "$work/sub1.chain.pem" 2 /dev/stdout | openssl x509 -noout -fingerprint -sha256)" = \
    "$(openssl x509 -in "$work/root1.pem" -noout -fingerprint -sha256)"
openssl x509 -in "$work/sub1.pem" -noout -text >"$work/sub1.txt"
check "subordinate: cA TRUE, pathLen 0, critical" has "$work/sub1.txt" "CA:TRUE, pathlen:0"
check "subordinate: keyCertSign, cRLSign" has "$work/sub1.txt" "Certificate Sign, CRL Sign"
root_ski=$(openssl x509 -in "$work/root1.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
check "subordinate: AKI is the root's SKI" \
    test "$(openssl x509 -in "$work/sub1.pem" -noout -ext authorityKeyIdentifier | grep -v Authority | tr -d ' ' | head -1)" = "$root_ski"
check "subordinate: P-384 key" has "$work/sub1.txt" "NIST CURVE: P-384"
check "subordinate verifies to the root" openssl verify -CAfile "$work/root1.pem" "$work/sub1.pem"
check "subordinate in the root's inventory, kind ca" \
    test "$(q "select kind || ':' || status from cert where ca_id = $(ca_id root1) and serial = '$(serial_of "$work/sub1.pem")'")" = "ca:valid"
check "issue-ca audited" test "$(q "select count(*) from audit where event = 'issue-ca' and ca_id = $(ca_id root1)")" = 1
enroll sub1 ee1 "/CN=ee1.example"
check "ir at /p/sub1" test -s "$work/ee1.pem"
check "EE verifies: openssl verify -CAfile root -untrusted sub" \
    openssl verify -CAfile "$work/root1.pem" -untrusted "$work/sub1.pem" "$work/ee1.pem"
check "ip extraCerts carry the subordinate" has_cert "$work/ee1.extra.pem" "$work/sub1.pem"
check "ip extraCerts carry the root" has_cert "$work/ee1.extra.pem" "$work/root1.pem"
check "ip caPubs is the root" test "$(fpr "$work/ee1.capubs.pem")" = "$(fpr "$work/root1.pem")" -a "$(ncerts "$work/ee1.capubs.pem")" = 1
mkdir -p "$work/g1"
bcgenm sub1 "$work/g1.out" --infotype caCerts --out-dir "$work/g1"
check "genm caCerts of the subordinate: its chain (2 certificates)" test "$(ncerts "$work/g1/cacerts.pem")" = 2

# pathLen: sub1 (pathLen 0) may not certify a CA; sub2 (pathLen 1) may.
cli ca create subsub0 --subject "/CN=Sub Sub" --issuer sub1 >"$work/ss0.out" 2>&1
check "--issuer with pathLen 0 refused" has "$work/ss0.out" "pathLenConstraint is 0"
check "ca create --issuer root1 --pathlen 1 (RSA)" \
    cli ca create sub2 --subject "/O=t/CN=Sub Two" --issuer root1 --pathlen 1 --key rsa:2048 --days 100
check "ca create --issuer sub2 (three levels)" cli ca create subsub --subject "/O=t/CN=Sub Sub" --issuer sub2
cli ca export sub2 | nth /dev/stdin 1 "$work/sub2.pem"
cli ca export subsub >"$work/subsub.chain.pem"
nth "$work/subsub.chain.pem" 1 "$work/subsub.pem"
check "three-level chain exported and verifies" \
    test "$(ncerts "$work/subsub.chain.pem")" = 3 -a -n "$(openssl verify -CAfile "$work/root1.pem" -untrusted "$work/sub2.pem" "$work/subsub.pem" 2>/dev/null | grep ': OK')"
check "subordinate validity inside the parent's" \
    test "$(date -d "$(openssl x509 -in "$work/subsub.pem" -noout -enddate | cut -d= -f2)" +%s)" -le \
    "$(date -d "$(openssl x509 -in "$work/sub2.pem" -noout -enddate | cut -d= -f2)" +%s)"
cli ca create x1 --subject "/CN=x" --issuer sub2 --pathlen 1 >"$work/pl.out" 2>&1
check "--pathlen beyond the issuer's refused" has "$work/pl.out" "exceeds what the issuer allows"

# 2. A subordinate of an external CA: csr, the external CA signs, import.
ext=$work/ext
mkdir -p "$ext"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ext/root.key" -subj "/O=Elsewhere/CN=External Root" \
    -days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$ext/root.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ext/other.key" \
    -subj "/O=Elsewhere/CN=External Root" -days 30 -addext basicConstraints=critical,CA:TRUE \
    -out "$ext/other.pem" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext/ca.ext"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$ext/ee.ext"
# sign CSR OUT EXTFILE [extra openssl x509 options]: the external CA.
sign() {
	local csr=$1 out=$2 extf=$3
	shift 3
	openssl x509 -req -in "$csr" -CA "$ext/root.pem" -CAkey "$ext/root.key" \
	    -CAcreateserial -days 20 -extfile "$extf" -out "$out" "$@" 2>/dev/null
}
pending() { test "$(q "select status || ':' || (cert is null) from ca where label = '$1'")" = "pending:true"; }
# refused NAME FILE PATTERN: import-cert exited non-zero with PATTERN and
# the row stayed pending.
refused() {
	if [ "${rc:-0}" != 0 ] && has "$2" "$3" && pending ext1; then pass "$1"; else
		fail "$1" "rc=$rc $(tr '\n' ' ' <"$2")"; fi
}
cli ca csr ext1 --subject "/O=t/CN=External Sub" --key rsa:2048 >"$ext/ext1.csr" 2>"$ext/csr.err"
check "ca csr: a PKCS#10 signed in the HSM" openssl req -in "$ext/ext1.csr" -verify -noout
check "ca csr: the row is pending without a certificate" pending ext1
check "ca csr: the request asks for a CA certificate" has <(openssl req -in "$ext/ext1.csr" -noout -text) "CA:TRUE"
# Refusals, each leaving the row pending.
openssl req -new -newkey rsa:2048 -nodes -keyout "$ext/wrong.key" -subj "/O=t/CN=External Sub" -out "$ext/wrong.csr" 2>/dev/null
sign "$ext/wrong.csr" "$ext/wrong.pem" "$ext/ca.ext"
cli ca import-cert ext1 --cert "$ext/wrong.pem" --chain "$ext/root.pem" >"$ext/r1.out" 2>&1; rc=$?
refused "import-cert: another key refused" "$ext/r1.out" "public key is not the key of ca ext1"
sign "$ext/ext1.csr" "$ext/ee.pem" "$ext/ee.ext"
cli ca import-cert ext1 --cert "$ext/ee.pem" --chain "$ext/root.pem" >"$ext/r2.out" 2>&1; rc=$?
refused "import-cert: not a CA certificate refused" "$ext/r2.out" "not a CA certificate"
sign "$ext/ext1.csr" "$ext/subj.pem" "$ext/ca.ext" -subj "/O=t/CN=Somebody Else"
cli ca import-cert ext1 --cert "$ext/subj.pem" --chain "$ext/root.pem" >"$ext/r3.out" 2>&1; rc=$?
refused "import-cert: another subject refused" "$ext/r3.out" "is not the requested"
sign "$ext/ext1.csr" "$ext/good.pem" "$ext/ca.ext"
cli ca import-cert ext1 --cert "$ext/good.pem" --chain "$ext/other.pem" >"$ext/r4.out" 2>&1; rc=$?
refused "import-cert: a chain to another root refused" "$ext/r4.out" "does not verify up to a root"
cli ca import-cert ext1 --cert "$ext/good.pem" >"$ext/r5.out" 2>&1; rc=$?
refused "import-cert: no root refused" "$ext/r5.out" "no self-signed root"
check "import-cert: the certificate and chain accepted" \
    cli ca import-cert ext1 --cert "$ext/good.pem" --chain "$ext/root.pem"
check "ext1 active, chain stored" test "$(q "select status || ':' || (chain is not null) || ':' || (csr is null) from ca where label = 'ext1'")" = "active:true:true"
cli ca import-cert ext1 --cert "$ext/good.pem" --chain "$ext/root.pem" >"$ext/r6.out" 2>&1
check "import-cert on an active CA refused" has "$ext/r6.out" "not pending"
enroll ext1 ee2 "/CN=ee2.example"
check "EE under the external subordinate verifies to the external root" \
    openssl verify -CAfile "$ext/root.pem" -untrusted "$ext/good.pem" "$work/ee2.pem"
check "ip caPubs is the external root" test "$(fpr "$work/ee2.capubs.pem")" = "$(fpr "$ext/root.pem")"

# A certificate under an anchor that bears our root's name with another
# key authenticates nothing (issuers are ours by key, not by name).
sigreq imp root1 "$imp/dev.pem" "$imp/dev.key" "" "$work/root1.pem" cr \
    -newkey "$imp/dev.key" -subject /CN=impostor-dev -issuer "/O=t/CN=Root One"
check "our CA's name with a key not ours: cr refused, signerNotTrusted" \
    has "$work/imp.line" "body=error.*failinfo=signerNotTrusted"
check "our CA's name with a key not ours: nothing issued" test "$(ncerts_of CN=impostor-dev)" = 0

# 3. Retire: the endpoint answers with a clear error; CRLs still work; a
#    certificate the retired CA issued authenticates nothing anywhere,
#    within CA_CACHE_CHECK (5 s) in every worker.
enroll sub2 ee3 "/CN=ee3.example"
check "sub2 issues before retirement" test -s "$work/ee3.pem"
# Every worker builds its trust store with sub2 active.
for i in 1 2 3 4 5 6; do
	sigreq warm$i root1 "$work/ee3.pem" "$work/ee3.key" "$work/sub2.pem" "$work/root1.pem" genm \
	    -infotype signKeyPairTypes
done
check "before retirement: genm signed by sub2's certificate answered" has "$work/warm6.line" "body=genp"
check "ca retire sub2" cli ca retire sub2
check "sub2 retired" test "$(q "select status from ca where label = 'sub2'")" = retired
store_refresh
for i in 1 2 3 4; do
	sigreq ret-cr$i root1 "$work/ee3.pem" "$work/ee3.key" "$work/sub2.pem" "$work/root1.pem" cr \
	    -newkey "$work/ee3.key" -subject /CN=ee3.example -issuer "/O=t/CN=Root One"
done
check "after retirement: cr at root1 signed by sub2's certificate refused, signerNotTrusted (every worker)" \
    test "$(cat "$work"/ret-cr[1-4].line | grep -c "body=error.*failinfo=signerNotTrusted")" = 4
check "after retirement: the refusal names the retired CA" has "$work/ret-cr1.line" "retired CA"
check "after retirement: nothing issued for ee3" test "$(ncerts_of CN=ee3.example)" = 1
bcgenm sub2 "$work/ret.out" --infotype caCerts
check "retired CA's endpoint: error, wrongAuthority, says retired" \
    has "$work/ret.out" "body=error.*wrongAuthority.*retired"
enroll sub2 ee4 "/CN=ee4.example"
check "retired CA issues nothing (openssl cmp ir fails)" test ! -s "$work/ee4.pem"
cli ca retire sub2 >"$work/ret2.out" 2>&1
check "retiring twice refused" has "$work/ret2.out" "not active"
check "CRL of the retired CA" cli crl issue --ca sub2

# 4. Root key rollover (RFC 9810 §4.4), checked by Bouncy Castle.
check "ca create rr (root, RSA)" cli ca create rr --subject "/O=t/CN=Rolling Root" --key rsa:2048
cli ca export rr >"$work/rr-old.pem"
enroll rr old-ee "/CN=old-ee.example"
enroll rr old-ok "/CN=old-ok.example"
# Revoked under the old key before the rollover (--ca rr: still its key).
enroll rr pre-rev "/CN=pre-rev.example"
check "revoke a certificate before the rollover" \
    cli cert revoke "$(serial_of "$work/pre-rev.pem")" --ca rr --reason 1
check "crl issue --ca rr before the rollover" cli crl issue --ca rr
check "ocsp signer --ca rr (before the rollover)" cli ocsp signer --ca rr
# ocspq NAME ISSUER CERT: asks /ocsp three times (every worker caches the
# CA list), verifying with ISSUER as the only trust anchor; each answer in
# $work/NAME.ocspN.
ocspq() {
	local i
	for i in 1 2 3; do
		openssl ocsp -url "$CMPCA_OCSP_URL" -issuer "$2" -cert "$3" -CAfile "$2" \
		    >"$work/$1.ocsp$i" 2>&1
	done
}
# ocsp_says NAME STATUS: every answer verified and says STATUS.
ocsp_says() {
	local i
	for i in 1 2 3; do
		grep -q "^Response verify OK" "$work/$1.ocsp$i" &&
		    grep -q ": $2\$" "$work/$1.ocsp$i" || return 1
	done
}
ocspq pre-old-ok "$work/rr-old.pem" "$work/old-ok.pem"
check "OCSP before the rollover: old-ok good" ocsp_says pre-old-ok good
check "EE under the old key" openssl verify -CAfile "$work/rr-old.pem" "$work/old-ee.pem"
mkdir -p "$work/g0"
bcgenm rr "$work/g0.out" --infotype rootCaCert --old-root "$work/rr-old.pem" --out-dir "$work/g0"
check "genm rootCaCert before a rollover: rootCaKeyUpdate without value" \
    has "$work/g0.out" "itav\[0\]=1.3.6.1.5.5.7.4.18:absent"
check "ca rollover rr" cli ca rollover rr --key ec:P-256 --days 3650
check "old key kept as rr.old1 (retired, key_of rr)" \
    test "$(q "select status || ':' || key_of from ca where label = 'rr.old1'")" = "retired:$(ca_id rr)"
check "the pair stored in ca_cert" \
    test "$(q "select string_agg(kind, ',' order by kind) from ca_cert where ca_id = $(ca_id rr)")" = "new-with-old,old-with-new"
check "old-key certificates moved to rr.old1" \
    test "$(q "select count(*) from cert where ca_id = $(ca_id rr.old1) and serial = '$(serial_of "$work/old-ee.pem")'")" = 1
store_refresh
mkdir -p "$work/g2"
bcgenm rr "$work/g2.out" --infotype rootCaCert --old-root "$work/rr-old.pem" --out-dir "$work/g2"
check "BC: rootCaKeyUpdate verified against the old root" has "$work/g2.out" "rootCaKeyUpdate=verified"
check "new root differs from the old one" test -s "$work/g2/newwithnew.pem" -a \
    "$(fpr "$work/g2/newwithnew.pem")" != "$(fpr "$work/rr-old.pem")"
check "openssl: newWithOld verifies with the old root" \
    openssl verify -partial_chain -CAfile "$work/rr-old.pem" "$work/g2/newwithold.pem"
bcgenm rr "$work/g3.out" --infotype rootCaCert --old-root "$work/root1.pem"
check "genm rootCaCert with another root: no value" has "$work/g3.out" "itav\[0\]=1.3.6.1.5.5.7.4.18:absent"
enroll rr new-ee "/CN=new-ee.example"
check "EE after rollover verifies to the new root (from genm)" \
    openssl verify -CAfile "$work/g2/newwithnew.pem" "$work/new-ee.pem"
check "EE after rollover does not verify to the old root alone" \
    test -z "$(openssl verify -CAfile "$work/rr-old.pem" "$work/new-ee.pem" 2>/dev/null | grep ': OK')"
check "EE after rollover: old root + newWithOld path" \
    openssl verify -CAfile "$work/rr-old.pem" -untrusted "$work/g2/newwithold.pem" "$work/new-ee.pem"
# Old-key certificates renew (kur) and revoke themselves (rr) after a
# rollover (issue 22, tests/e2e/scope.sh); nothing else: a cr is refused,
# also with the published oldWithNew link in extraCerts (it chains them to
# the new root).
q "select encode(der, 'hex') from ca_cert where ca_id = $(ca_id rr) and kind = 'old-with-new'" |
    xxd -r -p | openssl x509 -inform DER -out "$work/oldwithnew.pem"
check "oldWithNew: the old key, signed by the new one" \
    openssl verify -CAfile "$work/g2/newwithnew.pem" "$work/oldwithnew.pem"
check "old-key certificate chains to the new root through oldWithNew" \
    openssl verify -CAfile "$work/g2/newwithnew.pem" -untrusted "$work/oldwithnew.pem" "$work/old-ee.pem"
sigreq old-cr rr "$work/old-ee.pem" "$work/old-ee.key" "$work/oldwithnew.pem" "$work/g2/newwithnew.pem" cr \
    -newkey "$work/old-ee.key" -subject /CN=old-ee.example
check "valid old-key certificate + oldWithNew: cr refused, notAuthorized (kur and rr only)" \
    has "$work/old-cr.line" "body=error.*failinfo=notAuthorized"
# Old-key certificates stay revocable: revoke, CRL signed by the old key.
check "revoke an old-key certificate (cert revoke --ca rr.old1)" \
    cli cert revoke "$(serial_of "$work/old-ee.pem")" --ca rr.old1 --reason 1
sigreq rev-cr rr "$work/old-ee.pem" "$work/old-ee.key" "$work/oldwithnew.pem" "$work/g2/newwithnew.pem" cr \
    -newkey "$work/old-ee.key" -subject /CN=old-ee.example
check "revoked old-key certificate + oldWithNew: cr refused, certRevoked" \
    has "$work/rev-cr.line" "body=error.*failinfo=certRevoked"
check "revoked old-key certificate: no new certificate for its subject" \
    test "$(ncerts_of CN=old-ee.example)" = 1
check "crl issue --ca rr.old1" cli crl issue --ca rr.old1
q "select encode(der, 'hex') from crl where ca_id = $(ca_id rr.old1) order by number desc limit 1" |
    xxd -r -p >"$work/old.crl"
check "the old key's CRL verifies with the old root" \
    openssl crl -inform DER -in "$work/old.crl" -CAfile "$work/rr-old.pem" -noout
check "the old key's CRL lists the revoked certificate" \
    has <(openssl crl -inform DER -in "$work/old.crl" -noout -text | tr 'A-F' 'a-f') \
    "Serial Number: 0*$(serial_of "$work/old-ee.pem")"
check "openssl verify -crl_check: the old-key certificate is revoked" \
    has <(openssl verify -crl_check -CAfile "$work/rr-old.pem" -CRLfile <(openssl crl -inform DER -in "$work/old.crl") "$work/old-ee.pem" 2>&1) "certificate revoked"
# OCSP after the rollover, in workers that cached the old certificate:
# old-key certificates answered by the old key, new-key ones by a new
# signer, each verified with its own root alone.
check "ocsp signer --ca rr (for the new key)" cli ocsp signer --ca rr
enroll rr new-rev "/CN=new-rev.example"
check "revoke a new-key certificate" cli cert revoke "$(serial_of "$work/new-rev.pem")" --ca rr --reason 1
sleep 6 # CA_OCSP_REFRESH
ocspq old-ok "$work/rr-old.pem" "$work/old-ok.pem"
check "OCSP after the rollover: old-key certificate good, verified with the old root" ocsp_says old-ok good
ocspq old-ee "$work/rr-old.pem" "$work/old-ee.pem"
check "OCSP after the rollover: revoked old-key certificate revoked" ocsp_says old-ee revoked
ocspq new-ee "$work/g2/newwithnew.pem" "$work/new-ee.pem"
check "OCSP after the rollover: new-key certificate good, verified with the new root" ocsp_says new-ee good
ocspq new-rev "$work/g2/newwithnew.pem" "$work/new-rev.pem"
check "OCSP after the rollover: revoked new-key certificate revoked" ocsp_says new-rev revoked
# CRLs after the rollover: one number sequence per issuer name, the old
# key's CRL kept current by the housekeeper, each CRL from crl_dir checked
# by openssl verify -crl_check against its own root.
crlno() { q "select coalesce(max(number), 0) from crl where ca_id = $(ca_id "$1")"; }
check "crl issue --ca rr (new key) after the revocation" cli crl issue --ca rr
check "CRL numbers continue across the keys of one issuer name" \
    test "$(crlno rr)" -gt "$(crlno rr.old1)"
check "no CRL number twice under the issuer name" \
    test "$(q "select count(*) - count(distinct number) from crl where ca_id in ($(ca_id rr), $(ca_id rr.old1))")" = 0
before=$(crlno rr.old1)
q "update crl set next_update = now() + interval '1 minute' where ca_id = $(ca_id rr.old1)" >/dev/null
renewed() {
	for _ in $(seq 60); do
		[ "$(crlno rr.old1)" -gt "$before" ] &&
		    [ "$(crlno rr.old1)" -gt "$(crlno rr)" ] && return 0
		sleep 0.5
	done
	return 1
}
check "the housekeeper renews the old key's CRL (next number of the issuer name)" renewed
# Each certificate's crlDistributionPoints names a URL that keeps the CRL
# of the key that signed it: the old key's at the URL the old-key
# certificates carry (rr.crl, unchanged), the new key's at a URL of its
# own. A relying party finds it with -crl_download alone.
cdp() { openssl x509 -in "$1" -noout -ext crlDistributionPoints 2>/dev/null | sed -n 's/^ *URI://p'; }
check "old-key certificates name /crl/rr.crl (the first key's URL, unchanged)" \
    test "$(cdp "$work/old-ok.pem")" = "http://127.0.0.1:$CMPCA_PORT/crl/rr.crl"
check "new-key certificates name a CRL URL of their own (the new key's object, rr-kYYYYMMDDHHMMSS)" \
    has <(cdp "$work/new-ee.pem") "^http://127.0.0.1:$CMPCA_PORT/crl/rr-k[0-9]{14}\.crl\$"
crlat() { # LABEL CERT: waits up to 20 s for CERT's CDP to serve LABEL's newest CRL
	for _ in $(seq 40); do
		cmp -s <(curl -sf "$(cdp "$2")") \
		    <(q "select encode(der, 'hex') from crl where ca_id = $(ca_id "$1") order by number desc limit 1" | xxd -r -p) &&
		    return 0
		sleep 0.5
	done
	return 1
}
check "the old key's newest CRL is at the old-key certificates' URL" crlat rr.old1 "$work/old-ok.pem"
check "the new key's newest CRL is at the new-key certificates' URL" crlat rr "$work/new-ee.pem"
vcrl() { openssl verify -crl_check -crl_download -CAfile "$1" "$2" 2>&1; }
check "crl_download: old-key certificate, not revoked: OK" \
    has <(vcrl "$work/rr-old.pem" "$work/old-ok.pem") ": OK$"
check "crl_download: old-key certificate revoked before the rollover: revoked" \
    has <(vcrl "$work/rr-old.pem" "$work/pre-rev.pem") "certificate revoked"
check "crl_download: old-key certificate revoked after the rollover: revoked" \
    has <(vcrl "$work/rr-old.pem" "$work/old-ee.pem") "certificate revoked"
check "crl_download: new-key certificate, not revoked: OK" \
    has <(vcrl "$work/g2/newwithnew.pem" "$work/new-ee.pem") ": OK$"
check "crl_download: new-key certificate, revoked: revoked" \
    has <(vcrl "$work/g2/newwithnew.pem" "$work/new-rev.pem") "certificate revoked"
cli ca rollover sub1 >"$work/ro.out" 2>&1
check "rollover of a subordinate refused" has "$work/ro.out" "is not a root"

# Several hosts: a second cmpcad on the same database and token, with its
# own crl_dir, publishes the newest CRL in the database though it issued
# none of them (the CLI here, or another host that won the lock).
hb=$work/hostb
mkdir -p "$hb/crl"
chmod 755 "$work" "$hb"
chown "$CMPCA_USER" "$hb/crl"
sed -e "s|^socket = .*|socket = $hb/cmpcad.sock|" -e "s|^crl_dir = .*|crl_dir = $hb/crl|" \
    -e "s|^workers = .*|workers = 1|" -e "s|^housekeeping_interval = .*|housekeeping_interval = 1|" \
    "$CMPCA_CONF" >"$hb/cmpca.conf"
env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    "$bin/cmpcad" -c "$hb/cmpca.conf" >"$hb/cmpcad.log" 2>&1 &
hostb=$!
latest_crl() { q "select encode(der, 'hex') from crl where ca_id = $(ca_id demo) order by number desc limit 1" | xxd -r -p; }
published() { # waits up to 10 s for host B's demo.crl to be the newest
	for _ in $(seq 50); do
		cmp -s "$hb/crl/demo.crl" <(latest_crl) && return 0
		sleep 0.2
	done
	return 1
}
check "host B publishes the newest CRL, issued elsewhere" published
check "crl issue --ca demo on host A" cli crl issue --ca demo
check "host B follows with the new CRL" published
check "host B's CRL verifies with the demo CA" \
    openssl crl -inform DER -in "$hb/crl/demo.crl" -CAfile "$CMPCA_CA_CERT" -noout
kill "$hostb"
wait "$hostb" 2>/dev/null

if grep -q "$(cat "$CMPCA_VAR/hsm/pin" 2>/dev/null || echo no-pin-file)" "$CMPCA_LOG" 2>/dev/null; then
	fail "PIN not in the daemon log" "found"
else
	pass "PIN not in the daemon log"
fi
e2e_done
