/*
 * test_engine_kga.c - central key generation through the engine (RFC
 * 9483 §4.1.6, issue 26): the answer's privateKey opened with OpenSSL's
 * CMS (the client side, independent of the packaging code): password
 * recipient, the CA's signature, the AsymmetricKeyPackage, the key of the
 * certificate; and the refusals, which store nothing.
 */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "tests/unit/test_engine.h"

/* ContentInfo of type nid around content (DER of a SEQUENCE); the CMS
 * structure (caller frees). */
static CMS_ContentInfo *
cinfo(int nid, const unsigned char *der, int len)
{
	CMP_CINFO ci;
	ASN1_STRING *seq;
	ASN1_TYPE *t;
	unsigned char *out = NULL;
	const unsigned char *p;
	CMS_ContentInfo *cms;
	int n;

	assert_non_null(seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE));
	OK(ASN1_STRING_set(seq, der, len));
	assert_non_null(t = ASN1_TYPE_new());
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, seq);
	ci.type = OBJ_nid2obj(nid);
	ci.content = t;
	OK((n = i2d_CMP_CINFO(&ci, &out)) > 0);
	p = out;
	cms = d2i_CMS_ContentInfo(NULL, &p, n);
	assert_non_null(cms);
	OPENSSL_free(out);
	ASN1_TYPE_free(t);
	return cms;
}

/* The generated key in response i of m, opened as a client does with
 * the secret, its SignedData verified against the CA certificate. */
static EVP_PKEY *
open_pk(const ASN1_TYPE *pk)
{
	STACK_OF(ASN1_TYPE) *env;
	STACK_OF(PKCS8_PRIV_KEY_INFO) *akp;
	CMS_ContentInfo *cms;
	X509_STORE *st;
	STACK_OF(X509) *signers;
	BIO *out, *out2;
	const unsigned char *p;
	unsigned char *der = NULL, *data;
	EVP_PKEY *k;
	long len;
	int n;

	assert_non_null(pk);
	assert_int_equal(pk->type, V_ASN1_OTHER);
	/* [0] IMPLICIT EnvelopedData (RFC 4211 EncryptedKey). */
	assert_int_equal(pk->value.asn1_string->data[0], 0xa0);
	p = pk->value.asn1_string->data;
	env = (STACK_OF(ASN1_TYPE) *)ASN1_item_d2i(NULL, &p,
	    pk->value.asn1_string->length, ASN1_ITEM_rptr(CMP_ENVKEY));
	assert_non_null(env);
	OK((n = i2d_ASN1_SEQUENCE_ANY(env, &der)) > 0);
	sk_ASN1_TYPE_pop_free(env, ASN1_TYPE_free);
	cms = cinfo(NID_pkcs7_enveloped, der, n);
	OPENSSL_free(der);
	assert_int_equal(OBJ_obj2nid(CMS_get0_eContentType(cms)),
	    NID_pkcs7_signed);
	OK(CMS_decrypt_set1_password(cms, (unsigned char *)SECRET,
	    strlen(SECRET)) == 1);
	assert_non_null(out = BIO_new(BIO_s_mem()));
	if (CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY) != 1) {
		ERR_print_errors_fp(stderr);
		fail_msg("CMS_decrypt with the secret failed");
	}
	CMS_ContentInfo_free(cms);
	len = BIO_get_mem_data(out, &data);
	cms = cinfo(NID_pkcs7_signed, data, (int)len);
	BIO_free(out);
	/* eContentType id-ct-KP-aKeyPackage (RFC 5958 §4). */
	assert_non_null(der = OPENSSL_zalloc(64));
	OK(OBJ_obj2txt((char *)der, 64, CMS_get0_eContentType(cms), 1) > 0);
	assert_string_equal((char *)der, "2.16.840.1.101.2.1.2.78.5");
	OPENSSL_free(der);
	assert_non_null(st = X509_STORE_new());
	OK(X509_STORE_add_cert(st, fx.ca_cert));
	assert_non_null(out2 = BIO_new(BIO_s_mem()));
	if (CMS_verify(cms, NULL, st, NULL, out2, CMS_BINARY |
		CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		ERR_print_errors_fp(stderr);
		fail_msg("the KGA signature does not verify");
	}
	/* A new stack of certificates the CMS structure owns. */
	assert_non_null(signers = CMS_get0_signers(cms));
	if (X509_cmp(sk_X509_value(signers, 0), fx.ca_cert) != 0)
		fail_msg("the KGA signature is not the CA's");
	sk_X509_free(signers);
	CMS_ContentInfo_free(cms);
	X509_STORE_free(st);
	len = BIO_get_mem_data(out2, &data);
	p = data;
	akp = (STACK_OF(PKCS8_PRIV_KEY_INFO) *)ASN1_item_d2i(NULL, &p, len,
	    ASN1_ITEM_rptr(CMP_AKP));
	assert_non_null(akp);
	assert_int_equal(sk_PKCS8_PRIV_KEY_INFO_num(akp), 1);
	k = EVP_PKCS82PKEY(sk_PKCS8_PRIV_KEY_INFO_value(akp, 0));
	assert_non_null(k);
	sk_PKCS8_PRIV_KEY_INFO_pop_free(akp, PKCS8_PRIV_KEY_INFO_free);
	BIO_free(out2);
	return k;
}

