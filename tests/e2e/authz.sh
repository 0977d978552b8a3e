#!/bin/bash
# Authorization matrix on the real stack: every row of tests/e2e/authz.tsv
# (credential x operation x target -> ok or the PKIFailureInfo) is sent
# with `openssl cmp` (ir, cr, p10cr, kur, rr, genm) or the Bouncy Castle
# client (certConf, pollReq for a given transaction), and the response
# body type and failInfo are checked with cmpdump. One line per row, then
# checks that refused rows changed nothing, and the closing line.
#
# usage: tests/e2e/authz.sh [--bin DIR]
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup authz 18650 --port-var CMPCA_AUTHZ_PORT --scan-to 18654 -- "$@"
table=$top/tests/e2e/authz.tsv

# The external trust anchor and one device certificate under it.
ext=$work/ext
mkdir -p "$ext"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$ext/ca.key" -out "$ext/ca.pem" -subj "/CN=AZ External Anchor" \
    -days 30 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/ext.key" -subj "/CN=az-ext" -out "$ext/dev.csr" 2>/dev/null
printf '%s\n' "keyUsage = critical,digitalSignature" >"$ext/dev.ext"
openssl x509 -req -in "$ext/dev.csr" -CA "$ext/ca.pem" -CAkey "$ext/ca.key" \
    -CAcreateserial -days 10 -extfile "$ext/dev.ext" -out "$work/ext.pem" \
    2>/dev/null
export CMPCA_TRUST_ANCHORS=$ext/ca.pem CMPCA_ALLOW_UNPROTECTED=
# The victim's transaction must still wait for its certConf when the
# table is done, which takes longer than the default 300 s on a busy host.
export CMPCA_TXN_TIMEOUT=3600
# IDevID -> LDevID (RFC 9483 §4.1.1): the device certificate may ask for
# the operator's names (target idev), a certificate of ours may not.
printf '%s\n' "[profile.default]" \
    "external_subject = /O=AZ Devices/CN=az-ldev-*; /O=AZ Devices/OU=Gateways/CN=*" \
    "external_san = DNS:*.devices.az.example" \
    "[profile.azkga]" "days = 30" "extensions = ext_default" \
    "key_types = ec:P-256" "central_keygen = ec-p256" "archive_keys = yes" \
    >"$work/idev.cnf"
export CMPCA_CONF_EXTRA=$work/idev.cnf
subj_idev="/O=AZ Devices/CN=az-ldev-1"
e2e_build_bc_client
e2e_stack_up

