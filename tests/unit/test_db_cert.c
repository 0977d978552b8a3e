/*
 * test_db_cert.c - issued certificates, CMP transactions and nonces (part of test_db, see test_db.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "tests/unit/test_db.h"

/* Issued certificates. */

static void
test_cert_insert_get(void **state)
{
	struct db_cert c, got;

	(void)state;
	make_cert(&c, ca_a, "1a2b", "CN=Alice,O=Example", DB_CERT_UNCONFIRMED);
	memcpy(c.txid, "\x00\x01\x02\x03", 4);
	c.txid_len = 4;
	c.cert_req_id = 7;
	CHECK(db_cert_insert(db, &c), 1);
	assert_true(c.id > 0);

	CHECK(db_cert_get(db, c.id, &got), 1);
	assert_int_equal(got.id, c.id);
	assert_int_equal(got.ca_id, ca_a);
	assert_string_equal(got.serial, "1a2b");
	assert_string_equal(got.subject, "CN=Alice,O=Example");
	assert_string_equal(got.issuer, "CN=Test CA");
	assert_memory_equal(got.spki_sha256, c.spki_sha256, 32);
	assert_int_equal(got.not_before, 1700000000);
	assert_int_equal(got.not_after, 1800000000);
	assert_int_equal(got.status, DB_CERT_UNCONFIRMED);
	assert_int_equal(got.der_len, sizeof(der));
	assert_memory_equal(got.der, der, sizeof(der));
	assert_string_equal(got.profile, "default");
	assert_string_equal(got.requester, "secret:ref1");
	assert_int_equal(got.txid_len, 4);
	assert_memory_equal(got.txid, "\x00\x01\x02\x03", 4);
	assert_int_equal(got.cert_req_id, 7);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(got.reason, -1);
	assert_true(got.created > 0);
	db_cert_clear(&got);

	/* Duplicate (ca_id, serial); the same serial under another CA. */
	CHECK(db_cert_insert(db, &c), 0);
	c.ca_id = ca_b;
	c.profile = NULL;
	c.requester = NULL;
	c.txid_len = 0;
	CHECK(db_cert_insert(db, &c), 1);

	CHECK(db_cert_get_by_serial(db, ca_b, "1a2b", &got), 1);
	assert_int_equal(got.id, c.id);
	assert_int_equal(got.ca_id, ca_b);
	assert_null(got.profile);
	assert_null(got.requester);
	assert_int_equal(got.txid_len, 0);
	db_cert_clear(&got);
	CHECK(db_cert_get_by_serial(db, ca_a, "ffff", &got), 0);
	CHECK(db_cert_get(db, 99999999, &got), 0);
	db_cert_clear(&got);

	/* Serials have one form: lowercase hex without leading zeros. */
	make_cert(&c, ca_a, "1A2B", "CN=Upper", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), -1);
	assert_non_null(strstr(db_error(db), "cert insert failed: "));
	make_cert(&c, ca_a, "01", "CN=Zero", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), -1);
	/* Invalid arguments never reach the database. */
	make_cert(&c, ca_a, "abc", "CN=Bad", 0);
	CHECK(db_cert_insert(db, &c), -1);
	make_cert(&c, 0, "abc", "CN=Bad", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), -1);
}

/*
 * One way to store an issued certificate (migration 013): only under the
 * CA certificate the caller signed with (its SHA-256), refused with
 * DB_REFUSE_CA_CHANGED when the row holds another or the CA is retired;
 * a serial collision is DB_REFUSE_SERIAL; an audit entry per certificate;
 * a valid one with supersede revokes what it replaces. Also an enrollment
 * secret's subjectAltName patterns read back.
 */
