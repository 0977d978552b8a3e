#!/bin/bash
# test_guide.sh - docs/operations.md, "Install on Debian 12", run as an
# operator would (issue 32): every `sh` block of that section, in order,
# in one shell, on this machine, with
#   - the installed paths moved below a temporary directory T (the table
#     in subst() below: /etc/cmpca, /usr/share/cmpca, /var/lib/cmpca,
#     /run/cmpca, /root, /etc/nginx, /etc/ssl/cmpca, ...), and
#     `make install PREFIX=/usr` installing into T/usr;
#   - a PostgreSQL cluster of its own (peer and SCRAM authentication, as in
#     the guide) standing for Debian's main cluster, found through PGHOST;
#   - nginx of its own, run as www-data, on loopback ports (18850-18859)
#     instead of 80, 443 and 8081;
#   - `systemctl` played by the commands of "Without systemd"; the guide's
#     apt-get runs for real, with --no-upgrade (the packages are there
#     after `make test`'s deps step, so it installs nothing new, but a
#     package the guide names that Debian lacks fails the test; without
#     --no-upgrade it upgraded postgresql-15 under every PostgreSQL server
#     running on the machine, whose next backend then failed to load the
#     new plpgsql.so: "undefined symbol");
#   - the real system users cmpca and www-data and group cmpca-web (the
#     guide's useradd and groupadd accept that they exist).
# The guide ends with an enrolment over TLS, a revocation, the CRL, OCSP,
# `cmpca status` and `cmpca audit verify`; each block must succeed, and
# the checks after it look at what the operator would. The build directory
# is relinked with the default paths at the end (only ca/cfg.c changes).
#
# usage: tests/unit/test_guide.sh [--bin DIR]     (as root)
# Prints one line per check and "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=build/rel
[ "${1:-}" = "--bin" ] && bin=$2
case $bin in /*) ;; *) bin=$top/$bin ;; esac
san=0
case $bin in */build/san) san=1 ;; esac
bdir=$bin
case $bin in "$top"/*) bdir=${bin#"$top"/} ;; esac
guide=$top/docs/operations.md
npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }
check() { # NAME COMMAND...
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
[ "$(id -u)" = 0 ] || { fail "run as root" "the guide is root's"; finish; }

T=$(mktemp -d /tmp/cmpca-guide.XXXXXX)
chmod 755 "$T"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cleanup() {
	[ -f "$T/run/cmpca/cmpcad.pid" ] && kill "$(cat "$T/run/cmpca/cmpcad.pid")" 2>/dev/null
	[ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null
	runuser -u postgres -- "$pgbin/pg_ctl" -D "$T/pg/data" -m fast stop >/dev/null 2>&1
	sleep 0.5
	make -s -C "$top" SAN="$san" B="$bdir" "$bdir/cmpca" "$bdir/cmpcad" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT

p=
for c in $(seq 18850 18857); do
	if ! ss -Hltn "( sport = :$c or sport = :$((c + 1)) or sport = :$((c + 2)) )" | grep -q .; then
		p=$c
		break
	fi
done
[ -n "$p" ] || { fail "three free ports in 18850-18859" "none"; finish; }
P80=$p P443=$((p + 1)) P8081=$((p + 2))

# The section's `sh` blocks, one file each (NNN.sh), and "Without
# systemd"'s block apart.
awk -v dir="$T/blocks" '
	/^## / { sec = ($0 == "## Install on Debian 12") }
	sec && /^### Without systemd/ { nosd = 1 }
	sec && /^```sh$/ { n++; inb = 1; f = sprintf("%s/%s%03d.sh", dir, nosd ? "nosd" : "", n); next }
	inb && /^```$/ { inb = 0; next }
	inb { print > f }
' < <(mkdir -p "$T/blocks"; cat "$guide")
nblocks=$(ls "$T"/blocks/[0-9]*.sh 2>/dev/null | wc -l)
check "the guide's install section has its steps ($nblocks sh blocks)" test "$nblocks" -ge 9
check "the guide has a \"Without systemd\" block" test -n "$(ls "$T"/blocks/nosd*.sh 2>/dev/null)"

# subst: the guide's paths and ports, moved into T.
subst() {
	sed -e "s|/usr/local/sbin/cmpca-op|$T/usr/local/sbin/cmpca-op|g" \
	    -e "s|^apt-get install -y |apt-get install -y --no-upgrade |" \
	    -e "s|^make install PREFIX=/usr |make B=$bdir SAN=$san install PREFIX=$T/usr SYSCONFDIR=$T/etc |" \
	    -e "s|^make\$|make B=$bdir SAN=$san|" \
	    -e "s|/usr/share/cmpca|$T/usr/share/cmpca|g" \
	    -e "s|/usr/bin/cmpca|$T/usr/bin/cmpca|g" \
	    -e "s|/usr/sbin/cmpcad|$T/usr/sbin/cmpcad|g" \
	    -e "s|/etc/cmpca|$T/etc/cmpca|g" \
	    -e "s|/etc/nginx/sites-|$T/etc/nginx/sites-|g" \
	    -e "s|/etc/ssl/cmpca|$T/etc/ssl/cmpca|g" \
	    -e "s|/etc/systemd/system|$T/etc/systemd/system|g" \
	    -e "s|/etc/postgresql/15/main/|$T/pg/data/|g" \
	    -e "s|/var/lib/cmpca|$T/var/lib/cmpca|g" \
	    -e "s|/run/cmpca|$T/run/cmpca|g" \
	    -e "s|/root/|$T/root/|g" \
	    -e "s|https://ca.example.com|https://127.0.0.1:$P443|g" \
	    -e "s|http://ca.example.com|http://127.0.0.1:$P80|g" \
	    -e "s|-tls_used|-tls_used -tls_host ca.example.com|g" \
	    -e "s|127.0.0.1:8081|127.0.0.1:$P8081|g" \
	    -e "s|listen 80;|listen 127.0.0.1:$P80;|" -e '/listen \[::\]:80;/d' \
	    -e "s|listen 443 ssl;|listen 127.0.0.1:$P443 ssl;|" -e '/listen \[::\]:443 ssl;/d'
}

mkdir -p "$T/root" "$T/usr/local/sbin" "$T/etc/nginx/sites-available" \
    "$T/etc/nginx/sites-enabled" "$T/etc/systemd/system" "$T/run" \
    "$T/var/lib" "$T/nginx/tmp" "$T/pg"
chmod 700 "$T/root"
chown postgres "$T/pg"
# The database host: Debian's main cluster stands in as a cluster of our
# own, with its authentication (local peer, host scram).
runuser -u postgres -- "$pgbin/initdb" -D "$T/pg/data" -U postgres \
    --auth-local=peer --auth-host=scram-sha-256 >"$T/pg/initdb.log" 2>&1 ||
	{ fail "initdb" "$(tail -n 3 "$T/pg/initdb.log")"; finish; }
mkdir -p "$T/pg/sock"
chown postgres "$T/pg/sock"
runuser -u postgres -- "$pgbin/pg_ctl" -D "$T/pg/data" -l "$T/pg/log" -w \
    -o "-c listen_addresses='' -c unix_socket_directories='$T/pg/sock'" \
    start >/dev/null 2>&1 || { fail "PostgreSQL start" "$(tail -n 3 "$T/pg/log")"; finish; }
export PGHOST=$T/pg/sock PGPORT=5432
cat >"$T/etc/nginx/nginx.conf" <<EON
user www-data;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 256; }
http {
	include /etc/nginx/mime.types;
	access_log $T/nginx-access.log;
	client_body_temp_path $T/nginx/tmp/body;
	fastcgi_temp_path $T/nginx/tmp/fastcgi;
	proxy_temp_path $T/nginx/tmp/proxy;
	uwsgi_temp_path $T/nginx/tmp/uwsgi;
	scgi_temp_path $T/nginx/tmp/scgi;
	include $T/etc/nginx/sites-enabled/*;
}
EON

# What the guide calls and the test machine plays.
useradd() { command useradd "$@" || [ $? = 9 ]; }   # 9: exists already
groupadd() { command groupadd "$@" || [ $? = 9 ]; }
nginx() { command nginx -c "$T/etc/nginx/nginx.conf" -p "$T/nginx/" "$@"; }
systemctl() {
	case "$*" in
	"reload postgresql")
		runuser -u postgres -- "$pgbin/pg_ctl" -D "$T/pg/data" reload >/dev/null ;;
	"daemon-reload") ;;
	"enable --now cmpcad")
		# "Without systemd", without its stop line, logging to a file.
		grep -v '^kill ' "$T"/blocks/nosd*.sh | subst |
		    sed "s| -s &\$| >$T/cmpcad.log 2>\&1 \&|" >"$T/start.sh"
		. "$T/start.sh" || return 1
		for _ in $(seq 100); do
			[ -S "$T/run/cmpca/cmpcad.sock" ] &&
			    grep -q 'worker ready' "$T/cmpcad.log" && return 0
			sleep 0.1
		done
		echo "cmpcad did not start: $(tail -n 5 "$T/cmpcad.log")"
		return 1 ;;
	"reload nginx")
		if [ -f "$T/nginx.pid" ] && kill -0 "$(cat "$T/nginx.pid")" 2>/dev/null; then
			nginx -s reload && sleep 1
		else
			nginx
		fi ;;
	*) echo "systemctl $*: not played by the test"; return 1 ;;
	esac
}
export PATH=$T/usr/local/sbin:$T/usr/sbin:$T/usr/bin:$PATH

# Run each block in this shell (variables carry over, as in a terminal);
# `set -e` inside a subshell-free sourcing would end the test, so each
# block runs with errexit in a function and reports its status.
run_block() {
	(set -e; . "$1") >"$1.out" 2>&1
}
cd "$top" || finish
for b in "$T"/blocks/[0-9]*.sh; do
	n=$(basename "$b" .sh)
	subst <"$b" >"$b.run"
	first=$(grep -m1 -v '^#' "$b" | cut -c1-60)
	# Blocks run in the test's shell so that functions and exported
	# variables apply; a failing command fails the block.
	if (set -e; . "$b.run") >"$b.out" 2>&1; then
		pass "guide block $n: $first"
	else
		fail "guide block $n: $first" "$(tail -n 4 "$b.out" | tr '\n' ' ')"
		break
	fi
	# After make install: the installed examples name the guide's
	# production paths and ports; move them as subst moves the guide.
	if grep -q '^make install' "$b"; then
		for f in "$T/usr/share/cmpca/cmpca.conf.example" "$T"/usr/share/cmpca/nginx/*; do
			sed "s|$T||g" "$f" | subst >"$f.new" && mv "$f.new" "$f"
		done
	fi
done

# What the operator checks at the end.
r=$T/root
check "the device certificate chains to the root through the issuing CA" \
    openssl verify -CAfile "$r/root.pem" -untrusted "$r/issuing.pem" "$r/device-1.pem"
check "the device certificate carries the requested key" bash -c \
    "[ -s '$r/device-1.pem' ] && [ \"\$(openssl x509 -in '$r/device-1.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$r/device-1.key' -pubout)\" ]"
serial=$(openssl x509 -in "$r/device-1.pem" -noout -serial 2>/dev/null | cut -d= -f2 |
    tr 'A-F' 'a-f' | sed 's/^0*//')
