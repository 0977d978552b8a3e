#!/bin/bash
# test_package.sh - the Debian package as an operator installs it (issue
# 28), on this machine (no container; the package is purged at the end):
#   - `dpkg-buildpackage -us -uc -b` from a clean clone of the committed
#     tree builds cmpca_*.deb with the packages `scripts/deps` installs;
#   - lintian finds no error or warning (overrides are justified in
#     debian/cmpca.lintian-overrides);
#   - `dpkg -i` installs it: the cmpca system user, /etc/cmpca/cmpca.conf
#     as a conffile, /etc/cmpca 0750 root:cmpca, the unit neither enabled
#     nor started, and nothing set up on the operator's behalf (no
#     database, no token); installing again (an upgrade) works and asks
#     for `cmpca db migrate`;
#   - the installed programs run a CA: a throwaway PostgreSQL cluster and
#     SoftHSM token, `cmpca db migrate` with the installed schema,
#     `cmpcad -t` and cmpcad on the installed configuration, nginx with
#     the installed snippets (cmpca-limits.conf, cmp-locations.conf) on
#     127.0.0.1, one enrolment with `openssl cmp` whose certificate
#     chains to the CA and is in the database;
#   - `dpkg --purge` leaves none of the package's files, no /etc/cmpca and
#     no /var/lib/cmpca; the operator's data (database, token) is untouched.
#
# usage: tests/package/test_package.sh     (as root; `make test-package`)
# nginx listens on the first free port from 18840 to 18849
# (CMPCA_PACKAGE_TEST_PORT). Prints one line per check and
# "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }
check() { # NAME COMMAND...: passes when COMMAND succeeds
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
	fi
}
finish() {
	echo "$npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
	exit
}

if [ "$(id -u)" != 0 ]; then
	fail "run as root" "dpkg -i needs root"
	finish
fi
if dpkg-query -W -f='${Status}' cmpca 2>/dev/null | grep -q "ok installed"; then
	fail "cmpca not installed before the test" \
	    "a cmpca package is installed here: this test would purge it"
	finish
fi

tmp=$(mktemp -d /tmp/cmpca-package.XXXXXX)
chmod 755 "$tmp"
daemon=
nginx_up=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	[ -n "$nginx_up" ] && nginx -c "$tmp/nginx.conf" -p "$tmp" -s stop 2>/dev/null
	"$top/scripts/pgtmp" stop "$tmp/pg" >/dev/null 2>&1
	if dpkg-query -W -f='${Status}' cmpca 2>/dev/null | grep -q "ok installed"; then
		dpkg --purge cmpca >/dev/null 2>&1
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

port=${CMPCA_PACKAGE_TEST_PORT:-}
if [ -z "$port" ]; then
	for p in $(seq 18840 18849); do
		if ! ss -Hltn "sport = :$p" | grep -q .; then
			port=$p
			break
		fi
	done
fi
[ -n "$port" ] || { fail "a free port in 18840-18849" "none"; finish; }

# 1. Build from a clean clone of what is committed.
git clone -q "$top" "$tmp/src" 2>"$tmp/clone.err" ||
	{ fail "git clone" "$(cat "$tmp/clone.err")"; finish; }
