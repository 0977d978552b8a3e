/*
 * db_upstream.c - cmpca as an RA (RFC 9483 §5): how to reach the upstream
 * CA of an identity of status 'upstream' (table upstream), and the
 * forwarded requests waiting for the device's certConf (table ra_fwd).
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

static const struct db_stmt st_insert = {DB_ST_UPSTREAM_INSERT,
    "upstream_insert",
    "INSERT INTO upstream (ca_id, url, mode, ref, secret_enc, tls_trusted,"
    " sign_ca_id, nested) VALUES ($1::bigint, $2::text, $3::text,"
    " nullif($4::text, ''), nullif($5::bytea, ''::bytea),"
    " nullif($6::text, ''), nullif($7::bigint, 0), $8::bigint <> 0)"
    " ON CONFLICT DO NOTHING"};
static const struct db_stmt st_get = {DB_ST_UPSTREAM_GET, "upstream_get",
    "SELECT ca_id, url, mode, coalesce(ref, ''), coalesce(secret_enc,"
    " ''::bytea), coalesce(tls_trusted, ''), coalesce(sign_ca_id, 0),"
    " nested::int FROM upstream WHERE ca_id = $1::bigint"};
/* As st_reseal_list of db_secret.c: every MAC secret not sealed in
 * format 0x03 under key version $1. */
static const struct db_stmt st_reseal_list = {DB_ST_UPSTREAM_RESEAL_LIST,
    "upstream_reseal_list",
    "SELECT u.ca_id, c.label, u.secret_enc FROM upstream u"
    " JOIN ca c ON c.id = u.ca_id WHERE u.secret_enc IS NOT NULL"
    " AND substring(u.secret_enc FROM 1 FOR 5) IS DISTINCT FROM"
    " '\\x03'::bytea || int4send($1::int) ORDER BY u.ca_id"
    " FOR UPDATE OF u"};
static const struct db_stmt st_set_sealed = {DB_ST_UPSTREAM_SET_SEALED,
    "upstream_set_sealed",
    "UPDATE upstream SET secret_enc = $2::bytea WHERE ca_id = $1::bigint"
    " AND secret_enc IS NOT NULL"};
static const struct db_stmt st_fwd_put = {DB_ST_RA_FWD_PUT, "ra_fwd_put",
    "INSERT INTO ra_fwd (ca_id, txid, cert_req_id, up_txid, up_nonce,"
    " up_peer_nonce, confirm, waiting) VALUES ($1::bigint, $2::bytea,"
    " $3::bigint::int, $4::bytea, $5::bytea, $6::bytea, $7::bigint <> 0,"
    " $8::bigint <> 0) ON CONFLICT DO NOTHING"};
static const struct db_stmt st_fwd_get = {DB_ST_RA_FWD_GET, "ra_fwd_get",
    "SELECT up_txid, up_nonce, up_peer_nonce, confirm::int, waiting::int"
    " FROM ra_fwd"
    " WHERE ca_id = $1::bigint AND txid = $2::bytea"
    " AND cert_req_id = $3::bigint::int"};
static const struct db_stmt st_fwd_delete = {DB_ST_RA_FWD_DELETE,
    "ra_fwd_delete",
    "DELETE FROM ra_fwd WHERE ca_id = $1::bigint AND txid = $2::bytea"
    " AND cert_req_id = $3::bigint::int"};

static const struct db_stmt st_fwd_prune = {DB_ST_RA_FWD_PRUNE,
    "ra_fwd_prune",
    "DELETE FROM ra_fwd WHERE created < now() - make_interval("
    "secs => $1::bigint)"};
static const struct db_stmt st_fwd_update = {DB_ST_RA_FWD_UPDATE,
    "ra_fwd_update",
    "UPDATE ra_fwd SET up_nonce = $4::bytea, up_peer_nonce = $5::bytea,"
    " waiting = $6::bigint <> 0, cert = coalesce($7::bytea, cert)"
    " WHERE ca_id = $1::bigint AND txid = $2::bytea"
    " AND cert_req_id = $3::bigint::int"};
static const struct db_stmt st_fwd_cert = {DB_ST_RA_FWD_CERT, "ra_fwd_cert",
    "SELECT cert FROM ra_fwd WHERE ca_id = $1::bigint AND txid = $2::bytea"
    " AND cert_req_id = $3::bigint::int AND cert IS NOT NULL"};
static const struct db_stmt st_fwd_owed = {DB_ST_RA_FWD_OWED,
    "ra_fwd_owed",
    "SELECT f.up_txid, f.up_nonce, f.up_peer_nonce, f.confirm::int,"
    " f.waiting::int, f.ca_id, f.txid, f.cert_req_id, c.der FROM ra_fwd f"
    " JOIN cert c ON c.ca_id = f.ca_id AND c.txid = f.txid"
    " AND c.cert_req_id = f.cert_req_id"
    " WHERE f.confirm AND f.created < now() - make_interval("
    "secs => $1::bigint) ORDER BY f.created LIMIT $2::bigint"};

