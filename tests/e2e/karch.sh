#!/bin/bash
# Key archival and recovery (issue 26) end to end: the Bouncy Castle
# client (tests/bc/CmpClient.java, --central-keygen) has the CA generate
# keys under a profile with archive_keys; the CA keeps each key in
# key_archive, encrypted in SoftHSM under its archival key; the operator
# recovers one with a second operator's approval.
#   1  before the key ceremony: archiving refused (systemUnavail, naming
#      cmpca ca archival-key), nothing stored; the ceremony; once only
#   2  archived: the row exists with its certificate, is not the clear
#      key, audited; the daemon's database role cannot read the blob;
#      a profile without archive_keys archives nothing
#   3  recovery: request, approval by the asker refused, by another
#      operator accepted; the key comes back as a CMS EnvelopedData to
#      the password (PasswordRecipientInfo), to an RSA certificate
#      (KeyTransRecipientInfo, RSA-OAEP) or an EC one
#      (KeyAgreeRecipientInfo), opened with openssl cms -decrypt; its
#      content a SignedData the CA signed (openssl cms -verify) of an
#      AsymmetricKeyPackage whose key matches the certificate; once only;
#      --format pkcs8 still writes an encrypted PKCS#8
#   4  refused: unknown serial, no approval, another key's request, another
#      CA, an Ed25519 recipient, a blob moved to another row (the AAD
#      binds CA and key)
#   5  certConf rejecting the certificate, and a transaction expiring
#      unconfirmed, destroy the archived key (audited)
#   6  nothing in the logs (checked last)
#   7  krr: under the secret that obtained the certificate, by the
#      holder (a certificate of the same subject), by the RA that obtained
#      it; refused (notAuthorized, one text) for another secret, another
#      holder, an RA out of scope, a key not archived, an unknown serial
#   8  cmpca audit verify passes afterwards (chain, grants, triggers)
#
# usage: tests/e2e/karch.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup karch 18980 --port-var CMPCA_KARCH_TEST_PORT --scan-to 18999 -- "$@"
w=$work
printf '%s\n' "[profile.karch]" "days = 30" "extensions = ext_default" \
    "key_types = rsa, ec:P-256" "central_keygen = ec-p256, rsa-2048" \
    "archive_keys = yes" \
    "[profile.kgaonly]" "days = 30" "extensions = ext_default" \
    "key_types = ec:P-256" "central_keygen = ec-p256" >"$w/extra.cnf"
export CMPCA_CONF_EXTRA=$w/extra.cnf
# Short transactions, frequent sweeps: case 5 waits for an expiry.
export CMPCA_TXN_TIMEOUT=8 CMPCA_HOUSEKEEPING=1
e2e_build_bc_client
e2e_stack_up
export KA_SECRET KO_SECRET
setup_fail() { echo "set-up failed: $*"; echo "$npass passed, $((nfail + 1)) failed"; exit 1; }
KA_SECRET=$(cli secret add ka-1 --profile karch --uses -1 2>/dev/null) ||
	setup_fail "secret add ka-1"
KO_SECRET=$(cli secret add ko-1 --profile kgaonly --uses -1 2>/dev/null) ||
	setup_fail "secret add ko-1"

