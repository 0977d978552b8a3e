/*
 * db_chain.c - the audit hash chain and its signed checkpoints
 * (db/schema/015_roles_audit_chain.sql), and the roles check.
 *
 * Only reads and the SQL functions' calls live here: the hashes are
 * recomputed by the verifier in C (ca/audit.c) from the rows as read, so
 * that a function replaced in the database cannot vouch for itself.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db_int.h"

static const struct db_stmt st_seal = {DB_ST_AUDIT_SEAL, "audit_seal",
    "SELECT r_seq, r_hash FROM cmpca_audit_seal()"};
/* The links after seq $1 with the rows they link (NULL if gone). */
static const struct db_stmt st_links = {DB_ST_AUDIT_LINKS, "audit_links",
    "SELECT s.seq, s.audit_id, s.row_hash, s.chain_hash, a.id,"
    " round(extract(epoch FROM a.at) * 1000000)::text, a.event, a.ca_id,"
    " a.actor, a.detail, a.db_role"
    " FROM audit_seal s LEFT JOIN audit a ON a.id = s.audit_id"
    " WHERE s.seq > $1::bigint ORDER BY s.seq LIMIT $2::int"};
/* The first row below the highest linked one that is not linked, and how
 * many rows wait for the next seal. */
static const struct db_stmt st_unlinked = {DB_ST_AUDIT_UNLINKED,
    "audit_unlinked",
    "WITH m AS (SELECT coalesce(max(audit_id), 0) AS top FROM audit_seal)"
    " SELECT (SELECT coalesce(min(a.id), 0) FROM audit a, m"
    "  WHERE a.id < m.top AND NOT EXISTS"
    "  (SELECT 1 FROM audit_seal s WHERE s.audit_id = a.id)),"
    " (SELECT count(*) FROM audit a, m WHERE a.id > m.top)::bigint"};
static const struct db_stmt st_ckpt_insert = {DB_ST_AUDIT_CKPT_INSERT,
    "audit_checkpoint_insert",
    "SELECT cmpca_audit_checkpoint_add($1::bigint, $2::bytea, $3::bigint,"
    " $4::bigint, $5::bytea)"};
static const struct db_stmt st_ckpt_list = {DB_ST_AUDIT_CKPT_LIST,
    "audit_checkpoint_list",
    "SELECT c.id, c.seq, c.chain_hash, c.key_id, " DB_EPOCH("c.at")
    ", c.sig, k.key_uri, k.spki FROM audit_checkpoint c"
    " LEFT JOIN audit_key k ON k.id = c.key_id ORDER BY c.seq, c.id"};
static const struct db_stmt st_ckpt_last = {DB_ST_AUDIT_CKPT_LAST,
    "audit_checkpoint_last",
    "SELECT seq, " DB_EPOCH("at") " FROM audit_checkpoint"
    " ORDER BY seq DESC, id DESC LIMIT 1"};
/* The first gap in checkpoint ids (from 1) and the highest id. */
static const struct db_stmt st_ckpt_ids = {DB_ST_AUDIT_CKPT_IDS,
    "audit_checkpoint_ids",
    "SELECT coalesce((SELECT p + 1 FROM (SELECT id, lag(id, 1, 0::bigint)"
    "  OVER (ORDER BY id) AS p FROM audit_checkpoint) x WHERE id <> p + 1"
    "  ORDER BY id LIMIT 1), 0),"
    " coalesce((SELECT id - 1 FROM (SELECT id, lag(id, 1, 0::bigint)"
    "  OVER (ORDER BY id) AS p FROM audit_checkpoint) x WHERE id <> p + 1"
    "  ORDER BY id LIMIT 1), 0),"
    " (SELECT coalesce(max(id), 0) FROM audit_checkpoint)"};
/* The highest checkpoint id the sequence gave out, and the transactions
 * that may be inserting a checkpoint now (an id is drawn by the INSERT,
 * which holds ROW EXCLUSIVE on the table to the end of its transaction).
 * pg_locks and the sequence are read as they are now, not as of a
 * snapshot. */
