/*
 * db.c - connection, reconnection, transactions, migrations, error text and
 * the parameter/column helpers shared by the other db/ files.
 *
 * Reconnection: before every statement db_ready() checks the connection.
 * Outside a transaction it first reads anything the server sent while we
 * were idle, so a session the server terminated (restart, admin) is noticed
 * and replaced before the statement runs, not by failing it. A connection
 * lost inside a transaction is never replaced silently: calls fail until
 * the caller ends the transaction with db_commit() or db_rollback().
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db_int.h"

#define DB_MIG_MAX_FILE (4 * 1024 * 1024) /* bytes in one migration file */
#define DB_MIG_MAX 999			  /* NNN: three digits */
#define DB_CONNECT_TIMEOUT "10"		  /* seconds, unless conninfo says */

/*
 * Advisory lock key for migrations: one lock for every host migrating the
 * same database ("cmpcamig" in ASCII).
 */
#define DB_MIG_LOCK_KEY "7164506154354960743"

static const struct db_stmt st_begin = {DB_ST_BEGIN, "begin", "BEGIN"};
static const struct db_stmt st_commit = {DB_ST_COMMIT, "commit", "COMMIT"};
static const struct db_stmt st_rollback = {DB_ST_ROLLBACK, "rollback",
    "ROLLBACK"};
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

/* Helpers: error text. */

