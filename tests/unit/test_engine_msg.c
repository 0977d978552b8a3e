/*
 * test_engine_msg.c - the requests the tests send, running the engine on
 * them and checking its answers and the database (part of test_engine, see
 * test_engine.c).
 */
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tests/unit/test_engine.h"

#define TEST_MAX_ITER 10000000L /* our own derivations: no cap */

X509_NAME *
name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	OK(X509_NAME_add_entry_by_txt(
	    n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0));
	return n;
}

void
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

ASN1_OCTET_STRING *
octets(const void *data, int len)
{
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

	assert_non_null(s);
	OK(ASN1_OCTET_STRING_set(s, data, len));
	return s;
}

void
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
CMP_HEADER *
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
void
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

CRMF_CERTREQMSG *
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
CMP_MSG *
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
CMP_MSG *
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

CMP_MSG *
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

const char *
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

void
check_error(const CMP_MSG *m, int fail)
{
	if (m->body->type != CMP_BODY_ERROR)
		fail_msg("got %s, want error with failInfo bit %d",
		    cmp_body_name(m->body->type), fail);
	check_si(
	    m->body->value.error->pKIStatusInfo, CMP_STATUS_REJECTION, fail);
}

/* mac 1: protection verifies with our secret; 0: unprotected. */
void
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
const CMP_CERTRESPONSE *
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
X509 *
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
CMP_MSG *
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

/*
 * A certConf for responses idx[0..n) of ip, continuing q's transaction
 * with a fresh senderNonce; recipNonce is the senderNonce of prev.
 */
CMP_MSG *
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
int
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
int
db_txn_state(const struct rq *q)
{
	struct db_txn t;
	int rc = db_txn_get(fx.chk, q->txid, sizeof(q->txid), &t);

	OK(rc >= 0);
	return rc == 1 ? (int)t.state : 0;
}

/* Certificates of q's transaction, or of the CA when q is NULL. */
size_t
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
