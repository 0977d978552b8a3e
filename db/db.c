/*
 * db.c - connection, reconnection, transactions, error text and the
 * statement helpers shared by the other db/ files (db_run, db_insert,
 * db_update, db_get1, db_getn). Parameters and columns: db_param.c;
 * migrations: db_migrate.c.
 *
 * Reconnection: before every statement db_ready() checks the connection.
 * Outside a transaction it first reads anything the server sent while we
 * were idle, so a session the server terminated (restart, admin) is noticed
 * and replaced before the statement runs, not by failing it. A connection
 * lost inside a transaction is never replaced silently: calls fail until
 * the caller ends the transaction with db_commit() or db_rollback().
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

#define DB_CONNECT_TIMEOUT "10" /* seconds, unless conninfo says */

static const struct db_stmt st_begin = {DB_ST_BEGIN, "begin", "BEGIN"};
static const struct db_stmt st_commit = {DB_ST_COMMIT, "commit", "COMMIT"};
static const struct db_stmt st_rollback = {DB_ST_ROLLBACK, "rollback",
    "ROLLBACK"};

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

/* See db_int.h. */
void
db_pgmsg(struct db *db, const PGresult *res, char *buf, size_t size)
{
	const char *m = NULL, *state = NULL, *cons = NULL;

	if (res != NULL) {
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	}
	if (state != NULL && strlen(state) == 5)
		memcpy(db->sqlstate, state, 6);
	(void)snprintf(db->constraint, sizeof(db->constraint), "%s",
	    cons != NULL ? cons : "");
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

/* Rows affected by an UPDATE/INSERT/DELETE result (0 if unknown). */
static long long
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

static const struct db_stmt st_server_role = {DB_ST_SERVER_ROLE,
    "server_role", "SELECT (NOT pg_is_in_recovery())::int"};

/* See db.h. */
int
db_server_get(struct db *db, char *host, size_t hostlen, char *port,
    size_t portlen, int *primary)
{
	PGresult *res = NULL;
	struct db_row r;
	const char *h, *p;
	int rc = -1;

	*primary = 0;
	if (hostlen > 0)
		host[0] = '\0';
	if (portlen > 0)
		port[0] = '\0';
	if (db_run(db, &st_server_role, NULL, &res) != 1)
		goto out;
	r = (struct db_row){res, 0, PQntuples(res) != 1, 0};
	*primary = db_col_int4(&r, 0, 0);
	if (r.bad) {
		db_seterr(db, "server role: unexpected result");
		goto out;
	}
	h = PQhost(db->conn);
	p = PQport(db->conn);
	snprintf(host, hostlen, "%s", h != NULL ? h : "?");
	snprintf(port, portlen, "%s", p != NULL ? p : "?");
	rc = 1;
out:
	PQclear(res);
	return rc;
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
	db->constraint[0] = '\0';
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

	if (id == NULL) {
		if ((rc = db_update(db, st, p, NULL)) < 0 &&
		    db_unique_violation(db))
			rc = 0;
		return rc;
	}
	if (db_run(db, st, p, &res) != 1) {
		if (db_unique_violation(db))
			rc = 0;
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
db_update(struct db *db, const struct db_stmt *st, const struct db_params *p,
    long long *rows)
{
	PGresult *res = NULL;
	long long n;
	int rc = -1;

	if (rows != NULL)
		*rows = 0;
	if (db_run(db, st, p, &res) != 1)
		goto out;
	n = db_cmd_tuples(res);
	if (rows != NULL)
		*rows = n;
	rc = n > 0 ? 1 : 0;
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

/* See db_int.h. */
int
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
