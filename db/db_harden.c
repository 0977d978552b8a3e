/*
 * db_harden.c - what keeps the audit trail out of the daemon's reach, read
 * back from PostgreSQL's catalogs (db/schema/016_audit_hardening.sql):
 * the audit triggers present and enabled, every SECURITY DEFINER function
 * with a pinned search_path, no role holding more than cmpca_grants()
 * gave (recorded in grant_baseline by `cmpca db migrate`), no TEMP; and
 * certificate status transitions in the history that the CA never makes.
 *
 * The queries are ours, in C: a function replaced in the database cannot
 * vouch for itself (as db_chain.c).
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

/*
 * The privileges the managed roles and PUBLIC hold in this database, one
 * (grantee, object, privilege) row each: on the schema's relations,
 * columns, functions, the schema, the database, role memberships and role
 * attributes. What `cmpca db migrate` records after cmpca_grants() and
 * what the check compares with.
 */
#define DB_PRIVS                                                               \
	"WITH g(oid, name) AS (SELECT 0::oid, 'PUBLIC' UNION ALL"              \
	"  SELECT oid, rolname::text FROM pg_catalog.pg_roles WHERE rolname"   \
	"  IN ('cmpca_daemon', 'cmpca_operator', 'cmpca_reader')),"            \
	" n AS (SELECT pg_catalog.current_schema()::regnamespace AS ns),"      \
	" o(grantee, object, privilege) AS ("                                  \
	"  SELECT a.grantee, 'relation ' || c.relname, a.privilege_type"       \
	"  FROM pg_catalog.pg_class c, n,"                                     \
	"  pg_catalog.aclexplode(c.relacl) a WHERE c.relnamespace = n.ns"      \
	"  UNION ALL SELECT a.grantee, 'column ' || c.relname || '.' ||"       \
	"  t.attname, a.privilege_type FROM pg_catalog.pg_class c"             \
	"  JOIN pg_catalog.pg_attribute t ON t.attrelid = c.oid, n,"           \
	"  pg_catalog.aclexplode(t.attacl) a WHERE c.relnamespace = n.ns"      \
	"  UNION ALL SELECT a.grantee, 'function ' || p.proname || '(' ||"     \
	"  pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',"       \
	"  a.privilege_type FROM pg_catalog.pg_proc p, n,"                     \
	"  pg_catalog.aclexplode(coalesce(p.proacl,"                           \
	"  pg_catalog.acldefault('f', p.proowner))) a"                         \
	"  WHERE p.pronamespace = n.ns"                                        \
	"  UNION ALL SELECT a.grantee, 'schema ' || s.nspname,"                \
	"  a.privilege_type FROM pg_catalog.pg_namespace s, n,"                \
	"  pg_catalog.aclexplode(coalesce(s.nspacl,"                           \
	"  pg_catalog.acldefault('n', s.nspowner))) a WHERE s.oid = n.ns"      \
	"  UNION ALL SELECT a.grantee, 'database', a.privilege_type"           \
	"  FROM pg_catalog.pg_database d, pg_catalog.aclexplode(coalesce("     \
	"  d.datacl, pg_catalog.acldefault('d', d.datdba))) a"                 \
	"  WHERE d.datname = pg_catalog.current_database()"                    \
	"  UNION ALL SELECT m.member, 'role ' || r.rolname, 'MEMBER'"          \
	"  FROM pg_catalog.pg_auth_members m"                                  \
	"  JOIN pg_catalog.pg_roles r ON r.oid = m.roleid"                     \
	"  UNION ALL SELECT r.oid, 'role attribute', x.a"                      \
	"  FROM pg_catalog.pg_roles r, LATERAL (VALUES"                        \
	"  (CASE WHEN r.rolsuper THEN 'SUPERUSER' END),"                       \
	"  (CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END),"                 \
	"  (CASE WHEN r.rolcreatedb THEN 'CREATEDB' END),"                     \
	"  (CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END)) x(a)"              \
	"  WHERE x.a IS NOT NULL)"                                             \
	" SELECT DISTINCT g.name, o.object, o.privilege FROM o"                \
	" JOIN g ON g.oid = o.grantee"

static const struct db_stmt st_has_baseline = {DB_ST_HAS_BASELINE,
    "grant_baseline_exists",
    "SELECT (to_regclass('grant_baseline') IS NOT NULL)::int::bigint"};
static const struct db_stmt st_baseline_clear = {DB_ST_BASELINE_CLEAR,
    "grant_baseline_clear", "DELETE FROM grant_baseline"};