check "the device certificate is in the database, revoked (keyCompromise)" test \
    "$(runuser -u postgres -- psql -XqtA -d cmpca -c "SELECT status || ' ' || reason FROM cert WHERE serial = '$serial'")" = "revoked 1"
check "cmpcad runs as cmpca" test \
    "$(ps -o user= -p "$(cat "$T/run/cmpca/cmpcad.pid" 2>/dev/null)" 2>/dev/null)" = cmpca
check "nginx workers run as www-data" bash -c "ps -o user= --ppid \$(cat '$T/nginx.pid') | grep -qx www-data"
check "the FastCGI socket is 0660 cmpca:cmpca-web" test \
    "$(stat -c '%a %U:%G' "$T/run/cmpca/cmpcad.sock" 2>/dev/null)" = "660 cmpca:cmpca-web"
check "the daemon connects as cmpca_daemon (peer map)" test \
    "$(runuser -u postgres -- psql -XqtA -d cmpca -c "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE datname = 'cmpca' AND usename LIKE 'cmpca_%'")" = cmpca_daemon
check "the PIN file is 0600 cmpca" test "$(stat -c '%a %U' "$T/etc/cmpca/pin")" = "600 cmpca"
check "no PIN or enrollment secret in the daemon's log" bash -c \
    "[ -s '$T/cmpcad.log' ] && ! grep -qF -e \"\$(cat '$T/etc/cmpca/pin')\" -e \"\$(cat '$r/device-1.secret')\" '$T/cmpcad.log'"
