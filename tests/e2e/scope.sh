#!/bin/bash
# Scope of a credential (issue 22, findings 2, 3, 6, 7 and the smaller
# ones of 9) on the real stack: each attack as the review ran it, with
# stock `openssl cmp` (the Bouncy Castle client where a request needs
# several CertReqMsgs or a poll), and the refusal with its PKIFailureInfo.
#
#   2  a holder escapes its profile: cr signed by a certificate of profile
#      strict (or approval) is served under that profile, not default;
#      renew_profile; what a certificate obtained is linked to it, and
#      `cmpca cert revoke --cascade` revokes it, recursively, audited
#   3  identity r2's end entity enrols at demo: notAuthorized, unless
#      identity_accepts lists it
#   6  RA "site" revokes certificates that never passed through it:
#      notAuthorized, the same for a serial that does not exist;
#      ra_revoke_scope = profile widens it
#   7  a CA retired: the next requests through it are refused, none
#      issued (the issuing statement checks the path, not the cache)
#   9  --uses 1 gives one certificate of two CertReqMsgs; secret
#      disable|enable|remove; old-key end entities kur and rr after a
#      rollover (and nothing else); cmp_txn pruned after txn_retention
#
# usage: tests/e2e/scope.sh [--bin DIR]
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup scope 18760 --port-var CMPCA_SCOPE_TEST_PORT --scan-to 18769 -- "$@"
export CMPCA_POLL_AFTER=1 CMPCA_HOUSEKEEPING=2
w=$work
# A profile whose holders renew into strict (renew_profile).
printf '%s\n' "[profile.init]" "days = 7" "extensions = ext_default" \
    "key_types = ec:P-256" "san_types = dns" \
    "key_usage = digitalSignature, keyEncipherment" \
    "ext_key_usage = clientAuth, serverAuth" "renew_profile = strict" \
    >"$w/extra.cnf"
