/*
 * test_engine_ca.c - the CA row's certificate changing under a process
 * that loaded the CA: CRLs and issuance after a rollover (part of
 * test_engine, see test_engine.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/test_engine.h"

/* Sets the CA row's certificate to der (len bytes), through fx.db. */
static void
ca_row_cert(const unsigned char *der, int len)
{
	char *sql, *p;
	int i;

	assert_non_null(sql = malloc((size_t)len * 2 + 128));
	p = sql + sprintf(sql, "UPDATE ca SET cert = '\\x");
	for (i = 0; i < len; i++)
		p += sprintf(p, "%02x", der[i]);
	sprintf(p, "' WHERE id = %lld", fx.ca_id);
	if (db_exec_unsafe(fx.chk, sql) != 1)
		fail_msg("update ca: %s", db_error(fx.chk));
	free(sql);
}

/*
 * CRLs after a rollover (issue 17): a process that loaded the CA before
 * `ca rollover` holds the old key under the identity's id for up to
 * CA_STORE_REFRESH seconds. A CRL it signed would be stored as the
 * identity's (signed by the wrong key, verified by nobody holding the new
 * root) and written under the old key's CRL name, over the file the
 * old-key certificates name. crl_issue signs only while the row holds the
 * certificate the process loaded: nothing is stored or written otherwise.
 */
void
test_crl_stale_key(void **state)
{
	struct ca_store st = { NULL, 0 };
	struct ca_ident *ca;
	struct db_crl crl;
	unsigned char *orig = NULL, *other = NULL;
	long long n0 = 0, n1 = 0, n2 = 0;
	char path[4096];
	int olen, xlen, err = 0, rc;
	X509 *x;

	(void)state;
	assert_non_null(x = X509_dup(fx.ca_cert));
	OK(ASN1_INTEGER_set(X509_get_serialNumber(x), 4712));
	OK(X509_sign(x, fx.key, EVP_sha256()) > 0); /* the "new" certificate */
	OK((olen = i2d_X509(fx.ca_cert, &orig)) > 0);
	OK((xlen = i2d_X509(x, &other)) > 0);
	X509_free(x);
	assert_non_null(ca = ca_store_get(&st, fx.db, fx.hsm, "test", &err));
	assert_string_equal(ca->crl_name, "test"); /* key object "test" */
	assert_int_equal(crl_issue(fx.db, ca, 1, fx.dir, &crl), 1);
	db_crl_clear(&crl);
	assert_int_equal(db_crl_latest_number(fx.chk, fx.ca_id, &n0), 1);
	snprintf(path, sizeof(path), "%s/test.crl", fx.dir);
	OK(unlink(path) == 0);

	ca_row_cert(other, xlen); /* the rollover commits */
	rc = crl_issue(fx.db, ca, 1, fx.dir, &crl);
	db_crl_clear(&crl);
	ca_row_cert(orig, olen); /* before asserting: later tests need it */
	assert_int_equal(rc, 0);
	assert_int_equal(db_crl_latest_number(fx.chk, fx.ca_id, &n1), 1);
	assert_int_equal(n1, n0);		/* nothing stored */
	assert_int_equal(access(path, F_OK), -1); /* nothing written */

	assert_int_equal(crl_issue(fx.db, ca, 1, fx.dir, &crl), 1);
	db_crl_clear(&crl);
	assert_int_equal(db_crl_latest_number(fx.chk, fx.ca_id, &n2), 1);
	OK(n2 > n0);
	OK(access(path, F_OK) == 0);
	ca_store_clear(&st);
	OPENSSL_free(orig);
	OPENSSL_free(other);
}

/*
 * Rollover race (issue 14, item 4): a worker that still holds the CA's
 * previous certificate (its copy is up to CA_STORE_REFRESH seconds old)
 * signs with it; the issuing statement sees that the CA row holds another
 * certificate and stores nothing, for one certificate and for several
 * (one cmpca_cert_store call each). The client gets systemUnavail; once
 * the row and the worker agree again, issuance works.
 */
void
test_ca_changed(void **state)
{
	unsigned char *orig = NULL, *other = NULL;
	int olen, xlen, n;
	size_t before;
	X509 *x;
	struct rq q;
	CMP_MSG *resp;

	(void)state;
	assert_non_null(x = X509_dup(fx.ca_cert));
	OK(ASN1_INTEGER_set(X509_get_serialNumber(x), 4711));
	OK(X509_sign(x, fx.key, EVP_sha256()) > 0); /* decodes; not ours */
	OK((olen = i2d_X509(fx.ca_cert, &orig)) > 0);
	OK((xlen = i2d_X509(x, &other)) > 0);
	X509_free(x);
	for (n = 1; n <= 3; n += 2) {
		/* A request now: the worker's copy is fresh for a while. */
		rq_init(&q);
		(void)ir_ok(&q, NULL);
		before = db_count(NULL);
		ca_row_cert(other, xlen);
		rq_init(&q);
		q.n = n;
		resp = run(req_new(&q), NULL);
		ca_row_cert(orig, olen);
		check_error(resp, CMP_FAIL_SYSTEM_UNAVAIL);
		if (strstr(si_text(resp->body->value.error->pKIStatusInfo),
		        "CA certificate changed") == NULL)
			fail_msg("statusString \"%s\"",
			    si_text(resp->body->value.error->pKIStatusInfo));
		assert_int_equal(db_count(NULL), before);
		assert_int_equal(db_txn_state(&q), 0);
		rq_init(&q);
		q.n = n;
		(void)ir_ok(&q, NULL);
		assert_int_equal(db_count(NULL), before + (size_t)n);
	}
	OPENSSL_free(orig);
	OPENSSL_free(other);
}
