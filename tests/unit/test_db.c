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
 *
 * The program's tests live in five files: this one (connection, schema,
 * CA identities, transactions, reconnection, migrations, CRL numbering),
 * test_db_cert.c (certificates, CMP transactions, nonces),
 * test_db_secret.c (enrollment secrets, audit, counts) and
 * test_db_issue.c (storing issued certificates, finishing transactions,
 * db_update's "no row"), test_db_more.c (the rest of db.h) and
 * test_db_scope.c (issue 22: credentials, paths, uses, pruning). tests/unit/test_db_api.sh checks that every
 * function db.h declares is called by one of them.
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

#include "tests/unit/test_db.h"

#define SCHEMA_DIR "db/schema"

static const char *conninfo;
struct db *db;
long long ca_a, ca_b; /* fixtures made by the group setup */

const unsigned char der[5] = {0x30, 0x03, 0x02, 0x01, 0x00};

/* Fixtures. */

long long
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

void
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

/* The server a connection reached: the test cluster is a primary, on the
 * socket directory and port of the conninfo. */
static void
test_server_get(void **state)
{
	char host[256], port[16];
	int primary = -1;

	(void)state;
	CHECK(db_server_get(db, host, sizeof(host), port, sizeof(port),
	    &primary), 1);
	assert_int_equal(primary, 1);
	assert_non_null(strstr(conninfo, host));
	assert_non_null(strstr(conninfo, port));
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

/*
 * A delta CRL (028) takes its number from the complete CRLs' sequence
 * and is not "the newest CRL": db_crl_latest still returns the complete
 * one, db_crl_delta_latest the delta with the base it names.
 */
static void
test_crl_delta(void **state)
{
	struct db_crl c, latest;
	long long base, num;

	(void)state;
	base = crl_issue_on(db, ca_b, 0);
	assert_true(base >= 1);
	memset(&c, 0, sizeof(c));
	CHECK(db_begin(db), 1);
	CHECK(db_crl_next(db, ca_b, &c.number), 1);
	assert_int_equal(c.number, base + 1);
	c.this_update = time(NULL);
	c.next_update = c.this_update + 600;
	c.der = (unsigned char *)der;
	c.der_len = sizeof(der);
	c.delta_of = base;
	CHECK(db_crl_insert(db, ca_b, &c), 1);
	CHECK(db_commit(db), 1);
	CHECK(db_crl_latest_number(db, ca_b, &num), 1);
	assert_int_equal(num, base);
	CHECK(db_crl_latest(db, ca_b, &latest), 1);
	assert_int_equal(latest.number, base);
	assert_int_equal(latest.delta_of, 0);
	db_crl_clear(&latest);
	CHECK(db_crl_delta_latest_number(db, ca_b, &num), 1);
	assert_int_equal(num, base + 1);
	CHECK(db_crl_delta_latest(db, ca_b, &latest), 1);
	assert_int_equal(latest.number, base + 1);
	assert_int_equal(latest.delta_of, base);
	assert_int_equal(latest.next_update, c.next_update);
	db_crl_clear(&latest);
	/* The next complete CRL follows the delta's number. */
	assert_int_equal(crl_issue_on(db, ca_b, 0), base + 2);
	/* A delta naming itself or a later CRL as its base: refused. */
	CHECK(db_begin(db), 1);
	CHECK(db_crl_next(db, ca_b, &c.number), 1);
	c.delta_of = c.number;
	CHECK(db_crl_insert(db, ca_b, &c), -1);
	db_rollback(db);
	/* A CA without a delta: none. */
	CHECK(db_crl_delta_latest(db, ca_a, &latest), 0);
	CHECK(db_crl_delta_latest_number(db, ca_a, &num), 0);
}

/* Appends n tests to all[*k]. */
static void
add_tests(struct CMUnitTest *all, size_t *k, const struct CMUnitTest *t,
    size_t n)
{
	memcpy(all + *k, t, n * sizeof(*t));
	*k += n;
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_unreachable),
	    cmocka_unit_test(test_schema_version),
	    cmocka_unit_test(test_ca),
	    cmocka_unit_test(test_txn_rollback_commit),
	    cmocka_unit_test(test_server_get),
	    cmocka_unit_test(test_reconnect_ensure),
	    cmocka_unit_test(test_reconnect_next_call),
	    cmocka_unit_test(test_reconnect_in_txn),
	    cmocka_unit_test(test_migrate_files),
	    cmocka_unit_test(test_migrate_race),
	    cmocka_unit_test(test_crl_next_contention),
	    cmocka_unit_test(test_crl_delta),
	};

	struct CMUnitTest all[sizeof(tests) / sizeof(tests[0]) + 128];
	size_t k = 0;

	add_tests(all, &k, tests, sizeof(tests) / sizeof(tests[0]));
	if (k + test_db_cert_n + test_db_secret_n + test_db_issue_n +
	    test_db_more_n + test_db_scope_n > sizeof(all) / sizeof(all[0])) {
		fprintf(stderr, "test_db: too many tests for all[]\n");
		return 1;
	}
	add_tests(all, &k, test_db_cert_tests, test_db_cert_n);
	add_tests(all, &k, test_db_secret_tests, test_db_secret_n);
	add_tests(all, &k, test_db_issue_tests, test_db_issue_n);
	add_tests(all, &k, test_db_more_tests, test_db_more_n);
	add_tests(all, &k, test_db_scope_tests, test_db_scope_n);
	return _cmocka_run_group_tests("test_db", all, k, group_setup,
	    group_teardown);
}
