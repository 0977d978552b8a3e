#!/bin/bash
# txcost.sh - what one CMP transaction costs a running stack, measured
# around one cmpload run, per completed transaction: server CPU by
# process (PostgreSQL, cmpcad, nginx), and in PostgreSQL the rows
# inserted and updated, the index entries added, the WAL written (bytes,
# records, full-page images) and the statements run (the daemon's own,
# top level, i.e. round trips, and all of them, nested included).
#
#   tests/bench/txcost.sh [--header] [--setup] [--wait S] STACK_ENV LABEL CMPLOAD-ARGS...
#
# STACK_ENV is the stack.env of scripts/stack up. --setup (once per stack,
# as root) loads pg_stat_statements and pageinspect (in a schema of their
# own, `bench`), raises checkpoint_timeout so that no checkpoint (and its
# full-page images) falls inside a row, and restarts PostgreSQL (the
# workers reconnect). --wait S (default 0) waits S seconds after the run
# before the second sample, so that the housekeeper's sealing of the
# row's audit rows is counted (set it to the stack's housekeeping
# interval + 1). Prints one line of key=value.
#
# Index entries are counted, not estimated: the items on the leaf pages
# of every btree of the schema (bt_page_stats, high keys excluded),
# before and after; an update that is not heap-only adds one per index.
set -uo pipefail
hz=$(getconf CLK_TCK)
wait_s=0
header=0
setup=0
while [ $# -gt 0 ]; do
	case $1 in
	--header) header=1 ;;
	--setup) setup=1 ;;
	--wait) wait_s=$2; shift ;;
	*) break ;;
	esac
	shift
done
env_file=${1:?usage: txcost.sh [--setup] [--wait S] STACK_ENV LABEL CMPLOAD-ARGS...}
label=${2:-}
shift 2 || true
# shellcheck disable=SC1090
. "$env_file"
export CMPCA_SECRET
bin=${CMPCA_BIN:-build/rel}
sql() { psql -XqtA "$CMPCA_DB" -v ON_ERROR_STOP=1 -c "$1"; }

if [ "$setup" = 1 ]; then
	d=$CMPCA_VAR/pg/data
	grep -q '^# txcost' "$d/postgresql.conf" ||
	    cat >>"$d/postgresql.conf" <<-'EOF'
		# txcost.sh --setup
		shared_preload_libraries = 'pg_stat_statements'
		pg_stat_statements.track = 'all'
		checkpoint_timeout = '1h'
		max_wal_size = '8GB'
	EOF
	bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	(cd / && runuser -u postgres -- "$bindir/pg_ctl" -D "$(readlink -f "$d")" \
	    -w -m fast restart -l "$CMPCA_VAR/pg/server.log" >/dev/null) || exit 1
	sql "CREATE SCHEMA IF NOT EXISTS bench" &&
	sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA bench" &&
	sql "CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA bench" || exit 1
	# The workers notice the restart at their next statement.
	sleep 2
	[ -z "$label" ] && exit 0
fi

# ticks PID...: utime + stime (+ reaped children) of PID and descendants.
ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$*" '
	{
		match($0, /.*\) /)
		split(substr($0, RLENGTH + 1), f, " ")
		pp[$1] = f[2]
		t[$1] = f[12] + f[13] + f[14] + f[15]
	}
	END {
		n = split(roots, r, " ")
		for (i = 1; i <= n; i++)
			if (r[i] in pp)
				sel[r[i]] = 1
		do {
			added = 0
			for (p in pp)
				if (!(p in sel) && (pp[p] in sel)) {
					sel[p] = 1
					added = 1
				}
		} while (added)
		s = 0
		for (p in sel)
			s += t[p]
		print s
	}'
}

pg_pid=$(head -n 1 "$CMPCA_VAR/pg/data/postmaster.pid")
cd_pid=$(cat "$CMPCA_VAR/cmpcad.pid")
ng_pid=$(cat "$CMPCA_VAR/nginx.pid")

# One sample of the database: rows by kind, index items, WAL.
db_sample() {
	sql "SELECT
	    (SELECT sum(n_tup_ins) FROM pg_stat_user_tables),
	    (SELECT sum(n_tup_upd) FROM pg_stat_user_tables),
	    (SELECT sum(n_tup_hot_upd) FROM pg_stat_user_tables),
	    (SELECT sum(n_tup_del) FROM pg_stat_user_tables),
	    (SELECT sum(s.live_items + s.dead_items -
		CASE WHEN s.btpo_next <> 0 THEN 1 ELSE 0 END)
	     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
	     JOIN pg_class t ON t.oid = x.indrelid
	     JOIN pg_am a ON a.oid = i.relam AND a.amname = 'btree'
	     CROSS JOIN LATERAL generate_series(1,
		(pg_relation_size(i.oid) / current_setting('block_size')::int
		)::int - 1) AS b(blk)
	     CROSS JOIN LATERAL bench.bt_page_stats(i.oid::regclass::text,
		b.blk) s
	     WHERE t.relnamespace = 'public'::regnamespace AND s.type = 'l'),
	    pg_current_wal_lsn() - '0/0'::pg_lsn, pg_current_wal_lsn(),
	    (SELECT wal_records FROM pg_stat_wal),
	    (SELECT wal_fpi FROM pg_stat_wal),
	    (SELECT wal_sync FROM pg_stat_wal)" | tr '|' ' '
}

