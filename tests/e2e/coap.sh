#!/bin/bash
# CMP over CoAP (RFC 9482) on the real stack: requests made by
# `openssl cmp -reqout` (which writes its request even when its server
# cannot be reached) are posted with libcoap's own coap-client; the
# responses are decoded with cmpdump and taken in by `openssl cmp -rspin`,
# which checks their protection and writes the certificate. Then the
# transport's refusals (4.04, 4.05, 4.15, 4.13, 4.02, 4.08, 5.03, a Reset)
# and its bounds, with hand-made datagrams (coapraw.py) where coap-client
# will not misbehave: a block sequence never finished leaves nothing
# behind, and the daemon keeps serving.
#
# usage: tests/e2e/coap.sh [--bin DIR]
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup coap 18790 --port-var CMPCA_COAP_TEST_PORT --scan-to 18799 -- "$@"

client=$(command -v coap-client || command -v coap-client-notls ||
    command -v coap-client-openssl)
if [ -z "$client" ]; then
	echo "coap-client not found (scripts/deps installs libcoap3-bin)"
	echo "0 passed, 1 failed"
	exit 1
fi
dtls_client=$(command -v coap-client-openssl)
raw() { python3 "$top/tests/e2e/coapraw.py" "$CMPCA_COAP_PORT" "$@"; }

# Transfers idle for 2 s are dropped; polls may come after 1 s.
export CMPCA_POLL_AFTER=1
printf '[cmpca]\ncoap_timeout = 2\n' >"$work/extra.conf"
export CMPCA_CONF_EXTRA=$work/extra.conf
# CoAP over DTLS too, on a UDP port of this suite's range.
export CMPCA_COAPS_PORT=$((CMPCA_PORT + 5))
e2e_stack_up
export CMPCA_SECRET

check "stack.env names the CoAP URL" \
    test "$CMPCA_COAP_URL" = "coap://127.0.0.1:$CMPCA_COAP_PORT/.well-known/cmp"
check "cmpcad serves CoAP on udp 127.0.0.1:$CMPCA_COAP_PORT" \
    grep -q "coap: listening on udp 127.0.0.1:$CMPCA_COAP_PORT" "$CMPCA_LOG"

openssl ecparam -genkey -name prime256v1 -noout -out "$work/ec.key" 2>/dev/null
openssl genrsa -out "$work/rsa.key" 3072 2>/dev/null

# mkreq NAME SUBJECT [openssl cmp options...]: the request of `openssl
# cmp -cmd ir` with the demo secret, written to NAME.der.
mkreq() {
	local name=$1 subj=$2
	shift 2
	openssl cmp -cmd ir -server 127.0.0.1:1 -ref "$CMPCA_SECRET_REF" \
	    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/ec.key" -subject "$subj" -certout "$work/unused.pem" \
	    -reqout "$work/$name.der" "$@" >"$work/$name.mk" 2>&1
	[ -s "$work/$name.der" ]
}
# post IN OUT [URL] [coap-client options]: POST with Content-Format 259.
post() {
	local in=$1 out=$2 url=${3:-$CMPCA_COAP_URL}
	shift 3 2>/dev/null || shift $#
	rm -f "$work/$out"
	"$client" -B 20 -m post -t 259 "$@" -f "$work/$in" -o "$work/$out" \
	    "$url" >"$work/$out.client" 2>&1
}
# take NAME SUBJECT RSP [options]: `openssl cmp` takes the responses in as if from a
# server (checks the MAC, the status) and writes NAME.pem.
take() {
	local name=$1 subj=$2 rsp=$3
	shift 3
	openssl cmp -cmd ir -server 127.0.0.1:1 -ref "$CMPCA_SECRET_REF" \
	    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/ec.key" -subject "$subj" -rspin "$rsp" \
	    -certout "$work/$name.pem" "$@" >"$work/$name.take" 2>&1
	[ -s "$work/$name.pem" ]
}

