/*
 * db_audit.c - the append-only audit log (table audit). A trigger refuses
 * UPDATE, DELETE and TRUNCATE on it (db/schema/001_init.sql).
 */
#include "db/db_int.h"

static const struct db_stmt st_add = {DB_ST_AUDIT_ADD, "audit_add",
    "INSERT INTO audit (event, ca_id, actor, detail)"
    " VALUES ($1::text, $2::bigint, $3::text, $4::text)"};

int
db_audit_add(struct db *db, const char *event, long long ca_id,
    const char *actor, const char *detail)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc;

	if (event == NULL || *event == '\0') {
		db_seterr(db, "audit add failed: no event");
		return -1;
	}
	db_param_text(&p, event);
	db_param_id(&p, ca_id);
	db_param_text(&p, actor);
	db_param_text(&p, detail);
	rc = db_run(db, &st_add, &p, &res);
	PQclear(res);
	return rc;
}
