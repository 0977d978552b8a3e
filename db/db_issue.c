/*
 * db_issue.c - the CA's hot paths in one round trip each, through SQL
 * functions: storing the certificates of one response with what happens
 * to its transaction (cmpca_cert_store, db/schema/014_issue_one_path.sql,
 * the one way a certificate a CMP response carries is stored; its common
 * case, one certificate of a new transaction, as one plain statement with
 * the same checks: st_store1) and finishing a transaction (cmpca_finish,
 * 006: nonce, state, confirmations, rejections, supersede revocations,
 * audit). Refusals come back as SQLSTATEs CA001..CA008.
 */
#include <stdio.h>
#include <string.h>

#include "db/db_int.h"

static const struct db_stmt st_store = {DB_ST_CERT_STORE, "cert_store",
    "SELECT * FROM cmpca_cert_store($1::text, $2::bytea, $3::bigint,"
    " $4::bytea, $5::text, $6::bytea, $7::text, $8::text, $9::text,"
    " $10::text, $11::bytea, $12::int, $13::bigint, $14::text, $15::text,"
    " $16::text[], $17::text[], $18::text[], $19::bytea[], $20::bigint[],"
    " $21::bigint[], $22::text[], $23::bytea[], $24::text[], $25::text[],"
    " $26::int[], $27::bigint[], $28::boolean[], $29::text[], $30::int,"
    " $31::text, $32::bigint, $33::bigint[], $34::bigint[])"};
/*
 * The hot path of cmpca_cert_store as one plain statement (issue 29): a
 * new transaction with one certificate, no supersede, not a cross
 * certificate. The same checks in the same order (nonce in the other
 * place; secret: a use of a limited one consumed under its row lock, an
 * unlimited one still the row version read when that is given;
 * protection path, CA certificate; refusals raised by cmpca_refuse with
 * the function's SQLSTATEs, duplicates as unique violations), the same
 * rows, the same audit row (the cert trigger's, migration 029); about
 * 40 % less of PostgreSQL's CPU per call than the PL/pgSQL function
 * (pgbench, docs/performance.md). The CTE ok is evaluated once, before
 * the inserts that read it, and sets what the cert trigger reads; the
 * transaction's row waits for the nonce's (a replayed message is a
 * replay before its transactionID is in use), the certificate for the
 * transaction's.
 */
