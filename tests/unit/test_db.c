/*
 * test_db.c - the db/ repository API against a real PostgreSQL.
 *
 * Needs CMPCA_TEST_DB, a libpq conninfo for a database the test may wipe:
 * the group setup drops and recreates its public schema, then migrates it
 * from db/schema (run from the repository root). A throwaway cluster:
 *
 *	scripts/pgtmp start /tmp/cmpca-dbtest 55432
 *	CMPCA_TEST_DB="$(scripts/pgtmp conninfo /tmp/cmpca-dbtest 55432)" \
 *	    ./build/rel/test_db
 *
 * Without CMPCA_TEST_DB the setup fails: this test is never skipped.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/sha.h>

#include "db/db.h"

#define SCHEMA_DIR "db/schema"

static const char *conninfo;
static struct db *db;
static long long ca_a, ca_b; /* fixtures made by the group setup */

static const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};

/* Asserts that expr == want, printing db_error() otherwise. */
#define CHECK(expr, want)                                                  \
	do {                                                               \
		int r_ = (expr);                                           \
		if (r_ != (want))                                          \
			fail_msg("%s = %d, want %d (db_error: %s)", #expr, \
			    r_, (want), db_error(db));                     \
	} while (0)

/* Fixtures. */

static long long
make_ca(const char *label)
{
	struct db_ca ca;

	memset(&ca, 0, sizeof(ca));
	assert_true(strlen(label) < sizeof(ca.label));
	strcpy(ca.label, label);
	ca.key_uri = (char *)"pkcs11:token=cmpca;object=test";
	ca.cert = (unsigned char *)der;
	ca.cert_len = sizeof(der);
	CHECK(db_ca_insert(db, &ca), 1);
	assert_true(ca.id > 0);
	return ca.id; /* ca points to static data: not cleared */
}

/* A certificate with borrowed pointers: never pass it to db_cert_clear. */
static void
make_cert(struct db_cert *c, long long ca_id, const char *serial,
    const char *subject, enum db_cert_status status)
{
	memset(c, 0, sizeof(*c));
	c->ca_id = ca_id;
	assert_true(strlen(serial) < sizeof(c->serial));
	strcpy(c->serial, serial);
	c->subject = (char *)subject;
	c->issuer = (char *)"CN=Test CA";
	memset(c->spki_sha256, 0xab, sizeof(c->spki_sha256));
	c->spki_sha256[0] = 0x00;
	c->not_before = 1700000000;
	c->not_after = 1800000000;
	c->status = status;
	c->der = (unsigned char *)der;
	c->der_len = sizeof(der);
	c->profile = (char *)"default";
	c->requester = (char *)"secret:ref1";
	c->cert_req_id = 0;
	c->reason = -1;
}

static int
group_setup(void **state)
{
	int n = -1, v = -1;

	(void)state;
	if ((conninfo = getenv("CMPCA_TEST_DB")) == NULL || *conninfo == '\0') {
		fprintf(stderr, "test_db: CMPCA_TEST_DB is not set; start "
		    "a cluster with scripts/pgtmp start DIR PORT and set it "
		    "to the conninfo printed\n");
		return -1;
	}
	if ((db = db_open(conninfo)) == NULL || !db_ensure(db)) {
		fprintf(stderr, "test_db: cannot connect: %s\n", db_error(db));
		return -1;
	}
	if (db_exec_unsafe(db,
	    "DROP SCHEMA public CASCADE; CREATE SCHEMA public") != 1 ||
	    !db_migrate(db, SCHEMA_DIR, &n) || n < 1) {
		fprintf(stderr, "test_db: setup: %s\n", db_error(db));
		return -1;
	}
	if (!db_migrate(db, SCHEMA_DIR, &n) || n != 0 ||
	    db_schema_version(db, &v) != 1 || v < 1) {
		fprintf(stderr, "test_db: second migration: applied %d, "
		    "version %d: %s\n", n, v, db_error(db));
		return -1;
	}
	ca_a = make_ca("fixture-a");
	ca_b = make_ca("fixture-b");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	db_close(db);
	db = NULL;
	return 0;
}

/* Connection. */

