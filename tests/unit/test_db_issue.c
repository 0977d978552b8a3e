/*
 * test_db_issue.c - storing issued certificates (cmpca_cert_store through
 * db_issue, db_issue1 and db_cert_store: one certificate, several, and
 * delayed delivery's final answer), finishing a transaction
 * (db_txn_finish) and its refusals, and db_update's "no row" answer
 * (part of test_db, see test_db.c).
 *
 * Every refusal is checked for what a user would see in the database:
 * nothing of the refused response is stored (no certificate, no
 * transaction, the nonce still free, the secret's use not consumed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "tests/unit/test_db.h"

/* The SHA-256 of the certificate make_ca() stores, and another one. */
static void
ca_hashes(unsigned char hash[32], unsigned char other[32])
{
	SHA256(der, sizeof(der), hash);
	memcpy(other, hash, 32);
	other[0] ^= 1;
}

/* A new transaction of CA ca with id "<tag>" and our nonce "n-<tag>". */
static void
make_txn(struct db_txn *t, long long ca, const char *tag,
    enum db_txn_state state)
{
	memset(t, 0, sizeof(*t));
	t->id_len = strlen(tag);
	memcpy(t->id, tag, t->id_len);
	t->ca_id = ca;
	snprintf(t->sender, sizeof(t->sender), "secret:%s", tag);
	snprintf(t->kind, sizeof(t->kind), "ir");
	t->state = state;
	t->last_nonce_len = (size_t)snprintf((char *)t->last_nonce,
	    sizeof(t->last_nonce), "n-%s", tag);
	t->pvno = 2;
	t->expires = time(NULL) + 300;
}

/* make_cert() for transaction t. */
static void
txn_cert(struct db_cert *c, const struct db_txn *t, const char *serial,
    enum db_cert_status status)
{
	make_cert(c, t->ca_id, serial, "CN=Issue Test", status);
	memcpy(c->txid, t->id, t->id_len);
	c->txid_len = t->id_len;
}

static void
put_secret(const char *ref, int uses)
{
	static const unsigned char sec[] = {0x02, 0x03};
	struct db_secret s;

	memset(&s, 0, sizeof(s));
	strcpy(s.ref, ref);
	s.secret = (unsigned char *)sec;
	s.secret_len = sizeof(sec);
	s.uses_left = uses;
	CHECK(db_secret_insert(db, &s), 1);
}

static int
secret_uses(const char *ref)
{
	struct db_secret s;
	int uses;

	CHECK(db_secret_get(db, ref, &s), 1);
	uses = s.uses_left;
	db_secret_clear(&s);
	return uses;
}

/* Certificates stored for transaction t. */
static size_t
txn_ncerts(const struct db_txn *t)
{
	struct db_cert *a = NULL;
	size_t n = 0;

	CHECK(db_cert_list_by_txn(db, t->id, t->id_len, &a, &n), 1);
	db_cert_array_free(a, n);
	return n;
}

/* Is the nonce still free? Claims it if so. */
static int
nonce_free(const char *nonce)
{
	int rc = db_nonce_claim(db, (const unsigned char *)nonce,
	    strlen(nonce));

	assert_true(rc >= 0);
	return rc;
}

/*
 * db_issue1: one certificate, its transaction, the nonce and the secret's
 * use in one statement; each refusal stores nothing of the request.
 */
