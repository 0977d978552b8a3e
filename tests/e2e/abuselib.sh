# abuselib.sh - the legitimate client and the attacks of issue 33, shared
# by tests/e2e/abuse.sh (which checks the client still enrolls) and
# scripts/bench (which prints its latencies). Source after the stack's
# stack.env; needs $work, $bin and $top. The attacks are
# tests/bench/abuse.py (asyncio, loopback only).

# legit_run SECS OUT: `openssl cmp -cmd ir` (ir + certConf, the demo
# secret, PBM as OpenSSL's client makes it: 500 iterations) started every
# 0.25 s for SECS seconds, each in the background; one line "RC MS" per
# enrolment in OUT. Waits for the last one.
legit_run() {
	local secs=$1 out=$2 n=0 end pids=()
	: >"$out"
	[ -s "$work/legit.key" ] || openssl ecparam -genkey -name prime256v1 \
	    -noout -out "$work/legit.key" 2>/dev/null
	end=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		n=$((n + 1))
		(
			t0=$(date +%s%N)
			CMPCA_SECRET=$CMPCA_SECRET openssl cmp -cmd ir \
			    -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
			    -secret env:CMPCA_SECRET \
			    -recipient "$CMPCA_CA_SUBJECT" \
			    -newkey "$work/legit.key" -subject "/CN=legit-$n" \
			    -msg_timeout 20 -total_timeout 30 \
			    -certout "$work/legit-$n.pem" \
			    >"$work/legit-$n.out" 2>&1
			rc=$?
			echo "$rc $((($(date +%s%N) - t0) / 1000000))" >>"$out"
			[ "$rc" = 0 ] && rm -f "$work/legit-$n.out" "$work/legit-$n.pem"
		) &
		pids+=($!)
		sleep 0.25
	done
	wait "${pids[@]}"
}

# legit_stats OUT: "ok=N total=N pct=P p50=MS p99=MS" of legit_run's OUT
# (latencies of the successful enrolments).
legit_stats() {
	local n ok
	n=$(wc -l <"$1")
	ok=$(awk '$1 == 0' "$1" | wc -l)
	awk '$1 == 0 { print $2 }' "$1" | sort -n | awk -v n="$n" -v ok="$ok" '
	{ t[NR] = $1 }
	END {
		printf "ok=%d total=%d pct=%.1f p50=%s p99=%s\n", ok, n,
		    n ? ok * 100 / n : 0, ok ? t[int((ok - 1) * 0.5) + 1] : "-",
		    ok ? t[int((ok - 1) * 0.99) + 1] : "-"
	}'
}

# abuse_material: the requests the attacks send, in $work: max.der (ir
# under PBMAC1 with HMAC-SHA512 at pbm_max_iterations, senderKID of no
# secret), known.der and unknown.der (PBM at 500 with a wrong secret, the
# demo reference and one that does not exist), ocsp.req (for the CA
# certificate itself, with a nonce: never a reused answer).
abuse_material() {
	local iter gen
	iter=$(sed -n 's/^pbm_max_iterations *= *//p' "$CMPCA_CONF")
	echo "not the secret" >"$work/wrong-secret"
	gen="$bin/cmphostile -c $CMPCA_CA_CERT -s $work/wrong-secret"
	$gen -r no-such-ref pbmac1-max "${iter:-10000}" >"$work/max.der" &&
	$gen -r "$CMPCA_SECRET_REF" ir >"$work/known.der" &&
	$gen -r no-such-ref ir >"$work/unknown.der" &&
	openssl ocsp -issuer "$CMPCA_CA_CERT" -cert "$CMPCA_CA_CERT" \
	    -reqout "$work/ocsp.req" >/dev/null 2>&1
}

# attack MODE SECS ARGS...: tests/bench/abuse.py in the background, its
# line into $work/attack-MODE.out; $attack_pid.
attack() {
	local mode=$1 secs=$2
	shift 2
	python3 "$top/tests/bench/abuse.py" "$mode" --port "$CMPCA_PORT" \
	    --secs "$secs" "$@" >"$work/attack-$mode.out" 2>&1 &
	attack_pid=$!
}