static void
test_open_unreachable(void **state)
{
	struct db *bad;

	(void)state;
	bad = db_open("host=/nonexistent-cmpca port=1 dbname=x user=x");
	assert_non_null(bad);
	assert_int_equal(db_ensure(bad), 0);
	assert_non_null(strstr(db_error(bad), "cannot connect to database"));
	assert_null(strchr(db_error(bad), '\n'));
	db_close(bad);
	db_close(NULL);
}

/* Highest NNN of the NNN_*.sql files in SCHEMA_DIR. */
static int
schema_max_version(void)
{
	DIR *d = opendir(SCHEMA_DIR);
	struct dirent *e;
	int max = 0, n;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strlen(e->d_name) > 4 && isdigit((unsigned char)e->d_name[0]) &&
		    isdigit((unsigned char)e->d_name[1]) &&
		    isdigit((unsigned char)e->d_name[2]) && e->d_name[3] == '_' &&
		    (n = atoi(e->d_name)) > max)
			max = n;
	closedir(d);
	return max;
}

static void
test_schema_version(void **state)
{
	int v = -1;

	(void)state;
	CHECK(db_schema_version(db, &v), 1);
	assert_int_equal(v, schema_max_version());
}

/* CA identities. */

static void
test_ca(void **state)
{
	struct db_ca ca, got, *list = NULL;
	size_t n = 0, i;
	int seen = 0;

	(void)state;
	memset(&ca, 0, sizeof(ca));
	strcpy(ca.label, "ca-test");
	ca.key_uri = (char *)"pkcs11:token=cmpca;object=ca-test";
	ca.cert = (unsigned char *)der;
	ca.cert_len = sizeof(der);
	strcpy(ca.status, "retired");
	CHECK(db_ca_insert(db, &ca), 1);
	assert_true(ca.id > 0);
	/* Duplicate label. */
	ca.id = 0;
	CHECK(db_ca_insert(db, &ca), 0);
	assert_int_equal(ca.id, 0);

	CHECK(db_ca_get_by_label(db, "ca-test", &got), 1);
	assert_string_equal(got.label, "ca-test");
	assert_string_equal(got.key_uri, ca.key_uri);
	assert_int_equal(got.cert_len, sizeof(der));
	assert_memory_equal(got.cert, der, sizeof(der));
	assert_string_equal(got.status, "retired");
	assert_true(got.created > 0 && got.created <= time(NULL) + 5);
	ca.id = got.id;
	db_ca_clear(&got);

	CHECK(db_ca_get(db, ca.id, &got), 1);
	assert_string_equal(got.label, "ca-test");
	db_ca_clear(&got);
	CHECK(db_ca_get(db, ca_a, &got), 1);
	assert_string_equal(got.status, "active"); /* default */
	db_ca_clear(&got);
	CHECK(db_ca_get(db, 999999, &got), 0);
	CHECK(db_ca_get_by_label(db, "no-such-ca", &got), 0);
	db_ca_clear(&got);

	CHECK(db_ca_list(db, &list, &n), 1);
	assert_true(n >= 3);
	for (i = 0; i < n; i++) {
		if (i > 0)
			assert_true(list[i - 1].id < list[i].id);
		seen += strcmp(list[i].label, "ca-test") == 0;
	}
	assert_int_equal(seen, 1);
	db_ca_array_free(list, n);
	db_ca_clear(NULL);
}

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
	assert_string_equal(a[0].detail, "5101");
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

/* Enrollment secrets. */

static void
put_secret(const char *ref, int uses, time_t expires)
{
	static const unsigned char sec[] = {0x01, 0x00, 0xff, 0x00, 0x7f};
	struct db_secret s;

	memset(&s, 0, sizeof(s));
	strcpy(s.ref, ref);
	s.secret = (unsigned char *)sec;
	s.secret_len = sizeof(sec);
	s.uses_left = uses;
	s.expires = expires;
	CHECK(db_secret_insert(db, &s), 1);
}

