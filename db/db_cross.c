/*
 * db_cross.c - cross-certification: partner CAs (table partner), the
 * certificates our CA identities hold from others (table ca_cert), and
 * the cross certificates a CA issued (cert rows of kind 'cross').
 *
 * The list-valued partner columns are text[] in SQL and newline-separated
 * strings here ("" for none), converted by string_to_array/array_to_string
 * in the statements so that no array parsing happens in C.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define PARTNER_COLS                                                      \
	"id, name, ca_id, cert_sha256, cert, subject, path_len,"          \
	" array_to_string(permitted, E'\\n'),"                            \
	" array_to_string(excluded, E'\\n'),"                             \
	" array_to_string(policies, E'\\n'),"                             \
	" array_to_string(policy_map, E'\\n'),"                           \
	" require_explicit, inhibit_mapping,"                             \
	" array_to_string(eku, E'\\n'), days"
/* "" becomes the empty array, not {""}. */
#define LIST_PARAM(n) "COALESCE(string_to_array(NULLIF($" #n "::text, ''), E'\\n'), '{}')"

static const struct db_stmt st_insert = {DB_ST_PARTNER_INSERT,
    "partner_insert",
    "INSERT INTO partner (name, ca_id, cert_sha256, cert, subject,"
    " path_len, permitted, excluded, policies, policy_map,"
    " require_explicit, inhibit_mapping, eku, days)"
    " VALUES ($1::text, $2::bigint, $3::bytea, $4::bytea, $5::text,"
    " $6::int, " LIST_PARAM(7) ", " LIST_PARAM(8) ", " LIST_PARAM(9) ", "
    LIST_PARAM(10) ", $11::int, $12::int, " LIST_PARAM(13) ", $14::int)"
    " ON CONFLICT DO NOTHING RETURNING id"};
static const struct db_stmt st_get_by_hash = {DB_ST_PARTNER_GET_BY_HASH,
    "partner_get_by_hash",
    "SELECT " PARTNER_COLS " FROM partner WHERE cert_sha256 = $1::bytea"};
static const struct db_stmt st_get_by_name = {DB_ST_PARTNER_GET_BY_NAME,
    "partner_get_by_name",
    "SELECT " PARTNER_COLS " FROM partner WHERE name = $1::text"};
static const struct db_stmt st_list = {DB_ST_PARTNER_LIST, "partner_list",
    "SELECT " PARTNER_COLS " FROM partner ORDER BY name"};
static const struct db_stmt st_delete = {DB_ST_PARTNER_DELETE,
    "partner_delete", "DELETE FROM partner WHERE name = $1::text"};

static const struct db_stmt st_cacert_insert = {DB_ST_CA_CERT_INSERT,
    "ca_cert_insert",
    "INSERT INTO ca_cert (ca_id, kind, subject, issuer, not_after, der,"
    " sha256) VALUES ($1::bigint, $2::text, $3::text, $4::text,"
    " to_timestamp($5::bigint), $6::bytea, sha256($6::bytea))"
    " ON CONFLICT (sha256) DO NOTHING RETURNING id"};
static const struct db_stmt st_cacert_list = {DB_ST_CA_CERT_LIST,
    "ca_cert_list",
    "SELECT id, ca_id, kind, subject, issuer, " DB_EPOCH("not_after")
    ", der FROM ca_cert WHERE ca_id = $1::bigint"
    " AND ($2::text IS NULL OR kind = $2::text) ORDER BY id"};
/* The certificates a CA published with its own: what it received
 * (ca_cert) and the valid CA/cross certificates it issued, unexpired. */
static const struct db_stmt st_published = {DB_ST_CA_PUBLISHED,
    "ca_published",
    "SELECT der FROM ca_cert WHERE ca_id = $1::bigint"
    " AND not_after > now()"
    " UNION ALL SELECT der FROM (SELECT der, id FROM cert"
    " WHERE ca_id = $1::bigint AND kind = 'cross' AND status = 'valid'"
    " AND not_after > now() ORDER BY id) c"};