static void
test_cert_store(void **state)
{
	unsigned char hash[32], other[32];
	struct db_cert c, old, got;
	struct db_audit *a = NULL;
	struct db_secret s, sg;
	enum db_refusal why;
	long long ca = make_ca("store-ca");
	char want[128];
	size_t n = 0;

	(void)state;
	SHA256(der, sizeof(der), hash);
	memcpy(other, hash, sizeof(other));
	other[0] ^= 1;
	CHECK(db_ca_cert_current(db, ca, hash), 1);
	CHECK(db_ca_cert_current(db, ca, other), 0);

	make_cert(&old, ca, "5101", "CN=Store Old", DB_CERT_VALID);
	CHECK(db_cert_store(db, hash, "secret:s", &old, 0, &why), 1);
	assert_true(old.id > 0);
	CHECK(db_audit_list(db, ca, "issue", 0, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "%lld 5101 valid - -", old.id);
	assert_string_equal(a[0].detail, want);
	assert_string_equal(a[0].actor, "secret:s");
	db_audit_array_free(a, n);

	make_cert(&c, ca, "5102", "CN=Store New", DB_CERT_VALID);
	c.replaces = old.id;
	CHECK(db_cert_store(db, other, "secret:s", &c, 1, &why), 0);
	assert_int_equal(why, DB_REFUSE_CA_CHANGED);
	CHECK(db_cert_get_by_serial(db, ca, "5102", &got), 0);
	make_cert(&c, ca, "5101", "CN=Store Again", DB_CERT_VALID);
	CHECK(db_cert_store(db, hash, "secret:s", &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_SERIAL);

	make_cert(&c, ca, "5102", "CN=Store New", DB_CERT_VALID);
	c.replaces = old.id;
	CHECK(db_cert_store(db, hash, "secret:s", &c, 1, &why), 1);
	CHECK(db_cert_get(db, old.id, &got), 1);
	assert_int_equal(got.status, DB_CERT_REVOKED);
	assert_int_equal(got.reason, 4);
	db_cert_clear(&got);

	CHECK(db_ca_retire(db, ca), 1);
	CHECK(db_ca_cert_current(db, ca, hash), 0);
	make_cert(&c, ca, "5103", "CN=Store Retired", DB_CERT_VALID);
	CHECK(db_cert_store(db, hash, "secret:s", &c, 0, &why), 0);
	assert_int_equal(why, DB_REFUSE_CA_CHANGED);

	memset(&s, 0, sizeof(s));
	strcpy(s.ref, "san-patterns");
	s.secret = (unsigned char *)"x";
	s.secret_len = 1;
	s.allowed_san = (char *)"DNS:*.dev.example, IP:10.0.0.0/8";
	s.uses_left = -1;
	CHECK(db_secret_insert(db, &s), 1);
	CHECK(db_secret_get(db, "san-patterns", &sg), 1);
	assert_non_null(sg.allowed_san);
	assert_string_equal(sg.allowed_san, "DNS:*.dev.example, IP:10.0.0.0/8");
	db_secret_clear(&sg);
}

static void
test_cert_list(void **state)
{
	struct db_cert c, *list = NULL;
	size_t n = 0;
	long long ca;
	long long id_bob, id_carol;

	(void)state;
	ca = make_ca("list-ca");
	make_cert(&c, ca, "100", "CN=Bob,O=Example", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	id_bob = c.id;
	make_cert(&c, ca, "101", "CN=Carol,O=EXAMPLE", DB_CERT_UNCONFIRMED);
	CHECK(db_cert_insert(db, &c), 1);
	id_carol = c.id;
	make_cert(&c, ca, "102", "CN=Dave,O=Other", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);

	CHECK(db_cert_list(db, ca, 0, NULL, 0, &list, &n), 1);
	assert_int_equal(n, 3);
	assert_true(list[0].id > list[1].id && list[1].id > list[2].id);
	db_cert_array_free(list, n);

	CHECK(db_cert_list(db, ca, DB_CERT_VALID, NULL, 0, &list, &n), 1);
	assert_int_equal(n, 2);
	db_cert_array_free(list, n);

	/* Case-insensitive substring; % and _ are not wildcards. */
	CHECK(db_cert_list(db, ca, 0, "o=example", 0, &list, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, id_carol);
	assert_int_equal(list[1].id, id_bob);
	db_cert_array_free(list, n);
	CHECK(db_cert_list(db, ca, 0, "%", 0, &list, &n), 1);
	assert_int_equal(n, 0);
	assert_null(list);

	CHECK(db_cert_list(db, ca, DB_CERT_UNCONFIRMED, "example", 0, &list,
	    &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].serial, "101");
	db_cert_array_free(list, n);

	CHECK(db_cert_list(db, ca, 0, NULL, 1, &list, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].serial, "102");
	db_cert_array_free(list, n);

	/* Every CA. */
	CHECK(db_cert_list(db, 0, 0, "cn=bob", 0, &list, &n), 1);
	assert_int_equal(n, 1);
	db_cert_array_free(list, n);

	CHECK(db_cert_list(db, ca, (enum db_cert_status)9, NULL, 0, &list,
	    &n), -1);
}

static void
test_cert_list_by_txn(void **state)
{
	static const unsigned char txid[16] = {0xde, 0xad, 0, 0, 0xbe, 0xef};
	struct db_cert c, *list = NULL;
	size_t n = 0;

	(void)state;
	make_cert(&c, ca_a, "200", "CN=Req1", DB_CERT_UNCONFIRMED);
	memcpy(c.txid, txid, sizeof(txid));
	c.txid_len = sizeof(txid);
	c.cert_req_id = 1;
	CHECK(db_cert_insert(db, &c), 1);
	make_cert(&c, ca_a, "201", "CN=Req0", DB_CERT_UNCONFIRMED);
	memcpy(c.txid, txid, sizeof(txid));
	c.txid_len = sizeof(txid);
	c.cert_req_id = 0;
	CHECK(db_cert_insert(db, &c), 1);

	CHECK(db_cert_list_by_txn(db, txid, sizeof(txid), &list, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].cert_req_id, 0);
	assert_string_equal(list[0].serial, "201");
	assert_int_equal(list[1].cert_req_id, 1);
	db_cert_array_free(list, n);

	CHECK(db_cert_list_by_txn(db, (const unsigned char *)"none", 4, &list,
	    &n), 1);
	assert_int_equal(n, 0);
	CHECK(db_cert_list_by_txn(db, txid, 0, &list, &n), -1);
}

static void
test_cert_set_status(void **state)
{
	struct db_cert c, got;
	long long id, id2;
	time_t now;

	(void)state;
	make_cert(&c, ca_a, "300", "CN=Status", DB_CERT_UNCONFIRMED);
	CHECK(db_cert_insert(db, &c), 1);
	id = c.id;

	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_UNCONFIRMED,
	    DB_CERT_VALID, -1), 1);
	/* Already valid: a move only from unconfirmed does not match. */
	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_UNCONFIRMED,
	    DB_CERT_VALID, -1), 0);
	CHECK(db_cert_set_status(db, id, 0, DB_CERT_VALID, -1), 0);
	CHECK(db_cert_get(db, id, &got), 1);
	assert_int_equal(got.status, DB_CERT_VALID);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(got.reason, -1);
	db_cert_clear(&got);

	now = time(NULL);
	CHECK(db_cert_set_status(db, id,
	    1u << DB_CERT_UNCONFIRMED | 1u << DB_CERT_VALID, DB_CERT_REVOKED,
	    1 /* keyCompromise */), 1);
	CHECK(db_cert_get(db, id, &got), 1);
	assert_int_equal(got.status, DB_CERT_REVOKED);
	assert_true(got.revoked_at >= now - 60 && got.revoked_at <= now + 60);
	assert_int_equal(got.reason, 1);
	db_cert_clear(&got);
	CHECK(db_cert_set_status(db, 99999999, ~0u, DB_CERT_VALID, -1), 0);

	/* Rejected: revoked_at set, no reason. */
	make_cert(&c, ca_a, "301", "CN=Rejected", DB_CERT_UNCONFIRMED);
	CHECK(db_cert_insert(db, &c), 1);
	id2 = c.id;
	CHECK(db_cert_set_status(db, id2, 1u << DB_CERT_UNCONFIRMED,
	    DB_CERT_REJECTED, -1), 1);
	CHECK(db_cert_get(db, id2, &got), 1);
	assert_int_equal(got.status, DB_CERT_REJECTED);
	assert_true(got.revoked_at > 0);
	assert_int_equal(got.reason, -1);
	db_cert_clear(&got);

	CHECK(db_cert_set_status(db, id, ~0u, (enum db_cert_status)0, -1),
	    -1);
	assert_string_equal(db_cert_status_name(DB_CERT_UNCONFIRMED),
	    "unconfirmed");
	assert_string_equal(db_cert_status_name(DB_CERT_VALID), "valid");
	assert_string_equal(db_cert_status_name(DB_CERT_REVOKED), "revoked");
	assert_string_equal(db_cert_status_name(DB_CERT_REJECTED), "rejected");
	assert_string_equal(db_cert_status_name((enum db_cert_status)0),
	    "unknown");
}

