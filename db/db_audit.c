/*
 * db_audit.c - the append-only audit log (table audit). A trigger refuses
 * UPDATE, DELETE and TRUNCATE on it (db/schema/001_init.sql).
 */
#include <stdlib.h>
#include <string.h>

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

/* Newest first; NULL filters match all. The label join keeps the CLI
 * from a second query per row. */
static const struct db_stmt st_list = {DB_ST_AUDIT_LIST, "audit_list",
    "SELECT a.id, " DB_EPOCH("a.at") ", a.event, coalesce(c.label, ''),"
    " a.actor, a.detail FROM audit a LEFT JOIN ca c ON c.id = a.ca_id"
    " WHERE ($1::bigint = 0 OR a.ca_id = $1::bigint)"
    " AND ($2::text IS NULL OR a.event = $2::text)"
    " AND ($3::bigint IS NULL OR a.at >= to_timestamp($3::bigint))"
    " ORDER BY a.id DESC LIMIT $4::int"};

void
db_audit_clear(struct db_audit *a)
{
	if (a == NULL)
		return;
	free(a->event);
	free(a->actor);
	free(a->detail);
	memset(a, 0, sizeof(*a));
}

void
db_audit_array_free(struct db_audit *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_audit_clear(&a[i]);
	free(a);
}

static int
audit_row(const PGresult *res, int i, void *e)
{
	struct db_audit *a = e;
	struct db_row r = {res, i, 0, 0};

	memset(a, 0, sizeof(*a));
	a->id = db_col_int8(&r, 0);
	a->at = db_col_time(&r, 1);
	a->event = db_col_strdup(&r, 2);
	db_col_text(&r, 3, a->ca_label, sizeof(a->ca_label));
	a->actor = db_col_strdup(&r, 4);
	a->detail = db_col_strdup(&r, 5);
	if (r.bad || a->event == NULL) {
		db_audit_clear(a);
		return 0;
	}
	return 1;
}

static void
audit_clr(void *e)
{
	db_audit_clear(e);
}

int
db_audit_list(struct db *db, long long ca_id, const char *event,
    time_t since, int limit, struct db_audit **out, size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	db_param_int8(&p, ca_id);
	db_param_text(&p, event);
	if (since > 0)
		db_param_int8(&p, (long long)since);
	else
		db_param_text(&p, NULL);
	db_param_int8(&p, limit > 0 ? limit : DB_AUDIT_LIST_DEFAULT);
	rc = db_getn(db, &st_list, &p, sizeof(**out), audit_row, audit_clr,
	    &a, n);
	*out = a;
	return rc;
}
