/*
 * test_db_scope.c - a credential carries its scope (issue 22, migration
 * 018): what cmpca_cert_store records of who asked (credential,
 * obtained_with) and db_cert_obtained_with's cascade; the protection path
 * re-checked by the issuing statement (a retired CA: CA007, a revoked
 * certificate: CA008, an earlier key of an active identity accepted);
 * uses of a limited secret counted per certificate; disabled and removed
 * secrets; finished transactions pruned (part of test_db, see test_db.c).
 *
 * Each refusal is checked for what a user would see: nothing of the
 * refused response stored, the secret's uses untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "tests/unit/test_db.h"

/* A new transaction of CA ca with id tag. */
static void
scope_txn(struct db_txn *t, long long ca, const char *tag,
    enum db_txn_state state)
{
	memset(t, 0, sizeof(*t));
	t->id_len = strlen(tag);
	memcpy(t->id, tag, t->id_len);
	t->ca_id = ca;
	snprintf(t->sender, sizeof(t->sender), "secret:%s", tag);
	snprintf(t->kind, sizeof(t->kind), "ir");
	t->state = state;
	t->last_nonce_len = 2;
	memcpy(t->last_nonce, "ln", 2);
	t->pvno = 2;
	t->expires = time(NULL) + 300;
}

/* An issuing call of transaction t for CA ca (nonce "n-<tag>"). */
static void
scope_issue(struct db_issue *is, const struct db_txn *t,
    const unsigned char *hash)
{
	memset(is, 0, sizeof(*is));
	is->txn = DB_ISSUE_NEW;
	is->t = t;
	is->nonce = t->id;
	is->nonce_len = t->id_len;
	is->ca_sha256 = hash;
	is->actor = "cert:CN=Scope";
}

static void
scope_cert(struct db_cert *c, const struct db_txn *t, const char *serial)
{
	make_cert(c, t->ca_id, serial, "CN=Scope", DB_CERT_VALID);
	memcpy(c->txid, t->id, t->id_len);
	c->txid_len = t->id_len;
}

