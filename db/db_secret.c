/*
 * db_secret.c - enrollment secrets for MAC-based protection (table
 * enroll_secret).
 *
 * Callers store secrets sealed in the HSM (column secret_enc, see
 * hsm/hsm_aes.c and migration 011); this file never sees the key. The
 * clear column is read only for rows written before migration 011, which
 * `cmpca db migrate` seals (db_secret_list_clear, db_secret_set_sealed);
 * it also seals again the rows sealed in the older format 0x01.
 * Our copies are wiped: the bytes in a PGresult before PQclear(), the
 * struct's copies in db_secret_clear(). libpq's own socket buffers and the
 * server are out of our reach.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "db/db_int.h"

static const struct db_stmt st_insert = {DB_ST_SECRET_INSERT, "secret_insert",
    "INSERT INTO enroll_secret (ref, secret, allowed_subject, profile, ca_id,"
    " uses_left, expires, secret_enc, allowed_san)"
    " VALUES ($1::text, $2::bytea, $3::text, coalesce($4::text, 'default'),"
    " $5::bigint, $6::int, to_timestamp($7::bigint), $8::bytea, $9::text)"
    " ON CONFLICT (ref) DO NOTHING"};
static const struct db_stmt st_get = {DB_ST_SECRET_GET, "secret_get",
    "SELECT ref, secret, allowed_subject, profile, ca_id, uses_left, "
    DB_EPOCH("expires") ", " DB_EPOCH("created") ", secret_enc, xmin::text,"
    " allowed_san FROM enroll_secret WHERE ref = $1::text AND NOT disabled"};
/* In clear (before 011), or sealed in the token's format 0x01 (before
 * migration 012's release): both are sealed again in the current format. */
static const struct db_stmt st_clear_list = {DB_ST_SECRET_CLEAR_LIST,
    "secret_clear_list",
    "SELECT ref, secret, NULL::text, 'default', NULL::bigint, 0, NULL::bigint,"
    " NULL::bigint, CASE WHEN secret IS NULL THEN secret_enc END"
    " FROM enroll_secret WHERE secret IS NOT NULL"
    " OR get_byte(secret_enc, 0) = 1 ORDER BY ref"};
/*
 * `cmpca secret reseal`: every row not sealed in format 0x03 under key
 * version $1 (a 0x03 value starts with 0x03 and the version, 4 bytes
 * big-endian, as int4send writes it), locked until the caller commits.
 */
static const struct db_stmt st_reseal_list = {DB_ST_SECRET_RESEAL_LIST,
    "secret_reseal_list",
    "SELECT ref, secret, NULL::text, 'default', NULL::bigint, 0, NULL::bigint,"
    " NULL::bigint, CASE WHEN secret IS NULL THEN secret_enc END"
    " FROM enroll_secret WHERE secret IS NOT NULL"
    " OR substring(secret_enc FROM 1 FOR 5) IS DISTINCT FROM"
    " '\\x03'::bytea || int4send($1::int) ORDER BY ref FOR UPDATE"};
static const struct db_stmt st_seal = {DB_ST_SECRET_SEAL, "secret_seal",
    "UPDATE enroll_secret SET secret_enc = $2::bytea, secret = NULL"
    " WHERE ref = $1::text"};
/*
 * One row if the secret may be used once more: a limited one is counted
 * down under its row lock; an unlimited one (-1) is only read, so that
 * concurrent transactions on the same secret do not queue on its row
 * (migration 014 does the same in cmpca_cert_store).
 */
static const struct db_stmt st_consume = {DB_ST_SECRET_CONSUME,
    "secret_consume",
    "WITH u AS (UPDATE enroll_secret SET uses_left = uses_left - 1"
    " WHERE ref = $1::text AND uses_left > 0 AND NOT disabled"
    " AND (expires IS NULL OR expires > now()) RETURNING 1)"
    " SELECT 1 FROM u UNION ALL SELECT 1 FROM enroll_secret"
    " WHERE ref = $1::text AND uses_left = -1 AND NOT disabled"
    " AND (expires IS NULL OR expires > now())"
    " AND ($2::text IS NULL OR xmin::text = $2::text)"};
