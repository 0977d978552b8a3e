/*
 * test_db_secret.c - enrollment secrets, the audit log and the monitoring counts (part of test_db, see test_db.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/test_db.h"

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

const struct CMUnitTest test_db_secret_tests[] = {
    cmocka_unit_test(test_secret),
    cmocka_unit_test(test_secret_unlimited_expired),
    cmocka_unit_test(test_secret_list),
    cmocka_unit_test(test_secret_reseal_list),
    cmocka_unit_test(test_audit),
    cmocka_unit_test(test_audit_list),
    cmocka_unit_test(test_stats),
};
const size_t test_db_secret_n = sizeof(test_db_secret_tests) / sizeof(test_db_secret_tests[0]);
