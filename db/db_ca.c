/*
 * db_ca.c - CA identities (table ca).
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define CA_COLS "id, label, key_uri, cert, status, " DB_EPOCH("created")

static const struct db_stmt st_insert = {DB_ST_CA_INSERT, "ca_insert",
    "INSERT INTO ca (label, key_uri, cert, status)"
    " VALUES ($1::text, $2::text, $3::bytea, $4::text)"
    " ON CONFLICT (label) DO NOTHING RETURNING id"};
static const struct db_stmt st_get = {DB_ST_CA_GET, "ca_get",
    "SELECT " CA_COLS " FROM ca WHERE id = $1::bigint"};
static const struct db_stmt st_get_by_label = {DB_ST_CA_GET_BY_LABEL,
    "ca_get_by_label", "SELECT " CA_COLS " FROM ca WHERE label = $1::text"};
static const struct db_stmt st_list = {DB_ST_CA_LIST, "ca_list",
    "SELECT " CA_COLS " FROM ca ORDER BY id"};

void
db_ca_clear(struct db_ca *ca)
{
	if (ca == NULL)
		return;
	free(ca->key_uri);
	free(ca->cert);
	memset(ca, 0, sizeof(*ca));
}

void
db_ca_array_free(struct db_ca *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_ca_clear(&a[i]);
	free(a);
}

/* Fills *ca from row i of res. Returns 1, or 0 on a malformed row. */
static int
ca_from_row(const PGresult *res, int i, struct db_ca *ca)
{
	struct db_row r = {res, i, 0};

	memset(ca, 0, sizeof(*ca));
	ca->id = db_col_int8(&r, 0);
	db_col_text(&r, 1, ca->label, sizeof(ca->label));
	ca->key_uri = db_col_strdup(&r, 2);
	ca->cert = db_col_memdup(&r, 3, &ca->cert_len);
	db_col_text(&r, 4, ca->status, sizeof(ca->status));
	ca->created = db_col_time(&r, 5);
	if (r.bad || ca->key_uri == NULL || ca->cert == NULL) {
		db_ca_clear(ca);
		return 0;
	}
	return 1;
}

int
db_ca_insert(struct db *db, struct db_ca *ca)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	int rc = -1;

	if (!db_fixed_ok(ca->label, sizeof(ca->label)) ||
	    ca->key_uri == NULL || ca->cert == NULL || ca->cert_len == 0 ||
	    strnlen(ca->status, sizeof(ca->status)) == sizeof(ca->status)) {
		db_seterr(db, "ca insert failed: invalid argument");
		return -1;
	}
	db_param_text(&p, ca->label);
	db_param_text(&p, ca->key_uri);
	db_param_bytea(&p, ca->cert, ca->cert_len);
	db_param_text(&p, ca->status[0] != '\0' ? ca->status : "active");
	if (db_run(db, &st_insert, &p, &res) != 1) {
		if (db_unique_violation(db))
			rc = 0;
		goto out;
	}
	if (PQntuples(res) == 0) {
		rc = 0; /* the label exists */
		goto out;
	}
	r = (struct db_row){res, 0, 0};
	ca->id = db_col_int8(&r, 0);
	if (r.bad) {
		db_seterr(db, "ca insert failed: unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

/* Runs a single-row lookup. Returns 1, 0 if no row, -1. */
static int
ca_get1(struct db *db, const struct db_stmt *st, const struct db_params *p,
    struct db_ca *out)
{
	PGresult *res = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (db_run(db, st, p, &res) != 1)
		goto out;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	if (!ca_from_row(res, 0, out)) {
		db_stmt_err(db, st, "unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

int
db_ca_get(struct db *db, long long id, struct db_ca *out)
{
	struct db_params p = {0};

	db_param_int8(&p, id);
	return ca_get1(db, &st_get, &p, out);
}

int
db_ca_get_by_label(struct db *db, const char *label, struct db_ca *out)
{
	struct db_params p = {0};

	db_param_text(&p, label);
	return ca_get1(db, &st_get_by_label, &p, out);
}

/* Adapters for db_getn(). */
static int
ca_row(const PGresult *res, int i, void *e)
{
	return ca_from_row(res, i, e);
}

static void
ca_clr(void *e)
{
	db_ca_clear(e);
}

int
db_ca_list(struct db *db, struct db_ca **out, size_t *n)
{
	void *a = NULL;
	int rc = db_getn(db, &st_list, NULL, sizeof(**out), ca_row, ca_clr, &a,
	    n);

	*out = a;
	return rc;
}