check "no database password in the daemon's log or the server log" bash -c \
    "[ -s '$T/cmpcad.log' ] && ! grep -qF -e \"\$(cat '$r/cmpca-owner.pw')\" -e \"\$(cat '$r/cmpca-operator.pw')\" '$T/cmpcad.log' '$T/pg/log'"
check "the password copy of cmpca-op is gone" bash -c \
    "! grep -rlsF \"\$(cat '$r/cmpca-owner.pw')\" /tmp --include='tmp.*'"

# "Key ceremony", step 7: an offline root certifies an online issuing CA
# from its request. The offline machine stands as a second token and
# database (steps 2 to 5 of the ceremony done here, as prose says); its
# `sh` blocks run as written, through subst.
cer=$r/ceremony
mkdir -p "$cer/tokens"
chmod 700 "$cer"
printf '%s\n' "directories.tokendir = $cer/tokens" "objectstore.backend = file" \
    "log.level = ERROR" >"$cer/softhsm2.conf"
(umask 077; openssl rand -base64 18 >"$cer/pin"; openssl rand -base64 18 >"$cer/so-pin")
runuser -u postgres -- createdb ceremony
sed -i '1i local ceremony postgres trust' "$T/pg/data/pg_hba.conf"
systemctl reload postgresql
sed -e "s|^token = .*|token = ceremony|" -e "s|^pin_file = .*|pin_file = $cer/pin|" \
    -e "s|^db = .*|db = \"dbname=ceremony user=postgres\"|" \
    -e "s|^db_operator = .*|db_operator = \"dbname=ceremony user=postgres\"|" \
    -e "s|^db_owner = .*|db_owner = \"dbname=ceremony user=postgres\"|" \
    -e "s|^db_reader = .*|db_reader = \"dbname=ceremony user=postgres\"|" \
    -e "s|^user = .*|user = root|" -e "s|^crl_dir = .*|crl_dir = $cer|" \
    "$T/etc/cmpca/cmpca.conf" >"$cer/cmpca.conf"
