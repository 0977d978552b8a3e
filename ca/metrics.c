/*
 * metrics.c - counters for the Prometheus text endpoint (/metrics).
 *
 * cmpcad pre-forks its workers, so the counters live in one shared
 * anonymous mapping that the master creates before the first fork; every
 * worker adds to the same numbers with relaxed atomic adds (a handful per
 * request, no lock, no system call) and any worker can render the whole
 * set. In processes that never called metrics_init() (cmpca, the unit
 * tests) every call is a no-op.
 *
 * Values only grow (counters and histogram buckets); a reader may see one
 * request's adds half done, which Prometheus tolerates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"

/* Request outcomes as the engine names them (struct req.outcome); the
 * last row counts any name not in this table. */
static const char *const outcomes[] = {
	"accepted", "rejected", "error", "waiting", "partial",
	"rejected-by-operator", "cert-rejected-by-client",
	"aborted-by-client", "other",
};
#define MET_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))
/* Body types 0..CMP_BODY_MAX, then one row for undecodable requests. */
#define MET_BODIES (CMP_BODY_MAX + 2)
#define MET_BODY_NONE (CMP_BODY_MAX + 1)

/* Upper bounds of the histogram buckets, microseconds; +Inf follows. */
static const unsigned long long lat_le[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
static const unsigned long long hsm_le[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 1000000,
};
#define LAT_N (sizeof(lat_le) / sizeof(lat_le[0]))
#define HSM_N (sizeof(hsm_le) / sizeof(hsm_le[0]))

_Static_assert(LAT_N < 16 && HSM_N < 16, "histogram buckets");

struct met_hist {
	unsigned long long bucket[16]; /* not cumulative; [n] is +Inf */
	unsigned long long sum_us;
	unsigned long long count;
};

struct metrics {
	unsigned long long req[MET_BODIES][MET_OUTCOMES];
	struct met_hist latency;
	struct met_hist hsm;
	unsigned long long db_errors;
	unsigned long long http_rejected;
	unsigned long long restarts[CA_MAX_WORKERS + 1];
	unsigned long long watchdog[CA_MAX_WORKERS + 1];
	long long busy_since[CA_MAX_WORKERS + 1]; /* not rendered */
	unsigned long long mac_refused;
	unsigned long long client_gone;
	unsigned long long ocsp[METRICS_OCSP_N];
	/* OCSP signatures under way: the pid holding each slot, or 0. */
	int ocsp_signing[CA_MAX_WORKERS];
};

static struct metrics *met;

#define MET_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define MET_GET(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* See ca.h. */
int
metrics_init(void)
{
	void *p;

	if (met != NULL)
		return 1;
	p = mmap(NULL, sizeof(*met), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	met = p; /* zero-filled by the kernel */
	return 1;
}

/* See ca.h. */
long long
metrics_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
hist_add(struct met_hist *h, const unsigned long long *le, size_t n,
    long long us)
{
	unsigned long long v = us > 0 ? (unsigned long long)us : 0;
	size_t i;

	for (i = 0; i < n && v > le[i]; i++)
		;
	MET_ADD(&h->bucket[i], 1);
	MET_ADD(&h->sum_us, v);
	MET_ADD(&h->count, 1);
}

/* See ca.h. */
void
metrics_request(int body, const char *outcome, long long us)
{
	size_t o;

	if (met == NULL)
		return;
	if (body < 0 || body > CMP_BODY_MAX)
		body = MET_BODY_NONE;
	for (o = 0; o < MET_OUTCOMES - 1; o++)
		if (outcome != NULL && strcmp(outcome, outcomes[o]) == 0)
			break;
	MET_ADD(&met->req[body][o], 1);
	hist_add(&met->latency, lat_le, LAT_N, us);
}

/* See ca.h. */
void
metrics_hsm(long long us)
{
	if (met != NULL)
		hist_add(&met->hsm, hsm_le, HSM_N, us);
}

/* See ca.h. */
void
metrics_http_rejected(void)
{
	if (met != NULL)
		MET_ADD(&met->http_rejected, 1);
}

/* See ca.h. Refusals the engine expects (a replayed nonce is a unique
 * violation, class 23; our functions raise class CA) are no errors. */
void
metrics_db_error(const char *sqlstate)
{
	if (met == NULL)
		return;
	if (sqlstate != NULL && (strncmp(sqlstate, "23", 2) == 0 ||
	    strncmp(sqlstate, "CA", 2) == 0))
		return;
	MET_ADD(&met->db_errors, 1);
}

/* See ca.h. */
void
metrics_worker_restart(int slot)
{
	if (met != NULL && slot >= 0 && slot <= CA_MAX_WORKERS)
		MET_ADD(&met->restarts[slot], 1);
}

/* See ca.h. */
void
metrics_mac_refused(void)
{
	if (met != NULL)
		MET_ADD(&met->mac_refused, 1);
}

/* See ca.h. */
void
metrics_ocsp(enum metrics_ocsp_event e)
{
	if (met != NULL && e >= 0 && e < METRICS_OCSP_N)
		MET_ADD(&met->ocsp[e], 1);
}

/*
 * See ca.h. A slot is a pid, not a count: a worker killed while signing
 * (the master respawns it) frees its slot for the next one that finds
 * every slot taken and looks whether their holders still live.
 */
int
metrics_ocsp_sign_enter(long max)
{
	int pid = (int)getpid(), i, who;

	if (met == NULL)
		return 1; /* one process (cmpca, tests): nothing to share */
	if (max > CA_MAX_WORKERS)
		max = CA_MAX_WORKERS;
	for (i = 0; i < max; i++) {
		who = 0;
		if (__atomic_compare_exchange_n(&met->ocsp_signing[i], &who, pid,
			0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return 1;
	}
	for (i = 0; i < max; i++) {
		who = __atomic_load_n(&met->ocsp_signing[i], __ATOMIC_RELAXED);
		if (who != 0 && who != pid && kill(who, 0) != 0 &&
		    errno == ESRCH &&
		    __atomic_compare_exchange_n(&met->ocsp_signing[i], &who,
			pid, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return 1;
	}
	return 0;
}

/* See ca.h. */
void
metrics_client_gone(void)
{
	if (met != NULL)
		MET_ADD(&met->client_gone, 1);
}

/* See ca.h. */
void
metrics_watchdog(int slot)
{
	if (met != NULL && slot >= 0 && slot <= CA_MAX_WORKERS)
		MET_ADD(&met->watchdog[slot], 1);
}

/* See ca.h. */
void
metrics_busy_set(int slot, long long since_us)
{
	if (met != NULL && slot >= 0 && slot <= CA_MAX_WORKERS)
		__atomic_store_n(&met->busy_since[slot], since_us,
		    __ATOMIC_RELAXED);
}

/* See ca.h. */
long long
metrics_busy_get(int slot)
{
	if (met == NULL || slot < 0 || slot > CA_MAX_WORKERS)
		return 0;
	return MET_GET(&met->busy_since[slot]);
}

/* See ca.h. */
void
metrics_ocsp_sign_leave(void)
{
	int pid = (int)getpid(), i;

	if (met == NULL)
		return;
	for (i = 0; i < CA_MAX_WORKERS; i++) {
		int who = pid;

		if (__atomic_compare_exchange_n(&met->ocsp_signing[i], &who, 0,
			0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			return;
	}
}

static void
hist_print(FILE *f, const char *name, const struct met_hist *h,
    const unsigned long long *le, size_t n)
{
	unsigned long long cum = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		cum += MET_GET(&h->bucket[i]);
		if (i < n)
			fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name,
			    (double)le[i] / 1e6, cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	}
	fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)MET_GET(&h->sum_us) / 1e6, name, MET_GET(&h->count));
}

/* See ca.h. */
char *
metrics_render(struct db *db, int workers, size_t *len)
{
	struct db_stats st;
	char *buf = NULL;
	size_t b, o;
	FILE *f;
	int i, have_db;

	*len = 0;
	if (met == NULL || (f = open_memstream(&buf, len)) == NULL)
		return NULL;
	fputs("# HELP cmpca_requests_total CMP requests served, by request "
	      "body type and outcome.\n"
	      "# TYPE cmpca_requests_total counter\n", f);
	for (b = 0; b < MET_BODIES; b++)
		for (o = 0; o < MET_OUTCOMES; o++) {
			unsigned long long v = MET_GET(&met->req[b][o]);

			if (v == 0)
				continue;
			fprintf(f, "cmpca_requests_total{body=\"%s\","
				   "outcome=\"%s\"} %llu\n",
			    b == MET_BODY_NONE ? "none"
					       : cmp_body_name((int)b),
			    outcomes[o], v);
		}
	fputs("# HELP cmpca_request_duration_seconds Time to answer a CMP "
	      "request in cmpcad.\n"
	      "# TYPE cmpca_request_duration_seconds histogram\n", f);
	hist_print(f, "cmpca_request_duration_seconds", &met->latency,
	    lat_le, LAT_N);
	fputs("# HELP cmpca_hsm_operation_seconds Time of signing "
	      "operations in the HSM.\n"
	      "# TYPE cmpca_hsm_operation_seconds histogram\n", f);
	hist_print(f, "cmpca_hsm_operation_seconds", &met->hsm, hsm_le,
	    HSM_N);
	fprintf(f, "# HELP cmpca_db_errors_total Failed database "
		   "statements (refusals such as replays excluded).\n"
		   "# TYPE cmpca_db_errors_total counter\n"
		   "cmpca_db_errors_total %llu\n",
	    MET_GET(&met->db_errors));
	fprintf(f, "# HELP cmpca_http_rejected_total Requests refused "
		   "before the CMP engine (HTTP 4xx).\n"
		   "# TYPE cmpca_http_rejected_total counter\n"
		   "cmpca_http_rejected_total %llu\n",
	    MET_GET(&met->http_rejected));
	fputs("# HELP cmpca_worker_restarts_total Processes respawned by "
	      "the master (slot 0 is the housekeeper).\n"
	      "# TYPE cmpca_worker_restarts_total counter\n", f);
	for (i = 0; i <= workers && i <= CA_MAX_WORKERS; i++)
		fprintf(f, "cmpca_worker_restarts_total{slot=\"%d\"} %llu\n",
		    i, MET_GET(&met->restarts[i]));
	fputs("# HELP cmpca_worker_watchdog_total Workers killed by the "
	      "master for taking longer than worker_timeout over one "
	      "request.\n"
	      "# TYPE cmpca_worker_watchdog_total counter\n", f);
	for (i = 1; i <= workers && i <= CA_MAX_WORKERS; i++)
		fprintf(f, "cmpca_worker_watchdog_total{slot=\"%d\"} %llu\n",
		    i, MET_GET(&met->watchdog[i]));
	fprintf(f, "# HELP cmpca_mac_budget_refused_total MAC-protected "
		   "requests answered systemUnavail while their worker's "
		   "mac_fail_budget was spent.\n"
		   "# TYPE cmpca_mac_budget_refused_total counter\n"
		   "cmpca_mac_budget_refused_total %llu\n"
		   "# HELP cmpca_client_gone_total Requests not served because "
		   "the client had gone before a worker took them.\n"
		   "# TYPE cmpca_client_gone_total counter\n"
		   "cmpca_client_gone_total %llu\n",
	    MET_GET(&met->mac_refused), MET_GET(&met->client_gone));
	fprintf(f, "# HELP cmpca_ocsp_total OCSP answers by how they were "
		   "made: signed in the HSM for the request, reused from the "
		   "worker's memory, stored (an answer produced ahead of time, "
		   "read from the database), busy (tryLater: ocsp_sign_max "
		   "signatures under way); request nonces ignored (ocsp_nonce "
		   "= no); and answers produced ahead of time by the "
		   "housekeeper (an HSM signature each).\n"
		   "# TYPE cmpca_ocsp_total counter\n"
		   "cmpca_ocsp_total{event=\"signed\"} %llu\n"
		   "cmpca_ocsp_total{event=\"reused\"} %llu\n"
		   "cmpca_ocsp_total{event=\"busy\"} %llu\n"
		   "cmpca_ocsp_total{event=\"nonce_ignored\"} %llu\n"
		   "cmpca_ocsp_total{event=\"stored\"} %llu\n"
		   "cmpca_ocsp_total{event=\"produced\"} %llu\n",
	    MET_GET(&met->ocsp[METRICS_OCSP_SIGNED]),
	    MET_GET(&met->ocsp[METRICS_OCSP_REUSED]),
	    MET_GET(&met->ocsp[METRICS_OCSP_BUSY]),
	    MET_GET(&met->ocsp[METRICS_OCSP_NONCE_IGNORED]),
	    MET_GET(&met->ocsp[METRICS_OCSP_STORED]),
	    MET_GET(&met->ocsp[METRICS_OCSP_PRODUCED]));
	/* Gauges from the database, one statement per scrape. */
	have_db = db != NULL && db_stats_get(db, &st) == 1;
	fprintf(f, "# HELP cmpca_db_up 1 if the database answered this "
		   "scrape.\n# TYPE cmpca_db_up gauge\ncmpca_db_up %d\n",
	    have_db);
	if (have_db)
		fprintf(f, "# HELP cmpca_pending_approvals Requests waiting "
			   "for an operator's decision.\n"
			   "# TYPE cmpca_pending_approvals gauge\n"
			   "cmpca_pending_approvals %lld\n"
			   "# HELP cmpca_transactions_open CMP transactions "
			   "not finished, by state.\n"
			   "# TYPE cmpca_transactions_open gauge\n"
			   "cmpca_transactions_open{state=\"waiting\"} %lld\n"
			   "cmpca_transactions_open{state=\"wait_conf\"} "
			   "%lld\n",
		    st.pending_approvals, st.txn_waiting, st.txn_wait_conf);
	if (fclose(f) != 0) {
		free(buf);
		*len = 0;
		return NULL;
	}
	return buf;
}
