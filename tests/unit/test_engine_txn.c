/*
 * test_engine_txn.c - issuance and its transaction: ir, certConf,
 * implicit confirmation, replay, several requests, garbage, genm, delayed
 * delivery, and the table of single rejections (part of test_engine, see
 * test_engine.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tests/unit/test_engine.h"

void
test_ir_accepted(void **state)
{
	struct rq q;
	CMP_MSG *resp;
	const CMP_HEADER *h;
	const ASN1_INTEGER *sn;
	X509 *cert;
	BIGNUM *bn;
	int days, secs;

	(void)state;
	rq_init(&q);
	resp = ir_ok(&q, NULL);
	h = resp->header;
	assert_int_equal(h->transactionID->length, sizeof(q.txid));
	assert_memory_equal(h->transactionID->data, q.txid, sizeof(q.txid));
	assert_non_null(h->recipNonce);
	assert_int_equal(h->recipNonce->length, sizeof(q.nonce));
	assert_memory_equal(h->recipNonce->data, q.nonce, sizeof(q.nonce));
	OK(h->senderNonce != NULL && h->senderNonce->length >= 16);
	OK(h->sender->type == GEN_DIRNAME &&
	    X509_NAME_cmp(h->sender->d.directoryName,
	        X509_get_subject_name(fx.ca_cert)) == 0);
	OK(h->recipient->type == GEN_DIRNAME &&
	    X509_NAME_cmp(h->recipient->d.directoryName, fx.client) == 0);
	assert_false(cmp_hdr_implicit_confirm(h));

	cert = ip_cert(resp, 0, 0);
	assert_int_equal(
	    X509_NAME_cmp(X509_get_subject_name(cert), fx.client), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), fx.key), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert),
	                     X509_get_subject_name(fx.ca_cert)),
	    0);
	assert_int_equal(X509_verify(cert, X509_get0_pubkey(fx.ca_cert)), 1);
	sn = X509_get0_serialNumber(cert);
	assert_non_null(bn = ASN1_INTEGER_to_BN(sn, NULL));
	OK(!BN_is_negative(bn) && !BN_is_zero(bn));
	BN_free(bn);
	/* RFC 5280 §4.1.2.2: at most 20 content octets. */
	OK(i2d_ASN1_INTEGER(sn, NULL) - 2 <= 20);
	OK(ASN1_TIME_diff(
	    &days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)));
	assert_int_equal(days, 30);
	assert_int_equal(X509_check_ca(cert), 0); /* profile: CA:FALSE */
	OK(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0);
	OK(X509_get_ext_by_NID(cert, NID_authority_key_identifier, -1) >= 0);
	{ /* The profile's URLs name the issuing CA ("test"). */
		CRL_DIST_POINTS *cdp = X509_get_ext_d2i(cert,
		    NID_crl_distribution_points, NULL, NULL);
		AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert,
		    NID_info_access, NULL, NULL);
		const DIST_POINT *dp;
		const ACCESS_DESCRIPTION *ad;
		const GENERAL_NAME *gn;

		OK(cdp != NULL && sk_DIST_POINT_num(cdp) == 1);
		dp = sk_DIST_POINT_value(cdp, 0);
		OK(dp->distpoint != NULL && dp->distpoint->type == 0);
		gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
		OK(gn != NULL && gn->type == GEN_URI);
		assert_string_equal((const char *)gn->d.ia5->data,
		    "http://crl.example/test.crl");
		OK(aia != NULL && sk_ACCESS_DESCRIPTION_num(aia) == 1);
		ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
		assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_OCSP);
		assert_string_equal((const char *)ad->location->d.ia5->data,
		    "http://ocsp.example/");
		CRL_DIST_POINTS_free(cdp);
		AUTHORITY_INFO_ACCESS_free(aia);
	}

	assert_int_equal(sk_X509_num(resp->body->value.ip->caPubs), 1);
	assert_int_equal(
	    X509_cmp(
	        sk_X509_value(resp->body->value.ip->caPubs, 0), fx.ca_cert),
	    0);
	assert_int_equal(sk_X509_num(resp->extraCerts), 1);
	assert_int_equal(
	    X509_cmp(sk_X509_value(resp->extraCerts, 0), fx.ca_cert), 0);

	assert_int_equal(db_status(cert, NULL), DB_CERT_UNCONFIRMED);
	assert_int_equal(db_txn_state(&q), DB_TXN_WAIT_CONF);
	assert_int_equal(db_count(&q), 1);
}

