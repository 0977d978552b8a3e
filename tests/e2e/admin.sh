#!/bin/bash
# End-to-end tests of the operators' read-only page (/admin/) on the real
# stack (PostgreSQL, SoftHSM through libp11, nginx with basic auth,
# cmpcad), driven by curl, `openssl cmp`, the cmpca CLI and headless
# Chromium. A fresh stack in a temporary directory on
# CMPCA_ADMIN_TEST_PORT, else the first free port from 18620 to 18624; the
# browser's credential proxy on the first free port from 18625 to 18629.
#
# The password never appears on a command line: curl reads it from a
# netrc file (0600), and Chromium, which takes basic-auth credentials only
# in the URL, loads the page through tests/e2e/authproxy.py, which adds
# the Authorization header and passes every response header on, so the
# browser enforces the page's real Content-Security-Policy.
#
# usage: tests/e2e/admin.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup admin 18620 --port-var CMPCA_ADMIN_TEST_PORT --scan-to 18624 --keep -- "$@"
py=/usr/bin/python3
has() { grep -qE -- "$2" "$1"; }
hasnt() { ! grep -qE -- "$2" "$1"; }

export CMPCA_POLL_AFTER=1
e2e_stack_up
url=$CMPCA_ADMIN_URL
pwfile=$CMPCA_ADMIN_PASSWORD_FILE

# Credentials for curl in netrc files (printf is a shell builtin: the
# password is on no command line).
netrc=$work/netrc
(umask 077
 printf 'machine 127.0.0.1 login %s password %s\n' "$CMPCA_ADMIN_USER" \
     "$(cat "$pwfile")" >"$netrc"
 printf 'machine 127.0.0.1 login %s password %s\n' "$CMPCA_ADMIN_USER" \
     wrong-password >"$work/netrc.bad")

# get NAME [PATH-AND-QUERY [curl options...]]: the page with credentials;
# body in $work/NAME.html, headers in NAME.hdr, status in NAME.code.
get() {
	local name=$1 path=${2:-}
	shift 2 2>/dev/null || shift
	curl -s --netrc-file "$netrc" -o "$work/$name.html" -D "$work/$name.hdr" \
	    -w '%{http_code}' "$@" "$url$path" >"$work/$name.code"
}
code() { cat "$work/$1.code"; }
# section NAME ID: the <section id="ID"> of page NAME, on one line.
section() {
	sed 's/<section /\n<section /g' "$work/$1.html" |
	    grep "^<section id=\"$2\"" | sed 's/<\/section>.*/<\/section>/'
}
in_section() { section "$1" "$2" | grep -qF -- "$3"; }
not_in_section() { ! in_section "$@"; }
cmp_ir() { # NAME SUBJECT: enrolls with the demo secret
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$1.key" 2>/dev/null
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/$1.key" -subject "$2" -certout "$work/$1.pem" \
	    >"$work/$1.out" 2>&1
}
export CMPCA_SECRET

# 1. The stack's credentials and nginx's protection.
check "stack.env: CMPCA_ADMIN_URL is the page" test "$url" = "http://127.0.0.1:$CMPCA_PORT/admin/"
check "password file is 0600 and not empty" bash -c \
    "[ \"\$(stat -c %a '$pwfile')\" = 600 ] && [ -s '$pwfile' ]"
check "htpasswd: admin with an apr1 hash, 0600, no clear password" bash -c \
    "grep -q '^admin:\\\$apr1\\\$' '$CMPCA_VAR/admin.htpasswd' && [ \"\$(stat -c %a '$CMPCA_VAR/admin.htpasswd')\" = 600 ] && ! grep -qF \"\$(cat '$pwfile')\" '$CMPCA_VAR/admin.htpasswd'"
check "without credentials: 401" test \
    "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 401
check "wrong password: 401" test "$(curl -s -o /dev/null -w '%{http_code}' \
    --netrc-file "$work/netrc.bad" "$url")" = 401
get empty
check "with credentials: 200" test "$(code empty)" = 200
check "text/html; charset=utf-8" grep -qi '^Content-Type: text/html; charset=utf-8' "$work/empty.hdr"
check "Content-Security-Policy: default-src 'none', style by hash only" \
    grep -qi "^Content-Security-Policy: default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]*='; form-action 'self'; frame-ancestors 'none'" "$work/empty.hdr"
