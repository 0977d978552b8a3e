# shellcheck shell=bash
# The lint of what a suite's CA emitted, sourced by lib.sh and run once at
# the end of every end-to-end suite (by its stack_down, while the database
# is up, or else by e2e_done): every certificate in the
# inventory (the cert table, read through a read-only transaction) and
# every self-signed CA certificate of the ca table, each against the CA
# certificate of the key that signed it, through
#   - tests/tools/certlint (the RFC 5280 rules, docs/hacking.md),
#   - openssl verify -x509_strict -partial_chain,
#   - GnuTLS certtool --verify,
#   - NSS vfychain -pp,
#   - Bouncy Castle's PKIX path builder (tests/bc/PathCheck.java --batch),
# the chain being the CA row's certificate and chain (ca.cert, ca.chain),
# the trust anchor its last certificate. Any complaint fails the suite
# with the certificate's serial and subject and the tool's message.
#
# certlint, openssl and Bouncy Castle take many certificates per process;
# certtool and vfychain one each, so beyond LINT_EACH (200) certificates
# (the load suites) they check the first LINT_EACH plus one certificate
# of every shape certlint reports (issuing CA, version, signature and key
# algorithm, extensions with criticality, subject attribute and SAN
# types) that the first ones did not cover: the other three still see
# every certificate.
#
# Suites with a second stack add its conninfo to e2e_lint_dbs.

e2e_lint_dbs=()
e2e_linted=
LINT_EACH=${LINT_EACH:-200}