# 1. ir with implicitConfirm: one datagram each way... or two: the ip
#    with the certificate and chain is larger than one 1024-byte block.
mkreq ir1 "/CN=coap-one" -implicit_confirm
check "openssl cmp wrote the ir" test -s "$work/ir1.der"
post ir1.der ip1.der
check "ir: 2.04 with an ip (status accepted)" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ip1.der")
check "ir: the ip came in Block2 blocks (larger than 1024 bytes)" \
    test "$(stat -c %s "$work/ip1.der")" -gt 1024
check "ir: openssl cmp takes the ip (MAC, status) and its certificate" \
    take one "/CN=coap-one" "$work/ip1.der" -implicit_confirm
check "ir: certificate for the requested subject and key" \
    test "$(subject_of "$work/one.pem")" = "CN=coap-one"
check "ir: same public key" same_pubkey "$work/one.pem" "$work/ec.key"
check "ir: certificate chains to the CA" chains "$work/one.pem"
check "ir: inventory row valid" test "$(db_status "$work/one.pem")" = valid

# A retransmitted Confirmable request (as when its ACK is lost) gets the
# same answer and is not served twice (RFC 7252 §4.5); the rest of the
# response then follows in Block2 blocks.
mkreq ir8 "/CN=coap-retransmit" -implicit_confirm
out=$(raw --data "$work/ir8.der" + --again + --block2 1,0,6 --cf -1)
check "retransmission: the first answer is the ip's first block" \
    grep -q "code=2.04 .*block2=0/1/1024" <<<"$(sed -n 1p <<<"$out")"
check "retransmission: answered the same again" \
    test "$(sed -n 1p <<<"$out")" = "$(sed -n 2p <<<"$out")"
check "retransmission: served once (one engine line, no replay refusal)" \
    test "$(grep -c 'subject="/CN=coap-retransmit" outcome=accepted' "$CMPCA_LOG") $(grep -c 'subject="/CN=coap-retransmit" outcome=rejected' "$CMPCA_LOG")" = "1 0"
check "retransmission: logged" grep -q "repeated message" "$CMPCA_LOG"
check "retransmission: the last block follows" \
    grep -q "code=2.04 .*block2=1/0/1024" <<<"$(sed -n 3p <<<"$out")"
check "retransmission: one certificate issued" \
    test "$(q "select count(*) from cert where subject = 'CN=coap-retransmit'")" = 1

# DTLS (coaps://): the same over libcoap's OpenSSL backend, the server
# certificate checked by the client against the stack's CoAP CA.
check "stack.env names the CoAPS URL" \
    test "$CMPCA_COAPS_URL" = "coaps://127.0.0.1:$CMPCA_COAPS_PORT/.well-known/cmp"
check "the DTLS key belongs to the daemon's user, mode 0600" \
    test "$(stat -c '%U %a' "$CMPCA_VAR/coaps/server.key")" = "$CMPCA_USER 600"
mkreq ird "/CN=coap-dtls" -implicit_confirm
rm -f "$work/ipd.der"
"$dtls_client" -B 20 -R "$CMPCA_COAPS_CA" -m post -t 259 -b 256 \
    -f "$work/ird.der" -o "$work/ipd.der" "$CMPCA_COAPS_URL" >"$work/ipd.out" 2>&1
check "DTLS: ir in 256-byte blocks answered with an ip (accepted)" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ipd.der")
check "DTLS: openssl cmp takes the ip and its certificate" \
    take dtls "/CN=coap-dtls" "$work/ipd.der" -implicit_confirm
check "DTLS: inventory row valid" test "$(db_status "$work/dtls.pem")" = valid
mkreq ird2 "/CN=coap-dtls-untrusted" -implicit_confirm
rm -f "$work/ipd2.der"
"$dtls_client" -B 10 -R "$CMPCA_CA_CERT" -m post -t 259 \
    -f "$work/ird2.der" -o "$work/ipd2.der" "$CMPCA_COAPS_URL" >"$work/ipd2.out" 2>&1
