/*
 * db_migrate.c - schema migrations: the NNN_name.sql files of schema_dir,
 * applied in number order, each in its own transaction under one advisory
 * lock (so several hosts may migrate the same database at once), recorded
 * in schema_version; and the version checks the CLI and cmpcad make
 * before they serve ("every shipped migration applied").
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db_int.h"

#define DB_MIG_MAX_FILE (4 * 1024 * 1024) /* bytes in one migration file */
#define DB_MIG_MAX 999			  /* NNN: three digits */

/*
 * Advisory lock key for migrations: one lock for every host migrating the
 * same database ("cmpcamig" in ASCII).
 */
#define DB_MIG_LOCK_KEY "7164506154354960743"

static const struct db_stmt st_mig_lock = {DB_ST_MIG_LOCK, "migration_lock",
    "SELECT pg_advisory_xact_lock(" DB_MIG_LOCK_KEY ")"};
static const struct db_stmt st_mig_bootstrap = {DB_ST_MIG_BOOTSTRAP,
    "migration_bootstrap",
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version int PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())"};
static const struct db_stmt st_mig_exists = {DB_ST_MIG_EXISTS,
    "schema_version_exists",
    "SELECT (to_regclass('schema_version') IS NOT NULL)::int"};
static const struct db_stmt st_mig_version = {DB_ST_MIG_VERSION,
    "schema_version", "SELECT coalesce(max(version), 0) FROM schema_version"};
static const struct db_stmt st_mig_applied = {DB_ST_MIG_APPLIED,
    "migration_applied",
    "SELECT count(*)::int FROM schema_version WHERE version = $1::int"};
static const struct db_stmt st_mig_record = {DB_ST_MIG_RECORD,
    "migration_record",
    "INSERT INTO schema_version (version, name) VALUES ($1::int, $2::text)"};

struct db_mig {
	int num;
	char *file;
};

int
db_schema_version(struct db *db, int *version)
{
	PGresult *res = NULL;
	struct db_row r;
	int rc = -1, exists;

	*version = 0;
	if (db_run(db, &st_mig_exists, NULL, &res) != 1)
		goto out;
	r = (struct db_row){res, 0, PQntuples(res) != 1, 0};
	exists = db_col_int4(&r, 0, 0);
	PQclear(res);
	res = NULL;
	if (r.bad)
		goto bad;
	if (!exists) {
		rc = 1;
		goto out;
	}
	if (db_run(db, &st_mig_version, NULL, &res) != 1)
		goto out;
	r = (struct db_row){res, 0, PQntuples(res) != 1, 0};
	*version = db_col_int4(&r, 0, 0);
	if (r.bad)
		goto bad;
	rc = 1;
	goto out;
bad:
	db_seterr(db, "schema version failed: unexpected result");
out:
	PQclear(res);
	return rc;
}

static int
db_mig_cmp(const void *a, const void *b)
{
	const struct db_mig *x = a, *y = b;

	return (x->num > y->num) - (x->num < y->num);
}

