/*
 * db_ocsp_answer.c - OCSP answers produced ahead of time (table
 * ocsp_answer, migration 023): read with the certificate's status in one
 * statement, stored only while that status holds, and the housekeeper's
 * list of answers to (re)produce.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

static const char *const ocsp_status_names[] = {
	[DB_OCSP_GOOD] = "good",
	[DB_OCSP_REVOKED] = "revoked",
	[DB_OCSP_UNKNOWN] = "unknown",
};
static const struct db_names ocsp_status_tab = DB_NAMES(ocsp_status_names);

/* The certificate's status and its answer for md (LEFT JOIN: none). */
static const struct db_stmt st_get = {DB_ST_OCSP_ANSWER_GET,
    "ocsp_answer_get",
    "SELECT c.status, " DB_EPOCH("c.revoked_at") ", c.reason, a.status,"
    " a.reason, " DB_EPOCH("a.revoked_at") ", a.signer_id, "
    DB_EPOCH("a.this_update") ", " DB_EPOCH("a.next_update") ","
    " a.stale::int, a.der FROM cert c LEFT JOIN ocsp_answer a"
    " ON a.ca_id = c.ca_id AND a.serial = c.serial AND a.md = $3::text"
    " WHERE c.ca_id = $1::bigint AND c.serial = $2::text"};
/* Only while the certificate has the status signed: a revocation that
 * committed before this statement started leaves nothing behind, one
 * after it marks the row stale (cmpca_ocsp_stale). */
static const struct db_stmt st_put = {DB_ST_OCSP_ANSWER_PUT,
    "ocsp_answer_put",
    "INSERT INTO ocsp_answer (ca_id, serial, md, status, reason,"
    " revoked_at, signer_id, this_update, next_update, stale, der)"
    " SELECT c.ca_id, c.serial, $3::text, $4::text, $5::int,"
    " to_timestamp($6::bigint), $7::bigint, to_timestamp($8::bigint),"
    " to_timestamp($9::bigint), false, $10::bytea FROM cert c"
    " WHERE c.ca_id = $1::bigint AND c.serial = $2::text"
    " AND CASE c.status WHEN 'valid' THEN 'good'"
    " WHEN 'unconfirmed' THEN 'unknown' ELSE 'revoked' END = $4::text"
    " AND (c.status NOT IN ('revoked', 'rejected') OR "
    DB_EPOCH("c.revoked_at") " IS NOT DISTINCT FROM $6::bigint)"
    " ON CONFLICT (ca_id, serial, md) DO UPDATE SET"
    " status = EXCLUDED.status, reason = EXCLUDED.reason,"
    " revoked_at = EXCLUDED.revoked_at, signer_id = EXCLUDED.signer_id,"
    " this_update = EXCLUDED.this_update,"
    " next_update = EXCLUDED.next_update, stale = false,"
    " der = EXCLUDED.der"};
/* Stale first, then by nextUpdate (ocsp_answer_next_idx and
 * ocsp_answer_stale_idx); certificates that expired are left to the
 * prune. */
static const struct db_stmt st_due = {DB_ST_OCSP_ANSWER_DUE,
    "ocsp_answer_due",
    "SELECT a.ca_id, a.serial, a.md, c.status, " DB_EPOCH("c.revoked_at")
    ", c.reason FROM ocsp_answer a JOIN cert c"
    " ON c.ca_id = a.ca_id AND c.serial = a.serial"
    " WHERE (a.stale OR a.next_update < now() +"
    " make_interval(secs => $1::bigint))"
    " AND (c.not_after IS NULL OR c.not_after > now())"
    " ORDER BY a.stale DESC, a.next_update LIMIT $2::bigint"};
/* Certificates a relying party may ask about and that have no answer:
 * valid or revoked, not expired, of a CA row whose key is here and that
 * can sign (an active CA with a signer, or an old key signing itself):
 * others would fill every batch with answers that cannot be made. */
