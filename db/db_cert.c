/*
 * db_cert.c - issued certificates (table cert).
 *
 * Issuance is two-phase: a certificate is inserted as unconfirmed before
 * the answer is sent, then set valid on certConf (or rejected/revoked)
 * with db_cert_set_status(), whose from_mask makes each move conditional.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define CERT_COLS DB_CERT_COLS

#define CERT_LIST_DEFAULT 100 /* rows when the caller gives no limit */

static const struct db_stmt st_insert = {DB_ST_CERT_INSERT, "cert_insert",
    "INSERT INTO cert (ca_id, serial, subject, issuer, spki_sha256,"
    " not_before, not_after, status, der, profile, requester, txid,"
    " cert_req_id, revoked_at, reason, replaces, kind)"
    " VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::bytea,"
    " to_timestamp($6::bigint), to_timestamp($7::bigint), $8::text,"
    " $9::bytea, $10::text, $11::text, $12::bytea, $13::int,"
    " to_timestamp($14::bigint), $15::int, $16::bigint,"
    " COALESCE($17::text, 'ee'))"
    " ON CONFLICT (ca_id, serial) DO NOTHING RETURNING id"};
static const struct db_stmt st_get = {DB_ST_CERT_GET, "cert_get",
    "SELECT " CERT_COLS " FROM cert WHERE id = $1::bigint"};
static const struct db_stmt st_get_by_serial = {DB_ST_CERT_GET_BY_SERIAL,
    "cert_get_by_serial",
    "SELECT " CERT_COLS " FROM cert"
    " WHERE ca_id = $1::bigint AND serial = $2::text"};
static const struct db_stmt st_list_by_txn = {DB_ST_CERT_LIST_BY_TXN,
    "cert_list_by_txn",
    "SELECT " CERT_COLS " FROM cert WHERE txid = $1::bytea"
    " ORDER BY cert_req_id, id"};
static const struct db_stmt st_list = {DB_ST_CERT_LIST, "cert_list",
    "SELECT " CERT_COLS " FROM cert"
    " WHERE ($1::bigint = 0 OR ca_id = $1::bigint)"
    " AND ($2::text IS NULL OR status = $2::text)"
    " AND ($3::text IS NULL OR strpos(lower(subject), lower($3::text)) > 0)"
    " ORDER BY created DESC, id DESC LIMIT $4::int"};
static const struct db_stmt st_list_kind = {DB_ST_CERT_LIST_KIND,
    "cert_list_kind",
    "SELECT " CERT_COLS " FROM cert WHERE ca_id = $1::bigint"
    " AND kind = $2::text ORDER BY id"};
/* What a certificate's holder obtained with it, and so on (018). */
static const struct db_stmt st_obtained_with = {DB_ST_CERT_OBTAINED_WITH,
    "cert_obtained_with",
    "WITH RECURSIVE d(id, depth) AS (SELECT id, 1 FROM cert"
    " WHERE obtained_with = $1::bigint"
    " UNION SELECT c.id, d.depth + 1 FROM cert c JOIN d"
    " ON c.obtained_with = d.id WHERE d.depth < 64)"
    " SELECT " CERT_COLS " FROM cert WHERE id IN (SELECT id FROM d)"
    " AND status IN ('valid', 'unconfirmed')"
    " ORDER BY (SELECT min(depth) FROM d WHERE d.id = cert.id), id"};
/* Revoked/rejected record when and why; any other status clears both. */
static const struct db_stmt st_set_status = {DB_ST_CERT_SET_STATUS,
    "cert_set_status",
    "UPDATE cert SET status = $2::text,"
    " revoked_at = CASE WHEN $2::text IN ('revoked', 'rejected')"
    " THEN now() END,"
    " reason = CASE WHEN $2::text IN ('revoked', 'rejected')"
    " THEN $3::int END"
    " WHERE id = $1::bigint AND status = ANY ($4::text[])"};

static const struct db_stmt st_mark_keygen = {DB_ST_CERT_MARK_KEYGEN,
    "cert_mark_keygen",
    "UPDATE cert SET server_keygen = true WHERE id = ANY ($1::bigint[])"
    " AND NOT server_keygen"};

static const char *const cert_status_tbl[] = {
    [DB_CERT_UNCONFIRMED] = "unconfirmed",
    [DB_CERT_VALID] = "valid",
    [DB_CERT_REVOKED] = "revoked",
    [DB_CERT_REJECTED] = "rejected",
};
static const struct db_names cert_status = DB_NAMES(cert_status_tbl);

const char *
db_cert_status_name(enum db_cert_status s)
{
	const char *n = db_name_of(&cert_status, s);

	return n != NULL ? n : "unknown";
}

void
db_cert_clear(struct db_cert *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->issuer);
	free(c->der);
	free(c->profile);
	free(c->requester);
	free(c->credential);
	memset(c, 0, sizeof(*c));
}