check "X-Frame-Options: DENY" grep -qi '^X-Frame-Options: DENY' "$work/empty.hdr"
check "Cache-Control: no-store" grep -qi '^Cache-Control: no-store' "$work/empty.hdr"
check "no script, no external resource in the page" bash -c \
    "! grep -qiE '<script|src=|https?://[^\"]*\\.(js|css)|<link|<iframe|<img' '$work/empty.html'"
check "every section present" bash -c "for s in health plot cas search issuances expiring revocations pending; do grep -q \"<section id=\\\"\$s\\\">\" '$work/empty.html' || exit 1; done"
check "CA identities: demo, its subject, key EC P-256, active" bash -c \
    "sed 's/<section /\n<section /g' '$work/empty.html' | grep '^<section id=\"cas\"' | grep -q '<td>demo</td><td>CN=cmpca Demo CA,O=cmpca</td><td>EC P-256</td><td>20[0-9-]* [0-9:]*</td><td class=\"st-active\">active</td>'"
check "no pending request yet" in_section empty pending "No request waits"
# Health (issue 23): what cmpca status checks, one row each.
check "health: the worker's HSM session ok" in_section empty health \
    '<tr><td>hsm</td><td class="h-ok">ok</td>'
check "health: demo's certificate, CRL and OCSP signer ok" bash -c \
    "s=\$(sed 's/<section /\n<section /g' '$work/empty.html' | grep '^<section id=\"health\"'); for c in 'ca demo cert' 'ca demo crl' 'ca demo ocsp signer'; do printf %s \"\$s\" | grep -qF \"<td>\$c</td><td class=\\\"h-ok\\\">ok</td>\" || exit 1; done"
check "health: the audit chain's last checkpoint" in_section empty health \
    '<td>audit chain</td>'
check "expiring: the demo CA's OCSP signer (30 days) is listed" in_section empty expiring \
    "OCSP Signer"
cli ca create nosigner --subject "/CN=No Signer CA" --days 365 >/dev/null 2>&1
cmp_ir soon "/CN=expires-soon"
q "update cert set not_after = now() + interval '3 days' where serial = '$(serial_of "$work/soon.pem")'" >/dev/null
get health
check "health: a CA without OCSP signer fails, naming the command" in_section health health \
    'h-fail">FAIL</td><td>no OCSP signer: /ocsp answers unauthorized for this CA (run cmpca ocsp signer --ca nosigner)'
check "health: overall failing" in_section health health "Status: failing"
check "expiring: the certificate that expires in 3 days" in_section health expiring "$(serial_of "$work/soon.pem")"
cli status >"$work/status.txt" 2>&1
echo "$?" >"$work/status.rc"
check "cmpca status fails (3) on the CA without signer, naming the command" bash -c \
    "grep -q '^ca nosigner ocsp signer *FAIL .*run cmpca ocsp signer --ca nosigner' '$work/status.txt' && [ \"\$(cat '$work/status.rc')\" = 3 ]"
cli ca retire nosigner >/dev/null 2>&1
get post "" -X POST -d x=1
check "POST: 405 with Allow: GET" bash -c \
    "[ \"\$(cat '$work/post.code')\" = 405 ] && grep -qi '^Allow: GET' '$work/post.hdr'"
check "HEAD: 405" test "$(curl -s -o /dev/null -w '%{http_code}' -I \
    --netrc-file "$netrc" "$url")" = 405
check "/admin redirects to /admin/" test "$(curl -s -o /dev/null \
    -w '%{http_code} %{redirect_url}' "${url%/}")" = "301 $url"
get other other
check "an unknown path under /admin/: 404" test "$(code other)" = 404
get badq "?q=%zz"
check "bad percent-encoding: 400" test "$(code badq)" = 400
get unknownq "?sort=subject"
check "unknown parameter: 400" test "$(code unknownq)" = 400
get sqlq "?serial=1%27%20OR%201%3D1--"
check "a serial that is not hex: 400" test "$(code sqlq)" = 400
get longq "?q=$(head -c 600 /dev/zero | tr '\0' a)"
check "query string over 512 bytes: 414" test "$(code longq)" = 414
check "refusals logged by cmpcad" grep -q "http 400 for /admin/" "$CMPCA_LOG"