static const struct db_stmt st_store1 = {DB_ST_CERT_STORE1, "cert_store1",
    "WITH c0 AS (SELECT status FROM ca WHERE id = $2::bigint"
    "  AND status IN ('active', 'upstream') AND sha256(cert) = $3::bytea),"
    " su AS (UPDATE enroll_secret SET uses_left = uses_left - $31::int"
    "  WHERE $12::text IS NOT NULL AND ref = $12::text"
    "  AND uses_left >= $31::int AND uses_left > 0 AND NOT disabled"
    "  AND (expires IS NULL OR expires > now()) RETURNING 1),"
    " ok AS (SELECT CASE"
    "  WHEN CASE WHEN $8::text = 'done'"
    "   THEN EXISTS (SELECT 1 FROM seen_nonce WHERE nonce = $5::bytea)"
    "   ELSE EXISTS (SELECT 1 FROM cmp_txn WHERE req_nonce = $5::bytea) END"
    "  THEN cmpca_refuse('CA001', 'replayed senderNonce')"
    "  WHEN $12::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM su)"
    "   AND NOT EXISTS (SELECT 1 FROM enroll_secret"
    "   WHERE ref = $12::text AND uses_left = -1 AND NOT disabled"
    "   AND (expires IS NULL OR expires > now())"
    "   AND ($13::text IS NULL OR xmin::text = $13::text))"
    "  THEN cmpca_refuse('CA003', 'enrollment secret used up')"
    "  WHEN EXISTS (SELECT 1 FROM unnest($29::bigint[]) AS k(id)"
    "   WHERE NOT EXISTS (SELECT 1 FROM ca c WHERE c.id = k.id"
    "   AND (c.status = 'active' OR (c.key_of IS NOT NULL AND EXISTS"
    "   (SELECT 1 FROM ca o WHERE o.id = c.key_of AND o.status = 'active')))))"
    "  THEN cmpca_refuse('CA007', 'a CA of the protection path is retired')"
    "  WHEN EXISTS (SELECT 1 FROM unnest($30::bigint[]) AS k(id)"
    "   WHERE NOT EXISTS (SELECT 1 FROM cert c WHERE c.id = k.id"
    "   AND c.status = 'valid'))"
    "  THEN cmpca_refuse('CA008',"
    "   'a certificate of the protection path is revoked')"
    "  WHEN NOT EXISTS (SELECT 1 FROM c0)"
    "  THEN cmpca_refuse('CA006', 'CA certificate changed')"
    "  ELSE 0 END AS z,"
    "  set_config('cmpca.status_event', CASE WHEN (SELECT status FROM c0)"
    "   = 'upstream' THEN 'issue-upstream' ELSE 'issue' END, true) AS e,"
    "  set_config('cmpca.status_actor', coalesce($4::text, ''), true) AS a,"
    "  set_config('cmpca.status_txid', encode($1::bytea, 'hex'), true) AS x),"
    " sn AS (INSERT INTO seen_nonce (nonce) SELECT $5::bytea FROM ok"
    "  WHERE $8::text <> 'done' RETURNING 1),"
    " t AS (INSERT INTO cmp_txn (id, ca_id, sender, kind, state, last_nonce,"
    "  pvno, expires, updated, req_nonce)"
    "  SELECT $1::bytea, $2::bigint, $6::text, $7::text, $8::text,"
    "  $9::bytea, $10::int, to_timestamp($11::bigint), now(),"
    "  CASE WHEN $8::text = 'done' THEN $5::bytea END FROM ok"
    "  WHERE $8::text = 'done' OR EXISTS (SELECT 1 FROM sn) RETURNING 1)"
    " INSERT INTO cert (ca_id, serial, subject, issuer, spki_sha256,"
    "  not_before, not_after, status, der, profile, requester, txid,"
    "  cert_req_id, replaces, kind, credential, obtained_with)"
    " SELECT $2::bigint, $14::text, $15::text, $16::text, $17::bytea,"
    "  to_timestamp($18::bigint), to_timestamp($19::bigint), $20::text,"
    "  $21::bytea, $22::text, $23::text, $1::bytea, $24::int, $25::bigint,"
    "  coalesce($26::text, 'ee'), $27::text, $28::bigint FROM ok, t"
    " RETURNING id"};
static const struct db_stmt st_ca_current = {DB_ST_CA_CERT_CURRENT,
    "ca_cert_current",
    "SELECT 1::bigint FROM ca WHERE id = $1::bigint AND status = 'active'"
    " AND sha256(cert) = $2::bytea"};
/*
 * cmpca_finish (006, 029) as one plain statement, as st_store1 is
 * cmpca_cert_store's common case: the nonce claimed unless a cmp_txn
 * row keeps it (CA001, or the unique violation of seen_nonce), the
 * transaction moved from state $3 (CA005), the confirmations and
 * rejections (their audit rows by the cert trigger, `certconf`), the
 * superseded certificates revoked with their `revoke` rows. The nonce's
 * row comes before the transaction's move, the move before its check.
 * The function stays for cmpca_cert_store's moves.
 */
