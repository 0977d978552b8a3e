/*
 * admin_health.c - the health of the CA on the operators' page (issue
 * 23): what `cmpca status` checks, as this worker sees it, and the
 * certificates that expire soon.
 *
 *   hsm                this worker's HSM session (logged in, or lost)
 *   ca L cert          the CA certificate's notAfter
 *   ca L crl           the newest CRL's nextUpdate, and a revocation not
 *                      in a CRL yet (crl_due) CA_CRL_DUE_LATE seconds
 *                      after crl_delay
 *   ca L ocsp signer   ocsp_signer_check without the HSM (the page reads
 *                      the database only): none or expired fails
 *   audit chain        the newest signed checkpoint and its age
 *
 * Levels as `cmpca status` prints them: ok, WARN (attention soon), FAIL
 * (broken now). Every value goes through admin_html().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "daemon/admin.h"
#include "ca/status/status.h"

enum h_level { H_OK, H_WARN, H_FAIL };

/* A CA certificate within this many days of its end needs attention. */
#define HEALTH_CA_WARN_DAYS 30
/* A CRL this close to its nextUpdate needs attention (hours). */
#define HEALTH_CRL_WARN_HOURS 2
/* An OCSP signer this close to its end needs attention (days). */
#define HEALTH_SIGNER_WARN_DAYS 7
/* A signed audit checkpoint older than this needs attention (hours). */
#define HEALTH_CKPT_WARN_HOURS 24
/* Certificates listed as expiring within this many days. */
#define HEALTH_EXPIRING_DAYS 30

static void
puts_(struct admin_buf *b, const char *s)
{
	admin_buf_add(b, s, strlen(s));
}

static void
time_str(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(out, len, "-");
	else
		strftime(out, len, "%Y-%m-%d %H:%M", &tm);
}

