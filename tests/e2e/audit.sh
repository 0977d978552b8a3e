#!/bin/bash
# End-to-end tests of least privilege in PostgreSQL and of the audit hash
# chain (issue 16). A fresh stack (PostgreSQL with the production roles,
# SoftHSM through libp11, nginx, cmpcad) on CMPCA_AUDIT_TEST_PORT, else the
# first free port from 18690 to 18699.
#
# 1. Roles: each component connects as its own role; the daemon's role is
#    refused by PostgreSQL when it deletes or changes audit rows, disables
#    a trigger, or changes a certificate's issuer, serial or DER; cmpcad
#    refuses to start as a superuser or as the tables' owner.
# 2. The chain: a clean log verifies; a row changed, deleted or inserted
#    by the superuser behind the CA's back is named by `cmpca audit
#    verify`; so is a certificate status rewritten without its audit row,
#    and a forged checkpoint.
# 3. Issue 23, with the daemon's credentials: the temporary-table hijack
#    of the definer functions is refused (no TEMP; and with TEMP given by
#    mistake, the pinned search_path ignores the temporary table, and
#    verify and status name the grant); un-revocation and other status
#    transitions the CA never makes are refused by a trigger; a forged
#    db_role or actor is refused; the seal takes no bounds (the largest
#    bigint breaks nothing), nor do huge numbers in rows. Verify and
#    status name a disabled audit trigger, an unpinned definer function
#    and a grant by hand. As a superuser: a chain recomputed with the
#    checkpoints after the change deleted, and a tail cut with its
#    checkpoints deleted, are found by the checkpoint id gaps and by the
#    anchor file (and the daemon's log) outside the database; so is a
#    last checkpoint older than audit_checkpoint_max_age, and audit rows
#    with no signed checkpoint at all.
#
# usage: tests/e2e/audit.sh [--bin DIR]
# Prints one line per check and a closing "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
e2e_setup audit 18690 --port-var CMPCA_AUDIT_TEST_PORT --scan-to 18699 --keep -- "$@"
export CMPCA_WORKERS=2 CMPCA_HOUSEKEEPING=1
e2e_stack_up

# as ROLE SQL: runs SQL as a component's role; prints PostgreSQL's answer.
as() {
	local ci
	case $1 in
	daemon) ci=$CMPCA_DB_DAEMON ;;
	operator) ci=$CMPCA_DB_OPERATOR ;;
	reader) ci=$CMPCA_DB_READER ;;
	su) ci=$CMPCA_DB ;;
	esac
	psql -XqtA "$ci" -c "$2" 2>&1
}
# refused ROLE SQL: PostgreSQL refuses SQL for ROLE (permission denied or
# must be owner), and says so.
refused() {
	local out
	out=$(as "$1" "$2")
	case $out in
	*"permission denied"* | *"must be owner"*) return 0 ;;
	esac
	echo "not refused: $out" >&2
	return 1
}
# refused_with ROLE TEXT SQL: SQL as ROLE fails with TEXT in the answer.
refused_with() {
	local out
	out=$(as "$1" "$3")
	case $out in
	*"$2"*) return 0 ;;
	esac
	echo "not refused with \"$2\": $out" >&2
	return 1
}
anchor=$CMPCA_VAR/audit/anchor.log
verify_anchor() { cli audit verify --anchor "$1" >"$work/verify.out" 2>&1; }
# verify_anchor_names FILE TEXT: verify --anchor FILE fails, naming TEXT.
verify_anchor_names() {
	if verify_anchor "$1"; then
		echo "verify --anchor passed" >&2
		return 1
	fi
	grep -qF -- "$2" "$work/verify.out" || { cat "$work/verify.out" >&2; return 1; }
}
# status_names TEXT: cmpca status fails (exit 3) and names TEXT.
status_names() {
	local rc
	cli status >"$work/status.out" 2>&1
	rc=$?
	[ $rc = 3 ] && grep -qF -- "$1" "$work/status.out" && return 0
	echo "status exit $rc" >&2
	cat "$work/status.out" >&2
	return 1
}
# verify: cmpca audit verify; when it fails where a check expected it to
# pass, its report goes to the suite's output (fd 3) so a failure in CI
# says what verify found.
exec 3>&1
verify_quiet() { cli audit verify >"$work/verify.out" 2>&1; }
verify() {
	verify_quiet && return 0
	sed 's/^/     verify: /' "$work/verify.out" | head -20 >&3
	return 1
}
# verify_names TEXT: verify fails and its report contains TEXT.
verify_names() {
	if verify_quiet; then
		echo "verify passed" >&2
		return 1
	fi
	grep -qF -- "$1" "$work/verify.out" || { cat "$work/verify.out" >&2; return 1; }
}
# seal: links every final audit row now and signs the head.
seal() { cli audit checkpoint >/dev/null 2>&1; }
# hold / release: keep the housekeeper (every second here) from linking
# and signing while the chain is tampered with, by holding the advisory
# lock that cmpca_audit_seal takes (015_roles_audit_chain.sql). Without it
# the housekeeper may sign a checkpoint over a forged chain or between a
# forgery and the check that names it (issue 31). The lock is held by a
# session of its own, ended with pg_terminate_backend on release.
hold_app=cmpca-test-hold
hold() {
	PGAPPNAME=$hold_app psql -XqtA "$CMPCA_DB" \
	    -c "SELECT pg_advisory_lock(1635083380, 1)" \
	    -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	hold_pid=$!
	for _ in $(seq 100); do
		[ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = '$hold_app' AND l.locktype = 'advisory' AND l.classid = 1635083380 AND l.objid = 1 AND l.granted")" = 1 ] && return 0
		sleep 0.1
	done
	echo "hold: advisory lock not granted in 10 s" >&2
	return 1
}
release() {
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$hold_app'" >/dev/null
	wait "$hold_pid" 2>/dev/null
	return 0
}
# superuser SQL with triggers off (as someone with the database's
# superuser behind the CA's back would).
behind() { psql -XqtA "$CMPCA_DB" -c "SET session_replication_role = replica; $1"; }