if (cd "$tmp/src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b from a clean clone"
else
	fail "dpkg-buildpackage -us -uc -b from a clean clone" \
	    "$(tail -n 5 "$tmp/build.log" | tr '\n' ' ')"
	finish
fi
deb=$(ls "$tmp"/cmpca_*.deb 2>/dev/null | head -n 1)
changes=$(ls "$tmp"/cmpca_*.changes 2>/dev/null | head -n 1)
check "the package file exists" test -f "$deb"
lintian --fail-on error,warning "$changes" >"$tmp/lintian.out" 2>&1
rc=$?
check "lintian: no error or warning" bash -c \
    "[ $rc = 0 ] && ! grep -E '^(E|W): ' '$tmp/lintian.out'"
dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/sbin/cmpcad ./usr/bin/cmpca ./etc/cmpca/cmpca.conf \
    ./lib/systemd/system/cmpcad.service \
    ./usr/share/cmpca/nginx/cmp-locations.conf \
    ./usr/share/cmpca/nginx/cmpca-limits.conf \
    ./usr/share/man/man8/cmpcad.8.gz ./usr/share/doc/cmpca/operations.md; do
	check "package ships $f" grep -qxF -- "$f" "$tmp/contents"
done
nschema=$(ls "$top"/db/schema/*.sql | wc -l)
check "package ships the $nschema migrations" test \
    "$(grep -c '^./usr/share/cmpca/schema/[0-9]*_.*\.sql$' "$tmp/contents")" = "$nschema"

# 2. Install.
if dpkg -i "$deb" >"$tmp/install.out" 2>&1; then
	pass "dpkg -i"
else
	fail "dpkg -i" "$(tail -n 5 "$tmp/install.out" | tr '\n' ' ')"
	finish
fi
dpkg -L cmpca >"$tmp/files"
check "postinst says where the ceremony is, and that it did not start" \
    grep -q 'installed, not started' "$tmp/install.out"
check "system user cmpca exists, without a login shell" bash -c \
    "getent passwd cmpca | grep -q ':/usr/sbin/nologin$'"
check "/etc/cmpca/cmpca.conf is a conffile" bash -c \
    "dpkg-query -W -f='\${Conffiles}' cmpca | grep -q '^ /etc/cmpca/cmpca.conf '"
check "/etc/cmpca is 0750 root:cmpca" test \
    "$(stat -c '%a %U:%G' /etc/cmpca)" = "750 root:cmpca"
check "/var/lib/cmpca/crl belongs to cmpca" test \
    "$(stat -c '%U' /var/lib/cmpca/crl)" = cmpca
check "the unit is installed, not enabled" bash -c \
    "[ -f /lib/systemd/system/cmpcad.service ] &&
     [ ! -e /etc/systemd/system/multi-user.target.wants/cmpcad.service ]"
check "installed configuration names the installed paths" bash -c \
    "grep -q '^schema_dir = /usr/share/cmpca/schema' /etc/cmpca/cmpca.conf &&
     ! grep -q '/usr/local' /etc/cmpca/cmpca.conf /usr/share/cmpca/nginx/*"
check "nothing set up for the operator: no PIN file" test ! -e /etc/cmpca/pin
if dpkg -i "$deb" >"$tmp/upgrade.out" 2>&1; then
	pass "dpkg -i again (upgrade path)"
else
	fail "dpkg -i again (upgrade path)" "$(tail -n 3 "$tmp/upgrade.out" | tr '\n' ' ')"
fi
check "upgrade asks for cmpca db migrate" grep -q 'cmpca db migrate' "$tmp/upgrade.out"

# 3. The installed programs run a CA behind nginx with the installed
# snippets.
mkdir -p "$tmp/hsm/tokens" "$tmp/crl" "$tmp/nginx-tmp"
cat >"$tmp/hsm/softhsm2.conf" <<EOC
directories.tokendir = $tmp/hsm/tokens
objectstore.backend = file
log.level = ERROR
EOC
export SOFTHSM2_CONF=$tmp/hsm/softhsm2.conf
export CMPCA_HSM_LOCK=$tmp/hsm/lock
(umask 077; openssl rand -hex 12 >"$tmp/hsm/pin"; openssl rand -hex 12 >"$tmp/hsm/so-pin")
if ! db=$("$top/scripts/pgtmp" start "$tmp/pg" 18840 2>"$tmp/pgtmp.err"); then
	fail "PostgreSQL for the installed programs" "$(cat "$tmp/pgtmp.err")"
	finish
fi
conf=$tmp/cmpca.conf
sed -e "s|^token = .*|token = cmpca-pkg|" \
    -e "s|^pin_file = .*|pin_file = $tmp/hsm/pin|" \
    -e "s|^db = .*|db = \"$db\"|" \
    -e "s|^db_operator = .*|db_operator = \"$db\"|" \
    -e "s|^db_owner = .*|db_owner = \"$db\"|" \
    -e "s|^db_reader = .*|db_reader = \"${db/user=postgres/user=cmpca_reader}\"|" \
    -e "s|^socket = .*|socket = $tmp/cmpcad.sock|" \
    -e "s|^crl_dir = .*|crl_dir = $tmp/crl|" \
    -e "s|^workers = .*|workers = 1|" \
    -e "s|^user = .*|user = $(id -un)|" \
    -e "s|^audit_anchor_file = .*|audit_anchor_file = $tmp/anchor.log|" \
    /etc/cmpca/cmpca.conf >"$conf"
cli() { /usr/bin/cmpca -c "$conf" "$@"; }
check "installed cmpca db migrate (installed schema)" bash -c \
    "/usr/bin/cmpca -c '$conf' db migrate | grep -q '($nschema migration(s) applied)'"
check "installed cmpca hsm init-token" \
    cli hsm init-token --so-pin-file "$tmp/hsm/so-pin"
check "installed cmpca ca create issuing" \
    cli ca create issuing --subject "/O=cmpca/CN=Package Test CA"
cli ca export issuing >"$tmp/ca.pem" 2>/dev/null
check "CA certificate exported" openssl x509 -in "$tmp/ca.pem" -noout
(umask 077; cli secret add pkg --profile default >"$tmp/secret" 2>/dev/null)
check "installed cmpca secret add" test -s "$tmp/secret"
check "installed cmpca audit key" cli audit key
check "installed cmpca ocsp signer" cli ocsp signer --ca issuing
psql -Xq "$db" -c "ALTER ROLE cmpca_daemon LOGIN" \
    -c "ALTER ROLE cmpca_reader LOGIN" >/dev/null 2>&1
sed -i "s|^db = .*|db = \"${db/user=postgres/user=cmpca_daemon}\"|" "$conf"
check "installed cmpcad -t passes" bash -c \
    "/usr/sbin/cmpcad -t -c '$conf' 2>&1 | grep -q 'configuration ok'"
/usr/sbin/cmpcad -c "$conf" >"$tmp/cmpcad.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do
	[ -S "$tmp/cmpcad.sock" ] && grep -q 'worker ready' "$tmp/cmpcad.log" && break
	sleep 0.1
done
check "installed cmpcad serves its socket" test -S "$tmp/cmpcad.sock"
cat >"$tmp/nginx.conf" <<EOC
user root;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx-tmp/body;
	fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
	proxy_temp_path $tmp/nginx-tmp/proxy;
	uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
	scgi_temp_path $tmp/nginx-tmp/scgi;
	include /usr/share/cmpca/nginx/cmpca-limits.conf;
	upstream cmpcad { server unix:$tmp/cmpcad.sock; }
	server {
		listen 127.0.0.1:$port;
		include /usr/share/cmpca/nginx/cmp-locations.conf;
	}
}
EOC
check "nginx -t accepts the installed snippets" nginx -t -c "$tmp/nginx.conf" -p "$tmp"
if nginx -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/nginx.err"; then
	nginx_up=1
	pass "nginx started with the installed snippets"
else
	fail "nginx started with the installed snippets" "$(cat "$tmp/nginx.err")"
fi
openssl ecparam -genkey -name prime256v1 -noout -out "$tmp/ee.key" 2>/dev/null
PKG_SECRET=$(cat "$tmp/secret") openssl cmp -cmd ir \
    -server "http://127.0.0.1:$port/.well-known/cmp" -ref pkg \
    -secret env:PKG_SECRET -recipient "/O=cmpca/CN=Package Test CA" \
    -newkey "$tmp/ee.key" -subject "/CN=package-device-1" \
    -certout "$tmp/ee.pem" >"$tmp/ir.out" 2>&1
check "openssl cmp ir through the installed nginx snippet" test -s "$tmp/ee.pem"
check "the certificate chains to the CA" \
    openssl verify -CAfile "$tmp/ca.pem" "$tmp/ee.pem"
check "the certificate carries the requested key" bash -c \
    "[ \"\$(openssl x509 -in '$tmp/ee.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$tmp/ee.key' -pubout)\" ]"
serial=$(openssl x509 -in "$tmp/ee.pem" -noout -serial 2>/dev/null | cut -d= -f2 |
    tr 'A-F' 'a-f' | sed 's/^0*//')
check "the certificate is in the database, valid" test \
    "$(psql -XqtA "$db" -c "SELECT status FROM cert WHERE serial = '$serial'")" = valid
check "no PIN or secret in the daemon log" bash -c \
    "! grep -qF -e \"\$(cat '$tmp/hsm/pin')\" -e \"\$(cat '$tmp/secret')\" '$tmp/cmpcad.log'"
nginx -c "$tmp/nginx.conf" -p "$tmp" -s stop 2>/dev/null
nginx_up=
kill -TERM "$daemon" 2>/dev/null
wait "$daemon" 2>/dev/null
daemon=

# 4. Purge.
if dpkg --purge cmpca >"$tmp/purge.out" 2>&1; then
	pass "dpkg --purge"
else
	fail "dpkg --purge" "$(tail -n 3 "$tmp/purge.out" | tr '\n' ' ')"
fi
left=
while IFS= read -r f; do
	if [ ! -d "$f" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then
		left="$left $f"
	fi
done <"$tmp/files"
if [ -z "$left" ]; then
	pass "purge leaves none of the package's files"
else
	fail "purge leaves none of the package's files" "left:$left"
fi
check "purge removes /etc/cmpca and /var/lib/cmpca" \
    test ! -e /etc/cmpca -a ! -e /var/lib/cmpca
check "purge removes the statoverride" bash -c \
    "! dpkg-statoverride --list /etc/cmpca"
check "the operator's data stays: the token and the database" bash -c \
    "[ -n \"\$(ls -A '$tmp/hsm/tokens')\" ] &&
     [ \"\$(psql -XqtA '$db' -c \"SELECT count(*) FROM cert WHERE serial = '$serial'\")\" = 1 ]"
finish
