/*
 * cmpcad - the cmpca FastCGI daemon.
 *
 * A small pre-fork master opens the FastCGI socket, forks N workers and
 * respawns any that die (with a back-off per slot when they die at start,
 * without ever sleeping), kills a worker stuck in one request longer than
 * worker_timeout (the watchdog); SIGTERM or SIGINT drains and stops. Each worker, after the fork, opens the HSM
 * (module load and login) and its own database connection: PKCS#11
 * sessions and libpq connections never cross a fork.
 *
 * usage: cmpcad [-c FILE] [-p PIDFILE] [-t] [-s]
 *   -c FILE  configuration (default $CMPCA_CONF, else /etc/cmpca/cmpca.conf)
 *   -t       check the configuration, the database and the HSM, then exit
 *   -s       log to syslog instead of stderr (or syslog = yes)
 *
 * With coap_listen or coaps_listen set, one more child serves CMP over
 * CoAP on UDP or DTLS (coap_srv.c): a worker whose transport is CoAP
 * instead of FastCGI, forked and opening its HSM and database after the
 * fork like the others; one process, because block-wise transfers live
 * in its memory.
 *
 * The request counters of /metrics live in a shared anonymous mapping the
 * master creates before the first fork (metrics.c), so every worker adds
 * to, and renders, the same numbers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "daemon/coap_srv.h"
#include "daemon/fcgi.h"
#include "daemon/priv.h"
#include "daemon/worker.h"
#include "ca/cmp/cmp.h"
#include "ca/client/client.h"
#include "ca/issue/issue.h"
#include "ca/status/status.h"
#include "lib/lib.h"

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	fcgi_shutdown();
}

static void
signals_set(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked accept or wait must return. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Removes our unix socket at exit; a TCP "HOST:PORT" names no file. */
static void
socket_remove(const char *path)
{
	if (!fcgi_is_tcp(path))
		unlink(path);
}

static enum log_level
level_of(const char *s)
{
	if (strcmp(s, "error") == 0)
		return LOG_LVL_ERR;
	if (strcmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	if (strcmp(s, "debug") == 0)
		return LOG_LVL_DEBUG;
	return LOG_LVL_INFO;
}

/*
 * -t: the token's capabilities (hsm_caps.c) and every gap between what
 * cmpca uses and what the token has, with its fallback or refusal; a
 * refusal is a warning (the CAs' keys are checked one by one below).
 * Returns 1.
 */
static int
hsm_gaps_report(struct hsm *hsm)
{
	const struct hsm_caps *c = hsm_caps_get(hsm);
	char buf[1024];
	int i, g;

	log_info("hsm: token %s", hsm_caps_describe(c, buf, sizeof(buf)));
	for (i = 0; (g = hsm_caps_gap(c, i, buf, sizeof(buf))) != 0; i++) {
		if (g != HSM_GAP_REFUSED)
			log_info("hsm: %s", buf);
		else
			log_warn("hsm: %s", buf);
	}
	return 1;
}

/* Opens the HSM and the database of this process. Returns 1 or 0. */
static int
open_backends(const struct cfg *cfg, struct hsm **hsm, struct db **db)
{
	int ok;

	*hsm = hsm_open_args(cfg->pkcs11_module, cfg->token_label,
	    cfg->pin_file, cfg->pkcs11_init_args);
	if (*hsm == NULL) {
		log_err("hsm: %s", hsm_error());
		return 0;
	}
	*db = db_open(cfg->db_conninfo);
	ok = *db != NULL && db_ensure(*db) == 1;
	if (!ok)
		log_err("database: %s", *db != NULL ? db_error(*db) : "no memory");
	/* Least privilege: never as a superuser or the tables' owner. */
	if (!ok || ca_role_check(*db, "cmpcad") != 1) {
		db_close(*db);
		*db = NULL;
		hsm_close(*hsm);
		*hsm = NULL;
		return 0;
	}
	return 1;
}

static int
worker_main(const struct cfg *cfg, int fd, int slot)
{
	struct rlimit rl = { 0, 0 };
	struct hsm *hsm = NULL;
	struct db *db = NULL;
	struct worker *w = NULL;
	int rc = 2;

	umask(077);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &rl);
	if (!open_backends(cfg, &hsm, &db))
		goto out;
	if ((w = worker_new(cfg, db, hsm)) == NULL)
		goto out;
	w->slot = slot;
	if (slot > cfg->workers) {
		/* The CoAP worker (fd is -1). */
		rc = coap_srv_serve(w, &stopping) == 0 ? 0 : 1;
		goto out;
	}
	log_info("worker ready");
	rc = fcgi_serve(fd, w, &stopping) == 0 ? 0 : 1;
out:
	worker_free(w);
	db_close(db);
	hsm_close(hsm);
	return rc;
}