static const int idx0[] = { 0 };

/* certConf after a one-certificate ir: the answer (ACCEPT: pkiConf) and
 * the database afterwards. A finished transaction refuses another one. */
static const struct cccase {
	const char *name;
	int flags; /* CC_* */
	int fail;  /* failInfo bit of the error, or ACCEPT */
	int cert;  /* certificate status */
	int txn;   /* transaction state */
} cccases[] = {
	{ "certconf_accept", 0, ACCEPT, DB_CERT_VALID, DB_TXN_DONE },
	{ "certconf_reject", CC_REJECT, ACCEPT, DB_CERT_REJECTED, DB_TXN_DONE },
	{ "certconf_bad_recipnonce", CC_BAD_NONCE, CMP_FAIL_BAD_RECIPIENT_NONCE,
	    DB_CERT_UNCONFIRMED, DB_TXN_WAIT_CONF },
	{ "certconf_bad_certhash", CC_BAD_HASH, CMP_FAIL_BAD_CERT_ID,
	    DB_CERT_UNCONFIRMED, DB_TXN_WAIT_CONF },
};

static void
test_certconf(void **state)
{
	const struct cccase *c = *state;
	struct rq q;
	CMP_MSG *ip, *resp;
	int reason = 0;

	rq_init(&q);
	ip = ir_ok(&q, NULL);
	resp = run(certconf_new(&q, ip, ip, idx0, 1, c->flags), NULL);
	check_prot(resp, 1);
	if (c->fail != ACCEPT)
		check_error(resp, c->fail);
	else if (resp->body->type != CMP_BODY_PKICONF)
		fail_msg(
		    "got %s, want pkiconf", cmp_body_name(resp->body->type));
	assert_memory_equal(
	    resp->header->recipNonce->data, q.nonce, sizeof(q.nonce));
	assert_int_equal(db_status(ip_cert(ip, 0, 0), &reason), c->cert);
	assert_int_equal(reason, c->cert == DB_CERT_REJECTED
		? CRL_REASON_CESSATION_OF_OPERATION : -1);
	assert_int_equal(db_txn_state(&q), c->txn);
	if (c->txn != DB_TXN_DONE)
		return;
	resp = run(certconf_new(&q, ip, resp, idx0, 1, 0), NULL);
	check_error(resp, CMP_FAIL_BAD_REQUEST);
	check_prot(resp, 1);
	assert_int_equal(db_status(ip_cert(ip, 0, 0), NULL), c->cert);
}

void
test_implicit_confirm(void **state)
{
	struct rq q;
	CMP_MSG *ip;

	(void)state;
	rq_init(&q);
	q.implicit = 1;
	ip = ir_ok(&q, NULL);
	OK(cmp_hdr_implicit_confirm(ip->header));
	assert_int_equal(db_status(ip_cert(ip, 0, 0), NULL), DB_CERT_VALID);
	assert_int_equal(db_txn_state(&q), DB_TXN_DONE);
}

/*
 * A replay is caught by the senderNonce (claimed in the same database
 * transaction as the issuance) before the transactionID: the identical
 * message gets badSenderNonce, a fresh nonce on a used transactionID gets
 * transactionIdInUse. Neither stores anything.
 */
void
test_replay(void **state)
{
	struct rq q;
	CMP_MSG *resp;
	unsigned char *der = NULL;
	size_t before;
	int len;

	(void)state;
	rq_init(&q);
	OK((len = cmp_msg_encode(req_new(&q), &der)) > 0);
	(void)ip_cert(run_der(der, (size_t)len, NULL, 200), 0, 0);
	before = db_count(NULL);

	resp = run_der(der, (size_t)len, NULL, 200);
	OPENSSL_free(der);
	check_error(resp, CMP_FAIL_BAD_SENDER_NONCE);
	check_prot(resp, 1);

	OK(RAND_bytes(q.nonce, sizeof(q.nonce)) == 1);
	resp = run(req_new(&q), NULL);
	check_error(resp, CMP_FAIL_TRANSACTION_ID_IN_USE);
	check_prot(resp, 1);

	assert_int_equal(db_count(NULL), before);
	assert_int_equal(db_count(&q), 1);
	assert_int_equal(db_txn_state(&q), DB_TXN_WAIT_CONF);
}