static const struct db_stmt st_finish = {DB_ST_FINISH, "txn_finish",
    "WITH ok AS (SELECT CASE WHEN EXISTS (SELECT 1 FROM cmp_txn"
    "  WHERE req_nonce = $2::bytea)"
    "  THEN cmpca_refuse('CA001', 'replayed senderNonce') ELSE 0 END AS z,"
    "  set_config('cmpca.status_actor', coalesce($10::text, ''), true) AS a,"
    "  set_config('cmpca.status_event', 'certconf', true) AS e,"
    "  set_config('cmpca.status_txid', encode($1::bytea, 'hex'), true) AS x),"
    " sn AS (INSERT INTO seen_nonce (nonce) SELECT $2::bytea FROM ok"
    "  RETURNING 1),"
    " t AS (UPDATE cmp_txn SET state = $4::text, last_nonce = $5::bytea,"
    "  updated = now(), expires = CASE WHEN $4::text = 'wait_conf'"
    "  AND $3::text <> 'wait_conf' THEN now() + (expires - created)"
    "  ELSE expires END"
    "  WHERE id = $1::bytea AND state = $3::text"
    "  AND EXISTS (SELECT 1 FROM sn) RETURNING 1),"
    " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM t)"
    "  THEN cmpca_refuse('CA005', 'transaction not in state ' || $3::text)"
    "  ELSE 1 END AS z),"
    " acc AS (UPDATE cert SET status = 'valid', revoked_at = NULL,"
    "  reason = NULL WHERE id = ANY ($6::bigint[])"
    "  AND status = 'unconfirmed' AND EXISTS (SELECT 1 FROM chk)),"
    " rej AS (UPDATE cert SET status = 'rejected', revoked_at = now(),"
    "  reason = $8::int WHERE id = ANY ($7::bigint[])"
    "  AND status = 'unconfirmed' AND EXISTS (SELECT 1 FROM chk)),"
    " sup AS (UPDATE cert SET status = 'revoked', revoked_at = now(),"
    "  reason = 4 WHERE id = ANY ($9::bigint[]) AND status = 'valid'"
    "  AND EXISTS (SELECT 1 FROM chk) RETURNING serial),"
    " ra AS (INSERT INTO audit (event, ca_id, actor, detail)"
    "  SELECT 'revoke', $11::bigint, $10::text,"
    "  'superseded by key update: ' || serial FROM sup)"
    " SELECT z FROM chk"};

/* Maps a refusal SQLSTATE; 0 if the error is not a refusal. */
static enum db_refusal
refusal(const struct db *db)
{
	static const struct {
		const char *state;
		enum db_refusal r;
	} map[] = {
		{ "CA001", DB_REFUSE_REPLAY },
		{ "CA002", DB_REFUSE_TXID_IN_USE },
		{ "CA003", DB_REFUSE_SECRET_USED },
		{ "CA004", DB_REFUSE_SERIAL },
		{ "CA005", DB_REFUSE_STATE },
		{ "CA006", DB_REFUSE_CA_CHANGED },
		{ "CA007", DB_REFUSE_PATH_CA },
		{ "CA008", DB_REFUSE_PATH_CERT },
	};
	/* Since 025 the issuing INSERTs are plain: a duplicate is a
	 * unique_violation of one of these constraints. */
	static const struct {
		const char *name;
		enum db_refusal r;
	} cons[] = {
		{ "seen_nonce_pkey", DB_REFUSE_REPLAY },
		{ "cmp_txn_req_nonce_key", DB_REFUSE_REPLAY },
		{ "cmp_txn_pkey", DB_REFUSE_TXID_IN_USE },
		{ "cert_ca_id_serial_key", DB_REFUSE_SERIAL },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(db->sqlstate, map[i].state) == 0)
			return map[i].r;
	if (db_unique_violation(db))
		for (i = 0; i < sizeof(cons) / sizeof(cons[0]); i++)
			if (strcmp(db->constraint, cons[i].name) == 0)
				return cons[i].r;
	return 0;
}

int
db_ca_cert_current(struct db *db, long long ca_id,
    const unsigned char ca_sha256[32])
{
	struct db_params p = {0};
	long long one;

	db_param_int8(&p, ca_id);
	db_param_bytea(&p, ca_sha256, 32);
	return db_get_int8(db, &st_ca_current, &p, &one);
}