/* Same columns as st_get but the secret. */
static const struct db_stmt st_list = {DB_ST_SECRET_LIST, "secret_list",
    "SELECT ref, NULL::bytea, allowed_subject, profile, ca_id, uses_left, "
    DB_EPOCH("expires") ", " DB_EPOCH("created") ", NULL::bytea,"
    " NULL::text, allowed_san, disabled::int FROM enroll_secret ORDER BY ref"};
static const struct db_stmt st_disable = {DB_ST_SECRET_DISABLE,
    "secret_disable",
    "UPDATE enroll_secret SET disabled = $2::bigint <> 0 WHERE ref = $1::text"};
static const struct db_stmt st_remove = {DB_ST_SECRET_REMOVE, "secret_remove",
    "DELETE FROM enroll_secret WHERE ref = $1::text"};

void
db_secret_clear(struct db_secret *s)
{
	if (s == NULL)
		return;
	if (s->secret != NULL)
		OPENSSL_cleanse(s->secret, s->secret_len);
	free(s->secret);
	if (s->sealed != NULL)
		OPENSSL_cleanse(s->sealed, s->sealed_len);
	free(s->sealed);
	free(s->allowed_subject);
	free(s->allowed_san);
	OPENSSL_cleanse(s, sizeof(*s));
}

void
db_secret_array_free(struct db_secret *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_secret_clear(&a[i]);
	free(a);
}

/*
 * Wipes the secret column (1) of every row of res, then clears res. libpq
 * asks callers not to modify values, but each non-NULL value has its own
 * storage in the result, and this is the last use before PQclear().
 */
static void
secret_pqclear(PGresult *res)
{
	int i, n;

	if (res == NULL)
		return;
	n = PQntuples(res);
	if (PQnfields(res) > 1)
		for (i = 0; i < n; i++)
			if (!PQgetisnull(res, i, 1))
				OPENSSL_cleanse(PQgetvalue(res, i, 1),
				    (size_t)PQgetlength(res, i, 1));
	PQclear(res);
}

/* Fills *s from row i of res (secret column may be NULL). 1, or 0. */
static int
secret_from_row(const PGresult *res, int i, struct db_secret *s)
{
	struct db_row r = {res, i, 0, 0};

	memset(s, 0, sizeof(*s));
	db_col_text(&r, 0, s->ref, sizeof(s->ref));
	s->secret = db_col_memdup(&r, 1, &s->secret_len);
	s->allowed_subject = db_col_strdup(&r, 2);
	db_col_text(&r, 3, s->profile, sizeof(s->profile));
	s->ca_id = db_col_int8(&r, 4);
	s->uses_left = db_col_int4(&r, 5, 0);
	s->expires = db_col_time(&r, 6);
	s->created = db_col_time(&r, 7);
	s->sealed = db_col_memdup(&r, 8, &s->sealed_len);
	if (PQnfields(res) > 9)
		db_col_text(&r, 9, s->version, sizeof(s->version));
	if (PQnfields(res) > 10)
		s->allowed_san = db_col_strdup(&r, 10);
	if (PQnfields(res) > 11)
		s->disabled = db_col_int4(&r, 11, 0);
	if (r.bad) {
		db_secret_clear(s);
		return 0;
	}
	return 1;
}

int
db_secret_insert(struct db *db, const struct db_secret *s)
{
	struct db_params p = {0};

	if (!db_fixed_ok(s->ref, sizeof(s->ref)) ||
	    (s->secret == NULL && s->sealed == NULL) ||
	    (s->secret != NULL && s->secret_len == 0) ||
	    (s->sealed != NULL && s->sealed_len == 0) || s->uses_left < -1 ||
	    strnlen(s->profile, sizeof(s->profile)) == sizeof(s->profile)) {
		db_seterr(db, "secret insert failed: invalid argument");
		return -1;
	}
	db_param_text(&p, s->ref);
	db_param_bytea(&p, s->secret, s->secret_len);
	db_param_text(&p, s->allowed_subject);
	db_param_text(&p, s->profile[0] != '\0' ? s->profile : NULL);
	db_param_id(&p, s->ca_id);
	db_param_int8(&p, s->uses_left);
	db_param_time(&p, s->expires);
	db_param_bytea(&p, s->sealed, s->sealed_len);
	db_param_text(&p, s->allowed_san);
	return db_insert(db, &st_insert, &p, NULL);
}