void
db_seterr(struct db *db, const char *fmt, ...)
{
	va_list ap;
	char *p;
	size_t len;

	va_start(ap, fmt);
	(void)vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
	for (p = db->err; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	len = strlen(db->err);
	while (len > 0 && db->err[len - 1] == ' ')
		db->err[--len] = '\0';
}

/* The first line of libpq's connection error, without "ERROR:  ". */
static void
db_conn_msg(const struct db *db, char *buf, size_t size)
{
	const char *m = db->conn != NULL ? PQerrorMessage(db->conn) : "";
	size_t n;

	if (strncmp(m, "ERROR:  ", 8) == 0 || strncmp(m, "FATAL:  ", 8) == 0)
		m += 8;
	n = strcspn(m, "\n");
	if (n == 0) {
		m = "unknown error";
		n = strlen(m);
	}
	if (n >= size)
		n = size - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
}

/*
 * The primary message of a failed result (or libpq's connection error) into
 * buf; records the SQLSTATE in db->sqlstate.
 */
static void
db_pgmsg(struct db *db, const PGresult *res, char *buf, size_t size)
{
	const char *m = NULL, *state = NULL;

	if (res != NULL) {
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
	if (state != NULL && strlen(state) == 5)
		memcpy(db->sqlstate, state, 6);
	if (m != NULL && *m != '\0')
		(void)snprintf(buf, size, "%s", m);
	else
		db_conn_msg(db, buf, size);
}

void
db_stmt_err(struct db *db, const struct db_stmt *st, const char *msg)
{
	char what[64], *p;

	(void)snprintf(what, sizeof(what), "%s", st->name);
	for (p = what; *p != '\0'; p++)
		if (*p == '_')
			*p = ' ';
	db_seterr(db, "%s failed: %s", what, msg);
}

/* Records the error of a failed statement: "<name> failed: <message>". */
static void
db_seterr_stmt(struct db *db, const struct db_stmt *st, const PGresult *res)
{
	char msg[DB_ERR_MAX];

	db_pgmsg(db, res, msg, sizeof(msg));
	db_stmt_err(db, st, msg);
}

const char *
db_error(const struct db *db)
{
	if (db == NULL)
		return "no database handle";
	return db->err;
}

int
db_unique_violation(const struct db *db)
{
	return strcmp(db->sqlstate, DB_SQLSTATE_UNIQUE) == 0;
}

int
db_fixed_ok(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	return n > 0 && n < size;
}

/* Helpers: parameters. */

/* Appends one parameter; fmt 1 is binary. */
static void
db_param_add(struct db_params *p, const char *val, size_t len, int fmt)
{
	if (p->n >= DB_MAXPARAM || len > INT_MAX) {
		p->bad = 1;
		return;
	}
	p->val[p->n] = val;
	p->len[p->n] = (int)len;
	p->fmt[p->n] = fmt;
	p->n++;
}

void
db_param_text(struct db_params *p, const char *s)
{
	db_param_add(p, s, 0, 0);
}

void
db_param_bytea(struct db_params *p, const void *b, size_t len)
{
	/* Non-NULL even when empty: a NULL pointer binds SQL NULL. */
	db_param_add(p, b == NULL ? NULL : len == 0 ? "" : (const char *)b,
	    len, 1);
}

void
db_param_int8(struct db_params *p, long long v)
{
	if (p->n >= DB_MAXPARAM) {
		p->bad = 1;
		return;
	}
	(void)snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", v);
	db_param_add(p, p->num[p->n], 0, 0);
}

void
db_param_id(struct db_params *p, long long v)
{
	if (v == 0)
		db_param_text(p, NULL);
	else
		db_param_int8(p, v);
}

void
db_param_time(struct db_params *p, time_t t)
{
	if (t == 0)
		db_param_text(p, NULL);
	else
		db_param_int8(p, (long long)t);
}

/* Helpers: columns of a binary result. */

static const unsigned char *
db_col(struct db_row *r, int col, unsigned int oid, int *len)
{
	col += r->off;
	if (r->bad || col >= PQnfields(r->res) ||
	    PQftype(r->res, col) != oid) {
		r->bad = 1;
		return NULL;
	}
	if (PQgetisnull(r->res, r->row, col))
		return NULL;
	*len = PQgetlength(r->res, r->row, col);
	return (const unsigned char *)PQgetvalue(r->res, r->row, col);
}

/* A big-endian integer column of `size` bytes; 0 when NULL or bad. */
static unsigned long long
db_col_be(struct db_row *r, int col, unsigned int oid, int size, int *isnull)
{
	const unsigned char *v;
	unsigned long long u = 0;
	int len = 0, i;

	*isnull = 0;
	if ((v = db_col(r, col, oid, &len)) == NULL) {
		*isnull = !r->bad;
		return 0;
	}
	if (len != size) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < size; i++)
		u = u << 8 | v[i];
	return u;
}

long long
db_col_int8(struct db_row *r, int col)
{
	int isnull;

	/* Two's complement as sent; the conversion is what GCC defines. */
	return (long long)db_col_be(r, col, DB_OID_INT8, 8, &isnull);
}

int
db_col_int4(struct db_row *r, int col, int if_null)
{
	unsigned int u;
	int isnull;

	u = (unsigned int)db_col_be(r, col, DB_OID_INT4, 4, &isnull);
	return isnull ? if_null : (int)u;
}

time_t
db_col_time(struct db_row *r, int col)
{
	return (time_t)db_col_int8(r, col);
}

void
db_col_text(struct db_row *r, int col, char *buf, size_t size)
{
	const unsigned char *v;
	int len = 0;

	buf[0] = '\0';
	if ((v = db_col(r, col, DB_OID_TEXT, &len)) == NULL)
		return;
	if (len < 0 || (size_t)len >= size || memchr(v, '\0', len) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(buf, v, len);
	buf[len] = '\0';
}

char *
db_col_strdup(struct db_row *r, int col)
{
	const unsigned char *v;
	char *s;
	int len = 0;

	if ((v = db_col(r, col, DB_OID_TEXT, &len)) == NULL)
		return NULL;
	if (len < 0 || memchr(v, '\0', len) != NULL ||
	    (s = malloc((size_t)len + 1)) == NULL) {
		r->bad = 1;
		return NULL;
	}
	memcpy(s, v, len);
	s[len] = '\0';
	return s;
}

void
db_col_bytes(struct db_row *r, int col, unsigned char *buf, size_t size,
    size_t *len)
{
	const unsigned char *v;
	int n = 0;

	*len = 0;
	if ((v = db_col(r, col, DB_OID_BYTEA, &n)) == NULL)
		return;
	if (n < 0 || (size_t)n > size) {
		r->bad = 1;
		return;
	}
	memcpy(buf, v, n);
	*len = (size_t)n;
}

unsigned char *
db_col_memdup(struct db_row *r, int col, size_t *len)
{
	const unsigned char *v;
	unsigned char *b;
	int n = 0;

	*len = 0;
	if ((v = db_col(r, col, DB_OID_BYTEA, &n)) == NULL)
		return NULL;
	/* malloc(0) may return NULL: allocate one byte for empty values. */
	if (n < 0 || (b = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
		r->bad = 1;
		return NULL;
	}
	memcpy(b, v, n);
	*len = (size_t)n;
	return b;
}

long long
db_cmd_tuples(PGresult *res)
{
	const char *s = PQcmdTuples(res);

	return s != NULL && *s != '\0' ? strtoll(s, NULL, 10) : 0;
}

/* Connection. */

/*
 * Notice receiver: keeps libpq from printing server notices on stderr and
 * notices a FATAL message the server sent while we were idle (session
 * terminated, server shutting down): the connection is then unusable even
 * though libpq has not yet seen the socket close.
 */
static void
db_notice(void *arg, const PGresult *res)
{
	struct db *db = arg;
	const char *sev;

	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev != NULL &&
	    (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		db->server_fatal = 1;
}

/* Connects or reconnects. Returns 1 or -1. */
static int
db_connect(struct db *db)
{
	char msg[DB_ERR_MAX];

	PQreset(db->conn);
	memset(db->prepared, 0, sizeof(db->prepared));
	db->server_fatal = 0;
	db->in_txn = 0;
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_conn_msg(db, msg, sizeof(msg));
		db_seterr(db, "cannot connect to database: %s", msg);
		return -1;
	}
	return 1;
}

/*
 * Reads what the server sent while we were idle, if anything (one poll()
 * on a healthy connection). Two reads: the first may return the server's
 * FATAL message, the second then sees the end of file (libpq's socket is
 * non-blocking).
 */
static void
db_probe(struct db *db)
{
	struct pollfd pfd;
	int i;

	pfd.fd = PQsocket(db->conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0)
		return; /* nothing arrived while we were idle */
	for (i = 0; i < 2 && PQstatus(db->conn) == CONNECTION_OK; i++)
		if (!PQconsumeInput(db->conn))
			break;
}

int
db_ready(struct db *db)
{
	if (!db->in_txn && PQstatus(db->conn) == CONNECTION_OK)
		db_probe(db);
	if (PQstatus(db->conn) == CONNECTION_OK && !db->server_fatal)
		return 1;
	if (db->in_txn) {
		db_seterr(db, "connection lost inside a transaction");
		return -1;
	}
	return db_connect(db);
}

struct db *
db_open(const char *conninfo)
{
	/*
	 * Later keywords override earlier ones: conninfo may change the
	 * connect timeout (a reconnect must not hang a worker forever) but
	 * not the encoding our strings are in.
	 */
	static const char *const kw[] = {"connect_timeout", "dbname",
	    "fallback_application_name", "client_encoding", NULL};
	const char *val[5];
	char msg[DB_ERR_MAX];
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	val[0] = getenv("PGCONNECT_TIMEOUT") != NULL ? NULL :
	    DB_CONNECT_TIMEOUT;
	val[1] = conninfo != NULL && *conninfo != '\0' ? conninfo : NULL;
	val[2] = "cmpca";
	val[3] = "UTF8";
	val[4] = NULL;
	if ((db->conn = PQconnectdbParams(kw, val, 1)) == NULL) {
		free(db);
		return NULL;
	}
	PQsetNoticeReceiver(db->conn, db_notice, db);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_conn_msg(db, msg, sizeof(msg));
		db_seterr(db, "cannot connect to database: %s", msg);
	}
	return db;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db);
}

int
db_ensure(struct db *db)
{
	return db_ready(db) == 1;
}

int
db_backend_pid(struct db *db)
{
	if (PQstatus(db->conn) != CONNECTION_OK)
		return 0;
	return PQbackendPID(db->conn);
}

static void (*error_hook)(const char *);

/* See db.h. */
void
db_error_hook_set(void (*fn)(const char *sqlstate))
{
	error_hook = fn;
}

int
db_run(struct db *db, const struct db_stmt *st, const struct db_params *p,
    PGresult **resp)
{
	static const struct db_params none;
	PGresult *res = NULL;
	int rc = -1;

	*resp = NULL;
	db->sqlstate[0] = '\0';
	if (p == NULL)
		p = &none;
	if (p->bad) {
		db_stmt_err(db, st, "invalid parameter");
		goto out;
	}
	if (db_ready(db) != 1)
		goto out;
	if (!db->prepared[st->id]) {
		res = PQprepare(db->conn, st->name, st->sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_seterr_stmt(db, st, res);
			/* Still prepared: a DEALLOCATE failed. Use it. */
			if (strcmp(db->sqlstate, "42P05") != 0)
				goto out;
			db->sqlstate[0] = '\0';
		}
		PQclear(res);
		res = NULL;
		db->prepared[st->id] = 1;
	}
	res = PQexecPrepared(db->conn, st->name, p->n, p->val, p->len, p->fmt,
	    1);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	default:
		db_seterr_stmt(db, st, res);
		goto out;
	}
	*resp = res; /* the caller clears it */
	res = NULL;
	rc = 1;
out:
	PQclear(res);
	if (rc != 1 && error_hook != NULL)
		error_hook(db->sqlstate);
	return rc;
}