static void
test_issue1(void **state)
{
	unsigned char hash[32], other[32];
	struct db_txn t, got;
	struct db_cert c, row;
	struct db_audit *a = NULL;
	enum db_refusal why;
	long long ca = make_ca("issue1-ca");
	char want[128];
	size_t n = 0;

	(void)state;
	ca_hashes(hash, other);
	put_secret("issue1-once", 1);

	make_txn(&t, ca, "i1-a", DB_TXN_WAIT_CONF);
	txn_cert(&c, &t, "1a01", DB_CERT_UNCONFIRMED);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-i1-a", 6,
	    "issue1-once", NULL, hash, &c, 0, &why), 1);
	assert_true(c.id > 0);
	CHECK(db_cert_get(db, c.id, &row), 1);
	assert_string_equal(row.serial, "1a01");
	assert_int_equal(row.status, DB_CERT_UNCONFIRMED);
	assert_int_equal(row.txid_len, 4);
	assert_memory_equal(row.txid, "i1-a", 4);
	db_cert_clear(&row);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_WAIT_CONF);
	assert_string_equal(got.sender, "secret:i1-a");
	assert_int_equal(secret_uses("issue1-once"), 0);
	/* One audit row for the issuance (migration 029): who asked, and
	 * the status line `cmpca audit verify` compares the row with. */
	CHECK(db_audit_list(db, ca, "issue", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "%lld 1a01 unconfirmed - -", c.id);
	assert_string_equal(a[0].detail, want);
	assert_string_equal(a[0].actor, "secret:i1-a");
	db_audit_array_free(a, n);
	CHECK(db_audit_list(db, ca, "cert-status", 0, 10, &a, &n), 1);
	assert_int_equal(n, 0);
	db_audit_array_free(a, n);

	/* The same senderNonce again: a replay. */
	make_txn(&t, ca, "i1-b", DB_TXN_WAIT_CONF);
	txn_cert(&c, &t, "1b01", DB_CERT_UNCONFIRMED);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-i1-a", 6, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_REPLAY);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	/* The same transactionID again. */
	make_txn(&t, ca, "i1-a", DB_TXN_WAIT_CONF);
	txn_cert(&c, &t, "1a02", DB_CERT_UNCONFIRMED);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-i1-a2", 7, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_TXID_IN_USE);
	assert_int_equal(txn_ncerts(&t), 1);
	assert_int_equal(nonce_free("c-i1-a2"), 1); /* rolled back */
	/* The secret's one use is gone. */
	make_txn(&t, ca, "i1-c", DB_TXN_WAIT_CONF);
	txn_cert(&c, &t, "1c01", DB_CERT_UNCONFIRMED);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-i1-c", 6,
	    "issue1-once", NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_SECRET_USED);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	assert_int_equal(nonce_free("c-i1-c"), 1);
	/* A serial this CA issued before. */
	make_txn(&t, ca, "i1-d", DB_TXN_WAIT_CONF);
	txn_cert(&c, &t, "1a01", DB_CERT_UNCONFIRMED);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-i1-d", 6, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_SERIAL);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	/* Signed under a CA certificate the row no longer holds. */
	make_txn(&t, ca, "i1-e", DB_TXN_WAIT_CONF);
	txn_cert(&c, &t, "1e01", DB_CERT_UNCONFIRMED);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-i1-e", 6, NULL,
	    NULL, other, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_CA_CHANGED);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	assert_int_equal(nonce_free("c-i1-e"), 1);
	/* Arguments the function never sends. */
	CHECK(db_issue1(db, &t, (const unsigned char *)"x", 0, NULL, NULL,
	    hash, &c, 0, &why), -1);
	c.der = NULL;
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-i1-f", 6, NULL,
	    NULL, hash, &c, 0, &why), -1);
}

/*
 * A transaction that ends in its first message (implicitConfirm, state
 * done) keeps its senderNonce in its own row (migration 025), not in
 * seen_nonce; the nonce is still refused everywhere: by another issuance
 * of either kind, by db_nonce_claim (genm, rr, ...), and a claimed
 * nonce refuses an implicit issuance. Unique violations of the plain
 * INSERTs come back as the same refusals (REPLAY, TXID_IN_USE, SERIAL),
 * and nothing of a refused response is stored.
 */
