#!/bin/bash
# Names and extensions (issue 22, findings 1, 4, 5, 10 and copy_extensions
# of 9), each attack as the review ran it with stock `openssl cmp` and now
# refused with its PKIFailureInfo and statusString (cmpdump of the
# response), nothing stored:
#  1. an end entity named like a CA this instance knows (its identity in
#     any case or spacing, a retired sub-CA, a partner, an external trust
#     anchor; in the subject or a directoryName SAN; with the demo secret,
#     an RA's raVerified ir, p10cr, a certificate's cr): notAuthorized;
#  4. names in the syntax of their type (NUL in a dNSName, a bare "*",
#     a 5-octet address, an rfc822Name without "@", spaces and "<" in a
#     dNSName or URI, ESC/CR/LF in the subject, the literal "*" of a
#     pattern): badCertTemplate;
#  5. a credential scoped by subjectAltName patterns asks for a CN
#     outside them: notAuthorized;
# 10. the OpenSSL CMP test tables' default request (certificatePolicies)
#     answered grantedWithMods by the stack's default profile; a policy
#     allow-list; other_extensions = refuse;
#  9. copy_extensions: criticality from the profile, values checked.
#
# usage: tests/e2e/names.sh [--bin DIR]
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup names 18730 --port-var CMPCA_NAMES_PORT --scan-to 18739 -- "$@"

# An external trust anchor, and test profiles beside the stack's.
ext=$work/ext
mkdir -p "$ext"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$ext/ca.key" -out "$ext/ca.pem" \
    -subj "/O=Names Maker/CN=Names External Anchor" -days 30 2>/dev/null
cat >"$work/extra.conf" <<'EOF'

# names.sh: certificatePolicies by allow-list, refused otherwise; two
# copied extensions.
[profile.pol]
days = 30
extensions = ext_pol
san_types = dns
allowed_policies = 1.3.6.1.4.1.99999.7
other_extensions = refuse
copy_extensions = issuerAltName, 1.3.6.1.4.1.99999.42

[ext_pol]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
certificatePolicies = critical, 1.3.6.1.4.1.99999.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# The same policies, dropping what it does not take.
[profile.poldrop]
days = 30
extensions = ext_default
san_types = dns
allowed_policies = 1.3.6.1.4.1.99999.7
other_extensions = drop

# Wildcard names for secrets bound to patterns.
[profile.wild]
days = 30
extensions = ext_default
san_types = dns
wildcards = yes
EOF
export CMPCA_CONF_EXTRA=$work/extra.conf CMPCA_TRUST_ANCHORS=$ext/ca.pem
e2e_stack_up