/* One row: check, level, detail (printf). */
static void row(struct admin_buf *b, enum h_level *worst, enum h_level lvl,
    const char *check, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
row(struct admin_buf *b, enum h_level *worst, enum h_level lvl,
    const char *check, const char *fmt, ...)
{
	static const char *const names[] = { "ok", "WARN", "FAIL" };
	static const char *const cls[] = { "h-ok", "h-warn", "h-fail" };
	char detail[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	puts_(b, "<tr><td>");
	admin_html(b, check);
	puts_(b, "</td><td class=\"");
	puts_(b, cls[lvl]);
	puts_(b, "\">");
	puts_(b, names[lvl]);
	puts_(b, "</td><td>");
	admin_html(b, detail);
	puts_(b, "</td></tr>");
	if (lvl > *worst)
		*worst = lvl;
}

/* The CA certificate's notAfter. */
static void
ca_cert(struct admin_buf *b, enum h_level *w, const struct db_ca *ca,
    time_t now)
{
	const unsigned char *p = ca->cert;
	X509 *x = d2i_X509(NULL, &p, (long)ca->cert_len);
	char check[DB_LABEL_MAX + 16], t[32];
	time_t na = x != NULL ? ca_time_of(X509_get0_notAfter(x)) : 0;

	X509_free(x);
	snprintf(check, sizeof(check), "ca %s cert", ca->label);
	time_str(na, t, sizeof(t));
	if (na == 0)
		row(b, w, H_FAIL, check, "certificate unreadable");
	else if (na <= now)
		row(b, w, H_FAIL, check, "expired %s", t);
	else if (na - now < HEALTH_CA_WARN_DAYS * 86400L)
		row(b, w, H_WARN, check, "expires %s", t);
	else
		row(b, w, H_OK, check, "valid until %s", t);
}

/* The newest CRL. Returns 1, or -1 on a database error. */
static int
ca_crl(struct admin_buf *b, enum h_level *w, struct db *db,
    const struct db_ca *ca, time_t now, long crl_delay)
{
	struct db_crl crl;
	char check[DB_LABEL_MAX + 16], t[32];
	time_t since;
	int rc;

	snprintf(check, sizeof(check), "ca %s crl", ca->label);
	memset(&crl, 0, sizeof(crl));
	if ((rc = db_crl_latest(db, ca->id, &crl)) < 0)
		return -1;
	if (rc == 0) {
		row(b, w, H_WARN, check, "no CRL issued (cmpca crl issue)");
		return 1;
	}
	time_str(crl.next_update, t, sizeof(t));
	if ((rc = db_crl_due_since(db, ca->id, &since)) < 0) {
		db_crl_clear(&crl);
		return -1;
	}
	if (rc == 1 && now - since > crl_delay + CA_CRL_DUE_LATE) {
		time_str(since, t, sizeof(t));
		row(b, w, H_WARN, check, "a revocation of %s is in no CRL yet: "
		    "is the housekeeper running with crl_auto? (cmpca crl "
		    "issue --ca %s)", t, ca->label);
	} else if (crl.next_update <= now)
		row(b, w, H_FAIL, check, "CRL %lld stale: nextUpdate %s passed",
		    crl.number, t);
	else if (crl.next_update - now < HEALTH_CRL_WARN_HOURS * 3600L)
		row(b, w, H_WARN, check, "CRL %lld, nextUpdate %s",
		    crl.number, t);
	else
		row(b, w, H_OK, check, "CRL %lld, nextUpdate %s", crl.number,
		    t);
	db_crl_clear(&crl);
	return 1;
}

/* The newest OCSP signer (database only). Returns 1 or -1. */
static int
ca_signer(struct admin_buf *b, enum h_level *w, struct db *db,
    const struct db_ca *ca, time_t now)
{
	char check[DB_LABEL_MAX + 16], detail[512], t[32];
	time_t until;
	int rc;

	snprintf(check, sizeof(check), "ca %s ocsp signer", ca->label);
	rc = ocsp_signer_check(db, NULL, ca, now, detail, sizeof(detail),
	    &until);
	if (rc < 0)
		return -1;
	time_str(until, t, sizeof(t));
	if (rc == 0)
		row(b, w, H_FAIL, check, "%s", detail);
	else if (until - now < HEALTH_SIGNER_WARN_DAYS * 86400L)
		row(b, w, H_WARN, check, "%s expires %s (cmpca ocsp signer "
		    "--ca %s)", detail, t, ca->label);
	else
		row(b, w, H_OK, check, "%s valid until %s", detail, t);
	return 1;
}

/* See admin.h. */
int
admin_health(struct admin_buf *b, struct db *db, const struct db_ca *cas,
    size_t n, const struct admin_req *rq, time_t now)
{
	enum h_level worst = H_OK;
	long long seq;
	time_t at;
	char t[32];
	size_t i;
	int rc;

	puts_(b, "<section id=\"health\"><h2>Health</h2><table><tr><th>"
		 "Check</th><th>State</th><th>Detail</th></tr>");
	if (rq->hsm == 1)
		row(b, &worst, H_OK, "hsm", "this worker is logged in");
	else
		row(b, &worst, H_FAIL, "hsm", "this worker has no HSM "
		    "session (lost: reconnecting at the next request)");
	for (i = 0; i < n; i++) {
		if (strcmp(cas[i].status, "active") != 0)
			continue; /* retired CAs issue nothing */
		ca_cert(b, &worst, &cas[i], now);
		if (ca_crl(b, &worst, db, &cas[i], now, rq->crl_delay) < 0 ||
		    ca_signer(b, &worst, db, &cas[i], now) < 0)
			return -1;
	}
	if ((rc = db_admin_ckpt_last(db, &seq, &at)) < 0)
		return -1;
	time_str(at, t, sizeof(t));
	if (rc == 0)
		row(b, &worst, H_WARN, "audit chain", "no signed checkpoint "
		    "yet (cmpca audit key)");
	else if (now - at > HEALTH_CKPT_WARN_HOURS * 3600L)
		row(b, &worst, H_WARN, "audit chain", "last checkpoint %s "
		    "(seq %lld), more than %d hours ago", t, seq,
		    HEALTH_CKPT_WARN_HOURS);
	else
		row(b, &worst, H_OK, "audit chain", "last checkpoint %s "
		    "(seq %lld)", t, seq);
	puts_(b, "</table><p>Status: ");
	puts_(b, worst == H_OK ? "ok" : worst == H_WARN ? "needs attention"
						       : "failing");
	puts_(b, " (the same checks as <code>cmpca status</code>, without "
		 "loading the signer keys).</p></section>");
	return 1;
}

/* See admin.h. */
int
admin_expiring(struct admin_buf *b, struct db *db)
{
	struct db_admin_filter f = {0};
	struct db_admin_cert *c = NULL;
	char t[32];
	size_t n = 0, i;

	f.limit = ADMIN_LIST_ROWS;
	f.expiring_days = HEALTH_EXPIRING_DAYS;
	if (db_admin_cert_list(db, &f, &c, &n) != 1)
		return -1;
	puts_(b, "<section id=\"expiring\"><h2>Expiring within 30 days</h2>");
	if (n == 0)
		puts_(b, "<p class=\"empty\">No valid certificate expires "
			 "within 30 days.</p>");
	else
		puts_(b, "<table><tr><th>Serial</th><th>Subject</th><th>CA"
			 "</th><th>Profile</th><th>Not after (UTC)</th></tr>");
	for (i = 0; i < n; i++) {
		puts_(b, "<tr><td class=\"serial\">");
		admin_html(b, c[i].serial);
		puts_(b, "</td><td>");
		admin_html(b, c[i].subject);
		puts_(b, "</td><td>");
		admin_html(b, c[i].ca_label);
		puts_(b, "</td><td>");
		admin_html(b, c[i].profile != NULL ? c[i].profile : "-");
		puts_(b, "</td><td>");
		time_str(c[i].not_after, t, sizeof(t));
		admin_html(b, t);
		puts_(b, "</td></tr>");
	}
	if (n > 0)
		puts_(b, "</table>");
	puts_(b, "</section>");
	db_admin_cert_array_free(c, n);
	return 1;
}