void
db_partner_clear(struct db_partner *p)
{
	if (p == NULL)
		return;
	free(p->cert);
	free(p->subject);
	free(p->permitted);
	free(p->excluded);
	free(p->policies);
	free(p->policy_map);
	free(p->eku);
	memset(p, 0, sizeof(*p));
}

void
db_partner_array_free(struct db_partner *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_partner_clear(&a[i]);
	free(a);
}

/* A list column: NULL (no rows) reads as "". */
static char *
list_col(struct db_row *r, int col)
{
	char *s = db_col_strdup(r, col);

	if (s == NULL && !r->bad && (s = strdup("")) == NULL)
		r->bad = 1;
	return s;
}

static int
partner_from_row(const PGresult *res, int i, struct db_partner *p)
{
	struct db_row r = {res, i, 0, 0};
	size_t len = 0;

	memset(p, 0, sizeof(*p));
	p->id = db_col_int8(&r, 0);
	db_col_text(&r, 1, p->name, sizeof(p->name));
	p->ca_id = db_col_int8(&r, 2);
	db_col_bytes(&r, 3, p->cert_sha256, sizeof(p->cert_sha256), &len);
	p->cert = db_col_memdup(&r, 4, &p->cert_len);
	p->subject = db_col_strdup(&r, 5);
	p->path_len = db_col_int4(&r, 6, -1);
	p->permitted = list_col(&r, 7);
	p->excluded = list_col(&r, 8);
	p->policies = list_col(&r, 9);
	p->policy_map = list_col(&r, 10);
	p->require_explicit = db_col_int4(&r, 11, -1);
	p->inhibit_mapping = db_col_int4(&r, 12, -1);
	p->eku = list_col(&r, 13);
	p->days = db_col_int4(&r, 14, 0);
	if (r.bad || len != sizeof(p->cert_sha256) || p->cert == NULL ||
	    p->subject == NULL) {
		db_partner_clear(p);
		return 0;
	}
	return 1;
}

/* Binds an optional non-negative int (-1: NULL). */
static void
param_opt_int(struct db_params *p, int v)
{
	if (v >= 0)
		db_param_int8(p, v);
	else
		db_param_text(p, NULL);
}

int
db_partner_insert(struct db *db, struct db_partner *pa)
{
	struct db_params p = {0};

	if (!db_fixed_ok(pa->name, sizeof(pa->name)) || pa->ca_id <= 0 ||
	    pa->cert == NULL || pa->cert_len == 0 || pa->subject == NULL ||
	    pa->days <= 0) {
		db_seterr(db, "partner insert failed: invalid argument");
		return -1;
	}
	db_param_text(&p, pa->name);
	db_param_int8(&p, pa->ca_id);
	db_param_bytea(&p, pa->cert_sha256, sizeof(pa->cert_sha256));
	db_param_bytea(&p, pa->cert, pa->cert_len);
	db_param_text(&p, pa->subject);
	param_opt_int(&p, pa->path_len);
	db_param_text(&p, pa->permitted != NULL ? pa->permitted : "");
	db_param_text(&p, pa->excluded != NULL ? pa->excluded : "");
	db_param_text(&p, pa->policies != NULL ? pa->policies : "");
	db_param_text(&p, pa->policy_map != NULL ? pa->policy_map : "");
	param_opt_int(&p, pa->require_explicit);
	param_opt_int(&p, pa->inhibit_mapping);
	db_param_text(&p, pa->eku != NULL ? pa->eku : "");
	db_param_int8(&p, pa->days);
	return db_insert(db, &st_insert, &p, &pa->id);
}

static int partner_row(const PGresult *res, int i, void *e);

static int
partner_get(struct db *db, const struct db_stmt *st, struct db_params *p,
    struct db_partner *out)
{
	return db_get1(db, st, p, sizeof(*out), partner_row, out);
}

int
db_partner_get_by_hash(struct db *db, const unsigned char *sha256,
    struct db_partner *out)
{
	struct db_params p = {0};

	db_param_bytea(&p, sha256, 32);
	return partner_get(db, &st_get_by_hash, &p, out);
}