static void
test_issue1_implicit(void **state)
{
	unsigned char hash[32], other[32];
	struct db_txn t, got;
	struct db_cert c;
	enum db_refusal why;
	long long ca = make_ca("implicit-ca");

	(void)state;
	ca_hashes(hash, other);
	make_txn(&t, ca, "im-a", DB_TXN_DONE);
	txn_cert(&c, &t, "4a01", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-im-a", 6, NULL,
	    NULL, hash, &c, 0, &why), 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_DONE);
	/* Kept in the transaction's row: a claim elsewhere is refused. */
	assert_int_equal(nonce_free("c-im-a"), 0);
	/* Another implicit issuance with that nonce: a replay. */
	make_txn(&t, ca, "im-b", DB_TXN_DONE);
	txn_cert(&c, &t, "4b01", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-im-a", 6, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_REPLAY);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	assert_int_equal(txn_ncerts(&t), 0);
	/* One waiting for certConf with that nonce: a replay too. */
	make_txn(&t, ca, "im-c", DB_TXN_WAIT_CONF);
	txn_cert(&c, &t, "4c01", DB_CERT_UNCONFIRMED);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-im-a", 6, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_REPLAY);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	/* A nonce claimed in seen_nonce refuses an implicit issuance. */
	assert_int_equal(nonce_free("c-im-d"), 1);
	make_txn(&t, ca, "im-d", DB_TXN_DONE);
	txn_cert(&c, &t, "4d01", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-im-d", 6, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_REPLAY);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	/* The transactionID again, with a fresh nonce. */
	make_txn(&t, ca, "im-a", DB_TXN_DONE);
	txn_cert(&c, &t, "4a02", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-im-e", 6, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_TXID_IN_USE);
	assert_int_equal(txn_ncerts(&t), 1);
	/* A serial the CA issued: refused, and the nonce stays free. */
	make_txn(&t, ca, "im-f", DB_TXN_DONE);
	txn_cert(&c, &t, "4a01", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-im-f", 6, NULL,
	    NULL, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_SERIAL);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 0);
	txn_cert(&c, &t, "4f01", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-im-f", 6, NULL,
	    NULL, hash, &c, 0, &why), 1);
}

/*
 * An unlimited secret is only read, under the row version the worker
 * saw: a row changed since (resealed, replaced) refuses like a used-up
 * secret (migration 012's guarantee, kept by 014).
 */
static void
test_issue1_secret_version(void **state)
{
	unsigned char hash[32], other[32];
	struct db_secret s;
	struct db_txn t;
	struct db_cert c;
	enum db_refusal why;
	char version[sizeof(s.version)];
	long long ca = make_ca("issue1-ver");

	(void)state;
	ca_hashes(hash, other);
	put_secret("issue1-unl", -1);
	CHECK(db_secret_get(db, "issue1-unl", &s), 1);
	strcpy(version, s.version);
	db_secret_clear(&s);
	make_txn(&t, ca, "iv-a", DB_TXN_DONE);
	txn_cert(&c, &t, "2a01", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-iv-a", 6,
	    "issue1-unl", version, hash, &c, 0, &why), 1);
	assert_int_equal(secret_uses("issue1-unl"), -1);
	CHECK(db_secret_set_sealed(db, "issue1-unl",
	    (const unsigned char *)"\x03sealed", 7), 1);
	make_txn(&t, ca, "iv-b", DB_TXN_DONE);
	txn_cert(&c, &t, "2b01", DB_CERT_VALID);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-iv-b", 6,
	    "issue1-unl", version, hash, &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_SECRET_USED);
	assert_int_equal(txn_ncerts(&t), 0);
}

/*
 * The settings the one-statement store leaves for the cert trigger name
 * its CMP transaction: another certificate inserted later in the same
 * database transaction gets a cert-status row of the database role, not
 * an issue row in the requester's name (migration 029).
 */
