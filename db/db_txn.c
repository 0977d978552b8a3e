/*
 * db_txn.c - CMP transactions (table cmp_txn) and replay nonces (table
 * seen_nonce).
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

static const struct db_stmt st_insert = {DB_ST_TXN_INSERT, "txn_insert",
    "INSERT INTO cmp_txn (id, ca_id, sender, kind, state, last_nonce, pvno,"
    " expires, updated)"
    " VALUES ($1::bytea, $2::bigint, $3::text, $4::text, $5::text,"
    " $6::bytea, $7::int, to_timestamp($8::bigint), now())"
    " ON CONFLICT (id) DO NOTHING"};
static const struct db_stmt st_get = {DB_ST_TXN_GET, "txn_get",
    "SELECT id, ca_id, sender, kind, state, last_nonce, pvno, "
    DB_EPOCH("expires") ", " DB_EPOCH("created")
    " FROM cmp_txn WHERE id = $1::bytea"};
/* The transaction and its certificates in one round trip (certConf,
 * error): cert columns from column 9, NULL when it has none. */
static const struct db_stmt st_get_certs = {DB_ST_TXN_GET_CERTS,
    "txn_get_certs",
    "SELECT t.id, t.ca_id, t.sender, t.kind, t.state, t.last_nonce, t.pvno, "
    DB_EPOCH("t.expires") ", " DB_EPOCH("t.created") ", c.*"
    " FROM cmp_txn t LEFT JOIN LATERAL (SELECT " DB_CERT_COLS
    " FROM cert WHERE txid = t.id) c ON true WHERE t.id = $1::bytea"
    " ORDER BY c.cert_req_id, c.id"};
/* A NULL nonce keeps the recorded one. */
static const struct db_stmt st_advance = {DB_ST_TXN_ADVANCE, "txn_advance",
    "UPDATE cmp_txn SET state = $3::text,"
    " last_nonce = coalesce($4::bytea, last_nonce), updated = now(),"
    /* Entering wait_conf late (after approval): a fresh timeout. */
    " expires = CASE WHEN $3::text = 'wait_conf' AND $2::text <> 'wait_conf'"
    " THEN now() + (expires - created) ELSE expires END"
    " WHERE id = $1::bytea AND state = $2::text"};
static const struct db_stmt st_nonce = {DB_ST_NONCE_CLAIM, "nonce_claim",
    "INSERT INTO seen_nonce (nonce) SELECT $1::bytea"
    /* 025: an implicitly confirmed transaction keeps its own nonce. */
    " WHERE NOT EXISTS (SELECT 1 FROM cmp_txn WHERE req_nonce = $1::bytea)"
    " ON CONFLICT (nonce) DO NOTHING"};
/*
 * One statement, so it is atomic with respect to a concurrent certConf
 * (which advances only from wait_conf): abort expired transactions, reject
 * their unconfirmed certificates with a reason, and audit each one.
 */
static const struct db_stmt st_expire = {DB_ST_TXN_EXPIRE, "txn_expire",
    "WITH t AS (UPDATE cmp_txn SET state = 'aborted', updated = now()"
    "  WHERE state = 'wait_conf' AND expires < now() RETURNING id),"
    " c AS (UPDATE cert SET status = 'rejected', revoked_at = now(),"
    "  reason = $1::int WHERE txid IN (SELECT id FROM t)"
    "  AND status = 'unconfirmed' RETURNING ca_id, serial),"
    " a AS (INSERT INTO audit (event, ca_id, actor, detail)"
    "  SELECT 'expire', ca_id, 'cmpcad', serial FROM c RETURNING 1)"
    " SELECT (SELECT count(*) FROM t)::bigint,"
    " (SELECT count(*) FROM c)::bigint, (SELECT count(*) FROM a)::bigint"};
static const struct db_stmt st_nonce_prune = {DB_ST_NONCE_PRUNE,
    "nonce_prune",
    "DELETE FROM seen_nonce WHERE seen_at < now() - make_interval("
    "secs => $1::bigint)"};
static const struct db_stmt st_txn_prune = {DB_ST_TXN_PRUNE, "txn_prune",
    "DELETE FROM cmp_txn t WHERE state IN ('done', 'aborted')"
    " AND (updated < now() - make_interval(secs => $1::bigint)"
    " OR (updated IS NULL AND created < now() - make_interval("
    "secs => $1::bigint)))"
    " AND NOT EXISTS (SELECT 1 FROM pending_req q WHERE q.txid = t.id)"};

static const char *const txn_state_tbl[] = {
    [DB_TXN_WAIT_CONF] = "wait_conf",
    [DB_TXN_DONE] = "done",
    [DB_TXN_ABORTED] = "aborted",
    [DB_TXN_WAITING] = "waiting",
};
static const struct db_names txn_state = DB_NAMES(txn_state_tbl);

const char *
db_txn_state_name(enum db_txn_state s)
{
	const char *n = db_name_of(&txn_state, s);

	return n != NULL ? n : "unknown";
}

static int
txn_id_ok(const unsigned char *id, size_t len)
{
	return id != NULL && len > 0 && len <= DB_TXID_MAX;
}