void
test_multi(void **state)
{
	static const int all[] = { 0, 1, 2 };
	struct rq q;
	CMP_MSG *ip, *conf;
	int i, reason;

	(void)state;
	rq_init(&q);
	q.n = 3;
	ip = ir_ok(&q, NULL);
	assert_int_equal(db_count(&q), 3);
	conf = run(certconf_new(&q, ip, ip, all, 3, 0), NULL);
	assert_int_equal(conf->body->type, CMP_BODY_PKICONF);
	for (i = 0; i < 3; i++)
		assert_int_equal(
		    db_status(ip_cert(ip, i, i), NULL), DB_CERT_VALID);
	assert_int_equal(db_txn_state(&q), DB_TXN_DONE);

	/* Only id 0 confirmed: the others count as rejected. */
	rq_init(&q);
	q.n = 3;
	ip = ir_ok(&q, NULL);
	conf = run(certconf_new(&q, ip, ip, idx0, 1, 0), NULL);
	assert_int_equal(conf->body->type, CMP_BODY_PKICONF);
	assert_int_equal(db_status(ip_cert(ip, 0, 0), NULL), DB_CERT_VALID);
	for (i = 1; i < 3; i++) {
		reason = -1;
		assert_int_equal(
		    db_status(ip_cert(ip, i, i), &reason), DB_CERT_REJECTED);
		assert_int_equal(reason, CRL_REASON_CESSATION_OF_OPERATION);
	}
	assert_int_equal(db_txn_state(&q), DB_TXN_DONE);
}

void
test_garbage(void **state)
{
	static const unsigned char junk[] = { 0x30, 0x82, 0x01, 0x00, 0xde,
		0xad, 0xbe, 0xef };
	struct rq q;
	CMP_MSG *resp;
	unsigned char *der = NULL, *longer;
	int len;

	(void)state;
	resp = run_der(junk, sizeof(junk), NULL, 400);
	check_error(resp, CMP_FAIL_BAD_DATA_FORMAT);
	check_prot(resp, 0);

	/* A good ir with one byte too many is no PKIMessage either. */
	rq_init(&q);
	OK((len = cmp_msg_encode(req_new(&q), &der)) > 0);
	assert_non_null(longer = OPENSSL_zalloc((size_t)len + 1));
	memcpy(longer, der, (size_t)len);
	OPENSSL_free(der);
	resp = run_der(longer, (size_t)len + 1, NULL, 400);
	OPENSSL_free(longer);
	check_error(resp, CMP_FAIL_BAD_DATA_FORMAT);
	assert_int_equal(db_txn_state(&q), 0);
}

/*
 * The table: one change to a good ir, and the answer. An error body
 * rejects the whole message and stores nothing; a rejection in the ip
 * stores no certificate and leaves no transaction waiting. mac: the
 * response is protected with our secret (1) or not at all (0). Fields
 * left 0 keep rq_init()'s value; every row sets want.
 */
#define F_UNPROTECTED 0x01
#define F_NO_SUBJECT 0x02
#define F_EMPTY_RECIP 0x04
#define F_OTHER_CA 0x08
#define F_DUP_RID 0x10
#define F_RSA1024 0x20

static const struct tcase {
	const char *name;
	int want;  /* failInfo bit, or ACCEPT */
	int in_ip; /* rejection inside the ip, not an error message */
	int mac;   /* response protected */
	long pvno, iter;
	int owf_nid, mac_nid, bad_pop, body, flags;
	const char *ref, *secret, *cn, *label;
} cases[] = {
	{ "ir_pvno3", ACCEPT, .pvno = 3 },
	{ "ir_hmacsha256_iter100", ACCEPT, .mac_nid = NID_hmacWithSHA256,
	    .iter = 100 },
	{ "ir_empty_recipient", ACCEPT, .flags = F_EMPTY_RECIP },
	{ "err_pvno1", CMP_FAIL_UNSUPPORTED_VERSION, .pvno = 1 },
	{ "err_pvno99", CMP_FAIL_UNSUPPORTED_VERSION, .pvno = 99 },
	{ "err_wrong_secret", CMP_FAIL_BAD_MESSAGE_CHECK, .secret = "wrong" },
	{ "err_unknown_ref", CMP_FAIL_BAD_MESSAGE_CHECK, .ref = "nosuchref" },
	{ "err_unprotected", CMP_FAIL_BAD_MESSAGE_CHECK,
	    .flags = F_UNPROTECTED },
	{ "err_pbm_iter_above_max", CMP_FAIL_BAD_REQUEST, .iter = 1000000 },
	/* RFC 4211 §4.4: "The iterationCount MUST be a minimum of 100". */
	{ "err_pbm_iter_below_100", CMP_FAIL_BAD_REQUEST, .iter = 99 },
	{ "err_pbm_owf_md5", CMP_FAIL_BAD_ALG, .owf_nid = NID_md5 },
	{ "err_duplicate_certreqid", CMP_FAIL_BAD_REQUEST, .mac = 1,
	    .flags = F_DUP_RID },
	{ "err_recipient_other_ca", CMP_FAIL_WRONG_AUTHORITY,
	    .flags = F_OTHER_CA },
	{ "err_label_nosuch", CMP_FAIL_WRONG_AUTHORITY, .label = "nosuch" },
	{ "err_response_body_pkiconf", CMP_FAIL_BAD_REQUEST, .mac = 1,
	    .body = CMP_BODY_PKICONF },
	{ "rej_pop_bit_flipped", CMP_FAIL_BAD_POP, 1, 1, .bad_pop = 1 },
	{ "rej_pop_other_request", CMP_FAIL_BAD_POP, 1, 1, .bad_pop = 2 },
	{ "rej_no_subject", CMP_FAIL_BAD_CERT_TEMPLATE, 1, 1,
	    .flags = F_NO_SUBJECT },
	{ "rej_rsa1024", CMP_FAIL_BAD_CERT_TEMPLATE, 1, 1, .flags = F_RSA1024 },
	{ "rej_subject_not_allowed", CMP_FAIL_NOT_AUTHORIZED, 1, 1,
	    .ref = "subj", .cn = "other" },
};

