/*
 * db_int.h - internals shared by the files in db/. Nothing outside db/
 * includes this header: callers see db.h only, never libpq.
 *
 * Statements: every SQL statement is a struct db_stmt with a fixed id. It
 * is prepared (PQprepare) on first use on a connection and executed with
 * PQexecPrepared, parameters bound, results always in binary format.
 * Timestamps are converted to epoch seconds in SQL (DB_EPOCH) so that the
 * C side decodes only int4, int8, text and bytea.
 */
#ifndef CMPCA_DB_INT_H
#define CMPCA_DB_INT_H

#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "db/db.h"

#define DB_ERR_MAX 256	 /* db_error() text, truncated */
#define DB_MAXPARAM 40	 /* parameters of one statement */
#define DB_NUM_MAX 24	 /* a long long in decimal, sign, NUL */

/* SQL: a timestamptz column as whole seconds since the epoch (int8). */
#define DB_EPOCH(col) "floor(extract(epoch from " col "))::bigint"

/* Type OIDs of the columns we decode (pg_type.h is a server header). */
#define DB_OID_BOOL 16
#define DB_OID_BYTEA 17
#define DB_OID_INT8 20
#define DB_OID_INT4 23
#define DB_OID_TEXT 25

/* SQLSTATE unique_violation. */
#define DB_SQLSTATE_UNIQUE "23505"