static void
test_secret(void **state)
{
	static const unsigned char sec[] = {0x00, 's', 0x00, 0xee, 0x00};
	struct db_secret s, got;

	(void)state;
	memset(&s, 0, sizeof(s));
	strcpy(s.ref, "sec-1");
	s.secret = (unsigned char *)sec;
	s.secret_len = sizeof(sec);
	s.allowed_subject = (char *)"CN=Alice";
	strcpy(s.profile, "tls-client");
	s.ca_id = ca_a;
	s.uses_left = 2;
	s.expires = time(NULL) + 3600;
	CHECK(db_secret_insert(db, &s), 1);
	CHECK(db_secret_insert(db, &s), 0);

	CHECK(db_secret_get(db, "sec-1", &got), 1);
	assert_string_equal(got.ref, "sec-1");
	assert_int_equal(got.secret_len, sizeof(sec));
	assert_memory_equal(got.secret, sec, sizeof(sec));
	assert_string_equal(got.allowed_subject, "CN=Alice");
	assert_string_equal(got.profile, "tls-client");
	assert_int_equal(got.ca_id, ca_a);
	assert_int_equal(got.uses_left, 2);
	assert_int_equal(got.expires, s.expires);
	db_secret_clear(&got);
	assert_null(got.secret);
	assert_int_equal(got.secret_len, 0);

	CHECK(db_secret_consume(db, "sec-1", NULL), 1);
	CHECK(db_secret_consume(db, "sec-1", NULL), 1);
	CHECK(db_secret_consume(db, "sec-1", NULL), 0);
	CHECK(db_secret_get(db, "sec-1", &got), 1);
	assert_int_equal(got.uses_left, 0);
	db_secret_clear(&got);
	CHECK(db_secret_consume(db, "no-such-ref", NULL), 0);
	CHECK(db_secret_get(db, "no-such-ref", &got), 0);
	db_secret_clear(&got);

	/* Defaults: any subject, profile "default", any CA, no expiry. */
	put_secret("sec-2", 1, 0);
	CHECK(db_secret_get(db, "sec-2", &got), 1);
	assert_null(got.allowed_subject);
	assert_string_equal(got.profile, "default");
	assert_int_equal(got.ca_id, 0);
	assert_int_equal(got.expires, 0);
	db_secret_clear(&got);

	/* Invalid: no secret, uses_left below -1. */
	s.secret_len = 0;
	strcpy(s.ref, "sec-bad");
	CHECK(db_secret_insert(db, &s), -1);
	s.secret_len = sizeof(sec);
	s.uses_left = -2;
	CHECK(db_secret_insert(db, &s), -1);
}

static void
test_secret_unlimited_expired(void **state)
{
	struct db_secret got;
	int i;

	(void)state;
	put_secret("sec-unlimited", -1, 0);
	for (i = 0; i < 5; i++)
		CHECK(db_secret_consume(db, "sec-unlimited", NULL), 1);
	CHECK(db_secret_get(db, "sec-unlimited", &got), 1);
	assert_int_equal(got.uses_left, -1);
	/* The version read: valid while the row is unchanged, and never
	 * again once it changed (a worker's cached copy is then stale). */
	assert_true(got.version[0] != '\0');
	CHECK(db_secret_consume(db, "sec-unlimited", got.version), 1);
	CHECK(db_secret_consume(db, "sec-unlimited", got.version), 1);
	CHECK(db_exec_unsafe(db, "UPDATE enroll_secret SET profile = profile "
	                         "WHERE ref = 'sec-unlimited'"),
	    1);
	CHECK(db_secret_consume(db, "sec-unlimited", got.version), 0);
	CHECK(db_secret_consume(db, "sec-unlimited", NULL), 1);
	db_secret_clear(&got);

	put_secret("sec-expired", 5, time(NULL) - 60);
	CHECK(db_secret_consume(db, "sec-expired", NULL), 0);
	put_secret("sec-expired-unlimited", -1, time(NULL) - 1);
	CHECK(db_secret_consume(db, "sec-expired-unlimited", NULL), 0);
	put_secret("sec-future", 1, time(NULL) + 60);
	CHECK(db_secret_consume(db, "sec-future", NULL), 1);
	CHECK(db_secret_consume(db, "sec-future", NULL), 0);
}

