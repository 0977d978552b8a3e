/*
 * test_engine_secret.c - enrollment secrets: single use, unknown
 * references, the worker's kept copies, sealing key rotation (part of
 * test_engine, see test_engine.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/test_engine.h"

void
test_secret_once(void **state)
{
	struct rq q;
	struct db_secret s;
	CMP_MSG *resp;
	size_t before;

	(void)state;
	rq_init(&q);
	q.ref = "once";
	(void)ir_ok(&q, NULL);
	before = db_count(NULL);
	assert_int_equal(db_secret_get(fx.chk, "once", &s), 1);
	assert_int_equal(s.uses_left, 0);
	db_secret_clear(&s);

	rq_init(&q);
	q.ref = "once";
	resp = run(req_new(&q), NULL);
	check_error(resp, CMP_FAIL_NOT_AUTHORIZED);
	check_prot(resp, 1);
	assert_int_equal(db_txn_state(&q), 0);
	assert_int_equal(db_count(NULL), before);
}

/*
 * A senderKID that names no secret costs the same derivation as one that
 * does (no timing oracle for which references exist), and is answered
 * like a wrong MAC; a known reference with a wrong secret, the same.
 */
void
test_unknown_ref_derives(void **state)
{
	static const char *const refs[] = { "nosuchref", "ref1" };
	unsigned long before;
	struct rq q;
	CMP_MSG *m, *resp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		rq_init(&q);
		q.ref = refs[i];
		q.secret = "not the secret";
		m = req_new(&q); /* derives here too: count after it */
		before = cmp_pbm_derivations();
		resp = run(m, NULL);
		assert_int_equal(cmp_pbm_derivations() - before, 1);
		check_error(resp, CMP_FAIL_BAD_MESSAGE_CHECK);
		assert_string_equal(
		    si_text(resp->body->value.error->pKIStatusInfo),
		    "MAC protection does not verify");
	}
}

/*
 * A worker keeps unlimited secrets it has read; when the row changes
 * under it (here: resealed in place, as `cmpca db migrate` does), the
 * issuance refuses the stale copy inside the database and the request is
 * served again from a fresh read: the client sees its certificate, once.
 */
void
test_secret_cache_stale(void **state)
{
	struct db_secret sec;
	struct rq q;
	CMP_MSG *ip;
	int i;

	(void)state;
	/* Only sealed secrets are kept (rows in clear are from before 011). */
	memset(&sec, 0, sizeof(sec));
	snprintf(sec.ref, sizeof(sec.ref), "sealed1");
	snprintf(sec.profile, sizeof(sec.profile), "default");
	sec.uses_left = -1;
	if (!hsm_seal(fx.hsm, "sealed1", (const unsigned char *)SECRET,
	        strlen(SECRET), &sec.sealed, &sec.sealed_len))
		fail_msg("hsm_seal: %s", hsm_error());
	assert_int_equal(db_secret_insert(fx.db, &sec), 1);
	free(sec.sealed);
	for (i = 0; i < 3; i++) {
		/* 0 reads "sealed1" and keeps it; 1 finds the kept copy
		 * stale and is served again; 2 uses the new copy. */
		if (i == 1)
			OK(db_exec_unsafe(fx.chk, "UPDATE enroll_secret SET "
			                          "secret_enc = secret_enc "
			                          "WHERE ref = 'sealed1'") == 1);
		rq_init(&q);
		q.ref = "sealed1";
		q.implicit = 1;
		ip = ir_ok(&q, NULL);
		assert_int_equal(
		    db_status(ip_cert(ip, 0, 0), NULL), DB_CERT_VALID);
	}
	/* A wrong MAC against the kept copy is refused (and not served
	 * again); the right one still enrolls. */
	rq_init(&q);
	q.ref = "sealed1";
	q.secret = "wrong";
	check_error(run(req_new(&q), NULL), CMP_FAIL_BAD_MESSAGE_CHECK);
	rq_init(&q);
	q.ref = "sealed1";
	q.implicit = 1;
	ip = ir_ok(&q, NULL);
	assert_int_equal(db_status(ip_cert(ip, 0, 0), NULL), DB_CERT_VALID);
}

/*
 * Sealing key rotation (issue 17): a secret sealed under the old key
 * version still enrolls once a new version is current; resealed under the
 * new one (as `cmpca secret reseal` does) its row names the new version,
 * and the worker's kept copy, now another row version, is replaced by the
 * fresh read: the client still sees its certificate.
 */
void
test_secret_rotate(void **state)
{
	struct db_secret sec, got;
	struct rq q;
	CMP_MSG *ip;
	unsigned long old, cur;
	int i;

	(void)state;
	memset(&sec, 0, sizeof(sec));
	snprintf(sec.ref, sizeof(sec.ref), "rotate1");
	snprintf(sec.profile, sizeof(sec.profile), "default");
	sec.uses_left = -1;
	if (!hsm_seal(fx.hsm, "rotate1", (const unsigned char *)SECRET,
	        strlen(SECRET), &sec.sealed, &sec.sealed_len))
		fail_msg("hsm_seal: %s", hsm_error());
	old = hsm_sealed_version(sec.sealed, sec.sealed_len);
	assert_true(old >= 1);
	assert_int_equal(db_secret_insert(fx.db, &sec), 1);
	free(sec.sealed);
	sec.sealed = NULL;
	if (!hsm_seal_new_key(fx.hsm, &cur))
		fail_msg("hsm_seal_new_key: %s", hsm_error());
	assert_int_equal(cur, old + 1);
	for (i = 0; i < 3; i++) {
		/* 0 and 1 open the old key's value (1 from the kept copy);
		 * then the row is resealed under the new version. */
		if (i == 2) {
			assert_true(hsm_seal(fx.hsm, "rotate1",
			    (const unsigned char *)SECRET, strlen(SECRET),
			    &sec.sealed, &sec.sealed_len));
			assert_int_equal(db_secret_set_sealed(fx.db, "rotate1",
			    sec.sealed, sec.sealed_len), 1);
			free(sec.sealed);
			sec.sealed = NULL;
			assert_int_equal(
			    db_secret_get(fx.db, "rotate1", &got), 1);
			assert_int_equal(
			    hsm_sealed_version(got.sealed, got.sealed_len), cur);
			db_secret_clear(&got);
		}
		rq_init(&q);
		q.ref = "rotate1";
		q.implicit = 1;
		ip = ir_ok(&q, NULL);
		assert_int_equal(
		    db_status(ip_cert(ip, 0, 0), NULL), DB_CERT_VALID);
	}
}

