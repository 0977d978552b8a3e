/*
 * cmp_genm.c - general messages (RFC 9810 §5.3.19, RFC 9483 §4.3): genm
 * answered with genp, one InfoTypeAndValue per requested type.
 *
 *   caCerts (id-it 17)          the CA certificate chain of this endpoint,
 *                               then the cross certificates it received
 *                               and issued (ca_published())
 *   rootCaCert (20)             -> rootCaKeyUpdate (18): newWithNew,
 *                                  newWithOld, oldWithNew when this CA
 *                                  rolled its root key over from the key
 *                                  of the root the client sent (RFC 9810
 *                                  §4.4); without value otherwise
 *   certReqTemplate (19)        without value: no template is imposed
 *   crlStatusList (22)          -> crls (23): the newest CRL, if any
 *   currentCRL (6)              the newest CRL, if any
 *   signKeyPairTypes (2)        the key types the CA certifies, or
 *                               under a profile with central_keygen
 *                               those it generates
 *   suppLangTags (16)           "en"
 *   anything else               echoed without a value (RFC 9810 §5.3.19)
 */
#include <string.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

#define OID_ROOT_CA_CERT "1.3.6.1.5.5.7.4.20"
#define OID_CRL_STATUS_LIST "1.3.6.1.5.5.7.4.22"
#define OID_CRLS "1.3.6.1.5.5.7.4.23"

/* An ITAV of type nid (or oid text) with value v (owned; may be NULL). */
static CMP_ITAV *
itav_new(ASN1_OBJECT *type, ASN1_TYPE *v)
{
	CMP_ITAV *itav = CMP_ITAV_new();

	if (itav == NULL) {
		ASN1_OBJECT_free(type);
		ASN1_TYPE_free(v);
		return NULL;
	}
	ASN1_OBJECT_free(itav->infoType);
	itav->infoType = type;
	itav->infoValue = v;
	return itav;
}

/* Wraps the DER of a SEQUENCE into an ASN1_TYPE. */
static ASN1_TYPE *
type_from_seq(unsigned char *der, int len)
{
	ASN1_TYPE *t = NULL;
	ASN1_STRING *s = NULL;

	if (len <= 0)
		goto fail;
	if ((t = ASN1_TYPE_new()) == NULL || (s = ASN1_STRING_new()) == NULL)
		goto fail;
	ASN1_STRING_set0(s, der, len);
	der = NULL;
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
	return t;
fail:
	OPENSSL_free(der);
	ASN1_STRING_free(s);
	ASN1_TYPE_free(t);
	return NULL;
}