static void
test_issue1_settings_scope(void **state)
{
	unsigned char hash[32], other[32];
	struct db_txn t;
	struct db_cert c, more;
	struct db_audit *a = NULL;
	enum db_refusal why;
	long long ca = make_ca("issue1-scope");
	size_t n = 0;

	(void)state;
	ca_hashes(hash, other);
	make_txn(&t, ca, "is-a", DB_TXN_DONE);
	txn_cert(&c, &t, "3a01", DB_CERT_VALID);
	CHECK(db_begin(db), 1);
	CHECK(db_issue1(db, &t, (const unsigned char *)"c-is-a", 6, NULL,
	    NULL, hash, &c, 0, &why), 1);
	make_cert(&more, ca, "3a02", "CN=Later", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &more), 1);
	CHECK(db_commit(db), 1);
	CHECK(db_audit_list(db, ca, "issue", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	assert_non_null(strstr(a[0].detail, " 3a01 valid "));
	assert_string_equal(a[0].actor, "secret:is-a");
	db_audit_array_free(a, n);
	CHECK(db_audit_list(db, ca, "cert-status", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	assert_non_null(strstr(a[0].detail, " 3a02 valid "));
	assert_string_not_equal(a[0].actor, "secret:is-a");
	db_audit_array_free(a, n);
}

/*
 * Several certificates of one response in one call: ids in order, one
 * transaction, the audit entries, and a kur's supersede; a refusal of
 * the last certificate stores none of them.
 */
static void
test_issue_n(void **state)
{
	unsigned char hash[32], other[32];
	struct db_cert c[3], *cp[3] = {&c[0], &c[1], &c[2]}, old, got;
	struct db_cert *list = NULL;
	struct db_issue is;
	struct db_txn t, got_t;
	struct db_audit *a = NULL;
	enum db_refusal why;
	int sup[3] = {0, 1, 0};
	long long ca = make_ca("issuen-ca");
	size_t n = 0, i;

	(void)state;
	ca_hashes(hash, other);
	make_cert(&old, ca, "3001", "CN=Old", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &old), 1);

	make_txn(&t, ca, "in-a", DB_TXN_DONE);
	for (i = 0; i < 3; i++) {
		char serial[8];

		snprintf(serial, sizeof(serial), "31%02zu", i);
		txn_cert(&c[i], &t, serial, DB_CERT_VALID);
		c[i].cert_req_id = (int)i;
	}
	c[1].replaces = old.id;
	memset(&is, 0, sizeof(is));
	is.txn = DB_ISSUE_NEW;
	is.t = &t;
	is.nonce = (const unsigned char *)"c-in-a";
	is.nonce_len = 6;
	is.ca_sha256 = hash;
	is.actor = "cert:CN=RA";
	CHECK(db_issue(db, &is, cp, sup, 3, &why), 1);
	CHECK(db_cert_list_by_txn(db, t.id, t.id_len, &list, &n), 1);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(list[i].id, c[i].id);
		assert_string_equal(list[i].serial, c[i].serial);
		assert_int_equal(list[i].cert_req_id, (int)i);
		assert_int_equal(list[i].status, DB_CERT_VALID);
	}
	assert_int_equal(list[1].replaces, old.id);
	assert_int_equal(list[0].replaces, 0);
	assert_int_equal(list[2].server_keygen, 0);
	db_cert_array_free(list, n);
	/* Central key generation (migration 022): the third is marked. */
	CHECK(db_cert_mark_keygen(db, &c[2].id, 1), 1);
	CHECK(db_cert_mark_keygen(db, &c[2].id, 1), 0);
	CHECK(db_cert_list_by_txn(db, t.id, t.id_len, &list, &n), 1);
	assert_int_equal(list[0].server_keygen, 0);
	assert_int_equal(list[2].server_keygen, 1);
	db_cert_array_free(list, n);
	assert_true(c[0].id < c[1].id && c[1].id < c[2].id);
	CHECK(db_cert_get(db, old.id, &got), 1);
	assert_int_equal(got.status, DB_CERT_REVOKED);
	assert_int_equal(got.reason, 4); /* superseded */
	db_cert_clear(&got);
	CHECK(db_audit_list(db, ca, "issue", 0, 10, &a, &n), 1);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		assert_string_equal(a[i].actor, "cert:CN=RA");
	db_audit_array_free(a, n);

	/* The third serial collides: nothing of the response is stored. */
	make_txn(&t, ca, "in-b", DB_TXN_WAIT_CONF);
	txn_cert(&c[0], &t, "3200", DB_CERT_UNCONFIRMED);
	txn_cert(&c[1], &t, "3201", DB_CERT_UNCONFIRMED);
	txn_cert(&c[2], &t, "3100", DB_CERT_UNCONFIRMED);
	is.nonce = (const unsigned char *)"c-in-b";
	CHECK(db_issue(db, &is, cp, NULL, 3, &why), 0);
	assert_int_equal(why, DB_REFUSE_SERIAL);
	assert_int_equal(txn_ncerts(&t), 0);
	CHECK(db_cert_get_by_serial(db, ca, "3200", &got), 0);
	assert_int_equal(nonce_free("c-in-b"), 1);

	/* A transaction with no certificate (all requests rejected). */
	make_txn(&t, ca, "in-c", DB_TXN_DONE);
	is.nonce = (const unsigned char *)"c-in-c";
	CHECK(db_issue(db, &is, NULL, NULL, 0, &why), 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got_t), 1);
	assert_int_equal(got_t.state, DB_TXN_DONE);
	assert_int_equal(nonce_free("c-in-c"), 0);

	/* One response is one CA and one transaction. */
	make_txn(&t, ca, "in-d", DB_TXN_DONE);
	is.nonce = (const unsigned char *)"c-in-d";
	txn_cert(&c[0], &t, "3300", DB_CERT_VALID);
	txn_cert(&c[1], &t, "3301", DB_CERT_VALID);
	c[1].ca_id = ca_a;
	CHECK(db_issue(db, &is, cp, NULL, 2, &why), -1);
	c[1].ca_id = ca;
	c[1].txid[0] ^= 1;
	CHECK(db_issue(db, &is, cp, NULL, 2, &why), -1);
	CHECK(db_issue(db, &is, cp, NULL, DB_ISSUE_MAX + 1, &why), -1);
	is.txn = 0;
	CHECK(db_issue(db, &is, cp, NULL, 1, &why), -1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got_t), 0);
}