w=$work
export CMPCA_SECRET
url_demo=$CMPCA_URL
url_other=${CMPCA_URL}/p/other
subj_demo=$CMPCA_CA_SUBJECT
subj_other="/O=cmpca/CN=AZ Other CA"
setup_fail() { echo "set-up failed: $*"; tail -n 5 "$w"/*.out 2>/dev/null | tail -n 12; echo "$npass passed, $((nfail + 1)) failed"; exit 1; }

cli ca create other --subject "$subj_other" --key ec:P-256 --days 30 \
    >/dev/null 2>&1 || setup_fail "ca create other"
cli ca export other >"$w/other.pem"
cat "$CMPCA_CA_CERT" "$w/other.pem" >"$w/cas.pem"
openssl ecparam -genkey -name prime256v1 -noout -out "$w/new.key" 2>/dev/null

# Secrets: exported for `-secret env:` and the BC client's --secret-env.
secret() { # VAR REF cmpca-secret-add-options...
	local var=$1 ref=$2 v
	shift 2
	v=$(cli secret add "$ref" "$@" 2>/dev/null) || setup_fail "secret add $ref"
	export "$var=$v"
}
secret AZ_BOUND az-bound --subject CN=az-bound --uses -1 --ca demo
secret AZ_FREE az-free --uses -1
secret AZ_OTHER az-other --uses -1 --ca other
secret AZ_USED az-used --uses 1
secret AZ_EXPIRED az-expired --uses -1
secret AZ_VICTIM az-victim --uses -1 --ca demo
secret AZ_WAIT az-wait --uses -1 --profile approval
secret AZ_SAN az-san --uses -1 --san 'DNS:*.az.example'
secret AZ_VKGA az-vkga --uses -1 --profile azkga --ca demo

# Request contents (issue 13): -reqexts sections and a CSR config with two
# subjectAltNames (openssl cmp would replace one, openssl req keeps both).
printf '%s\n' "[ev]" "extendedKeyUsage = OCSPSigning" >"$w/ext-ir-eku.cnf"
printf '%s\n' "[ev]" "keyUsage = digitalSignature, keyCertSign" >"$w/ext-ir-ku.cnf"
printf '%s\n' "[ev]" "subjectAltName = DNS:login.bank.example" >"$w/ext-ir-san.cnf"
printf '%s\n' "[ev]" "subjectAltName = DNS:a.az.example" >"$w/ext-ir-sanok.cnf"
printf '%s\n' "[ev]" "subjectAltName = DNS:az-ldev-1.devices.az.example" \
    >"$w/ext-ir-sanidev.cnf"
printf '%s\n' "[ev]" "subjectAltName = URI:https://login.bank.example/" \
    >"$w/ext-ir-santype.cnf"
printf '%s\n' "[req]" "distinguished_name = dn" "req_extensions = ev" "[dn]" \
    "[ev]" "subjectAltName = DNS:a.az.example" \
    "2.5.29.17 = DER:300687040a000001" >"$w/dupext.cnf"

# osc NAME URL RECIPIENT CMD args...: openssl cmp, response in $w/NAME.rsp.
osc() {
	local name=$1 url=$2 recip=$3 cmd=$4
	shift 4
	rm -f "$w/$name.rsp" "$w/$name.pem"
	openssl cmp -cmd "$cmd" -server "$url" -recipient "$recip" \
	    -trusted "$w/cas.pem" -unprotected_errors -certout "$w/$name.pem" \
	    -rspout "$w/$name.rsp" "$@" >"$w/$name.out" 2>&1
}
# enroll NAME SUBJECT: a valid certificate of CA demo (demo secret).
enroll() {
	openssl ecparam -genkey -name prime256v1 -noout -out "$w/$1.key" \
	    2>/dev/null
	osc "$1" "$url_demo" "$subj_demo" ir -ref "$CMPCA_SECRET_REF" \
	    -secret env:CMPCA_SECRET -newkey "$w/$1.key" -subject "$2" \
	    -implicit_confirm
}
# field NAME KEY: a field of cmpdump's line for $w/NAME.rsp.
field() { dump "$w/$1.rsp" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# Fixed materials: the victim's certificate and transactions, the RA,
# the revoked certificate, the spent and the expired secrets.
enroll victim /CN=az-victim || setup_fail "victim certificate"
osc vconf "$url_demo" "$subj_demo" ir -ref az-victim -secret env:AZ_VICTIM \
    -newkey "$w/new.key" -subject /CN=az-victim-conf -disable_confirm ||
	setup_fail "victim transaction"
vconf_tx=$(field vconf tx) vconf_nonce=$(field vconf snonce)
"$top/tests/bc/cmpclient" ir --url "$url_demo" --recipient "$subj_demo" \
    --ref az-wait --secret-env AZ_WAIT --newkey ec:P-256 --out-dir "$w" \
    --subject /CN=az-victim-wait --poll-max 0 >"$w/vwait.out" 2>&1
vwait_tx=$(sed -n 's/.*txid=\([0-9a-f]*\).*/\1/p' "$w/vwait.out" | head -n 1)
vwait_nonce=$(sed -n 's/.*snonce=\([0-9a-f]*\).*/\1/p' "$w/vwait.out" | head -n 1)
[ -n "$vwait_tx" ] && grep -q "status\[0\]=3" "$w/vwait.out" ||
	setup_fail "victim waiting transaction: $(cat "$w/vwait.out")"
# krr (issue 26): the victim's key, generated by the CA and archived.
cli ca archival-key demo >/dev/null 2>&1 || setup_fail "ca archival-key demo"
"$top/tests/bc/cmpclient" ir --url "$url_demo" --recipient "$subj_demo" \
    --ca-cert "$CMPCA_CA_CERT" --ref az-vkga --secret-env AZ_VKGA \
    --central-keygen ec:P-256 --subject /CN=az-victim-kga --implicit-confirm \
    --out-dir "$w/vkga" >"$w/vkga.out" 2>&1
[ -s "$w/vkga/cert-0.pem" ] &&
	[ "$(q "select count(*) from key_archive k join cert c on c.id = k.cert_id where c.serial = '$(serial_of "$w/vkga/cert-0.pem")'")" = 1 ] ||
	setup_fail "the victim's archived key: $(head -c 300 "$w/vkga.out")"
enroll ra /CN=az-ra && cli ra add az-ra --cert "$w/ra.pem" >/dev/null 2>&1 ||
	setup_fail "RA"
enroll revoked /CN=az-revoked &&
	cli cert revoke "$(serial_of "$w/revoked.pem")" --reason 1 >/dev/null 2>&1 ||
	setup_fail "revoked certificate"
# The secrets' own certificates (enrolled under their subjects).
for c in bound free other used expired none san; do
	enroll "own-sec-$c" "/CN=az-$c" || setup_fail "certificate of $c"
done
osc used-txn "$url_demo" "$subj_demo" ir -ref az-used -secret env:AZ_USED \
    -newkey "$w/new.key" -subject /CN=az-used -disable_confirm ||
	setup_fail "the spending ir of az-used"
osc expired-txn "$url_demo" "$subj_demo" ir -ref az-expired \
    -secret env:AZ_EXPIRED -newkey "$w/new.key" -subject /CN=az-expired \
    -disable_confirm || setup_fail "the ir of az-expired"
q "update enroll_secret set expires = now() - interval '1 minute' where ref = 'az-expired'" >/dev/null

# ee-retired: a certificate of azsub (under demo), then azsub retired.
cli ca create azsub --subject "/O=cmpca/CN=AZ Sub" --issuer demo --key ec:P-256 \
    --days 30 >/dev/null 2>&1 || setup_fail "ca create azsub"
cli ca export azsub | awk '/BEGIN CERT/ { i++ } i == 1' >"$w/azsub.pem"
openssl ecparam -genkey -name prime256v1 -noout -out "$w/retired.key" 2>/dev/null
osc retired "$url_demo/p/azsub" "/O=cmpca/CN=AZ Sub" ir -ref az-free -secret env:AZ_FREE \
    -newkey "$w/retired.key" -subject /CN=az-retired -implicit_confirm &&
	test -s "$w/retired.pem" || setup_fail "certificate of azsub"
cli ca retire azsub >/dev/null 2>&1 || setup_fail "ca retire azsub"
# ee-oldkey: a certificate of root azroll, then azroll rolled over; the
# client sends the oldWithNew link.
cli ca create azroll --subject "/O=cmpca/CN=AZ Roll" --key ec:P-256 --days 30 \
    >/dev/null 2>&1 || setup_fail "ca create azroll"
cli ca export azroll >>"$w/cas.pem"
openssl ecparam -genkey -name prime256v1 -noout -out "$w/oldkey.key" 2>/dev/null
osc oldkey "$url_demo/p/azroll" "/O=cmpca/CN=AZ Roll" ir -ref az-free -secret env:AZ_FREE \
    -newkey "$w/oldkey.key" -subject /CN=az-oldkey -implicit_confirm &&
	test -s "$w/oldkey.pem" || setup_fail "certificate of azroll"
cli ca rollover azroll >/dev/null 2>&1 || setup_fail "ca rollover azroll"
cli ca export azroll | awk '/BEGIN CERT/ { i++ } i == 1' >>"$w/cas.pem"
q "select encode(c.der, 'hex') from ca_cert c join ca on ca.id = c.ca_id where ca.label = 'azroll' and c.kind = 'old-with-new'" |
    xxd -r -p | openssl x509 -inform DER -out "$w/oldwithnew.pem" 2>/dev/null ||
	setup_fail "oldWithNew of azroll"
# ee-cross: partner CA "AZ Partner" gets a cross certificate from demo
# (ccr), and one of its end entities.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$w/partner.key" -out "$w/partner.pem" -subj "/CN=AZ Partner" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
cli partner add azp --cert "$w/partner.pem" --ca demo >/dev/null 2>&1 || setup_fail "partner add"
"$top/tests/bc/cmpclient" ccr --url "$url_demo" --recipient "$subj_demo" --ca-cert "$CMPCA_CA_CERT" \
    --prot-key "$w/partner.key" --prot-cert "$w/partner.pem" --key "$w/partner.key" \
    --subject "/CN=AZ Partner" --out-dir "$w/xp" >"$w/xp.out" 2>&1
[ -s "$w/xp/cert-0.pem" ] || setup_fail "cross certificate for the partner: $(head -c 300 "$w/xp.out")"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$w/cross.key" -subj "/CN=az-cross" -out "$w/cross.csr" 2>/dev/null
openssl x509 -req -in "$w/cross.csr" -CA "$w/partner.pem" -CAkey "$w/partner.key" \
    -CAcreateserial -days 10 -extfile "$ext/dev.ext" -out "$w/cross.pem" 2>/dev/null ||
	setup_fail "partner end entity"

# cred_setup CRED OP: sets prot (openssl cmp protection options), bcprot
# (the BC client's), own_subj, own_cert and own_key for the row.
n_fresh=0
cred_setup() {
	local cred=$1 op=$2
	own_chain=
	case $cred in
	sec-*|none)
		local ref=az-${cred#sec-} var
		case $cred in
		sec-bound) var=AZ_BOUND ;; sec-free) var=AZ_FREE ;;
		sec-other) var=AZ_OTHER ;; sec-used) var=AZ_USED ;;
		sec-expired) var=AZ_EXPIRED ;; sec-san) var=AZ_SAN ;;
		esac
		own_subj=/CN=az-${cred#sec-}
		# Bound to DNS:*.az.example: the CN is one of those names
		# or absent (issue 22).
		[ "$cred" = sec-san ] && own_subj=/CN=a.az.example
		own_cert=$w/own-sec-${cred#sec-}.pem
		own_key=$w/own-sec-${cred#sec-}.key
		if [ "$cred" = none ]; then
			prot=(-unprotected_requests -ref anonymous)
			bcprot=(--unprotected)
		else
			prot=(-ref "$ref" -secret "env:$var")
			bcprot=(--ref "$ref" --secret-env "$var")
		fi
		return 0 ;;
	ee-valid)
		n_fresh=$((n_fresh + 1))
		enroll "ee$n_fresh" "/CN=az-ee-$n_fresh" || return 1
		own_subj=/CN=az-ee-$n_fresh own_cert=$w/ee$n_fresh.pem
		own_key=$w/ee$n_fresh.key ;;
	ee-revoked)
		own_subj=/CN=az-revoked own_cert=$w/revoked.pem
		own_key=$w/revoked.key ;;
	ra)
		own_subj=/CN=az-ra own_cert=$w/ra.pem own_key=$w/ra.key
		if [ "$op" = rr ] || [ "$op" = kur ]; then
			# rr/kur of its own certificate would end the RA.
			n_fresh=$((n_fresh + 1))
			enroll "ra$n_fresh" /CN=az-ra || return 1
			cli ra add "az-ra$n_fresh" --cert "$w/ra$n_fresh.pem" \
			    >/dev/null 2>&1 || return 1
			own_cert=$w/ra$n_fresh.pem own_key=$w/ra$n_fresh.key
		fi ;;
	ext)
		own_subj=/CN=az-ext own_cert=$w/ext.pem own_key=$w/ext.key ;;
	ee-retired)
		own_subj=/CN=az-retired own_cert=$w/retired.pem
		own_key=$w/retired.key own_chain=$w/azsub.pem ;;
	ee-oldkey)
		own_subj=/CN=az-oldkey own_cert=$w/oldkey.pem
		own_key=$w/oldkey.key own_chain=$w/oldwithnew.pem ;;
	ee-cross)
		own_subj=/CN=az-cross own_cert=$w/cross.pem
		own_key=$w/cross.key own_chain=$w/xp/cert-0.pem ;;
	*) return 1 ;;
	esac
	prot=(-cert "$own_cert" -key "$own_key")
	bcprot=(--prot-cert "$own_cert" --prot-key "$own_key")
	if [ -n "$own_chain" ]; then
		prot+=(-extracerts "$own_chain")
		bcprot+=(--prot-chain "$own_chain")
	fi
}