check "DTLS: a client that does not trust the server certificate sends nothing" \
    bash -c "[ ! -s '$work/ipd2.der' ] && grep -q 'certificate verify failed' '$work/ipd2.out' && [ \$(grep -c 'subject=\"/CN=coap-dtls-untrusted\"' '$CMPCA_LOG') = 0 ]"
"$dtls_client" -B 5 -m get -R "$CMPCA_COAPS_CA" "$CMPCA_COAPS_URL" \
    >"$work/getd.out" 2>&1
check "DTLS: GET gets 4.05 there too" grep -q "^4.05" "$work/getd.out"

# 2. ir, then certConf, to the CA's own path /p/<label>.
mkreq ir2 "/CN=coap-two"
post ir2.der ip2.der "$CMPCA_COAP_URL_CA"
check "ir via /p/$CMPCA_CA_LABEL: ip (accepted)" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ip2.der")
# The certConf, written by openssl cmp after the ip (its server fails).
openssl cmp -cmd ir -server 127.0.0.1:1 -ref "$CMPCA_SECRET_REF" \
    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$work/ec.key" -subject "/CN=coap-two" -rspin "$work/ip2.der" \
    -reqout "$work/x2.der,$work/cc2.der" -certout "$work/two.pem" \
    >"$work/cc2.mk" 2>&1
check "openssl cmp wrote the certConf" \
    grep -q "^body=certConf " <(dump "$work/cc2.der")
rm -f "$work/two.pem"
check "ip via /p/$CMPCA_CA_LABEL: openssl cmp takes it and its certificate" \
    take two "/CN=coap-two" "$work/ip2.der" -disable_confirm
check "before certConf: row unconfirmed" \
    test "$(db_status "$work/two.pem")" = unconfirmed
post cc2.der pc2.der "$CMPCA_COAP_URL_CA"
check "certConf: 2.04 with pkiconf" \
    grep -q "^body=pkiconf " <(dump "$work/pc2.der")
check "certConf: row valid" test "$(db_status "$work/two.pem")" = valid
tx_ip=$(dump "$work/ip2.der" | sed -n 's/.* tx=\([0-9a-f]*\).*/\1/p')
check "certConf: same transaction as the ir" \
    grep -q "tx=$tx_ip " <(dump "$work/pc2.der")

# 3. A request larger than one block: RSA-3072 and extraCerts, sent by
#    coap-client in Block1 blocks of 1024, then in blocks of 64 bytes.
cat "$CMPCA_CA_CERT" "$work/one.pem" "$work/two.pem" >"$work/extra.pem"
mkreq ir3 "/CN=coap-large" -implicit_confirm -newkey "$work/rsa.key" \
    -extracerts "$work/extra.pem"
check "the large ir is over 2048 bytes" \
    test "$(stat -c %s "$work/ir3.der")" -gt 2048
post ir3.der ip3.der "" -v 7
check "large ir: coap-client sent Block1 blocks" \
    grep -q "Block1:1/M/1024" "$work/ip3.der.client"
check "large ir: ip (accepted)" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ip3.der")
openssl cmp -cmd ir -server 127.0.0.1:1 -ref "$CMPCA_SECRET_REF" \
    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$work/rsa.key" -subject "/CN=coap-large" -implicit_confirm \
    -rspin "$work/ip3.der" -certout "$work/large.pem" >"$work/large.take" 2>&1
check "large ir: certificate for the RSA key" \
    same_pubkey "$work/large.pem" "$work/rsa.key"
mkreq ir4 "/CN=coap-small-blocks" -implicit_confirm
post ir4.der ip4.der "" -b 64 -v 7
check "64-byte blocks: coap-client sent Block1 blocks of 64" \
    grep -q "Block1:3/M/64" "$work/ip4.der.client"
check "64-byte blocks: ip (accepted)" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ip4.der")
# The client may ask for smaller response blocks (RFC 7959 §2.4).
mkreq ir5 "/CN=coap-block2" -implicit_confirm
out=$(raw --data "$work/ir5.der" --block2 0,0,2)
check "Block2 of 64 asked for: first block of 64 with Size2" \
    grep -q "code=2.04 .*block2=0/1/64 size2=[0-9]* len=64" <<<"$out"
