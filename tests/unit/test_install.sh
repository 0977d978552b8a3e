#!/bin/bash
# test_install.sh - `make install` as an operator runs it, into a staging
# directory:
#   - `make install DESTDIR=$tmp PREFIX=/usr` puts every file where
#     docs/operations.md says, with mode 0755 (programs) or 0644, nothing
#     outside $DESTDIR/usr, nothing group- or world-writable, the schema
#     files byte for byte, no placeholder left in the example configuration;
#   - the man pages render without a warning (groff -ww, mandoc -T lint),
#     cmpca(1) names every sub-command of usage_text and cmpca.conf(5)
#     every key of cfg_keys[] and profile_keys[] (read as test_docs.sh
#     reads them);
#   - systemd-analyze verifies the unit (a copy whose ExecStart points into
#     $DESTDIR, with the man pages on MANPATH so Documentation= is checked),
#     prints nothing, and rates its exposure at 2.0 or better offline; the
#     hardening options the unit promises are there;
#   - the installed programs work: the compiled-in schema_dir and
#     configuration file follow PREFIX, `cmpca db migrate` applies the
#     installed schema to a throwaway PostgreSQL, a CA is created in a
#     SoftHSM token, `cmpcad -t` passes on the installed example
#     configuration (pointed at that database and token), and cmpcad
#     listens on its socket and stops on SIGTERM;
#   - `make uninstall` removes every file again.
# The build directory is relinked with PREFIX=/usr for the test and with
# the default PREFIX again at the end (only ca/cfg.c is recompiled).
#
# usage: tests/unit/test_install.sh [--bin DIR]     (as root: PostgreSQL
# runs as the postgres user). Port 18600 names the PostgreSQL socket
# (Unix socket only). Prints one line per check and "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=build/rel
[ "${1:-}" = "--bin" ] && bin=$2
case $bin in /*) ;; *) bin=$top/$bin ;; esac
san=0
case $bin in */build/san) san=1 ;; esac
# make's own name for the build directory: relative inside the tree, so
# that the dependency files (build/.../*.d) apply.
bdir=$bin
case $bin in "$top"/*) bdir=${bin#"$top"/} ;; esac
npass=0
nfail=0
. "$top/tests/unit/doclib.sh"

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

tmp=$(mktemp -d /tmp/cmpca-install.XXXXXX)
chmod 755 "$tmp"
root=$tmp/root
daemon=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	"$top/scripts/pgtmp" stop "$tmp/pg" >/dev/null 2>&1
	make -s -C "$top" SAN="$san" B="$bdir" "$bdir/cmpca" "$bdir/cmpcad" \
	    >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
mk() { make -s -C "$top" SAN="$san" B="$bdir" DESTDIR="$root" PREFIX=/usr "$@"; }

# 1. make install
if ! out=$(mk install 2>&1); then
	fail "make install DESTDIR PREFIX=/usr" "$(tail -n 5 <<<"$out")"
	echo "$npass passed, $nfail failed"
	exit 1
fi
pass "make install DESTDIR PREFIX=/usr"

# want MODE PATH: PATH (under $root) is a regular file with MODE.
want() {
	local m
	m=$(stat -c %a "$root/$2" 2>/dev/null)
	if [ "$m" = "$1" ] && [ -f "$root/$2" ]; then
		pass "installed $2 ($1)"
	else
		fail "installed $2 ($1)" "mode ${m:-missing}"
	fi
}
want 755 usr/bin/cmpca
want 755 usr/sbin/cmpcad
want 644 usr/lib/systemd/system/cmpcad.service
want 644 usr/share/man/man1/cmpca.1
want 644 usr/share/man/man5/cmpca.conf.5
want 644 usr/share/man/man8/cmpcad.8
want 644 usr/share/cmpca/cmpca.conf.example
want 644 usr/share/doc/cmpca/operations.md
want 644 usr/share/doc/cmpca/troubleshooting.md
for f in "$top"/nginx/cmp-locations.conf "$top"/nginx/cmpca-metrics.conf \
    "$top"/nginx/cmpca-limits.conf \
    "$top"/nginx/*.example; do
	[ -e "$f" ] || continue
	want 644 "usr/share/cmpca/nginx/${f##*/}"