# outcome FILE: "ok" or the failInfo of a cmpdump/BC client line.
outcome() {
	local line
	line=$(head -n 1 "$1")
	case $line in
	body=genp*|body=pkiconf*|body=pkiConf*|body=pollRep*) echo ok; return ;;
	body=ip*|body=cp*|body=kup*|body=rp*|body=krp*)
		if echo "$line" | grep -Eq 'status(\[0\])?=[01] '; then
			echo ok
			return
		fi ;;
	"") echo "no-response"; return ;;
	esac
	echo "$line" | tr ' ' '\n' | sed -n 's/^failinfo\(\[0\]\)\{0,1\}=//p' |
	    head -n 1
}

# row CRED OP TARGET: sends the request; leaves the outcome in $w/row.txt.
row() {
	local cred=$1 op=$2 target=$3 url=$url_demo recip=$subj_demo subj
	: >"$w/row.txt"
	cred_setup "$cred" "$op" || { echo "setup-failed" >"$w/row.txt"; return; }
	if [ "$target" = otherca ]; then
		url=$url_other recip=$subj_other
	elif [ "$target" = home ]; then
		url=$url_demo/p/azroll recip="/O=cmpca/CN=AZ Roll"
	fi
	subj=$own_subj
	[ "$target" = other ] && subj=/CN=az-victim
	[ "$target" = idev ] && subj=$subj_idev
	case $op in
	ir|cr)
		# -issuer: openssl cmp would name the protection
		# certificate's issuer otherwise.
		osc r "$url" "$recip" "$op" "${prot[@]}" -newkey "$w/new.key" \
		    -subject "$subj" -issuer "$recip" -implicit_confirm ;;
	p10cr)
		openssl req -new -key "$w/new.key" -subj "$subj" \
		    -out "$w/r.csr" 2>/dev/null
		osc r "$url" "$recip" p10cr "${prot[@]}" -csr "$w/r.csr" \
		    -implicit_confirm ;;
	ir-eku|ir-ku|ir-san|ir-sanok|ir-santype|ir-sanidev)
		osc r "$url" "$recip" ir "${prot[@]}" -newkey "$w/new.key" \
		    -subject "$subj" -issuer "$recip" -implicit_confirm \
		    -reqexts ev -config "$w/ext-$op.cnf" ;;
	p10cr-dupext)
		openssl req -new -key "$w/new.key" -subj "$subj" \
		    -config "$w/dupext.cnf" -out "$w/r.csr" 2>/dev/null
		osc r "$url" "$recip" p10cr "${prot[@]}" -csr "$w/r.csr" \
		    -implicit_confirm ;;
	kur|rr)
		local old=$own_cert
		if [ "$target" = viara ]; then
			# A certificate this RA obtained (a fresh one).
			n_fresh=$((n_fresh + 1))
			osc "viara$n_fresh" "$url" "$recip" ir -cert "$own_cert" \
			    -key "$own_key" -newkey "$w/new.key" \
			    -subject /CN=az-via-ra -issuer "$recip" \
			    -implicit_confirm || return 1
			old=$w/viara$n_fresh.pem
		elif [ "$target" = other ]; then
			# A fresh victim: an allowed rr must not change later rows.
			n_fresh=$((n_fresh + 1))
			enroll "victim$n_fresh" /CN=az-victim || return 1
			old=$w/victim$n_fresh.pem
		fi
		if [ "$op" = kur ]; then
			osc r "$url" "$recip" kur "${prot[@]}" -oldcert "$old" \
			    -newkey "$w/new.key" -implicit_confirm
		else
			osc r "$url" "$recip" rr "${prot[@]}" -oldcert "$old" \
			    -revreason 4
		fi ;;
	genm)
		osc r "$url" "$recip" genm "${prot[@]}" -infotype signKeyPairTypes ;;
	krr)
		# The victim's archived key (Bouncy Castle: openssl cmp
		# cannot send krr).
		"$top/tests/bc/cmpclient" krr --url "$url" --recipient "$recip" \
		    --ca-cert "$CMPCA_CA_CERT" "${bcprot[@]}" \
		    --old-cert "$w/vkga/cert-0.pem" >"$w/bc.out" 2>&1
		grep '^body=' "$w/bc.out" | head -n 1 >"$w/bc.line"
		outcome "$w/bc.line" >"$w/row.txt"
		return ;;
	certconf|pollreq)
		local tx nonce cert=$w/victim.pem
		if [ "$op" = pollreq ]; then
			tx=$vwait_tx nonce=$vwait_nonce
		elif [ "$target" != own ]; then
			tx=$vconf_tx nonce=$vconf_nonce cert=$w/vconf.pem
		elif [ "$cred" = sec-used ] || [ "$cred" = sec-expired ]; then
			tx=$(field "${cred#sec-}-txn" tx)
			nonce=$(field "${cred#sec-}-txn" snonce)
			cert=$w/${cred#sec-}-txn.pem
		else
			# Its own transaction, left waiting for the certConf.
			osc own "$url" "$recip" ir "${prot[@]}" \
			    -newkey "$w/new.key" -subject "$own_subj" \
			    -issuer "$recip" -disable_confirm
			tx=$(field own tx) nonce=$(field own snonce)
			cert=$w/own.pem
		fi
		"$top/tests/bc/cmpclient" "$op" --url "$url" --recipient "$recip" \
		    "${bcprot[@]}" --txid "$tx" --recip-nonce "$nonce" \
		    --cert "$cert" >"$w/bc.out" 2>&1
		grep '^body=' "$w/bc.out" | head -n 1 >"$w/bc.line"
		outcome "$w/bc.line" >"$w/row.txt"
		return ;;
	esac
	if [ -s "$w/r.rsp" ]; then
		dump "$w/r.rsp" >"$w/r.line" 2>&1
		outcome "$w/r.line" >"$w/row.txt"
	else
		echo "no-response" >"$w/row.txt"
	fi
}