# lint_der_split HEX: the hex of each DER SEQUENCE in HEX, one a line.
lint_der_split() {
	local h=$1 n l hl
	while [ -n "$h" ]; do
		n=$((16#${h:2:2}))
		if [ "$n" -lt 128 ]; then
			l=$n hl=2
		else
			hl=$(((n - 128) + 1))
			l=$((16#${h:4:$(((hl - 1) * 2))}))
		fi
		echo "${h:0:$(((1 + hl + l) * 2))}"
		h=${h:$(((1 + hl + l) * 2))}
	done
}

lint_pem() { xxd -r -p | openssl x509 -inform DER; }

# lint_cas DB DIR: ca/ID.pem (the CA certificate), ca/ID.chain.pem (it and
# its issuers but the last), ca/ID.anchor.pem (the last); a self-signed
# one (a root we made) is linted too, as rID.
lint_cas() {
	local db=$1 d=$2 id cert chain parts n i
	while IFS='|' read -r id cert chain; do
		[ -n "$id" ] || continue
		mapfile -t parts < <(lint_der_split "$cert$chain")
		n=${#parts[@]}
		lint_pem <<<"${parts[0]}" >"$d/ca/$id.pem"
		lint_pem <<<"${parts[n - 1]}" >"$d/ca/$id.anchor.pem"
		: >"$d/ca/$id.chain.pem"
		: >"$d/ca/$id.nss"
		for ((i = 0; i < n - 1 || i == 0; i++)); do
			lint_pem <<<"${parts[i]}" >"$d/ca/$id.$i.pem"
			cat "$d/ca/$id.$i.pem" >>"$d/ca/$id.chain.pem"
			printf -- '-a\nca/%s.%s.pem\n' "$id" "$i" >>"$d/ca/$id.nss"
		done
		# A root we made: no chain, named as its own issuer.
		if [ -z "$chain" ] && [ "$(openssl x509 -in "$d/ca/$id.pem" \
		    -noout -subject -issuer | sed 's/^[a-z]*=//' | uniq | wc -l)" = 1 ]; then
			cp "$d/ca/$id.pem" "$d/c/r$id.pem"
			printf 'r%s\t%s\t%s\troot\t%s\n' "$id" \
			    "$(openssl x509 -in "$d/ca/$id.pem" -noout -serial |
			    cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')" \
			    "$id" "$(openssl x509 -in "$d/ca/$id.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')" \
			    >>"$d/index"
		fi
	done < <(PGOPTIONS='-c default_transaction_read_only=on' psql -XqtA \
	    "$db" -c "select id, encode(cert, 'hex'), encode(coalesce(chain, ''), 'hex')
	    from ca where cert is not null order by id")
}

# lint_certs DB DIR: c/ID.pem for every row of cert, and its index line
# "ID serial ca_id kind subject" (tab-separated).
lint_certs() {
	local db=$1 d=$2
	PGOPTIONS='-c default_transaction_read_only=on' psql -XqtA -F $'\x1f' \
	    -R $'\x1e' "$db" -c "select id, serial, ca_id, kind, subject,
	    encode(der, 'base64') from cert order by id" |
	    awk -v d="$d" 'BEGIN { RS = "\036"; FS = "\037" }
		NF >= 6 {
			sub(/\n+$/, "", $6)
			f = d "/c/" $1 ".pem"
			print "-----BEGIN CERTIFICATE-----\n" $6 \
			    "\n-----END CERTIFICATE-----" >f
			close(f)
			printf "%s\t%s\t%s\t%s\t%s\n", $1, $2, $3, $4, $5 \
			    >>(d "/index")
		}'
}

# lint_note DIR ID TOOL MESSAGE...: one complaint.
lint_note() { local d=$1 id=$2 tool=$3; shift 3; printf '%s\t%s\t%s\n' "$id" "$tool" "$*" >>"$d/fail"; }

# lint_run DB DIR: lints one inventory into DIR/fail.
lint_run() {
	local db=$1 d=$2 id ca f msg line usage pol nss bcpid
	mkdir -p "$d/ca" "$d/c"
	: >"$d/index"
	: >"$d/fail"
	: >"$d/policy-exempt"
	lint_cas "$db" "$d"
	lint_certs "$db" "$d"
	cd "$d" || return 1

	# certlint: all pairs, a few hundred per process.
	while IFS=$'\t' read -r id _ ca _; do
		printf '%s\n%s\n' "c/$id.pem" "ca/$ca.pem"
	done <index | xargs -d '\n' -n 400 "$bin/certlint" >certlint.out 2>&1
	while IFS= read -r line; do
		f=${line#certlint: }
		f=${f%%: *}
		id=${f#c/}
		id=${id%.pem}
		[ "$f" != "$line" ] || id=?
		lint_note "$d" "$id" certlint "${line#certlint: "$f": }"
	done <certlint.out

	# openssl verify: one run per issuing CA for all its certificates.
	for ca in $(cut -f3 index | sort -u); do
		awk -F'\t' -v ca="$ca" '$3 == ca { print "c/" $1 ".pem" }' index |
		    xargs -d '\n' -n 400 openssl verify -x509_strict -partial_chain \
		    -CAfile "ca/$ca.anchor.pem" -untrusted "ca/$ca.chain.pem" \
		    >>verify.out 2>&1
	done
	# A failure's reasons do not name the file: that one again alone.
	awk -F'\t' 'FNR == NR { if (sub(/: OK$/, "")) ok[$0] = 1; next }
	    !(("c/" $1 ".pem") in ok) { print $1, $3 }' verify.out index |
	    while read -r id ca; do
		msg=$(openssl verify -x509_strict -partial_chain \
		    -CAfile "ca/$ca.anchor.pem" -untrusted "ca/$ca.chain.pem" \
		    "c/$id.pem" 2>&1 | grep '^error' | head -n 3 | tr '\n' ' ')
		lint_note "$d" "$id" "openssl verify" "${msg:-no verdict}"
	done

	# Bouncy Castle: one JVM for every path, while certtool and vfychain
	# run (below).
	while IFS=$'\t' read -r id _ ca _; do
		echo "c/$id.pem ca/$ca.anchor.pem ca/$ca.chain.pem"
	done <index >bc.in
	"$top/tests/bc/cmpclient" pathcheck --batch bc.in >bc.out 2>&1 &
	bcpid=$!

	# certtool and vfychain, one process each per certificate.
	lint_each >each
	while read -r id ca usage pol; do
		cat "c/$id.pem" "ca/$ca.chain.pem" >gnutls.pem
		if certtool --verify --load-ca-certificate "ca/$ca.anchor.pem" \
		    --infile gnutls.pem >certtool.out 2>&1; then
			:
		elif [ "$pol" = 1 ] && grep -qx 'Chain verification output: Not verified\. The certificate is NOT trusted\. The certificate contains an unknown critical extension\. *' certtool.out; then
			# Exemption, by kind and reason: a certificate with a
			# critical policyMappings or policyConstraints (our
			# cross certificates for partners with policy rules;
			# RFC 5280 §4.2.1.11 makes policyConstraints critical)
			# is refused by GnuTLS 3.7, which has no policy
			# processing, for that reason alone; the other four
			# check it in full (certlint that no other critical
			# extension is unknown).
			echo "$id" >>policy-exempt
		else
			lint_note "$d" "$id" certtool "$(grep -m1 -i 'verification output' certtool.out)"
		fi
		# NSS: the leaf, then the chain, the anchor explicitly trusted.
		mapfile -t nss <"ca/$ca.nss"
		if ! vfychain -pp -u "$usage" -a "c/$id.pem" "${nss[@]}" \
		    -t -a "ca/$ca.anchor.pem" >vfychain.out 2>&1; then
			lint_note "$d" "$id" vfychain "$(grep -v '^$' vfychain.out | head -n 6 | tr '\n' ' ')"
		fi
	done <each

	wait "$bcpid"
	awk -F'\t' 'FNR == NR { f = $0; sub(/: .*/, "", f); v[f] = substr($0, length(f) + 3); next }
	    { f = "c/" $1 ".pem"
	      if (!(f in v)) print $1 "\tno verdict"
	      else if (v[f] !~ /^path ok/) print $1 "\t" v[f] }' bc.out index |
	    while IFS=$'\t' read -r id msg; do
		lint_note "$d" "$id" "bc pathcheck" "$msg"
	done
	cd - >/dev/null || return 1
}

# lint_each: "ID CA USAGE POL" for each certificate certtool and vfychain
# check: all of them, or beyond LINT_EACH the first LINT_EACH and the
# first of every shape (certlint --shape) not among them. USAGE is
# vfychain's -u for the certificate's purpose: 11 (any CA) for cA=TRUE,
# else by extendedKeyUsage: 1 serverAuth, 0 clientAuth (and none),
# 4 emailProtection, 6 codeSigning, 10 OCSPSigning. POL is 1 when a
# policyMappings or policyConstraints extension is critical.
lint_each() {
	while IFS=$'\t' read -r id _ ca _; do
		printf 'c/%s.pem\nca/%s.pem\n' "$id" "$ca"
	done <index | xargs -d '\n' -n 800 "$bin/certlint" --shape |
	    awk -v n="$LINT_EACH" -v all="$(wc -l <index)" '{
		id = $1; sub(/^c\//, "", id); sub(/\.pem$/, "", id)
		ca = $2; sub(/^ca=ca\//, "", ca); sub(/\.pem;.*/, "", ca)
		u = 0
		if ($2 ~ /;eku=[^;]*OCSPSigning/) u = 10
		if ($2 ~ /;eku=[^;]*codeSigning/) u = 6
		if ($2 ~ /;eku=[^;]*emailProtection/) u = 4
		if ($2 ~ /;eku=[^;]*clientAuth/) u = 0
		if ($2 ~ /;eku=[^;]*serverAuth/) u = 1
		if ($2 ~ /;cA=1$/) u = 11
		pol = $2 ~ /[,=](policyMappings|policyConstraints)!,/
		if (all <= n || NR <= n || !($2 in seen))
			print id, ca, u, pol
		seen[$2] = 1
	    }'
}

# e2e_lint: lints the stack's inventory and those of e2e_lint_dbs, once
# per suite (stack_down or e2e_done, whichever comes first); one failure
# per complaint, one pass line with the count and the seconds.
e2e_lint() {
	local t0=$SECONDS db i=0 n=0 d id tool msg serial ca kind subj
	local f0=$nfail
	[ -z "$e2e_linted" ] || return 0
	e2e_linted=1
	if [ -z "${CMPCA_DB:-}" ]; then
		fail "lint" "no stack to lint (e2e_stack_up not run)"
		return
	fi
	if [ ! -x "$bin/certlint" ]; then
		fail "lint" "$bin/certlint not built (make $bin/certlint)"
		return
	fi
	for db in "$CMPCA_DB" "${e2e_lint_dbs[@]}"; do
		i=$((i + 1))
		d=$work/lint$i
		rm -rf "$d"
		lint_run "$db" "$d"
		n=$((n + $(wc -l <"$d/index")))
		while IFS=$'\t' read -r id tool msg; do
			IFS=$'\t' read -r _ serial ca kind subj < <(grep -m1 "^$id"$'\t' "$d/index")
			fail "lint: serial ${serial:-?} ($kind of CA $ca) $subj" "$tool: $msg"
		done <"$d/fail"
		while read -r id; do
			IFS=$'\t' read -r _ serial ca kind subj < <(grep -m1 "^$id"$'\t' "$d/index")
			pass "lint: certtool refuses serial $serial ($kind of CA $ca) $subj only for its critical policy extensions (GnuTLS has no policy processing; exempt)"
		done <"$d/policy-exempt"
	done
	[ "$n" -gt 0 ] || fail "lint" "no certificate in the inventory"
	[ "$nfail" -eq "$f0" ] && pass "lint: $n certificates (certlint, openssl verify -x509_strict, certtool, vfychain, Bouncy Castle) in $((SECONDS - t0)) s"
}
