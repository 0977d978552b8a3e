/*
 * test_db_more.c - the rest of db.h: requests waiting for approval, RAs,
 * partner CAs and the certificates CAs hold from others, OCSP signers,
 * certificate kinds and revocation entries, a CA's activation, rollover
 * and version, housekeeping (expiry, nonce pruning) and the helpers
 * (part of test_db, see test_db.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/test_db.h"

#define SCHEMA_DIR "db/schema"

/* Delayed delivery's requests: inserted, listed by transaction and by
 * status, decided once (a second decision is refused). */
static void
test_pending(void **state)
{
	static const unsigned char req[] = {0x30, 0x00};
	struct db_pending p, *a = NULL;
	struct db_txn t;
	long long ca_id = 0;
	size_t n = 0, before = 0;
	int i;

	(void)state;
	memset(&t, 0, sizeof(t));
	memcpy(t.id, "pend-tx", 7);
	t.id_len = 7;
	t.ca_id = ca_b;
	strcpy(t.sender, "secret:pend");
	strcpy(t.kind, "cr");
	t.state = DB_TXN_WAITING;
	t.pvno = 2;
	t.expires = time(NULL) + 300;
	CHECK(db_txn_insert(db, &t), 1);
	CHECK(db_pending_list(db, ca_b, DB_PENDING_PENDING, 0, &a, &before),
	    1);
	db_pending_array_free(a, before);
	for (i = 0; i < 2; i++) {
		memset(&p, 0, sizeof(p));
		memcpy(p.txid, "pend-tx", 7);
		p.txid_len = 7;
		p.cert_req_id = 1 - i; /* listed by cert_req_id */
		p.ca_id = ca_b;
		strcpy(p.kind, "cr");
		p.requester = (char *)"secret:pend";
		strcpy(p.profile, "default");
		p.subject = (char *)"CN=Pending";
		p.request = (unsigned char *)req;
		p.request_len = sizeof(req);
		CHECK(db_pending_insert(db, &p), 1);
		assert_true(p.id > 0);
	}
	p.request = NULL;
	CHECK(db_pending_insert(db, &p), -1);
	CHECK(db_pending_list_by_txn(db, (const unsigned char *)"pend-tx", 7,
	    &a, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].cert_req_id, 0);
	assert_int_equal(a[1].cert_req_id, 1);
	assert_int_equal(a[0].status, DB_PENDING_PENDING);
	assert_string_equal(a[0].subject, "CN=Pending");
	assert_memory_equal(a[0].request, req, sizeof(req));
	CHECK(db_pending_decide(db, a[0].id, DB_PENDING_REJECTED, "no",
	    "operator", &ca_id), 1);
	assert_int_equal(ca_id, ca_b);
	CHECK(db_pending_decide(db, a[0].id, DB_PENDING_APPROVED, NULL,
	    "operator", NULL), 0);
	CHECK(db_pending_decide(db, a[1].id, DB_PENDING_PENDING, NULL,
	    "operator", NULL), -1);
	db_pending_array_free(a, n);
	CHECK(db_pending_list(db, ca_b, DB_PENDING_REJECTED, 10, &a, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].reason, "no");
	assert_string_equal(a[0].decided_by, "operator");
	db_pending_array_free(a, n);
	CHECK(db_pending_list(db, ca_b, DB_PENDING_PENDING, 0, &a, &n), 1);
	assert_int_equal(n, before + 1);
	db_pending_array_free(a, n);
	CHECK(db_pending_list(db, 0, (enum db_pending_status)9, 0, &a, &n), -1);
	assert_string_equal(db_pending_status_name(DB_PENDING_APPROVED),
	    "approved");
	assert_string_equal(db_pending_status_name((enum db_pending_status)0),
	    "unknown");
	db_pending_clear(NULL);

	/* RA mode (024): a request the upstream CA answered waiting is
	 * not the operator's, and only the upstream's answer decides it. */
	memset(&p, 0, sizeof(p));
	memcpy(p.txid, "pend-tx", 7);
	p.txid_len = 7;
	p.cert_req_id = 2;
	p.ca_id = ca_b;
	strcpy(p.kind, "ir");
	p.requester = (char *)"secret:pend";
	strcpy(p.profile, "default");
	p.subject = (char *)"CN=Upstream";
	p.request = (unsigned char *)req;
	p.request_len = sizeof(req);
	p.status = DB_PENDING_UPSTREAM;
	CHECK(db_pending_insert(db, &p), 1);
	CHECK(db_pending_decide(db, p.id, DB_PENDING_APPROVED, NULL, "cli",
	    NULL), 0);
	CHECK(db_pending_list(db, ca_b, DB_PENDING_UPSTREAM, 0, &a, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(db_pending_status_name(a[0].status), "upstream");
	db_pending_array_free(a, n);
	/* Request 1 is not waiting upstream. */
	CHECK(db_pending_upstream_decide(db, (const unsigned char *)"pend-tx",
	    7, 1, DB_PENDING_UPSTREAM, DB_PENDING_APPROVED, NULL), 0);
	CHECK(db_pending_upstream_decide(db, (const unsigned char *)"pend-tx",
	    7, 2, DB_PENDING_UPSTREAM, DB_PENDING_PENDING, NULL), -1);
	CHECK(db_pending_upstream_decide(db, (const unsigned char *)"pend-tx",
	    7, 2, DB_PENDING_UPSTREAM, DB_PENDING_REJECTED,
	    "the upstream CA refused"), 1);
	/* Decided once. */
	CHECK(db_pending_upstream_decide(db, (const unsigned char *)"pend-tx",
	    7, 2, DB_PENDING_UPSTREAM, DB_PENDING_APPROVED, NULL), 0);
	CHECK(db_pending_list(db, ca_b, DB_PENDING_REJECTED, 10, &a, &n), 1);
	assert_int_equal(n, 2);
	assert_string_equal(a[1].decided_by, "upstream");
	assert_string_equal(a[1].reason, "the upstream CA refused");
	db_pending_array_free(a, n);
}

/* RAs are pinned by certificate hash and name: each once. */
static void
test_ra(void **state)
{
	struct db_ra ra, got, *a = NULL;
	size_t n = 0, i;
	int seen = 0;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	strcpy(ra.name, "ra-one");
	memset(ra.cert_sha256, 0x5a, 32);
	ra.cert = (unsigned char *)der;
	ra.cert_len = sizeof(der);
	ra.subject = (char *)"CN=RA One";
	strcpy(ra.profile, "default");
	CHECK(db_ra_insert(db, &ra), 1);
	assert_true(ra.id > 0);
	CHECK(db_ra_insert(db, &ra), 0); /* same name and hash */
	CHECK(db_ra_get_by_hash(db, ra.cert_sha256, &got), 1);
	assert_string_equal(got.name, "ra-one");
	assert_string_equal(got.subject, "CN=RA One");
	assert_memory_equal(got.cert, der, sizeof(der));
	db_ra_clear(&got);
	CHECK(db_ra_list(db, &a, &n), 1);
	for (i = 0; i < n; i++)
		seen += strcmp(a[i].name, "ra-one") == 0;
	assert_int_equal(seen, 1);
	db_ra_array_free(a, n);
	CHECK(db_ra_delete(db, "ra-one"), 1);
	CHECK(db_ra_get_by_hash(db, ra.cert_sha256, &got), 0);
	db_ra_clear(NULL);
}

/* cmpca as an RA: an upstream identity (status upstream, its upstream
 * row with the sealed secret) and a forwarded request waiting for the
 * device's certConf, found by the device's transaction and removed. */
static void
test_upstream(void **state)
{
	static const unsigned char sealed[] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const unsigned char v5[] = {3, 0, 0, 0, 5, 9, 9, 9};
	struct db_upstream_sealed *us = NULL;
	size_t nus = 0, i;
	int seen;
	struct db_upstream u, got;
	struct db_ra_fwd f, g;
	struct db_ra_owed *o = NULL;
	unsigned char *cd = NULL;
	size_t cl = 0;
	struct db_cert c;
	struct db_ca ca;
	long long n = 0;
	size_t no = 0;

	(void)state;
	memset(&ca, 0, sizeof(ca));
	strcpy(ca.label, "upstream-one");
	ca.key_uri = (char *)"";
	ca.cert = (unsigned char *)der;
	ca.cert_len = sizeof(der);
	strcpy(ca.status, "upstream");
	CHECK(db_ca_insert(db, &ca), 1);
	memset(&u, 0, sizeof(u));
	u.ca_id = ca.id;
	u.url = (char *)"http://127.0.0.1:1/.well-known/cmp";
	strcpy(u.mode, "mac");
	u.ref = (char *)"ra-ref";
	u.sealed = (unsigned char *)sealed;
	u.sealed_len = sizeof(sealed);
	CHECK(db_upstream_get(db, ca.id, &got), 0);
	CHECK(db_upstream_insert(db, &u), 1);
	CHECK(db_upstream_insert(db, &u), 0); /* one per identity */
	u.url = (char *)"ftp://x";
	u.ca_id = ca_a;
	CHECK(db_upstream_insert(db, &u), -1); /* not an http(s) URL */
	u.url = (char *)"http://127.0.0.1:1/.well-known/cmp";
	u.nested = 1;
	CHECK(db_upstream_insert(db, &u), -1); /* nested needs mode sig */
	u.nested = 0;
	CHECK(db_upstream_get(db, ca.id, &got), 1);
	assert_int_equal(got.nested, 0);
	assert_string_equal(got.url, "http://127.0.0.1:1/.well-known/cmp");
	assert_string_equal(got.mode, "mac");
	assert_string_equal(got.ref, "ra-ref");
	assert_int_equal(got.sealed_len, sizeof(sealed));
	assert_memory_equal(got.sealed, sealed, sizeof(sealed));
	assert_null(got.tls_trusted);
	assert_int_equal(got.sign_ca_id, 0);
	db_upstream_clear(&got);
	db_upstream_clear(NULL);
	/* Resealing (`secret reseal`): listed until sealed under the key
	 * version asked for (format 0x03, the version in 4 bytes). */
	CHECK(db_upstream_list_reseal(db, 5, &us, &nus), 1);
	for (i = 0, seen = 0; i < nus; i++)
		if (us[i].ca_id == ca.id) {
			seen = 1;
			assert_string_equal(us[i].label, "upstream-one");
			assert_int_equal(us[i].sealed_len, sizeof(sealed));
		}
	assert_true(seen);
	db_upstream_sealed_array_free(us, nus);
	db_upstream_sealed_array_free(NULL, 0);
	CHECK(db_upstream_set_sealed(db, ca.id, v5, sizeof(v5)), 1);
	CHECK(db_upstream_set_sealed(db, ca.id, NULL, 0), -1);
	CHECK(db_upstream_list_reseal(db, 5, &us, &nus), 1);
	for (i = 0; i < nus; i++)
		assert_true(us[i].ca_id != ca.id);
	db_upstream_sealed_array_free(us, nus);
	CHECK(db_upstream_list_reseal(db, 6, &us, &nus), 1);
	assert_true(nus >= 1);
	db_upstream_sealed_array_free(us, nus);
	/* Signed re-protection: a signing identity instead of a secret. */
	memset(&u, 0, sizeof(u));
	u.ca_id = ca_b;
	u.url = (char *)"https://upstream.example/.well-known/cmp";
	strcpy(u.mode, "mac");
	CHECK(db_upstream_insert(db, &u), -1); /* mac without a secret */
	strcpy(u.mode, "sig");
	CHECK(db_upstream_insert(db, &u), -1); /* sig without an identity */
	u.sign_ca_id = ca_a;
	u.tls_trusted = (char *)"/etc/ssl/upstream.pem";
	u.nested = 1; /* MAC-protected requests nested too (026) */
	CHECK(db_upstream_insert(db, &u), 1);
	CHECK(db_upstream_get(db, ca_b, &got), 1);
	assert_string_equal(got.mode, "sig");
	assert_int_equal(got.nested, 1);
	assert_int_equal(got.sign_ca_id, ca_a);
	assert_string_equal(got.ref, "");
	assert_string_equal(got.tls_trusted, "/etc/ssl/upstream.pem");
	db_upstream_clear(&got);

	memset(&f, 0, sizeof(f));
	f.ca_id = ca.id;
	memcpy(f.txid, "device-tx", 9);
	f.txid_len = 9;
	f.cert_req_id = 0;
	memset(f.up.txid, 0x11, sizeof(f.up.txid));
	memset(f.up.nonce, 0x22, sizeof(f.up.nonce));
	memset(f.up.peer_nonce, 0x33, 20);
	f.up.peer_nonce_len = 20;
	g = f;
	memset(&g.up, 0, sizeof(g.up));
	CHECK(db_ra_fwd_get(db, &g), 0);
	CHECK(db_ra_fwd_put(db, &f), 1);
	CHECK(db_ra_fwd_put(db, &f), 0);
	CHECK(db_ra_fwd_get(db, &g), 1);
	assert_memory_equal(&g.up, &f.up, sizeof(f.up));
	g.cert_req_id = 1;
	CHECK(db_ra_fwd_get(db, &g), 0);
	CHECK(db_ra_fwd_prune(db, 3600, &n), 0); /* younger: kept */
	g.cert_req_id = 0;
	CHECK(db_ra_fwd_get(db, &g), 1);
	CHECK(db_ra_fwd_delete(db, &f), 1);
	CHECK(db_ra_fwd_delete(db, &f), 0);
	CHECK(db_ra_fwd_get(db, &f), 0);
	CHECK(db_ra_fwd_put(db, &f), 1);
	CHECK(db_ra_fwd_prune(db, -1, &n), 1); /* older than now + 1 s */
	assert_true(n >= 1);
	CHECK(db_ra_fwd_get(db, &f), 0);

	/* A certConf owed upstream (implicitConfirm, 024): listed with the
	 * certificate it confirms, once old enough, and only then. */
	make_cert(&c, ca.id, "7e01", "CN=owed", DB_CERT_VALID);
	memcpy(c.txid, "device-tx", 9);
	c.txid_len = 9;
	CHECK(db_cert_insert(db, &c), 1);
	f.confirm = 1;
	CHECK(db_ra_fwd_put(db, &f), 1);
	g = f;
	g.confirm = 0;
	CHECK(db_ra_fwd_get(db, &g), 1);
	assert_int_equal(g.confirm, 1);
	CHECK(db_ra_fwd_owed(db, 3600, 10, &o, &no), 1); /* too young */
	assert_int_equal(no, 0);
	CHECK(db_ra_fwd_owed(db, -1, 10, &o, &no), 1);
	assert_int_equal(no, 1);
	assert_int_equal(o[0].f.ca_id, ca.id);
	assert_int_equal(o[0].f.txid_len, 9);
	assert_memory_equal(o[0].f.txid, "device-tx", 9);
	assert_int_equal(o[0].f.cert_req_id, 0);
	assert_memory_equal(&o[0].f.up, &f.up, sizeof(f.up));
	assert_int_equal(o[0].der_len, sizeof(der));
	db_ra_owed_array_free(o, no);
	db_ra_owed_array_free(NULL, 0);
	/* Not owed (waiting for the device's certConf): not listed. */
	CHECK(db_ra_fwd_delete(db, &f), 1);
	f.confirm = 0;
	CHECK(db_ra_fwd_put(db, &f), 1);
	CHECK(db_ra_fwd_owed(db, -1, 10, &o, &no), 1);
	assert_int_equal(no, 0);
	CHECK(db_ra_fwd_delete(db, &f), 1);

	/* Waiting upstream: its nonces move at each poll, then the
	 * certificate the upstream issued is kept with it. */
	f.waiting = 1;
	CHECK(db_ra_fwd_put(db, &f), 1);
	g = f;
	g.waiting = 0;
	CHECK(db_ra_fwd_get(db, &g), 1);
	assert_int_equal(g.waiting, 1);
	CHECK(db_ra_fwd_cert(db, &f, &cd, &cl), 0);
	assert_null(cd);
	memset(f.up.nonce, 0x44, sizeof(f.up.nonce));
	CHECK(db_ra_fwd_update(db, &f, NULL, 0), 1);
	CHECK(db_ra_fwd_get(db, &g), 1);
	assert_memory_equal(g.up.nonce, f.up.nonce, sizeof(f.up.nonce));
	assert_int_equal(g.waiting, 1);
	f.waiting = 0;
	CHECK(db_ra_fwd_update(db, &f, der, sizeof(der)), 1);
	CHECK(db_ra_fwd_update(db, &f, NULL, 0), 1); /* the cert is kept */
	CHECK(db_ra_fwd_get(db, &g), 1);
	assert_int_equal(g.waiting, 0);
	CHECK(db_ra_fwd_cert(db, &f, &cd, &cl), 1);
	assert_int_equal(cl, sizeof(der));
	assert_memory_equal(cd, der, sizeof(der));
	free(cd);
	CHECK(db_ra_fwd_delete(db, &f), 1);
	CHECK(db_ra_fwd_update(db, &f, NULL, 0), 0);
}

/* Partner CAs, found by hash and name; certificates our CAs hold from
 * others, and what a CA publishes of them. */
static void
test_partner_ca_cert(void **state)
{
	struct db_partner pa, got, *pl = NULL;
	struct db_ca_cert cc, *cl = NULL;
	struct db_blob *bl = NULL;
	size_t n = 0;

	(void)state;
	memset(&pa, 0, sizeof(pa));
	strcpy(pa.name, "partner-one");
	pa.ca_id = ca_a;
	memset(pa.cert_sha256, 0x6b, 32);
	pa.cert = (unsigned char *)der;
	pa.cert_len = sizeof(der);
	pa.subject = (char *)"CN=Partner";
	pa.path_len = 0;
	pa.permitted = (char *)"dns:partner.example";
	pa.excluded = (char *)"";
	pa.policies = (char *)"";
	pa.policy_map = (char *)"";
	pa.require_explicit = -1;
	pa.inhibit_mapping = -1;
	pa.eku = (char *)"";
	pa.days = 365;
	CHECK(db_partner_insert(db, &pa), 1);
	CHECK(db_partner_insert(db, &pa), 0);
	CHECK(db_partner_get_by_hash(db, pa.cert_sha256, &got), 1);
	assert_string_equal(got.name, "partner-one");
	assert_string_equal(got.permitted, "dns:partner.example");
	assert_int_equal(got.path_len, 0);
	assert_int_equal(got.days, 365);
	db_partner_clear(&got);
	CHECK(db_partner_get_by_name(db, "partner-one", &got), 1);
	assert_int_equal(got.ca_id, ca_a);
	db_partner_clear(&got);
	CHECK(db_partner_list(db, &pl, &n), 1);
	assert_true(n >= 1);
	db_partner_array_free(pl, n);
	CHECK(db_partner_delete(db, "partner-one"), 1);
	CHECK(db_partner_get_by_name(db, "partner-one", &got), 0);

	memset(&cc, 0, sizeof(cc));
	cc.ca_id = ca_a;
	strcpy(cc.kind, "cross");
	cc.subject = (char *)"CN=fixture-a";
	cc.issuer = (char *)"CN=Partner";
	cc.not_after = time(NULL) + 86400;
	cc.der = (unsigned char *)der;
	cc.der_len = sizeof(der);
	CHECK(db_ca_cert_insert(db, &cc), 1);
	CHECK(db_ca_cert_insert(db, &cc), 0);
	CHECK(db_ca_cert_list(db, ca_a, "cross", &cl, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(cl[0].issuer, "CN=Partner");
	db_ca_cert_array_free(cl, n);
	CHECK(db_ca_cert_list(db, ca_a, "old-with-new", &cl, &n), 1);
	assert_int_equal(n, 0);
	CHECK(db_ca_published(db, ca_a, &bl, &n), 1);
	assert_int_equal(n, 1);
	assert_memory_equal(bl[0].der, der, sizeof(der));
	db_blob_array_free(bl, n);
	db_partner_clear(NULL);
	db_ca_cert_clear(NULL);
}

/* The newest OCSP signer of a CA is the one used. */
static void
test_ocsp_signer(void **state)
{
	struct db_ocsp_signer s, got;
	long long ca = make_ca("ocsp-ca");

	(void)state;
	CHECK(db_ocsp_signer_latest(db, ca, &got), 0);
	memset(&s, 0, sizeof(s));
	s.ca_id = ca;
	s.key_uri = (char *)"pkcs11:object=ocsp-1";
	s.cert = (unsigned char *)der;
	s.cert_len = sizeof(der);
	CHECK(db_ocsp_signer_insert(db, &s), 1);
	s.key_uri = (char *)"pkcs11:object=ocsp-2";
	CHECK(db_ocsp_signer_insert(db, &s), 1);
	CHECK(db_ocsp_signer_latest(db, ca, &got), 1);
	assert_string_equal(got.key_uri, "pkcs11:object=ocsp-2");
	assert_int_equal(got.id, s.id);
	db_ocsp_signer_clear(&got);
	s.key_uri = NULL;
	CHECK(db_ocsp_signer_insert(db, &s), -1);
}

/*
 * OCSP answers produced ahead of time (migration 023): a certificate
 * without answer is due once its CA has a signer (before, no answer can
 * be made: listing it would fill every batch); an answer is stored only
 * while the status it
 * signs holds; a revocation makes it stale in the same statement, so
 * that it is due again and not served.
 */
static void
test_ocsp_answer(void **state)
{
	long long ca = make_ca("ocsp-answers"), all = 0, fresh = 0, rows = -1;
	struct db_cert c;
	struct db_cert_state st;
	struct db_ocsp_answer a, got;
	struct db_ocsp_due *due = NULL;
	struct db_ocsp_signer sg;
	size_t n = 0, i;
	int found = 0;
	char sql[160];

	(void)state;
	make_cert(&c, ca, "a51", "CN=OCSP answer", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_ocsp_answer_due(db, 60, 1, 1000, &due, &n), 1);
	for (i = 0; i < n; i++)
		found |= due[i].ca_id == ca;
	free(due);
	assert_false(found); /* no signer yet */
	memset(&sg, 0, sizeof(sg));
	sg.ca_id = ca;
	sg.key_uri = (char *)"pkcs11:object=answers";
	sg.cert = (unsigned char *)der;
	sg.cert_len = sizeof(der);
	CHECK(db_ocsp_signer_insert(db, &sg), 1);
	CHECK(db_ocsp_answer_get(db, ca, "a51", "sha1", &st, &got), 1);
	assert_int_equal(st.status, DB_CERT_VALID);
	assert_null(got.der);
	CHECK(db_ocsp_answer_get(db, ca, "a52", "sha1", &st, &got), 0);
	CHECK(db_ocsp_answer_get(db, ca, "a51", "md5", &st, &got), -1);
	CHECK(db_ocsp_answer_due(db, 60, 1, 1000, &due, &n), 1);
	for (i = 0; i < n; i++)
		found |= due[i].ca_id == ca &&
		    strcmp(due[i].serial, "a51") == 0 &&
		    strcmp(due[i].md, "sha1") == 0 &&
		    due[i].cert.status == DB_CERT_VALID &&
		    due[i].cert.revoked_at == 0 && due[i].cert.reason == -1;
	free(due);
	assert_true(found);

	memset(&a, 0, sizeof(a));
	a.ca_id = ca;
	strcpy(a.serial, "a51");
	strcpy(a.md, "sha1");
	a.status = DB_OCSP_REVOKED; /* not what the certificate has */
	a.reason = -1;
	a.revoked_at = time(NULL);
	a.signer_id = 7;
	a.this_update = time(NULL);
	a.next_update = a.this_update + 3600;
	a.der = (unsigned char *)der;
	a.der_len = sizeof(der);
	CHECK(db_ocsp_answer_put(db, &a), 0);
	a.status = DB_OCSP_GOOD;
	CHECK(db_ocsp_answer_put(db, &a), 1);
	CHECK(db_ocsp_answer_put(db, &a), 1); /* replaced */
	CHECK(db_ocsp_answer_get(db, ca, "a51", "sha1", &st, &got), 1);
	assert_int_equal(got.status, DB_OCSP_GOOD);
	assert_int_equal(got.signer_id, 7);
	assert_int_equal(got.stale, 0);
	assert_int_equal(got.next_update, a.next_update);
	assert_int_equal(got.der_len, sizeof(der));
	assert_memory_equal(got.der, der, sizeof(der));
	db_ocsp_answer_clear(&got);
	CHECK(db_ocsp_answer_count(db, &all, &fresh), 1);
	assert_true(all >= 1 && fresh >= 1);

	/* Not due: fresh, an hour left, 60 s margin. */
	CHECK(db_ocsp_answer_due(db, 60, 0, 1000, &due, &n), 1);
	for (i = 0, found = 0; i < n; i++)
		found |= due[i].ca_id == ca;
	free(due);
	assert_false(found);
	/* Due: within a margin of two hours. */
	CHECK(db_ocsp_answer_due(db, 7200, 0, 1000, &due, &n), 1);
	for (i = 0, found = 0; i < n; i++)
		found |= due[i].ca_id == ca &&
		    due[i].cert.status == DB_CERT_VALID;
	free(due);
	assert_true(found);

	snprintf(sql, sizeof(sql), "UPDATE cert SET status = 'revoked', "
	    "revoked_at = now(), reason = 1 WHERE ca_id = %lld", ca);
	CHECK(db_exec_unsafe(db, sql), 1);
	CHECK(db_ocsp_answer_get(db, ca, "a51", "sha1", &st, &got), 1);
	assert_int_equal(st.status, DB_CERT_REVOKED);
	assert_int_equal(st.reason, 1);
	assert_int_equal(got.stale, 1);
	db_ocsp_answer_clear(&got);
	CHECK(db_ocsp_answer_due(db, 60, 0, 1000, &due, &n), 1);
	for (i = 0, found = 0; i < n; i++)
		found |= due[i].ca_id == ca;
	free(due);
	assert_true(found);
	CHECK(db_ocsp_answer_prune(db, &rows), 1);
	assert_int_equal(rows, 0); /* the certificate has not expired */
	db_ocsp_answer_clear(NULL);
}

/* Collects the serials db_cert_revoked_each reports. */
struct revoked {
	char serials[8][16];
	int reason[8];
	time_t invalid[8];
	int n;
};

static int
revoked_cb(void *arg, const char *serial, time_t when, int reason,
    time_t invalid)
{
	struct revoked *rv = arg;

	assert_true(when > 0);
	if (rv->n < 8) {
		snprintf(rv->serials[rv->n], sizeof(rv->serials[0]), "%s",
		    serial);
		rv->reason[rv->n] = reason;
		rv->invalid[rv->n] = invalid;
		rv->n++;
	}
	return 1;
}

/* Kinds, OCSP status, CRL entries with invalidity dates. */
static void
test_cert_kind_status(void **state)
{
	struct db_cert c, v, *a = NULL;
	struct db_cert_state cs;
	struct revoked rv;
	long long ca = make_ca("kind-ca"), num = -1;
	size_t n = 0;

	(void)state;
	make_cert(&c, ca, "7001", "CN=Sub CA", DB_CERT_VALID);
	c.not_after = time(NULL) + 86400;
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_cert_set_kind(db, c.id, "ca"), 1);
	CHECK(db_cert_list_kind(db, ca, "ca", &a, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].kind, "ca");
	db_cert_array_free(a, n);
	CHECK(db_cert_list_kind(db, ca, "cross", &a, &n), 1);
	assert_int_equal(n, 0);

	make_cert(&v, ca, "7002", "CN=Valid", DB_CERT_VALID);
	v.not_after = time(NULL) + 86400;
	CHECK(db_cert_insert(db, &v), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_VALID,
	    DB_CERT_REVOKED, 1), 1);
	CHECK(db_cert_set_invalidity(db, c.id, 1700000100), 1);
	CHECK(db_cert_get_status(db, ca, "7001", &cs), 1);
	assert_int_equal(cs.status, DB_CERT_REVOKED);
	assert_int_equal(cs.reason, 1);
	assert_true(cs.revoked_at > 0);
	CHECK(db_cert_get_status(db, ca, "7002", &cs), 1);
	assert_int_equal(cs.status, DB_CERT_VALID);
	CHECK(db_cert_get_status(db, ca, "7fff", &cs), 0);
	memset(&rv, 0, sizeof(rv));
	CHECK(db_cert_revoked_each(db, ca, revoked_cb, &rv), 1);
	assert_int_equal(rv.n, 1);
	assert_string_equal(rv.serials[0], "7001");
	assert_int_equal(rv.reason[0], 1);
	assert_int_equal(rv.invalid[0], 1700000100);
	CHECK(db_crl_latest_number(db, ca, &num), 0);
	CHECK(db_crl_next(db, ca, &num), 1);
	assert_int_equal(num, 1);
}

/* A pending CA is activated once; a rollover moves what the old key
 * signed to the old row and changes db_ca_version; the root key update
 * pair is stored and read back. */
static void
test_ca_lifecycle(void **state)
{
	static const unsigned char cert2[] = {0x30, 0x03, 0x02, 0x01, 0x02};
	unsigned char v1[DB_CA_VERSION_LEN], v2[DB_CA_VERSION_LEN];
	unsigned char h[32];
	struct db_ca ca, got;
	struct db_cert c, gc;
	struct db_keyupd k;
	long long old_id;

	(void)state;
	memset(&ca, 0, sizeof(ca));
	strcpy(ca.label, "life-ca");
	ca.key_uri = (char *)"pkcs11:object=life";
	strcpy(ca.status, "pending");
	CHECK(db_ca_insert(db, &ca), 1);
	CHECK(db_ca_activate(db, ca.id, der, sizeof(der), NULL, 0), 1);
	CHECK(db_ca_activate(db, ca.id, der, sizeof(der), NULL, 0), 0);
	CHECK(db_ca_get(db, ca.id, &got), 1);
	assert_string_equal(got.status, "active");
	db_ca_clear(&got);

	old_id = make_ca("life-ca.old1");
	make_cert(&c, ca.id, "8001", "CN=Life EE", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_ca_version(db, v1), 1);
	CHECK(db_begin(db), 1);
	CHECK(db_ca_rekey(db, ca.id, old_id, "pkcs11:object=life-k2", cert2,
	    sizeof(cert2)), 1);
	CHECK(db_commit(db), 1);
	CHECK(db_ca_version(db, v2), 1);
	assert_memory_not_equal(v1, v2, sizeof(v1));
	CHECK(db_cert_get(db, c.id, &gc), 1);
	assert_int_equal(gc.ca_id, old_id);
	db_cert_clear(&gc);

	memset(h, 0x11, sizeof(h));
	CHECK(db_keyupd_latest(db, ca.id, &k), 0);
	CHECK(db_keyupd_add(db, ca.id, "new-with-old", "CN=life-ca",
	    "CN=life-ca", time(NULL) + 86400, der, sizeof(der), h), 1);
	h[0] = 0x12;
	CHECK(db_keyupd_add(db, ca.id, "old-with-new", "CN=life-ca",
	    "CN=life-ca", time(NULL) + 86400, cert2, sizeof(cert2), h), 1);
	CHECK(db_keyupd_latest(db, ca.id, &k), 1);
	assert_memory_equal(k.new_with_old, der, sizeof(der));
	assert_memory_equal(k.old_with_new, cert2, sizeof(cert2));
	db_keyupd_clear(&k);
}

/* The transaction with its certificates in one read; expiry rejects the
 * unconfirmed certificates of a transaction past its time. */
static void
test_txn_certs_expire(void **state)
{
	struct db_txn t, got;
	struct db_cert c, *a = NULL;
	long long txns = -1, certs = -1;
	size_t n = 0;

	(void)state;
	memset(&t, 0, sizeof(t));
	memcpy(t.id, "exp-tx", 6);
	t.id_len = 6;
	t.ca_id = ca_a;
	strcpy(t.sender, "secret:exp");
	strcpy(t.kind, "ir");
	t.state = DB_TXN_WAIT_CONF;
	t.pvno = 2;
	t.expires = time(NULL) - 10;
	CHECK(db_txn_insert(db, &t), 1);
	make_cert(&c, ca_a, "9001", "CN=Expiring", DB_CERT_UNCONFIRMED);
	memcpy(c.txid, t.id, t.id_len);
	c.txid_len = t.id_len;
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_txn_get_certs(db, t.id, t.id_len, &got, &a, &n), 1);
	assert_int_equal(got.state, DB_TXN_WAIT_CONF);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].id, c.id);
	db_cert_array_free(a, n);
	CHECK(db_txn_get_certs(db, (const unsigned char *)"none", 4, &got, &a,
	    &n), 0);
	CHECK(db_txn_expire(db, 5, &txns, &certs), 1);
	assert_true(txns >= 1 && certs >= 1);
	CHECK(db_txn_get(db, t.id, t.id_len, &got), 1);
	assert_int_equal(got.state, DB_TXN_ABORTED);
	CHECK(db_cert_get(db, c.id, &c), 1);
	assert_int_equal(c.status, DB_CERT_REJECTED);
	assert_int_equal(c.reason, 5);
	db_cert_clear(&c);
}