/* Memberships and role attributes are never in it: cmpca_grants() gives
 * none, so any is reported (one given before a migrate too). */
static const struct db_stmt st_baseline_record = {DB_ST_BASELINE_RECORD,
    "grant_baseline_record",
    "INSERT INTO grant_baseline (grantee, object, privilege)"
    " SELECT * FROM (" DB_PRIVS ") p WHERE p.object NOT LIKE 'role %'"};

/* Every problem the check finds, one sentence per row. */
static const struct db_stmt st_check = {DB_ST_SCHEMA_CHECK, "schema_check",
    "WITH e(t, n) AS (VALUES ('audit', 'audit_no_change'),"
    " ('audit', 'audit_no_truncate'), ('audit', 'audit_stamp'),"
    " ('audit_seal', 'audit_seal_no_change'),"
    " ('audit_seal', 'audit_seal_no_truncate'),"
    " ('audit_key', 'audit_key_no_change'),"
    " ('audit_key', 'audit_key_no_truncate'),"
    " ('audit_checkpoint', 'audit_checkpoint_no_change'),"
    " ('audit_checkpoint', 'audit_checkpoint_no_truncate'),"
    " ('cert', 'cert_status_insert'), ('cert', 'cert_status_update'),"
    " ('cert', 'cert_status_transition')),"
    " tg AS (SELECT c.relname::text AS t, g.tgname::text AS n, g.tgenabled"
    "  FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c"
    "  ON c.oid = g.tgrelid WHERE NOT g.tgisinternal"
    "  AND c.relnamespace = pg_catalog.current_schema()::regnamespace),"
    " sp AS (SELECT p.oid, (SELECT array_agg(btrim(x, ' \"') ORDER BY i)"
    "  FROM unnest(string_to_array(substr(c, 13), ',')) WITH ORDINALITY"
    "  u(x, i)) AS path FROM pg_catalog.pg_proc p, unnest(p.proconfig) c"
    "  WHERE c LIKE 'search_path=%'),"
    " privs AS (" DB_PRIVS ")"
    " SELECT k, left(m, 250) FROM (SELECT 1, format('trigger %s on %s is %s', e.n, e.t,"
    "  CASE WHEN tg.tgenabled IS NULL THEN 'missing: dropped'"
    "  WHEN tg.tgenabled = 'D' THEN 'disabled'"
    "  ELSE 'enabled only for session_replication_role = replica' END)"
    "  FROM e LEFT JOIN tg USING (t, n)"
    "  WHERE tg.tgenabled IS NULL OR tg.tgenabled NOT IN ('O', 'A')"
    " UNION ALL SELECT 2, format('trigger %s on %s is disabled', tg.n, tg.t)"
    "  FROM tg WHERE tg.tgenabled IN ('D', 'R')"
    "  AND (tg.t, tg.n) NOT IN (SELECT t, n FROM e)"
    " UNION ALL SELECT 3, format('SECURITY DEFINER function %s has no"
    " pinned search_path (pg_catalog, %s, pg_temp): run cmpca db migrate',"
    "  p.oid::regprocedure, pg_catalog.current_schema())"
    "  FROM pg_catalog.pg_proc p"
    "  WHERE p.pronamespace = pg_catalog.current_schema()::regnamespace"
    "  AND p.prosecdef AND NOT EXISTS (SELECT 1 FROM sp WHERE sp.oid = p.oid"
    "  AND sp.path[1] = 'pg_catalog'"
    "  AND sp.path[array_length(sp.path, 1)] = 'pg_temp'"
    "  AND sp.path <@ ARRAY['pg_catalog', pg_catalog.current_schema()::text,"
    "  'pg_temp'])"
    " UNION ALL SELECT 4, format('role %s may create temporary objects in"
    " database %s (TEMP): one can shadow the schema''s', r,"
    "  pg_catalog.current_database())"
    "  FROM unnest(ARRAY['public', 'cmpca_daemon', 'cmpca_operator',"
    "  'cmpca_reader']) r WHERE (r = 'public' OR EXISTS (SELECT 1"
    "  FROM pg_catalog.pg_roles WHERE rolname = r))"
    "  AND has_database_privilege(r, pg_catalog.current_database(), 'TEMP')"
    " UNION ALL SELECT 5, 'no record of what cmpca_grants() gave"
    " (grant_baseline is empty): run cmpca db migrate'"
    "  WHERE NOT EXISTS (SELECT 1 FROM grant_baseline)"
    " UNION ALL SELECT 6, format('role %s holds %s on %s, which"
    " cmpca_grants() does not give (revoke it, or run cmpca db migrate)',"
    "  p.name, p.privilege, p.object) FROM privs p"
    "  WHERE EXISTS (SELECT 1 FROM grant_baseline) AND NOT EXISTS"
    "  (SELECT 1 FROM grant_baseline b WHERE b.grantee = p.name"
    "  AND b.object = p.object AND b.privilege = p.privilege)"
    ") x(k, m) ORDER BY 1, 2 LIMIT 100"};