static void
test_secret_list(void **state)
{
	struct db_secret *list = NULL;
	size_t n = 0, i;

	(void)state;
	put_secret("list-b", 1, 0);
	put_secret("list-a", 1, 0);
	CHECK(db_secret_list(db, &list, &n), 1);
	assert_true(n >= 2);
	for (i = 0; i < n; i++) {
		assert_null(list[i].secret);
		assert_int_equal(list[i].secret_len, 0);
		if (i > 0)
			assert_true(strcmp(list[i - 1].ref, list[i].ref) < 0);
	}
	for (i = 0; i < n && strcmp(list[i].ref, "list-a") != 0; i++)
		;
	assert_true(i + 1 < n);
	assert_string_equal(list[i + 1].ref, "list-b");
	assert_int_equal(list[i].uses_left, 1);
	db_secret_array_free(list, n);
	db_secret_array_free(NULL, 0);
}

/*
 * `cmpca secret reseal` (issue 17): the rows to move to key version ver
 * are those in clear or sealed under anything but format 0x03 naming ver
 * (0x03, then the version in 4 bytes big-endian); once a row is stored
 * under ver it is not listed again. Only the "rs-" rows are looked at.
 */
static int
reseal_listed(unsigned long ver, const char *ref)
{
	struct db_secret *list = NULL;
	size_t n = 0, i;
	int found = 0;

	CHECK(db_secret_list_reseal(db, ver, &list, &n), 1);
	for (i = 0; i < n; i++)
		if (strcmp(list[i].ref, ref) == 0) {
			found = 1;
			/* The clear secret, or the sealed value to open. */
			assert_true((list[i].secret != NULL) !=
			    (list[i].sealed != NULL));
		}
	db_secret_array_free(list, n);
	return found;
}

static void
put_sealed(const char *ref, const unsigned char *v, size_t len)
{
	struct db_secret s;

	memset(&s, 0, sizeof(s));
	snprintf(s.ref, sizeof(s.ref), "%s", ref);
	strcpy(s.profile, "default");
	s.uses_left = -1;
	s.sealed = (unsigned char *)(uintptr_t)v;
	s.sealed_len = len;
	CHECK(db_secret_insert(db, &s), 1);
}

static void
test_secret_reseal_list(void **state)
{
	/* Header, then stand-ins for IV, ciphertext and tag. */
	static const unsigned char v1[] = {0x01, 'i', 'v', 'c', 't'},
				   v2[] = {0x02, 'i', 'v', 'c', 't'},
				   k1[] = {0x03, 0, 0, 0, 1, 'i', 'v', 'c'},
				   k2[] = {0x03, 0, 0, 0, 2, 'i', 'v', 'c'},
				   k258[] = {0x03, 0, 0, 1, 2, 'i', 'v', 'c'};

	(void)state;
	put_secret("rs-clear", -1, 0);
	put_sealed("rs-v1", v1, sizeof(v1));
	put_sealed("rs-v2", v2, sizeof(v2));
	put_sealed("rs-k1", k1, sizeof(k1));
	put_sealed("rs-k2", k2, sizeof(k2));
	put_sealed("rs-k258", k258, sizeof(k258));
	assert_true(reseal_listed(2, "rs-clear"));
	assert_true(reseal_listed(2, "rs-v1"));
	assert_true(reseal_listed(2, "rs-v2"));
	assert_true(reseal_listed(2, "rs-k1"));
	assert_false(reseal_listed(2, "rs-k2"));
	assert_true(reseal_listed(2, "rs-k258"));
	assert_false(reseal_listed(1, "rs-k1"));
	assert_true(reseal_listed(1, "rs-k2"));
	assert_false(reseal_listed(258, "rs-k258"));
	/* Moved: stored under version 2, the clear column emptied. */
	CHECK(db_secret_set_sealed(db, "rs-clear", k2, sizeof(k2)), 1);
	CHECK(db_secret_set_sealed(db, "rs-v1", k2, sizeof(k2)), 1);
	assert_false(reseal_listed(2, "rs-clear"));
	assert_false(reseal_listed(2, "rs-v1"));
	assert_true(reseal_listed(2, "rs-v2"));
}

/* Audit log. */