nrows=0
while IFS=$'\t' read -r cred op target expect; do
	case $cred in ''|'#'*) continue ;; esac
	nrows=$((nrows + 1))
	row "$cred" "$op" "$target"
	got=$(cat "$w/row.txt")
	if [ "$got" = "$expect" ]; then
		pass "$cred $op $target: $expect"
	else
		fail "$cred $op $target" "expected $expect, got ${got:-nothing} ($(tail -n 2 "$w/r.out" "$w/bc.out" 2>/dev/null | tr '\n' ' ' | cut -c1-300))"
	fi
done <"$table"

# Refused rows leave no trace on the victim's side.
check "table read: $nrows rows" test "$nrows" -gt 200
check "no certificate for CN=az-victim requested by a refused credential" \
    test "$(q "select count(*) from cert where subject = 'CN=az-victim' and requester not in ('secret:demo', 'secret:az-free') and requester not like 'ra:%'")" = 0
check "the victim's transaction still waits for its certConf" test \
    "$(q "select state from cmp_txn where encode(id, 'hex') = '$vconf_tx'")" = wait_conf
check "the victim's request still waits for the operator" test \
    "$(q "select count(*) from pending_req where status = 'pending' and subject = 'CN=az-victim-wait'")" = 1
check "the victim's first certificate is still valid" test "$(db_status "$w/victim.pem")" = valid
check "the victim's archived key was recovered by nobody (no key-recover audit)" \
    test "$(q "select count(*) from audit where event = 'key-recover'")" = 0