/* Stored: credential and obtained_with; revoke --cascade's walk. */
static void
test_scope_obtained_with(void **state)
{
	unsigned char hash[32];
	struct db_cert root, c1, c2, got, *cp, *list = NULL;
	struct db_issue is;
	struct db_txn t;
	enum db_refusal why;
	long long ca = make_ca("scope-ow");
	long long path_ca[1] = {ca}, path_cert[1];
	size_t n = 0;

	(void)state;
	SHA256(der, sizeof(der), hash);
	make_cert(&root, ca, "5000", "CN=Device", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &root), 1);

	/* c1 obtained with root, c2 with c1. */
	scope_txn(&t, ca, "scope-ow-1", DB_TXN_DONE);
	scope_cert(&c1, &t, "5001");
	cp = &c1;
	scope_issue(&is, &t, hash);
	is.credential = "cert:sha256:00aa";
	is.obtained_with = root.id;
	path_cert[0] = root.id;
	is.path_ca = path_ca;
	is.npath_ca = 1;
	is.path_cert = path_cert;
	is.npath_cert = 1;
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), 1);
	CHECK(db_cert_get(db, c1.id, &got), 1);
	assert_string_equal(got.credential, "cert:sha256:00aa");
	assert_int_equal(got.obtained_with, root.id);
	db_cert_clear(&got);

	scope_txn(&t, ca, "scope-ow-2", DB_TXN_DONE);
	scope_cert(&c2, &t, "5002");
	cp = &c2;
	scope_issue(&is, &t, hash);
	is.obtained_with = c1.id;
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), 1);
	CHECK(db_cert_get(db, c2.id, &got), 1);
	assert_null(got.credential);
	assert_int_equal(got.obtained_with, c1.id);
	db_cert_clear(&got);

	CHECK(db_cert_obtained_with(db, root.id, &list, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, c1.id); /* nearest first */
	assert_int_equal(list[1].id, c2.id);
	db_cert_array_free(list, n);
	/* Revoked ones are done: only what is still valid is listed. */
	CHECK(db_cert_set_status(db, c1.id, 1u << DB_CERT_VALID,
	    DB_CERT_REVOKED, 1), 1);
	CHECK(db_cert_obtained_with(db, root.id, &list, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, c2.id);
	db_cert_array_free(list, n);
	CHECK(db_cert_obtained_with(db, c2.id, &list, &n), 1);
	assert_int_equal(n, 0);
	db_cert_array_free(list, n);
}

/* The protection path, re-checked in the issuing statement. */
static void
test_scope_path(void **state)
{
	unsigned char hash[32];
	struct db_cert ee, c, got, *cp = &c;
	struct db_issue is;
	struct db_txn t;
	enum db_refusal why;
	long long ca = make_ca("scope-path");
	long long other = make_ca("scope-path-other");
	long long old = make_ca("scope-path-old");
	long long path_ca[1], path_cert[1];
	char sql[160];

	(void)state;
	SHA256(der, sizeof(der), hash);
	make_cert(&ee, other, "6000", "CN=Holder", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &ee), 1);
	path_ca[0] = other;
	path_cert[0] = ee.id;

	/* The CA that issued the holder's certificate is retired. */
	CHECK(db_ca_retire(db, other), 1);
	scope_txn(&t, ca, "scope-path-1", DB_TXN_DONE);
	scope_cert(&c, &t, "6001");
	scope_issue(&is, &t, hash);
	is.path_ca = path_ca;
	is.npath_ca = 1;
	is.path_cert = path_cert;
	is.npath_cert = 1;
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), 0);
	assert_int_equal(why, DB_REFUSE_PATH_CA);
	CHECK(db_cert_get_by_serial(db, ca, "6001", &got), 0);
	CHECK(db_txn_get(db, t.id, t.id_len, &(struct db_txn){0}), 0);

	/* An earlier key of an active identity (a rollover) vouches. */
	snprintf(sql, sizeof(sql), "UPDATE ca SET status = 'retired', "
	    "key_of = %lld WHERE id = %lld", ca, old);
	CHECK(db_exec_unsafe(db, sql), 1);
	path_ca[0] = old;
	make_cert(&ee, old, "6002", "CN=Holder", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &ee), 1);
	path_cert[0] = ee.id;
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), 1);

	/* The holder's certificate was revoked meanwhile. */
	CHECK(db_cert_set_status(db, ee.id, 1u << DB_CERT_VALID,
	    DB_CERT_REVOKED, 1), 1);
	scope_txn(&t, ca, "scope-path-2", DB_TXN_DONE);
	scope_cert(&c, &t, "6003");
	scope_issue(&is, &t, hash);
	is.path_ca = path_ca;
	is.npath_ca = 1;
	is.path_cert = path_cert;
	is.npath_cert = 1;
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), 0);
	assert_int_equal(why, DB_REFUSE_PATH_CERT);
	CHECK(db_cert_get_by_serial(db, ca, "6003", &got), 0);

	/* Too long a path is the caller's error. */
	is.npath_ca = DB_ISSUE_PATH_MAX + 1;
	CHECK(db_issue(db, &is, &cp, NULL, 1, &why), -1);
}