int
db_partner_get_by_name(struct db *db, const char *name,
    struct db_partner *out)
{
	struct db_params p = {0};

	db_param_text(&p, name);
	return partner_get(db, &st_get_by_name, &p, out);
}

/* Adapters for db_getn(). */
static int
partner_row(const PGresult *res, int i, void *e)
{
	return partner_from_row(res, i, e);
}

static void
partner_clr(void *e)
{
	db_partner_clear(e);
}

int
db_partner_list(struct db *db, struct db_partner **out, size_t *n)
{
	void *a = NULL;
	int rc = db_getn(db, &st_list, NULL, sizeof(**out), partner_row,
	    partner_clr, &a, n);

	*out = a;
	return rc;
}

int
db_partner_delete(struct db *db, const char *name)
{
	struct db_params p = {0};

	db_param_text(&p, name);
	return db_update(db, &st_delete, &p, NULL);
}

void
db_ca_cert_clear(struct db_ca_cert *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->issuer);
	free(c->der);
	memset(c, 0, sizeof(*c));
}

void
db_ca_cert_array_free(struct db_ca_cert *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_ca_cert_clear(&a[i]);
	free(a);
}

int
db_ca_cert_insert(struct db *db, struct db_ca_cert *c)
{
	struct db_params p = {0};

	if (c->ca_id <= 0 || !db_fixed_ok(c->kind, sizeof(c->kind)) ||
	    c->subject == NULL || c->issuer == NULL || c->der == NULL ||
	    c->der_len == 0) {
		db_seterr(db, "ca cert insert failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, c->ca_id);
	db_param_text(&p, c->kind);
	db_param_text(&p, c->subject);
	db_param_text(&p, c->issuer);
	db_param_time(&p, c->not_after);
	db_param_bytea(&p, c->der, c->der_len);
	return db_insert(db, &st_cacert_insert, &p, &c->id);
}

static int
cacert_row(const PGresult *res, int i, void *e)
{
	struct db_ca_cert *c = e;
	struct db_row r = {res, i, 0, 0};

	memset(c, 0, sizeof(*c));
	c->id = db_col_int8(&r, 0);
	c->ca_id = db_col_int8(&r, 1);
	db_col_text(&r, 2, c->kind, sizeof(c->kind));
	c->subject = db_col_strdup(&r, 3);
	c->issuer = db_col_strdup(&r, 4);
	c->not_after = db_col_time(&r, 5);
	c->der = db_col_memdup(&r, 6, &c->der_len);
	if (r.bad || c->subject == NULL || c->issuer == NULL ||
	    c->der == NULL) {
		db_ca_cert_clear(c);
		return 0;
	}
	return 1;
}

static void
cacert_clr(void *e)
{
	db_ca_cert_clear(e);
}

int
db_ca_cert_list(struct db *db, long long ca_id, const char *kind,
    struct db_ca_cert **out, size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	db_param_int8(&p, ca_id);
	db_param_text(&p, kind);
	rc = db_getn(db, &st_cacert_list, &p, sizeof(**out), cacert_row,
	    cacert_clr, &a, n);
	*out = a;
	return rc;
}

/* One DER blob per row (the caller frees with db_blob_array_free). */
static int
blob_row(const PGresult *res, int i, void *e)
{
	struct db_blob *b = e;
	struct db_row r = {res, i, 0, 0};

	b->der = db_col_memdup(&r, 0, &b->len);
	if (r.bad || b->der == NULL) {
		free(b->der);
		b->der = NULL;
		return 0;
	}
	return 1;
}

static void
blob_clr(void *e)
{
	struct db_blob *b = e;

	free(b->der);
	b->der = NULL;
}

void
db_blob_array_free(struct db_blob *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		free(a[i].der);
	free(a);
}

int
db_ca_published(struct db *db, long long ca_id, struct db_blob **out,
    size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	db_param_int8(&p, ca_id);
	rc = db_getn(db, &st_published, &p, sizeof(**out), blob_row, blob_clr,
	    &a, n);
	*out = a;
	return rc;
}