# kmac NAME COMMAND [options...]: the client, MAC under ka-1; files in
# $w/NAME/, the summary lines in $w/NAME.out.
bcs() {
	local name=$1 cmd=$2
	shift 2
	"$top/tests/bc/cmpclient" "$cmd" --url "$CMPCA_URL" \
	    --ca-cert "$CMPCA_CA_CERT" --out-dir "$w/$name" "$@" \
	    >"$w/$name.out" 2>"$w/$name.err"
	echo $? >"$w/$name.rc"
}
kmac() {
	local name=$1 cmd=$2
	shift 2
	bcs "$name" "$cmd" --ref ka-1 --secret-env KA_SECRET "$@"
}
f() {
	awk -v k="$2" 'NR == 1 {
		for (i = 1; i <= NF; i++) {
			e = index($i, "=")
			if (e > 0 && substr($i, 1, e - 1) == k) { print substr($i, e + 1); exit }
		}
	}' "$w/$1.out"
}
is() { [ "$(f "$1" "$2")" = "$3" ]; }
why() { echo "rc=$(cat "$w/$1.rc") $(head -c 500 "$w/$1.out") $(tail -n 2 "$w/$1.err")"; }
ser() { serial_of "$w/$1/cert-0.pem"; }
arch_rows() { q "select count(*) from key_archive k join cert c on c.id = k.cert_id where c.serial = '$1'"; }
audits() { q "select count(*) from audit where event = '$1' and detail like '$2%'"; }
# The private value in hex (EC priv, RSA privateExponent), last 60 digits.
privhex() {
	openssl pkey -in "$1" -noout -text 2>/dev/null |
	    awk '/^(priv|privateExponent):/ {p = 1; next} /^[a-zA-Z]/ {p = 0} p' |
	    tr -d ' :\n' | tail -c 60
}
# unpack NAME FILE FORM DECRYPT-OPTIONS...: a recovered package opened as
# its recipient would: openssl cms -decrypt (the EnvelopedData) gives the
# SignedData ($w/NAME.sd), wrapped in a ContentInfo for openssl cms
# -verify against the CA certificate, which gives the
# AsymmetricKeyPackage ($w/NAME.akp); its one OneAsymmetricKey is a
# PKCS#8 ($w/NAME.pem). The steps of docs/operations.md ("Recovery by the
# operator"). Each file exists only if its step worked.
unpack() {
	local n=$1 in=$2 form=$3
	shift 3
	openssl cms -decrypt -inform "$form" -in "$in" -binary \
	    -out "$w/$n.sd" "$@" 2>"$w/$n.err" || { rm -f "$w/$n.sd"; return 1; }
	derwrap ci "$w/$n.sd" >"$w/$n.ci" &&
	openssl cms -verify -inform DER -in "$w/$n.ci" -binary -purpose any \
	    -CAfile "$CMPCA_CA_CERT" -out "$w/$n.akp" 2>>"$w/$n.err" ||
	{ rm -f "$w/$n.akp"; return 1; }
	# The package holds one key: the SEQUENCE OF has one element.
	[ "$(openssl asn1parse -inform DER -in "$w/$n.akp" | grep -c 'd=1 ')" = 1 ] ||
	    return 1
	off=$(openssl asn1parse -inform DER -in "$w/$n.akp" | awk -F: 'NR == 2 { print $1 + 0 }')
	openssl asn1parse -inform DER -in "$w/$n.akp" -strparse "$off" -noout \
	    -out "$w/$n.p8" >/dev/null 2>>"$w/$n.err" &&
	openssl pkey -inform DER -in "$w/$n.p8" -out "$w/$n.pem" 2>>"$w/$n.err"
}
# derwrap ci FILE: a ContentInfo (id-signedData) around the SignedData in
# FILE (the step docs/operations.md gives for openssl cms -verify).
derwrap() {
	python3 - "$2" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
def dlen(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b
inner = bytes.fromhex("06092a864886f70d010702") + b"\xa0" + dlen(len(d)) + d
sys.stdout.buffer.write(b"\x30" + dlen(len(inner)) + inner)
EOF
}
# op NAME ARGS...: cmpca as operator NAME (SUDO_USER, cli/cli_key.c).
op() { local who=$1; shift; SUDO_USER=$who cli "$@"; }
# The CLI runs as the stack's user: its password file and output folder.
o=$w/out
mkdir -m 700 "$o" && chown "$CMPCA_USER" "$o"
pwf=$o/recovery.pw
(umask 077; echo 'correct horse battery staple' >"$pwf")
chown "$CMPCA_USER" "$pwf"

# --- 1. Before and at the key ceremony ------------------------------------
n0=$(q "select count(*) from cert")
kmac early ir --subject /CN=karch-early --central-keygen ec:P-256
check "1: archiving profile, no archival key yet: systemUnavail" \
    is early "failinfo[0]" systemUnavail || why early
check "1: ... the text names the ceremony (cmpca ca archival-key)" \
    grep -q "archival-key" "$w/early.out"
check "1: ... nothing stored, no key returned" bash -c \
    "[ \"\$(psql -XqtA '$CMPCA_DB' -c 'select count(*) from cert')\" = '$n0' ] && ! grep -q ' key\\[' '$w/early.out'"
check "1: cmpca ca archival-key creates the CA's archival key" \
    op alice ca archival-key "$CMPCA_CA_LABEL"
check "1: ... audited (archival-key-create, by the operator)" test \
    "$(q "select count(*) from audit where event = 'archival-key-create' and actor = 'cli:alice'")" = 1
check "1: ... a second one is refused (it exists)" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI ca archival-key '$CMPCA_CA_LABEL' 2>'$w/again.err' && grep -q 'exists already' '$w/again.err'"

# --- 2. Archived ------------------------------------------------------------
kmac ec ir --subject /CN=karch-ec --central-keygen ec:P-256
check "2: MAC ir, EC P-256 generated and archived: accepted" \
    is ec "status[0]" 0 || why ec
S_EC=$(ser ec)
check "2: a key_archive row for the certificate, under the CA's archival key" test \
    "$(q "select count(*) from key_archive k join cert c on c.id = k.cert_id where c.serial = '$S_EC' and k.key_label = 'cmpca-archive-$CMPCA_CA_LABEL' and c.server_keygen")" = 1
K_EC=$(f ec "key[0]")
openssl pkcs8 -topk8 -nocrypt -in "$K_EC" -outform DER -out "$w/ec.p8" 2>/dev/null
p8hex=$(xxd -p "$w/ec.p8" | tr -d '\n')
blob=$(q "select encode(k.wrapped, 'hex') from key_archive k join cert c on c.id = k.cert_id where c.serial = '$S_EC'")
phex=$(privhex "$K_EC")
check "2: the stored value is not the clear key (neither PKCS#8 nor the private value)" bash -c \
    "[ \${#1} -gt 100 ] && [ \${#3} -ge 60 ] && [[ \$1 != *\$2* ]] && [[ \$1 != *\$3* ]]" _ "$blob" "$p8hex" "$phex"
check "2: archival audited (key-archive)" test "$(audits key-archive "$S_EC")" = 1
check "2: the daemon's database role cannot read the archived blob" bash -c \
    "! psql -XqtA '$CMPCA_DB_DAEMON' -c 'select wrapped from key_archive' >/dev/null 2>&1"
check "2: ... but sees which certificates have one" test \
    "$(psql -XqtA "$CMPCA_DB_DAEMON" -c "select count(*) from key_archive" 2>/dev/null)" -ge 1
check "2: the reader role cannot read it either" bash -c \
    "! psql -XqtA '$CMPCA_DB_READER' -c 'select wrapped from key_archive' >/dev/null 2>&1"
kmac rsa ir --subject /CN=karch-rsa --central-keygen rsa
S_RSA=$(ser rsa)
check "2: RSA-2048 generated and archived" test "$(arch_rows "$S_RSA")" = 1 || why rsa
bcs noarch ir --ref ko-1 --secret-env KO_SECRET --subject /CN=karch-noarch \
    --central-keygen ec:P-256
check "2: a profile without archive_keys archives nothing" bash -c \
    "[ \"\$(cat '$w/noarch.rc')\" = 0 ] && [ \"\$(psql -XqtA '$CMPCA_DB' -c \"select count(*) from key_archive k join cert c on c.id = k.cert_id where c.serial = '$(ser noarch)'\")\" = 0 ]"

# --- 3. Recovery by the operator -------------------------------------------
op alice key request "$S_EC" >"$w/req.out" 2>&1
R=$(sed -n 's/^recovery request \([0-9]*\) .*/\1/p' "$w/req.out")
check "3: key request files a pending recovery request" test -n "$R" ||
	cat "$w/req.out"
check "3: ... audited (key-recover-request)" test "$(audits key-recover-request "$S_EC")" = 1
check "3: the asker may not approve it (four eyes)" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key approve '$R' 2>'$w/self.err' && grep -q 'another operator' '$w/self.err'"
check "3: recovery before the approval is refused, naming the rule" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key recover '$S_EC' --request '$R' --password-file '$pwf' --out '$o/early.key' 2>'$w/noappr.err' && grep -q 'not an approved' '$w/noappr.err' && [ ! -e '$o/early.key' ]"
check "3: another operator approves" op bob key approve "$R"
check "3: ... audited (key-recover-approve by cli:bob)" test \
    "$(q "select count(*) from audit where event = 'key-recover-approve' and actor = 'cli:bob' and detail = '$R'")" = 1
check "3: key recover writes the key (to the password, DER)" \
    op alice key recover "$S_EC" --request "$R" --password-file "$pwf" --out "$o/rec.cms"
check "3: ... a CMS EnvelopedData to the password (pwri), mode 0600" bash -c \
    "openssl cms -cmsout -print -inform DER -in '$o/rec.cms' 2>/dev/null | grep -q 'd.pwri:' && [ \"\$(stat -c %a '$o/rec.cms')\" = 600 ]"
check "3: ... no clear key in the file" bash -c \
    "! grep -aq 'PRIVATE KEY' '$o/rec.cms' && [[ \$(xxd -p '$o/rec.cms' | tr -d '\n') != *\$1* ]]" _ "$phex"
unpack u_ec "$o/rec.cms" DER -pwri_password "$(cat "$pwf")"
check "3: ... opens with the password (openssl cms -decrypt)" test -s "$w/u_ec.sd"
check "3: ... its content is a SignedData by the CA: openssl cms -verify against the CA certificate" \
    test -s "$w/u_ec.akp"
check "3: ... the AsymmetricKeyPackage's key matches the certificate's public key" \
    same_pubkey "$w/ec/cert-0.pem" "$w/u_ec.pem"
check "3: ... is the key the client got (same private value)" \
    test "$(privhex "$w/u_ec.pem")" = "$phex"
check "3: ... does not open with another password" bash -c \
    "! openssl cms -decrypt -inform DER -in '$o/rec.cms' -pwri_password 'another long password' -out /dev/null 2>/dev/null"
check "3: recovery audited (key-recover), request done" bash -c \
    "[ \"\$(psql -XqtA '$CMPCA_DB' -c \"select count(*) from audit where event = 'key-recover' and detail = '$S_EC request $R'\")\" = 1 ] && [ \"\$(psql -XqtA '$CMPCA_DB' -c 'select status from key_recovery where id = $R')\" = done ]"
check "3: an approval delivers once" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key recover '$S_EC' --request '$R' --password-file '$pwf' --out '$o/again.cms' 2>'$w/again2.err' && grep -q 'not an approved' '$w/again2.err' && [ ! -e '$o/again.cms' ]"
# Recipients by certificate: an RSA one (key transport) and an EC one
# (key agreement), their keys the operator's or the holder's.
for k in rsa ec ed; do
	case $k in
	rsa) a=(-newkey rsa:2048) ;;
	ec) a=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
	ed) a=(-newkey ed25519) ;;
	esac
	openssl req -x509 "${a[@]}" -nodes -keyout "$w/rcpt-$k.key" \
	    -subj "/CN=karch recovery $k" -days 2 -out "$o/rcpt-$k.pem" 2>/dev/null