static void
test_audit(void **state)
{
	(void)state;
	CHECK(db_audit_add(db, "cert.issue", ca_a, "secret:ref1",
	    "serial=1a2b"), 1);
	CHECK(db_audit_add(db, "db.test", 0, NULL, NULL), 1);
	CHECK(db_audit_add(db, "", 0, NULL, NULL), -1);

	CHECK(db_exec_unsafe(db, "UPDATE audit SET event = 'forged'"), -1);
	assert_non_null(strstr(db_error(db), "append-only"));
	CHECK(db_exec_unsafe(db, "DELETE FROM audit"), -1);
	assert_non_null(strstr(db_error(db), "append-only"));
	CHECK(db_exec_unsafe(db, "TRUNCATE audit"), -1);
	assert_non_null(strstr(db_error(db), "append-only"));
	/* Still there and unchanged. */
	CHECK(db_exec_unsafe(db,
	    "DO $$ BEGIN IF (SELECT count(*) FROM audit WHERE event = "
	    "'cert.issue' AND detail = 'serial=1a2b') <> 1 THEN "
	    "RAISE EXCEPTION 'audit row missing'; END IF; END $$"), 1);
}

/* Audit list: filters by CA, event, time and limit; newest first. */
static void
test_audit_list(void **state)
{
	struct db_audit *l = NULL;
	size_t n = 0;

	(void)state;
	CHECK(db_audit_add(db, "list.x", ca_a, "cli", "first"), 1);
	CHECK(db_audit_add(db, "list.x", ca_b, NULL, NULL), 1);
	CHECK(db_audit_add(db, "list.x", ca_a, "cli", "third"), 1);
	CHECK(db_audit_list(db, 0, "list.x", 0, 0, &l, &n), 1);
	assert_int_equal(n, 3);
	assert_string_equal(l[0].detail, "third");
	assert_string_equal(l[0].ca_label, "fixture-a");
	assert_true(l[0].id > l[1].id && l[1].id > l[2].id);
	assert_null(l[1].actor);
	assert_null(l[1].detail);
	assert_true(l[2].at > 0 && l[2].at <= time(NULL) + 5);
	db_audit_array_free(l, n);
	CHECK(db_audit_list(db, ca_a, "list.x", 0, 0, &l, &n), 1);
	assert_int_equal(n, 2);
	db_audit_array_free(l, n);
	CHECK(db_audit_list(db, 0, "list.x", 0, 1, &l, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].detail, "third");
	db_audit_array_free(l, n);
	CHECK(db_audit_list(db, 0, "list.x", time(NULL) + 3600, 0, &l, &n),
	    1);
	assert_int_equal(n, 0);
	assert_null(l);
	CHECK(db_audit_list(db, 0, "list.none", 0, 0, &l, &n), 1);
	assert_int_equal(n, 0);
	db_audit_array_free(NULL, 0);
}

/* Monitoring counts: open approvals and transactions. */
static void
test_stats(void **state)
{
	struct db_stats st, st2;
	struct db_txn t;
	char sql[512];

	(void)state;
	CHECK(db_stats_get(db, &st), 1);
	snprintf(sql, sizeof(sql), "DO $$ BEGIN IF (SELECT count(*) FROM "
	    "pending_req WHERE status = 'pending') <> %lld OR (SELECT "
	    "count(*) FROM cmp_txn WHERE state = 'waiting') <> %lld OR "
	    "(SELECT count(*) FROM cmp_txn WHERE state = 'wait_conf') <> "
	    "%lld THEN RAISE EXCEPTION 'counts differ'; END IF; END $$",
	    st.pending_approvals, st.txn_waiting, st.txn_wait_conf);
	CHECK(db_exec_unsafe(db, sql), 1);
	/* One more transaction waiting for certConf. */
	memset(&t, 0, sizeof(t));
	memcpy(t.id, "stats-txn-000001", 16);
	t.id_len = 16;
	t.ca_id = ca_a;
	strcpy(t.sender, "secret:stats");
	strcpy(t.kind, "ir");
	t.state = DB_TXN_WAIT_CONF;
	memset(t.last_nonce, 0x5b, 16);
	t.last_nonce_len = 16;
	t.pvno = 2;
	t.expires = time(NULL) + 300;
	CHECK(db_txn_insert(db, &t), 1);
	CHECK(db_stats_get(db, &st2), 1);
	assert_int_equal(st2.txn_wait_conf, st.txn_wait_conf + 1);
	assert_int_equal(st2.pending_approvals, st.pending_approvals);
}