/* Row reads, unseals and derivations one request costs (cmp_guard.c,
 * cmp_protect.c counters, compiled into the engine). */
static void
calls_of(const CMP_MSG *m, unsigned long *reads, unsigned long *unseals,
    unsigned long *derivs)
{
	unsigned long r0, u0, d0, r1, u1, d1;
	CMP_MSG *resp;

	cmp_guard_counts(&r0, &u0);
	d0 = cmp_pbm_derivations();
	resp = run(m, NULL);
	cmp_guard_counts(&r1, &u1);
	d1 = cmp_pbm_derivations();
	check_error(resp, CMP_FAIL_BAD_MESSAGE_CHECK);
	assert_string_equal(si_text(resp->body->value.error->pKIStatusInfo),
	    "MAC protection does not verify");
	*reads = r1 - r0;
	*unseals = u1 - u0;
	*derivs = d1 - d0;
}

/*
 * No oracle (issue 22, item 8): a senderKID that names a sealed secret
 * and one that names nothing make the same calls on the hot path - one
 * row read, one unseal in the HSM (the worker's decoy for the unknown
 * one), one key derivation - the first time and again when the known one
 * sits in the worker's cache. Counted, not timed (make bench times them).
 */
void
test_unknown_ref_same_calls(void **state)
{
	static const char *const refs[] = { "nosuch-oracle", "oracle1" };
	unsigned long reads, unseals, derivs;
	struct db_secret sec;
	struct rq q;
	CMP_MSG *m;
	size_t i;
	int round;

	(void)state;
	memset(&sec, 0, sizeof(sec));
	snprintf(sec.ref, sizeof(sec.ref), "oracle1");
	snprintf(sec.profile, sizeof(sec.profile), "default");
	sec.uses_left = -1;
	if (!hsm_seal(fx.hsm, "oracle1", (const unsigned char *)SECRET,
	        strlen(SECRET), &sec.sealed, &sec.sealed_len))
		fail_msg("hsm_seal: %s", hsm_error());
	OK(db_secret_insert(fx.db, &sec) == 1);
	free(sec.sealed);
	for (round = 0; round < 2; round++)
		for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
			rq_init(&q);
			q.ref = refs[i];
			q.secret = "not the secret";
			m = req_new(&q); /* derives here too: count after */
			calls_of(m, &reads, &unseals, &derivs);
			print_message("%s round %d: %lu read(s), %lu "
				      "unseal(s), %lu derivation(s)\n",
			    refs[i], round, reads, unseals, derivs);
			assert_int_equal(reads, 1);
			assert_int_equal(unseals, 1);
			assert_int_equal(derivs, 1);
		}
}

/*
 * The budget of failed derivations (mac_fail_budget, issue 33): once a
 * worker has spent it on MACs that do not verify, every MAC-protected
 * request gets systemUnavail before any derivation - the right secret as
 * well as a wrong one and an unknown reference, so the refusal tells
 * nothing - and it refills with time.
 */
void
test_mac_budget(void **state)
{
	static const char *const refs[] = { "ref1", "nosuch-budget" };
	struct cmp_srv *saved = fx.srv;
	struct cfg *cfg;
	unsigned long d0;
	char path[192];
	struct rq q;
	CMP_MSG *resp = NULL;
	int i, refused = 0;
	size_t k;

	(void)state;
	snprintf(path, sizeof(path), "%s/budget.conf", fx.dir);
	conf_write(path, "mac_fail_budget = 1\n", "");
	assert_non_null(cfg = cfg_load(path));
	assert_int_equal(cfg->mac_fail_budget, 1);
	assert_non_null(fx.srv = cmp_srv_new(cfg, fx.db, fx.hsm));
	/* 1 ms a second, 10 s banked: 10 ms of 100,000-iteration PBMs. */
	for (i = 0; i < 200 && !refused; i++) {
		rq_init(&q);
		q.ref = "nosuch-budget";
		q.secret = "not the secret";
		q.iter = 100000;
		resp = run(req_new(&q), NULL);
		refused = resp->body->type == CMP_BODY_ERROR &&
		    strcmp(si_text(resp->body->value.error->pKIStatusInfo),
			"too many MAC-protected requests failed, try again "
			"later") == 0;
	}
	print_message("budget spent after %d failed MACs\n", i);
	OK(refused && i > 1);
	check_error(resp, CMP_FAIL_SYSTEM_UNAVAIL);
	for (k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
		rq_init(&q);
		q.ref = refs[k];
		if (k == 1)
			q.secret = "not the secret";
		d0 = cmp_pbm_derivations();
		resp = run(req_new(&q), NULL);
		/* req_new() derived once itself, the engine not at all. */
		assert_int_equal(cmp_pbm_derivations() - d0, 1);
		check_error(resp, CMP_FAIL_SYSTEM_UNAVAIL);
	}
	cmp_srv_free(fx.srv);
	fx.srv = saved;
	cfg_free(cfg);
}