/*
 * The housekeeper: a child of the master with a database connection only.
 * Every housekeeping_interval seconds it aborts transactions whose
 * certificates were never confirmed (rejecting those certificates) and
 * prunes old replay nonces. Each sweep is one idempotent statement, so
 * several hosts may run it at once. Between sweeps, every
 * CA_CRL_DUE_TICK seconds, it issues the CRLs that status changes made
 * due (crl_due_run), publishes new CRLs, and signs the OCSP answers that
 * are stale, near their nextUpdate or missing (ocsp_produce).
 */
/*
 * Rows whose CRL the housekeeper keeps current: active CAs, and the old
 * keys of identities (LABEL.oldN after `ca rollover`): certificates they
 * signed stay valid until they expire, at the latest with the old CA
 * certificate, and need a CRL signed by that key until then.
 */
static int
crl_kept(const struct db_ca *row)
{
	return strcmp(row->status, "active") == 0 ||
	    (strcmp(row->status, "retired") == 0 && row->key_of != 0);
}

/*
 * Is the CA's next complete CRL (delta 0) or delta CRL (1) due in the
 * sweep? A complete CRL when none exists or half its validity is gone; a
 * delta (delta_crl_interval) when none exists on the newest complete CRL
 * or half of its own validity is gone. 1 due, 0 not, -1 database error.
 */
static int
crl_refresh_due(const struct cfg *cfg, struct db *db, long long ca_id,
    int delta)
{
	struct db_crl latest;
	long long base = 0;
	long half = delta ? cfg->delta_crl_interval / 2
			  : cfg->crl_validity * 3600L / 2;
	int rc;

	if (delta && cfg->delta_crl_interval == 0)
		return 0;
	memset(&latest, 0, sizeof(latest));
	if (delta && (rc = db_crl_latest_number(db, ca_id, &base)) != 1)
		return rc; /* no base: the next sweep's complete CRL first */
	rc = delta ? db_crl_delta_latest(db, ca_id, &latest)
		   : db_crl_latest(db, ca_id, &latest);
	if (rc < 0)
		return -1;
	rc = rc == 0 || latest.delta_of < base ||
	    latest.next_update - time(NULL) <= half;
	db_crl_clear(&latest);
	return rc;
}

/*
 * Re-issues the CRL of each CA crl_kept() names when none exists or half
 * its validity has passed; an old key's only while its CA certificate has
 * not expired. The database lock in crl_issue() keeps hosts from issuing
 * the same CRL twice.
 */
static void
crl_refresh(const struct cfg *cfg, struct db *db, struct hsm *hsm,
    struct ca_store *st)
{
	struct db_ca *cas = NULL;
	struct crl_spec spec = { cfg->crl_validity, 0, cfg->delta_crl_url,
		cfg->crl_dir };
	size_t n = 0, i;

	if (db_ca_list(db, &cas, &n) < 0) {
		log_warn("crl refresh: %s", db_error(db));
		return;
	}
	for (i = 0; i < n; i++) {
		struct db_crl crl;
		struct ca_ident *ca;
		int err = 0, base, delta;

		memset(&crl, 0, sizeof(crl));
		if (!crl_kept(&cas[i]))
			continue;
		base = crl_refresh_due(cfg, db, cas[i].id, 0);
		delta = base == 0 ? crl_refresh_due(cfg, db, cas[i].id, 1) : 0;
		if (base <= 0 && delta <= 0)
			continue;
		ca = ca_store_get(st, db, hsm, cas[i].label, &err);
		if (ca == NULL)
			continue;
		if (ca->retired && X509_cmp_time(X509_get0_notAfter(ca->cert),
		    NULL) <= 0)
			continue; /* every certificate of the old key expired */
		spec.delta = 0;
		if (base > 0 && crl_issue(db, ca, &spec, &crl) != 0) {
			log_info("ca %s: CRL %lld issued, %d entries", ca->label,
			    crl.number, crl.entries);
			(void)audit_checkpoint(db, hsm, cfg, 1, "crl");
			/* Its delta (empty) at once: a delta on the previous
			 * base would not serve the new one. */
			delta = cfg->delta_crl_interval > 0;
		}
		db_crl_clear(&crl);
		spec.delta = cfg->delta_crl_interval;
		if (delta > 0 && crl_issue(db, ca, &spec, &crl) != 0)
			log_info("ca %s: delta CRL %lld on CRL %lld issued, %d "
				 "entries", ca->label, crl.number, crl.delta_of,
			    crl.entries);
		db_crl_clear(&crl);
	}
	db_ca_array_free(cas, n);
}