done
check "installed nginx files name PREFIX's paths, not /usr/local" \
    bash -c "! grep -n /usr/local '$root'/usr/share/cmpca/nginx/*"
nschema=0
for f in "$top"/db/schema/*.sql; do
	nschema=$((nschema + 1))
	want 644 "usr/share/cmpca/schema/${f##*/}"
	check "schema ${f##*/} installed unchanged" \
	    cmp "$f" "$root/usr/share/cmpca/schema/${f##*/}"
done
check "nothing installed outside DESTDIR/usr" \
    test "$(ls -A "$root")" = usr
check "no installed file is group/world-writable or set-id" \
    test -z "$(find "$root" \( -perm /022 -o -perm /6000 \) -print)"
# The copies in the guides are the installed text, not a memory of it.
awk '/^## Example$/ { on = 1; next } /^## / { on = 0 }
     on && /^```ini$/ { inb = 1; next } inb && /^```$/ { exit } inb' \
    "$top/docs/configuration.md" >"$tmp/conf-example.md"
check "configuration.md's Example is the installed example configuration" \
    diff -u "$tmp/conf-example.md" "$root/usr/share/cmpca/cmpca.conf.example"
awk '/^## cmpca \(CLI\)$/ { on = 1; next } /^## / { on = 0 }
     on && /^```$/ { if (inb) exit; inb = 1; next } inb' \
    "$top/docs/operations.md" >"$tmp/usage.md"
check "operations.md's CLI usage is cmpca -h's" bash -c \
    "'$root/usr/bin/cmpca' -h | diff -u '$tmp/usage.md' -"
check "example configuration has no @placeholder@ left" \
    bash -c "! grep -n '@[A-Z_]*@' '$root/usr/share/cmpca/cmpca.conf.example'"

# 2. Man pages.
man1=$root/usr/share/man/man1/cmpca.1
man5=$root/usr/share/man/man5/cmpca.conf.5
man8=$root/usr/share/man/man8/cmpcad.8
for m in "$man1" "$man5" "$man8"; do
	check "groff -ww renders ${m##*/} without warnings" \
	    bash -c "out=\$(groff -mandoc -ww -z '$m' 2>&1) && [ -z \"\$out\" ]"
	check "mandoc -T lint finds no warning in ${m##*/}" \
	    mandoc -T lint -W warning "$m"
done
text1=$(mandoc -T ascii "$man1" | col -b)
subs=$(usage_subcommands "$top/cli/cli_ctx.c")
if [ -z "$subs" ]; then
	fail "usage_text parsed from cli/cli_ctx.c" "no sub-commands found"
else
	while IFS= read -r sub; do
		check "cmpca(1) documents cmpca $sub" grep -qF -- "$sub" <<<"$text1"
	done <<<"$subs"
fi
# man_keys SECTION-REGEX: the ".It Cm KEY" items of that .Sh section.
man_keys() {
	awk -v re="$1" '/^\.Sh / { on = ($0 ~ re); next }
	    on && /^\.It Cm / { print $3 }' "$man5"
}
for pair in "cfg_keys:THE \\[cmpca\\] SECTION" "profile_keys:PROFILES"; do
	arr=${pair%%:*}
	keys=$(c_strings "$arr" "$top/ca/cfg.c")
	documented=$(man_keys "${pair#*:}")
	if [ -z "$keys" ]; then
		fail "$arr[] parsed from ca/cfg.c" "no keys found"
		continue
	fi
	while IFS= read -r k; do
		check "cmpca.conf(5) documents $k ($arr)" \
		    grep -qxF -- "$k" <<<"$documented"
	done <<<"$keys"
done

# 3. The systemd unit.
unit=$root/usr/lib/systemd/system/cmpcad.service
for opt in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    NoNewPrivileges=yes CapabilityBoundingSet= \
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
    MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
    User=cmpca Group=cmpca RuntimeDirectory=cmpca \
    "ExecStart=/usr/sbin/cmpcad -c /etc/cmpca/cmpca.conf"; do
	check "unit sets $opt" grep -qxF -- "$opt" "$unit"
done
sed "s|^ExecStart=/usr/sbin/|ExecStart=$root/usr/sbin/|" "$unit" \
    >"$tmp/cmpcad.service"
check "systemd-analyze verify: no complaint" bash -c "
	out=\$(cd '$tmp' && MANPATH='$root/usr/share/man' \
	    systemd-analyze verify ./cmpcad.service 2>&1) || { echo \"\$out\"; exit 1; }
	[ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
check "systemd-analyze security: exposure 2.0 or better" bash -c "
	cd '$tmp' && systemd-analyze security --offline=yes --threshold=20 \
	    ./cmpcad.service | tail -n 1"

# 4. The installed programs.
cmpca=$root/usr/bin/cmpca
cmpcad=$root/usr/sbin/cmpcad
check "installed cmpca -h prints the usage" \
    bash -c "'$cmpca' -h | grep -q '^usage: cmpca'"
check "installed cmpcad rejects an unknown option with its usage" bash -c "
	out=\$('$cmpcad' -x 2>&1); rc=\$?
	[ \$rc = 2 ] && grep -q '^usage: cmpcad' <<<\"\$out\""
# compiled_default WHAT PATH COMMAND...: the compiled-in default PATH is
# used. When PATH does not exist here, COMMAND fails naming it; when a
# real installation has it, the binary must at least carry it.
compiled_default() {
	local what=$1 path=$2 out
	shift 2
	if [ -e "$path" ]; then
		check "$what defaults to $path (in the binary)" \
		    grep -qaF -- "$path" "$1"
		return
	fi
	out=$(env -u CMPCA_CONF "$@" 2>&1)
	if grep -qF -- "$path" <<<"$out"; then
		pass "$what defaults to $path"
	else
		fail "$what defaults to $path" "$(tail -n 2 <<<"$out")"
	fi
}
compiled_default "configuration file" /etc/cmpca/cmpca.conf \
    "$cmpca" ca list

mkdir -p "$tmp/hsm/tokens" "$tmp/crl"
cat >"$tmp/hsm/softhsm2.conf" <<EOF
directories.tokendir = $tmp/hsm/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF=$tmp/hsm/softhsm2.conf
export CMPCA_HSM_LOCK=$tmp/hsm/lock
(umask 077; openssl rand -hex 12 >"$tmp/hsm/pin"; openssl rand -hex 12 >"$tmp/hsm/so-pin")
# The conninfo from stdout only; pgtmp's diagnostics go to a file.
if ! db=$("$top/scripts/pgtmp" start "$tmp/pg" 18600 2>"$tmp/pgtmp.err"); then
	fail "PostgreSQL for the installed programs" "$(cat "$tmp/pgtmp.err")"
	db=
fi
# The installed example, pointed at this token, database and directory;
# without schema_dir first, to see the compiled-in default.
conf=$tmp/cmpca.conf
sed -e "s|^token = .*|token = cmpca-inst|" \
    -e "s|^pin_file = .*|pin_file = $tmp/hsm/pin|" \
    -e "s|^db = .*|db = \"$db\"|" \
    -e "s|^db_operator = .*|db_operator = \"$db\"|" \
    -e "s|^db_owner = .*|db_owner = \"$db\"|" \
    -e "s|^db_reader = .*|db_reader = \"${db/user=postgres/user=cmpca_reader}\"|" \
    -e "s|^socket = .*|socket = $tmp/cmpcad.sock|" \
    -e "s|^crl_dir = .*|crl_dir = $tmp/crl|" \
    -e "s|^audit_anchor_file = .*|audit_anchor_file = $tmp/audit-anchor.log|" \
    -e "s|^workers = .*|workers = 1|" \
    -e "s|^user = .*|user = $(id -un)|" \
    -e "/^schema_dir = /d" \
    "$root/usr/share/cmpca/cmpca.conf.example" >"$conf"
compiled_default "schema_dir" /usr/share/cmpca/schema \
    "$cmpca" -c "$conf" db migrate
sed -i "s|^\[cmpca\]$|&\nschema_dir = $root/usr/share/cmpca/schema|" "$conf"
check "installed cmpca db migrate applies the $nschema installed migrations" \
    bash -c "'$cmpca' -c '$conf' db migrate |
	grep -qx 'schema version [0-9]* ($nschema migration(s) applied)'"
check "installed cmpca hsm init-token" \
    "$cmpca" -c "$conf" hsm init-token --so-pin-file "$tmp/hsm/so-pin"
check "installed cmpca ca create issuing (key in the HSM)" \
    "$cmpca" -c "$conf" ca create issuing --subject "/O=cmpca/CN=Install Test CA"
# cmpcad refuses the superuser: it runs as cmpca_daemon (created NOLOGIN
# by the migration, which ran as the superuser), as the example says.
psql -Xq "$db" -c "ALTER ROLE cmpca_daemon LOGIN" -c "ALTER ROLE cmpca_reader LOGIN" >/dev/null 2>&1
sed -i "s|^db = .*|db = \"${db/user=postgres/user=cmpca_daemon}\"|" "$conf"
# No silent half-set-up CA (issue 32): without an audit key, -t and
# status fail and name the command to run.
check "installed cmpcad -t refuses an instance without an audit key" bash -c "
	! out=\$('$cmpcad' -t -c '$conf' 2>&1) &&
	grep -q 'no audit key: .*(run cmpca audit key)' <<<\"\$out\""
check "installed cmpca status fails without an audit key, naming the command" bash -c "
	'$cmpca' -c '$conf' status >'$tmp/status.out' 2>&1; [ \$? = 3 ] &&
	grep -q '^audit key .*none: .*(cmpca audit key)' '$tmp/status.out'"
check "installed cmpca audit key" "$cmpca" -c "$conf" audit key
check "installed cmpca ocsp signer" "$cmpca" -c "$conf" ocsp signer --ca issuing
check "installed cmpcad -t passes on the example configuration" bash -c "
	'$cmpcad' -t -c '$conf' 2>&1 |
	grep -qx '$conf: configuration ok, schema version [0-9]*, 1 CA(s)'"
sed "s|^token = .*|token = no-such-token|" "$conf" >"$tmp/bad.conf"
check "installed cmpcad -t fails for a token that does not exist" \
    bash -c "! '$cmpcad' -t -c '$tmp/bad.conf' >/dev/null 2>&1"
"$cmpcad" -c "$conf" >"$tmp/cmpcad.log" 2>&1 &
daemon=$!
for _ in $(seq 50); do
	[ -S "$tmp/cmpcad.sock" ] && grep -q 'worker ready' "$tmp/cmpcad.log" &&
	    break
	sleep 0.1
done
check "installed cmpcad listens on its socket with a ready worker" \
    bash -c "[ -S '$tmp/cmpcad.sock' ] && grep -q 'worker ready' '$tmp/cmpcad.log'"
kill -TERM "$daemon" 2>/dev/null
for _ in $(seq 100); do
	kill -0 "$daemon" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$daemon" 2>/dev/null; then
	fail "installed cmpcad stops on SIGTERM" "still running after 10 s"
else
	wait "$daemon"
	check "installed cmpcad stops on SIGTERM and removes its socket" \
	    test ! -e "$tmp/cmpcad.sock"
fi
daemon=
if [ "$san" = 1 ]; then
	check "no sanitizer report in the daemon log" \
	    bash -c "! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$tmp/cmpcad.log'"
fi
check "no PIN in the daemon log" \
    bash -c "! grep -qF -- \"\$(cat '$tmp/hsm/pin')\" '$tmp/cmpcad.log'"

# 5. make uninstall
check "make uninstall" mk uninstall
check "make uninstall leaves no file behind" \
    test -z "$(find "$root" ! -type d -print)"

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