# Per-table rows inserted/updated since the reset, for the note.
tables_sample() {
	sql "SELECT relname || ':' || n_tup_ins || ':' || n_tup_upd || ':' ||
	    n_tup_hot_upd FROM pg_stat_user_tables ORDER BY relname" | tr '\n' ' '
}

if [ "$header" = 1 ]; then
	echo "label tx srv_ms pg_ms cmpcad_ms nginx_ms rows_ins rows_upd hot_upd rows_del idx_entries wal_bytes wal_fpi_bytes wal_recs wal_fpi wal_syncs stmts_top stmts_all"
fi

sql "SELECT bench.pg_stat_statements_reset()" >/dev/null
sql "SELECT pg_stat_reset()" >/dev/null
sleep 1
read -r i0 u0 h0 d0 x0 w0 l0 r0 f0 y0 < <(db_sample)
tb0=$(tables_sample)
p0=$(ticks "$pg_pid")
c0=$(ticks "$cd_pid")
n0=$(ticks "$ng_pid")
"$bin/cmpload" "$@" >/tmp/txcost.$$.out 2>/tmp/txcost.$$.err
p1=$(ticks "$pg_pid")
c1=$(ticks "$cd_pid")
n1=$(ticks "$ng_pid")
line=$(grep '^kind=' /tmp/txcost.$$.out | tail -n 1)
done_n=$(sed -n 's/.* done=\([0-9]*\).*/\1/p' <<<" $line")
errs=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<" $line")
[ "$wait_s" != 0 ] && sleep "$wait_s"
sleep 1	# statistics reach the collector within PGSTAT_MIN_INTERVAL
read -r i1 u1 h1 d1 x1 w1 l1 r1 f1 y1 < <(db_sample)
# The bytes of full-page images among them (pg_waldump --stats): a
# checkpoint inside the row adds them, the transactions do not.
fpib=$(pg_waldump_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_waldump
    "$pg_waldump_bin" -p "$(readlink -f "$CMPCA_VAR/pg/data")/pg_wal" \
    --stats -s "$l0" -e "$l1" 2>/dev/null |
    awk '/^Total/ { print $5; exit }')
tb1=$(tables_sample)
st=$(sql "SELECT coalesce(sum(calls) FILTER (WHERE toplevel), 0) || ' ' ||
    coalesce(sum(calls), 0)
    FROM bench.pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
    WHERE r.rolname = 'cmpca_daemon'")
if [ -z "$done_n" ] || [ "$done_n" = 0 ]; then
	echo "$label failed: $(tail -n 2 /tmp/txcost.$$.err)" >&2
	rm -f /tmp/txcost.$$.*
	exit 1
fi
awk -v l="$label" -v n="$done_n" -v hz="$hz" \
    -v p="$((p1 - p0))" -v c="$((c1 - c0))" -v g="$((n1 - n0))" \
    -v i="$((i1 - i0))" -v u="$((u1 - u0))" -v h="$((h1 - h0))" \
    -v d="$((d1 - d0))" -v x="$((x1 - x0))" -v w="$((w1 - w0))" \
    -v r="$((r1 - r0))" -v f="$((f1 - f0))" -v y="$((y1 - y0))" \
    -v fb="${fpib:-0}" \
    -v st="$st" -v e="$errs" \
    -v tps="$(sed -n 's/.* tx\/s=\([0-9.]*\).*/\1/p' <<<" $line")" 'BEGIN {
	split(st, s, " ")
	ms = 1000 / hz / n
	printf "%s tx=%d errors=%s tx/s=%s srv_ms=%.3f pg_ms=%.3f cmpcad_ms=%.3f nginx_ms=%.3f rows_ins=%.2f rows_upd=%.2f hot_upd=%.2f rows_del=%.2f idx_entries=%.2f wal_bytes=%.0f wal_fpi_bytes=%.0f wal_recs=%.1f wal_fpi=%.2f wal_syncs=%.2f stmts_top=%.2f stmts_all=%.2f\n",
	    l, n, e, tps, (p + c + g) * ms, p * ms, c * ms, g * ms, i / n, u / n,
	    h / n, d / n, x / n, w / n, fb / n, r / n, f / n, y / n, s[1] / n, s[2] / n
}'
if [ -n "${TXCOST_TABLES:-}" ]; then
	echo "  tables before: $tb0"
	echo "  tables after:  $tb1"
	sql "SELECT calls, toplevel, round(total_exec_time::numeric / calls, 3),
	    left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
	    FROM bench.pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
	    WHERE r.rolname = 'cmpca_daemon' ORDER BY calls DESC LIMIT 40"
fi
rm -f /tmp/txcost.$$.*