void
db_cert_array_free(struct db_cert *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_cert_clear(&a[i]);
	free(a);
}

/* See db_int.h. */
int
db_cert_row(const PGresult *res, int i, int off, struct db_cert *c)
{
	struct db_row r = {res, i, 0, off};
	char status[16];
	size_t len;

	memset(c, 0, sizeof(*c));
	c->id = db_col_int8(&r, 0);
	c->ca_id = db_col_int8(&r, 1);
	db_col_text(&r, 2, c->serial, sizeof(c->serial));
	c->subject = db_col_strdup(&r, 3);
	c->issuer = db_col_strdup(&r, 4);
	db_col_bytes(&r, 5, c->spki_sha256, sizeof(c->spki_sha256), &len);
	c->not_before = db_col_time(&r, 6);
	c->not_after = db_col_time(&r, 7);
	db_col_text(&r, 8, status, sizeof(status));
	c->der = db_col_memdup(&r, 9, &c->der_len);
	c->profile = db_col_strdup(&r, 10);
	c->requester = db_col_strdup(&r, 11);
	db_col_bytes(&r, 12, c->txid, sizeof(c->txid), &c->txid_len);
	c->cert_req_id = db_col_int4(&r, 13, 0);
	c->revoked_at = db_col_time(&r, 14);
	c->reason = db_col_int4(&r, 15, -1);
	c->created = db_col_time(&r, 16);
	c->replaces = db_col_int8(&r, 17);
	db_col_text(&r, 18, c->kind, sizeof(c->kind));
	c->credential = db_col_strdup(&r, 19);
	c->obtained_with = db_col_int8(&r, 20);
	c->server_keygen = db_col_int4(&r, 21, 0);
	c->status = db_name_parse(&cert_status, status);
	if (r.bad || len != sizeof(c->spki_sha256) || c->subject == NULL ||
	    c->issuer == NULL || c->der == NULL || c->status == 0) {
		db_cert_clear(c);
		return 0;
	}
	return 1;
}

/* Fills *c from row i of res. Returns 1, or 0 on a malformed row. */
static int
cert_from_row(const PGresult *res, int i, struct db_cert *c)
{
	return db_cert_row(res, i, 0, c);
}