# 2. Certificates, a revocation and a pending request show up.
for n in one two three; do
	cmp_ir "$n" "/O=cmpca test/CN=admin-$n" || fail "enroll admin-$n" "$(tail -n 2 "$work/$n.out")"
done
cmp_ir xss '/CN=<script>alert(1)<\/script>/O=A&B "q"' ||
    fail "enroll the <script> subject" "$(tail -n 2 "$work/xss.out")"
cli cert revoke "$(serial_of "$work/two.pem")" --reason 1 >/dev/null
apsecret=$(cli secret add admin-approver --profile approval --uses 2)
export APSECRET=$apsecret
openssl ecparam -genkey -name prime256v1 -noout -out "$work/pend.key" 2>/dev/null
openssl cmp -cmd ir -server "$CMPCA_URL" -ref admin-approver \
    -secret env:APSECRET -recipient "$CMPCA_CA_SUBJECT" \
    -newkey "$work/pend.key" -subject "/CN=admin-pending" \
    -certout "$work/pend.pem" -total_timeout 30 >"$work/pend.out" 2>&1 &
client=$!
pid=
for _ in $(seq 40); do
	pid=$(cli request list | awk -F'\t' '$5 == "CN=admin-pending" {print $1}')
	[ -n "$pid" ] && break
	sleep 0.25
done
get page
check "page: 200" test "$(code page)" = 200
for n in one two three xss; do
	s=$(serial_of "$work/$n.pem")
	check "recent issuances: admin-$n by serial $s" in_section page issuances "<td class=\"serial\">$s</td>"
done
check "recent issuances: subject shown" in_section page issuances "<td>CN=admin-one,O=cmpca test</td>"
check "recent issuances: newest first" bash -c \
    "[ \"\$(sed 's/<section /\n<section /g' '$work/page.html' | grep '^<section id=\"issuances\"' | grep -o '<td class=\"serial\">[0-9a-f]*' | head -n 1 | cut -d'>' -f2)\" = '$(serial_of "$work/xss.pem")' ]"
check "revocations: admin-two with keyCompromise" in_section page revocations \
    "<td class=\"serial\">$(serial_of "$work/two.pem")</td><td>CN=admin-two,O=cmpca test</td><td>demo</td><td>"
check "revocations: reason keyCompromise" in_section page revocations "<td>keyCompromise</td>"
check "revocations: only the revoked certificate" not_in_section page revocations "$(serial_of "$work/one.pem")"
check "recent issuances: admin-two's status revoked" in_section page issuances "<td class=\"st-revoked\">revoked</td>"
check "pending approvals: the waiting request (id, subject, approval profile)" \
    in_section page pending "<td>$pid</td><td>CN=admin-pending</td><td>demo</td><td>ir</td><td>approval</td><td>secret:admin-approver</td>"
total=$(q "select count(*) from cert where created >= date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC' - interval '47 hours'")
check "plot: total equals the certificates of the last 48 hours ($total)" \
    in_section page plot "<p>$total certificates issued.</p>"
# The hour of the newest certificate (the page may be drawn just after
# the hour turned, so not "now").
newest=$(q "select to_char(max(created) at time zone 'UTC', 'YYYY-MM-DD HH24') from cert")
check "plot: an SVG bar for the hour of the newest certificate ($newest)" bash -c \
    "grep -q '<rect class=\"bar\" [^>]*><title>$newest:00 UTC: [1-9][0-9]*</title></rect>' '$work/page.html'"
check "page: 48 hour slots labelled every 6 hours (8 labels)" test \
    "$(section page plot | grep -o ':00</text>' | wc -l)" = 8

# 3. Escaping: attacker-chosen subjects and search text render as text.
check "XSS subject: escaped in the table" in_section page issuances \
    '<td>O=A&amp;B \&quot;q\&quot;,CN=\&lt;script\&gt;alert(1)\&lt;/script\&gt;</td>'
