/*
 * test_engine_ocsp.c - the OCSP responder in process, and the worker
 * around the engine and the responder losing its token (part of
 * test_engine, see test_engine.c).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ocsp.h>

#include "tests/unit/test_engine.h"
#include "daemon/worker.h"

/* OCSP responder (ocsp.c, ocsp_signer.c) in process. */

/* A CertID for serial (hex) under issuer, hashed with md. */
static OCSP_CERTID *
ocsp_id(const EVP_MD *md, X509 *issuer, const char *serial)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn;
	OCSP_CERTID *id;

	OK(BN_hex2bn(&bn, serial) > 0);
	assert_non_null(sn = BN_to_ASN1_INTEGER(bn, NULL));
	id = OCSP_cert_id_new(md, X509_get_subject_name(issuer),
	    X509_get0_pubkey_bitstr(issuer), sn);
	assert_non_null(id);
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	return id;
}

/* Sends req through the responder; returns the decoded response. */
static OCSP_RESPONSE *
ocsp_ask(struct ocsp_srv *s, OCSP_REQUEST *req)
{
	unsigned char *der = NULL, *resp = NULL;
	const unsigned char *p;
	size_t resp_len = 0;
	OCSP_RESPONSE *r;
	int n;

	OK((n = i2d_OCSP_REQUEST(req, &der)) > 0);
	assert_int_equal(ocsp_srv_process(s, der, (size_t)n, &resp,
	    &resp_len), 200);
	OPENSSL_free(der);
	assert_non_null(resp);
	p = resp;
	r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp_len);
	OK(r != NULL && p == resp + resp_len);
	OPENSSL_free(resp);
	return r;
}

/* An inventory row for serial under the CA (contents borrowed from
 * like), in status st with reason and revocation time when. */
static void
ocsp_row(const char *serial, enum db_cert_status st, int reason,
    time_t when, X509 *like)
{
	struct db_cert row;

	memset(&row, 0, sizeof(row));
	OK(ca_cert_to_row(like, &row));
	snprintf(row.serial, sizeof(row.serial), "%s", serial);
	row.ca_id = fx.ca_id;
	row.status = st;
	row.reason = reason;
	row.revoked_at = when;
	if (db_cert_insert(fx.db, &row) != 1)
		fail_msg("cert %s: %s", serial, db_error(fx.db));
	db_cert_clear(&row);
}

/*
 * No signer: unauthorized. With the delegated signer from
 * ocsp_signer_issue: valid -> good, revoked -> revoked with time and
 * reason (none for unspecified), rejected -> revoked, unconfirmed and
 * never issued -> unknown; SHA-1 and SHA-256 CertIDs; an issuer we do not
 * serve next to ours -> unknown; the response verifies against the CA
 * (delegated signer, byKey, signer certificate included) and echoes the
 * nonce when ocsp_nonce = yes. Under SAN=1 the exit checks that the
 * worker cache leaks nothing.
 */