enum db_stmt_id {
	DB_ST_BEGIN,
	DB_ST_COMMIT,
	DB_ST_ROLLBACK,
	DB_ST_SERVER_ROLE,
	DB_ST_MIG_LOCK,
	DB_ST_MIG_BOOTSTRAP,
	DB_ST_MIG_EXISTS,
	DB_ST_MIG_VERSION,
	DB_ST_MIG_RECORD,
	DB_ST_MIG_APPLIED,
	DB_ST_CA_INSERT,
	DB_ST_CA_GET,
	DB_ST_CA_GET_BY_LABEL,
	DB_ST_CA_LIST,
	DB_ST_CERT_INSERT,
	DB_ST_CERT_GET,
	DB_ST_CERT_GET_BY_SERIAL,
	DB_ST_CERT_LIST_BY_TXN,
	DB_ST_CERT_LIST,
	DB_ST_CERT_SET_STATUS,
	DB_ST_TXN_INSERT,
	DB_ST_TXN_GET,
	DB_ST_TXN_GET_CERTS,
	DB_ST_TXN_ADVANCE,
	DB_ST_NONCE_CLAIM,
	DB_ST_TXN_EXPIRE,
	DB_ST_NONCE_PRUNE,
	DB_ST_PENDING_INSERT,
	DB_ST_PENDING_LIST_BY_TXN,
	DB_ST_PENDING_LIST,
	DB_ST_PENDING_DECIDE,
	DB_ST_RA_INSERT,
	DB_ST_RA_GET_BY_HASH,
	DB_ST_RA_LIST,
	DB_ST_RA_DELETE,
	DB_ST_FINISH,
	DB_ST_CRL_NEXT,
	DB_ST_CRL_INSERT,
	DB_ST_CRL_LATEST,
	DB_ST_CERT_REVOKED,
	DB_ST_CERT_INVALIDITY,
	DB_ST_SECRET_INSERT,
	DB_ST_SECRET_GET,
	DB_ST_SECRET_CONSUME,
	DB_ST_SECRET_LIST,
	DB_ST_SECRET_CLEAR_LIST,
	DB_ST_SECRET_SEAL,
	DB_ST_SECRET_RESEAL_LIST,
	DB_ST_SECRET_DISABLE,
	DB_ST_SECRET_REMOVE,
	DB_ST_TXN_PRUNE,
	DB_ST_CERT_OBTAINED_WITH,
	DB_ST_AUDIT_ADD,
	DB_ST_AUDIT_LIST,
	DB_ST_STATS,
	DB_ST_OCSP_SIGNER_INSERT,
	DB_ST_OCSP_SIGNER_LATEST,
	DB_ST_CERT_GET_STATUS,
	DB_ST_PARTNER_INSERT,
	DB_ST_PARTNER_GET_BY_HASH,
	DB_ST_PARTNER_GET_BY_NAME,
	DB_ST_PARTNER_LIST,
	DB_ST_PARTNER_DELETE,
	DB_ST_CA_CERT_INSERT,
	DB_ST_CA_CERT_LIST,
	DB_ST_CA_PUBLISHED,
	DB_ST_CERT_LIST_KIND,
	DB_ST_ADMIN_CERTS,
	DB_ST_ADMIN_HOURLY,
	DB_ST_CA_ACTIVATE,
	DB_ST_CA_RETIRE,
	DB_ST_CA_REKEY,
	DB_ST_CA_MOVE_CERTS,
	DB_ST_CA_MOVE_CRLS,
	DB_ST_CA_MOVE_SIGNERS,
	DB_ST_CERT_SET_KIND,
	DB_ST_KEYUPD_ADD,
	DB_ST_KEYUPD_LATEST,
	DB_ST_CA_VERSION,
	DB_ST_CA_CERT_CURRENT,
	DB_ST_CERT_STORE,
	DB_ST_CERT_STORE1,
	DB_ST_CRL_LOCK,
	DB_ST_CRL_NUMBER,
	DB_ST_CRL_DUE_TAKE,
	DB_ST_CRL_DUE_LIST,
	DB_ST_CRL_DUE_MARK,
	DB_ST_CRL_DUE_SINCE,
	DB_ST_CERT_HOLD_END,
	DB_ST_ADMIN_CKPT_LAST,
	DB_ST_AUDIT_SEAL,
	DB_ST_AUDIT_LINKS,
	DB_ST_AUDIT_UNLINKED,
	DB_ST_AUDIT_CKPT_INSERT,
	DB_ST_AUDIT_CKPT_LIST,
	DB_ST_AUDIT_CKPT_LAST,
	DB_ST_AUDIT_KEY_INSERT,
	DB_ST_AUDIT_KEY_LATEST,
	DB_ST_AUDIT_CERT_CHECK,
	DB_ST_AUDIT_KEY_GET,
	DB_ST_AUDIT_CKPT_IDS,
	DB_ST_AUDIT_CKPT_DRAWN,
	DB_ST_AUDIT_CKPT_INFLIGHT,
	DB_ST_AUDIT_TRANSITION,
	DB_ST_HAS_BASELINE,
	DB_ST_BASELINE_CLEAR,
	DB_ST_BASELINE_RECORD,
	DB_ST_SCHEMA_CHECK,
	DB_ST_SNAPSHOT,
	DB_ST_WHOAMI,
	DB_ST_GRANTS,
	DB_ST_HAS_GRANTS,
	DB_ST_UPSTREAM_INSERT,
	DB_ST_UPSTREAM_GET,
	DB_ST_RA_FWD_PUT,
	DB_ST_RA_FWD_GET,
	DB_ST_RA_FWD_DELETE,
	DB_ST_RA_FWD_PRUNE,
	DB_ST_OCSP_ANSWER_GET,
	DB_ST_OCSP_ANSWER_PUT,
	DB_ST_OCSP_ANSWER_DUE,
	DB_ST_OCSP_ANSWER_MISSING,
	DB_ST_OCSP_ANSWER_PRUNE,
	DB_ST_OCSP_ANSWER_COUNT,
	DB_ST_CERT_MARK_KEYGEN,
	DB_ST_RA_FWD_OWED,
	DB_ST_RA_FWD_UPDATE,
	DB_ST_RA_FWD_CERT,
	DB_ST_PENDING_UP_DECIDE,
	DB_ST_UPSTREAM_RESEAL_LIST,
	DB_ST_UPSTREAM_SET_SEALED,
	DB_ST_KEYARCH_INSERT,
	DB_ST_KEYARCH_GET,
	DB_ST_KEYARCH_FETCH,
	DB_ST_KEYREC_INSERT,
	DB_ST_KEYREC_DECIDE,
	DB_ST_KEYREC_TAKE,
	DB_ST_COUNT
};

/* A named prepared statement. name is also used in error texts. */
struct db_stmt {
	enum db_stmt_id id;
	const char *name; /* "cert_insert": "cert insert failed: ..." */
	const char *sql;
};

