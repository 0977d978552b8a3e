/*
 * db_ra.c - registered registration authorities (table ra), pinned by the
 * SHA-256 of their certificate.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define RA_COLS "id, name, cert_sha256, cert, subject, profile"

static const struct db_stmt st_insert = {DB_ST_RA_INSERT, "ra_insert",
    "INSERT INTO ra (name, cert_sha256, cert, subject, profile)"
    " VALUES ($1::text, $2::bytea, $3::bytea, $4::text, $5::text)"
    " ON CONFLICT DO NOTHING RETURNING id"};
static const struct db_stmt st_get_by_hash = {DB_ST_RA_GET_BY_HASH,
    "ra_get_by_hash",
    "SELECT " RA_COLS " FROM ra WHERE cert_sha256 = $1::bytea"};
static const struct db_stmt st_list = {DB_ST_RA_LIST, "ra_list",
    "SELECT " RA_COLS " FROM ra ORDER BY name"};
static const struct db_stmt st_delete = {DB_ST_RA_DELETE, "ra_delete",
    "DELETE FROM ra WHERE name = $1::text"};

void
db_ra_clear(struct db_ra *ra)
{
	if (ra == NULL)
		return;
	free(ra->cert);
	free(ra->subject);
	memset(ra, 0, sizeof(*ra));
}

void
db_ra_array_free(struct db_ra *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_ra_clear(&a[i]);
	free(a);
}

static int
ra_from_row(const PGresult *res, int i, struct db_ra *ra)
{
	struct db_row r = {res, i, 0, 0};
	size_t len = 0;

	memset(ra, 0, sizeof(*ra));
	ra->id = db_col_int8(&r, 0);
	db_col_text(&r, 1, ra->name, sizeof(ra->name));
	db_col_bytes(&r, 2, ra->cert_sha256, sizeof(ra->cert_sha256), &len);
	ra->cert = db_col_memdup(&r, 3, &ra->cert_len);
	ra->subject = db_col_strdup(&r, 4);
	db_col_text(&r, 5, ra->profile, sizeof(ra->profile));
	if (r.bad || len != sizeof(ra->cert_sha256) || ra->cert == NULL ||
	    ra->subject == NULL) {
		db_ra_clear(ra);
		return 0;
	}
	return 1;
}

int
db_ra_insert(struct db *db, struct db_ra *ra)
{
	struct db_params p = {0};

	if (!db_fixed_ok(ra->name, sizeof(ra->name)) || ra->cert == NULL ||
	    ra->cert_len == 0 || ra->subject == NULL ||
	    !db_fixed_ok(ra->profile, sizeof(ra->profile))) {
		db_seterr(db, "ra insert failed: invalid argument");
		return -1;
	}
	db_param_text(&p, ra->name);
	db_param_bytea(&p, ra->cert_sha256, sizeof(ra->cert_sha256));
	db_param_bytea(&p, ra->cert, ra->cert_len);
	db_param_text(&p, ra->subject);
	db_param_text(&p, ra->profile);
	return db_insert(db, &st_insert, &p, &ra->id);
}

static int ra_row(const PGresult *res, int i, void *e);

int
db_ra_get_by_hash(struct db *db, const unsigned char *sha256,
    struct db_ra *out)
{
	struct db_params p = {0};

	db_param_bytea(&p, sha256, 32);
	return db_get1(db, &st_get_by_hash, &p, sizeof(*out), ra_row, out);
}

/* Adapters for db_getn(). */
static int
ra_row(const PGresult *res, int i, void *e)
{
	return ra_from_row(res, i, e);
}

static void
ra_clr(void *e)
{
	db_ra_clear(e);
}

int
db_ra_list(struct db *db, struct db_ra **out, size_t *n)
{
	void *a = NULL;
	int rc = db_getn(db, &st_list, NULL, sizeof(**out), ra_row, ra_clr, &a,
	    n);

	*out = a;
	return rc;
}

int
db_ra_delete(struct db *db, const char *name)
{
	struct db_params p = {0};

	db_param_text(&p, name);
	return db_update(db, &st_delete, &p, NULL);
}