/* The certificate arrays of cmpca_cert_store, in its order. */
enum {
	ARR_SERIAL, ARR_SUBJECT, ARR_ISSUER, ARR_SPKI, ARR_NOT_BEFORE,
	ARR_NOT_AFTER, ARR_STATUS, ARR_DER, ARR_PROFILE, ARR_REQUESTER,
	ARR_CERT_REQ_ID, ARR_REPLACES, ARR_SUPERSEDE, ARR_KIND, ARR_COUNT,
	/* After the certificates' arrays: the protection path's. */
	ARR_PATH_CA = ARR_COUNT, ARR_PATH_CERT, ARR_ALL
};

static const char *const issue_txn_tbl[] = {
    [DB_ISSUE_NEW] = "new",
    [DB_ISSUE_MOVE] = "move",
    [DB_ISSUE_STORE] = "none",
};
static const struct db_names issue_txn = DB_NAMES(issue_txn_tbl);

/* Is c one of the certificates of this call: same CA, same transaction
 * (or none given), a serial, DER and a status? 1 or 0. */
static int
issue_cert_ok(const struct db_cert *c, long long ca_id,
    const unsigned char *txid, size_t txid_len)
{
	return c != NULL && c->der != NULL && c->der_len > 0 &&
	    c->subject != NULL && c->issuer != NULL &&
	    db_fixed_ok(c->serial, sizeof(c->serial)) &&
	    strcmp(db_cert_status_name(c->status), "unknown") != 0 &&
	    c->ca_id == ca_id &&
	    (c->txid_len == 0 || (c->txid_len == txid_len &&
	    memcmp(c->txid, txid, txid_len) == 0));
}

/* Checks what db_issue() is given. Returns 1 or 0. */
static int
issue_args_ok(const struct db_issue *is, struct db_cert *const *c,
    size_t n)
{
	const struct db_txn *t = is->t;
	const unsigned char *txid;
	size_t txid_len, i;
	long long ca_id;

	if (db_name_of(&issue_txn, is->txn) == NULL || n > DB_ISSUE_MAX ||
	    is->npath_ca > DB_ISSUE_PATH_MAX ||
	    is->npath_cert > DB_ISSUE_PATH_MAX ||
	    (is->npath_ca > 0 && is->path_ca == NULL) ||
	    (is->npath_cert > 0 && is->path_cert == NULL) ||
	    (n > 0 && (c == NULL || is->ca_sha256 == NULL)))
		return 0;
	if (is->txn != DB_ISSUE_STORE &&
	    (t == NULL || t->id_len == 0 || t->id_len > DB_TXID_MAX ||
	    is->nonce == NULL || is->nonce_len == 0 ||
	    is->nonce_len > DB_NONCE_MAX ||
	    t->last_nonce_len > sizeof(t->last_nonce) ||
	    strcmp(db_txn_state_name(t->state), "unknown") == 0))
		return 0;
	if (is->txn == DB_ISSUE_MOVE &&
	    strcmp(db_txn_state_name(is->from), "unknown") == 0)
		return 0;
	if (t == NULL && n == 0)
		return 1;
	ca_id = t != NULL ? t->ca_id : c[0]->ca_id;
	txid = t != NULL ? t->id : c[0]->txid;
	txid_len = t != NULL ? t->id_len : c[0]->txid_len;
	for (i = 0; i < n; i++)
		if (!issue_cert_ok(c[i], ca_id, txid, txid_len))
			return 0;
	return 1;
}

/* Binds the protection path's two arrays (both statements end with
 * them); arr[] holds them until the statement ran. */
static void
path_params(struct db_params *p, struct db_array *arr,
    const struct db_issue *is)
{
	size_t i;

	db_array_init(&arr[ARR_PATH_CA], DB_OID_INT8);
	db_array_init(&arr[ARR_PATH_CERT], DB_OID_INT8);
	for (i = 0; i < is->npath_ca; i++)
		db_array_int8(&arr[ARR_PATH_CA], is->path_ca[i]);
	for (i = 0; i < is->npath_cert; i++)
		db_array_int8(&arr[ARR_PATH_CERT], is->path_cert[i]);
	db_param_array(p, &arr[ARR_PATH_CA]);
	db_param_array(p, &arr[ARR_PATH_CERT]);
}

