#!/bin/bash
# End-to-end tests of revocation status at once (issue 23) on the real
# stack (PostgreSQL, SoftHSM through libp11, nginx, cmpcad), checked with
# `openssl ocsp`, `openssl crl` and `openssl verify -crl_check`:
#   - right after `ca rollover`, the new key has its OCSP signer and a
#     certificate it signed, revoked for keyCompromise, is revoked in OCSP
#     at once and in the CRL the housekeeper issues at its next tick;
#   - certificateHold (operator, and the holder's rr) is listed as on hold
#     in CRL and OCSP within crl_delay; `cmpca cert release` makes it good
#     again and drops it from the next CRL; a hold revoked again is
#     permanent; both audited;
#   - a CRL file whose bytes were changed is rewritten from the database;
#   - a flood of nonced OCSP requests straight at the FastCGI socket
#     (past nginx's per-address limit, as a distributed flood) is answered
#     without a signature each, while CMP enrollments are still served.
# Port: CMPCA_REVOKE_TEST_PORT, else the first free one from 18770 to
# 18779.
#
# usage: tests/e2e/revoke.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup revoke 18770 --port-var CMPCA_REVOKE_TEST_PORT --scan-to 18779 --keep -- "$@"
# A full sweep every 3 s (the deep check of CRL files), CRLs due 3 s
# after a revocation.
export CMPCA_HOUSEKEEPING=3 CMPCA_CRL_DELAY=3
delay=3
e2e_stack_up
has() { grep -qE -- "$2" "$1"; }
ca_id() { q "select id from ca where label = '$1'"; }
metric() { # NAME LABELS: a counter of /metrics (0 when absent)
	curl -s "$CMPCA_METRICS_URL" | awk -v k="$1{$2}" '$1 == k { v = $2 } END { print v + 0 }'
}

# cmp_ir NAME SUBJECT: a new EC key enrolled under the demo CA with the
# demo secret; leaves $work/NAME.{key,pem,out}.
cmp_ir() {
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$1.key" 2>/dev/null
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/$1.key" -subject "$2" -certout "$work/$1.pem" \
	    >"$work/$1.out" 2>&1
}
# ocsp_is NAME CA CERT STATUS [REASON]: polls /ocsp (up to 8 s: a worker
# reads a new CA key at most every 5 s) until the verified answer for CERT
# says STATUS (and, if given, the reason).
ocsp_is() {
	local i
	for i in $(seq 16); do
		openssl ocsp -url "$CMPCA_OCSP_URL" -issuer "$2" -cert "$3" \
		    -CAfile "$2" >"$work/$1.ocsp" 2>&1
		if grep -q "^Response verify OK" "$work/$1.ocsp" &&
		    grep -q ": $4\$" "$work/$1.ocsp" &&
		    { [ -z "${5:-}" ] || grep -q "Reason: $5" "$work/$1.ocsp"; }; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}
# crl_name: the CRL file name of the demo CA's current key (ca_crl_name:
# the key's object label).
crl_name() {
	q "select key_uri from ca where label = 'demo'" |
	    sed -n 's/.*object=\([^;]*\).*/\1/p'
}
# crl_text FILE: the published CRL of the demo CA's current key, as text.
crl_fetch() {
	curl -sf -o "$work/cur.crl" "http://127.0.0.1:$CMPCA_PORT/crl/$(crl_name).crl" &&
	    openssl crl -inform DER -in "$work/cur.crl" -noout -text 2>/dev/null |
	    tr 'A-F' 'a-f' >"$work/cur.crl.txt"
}
# crl_lists CERT [REASON]: the published CRL lists CERT (with REASON).
crl_lists() {
	crl_fetch || return 1
	grep -A4 "Serial Number: 0*$(serial_of "$1")\$" "$work/cur.crl.txt" >"$work/entry.txt" ||
	    return 1
	[ -z "${2:-}" ] || grep -qi "$2" "$work/entry.txt"
}
# within SECONDS CMD...: CMD succeeds within SECONDS (polled every 0.25 s);
# prints the seconds it took to $work/took.
within() {
	local limit=$1 t0 i
	shift
	t0=$(date +%s.%N)
	for i in $(seq $((limit * 4))); do
		if "$@"; then
			awk -v a="$(date +%s.%N)" -v b="$t0" \
			    'BEGIN { printf "%.1f\n", a - b }' >"$work/took"
			return 0
		fi
		sleep 0.25
	done
	return 1
}

# 1. A rollover makes the new key's OCSP signer in the same step.
check "enroll a certificate under the first key" cmp_ir old "/CN=revoke-old"
cli ca rollover demo >"$work/rollover.out" 2>&1
check "ca rollover demo: done, with its OCSP signer" \
    has "$work/rollover.out" "rolled over to key .* with its OCSP signer"
check "the new key has an OCSP signer in the database" test \
    "$(q "select count(*) from ocsp_signer s join ca a on a.id = s.ca_id where a.label = 'demo' and s.created > now() - interval '5 minutes' and s.id = (select max(id) from ocsp_signer where ca_id = a.id)")" = 1
