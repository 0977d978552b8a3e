#!/bin/bash
# tokens.sh - the same end-to-end cases on every PKCS#11 token cmpca runs
# on in Debian 12 (issue 27): SoftHSM, NSS's soft token, openCryptoki's
# software token and a TPM 2.0 (swtpm) through tpm2-pkcs11. For each, a
# fresh stack (scripts/stack up with CMPCA_TOKEN) and:
#   - cmpcad -t and cmpca status name the token and its capabilities;
#   - key archival (a profile with archive_keys): where the token can
#     (AES-256 key generation and AES-GCM) the archival key is made and
#     cmpcad -t passes; elsewhere both refuse, naming token and mechanism;
#   - the CA key was generated in the token (the CA certificate carries
#     the key the token holds: every signature below verifies with it);
#   - ir with the demo secret (sealed under the token's AES key, opened by
#     a worker) and certConf; cr and kur signed by the issued certificate;
#     rr signed by the holder;
#   - a CRL signed in the token lists the revoked certificate; OCSP, signed
#     by the delegated signer whose key is in the token, says revoked;
#   - a second CA made in the token is cross-certified by the first
#     (cross-certify local: the cross certificate signed in the token);
#   - a new secret sealed now opens (ir with it), the sealed value names
#     the format the capability table chose;
#   - token loss and recovery where the token can be lost: the SoftHSM
#     token directory moved away, the TPM simulator stopped; requests fail
#     with systemUnavail while it is away and succeed once it is back.
#
# usage: tests/e2e/tokens.sh [--bin DIR]   (TOKENS="nss tpm2" for a subset)
# Ports 18880-18899: swtpm on CMPCA_TPM_PORT (18880, 18881), the stacks
# from 18882. Ends with "N passed, N failed"; about 3 minutes.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup tokens 18882 --scan-to 18899 -- "$@"
export CMPCA_TPM_PORT=${CMPCA_TPM_PORT:-18880}
export CMPCA_WORKERS=2
base=$CMPCA_VAR
tokens=${TOKENS:-softhsm nss opencryptoki tpm2}
deadline=$((SECONDS + 330)) # make test-tokens: 6 minutes in all

# Every token's stack goes down (its token processes with it), and an
# openCryptoki token made here is reset (scripts/stack purge).
tokens_cleanup() {
	local t
	for t in $tokens; do
		[ -d "$base/$t" ] || continue
		CMPCA_VAR=$base/$t "$top/scripts/stack" purge >/dev/null 2>&1
	done
	CMPCA_VAR=$base
	e2e_cleanup
}
trap tokens_cleanup EXIT

# cmp NAME ARGS...: openssl cmp to the demo CA; $work/NAME.pem, .out.
cmp() {
	local name=$1
	shift
	openssl cmp -server "$CMPCA_URL_CA" -recipient "$CMPCA_CA_SUBJECT" \
	    -unprotected_errors -certout "$work/$name.pem" \
	    -rspout "$work/$name.rsp" "$@" >"$work/$name.out" 2>&1
}
last() { tail -n 2 "$work/$1.out" | tr '\n' ' '; }