int
db_txn_insert(struct db *db, const struct db_txn *t)
{
	struct db_params p = {0};

	if (!txn_id_ok(t->id, t->id_len) ||
	    db_name_of(&txn_state, t->state) == NULL ||
	    strnlen(t->sender, sizeof(t->sender)) == sizeof(t->sender) ||
	    strnlen(t->kind, sizeof(t->kind)) == sizeof(t->kind) ||
	    t->last_nonce_len > sizeof(t->last_nonce)) {
		db_seterr(db, "txn insert failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, t->id, t->id_len);
	db_param_id(&p, t->ca_id);
	db_param_text(&p, t->sender);
	db_param_text(&p, t->kind);
	db_param_text(&p, db_name_of(&txn_state, t->state));
	db_param_bytea(&p, t->last_nonce_len > 0 ? t->last_nonce : NULL,
	    t->last_nonce_len);
	db_param_int8(&p, t->pvno);
	db_param_time(&p, t->expires);
	return db_insert(db, &st_insert, &p, NULL);
}

/* Fills *out from the transaction columns of row i. 1, or 0 if bad. */
static int
txn_from_row(const PGresult *res, int i, struct db_txn *out)
{
	struct db_row r = {res, i, 0, 0};
	char state[16];

	memset(out, 0, sizeof(*out));
	db_col_bytes(&r, 0, out->id, sizeof(out->id), &out->id_len);
	out->ca_id = db_col_int8(&r, 1);
	db_col_text(&r, 2, out->sender, sizeof(out->sender));
	db_col_text(&r, 3, out->kind, sizeof(out->kind));
	db_col_text(&r, 4, state, sizeof(state));
	db_col_bytes(&r, 5, out->last_nonce, sizeof(out->last_nonce),
	    &out->last_nonce_len);
	out->pvno = db_col_int4(&r, 6, 0);
	out->expires = db_col_time(&r, 7);
	out->created = db_col_time(&r, 8);
	out->state = db_name_parse(&txn_state, state);
	if (r.bad || out->state == 0) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return 1;
}

/* Adapter for db_get1(). */
static int
txn_row(const PGresult *res, int i, void *out)
{
	return txn_from_row(res, i, out);
}

int
db_txn_get(struct db *db, const unsigned char *id, size_t id_len,
    struct db_txn *out)
{
	struct db_params p = {0};

	memset(out, 0, sizeof(*out));
	if (!txn_id_ok(id, id_len)) {
		db_seterr(db, "txn get failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, id, id_len);
	return db_get1(db, &st_get, &p, sizeof(*out), txn_row, out);
}

int
db_txn_get_certs(struct db *db, const unsigned char *id, size_t id_len,
    struct db_txn *out, struct db_cert **certs, size_t *n)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc = -1, i, rows;

	memset(out, 0, sizeof(*out));
	*certs = NULL;
	*n = 0;
	if (!txn_id_ok(id, id_len)) {
		db_seterr(db, "txn get failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, id, id_len);
	if (db_run(db, &st_get_certs, &p, &res) != 1)
		goto out;
	if ((rows = PQntuples(res)) == 0) {
		rc = 0;
		goto out;
	}
	if (!txn_from_row(res, 0, out))
		goto bad;
	if (!PQgetisnull(res, 0, 9)) {
		if ((*certs = calloc((size_t)rows, sizeof(**certs))) == NULL) {
			db_seterr(db, "txn get failed: out of memory");
			goto out;
		}
		for (i = 0; i < rows; i++, (*n)++)
			if (!db_cert_row(res, i, 9, &(*certs)[i]))
				goto bad;
	}
	rc = 1;
	goto out;
bad:
	db_seterr(db, "txn get failed: unexpected result");
	db_cert_array_free(*certs, *n);
	*certs = NULL;
	*n = 0;
	memset(out, 0, sizeof(*out));
out:
	PQclear(res);
	return rc;
}

int
db_txn_advance(struct db *db, const unsigned char *id, size_t id_len,
    enum db_txn_state from, enum db_txn_state to, const unsigned char *nonce,
    size_t nonce_len)
{
	struct db_params p = {0};

	if (!txn_id_ok(id, id_len) || db_name_of(&txn_state, from) == NULL ||
	    db_name_of(&txn_state, to) == NULL || nonce_len > DB_NONCE_MAX) {
		db_seterr(db, "txn advance failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, id, id_len);
	db_param_text(&p, db_name_of(&txn_state, from));
	db_param_text(&p, db_name_of(&txn_state, to));
	db_param_bytea(&p, nonce_len > 0 ? nonce : NULL, nonce_len);
	return db_update(db, &st_advance, &p, NULL);
}

int
db_nonce_claim(struct db *db, const unsigned char *nonce, size_t len)
{
	struct db_params p = {0};

	if (nonce == NULL || len == 0 || len > DB_NONCE_MAX) {
		db_seterr(db, "nonce claim failed: invalid nonce length");
		return -1;
	}
	db_param_bytea(&p, nonce, len);
	return db_insert(db, &st_nonce, &p, NULL);
}

int
db_txn_expire(struct db *db, int reason, long long *txns, long long *certs)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	int rc = -1;

	*txns = *certs = 0;
	db_param_int8(&p, reason);
	if (db_run(db, &st_expire, &p, &res) != 1)
		goto out;
	if (PQntuples(res) != 1) {
		db_seterr(db, "txn expire failed: unexpected result");
		goto out;
	}
	r = (struct db_row){res, 0, 0, 0};
	*txns = db_col_int8(&r, 0);
	*certs = db_col_int8(&r, 1);
	if (r.bad) {
		db_seterr(db, "txn expire failed: unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

int
db_nonce_prune(struct db *db, long long older_than, long long *pruned)
{
	struct db_params p = {0};

	*pruned = 0;
	if (older_than < 0) {
		db_seterr(db, "nonce prune failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, older_than);
	return db_update(db, &st_nonce_prune, &p, pruned) < 0 ? -1 : 1;
}

int
db_txn_prune(struct db *db, long long older_than, long long *pruned)
{
	struct db_params p = {0};

	*pruned = 0;
	if (older_than < 0) {
		db_seterr(db, "txn prune failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, older_than);
	return db_update(db, &st_txn_prune, &p, pruned) < 0 ? -1 : 1;
}