cmp_ir() {
	openssl ecparam -genkey -name prime256v1 -noout -out "$work/$1.key" 2>/dev/null
	openssl cmp -cmd ir -server "$CMPCA_URL" -ref "$CMPCA_SECRET_REF" \
	    -secret "pass:$CMPCA_SECRET" -recipient "$CMPCA_CA_SUBJECT" \
	    -newkey "$work/$1.key" -subject "$2" \
	    -certout "$work/$1.pem" >"$work/$1.out" 2>&1
}

# 1. Roles.
check "stack: cmpcad connects as cmpca_daemon" bash -c \
    "grep -q '^db = \".*user=cmpca_daemon' '$CMPCA_CONF'"
check "stack: every component has its role (cmpca db roles)" test \
    "$(cli db roles 2>/dev/null | cut -f2,3 | tr '\t\n' ':;')" = \
    'cmpca_daemon:ok;cmpca_reader:ok;cmpca_operator:ok;cmpca_owner:ok (owner);'
check "stack: the tables belong to cmpca_owner" test \
    "$(q "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'")" = cmpca_owner
check "ir as cmpca_daemon" cmp_ir ee1 "/CN=audit-ee1"
s1=$(serial_of "$work/ee1.pem")
cid=$(q "SELECT id FROM cert WHERE serial = '$s1'")
check "daemon: DELETE FROM audit refused by PostgreSQL" \
    refused daemon "DELETE FROM audit"
check "daemon: UPDATE audit refused by PostgreSQL" \
    refused daemon "UPDATE audit SET detail = 'x'"
check "daemon: TRUNCATE audit refused by PostgreSQL" \
    refused daemon "TRUNCATE audit"
check "daemon: ALTER TABLE audit DISABLE TRIGGER refused by PostgreSQL" \
    refused daemon "ALTER TABLE audit DISABLE TRIGGER audit_no_change"
check "daemon: ALTER TABLE cert DISABLE TRIGGER refused by PostgreSQL" \
    refused daemon "ALTER TABLE cert DISABLE TRIGGER cert_status_update"
check "daemon: UPDATE cert SET issuer refused by PostgreSQL" \
    refused daemon "UPDATE cert SET issuer = 'CN=evil' WHERE id = $cid"
check "daemon: UPDATE cert SET serial refused by PostgreSQL" \
    refused daemon "UPDATE cert SET serial = 'abc' WHERE id = $cid"
check "daemon: UPDATE cert SET der refused by PostgreSQL" \
    refused daemon "UPDATE cert SET der = '\\x00' WHERE id = $cid"
check "daemon: UPDATE cert SET ca_id refused by PostgreSQL" \
    refused daemon "UPDATE cert SET ca_id = ca_id WHERE id = $cid"
check "daemon: DELETE FROM cert refused by PostgreSQL" \
    refused daemon "DELETE FROM cert WHERE id = $cid"
check "daemon: no DDL (CREATE TABLE refused by PostgreSQL)" \
    refused daemon "CREATE TABLE evil (x int)"
check "daemon: DELETE FROM audit_seal refused by PostgreSQL" \
    refused daemon "DELETE FROM audit_seal"
check "daemon: cmpca_audit_seal's tables not writable directly" \
    refused daemon "INSERT INTO audit_seal VALUES (999999, 1, '\\x00', '\\x00')"
check "operator: DELETE FROM audit refused by PostgreSQL" \
    refused operator "DELETE FROM audit"
check "operator: UPDATE cert SET der refused by PostgreSQL" \
    refused operator "UPDATE cert SET der = '\\x00' WHERE id = $cid"
check "operator: ALTER TABLE audit DISABLE TRIGGER refused by PostgreSQL" \
    refused operator "ALTER TABLE audit DISABLE TRIGGER audit_no_change"
check "reader: INSERT INTO audit refused by PostgreSQL" \
    refused reader "INSERT INTO audit (event) VALUES ('x')"
check "reader: enrollment secrets unreadable" \
    refused reader "SELECT secret_enc FROM enroll_secret"
check "reader: operators' page and /metrics still answer" bash -c \
    "curl -sf '$CMPCA_METRICS_URL' | grep -qx 'cmpca_db_up 1' &&
     curl -sf -u '$CMPCA_ADMIN_USER:$(cat "$CMPCA_ADMIN_PASSWORD_FILE")' \
       '$CMPCA_ADMIN_URL' >/dev/null"
check "reader: the page and /metrics read as cmpca_reader" test \
    "$(q "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'cmpca_reader' AND datname = 'cmpca'")" = t