struct db {
	PGconn *conn;
	int in_txn;	  /* db_begin() succeeded, no commit/rollback yet */
	int server_fatal; /* the server announced it closes the session */
	unsigned char prepared[DB_ST_COUNT]; /* per connection */
	char sqlstate[6];		     /* of the last failed statement */
	char constraint[64];		     /* its constraint, if it named one */
	char err[DB_ERR_MAX];
};

/* Bound parameters of one statement; build with db_param_*(). */
struct db_params {
	int n;
	int bad; /* too many parameters or a length overflow */
	const char *val[DB_MAXPARAM];
	int len[DB_MAXPARAM];
	int fmt[DB_MAXPARAM];
	char num[DB_MAXPARAM][DB_NUM_MAX];
};

/* Appends a text parameter; NULL binds SQL NULL. */
void db_param_text(struct db_params *p, const char *s);
/* Appends a bytea parameter in binary format; NULL binds SQL NULL. */
void db_param_bytea(struct db_params *p, const void *b, size_t len);
/* Appends an integer parameter (sent as text, cast in SQL). */
void db_param_int8(struct db_params *p, long long v);
/* Appends an integer parameter, or SQL NULL when v == 0. */
void db_param_id(struct db_params *p, long long v);
/* Appends epoch seconds for to_timestamp(), or SQL NULL when t == 0. */
void db_param_time(struct db_params *p, time_t t);

/*
 * A one-dimensional array parameter in PostgreSQL's binary array format
 * (what array_recv reads), built element by element: db_array_init with
 * the element type (DB_OID_*), then one db_array_* call per element, then
 * db_param_array. A failed allocation makes the parameter bad (the
 * statement then fails with "invalid parameter"). The array owns its
 * buffer until db_array_free, which must come after the statement ran.
 */
struct db_array {
	unsigned char *buf;
	size_t len, cap;
	unsigned int oid; /* element type */
	int n;		  /* elements */
	int hasnull;
	int bad;
};
void db_array_init(struct db_array *a, unsigned int elem_oid);
/* Appends a text or bytea element; NULL appends SQL NULL. */
void db_array_bytes(struct db_array *a, const void *v, size_t len);
void db_array_text(struct db_array *a, const char *s); /* NULL: NULL */
void db_array_int8(struct db_array *a, long long v);
void db_array_int4(struct db_array *a, int v);
void db_array_bool(struct db_array *a, int v);
/* Appends the array as a binary parameter (ndim 0 when empty). */
void db_param_array(struct db_params *p, struct db_array *a);
void db_array_free(struct db_array *a);

/*
 * Runs a prepared statement, preparing it first if this connection has not
 * yet (after db_ready()). Results are binary. Returns 1 and sets *res (the
 * caller PQclear()s it), or -1 with db->err and db->sqlstate set.
 */
int db_run(struct db *db, const struct db_stmt *st, const struct db_params *p,
    PGresult **res);
/* Runs a statement whose result is not needed. Returns 1 or -1. */
int db_run_simple(struct db *db, const struct db_stmt *st,
    const struct db_params *p);
/*
 * Runs a multi-row statement into a new array of elements of elem_size
 * bytes: from_row fills one (returns 1, or 0 on an unexpected row), clear
 * releases one. On success *out is the array (the caller frees it with
 * the aggregate's _array_free) and *n its length (0 and NULL when empty).
 * Returns 1 or -1 (db->err set).
 */
int db_getn(struct db *db, const struct db_stmt *st, const struct db_params *p,
    size_t elem_size, int (*from_row)(const PGresult *, int, void *),
    void (*clear)(void *), void **out, size_t *n);
/*
 * Runs an INSERT ... ON CONFLICT DO NOTHING [RETURNING id]. With id, the
 * returned id is stored there. Returns 1 inserted, 0 the row exists (a
 * unique violation or the conflict clause), -1 (db->err set).
 */
int db_insert(struct db *db, const struct db_stmt *st,
    const struct db_params *p, long long *id);
/*
 * Runs an UPDATE or DELETE (or any statement whose answer is how many rows
 * it changed). With rows, the count is stored there. Returns 1 if it
 * changed at least one row, 0 if none (no row matched: an answer, not an
 * error), -1 (db->err set).
 */
int db_update(struct db *db, const struct db_stmt *st,
    const struct db_params *p, long long *rows);