/* A ccr's cross certificate is stored the same way, as kind "cross" with
 * a "cross-certify" audit row instead of "issue". */
static void
test_issue_cross(void **state)
{
	unsigned char hash[32], other[32];
	struct db_cert c, *cp = &c, got;
	struct db_issue is;
	struct db_txn t;
	struct db_audit *a = NULL;
	enum db_refusal why;
	long long ca = make_ca("cross-ca");
	size_t n = 0;

	(void)state;
	ca_hashes(hash, other);
	make_txn(&t, ca, "cr-a", DB_TXN_WAIT_CONF);
	strcpy(t.kind, "ccr");
	txn_cert(&c, &t, "c001", DB_CERT_UNCONFIRMED);
	strcpy(c.kind, "cross");
	memset(&is, 0, sizeof(is));
	is.txn = DB_ISSUE_NEW;
	is.t = &t;
	is.nonce = (const unsigned char *)"c-cr-a";
	is.nonce_len = 6;
	is.ca_sha256 = hash;
	is.actor = "cert:CN=Partner";
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), 1);
	CHECK(db_cert_get(db, c.id, &got), 1);
	assert_string_equal(got.kind, "cross");
	db_cert_clear(&got);
	CHECK(db_audit_list(db, ca, "cross-certify", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].detail, "c001");
	db_audit_array_free(a, n);
	CHECK(db_audit_list(db, ca, "issue", 0, 10, &a, &n), 1);
	assert_int_equal(n, 0);
	strcpy(c.kind, "bogus"); /* the table's CHECK refuses it */
	strcpy(c.serial, "c002");
	is.nonce = (const unsigned char *)"c-cr-b";
	t.id[0] = 'C';
	c.txid[0] = 'C';
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), -1);
}

/*
 * Delayed delivery's final answer: the waiting transaction moves on and
 * the certificates are stored in the same statement; a second poll that
 * raced it finds the state changed (CA005) and stores nothing.
 */
