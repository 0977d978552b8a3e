/*
 * db_admin.c - read-only queries for the operators' web page (daemon/admin.c):
 * a certificate listing that joins the CA label and leaves out the DER,
 * with subject/serial/status/expiry filters and paging, issuances per
 * hour, and the audit chain's newest checkpoint.
 *
 * Only SELECTs live here: the page must not be able to change anything.
 * Search text and serials travel as bound parameters, never in the SQL.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

static const struct db_stmt st_certs = {DB_ST_ADMIN_CERTS, "admin_certs",
    "SELECT c.id, a.label, c.serial, c.subject, c.status, c.profile,"
    " " DB_EPOCH("c.not_after") ", " DB_EPOCH("c.created") ","
    " " DB_EPOCH("c.revoked_at") ", c.reason"
    " FROM cert c JOIN ca a ON a.id = c.ca_id"
    " WHERE ($1::text IS NULL"
    " OR strpos(lower(c.subject), lower($1::text)) > 0)"
    " AND ($2::text IS NULL OR c.serial = $2::text)"
    " AND ($3::text IS NULL OR c.status = $3::text)"
    " AND ($6::int = 0 OR (c.status = 'valid' AND c.not_after > now()"
    " AND c.not_after <= now() + $6::int * interval '1 day'))"
    " ORDER BY CASE WHEN $6::int > 0 THEN c.not_after END ASC NULLS LAST,"
    " CASE WHEN $3::text = 'revoked' THEN c.revoked_at END"
    " DESC NULLS LAST, c.created DESC, c.id DESC"
    " LIMIT $4::int OFFSET $5::int"};
/* One row per hour, oldest first, empty hours included; hours in UTC so
 * that buckets do not depend on the session's TimeZone. */
static const struct db_stmt st_hourly = {DB_ST_ADMIN_HOURLY, "admin_hourly",
    "WITH b AS (SELECT generate_series("
    " date_trunc('hour', now() AT TIME ZONE 'UTC')"
    " - ($1::int - 1) * interval '1 hour',"
    " date_trunc('hour', now() AT TIME ZONE 'UTC'),"
    " interval '1 hour') AS h),"
    " c AS (SELECT date_trunc('hour', created AT TIME ZONE 'UTC') AS h,"
    " count(*) AS n FROM cert"
    " WHERE created >= now() - $1::int * interval '1 hour' GROUP BY 1)"
    " SELECT " DB_EPOCH("b.h") ", coalesce(c.n, 0)::bigint"
    " FROM b LEFT JOIN c ON c.h = b.h ORDER BY b.h"};

/* The newest signed checkpoint of the audit chain. */
static const struct db_stmt st_ckpt_last = {DB_ST_ADMIN_CKPT_LAST,
    "admin_ckpt_last",
    "SELECT seq, " DB_EPOCH("at") " FROM audit_checkpoint"
    " ORDER BY id DESC LIMIT 1"};

void
db_admin_cert_clear(struct db_admin_cert *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->profile);
	memset(c, 0, sizeof(*c));
}

void
db_admin_cert_array_free(struct db_admin_cert *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_admin_cert_clear(&a[i]);
	free(a);
}

/* Fills one db_admin_cert from row i (db_getn adapter). Returns 1 or 0. */
static int
admin_cert_row(const PGresult *res, int i, void *e)
{
	struct db_admin_cert *c = e;
	struct db_row r = {res, i, 0, 0};
	char status[16];
	int s;

	memset(c, 0, sizeof(*c));
	c->id = db_col_int8(&r, 0);
	db_col_text(&r, 1, c->ca_label, sizeof(c->ca_label));
	db_col_text(&r, 2, c->serial, sizeof(c->serial));
	c->subject = db_col_strdup(&r, 3);
	db_col_text(&r, 4, status, sizeof(status));
	c->profile = db_col_strdup(&r, 5);
	c->not_after = db_col_time(&r, 6);
	c->created = db_col_time(&r, 7);
	c->revoked_at = db_col_time(&r, 8);
	c->reason = db_col_int4(&r, 9, -1);
	for (s = DB_CERT_UNCONFIRMED; s <= DB_CERT_REJECTED; s++)
		if (strcmp(status, db_cert_status_name(s)) == 0)
			c->status = (enum db_cert_status)s;
	if (r.bad || c->subject == NULL || c->status == 0) {
		db_admin_cert_clear(c);
		return 0;
	}
	return 1;
}

static void
admin_cert_clr(void *e)
{
	db_admin_cert_clear(e);
}

int
db_admin_cert_list(struct db *db, const struct db_admin_filter *f,
    struct db_admin_cert **out, size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (f->limit <= 0 || f->offset < 0 || f->expiring_days < 0 ||
	    f->expiring_days > 36500 ||
	    (f->status != 0 && strcmp(db_cert_status_name(f->status),
	    "unknown") == 0)) {
		db_seterr(db, "admin certs failed: invalid argument");
		return -1;
	}
	db_param_text(&p, f->subject);
	db_param_text(&p, f->serial);
	db_param_text(&p, f->status != 0 ? db_cert_status_name(f->status)
					 : NULL);
	db_param_int8(&p, f->limit);
	db_param_int8(&p, f->offset);
	db_param_int8(&p, f->expiring_days);
	rc = db_getn(db, &st_certs, &p, sizeof(**out), admin_cert_row,
	    admin_cert_clr, &a, n);
	*out = a;
	return rc;
}

int
db_admin_hourly(struct db *db, int hours, long long *counts, time_t *first)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	int i, rc = -1;

	*first = 0;
	if (hours < 1 || hours > DB_ADMIN_MAX_HOURS) {
		db_seterr(db, "admin hourly failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, hours);
	if (db_run(db, &st_hourly, &p, &res) != 1)
		goto out;
	if (PQntuples(res) != hours) {
		db_stmt_err(db, &st_hourly, "unexpected result");
		goto out;
	}
	for (i = 0; i < hours; i++) {
		r = (struct db_row){res, i, 0, 0};
		if (i == 0)
			*first = db_col_time(&r, 0);
		counts[i] = db_col_int8(&r, 1);
		if (r.bad) {
			db_stmt_err(db, &st_hourly, "unexpected result");
			goto out;
		}
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

int
db_admin_ckpt_last(struct db *db, long long *seq, time_t *at)
{
	struct db_row r;
	PGresult *res = NULL;
	int rc = -1;

	*seq = 0;
	*at = 0;
	if (db_run(db, &st_ckpt_last, NULL, &res) != 1)
		goto out;
	rc = 0;
	if (PQntuples(res) == 0)
		goto out;
	r = (struct db_row){res, 0, 0, 0};
	*seq = db_col_int8(&r, 0);
	*at = db_col_time(&r, 1);
	if (r.bad) {
		db_stmt_err(db, &st_ckpt_last, "unexpected result");
		rc = -1;
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}
