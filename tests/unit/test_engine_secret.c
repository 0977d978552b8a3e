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