static void
test_issue_move(void **state)
{
	unsigned char hash[32], other[32];
	struct db_cert c[2], *cp[2] = {&c[0], &c[1]};
	struct db_issue is;
	struct db_txn t, got;
	enum db_refusal why;
	long long ca = make_ca("issuemv-ca");

	(void)state;
	ca_hashes(hash, other);
	make_txn(&t, ca, "mv-a", DB_TXN_WAITING);
	CHECK(db_txn_insert(db, &t), 1);
	t.state = DB_TXN_WAIT_CONF;
	t.last_nonce_len = 6;
	memcpy(t.last_nonce, "n-mv-2", 6);
	txn_cert(&c[0], &t, "4001", DB_CERT_UNCONFIRMED);
	txn_cert(&c[1], &t, "4002", DB_CERT_UNCONFIRMED);
	c[1].cert_req_id = 1;
	memset(&is, 0, sizeof(is));
	is.txn = DB_ISSUE_MOVE;
	is.t = &t;
	is.from = DB_TXN_WAITING;
	is.nonce = (const unsigned char *)"c-mv-1";
	is.nonce_len = 6;
	is.ca_sha256 = other;
	is.actor = "secret:mv";

	/* Signed under another CA certificate: the transaction waits on. */
	CHECK(db_issue(db, &is, cp, NULL, 2, &why), 0);
	assert_int_equal(why, DB_REFUSE_CA_CHANGED);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_WAITING);
	assert_memory_equal(got.last_nonce, "n-mv-a", 6);
	assert_int_equal(txn_ncerts(&t), 0);

	is.ca_sha256 = hash;
	CHECK(db_issue(db, &is, cp, NULL, 2, &why), 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_WAIT_CONF);
	assert_memory_equal(got.last_nonce, "n-mv-2", 6);
	assert_int_equal(txn_ncerts(&t), 2);
	assert_true(c[0].id > 0 && c[1].id > c[0].id);

	/* The same poll again is a replay; another one finds the state
	 * changed. Neither stores anything. */
	txn_cert(&c[0], &t, "4003", DB_CERT_UNCONFIRMED);
	CHECK(db_issue(db, &is, cp, NULL, 1, &why), 0);
	assert_int_equal(why, DB_REFUSE_REPLAY);
	is.nonce = (const unsigned char *)"c-mv-2";
	CHECK(db_issue(db, &is, cp, NULL, 1, &why), 0);
	assert_int_equal(why, DB_REFUSE_STATE);
	assert_int_equal(txn_ncerts(&t), 2);
	assert_int_equal(nonce_free("c-mv-2"), 1);

	/* Every request rejected by the operator: done, nothing stored. */
	make_txn(&t, ca, "mv-b", DB_TXN_WAITING);
	CHECK(db_txn_insert(db, &t), 1);
	t.state = DB_TXN_DONE;
	is.nonce = (const unsigned char *)"c-mv-3";
	CHECK(db_issue(db, &is, NULL, NULL, 0, &why), 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_DONE);
}

/*
 * db_txn_finish: confirmations, rejections and supersedes with their
 * audit entries; refused for a replayed nonce and for a transaction not
 * in the expected state, with nothing changed.
 */
