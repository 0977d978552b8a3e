#!/bin/bash
# Central key generation (RFC 9483 §4.1.6, issue 26) end to end with the
# Bouncy Castle client (tests/bc/CmpClient.java, --central-keygen): the CA
# makes the key pair in SoftHSM and returns the private key as
# EnvelopedData(SignedData(AsymmetricKeyPackage)).
#   1  MAC-protected ir: EC P-256, RSA-2048 and no publicKey at all (the
#      profile's first type), PasswordRecipientInfo; the KGA signature
#      verifies with the CA certificate, the key matches the certificate,
#      certConf confirms, the inventory row says server_keygen
#   2  signature-protected cr: key agreement to an EC protection
#      certificate, key transport (RSA-OAEP) to an RSA one; kur too
#   3  refusals: a profile without central_keygen (notAuthorized), a key
#      type the profile does not generate (badAlg), a POP with no key
#      (badPOP); nothing stored
#   4  certConf rejecting the certificate: revoked, and its key is nowhere
#      in the database or the logs
#   5  genm signKeyPairTypes lists what the profile generates
#
# usage: tests/e2e/kga.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup kga 18870 --port-var CMPCA_KGA_TEST_PORT --scan-to 18879 -- "$@"
w=$work
printf '%s\n' "[profile.kga]" "days = 30" "extensions = ext_default" \
    "key_types = rsa, ec:P-256, ec:P-384" \
    "central_keygen = ec-p256, rsa-2048" >"$w/extra.cnf"
export CMPCA_CONF_EXTRA=$w/extra.cnf
e2e_build_bc_client
e2e_stack_up
export CMPCA_SECRET KGA_SECRET
setup_fail() { echo "set-up failed: $*"; echo "$npass passed, $((nfail + 1)) failed"; exit 1; }
KGA_SECRET=$(cli secret add kga-1 --profile kga --uses -1 2>/dev/null) ||
	setup_fail "secret add kga-1"