static const struct db_stmt st_ckpt_drawn = {DB_ST_AUDIT_CKPT_DRAWN,
    "audit_checkpoint_drawn",
    "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
    "  FROM audit_checkpoint_id_seq),"
    " (SELECT coalesce(string_agg(virtualtransaction, ','), '')"
    "  FROM pg_locks WHERE locktype = 'relation'"
    "  AND relation = 'audit_checkpoint'::regclass"
    "  AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid())"};
/* How many of the transactions $1 (from st_ckpt_drawn) are still open. */
static const struct db_stmt st_ckpt_inflight = {DB_ST_AUDIT_CKPT_INFLIGHT,
    "audit_checkpoint_inflight",
    "SELECT count(*) FROM pg_locks WHERE locktype = 'relation'"
    " AND relation = 'audit_checkpoint'::regclass"
    " AND virtualtransaction = ANY (string_to_array($1::text, ','))"};
static const struct db_stmt st_key_insert = {DB_ST_AUDIT_KEY_INSERT,
    "audit_key_insert",
    "INSERT INTO audit_key (key_uri, spki) VALUES ($1::text, $2::bytea)"
    " ON CONFLICT (key_uri) DO NOTHING RETURNING id"};
static const struct db_stmt st_key_get = {DB_ST_AUDIT_KEY_GET,
    "audit_key_get",
    "SELECT id, key_uri, spki FROM audit_key WHERE id = $1::bigint"};
static const struct db_stmt st_key_latest = {DB_ST_AUDIT_KEY_LATEST,
    "audit_key_latest",
    "SELECT id, key_uri, spki FROM audit_key ORDER BY id DESC LIMIT 1"};
/*
 * The first certificate whose status, reason or revocation time is not
 * what its latest status audit row (cert-status, or since migration 029
 * issue, issue-upstream, confirm or reject) says ("<id> <serial> <status>
 * <reason> <revoked_at>"), or that has none.
 */
static const struct db_stmt st_cert_check = {DB_ST_AUDIT_CERT_CHECK,
    "audit_cert_check",
    "WITH s AS (SELECT DISTINCT ON (cid) cid, detail FROM"
    "  (SELECT split_part(detail, ' ', 1)::bigint AS cid, id, detail"
    "   FROM audit"
    "   WHERE event IN ('cert-status', 'issue', 'issue-upstream',"
    "   'confirm', 'reject')"
    "   AND detail ~ '^[0-9]{1,18} ') x ORDER BY cid, id DESC)"
    " SELECT c.id, c.serial, format('%s %s %s', c.status,"
    " coalesce(c.reason::text, '-'),"
    " coalesce(floor(extract(epoch FROM c.revoked_at))::text, '-')),"
    " left(coalesce(substring(s.detail FROM '^[0-9]+ [^ ]+ (.*)$'), ''), 100)"
    " FROM cert c LEFT JOIN s ON s.cid = c.id"
    " WHERE s.detail IS NULL OR format('%s %s %s', c.status,"
    " coalesce(c.reason::text, '-'),"
    " coalesce(floor(extract(epoch FROM c.revoked_at))::text, '-'))"
    " <> substring(s.detail FROM '^[0-9]+ [^ ]+ (.*)$')"
    " ORDER BY c.id LIMIT 1"};