check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

# IDevID -> LDevID in detail: what is issued, what is refused and why.
openssl ecparam -genkey -name prime256v1 -noout -out "$w/ldev.key" 2>/dev/null
printf '%s\n' "[ev]" "subjectAltName = DNS:az-ldev-42.devices.az.example" \
    >"$w/ldev.cnf"
idev() { # NAME SUBJECT [options]: ir signed by the device certificate
	local name=$1 subj=$2
	shift 2
	osc "$name" "$url_demo" "$subj_demo" ir -cert "$w/ext.pem" \
	    -key "$w/ext.key" -newkey "$w/ldev.key" -subject "$subj" \
	    -issuer "$subj_demo" -implicit_confirm "$@"
}
idev ldev "/O=AZ Devices/CN=az-ldev-42" -reqexts ev -config "$w/ldev.cnf"
check "idevid: the LDevID has the subject asked for" test \
    "$(subject_of "$w/ldev.pem")" = "CN=az-ldev-42,O=AZ Devices"
check "idevid: the LDevID has the name asked for" bash -c \
    "openssl x509 -in '$w/ldev.pem' -noout -ext subjectAltName | grep -q DNS:az-ldev-42.devices.az.example"
check "idevid: the LDevID certifies the request's key" same_pubkey \
    "$w/ldev.pem" "$w/ldev.key"