# bcs NAME COMMAND [options...]: the client with the CA as recipient;
# files in $w/NAME/, the summary lines in $w/NAME.out.
bcs() {
	local name=$1 cmd=$2
	shift 2
	"$top/tests/bc/cmpclient" "$cmd" --url "$CMPCA_URL" \
	    --ca-cert "$CMPCA_CA_CERT" --out-dir "$w/$name" --save-msgs \
	    "$@" >"$w/$name.out" 2>"$w/$name.err"
	echo $? >"$w/$name.rc"
}
# kmac NAME COMMAND [options...]: bcs with a MAC under the kga secret.
kmac() {
	local name=$1 cmd=$2
	shift 2
	bcs "$name" "$cmd" --ref kga-1 --secret-env KGA_SECRET "$@"
}
# f NAME KEY: the value of KEY in NAME's first summary line.
f() {
	awk -v k="$2" 'NR == 1 {
		for (i = 1; i <= NF; i++) {
			e = index($i, "=")
			if (e > 0 && substr($i, 1, e - 1) == k) { print substr($i, e + 1); exit }
		}
	}' "$w/$1.out"
}
is() { [ "$(f "$1" "$2")" = "$3" ]; }
why() { echo "rc=$(cat "$w/$1.rc") $(head -c 700 "$w/$1.out") $(tail -n 2 "$w/$1.err")"; }
# bits KEY: the size of a PEM private key; alg KEY: its OpenSSL type.
bits() { openssl pkey -in "$1" -noout -text 2>/dev/null | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p' | head -n 1; }
keyok() { # NAME: the key came back, opened, signed by the CA, matching
	local k
	k=$(f "$1" "key[0]")
	[ -f "$k" ] && is "$1" "kga_signer[0]" ok && same_pubkey "$w/$1/cert-0.pem" "$k"
}
row() { q "select status || ' ' || server_keygen::text from cert where serial = '$(serial_of "$1")'"; }
certs() { q "select count(*) from cert"; }

# --- 1. MAC-protected ir -------------------------------------------------
kmac ec ir --subject /CN=kga-ec --central-keygen ec:P-256
check "1: MAC ir, EC P-256 generated: accepted" is ec "status[0]" 0 || why ec
check "1: the key came through a PasswordRecipientInfo" is ec "recip[0]" pwri
check "1: ... id-alg-PWRI-KEK" is ec "recip_alg[0]" 1.2.840.113549.1.9.16.3.9
check "1: KGA signature verifies with the CA certificate, key matches the certificate" keyok ec
check "1: the key is P-256" test "$(bits "$(f ec "key[0]")")" = 256
check "1: certConf accepted (pkiconf), row valid and marked server-generated" \
    test "$(row "$w/ec/cert-0.pem")" = "valid true"
check "1: the certificate chains to the CA" chains "$w/ec/cert-0.pem"
check "1: cmpdump decodes the ip that carries the key" bash -c \
    "'$bin/cmpdump' '$w/ec/rsp-0.der' | grep -q '^body=ip .*status=0'"
shows_kg() { cli cert show "$(serial_of "$1")" | grep -qx "$(printf 'server_keygen\t%s' "$2")"; }
check "1: cmpca cert show says server_keygen yes" shows_kg "$w/ec/cert-0.pem" yes
kmac rsa ir --subject /CN=kga-rsa --central-keygen rsa
check "1: MAC ir, RSA generated: RSA-2048" \
    test "$(bits "$(f rsa "key[0]")")" = 2048 || why rsa
check "1: RSA key matches its certificate" keyok rsa
kmac none ir --subject /CN=kga-none --central-keygen none
check "1: no publicKey at all: the profile's first type (P-256)" \
    test "$(bits "$(f none "key[0]")")" = 256
check "1: ... issued and confirmed" test "$(row "$w/none/cert-0.pem")" = "valid true"
check "1: a certificate the holder keyed is not marked" test \
    "$(q "select count(*) from cert where not server_keygen and subject like 'CN=kga%'")" = 0

# --- 2. Signature-protected: key agreement, key transport; kur -----------
bcs kari cr --subject /CN=kga-ec --central-keygen rsa \
    --prot-key "$(f ec "key[0]")" --prot-cert "$w/ec/cert-0.pem"
check "2: cr signed by an EC certificate: key agreement (kari)" \
    is kari "recip[0]" kari || why kari
check "2: ... ECDH with the SHA-256 KDF (dhSinglePass-stdDH-sha256kdf-scheme)" \
    is kari "recip_alg[0]" 1.3.132.1.11.1
check "2: ... RSA key opened with the protection key, matches, KGA ok" keyok kari
check "2: ... row valid, server-generated" test "$(row "$w/kari/cert-0.pem")" = "valid true"
bcs ktri cr --subject /CN=kga-rsa --central-keygen ec:P-256 \
    --prot-key "$(f rsa "key[0]")" --prot-cert "$w/rsa/cert-0.pem"
check "2: cr signed by an RSA certificate: key transport (ktri, RSA-OAEP)" \
    is ktri "recip[0]" ktri || why ktri
check "2: ... RSAES-OAEP" is ktri "recip_alg[0]" 1.2.840.113549.1.1.7
check "2: ... P-256 key opened, matches, KGA ok" keyok ktri
bcs kur kur --central-keygen ec:P-256 \
    --old-key "$(f ec "key[0]")" --old-cert "$w/ec/cert-0.pem"
check "2: kur with central key generation: new key, matches" keyok kur || why kur
check "2: ... a new key, not the old one" bash -c \
    "! cmp -s <(openssl pkey -in '$(f kur "key[0]")' -pubout) <(openssl pkey -in '$(f ec "key[0]")' -pubout)"
check "2: ... the kup row replaces the old certificate, server-generated" test \
    "$(q "select server_keygen || ' ' || (replaces is not null) from cert where serial = '$(serial_of "$w/kur/cert-0.pem")'")" = "true true"

# --- 3. Refusals: nothing stored ------------------------------------------
n0=$(certs)
bcs noprof ir --ref "$CMPCA_SECRET_REF" --secret-env CMPCA_SECRET \
    --subject /CN=kga-noprof --central-keygen ec:P-256
check "3: profile without central_keygen: notAuthorized" \
    is noprof "failinfo[0]" notAuthorized || why noprof
# One ir, two CertReqMsgs: both refused in one answer.
kmac badalg ir --subject /CN=kga-badalg --central-keygen ec:P-384 \
    --central-keygen ed25519
check "3: P-384 (not generated by the profile): badAlg" \
    is badalg "failinfo[0]" badAlg || why badalg
check "3: Ed25519 (not generated by the profile): badAlg" \
    is badalg "failinfo[1]" badAlg
check "3: nothing stored for the refusals" test "$(certs)" = "$n0"
check "3: no key in the refusals' answers" bash -c \
    "! grep -q ' key\\[' '$w/noprof.out' '$w/badalg.out'"

# --- 4. certConf rejects the certificate -------------------------------
kmac rej ir --subject /CN=kga-rejected --central-keygen ec:P-256 --reject 0
check "4: a rejected certificate's key still came (to the client only)" \
    test -f "$(f rej "key[0]")" || why rej
check "4: the rejected certificate is marked rejected (and on the CRL)" \
    test "$(q "select status || ' ' || (revoked_at is not null) from cert where serial = '$(serial_of "$w/rej/cert-0.pem")'")" = "rejected true"
# The private scalar, in hex: nowhere in the database (any table) or logs.
priv=$(openssl pkey -in "$(f rej "key[0]")" -noout -text 2>/dev/null |
    sed -n '/^priv:/,/^pub:/{/^priv:/d;/^pub:/d;p}' | tr -d ' :\n' | tail -c 64)
pg_dump -a "$CMPCA_DB" >"$w/dump.sql" 2>/dev/null
check "4: the database holds no copy of the key" bash -c \
    "[ \${#1} -ge 60 ] && [ -s '$w/dump.sql' ] && ! grep -qi \"\$1\" '$w/dump.sql'" _ "$priv"
check "4: no log holds it" bash -c \
    "! grep -rqi \"\$1\" '$CMPCA_VAR'/*.log && ! grep -rq 'PRIVATE KEY' '$CMPCA_VAR'/*.log" _ "$priv"

# --- 5. genm signKeyPairTypes --------------------------------------------
kmac genm genm --infotype signKeyPairTypes
openssl asn1parse -inform DER -in "$w/genm/rsp-0.der" >"$w/genm.asn" 2>/dev/null
check "5: signKeyPairTypes lists P-256 and RSA, not P-384" bash -c \
    "grep -q prime256v1 '$w/genm.asn' && grep -q rsaEncryption '$w/genm.asn' && ! grep -q secp384r1 '$w/genm.asn'"

stack_down
e2e_done
