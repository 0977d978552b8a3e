#!/bin/bash
# End-to-end tests of delta CRLs (RFC 5280 §5.2.4, issue 23) on the real
# stack (PostgreSQL, SoftHSM through libp11, nginx, cmpcad), with
# delta_crl_interval and delta_crl_url set, checked with `openssl crl`,
# `openssl verify -crl_check -use_deltas` and curl:
#   - the complete CRL carries freshestCRL naming /crl/delta/<name>.crl;
#     a delta on it is published there, served by nginx, equal to the
#     database's newest delta, and verifies with the CA certificate;
#   - a revocation is in the next delta (critical deltaCRLIndicator = the
#     base's number) within crl_delay, without a new complete CRL;
#     verify with base and delta rejects the revoked certificate and
#     accepts a good one;
#   - a hold the base lists, released, is removeFromCRL in the next delta:
#     verify with base and delta accepts the certificate again (with the
#     base alone it is still on hold);
#   - CRL numbers strictly increase across complete and delta CRLs;
#   - a delta CRL file whose bytes changed is rewritten from the database.
# Port: CMPCA_DELTA_TEST_PORT, else the first free one from 18710 to
# 18729.
#
# usage: tests/e2e/delta.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup delta 18710 --port-var CMPCA_DELTA_TEST_PORT --scan-to 18729 --keep -- "$@"
# A full sweep every 2 s (deltas on a new base, the deep check of the
# files), status changes in a delta 2 s after they were made.
export CMPCA_HOUSEKEEPING=2 CMPCA_CRL_DELAY=2
delay=2
printf '%s\n' "[cmpca]" "delta_crl_interval = 600" \
    "delta_crl_url = http://127.0.0.1:$CMPCA_PORT/crl/delta/%{crl}.crl" \
    >"$work/delta.conf"
export CMPCA_CONF_EXTRA=$work/delta.conf
e2e_stack_up
has() { grep -qE -- "$2" "$1"; }
ca_id() { q "select id from ca where label = '$1'"; }
base_url=http://127.0.0.1:$CMPCA_PORT/crl