check "idevid: the LDevID is valid in the database, requested by the device" \
    test "$(q "select status || ' ' || requester from cert where serial = '$(serial_of "$w/ldev.pem")'")" = "valid cert:/CN=az-ext"
check "idevid: the LDevID chains to the CA" chains "$w/ldev.pem"
idev ldevout "/O=AZ Others/CN=az-ldev-43"
check "idevid: a subject outside external_subject: notAuthorized naming the rule" \
    grep -qF "failinfo=notAuthorized text=\"subject /O=AZ Others/CN=az-ldev-43 differs from the protection certificate's and matches no external_subject of profile default" \
    <(dump "$w/ldevout.rsp")
# The second client: one ir from the device, two CertReqMsgs, the first
# inside external_subject (issued), the second outside (rejected alone).
"$top/tests/bc/cmpclient" ir --url "$url_demo" --recipient "$subj_demo" \
    --prot-cert "$w/ext.pem" --prot-key "$w/ext.key" --implicit-confirm \
    --key "$w/ldev.key" --subject "/O=AZ Devices/OU=Gateways/CN=az-gw-1" \
    --key "$w/new.key" --subject "/O=AZ Others/CN=az-gw-2" \
    --out-dir "$w/bcidev" >"$w/bcidev.out" 2>&1
