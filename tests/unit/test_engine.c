/*
 * test_engine.c - the CMP engine (cmp_srv_process) in process: requests
 * built from the ASN.1 of ca/cmp_asn.h go in as DER, responses come out as
 * DER, and the database is checked after each exchange through a second
 * connection (committed rows only).
 *
 * Group set-up: a SoftHSM token in a temporary directory; the database
 * named by CMPCA_TEST_DB, its public schema dropped and migrated again
 * (unset: the set-up fails, never skips); a configuration file; a CA "test"
 * (EC P-256 key in the token, self-signed); three enrollment secrets.
 *
 *	scripts/pgtmp start /tmp/cmpca-engtest 5432
 *	CMPCA_TEST_DB="$(scripts/pgtmp conninfo /tmp/cmpca-engtest 5432)" \
 *	    ./build/rel/test_engine
 *
 * Each request has a fresh transactionID and senderNonce. Messages are
 * freed by the per-test teardown, even after a failed assertion. Single
 * rejections are rows of cases[], one cmocka test each.
 * CMPCA_TEST_VERBOSE=1 shows the engine's log lines.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"
#include "ca/status/status.h"
#include "daemon/worker.h"
#include "tests/unit/test_build.h"

#define TOKEN "cmpca-engtest"
#define USER_PIN "user-pin-4711"
#define SO_PIN "so-pin-0815"
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define SCHEMA_DIR "db/schema"
#define SECRET "s3cret"
#define TEST_MAX_ITER 10000000L /* our own derivations: no cap */
#define OK(x) assert_true(x)

static struct {
	char dir[64];
	const char *module;
	struct hsm *hsm;
	struct db *db;  /* the engine's connection */
	struct db *chk; /* for assertions */
	struct cfg *cfg;
	struct cmp_srv *srv;
	X509 *ca_cert;
	long long ca_id;
	EVP_PKEY *key;                /* the client's key, in software */
	EVP_PKEY *rsa1024;            /* a key too weak to certify */
	X509_NAME *client, *other_ca; /* CN=client: sender and subject */
	const char *conninfo;
	char pin[160];		      /* the PIN file */
} fx;

/* Per-test messages, freed by gc_run() even after a failed assertion. */
static CMP_MSG *gc[32];
static int ngc;

static CMP_MSG *
keep(CMP_MSG *m)
{
	assert_non_null(m);
	OK(ngc < (int)(sizeof(gc) / sizeof(gc[0])));
	return gc[ngc++] = m;
}

static int
gc_run(void **state)
{
	(void)state;
	while (ngc > 0)
		CMP_MSG_free(gc[--ngc]);
	ERR_clear_error();
	return 0;
}

static X509_NAME *
name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	OK(X509_NAME_add_entry_by_txt(
	    n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0));
	return n;
}

/* What a request looks like; rq_init() makes a good ir. */
struct rq {
	int body;
	long pvno;
	const char *ref;
	const char *secret; /* NULL: unprotected */
	long iter;
	int owf_nid, mac_nid;
	int implicit;
	int n;                      /* CertReqMsgs */
	int rid[3];                 /* their certReqIds */
	const char *cn;             /* subject CN, NULL: no subject */
	const X509_NAME *subject;   /* instead of cn, when set */
	EVP_PKEY *key;              /* template publicKey and POP key */
	int bad_pop;                /* 1: flipped bit, 2: other request */
	const X509_NAME *recipient; /* NULL: empty directoryName */
	STACK_OF(X509_EXTENSION) *exts; /* NULL: one SAN DNS:client.example */
	unsigned char txid[16], nonce[16];
};

static void
rq_init(struct rq *q)
{
	*q = (struct rq){ .body = CMP_BODY_IR,
		.pvno = 2,
		.ref = "ref1",
		.secret = SECRET,
		.iter = 500,
		.owf_nid = NID_sha256,
		.mac_nid = NID_hmac_sha1,
		.n = 1,
		.rid = { 0, 1, 2 },
		.cn = "client",
		.key = fx.key,
		.recipient = X509_get_subject_name(fx.ca_cert) };
	OK(RAND_bytes(q->txid, sizeof(q->txid)) == 1);
	OK(RAND_bytes(q->nonce, sizeof(q->nonce)) == 1);
}

static ASN1_OCTET_STRING *
octets(const void *data, int len)
{
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

	assert_non_null(s);
	OK(ASN1_OCTET_STRING_set(s, data, len));
	return s;
}

static void
gn_dirname(GENERAL_NAME **gn, const X509_NAME *name)
{
	X509_NAME *dup = name != NULL ? X509_NAME_dup(name) : X509_NAME_new();

	assert_non_null(dup);
	GENERAL_NAME_free(*gn);
	assert_non_null(*gn = GENERAL_NAME_new());
	GENERAL_NAME_set0_value(*gn, GEN_DIRNAME, dup);
}

/* PBM protectionAlg (RFC 4211 §4.4) with the parameters of q. */
static X509_ALGOR *
pbm_alg(const struct rq *q)
{
	CMP_PBMPARAM *p = CMP_PBMPARAM_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	unsigned char salt[16];

	OK(p != NULL && alg != NULL && seq != NULL);
	OK(RAND_bytes(salt, sizeof(salt)) == 1);
	OK(ASN1_OCTET_STRING_set(p->salt, salt, sizeof(salt)));
	OK(X509_ALGOR_set0(
	    p->owf, OBJ_nid2obj(q->owf_nid), V_ASN1_UNDEF, NULL));
	OK(ASN1_INTEGER_set(p->iterationCount, q->iter));
	OK(X509_ALGOR_set0(
	    p->mac, OBJ_nid2obj(q->mac_nid), V_ASN1_UNDEF, NULL));
	OK((seq->length = i2d_CMP_PBMPARAM(p, &seq->data)) > 0);
	OK(X509_ALGOR_set0(
	    alg, OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE, seq));
	CMP_PBMPARAM_free(p);
	return alg;
}

/* A request header; recip_nonce may be NULL. */
static CMP_HEADER *
hdr_new(const struct rq *q, const ASN1_OCTET_STRING *recip_nonce)
{
	CMP_HEADER *h = CMP_HEADER_new();
	CMP_ITAV *itav;

	assert_non_null(h);
	OK(ASN1_INTEGER_set(h->pvno, q->pvno));
	gn_dirname(&h->sender, fx.client);
	gn_dirname(&h->recipient, q->recipient);
	h->transactionID = octets(q->txid, sizeof(q->txid));
	h->senderNonce = octets(q->nonce, sizeof(q->nonce));
	if (recip_nonce != NULL)
		h->recipNonce = octets(recip_nonce->data, recip_nonce->length);
	if (q->ref != NULL)
		h->senderKID = octets(q->ref, (int)strlen(q->ref));
	if (q->secret != NULL)
		h->protectionAlg = pbm_alg(q);
	if (q->implicit) {
		assert_non_null(itav = CMP_ITAV_new());
		itav->infoType = OBJ_nid2obj(NID_id_it_implicitConfirm);
		assert_non_null(itav->infoValue = ASN1_TYPE_new());
		ASN1_TYPE_set(itav->infoValue, V_ASN1_NULL, NULL);
		assert_non_null(h->generalInfo = sk_CMP_ITAV_new_null());
		OK(sk_CMP_ITAV_push(h->generalInfo, itav));
	}
	return h;
}

