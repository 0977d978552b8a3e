/*
 * db_issue.c - the two hot paths of the CA in one round trip each, through
 * the SQL functions of db/schema/006_issue_functions.sql: issuing one
 * certificate (nonce, transaction, secret use, certificate, audit) and
 * finishing a transaction (nonce, state, confirmations, rejections,
 * supersede revocations, audit). Refusals come back as SQLSTATEs CA001..5.
 */
#include <stdio.h>
#include <string.h>

#include "db/db_int.h"

static const struct db_stmt st_issue1 = {DB_ST_ISSUE1, "issue1",
    "SELECT cmpca_issue1($1::bytea, $2::bigint, $3::text, $4::text,"
    " $5::text, $6::bytea, $7::int, $8::bigint, $9::bytea, $10::text,"
    " $11::text, $12::text, $13::text, $14::bytea, $15::bigint,"
    " $16::bigint, $17::text, $18::bytea, $19::text, $20::text, $21::int,"
    " $22::bigint, $23::boolean, $24::text, $25::bytea)"};
static const struct db_stmt st_store = {DB_ST_CERT_STORE, "cert_store",
    "SELECT cmpca_cert_store($1::bigint, $2::bytea, $3::text, $4::text,"
    " $5::text, $6::text, $7::bytea, $8::bigint, $9::bigint, $10::text,"
    " $11::bytea, $12::text, $13::text, $14::bytea, $15::int, $16::bigint,"
    " $17::boolean)"};
static const struct db_stmt st_ca_current = {DB_ST_CA_CERT_CURRENT,
    "ca_cert_current",
    "SELECT 1::bigint FROM ca WHERE id = $1::bigint AND status = 'active'"
    " AND sha256(cert) = $2::bytea"};
static const struct db_stmt st_finish = {DB_ST_FINISH, "txn_finish",
    "SELECT cmpca_finish($1::bytea, $2::bytea, $3::text, $4::text,"
    " $5::bytea, $6::bigint[], $7::bigint[], $8::int, $9::bigint[],"
    " $10::text, $11::bigint)"};

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
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(db->sqlstate, map[i].state) == 0)
			return map[i].r;
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

/* The certificate's columns, in the order both issuing functions take
 * them (serial to requester). */
static void
cert_params(struct db_params *p, const struct db_cert *c)
{
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
}

/* Runs an issuing statement that returns the new certificate's id.
 * Returns 1, 0 with *why set (a refusal the function raised), or -1. */
static int
run_id(struct db *db, const struct db_stmt *st, struct db_params *p,
    long long *id, enum db_refusal *why, const char *what)
{
	int rc = db_get_int8(db, st, p, id);

	if (rc == 0)
		db_seterr(db, "%s failed: unexpected result", what);
	if (rc != -1)
		return rc == 1 ? 1 : -1;
	/* A refusal raised by the function (its SQLSTATE), or an error. */
	return (*why = refusal(db)) != 0 ? 0 : -1;
}

int
db_cert_store(struct db *db, const unsigned char ca_sha256[32],
    const char *actor, struct db_cert *c, int supersede,
    enum db_refusal *why)
{
	struct db_params p = {0};

	*why = 0;
	if (c->der == NULL || c->txid_len > DB_TXID_MAX ||
	    !db_fixed_ok(c->serial, sizeof(c->serial))) {
		db_seterr(db, "cert store failed: invalid argument");
		return -1;
	}
	db_param_int8(&p, c->ca_id);
	db_param_bytea(&p, ca_sha256, 32);
	db_param_text(&p, actor);
	cert_params(&p, c);
	db_param_bytea(&p, c->txid_len > 0 ? c->txid : NULL, c->txid_len);
	db_param_int8(&p, c->cert_req_id);
	db_param_id(&p, c->replaces);
	db_param_text(&p, supersede ? "true" : "false");
	return run_id(db, &st_store, &p, &c->id, why, "cert store");
}

int
db_issue1(struct db *db, const struct db_txn *t, const unsigned char *nonce,
    size_t nonce_len, const char *secret_ref, const char *secret_version,
    const unsigned char ca_sha256[32], struct db_cert *c, int supersede,
    enum db_refusal *why)
{
	struct db_params p = {0};

	*why = 0;
	if (t->id_len == 0 || t->id_len > DB_TXID_MAX || nonce_len == 0 ||
	    nonce_len > DB_NONCE_MAX || c->der == NULL ||
	    !db_fixed_ok(c->serial, sizeof(c->serial))) {
		db_seterr(db, "issue failed: invalid argument");
		return -1;
	}
	db_param_bytea(&p, t->id, t->id_len);
	db_param_int8(&p, t->ca_id);
	db_param_text(&p, t->sender);
	db_param_text(&p, t->kind);
	db_param_text(&p, db_txn_state_name(t->state));
	db_param_bytea(&p, t->last_nonce, t->last_nonce_len);
	db_param_int8(&p, t->pvno);
	db_param_int8(&p, (long long)t->expires);
	db_param_bytea(&p, nonce, nonce_len);
	db_param_text(&p, secret_ref);
	cert_params(&p, c);
	db_param_int8(&p, c->cert_req_id);
	db_param_id(&p, c->replaces);
	db_param_text(&p, supersede ? "true" : "false");
	db_param_text(&p, secret_version != NULL && secret_version[0] != '\0'
		? secret_version : NULL);
	db_param_bytea(&p, ca_sha256, 32);
	return run_id(db, &st_issue1, &p, &c->id, why, "issue");
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