/* CAs whose CRL could not be issued after a status change, and when the
 * housekeeper tries again (CA_CRL_DUE_RETRY), so that a CA whose key is
 * gone costs one log line a minute, not one a second. */
#define CRL_DUE_WAIT_MAX 64
static struct {
	long long ca_id;
	time_t next;
} crl_due_wait[CRL_DUE_WAIT_MAX];

/* 1 if ca_id failed lately and waits; with failed, records a failure. */
static int
crl_due_waits(long long ca_id, int failed)
{
	time_t now = time(NULL);
	size_t i, slot = 0;

	for (i = 0; i < CRL_DUE_WAIT_MAX; i++) {
		if (crl_due_wait[i].ca_id == ca_id) {
			if (!failed)
				return crl_due_wait[i].next > now;
			slot = i;
			break;
		}
		if (crl_due_wait[i].next < crl_due_wait[slot].next)
			slot = i; /* the oldest entry, if ca_id has none */
	}
	if (failed) {
		crl_due_wait[slot].ca_id = ca_id;
		crl_due_wait[slot].next = now + CA_CRL_DUE_RETRY;
	}
	return 0;
}

/*
 * CRLs due (017_revocation.sql): each CA a revocation, a hold or its
 * release marked crl_delay seconds ago (at once for a compromise) gets its
 * next CRL now, published here at once; other hosts publish it at their
 * next tick. Looked at every CA_CRL_DUE_TICK seconds. A retired CA too
 * (`cert revoke --ca` of its certificates) while its certificate lasts.
 */
static void
crl_due_run(const struct cfg *cfg, struct db *db, struct hsm *hsm,
    struct ca_store *st)
{
	static time_t warned;
	struct crl_spec spec = { cfg->crl_validity, cfg->delta_crl_interval,
		cfg->delta_crl_url, cfg->crl_dir };
	long long *ids = NULL;
	size_t n = 0, i;

	if (db_crl_due_list(db, cfg->crl_delay, &ids, &n) != 1) {
		if (time(NULL) - warned >= CA_CRL_DUE_RETRY) {
			warned = time(NULL);
			log_warn("crl due: %s", db_error(db));
		}
		return;
	}
	for (i = 0; i < n; i++) {
		struct db_ca row;
		struct db_crl crl;
		struct ca_ident *ca;
		int err = 0, rc;

		memset(&row, 0, sizeof(row));
		memset(&crl, 0, sizeof(crl));
		if (crl_due_waits(ids[i], 0) || db_ca_get(db, ids[i], &row) != 1 ||
		    strcmp(row.status, "pending") == 0) {
			db_ca_clear(&row);
			continue;
		}
		if ((ca = ca_store_get(st, db, hsm, row.label, &err)) == NULL ||
		    X509_cmp_time(X509_get0_notAfter(ca->cert), NULL) <= 0) {
			log_warn("ca %s: a status change waits for a CRL that "
				 "cannot be issued (key or certificate "
				 "unusable); next try in %d s", row.label,
			    CA_CRL_DUE_RETRY);
			(void)crl_due_waits(ids[i], 1);
			db_ca_clear(&row);
			continue;
		}
		rc = crl_issue_due(db, ca, &spec, &crl);
		if (rc == 0) {
			/* Perhaps a key this process loaded before a `ca
			 * rollover` (crl_key_current): read the CAs again and
			 * try once more, rather than after CA_STORE_REFRESH. */
			ca_store_clear(st);
			if ((ca = ca_store_get(st, db, hsm, row.label, &err)) !=
			    NULL)
				rc = crl_issue_due(db, ca, &spec, &crl);
		}
		if (rc == 1 || rc == -1) {
			log_info("ca %s: %s %lld issued after a status change, "
				 "%d entries", ca->label,
			    crl.delta_of != 0 ? "delta CRL" : "CRL", crl.number,
			    crl.entries);
			(void)audit_checkpoint(db, hsm, cfg, 1, "crl");
			if (cfg->crl_dir != NULL)
				(void)crl_publish(db, &row, cfg->crl_dir, 0);
		} else if (rc == 0) {
			log_warn("ca %s: CRL after a status change failed; next "
				 "try in %d s", row.label, CA_CRL_DUE_RETRY);
			(void)crl_due_waits(ids[i], 1);
		}
		db_crl_clear(&crl);
		db_ca_clear(&row);
	}
	free(ids);
}

