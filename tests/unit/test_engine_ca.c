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
	struct crl_spec spec = { 1, 0, NULL, fx.dir };
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
	assert_int_equal(crl_issue(fx.db, ca, &spec, &crl), 1);
	db_crl_clear(&crl);
	assert_int_equal(db_crl_latest_number(fx.chk, fx.ca_id, &n0), 1);
	snprintf(path, sizeof(path), "%s/test.crl", fx.dir);
	OK(unlink(path) == 0);

	ca_row_cert(other, xlen); /* the rollover commits */
	rc = crl_issue(fx.db, ca, &spec, &crl);
	db_crl_clear(&crl);
	ca_row_cert(orig, olen); /* before asserting: later tests need it */
	assert_int_equal(rc, 0);
	assert_int_equal(db_crl_latest_number(fx.chk, fx.ca_id, &n1), 1);
	assert_int_equal(n1, n0);		/* nothing stored */
	assert_int_equal(access(path, F_OK), -1); /* nothing written */

	assert_int_equal(crl_issue(fx.db, ca, &spec, &crl), 1);
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

/* An inventory row for serial (hex) under the CA, in status st with
 * reason and revocation time when (contents borrowed from the CA
 * certificate, which outlives the test). */
static void
crl_row(const char *serial, enum db_cert_status st, int reason, time_t when)
{
	struct db_cert row;

	memset(&row, 0, sizeof(row));
	OK(ca_cert_to_row(fx.ca_cert, &row));
	snprintf(row.serial, sizeof(row.serial), "%s", serial);
	row.ca_id = fx.ca_id;
	row.status = st;
	row.reason = reason;
	row.revoked_at = when;
	if (db_cert_insert(fx.db, &row) != 1)
		fail_msg("cert %s: %s", serial, db_error(fx.db));
	db_cert_clear(&row);
}

/* The CRLReason crl gives serial (hex): 0 unspecified, -1 not listed. */
static int
crl_reason(X509_CRL *crl, const char *serial)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *sn;
	ASN1_ENUMERATED *e;
	BIGNUM *bn = NULL;
	int r = -1;

	OK(BN_hex2bn(&bn, serial) > 0);
	assert_non_null(sn = BN_to_ASN1_INTEGER(bn, NULL));
	if (X509_CRL_get0_by_serial(crl, &rev, sn) > 0 && rev != NULL) {
		e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		r = e != NULL ? (int)ASN1_ENUMERATED_get(e) : 0;
		ASN1_ENUMERATED_free(e);
	}
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return r;
}

/* The CRL row's DER, decoded and checked against the CA key. */
static X509_CRL *
crl_decode(const struct db_crl *c)
{
	const unsigned char *p = c->der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)c->der_len);

	assert_non_null(crl);
	OK(p == c->der + c->der_len);
	OK(X509_CRL_verify(crl, X509_get0_pubkey(fx.ca_cert)) == 1);
	return crl;
}

/*
 * Delta CRLs (RFC 5280 §5.2.4, issue 23): a delta on the newest complete
 * CRL lists a revocation made since (its reason), removeFromCRL for a hold
 * the base lists and the inventory released, and nothing that did not
 * change; its number comes from the complete CRLs' sequence and its
 * critical deltaCRLIndicator names the base; the base carries
 * freshestCRL; the delta is signed by the CA key, stored as a delta (the
 * newest complete CRL is still the base) and written to delta/<name>.crl.
 */