static const struct db_stmt st_missing = {DB_ST_OCSP_ANSWER_MISSING,
    "ocsp_answer_missing",
    "SELECT c.ca_id, c.serial, 'sha1', c.status, " DB_EPOCH("c.revoked_at")
    ", c.reason FROM cert c JOIN ca ON ca.id = c.ca_id"
    " WHERE c.status IN ('valid', 'revoked')"
    " AND (c.not_after IS NULL OR c.not_after > now())"
    " AND ((ca.status = 'active' AND EXISTS (SELECT 1 FROM ocsp_signer s"
    " WHERE s.ca_id = ca.id)) OR (ca.status = 'retired'"
    " AND ca.key_of IS NOT NULL))"
    " AND NOT EXISTS (SELECT 1 FROM ocsp_answer a WHERE a.ca_id = c.ca_id"
    " AND a.serial = c.serial AND a.md = 'sha1')"
    " LIMIT $1::bigint"};
static const struct db_stmt st_prune = {DB_ST_OCSP_ANSWER_PRUNE,
    "ocsp_answer_prune",
    "DELETE FROM ocsp_answer a WHERE a.next_update < now()"
    " AND NOT EXISTS (SELECT 1 FROM cert c WHERE c.ca_id = a.ca_id"
    " AND c.serial = a.serial"
    " AND (c.not_after IS NULL OR c.not_after > now()))"};
static const struct db_stmt st_count = {DB_ST_OCSP_ANSWER_COUNT,
    "ocsp_answer_count",
    "SELECT count(*), count(*) FILTER (WHERE NOT stale) FROM ocsp_answer"};

/* Safe to call with NULL. */
void
db_ocsp_answer_clear(struct db_ocsp_answer *a)
{
	if (a == NULL)
		return;
	free(a->der);
	memset(a, 0, sizeof(*a));
	a->reason = -1;
}

static int
md_ok(const char *md)
{
	return md != NULL && (strcmp(md, "sha1") == 0 ||
	    strcmp(md, "sha256") == 0 || strcmp(md, "sha384") == 0 ||
	    strcmp(md, "sha512") == 0);
}

/* A certificate status by its name; 0 if none. */
static enum db_cert_status
cert_status_of(const char *name)
{
	int i;

	for (i = DB_CERT_UNCONFIRMED; i <= DB_CERT_REJECTED; i++)
		if (strcmp(name, db_cert_status_name(i)) == 0)
			return (enum db_cert_status)i;
	return 0;
}