/*
 * Publishes each active CA's newest CRL into crl_dir, whoever issued it:
 * where another host (or the CLI on another machine) won the CRL lock,
 * this host's /crl/<name>.crl (ca_crl_name) follows the database instead of going
 * stale. Needs no HSM.
 */
static void
crl_publish_all(const struct cfg *cfg, struct db *db, int deep)
{
	struct db_ca *cas = NULL;
	size_t n = 0, i;

	if (cfg->crl_dir == NULL || db_ca_list(db, &cas, &n) < 0)
		return;
	for (i = 0; i < n; i++)
		if (crl_kept(&cas[i]))
			(void)crl_publish(db, &cas[i], cfg->crl_dir, deep);
	db_ca_array_free(cas, n);
}

/*
 * Rewrites each active CA's published PEM bundle (chain and cross
 * certificates), so that a cross certificate confirmed by a partner's
 * certConf in a worker is published within one sweep.
 */
static void
bundle_refresh(const struct cfg *cfg, struct db *db, struct hsm *hsm,
    struct ca_store *st)
{
	struct db_ca *cas = NULL;
	size_t n = 0, i;

	if (cfg->crl_dir == NULL || db_ca_list(db, &cas, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		struct ca_ident *ca;
		int err = 0;

		if (strcmp(cas[i].status, "active") != 0 ||
		    (ca = ca_store_get(st, db, hsm, cas[i].label, &err)) ==
			NULL)
			continue;
		(void)ca_publish_bundle(db, ca, cfg->crl_dir);
	}
	db_ca_array_free(cas, n);
}

/*
 * An instance without an audit key links its audit chain but never signs
 * it (issue 32): -t fails and the housekeeper says so at start, each with
 * the command to run. Returns 1 when a key exists, 0 (logged) otherwise.
 */
static int
audit_key_check(struct db *db)
{
	struct db_audit_ckpt k;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = db_audit_key_latest(db, &k);
	db_audit_ckpt_clear(&k);
	if (rc < 0)
		log_err("database: %s", db_error(db));
	else if (rc == 0)
		log_err("no audit key: the audit chain is linked but no "
			"checkpoint is signed (run cmpca audit key)");
	return rc == 1;
}

/*
 * OCSP answers produced ahead of time (ocsp_srv_produce): every tick, the
 * stale ones and those near their nextUpdate; with missing (every sweep),
 * the certificates without one, a scan of the inventory.
 */
static void
ocsp_produce(struct ocsp_srv *o, int missing)
{
	long long pruned = 0;
	int made;

	if (o == NULL)
		return;
	made = ocsp_srv_produce(o, missing, &pruned);
	if (made > 0)
		log_info("ocsp: %d answer(s) produced ahead of time", made);
	if (pruned > 0)
		log_info("ocsp: pruned %lld expired answer(s)", pruned);
}

static int
housekeeper_main(const struct cfg *cfg)
{
	struct db *db = db_open(cfg->db_conninfo);
	struct hsm *hsm = NULL;
	struct ca_store st = { NULL, 0 };
	struct ocsp_srv *ocsp = NULL;
	long long txns, certs, pruned;
	time_t last = 0; /* the last full sweep */

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (db == NULL)
		return 2;
	/* As the workers: refuses a superuser or owner (if the database is
	 * down now, the workers' check at their start refuses it). */
	if (db_ensure(db) == 1 && ca_role_check(db, "cmpcad") == 0) {
		db_close(db);
		return 2;
	}
	/* The HSM: CRLs (crl_auto) and the audit chain's checkpoints. */
	if ((hsm = hsm_open_args(cfg->pkcs11_module, cfg->token_label,
		 cfg->pin_file, cfg->pkcs11_init_args)) == NULL)
		log_warn("housekeeper: no HSM, CRLs are not re-issued and "
			 "audit checkpoints not signed: %s",
		    hsm_error());
	if (db_ensure(db) == 1)
		(void)audit_key_check(db);
	/* OCSP answers ahead of time: the workers' responder, signing for
	 * the store. */
	if (hsm != NULL && (ocsp = ocsp_srv_new(cfg, db, hsm)) == NULL)
		log_warn("housekeeper: out of memory, OCSP answers are not "
			 "produced ahead of time");
	log_info("housekeeper ready");
	while (!stopping) {
		/* Between sweeps: CRLs due after status changes, and their
		 * publication wherever they were issued. */
		if (time(NULL) - last < cfg->housekeeping_interval) {
			if (cfg->crl_auto && hsm != NULL && !hsm_lost(hsm))
				crl_due_run(cfg, db, hsm, &st);
			crl_publish_all(cfg, db, 0);
			if (hsm != NULL && !hsm_lost(hsm))
				ocsp_produce(ocsp, 0);
			sleep(CA_CRL_DUE_TICK);
			continue;
		}
		last = time(NULL);
		if (hsm != NULL && hsm_lost(hsm)) {
			/* As the workers do: drop the keys, reconnect. */
			ca_store_clear(&st);
			ocsp_srv_keys_drop(ocsp);
			if (hsm_reopen(hsm))
				log_info("housekeeper: hsm session reopened");
		}
		if (cfg->crl_auto && hsm != NULL && !hsm_lost(hsm)) {
			crl_due_run(cfg, db, hsm, &st);
			crl_refresh(cfg, db, hsm, &st);
			bundle_refresh(cfg, db, hsm, &st);
		}
		crl_publish_all(cfg, db, 1);
		if (hsm != NULL && !hsm_lost(hsm))
			ocsp_produce(ocsp, 1);
		/* RA mode: certConfs owed to upstream CAs. */
		if (hsm != NULL && !hsm_lost(hsm))
			client_upstream_resume(db, hsm);
		/* Never confirmed: rejected with cessationOfOperation. */
		if (db_txn_expire(db, CRL_REASON_CESSATION_OF_OPERATION, &txns,
			&certs) != 1)
			log_warn("expiry sweep failed: %s", db_error(db));
		else if (txns > 0)
			log_info("expired %lld transaction(s), rejected %lld "
				 "unconfirmed certificate(s)",
			    txns, certs);
		if (db_nonce_prune(db, cfg->nonce_max_age, &pruned) != 1)
			log_warn("nonce prune failed: %s", db_error(db));
		/* Finished transactions past txn_retention (the audit chain
		 * keeps the history). */
		if (db_txn_prune(db, cfg->txn_retention, &pruned) != 1)
			log_warn("transaction prune failed: %s", db_error(db));
		else if (pruned > 0)
			log_info("pruned %lld finished transaction(s)", pruned);
		/* The audit chain: link what is final, sign the head. */
		(void)audit_checkpoint(db, hsm != NULL && !hsm_lost(hsm) ? hsm
		    : NULL, cfg, 1, "interval");
	}
	ca_store_clear(&st);
	ocsp_srv_free(ocsp);
	db_close(db);
	hsm_close(hsm);
	return 0;
}

/*
 * At start, before any worker: refuses a superuser or the tables' owner
 * for the daemon's and the reader's conninfo. A database that cannot be
 * reached now is not a refusal (workers retry and check it themselves).
 * Returns 1 or 0.
 */
static int
roles_ok(const struct cfg *cfg)
{
	const char *ci[2] = { cfg->db_conninfo, cfg->db_reader };
	const char *who[2] = { "cmpcad", "cmpcad (db_reader)" };
	int i, ok = 1;

	for (i = 0; i < 2 && ok; i++) {
		struct db *db;

		if (ci[i] == NULL)
			continue;
		if ((db = db_open(ci[i])) != NULL && db_ensure(db) == 1 &&
		    ca_role_check(db, who[i]) == 0)
			ok = 0;
		db_close(db);
	}
	return ok;
}

/*
 * -t: a profile with archive_keys needs a token that can archive
 * (hsm_caps_archive): one error per active CA and such profile, naming
 * the token, the CA, the profile and the missing mechanisms (every
 * central key generation under it would be refused). Returns 1 when
 * there is none.
 */
static int
archive_check(const struct cfg *cfg, struct hsm *hsm, const struct db_ca *cas,
    size_t n)
{
	char what[64];
	size_t i, p;
	int ok = 1;

	if (hsm_caps_archive(hsm_caps_get(hsm), what, sizeof(what)))
		return 1;
	for (p = 0; p < cfg->nprofiles; p++) {
		if (!cfg->profiles[p].archive_keys)
			continue;
		for (i = 0; i < n; i++) {
			if (strcmp(cas[i].status, "active") != 0)
				continue;
			log_err("ca %s, profile %s: archive_keys, but token %s "
				"cannot archive keys: no %s (see \"token cannot "
				"archive keys\" in docs/troubleshooting.md)",
			    cas[i].label, cfg->profiles[p].name,
			    hsm_token_label(hsm), what);
			ok = 0;
		}
	}
	return ok;
}

/* -t: configuration (coap_listen parsed, not bound: a running cmpcad may
 * hold it), database schema, HSM login, every CA key and every active
 * CA's OCSP signer, and a token that can archive where a profile
 * archives. */
static int
check_only(const struct cfg *cfg)
{
	struct hsm *hsm = NULL;
	struct db *db = NULL;
	struct db_ca *cas = NULL;
	size_t n = 0, i;
	int version = 0, pending = 0, ok = 0;

	if ((cfg->coap_listen != NULL &&
		!coap_srv_listen_ok(cfg->coap_listen)) ||
	    (cfg->coaps_listen != NULL &&
		!coap_srv_listen_ok(cfg->coaps_listen)))
		goto out;
	/* The CoAP worker reads them after the fork, as this user. */
	if (cfg->coaps_listen != NULL &&
	    (access(cfg->coaps_cert, R_OK) != 0 ||
		access(cfg->coaps_key, R_OK) != 0)) {
		log_err("coaps_cert %s, coaps_key %s: cannot be read: %s",
		    cfg->coaps_cert, cfg->coaps_key, strerror(errno));
		goto out;
	}
	if (!open_backends(cfg, &hsm, &db) || !roles_ok(cfg))
		goto out;
	if (!hsm_gaps_report(hsm))
		goto out;
	if (db_schema_version(db, &version) < 0 || version == 0) {
		log_err("database: schema not migrated (run cmpca db migrate)");
		goto out;
	}
	if (db_schema_pending(db, cfg->schema_dir, &pending) < 0) {
		log_err("database: %s", db_error(db));
		goto out;
	}
	if (pending > 0) {
		log_err("database: %d migration(s) in %s not applied (run cmpca "
			"db migrate)", pending, cfg->schema_dir);
		goto out;
	}
	if (db_ca_list(db, &cas, &n) < 0) {
		log_err("database: %s", db_error(db));
		goto out;
	}
	ok = audit_key_check(db);
	if (!archive_check(cfg, hsm, cas, n))
		ok = 0;
	for (i = 0; i < n; i++) {
		EVP_PKEY *k = hsm_key_load(hsm, cas[i].key_uri);
		char why[512];
		time_t until;

		if (k == NULL) {
			log_err("ca %s: key %s: %s", cas[i].label,
			    cas[i].key_uri, hsm_error());
			ok = 0;
		}
		EVP_PKEY_free(k);
		/* Every active key answers OCSP through its signer. */
		if (strcmp(cas[i].status, "active") == 0 &&
		    ocsp_signer_check(db, hsm, &cas[i], time(NULL), why,
			sizeof(why), &until) != 1) {
			log_err("ca %s: %s", cas[i].label, why);
			ok = 0;
		}
	}
	if (ok)
		printf("%s: configuration ok, schema version %d, %zu CA(s)\n",
		    cfg->path, version, n);
out:
	db_ca_array_free(cas, n);
	db_close(db);
	hsm_close(hsm);
	return ok ? 0 : 1;
}

struct slot {
	pid_t pid;
	time_t started;
	int fails;  /* consecutive early deaths */
	time_t due; /* respawn at (back-off), 0: nothing pending */
};

/* Slot 0 is the housekeeper, slots 1..workers the FastCGI workers, slot
 * workers + 1 the CoAP worker when coap_listen or coaps_listen is set.
 * The child gets back the signal mask the master had before it blocked
 * SIGCHLD. */
static pid_t
spawn(const struct cfg *cfg, int fd, struct slot *s, int slot,
    const sigset_t *mask)
{
	pid_t pid;

	metrics_busy_set(slot, 0);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, mask, NULL);
		signals_set(on_term);
		if (slot == 0) {
			close(fd);
			_exit(housekeeper_main(cfg));
		}
		if (slot > cfg->workers) {
			close(fd);
			_exit(worker_main(cfg, -1, slot));
		}
		_exit(worker_main(cfg, fd, slot));
	}
	s->due = 0;
	if (pid > 0) {
		s->pid = pid;
		s->started = time(NULL);
	} else {
		log_err("fork failed: %s", strerror(errno));
		s->due = time(NULL) + 1;
	}
	return pid;
}

