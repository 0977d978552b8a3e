#!/bin/bash
# test_remotedb.sh - the remote database set-up of docs/operations.md
# ("Remote database: TLS and SCRAM") on a throwaway PostgreSQL cluster:
# TCP on 127.0.0.1 only, TLS with a throwaway server certificate
# (subjectAltName DNS:localhost, from its own CA), pg_hba with hostssl and
# scram-sha-256 only, and the four cmpca roles with passwords in a
# PGPASSFILE. `cmpca db migrate` and `cmpca db roles` run over it with
# sslmode=verify-full; what must fail is refused: no TLS, a name the
# certificate does not carry, another CA, a wrong password.
#
# usage: tests/unit/test_remotedb.sh [--bin DIR]
# Environment: CMPCA_REMOTEDB_PORT (TCP port on 127.0.0.1, default 18605).
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/rel
[ "${1:-}" = "--bin" ] && bin=$2
case $bin in /*) ;; *) bin=$top/$bin ;; esac
port=${CMPCA_REMOTEDB_PORT:-18605}
npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }
check() {
	local name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then pass "$name"; else fail "$name" "$(tail -n 2 "$tmp/out" | tr '\n' ' ')"; fi
}
# refused NAME PATTERN CONNINFO: psql cannot connect, and says PATTERN.
refused() {
	local name=$1 pat=$2
	if psql -XqtA "$3" -c "SELECT 1" >"$tmp/out" 2>&1; then
		fail "$name" "connected"
	elif grep -qE "$pat" "$tmp/out"; then
		pass "$name"
	else
		fail "$name" "$(tr '\n' ' ' <"$tmp/out")"
	fi
}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
tmp=$(mktemp -d)
chmod 755 "$tmp"
as_pg() { (cd / && runuser -u postgres -- "$@"); }
cleanup() {
	[ -f "$tmp/data/postmaster.pid" ] &&
		as_pg "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

# The throwaway certificates: a CA, the server's (DNS:localhost only), and
# another CA the client must not accept.
mkdir -p "$tmp/tls"
(
	cd "$tmp/tls" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout ca.key -out ca.pem -days 2 -subj "/CN=cmpca test DB CA"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout other.key -out other.pem -days 2 -subj "/CN=another CA"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout server.key -out server.csr -subj "/CN=localhost"
	printf 'subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n' >ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days 2 -extfile ext -out server.pem
) >/dev/null 2>&1
chown postgres "$tmp/tls/server.key" "$tmp/tls/server.pem"
chmod 600 "$tmp/tls/server.key"

# The cluster: local socket for the superuser only (set-up), TCP with TLS
# and SCRAM for everyone else.
mkdir -p "$tmp/data" "$tmp/sock"
chown postgres "$tmp/data" "$tmp/sock"
as_pg "$bindir/initdb" -D "$tmp/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=reject >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log"; exit 1; }
cat >"$tmp/data/pg_hba.conf" <<EOF
local   all     postgres                      trust
hostssl cmpca   all       127.0.0.1/32        scram-sha-256
hostssl cmpca   all       ::1/128             scram-sha-256
EOF
as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/sock/server.log" -w \
    -o "-c listen_addresses=localhost -p $port -c unix_socket_directories=$tmp/sock -c ssl=on -c ssl_cert_file=$tmp/tls/server.pem -c ssl_key_file=$tmp/tls/server.key -c ssl_min_protocol_version=TLSv1.2 -c password_encryption=scram-sha-256" \
    start >/dev/null || { tail -n 20 "$tmp/sock/server.log"; exit 1; }
su="host=$tmp/sock port=$port user=postgres"
psql -Xq "$su dbname=postgres" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE ROLE cmpca_owner LOGIN PASSWORD 'owner-pw-7c1e';
CREATE ROLE cmpca_daemon LOGIN PASSWORD 'daemon-pw-2b9d';
CREATE ROLE cmpca_operator LOGIN PASSWORD 'operator-pw-5a0f';
CREATE ROLE cmpca_reader LOGIN PASSWORD 'reader-pw-91c3';
CREATE DATABASE cmpca OWNER cmpca_owner;
\c cmpca
ALTER SCHEMA public OWNER TO cmpca_owner;
SQL
# Passwords in a PGPASSFILE (0600), never in a conninfo or the file.
cat >"$tmp/pgpass" <<EOF
localhost:$port:cmpca:cmpca_owner:owner-pw-7c1e
localhost:$port:cmpca:cmpca_daemon:daemon-pw-2b9d
localhost:$port:cmpca:cmpca_operator:operator-pw-5a0f
localhost:$port:cmpca:cmpca_reader:reader-pw-91c3
127.0.0.1:$port:cmpca:cmpca_daemon:daemon-pw-2b9d
EOF
chmod 600 "$tmp/pgpass"
export PGPASSFILE=$tmp/pgpass
ci() { # ROLE [extra]: the documented remote conninfo
	echo "host=localhost port=$port dbname=cmpca user=$1 sslmode=verify-full sslrootcert=$tmp/tls/ca.pem ${2:-}"
}
cat >"$tmp/cmpca.conf" <<EOF
[cmpca]
token = none
db = "$(ci cmpca_daemon)"
db_operator = "$(ci cmpca_operator)"
db_owner = "$(ci cmpca_owner)"
db_reader = "$(ci cmpca_reader)"
schema_dir = $top/db/schema
[profile.default]
days = 1
EOF

check "cmpca db migrate as cmpca_owner over TLS (verify-full, SCRAM)" \
    "$bin/cmpca" -c "$tmp/cmpca.conf" db migrate
"$bin/cmpca" -c "$tmp/cmpca.conf" db roles >"$tmp/roles" 2>&1
check "cmpca db roles over TLS: every role ok" test \
    "$(cut -f2,3 "$tmp/roles" | tr '\t\n' ':;')" = \
    'cmpca_daemon:ok;cmpca_reader:ok;cmpca_operator:ok;cmpca_owner:ok (owner);'
check "the daemon's connection is TLS 1.2 or 1.3" bash -c \
    "psql -XqtA '$(ci cmpca_daemon)' -c \"SELECT ssl::text || ' ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()\" |
     grep -qE '^true TLSv1\.[23]$'"
check "passwords are stored as SCRAM-SHA-256" test \
    "$(psql -XqtA "$su dbname=cmpca" -c "SELECT count(*) FROM pg_authid WHERE rolname LIKE 'cmpca_%' AND rolpassword LIKE 'SCRAM-SHA-256\$%'")" = 4
refused "no TLS: refused by pg_hba" "no pg_hba.conf entry" \
    "host=localhost port=$port dbname=cmpca user=cmpca_daemon sslmode=disable"
refused "verify-full to a name the certificate does not carry: refused" \
    "does not match host name|server certificate for" \
    "host=127.0.0.1 port=$port dbname=cmpca user=cmpca_daemon sslmode=verify-full sslrootcert=$tmp/tls/ca.pem"
refused "verify-full with another CA: refused" "certificate verify failed" \
    "$(ci cmpca_daemon | sed "s|tls/ca.pem|tls/other.pem|")"
refused "a wrong password: refused" "password authentication failed" \
    "$(ci cmpca_daemon) password=wrong-pw passfile=/dev/null"
refused "the superuser cannot log in over TCP" "password authentication failed|no password" \
    "host=localhost port=$port dbname=cmpca user=postgres sslmode=verify-full sslrootcert=$tmp/tls/ca.pem passfile=/dev/null"
check "no password in the configuration" bash -c "! grep -q 'pw-' '$tmp/cmpca.conf'"

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
