/*
 * db_crl.c - CRLs issued (table crl) and the revoked entries they list.
 *
 * Issuing is serialised per CA across workers and hosts by a transaction
 * advisory lock taken in db_crl_next(), which also returns the next CRL
 * number (one sequence per issuer name: an identity and its old keys); the caller builds and signs the CRL, db_crl_insert() stores it,
 * and db_commit() releases the lock.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

/* First key of the advisory lock: "crl" in ASCII. */
#define CRL_LOCK_CLASS 0x63726cL

/*
 * Two statements, lock first: under READ COMMITTED a statement reads the
 * snapshot taken when it started, so a max() in the statement that waited
 * for the lock would not see the CRL its holder committed meanwhile.
 * Both work on the issuer name's family: an identity and its earlier keys
 * (rows with key_of, after `ca rollover`) share the issuer name, so their
 * CRL numbers share one sequence (RFC 5280 §5.2.3) and one lock.
 */
#define CRL_FAMILY(id) \
    "(SELECT coalesce(key_of, id) FROM ca WHERE id = " id ")"
static const struct db_stmt st_lock = {DB_ST_CRL_LOCK, "crl_lock",
    "SELECT pg_advisory_xact_lock($2::int, " CRL_FAMILY("$1::bigint")
    "::int)"};
static const struct db_stmt st_next = {DB_ST_CRL_NEXT, "crl_next",
    "SELECT (coalesce(max(c.number), 0) + 1)::bigint FROM crl c"
    " JOIN ca a ON a.id = c.ca_id"
    " WHERE coalesce(a.key_of, a.id) = " CRL_FAMILY("$1::bigint")};
static const struct db_stmt st_insert = {DB_ST_CRL_INSERT, "crl_insert",
    "INSERT INTO crl (ca_id, number, this_update, next_update, entries, der,"
    " delta_of) VALUES ($1::bigint, $2::bigint, to_timestamp($3::bigint),"
    " to_timestamp($4::bigint), $5::int, $6::bytea,"
    " nullif($7::bigint, 0))"};
/* Complete CRLs ($2 false) or deltas ($2 true, 028): crl_kind_idx. */
#define CRL_KIND " AND (delta_of IS NULL) = NOT $2::boolean"
static const struct db_stmt st_number = {DB_ST_CRL_NUMBER, "crl_number",
    "SELECT number FROM crl WHERE ca_id = $1::bigint" CRL_KIND
    " ORDER BY number DESC LIMIT 1"};
static const struct db_stmt st_latest = {DB_ST_CRL_LATEST, "crl_latest",
    "SELECT number, " DB_EPOCH("this_update") ", " DB_EPOCH("next_update")
    ", entries, der, coalesce(delta_of, 0) FROM crl WHERE ca_id = $1::bigint"
    CRL_KIND " ORDER BY number DESC LIMIT 1"};
static const struct db_stmt st_revoked = {DB_ST_CERT_REVOKED, "cert_revoked",
    "SELECT serial, " DB_EPOCH("revoked_at") ", coalesce(reason, 0), "
    DB_EPOCH("invalidity_date") " FROM cert WHERE ca_id = $1::bigint"
    " AND revoked_at IS NOT NULL" /* cert_revoked_at_idx (012) */
    " AND status IN ('revoked', 'rejected') AND not_after > now()"
    " ORDER BY revoked_at, id"};

static const struct db_stmt st_invalidity = {DB_ST_CERT_INVALIDITY,
    "cert_invalidity",
    "UPDATE cert SET invalidity_date = to_timestamp($2::bigint)"
    " WHERE id = $1::bigint"};

void
db_crl_clear(struct db_crl *c)
{
	if (c == NULL)
		return;
	free(c->der);
	memset(c, 0, sizeof(*c));
}

int
db_crl_next(struct db *db, long long ca_id, long long *number)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc;

	*number = 0;
	db_param_int8(&p, ca_id);
	db_param_int8(&p, CRL_LOCK_CLASS);
	rc = db_run(db, &st_lock, &p, &res);
	PQclear(res);
	if (rc != 1)
		return -1;
	/* The lock is held: the number is read in a fresh snapshot. */
	memset(&p, 0, sizeof(p));
	db_param_int8(&p, ca_id);
	if ((rc = db_get_int8(db, &st_next, &p, number)) == 0) {
		db_seterr(db, "crl next failed: unexpected result");
		rc = -1;
	}
	return rc;
}

int
db_crl_insert(struct db *db, long long ca_id, const struct db_crl *c)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc;

	db_param_int8(&p, ca_id);
	db_param_int8(&p, c->number);
	db_param_int8(&p, (long long)c->this_update);
	db_param_int8(&p, (long long)c->next_update);
	db_param_int8(&p, c->entries);
	db_param_bytea(&p, c->der, c->der_len);
	db_param_int8(&p, c->delta_of);
	rc = db_run(db, &st_insert, &p, &res);
	PQclear(res);
	return rc;
}

