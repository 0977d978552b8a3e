/*
 * db_pending.c - requests waiting for an operator's decision (table
 * pending_req), for delayed delivery (RFC 9810 §5.3.22).
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define PENDING_COLS                                                        \
	"id, txid, cert_req_id, ca_id, kind, requester, profile, subject, " \
	"request, replaces, status, reason, decided_by, " DB_EPOCH("created")

#define PENDING_LIST_DEFAULT 100

static const struct db_stmt st_insert = {DB_ST_PENDING_INSERT,
    "pending_insert",
    "INSERT INTO pending_req (txid, cert_req_id, ca_id, kind, requester,"
    " profile, subject, request, replaces, status)"
    " VALUES ($1::bytea, $2::int, $3::bigint, $4::text, $5::text, $6::text,"
    " $7::text, $8::bytea, $9::bigint, $10::text) RETURNING id"};
static const struct db_stmt st_list_by_txn = {DB_ST_PENDING_LIST_BY_TXN,
    "pending_list_by_txn",
    "SELECT " PENDING_COLS " FROM pending_req WHERE txid = $1::bytea"
    " ORDER BY cert_req_id"};
static const struct db_stmt st_list = {DB_ST_PENDING_LIST, "pending_list",
    "SELECT " PENDING_COLS " FROM pending_req"
    " WHERE ($1::bigint = 0 OR ca_id = $1::bigint)"
    " AND ($2::text IS NULL OR status = $2::text)"
    " ORDER BY created, id LIMIT $3::int"};
static const struct db_stmt st_decide = {DB_ST_PENDING_DECIDE,
    "pending_decide",
    "UPDATE pending_req SET status = $2::text, reason = $3::text,"
    " decided_by = $4::text, decided_at = now()"
    " WHERE id = $1::bigint AND status = 'pending' RETURNING ca_id"};
static const struct db_stmt st_up_decide = {DB_ST_PENDING_UP_DECIDE,
    "pending_upstream_decide",
    "UPDATE pending_req SET status = $3::text, reason = $4::text,"
    " decided_by = CASE WHEN $3::text = 'upstream' THEN decided_by"
    " ELSE 'upstream' END, decided_at = now()"
    " WHERE txid = $1::bytea AND cert_req_id = $2::bigint::int"
    " AND status = $5::text"};

static const char *const pending_tbl[] = {
    [DB_PENDING_PENDING] = "pending",
    [DB_PENDING_APPROVED] = "approved",
    [DB_PENDING_REJECTED] = "rejected",
    [DB_PENDING_UPSTREAM] = "upstream",
};
static const struct db_names pending_status = DB_NAMES(pending_tbl);

const char *
db_pending_status_name(enum db_pending_status s)
{
	const char *n = db_name_of(&pending_status, s);

	return n != NULL ? n : "unknown";
}

void
db_pending_clear(struct db_pending *p)
{
	if (p == NULL)
		return;
	free(p->requester);
	free(p->subject);
	free(p->request);
	free(p->reason);
	free(p->decided_by);
	memset(p, 0, sizeof(*p));
}

void
db_pending_array_free(struct db_pending *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_pending_clear(&a[i]);
	free(a);
}

/* Fills p from row i. Returns 1, or 0 on an unexpected row. */
static int
pending_from_row(const PGresult *res, int i, struct db_pending *p)
{
	struct db_row r = {res, i, 0, 0};
	char status[16];

	memset(p, 0, sizeof(*p));
	p->id = db_col_int8(&r, 0);
	db_col_bytes(&r, 1, p->txid, sizeof(p->txid), &p->txid_len);
	p->cert_req_id = db_col_int4(&r, 2, 0);
	p->ca_id = db_col_int8(&r, 3);
	db_col_text(&r, 4, p->kind, sizeof(p->kind));
	p->requester = db_col_strdup(&r, 5);
	db_col_text(&r, 6, p->profile, sizeof(p->profile));
	p->subject = db_col_strdup(&r, 7);
	p->request = db_col_memdup(&r, 8, &p->request_len);
	p->replaces = db_col_int8(&r, 9);
	db_col_text(&r, 10, status, sizeof(status));
	p->reason = db_col_strdup(&r, 11);
	p->decided_by = db_col_strdup(&r, 12);
	p->created = db_col_time(&r, 13);
	p->status = db_name_parse(&pending_status, status);
	if (r.bad || p->status == 0 || p->request == NULL ||
	    p->requester == NULL || p->subject == NULL) {
		db_pending_clear(p);
		return 0;
	}
	return 1;
}

