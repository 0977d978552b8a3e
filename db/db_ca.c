/*
 * db_ca.c - CA identities (table ca) and the root CA key update pair of
 * RFC 9810 §4.4 (newWithOld, oldWithNew) in table ca_cert; newWithNew is
 * the CA's own certificate.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define CA_COLS \
	"id, label, key_uri, cert, status, " DB_EPOCH("created") \
	", chain, csr, key_of"

static const struct db_stmt st_insert = {DB_ST_CA_INSERT, "ca_insert",
    "INSERT INTO ca (label, key_uri, cert, status, chain, csr, key_of)"
    " VALUES ($1::text, $2::text, $3::bytea, $4::text, $5::bytea,"
    " $6::bytea, $7::bigint)"
    " ON CONFLICT (label) DO NOTHING RETURNING id"};
static const struct db_stmt st_activate = {DB_ST_CA_ACTIVATE, "ca_activate",
    "UPDATE ca SET cert = $2::bytea, chain = $3::bytea, csr = NULL,"
    " status = 'active' WHERE id = $1::bigint AND status = 'pending'"};
static const struct db_stmt st_retire = {DB_ST_CA_RETIRE, "ca_retire",
    "UPDATE ca SET status = 'retired'"
    " WHERE id = $1::bigint AND status = 'active'"};
static const struct db_stmt st_rekey = {DB_ST_CA_REKEY, "ca_rekey",
    "UPDATE ca SET key_uri = $2::text, cert = $3::bytea"
    " WHERE id = $1::bigint AND status = 'active'"};
static const struct db_stmt st_move_certs = {DB_ST_CA_MOVE_CERTS,
    "ca_move_certs",
    "UPDATE cert SET ca_id = $2::bigint WHERE ca_id = $1::bigint"};
static const struct db_stmt st_move_crls = {DB_ST_CA_MOVE_CRLS,
    "ca_move_crls",
    "UPDATE crl SET ca_id = $2::bigint WHERE ca_id = $1::bigint"};
static const struct db_stmt st_move_signers = {DB_ST_CA_MOVE_SIGNERS,
    "ca_move_signers",
    "UPDATE ocsp_signer SET ca_id = $2::bigint WHERE ca_id = $1::bigint"};
static const struct db_stmt st_set_kind = {DB_ST_CERT_SET_KIND,
    "cert_set_kind", "UPDATE cert SET kind = $2::text WHERE id = $1::bigint"};
static const struct db_stmt st_get = {DB_ST_CA_GET, "ca_get",
    "SELECT " CA_COLS " FROM ca WHERE id = $1::bigint"};
static const struct db_stmt st_get_by_label = {DB_ST_CA_GET_BY_LABEL,
    "ca_get_by_label", "SELECT " CA_COLS " FROM ca WHERE label = $1::text"};
static const struct db_stmt st_list = {DB_ST_CA_LIST, "ca_list",
    "SELECT " CA_COLS " FROM ca ORDER BY id"};
/* What per-worker caches of the CAs depend on, as one hash: every row's
 * id, status and certificate, and the newest OCSP signer. */
static const struct db_stmt st_version = {DB_ST_CA_VERSION, "ca_version",
    "SELECT sha256(convert_to(coalesce((SELECT string_agg(id::text || ':'"
    " || status || ':' || coalesce(encode(sha256(cert), 'hex'), '-'), ','"
    " ORDER BY id) FROM ca), '') || ';' || coalesce((SELECT max(id)"
    " FROM ocsp_signer)::text, '-'), 'UTF8'))"};

void
db_ca_clear(struct db_ca *ca)
{
	if (ca == NULL)
		return;
	free(ca->key_uri);
	free(ca->cert);
	free(ca->chain);
	free(ca->csr);
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
	struct db_row r = {res, i, 0, 0};

	memset(ca, 0, sizeof(*ca));
	ca->id = db_col_int8(&r, 0);
	db_col_text(&r, 1, ca->label, sizeof(ca->label));
	ca->key_uri = db_col_strdup(&r, 2);
	ca->cert = db_col_memdup(&r, 3, &ca->cert_len);
	db_col_text(&r, 4, ca->status, sizeof(ca->status));
	ca->created = db_col_time(&r, 5);
	ca->chain = db_col_memdup(&r, 6, &ca->chain_len);
	ca->csr = db_col_memdup(&r, 7, &ca->csr_len);
	ca->key_of = db_col_int8(&r, 8);
	/* Only a pending CA has no certificate (010_ca_ident.sql). */
	if (r.bad || ca->key_uri == NULL ||
	    (ca->cert == NULL && strcmp(ca->status, "pending") != 0)) {
		db_ca_clear(ca);
		return 0;
	}
	return 1;
}

int
db_ca_insert(struct db *db, struct db_ca *ca)
{
	struct db_params p = {0};

	if (!db_fixed_ok(ca->label, sizeof(ca->label)) ||
	    ca->key_uri == NULL ||
	    strnlen(ca->status, sizeof(ca->status)) == sizeof(ca->status) ||
	    ((ca->cert == NULL || ca->cert_len == 0) &&
		strcmp(ca->status, "pending") != 0)) {
		db_seterr(db, "ca insert failed: invalid argument");
		return -1;
	}
	db_param_text(&p, ca->label);
	db_param_text(&p, ca->key_uri);
	db_param_bytea(&p, ca->cert, ca->cert_len);
	db_param_text(&p, ca->status[0] != '\0' ? ca->status : "active");
	db_param_bytea(&p, ca->chain, ca->chain_len);
	db_param_bytea(&p, ca->csr, ca->csr_len);
	db_param_id(&p, ca->key_of);
	return db_insert(db, &st_insert, &p, &ca->id);
}