check "daemon: workers connect as cmpca_daemon, nothing as postgres but us" test \
    "$(q "SELECT string_agg(DISTINCT usename, ',' ORDER BY usename) FROM pg_stat_activity WHERE datname = 'cmpca' AND pid <> pg_backend_pid()")" = \
    "cmpca_daemon,cmpca_reader"
q "GRANT DELETE ON audit TO cmpca_daemon" >/dev/null
check "a grant by hand: verify names it" verify_names \
    "role cmpca_daemon holds DELETE on relation audit, which cmpca_grants() does not give"
check "a grant by hand: status fails and names it" status_names \
    "role cmpca_daemon holds DELETE on relation audit"
check "db migrate again (as cmpca_owner): applies the grants" cli db migrate
check "db migrate takes back a grant added by hand" test \
    "$(q "SELECT has_table_privilege('cmpca_daemon', 'audit', 'DELETE')")" = f

# cmpcad refuses a superuser and the owner (-t and start).
sed "s|^db = .*|db = \"$CMPCA_DB\"|" "$CMPCA_CONF" >"$work/su.conf"
sed "s|^db = .*|db = \"$CMPCA_DB_OWNER\"|" "$CMPCA_CONF" >"$work/owner.conf"
chmod 644 "$work/su.conf" "$work/owner.conf"
# Run as the stack's user (as root, cmpcad switches to `user` itself).
runas() { "$@"; }
runas env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    "$CMPCA_RUN_BIN/cmpcad" -t -c "$work/su.conf" >"$work/t-su.out" 2>&1
rc=$?
check "cmpcad -t refuses a superuser, with the reason" bash -c \
    "[ $rc -ne 0 ] && grep -q 'database role postgres is a superuser: cmpcad refuses' '$work/t-su.out'"
runas env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    "$CMPCA_RUN_BIN/cmpcad" -t -c "$work/owner.conf" >"$work/t-own.out" 2>&1
rc=$?
check "cmpcad -t refuses the tables' owner, with the reason" bash -c \
    "[ $rc -ne 0 ] && grep -q 'database role cmpca_owner owns .* cmpcad refuses to run as their owner' '$work/t-own.out'"
sed -i "s|^socket = .*|socket = $work/x.sock|" "$work/su.conf"
runas env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    timeout 20 "$CMPCA_RUN_BIN/cmpcad" -c "$work/su.conf" >"$work/start-su.out" 2>&1
rc=$?
check "cmpcad start refuses a superuser (exits, no workers)" bash -c \
    "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'is a superuser' '$work/start-su.out' &&
     ! grep -q 'worker ready' '$work/start-su.out'"
runas env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMPCA_HSM_LOCK="$CMPCA_HSM_LOCK" \
    "$CMPCA_RUN_BIN/cmpcad" -t -c "$CMPCA_CONF" >"$work/t-ok.out" 2>&1
check "cmpcad -t accepts cmpca_daemon" grep -q 'configuration ok' "$work/t-ok.out"

# 2. The chain.
check "ir 2" cmp_ir ee2 "/CN=audit-ee2"
s2=$(serial_of "$work/ee2.pem")
check "operator revokes ee2" cli cert revoke "$s2" --reason 1
check "status rows for issue and revocation" test \
    "$(q "SELECT string_agg(event || ' ' || split_part(detail, ' ', 3), ',' ORDER BY id) FROM audit WHERE event IN ('issue', 'confirm', 'cert-status') AND split_part(detail, ' ', 2) = '$s2'")" = \
    "issue unconfirmed,confirm valid,cert-status revoked"
check "checkpoint signed" seal
check "the housekeeper links rows by itself" bash -c \
    "for i in \$(seq 50); do [ \"\$(psql -XqtA '$CMPCA_DB' -c \"SELECT count(*) FROM audit a WHERE NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.audit_id = a.id)\")\" = 0 ] && exit 0; sleep 0.2; done; exit 1"
check "checkpoints exist, signed by the audit key" test \
    "$(q "SELECT count(*) FROM audit_checkpoint")" -ge 1
check "a clean log verifies" verify
check "verify reports ok" grep -qx 'audit verify: ok' "$work/verify.out"
# Rows at the edges of the row hash's encoding (NULL and empty text, no
# time, newlines, multi-byte UTF-8, a field that looks like a length) are
# hashed alike by PostgreSQL and by the verifier.
# (Written behind the triggers: audit_stamp would set db_role.) Times
# out of bigint's range in microseconds, and a cert-status row whose
# detail holds a huge number, do not break the seal or verify (issue 23).
behind "INSERT INTO audit (event, ca_id, actor, detail, db_role) VALUES
   ('edge', NULL, '', E'line 1\nline 2 \u00fc \u2013 \U0001F642', NULL),
   ('edge', 1, NULL, '3:abc', ''), ('edge', NULL, E'\n', '-', '-')" >/dev/null
behind "INSERT INTO audit (at, event) VALUES (NULL, 'edge')" >/dev/null
behind "INSERT INTO audit (at, event, detail) VALUES ('infinity', 'edge', 'infinity'),
   ('200000-01-01', 'edge', 'year 200000'),
   (now(), 'cert-status', '99999999999999999999999 1 valid - -')" >/dev/null