void
test_ocsp(void **state)
{
	static const struct {
		const char *serial;
		int sha256, status, reason;
	} want[] = {
		{ "a1", 0, V_OCSP_CERTSTATUS_GOOD, -1 },
		{ "a2", 1, V_OCSP_CERTSTATUS_REVOKED, 1 },
		{ "a3", 0, V_OCSP_CERTSTATUS_UNKNOWN, -1 },
		{ "a4", 0, V_OCSP_CERTSTATUS_REVOKED,
		    CRL_REASON_CESSATION_OF_OPERATION },
		{ "a5", 1, V_OCSP_CERTSTATUS_REVOKED, -1 },
		{ "ff", 0, V_OCSP_CERTSTATUS_UNKNOWN, -1 },
	};
	const time_t when = 1700000000;
	struct ocsp_srv *s;
	OCSP_REQUEST *req;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *ids[8], *foreign;
	X509_STORE *store;
	X509 *signer = NULL;
	struct db_ca ca;
	const ASN1_OCTET_STRING *keyid = NULL;
	const X509_NAME *byname = NULL;
	ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
	char serial[DB_SERIAL_MAX];
	struct tm tm;
	size_t i;
	int st, reason;

	(void)state;
	fx.cfg->ocsp_nonce = 1;
	assert_non_null(s = ocsp_srv_new(fx.cfg, fx.db, fx.hsm));
	assert_non_null(req = OCSP_REQUEST_new());
	OK(OCSP_request_add0_id(req, ocsp_id(EVP_sha1(), fx.ca_cert, "a1")));
	resp = ocsp_ask(s, req);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
	ocsp_srv_free(s);

	memset(&ca, 0, sizeof(ca));
	assert_int_equal(db_ca_get(fx.db, fx.ca_id, &ca), 1);
	OK(ocsp_signer_issue(fx.db, fx.hsm, &ca, 30, &signer));
	db_ca_clear(&ca);
	ocsp_row("a1", DB_CERT_VALID, -1, 0, signer);
	ocsp_row("a2", DB_CERT_REVOKED, 1, when, signer);
	ocsp_row("a3", DB_CERT_UNCONFIRMED, -1, 0, signer);
	ocsp_row("a4", DB_CERT_REJECTED, CRL_REASON_CESSATION_OF_OPERATION,
	    when, signer);
	ocsp_row("a5", DB_CERT_REVOKED, 0, when, signer);

	assert_non_null(s = ocsp_srv_new(fx.cfg, fx.db, fx.hsm));
	assert_non_null(req = OCSP_REQUEST_new());
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ids[i] = ocsp_id(want[i].sha256 ? EVP_sha256() : EVP_sha1(),
		    fx.ca_cert, want[i].serial);
		OK(OCSP_request_add0_id(req, OCSP_CERTID_dup(ids[i])));
	}
	/* The signer itself is in the inventory, valid. */
	OK(ca_serial_hex(X509_get0_serialNumber(signer), serial,
	    sizeof(serial)));
	ids[i] = ocsp_id(EVP_sha1(), fx.ca_cert, serial);
	OK(OCSP_request_add0_id(req, OCSP_CERTID_dup(ids[i])));
	OK(OCSP_request_add1_nonce(req, NULL, 16));
	resp = ocsp_ask(s, req);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	assert_non_null(store = X509_STORE_new());
	OK(X509_STORE_add_cert(store, fx.ca_cert));
	assert_int_equal(OCSP_basic_verify(bs, NULL, store, 0), 1);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	OK(OCSP_resp_get0_id(bs, &keyid, &byname));
	OK(keyid != NULL && byname == NULL);
	assert_int_equal(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
	assert_int_equal(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs), 0),
	    signer), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		rev = thisupd = nextupd = NULL;
		reason = -1; /* set for revoked ones only */
		OK(OCSP_resp_find_status(bs, ids[i], &st, &reason, &rev,
		    &thisupd, &nextupd));
		if (st != want[i].status || reason != want[i].reason)
			fail_msg("serial %s: status %d reason %d, want %d %d",
			    want[i].serial, st, reason, want[i].status,
			    want[i].reason);
		OK(OCSP_check_validity(thisupd, nextupd, 300, -1));
		if (st == V_OCSP_CERTSTATUS_REVOKED) {
			OK(rev != NULL && ASN1_TIME_to_tm(rev, &tm));
			assert_int_equal(timegm(&tm), when);
		}
	}
	OK(OCSP_resp_find_status(bs, ids[i], &st, NULL, NULL, NULL, NULL));
	assert_int_equal(st, V_OCSP_CERTSTATUS_GOOD);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	/* Same request again, from the worker's cache, plus an issuer we do
	 * not serve (the signer as an issuer): unknown. OpenSSL does not
	 * verify responses about two issuers, so only the statuses count. */
	foreign = ocsp_id(EVP_sha1(), signer, "a1");
	OK(OCSP_request_add0_id(req, OCSP_CERTID_dup(foreign)));
	resp = ocsp_ask(s, req);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	OK(OCSP_resp_find_status(bs, foreign, &st, NULL, NULL, NULL, NULL));
	assert_int_equal(st, V_OCSP_CERTSTATUS_UNKNOWN);
	OK(OCSP_resp_find_status(bs, ids[0], &st, NULL, NULL, NULL, NULL));
	assert_int_equal(st, V_OCSP_CERTSTATUS_GOOD);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	for (i = 0; i <= sizeof(want) / sizeof(want[0]); i++)
		OCSP_CERTID_free(ids[i]);
	OCSP_CERTID_free(foreign);
	OCSP_REQUEST_free(req);
	X509_free(signer);
	ocsp_srv_free(s);
}