done
chown "$CMPCA_USER" "$o"/rcpt-*.pem
op bob key request "$S_RSA" >"$w/req2.out" 2>&1
R2=$(sed -n 's/^recovery request \([0-9]*\) .*/\1/p' "$w/req2.out")
op alice key approve "$R2" >/dev/null 2>&1
check "3: RSA key recovered to an RSA certificate (--to, PEM)" \
    op bob key recover "$S_RSA" --request "$R2" --to "$o/rcpt-rsa.pem" --format pem --out "$o/rsa.pem"
check "3: ... KeyTransRecipientInfo with RSA-OAEP" bash -c \
    "openssl cms -cmsout -print -inform PEM -in '$o/rsa.pem' >'$w/rsa.print' 2>&1 && grep -q 'd.ktri:' '$w/rsa.print' && grep -q 'rsaesOaep' '$w/rsa.print'"
unpack u_rsa "$o/rsa.pem" PEM -recip "$o/rcpt-rsa.pem" -inkey "$w/rcpt-rsa.key"
check "3: ... opens with the recipient's key, SignedData verifies against the CA" \
    test -s "$w/u_rsa.akp"
check "3: ... the key matches the RSA certificate's public key" \
    same_pubkey "$w/rsa/cert-0.pem" "$w/u_rsa.pem"