int
db_ocsp_answer_get(struct db *db, long long ca_id, const char *serial,
    const char *md, struct db_cert_state *cert, struct db_ocsp_answer *out)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	char cst[16], ast[16];
	int rc = -1;

	memset(cert, 0, sizeof(*cert));
	cert->reason = -1;
	memset(out, 0, sizeof(*out));
	out->reason = -1;
	if (!db_fixed_ok(serial, DB_SERIAL_MAX) || !md_ok(md)) {
		db_stmt_err(db, &st_get, "invalid argument");
		return -1;
	}
	db_param_int8(&p, ca_id);
	db_param_text(&p, serial);
	db_param_text(&p, md);
	if (db_run(db, &st_get, &p, &res) != 1)
		goto out;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	r = (struct db_row){res, 0, 0, 0};
	db_col_text(&r, 0, cst, sizeof(cst));
	cert->revoked_at = db_col_time(&r, 1);
	cert->reason = db_col_int4(&r, 2, -1);
	db_col_text(&r, 3, ast, sizeof(ast));
	out->reason = db_col_int4(&r, 4, -1);
	out->revoked_at = db_col_time(&r, 5);
	out->signer_id = db_col_int8(&r, 6);
	out->this_update = db_col_time(&r, 7);
	out->next_update = db_col_time(&r, 8);
	out->stale = db_col_int4(&r, 9, 0);
	out->der = db_col_memdup(&r, 10, &out->der_len);
	cert->status = cert_status_of(cst);
	out->status = (enum db_ocsp_status)db_name_parse(&ocsp_status_tab,
	    ast);
	if (r.bad || cert->status == 0 ||
	    (out->der != NULL && out->status == DB_OCSP_NONE)) {
		db_stmt_err(db, &st_get, "unexpected result");
		db_ocsp_answer_clear(out);
		goto out;
	}
	if (out->der != NULL) {
		out->ca_id = ca_id;
		snprintf(out->serial, sizeof(out->serial), "%s", serial);
		snprintf(out->md, sizeof(out->md), "%s", md);
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

int
db_ocsp_answer_put(struct db *db, const struct db_ocsp_answer *a)
{
	struct db_params p = {0};
	const char *st = db_name_of(&ocsp_status_tab, (int)a->status);

	if (!db_fixed_ok(a->serial, DB_SERIAL_MAX) || !md_ok(a->md) ||
	    st == NULL || a->der == NULL || a->der_len == 0 ||
	    a->this_update == 0 || a->next_update == 0) {
		db_stmt_err(db, &st_put, "invalid argument");
		return -1;
	}
	db_param_int8(&p, a->ca_id);
	db_param_text(&p, a->serial);
	db_param_text(&p, a->md);
	db_param_text(&p, st);
	if (a->reason >= 0)
		db_param_int8(&p, a->reason);
	else
		db_param_text(&p, NULL);
	db_param_time(&p, a->status == DB_OCSP_REVOKED ? a->revoked_at : 0);
	db_param_int8(&p, a->signer_id);
	db_param_time(&p, a->this_update);
	db_param_time(&p, a->next_update);
	db_param_bytea(&p, a->der, a->der_len);
	return db_update(db, &st_put, &p, NULL);
}

/* Row of st_due / st_missing (for db_getn). */
static int
due_row(const PGresult *res, int i, void *e)
{
	struct db_ocsp_due *d = e;
	struct db_row r = {res, i, 0, 0};

	char cst[16];

	d->ca_id = db_col_int8(&r, 0);
	db_col_text(&r, 1, d->serial, sizeof(d->serial));
	db_col_text(&r, 2, d->md, sizeof(d->md));
	db_col_text(&r, 3, cst, sizeof(cst));
	d->cert.status = cert_status_of(cst);
	d->cert.revoked_at = db_col_time(&r, 4);
	d->cert.reason = db_col_int4(&r, 5, -1);
	return !r.bad && d->cert.status != 0;
}

static void
due_clear(void *e)
{
	(void)e;
}

int
db_ocsp_answer_due(struct db *db, long margin, int missing, size_t max,
    struct db_ocsp_due **out, size_t *n)
{
	struct db_params p = {0}, q = {0};
	struct db_ocsp_due *a = NULL, *b = NULL, *all;
	size_t na = 0, nb = 0;

	*out = NULL;
	*n = 0;
	if (max == 0)
		return 1;
	db_param_int8(&p, margin);
	db_param_int8(&p, (long long)max);
	if (db_getn(db, &st_due, &p, sizeof(*a), due_row, due_clear,
		(void **)&a, &na) != 1)
		return -1;
	if (missing && na < max) {
		db_param_int8(&q, (long long)(max - na));
		if (db_getn(db, &st_missing, &q, sizeof(*b), due_row,
			due_clear, (void **)&b, &nb) != 1) {
			free(a);
			return -1;
		}
	}
	if (nb == 0) {
		*out = a; /* the caller frees it */
		*n = na;
		return 1;
	}
	if ((all = realloc(a, (na + nb) * sizeof(*all))) == NULL) {
		free(a);
		free(b);
		db_stmt_err(db, &st_missing, "out of memory");
		return -1;
	}
	memcpy(all + na, b, nb * sizeof(*b));
	free(b);
	*out = all;
	*n = na + nb;
	return 1;
}

int
db_ocsp_answer_prune(struct db *db, long long *rows)
{
	struct db_params p = {0};

	return db_update(db, &st_prune, &p, rows) < 0 ? -1 : 1;
}

int
db_ocsp_answer_count(struct db *db, long long *all, long long *fresh)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	int rc = -1;

	*all = *fresh = 0;
	if (db_run(db, &st_count, &p, &res) != 1)
		return -1;
	r = (struct db_row){res, 0, 0, 0};
	if (PQntuples(res) == 1) {
		*all = db_col_int8(&r, 0);
		*fresh = db_col_int8(&r, 1);
	}
	if (PQntuples(res) != 1 || r.bad)
		db_stmt_err(db, &st_count, "unexpected result");
	else
		rc = 1;
	PQclear(res);
	return rc;
}