/*
 * Protects m with q's secret through the engine's PBM code. Where that
 * refuses the parameters (md5), the MAC is a dummy: the engine must reject
 * the algorithm before it looks at the value.
 */
static void
protect(CMP_MSG *m, const struct rq *q)
{
	static unsigned char dummy[20];
	struct cmp_mac mac;
	const char *why;
	int fail;

	if (q->secret == NULL)
		return;
	if (cmp_pbm_derive(m->header->protectionAlg,
	        (const unsigned char *)q->secret, strlen(q->secret),
	        TEST_MAX_ITER, &mac, &fail, &why) == 1) {
		OK(cmp_pbm_protect(m, &mac));
		cmp_mac_clear(&mac);
		return;
	}
	assert_non_null(m->protection = ASN1_BIT_STRING_new());
	OK(ASN1_BIT_STRING_set(m->protection, dummy, sizeof(dummy)));
}

static CRMF_CERTREQMSG *
certreqmsg_new(const struct rq *q, int rid)
{
	CRMF_CERTREQMSG *m = CRMF_CERTREQMSG_new();
	CRMF_CERTTEMPLATE *t;
	CRMF_POPOSIGNINGKEY *sk;
	X509_EXTENSION *san;

	assert_non_null(m);
	t = m->certReq->certTemplate;
	if (q->subject != NULL)
		assert_non_null(t->subject = X509_NAME_dup(q->subject));
	else if (q->cn != NULL)
		t->subject = name_cn(q->cn);
	OK(cmp_spki_set(&t->publicKey, q->key));
	if (q->exts != NULL) {
		assert_non_null(t->extensions = sk_X509_EXTENSION_deep_copy(
		                    q->exts, X509_EXTENSION_dup,
		                    X509_EXTENSION_free));
	} else {
		assert_non_null(san = X509V3_EXT_conf_nid(NULL, NULL,
		                    NID_subject_alt_name, "DNS:client.example"));
		assert_non_null(t->extensions = sk_X509_EXTENSION_new_null());
		OK(sk_X509_EXTENSION_push(t->extensions, san));
	}
	assert_non_null(m->popo = CRMF_POPO_new());
	m->popo->type = CRMF_POPO_SIGNATURE;
	sk = m->popo->value.signature = CRMF_POPOSIGNINGKEY_new();
	assert_non_null(sk);
	/* bad_pop 2: the signature covers another CertRequest. */
	OK(ASN1_INTEGER_set(
	    m->certReq->certReqId, q->bad_pop == 2 ? rid + 99 : rid));
	OK(ASN1_item_sign(ASN1_ITEM_rptr(CRMF_CERTREQUEST),
	       sk->algorithmIdentifier, NULL, sk->signature, m->certReq, q->key,
	       EVP_sha256()) > 0);
	OK(ASN1_INTEGER_set(m->certReq->certReqId, rid));
	if (q->bad_pop == 1)
		sk->signature->data[sk->signature->length / 2] ^= 0x01;
	return m;
}

/* The request q describes, protected; kept for the teardown. */
static CMP_MSG *
req_new(const struct rq *q)
{
	CMP_MSG *m = keep(CMP_MSG_new());
	int i;

	CMP_HEADER_free(m->header);
	m->header = hdr_new(q, NULL);
	m->body->type = q->body;
	if (q->body == CMP_BODY_PKICONF) {
		assert_non_null(m->body->value.pkiconf = ASN1_NULL_new());
	} else if (q->body == CMP_BODY_GENM) {
		assert_non_null(m->body->value.genm = sk_CMP_ITAV_new_null());
	} else {
		assert_non_null(
		    m->body->value.ir = sk_CRMF_CERTREQMSG_new_null());
		for (i = 0; i < q->n; i++)
			OK(sk_CRMF_CERTREQMSG_push(
			    m->body->value.ir, certreqmsg_new(q, q->rid[i])));
	}
	protect(m, q);
	return m;
}

/* Runs the engine on DER; returns the decoded response (kept). */
static CMP_MSG *
run_der(const unsigned char *der, size_t len, const char *label, int want_http)
{
	unsigned char *out = NULL;
	size_t outlen = 0;
	const char *why = NULL;
	CMP_MSG *resp;

	assert_int_equal(
	    cmp_srv_process(fx.srv, label, der, len, &out, &outlen), want_http);
	OK(out != NULL && outlen > 0);
	resp = cmp_msg_parse(out, outlen, &why);
	OPENSSL_free(out);
	if (resp == NULL)
		fail_msg("response does not decode: %s", why);
	return keep(resp);
}

static CMP_MSG *
run(const CMP_MSG *req, const char *label)
{
	unsigned char *der = NULL;
	int len = cmp_msg_encode(req, &der);
	CMP_MSG *resp;

	OK(len > 0);
	resp = run_der(der, (size_t)len, label, 200);
	OPENSSL_free(der);
	return resp;
}

/* PKIFailureInfo as a bit mask. */
static unsigned
si_mask(const CMP_PKISI *si)
{
	unsigned m = 0;
	int i;

	for (i = 0; si->failInfo != NULL && i < 32; i++)
		if (ASN1_BIT_STRING_get_bit(si->failInfo, i))
			m |= 1u << i;
	return m;
}

static const char *
si_text(const CMP_PKISI *si)
{
	static char buf[256];
	const ASN1_UTF8STRING *s =
	    sk_ASN1_UTF8STRING_value(si->statusString, 0);

	snprintf(buf, sizeof(buf), "%.*s", s != NULL ? s->length : 0,
	    s != NULL ? (const char *)s->data : "");
	return buf;
}

/* status and exactly the failInfo bit fail (-1: none). */
static void
check_si(const CMP_PKISI *si, int status, int fail)
{
	unsigned want = fail < 0 ? 0 : 1u << fail;

	assert_non_null(si);
	if (ASN1_INTEGER_get(si->status) != status || si_mask(si) != want)
		fail_msg("PKIStatusInfo: status %ld failInfo 0x%x \"%s\"; "
		         "want status %d failInfo 0x%x",
		    ASN1_INTEGER_get(si->status), si_mask(si), si_text(si),
		    status, want);
}

static void
check_error(const CMP_MSG *m, int fail)
{
	if (m->body->type != CMP_BODY_ERROR)
		fail_msg("got %s, want error with failInfo bit %d",
		    cmp_body_name(m->body->type), fail);
	check_si(
	    m->body->value.error->pKIStatusInfo, CMP_STATUS_REJECTION, fail);
}

/* mac 1: protection verifies with our secret; 0: unprotected. */
static void
check_prot(const CMP_MSG *m, int mac)
{
	struct cmp_mac k;
	const char *why;
	int fail;

	if (!mac) {
		assert_null(m->protection);
		assert_null(m->header->protectionAlg);
		return;
	}
	assert_non_null(m->protection);
	OK(cmp_alg_is_pbm(m->header->protectionAlg));
	assert_int_equal(cmp_pbm_derive(m->header->protectionAlg,
	                     (const unsigned char *)SECRET, strlen(SECRET),
	                     TEST_MAX_ITER, &k, &fail, &why),
	    1);
	assert_int_equal(cmp_pbm_verify(m, &k, NULL, 0), 1);
	cmp_mac_clear(&k);
}