int
db_secret_get(struct db *db, const char *ref, struct db_secret *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	db_param_text(&p, ref);
	if (db_run(db, &st_get, &p, &res) != 1)
		goto out;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	if (!secret_from_row(res, 0, out) ||
	    (out->secret == NULL && out->sealed == NULL)) {
		db_secret_clear(out);
		db_seterr(db, "secret get failed: unexpected result");
		goto out;
	}
	rc = 1;
out:
	secret_pqclear(res);
	return rc;
}

int
db_secret_copy(struct db_secret *dst, const struct db_secret *src)
{
	*dst = *src;
	dst->secret = NULL;
	dst->secret_len = 0;
	dst->sealed = NULL;
	dst->allowed_subject = NULL;
	dst->allowed_san = NULL;
	if ((src->allowed_san != NULL &&
		(dst->allowed_san = strdup(src->allowed_san)) == NULL) ||
	    (src->sealed != NULL &&
		(dst->sealed = malloc(src->sealed_len > 0 ? src->sealed_len
							   : 1)) == NULL) ||
	    (src->allowed_subject != NULL &&
		(dst->allowed_subject = strdup(src->allowed_subject)) == NULL)) {
		db_secret_clear(dst);
		return 0;
	}
	if (src->sealed != NULL)
		memcpy(dst->sealed, src->sealed, src->sealed_len);
	return 1;
}

int
db_secret_consume(struct db *db, const char *ref, const char *version)
{
	struct db_params p = {0};

	db_param_text(&p, ref);
	db_param_text(&p, version != NULL && version[0] != '\0' ? version : NULL);
	/* 0: exhausted, expired, none */
	return db_update(db, &st_consume, &p, NULL);
}

/* Adapters for db_getn(). */
static int
secret_row(const PGresult *res, int i, void *e)
{
	return secret_from_row(res, i, e);
}

static void
secret_clr(void *e)
{
	db_secret_clear(e);
}

/* Runs a listing statement st into *out (n rows). 1 or -1. */
static int
secret_getn(struct db *db, const struct db_stmt *st, struct db_secret **out,
    size_t *n)
{
	void *a = NULL;
	int rc = db_getn(db, st, NULL, sizeof(**out), secret_row, secret_clr,
	    &a, n);

	*out = a;
	return rc;
}

int
db_secret_list(struct db *db, struct db_secret **out, size_t *n)
{
	return secret_getn(db, &st_list, out, n);
}

int
db_secret_list_clear(struct db *db, struct db_secret **out, size_t *n)
{
	return secret_getn(db, &st_clear_list, out, n);
}

int
db_secret_list_reseal(struct db *db, unsigned long ver,
    struct db_secret **out, size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	db_param_int8(&p, (long long)ver);
	rc = db_getn(db, &st_reseal_list, &p, sizeof(**out), secret_row,
	    secret_clr, &a, n);
	*out = a;
	return rc;
}

int
db_secret_set_sealed(struct db *db, const char *ref,
    const unsigned char *sealed, size_t len)
{
	struct db_params p = {0};

	db_param_text(&p, ref);
	db_param_bytea(&p, sealed, len);
	return db_update(db, &st_seal, &p, NULL);
}

int
db_secret_set_disabled(struct db *db, const char *ref, int disabled)
{
	struct db_params p = {0};

	db_param_text(&p, ref);
	db_param_int8(&p, disabled != 0);
	return db_update(db, &st_disable, &p, NULL);
}

int
db_secret_remove(struct db *db, const char *ref)
{
	struct db_params p = {0};

	db_param_text(&p, ref);
	return db_update(db, &st_remove, &p, NULL);
}