static EVP_PKEY *
open_key(const CMP_MSG *m, int i)
{
	const CMP_CERTRESPONSE *cr =
	    sk_CMP_CERTRESPONSE_value(m->body->value.ip->response, i);

	return open_pk(cr->certifiedKeyPair->privateKey);
}

/* q as a request for central key generation: publicKey algorithm nid
 * (curve for EC; NID_undef: no publicKey at all), no POP. */
static CMP_MSG *
kga_req(const struct rq *q, int alg, int curve)
{
	CMP_MSG *m = req_new(q);
	CRMF_CERTREQMSG *r = sk_CRMF_CERTREQMSG_value(m->body->value.ir, 0);
	CRMF_CERTTEMPLATE *t = r->certReq->certTemplate;

	CRMF_POPO_free(r->popo);
	r->popo = NULL;
	CMP_SPKI_free(t->publicKey);
	t->publicKey = NULL;
	if (alg != NID_undef) {
		assert_non_null(t->publicKey = CMP_SPKI_new());
		OK(X509_ALGOR_set0(t->publicKey->algor, OBJ_nid2obj(alg),
		    curve != NID_undef ? V_ASN1_OBJECT : V_ASN1_NULL,
		    curve != NID_undef ? OBJ_nid2obj(curve) : NULL));
	}
	protect(m, q);
	return m;
}

/* cert.server_keygen of x's inventory row. */
static int
db_keygen(X509 *x)
{
	char serial[DB_SERIAL_MAX];
	struct db_cert c;
	int kg;

	OK(ca_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial)));
	if (db_cert_get_by_serial(fx.chk, fx.ca_id, serial, &c) != 1)
		fail_msg("certificate %s not in the database", serial);
	kg = c.server_keygen;
	db_cert_clear(&c);
	return kg;
}