/* Response i of an ip/cp, with its PKIStatusInfo checked. */
static const CMP_CERTRESPONSE *
check_certresp(const CMP_MSG *m, int i, int rid, int status, int fail)
{
	const CMP_CERTRESPONSE *cr;

	if (m->body->type == CMP_BODY_ERROR)
		fail_msg("got error failInfo 0x%x \"%s\", want ip/cp",
		    si_mask(m->body->value.error->pKIStatusInfo),
		    si_text(m->body->value.error->pKIStatusInfo));
	if (m->body->type != CMP_BODY_IP && m->body->type != CMP_BODY_CP)
		fail_msg("got %s, want ip/cp", cmp_body_name(m->body->type));
	cr = sk_CMP_CERTRESPONSE_value(m->body->value.ip->response, i);
	assert_non_null(cr);
	assert_int_equal(ASN1_INTEGER_get(cr->certReqId), rid);
	check_si(cr->status, status, fail);
	if (status == CMP_STATUS_REJECTION)
		assert_null(cr->certifiedKeyPair);
	return cr;
}

/* The certificate of accepted response i (owned by m). */
static X509 *
ip_cert(const CMP_MSG *m, int i, int rid)
{
	const CMP_CERTRESPONSE *cr =
	    check_certresp(m, i, rid, CMP_STATUS_ACCEPTED, -1);

	assert_non_null(cr->certifiedKeyPair);
	assert_int_equal(cr->certifiedKeyPair->certOrEncCert->type, 0);
	assert_non_null(cr->certifiedKeyPair->certOrEncCert->value.certificate);
	return cr->certifiedKeyPair->certOrEncCert->value.certificate;
}

/* Sends q with label and checks an ip accepting every request. */
static CMP_MSG *
ir_ok(const struct rq *q, const char *label)
{
	CMP_MSG *resp = run(req_new(q), label);
	int i;

	for (i = 0; i < q->n; i++)
		(void)ip_cert(resp, i, q->rid[i]);
	assert_int_equal(
	    sk_CMP_CERTRESPONSE_num(resp->body->value.ip->response), q->n);
	assert_int_equal(ASN1_INTEGER_get(resp->header->pvno), q->pvno);
	check_prot(resp, 1);
	return resp;
}

#define CC_REJECT 1    /* statusInfo rejection */
#define CC_BAD_HASH 2  /* certHash of something else */
#define CC_BAD_NONCE 4 /* recipNonce not our last senderNonce */

/*
 * A certConf for responses idx[0..n) of ip, continuing q's transaction
 * with a fresh senderNonce; recipNonce is the senderNonce of prev.
 */
static CMP_MSG *
certconf_new(struct rq *q, const CMP_MSG *ip, const CMP_MSG *prev,
    const int *idx, int n, int flags)
{
	CMP_MSG *m = keep(CMP_MSG_new());
	ASN1_OCTET_STRING *rn =
	    ASN1_OCTET_STRING_dup(prev->header->senderNonce);
	int i;

	assert_non_null(rn);
	OK(RAND_bytes(q->nonce, sizeof(q->nonce)) == 1);
	if (flags & CC_BAD_NONCE)
		rn->data[0] ^= 0xff;
	CMP_HEADER_free(m->header);
	m->header = hdr_new(q, rn);
	ASN1_OCTET_STRING_free(rn);
	m->body->type = CMP_BODY_CERTCONF;
	assert_non_null(m->body->value.certConf = sk_CMP_CERTSTATUS_new_null());
	for (i = 0; i < n; i++) {
		const CMP_CERTRESPONSE *cr = sk_CMP_CERTRESPONSE_value(
		    ip->body->value.ip->response, idx[i]);
		CMP_CERTSTATUS *cs = CMP_CERTSTATUS_new();

		assert_non_null(cs);
		OK(sk_CMP_CERTSTATUS_push(m->body->value.certConf, cs));
		ASN1_OCTET_STRING_free(cs->certHash);
		assert_non_null(
		    cs->certHash = X509_digest_sig(
		        cr->certifiedKeyPair->certOrEncCert->value.certificate,
		        NULL, NULL));
		if (flags & CC_BAD_HASH)
			cs->certHash->data[3] ^= 0x10;
		OK(ASN1_INTEGER_set(
		    cs->certReqId, ASN1_INTEGER_get(cr->certReqId)));
		if (flags & CC_REJECT) {
			assert_non_null(cs->statusInfo = CMP_PKISI_new());
			OK(ASN1_INTEGER_set(
			    cs->statusInfo->status, CMP_STATUS_REJECTION));
		}
	}
	protect(m, q);
	return m;
}

/* Status of a certificate in the database (whose DER must be x). */
static int
db_status(X509 *x, int *reason)
{
	char serial[DB_SERIAL_MAX];
	struct db_cert c;
	unsigned char *der = NULL;
	int len, st;

	OK(ca_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial)));
	if (db_cert_get_by_serial(fx.chk, fx.ca_id, serial, &c) != 1)
		fail_msg("certificate %s not in the database: %s", serial,
		    db_error(fx.chk));
	OK((len = i2d_X509(x, &der)) > 0);
	assert_int_equal(c.der_len, len);
	assert_memory_equal(c.der, der, (size_t)len);
	OPENSSL_free(der);
	st = (int)c.status;
	if (reason != NULL)
		*reason = c.reason;
	db_cert_clear(&c);
	return st;
}

/* State of q's transaction, 0 if it was never stored. */
static int
db_txn_state(const struct rq *q)
{
	struct db_txn t;
	int rc = db_txn_get(fx.chk, q->txid, sizeof(q->txid), &t);

	OK(rc >= 0);
	return rc == 1 ? (int)t.state : 0;
}

/* Certificates of q's transaction, or of the CA when q is NULL. */
static size_t
db_count(const struct rq *q)
{
	struct db_cert *list = NULL;
	size_t n = 0;

	if (q != NULL)
		assert_int_equal(db_cert_list_by_txn(fx.chk, q->txid,
		                     sizeof(q->txid), &list, &n),
		    1);
	else
		assert_int_equal(
		    db_cert_list(fx.chk, fx.ca_id, 0, NULL, 100000, &list, &n),
		    1);
	db_cert_array_free(list, n);
	return n;
}

/* Tests. */

static void
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

#define ACCEPT (-1)
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

static void
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
static void
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

static void
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

static void
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

static void
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
 * A senderKID that names no secret costs the same derivation as one that
 * does (no timing oracle for which references exist), and is answered
 * like a wrong MAC; a known reference with a wrong secret, the same.
 */
static void
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
 * genm leaves no transaction row behind (one per request, unprotected
 * ones included, filled the disk); its senderNonce is still claimed, so a
 * replay is refused.
 */