out=$(raw --data "$work/ir5.der" --block2 0,0,2 + --block2 1,0,2 --cf -1)
check "Block2: the next block follows (same peer and path)" \
    grep -q "code=2.04 .*block2=1/1/64 .*len=64" <<<"$(sed -n 2p <<<"$out")"

# 4. CMP errors travel as CMP messages, in 2.04.
openssl cmp -cmd ir -server 127.0.0.1:1 -ref "$CMPCA_SECRET_REF" \
    -secret pass:wrong-secret -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$work/ec.key" -subject "/CN=coap-badmac" -certout "$work/u.pem" \
    -reqout "$work/bad.der" >/dev/null 2>&1
post bad.der badrsp.der
check "wrong secret: 2.04 with error badMessageCheck" \
    grep -q "^body=error .*failinfo=badMessageCheck" <(dump "$work/badrsp.der")

# 5. What the transport refuses.
"$client" -B 5 -m post -t 0 -f "$work/ir1.der" "$CMPCA_COAP_URL" \
    >"$work/cf.out" 2>&1
check "wrong Content-Format: 4.15" grep -q "^4.15" "$work/cf.out"
"$client" -B 5 -m get "$CMPCA_COAP_URL" >"$work/get.out" 2>&1
check "GET: 4.05" grep -q "^4.05" "$work/get.out"
"$client" -B 5 -m put -t 259 -f "$work/ir1.der" "$CMPCA_COAP_URL" \
    >"$work/put.out" 2>&1
check "PUT: 4.05" grep -q "^4.05" "$work/put.out"
post ir1.der x.der "coap://127.0.0.1:$CMPCA_COAP_PORT/.well-known/other"
check "unknown path: 4.04" grep -q "^4.04" "$work/x.der.client"
check "unknown CA label: 2.04 with error wrongAuthority" \
    bash -c "'$client' -B 5 -m post -t 259 -f '$work/ir1.der' -o '$work/wa.der' \
    '$CMPCA_COAP_URL/p/nosuchca' && '$bin/cmpdump' '$work/wa.der' |
    grep -q 'failinfo=wrongAuthority'"
check "no Content-Format: 4.15" \
    grep -q "code=4.15" <(raw --cf -1 --data "$work/ir1.der")
check "empty body: 4.00" grep -q "code=4.00" <(raw)
check "Size1 over max_request: 4.13 naming the limit" \
    grep -q "code=4.13 .*size1=262144" <(raw --size1 300000 --fill 10)
check "unknown critical option: 4.02" \
    grep -q "code=4.02" <(raw --opt 65001:01 --fill 10)
check "Block SZX 7 (BERT) over UDP: 4.00" \
    grep -q "code=4.00" <(raw --block1 0,1,7 --fill 10)
check "Content-Format changed inside a transfer: 4.15, transfer dropped" \
    grep -q "code=4.15.*" <(raw --block1 0,1,2 --data "$work/ir1.der" \
    --rtag 01 + --block1 1,1,2 --data "$work/ir1.der" --rtag 01 --cf 0)
mkreq ir9 "/CN=coap-cf-once" -implicit_confirm
out=$(raw --block1 0,1,4 --data "$work/ir9.der" + \
    --block1 1,0,4 --data "$work/ir9.der" --cf -1)
check "Content-Format on the first block only: served (2.04)" \
    grep -q "code=2.04 .*block1=1/0/256" <<<"$(sed -n 2p <<<"$out")"
out=$(raw --block1 0,1,2 --data "$work/ir1.der" --rtag 02 + \
    --block1 2,1,2 --data "$work/ir1.der" --rtag 02 + \
    --block1 1,1,2 --data "$work/ir1.der" --rtag 02)
check "block out of order: 4.08, transfer dropped" \
    test "$(sed -n '2,3s/ .*//p' <<<"$out" | tr '\n' ' ')" = \
    "code=4.08 code=4.08 "