/* Binds the arguments of cmpca_cert_store; arr[] holds the arrays until
 * the statement ran. */
static void
issue_params(struct db_params *p, struct db_array *arr,
    const struct db_issue *is, struct db_cert *const *c,
    const int *supersede, size_t n)
{
	static const unsigned int oid[ARR_COUNT] = {
		[ARR_SERIAL] = DB_OID_TEXT, [ARR_SUBJECT] = DB_OID_TEXT,
		[ARR_ISSUER] = DB_OID_TEXT, [ARR_SPKI] = DB_OID_BYTEA,
		[ARR_NOT_BEFORE] = DB_OID_INT8, [ARR_NOT_AFTER] = DB_OID_INT8,
		[ARR_STATUS] = DB_OID_TEXT, [ARR_DER] = DB_OID_BYTEA,
		[ARR_PROFILE] = DB_OID_TEXT, [ARR_REQUESTER] = DB_OID_TEXT,
		[ARR_CERT_REQ_ID] = DB_OID_INT4, [ARR_REPLACES] = DB_OID_INT8,
		[ARR_SUPERSEDE] = DB_OID_BOOL, [ARR_KIND] = DB_OID_TEXT,
	};
	const struct db_txn *t = is->t, *tx = is->txn != DB_ISSUE_STORE ? t :
	    NULL;
	size_t i;
	int k;

	db_param_text(p, db_name_of(&issue_txn, is->txn));
	if (t != NULL)
		db_param_bytea(p, t->id, t->id_len);
	else
		db_param_bytea(p, n > 0 && c[0]->txid_len > 0 ? c[0]->txid :
		    NULL, n > 0 ? c[0]->txid_len : 0);
	db_param_int8(p, t != NULL ? t->ca_id : n > 0 ? c[0]->ca_id : 0);
	db_param_bytea(p, is->ca_sha256, is->ca_sha256 != NULL ? 32 : 0);
	db_param_text(p, is->actor);
	db_param_bytea(p, tx != NULL ? is->nonce : NULL, is->nonce_len);
	db_param_text(p, tx != NULL ? tx->sender : NULL);
	db_param_text(p, tx != NULL ? tx->kind : NULL);
	db_param_text(p, is->txn == DB_ISSUE_MOVE ?
	    db_txn_state_name(is->from) : NULL);
	db_param_text(p, tx != NULL ? db_txn_state_name(tx->state) : NULL);
	db_param_bytea(p, tx != NULL && tx->last_nonce_len > 0 ?
	    tx->last_nonce : NULL, tx != NULL ? tx->last_nonce_len : 0);
	db_param_int8(p, tx != NULL ? tx->pvno : 0);
	db_param_int8(p, tx != NULL ? (long long)tx->expires : 0);
	db_param_text(p, is->txn == DB_ISSUE_NEW ? is->secret_ref : NULL);
	db_param_text(p, is->txn == DB_ISSUE_NEW && is->secret_version !=
	    NULL && is->secret_version[0] != '\0' ? is->secret_version : NULL);
	for (k = 0; k < ARR_COUNT; k++)
		db_array_init(&arr[k], oid[k]);
	for (i = 0; i < n; i++) {
		db_array_text(&arr[ARR_SERIAL], c[i]->serial);
		db_array_text(&arr[ARR_SUBJECT], c[i]->subject);
		db_array_text(&arr[ARR_ISSUER], c[i]->issuer);
		db_array_bytes(&arr[ARR_SPKI], c[i]->spki_sha256,
		    sizeof(c[i]->spki_sha256));
		db_array_int8(&arr[ARR_NOT_BEFORE], (long long)c[i]->not_before);
		db_array_int8(&arr[ARR_NOT_AFTER], (long long)c[i]->not_after);
		db_array_text(&arr[ARR_STATUS],
		    db_cert_status_name(c[i]->status));
		db_array_bytes(&arr[ARR_DER], c[i]->der, c[i]->der_len);
		db_array_text(&arr[ARR_PROFILE], c[i]->profile);
		db_array_text(&arr[ARR_REQUESTER], c[i]->requester);
		db_array_int4(&arr[ARR_CERT_REQ_ID], c[i]->cert_req_id);
		if (c[i]->replaces != 0)
			db_array_int8(&arr[ARR_REPLACES], c[i]->replaces);
		else
			db_array_bytes(&arr[ARR_REPLACES], NULL, 0);
		db_array_bool(&arr[ARR_SUPERSEDE],
		    supersede != NULL && supersede[i]);
		db_array_text(&arr[ARR_KIND], c[i]->kind[0] != '\0' ?
		    c[i]->kind : NULL);
	}
	for (k = 0; k < ARR_COUNT; k++)
		db_param_array(p, &arr[k]);
	db_param_int8(p, is->secret_uses);
	db_param_text(p, is->credential);
	db_param_id(p, is->obtained_with);
	path_params(p, arr, is);
}