/* Helpers: the shipped version, secret copies, clears. */
static void
test_helpers(void **state)
{
	struct db_secret s, d, *a = NULL;
	size_t n = 0;
	int v = -1;

	(void)state;
	CHECK(db_schema_shipped(db, SCHEMA_DIR, &v), 1);
	assert_true(v >= 15);
	memset(&s, 0, sizeof(s));
	strcpy(s.ref, "copy-me");
	s.secret = (unsigned char *)"clear";
	s.secret_len = 5;
	s.sealed = (unsigned char *)"\x03sealed";
	s.sealed_len = 7;
	s.allowed_subject = (char *)"CN=x";
	s.uses_left = 3;
	assert_int_equal(db_secret_copy(&d, &s), 1);
	assert_string_equal(d.ref, "copy-me");
	assert_null(d.secret); /* never the clear secret */
	assert_memory_equal(d.sealed, "\x03sealed", 7);
	assert_string_equal(d.allowed_subject, "CN=x");
	db_secret_clear(&d);
	CHECK(db_secret_list_clear(db, &a, &n), 1);
	db_secret_array_free(a, n);
	db_audit_clear(NULL);
	db_audit_link_clear(NULL);
	db_audit_ckpt_clear(NULL);
	db_admin_cert_clear(NULL);
	db_keyupd_clear(NULL);
	db_ocsp_signer_clear(NULL);
}