/* See db_int.h. */
int
db_insert(struct db *db, const struct db_stmt *st, const struct db_params *p,
    long long *id)
{
	PGresult *res = NULL;
	struct db_row r;
	int rc = -1;

	if (db_run(db, st, p, &res) != 1) {
		if (db_unique_violation(db))
			rc = 0;
		goto out;
	}
	if (id == NULL) {
		rc = db_cmd_tuples(res) > 0 ? 1 : 0;
		goto out;
	}
	if (PQntuples(res) == 0) {
		rc = 0; /* ON CONFLICT DO NOTHING: the row exists */
		goto out;
	}
	r = (struct db_row){res, 0, 0, 0};
	*id = db_col_int8(&r, 0);
	if (r.bad) {
		db_stmt_err(db, st, "unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

/* See db_int.h. */
int
db_get_int8(struct db *db, const struct db_stmt *st, const struct db_params *p,
    long long *v)
{
	struct db_row r;
	PGresult *res = NULL;
	int rc = -1;

	*v = 0;
	if (db_run(db, st, p, &res) != 1)
		goto out;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	r = (struct db_row){res, 0, 0, 0};
	*v = db_col_int8(&r, 0);
	if (PQntuples(res) != 1 || r.bad) {
		*v = 0;
		db_stmt_err(db, st, "unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

/* See db_int.h. */
int
db_get1(struct db *db, const struct db_stmt *st, const struct db_params *p,
    size_t elem_size, int (*from_row)(const PGresult *, int, void *),
    void *out)
{
	PGresult *res = NULL;
	int rc = -1;

	memset(out, 0, elem_size);
	if (db_run(db, st, p, &res) != 1)
		goto out;
	if (PQntuples(res) == 0) {
		rc = 0;
		goto out;
	}
	if (!from_row(res, 0, out)) {
		db_stmt_err(db, st, "unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}

/* See db_int.h. */
int
db_getn(struct db *db, const struct db_stmt *st, const struct db_params *p,
    size_t elem_size, int (*from_row)(const PGresult *, int, void *),
    void (*clear)(void *), void **out, size_t *n)
{
	PGresult *res = NULL;
	unsigned char *a = NULL;
	size_t cnt = 0, i;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (db_run(db, st, p, &res) != 1)
		goto out;
	cnt = (size_t)PQntuples(res);
	if (cnt > 0 && (a = calloc(cnt, elem_size)) == NULL) {
		db_stmt_err(db, st, "out of memory");
		goto out;
	}
	for (i = 0; i < cnt; i++)
		if (!from_row(res, (int)i, a + i * elem_size)) {
			db_stmt_err(db, st, "unexpected result");
			goto out;
		}
	*out = a; /* the caller frees it */
	*n = cnt;
	a = NULL;
	rc = 1;
out:
	if (a != NULL) {
		for (i = 0; i < cnt; i++)
			clear(a + i * elem_size);
		free(a);
	}
	PQclear(res);
	return rc;
}

/* Runs a statement whose result is not needed. Returns 1 or -1. */
static int
db_run_simple(struct db *db, const struct db_stmt *st,
    const struct db_params *p)
{
	PGresult *res;
	int rc;

	rc = db_run(db, st, p, &res);
	PQclear(res);
	return rc;
}

int
db_exec_unsafe(struct db *db, const char *sql)
{
	PGresult *res;
	char msg[DB_ERR_MAX];
	int rc = -1;

	if (db_ready(db) != 1)
		return -1;
	res = PQexec(db->conn, sql);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		rc = 1;
		break;
	default:
		db_pgmsg(db, res, msg, sizeof(msg));
		db_seterr(db, "statement failed: %s", msg);
		break;
	}
	PQclear(res);
	return rc;
}

/* Transactions. */

int
db_begin(struct db *db)
{
	if (db->in_txn) {
		db_seterr(db, "begin failed: a transaction is already open");
		return -1;
	}
	if (db_run_simple(db, &st_begin, NULL) != 1)
		return -1;
	db->in_txn = 1;
	return 1;
}

int
db_commit(struct db *db)
{
	PGresult *res;
	int rc = -1;

	if (!db->in_txn) {
		db_seterr(db, "commit failed: no transaction is open");
		return -1;
	}
	if (db_run(db, &st_commit, NULL, &res) != 1)
		goto out;
	/* COMMIT of a failed transaction "succeeds" with tag ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		db_seterr(db, "commit failed: transaction was rolled "
		    "back after an earlier error");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	/* Whatever happened, the transaction is over. */
	db->in_txn = 0;
	return rc;
}

void
db_rollback(struct db *db)
{
	PGresult *res;
	PGTransactionStatusType ts;

	if (db == NULL)
		return;
	ts = PQtransactionStatus(db->conn);
	if (PQstatus(db->conn) == CONNECTION_OK &&
	    (db->in_txn || ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)) {
		/* A failure needs no report: the session is gone or broken. */
		(void)db_run(db, &st_rollback, NULL, &res);
		PQclear(res);
	}
	db->in_txn = 0;
}

/* Migrations. */

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