static void
test_case(void **state)
{
	const struct tcase *c = *state;
	size_t before = db_count(NULL);
	struct rq q;
	CMP_MSG *resp;

	rq_init(&q);
	q.pvno = c->pvno != 0 ? c->pvno : q.pvno;
	q.iter = c->iter != 0 ? c->iter : q.iter;
	q.owf_nid = c->owf_nid != 0 ? c->owf_nid : q.owf_nid;
	q.mac_nid = c->mac_nid != 0 ? c->mac_nid : q.mac_nid;
	q.body = c->body != 0 ? c->body : q.body;
	q.bad_pop = c->bad_pop;
	q.ref = c->ref != NULL ? c->ref : q.ref;
	q.secret = c->flags & F_UNPROTECTED ? NULL
	           : c->secret != NULL      ? c->secret
	                                    : q.secret;
	q.cn = c->flags & F_NO_SUBJECT ? NULL : c->cn != NULL ? c->cn : q.cn;
	q.key = c->flags & F_RSA1024 ? fx.rsa1024 : q.key;
	if (c->flags & (F_EMPTY_RECIP | F_OTHER_CA))
		q.recipient = c->flags & F_OTHER_CA ? fx.other_ca : NULL;
	if (c->flags & F_DUP_RID)
		q.n = 2, q.rid[1] = 0;
	if (c->want == ACCEPT) {
		(void)ir_ok(&q, c->label);
		assert_int_equal(db_txn_state(&q), DB_TXN_WAIT_CONF);
		assert_int_equal(db_count(NULL), before + 1);
		return;
	}
	resp = run(req_new(&q), c->label);
	if (c->in_ip) {
		(void)check_certresp(resp, 0, 0, CMP_STATUS_REJECTION, c->want);
		assert_null(resp->body->value.ip->caPubs);
		assert_null(resp->extraCerts);
		assert_int_not_equal(db_txn_state(&q), DB_TXN_WAIT_CONF);
	} else {
		check_error(resp, c->want);
		assert_int_equal(db_txn_state(&q), 0);
	}
	check_prot(resp, c->mac);
	assert_int_equal(db_count(&q), 0);
	assert_int_equal(db_count(NULL), before);
}

/*
 * genm leaves no transaction row behind (one per request, unprotected
 * ones included, filled the disk); its senderNonce is still claimed, so a
 * replay is refused.
 */
void
test_genm_no_txn(void **state)
{
	struct db_txn t;
	struct rq q;
	CMP_MSG *m = NULL;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		rq_init(&q);
		q.body = CMP_BODY_GENM;
		m = req_new(&q);
		assert_int_equal(run(m, NULL)->body->type, CMP_BODY_GENP);
		assert_int_equal(
		    db_txn_get(fx.chk, q.txid, sizeof(q.txid), &t), 0);
	}
	OK(db_exec_unsafe(fx.chk, "DO $$ BEGIN IF (SELECT count(*) FROM "
	                          "cmp_txn WHERE kind = 'genm') > 0 THEN "
	                          "RAISE EXCEPTION 'genm rows'; END IF; "
	                          "END $$") == 1);
	check_error(run(m, NULL), CMP_FAIL_BAD_SENDER_NONCE);
}