grep '^body=' "$w/bcidev.out" | head -n 1 | tr ' ' '\n' >"$w/bcidev.fields"
check "idevid (Bouncy Castle): the subject inside external_subject issued" \
    grep -qx 'status\[0\]=0' "$w/bcidev.fields"
check "idevid (Bouncy Castle): the one outside rejected, notAuthorized" \
    grep -qx 'failinfo\[1\]=notAuthorized' "$w/bcidev.fields"
check "idevid (Bouncy Castle): the gateway's certificate, its key, in the database" \
    test "$(subject_of "$w/bcidev/cert-0.pem") $(db_status "$w/bcidev/cert-0.pem")" = \
    "CN=az-gw-1,OU=Gateways,O=AZ Devices valid"
check "idevid (Bouncy Castle): the certificate certifies the request's key" \
    same_pubkey "$w/bcidev/cert-0.pem" "$w/ldev.key"
# Without the profile keys (the default): own subject only.
stack_down
unset CMPCA_CONF_EXTRA
e2e_stack_up
idev ldevdef "/O=AZ Devices/CN=az-ldev-44"
check "idevid: refused by default, naming the rule and the profile" \
    grep -qF "failinfo=notAuthorized text=\"subject /O=AZ Devices/CN=az-ldev-44 differs from the protection certificate's and profile default allows only its own (external_subject)" \
    <(dump "$w/ldevdef.rsp")
check "idevid: nothing issued outside the patterns or by default" test \
    "$(q "select count(*) from cert where subject in ('CN=az-ldev-43,O=AZ Others', 'CN=az-ldev-44,O=AZ Devices', 'CN=az-gw-2,O=AZ Others')")" = 0
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"
stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

e2e_done
