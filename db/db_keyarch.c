/*
 * db_keyarch.c - archived end-entity keys (table key_archive, issue 26)
 * and their recoveries (table key_recovery): asked for, decided by
 * another operator, delivered once.
 *
 * The wrapped key is read only by db_keyarch_get(), the operator's
 * recovery path; the daemon's role may not select that column
 * (027_key_archive.sql). A rejected certificate's row is deleted by a
 * trigger on cert, in the transaction that rejects it.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

static const struct db_stmt st_insert = {DB_ST_KEYARCH_INSERT,
    "keyarch_insert",
    "INSERT INTO key_archive (cert_id, ca_id, key_label, wrapped)"
    " VALUES ($1::bigint, $2::bigint, $3::text, $4::bytea) RETURNING id"};
static const struct db_stmt st_get = {DB_ST_KEYARCH_GET, "keyarch_get",
    "SELECT k.id, k.cert_id, k.ca_id, c.serial, k.key_label, k.wrapped, "
    DB_EPOCH("k.created") " FROM key_archive k JOIN cert c ON c.id = k.cert_id"
    " WHERE k.ca_id = $1::bigint AND c.serial = $2::text"};
static const struct db_stmt st_fetch = {DB_ST_KEYARCH_FETCH,
    "keyarch_fetch",
    "SELECT w FROM cmpca_key_archive_fetch($1::bigint, $2::text) AS w"
    " WHERE w IS NOT NULL"};
static const struct db_stmt st_rec_insert = {DB_ST_KEYREC_INSERT,
    "keyrec_insert",
    "INSERT INTO key_recovery (archive_id, requested_by)"
    " VALUES ($1::bigint, $2::text) RETURNING id"};
/* The requester does not decide: a second operator does. */
static const struct db_stmt st_rec_decide = {DB_ST_KEYREC_DECIDE,
    "keyrec_decide",
    "UPDATE key_recovery r SET status = $2::text, decided_by = $3::text,"
    " decided_at = now() FROM key_archive k"
    " WHERE r.id = $1::bigint AND r.status = 'pending'"
    " AND r.requested_by <> $3::text AND k.id = r.archive_id"
    " RETURNING k.ca_id"};
static const struct db_stmt st_rec_take = {DB_ST_KEYREC_TAKE, "keyrec_take",
    "UPDATE key_recovery SET status = 'done', done_at = now()"
    " WHERE id = $1::bigint AND archive_id = $2::bigint"
    " AND status = 'approved'"};

void
db_keyarch_clear(struct db_keyarch *k)
{
	if (k == NULL)
		return;
	free(k->key_label);
	free(k->wrapped);
	memset(k, 0, sizeof(*k));
}

int
db_keyarch_insert(struct db *db, long long cert_id, long long ca_id,
    const char *key_label, const unsigned char *wrapped, size_t len,
    long long *id)
{
	struct db_params p = {0};
	long long v = 0;
	int rc;

	if (id != NULL)
		*id = 0;
	if (cert_id <= 0 || ca_id <= 0 || key_label == NULL ||
	    key_label[0] == '\0' || wrapped == NULL || len == 0) {
		db_seterr(db, "keyarch insert failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, cert_id);
	db_param_int8(&p, ca_id);
	db_param_text(&p, key_label);
	db_param_bytea(&p, wrapped, len);
	if ((rc = db_get_int8(db, &st_insert, &p, &v)) == 0) {
		db_seterr(db, "keyarch insert failed: unexpected result");
		rc = -1;
	}
	if (rc == 1 && id != NULL)
		*id = v;
	return rc;
}

static int
keyarch_row(const PGresult *res, int i, void *e)
{
	struct db_row r = {res, i, 0, 0};
	struct db_keyarch *k = e;

	k->id = db_col_int8(&r, 0);
	k->cert_id = db_col_int8(&r, 1);
	k->ca_id = db_col_int8(&r, 2);
	db_col_text(&r, 3, k->serial, sizeof(k->serial));
	k->key_label = db_col_strdup(&r, 4);
	k->wrapped = db_col_memdup(&r, 5, &k->wrapped_len);
	k->created = db_col_time(&r, 6);
	if (r.bad || k->key_label == NULL || k->wrapped == NULL) {
		db_keyarch_clear(k);
		return 0;
	}
	return 1;
}

int
db_keyarch_get(struct db *db, long long ca_id, const char *serial,
    struct db_keyarch *out)
{
	struct db_params p = {0};

	memset(out, 0, sizeof(*out));
	if (ca_id <= 0 || serial == NULL || serial[0] == '\0') {
		db_seterr(db, "keyarch get failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, ca_id);
	db_param_text(&p, serial);
	return db_get1(db, &st_get, &p, sizeof(*out), keyarch_row, out);
}

int
db_keyrec_request(struct db *db, long long archive_id, const char *by,
    long long *id)
{
	struct db_params p = {0};
	int rc;

	*id = 0;
	if (archive_id <= 0 || by == NULL || by[0] == '\0') {
		db_seterr(db, "keyrec request failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, archive_id);
	db_param_text(&p, by);
	if ((rc = db_get_int8(db, &st_rec_insert, &p, id)) == 0) {
		db_seterr(db, "keyrec request failed: unexpected result");
		rc = -1;
	}
	return rc;
}

int
db_keyrec_decide(struct db *db, long long id, int approve, const char *by,
    long long *ca_id)
{
	struct db_params p = {0};
	long long v = 0;
	int rc;

	if (ca_id != NULL)
		*ca_id = 0;
	if (id <= 0 || by == NULL || by[0] == '\0') {
		db_seterr(db, "keyrec decide failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, id);
	db_param_text(&p, approve ? "approved" : "rejected");
	db_param_text(&p, by);
	rc = db_get_int8(db, &st_rec_decide, &p, &v);
	if (rc == 1 && ca_id != NULL)
		*ca_id = v;
	return rc;
}

int
db_keyrec_take(struct db *db, long long id, long long archive_id)
{
	struct db_params p = {0};

	if (id <= 0 || archive_id <= 0) {
		db_seterr(db, "keyrec take failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, id);
	db_param_int8(&p, archive_id);
	return db_update(db, &st_rec_take, &p, NULL);
}

/* One bytea column into *w. */
static int
fetch_row(const PGresult *res, int i, void *e)
{
	struct db_row r = {res, i, 0, 0};
	struct db_keyarch *k = e;

	k->wrapped = db_col_memdup(&r, 0, &k->wrapped_len);
	if (r.bad || k->wrapped == NULL) {
		db_keyarch_clear(k);
		return 0;
	}
	return 1;
}

int
db_keyarch_fetch(struct db *db, long long cert_id, const char *actor,
    unsigned char **wrapped, size_t *len)
{
	struct db_params p = {0};
	struct db_keyarch k;
	int rc;

	*wrapped = NULL;
	*len = 0;
	if (cert_id <= 0 || actor == NULL || actor[0] == '\0') {
		db_seterr(db, "keyarch fetch failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, cert_id);
	db_param_text(&p, actor);
	rc = db_get1(db, &st_fetch, &p, sizeof(k), fetch_row, &k);
	if (rc == 1) {
		*wrapped = k.wrapped;
		*len = k.wrapped_len;
	}
	return rc;
}