int
db_cert_insert(struct db *db, struct db_cert *c)
{
	struct db_params p = {0};

	if (c->ca_id <= 0 || !db_fixed_ok(c->serial, sizeof(c->serial)) ||
	    c->subject == NULL || c->issuer == NULL || c->der == NULL ||
	    c->der_len == 0 || db_name_of(&cert_status, c->status) == NULL ||
	    c->txid_len > sizeof(c->txid)) {
		db_seterr(db, "cert insert failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, c->ca_id);
	db_param_text(&p, c->serial);
	db_param_text(&p, c->subject);
	db_param_text(&p, c->issuer);
	db_param_bytea(&p, c->spki_sha256, sizeof(c->spki_sha256));
	db_param_time(&p, c->not_before);
	db_param_time(&p, c->not_after);
	db_param_text(&p, db_name_of(&cert_status, c->status));
	db_param_bytea(&p, c->der, c->der_len);
	db_param_text(&p, c->profile);
	db_param_text(&p, c->requester);
	db_param_bytea(&p, c->txid_len > 0 ? c->txid : NULL, c->txid_len);
	db_param_int8(&p, c->cert_req_id);
	db_param_time(&p, c->revoked_at);
	if (c->reason >= 0)
		db_param_int8(&p, c->reason);
	else
		db_param_text(&p, NULL);
	db_param_id(&p, c->replaces);
	db_param_text(&p, c->kind[0] != '\0' ? c->kind : NULL);
	return db_insert(db, &st_insert, &p, &c->id);
}

static int cert_row(const PGresult *res, int i, void *e);

/* Runs a single-row lookup. Returns 1, 0 if no row, -1. */
static int
cert_get1(struct db *db, const struct db_stmt *st, const struct db_params *p,
    struct db_cert *out)
{
	return db_get1(db, st, p, sizeof(*out), cert_row, out);
}

int
db_cert_get(struct db *db, long long id, struct db_cert *out)
{
	struct db_params p = {0};

	db_param_int8(&p, id);
	return cert_get1(db, &st_get, &p, out);
}

int
db_cert_get_by_serial(struct db *db, long long ca_id, const char *serial,
    struct db_cert *out)
{
	struct db_params p = {0};

	db_param_int8(&p, ca_id);
	db_param_text(&p, serial);
	return cert_get1(db, &st_get_by_serial, &p, out);
}

/* Adapters for db_getn(). */
static int
cert_row(const PGresult *res, int i, void *e)
{
	return cert_from_row(res, i, e);
}

static void
cert_clr(void *e)
{
	db_cert_clear(e);
}

/* Runs a multi-row query into an array. Returns 1 or -1. */
static int
cert_getn(struct db *db, const struct db_stmt *st, const struct db_params *p,
    struct db_cert **out, size_t *n)
{
	void *a = NULL;
	int rc = db_getn(db, st, p, sizeof(**out), cert_row, cert_clr, &a, n);

	*out = a;
	return rc;
}

int
db_cert_list_by_txn(struct db *db, const unsigned char *txid,
    size_t txid_len, struct db_cert **out, size_t *n)
{
	struct db_params p = {0};

	*out = NULL;
	*n = 0;
	if (txid == NULL || txid_len == 0 || txid_len > DB_TXID_MAX) {
		db_seterr(db, "cert list by txn failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, txid, txid_len);
	return cert_getn(db, &st_list_by_txn, &p, out, n);
}

int
db_cert_list(struct db *db, long long ca_id, enum db_cert_status status,
    const char *subject, int limit, struct db_cert **out, size_t *n)
{
	struct db_params p = {0};

	*out = NULL;
	*n = 0;
	if (status != 0 && db_name_of(&cert_status, status) == NULL) {
		db_seterr(db, "cert list failed: invalid status");
		return -1;
	}
	db_param_int8(&p, ca_id);
	db_param_text(&p, db_name_of(&cert_status, status));
	db_param_text(&p, subject);
	db_param_int8(&p, limit > 0 ? limit : CERT_LIST_DEFAULT);
	return cert_getn(db, &st_list, &p, out, n);
}

int
db_cert_set_status(struct db *db, long long id, unsigned from_mask,
    enum db_cert_status status, int reason)
{
	struct db_params p = {0};
	char from[64];
	size_t off;
	int i;

	if (db_name_of(&cert_status, status) == NULL) {
		db_seterr(db, "cert set status failed: invalid status");
		return -1;
	}
	/* from_mask as a text[] literal: {unconfirmed,valid} */
	off = 0;
	from[off++] = '{';
	for (i = DB_CERT_UNCONFIRMED; i <= DB_CERT_REJECTED; i++) {
		if (!(from_mask & (1u << i)))
			continue;
		if (off > 1)
			from[off++] = ',';
		off += (size_t)snprintf(from + off, sizeof(from) - off, "%s",
		    db_name_of(&cert_status, i));
	}
	from[off++] = '}';
	from[off] = '\0';

	db_param_int8(&p, id);
	db_param_text(&p, db_name_of(&cert_status, status));
	if (reason >= 0)
		db_param_int8(&p, reason);
	else
		db_param_text(&p, NULL);
	db_param_text(&p, from);
	return db_update(db, &st_set_status, &p, NULL);
}

int
db_cert_mark_keygen(struct db *db, const long long *ids, size_t n)
{
	struct db_params p = {0};
	struct db_array a;
	size_t i;
	int rc;

	db_array_init(&a, DB_OID_INT8);
	for (i = 0; i < n; i++)
		db_array_int8(&a, ids[i]);
	db_param_array(&p, &a);
	rc = db_update(db, &st_mark_keygen, &p, NULL);
	db_array_free(&a);
	return rc;
}

int
db_cert_list_kind(struct db *db, long long ca_id, const char *kind,
    struct db_cert **out, size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	db_param_int8(&p, ca_id);
	db_param_text(&p, kind);
	rc = db_getn(db, &st_list_kind, &p, sizeof(**out), cert_row, cert_clr,
	    &a, n);
	*out = a;
	return rc;
}

/* A hold (certificateHold, 6) released or made permanent. */
static const struct db_stmt st_hold_end = {DB_ST_CERT_HOLD_END,
    "cert_hold_end",
    "UPDATE cert SET"
    " status = CASE WHEN $2::int IS NULL THEN 'valid' ELSE 'revoked' END,"
    " reason = $2::int,"
    " revoked_at = CASE WHEN $2::int IS NULL THEN NULL ELSE revoked_at END,"
    " invalidity_date = CASE WHEN $2::int IS NULL THEN NULL"
    " ELSE invalidity_date END"
    " WHERE id = $1::bigint AND status = 'revoked' AND reason = 6"};

int
db_cert_hold_end(struct db *db, long long id, int reason)
{
	struct db_params p = {0};

	if (reason == 6 || reason == 8 || reason > 10) {
		db_seterr(db, "cert hold end failed: invalid reason");
		return -1;
	}
	db_param_int8(&p, id);
	if (reason >= 0)
		db_param_int8(&p, reason);
	else
		db_param_text(&p, NULL);
	return db_update(db, &st_hold_end, &p, NULL);
}

int
db_cert_obtained_with(struct db *db, long long id, struct db_cert **out,
    size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	db_param_int8(&p, id);
	rc = db_getn(db, &st_obtained_with, &p, sizeof(**out), cert_row,
	    cert_clr, &a, n);
	*out = a;
	return rc;
}