check "3: ... does not open with another key" bash -c \
    "! openssl cms -decrypt -inform PEM -in '$o/rsa.pem' -recip '$o/rcpt-rsa.pem' -inkey '$w/rcpt-ec.key' -out /dev/null 2>/dev/null"
op bob key request "$S_EC" >"$w/req5.out" 2>&1
R5=$(sed -n 's/^recovery request \([0-9]*\) .*/\1/p' "$w/req5.out")
op alice key approve "$R5" >/dev/null 2>&1
check "3: EC key recovered to an EC certificate (--to, DER)" \
    op bob key recover "$S_EC" --request "$R5" --to "$o/rcpt-ec.pem" --out "$o/ec.cms"
check "3: ... KeyAgreeRecipientInfo (ECDH)" bash -c \
    "openssl cms -cmsout -print -inform DER -in '$o/ec.cms' 2>/dev/null | grep -q 'd.kari:'"
unpack u_ec2 "$o/ec.cms" DER -recip "$o/rcpt-ec.pem" -inkey "$w/rcpt-ec.key"
check "3: ... opens with the recipient's key; the CA's SignedData holds the certificate's key" bash -c \
    "[ -s '$w/u_ec2.akp' ] && [ \"\$(openssl x509 -in '$w/ec/cert-0.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$w/u_ec2.pem' -pubout)\" ]"
