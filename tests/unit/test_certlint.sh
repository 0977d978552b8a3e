#!/bin/bash
# test_certlint.sh - shows that tests/tools/certlint catches each RFC 5280
# rule it checks: for every rule a certificate made with `openssl req`,
# `openssl x509` (extensions from -extfile) or `openssl ca` that breaks
# that rule alone where it can, and certlint must exit 1 naming the rule;
# the well-formed certificates (end entities with EC and RSA keys, a
# subordinate CA, a root, an OCSP signer, a 20-octet serial, an empty
# subject with a critical subjectAltName) must pass with no output.
#
# usage: tests/unit/test_certlint.sh [--bin DIR]
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/rel
[ "${1:-}" = --bin ] && bin=$2
case $bin in /*) ;; *) bin=$top/$bin ;; esac
lint=$bin/certlint
npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }

if [ ! -x "$lint" ]; then
	echo "FAIL certlint: $lint not built (make $lint)"
	echo "0 passed, 1 failed"
	exit 1
fi
t=$(mktemp -d /tmp/cmpca-certlint.XXXXXX)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1

cat >ext.cnf <<'EOF'
[good]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:good.example

[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[sub]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ocsp]
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[empty_subject]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = critical, DNS:nameless.example

[other_ski]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = 0102030405060708090a0b0c0d0e0f1011121314

[none]
subjectKeyIdentifier = none
authorityKeyIdentifier = none

[no_ski]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = none
authorityKeyIdentifier = keyid:always

[ski_critical]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = critical, hash
authorityKeyIdentifier = keyid:always

[no_aki]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = none

[aki_critical]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = critical, keyid:always

[aki_no_keyid]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = issuer:always

[ca_not_critical]
basicConstraints = CA:TRUE
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ca_no_certsign]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[certsign_no_ca]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[pathlen_no_ca]
basicConstraints = critical, DER:30:03:02:01:00
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[no_ku]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ku_not_critical]
keyUsage = digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[kenc]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ku_empty]
keyUsage = critical, DER:03:01:00
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[eku_any]
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, anyExtendedKeyUsage
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[eku_ocsp_more]
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning, clientAuth
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[eku_ocsp_checked]
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[eku_empty]
keyUsage = critical, digitalSignature
extendedKeyUsage = DER:30:00
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[san_not_critical]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:nameless.example

[san_empty]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DER:30:00

[san_empty_dns]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DER:30:02:82:00

[duplicate]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:one.example
issuerAltName = DNS:two.example

[undecodable]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DER:04:00

[trailing]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DER:30:06:82:04:61:2e:65:78:00

[unknown_critical]
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
1.3.6.1.4.1.99999.1 = critical, DER:05:00

[ca_section]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial.txt
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
EOF
mkdir newcerts
: >index.txt
echo 1000 >serial.txt

ossl() { openssl "$@" >>openssl.log 2>&1; }
# key NAME ALG... : a private key
key() { local n=$1; shift; ossl genpkey "$@" -out "$n.key"; }
csr() { # csr NAME KEY SUBJECT
	ossl req -new -key "$2.key" -subj "$3" -out "$1.csr"
}
# issue NAME SECTION [x509 options]: an end entity "/CN=NAME" (EC P-256
# key unless NAME.csr exists) issued by the root with the extensions of
# SECTION ("-" for none), a random serial unless -set_serial is given.
issue() {
	local n=$1 s=$2 ext=() serial=(-set_serial "0x$(openssl rand -hex 8)")
	shift 2
	[ -f "$n.csr" ] || csr "$n" ee "/CN=$n"
	[ "$s" != - ] && ext=(-extfile ext.cnf -extensions "$s")
	case " $* " in *" -set_serial "*) serial=() ;; esac
	ossl x509 -req -in "$n.csr" -CA root.pem -CAkey root.key -days 30 \
	    "${serial[@]}" "${ext[@]}" "$@" -out "$n.pem"
}
# good NAME CERT ISSUER: certlint must pass it silently.
good() {
	local out rc
	if [ ! -s "$2" ]; then
		fail "$1 passes" "could not make $2 (see openssl.log: $(tail -n 2 openssl.log))"
		return
	fi
	out=$("$lint" "$2" "$3" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		pass "$1 passes"
	else
		fail "$1 passes" "exit $rc: $out"
	fi
}
# bad NAME RULE CERT [ISSUER]: certlint must exit 1 and name RULE.
bad() {
	local out rc
	if [ ! -s "$3" ]; then
		fail "$1 caught" "could not make $3 (see openssl.log: $(tail -n 2 openssl.log))"
		return
	fi
	out=$("$lint" "$3" "${4:-root.pem}" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "^certlint: $3: $2: " <<<"$out"; then
		pass "$1 caught ($(grep -m1 ": $2: " <<<"$out" | cut -d: -f3-))"
	else
		fail "$1 caught" "exit $rc, expected rule $2: $out"
	fi
}

key root -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key ee -algorithm EC -pkeyopt ec_paramgen_curve:P-256
ossl req -x509 -key root.key -subj "/O=lint/CN=Lint Root" -days 3650 \
    -config ext.cnf -extensions root -out root.pem

# The well-formed ones.
good "self-signed root" root.pem root.pem
issue good good; good "end entity (EC P-256)" good.pem root.pem
key rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
csr rsa rsa /CN=rsa; issue rsa good; good "end entity (RSA 2048)" rsa.pem root.pem
key p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
csr sub p384 "/O=lint/CN=Lint Sub"; issue sub sub; good "subordinate CA (P-384, pathLen 0)" sub.pem root.pem
issue ocsp ocsp; good "OCSP signer (OCSPSigning alone, ocsp-nocheck)" ocsp.pem root.pem
issue serial20 good -set_serial 0x7fffffffffffffffffffffffffffffffffffffff; good "serial of 20 octets" serial20.pem root.pem
csr nameless ee /
issue nameless empty_subject; good "empty subject, critical subjectAltName" nameless.pem root.pem

# version: without -extfile openssl makes a v1 certificate.
issue v1 -; bad "v1 certificate" version v1.pem
# serial
issue serial0 good -set_serial 0; bad "serial zero" serial serial0.pem
issue serialneg good -set_serial -5; bad "negative serial" serial serialneg.pem
issue serial21 good -set_serial 0x80ffffffffffffffffffffffffffffffffffffff; bad "serial of 21 octets (top bit set)" serial serial21.pem
# signature-algorithm: ecdsa-with-SHA256 in tbsCertificate changed to
# ecdsa-with-SHA384 (the first of the two copies in the DER).
ossl x509 -in good.pem -outform DER -out good.der
perl -0777 -pe 's/\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02/\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x03/' \
    good.der >sigalg.der
bad "inner and outer signature algorithm differ" signature-algorithm sigalg.der
# signature: signed by another key under the root's name and key
# identifier, so that only the signature differs.
key stranger -algorithm EC -pkeyopt ec_paramgen_curve:P-256
ski=$(openssl x509 -in root.pem -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :')
printf '[impostor]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign\nsubjectKeyIdentifier = %s\n' "$ski" >>ext.cnf
ossl req -x509 -key stranger.key -subj "/O=lint/CN=Lint Root" -days 3650 \
    -config ext.cnf -extensions impostor -out impostor.pem
csr forged ee /CN=forged
ossl x509 -req -in forged.csr -CA impostor.pem -CAkey stranger.key -days 30 \
    -extfile ext.cnf -extensions good -out forged.pem
bad "signed by another key" signature forged.pem
# issuer-name: a second root certificate for the same key under another
# name; the end entity names the first.
ossl req -x509 -key root.key -subj "/O=lint/CN=Other Name" -days 3650 \
    -config ext.cnf -extensions root -out renamed.pem
bad "issuer is not the issuer's subject" issuer-name good.pem renamed.pem
# validity
issue longer good -days 4000; bad "notAfter after the issuer's" validity longer.pem
csr early ee /CN=early
ossl ca -batch -config ext.cnf -name ca_section -cert root.pem -keyfile root.key \
    -startdate 20000101000000Z -enddate 20300101000000Z \
    -extfile ext.cnf -extensions good -in early.csr -out early.pem
bad "notBefore before the issuer's" validity early.pem
# subject-key-identifier
issue noski no_ski; bad "no subjectKeyIdentifier" subject-key-identifier noski.pem
issue skicrit ski_critical; bad "critical subjectKeyIdentifier" subject-key-identifier skicrit.pem
# authority-key-identifier: absent, critical, without keyIdentifier, and
# not the issuer's SKI (a root for the same key and name with another SKI).
issue noaki no_aki; bad "no authorityKeyIdentifier" authority-key-identifier noaki.pem
issue akicrit aki_critical; bad "critical authorityKeyIdentifier" authority-key-identifier akicrit.pem
issue akinokeyid aki_no_keyid; bad "authorityKeyIdentifier without keyIdentifier" authority-key-identifier akinokeyid.pem
ossl req -x509 -key root.key -subj "/O=lint/CN=Lint Root" -days 3650 \
    -config ext.cnf -extensions other_ski -out otherski.pem
bad "keyIdentifier is not the issuer's SKI" authority-key-identifier good.pem otherski.pem
# basic-constraints and key-usage
issue canotcrit ca_not_critical; bad "cA=TRUE, basicConstraints not critical" basic-constraints canotcrit.pem
issue canocertsign ca_no_certsign; bad "cA=TRUE without keyCertSign" basic-constraints canocertsign.pem
issue certsignnoca certsign_no_ca; bad "keyCertSign without cA=TRUE" key-usage certsignnoca.pem
issue pathlennoca pathlen_no_ca; bad "pathLenConstraint without cA=TRUE" basic-constraints pathlennoca.pem
issue noku no_ku; bad "no keyUsage" key-usage noku.pem
issue kunotcrit ku_not_critical; bad "keyUsage not critical" key-usage kunotcrit.pem
issue kuempty ku_empty; bad "keyUsage without a bit" key-usage kuempty.pem
# RFC 8813 §3: keyEncipherment is for RSA keys, never for an EC key.
issue eckenc kenc; bad "keyEncipherment with an EC key" key-usage eckenc.pem
cp rsa.csr rsakenc.csr
issue rsakenc kenc; good "keyEncipherment with an RSA key" rsakenc.pem root.pem
# extended-key-usage
issue ekuany eku_any; bad "anyExtendedKeyUsage" extended-key-usage ekuany.pem
issue ekuocspmore eku_ocsp_more; bad "OCSPSigning with another purpose" extended-key-usage ekuocspmore.pem
issue ekuocspchecked eku_ocsp_checked; bad "OCSPSigning without ocsp-nocheck" extended-key-usage ekuocspchecked.pem
issue ekuempty eku_empty; bad "empty extendedKeyUsage" extended-key-usage ekuempty.pem
# subject-alt-name
cp nameless.csr nameless2.csr
issue nameless2 no_ku; bad "empty subject without subjectAltName" subject-alt-name nameless2.pem
cp nameless.csr nameless3.csr
issue nameless3 san_not_critical; bad "empty subject, subjectAltName not critical" subject-alt-name nameless3.pem
issue sanempty san_empty; bad "subjectAltName without a name" subject-alt-name sanempty.pem
issue sanemptydns san_empty_dns; bad "subjectAltName with an empty dNSName" subject-alt-name sanemptydns.pem
# duplicate-extension: openssl keeps one extension per OID, so the
# issuerAltName of a certificate becomes a second subjectAltName in its
# DER (which also breaks the signature, reported as well).
issue dup duplicate && ossl x509 -in dup.pem -outform DER -out dup.der &&
    perl -0777 -pe 's/\x06\x03\x55\x1d\x12/\x06\x03\x55\x1d\x11/' dup.der >dup2.der
bad "two subjectAltName extensions" duplicate-extension dup2.der
# extension-decoding, unknown-critical-extension
issue undecodable undecodable; bad "subjectAltName that does not decode" extension-decoding undecodable.pem
issue trailing trailing; bad "subjectAltName with trailing data" extension-decoding trailing.pem
issue unknowncrit unknown_critical; bad "unknown critical extension" unknown-critical-extension unknowncrit.pem
# public-key
key rsa1024 -algorithm RSA -pkeyopt rsa_keygen_bits:1024
csr rsa1024 rsa1024 /CN=rsa1024; issue rsa1024 good; bad "RSA 1024" public-key rsa1024.pem
key k1 -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1
csr k1 k1 /CN=k1; issue k1 good; bad "EC secp256k1" public-key k1.pem
key explicit -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit
csr explicit explicit /CN=explicit; issue explicit good; bad "EC explicit parameters" public-key explicit.pem
ossl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:1024 -out dsa.param
key dsa -paramfile dsa.param
csr dsa dsa /CN=dsa; issue dsa good; bad "DSA key" public-key dsa.pem

# Several pairs in one run: each named, the exit status the worst.
out=$("$lint" good.pem root.pem noku.pem root.pem 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ] &&
    grep -q "^certlint: noku.pem: key-usage: absent$" <<<"$out"; then
	pass "several pairs: only the bad one named"
else
	fail "several pairs: only the bad one named" "exit $rc: $out"
fi
# --shape: the same for two certificates of one kind, different when an
# extension's criticality or the key differs (e2e_lint picks by it).
issue good2 good
shape() { "$lint" --shape "$1" root.pem | cut -d' ' -f2; }
if [ "$(shape good.pem)" = "$(shape good2.pem)" ] &&
    [ "$(shape good.pem)" != "$(shape kunotcrit.pem)" ] &&
    [ "$(shape good.pem)" != "$(shape rsa.pem)" ] &&
    shape ocsp.pem | grep -q ';eku=OCSPSigning,;cA=0$' &&
    shape sub.pem | grep -q ';cA=1$'; then
	pass "--shape: same kind alike, criticality and key told apart"
else
	fail "--shape: same kind alike, criticality and key told apart" \
	    "$(shape good.pem) / $(shape good2.pem) / $(shape kunotcrit.pem)"
fi
"$lint" missing.pem root.pem >/dev/null 2>&1
rc=$?
if [ "$rc" -eq 2 ]; then pass "unreadable file: exit 2"; else fail "unreadable file: exit 2" "exit $rc"; fi

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