check "XSS subject: no <script in the page" hasnt "$work/page.html" '<[sS][cC][rR][iI][pP][tT]'
get refl "?q=%3Cscript%3E%22x"
check "search text reflected escaped (results heading and form value)" bash -c \
    "grep -qF 'Subject contains “&lt;script&gt;&quot;x”' '$work/refl.html' && grep -qF 'name=\"q\" maxlength=\"128\" value=\"&lt;script&gt;&quot;x\"' '$work/refl.html' && ! grep -qi '<script' '$work/refl.html'"

# 4. Search by subject substring (case-insensitive) and by serial.
get s1 "?q=ADMIN-T"
check "search q=ADMIN-T: admin-two and admin-three" bash -c \
    "grep -qF '$(serial_of "$work/two.pem")' '$work/s1.html' && grep -qF '$(serial_of "$work/three.pem")' '$work/s1.html'"
check "search q=ADMIN-T: not admin-one" not_in_section s1 issuances "$(serial_of "$work/one.pem")"
check "search: heading says search results" in_section s1 issuances "<h2>Search results</h2>"
s=$(openssl x509 -in "$work/one.pem" -noout -serial | cut -d= -f2 | sed 's/../&:/g; s/:$//')
get s2 "?serial=$s"
check "search by serial as openssl prints it (AA:BB:..): exactly admin-one" bash -c \
    "[ \"\$(sed 's/<section /\n<section /g' '$work/s2.html' | grep '^<section id=\"issuances\"' | grep -o '<td class=\"serial\">' | wc -l)\" = 1 ] && grep -qF '$(serial_of "$work/one.pem")' '$work/s2.html'"
get s3 "?q=no-such-subject"
check "search without match: no certificates" in_section s3 issuances "No certificates."

# 5. Paging: 25 a page, newest first; page 2 holds the older ones.
bulk() { # FIRST LAST: enrolls admin-bulk-FIRST..LAST, one after another
	local i
	for i in $(seq "$1" "$2"); do
		openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
		    -secret env:CMPCA_SECRET -recipient "$CMPCA_CA_SUBJECT" \
		    -newkey "$work/one.key" -subject "/CN=admin-bulk-$i" \
		    -certout "$work/bulk-$i.pem" >/dev/null 2>&1
	done
}
bulk 1 11 &
bulk 12 22
wait $!
check "22 more certificates enrolled" test \
    "$(q "select count(*) from cert where subject like 'CN=admin-bulk-%'")" = 22
ncerts=$(q "select count(*) from cert")
get p1 "?page=1"
get p2 "?page=2"
rows() { section "$1" issuances | grep -o '<td class="serial">' | wc -l; }
check "paging: page 1 has 25 rows ($ncerts certificates)" test "$(rows p1)" = 25
check "paging: page 2 has the rest" test "$(rows p2)" = "$((ncerts - 25))"
check "paging: page 1 links to page 2, page 2 back to page 1" bash -c \
    "grep -qF '<a href=\"?page=2\">older &raquo;</a>' '$work/p1.html' && grep -qF '<a href=\"?page=1\">&laquo; newer</a>' '$work/p2.html' && ! grep -qF 'older &raquo;' '$work/p2.html'"
check "paging: admin-one (older) on page 2, not page 1" bash -c \
    "grep -qF '$(serial_of "$work/one.pem")' '$work/p2.html' && ! grep -qF '$(serial_of "$work/one.pem")' '$work/p1.html'"
get p3 "?page=2&q=admin-bulk"
check "paging a search keeps the search text in the links" bash -c \
    "grep -qF '<a href=\"?page=1&amp;q=admin-bulk\">' '$work/p3.html'"

# 6. Reading changes nothing: certificates, requests, transactions and
#    the audit log are the same before and after a few page loads.
snapshot() {
	q "select (select count(*) || md5(string_agg(id || status || coalesce(revoked_at::text, ''), ',' order by id)) from cert),
	    (select count(*) || md5(string_agg(id || status, ',' order by id)) from pending_req),
	    (select count(*) || md5(string_agg(encode(id, 'hex') || state, ',' order by id)) from cmp_txn),
	    (select count(*) from audit)"
}
before=$(snapshot)
for p in "" "?page=2" "?q=admin" "?serial=$(serial_of "$work/one.pem")"; do
	get again "$p"