/*
 * The newest signer has expired: tryLater (a relying party would reject
 * what it signs), until a new signer exists; nextUpdate then stays within
 * the new signer's validity.
 */
void
test_ocsp_signer_expired(void **state)
{
	struct ocsp_srv *s;
	OCSP_REQUEST *req;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	ASN1_GENERALIZEDTIME *thisupd, *nextupd;
	X509 *old = NULL, *fresh = NULL;
	struct db_ca ca;
	int st;

	(void)state;
	memset(&ca, 0, sizeof(ca));
	assert_int_equal(db_ca_get(fx.db, fx.ca_id, &ca), 1);
	OK(ocsp_signer_issue(fx.db, fx.hsm, &ca, -1, &old));
	OK(X509_cmp_time(X509_get0_notAfter(old), NULL) < 0);
	ocsp_row("e1", DB_CERT_VALID, -1, 0, old);
	id = ocsp_id(EVP_sha1(), fx.ca_cert, "e1");
	assert_non_null(s = ocsp_srv_new(fx.cfg, fx.db, fx.hsm));
	assert_non_null(req = OCSP_REQUEST_new());
	OK(OCSP_request_add0_id(req, OCSP_CERTID_dup(id)));
	resp = ocsp_ask(s, req);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	OCSP_RESPONSE_free(resp);
	ocsp_srv_free(s);

	OK(ocsp_signer_issue(fx.db, fx.hsm, &ca, 1, &fresh));
	assert_non_null(s = ocsp_srv_new(fx.cfg, fx.db, fx.hsm));
	resp = ocsp_ask(s, req);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	OK(OCSP_resp_find_status(bs, id, &st, NULL, NULL, &thisupd, &nextupd));
	assert_int_equal(st, V_OCSP_CERTSTATUS_GOOD);
	OK(ASN1_TIME_compare(nextupd, X509_get0_notAfter(fresh)) <= 0);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
	OCSP_CERTID_free(id);
	ocsp_srv_free(s);
	X509_free(old);
	X509_free(fresh);
	db_ca_clear(&ca);
}

/* One request's DER through the responder; the answer's DER (caller
 * frees with OPENSSL_free) and its length. */
static unsigned char *
ocsp_raw(struct ocsp_srv *s, OCSP_REQUEST *req, size_t *len)
{
	unsigned char *der = NULL, *resp = NULL;
	int n;

	OK((n = i2d_OCSP_REQUEST(req, &der)) > 0);
	assert_int_equal(ocsp_srv_process(s, der, (size_t)n, &resp, len),
	    200);
	OPENSSL_free(der);
	assert_non_null(resp);
	return resp;
}

/* The status of id in a DER OCSPResponse. */
static int
ocsp_status_of(const unsigned char *der, size_t len, OCSP_CERTID *id)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs;
	int st = -1;

	assert_non_null(r);
	assert_non_null(bs = OCSP_response_get1_basic(r));
	OK(OCSP_resp_find_status(bs, id, &st, NULL, NULL, NULL, NULL));
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(r);
	return st;
}

/*
 * Signed answers are reused for the same request without nonce (byte for
 * byte: ECDSA signatures differ each time), until a status changes: a
 * revocation is answered at once. A nonce is ignored by default: the
 * nonced request gets the same answer, without nonce. With ocsp_nonce =
 * yes requests with a nonce are signed each, the nonce echoed.
 */