# token_away / token_back: the token lost and back, for the tokens that
# can be lost from outside the process (docs/operations.md, "Tokens").
token_away() {
	case $CMPCA_TOKEN in
	softhsm)
		tokdir=$(ls -d "$CMPCA_VAR"/hsm/tokens/*/)
		mv "${tokdir%/}" "$CMPCA_VAR/hsm/token-away" ;;
	tpm2)
		kill "$(cat "$CMPCA_VAR/hsm/tpm/swtpm.pid")"
		sleep 0.5 ;;
	*) return 1 ;;
	esac
}
token_back() {
	case $CMPCA_TOKEN in
	softhsm) mv "$CMPCA_VAR/hsm/token-away" "${tokdir%/}" ;;
	tpm2) CMPCA_TOKEN=tpm2 "$top/scripts/stack" up >"$work/back.out" 2>&1 ;;
	esac
}

# A profile that archives generated keys: cmpcad -t checks the token can.
printf '%s\n' "[profile.archiving]" "days = 30" "extensions = ext_default" \
    "key_types = rsa" "central_keygen = rsa-2048" "archive_keys = yes" \
    >"$base/archiving.cnf"
export CMPCA_CONF_EXTRA=$base/archiving.cnf
openssl ecparam -genkey -name prime256v1 -noout -out "$base/ee1.key" 2>/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$base/ee2.key" 2>/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$base/ee3.key" 2>/dev/null

for t in $tokens; do
	if [ $SECONDS -ge $deadline ]; then
		fail "$t" "not run: the suite's time is up (${SECONDS}s)"
		continue
	fi
	export CMPCA_VAR=$base/$t CMPCA_TOKEN=$t
	work=$CMPCA_VAR/work
	mkdir -p "$work"
	t0=$SECONDS
	if ! "$top/scripts/stack" up >"$work/stack.out" 2>&1; then
		fail "$t: stack up" "$(tail -n 5 "$work/stack.out" | tr '\n' ' ')"
		continue
	fi
	. "$CMPCA_VAR/stack.env"
	pass "$t: stack up on a fresh token ($((SECONDS - t0)) s)"
	mac=(-ref "$CMPCA_SECRET_REF" -secret "pass:$CMPCA_SECRET")
	k1=$base/ee1.key k2=$base/ee2.key k3=$base/ee3.key

	# The token and its capabilities.
	check "$t: stack.env names the token and module" \
	    test "$CMPCA_TOKEN" = "$t" -a -f "$CMPCA_PKCS11_MODULE"
	cli status >"$work/status.out" 2>&1
	check "$t: cmpca status shows the token's model and capabilities" \
	    grep -Eq '^hsm token +ok +.*keygen .*sealing (dek-ecb|dek-cbc|dek-rsa|gcm-in-token)' "$work/status.out"
	( eval "${CMPCA_CLI/\/cmpca -c/\/cmpcad -t -c}" ) >"$work/t.out" 2>&1
	check "$t: cmpcad -t names the token" \
	    grep -q "hsm: token .*keygen" "$work/t.out"
	grep "hsm:" "$work/t.out" | sed "s/^/info $t: /" | cut -c1-300
	# Key archival needs AES-256 key generation and AES-GCM in the
	# token (docs/operations.md, "Tokens"): SoftHSM and NSS have both,
	# openCryptoki's software token and tpm2-pkcs11 have no AES-GCM.
	cli ca archival-key "$CMPCA_CA_LABEL" >"$work/arch.out" 2>&1
	arc=$?
	case $t in
	softhsm | nss)
		check "$t: archives: ca archival-key made, cmpcad -t ok with archive_keys" \
		    bash -c "[ $arc = 0 ] && grep -q 'configuration ok' '$work/t.out'" ;;
	*)
		check "$t: cannot archive: cmpcad -t names CA, profile, token, mechanism" \
		    grep -q "ca $CMPCA_CA_LABEL, profile archiving: archive_keys, but token .* cannot archive keys: no CKM_AES" "$work/t.out"
		check "$t: ... its only error (the rest of cmpcad -t passes)" \
		    bash -c "! grep ' error: ' '$work/t.out' | grep -vq 'cannot archive keys'"
		check "$t: ... and ca archival-key is refused, naming them" bash -c \
		    "[ $arc = 1 ] && grep -q 'cannot archive keys: no CKM_AES' '$work/arch.out'" ;;
	esac

	# The CA key: generated in the token with the stack (its URI is a
	# pkcs11 URI of this token), the certificate self-signed with it.
	uri=$(q "select key_uri from ca where label = '$CMPCA_CA_LABEL'")
	check "$t: CA key is a key of the token ($uri)" \
	    grep -q "^pkcs11:token=" <<<"$uri"
	check "$t: CA certificate verifies with the token's key" \
	    openssl verify -CAfile "$CMPCA_CA_CERT" "$CMPCA_CA_CERT"

	# ir (MAC with the sealed demo secret) + certConf.
	if cmp ir -cmd ir "${mac[@]}" -newkey "$k1" -subject "/CN=$t-ir"; then
		pass "$t: ir with the sealed demo secret"
		check "$t: ir: chains to the CA" chains "$work/ir.pem"
		check "$t: ir: confirmed (certConf): valid in the database" \
		    test "$(db_status "$work/ir.pem")" = valid
	else
		fail "$t: ir" "$(last ir)"
	fi
	# cr, signed with the issued certificate; the answer signed in the token.
	if cmp cr -cmd cr -cert "$work/ir.pem" -key "$k1" \
	    -trusted "$CMPCA_CA_CERT" -newkey "$k2" -subject "/CN=$t-ir"; then
		pass "$t: cr signed by the issued certificate, answer signed by the CA"
		check "$t: cr: carries the new key" same_pubkey "$work/cr.pem" "$k2"
	else
		fail "$t: cr" "$(last cr)"
	fi
	# kur of the cr certificate to a new key.
	if cmp kur -cmd kur -cert "$work/cr.pem" -key "$k2" \
	    -trusted "$CMPCA_CA_CERT" -newkey "$k3" -oldcert "$work/cr.pem"; then
		pass "$t: kur"
		check "$t: kur: new key, same subject" same_pubkey "$work/kur.pem" "$k3"
	else
		fail "$t: kur" "$(last kur)"
	fi
	# rr by the holder.
	if cmp rr -cmd rr -cert "$work/kur.pem" -key "$k3" \
	    -trusted "$CMPCA_CA_CERT" -oldcert "$work/kur.pem" -revreason 1; then
		check "$t: rr: revoked with keyCompromise" test \
		    "$(q "select status || reason from cert where serial = '$(serial_of "$work/kur.pem")'")" = revoked1
	else
		fail "$t: rr" "$(last rr)"
	fi

	# CRL signed in the token, listing the revoked certificate.
	cli crl issue --ca "$CMPCA_CA_LABEL" >/dev/null 2>&1
	curl -s -o "$work/ca.crl" "$CMPCA_CRL_URL"
	check "$t: CRL verifies with the CA key" \
	    openssl crl -inform DER -in "$work/ca.crl" -CAfile "$CMPCA_CA_CERT" -noout
	check "$t: CRL lists the revoked certificate" grep -qi \
	    "Serial Number: 0*$(serial_of "$work/kur.pem")" \
	    <(openssl crl -inform DER -in "$work/ca.crl" -noout -text)
	# OCSP, signed by the delegated signer (its key in the token).
	openssl ocsp -url "$CMPCA_OCSP_URL" -issuer "$CMPCA_CA_CERT" \
	    -cert "$work/kur.pem" -CAfile "$CMPCA_CA_CERT" \
	    >"$work/ocsp.out" 2>&1
	check "$t: OCSP answer verifies and says revoked" \
	    grep -q "kur.pem: revoked" "$work/ocsp.out"
	check "$t: OCSP response verify OK" grep -q "Response verify OK" "$work/ocsp.out"

	# A second CA, its key generated in the token, cross-certified by
	# the first (the cross certificate signed in the token).
	if cli ca create second --subject "/O=cmpca/CN=$t second" \
	    --key "$CMPCA_CA_KEY" --days 30 >"$work/second.out" 2>&1 &&
	    cli cross-certify local --issuer "$CMPCA_CA_LABEL" \
	    --subject second >"$work/cross.pem" 2>"$work/cross.out"; then
		pass "$t: second CA made in the token and cross-certified"
		check "$t: cross certificate verifies with the first CA's key" \
		    openssl verify -partial_chain -CAfile "$CMPCA_CA_CERT" "$work/cross.pem"
		check "$t: cross certificate carries the second CA's token key" test \
		    "$(openssl x509 -in "$work/cross.pem" -noout -pubkey)" = \
		    "$(cli ca export second | openssl x509 -noout -pubkey)"
	else
		fail "$t: cross-certify local" "$(tail -n 2 "$work/second.out" "$work/cross.out" | tr '\n' ' ')"
	fi

	# A secret sealed now; a device enrolls with it.
	sec=$(cli secret add "$t-new" --uses 2 --ca "$CMPCA_CA_LABEL" 2>"$work/secret.err")
	fmt=$(q "select substr(encode(secret_enc, 'hex'), 1, 2) from enroll_secret where ref = '$t-new'")
	info=$(grep -o 'sealing [a-z-]*' "$work/status.out" | head -n 1)
	echo "info $t: $info, sealed value format 0x$fmt"
	check "$t: new secret sealed (format 0x03 or 0x01)" grep -Eqx '0[13]' <<<"$fmt"
	if cmp irnew -cmd ir -ref "$t-new" -secret "pass:$sec" -newkey "$k2" \
	    -subject "/CN=$t-sealed"; then
		pass "$t: ir with the secret sealed in this token"
	else
		fail "$t: ir with the new secret" "$(last irnew)"
	fi

	# Token loss and recovery.
	if token_away; then
		cmp lost -cmd ir "${mac[@]}" -newkey "$k1" -subject "/CN=$t-lost"
		check "$t: token away: ir refused (systemUnavail)" \
		    grep -q "PKIFailureInfo: systemUnavail" "$work/lost.out"
		token_back
		ok=
		for _ in $(seq 20); do
			cmp back -cmd ir "${mac[@]}" -newkey "$k1" -subject "/CN=$t-back" &&
			    { ok=1; break; }
			sleep 0.5
		done
		check "$t: token back: ir succeeds again" test -n "$ok"
		# The worker that saw the loss logs its recovery when it next
		# serves; another may have served the ir above: a few genm.
		for _ in $(seq 20); do
			grep -q "hsm: token .* back" "$CMPCA_LOG" && break
			openssl cmp -cmd genm -server "$CMPCA_URL_CA" "${mac[@]}" \
			    -recipient "$CMPCA_CA_SUBJECT" >/dev/null 2>&1
			sleep 0.1
		done
		check "$t: the workers logged the loss and the recovery" \
		    grep -q "hsm: token .* back" "$CMPCA_LOG"
	else
		echo "info $t: token loss not simulated (see docs/operations.md, Tokens)"
	fi

	# Secrets stay out of the logs.
	check "$t: no PIN in the daemon log" \
	    bash -c "! grep -qF '$(cat "$CMPCA_VAR/hsm/pin")' '$CMPCA_LOG'"
	echo "info $t: $((SECONDS - t0)) s"
	CMPCA_VAR=$base/$t "$top/scripts/stack" purge >/dev/null 2>&1
done
export CMPCA_VAR=$base
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