done
check "read-only: inventory, requests, transactions and audit unchanged" \
    test "$(snapshot)" = "$before"

# 7. The pending request leaves the list once decided.
cli request reject "$pid" --reason "admin test" >/dev/null
wait "$client"
get decided
check "pending approvals: empty after the decision" in_section decided pending "No request waits"

# 8. Headless Chromium: the page as a browser renders it.
pport=18625
while port_busy "$pport" && [ "$pport" -lt 18629 ]; do pport=$((pport + 1)); done
"$py" "$top/tests/e2e/authproxy.py" "$pport" "127.0.0.1:$CMPCA_PORT" \
    "$CMPCA_ADMIN_USER" "$pwfile" 2>"$work/proxy.err" &
proxy=$!
for _ in $(seq 50); do port_busy "$pport" && break; sleep 0.1; done
purl=http://127.0.0.1:$pport/admin/
browser() { # chromium options...: headless, own profile, no password
	timeout 60 chromium --headless=new --no-sandbox --disable-gpu \
	    --hide-scrollbars --no-first-run --user-data-dir="$work/chromium" \
	    "$@"
}
# One run: the screenshot to a file, the DOM after rendering to stdout.
browser --window-size=1024,800 --screenshot="$work/admin.png" --dump-dom \
    "$purl" >"$work/dom.html" 2>"$work/chromium.err"
kill "$proxy" 2>/dev/null
wait "$proxy" 2>/dev/null
check "chromium: screenshot written" test -s "$work/admin.png"
# Header colour (#1f2937, from the stylesheet the CSP allows by hash) and
# bar colour (#2f6fb1, the SVG's fill).
"$py" "$top/tests/e2e/pngcheck.py" "$work/admin.png" 1f2937 2f6fb1 >"$work/png.txt" 2>&1
check "screenshot: a 1024x800 PNG (the window size)" has "$work/png.txt" "^size 1024x800$"
check "screenshot: not blank (over 50 colours, over 5% non-white)" bash -c \
    "[ \"\$(awk '/^colours/ {print \$2}' '$work/png.txt')\" -gt 50 ] && [ \"\$(awk '/^nonwhite/ {print \$2}' '$work/png.txt')\" -gt $((1024 * 800 / 20)) ]"
check "screenshot: stylesheet applied under the CSP (dark header band)" bash -c \
    "awk '/^colour 1f2937/ {exit !(\$3 > 1024 * 40 && \$4 == 0 && \$6 == 1023)}' '$work/png.txt'"
# The tallest bar (the current hour holds most issuances) spans the plot's
# full height (160 px), drawn below the header.
check "screenshot: the plot has drawn bars (the tallest 160 px high)" bash -c \
    "awk '/^colour 2f6fb1/ {exit !(\$3 > 0 && \$7 - \$5 + 1 == 160 && \$5 > 74 && \$7 < 700)}' '$work/png.txt'"
check "chromium DOM: every section rendered" bash -c "for s in plot cas search issuances revocations pending; do grep -q \"<section id=\\\"\$s\\\">\" '$work/dom.html' || exit 1; done"
check "chromium DOM: the SVG plot with its bars" bash -c \
    "grep -q '<svg id=\"plot-svg\"' '$work/dom.html' && grep -q '<rect class=\"bar\"' '$work/dom.html'"
check "chromium DOM: the <script> subject is text, no script element" bash -c \
    "grep -qF 'CN=\\&lt;script\\&gt;alert(1)' '$work/dom.html' && ! grep -qi '<script' '$work/dom.html'"
check "chromium DOM: the revoked certificate under Revocations" bash -c \
    "sed 's/<section /\n<section /g' '$work/dom.html' | grep '^<section id=\"revocations\"' | grep -qF '$(serial_of "$work/two.pem")'"

# 9. The password stays out of logs.
pw=$(cat "$pwfile")
check "admin password in no log" bash -c \
    "! grep -rqF -- '$pw' '$CMPCA_LOG' '$CMPCA_VAR'/nginx-*.log '$work/chromium.err' '$work/proxy.err'"

# 10. The daemon survived, and no sanitizer report in a SAN=1 build's log.
check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"
stack_down
check "no sanitizer report in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"

e2e_done