ca_subj=$CMPCA_CA_SUBJECT
# req NAME [openssl cmp options]: an ir with the demo secret (unless the
# options bring their own protection); $work/NAME.{pem,rsp,out}.
req() {
	local name=$1
	shift
	openssl cmp -server "$CMPCA_URL" -recipient "$ca_subj" \
	    -trusted "$CMPCA_CA_CERT" -unprotected_errors \
	    -certout "$work/$name.pem" -rspout "$work/$name.rsp" \
	    "$@" >"$work/$name.out" 2>&1
}
demo() { # NAME SUBJECT [options]
	local name=$1 subj=$2
	shift 2
	req "$name" -cmd ir -ref "$CMPCA_SECRET_REF" \
	    -secret "pass:$CMPCA_SECRET" -newkey "$work/k.key" \
	    -subject "$subj" "$@"
}
# refused NAME FAILINFO TEXT: the response carries that failInfo and a
# statusString starting with TEXT; no certificate came back.
refused() {
	local name=$1 fi=$2 text=$3
	check "$name: $fi \"$text\"" grep -qF \
	    "failinfo=$fi text=\"$text" <(dump "$work/$name.rsp")
	check "$name: no certificate" test ! -s "$work/$name.pem"
}
# reqext NAME LINES...: a -reqexts section [ev] in $work/NAME.cnf.
reqext() {
	local name=$1
	shift
	printf '%s\n' "[ev]" "$@" >"$work/$name.cnf"
}
# san_der NAME TAG HEX...: a subjectAltName of GeneralNames given as
# (context tag, value hex) pairs, by OID so openssl takes it as is.
san_der() {
	local name=$1 body="" tag val
	shift
	while [ $# -gt 0 ]; do
		tag=$1 val=$2
		shift 2
		body=$body$(printf '%s%02x%s' "$tag" $((${#val} / 2)) "$val")
	done
	reqext "$name" "2.5.29.17 = DER:30$(printf '%02x' $((${#body} / 2)))$body"
}
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
cnt() { q "select count(*) from cert where subject = '$1'"; }

openssl ecparam -genkey -name prime256v1 -noout -out "$work/k.key" 2>/dev/null

# Credentials: a plain RA, the site RA (ra_san DNS:*.site.example,
# IP:10.20.0.0/16), a secret bound to DNS:*.names.example, an end entity.
demo ra "/CN=Names RA" -implicit_confirm
cli ra add namesra --cert "$work/ra.pem" >/dev/null 2>&1
demo sitera "/CN=Names Site RA" -implicit_confirm
cli ra add namessite --cert "$work/sitera.pem" --profile site >/dev/null 2>&1
demo ee "/CN=names-ee" -implicit_confirm
SANSEC=$(cli secret add names-san --uses -1 --san 'DNS:*.names.example' \
    2>/dev/null)
WILDSEC=$(cli secret add names-wild --uses -1 --profile wild \
    --san 'DNS:*.wild.example' 2>/dev/null)
POLSEC=$(cli secret add names-pol --uses -1 --profile pol 2>/dev/null)
DROPSEC=$(cli secret add names-drop --uses -1 --profile poldrop 2>/dev/null)
export SANSEC WILDSEC POLSEC DROPSEC
check "setup: RAs, end entity and secrets" test -s "$work/ra.pem" -a \
    -s "$work/sitera.pem" -a -s "$work/ee.pem" -a -n "$SANSEC" -a \
    -n "$WILDSEC" -a -n "$POLSEC" -a -n "$DROPSEC"

# CAs this instance knows besides its identity: a partner, and a sub-CA
# that is retired at once.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/partner.key" -out "$work/partner.pem" \
    -subj "/O=Partner Org/CN=Partner Root" -days 30 \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
check "setup: partner registered" cli partner add names-partner \
    --cert "$work/partner.pem" --ca "$CMPCA_CA_LABEL"
check "setup: sub-CA created" cli ca create names-sub \
    --subject "/O=cmpca/CN=Names Retired Sub" --issuer "$CMPCA_CA_LABEL"
check "setup: sub-CA retired" cli ca retire names-sub
# The reserved names are read again after CA_CACHE_CHECK (5 s).
sleep 6

echo "== 1. reserved names"
demo rsv_ca "$ca_subj"
refused rsv_ca notAuthorized "subject is the name of a CA this instance knows"
check "rsv_ca: nothing stored" test "$(cnt 'CN=cmpca Demo CA,O=cmpca')" = 0
demo rsv_case "/O=CMPCA/CN=CMPCA   demo  ca"
refused rsv_case notAuthorized "subject is the name of a CA this instance knows"
demo rsv_retired "/O=cmpca/CN=Names Retired Sub"
refused rsv_retired notAuthorized "subject is the name of a CA this instance knows"
demo rsv_partner "/O=Partner Org/CN=Partner Root"
refused rsv_partner notAuthorized "subject is the name of a CA this instance knows"
demo rsv_anchor "/O=Names Maker/CN=Names External Anchor"
refused rsv_anchor notAuthorized "subject is the name of a CA this instance knows"
printf '%s\n' "[ev]" "subjectAltName = dirName:dn" "[dn]" "O = cmpca" \
    "CN = cmpca Demo CA" >"$work/rsv_dir.cnf"
demo rsv_dir "/CN=names-dir" -reqexts ev -config "$work/rsv_dir.cnf"
refused rsv_dir notAuthorized "subjectAltName directoryName is the name of a CA"
req rsv_ra -cmd ir -cert "$work/ra.pem" -key "$work/k.key" -popo 0 \
    -newkey "$work/k.key" -subject "$ca_subj"
refused rsv_ra notAuthorized "subject is the name of a CA this instance knows"
openssl req -new -key "$work/k.key" -subj "$ca_subj" -out "$work/ca.csr" 2>/dev/null
req rsv_p10 -cmd p10cr -ref "$CMPCA_SECRET_REF" -secret "pass:$CMPCA_SECRET" \
    -csr "$work/ca.csr"
refused rsv_p10 notAuthorized "subject is the name of a CA this instance knows"
req rsv_cr -cmd cr -cert "$work/ee.pem" -key "$work/k.key" \
    -newkey "$work/k.key" -subject "$ca_subj"
check "rsv_cr: a certificate's cr for the CA's name: notAuthorized" grep -q \
    "failinfo=notAuthorized" <(dump "$work/rsv_cr.rsp")
check "reserved: no end entity with the CA's name in the inventory" test \
    "$(q "select count(*) from cert where kind = 'ee' and subject = 'CN=cmpca Demo CA,O=cmpca'")" = 0
# A name that only looks alike is an ordinary name.
demo rsv_near "/O=cmpca/CN=cmpca Demo CA 2" -implicit_confirm
check "not reserved: /O=cmpca/CN=cmpca Demo CA 2 issued" test -s "$work/rsv_near.pem"

echo "== 4. names in their syntax"
san_der syn_nul 82 "$(hex www.bank.example)002e$(hex evil.example)"
demo syn_nul /CN=names-nul -reqexts ev -config "$work/syn_nul.cnf"
refused syn_nul badCertTemplate "subjectAltName DNS:www.bank.example"
check "syn_nul: the rule named" grep -q "a character other than letters" \
    <(dump "$work/syn_nul.rsp")
reqext syn_star "subjectAltName = DNS:*"
demo syn_star /CN=names-star -reqexts ev -config "$work/syn_star.cnf"
refused syn_star badCertTemplate "subjectAltName DNS:*: a wildcard the profile does not allow"
san_der syn_ip5 87 0a00000105
demo syn_ip5 /CN=names-ip5 -reqexts ev -config "$work/syn_ip5.cnf"
refused syn_ip5 badCertTemplate "subjectAltName IP:...: not 4 or 16 octets"
reqext syn_mail "subjectAltName = email:not-an-email"
demo syn_mail /CN=names-mail -reqexts ev -config "$work/syn_mail.cnf"
refused syn_mail badCertTemplate "subjectAltName email:not-an-email: not local-part@domain"
san_der syn_script 82 "$(hex 'a b<script>')"
demo syn_script /CN=names-script -reqexts ev -config "$work/syn_script.cnf"
refused syn_script badCertTemplate "subjectAltName DNS:a b<script>"
demo syn_esc $'/CN=names\x1b[31mred'
refused syn_esc badCertTemplate "subject attribute CN: a control character"
demo syn_crlf $'/OU=ops\r\nX-Injected: 1/CN=names-crlf'
refused syn_crlf badCertTemplate "subject attribute OU: a control character"
check "syntax: nothing stored for the names above" test \
    "$(q "select count(*) from cert where subject like '%names-%' and subject not like '%names-ee%'")" = 0
# The site RA's pattern *.site.example: one label, never itself.
req pat_lit -cmd ir -cert "$work/sitera.pem" -key "$work/k.key" \
    -newkey "$work/k.key" -subject /O=Site -sans "*.site.example"
refused pat_lit badCertTemplate "subjectAltName DNS:*.site.example: a wildcard"
req pat_2star -cmd ir -cert "$work/sitera.pem" -key "$work/k.key" \
    -newkey "$work/k.key" -subject /O=Site -sans "*.*.site.example"
refused pat_2star badCertTemplate "subjectAltName DNS:*.*.site.example: a wildcard"
req pat_2lab -cmd ir -cert "$work/sitera.pem" -key "$work/k.key" \
    -newkey "$work/k.key" -subject /O=Site -sans "a.b.site.example"
refused pat_2lab notAuthorized "subjectAltName DNS:a.b.site.example not allowed for this RA"
req pat_ok -cmd ir -cert "$work/sitera.pem" -key "$work/k.key" \
    -newkey "$work/k.key" -subject /CN=dev9.site.example \
    -sans "dev9.site.example" -implicit_confirm
check "pattern: one label under *.site.example issued" test -s "$work/pat_ok.pem"
# Where the profile allows wildcards, a wildcard name inside the pattern.
req wild_ok -cmd ir -ref names-wild -secret env:WILDSEC -newkey "$work/k.key" \
    -subject /CN=*.wild.example -sans "*.wild.example" -implicit_confirm
check "wildcards = yes: *.wild.example issued" grep -q "DNS:\*.wild.example" \
    <(openssl x509 -in "$work/wild_ok.pem" -noout -ext subjectAltName 2>/dev/null)
req wild_2 -cmd ir -ref names-wild -secret env:WILDSEC -newkey "$work/k.key" \
    -subject /O=Wild -sans "*.*.wild.example"
refused wild_2 badCertTemplate "subjectAltName DNS:*.*.wild.example: a wildcard only as the whole leftmost label"

echo "== 5. SAN-scoped credentials and the CN"
req cn_ra -cmd ir -cert "$work/sitera.pem" -key "$work/k.key" \
    -newkey "$work/k.key" -subject /CN=www.bank.example
refused cn_ra notAuthorized "subject commonName is not a dNSName granted to this RA"
req cn_sec -cmd ir -ref names-san -secret env:SANSEC -newkey "$work/k.key" \
    -subject /CN=www.bank.example
refused cn_sec notAuthorized "subject commonName is not a dNSName granted to this enrollment secret"
req cn_sec_san -cmd ir -ref names-san -secret env:SANSEC -newkey "$work/k.key" \
    -subject /CN=www.bank.example -sans host.names.example
refused cn_sec_san notAuthorized "subject commonName is not a dNSName granted"
check "CN scope: no certificate for CN=www.bank.example" test \
    "$(cnt CN=www.bank.example)" = 0
req cn_ok -cmd ir -ref names-san -secret env:SANSEC -newkey "$work/k.key" \
    -subject /CN=host.names.example -sans host.names.example -implicit_confirm
check "CN scope: a granted name as CN issued" test -s "$work/cn_ok.pem"
req cn_none -cmd ir -ref names-san -secret env:SANSEC -newkey "$work/k.key" \
    -subject "/O=Names/OU=hosts" -sans host2.names.example -implicit_confirm
check "CN scope: no CN at all issued" test -s "$work/cn_none.pem"

echo "== 10. requested extensions the profile does not take"
# The OpenSSL CMP test tables' default request: -policies naming a
# section with certificatePolicies (test/recipes/80-test_cmp_http_data).
printf '%s\n' "[certificatePolicies]" \
    'certificatePolicies = "critical, @pkiPolicy"' "[pkiPolicy]" \
    "policyIdentifier = 1.2.3.4" >"$work/tables.cnf"
demo tables /CN=names-tables -config "$work/tables.cnf" \
    -policies certificatePolicies
check "tables' default request: openssl cmp accepts grantedWithMods" \
    test -s "$work/tables.pem"
check "tables' default request: status grantedWithMods (1)" grep -q \
    "body=ip .*status=1 failinfo=- " <(dump "$work/tables.rsp")
check "tables' default request: statusString names what was dropped" \
    grep -qF 'text="profile default dropped: extension certificatePolicies"' \
    <(dump "$work/tables.rsp")
check "tables' default request: no certificatePolicies in the certificate" \
    bash -c "! openssl x509 -in '$work/tables.pem' -noout -text | grep -q 'X509v3 Certificate Policies'"
check "tables' default request: certificate confirmed (valid)" \
    test "$(db_status "$work/tables.pem")" = valid
# Allow-list, refuse mode (profile pol: own 99999.1 critical, 99999.7
# allowed).
reqext pol_ok "certificatePolicies = 1.3.6.1.4.1.99999.7"
req pol_ok -cmd ir -ref names-pol -secret env:POLSEC -newkey "$work/k.key" \
    -subject /CN=pol-ok -reqexts ev -config "$work/pol_ok.cnf" -implicit_confirm
openssl x509 -in "$work/pol_ok.pem" -noout -text >"$work/pol_ok.txt" 2>&1
check "allowed policy: issued, status accepted" grep -q \
    "body=ip .*status=0 " <(dump "$work/pol_ok.rsp")
check "allowed policy: the profile's and the requested policy" bash -c \
    "grep -q 'Policy: 1.3.6.1.4.1.99999.1' '$work/pol_ok.txt' && grep -q 'Policy: 1.3.6.1.4.1.99999.7' '$work/pol_ok.txt'"
check "allowed policy: critical as the profile's own" grep -q \
    "Certificate Policies: critical" "$work/pol_ok.txt"
reqext pol_no "certificatePolicies = 1.2.3.4"
req pol_no -cmd ir -ref names-pol -secret env:POLSEC -newkey "$work/k.key" \
    -subject /CN=pol-no -reqexts ev -config "$work/pol_no.cnf"
refused pol_no badCertTemplate "certificatePolicies 1.2.3.4 not allowed by profile pol"
printf '%s\n' "[ev]" "certificatePolicies = @p" "[p]" \
    "policyIdentifier = 1.3.6.1.4.1.99999.7" \
    "CPS.1 = http://evil.example/cps" >"$work/pol_q.cnf"
req pol_q -cmd ir -ref names-pol -secret env:POLSEC -newkey "$work/k.key" \
    -subject /CN=pol-q -reqexts ev -config "$work/pol_q.cnf"
refused pol_q badCertTemplate "certificatePolicies qualifiers not allowed by profile pol"
reqext pol_x "1.3.6.1.4.1.99999.99 = DER:0500"
req pol_x -cmd ir -ref names-pol -secret env:POLSEC -newkey "$work/k.key" \
    -subject /CN=pol-x -reqexts ev -config "$work/pol_x.cnf"
refused pol_x badCertTemplate "extension 1.3.6.1.4.1.99999.99 not allowed by profile pol"
# Allow-list, drop mode: the allowed policy stays, the other goes.
reqext drop_mix "certificatePolicies = 1.3.6.1.4.1.99999.7, 1.2.3.4"
req drop_mix -cmd ir -ref names-drop -secret env:DROPSEC \
    -newkey "$work/k.key" -subject /CN=drop-mix -reqexts ev \
    -config "$work/drop_mix.cnf" -implicit_confirm
openssl x509 -in "$work/drop_mix.pem" -noout -text >"$work/drop_mix.txt" 2>&1
check "drop: grantedWithMods naming the dropped policy" grep -qF \
    'status=1 failinfo=- text="profile poldrop dropped: certificatePolicies 1.2.3.4"' \
    <(dump "$work/drop_mix.rsp")
check "drop: the allowed policy kept, the other not" bash -c \
    "grep -q 'Policy: 1.3.6.1.4.1.99999.7' '$work/drop_mix.txt' && ! grep -q 'Policy: 1.2.3.4' '$work/drop_mix.txt'"

echo "== 9. copy_extensions: criticality from the profile, values checked"
reqext cp_crit "1.3.6.1.4.1.99999.42 = critical,DER:0c026f6b"
req cp_crit -cmd ir -ref names-pol -secret env:POLSEC -newkey "$work/k.key" \
    -subject /CN=cp-crit -reqexts ev -config "$work/cp_crit.cnf" -implicit_confirm
check "copied extension issued" test -s "$work/cp_crit.pem"
check "copied extension: not critical (the profile's, not the request's)" \
    bash -c "openssl x509 -in '$work/cp_crit.pem' -noout -text | grep -A1 '1.3.6.1.4.1.99999.42' | head -1 | grep -vq critical"
reqext cp_bad "1.3.6.1.4.1.99999.42 = DER:0c05"
req cp_bad -cmd ir -ref names-pol -secret env:POLSEC -newkey "$work/k.key" \
    -subject /CN=cp-bad -reqexts ev -config "$work/cp_bad.cnf"
refused cp_bad badCertTemplate "extension 1.3.6.1.4.1.99999.42 does not decode"
san_der cp_ian 82 "$(hex 'a b')"
sed -i 's/^2.5.29.17 /2.5.29.18 /' "$work/cp_ian.cnf"
req cp_ian -cmd ir -ref names-pol -secret env:POLSEC -newkey "$work/k.key" \
    -subject /CN=cp-ian -reqexts ev -config "$work/cp_ian.cnf"
refused cp_ian badCertTemplate "issuerAltName DNS:a b: a character other than letters"

stack_down
e2e_done