void
db_upstream_clear(struct db_upstream *u)
{
	if (u == NULL)
		return;
	free(u->url);
	free(u->ref);
	free(u->sealed);
	free(u->tls_trusted);
	memset(u, 0, sizeof(*u));
}

int
db_upstream_insert(struct db *db, const struct db_upstream *u)
{
	struct db_params p = {0};

	if (u->ca_id <= 0 || u->url == NULL ||
	    !db_fixed_ok(u->mode, sizeof(u->mode))) {
		db_seterr(db, "upstream insert failed: invalid argument");
		return -1;
	}
	db_param_id(&p, u->ca_id);
	db_param_text(&p, u->url);
	db_param_text(&p, u->mode);
	db_param_text(&p, u->ref != NULL ? u->ref : "");
	db_param_bytea(&p, u->sealed, u->sealed_len);
	db_param_text(&p, u->tls_trusted != NULL ? u->tls_trusted : "");
	db_param_int8(&p, u->sign_ca_id);
	db_param_int8(&p, u->nested != 0);
	return db_insert(db, &st_insert, &p, NULL);
}

static int
upstream_row(const PGresult *res, int i, void *e)
{
	struct db_upstream *u = e;
	struct db_row r = {res, i, 0, 0};

	u->ca_id = db_col_int8(&r, 0);
	u->url = db_col_strdup(&r, 1);
	db_col_text(&r, 2, u->mode, sizeof(u->mode));
	u->ref = db_col_strdup(&r, 3);
	u->sealed = db_col_memdup(&r, 4, &u->sealed_len);
	u->tls_trusted = db_col_strdup(&r, 5);
	u->sign_ca_id = db_col_int8(&r, 6);
	u->nested = db_col_int4(&r, 7, 0);
	if (r.bad || u->url == NULL || u->ref == NULL ||
	    u->tls_trusted == NULL) {
		db_upstream_clear(u);
		return 0;
	}
	if (u->tls_trusted[0] == '\0') {
		free(u->tls_trusted);
		u->tls_trusted = NULL;
	}
	return 1;
}

int
db_upstream_get(struct db *db, long long ca_id, struct db_upstream *out)
{
	struct db_params p = {0};

	db_param_id(&p, ca_id);
	return db_get1(db, &st_get, &p, sizeof(*out), upstream_row, out);
}

static void
fwd_key(struct db_params *p, long long ca_id, const unsigned char *txid,
    size_t txid_len, int rid)
{
	db_param_id(p, ca_id);
	db_param_bytea(p, txid, txid_len);
	db_param_int8(p, rid);
}

int
db_ra_fwd_put(struct db *db, const struct db_ra_fwd *f)
{
	struct db_params p = {0};

	if (f->txid_len == 0 || f->txid_len > sizeof(f->txid) ||
	    f->up.peer_nonce_len > sizeof(f->up.peer_nonce)) {
		db_seterr(db, "ra_fwd insert failed: invalid argument");
		return -1;
	}
	fwd_key(&p, f->ca_id, f->txid, f->txid_len, f->cert_req_id);
	db_param_bytea(&p, f->up.txid, sizeof(f->up.txid));
	db_param_bytea(&p, f->up.nonce, sizeof(f->up.nonce));
	db_param_bytea(&p, f->up.peer_nonce, f->up.peer_nonce_len);
	db_param_int8(&p, f->confirm != 0);
	db_param_int8(&p, f->waiting != 0);
	return db_insert(db, &st_fwd_put, &p, NULL);
}

static int
fwd_row(const PGresult *res, int i, void *e)
{
	struct db_ra_fwd *f = e;
	struct db_row r = {res, i, 0, 0};
	size_t a = 0, b = 0;

	db_col_bytes(&r, 0, f->up.txid, sizeof(f->up.txid), &a);
	db_col_bytes(&r, 1, f->up.nonce, sizeof(f->up.nonce), &b);
	db_col_bytes(&r, 2, f->up.peer_nonce, sizeof(f->up.peer_nonce),
	    &f->up.peer_nonce_len);
	f->confirm = db_col_int4(&r, 3, 0);
	f->waiting = db_col_int4(&r, 4, 0);
	return !r.bad && a == sizeof(f->up.txid) && b == sizeof(f->up.nonce);
}

int
db_ra_fwd_get(struct db *db, struct db_ra_fwd *f)
{
	struct db_params p = {0};
	struct db_ra_fwd got;
	int rc;

	fwd_key(&p, f->ca_id, f->txid, f->txid_len, f->cert_req_id);
	rc = db_get1(db, &st_fwd_get, &p, sizeof(got), fwd_row, &got);
	if (rc == 1) {
		f->up = got.up;
		f->confirm = got.confirm;
		f->waiting = got.waiting;
	}
	return rc;
}