/*
 * Delayed delivery signs under the profile as configured at the poll
 * that issues. A request the profile refuses by then (here: its stored
 * CertReqMsg asks for OCSPSigning, as if the profile had changed) is
 * rejected with badCertTemplate naming the extension and the profile,
 * not answered with an internal error at every poll; nothing is stored
 * and the transaction ends.
 */
void
test_delayed_refused(void **state)
{
	struct rq q;
	CMP_MSG *ip, *poll, *resp;
	CMP_POLLREQ *pr;
	CRMF_CERTREQMSG *m;
	unsigned char *der = NULL;
	char *sql, *p;
	int len, i;
	const CMP_CERTRESPONSE *cr;
	size_t before = db_count(NULL);

	(void)state;
	rq_init(&q);
	q.ref = "ap";
	ip = run(req_new(&q), NULL);
	cr = sk_CMP_CERTRESPONSE_value(ip->body->value.ip->response, 0);
	assert_non_null(cr);
	assert_int_equal(ASN1_INTEGER_get(cr->status->status),
	    CMP_STATUS_WAITING);
	/* The stored request, approved, now asks for OCSPSigning. */
	assert_non_null(q.exts = sk_X509_EXTENSION_new_null());
	OK(sk_X509_EXTENSION_push(q.exts, X509V3_EXT_nconf(NULL, NULL,
	    "extendedKeyUsage", "OCSPSigning")));
	m = certreqmsg_new(&q, 0);
	sk_X509_EXTENSION_pop_free(q.exts, X509_EXTENSION_free);
	q.exts = NULL;
	OK((len = i2d_CRMF_CERTREQMSG(m, &der)) > 0);
	CRMF_CERTREQMSG_free(m);
	assert_non_null(sql = malloc((size_t)len * 2 + 256));
	p = sql + sprintf(sql, "UPDATE pending_req SET status = 'approved', "
	                       "request = '\\x");
	for (i = 0; i < len; i++)
		p += sprintf(p, "%02x", der[i]);
	p += sprintf(p, "' WHERE txid = '\\x");
	for (i = 0; i < (int)sizeof(q.txid); i++)
		p += sprintf(p, "%02x", q.txid[i]);
	sprintf(p, "'");
	if (db_exec_unsafe(fx.chk, sql) != 1)
		fail_msg("update pending_req: %s", db_error(fx.chk));
	free(sql);
	OPENSSL_free(der);

	OK(RAND_bytes(q.nonce, sizeof(q.nonce)) == 1);
	poll = keep(CMP_MSG_new());
	CMP_HEADER_free(poll->header);
	poll->header = hdr_new(&q, ip->header->senderNonce);
	poll->body->type = CMP_BODY_POLLREQ;
	assert_non_null(poll->body->value.pollReq = sk_CMP_POLLREQ_new_null());
	assert_non_null(pr = CMP_POLLREQ_new());
	OK(ASN1_INTEGER_set(pr->certReqId, 0));
	OK(sk_CMP_POLLREQ_push(poll->body->value.pollReq, pr));
	protect(poll, &q);
	resp = run(poll, NULL);
	cr = check_certresp(resp, 0, 0, CMP_STATUS_REJECTION,
	    CMP_FAIL_BAD_CERT_TEMPLATE);
	if (strstr(si_text(cr->status), "extendedKeyUsage OCSPSigning not "
	                                "allowed by profile approval") == NULL)
		fail_msg("statusString \"%s\"", si_text(cr->status));
	assert_int_equal(db_count(NULL), before);
	assert_int_equal(db_txn_state(&q), DB_TXN_DONE);
}

#define NCC (sizeof(cccases) / sizeof(cccases[0]))
#define NCASES (sizeof(cases) / sizeof(cases[0]))

const size_t test_engine_ncc = NCC;
const size_t test_engine_ncases = NCASES;

void
test_engine_cc_rows(struct CMUnitTest *t)
{
	size_t i;

	for (i = 0; i < NCC; i++)
		t[i] = (struct CMUnitTest){ cccases[i].name, test_certconf,
			NULL, gc_run, (void *)&cccases[i] };
}

void
test_engine_case_rows(struct CMUnitTest *t)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		t[i] = (struct CMUnitTest){ cases[i].name, test_case, NULL,
			gc_run, (void *)&cases[i] };
}