check "continuation of a response never held: 4.08" \
    grep -q "code=4.08" <(raw --block2 1,0,6 --cf -1)
# A malformed datagram (token length 15): libcoap answers Reset.
check "malformed datagram: Reset" \
    grep -q "type=RST" <(raw --raw 5f0100010203)

# 6. Bounds: 4 transfers per peer, 64 in all; unfinished ones go after
#    coap_timeout (2 s here) and leave nothing behind.
# One socket (one peer): 5 starts, then 2 continuations.
args=()
for t in 01 02 03 04 05; do
	args+=(--block1 0,1,2 --data "$work/ir1.der" --rtag "$t" +)
done
args+=(--block1 1,1,2 --data "$work/ir1.der" --rtag 01 +)
args+=(--block1 1,1,2 --data "$work/ir1.der" --rtag 05)
out=$(raw "${args[@]}")
check "one peer: 5 transfers started" \
    test "$(head -5 <<<"$out" | grep -c 'code=2.31')" = 5
check "one peer: its oldest transfer went when it started a fifth (4.08)" \
    test "$(sed -n 6p <<<"$out" | cut -d' ' -f1)" = code=4.08
check "one peer: its newest transfer continues (2.31)" \
    test "$(sed -n 7p <<<"$out" | cut -d' ' -f1)" = code=2.31
sleep 3
# Fill the table from 16 peers (4 each), the 65th transfer gets 5.03.
fill() {
	raw --peers 16 --block1 0,1,2 --data "$work/ir1.der" --rtag 01 + \
	    --block1 0,1,2 --data "$work/ir1.der" --rtag 02 + \
	    --block1 0,1,2 --data "$work/ir1.der" --rtag 03 + \
	    --block1 0,1,2 --data "$work/ir1.der" --rtag 04
}
fill >"$work/fill.out"
check "64 transfers held" test "$(grep -c 'code=2.31' "$work/fill.out")" = 64
check "the 65th: 5.03 with Max-Age (coap_timeout)" \
    grep -q "code=5.03 .*max-age=2 " <(raw --block1 0,1,2 --data "$work/ir1.der")
mkreq ir6 "/CN=coap-while-full" -implicit_confirm
post ir6.der ip6.der
check "table full: a one-datagram request is still served" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ip6.der")
sleep 3
check "after coap_timeout the unfinished transfers were dropped (log)" \
    grep -q "coap: dropped [0-9]* unfinished block-wise transfer" "$CMPCA_LOG"
fill >"$work/fill2.out"
check "after coap_timeout nothing is left: 64 new transfers fit again" \
    test "$(grep -c 'code=2.31' "$work/fill2.out")" = 64
sleep 3
# A sequence never completed, then the next block after the timeout.
raw --block1 0,1,2 --data "$work/ir1.der" --rtag 08 >/dev/null
sleep 3
check "never completed: the next block after coap_timeout gets 4.08" \
    grep -q "code=4.08" <(raw --block1 1,1,2 --data "$work/ir1.der" --rtag 08)
mkreq ir7 "/CN=coap-after" -implicit_confirm
post ir7.der ip7.der
check "the daemon keeps serving: ir after all of the above" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ip7.der")
check "one CoAP process, never restarted" \
    test "$(grep -c 'coap: listening on udp' "$CMPCA_LOG")" = 1

# 7. Delayed delivery over CoAP: the approval profile, pollReq/pollRep.
apsecret=$(cli secret add coap-approver --profile approval --uses 10)
export APSECRET=$apsecret
ap() { # the openssl cmp of this transaction, options appended
	openssl cmp -cmd ir -server 127.0.0.1:1 -ref coap-approver \
	    -secret env:APSECRET -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/ec.key" -subject "/CN=coap-approve" \
	    -certout "$work/ap.pem" "$@"
}
ap -reqout "$work/ap-ir.der" >/dev/null 2>&1
post ap-ir.der ap-ip.der
check "approval: ip with status waiting" \
    grep -q "^body=ip .*status=3 " <(dump "$work/ap-ip.der")