/* CMP transactions and nonces. */

/* 1 if ca is among the CAs whose CRL is due with delay seconds. */
static int
due_has(long long ca, long delay)
{
	long long *ids = NULL;
	size_t n = 0, i;
	int has = 0;

	CHECK(db_crl_due_list(db, delay, &ids, &n), 1);
	for (i = 0; i < n; i++)
		has |= ids[i] == ca;
	free(ids);
	return has;
}

/*
 * Revocation marks the CA's CRL due (017): a hold after the delay, a
 * keyCompromise at once; the mark is taken once. A hold ends released
 * (valid, no time, no reason) or made permanent (reason, the hold's time);
 * anything not on hold is not touched.
 */
static void
test_cert_hold(void **state)
{
	struct db_cert c, got;
	long long id;
	time_t held;

	(void)state;
	make_cert(&c, ca_a, "3a0", "CN=Hold", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	id = c.id;
	while (db_crl_due_take(db, ca_a) == 1)
		;
	CHECK(db_cert_hold_end(db, id, -1), 0); /* valid: not on hold */
	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_VALID, DB_CERT_REVOKED,
	    6), 1);
	assert_false(due_has(ca_a, 3600));
	assert_true(due_has(ca_a, 0));
	CHECK(db_crl_due_take(db, ca_a), 1);
	CHECK(db_crl_due_take(db, ca_a), 0);
	CHECK(db_cert_hold_end(db, id, -1), 1);
	CHECK(db_cert_get(db, id, &got), 1);
	assert_int_equal(got.status, DB_CERT_VALID);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(got.reason, -1);
	db_cert_clear(&got);
	assert_true(due_has(ca_a, 0)); /* the release shows in the CRL */
	CHECK(db_crl_due_take(db, ca_a), 1);

	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_VALID, DB_CERT_REVOKED,
	    6), 1);
	CHECK(db_cert_get(db, id, &got), 1);
	held = got.revoked_at;
	db_cert_clear(&got);
	CHECK(db_cert_hold_end(db, id, 1), 1); /* keyCompromise */
	assert_true(due_has(ca_a, 3600));     /* urgent */
	CHECK(db_cert_get(db, id, &got), 1);
	assert_int_equal(got.status, DB_CERT_REVOKED);
	assert_int_equal(got.reason, 1);
	assert_int_equal(got.revoked_at, held);
	db_cert_clear(&got);
	CHECK(db_cert_hold_end(db, id, -1), 0); /* permanent now */
	CHECK(db_cert_hold_end(db, id, 8), -1); /* removeFromCRL: no reason */
	CHECK(db_crl_due_take(db, ca_a), 1);
	/* A failed CRL puts the mark back, urgent. */
	CHECK(db_crl_due_mark(db, ca_a), 1);
	assert_true(due_has(ca_a, 3600));
	CHECK(db_crl_due_since(db, ca_a, &held), 1);
	assert_true(held > time(NULL) - 60 && held <= time(NULL) + 1);
	CHECK(db_crl_due_take(db, ca_a), 1);
	CHECK(db_crl_due_since(db, ca_a, &held), 0);
}