check "edge rows written" test "$(q "SELECT count(*) FROM audit WHERE event = 'edge' AND (detail LIKE '%line 2 ü%' OR at IS NULL OR actor = E'\n' OR db_role = '' OR at = 'infinity' OR at > '100000-01-01')")" = 6
check "edge rows linked" seal
check "edge rows: the log still verifies" verify
cli audit verify --since 0s >"$work/since.out" 2>&1
check "verify --since: from the last signed checkpoint, not seq 1" bash -c \
    "grep -qx 'audit verify: ok' '$work/since.out' &&
     grep -qE 'links checked \(seq ([2-9]|[1-9][0-9]+) to' '$work/since.out'"

# 3. Issue 23 with the daemon's credentials. The temporary-table hijack:
# no TEMP for the daemon; the old one-argument seal is gone; the fence is
# the seal's alone; no snapshot older than the fence.
check "daemon: CREATE TEMP TABLE refused (no TEMP on the database)" \
    refused_with daemon "permission denied to create temporary tables" \
    "CREATE TEMP TABLE audit_seal (x int)"
check "daemon: cmpca_audit_seal(largest bigint): no such function" \
    refused_with daemon "function cmpca_audit_seal(bigint) does not exist" \
    "SELECT cmpca_audit_seal(9223372036854775807)"
check "daemon: cmpca_audit_fence is not callable" \
    refused daemon "SELECT cmpca_audit_fence()"
check "daemon: the seal refused in a REPEATABLE READ snapshot" \
    refused_with daemon "only at isolation level read committed" \
    "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT cmpca_audit_seal(); COMMIT"
check "daemon: checkpoints not insertable directly" refused daemon \
    "INSERT INTO audit_checkpoint (seq, chain_hash, key_id, at, sig) SELECT seq, chain_hash, key_id, at, sig FROM audit_checkpoint LIMIT 1"
# TEMP given by mistake: verify and status name it, and the hijack still
# fails: the definer functions' search_path puts pg_temp last.
q "GRANT TEMP ON DATABASE cmpca TO cmpca_daemon" >/dev/null
check "TEMP given by hand: verify names it" verify_names \
    "role cmpca_daemon may create temporary objects in database cmpca (TEMP)"
check "TEMP given by hand: status fails and names it" status_names \
    "role cmpca_daemon may create temporary objects"
psql -XqtA -v ON_ERROR_STOP=1 "$CMPCA_DB_DAEMON" >"$work/hijack.out" 2>&1 <<'SQL'
CREATE TEMP TABLE audit_seal (seq bigint, audit_id bigint, row_hash bytea,
    chain_hash bytea, sealed_at timestamptz DEFAULT now());
CREATE FUNCTION pg_temp.evil() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'GRANT DELETE ON audit TO cmpca_daemon';
	EXECUTE 'ALTER TABLE audit DISABLE TRIGGER audit_no_change';
	RETURN NEW;
END $$;
CREATE TRIGGER evil BEFORE INSERT ON audit_seal FOR EACH ROW
    EXECUTE FUNCTION pg_temp.evil();
INSERT INTO audit (event, detail) VALUES ('test-hijack', 'for the seal');
SELECT 'seq ' || r_seq FROM cmpca_audit_seal();
SELECT 'temp rows ' || count(*) FROM pg_temp.audit_seal;
SQL
rc=$?
check "hijack with TEMP: the seal ran, on the real audit_seal" bash -c \
    "[ $rc = 0 ] && grep -qE '^seq [0-9]+$' '$work/hijack.out' && grep -qx 'temp rows 0' '$work/hijack.out'"
check "hijack with TEMP: its trigger never ran as the owner" test \
    "$(q "SELECT has_table_privilege('cmpca_daemon', 'audit', 'DELETE')::text || (SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'audit_no_change')")" = falseO
check "hijack with TEMP: the row it sealed is in the chain" test \
    "$(q "SELECT count(*) FROM audit_seal s JOIN audit a ON a.id = s.audit_id WHERE a.event = 'test-hijack'")" = 1
check "db migrate takes TEMP back" cli db migrate
check "TEMP taken back from the daemon and PUBLIC" test \
    "$(q "SELECT has_database_privilege('cmpca_daemon', 'cmpca', 'TEMP')::text || has_database_privilege('public', 'cmpca', 'TEMP')::text")" = falsefalse
# A definer function unpinned, an audit trigger disabled or replica-only.
q "ALTER FUNCTION cmpca_audit_seal() RESET search_path" >/dev/null
check "unpinned definer function: verify names it" verify_names \
    "SECURITY DEFINER function cmpca_audit_seal() has no pinned search_path"
check "unpinned definer function: status fails and names it" status_names \
    "function cmpca_audit_seal() has no pinned search_path"
check "db migrate pins it again" cli db migrate
q "ALTER TABLE audit DISABLE TRIGGER audit_stamp" >/dev/null
check "disabled audit trigger: verify names it" verify_names \
    "trigger audit_stamp on audit is disabled"
check "disabled audit trigger: status fails and names it" status_names \
    "trigger audit_stamp on audit is disabled"
q "ALTER TABLE audit ENABLE TRIGGER audit_stamp" >/dev/null
q "ALTER TABLE cert ENABLE REPLICA TRIGGER cert_status_transition" >/dev/null
check "replica-only state machine trigger: verify names it" verify_names \
    "trigger cert_status_transition on cert is enabled only for session_replication_role = replica"