/*
 * A process of slot i ended: logged, and its respawn scheduled - at once,
 * or after a back-off when it died within CA_RESPAWN_EARLY seconds of its
 * start (HSM or database down): 1, 2, 4 ... CA_RESPAWN_MAX s, for that
 * slot only. Nobody sleeps: the loop in master() respawns when due.
 */
static void
slot_ended(struct slot *s, int i, pid_t pid, int status)
{
	time_t now = time(NULL);

	s->pid = 0;
	metrics_busy_set(i, 0);
	if (WIFSIGNALED(status))
		log_warn("worker %d killed by signal %d", (int)pid,
		    WTERMSIG(status));
	else
		log_warn("worker %d exited with status %d", (int)pid,
		    WEXITSTATUS(status));
	if (now - s->started < CA_RESPAWN_EARLY) {
		int d = 1 << (s->fails < 5 ? s->fails : 5);

		s->fails++;
		s->due = now + (d > CA_RESPAWN_MAX ? CA_RESPAWN_MAX : d);
		log_info("slot %d: respawn in %d s", i,
		    d > CA_RESPAWN_MAX ? CA_RESPAWN_MAX : d);
	} else {
		s->fails = 0;
		s->due = now;
	}
}

/*
 * The watchdog: a worker that has been inside one request for longer than
 * worker_timeout (the start it published in the shared metrics) is
 * killed, logged and counted; slot_ended() then respawns it.
 */