static void
test_txn(void **state)
{
	struct db_txn t, got;
	static const unsigned char nonce2[16] = {9, 9, 9, 0, 9};

	(void)state;
	memset(&t, 0, sizeof(t));
	memcpy(t.id, "\x10\x00\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0"
	    "\xd0\xe0\xf0", 16);
	t.id_len = 16;
	t.ca_id = ca_a;
	strcpy(t.sender, "secret:ref1");
	strcpy(t.kind, "ir");
	t.state = DB_TXN_WAIT_CONF;
	memset(t.last_nonce, 0x5a, 16);
	t.last_nonce_len = 16;
	t.pvno = 3;
	t.expires = time(NULL) + 300;
	CHECK(db_txn_insert(db, &t), 1);
	CHECK(db_txn_insert(db, &t), 0);

	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.id_len, 16);
	assert_memory_equal(got.id, t.id, 16);
	assert_int_equal(got.ca_id, ca_a);
	assert_string_equal(got.sender, "secret:ref1");
	assert_string_equal(got.kind, "ir");
	assert_int_equal(got.state, DB_TXN_WAIT_CONF);
	assert_int_equal(got.last_nonce_len, 16);
	assert_memory_equal(got.last_nonce, t.last_nonce, 16);
	assert_int_equal(got.pvno, 3);
	assert_int_equal(got.expires, t.expires);
	assert_true(got.created > 0);

	CHECK(db_txn_advance(db, t.id, t.id_len, DB_TXN_WAIT_CONF, DB_TXN_DONE,
	    nonce2, sizeof(nonce2)), 1);
	CHECK(db_txn_advance(db, t.id, t.id_len, DB_TXN_WAIT_CONF, DB_TXN_DONE,
	    nonce2, sizeof(nonce2)), 0);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_DONE);
	assert_memory_equal(got.last_nonce, nonce2, sizeof(nonce2));
	/* No nonce: the recorded one stays. */
	CHECK(db_txn_advance(db, t.id, t.id_len, DB_TXN_DONE, DB_TXN_ABORTED,
	    NULL, 0), 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_ABORTED);
	assert_memory_equal(got.last_nonce, nonce2, sizeof(nonce2));

	CHECK(db_txn_get(db, (const unsigned char *)"nope", 4, &got), 0);
	CHECK(db_txn_get(db, t.id, 0, &got), -1);

	/* No CA, no nonce, no expiry. */
	memset(&t, 0, sizeof(t));
	memcpy(t.id, "x", 1);
	t.id_len = 1;
	t.state = DB_TXN_DONE;
	CHECK(db_txn_insert(db, &t), 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.ca_id, 0);
	assert_int_equal(got.last_nonce_len, 0);
	assert_int_equal(got.expires, 0);
	assert_string_equal(got.sender, "");

	assert_string_equal(db_txn_state_name(DB_TXN_WAIT_CONF), "wait_conf");
	assert_string_equal(db_txn_state_name(DB_TXN_DONE), "done");
	assert_string_equal(db_txn_state_name(DB_TXN_ABORTED), "aborted");
}