ap -rspin "$work/ap-ip.der" -reqout "$work/x.der,$work/ap-poll1.der" \
    >/dev/null 2>&1
check "approval: openssl cmp polls (pollReq)" \
    grep -q "^body=pollReq " <(dump "$work/ap-poll1.der")
post ap-poll1.der ap-rep1.der
check "approval: pollRep while pending" \
    grep -q "^body=pollRep " <(dump "$work/ap-rep1.der")
id=$(cli request list | awk -F'\t' '$5 == "CN=coap-approve" {print $1}')
check "approval: request listed as pending" test -n "$id"
cli request approve "$id" >/dev/null
ap -rspin "$work/ap-ip.der,$work/ap-rep1.der" \
    -reqout "$work/x.der,$work/x2.der,$work/ap-poll2.der" >/dev/null 2>&1
post ap-poll2.der ap-ip2.der
check "approval: after approve, the poll answers ip (accepted)" \
    grep -q "^body=ip .*status=0 " <(dump "$work/ap-ip2.der")
ap -rspin "$work/ap-ip.der,$work/ap-rep1.der,$work/ap-ip2.der" \
    -reqout "$work/x.der,$work/x2.der,$work/x3.der,$work/ap-cc.der" \
    >/dev/null 2>&1
rm -f "$work/ap.pem"
ap -rspin "$work/ap-ip.der,$work/ap-rep1.der,$work/ap-ip2.der" \
    -disable_confirm >"$work/ap.take" 2>&1
check "approval: openssl cmp takes the certificate (MAC, status)" \
    test "$(subject_of "$work/ap.pem")" = "CN=coap-approve"
check "approval: certificate for the polling client's key" \
    same_pubkey "$work/ap.pem" "$work/ec.key"
post ap-cc.der ap-pc.der
check "approval: certConf answered with pkiconf" \
    grep -q "^body=pkiconf " <(dump "$work/ap-pc.der")
check "approval: row valid" test "$(db_status "$work/ap.pem")" = valid

check "the demo secret is not in the log" \
    bash -c "! grep -qF -- '$CMPCA_SECRET' '$CMPCA_LOG'"

# A bad or taken coap_listen fails at start, with the reason.
d() { env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    timeout 20 "$CMPCA_RUN_BIN/cmpcad" "$@"; }
sed "s|^coap_listen = .*|coap_listen = localhost:5683|" "$CMPCA_CONF" \
    >"$work/badaddr.conf"
chmod 644 "$work/badaddr.conf"
d -t -c "$work/badaddr.conf" >"$work/badaddr.out" 2>&1
rc=$?
check "cmpcad -t refuses a coap_listen that is not a numeric address" \
    bash -c "[ $rc = 1 ] && grep -q 'coap_listen localhost:5683: not HOST:PORT' '$work/badaddr.out'"
sed "s|^socket = .*|socket = $work/second.sock|" "$CMPCA_CONF" >"$work/taken.conf"
chmod 644 "$work/taken.conf"
d -c "$work/taken.conf" >"$work/taken.out" 2>&1
rc=$?
check "a second cmpcad on the same CoAP port exits at start (address in use)" \
    bash -c "[ $rc != 0 ] && [ $rc != 124 ] && grep -q 'coap_listen 127.0.0.1:$CMPCA_COAP_PORT: Address already in use' '$work/taken.out' && ! grep -q 'worker ready' '$work/taken.out'"

# A clean stop: the CoAP worker leaves on SIGTERM, and a SAN=1 build's
# daemon log has no sanitizer report (leaks included).
stack_down
check "cmpcad stopped on SIGTERM" bash -c "! kill -0 $CMPCA_CMPCAD_PID 2>/dev/null"
check "the CoAP port is closed" \
    bash -c "! grep -qi ':$(printf '%04X' "$CMPCA_COAP_PORT") ' /proc/net/udp"
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

e2e_done