/* SEQUENCE OF Certificate: the chain of this CA. */
static ASN1_TYPE *
ca_certs_value(const struct req *r)
{
	STACK_OF(X509) *sk = ca_published(r->srv->db, r->ca);
	unsigned char *der = NULL;
	int len;

	if (sk == NULL)
		return NULL;
	len = ASN1_item_i2d((const ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(CMP_CERTS));
	sk_X509_pop_free(sk, X509_free);
	return type_from_seq(der, len);
}

/* SEQUENCE OF AlgorithmIdentifier: the key types the requester's profile
 * has the CA generate (central_keygen, RFC 9483 §4.1.6), in its order of
 * preference. */
static ASN1_TYPE *
kga_types_value(const struct cfg_profile *p)
{
	STACK_OF(X509_ALGOR) *sk = sk_X509_ALGOR_new_null();
	unsigned char *der = NULL;
	X509_ALGOR *a;
	size_t i;
	int len = -1, ec;

	if (sk == NULL)
		return NULL;
	for (i = 0; i < p->nkga_types; i++) {
		ec = p->kga_types[i] == HSM_KEY_EC_P256 ||
		    p->kga_types[i] == HSM_KEY_EC_P384;
		if ((a = X509_ALGOR_new()) == NULL ||
		    !X509_ALGOR_set0(a, OBJ_nid2obj(ec ?
			NID_X9_62_id_ecPublicKey : NID_rsaEncryption),
			ec ? V_ASN1_OBJECT : V_ASN1_NULL, !ec ? NULL :
			OBJ_nid2obj(p->kga_types[i] == HSM_KEY_EC_P256 ?
			    NID_X9_62_prime256v1 : NID_secp384r1)) ||
		    !sk_X509_ALGOR_push(sk, a)) {
			X509_ALGOR_free(a);
			goto out;
		}
	}
	len = ASN1_item_i2d((const ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(X509_ALGORS));
out:
	sk_X509_ALGOR_pop_free(sk, X509_ALGOR_free);
	return len > 0 ? type_from_seq(der, len) : NULL;
}

/* SEQUENCE OF AlgorithmIdentifier: keys the CA certifies. */
static ASN1_TYPE *
key_types_value(const struct req *r)
{
	const struct cfg_profile *p = cfg_profile_get(r->srv->cfg,
	    cmp_profile_name(r));
	static const int curves[] = { NID_X9_62_prime256v1, NID_secp384r1,
		NID_secp521r1 };
	static const int plain[] = { NID_rsaEncryption, NID_ED25519,
		NID_ED448 };
	STACK_OF(X509_ALGOR) *sk = sk_X509_ALGOR_new_null();
	unsigned char *der = NULL;
	X509_ALGOR *a;
	size_t i;
	int len = -1;

	if (p != NULL && p->nkga_types > 0) {
		sk_X509_ALGOR_free(sk);
		return kga_types_value(p);
	}
	if (sk == NULL)
		return NULL;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		if ((a = X509_ALGOR_new()) == NULL ||
		    !X509_ALGOR_set0(a, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
			V_ASN1_OBJECT, OBJ_nid2obj(curves[i])) ||
		    !sk_X509_ALGOR_push(sk, a)) {
			X509_ALGOR_free(a);
			goto out;
		}
	}
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if ((a = X509_ALGOR_new()) == NULL ||
		    !X509_ALGOR_set0(a, OBJ_nid2obj(plain[i]),
			plain[i] == NID_rsaEncryption ? V_ASN1_NULL
						      : V_ASN1_UNDEF,
			NULL) ||
		    !sk_X509_ALGOR_push(sk, a)) {
			X509_ALGOR_free(a);
			goto out;
		}
	}
	len = ASN1_item_i2d((const ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(X509_ALGORS));
out:
	sk_X509_ALGOR_pop_free(sk, X509_ALGOR_free);
	return len > 0 ? type_from_seq(der, len) : NULL;
}

/* SEQUENCE OF UTF8String: the languages of our statusStrings. */
static ASN1_TYPE *
lang_tags_value(void)
{
	STACK_OF(ASN1_UTF8STRING) *sk = sk_ASN1_UTF8STRING_new_null();
	ASN1_UTF8STRING *en = ASN1_UTF8STRING_new();
	unsigned char *der = NULL;
	int len = -1;

	if (sk != NULL && en != NULL && ASN1_STRING_set(en, "en", 2) &&
	    sk_ASN1_UTF8STRING_push(sk, en)) {
		en = NULL;
		len = ASN1_item_i2d((const ASN1_VALUE *)sk, &der,
		    ASN1_ITEM_rptr(CMP_FREETEXT));
	}
	ASN1_UTF8STRING_free(en);
	sk_ASN1_UTF8STRING_pop_free(sk, ASN1_UTF8STRING_free);
	return len > 0 ? type_from_seq(der, len) : NULL;
}

/*
 * The CA's newest CRL: the CertificateList itself (currentCRL), or a
 * SEQUENCE OF it (crls, RFC 9483 §4.3.4). NULL (no value) when none was
 * issued or the database cannot be read.
 */
static ASN1_TYPE *
crl_value(const struct req *r, int as_list)
{
	STACK_OF(X509_CRL) *sk = NULL;
	struct db_crl crl;
	const unsigned char *p;
	unsigned char *der = NULL;
	X509_CRL *x = NULL;
	int len = -1;

	if (db_crl_latest(r->srv->db, r->ca->id, &crl) != 1)
		return NULL;
	if (!as_list) {
		if ((der = OPENSSL_memdup(crl.der, crl.der_len)) != NULL)
			len = (int)crl.der_len;
		goto out;
	}
	p = crl.der;
	if ((x = d2i_X509_CRL(NULL, &p, (long)crl.der_len)) == NULL ||
	    (sk = sk_X509_CRL_new_null()) == NULL || !sk_X509_CRL_push(sk, x))
		goto out;
	x = NULL;
	len = ASN1_item_i2d((const ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(CMP_CRLS));
out:
	X509_CRL_free(x);
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	db_crl_clear(&crl);
	return len > 0 ? type_from_seq(der, len) : NULL;
}

/* The certificate in a rootCaCert value, or NULL. */
static X509 *
itav_cert(const ASN1_TYPE *v)
{
	const unsigned char *p;
	X509 *x;

	if (v == NULL || v->type != V_ASN1_SEQUENCE)
		return NULL;
	p = v->value.sequence->data;
	x = d2i_X509(NULL, &p, v->value.sequence->length);
	if (x == NULL)
		ERR_clear_error();
	return x;
}

/*
 * RootCaKeyUpdateContent for a client holding the root in v: the newest
 * key update pair of this CA when its oldWithNew certifies that root's
 * key and its newWithOld the key we sign with now; NULL (no value: no
 * update for this client) otherwise.
 */
static ASN1_TYPE *
root_update_value(const struct req *r, const ASN1_TYPE *v)
{
	CMP_ROOTCAKEYUPDATE u;
	struct db_keyupd k;
	const unsigned char *p;
	unsigned char *der = NULL;
	X509 *old = itav_cert(v), *nwo = NULL, *own = NULL;
	int len = -1;

	memset(&k, 0, sizeof(k));
	if (old == NULL || db_keyupd_latest(r->srv->db, r->ca->id, &k) != 1)
		goto out;
	p = k.new_with_old;
	nwo = d2i_X509(NULL, &p, (long)k.new_with_old_len);
	p = k.old_with_new;
	own = d2i_X509(NULL, &p, (long)k.old_with_new_len);
	if (nwo == NULL || own == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(old), X509_get0_pubkey(own)) != 1 ||
	    X509_NAME_cmp(X509_get_subject_name(old),
		X509_get_issuer_name(nwo)) != 0 ||
	    EVP_PKEY_eq(X509_get0_pubkey(nwo),
		X509_get0_pubkey(r->ca->cert)) != 1)
		goto out;
	u.newWithNew = r->ca->cert;
	u.newWithOld = nwo;
	u.oldWithNew = own;
	len = i2d_CMP_ROOTCAKEYUPDATE(&u, &der);
out:
	ERR_clear_error();
	db_keyupd_clear(&k);
	X509_free(old);
	X509_free(nwo);
	X509_free(own);
	return len > 0 ? type_from_seq(der, len) : NULL;
}

/* The answer ITAV for one requested ITAV; NULL on error. */
static CMP_ITAV *
answer(const struct req *r, const CMP_ITAV *q)
{
	ASN1_OBJECT *type = OBJ_dup(q->infoType);
	int nid = OBJ_obj2nid(q->infoType);
	char oid[64];

	if (type == NULL)
		return NULL;
	switch (nid) {
	case NID_id_it_caCerts:
		return itav_new(type, ca_certs_value(r));
	case NID_id_it_signKeyPairTypes:
		return itav_new(type, key_types_value(r));
	case NID_id_it_suppLangTags:
		return itav_new(type, lang_tags_value());
	case NID_id_it_currentCRL:
		return itav_new(type, crl_value(r, 0));
	case NID_id_it_certReqTemplate:
		return itav_new(type, NULL);
	default:
		break;
	}
	OBJ_obj2txt(oid, sizeof(oid), q->infoType, 1);
	if (strcmp(oid, OID_ROOT_CA_CERT) == 0) {
		ASN1_OBJECT_free(type);
		return itav_new(OBJ_nid2obj(NID_id_it_rootCaKeyUpdate),
		    root_update_value(r, q->infoValue));
	}
	if (strcmp(oid, OID_CRL_STATUS_LIST) == 0) {
		ASN1_OBJECT_free(type);
		return itav_new(OBJ_txt2obj(OID_CRLS, 1), crl_value(r, 1));
	}
	return itav_new(type, NULL);
}

/* Checks the infoValue of the types we interpret. Returns 1 or 0. */
static int
value_ok(const CMP_ITAV *q, const char **why)
{
	char oid[64];

	OBJ_obj2txt(oid, sizeof(oid), q->infoType, 1);
	/* rootCaCert: a certificate, or absent (OpenSSL's client sends it
	 * without one); anything else is malformed. */
	if (strcmp(oid, OID_ROOT_CA_CERT) == 0 && q->infoValue != NULL &&
	    q->infoValue->type != V_ASN1_SEQUENCE) {
		*why = "rootCaCert must carry a certificate (RFC 9483 §4.3.2)";
		return 0;
	}
	if (strcmp(oid, OID_CRL_STATUS_LIST) == 0 &&
	    (q->infoValue == NULL || q->infoValue->type != V_ASN1_SEQUENCE)) {
		*why = "crlStatusList needs a SEQUENCE (RFC 9483 §4.3.4)";
		return 0;
	}
	return 1;
}

/* genm: see the file comment. */
CMP_MSG *
cmp_genm_handle(struct req *r)
{
	STACK_OF(CMP_ITAV) *q = r->msg->body->value.genm;
	CMP_BODY *body = NULL;
	const char *why = NULL;
	int i, rc;

	for (i = 0; i < sk_CMP_ITAV_num(q); i++)
		if (!value_ok(sk_CMP_ITAV_value(q, i), &why))
			return cmp_reject(r, CMP_FAIL_BAD_REQUEST, why);
	if ((body = CMP_BODY_new()) == NULL ||
	    (body->value.genp = sk_CMP_ITAV_new_null()) == NULL)
		goto internal;
	body->type = CMP_BODY_GENP;
	for (i = 0; i < sk_CMP_ITAV_num(q); i++) {
		CMP_ITAV *a = answer(r, sk_CMP_ITAV_value(q, i));

		if (a == NULL || !sk_CMP_ITAV_push(body->value.genp, a)) {
			CMP_ITAV_free(a);
			goto internal;
		}
	}
	/* One round trip, nothing to continue: only the nonce is kept (and
	 * pruned), no transaction row, so that genm, unprotected ones
	 * included, cannot fill the disk. */
	if ((rc = cmp_nonce_claim(r)) != 1) {
		CMP_BODY_free(body);
		return NULL;
	}
	return cmp_resp_new(r, body);
internal:
	CMP_BODY_free(body);
	return cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "genp construction");
}