static void
test_txn_finish(void **state)
{
	unsigned char hash[32], other[32];
	struct db_cert c[3], *cp[3] = {&c[0], &c[1], &c[2]}, old, got;
	struct db_issue is;
	struct db_finish f;
	struct db_txn t, g;
	struct db_audit *a = NULL;
	enum db_refusal why;
	long long ca = make_ca("finish-ca");
	char want[128];
	size_t n = 0;

	(void)state;
	ca_hashes(hash, other);
	make_cert(&old, ca, "5001", "CN=Finish Old", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &old), 1);
	make_txn(&t, ca, "fi-a", DB_TXN_WAIT_CONF);
	txn_cert(&c[0], &t, "5101", DB_CERT_UNCONFIRMED);
	txn_cert(&c[1], &t, "5102", DB_CERT_UNCONFIRMED);
	txn_cert(&c[2], &t, "5103", DB_CERT_UNCONFIRMED);
	memset(&is, 0, sizeof(is));
	is.txn = DB_ISSUE_NEW;
	is.t = &t;
	is.nonce = (const unsigned char *)"c-fi-a";
	is.nonce_len = 6;
	is.ca_sha256 = hash;
	is.actor = "secret:fi";
	CHECK(db_issue(db, &is, cp, NULL, 3, &why), 1);

	memset(&f, 0, sizeof(f));
	f.txid = t.id;
	f.txid_len = t.id_len;
	f.nonce = (const unsigned char *)"c-fi-a"; /* the ir's nonce */
	f.nonce_len = 6;
	f.from = DB_TXN_WAIT_CONF;
	f.to = DB_TXN_DONE;
	f.last_nonce = (const unsigned char *)"n-fi-2";
	f.last_nonce_len = 6;
	f.accept[f.naccept++] = c[0].id;
	f.reject[f.nreject++] = c[1].id;
	f.reason = 5;
	f.supersede[f.nsupersede++] = old.id;
	f.actor = "secret:fi";
	f.ca_id = ca;
	CHECK(db_txn_finish(db, &f, &why), 0);
	assert_int_equal(why, DB_REFUSE_REPLAY);
	f.from = DB_TXN_WAITING;
	f.nonce = (const unsigned char *)"c-fi-b";
	CHECK(db_txn_finish(db, &f, &why), 0);
	assert_int_equal(why, DB_REFUSE_STATE);
	CHECK(db_cert_get(db, c[0].id, &got), 1);
	assert_int_equal(got.status, DB_CERT_UNCONFIRMED);
	db_cert_clear(&got);
	assert_int_equal(nonce_free("c-fi-b"), 1);

	f.from = DB_TXN_WAIT_CONF;
	f.nonce = (const unsigned char *)"c-fi-c";
	CHECK(db_txn_finish(db, &f, &why), 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &g), 1);
	assert_int_equal(g.state, DB_TXN_DONE);
	assert_memory_equal(g.last_nonce, "n-fi-2", 6);
	CHECK(db_cert_get(db, c[0].id, &got), 1);
	assert_int_equal(got.status, DB_CERT_VALID);
	db_cert_clear(&got);
	CHECK(db_cert_get(db, c[1].id, &got), 1);
	assert_int_equal(got.status, DB_CERT_REJECTED);
	assert_int_equal(got.reason, 5);
	db_cert_clear(&got);
	CHECK(db_cert_get(db, c[2].id, &got), 1);
	assert_int_equal(got.status, DB_CERT_UNCONFIRMED); /* not named */
	db_cert_clear(&got);
	CHECK(db_cert_get(db, old.id, &got), 1);
	assert_int_equal(got.status, DB_CERT_REVOKED);
	assert_int_equal(got.reason, 4);
	db_cert_clear(&got);
	/* One audit row each (migration 029): who confirmed or rejected,
	 * with the status line; the supersede keeps revoke + cert-status. */
	CHECK(db_audit_list(db, ca, "confirm", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "%lld 5101 valid - -", c[0].id);
	assert_string_equal(a[0].detail, want);
	assert_string_equal(a[0].actor, "secret:fi");
	db_audit_array_free(a, n);
	CHECK(db_audit_list(db, ca, "reject", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	assert_non_null(strstr(a[0].detail, " 5102 rejected 5 "));
	db_audit_array_free(a, n);
	CHECK(db_audit_list(db, ca, "cert-status", 0, 10, &a, &n), 1);
	assert_int_equal(n, 2); /* old's insert and its revocation */
	db_audit_array_free(a, n);

	f.naccept = DB_FINISH_MAX + 1;
	CHECK(db_txn_finish(db, &f, &why), -1);
	f.naccept = 0;
	f.nonce_len = 0;
	CHECK(db_txn_finish(db, &f, &why), -1);
}

/*
 * db_update's "no row": an UPDATE or DELETE that matched nothing is an
 * answer (0), not an error, and changes nothing; one that matched is 1.
 */
static void
test_update_no_row(void **state)
{
	struct db_cert c;
	long long ca_id = -1, pruned = -1;
	long long ca = make_ca("update-ca");

	(void)state;
	CHECK(db_ra_delete(db, "no-such-ra"), 0);
	CHECK(db_partner_delete(db, "no-such-partner"), 0);
	CHECK(db_txn_advance(db, (const unsigned char *)"no-txn", 6,
	    DB_TXN_WAIT_CONF, DB_TXN_DONE, NULL, 0), 0);
	CHECK(db_secret_set_sealed(db, "no-such-secret",
	    (const unsigned char *)"\x03x", 2), 0);
	CHECK(db_secret_consume(db, "no-such-secret", NULL), 0);
	CHECK(db_pending_decide(db, 999999, DB_PENDING_APPROVED, NULL, "op",
	    &ca_id), 0);
	assert_int_equal(ca_id, 0);
	CHECK(db_ca_retire(db, 999999), 0);
	CHECK(db_ca_activate(db, 999999, der, sizeof(der), NULL, 0), 0);
	CHECK(db_cert_set_kind(db, 999999, "ca"), -1);

	make_cert(&c, ca, "6001", "CN=Update", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_UNCONFIRMED,
	    DB_CERT_REVOKED, 1), 0);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_VALID,
	    DB_CERT_REVOKED, 1), 1);
	CHECK(db_cert_set_kind(db, c.id, "ca"), 1);
	CHECK(db_nonce_prune(db, 1000000000LL, &pruned), 1);
	assert_int_equal(pruned, 0);
}

/*
 * Archived keys (migration 027): stored with the certificate and
 * audited; a recovery asked, decided by another operator only, taken
 * once for its own key; the certificate rejected takes the row with it.
 */