void
test_central_keygen(void **state)
{
	static const struct {
		int alg, curve, base, bits;
	} ok[] = {
		{ NID_X9_62_id_ecPublicKey, NID_X9_62_prime256v1, EVP_PKEY_EC,
		    256 },
		{ NID_rsaEncryption, NID_undef, EVP_PKEY_RSA, 2048 },
		{ NID_undef, NID_undef, EVP_PKEY_EC, 256 }, /* the first */
	};
	struct rq q;
	CMP_MSG *resp;
	EVP_PKEY *k;
	size_t i, n0;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		rq_init(&q);
		q.ref = "kga";
		q.implicit = 1;
		resp = run(kga_req(&q, ok[i].alg, ok[i].curve), "test");
		k = open_key(resp, 0);
		assert_int_equal(EVP_PKEY_get_base_id(k), ok[i].base);
		assert_int_equal(EVP_PKEY_get_bits(k), ok[i].bits);
		/* The key the certificate certifies. */
		assert_int_equal(EVP_PKEY_eq(k,
		    X509_get0_pubkey(ip_cert(resp, 0, 0))), 1);
		EVP_PKEY_free(k);
		/* Stored valid (implicitConfirm), marked server-generated. */
		assert_int_equal(db_status(ip_cert(resp, 0, 0), NULL),
		    DB_CERT_VALID);
		assert_int_equal(db_keygen(ip_cert(resp, 0, 0)), 1);
	}
	/* A key of the client's own is not marked. */
	rq_init(&q);
	q.implicit = 1;
	resp = ir_ok(&q, "test");
	assert_int_equal(db_keygen(ip_cert(resp, 0, 0)), 0);
	/* Refusals, nothing stored: a profile without central_keygen, a
	 * type this one does not generate, a POP with no key. */
	n0 = db_count(NULL);
	rq_init(&q);
	resp = run(kga_req(&q, NID_X9_62_id_ecPublicKey,
	    NID_X9_62_prime256v1), "test");
	(void)check_certresp(resp, 0, 0, CMP_STATUS_REJECTION,
	    CMP_FAIL_NOT_AUTHORIZED);
	rq_init(&q);
	q.ref = "kga";
	resp = run(kga_req(&q, NID_X9_62_id_ecPublicKey, NID_secp384r1),
	    "test");
	(void)check_certresp(resp, 0, 0, CMP_STATUS_REJECTION,
	    CMP_FAIL_BAD_ALG);
	rq_init(&q);
	q.ref = "kga";
	resp = run(kga_req(&q, NID_ED25519, NID_undef), "test");
	(void)check_certresp(resp, 0, 0, CMP_STATUS_REJECTION,
	    CMP_FAIL_BAD_ALG);
	assert_int_equal(db_count(NULL), n0);
}

/* krr for serial of x (NULL: none), as q describes (MAC); n CertReqMsgs;
 * pop: keep the POP. */
static CMP_MSG *
krr_req(const struct rq *q, X509 *x, int n, int pop)
{
	CMP_MSG *m = req_new(q);
	STACK_OF(CRMF_CERTREQMSG) *msgs = m->body->value.ir;
	CRMF_CERTREQMSG *r;
	ASN1_STRING *seq;
	unsigned char *der = NULL;
	int i, len;

	while (sk_CRMF_CERTREQMSG_num(msgs) < n) {
		assert_non_null(r = certreqmsg_new(q, 1));
		OK(sk_CRMF_CERTREQMSG_push(msgs, r));
	}
	for (i = 0; i < sk_CRMF_CERTREQMSG_num(msgs); i++) {
		r = sk_CRMF_CERTREQMSG_value(msgs, i);
		if (!pop) {
			CRMF_POPO_free(r->popo);
			r->popo = NULL;
		}
		if (x != NULL) {
			ASN1_INTEGER_free(r->certReq->certTemplate->serialNumber);
			assert_non_null(r->certReq->certTemplate->serialNumber =
			    ASN1_INTEGER_dup(X509_get0_serialNumber(x)));
		}
	}
	OK((len = ASN1_item_i2d((ASN1_VALUE *)msgs, &der,
	    ASN1_ITEM_rptr(CMP_CERTREQMSGS))) > 0);
	sk_CRMF_CERTREQMSG_pop_free(msgs, CRMF_CERTREQMSG_free);
	m->body->value.other = NULL;
	m->body->type = CMP_BODY_KRR;
	assert_non_null(seq = ASN1_STRING_new());
	ASN1_STRING_set0(seq, der, len);
	assert_non_null(m->body->value.other = ASN1_TYPE_new());
	ASN1_TYPE_set(m->body->value.other, V_ASN1_SEQUENCE, seq);
	protect(m, q);
	return m;
}

/* The krp of m (caller frees); its status and failInfo checked. */
static CMP_KRP *
krp_of(const CMP_MSG *m, int status, int fail)
{
	const unsigned char *p;
	CMP_KRP *k;

	assert_int_equal(m->body->type, CMP_BODY_KRP);
	p = m->body->value.other->value.sequence->data;
	assert_non_null(k = d2i_CMP_KRP(NULL, &p,
	    m->body->value.other->value.sequence->length));
	assert_int_equal(ASN1_INTEGER_get(k->status->status), status);
	if (fail >= 0)
		assert_int_equal(ASN1_BIT_STRING_get_bit(k->status->failInfo,
		    fail), 1);
	return k;
}