ccli() { SOFTHSM2_CONF=$cer/softhsm2.conf CMPCA_HSM_LOCK=$cer/lock \
    "$T/usr/bin/cmpca" -c "$cer/cmpca.conf" "$@"; }
check "ceremony: token initialised" ccli hsm init-token --so-pin-file "$cer/so-pin"
check "ceremony: database migrated" ccli db migrate
check "ceremony: root-2026 created in its token" ccli ca create root-2026 \
    --subject "/C=DE/O=Example/CN=Example Root CA 2026" --key ec:P-384 --days 7300
awk -v dir="$T/cer-blocks" '
	/^## / { sec = ($0 == "## Key ceremony for a root CA in the HSM") }
	sec && /^ *```sh$/ { n++; inb = 1; f = sprintf("%s/%03d.sh", dir, n); next }
	inb && /^ *```$/ { inb = 0; next }
	inb { sub(/^   /, ""); print > f }
' < <(mkdir -p "$T/cer-blocks"; cat "$guide")
ncer=$(ls "$T"/cer-blocks/*.sh 2>/dev/null | wc -l)
check "the ceremony has its subordinate step ($ncer sh blocks)" test "$ncer" -ge 3
for b in "$T"/cer-blocks/*.sh; do
	[ -e "$b" ] || break
	n=$(basename "$b" .sh)
	subst <"$b" >"$b.run"
	first=$(grep -m1 -v '^#' "$b" | cut -c1-60)
	if (set -e; . "$b.run") >"$b.out" 2>&1; then
		pass "ceremony block $n: $first"
	else
		fail "ceremony block $n: $first" "$(tail -n 4 "$b.out" | tr '\n' ' ')"
		break
	fi
done
check "issuing-2 is active, issued by the offline root" bash -c \
    "cmpca-op ca list | grep -E '^issuing-2[[:space:]].*active'"
check "issuing-2 is in the offline root's inventory" test \
    "$(runuser -u postgres -- psql -XqtA -d ceremony -c "SELECT count(*) FROM cert WHERE kind = 'ca' AND subject LIKE '%Issuing CA 2%'")" = 1
(umask 077; cmpca-op secret add dev-2 --ca issuing-2 >"$r/dev-2.secret" 2>/dev/null)
openssl ecparam -genkey -name prime256v1 -noout -out "$r/dev-2.key" 2>/dev/null
openssl cmp -cmd ir -server "http://127.0.0.1:$P8081/.well-known/cmp/p/issuing-2" \
    -ref dev-2 -secret "file:$r/dev-2.secret" \
    -recipient "/O=Example/CN=Example Issuing CA 2" -newkey "$r/dev-2.key" \
    -subject "/O=Example/CN=dev-2" -certout "$r/dev-2.pem" >"$r/dev-2.out" 2>&1
check "an enrolment under issuing-2 chains to the offline root" \
    openssl verify -CAfile "$r/root-2026.pem" -untrusted "$r/issuing-2.pem" "$r/dev-2.pem"
check "ca sign-csr refuses a request whose signature does not verify" bash -c \
    "sed '2s/A/B/;2s/a/b/' '$r/issuing-2.csr' >'$r/bad.csr';
     ! SOFTHSM2_CONF='$cer/softhsm2.conf' CMPCA_HSM_LOCK='$cer/lock' \
       '$T/usr/bin/cmpca' -c '$cer/cmpca.conf' ca sign-csr root-2026 --csr '$r/bad.csr' >'$r/bad.pem' 2>'$r/bad.err' &&
     grep -q 'does not verify\|not a PKCS#10' '$r/bad.err' && [ ! -s '$r/bad.pem' ]"
finish