static void
test_keyarch(void **state)
{
	static const unsigned char blob[] = {0x01, 0xaa, 0xbb, 0xcc, 0xdd};
	struct db_cert c;
	struct db_keyarch k;
	struct db_audit *a = NULL;
	long long ca = make_ca("karch-ca"), id = 0, r = 0, by_ca = 0;
	size_t n = 0;

	(void)state;
	make_cert(&c, ca, "4001", "CN=Archived", DB_CERT_UNCONFIRMED);
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_keyarch_insert(db, c.id, ca, "cmpca-archive-karch-ca", blob,
	    sizeof(blob), &id), 1);
	assert_true(id > 0);
	/* One archived key per certificate. */
	CHECK(db_keyarch_insert(db, c.id, ca, "cmpca-archive-karch-ca", blob,
	    sizeof(blob), NULL), -1);
	CHECK(db_keyarch_insert(db, c.id, ca, "", blob, sizeof(blob), NULL),
	    -1);
	CHECK(db_keyarch_get(db, ca, "4001", &k), 1);
	assert_int_equal(k.id, id);
	assert_int_equal(k.cert_id, c.id);
	assert_string_equal(k.serial, "4001");
	assert_string_equal(k.key_label, "cmpca-archive-karch-ca");
	assert_int_equal(k.wrapped_len, sizeof(blob));
	assert_memory_equal(k.wrapped, blob, sizeof(blob));
	db_keyarch_clear(&k);
	CHECK(db_keyarch_get(db, ca, "4002", &k), 0);
	CHECK(db_audit_list(db, ca, "key-archive", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	db_audit_array_free(a, n);

	CHECK(db_keyrec_request(db, id, "alice", &r), 1);
	CHECK(db_keyrec_take(db, r, id), 0);		       /* not approved */
	CHECK(db_keyrec_decide(db, r, 1, "alice", &by_ca), 0); /* the asker */
	CHECK(db_keyrec_decide(db, r, 1, "bob", &by_ca), 1);
	assert_int_equal(by_ca, ca);
	CHECK(db_keyrec_decide(db, r, 0, "carol", NULL), 0); /* decided */
	CHECK(db_keyrec_take(db, r, id + 1000), 0);	     /* another key */
	CHECK(db_keyrec_take(db, r, id), 1);
	CHECK(db_keyrec_take(db, r, id), 0); /* once */

	/* krr: the daemon's path, audited (key-recover). */
	{
		unsigned char *w = NULL;
		size_t wlen = 0;

		CHECK(db_keyarch_fetch(db, c.id, "secret:karch", &w, &wlen),
		    1);
		assert_int_equal(wlen, sizeof(blob));
		assert_memory_equal(w, blob, sizeof(blob));
		free(w);
		CHECK(db_keyarch_fetch(db, c.id + 1000, "secret:karch", &w,
		    &wlen), 0);
		assert_null(w);
		CHECK(db_audit_list(db, ca, "key-recover", 0, 10, &a, &n), 1);
		assert_int_equal(n, 1);
		assert_string_equal(a[0].actor, "secret:karch");
		db_audit_array_free(a, n);
	}

	/* certConf rejects the certificate: the archived key goes. */
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_UNCONFIRMED,
	    DB_CERT_REJECTED, -1), 1);
	CHECK(db_keyarch_get(db, ca, "4001", &k), 0);
	CHECK(db_audit_list(db, ca, "key-destroy", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	db_audit_array_free(a, n);
}

const struct CMUnitTest test_db_issue_tests[] = {
    cmocka_unit_test(test_issue1),
    cmocka_unit_test(test_issue1_secret_version),
    cmocka_unit_test(test_issue1_settings_scope),
    cmocka_unit_test(test_issue1_implicit),
    cmocka_unit_test(test_issue_n),
    cmocka_unit_test(test_keyarch),
    cmocka_unit_test(test_issue_cross),
    cmocka_unit_test(test_issue_move),
    cmocka_unit_test(test_txn_finish),
    cmocka_unit_test(test_update_no_row),
};
const size_t test_db_issue_n =
    sizeof(test_db_issue_tests) / sizeof(test_db_issue_tests[0]);