static void
watchdog(const struct cfg *cfg, struct slot *slots, int n)
{
	long long now = metrics_now_us(), since;
	int i;

	if (cfg->worker_timeout == 0)
		return;
	for (i = 1; i < n; i++) {
		if (slots[i].pid <= 0 || (since = metrics_busy_get(i)) == 0 ||
		    now - since <= cfg->worker_timeout * 1000000LL)
			continue;
		log_err("worker %d (slot %d) inside one request for %lld s, "
			"more than worker_timeout %ld: killed",
		    (int)slots[i].pid, i, (now - since) / 1000000,
		    cfg->worker_timeout);
		metrics_watchdog(i);
		metrics_busy_set(i, 0);
		kill(slots[i].pid, SIGKILL);
	}
}

/*
 * The master's loop: reaps without blocking, respawns what is due, runs
 * the watchdog, then waits for SIGCHLD (blocked, taken with sigtimedwait)
 * at most until the next respawn or watchdog tick; SIGTERM and SIGINT
 * interrupt the wait through their handler.
 */
static int
master(const struct cfg *cfg, int fd)
{
	struct slot slots[CA_MAX_WORKERS + 2];
	int i, status, n = cfg->workers + 1 +
	    (cfg->coap_listen != NULL || cfg->coaps_listen != NULL);
	sigset_t chld, old;
	struct timespec ts;
	time_t now, next;
	pid_t pid;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	memset(slots, 0, sizeof(slots));
	for (i = 0; i < n; i++)
		spawn(cfg, fd, &slots[i], i, &old);
	while (!stopping) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < n; i++)
				if (slots[i].pid == pid) {
					slot_ended(&slots[i], i, pid, status);
					break;
				}
		if (stopping)
			break;
		now = time(NULL);
		next = now + 1; /* the watchdog's tick */
		for (i = 0; i < n; i++) {
			if (slots[i].pid != 0 || slots[i].due == 0)
				continue;
			if (slots[i].due <= now) {
				metrics_worker_restart(i);
				spawn(cfg, fd, &slots[i], i, &old);
			} else if (slots[i].due < next)
				next = slots[i].due;
		}
		watchdog(cfg, slots, n);
		ts.tv_sec = next > now ? next - now : 0;
		ts.tv_nsec = next > now ? 0 : 100000000;
		(void)sigtimedwait(&chld, NULL, &ts);
	}
	log_info("stopping %d workers and the housekeeper", n - 1);
	for (i = 0; i < n; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, SIGTERM);
	for (i = 0; i < n; i++)
		if (slots[i].pid > 0)
			waitpid(slots[i].pid, &status, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/*
 * Writes the master's PID to path (atomically, mode 0644), for a start
 * without systemd. Returns 1 on success, 0 (logged) on failure.
 */
static int
pidfile_write(const char *path)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (n <= 0 || (size_t)n >= sizeof(buf) ||
	    lib_file_write(path, buf, (size_t)n) != 1) {
		log_err("cannot write pidfile %s: %s", path, strerror(errno));
		return 0;
	}
	(void)chmod(path, 0644);
	return 1;
}