void
test_crl_delta(void **state)
{
	struct crl_spec base = { 1, 0, "http://x/crl/delta/%{crl}.crl",
		fx.dir };
	struct crl_spec delta = { 1, 600, NULL, fx.dir };
	struct ca_store st = { NULL, 0 };
	struct db_crl b, d, d2;
	struct ca_ident *ca;
	X509_CRL *bc, *dc;
	ASN1_INTEGER *ind;
	CRL_DIST_POINTS *fresh;
	GENERAL_NAME *gn;
	char path[4096], sql[256];
	unsigned char *file;
	size_t flen;
	long long newest;
	FILE *f;
	int crit = -1, err = 0;

	(void)state;
	crl_row("d1", DB_CERT_REVOKED, CRL_REASON_CERTIFICATE_HOLD,
	    time(NULL) - 60);
	crl_row("d2", DB_CERT_VALID, -1, 0);
	crl_row("d3", DB_CERT_REVOKED, CRL_REASON_SUPERSEDED, time(NULL) - 60);
	assert_non_null(ca = ca_store_get(&st, fx.db, fx.hsm, "test", &err));
	assert_int_equal(crl_issue(fx.db, ca, &base, &b), 1);
	assert_int_equal(b.delta_of, 0);
	bc = crl_decode(&b);
	assert_int_equal(crl_reason(bc, "d1"), CRL_REASON_CERTIFICATE_HOLD);
	assert_int_equal(crl_reason(bc, "d2"), -1);
	/* freshestCRL (§5.2.6), non-critical, naming the key's delta. */
	assert_non_null(fresh = X509_CRL_get_ext_d2i(bc, NID_freshest_crl,
	    &crit, NULL));
	assert_int_equal(crit, 0);
	gn = sk_GENERAL_NAME_value(
	    sk_DIST_POINT_value(fresh, 0)->distpoint->name.fullname, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
	    gn->d.uniformResourceIdentifier), "http://x/crl/delta/test.crl");
	CRL_DIST_POINTS_free(fresh);

	/* d2 revoked for keyCompromise, d1's hold released. */
	snprintf(sql, sizeof(sql), "UPDATE cert SET status = 'revoked', "
	    "revoked_at = now(), reason = 1 WHERE serial = 'd2' AND ca_id = "
	    "%lld", fx.ca_id);
	OK(db_exec_unsafe(fx.chk, sql) == 1);
	snprintf(sql, sizeof(sql), "UPDATE cert SET status = 'valid', "
	    "revoked_at = NULL, reason = NULL WHERE serial = 'd1' AND "
	    "ca_id = %lld", fx.ca_id);
	OK(db_exec_unsafe(fx.chk, sql) == 1);
	assert_int_equal(crl_issue(fx.db, ca, &delta, &d), 1);
	assert_int_equal(d.delta_of, b.number);
	assert_int_equal(d.number, b.number + 1);
	assert_int_equal(d.entries, 2);
	assert_true(d.next_update - d.this_update == 600);
	dc = crl_decode(&d);
	assert_non_null(ind = X509_CRL_get_ext_d2i(dc, NID_delta_crl, &crit,
	    NULL));
	assert_int_equal(crit, 1);
	assert_int_equal(ASN1_INTEGER_get(ind), b.number);
	ASN1_INTEGER_free(ind);
	assert_null(X509_CRL_get_ext_d2i(dc, NID_freshest_crl, NULL, NULL));
	assert_int_equal(crl_reason(dc, "d2"), CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(crl_reason(dc, "d1"), CRL_REASON_REMOVE_FROM_CRL);
	assert_int_equal(crl_reason(dc, "d3"), -1); /* as the base says */
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(dc)), 2);
	/* Stored as a delta: the newest complete CRL is still the base. */
	assert_int_equal(db_crl_latest_number(fx.chk, fx.ca_id, &newest), 1);
	assert_int_equal(newest, b.number);
	assert_int_equal(db_crl_delta_latest_number(fx.chk, fx.ca_id,
	    &newest), 1);
	assert_int_equal(newest, d.number);
	snprintf(path, sizeof(path), "%s/delta/test.crl", fx.dir);
	assert_non_null(f = fopen(path, "rb"));
	assert_non_null(file = malloc(d.der_len + 1));
	flen = fread(file, 1, d.der_len + 1, f);
	fclose(f);
	assert_true(flen == d.der_len && memcmp(file, d.der, flen) == 0);
	free(file);
	/* Nothing changed since: the next delta lists the same two. */
	assert_int_equal(crl_issue(fx.db, ca, &delta, &d2), 1);
	assert_int_equal(d2.delta_of, b.number);
	assert_int_equal(d2.entries, 2);
	db_crl_clear(&d2);
	X509_CRL_free(bc);
	X509_CRL_free(dc);
	db_crl_clear(&b);
	db_crl_clear(&d);
	ca_store_clear(&st);
}
