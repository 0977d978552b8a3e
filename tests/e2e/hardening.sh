#!/bin/bash
# Hardening on the real stack: cmpcad's own user, workers that are not
# dumpable, the PIN file checks at start, no PIN or enrollment secret in
# any log or in the database's plaintext (secrets sealed in the HSM,
# migration of clear rows), and CMP over HTTPS with the TLS server block.
# Needs root (the stack's user cmpca, runuser) like the other suites.
#
# usage: tests/e2e/hardening.sh [--bin DIR]
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup hardening 18655 --port-var CMPCA_HARDENING_PORT --scan-to 18657 -- "$@"
export CMPCA_TLS_PORT=$((CMPCA_PORT + 2))
e2e_stack_up
w=$work
export CMPCA_SECRET
openssl ecparam -genkey -name prime256v1 -noout -out "$w/k.pem" 2>/dev/null
ir() { # name url secret-ref secret-env subject extra...
	local name=$1 url=$2 ref=$3 env=$4 subj=$5
	shift 5
	openssl cmp -cmd ir -server "$url" -ref "$ref" -secret "env:$env" \
	    -recipient "$CMPCA_CA_SUBJECT" -newkey "$w/k.pem" -subject "$subj" \
	    -certout "$w/$name.pem" "$@" >"$w/$name.out" 2>&1
}

# 1. Its own user; the socket still reachable by nginx.
check "stack.env names the daemon's user cmpca" test "$CMPCA_USER" = cmpca
check "master runs as cmpca" test "$(ps -o user= -p "$CMPCA_CMPCAD_PID")" = cmpca
workers=$(pgrep -P "$CMPCA_CMPCAD_PID" | paste -sd, -)
check "workers and housekeeper run as cmpca" test \
    "$(ps -o user= -p "$workers" | sort -u | tr -d ' ')" = cmpca
check "enrollment through nginx and the dropped daemon" \
    ir first "$CMPCA_URL" "$CMPCA_SECRET_REF" CMPCA_SECRET /CN=hardening-1
check "cmpca cannot get root back: no root process in the daemon" \
    bash -c "! ps -o uid= -p $workers,$CMPCA_CMPCAD_PID | grep -qw 0"