static char hook_state[8];

static void
error_hook(const char *sqlstate)
{
	snprintf(hook_state, sizeof(hook_state), "%s", sqlstate);
}

/* The operators' page queries, the metrics hook on a failed statement,
 * the connection's role and grants, a snapshot read. */
static void
test_admin_role_hook(void **state)
{
	struct db_admin_filter f = {0};
	struct db_admin_cert *a = NULL;
	struct db_cert c, c2;
	struct db_role role;
	long long counts[3] = {-1, -1, -1}, seq;
	long long ca = make_ca("admin-ca");
	time_t first = 0, at;
	size_t n = 0, i;
	int rc;

	(void)state;
	make_cert(&c, ca, "a001", "CN=Admin Page Subject", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	f.subject = "admin page";
	f.limit = 10;
	CHECK(db_admin_cert_list(db, &f, &a, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].ca_label, "admin-ca");
	assert_string_equal(a[0].serial, "a001");
	assert_int_equal(a[0].status, DB_CERT_VALID);
	db_admin_cert_array_free(a, n);
	f.subject = NULL;
	f.serial = "a001";
	f.status = DB_CERT_REVOKED;
	CHECK(db_admin_cert_list(db, &f, &a, &n), 1);
	assert_int_equal(n, 0);
	/* Valid and expiring within 30 days, soonest first. */
	make_cert(&c2, ca, "a002", "CN=Admin Expiring", DB_CERT_VALID);
	c2.not_after = time(NULL) + 10 * 86400;
	CHECK(db_cert_insert(db, &c2), 1);
	memset(&f, 0, sizeof(f));
	f.limit = 10;
	f.expiring_days = 30;
	CHECK(db_admin_cert_list(db, &f, &a, &n), 1);
	rc = 0;
	for (i = 0; i < n; i++) {
		rc |= strcmp(a[i].serial, "a002") == 0;
		assert_true(a[i].not_after <= time(NULL) + 30 * 86400 &&
		    a[i].status == DB_CERT_VALID);
		assert_true(i == 0 || a[i - 1].not_after <= a[i].not_after);
	}
	assert_true(rc);
	db_admin_cert_array_free(a, n);
	f.expiring_days = 5;
	CHECK(db_admin_cert_list(db, &f, &a, &n), 1);
	for (i = 0; i < n; i++)
		assert_string_not_equal(a[i].serial, "a002");
	db_admin_cert_array_free(a, n);
	f.expiring_days = -1;
	CHECK(db_admin_cert_list(db, &f, &a, &n), -1);
	rc = db_admin_ckpt_last(db, &seq, &at);
	assert_true(rc == 0 || (rc == 1 && seq > 0 && at > 0));
	CHECK(db_admin_hourly(db, 3, counts, &first), 1);
	assert_true(counts[2] >= 1); /* created this hour */
	assert_true(first > 0 && first <= time(NULL) - 2 * 3600);
	CHECK(db_admin_hourly(db, DB_ADMIN_MAX_HOURS + 1, counts, &first),
	    -1);

	/* A failed statement reports its SQLSTATE to the hook, once set. */
	db_error_hook_set(error_hook);
	CHECK(db_cert_set_kind(db, c.id, "no-such-kind"), -1);
	assert_string_equal(hook_state, "23514"); /* check_violation */
	db_error_hook_set(NULL);
	hook_state[0] = '\0';
	CHECK(db_cert_set_kind(db, c.id, "no-such-kind"), -1);
	assert_string_equal(hook_state, "");

	CHECK(db_begin(db), 1);
	CHECK(db_begin_snapshot(db), 0); /* one transaction at a time */
	db_rollback(db);
	CHECK(db_begin_snapshot(db), 1);
	CHECK(db_role_get(db, &role), 1);
	db_rollback(db);
	assert_true(role.name[0] != '\0');
	assert_int_equal(role.superuser, 1); /* the test cluster's */
	CHECK(db_grants_apply(db), 1);
}

/* Collects db_schema_check's sentences: how many, and the last. */
struct problems {
	int n;
	char last[DB_PROBLEM_MAX];
};

static void
problem(void *arg, const char *msg)
{
	struct problems *p = arg;

	p->n++;
	snprintf(p->last, sizeof(p->last), "%s", msg);
}

/*
 * Migration 016 (issue 23): certificate states are a state machine for
 * every role (here the superuser's); the history check finds a transition
 * made with the trigger off; the schema check names a disabled audit
 * trigger and a grant cmpca_grants() did not give; the seal fences by
 * itself; checkpoint ids and audit keys read back.
 */
static void
test_audit_hardening(void **state)
{
	struct db_cert c;
	struct db_audit_transition t;
	struct db_audit_ckpt k;
	struct problems p;
	unsigned char hash[DB_HASH_LEN];
	long long ca = make_ca("state-ca"), id, seq = -1, a, b, top, drawn;
	time_t at = 1;
	char sql[256];

	(void)state;
	CHECK(db_grants_apply(db), 1);
	CHECK(db_grants_baseline(db), 1);
	memset(&p, 0, sizeof(p));
	CHECK(db_schema_check(db, problem, &p), 0);
	assert_int_equal(p.n, 0);

	make_cert(&c, ca, "5001", "CN=State", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	id = c.id;
	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_VALID, DB_CERT_REVOKED,
	    1), 1);
	/* Out of a keyCompromise revocation: refused. */
	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_REVOKED, DB_CERT_VALID,
	    -1), -1);
	assert_non_null(strstr(db_error(db), "not a transition the CA makes"));
	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_REVOKED,
	    DB_CERT_UNCONFIRMED, -1), -1);
	/* certificateHold: released, or made permanent with another reason. */
	make_cert(&c, ca, "5002", "CN=Hold", DB_CERT_VALID);
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_VALID,
	    DB_CERT_REVOKED, 6), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_REVOKED,
	    DB_CERT_VALID, -1), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_VALID,
	    DB_CERT_REVOKED, 6), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_REVOKED,
	    DB_CERT_REVOKED, 1), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_REVOKED,
	    DB_CERT_REVOKED, 6), -1);
	/* Out of rejected: refused. */
	make_cert(&c, ca, "5003", "CN=Rejected", DB_CERT_UNCONFIRMED);
	CHECK(db_cert_insert(db, &c), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_UNCONFIRMED,
	    DB_CERT_REJECTED, -1), 1);
	CHECK(db_cert_set_status(db, c.id, 1u << DB_CERT_REJECTED,
	    DB_CERT_VALID, -1), -1);
	memset(&t, 0, sizeof(t));
	CHECK(db_audit_transition_check(db, &t), 0);

	/* With the trigger off (a superuser could): the schema check names
	 * it, and the history shows the un-revocation. */
	CHECK(db_exec_unsafe(db, "ALTER TABLE cert DISABLE TRIGGER "
	    "cert_status_transition"), 1);
	memset(&p, 0, sizeof(p));
	CHECK(db_schema_check(db, problem, &p), 1);
	assert_string_equal(p.last,
	    "trigger cert_status_transition on cert is disabled");
	CHECK(db_cert_set_status(db, id, 1u << DB_CERT_REVOKED, DB_CERT_VALID,
	    -1), 1);
	CHECK(db_exec_unsafe(db, "ALTER TABLE cert ENABLE TRIGGER "
	    "cert_status_transition"), 1);
	CHECK(db_audit_transition_check(db, &t), 1);
	assert_int_equal(t.cert_id, id);
	assert_string_equal(t.serial, "5001");
	assert_string_equal(t.from, "revoked 1");
	assert_string_equal(t.to, "valid -");

	/* A grant by hand: more than cmpca_grants() gives. */
	CHECK(db_exec_unsafe(db, "GRANT DELETE ON audit TO cmpca_daemon"), 1);
	memset(&p, 0, sizeof(p));
	CHECK(db_schema_check(db, problem, &p), 1);
	assert_string_equal(p.last, "role cmpca_daemon holds DELETE on "
	    "relation audit, which cmpca_grants() does not give (revoke it, "
	    "or run cmpca db migrate)");
	CHECK(db_grants_apply(db), 1);
	memset(&p, 0, sizeof(p));
	CHECK(db_schema_check(db, problem, &p), 0);
	/* A membership is never what cmpca_grants() gives, even one made
	 * before a migrate. */
	CHECK(db_exec_unsafe(db, "GRANT pg_read_all_data TO cmpca_daemon"),
	    1);
	CHECK(db_grants_apply(db), 1);
	memset(&p, 0, sizeof(p));
	CHECK(db_schema_check(db, problem, &p), 1);
	assert_string_equal(p.last, "role cmpca_daemon holds MEMBER on role "
	    "pg_read_all_data, which cmpca_grants() does not give (revoke it, "
	    "or run cmpca db migrate)");
	CHECK(db_exec_unsafe(db, "REVOKE pg_read_all_data FROM cmpca_daemon"),
	    1);
	memset(&p, 0, sizeof(p));
	CHECK(db_schema_check(db, problem, &p), 0);

	/* A direct cert-status row: refused. */
	snprintf(sql, sizeof(sql), "INSERT INTO audit (event, detail) VALUES "
	    "('cert-status', '%lld 5001 valid - -')", id);
	CHECK(db_exec_unsafe(db, sql), -1);
	/* Nor an issue row (it says a status since migration 029), even
	 * with the settings cmpca_cert_store gives the cert trigger. */
	snprintf(sql, sizeof(sql), "SELECT set_config('cmpca.status_event', "
	    "'issue', false); INSERT INTO audit (event, detail) VALUES "
	    "('issue', '%lld 5001 valid - -')", id);
	CHECK(db_exec_unsafe(db, sql), -1);
	CHECK(db_exec_unsafe(db, "SELECT set_config('cmpca.status_event', '', "
	    "false)"), 1);
	/* cmpca_refuse raises the refusal codes only (029). */
	CHECK(db_exec_unsafe(db, "SELECT cmpca_refuse('CA006', 'x')"), -1);
	assert_non_null(strstr(db_error(db), "x"));
	CHECK(db_exec_unsafe(db, "SELECT cmpca_refuse('P0001', 'x')"), -1);
	assert_non_null(strstr(db_error(db), "is not a refusal code"));

	/* The seal fences by itself; checkpoint ids and keys. */
	CHECK(db_audit_seal(db, &seq, hash), 1);
	assert_true(seq > 0);
	CHECK(db_audit_ckpt_last(db, &a, &at), 1);
	assert_int_equal(a, 0);
	assert_int_equal(at, 0);
	CHECK(db_audit_ckpt_ids(db, &a, &b, &top), 1);
	assert_int_equal(a, 0);
	assert_int_equal(top, 0);
	CHECK(db_audit_ckpt_drawn(db, &drawn), 1);
	assert_int_equal(drawn, 0);
	memset(&k, 0, sizeof(k));
	CHECK(db_audit_key_get(db, 999999, &k), 0);
}

const struct CMUnitTest test_db_more_tests[] = {
    cmocka_unit_test(test_pending),
    cmocka_unit_test(test_ra),
    cmocka_unit_test(test_upstream),
    cmocka_unit_test(test_partner_ca_cert),
    cmocka_unit_test(test_ocsp_signer),
    cmocka_unit_test(test_ocsp_answer),
    cmocka_unit_test(test_cert_kind_status),
    cmocka_unit_test(test_ca_lifecycle),
    cmocka_unit_test(test_txn_certs_expire),
    cmocka_unit_test(test_helpers),
    cmocka_unit_test(test_admin_role_hook),
    cmocka_unit_test(test_audit_hardening),
};
const size_t test_db_more_n =
    sizeof(test_db_more_tests) / sizeof(test_db_more_tests[0]);