op alice key request "$S_RSA" >"$w/req6.out" 2>&1
R6=$(sed -n 's/^recovery request \([0-9]*\) .*/\1/p' "$w/req6.out")
op bob key approve "$R6" >/dev/null 2>&1
check "3: --format pkcs8: an encrypted PKCS#8 under the password" bash -c \
    "SUDO_USER=alice $CMPCA_CLI key recover '$S_RSA' --request '$R6' --password-file '$pwf' --format pkcs8 --out '$o/rsa.p8' >/dev/null && head -n 1 '$o/rsa.p8' | grep -q 'BEGIN ENCRYPTED PRIVATE KEY' && openssl pkey -in '$o/rsa.p8' -passin 'file:$pwf' -out '$w/rsa8.pem' && [ \"\$(openssl x509 -in '$w/rsa/cert-0.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$w/rsa8.pem' -pubout)\" ]"

# --- 4. Refusals --------------------------------------------------------
check "4: unknown serial: no archived key, no request" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key request 7abcdef0123 2>'$w/unk.err' && grep -q 'no archived key' '$w/unk.err'"
check "4: a certificate whose key was not archived: refused" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key request '$(ser noarch)' 2>/dev/null"
# An approved request for the RSA key does not recover the EC key.
op bob key request "$S_RSA" >"$w/req3.out" 2>&1
R3=$(sed -n 's/^recovery request \([0-9]*\) .*/\1/p' "$w/req3.out")
op alice key approve "$R3" >/dev/null 2>&1
check "4: another key's approved request does not recover this key" bash -c \
    "! SUDO_USER=bob $CMPCA_CLI key recover '$S_EC' --request '$R3' --password-file '$pwf' --out '$o/other.key' 2>'$w/other.err' && grep -q 'not an approved' '$w/other.err' && [ ! -e '$o/other.key' ]"
check "4: a rejected request recovers nothing" bash -c \
    "R=\$(SUDO_USER=bob $CMPCA_CLI key request '$S_EC' | sed -n 's/^recovery request \\([0-9]*\\) .*/\\1/p') && SUDO_USER=alice $CMPCA_CLI key reject \"\$R\" >/dev/null && ! SUDO_USER=bob $CMPCA_CLI key recover '$S_EC' --request \"\$R\" --password-file '$pwf' --out '$o/rej.key' 2>/dev/null && [ ! -e '$o/rej.key' ]"