/* Row of st_latest into a db_crl (for db_get1). */
static int
crl_row(const PGresult *res, int i, void *e)
{
	struct db_crl *c = e;
	struct db_row r = {res, i, 0, 0};

	c->number = db_col_int8(&r, 0);
	c->this_update = db_col_time(&r, 1);
	c->next_update = db_col_time(&r, 2);
	c->entries = db_col_int4(&r, 3, 0);
	c->der = db_col_memdup(&r, 4, &c->der_len);
	c->delta_of = db_col_int8(&r, 5);
	if (r.bad || c->der == NULL) {
		db_crl_clear(c);
		return 0;
	}
	return 1;
}

/* The newest complete CRL (delta 0) or delta CRL (1) of a CA. */
static int
crl_latest(struct db *db, long long ca_id, int delta, struct db_crl *out)
{
	struct db_params p = {0};

	db_param_int8(&p, ca_id);
	db_param_text(&p, delta ? "t" : "f");
	return db_get1(db, &st_latest, &p, sizeof(*out), crl_row, out);
}

static int
crl_latest_number(struct db *db, long long ca_id, int delta,
    long long *number)
{
	struct db_params p = {0};

	db_param_int8(&p, ca_id);
	db_param_text(&p, delta ? "t" : "f");
	return db_get_int8(db, &st_number, &p, number);
}

int
db_crl_latest(struct db *db, long long ca_id, struct db_crl *out)
{
	return crl_latest(db, ca_id, 0, out);
}

int
db_crl_latest_number(struct db *db, long long ca_id, long long *number)
{
	return crl_latest_number(db, ca_id, 0, number);
}

int
db_crl_delta_latest(struct db *db, long long ca_id, struct db_crl *out)
{
	return crl_latest(db, ca_id, 1, out);
}

int
db_crl_delta_latest_number(struct db *db, long long ca_id,
    long long *number)
{
	return crl_latest_number(db, ca_id, 1, number);
}

int
db_cert_revoked_each(struct db *db, long long ca_id,
    int (*cb)(void *arg, const char *serial, time_t when, int reason,
	time_t invalid),
    void *arg)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int i, n, rc = -1;

	db_param_int8(&p, ca_id);
	if (db_run(db, &st_revoked, &p, &res) != 1)
		goto out;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct db_row r = {res, i, 0, 0};
		char serial[DB_SERIAL_MAX];
		time_t when, invalid;
		int reason;

		db_col_text(&r, 0, serial, sizeof(serial));
		when = db_col_time(&r, 1);
		reason = db_col_int4(&r, 2, 0);
		invalid = db_col_time(&r, 3);
		if (r.bad) {
			db_seterr(db, "cert revoked failed: unexpected result");
			goto out;
		}
		if (!cb(arg, serial, when, reason, invalid)) {
			db_seterr(db, "cert revoked: callback failed");
			goto out;
		}
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

int
db_cert_set_invalidity(struct db *db, long long id, time_t when)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc;

	db_param_int8(&p, id);
	db_param_time(&p, when);
	rc = db_run(db, &st_invalidity, &p, &res);
	PQclear(res);
	return rc;
}

/* CRLs due (017_revocation.sql). */
static const struct db_stmt st_due_take = {DB_ST_CRL_DUE_TAKE, "crl_due_take",
    "DELETE FROM crl_due WHERE ca_id = $1::bigint"};
static const struct db_stmt st_due_mark = {DB_ST_CRL_DUE_MARK, "crl_due_mark",
    "INSERT INTO crl_due (ca_id, urgent) VALUES ($1::bigint, true)"
    " ON CONFLICT (ca_id) DO UPDATE SET urgent = true"};
static const struct db_stmt st_due_since = {DB_ST_CRL_DUE_SINCE,
    "crl_due_since",
    "SELECT " DB_EPOCH("since") " FROM crl_due WHERE ca_id = $1::bigint"};
static const struct db_stmt st_due_list = {DB_ST_CRL_DUE_LIST, "crl_due_list",
    "SELECT ca_id FROM crl_due WHERE urgent"
    " OR since <= clock_timestamp() - make_interval(secs => $1::bigint)"
    " ORDER BY since"};

int
db_crl_due_take(struct db *db, long long ca_id)
{
	struct db_params p = {0};

	db_param_int8(&p, ca_id);
	return db_update(db, &st_due_take, &p, NULL);
}

int
db_crl_due_mark(struct db *db, long long ca_id)
{
	struct db_params p = {0};

	db_param_int8(&p, ca_id);
	return db_run_simple(db, &st_due_mark, &p);
}

int
db_crl_due_since(struct db *db, long long ca_id, time_t *since)
{
	struct db_params p = {0};
	long long v = 0;
	int rc;

	db_param_int8(&p, ca_id);
	rc = db_get_int8(db, &st_due_since, &p, &v);
	*since = (time_t)v;
	return rc;
}

/* Row of st_due_list (for db_getn). */
static int
due_row(const PGresult *res, int i, void *e)
{
	struct db_row r = {res, i, 0, 0};

	*(long long *)e = db_col_int8(&r, 0);
	return !r.bad;
}

static void
due_clear(void *e)
{
	(void)e;
}

int
db_crl_due_list(struct db *db, long delay, long long **ids, size_t *n)
{
	struct db_params p = {0};
	void *out = NULL;
	int rc;

	db_param_int8(&p, delay);
	rc = db_getn(db, &st_due_list, &p, sizeof(long long), due_row,
	    due_clear, &out, n);
	*ids = out;
	return rc;
}
