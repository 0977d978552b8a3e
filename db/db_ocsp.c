/*
 * db_ocsp.c - OCSP (RFC 6960): delegated signers (table ocsp_signer) and
 * the slim certificate status lookup the responder makes per CertID.
 *
 * The status lookup reads three columns of one row by the (ca_id, serial)
 * unique index, not the whole certificate: an OCSP answer needs no DER.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define SIGNER_COLS "id, ca_id, key_uri, cert, " DB_EPOCH("created")

static const struct db_stmt st_signer_insert = {DB_ST_OCSP_SIGNER_INSERT,
    "ocsp_signer_insert",
    "INSERT INTO ocsp_signer (ca_id, key_uri, cert)"
    " VALUES ($1::bigint, $2::text, $3::bytea) RETURNING id"};
/* The newest signer of a CA (ocsp_signer_ca_idx). */
static const struct db_stmt st_signer_latest = {DB_ST_OCSP_SIGNER_LATEST,
    "ocsp_signer_latest",
    "SELECT " SIGNER_COLS " FROM ocsp_signer WHERE ca_id = $1::bigint"
    " ORDER BY id DESC LIMIT 1"};
static const struct db_stmt st_cert_status = {DB_ST_CERT_GET_STATUS,
    "cert_get_status",
    "SELECT status, " DB_EPOCH("revoked_at") ", reason FROM cert"
    " WHERE ca_id = $1::bigint AND serial = $2::text"};

void
db_ocsp_signer_clear(struct db_ocsp_signer *s)
{
	if (s == NULL)
		return;
	free(s->key_uri);
	free(s->cert);
	memset(s, 0, sizeof(*s));
}

int
db_ocsp_signer_insert(struct db *db, struct db_ocsp_signer *s)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	int rc = -1;

	if (s->ca_id <= 0 || s->key_uri == NULL || s->cert == NULL ||
	    s->cert_len == 0) {
		db_seterr(db, "ocsp signer insert failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, s->ca_id);
	db_param_text(&p, s->key_uri);
	db_param_bytea(&p, s->cert, s->cert_len);
	if (db_run(db, &st_signer_insert, &p, &res) != 1)
		goto out;
	r = (struct db_row){res, 0, 0, 0};
	if (PQntuples(res) == 1)
		s->id = db_col_int8(&r, 0);
	if (PQntuples(res) != 1 || r.bad) {
		db_seterr(db, "ocsp signer insert failed: unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

/* Row of st_signer_latest into a db_ocsp_signer (for db_get1). */
static int
signer_row(const PGresult *res, int i, void *e)
{
	struct db_ocsp_signer *o = e;
	struct db_row r = {res, i, 0, 0};

	o->id = db_col_int8(&r, 0);
	o->ca_id = db_col_int8(&r, 1);
	o->key_uri = db_col_strdup(&r, 2);
	o->cert = db_col_memdup(&r, 3, &o->cert_len);
	o->created = db_col_time(&r, 4);
	if (r.bad || o->key_uri == NULL || o->cert == NULL) {
		db_ocsp_signer_clear(o);
		return 0;
	}
	return 1;
}

int
db_ocsp_signer_latest(struct db *db, long long ca_id,
    struct db_ocsp_signer *out)
{
	struct db_params p = {0};

	db_param_int8(&p, ca_id);
	return db_get1(db, &st_signer_latest, &p, sizeof(*out), signer_row,
	    out);
}

int
db_cert_get_status(struct db *db, long long ca_id, const char *serial,
    struct db_cert_state *out)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	char status[16];
	int rc = -1, i;

	memset(out, 0, sizeof(*out));
	out->reason = -1;
	if (!db_fixed_ok(serial, DB_SERIAL_MAX)) {
		db_seterr(db, "cert get status failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, ca_id);
	db_param_text(&p, serial);
	if (db_run(db, &st_cert_status, &p, &res) != 1)
		goto out;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	r = (struct db_row){res, 0, 0, 0};
	db_col_text(&r, 0, status, sizeof(status));
	out->revoked_at = db_col_time(&r, 1);
	out->reason = db_col_int4(&r, 2, -1);
	for (i = DB_CERT_UNCONFIRMED; i <= DB_CERT_REJECTED; i++)
		if (strcmp(status, db_cert_status_name(i)) == 0)
			out->status = (enum db_cert_status)i;
	if (r.bad || out->status == 0) {
		db_stmt_err(db, &st_cert_status, "unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}