q "ALTER TABLE cert ENABLE TRIGGER cert_status_transition" >/dev/null
check "safeguards back: verifies" verify
# Forged attribution: db_role, id and time are not the inserter's; actor
# may not name another role; cert-status rows come from the cert trigger.
check "daemon: an audit row claiming db_role refused" refused daemon \
    "INSERT INTO audit (event, actor, db_role) VALUES ('revoke', 'cli', 'cmpca_operator')"
check "daemon: an audit row claiming another role as actor refused" \
    refused_with daemon "actor cmpca_operator is another database role than cmpca_daemon" \
    "INSERT INTO audit (event, actor) VALUES ('revoke', 'cmpca_operator')"
check "daemon: a forged cert-status row refused" \
    refused_with daemon "cert-status audit rows are written by the cert trigger only" \
    "INSERT INTO audit (event, ca_id, actor, detail) VALUES ('cert-status', 1, 'cmpca_daemon', '$cid $s1 valid - -')"
check "daemon: a forged issue row refused" \
    refused_with daemon "issue audit rows are written by the cert trigger only" \
    "INSERT INTO audit (event, ca_id, actor, detail) VALUES ('issue', 1, 'secret:demo', '$cid $s1 valid - -')"
check "daemon: a forged confirm row refused" \
    refused_with daemon "confirm audit rows are written by the cert trigger only" \
    "INSERT INTO audit (event, ca_id, actor, detail) VALUES ('confirm', 1, 'secret:demo', '$cid $s1 valid - -')"
check "daemon: an audit row with the largest bigint id refused" refused daemon \
    "INSERT INTO audit (id, event) VALUES (9223372036854775807, 'x')"
check "daemon: an audit row with its own time refused" refused daemon \
    "INSERT INTO audit (at, event) VALUES ('infinity', 'x')"
check "daemon: its rows carry db_role cmpca_daemon" test \
    "$(as daemon "INSERT INTO audit (event, actor) VALUES ('test-attr', 'someone') RETURNING db_role")" = cmpca_daemon
check "operator: its rows carry db_role cmpca_operator" test \
    "$(as operator "INSERT INTO audit (event, actor) VALUES ('test-attr', 'someone') RETURNING db_role")" = cmpca_operator
# Un-revocation and other transitions the CA never makes: refused for
# every role, the superuser's statements included.
unrevoke="UPDATE cert SET status = 'valid', reason = NULL, revoked_at = NULL WHERE serial = '$s2'"
check "daemon: un-revocation (keyCompromise -> valid) refused by the trigger" \
    refused_with daemon "(reason 1) to valid (reason -) is not a transition the CA makes" "$unrevoke"
check "operator: un-revocation refused by the trigger" \
    refused_with operator "is not a transition the CA makes" "$unrevoke"
check "superuser (triggers on): un-revocation refused by the trigger" \
    refused_with su "is not a transition the CA makes" "$unrevoke"
check "daemon: changing a revocation's reason refused" \
    refused_with daemon "is not a transition the CA makes" \
    "UPDATE cert SET reason = 0 WHERE serial = '$s2'"
check "daemon: back to unconfirmed refused" \
    refused_with daemon "is not a transition the CA makes" \
    "UPDATE cert SET status = 'unconfirmed' WHERE serial = '$s1'"
check "ee2 still revoked for keyCompromise" test \
    "$(q "SELECT status || ' ' || reason FROM cert WHERE serial = '$s2'")" = "revoked 1"
check "after the attacks: the log verifies" verify
# The anchor file: every checkpoint the daemon signs, also in its log.
check "anchor file: checkpoints appended by cmpcad" bash -c \
    "[ \"\$(grep -c '^cmpca-audit-anchor-1 ' '$anchor')\" -ge 1 ] && [ \"\$(stat -c %a '$anchor')\" = 640 ]"
check "daemon log: the anchor lines it wrote to the file" bash -c \
    "grep -o 'cmpca-audit-anchor-1 .*' '$CMPCA_VAR/cmpcad.log' | tail -n1 | xargs -I{} grep -qxF -- '{}' '$anchor'"
check "verify --anchor FILE: ok" verify_anchor "$anchor"
check "verify --anchor FILE: every anchor read" bash -c \
    "grep -qE ' [1-9][0-9]* anchors' '$work/verify.out' && grep -qx 'audit verify: ok' '$work/verify.out'"
check "verify --anchor the daemon's log: ok" verify_anchor "$CMPCA_VAR/cmpcad.log"
# An idle head: not signed again by default; signed again (same seq) once
# half of audit_checkpoint_max_age has passed (here 1 s: at once), and
# appended to the anchor file by the CLI too.
sed "s|^audit_checkpoint_max_age = .*|audit_checkpoint_max_age = 1|" "$CMPCA_CONF" >"$work/age.conf"
chmod 644 "$work/age.conf"
# The stack's CLI command line with that configuration.
age_cli() { eval "${CMPCA_CLI% -c *} -c $work/age.conf" '"$@"'; }
seal
ck0=$(q "SELECT max(id) || ' ' || max(seq) FROM audit_checkpoint")
seal
check "idle head: not signed again (audit_checkpoint_max_age not near)" test \
    "$(q "SELECT max(id) || ' ' || max(seq) FROM audit_checkpoint")" = "$ck0"