/*
 * Runs a lookup of at most one row into *out (elem_size bytes, zeroed
 * first), filled by from_row. Returns 1 found, 0 no row, -1 (db->err set).
 */
int db_get1(struct db *db, const struct db_stmt *st, const struct db_params *p,
    size_t elem_size, int (*from_row)(const PGresult *, int, void *),
    void *out);
/*
 * Runs a statement whose answer is at most one row with one int8 column
 * into *v (0 when no row). Returns 1 found, 0 no row, -1 (db->err set;
 * more than one row or a bad value is an error).
 */
int db_get_int8(struct db *db, const struct db_stmt *st,
    const struct db_params *p, long long *v);
/*
 * The names of an enum's values as the database stores them: name[v] for
 * v in 1..n-1 (0 is "none" in every enum of db.h, name[0] is NULL).
 * Define the array indexed by the enum, then the table with DB_NAMES.
 */
struct db_names {
	const char *const *name;
	int n;
};
#define DB_NAMES(a) {(a), (int)(sizeof(a) / sizeof((a)[0]))}
/* The name of v, or NULL if v has none in t. */
const char *db_name_of(const struct db_names *t, int v);
/* The value named s in t, or 0 if none (or s is NULL). */
int db_name_parse(const struct db_names *t, const char *s);

/* Returns 1 if the last failed statement was a unique violation. */
int db_unique_violation(const struct db *db);
/*
 * Makes sure the connection is usable: notices a connection the server
 * closed while we were idle, reconnects and forgets prepared statements.
 * Fails instead of reconnecting while a transaction is open. Returns 1 or
 * -1 (db->err set).
 */
int db_ready(struct db *db);
/* Sets db->err, printf style; newlines become spaces. */
void db_seterr(struct db *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The primary message of a failed result (or libpq's connection error) into
 * buf; records the SQLSTATE in db->sqlstate.
 */
void db_pgmsg(struct db *db, const PGresult *res, char *buf, size_t size);
/* Sets db->err to "<statement name, _ as space> failed: <msg>". */
void db_stmt_err(struct db *db, const struct db_stmt *st, const char *msg);
/* Returns 1 if s is a NUL-terminated string of 1..size-1 bytes. */
int db_fixed_ok(const char *s, size_t size);

/*
 * Column readers with a sticky error (BearSSL style): each checks the
 * column type and length; on a mismatch or out of memory it sets r->bad
 * and returns a zero value. Read all columns, then test r->bad once.
 */
struct db_row {
	const PGresult *res;
	int row;
	int bad;
	int off; /* column numbers count from this column */
};
/* The columns of a struct db_cert, in db_cert_row()'s order. */
#define DB_CERT_COLS                                                        \
	"id, ca_id, serial, subject, issuer, spki_sha256, "                 \
	DB_EPOCH("not_before") ", " DB_EPOCH("not_after") ", status, der, " \
	"profile, requester, txid, cert_req_id, " DB_EPOCH("revoked_at")    \
	", reason, " DB_EPOCH("created") ", replaces, kind, credential, "   \
	"obtained_with, server_keygen::int"
/* Fills *c from the DB_CERT_COLS at column off of row i. 1, or 0 on a
 * malformed row (c cleared). */
int db_cert_row(const PGresult *res, int i, int off, struct db_cert *c);
long long db_col_int8(struct db_row *r, int col); /* NULL: 0 */
int db_col_int4(struct db_row *r, int col, int if_null);
time_t db_col_time(struct db_row *r, int col); /* DB_EPOCH column, NULL: 0 */
/* Text into a fixed buffer (NULL: ""); too long sets bad. */
void db_col_text(struct db_row *r, int col, char *buf, size_t size);
/* Text as a malloc'ed string; SQL NULL gives NULL. */
char *db_col_strdup(struct db_row *r, int col);
/* Bytea into a fixed buffer (NULL: length 0); too long sets bad. */
void db_col_bytes(struct db_row *r, int col, unsigned char *buf, size_t size,
    size_t *len);
/* Bytea as a malloc'ed copy (NULL: NULL, length 0). */
unsigned char *db_col_memdup(struct db_row *r, int col, size_t *len);

#endif