int
db_ra_fwd_update(struct db *db, const struct db_ra_fwd *f,
    const unsigned char *cert, size_t cert_len)
{
	struct db_params p = {0};

	if (f->up.peer_nonce_len > sizeof(f->up.peer_nonce)) {
		db_seterr(db, "ra_fwd update failed: invalid argument");
		return -1;
	}
	fwd_key(&p, f->ca_id, f->txid, f->txid_len, f->cert_req_id);
	db_param_bytea(&p, f->up.nonce, sizeof(f->up.nonce));
	db_param_bytea(&p, f->up.peer_nonce, f->up.peer_nonce_len);
	db_param_int8(&p, f->waiting != 0);
	db_param_bytea(&p, cert, cert_len); /* NULL: SQL NULL, kept */
	return db_update(db, &st_fwd_update, &p, NULL);
}

struct fwd_der {
	unsigned char *der;
	size_t len;
};

static int
fwd_cert_row(const PGresult *res, int i, void *e)
{
	struct fwd_der *d = e;
	struct db_row r = {res, i, 0, 0};

	d->der = db_col_memdup(&r, 0, &d->len);
	if (r.bad || d->der == NULL) {
		free(d->der);
		d->der = NULL;
		return 0;
	}
	return 1;
}

int
db_ra_fwd_cert(struct db *db, const struct db_ra_fwd *f, unsigned char **der,
    size_t *len)
{
	struct db_params p = {0};
	struct fwd_der d;
	int rc;

	*der = NULL;
	*len = 0;
	fwd_key(&p, f->ca_id, f->txid, f->txid_len, f->cert_req_id);
	rc = db_get1(db, &st_fwd_cert, &p, sizeof(d), fwd_cert_row, &d);
	if (rc == 1) {
		*der = d.der;
		*len = d.len;
	}
	return rc;
}

int
db_ra_fwd_delete(struct db *db, const struct db_ra_fwd *f)
{
	struct db_params p = {0};

	fwd_key(&p, f->ca_id, f->txid, f->txid_len, f->cert_req_id);
	return db_update(db, &st_fwd_delete, &p, NULL);
}

int
db_ra_fwd_prune(struct db *db, long age, long long *n)
{
	struct db_params p = {0};

	db_param_int8(&p, age);
	return db_update(db, &st_fwd_prune, &p, n);
}

static int
owed_row(const PGresult *res, int i, void *e)
{
	struct db_ra_owed *o = e;
	struct db_row r = {res, i, 0, 0};

	if (!fwd_row(res, i, &o->f))
		return 0;
	o->f.ca_id = db_col_int8(&r, 5);
	db_col_bytes(&r, 6, o->f.txid, sizeof(o->f.txid), &o->f.txid_len);
	o->f.cert_req_id = db_col_int4(&r, 7, 0);
	o->der = db_col_memdup(&r, 8, &o->der_len);
	if (r.bad || o->der == NULL) {
		free(o->der);
		o->der = NULL;
		return 0;
	}
	return 1;
}

static void
owed_clr(void *e)
{
	struct db_ra_owed *o = e;

	free(o->der);
	o->der = NULL;
}

void
db_ra_owed_array_free(struct db_ra_owed *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		owed_clr(&a[i]);
	free(a);
}

int
db_ra_fwd_owed(struct db *db, long age, int limit, struct db_ra_owed **out,
    size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	db_param_int8(&p, age);
	db_param_int8(&p, limit);
	rc = db_getn(db, &st_fwd_owed, &p, sizeof(**out), owed_row, owed_clr,
	    &a, n);
	if (rc == 1)
		*out = a;
	return rc;
}

static int
sealed_row(const PGresult *res, int i, void *e)
{
	struct db_upstream_sealed *u = e;
	struct db_row r = {res, i, 0, 0};

	u->ca_id = db_col_int8(&r, 0);
	db_col_text(&r, 1, u->label, sizeof(u->label));
	u->sealed = db_col_memdup(&r, 2, &u->sealed_len);
	if (r.bad || u->sealed == NULL) {
		free(u->sealed);
		u->sealed = NULL;
		return 0;
	}
	return 1;
}

static void
sealed_clr(void *e)
{
	struct db_upstream_sealed *u = e;

	free(u->sealed);
	u->sealed = NULL;
}

void
db_upstream_sealed_array_free(struct db_upstream_sealed *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		sealed_clr(&a[i]);
	free(a);
}

int
db_upstream_list_reseal(struct db *db, unsigned long ver,
    struct db_upstream_sealed **out, size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	db_param_int8(&p, (long long)ver);
	rc = db_getn(db, &st_reseal_list, &p, sizeof(**out), sealed_row,
	    sealed_clr, &a, n);
	if (rc == 1)
		*out = a;
	return rc;
}

int
db_upstream_set_sealed(struct db *db, long long ca_id,
    const unsigned char *sealed, size_t len)
{
	struct db_params p = {0};

	if (sealed == NULL || len == 0) {
		db_seterr(db, "upstream set sealed failed: invalid argument");
		return -1;
	}
	db_param_id(&p, ca_id);
	db_param_bytea(&p, sealed, len);
	return db_update(db, &st_set_sealed, &p, NULL);
}