/*
 * The first status row (cert-status, or since migration 029 issue,
 * issue-upstream, confirm and reject; of those the history holds) that
 * moves a certificate in a way the CA never does (016's cert_status_transition,
 * written out again here), and how many there are.
 */
static const struct db_stmt st_transition = {DB_ST_AUDIT_TRANSITION,
    "audit_transition_check",
    "WITH s AS (SELECT id, split_part(detail, ' ', 1) AS cid,"
    "  split_part(detail, ' ', 2) AS serial, split_part(detail, ' ', 3) AS st,"
    "  nullif(split_part(detail, ' ', 4), '-') AS rs,"
    "  split_part(detail, ' ', 5) AS ra FROM audit"
    "  WHERE event IN ('cert-status', 'issue', 'issue-upstream',"
    "  'confirm', 'reject')"
    "  AND detail ~ '^[0-9]{1,18} '),"
    " p AS (SELECT s.*, lag(st) OVER w AS pst, lag(rs) OVER w AS prs,"
    "  lag(ra) OVER w AS pra FROM s"
    "  WINDOW w AS (PARTITION BY cid ORDER BY id)),"
    " b AS (SELECT * FROM p WHERE pst IS NOT NULL AND NOT coalesce("
    "  (pst = st AND prs IS NOT DISTINCT FROM rs AND pra = ra)"
    "  OR (pst = 'unconfirmed' AND st IN ('valid', 'rejected', 'revoked'))"
    "  OR (pst = 'valid' AND st = 'revoked')"
    "  OR (pst = 'revoked' AND prs = '6' AND ((st = 'valid' AND rs IS NULL)"
    "  OR (st = 'revoked' AND rs IS NOT NULL AND rs <> '6'))), false))"
    " SELECT id, cid::bigint, left(serial, 64),"
    "  left(pst || ' ' || coalesce(prs, '-'), 60),"
    "  left(st || ' ' || coalesce(rs, '-'), 60), count(*) OVER ()"
    " FROM b ORDER BY id LIMIT 1"};

int
db_grants_baseline(struct db *db)
{
	long long has = 0;

	if (db_get_int8(db, &st_has_baseline, NULL, &has) < 0)
		return -1;
	if (!has)
		return 0;
	if (db_run_simple(db, &st_baseline_clear, NULL) != 1 ||
	    db_run_simple(db, &st_baseline_record, NULL) != 1)
		return -1;
	return 1;
}

int
db_schema_check(struct db *db, void (*report)(void *, const char *),
    void *arg)
{
	PGresult *res = NULL;
	long long has = 0;
	int i, n, rc = -1;

	if (db_get_int8(db, &st_has_baseline, NULL, &has) < 0)
		return -1;
	if (!has) {
		report(arg, "schema older than migration 016 (no "
			    "grant_baseline): run cmpca db migrate");
		return 1;
	}
	if (db_run(db, &st_check, NULL, &res) != 1)
		goto out;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct db_row r = {res, i, 0, 0};
		char msg[DB_PROBLEM_MAX];

		db_col_text(&r, 1, msg, sizeof(msg));
		if (r.bad) {
			db_stmt_err(db, &st_check, "unexpected result");
			goto out;
		}
		report(arg, msg);
	}
	rc = n;
out:
	PQclear(res);
	return rc;
}

static int
transition_row(const PGresult *res, int i, void *e)
{
	struct db_audit_transition *t = e;
	struct db_row r = {res, i, 0, 0};

	t->audit_id = db_col_int8(&r, 0);
	t->cert_id = db_col_int8(&r, 1);
	db_col_text(&r, 2, t->serial, sizeof(t->serial));
	db_col_text(&r, 3, t->from, sizeof(t->from));
	db_col_text(&r, 4, t->to, sizeof(t->to));
	t->count = db_col_int8(&r, 5);
	return !r.bad;
}

int
db_audit_transition_check(struct db *db, struct db_audit_transition *t)
{
	return db_get1(db, &st_transition, NULL, sizeof(*t), transition_row,
	    t);
}