/* Transactions. */

static void
test_txn_rollback_commit(void **state)
{
	struct db_ca got;
	struct db_cert c;

	(void)state;
	CHECK(db_begin(db), 1);
	CHECK(db_begin(db), -1); /* nested */
	(void)make_ca("rolled-back");
	db_rollback(db);
	CHECK(db_ca_get_by_label(db, "rolled-back", &got), 0);
	db_rollback(db); /* safe any time */

	/* A duplicate inside a transaction does not abort it. */
	CHECK(db_begin(db), 1);
	make_cert(&c, ca_a, "400", "CN=In Txn", DB_CERT_UNCONFIRMED);
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_cert_insert(db, &c), 0);
	(void)make_ca("committed");
	CHECK(db_commit(db), 1);
	CHECK(db_ca_get_by_label(db, "committed", &got), 1);
	db_ca_clear(&got);
	CHECK(db_commit(db), -1); /* none open */

	/* An error aborts the transaction: commit reports it. */
	CHECK(db_begin(db), 1);
	(void)make_ca("aborted");
	CHECK(db_exec_unsafe(db, "SELECT 1/0"), -1);
	CHECK(db_ca_get(db, ca_a, &got), -1);
	CHECK(db_commit(db), -1);
	assert_non_null(strstr(db_error(db), "rolled back"));
	CHECK(db_ca_get_by_label(db, "aborted", &got), 0);
	CHECK(db_ca_get(db, ca_a, &got), 1);
	db_ca_clear(&got);
}

/* Reconnection. */

/* Terminates our backend from a second connection; returns its pid. */
static int
kill_backend(void)
{
	struct db *other;
	char sql[128];
	int pid;

	pid = db_backend_pid(db);
	assert_true(pid > 0);
	other = db_open(conninfo);
	assert_non_null(other);
	assert_int_equal(db_ensure(other), 1);
	assert_int_not_equal(db_backend_pid(other), pid);
	/* Waits up to 5 s for the backend to exit. */
	(void)snprintf(sql, sizeof(sql),
	    "DO $$ BEGIN IF NOT pg_terminate_backend(%d, 5000) THEN "
	    "RAISE EXCEPTION 'not terminated'; END IF; END $$", pid);
	if (db_exec_unsafe(other, sql) != 1)
		fail_msg("terminate: %s", db_error(other));
	db_close(other);
	return pid;
}

static void
test_reconnect_ensure(void **state)
{
	struct db_ca got;
	int pid;

	(void)state;
	pid = kill_backend();
	assert_int_equal(db_ensure(db), 1);
	assert_int_not_equal(db_backend_pid(db), pid);
	CHECK(db_ca_get(db, ca_a, &got), 1);
	db_ca_clear(&got);
}

static void
test_reconnect_next_call(void **state)
{
	struct db_ca got;
	int pid;

	(void)state;
	pid = kill_backend();
	/*
	 * The contract allows the first call to fail; ours notices the
	 * closed session before sending and reconnects at once.
	 */
	CHECK(db_ca_get(db, ca_a, &got), 1);
	db_ca_clear(&got);
	assert_int_not_equal(db_backend_pid(db), pid);
	CHECK(db_nonce_claim(db, (const unsigned char *)"after-reconnect",
	    15), 1);
}

static void
test_reconnect_in_txn(void **state)
{
	struct db_ca got;

	(void)state;
	CHECK(db_begin(db), 1);
	(void)make_ca("lost-in-txn");
	(void)kill_backend();
	/* Never hidden: the transaction is gone. */
	CHECK(db_ca_get(db, ca_a, &got), -1);
	CHECK(db_ca_get(db, ca_a, &got), -1);
	assert_non_null(strstr(db_error(db), "inside a transaction"));
	CHECK(db_commit(db), -1);
	db_rollback(db);
	CHECK(db_ca_get(db, ca_a, &got), 1);
	db_ca_clear(&got);
	CHECK(db_ca_get_by_label(db, "lost-in-txn", &got), 0);
}