static void
test_nonce(void **state)
{
	unsigned char a[16], b[16];

	(void)state;
	memset(a, 0x11, sizeof(a));
	a[3] = 0;
	memcpy(b, a, sizeof(b));
	b[15] = 0x12;
	CHECK(db_nonce_claim(db, a, sizeof(a)), 1);
	CHECK(db_nonce_claim(db, a, sizeof(a)), 0);
	CHECK(db_nonce_claim(db, b, sizeof(b)), 1);
	CHECK(db_nonce_claim(db, a, 15), 1); /* a prefix is another nonce */
	CHECK(db_nonce_claim(db, a, 0), -1);
	CHECK(db_nonce_claim(db, a, DB_NONCE_MAX + 1), -1);
}

const struct CMUnitTest test_db_cert_tests[] = {
    cmocka_unit_test(test_cert_insert_get),
    cmocka_unit_test(test_cert_store),
    cmocka_unit_test(test_cert_list),
    cmocka_unit_test(test_cert_list_by_txn),
    cmocka_unit_test(test_cert_set_status),
    cmocka_unit_test(test_cert_hold),
    cmocka_unit_test(test_txn),
    cmocka_unit_test(test_nonce),
};
const size_t test_db_cert_n = sizeof(test_db_cert_tests) / sizeof(test_db_cert_tests[0]);