/* Returns the migration number of "NNN_name.sql", or 0 if not one. */
static int
db_mig_num(const char *name)
{
	size_t len = strlen(name);
	int i;

	if (len < 9 || strcmp(name + len - 4, ".sql") != 0 || name[3] != '_')
		return 0;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static void
db_mig_free(struct db_mig *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(m[i].file);
	free(m);
}

/* Lists NNN_*.sql in dir, sorted by number. Returns 1 or -1. */
static int
db_mig_list(struct db *db, const char *dir, struct db_mig **out, size_t *n)
{
	DIR *d;
	struct dirent *de;
	struct db_mig *m = NULL, *nm;
	size_t cnt = 0, cap = 0, i;
	int num, rc = -1;

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		db_seterr(db, "migration failed: %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if ((num = db_mig_num(de->d_name)) == 0)
			continue;
		if (cnt == cap) {
			if (cnt >= DB_MIG_MAX) {
				db_seterr(db, "migration failed: too many "
				    "files in %s", dir);
				goto out;
			}
			cap = cap ? cap * 2 : 16;
			if ((nm = reallocarray(m, cap, sizeof(*m))) == NULL) {
				db_seterr(db, "migration failed: out of "
				    "memory");
				goto out;
			}
			m = nm;
		}
		m[cnt].num = num;
		if ((m[cnt].file = strdup(de->d_name)) == NULL) {
			db_seterr(db, "migration failed: out of memory");
			goto out;
		}
		cnt++;
	}
	if (cnt > 0)
		qsort(m, cnt, sizeof(*m), db_mig_cmp);
	for (i = 1; i < cnt; i++)
		if (m[i].num == m[i - 1].num) {
			db_seterr(db, "migration failed: %s and %s have "
			    "the same number", m[i - 1].file, m[i].file);
			goto out;
		}
	*out = m;
	*n = cnt;
	m = NULL;
	cnt = 0;
	rc = 1;
out:
	closedir(d);
	db_mig_free(m, cnt);
	return rc;
}

/* See db.h. */
/* Is migration num recorded? 1, 0, or -1 (db->err). */
static int
db_mig_is_applied(struct db *db, int num)
{
	struct db_params p = {0};
	struct db_row r;
	PGresult *res = NULL;
	int n, rc = -1;

	db_param_int8(&p, num);
	if (db_run(db, &st_mig_applied, &p, &res) != 1)
		goto out;
	r = (struct db_row){res, 0, 0, 0};
	n = PQntuples(res) == 1 ? db_col_int4(&r, 0, 0) : 0;
	if (PQntuples(res) != 1 || r.bad) {
		db_seterr(db, "migration check failed: unexpected result");
		goto out;
	}
	rc = n > 0;
out:
	PQclear(res);
	return rc;
}

int
db_schema_pending(struct db *db, const char *schema_dir, int *pending)
{
	struct db_mig *m = NULL;
	size_t n = 0, i;
	int r, rc = -1;

	*pending = 0;
	if (db_mig_list(db, schema_dir, &m, &n) != 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((r = db_mig_is_applied(db, m[i].num)) < 0)
			goto out;
		*pending += r == 0;
	}
	rc = 1;
out:
	db_mig_free(m, n);
	return rc;
}

int
db_schema_shipped(struct db *db, const char *schema_dir, int *version)
{
	struct db_mig *m = NULL;
	size_t n = 0;

	*version = 0;
	if (db_mig_list(db, schema_dir, &m, &n) != 1)
		return -1;
	if (n > 0)
		*version = m[n - 1].num;
	db_mig_free(m, n);
	return 1;
}

/* Reads a migration file as a string. Returns it or NULL (db->err). */
static char *
db_mig_read(struct db *db, const char *dir, const char *file)
{
	char path[PATH_MAX], *buf = NULL;
	struct stat st;
	size_t off = 0;
	ssize_t r;
	int fd = -1, len;

	len = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (len < 0 || (size_t)len >= sizeof(path)) {
		db_seterr(db, "migration failed: path too long: %s", file);
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		db_seterr(db, "migration failed: %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > DB_MIG_MAX_FILE) {
		db_seterr(db, "migration failed: %s: not a regular file "
		    "or too large", path);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		db_seterr(db, "migration failed: out of memory");
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			db_seterr(db, "migration failed: %s: short read", path);
			goto fail;
		}
		off += (size_t)r;
	}
	buf[off] = '\0';
	if (strlen(buf) != off) {
		db_seterr(db, "migration failed: %s: contains a NUL byte",
		    path);
		goto fail;
	}
	close(fd);
	return buf;
fail:
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

/* Creates schema_version if needed, under the migration lock. 1 or -1. */
static int
db_mig_bootstrap(struct db *db)
{
	if (db_begin(db) != 1)
		return -1;
	if (db_run_simple(db, &st_mig_lock, NULL) != 1 ||
	    db_run_simple(db, &st_mig_bootstrap, NULL) != 1) {
		db_rollback(db);
		return -1;
	}
	return db_commit(db);
}

/*
 * Applies one migration file in its own transaction, unless another host
 * applied it meanwhile. Returns 1 applied, 0 skipped, -1 (db->err).
 */
static int
db_mig_apply(struct db *db, const char *dir, const struct db_mig *m)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	char *sql = NULL, msg[DB_ERR_MAX];
	int done, rc = -1;

	if ((sql = db_mig_read(db, dir, m->file)) == NULL)
		return -1;
	if (db_begin(db) != 1)
		goto out;
	if (db_run_simple(db, &st_mig_lock, NULL) != 1 ||
	    (done = db_mig_is_applied(db, m->num)) < 0)
		goto out;
	if (done) {
		rc = 0;
		goto out;
	}
	/* Migration files hold many statements: the simple protocol. */
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_EMPTY_QUERY) {
		db_pgmsg(db, res, msg, sizeof(msg));
		db_seterr(db, "migration %s failed: %s", m->file, msg);
		goto out;
	}
	db_param_int8(&p, m->num);
	db_param_text(&p, m->file);
	if (db_run_simple(db, &st_mig_record, &p) != 1)
		goto out;
	if (db_commit(db) != 1)
		goto out;
	rc = 1;
out:
	PQclear(res);
	if (db->in_txn)
		db_rollback(db);
	free(sql);
	return rc;
}

/*
 * Forgets every prepared statement after a schema change, so none keeps a
 * result type the migration changed ("cached plan must not change result
 * type"). A failure is harmless: db_run() copes with a statement that is
 * still prepared.
 */
static void
db_forget_prepared(struct db *db)
{
	PGresult *res;

	if (PQstatus(db->conn) != CONNECTION_OK)
		return;
	res = PQexec(db->conn, "DEALLOCATE ALL");
	PQclear(res);
	memset(db->prepared, 0, sizeof(db->prepared));
}

int
db_migrate(struct db *db, const char *schema_dir, int *applied)
{
	struct db_mig *m = NULL;
	size_t n = 0, i;
	int r, rc = 0;

	*applied = 0;
	if (db->in_txn) {
		db_seterr(db, "migration failed: a transaction is open");
		return 0;
	}
	if (db_mig_list(db, schema_dir, &m, &n) != 1)
		goto out;
	if (db_mig_bootstrap(db) != 1)
		goto out;
	/* Every shipped file not recorded yet, in order: a migration that
	 * arrives with a lower number than one applied (branches merged in
	 * another order) is applied too, not skipped. */
	for (i = 0; i < n; i++) {
		if ((r = db_mig_is_applied(db, m[i].num)) < 0)
			goto out;
		if (r == 1)
			continue;
		if ((r = db_mig_apply(db, schema_dir, &m[i])) == -1)
			goto out;
		*applied += r;
	}
	/* The roles' grants, on every run (idempotent, migration lock). */
	if (db_begin(db) != 1)
		goto out;
	if (db_run_simple(db, &st_mig_lock, NULL) != 1 ||
	    db_grants_apply(db) < 0) {
		db_rollback(db);
		goto out;
	}
	if (db_commit(db) != 1)
		goto out;
	rc = 1;
out:
	if (*applied > 0)
		db_forget_prepared(db);
	db_mig_free(m, n);
	return rc;
}