cli status >"$work/status.out" 2>&1
check "cmpca status: the new key's OCSP signer ok" \
    has "$work/status.out" "^ca demo ocsp signer +ok +signer [0-9]+ valid until"
cli ca export demo >"$work/new.pem"
check "the CA certificate is the new key's" test \
    "$(openssl x509 -in "$work/new.pem" -noout -fingerprint)" != \
    "$(openssl x509 -in "$CMPCA_CA_CERT" -noout -fingerprint)"

# 2. Revoked right after the rollover: OCSP says revoked at once, the CRL
#    of the new key lists it at the housekeeper's next tick (a compromise
#    does not wait for crl_delay).
# Workers see the new key within CA_CACHE_CHECK (5 s): until then they
# refuse to issue with the old one (systemUnavail, "try again"). The
# first worker that does issues nk; then every worker has (6 s).
nk_ir() { cmp_ir nk "/CN=revoke-new-key"; }
check "enroll a certificate under the new key (within 8 s)" within 8 nk_ir
t_nk=$(date +%s)
check "new-key certificate verifies with the new root" \
    openssl verify -CAfile "$work/new.pem" "$work/nk.pem"
check "OCSP: new-key certificate good (answered by the new signer)" \
    ocsp_is nk-good "$work/new.pem" "$work/nk.pem" good
cli cert revoke "$(serial_of "$work/nk.pem")" --reason 1 >"$work/rev.out" 2>&1
check "cert revoke --reason 1: says the CRL follows" has "$work/rev.out" "the CRL shows it within"
check "OCSP: revoked at once, keyCompromise" \
    ocsp_is nk-rev "$work/new.pem" "$work/nk.pem" revoked keyCompromise
if within 3 crl_lists "$work/nk.pem" "Key Compromise"; then
	pass "CRL of the new key lists it (keyCompromise) after $(cat "$work/took") s, under 3"
else
	fail "CRL of the new key lists it within 3 s" "$(head -c 300 "$work/cur.crl.txt" 2>/dev/null)"
fi
check "the CRL verifies with the new root" \
    openssl crl -inform DER -in "$work/cur.crl" -CAfile "$work/new.pem" -noout
check "openssl verify -crl_check: the new-key certificate is revoked" \
    has <(openssl verify -crl_check -CAfile "$work/new.pem" \
    -CRLfile <(openssl crl -inform DER -in "$work/cur.crl") "$work/nk.pem" 2>&1) \
    "certificate revoked"
check "the mark is taken (crl_due empty for the CA)" test \
    "$(q "select count(*) from crl_due where ca_id = $(ca_id demo)")" = 0

# 3. Suspension by the operator: on hold in OCSP at once and in the CRL
#    within crl_delay; released: good, and the next CRL drops it.
sleep $((6 - ($(date +%s) - t_nk) > 0 ? 6 - ($(date +%s) - t_nk) : 0))
check "enroll a certificate to hold" cmp_ir hold "/CN=revoke-hold"
check "cert revoke --reason 6 (certificateHold)" \
    cli cert revoke "$(serial_of "$work/hold.pem")" --reason 6
check "OCSP: revoked, certificateHold" \
    ocsp_is hold1 "$work/new.pem" "$work/hold.pem" revoked certificateHold
if within $((delay + 4)) crl_lists "$work/hold.pem" "Certificate Hold"; then
	pass "CRL lists it as Certificate Hold after $(cat "$work/took") s (crl_delay $delay)"
else
	fail "CRL lists the hold within crl_delay + 4 s" "$(head -c 300 "$work/cur.crl.txt" 2>/dev/null)"
fi
check "cert release of a certificate not on hold: refused" bash -c \
    "! $CMPCA_CLI cert release $(serial_of "$work/old.pem") --ca demo.old1 >/dev/null 2>&1"
check "cert release: the hold ends" cli cert release "$(serial_of "$work/hold.pem")"
check "released: valid in the database, no revocation time or reason" test \
    "$(q "select status || coalesce(reason::text, '-') || coalesce(revoked_at::text, '-') from cert where serial = '$(serial_of "$work/hold.pem")'")" = "valid--"
check "OCSP: good again" ocsp_is hold2 "$work/new.pem" "$work/hold.pem" good
notlisted() { crl_fetch && ! grep -q "Serial Number: 0*$(serial_of "$work/hold.pem")\$" "$work/cur.crl.txt"; }
if within $((delay + 4)) notlisted; then
	pass "the next CRL drops it after $(cat "$work/took") s"
else
	fail "the next CRL drops the released certificate" "$(head -c 300 "$work/cur.crl.txt")"
fi
check "openssl verify -crl_check: the released certificate is OK" \
    has <(openssl verify -crl_check -CAfile "$work/new.pem" \
    -CRLfile <(openssl crl -inform DER -in "$work/cur.crl") "$work/hold.pem" 2>&1) ": OK$"
check "audited: revoke and release, by cli" test \
    "$(q "select string_agg(event, ',' order by id) from audit where detail = '$(serial_of "$work/hold.pem")' and event in ('revoke', 'release')")" = "revoke,release"