age_cli audit checkpoint >"$work/hb.out" 2>&1
check "idle head: signed again past half of audit_checkpoint_max_age" test \
    "$(q "SELECT max(id) || ' ' || max(seq) FROM audit_checkpoint")" = "$((${ck0% *} + 1)) ${ck0#* }"
check "the CLI's checkpoint is in the anchor file too" \
    grep -q "^cmpca-audit-anchor-1 $((${ck0% *} + 1)) ${ck0#* } " "$anchor"
printf 'cmpca-audit-anchor-1 1 2 zz 3 4 ab\n' >"$work/bad-anchor"
check "verify --anchor: a malformed line refused" \
    verify_anchor_names "$work/bad-anchor" "line 1: not an anchor line"

# The fence waits for open audit writers without holding anyone up: a
# transaction keeps an audit row open for 4 s; while a checkpoint waits
# for it, an enrollment goes through at once.
psql -XqtA "$CMPCA_DB" -c "BEGIN" -c "INSERT INTO audit (event) VALUES ('slow')" \
    -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null 2>&1 &
slow=$!
sleep 0.5
cli audit checkpoint >/dev/null 2>&1 &
ckpt=$!
sleep 0.5
t0=$(date +%s%N)
cmp_ir fence "/CN=audit-fence"
rc=$?
t1=$(date +%s%N)
check "an ir while the fence waits: accepted within 2 s" \
    test "$rc" = 0 -a $(((t1 - t0) / 1000000)) -lt 2000
check "the checkpoint waited for the open writer" kill -0 "$ckpt"
wait "$slow" "$ckpt"
check "after the writer committed: its row is linked" test \
    "$(q "SELECT count(*) FROM audit_seal s JOIN audit a ON a.id = s.audit_id WHERE a.event = 'slow'")" = 1

# Each tampering below is undone after verify has named it, so that the
# next one starts from a chain that verifies. The housekeeper is held off
# from here on, released only where the suite checks what it does.
check "housekeeper held off (its seal lock taken)" hold
behind "CREATE TABLE IF NOT EXISTS audit_bak AS SELECT * FROM audit WHERE false" >/dev/null
save() { behind "DELETE FROM audit_bak; INSERT INTO audit_bak SELECT * FROM audit WHERE id = $1" >/dev/null; }
restore() { behind "DELETE FROM audit WHERE id = $1; INSERT INTO audit SELECT * FROM audit_bak WHERE id = $1" >/dev/null; }

# A row changed behind the CA's back.
victim=$(q "SELECT audit_id FROM audit_seal ORDER BY seq LIMIT 1 OFFSET 2")
save "$victim"
behind "UPDATE audit SET detail = 'forged' WHERE id = $victim" >/dev/null
check "changed row: verify names audit row $victim" \
    verify_names "audit row $victim (seq 3) does not match its hash: changed"
restore "$victim"
check "changed row put back: verifies" verify

# A row deleted behind the CA's back.
behind "DELETE FROM audit WHERE id = $victim" >/dev/null
check "deleted row: verify names audit row $victim" \
    verify_names "audit row $victim (seq 3) is missing: deleted"
restore "$victim"
check "deleted row put back: verifies" verify

# A row inserted behind the CA's back, below linked rows (an id the
# sequence gave out and nobody used, as a rolled-back transaction leaves).
gap=$(q "SELECT nextval('audit_id_seq')")
check "ir 3" cmp_ir ee3 "/CN=audit-ee3"
release
check "checkpoint after ir 3" seal
check "housekeeper held off again" hold
behind "INSERT INTO audit (id, at, event, actor, detail, db_role) VALUES ($gap, now() - interval '1 day', 'revoke', 'cli', 'backdated', 'cmpca_operator')" >/dev/null
check "inserted row: verify names audit row $gap" \
    verify_names "audit row $gap is not in the chain, below linked rows: inserted"
behind "DELETE FROM audit WHERE id = $gap" >/dev/null
check "inserted row removed: verifies" verify

# A certificate status rewritten without its audit row.
st=$(q "SELECT status || ',' || reason || ',' || revoked_at FROM cert WHERE serial = '$s2'")
behind "UPDATE cert SET status = 'valid', revoked_at = NULL, reason = NULL WHERE serial = '$s2'" >/dev/null
check "status rewritten: verify names certificate $s2" \
    verify_names "(serial $s2) is \"valid - -\", its audit rows say \"revoked 1 "
IFS=, read -r st_s st_r st_t <<<"$st"
behind "UPDATE cert SET status = '$st_s', reason = $st_r, revoked_at = '$st_t' WHERE serial = '$s2'" >/dev/null
check "status put back: verifies" verify
# With the triggers on, even the superuser's change is audited.
psql -XqtA "$CMPCA_DB" -c "UPDATE cert SET status = 'revoked', revoked_at = now(), reason = 0 WHERE serial = '$s1'" >/dev/null
check "status changed with triggers on: a cert-status row by postgres" test \
    "$(q "SELECT db_role || ' ' || actor FROM audit WHERE event = 'cert-status' AND split_part(detail, ' ', 2) = '$s1' ORDER BY id DESC LIMIT 1")" = "postgres postgres"
check "status changed with triggers on: verifies (it is in the chain)" verify