/* Can st_store1 store this call? (Checked arguments.) 1 or 0. */
static int
issue1_fits(const struct db_issue *is, struct db_cert *const *c,
    const int *supersede, size_t n)
{
	return is->txn == DB_ISSUE_NEW && n == 1 &&
	    (supersede == NULL || !supersede[0]) &&
	    strcmp(c[0]->kind, "cross") != 0;
}

/* Binds the parameters of st_store1. */
static void
issue1_params(struct db_params *p, struct db_array *arr,
    const struct db_issue *is, const struct db_cert *c)
{
	const struct db_txn *t = is->t;

	db_param_bytea(p, t->id, t->id_len);
	db_param_int8(p, t->ca_id);
	db_param_bytea(p, is->ca_sha256, 32);
	db_param_text(p, is->actor);
	db_param_bytea(p, is->nonce, is->nonce_len);
	db_param_text(p, t->sender);
	db_param_text(p, t->kind);
	db_param_text(p, db_txn_state_name(t->state));
	db_param_bytea(p, t->last_nonce_len > 0 ? t->last_nonce : NULL,
	    t->last_nonce_len);
	db_param_int8(p, t->pvno);
	db_param_int8(p, (long long)t->expires);
	db_param_text(p, is->secret_ref);
	db_param_text(p, is->secret_ref != NULL ? is->secret_version : NULL);
	db_param_text(p, c->serial);
	db_param_text(p, c->subject);
	db_param_text(p, c->issuer);
	db_param_bytea(p, c->spki_sha256, sizeof(c->spki_sha256));
	db_param_int8(p, (long long)c->not_before);
	db_param_int8(p, (long long)c->not_after);
	db_param_text(p, db_cert_status_name(c->status));
	db_param_bytea(p, c->der, c->der_len);
	db_param_text(p, c->profile);
	db_param_text(p, c->requester);
	db_param_int8(p, c->cert_req_id);
	db_param_id(p, c->replaces);
	db_param_text(p, c->kind[0] != '\0' ? c->kind : NULL);
	db_param_text(p, is->credential);
	db_param_id(p, is->obtained_with);
	path_params(p, arr, is);
	db_param_int8(p, is->secret_uses > 1 ? is->secret_uses : 1);
}

int
db_issue(struct db *db, const struct db_issue *is, struct db_cert *const *c,
    const int *supersede, size_t n, enum db_refusal *why)
{
	struct db_params p = {0};
	struct db_array arr[ARR_ALL];
	struct db_row r;
	PGresult *res = NULL;
	size_t i;
	int k, fast, rc = -1;

	*why = 0;
	if (!issue_args_ok(is, c, n)) {
		db_seterr(db, "cert store failed: invalid argument");
		return -1;
	}
	memset(arr, 0, sizeof(arr)); /* freed below, used or not */
	fast = issue1_fits(is, c, supersede, n);
	if (fast)
		issue1_params(&p, arr, is, c[0]);
	else
		issue_params(&p, arr, is, c, supersede, n);
	if (db_run(db, fast ? &st_store1 : &st_store, &p, &res) != 1) {
		/* A refusal raised by the function (its SQLSTATE). */
		if ((*why = refusal(db)) != 0)
			rc = 0;
		goto out;
	}
	if ((size_t)PQntuples(res) != n) {
		db_seterr(db, "cert store failed: unexpected result");
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = (struct db_row){res, (int)i, 0, 0};
		c[i]->id = db_col_int8(&r, 0);
		if (r.bad) {
			db_seterr(db, "cert store failed: unexpected result");
			goto out;
		}
	}
	rc = 1;
out:
	PQclear(res);
	for (k = 0; k < ARR_ALL; k++)
		db_array_free(&arr[k]);
	return rc;
}