# 4. Suspension by the holder (rr signed with its own certificate), then
#    made permanent by the operator: no release after that.
check "enroll a certificate the holder suspends" cmp_ir self "/CN=revoke-self"
if openssl cmp -cmd rr -server "$CMPCA_URL" -cert "$work/self.pem" \
    -key "$work/self.key" -oldcert "$work/self.pem" -trusted "$work/new.pem" \
    -revreason 6 >"$work/selfrr.out" 2>&1; then
	pass "rr certificateHold by the holder: accepted"
else
	fail "rr certificateHold by the holder" "$(tail -n 3 "$work/selfrr.out")"
fi
check "holder's hold: revoked, reason 6 in the database" test \
    "$(q "select status || reason from cert where serial = '$(serial_of "$work/self.pem")'")" = revoked6
check "OCSP: the holder's hold is certificateHold" \
    ocsp_is self1 "$work/new.pem" "$work/self.pem" revoked certificateHold
check "cert revoke --reason 5 on a hold: permanent" \
    cli cert revoke "$(serial_of "$work/self.pem")" --reason 5
check "OCSP: cessationOfOperation now" \
    ocsp_is self2 "$work/new.pem" "$work/self.pem" revoked cessationOfOperation
check "cert release after a permanent revocation: refused" bash -c \
    "! $CMPCA_CLI cert release $(serial_of "$work/self.pem") >/dev/null 2>&1"
if within $((delay + 4)) crl_lists "$work/self.pem" "Cessation Of Operation"; then
	pass "CRL: the permanent reason after $(cat "$work/took") s"
else
	fail "CRL shows the permanent reason" "$(grep -A3 "$(serial_of "$work/self.pem")" "$work/cur.crl.txt")"
fi

# 5. A CRL file whose bytes differ from the database's newest is
#    rewritten at the next full sweep (CMPCA_HOUSEKEEPING s).
f=$CMPCA_VAR/crl/$(crl_name).crl
cp "$f" "$work/good.crl"
printf 'not a CRL' >"$f"
rewritten() { cmp -s "$f" <(q "select encode(der, 'hex') from crl where ca_id = $(ca_id demo) order by number desc limit 1" | xxd -r -p); }
if within 10 rewritten; then
	pass "a corrupted CRL file is rewritten from the database after $(cat "$work/took") s"
else
	fail "a corrupted CRL file is rewritten" "$(head -c 40 "$f" | xxd | head -n 2)"
fi

# 6. A flood of nonced OCSP requests (40,000 of 64 different ones, for issued and
#    never-issued serials), 4 clients straight at the FastCGI socket,
#    while openssl cmp enrolls through nginx. Nonces are ignored
#    (ocsp_nonce = no): the issued certificate's answered from the
#    database's stored answer, the never-issued serials from the workers'
#    reuse, not signed each.
for i in $(seq 64); do
	if [ $((i % 2)) = 0 ]; then
		openssl ocsp -issuer "$work/new.pem" -cert "$work/nk.pem" \
		    -reqout "$work/f$i.req" >/dev/null 2>&1
	else
		openssl ocsp -issuer "$work/new.pem" -serial "0x$((4096 + i))" \
		    -reqout "$work/f$i.req" >/dev/null 2>&1
	fi
done
signed0=$(metric cmpca_ocsp_total 'event="signed"')
ignored0=$(metric cmpca_ocsp_total 'event="nonce_ignored"')
stored0=$(metric cmpca_ocsp_total 'event="stored"')
FCGIPOST_OCSP=1 timeout 120 "$bin/fcgipost" "$CMPCA_VAR/cmpcad.sock" 40000 4 \
    "$work"/f*.req >"$work/flood.out" 2>&1 &
flood=$!
sleep 0.5
ok=0 t0=$(date +%s.%N)
for i in 1 2 3 4 5; do
	cmp_ir "fl$i" "/CN=during-flood-$i" && ok=$((ok + 1))
done
cmp_s=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
flooding=0
kill -0 "$flood" 2>/dev/null && flooding=1
wait "$flood"
check "flood: every OCSP request answered 200 (fcgipost)" \
    has "$work/flood.out" "^sent=40000 status200=40000 .*failed=0"
check "flood: CMP served while OCSP was hammered (5 of 5 ir, ${cmp_s} s)" test "$ok" = 5
check "flood: still flooding when the last ir was served" test "$flooding" = 1
signed=$(( $(metric cmpca_ocsp_total 'event="signed"') - signed0 ))
ignored=$(( $(metric cmpca_ocsp_total 'event="nonce_ignored"') - ignored0 ))
stored=$(( $(metric cmpca_ocsp_total 'event="stored"') - stored0 ))
check "flood: every nonce ignored and counted ($ignored)" test "$ignored" -ge 40000
check "flood: $signed signatures for 40000 requests (64 questions x workers, not one each)" \
    test "$signed" -le 200
check "flood: the issued certificate's 20000 from the stored answer ($stored)" \
    test "$stored" -ge 19900
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"

stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"
e2e_done