static const struct db_stmt st_snapshot = {DB_ST_SNAPSHOT, "begin_snapshot",
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"};
/* Who we are, and whether we may do more than a component should. */
static const struct db_stmt st_whoami = {DB_ST_WHOAMI, "role_check",
    "SELECT current_user::text, r.rolsuper::int,"
    " (SELECT count(*) FROM pg_class c"
    "  WHERE c.relnamespace = current_schema()::regnamespace"
    "  AND c.relkind IN ('r', 'p')"
    "  AND pg_has_role(current_user, c.relowner, 'MEMBER'))::int"
    " FROM pg_roles r WHERE r.rolname = current_user"};
static const struct db_stmt st_grants = {DB_ST_GRANTS, "grants",
    "SELECT cmpca_grants()"};
static const struct db_stmt st_has_grants = {DB_ST_HAS_GRANTS, "grants_check",
    "SELECT (to_regproc('cmpca_grants') IS NOT NULL)::int::bigint"};

/* Column 0 of row i as an int8 (0 when NULL) into *(long long *)e. */
static int
int8_row(const PGresult *res, int i, void *e)
{
	struct db_row r = {res, i, 0, 0};

	*(long long *)e = db_col_int8(&r, 0);
	return !r.bad;
}

struct head {
	long long seq;
	unsigned char hash[DB_HASH_LEN];
};

static int
head_row(const PGresult *res, int i, void *e)
{
	struct head *h = e;
	struct db_row r = {res, i, 0, 0};
	size_t len = 0;

	h->seq = db_col_int8(&r, 0);
	db_col_bytes(&r, 1, h->hash, sizeof(h->hash), &len);
	return !r.bad && len == DB_HASH_LEN;
}

int
db_audit_seal(struct db *db, long long *seq, unsigned char hash[DB_HASH_LEN])
{
	struct head h;

	if (db_get1(db, &st_seal, NULL, sizeof(h), head_row, &h) != 1)
		return -1;
	*seq = h.seq;
	memcpy(hash, h.hash, DB_HASH_LEN);
	return 1;
}

void
db_audit_link_clear(struct db_audit_link *l)
{
	if (l == NULL)
		return;
	free(l->event);
	free(l->actor);
	free(l->detail);
	free(l->db_role);
	memset(l, 0, sizeof(*l));
}

void
db_audit_link_array_free(struct db_audit_link *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_audit_link_clear(&a[i]);
	free(a);
}

static int
link_row(const PGresult *res, int i, void *e)
{
	struct db_audit_link *l = e;
	struct db_row r = {res, i, 0, 0};
	size_t rl = 0, cl = 0;

	memset(l, 0, sizeof(*l));
	l->seq = db_col_int8(&r, 0);
	l->audit_id = db_col_int8(&r, 1);
	db_col_bytes(&r, 2, l->row_hash, sizeof(l->row_hash), &rl);
	db_col_bytes(&r, 3, l->chain_hash, sizeof(l->chain_hash), &cl);
	l->present = !PQgetisnull(res, i, 4);
	db_col_text(&r, 5, l->at_us, sizeof(l->at_us));
	l->event = db_col_strdup(&r, 6);
	l->ca_null = PQgetisnull(res, i, 7);
	l->ca_id = db_col_int8(&r, 7);
	l->actor = db_col_strdup(&r, 8);
	l->detail = db_col_strdup(&r, 9);
	l->db_role = db_col_strdup(&r, 10);
	if (r.bad || rl != DB_HASH_LEN || cl != DB_HASH_LEN) {
		db_audit_link_clear(l);
		return 0;
	}
	return 1;
}

static void
link_clr(void *e)
{
	db_audit_link_clear(e);
}

int
db_audit_links(struct db *db, long long after_seq, int limit,
    struct db_audit_link **out, size_t *n)
{
	struct db_params p = {0};
	void *a = NULL;
	int rc;

	db_param_int8(&p, after_seq);
	db_param_int8(&p, limit);
	rc = db_getn(db, &st_links, &p, sizeof(**out), link_row, link_clr, &a,
	    n);
	*out = a;
	return rc;
}

static int
pair_row(const PGresult *res, int i, void *e)
{
	long long *v = e;
	struct db_row r = {res, i, 0, 0};

	v[0] = db_col_int8(&r, 0);
	v[1] = db_col_int8(&r, 1);
	return !r.bad;
}

int
db_audit_unlinked(struct db *db, long long *first, long long *waiting)
{
	long long v[2] = {0, 0};

	if (db_get1(db, &st_unlinked, NULL, sizeof(v), pair_row, v) != 1)
		return -1;
	*first = v[0];
	*waiting = v[1];
	return 1;
}

int
db_audit_ckpt_insert(struct db *db, struct db_audit_ckpt *c)
{
	struct db_params p = {0};

	db_param_int8(&p, c->seq);
	db_param_bytea(&p, c->chain_hash, DB_HASH_LEN);
	db_param_int8(&p, c->key_id);
	db_param_int8(&p, (long long)c->at);
	db_param_bytea(&p, c->sig, c->sig_len);
	c->id = 0;
	if (db_get_int8(db, &st_ckpt_insert, &p, &c->id) != 1)
		return -1;
	return c->id > 0 ? 1 : 0;
}

int
db_audit_ckpt_last(struct db *db, long long *seq, time_t *at)
{
	long long v[2] = {0, 0};

	*seq = 0;
	*at = 0;
	if (db_get1(db, &st_ckpt_last, NULL, sizeof(v), pair_row, v) < 0)
		return -1;
	*seq = v[0];
	*at = (time_t)v[1];
	return 1;
}

static int
triple_row(const PGresult *res, int i, void *e)
{
	long long *v = e;
	struct db_row r = {res, i, 0, 0};
	int k;

	for (k = 0; k < 3; k++)
		v[k] = db_col_int8(&r, k);
	return !r.bad;
}

int
db_audit_ckpt_ids(struct db *db, long long *gap_from, long long *gap_to,
    long long *top)
{
	long long v[3] = {0, 0, 0};

	if (db_get1(db, &st_ckpt_ids, NULL, sizeof(v), triple_row, v) != 1)
		return -1;
	*gap_from = v[0];
	*gap_to = v[1];
	*top = v[2];
	return 1;
}

struct drawn {
	long long id;
	char *open;
};

static int
drawn_row(const PGresult *res, int i, void *e)
{
	struct drawn *d = e;
	struct db_row r = {res, i, 0, 0};

	d->id = db_col_int8(&r, 0);
	d->open = db_col_strdup(&r, 1);
	return !r.bad && d->open != NULL;
}

/*
 * A checkpoint drawn but not yet committed is not missing: wait (up to
 * 10 s, polling) until the transactions that could be inserting one when
 * the sequence was read have ended. A snapshot taken after this sees every
 * checkpoint with an id up to *drawn that was committed.
 */
int
db_audit_ckpt_drawn(struct db *db, long long *drawn)
{
	struct drawn d = {0, NULL};
	struct db_params p = {0};
	const struct timespec pause = {0, 5 * 1000 * 1000};
	long long open = 1;
	int n, rc = -1;

	*drawn = 0;
	if (db_get1(db, &st_ckpt_drawn, NULL, sizeof(d), drawn_row, &d) != 1)
		goto out;
	db_param_text(&p, d.open);
	for (n = 0; d.open[0] != '\0' && n < 2000; n++) {
		if (db_get_int8(db, &st_ckpt_inflight, &p, &open) != 1)
			goto out;
		if (open == 0)
			break;
		nanosleep(&pause, NULL);
	}
	*drawn = d.id;
	rc = 1;
out:
	free(d.open);
	return rc;
}

void
db_audit_ckpt_clear(struct db_audit_ckpt *c)
{
	if (c == NULL)
		return;
	free(c->sig);
	free(c->key_uri);
	free(c->spki);
	memset(c, 0, sizeof(*c));
}

void
db_audit_ckpt_array_free(struct db_audit_ckpt *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		db_audit_ckpt_clear(&a[i]);
	free(a);
}

static int
ckpt_row(const PGresult *res, int i, void *e)
{
	struct db_audit_ckpt *c = e;
	struct db_row r = {res, i, 0, 0};
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	c->id = db_col_int8(&r, 0);
	c->seq = db_col_int8(&r, 1);
	db_col_bytes(&r, 2, c->chain_hash, sizeof(c->chain_hash), &len);
	c->key_id = db_col_int8(&r, 3);
	c->at = db_col_time(&r, 4);
	c->sig = db_col_memdup(&r, 5, &c->sig_len);
	c->key_uri = db_col_strdup(&r, 6);
	c->spki = db_col_memdup(&r, 7, &c->spki_len);
	if (r.bad || len != DB_HASH_LEN) {
		db_audit_ckpt_clear(c);
		return 0;
	}
	return 1;
}

static void
ckpt_clr(void *e)
{
	db_audit_ckpt_clear(e);
}

int
db_audit_ckpt_list(struct db *db, struct db_audit_ckpt **out, size_t *n)
{
	void *a = NULL;
	int rc;

	rc = db_getn(db, &st_ckpt_list, NULL, sizeof(**out), ckpt_row,
	    ckpt_clr, &a, n);
	*out = a;
	return rc;
}

int
db_audit_key_insert(struct db *db, const char *uri, const unsigned char *spki,
    size_t spki_len, long long *id)
{
	struct db_params p = {0};

	db_param_text(&p, uri);
	db_param_bytea(&p, spki, spki_len);
	return db_insert(db, &st_key_insert, &p, id);
}

static int
key_row(const PGresult *res, int i, void *e)
{
	struct db_audit_ckpt *c = e;
	struct db_row r = {res, i, 0, 0};

	c->key_id = db_col_int8(&r, 0);
	c->key_uri = db_col_strdup(&r, 1);
	c->spki = db_col_memdup(&r, 2, &c->spki_len);
	if (r.bad || c->key_uri == NULL) {
		db_audit_ckpt_clear(c);
		return 0;
	}
	return 1;
}

int
db_audit_key_latest(struct db *db, struct db_audit_ckpt *k)
{
	return db_get1(db, &st_key_latest, NULL, sizeof(*k), key_row, k);
}

int
db_audit_key_get(struct db *db, long long id, struct db_audit_ckpt *k)
{
	struct db_params p = {0};

	db_param_int8(&p, id);
	return db_get1(db, &st_key_get, &p, sizeof(*k), key_row, k);
}

static int
mismatch_row(const PGresult *res, int i, void *e)
{
	struct db_audit_mismatch *m = e;
	struct db_row r = {res, i, 0, 0};

	m->cert_id = db_col_int8(&r, 0);
	db_col_text(&r, 1, m->serial, sizeof(m->serial));
	db_col_text(&r, 2, m->status, sizeof(m->status));
	db_col_text(&r, 3, m->audited, sizeof(m->audited));
	return !r.bad;
}

int
db_audit_cert_check(struct db *db, struct db_audit_mismatch *m)
{
	return db_get1(db, &st_cert_check, NULL, sizeof(*m), mismatch_row, m);
}

int
db_begin_snapshot(struct db *db)
{
	PGresult *res = NULL;
	int rc;

	if (db->in_txn) {
		db_seterr(db, "begin failed: a transaction is already open");
		return 0;
	}
	rc = db_run(db, &st_snapshot, NULL, &res);
	PQclear(res);
	if (rc != 1)
		return 0;
	db->in_txn = 1;
	return 1;
}

static int
whoami_row(const PGresult *res, int i, void *e)
{
	struct db_role *w = e;
	struct db_row r = {res, i, 0, 0};

	db_col_text(&r, 0, w->name, sizeof(w->name));
	w->superuser = db_col_int4(&r, 1, 0);
	w->owns = db_col_int4(&r, 2, 0);
	return !r.bad;
}

int
db_role_get(struct db *db, struct db_role *w)
{
	memset(w, 0, sizeof(*w));
	return db_get1(db, &st_whoami, NULL, sizeof(*w), whoami_row, w) == 1
	    ? 1 : -1;
}

int
db_grants_apply(struct db *db)
{
	PGresult *res = NULL;
	long long has = 0;
	int rc;

	if (db_get1(db, &st_has_grants, NULL, sizeof(has), int8_row, &has) !=
	    1)
		return -1;
	if (!has)
		return 0;
	rc = db_run(db, &st_grants, NULL, &res);
	PQclear(res);
	if (rc == 1 && db_grants_baseline(db) < 0)
		rc = -1;
	return rc;
}