# cmp_ir NAME SUBJECT: a new EC key enrolled under the demo CA with the
# demo secret; leaves $work/NAME.{key,pem,out}.
cmp_ir() {
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$1.key" 2>/dev/null
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/$1.key" -subject "$2" -certout "$work/$1.pem" \
	    >"$work/$1.out" 2>&1
}
# crl_name: the CRL file name of the demo CA's key (ca_crl_name).
crl_name() {
	q "select key_uri from ca where label = 'demo'" |
	    sed -n 's/.*object=\([^;]*\).*/\1/p'
}
name=$(crl_name)
[ -n "$name" ] || name=demo
# fetch: the complete CRL and the delta as served over HTTP, in PEM
# ($work/base.pem, $work/delta.pem) and as text (.txt).
fetch() {
	curl -sf -o "$work/base.der" "$base_url/$name.crl" &&
	    curl -sf -o "$work/delta.der" "$base_url/delta/$name.crl" &&
	    openssl crl -inform DER -in "$work/base.der" -out "$work/base.pem" 2>/dev/null &&
	    openssl crl -inform DER -in "$work/delta.der" -out "$work/delta.pem" 2>/dev/null &&
	    openssl crl -in "$work/base.pem" -noout -text >"$work/base.txt" &&
	    openssl crl -in "$work/delta.pem" -noout -text >"$work/delta.txt"
}
# crl_number FILE.txt: its CRL number (decimal).
crl_number() { awk '/X509v3 CRL Number:/ { getline; print $1 + 0 }' "$1"; }
# delta_base: the delta's deltaCRLIndicator (decimal).
delta_base() { awk '/X509v3 Delta CRL Indicator:/ { getline; print $1 + 0 }' "$work/delta.txt"; }
# delta_lists CERT REASON: the served delta lists CERT with REASON.
delta_lists() {
	fetch || return 1
	grep -i -A4 "Serial Number: 0*$(serial_of "$1")\$" "$work/delta.txt" >"$work/entry.txt" &&
	    grep -qi "$2" "$work/entry.txt"
}
# db_delta: the database's newest delta CRL of the demo CA, DER.
db_delta() {
	q "select encode(der, 'hex') from crl where ca_id = $(ca_id demo) and delta_of is not null order by number desc limit 1" |
	    xxd -r -p
}
# verify CERT [CRL...]: openssl verify -crl_check -use_deltas with the CRLs.
# -extended_crl too: without it OpenSSL 3.0 does not set deltas aside
# when it picks the complete CRL (get_crl_score's "don't process deltas"
# is on that flag's branch), so a delta newer than its base is taken as
# the complete CRL, and a certificate only the base lists passes.
verify() {
	local c=$1 a=() f
	shift
	for f in "$@"; do a+=(-CRLfile "$f"); done
	openssl verify -crl_check -use_deltas -extended_crl \
	    -CAfile "$CMPCA_CA_CERT" "${a[@]}" "$c" 2>&1
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

# 1. A complete CRL and, at the next sweep, an empty delta on it.
have_delta() { fetch && [ "$(delta_base)" = "$(crl_number "$work/base.txt")" ]; }
if within 10 have_delta; then
	pass "a delta CRL on the complete CRL is served at /crl/delta/$name.crl after $(cat "$work/took") s"
else
	fail "a delta CRL on the complete CRL is served at /crl/delta/$name.crl within 10 s" \
	    "$(ls -lR "$CMPCA_VAR/crl" 2>&1 | head -n 12; curl -sI "$base_url/delta/$name.crl" | head -n 1)"
fi
check "the complete CRL carries freshestCRL naming the delta's URL" \
    has <(grep -A3 "Freshest CRL" "$work/base.txt") "URI:$base_url/delta/$name.crl"
check "the delta's deltaCRLIndicator is critical" \
    has "$work/delta.txt" "X509v3 Delta CRL Indicator: critical"
check "the delta has no entries yet" has "$work/delta.txt" "No Revoked Certificates"
check "the delta verifies with the CA certificate" \
    has <(openssl crl -in "$work/delta.pem" -CAfile "$CMPCA_CA_CERT" -noout 2>&1) "verify OK"
check "the delta's number follows its base's" \
    test "$(crl_number "$work/delta.txt")" -gt "$(crl_number "$work/base.txt")"

# 2. A revocation: in the next delta within crl_delay, the base unchanged.
check "enroll a certificate to revoke" cmp_ir rev "/CN=delta-revoked"
check "enroll a good certificate" cmp_ir good "/CN=delta-good"
base1=$(crl_number "$work/base.txt")
check "cert revoke --reason 4 (superseded)" \
    cli cert revoke "$(serial_of "$work/rev.pem")" --reason 4
if within $((delay + 6)) delta_lists "$work/rev.pem" "Superseded"; then
	pass "the next delta lists it (superseded) after $(cat "$work/took") s (crl_delay $delay)"
else
	fail "the next delta lists the revocation within crl_delay + 6 s" "$(head -c 400 "$work/delta.txt")"
fi
check "openssl crl -text: Delta CRL Indicator = the base's number ($base1)" \
    test "$(delta_base)" = "$base1"
check "no new complete CRL for it (the base is still $base1)" \
    test "$(crl_number "$work/base.txt")" = "$base1"
check "the base does not list it" bash -c \
    "! grep -qi 'Serial Number: 0*$(serial_of "$work/rev.pem")\$' '$work/base.txt'"
check "the delta verifies with the CA certificate" \
    has <(openssl crl -in "$work/delta.pem" -CAfile "$CMPCA_CA_CERT" -noout 2>&1) "verify OK"
check "verify -use_deltas with base and delta: the revoked certificate is revoked" \
    has <(verify "$work/rev.pem" "$work/base.pem" "$work/delta.pem") "certificate revoked"
check "verify -use_deltas with base and delta: the good certificate is OK" \
    has <(verify "$work/good.pem" "$work/base.pem" "$work/delta.pem") ": OK$"
check "the base alone does not know the revocation (verify OK)" \
    has <(verify "$work/rev.pem" "$work/base.pem") ": OK$"
check "the delta served over HTTP is the database's newest delta" \
    cmp -s "$work/delta.der" <(db_delta)
check "the database row names its base (delta_of = $base1)" test \
    "$(q "select delta_of from crl where ca_id = $(ca_id demo) and delta_of is not null order by number desc limit 1")" = "$base1"
check "audited: crl-delta-issue" test \
    "$(q "select count(*) > 0 from audit where event = 'crl-delta-issue'")" = t

# 3. A hold the base lists, released: removeFromCRL in the next delta.
check "enroll a certificate to hold" cmp_ir hold "/CN=delta-hold"
check "cert revoke --reason 6 (certificateHold)" \
    cli cert revoke "$(serial_of "$work/hold.pem")" --reason 6
if within $((delay + 6)) delta_lists "$work/hold.pem" "Certificate Hold"; then
	pass "the next delta lists the hold after $(cat "$work/took") s"
else
	fail "the next delta lists the hold" "$(head -c 400 "$work/delta.txt")"
fi
check "cmpca crl issue: a new complete CRL (it lists the hold)" cli crl issue
newbase() {
	fetch && [ "$(crl_number "$work/base.txt")" -gt "$base1" ] &&
	    [ "$(delta_base)" = "$(crl_number "$work/base.txt")" ]
}
if within 12 newbase; then
	pass "a delta on the new base is published after $(cat "$work/took") s"
else
	fail "a delta on the new base is published within 12 s" \
	    "$(ls -lR "$CMPCA_VAR/crl" 2>&1 | head -n 12; curl -sI "$base_url/$name.crl" | head -n 1)"
fi
base2=$(crl_number "$work/base.txt")
check "the new base lists the hold" has <(grep -i -A4 \
    "Serial Number: 0*$(serial_of "$work/hold.pem")\$" "$work/base.txt") "Certificate Hold"
check "the delta on the new base lists nothing (no change since)" \
    has "$work/delta.txt" "No Revoked Certificates"
check "cert release: the hold ends" cli cert release "$(serial_of "$work/hold.pem")"
if within $((delay + 6)) delta_lists "$work/hold.pem" "Remove From CRL"; then
	pass "the next delta lists it as removeFromCRL after $(cat "$work/took") s"
else
	fail "the next delta lists the release as removeFromCRL" "$(head -c 400 "$work/delta.txt")"
fi
check "the removeFromCRL delta names base $base2" test "$(delta_base)" = "$base2"
check "verify -use_deltas with base and delta: the released certificate is OK" \
    has <(verify "$work/hold.pem" "$work/base.pem" "$work/delta.pem") ": OK$"
check "with the base alone it is still on hold (certificate revoked)" \
    has <(verify "$work/hold.pem" "$work/base.pem") "certificate revoked"
check "verify -use_deltas with base and delta: the revoked one still revoked" \
    has <(verify "$work/rev.pem" "$work/base.pem" "$work/delta.pem") "certificate revoked"
check "the delta served over HTTP is the database's newest delta" \
    cmp -s "$work/delta.der" <(db_delta)

# 4. One sequence of CRL numbers for complete and delta CRLs, strictly
#    increasing in the order they were issued.
nums=$(q "select string_agg(number::text, ' ' order by id) from crl where ca_id = $(ca_id demo)")
check "CRL numbers strictly increase across base and delta ($nums)" \
    awk -v s="$nums" 'BEGIN { n = split(s, a, " "); if (n < 5) exit 1
	for (i = 2; i <= n; i++) if (a[i] <= a[i - 1]) exit 1 }'
check "complete and delta CRLs both in the sequence" test \
    "$(q "select count(distinct delta_of is null) from crl where ca_id = $(ca_id demo)")" = 2

# 5. A delta file whose bytes differ from the database's newest is
#    rewritten at the next full sweep.
f=$CMPCA_VAR/crl/delta/$name.crl
printf 'not a CRL' >"$f"
rewritten() { cmp -s "$f" <(db_delta); }
if within 8 rewritten; then
	pass "a corrupted delta CRL file is rewritten from the database after $(cat "$work/took") s"
else
	fail "a corrupted delta CRL file is rewritten" "$(head -c 40 "$f" | xxd | head -n 2)"
fi

stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"
e2e_done
