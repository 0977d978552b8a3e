/*
 * cli_status.c - `cmpca status`: is this CA healthy, and if not, what
 * needs the operator? One line per check, a readable table:
 *
 *   CHECK              STATE  DETAIL
 *   database           ok     reachable
 *   ...
 *
 * and an exit status for monitoring (cron, systemd timers, Nagios-style
 * checks):
 *   0  every check ok
 *   1  attention soon: a CA certificate or a CRL runs out within the
 *      warning window, an OCSP signer within 7 days, a CA has no CRL,
 *      more pending approvals than allowed
 *   2  usage error
 *   3  broken now: database unreachable, migrations not applied, HSM login
 *      failed, a CA certificate expired or unreadable, a CRL past its
 *      nextUpdate, the newest OCSP signer expired (the responder answers
 *      tryLater), an audit safeguard gone (a trigger disabled, a definer
 *      function unpinned, a privilege cmpca_grants() did not give), no
 *      audit key, the last audit checkpoint older than
 *      audit_checkpoint_max_age;
 *      an active CA (a new key after `ca rollover` too) with
 *      no OCSP signer, or whose newest signer expired or has a key the
 *      HSM cannot use (the responder answers unauthorized, tryLater or
 *      internalError); the detail names the command to run
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "ca/status/status.h"

enum st_level { ST_OK, ST_WARN, ST_FAIL };

#define ST_EXIT_WARN 1
/* An OCSP signer (30 days by default) this close to its end needs a
 * successor. */
#define ST_SIGNER_WARN_DAYS 7
#define ST_EXIT_FAIL 3

static const char status_usage[] =
    "usage: cmpca status [--warn-days N] [--crl-warn-hours N] "
    "[--max-pending N]\n"
    "  --warn-days N       CA certificates expiring within N days need "
    "attention (30)\n"
    "  --crl-warn-hours N  CRLs whose nextUpdate is within N hours need "
    "attention (2)\n"
    "  --max-pending N     more than N requests waiting for approval need "
    "attention (none)\n";

struct st_opts {
	long warn_days;
	long crl_warn_hours;
	long max_pending; /* -1: no limit */
};