# Forged checkpoints: a signature that is not the audit key's, and a real
# signature moved to another chain head.
# Every id below comes from the statement that made it (RETURNING), never
# from max(id): another writer's row would be taken for the forgery.
# The forgeries take ids after the last (no gap once they are removed).
n0=$(q "SELECT id FROM audit_checkpoint ORDER BY seq DESC, id DESC LIMIT 1")
ck_top=$(q "SELECT max(id) FROM audit_checkpoint")
f1=$(behind "INSERT INTO audit_checkpoint (id, seq, chain_hash, key_id, at, sig) SELECT $((ck_top + 1)), seq, chain_hash, key_id, at, '\\x3006020101020101' FROM audit_checkpoint WHERE id = $n0 RETURNING id")
check "forged checkpoint signature: refused by verify" \
    verify_names "checkpoint $f1 (seq"
f2=$(behind "INSERT INTO audit_checkpoint (id, seq, chain_hash, key_id, at, sig) SELECT $((ck_top + 2)), 1, (SELECT chain_hash FROM audit_seal WHERE seq = 1), key_id, at, sig FROM audit_checkpoint WHERE id = $n0 RETURNING id")
check "real signature on another head: refused by verify" \
    verify_names "checkpoint $f2 (seq 1): signature does not verify"
behind "DELETE FROM audit_checkpoint WHERE id IN ($f1, $f2)" >/dev/null
check "forged checkpoints removed: verifies" verify

# The whole chain recomputed after a change (hashes consistent again): only
# the signed checkpoint after it shows the rewrite.
save "$victim"
behind "UPDATE audit SET detail = 'rewritten' WHERE id = $victim;
DO \$\$ DECLARE l record; prev bytea; rh bytea; BEGIN
SELECT chain_hash INTO prev FROM audit_seal WHERE seq = 2;
FOR l IN SELECT s.seq, a.* FROM audit_seal s JOIN audit a ON a.id = s.audit_id WHERE s.seq >= 3 ORDER BY s.seq LOOP
rh := cmpca_audit_row_hash(l.id, l.at, l.event, l.ca_id, l.actor, l.detail, l.db_role);
prev := sha256(prev || rh);
UPDATE audit_seal SET row_hash = rh, chain_hash = prev WHERE seq = l.seq;
END LOOP; END \$\$" >/dev/null
check "chain recomputed after a change: a checkpoint shows it" \
    verify_names "does not match the chain: rewritten before it"
# ... so the superuser deletes the checkpoints after the change: their
# ids, given out by the sequence, are missing.
seqval=$(q "SELECT last_value FROM audit_checkpoint_id_seq")
behind "DROP TABLE IF EXISTS ckpt_bak; CREATE TABLE ckpt_bak AS SELECT * FROM audit_checkpoint WHERE seq >= 3;
DELETE FROM audit_checkpoint WHERE seq >= 3" >/dev/null
check "recomputed, its checkpoints deleted: verify names the missing ids" \
    verify_names "were given out but are not in the database: deleted"
# ... and sets the sequence back: only the copies outside the database
# show it, the anchor file and the daemon's log.
behind "SELECT setval('audit_checkpoint_id_seq', coalesce((SELECT max(id) FROM audit_checkpoint), 1), (SELECT count(*) > 0 FROM audit_checkpoint))" >/dev/null
check "recomputed, checkpoints and their ids gone: the anchor file names the deleted ones" \
    verify_anchor_names "$anchor" "of the anchor file is not in the database: deleted"
check "recomputed, checkpoints gone: the anchor file shows the rewrite" \
    verify_anchor_names "$anchor" "(anchor file) (seq"
grep -F "(anchor file)" "$work/verify.out" >"$work/anchored.out"
check "recomputed: the anchored checkpoint does not match the chain" \
    grep -q "does not match the chain: rewritten before it" "$work/anchored.out"
check "recomputed, checkpoints gone: the daemon's log shows it too" \
    verify_anchor_names "$CMPCA_VAR/cmpcad.log" "of the anchor file is not in the database: deleted"
behind "INSERT INTO audit_checkpoint SELECT * FROM ckpt_bak; DROP TABLE ckpt_bak;
SELECT setval('audit_checkpoint_id_seq', $seqval)" >/dev/null
restore "$victim"
behind "DO \$\$ DECLARE l record; prev bytea; rh bytea; BEGIN
SELECT chain_hash INTO prev FROM audit_seal WHERE seq = 2;
FOR l IN SELECT s.seq, a.* FROM audit_seal s JOIN audit a ON a.id = s.audit_id WHERE s.seq >= 3 ORDER BY s.seq LOOP
rh := cmpca_audit_row_hash(l.id, l.at, l.event, l.ca_id, l.actor, l.detail, l.db_role);
prev := sha256(prev || rh);
UPDATE audit_seal SET row_hash = rh, chain_hash = prev WHERE seq = l.seq;
END LOOP; END \$\$" >/dev/null
check "chain put back: verifies" verify
check "chain put back: verifies against the anchor file" verify_anchor "$anchor"
# One checkpoint deleted in the middle: a gap in the ids.
mid=$(q "SELECT id FROM audit_checkpoint ORDER BY id OFFSET 1 LIMIT 1")
behind "CREATE TABLE ckpt_bak AS SELECT * FROM audit_checkpoint WHERE id = $mid; DELETE FROM audit_checkpoint WHERE id = $mid" >/dev/null
check "a checkpoint deleted: verify names the gap" \
    verify_names "checkpoint ids $mid to $mid are missing: deleted"