# 2. Not dumpable: the same uid cannot read a worker's environment
#    (ptrace access mode "read", which Yama does not restrict); a dumpable
#    process of the same user can, so the check can fail.
for p in ${workers//,/ } $CMPCA_CMPCAD_PID; do
	check "process $p: not readable through /proc by its own uid" bash -c \
	    "! runuser -u cmpca -- cat /proc/$p/environ >/dev/null 2>&1"
done
setpriv --reuid=cmpca --regid=cmpca --init-groups sleep 30 &
ctl=$!
sleep 0.3
check "control: a dumpable cmpca process is readable by cmpca" \
    runuser -u cmpca -- cat "/proc/$ctl/environ"
kill "$ctl" 2>/dev/null
wait "$ctl" 2>/dev/null

# The CLI holds the PIN (libp11 keeps a copy), the data key and clear
# secrets: not dumpable, no core file. It is caught while it waits for
# the HSM lock, which this script holds for a moment.
flock -x "$CMPCA_HSM_LOCK" sleep 4 &
holder=$!
sleep 0.3
cli crl issue --ca "$CMPCA_CA_LABEL" >/dev/null 2>&1 &
clipid=
for _ in $(seq 30); do
	# The cmpca process itself, not setpriv or env before their exec.
	clipid=$(pgrep -n -u cmpca -f "cmpca -c .* crl issue") &&
	    [ "$(basename "$(readlink "/proc/$clipid/exe")")" = cmpca ] && break
	clipid=
	sleep 0.1
done
check "the CLI is running (waiting for the HSM lock)" test -n "$clipid"
check "CLI: not readable through /proc by its own uid" bash -c \
    "! runuser -u cmpca -- cat /proc/$clipid/environ >/dev/null 2>&1"
check "CLI: core file size limit 0" \
    grep -Eq "^Max core file size +0 +0 " "/proc/$clipid/limits"
wait "$holder"
wait

# 3. PIN file checks at start (cmpcad -t runs the same start-up checks).
pin=$CMPCA_VAR/hsm/pin
cmpcad_t() { env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    "$bin/cmpcad" -c "${1:-$CMPCA_CONF}" -t >"$w/t.out" 2>&1; }
check "cmpcad -t as root with user = cmpca: ok" cmpcad_t
chmod 640 "$pin"
cmpcad_t
check "PIN file readable by group: refused with a clear message" \
    grep -q "readable or writable by group or others" "$w/t.out"
chmod 600 "$pin"
chown root "$pin"
cmpcad_t
check "PIN file not owned by the daemon's user: refused" \
    grep -q "owned by uid 0, not by uid" "$w/t.out"
chown cmpca "$pin"
sed 's/^user = .*/user =/' "$CMPCA_CONF" >"$w/nouser.conf"
cmpcad_t "$w/nouser.conf"
check "root without user: refused" grep -q "refuses to run as root" "$w/t.out"
sed 's/^user = .*/user = nosuchuser-cmpca/' "$CMPCA_CONF" >"$w/baduser.conf"
cmpcad_t "$w/baduser.conf"
check "unknown user: refused" grep -q "nosuchuser-cmpca" "$w/t.out"

# 4. Secrets: sealed in the HSM, never in clear in the database or logs.
export SEC2
SEC2=$(cli secret add hardening-2 --uses 3)
check "a second secret enrolls" \
    ir second "$CMPCA_URL" hardening-2 SEC2 /CN=hardening-2
check "no clear secret in enroll_secret" \
    test "$(q "select count(*) from enroll_secret where secret is not null")" = 0
check "every secret sealed (format byte, IV, tag)" \
    test "$(q "select count(*) from enroll_secret where length(secret_enc) < 30")" = 0
# A row as versions before migration 011 wrote it, sealed by db migrate.
export OLD=old-clear-secret-7f3a9c
q "insert into enroll_secret (ref, secret, uses_left) values ('old', convert_to('$OLD', 'UTF8'), -1)" >/dev/null
cli db migrate >"$w/migrate.out" 2>&1
check "db migrate seals secrets stored in clear" \
    grep -q "1 enrollment secret(s) sealed" "$w/migrate.out"
check "the old secret's clear column is empty" \
    test "$(q "select count(*) from enroll_secret where ref = 'old' and secret is null and secret_enc is not null")" = 1
check "the sealed old secret still enrolls" ir old "$CMPCA_URL" old OLD /CN=hardening-old
# Sealing key rotation (issue 17): a new key version in the token, every
# secret moved to it; the daemon's workers, which opened these secrets
# under the old key, find the new key and the rows' new values.
cli secret reseal --new-key >"$w/reseal.out" 2>&1
kv=$(sed -n 's/.* resealed under key version \([0-9]*\), 0 left .*/\1/p' "$w/reseal.out")
check "secret reseal --new-key moves every secret, 0 left" \
    test -n "$kv" -a "$kv" -gt 1
check "every row names the new key version" \
    test "$(q "select count(*) from enroll_secret where substring(secret_enc from 1 for 5) is distinct from '\\x03'::bytea || int4send(${kv:-0})")" = 0
check "a new sealing key version was generated" \
    grep -q "key version ${kv:-0} generated" "$w/reseal.out"
check "an unlimited secret enrolls after the reseal" \
    ir old-rot "$CMPCA_URL" old OLD /CN=hardening-old-rot
check "a limited secret enrolls after the reseal" \
    ir second-rot "$CMPCA_URL" hardening-2 SEC2 /CN=hardening-2-rot
cli secret reseal >"$w/reseal2.out" 2>&1
check "secret reseal again moves nothing" \
    grep -q "^0 enrollment secret(s) resealed under key version ${kv:-0}, 0 left" "$w/reseal2.out"
q "update enroll_secret set secret_enc = (select secret_enc from enroll_secret where ref = 'hardening-2') where ref = 'old'" >/dev/null
ir swapped "$CMPCA_URL" old SEC2 /CN=hardening-swap -rspout "$w/swapped.rsp" -unprotected_errors
check "a sealed value moved to another row does not open there" \
    grep -q "failinfo=systemFailure" <(dump "$w/swapped.rsp")
pg_dump --no-owner "$CMPCA_DB" >"$w/dump.sql" 2>"$w/dump.err"
check "pg_dump of the whole database made" test -s "$w/dump.sql"
logs=("$CMPCA_VAR"/*.log "$(readlink -f "$CMPCA_VAR/pg")"/server.log "$w/dump.sql")
for name in PIN SO-PIN demo-secret secret-2 old-secret; do
	case $name in
	PIN) v=$(cat "$pin") ;;
	SO-PIN) v=$(cat "$CMPCA_VAR/hsm/so-pin") ;;
	demo-secret) v=$CMPCA_SECRET ;;
	secret-2) v=$SEC2 ;;
	old-secret) v=$OLD ;;
	esac
	check "$name in no log and not in the database dump" \
	    bash -c "! grep -rqF -- '$v' ${logs[*]}"
done
check "logs searched: cmpcad, nginx, PostgreSQL" test \
    "$(ls "${logs[@]}" 2>/dev/null | grep -c 'cmpcad.log\|nginx-access.log\|nginx-error.log\|server.log')" = 4

# 5. HTTPS: the stack's TLS server block, as in the example config.
check "ir over HTTPS with openssl cmp -tls_used" \
    ir tls "$CMPCA_TLS_URL" "$CMPCA_SECRET_REF" CMPCA_SECRET /CN=hardening-tls \
    -tls_used -tls_trusted "$CMPCA_TLS_CA"
check "HTTPS: certificate issued and valid" test "$(db_status "$w/tls.pem")" = valid
ir tlsbad "$CMPCA_TLS_URL" "$CMPCA_SECRET_REF" CMPCA_SECRET /CN=hardening-tlsbad \
    -tls_used -tls_trusted "$CMPCA_CA_CERT"
check "HTTPS: a client that does not trust the server certificate stops" \
    grep -q "certificate verify failed" "$w/tlsbad.out"
tls_try() { echo | openssl s_client -connect "127.0.0.1:$CMPCA_TLS_PORT" "$@" >"$w/sc.out" 2>&1; }
check "TLS 1.3 accepted" tls_try -tls1_3 -CAfile "$CMPCA_TLS_CA" -verify_return_error
check "TLS 1.2 accepted" tls_try -tls1_2 -CAfile "$CMPCA_TLS_CA" -verify_return_error
check "TLS 1.1 refused" bash -c "! echo | openssl s_client -connect 127.0.0.1:$CMPCA_TLS_PORT -tls1_1 -cipher DEFAULT@SECLEVEL=0 >/dev/null 2>&1"
check "TLS 1.2 without forward secrecy (RSA key exchange) refused" bash -c \
    "! echo | openssl s_client -connect 127.0.0.1:$CMPCA_TLS_PORT -tls1_2 -cipher AES128-GCM-SHA256 >/dev/null 2>&1"
# The example configuration is valid nginx (paths pointed at the stack).
sed -e "s|/etc/ssl/cmpca/server.pem|$CMPCA_VAR/tls/server.pem|" \
    -e "s|/etc/ssl/cmpca/server.key|$CMPCA_VAR/tls/server.key|" \
    -e "s|/usr/local/share/cmpca/nginx/|$top/nginx/|" \
    -e "s|listen 443|listen 127.0.0.1:$((CMPCA_PORT + 1))|" -e '/\[::\]:443/d' \
    "$top/nginx/cmpca-tls.conf.example" >"$w/example.conf"
# The plain-HTTP example defines the upstream and the limits the TLS one
# uses: both together, as the guide enables them.
sed -e "s|/usr/local/share/cmpca/nginx/|$top/nginx/|" \
    -e "s|listen 80;|listen 127.0.0.1:$((CMPCA_PORT + 2));|" -e '/\[::\]:80/d' \
    -e "s|127.0.0.1:8081|127.0.0.1:$((CMPCA_PORT + 3))|" \
    "$top/nginx/cmpca-http.conf.example" >"$w/example-http.conf"
printf '%s\n' "pid $w/ex.pid;" "error_log $w/ex-error.log;" "events {}" \
    "http {" "include $w/example-http.conf;" "include $w/example.conf;" "}" \
    >"$w/example-main.conf"
check "nginx/cmpca-http.conf.example and cmpca-tls.conf.example pass nginx -t" \
    nginx -q -t -p "$w" -c "$w/example-main.conf"

# 6. The FastCGI socket: only nginx (group cmpca-web, mode 0660) talks to
#    cmpcad; the page trusts no REMOTE_USER; a silent connection cannot
#    hold a worker; a TCP socket touches no file of that name.
sock=$CMPCA_VAR/cmpcad.sock
fcgi() { /usr/bin/python3 "$top/tests/e2e/fcgi.py" "$@"; }
check "socket is 0660, owned by cmpca and group cmpca-web" \
    test "$(stat -c '%a %U %G' "$sock")" = "660 cmpca cmpca-web"
# The script through stdin and from /: nobody may not reach the checkout
# (under /root, issue 18), and only the socket's refusal may count here.
(cd / && runuser -u nobody -- /usr/bin/python3 - request "$sock" \
    REQUEST_METHOD=GET DOCUMENT_URI=/metrics <"$top/tests/e2e/fcgi.py" \
    >"$w/nobody.out" 2>&1)
check "another local user cannot connect to the socket" \
    grep -q "connect failed: Permission denied" "$w/nobody.out"
fcgi request "$sock" REQUEST_METHOD=GET DOCUMENT_URI=/admin/ \
    REMOTE_USER=admin >"$w/ru.out" 2>&1
check "/admin/ with only REMOTE_USER (what fastcgi_params takes from any Basic header): 403" \
    grep -q "^Status: 403" "$w/ru.out"
fcgi request "$sock" REQUEST_METHOD=GET DOCUMENT_URI=/admin/ \
    CMPCA_ADMIN_USER=admin >"$w/au.out" 2>&1
check "/admin/ with CMPCA_ADMIN_USER (set by the auth_basic location only): 200" \
    grep -q "^Status: 200" "$w/au.out"
nw=$(sed -n 's/^workers = //p' "$CMPCA_CONF")
fcgi idle "$sock" $((nw + 1)) 30 >"$w/idle.out" 2>&1 &
idler=$!
sleep 1
check "an enrollment is served while $((nw + 1)) silent connections are open ($nw workers)" \
    timeout 20 openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" -newkey "$w/k.pem" \
    -subject /CN=hardening-idle -certout "$w/idle.pem"
wait "$idler"
# 5 s each (CA_FCGI_IO_TIMEOUT); the last one first waits 5 s for a worker.
check "cmpcad closes every silent connection within 20 s" \
    grep -Eq "^closed=$((nw + 1)) of $((nw + 1)) within ([0-9]|1[0-9]|20) s" "$w/idle.out"
check "the dropped connections are logged" \
    grep -q "dropped a connection that sent or took nothing" "$CMPCA_LOG"
# Connections kept open (FCGI_KEEP_CONN, nginx's fastcgi_keep_conn on):
# served again on the same connection, and while they are idle (longer
# than the I/O deadline) they hold no worker: an enrollment is served.
fcgi keep "$sock" $((nw + 1)) 7 REQUEST_METHOD=GET DOCUMENT_URI=/metrics \
    >"$w/keep.out" 2>&1 &
keeper=$!
sleep 3
check "an enrollment is served while $((nw + 1)) kept connections are idle ($nw workers)" \
    timeout 20 openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" -newkey "$w/k.pem" \
    -subject /CN=hardening-keep -certout "$w/keep.pem"
wait "$keeper"
check "kept connections: every request answered on its connection, none dropped while idle" \
    grep -q "^answered=$((3 * (nw + 1))) of $((3 * (nw + 1))) open=$((nw + 1)) of $((nw + 1))$" "$w/keep.out"
tport=$((CMPCA_PORT + 3))
mkdir -p "$w/tcp"
printf 'not a socket\n' >"$w/tcp/127.0.0.1:$tport"
chmod 600 "$w/tcp/127.0.0.1:$tport"
# (No CoAP: the stack's cmpcad holds its port.)
sed -e "s|^socket = .*|socket = 127.0.0.1:$tport|" -e "s|^workers = .*|workers = 1|" \
    -e "s|^coap_listen = .*|coap_listen =|" "$CMPCA_CONF" >"$w/tcp.conf"
(cd "$w/tcp" && exec env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    "$bin/cmpcad" -c "$w/tcp.conf" >"$w/tcp.log" 2>&1) &
tcpd=$!
for _ in $(seq 50); do
	fcgi request "127.0.0.1:$tport" REQUEST_METHOD=GET DOCUMENT_URI=/metrics \
	    >"$w/tcp.out" 2>&1 && grep -q "^Status: 200" "$w/tcp.out" && break
	sleep 0.2
done
check "cmpcad with socket = HOST:PORT serves requests" grep -q "^Status: 200" "$w/tcp.out"
kill "$tcpd" 2>/dev/null
wait "$tcpd" 2>/dev/null
check "socket = HOST:PORT: a file of that name is neither removed nor chmod'ed" \
    test "$(stat -c %a "$w/tcp/127.0.0.1:$tport" 2>&1) $(cat "$w/tcp/127.0.0.1:$tport" 2>&1)" = "600 not a socket"

# 7. A partner's error text (cross-certify request) is shown only once
#    its signature is checked, and then through the log sanitiser.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$w/fake.key" -out "$w/fake.pem" -subj "/O=Fake/CN=Fake Partner" \
    -days 2 -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
chmod 644 "$w/fake.pem"
chmod 755 "$w"
fport=$((CMPCA_PORT + 4))
evil=$(printf 'EVIL\033]0;owned\007\033[2J-TEXT')
xreq() { # MODE: a cross-certify request answered by a fake partner
	/usr/bin/python3 "$top/tests/e2e/fakepartner.py" "$fport" "$w/fake.pem" \
	    "$w/fake.key" "$1" "$evil" &
	local fake=$!
	sleep 0.5
	cli cross-certify request --ca "$CMPCA_CA_LABEL" --url "http://127.0.0.1:$fport/" \
	    --partner-cert "$w/fake.pem" >"$w/x-$1.out" 2>&1
	kill "$fake"
	wait "$fake" 2>/dev/null
}
xreq unsigned
check "unsigned partner error: refused, and said to be unsigned" \
    grep -q "error not signed by its CA key (text not shown): status 2" "$w/x-unsigned.out"
check "unsigned partner error: its text is not printed" \
    bash -c "! grep -q EVIL '$w/x-unsigned.out'"
check "unsigned partner error: no terminal escape reaches the operator" \
    bash -c "! grep -q \$'\\033' '$w/x-unsigned.out'"
xreq signed
check "signed partner error: its text is printed, escapes as \\x1b" \
    grep -qF 'partner answered with an error: status 2: EVIL\x1b]0;owned\x07\x1b[2J-TEXT' "$w/x-signed.out"
check "signed partner error: no terminal escape reaches the operator" \
    bash -c "! grep -q \$'\\033' '$w/x-signed.out'"

check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"
stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

# 6. State below a directory the daemon's user cannot reach (a checkout
#    under /root, a 0700 mktemp -d; issue 18): the stack keeps it under
#    /var/lib/cmpca-stack, the daemon still drops to cmpca, and the
#    user's directory keeps its mode. Same port, the first stack is down.
priv=$(mktemp -d /tmp/cmpca-private.XXXXXX)
check "control: cmpca cannot reach a 0700 directory" \
    bash -c "test \"\$(stat -c %a '$priv')\" = 700 && ! runuser -u cmpca -- test -x '$priv'"
pstack() { CMPCA_VAR=$priv/var "$top/scripts/stack" "$@"; }
if pstack up >"$w/pstack.out" 2>&1; then
	pass "stack up with its state below a 0700 directory"
	penv=$(
		. "$priv/var/stack.env"
		printf '%s\n' "$CMPCA_VAR" "$CMPCA_VAR_LINK" "$CMPCA_USER" \
		    "$CMPCA_CMPCAD_PID" "$CMPCA_URL" "$CMPCA_SECRET"
	)
	mapfile -t pv <<<"$penv"
	check "state moved to /var/lib/cmpca-stack, named in stack.env" \
	    bash -c "case '${pv[0]}' in /var/lib/cmpca-stack/*) test -d '${pv[0]}/hsm' ;; *) false ;; esac"
	check "the requested state path is a link to it" \
	    test "$(readlink -f "$priv/var")" = "${pv[0]}" -a "${pv[1]}" = "$priv/var"
	check "the 0700 directory kept its mode" test "$(stat -c %a "$priv")" = 700
	check "stack.env names the daemon's user cmpca" test "${pv[2]}" = cmpca
	check "the master runs as cmpca there too" \
	    test "$(ps -o user= -p "${pv[3]}" | tr -d ' ')" = cmpca
	check "stack status shows the state and the daemon's user" bash -c \
	    "CMPCA_VAR='$priv/var' '$top/scripts/stack' status | grep -qx 'cmpcad: running as cmpca' &&
	     CMPCA_VAR='$priv/var' '$top/scripts/stack' status | grep -qF '${pv[0]}'"
	export PSEC=${pv[5]}
	check "an enrollment through that stack" \
	    ir private "${pv[4]}" "$CMPCA_SECRET_REF" PSEC /CN=hardening-private
	check "the private stack's certificate chains to its CA" \
	    openssl verify -CAfile "${pv[0]}/ca.pem" "$w/private.pem"
	pstack purge >/dev/null 2>&1
	check "purge removes the moved state and the link" \
	    bash -c "! test -e '${pv[0]}' && ! test -L '$priv/var'"
else
	fail "stack up with its state below a 0700 directory" "$(tail -n 5 "$w/pstack.out")"
	pstack purge >/dev/null 2>&1
fi
rm -rf "$priv"

e2e_done