/* Prints one row and remembers the worst level. */
static void
row(enum st_level *worst, enum st_level lvl, const char *check,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
row(enum st_level *worst, enum st_level lvl, const char *check,
    const char *fmt, ...)
{
	static const char *const names[] = { "ok", "WARN", "FAIL" };
	va_list ap;

	printf("%-24s %-5s ", check, names[lvl]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (lvl > *worst)
		*worst = lvl;
}

static void
fmt_time(time_t t, char *out, size_t len)
{
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

/* notAfter of a DER certificate: 1, or 0 if it does not decode. */
static int
not_after(const unsigned char *der, size_t len, time_t *out)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	struct tm tm;
	int ok = x != NULL &&
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1;

	X509_free(x);
	if (ok)
		*out = timegm(&tm);
	return ok;
}

/* The CA certificate's notAfter against now and the warning window. */
static void
check_ca_cert(const struct db_ca *ca, const struct st_opts *o, time_t now,
    enum st_level *worst)
{
	char check[DB_LABEL_MAX + 16], until[32];
	time_t na;
	long days;

	snprintf(check, sizeof(check), "ca %s cert", ca->label);
	if (!not_after(ca->cert, ca->cert_len, &na)) {
		row(worst, ST_FAIL, check, "certificate unreadable");
		return;
	}
	fmt_time(na, until, sizeof(until));
	days = (long)((na - now) / 86400);
	if (na <= now)
		row(worst, ST_FAIL, check, "expired %s", until);
	else if (na - now < o->warn_days * 86400L)
		row(worst, ST_WARN, check, "expires %s (%ld days, under %ld)",
		    until, days, o->warn_days);
	else
		row(worst, ST_OK, check, "valid until %s (%ld days)", until,
		    days);
}

/* The newest CRL's nextUpdate against now and the warning window. */
static void
check_crl(struct ctx *c, const struct db_ca *ca, const struct st_opts *o,
    time_t now, enum st_level *worst)
{
	struct db_crl crl;
	char check[DB_LABEL_MAX + 16], next[32];
	time_t since;
	int rc;

	snprintf(check, sizeof(check), "ca %s crl", ca->label);
	memset(&crl, 0, sizeof(crl));
	rc = db_crl_latest(c->db, ca->id, &crl);
	if (rc < 0) {
		row(worst, ST_FAIL, check, "%s", db_error(c->db));
		return;
	}
	if (rc == 0) {
		row(worst, ST_WARN, check, "no CRL issued (cmpca crl issue)");
		return;
	}
	fmt_time(crl.next_update, next, sizeof(next));
	if (db_crl_due_since(c->db, ca->id, &since) == 1 &&
	    now - since > c->cfg->crl_delay + CA_CRL_DUE_LATE) {
		fmt_time(since, next, sizeof(next));
		row(worst, ST_WARN, check, "a revocation of %s is in no CRL "
		    "yet: is cmpcad's housekeeper running with crl_auto? "
		    "(cmpca crl issue --ca %s)", next, ca->label);
	} else if (crl.next_update <= now)
		row(worst, ST_FAIL, check, "CRL %lld stale: nextUpdate %s "
		    "passed", crl.number, next);
	else if (crl.next_update - now < o->crl_warn_hours * 3600L)
		row(worst, ST_WARN, check, "CRL %lld nextUpdate %s, under %ld "
		    "hours", crl.number, next, o->crl_warn_hours);
	else
		row(worst, ST_OK, check, "CRL %lld, nextUpdate %s",
		    crl.number, next);
	db_crl_clear(&crl);
}

/*
 * The newest OCSP signer (ocsp_signer_check): missing, expired or with a
 * key the HSM cannot use is a failure (issue 32: no silent half-set-up
 * CA; after `ca rollover` the new key needs one); within
 * ST_SIGNER_WARN_DAYS of its end it needs attention.
 */
static void
check_ocsp_signer(struct ctx *c, const struct db_ca *ca, time_t now,
    enum st_level *worst)
{
	char check[DB_LABEL_MAX + 16], detail[512], until[32];
	time_t na;
	int rc;

	snprintf(check, sizeof(check), "ca %s ocsp signer", ca->label);
	rc = ocsp_signer_check(c->db, c->hsm, ca, now, detail, sizeof(detail),
	    &na);
	if (rc != 1) {
		row(worst, ST_FAIL, check, "%s", detail);
		return;
	}
	fmt_time(na, until, sizeof(until));
	if (na - now < ST_SIGNER_WARN_DAYS * 86400L)
		row(worst, ST_WARN, check, "%s expires %s, under %d days "
		    "(cmpca ocsp signer --ca %s)", detail, until,
		    ST_SIGNER_WARN_DAYS, ca->label);
	else
		row(worst, ST_OK, check, "%s valid until %s", detail, until);
}

/*
 * The audit key: without one, the housekeeper links the audit chain but
 * signs no checkpoint, and nothing outside the database vouches for it
 * (issue 32). A failure, naming the command that fixes it.
 */
static void
check_audit_key(struct ctx *c, enum st_level *worst)
{
	struct db_audit_ckpt k;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = db_audit_key_latest(c->db, &k);
	if (rc < 0)
		row(worst, ST_FAIL, "audit key", "%s", db_error(c->db));
	else if (rc == 0)
		row(worst, ST_FAIL, "audit key", "none: the audit chain is "
		    "linked, never signed (cmpca audit key)");
	else
		row(worst, ST_OK, "audit key", "%s", k.key_uri);
	db_audit_ckpt_clear(&k);
}

/* The first problem db_schema_check reports, and how many. */
struct st_audit {
	int n;
	char first[DB_PROBLEM_MAX];
};

static void
st_audit_report(void *arg, const char *msg)
{
	struct st_audit *a = arg;

	if (a->n++ == 0)
		snprintf(a->first, sizeof(a->first), "%s", msg);
}

/*
 * The audit trail: the database's safeguards (triggers, pinned definer
 * functions, grants as cmpca_grants() gave them, no TEMP), an audit key,
 * and the last checkpoint's age (audit_checkpoint_max_age).
 */
static void
check_audit(struct ctx *c, time_t now, enum st_level *worst)
{
	struct st_audit a;
	struct db_audit_ckpt k;
	long long seq = 0;
	time_t at = 0;
	long max_age = c->cfg->audit_ckpt_max_age;
	int n, r;

	memset(&a, 0, sizeof(a));
	if ((n = db_schema_check(c->db, st_audit_report, &a)) < 0)
		row(worst, ST_FAIL, "audit safeguards", "%s", db_error(c->db));
	else if (n > 0)
		row(worst, ST_FAIL, "audit safeguards", "%s (%d problem(s), "
		    "cmpca audit verify lists them)", a.first, n);
	else
		row(worst, ST_OK, "audit safeguards", "triggers enabled, "
		    "definer functions pinned, grants as given");
	memset(&k, 0, sizeof(k));
	r = db_audit_key_latest(c->db, &k);
	db_audit_ckpt_clear(&k);
	if (r < 0 || db_audit_ckpt_last(c->db, &seq, &at) != 1)
		row(worst, ST_FAIL, "audit checkpoint", "%s", db_error(c->db));
	else if (r == 0)
		row(worst, ST_FAIL, "audit checkpoint", "no audit key: the "
		    "audit chain is not signed (run cmpca audit key)");
	else if (seq == 0)
		row(worst, ST_WARN, "audit checkpoint", "none signed yet "
		    "(cmpcad signs within housekeeping_interval, or run "
		    "cmpca audit checkpoint)");
	else if (max_age > 0 && now - at > max_age)
		row(worst, ST_FAIL, "audit checkpoint", "the last one (seq "
		    "%lld) is %lld s old, more than audit_checkpoint_max_age "
		    "(is cmpcad running, with its HSM?)", seq,
		    (long long)(now - at));
	else
		row(worst, ST_OK, "audit checkpoint", "seq %lld, %lld s ago",
		    seq, (long long)(now - at));
}

static int
opt_num(const char *s, long max, long *out)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || n < 0 || n > max)
		return 0;
	*out = n;
	return 1;
}

