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
open_key(const CMP_MSG *m, int i)
{
	const CMP_CERTRESPONSE *cr =
	    sk_CMP_CERTRESPONSE_value(m->body->value.ip->response, i);
	const ASN1_TYPE *pk = cr->certifiedKeyPair->privateKey;
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