/*
 * Key archival and krr through the engine (issue 26): a key generated
 * under archive_keys is archived (refused before the CA's archival key
 * exists), recovered by a krr under the secret that obtained it, as the
 * same key; another secret, a key not archived, a template without
 * serialNumber, a POP and two CertReqMsgs are refused.
 */
void
test_key_recovery(void **state)
{
	struct rq q;
	CMP_MSG *resp;
	CMP_KRP *krp;
	CMP_CERTIFIEDKEYPAIR *kp;
	EVP_PKEY *k, *back;
	X509 *x, *plain;
	char label[256];

	(void)state;
	/* No archival key yet: systemUnavail, nothing issued. */
	rq_init(&q);
	q.ref = "karch";
	q.implicit = 1;
	resp = run(kga_req(&q, NID_X9_62_id_ecPublicKey,
	    NID_X9_62_prime256v1), "test");
	(void)check_certresp(resp, 0, 0, CMP_STATUS_REJECTION,
	    CMP_FAIL_SYSTEM_UNAVAIL);
	if (!hsm_archive_key_create(fx.hsm, "test", label, sizeof(label)))
		fail_msg("archival key: %s", hsm_error());
	rq_init(&q);
	q.ref = "karch";
	q.implicit = 1;
	resp = run(kga_req(&q, NID_X9_62_id_ecPublicKey,
	    NID_X9_62_prime256v1), "test");
	k = open_key(resp, 0);
	x = ip_cert(resp, 0, 0);

	rq_init(&q);
	q.ref = "karch";
	krp = krp_of(run(krr_req(&q, x, 1, 0), "test"), CMP_STATUS_ACCEPTED,
	    -1);
	assert_int_equal(sk_CMP_CERTIFIEDKEYPAIR_num(krp->keyPairHist), 1);
	kp = sk_CMP_CERTIFIEDKEYPAIR_value(krp->keyPairHist, 0);
	assert_int_equal(X509_cmp(kp->certOrEncCert->value.certificate, x), 0);
	back = open_pk(kp->privateKey);
	assert_int_equal(EVP_PKEY_eq(back, k), 1);
	EVP_PKEY_free(back);
	CMP_KRP_free(krp);

	/* Another secret of the same profile: another scope. */
	rq_init(&q);
	q.ref = "karch2";
	krp = krp_of(run(krr_req(&q, x, 1, 0), "test"), CMP_STATUS_REJECTION,
	    CMP_FAIL_NOT_AUTHORIZED);
	assert_null(krp->keyPairHist);
	CMP_KRP_free(krp);
	/* A certificate whose key the client made: nothing archived. */
	rq_init(&q);
	q.ref = "karch";
	q.implicit = 1;
	plain = ip_cert(ir_ok(&q, "test"), 0, 0);
	rq_init(&q);
	q.ref = "karch";
	CMP_KRP_free(krp_of(run(krr_req(&q, plain, 1, 0), "test"),
	    CMP_STATUS_REJECTION, CMP_FAIL_NOT_AUTHORIZED));
	/* Malformed: no serialNumber, a POP, two CertReqMsgs. */
	rq_init(&q);
	q.ref = "karch";
	CMP_KRP_free(krp_of(run(krr_req(&q, NULL, 1, 0), "test"),
	    CMP_STATUS_REJECTION, CMP_FAIL_BAD_CERT_TEMPLATE));
	rq_init(&q);
	q.ref = "karch";
	CMP_KRP_free(krp_of(run(krr_req(&q, x, 1, 1), "test"),
	    CMP_STATUS_REJECTION, CMP_FAIL_BAD_POP));
	rq_init(&q);
	q.ref = "karch";
	CMP_KRP_free(krp_of(run(krr_req(&q, x, 2, 0), "test"),
	    CMP_STATUS_REJECTION, CMP_FAIL_BAD_REQUEST));
	EVP_PKEY_free(k);
}