int
cli_status(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "warn-days", required_argument, NULL, 'w' },
		{ "crl-warn-hours", required_argument, NULL, 'h' },
		{ "max-pending", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct st_opts o = { 30, 2, -1 };
	enum st_level worst = ST_OK;
	struct db_ca *cas = NULL;
	struct db_stats stats;
	size_t n = 0, i;
	time_t now = time(NULL);
	int opt, have, shipped = 0, pending = 0, version = 0, ok;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			ok = opt_num(optarg, 36500, &o.warn_days);
			break;
		case 'h':
			ok = opt_num(optarg, 24 * 366, &o.crl_warn_hours);
			break;
		case 'p':
			ok = opt_num(optarg, 1000000000, &o.max_pending);
			break;
		default:
			ok = 0;
			break;
		}
		if (!ok) {
			fputs(status_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(status_usage, stderr);
		return 2;
	}
	printf("%-24s %-5s %s\n", "CHECK", "STATE", "DETAIL");
	/* The HSM first: it needs no database. */
	if (cli_need_hsm(c)) {
		const struct hsm_caps *caps = hsm_caps_get(c->hsm);
		char buf[1024];
		int k, g;

		row(&worst, ST_OK, "hsm", "logged in to token %s",
		    c->cfg->token_label);
		row(&worst, ST_OK, "hsm token", "%s",
		    hsm_caps_describe(caps, buf, sizeof(buf)));
		/* What the token lacks: a warning when a feature is refused
		 * (sealing), else for information (cmpcad -t says the same). */
		for (k = 0; (g = hsm_caps_gap(caps, k, buf, sizeof(buf))) != 0;
		     k++)
			row(&worst, g == HSM_GAP_REFUSED ? ST_WARN : ST_OK,
			    "hsm token gap", "%s", buf);
	} else
		row(&worst, ST_FAIL, "hsm", "login failed: %s", hsm_error());
	if (!cli_need_db(c)) {
		row(&worst, ST_FAIL, "database", "unreachable");
		goto done;
	}
	{
		char host[256], port[16];
		int primary = 0;

		/* With a multi-host conninfo (several hosts, a standby):
		 * which server answered, and is it the primary. */
		if (db_server_get(c->db, host, sizeof(host), port,
			sizeof(port), &primary) != 1)
			row(&worst, ST_FAIL, "database", "%s", db_error(c->db));
		else
			row(&worst, primary ? ST_OK : ST_FAIL, "database",
			    "reachable: %s:%s, %s", host, port,
			    primary ? "primary" : "standby (read-only: "
			    "target_session_attrs=read-write in the conninfo)");
	}
	have = db_schema_version(c->db, &version) == 1;
	if (!have || db_schema_shipped(c->db, c->cfg->schema_dir, &shipped) !=
	    1 || db_schema_pending(c->db, c->cfg->schema_dir, &pending) != 1)
		row(&worst, ST_FAIL, "migrations", "%s", db_error(c->db));
	else if (pending > 0)
		row(&worst, ST_FAIL, "migrations", "schema version %d, %d "
		    "shipped migration(s) not applied (run cmpca db migrate)",
		    version, pending);
	else
		row(&worst, ST_OK, "migrations", "schema version %d of %d",
		    version, shipped);
	if (db_ca_list(c->db, &cas, &n) != 1) {
		row(&worst, ST_FAIL, "cas", "%s", db_error(c->db));
		goto done;
	}
	if (n == 0)
		row(&worst, ST_WARN, "cas", "no CA (cmpca ca create)");
	for (i = 0; i < n; i++) {
		if (strcmp(cas[i].status, "active") != 0)
			continue; /* retired CAs issue nothing */
		check_ca_cert(&cas[i], &o, now, &worst);
		check_crl(c, &cas[i], &o, now, &worst);
		check_ocsp_signer(c, &cas[i], now, &worst);
	}
	check_audit_key(c, &worst);
	if (db_stats_get(c->db, &stats) != 1)
		row(&worst, ST_FAIL, "pending approvals", "%s",
		    db_error(c->db));
	else if (o.max_pending >= 0 && stats.pending_approvals > o.max_pending)
		row(&worst, ST_WARN, "pending approvals", "%lld waiting, more "
		    "than %ld (cmpca request list)", stats.pending_approvals,
		    o.max_pending);
	else
		row(&worst, ST_OK, "pending approvals", "%lld waiting",
		    stats.pending_approvals);
	check_audit(c, now, &worst);
done:
	db_ca_array_free(cas, n);
	printf("status: %s\n", worst == ST_OK ? "ok"
	    : worst == ST_WARN ? "needs attention" : "failing");
	return worst == ST_OK ? 0 : worst == ST_WARN ? ST_EXIT_WARN
						     : ST_EXIT_FAIL;
}