op alice key request "$S_EC" >"$w/req7.out" 2>&1
R7=$(sed -n 's/^recovery request \([0-9]*\) .*/\1/p' "$w/req7.out")
op bob key approve "$R7" >/dev/null 2>&1
cli ca create karch-other --subject "/CN=karch other CA" --days 30 >"$w/other-ca.out" 2>&1
check "4: another CA (--ca): refused, no archived key there, the approval kept" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key recover '$S_EC' --ca karch-other --request '$R7' --password-file '$pwf' --out '$o/wrongca.cms' 2>'$w/wrongca.err' && grep -q 'no archived key for serial $S_EC under ca karch-other' '$w/wrongca.err' && [ ! -e '$o/wrongca.cms' ] && [ \"\$(psql -XqtA '$CMPCA_DB' -c 'select status from key_recovery where id = $R7')\" = approved ]" ||
	cat "$w/other-ca.out" "$w/wrongca.err"
check "4: an Ed25519 recipient certificate is refused (RSA or EC only)" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key recover '$S_EC' --request '$R7' --to '$o/rcpt-ed.pem' --out '$o/ed.cms' 2>'$w/ed.err' && grep -q 'must be RSA' '$w/ed.err' && [ ! -e '$o/ed.cms' ]"
check "4: both recipients, or --format pkcs8 with --to: usage errors" bash -c \
    "SUDO_USER=alice $CMPCA_CLI key recover '$S_EC' --request '$R7' --to '$o/rcpt-ec.pem' --password-file '$pwf' --out '$o/both.cms' 2>/dev/null; [ \$? = 2 ] && { SUDO_USER=alice $CMPCA_CLI key recover '$S_EC' --request '$R7' --to '$o/rcpt-ec.pem' --format pkcs8 --out '$o/both.cms' 2>/dev/null; [ \$? = 2 ]; } && [ ! -e '$o/both.cms' ]"
# The owner moves the RSA key's blob into the EC row: the AAD (CA label,
# SHA-256 of the certificate's key) refuses it.
psql -XqtA "$CMPCA_DB_OWNER" -c "update key_archive set wrapped = (select k.wrapped from key_archive k join cert c on c.id = k.cert_id where c.serial = '$S_RSA') where cert_id = (select id from cert where serial = '$S_EC')" >/dev/null 2>&1
op alice key request "$S_EC" >"$w/req4.out" 2>&1
R4=$(sed -n 's/^recovery request \([0-9]*\) .*/\1/p' "$w/req4.out")
op bob key approve "$R4" >/dev/null 2>&1
check "4: a blob moved to another certificate's row does not open" bash -c \
    "! SUDO_USER=alice $CMPCA_CLI key recover '$S_EC' --request '$R4' --password-file '$pwf' --out '$o/moved.key' 2>'$w/moved.err' && grep -q 'does not authenticate' '$w/moved.err' && [ ! -e '$o/moved.key' ]"
check "4: ... and the approval is not spent by the failure" test \
    "$(q "select status from key_recovery where id = $R4")" = approved
check "4: a short password is refused" bash -c \
    "(umask 077; echo short >'$o/short.pw') && chown '$CMPCA_USER' '$o/short.pw' && ! SUDO_USER=alice $CMPCA_CLI key recover '$S_RSA' --request '$R3' --password-file '$o/short.pw' --out '$o/short.key' 2>/dev/null"

# --- 5. The certificate rejected: the archived key destroyed ------------
# Left unconfirmed now; its expiry is checked after case 7.
kmac exp ir --subject /CN=karch-expired --central-keygen ec:P-256 --confirm none
S_EXP=$(ser exp)
check "5: unconfirmed: archived while the transaction waits" test "$(arch_rows "$S_EXP")" = 1 || why exp
kmac rej ir --subject /CN=karch-rejected --central-keygen ec:P-256 --reject 0
S_REJ=$(ser rej)
check "5: certConf rejects the certificate: rejected" test \
    "$(q "select status from cert where serial = '$S_REJ'")" = rejected || why rej
check "5: ... its archived key is gone" test "$(arch_rows "$S_REJ")" = 0
check "5: ... archived, then destroyed: both audited" bash -c \
    "[ \"\$(psql -XqtA '$CMPCA_DB' -c \"select count(*) from audit where event = 'key-archive' and detail like '$S_REJ %'\")\" = 1 ] && [ \"\$(psql -XqtA '$CMPCA_DB' -c \"select count(*) from audit where event = 'key-destroy' and detail like '$S_REJ:%'\")\" = 1 ]"

# --- 7. krr (RFC 9810 §5.3.8) ------------------------------------------
# The RSA key's row is intact (case 4 moved its blob into the EC row).
NOTYOURS="key recovery is for an archived key"
kmac krr_mac krr --old-cert "$w/rsa/cert-0.pem"
check "7: krr under the secret that obtained the certificate: accepted" \
    is krr_mac "status[0]" 0 || why krr_mac
check "7: ... the key comes to the secret (pwri), signed by the CA, matches the certificate" bash -c \
    "grep -q 'recip\[0\]=pwri' '$w/krr_mac.out' && grep -q 'kga_signer\[0\]=ok' '$w/krr_mac.out' && [ \"\$(openssl x509 -in '$w/rsa/cert-0.pem' -noout -pubkey)\" = \"\$(openssl pkey -in \"\$1\" -pubout)\" ]" _ "$(f krr_mac "key[0]")"
check "7: ... the same key as the enrollment's" \
    test "$(privhex "$(f krr_mac "key[0]")")" = "$(privhex "$w/u_rsa.pem")"
check "7: ... audited (key-recover by krr, the secret as actor)" test \
    "$(q "select count(*) from audit where event = 'key-recover' and detail = '$S_RSA by krr' and actor = 'secret:ka-1'")" = 1
bcs krr_other krr --ref ko-1 --secret-env KO_SECRET --old-cert "$w/rsa/cert-0.pem"
check "7: krr under another secret (another scope): notAuthorized, naming the rule" bash -c \
    "grep -q 'failinfo\[0\]=notAuthorized' '$w/krr_other.out' && grep -q '$NOTYOURS' '$w/krr_other.out' && ! grep -q ' key\[' '$w/krr_other.out'"
bcs krr_noarch krr --ref ko-1 --secret-env KO_SECRET --old-cert "$w/noarch/cert-0.pem"
check "7: krr for a key that was not archived: notAuthorized, the same text" bash -c \
    "grep -q 'failinfo\[0\]=notAuthorized' '$w/krr_noarch.out' && grep -q '$NOTYOURS' '$w/krr_noarch.out'"
# A serial this CA never issued, under its name.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$w/unk.key" -subj "$CMPCA_CA_SUBJECT" -set_serial 0x7abcdef0123 \
    -days 1 -out "$w/unk.pem" 2>/dev/null
kmac krr_unk krr --old-cert "$w/unk.pem"
check "7: krr for an unknown serial: notAuthorized, the same text (no oracle)" bash -c \
    "grep -q 'failinfo\[0\]=notAuthorized' '$w/krr_unk.out' && grep -q '$NOTYOURS' '$w/krr_unk.out'"
# The holder: two archived keys for one subject; the EC certificate signs
# the krr for the RSA one (key agreement to the EC key).
kmac hold1 ir --subject /CN=karch-holder --central-keygen ec:P-256
kmac hold2 ir --subject /CN=karch-holder --central-keygen rsa
bcs krr_hold krr --prot-key "$(f hold1 "key[0]")" --prot-cert "$w/hold1/cert-0.pem" \
    --old-cert "$w/hold2/cert-0.pem"
check "7: krr signed by the holder (same subject): accepted, kari to its key" bash -c \
    "grep -q 'status\[0\]=0' '$w/krr_hold.out' && grep -q 'recip\[0\]=kari' '$w/krr_hold.out' && grep -q 'kga_signer\[0\]=ok' '$w/krr_hold.out'" || why krr_hold
check "7: ... the recovered key is the enrollment's RSA key" \
    test "$(privhex "$(f krr_hold "key[0]")")" = "$(privhex "$(f hold2 "key[0]")")"
bcs krr_stranger krr --prot-key "$(f hold1 "key[0]")" --prot-cert "$w/hold1/cert-0.pem" \
    --old-cert "$w/rsa/cert-0.pem"
check "7: krr signed by another holder's certificate: notAuthorized, naming the rule" bash -c \
    "grep -q 'failinfo\[0\]=notAuthorized' '$w/krr_stranger.out' && grep -q '$NOTYOURS' '$w/krr_stranger.out' && ! grep -q ' key\[' '$w/krr_stranger.out'"
# A registered RA: a device's key generated through it (encrypted to the
# RA), then recovered by it; a key obtained otherwise is out of its scope
# (ra_revoke_scope own, the default).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/ra.key" 2>/dev/null
kmac racert ir --key "$w/ra.key" --subject /CN=karch-ra
cli ra add karch-ra --cert "$w/racert/cert-0.pem" --profile karch >/dev/null 2>&1
rab() { local name=$1 cmd=$2; shift 2; bcs "$name" "$cmd" --prot-key "$w/ra.key" --prot-cert "$w/racert/cert-0.pem" "$@"; }
rab ra_ir ir --subject /CN=karch-radev --central-keygen ec:P-256
rab ra_krr krr --old-cert "$w/ra_ir/cert-0.pem"
check "7: krr by the RA that obtained the certificate: accepted, to the RA's key" bash -c \
    "grep -q 'status\[0\]=0' '$w/ra_krr.out' && grep -q 'recip\[0\]=kari' '$w/ra_krr.out' && [ \"\$(openssl x509 -in '$w/ra_ir/cert-0.pem' -noout -pubkey)\" = \"\$(openssl pkey -in \"\$1\" -pubout 2>/dev/null)\" ]" _ "$(f ra_krr "key[0]")" || why ra_krr
rab ra_krr2 krr --old-cert "$w/rsa/cert-0.pem"
check "7: krr by the RA for a key outside its scope: notAuthorized, naming the rule" bash -c \
    "grep -q 'failinfo\[0\]=notAuthorized' '$w/ra_krr2.out' && grep -q '$NOTYOURS' '$w/ra_krr2.out'"
check "7: refused krr are not audited as recoveries" test \
    "$(q "select count(*) from audit where event = 'key-recover' and detail like '% by krr'")" = 3

# --- 5, continued: the unconfirmed transaction expires -------------------
for _ in $(seq 1 30); do
	[ "$(q "select status from cert where serial = '$S_EXP'")" = rejected ] && break
	sleep 0.5
done
check "5: the transaction expires: rejected, its archived key gone (audited)" bash -c \
    "[ \"\$(psql -XqtA '$CMPCA_DB' -c \"select status from cert where serial = '$S_EXP'\")\" = rejected ] && [ \"\$(psql -XqtA '$CMPCA_DB' -c \"select count(*) from key_archive k join cert c on c.id = k.cert_id where c.serial = '$S_EXP'\")\" = 0 ] && [ \"\$(psql -XqtA '$CMPCA_DB' -c \"select count(*) from audit where event = 'key-destroy' and detail like '$S_EXP:%'\")\" = 1 ]"

# --- 6. Logs -------------------------------------------------------------
check "6: no log holds a generated key or the recovery password" bash -c \
    "[ \${#1} -ge 60 ] && [ \${#2} -ge 60 ] && ! grep -rqi -e \"\$1\" -e \"\$2\" -e 'PRIVATE KEY' -e 'battery staple' '$CMPCA_VAR'/*.log" _ "$phex" "$(privhex "$w/u_rsa.pem")"

# The audit chain with the archive's rows, and the database's safeguards
# (grants as cmpca_grants() gives them, pinned SECURITY DEFINER functions).
cli audit checkpoint >/dev/null 2>&1
check "8: cmpca audit verify passes (chain, grants, triggers)" bash -c \
    "$CMPCA_CLI audit verify >'$w/verify.out' 2>&1" || tail -n 5 "$w/verify.out"

stack_down
e2e_done