export CMPCA_CONF_EXTRA=$w/extra.cnf
e2e_build_bc_client
e2e_stack_up
export CMPCA_SECRET
setup_fail() { echo "set-up failed: $*"; tail -n 5 "$w"/*.out 2>/dev/null | tail -n 12; echo "$npass passed, $((nfail + 1)) failed"; exit 1; }

url=$CMPCA_URL
demo=$CMPCA_CA_SUBJECT
cp "$CMPCA_CA_CERT" "$w/cas.pem"
# newca LABEL SUBJECT [ca create options]: a CA, its certificate trusted.
newca() {
	local label=$1 subj=$2
	shift 2
	cli ca create "$label" --subject "$subj" --key ec:P-256 --days 30 "$@" \
	    >/dev/null 2>&1 || setup_fail "ca create $label"
	cli ca export "$label" >>"$w/cas.pem"
}
# osc NAME URL RECIPIENT CMD args...: openssl cmp; $w/NAME.rsp, .pem, .out.
osc() {
	local name=$1 u=$2 recip=$3 cmd=$4
	shift 4
	rm -f "$w/$name.rsp" "$w/$name.pem"
	openssl cmp -cmd "$cmd" -server "$u" -recipient "$recip" \
	    -trusted "$w/cas.pem" -unprotected_errors -certout "$w/$name.pem" \
	    -rspout "$w/$name.rsp" "$@" >"$w/$name.out" 2>&1
}
key() { openssl ecparam -genkey -name prime256v1 -noout -out "$w/$1.key" 2>/dev/null; }
# enroll NAME SUBJECT [URL RECIPIENT [REF VAR]]: ir with a secret (demo's).
enroll() {
	local name=$1 subj=$2 u=${3:-$url} r=${4:-$demo} ref=${5:-$CMPCA_SECRET_REF}
	local var=${6:-CMPCA_SECRET}
	key "$name"
	osc "$name" "$u" "$r" ir -ref "$ref" -secret "env:$var" \
	    -newkey "$w/$name.key" -subject "$subj" -implicit_confirm
}
# signed NAME CERT CMD URL RECIPIENT args...: a request signed by CERT
# ($w/CERT.pem, $w/CERT.key) for a new key $w/NAME.key (-issuer: openssl
# cmp would name the protection certificate's issuer otherwise).
signed() {
	local name=$1 c=$2 cmd=$3 u=$4 r=$5
	shift 5
	key "$name"
	osc "$name" "$u" "$r" "$cmd" -cert "$w/$c.pem" -key "$w/$c.key" \
	    -newkey "$w/$name.key" -issuer "$r" "$@"
}
# failinfo NAME / text NAME: of cmpdump's line for $w/NAME.rsp.
failinfo() { dump "$w/$1.rsp" 2>/dev/null | tr ' ' '\n' | sed -n 's/^failinfo\(\[0\]\)\{0,1\}=//p' | head -n 1; }
text() { dump "$w/$1.rsp" 2>/dev/null | sed -n 's/.*text="\([^"]*\)".*/\1/p' | head -n 1; }
row() { q "select $2 from cert where serial = '$(serial_of "$w/$1.pem")'"; }
days_of() {
	echo $(( ($(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s) -
	    $(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s)) / 86400 ))
}
sha256_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
secret() { # VAR REF cmpca-secret-add-options...
	local var=$1 ref=$2 v
	shift 2
	v=$(cli secret add "$ref" "$@" 2>/dev/null) || setup_fail "secret add $ref"
	export "$var=$v"
}

# --- 2. A holder escapes its profile ------------------------------------
secret S_STRICT sc-strict --profile strict --uses -1
enroll strict /CN=sc-strict "$url" "$demo" sc-strict S_STRICT ||
	setup_fail "certificate under strict"
check "2: the strict certificate is recorded under profile strict" \
    test "$(row strict profile)" = strict
check "2: ... with the secret as its credential" \
    test "$(row strict credential)" = secret:sc-strict
openssl genrsa -out "$w/rsa.key" 2048 2>/dev/null
osc strict-rsa "$url" "$demo" cr -cert "$w/strict.pem" -key "$w/strict.key" \
    -newkey "$w/rsa.key" -subject /CN=sc-strict -implicit_confirm
check "2: cr signed by the strict certificate for an RSA key: badCertTemplate" \
    test "$(failinfo strict-rsa)" = badCertTemplate
check "2: ... naming the profile's key rule" grep -q "not allowed by the profile" \
    <(text strict-rsa)
signed strict-cr strict cr "$url" "$demo" -subject /CN=sc-strict -implicit_confirm
check "2: cr signed by the strict certificate is issued" test -s "$w/strict-cr.pem"
check "2: ... for 90 days (strict), not 365 (default)" test "$(days_of "$w/strict-cr.pem")" = 90
check "2: ... recorded under profile strict" test "$(row strict-cr profile)" = strict
check "2: ... credential: the strict certificate by its SHA-256" \
    test "$(row strict-cr credential)" = "cert:sha256:$(sha256_of "$w/strict.pem")"
check "2: ... obtained with the strict certificate" \
    test "$(row strict-cr obtained_with)" = "$(row strict id)"
check "2: ... and valid after the certConf" test "$(row strict-cr status)" = valid
signed strict-ic strict cr "$url" "$demo" -subject /CN=sc-strict \
    -implicit_confirm -disable_confirm
check "2: implicitConfirm asked of strict is not granted: unconfirmed without certConf" \
    test "$(row strict-ic status)" = unconfirmed
# A certificate obtained with the one obtained: the chain for --cascade.
signed strict-cr2 strict-cr cr "$url" "$demo" -subject /CN=sc-strict
check "2: a certificate obtained with the obtained one links to it" \
    test "$(row strict-cr2 obtained_with)" = "$(row strict-cr id)"
enroll bystander /CN=sc-strict || setup_fail "bystander"

# Approval carries over: the holder's cr waits for the operator.
secret S_WAIT sc-wait --profile approval --uses -1
pending_id() { # subject: the id of its pending request, waiting for it
	local id=
	for _ in $(seq 40); do
		id=$(q "select id from pending_req where subject = '$1' and status = 'pending'")
		[ -n "$id" ] && break
		sleep 0.25
	done
	echo "$id"
}
key waited
osc waited "$url" "$demo" ir -ref sc-wait -secret env:S_WAIT \
    -newkey "$w/waited.key" -subject /CN=sc-wait -total_timeout 30 &
client=$!
id=$(pending_id CN=sc-wait)
[ -n "$id" ] && cli request approve "$id" >/dev/null 2>&1
wait "$client"
[ -s "$w/waited.pem" ] || setup_fail "approved certificate"
"$top/tests/bc/cmpclient" cr --url "$url" --recipient "$demo" \
    --prot-cert "$w/waited.pem" --prot-key "$w/waited.key" \
    --ca-cert "$CMPCA_CA_CERT" --newkey ec:P-256 --subject /CN=sc-wait \
    --out-dir "$w/wait1" --poll-max 0 >"$w/wait1.out" 2>&1
check "2: cr signed by a certificate of profile approval waits (status 3)" \
    grep -q "status\[0\]=3" "$w/wait1.out"
check "2: ... the request kept for the operator under profile approval" test \
    "$(q "select profile from pending_req where subject = 'CN=sc-wait' and status = 'pending'")" = approval
check "2: ... and nothing issued to it" test \
    "$(q "select count(*) from cert where subject = 'CN=sc-wait'")" = 1

# renew_profile: a holder of profile init renews (kur) into strict.
secret S_INIT sc-init --profile init --uses -1
enroll init /CN=sc-init "$url" "$demo" sc-init S_INIT || setup_fail "init certificate"
check "renew_profile: the first certificate is of profile init (7 days)" \
    test "$(row init profile) $(days_of "$w/init.pem")" = "init 7"
key init-kur
osc init-kur "$url" "$demo" kur -cert "$w/init.pem" -key "$w/init.key" \
    -oldcert "$w/init.pem" -newkey "$w/init-kur.key" -implicit_confirm
check "renew_profile: kur issues under strict (90 days)" \
    test "$(row init-kur profile) $(days_of "$w/init-kur.pem")" = "strict 90"

# revoke --cascade: the strict certificate is compromised.
cli cert revoke "$(serial_of "$w/strict.pem")" --reason 1 --cascade >"$w/cascade.out" 2>&1
check "2: cert revoke --cascade revokes the credential" test "$(row strict status)" = revoked
check "2: ... what it obtained" test "$(row strict-cr status) $(row strict-cr reason)" = "revoked 1"
check "2: ... and what that obtained (recursively)" test "$(row strict-cr2 status)" = revoked
check "2: ... not a certificate obtained otherwise" test "$(row bystander status)" = valid
# strict-cr, strict-cr2 and the unconfirmed strict-ic.
check "2: ... each audited as a cascade" test "$(q "select count(*) from audit
    where event = 'revoke' and detail like '%(cascade from $(serial_of "$w/strict.pem"))'")" = 3
check "2: ... the unconfirmed one too" test "$(row strict-ic status)" = revoked
check "2: ... and it says so" grep -q "^3 certificate(s) obtained with" "$w/cascade.out"

# --- 3. Each identity trusts its own end entities -----------------------
# A secret for any CA (the demo secret is bound to demo).
secret S_ANY sc-any --uses -1
newca r2 "/O=cmpca/CN=Scope R2"
r2="/O=cmpca/CN=Scope R2"
enroll r2ee /CN=sc-r2 "$url/p/r2" "$r2" sc-any S_ANY || setup_fail "certificate of r2"
sleep 6 # every worker's trust store has r2 as an anchor (CA_CACHE_CHECK)
signed r2-at-demo r2ee cr "$url" "$demo" -subject /CN=sc-r2 -implicit_confirm
check "3: r2's end entity enrolling at demo: notAuthorized" \
    test "$(failinfo r2-at-demo)" = notAuthorized
check "3: ... naming identity_accepts" grep -q "identity_accepts" <(text r2-at-demo)
check "3: ... nothing issued" test ! -s "$w/r2-at-demo.pem"
signed r2-at-r2 r2ee cr "$url/p/r2" "$r2" -subject /CN=sc-r2 -implicit_confirm
check "3: ... at its own CA r2: issued" test "$(row r2-at-r2 status)" = valid
newca sub "/O=cmpca/CN=Scope Sub" --issuer demo
cli ca export sub | awk '/BEGIN CERT/ { i++ } i == 1' >"$w/sub.pem"
enroll subee /CN=sc-sub "$url/p/sub" "/O=cmpca/CN=Scope Sub" sc-any S_ANY ||
	setup_fail "certificate of sub"
signed sub-at-demo subee cr "$url" "$demo" -subject /CN=sc-sub \
    -extracerts "$w/sub.pem" -implicit_confirm
check "3: a subordinate's end entity at its parent: notAuthorized" \
    test "$(failinfo sub-at-demo)" = notAuthorized
sleep 6 # and once every worker's trust store knows sub
signed sub-at-demo2 subee cr "$url" "$demo" -subject /CN=sc-sub \
    -extracerts "$w/sub.pem" -implicit_confirm
check "3: ... also once every worker knows sub: notAuthorized naming it" \
    grep -q "issued by CA sub" <(text sub-at-demo2)

# --- 6. RA scope --------------------------------------------------------
enroll ra /CN=sc-site-ra && cli ra add site --cert "$w/ra.pem" --profile site \
    >/dev/null 2>&1 || setup_fail "RA site"
enroll victim /CN=sc-victim || setup_fail "victim"
osc ra-rr-victim "$url" "$demo" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/victim.pem" -revreason 1
check "6: RA site revoking demo's certificate it never saw: notAuthorized" \
    test "$(failinfo ra-rr-victim)" = notAuthorized
check "6: ... naming its scope" grep -q "scope of this RA" <(text ra-rr-victim)
check "6: ... the victim still valid" test "$(row victim status)" = valid
key dev
osc dev "$url" "$demo" ir -cert "$w/ra.pem" -key "$w/ra.key" -newkey "$w/dev.key" \
    -subject /CN=d1.site.example -sans d1.site.example -implicit_confirm
check "6: the RA enrols a device (credential ra:site)" test "$(row dev credential)" = ra:site
# A serial that does not exist: the same answer (no oracle).
openssl req -x509 -key "$w/dev.key" -subj "$demo" -days 1 -set_serial 0x7e57 \
    -out "$w/fake.pem" 2>/dev/null
osc ra-rr-fake "$url" "$demo" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/fake.pem" -revreason 1
check "6: ... a serial that does not exist: the same refusal" \
    test "$(failinfo ra-rr-fake)|$(text ra-rr-fake)" = "$(failinfo ra-rr-victim)|$(text ra-rr-victim)"
osc ra-rr-dev "$url" "$demo" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/dev.pem" -revreason 1
check "6: the RA revokes the device it enrolled" test "$(row dev status)" = revoked
osc ra-rr-r2 "$url/p/r2" "$r2" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/r2-at-r2.pem" -revreason 1
check "6: ... not r2's certificate" test "$(row r2-at-r2 status)" = valid
check "6: ... refused with notAuthorized" test "$(failinfo ra-rr-r2)" = notAuthorized
secret S_SITE sc-site --profile site --uses -1
key site2
osc site2 "$url" "$demo" ir -ref sc-site -secret env:S_SITE -newkey "$w/site2.key" \
    -subject /CN=d2.site.example -sans d2.site.example -implicit_confirm
# One of profile site with a name outside its ra_san (a secret may).
key site3
osc site3 "$url" "$demo" ir -ref sc-site -secret env:S_SITE -newkey "$w/site3.key" \
    -subject /CN=d3.other.example -sans d3.other.example -implicit_confirm
osc ra-rr-site2 "$url" "$demo" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/site2.pem" -revreason 1
check "6: default scope (own): a certificate of its profile not obtained through it is refused" \
    test "$(failinfo ra-rr-site2) $(row site2 status)" = "notAuthorized valid"

# --- 9. Uses counted per certificate ------------------------------------
secret S_ONE sc-one --uses 1
"$top/tests/bc/cmpclient" ir --url "$url" --recipient "$demo" --ref sc-one \
    --secret-env S_ONE --newkey ec:P-256 --newkey ec:P-256 --subject /CN=sc-one-a \
    --subject /CN=sc-one-b --implicit-confirm --out-dir "$w/one" >"$w/one.out" 2>&1
grep '^body=' "$w/one.out" | head -n 1 | tr ' ' '\n' >"$w/one.fields"
check "9: --uses 1, two CertReqMsgs: the first issued" grep -qx 'status\[0\]=0' "$w/one.fields"
check "9: ... the second rejected, notAuthorized" grep -qx 'failinfo\[1\]=notAuthorized' "$w/one.fields"
check "9: ... one certificate in the database" test \
    "$(q "select count(*) from cert where subject like 'CN=sc-one-%'")" = 1
check "9: ... the secret used up" test \
    "$(q "select uses_left from enroll_secret where ref = 'sc-one'")" = 0

# --- 9. secret disable|enable|remove ------------------------------------
secret S_DIS sc-dis --uses -1
enroll dis-ok /CN=sc-dis "$url" "$demo" sc-dis S_DIS
check "9: the secret works before" test "$(row dis-ok status)" = valid
cli secret disable sc-dis >/dev/null 2>&1
export S_NONE=$S_DIS
enroll dis /CN=sc-dis "$url" "$demo" sc-dis S_DIS
enroll unknown /CN=sc-dis "$url" "$demo" sc-no-such S_NONE
check "9: a disabled secret: refused" test -n "$(failinfo dis)" -a ! -s "$w/dis.pem"
check "9: ... exactly like an unknown reference (failinfo and text)" \
    test "$(failinfo dis)|$(text dis)" = "$(failinfo unknown)|$(text unknown)"
check "9: ... listed as disabled" grep -q "^sc-dis.*disabled" <(cli secret list)
cli secret enable sc-dis >/dev/null 2>&1
enroll dis-again /CN=sc-dis "$url" "$demo" sc-dis S_DIS
check "9: enabled again, it works" test "$(row dis-again status)" = valid
cli secret remove sc-dis >/dev/null 2>&1
enroll removed /CN=sc-dis "$url" "$demo" sc-dis S_DIS
check "9: removed: refused like an unknown reference" \
    test "$(failinfo removed)|$(text removed)" = "$(failinfo unknown)|$(text unknown)"
check "9: disable, enable and remove audited" test "$(q "select string_agg(event, ',' order by id)
    from audit where detail = 'sc-dis' and event in ('secret-disable',
    'secret-enable', 'secret-remove')")" = \
    secret-disable,secret-enable,secret-remove
check "9: removing an unknown secret fails" bash -c "! $CMPCA_CLI secret remove sc-dis"

# --- 9. Old-key end entities after a rollover ---------------------------
newca roll "/O=cmpca/CN=Scope Roll"
roll="/O=cmpca/CN=Scope Roll"
cp "$w/cas.pem" "$w/cas-old.pem"
enroll oldk /CN=sc-oldk "$url/p/roll" "$roll" sc-any S_ANY || setup_fail "certificate of roll"
enroll oldr /CN=sc-oldr "$url/p/roll" "$roll" sc-any S_ANY || setup_fail "certificate of roll"
enroll oldi /CN=sc-oldi "$url/p/roll" "$roll" sc-any S_ANY || setup_fail "certificate of roll"
cli ca rollover roll >/dev/null 2>&1 || setup_fail "ca rollover roll"
# Workers see the new key within CA_CACHE_CHECK (5 s); a kur before that
# gets systemUnavail ("try again"), which is not what is tested here.
sleep 6
cli ca export roll | awk '/BEGIN CERT/ { i++ } i == 1' >>"$w/cas.pem"
key oldk-new
osc oldk-kur "$url/p/roll" "$roll" kur -cert "$w/oldk.pem" -key "$w/oldk.key" \
    -oldcert "$w/oldk.pem" -newkey "$w/oldk-new.key" -implicit_confirm
check "9: an old-key certificate renews with kur after the rollover" \
    test "$(row oldk-kur status)" = valid
check "9: ... the new certificate is signed by the new key" \
    openssl verify -CAfile <(cli ca export roll | awk '/BEGIN CERT/ { i++ } i == 1') "$w/oldk-kur.pem"
check "9: ... and the old one superseded" test "$(row oldk status) $(row oldk reason)" = "revoked 4"
osc oldr-rr "$url/p/roll" "$roll" rr -cert "$w/oldr.pem" -key "$w/oldr.key" \
    -oldcert "$w/oldr.pem" -revreason 1
check "9: an old-key certificate revokes itself with rr" test "$(row oldr status)" = revoked
signed oldi-cr oldi cr "$url/p/roll" "$roll" -subject /CN=sc-oldi -implicit_confirm
check "9: ... but gets nothing else (cr: notAuthorized)" test "$(failinfo oldi-cr)" = notAuthorized

# --- 7. Retired takes effect in the transaction that issues -------------
newca r4 "/O=cmpca/CN=Scope R4"
newca r4sub "/O=cmpca/CN=Scope R4 Sub" --issuer r4
cli ca export r4sub | awk '/BEGIN CERT/ { i++ } i == 1' >"$w/r4sub.pem"
sleep 6 # every worker's trust store has r4 as an anchor (CA_CACHE_CHECK)
r4sub="/O=cmpca/CN=Scope R4 Sub"
enroll r4ee /CN=sc-r4 "$url/p/r4sub" "$r4sub" sc-any S_ANY ||
	setup_fail "certificate of r4sub"
# Every worker's trust store holds r4 as an anchor now.
for i in 1 2 3 4; do
	signed warm$i r4ee cr "$url/p/r4sub" "$r4sub" -subject /CN=sc-r4 \
	    -extracerts "$w/r4sub.pem" -implicit_confirm
done
check "7: before: the end entity of r4's subordinate is served" test -s "$w/warm4.pem"
cli ca retire r4 >/dev/null 2>&1 || setup_fail "ca retire r4"
t0=$(q "select now()")
for i in 1 2 3 4 5 6; do
	signed after$i r4ee cr "$url/p/r4sub" "$r4sub" -subject /CN=sc-r4 \
	    -extracerts "$w/r4sub.pem" -implicit_confirm
done
check "7: right after ca retire r4: nothing issued through it" test \
    "$(q "select count(*) from cert where subject = 'CN=sc-r4' and created >= '$t0'")" = 0
check "7: ... each request refused with signerNotTrusted" test \
    "$(for i in 1 2 3 4 5 6; do failinfo after$i; done | sort -u)" = signerNotTrusted

# --- 9. cmp_txn pruned after txn_retention (30 days by default) ---------
# Three finished transactions aged past the retention (the housekeeper
# may run at any moment: the ids are taken first).
ids=$(q "select string_agg(quote_literal(encode(id, 'hex')), ',') from
    (select id from cmp_txn t where state = 'done' and not exists
    (select 1 from pending_req p where p.txid = t.id) order by created limit 3) s")
n_before=$(q "select count(*) from cmp_txn")
q "update cmp_txn set updated = now() - interval '31 days' where encode(id, 'hex') in ($ids)" >/dev/null
sleep 5
check "9: three finished transactions to age" test "$(echo "$ids" | tr ',' '\n' | wc -l)" = 3
check "9: the housekeeper pruned the finished transactions past retention" test \
    "$(q "select count(*) from cmp_txn where encode(id, 'hex') in ($ids)")" = 0
check "9: ... and only those" test "$(q "select count(*) from cmp_txn")" = $((n_before - 3))

check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

# --- The keys that widen the scope --------------------------------------
stack_down
printf '%s\n' "[cmpca]" "identity_accepts = demo:r2" "ra_revoke_scope = profile" \
    >>"$w/extra.cnf"
e2e_stack_up
signed r2-accepted r2ee cr "$url" "$demo" -subject /CN=sc-r2 -implicit_confirm
check "3: identity_accepts = demo:r2: r2's end entity is served at demo" \
    test "$(row r2-accepted status)" = valid
signed sub-still subee cr "$url" "$demo" -subject /CN=sc-sub \
    -extracerts "$w/sub.pem" -implicit_confirm
check "3: ... sub's still is not" test "$(failinfo sub-still)" = notAuthorized
osc ra-rr-site2b "$url" "$demo" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/site2.pem" -revreason 1
check "6: ra_revoke_scope = profile: a certificate of its profile is revoked" \
    test "$(row site2 status)" = revoked
osc ra-rr-victim2 "$url" "$demo" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/victim.pem" -revreason 1
check "6: ... one of another profile still not" \
    test "$(failinfo ra-rr-victim2) $(row victim status)" = "notAuthorized valid"
osc ra-rr-site3 "$url" "$demo" rr -cert "$w/ra.pem" -key "$w/ra.key" \
    -oldcert "$w/site3.pem" -revreason 1
check "6: ... nor one of its profile with a name outside ra_san" \
    test "$(failinfo ra-rr-site3) $(row site3 status)" = "notAuthorized valid"
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"
stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"
e2e_done