static void
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
 * Requested extensions against the profile (issue 13): the test profile
 * "default" gives keyUsage digitalSignature, no extendedKeyUsage, and
 * copies subjectAltName of the four usual types. Each row is the
 * template's extensions (by name and value in openssl.cnf syntax, or by
 * OID and DER in hex) and the answer: ACCEPT, or a rejection inside the
 * ip with badCertTemplate and a statusString that starts with text.
 */
struct xspec {
	const char *name, *value, *hex;
};
static const struct xcase {
	const char *name;
	struct xspec x[3];
	int want;
	const char *text;
	const char *ref, *cn; /* NULL: ref1, client */
} xcases[] = {
	{ "ext_san_dns_ok", .x = { { "subjectAltName", "DNS:a.example",
				    NULL } },
	    .want = ACCEPT },
	{ "ext_ku_narrower_ok", .x = { { "keyUsage",
					"critical,digitalSignature", NULL } },
	    .want = ACCEPT },
	/* The request decides values, not criticality: keyUsage as critical
	 * as the profile's, subjectAltName next to a subject never. */
	{ "ext_criticality_profile", .x = { { "keyUsage", "digitalSignature",
					     NULL },
					   { "subjectAltName",
					     "critical,DNS:a.example", NULL } },
	    .want = ACCEPT },
	{ "ext_bc_false_ok", .x = { { "basicConstraints", "CA:FALSE", NULL } },
	    .want = ACCEPT },
	{ "rej_ext_dup_san",
	    .x = { { "subjectAltName", "DNS:a.example", NULL },
	        { "2.5.29.17", NULL, "300687040a000001" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "duplicate extension subjectAltName" },
	{ "rej_ext_san_undecodable", .x = { { "2.5.29.17", NULL, "0101ff" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extension subjectAltName does not decode" },
	{ "rej_ext_san_trailing",
	    .x = { { "2.5.29.17", NULL, "300b8209612e6578616d706c6500" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extension subjectAltName does not decode" },
	{ "rej_ext_san_dirname",
	    .x = { { "2.5.29.17", NULL,
	        "3010a40e300c310a300806035504030c0178" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "subjectAltName dirName not allowed by profile default" },
	{ "rej_ext_eku_ocsp",
	    .x = { { "extendedKeyUsage", "OCSPSigning", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extendedKeyUsage OCSPSigning not allowed by profile "
	            "default" },
	{ "rej_ext_eku_client",
	    .x = { { "extendedKeyUsage", "clientAuth", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extendedKeyUsage clientAuth not allowed by profile "
	            "default" },
	{ "rej_ext_ku_certsign",
	    .x = { { "keyUsage", "digitalSignature,keyCertSign", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "keyUsage keyCertSign not allowed by profile default" },
	{ "rej_ext_bc_ca",
	    .x = { { "basicConstraints", "critical,CA:TRUE", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "basicConstraints CA:TRUE not allowed by profile default" },
	{ "rej_ext_unknown_oid", .x = { { "1.2.3.4", NULL, "0500" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extension 1.2.3.4 not allowed by profile default" },
	{ "rej_ext_dup_unknown",
	    .x = { { "1.2.3.4", NULL, "0500" }, { "1.2.3.4", NULL, "0500" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "duplicate extension 1.2.3.4" },
	/* Names bound to the secret: "subj" to CN=allowed and nothing else,
	 * "sanpat" to DNS:*.dev.example and IP:10.0.0.1. */
	{ "ir_subject_allowed", .want = ACCEPT, .ref = "subj",
	    .cn = "allowed" },
	{ "rej_subject_bound_san",
	    .x = { { "subjectAltName", "DNS:a.example", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName DNS:a.example not allowed for this "
	            "enrollment secret",
	    .ref = "subj", .cn = "allowed" },
	{ "ir_san_pattern",
	    .x = { { "subjectAltName",
	        "DNS:a.dev.example,DNS:b.c.dev.example,IP:10.0.0.1", NULL } },
	    .want = ACCEPT, .ref = "sanpat" },
	{ "rej_san_pattern_other",
	    .x = { { "subjectAltName", "DNS:a.dev.example,DNS:login.bank.example",
	        NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName DNS:login.bank.example not allowed for "
	            "this enrollment secret",
	    .ref = "sanpat" },
	{ "rej_san_pattern_apex",
	    .x = { { "subjectAltName", "DNS:dev.example", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName DNS:dev.example not allowed",
	    .ref = "sanpat" },
	{ "rej_san_pattern_ip",
	    .x = { { "subjectAltName", "IP:10.0.0.2", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName IP:10.0.0.2 not allowed", .ref = "sanpat" },
	/* "sancidr": IP:192.0.2.0/24 and IP:2001:db8::/32. */
	{ "ir_san_cidr",
	    .x = { { "subjectAltName", "IP:192.0.2.77,IP:2001:db8:1::5",
	        NULL } },
	    .want = ACCEPT, .ref = "sancidr" },
	{ "rej_san_cidr_outside",
	    .x = { { "subjectAltName", "IP:192.0.3.1", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName IP:192.0.3.1 not allowed", .ref = "sancidr" },
	{ "rej_san_cidr_v6_outside",
	    .x = { { "subjectAltName", "IP:2001:db9::1", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName IP:2001:db9::1 not allowed",
	    .ref = "sancidr" },
};

static X509_EXTENSION *
xspec_ext(const struct xspec *x)
{
	X509_EXTENSION *e;
	ASN1_OBJECT *obj;
	ASN1_OCTET_STRING *os;
	unsigned char *bin;
	long len;

	if (x->hex == NULL) {
		assert_non_null(e = X509V3_EXT_nconf(NULL, NULL, x->name,
		                    x->value));
		return e;
	}
	assert_non_null(obj = OBJ_txt2obj(x->name, 1));
	assert_non_null(bin = OPENSSL_hexstr2buf(x->hex, &len));
	os = octets(bin, (int)len);
	assert_non_null(e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os));
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(bin);
	return e;
}

static void
test_ext(void **state)
{
	const struct xcase *c = *state;
	size_t before = db_count(NULL), i;
	const CMP_CERTRESPONSE *cr;
	struct rq q;
	CMP_MSG *resp;
	X509 *cert;

	rq_init(&q);
	q.ref = c->ref != NULL ? c->ref : q.ref;
	q.cn = c->cn != NULL ? c->cn : q.cn;
	assert_non_null(q.exts = sk_X509_EXTENSION_new_null());
	for (i = 0; i < 3 && c->x[i].name != NULL; i++)
		OK(sk_X509_EXTENSION_push(q.exts, xspec_ext(&c->x[i])));
	resp = run(req_new(&q), NULL);
	sk_X509_EXTENSION_pop_free(q.exts, X509_EXTENSION_free);
	if (c->want == ACCEPT) {
		cert = ip_cert(resp, 0, 0);
		assert_int_equal(db_count(NULL), before + 1);
		/* What the profile decides, whatever was asked. */
		assert_int_equal(X509_check_ca(cert), 0);
		assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
		assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(cert,
		    X509_get_ext_by_NID(cert, NID_key_usage, -1))), 1);
		if (X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0)
			assert_int_equal(X509_EXTENSION_get_critical(
			    X509_get_ext(cert, X509_get_ext_by_NID(cert,
			        NID_subject_alt_name, -1))), 0);
		return;
	}
	cr = check_certresp(resp, 0, 0, CMP_STATUS_REJECTION, c->want);
	if (strncmp(si_text(cr->status), c->text, strlen(c->text)) != 0)
		fail_msg("statusString \"%s\", want \"%s...\"",
		    si_text(cr->status), c->text);
	assert_int_equal(db_count(&q), 0);
	assert_int_equal(db_count(NULL), before);
}

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
static void
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
static void
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

/*
 * Delayed delivery signs under the profile as configured at the poll
 * that issues. A request the profile refuses by then (here: its stored
 * CertReqMsg asks for OCSPSigning, as if the profile had changed) is
 * rejected with badCertTemplate naming the extension and the profile,
 * not answered with an internal error at every poll; nothing is stored
 * and the transaction ends.
 */
static void
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

/* Fixture: assertions work in cmocka's group set-up too. */

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
 * nonce. Under SAN=1 the exit checks that the worker cache leaks nothing.
 */
/* The extensions of x, each DER-encoded, concatenated in order. */
static size_t
exts_der(X509 *x, unsigned char *buf, size_t cap)
{
	size_t n = 0;
	int i;

	for (i = 0; i < X509_get_ext_count(x); i++) {
		unsigned char *d = NULL;
		int len = i2d_X509_EXTENSION(X509_get_ext(x, i), &d);

		OK(len > 0 && n + (size_t)len <= cap);
		memcpy(buf + n, d, (size_t)len);
		n += (size_t)len;
		OPENSSL_free(d);
	}
	return n;
}

/*
 * The profile's extensions cached per (profile, CA) give the same
 * certificate extensions, byte for byte and in order, as evaluating the
 * section for each certificate: a static profile, one that copies the
 * subject's e-mail (not cacheable: evaluated each time), one with a
 * critical SKI and policies, and none at all. Two keys each, so a cached
 * subjectKeyIdentifier that did not follow the key would show.
 */
/*
 * A worker keeps unlimited secrets it has read; when the row changes
 * under it (here: resealed in place, as `cmpca db migrate` does), the
 * issuance refuses the stale copy inside the database and the request is
 * served again from a fresh read: the client sees its certificate, once.
 */
static void
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
static void
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

static void
test_ext_cache(void **state)
{
	static const char conf_text[] =
	    "[e_demo]\nbasicConstraints = critical,CA:FALSE\n"
	    "keyUsage = critical,digitalSignature,keyEncipherment\n"
	    "extendedKeyUsage = clientAuth,serverAuth\n"
	    "subjectKeyIdentifier = hash\n"
	    "authorityKeyIdentifier = keyid:always\n"
	    "crlDistributionPoints = URI:http://127.0.0.1/crl/t.crl\n"
	    "authorityInfoAccess = OCSP;URI:http://127.0.0.1/ocsp\n"
	    "[e_mail]\nsubjectKeyIdentifier = hash\n"
	    "subjectAltName = email:copy,DNS:fixed.example\n"
	    "[e_pol]\nsubjectKeyIdentifier = critical,hash\n"
	    "certificatePolicies = 1.2.3.4,1.3.6.1.4.1.99999.1\n"
	    "authorityKeyIdentifier = keyid,issuer\n"
	    "nsComment = \"cmpca test\"\n";
	static const char *sections[] = { "e_demo", "e_mail", "e_pol", NULL };
	struct cfg_profile prof[4];
	struct ca_ident ca;
	struct issue_req r;
	CRMF_CERTTEMPLATE *t = NULL;
	CONF *conf = NCONF_new(NULL);
	BIO *b = BIO_new_mem_buf(conf_text, -1);
	EVP_PKEY *keys[2];
	X509_NAME *subj = X509_NAME_new();
	unsigned char a[4096], c[4096];
	size_t alen, clen, i, k;
	long eline;

	(void)state;
	assert_non_null(conf);
	assert_non_null(b);
	OK(NCONF_load_bio(conf, b, &eline));
	BIO_free(b);
	OK(subj != NULL && X509_NAME_add_entry_by_txt(subj, "CN",
	    MBSTRING_ASC, (const unsigned char *)"ext test", -1, -1, 0) &&
	    X509_NAME_add_entry_by_txt(subj, "emailAddress", MBSTRING_ASC,
		(const unsigned char *)"ext@example.org", -1, -1, 0));
	keys[0] = fx.key;
	assert_non_null(keys[1] = EVP_EC_gen("P-384"));
	memset(&ca, 0, sizeof(ca));
	ca.cert = fx.ca_cert;
	assert_non_null(ca.key = EVP_EC_gen("P-256")); /* signs, unchecked */
	ca.md = EVP_sha256();
	snprintf(ca.label, sizeof(ca.label), "ext-test");
	for (i = 0; i < 4; i++) {
		memset(&prof[i], 0, sizeof(prof[i]));
		prof[i].days = 30;
		prof[i].ext_section = (char *)sections[i];
	}
	for (i = 0; i < 4; i++)
		for (k = 0; k < 2; k++) {
			X509 *x, *y;

			assert_non_null(t = CRMF_CERTTEMPLATE_new());
			assert_non_null(t->subject = X509_NAME_dup(subj));
			OK(cmp_spki_set(&t->publicKey, keys[k]));
			memset(&r, 0, sizeof(r));
			r.tmpl = t;
			r.profile = &prof[i];
			r.conf = conf;
			cmp_issue_ext_cache(0);
			assert_non_null(x = cmp_cert_issue(&r, &ca, fx.hsm));
			cmp_issue_ext_cache(1);
			assert_non_null(y = cmp_cert_issue(&r, &ca, fx.hsm));
			alen = exts_der(x, a, sizeof(a));
			clen = exts_der(y, c, sizeof(c));
			if (alen != clen || memcmp(a, c, alen) != 0)
				fail_msg("profile %s, key %zu: cached "
				         "extensions differ", sections[i]
				             ? sections[i] : "(none)", k);
			/* The builder adds SKI and AKI where the section
			 * has none (e_mail: AKI; no section: both). */
			assert_int_equal(X509_get_ext_count(y),
			    i == 0 ? 7 : i == 1 ? 3 : i == 2 ? 4 : 2);
			{ /* as a relying party reads it */
				unsigned char *der = NULL;
				const unsigned char *p;
				int dlen = i2d_X509(y, &der);
				X509 *z;

				p = der;
				assert_non_null(z = d2i_X509(NULL, &p, dlen));
				assert_int_equal(EVP_PKEY_eq(
				    X509_get0_pubkey(z), keys[k]), 1);
				X509_free(z);
				OPENSSL_free(der);
			}
			if (i < 3) {
				const ASN1_OCTET_STRING *ski =
				    X509_get0_subject_key_id(y);
				const unsigned char *bits;
				unsigned char md[20];
				int blen;

				assert_non_null(ski);
				X509_PUBKEY_get0_param(NULL, &bits, &blen,
				    NULL, X509_get_X509_PUBKEY(y));
				OK(SHA1(bits, (size_t)blen, md) != NULL);
				assert_int_equal(ASN1_STRING_length(ski), 20);
				assert_memory_equal(
				    ASN1_STRING_get0_data(ski), md, 20);
			}
			X509_free(x);
			X509_free(y);
			CRMF_CERTTEMPLATE_free(t);
		}
	NCONF_free(conf);
	X509_NAME_free(subj);
	EVP_PKEY_free(keys[1]);
	EVP_PKEY_free(ca.key);
}

static void
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
static void
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
 * revocation is answered at once. Requests with a nonce are signed each.
 */
static void
test_ocsp_reuse(void **state)
{
	struct ocsp_srv *s;
	OCSP_REQUEST *req, *nreq;
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
	n1 = ocsp_raw(s, nreq, &m1);
	n2 = ocsp_raw(s, nreq, &m2);
	assert_false(m1 == m2 && memcmp(n1, n2, m1) == 0);
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
static void
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

static void write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes a file, mode 0600. */
static void
write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;
	int n;

	assert_non_null(f);
	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	OK(fclose(f) == 0 && n >= 0 && chmod(path, 0600) == 0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The CA "test" as `cmpca ca create` makes it: key generated in the
 * token, self-signed certificate by the builder. */
static void
setup_ca(void)
{
	X509_NAME *subj = X509_NAME_new();
	struct cert_req req = { .kind = CERT_CA_ROOT, .days = 3650,
		.pathlen = -1 };
	struct ca_ident issuer;
	EVP_PKEY *pub = NULL, *key;
	struct db_ca row;
	unsigned char *der = NULL;
	char uri[256];
	X509 *x;
	int len;

	assert_non_null(subj);
	OK(X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC,
	    (const unsigned char *)"cmpca tests", -1, -1, 0));
	OK(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Engine Test CA", -1, -1, 0));
	memset(&row, 0, sizeof(row));
	if (!hsm_keygen(
	        fx.hsm, "test", HSM_KEY_EC_P256, &pub, uri, sizeof(uri)) ||
	    (key = hsm_key_load(fx.hsm, uri)) == NULL)
		fail_msg("ca key: %s", hsm_error());
	row.key_uri = uri; /* borrowed, like row.cert: no db_ca_clear */
	req.subject = subj;
	req.pubkey = pub;
	cert_issuer_init(&issuer, "test", NULL, key);
	assert_non_null(x = cert_build(fx.hsm, &issuer, &req));
	OK((len = i2d_X509(x, &der)) > 0);
	snprintf(row.label, sizeof(row.label), "test");
	snprintf(row.status, sizeof(row.status), "active");
	row.cert = der;
	row.cert_len = (size_t)len;
	if (db_ca_insert(fx.db, &row) != 1)
		fail_msg("db_ca_insert: %s", db_error(fx.db));
	fx.ca_id = row.id;
	fx.ca_cert = x;
	OPENSSL_free(der);
	X509_NAME_free(subj);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
}

static void
secret_add(const char *ref, int uses, const char *subject, const char *san)
{
	struct db_secret s;

	memset(&s, 0, sizeof(s));
	snprintf(s.ref, sizeof(s.ref), "%s", ref);
	s.secret = (unsigned char *)SECRET; /* borrowed: no db_secret_clear */
	s.secret_len = strlen(SECRET);
	s.allowed_subject = (char *)subject;
	s.allowed_san = (char *)san;
	snprintf(s.profile, sizeof(s.profile), "default");
	s.uses_left = uses;
	if (db_secret_insert(fx.db, &s) != 1)
		fail_msg("secret %s: %s", ref, db_error(fx.db));
}

/* The engine's configuration file, with lines added to [cmpca] (from
 * line 10) and to [profile.default] (from line 17 after one line in
 * [cmpca]). */
static void
conf_write(const char *path, const char *main_extra,
    const char *default_extra)
{
	write_file(path,
	    "[cmpca]\npkcs11_module = %s\ntoken = %s\npin_file = %s\n"
	    "db = \"%s\"\ndefault_ca = test\npbm_max_iterations = 100000\n"
	    "implicit_confirm = yes\ntxn_timeout = 300\n%s\n"
	    "[profile.default]\ndays = 30\nextensions = ext_default\n"
	    "crl_url = http://crl.example/%%{ca}.crl\n"
	    "ocsp_url = http://ocsp.example/\n%s\n"
	    "[profile.approval]\ndays = 30\nextensions = ext_default\n"
	    "approval = yes\n\n"
	    "[ext_default]\nbasicConstraints = critical,CA:FALSE\n"
	    "keyUsage = critical,digitalSignature\n"
	    "subjectKeyIdentifier = hash\n"
	    "authorityKeyIdentifier = keyid:always\n",
	    fx.module, TOKEN, fx.pin, fx.conninfo, main_extra, default_extra);
}

static int
group_setup(void **state)
{
	const char *conninfo = getenv("CMPCA_TEST_DB");
	char path[192], conf[192], pin[160], so_pin[160];
	int n = -1;

	(void)state;
	log_init("test_engine", 0,
	    getenv("CMPCA_TEST_VERBOSE") != NULL ? LOG_LVL_DEBUG : LOG_LVL_ERR);
	if (conninfo == NULL || *conninfo == '\0')
		fail_msg("CMPCA_TEST_DB is not set; start a cluster with "
		         "scripts/pgtmp start DIR PORT and set it to the "
		         "conninfo printed");
	fx.module = getenv("CMPCA_PKCS11_MODULE");
	if (fx.module == NULL || *fx.module == '\0')
		fx.module = DEFAULT_MODULE;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_engine.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(path, sizeof(path), "%s/tokens", fx.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", fx.dir);
	write_file(conf,
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n"
	    "slots.removable = false\nlibrary.reset_on_fork = true\n",
	    path);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(path, sizeof(path), "%s/hsm.lock", fx.dir);
	setenv("CMPCA_HSM_LOCK", path, 1);
	unsetenv("CMPCA_HSM_PIN");
	snprintf(pin, sizeof(pin), "%s/pin", fx.dir);
	snprintf(so_pin, sizeof(so_pin), "%s/so-pin", fx.dir);
	write_file(pin, "%s\n", USER_PIN);
	write_file(so_pin, "%s\n", SO_PIN);
	if (!hsm_token_init(fx.module, TOKEN, so_pin, pin) ||
	    (fx.hsm = hsm_open(fx.module, TOKEN, pin)) == NULL)
		fail_msg("hsm: %s", hsm_error());
	test_build_hsm = fx.hsm;

	assert_non_null(fx.db = db_open(conninfo));
	if (!db_ensure(fx.db) ||
	    db_exec_unsafe(fx.db, "DROP SCHEMA public "
	                          "CASCADE; CREATE SCHEMA public") != 1 ||
	    !db_migrate(fx.db, SCHEMA_DIR, &n) || n < 1)
		fail_msg("database: %s", db_error(fx.db));
	assert_non_null(fx.chk = db_open(conninfo));
	OK(db_ensure(fx.chk));

	snprintf(path, sizeof(path), "%s/cmpca.conf", fx.dir);
	snprintf(fx.pin, sizeof(fx.pin), "%s", pin);
	fx.conninfo = conninfo;
	conf_write(path, "", "");
	assert_non_null(fx.cfg = cfg_load(path));
	setup_ca();
	secret_add("ref1", -1, NULL, NULL);
	secret_add("once", 1, NULL, NULL);
	secret_add("subj", -1, "CN=allowed", NULL);
	secret_add("sanpat", -1, NULL, "DNS:*.dev.example, IP:10.0.0.1");
	secret_add("sancidr", -1, NULL, "IP:192.0.2.0/24, IP:2001:db8::/32");
	secret_add("ap", -1, NULL, NULL);
	if (db_exec_unsafe(fx.db, "UPDATE enroll_secret SET profile = "
	                          "'approval' WHERE ref = 'ap'") != 1)
		fail_msg("secret ap: %s", db_error(fx.db));
	assert_non_null(fx.key = EVP_EC_gen("P-256"));
	assert_non_null(fx.rsa1024 = EVP_RSA_gen(1024));
	fx.client = name_cn("client");
	fx.other_ca = name_cn("Some Other CA");
	assert_non_null(fx.srv = cmp_srv_new(fx.cfg, fx.db, fx.hsm));
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	cmp_srv_free(fx.srv);
	cfg_free(fx.cfg);
	X509_free(fx.ca_cert);
	X509_NAME_free(fx.client);
	X509_NAME_free(fx.other_ca);
	EVP_PKEY_free(fx.key);
	EVP_PKEY_free(fx.rsa1024);
	db_close(fx.chk);
	db_close(fx.db);
	hsm_close(fx.hsm);
	if (fx.dir[0] != '\0')
		(void)nftw(fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A name from "/A=v/B=w" (openssl -subj syntax). */
static X509_NAME *
name_of(const char *s)
{
	X509_NAME *n = ca_name_parse(s);

	assert_non_null(n);
	return n;
}

/* A certificate for key, signed by ca_key (issuer: ca, or itself). */
static X509 *
cert_make(const char *subj, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *n = name_of(subj);
	X509_EXTENSION *e;
	X509V3_CTX v3;

	assert_non_null(x);
	OK(X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 4711) &&
	    X509_set_subject_name(x, n) &&
	    X509_set_issuer_name(x, ca != NULL ? X509_get_subject_name(ca) : n) &&
	    X509_set_pubkey(x, key) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL);
	X509V3_set_ctx(&v3, ca != NULL ? ca : x, x, NULL, NULL, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
	    ca != NULL ? "critical,digitalSignature"
	               : "critical,keyCertSign,cRLSign"));
	OK(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3,
	    NID_basic_constraints, ca != NULL ? "CA:FALSE" : "critical,CA:TRUE"));
	OK(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	OK(X509_sign(x, ca_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* Signature protection of m by cert and key (RFC 9483 §3.2): sender,
 * protectionAlg, protection, the certificate first in extraCerts. */
static void
sig_protect(CMP_MSG *m, X509 *cert, EVP_PKEY *key)
{
	CMP_PROTECTEDPART pp;

	gn_dirname(&m->header->sender, X509_get_subject_name(cert));
	assert_non_null(m->header->protectionAlg = X509_ALGOR_new());
	assert_non_null(m->protection = ASN1_BIT_STRING_new());
	assert_non_null(m->extraCerts = sk_X509_new_null());
	OK(X509_up_ref(cert) && sk_X509_push(m->extraCerts, cert));
	pp.header = m->header;
	pp.body = m->body;
	OK(ASN1_item_sign(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
	    m->header->protectionAlg, NULL, m->protection, &pp, key,
	    EVP_sha256()) > 0);
}

/* An ir for subject (and one SAN, or none) signed with cert and key,
 * sent to srv; the ip's first response is checked for fail (-1: the
 * certificate is returned). *q is the request's. */
static X509 *
sig_ir(struct cmp_srv *srv, struct rq *q, X509 *cert, EVP_PKEY *key,
    const char *subject, const char *san, int fail, const char *text)
{
	struct cmp_srv *saved = fx.srv;
	X509_NAME *n = name_of(subject);
	X509_EXTENSION *e;
	const CMP_CERTRESPONSE *cr;
	CMP_MSG *m, *resp;

	rq_init(q);
	q->ref = NULL;
	q->secret = NULL;
	q->subject = n;
	assert_non_null(q->key = EVP_EC_gen("P-256"));
	assert_non_null(q->exts = sk_X509_EXTENSION_new_null());
	if (san != NULL) {
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, san));
		OK(sk_X509_EXTENSION_push(q->exts, e));
	} else {
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_key_usage, "digitalSignature"));
		OK(sk_X509_EXTENSION_push(q->exts, e));
	}
	m = req_new(q);
	sk_X509_EXTENSION_pop_free(q->exts, X509_EXTENSION_free);
	q->exts = NULL;
	X509_NAME_free(n);
	q->subject = NULL;
	sig_protect(m, cert, key);
	fx.srv = srv;
	resp = run(m, NULL);
	fx.srv = saved;
	if (fail < 0) {
		X509 *x = ip_cert(resp, 0, 0);

		/* The subject asked for and the key of the request. */
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
		    q->subject = name_of(subject)), 0);
		X509_NAME_free((X509_NAME *)q->subject);
		q->subject = NULL;
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), q->key), 1);
		EVP_PKEY_free(q->key);
		return x;
	}
	EVP_PKEY_free(q->key);
	cr = check_certresp(resp, 0, 0, CMP_STATUS_REJECTION, fail);
	if (strstr(si_text(cr->status), text) == NULL)
		fail_msg("statusString \"%s\", want \"%s\"", si_text(cr->status),
		    text);
	assert_int_equal(db_count(q), 0);
	return NULL;
}

/* cfg_load(path) with what it logs captured into err. */
static struct cfg *
cfg_load_logged(const char *path, char *err, size_t len)
{
	FILE *tmp = tmpfile();
	struct cfg *c;
	size_t n;
	int saved;

	assert_non_null(tmp);
	fflush(stderr);
	OK((saved = dup(STDERR_FILENO)) >= 0 &&
	    dup2(fileno(tmp), STDERR_FILENO) >= 0);
	c = cfg_load(path);
	fflush(stderr);
	OK(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, len - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return c;
}

/*
 * An IDevID enrolling for an LDevID (RFC 9483 §4.1.1, issue 13): an ir
 * signed by a device certificate under an external trust anchor asks for
 * a subject in the operator's naming. Refused by default ("own subject
 * only"), issued when [profile.default] external_subject matches, with
 * the names of external_san; refused outside the patterns. A certificate
 * of ours never gets another subject, whatever the profile says.
 */
static void
test_idevid(void **state)
{
	static const struct {
		const char *line, *want;
	} bad[] = {
		{ "external_subject = O=Example/CN=*", "external_subject must" },
		{ "external_subject = /CN=a*b*", "external_subject must" },
		{ "external_subject = /NoSuchAttr=x", "external_subject must" },
		{ "external_subject = /CN=", "external_subject must" },
		{ "external_subject = any", "external_subject must" },
		{ "external_san = DNS:*", "external_san must" },
	};
	EVP_PKEY *anchor_key, *dev_key;
	X509 *anchor, *dev, *ours, *x;
	struct cfg *def, *allow, *c;
	struct cmp_srv *sdef, *sallow;
	char path[192], main_line[256], want[320], err[2048];
	struct rq q;
	FILE *f;
	size_t i;

	(void)state;
	assert_non_null(anchor_key = EVP_EC_gen("P-256"));
	assert_non_null(dev_key = EVP_EC_gen("P-256"));
	anchor = cert_make("/O=Maker/CN=Maker Device CA", anchor_key, NULL,
	    anchor_key);
	dev = cert_make("/O=Maker/serialNumber=1234/CN=idev-1234", dev_key,
	    anchor, anchor_key);
	snprintf(path, sizeof(path), "%s/anchors.pem", fx.dir);
	OK((f = fopen(path, "w")) != NULL && PEM_write_X509(f, anchor) &&
	    fclose(f) == 0);
	snprintf(main_line, sizeof(main_line), "trust_anchors = %s\n", path);
	snprintf(path, sizeof(path), "%s/idev-default.conf", fx.dir);
	conf_write(path, main_line, "");
	assert_non_null(def = cfg_load(path));
	snprintf(path, sizeof(path), "%s/idev-allow.conf", fx.dir);
	conf_write(path, main_line,
	    "external_subject = /O=Example/CN=ldev-* ; "
	    "/O=Example/OU=Gateways/CN=*\n"
	    "external_san = DNS:*.devices.example\n");
	c = cfg_load_logged(path, err, sizeof(err));
	if (c == NULL)
		fail_msg("external_subject and external_san refused: %s", err);
	allow = c;
	assert_non_null(sdef = cmp_srv_new(def, fx.db, fx.hsm));
	assert_non_null(sallow = cmp_srv_new(allow, fx.db, fx.hsm));

	/* Default: own subject only, the rule and the profile named. */
	(void)sig_ir(sdef, &q, dev, dev_key, "/O=Example/CN=ldev-1234", NULL,
	    CMP_FAIL_NOT_AUTHORIZED,
	    "subject /O=Example/CN=ldev-1234 differs from the protection "
	    "certificate's and profile default allows only its own "
	    "(external_subject)");
	/* Allowed: the subject and SAN asked for, the request's key, in
	 * the database as the device's request. */
	x = sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-1234",
	    "DNS:ldev-1234.devices.example", -1, NULL);
	assert_int_equal(db_status(x, NULL), DB_CERT_UNCONFIRMED);
	assert_int_equal(db_count(&q), 1);
	OK(X509_check_host(x, "ldev-1234.devices.example", 0, 0, NULL) == 1);
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/OU=Gateways/CN=gw-7",
	    NULL, -1, NULL);
	/* Outside the patterns: subject, then subjectAltName. */
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Other/CN=ldev-1234", NULL,
	    CMP_FAIL_NOT_AUTHORIZED,
	    "subject /O=Other/CN=ldev-1234 differs from the protection "
	    "certificate's and matches no external_subject of profile "
	    "default");
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-",
	    NULL, CMP_FAIL_NOT_AUTHORIZED, "matches no external_subject");
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-1234/OU=x",
	    NULL, CMP_FAIL_NOT_AUTHORIZED, "matches no external_subject");
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-1234",
	    "DNS:login.bank.example", CMP_FAIL_NOT_AUTHORIZED,
	    "subjectAltName DNS:login.bank.example not allowed for this "
	    "certificate under an external trust anchor");
	/* A certificate of ours: its own subject only, whatever the
	 * profile allows external ones. */
	rq_init(&q);
	q.cn = "ours-holder";
	q.implicit = 1;
	ours = X509_dup(ip_cert(ir_ok(&q, NULL), 0, 0));
	assert_non_null(ours);
	(void)sig_ir(sallow, &q, ours, fx.key, "/O=Example/CN=ldev-1234",
	    NULL, CMP_FAIL_NOT_AUTHORIZED,
	    "subject /O=Example/CN=ldev-1234 differs from the protection "
	    "certificate's: a certificate of ours asks for its own subject "
	    "only");

	/* Start-up: malformed values refused with file:line. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), "%s\n", bad[i].line);
		conf_write(path, main_line, line);
		c = cfg_load_logged(path, err, sizeof(err));
		snprintf(want, sizeof(want), "%s:17: %s", path, bad[i].want);
		if (c != NULL || strstr(err, want) == NULL)
			fail_msg("%s: want \"%s\", got \"%s\"", bad[i].line,
			    want, err);
	}
	cmp_srv_free(sdef);
	cmp_srv_free(sallow);
	cfg_free(def);
	cfg_free(allow);
	X509_free(ours);
	X509_free(dev);
	X509_free(anchor);
	EVP_PKEY_free(dev_key);
	EVP_PKEY_free(anchor_key);
}

#define T(f)                                                                   \
	{                                                                      \
#f, f, NULL, gc_run, NULL                                      \
	}
/* The tests that take no table row, counted by the compiler. */
static const struct CMUnitTest fixed[] = {
	T(test_ir_accepted),
	T(test_implicit_confirm),
	T(test_replay),
	T(test_secret_once),
	T(test_multi),
	T(test_garbage),
	T(test_ocsp),
	T(test_ocsp_signer_expired),
	T(test_ocsp_reuse),
	T(test_ext_cache),
	T(test_secret_cache_stale),
	T(test_secret_rotate),
	T(test_unknown_ref_derives),
	T(test_genm_no_txn),
	T(test_ca_changed),
	T(test_crl_stale_key),
	T(test_delayed_refused),
	T(test_idevid),
	T(test_worker_hsm_lost),
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))
#define NCC (sizeof(cccases) / sizeof(cccases[0]))
#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define NX (sizeof(xcases) / sizeof(xcases[0]))

int
main(void)
{
	struct CMUnitTest tests[NFIXED + NCC + NCASES + NX + 16];
	size_t i;

	if (test_build_ncases > 16)
		return 1; /* grow the room above */

	for (i = 0; i < NFIXED; i++)
		tests[i] = fixed[i];
	for (i = 0; i < NCC; i++)
		tests[NFIXED + i] = (struct CMUnitTest){ cccases[i].name,
			test_certconf, NULL, gc_run, (void *)&cccases[i] };
	for (i = 0; i < NCASES; i++)
		tests[NFIXED + NCC + i] = (struct CMUnitTest){ cases[i].name,
			test_case, NULL, gc_run, (void *)&cases[i] };
	for (i = 0; i < NX; i++)
		tests[NFIXED + NCC + NCASES + i] = (struct CMUnitTest){
			xcases[i].name, test_ext, NULL, gc_run,
			(void *)&xcases[i] };
	for (i = 0; i < test_build_ncases; i++)
		tests[NFIXED + NCC + NCASES + NX + i] = test_build_cases[i];
	return _cmocka_run_group_tests("test_engine", tests,
	    NFIXED + NCC + NCASES + NX + test_build_ncases, group_setup,
	    group_teardown);
}