int
db_cert_store(struct db *db, const unsigned char ca_sha256[32],
    const char *actor, struct db_cert *c, int supersede,
    enum db_refusal *why)
{
	struct db_issue is = {
		.txn = DB_ISSUE_STORE,
		.ca_sha256 = ca_sha256,
		.actor = actor,
	};

	return db_issue(db, &is, &c, &supersede, 1, why);
}

int
db_issue1(struct db *db, const struct db_txn *t, const unsigned char *nonce,
    size_t nonce_len, const char *secret_ref, const char *secret_version,
    const unsigned char ca_sha256[32], struct db_cert *c, int supersede,
    enum db_refusal *why)
{
	struct db_issue is = {
		.txn = DB_ISSUE_NEW,
		.t = t,
		.nonce = nonce,
		.nonce_len = nonce_len,
		.secret_ref = secret_ref,
		.secret_version = secret_version,
		.ca_sha256 = ca_sha256,
		.actor = t->sender,
	};

	return db_issue(db, &is, &c, &supersede, 1, why);
}

/* "{1,2,3}" for a bigint[] parameter. Returns 1 or 0 (too long). */
static int
id_array(const long long *ids, size_t n, char *buf, size_t size)
{
	size_t i, o = 0;
	int w;

	w = snprintf(buf, size, "{");
	o = (size_t)w;
	for (i = 0; i < n; i++) {
		w = snprintf(buf + o, size - o, "%s%lld", i ? "," : "", ids[i]);
		if (w < 0 || (size_t)w >= size - o)
			return 0;
		o += (size_t)w;
	}
	w = snprintf(buf + o, size - o, "}");
	return w > 0 && (size_t)w < size - o;
}

int
db_txn_finish(struct db *db, const struct db_finish *f, enum db_refusal *why)
{
	struct db_params p = {0};
	char acc[DB_FINISH_MAX * 24], rej[DB_FINISH_MAX * 24];
	char sup[DB_FINISH_MAX * 24];
	PGresult *res = NULL;
	int rc = -1;

	*why = 0;
	if (f->txid_len == 0 || f->txid_len > DB_TXID_MAX ||
	    f->nonce_len == 0 || f->nonce_len > DB_NONCE_MAX ||
	    f->naccept > DB_FINISH_MAX || f->nreject > DB_FINISH_MAX ||
	    f->nsupersede > DB_FINISH_MAX ||
	    !id_array(f->accept, f->naccept, acc, sizeof(acc)) ||
	    !id_array(f->reject, f->nreject, rej, sizeof(rej)) ||
	    !id_array(f->supersede, f->nsupersede, sup, sizeof(sup))) {
		db_seterr(db, "txn finish failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, f->txid, f->txid_len);
	db_param_bytea(&p, f->nonce, f->nonce_len);
	db_param_text(&p, db_txn_state_name(f->from));
	db_param_text(&p, db_txn_state_name(f->to));
	db_param_bytea(&p, f->last_nonce, f->last_nonce_len);
	db_param_text(&p, acc);
	db_param_text(&p, rej);
	db_param_int8(&p, f->reason);
	db_param_text(&p, sup);
	db_param_text(&p, f->actor);
	db_param_int8(&p, f->ca_id);
	if (db_run(db, &st_finish, &p, &res) != 1) {
		if ((*why = refusal(db)) != 0)
			rc = 0;
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}
