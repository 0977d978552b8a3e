/*
 * db_stats.c - counts for monitoring (the /metrics gauges and cmpca
 * status), read in one cheap statement at scrape time: the tables it
 * counts hold open work only (pending_req rows waiting for a decision,
 * cmp_txn rows not yet done), which stay small.
 */
#include <string.h>

#include "db/db_int.h"

static const struct db_stmt st_stats = {DB_ST_STATS, "stats",
    "SELECT (SELECT count(*) FROM pending_req WHERE status = 'pending'),"
    " (SELECT count(*) FROM cmp_txn WHERE state = 'waiting'),"
    " (SELECT count(*) FROM cmp_txn WHERE state = 'wait_conf')"};

int
db_stats_get(struct db *db, struct db_stats *out)
{
	PGresult *res = NULL;
	struct db_row r;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (db_run(db, &st_stats, NULL, &res) != 1)
		goto out;
	r = (struct db_row){res, 0, PQntuples(res) != 1, 0};
	if (!r.bad) {
		out->pending_approvals = db_col_int8(&r, 0);
		out->txn_waiting = db_col_int8(&r, 1);
		out->txn_wait_conf = db_col_int8(&r, 2);
	}
	if (r.bad) {
		db_stmt_err(db, &st_stats, "unexpected result");
		goto out;
	}
	rc = 1;
out:
	PQclear(res);
	return rc;
}