/* Adapters for db_getn(). */
static int
pending_row(const PGresult *res, int i, void *e)
{
	return pending_from_row(res, i, e);
}

static void
pending_clr(void *e)
{
	db_pending_clear(e);
}

/* Runs a multi-row query into an array. Returns 1 or -1. */
static int
pending_getn(struct db *db, const struct db_stmt *st,
    const struct db_params *p, struct db_pending **out, size_t *n)
{
	void *a = NULL;
	int rc = db_getn(db, st, p, sizeof(**out), pending_row, pending_clr, &a,
	    n);

	*out = a;
	return rc;
}

int
db_pending_insert(struct db *db, struct db_pending *p)
{
	struct db_params prm = {0};
	int rc = -1;

	if (p->txid_len == 0 || p->txid_len > DB_TXID_MAX || p->ca_id <= 0 ||
	    p->requester == NULL || p->subject == NULL || p->request == NULL ||
	    p->request_len == 0 || !db_fixed_ok(p->kind, sizeof(p->kind)) ||
	    !db_fixed_ok(p->profile, sizeof(p->profile))) {
		db_seterr(db, "pending insert failed: invalid argument");
		return -1;
	}
	db_param_bytea(&prm, p->txid, p->txid_len);
	db_param_int8(&prm, p->cert_req_id);
	db_param_int8(&prm, p->ca_id);
	db_param_text(&prm, p->kind);
	db_param_text(&prm, p->requester);
	db_param_text(&prm, p->profile);
	db_param_text(&prm, p->subject);
	db_param_bytea(&prm, p->request, p->request_len);
	db_param_id(&prm, p->replaces);
	db_param_text(&prm, p->status == DB_PENDING_UPSTREAM ? "upstream"
							    : "pending");
	if ((rc = db_get_int8(db, &st_insert, &prm, &p->id)) == 0) {
		db_seterr(db, "pending insert failed: unexpected result");
		rc = -1;
	}
	return rc;
}

int
db_pending_list_by_txn(struct db *db, const unsigned char *txid,
    size_t txid_len, struct db_pending **out, size_t *n)
{
	struct db_params p = {0};

	*out = NULL;
	*n = 0;
	if (txid == NULL || txid_len == 0 || txid_len > DB_TXID_MAX) {
		db_seterr(db, "pending list by txn failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, txid, txid_len);
	return pending_getn(db, &st_list_by_txn, &p, out, n);
}

int
db_pending_list(struct db *db, long long ca_id, enum db_pending_status status,
    int limit, struct db_pending **out, size_t *n)
{
	struct db_params p = {0};

	*out = NULL;
	*n = 0;
	if (status != 0 && db_name_of(&pending_status, status) == NULL) {
		db_seterr(db, "pending list failed: invalid status");
		return -1;
	}
	db_param_int8(&p, ca_id);
	db_param_text(&p, db_name_of(&pending_status, status));
	db_param_int8(&p, limit > 0 ? limit : PENDING_LIST_DEFAULT);
	return pending_getn(db, &st_list, &p, out, n);
}

int
db_pending_decide(struct db *db, long long id, enum db_pending_status status,
    const char *reason, const char *by, long long *ca_id)
{
	struct db_params p = {0};
	long long v;

	if (ca_id != NULL)
		*ca_id = 0;
	if (status != DB_PENDING_APPROVED && status != DB_PENDING_REJECTED) {
		db_seterr(db, "pending decide failed: invalid status");
		return -1;
	}
	db_param_int8(&p, id);
	db_param_text(&p, db_name_of(&pending_status, status));
	db_param_text(&p, reason);
	db_param_text(&p, by);
	return db_get_int8(db, &st_decide, &p, ca_id != NULL ? ca_id : &v);
}

int
db_pending_upstream_decide(struct db *db, const unsigned char *txid,
    size_t txid_len, int cert_req_id, enum db_pending_status from,
    enum db_pending_status status, const char *reason)
{
	struct db_params p = {0};

	if (txid_len == 0 || txid_len > DB_TXID_MAX ||
	    (from != DB_PENDING_UPSTREAM && from != DB_PENDING_APPROVED) ||
	    status == from || (status != DB_PENDING_APPROVED &&
	    status != DB_PENDING_REJECTED && status != DB_PENDING_UPSTREAM)) {
		db_seterr(db, "pending upstream decide failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, txid, txid_len);
	db_param_int8(&p, cert_req_id);
	db_param_text(&p, db_name_of(&pending_status, status));
	db_param_text(&p, reason);
	db_param_text(&p, db_name_of(&pending_status, from));
	return db_update(db, &st_up_decide, &p, NULL);
}
