# shellcheck shell=bash
# Shared set-up and helpers for the end-to-end scripts (run.sh, bc.sh,
# concurrency.sh, ocsp.sh, admin.sh). Sourced, not run:
#
#   set -uo pipefail
#   . "$(dirname "$0")/lib.sh"
#   e2e_setup NAME PORT [options] -- "$@"
#   export ...                  # the script's own CMPCA_* settings
#   e2e_stack_up
#   ... cases, using check/pass/fail and the helpers below ...
#   e2e_done                    # last line: the closing line and exit status
#
# Globals for the scripts: top (the source tree), bin (the build directory),
# work ($CMPCA_VAR/work), npass and nfail; after e2e_stack_up everything in
# $CMPCA_VAR/stack.env (CMPCA_URL, CMPCA_DB, CMPCA_CLI, ...).

top=$(cd "$(dirname "$0")/../.." && pwd)

# port_busy PORT: true if something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# e2e_setup NAME PORT [--port-var VAR] [--scan-to LAST] [--keep] [-- ARGS...]
#   NAME   short name: the state directory is a fresh /tmp/cmpca-NAME.XXXXXX
#          (CMPCA_VAR), and on failure the daemon log is kept in
#          /tmp/cmpca-NAME-last.log.
#   PORT   the default port (CMPCA_PORT).
#   --port-var VAR  the environment variable that overrides PORT (default
#          CMPCA_TEST_PORT); when set and non-empty it is used as is.
#   --scan-to LAST  without an override, take the first free port from
#          PORT on, trying no further than LAST; without this option PORT
#          is used as is.
#   --keep  KEEP=1 in the environment keeps $CMPCA_VAR after the run.
#   ARGS   the script's own arguments: [--bin DIR] (default build/rel,
#          relative to the source tree unless absolute; CMPCA_BIN).
# Exports CMPCA_BIN, CMPCA_VAR and CMPCA_PORT, makes $work, zeroes the
# counters and installs the cleanup trap (stack down; on failure the tail
# of the daemon log; the state directory removed).
e2e_setup() {
	local port=$2 port_var=CMPCA_TEST_PORT last=
	e2e_name=$1
	e2e_keep=
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--port-var) port_var=$2; shift 2 ;;
		--scan-to) last=$2; shift 2 ;;
		--keep) e2e_keep=1; shift ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	bin=$top/build/rel
	[ "${1:-}" = "--bin" ] && bin=$2
	case $bin in /*) ;; *) bin=$top/$bin ;; esac
	export CMPCA_BIN=$bin
	export CMPCA_VAR=$(mktemp -d "/tmp/cmpca-$e2e_name.XXXXXX")
	if [ -n "${!port_var:-}" ]; then
		CMPCA_PORT=${!port_var}
	else
		CMPCA_PORT=$port
		if [ -n "$last" ]; then
			while port_busy "$CMPCA_PORT" && [ "$CMPCA_PORT" -lt "$last" ]; do
				CMPCA_PORT=$((CMPCA_PORT + 1))
			done
		fi
	fi
	export CMPCA_PORT
	chmod 755 "$CMPCA_VAR"
	work=$CMPCA_VAR/work
	mkdir -p "$work"
	npass=0
	nfail=0
	trap e2e_cleanup EXIT
	# The suites send from 127.0.0.1 alone, often faster than one client
	# address may (nginx/cmpca-limits.conf: 20 requests a second): the
	# CMP limits of their stacks are raised here; tests/e2e/abuse.sh
	# tests the shipped ones (e2e_shipped_limits).
	export CMPCA_NGINX_CMP_RATE=${CMPCA_NGINX_CMP_RATE:-5000}
	export CMPCA_NGINX_CMP_BURST=${CMPCA_NGINX_CMP_BURST:-5000}
	export CMPCA_NGINX_CMP_CONN=${CMPCA_NGINX_CMP_CONN:-1024}
	export CMPCA_NGINX_CMP_ALL_RATE=${CMPCA_NGINX_CMP_ALL_RATE:-5000}
	export CMPCA_NGINX_CMP_ALL_CONN=${CMPCA_NGINX_CMP_ALL_CONN:-1024}
}

# e2e_shipped_limits: the stack gets nginx's limits as shipped.
e2e_shipped_limits() {
	unset CMPCA_NGINX_CMP_RATE CMPCA_NGINX_CMP_BURST CMPCA_NGINX_CMP_CONN \
	    CMPCA_NGINX_CMP_ALL_RATE CMPCA_NGINX_CMP_ALL_CONN
}

# stack_down: the suite's own stop of its stack, after the last case
# that issues: the inventory is linted first (e2e_lint, once), while the
# database is up.
stack_down() {
	e2e_lint
	"$top/scripts/stack" down >/dev/null 2>&1
}

e2e_cleanup() {
	"$top/scripts/stack" down >/dev/null 2>&1
	if [ "$nfail" -gt 0 ]; then
		echo "--- cmpcad log (last 40 lines) ---"
		tail -n 40 "$CMPCA_VAR/cmpcad.log" 2>/dev/null
		cp "$CMPCA_VAR/cmpcad.log" "/tmp/cmpca-$e2e_name-last.log" 2>/dev/null
	fi
	if [ -n "$e2e_keep" ] && [ -n "${KEEP:-}" ]; then
		return 0
	fi
	rm -rf "$CMPCA_VAR"
}

# e2e_build_bc_client: compiles tests/bc/CmpClient.java, or ends the run
# as one failure.
e2e_build_bc_client() {
	if ! "$top/tests/bc/cmpclient" --build >"$work/javac.out" 2>&1; then
		cat "$work/javac.out"
		echo "cannot compile tests/bc/CmpClient.java (scripts/deps installs the JDK and Bouncy Castle)"
		echo "0 passed, 1 failed"
		exit 1
	fi
}

# e2e_stack_up: starts the stack on $CMPCA_PORT in $CMPCA_VAR and reads
# its stack.env, or ends the run as one failure.
e2e_stack_up() {
	if ! "$top/scripts/stack" up >"$work/stack.out" 2>&1; then
		cat "$work/stack.out"
		echo "0 passed, 1 failed"
		exit 1
	fi
	. "$CMPCA_VAR/stack.env"
}

# The lint of every certificate the suite's CA issued (lintlib.sh).
# shellcheck source=lintlib.sh source-path=SCRIPTDIR
. "$top/tests/e2e/lintlib.sh"

# e2e_done: lints the inventory (e2e_lint, unless stack_down did), then
# the closing "N passed, N failed"; status 0 if nothing failed.
e2e_done() {
	e2e_lint
	echo "$npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
}

pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }
check() { # name, condition command...
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$*"; fi
}

# Helpers for after e2e_stack_up.
cli() { eval "$CMPCA_CLI" '"$@"'; }
q() { psql -XqtA "$CMPCA_DB" -c "$1"; }
dump() { "$bin/cmpdump" "$1"; }

# serial_of CERT: the serial number in lower-case hex, no leading zeros.
serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2 |
	    tr 'A-F' 'a-f' | sed 's/^0*//'
}
same_pubkey() { # cert key
	[ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" = \
	    "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ]
}
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
chains() { openssl verify -CAfile "$CMPCA_CA_CERT" "$1"; }
db_status() { q "select status from cert where serial = '$(serial_of "$1")'"; }