/* Uses per certificate; disabled and removed secrets. */
static void
test_scope_secret(void **state)
{
	static const unsigned char sec[] = {0x05, 0x06};
	unsigned char hash[32];
	struct db_cert c[2], *cp[2] = {&c[0], &c[1]};
	struct db_secret s, got, *list = NULL;
	struct db_issue is;
	struct db_txn t;
	enum db_refusal why;
	long long ca = make_ca("scope-secret");
	size_t n = 0, i;
	int seen = 0;

	(void)state;
	SHA256(der, sizeof(der), hash);
	memset(&s, 0, sizeof(s));
	strcpy(s.ref, "scope-one");
	s.secret = (unsigned char *)sec;
	s.secret_len = sizeof(sec);
	s.uses_left = 1;
	CHECK(db_secret_insert(db, &s), 1);

	/* Two certificates on a secret with one use: refused whole. */
	scope_txn(&t, ca, "scope-sec-1", DB_TXN_DONE);
	scope_cert(&c[0], &t, "7001");
	scope_cert(&c[1], &t, "7002");
	c[1].cert_req_id = 1;
	scope_issue(&is, &t, hash);
	is.secret_ref = "scope-one";
	is.secret_uses = 2;
	CHECK(db_issue(db, &is, cp, NULL, 2, &why), 0);
	assert_int_equal(why, DB_REFUSE_SECRET_USED);
	CHECK(db_secret_get(db, "scope-one", &got), 1);
	assert_int_equal(got.uses_left, 1);
	db_secret_clear(&got);
	/* One is what it has. */
	is.secret_uses = 1;
	CHECK(db_issue(db, &is, cp, NULL, 1, &why), 1);
	CHECK(db_secret_get(db, "scope-one", &got), 1);
	assert_int_equal(got.uses_left, 0);
	db_secret_clear(&got);

	/* Disabled: unknown to db_secret_get, refused by the statement. */
	strcpy(s.ref, "scope-off");
	s.uses_left = -1;
	CHECK(db_secret_insert(db, &s), 1);
	CHECK(db_secret_set_disabled(db, "scope-off", 1), 1);
	CHECK(db_secret_get(db, "scope-off", &got), 0);
	CHECK(db_secret_consume(db, "scope-off", NULL), 0);
	scope_txn(&t, ca, "scope-sec-2", DB_TXN_DONE);
	scope_cert(&c[0], &t, "7003");
	scope_issue(&is, &t, hash);
	is.secret_ref = "scope-off";
	CHECK(db_issue(db, &is, cp, NULL, 1, &why), 0);
	assert_int_equal(why, DB_REFUSE_SECRET_USED);
	CHECK(db_secret_list(db, &list, &n), 1);
	for (i = 0; i < n; i++)
		if (strcmp(list[i].ref, "scope-off") == 0)
			seen = list[i].disabled;
	db_secret_array_free(list, n);
	assert_int_equal(seen, 1);
	CHECK(db_secret_set_disabled(db, "scope-off", 0), 1);
	CHECK(db_secret_get(db, "scope-off", &got), 1);
	db_secret_clear(&got);
	CHECK(db_secret_set_disabled(db, "scope-none", 1), 0);

	CHECK(db_secret_remove(db, "scope-off"), 1);
	CHECK(db_secret_get(db, "scope-off", &got), 0);
	CHECK(db_secret_remove(db, "scope-off"), 0);
}

/* Finished transactions past the retention are deleted, live ones
 * and recent ones kept. */
static void
test_scope_txn_prune(void **state)
{
	struct db_txn t, got;
	long long ca = make_ca("scope-prune"), pruned = -1;

	(void)state;
	scope_txn(&t, ca, "scope-prune-old", DB_TXN_DONE);
	CHECK(db_txn_insert(db, &t), 1);
	scope_txn(&t, ca, "scope-prune-live", DB_TXN_WAIT_CONF);
	CHECK(db_txn_insert(db, &t), 1);
	scope_txn(&t, ca, "scope-prune-new", DB_TXN_DONE);
	CHECK(db_txn_insert(db, &t), 1);
	CHECK(db_exec_unsafe(db, "UPDATE cmp_txn SET updated = now() - "
	    "interval '2 hours', created = now() - interval '2 hours' "
	    "WHERE id IN ('scope-prune-old'::bytea, "
	    "'scope-prune-live'::bytea)"), 1);
	CHECK(db_txn_prune(db, 3600, &pruned), 1);
	assert_true(pruned >= 1);
	CHECK(db_txn_get(db, (const unsigned char *)"scope-prune-old", 15,
	    &got), 0);
	CHECK(db_txn_get(db, (const unsigned char *)"scope-prune-live", 16,
	    &got), 1);
	CHECK(db_txn_get(db, (const unsigned char *)"scope-prune-new", 15,
	    &got), 1);
	CHECK(db_txn_prune(db, -1, &pruned), -1);
}

const struct CMUnitTest test_db_scope_tests[] = {
    cmocka_unit_test(test_scope_obtained_with),
    cmocka_unit_test(test_scope_path),
    cmocka_unit_test(test_scope_secret),
    cmocka_unit_test(test_scope_txn_prune),
};
const size_t test_db_scope_n =
    sizeof(test_db_scope_tests) / sizeof(test_db_scope_tests[0]);