static int ca_row(const PGresult *res, int i, void *e);

/* Runs a single-row lookup. Returns 1, 0 if no row, -1. */
static int
ca_get1(struct db *db, const struct db_stmt *st, const struct db_params *p,
    struct db_ca *out)
{
	return db_get1(db, st, p, sizeof(*out), ca_row, out);
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

/* Adapter for db_get1(): the version hash. */
static int
version_row(const PGresult *res, int i, void *e)
{
	struct db_row r = {res, i, 0, 0};
	size_t len = 0;

	db_col_bytes(&r, 0, e, DB_CA_VERSION_LEN, &len);
	return !r.bad && len == DB_CA_VERSION_LEN;
}

int
db_ca_version(struct db *db, unsigned char out[DB_CA_VERSION_LEN])
{
	return db_get1(db, &st_version, NULL, DB_CA_VERSION_LEN, version_row,
	    out);
}

int
db_ca_activate(struct db *db, long long id, const unsigned char *cert,
    size_t cert_len, const unsigned char *chain, size_t chain_len)
{
	struct db_params p = {0};

	if (cert == NULL || cert_len == 0) {
		db_seterr(db, "ca activate failed: no certificate");
		return -1;
	}
	db_param_int8(&p, id);
	db_param_bytea(&p, cert, cert_len);
	db_param_bytea(&p, chain, chain_len);
	return db_update(db, &st_activate, &p, NULL);
}

int
db_ca_retire(struct db *db, long long id)
{
	struct db_params p = {0};

	db_param_int8(&p, id);
	return db_update(db, &st_retire, &p, NULL);
}

int
db_ca_rekey(struct db *db, long long id, long long old_id,
    const char *key_uri, const unsigned char *cert, size_t cert_len)
{
	const struct db_stmt *moves[] = { &st_move_certs, &st_move_crls,
		&st_move_signers };
	struct db_params p = {0};
	size_t i;

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		struct db_params m = {0};

		db_param_int8(&m, id);
		db_param_int8(&m, old_id);
		if (db_update(db, moves[i], &m, NULL) < 0)
			return -1;
	}
	db_param_int8(&p, id);
	db_param_text(&p, key_uri);
	db_param_bytea(&p, cert, cert_len);
	if (db_update(db, &st_rekey, &p, NULL) != 1) {
		db_seterr(db, "ca rekey failed: the CA is not active");
		return -1;
	}
	return 1;
}

int
db_cert_set_kind(struct db *db, long long cert_id, const char *kind)
{
	struct db_params p = {0};

	db_param_int8(&p, cert_id);
	db_param_text(&p, kind);
	return db_update(db, &st_set_kind, &p, NULL) == 1 ? 1 : -1;
}

/* The root CA key update pair. */

static const struct db_stmt st_keyupd_add = {DB_ST_KEYUPD_ADD, "keyupd_add",
    "INSERT INTO ca_cert (ca_id, kind, subject, issuer, not_after, der,"
    " sha256) VALUES ($1::bigint, $2::text, $3::text, $4::text,"
    " to_timestamp($5::bigint), $6::bytea, $7::bytea)"};
/* The newest of each kind, newWithOld first. */
static const struct db_stmt st_keyupd_latest = {DB_ST_KEYUPD_LATEST,
    "keyupd_latest",
    "SELECT DISTINCT ON (kind) kind, der FROM ca_cert"
    " WHERE ca_id = $1::bigint AND kind IN ('new-with-old', 'old-with-new')"
    " ORDER BY kind, id DESC"};

void
db_keyupd_clear(struct db_keyupd *k)
{
	if (k == NULL)
		return;
	free(k->new_with_old);
	free(k->old_with_new);
	memset(k, 0, sizeof(*k));
}

int
db_keyupd_add(struct db *db, long long ca_id, const char *kind,
    const char *subject, const char *issuer, time_t not_after,
    const unsigned char *der, size_t der_len, const unsigned char sha256[32])
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc;

	if (kind == NULL || subject == NULL || issuer == NULL || der == NULL ||
	    der_len == 0) {
		db_seterr(db, "keyupd add failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, ca_id);
	db_param_text(&p, kind);
	db_param_text(&p, subject);
	db_param_text(&p, issuer);
	db_param_int8(&p, (long long)not_after);
	db_param_bytea(&p, der, der_len);
	db_param_bytea(&p, sha256, 32);
	rc = db_run(db, &st_keyupd_add, &p, &res);
	PQclear(res);
	return rc;
}

int
db_keyupd_latest(struct db *db, long long ca_id, struct db_keyupd *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc = -1, i;

	memset(out, 0, sizeof(*out));
	db_param_int8(&p, ca_id);
	if (db_run(db, &st_keyupd_latest, &p, &res) != 1)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		struct db_row r = {res, i, 0, 0};
		char kind[16];
		unsigned char *der;
		size_t len = 0;

		db_col_text(&r, 0, kind, sizeof(kind));
		der = db_col_memdup(&r, 1, &len);
		if (r.bad || der == NULL) {
			free(der);
			db_stmt_err(db, &st_keyupd_latest, "unexpected result");
			goto out;
		}
		if (strcmp(kind, "new-with-old") == 0) {
			out->new_with_old = der;
			out->new_with_old_len = len;
		} else {
			out->old_with_new = der;
			out->old_with_new_len = len;
		}
	}
	rc = out->new_with_old != NULL && out->old_with_new != NULL;
out:
	if (rc != 1)
		db_keyupd_clear(out);
	PQclear(res);
	return rc;
}