int
main(int argc, char **argv)
{
	struct cfg *cfg;
	const char *path = NULL, *pidfile = NULL;
	uid_t owner;
	gid_t group;
	int c, check = 0, use_syslog = 0, fd, rc;

	while ((c = getopt(argc, argv, "c:p:ts")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 's':
			use_syslog = 1;
			break;
		default:
			fprintf(stderr,
			    "usage: cmpcad [-c FILE] [-p PIDFILE] [-t] [-s]\n");
			return 2;
		}
	}
	log_init("cmpcad", use_syslog, LOG_LVL_INFO);
	if ((cfg = cfg_load(path)) == NULL)
		return 1;
	log_init("cmpcad", use_syslog || cfg->syslog, level_of(cfg->log_level));
	if (check) {
		rc = priv_drop(cfg) && priv_pin_check(cfg) ? check_only(cfg)
							   : 1;
		cfg_free(cfg);
		return rc;
	}
	if (cfg->socket_path == NULL) {
		log_err("%s: [cmpca]: socket is required", cfg->path);
		cfg_free(cfg);
		return 1;
	}
	if (!metrics_init()) {
		log_err("cannot map the shared metrics: %s", strerror(errno));
		cfg_free(cfg);
		return 1;
	}
	db_error_hook_set(metrics_db_error);
	signals_set(on_term);
	if (!priv_socket_owner(cfg, &owner, &group) ||
	    (fd = fcgi_listen(cfg->socket_path, owner, group)) < 0) {
		cfg_free(cfg);
		return 1;
	}
	/* The socket is open: root (if we had it) is not needed any more.
	 * The CoAP ports are bound after the fork, as this user: probe them. */
	if (!priv_drop(cfg) || !priv_pin_check(cfg) || !roles_ok(cfg) ||
	    (cfg->coap_listen != NULL && !coap_srv_probe(cfg->coap_listen)) ||
	    (cfg->coaps_listen != NULL && !coap_srv_probe(cfg->coaps_listen))) {
		close(fd);
		socket_remove(cfg->socket_path);
		cfg_free(cfg);
		return 1;
	}
	/* After the privilege drop: the pidfile belongs to the daemon's
	 * user, which can remove it again at exit. */
	if (pidfile != NULL && !pidfile_write(pidfile)) {
		close(fd);
		socket_remove(cfg->socket_path);
		cfg_free(cfg);
		return 1;
	}
	log_info("listening on %s with %d workers%s%s", cfg->socket_path,
	    cfg->workers, cfg->coap_listen != NULL ? ", CoAP on udp " : "",
	    cfg->coap_listen != NULL ? cfg->coap_listen : "");
	if (cfg->coaps_listen != NULL)
		log_info("CoAP over DTLS on %s", cfg->coaps_listen);
	rc = master(cfg, fd);
	close(fd);
	socket_remove(cfg->socket_path);
	if (pidfile != NULL)
		(void)unlink(pidfile);
	cfg_free(cfg);
	return rc;
}