behind "INSERT INTO audit_checkpoint SELECT * FROM ckpt_bak; DROP TABLE ckpt_bak" >/dev/null
# The last checkpoint older than audit_checkpoint_max_age (here 1 s).
sleep 2
age_cli audit verify >"$work/age.out" 2>&1
rc=$?
check "no checkpoint for longer than audit_checkpoint_max_age: verify fails" bash -c \
    "[ $rc = 1 ] && grep -q 'the last signed checkpoint .* s old, more than audit_checkpoint_max_age (1 s)' '$work/age.out'"
age_cli status >"$work/age-st.out" 2>&1
rc=$?
check "no checkpoint for longer than audit_checkpoint_max_age: status fails" bash -c \
    "[ $rc = 3 ] && grep -qE '^audit checkpoint +FAIL +the last one' '$work/age-st.out'"
check "with the configured age: verifies" verify

# The tail cut off (rows and links), below a checkpoint.
release
# The superuser's revocation above makes a CRL within crl_delay (5 s) of
# the housekeeper being free again, and the CRL an audit row. Wait for
# it before the cut: a row that arrived during the cut would be linked
# after it and hide it (the head would catch up with the checkpoint).
crl_settled() {
	for _ in $(seq 150); do
		[ "$(q "SELECT count(*) FROM crl_due WHERE ca_id = (SELECT id FROM ca WHERE label = 'demo')")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
check "the CRL after that revocation is issued (nothing due for demo)" crl_settled
check "checkpoint before the cut" seal
check "housekeeper held off for the cut" hold
# The head as linked; a checkpoint the housekeeper was signing when the
# lock was taken lands within a moment (it signs what it linked).
last=$(q "SELECT max(seq) FROM audit_seal")
check "the head seq $last is signed" bash -c \
    "for i in \$(seq 50); do [ \"\$(psql -XqtA '$CMPCA_DB' -c 'SELECT max(seq) FROM audit_checkpoint')\" = $last ] && exit 0; sleep 0.1; done; exit 1"
behind "INSERT INTO audit_bak SELECT * FROM audit WHERE id = (SELECT audit_id FROM audit_seal WHERE seq = $last);
DELETE FROM audit WHERE id = (SELECT audit_id FROM audit_seal WHERE seq = $last);
DELETE FROM audit_seal WHERE seq = $last" >/dev/null
check "cut tail: a checkpoint names seq $last past the end" \
    verify_names "names seq $last, the chain ends at seq $((last - 1)): links removed"

release
check "cut tail: the housekeeper refuses to sign the shorter chain" bash -c \
    "for i in \$(seq 30); do grep -q 'audit chain head seq $((last - 1)) is behind checkpoint seq $last: links removed, not signed' '$CMPCA_LOG' && exit 0; sleep 0.2; done; exit 1"
check "cut tail: no checkpoint signed for it" test \
    "$(q "SELECT max(seq) FROM audit_checkpoint")" = "$last"
# ... so the superuser deletes the checkpoints naming the cut and sets
# their ids back: the anchor file still has them.
check "housekeeper held off again for the cut" hold
behind "DELETE FROM audit_checkpoint WHERE seq >= $last;
SELECT setval('audit_checkpoint_id_seq', (SELECT max(id) FROM audit_checkpoint))" >/dev/null
check "cut tail, its checkpoints deleted: the anchor file names them" \
    verify_anchor_names "$anchor" "of the anchor file is not in the database: deleted"
check "cut tail, its checkpoints deleted: an anchored one names seq $last past the end" \
    verify_anchor_names "$anchor" "(anchor file) names seq $last, the chain ends at seq $((last - 1)): links removed"
# The housekeeper may now sign the shorter chain (under a deleted id):
# the anchor file still shows the cut.
release
sleep 3
check "cut tail, the housekeeper let go: the anchor file still shows it" \
    verify_anchor_names "$anchor" "anchor file"

# A status transition made with the state machine's trigger off (a
# superuser could) is in the history: verify names it.
q "ALTER TABLE cert DISABLE TRIGGER cert_status_transition; $unrevoke; ALTER TABLE cert ENABLE TRIGGER cert_status_transition" >/dev/null
check "un-revocation with the trigger off: done (a superuser could)" test \
    "$(q "SELECT status FROM cert WHERE serial = '$s2'")" = valid
check "un-revocation with the trigger off: verify names the transition" \
    verify_names "(serial $s2) went from \"revoked 1\" to \"valid -\", a transition the CA never makes"
# Audit rows but no signed checkpoint (issue 32): verify says what to run.
check "housekeeper held off (no checkpoints)" hold
behind "DELETE FROM audit_checkpoint" >/dev/null
check "no signed checkpoint at all: verify says to run cmpca audit key" \
    verify_names "no signed checkpoint: the audit rows are linked but signed by no audit key (run cmpca audit key"
release

check "cmpcad still running" kill -0 "$CMPCA_CMPCAD_PID"
check "no sanitizer reports in the daemon log" bash -c \
    "! grep -E 'Sanitizer|runtime error' '$CMPCA_VAR/cmpcad.log'"
e2e_done