/* Migrations: extra files, a failing file, a race between two hosts. */

static char mig_dir[64];

static void
write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", mig_dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
remove_file(const char *name)
{
	char path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/%s", mig_dir, name);
	(void)unlink(path);
}

static void
test_migrate_files(void **state)
{
	char init[PATH_MAX], link[PATH_MAX];
	struct db_ca got;
	int n = -1, v = -1;

	(void)state;
	strcpy(mig_dir, "/tmp/cmpca-test-db-XXXXXX");
	assert_non_null(mkdtemp(mig_dir));
	assert_non_null(realpath(SCHEMA_DIR "/001_init.sql", init));
	(void)snprintf(link, sizeof(link), "%s/001_init.sql", mig_dir);
	assert_int_equal(symlink(init, link), 0);
	write_file("101_extra.sql", "CREATE TABLE mig_extra (x int);\n"
	    "INSERT INTO mig_extra VALUES (1);\n");
	write_file("README", "not a migration");
	write_file("02_short.sql", "SELECT nonsense;");
	write_file("abc_x.sql", "SELECT nonsense;");

	CHECK(db_migrate(db, mig_dir, &n), 1);
	assert_int_equal(n, 1);
	CHECK(db_schema_version(db, &v), 1);
	assert_int_equal(v, 101);
	CHECK(db_migrate(db, mig_dir, &n), 1);
	assert_int_equal(n, 0);
	/* Statements prepared before the migration still work. */
	CHECK(db_ca_get(db, ca_a, &got), 1);
	db_ca_clear(&got);

	/* A failing file is rolled back entirely. */
	write_file("103_broken.sql",
	    "CREATE TABLE mig_broken (x int);\nSELEC oops;\n");
	write_file("104_after.sql", "CREATE TABLE mig_after (x int);\n");
	CHECK(db_migrate(db, mig_dir, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(strstr(db_error(db), "103_broken.sql"));
	CHECK(db_schema_version(db, &v), 1);
	assert_int_equal(v, 101);
	CHECK(db_exec_unsafe(db, "SELECT 1 FROM mig_broken"), -1);
	CHECK(db_exec_unsafe(db, "SELECT 1 FROM mig_after"), -1);
	remove_file("103_broken.sql");
	remove_file("104_after.sql");

	/* Two files with one number. */
	write_file("101_again.sql", "SELECT 1;");
	CHECK(db_migrate(db, mig_dir, &n), 0);
	assert_non_null(strstr(db_error(db), "same number"));
	remove_file("101_again.sql");

	/* A file numbered below the newest applied one (branches merged in
	 * another order) is pending, and applied, not skipped. */
	write_file("050_late.sql", "CREATE TABLE mig_late (x int);\n");
	CHECK(db_schema_pending(db, mig_dir, &v), 1);
	assert_int_equal(v, 1);
	CHECK(db_migrate(db, mig_dir, &n), 1);
	assert_int_equal(n, 1);
	CHECK(db_exec_unsafe(db, "SELECT 1 FROM mig_late"), 1);
	CHECK(db_schema_pending(db, mig_dir, &v), 1);
	assert_int_equal(v, 0);
	CHECK(db_schema_version(db, &v), 1);
	assert_int_equal(v, 101);
	remove_file("050_late.sql");

	CHECK(db_migrate(db, "/nonexistent-cmpca", &n), 0);
	CHECK(db_ca_get(db, ca_a, &got), 1);
	db_ca_clear(&got);
}

/* Migrates schema "mig_race" on a new connection. Returns applied or -1. */
static int
race_migrate(void)
{
	struct db *d;
	int n = -1;

	if ((d = db_open(conninfo)) == NULL || !db_ensure(d) ||
	    db_exec_unsafe(d, "SET search_path TO mig_race") != 1 ||
	    !db_migrate(d, mig_dir, &n)) {
		fprintf(stderr, "race: %s\n", db_error(d));
		n = -1;
	}
	db_close(d);
	return n;
}

/*
 * Two hosts migrating one empty schema at once (a forked child and us, on
 * separate connections): each file must be applied exactly once and
 * neither side may fail. Reuses the directory of test_migrate_files.
 */
static void
test_migrate_race(void **state)
{
	pid_t pid;
	int status, n, total = 0, round;

	(void)state;
	for (round = 0; round < 5; round++) {
		CHECK(db_exec_unsafe(db, "DROP SCHEMA IF EXISTS mig_race "
		    "CASCADE; CREATE SCHEMA mig_race"), 1);
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			n = race_migrate();
			_exit(n < 0 ? 255 : n);
		}
		n = race_migrate();
		assert_true(n >= 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_not_equal(WEXITSTATUS(status), 255);
		/* Each file applied exactly once, by one of the two. */
		total = n + WEXITSTATUS(status);
		assert_int_equal(total, 2);
	}
	CHECK(db_exec_unsafe(db, "DROP SCHEMA mig_race CASCADE"), 1);
	remove_file("001_init.sql");
	remove_file("101_extra.sql");
	remove_file("README");
	remove_file("02_short.sql");
	remove_file("abc_x.sql");
	assert_int_equal(rmdir(mig_dir), 0);
}

/* One CRL of ca_id on connection d: next number, insert, commit after
 * hold_ms. Returns the number, or -1. */
static long long
crl_issue_on(struct db *d, long long ca_id, int hold_ms)
{
	struct db_crl c;

	memset(&c, 0, sizeof(c));
	if (db_begin(d) != 1 || db_crl_next(d, ca_id, &c.number) != 1)
		return -1;
	if (hold_ms > 0)
		usleep((useconds_t)hold_ms * 1000);
	c.this_update = time(NULL);
	c.next_update = c.this_update + 3600;
	c.der = (unsigned char *)der;
	c.der_len = sizeof(der);
	if (db_crl_insert(d, ca_id, &c) != 1 || db_commit(d) != 1) {
		db_rollback(d);
		return -1;
	}
	return c.number;
}

/*
 * Two issuers of one CA's CRL at once (a forked child on its own
 * connection, and us): the one that waited for the lock must see the
 * other's CRL and take the next number, not fail on the unique key.
 */
static void
test_crl_next_contention(void **state)
{
	struct db_crl latest;
	long long first, mine;
	pid_t pid;
	int status;

	(void)state;
	first = crl_issue_on(db, ca_b, 0);
	assert_true(first >= 1);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct db *d = db_open(conninfo);

		/* Holds the lock 500 ms while the parent waits for it. */
		_exit(d != NULL && crl_issue_on(d, ca_b, 500) == first + 1
			  ? 0
			  : 1);
	}
	usleep(150 * 1000); /* the child has the lock by now */
	mine = crl_issue_on(db, ca_b, 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	if (mine < 0)
		fail_msg("the waiting issuer failed: %s", db_error(db));
	assert_int_equal(mine, first + 2);
	CHECK(db_crl_latest(db, ca_b, &latest), 1);
	assert_int_equal(latest.number, first + 2);
	db_crl_clear(&latest);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_unreachable),
	    cmocka_unit_test(test_schema_version),
	    cmocka_unit_test(test_ca),
	    cmocka_unit_test(test_cert_insert_get),
	    cmocka_unit_test(test_cert_store),
	    cmocka_unit_test(test_cert_list),
	    cmocka_unit_test(test_cert_list_by_txn),
	    cmocka_unit_test(test_cert_set_status),
	    cmocka_unit_test(test_txn),
	    cmocka_unit_test(test_nonce),
	    cmocka_unit_test(test_secret),
	    cmocka_unit_test(test_secret_unlimited_expired),
	    cmocka_unit_test(test_secret_list),
	    cmocka_unit_test(test_secret_reseal_list),
	    cmocka_unit_test(test_audit),
	    cmocka_unit_test(test_audit_list),
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_txn_rollback_commit),
	    cmocka_unit_test(test_reconnect_ensure),
	    cmocka_unit_test(test_reconnect_next_call),
	    cmocka_unit_test(test_reconnect_in_txn),
	    cmocka_unit_test(test_migrate_files),
	    cmocka_unit_test(test_migrate_race),
	    cmocka_unit_test(test_crl_next_contention),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