void
test_ocsp_reuse(void **state)
{
	struct ocsp_srv *s;
	OCSP_REQUEST *req, *nreq;
	OCSP_RESPONSE *resp;
	OCSP_CERTID *id;
	X509 *signer = NULL;
	struct db_ca ca;
	unsigned char *a1, *a2, *a3, *n1, *n2;
	size_t l1, l2, l3, m1, m2;
	char sql[160];

	(void)state;
	memset(&ca, 0, sizeof(ca));
	assert_int_equal(db_ca_get(fx.db, fx.ca_id, &ca), 1);
	OK(ocsp_signer_issue(fx.db, fx.hsm, &ca, 30, &signer));
	db_ca_clear(&ca);
	ocsp_row("c1", DB_CERT_VALID, -1, 0, signer);
	id = ocsp_id(EVP_sha1(), fx.ca_cert, "c1");
	assert_non_null(s = ocsp_srv_new(fx.cfg, fx.db, fx.hsm));
	assert_non_null(req = OCSP_REQUEST_new());
	OK(OCSP_request_add0_id(req, OCSP_CERTID_dup(id)));
	a1 = ocsp_raw(s, req, &l1);
	a2 = ocsp_raw(s, req, &l2);
	assert_int_equal(ocsp_status_of(a1, l1, id), V_OCSP_CERTSTATUS_GOOD);
	assert_true(l1 == l2 && memcmp(a1, a2, l1) == 0);
	snprintf(sql, sizeof(sql), "UPDATE cert SET status = 'revoked', "
	    "revoked_at = now(), reason = 1 WHERE serial = 'c1' AND ca_id = "
	    "%lld", fx.ca_id);
	OK(db_exec_unsafe(fx.chk, sql) == 1);
	a3 = ocsp_raw(s, req, &l3);
	assert_int_equal(ocsp_status_of(a3, l3, id),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_non_null(nreq = OCSP_REQUEST_new());
	OK(OCSP_request_add0_id(nreq, OCSP_CERTID_dup(id)));
	OK(OCSP_request_add1_nonce(nreq, NULL, 16));
	fx.cfg->ocsp_nonce = 0;
	n1 = ocsp_raw(s, nreq, &m1);
	assert_true(m1 == l3 && memcmp(n1, a3, l3) == 0);
	OPENSSL_free(n1);
	fx.cfg->ocsp_nonce = 1;
	n1 = ocsp_raw(s, nreq, &m1);
	n2 = ocsp_raw(s, nreq, &m2);
	assert_false(m1 == m2 && memcmp(n1, n2, m1) == 0);
	assert_false(m1 == l3 && memcmp(n1, a3, l3) == 0);
	/* The cap (ocsp_sign_max = 1): with its one slot taken, a question
	 * that needs a signature gets tryLater; one answered before is
	 * still served; the slot back, it is signed. */
	OK(metrics_init());
	OK(metrics_ocsp_sign_enter(fx.cfg->ocsp_sign_max));
	resp = ocsp_ask(s, nreq);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	OCSP_RESPONSE_free(resp);
	resp = ocsp_ask(s, req);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OCSP_RESPONSE_free(resp);
	metrics_ocsp_sign_leave();
	resp = ocsp_ask(s, nreq);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(a1);
	OPENSSL_free(a2);
	OPENSSL_free(a3);
	OPENSSL_free(n1);
	OPENSSL_free(n2);
	OCSP_REQUEST_free(req);
	OCSP_REQUEST_free(nreq);
	OCSP_CERTID_free(id);
	X509_free(signer);
	ocsp_srv_free(s);
}

/* The counter cmpca_ocsp_total{event="EVENT"} (metrics_init first). */
static unsigned long long
ocsp_metric(const char *event)
{
	char *text, *p, key[64];
	size_t len;
	unsigned long long v = 0;

	snprintf(key, sizeof(key), "cmpca_ocsp_total{event=\"%s\"} ", event);
	assert_non_null(text = metrics_render(NULL, 1, &len));
	assert_non_null(p = strstr(text, key));
	OK(sscanf(p + strlen(key), "%llu", &v) == 1);
	free(text);
	return v;
}

/* The stored answer of serial (SHA-1 CertID), or fails. */
static void
stored_of(const char *serial, struct db_ocsp_answer *a)
{
	struct db_cert_state st;

	assert_int_equal(db_ocsp_answer_get(fx.chk, fx.ca_id, serial, "sha1",
	    &st, a), 1);
	assert_non_null(a->der);
}

/*
 * Answers produced ahead of time (ocsp_answer.c, migration 023): the
 * housekeeper's ocsp_srv_produce stores one per certificate; a second
 * responder (another worker, another host) serves those bytes without
 * signing, for a request with or without nonce; a revocation is answered
 * at once (the row went stale), the answer signed then is stored and
 * served by the first responder too; an answer near its nextUpdate is
 * produced again.
 */
void
test_ocsp_store(void **state)
{
	struct ocsp_srv *s1, *s2;
	OCSP_REQUEST *req, *nreq, *req2;
	OCSP_CERTID *id, *id2;
	X509 *signer = NULL;
	struct db_ca ca;
	struct db_ocsp_answer a, b;
	unsigned char *r1, *r2, *r3;
	size_t l1, l2, l3;
	unsigned long long signed0, produced0;
	unsigned char *good;
	size_t good_len, i;
	char sql[200], *big;
	int n;

	(void)state;
	OK(metrics_init());
	memset(&ca, 0, sizeof(ca));
	assert_int_equal(db_ca_get(fx.db, fx.ca_id, &ca), 1);
	OK(ocsp_signer_issue(fx.db, fx.hsm, &ca, 30, &signer));
	db_ca_clear(&ca);
	ocsp_row("b1", DB_CERT_VALID, -1, 0, signer);
	ocsp_row("b2", DB_CERT_REVOKED, 1, 1700000000, signer);
	id = ocsp_id(EVP_sha1(), fx.ca_cert, "b1");
	assert_non_null(s1 = ocsp_srv_new(fx.cfg, fx.db, fx.hsm));
	assert_non_null(s2 = ocsp_srv_new(fx.cfg, fx.db, fx.hsm));
	fx.cfg->ocsp_nonce = 0;

	produced0 = ocsp_metric("produced");
	OK(ocsp_srv_produce(s1, 1, NULL) >= 2);
	OK(ocsp_metric("produced") >= produced0 + 2);
	stored_of("b1", &a);
	assert_int_equal(a.status, DB_OCSP_GOOD);
	assert_int_equal(a.next_update - a.this_update, fx.cfg->ocsp_validity);
	stored_of("b2", &b);
	assert_int_equal(b.status, DB_OCSP_REVOKED);
	assert_int_equal(b.reason, 1);
	assert_int_equal(b.revoked_at, 1700000000);
	id2 = ocsp_id(EVP_sha1(), fx.ca_cert, "b2");
	assert_int_equal(ocsp_status_of(b.der, b.der_len, id2),
	    V_OCSP_CERTSTATUS_REVOKED);
	/* Nothing left to produce. */
	assert_int_equal(ocsp_srv_produce(s1, 1, NULL), 0);

	/* The other worker: the stored bytes, no signature, with or
	 * without nonce. */
	assert_non_null(req = OCSP_REQUEST_new());
	OK(OCSP_request_add0_id(req, OCSP_CERTID_dup(id)));
	assert_non_null(nreq = OCSP_REQUEST_new());
	OK(OCSP_request_add0_id(nreq, OCSP_CERTID_dup(id)));
	OK(OCSP_request_add1_nonce(nreq, NULL, 16));
	signed0 = ocsp_metric("signed");
	r1 = ocsp_raw(s2, req, &l1);
	r2 = ocsp_raw(s2, nreq, &l2);
	assert_true(l1 == a.der_len && memcmp(r1, a.der, l1) == 0);
	assert_true(l2 == a.der_len && memcmp(r2, a.der, l2) == 0);
	assert_int_equal(ocsp_metric("signed"), signed0);
	/* Kept: the good answer an attacker would put back after the
	 * revocation below. */
	good = r1;
	good_len = l1;
	OPENSSL_free(r2);
	db_ocsp_answer_clear(&a);

	/* Revoked: answered at once (signed once, stored), then the same
	 * bytes from the first worker. */
	snprintf(sql, sizeof(sql), "UPDATE cert SET status = 'revoked', "
	    "revoked_at = now(), reason = 4 WHERE serial = 'b1' AND ca_id = "
	    "%lld", fx.ca_id);
	OK(db_exec_unsafe(fx.chk, sql) == 1);
	r1 = ocsp_raw(s2, req, &l1);
	assert_int_equal(ocsp_status_of(r1, l1, id),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(ocsp_metric("signed"), signed0 + 1);
	stored_of("b1", &a);
	assert_int_equal(a.status, DB_OCSP_REVOKED);
	assert_int_equal(a.stale, 0);
	assert_true(l1 == a.der_len && memcmp(r1, a.der, l1) == 0);
	r2 = ocsp_raw(s1, nreq, &l2);
	assert_true(l1 == l2 && memcmp(r1, r2, l1) == 0);
	assert_int_equal(ocsp_metric("signed"), signed0 + 1);
	OPENSSL_free(r1);
	OPENSSL_free(r2);
	db_ocsp_answer_clear(&a);

	/* The daemon's role rewrites the row: the good answer's bytes with
	 * columns that say revoked. Not served (its bytes sign good):
	 * signed again, revoked, and stored over it. */
	assert_non_null(big = malloc(good_len * 2 + 512));
	n = snprintf(big, 400, "UPDATE ocsp_answer a SET status = 'revoked', "
	    "reason = c.reason, revoked_at = c.revoked_at, stale = false, "
	    "der = '\\x");
	for (i = 0; i < good_len; i++)
		n += snprintf(big + n, 3, "%02x", good[i]);
	snprintf(big + n, 200, "' FROM cert c WHERE c.ca_id = a.ca_id AND "
	    "c.serial = a.serial AND a.serial = 'b1' AND a.md = 'sha1' AND "
	    "a.ca_id = %lld", fx.ca_id);
	OK(db_exec_unsafe(fx.chk, big) == 1);
	free(big);
	stored_of("b1", &a);
	assert_true(a.der_len == good_len && memcmp(a.der, good, good_len) == 0);
	db_ocsp_answer_clear(&a);
	r1 = ocsp_raw(s2, req, &l1);
	assert_int_equal(ocsp_status_of(r1, l1, id),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(ocsp_metric("signed"), signed0 + 2);
	stored_of("b1", &a);
	assert_true(l1 == a.der_len && memcmp(r1, a.der, l1) == 0);
	OPENSSL_free(r1);
	OPENSSL_free(good);
	db_ocsp_answer_clear(&a);

	/* Near its nextUpdate (within ocsp_refresh): produced again, and
	 * served new. */
	snprintf(sql, sizeof(sql), "UPDATE ocsp_answer SET next_update = "
	    "now() + interval '10 seconds' WHERE serial = 'b2' AND ca_id = "
	    "%lld", fx.ca_id);
	OK(db_exec_unsafe(fx.chk, sql) == 1);
	OK(ocsp_srv_produce(s1, 0, NULL) >= 1);
	stored_of("b2", &a);
	OK(a.next_update > time(NULL) + fx.cfg->ocsp_refresh);
	OK(a.der_len != b.der_len || memcmp(a.der, b.der, a.der_len) != 0);
	assert_non_null(req2 = OCSP_REQUEST_new());
	OK(OCSP_request_add0_id(req2, OCSP_CERTID_dup(id2)));
	r3 = ocsp_raw(s2, req2, &l3);
	assert_true(l3 == a.der_len && memcmp(r3, a.der, l3) == 0);
	OPENSSL_free(r3);
	OCSP_REQUEST_free(req2);
	OCSP_CERTID_free(id2);
	db_ocsp_answer_clear(&a);
	db_ocsp_answer_clear(&b);
	OCSP_REQUEST_free(req);
	OCSP_REQUEST_free(nreq);
	OCSP_CERTID_free(id);
	X509_free(signer);
	ocsp_srv_free(s1);
	ocsp_srv_free(s2);
}

/* The worker (daemon/worker.c) around the engine and the responder. */

/* An OCSP request with a nonce (so never answered from the cache: signed
 * now) for signer's own serial, through w; the answer must verify. */
static void
worker_ocsp_ok(struct worker *w, X509 *signer)
{
	char serial[DB_SERIAL_MAX];
	OCSP_REQUEST *req;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	X509_STORE *store;

	fx.cfg->ocsp_nonce = 1; /* echoed: signed now */
	assert_non_null(req = OCSP_REQUEST_new());
	OK(ca_serial_hex(X509_get0_serialNumber(signer), serial,
	    sizeof(serial)));
	OK(OCSP_request_add0_id(req, ocsp_id(EVP_sha1(), fx.ca_cert, serial)));
	OK(OCSP_request_add1_nonce(req, NULL, 16));
	resp = ocsp_ask(w->ocsp, req);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	assert_non_null(store = X509_STORE_new());
	OK(X509_STORE_add_cert(store, fx.ca_cert));
	assert_int_equal(OCSP_basic_verify(bs, NULL, store, 0), 1);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
}

/* Lines of file that contain what. */
static int
lines_with(const char *file, const char *what)
{
	char line[1024];
	FILE *f = fopen(file, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* worker_hsm_check(w), with what it logs appended to file. */
static int
hsm_check_logged(struct worker *w, const char *file)
{
	FILE *f = fopen(file, "a");
	int saved, rc;

	assert_non_null(f);
	fflush(stderr);
	OK((saved = dup(STDERR_FILENO)) >= 0);
	OK(dup2(fileno(f), STDERR_FILENO) >= 0);
	log_init("test_engine", 0, LOG_LVL_INFO);
	rc = worker_hsm_check(w);
	log_init("test_engine", 0,
	    getenv("CMPCA_TEST_VERBOSE") != NULL ? LOG_LVL_DEBUG : LOG_LVL_ERR);
	fflush(stderr);
	OK(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	fclose(f);
	return rc;
}

/*
 * The HSM check of a worker, as tests/e2e/faults.sh sees it on the stack.
 * The token goes away (its SoftHSM directory moved, as a token pulled from
 * its reader): the engine answers systemUnavail, and the check fails and
 * logs the loss once, however often it runs. The token comes back: the
 * check drops the keys of the engine and of the OCSP responder, which
 * died with the old module instance, reopens it and logs the recovery;
 * the engine issues and the responder signs with keys loaded anew. A
 * second loss is logged again.
 */
void
test_worker_hsm_lost(void **state)
{
	char tok[512], away[128], log[128], lost[128], back[128];
	struct cmp_srv *own = fx.srv;
	struct worker *w;
	struct db_ca ca;
	struct dirent *de;
	X509 *signer = NULL;
	DIR *d;
	struct rq q;
	int ep;

	(void)state;
	/* A key used after its module was reloaded can hang SoftHSM: a
	 * worker that keeps one fails this test by SIGALRM, not by hanging. */
	alarm(60);
	snprintf(tok, sizeof(tok), "%s/tokens", fx.dir);
	assert_non_null(d = opendir(tok));
	while ((de = readdir(d)) != NULL && de->d_name[0] == '.')
		;
	assert_non_null(de);
	snprintf(tok, sizeof(tok), "%s/tokens/%s", fx.dir, de->d_name);
	closedir(d);
	snprintf(away, sizeof(away), "%s/away", fx.dir);
	snprintf(log, sizeof(log), "%s/worker.log", fx.dir);
	snprintf(lost, sizeof(lost), "error: hsm: token %s unavailable", TOKEN);
	snprintf(back, sizeof(back), "info: hsm: token %s back", TOKEN);
	memset(&ca, 0, sizeof(ca));
	assert_int_equal(db_ca_get(fx.db, fx.ca_id, &ca), 1);
	OK(ocsp_signer_issue(fx.db, fx.hsm, &ca, 30, &signer));
	db_ca_clear(&ca);
	assert_non_null(w = worker_new(fx.cfg, fx.db, fx.hsm));
	fx.srv = w->cmp; /* run() and ir_ok() go through the worker */
	/* Both hold keys of the token now. */
	rq_init(&q);
	(void)ir_ok(&q, NULL);
	worker_ocsp_ok(w, signer);
	for (ep = 1; ep <= 2; ep++) {
		assert_int_equal(rename(tok, away), 0);
		rq_init(&q);
		check_error(run(req_new(&q), NULL), CMP_FAIL_SYSTEM_UNAVAIL);
		OK(hsm_lost(fx.hsm));
		cmp_srv_keys_drop(own); /* the fixture's engine, too */
		assert_false(hsm_check_logged(w, log)); /* still away */
		assert_false(hsm_check_logged(w, log));
		OK(hsm_lost(fx.hsm));
		assert_int_equal(rename(away, tok), 0);
		(void)usleep(1100 * 1000); /* hsm_reopen: one try a second */
		assert_true(hsm_check_logged(w, log));
		assert_true(hsm_check_logged(w, log)); /* nothing to do */
		assert_false(hsm_lost(fx.hsm));
		assert_int_equal(lines_with(log, lost), ep);
		assert_int_equal(lines_with(log, back), ep);
		rq_init(&q);
		(void)ir_ok(&q, NULL);
		worker_ocsp_ok(w, signer);
	}
	fx.srv = own;
	worker_free(w);
	X509_free(signer);
	alarm(0);
}
